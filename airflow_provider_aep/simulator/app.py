"""The simulator's HTTP surface: IMS token endpoint, the export-jobs API, and a control API."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route as Endpoint
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airflow_provider_aep.simulator.files import SimulatedFile
from airflow_provider_aep.simulator.state import Fault, Route, Scenario, SimulatorState

TOKEN_PATH = "/ims/token/v3"
JOBS_PATH = "/data/core/ups/export/jobs"
CATALOG_PATH = "/data/foundation/catalog"
EXPORT_PATH = "/data/foundation/export"
CONTROL_PATH = "/_simulator"
SEGMENT_STATUSES = {"realized", "existing", "exited"}


class DroppedConnection(Exception):
    """Raised after a partial response so the server closes the socket: a dropped connection."""


def route_of(method: str, path: str, query: bytes = b"") -> Route:
    path = path.rstrip("/")
    if path == TOKEN_PATH:
        return "token"
    if path.startswith(CONTROL_PATH):
        return "control"
    if path == JOBS_PATH:
        return "create" if method == "POST" else "list"
    if path.startswith(JOBS_PATH + "/"):
        return "cancel" if method == "DELETE" else "get"
    if path == f"{CATALOG_PATH}/dataSets":
        return "dataset_create" if method == "POST" else "dataset_list"
    if path.startswith(f"{CATALOG_PATH}/dataSets/"):
        return "dataset_get"
    if path == f"{CATALOG_PATH}/batches":
        return "batch_list"
    if path.startswith(f"{CATALOG_PATH}/batches/"):
        return "batch_get"
    if path.startswith(f"{EXPORT_PATH}/batches/"):
        return "batch_files"
    if path.startswith(f"{EXPORT_PATH}/files/"):
        return "file_download" if method == "HEAD" or b"path=" in query else "file_list"
    return "other"


class FaultInjector:
    """ASGI middleware: counts every request and plays the scripted fault it meets, if any."""

    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_of(scope["method"], scope["path"], scope.get("query_string", b""))
        self.state.started(route)
        answered = False

        async def send_and_count(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.body":
                self.state.sent(route, len(message.get("body", b"")))
            if message["type"] == "http.response.body" and not message.get("more_body") and not answered:
                # Counted as done before its last bytes leave: a client cannot send its next
                # request before they arrive, so one that waits for each answer is never two.
                answered = True
                self.state.finished(route)
            await send(message)

        try:
            await self._handle(scope, receive, send_and_count, route)
        finally:
            if not answered:
                self.state.finished(route)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, route: Route) -> None:
        headers = {key.decode().lower(): value.decode() for key, value in scope["headers"]}
        fault = self.state.observe(
            route,
            scope["method"],
            scope["path"],
            headers.get("x-request-id"),
            headers.get("range"),
            client=await self._name_client(route, scope),
        )
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.kind in ("drop", "slow") and fault.after_bytes is not None:
            await self.app(scope, receive, _interrupt_after(send, fault, lambda: self.state.interrupted(route)))
            return
        captured: list[Message] = []
        if fault.after_handling:

            async def capture(message: Message) -> None:
                captured.append(message)

            await self.app(scope, receive, capture)
        await self._play(fault, scope, receive, send, captured)

    async def _name_client(self, route: Route, scope: Scope) -> str | None:
        """Who asks for a token, named off the event loop: naming may read the system's sockets."""
        identify, peer = self.state.identify_client, scope.get("client")
        if route != "token" or identify is None or not peer:
            return None
        return await asyncio.get_running_loop().run_in_executor(None, identify, peer[1])

    async def _play(self, fault: Fault, scope: Scope, receive: Receive, send: Send, captured: list[Message]) -> None:
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay)
            if not fault.after_handling:
                await self.app(scope, receive, send)
                return
            for message in captured:
                await send(message)
        elif fault.kind == "drop":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]})
            await send({"type": "http.response.body", "body": b'{"records": [', "more_body": True})
            raise DroppedConnection
        else:
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else None
            body = _problem(fault.status, "Simulated fault", f"Injected HTTP {fault.status}")
            await JSONResponse(body, status_code=fault.status, headers=headers)(scope, receive, send)


def _interrupt_after(send: Send, fault: Fault, interrupted: Callable[[], None]) -> Send:
    """Passes the real answer on until ``fault.after_bytes`` body bytes have gone out, then drops the
    connection (``drop``) or pauses ``fault.delay`` seconds before the rest (``slow``). Calls
    ``interrupted`` at that moment: a test can act while a download is stalled mid-file."""
    budget = fault.after_bytes or 0
    sent = 0
    done = False

    async def interrupt(message: Message) -> None:
        nonlocal sent, done
        if message["type"] == "http.response.body" and not done:
            body = message.get("body", b"")
            if sent + len(body) < budget:
                sent += len(body)
            else:
                done = True
                await send({"type": "http.response.body", "body": body[: budget - sent], "more_body": True})
                interrupted()
                if fault.kind == "drop":
                    raise DroppedConnection
                await asyncio.sleep(fault.delay)
                message = {**message, "body": body[budget - sent :]}
        await send(message)

    return interrupt


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {
        "type": f"https://ns.adobe.com/aep/errors/UPS-{status}",
        "title": title,
        "status": status,
        "detail": detail,
    }


def _gateway_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error_code": code, "message": message}, status_code=status)


def create_app(state: SimulatorState) -> ASGIApp:
    async def token(request: Request) -> Response:
        if "client_secret" in request.query_params:
            return JSONResponse(
                {"error": "invalid_request", "error_description": "credentials must not be sent in the URL"},
                400,
            )
        form = await request.form()
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type", "error_description": "unsupported grant"}, 400)
        if form.get("client_id") != state.client_id:
            return JSONResponse({"error": "invalid_client", "error_description": "invalid client_id parameter"}, 400)
        if form.get("client_secret") != state.client_secret:
            return JSONResponse(
                {"error": "invalid_client", "error_description": "invalid client_secret parameter"}, 401
            )
        if not str(form.get("scope") or "").split(",")[0]:
            return JSONResponse({"error": "invalid_scope", "error_description": "scope is required"}, 400)
        return JSONResponse(
            {
                "access_token": state.issue_token(),
                "token_type": "bearer",
                "expires_in": int(state.token_lifetime),
            }
        )

    def authorize(request: Request) -> Response | None:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not state.token_is_valid(auth[len("Bearer ") :]):
            return _gateway_error(401, "401013", "Oauth token is not valid")
        if request.headers.get("x-api-key") != state.client_id:
            return _gateway_error(403, "403000", "Api Key is invalid")
        if request.headers.get("x-gw-ims-org-id") != state.org_id:
            return _gateway_error(403, "403003", "Invalid x-gw-ims-org-id header")
        if not request.headers.get("x-sandbox-name"):
            return _gateway_error(403, "403010", "Missing x-sandbox-name header")
        return None

    def request_id(request: Request) -> str:
        return request.headers.get("x-request-id") or str(uuid.uuid4())

    async def list_jobs(request: Request) -> Response:
        if denied := authorize(request):
            return denied
        try:
            limit = int(request.query_params.get("limit", "20"))
        except ValueError:
            return JSONResponse(_problem(400, "Bad Request", "limit must be a number"), 400)
        status = request.query_params.get("status")
        return JSONResponse(state.list_jobs(status=status, limit=limit, offset=request.query_params.get("offset")))

    async def create_job(request: Request) -> Response:
        if denied := authorize(request):
            return denied
        body = await _json_or_none(request)
        problems = _validate_create_body(body)
        if problems:
            return JSONResponse(
                {
                    "requestId": request_id(request),
                    "errors": [{"code": "UPS-400", "message": problem} for problem in problems],
                    "type": "https://ns.adobe.com/aep/errors/UPS-400",
                    "title": "Bad Request",
                    "status": 400,
                },
                400,
            )
        record = state.create_job(body, request_id(request))
        return JSONResponse(record, headers={"X-Location": f"{JOBS_PATH}/{record['id']}"})

    def job_id_of(request: Request) -> int | None:
        raw = request.path_params["job_id"]
        return int(raw) if raw.isdigit() else None

    def not_found(request: Request) -> Response:
        detail = f"Export job {request.path_params['job_id']} not found"
        return JSONResponse({**_problem(404, "Not Found", detail), "requestId": request_id(request)}, 404)

    async def get_job(request: Request) -> Response:
        if denied := authorize(request):
            return denied
        job_id = job_id_of(request)
        record = state.job_record(job_id, polled=True) if job_id is not None else None
        if record is None:
            return not_found(request)
        # Opt-in for generic HTTP sensors, which can only wait for a status code: answer this one
        # (e.g. 404) while the job is still running. AEP itself has no such parameter.
        pending_status = request.query_params.get("pending_status")
        if pending_status and record["status"] not in ("SUCCEEDED", "FAILED"):
            return JSONResponse(
                _problem(int(pending_status), "Pending", "export job still running"), int(pending_status)
            )
        return JSONResponse(record)

    async def cancel_job(request: Request) -> Response:
        if denied := authorize(request):
            return denied
        job_id = job_id_of(request)
        if job_id is None or not state.cancel_job(job_id):
            return not_found(request)
        if state.cancel_returns_empty:
            return Response(status_code=204)
        return JSONResponse({"status": True, "message": "Export job has been marked for cancelling"})

    def catalog_not_found(what: str, key: str) -> Response:
        return JSONResponse(_problem(404, "Not Found", f"{what} {key} not found"), 404)

    async def create_dataset(request: Request) -> Response:
        if denied := authorize(request):
            return denied
        body = await _json_or_none(request)
        problems = _validate_dataset_body(body)
        if problems:
            return JSONResponse(_problem(400, "Bad Request", "; ".join(problems)), 400)
        dataset_id = state.create_dataset(body)
        return JSONResponse(
            [f"{state.dataset_reference_prefix}{dataset_id}"],
            status_code=201,
            headers={"Location": f"{CATALOG_PATH}/dataSets/{dataset_id}"},
        )

    async def list_datasets(request: Request) -> Response:
        if denied := authorize(request):
            return denied
        try:
            start = 0 if state.ignore_start else int(request.query_params.get("start", "0"))
            limit = int(request.query_params.get("limit", "50"))
        except ValueError:
            return JSONResponse(_problem(400, "Bad Request", "start and limit must be numbers"), 400)
        return JSONResponse(state.find_datasets(name=request.query_params.get("name"), start=start, limit=limit))

    async def get_dataset(request: Request) -> Response:
        if denied := authorize(request):
            return denied
        dataset_id = request.path_params["dataset_id"]
        record = state.datasets.get(dataset_id)
        if record is None:
            return catalog_not_found("Dataset", dataset_id)
        return JSONResponse({dataset_id: record})

    async def get_batch(request: Request) -> Response:
        if denied := authorize(request):
            return denied
        batch_id = request.path_params["batch_id"]
        record = state.batch_record(batch_id)
        if record is None:
            return catalog_not_found("Batch", batch_id)
        return JSONResponse({batch_id: record})

    async def list_batches(request: Request) -> Response:
        if denied := authorize(request):
            return denied
        query = request.query_params
        order = query.get("orderBy", "desc:created")
        if order not in ("asc:created", "desc:created"):
            return JSONResponse(_problem(400, "Bad Request", f"orderBy {order!r} is not supported here"), 400)
        try:
            start = 0 if state.ignore_start else int(query.get("start", "0"))
            limit = int(query.get("limit", "50"))
            created_after = int(query["createdAfter"]) if "createdAfter" in query else None
        except ValueError:
            return JSONResponse(_problem(400, "Bad Request", "start, limit and createdAfter must be numbers"), 400)
        return JSONResponse(
            state.list_batches(
                dataset_id=query.get("dataSet"),
                created_after=created_after,
                newest_first=order.startswith("desc"),
                start=start,
                limit=limit,
            )
        )

    def listing_page(request: Request, entries: list[dict[str, Any]]) -> Response:
        """Data Access's paging: ``start``/``limit``, and a ``_links.next`` on all but the last page."""
        try:
            start = 0 if state.ignore_start else int(request.query_params.get("start", "0"))
            limit = max(1, min(int(request.query_params.get("limit", "100")), state.max_page_size))
        except ValueError:
            return JSONResponse(_problem(400, "Bad Request", "start and limit must be numbers"), 400)
        page = entries[start : start + limit]
        body: dict[str, Any] = {"data": page, "_page": {"limit": limit, "count": len(page)}, "_links": {}}
        if start + limit < len(entries):
            host = state.next_link_host or f"{request.url.hostname}:{request.url.port or 443}"
            query = state.next_link_query or f"?start={start + limit}&limit={limit}"
            body["_links"]["next"] = {"href": f"{request.url.scheme}://{host}{request.url.path}{query}"}
        return JSONResponse(body)

    def file_link(request: Request, file_id: str, name: str | None = None) -> dict[str, Any]:
        # Adobe's links carry an explicit port, ":443" on the real gateway.
        base = f"{request.url.scheme}://{request.url.hostname}:{request.url.port or 443}{EXPORT_PATH}/files/{file_id}"
        return {"self": {"href": base if name is None else f"{base}?path={name}"}}

    async def list_batch_files(request: Request) -> Response:
        if denied := authorize(request):
            return denied
        batch_id = request.path_params["batch_id"]
        written = state.batch_files(batch_id)
        if written is None:
            return catalog_not_found("Batch", batch_id)
        now = str(int(time.time() * 1000))
        groups = (
            [(written.directory, written.files)]
            if written.directory
            else [(file.file_id, [file]) for file in written.files]
        )
        entries = [
            {
                "dataSetFileId": file_id,
                "dataSetViewId": f"view-{batch_id}",
                "version": "1.0.0",
                "created": now,
                "updated": now,
                "isValid": True,
                # Numbers as strings, as Data Access writes them.
                "records": str(sum(file.records for file in files)),
                "size": str(sum(file.size for file in files)),
                "_links": file_link(request, file_id),
            }
            for file_id, files in groups
        ]
        return listing_page(request, entries)

    async def file(request: Request) -> Response:
        if denied := authorize(request):
            return denied
        file_id = request.path_params["file_id"]
        found = state.file_entries(file_id)
        if found is None:
            return catalog_not_found("File", file_id)
        files, inner_ids = found
        name = request.query_params.get("path")
        if name is None:
            entries = [
                {"name": f.name, "length": str(f.size), "_links": file_link(request, file_id, f.name)} for f in files
            ]
            entries += [{"dataSetFileId": inner, "_links": file_link(request, inner)} for inner in inner_ids]
            return listing_page(request, entries)
        chosen = next((f for f in files if f.name == name), None)
        if chosen is None:
            return catalog_not_found("File", f"{file_id}?path={name}")
        return _download(request, chosen, honour_range=not state.ignore_range)

    async def control_stats(_: Request) -> Response:
        return JSONResponse(state.stats())

    async def control_reset(_: Request) -> Response:
        state.reset()
        return JSONResponse({"reset": True})

    async def control_scenarios(request: Request) -> Response:
        items = await request.json()
        state.queue_scenarios(*(Scenario(**item) for item in items))
        return JSONResponse({"queued": len(state.scenario_queue)})

    async def control_faults(request: Request) -> Response:
        items = await request.json()
        faults = [Fault(**item) for item in items]
        state.inject(*faults)
        return JSONResponse({"faults": [asdict(fault) for fault in state.faults]})

    async def control_add_batch(request: Request) -> Response:
        item = await request.json()
        return JSONResponse({"batch_id": state.add_batch(**item)})

    async def control_batch_status(request: Request) -> Response:
        item = await request.json()
        batch_id = request.path_params["batch_id"]
        if batch_id not in state.external_batches:
            return catalog_not_found("Batch", batch_id)
        state.set_batch_status(batch_id, item["status"], tuple(item.get("errors", ())))
        return JSONResponse({"batch_id": batch_id, "status": item["status"]})

    async def control_external_job(request: Request) -> Response:
        item = await request.json()
        scenario = Scenario(**item["scenario"]) if "scenario" in item else None
        return JSONResponse(state.create_external_job(item["dataset_id"], scenario))

    async def control_revoke(_: Request) -> Response:
        state.revoke_tokens()
        return JSONResponse({"revoked": True})

    app = Starlette(
        routes=[
            Endpoint(TOKEN_PATH, token, methods=["POST"]),
            Endpoint(JOBS_PATH, list_jobs, methods=["GET"]),
            Endpoint(JOBS_PATH + "/", list_jobs, methods=["GET"]),
            Endpoint(JOBS_PATH, create_job, methods=["POST"]),
            Endpoint(JOBS_PATH + "/{job_id}", get_job, methods=["GET"]),
            Endpoint(JOBS_PATH + "/{job_id}", cancel_job, methods=["DELETE"]),
            Endpoint(f"{CATALOG_PATH}/dataSets", create_dataset, methods=["POST"]),
            Endpoint(f"{CATALOG_PATH}/dataSets", list_datasets, methods=["GET"]),
            Endpoint(CATALOG_PATH + "/dataSets/{dataset_id}", get_dataset, methods=["GET"]),
            Endpoint(f"{CATALOG_PATH}/batches", list_batches, methods=["GET"]),
            Endpoint(CATALOG_PATH + "/batches/{batch_id}", get_batch, methods=["GET"]),
            Endpoint(EXPORT_PATH + "/batches/{batch_id}/files", list_batch_files, methods=["GET"]),
            Endpoint(EXPORT_PATH + "/files/{file_id}", file, methods=["GET", "HEAD"]),
            Endpoint(CONTROL_PATH + "/stats", control_stats, methods=["GET"]),
            Endpoint(CONTROL_PATH + "/reset", control_reset, methods=["POST"]),
            Endpoint(CONTROL_PATH + "/scenarios", control_scenarios, methods=["POST"]),
            Endpoint(CONTROL_PATH + "/faults", control_faults, methods=["POST"]),
            Endpoint(CONTROL_PATH + "/revoke-tokens", control_revoke, methods=["POST"]),
            Endpoint(CONTROL_PATH + "/batches", control_add_batch, methods=["POST"]),
            Endpoint(CONTROL_PATH + "/batches/{batch_id}/status", control_batch_status, methods=["POST"]),
            Endpoint(CONTROL_PATH + "/external-jobs", control_external_job, methods=["POST"]),
        ]
    )
    return FaultInjector(app, state)


def _validate_create_body(body: object) -> list[str]:
    """The checks Platform makes before accepting a job (a subset; enough to catch bad clients)."""
    if not isinstance(body, dict):
        return ["request body must be a JSON object"]
    problems = []
    destination = body.get("destination")
    if not isinstance(destination, dict) or not (destination.get("datasetId") or destination.get("dataSetId")):
        problems.append("destination.datasetId is required")
    schema = body.get("schema")
    if not isinstance(schema, dict) or not schema.get("name"):
        problems.append("schema.name is required")
    filter_ = body.get("filter") or {}
    for index, segment in enumerate(filter_.get("segments") or []):
        if not isinstance(segment, dict) or not segment.get("segmentId"):
            problems.append(f"filter.segments[{index}].segmentId is required")
        elif not set(segment.get("status") or []) <= SEGMENT_STATUSES:
            problems.append(f"filter.segments[{index}].status must be among {sorted(SEGMENT_STATUSES)}")
    window = filter_.get("segmentQualificationTime") or {}
    stamps = [("filter.fromIngestTimestamp", filter_.get("fromIngestTimestamp"))]
    stamps += [(f"filter.segmentQualificationTime.{key}", window.get(key)) for key in ("startTime", "endTime")]
    for name, value in stamps:
        if value is not None and not _is_rfc3339(value):
            problems.append(f"{name} must be an RFC 3339 timestamp")
    return problems


async def _json_or_none(request: Request) -> Any:
    """The request's JSON body, or None when it is not JSON (the validators then say so)."""
    try:
        return json.loads(await request.body())
    except ValueError:
        return None


def _download(request: Request, file: SimulatedFile, *, honour_range: bool) -> Response:
    """The file's bytes: 206 with ``Content-Range`` for ``Range: bytes=a-`` or ``a-b``, else 200."""
    headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
    start, end, status = 0, file.size, 200
    match = re.fullmatch(r"bytes=(\d+)-(\d*)", request.headers.get("range", "").strip())
    if match and honour_range:
        start = int(match.group(1))
        end = min(int(match.group(2)) + 1, file.size) if match.group(2) else file.size
        if start >= file.size:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{file.size}"})
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{file.size}"
    headers["Content-Length"] = str(end - start)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    return StreamingResponse(file.read(start, end), status_code=status, headers=headers)


def _validate_dataset_body(body: object) -> list[str]:
    """What Catalog needs to create a dataset (a subset of its checks)."""
    if not isinstance(body, dict):
        return ["request body must be a JSON object"]
    problems = []
    if not isinstance(body.get("name"), str) or not body["name"].strip():
        problems.append("name is required")
    schema_ref = body.get("schemaRef")
    if not isinstance(schema_ref, dict) or not schema_ref.get("id"):
        problems.append("schemaRef.id is required")
    return problems


def _is_rfc3339(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return parsed.tzinfo is not None
