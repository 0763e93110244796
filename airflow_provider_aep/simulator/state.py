"""What the simulated AEP knows: credentials, tokens, jobs, scripted outcomes, faults, counters."""

from __future__ import annotations

import random
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from airflow_provider_aep.simulator.files import SimulatedFile

SIM_CLIENT_ID = "sim-client-id"
SIM_CLIENT_SECRET = "sim-client-secret-value"
SIM_ORG_ID = "5IMULATOR0000000000000A@AdobeOrg"

DEFAULT_FAILURE_ERRORS = (
    {
        "code": "0090000009",
        "msg": "Error writing profiles to output path 'adl://simulator/snapshot'",
        "callStack": "com.adobe.aep.unifiedprofile.common.logging.Logger",
    },
    {"code": "unknown", "msg": "Job aborted.", "callStack": "org.apache.spark.SparkException: Job aborted."},
)

Route = Literal[
    "token",
    "list",
    "create",
    "get",
    "cancel",
    "dataset_create",
    "dataset_list",
    "dataset_get",
    "batch_get",
    "batch_list",
    "batch_files",
    "file_list",
    "file_download",
    "control",
    "other",
]
DATASET_FIELDS = ("name", "description", "tags", "schemaRef", "fileDescription")


@dataclass(frozen=True)
class Scenario:
    """How one export job behaves: NEW, then PROCESSING after ``processing_after`` seconds, then
    ``outcome`` once ``duration`` seconds have passed since it was created; or, with
    ``polls_to_finish``, ``outcome`` on that status request (deterministic, for structural tests)."""

    outcome: Literal["SUCCEEDED", "FAILED"] = "SUCCEEDED"
    duration: float = 2.0
    processing_after: float | None = None
    exported_profiles: int = 1250
    errors: tuple[dict[str, str], ...] = DEFAULT_FAILURE_ERRORS
    polls_to_finish: int | None = None  # if set: finish on this status poll instead of by time
    # The batch files a SUCCEEDED job wrote: how many per batch, how large each, and whether the
    # batch's file id is a directory holding one file id per file.
    files_per_batch: int = 1
    file_size: int | None = None  # None: Parquet files holding the rows; a number: raw bytes of that size
    directory: bool = False
    # The batches in Catalog: "loading" for this many batch requests, then ``batch_status``
    # (with ``batch_errors`` when it is a failure).
    batch_checks_to_ready: int = 0
    batch_status: str = "success"
    batch_errors: tuple[dict[str, str], ...] = ()

    def status_at(self, age: float, polls: int) -> str:
        if self.polls_to_finish is not None:
            if polls >= self.polls_to_finish:
                return self.outcome
            return "PROCESSING" if polls > 1 else "NEW"
        if age >= self.duration:
            return self.outcome
        processing_after = self.duration / 4 if self.processing_after is None else self.processing_after
        return "PROCESSING" if age >= processing_after else "NEW"


@dataclass
class Fault:
    """A failure to inject into matching requests.

    ``kind``: ``status`` answers ``status`` (with ``Retry-After`` for 429); ``slow`` waits ``delay``
    seconds; ``drop`` closes the connection mid-response (``after_bytes`` moves either into the
    body). With ``after_handling`` the request takes effect first (a job really is created), which
    is what makes a failure ambiguous to the client.
    ``times`` limits how many requests it hits (None: no limit); ``probability`` samples them;
    ``after`` lets that many matching requests through first.
    """

    kind: Literal["status", "slow", "drop"]
    route: Route | None = None
    status: int = 503
    retry_after: float | None = None
    delay: float = 0.0
    after_handling: bool = False
    times: int | None = 1
    probability: float = 1.0
    after: int = 0
    # With ``drop`` or ``slow``: pass this many body bytes of the real answer first, then drop the
    # connection, or pause ``delay`` seconds before the rest (a download stalled mid-file).
    after_bytes: int | None = None


@dataclass
class SimulatedJob:
    id: int
    body: dict[str, Any]
    scenario: Scenario
    org_id: str
    created_ms: int
    created_at: float  # time.monotonic()
    request_id: str
    cancelled_at: float | None = None
    frozen_status: str | None = None  # status at cancel time, when it was already terminal
    polls: int = 0  # GET /export/jobs/{id} requests seen

    def status(self, now: float, cancelled_status: str) -> str:
        if self.frozen_status is not None:
            return self.frozen_status
        if self.cancelled_at is not None:
            return cancelled_status
        return self.scenario.status_at(now - self.created_at, self.polls)

    def record(self, now: float, cancelled_status: str) -> dict[str, Any]:
        status = self.status(now, cancelled_status)
        body = self.body
        destination = dict(body.get("destination", {}))
        segments = body.get("filter", {}).get("segments", [])
        elapsed_ms = int(min(now - self.created_at, self.scenario.duration) * 1000)
        total_time: dict[str, int] = {"startTimeInMs": self.created_ms}
        record: dict[str, Any] = {
            "id": self.id,
            "jobType": "BATCH",
            "destination": destination,
            "fields": body.get("fields"),
            "schema": body.get("schema"),
            "imsOrgId": self.org_id,
            "status": status,
            "filter": body.get("filter", {}),
            "mergePolicy": body.get("mergePolicy"),
            "profileInstanceId": "ups",
            "computeGatewayJobId": {"exportJob": str(uuid.UUID(int=self.id))},
            "metrics": {"totalTime": total_time},
            "creationTime": self.created_ms,
            "updateTime": self.created_ms + elapsed_ms,
            "requestId": self.request_id,
        }
        if status in ("SUCCEEDED", "FAILED"):
            total_time.update(endTimeInMs=self.created_ms + elapsed_ms, totalTimeInMs=elapsed_ms)
            record["metrics"]["profileExportTime"] = {
                "startTimeInMs": self.created_ms,
                "endTimeInMs": self.created_ms + elapsed_ms,
                "totalTimeInMs": elapsed_ms,
            }
        if status == "SUCCEEDED":
            record["metrics"]["totalExportedProfileCounter"] = self.scenario.exported_profiles
            if destination.get("segmentPerBatch") and segments:
                destination["batches"] = [
                    {
                        "segmentId": segment["segmentId"],
                        "segmentNs": segment.get("segmentNs", "ups"),
                        "status": segment.get("status", ["realized"]),
                        "batchId": f"sim-batch-{self.id}-{index}",
                    }
                    for index, segment in enumerate(segments)
                ]
            else:
                destination["batchId"] = f"sim-batch-{self.id}"
        elif status == "FAILED":
            record["errors"] = list(self.scenario.errors)
            destination["batchId"] = ""
        return {key: value for key, value in record.items() if value is not None}


@dataclass(frozen=True)
class BatchFiles:
    """A batch's files; with ``directory``, the batch lists that one file id, which lists the files."""

    directory: str | None
    files: list[SimulatedFile]


@dataclass
class ExternalBatch:
    """A batch no export job of the provider wrote: an ingestion, or an export scheduled inside AEP.

    Tests move it along with ``SimulatorState.set_batch_status``; its files exist once it is ``success``.
    """

    id: str
    dataset_id: str
    created_ms: int
    records: int
    files_per_batch: int = 1
    file_size: int | None = None
    status: str = "loading"
    errors: tuple[dict[str, str], ...] = ()
    updated_ms: int = 0

    def record(self, org_id: str) -> dict[str, Any]:
        return {
            "status": self.status,
            "metrics": {"recordsWritten": self.records, "startTime": self.created_ms, "endTime": self.updated_ms},
            "errors": list(self.errors),
            "relatedObjects": [{"type": "dataSet", "id": self.dataset_id}],
            "created": self.created_ms,
            "updated": self.updated_ms,
            "imsOrg": org_id,
        }


@dataclass
class RequestRecord:
    route: Route
    method: str
    path: str
    request_id: str | None
    fault: str | None
    range: str | None = None  # the Range header, where a download resumed
    client: str | None = None  # who asked for a token, as ``SimulatorState.identify_client`` names it


@dataclass
class SimulatorState:
    """Thread-safe: the server runs in its own thread (or process) while tests read and script it."""

    client_id: str = SIM_CLIENT_ID
    client_secret: str = field(default=SIM_CLIENT_SECRET, repr=False)
    org_id: str = SIM_ORG_ID
    token_lifetime: float = 86399.0
    default_scenario: Scenario = field(default_factory=Scenario)
    cancelled_status: str = "CANCELLED"
    cancel_returns_empty: bool = False
    max_page_size: int = 100
    seed: int = 0
    # Catalog answers a create with "@/dataSets/<id>"; Adobe's tutorial shows "@/datasets/<id>".
    dataset_reference_prefix: str = "@/dataSets/"
    # Faults of Data Access's own: a server that ignores Range, next links to another host or with a
    # query that cannot be followed.
    ignore_range: bool = False
    next_link_host: str | None = None
    next_link_query: str | None = None  # a fixed query in every next link: a listing that cannot be followed
    ignore_start: bool = False  # every listing answers its first page, whatever ``start`` asks for
    # Names the process behind a token request from its loopback port (the cluster tests count
    # tokens per process); None names nobody.
    identify_client: Callable[[int], str | None] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.tokens: dict[str, float] = {}
            self.issued_tokens: list[str] = []  # every token ever handed out, for leak checks
            self.jobs: dict[int, SimulatedJob] = {}
            self.datasets: dict[str, dict[str, Any]] = {}
            self.external_batches: dict[str, ExternalBatch] = {}
            self.batch_checks: Counter[str] = Counter()
            self.in_flight: Counter[str] = Counter()
            self.peak_in_flight: Counter[str] = Counter()
            self.scenario_queue: list[Scenario] = []
            self.faults: list[Fault] = []
            self.counters: Counter[str] = Counter()
            self.requests: list[RequestRecord] = []
            self._next_id = 1000
            self._rng = random.Random(self.seed)

    # -- scripting ------------------------------------------------------------------------------

    def queue_scenarios(self, *scenarios: Scenario) -> None:
        with self._lock:
            self.scenario_queue.extend(scenarios)

    def inject(self, *faults: Fault) -> None:
        """Add faults; the state keeps its own copies, since it counts their ``times`` down."""
        with self._lock:
            self.faults.extend(replace(fault) for fault in faults)

    def add_batch(
        self,
        dataset_id: str,
        *,
        status: str = "loading",
        records: int = 100,
        files_per_batch: int = 1,
        file_size: int | None = None,
    ) -> str:
        """A batch written into ``dataset_id`` by someone other than the provider; its id, as Catalog's look."""
        with self._lock:
            # Catalog's creation times of one dataset's batches differ, as a real writer's would.
            now_ms = max(
                int(time.time() * 1000), max((b.created_ms + 1 for b in self.external_batches.values()), default=0)
            )
            batch_id = f"01{self._rng.getrandbits(120):030X}"
            self.external_batches[batch_id] = ExternalBatch(
                batch_id, dataset_id, now_ms, records, files_per_batch, file_size, status, updated_ms=now_ms
            )
            self.counters["batches_added"] += 1
            return batch_id

    def set_batch_status(self, batch_id: str, status: str, errors: tuple[dict[str, str], ...] = ()) -> None:
        """Moves an added batch along: ``success`` makes its files readable, ``failed`` never will."""
        with self._lock:
            batch = self.external_batches[batch_id]
            batch.status, batch.errors, batch.updated_ms = status, errors, int(time.time() * 1000)

    def create_external_job(self, dataset_id: str, scenario: Scenario | None = None) -> dict[str, Any]:
        """An export job into ``dataset_id`` that someone else created (in AEP's UI, another Airflow)."""
        if scenario is not None:
            self.queue_scenarios(scenario)
        body = {
            "destination": {"datasetId": dataset_id},
            "fields": "identities",
            "schema": {"name": "_xdm.context.profile"},
        }
        return self.create_job(body, f"external-{uuid.uuid4()}")

    def revoke_tokens(self) -> None:
        """Every issued token stops working, as when IMS revokes or expires them early."""
        with self._lock:
            self.tokens.clear()
            self.counters["tokens_revoked"] += 1

    # -- what the app calls ---------------------------------------------------------------------

    def observe(
        self,
        route: Route,
        method: str,
        path: str,
        request_id: str | None,
        range_header: str | None = None,
        client: str | None = None,
    ) -> Fault | None:
        """Count the request and pick the fault, if any, that it meets."""
        if route == "control":
            return None  # scripting the simulator is not traffic
        with self._lock:
            self.counters["requests"] += 1
            self.counters[f"requests:{route}"] += 1
            fault = self._take_fault(route)
            if fault is not None:
                self.counters[f"faults:{fault.kind}"] += 1
                self.counters["faults"] += 1
            kind = fault.kind if fault else None
            self.requests.append(RequestRecord(route, method, path, request_id, kind, range_header, client))
            return fault

    def started(self, route: Route) -> None:
        """A request on ``route`` is being answered: counted until ``finished``, for concurrency checks."""
        with self._lock:
            self.in_flight[route] += 1
            self.peak_in_flight[route] = max(self.peak_in_flight[route], self.in_flight[route])

    def finished(self, route: Route) -> None:
        with self._lock:
            self.in_flight[route] -= 1

    def sent(self, route: Route, size: int) -> None:
        """Body bytes handed to the connection on ``route``: what a resumed download fetched again."""
        with self._lock:
            self.counters[f"bytes:{route}"] += size

    def interrupted(self, route: Route) -> None:
        """A ``drop`` or ``slow`` fault with ``after_bytes`` reached its byte on ``route``."""
        with self._lock:
            self.counters[f"interrupted:{route}"] += 1

    def most_in_flight(self, route: Route) -> int:
        """The most requests on ``route`` that were being answered at once."""
        with self._lock:
            return self.peak_in_flight[route]

    def _take_fault(self, route: Route) -> Fault | None:
        for fault in self.faults:
            if fault.route not in (None, route) or (fault.times is not None and fault.times <= 0):
                continue
            if fault.after > 0:
                fault.after -= 1
                continue
            if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                continue
            if fault.times is not None:
                fault.times -= 1
            return fault
        return None

    def issue_token(self) -> str:
        with self._lock:
            token = "sim-token-" + secrets.token_urlsafe(24)
            self.tokens[token] = time.monotonic() + self.token_lifetime
            self.issued_tokens.append(token)
            self.counters["tokens_issued"] += 1
            return token

    def token_is_valid(self, token: str) -> bool:
        with self._lock:
            expiry = self.tokens.get(token)
            valid = expiry is not None and time.monotonic() < expiry
            if not valid:
                self.counters["tokens_rejected"] += 1
            return valid

    def create_job(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        with self._lock:
            scenario = self.scenario_queue.pop(0) if self.scenario_queue else self.default_scenario
            job = SimulatedJob(
                id=self._next_id,
                body=body,
                scenario=scenario,
                org_id=self.org_id,
                created_ms=int(time.time() * 1000),
                created_at=time.monotonic(),
                request_id=request_id,
            )
            self._next_id += 1
            self.jobs[job.id] = job
            self.counters["jobs_created"] += 1
            return job.record(time.monotonic(), self.cancelled_status)

    def job_record(self, job_id: int, *, polled: bool = False) -> dict[str, Any] | None:
        """The job as Platform reports it; ``polled`` counts a status request against it."""
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None:
                return None
            job.polls += polled
            return job.record(time.monotonic(), self.cancelled_status)

    def cancel_job(self, job_id: int) -> bool:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None:
                return False
            now = time.monotonic()
            if job.cancelled_at is None:
                status = job.status(now, self.cancelled_status)
                if status in ("SUCCEEDED", "FAILED"):
                    job.frozen_status = status
                job.cancelled_at = now
                self.counters["jobs_cancelled"] += 1
            return True

    def list_jobs(self, *, status: str | None, limit: int, offset: str | None) -> dict[str, Any]:
        with self._lock:
            now = time.monotonic()
            ordered = sorted(self.jobs.values(), key=lambda job: (job.created_ms, job.id), reverse=True)
            if offset:
                created_ms, _, job_id = offset.partition("_")
                position = (int(created_ms), int(job_id))
                ordered = [job for job in ordered if (job.created_ms, job.id) < position]
            records = [job.record(now, self.cancelled_status) for job in ordered]
            if status:
                records = [record for record in records if record["status"] == status]
            limit = max(1, min(limit, self.max_page_size))
            page, rest = records[:limit], records[limit:]
            result: dict[str, Any] = {
                "records": page,
                "page": {"sortField": "createdTime", "sort": "desc", "pageSize": len(page)},
                "link": {},
            }
            if page:
                result["page"]["pageOffset"] = f"{page[-1]['creationTime']}_{page[-1]['id']}"
            if rest:
                query = f"limit={limit}&offset={result['page']['pageOffset']}"
                result["link"]["next"] = f"/export/jobs/?{query}" + (f"&status={status}" if status else "")
            return result

    # -- Catalog ----------------------------------------------------------------------------------

    def create_dataset(self, body: dict[str, Any]) -> str:
        """Files the dataset and returns its id: 24 hex digits, as Catalog's are."""
        with self._lock:
            dataset_id = f"{self._rng.getrandbits(96):024x}"
            now_ms = int(time.time() * 1000)
            self.datasets[dataset_id] = {
                **{key: body[key] for key in DATASET_FIELDS if key in body},
                "imsOrg": self.org_id,
                "version": "1.0.0",
                "created": now_ms,
                "updated": now_ms,
                "createdClient": self.client_id,
            }
            self.counters["datasets_created"] += 1
            return dataset_id

    def find_datasets(self, *, name: str | None, start: int, limit: int) -> dict[str, dict[str, Any]]:
        """Oldest first, as ``start`` pages through them; keyed by id, as Catalog answers."""
        with self._lock:
            matching = [
                (dataset_id, record)
                for dataset_id, record in self.datasets.items()
                if name is None or record.get("name") == name
            ]
            matching.sort(key=lambda item: (item[1]["created"], item[0]))
            return dict(matching[start : start + max(1, min(limit, self.max_page_size))])

    def batch_record(self, batch_id: str, *, checked: bool = True) -> dict[str, Any] | None:
        """The batch as Catalog reports it: an added one, or one a SUCCEEDED export job wrote.

        ``checked`` counts a status request against it (an export's batch reads ``loading`` for its
        scenario's first ``batch_checks_to_ready`` requests); a listing does not count.
        """
        with self._lock:
            external = self.external_batches.get(batch_id)
            if external is not None:
                return external.record(self.org_id)
            found = self._written_batch(batch_id)
            if found is None:
                return None
            job, records_written = found
            record = job.record(time.monotonic(), self.cancelled_status)
            ready = self.batch_checks[batch_id] >= job.scenario.batch_checks_to_ready
            self.batch_checks[batch_id] += checked
            status = job.scenario.batch_status if ready else "loading"
            errors = list(job.scenario.batch_errors) if ready else []
            destination = record["destination"]
            dataset_id = destination.get("datasetId") or destination.get("dataSetId")
            finished_ms = record["updateTime"]
            return {
                "status": status,
                "metrics": {
                    "recordsWritten": records_written,
                    "startTime": record["creationTime"],
                    "endTime": finished_ms,
                },
                "errors": errors,
                "relatedObjects": [{"type": "dataSet", "id": dataset_id}],
                "created": finished_ms,
                "updated": finished_ms,
                "imsOrg": self.org_id,
            }

    def list_batches(
        self, *, dataset_id: str | None, created_after: int | None, newest_first: bool, start: int, limit: int
    ) -> dict[str, dict[str, Any]]:
        """Catalog's ``GET /batches``: keyed by id, filtered by dataset and ``createdAfter`` (exclusive)."""
        with self._lock:
            records = {
                batch_id: record
                for batch_id in [*self.external_batches, *self._written_batch_ids()]
                if (record := self.batch_record(batch_id, checked=False)) is not None
            }
            matching = [
                (batch_id, record)
                for batch_id, record in records.items()
                if (dataset_id is None or record["relatedObjects"][0]["id"] == dataset_id)
                and (created_after is None or record["created"] > created_after)
            ]
            matching.sort(key=lambda item: (item[1]["created"], item[0]), reverse=newest_first)
            return dict(matching[start : start + max(1, min(limit, self.max_page_size))])

    # -- Data Access ------------------------------------------------------------------------------

    def batch_files(self, batch_id: str) -> BatchFiles | None:
        """The files of a readable added batch or of a finished export's batch; None for any other batch id."""
        with self._lock:
            external = self.external_batches.get(batch_id)
            if external is not None:
                if external.status != "success":
                    return None
                return BatchFiles(
                    None, _files(batch_id, external.records, external.files_per_batch, external.file_size)
                )
            found = self._written_batch(batch_id)
            if found is None:
                return None
            job, records = found
            scenario = job.scenario
            directory = f"{uuid.uuid5(uuid.NAMESPACE_URL, batch_id)}-0" if scenario.directory else None
            return BatchFiles(directory, _files(batch_id, records, scenario.files_per_batch, scenario.file_size))

    def file_entries(self, file_id: str) -> tuple[list[SimulatedFile], list[str]] | None:
        """What ``GET /files/{id}`` lists: named files, or the file ids a directory holds."""
        with self._lock:
            for batch_id in [*self.external_batches, *self._written_batch_ids()]:
                written = self.batch_files(batch_id)
                if written is None:
                    continue
                if file_id == written.directory:
                    return [], [file.file_id for file in written.files]
                for file in written.files:
                    if file.file_id == file_id:
                        return [file], []
            return None

    def _written_batch_ids(self) -> list[str]:
        now = time.monotonic()
        ids = []
        for job in self.jobs.values():
            record = job.record(now, self.cancelled_status)
            if record["status"] == "SUCCEEDED":
                destination = record["destination"]
                ids += [batch["batchId"] for batch in destination.get("batches") or [destination]]
        return ids

    def _written_batch(self, batch_id: str) -> tuple[SimulatedJob, int] | None:
        """The SUCCEEDED job that wrote the batch, and how many of its profiles the batch holds."""
        now = time.monotonic()
        for job in self.jobs.values():
            record = job.record(now, self.cancelled_status)
            if record["status"] != "SUCCEEDED":
                continue
            destination = record["destination"]
            batches = destination.get("batches") or [{"batchId": destination.get("batchId")}]
            ids = [batch["batchId"] for batch in batches]
            if batch_id in ids:
                # Every exported profile is in exactly one batch.
                share, rest = divmod(job.scenario.exported_profiles, len(ids))
                return job, share + (1 if ids.index(batch_id) < rest else 0)
        return None

    # -- what tests read ------------------------------------------------------------------------

    def count(self, name: str) -> int:
        with self._lock:
            return self.counters[name]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            now = time.monotonic()
            return {
                "counters": dict(self.counters),
                "jobs": {job.id: job.status(now, self.cancelled_status) for job in self.jobs.values()},
            }


def _files(batch_id: str, records: int, count: int, file_size: int | None) -> list[SimulatedFile]:
    """A batch's files, its records shared out: Parquet holding the rows, or raw bytes of ``file_size``."""
    share, rest = divmod(records, count)
    files = []
    for index in range(count):
        file_id = f"{uuid.uuid5(uuid.NAMESPACE_URL, f'{batch_id}/{index}')}-1"
        rows = share + (1 if index < rest else 0)
        if file_size is None:
            files.append(SimulatedFile.of_rows(file_id, f"part-{index:05d}-{batch_id}.snappy.parquet", rows))
        else:
            files.append(SimulatedFile(file_id, f"part-{index:05d}-{batch_id}.bin", file_size, rows))
    return files
