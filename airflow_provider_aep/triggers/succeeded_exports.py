"""Watch a dataset for export jobs that succeeded into it, whoever created them: an event per job."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_aep.assets import EXPORT_JOB_EVENT
from airflow_provider_aep.client.settings import DEFAULT_MAX_ITEMS_PER_POLL
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.identifiers import catalog_id
from airflow_provider_aep.models.export_job import SUCCEEDED, TERMINAL_STATUSES, ExportJob
from airflow_provider_aep.triggers.watching import (
    DEFAULT_LOOK_BACK,
    DEFAULT_WATCH_INTERVAL,
    Look,
    WatchingTrigger,
)
from airflow_provider_aep.wait.options import WaitOptions
from airflow_provider_aep.wait.watermark import Sighting, State


class SucceededExportsTrigger(WatchingTrigger):
    """An event for each export job that SUCCEEDED writing into ``dataset_id``, made by anyone.

    A job still running at one poll is reported at the poll that finds it SUCCEEDED; a failed job
    never is. Each event carries the summary ``ExportJobSensor`` returns (job id, batch ids,
    exported profiles, durations), which ``triggering_exports`` gives the DAG it starts.

    :param dataset_id: the destination dataset of the jobs watched.
    """

    item_kind = "export job"

    def __init__(
        self,
        dataset_id: str,
        options: WaitOptions | Mapping[str, Any] | None = None,
        poll_interval: float = DEFAULT_WATCH_INTERVAL,
        look_back_seconds: float = DEFAULT_LOOK_BACK.total_seconds(),
        max_items_per_poll: int = DEFAULT_MAX_ITEMS_PER_POLL,
    ) -> None:
        self.dataset_id = catalog_id(dataset_id, field="dataset_id", subject=type(self).__name__)
        super().__init__(options, poll_interval, look_back_seconds, max_items_per_poll)

    def _subject_kwargs(self) -> dict[str, Any]:
        return {"dataset_id": self.dataset_id}

    def _what(self) -> str:
        return f"export jobs into dataset {self.dataset_id}"

    async def _look(self, hook: AdobeExperiencePlatformHook, since_ms: int) -> Look:
        # Every status, not only SUCCEEDED: a job seen running is looked up until it ends. The
        # listing includes its start; the watermark's bounds exclude theirs.
        jobs = await hook.alist_export_jobs(limit=self.max_items_per_poll, created_after_ms=since_ms + 1)
        mine = [job for job in jobs if job.destination.dataset_id == self.dataset_id]
        cut = len(jobs) >= self.max_items_per_poll
        if cut:
            # Newest first: what a cut listing left out is its oldest, which may never be read.
            self.log.warning(
                "Watching %s: %d export jobs or more since %d; older ones may be missed. Raise "
                "max_items_per_poll or shorten look_back.",
                self._what(),
                self.max_items_per_poll,
                since_ms,
            )
        return self._seen(mine, since_ms if cut else None)

    async def _fetch_one(self, hook: AdobeExperiencePlatformHook, key: str) -> ExportJob:
        return await hook.aget_export_job(key)

    def _seen(self, records: Sequence[ExportJob], read_until_ms: int | None) -> Look:
        return Look(
            sightings=[Sighting(job.id, job.creation_time, _state(job)) for job in records],
            read_until_ms=read_until_ms,
            payloads={job.id: {"kind": EXPORT_JOB_EVENT, **job.summary()} for job in records},
        )


def _state(job: ExportJob) -> State:
    """As the sensor reads a status: only SUCCEEDED is success, and a status it does not know is waited on."""
    if job.status == SUCCEEDED:
        return "ready"
    return "failed" if job.status in TERMINAL_STATUSES else "open"
