"""Every hostile server behaviour in the catalogue ends as the provider promises, within its bounds,
and leaves no secret in an error, an event or a DEBUG log line."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote, quote_plus

import pytest

from airflow_provider_aep.client.responses import retry_after
from airflow_provider_aep.client.settings import RetryPolicy
from tests.reliability.hostile_api import (
    CASES,
    Case,
    Via,
    dripping_gateway_beside_a_healthy_one,
    observe,
    runs,
    threads_behind_a_slow_ims,
)
from tests.reliability.hostile_server import CLIENT_SECRET


def forms(secret: str) -> set[str]:
    """The ways a secret may show up in text: as is, URL- or JSON-encoded, escaped, or all but its
    last two characters (cut off by a shortened message)."""
    whole = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1], ascii(secret)[1:-1]}
    return whole | {form[:-2] for form in whole}


def test_catalogue_covers_every_area() -> None:
    assert {case.area for case in CASES} == {"identifiers", "bodies", "time", "tokens", "secrets", "pagination"}
    assert {via for _, via in runs()} == {"sync", "async", "trigger"}


@pytest.mark.parametrize(("case", "via"), runs(), ids=[f"{case.behaviour} [{via}]" for case, via in runs()])
def test_hostile_server(
    case: Case,
    via: Via,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("AIRFLOW_CONN_AEP_HOSTILE", "{}")  # undone after the test
    seen = observe(case, via)

    if via == "trigger":
        assert seen.error is None, seen.error  # run() never raises ...
        assert seen.event is not None  # ... and sends exactly one event (observe checks the count)
        assert seen.event["status"] == case.event, seen.text
        if case.event == "error":
            assert case.message in seen.event["message"]
    elif case.raises is None:
        assert seen.error is None, seen.text
    else:
        assert isinstance(seen.error, case.raises), seen.text
        assert case.message in str(seen.error)
        if case.platform_requests is not None:
            assert seen.platform_requests == case.platform_requests
    assert seen.platform_requests <= case.max_platform_requests
    assert seen.token_requests <= case.max_token_requests
    assert seen.seconds < case.max_seconds
    if case.max_peak_mib is not None:
        assert seen.peak_mib is not None
        assert seen.peak_mib < case.max_peak_mib

    captured = capfd.readouterr()
    shown = "\n".join((seen.text, json.dumps(seen.event), caplog.text, captured.out, captured.err))
    for secret in (CLIENT_SECRET, *seen.issued_tokens, *case.secrets):
        assert not [form for form in forms(secret) if form in shown], f"{secret[:8]}... shown"


def test_http_date_retry_after_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    (case,) = [case for case in CASES if "HTTP-date" in case.behaviour]
    monkeypatch.setenv("AIRFLOW_CONN_AEP_HOSTILE", "{}")
    seen = observe(case, "sync")
    assert seen.returned == "SUCCEEDED"
    assert seen.seconds >= 1.0  # the date is 2 s ahead at one-second resolution; backoff alone takes 0.01 s


def test_retry_after_values() -> None:
    assert retry_after("12") == 12.0
    assert retry_after("Wed, 21 Oct 2099 07:28:00 GMT") > 86400  # type: ignore[operator]
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # already past
    assert [retry_after(value) for value in ("nan", "inf", "-3", "soon", None)] == [None] * 5
    assert RetryPolicy(max_retry_after=60).delay(1, retry_after("3000")) == 60


def test_a_dripping_gateway_does_not_starve_waits_on_another(monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight requests stuck on one gateway fill its in-flight slots for their whole deadline; a poll
    of another gateway, in the same event loop and client, is answered at once all the same."""
    monkeypatch.setenv("AIRFLOW_CONN_AEP_DRIPPING", "{}")  # undone after the test
    monkeypatch.setenv("AIRFLOW_CONN_AEP_HEALTHY", "{}")
    seen = dripping_gateway_beside_a_healthy_one()
    assert seen.answered_after < 1.0
    assert seen.dripping_requests == 8
    assert all("deadline" in outcome for outcome in seen.stuck_outcomes)  # each ended at its deadline


def test_threads_share_one_token_fetch_even_when_it_expires_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AEP_HOSTILE", "{}")
    statuses, token_requests = threads_behind_a_slow_ims()
    assert statuses == ["PROCESSING"] * 20
    assert token_requests == 1
