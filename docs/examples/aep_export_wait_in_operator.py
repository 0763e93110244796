"""Recipe: create and wait in one task (``wait_for_completion=True``), deferred, ended by its trigger.

One task instead of two: simpler graphs, and a retry of the task re-attaches to the running job
instead of exporting again. With ``end_from_trigger=True`` the triggerer ends the task once the job
SUCCEEDED and its batches can be read, so the whole export costs one task process. Use the
separate sensor when other tasks should run between the two, or when waiting needs its own
timeout and retries.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_aep.operators.export_job import CreateExportJobOperator

with DAG(
    dag_id="aep_export_wait_in_operator",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    tags=["aep", "recipe"],
) as dag:
    export = CreateExportJobOperator(
        task_id="export_audience",
        dataset_id="5b7c86968f7b6501e21ba9df",
        segments=[{"id": "52c26d0d-45f2-47a2-ab30-ed06abc981ff", "namespace": "ups", "status": ["realized"]}],
        fields=["identities.id", "personalEmail.address"],
        wait_for_completion=True,
        deferrable=True,
        end_from_trigger=True,  # no worker resumes the task: the trigger leaves its XComs
        poll_interval=30,
        timeout=3 * 60 * 60,
    )

    @task
    def read_summary(ti: Any = None) -> dict[str, str]:
        """The summary is pushed under its own key; the return value stays the job id."""
        summary = ti.xcom_pull(task_ids="export_audience", key="export_job_summary")
        return dict(summary["batch_ids"])

    export >> read_summary()
