"""HTTP clients shared by every hook in the process, so polls reuse open connections.

The sync client is one per process (recreated after a fork). Async clients belong to one event
loop: callers lease the loop's client, and the last lease to end closes it, so a triggerer's
waits share one connection pool and TLS context while any of them runs.

Both run on network backends that bound every socket operation by the request's total deadline
(see ``deadline``), so no server, however slow, holds a request or a connection past it.
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
from airflow_provider_aep.hooks.deadline import AsyncDeadlineBackend, DeadlineBackend, time_left

# Requests in flight at once per event loop and server. httpcore's pool rescans every connection
# for every queued request, so with hundreds of triggers polling together its CPU cost grows
# quadratically; waiting on a semaphore instead costs O(1). Measured (benchmarks/): CPU per request
# is lowest at about 8 in flight, which still carries ~80 polls/s at 100 ms API latency (2,400
# waits polled every 30 s by one triggerer).
MAX_IN_FLIGHT = 8
# The gate bounds connections per server; the pool itself sets no total, which would be shared by
# every server and let one that stalls take all of it. Idle connections: a few servers' worth.
_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=4 * MAX_IN_FLIGHT, keepalive_expiry=60)
_HEADERS = {"User-Agent": USER_AGENT}


class _SlotReleasingStream(httpx.AsyncByteStream):
    """A response body that gives its in-flight slot back when it is closed, read or not."""

    def __init__(self, stream: httpx.AsyncByteStream, slot: asyncio.Semaphore) -> None:
        self._stream = stream
        self._slot: asyncio.Semaphore | None = slot

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        if self._slot is not None:
            self._slot.release()
            self._slot = None
        await self._stream.aclose()


class _GatedTransport(httpx.AsyncBaseTransport):
    """Lets at most ``MAX_IN_FLIGHT`` requests per server into the connection pool.

    The rest wait outside it, within their own deadline. Per server, so that a stalling gateway used
    by one connection cannot hold the slots that waits on another gateway need.
    """

    def __init__(self) -> None:
        self._transport = httpx.AsyncHTTPTransport(limits=_LIMITS)
        # httpx takes no network backend argument; its pool is where httpcore looks for one.
        self._transport._pool._network_backend = AsyncDeadlineBackend()
        self._gates: dict[tuple[bytes, bytes, int | None], asyncio.Semaphore] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        gate = self._gates.setdefault((url.raw_scheme, url.raw_host, url.port), asyncio.Semaphore(MAX_IN_FLIGHT))
        if gate.locked():
            try:
                await asyncio.wait_for(gate.acquire(), time_left(None, httpx.PoolTimeout))
            except asyncio.TimeoutError:
                raise httpx.PoolTimeout("no in-flight slot before the request's deadline", request=request) from None
        else:
            await gate.acquire()
        try:
            response = await self._transport.handle_async_request(request)
        except BaseException:
            gate.release()
            raise
        response.stream = _SlotReleasingStream(response.stream, gate)  # type: ignore[arg-type]
        return response

    async def aclose(self) -> None:
        await self._transport.aclose()


def _sync_transport() -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport(limits=_LIMITS)
    transport._pool._network_backend = DeadlineBackend()
    return transport


class SyncClientPool:
    """One sync client per process, so that every sync hook call reuses the same open connections."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._pid = 0

    def client(self) -> httpx.Client:
        """Made anew when the pid changes: a forked child must not use the sockets its parent holds."""
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                self._client = httpx.Client(transport=_sync_transport(), headers=_HEADERS)
                self._pid = os.getpid()
            return self._client


@dataclass
class _Lease:
    client: httpx.AsyncClient
    holders: int = 0


class AsyncClientPool:
    """Async clients by event loop, since a client and its connections belong to the loop that made them."""

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Lease] = weakref.WeakKeyDictionary()
        self.clients_created = 0

    @asynccontextmanager
    async def lease(self) -> AsyncIterator[httpx.AsyncClient]:
        """Share the loop's client while anyone holds it; the last to leave closes it, so none is leaked."""
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
        """Lets tests check that the last lease really closed its loop's client."""
        return len(self._by_loop)


sync_clients = SyncClientPool()
async_clients = AsyncClientPool()
