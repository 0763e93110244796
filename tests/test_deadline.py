"""The trigger's wait scope tells its own expiry apart from a TimeoutError raised inside it."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_aep.hooks.deadline import DeadlinePassed, async_deadline


def test_the_scope_ends_a_wait_that_outlasts_it() -> None:
    async def wait() -> None:
        async with async_deadline(0.05):
            await asyncio.sleep(5)

    with pytest.raises(DeadlinePassed):
        asyncio.run(asyncio.wait_for(wait(), timeout=2))


def test_a_timeout_error_from_inside_is_not_taken_for_the_deadline() -> None:
    async def wait() -> None:
        async with async_deadline(60):
            raise asyncio.TimeoutError("someone else's")

    with pytest.raises(asyncio.TimeoutError, match="someone else's"):
        asyncio.run(wait())


def test_no_deadline_sets_no_bound() -> None:
    async def wait() -> str:
        async with async_deadline(None):
            await asyncio.sleep(0.05)
        return "done"

    assert asyncio.run(wait()) == "done"
