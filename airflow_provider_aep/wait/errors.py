"""Errors that end a wait's task for good: a retry would check the same job and fail the same way.

They are the provider's own types (``AepError``) and Airflow's ``AirflowFailException``, which fails a
task without its retries; ``exceptions.py`` cannot hold them, since the request core imports it and
must not import Airflow.
"""

from __future__ import annotations

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_aep.exceptions import AepError


class ExportTooSmallError(AepError, AirflowFailException):
    """The export job SUCCEEDED with fewer profiles than the task's ``min_exported_profiles``.

    A broken or renamed segment exports 0 profiles and still succeeds; failing here keeps downstream
    tasks from publishing an empty audience. Not retried: a retry would read the same job again (a
    create's retry reuses it), and a new export is a new run.
    """
