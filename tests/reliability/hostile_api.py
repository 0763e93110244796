"""The hostile-server catalogue: an API that misbehaves the way broken gateways, proxies and
half-deployed services do, met through the provider's public API (sync, async, and the trigger).

Each case says what the provider must do about it and within which bounds (requests, token
requests, seconds, memory). ``tests/reliability/test_hostile_api.py`` asserts every bound;
``python -m tests.reliability.hostile_api`` prints the table in docs/reliability.md from a live run.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import sys
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Literal

from airflow_provider_aep.client.async_driver import async_clients
from airflow_provider_aep.client.settings import DEFAULT_MAX_RESPONSE_BYTES, RetryPolicy
from airflow_provider_aep.exceptions import AepApiError, AepConfigError, ExportJobMayExistError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.triggers.export_job import ExportJobTrigger
from airflow_provider_aep.wait.options import WaitOptions
from tests.reliability.hostile_server import (
    JOBS_PATH,
    TOKEN_PATH,
    Answer,
    HostileServer,
    Request,
    Script,
    drip,
    endless,
    job_record,
    json_answer,
)
from tests.tokens import forget_tokens

CONN_ID = "aep_hostile"
JOB_ID = "1000"
REQUEST = {
    "destination": {"datasetId": "ds-1"},
    "schema": {"name": "_xdm.context.profile"},
    "filter": {"segments": [{"segmentId": "seg-1"}]},
}
MIB = 1024 * 1024
Via = Literal["sync", "async", "trigger"]
Operation = Literal["get", "cancel", "list", "create", "get x200"]


@dataclass(frozen=True)
class Case:
    area: str
    behaviour: str
    script: Callable[[], Script]
    operation: Operation = "get"
    vias: tuple[Via, ...] = ("sync", "async", "trigger")
    job_id: str = JOB_ID
    # What the provider must end with: an exception type (sync/async), a trigger event status.
    raises: type[BaseException] | None = AepApiError
    event: str = "error"
    message: str = ""  # a part of the error or event text
    # Values the server put in play besides the client secret and the tokens it issued: none may
    # reach an error, an event or a log line.
    secrets: tuple[str, ...] = ()
    # Bounds, checked on every run of the case.
    platform_requests: int | None = None  # exactly, when given (sync and async; a trigger polls on)
    max_platform_requests: int = 10
    max_token_requests: int = 1
    max_seconds: float = 5.0
    max_peak_mib: float | None = None  # measured with tracemalloc, only where given
    hook: dict[str, Any] = field(default_factory=dict)
    trigger_deadline: float = 2.0


@dataclass(frozen=True)
class Observation:
    case: Case
    via: Via
    error: BaseException | None
    event: dict[str, Any] | None
    returned: Any
    seconds: float
    platform_requests: int
    token_requests: int
    bytes_sent: int
    peak_mib: float | None
    issued_tokens: list[str]

    @property
    def text(self) -> str:
        """What a user sees: the error, or the trigger event's message."""
        if self.error is not None:
            return f"{type(self.error).__name__}: {self.error}"
        if self.event is not None:
            return f"event {self.event['status']}: {self.event['message']}"
        return f"returned {self.returned!r}"


# -- scripts: what the server does -----------------------------------------------------------


def answering(
    platform: Callable[[Request], Answer], ims: Callable[[Request], Answer | None] = lambda _: None
) -> Script:
    def script(request: Request) -> Answer | None:
        return ims(request) if request.path == TOKEN_PATH else platform(request)

    return script


def always(answer: Callable[[], Answer]) -> Callable[[], Script]:
    return lambda: answering(lambda _: answer())


def body(raw: bytes, content_type: str = "application/json") -> Callable[[], Script]:
    return always(lambda: Answer(200, raw, {"Content-Type": content_type}))


def token_answer(token_body: dict[str, Any]) -> Callable[[], Script]:
    def make() -> Script:
        def ims(_: Request) -> Answer:
            return json_answer(token_body)

        return answering(lambda _: json_answer(job_record(JOB_ID)), ims)

    return make


def expires_in(value: Any) -> Callable[[], Script]:
    tokens = itertools.count(1)

    def make() -> Script:
        def ims(_: Request) -> Answer:
            fields = {} if value is _MISSING else {"expires_in": value}
            return json_answer({"access_token": f"short-lived-{next(tokens)}", **fields})

        return answering(lambda _: json_answer(job_record(JOB_ID)), ims)

    return make


_MISSING = object()


def echoes_form() -> Script:
    """IMS refusing the request and quoting the submitted form back, secret included."""

    def ims(request: Request) -> Answer:
        return json_answer(
            {"error": "invalid_request", "error_description": f"could not parse form {request.body.decode()}"}, 400
        )

    return answering(lambda _: json_answer(job_record(JOB_ID)), ims)


def echoes_authorization() -> Script:
    """A gateway refusing the request and quoting its headers back, bearer token included."""
    return answering(
        lambda request: json_answer(
            {"title": "Bad Request", "detail": f"bad headers: Authorization: {request.headers['authorization']}"}, 400
        )
    )


def quotes_authorization_across_the_excerpt_cut() -> Script:
    """A maintenance page that quotes the bearer token right where an error's excerpt is cut."""

    def page(request: Request) -> Answer:
        quoted = request.headers["authorization"].encode()
        padding = b"x" * (EXCERPT_CHARACTERS - len(b"<html>") - len(quoted) + 2)
        return Answer(200, b"<html>" + padding + quoted + b"</html>", {"Content-Type": "text/html"})

    return answering(page)


def pages(fresh_ids: bool) -> Callable[[], Script]:
    """A job list whose every page links to a new offset: with the same job, or new jobs forever."""

    def make() -> Script:
        counter = itertools.count(1)

        def page(request: Request) -> Answer:
            n = next(counter)
            job = job_record(str(2000 + (n if fresh_ids else 0)), "SUCCEEDED", creationTime=int(time.time() * 1000))
            return json_answer({"records": [job], "link": {"next": f"{JOBS_PATH}/?limit=100&offset=o{n}"}})

        return answering(page)

    return make


def ambiguous_create_then(listing: Callable[[Request], Answer], create: Answer) -> Callable[[], Script]:
    return lambda: answering(lambda request: create if request.method == "POST" else listing(request))


def retry_after_date_then_job() -> Script:
    answers = iter([Answer(429, b"{}", {"Retry-After": formatdate(time.time() + 2, usegmt=True)})])
    return answering(lambda _: next(answers, None) or json_answer(job_record(JOB_ID, "SUCCEEDED")))


def unauthorized() -> Script:
    return answering(lambda _: json_answer({"error_code": "401013", "message": "Oauth token is not valid"}, 401))


# -- the catalogue --------------------------------------------------------------------------

NOT_A_JOB = "the body is not an export job"
# Characters of a bad body an error quotes (client/responses.py).
EXCERPT_CHARACTERS = 200
ONE_TRY = {"retry_policy": RetryPolicy(max_attempts=1)}
FAST = {"retry_policy": RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.05)}

CASES = [
    Case(
        "identifiers",
        "cancel of `../../config/mergePolicies/abc`",
        always(lambda: json_answer({"status": True})),
        operation="cancel",
        vias=("sync", "async"),
        job_id="../../config/mergePolicies/abc",
        raises=AepConfigError,
        message="must be a numeric AEP export job id",
        platform_requests=0,
        max_token_requests=0,
    ),
    Case(
        "identifiers",
        "job id of superscript digit `²`",
        always(lambda: json_answer(job_record(JOB_ID))),
        job_id="\u00b2",
        raises=AepConfigError,
        message="must be a numeric AEP export job id",
        platform_requests=0,
        max_token_requests=0,
    ),
    Case(
        "identifiers",
        "200 with a job whose id is another job's",
        always(lambda: json_answer(job_record("999", "SUCCEEDED"))),
        message="answered for job 999",
        platform_requests=1,
    ),
    Case(
        "identifiers",
        "200 with a job whose id is a path (`../1`)",
        always(lambda: json_answer(job_record("../1", "SUCCEEDED"))),
        vias=("sync", "async"),
        message="not an export job id",
        platform_requests=1,
    ),
    Case(
        "identifiers",
        "create answered with an id that is a path",
        ambiguous_create_then(lambda _: json_answer({"records": []}), json_answer(job_record("../../x", "NEW"))),
        operation="create",
        vias=("sync",),
        raises=ExportJobMayExistError,
        message="It was not sent again",
        platform_requests=2,  # the POST, one listing; never a second POST
    ),
    *(
        Case(
            "bodies",
            f"200 with {what}",
            body(raw, content_type),
            message=NOT_A_JOB,
            event="timeout",
            platform_requests=None,
            hook=FAST,
            max_platform_requests=40,
        )
        for what, raw, content_type in (
            ("an HTML page", b"<html><body>Gateway maintenance</body></html>", "text/html"),
            ("`[]`", b"[]", "application/json"),
            ("`null`", b"null", "application/json"),
            ("truncated JSON", b'{"id": "1000", "sta', "application/json"),
        )
    ),
    Case(
        "bodies",
        "create answered 200 with an HTML page",
        ambiguous_create_then(lambda _: json_answer({"records": []}), Answer(200, b"<html>ok</html>")),
        operation="create",
        vias=("sync",),
        raises=ExportJobMayExistError,
        message="Platform accepted it but its answer was unreadable",
        platform_requests=2,
    ),
    Case(
        "bodies",
        "a 50 MB list page (Content-Length declared)",
        always(lambda: Answer(200, b'{"records": [', {"Content-Type": "application/json"}, endless, 50 * MIB)),
        operation="list",
        vias=("sync", "async"),
        message="larger than",
        platform_requests=1,
        hook=ONE_TRY,
        max_peak_mib=2,
    ),
    Case(
        "bodies",
        "an endless chunked body",
        always(lambda: Answer(200, b"", {"Content-Type": "application/json"}, endless)),
        vias=("sync", "async"),
        message="larger than",
        platform_requests=1,
        hook=ONE_TRY,
        max_peak_mib=3 * DEFAULT_MAX_RESPONSE_BYTES / MIB,
    ),
    Case(
        "time",
        "a body dripping one byte a second",
        always(lambda: Answer(200, b"", {"Content-Type": "application/json"}, drip())),
        message="deadline",
        platform_requests=1,
        hook={**ONE_TRY, "timeout": 1.5},
        event="timeout",
        trigger_deadline=3.0,
        max_seconds=3.6,
    ),
    Case(
        "time",
        "429 with `Retry-After: 3000`, trigger deadline 2 s away",
        always(lambda: json_answer({"message": "slow down"}, 429, {"Retry-After": "3000"})),
        vias=("trigger",),
        event="timeout",
        max_platform_requests=1,
        max_seconds=2.6,
    ),
    Case(
        "time",
        "429 with `Retry-After: nan`",
        always(lambda: json_answer({"message": "slow down"}, 429, {"Retry-After": "nan"})),
        vias=("sync", "async"),
        message="HTTP 429",
        platform_requests=3,
        hook=FAST,
    ),
    Case(
        "time",
        "429 with an HTTP-date `Retry-After` 2 s ahead, then the job",
        retry_after_date_then_job,
        vias=("sync", "async"),
        raises=None,
        platform_requests=2,
        hook=FAST,
    ),
    *(
        Case(
            "tokens",
            f"`expires_in` {what}, 200 concurrent calls",
            expires_in(value),
            operation="get x200",
            vias=("async",),
            raises=None,
            platform_requests=200,
            max_platform_requests=200,
            max_token_requests=1,
            max_seconds=15,
        )
        for what, value in (("missing", _MISSING), ("-5", -5), ('"soon"', "soon"), ("NaN", float("nan")))
    ),
    *(
        Case(
            "tokens",
            f"access token with {what}",
            token_answer({"access_token": token, "expires_in": 3600}),
            vias=("sync", "async"),
            message="not a bearer token",
            platform_requests=0,
            secrets=(token,),
        )
        for what, token in (
            ("CR/LF", "abc\r\nX-Injected: yes"),
            ("non-ASCII characters", "tok\u00e9n-\u2603-value"),
        )
    ),
    Case(
        "tokens",
        "Platform answering 401 to every token",
        unauthorized,
        vias=("sync", "async"),
        message="HTTP 401",
        platform_requests=2,  # the call, and its one retry with a new token
        max_token_requests=2,
    ),
    Case(
        "secrets",
        "IMS 400 quoting the submitted form (client secret URL-encoded)",
        echoes_form,
        message="could not parse form",
        platform_requests=0,
        event="error",
    ),
    Case(
        "secrets",
        "Platform 400 quoting the Authorization header",
        echoes_authorization,
        message="bad headers",
        platform_requests=1,
    ),
    Case(
        "secrets",
        "200 with a page quoting the bearer token where the error's excerpt is cut",
        quotes_authorization_across_the_excerpt_cut,
        vias=("sync", "async"),
        message=NOT_A_JOB,
        platform_requests=1,
    ),
    Case(
        "pagination",
        "every page links to a new offset, with the same job",
        pages(fresh_ids=False),
        operation="list",
        vias=("sync", "async"),
        raises=None,
        platform_requests=2,
    ),
    Case(
        "pagination",
        "every page links to a new offset, with new jobs, forever",
        pages(fresh_ids=True),
        operation="list",
        vias=("sync", "async"),
        message="past 5 pages (max_pages)",
        platform_requests=5,
        hook={"max_pages": 5},
    ),
    Case(
        "pagination",
        "create answered 502, then a job list that never ends",
        ambiguous_create_then(pages(fresh_ids=True)(), json_answer({"message": "bad gateway"}, 502)),
        operation="create",
        vias=("sync",),
        raises=ExportJobMayExistError,
        message="could not be checked",
        platform_requests=6,  # the POST and max_pages listing pages; never a second POST
        hook={**FAST, "max_pages": 5},
    ),
]


# -- running a case --------------------------------------------------------------------------


def observe(case: Case, via: Via) -> Observation:
    """Runs ``case`` against a fresh hostile server through ``via``, measuring what it cost."""
    forget_tokens()
    with HostileServer(case.script()) as server:
        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = server.connection_env_value()
        hook = AdobeExperiencePlatformHook(CONN_ID, **case.hook)
        error: BaseException | None = None
        event = returned = None
        if case.max_peak_mib is not None:
            tracemalloc.start()
        started = time.monotonic()
        try:
            if via == "trigger":
                event = asyncio.run(_trigger_event(case))
            elif via == "async":
                returned = asyncio.run(_async_call(hook, case))
            else:
                returned = _sync_call(hook, case)
        except Exception as raised:
            error = raised
        seconds = time.monotonic() - started
        peak = None
        if case.max_peak_mib is not None:
            peak = tracemalloc.get_traced_memory()[1] / MIB
            tracemalloc.stop()
        return Observation(
            case=case,
            via=via,
            error=error,
            event=event,
            returned=returned,
            seconds=seconds,
            platform_requests=server.platform_requests,
            token_requests=server.token_requests,
            bytes_sent=server.bytes_sent,
            peak_mib=peak,
            issued_tokens=list(server.issued_tokens),
        )


def _sync_call(hook: AdobeExperiencePlatformHook, case: Case) -> Any:
    if case.operation == "cancel":
        return hook.cancel_export_job(case.job_id)
    if case.operation == "list":
        return len(hook.list_export_jobs())
    if case.operation == "create":
        return hook.create_export_job(REQUEST).id
    return hook.get_export_job(case.job_id).status


async def _async_call(hook: AdobeExperiencePlatformHook, case: Case) -> Any:
    if case.operation == "cancel":
        return await hook.acancel_export_job(case.job_id)
    if case.operation == "list":
        return len(await hook.alist_export_jobs())
    if case.operation == "get x200":
        async with async_clients.lease():
            jobs = await asyncio.gather(*(hook.aget_export_job(case.job_id) for _ in range(200)))
        return len(jobs)
    return (await hook.aget_export_job(case.job_id)).status


async def _trigger_event(case: Case) -> dict[str, Any]:
    policy: RetryPolicy = case.hook.get("retry_policy", RetryPolicy())
    options = WaitOptions(
        aep_conn_id=CONN_ID,
        request_retry_limit=policy.max_attempts,
        request_retry_delay=policy.initial_delay,
        request_timeout=case.hook.get("timeout", 30.0),
    )
    trigger = ExportJobTrigger(case.job_id, options, poll_interval=0.2, deadline=time.time() + case.trigger_deadline)
    events = [event.payload async for event in trigger.run()]
    if len(events) != 1:
        raise AssertionError(f"the trigger sent {len(events)} events")
    return dict(events[0])


@dataclass(frozen=True)
class Starvation:
    answered_after: float  # seconds the healthy gateway's poll took
    dripping_requests: int
    stuck_outcomes: list[str]


def dripping_gateway_beside_a_healthy_one() -> Starvation:
    """Eight polls stuck on a dripping gateway, then one poll of a healthy gateway, in one event loop."""
    forget_tokens()
    dripping = HostileServer(answering(lambda _: Answer(200, b"", {}, drip())))
    healthy = HostileServer(answering(lambda _: json_answer(job_record(JOB_ID))))
    with dripping, healthy:
        os.environ["AIRFLOW_CONN_AEP_DRIPPING"] = dripping.connection_env_value()
        os.environ["AIRFLOW_CONN_AEP_HEALTHY"] = healthy.connection_env_value()
        policy = RetryPolicy(max_attempts=1)

        async def scenario() -> Starvation:
            stuck_hook = AdobeExperiencePlatformHook("aep_dripping", retry_policy=policy, timeout=3.0)
            healthy_hook = AdobeExperiencePlatformHook("aep_healthy", retry_policy=policy, timeout=3.0)
            async with async_clients.lease():
                stuck = [asyncio.create_task(stuck_hook.aget_export_job(JOB_ID)) for _ in range(8)]
                await asyncio.sleep(0.5)  # all eight are inside the pool, dripping
                started = time.monotonic()
                await healthy_hook.aget_export_job(JOB_ID)
                answered_after = time.monotonic() - started
                outcomes = await asyncio.gather(*stuck, return_exceptions=True)
            return Starvation(answered_after, dripping.platform_requests, [str(outcome) for outcome in outcomes])

        return asyncio.run(scenario())


def threads_behind_a_slow_ims() -> tuple[list[str], int]:
    """20 threads ask at once for a token that IMS, slowly, says lives 0 s."""
    forget_tokens()

    def ims(_: Request) -> Answer:
        time.sleep(0.2)  # so that every caller queues behind the first fetch
        return json_answer({"access_token": f"t-{time.monotonic_ns()}", "expires_in": 0})

    with HostileServer(answering(lambda _: json_answer(job_record(JOB_ID)), ims)) as server:
        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = server.connection_env_value()
        hook = AdobeExperiencePlatformHook(CONN_ID)
        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(lambda _: hook.get_export_job(JOB_ID).status, range(20)))
        return statuses, server.token_requests


def runs() -> list[tuple[Case, Via]]:
    return [(case, via) for case in CASES for via in case.vias]


def main() -> None:
    print("| area | the server | via | the provider | requests (tokens) | seconds | bytes sent | peak MiB |")
    print("| --- | --- | --- | --- | ---: | ---: | ---: | ---: |")
    for case, via in runs():
        seen = observe(case, via)
        text = re.sub(r"; x-request-id [0-9a-f-]+", "", seen.text).replace("|", "\\|")
        text = text if len(text) < 170 else f"{text[:170]}…"
        peak = f"{seen.peak_mib:.1f}" if seen.peak_mib is not None else ""
        print(
            f"| {case.area} | {case.behaviour} | {via} | {text} | {seen.platform_requests} ({seen.token_requests}) "
            f"| {seen.seconds:.2f} | {seen.bytes_sent:,} | {peak} |"
        )
    starvation = dripping_gateway_beside_a_healthy_one()
    print(
        f"| time | 8 requests dripping on one gateway, 1 poll of another in the same event loop | async "
        f"| the other gateway's poll answered in {starvation.answered_after:.2f} s; the 8 ended at their 3 s "
        f"deadline | {starvation.dripping_requests} + 1 | | | |"
    )
    statuses, token_requests = threads_behind_a_slow_ims()
    print(
        f"| tokens | 20 threads at once, IMS slow and `expires_in: 0` | sync | {len(statuses)} calls answered "
        f"| {len(statuses)} ({token_requests}) | | | |"
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
