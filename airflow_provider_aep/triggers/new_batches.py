"""Watch a dataset for batches that became readable, whoever wrote them: an event per batch."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from pydantic import JsonValue

from airflow_provider_aep.assets import BATCH_EVENT
from airflow_provider_aep.client.settings import DEFAULT_MAX_ITEMS_PER_POLL
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.identifiers import catalog_id
from airflow_provider_aep.models.catalog import READABLE_BATCH_STATUSES, Batch
from airflow_provider_aep.models.catalog import readable_statuses as readable_statuses_of
from airflow_provider_aep.models.export_job import SUCCEEDED
from airflow_provider_aep.scrubbing import scrubber
from airflow_provider_aep.triggers.watching import (
    DEFAULT_LOOK_BACK,
    DEFAULT_WATCH_INTERVAL,
    Look,
    WatchingTrigger,
)
from airflow_provider_aep.wait.options import WaitOptions
from airflow_provider_aep.wait.watermark import Sighting, State

# Succeeded export jobs read to name the job behind a new batch: one page, newest first.
_JOBS_TO_MATCH = 100


class NewBatchesTrigger(WatchingTrigger):
    """An event for each batch of ``dataset_id`` that became readable: ingested, exported or written by anyone.

    A batch still loading at one poll is reported at the poll that finds it readable; a failed
    batch is never reported. Each event carries the batch id, the dataset, the records written,
    the batch's times, and the export job that wrote it when it is among the newest succeeded jobs.

    :param dataset_id: the dataset whose batches are watched.
    :param readable_statuses: the batch statuses that mean the data can be read.
    """

    item_kind = "batch"

    def __init__(
        self,
        dataset_id: str,
        readable_statuses: Collection[str] = READABLE_BATCH_STATUSES,
        options: WaitOptions | Mapping[str, Any] | None = None,
        poll_interval: float = DEFAULT_WATCH_INTERVAL,
        look_back_seconds: float = DEFAULT_LOOK_BACK.total_seconds(),
        max_items_per_poll: int = DEFAULT_MAX_ITEMS_PER_POLL,
    ) -> None:
        subject = f"{type(self).__name__}"
        self.dataset_id = catalog_id(dataset_id, field="dataset_id", subject=subject)
        self.readable_statuses = readable_statuses_of(readable_statuses, subject=subject, field="readable_statuses")
        super().__init__(options, poll_interval, look_back_seconds, max_items_per_poll)

    def _subject_kwargs(self) -> dict[str, Any]:
        return {"dataset_id": self.dataset_id, "readable_statuses": self.readable_statuses}

    def _what(self) -> str:
        return f"new batches in dataset {self.dataset_id}"

    async def _look(self, hook: AdobeExperiencePlatformHook, since_ms: int) -> Look:
        listing = await hook.alist_batches(self.dataset_id, created_after_ms=since_ms, limit=self.max_items_per_poll)
        batches = listing.entries
        cut = not listing.complete or len(batches) >= self.max_items_per_poll
        # Oldest first: a listing cut at its bound is whole up to its newest batch.
        newest = max((batch.created for batch in batches if batch.created is not None), default=since_ms)
        return self._seen(batches, newest if cut else None)

    async def _fetch_one(self, hook: AdobeExperiencePlatformHook, key: str) -> Batch:
        return await hook.aget_batch(key)

    def _seen(self, records: Sequence[Batch], read_until_ms: int | None) -> Look:
        return Look(
            sightings=[Sighting(batch.id, batch.created, self._state(batch)) for batch in records],
            read_until_ms=read_until_ms,
            payloads={batch.id: batch_payload(batch, self.dataset_id) for batch in records},
        )

    def _state(self, batch: Batch) -> State:
        if batch.has_failed:
            return "failed"
        return "ready" if batch.status.lower() in self.readable_statuses else "open"

    async def _enrich(self, hook: AdobeExperiencePlatformHook, payloads: dict[str, dict[str, JsonValue]]) -> None:
        """Names the export job behind each new batch, where one of the newest succeeded jobs wrote it."""
        jobs = await hook.alist_export_jobs(status=SUCCEEDED, limit=_JOBS_TO_MATCH)
        writers = {
            batch_id: job.id
            for job in jobs
            if job.destination.dataset_id == self.dataset_id
            for batch_id in job.written_batch_ids()
        }
        for batch_id, payload in payloads.items():
            payload["export_job_id"] = writers.get(batch_id)


def batch_payload(batch: Batch, dataset_id: str) -> dict[str, JsonValue]:
    """What a batch event carries, which ``triggering_batches`` gives the DAG it starts."""
    metrics = batch.metrics
    return {
        "kind": BATCH_EVENT,
        "batch_id": batch.id,
        "dataset_id": dataset_id,
        "status": scrubber.scrub(batch.status, limit=64),  # server text, into the asset event's extra
        "records_written": metrics.records_written if metrics else None,
        "created": batch.created,
        "updated": batch.updated,
        "started": metrics.start_time if metrics else None,
        "completed": metrics.end_time if metrics else None,
        "export_job_id": None,
    }
