"""One HTTP call with its retries, as a flow: the single retry loop every request goes through."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from airflow_provider_aep.hooks.actions import Flow, GetToken, Oversized, Reply, Request, Send, Sleep
from airflow_provider_aep.hooks.limits import Limits
from airflow_provider_aep.hooks.responses import error_from_oversized, error_from_response, error_from_transport
from airflow_provider_aep.hooks.retry import RetryPolicy


class Logger(Protocol):
    """What flows log through: a stdlib logger, or the structlog-backed one Airflow 3 hands out."""

    def debug(self, event: str, *args: Any) -> Any:
        """Per-request detail (status, request id), too chatty for a task log by default."""

    def info(self, event: str, *args: Any) -> Any:
        """Recoveries worth a line, such as fetching a new token after a 401."""

    def warning(self, event: str, *args: Any) -> Any:
        """Failures being retried, so that a slow task shows why it is slow."""


def call_with_retries(
    build: Callable[[str | None], Request],
    *,
    policy: RetryPolicy,
    limits: Limits,
    log: Logger,
    authenticated: bool = True,
    resend_ambiguous: bool = True,
) -> Flow[Reply]:
    """Send ``build(token)`` until it succeeds or the policy gives up.

    Transient failures back off and try again. On a 401 a new token is fetched and the call is
    tried once more. Failures that may have changed server state (a 5xx, a lost response) are only
    resent when ``resend_ambiguous``; the create flow turns it off and deduplicates instead.
    """
    token: str | None = (yield GetToken()) if authenticated else None
    refreshed = False
    attempt = 1
    while True:
        request = build(token)
        outcome = yield Send(request, limits.timeout, limits.max_response_bytes)
        if isinstance(outcome, Reply):
            log.debug(
                "AEP %s %s -> %s (x-request-id %s)",
                request.method,
                request.path,
                outcome.status_code,
                request.request_id or "-",
            )
            if outcome.is_success:
                return outcome
            if authenticated and outcome.status_code == 401 and not refreshed:
                log.info("Platform rejected the access token (HTTP 401); fetching a new one.")
                token = yield GetToken(rejected=token)
                refreshed = True
                continue
            error = error_from_response(outcome)
        elif isinstance(outcome, Oversized):
            error = error_from_oversized(outcome)
        else:
            error = error_from_transport(request, outcome, limits.timeout)
        retryable = error.is_transient and (resend_ambiguous or not error.may_have_been_processed)
        if not retryable or attempt >= policy.max_attempts:
            raise error
        delay = policy.delay(attempt, error.retry_after)
        log.warning("%s; retrying in %.1fs (attempt %d of %d).", error, delay, attempt + 1, policy.max_attempts)
        yield Sleep(delay)
        attempt += 1
