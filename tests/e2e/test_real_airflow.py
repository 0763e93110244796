"""The provider in a real Airflow 3: scheduler, dag-processor, triggerer and API server as separate
processes (LocalExecutor, SQLite), against the simulator over loopback HTTP."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from airflow_provider_aep.simulator import Fault, Scenario, SimulatorServer, SimulatorState
from tests.e2e.airflow_stack import AirflowStack, wait_until
from tests.e2e.conftest import (
    FAILS_AFTER_DEFERRAL,
    ISSUED_TOKENS,
    POLLS_TO_FINISH_AFTER_DEFERRAL,
    TYPED_SECRETS,
)

E2E_DAG = "aep_e2e_export"


def wait_deferred_and_polled(stack: AirflowStack, state: SimulatorState, run_id: str) -> None:
    wait_until(lambda: stack.task_state(E2E_DAG, run_id, "wait_for_export") == "deferred", 120, "the sensor to defer")
    polls = state.count("requests:get")
    wait_until(lambda: state.count("requests:get") > polls, 60, "the triggerer to poll the job")


def test_example_dag_runs_the_whole_tutorial(
    stack: AirflowStack, fresh_simulator: SimulatorState, tmp_path: Path
) -> None:
    fresh_simulator.default_scenario = Scenario(
        polls_to_finish=POLLS_TO_FINISH_AFTER_DEFERRAL,
        files_per_batch=2,
        batch_checks_to_ready=2,  # the download defers too, and its trigger finds the batch on its second check
    )
    run_id = stack.trigger("aep_nightly_segment_export", {"destination": f"file://{tmp_path}"})
    wait_until(
        lambda: stack.task_state("aep_nightly_segment_export", run_id, "wait_for_export") == "deferred",
        120,
        "the sensor to defer",
    )
    assert stack.wait_for_run("aep_nightly_segment_export", run_id, timeout=300) == "success", stack.logs()
    # Unpausing also lets the scheduler start the latest scheduled run, with its own job.
    job_id = int(stack.xcom("aep_nightly_segment_export", run_id, "create_export_job"))
    assert job_id in fresh_simulator.jobs
    summary = stack.xcom("aep_nightly_segment_export", run_id, "wait_for_export")
    assert summary["status"] == "SUCCEEDED"
    assert summary["batch_ids"] == {"*": f"sim-batch-{job_id}"}
    # Landed in the destination by a worker, after the triggerer waited for the loading batch.
    landed = stack.xcom("aep_nightly_segment_export", run_id, "download_export")
    folder = tmp_path / summary["dataset_id"] / str(job_id)
    assert landed["manifest"] == f"file://{folder}/_manifest.json"
    assert (landed["files"], landed["records"]) == (2, 1250)
    assert len(list(folder.rglob("*.parquet"))) == 2
    assert stack.xcom("aep_nightly_segment_export", run_id, "read_exported_profiles") == 1250


def test_a_task_its_trigger_ends_leaves_its_xcoms_for_the_download(
    stack: AirflowStack, fresh_simulator: SimulatorState, tmp_path: Path
) -> None:
    # The batch is still loading at the trigger's first checks: the trigger waits for it, so the
    # download that follows finds it readable at once and never defers.
    fresh_simulator.default_scenario = Scenario(polls_to_finish=2, batch_checks_to_ready=2)
    dag_id = "aep_e2e_ends_in_triggerer"
    run_id = stack.trigger(dag_id, {"destination": f"file://{tmp_path}"})
    assert stack.wait_for_run(dag_id, run_id) == "success", stack.logs()
    (job_id,) = fresh_simulator.jobs
    assert int(stack.xcom(dag_id, run_id, "export")) == job_id
    assert stack.xcom(dag_id, run_id, "exported_profiles") == 1250
    assert stack.xcom(dag_id, run_id, "download_export")["files"] == 1
    assert fresh_simulator.count("requests:batch_get") >= 3  # the trigger saw the batch loading, then readable
    log = "\n".join(path.read_text() for path in stack.home.rglob("*.log") if f"run_id={run_id}" in str(path))
    assert f"Export job {job_id} SUCCEEDED" in log  # written by the trigger, into the task's log
    assert "not readable yet" not in log  # so the download found its batch readable and never waited


def test_triggerer_killed_and_restarted_while_waiting(stack: AirflowStack, fresh_simulator: SimulatorState) -> None:
    fresh_simulator.default_scenario = Scenario(duration=25)
    fresh_simulator.inject(
        Fault("status", route="get", status=503, times=2),
        Fault("status", route="get", status=429, retry_after=0, times=2),
    )
    run_id = stack.trigger(E2E_DAG)
    wait_deferred_and_polled(stack, fresh_simulator, run_id)
    stack.kill_component("triggerer")  # SIGKILL: no cleanup, no goodbye
    polls = fresh_simulator.count("requests:get")
    stack.start_component("triggerer")
    wait_until(lambda: fresh_simulator.count("requests:get") > polls, 90, "the new triggerer to resume polling")
    assert stack.wait_for_run(E2E_DAG, run_id) == "success", stack.logs()
    assert fresh_simulator.count("jobs_created") == 1
    assert fresh_simulator.count("jobs_cancelled") == 0


def test_marking_the_deferred_sensor_failed_cancels_the_job(
    stack: AirflowStack, fresh_simulator: SimulatorState
) -> None:
    fresh_simulator.default_scenario = Scenario(duration=600)
    run_id = stack.trigger(E2E_DAG)
    wait_deferred_and_polled(stack, fresh_simulator, run_id)
    stack.mark(E2E_DAG, run_id, "wait_for_export", "failed")
    wait_until(lambda: fresh_simulator.count("jobs_cancelled") == 1, 60, "the trigger's on_kill to cancel the job")
    (job_id,) = fresh_simulator.jobs
    assert fresh_simulator.stats()["jobs"][job_id] == "CANCELLED"


def test_failed_job_fails_the_task_with_aep_codes(stack: AirflowStack, fresh_simulator: SimulatorState) -> None:
    fresh_simulator.default_scenario = Scenario(outcome="FAILED", duration=FAILS_AFTER_DEFERRAL)
    run_id = stack.trigger(E2E_DAG)
    assert stack.wait_for_run(E2E_DAG, run_id) == "failed", stack.logs()
    assert stack.task_state(E2E_DAG, run_id, "wait_for_export") == "failed"
    (job_id,) = fresh_simulator.jobs
    task_logs = [path.read_text(errors="replace") for path in stack.home.rglob("*.log") if run_id in str(path)]
    assert any(
        f"AEP export job {job_id} failed: [0090000009] Error writing profiles" in text
        and "[unknown] Job aborted." in text
        for text in task_logs
    ), [path for path in stack.home.rglob("*.log")]


UPSTREAM, DOWNSTREAM = "aep_export_vip_audience", "aep_load_vip_audience"


def settled(stack: AirflowStack, dag_id: str) -> list[dict[str, Any]]:
    """The DAG's runs once none is queued or running."""
    runs: list[dict[str, Any]] = wait_until(
        lambda: (
            (runs := stack.runs(dag_id)) is not None
            and all(run["state"] in ("success", "failed") for run in runs)
            and runs
        ),
        180,
        f"the runs of {dag_id} to finish",
    )
    return runs


def loaded_exports(stack: AirflowStack) -> list[str]:
    """The job ids the downstream DAG's finished runs loaded, one entry per load."""
    return [
        job_id
        for run in settled(stack, DOWNSTREAM)
        if run["state"] == "success"
        for job_id in stack.xcom(DOWNSTREAM, run["dag_run_id"], "batches_to_load")
    ]


def export_and_wait_for_its_load(stack: AirflowStack, run_id: str, loaded_before: list[str]) -> str:
    assert stack.wait_for_run(UPSTREAM, run_id) == "success", stack.logs()
    job_id = str(stack.xcom(UPSTREAM, run_id, "create_export_job"))
    wait_until(lambda: job_id in loaded_exports(stack), 180, f"the downstream load of export job {job_id}")
    assert sorted(loaded_exports(stack)) == sorted([*loaded_before, job_id]), "an export loaded twice or not at all"
    return job_id


def test_each_successful_export_is_loaded_downstream_once(stack: AirflowStack, fresh_simulator: SimulatorState) -> None:
    """One export after the other. Exports that land together share one run (test_dag_runs.py
    covers that); here the runs come from the real scheduler, one per export."""
    fresh_simulator.default_scenario = Scenario(polls_to_finish=POLLS_TO_FINISH_AFTER_DEFERRAL)
    stack.unpause(DOWNSTREAM)
    stack.unpause(UPSTREAM)  # the scheduler starts the latest scheduled run: the first export
    (scheduled,) = wait_until(lambda: stack.runs(UPSTREAM), 120, "the scheduled export run")
    first = export_and_wait_for_its_load(stack, scheduled["dag_run_id"], [])
    second = export_and_wait_for_its_load(stack, stack.trigger(UPSTREAM), [first])
    assert first != second
    for run in settled(stack, DOWNSTREAM):
        assert (run["run_type"], run["state"]) == ("asset_triggered", "success"), stack.logs()
        for job_id, batch_ids in stack.xcom(DOWNSTREAM, run["dag_run_id"], "batches_to_load").items():
            assert batch_ids == {"*": f"sim-batch-{job_id}"}


def test_failed_export_starts_no_downstream_run(stack: AirflowStack, fresh_simulator: SimulatorState) -> None:
    # A fast end is fine here: Airflow 3.3's fast-resume race (conftest.py) can only fail the task too.
    fresh_simulator.default_scenario = Scenario(outcome="FAILED", duration=1)
    stack.unpause(DOWNSTREAM)
    settled(stack, UPSTREAM)
    before = len(settled(stack, DOWNSTREAM))
    run_id = stack.trigger(UPSTREAM)
    assert stack.wait_for_run(UPSTREAM, run_id) == "failed", stack.logs()
    assert stack.task_state(UPSTREAM, run_id, "wait_for_export") == "failed"
    time.sleep(10)  # ten scheduler loops: time enough to start a run if there were an event
    assert len(stack.runs(DOWNSTREAM)) == before


WATCHED_DAG = "aep_e2e_watched_batches"
WATCHED_DATASET = "77e2e0000000000000000aaa"


def watched_runs(stack: AirflowStack) -> list[dict[str, Any]]:
    runs = [run for run in stack.runs(WATCHED_DAG) if run["run_type"] == "asset_triggered"]
    return sorted(runs, key=lambda run: run["run_after"])


def next_watched_run(stack: AirflowStack, before: int) -> dict[str, Any]:
    """The run the next event started, once it finished; the one after ``before`` runs."""
    run = wait_until(lambda: (runs := watched_runs(stack))[before:] and runs[before], 120, "the watched DAG to run")
    assert stack.wait_for_run(WATCHED_DAG, run["dag_run_id"]) == "success", stack.logs()
    return dict(run)


def landed_batch(stack: AirflowStack, state: SimulatorState, run: dict[str, Any]) -> str:
    """The one batch the run landed, checked byte for byte against what the simulator serves."""
    result = stack.xcom(WATCHED_DAG, run["dag_run_id"], "land")
    (batch_id,) = result["batch_ids"]
    folder = stack.home / "landing" / WATCHED_DATASET / "batches" / batch_id
    written = state.batch_files(batch_id)
    assert written is not None
    for file in written.files:
        assert hashlib.sha256((folder / file.name).read_bytes()).hexdigest() == file.sha256()
    manifest = json.loads((folder / "_manifest.json").read_text())
    assert [entry["batch_id"] for entry in manifest["batches"]] == [batch_id]
    return str(batch_id)


def test_batches_landing_in_aep_start_one_run_each_across_a_triggerer_restart(
    stack: AirflowStack, fresh_simulator: SimulatorState
) -> None:
    """N batches, N runs, each batch landed once, byte for byte; the watermark survives a SIGKILL (3.3)."""
    state = fresh_simulator
    stack.unpause(WATCHED_DAG)
    try:
        wait_until(lambda: state.count("requests:batch_list") >= 2, 120, "the watcher to poll AEP")
        landed = []
        # One batch seen loading first, then readable; one readable at once, with three files.
        loading = state.add_batch(WATCHED_DATASET, records=40)
        wait_until(lambda: state.count("requests:batch_list") >= 4, 30, "two polls that see it loading")
        state.set_batch_status(loading, "success")
        landed.append(landed_batch(stack, state, next_watched_run(stack, 0)))
        state.add_batch(WATCHED_DATASET, status="success", records=90, files_per_batch=3)
        landed.append(landed_batch(stack, state, next_watched_run(stack, 1)))

        # The watermark is in the asset's state store by now (written 2 s after each event).
        stack.kill_component("triggerer")  # SIGKILL, and a batch lands while no triggerer runs
        while_down = state.add_batch(WATCHED_DATASET, status="success", records=5)
        stack.start_component("triggerer")
        landed.append(landed_batch(stack, state, next_watched_run(stack, 2)))
        assert landed[2] == while_down

        polls = state.count("requests:batch_list")
        wait_until(lambda: state.count("requests:batch_list") >= polls + 5, 60, "five more polls")
        assert len(watched_runs(stack)) == 3  # no batch reported again by the new triggerer
        assert sorted(landed) == sorted(state.external_batches)
        assert sorted(path.name for path in (stack.home / "landing" / WATCHED_DATASET / "batches").iterdir()) == sorted(
            landed
        )
    finally:
        stack.api.patch(f"/dags/{WATCHED_DAG}", json={"is_paused": True}).raise_for_status()


def test_no_secret_or_token_in_logs_xcom_or_rendered_fields(stack: AirflowStack, simulator: SimulatorServer) -> None:
    """Runs last: scans everything the runs above left behind, at DEBUG log level."""
    secrets = [simulator.state.client_secret, *TYPED_SECRETS, *ISSUED_TOKENS]
    assert len(ISSUED_TOKENS) >= 3  # the tests above really authenticated (workers and triggerers)
    texts = {str(path): path.read_text(errors="replace") for path in stack.home.rglob("*.log")}
    assert any("wait_for_export" in path for path in texts), sorted(texts)  # task logs were written
    assert any("Export job" in text for text in texts.values())  # and they hold the provider's lines
    runs = stack.every_run()
    # Every run, not only those a test started: unpausing the nightly DAG started a scheduled one.
    assert {"manual", "scheduled", "asset_triggered"} <= {run["run_type"] for run in runs}
    for run in runs:
        dag_id, run_id = run["dag_id"], run["dag_run_id"]
        instances = stack.api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
        for instance in instances:
            task_id = instance["task_id"]
            texts[f"{run_id}/{task_id}/rendered"] = json.dumps(instance.get("rendered_fields"))
            xcoms = stack.api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries").json()
            for entry in xcoms.get("xcom_entries", []):
                url = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{entry['key']}"
                texts[f"{run_id}/{task_id}/xcom/{entry['key']}"] = stack.api.get(url).text
    leaks = [(name, secret[:12]) for name, text in texts.items() for secret in secrets if secret in text]
    assert leaks == []
