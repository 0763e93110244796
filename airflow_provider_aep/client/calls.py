"""The request core every Platform API module shares: how a call is built, retried and paged.

``PlatformCalls`` builds a request with the four AEP headers and a fresh ``x-request-id`` for any
Platform path. ``with_retries`` is the single retry loop: every request goes through it, the IMS
token request and each attempt of a download included. ``create_once`` is how a create that
Platform cannot deduplicate is sent, and ``read_pages`` how every listing is read. All of them are
flows: they yield actions and never do I/O themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, cast

import httpx

from airflow_provider_aep import USER_AGENT
from airflow_provider_aep.client.flows import (
    REQUEST_ID_HEADER,
    Flow,
    GetToken,
    Oversized,
    Reply,
    Request,
    Send,
    Sleep,
    Stream,
    Streamed,
)
from airflow_provider_aep.client.metrics import Metrics
from airflow_provider_aep.client.responses import (
    error_from_oversized,
    error_from_response,
    error_from_transport,
    is_success,
    json_content,
    malformed,
)
from airflow_provider_aep.client.settings import AepConnectionSettings, Limits, RetryPolicy
from airflow_provider_aep.exceptions import AepApiError, AepNotFoundError

T = TypeVar("T")
E = TypeVar("E")
C = TypeVar("C", bound=Hashable)

# Parsed URLs a core keeps: a hook serves one task or one trigger, which call few paths.
_URLS_KEPT = 16
# Attempts in all when attempts make progress (a download that writes bytes before each drop), so
# that a server dropping every connection after a byte cannot keep a call going for ever.
MAX_ATTEMPTS_WITH_PROGRESS = 100


class Logger(Protocol):
    """What flows log through: a stdlib logger, or the structlog-backed one Airflow 3 hands out."""

    def debug(self, event: str, *args: Any) -> Any:
        """Per-request detail (status, request id), too chatty for a task log by default."""

    def info(self, event: str, *args: Any) -> Any:
        """Recoveries worth a line, such as fetching a new token after a 401."""

    def warning(self, event: str, *args: Any) -> Any:
        """Failures being retried, so that a slow task shows why it is slow."""


# -- the typed steps a flow takes: the only places that yield an action ----------------------------


def send(request: Request, timeout: float, max_bytes: int) -> Flow[Reply | Oversized | httpx.RequestError]:
    """Send ``request`` and read its body (see ``Send``)."""
    return cast("Reply | Oversized | httpx.RequestError", (yield Send(request, timeout, max_bytes)))


def stream(
    request: Request,
    sink: Callable[[bytes], object],
    skip: Callable[[int, Mapping[str, str]], int | None],
    room: int | None,
    *,
    timeout: float,
    idle_timeout: float,
    max_bytes: int,
) -> Flow[Streamed]:
    """Send ``request`` and write its body to ``sink`` (see ``Stream``)."""
    return cast(Streamed, (yield Stream(request, sink, skip, room, timeout, idle_timeout, max_bytes)))


def sleep(seconds: float) -> Flow[None]:
    """Pause the flow (see ``Sleep``)."""
    yield Sleep(seconds)


def get_token(rejected: str | None = None) -> Flow[str]:
    """A valid access token, never ``rejected`` (see ``GetToken``)."""
    return cast(str, (yield GetToken(rejected)))


# -- the retry loop --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Failed:
    """An attempt that did not succeed: its error, and whether it still moved the call forward.

    ``progressed``: a download wrote bytes before it was cut; the retry count starts again, since
    the next attempt resumes from there.
    """

    error: AepApiError
    progressed: bool = False


def with_retries(
    attempt: Callable[[str | None], Flow[T | Failed]],
    *,
    policy: RetryPolicy,
    log: Logger,
    metrics: Metrics,
    authenticated: bool = True,
    resend_ambiguous: bool = True,
) -> Flow[T]:
    """Run ``attempt(token)`` until it succeeds or the policy gives up; the one retry loop.

    Transient failures back off and try again. On a 401 a new token is fetched and the call is
    tried once more. Failures that may have changed server state (a 5xx, a lost response) are only
    resent when ``resend_ambiguous``; the create flows turn it off and deduplicate instead. An
    attempt that made progress starts the count again, within ``MAX_ATTEMPTS_WITH_PROGRESS``.
    """
    token = (yield from get_token()) if authenticated else None
    refreshed = False
    failures = 0
    most = max(MAX_ATTEMPTS_WITH_PROGRESS, policy.max_attempts + 1)
    for _ in range(most):
        result = yield from attempt(token)
        if not isinstance(result, Failed):
            return result
        error = result.error
        if authenticated and error.status_code == 401 and not error.malformed and not refreshed:
            log.info("Platform rejected the access token (HTTP 401); fetching a new one.")
            token = yield from get_token(rejected=token)
            refreshed = True
            continue
        failures = 1 if result.progressed else failures + 1
        retryable = error.is_transient and (resend_ambiguous or not error.may_have_been_processed)
        if not retryable or failures >= policy.max_attempts:
            raise error
        delay = policy.delay(failures, error.retry_after)
        log.warning("%s; retrying in %.1fs (attempt %d of %d).", error, delay, failures + 1, policy.max_attempts)
        metrics.incr("api.retries")
        yield from sleep(delay)
    raise AepApiError(
        method=error.method,
        path=error.path,
        status_code=error.status_code,
        message=f"gave up after {most} attempts, each of which moved forward; the last: {error.message}",
        request_id=error.request_id,
        transport_error=error.transport_error,
        reached_server=error.reached_server,
    )


def send_once(
    request: Request, limits: Limits, log: Logger, *, not_found: type[AepApiError] = AepNotFoundError
) -> Flow[Reply | Failed]:
    """One attempt of an ordinary call: its reply on a 2xx, else the error it amounts to.

    A 404 is ``not_found``, so that each API names what was missing.
    """
    outcome = yield from send(request, limits.timeout, limits.max_response_bytes)
    if isinstance(outcome, Reply):
        log.debug(
            "AEP %s %s -> %s (x-request-id %s)",
            request.method,
            request.path,
            outcome.status_code,
            request.request_id or "-",
        )
        if is_success(outcome.status_code):
            return outcome
        return Failed(error_from_response(outcome, not_found=not_found))
    if isinstance(outcome, httpx.RequestError):
        return Failed(error_from_transport(request, outcome, limits.timeout))
    return Failed(error_from_oversized(outcome))


class PlatformCalls:
    """Requests to any Platform API on one connection; API modules add paths and models.

    What every request repeats (headers, parsed URLs) is made once, since a trigger sends the same
    GET at every poll.
    """

    def __init__(
        self,
        settings: AepConnectionSettings,
        *,
        retry_policy: RetryPolicy,
        limits: Limits,
        log: Logger,
        metrics: Metrics,
    ):
        self.settings = settings
        self.retry_policy = retry_policy
        self.limits = limits
        self.log = log
        self.metrics = metrics
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

        def attempt(token: str | None) -> Flow[Reply | Failed]:
            request = self.request(method, path, token, params=params, headers=headers, content=content)
            return (yield from send_once(request, self.limits, self.log, not_found=not_found))

        return (
            yield from with_retries(
                attempt,
                policy=self.retry_policy,
                log=self.log,
                metrics=self.metrics,
                resend_ambiguous=resend_ambiguous,
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
        request_id = all_headers[REQUEST_ID_HEADER] = str(uuid.uuid4())
        return Request(method, url, path, all_headers, content, request_id)

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
    metrics: Metrics,
) -> Flow[T]:
    """POST once; after an ambiguous failure, look for what the lost attempt may have made.

    Platform's create calls take no idempotency key, so a POST is sent again only when ``find``
    shows that the failed one made nothing. ``find`` raises ``may_exist``'s error itself when it
    cannot tell; a POST that Platform accepted with an unreadable answer is never resent either.
    Each POST goes through ``with_retries`` (without resending ambiguous failures), so this adds
    only the look before a resend, never a second backoff schedule.
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
            metrics.incr("api.retries")
            yield from sleep(policy.delay(attempt, error.retry_after))
    raise AssertionError("unreachable: the loop returns or raises")


@dataclass(frozen=True)
class Pages(Generic[E]):
    """What a listing held, the last page's reply, and whether it stopped because it repeated itself.

    ``repeated``: a next page would not have moved forward or brought nothing new; reading stopped
    at ``reply``, so ``entries`` may be short of the whole.
    """

    entries: list[E]
    reply: Reply
    repeated: bool = False

    @property
    def complete(self) -> bool:
        """The listing was read to its end, or as far as was asked."""
        return not self.repeated

    def whole(self) -> list[E]:
        """Every entry; a listing that repeated itself is an error, never a short answer taken for the whole.

        A download would otherwise miss files, and a lookup before a create the resource it is
        there to find.
        """
        if self.repeated:
            raise malformed(
                self.reply,
                f"the listing repeats itself after {len(self.entries)} entries; stopped reading it",
                transient=False,
            )
        return self.entries


def read_pages(
    fetch: Callable[[C], Flow[tuple[list[E], C | None, Reply]]],
    first: C,
    *,
    key: Callable[[E], Hashable],
    max_pages: int,
    stop_at: Callable[[E], bool] | None = None,
    limit: int | None = None,
) -> Flow[Pages[E]]:
    """Every entry of a listing; ``fetch(cursor)`` gives a page, the next page's cursor, and the reply.

    Stops before the first entry ``stop_at`` accepts, or at ``limit`` entries. A next cursor seen
    before, or a page that brings nothing new, means the server repeats itself: reading stops there
    (see ``Pages``). Past ``max_pages`` the listing goes on too long, which is an error.
    """
    entries: list[E] = []
    seen: set[Hashable] = set()
    cursors: set[C] = {first}
    cursor = first
    for _ in range(max_pages):
        page, following, reply = yield from fetch(cursor)
        new = [entry for entry in page if key(entry) not in seen]
        for entry in new:
            if stop_at is not None and stop_at(entry):
                return Pages(entries, reply)
            entries.append(entry)
            seen.add(key(entry))
            if limit is not None and len(entries) >= limit:
                return Pages(entries, reply)
        if following is None:
            return Pages(entries, reply)
        if following in cursors or not new:
            return Pages(entries, reply, repeated=True)
        cursors.add(following)
        cursor = following
    raise malformed(
        reply, f"the listing goes on past {max_pages} pages (max_pages); stopped reading it", transient=False
    )
