"""What a trigger's event says, and how a resumed task turns it into its outcome: one place for both.

Every provider trigger yields exactly one event, ``{"status", "message", ...}``; the task that
deferred reads it here, so the export wait and the download end a wait the same way: a timeout is
``AirflowSensorTimeout`` (which Airflow does not retry), an error names what was waited on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from airflow.providers.common.compat.sdk import AirflowSensorTimeout

from airflow_provider_aep.exceptions import AepError

EVENT_SUCCESS = "success"
EVENT_FAILED = "failed"
EVENT_TIMEOUT = "timeout"
EVENT_ERROR = "error"


def _time_out(message: str) -> NoReturn:
    raise AirflowSensorTimeout(message)


def finished_status(event: Mapping[str, Any], *, what: str, on_timeout: Callable[[str], NoReturn] = _time_out) -> str:
    """``EVENT_SUCCESS`` or ``EVENT_FAILED``, for the caller to act on; raises for every other outcome.

    ``on_timeout`` gets the event's message and raises (after cancelling the job, for an export
    wait); an error event, or one this provider does not know, is an ``AepError`` naming ``what``.
    """
    status, message = event.get("status"), str(event.get("message"))
    if status in (EVENT_SUCCESS, EVENT_FAILED):
        return str(status)
    if status == EVENT_TIMEOUT:
        on_timeout(message)
    raise AepError(f"Waiting for {what} failed: {message}")
