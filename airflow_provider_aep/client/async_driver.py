"""The async driver: performs a flow's actions with aiohttp, for triggers, on a shared event loop.

aiohttp is the cheapest request path measured for a triggerer (docs/benchmarks.md). Each request
carries aiohttp's own ``total`` timeout, which runs from the wait for a pooled connection to the
body's last byte, so that no second timer is set per request; each body is read as a stream that
is abandoned past the size cap. aiohttp's failures become the httpx errors they correspond to, so
that the flows decide "was it sent?" the same way on both drivers.

Sessions belong to one event loop: callers lease the loop's session, and the last lease to end
closes it, so a triggerer's waits share one connection pool and TLS context while any of them runs.
A whole wait runs in one ``WaitScope``: the lease and one deadline, not a timer per poll.
"""

from __future__ import annotations

import asyncio
import math
import sys
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import aiohttp
import httpx
from yarl import URL

from airflow_provider_aep.client.flows import Flow, Oversized, Reply, Send, Sleep, Stream, T
from airflow_provider_aep.client.responses import declared_length
from airflow_provider_aep.client.settings import CLIENT_HEADERS, KEEPALIVE_SECONDS, MAX_IN_FLIGHT

if sys.version_info >= (3, 11):
    from asyncio import timeout as _async_timeout
else:  # aiohttp brings async-timeout along on Python 3.10
    from async_timeout import timeout as _async_timeout


async def run_async(flow: Flow[T], client: aiohttp.ClientSession, token: Callable[[str | None], Awaitable[str]]) -> T:
    """The same flows for triggers, with I/O that never blocks the triggerer's shared event loop."""
    outcome: Any = None
    while True:
        try:
            action = flow.send(outcome)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if isinstance(action, Send):
            outcome = await _asend(client, action)
        elif isinstance(action, Stream):
            # Downloads write to files and object storage, which block: they belong in a worker.
            raise TypeError("downloads run through the sync driver, in a worker, never on an event loop")
        elif isinstance(action, Sleep):
            await asyncio.sleep(action.seconds)
            outcome = None
        else:
            outcome = await token(action.rejected)


async def _asend(session: aiohttp.ClientSession, send: Send) -> Reply | Oversized | httpx.RequestError:
    request = send.request
    try:
        async with session.request(
            request.method,
            _aiohttp_url(request.url),
            headers=request.headers,
            data=request.content,
            allow_redirects=False,
            timeout=_aiohttp_timeout(send.timeout),
        ) as response:
            declared = declared_length(response.headers)
            if declared is not None and declared > send.max_bytes:
                return Oversized(request, response.status, send.max_bytes)
            if declared is not None:
                # aiohttp's parser ends the body at its Content-Length, so one read is bounded by
                # the check above; it spares a trigger's every poll the chunk loop below.
                return Reply(request, response.status, response.headers, await response.read())
            body = bytearray()
            async for chunk in response.content.iter_any():
                body += chunk
                if len(body) > send.max_bytes:
                    return Oversized(request, response.status, send.max_bytes)
            return Reply(request, response.status, response.headers, bytes(body))
    except asyncio.TimeoutError:
        # Where it ran out is unknown, so the request may have reached the server.
        return httpx.ReadTimeout("the request's total deadline passed")
    except aiohttp.ClientConnectorError as error:  # no connection, so nothing was sent
        return httpx.ConnectError(str(error))
    except aiohttp.InvalidURL as error:
        return httpx.UnsupportedProtocol(str(error))
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as error:
        return httpx.RemoteProtocolError(str(error) or type(error).__name__)
    except aiohttp.ClientError as error:
        return httpx.ReadError(str(error) or type(error).__name__)


@lru_cache(maxsize=16)
def _aiohttp_timeout(seconds: float) -> aiohttp.ClientTimeout:
    """The whole request, pool wait to last byte, in ``seconds``: aiohttp's ``total``.

    Never rounded up to a whole second (aiohttp's ``ceil_threshold``), so the deadline is the
    one the caller asked for.
    """
    return aiohttp.ClientTimeout(total=seconds, ceil_threshold=math.inf)


@lru_cache(maxsize=256)
def _aiohttp_url(url: str) -> URL:
    """Flows encode their URLs, so they are not encoded twice; a trigger polls one URL throughout."""
    return URL(url, encoded=True)


async def ano_token(_: str | None) -> str:
    """For flows that must not authenticate (the token fetch itself): a token request there is a bug."""
    raise AssertionError("this flow sends no authenticated request")


# -- sessions, one per event loop, leased --------------------------------------------------------


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
        headers=CLIENT_HEADERS,
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


async_clients = AsyncClientPool()


class WaitScope:
    """A whole wait: the loop's session held throughout, and one deadline over every await inside.

    A scope, not ``asyncio.wait_for``: it wraps the running task instead of starting one per call,
    and a stalled API or a long ``Retry-After`` cannot delay its end. When the deadline passes the
    block is left quietly and ``expired`` is set; a ``TimeoutError`` raised inside by anything else
    passes through as it is.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.expired = False
        self._lease = async_clients.lease()

    async def __aenter__(self) -> WaitScope:
        await self._lease.__aenter__()
        try:
            self._timer = _async_timeout(self.seconds)
            await self._timer.__aenter__()
        except BaseException:
            await self._lease.__aexit__()
            raise
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> bool:
        try:
            try:
                await self._timer.__aexit__(kind, error, traceback)
            except asyncio.TimeoutError:
                # asyncio's scope has expired(), async_timeout's (Python 3.10) an expired property.
                expired = self._timer.expired
                if not (expired() if callable(expired) else expired):
                    raise
                self.expired = True
                return True
            return False
        finally:
            await self._lease.__aexit__()
