"""Export-job records as Platform returns them, parsed tolerantly.

Adobe's own documents disagree on several shapes (``datasetId``/``dataSetId``, ``batches`` as a
list or one object, numeric or string ids); every documented variant parses, and fields this
module does not know are kept rather than rejected.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from pydantic import AfterValidator, AliasChoices, BeforeValidator, ConfigDict, Field

from airflow_provider_aep.identifiers import is_export_job_id, shown
from airflow_provider_aep.models.records import ApiRecord
from airflow_provider_aep.scrubbing import scrubber

NEW = "NEW"
PROCESSING = "PROCESSING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
KNOWN_STATUSES = frozenset({NEW, PROCESSING, SUCCEEDED, FAILED})
TERMINAL_STATUSES = frozenset({SUCCEEDED, FAILED})


def _as_text(value: object) -> object:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _as_list(value: object) -> object:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _checked_job_id(value: str) -> str:
    if not is_export_job_id(value):
        raise ValueError(f"not an export job id of ASCII digits: {shown(value)}")
    return value


# Ids from responses go into later request paths, so they are held to the same rule as a user's.
JobId = Annotated[str, BeforeValidator(_as_text), AfterValidator(_checked_job_id)]
ListOrOne = BeforeValidator(_as_list)


class JobError(ApiRecord):
    """One error a failed job reports; some documents give the code as a number, so it is read as text."""

    code: Annotated[str | None, BeforeValidator(_as_text)] = None
    msg: str | None = None
    call_stack: str | None = None

    def describe(self) -> str:
        """One readable form for failure messages, even when the code or the text is missing."""
        return f"[{self.code or 'no code'}] {self.msg or 'no message'}"


class SegmentBatch(ApiRecord):
    """The batch written for one segment, where Platform writes a batch per segment."""

    segment_id: str | None = None
    segment_ns: str | None = None
    status: Annotated[list[str], ListOrOne] = Field(default_factory=list)
    batch_id: str | None = None


class JobDestination(ApiRecord):
    """Where the job wrote; both ``datasetId`` spellings and one-or-many ``batches`` occur in Adobe's documents.

    The ids are not checked here, so that one odd job cannot make a whole job list unreadable; the
    download checks them before they reach a request or a folder name.
    """

    dataset_id: str | None = Field(default=None, validation_alias=AliasChoices("datasetId", "dataSetId"))
    segment_per_batch: bool | None = None
    batch_id: str | None = None
    batches: Annotated[list[SegmentBatch], ListOrOne] = Field(default_factory=list)


def _count_or_none(value: int | None) -> int | None:
    """A negative count or duration is no figure at all: it would pass a minimum or turn a counter back."""
    return None if value is None or value < 0 else value


# A figure AEP reports about a job: a count or a number of milliseconds, never negative.
Figure = Annotated[int | None, AfterValidator(_count_or_none)]


class TimeSpan(ApiRecord):
    """A timing in milliseconds, which ``ExportJob.summary`` turns into the seconds it reports."""

    start_time_in_ms: int | None = None
    end_time_in_ms: int | None = None
    total_time_in_ms: Figure = None


class JobMetrics(ApiRecord):
    """Timings and profile counts; ``aCPDatasetWriteTime`` needs its own alias, as no camel-case rule makes it."""

    total_time: TimeSpan | None = None
    profile_export_time: TimeSpan | None = None
    acp_dataset_write_time: TimeSpan | None = Field(default=None, alias="aCPDatasetWriteTime")
    total_exported_profile_counter: Figure = None
    exported_profile_by_namespace_counter: dict[str, int] | None = None


class SchemaName(ApiRecord):
    """The job's XDM schema, one of the fields a lost create's job is recognised by."""

    name: str | None = None


class SegmentFilter(ApiRecord):
    """A segment the job exports, one of the fields a lost create's job is recognised by."""

    segment_id: str | None = None
    segment_ns: str | None = None
    status: Annotated[list[str], ListOrOne] = Field(default_factory=list)


class JobFilter(ApiRecord):
    """The segments the job selected, read whether Platform sends one object or a list."""

    segments: Annotated[list[SegmentFilter], ListOrOne] = Field(default_factory=list)


class JobProgress(ApiRecord):
    """Which job, and how far it is: all a poll reads while the job runs.

    A wait reads the full record (``ExportJob``) only once the job is terminal; until then this is
    parsed instead, which skips the nested parts and costs a triggerer a fraction of the CPU per
    poll. Unknown fields are ignored here, not kept.
    """

    model_config = ConfigDict(extra="ignore")

    id: JobId
    status: str
    creation_time: int | None = None

    @property
    def is_terminal(self) -> bool:
        """Only SUCCEEDED and FAILED end a wait; any other status, known or not, keeps it going."""
        return self.status in TERMINAL_STATUSES

    @property
    def is_known_status(self) -> bool:
        """Lets waiters warn about a status newer than this provider instead of passing over it."""
        return self.status in KNOWN_STATUSES


class ExportJob(JobProgress):
    """One export job. ``status`` stays a plain string: AEP may add statuses this provider predates."""

    model_config = ConfigDict(extra="allow")

    job_type: str | None = None
    destination: JobDestination = JobDestination()
    schema_: SchemaName | None = Field(default=None, alias="schema")
    fields: str | None = None
    filter: JobFilter | None = None
    errors: Annotated[list[JobError], ListOrOne] = Field(default_factory=list)
    metrics: JobMetrics | None = None
    update_time: int | None = None
    request_id: str | None = None
    profile_instance_id: str | None = None
    ims_org_id: str | None = None

    @property
    def segment_ids(self) -> list[str]:
        """The job's segments, compared with a request's when looking for the job a lost create made."""
        segments = self.filter.segments if self.filter else []
        return [segment.segment_id for segment in segments if segment.segment_id]

    def batch_ids(self) -> dict[str, str]:
        """Batch id per segment id; the key ``"*"`` holds the one batch written for all segments."""
        found = {batch.segment_id or "*": batch.batch_id for batch in self.destination.batches if batch.batch_id}
        if self.destination.batch_id and not found:
            found["*"] = self.destination.batch_id
        return found

    def written_batch_ids(self) -> list[str]:
        """Each batch the job wrote, once, in a stable order: what a download or a readiness check reads."""
        return sorted(set(self.batch_ids().values()))

    def error_text(self) -> str:
        """Every error in one line, for the failure message a person takes to Adobe support.

        Server text: scrubbed of secrets and control characters, and cut, like every other.
        """
        return scrubber.scrub("; ".join(error.describe() for error in self.errors), limit=2000)

    def summary(self) -> dict[str, Any]:
        """What downstream tasks need, JSON-safe for XCom."""
        metrics = self.metrics or JobMetrics()
        durations = {
            name: span.total_time_in_ms / 1000
            for name, span in (
                ("total", metrics.total_time),
                ("profile_export", metrics.profile_export_time),
                ("dataset_write", metrics.acp_dataset_write_time),
            )
            if span is not None and span.total_time_in_ms is not None
        }
        return {
            "job_id": self.id,
            "status": self.status,
            "dataset_id": self.destination.dataset_id,
            "batch_ids": self.batch_ids(),
            "exported_profiles": metrics.total_exported_profile_counter,
            "durations_seconds": durations,
            "errors": [error.model_dump(include={"code", "msg"}) for error in self.errors],
        }


class PageLink(ApiRecord):
    """The next page's link, which may be empty or a placeholder on the last page."""

    next: str | None = None


class ExportJobPage(ApiRecord):
    """One page of the job list, read whether ``records`` is a list or one object."""

    records: Annotated[list[ExportJob], ListOrOne] = Field(default_factory=list)
    link: PageLink | None = None

    def next_query(self) -> dict[str, str] | None:
        """Query parameters of ``link.next``, or None on the last page (empty or placeholder link)."""
        target = self.link.next if self.link else None
        if not target:
            return None
        query = {key: values[-1] for key, values in parse_qs(urlsplit(target).query).items()}
        return query if query.get("offset") else None
