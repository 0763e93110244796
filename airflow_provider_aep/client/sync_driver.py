"""The sync driver: performs a flow's actions with httpx, for workers, each request under one deadline.

Flows build ``Request`` objects and read ``Reply``; this module sends them, reads each body as a
stream that is abandoned past the size cap, and ends every request at its total deadline: from the
wait for a pooled connection, through connect, TLS and send, to the body's last byte. Per-operation
timeouts are not enough, since a server that drips a byte a second keeps a request alive under any
of them. The deadline is a context variable (each thread has its own, nothing is made per request)
that the pool's network backend reads to shorten every socket operation to what is left of it.

The transport is this module's own, over httpcore's public ``ConnectionPool`` and
``NetworkBackend``, so no httpx upgrade can quietly drop the one bound on a sync request.
"""

from __future__ import annotations

import os
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, cast

import httpcore
import httpx

from airflow_provider_aep.client.flows import Flow, Oversized, Reply, Request, Send, Sleep, Stream, Streamed, T
from airflow_provider_aep.client.responses import declared_length, is_success
from airflow_provider_aep.client.settings import CLIENT_HEADERS, KEEPALIVE_SECONDS, MAX_IN_FLIGHT

_deadline: ContextVar[float | None] = ContextVar("aep_request_deadline", default=None)
READ_BYTES = 1024 * 1024

SocketOptions = Iterable[Any] | None


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


@contextmanager
def request_deadline(seconds: float) -> Iterator[None]:
    """Requests sent inside the block end within ``seconds`` from now, whatever the server does."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def _send(client: httpx.Client, send: Send) -> Reply | Oversized | httpx.RequestError:
    request = send.request
    try:
        with request_deadline(send.timeout):
            response = client.send(_httpx_request(request, send.timeout), stream=True)
            try:
                declared = declared_length(response.headers)
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
                if not is_success(response.status_code):
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


def no_token(_: str | None) -> str:
    """For flows that must not authenticate (the token fetch itself): a token request there is a bug."""
    raise AssertionError("this flow sends no authenticated request")


# -- the deadline, on every socket operation ---------------------------------------------------


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


# -- the transport and the process's client ----------------------------------------------------


def _as_httpx_error(error: Exception) -> httpx.TransportError:
    """The httpx error of the same name: httpx names its errors after httpcore's, one for one."""
    for kind in type(error).__mro__:
        mapped = getattr(httpx, kind.__name__, None)
        if isinstance(mapped, type) and issubclass(mapped, httpx.TransportError):
            return mapped(str(error))
    return httpx.TransportError(str(error))


_HTTPCORE_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.ProxyError,
    httpcore.UnsupportedProtocol,
)


class _Body(httpx.SyncByteStream):
    """A response body read from httpcore, its failures raised as httpx's."""

    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except _HTTPCORE_ERRORS as error:
            raise _as_httpx_error(error) from error

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class DeadlineTransport(httpx.BaseTransport):
    """httpx's transport interface over httpcore's pool, with the deadline-bound network backend."""

    def __init__(self) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=None,
            max_keepalive_connections=MAX_IN_FLIGHT,
            keepalive_expiry=KEEPALIVE_SECONDS,
            network_backend=DeadlineBackend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send through the pool; httpcore's failures come back as the httpx errors of the same name."""
        url = request.url
        outgoing = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = self._pool.handle_request(outgoing)
        except _HTTPCORE_ERRORS as error:
            raise _as_httpx_error(error) from error
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(cast(Iterable[bytes], response.stream)),  # a sync pool's body is never async
            extensions=response.extensions,
        )

    def close(self) -> None:
        """Closes the pool's connections."""
        self._pool.close()


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
                self._client = httpx.Client(transport=DeadlineTransport(), headers=CLIENT_HEADERS)
                self._pid = os.getpid()
            return self._client


sync_clients = SyncClientPool()
