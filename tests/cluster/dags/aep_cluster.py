"""The cluster tests' DAGs: the nightly flow fanned out over many segments, exports through a
pool that caps jobs, and the long waits.

They use the production settings the deployment guide describes: the export tasks share the
``aep_exports`` pool (deferred waits included), the create retries, the waits and the download
defer. The fan-out comes in two shapes: a task per step (create, sensor, download), and the
recommended one, create-and-wait ending in the triggerer, then the download.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.providers.common.compat.sdk import DAG, Param, task, task_group

from airflow_provider_aep.operators.dataset import CreateProfileDatasetOperator
from airflow_provider_aep.operators.export_job import CreateExportJobOperator
from airflow_provider_aep.sensors.export_job import ExportJobSensor
from airflow_provider_aep.transfers.export_to_object_storage import AepExportToObjectStorageOperator

DATASET_ID = "5b7c86968f7b6501e21ba9df"  # the destination of the DAGs that do not make their own
DATASET_NAME = "Cluster audience export"
# Where the downloads land: a deployment-wide Variable (the harness sets it to its own folder).
DESTINATION = "{{ var.value.aep_export_destination }}"
# The pool tests/cluster/deployment.py creates. Not imported from there: a DAG file that imports the
# tests package would point AIRFLOW_HOME at the unit tests' folder.
POOL = "aep_exports"
# Shorter than the simulator's slow answers in the fault scenario, so those become timeouts, and
# long enough for the worker-death test to kill a worker inside a held create.
REQUESTS: dict[str, Any] = {"request_timeout": 10.0, "request_retry_limit": 8, "request_retry_delay": 0.5}
# The tasks that may safely run again: the dataset and the create find what a lost try made, the
# download keeps the files already in place.
RETRIED: dict[str, Any] = {"retries": 2, "retry_delay": timedelta(seconds=1)}
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def segment_id(index: int) -> str:
    return f"00000000-0000-4000-8000-{index:012d}"


@task
def segment_lists(params: dict[str, Any]) -> list[list[str]]:
    """One export job per segment: the usual shape when each audience lands on its own."""
    return [[segment_id(index)] for index in range(params["segments"])]


def mapped_exports(dag_id: str, segments: int) -> DAG:
    """A DAG whose exports map over ``segments`` segments by default (a run's conf may say how many)."""
    return DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=START,
        max_active_tasks=32,
        params={"segments": Param(segments, type="integer", minimum=1)},
    )


@task_group
def export(dataset_id: str, segments: list[str]) -> None:
    """One segment's export, from its job to its files. Mapped as a group, each segment's chain
    stands alone: mapping each task over the previous one's output would leave every download
    unrun once any one export failed."""
    create = CreateExportJobOperator(
        task_id="create_export_job",
        dataset_id=dataset_id,
        segments=segments,
        pool=POOL,
        **RETRIED,
        **REQUESTS,
    )
    wait = ExportJobSensor(
        task_id="wait_for_export",
        job_id=create.output,
        deferrable=True,
        poke_interval=5,
        timeout=1800,
        pool=POOL,
        **REQUESTS,
    )
    AepExportToObjectStorageOperator(
        task_id="download_export",
        job_id=wait.output,
        destination=DESTINATION,
        deferrable=True,  # batches still being written are waited for in a triggerer
        poll_interval=2,
        timeout=600,
        **RETRIED,
        **REQUESTS,
    )


@task_group
def export_and_land(dataset_id: str, segments: list[str]) -> None:
    """The shape docs/deployment.md recommends: two task processes per export. The create waits
    deferred and its trigger ends the task once the batches can be read, so no worker resumes it,
    and the download then starts on readable batches and has nothing to wait for."""
    create = CreateExportJobOperator(
        task_id="create_export_job",
        dataset_id=dataset_id,
        segments=segments,
        wait_for_completion=True,
        deferrable=True,
        end_from_trigger=True,
        poll_interval=5,
        timeout=1800,
        pool=POOL,
        **RETRIED,
        **REQUESTS,
    )
    AepExportToObjectStorageOperator(
        task_id="download_export",
        job_id=create.output,
        destination=DESTINATION,
        deferrable=True,
        poll_interval=2,
        timeout=600,
        **RETRIED,
        **REQUESTS,
    )


with mapped_exports("aep_cluster_fanout", segments=100):
    # Adobe's tutorial, fanned out: one dataset, then per segment a job, its wait and its download.
    ensure_dataset = CreateProfileDatasetOperator(
        task_id="ensure_dataset", dataset_name=DATASET_NAME, **RETRIED, **REQUESTS
    )
    export.partial(dataset_id=ensure_dataset.output).expand(segments=segment_lists())

with mapped_exports("aep_cluster_fanout_lean", segments=100):
    # The same export, in the recommended shape.
    ensure_dataset = CreateProfileDatasetOperator(
        task_id="ensure_dataset", dataset_name=DATASET_NAME, **RETRIED, **REQUESTS
    )
    export_and_land.partial(dataset_id=ensure_dataset.output).expand(segments=segment_lists())

with mapped_exports("aep_cluster_pooled", segments=9):
    # Create and wait in one task: its pool slot is held from the create to the job's end, so the
    # pool's slots cap the organisation's running jobs exactly.
    CreateExportJobOperator.partial(
        task_id="export",
        dataset_id=DATASET_ID,
        wait_for_completion=True,
        deferrable=True,
        poll_interval=2,
        timeout=600,
        pool=POOL,
        retries=2,
        **REQUESTS,
    ).expand(segments=segment_lists())

with DAG(dag_id="aep_cluster_long_wait", schedule=None, start_date=START):
    # Waits longer than the tokens live: one in the triggerer, one in the worker.
    create = CreateExportJobOperator(
        task_id="create_export_job", dataset_id=DATASET_ID, segments=[segment_id(0)], pool=POOL, **REQUESTS
    )
    create >> ExportJobSensor(
        task_id="wait_for_export",
        job_id=create.output,
        deferrable=True,
        poke_interval=3,
        timeout=600,
        pool=POOL,
        **REQUESTS,
    )
    CreateExportJobOperator(
        task_id="export_and_wait_in_worker",
        dataset_id=DATASET_ID,
        segments=[segment_id(1)],
        wait_for_completion=True,
        deferrable=False,
        poll_interval=3,
        timeout=600,
        pool=POOL,
        **REQUESTS,
    )
