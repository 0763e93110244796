"""Data-aware scheduling on the exported AEP dataset: the downstream DAG starts when tonight's
export has landed, not at a guessed time, and never after a failed export.

``aep_export_vip_audience`` exports an audience nightly; its sensor declares the destination
dataset as an outlet, so when the job SUCCEEDED Airflow records an asset event whose extra holds
the job id, the batch ids and the profile count. ``aep_load_vip_audience`` is scheduled on that
asset and loads the batches of every export whose event started its run (exports that land close
together share one run). A FAILED export fails the sensor: no event, no run.

The asset URI is ``aep://{org}/{sandbox}/datasets/{dataset_id}``; ``aep_dataset_asset`` builds it
from the organisation id as written in the connection. The values below are the simulator's
(``make demo``); use your own organisation, sandbox and dataset. If the job writes another dataset
than the outlet names, the sensor fails rather than announce data that is not there.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

try:  # Airflow 3.2+
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 2.11 to 3.1
    from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_aep.assets import aep_dataset_asset, triggering_exports
from airflow_provider_aep.operators.export_job import CreateExportJobOperator
from airflow_provider_aep.sensors.export_job import ExportJobSensor

VIP_AUDIENCE = aep_dataset_asset(
    org_id="5IMULATOR0000000000000A@AdobeOrg", sandbox="prod", dataset_id="5b7c86968f7b6501e21ba9df"
)

with DAG(
    dag_id="aep_export_vip_audience",
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["aep", "export", "assets"],
):
    create = CreateExportJobOperator(
        task_id="create_export_job",
        dataset_id="5b7c86968f7b6501e21ba9df",
        segments=["52c26d0d-45f2-47a2-ab30-ed06abc981ff"],
        segment_qualification_start="{{ data_interval_start }}",
        segment_qualification_end="{{ data_interval_end }}",
    )
    ExportJobSensor(
        task_id="wait_for_export",
        job_id=create.output,
        deferrable=True,
        poke_interval=30,
        timeout=3 * 60 * 60,
        outlets=[VIP_AUDIENCE],  # the event is recorded only when the job SUCCEEDED
    )

with DAG(
    dag_id="aep_load_vip_audience",
    schedule=[VIP_AUDIENCE],
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    tags=["aep", "assets"],
):

    @task(inlets=[VIP_AUDIENCE])
    def batches_to_load(**context: Any) -> dict[str, dict[str, str]]:
        """The batches of every export that started this run, by job id: exports that land while
        the previous run is still queued or running share the next run, so take them all."""
        exports = triggering_exports(context, VIP_AUDIENCE)
        for export in exports:
            print(f"Loading the batches {export['batch_ids']} of AEP export job {export['job_id']}.")
        return {export["job_id"]: export["batch_ids"] for export in exports}

    batches_to_load()
