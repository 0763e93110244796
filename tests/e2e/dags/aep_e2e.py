"""A fast-polling export DAG for the real-Airflow end-to-end tests."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_aep.operators.export_job import CreateExportJobOperator
from airflow_provider_aep.sensors.export_job import ExportJobSensor
from airflow_provider_aep.transfers.export_to_object_storage import AepExportToObjectStorageOperator

with DAG(dag_id="aep_e2e_export", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)) as dag:
    create = CreateExportJobOperator(
        task_id="create_export_job",
        dataset_id="5b7c86968f7b6501e21ba9df",
        segments=["52c26d0d-45f2-47a2-ab30-ed06abc981ff"],
    )
    wait = ExportJobSensor(
        task_id="wait_for_export",
        job_id="{{ ti.xcom_pull(task_ids='create_export_job') }}",
        deferrable=True,
        poke_interval=1,
        timeout=600,
    )
    create >> wait

with DAG(
    dag_id="aep_e2e_ends_in_triggerer",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    params={"destination": "file:///tmp/aep-e2e"},
) as ends_in_triggerer:
    # The recommended shape: create and wait in one task, which its trigger ends, then the download,
    # and a task that reads what the trigger left in XCom.
    export = CreateExportJobOperator(
        task_id="export",
        dataset_id="5b7c86968f7b6501e21ba9df",
        segments=["52c26d0d-45f2-47a2-ab30-ed06abc981ff"],
        wait_for_completion=True,
        deferrable=True,
        end_from_trigger=True,
        poll_interval=1,
        timeout=600,
    )
    land = AepExportToObjectStorageOperator(
        task_id="download_export", job_id=export.output, destination="{{ params.destination }}"
    )

    @task
    def exported_profiles(ti: Any = None) -> int:
        return int(ti.xcom_pull(task_ids="export", key="export_job_summary")["exported_profiles"])

    land >> exported_profiles()
