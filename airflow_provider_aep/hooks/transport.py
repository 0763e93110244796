"""Drivers that perform a flow's actions: the only code that differs between sync and async.

Flows build ``Request`` objects and read ``Reply``; the sync driver sends them with httpx, the
async one with aiohttp, the cheaper path for a triggerer's thousands of polls. Each request runs
under its total deadline, and its body is read as a stream that is abandoned past the size cap, so
neither a slow nor an endless response can outlast or outgrow it. The sync deadline bounds every
socket operation (``deadline``); the async one is aiohttp's own ``total`` timeout, which runs from
the wait for a pooled connection to the body's last byte, so that no second timer is set per
request. aiohttp's failures become the httpx errors they correspond to, so the rest of the provider
sees one set.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from functools import lru_cache
from typing import Any

import aiohttp
import httpx
from yarl import URL

from airflow_provider_aep.hooks.actions import Flow, Oversized, Reply, Request, Send, Sleep, Stream, Streamed, T
from airflow_provider_aep.hooks.deadline import request_deadline


def run_sync(flow: Flow[T], client: httpx.Client, token: Callable[[str | None], str]) -> T:
    """Blocking I/O for workers; every decision stays in the flow, so sync and async cannot drift."""
    outcome: Any = None
    while True:
        try:
            action = flow.send(outcome)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if isinstance(action, Send):
            outcome = _send(client, action)
        elif isinstance(action, Stream):
            outcome = _stream(client, action)
        elif isinstance(action, Sleep):
            time.sleep(action.seconds)
            outcome = None
        else:
            outcome = token(action.rejected)


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


def _send(client: httpx.Client, send: Send) -> Reply | Oversized | httpx.RequestError:
    request = send.request
    try:
        with request_deadline(send.timeout):
            response = client.send(_httpx_request(request, send.timeout), stream=True)
            try:
                declared = _declared_length(response.headers)
                if declared is not None and declared > send.max_bytes:
                    return Oversized(request, response.status_code, send.max_bytes)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > send.max_bytes:
                        return Oversized(request, response.status_code, send.max_bytes)
            finally:
                response.close()
    except httpx.RequestError as error:
        return error
    return Reply(request, response.status_code, response.headers, bytes(body))


def _stream(client: httpx.Client, stream: Stream) -> Streamed:
    """The download counterpart of ``_send``: the body goes to the sink in chunks, never held whole."""
    request = stream.request
    written = 0
    try:
        with request_deadline(stream.timeout):
            response = client.send(_httpx_request(request, stream.idle_timeout), stream=True)
            try:
                if not response.is_success:
                    content = bytearray()
                    for chunk in response.iter_bytes():
                        content += chunk
                        if len(content) > stream.max_bytes:
                            break
                    return Streamed(request, response.status_code, response.headers, 0, content=bytes(content))
                skip = stream.skip(response.status_code, response.headers)
                if skip is None:
                    return Streamed(request, response.status_code, response.headers, 0, refused=True)
                for chunk in response.iter_raw():
                    if skip:
                        dropped = min(skip, len(chunk))
                        chunk, skip = chunk[dropped:], skip - dropped
                    if stream.room is not None and written + len(chunk) > stream.room:
                        stream.sink(chunk[: stream.room - written])
                        written = stream.room
                        return Streamed(request, response.status_code, response.headers, written, overflowed=True)
                    if chunk:
                        stream.sink(chunk)
                        written += len(chunk)
            finally:
                response.close()
    except httpx.RequestError as error:
        return Streamed(request, None, {}, written, failure=error)
    return Streamed(request, response.status_code, response.headers, written)


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
            declared = _declared_length(response.headers)
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


def _httpx_request(request: Request, timeout: float) -> httpx.Request:
    """What httpx sends for a flow's request; ``timeout`` bounds each socket operation."""
    return httpx.Request(
        request.method,
        request.url,
        headers=request.headers,
        content=request.content,
        extensions={"timeout": _httpx_timeout(timeout)},
    )


@lru_cache(maxsize=16)
def _httpx_timeout(seconds: float) -> dict[str, float | None]:
    return httpx.Timeout(seconds).as_dict()


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


def _declared_length(headers: Mapping[str, str]) -> int | None:
    """The body's Content-Length, where the server gave a usable one; a longer body is refused unread."""
    declared = headers.get("content-length", "")
    return int(declared) if declared.isascii() and declared.isdigit() else None


def no_token(_: str | None) -> str:
    """For flows that must not authenticate (the token fetch itself): a token request there is a bug."""
    raise AssertionError("this flow sends no authenticated request")


async def ano_token(_: str | None) -> str:
    """``no_token`` for the async driver, which awaits its token source."""
    raise AssertionError("this flow sends no authenticated request")
