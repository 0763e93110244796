"""Wait for an export job in the triggerer, without holding a worker slot."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.models.export_job import FAILED, SUCCEEDED, ExportJob
from airflow_provider_aep.triggers.base import PollingTrigger
from airflow_provider_aep.wait.events import EVENT_ERROR, EVENT_FAILED, EVENT_SUCCESS, EVENT_TIMEOUT
from airflow_provider_aep.wait.options import WaitOptions
from airflow_provider_aep.wait.schedule import DEFAULT_POLL_INTERVAL
from airflow_provider_aep.wait.status_log import StatusLog

__all__ = ["EVENT_ERROR", "EVENT_FAILED", "EVENT_SUCCESS", "EVENT_TIMEOUT", "ExportJobTrigger"]


class ExportJobTrigger(PollingTrigger):
    """Polls one export job until it is SUCCEEDED or FAILED, or the deadline passes.

    :param job_id: the AEP export job id.
    :param options: the wait's connection, cancel and request options (``WaitOptions``), or their
        JSON form. ``cancel_on_kill`` cancels the job when a user marks the deferred task failed or
        success, or clears it (Airflow 3.3+ calls ``on_kill``); a triggerer restart never cancels
        it. Transient failures that outlast the request retries are logged and polled through until
        the deadline, never failing the task.
    :param poll_interval: seconds between two status requests.
    :param deadline: absolute UNIX time (seconds) after which a ``timeout`` event is sent.
    """

    def __init__(
        self,
        job_id: str,
        options: WaitOptions | Mapping[str, Any] | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        deadline: float | None = None,
    ) -> None:
        super().__init__(options, poll_interval, deadline)
        self.job_id = str(job_id)
        self._status_log = StatusLog(self.log)

    def _subject_kwargs(self) -> dict[str, Any]:
        return {"job_id": self.job_id}

    def _what(self) -> str:
        return f"export job {self.job_id}"

    async def _check(self, hook: AdobeExperiencePlatformHook) -> TriggerEvent | None:
        job = await hook.apoll_export_job(self.job_id)
        self._status_log.observe(job)
        if not isinstance(job, ExportJob):  # still running: only its progress was read
            return None
        if job.status == SUCCEEDED:
            return self._event(EVENT_SUCCESS, f"Export job {self.job_id} succeeded.", job)
        if job.status == FAILED:
            return self._event(EVENT_FAILED, f"Export job {self.job_id} failed.", job)
        return None

    async def on_kill(self) -> None:
        """Cancel the job of a stopped task, so Platform does not go on exporting for nobody."""
        if not self.options.cancel_on_kill:
            return
        self.log.info("The task was stopped by a user; cancelling export job %s.", self.job_id)
        await self.options.hook().acancel_export_job(self.job_id)

    def _event(self, status: str, message: str, job: ExportJob | None = None) -> TriggerEvent:
        payload: dict[str, Any] = {"status": status, "job_id": self.job_id, "message": message}
        if job is not None:
            payload["job"] = job.model_dump(mode="json", by_alias=True)
        return TriggerEvent(payload)  # type: ignore[no-untyped-call]
