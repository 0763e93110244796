"""ExportJobTrigger against the simulator: one event, transient errors ridden out, cancels only on kill."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from dataclasses import replace
from typing import Any

import pytest

from airflow_provider_aep.client.apis.export_jobs import ExportJobsApi
from airflow_provider_aep.client.async_driver import async_clients
from airflow_provider_aep.client.ims import TokenKey
from airflow_provider_aep.hooks import aep as aep_hook_module
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.models import ExportJob
from airflow_provider_aep.simulator import Fault, Scenario, SimulatorServer
from airflow_provider_aep.triggers.export_job import ExportJobTrigger
from airflow_provider_aep.wait.options import WaitOptions
from tests.tokens import forget_tokens

from .conftest import EXPORT_REQUEST, FAST_RETRIES

QUICK = WaitOptions(request_retry_limit=3, request_retry_delay=0.01, request_timeout=0.5)


def trigger_for(
    job_id: str, *, poll_interval: float = 0.05, deadline: float | None = None, **options: Any
) -> ExportJobTrigger:
    return ExportJobTrigger(job_id, replace(QUICK, **options), poll_interval=poll_interval, deadline=deadline)


def events_of(trigger: ExportJobTrigger) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(collect())


def new_job(scenario: Scenario, simulator: SimulatorServer) -> str:
    simulator.state.queue_scenarios(scenario)
    return AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES).create_export_job(EXPORT_REQUEST).id


def test_serialize_round_trip_is_json_safe() -> None:
    options = WaitOptions(aep_conn_id="aep_x", cancel_on_kill=False, request_retry_limit=2, request_timeout=7.5)
    trigger = ExportJobTrigger(job_id="1000", options=options, poll_interval=5, deadline=1_900_000_000.5)
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs)))
    assert rebuilt.serialize() == (classpath, kwargs)
    assert rebuilt.options == options  # every option crosses the deferral as one value
    assert kwargs["deadline"] == 1_900_000_000.5
    assert kwargs["options"]["aep_conn_id"] == "aep_x"


def test_success_is_one_event_with_the_job(simulator: SimulatorServer) -> None:
    job_id = new_job(Scenario(polls_to_finish=3), simulator)
    events = events_of(trigger_for(job_id))
    assert len(events) == 1
    (event,) = events
    assert event["status"] == "success"
    assert event["job"]["status"] == "SUCCEEDED"
    assert event["job"]["destination"]["batchId"] == f"sim-batch-{job_id}"
    assert simulator.state.count("requests:get") == 3  # NEW, PROCESSING, SUCCEEDED: then it stopped


def test_failure_event_carries_the_aep_errors(simulator: SimulatorServer) -> None:
    job_id = new_job(Scenario(outcome="FAILED", duration=0.1), simulator)
    (event,) = events_of(trigger_for(job_id))
    assert event["status"] == "failed"
    assert [error["code"] for error in event["job"]["errors"]] == ["0090000009", "unknown"]


def test_deadline_gives_a_timeout_event_and_does_not_cancel(simulator: SimulatorServer) -> None:
    job_id = new_job(Scenario(duration=60), simulator)
    (event,) = events_of(trigger_for(job_id, deadline=time.time() + 0.3))
    assert event["status"] == "timeout"
    assert simulator.state.count("jobs_cancelled") == 0


def test_unknown_status_is_not_success(
    simulator: SimulatorServer, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    job_id = new_job(Scenario(duration=60), simulator)
    AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES).cancel_export_job(job_id)  # status becomes CANCELLED
    (event,) = events_of(trigger_for(job_id, deadline=time.time() + 1.0))
    assert event["status"] == "timeout"
    captured = capfd.readouterr()
    # Once, wherever the version's logging sends it (Airflow 2.11 writes to both).
    assert max(caplog.text.count("does not know"), (captured.out + captured.err).count("does not know")) == 1
    assert simulator.state.count("requests:get") > 2  # it kept polling, and warned once


def test_missing_job_is_an_error_event(simulator: SimulatorServer) -> None:
    (event,) = events_of(trigger_for("424242"))
    assert event["status"] == "error"
    assert "HTTP 404" in event["message"]
    assert simulator.state.count("requests:get") == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", route="get", status=429, retry_after=0, times=8),
        Fault("status", route="get", status=503, times=8),
        Fault("slow", route="get", delay=1.0, times=4),
        Fault("drop", route="get", times=8),
    ],
    ids=["429", "503", "timeouts", "dropped"],
)
def test_transient_faults_outlasting_retries_never_fail_the_wait(simulator: SimulatorServer, fault: Fault) -> None:
    job_id = new_job(Scenario(duration=0.2), simulator)
    simulator.state.inject(fault)
    (event,) = events_of(trigger_for(job_id))
    assert event["status"] == "success"
    assert simulator.state.count("faults") == fault.times


def test_revoked_token_while_waiting(simulator: SimulatorServer) -> None:
    job_id = new_job(Scenario(duration=0.3), simulator)
    simulator.state.revoke_tokens()
    (event,) = events_of(trigger_for(job_id))
    assert event["status"] == "success"


def test_200_concurrent_triggers_share_one_client_one_token_and_poll_with_one_get_each(
    simulator: SimulatorServer, mocker: Any
) -> None:
    """Regression guard for triggerer scale (timings live in benchmarks/, not here)."""
    simulator.state.default_scenario = Scenario(polls_to_finish=3)  # NEW, PROCESSING, SUCCEEDED

    async def create_all() -> list[str]:
        hook = AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES)
        return [job.id for job in await asyncio.gather(*(hook.acreate_export_job(EXPORT_REQUEST) for _ in range(200)))]

    job_ids = asyncio.run(create_all())
    counters_before = dict(simulator.state.counters)
    clients_before = async_clients.clients_created
    polls = mocker.spy(AdobeExperiencePlatformHook, "apoll_export_job")
    secret_digests = mocker.spy(TokenKey, "of")
    apis_built = mocker.spy(ExportJobsApi, "__init__")
    connection_lookups = mocker.spy(aep_hook_module, "aget_connection")
    full_records = mocker.spy(ExportJob, "model_validate_json")
    sync_lookup = mocker.patch.object(AdobeExperiencePlatformHook, "get_connection", side_effect=AssertionError)

    async def wait_all() -> list[list[dict[str, Any]]]:
        async def one(job_id: str) -> list[dict[str, Any]]:
            # A whole request may take 30 s: 200 polls queue for the in-flight slots, and the wait
            # counts against the deadline; this test counts requests, it does not time them.
            trigger = trigger_for(job_id, poll_interval=0.1, request_timeout=30.0)
            return [event.payload async for event in trigger.run()]

        return await asyncio.gather(*(one(job_id) for job_id in job_ids))

    results = asyncio.run(wait_all())
    assert [[event["status"] for event in events] for events in results] == [["success"]] * 200
    requests = simulator.state.count("requests") - counters_before["requests"]
    gets = simulator.state.count("requests:get") - counters_before.get("requests:get", 0)
    assert polls.call_count == 600  # three polls per job
    assert gets == 600  # one GET per poll ...
    assert requests == gets  # ... and nothing else: no token request, no connection-test listing
    assert simulator.state.count("requests:token") == counters_before["requests:token"] == 1
    assert async_clients.clients_created - clients_before == 1  # one pool for all 200 waits
    assert async_clients.open_clients() == 0  # closed when the last wait ended
    assert sync_lookup.call_count == 0  # no blocking connection lookup inside the event loop
    # Per trigger at most, never per poll: no secret hashing and no request builder per poll.
    assert secret_digests.call_count <= 200
    assert apis_built.call_count <= 200
    assert connection_lookups.call_count == 1  # 200 triggers starting together share one lookup
    assert full_records.call_count == 200  # a full record once per job, when it finished; not per poll


def test_on_kill_cancels_but_being_cancelled_does_not(simulator: SimulatorServer) -> None:
    job_id = new_job(Scenario(duration=60), simulator)
    trigger = trigger_for(job_id)

    async def run_then_stop() -> None:
        task = asyncio.create_task(anext(trigger.run()))
        await asyncio.sleep(0.3)
        task.cancel()  # what a triggerer restart or redistribution does
        with pytest.raises(asyncio.CancelledError):
            await task
        await trigger.cleanup()

    asyncio.run(run_then_stop())
    assert simulator.state.count("jobs_cancelled") == 0
    asyncio.run(trigger.on_kill())
    assert simulator.state.count("jobs_cancelled") == 1


def test_on_kill_respects_cancel_on_kill_false(simulator: SimulatorServer) -> None:
    job_id = new_job(Scenario(duration=60), simulator)
    asyncio.run(trigger_for(job_id, cancel_on_kill=False).on_kill())
    assert simulator.state.count("jobs_cancelled") == 0


def test_repeated_token_rejection_is_waited_through(simulator: SimulatorServer) -> None:
    job_id = new_job(Scenario(polls_to_finish=2), simulator)
    # Two 401s in one call exhaust its single refresh; the next poll starts afresh.
    simulator.state.inject(Fault("status", route="get", status=401, times=2))
    (event,) = events_of(trigger_for(job_id))
    assert event["status"] == "success"
    assert simulator.state.count("requests:get") == 4


def test_credentials_refused_at_ims_end_the_wait(simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = new_job(Scenario(duration=60), simulator)
    monkeypatch.setenv(
        "AIRFLOW_CONN_AEP_DEFAULT", simulator.connection_env_value().replace(simulator.state.client_secret, "revoked!")
    )
    forget_tokens()
    (event,) = events_of(trigger_for(job_id))
    assert event["status"] == "error"
    assert "invalid_client" in event["message"]
    assert "revoked!" not in event["message"]
