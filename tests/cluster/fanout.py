"""What the fan-out scenarios share: the cluster DAGs' names, starting a run, and the checks every
scenario ends with (one job per segment, the ids the creates returned, every landed file whole)."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from pathlib import Path
from typing import Any

from airflow_provider_aep.simulator import SimulatorState
from airflow_provider_aep.simulator.files import SimulatedFile
from airflow_provider_aep.transfers.manifest import MANIFEST_NAME, Manifest
from tests.cluster.cluster import Cluster
from tests.cluster.deployment import settings
from tests.e2e.airflow_stack import wait_until

FANOUT = "aep_cluster_fanout"
LEAN = "aep_cluster_fanout_lean"
# The fan-out's tasks, in its mapped task group: one of each per segment.
CREATE = "export.create_export_job"
WAIT = "export.wait_for_export"
DOWNLOAD = "export.download_export"
# The recommended shape's tasks: create-and-wait, then the download.
LEAN_CREATE = "export_and_land.create_export_job"
LEAN_DOWNLOAD = "export_and_land.download_export"
# [triggerer] triggerer_health_check_threshold: a wait moves once its triggerer missed this long.
TAKEOVER_THRESHOLD = int(settings("", "", "")["AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD"])
# What a take-over may add to that: the survivor's next loop and the database, on a loaded machine.
TAKEOVER_SLACK = 10
# Each DAG's mapped tasks, the create first.
TASKS = {FANOUT: (CREATE, WAIT, DOWNLOAD), LEAN: (LEAN_CREATE, LEAN_DOWNLOAD)}


def fan_out(cluster: Cluster, segments: int) -> str:
    return cluster.stack.trigger(FANOUT, {"segments": segments})


def held(
    cluster: Cluster, run_id: str, count: int, task_id: str, not_by: frozenset[int] = frozenset()
) -> dict[int, int]:
    """Map index -> triggerer job, once all ``count`` instances of a fan-out task are deferred and
    held, none by the triggerer jobs in ``not_by`` (a killed one's); until then empty."""
    waits = cluster.held_waits(FANOUT, run_id, task_id)
    if len(waits) != count or None in waits.values() or not_by & set(waits.values()):
        return {}
    return {index: job for index, job in waits.items() if job is not None}


def all_deferred(cluster: Cluster, run_id: str, count: int, task_id: str = WAIT) -> dict[int, int]:
    """Waits until all ``count`` instances of a fan-out task are deferred and held by a triggerer:
    map index -> the triggerer job holding it."""
    waits: dict[int, int] = wait_until(
        lambda: held(cluster, run_id, count, task_id), 300, f"{count} of {task_id} to be deferred and held", interval=1
    )
    return waits


def taken_over(cluster: Cluster, run_id: str, count: int, task_id: str, killed: frozenset[int]) -> float:
    """Waits until every wait a killed triggerer held is held by another; asserts it took no longer
    than ``triggerer_health_check_threshold`` allows, and returns the seconds it took."""
    killed_at = time.monotonic()
    wait_until(
        lambda: held(cluster, run_id, count, task_id, not_by=killed),
        TAKEOVER_THRESHOLD + 60,  # on a timeout, the assertion below would fail anyway
        f"the waits of triggerer jobs {sorted(killed)} to move",
    )
    seconds = time.monotonic() - killed_at
    # Counted from the kill, so it is the threshold minus the age of the last heartbeat, plus a loop.
    assert seconds <= TAKEOVER_THRESHOLD + TAKEOVER_SLACK, seconds
    return seconds


def created_job_ids(cluster: Cluster, run_id: str, dag_id: str = FANOUT, task_id: str = CREATE) -> dict[int, str]:
    """Map index -> the job id the create task returned (its XCom, straight from the database)."""
    rows = cluster.query(
        "SELECT map_index, value FROM xcom WHERE dag_id = %s AND run_id = %s AND task_id = %s AND key = 'return_value'",
        dag_id,
        run_id,
        task_id,
    )
    return {index: str(value) for index, value in rows}


def batch_ids(state: SimulatorState, job_id: int) -> list[str]:
    """The batches a SUCCEEDED job wrote, as its record names them."""
    record = state.job_record(job_id)
    assert record is not None
    destination = record["destination"]
    return [batch["batchId"] for batch in destination.get("batches") or [destination]]


def exported_files(state: SimulatorState, job_id: int) -> dict[str, SimulatedFile]:
    """What a SUCCEEDED job wrote, by the path its download lands it at (batch id / file name)."""
    files: dict[str, SimulatedFile] = {}
    for batch_id in batch_ids(state, job_id):
        written = state.batch_files(batch_id)
        assert written is not None
        files |= {f"{batch_id}/{file.name}": file for file in written.files}
    return files


def succeeded_jobs(state: SimulatorState) -> list[int]:
    return [job_id for job_id in sorted(state.jobs) if (state.job_record(job_id) or {}).get("status") == "SUCCEEDED"]


def landed_files(exports: Path, state: SimulatorState) -> dict[int, int]:
    """Checks that every file of every SUCCEEDED job is in the destination, byte for byte, under a
    manifest written after them that lists exactly them, and nothing else is: job id -> files landed. The runs share
    one dataset."""
    (dataset_id,) = state.datasets
    landed: dict[int, int] = {}
    for job_id in succeeded_jobs(state):
        folder = exports / dataset_id / str(job_id)
        expected = {path: file.sha256() for path, file in exported_files(state, job_id).items()}
        files = [path for path in folder.rglob("*") if path.is_file() and path.name != MANIFEST_NAME]
        found = {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}
        assert found == expected, f"the files of job {job_id}"
        assert (folder / MANIFEST_NAME).is_file(), f"the manifest of job {job_id}"
        # Written last: a reader that finds the manifest must find every file already complete.
        written = (folder / MANIFEST_NAME).stat().st_mtime_ns
        assert all(path.stat().st_mtime_ns <= written for path in files), f"a file of job {job_id} after its manifest"
        manifest = Manifest.model_validate_json((folder / MANIFEST_NAME).read_bytes())
        listed = {file.path: file.sha256 for batch in manifest.batches for file in batch.files}
        assert listed == expected, f"the manifest of job {job_id} lists other files"
        landed[job_id] = len(found)
    return landed


def duplicate_jobs(state: SimulatorState) -> int:
    """Jobs beyond the first for any segment: each export's segments are its own."""
    segments = Counter(
        segment["segmentId"] for job in state.jobs.values() for segment in job.body["filter"]["segments"]
    )
    return segments.total() - len(segments)


def lost_ids(created: dict[int, str], state: SimulatorState, exports: int) -> list[int]:
    """Map indexes whose create returned no id, or one AEP never made: an export nobody can find."""
    return [index for index in range(exports) if int(created.get(index, -1)) not in state.jobs]


def settle(cluster: Cluster, state: SimulatorState, run_id: str, exports: int, dag_id: str = LEAN) -> dict[str, Any]:
    """The end every failure scenario must reach, asserted: each task instance of the run
    succeeded, one job per segment and none cancelled, each create's XCom a job AEP has, and every
    file landed whole. Returns the scenario's figures."""
    tasks = TASKS[dag_id]
    false_outcomes = {
        (task_id, index): outcome
        for task_id in tasks
        for index, outcome in cluster.task_column(dag_id, run_id, task_id, "state").items()
        if outcome != "success"
    }
    duplicates = duplicate_jobs(state)
    created = created_job_ids(cluster, run_id, dag_id, tasks[0])
    lost = lost_ids(created, state, exports)
    assert (duplicates, lost, false_outcomes) == (0, [], {}), f"{duplicates=}, {lost=}, {false_outcomes=}"
    assert len(state.jobs) - duplicates == exports
    assert state.count("jobs_cancelled") == 0
    landed = landed_files(cluster.exports, state)
    assert sorted(landed) == sorted(state.jobs)
    exported = sum(file.size for job_id in landed for file in exported_files(state, job_id).values())
    return {
        "jobs created / duplicates / cancelled": f"{state.count('jobs_created')} / {duplicates} / "
        f"{state.count('jobs_cancelled')}",
        "lost ids / false outcomes": f"{len(lost)} / {len(false_outcomes)}",
        "files landed and verified (with their manifests)": sum(landed.values()),
        "bytes fetched again": f"{state.count('bytes:file_download') - exported:,}",
    }
