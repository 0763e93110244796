"""HTTP clients shared by every hook in the process, so polls reuse open connections.

The sync client is one per process (recreated after a fork). Async clients belong to one event
loop: callers lease the loop's client, and the last lease to end closes it, so a triggerer's
waits share one connection pool and TLS context while any of them runs.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from airflow_provider_aep import USER_AGENT

# Requests in flight at once per event loop. httpcore's pool rescans every connection for every
# queued request, so with hundreds of triggers polling together its CPU cost grows quadratically;
# waiting on a semaphore instead costs O(1). Measured (benchmarks/): CPU per request is lowest at
# about 8 in flight, which still carries ~80 polls/s at 100 ms API latency (2,400 waits polled
# every 30 s by one triggerer).
MAX_IN_FLIGHT = 8
_LIMITS = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT, keepalive_expiry=60)
_HEADERS = {"User-Agent": USER_AGENT}


class _GatedTransport(httpx.AsyncBaseTransport):
    """Lets at most ``MAX_IN_FLIGHT`` requests into the connection pool; the rest wait outside it."""

    def __init__(self) -> None:
        self._transport = httpx.AsyncHTTPTransport(limits=_LIMITS)
        self._gate = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        async with self._gate:
            response = await self._transport.handle_async_request(request)
            await response.aread()  # hold the slot until the connection is free again
            return response

    async def aclose(self) -> None:
        await self._transport.aclose()


class SyncClientPool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._pid = 0

    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                self._client = httpx.Client(limits=_LIMITS, headers=_HEADERS)
                self._pid = os.getpid()
            return self._client


@dataclass
class _Lease:
    client: httpx.AsyncClient
    holders: int = 0


class AsyncClientPool:
    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Lease] = weakref.WeakKeyDictionary()
        self.clients_created = 0

    @asynccontextmanager
    async def lease(self) -> AsyncIterator[httpx.AsyncClient]:
        loop = asyncio.get_running_loop()
        lease = self._by_loop.get(loop)
        if lease is None:
            lease = self._by_loop[loop] = _Lease(httpx.AsyncClient(transport=_GatedTransport(), headers=_HEADERS))
            self.clients_created += 1
        lease.holders += 1
        try:
            yield lease.client
        finally:
            lease.holders -= 1
            if lease.holders == 0 and self._by_loop.get(loop) is lease:
                del self._by_loop[loop]
                await lease.client.aclose()

    def open_clients(self) -> int:
        return len(self._by_loop)


sync_clients = SyncClientPool()
async_clients = AsyncClientPool()
