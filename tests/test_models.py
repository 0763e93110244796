"""The request model rejects bad input before any HTTP call; the job model accepts every documented shape."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_aep.exceptions import AepConfigError
from airflow_provider_aep.models import ExportJob, ExportJobPage, ExportJobRequest
from airflow_provider_aep.models.export_job import JobDestination

from .conftest import EXPORT_REQUEST

SEED_EXAMPLES = sorted((Path(__file__).parent / "fixtures" / "seed_examples").glob("*.json"))


def load_doc_json(text: str) -> Any:
    """Adobe's examples have trailing commas and brace-less fragments; read them as the docs mean them."""
    text = re.sub(r",(\s*[}\]])", r"\1", text.strip())
    if text.startswith('"'):
        text = "{" + text + "}"
    return json.loads(text)


@pytest.mark.parametrize("path", SEED_EXAMPLES, ids=lambda path: path.stem)
def test_every_seed_example_parses(path: Path) -> None:
    document = load_doc_json(path.read_text())
    if "records" in document:
        page = ExportJobPage.model_validate(document)
        assert page.records
        assert all(job.id and job.status for job in page.records)
    elif "destination" in document and "id" not in document:
        destination = JobDestination.model_validate(document["destination"])
        assert destination.dataset_id
        assert destination.batches or destination.batch_id
    elif "id" in document:
        job = ExportJob.model_validate(document)
        assert job.id.isdigit()
        assert job.destination.dataset_id
    else:
        assert document == {"status": True, "message": "Export job has been marked for cancelling"}


def test_seed_examples_cover_the_documented_variants() -> None:
    documents = [load_doc_json(path.read_text()) for path in SEED_EXAMPLES]
    text = json.dumps(documents)
    assert '"dataSetId"' in text
    assert '"datasetId"' in text
    assert len(SEED_EXAMPLES) == 14


def test_job_tolerates_variants() -> None:
    job = ExportJob.model_validate(
        {
            "id": 24115,
            "status": "CANCELLED",
            "somethingNew": {"x": 1},
            "destination": {
                "dataSetId": "ds",
                "segmentPerBatch": True,
                "batches": {"segmentId": "s1", "status": "exited", "batchId": "b1"},
            },
            "errors": [{"code": 90000009, "msg": "boom"}],
        }
    )
    assert job.id == "24115"
    assert job.destination.dataset_id == "ds"
    assert job.batch_ids() == {"s1": "b1"}
    assert job.destination.batches[0].status == ["exited"]
    assert not job.is_terminal
    assert not job.is_known_status
    assert job.model_extra == {"somethingNew": {"x": 1}}
    assert job.error_text() == "[90000009] boom"


def test_failed_job_with_empty_batch_id_has_no_batches() -> None:
    job = ExportJob.model_validate({"id": "722", "status": "FAILED", "destination": {"batchId": ""}})
    assert job.batch_ids() == {}
    assert job.is_terminal


def test_summary_is_json_safe_and_complete() -> None:
    document = load_doc_json((Path(__file__).parent / "fixtures" / "seed_examples" / "002_12.json").read_text())
    summary = ExportJob.model_validate(document).summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["job_id"] == "24115"
    assert summary["batch_ids"] == {
        "4edc8488-2c35-4f6d-b4c6-9075c68d2df4": "da5cfb4de32c4b93a09f7e37fa53ad52",
        "1rfe8422-334d-12f4-3sd4-12cf6g990g51": "df4gssdfb93a09f7e37fa53ad52",
    }
    assert summary["durations_seconds"] == {"total": 1204.365, "profile_export": 110.604, "dataset_write": 38.502}


def test_request_serialises_with_api_names_and_rfc3339() -> None:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    request = ExportJobRequest.model_validate(
        {
            **EXPORT_REQUEST,
            "filter": {
                "segments": [{"segment_id": "s1", "segment_ns": "ups"}],
                "segment_qualification_time": {"start_time": start, "end_time": "2026-01-02T00:00:00+02:00"},
            },
            "additional_fields": {"event_list": {"fields": "_id", "filter": {"to_ingest_timestamp": start}}},
            "evaluation_info": {"segmentation": True},
        }
    )
    body = request.to_api_json()
    assert body["filter"] == {
        "segments": [{"segmentId": "s1", "segmentNs": "ups"}],
        "segmentQualificationTime": {"startTime": "2026-01-01T00:00:00Z", "endTime": "2026-01-02T00:00:00+02:00"},
    }
    assert body["additionalFields"] == {
        "eventList": {"fields": "_id", "filter": {"toIngestTimestamp": "2026-01-01T00:00:00Z"}}
    }
    assert body["evaluationInfo"] == {"segmentation": True}
    assert "mergePolicy" not in body
    assert "fields" not in body


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"destination": {}}, "destination.datasetId: Field required"),
        ({"destination": {"datasetId": "  "}}, "destination.datasetId"),
        ({"schema": {"name": ""}}, "schema.name"),
        ({"filter": {"segments": [{"segmentId": ""}]}}, "filter.segments.0.segmentId"),
        ({"filter": {"segments": []}}, "filter.segments"),
        ({"filter": {"segments": [{"segmentId": "s", "status": ["qualified"]}]}}, "filter.segments.0.status.0"),
        ({"filter": {"fromIngestTimestamp": "yesterday"}}, "filter.fromIngestTimestamp"),
        ({"filter": {"fromIngestTimestamp": "2026-01-01T00:00:00"}}, "has no UTC offset"),
        ({"filter": {"fromIngestTimestamp": 1700000000}}, "filter.fromIngestTimestamp"),
        (
            {
                "filter": {
                    "segmentQualificationTime": {"startTime": "2026-01-02T00:00:00Z", "endTime": "2026-01-01T00:00:00Z"}
                }
            },
            "startTime must be before endTime",
        ),
        ({"destination": {"datasetId": 42}}, "destination.datasetId"),
        ({"mergePolicy": {"version": 1}}, "mergePolicy.id"),
        ({"surprise": True}, "surprise: Extra inputs are not permitted"),
    ],
)
def test_bad_request_fields_are_named(change: dict[str, Any], named: str) -> None:
    with pytest.raises(AepConfigError, match=re.escape(named)) as raised:
        ExportJobRequest.parse({**EXPORT_REQUEST, **change}, subject="Task 'create_export_job'")
    assert str(raised.value).startswith("Task 'create_export_job': invalid export job request:")


def test_request_must_be_a_mapping() -> None:
    with pytest.raises(AepConfigError, match=r"export_job must be a dict .* got list"):
        ExportJobRequest.parse([EXPORT_REQUEST], subject="Task 't'")  # type: ignore[arg-type]


def test_naive_datetime_is_rejected() -> None:
    naive = datetime(2026, 1, 1) + timedelta(hours=2)
    with pytest.raises(AepConfigError, match="UTC offset"):
        ExportJobRequest.parse({**EXPORT_REQUEST, "filter": {"fromIngestTimestamp": naive}}, subject="Task 't'")
