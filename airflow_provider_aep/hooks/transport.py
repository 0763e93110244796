"""Drivers that perform a flow's actions: the only code that differs between sync and async."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from airflow_provider_aep.hooks.actions import Flow, Send, Sleep, T


def run_sync(flow: Flow[T], client: httpx.Client, token: Callable[[str | None], str]) -> T:
    outcome: Any = None
    while True:
        try:
            action = flow.send(outcome)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if isinstance(action, Send):
            try:
                outcome = client.send(action.request)
            except httpx.TransportError as error:
                outcome = error
        elif isinstance(action, Sleep):
            time.sleep(action.seconds)
            outcome = None
        else:
            outcome = token(action.rejected)


async def run_async(flow: Flow[T], client: httpx.AsyncClient, token: Callable[[str | None], Awaitable[str]]) -> T:
    outcome: Any = None
    while True:
        try:
            action = flow.send(outcome)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if isinstance(action, Send):
            try:
                outcome = await client.send(action.request)
            except httpx.TransportError as error:
                outcome = error
        elif isinstance(action, Sleep):
            await asyncio.sleep(action.seconds)
            outcome = None
        else:
            outcome = await token(action.rejected)


def no_token(_: str | None) -> str:
    raise AssertionError("this flow sends no authenticated request")


async def ano_token(_: str | None) -> str:
    raise AssertionError("this flow sends no authenticated request")
