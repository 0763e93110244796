"""Connection lookups shared by the triggers of one event loop: once, not once per trigger."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_aep.client.settings import AepConnectionSettings
from airflow_provider_aep.exceptions import AepConfigError
from airflow_provider_aep.hooks import connection_lookup
from airflow_provider_aep.hooks.connection_lookup import SharedLookups

SETTINGS = AepConnectionSettings(
    conn_id="aep_default",
    gateway_url="https://platform.adobe.io",
    client_id="client",
    client_secret="secret",
    org_id="ORG@AdobeOrg",
    sandbox="prod",
    scopes="openid",
    ims_token_url="https://ims-na1.adobelogin.com/ims/token/v3",
)


class Lookup:
    """Counts lookups; each takes a little while, so that callers overlap."""

    def __init__(self, *outcomes: AepConnectionSettings | Exception) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    async def __call__(self) -> AepConnectionSettings:
        self.calls += 1
        await asyncio.sleep(0.01)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def test_callers_that_start_together_share_one_lookup() -> None:
    lookups, lookup = SharedLookups(), Lookup(SETTINGS)

    async def many() -> list[AepConnectionSettings]:
        return await asyncio.gather(*(lookups.settings("aep_default", lookup) for _ in range(500)))

    assert asyncio.run(many()) == [SETTINGS] * 500
    assert lookup.calls == 1


def test_each_event_loop_looks_up_for_itself() -> None:
    lookups, lookup = SharedLookups(), Lookup(SETTINGS)
    for _ in range(2):
        asyncio.run(lookups.settings("aep_default", lookup))
    assert lookup.calls == 2


def test_a_failed_lookup_is_not_kept() -> None:
    lookups = SharedLookups()
    lookup = Lookup(AepConfigError("Connection 'aep_default': field 'login' is required"), SETTINGS)

    async def twice() -> AepConnectionSettings:
        with pytest.raises(AepConfigError, match="field 'login'"):
            await lookups.settings("aep_default", lookup)
        return await lookups.settings("aep_default", lookup)  # the connection was fixed meanwhile

    assert asyncio.run(twice()) == SETTINGS
    assert lookup.calls == 2


def test_a_cancelled_caller_does_not_cancel_the_lookup_others_wait_for() -> None:
    lookups, lookup = SharedLookups(), Lookup(SETTINGS)

    async def scenario() -> AepConnectionSettings:
        first = asyncio.ensure_future(lookups.settings("aep_default", lookup))
        second = asyncio.ensure_future(lookups.settings("aep_default", lookup))
        await asyncio.sleep(0)
        first.cancel()
        return await second

    assert asyncio.run(scenario()) == SETTINGS
    assert lookup.calls == 1


def test_settings_are_looked_up_again_after_the_reuse_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection_lookup, "REUSE_SECONDS", 0.0)
    lookups, lookup = SharedLookups(), Lookup(SETTINGS)

    async def twice() -> None:
        await lookups.settings("aep_default", lookup)
        await asyncio.sleep(0.001)
        await lookups.settings("aep_default", lookup)

    asyncio.run(twice())
    assert lookup.calls == 2
