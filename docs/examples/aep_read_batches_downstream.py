"""Recipe: hand the exported batches to downstream work.

The sensor's return value (XCom) is the job summary. Its ``batch_ids`` map each segment id to the
batch AEP wrote (key ``"*"`` when one batch holds all segments). Downstream readers list a batch's
files with the Data Access API: ``GET /data/foundation/export/batches/{batchId}/files``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_aep.operators.export_job import CreateExportJobOperator
from airflow_provider_aep.sensors.export_job import ExportJobSensor

with DAG(
    dag_id="aep_read_batches_downstream",
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

    @task
    def batch_file_listings(summary: dict[str, Any]) -> dict[str, str]:
        """One Data Access API listing URL per segment, for the loader that reads the files."""
        return {
            segment_id: f"https://platform.adobe.io/data/foundation/export/batches/{batch_id}/files"
            for segment_id, batch_id in summary["batch_ids"].items()
        }

    batch_file_listings(wait.output)
