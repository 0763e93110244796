"""Wait for an export job in the triggerer, without holding a worker slot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_aep.exceptions import AepApiError, AepError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.hooks.clients import async_clients
from airflow_provider_aep.hooks.deadline import DeadlinePassed, async_deadline
from airflow_provider_aep.hooks.scrubbing import describe
from airflow_provider_aep.models.export_job import FAILED, SUCCEEDED, ExportJob
from airflow_provider_aep.polling import first_pause, next_pause
from airflow_provider_aep.status_log import StatusLog
from airflow_provider_aep.wait_options import WaitOptions

# Event statuses; exactly one event is yielded per run.
EVENT_SUCCESS = "success"
EVENT_FAILED = "failed"
EVENT_TIMEOUT = "timeout"
EVENT_ERROR = "error"


class ExportJobTrigger(BaseTrigger):
    """Polls one export job until it is SUCCEEDED or FAILED, or the deadline passes.

    :param job_id: the AEP export job id.
    :param options: the wait's connection, cancel and request options (``WaitOptions``), or their
        JSON form, as the triggerer passes it back. ``cancel_on_kill`` cancels the job when a user
        marks the deferred task failed or success, or clears it (Airflow 3.3+ calls ``on_kill``); a
        triggerer restart never cancels it. Transient failures that outlast the request retries are
        logged and polled through until the deadline, never failing the task.
    :param poll_interval: seconds between two status requests.
    :param deadline: absolute UNIX time (seconds) after which a ``timeout`` event is sent; absolute,
        so that a trigger restarted on another triggerer keeps the same deadline. None waits forever.
    """

    def __init__(
        self,
        job_id: str,
        options: WaitOptions | Mapping[str, Any] | None = None,
        poll_interval: float = 30.0,
        deadline: float | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.job_id = str(job_id)
        self.options = WaitOptions() if options is None else WaitOptions.of(options)
        self.poll_interval = poll_interval
        self.deadline = deadline

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """All the trigger needs to resume, deadline included, on whichever triggerer picks it up."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "options": self.options.to_json(),
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Yields exactly one event, whatever the API or the provider's own code does."""
        try:
            event = await self._wait()
        except Exception as error:  # a crashed trigger would leave the task no outcome at all
            event = self._event(EVENT_ERROR, f"Waiting for export job {self.job_id} failed: {describe(error)}")
        yield event

    async def _wait(self) -> TriggerEvent:
        hook = self.options.hook()
        status_log = StatusLog(self.log)
        # Hold the event loop's shared client for the whole wait, so polls reuse its connections.
        async with async_clients.lease():
            try:
                # One timer for the whole wait, not one per poll: a stalled API or a long
                # Retry-After cannot delay the timeout event, and a poll sets no timer of its own.
                async with async_deadline(self._remaining()):
                    return await self._poll_until_done(hook, status_log)
            except DeadlinePassed:
                return self._timed_out()

    async def _poll_until_done(self, hook: AdobeExperiencePlatformHook, status_log: StatusLog) -> TriggerEvent:
        await asyncio.sleep(first_pause(self._remaining(), self.poll_interval))
        while True:
            event = await self._poll(hook, status_log)
            if event is not None:
                return event
            pause, timed_out = next_pause(self._remaining(), self.poll_interval)
            await asyncio.sleep(pause)
            if timed_out:
                return self._timed_out()

    async def _poll(self, hook: AdobeExperiencePlatformHook, status_log: StatusLog) -> TriggerEvent | None:
        """The event the job's status calls for, or None to poll again."""
        try:
            job = await hook.apoll_export_job(self.job_id)
        except AepApiError as error:
            if not error.worth_waiting_through:
                return self._event(EVENT_ERROR, str(error))
            self.log.warning("Export job %s: status unavailable (%s); polling again.", self.job_id, error)
            return None
        except AepError as error:
            return self._event(EVENT_ERROR, str(error))
        status_log.observe(job)
        if not isinstance(job, ExportJob):  # still running: only its progress was read
            return None
        if job.status == SUCCEEDED:
            return self._event(EVENT_SUCCESS, f"Export job {self.job_id} succeeded.", job)
        if job.status == FAILED:
            return self._event(EVENT_FAILED, f"Export job {self.job_id} failed.", job)
        return None

    def _remaining(self) -> float | None:
        return None if self.deadline is None else max(self.deadline - time.time(), 0.0)

    def _timed_out(self) -> TriggerEvent:
        return self._event(EVENT_TIMEOUT, f"Export job {self.job_id} did not finish before the deadline.")

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
