"""Every hook method, sync and async, against the simulator over loopback HTTP."""

from __future__ import annotations

import asyncio
import time

import pytest

from airflow_provider_aep.exceptions import AepApiError, ExportJobNotFoundError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.models import ExportJob, ExportJobRequest, JobProgress
from airflow_provider_aep.simulator import Scenario, SimulatorServer
from tests.tokens import forget_tokens

from .conftest import EXPORT_REQUEST, Call


def test_create_then_get_follows_the_lifecycle(call: Call, simulator: SimulatorServer) -> None:
    simulator.state.queue_scenarios(Scenario(polls_to_finish=3))
    created = call("create_export_job", EXPORT_REQUEST)
    assert isinstance(created, ExportJob)
    assert created.status == "NEW"
    assert created.destination.dataset_id == EXPORT_REQUEST["destination"]["datasetId"]
    assert call("get_export_job", created.id).status == "NEW"
    assert call("get_export_job", created.id).status == "PROCESSING"
    finished = call("get_export_job", int(created.id))
    assert finished.status == "SUCCEEDED"
    assert finished.batch_ids() == {"*": f"sim-batch-{created.id}"}
    assert finished.metrics is not None
    assert finished.metrics.total_exported_profile_counter == 1250


def test_apoll_reads_a_running_job_as_progress_and_a_finished_one_in_full(
    hook: AdobeExperiencePlatformHook, simulator: SimulatorServer
) -> None:
    simulator.state.queue_scenarios(Scenario(polls_to_finish=3))
    created = hook.create_export_job(EXPORT_REQUEST)

    async def three_polls() -> list[JobProgress]:
        return [await hook.apoll_export_job(created.id) for _ in range(3)]

    new, processing, finished = asyncio.run(three_polls())
    for running, status in ((new, "NEW"), (processing, "PROCESSING")):
        assert type(running) is JobProgress  # not the full record ...
        assert (running.id, running.status, running.creation_time) == (created.id, status, created.creation_time)
    assert isinstance(finished, ExportJob)  # ... which a terminal job is read as
    assert finished.status == "SUCCEEDED"
    assert finished.batch_ids() == {"*": f"sim-batch-{created.id}"}


def test_jobs_finish_by_time(call: Call, simulator: SimulatorServer) -> None:
    simulator.state.queue_scenarios(Scenario(duration=0.3))
    created = call("create_export_job", EXPORT_REQUEST)
    time.sleep(0.4)
    assert call("get_export_job", created.id).status == "SUCCEEDED"


def test_create_accepts_the_request_model(call: Call, simulator: SimulatorServer) -> None:
    request = ExportJobRequest.model_validate(EXPORT_REQUEST)
    created = call("create_export_job", request)
    assert simulator.state.jobs[int(created.id)].body == request.to_api_json()


def test_failed_job_carries_aep_errors(call: Call, simulator: SimulatorServer) -> None:
    simulator.state.queue_scenarios(Scenario(outcome="FAILED", duration=0))
    job = call("get_export_job", call("create_export_job", EXPORT_REQUEST).id)
    assert job.status == "FAILED"
    assert [error.code for error in job.errors] == ["0090000009", "unknown"]
    assert "Job aborted." in job.error_text()


def test_cancel_marks_the_job(call: Call, simulator: SimulatorServer) -> None:
    simulator.state.queue_scenarios(Scenario(duration=60))
    job = call("create_export_job", EXPORT_REQUEST)
    assert call("cancel_export_job", job.id) is None
    assert simulator.state.count("jobs_cancelled") == 1
    assert call("get_export_job", job.id).status == "CANCELLED"


def test_cancel_accepts_an_empty_204(call: Call, simulator: SimulatorServer) -> None:
    simulator.state.cancel_returns_empty = True
    job = call("create_export_job", EXPORT_REQUEST)
    call("cancel_export_job", job.id)
    assert simulator.state.count("jobs_cancelled") == 1


def test_unknown_job_raises_not_found(call: Call, simulator: SimulatorServer) -> None:
    with pytest.raises(ExportJobNotFoundError, match=r"HTTP 404.*Export job 424242 not found") as raised:
        call("get_export_job", 424242)
    assert raised.value.status_code == 404
    assert raised.value.request_id
    assert simulator.state.count("requests:get") == 1


def test_list_follows_pages_newest_first(call: Call, simulator: SimulatorServer) -> None:
    simulator.state.max_page_size = 3
    created = [call("create_export_job", EXPORT_REQUEST).id for _ in range(7)]
    listed = call("list_export_jobs")
    assert [job.id for job in listed] == list(reversed(created))
    assert simulator.state.count("requests:list") == 3


def test_list_limit_and_status(call: Call, simulator: SimulatorServer) -> None:
    simulator.state.queue_scenarios(Scenario(outcome="FAILED", duration=0), Scenario(duration=60))
    failed = call("create_export_job", EXPORT_REQUEST).id
    running = call("create_export_job", EXPORT_REQUEST).id
    assert [job.id for job in call("list_export_jobs", limit=1)] == [running]
    assert [job.id for job in call("list_export_jobs", status="FAILED")] == [failed]
    assert call("list_export_jobs", status="SUCCEEDED") == []


def test_every_request_carries_the_headers(call: Call, simulator: SimulatorServer) -> None:
    job = call("create_export_job", EXPORT_REQUEST)
    call("get_export_job", job.id)
    call("list_export_jobs")
    call("cancel_export_job", job.id)
    platform = [record for record in simulator.state.requests if record.route != "token"]
    assert [record.route for record in platform] == ["create", "get", "list", "cancel"]
    request_ids = [record.request_id for record in platform]
    assert all(request_ids)
    assert len(set(request_ids)) == len(request_ids)


def test_platform_rejects_wrong_org_with_its_code(
    call: Call, simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AEP_DEFAULT", simulator.connection_env_value(org_id="OTHER0RG@AdobeOrg"))
    with pytest.raises(AepApiError, match=r"HTTP 403; code 403003; Invalid x-gw-ims-org-id header") as raised:
        call("list_export_jobs")
    assert not raised.value.is_transient
    assert simulator.state.count("requests:list") == 1


def test_wrong_secret_fails_at_ims_without_echoing_it(
    call: Call, simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = simulator.connection()
    wrong_secret = "wrong-secret-do-not-echo"
    monkeypatch.setenv(
        "AIRFLOW_CONN_AEP_DEFAULT",
        simulator.connection_env_value().replace(simulator.state.client_secret, wrong_secret),
    )
    assert fields["password"] != wrong_secret
    with pytest.raises(AepApiError, match=r"POST /ims/token/v3 failed: HTTP 401; code invalid_client") as raised:
        call("get_export_job", 1)
    assert wrong_secret not in str(raised.value)
    assert simulator.state.count("requests:get") == 0


def test_test_connection_reports_success_and_failure(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok, message = AdobeExperiencePlatformHook().test_connection()
    assert ok, message
    assert simulator.state.org_id in message
    assert simulator.state.count("tokens_issued") == 1
    assert simulator.state.count("requests:list") == 1

    monkeypatch.setenv(
        "AIRFLOW_CONN_AEP_DEFAULT", simulator.connection_env_value().replace(simulator.state.client_secret, "nope-nope")
    )
    forget_tokens()
    ok, message = AdobeExperiencePlatformHook().test_connection()
    assert not ok
    assert "invalid_client" in message
    assert "nope-nope" not in message
