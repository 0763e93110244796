"""What both asset watchers share: poll AEP for as long as the asset is watched, one event per new item.

A watcher is a trigger with no task behind it: Airflow records an asset event for each event it
yields, and the DAGs scheduled on the asset run. So it never ends and never fails: a poll that
cannot read AEP is logged and made again at the next interval. The watermark (``wait/watermark.py``)
decides what is new; where Airflow keeps a state store for the watched asset (3.3 and later) the
watermark is written there once the poll's events have left, so a new triggerer resumes from it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from airflow.providers.common.compat.triggers import BaseEventTrigger
from airflow.triggers.base import TriggerEvent
from pydantic import JsonValue, ValidationError

from airflow_provider_aep.client.settings import DEFAULT_MAX_ITEMS_PER_POLL
from airflow_provider_aep.exceptions import AepConfigError, AepNotFoundError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.identifiers import shown
from airflow_provider_aep.scrubbing import describe
from airflow_provider_aep.wait.options import WaitOptions
from airflow_provider_aep.wait.schedule import first_pause
from airflow_provider_aep.wait.watermark import Sighting, Watermark

# A watcher polls less often than a task's wait: nobody is blocked on it, and each poll is a listing.
DEFAULT_WATCH_INTERVAL = 60.0
# How far back a watcher looks: on its first poll, and for an item still being written.
DEFAULT_LOOK_BACK = timedelta(hours=6)
# Seconds between yielding a poll's events and writing the watermark: the triggerer stores events
# in its next exchange with its supervisor, about a second later. Written earlier, a triggerer
# killed in between would lose those events; later widens the stretch in which one repeats them.
# Airflow gives a trigger no word of when its events are stored, so this is a margin, not a proof.
STATE_SETTLE_SECONDS = 3.0
# Items seen being written are looked up one by one once a listing has moved past them: at most
# this many requests a poll, the oldest first.
MAX_LOOKUPS_PER_POLL = 20
# Below this a watcher costs AEP and the triggerer more than knowing of a batch sooner is worth.
MIN_WATCH_INTERVAL = 1.0
MAX_LOOK_BACK = timedelta(days=7)
MAX_ITEMS_PER_POLL = 10_000
LOOK_BACK_POLLS = 10


@dataclass(frozen=True)
class Look:
    """One poll's findings: what the listing showed, how far it is whole (``Watermark.advance``), each item's event."""

    sightings: Sequence[Sighting]
    read_until_ms: int | None
    payloads: Mapping[str, Mapping[str, JsonValue]]


class WatchingTrigger(BaseEventTrigger):
    """Polls a listing every ``poll_interval`` seconds and yields one event per item that became ready.

    :param options: the connection and request options (``WaitOptions``), or their JSON form.
    :param poll_interval: seconds between two polls.
    :param look_back_seconds: how far back a poll lists: the first poll reports what became ready
        that long ago at most, and an item still being written after that long is given up.
    :param max_items_per_poll: the most items one poll reads (the listing's pages are bounded by it).
    """

    item_kind = "item"  # what one event reports, for log lines

    def __init__(
        self,
        options: WaitOptions | Mapping[str, Any] | None = None,
        poll_interval: float = DEFAULT_WATCH_INTERVAL,
        look_back_seconds: float = DEFAULT_LOOK_BACK.total_seconds(),
        max_items_per_poll: int = DEFAULT_MAX_ITEMS_PER_POLL,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.options = WaitOptions() if options is None else WaitOptions.of(options)
        self.poll_interval = poll_interval
        self.look_back_seconds = look_back_seconds
        self.max_items_per_poll = max_items_per_poll
        self._store_warned = False
        self._store_unusable = False
        self._check_bounds()

    def _check_bounds(self) -> None:
        """Bounds out of range fail where the watcher is declared, when the DAG is parsed."""
        subject = f"Watching {self._what()}"
        for name, value, low, high in (
            ("poll_interval", self.poll_interval, MIN_WATCH_INTERVAL, math.inf),
            ("look_back_seconds", self.look_back_seconds, 1.0, MAX_LOOK_BACK.total_seconds()),
            ("max_items_per_poll", self.max_items_per_poll, 1, MAX_ITEMS_PER_POLL),
        ):
            whole = name != "max_items_per_poll" or isinstance(value, int)
            if isinstance(value, bool) or not isinstance(value, int | float) or not whole or not low <= value <= high:
                raise AepConfigError(f"{subject}: {name} must be from {low:g} to {high:g}, got {shown(value)}")
        # A batch made and finished between two polls must still be in the next listing, with
        # room for polls that fail in a row.
        if self.look_back_seconds < LOOK_BACK_POLLS * self.poll_interval:
            raise AepConfigError(
                f"{subject}: look_back_seconds ({self.look_back_seconds:g}) must be at least {LOOK_BACK_POLLS} "
                f"poll intervals ({LOOK_BACK_POLLS * self.poll_interval:g} s)"
            )

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Deterministic kwargs: Airflow identifies a watcher by them, so DAGs sharing one asset share one poll."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                **self._subject_kwargs(),
                "options": self.options.to_json(),
                "poll_interval": self.poll_interval,
                "look_back_seconds": self.look_back_seconds,
                "max_items_per_poll": self.max_items_per_poll,
            },
        )

    def _subject_kwargs(self) -> dict[str, Any]:
        """What the subclass watches, as JSON keyword arguments of its constructor."""
        raise NotImplementedError

    def _what(self) -> str:
        """What is watched, for log lines and errors: ``new batches in dataset 5c8c...``."""
        raise NotImplementedError

    async def _look(self, hook: AdobeExperiencePlatformHook, since_ms: int) -> Look:
        """One poll: the items created after ``since_ms``, and the event payload of each."""
        raise NotImplementedError

    async def _fetch_one(self, hook: AdobeExperiencePlatformHook, key: str) -> Any:
        """One item by id, for ``_look_up``; ``AepNotFoundError`` when it is gone."""
        raise NotImplementedError

    def _seen(self, records: Sequence[Any], read_until_ms: int | None) -> Look:
        """What a listing or the look-ups found: each record's sighting and event payload."""
        raise NotImplementedError

    async def _look_up(self, hook: AdobeExperiencePlatformHook, ids: Sequence[str]) -> Look:
        """Items seen being written that the listing has moved past, one request each."""
        found, gone = [], []
        for key in ids:
            try:
                found.append(await self._fetch_one(hook, key))
            except AepNotFoundError:  # deleted while it was being written: it will never be ready
                gone.append(Sighting(key, None, "failed"))
        look = self._seen(found, None)
        return Look([*look.sightings, *gone], None, look.payloads)

    async def _enrich(self, hook: AdobeExperiencePlatformHook, payloads: dict[str, dict[str, JsonValue]]) -> None:
        """A last look, only when a poll found something new, for what its events should also carry."""

    def _state_key(self) -> str:
        """One key per watcher kind and dataset: two watchers on one asset keep their own marks."""
        return f"aep_watermark:{type(self).__name__}:{self._subject_kwargs()['dataset_id']}"

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Yields events for as long as the triggerer runs it; a failed poll is logged, never the end."""
        hook = self.options.hook()
        watermark = await self._load()
        look_back_ms = int(self.look_back_seconds * 1000)
        async with hook.wait_scope(None):
            await asyncio.sleep(first_pause(None, self.poll_interval))
            while True:
                settled = set(watermark.reported)
                now_ms = int(time.time() * 1000)
                try:
                    fresh, payloads = await self._poll(hook, watermark, now_ms, look_back_ms)
                except Exception as error:  # a watcher that stopped would stop its DAGs without a word
                    self.log.warning(
                        "Watching %s: this poll failed (%s); polling again.", self._what(), describe(error)
                    )
                    await asyncio.sleep(self.poll_interval)
                    continue
                for item in fresh:
                    self.log.info("Watching %s: reporting %s %s.", self._what(), self.item_kind, item)
                    yield TriggerEvent(payloads[item])  # type: ignore[no-untyped-call]
                pause = self.poll_interval
                # Only what settled is worth a write: a saved mark that lags behind is listed from
                # again after a restart, and what it holds since then is in the saved ids.
                if set(watermark.reported) - settled:
                    await asyncio.sleep(STATE_SETTLE_SECONDS)
                    await self._save(watermark)
                    pause = max(pause - STATE_SETTLE_SECONDS, 0.0)
                await asyncio.sleep(pause)

    async def _poll(
        self, hook: AdobeExperiencePlatformHook, watermark: Watermark, now_ms: int, look_back_ms: int
    ) -> tuple[list[str], dict[str, dict[str, JsonValue]]]:
        """The listing, the overdue items looked up, the watermark moved: the ids to report and their events."""
        start = watermark.listing_start(now_ms, look_back_ms)
        look = await self._look(hook, start)
        listed = {item.id for item in look.sightings}
        overdue = [key for key in watermark.overdue(start, MAX_LOOKUPS_PER_POLL) if key not in listed]
        sightings, found = list(look.sightings), dict(look.payloads)
        if overdue:
            looked_up = await self._look_up(hook, overdue)
            sightings += looked_up.sightings
            found.update(looked_up.payloads)
        fresh = watermark.advance(sightings, read_until_ms=look.read_until_ms, now_ms=now_ms, look_back_ms=look_back_ms)
        payloads = {item: dict(found[item]) for item in fresh}
        if payloads:
            try:
                await self._enrich(hook, payloads)
            except Exception as error:  # the items are news all the same; only the extra is missing
                self.log.info("Watching %s: events sent without the extra look (%s).", self._what(), describe(error))
        return fresh, payloads

    def _store(self) -> Any | None:
        """The watched asset's state store (Airflow 3.3+, in a triggerer); None keeps the watermark in memory."""
        return None if self._store_unusable else getattr(self, "asset_state_store", None)

    async def _load(self) -> Watermark:
        store = self._store()
        if store is None:
            return Watermark()
        try:
            saved = await store.aget(self._state_key())
        except Exception as error:  # several assets share this watcher, or the store is down
            self._store_unusable = True
            self._warn_store(f"its asset state store cannot be read ({describe(error)})")
            return Watermark()
        if saved is None:
            return Watermark()
        try:
            return Watermark.model_validate(saved)
        except ValidationError:
            self.log.warning(
                "Watching %s: the saved watermark is unreadable; starting from the look-back.", self._what()
            )
            return Watermark()

    async def _save(self, watermark: Watermark) -> None:
        store = self._store()
        if store is None:
            return
        try:
            await store.aset(self._state_key(), watermark.model_dump(mode="json"))
        except Exception as error:  # the events are out; a lost watermark only means a repeat after a restart
            self._warn_store(f"the watermark could not be saved ({describe(error)}); saving again at the next news")

    def _warn_store(self, reason: str) -> None:
        if not self._store_warned:
            self._store_warned = True
            self.log.warning(
                "Watching %s: %s. Until it is saved, a new triggerer reports again what the look-back holds.",
                self._what(),
                reason,
            )
