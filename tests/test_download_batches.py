"""Landing the batches a watcher reported: one folder and one manifest per batch, once, whoever wrote them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowSkipException

from airflow_provider_aep.exceptions import AepConfigError, AepError
from airflow_provider_aep.simulator import Scenario, SimulatorServer, SimulatorState
from airflow_provider_aep.transfers.export_to_object_storage import AepExportToObjectStorageOperator
from tests.task_context import task_context

DATASET = "5b7c86968f7b6501e21ba9df"
OTHER_DATASET = "6c8d97a79f8c7612f32cb0ea"
FAST = {"request_retry_delay": 0.01, "request_timeout": 5.0, "deferrable": False, "poll_interval": 0.05}


def land(destination: Path, **kwargs: Any) -> dict[str, Any]:
    operator = AepExportToObjectStorageOperator(
        task_id="land_batches", destination=f"file://{destination}", **{**FAST, **kwargs}
    )
    result: dict[str, Any] = operator.execute(task_context())
    return result


def expected_files(state: SimulatorState, batch_id: str) -> dict[str, str]:
    written = state.batch_files(batch_id)
    assert written is not None
    return {file.name: file.sha256() for file in written.files}


def landed_files(folder: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in folder.iterdir()
        if path.name != "_manifest.json"
    }


def test_each_batch_lands_in_its_own_folder_with_its_own_manifest(simulator: SimulatorServer, tmp_path: Path) -> None:
    state = simulator.state
    first = state.add_batch(DATASET, status="success", records=30, files_per_batch=3)
    second = state.add_batch(DATASET, status="success", records=7, file_size=5000)
    result = land(tmp_path, batch_ids=[first, second], dataset_id=DATASET)
    for batch_id, records in ((first, 30), (second, 7)):
        folder = tmp_path / DATASET / "batches" / batch_id
        assert landed_files(folder) == expected_files(state, batch_id)  # byte for byte
        manifest = json.loads((folder / "_manifest.json").read_text())
        assert (manifest["job_id"], manifest["dataset_id"], manifest["exported_profiles"]) == (None, DATASET, None)
        (batch,) = manifest["batches"]
        assert (batch["batch_id"], batch["records_written"]) == (batch_id, records)
        assert sorted(file["path"] for file in batch["files"]) == sorted(expected_files(state, batch_id))
    assert result["batch_ids"] == [first, second]
    assert (result["files"], result["bytes"], result["records"]) == (
        4,
        sum(file.size for b in (first, second) for file in state.batch_files(b).files),  # type: ignore[union-attr]
        37,
    )
    assert result["manifests"] == [f"file://{tmp_path}/{DATASET}/batches/{b}/_manifest.json" for b in (first, second)]


def test_a_batch_reported_twice_lands_once_in_the_same_place(simulator: SimulatorServer, tmp_path: Path) -> None:
    state = simulator.state
    batch_id = state.add_batch(DATASET, status="success", files_per_batch=2)
    land(tmp_path, batch_ids=[batch_id], dataset_id=DATASET)
    downloads = state.count("requests:file_download")
    assert downloads == 2
    # A later run after a triggerer restart, and one run holding the same event twice.
    land(tmp_path, batch_ids=[batch_id, batch_id], dataset_id=DATASET)
    assert state.count("requests:file_download") == downloads
    assert [path.name for path in (tmp_path / DATASET / "batches").iterdir()] == [batch_id]


def test_the_events_of_triggering_batches_are_taken_as_they_are(simulator: SimulatorServer, tmp_path: Path) -> None:
    state = simulator.state
    job = state.create_external_job(DATASET, Scenario(polls_to_finish=0, duration=0.0))
    batch_id = f"sim-batch-{job['id']}"
    events = [{"kind": "aep_batch", "batch_id": batch_id, "dataset_id": DATASET, "export_job_id": str(job["id"])}]
    result = land(tmp_path, batch_ids=events)
    manifest = json.loads((tmp_path / DATASET / "batches" / batch_id / "_manifest.json").read_text())
    assert manifest["job_id"] == str(job["id"])  # the export that wrote it, as the event said
    assert result["records"] == 1250


def test_a_batch_still_loading_is_waited_for(simulator: SimulatorServer, tmp_path: Path) -> None:
    state = simulator.state
    batch_id = state.add_batch(DATASET)
    original = state.batch_record

    def ready_on_third_check(batch: str, *, checked: bool = True) -> dict[str, Any] | None:
        if checked and state.count("requests:batch_get") >= 3:
            state.set_batch_status(batch_id, "success")
        return original(batch, checked=checked)

    state.batch_record = ready_on_third_check  # type: ignore[method-assign]
    try:
        land(tmp_path, batch_ids=[batch_id], dataset_id=DATASET)
    finally:
        del state.batch_record
    assert (tmp_path / DATASET / "batches" / batch_id / "_manifest.json").exists()
    assert state.count("requests:batch_get") >= 3


def test_a_batch_of_another_dataset_is_refused_before_any_download(simulator: SimulatorServer, tmp_path: Path) -> None:
    state = simulator.state
    stray = state.add_batch(OTHER_DATASET, status="success")
    with pytest.raises(AepError, match=f"batch {stray} belongs to dataset {OTHER_DATASET}, not {DATASET}"):
        land(tmp_path, batch_ids=[stray], dataset_id=DATASET)
    assert state.count("requests:file_download") == 0
    assert not (tmp_path / DATASET).exists()


@pytest.mark.parametrize("dataset_id", [DATASET, None])
def test_a_run_no_event_started_is_skipped(simulator: SimulatorServer, tmp_path: Path, dataset_id: str | None) -> None:
    # The example DAG names no dataset_id: the events do, and a run started by hand has none.
    with pytest.raises(AirflowSkipException, match="no batch to land"):
        land(tmp_path, batch_ids=[], dataset_id=dataset_id)
    assert simulator.state.count("requests") == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_ids": ["01AB"], "job_id": "1000"}, "give job_id or batch_ids"),
        ({}, "give job_id or batch_ids"),
        ({"batch_ids": "01AB", "dataset_id": DATASET}, "batch_ids must be a list"),
        ({"batch_ids": ["../x"], "dataset_id": DATASET}, "batch_ids"),
        ({"batch_ids": ["01AB"]}, "the batches must be of one dataset"),
        (
            {
                "batch_ids": [
                    {"batch_id": "01AB", "dataset_id": DATASET},
                    {"batch_id": "01CD", "dataset_id": OTHER_DATASET},
                ]
            },
            "the batches must be of one dataset",
        ),
    ],
)
def test_bad_batch_arguments_are_refused_with_no_request(
    simulator: SimulatorServer, tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(AepConfigError, match=f"Task 'land_batches': {message}"):
        land(tmp_path, **kwargs)
    assert simulator.state.count("requests") == 0
