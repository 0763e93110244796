"""Wait for an AEP export job to finish, deferred by default where the deployment says so."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowSensorTimeout, BaseSensorOperator, Context, PokeReturnValue, conf

from airflow_provider_aep.client.settings import DEFAULT_RETRY_DELAY, DEFAULT_RETRY_LIMIT, DEFAULT_TIMEOUT
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.links.dataset import AepDatasetLink
from airflow_provider_aep.models.export_job import ExportJob
from airflow_provider_aep.wait.alive import AliveLog
from airflow_provider_aep.wait.mixin import ExportJobWaiting
from airflow_provider_aep.wait.options import WaitOptions
from airflow_provider_aep.wait.schedule import deferral_timeout


class ExportJobSensor(ExportJobWaiting, BaseSensorOperator):
    """Succeeds when the export job is SUCCEEDED, so that downstream tasks start on landed data.

    Returns the job's summary (XCom ``return_value``): job id, status, dataset, batch id per
    segment, exported profile count and durations.

    Fails with every AEP error code and message when the job is FAILED. A status this provider does
    not know (for example after a cancel) is never taken for success: it is logged and waited on.

    :param job_id: the export job id (templated), e.g.
        ``"{{ ti.xcom_pull(task_ids='create_export_job') }}"``.
    :param aep_conn_id: the ``adobe_experience_platform`` connection.
    :param deferrable: wait in the triggerer instead of a worker slot; defaults to
        ``[operators] default_deferrable``.
    :param cancel_on_timeout: cancel the job when ``timeout`` passes, before failing with
        ``AirflowSensorTimeout`` (which Airflow does not retry).
    :param cancel_on_kill: cancel the job when the task is stopped while waiting (killed in the
        worker, or, deferred on Airflow 3.3+, marked failed/success or cleared by a user).
    :param request_retry_limit: attempts per API request for transient failures (429, 5xx, timeouts).
    :param request_retry_delay: first backoff delay in seconds between those attempts.
    :param request_timeout: seconds allowed for each HTTP request.
    :param end_from_trigger: with ``deferrable``, end the task in the triggerer once the job
        SUCCEEDED and its batches can be read, with the summary in XCom, instead of resuming it in
        a worker: one task process less per export. Not with outlets (Airflow records asset
        events only in a worker), and a worker still resumes the task where OpenLineage is on;
        failures and timeouts always resume it, so retries and cancels work as usual.
    :param min_exported_profiles: fail with ``ExportTooSmallError`` when the job SUCCEEDED with fewer
        profiles (or reports no count), so that a broken segment's empty export stops the DAG.
        None (the default) checks nothing; an export of 0 profiles is then a warning in the log.

    ``poke_interval``, ``timeout``, ``mode`` and the other ``BaseSensorOperator`` arguments work as
    usual, in deferrable mode too.
    """

    template_fields: Sequence[str] = ("job_id",)
    operator_extra_links = (AepDatasetLink(),)
    ui_color = "#fbe3e3"
    end_task_xcoms: ClassVar[dict[str, str]] = {"return_value": "summary"}

    def __init__(
        self,
        *,
        job_id: str | int,
        aep_conn_id: str = AdobeExperiencePlatformHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        cancel_on_timeout: bool = True,
        cancel_on_kill: bool = True,
        request_retry_limit: int = DEFAULT_RETRY_LIMIT,
        request_retry_delay: float = DEFAULT_RETRY_DELAY,
        request_timeout: float = DEFAULT_TIMEOUT,
        end_from_trigger: bool = False,
        min_exported_profiles: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.deferrable = deferrable
        self.end_from_trigger = end_from_trigger
        self._alive: AliveLog | None = None
        self._validate_outlets(emits_on_success=True)
        self.wait_options = WaitOptions(
            aep_conn_id=aep_conn_id,
            cancel_on_timeout=cancel_on_timeout,
            cancel_on_kill=cancel_on_kill,
            request_retry_limit=request_retry_limit,
            request_retry_delay=request_retry_delay,
            request_timeout=request_timeout,
            min_exported_profiles=self._checked_minimum(min_exported_profiles, waits=True),
        )

    def execute(self, context: Context) -> Any:
        """Check the id before anything else, then wait deferred or poke; a timeout cancels the job."""
        job_id = self._validated_job_id(self.job_id)
        if self.deferrable:
            # One check first: a job that has already finished needs no triggerer, and the job names
            # the dataset whose link the task shows while it waits.
            started = time.time()
            job = self._checked(context, job_id, single_try=True)
            if job is not None and self._is_finished(job):
                return self._succeeded(context, job)
            self.defer(
                trigger=self._trigger(job_id, self.poke_interval, self.timeout, started=started),
                method_name="execute_complete",
                timeout=deferral_timeout(self.timeout),
            )
        try:
            return super().execute(context)
        except AirflowSensorTimeout:
            if self.wait_options.cancel_on_timeout:
                self._cancel(job_id, "the sensor timed out")
            raise

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """One status check; a transient API failure is a "not yet", never a failed task."""
        job_id = self._validated_job_id(self.job_id)
        job = self._checked(context, job_id)
        if job is None or not self._is_finished(job):
            # Poking in one worker process says it is alive as a trigger does; a rescheduled poke
            # is a try of its own, with a log of its own.
            if self._alive is None:
                self._alive = AliveLog(self.log, f"export job {job_id}")
            self._alive.tick()
            return False
        return PokeReturnValue(is_done=True, xcom_value=self._succeeded(context, job))

    def _checked(self, context: Context, job_id: str, *, single_try: bool = False) -> ExportJob | None:
        job = self._poll(job_id, single_try=single_try)
        if job is not None:
            self._show_dataset_link(context, job.destination.dataset_id)
        return job

    def execute_complete(self, context: Context, event: dict[str, Any] | str) -> dict[str, Any]:
        """Resume after the trigger: its event ends the task the same way poking does."""
        job_id = self._validated_job_id(self.job_id)
        return self._succeeded(context, self._job_from_event(context, event, lambda: self.hook.get_export_job(job_id)))

    def on_kill(self) -> None:
        """A job nobody waits for any more would still write its dataset: cancel it."""
        if self.cancel_on_kill:
            self._cancel(self._validated_job_id(self.job_id), "the task was stopped")
