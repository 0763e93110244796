"""The bad-input catalogue: malformed connections, hook calls, operator and sensor arguments.

Each case must fail with an error that names the problem, before any HTTP request. The test suite
runs every case against the simulator and asserts its request counter stays at zero;
``python -m tests.reliability.bad_inputs`` prints the table in docs/reliability.md from a live run.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_provider_aep.assets import aep_dataset_asset
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.models.data_access import DataFile
from airflow_provider_aep.operators.dataset import CreateProfileDatasetOperator
from airflow_provider_aep.operators.export_job import CreateExportJobOperator
from airflow_provider_aep.sensors.export_job import ExportJobSensor
from airflow_provider_aep.simulator import SimulatorServer
from airflow_provider_aep.transfers.export_to_object_storage import AepExportToObjectStorageOperator

GOOD_REQUEST = {
    "destination": {"datasetId": "5b7c86968f7b6501e21ba9df"},
    "schema": {"name": "_xdm.context.profile"},
}


@dataclass(frozen=True)
class Case:
    area: str
    what: str
    run: Callable[[SimulatorServer], Any]
    expected: str  # a part of the error message


class _FirstTry:
    try_number = 1


def _connection(**changes: Any) -> Callable[[SimulatorServer], Any]:
    def run(simulator: SimulatorServer) -> Any:
        fields = simulator.connection()
        fields.pop("conn_id")
        extra = {**fields.pop("extra"), **changes.pop("extra", {})}
        fields = {**fields, **changes, "extra": {key: value for key, value in extra.items() if value is not None}}
        os.environ["AIRFLOW_CONN_AEP_BAD"] = json.dumps(
            {key: value for key, value in fields.items() if value is not None}
        )
        return AdobeExperiencePlatformHook("aep_bad").list_export_jobs()

    return run


def _operator(**kwargs: Any) -> Callable[[SimulatorServer], Any]:
    return lambda _: CreateExportJobOperator(task_id="create_export_job", **kwargs).execute({"ti": _FirstTry()})  # type: ignore[arg-type]


def _hook_call(method: str, job_id: Any) -> Callable[[SimulatorServer], Any]:
    return lambda _: getattr(AdobeExperiencePlatformHook(), method)(job_id)


def _dataset_operator(**kwargs: Any) -> Callable[[SimulatorServer], Any]:
    return lambda _: CreateProfileDatasetOperator(task_id="ensure_dataset", **kwargs).execute({})  # type: ignore[arg-type]


def _download(**kwargs: Any) -> Callable[[SimulatorServer], Any]:
    arguments = {"job_id": "1000", "destination": "file:///tmp/aep-bad-inputs", "deferrable": False, **kwargs}
    return lambda _: AepExportToObjectStorageOperator(task_id="download_export", **arguments).execute({})  # type: ignore[arg-type]


def _sensor(job_id: Any) -> Callable[[SimulatorServer], Any]:
    return lambda _: ExportJobSensor(task_id="wait_for_export", job_id=job_id, deferrable=False).execute({})


CASES = [
    Case("connection", "no client id (login)", _connection(login=None), "field 'login' is required"),
    Case("connection", "no client secret (password)", _connection(password=None), "field 'password' is required"),
    Case("connection", "no org id", _connection(extra={"org_id": None}), "field 'extra.org_id' is required"),
    Case(
        "connection",
        "org id without @AdobeOrg",
        _connection(extra={"org_id": "1BD63825"}),
        "'extra.org_id' must look like",
    ),
    Case(
        "connection",
        "plain http:// to a remote host",
        _connection(host="http://platform.adobe.io"),
        "uses plain http://",
    ),
    Case(
        "connection",
        "plain http:// IMS URL to a remote host",
        _connection(extra={"ims_url": "http://ims.example.com/ims/token/v3"}),
        "'extra.ims_url' uses plain http://",
    ),
    Case("connection", "not an http(s) URL", _connection(host="ftp://platform.adobe.io"), "must be an https:// URL"),
    Case("connection", "empty scope in the list", _connection(extra={"scopes": "openid,,AdobeID"}), "'extra.scopes'"),
    Case("connection", "scopes separated by spaces", _connection(extra={"scopes": "openid AdobeID"}), "'extra.scopes'"),
    Case(
        "connection",
        "sandbox with capitals",
        _connection(extra={"sandbox": "Prod"}),
        "'extra.sandbox' must be a lowercase",
    ),
    Case("connection", "sandbox not a string", _connection(extra={"sandbox": 7}), "'extra.sandbox' must be a string"),
    Case(
        "connection",
        "UI tenant with a slash or '#'",
        _connection(extra={"ui_tenant": "acme/#/@evil"}),
        "'extra.ui_tenant' must be the organisation's name",
    ),
    Case("operator", "no dataset id", _operator(segments=["s1"]), "dataset_id is required"),
    Case("operator", "blank dataset id", _operator(dataset_id="  "), "dataset_id is required"),
    Case("operator", "dataset id not a string", _operator(dataset_id=42), "dataset_id is required"),
    Case("operator", "empty segment id", _operator(dataset_id="d", segments=[""]), "filter.segments.0.segmentId"),
    Case(
        "operator",
        "segment status not realized/existing/exited",
        _operator(dataset_id="d", segments=[{"id": "s", "status": "qualified"}]),
        "filter.segments.0.status.0: Input should be 'realized', 'existing' or 'exited'",
    ),
    Case(
        "operator",
        "segment neither id nor dict",
        _operator(dataset_id="d", segments=[7]),
        "segments[0] must be a segment id",
    ),
    Case("operator", "segments not a list", _operator(dataset_id="d", segments=7), "segments must be a list"),
    Case(
        "operator",
        "timestamp that is not RFC 3339",
        _operator(dataset_id="d", from_ingest_timestamp="last night"),
        "filter.fromIngestTimestamp",
    ),
    Case(
        "operator",
        "timestamp without UTC offset",
        _operator(dataset_id="d", segment_qualification_start="2026-01-01T00:00:00"),
        "has no UTC offset",
    ),
    Case(
        "operator",
        "qualification window start after end",
        _operator(
            dataset_id="d",
            segment_qualification_start="2026-01-02T00:00:00Z",
            segment_qualification_end="2026-01-01T00:00:00Z",
        ),
        "startTime must be before endTime",
    ),
    Case(
        "operator",
        "boolean that is not one",
        _operator(dataset_id="d", empty_profiles="sometimes"),
        "filter.emptyProfiles",
    ),
    Case("operator", "export_job not a dict", _operator(export_job="{}"), "export_job must be a dict"),
    Case(
        "operator",
        "unknown field in export_job",
        _operator(export_job={**GOOD_REQUEST, "destinaton": {}}),
        "destinaton: Extra inputs are not permitted",
    ),
    Case(
        "operator",
        "export_job without schema",
        _operator(export_job={"destination": {"datasetId": "d"}}),
        "schema: Field required",
    ),
    Case(
        "operator",
        "export_job and individual arguments together",
        _operator(export_job=GOOD_REQUEST, dataset_id="d"),
        "pass either export_job or the individual request arguments",
    ),
    Case(
        "operator",
        "AEP outlet naming another dataset than the request's",
        _operator(
            export_job=GOOD_REQUEST,
            wait_for_completion=True,
            outlets=[aep_dataset_asset("5IMULATOR0000000000000A@AdobeOrg", "prod", "another-dataset")],
        ),
        "outlet aep://5IMULATOR0000000000000A/prod/datasets/another-dataset is not the dataset",
    ),
    Case("sensor", "no job id (None)", _sensor(None), "job_id must be a numeric AEP export job id"),
    Case("sensor", "empty job id", _sensor(""), "job_id must be a numeric AEP export job id"),
    Case("sensor", "non-numeric job id", _sensor("job-1000"), "job_id must be a numeric AEP export job id"),
    Case("sensor", "XCom that rendered to None", _sensor("None"), "job_id must be a numeric AEP export job id"),
    Case("sensor", "job id of the wrong type", _sensor(10.5), "job_id must be a numeric AEP export job id"),
    Case("sensor", "job id of superscript digits", _sensor("\u00b2"), "job_id must be a numeric AEP export job id"),
    Case("sensor", "job id of full-width digits", _sensor("\uff11\uff12"), "must be a numeric AEP export job id"),
    Case(
        "hook",
        "cancel of a path that climbs out of the jobs collection",
        _hook_call("cancel_export_job", "../../config/mergePolicies/abc"),
        "job_id must be a numeric AEP export job id",
    ),
    Case(
        "hook",
        "job id with a query string",
        _hook_call("get_export_job", "1000?limit=1"),
        "job_id must be a numeric AEP export job id",
    ),
    Case("hook", "negative job id", _hook_call("get_export_job", -5), "job_id must be a numeric AEP export job id"),
    Case(
        "hook",
        "dataset id that climbs a path",
        _hook_call("get_dataset", "../batches/x"),
        "dataset_id must be an AEP id",
    ),
    Case("hook", "batch id with a query string", _hook_call("get_batch", "b?start=0"), "batch_id must be an AEP id"),
    Case(
        "hook", "batch id with a '%' escape", _hook_call("list_batch_files", "b%2F..%2Fx"), "batch_id must be an AEP id"
    ),
    Case(
        "hook",
        "file name that climbs out of the destination",
        lambda _: AdobeExperiencePlatformHook().download_file(DataFile("f1", "../../etc/cron.d/x", 1), io.BytesIO()),
        "file name must be a relative path",
    ),
    Case("dataset", "empty dataset name", _dataset_operator(dataset_name=""), "dataset name must be a non-empty"),
    Case("dataset", "dataset name with a line break", _dataset_operator(dataset_name="a\nb"), "must be printable"),
    Case(
        "dataset",
        "tags that are not lists of strings",
        _dataset_operator(dataset_name="audiences", tags={"team": "data"}),
        "tags must map names to lists of strings",
    ),
    Case("download", "job id that is not a number", _download(job_id="job-7"), "job_id must be a numeric AEP"),
    Case("download", "summary without a job id", _download(job_id={"status": "SUCCEEDED"}), "job_id must be a numeric"),
    Case("download", "destination without a scheme", _download(destination="/data/aep"), "destination must be"),
    Case("download", "destination of an unknown scheme", _download(destination="nosuch://b/p"), "destination must be"),
    Case("download", "no concurrency", _download(max_concurrency=0), "max_concurrency must be a whole number"),
    Case("download", "concurrency as text", _download(max_concurrency="4"), "max_concurrency must be a whole number"),
    Case(
        "connection",
        "user name and password in the gateway URL",
        _connection(host="https://user:pw@platform.adobe.io"),
        "must not carry a user name or password",
    ),
    Case(
        "connection",
        "query string in the gateway URL",
        _connection(host="https://platform.adobe.io/?x=1"),
        "without a query or fragment",
    ),
    Case(
        "connection",
        "fragment in the IMS URL",
        _connection(extra={"ims_url": "https://ims-na1.adobelogin.com/ims/token/v3#x"}),
        "without a query or fragment",
    ),
    Case(
        "connection",
        "control character inside the IMS URL",
        _connection(extra={"ims_url": "https://ims-na1.adobelogin.com/ims/\r\ntoken/v3"}),
        "must not contain spaces or control characters",
    ),
    Case(
        "connection",
        "space inside the gateway URL",
        _connection(host="https://platform adobe.io"),
        "must not contain spaces or control characters",
    ),
    Case(
        "connection",
        "client id with a line break",
        _connection(login="sim-client\nX-Injected: 1"),
        "must be printable ASCII without spaces",
    ),
    Case(
        "connection",
        "client id with a non-ASCII character",
        _connection(login="cli\u00e9nt"),
        "must be printable ASCII without spaces",
    ),
]


def error_of(case: Case, simulator: SimulatorServer) -> Exception:
    try:
        case.run(simulator)
    except Exception as error:
        return error
    raise AssertionError(f"{case.area}: {case.what}: no error was raised")


def main() -> None:
    print("| area | bad input | error (as raised) | HTTP requests |")
    print("| --- | --- | --- | ---: |")
    with SimulatorServer() as simulator:
        os.environ["AIRFLOW_CONN_AEP_DEFAULT"] = simulator.connection_env_value()
        for case in CASES:
            simulator.state.reset()
            error = error_of(case, simulator)
            message = str(error).replace("|", "\\|")
            requests = simulator.state.count("requests")
            print(f"| {case.area} | {case.what} | `{type(error).__name__}`: {message} | {requests} |")
    sys.exit(0)


if __name__ == "__main__":
    main()
