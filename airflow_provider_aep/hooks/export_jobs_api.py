"""The export-jobs API as transport-free flows, shared by the hook's sync and async methods.

One request builder, one response handler, one retry policy; only the driver differs.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from airflow_provider_aep import USER_AGENT
from airflow_provider_aep.exceptions import AepApiError, ExportJobMayExistError
from airflow_provider_aep.hooks.actions import REQUEST_ID_HEADER, Flow, Reply, Request, Sleep
from airflow_provider_aep.hooks.call import Logger, call_with_retries
from airflow_provider_aep.hooks.connection_settings import AepConnectionSettings
from airflow_provider_aep.hooks.limits import Limits
from airflow_provider_aep.hooks.responses import json_content, malformed, parse
from airflow_provider_aep.hooks.retry import RetryPolicy
from airflow_provider_aep.identifiers import path_segment
from airflow_provider_aep.models.export_job import ExportJob, ExportJobPage, JobProgress
from airflow_provider_aep.models.export_job_request import ExportJobRequest

API_BASE_PATH = "/data/core/ups"
JOBS_PATH = "/export/jobs"
PAGE_SIZE = 100
# A job whose creationTime is this much before our attempt still counts as created by it: the
# server's clock and ours may disagree a little.
CLOCK_SKEW_MS = 5_000

J = TypeVar("J", bound=JobProgress)


class CancelAnswer(BaseModel):
    """The DELETE body: ``{"status": true, "message": ...}``, or nothing at all (204)."""

    status: bool | None = None
    message: str | None = None


@dataclass(frozen=True)
class Listing:
    """Jobs newest first, and whether they can be taken as the whole answer.

    ``complete``: the listing reached what was asked for (the last page, the limit, or the time
    boundary) rather than stopping at a page that repeated itself.
    """

    jobs: list[ExportJob]
    complete: bool


class ExportJobsApi:
    """Builds Platform requests, reads responses, and decides what to retry; performs no I/O.

    Job ids reaching these flows are already checked (``identifiers.export_job_id``); they are still
    percent-encoded into the path, so that no value can change which resource a request names.
    """

    def __init__(self, settings: AepConnectionSettings, *, retry_policy: RetryPolicy, limits: Limits, log: Logger):
        self.settings = settings
        self.retry_policy = retry_policy
        self.limits = limits
        self.log = log
        # What every request repeats, made once: a trigger sends the same GET every poll.
        self._headers = {
            "x-api-key": settings.client_id,
            "x-gw-ims-org-id": settings.org_id,
            "x-sandbox-name": settings.sandbox,
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        self._urls: dict[str, str] = {}

    def get_job(self, job_id: str) -> Flow[ExportJob]:
        """Refuses an answer about another id, so no job's outcome is ever taken for another's."""
        reply = yield from self._call("GET", f"{JOBS_PATH}/{path_segment(job_id)}")
        return _about(job_id, reply, ExportJob)

    def poll_job(self, job_id: str) -> Flow[JobProgress]:
        """``get_job`` for waits: the full ``ExportJob`` once it is terminal, only its progress before.

        The same checks apply; a running job's record is just not read in full at every poll.
        """
        reply = yield from self._call("GET", f"{JOBS_PATH}/{path_segment(job_id)}")
        progress = _about(job_id, reply, JobProgress)
        return _about(job_id, reply, ExportJob) if progress.is_terminal else progress

    def cancel_job(self, job_id: str) -> Flow[None]:
        """A ``status: false`` body is a refusal, even under a success status code."""
        reply = yield from self._call("DELETE", f"{JOBS_PATH}/{path_segment(job_id)}")
        answer = parse(reply, CancelAnswer, what="a cancel answer", empty=CancelAnswer())
        if answer.status is False:
            raise malformed(reply, answer.message or "Platform refused to cancel the export job", transient=False)

    def list_jobs(
        self, *, status: str | None = None, limit: int | None = None, created_after_ms: int | None = None
    ) -> Flow[Listing]:
        """Newest first, following ``link.next``; stops at ``limit`` jobs or at ``created_after_ms``.

        Pages are sorted by creation time, so the first job created before ``created_after_ms`` ends it.
        A server whose links never end cannot keep it going: it stops at an offset it has seen, at a
        page that brings no new job, and raises once it has read ``limits.max_pages`` pages.
        """
        query = {"limit": str(min(limit or PAGE_SIZE, PAGE_SIZE))}
        jobs: list[ExportJob] = []
        seen_ids: set[str] = set()
        seen_offsets: set[str] = set()
        for _ in range(self.limits.max_pages):
            if status:
                query["status"] = status
            reply = yield from self._call("GET", JOBS_PATH, params=query)
            page = parse(reply, ExportJobPage, what="a page of export jobs", empty=ExportJobPage())
            new = [job for job in page.records if job.id not in seen_ids]
            for job in new:
                if created_after_ms is not None and (job.creation_time or 0) < created_after_ms:
                    return Listing(jobs, complete=True)
                jobs.append(job)
                seen_ids.add(job.id)
                if limit is not None and len(jobs) >= limit:
                    return Listing(jobs, complete=True)
            next_query = page.next_query()
            if next_query is None:
                return Listing(jobs, complete=True)
            if not new or next_query["offset"] in seen_offsets:
                self.log.warning("The export job list repeats itself after %d jobs; stopped reading it.", len(jobs))
                return Listing(jobs, complete=False)
            seen_offsets.add(next_query["offset"])
            query = next_query
        raise AepApiError(
            method="GET",
            path=f"{API_BASE_PATH}{JOBS_PATH}",
            status_code=reply.status_code,
            message=f"the job list goes on past {self.limits.max_pages} pages (max_pages); stopped reading it",
            request_id=reply.request.request_id,
        )

    def find_matching_job(self, request: ExportJobRequest, *, created_after_ms: int) -> Flow[ExportJob | None]:
        """The newest job created since ``created_after_ms`` for the same dataset, schema and segments.

        Raises ``ExportJobMayExistError`` when the listing could not be read to that time, since
        "no job" would then be a guess.
        """
        try:
            listing = yield from self.list_jobs(created_after_ms=created_after_ms - CLOCK_SKEW_MS)
        except AepApiError as error:
            raise _may_exist(request, created_after_ms, f"listing the jobs failed: {error}") from None
        found = next((job for job in listing.jobs if matches(job, request)), None)
        if found is None and not listing.complete:
            raise _may_exist(request, created_after_ms, "the job list stopped before that time")
        return found

    def create_job(self, request: ExportJobRequest) -> Flow[ExportJob]:
        """POST once; after an ambiguous failure, look for the job the lost attempt may have made.

        Only then is it sent again, because the API has no idempotency key.
        """
        body = request.to_api_json()
        started_ms = int(time.time() * 1000)
        policy = self.retry_policy
        for attempt in range(1, policy.max_attempts + 1):
            try:
                reply = yield from self._call("POST", JOBS_PATH, json=body, resend_ambiguous=False)
                return parse(reply, ExportJob, what="the created export job")
            except AepApiError as error:
                if not (error.is_transient and error.may_have_been_processed) or attempt == policy.max_attempts:
                    raise
                existing = yield from self.find_matching_job(request, created_after_ms=started_ms)
                if existing is not None:
                    self.log.warning(
                        "Create request failed ambiguously (%s) but export job %s exists for it; using it.",
                        error,
                        existing.id,
                    )
                    return existing
                if error.malformed:
                    # Platform said yes, in words that could not be read: the job exists, the list
                    # just does not show it yet. Sending the POST again would export twice.
                    reason = f"Platform accepted it but its answer was unreadable: {error}"
                    raise _may_exist(request, started_ms, reason) from None
                self.log.warning("Create request failed (%s) and made no job; sending it again.", error)
                yield Sleep(policy.delay(attempt, error.retry_after))
        raise AssertionError("unreachable: the loop returns or raises")

    def _url(self, path: str) -> str:
        """Parsed and encoded once per path; few are kept, as a hook serves one task or one trigger."""
        url = self._urls.get(path)
        if url is None:
            if len(self._urls) >= 16:
                self._urls.clear()
            url = self._urls[path] = str(httpx.URL(f"{self.settings.gateway_url}{API_BASE_PATH}{path}"))
        return url

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        resend_ambiguous: bool = True,
    ) -> Flow[Reply]:
        url = self._url(path) if params is None else str(httpx.URL(self._url(path), params=params))
        full_path = f"{API_BASE_PATH}{path}"
        headers = self._headers if json is None else {**self._headers, "Content-Type": "application/json"}
        content = None if json is None else json_content(json)

        def build(token: str | None) -> Request:
            # A fresh request id per attempt: each one is a separate call for Adobe support.
            attempt_headers = {**headers, "Authorization": f"Bearer {token}", REQUEST_ID_HEADER: str(uuid.uuid4())}
            return Request(method, url, full_path, attempt_headers, content)

        return (
            yield from call_with_retries(
                build,
                policy=self.retry_policy,
                limits=self.limits,
                log=self.log,
                resend_ambiguous=resend_ambiguous,
            )
        )


def _about(job_id: str, reply: Reply, model: type[J]) -> J:
    """The reply as ``model``, refused when it answers for another job.

    Such an answer is never taken for the asked-for job's outcome, and is not worth retrying.
    """
    job = parse(reply, model, what="an export job")
    if job.id != job_id:
        raise malformed(reply, f"asked for job {job_id}, Platform answered for job {job.id}", transient=False)
    return job


def matches(job: ExportJob, request: ExportJobRequest) -> bool:
    """Same destination dataset, schema and segments: the job this request would have created."""
    schema = job.schema_.name if job.schema_ else None
    return (
        job.destination.dataset_id == request.destination.dataset_id
        and schema == request.schema_.name
        and sorted(job.segment_ids) == sorted(request.segment_ids)
    )


def _may_exist(request: ExportJobRequest, created_after_ms: int, reason: str) -> ExportJobMayExistError:
    since = datetime.fromtimestamp(created_after_ms / 1000, tz=timezone.utc).isoformat(timespec="seconds")
    return ExportJobMayExistError(
        "The create request failed in a way that may have made an export job, and whether it did could "
        f"not be checked ({reason}). It was not sent again, so that no second export is made. Look for a "
        f"job into dataset {request.destination.dataset_id} created since {since}: "
        "AdobeExperiencePlatformHook().list_export_jobs(), or GET /data/core/ups/export/jobs. A retry of "
        "the task reuses that job if it finds it."
    )
