"""A DAG scheduled on a watched AEP dataset, polling every 2 s, for the real-Airflow end-to-end tests.

Its watcher polls only while the DAG is unpaused, so it costs the other tests nothing.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_aep.assets import triggering_batches
from airflow_provider_aep.transfers.export_to_object_storage import AepExportToObjectStorageOperator
from airflow_provider_aep.watched_assets import aep_watched_dataset_asset

WATCHED_DATASET = "77e2e0000000000000000aaa"
WATCHED = aep_watched_dataset_asset(
    org_id="5IMULATOR0000000000000A@AdobeOrg",
    sandbox="prod",
    dataset_id=WATCHED_DATASET,
    poll_interval=2.0,
    look_back=timedelta(minutes=30),
    request_retry_delay=0.1,
)

with DAG(
    dag_id="aep_e2e_watched_batches",
    schedule=[WATCHED],
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    max_active_runs=1,  # a batch reported twice is landed by one run after the other, never by two at once
    catchup=False,
) as dag:

    @task(inlets=[WATCHED])
    def new_batches(**context: Any) -> list[dict[str, Any]]:
        return triggering_batches(context, WATCHED)

    AepExportToObjectStorageOperator(
        task_id="land",
        batch_ids=new_batches(),
        destination=f"file://{os.environ['AIRFLOW_HOME']}/landing",
        deferrable=False,
        poll_interval=1,
    )
