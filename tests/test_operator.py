"""CreateExportJobOperator: request building and validation, waiting in the worker, on_kill."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timezone
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout

from airflow_provider_aep.exceptions import AepConfigError, ExportJobFailedError
from airflow_provider_aep.models import ExportJobRequest
from airflow_provider_aep.operators.export_job import SUMMARY_XCOM_KEY, CreateExportJobOperator
from airflow_provider_aep.simulator import Scenario, SimulatorServer
from tests.airflow_compat import TaskDeferred, prepare_thread_for_execute
from tests.task_context import TaskInstanceStub

from .conftest import EXPORT_REQUEST

FAST = {"request_retry_limit": 3, "request_retry_delay": 0.01, "request_timeout": 1.0, "poll_interval": 0.05}


def operator(**kwargs: Any) -> CreateExportJobOperator:
    return CreateExportJobOperator(task_id="create_export_job", **{**FAST, **kwargs})


def test_convenient_arguments_build_the_api_body() -> None:
    request = operator(
        dataset_id="ds-1",
        segments=["seg-a", {"id": "seg-b", "namespace": "AAM", "status": "exited"}],
        fields=["identities.id", "personalEmail.address"],
        merge_policy="timestampOrdered-none-mp",
        segment_qualification_start=datetime(2026, 11, 22, 2, tzinfo=timezone.utc),
        segment_qualification_end="2026-11-23T02:00:00+00:00",
        empty_profiles=False,
        event_fields="_id",
        event_from_ingest_timestamp="2026-11-22T00:00:00Z",
        segment_per_batch=True,
        evaluate_segments=True,
    ).build_request()
    assert request.to_api_json() == {
        "destination": {"datasetId": "ds-1", "segmentPerBatch": True},
        "schema": {"name": "_xdm.context.profile"},
        "fields": "identities.id,personalEmail.address",
        "mergePolicy": {"id": "timestampOrdered-none-mp"},
        "filter": {
            "segments": [
                {"segmentId": "seg-a"},
                {"segmentId": "seg-b", "segmentNs": "AAM", "status": ["exited"]},
            ],
            "segmentQualificationTime": {"startTime": "2026-11-22T02:00:00Z", "endTime": "2026-11-23T02:00:00Z"},
            "emptyProfiles": False,
        },
        "additionalFields": {"eventList": {"fields": "_id", "filter": {"fromIngestTimestamp": "2026-11-22T00:00:00Z"}}},
        "evaluationInfo": {"segmentation": True},
    }


def test_minimal_arguments_and_comma_separated_segments() -> None:
    body = operator(dataset_id="ds-1", segments="a, b").build_request().to_api_json()
    assert body == {
        "destination": {"datasetId": "ds-1"},
        "schema": {"name": "_xdm.context.profile"},
        "filter": {"segments": [{"segmentId": "a"}, {"segmentId": "b"}]},
    }


def test_whole_request_as_dict_or_model() -> None:
    assert operator(export_job=EXPORT_REQUEST).build_request().to_api_json() == EXPORT_REQUEST
    model = ExportJobRequest.model_validate(EXPORT_REQUEST)
    assert operator(export_job=model).build_request() is model


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "dataset_id is required"),
        ({"dataset_id": "  "}, "dataset_id is required"),
        ({"dataset_id": 7}, "dataset_id is required"),
        (
            {"export_job": EXPORT_REQUEST, "dataset_id": "x"},
            "pass either export_job or the individual request arguments",
        ),
        ({"export_job": "not a dict"}, "export_job must be a dict"),
        ({"export_job": {**EXPORT_REQUEST, "destination": {}}}, "destination.datasetId: Field required"),
        ({"dataset_id": "d", "segments": [""]}, "filter.segments.0.segmentId"),
        ({"dataset_id": "d", "segments": [42]}, "segments[0] must be a segment id or a dict"),
        ({"dataset_id": "d", "segments": 42}, "segments must be a list"),
        ({"dataset_id": "d", "segments": [{"id": "s", "status": ["gone"]}]}, "filter.segments.0.status.0"),
        ({"dataset_id": "d", "segments": [{"id": "s", "colour": "red"}]}, "filter.segments.0.colour"),
        ({"dataset_id": "d", "from_ingest_timestamp": "last night"}, "filter.fromIngestTimestamp"),
        ({"dataset_id": "d", "segment_qualification_start": "2026-01-01T00:00:00"}, "no UTC offset"),
        ({"dataset_id": "d", "empty_profiles": "yes please"}, "filter.emptyProfiles"),
        ({"dataset_id": "d", "merge_policy": {"version": 1}}, "mergePolicy.id"),
    ],
)
def test_bad_arguments_are_named_before_any_request(
    simulator: SimulatorServer, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(AepConfigError, match=re.escape(message)) as raised:
        operator(**kwargs).execute({"ti": TaskInstanceStub()})
    assert str(raised.value).startswith("Task 'create_export_job':")
    assert simulator.state.count("requests") == 0


def test_returns_the_job_id_without_waiting(simulator: SimulatorServer) -> None:
    simulator.state.queue_scenarios(Scenario(duration=60))
    job_id = operator(export_job=EXPORT_REQUEST).execute({"ti": TaskInstanceStub()})
    assert list(simulator.state.jobs) == [int(job_id)]
    assert simulator.state.count("requests:get") == 0


def test_shows_the_dataset_link_before_deferring(simulator: SimulatorServer) -> None:
    simulator.state.queue_scenarios(Scenario(duration=60))
    context = {"ti": TaskInstanceStub()}
    with pytest.raises(TaskDeferred) as deferred:
        operator(export_job=EXPORT_REQUEST, wait_for_completion=True, deferrable=True).execute(context)
    (job_id,) = simulator.state.jobs
    assert deferred.value.trigger.job_id == str(job_id)  # type: ignore[attr-defined]
    # No tenant on the simulator's connection: the organisation is named by its IMS org id.
    org, dataset = simulator.state.org_id, EXPORT_REQUEST["destination"]["datasetId"]
    assert context["ti"].pushed == {
        "_link_AepDatasetLink": f"https://experience.adobe.com/#/@{org}/sname:prod/platform/dataset/browse/{dataset}"
    }


def test_waits_in_the_worker_and_pushes_the_summary(simulator: SimulatorServer) -> None:
    ti = TaskInstanceStub()
    job_id = operator(export_job=EXPORT_REQUEST, wait_for_completion=True, deferrable=False).execute({"ti": ti})
    assert ti.pushed[SUMMARY_XCOM_KEY]["job_id"] == job_id
    assert ti.pushed[SUMMARY_XCOM_KEY]["status"] == "SUCCEEDED"


def test_waiting_in_the_worker_fails_with_the_codes(simulator: SimulatorServer) -> None:
    simulator.state.queue_scenarios(Scenario(outcome="FAILED", duration=0.1))
    with pytest.raises(ExportJobFailedError, match=r"\[0090000009\]"):
        operator(export_job=EXPORT_REQUEST, wait_for_completion=True, deferrable=False).execute(
            {"ti": TaskInstanceStub()}
        )


def test_wait_timeout_cancels_the_job(simulator: SimulatorServer) -> None:
    simulator.state.queue_scenarios(Scenario(duration=60))
    with pytest.raises(AirflowSensorTimeout):
        operator(export_job=EXPORT_REQUEST, wait_for_completion=True, deferrable=False, timeout=0.3).execute(
            {"ti": TaskInstanceStub()}
        )
    assert simulator.state.count("jobs_cancelled") == 1


def test_on_kill_while_waiting_cancels_the_job(simulator: SimulatorServer) -> None:
    simulator.state.queue_scenarios(Scenario(duration=60))
    task = operator(export_job=EXPORT_REQUEST, wait_for_completion=True, deferrable=False, timeout=2)
    outcome: list[BaseException] = []

    def run() -> None:
        prepare_thread_for_execute()
        try:
            task.execute({"ti": TaskInstanceStub()})
        except BaseException as error:
            outcome.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 5
    while not simulator.state.count("requests:get") and time.monotonic() < deadline:
        time.sleep(0.01)
    task.on_kill()
    assert simulator.state.count("jobs_cancelled") == 1
    worker.join()
    assert isinstance(outcome[0], AirflowSensorTimeout)  # a cancelled job is never reported as success


def test_on_kill_before_waiting_cancels_nothing(simulator: SimulatorServer) -> None:
    operator(export_job=EXPORT_REQUEST).on_kill()
    assert simulator.state.count("requests") == 0
