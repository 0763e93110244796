"""The cluster tests' DAGs: a nightly export fanned out over many segments, the same through a
pool that caps jobs, and the long waits.

They use the production shape the deployment guide describes: the export tasks share the
``aep_exports`` pool (deferred waits included), the create retries, the sensor defers.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_aep.operators.export_job import CreateExportJobOperator
from airflow_provider_aep.sensors.export_job import ExportJobSensor

DATASET_ID = "5b7c86968f7b6501e21ba9df"
# The pool tests/cluster/deployment.py creates. Not imported from there: a DAG file that imports the
# tests package would point AIRFLOW_HOME at the unit tests' folder.
POOL = "aep_exports"
# Shorter than the simulator's slow answers in the fault scenario, so those become timeouts, and
# long enough for the worker-death test to kill a worker inside a held create.
REQUESTS: dict[str, Any] = {"request_timeout": 10.0, "request_retry_limit": 8, "request_retry_delay": 0.5}
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


with mapped_exports("aep_cluster_fanout", segments=100):
    create = CreateExportJobOperator.partial(
        task_id="create_export_job",
        dataset_id=DATASET_ID,
        pool=POOL,
        retries=2,
        retry_delay=timedelta(seconds=1),
        **REQUESTS,
    ).expand(segments=segment_lists())
    ExportJobSensor.partial(
        task_id="wait_for_export",
        deferrable=True,
        poke_interval=5,
        timeout=1800,
        pool=POOL,
        **REQUESTS,
    ).expand(job_id=create.output)

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
