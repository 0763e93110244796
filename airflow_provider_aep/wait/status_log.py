"""Log an export job's status changes, with elapsed time, once each; shared by every waiting path."""

from __future__ import annotations

import time
from typing import Any

from airflow_provider_aep.client.calls import Logger
from airflow_provider_aep.client.metrics import Metrics
from airflow_provider_aep.models.export_job import ExportJob, JobProgress


class StatusLog:
    """Remembers the last status seen, so frequent polls log each change once rather than every answer."""

    def __init__(self, log: Logger) -> None:
        self.log = log
        self.last_status: str | None = None

    def observe(self, job: JobProgress) -> None:
        """A status this provider does not know is a warning: it is waited through, never taken for success."""
        if job.status == self.last_status:
            return
        self.last_status = job.status
        elapsed = _elapsed(job)
        if job.is_known_status:
            self.log.info("Export job %s is %s%s.", job.id, job.status, elapsed)
        else:
            self.log.warning(
                "Export job %s reports status %r%s, which this provider does not know; it is not treated as "
                "success, and waiting goes on until SUCCEEDED, FAILED or the timeout.",
                job.id,
                job.status,
                elapsed,
            )

    def succeeded(self, job: ExportJob, metrics: Metrics) -> dict[str, Any]:
        """The job's summary, logged as the line a user looks for, whichever process ends the wait.

        Its metrics go out here too, so a job is counted once, by the process that ends its wait.
        """
        summary = job.summary()
        if summary["exported_profiles"] is not None:
            metrics.incr("export_job.profiles", summary["exported_profiles"])
        if "total" in summary["durations_seconds"]:
            metrics.timing("export_job.duration", summary["durations_seconds"]["total"])
        self.log.info(
            "Export job %s SUCCEEDED: %s profiles exported, batches %s.",
            job.id,
            summary["exported_profiles"],
            summary["batch_ids"],
        )
        if summary["exported_profiles"] == 0:
            self.log.warning(
                "Export job %s exported 0 profiles: its segments may be broken, renamed or empty. Downstream "
                "tasks get an empty dataset; set min_exported_profiles to fail the task instead.",
                job.id,
            )
        return summary


def _elapsed(job: JobProgress) -> str:
    if job.creation_time is None:
        return ""
    seconds = max(0, int(time.time() - job.creation_time / 1000))
    minutes, seconds = divmod(seconds, 60)
    return f" ({minutes}m {seconds:02d}s since it was created)"
