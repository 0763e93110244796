"""One deadline for the whole of a request, from the wait for a connection to the body's last byte.

It covers the wait for a connection, connect, TLS, send, headers and every byte of the body.
Per-operation timeouts are not enough: a server that drips a byte a second keeps a request alive
indefinitely under any of them.

Sync requests (httpx): the driver sets the request's deadline in a context variable, and the
network streams of the shared client shorten every socket operation's timeout to what is left of
it; a context variable, so that each thread has its own and nothing is created per request.
Async requests (aiohttp) carry aiohttp's own ``total`` timeout, which covers the same span (see
``transport``); ``async_deadline`` is the scope a trigger's whole wait runs in.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore

if sys.version_info >= (3, 11):
    from asyncio import timeout as _async_timeout
else:  # aiohttp brings async-timeout along on Python 3.10
    from async_timeout import timeout as _async_timeout

_deadline: ContextVar[float | None] = ContextVar("aep_request_deadline", default=None)
READ_BYTES = 1024 * 1024

SocketOptions = Iterable[Any] | None


@contextmanager
def request_deadline(seconds: float) -> Iterator[None]:
    """Requests sent inside the block end within ``seconds`` from now, whatever the server does."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


class DeadlinePassed(Exception):
    """An ``async_deadline`` scope ran out; unlike a ``TimeoutError``, nothing inside can raise it."""


@asynccontextmanager
async def async_deadline(seconds: float | None) -> AsyncIterator[None]:
    """Awaits inside the block end within ``seconds`` (None: no bound), raising ``DeadlinePassed``.

    A scope, not ``asyncio.wait_for``: it wraps the running task instead of starting one per call.
    Its own expiry is told apart from a ``TimeoutError`` raised inside, which passes through as is.
    """
    scope = _async_timeout(seconds)
    try:
        async with scope:
            yield
    except asyncio.TimeoutError:
        # asyncio's scope has expired(), async_timeout's (Python 3.10) an expired property.
        expired = scope.expired
        if expired() if callable(expired) else expired:
            raise DeadlinePassed(f"the {seconds:g} s deadline passed") from None
        raise


def time_left(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` shortened to the current request's deadline; raises ``expired`` once it passed."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise expired("the request's total deadline passed")
    return remaining if timeout is None else min(timeout, remaining)


class _Stream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        # httpcore asks for 64 KiB at a time; taking what the socket holds, up to 1 MiB, spares a
        # download of a gigabyte most of its per-read work. A recv returns what is there, so
        # small answers are read as before.
        return self._stream.read(max(max_bytes, READ_BYTES), time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        timeout = time_left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's sync backend, every socket operation bounded by the request's deadline."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: SocketOptions = None,
    ) -> httpcore.NetworkStream:
        """Connect within what is left of the deadline, and hold the stream's reads and writes to it."""
        timeout = time_left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._backend.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: SocketOptions = None
    ) -> httpcore.NetworkStream:
        """Bounded like ``connect_tcp``, so that no way of connecting escapes the deadline."""
        timeout = time_left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        """Part of httpcore's backend interface (a pause between connect retries); passed through."""
        self._backend.sleep(seconds)
