"""ExportJobSensor: outcomes in poke mode, deferral, and the events the trigger sends back."""

from __future__ import annotations

import time
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout

from airflow_provider_aep.exceptions import AepConfigError, AepError, ExportJobFailedError, ExportJobNotFoundError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.sensors.export_job import ExportJobSensor
from airflow_provider_aep.simulator import Fault, Scenario, SimulatorServer
from airflow_provider_aep.triggers.export_job import ExportJobTrigger
from tests.airflow_compat import TaskDeferred
from tests.task_context import TaskInstanceStub, task_context

from .conftest import EXPORT_REQUEST, FAST_RETRIES

FAST = {"request_retry_limit": 3, "request_retry_delay": 0.01, "request_timeout": 0.5}


def sensor(job_id: Any, **kwargs: Any) -> ExportJobSensor:
    settings = {"task_id": "wait_for_export", "poke_interval": 0.05, "timeout": 10, "deferrable": False, **FAST}
    return ExportJobSensor(job_id=job_id, **{**settings, **kwargs})


def new_job(simulator: SimulatorServer, scenario: Scenario) -> str:
    simulator.state.queue_scenarios(scenario)
    return AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES).create_export_job(EXPORT_REQUEST).id


def test_succeeded_job_returns_its_summary(simulator: SimulatorServer) -> None:
    job_id = new_job(simulator, Scenario(duration=0.2))
    summary = sensor(job_id).execute(task_context())
    assert summary["job_id"] == job_id
    assert summary["status"] == "SUCCEEDED"
    assert summary["batch_ids"] == {"*": f"sim-batch-{job_id}"}
    assert summary["exported_profiles"] == 1250
    assert summary["dataset_id"] == EXPORT_REQUEST["destination"]["datasetId"]


def test_failed_job_fails_with_every_code_and_message(simulator: SimulatorServer) -> None:
    job_id = new_job(simulator, Scenario(outcome="FAILED", duration=0.1))
    with pytest.raises(ExportJobFailedError) as raised:
        sensor(job_id).execute(task_context())
    message = str(raised.value)
    assert f"AEP export job {job_id} failed" in message
    assert "[0090000009] Error writing profiles" in message
    assert "[unknown] Job aborted." in message
    request_id = simulator.state.jobs[int(job_id)].request_id
    assert message.endswith(f"(request id {request_id})")


def test_timeout_cancels_then_raises_sensor_timeout(simulator: SimulatorServer) -> None:
    job_id = new_job(simulator, Scenario(duration=60))
    with pytest.raises(AirflowSensorTimeout):
        sensor(job_id, timeout=0.3).execute(task_context())
    assert simulator.state.stats()["jobs"][int(job_id)] == "CANCELLED"


def test_timeout_leaves_the_job_when_told_to(simulator: SimulatorServer) -> None:
    job_id = new_job(simulator, Scenario(duration=60))
    with pytest.raises(AirflowSensorTimeout):
        sensor(job_id, timeout=0.3, cancel_on_timeout=False).execute(task_context())
    assert simulator.state.count("jobs_cancelled") == 0


def test_unknown_status_keeps_waiting(simulator: SimulatorServer) -> None:
    job_id = new_job(simulator, Scenario(duration=60))
    AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES).cancel_export_job(job_id)
    probe = sensor(job_id)
    assert probe.poke(task_context()) is False
    assert probe.poke(task_context()) is False


def test_transient_failure_in_poke_keeps_waiting(simulator: SimulatorServer) -> None:
    job_id = new_job(simulator, Scenario(duration=0))
    simulator.state.inject(Fault("status", route="get", status=503, times=3))
    probe = sensor(job_id)
    assert probe.poke(task_context()) is False
    assert probe.poke(task_context()).is_done  # type: ignore[union-attr]


def test_vanished_job_fails_clearly(simulator: SimulatorServer) -> None:
    with pytest.raises(ExportJobNotFoundError, match=r"HTTP 404.*Export job 424242 not found"):
        sensor("424242").execute(task_context())


@pytest.mark.parametrize("job_id", [None, "", "None", "abc", "12a", 3.5, True, "{{ ti.xcom_pull() }}"])
def test_bad_job_id_is_refused_before_any_request(simulator: SimulatorServer, job_id: Any) -> None:
    with pytest.raises(AepConfigError, match="Task 'wait_for_export': job_id must be a numeric AEP export job id"):
        sensor(job_id).execute(task_context())
    assert simulator.state.count("requests") == 0


def test_deferrable_checks_once_shows_the_dataset_link_then_defers_with_an_absolute_deadline(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AEP_X", simulator.connection_env_value(ui_tenant="acme", sandbox="dev-1"))
    job_id = new_job(simulator, Scenario(duration=60))
    context = task_context()
    lookups: list[str] = []
    look_up = AdobeExperiencePlatformHook.get_connection
    monkeypatch.setattr(
        AdobeExperiencePlatformHook,
        "get_connection",
        classmethod(lambda _, conn_id: lookups.append(conn_id) or look_up(conn_id)),
    )
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        sensor(f" {job_id} ", deferrable=True, timeout=600, aep_conn_id="aep_x").execute(context)
    assert lookups == ["aep_x"]  # the single-try check and the link read one lookup
    trigger = deferred.value.trigger
    assert isinstance(trigger, ExportJobTrigger)
    assert trigger.job_id == job_id
    assert trigger.options.aep_conn_id == "aep_x"
    assert before + 600 <= trigger.deadline <= time.time() + 600  # type: ignore[operator]
    assert deferred.value.timeout is not None
    assert deferred.value.timeout.total_seconds() > 600  # Airflow's timeout is only a backstop
    assert deferred.value.method_name == "execute_complete"
    assert simulator.state.count("requests:get") == 1
    dataset_id = EXPORT_REQUEST["destination"]["datasetId"]
    assert context["ti"].pushed == {
        "_link_AepDatasetLink": f"https://experience.adobe.com/#/@acme/sname:dev-1/platform/dataset/browse/{dataset_id}"
    }


def test_deferrable_sensor_on_a_finished_job_succeeds_without_deferring(simulator: SimulatorServer) -> None:
    job_id = new_job(simulator, Scenario(duration=0))
    summary = sensor(job_id, deferrable=True).execute(task_context())
    assert (summary["job_id"], summary["status"]) == (job_id, "SUCCEEDED")
    assert simulator.state.count("requests:get") == 1


def test_first_check_is_a_single_try_that_counts_against_the_timeout(simulator: SimulatorServer) -> None:
    job_id = new_job(simulator, Scenario(duration=0))
    simulator.state.inject(Fault("status", route="get", status=503, times=3))
    context = task_context()
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        sensor(job_id, deferrable=True, timeout=600).execute(context)
    assert simulator.state.count("requests:get") == 1  # the trigger makes the retries, not a worker slot
    assert deferred.value.trigger.deadline <= before + 600 + 1  # type: ignore[attr-defined]
    assert context["ti"].pushed == {}  # no dataset known yet: the link comes with the trigger's event


def test_a_link_that_cannot_be_stored_never_fails_the_export(simulator: SimulatorServer) -> None:
    class RefusingXCom(TaskInstanceStub):
        def xcom_push(self, key: str, value: Any) -> None:
            raise RuntimeError("XCom backend unavailable")

    job_id = new_job(simulator, Scenario(duration=0.1))
    summary = sensor(job_id).execute({"ti": RefusingXCom()})
    assert summary["status"] == "SUCCEEDED"


def test_execute_complete_maps_every_event(simulator: SimulatorServer) -> None:
    job_id = new_job(simulator, Scenario(duration=60))
    probe = sensor(job_id)
    job = {"id": job_id, "status": "SUCCEEDED", "destination": {"batchId": "b1"}}
    assert probe.execute_complete(task_context(), {"status": "success", "job_id": job_id, "job": job})["batch_ids"] == {
        "*": "b1"
    }
    failed = {
        "id": job_id,
        "status": "FAILED",
        "destination": {"datasetId": "5b7c86968f7b6501e21ba9df"},
        "errors": [{"code": "0100000003", "msg": "Error in Export Job"}],
    }
    context = task_context()
    with pytest.raises(ExportJobFailedError, match=r"\[0100000003\] Error in Export Job"):
        probe.execute_complete(context, {"status": "failed", "job_id": job_id, "job": failed})
    assert context["ti"].pushed["_link_AepDatasetLink"].endswith("/platform/dataset/browse/5b7c86968f7b6501e21ba9df")
    with pytest.raises(AepError, match="HTTP 403"):
        probe.execute_complete(task_context(), {"status": "error", "job_id": job_id, "message": "HTTP 403"})
    assert simulator.state.count("jobs_cancelled") == 0
    with pytest.raises(AirflowSensorTimeout):
        probe.execute_complete(task_context(), {"status": "timeout", "job_id": job_id, "message": "late"})
    assert simulator.state.count("jobs_cancelled") == 1


def test_on_kill_cancels(simulator: SimulatorServer) -> None:
    job_id = new_job(simulator, Scenario(duration=60))
    sensor(job_id).on_kill()
    assert simulator.state.count("jobs_cancelled") == 1
    sensor(job_id, cancel_on_kill=False).on_kill()
    assert simulator.state.count("requests:cancel") == 1
