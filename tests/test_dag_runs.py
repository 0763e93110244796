"""Whole DAG runs with Airflow's own ``dag.test()``: tasks really run, defer, resume and retry."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from airflow.utils.state import DagRunState, TaskInstanceState

from airflow_provider_aep.compat import task_state_store
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.operators.export_job import SUMMARY_XCOM_KEY
from airflow_provider_aep.simulator import Fault, Scenario, SimulatorServer
from tests.airflow_compat import (
    AIRFLOW_V_3,
    DagBag,
    extra_links,
    register_assets,
    run_dag,
    run_dag_started_by_events_of,
)
from tests.dag_files import load_dag_file

from . import REPO
from .conftest import EXPORT_REQUEST, FAST_RETRIES

pytestmark = pytest.mark.usefixtures("airflow_db")

LOGICAL_DATE = datetime(2026, 11, 23, 2, tzinfo=timezone.utc)


def load_example() -> ModuleType:
    return load_dag_file(REPO / "example_dags" / "aep_nightly_segment_export.py")


def load_test_dags() -> ModuleType:
    return load_dag_file(REPO / "tests" / "dags" / "aep_test_dags.py")


def xcom(run: Any, task_id: str, key: str = "return_value") -> Any:
    return run.get_task_instance(task_id).xcom_pull(task_ids=task_id, key=key)


def states(run: Any) -> dict[str, Any]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def test_example_dag_runs_the_whole_tutorial(simulator: SimulatorServer, tmp_path: Path) -> None:
    # Still running at the sensor's first check, so the wait goes through the trigger; the batch is
    # still loading at the download's first check, so that wait goes through a trigger too.
    simulator.state.default_scenario = Scenario(polls_to_finish=2, files_per_batch=3, batch_checks_to_ready=1)
    dag = load_example().dag
    dag.get_task("wait_for_export").poke_interval = 0.2  # the trigger's first poll comes within one
    dag.get_task("download_export").poll_interval = 0.2
    run = run_dag(dag, LOGICAL_DATE, run_conf={"destination": f"file://{tmp_path}"})
    assert run.state == DagRunState.SUCCESS, states(run)

    dataset_id = xcom(run, "ensure_dataset")
    assert simulator.state.datasets[dataset_id]["name"] == "Nightly audience export"
    job_id = str(xcom(run, "create_export_job"))
    assert [str(job) for job in simulator.state.jobs] == [job_id]
    body = simulator.state.jobs[int(job_id)].body
    assert body["destination"]["datasetId"] == dataset_id
    assert body["filter"]["segmentQualificationTime"] == {
        "startTime": "2026-11-22T02:00:00Z",
        "endTime": "2026-11-23T02:00:00Z",
    }
    assert body["filter"]["segments"] == [{"segmentId": "52c26d0d-45f2-47a2-ab30-ed06abc981ff"}]
    summary = xcom(run, "wait_for_export")
    assert (summary["job_id"], summary["status"], summary["exported_profiles"]) == (job_id, "SUCCEEDED", 1250)
    landed = xcom(run, "download_export")
    folder = tmp_path / dataset_id / job_id
    assert landed == {
        "manifest": f"file://{folder}/_manifest.json",
        "files": 3,
        "bytes": sum(path.stat().st_size for path in folder.rglob("*.parquet")),
        "records": 1250,
    }
    assert xcom(run, "read_exported_profiles") == 1250  # the rows the downstream step read
    assert simulator.state.count("requests:create") == 1
    # The sensor's check before deferring and its trigger's poll; the download's look at the job
    # before it deferred, and again when it resumed.
    assert simulator.state.count("requests:get") == 4
    assert simulator.state.count("requests:file_download") == 3
    dataset_page = (
        f"https://experience.adobe.com/#/@{simulator.state.org_id}/sname:prod/platform/dataset/browse/{dataset_id}"
    )
    for task_id in ("ensure_dataset", "create_export_job", "wait_for_export", "download_export"):
        assert extra_links(dag, run.get_task_instance(task_id)) == {"AEP dataset": dataset_page}


def test_example_dag_is_idempotent_on_a_second_night(simulator: SimulatorServer, tmp_path: Path) -> None:
    simulator.state.default_scenario = Scenario(polls_to_finish=1)
    dag = load_example().dag
    first = run_dag(dag, LOGICAL_DATE, run_conf={"destination": f"file://{tmp_path}"})
    second = run_dag(dag, LOGICAL_DATE + timedelta(days=1), run_conf={"destination": f"file://{tmp_path}"})
    assert (first.state, second.state) == (DagRunState.SUCCESS, DagRunState.SUCCESS)
    assert simulator.state.count("datasets_created") == 1  # the dataset is found by name the second night
    assert xcom(first, "ensure_dataset") == xcom(second, "ensure_dataset")
    assert len(simulator.state.jobs) == 2  # one export per night


def test_example_dag_fails_with_aep_codes(
    simulator: SimulatorServer, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    simulator.state.default_scenario = Scenario(outcome="FAILED", duration=0)
    dag = load_example().dag
    for task in dag.tasks:
        task.retries = 0
    run = run_dag(dag, LOGICAL_DATE, run_conf={"destination": "file:///nonexistent-never-written"})
    assert run.state == DagRunState.FAILED
    assert states(run)["wait_for_export"] == TaskInstanceState.FAILED
    assert states(run)["create_export_job"] == TaskInstanceState.SUCCESS
    job_id = str(xcom(run, "create_export_job"))
    captured = capfd.readouterr()
    task_log = captured.out + captured.err + caplog.text
    assert (
        f"ExportJobFailedError: AEP export job {job_id} failed: [0090000009] Error writing profiles to output path "
        "'adl://simulator/snapshot'; [unknown] Job aborted." in task_log
    )


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(
            "task_state_store",
            marks=pytest.mark.skipif(not AIRFLOW_V_3, reason="the task state store is Airflow 3.3+"),
        ),
        "list_and_match",
    ],
)
def test_retried_create_reuses_the_running_job(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    if where == "list_and_match":  # as on Airflow versions without a task state store
        monkeypatch.setattr("airflow_provider_aep.operators.export_job.task_state_store", lambda context: None)
    simulator.state.default_scenario = Scenario(duration=0.5)
    # The first try creates the job, then dies on a non-retryable error while waiting.
    simulator.state.inject(Fault("status", route="get", status=403, times=1))
    run = run_dag(load_test_dags().retrying_create, LOGICAL_DATE)
    assert run.state == DagRunState.SUCCESS, states(run)
    ti = run.get_task_instance("create_export_job")
    assert ti.try_number == 2
    assert simulator.state.count("requests:create") == 1
    assert simulator.state.count("jobs_created") == 1
    job_id = str(xcom(run, "create_export_job"))
    assert xcom(run, "create_export_job", SUMMARY_XCOM_KEY)["job_id"] == job_id
    # The store names the job outright; without it the retry finds it in the job list.
    assert simulator.state.count("requests:list") == (0 if where == "task_state_store" else 1)


def test_retry_after_a_failed_job_creates_a_new_one(simulator: SimulatorServer) -> None:
    simulator.state.queue_scenarios(Scenario(outcome="FAILED", duration=0), Scenario(duration=0))
    run = run_dag(load_test_dags().retrying_create, LOGICAL_DATE)
    assert run.state == DagRunState.SUCCESS, states(run)
    assert simulator.state.count("jobs_created") == 2
    _first, second = simulator.state.jobs
    assert str(xcom(run, "create_export_job")) == str(second)


@pytest.mark.skipif(not AIRFLOW_V_3, reason="the task state store is Airflow 3.3+")
def test_retry_finds_the_job_a_dead_try_created_but_never_stored(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Try 1's job FAILED; try 2 created another and died before storing its id; try 3 must reuse
    that running job, not create a third export."""

    class DiesBeforeStoringTry2:
        def __init__(self, context: Any) -> None:
            self.store = task_state_store(context)
            self.try_number = context["ti"].try_number

        def get(self, key: str) -> Any:
            return self.store.get(key)

        def set(self, key: str, value: Any) -> None:
            if self.try_number == 2:
                raise RuntimeError("the worker died")
            self.store.set(key, value)

    monkeypatch.setattr("airflow_provider_aep.operators.export_job.task_state_store", DiesBeforeStoringTry2)
    simulator.state.queue_scenarios(Scenario(outcome="FAILED", duration=0), Scenario(duration=1), Scenario(duration=0))
    dag = load_test_dags().retrying_create
    dag.get_task("create_export_job").retries = 2
    run = run_dag(dag, LOGICAL_DATE)
    assert run.state == DagRunState.SUCCESS, states(run)
    assert run.get_task_instance("create_export_job").try_number == 3
    assert simulator.state.count("jobs_created") == 2
    _failed, second = simulator.state.jobs
    assert str(xcom(run, "create_export_job")) == str(second)


def test_deferred_sensor_timeout_cancels_and_is_not_retried(simulator: SimulatorServer) -> None:
    simulator.state.queue_scenarios(Scenario(duration=600))
    job_id = AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES).create_export_job(EXPORT_REQUEST).id
    dag = load_test_dags().deferred_sensor_short_timeout
    run = run_dag(dag, LOGICAL_DATE, run_conf={"job_id": job_id})
    assert run.state == DagRunState.FAILED
    ti = run.get_task_instance("wait_for_export")
    assert ti.state == TaskInstanceState.FAILED  # AirflowSensorTimeout: no retry re-waits a running job
    assert ti.try_number == 1
    assert simulator.state.stats()["jobs"][int(job_id)] == "CANCELLED"


def test_flaky_api_while_deferred_does_not_fail_the_task(simulator: SimulatorServer) -> None:
    simulator.state.queue_scenarios(Scenario(duration=1.5))
    job_id = AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES).create_export_job(EXPORT_REQUEST).id
    simulator.state.inject(
        Fault("status", route="get", status=429, retry_after=0, times=4),
        Fault("status", route="get", status=503, times=4),
        Fault("slow", route="get", delay=1.5, times=2),
        Fault("drop", route="get", times=3),
    )
    run = run_dag(load_test_dags().deferred_sensor, LOGICAL_DATE, run_conf={"job_id": job_id})
    assert run.state == DagRunState.SUCCESS, states(run)
    assert simulator.state.count("faults") == 13
    assert xcom(run, "wait_for_export")["status"] == "SUCCEEDED"


def test_operator_renders_nested_templates_and_waits_deferred(simulator: SimulatorServer) -> None:
    simulator.state.default_scenario = Scenario(duration=0.5)
    dag = load_test_dags().templated_deferred_create
    run = run_dag(dag, LOGICAL_DATE, run_conf={"dataset_id": "ds-from-conf", "segment_id": "seg-42"})
    assert run.state == DagRunState.SUCCESS, states(run)
    (job,) = simulator.state.jobs.values()
    assert job.body == {
        "destination": {"datasetId": "ds-from-conf"},
        "schema": {"name": "_xdm.context.profile"},
        "filter": {
            "segments": [{"segmentId": "seg-42", "status": ["realized"]}],
            "fromIngestTimestamp": "2026-11-23T02:00:00Z",
        },
    }
    assert str(xcom(run, "create_export_job")) == str(job.id)
    assert xcom(run, "create_export_job", SUMMARY_XCOM_KEY)["status"] == "SUCCEEDED"


def test_asset_example_loads_every_export_that_started_the_run_and_only_those(simulator: SimulatorServer) -> None:
    simulator.state.default_scenario = Scenario(duration=0)
    dags = DagBag(dag_folder=str(REPO / "example_dags" / "aep_export_audience_assets.py")).dags
    export, load = dags["aep_export_vip_audience"], dags["aep_load_vip_audience"]
    register_assets(export, load)
    earlier, later = (run_dag(export, LOGICAL_DATE + timedelta(days=day)) for day in (0, 1))
    assert (earlier.state, later.state) == (DagRunState.SUCCESS, DagRunState.SUCCESS)
    jobs = [str(xcom(run, "create_export_job")) for run in (earlier, later)]
    batches = {job: {"*": f"sim-batch-{job}"} for job in jobs}

    # Both exports landed before the downstream run started: that one run loads both.
    both = run_dag_started_by_events_of(load, LOGICAL_DATE + timedelta(days=2), [earlier, later])
    assert xcom(both, "batches_to_load") == batches
    # A run started by the earlier export alone loads it, though a newer export exists.
    only_earlier = run_dag_started_by_events_of(load, LOGICAL_DATE + timedelta(days=3), [earlier])
    assert xcom(only_earlier, "batches_to_load") == {jobs[0]: batches[jobs[0]]}
