"""Transient failures are retried; a create is never duplicated by a retry."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from airflow_provider_aep.client.settings import RetryPolicy
from airflow_provider_aep.exceptions import AepApiError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.simulator import Fault, Scenario, SimulatorServer

from .conftest import EXPORT_REQUEST, FAST_RETRIES

TRANSIENT_FAULTS = [
    Fault("status", status=429, retry_after=0),
    Fault("status", status=500),
    Fault("status", status=502),
    Fault("status", status=503),
    Fault("status", status=504),
    Fault("slow", delay=1.0),
    Fault("drop"),
]


def fault_for(route: str, template: Fault, **changes: Any) -> Fault:
    fields = {**template.__dict__, "route": route, **changes}
    return Fault(**fields)


@pytest.fixture
def quick_hook(simulator: SimulatorServer) -> AdobeExperiencePlatformHook:
    return AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES, timeout=0.5)


@pytest.mark.parametrize("template", TRANSIENT_FAULTS, ids=lambda fault: f"{fault.kind}-{fault.status}")
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_get_and_cancel_survive_transient_faults(
    quick_hook: AdobeExperiencePlatformHook, simulator: SimulatorServer, template: Fault, mode: str
) -> None:
    job_id = quick_hook.create_export_job(EXPORT_REQUEST).id
    simulator.state.inject(fault_for("get", template, times=2), fault_for("cancel", template, times=2))
    if mode == "sync":
        assert quick_hook.get_export_job(job_id).id == job_id
        quick_hook.cancel_export_job(job_id)
    else:
        assert asyncio.run(quick_hook.aget_export_job(job_id)).id == job_id
        asyncio.run(quick_hook.acancel_export_job(job_id))
    assert simulator.state.count("requests:get") == 3
    assert simulator.state.count("requests:cancel") == 3
    assert simulator.state.count("jobs_cancelled") == 1


def test_retry_after_is_honoured(simulator: SimulatorServer, mocker: Any) -> None:
    # The default deadline: with the quick hook's 0.5 s, a loaded machine timed the token request
    # out once, and its retry's short backoff was a second sleep.
    hook = AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES)
    sleep = mocker.patch("airflow_provider_aep.client.sync_driver.time.sleep")
    simulator.state.inject(Fault("status", route="list", status=429, retry_after=7))
    hook.list_export_jobs(limit=1)
    sleep.assert_called_once_with(7.0)


def test_retries_give_up_after_the_policy_allows(simulator: SimulatorServer) -> None:
    hook = AdobeExperiencePlatformHook(retry_policy=RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.02))
    simulator.state.inject(Fault("status", route="list", status=503, times=None))
    with pytest.raises(AepApiError, match=r"GET /data/core/ups/export/jobs failed: HTTP 503") as raised:
        hook.list_export_jobs()
    assert raised.value.is_transient
    assert simulator.state.count("requests:list") == 3


def test_client_errors_are_not_retried(quick_hook: AdobeExperiencePlatformHook, simulator: SimulatorServer) -> None:
    simulator.state.inject(Fault("status", route="get", status=400))
    with pytest.raises(AepApiError, match="HTTP 400"):
        quick_hook.get_export_job(1)
    assert simulator.state.count("requests:get") == 1


def test_connection_refused_is_retried_then_reported(
    monkeypatch: pytest.MonkeyPatch, simulator: SimulatorServer
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AEP_DEFAULT", simulator.connection_env_value().replace(str(simulator.port), "9"))
    hook = AdobeExperiencePlatformHook(retry_policy=RetryPolicy(max_attempts=2, initial_delay=0.01, max_delay=0.01))
    with pytest.raises(AepApiError, match="ConnectError") as raised:
        hook.list_export_jobs()
    assert raised.value.status_code is None
    assert not raised.value.reached_server


# -- create: no duplicates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", route="create", status=500, after_handling=True),
        Fault("status", route="create", status=503, after_handling=True),
        Fault("slow", route="create", delay=1.0, after_handling=True),
        Fault("drop", route="create", after_handling=True),
    ],
    ids=["500-after-create", "503-after-create", "timeout-after-create", "drop-after-create"],
)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_ambiguous_create_failure_returns_the_job_it_made(
    quick_hook: AdobeExperiencePlatformHook, simulator: SimulatorServer, fault: Fault, mode: str
) -> None:
    simulator.state.inject(fault)
    if mode == "sync":
        job = quick_hook.create_export_job(EXPORT_REQUEST)
    else:
        job = asyncio.run(quick_hook.acreate_export_job(EXPORT_REQUEST))
    assert simulator.state.count("jobs_created") == 1
    assert simulator.state.count("requests:create") == 1
    assert simulator.state.count("requests:list") == 1
    assert list(simulator.state.jobs) == [int(job.id)]


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", route="create", status=500),
        Fault("drop", route="create"),
    ],
    ids=["500-before-create", "drop-before-create"],
)
def test_ambiguous_failure_that_made_no_job_is_sent_again(
    quick_hook: AdobeExperiencePlatformHook, simulator: SimulatorServer, fault: Fault
) -> None:
    simulator.state.inject(fault)
    job = quick_hook.create_export_job(EXPORT_REQUEST)
    assert simulator.state.count("jobs_created") == 1
    assert simulator.state.count("requests:create") == 2
    assert list(simulator.state.jobs) == [int(job.id)]


def test_ambiguous_create_ignores_other_requests_jobs(
    quick_hook: AdobeExperiencePlatformHook, simulator: SimulatorServer
) -> None:
    other = {**EXPORT_REQUEST, "destination": {"datasetId": "another-dataset"}}
    existing = quick_hook.create_export_job(other)
    simulator.state.inject(Fault("status", route="create", status=502))
    job = quick_hook.create_export_job(EXPORT_REQUEST)
    assert job.id != existing.id
    assert job.destination.dataset_id == EXPORT_REQUEST["destination"]["datasetId"]
    assert simulator.state.count("jobs_created") == 2


def test_throttled_create_is_resent_without_listing(
    quick_hook: AdobeExperiencePlatformHook, simulator: SimulatorServer
) -> None:
    simulator.state.inject(Fault("status", route="create", status=429, retry_after=0, times=2))
    quick_hook.create_export_job(EXPORT_REQUEST)
    assert simulator.state.count("requests:create") == 3
    assert simulator.state.count("requests:list") == 0
    assert simulator.state.count("jobs_created") == 1


def test_old_identical_job_is_not_mistaken_for_the_lost_one(
    quick_hook: AdobeExperiencePlatformHook, simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator.state.queue_scenarios(Scenario(duration=60))
    old = quick_hook.create_export_job(EXPORT_REQUEST)
    simulator.state.jobs[int(old.id)].created_ms -= 60_000  # made a minute before this attempt
    simulator.state.inject(Fault("status", route="create", status=500))
    new = quick_hook.create_export_job(EXPORT_REQUEST)
    assert new.id != old.id
    assert simulator.state.count("jobs_created") == 2
