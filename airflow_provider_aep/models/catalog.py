"""Catalog records (datasets, batches) as Platform returns them, parsed tolerantly.

Catalog answers with objects keyed by id (``{"<id>": {...}}``), numbers sometimes as strings, and
references such as ``@/dataSets/<id>`` or ``@/datasets/<id>``. Every documented variant parses;
ids from responses are held to the same rule as a user's, since they go into later request paths.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from airflow_provider_aep.exceptions import AepConfigError
from airflow_provider_aep.identifiers import is_catalog_id, shown
from airflow_provider_aep.models.records import ApiRecord
from airflow_provider_aep.scrubbing import scrubber

PROFILE_UNION_SCHEMA = "https://ns.adobe.com/xdm/context/profile__union"
XED_CONTENT_TYPE = "application/vnd.adobe.xed+json;version=1"

# Batch statuses. Only these mean the data can be read; every other value, known or not, is waited
# on. Adobe's docs are not explicit about "active" and "loaded", hence a default users can widen.
READABLE_BATCH_STATUSES = frozenset({"success"})
FAILED_BATCH_STATUSES = frozenset({"failure", "failed", "aborted", "abandoned", "deleted"})


def readable_statuses(value: object, *, subject: str, field: str = "readable_batch_statuses") -> list[str]:
    """A user's readable batch statuses, checked before any request, lowercase as Catalog compares them."""
    listed = isinstance(value, Collection) and not isinstance(value, str | bytes)
    statuses = list(value) if isinstance(value, Collection) and listed else []
    if not statuses or not all(isinstance(status, str) and status for status in statuses):
        raise AepConfigError(
            f"{subject}: {field} must be a list of batch statuses such as ['success'], got {shown(value)}"
        )
    return sorted({status.lower() for status in statuses})


def _as_int(value: object) -> object:
    """Catalog writes some numbers as strings (``"1558522305708"``)."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return value


def _checked_id(value: object) -> object:
    if isinstance(value, str) and not is_catalog_id(value):
        raise ValueError(f"not a usable Catalog id: {shown(value)}")
    return value


Number = Annotated[int | None, BeforeValidator(_as_int)]
CatalogId = Annotated[str, BeforeValidator(_checked_id)]


class DatasetSchemaRef(ApiRecord):
    """The XDM schema a dataset is based on; exports need the profile union schema."""

    id: str | None = None
    content_type: str | None = None


class Dataset(ApiRecord):
    """One dataset; ``id`` comes from the key Catalog files the record under."""

    id: CatalogId
    name: str | None = None
    description: str | None = None
    schema_ref: DatasetSchemaRef | None = None
    tags: dict[str, Any] | None = None
    created: Number = None
    updated: Number = None

    @property
    def is_profile_union(self) -> bool:
        """Whether an export job can write into it."""
        return self.schema_ref is not None and self.schema_ref.id == PROFILE_UNION_SCHEMA


class BatchError(ApiRecord):
    """One error Catalog reports for a batch; ``rows`` names the failed rows where it knows them."""

    code: Annotated[str | None, BeforeValidator(lambda value: str(value) if isinstance(value, int) else value)] = None
    description: str | None = None
    rows: Any = None  # a list of row numbers, or text, depending on the document

    def describe(self) -> str:
        """One readable form for failure messages, even when the code or the text is missing."""
        return f"[{self.code or 'no code'}] {self.description or 'no description'}"


class BatchMetrics(ApiRecord):
    """What the batch wrote; the download compares its record count with the export's profile count."""

    records_written: Number = None
    start_time: Number = None
    end_time: Number = None


class RelatedObject(ApiRecord):
    """A dataset or other object the batch belongs to."""

    type: str | None = None
    id: str | None = None


class Batch(ApiRecord):
    """One batch; ``status`` stays a plain string, as Catalog may add statuses this provider predates."""

    id: CatalogId
    status: str = ""
    metrics: BatchMetrics | None = None
    errors: list[BatchError] = Field(default_factory=list)
    related_objects: list[RelatedObject] = Field(default_factory=list)
    created: Number = None
    updated: Number = None

    @property
    def dataset_id(self) -> str | None:
        """The dataset the batch was written into, from its related objects."""
        return next((item.id for item in self.related_objects if (item.type or "").lower() == "dataset"), None)

    @property
    def has_failed(self) -> bool:
        """A final failure: the batch will never be readable."""
        return self.status.lower() in FAILED_BATCH_STATUSES

    def error_text(self) -> str:
        """Every error in one line, for the failure message a person takes to Adobe support.

        Server text: scrubbed of secrets and control characters, and cut, like every other.
        """
        return scrubber.scrub("; ".join(error.describe() for error in self.errors), limit=2000)
