"""Catalog through the hook (sync and async) and the dataset operator, against the simulator."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_aep.exceptions import (
    AepApiError,
    AepConfigError,
    AepNotFoundError,
    DatasetMayExistError,
    ExportJobNotFoundError,
)
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.models.catalog import PROFILE_UNION_SCHEMA, Batch, Dataset
from airflow_provider_aep.operators.dataset import CreateProfileDatasetOperator
from airflow_provider_aep.simulator import Fault, Scenario, SimulatorServer
from tests.task_context import task_context

from .conftest import EXPORT_REQUEST, FAST_RETRIES, Call

OTHER_SCHEMA = "https://ns.adobe.com/acme/schemas/loyalty"


def file_dataset(simulator: SimulatorServer, name: str, schema: str = PROFILE_UNION_SCHEMA) -> str:
    return simulator.state.create_dataset({"name": name, "schemaRef": {"id": schema}})


def test_create_makes_a_profile_union_dataset_and_reads_it_back(call: Call, simulator: SimulatorServer) -> None:
    dataset_id = call("create_profile_dataset", "Nightly audiences", "for the warehouse", {"team": ["data"]})
    stored = simulator.state.datasets[dataset_id]
    assert stored["schemaRef"]["id"] == PROFILE_UNION_SCHEMA
    assert stored["fileDescription"] == {"persisted": True, "containerFormat": "parquet", "format": "parquet"}
    assert (stored["description"], stored["tags"]) == ("for the warehouse", {"team": ["data"]})
    dataset = call("get_dataset", dataset_id)
    assert isinstance(dataset, Dataset)
    assert (dataset.id, dataset.name, dataset.is_profile_union) == (dataset_id, "Nightly audiences", True)


def test_create_reuses_the_dataset_of_that_name(call: Call, simulator: SimulatorServer) -> None:
    first = call("create_profile_dataset", "audiences")
    again = call("create_profile_dataset", "audiences")
    assert again == first
    assert simulator.state.count("requests:dataset_create") == 1
    assert len(simulator.state.datasets) == 1


def test_a_name_taken_on_another_schema_is_refused_before_creating(call: Call, simulator: SimulatorServer) -> None:
    taken = file_dataset(simulator, "audiences", OTHER_SCHEMA)
    with pytest.raises(AepConfigError, match=rf"named 'audiences' exists \({taken}\) on schema {OTHER_SCHEMA}"):
        call("create_profile_dataset", "audiences")
    assert simulator.state.count("requests:dataset_create") == 0


def test_the_tutorials_lower_case_reference_is_read(call: Call, simulator: SimulatorServer) -> None:
    simulator.state.dataset_reference_prefix = "@/datasets/"
    dataset_id = call("create_profile_dataset", "audiences")
    assert dataset_id in simulator.state.datasets


@pytest.mark.parametrize(
    "fault",
    [
        Fault("drop", route="dataset_create", after_handling=True),
        Fault("status", route="dataset_create", status=502, after_handling=True),
    ],
)
def test_an_ambiguous_create_is_reconciled_by_name_not_sent_twice(
    call: Call, simulator: SimulatorServer, fault: Fault
) -> None:
    simulator.state.inject(fault)
    dataset_id = call("create_profile_dataset", "audiences")
    assert list(simulator.state.datasets) == [dataset_id]
    assert simulator.state.count("requests:dataset_create") == 1
    assert simulator.state.count("requests:dataset_list") == 2  # before the POST, and after it failed


def test_a_create_lost_before_it_reached_catalog_is_sent_again(call: Call, simulator: SimulatorServer) -> None:
    simulator.state.inject(Fault("status", route="dataset_create", status=503))  # refused, made nothing
    dataset_id = call("create_profile_dataset", "audiences")
    assert list(simulator.state.datasets) == [dataset_id]
    assert simulator.state.count("requests:dataset_create") == 2


def test_when_the_listing_cannot_tell_the_create_is_not_resent(call: Call, simulator: SimulatorServer) -> None:
    simulator.state.inject(
        Fault("status", route="dataset_create", status=502, after_handling=True),
        # The lookup before the POST answers; every one after it fails.
        Fault("status", route="dataset_list", status=503, times=None, after=1),
    )
    with pytest.raises(DatasetMayExistError, match="It was not sent again"):
        call("create_profile_dataset", "audiences")
    assert simulator.state.count("requests:dataset_create") == 1
    assert len(simulator.state.datasets) == 1  # made once, by the ambiguous POST


def test_find_pages_by_start_and_keeps_only_exact_names(call: Call, simulator: SimulatorServer) -> None:
    simulator.state.max_page_size = 100
    made = [file_dataset(simulator, "audiences") for _ in range(230)]
    file_dataset(simulator, "audiences (old)")
    found = call("find_datasets", "audiences")
    assert [dataset.id for dataset in found] == sorted(
        made, key=lambda key: (simulator.state.datasets[key]["created"], key)
    )
    assert simulator.state.count("requests:dataset_list") == 3  # 100 + 100 + 30


def test_a_listing_that_repeats_itself_is_an_error_so_no_second_dataset_is_made(
    call: Call, simulator: SimulatorServer
) -> None:
    for _ in range(100):  # a full page: there may be more
        file_dataset(simulator, "audiences", OTHER_SCHEMA)
    simulator.state.ignore_start = True  # every page is the first one
    with pytest.raises(AepApiError, match="the listing repeats itself after 100 entries"):
        call("create_profile_dataset", "audiences")
    assert simulator.state.count("requests:dataset_create") == 0


def test_a_catalog_404_names_no_export_job(call: Call, simulator: SimulatorServer) -> None:
    with pytest.raises(AepNotFoundError, match=r"HTTP 404.*Dataset 5b0000000000000000000001 not found") as raised:
        call("get_dataset", "5b0000000000000000000001")
    assert not isinstance(raised.value, ExportJobNotFoundError)
    with pytest.raises(AepNotFoundError, match="Batch nope not found"):
        call("get_batch", "nope")


def test_a_finished_export_has_a_batch_with_its_profile_count(call: Call, simulator: SimulatorServer) -> None:
    hook = AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES)
    simulator.state.queue_scenarios(Scenario(polls_to_finish=1, exported_profiles=777))
    job = hook.get_export_job(hook.create_export_job(EXPORT_REQUEST).id)
    batch = call("get_batch", job.batch_ids()["*"])
    assert isinstance(batch, Batch)
    assert (batch.status, batch.has_failed) == ("success", False)
    assert batch.metrics is not None
    assert batch.metrics.records_written == 777
    assert batch.dataset_id == EXPORT_REQUEST["destination"]["datasetId"]


@pytest.mark.parametrize(
    ("method", "kwargs", "field"),
    [
        ("get_dataset", {"dataset_id": "../batches/x"}, "dataset_id"),
        ("get_dataset", {"dataset_id": "a b"}, "dataset_id"),
        ("get_batch", {"batch_id": "x?y=1"}, "batch_id"),
        ("get_batch", {"batch_id": "50%"}, "batch_id"),
        ("create_profile_dataset", {"name": "  "}, "dataset name"),
        ("create_profile_dataset", {"name": "a\nb"}, "dataset name"),
        ("create_profile_dataset", {"name": "ok", "tags": {"team": "data"}}, "tags"),
        ("find_datasets", {"name": 7}, "dataset name"),
    ],
)
def test_bad_input_is_refused_before_any_request(
    call: Call, simulator: SimulatorServer, method: str, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(AepConfigError, match=rf"{method} on connection 'aep_default': {field}"):
        call(method, **kwargs)
    assert simulator.state.count("requests") == 0


def test_a_record_filed_under_a_hostile_key_is_refused(simulator: SimulatorServer) -> None:
    hook = AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES)
    simulator.state.datasets["../../x"] = {"name": "audiences", "schemaRef": {"id": PROFILE_UNION_SCHEMA}, "created": 1}
    with pytest.raises(AepApiError, match="not a usable Catalog id"):
        hook.find_datasets("audiences")


def test_the_operator_returns_the_id_links_it_and_is_idempotent(simulator: SimulatorServer) -> None:
    operator = CreateProfileDatasetOperator(
        task_id="ensure_dataset", dataset_name="audiences", request_retry_delay=0.01
    )
    context = task_context()
    first = operator.execute(context)
    again = CreateProfileDatasetOperator(task_id="ensure_dataset", dataset_name="audiences").execute(task_context())
    assert first == again
    assert simulator.state.count("requests:dataset_create") == 1
    link = context["ti"].pushed["_link_AepDatasetLink"]
    assert link.endswith(f"/platform/dataset/browse/{first}")


def test_the_operator_refuses_a_bad_name_without_a_request(simulator: SimulatorServer) -> None:
    operator = CreateProfileDatasetOperator(task_id="ensure_dataset", dataset_name="")
    with pytest.raises(AepConfigError, match="Task 'ensure_dataset': dataset name must be a non-empty string"):
        operator.execute(task_context())
    assert simulator.state.count("requests") == 0


def test_batches_are_listed_oldest_first_after_the_given_time(call: Call, simulator: SimulatorServer) -> None:
    state = simulator.state
    dataset_id = EXPORT_REQUEST["destination"]["datasetId"]
    first, second, third = (state.add_batch(dataset_id, status="success") for _ in range(3))
    state.add_batch("6c8d97a79f8c7612f32cb0ea", status="success")  # another dataset's
    after = state.external_batches[first].created_ms
    listing = call("list_batches", dataset_id, created_after_ms=after)
    assert [batch.id for batch in listing.entries] == [second, third]  # createdAfter is exclusive
    assert listing.complete
    assert all(batch.dataset_id == dataset_id for batch in listing.entries)
    cut = call("list_batches", dataset_id, created_after_ms=0, limit=2)
    assert [batch.id for batch in cut.entries] == [first, second]


def test_a_dataset_id_that_cannot_go_into_a_url_is_refused_before_any_request(
    call: Call, simulator: SimulatorServer
) -> None:
    with pytest.raises(AepConfigError, match="dataset_id"):
        call("list_batches", "a/../b", created_after_ms=0)
    assert simulator.state.count("requests") == 0
