"""The Catalog API (datasets, batches) as transport-free flows over the shared request core."""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_aep.client.calls import Pages, PlatformCalls, create_once, read_pages
from airflow_provider_aep.client.flows import Flow, Reply
from airflow_provider_aep.client.responses import about, malformed, parse_keyed
from airflow_provider_aep.exceptions import AepApiError, AepConfigError, DatasetMayExistError
from airflow_provider_aep.identifiers import is_catalog_id, path_segment, shown
from airflow_provider_aep.models.catalog import PROFILE_UNION_SCHEMA, XED_CONTENT_TYPE, Batch, Dataset

CATALOG_PATH = "/data/foundation/catalog"
PAGE_SIZE = 100  # Catalog's largest page
MAX_NAME_CHARACTERS = 256
# The reference a create answers with: "@/dataSets/<id>" in the spec, "@/datasets/<id>" in a tutorial.
_REFERENCE_PREFIXES = ("@/dataSets/", "@/datasets/")


class CatalogApi:
    """Catalog's paths and models; performs no I/O.

    Ids reaching these flows are already checked (``identifiers.catalog_id``) and are still
    percent-encoded into the path.
    """

    def __init__(self, calls: PlatformCalls):
        self.calls = calls
        self.log = calls.log

    def get_dataset(self, dataset_id: str) -> Flow[Dataset]:
        """The dataset; an answer about another id is refused, as for export jobs."""
        reply = yield from self.calls.call("GET", f"{CATALOG_PATH}/dataSets/{path_segment(dataset_id)}")
        return about(reply, dataset_id, parse_keyed(reply, Dataset, what="a dataset"), what="dataset")

    def find_datasets(self, *, name: str) -> Flow[list[Dataset]]:
        """Every dataset named exactly ``name``, oldest first, across at most ``limits.max_pages`` pages."""
        path = f"{CATALOG_PATH}/dataSets"

        def page(start: int) -> Flow[tuple[list[Dataset], int | None, Reply]]:
            query = {"name": name, "limit": str(PAGE_SIZE), "start": str(start)}
            reply = yield from self.calls.call("GET", path, params=query)
            records = parse_keyed(reply, Dataset, what="a list of datasets")
            return records, (start + len(records) if len(records) >= PAGE_SIZE else None), reply

        listing = yield from read_pages(page, 0, key=lambda record: record.id, max_pages=self.calls.limits.max_pages)
        found = listing.whole()
        # Catalog's name filter is not documented as exact; this is.
        matching = [record for record in found if record.name == name]
        return sorted(matching, key=lambda record: (record.created or 0, record.id))

    def get_batch(self, batch_id: str) -> Flow[Batch]:
        """The batch with its status, record count and errors."""
        reply = yield from self.calls.call("GET", f"{CATALOG_PATH}/batches/{path_segment(batch_id)}")
        return about(reply, batch_id, parse_keyed(reply, Batch, what="a batch"), what="batch")

    def list_batches(self, dataset_id: str, *, created_after_ms: int, limit: int) -> Flow[Pages[Batch]]:
        """The dataset's batches created after ``created_after_ms``, oldest first, at most ``limit`` of them.

        Oldest first, so that a listing cut at ``limit`` leaves the newest for the next read instead of
        the oldest for ever. A batch another dataset holds is refused: it would land in the wrong folder.
        """
        path = f"{CATALOG_PATH}/batches"

        def page(start: int) -> Flow[tuple[list[Batch], int | None, Reply]]:
            query = {
                "dataSet": dataset_id,
                "createdAfter": str(created_after_ms),
                "orderBy": "asc:created",
                "limit": str(min(PAGE_SIZE, limit)),
                "start": str(start),
            }
            reply = yield from self.calls.call("GET", path, params=query)
            records = parse_keyed(reply, Batch, what="a list of batches")
            for record in records:
                if record.dataset_id not in (None, dataset_id):
                    raise malformed(
                        reply,
                        f"batch {record.id} is listed for dataset {dataset_id} but belongs to another",
                        transient=False,
                    )
            return records, (start + len(records) if len(records) >= min(PAGE_SIZE, limit) else None), reply

        listing = yield from read_pages(
            page, 0, key=lambda record: record.id, max_pages=self.calls.limits.max_pages, limit=limit
        )
        if not listing.complete:
            self.log.warning("The batch list of dataset %s repeats itself; stopped reading it.", dataset_id)
        return listing

    def ensure_profile_dataset(
        self, name: str, *, description: str | None = None, tags: dict[str, list[str]] | None = None
    ) -> Flow[str]:
        """The id of the profile-union dataset named ``name``, made only if none exists.

        A dataset of that name on another schema is an ``AepConfigError``: an export into it would
        fail. A create whose answer was lost is reconciled by listing by name again, so a retry
        never makes a second dataset.
        """
        existing = yield from self._profile_dataset_named(name)
        if existing is not None:
            self.log.info("Dataset %s is named %r and based on the profile union schema; using it.", existing.id, name)
            return existing.id
        body: dict[str, Any] = {
            "name": name,
            "schemaRef": {"id": PROFILE_UNION_SCHEMA, "contentType": XED_CONTENT_TYPE},
            "fileDescription": {"persisted": True, "containerFormat": "parquet", "format": "parquet"},
            "aspect": "production",
        }
        if description is not None:
            body["description"] = description
        if tags:
            body["tags"] = tags

        def post() -> Flow[str]:
            reply = yield from self.calls.call("POST", f"{CATALOG_PATH}/dataSets", json=body, resend_ambiguous=False)
            return _created_id(reply)

        def find() -> Flow[str | None]:
            try:
                made = yield from self._profile_dataset_named(name)
            except AepApiError as error:
                raise _may_exist(name, f"listing datasets by name failed: {error}") from None
            return None if made is None else made.id

        dataset_id = yield from create_once(
            post,
            find,
            what="dataset",
            may_exist=lambda reason: _may_exist(name, reason),
            policy=self.calls.retry_policy,
            log=self.log,
            metrics=self.calls.metrics,
        )
        self.log.info("Created dataset %s, named %r, on the profile union schema.", dataset_id, name)
        return dataset_id

    def _profile_dataset_named(self, name: str) -> Flow[Dataset | None]:
        datasets = yield from self.find_datasets(name=name)
        usable = [dataset for dataset in datasets if dataset.is_profile_union]
        if usable:
            if len(usable) > 1:
                self.log.warning(
                    "%d profile datasets are named %r; using the oldest, %s.", len(usable), name, usable[0].id
                )
            return usable[0]
        if datasets:
            schema = datasets[0].schema_ref.id if datasets[0].schema_ref else None
            raise AepConfigError(
                f"A dataset named {name!r} exists ({datasets[0].id}) on schema {schema}, not on the profile "
                f"union schema ({PROFILE_UNION_SCHEMA}) that export jobs need; pick another name"
            )
        return None


def _created_id(reply: Reply) -> str:
    """The id in a create's answer, ``["@/dataSets/<id>"]``; anything else is unreadable."""
    try:
        answer = json.loads(reply.content)
    except ValueError:
        answer = None
    if isinstance(answer, list) and len(answer) == 1 and isinstance(answer[0], str):
        for prefix in _REFERENCE_PREFIXES:
            if answer[0].startswith(prefix) and is_catalog_id(answer[0][len(prefix) :]):
                return answer[0][len(prefix) :]
    raise malformed(reply, 'the body is not a dataset reference such as ["@/dataSets/<id>"]', excerpt=True)


def _may_exist(name: str, reason: str) -> DatasetMayExistError:
    return DatasetMayExistError(
        f"Creating dataset {name!r} failed in a way that may have made it, and whether it did could not be "
        f"checked ({reason}). It was not sent again, so that no second dataset is made. Look for it with "
        "AdobeExperiencePlatformHook().find_datasets(name=...), or GET /data/foundation/catalog/dataSets?name=...; "
        "a retry of the task reuses it if it finds it."
    )


def dataset_request(name: object, description: object, tags: object, *, subject: str) -> str:
    """A dataset's name, description and tags checked before any request; the name, stripped."""
    if not isinstance(name, str) or not name.strip():
        raise AepConfigError(f"{subject}: dataset name must be a non-empty string, got {shown(name)}")
    if len(name) > MAX_NAME_CHARACTERS or not name.isprintable():
        raise AepConfigError(
            f"{subject}: dataset name must be printable and at most {MAX_NAME_CHARACTERS} characters, got {shown(name)}"
        )
    if description is not None and not isinstance(description, str):
        raise AepConfigError(f"{subject}: description must be a string, got {shown(description)}")
    if tags is not None and not (
        isinstance(tags, dict)
        and all(
            isinstance(key, str) and isinstance(values, list) and all(isinstance(value, str) for value in values)
            for key, values in tags.items()
        )
    ):
        raise AepConfigError(f"{subject}: tags must map names to lists of strings, got {shown(tags)}")
    return name.strip()
