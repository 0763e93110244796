"""The body of ``POST /export/jobs``, validated before anything is sent."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from airflow_provider_aep.exceptions import AepConfigError

SegmentStatus = Literal["realized", "existing", "exited"]
NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def _parse_timestamp(value: object) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not an RFC 3339 timestamp such as 2026-01-31T02:00:00Z") from None
    else:
        raise ValueError(f"expected an RFC 3339 timestamp or a datetime, got {type(value).__name__}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"timestamp {value!s} has no UTC offset; AEP needs one, e.g. 2026-01-31T02:00:00Z")
    return parsed


def _format_timestamp(value: datetime) -> str:
    text = value.isoformat()
    return text[: -len("+00:00")] + "Z" if text.endswith("+00:00") else text


Timestamp = Annotated[
    datetime,
    PlainValidator(_parse_timestamp),
    PlainSerializer(_format_timestamp, return_type=str),
]


class _RequestPart(BaseModel):
    """API field names (camelCase) on the wire, snake_case in Python; unknown fields are mistakes."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
        frozen=True,
    )


class Destination(_RequestPart):
    """The dataset to write into, also what an export's asset and duplicate check are keyed on."""

    dataset_id: NonEmptyStr
    segment_per_batch: bool | None = None


class ExportSchema(_RequestPart):
    """The XDM schema whose fields are exported; a lost create's job is recognised by it too."""

    name: NonEmptyStr


class MergePolicy(_RequestPart):
    """The merge policy that builds the exported profiles; Adobe asks for one when several segments are exported."""

    id: NonEmptyStr
    version: int | None = None


class SegmentSelector(_RequestPart):
    """One segment to export; ``status`` picks its realized, existing or exited members."""

    segment_id: NonEmptyStr
    segment_ns: NonEmptyStr | None = None
    status: list[SegmentStatus] | None = None


class TimeWindow(_RequestPart):
    """A qualification window, checked for order so a reversed one fails before anything is sent."""

    start_time: Timestamp | None = None
    end_time: Timestamp | None = None

    @model_validator(mode="after")
    def _start_before_end(self) -> TimeWindow:
        if self.start_time and self.end_time and self.start_time >= self.end_time:
            raise ValueError("startTime must be before endTime")
        return self


class ExportFilter(_RequestPart):
    """Which profiles to export; an empty segment list is refused here, before any request is sent."""

    segments: Annotated[list[SegmentSelector], Field(min_length=1)] | None = None
    segment_qualification_time: TimeWindow | None = None
    from_ingest_timestamp: Timestamp | None = None
    empty_profiles: bool | None = None


class EventIngestWindow(_RequestPart):
    """Bounds on when events were ingested, so an export need not carry each profile's whole history."""

    from_ingest_timestamp: Timestamp | None = None
    to_ingest_timestamp: Timestamp | None = None


class EventList(_RequestPart):
    """Experience events to export with each profile, with their own fields and time window."""

    fields: NonEmptyStr | None = None
    filter: EventIngestWindow | None = None


class AdditionalFields(_RequestPart):
    """Data exported with the profiles beyond their own fields: their experience events."""

    event_list: EventList | None = None


class EvaluationInfo(_RequestPart):
    """Whether Platform evaluates the segments as part of the job instead of using earlier results."""

    segmentation: bool | None = None


class ExportJobRequest(_RequestPart):
    """What to export: the segments' members, into which dataset, with which fields."""

    destination: Destination
    schema_: ExportSchema = Field(alias="schema")
    fields: NonEmptyStr | None = None
    merge_policy: MergePolicy | None = None
    filter: ExportFilter | None = None
    additional_fields: AdditionalFields | None = None
    evaluation_info: EvaluationInfo | None = None

    @classmethod
    def parse(cls, value: ExportJobRequest | dict[str, Any], *, subject: str) -> ExportJobRequest:
        """Validate ``value``; a bad field raises AepConfigError naming ``subject`` and the field."""
        if isinstance(value, ExportJobRequest):
            return value
        if not isinstance(value, dict):
            raise AepConfigError(
                f"{subject}: export_job must be a dict in the API's JSON shape or an ExportJobRequest, "
                f"got {type(value).__name__}"
            )
        try:
            return cls.model_validate(value)
        except ValidationError as error:
            raise AepConfigError(f"{subject}: invalid export job request: {describe_errors(error)}") from None

    def to_api_json(self) -> dict[str, Any]:
        """The JSON body Platform expects: API field names, unset fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @property
    def segment_ids(self) -> list[str]:
        """The requested segments, compared with a job's when looking for the job a lost create made."""
        segments = self.filter.segments if self.filter and self.filter.segments else []
        return [segment.segment_id for segment in segments]


def describe_errors(error: ValidationError) -> str:
    """One line per bad field, named by its API path, never echoing the whole input."""
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        path = ".".join(str(part) for part in item["loc"]) or "(request)"
        lines.append(f"{path}: {item['msg']}")
    return "; ".join(lines)
