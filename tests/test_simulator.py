"""The simulator behaves like AEP where the provider depends on it, and can be scripted over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from airflow_provider_aep.simulator import SimulatorServer

from .conftest import EXPORT_REQUEST


def token(client: httpx.Client, sim: SimulatorServer) -> str:
    response = client.post(
        f"{sim.url}/ims/token/v3",
        data={
            "grant_type": "client_credentials",
            "client_id": sim.state.client_id,
            "client_secret": sim.state.client_secret,
            "scope": "openid,AdobeID",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86399
    return str(body["access_token"])


def headers(sim: SimulatorServer, access_token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {access_token}",
        "x-api-key": sim.state.client_id,
        "x-gw-ims-org-id": sim.state.org_id,
        "x-sandbox-name": "prod",
    }


@pytest.mark.parametrize(
    ("drop", "status", "code"),
    [
        ("Authorization", 401, "401013"),
        ("x-api-key", 403, "403000"),
        ("x-gw-ims-org-id", 403, "403003"),
        ("x-sandbox-name", 403, "403010"),
    ],
)
def test_each_required_header_is_checked(simulator: SimulatorServer, drop: str, status: int, code: str) -> None:
    with httpx.Client() as client:
        sent = headers(simulator, token(client, simulator))
        del sent[drop]
        response = client.get(f"{simulator.url}/data/core/ups/export/jobs", headers=sent)
    assert response.status_code == status
    assert response.json()["error_code"] == code


def test_secret_in_the_query_string_is_refused(simulator: SimulatorServer) -> None:
    with httpx.Client() as client:
        response = client.post(f"{simulator.url}/ims/token/v3", params={"client_secret": "x"}, data={})
    assert response.status_code == 400


def test_create_validates_the_body(simulator: SimulatorServer) -> None:
    with httpx.Client() as client:
        sent = headers(simulator, token(client, simulator))
        bad = {
            "destination": {},
            "filter": {"segments": [{"segmentId": "s", "status": ["nope"]}], "fromIngestTimestamp": "x"},
        }
        response = client.post(f"{simulator.url}/data/core/ups/export/jobs", headers=sent, json=bad)
        good = client.post(f"{simulator.url}/data/core/ups/export/jobs", headers=sent, json=EXPORT_REQUEST)
    assert response.status_code == 400
    messages = [error["message"] for error in response.json()["errors"]]
    assert messages == [
        "destination.datasetId is required",
        "schema.name is required",
        "filter.segments[0].status must be among ['existing', 'exited', 'realized']",
        "filter.fromIngestTimestamp must be an RFC 3339 timestamp",
    ]
    assert good.status_code == 200
    assert good.headers["X-Location"] == f"/data/core/ups/export/jobs/{good.json()['id']}"
    assert simulator.state.count("jobs_created") == 1


def test_control_api_scripts_scenarios_faults_and_reports_stats(simulator: SimulatorServer) -> None:
    with httpx.Client(base_url=simulator.url) as client:
        client.post("/_simulator/scenarios", json=[{"outcome": "FAILED", "duration": 0}])
        client.post("/_simulator/faults", json=[{"kind": "status", "route": "get", "status": 503}])
        sent = headers(simulator, token(client, simulator))
        job_id = client.post("/data/core/ups/export/jobs", headers=sent, json=EXPORT_REQUEST).json()["id"]
        assert client.get(f"/data/core/ups/export/jobs/{job_id}", headers=sent).status_code == 503
        assert client.get(f"/data/core/ups/export/jobs/{job_id}", headers=sent).json()["status"] == "FAILED"
        client.post("/_simulator/revoke-tokens")
        assert client.get(f"/data/core/ups/export/jobs/{job_id}", headers=sent).status_code == 401
        stats = client.get("/_simulator/stats").json()
        assert stats["jobs"] == {str(job_id): "FAILED"}
        assert stats["counters"]["faults:status"] == 1
        client.post("/_simulator/reset")
        assert client.get("/_simulator/stats").json()["jobs"] == {}


def test_token_requests_name_their_client_and_refused_tokens_are_counted(simulator: SimulatorServer) -> None:
    ports: list[int] = []
    simulator.state.identify_client = lambda port: ports.append(port) or f"client on {port}"
    with httpx.Client() as client:
        sent = headers(simulator, token(client, simulator))
        assert client.get(f"{simulator.url}/data/core/ups/export/jobs", headers=sent).status_code == 200
        simulator.state.revoke_tokens()
        assert client.get(f"{simulator.url}/data/core/ups/export/jobs", headers=sent).status_code == 401
    (port,) = ports  # asked for the token request only, with the client's own port
    assert port != simulator.port
    assert [(record.route, record.client) for record in simulator.state.requests] == [
        ("token", f"client on {port}"),
        ("list", None),
        ("list", None),
    ]
    assert simulator.state.count("tokens_rejected") == 1


def test_cli_serves_until_stopped(tmp_path: object) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_aep.simulator", "--port", "0", "--print-connection"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        connection = json.loads(process.stdout.readline())
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"{connection['host']}/_simulator/stats")
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.1)
        assert response.json() == {"counters": {}, "jobs": {}}
        assert connection["conn_type"] == "adobe_experience_platform"
    finally:
        process.terminate()
        process.wait(timeout=10)
