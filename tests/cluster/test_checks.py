"""The checks every cluster scenario ends with, shown to catch what they are there to catch (as
test_leftovers does for the harness's last check): a second job for a segment, an export whose job
AEP does not have, and a landed file missing, cut short or altered, a manifest missing or listing
another set, or a file written after its manifest. Each starts from a destination laid out as a
complete download leaves it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from airflow_provider_aep.simulator import Scenario, SimulatorState
from airflow_provider_aep.transfers.manifest import MANIFEST_NAME, Manifest, ManifestBatch, ManifestFile
from tests.cluster.fanout import duplicate_jobs, exported_files, landed_files, lost_ids


def create(state: SimulatorState, dataset_id: str, segment: str) -> int:
    body = {"filter": {"segments": [{"segmentId": segment}]}, "destination": {"datasetId": dataset_id}}
    return int(state.create_job(body, request_id=segment)["id"])


@pytest.fixture
def state() -> SimulatorState:
    """Two finished exports of two 3,000-byte files each."""
    state = SimulatorState()
    state.default_scenario = Scenario(duration=0, files_per_batch=2, file_size=3000)
    dataset_id = state.create_dataset({"name": "Audience"})
    for segment in ("segment-a", "segment-b"):
        create(state, dataset_id, segment)
    return state


@pytest.fixture
def exports(tmp_path: Path, state: SimulatorState) -> Path:
    """Every file of every job in place, byte for byte, under its manifest."""
    (dataset_id,) = state.datasets
    for job_id in state.jobs:
        folder = tmp_path / dataset_id / str(job_id)
        listed = []
        for path, file in exported_files(state, job_id).items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(b"".join(file.read()))
            listed.append(ManifestFile(name=file.name, path=path, size=file.size, sha256=file.sha256()))
        batch = ManifestBatch(
            batch_id=listed[0].path.split("/")[0], status="success", records_written=None, files=listed
        )
        manifest = Manifest(job_id=str(job_id), dataset_id=dataset_id, batches=[batch])
        (folder / MANIFEST_NAME).write_text(manifest.model_dump_json())
    return tmp_path


def a_file(exports: Path) -> Path:
    return next(path for path in sorted(exports.rglob("*")) if path.is_file() and path.name != MANIFEST_NAME)


def test_a_complete_destination_passes(exports: Path, state: SimulatorState) -> None:
    assert landed_files(exports, state) == dict.fromkeys(state.jobs, 2)


def test_a_second_job_for_a_segment_is_counted(state: SimulatorState) -> None:
    assert duplicate_jobs(state) == 0
    create(state, next(iter(state.datasets)), "segment-a")
    assert duplicate_jobs(state) == 1


def test_an_export_without_its_job_is_lost(state: SimulatorState) -> None:
    first, second = (str(job_id) for job_id in sorted(state.jobs))
    assert lost_ids({0: first, 1: second}, state, 2) == []
    assert lost_ids({0: first}, state, 2) == [1]  # the create returned nothing
    assert lost_ids({0: first, 1: str(max(state.jobs) + 1)}, state, 2) == [1]  # an id AEP never made


def touch_after_the_manifest(exports: Path) -> None:
    file = a_file(exports)
    later = (file.parent.parent / MANIFEST_NAME).stat().st_mtime_ns + 1_000_000  # <job>/<batch>/<file>
    os.utime(file, ns=(later, later))


FILES, MANIFEST, LATE = r"^the files of job \d+", r"^the manifest of job \d+$", r"^a file of job \d+ after its manifest"


@pytest.mark.parametrize(
    ("damage", "caught_by"),
    [
        pytest.param(lambda exports: a_file(exports).unlink(), FILES, id="a file missing"),
        pytest.param(
            lambda exports: a_file(exports).write_bytes(a_file(exports).read_bytes()[:-1]), FILES, id="cut short"
        ),
        pytest.param(lambda exports: a_file(exports).write_bytes(b"x" * 3000), FILES, id="altered, same size"),
        pytest.param(
            lambda exports: (a_file(exports).parent / "stray.parquet").write_bytes(b""), FILES, id="a stray file"
        ),
        pytest.param(lambda exports: next(exports.rglob(MANIFEST_NAME)).unlink(), MANIFEST, id="no manifest"),
        pytest.param(touch_after_the_manifest, LATE, id="a file written after the manifest"),
    ],
)
def test_a_damaged_destination_fails(
    exports: Path, state: SimulatorState, damage: Callable[[Path], object], caught_by: str
) -> None:
    damage(exports)
    with pytest.raises(AssertionError, match=caught_by):
        landed_files(exports, state)


def test_a_manifest_listing_another_set_fails(exports: Path, state: SimulatorState) -> None:
    manifest_path = next(exports.rglob(MANIFEST_NAME))
    manifest = Manifest.model_validate_json(manifest_path.read_bytes())
    (batch,) = manifest.batches
    shorter = manifest.model_copy(update={"batches": [batch.model_copy(update={"files": batch.files[:1]})]})
    manifest_path.write_text(shorter.model_dump_json())
    with pytest.raises(AssertionError, match="lists other files"):
        landed_files(exports, state)
