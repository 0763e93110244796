"""The export-jobs API as transport-free flows, shared by the hook's sync and async methods.

One request builder, one response handler, one retry policy; only the driver differs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

from pydantic import BaseModel

from airflow_provider_aep.exceptions import AepApiError, ExportJobMayExistError, ExportJobNotFoundError
from airflow_provider_aep.hooks.actions import Flow, Reply
from airflow_provider_aep.hooks.call import PlatformCalls, create_once
from airflow_provider_aep.hooks.responses import malformed, parse
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
    """Segmentation's export-jobs paths and models over the shared request core; performs no I/O.

    Job ids reaching these flows are already checked (``identifiers.export_job_id``); they are still
    percent-encoded into the path, so that no value can change which resource a request names.
    """

    def __init__(self, calls: PlatformCalls):
        self.calls = calls
        self.log = calls.log

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
        for _ in range(self.calls.limits.max_pages):
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
            message=f"the job list goes on past {self.calls.limits.max_pages} pages (max_pages); stopped reading it",
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
        """POST once; after an ambiguous failure, reuse the job the lost attempt made, if any."""
        body = request.to_api_json()
        started_ms = int(time.time() * 1000)

        def post() -> Flow[ExportJob]:
            reply = yield from self._call("POST", JOBS_PATH, json=body, resend_ambiguous=False)
            return parse(reply, ExportJob, what="the created export job")

        return (
            yield from create_once(
                post,
                lambda: self.find_matching_job(request, created_after_ms=started_ms),
                what="export job",
                may_exist=lambda reason: _may_exist(request, started_ms, reason),
                policy=self.calls.retry_policy,
                log=self.log,
            )
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        resend_ambiguous: bool = True,
    ) -> Flow[Reply]:
        return (
            yield from self.calls.call(
                method,
                f"{API_BASE_PATH}{path}",
                params=params,
                json=json,
                resend_ambiguous=resend_ambiguous,
                not_found=ExportJobNotFoundError,
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
