"""A fast-polling export DAG for the real-Airflow end-to-end tests."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import DAG

from airflow_provider_aep.operators.export_job import CreateExportJobOperator
from airflow_provider_aep.sensors.export_job import ExportJobSensor

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
