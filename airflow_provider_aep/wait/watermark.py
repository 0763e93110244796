"""What a watcher has reported, and where its next listing starts: the rules that keep it exact.

A watermark on creation time alone would skip an item that was still being written when a listing
passed its creation time and became ready after. So the mark stops at the oldest item still open,
and the ids reported since then are kept, so that reading the same stretch again reports nothing
twice. Both fit in a small JSON value, which is what a triggerer restart keeps (Airflow 3.3's asset
state store), and nothing older than the look-back is ever listed or kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# A listing read to its end moves the mark to "now" by this machine's clock, less this margin: the
# clocks of Platform's writers differ from it. The ids kept for that stretch stop a second report.
OVERLAP_MS = 60_000

State = Literal["ready", "failed", "open"]


@dataclass(frozen=True)
class Sighting:
    """One item as a listing showed it: ready (report it), failed (never will be), or still open."""

    id: str
    created_ms: int | None
    state: State


class Watermark(BaseModel):
    """Where a watcher stands: what its next listing asks for, what it reported, what it waits for.

    ``listed_after_ms``: the next listing asks for items created after it; every item created
    before was reported, has failed, or is in ``waiting``. None before the first read.
    ``reported``: the ids settled since ``listed_after_ms``, with their creation times.
    ``waiting``: items seen still being written, with their creation times: looked up one by one
    once the listing has moved past them, so that one slow item never holds the listing back.
    """

    model_config = ConfigDict(extra="forbid")

    listed_after_ms: int | None = None
    reported: dict[str, int] = Field(default_factory=dict)
    waiting: dict[str, int] = Field(default_factory=dict)

    def listing_start(self, now_ms: int, look_back_ms: int) -> int:
        """Where the next listing starts: at the mark, and never further back than the look-back."""
        floor = now_ms - look_back_ms
        return floor if self.listed_after_ms is None else max(self.listed_after_ms, floor)

    def overdue(self, listing_start: int, limit: int) -> list[str]:
        """The waiting items a listing from ``listing_start`` no longer shows, oldest first, at most ``limit``."""
        behind = sorted((created, key) for key, created in self.waiting.items() if created <= listing_start)
        return [key for _, key in behind[:limit]]

    def advance(
        self, sightings: Sequence[Sighting], *, read_until_ms: int | None, now_ms: int, look_back_ms: int
    ) -> list[str]:
        """The ids that became ready since the last read, each once; the mark moves as far as is safe.

        ``sightings``: one listing from ``listing_start``, and the overdue items looked up.
        ``read_until_ms``: when the listing was cut at its bound, it holds every item created from
        its start up to this time (by Platform's clock); None when it was read to its end.
        """
        start = self.listing_start(now_ms, look_back_ms)
        fresh = [item.id for item in sightings if item.state == "ready" and item.id not in self.reported]
        for item in sightings:
            # A time from the server is clamped to now: a batch dated in the future must not move
            # the mark past everything written until then.
            created = now_ms if item.created_ms is None else min(item.created_ms, now_ms)
            if item.state == "open":
                self.waiting[item.id] = created
            else:
                self.waiting.pop(item.id, None)
                self.reported.setdefault(item.id, created)
        # "Created after": one millisecond before what must be listed again. A cut listing is read
        # again from its newest time, for the items it cut that share it; unless it held nothing
        # else, which would read the same page for ever.
        if read_until_ms is None:
            bound = now_ms - OVERLAP_MS
        else:
            cut_at = min(read_until_ms, now_ms)
            only_ties = all(item.created_ms == read_until_ms for item in sightings if item.created_ms is not None)
            bound = cut_at if only_ties else cut_at - 1
        self.listed_after_ms = max(bound, start)
        self.reported = {key: created for key, created in self.reported.items() if created > self.listed_after_ms}
        # Still being written after the look-back: given up, as the look-back says.
        floor = now_ms - look_back_ms
        self.waiting = {key: created for key, created in self.waiting.items() if created >= floor}
        return fresh
