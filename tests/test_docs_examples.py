"""Every recipe in docs/examples runs, with dag.test(), against the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from airflow.utils.state import DagRunState

from airflow_provider_aep.simulator import Fault, Scenario, SimulatorServer
from tests import REPO
from tests.dag_files import load_dag_file

pytestmark = pytest.mark.usefixtures("airflow_db")
EXAMPLES = sorted((REPO / "docs" / "examples").glob("*.py"))


def run_example(name: str) -> Any:
    return load_dag_file(REPO / "docs" / "examples" / f"{name}.py").dag.test()


def test_every_example_is_covered() -> None:
    assert {path.stem for path in EXAMPLES} == {
        "aep_export_per_segment",
        "aep_export_wait_in_operator",
        "aep_land_batches_per_segment",
    }


def test_one_job_per_segment_with_mapping(simulator: SimulatorServer) -> None:
    simulator.state.default_scenario = Scenario(duration=0)
    run = run_example("aep_export_per_segment")
    assert run.state == DagRunState.SUCCESS
    exported = sorted(job.body["filter"]["segments"][0]["segmentId"] for job in simulator.state.jobs.values())
    assert exported == ["segment-lapsed-buyers", "segment-newsletter", "segment-vip-customers"]
    waits = [ti for ti in run.get_task_instances() if ti.task_id == "export_segment.wait_for_export"]
    assert len(waits) == 3
    assert all(ti.state == "success" for ti in waits)


def test_a_failed_create_leaves_the_other_segments_waited_on(simulator: SimulatorServer) -> None:
    """Mapped as a group, each segment's wait hangs on its own create only."""
    simulator.state.default_scenario = Scenario(duration=0)
    simulator.state.inject(Fault("status", route="create", status=400))  # the first create is refused
    run = run_example("aep_export_per_segment")
    assert run.state == DagRunState.FAILED
    states = {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}
    assert len(simulator.state.jobs) == 2
    (refused,) = [
        index
        for (task_id, index), state in states.items()
        if task_id == "export_segment.create_export_job" and state == "failed"
    ]
    assert {
        index: state for (task_id, index), state in states.items() if task_id == "export_segment.wait_for_export"
    } == {index: "upstream_failed" if index == refused else "success" for index in range(3)}


def test_wait_in_the_operator(simulator: SimulatorServer) -> None:
    simulator.state.default_scenario = Scenario(duration=0)
    run = run_example("aep_export_wait_in_operator")
    assert run.state == DagRunState.SUCCESS
    (job_id,) = simulator.state.jobs
    ti = run.get_task_instance("read_summary")
    assert ti.xcom_pull(task_ids="read_summary") == {"*": f"sim-batch-{job_id}"}


def test_batches_land_per_segment(simulator: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AEP_RECIPE_DESTINATION", f"file://{tmp_path}")
    simulator.state.default_scenario = Scenario(duration=0)
    run = run_example("aep_land_batches_per_segment")
    assert run.state == DagRunState.SUCCESS
    (job_id,) = simulator.state.jobs
    folders = run.get_task_instance("folders_per_segment").xcom_pull(task_ids="folders_per_segment")
    job_folder = f"file://{tmp_path}/5b7c86968f7b6501e21ba9df/{job_id}"
    assert folders == {
        "segment-a": f"{job_folder}/sim-batch-{job_id}-0",
        "segment-b": f"{job_folder}/sim-batch-{job_id}-1",
    }
    for folder in folders.values():
        assert list((tmp_path / folder.removeprefix(f"file://{tmp_path}/")).glob("*.parquet"))
