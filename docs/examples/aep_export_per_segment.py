"""Recipe: one export job per segment, with dynamic task mapping.

Each audience gets its own job and its own batch, so a failing segment does not hold back the others
and each retry re-exports only its own segment.
"""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_aep.operators.export_job import CreateExportJobOperator
from airflow_provider_aep.sensors.export_job import ExportJobSensor

SEGMENT_IDS = ["segment-vip-customers", "segment-lapsed-buyers", "segment-newsletter"]

with DAG(
    dag_id="aep_export_per_segment",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    tags=["aep", "recipe"],
) as dag:
    create = CreateExportJobOperator.partial(
        task_id="create_export_job",
        dataset_id="5b7c86968f7b6501e21ba9df",
    ).expand(segments=[[segment_id] for segment_id in SEGMENT_IDS])

    ExportJobSensor.partial(
        task_id="wait_for_export",
        deferrable=True,
        poke_interval=30,
        timeout=3 * 60 * 60,
    ).expand(job_id=create.output)
