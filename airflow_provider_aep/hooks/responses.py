"""Turn HTTP failures into ``AepApiError``, whatever shape Adobe's error body has."""

from __future__ import annotations

from typing import Any

import httpx

from airflow_provider_aep.exceptions import AepApiError, ExportJobNotFoundError

REQUEST_ID_HEADER = "x-request-id"

# httpx errors raised before the request could reach the server: safe to resend anything.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def json_body(response: httpx.Response) -> Any:
    """The decoded body, or None when it is empty or not JSON."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def error_from_response(response: httpx.Response) -> AepApiError:
    """Read ``{error_code, message}``, ``{type, title, status, detail}``, ``{errors: [...]}``, or IMS's
    ``{error, error_description}``, and keep whatever text is there."""
    request = response.request
    body = json_body(response)
    code: str | None = None
    texts: list[str] = []
    if isinstance(body, dict):
        raw_code = body.get("error_code") or body.get("errorCode") or body.get("code") or body.get("error")
        code = str(raw_code) if raw_code is not None else None
        texts = [str(body[key]) for key in ("title", "message", "detail", "error_description") if body.get(key)]
        texts.extend(_nested_errors(body.get("errors")))
    elif response.text:
        texts = [response.text[:500]]
    error_class = ExportJobNotFoundError if response.status_code == 404 else AepApiError
    return error_class(
        method=request.method,
        path=request.url.path,
        status_code=response.status_code,
        error_code=code,
        message=": ".join(texts) or response.reason_phrase or None,
        request_id=(body.get("requestId") if isinstance(body, dict) else None)
        or request.headers.get(REQUEST_ID_HEADER),
        retry_after=_retry_after(response),
    )


def error_from_transport(request: httpx.Request, error: httpx.TransportError) -> AepApiError:
    return AepApiError(
        method=request.method,
        path=request.url.path,
        transport_error=type(error).__name__,
        message=str(error)[:300] or None,
        request_id=request.headers.get(REQUEST_ID_HEADER),
        reached_server=not isinstance(error, _NOT_SENT),
    )


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


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None
