"""Segmentation's export-jobs API as transport-free flows, shared by the hook's sync and async methods."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, TypeVar

from pydantic import BaseModel

from airflow_provider_aep.client.calls import Pages, PlatformCalls, create_once, read_pages
from airflow_provider_aep.client.flows import Flow, Reply
from airflow_provider_aep.client.responses import about, malformed, parse
from airflow_provider_aep.exceptions import AepApiError, ExportJobMayExistError, ExportJobNotFoundError
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
# A page's query, as the cursor the paging helper keeps: the next link's parameters, in order.
Query = tuple[tuple[str, str], ...]


class CancelAnswer(BaseModel):
    """The DELETE body: ``{"status": true, "message": ...}``, or nothing at all (204)."""

    status: bool | None = None
    message: str | None = None


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
        return _job(reply, job_id, ExportJob)

    def poll_job(self, job_id: str) -> Flow[JobProgress]:
        """``get_job`` for waits: the full ``ExportJob`` once it is terminal, only its progress before.

        The same checks apply; a running job's record is just not read in full at every poll.
        """
        reply = yield from self._call("GET", f"{JOBS_PATH}/{path_segment(job_id)}")
        progress = _job(reply, job_id, JobProgress)
        return _job(reply, job_id, ExportJob) if progress.is_terminal else progress

    def cancel_job(self, job_id: str) -> Flow[None]:
        """A ``status: false`` body is a refusal, even under a success status code."""
        reply = yield from self._call("DELETE", f"{JOBS_PATH}/{path_segment(job_id)}")
        answer = parse(reply, CancelAnswer, what="a cancel answer", empty=CancelAnswer())
        if answer.status is False:
            raise malformed(reply, answer.message or "Platform refused to cancel the export job", transient=False)

    def list_jobs(
        self, *, status: str | None = None, limit: int | None = None, created_after_ms: int | None = None
    ) -> Flow[Pages[ExportJob]]:
        """Newest first, following ``link.next``; stops at ``limit`` jobs or at ``created_after_ms``.

        Pages are sorted by creation time, so the first job created before ``created_after_ms`` ends
        it. A listing that repeats itself is returned as far as it went, marked incomplete.
        """
        first = {"limit": str(min(limit or PAGE_SIZE, PAGE_SIZE))}

        def page(cursor: Query) -> Flow[tuple[list[ExportJob], Query | None, Reply]]:
            query = dict(cursor)
            if status:
                query["status"] = status
            reply = yield from self._call("GET", JOBS_PATH, params=query)
            jobs = parse(reply, ExportJobPage, what="a page of export jobs", empty=ExportJobPage())
            following = jobs.next_query()
            return jobs.records, None if following is None else tuple(following.items()), reply

        listing = yield from read_pages(
            page,
            tuple(first.items()),
            key=lambda job: job.id,
            max_pages=self.calls.limits.max_pages,
            # A job without a creation time says nothing of where the listing is: it does not end it.
            stop_at=None
            if created_after_ms is None
            else lambda job: job.creation_time is not None and job.creation_time < created_after_ms,
            limit=limit,
        )
        if not listing.complete:
            self.log.warning(
                "The export job list repeats itself after %d jobs; stopped reading it.", len(listing.entries)
            )
        return listing

    def find_matching_job(self, request: ExportJobRequest, *, created_after_ms: int) -> Flow[ExportJob | None]:
        """The newest job created since ``created_after_ms`` for the same dataset, schema and segments.

        Raises ``ExportJobMayExistError`` when the listing could not be read to that time, since
        "no job" would then be a guess.
        """
        try:
            listing = yield from self.list_jobs(created_after_ms=created_after_ms - CLOCK_SKEW_MS)
        except AepApiError as error:
            raise _may_exist(request, created_after_ms, f"listing the jobs failed: {error}") from None
        found = next((job for job in listing.entries if matches(job, request)), None)
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
                metrics=self.calls.metrics,
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


def _job(reply: Reply, job_id: str, model: type[J]) -> J:
    """The reply as ``model``, refused when it answers for another job."""
    return about(reply, job_id, [parse(reply, model, what="an export job")], what="job")


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
