"""The provider's metrics, sent through Airflow's ``Stats`` to StatsD or OpenTelemetry.

Every name is under one prefix (``aep.``), after Airflow's own ``[metrics] statsd_prefix``, and
each carries the connection and the sandbox as tags where the backend keeps tags (OpenTelemetry,
DogStatsD, InfluxDB-style StatsD). A metric that cannot be sent is dropped: a dashboard is never
worth a failed export.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from airflow.providers.common.compat.sdk import Stats

PREFIX = "aep"

# name -> (kind, what it measures); docs/reference.md lists the same, and a test holds them equal.
METRICS: dict[str, tuple[str, str]] = {
    "export_job.duration": ("timer", "an export job's run, from its creation to SUCCEEDED, as AEP reports it"),
    "export_job.profiles": ("counter", "profiles the SUCCEEDED export jobs exported"),
    "download.bytes": ("counter", "bytes downloaded from Data Access (files found in place not counted)"),
    "download.files": ("counter", "files landed in the destination, downloaded or found in place"),
    "download.duration": ("timer", "one download task's transfer, from its first file to its manifest"),
    "api.retries": ("counter", "requests sent again after a transient failure (429, 5xx, timeout, drop)"),
    "ims.token_requests": ("counter", "access tokens requested from Adobe IMS (shared tokens are not requests)"),
}

log = logging.getLogger(__name__)


class AirflowMetrics:
    """``client.metrics.Metrics`` on Airflow's ``Stats``, tagged with one connection and sandbox."""

    def __init__(self, conn_id: str, sandbox: str) -> None:
        self.tags = {"conn_id": conn_id, "sandbox": sandbox}

    def incr(self, name: str, count: int = 1) -> None:
        """Add ``count`` to ``aep.{name}``."""
        stat = _stat(name)
        try:
            Stats.incr(stat, count, tags=self.tags)
        except Exception:
            log.debug("Metric %s was not sent.", name, exc_info=True)

    def timing(self, name: str, seconds: float) -> None:
        """Record ``seconds`` as one duration of ``aep.{name}``."""
        stat = _stat(name)
        try:
            Stats.timing(stat, timedelta(seconds=seconds), tags=self.tags)
        except Exception:
            log.debug("Metric %s was not sent.", name, exc_info=True)


def _stat(name: str) -> str:
    """The full name; a name the docs do not list is a bug, raised in tests rather than sent."""
    if name not in METRICS:
        raise ValueError(f"{name!r} is not a documented metric")
    return f"{PREFIX}.{name}"
