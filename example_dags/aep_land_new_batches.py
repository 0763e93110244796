"""Event-driven scheduling on an AEP dataset: land every batch that becomes readable in it, whoever
wrote it (an export scheduled inside AEP, another team's pipeline, an ingestion), exactly once in
the destination.

``NEW_BATCHES`` is the dataset's ``aep://`` asset with a watcher: the triggerer polls Catalog every
minute and records an asset event for each batch that became readable; this DAG runs on them. Each
run lands the batches of the events that started it (batches that become readable close together
share one run), each in ``{destination}/{dataset_id}/batches/{batch_id}/`` with its own manifest,
then counts the rows a reader finds. Airflow 3.0 or later: Airflow 2.11 has no asset watchers.

The values are the simulator's; use your own organisation, sandbox and dataset. Unpaused, the watcher
polls AEP; paused, it stops.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.providers.common.compat.sdk import DAG, ObjectStoragePath, task

from airflow_provider_aep.assets import triggering_batches
from airflow_provider_aep.transfers.export_to_object_storage import AepExportToObjectStorageOperator
from airflow_provider_aep.watched_assets import aep_watched_dataset_asset

NEW_BATCHES = aep_watched_dataset_asset(
    org_id="5IMULATOR0000000000000A@AdobeOrg",
    sandbox="prod",
    dataset_id="5b7c86968f7b6501e21ba9df",
    poll_interval=60,
    look_back=timedelta(hours=6),
)

with DAG(
    dag_id="aep_land_new_batches",
    schedule=[NEW_BATCHES],
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    max_active_runs=1,  # a batch reported twice is landed by one run after the other, never by two at once
    tags=["aep", "assets", "event-driven"],
) as dag:

    @task(inlets=[NEW_BATCHES])
    def new_batches(**context: Any) -> list[dict[str, Any]]:
        """The batches whose events started this run, each once."""
        return triggering_batches(context, NEW_BATCHES)

    landed = AepExportToObjectStorageOperator(
        task_id="land_new_batches",
        batch_ids=new_batches(),
        destination="file:///tmp/aep-landing",
        max_concurrency=8,
    )

    @task
    def rows_landed(result: dict[str, Any]) -> int:
        """What a reader of the landed batches finds: each manifest vouches for its batch's files."""
        rows = 0
        for manifest in result["manifests"]:
            for batch in json.loads(ObjectStoragePath(manifest).read_text())["batches"]:
                rows += batch["records_written"] or 0
        print(f"{len(result['manifests'])} batch(es) landed, {rows} rows.")
        return rows

    rows_landed(landed.output)
