"""Nightly export of AEP audience members, landed as Parquet files in object storage.

Every night at 02:00 UTC this DAG runs Adobe's "Export data with APIs" tutorial end to end:
1. ensures the destination dataset on the profile union schema (found by name, made once);
2. creates a segment export job for the profiles that qualified for the chosen segments during the
   run's data interval (yesterday 02:00 to today 02:00);
3. waits for it in the triggerer (no worker slot held, minutes to hours);
4. downloads every exported file into object storage, with a manifest written last;
5. reads the Parquet files, as a downstream job would.

Set up once:
- an Airflow connection ``aep_default`` of type "Adobe Experience Platform" (OAuth Server-to-Server
  client id and secret, IMS org id, sandbox); see the provider's README;
- the destination, e.g. ``s3://my-bucket/aep`` with an ``aws_default`` connection, or
  ``gs://my-bucket/aep`` with ``google_cloud_default``: Airflow's object storage picks the
  credentials from ``destination_conn_id``;
- the dataset name and segment ids below, or override them per run ("Trigger DAG w/ config").
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.providers.common.compat.sdk import DAG, ObjectStoragePath, Param, task

try:  # Airflow 3.2+
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 2.11 to 3.1
    from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_aep.operators.dataset import CreateProfileDatasetOperator
from airflow_provider_aep.operators.export_job import CreateExportJobOperator
from airflow_provider_aep.sensors.export_job import ExportJobSensor
from airflow_provider_aep.transfers.export_to_object_storage import AepExportToObjectStorageOperator

with DAG(
    dag_id="aep_nightly_segment_export",
    description="Export yesterday's segment qualifications from AEP into object storage as Parquet",
    # A data-interval timetable (not a bare cron string, which Airflow 3 runs with a zero-width
    # interval): each run covers yesterday 02:00 to today 02:00 UTC, so exports never overlap or skip.
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["aep", "export"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    params={
        "dataset_name": Param("Nightly audience export", type="string", description="Destination dataset's name"),
        "segment_ids": Param(
            ["52c26d0d-45f2-47a2-ab30-ed06abc981ff"],
            type="array",
            items={"type": "string"},
            description="Segments (audiences) whose members are exported",
        ),
        "destination": Param(
            "file:///tmp/aep-exports",
            type="string",
            description="Where the Parquet files land: s3://..., gs://..., abfs://..., file://...",
        ),
    },
    # Lets "{{ params.segment_ids }}" render as a list rather than its text.
    render_template_as_native_obj=True,
) as dag:
    ensure_dataset = CreateProfileDatasetOperator(
        task_id="ensure_dataset",
        dataset_name="{{ params.dataset_name }}",
        description="Members of the nightly audiences, written by export jobs",
    )

    create_export_job = CreateExportJobOperator(
        task_id="create_export_job",
        dataset_id=ensure_dataset.output,
        segments="{{ params.segment_ids }}",
        # Members who qualified during this run's data interval; every run exports its own window.
        segment_qualification_start="{{ data_interval_start }}",
        segment_qualification_end="{{ data_interval_end }}",
        fields="identities.id,personalEmail.address",
    )

    wait_for_export = ExportJobSensor(
        task_id="wait_for_export",
        job_id="{{ ti.xcom_pull(task_ids='create_export_job') }}",
        deferrable=True,  # wait in the triggerer, not in a worker slot
        poke_interval=30,
        timeout=timedelta(hours=3).total_seconds(),  # then the job is cancelled and the task fails
    )

    download_export = AepExportToObjectStorageOperator(
        task_id="download_export",
        job_id=wait_for_export.output,  # the sensor's summary: job id, dataset, batches
        destination="{{ params.destination }}",
        deferrable=True,  # batches still being written are waited for in the triggerer
        max_concurrency=4,
    )

    @task
    def read_exported_profiles(landed: dict[str, Any]) -> int:
        """What a downstream job does: read the Parquet files the manifest lists, and count their rows."""
        import json

        import pyarrow.parquet as pq

        manifest_path = ObjectStoragePath(landed["manifest"])
        manifest = json.loads(manifest_path.read_text())
        rows = 0
        for batch in manifest["batches"]:
            for file in batch["files"]:
                with (manifest_path.parent / file["path"]).open("rb") as parquet:
                    rows += pq.read_metadata(parquet).num_rows
        print(
            f"AEP export landed: job {manifest['job_id']}, {landed['files']} file(s), {rows} rows, "
            f"manifest {landed['manifest']}"
        )
        return rows

    ensure_dataset >> create_export_job >> wait_for_export >> download_export
    read_exported_profiles(download_export.output)
