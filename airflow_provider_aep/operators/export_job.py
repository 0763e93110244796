"""Submit an AEP segment export job, once per task instance however often it is retried."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

from airflow.providers.common.compat.sdk import BaseOperator, Context, conf

from airflow_provider_aep.client.settings import DEFAULT_RETRY_DELAY, DEFAULT_RETRY_LIMIT, DEFAULT_TIMEOUT
from airflow_provider_aep.compat import task_state_store
from airflow_provider_aep.exceptions import AepConfigError, ExportJobNotFoundError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.links.dataset import AepDatasetLink
from airflow_provider_aep.models.export_job import NEW, PROCESSING, SUCCEEDED, ExportJob
from airflow_provider_aep.models.export_job_request import ExportJobRequest
from airflow_provider_aep.wait.mixin import ExportJobWaiting
from airflow_provider_aep.wait.options import WaitOptions
from airflow_provider_aep.wait.schedule import DEFAULT_POLL_INTERVAL, deferral_timeout

DEFAULT_SCHEMA_NAME = "_xdm.context.profile"
SUMMARY_XCOM_KEY = "export_job_summary"
# Where Airflow 3.3+'s task state store keeps the job id between tries of one task instance.
JOB_ID_STATE_KEY = "aep_export_job_id"
REUSABLE_STATUSES = frozenset({NEW, PROCESSING, SUCCEEDED})

# The convenient request arguments, in the order they appear in the API body.
REQUEST_ARGUMENTS = (
    "dataset_id",
    "segment_per_batch",
    "schema_name",
    "fields",
    "merge_policy",
    "segments",
    "segment_qualification_start",
    "segment_qualification_end",
    "from_ingest_timestamp",
    "empty_profiles",
    "event_fields",
    "event_from_ingest_timestamp",
    "event_to_ingest_timestamp",
    "evaluate_segments",
)
_SEGMENT_KEYS = {
    "id": "segmentId",
    "segment_id": "segmentId",
    "namespace": "segmentNs",
    "segment_ns": "segmentNs",
}


class CreateExportJobOperator(ExportJobWaiting, BaseOperator):
    """Creates an export job that writes the members of AEP segments into a dataset; returns its id.

    Give the request either whole, as ``export_job`` (the API's JSON shape, or an
    ``ExportJobRequest``), or through the arguments below; every one is templated, nested dicts
    included, so a nightly DAG can pass ``"{{ data_interval_start }}"``. It is validated before any
    request is sent.

    A retried task does not export twice: a job an earlier try of this task instance created for the
    same request that is still NEW or PROCESSING, or SUCCEEDED, is reused; after a FAILED one a new
    job is created.

    :param aep_conn_id: the ``adobe_experience_platform`` connection.
    :param export_job: the complete request body.
    :param dataset_id: destination dataset (required unless ``export_job`` is given).
    :param segments: segment ids, or dicts with ``id``, ``namespace`` and ``status`` (a list of
        ``realized``, ``existing``, ``exited``); a comma-separated string also works. None exports
        every profile.
    :param schema_name: XDM schema of the export, default ``_xdm.context.profile``.
    :param fields: profile fields to export (comma-separated string or list); all when None.
    :param merge_policy: merge policy id, or ``{"id": ..., "version": ...}``.
    :param segment_qualification_start: export profiles that qualified at or after this time.
    :param segment_qualification_end: ... and before this time.
    :param from_ingest_timestamp: only profiles updated after this time.
    :param empty_profiles: include profiles that only have ExperienceEvents.
    :param event_fields: ExperienceEvent fields to export with each profile.
    :param event_from_ingest_timestamp: earliest ingestion time of exported events.
    :param event_to_ingest_timestamp: latest ingestion time of exported events.
    :param segment_per_batch: one batch per segment instead of one for all.
    :param evaluate_segments: evaluate the segments as part of the export.
    :param wait_for_completion: wait for the job to finish, with the sensor's outcomes; the job's
        summary goes to XCom key ``export_job_summary``.
    :param deferrable: wait in the triggerer; defaults to ``[operators] default_deferrable``.
    :param poll_interval: seconds between status checks while waiting.
    :param timeout: seconds (or a timedelta) to wait at most; None waits until the job finishes.
    :param cancel_on_timeout: cancel the job when the wait times out.
    :param cancel_on_kill: cancel the job when the task is stopped while waiting.
    :param request_retry_limit: attempts per API request for transient failures (429, 5xx, timeouts).
    :param request_retry_delay: first backoff delay in seconds between those attempts.
    :param request_timeout: seconds allowed for each HTTP request.
    :param end_from_trigger: with ``wait_for_completion`` and ``deferrable``, end the task in the
        triggerer once the job SUCCEEDED and its batches can be read, with the job id and the
        summary in XCom, instead of resuming it in a worker: the whole export then costs one task
        process. Not with outlets (Airflow records asset events only in a worker), and a worker
        still resumes the task where OpenLineage is on; failures and timeouts always resume it,
        so retries and cancels work as usual.
    :param min_exported_profiles: with ``wait_for_completion``, fail with ``ExportTooSmallError``
        when the job SUCCEEDED with fewer profiles (or reports no count). None (the default) checks
        nothing; an export of 0 profiles is then a warning in the log. A retry reuses the job, so it
        fails again.
    """

    template_fields: Sequence[str] = ("export_job", *REQUEST_ARGUMENTS)
    operator_extra_links = (AepDatasetLink(),)
    template_fields_renderers: ClassVar[dict[str, str]] = {"export_job": "json", "segments": "json"}
    ui_color = "#fa0f00"
    ui_fgcolor = "#ffffff"
    end_task_xcoms: ClassVar[dict[str, str]] = {"return_value": "job_id", SUMMARY_XCOM_KEY: "summary"}

    def __init__(
        self,
        *,
        aep_conn_id: str = AdobeExperiencePlatformHook.default_conn_name,
        export_job: ExportJobRequest | dict[str, Any] | None = None,
        dataset_id: str | None = None,
        segments: str | Sequence[str | Mapping[str, Any]] | None = None,
        schema_name: str | None = None,
        fields: str | Sequence[str] | None = None,
        merge_policy: str | Mapping[str, Any] | None = None,
        segment_qualification_start: datetime | str | None = None,
        segment_qualification_end: datetime | str | None = None,
        from_ingest_timestamp: datetime | str | None = None,
        empty_profiles: bool | None = None,
        event_fields: str | Sequence[str] | None = None,
        event_from_ingest_timestamp: datetime | str | None = None,
        event_to_ingest_timestamp: datetime | str | None = None,
        segment_per_batch: bool | None = None,
        evaluate_segments: bool | None = None,
        wait_for_completion: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | timedelta | None = None,
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
        self.export_job = export_job
        self.dataset_id = dataset_id
        self.segments = segments
        self.schema_name = schema_name
        self.fields = fields
        self.merge_policy = merge_policy
        self.segment_qualification_start = segment_qualification_start
        self.segment_qualification_end = segment_qualification_end
        self.from_ingest_timestamp = from_ingest_timestamp
        self.empty_profiles = empty_profiles
        self.event_fields = event_fields
        self.event_from_ingest_timestamp = event_from_ingest_timestamp
        self.event_to_ingest_timestamp = event_to_ingest_timestamp
        self.segment_per_batch = segment_per_batch
        self.evaluate_segments = evaluate_segments
        self.wait_for_completion = wait_for_completion
        self.poll_interval = poll_interval
        self.timeout = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        self._waiting_on: str | None = None
        self.end_from_trigger = end_from_trigger
        self.deferrable = deferrable
        self._validate_outlets(emits_on_success=wait_for_completion)
        self.wait_options = WaitOptions(
            aep_conn_id=aep_conn_id,
            cancel_on_timeout=cancel_on_timeout,
            cancel_on_kill=cancel_on_kill,
            request_retry_limit=request_retry_limit,
            request_retry_delay=request_retry_delay,
            request_timeout=request_timeout,
            min_exported_profiles=self._checked_minimum(min_exported_profiles, waits=wait_for_completion),
        )

    def execute(self, context: Context) -> str:
        """Submit once per task instance (an earlier try's job is reused), then wait if asked to."""
        request = self.build_request()
        # An outlet naming another dataset would fail only after the export: refuse it before submitting.
        self._aep_outlets_of(request.destination.dataset_id)
        job = self._job_from_earlier_try(context, request) or self._submit(context, request)
        self._show_dataset_link(context, request.destination.dataset_id)
        if not self.wait_for_completion:
            self.exported_dataset_id = request.destination.dataset_id
            return job.id
        if self.deferrable:
            self.defer(
                trigger=self._trigger(job.id, self.poll_interval, self.timeout),
                method_name="execute_complete",
                timeout=deferral_timeout(self.timeout),
            )
        self._waiting_on = job.id
        finished = self._wait_in_worker(job.id, self.poll_interval, self.timeout)
        self._waiting_on = None
        return self._finish(context, finished)

    def execute_complete(self, context: Context, event: dict[str, Any] | str) -> str:
        """Resume after the trigger: its event ends the task the same way a wait in the worker does."""

        def read_again() -> ExportJob | None:
            return self._stored_job(context) or self._matching_job(context, self.build_request())

        return self._finish(context, self._job_from_event(context, event, read_again))

    def on_kill(self) -> None:
        """A job nobody waits for any more would still write its dataset: cancel it."""
        if self.cancel_on_kill and self._waiting_on is not None:
            self._cancel(self._waiting_on, "the task was stopped")

    def build_request(self) -> ExportJobRequest:
        """The validated request from ``export_job`` or the individual arguments (after templating)."""
        subject = f"Task '{self.task_id}'"
        given = [name for name in REQUEST_ARGUMENTS if getattr(self, name) is not None]
        if self.export_job is not None:
            if given:
                raise AepConfigError(
                    f"{subject}: pass either export_job or the individual request arguments, not both "
                    f"(also given: {', '.join(given)})"
                )
            return ExportJobRequest.parse(self.export_job, subject=subject)
        if not isinstance(self.dataset_id, str) or not self.dataset_id.strip():
            raise AepConfigError(
                f"{subject}: dataset_id is required (the AEP dataset the profiles are written to), "
                f"got {self.dataset_id!r}; or pass the whole request as export_job"
            )
        return ExportJobRequest.parse(_without_empty(self._request_body(subject)), subject=subject)

    def _request_body(self, subject: str) -> dict[str, Any]:
        merge_policy = {"id": self.merge_policy} if isinstance(self.merge_policy, str) else self.merge_policy
        return {
            "destination": {"datasetId": self.dataset_id, "segmentPerBatch": self.segment_per_batch},
            "schema": {"name": DEFAULT_SCHEMA_NAME if self.schema_name is None else self.schema_name},
            "fields": _comma_joined(self.fields),
            "mergePolicy": merge_policy,
            "filter": {
                "segments": _segments(self.segments, subject),
                "segmentQualificationTime": {
                    "startTime": self.segment_qualification_start,
                    "endTime": self.segment_qualification_end,
                },
                "fromIngestTimestamp": self.from_ingest_timestamp,
                "emptyProfiles": self.empty_profiles,
            },
            "additionalFields": {
                "eventList": {
                    "fields": _comma_joined(self.event_fields),
                    "filter": {
                        "fromIngestTimestamp": self.event_from_ingest_timestamp,
                        "toIngestTimestamp": self.event_to_ingest_timestamp,
                    },
                }
            },
            "evaluationInfo": {"segmentation": self.evaluate_segments},
        }

    def _submit(self, context: Context, request: ExportJobRequest) -> ExportJob:
        job = self.hook.create_export_job(request)
        self.log.info(
            "Created export job %s: segments %s into dataset %s.",
            job.id,
            request.segment_ids or "(all profiles)",
            request.destination.dataset_id,
        )
        store = task_state_store(context)
        if store is not None:
            store.set(JOB_ID_STATE_KEY, job.id)
        return job

    def _job_from_earlier_try(self, context: Context, request: ExportJobRequest) -> ExportJob | None:
        """On a retry, the job an earlier try created, if it is worth keeping."""
        if context["ti"].try_number <= 1:
            return None
        job = self._stored_job(context)
        if job is None or job.status not in REUSABLE_STATUSES:
            # The store lags when a try died between creating a job and storing its id: the job list
            # still shows that newer job.
            job = self._matching_job(context, request) or job
        if job is None:
            self.log.info("No export job from an earlier try of this task was found; creating one.")
            return None
        if job.status in REUSABLE_STATUSES:
            self.log.info("Reusing export job %s (%s) created by an earlier try of this task.", job.id, job.status)
            return job
        self.log.info("Export job %s of an earlier try is %s; creating a new one.", job.id, job.status)
        return None

    def _stored_job(self, context: Context) -> ExportJob | None:
        store = task_state_store(context)
        job_id = store.get(JOB_ID_STATE_KEY) if store is not None else None
        if job_id is None:
            return None
        try:
            return self.hook.get_export_job(str(job_id))
        except ExportJobNotFoundError:
            return None

    def _matching_job(self, context: Context, request: ExportJobRequest) -> ExportJob | None:
        """Where no state store remembers the id: the same request's newest job since the run began."""
        run_started = context["dag_run"].start_date
        if run_started is None:
            return None
        return self.hook.find_export_job(request, created_after_ms=int(run_started.timestamp() * 1000))

    def _finish(self, context: Context, job: ExportJob) -> str:
        context["ti"].xcom_push(key=SUMMARY_XCOM_KEY, value=self._succeeded(context, job))
        return job.id


def _segments(value: object, subject: str) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [part for part in (piece.strip() for piece in value.split(",")) if part] or [value]
    if not isinstance(value, Sequence):
        raise AepConfigError(f"{subject}: segments must be a list of segment ids or dicts, got {type(value).__name__}")
    return [_segment(item, index, subject) for index, item in enumerate(value)]


def _segment(item: object, index: int, subject: str) -> dict[str, Any]:
    if isinstance(item, str):
        return {"segmentId": item}
    if not isinstance(item, Mapping):
        raise AepConfigError(
            f"{subject}: segments[{index}] must be a segment id or a dict with id, namespace and status, "
            f"got {type(item).__name__}"
        )
    segment = {_SEGMENT_KEYS.get(str(key), str(key)): value for key, value in item.items()}
    if isinstance(segment.get("status"), str):
        segment["status"] = [segment["status"]]
    return segment


def _comma_joined(value: str | Sequence[str] | None) -> str | None:
    return value if value is None or isinstance(value, str) else ",".join(value)


def _without_empty(body: dict[str, Any]) -> dict[str, Any]:
    """Drop unset arguments (None) and the groups they leave empty."""
    compact: dict[str, Any] = {}
    for key, value in body.items():
        if isinstance(value, dict):
            value = _without_empty(value)
        if value is not None and value != {}:
            compact[key] = value
    return compact
