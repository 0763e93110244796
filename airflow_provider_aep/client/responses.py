"""Every response becomes either the expected model or an ``AepApiError``, in this one module.

Server text is untrusted: whatever reaches an error message is scrubbed of secrets, stripped of
control characters and shortened first, and no JSON, pydantic or httpx exception gets past here.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from airflow_provider_aep.client.flows import Oversized, Reply, Request
from airflow_provider_aep.exceptions import AepApiError, AepNotFoundError
from airflow_provider_aep.scrubbing import scrubber

_EXCERPT_CHARACTERS = 200
# Request ids are quoted to Adobe support; anything else in that place is not one.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")

# httpx errors raised before the request could reach the server: safe to resend anything.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)

M = TypeVar("M", bound=BaseModel)
_KEYED = TypeAdapter(dict[str, dict[str, Any]])


class Answer(Protocol):
    """A response as far as it arrived: a ``Reply``, or a download's ``Streamed``."""

    @property
    def request(self) -> Request:
        """The attempt it answers."""

    @property
    def status_code(self) -> int | None:
        """None when no response arrived."""

    @property
    def content(self) -> bytes:
        """The body read, where one was kept."""


class Identified(Protocol):
    """A record that says which resource it is about."""

    @property
    def id(self) -> str:
        """The resource's id, as the server gave it."""


R = TypeVar("R", bound=Identified)


def is_success(status_code: int) -> bool:
    """Any 2xx: Platform answers with more than 200 (a cancel may come back as a bodiless 204)."""
    return 200 <= status_code < 300


def declared_length(headers: Mapping[str, str]) -> int | None:
    """The body's Content-Length, where the server gave a usable one; a longer body is refused unread."""
    declared = headers.get("content-length", "")
    return int(declared) if declared.isascii() and declared.isdigit() else None


def parse(reply: Reply, model: type[M], *, what: str, empty: M | None = None) -> M:
    """The body as ``model``; any other shape is an ``AepApiError`` with a short, scrubbed excerpt.

    ``empty`` is the value of an empty body, where the API allows one.
    """
    if not reply.content.strip() and empty is not None:
        return empty
    try:
        return model.model_validate_json(reply.content)
    except ValidationError as error:
        raise malformed(reply, f"the body is not {what} ({_first_problem(error)})", excerpt=True) from None


def json_content(body: Any) -> bytes:
    """A request body as compact UTF-8 JSON; NaN and infinity are refused, as JSON has neither."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def parse_keyed(reply: Reply, model: type[M], *, what: str) -> list[M]:
    """Catalog's ``{"<id>": {...}}`` answers as ``model`` records, each with the key as its ``id``.

    An empty body or ``{}`` is no record; any other shape is an ``AepApiError``, as in ``parse``.
    """
    if not reply.content.strip():
        return []
    try:
        keyed = _KEYED.validate_json(reply.content)
        return [model.model_validate({**record, "id": key}) for key, record in keyed.items()]
    except ValidationError as error:
        raise malformed(reply, f"the body is not {what} ({_first_problem(error)})", excerpt=True) from None


def _json_body(reply: Reply) -> Any:
    """The decoded body for reading error details, or None when it is empty or not JSON."""
    if not reply.content:
        return None
    try:
        return json.loads(reply.content)
    except ValueError:
        return None


def error_from_response(reply: Reply, *, not_found: type[AepApiError] = AepNotFoundError) -> AepApiError:
    """Keep whatever text a failed response carries, in any of the error shapes AEP and IMS use.

    Those are ``{error_code, message}``, ``{type, title, status, detail}``, ``{errors: [...]}``, and
    IMS's ``{error, error_description}``. A 404 becomes ``not_found``, the caller's own class.
    """
    body = _json_body(reply)
    code: str | None = None
    texts: list[str] = []
    if isinstance(body, dict):
        raw_code = body.get("error_code") or body.get("errorCode") or body.get("code") or body.get("error")
        code = scrubber.scrub(str(raw_code), limit=80) if raw_code is not None else None
        texts = [str(body[key]) for key in ("title", "message", "detail", "error_description") if body.get(key)]
        texts.extend(_nested_errors(body.get("errors")))
    elif reply.content:
        texts = [reply.content.decode(errors="replace")]
    error_class = not_found if reply.status_code == 404 else AepApiError
    return error_class(
        method=reply.request.method,
        path=reply.request.path,
        status_code=reply.status_code,
        error_code=code,
        message=scrubber.scrub(": ".join(texts)) if texts else httpx.codes.get_reason_phrase(reply.status_code) or None,
        request_id=_request_id(reply, body),
        retry_after=retry_after(reply.headers.get("retry-after")),
    )


def error_from_transport(request: Request, error: httpx.RequestError, timeout: float) -> AepApiError:
    """No response at all: record whether the request may have reached the server, which decides resends."""
    if isinstance(error, httpx.TimeoutException):
        message = f"no complete response within the request's {timeout:g} s deadline"
    else:
        message = str(error)
    return AepApiError(
        method=request.method,
        path=request.path,
        transport_error=type(error).__name__,
        message=scrubber.scrub(message, limit=300) or None,
        request_id=request.request_id,
        reached_server=not isinstance(error, _NOT_SENT),
    )


def error_from_oversized(oversized: Oversized) -> AepApiError:
    """An over-cap body counts as unreadable (``malformed``), so it is retried like one, never buffered whole."""
    return malformed(oversized, f"the response body is larger than {oversized.limit} bytes; reading stopped there")


def about(reply: Reply, asked: str, records: Iterable[R], *, what: str) -> R:
    """The record about ``asked``; an answer about another id is refused, never taken for it.

    Such an answer is not worth retrying: whatever sent it is wrong, not slow.
    """
    others = []
    for record in records:
        if record.id == asked:
            return record
        others.append(record.id)
    answered = f"{what} {', '.join(others[:3])}" if others else f"no {what}"
    raise malformed(reply, f"asked for {what} {asked}, Platform answered for {answered}", transient=False)


def malformed(reply: Answer, problem: str, *, excerpt: bool = False, transient: bool = True) -> AepApiError:
    """An answer that cannot be what the call asked for, although its status said it was: the one constructor.

    ``transient``: a gateway's hiccup that a later request may not repeat; otherwise the answer
    itself is wrong.
    """
    if excerpt:
        # Scrubbed whole, then cut: a secret straddling the cut must not leave its first half behind.
        start = scrubber.scrub(reply.content.decode(errors="replace"), limit=_EXCERPT_CHARACTERS)
        problem = f"{problem}; body starts {start!r}" if start.strip() else f"{problem}; the body is empty"
    return AepApiError(
        method=reply.request.method,
        path=reply.request.path,
        status_code=reply.status_code,
        message=scrubber.scrub(problem, limit=None),
        request_id=_request_id(reply, None),
        malformed=transient,
    )


def _first_problem(error: ValidationError) -> str:
    first = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


def _request_id(reply: Answer, body: Any) -> str | None:
    """The server's request id where it gives a plausible one, else the one this provider sent."""
    candidate = body.get("requestId") if isinstance(body, dict) else None
    if isinstance(candidate, str) and _REQUEST_ID.fullmatch(candidate):
        return candidate
    return reply.request.request_id


def _nested_errors(errors: object) -> list[str]:
    if not isinstance(errors, list):
        return []
    texts = []
    for item in errors:
        if isinstance(item, dict):
            code = item.get("code")
            text = item.get("message") or item.get("msg") or item.get("detail") or item.get("title")
            texts.append(f"[{code}] {text}" if code else str(text))
        else:
            texts.append(str(item))
    return texts


def retry_after(value: str | None) -> float | None:
    """Seconds to wait, from ``Retry-After`` as delta-seconds or an HTTP-date.

    None when absent or unusable (negative, not finite, or neither form), so the policy's own
    backoff applies.
    """
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        return max(seconds, 0.0)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
