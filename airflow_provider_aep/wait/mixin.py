"""Waiting for an export job, shared by ``ExportJobSensor`` and ``CreateExportJobOperator``.

Both wait deferred (``ExportJobTrigger``) or in the worker, and must end the same way: the job's
summary on SUCCEEDED, ``ExportJobFailedError`` with AEP's codes on FAILED, and on timeout the job
cancelled (unless told not to) before ``AirflowSensorTimeout``, which Airflow does not retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from airflow.providers.common.compat.sdk import AirflowSensorTimeout, Context

from airflow_provider_aep.assets import aep_dataset_uri, is_aep_asset, openlineage_active, openlineage_dataset
from airflow_provider_aep.client.metrics import NO_METRICS
from airflow_provider_aep.client.settings import RetryPolicy
from airflow_provider_aep.compat import outlet_event_extra
from airflow_provider_aep.exceptions import (
    AepApiError,
    AepConfigError,
    AepError,
    ExportJobFailedError,
)
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.identifiers import export_job_id, shown
from airflow_provider_aep.links.dataset import show_dataset
from airflow_provider_aep.models.export_job import FAILED, SUCCEEDED, ExportJob
from airflow_provider_aep.triggers.export_job import ExportJobTrigger
from airflow_provider_aep.wait.alive import AliveLog
from airflow_provider_aep.wait.errors import ExportTooSmallError
from airflow_provider_aep.wait.events import EVENT_FAILED, EVENT_SUCCESS, finished_status
from airflow_provider_aep.wait.options import WaitOptions
from airflow_provider_aep.wait.schedule import wait_in_worker
from airflow_provider_aep.wait.status_log import StatusLog

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage


class ExportJobWaiting:
    """Mixin for operators that wait on an export job; the operator sets ``wait_options``."""

    task_id: str
    log: Any
    outlets: list[Any]
    deferrable: bool
    do_xcom_push: bool
    on_success_callback: Any
    end_from_trigger: bool
    wait_options: WaitOptions
    # What the task returns, as XCom key -> "job_id" or "summary", when its trigger ends it.
    end_task_xcoms: ClassVar[dict[str, str]]
    _linked_dataset: str | None = None
    # Set when a trigger ended the task and it was resumed all the same (dag.test() does that):
    # the trigger already sent the job's metrics.
    _counted_in_triggerer: bool = False

    @property
    def aep_conn_id(self) -> str:
        """The connection, as Airflow's official operators name theirs."""
        return self.wait_options.aep_conn_id

    @property
    def cancel_on_kill(self) -> bool:
        """Whether stopping the task cancels the job it waits on."""
        return self.wait_options.cancel_on_kill

    @cached_property
    def hook(self) -> AdobeExperiencePlatformHook:
        """One hook per task, so its connection is looked up and validated once."""
        return self.wait_options.hook()

    @cached_property
    def _single_try_hook(self) -> AdobeExperiencePlatformHook:
        """One attempt, for the check before deferring.

        A worker slot must not sit out the retries and ``Retry-After`` pauses the trigger makes anyway.
        """
        return self.hook.with_retry_policy(RetryPolicy(max_attempts=1))

    @cached_property
    def _status_log(self) -> StatusLog:
        return StatusLog(self.log)

    def _validated_job_id(self, job_id: object) -> str:
        return export_job_id(job_id, subject=f"Task '{self.task_id}'")

    def _poll(self, job_id: str, *, single_try: bool = False) -> ExportJob | None:
        """The job, or None when a transient failure outlasted the hook's retries: wait on."""
        try:
            return (self._single_try_hook if single_try else self.hook).get_export_job(job_id)
        except AepApiError as error:
            if not error.worth_waiting_through:
                raise
            self.log.warning("Export job %s: status unavailable (%s); trying again later.", job_id, error)
            return None

    def _is_finished(self, job: ExportJob) -> bool:
        """True on SUCCEEDED; raises on FAILED; False for every other status, known or not."""
        self._status_log.observe(job)
        if job.status == FAILED:
            raise ExportJobFailedError(job)
        return job.status == SUCCEEDED

    def _wait_in_worker(self, job_id: str, poll_interval: float, timeout: float | None) -> ExportJob:
        def finished() -> ExportJob | None:
            job = self._poll(job_id)
            return job if job is not None and self._is_finished(job) else None

        alive = AliveLog(self.log, f"export job {job_id}")
        job = wait_in_worker(finished, poll_interval=poll_interval, timeout=timeout, alive=alive)
        if job is None:
            self._timed_out(job_id, f"Export job {job_id} did not finish within {timeout} seconds.")
        return job

    def _trigger(
        self, job_id: str, poll_interval: float, timeout: float | None, *, started: float | None = None
    ) -> ExportJobTrigger:
        """The trigger for a wait that began at ``started`` (UNIX time, default now).

        So a check made before deferring counts against ``timeout``.
        """
        return ExportJobTrigger(
            job_id=job_id,
            options=self.wait_options,
            poll_interval=poll_interval,
            deadline=None if timeout is None else (time.time() if started is None else started) + timeout,
            end_task_xcoms=self._ends_in_triggerer(),
        )

    def _ends_in_triggerer(self) -> dict[str, str] | None:
        """The XComs the trigger leaves when it ends the task itself; None when a worker resumes it.

        What only a worker does at a task's end keeps the resume: OpenLineage reports the end from
        there (else its run would have a start and no end), and Airflow 3 runs no success callback
        for a task a trigger ended.
        """
        if not self.end_from_trigger:
            return None
        if openlineage_active():
            self.log.info("OpenLineage is on: the task resumes in a worker after the wait, which reports its lineage.")
            return None
        if self.on_success_callback:
            self.log.info("The task has an on_success_callback: it resumes in a worker after the wait, which runs it.")
            return None
        return {key: value for key, value in self.end_task_xcoms.items() if self.do_xcom_push or key != "return_value"}

    def _job_from_event(self, context: Context, event: object, read_again: Callable[[], ExportJob | None]) -> ExportJob:
        """The finished job from a trigger event; raises for every other outcome.

        A bare state is the event of a task its trigger ended, resumed all the same (``dag.test()``
        does that): the job is read again from AEP, and must be SUCCEEDED.
        """
        if not isinstance(event, Mapping):
            self._counted_in_triggerer = True
            job = read_again() if event == EVENT_SUCCESS else None
            if job is None or job.status != SUCCEEDED:
                raise AepError(
                    f"Task '{self.task_id}' resumed after its trigger ended it with {event!r}, and its export job "
                    f"is {'not found' if job is None else job.status}"
                )
            return job
        job_id = str(event.get("job_id"))
        status = finished_status(
            event, what=f"export job {job_id}", on_timeout=lambda message: self._timed_out(job_id, message)
        )
        job = ExportJob.model_validate(event["job"])
        self._show_dataset_link(context, job.destination.dataset_id)
        if status == EVENT_FAILED:
            raise ExportJobFailedError(job)
        return job

    def _timed_out(self, job_id: str, message: str) -> NoReturn:
        if self.wait_options.cancel_on_timeout:
            self._cancel(job_id, "the wait timed out")
        raise AirflowSensorTimeout(message)

    def _cancel(self, job_id: str, reason: str) -> None:
        self.log.info("Cancelling export job %s: %s.", job_id, reason)
        try:
            self.hook.cancel_export_job(job_id)
        except AepError as error:
            self.log.warning("Could not cancel export job %s: %s", job_id, error)

    def _succeeded(self, context: Context, job: ExportJob) -> dict[str, Any]:
        """Logs the summary and puts it on the event of the task's AEP asset outlet, if any."""
        summary = self._status_log.succeeded(job, NO_METRICS if self._counted_in_triggerer else self.hook.metrics)
        shortfall = self.wait_options.shortfall(summary)
        if shortfall is not None:
            raise ExportTooSmallError(f"Task '{self.task_id}': {shortfall}")
        self.exported_dataset_id = summary["dataset_id"]
        self._show_dataset_link(context, job.destination.dataset_id)
        self._record_asset_events(context, job.id, summary)
        return summary

    def _show_dataset_link(self, context: Context, dataset_id: str | None) -> None:
        """Store the "AEP dataset" link once the dataset is known, before any wait, so it shows meanwhile.

        A link is a convenience: failing to store one is logged and never fails the export.
        """
        if dataset_id and self._linked_dataset != dataset_id and show_dataset(context, self.hook, dataset_id, self.log):
            self._linked_dataset = dataset_id

    def _dataset_uri(self, dataset_id: str) -> str:
        settings = self.hook.settings
        return aep_dataset_uri(settings.org_id, settings.sandbox, dataset_id)

    def _checked_minimum(self, value: object, *, waits: bool) -> int | None:
        """``min_exported_profiles``, checked when the DAG is parsed; only a task that waits can apply it."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise AepConfigError(
                f"Task '{self.task_id}': min_exported_profiles must be a whole number of profiles (0 or more) "
                f"or None, got {shown(value)}"
            )
        if not waits:
            raise AepConfigError(
                f"Task '{self.task_id}': min_exported_profiles is checked when the job SUCCEEDED, so it needs "
                "wait_for_completion=True, or belongs on the ExportJobSensor"
            )
        return value

    def _validate_outlets(self, *, emits_on_success: bool) -> None:
        """An AEP outlet on a task that only submits would announce data that has not landed.

        And Airflow records asset events only when a worker ends a task, never a trigger.
        """
        if self.end_from_trigger and self.deferrable and emits_on_success and self.outlets:
            raise AepConfigError(
                f"Task '{self.task_id}': end_from_trigger=True ends the task in the triggerer, where Airflow records "
                "no asset event for its outlets; drop end_from_trigger to keep them (a worker then ends the task)"
            )
        if not emits_on_success and any(is_aep_asset(outlet) for outlet in self.outlets):
            raise AepConfigError(
                f"Task '{self.task_id}': an AEP dataset outlet needs wait_for_completion=True, or belongs "
                "on the ExportJobSensor: the asset event must mean the export landed, not that it was submitted"
            )

    def _aep_outlets_of(self, dataset_id: str) -> list[Any]:
        """The task's AEP outlets, each of which must name ``dataset_id``, the dataset the job writes."""
        outlets = [outlet for outlet in self.outlets if is_aep_asset(outlet)]
        if not outlets:
            return []
        written = self._dataset_uri(dataset_id)
        for outlet in outlets:
            if outlet.uri != written:
                raise AepConfigError(
                    f"Task '{self.task_id}': outlet {outlet.uri} is not the dataset the export job writes "
                    f"({written}); no asset event is recorded for a dataset the job did not write"
                )
        return outlets

    def _record_asset_events(self, context: Context, job_id: str, summary: dict[str, Any]) -> None:
        for outlet in self._aep_outlets_of(str(summary["dataset_id"])):
            outlet_event_extra(context, outlet).update(
                {
                    "job_id": job_id,
                    "batch_ids": summary["batch_ids"],
                    "exported_profiles": summary["exported_profiles"],
                }
            )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage[Any, Any]:
        """The AEP dataset the export writes, for the OpenLineage provider (an optional extra)."""
        from airflow.providers.openlineage.extractors import OperatorLineage

        dataset_id = getattr(self, "exported_dataset_id", None)
        if not dataset_id:
            return OperatorLineage()
        return OperatorLineage(outputs=[openlineage_dataset(self._dataset_uri(dataset_id))])
