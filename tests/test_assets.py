"""The aep:// dataset URI, and the asset (dataset) event a successful export records."""

from __future__ import annotations

import re
import warnings
from typing import Any
from urllib.parse import urlsplit

import pytest
from airflow.providers.common.compat.sdk import Asset

from airflow_provider_aep.assets import aep_dataset_asset, aep_dataset_uri, sanitize_uri
from airflow_provider_aep.exceptions import AepConfigError, ExportJobFailedError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.operators.export_job import CreateExportJobOperator
from airflow_provider_aep.sensors.export_job import ExportJobSensor
from airflow_provider_aep.simulator import Scenario, SimulatorServer
from tests.airflow_compat import AIRFLOW_V_3, OutletEventAccessors
from tests.task_context import task_context

from .conftest import EXPORT_REQUEST, FAST_RETRIES

ORG_ID = "5IMULATOR0000000000000A@AdobeOrg"  # the simulator's
DATASET_ID = EXPORT_REQUEST["destination"]["datasetId"]
EXPORTED = f"aep://5IMULATOR0000000000000A/prod/datasets/{DATASET_ID}"
FAST = {"request_retry_limit": 5, "request_retry_delay": 0.01}


def test_uri_names_organisation_sandbox_and_dataset() -> None:
    assert aep_dataset_uri(ORG_ID, "prod", DATASET_ID) == EXPORTED
    assert aep_dataset_asset(ORG_ID, "prod", DATASET_ID).uri == EXPORTED


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("aep://AdobeOrg/prod/datasets/abc", "organisation 'AdobeOrg' must be the IMS organisation id without"),
        ("aep://ORG-1/prod/datasets/abc", "organisation 'ORG-1'"),
        ("aep://ORG1/Prod/datasets/abc", "sandbox 'Prod' must be a lowercase sandbox name"),
        ("aep://ORG1/prod/tables/abc", "the path must be /{sandbox}/datasets/{dataset_id}"),
        ("aep://ORG1/prod/datasets", "the path must be"),
        ("aep://ORG1/prod/datasets/a%20b", "dataset id 'a%20b'"),
        ("aep://ORG1/prod/datasets/abc?x=1", "no query or fragment"),
    ],
)
def test_normaliser_refuses_malformed_uris(uri: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape("is not aep://{org}/{sandbox}/datasets/{dataset_id}")) as raised:
        sanitize_uri(urlsplit(uri))
    assert problem in str(raised.value)


def test_helper_refuses_bad_parts_when_the_dag_is_parsed() -> None:
    with pytest.raises(ValueError, match="sandbox 'Dev EMEA'"):
        aep_dataset_asset(ORG_ID, "Dev EMEA", DATASET_ID)


def test_airflow_applies_the_normaliser_to_aep_uris() -> None:
    """Registered through the provider info: Airflow 3 refuses a malformed URI, 2.11 warns."""
    if AIRFLOW_V_3:
        with pytest.raises(ValueError, match="is not aep://"):
            Asset("aep://ORG1/prod/tables/abc")
    else:
        with pytest.warns(UserWarning, match="is not aep://"):
            Asset("aep://ORG1/prod/tables/abc")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Asset(EXPORTED).uri == EXPORTED


def new_job(simulator: SimulatorServer, scenario: Scenario) -> str:
    simulator.state.queue_scenarios(scenario)
    return AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES).create_export_job(EXPORT_REQUEST).id


def run_sensor(job_id: str, outlet: Asset) -> tuple[Any, OutletEventAccessors]:
    events = OutletEventAccessors()
    sensor = ExportJobSensor(
        task_id="wait_for_export", job_id=job_id, poke_interval=0.05, timeout=10, outlets=[outlet], **FAST
    )
    return sensor.execute(task_context(outlet_events=events)), events


def test_success_puts_job_and_batches_on_the_asset_event(simulator: SimulatorServer) -> None:
    job_id = new_job(simulator, Scenario(duration=0.1))
    outlet = Asset(EXPORTED)
    summary, events = run_sensor(job_id, outlet)
    assert events[outlet].extra == {
        "job_id": job_id,
        "batch_ids": {"*": f"sim-batch-{job_id}"},
        "exported_profiles": summary["exported_profiles"],
    }


def test_outlet_naming_another_dataset_fails_instead_of_announcing_it(simulator: SimulatorServer) -> None:
    job_id = new_job(simulator, Scenario(duration=0.1))
    elsewhere = Asset("aep://5IMULATOR0000000000000A/prod/datasets/another")
    with pytest.raises(AepConfigError, match=r"Task 'wait_for_export': outlet .*/another is not the dataset") as raised:
        run_sensor(job_id, elsewhere)
    assert EXPORTED in str(raised.value)


def test_failed_export_records_nothing_on_the_asset(simulator: SimulatorServer) -> None:
    job_id = new_job(simulator, Scenario(outcome="FAILED", duration=0.1))
    outlet = Asset(EXPORTED)
    events = OutletEventAccessors()
    sensor = ExportJobSensor(
        task_id="wait_for_export", job_id=job_id, poke_interval=0.05, timeout=10, outlets=[outlet], **FAST
    )
    with pytest.raises(ExportJobFailedError):
        sensor.execute(task_context(outlet_events=events))
    assert events[outlet].extra == {}


def test_submit_only_operator_refuses_an_aep_outlet() -> None:
    with pytest.raises(AepConfigError, match="Task 'create': an AEP dataset outlet needs wait_for_completion=True"):
        CreateExportJobOperator(task_id="create", export_job=EXPORT_REQUEST, outlets=[Asset(EXPORTED)])


def test_waiting_operator_records_the_event(simulator: SimulatorServer) -> None:
    simulator.state.queue_scenarios(Scenario(duration=0.1))
    outlet = Asset(EXPORTED)
    events = OutletEventAccessors()
    operator = CreateExportJobOperator(
        task_id="create",
        export_job=EXPORT_REQUEST,
        wait_for_completion=True,
        deferrable=False,
        poll_interval=0.05,
        outlets=[outlet],
        **FAST,
    )
    job_id = operator.execute(task_context(outlet_events=events))
    assert events[outlet].extra["job_id"] == job_id
