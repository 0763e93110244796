"""The request core every Platform API module shares: how a call is built, and its retry loop.

``PlatformCalls`` builds a request with the four AEP headers and a fresh ``x-request-id`` for any
Platform path; ``call_with_retries`` is the single retry loop every request goes through, the IMS
token request included. Both are flows: they yield actions and never do I/O themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable
from typing import Any, Protocol, TypeVar

import httpx

from airflow_provider_aep import USER_AGENT
from airflow_provider_aep.exceptions import AepApiError, AepNotFoundError
from airflow_provider_aep.hooks.actions import REQUEST_ID_HEADER, Flow, GetToken, Oversized, Reply, Request, Send, Sleep
from airflow_provider_aep.hooks.connection_settings import AepConnectionSettings
from airflow_provider_aep.hooks.limits import Limits
from airflow_provider_aep.hooks.responses import (
    error_from_oversized,
    error_from_response,
    error_from_transport,
    json_content,
)
from airflow_provider_aep.hooks.retry import RetryPolicy

T = TypeVar("T")
E = TypeVar("E")

# Parsed URLs a core keeps: a hook serves one task or one trigger, which call few paths.
_URLS_KEPT = 16


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
    not_found: type[AepApiError] = AepNotFoundError,
) -> Flow[Reply]:
    """Send ``build(token)`` until it succeeds or the policy gives up.

    Transient failures back off and try again. On a 401 a new token is fetched and the call is
    tried once more. Failures that may have changed server state (a 5xx, a lost response) are only
    resent when ``resend_ambiguous``; the create flows turn it off and deduplicate instead. A 404 is
    raised as ``not_found``, so that each API names what was missing.
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
            error = error_from_response(outcome, not_found=not_found)
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


class PlatformCalls:
    """Requests to any Platform API on one connection; API modules add paths and models.

    What every request repeats (headers, parsed URLs) is made once, since a trigger sends the same
    GET at every poll.
    """

    def __init__(self, settings: AepConnectionSettings, *, retry_policy: RetryPolicy, limits: Limits, log: Logger):
        self.settings = settings
        self.retry_policy = retry_policy
        self.limits = limits
        self.log = log
        self._headers = {
            "x-api-key": settings.client_id,
            "x-gw-ims-org-id": settings.org_id,
            "x-sandbox-name": settings.sandbox,
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        self._urls: dict[str, str] = {}

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        resend_ambiguous: bool = True,
        not_found: type[AepApiError] = AepNotFoundError,
    ) -> Flow[Reply]:
        """``method`` on the gateway's ``path`` (already encoded), retried as the policy says."""
        content = None if json is None else json_content(json)
        headers = None if json is None else {"Content-Type": "application/json"}
        return (
            yield from call_with_retries(
                lambda token: self.request(method, path, token, params=params, headers=headers, content=content),
                policy=self.retry_policy,
                limits=self.limits,
                log=self.log,
                resend_ambiguous=resend_ambiguous,
                not_found=not_found,
            )
        )

    def request(
        self,
        method: str,
        path: str,
        token: str | None,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> Request:
        """One attempt: the AEP headers, ``headers`` over them, and a fresh ``x-request-id``.

        A fresh id per attempt, since each one is a separate call for Adobe support.
        """
        url = self._url(path) if params is None else str(httpx.URL(self._url(path), params=params))
        all_headers = {**self._headers, **(headers or {})}
        all_headers["Authorization"] = f"Bearer {token}"
        all_headers[REQUEST_ID_HEADER] = str(uuid.uuid4())
        return Request(method, url, path, all_headers, content)

    def _url(self, path: str) -> str:
        url = self._urls.get(path)
        if url is None:
            if len(self._urls) >= _URLS_KEPT:
                self._urls.clear()
            url = self._urls[path] = str(httpx.URL(f"{self.settings.gateway_url}{path}"))
        return url


def create_once(
    post: Callable[[], Flow[T]],
    find: Callable[[], Flow[T | None]],
    *,
    what: str,
    may_exist: Callable[[str], Exception],
    policy: RetryPolicy,
    log: Logger,
) -> Flow[T]:
    """POST once; after an ambiguous failure, look for what the lost attempt may have made.

    Platform's create calls take no idempotency key, so a POST is sent again only when ``find``
    shows that the failed one made nothing. ``find`` raises ``may_exist``'s error itself when it
    cannot tell; a POST that Platform accepted with an unreadable answer is never resent either.
    """
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return (yield from post())
        except AepApiError as error:
            if not (error.is_transient and error.may_have_been_processed) or attempt == policy.max_attempts:
                raise
            existing = yield from find()
            if existing is not None:
                log.warning("Create request failed ambiguously (%s), but the %s it made exists; using it.", error, what)
                return existing
            if error.malformed:
                # Platform said yes in words that could not be read: it exists, the listing just
                # does not show it yet. Sending the POST again would make a second one.
                raise may_exist(f"Platform accepted it but its answer was unreadable: {error}") from None
            log.warning("Create request failed (%s) and made no %s; sending it again.", error, what)
            yield Sleep(policy.delay(attempt, error.retry_after))
    raise AssertionError("unreachable: the loop returns or raises")


def read_pages(
    fetch: Callable[[int], Flow[tuple[list[E], int | None]]],
    *,
    key: Callable[[E], Hashable],
    max_pages: int,
    path: str,
) -> Flow[list[E]]:
    """Every entry of a listing paged by offset; ``fetch(start)`` gives a page and the next page's start.

    A listing that cannot be read to its end is an error, never a short answer taken for the whole:
    a next page that would not move forward, or that brings nothing new, means the server repeats
    itself, and past ``max_pages`` it goes on too long. A download would otherwise miss files, and
    a lookup before a create would miss the resource it is there to find.
    """
    entries: list[E] = []
    seen: set[Hashable] = set()
    start = 0
    for _ in range(max_pages):
        page, following = yield from fetch(start)
        new = [entry for entry in page if key(entry) not in seen]
        entries += new
        seen.update(key(entry) for entry in new)
        if following is None:
            return entries
        if following <= start or not new:
            raise AepApiError(
                method="GET",
                path=path,
                status_code=200,
                message=f"the listing repeats itself after {len(entries)} entries; stopped reading it",
            )
        start = following
    raise AepApiError(
        method="GET",
        path=path,
        status_code=200,
        message=f"the listing goes on past {max_pages} pages (max_pages); stopped reading it",
    )
