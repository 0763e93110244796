"""Nightly export of AEP audience members into a dataset, for downstream jobs to read.

Every night at 02:00 UTC this DAG:
1. creates a segment export job for the profiles that qualified for the chosen segments during the
   run's data interval (yesterday 02:00 to today 02:00),
2. waits for it in the triggerer (no worker slot held, minutes to hours),
3. logs the batch ids the export wrote, which downstream readers fetch through AEP's Data Access API.

Set up once:
- an Airflow connection ``aep_default`` of type "Adobe Experience Platform" (OAuth Server-to-Server
  client id and secret, IMS org id, sandbox); see the provider's README;
- the dataset and segment ids below, or override them per run ("Trigger DAG w/ config").
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.providers.common.compat.sdk import DAG, Param, task

try:  # Airflow 3.2+
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 2.11 to 3.1
    from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_aep.operators.export_job import CreateExportJobOperator
from airflow_provider_aep.sensors.export_job import ExportJobSensor

with DAG(
    dag_id="aep_nightly_segment_export",
    description="Export yesterday's segment qualifications from AEP into a dataset",
    # A data-interval timetable (not a bare cron string, which Airflow 3 runs with a zero-width
    # interval): each run covers yesterday 02:00 to today 02:00 UTC, so exports never overlap or skip.
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["aep", "export"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    params={
        # The dataset must be based on the XDM Individual Profile union schema.
        "dataset_id": Param("5b7c86968f7b6501e21ba9df", type="string", description="Destination dataset id"),
        "segment_ids": Param(
            ["52c26d0d-45f2-47a2-ab30-ed06abc981ff"],
            type="array",
            items={"type": "string"},
            description="Segments (audiences) whose members are exported",
        ),
    },
    # Lets "{{ params.segment_ids }}" render as a list rather than its text.
    render_template_as_native_obj=True,
) as dag:
    create_export_job = CreateExportJobOperator(
        task_id="create_export_job",
        aep_conn_id="aep_default",
        dataset_id="{{ params.dataset_id }}",
        segments="{{ params.segment_ids }}",
        # Members who qualified during this run's data interval; every run exports its own window.
        segment_qualification_start="{{ data_interval_start }}",
        segment_qualification_end="{{ data_interval_end }}",
        fields="identities.id,personalEmail.address",
    )

    wait_for_export = ExportJobSensor(
        task_id="wait_for_export",
        aep_conn_id="aep_default",
        job_id="{{ ti.xcom_pull(task_ids='create_export_job') }}",
        deferrable=True,  # wait in the triggerer, not in a worker slot
        poke_interval=30,
        timeout=timedelta(hours=3).total_seconds(),  # then the job is cancelled and the task fails
    )

    @task
    def report_batches(summary: dict[str, Any]) -> dict[str, str]:
        """Downstream readers fetch these batches: GET /data/foundation/export/batches/{batchId}/files."""
        print(
            f"AEP export summary: job {summary['job_id']} {summary['status']}; "
            f"{summary['exported_profiles']} profiles exported into dataset {summary['dataset_id']}; "
            f"batch ids {summary['batch_ids']}"
        )
        return dict(summary["batch_ids"])

    create_export_job >> wait_for_export
    report_batches(wait_for_export.output)
