"""Tasks that end in the triggerer: what the trigger sends (a task-end event with the task's XComs,
only once the job SUCCEEDED and its batches can be read), every other outcome resuming the task in
a worker, the refusals (outlets), OpenLineage keeping the resume, and ``dag.test()``, which
resumes a task its trigger ended, reaching the same outcome. The real triggerer ending tasks
without a worker is asserted on the cluster (tests/cluster, task processes per export)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pytest
from airflow.triggers.base import TaskSuccessEvent, TriggerEvent
from airflow.utils.state import DagRunState

from airflow_provider_aep.assets import aep_dataset_asset
from airflow_provider_aep.exceptions import AepConfigError, AepError
from airflow_provider_aep.operators.export_job import SUMMARY_XCOM_KEY, CreateExportJobOperator
from airflow_provider_aep.sensors.export_job import ExportJobSensor
from airflow_provider_aep.simulator import Scenario, SimulatorServer
from airflow_provider_aep.triggers.export_job import ExportJobTrigger
from tests.airflow_compat import AIRFLOW_V_3, run_dag
from tests.dag_files import load_dag_file

from . import REPO
from .test_trigger import QUICK, new_job

CREATE_XCOMS = {"return_value": "job_id", SUMMARY_XCOM_KEY: "summary"}


@dataclass
class TaskInstanceKey:
    """Who the triggerer says a trigger runs for (it sets ``trigger.task_instance``)."""

    dag_id: str = "aep_dag"
    task_id: str = "create_export_job"
    run_id: str = "manual__1"
    map_index: int = 3


def events(trigger: ExportJobTrigger) -> list[TriggerEvent]:
    trigger.task_instance = TaskInstanceKey()  # type: ignore[assignment]

    async def collect() -> list[TriggerEvent]:
        return [event async for event in trigger.run()]

    return asyncio.run(collect())


def left_in_xcom(event: TriggerEvent, task_xcoms: dict[str, Any]) -> dict[str, Any]:
    """What the ended task holds in XCom: sent through the SDK (Airflow 3) or with the event (2.11)."""
    assert isinstance(event, TaskSuccessEvent)
    if AIRFLOW_V_3:
        assert not event.xcoms  # never the event's own XComs, which Airflow 3 encodes twice
        return task_xcoms
    return dict(event.xcoms or {})


def ending_trigger(job_id: str, **kwargs: Any) -> ExportJobTrigger:
    return ExportJobTrigger(job_id, QUICK, poll_interval=0.05, end_task_xcoms=CREATE_XCOMS, **kwargs)


def test_success_ends_the_task_with_its_xcoms_once_the_batches_can_be_read(
    simulator: SimulatorServer, task_xcoms: dict[str, Any]
) -> None:
    job_id = new_job(Scenario(polls_to_finish=2, batch_checks_to_ready=2), simulator)
    (event,) = events(ending_trigger(job_id))
    xcoms = left_in_xcom(event, task_xcoms)
    assert set(xcoms) == {"return_value", SUMMARY_XCOM_KEY}
    assert xcoms["return_value"] == job_id
    summary = xcoms[SUMMARY_XCOM_KEY]
    assert isinstance(summary, dict)
    assert summary["status"] == "SUCCEEDED"
    assert summary["batch_ids"] == {"*": f"sim-batch-{job_id}"}
    assert simulator.state.count("requests:get") == 2  # the job, until SUCCEEDED, then never again
    assert simulator.state.count("requests:batch_get") == 3  # loading twice, then readable


def test_without_end_task_xcoms_success_resumes_the_task_as_before(simulator: SimulatorServer) -> None:
    job_id = new_job(Scenario(polls_to_finish=1, batch_checks_to_ready=5), simulator)
    (event,) = events(ExportJobTrigger(job_id, QUICK, poll_interval=0.05))
    assert not isinstance(event, TaskSuccessEvent)
    assert event.payload["status"] == "success"
    assert simulator.state.count("requests:batch_get") == 0


def test_a_failed_job_resumes_the_task_with_its_errors(simulator: SimulatorServer) -> None:
    job_id = new_job(Scenario(outcome="FAILED", duration=0.1), simulator)
    (event,) = events(ending_trigger(job_id))
    assert not isinstance(event, TaskSuccessEvent)
    assert event.payload["status"] == "failed"
    assert event.payload["job"]["errors"]


def test_a_failed_batch_resumes_the_task_with_the_batch_errors(simulator: SimulatorServer) -> None:
    job_id = new_job(
        Scenario(polls_to_finish=1, batch_status="failed", batch_errors=({"code": "101", "description": "disk"},)),
        simulator,
    )
    (event,) = events(ending_trigger(job_id))
    assert not isinstance(event, TaskSuccessEvent)
    assert event.payload["status"] == "error"
    assert f"sim-batch-{job_id} is failed" in event.payload["message"]


def test_batches_still_unreadable_at_the_deadline_do_not_cancel_the_finished_job(
    simulator: SimulatorServer,
) -> None:
    job_id = new_job(Scenario(polls_to_finish=1, batch_checks_to_ready=1000), simulator)
    (event,) = events(ending_trigger(job_id, deadline=time.time() + 0.5))
    assert event.payload["status"] == "error"
    assert "succeeded, but its batches were not readable" in event.payload["message"]
    assert simulator.state.count("jobs_cancelled") == 0


def test_end_task_xcoms_cross_the_deferral() -> None:
    _classpath, kwargs = ending_trigger("1000").serialize()
    assert kwargs["end_task_xcoms"] == CREATE_XCOMS
    with pytest.raises(ValueError, match="must be one of"):
        ExportJobTrigger("1000", end_task_xcoms={"return_value": "the secret"})


def test_a_task_with_outlets_cannot_end_in_the_triggerer() -> None:
    outlet = aep_dataset_asset("ORG@AdobeOrg", "prod", "5b7c86968f7b6501e21ba9df")
    for build in (
        lambda: ExportJobSensor(task_id="wait", job_id="1", deferrable=True, end_from_trigger=True, outlets=[outlet]),
        lambda: CreateExportJobOperator(
            task_id="export",
            dataset_id="5b7c86968f7b6501e21ba9df",
            wait_for_completion=True,
            deferrable=True,
            end_from_trigger=True,
            outlets=[outlet],
        ),
    ):
        with pytest.raises(AepConfigError, match="no asset event for its outlets"):
            build()


def test_with_openlineage_on_a_worker_still_resumes_the_task(monkeypatch: pytest.MonkeyPatch) -> None:
    sensor = ExportJobSensor(task_id="wait", job_id="1", deferrable=True, end_from_trigger=True)
    assert sensor._trigger("1", 5, None).end_task_xcoms == {"return_value": "summary"}
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__TRANSPORT", '{"type": "console"}')
    assert sensor._trigger("1", 5, None).end_task_xcoms is None


def test_what_only_a_worker_does_keeps_the_resume() -> None:
    def callback(context: Any) -> None: ...

    with_callback = ExportJobSensor(
        task_id="wait", job_id="1", deferrable=True, end_from_trigger=True, on_success_callback=callback
    )
    assert with_callback._trigger("1", 5, None).end_task_xcoms is None
    quiet = CreateExportJobOperator(
        task_id="export",
        dataset_id="5b7c86968f7b6501e21ba9df",
        wait_for_completion=True,
        deferrable=True,
        end_from_trigger=True,
        do_xcom_push=False,
    )
    assert quiet._trigger("1", 5, None).end_task_xcoms == {SUMMARY_XCOM_KEY: "summary"}  # no return_value


def test_outlets_are_refused_only_where_the_task_would_end_in_the_triggerer() -> None:
    outlet = aep_dataset_asset("ORG@AdobeOrg", "prod", "5b7c86968f7b6501e21ba9df")
    sensor = ExportJobSensor(task_id="wait", job_id="1", deferrable=False, end_from_trigger=True, outlets=[outlet])
    assert sensor.outlets == [outlet]  # accepted: a sensor that waits in a worker records its events


def test_a_resume_with_a_bare_state_and_no_succeeded_job_fails_the_task() -> None:
    sensor = ExportJobSensor(task_id="wait", job_id="1", deferrable=True, end_from_trigger=True)
    with pytest.raises(
        AepError, match="resumed after its trigger ended it with 'success', and its export job is not found"
    ):
        sensor._job_from_event({}, "success", lambda: None)  # type: ignore[arg-type]
    with pytest.raises(AepError, match="with 'failed'"):
        sensor._job_from_event({}, "failed", lambda: None)  # type: ignore[arg-type]


@pytest.mark.usefixtures("airflow_db")
def test_dag_test_reaches_the_same_outcome_for_tasks_their_trigger_ends(simulator: SimulatorServer) -> None:
    # dag.test() resumes a task whose trigger ended it, with the bare state: the job is read again.
    simulator.state.default_scenario = Scenario(polls_to_finish=3, batch_checks_to_ready=1)
    dag = load_dag_file(REPO / "tests" / "dags" / "aep_test_dags.py").ends_in_triggerer
    run = run_dag(dag, datetime(2026, 11, 23, 2, tzinfo=timezone.utc))
    assert run.state == DagRunState.SUCCESS
    (job_id,) = [str(job_id) for job_id in simulator.state.jobs]
    create = run.get_task_instance("create_export_job")
    assert str(create.xcom_pull(task_ids="create_export_job")) == job_id
    summary = create.xcom_pull(task_ids="create_export_job", key=SUMMARY_XCOM_KEY)
    assert summary["job_id"] == job_id
    assert summary["status"] == "SUCCEEDED"
    wait = run.get_task_instance("wait_for_export")
    assert wait.xcom_pull(task_ids="wait_for_export")["job_id"] == job_id
    assert simulator.state.count("jobs_created") == 1
