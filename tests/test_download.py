"""The export-to-object-storage operator against the simulator: layout, manifest, waits, re-runs."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, Asset
from fsspec.implementations.memory import MemoryFileSystem

from airflow_provider_aep.exceptions import AepApiError, AepConfigError, AepError, BatchFailedError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.simulator import Fault, Scenario, SimulatorServer
from airflow_provider_aep.simulator.files import CHUNK
from airflow_provider_aep.transfers.export_to_object_storage import AepExportToObjectStorageOperator
from airflow_provider_aep.transfers.resume import CHECK_BYTES
from airflow_provider_aep.triggers.batches import BatchesReadyTrigger
from airflow_provider_aep.wait.options import WaitOptions
from tests.airflow_compat import OutletEventAccessors, TaskDeferred, attach
from tests.task_context import task_context
from tests.test_watchers import logged

from .conftest import EXPORT_REQUEST, FAST_RETRIES

FAST = {"request_retry_delay": 0.01, "request_timeout": 5.0}
DATASET_ID = EXPORT_REQUEST["destination"]["datasetId"]


def finished_job(simulator: SimulatorServer, **scenario: Any) -> str:
    simulator.state.queue_scenarios(Scenario(polls_to_finish=1, **scenario))
    hook = AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES)
    job_id = hook.create_export_job(EXPORT_REQUEST).id
    assert hook.get_export_job(job_id).status == "SUCCEEDED"
    return job_id


def download(job_id: Any, destination: str, **kwargs: Any) -> dict[str, Any]:
    operator = AepExportToObjectStorageOperator(
        task_id="download_export",
        job_id=job_id,
        destination=destination,
        **{"deferrable": False, "poll_interval": 0.05, **FAST, **kwargs},
    )
    result: dict[str, Any] = operator.execute(task_context())
    return result


def test_every_file_lands_under_the_layout_with_a_manifest_written_last(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    job_id = finished_job(simulator, files_per_batch=3, exported_profiles=1000)
    result = download(job_id, f"file://{tmp_path}")
    folder = tmp_path / DATASET_ID / job_id
    batch_id = f"sim-batch-{job_id}"
    written = simulator.state.batch_files(batch_id)
    assert written is not None
    for file in written.files:
        landed = folder / batch_id / file.name
        assert hashlib.sha256(landed.read_bytes()).hexdigest() == file.sha256()
    manifest = json.loads((folder / "_manifest.json").read_text())
    assert (manifest["job_id"], manifest["dataset_id"], manifest["exported_profiles"]) == (job_id, DATASET_ID, 1000)
    (batch,) = manifest["batches"]
    assert (batch["batch_id"], batch["status"], batch["records_written"]) == (batch_id, "success", 1000)
    assert sorted(file["path"] for file in batch["files"]) == sorted(
        f"{batch_id}/{file.name}" for file in written.files
    )
    assert sum(file["records"] for file in batch["files"]) == 1000
    assert result == {
        "manifest": f"file://{folder}/_manifest.json",
        "files": 3,
        "bytes": sum(f.size for f in written.files),
        "records": 1000,
    }


def test_the_parquet_files_hold_the_exported_profiles(simulator: SimulatorServer, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    job_id = finished_job(simulator, files_per_batch=2, exported_profiles=1250)
    download(job_id, f"file://{tmp_path}")
    files = sorted((tmp_path / DATASET_ID / job_id).rglob("*.parquet"))
    assert len(files) == 2
    assert sum(pq.read_metadata(path).num_rows for path in files) == 1250


def test_a_rerun_downloads_nothing_again_and_repairs_a_damaged_file(simulator: SimulatorServer, tmp_path: Path) -> None:
    job_id = finished_job(simulator, files_per_batch=2, file_size=2048)
    download(job_id, f"file://{tmp_path}")
    downloads = simulator.state.count("requests:file_download")
    assert downloads == 2
    download(job_id, f"file://{tmp_path}")
    assert simulator.state.count("requests:file_download") == downloads  # both in place: none again
    damaged = next((tmp_path / DATASET_ID / job_id).rglob("*.bin"))
    damaged.write_bytes(b"partial")
    manifest = download(job_id, f"file://{tmp_path}")
    assert simulator.state.count("requests:file_download") == downloads + 1  # only the damaged one
    assert damaged.stat().st_size == 2048
    assert manifest["bytes"] == 4096


def test_a_drop_mid_file_resumes_and_the_bytes_are_identical(simulator: SimulatorServer, tmp_path: Path) -> None:
    job_id = finished_job(simulator, file_size=3 * CHUNK)
    simulator.state.inject(Fault("drop", route="file_download", after_bytes=CHUNK + 11))
    download(job_id, f"file://{tmp_path}")
    (landed,) = (tmp_path / DATASET_ID / job_id).rglob("*.bin")
    written = simulator.state.batch_files(f"sim-batch-{job_id}")
    assert written is not None
    assert hashlib.sha256(landed.read_bytes()).hexdigest() == written.files[0].sha256()
    manifest = json.loads((tmp_path / DATASET_ID / job_id / "_manifest.json").read_text())
    assert manifest["batches"][0]["files"][0]["sha256"] == written.files[0].sha256()
    assert simulator.state.count("requests:file_download") == 2


def landed_partial(simulator: SimulatorServer, tmp_path: Path, prefix: bytes | None = None) -> tuple[str, Path]:
    """A job of three files landed, then one of them cut as a worker killed mid-file leaves it:
    its first bytes (``prefix`` instead, when given) and no manifest."""
    job_id = finished_job(simulator, files_per_batch=3, file_size=3 * CHUNK)
    download(job_id, f"file://{tmp_path}")
    folder = tmp_path / DATASET_ID / job_id
    (folder / "_manifest.json").unlink()
    cut = sorted(folder.rglob("*.bin"))[1]
    cut.write_bytes(cut.read_bytes()[: CHUNK + 100] if prefix is None else prefix)
    return job_id, cut


def fetched_since(simulator: SimulatorServer, before: tuple[int, int]) -> tuple[int, int]:
    """Download requests and body bytes served since ``before`` (an earlier call with (0, 0))."""
    state = simulator.state
    now = (state.count("requests:file_download"), state.count("bytes:file_download"))
    return now[0] - before[0], now[1] - before[1]


def test_a_retry_completes_a_partial_file_and_fetches_only_its_rest(
    simulator: SimulatorServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    job_id, cut = landed_partial(simulator, tmp_path)
    before = fetched_since(simulator, (0, 0))
    with caplog.at_level("INFO"):
        result = download(job_id, f"file://{tmp_path}")
    text = logged(caplog, capfd)
    written = simulator.state.batch_files(f"sim-batch-{job_id}")
    assert written is not None
    landed = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in cut.parent.glob("*.bin")}
    assert landed == {file.name: file.sha256() for file in written.files}
    manifest = json.loads((tmp_path / DATASET_ID / job_id / "_manifest.json").read_text())
    assert {file["name"]: file["sha256"] for file in manifest["batches"][0]["files"]} == landed
    assert result["bytes"] == 9 * CHUNK
    # One request, for the rest of the cut file and the overlap that vouches for its prefix; the
    # two complete files are read from disk, not fetched.
    assert fetched_since(simulator, before) == (1, 3 * CHUNK - (CHUNK + 100) + CHECK_BYTES)
    assert f"Resuming {cut.parent.name}/{cut.name}: {CHUNK + 100} of {3 * CHUNK} bytes" in text
    assert "2 file(s) were already in place" in text
    assert "1 partial file(s) resumed" in text


def test_a_partial_file_whose_bytes_are_not_aeps_is_downloaded_whole(
    simulator: SimulatorServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    job_id, cut = landed_partial(simulator, tmp_path, prefix=b"x" * (CHUNK + 100))
    before = fetched_since(simulator, (0, 0))
    with caplog.at_level("INFO"):
        download(job_id, f"file://{tmp_path}")
    text = logged(caplog, capfd)
    written = simulator.state.batch_files(f"sim-batch-{job_id}")
    assert written is not None
    (expected,) = (file for file in written.files if file.name == cut.name)
    assert hashlib.sha256(cut.read_bytes()).hexdigest() == expected.sha256()
    assert fetched_since(simulator, before)[0] == 2  # the check that failed, then the whole file
    assert "are not AEP's: downloading it whole" in text


def test_on_a_filesystem_that_cannot_append_a_partial_file_is_downloaded_whole(
    simulator: SimulatorServer, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    job_id = finished_job(simulator, file_size=3 * CHUNK)
    fs = MemoryFileSystem()
    attach(protocol="memory", fs=fs)  # an object store's behaviour: it writes a file whole, never appends
    root = f"memory://aep-resume-{job_id}"
    download(job_id, root)
    (cut,) = (path for path in fs.find(root) if path.endswith(".bin"))
    fs.pipe_file(cut, fs.cat_file(cut)[: CHUNK + 100])
    before = fetched_since(simulator, (0, 0))
    with caplog.at_level("INFO"):
        download(job_id, root)
    text = logged(caplog, capfd)
    written = simulator.state.batch_files(f"sim-batch-{job_id}")
    assert written is not None
    assert hashlib.sha256(fs.cat_file(cut)).hexdigest() == written.files[0].sha256()
    assert fetched_since(simulator, before) == (1, 3 * CHUNK)
    assert f"an earlier try left {CHUNK + 100} of {3 * CHUNK} bytes" in text


def test_the_sensors_summary_is_taken_as_the_job(simulator: SimulatorServer, tmp_path: Path) -> None:
    job_id = finished_job(simulator)
    result = download({"job_id": job_id, "status": "SUCCEEDED"}, f"file://{tmp_path}")
    assert result["files"] == 1


def test_an_unreadable_batch_is_waited_for_in_the_worker(simulator: SimulatorServer, tmp_path: Path) -> None:
    job_id = finished_job(simulator, batch_checks_to_ready=3)
    download(job_id, f"file://{tmp_path}")
    assert (tmp_path / DATASET_ID / job_id / "_manifest.json").exists()
    # Three answers "loading", then the ready one, whose record the manifest uses.
    assert simulator.state.batch_checks[f"sim-batch-{job_id}"] == 4


def test_an_unreadable_batch_defers_and_the_trigger_says_when_to_resume(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    job_id = finished_job(simulator, batch_checks_to_ready=2)
    operator = AepExportToObjectStorageOperator(
        task_id="download_export",
        job_id=job_id,
        destination=f"file://{tmp_path}",
        deferrable=True,
        poll_interval=0.05,
        **FAST,
    )
    context = task_context()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, BatchesReadyTrigger)
    _, kwargs = trigger.serialize()
    rebuilt = BatchesReadyTrigger(**json.loads(json.dumps(kwargs)))

    async def run() -> list[dict[str, Any]]:
        return [event.payload async for event in rebuilt.run()]

    (event,) = asyncio.run(run())
    assert event["status"] == "success"
    result = operator.execute_complete(context, event)
    assert result["files"] == 1


def test_a_failed_batch_fails_the_task_with_its_errors(simulator: SimulatorServer, tmp_path: Path) -> None:
    errors = ({"code": "INGEST-1212-400", "description": "Row size exceeds the limit", "rows": "[7]"},)
    job_id = finished_job(simulator, batch_status="failed", batch_errors=errors)
    with pytest.raises(BatchFailedError, match=rf"batch sim-batch-{job_id} is failed: \[INGEST-1212-400\] Row size"):
        download(job_id, f"file://{tmp_path}")
    assert simulator.state.count("requests:file_download") == 0


def test_a_batch_that_stays_unreadable_times_out(simulator: SimulatorServer, tmp_path: Path) -> None:
    job_id = finished_job(simulator, batch_checks_to_ready=1000)
    with pytest.raises(AirflowSensorTimeout, match=f"sim-batch-{job_id}"):
        download(job_id, f"file://{tmp_path}", timeout=0.3)


def test_a_job_that_has_not_succeeded_is_refused(simulator: SimulatorServer, tmp_path: Path) -> None:
    simulator.state.queue_scenarios(Scenario(duration=60))
    job_id = AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES).create_export_job(EXPORT_REQUEST).id
    with pytest.raises(AepError, match=f"export job {job_id} is NEW; only a SUCCEEDED job"):
        download(job_id, f"file://{tmp_path}")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"job_id": "12a"}, "job_id must be a numeric AEP export job id"),
        ({"job_id": {"status": "SUCCEEDED"}}, "job_id must be a numeric AEP export job id"),
        ({"destination": "/tmp/out"}, "destination must be an ObjectStoragePath or a URI"),
        ({"destination": "nosuchfs://bucket/x"}, "destination must be an ObjectStoragePath or a URI"),
        ({"max_concurrency": 0}, "max_concurrency must be a whole number from 1 to 32"),
        ({"max_concurrency": 100}, "max_concurrency must be a whole number from 1 to 32"),
        ({"poll_interval": -1}, "poll_interval must be a positive number"),
        ({"timeout": float("nan")}, "timeout must be a positive number"),
        ({"readable_batch_statuses": "success"}, "readable_batch_statuses must be a list of batch statuses"),
    ],
)
def test_bad_arguments_are_refused_with_no_request(
    simulator: SimulatorServer, tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    arguments = {"job_id": "1000", "destination": f"file://{tmp_path}", **kwargs}
    with pytest.raises(AepConfigError, match=f"Task 'download_export': {message}"):
        download(**arguments)
    assert simulator.state.count("requests") == 0


def test_the_trigger_reports_a_failed_batch(simulator: SimulatorServer) -> None:
    job_id = finished_job(simulator, batch_status="aborted")
    trigger = BatchesReadyTrigger(
        [f"sim-batch-{job_id}"], options=WaitOptions(request_retry_delay=0.01), poll_interval=0.05
    )

    async def run() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    (event,) = asyncio.run(run())
    assert event["status"] == "failed"
    assert f"batch sim-batch-{job_id} is aborted" in event["message"]


def test_a_rerun_removes_the_old_manifest_and_a_failed_file_leaves_none(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    job_id = finished_job(simulator, files_per_batch=3, file_size=4096)
    download(job_id, f"file://{tmp_path}")
    manifest = tmp_path / DATASET_ID / job_id / "_manifest.json"
    assert manifest.exists()
    for landed in (tmp_path / DATASET_ID / job_id).rglob("*.bin"):
        landed.write_bytes(b"damaged")  # every file must be downloaded again
    simulator.state.inject(Fault("status", route="file_download", status=403, times=None))  # for good
    with pytest.raises(AepApiError, match="HTTP 403"):
        download(job_id, f"file://{tmp_path}", max_concurrency=1)
    assert not manifest.exists()  # the old one no longer vouches for files that were being rewritten
    assert simulator.state.count("requests:file_download") == 3 + 1  # the first failure stopped the rest


def test_a_hostile_dataset_id_in_the_job_record_never_reaches_a_path(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    job_id = finished_job(simulator)
    simulator.state.jobs[int(job_id)].body["destination"]["datasetId"] = "../../escaped"
    with pytest.raises(AepError, match=r"names a dataset id that is not a usable AEP id, '\.\./\.\./escaped'"):
        download(job_id, f"file://{tmp_path / 'out'}")
    assert not (tmp_path / "escaped").exists()
    assert list(tmp_path.rglob("*")) == []


def test_an_outlet_on_the_destination_gets_the_landed_figures(simulator: SimulatorServer, tmp_path: Path) -> None:
    job_id = finished_job(simulator, files_per_batch=2)
    destination = Asset(f"file://{tmp_path}")
    events = OutletEventAccessors()
    operator = AepExportToObjectStorageOperator(
        task_id="download_export",
        job_id=job_id,
        destination=f"file://{tmp_path}",
        deferrable=False,
        outlets=[destination],
        **FAST,
    )
    result = operator.execute(task_context(outlet_events=events))
    assert events[destination].extra == {"job_id": job_id, **result}
    assert result["files"] == 2


@pytest.mark.parametrize("concurrency", [1, 3])
def test_no_more_files_download_at_once_than_max_concurrency(
    simulator: SimulatorServer, tmp_path: Path, concurrency: int
) -> None:
    job_id = finished_job(simulator, files_per_batch=6, file_size=64)
    simulator.state.inject(Fault("slow", route="file_download", delay=0.3, times=None))
    download(job_id, f"file://{tmp_path}", max_concurrency=concurrency)
    most = simulator.state.most_in_flight("file_download")
    assert most <= concurrency  # the bound
    assert most == 1 if concurrency == 1 else most > 1  # and downloads do run side by side
