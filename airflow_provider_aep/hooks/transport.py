"""Drivers that perform a flow's actions: the only code that differs between sync and async.

Each request runs under its total deadline (``deadline``), and its body is read as a stream that is
abandoned past the size cap, so neither a slow nor an endless response can outlast or outgrow it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from airflow_provider_aep.hooks.actions import Flow, Oversized, Reply, Send, Sleep, T
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
        elif isinstance(action, Sleep):
            time.sleep(action.seconds)
            outcome = None
        else:
            outcome = token(action.rejected)


async def run_async(flow: Flow[T], client: httpx.AsyncClient, token: Callable[[str | None], Awaitable[str]]) -> T:
    """The same flows for triggers, with I/O that never blocks the triggerer's shared event loop."""
    outcome: Any = None
    while True:
        try:
            action = flow.send(outcome)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if isinstance(action, Send):
            outcome = await _asend(client, action)
        elif isinstance(action, Sleep):
            await asyncio.sleep(action.seconds)
            outcome = None
        else:
            outcome = await token(action.rejected)


def _send(client: httpx.Client, send: Send) -> Reply | Oversized | httpx.RequestError:
    try:
        with request_deadline(send.timeout):
            response = client.send(send.request, stream=True)
            try:
                if _declared_too_long(response, send.max_bytes):
                    return Oversized(send.request, response.status_code, send.max_bytes)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > send.max_bytes:
                        return Oversized(send.request, response.status_code, send.max_bytes)
            finally:
                response.close()
    except httpx.RequestError as error:
        return error
    return Reply(send.request, response.status_code, response.headers, bytes(body))


async def _asend(client: httpx.AsyncClient, send: Send) -> Reply | Oversized | httpx.RequestError:
    try:
        with request_deadline(send.timeout):
            response = await client.send(send.request, stream=True)
            try:
                if _declared_too_long(response, send.max_bytes):
                    return Oversized(send.request, response.status_code, send.max_bytes)
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > send.max_bytes:
                        return Oversized(send.request, response.status_code, send.max_bytes)
            finally:
                await response.aclose()
    except httpx.RequestError as error:
        return error
    return Reply(send.request, response.status_code, response.headers, bytes(body))


def _declared_too_long(response: httpx.Response, max_bytes: int) -> bool:
    """A Content-Length over the cap: refused before a byte of the body is read."""
    declared = response.headers.get("content-length", "")
    return declared.isascii() and declared.isdigit() and int(declared) > max_bytes


def no_token(_: str | None) -> str:
    """For flows that must not authenticate (the token fetch itself): a token request there is a bug."""
    raise AssertionError("this flow sends no authenticated request")


async def ano_token(_: str | None) -> str:
    """``no_token`` for the async driver, which awaits its token source."""
    raise AssertionError("this flow sends no authenticated request")
