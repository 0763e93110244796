"""The simulator's answers match the response schemas of Adobe's published OpenAPI specs.

Users test their DAGs against the simulator, so it must stay faithful to the API. Each route the
provider calls is requested here as the provider requests it, and the JSON body is validated
against the schema the spec gives that operation and status. OpenAPI 3.0 schema objects are JSON
Schema draft 4 with extra keywords, so jsonschema validates them, resolving the specs' own
``#/components`` references. Where the spec and Adobe's documented examples disagree, the
simulator follows the examples; docs/simulator.md lists those places, and the test checks the
schema that describes the examples' shape.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from airflow_provider_aep.simulator import Scenario, SimulatorServer
from tests import REPO

from .conftest import EXPORT_REQUEST

SPECS = REPO / "tests" / "fixtures" / "adobe-openapi"
PROFILE_UNION = "https://ns.adobe.com/xdm/context/profile__union"


@cache
def spec(name: str) -> dict[str, Any]:
    """The spec as JSON would hold it: YAML reads status codes such as ``200:`` as numbers."""
    loaded: dict[str, Any] = _json_keys(yaml.safe_load((SPECS / f"{name}.yaml").read_text()))
    return loaded


def _json_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _json_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_keys(item) for item in value]
    return value


def response_schema(name: str, path: str, method: str, status: int, media: str = "application/json") -> Any:
    """The schema of one operation's answer, by JSON pointer into the spec, so its refs resolve."""
    responses = spec(name)["paths"][path][method]["responses"]
    key = str(status)
    assert media in responses[key]["content"], f"{name}: {method.upper()} {path} {status} has no {media} body"
    escaped = path.replace("~", "~0").replace("/", "~1")
    media_key = media.replace("~", "~0").replace("/", "~1")
    return {"$ref": f"urn:{name}#/paths/{escaped}/{method}/responses/{key}/content/{media_key}/schema"}


# Places where the simulator follows Adobe's documented examples over the spec (docs/simulator.md):
# a job's ``destination.batches`` is a list of one batch per segment in every example, an object in
# the spec.
FOLLOWS_THE_DOCS = re.compile(r"(records/\d+/)?destination/batches")


def check(name: str, path: str, method: str, response: httpx.Response, *, component: str | None = None) -> None:
    """``response``'s JSON against the schema the spec gives that answer, or the named component's."""
    registry: Registry[Any] = Registry().with_resource(
        f"urn:{name}", Resource.from_contents(spec(name), default_specification=DRAFT4)
    )
    if component is None:
        schema = response_schema(name, path, method, response.status_code)
    else:
        schema = {"$ref": f"urn:{name}#/components/schemas/{component}"}
    validator = Draft4Validator(schema, registry=registry)
    problems = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(response.json())
        if not FOLLOWS_THE_DOCS.fullmatch("/".join(map(str, error.absolute_path)))
    ]
    assert problems == [], f"{method.upper()} {path}: {problems}"


@pytest.fixture
def api(simulator: SimulatorServer) -> httpx.Client:
    token = httpx.post(
        f"{simulator.url}/ims/token/v3",
        data={
            "grant_type": "client_credentials",
            "client_id": simulator.state.client_id,
            "client_secret": simulator.state.client_secret,
            "scope": "openid",
        },
    ).json()["access_token"]
    headers = {
        "Authorization": f"Bearer {token}",
        "x-api-key": simulator.state.client_id,
        "x-gw-ims-org-id": simulator.state.org_id,
        "x-sandbox-name": "prod",
    }
    with httpx.Client(base_url=simulator.url, headers=headers) as client:
        yield client


def test_export_job_routes(api: httpx.Client, simulator: SimulatorServer) -> None:
    simulator.state.queue_scenarios(Scenario(polls_to_finish=1, errors=()), Scenario(outcome="FAILED", duration=0))
    created = api.post(
        "/data/core/ups/export/jobs",
        json={**EXPORT_REQUEST, "destination": {"datasetId": "abc", "segmentPerBatch": True}},
    )
    check("segmentation", "/export/jobs", "post", created)
    job_id = created.json()["id"]
    check(
        "segmentation", "/export/jobs/{EXPORT_JOB_ID}", "get", api.get(f"/data/core/ups/export/jobs/{job_id}")
    )  # SUCCEEDED
    api.post("/data/core/ups/export/jobs", json=EXPORT_REQUEST)  # FAILED, with errors
    check("segmentation", "/export/jobs", "get", api.get("/data/core/ups/export/jobs", params={"limit": "1"}))
    check("segmentation", "/export/jobs", "get", api.get("/data/core/ups/export/jobs"))
    check("segmentation", "/export/jobs/{EXPORT_JOB_ID}", "delete", api.delete(f"/data/core/ups/export/jobs/{job_id}"))


def test_catalog_routes(api: httpx.Client, simulator: SimulatorServer) -> None:
    body = {
        "name": "audiences",
        "schemaRef": {"id": PROFILE_UNION, "contentType": "application/vnd.adobe.xed+json;version=1"},
    }
    created = api.post("/data/foundation/catalog/dataSets", json=body)
    assert created.status_code == 201
    check("catalog", "/dataSets", "post", created)
    dataset_id = created.json()[0].rsplit("/", 1)[1]
    check("catalog", "/dataSets", "get", api.get("/data/foundation/catalog/dataSets", params={"name": "audiences"}))
    check("catalog", "/dataSets/{DATASET_ID}", "get", api.get(f"/data/foundation/catalog/dataSets/{dataset_id}"))
    simulator.state.queue_scenarios(
        Scenario(
            polls_to_finish=1, batch_status="failed", batch_errors=({"code": "X-1", "description": "bad", "rows": []},)
        )
    )
    job_id = api.post("/data/core/ups/export/jobs", json=EXPORT_REQUEST).json()["id"]
    api.get(f"/data/core/ups/export/jobs/{job_id}")
    check("catalog", "/batches/{BATCH_ID}", "get", api.get(f"/data/foundation/catalog/batches/sim-batch-{job_id}"))
    # The listing a batch watcher reads: an export's batch and one written by someone else.
    simulator.state.add_batch(EXPORT_REQUEST["destination"]["datasetId"], status="success")
    query = {"dataSet": EXPORT_REQUEST["destination"]["datasetId"], "createdAfter": "0", "orderBy": "asc:created"}
    listing = api.get("/data/foundation/catalog/batches", params={**query, "limit": "100", "start": "0"})
    assert len(listing.json()) == 2
    check("catalog", "/batches", "get", listing)


def test_data_access_routes(api: httpx.Client, simulator: SimulatorServer) -> None:
    simulator.state.queue_scenarios(Scenario(polls_to_finish=1, files_per_batch=2, directory=True, file_size=100))
    job_id = api.post("/data/core/ups/export/jobs", json=EXPORT_REQUEST).json()["id"]
    api.get(f"/data/core/ups/export/jobs/{job_id}")
    listing = api.get(f"/data/foundation/export/batches/sim-batch-{job_id}/files")
    check("data-access", "/batches/{batchId}/files", "get", listing)
    directory = listing.json()["data"][0]["dataSetFileId"]
    entries = api.get(f"/data/foundation/export/files/{directory}")
    # The spec gives this answer its `metadata` schema; the documented examples, which the simulator
    # follows, have the shape of its `files` schema.
    check("data-access", "/files/{dataSetFileId}", "get", entries, component="files")
    inner = entries.json()["data"][0]["dataSetFileId"]
    files = api.get(f"/data/foundation/export/files/{inner}")
    check("data-access", "/files/{dataSetFileId}", "get", files, component="files")
    name = files.json()["data"][0]["name"]
    ranged = api.get(f"/data/foundation/export/files/{inner}", params={"path": name}, headers={"Range": "bytes=10-"})
    assert ranged.status_code == 206
    declared = spec("data-access")["paths"]["/files/{dataSetFileId}"]["get"]["responses"]["206"]["headers"]
    assert {name.lower() for name in declared} <= {name.lower() for name in ranged.headers}
    assert (ranged.headers["content-range"], ranged.headers["content-length"]) == ("bytes 10-99/100", "90")
    head = api.head(f"/data/foundation/export/files/{inner}", params={"path": name})
    assert (head.status_code, head.headers["content-length"]) == (200, "100")
