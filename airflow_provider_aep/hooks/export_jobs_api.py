"""The export-jobs API as transport-free flows: one request builder, one response handler, one
retry policy, shared by the hook's sync and async methods (only the driver differs)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from airflow_provider_aep import USER_AGENT
from airflow_provider_aep.exceptions import AepApiError
from airflow_provider_aep.hooks.actions import Flow, Sleep
from airflow_provider_aep.hooks.call import Logger, call_with_retries
from airflow_provider_aep.hooks.connection_settings import AepConnectionSettings
from airflow_provider_aep.hooks.responses import REQUEST_ID_HEADER, json_body
from airflow_provider_aep.hooks.retry import RetryPolicy
from airflow_provider_aep.models.export_job import ExportJob, ExportJobPage
from airflow_provider_aep.models.export_job_request import ExportJobRequest

API_BASE_PATH = "/data/core/ups"
JOBS_PATH = "/export/jobs"
PAGE_SIZE = 100
# A job whose creationTime is this much before our attempt still counts as created by it: the
# server's clock and ours may disagree a little.
CLOCK_SKEW_MS = 5_000


class ExportJobsApi:
    """Builds Platform requests, reads responses, and decides what to retry; performs no I/O."""

    def __init__(
        self,
        settings: AepConnectionSettings,
        *,
        retry_policy: RetryPolicy,
        timeout: float,
        log: Logger,
    ) -> None:
        self.settings = settings
        self.retry_policy = retry_policy
        self.timeout = timeout
        self.log = log

    def get_job(self, job_id: str) -> Flow[ExportJob]:
        response = yield from self._call("GET", f"{JOBS_PATH}/{job_id}")
        return ExportJob.model_validate(json_body(response))

    def cancel_job(self, job_id: str) -> Flow[None]:
        response = yield from self._call("DELETE", f"{JOBS_PATH}/{job_id}")
        body = json_body(response)
        if isinstance(body, dict) and body.get("status") is False:
            raise AepApiError(
                method="DELETE",
                path=f"{API_BASE_PATH}{JOBS_PATH}/{job_id}",
                status_code=response.status_code,
                message=str(body.get("message") or "Platform refused to cancel the export job"),
                request_id=response.request.headers.get(REQUEST_ID_HEADER),
            )

    def list_jobs(
        self, *, status: str | None = None, limit: int | None = None, created_after_ms: int | None = None
    ) -> Flow[list[ExportJob]]:
        """Newest first, following ``link.next``; stops at ``limit`` jobs or, since pages are sorted
        by creation time, at the first job created before ``created_after_ms``."""
        first_page = {"limit": str(min(limit or PAGE_SIZE, PAGE_SIZE))}
        if status:
            first_page["status"] = status
        query: dict[str, str] | None = first_page
        jobs: list[ExportJob] = []
        seen_offsets: set[str] = set()
        while query is not None:
            response = yield from self._call("GET", JOBS_PATH, params=query)
            page = ExportJobPage.model_validate(json_body(response) or {})
            for job in page.records:
                if created_after_ms is not None and (job.creation_time or 0) < created_after_ms:
                    return jobs
                jobs.append(job)
                if limit is not None and len(jobs) >= limit:
                    return jobs
            query = page.next_query() if page.records else None
            if query is not None and query["offset"] in seen_offsets:
                break  # a link that points back at a page already read would loop forever
            if query is not None:
                seen_offsets.add(query["offset"])
                if status:
                    query.setdefault("status", status)
        return jobs

    def find_matching_job(self, request: ExportJobRequest, *, created_after_ms: int) -> Flow[ExportJob | None]:
        """The newest job created since ``created_after_ms`` for the same dataset, schema and segments."""
        recent = yield from self.list_jobs(created_after_ms=created_after_ms - CLOCK_SKEW_MS)
        return next((job for job in recent if matches(job, request)), None)

    def create_job(self, request: ExportJobRequest) -> Flow[ExportJob]:
        """POST once; after an ambiguous failure look for the job the lost attempt may have made
        before sending again, because the API has no idempotency key."""
        body = request.to_api_json()
        started_ms = int(time.time() * 1000)
        policy = self.retry_policy
        for attempt in range(1, policy.max_attempts + 1):
            try:
                response = yield from self._call("POST", JOBS_PATH, json=body, resend_ambiguous=False)
                return ExportJob.model_validate(json_body(response))
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
                self.log.warning("Create request failed (%s) and made no job; sending it again.", error)
                yield Sleep(policy.delay(attempt, error.retry_after))
        raise AssertionError("unreachable: the loop returns or raises")

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        resend_ambiguous: bool = True,
    ) -> Flow[httpx.Response]:
        settings = self.settings
        url = f"{settings.gateway_url}{API_BASE_PATH}{path}"
        timeout = httpx.Timeout(self.timeout).as_dict()

        def build(token: str | None) -> httpx.Request:
            return httpx.Request(
                method,
                url,
                params=params,
                json=json,
                headers={
                    "Authorization": f"Bearer {token}",
                    "x-api-key": settings.client_id,
                    "x-gw-ims-org-id": settings.org_id,
                    "x-sandbox-name": settings.sandbox,
                    REQUEST_ID_HEADER: str(uuid.uuid4()),
                    "Accept": "application/json",
                    "User-Agent": USER_AGENT,
                },
                extensions={"timeout": timeout},
            )

        return (
            yield from call_with_retries(
                build, policy=self.retry_policy, log=self.log, resend_ambiguous=resend_ambiguous
            )
        )


def matches(job: ExportJob, request: ExportJobRequest) -> bool:
    """Same destination dataset, schema and segments: the job this request would have created."""
    schema = job.schema_.name if job.schema_ else None
    return (
        job.destination.dataset_id == request.destination.dataset_id
        and schema == request.schema_.name
        and sorted(job.segment_ids) == sorted(request.segment_ids)
    )
