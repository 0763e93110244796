"""One response handler reads every documented error shape; no secret ever reaches an error or a log."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from airflow_provider_aep.client.flows import Reply, Request
from airflow_provider_aep.client.responses import error_from_response, error_from_transport
from airflow_provider_aep.exceptions import AepApiError, AepNotFoundError, ExportJobNotFoundError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.simulator import Fault, Scenario, SimulatorServer
from tests.airflow_compat import redact
from tests.tokens import forget_tokens

from .conftest import EXPORT_REQUEST, FAST_RETRIES

REQUEST = Request(
    "GET",
    "https://platform.adobe.io/data/core/ups/export/jobs/7",
    "/data/core/ups/export/jobs/7",
    {"x-request-id": "rid-1"},
    request_id="rid-1",
)


def respond(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
    content = json.dumps(body).encode() if body is not None else b""
    return Reply(REQUEST, status, httpx.Headers(headers), content)


@pytest.mark.parametrize(
    ("response", "code", "message"),
    [
        (
            respond(401, {"error_code": "401013", "message": "Oauth token is not valid"}),
            "401013",
            "Oauth token is not valid",
        ),
        (respond(403, {"error_code": "403010", "message": "Missing header"}), "403010", "Missing header"),
        (
            respond(
                400, {"type": "https://ns.adobe.com/x", "title": "Bad Request", "status": 400, "detail": "no dataset"}
            ),
            None,
            "Bad Request: no dataset",
        ),
        (
            respond(
                400,
                {
                    "requestId": "srv-9",
                    "errors": [{"code": "UPS-1", "message": "bad"}],
                    "title": "Bad Request",
                    "status": 400,
                },
            ),
            None,
            "Bad Request: [UPS-1] bad",
        ),
        (
            respond(401, {"error": "invalid_client", "error_description": "invalid client_secret parameter"}),
            "invalid_client",
            "invalid client_secret parameter",
        ),
        (respond(503), None, "Service Unavailable"),
    ],
)
def test_every_error_shape_is_surfaced(response: Reply, code: str | None, message: str) -> None:
    error = error_from_response(response)
    assert error.status_code == response.status_code
    assert error.error_code == code
    assert error.message == message
    assert f"HTTP {response.status_code}" in str(error)
    assert message in str(error)
    assert error.request_id in ("rid-1", "srv-9")


def test_server_request_id_wins_and_404_is_the_callers_not_found_type() -> None:
    missing = respond(404, {"requestId": "srv-1", "title": "Not Found", "status": 404})
    error = error_from_response(missing)
    assert type(error) is AepNotFoundError  # not an export job's, unless the caller says so
    assert error.request_id == "srv-1"
    assert type(error_from_response(missing, not_found=ExportJobNotFoundError)) is ExportJobNotFoundError


def test_retry_after_and_transience() -> None:
    throttled = error_from_response(respond(429, {"message": "slow down"}, headers={"Retry-After": "12"}))
    assert throttled.retry_after == 12.0
    assert throttled.is_transient
    assert not throttled.may_have_been_processed
    server_error = error_from_response(respond(502))
    assert server_error.is_transient
    assert server_error.may_have_been_processed
    assert not error_from_response(respond(403)).is_transient


def test_transport_errors_know_whether_the_request_left() -> None:
    refused = error_from_transport(REQUEST, httpx.ConnectError("refused"), 30.0)
    lost = error_from_transport(REQUEST, httpx.ReadTimeout("timed out"), 30.0)
    assert refused.is_transient
    assert not refused.may_have_been_processed
    assert lost.is_transient
    assert lost.may_have_been_processed
    assert "ReadTimeout" in str(lost)
    assert "rid-1" in str(lost)


def test_a_request_repr_shows_neither_its_headers_nor_its_body() -> None:
    request = Request(
        "POST",
        "https://ims-na1.adobelogin.com/ims/token/v3",
        "/ims/token/v3",
        {"Authorization": "Bearer tok-abc123"},
        b"client_secret=s3cr3t-value",
    )
    shown = repr(request)
    assert "/ims/token/v3" in shown
    assert "tok-abc123" not in shown
    assert "s3cr3t-value" not in shown


def test_no_secret_or_token_in_logs_errors_or_reprs(
    simulator: SimulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    debug_logs: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    secret = simulator.state.client_secret
    hook = AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES, timeout=0.5)
    texts = [repr(hook), repr(hook.settings), str(hook.settings)]
    # success path, fault paths, failure path
    simulator.state.queue_scenarios(Scenario(outcome="FAILED", duration=0))
    job = hook.create_export_job(EXPORT_REQUEST)
    texts.append(str(hook.get_export_job(job.id).summary()))
    simulator.state.inject(Fault("status", route="get", status=503), Fault("drop", route="list"))
    hook.get_export_job(job.id)
    asyncio.run(hook.alist_export_jobs(limit=1))
    simulator.state.revoke_tokens()
    hook.get_export_job(job.id)
    for failing in (lambda: hook.get_export_job(999999), lambda: hook.cancel_export_job(999999)):
        with pytest.raises(AepApiError) as raised:
            failing()
        texts.append(str(raised.value))
        texts.append(repr(raised.value))
    monkeypatch.setenv("AIRFLOW_CONN_AEP_DEFAULT", simulator.connection_env_value().replace(secret, "bad-secret-xyz"))
    forget_tokens()
    with pytest.raises(AepApiError) as raised:
        AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES).get_export_job(job.id)
    texts.append(str(raised.value))

    captured = capfd.readouterr()
    everything = "\n".join([*texts, debug_logs.text, captured.out, captured.err])
    tokens = [*simulator.state.issued_tokens, "bad-secret-xyz", secret]
    assert len(simulator.state.issued_tokens) == 2
    assert "AEP GET" in everything  # the debug lines really were captured
    for value in tokens:
        assert value not in everything


def test_secret_and_tokens_are_registered_with_the_masker(simulator: SimulatorServer) -> None:
    hook = AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES)
    hook.list_export_jobs(limit=1)
    (token,) = simulator.state.tokens
    assert redact(f"secret={simulator.state.client_secret} token={token}") == "secret=*** token=***"
