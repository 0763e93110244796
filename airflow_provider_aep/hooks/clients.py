"""HTTP clients shared by every hook in the process, so polls reuse open connections.

The sync client (httpx) is one per process, recreated after a fork. Async sessions (aiohttp, the
cheapest request path measured for a triggerer; see docs/benchmarks.md) belong to one event loop:
callers lease the loop's session, and the last lease to end closes it, so a triggerer's waits share
one connection pool and TLS context while any of them runs.

The sync client's network backend bounds every socket operation by the request's total deadline
(see ``deadline``); each async request carries aiohttp's ``total`` timeout (see ``transport``).
Either way no server, however slow, holds a request or a connection past its deadline.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from dataclasses import dataclass

import aiohttp
import httpx

from airflow_provider_aep import USER_AGENT
from airflow_provider_aep.hooks.deadline import DeadlineBackend

# Requests in flight at once per event loop and server; the rest queue in the connector, within
# their own deadline. Per server, so a stalling gateway cannot take the connections that waits on
# another need. At 100 ms of API latency, 32 carry about 320 polls/s: 10,000 waits polled every 30 s.
MAX_IN_FLIGHT = 32
KEEPALIVE_SECONDS = 60
_LIMITS = httpx.Limits(
    max_connections=None, max_keepalive_connections=MAX_IN_FLIGHT, keepalive_expiry=KEEPALIVE_SECONDS
)
_HEADERS = {"User-Agent": USER_AGENT}


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
    session: aiohttp.ClientSession
    holders: int = 0


def _async_session() -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=0,
        limit_per_host=MAX_IN_FLIGHT,
        keepalive_timeout=KEEPALIVE_SECONDS,
        # The CA bundle httpx trusts, so that the sync and async paths accept the same servers.
        ssl=httpx.create_ssl_context(),
    )
    return aiohttp.ClientSession(
        connector=connector,
        headers=_HEADERS,
        # Platform sets no cookies the provider needs; keeping none saves work on every response.
        cookie_jar=aiohttp.DummyCookieJar(),
        # Every request carries its own deadline (the driver's); none is inherited from the session.
        timeout=aiohttp.ClientTimeout(total=None),
    )


class AsyncClientPool:
    """Async sessions by event loop, since a session and its connections belong to the loop that made them."""

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Lease] = weakref.WeakKeyDictionary()
        self.clients_created = 0

    def lease(self) -> _LeaseScope:
        """Share the loop's session while anyone holds it; the last to leave closes it, so none is leaked."""
        return _LeaseScope(self)

    def open_clients(self) -> int:
        """Lets tests check that the last lease really closed its loop's session."""
        return len(self._by_loop)


class _LeaseScope:
    """``async with`` one lease; a class rather than a generator, as every poll takes one."""

    def __init__(self, pool: AsyncClientPool) -> None:
        self._pool = pool

    async def __aenter__(self) -> aiohttp.ClientSession:
        self._loop = asyncio.get_running_loop()
        by_loop = self._pool._by_loop
        lease = by_loop.get(self._loop)
        if lease is None:
            lease = by_loop[self._loop] = _Lease(_async_session())
            self._pool.clients_created += 1
        lease.holders += 1
        self._lease = lease
        return lease.session

    async def __aexit__(self, *_: object) -> None:
        lease = self._lease
        lease.holders -= 1
        if lease.holders == 0 and self._pool._by_loop.get(self._loop) is lease:
            del self._pool._by_loop[self._loop]
            await lease.session.close()


sync_clients = SyncClientPool()
async_clients = AsyncClientPool()
