"""Recipe: one batch per segment, landed in object storage, each segment's files in its own folder.

With ``segment_per_batch=True`` AEP writes one batch per segment. The download operator lands every
batch under ``{destination}/{dataset_id}/{job_id}/{batch_id}/`` and lists them all in one manifest;
the sensor's summary maps each segment to its batch, so downstream work can find a segment's files.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_aep.operators.export_job import CreateExportJobOperator
from airflow_provider_aep.sensors.export_job import ExportJobSensor
from airflow_provider_aep.transfers.export_to_object_storage import AepExportToObjectStorageOperator

# Where the files land; in production an s3://, gs:// or abfs:// URI with a destination_conn_id.
DESTINATION = os.environ.get("AEP_RECIPE_DESTINATION", f"file://{tempfile.gettempdir()}/aep-recipe")

with DAG(
    dag_id="aep_land_batches_per_segment",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    tags=["aep", "recipe"],
) as dag:
    create = CreateExportJobOperator(
        task_id="create_export_job",
        dataset_id="5b7c86968f7b6501e21ba9df",
        segments=["segment-a", "segment-b"],
        segment_per_batch=True,  # one batch per segment
    )
    wait = ExportJobSensor(task_id="wait_for_export", job_id=create.output, deferrable=True, poke_interval=30)
    land = AepExportToObjectStorageOperator(
        task_id="land_files",
        job_id=wait.output,
        destination=DESTINATION,
        max_concurrency=4,
    )

    @task
    def folders_per_segment(summary: dict[str, Any], landed: dict[str, Any]) -> dict[str, str]:
        """Each segment's folder: the manifest's folder, then the segment's batch."""
        job_folder = landed["manifest"].rsplit("/", 1)[0]
        return {segment_id: f"{job_folder}/{batch_id}" for segment_id, batch_id in summary["batch_ids"].items()}

    folders_per_segment(wait.output, land.output)
