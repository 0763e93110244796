"""The watched-asset helper and ``triggering_batches``: one line in a DAG, checked when it is parsed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_aep.assets import aep_dataset_asset, triggering_batches, triggering_exports
from airflow_provider_aep.exceptions import AepConfigError
from airflow_provider_aep.triggers.new_batches import NewBatchesTrigger
from airflow_provider_aep.triggers.succeeded_exports import SucceededExportsTrigger
from airflow_provider_aep.watched_assets import aep_watched_dataset_asset
from tests.airflow_compat import AIRFLOW_V_3

ORG = "5IMULATOR0000000000000A@AdobeOrg"
DATASET = "5b7c86968f7b6501e21ba9df"
airflow_3 = pytest.mark.skipif(not AIRFLOW_V_3, reason="asset watchers are Airflow 3's")


@airflow_3
def test_the_asset_is_the_datasets_with_a_batch_watcher() -> None:
    asset = aep_watched_dataset_asset(ORG, "prod", DATASET, poll_interval=45, look_back=timedelta(hours=1))
    assert asset.uri == aep_dataset_asset(ORG, "prod", DATASET).uri  # DAGs on the plain asset see its events
    (watcher,) = asset.watchers
    assert watcher.name == f"aep_batches_{DATASET}"
    assert isinstance(watcher.trigger, NewBatchesTrigger)
    _, kwargs = watcher.trigger.serialize()
    assert (kwargs["dataset_id"], kwargs["poll_interval"], kwargs["look_back_seconds"]) == (DATASET, 45.0, 3600.0)
    assert kwargs["options"]["cancel_on_timeout"] is False  # a watcher cancels nothing


@airflow_3
def test_export_jobs_can_be_watched_instead() -> None:
    asset = aep_watched_dataset_asset(ORG, "prod", DATASET, watch="export_jobs", aep_conn_id="aep_prod")
    (watcher,) = asset.watchers
    assert isinstance(watcher.trigger, SucceededExportsTrigger)
    assert watcher.trigger.options.aep_conn_id == "aep_prod"


@airflow_3
@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"watch": "files"}, "watch must be 'batches' or 'export_jobs'"),
        ({"look_back": 3600}, "look_back must be a timedelta"),
        ({"look_back": timedelta(days=30)}, "look_back_seconds must be from"),
        ({"poll_interval": 0.1}, "poll_interval must be from"),
        ({"dataset_id": "a b"}, "dataset_id"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(arguments: dict[str, Any], named: str) -> None:
    given = {"org_id": ORG, "sandbox": "prod", "dataset_id": DATASET, **arguments}
    with pytest.raises(AepConfigError, match=named):
        aep_watched_dataset_asset(**given)


@pytest.mark.skipif(AIRFLOW_V_3, reason="Airflow 2.11 has no asset watchers")
def test_on_airflow_2_the_helper_names_the_version_it_needs() -> None:
    with pytest.raises(AepConfigError, match=r"needs Airflow 3\.0 or later.*this is Airflow 2\.11"):
        aep_watched_dataset_asset(ORG, "prod", DATASET)


def event(minute: int, extra: dict[str, Any]) -> SimpleNamespace:
    """An asset event as a run's context holds it (its timestamp and extra)."""
    return SimpleNamespace(timestamp=datetime(2026, 12, 6, 3, minute, tzinfo=timezone.utc), extra=extra)


def context_with(*events: SimpleNamespace) -> dict[str, Any]:
    asset = aep_dataset_asset(ORG, "prod", DATASET)
    if AIRFLOW_V_3:
        return {"triggering_asset_events": {asset: list(events)}}
    return {"triggering_dataset_events": {asset.uri: list(events)}}


def batch_event(minute: int, batch_id: str) -> SimpleNamespace:
    payload = {"kind": "aep_batch", "batch_id": batch_id, "dataset_id": DATASET, "export_job_id": None}
    return event(minute, {"from_trigger": True, "payload": payload})


@airflow_3
def test_triggering_batches_gives_each_batch_once_oldest_first() -> None:
    job = {"kind": "aep_export_job", "job_id": "1001", "batch_ids": {"*": "b-9"}}
    context = context_with(
        batch_event(7, "b-2"),
        batch_event(3, "b-1"),
        batch_event(9, "b-2"),  # reported again: a restart without a state store
        event(5, {"from_trigger": True, "payload": job}),
        event(6, {"job_id": "1000", "batch_ids": {"*": "b-0"}}),  # the sensor's own event
        event(8, {"payload": {"kind": "aep_batch", "batch_id": "forged"}}),  # not from a watcher
    )
    asset = aep_dataset_asset(ORG, "prod", DATASET)
    assert [item["batch_id"] for item in triggering_batches(context, asset)] == ["b-1", "b-2"]
    assert [item["job_id"] for item in triggering_exports(context, asset)] == ["1001", "1000"]


def test_triggering_exports_gives_each_job_once_from_tasks_and_watchers() -> None:
    context = context_with(
        event(5, {"from_trigger": True, "payload": {"kind": "aep_export_job", "job_id": "1001"}}),
        event(4, {"job_id": "1000", "batch_ids": {"*": "b-0"}}),
        event(6, {"job_id": "1000", "batch_ids": {"*": "b-0"}}),
    )
    asset = aep_dataset_asset(ORG, "prod", DATASET)
    assert [item["job_id"] for item in triggering_exports(context, asset)] == ["1000", "1001"]


@pytest.mark.skipif(AIRFLOW_V_3, reason="Airflow 2.11 has no asset watchers")
def test_on_airflow_2_triggering_batches_names_the_version_it_needs() -> None:
    with pytest.raises(AepConfigError, match=r"triggering_batches: watching an AEP dataset needs Airflow 3\.0"):
        triggering_batches(context_with(), aep_dataset_asset(ORG, "prod", DATASET))
