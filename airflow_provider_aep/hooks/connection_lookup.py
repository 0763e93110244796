"""Connection lookups shared by the triggers of one event loop.

A triggerer that starts, or a DAG that fans out, resumes thousands of export waits at once, and each
would look up the same connection: on Airflow 3 a round trip through the triggerer's supervisor,
plus parsing, validation and secret masking. Here the first lookup of a connection id in an event
loop serves every caller for ``REUSE_SECONDS``, and callers that ask while it runs wait for it
instead of starting their own. A failed lookup is not kept, so a fixed connection is seen at once.
A trigger keeps the settings it started with, as before; the reuse only spares the triggers that
start together the same lookup.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable

from airflow_provider_aep.client.settings import AepConnectionSettings

REUSE_SECONDS = 60.0

_Entry = tuple[float, "asyncio.Future[AepConnectionSettings]"]


class SharedLookups:
    """Per event loop: connection id -> (reusable until, the lookup, done or under way)."""

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Entry]] = (
            weakref.WeakKeyDictionary()
        )

    async def settings(
        self, conn_id: str, lookup: Callable[[], Awaitable[AepConnectionSettings]]
    ) -> AepConnectionSettings:
        """The connection's settings, looked up at most once per ``REUSE_SECONDS`` in this loop."""
        entries = self._by_loop.setdefault(asyncio.get_running_loop(), {})
        entry = entries.get(conn_id)
        if entry is None or entry[0] < time.monotonic():
            entry = entries[conn_id] = (time.monotonic() + REUSE_SECONDS, asyncio.ensure_future(lookup()))
        try:
            # Shielded: a caller that is cancelled must not cancel the lookup the others wait for.
            return await asyncio.shield(entry[1])
        except Exception:
            if entries.get(conn_id) is entry:
                del entries[conn_id]
            raise


shared_lookups = SharedLookups()
