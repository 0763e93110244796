"""Each request ends at its total deadline, whatever the server does; a wait ends at its own."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from airflow_provider_aep.client.async_driver import WaitScope
from airflow_provider_aep.client.calls import send
from airflow_provider_aep.client.flows import Flow, Oversized, Reply, Request
from airflow_provider_aep.client.sync_driver import no_token, run_sync, sync_clients

DRIP_SECONDS = 30.0  # how long the server below would keep one response going


@pytest.fixture
def dripping_server() -> Iterator[str]:
    """Answers every request with headers at once, then one body byte every 50 ms for 30 s."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def drip(connection: socket.socket) -> None:
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
            ends = time.monotonic() + DRIP_SECONDS
            while not stop.is_set() and time.monotonic() < ends:
                try:
                    connection.sendall(b" ")
                except OSError:
                    return  # the client hung up: what the deadline is for
                stop.wait(0.05)

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=drip, args=(connection,), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        server.join()
        listener.close()


def test_the_sync_deadline_cuts_a_dripping_response_at_the_request_timeout(dripping_server: str) -> None:
    """Every byte arrives well inside any per-read timeout; only the total deadline can end it."""

    def get() -> Flow[Reply | Oversized | httpx.RequestError]:
        return (yield from send(Request("GET", f"{dripping_server}/drip", "/drip", {}), 0.5, 1 << 20))

    started = time.monotonic()
    outcome = run_sync(get(), sync_clients.client(), no_token)
    elapsed = time.monotonic() - started
    assert isinstance(outcome, httpx.ReadTimeout), outcome
    assert elapsed < DRIP_SECONDS / 3  # ended by the deadline, long before the server stopped


def test_the_wait_scope_ends_a_wait_that_outlasts_it() -> None:
    async def wait() -> bool:
        async with WaitScope(0.05) as scope:
            await asyncio.sleep(5)
        return scope.expired

    assert asyncio.run(asyncio.wait_for(wait(), timeout=2)) is True


def test_a_timeout_error_from_inside_is_not_taken_for_the_deadline() -> None:
    async def wait() -> None:
        async with WaitScope(60):
            raise asyncio.TimeoutError("someone else's")

    with pytest.raises(asyncio.TimeoutError, match="someone else's"):
        asyncio.run(wait())


def test_no_deadline_sets_no_bound_and_the_scope_gives_its_session_back() -> None:
    from airflow_provider_aep.client.async_driver import async_clients

    async def wait() -> tuple[bool, int]:
        async with WaitScope(None) as scope:
            await asyncio.sleep(0.05)
            held = async_clients.open_clients()
        return scope.expired, held

    assert asyncio.run(wait()) == (False, 1)
    assert async_clients.open_clients() == 0
