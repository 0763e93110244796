"""Wait for an export job in the triggerer, without holding a worker slot."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.triggers.base import TriggerEvent
from pydantic import JsonValue

from airflow_provider_aep.compat import task_success_event
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.models.catalog import READABLE_BATCH_STATUSES
from airflow_provider_aep.models.export_job import FAILED, SUCCEEDED, ExportJob
from airflow_provider_aep.triggers.base import PollingTrigger
from airflow_provider_aep.triggers.batches import batch_readiness
from airflow_provider_aep.wait.events import EVENT_ERROR, EVENT_FAILED, EVENT_SUCCESS, EVENT_TIMEOUT
from airflow_provider_aep.wait.options import WaitOptions
from airflow_provider_aep.wait.schedule import DEFAULT_POLL_INTERVAL
from airflow_provider_aep.wait.status_log import StatusLog

__all__ = ["EVENT_ERROR", "EVENT_FAILED", "EVENT_SUCCESS", "EVENT_TIMEOUT", "ExportJobTrigger"]

# What a task that ends in the triggerer can leave in XCom, by name (``end_task_xcoms``' values).
END_TASK_VALUES = ("job_id", "summary")


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
    :param end_task_xcoms: end the task here on success, with no worker resuming it: XCom key ->
        ``"job_id"`` or ``"summary"``, what the task would have returned. The task then ends once
        the job SUCCEEDED and its batches can be read. None: every outcome resumes the task.
    """

    def __init__(
        self,
        job_id: str,
        options: WaitOptions | Mapping[str, Any] | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        deadline: float | None = None,
        end_task_xcoms: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(options, poll_interval, deadline)
        self.job_id = str(job_id)
        self.end_task_xcoms = None if end_task_xcoms is None else dict(end_task_xcoms)
        unknown = sorted(set((self.end_task_xcoms or {}).values()) - set(END_TASK_VALUES))
        if unknown:
            raise ValueError(f"end_task_xcoms names {unknown}; each value must be one of {list(END_TASK_VALUES)}")
        self._status_log = StatusLog(self.log)
        self._succeeded: ExportJob | None = None  # once SUCCEEDED, when the task ends here

    def _subject_kwargs(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "end_task_xcoms": self.end_task_xcoms}

    def _what(self) -> str:
        return f"export job {self.job_id}"

    async def _check(self, hook: AdobeExperiencePlatformHook) -> TriggerEvent | None:
        if self._succeeded is None:
            job = await hook.apoll_export_job(self.job_id)
            self._status_log.observe(job)
            if not isinstance(job, ExportJob):  # still running: only its progress was read
                return None
            if job.status == FAILED:
                return self._event(EVENT_FAILED, f"Export job {self.job_id} failed.", job)
            if job.status != SUCCEEDED:
                return None
            # A worker resumes a job that falls short, to fail the task with the reason.
            if self.end_task_xcoms is None or self.options.shortfall(job.summary()) is not None:
                return self._event(EVENT_SUCCESS, f"Export job {self.job_id} succeeded.", job)
            self._succeeded = job
        return await self._end_task_once_readable(hook, self._succeeded)

    async def _end_task_once_readable(self, hook: AdobeExperiencePlatformHook, job: ExportJob) -> TriggerEvent | None:
        """Success that ends the task here, once the job's batches can be read.

        Nothing checks after this, and the download that follows would otherwise start, find its
        batches still being written, and wait for them in a process of its own.
        """
        readiness = await batch_readiness(hook, job.written_batch_ids(), READABLE_BATCH_STATUSES)
        if readiness.failed:
            return self._event(EVENT_ERROR, f"Export job {self.job_id} succeeded, but {readiness.failure_text()}")
        if readiness.waiting:
            self.log.info(
                "Export job %s: waiting for batches %s to be written.", self.job_id, ", ".join(readiness.waiting)
            )
            return None
        summary = self._status_log.succeeded(job, await hook.ametrics())
        values: dict[str, JsonValue] = {"job_id": job.id, "summary": summary}
        return await task_success_event(self, {key: values[name] for key, name in (self.end_task_xcoms or {}).items()})

    def _timed_out(self) -> TriggerEvent:
        if self._succeeded is None:
            return super()._timed_out()
        # The job is done and is not cancelled: its batches were not readable in time.
        return self._event(
            EVENT_ERROR, f"Export job {self.job_id} succeeded, but its batches were not readable before the deadline."
        )

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
