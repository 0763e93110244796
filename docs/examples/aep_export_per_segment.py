"""Recipe: one export job per segment, with dynamic task mapping over a task group.

Each audience gets its own job and its own batch, so a failing segment does not hold back the others
and each retry re-exports only its own segment. The create and the wait are mapped together, as one
group per segment: mapped one after the other (the sensor over the creates' output), a single create
that failed would leave every other segment's job unwatched.
"""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.providers.common.compat.sdk import DAG, task_group

from airflow_provider_aep.operators.export_job import CreateExportJobOperator
from airflow_provider_aep.sensors.export_job import ExportJobSensor

SEGMENT_IDS = ["segment-vip-customers", "segment-lapsed-buyers", "segment-newsletter"]


@task_group
def export_segment(segments: list[str]) -> None:
    create = CreateExportJobOperator(
        task_id="create_export_job",
        dataset_id="5b7c86968f7b6501e21ba9df",
        segments=segments,
    )
    ExportJobSensor(
        task_id="wait_for_export",
        job_id=create.output,
        deferrable=True,
        poke_interval=30,
        timeout=3 * 60 * 60,
    )


with DAG(
    dag_id="aep_export_per_segment",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    tags=["aep", "recipe"],
) as dag:
    export_segment.expand(segments=[[segment_id] for segment_id in SEGMENT_IDS])
