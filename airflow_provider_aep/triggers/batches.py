"""Wait, in the triggerer, until an export's batches can be read, or one of them has failed."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.models.catalog import READABLE_BATCH_STATUSES, Batch
from airflow_provider_aep.triggers.base import PollingTrigger
from airflow_provider_aep.wait.events import EVENT_FAILED, EVENT_SUCCESS
from airflow_provider_aep.wait.options import WaitOptions
from airflow_provider_aep.wait.schedule import DEFAULT_POLL_INTERVAL


@dataclass(frozen=True)
class BatchReadiness:
    """Where a job's batches stand; the worker's wait and the trigger read them the same way.

    ``failed``: batches that will never be readable; ``waiting``: the ids of batches still being
    written, or in a status this provider does not know, which is never taken for readable.
    """

    failed: list[Batch]
    waiting: list[str]

    @classmethod
    def of(cls, batches: Sequence[Batch], readable: Collection[str]) -> BatchReadiness:
        """Sorts the batches by their status; ``readable`` lists the statuses that mean done."""
        wanted = {status.lower() for status in readable}
        failed = [batch for batch in batches if batch.has_failed]
        waiting = [batch.id for batch in batches if not batch.has_failed and batch.status.lower() not in wanted]
        return cls(failed, waiting)

    @property
    def ready(self) -> bool:
        """Every batch readable: the files can be downloaded."""
        return not self.failed and not self.waiting

    def failure_text(self) -> str:
        """Every failed batch with its errors, for the message a person takes to Adobe support."""
        return "; ".join(
            f"batch {batch.id} is {batch.status}: {batch.error_text() or 'no errors given'}" for batch in self.failed
        )


async def batch_readiness(
    hook: AdobeExperiencePlatformHook, batch_ids: Sequence[str], readable: Collection[str]
) -> BatchReadiness:
    """One check of every batch in Catalog, for any trigger that waits on batches."""
    return BatchReadiness.of([await hook.aget_batch(batch_id) for batch_id in batch_ids], readable)


class BatchesReadyTrigger(PollingTrigger):
    """Polls Catalog until every batch is readable (``success`` by default), or one has failed.

    :param batch_ids: the batches an export job wrote.
    :param readable_statuses: the batch statuses that mean the data can be read.
    """

    def __init__(
        self,
        batch_ids: Sequence[str],
        readable_statuses: Collection[str] = READABLE_BATCH_STATUSES,
        options: WaitOptions | Mapping[str, Any] | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        deadline: float | None = None,
    ) -> None:
        super().__init__(options, poll_interval, deadline)
        self.batch_ids = [str(batch_id) for batch_id in batch_ids]
        self.readable_statuses = sorted(readable_statuses)

    def _subject_kwargs(self) -> dict[str, Any]:
        return {"batch_ids": self.batch_ids, "readable_statuses": self.readable_statuses}

    def _what(self) -> str:
        return f"batches {', '.join(self.batch_ids)}"

    async def _check(self, hook: AdobeExperiencePlatformHook) -> TriggerEvent | None:
        readiness = await batch_readiness(hook, self.batch_ids, self.readable_statuses)
        if readiness.failed:
            return self._event(EVENT_FAILED, readiness.failure_text())
        if readiness.ready:
            return self._event(EVENT_SUCCESS, f"Batches {', '.join(self.batch_ids)} can be read.")
        self.log.info("Waiting for batches %s to be written.", ", ".join(readiness.waiting))
        return None

    def _event(self, status: str, message: str) -> TriggerEvent:
        return TriggerEvent({"status": status, "batch_ids": self.batch_ids, "message": message})  # type: ignore[no-untyped-call]
