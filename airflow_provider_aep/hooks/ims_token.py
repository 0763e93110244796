"""Adobe IMS OAuth Server-to-Server tokens, fetched once and shared by the whole process.

Adobe throttles integrations that ask for too many tokens, and a triggerer may hold thousands of
waits on one connection, so every hook instance, sync or async, reads one cache keyed by
(token URL, client id, secret digest, scopes); concurrent callers that miss it wait for a single request.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from airflow_provider_aep import USER_AGENT
from airflow_provider_aep.exceptions import AepApiError
from airflow_provider_aep.hooks.actions import Flow
from airflow_provider_aep.hooks.call import Logger, call_with_retries
from airflow_provider_aep.hooks.connection_settings import AepConnectionSettings
from airflow_provider_aep.hooks.responses import json_body
from airflow_provider_aep.hooks.retry import RetryPolicy

# Renew this long before IMS says the token expires, so no request carries a token that dies in flight.
EXPIRY_MARGIN_SECONDS = 300.0


@dataclass(frozen=True)
class TokenKey:
    token_url: str
    client_id: str
    # A token fetched with the right secret must not vouch for a connection holding a wrong one;
    # a digest keeps the secret itself out of the key.
    secret_digest: str
    scopes: str

    @classmethod
    def of(cls, settings: AepConnectionSettings) -> TokenKey:
        digest = hashlib.sha256(settings.client_secret.encode()).hexdigest()
        return cls(settings.ims_token_url, settings.client_id, digest, settings.scopes)


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    expires_at: float  # time.monotonic() deadline, margin already taken off

    def is_usable(self, rejected: str | None) -> bool:
        return self.value != rejected and time.monotonic() < self.expires_at


def fetch_token(
    settings: AepConnectionSettings, *, policy: RetryPolicy, timeout: float, log: Logger
) -> Flow[AccessToken]:
    """POST the client credentials as a form body (never the query string, which gets logged)."""
    form = {
        "grant_type": "client_credentials",
        "client_id": settings.client_id,
        "client_secret": settings.client_secret,
        "scope": settings.scopes,
    }

    def build(_: str | None) -> httpx.Request:
        return httpx.Request(
            "POST",
            settings.ims_token_url,
            data=form,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            extensions={"timeout": httpx.Timeout(timeout).as_dict()},
        )

    requested_at = time.monotonic()
    response = yield from call_with_retries(build, policy=policy, log=log, authenticated=False)
    return _parse_token(response, requested_at)


def _parse_token(response: httpx.Response, requested_at: float) -> AccessToken:
    body = json_body(response)
    value = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        raise AepApiError(
            method="POST",
            path=response.request.url.path,
            status_code=response.status_code,
            message="IMS answered without an access_token",
        )
    try:
        lifetime = float(body.get("expires_in", 0))
    except (TypeError, ValueError):
        lifetime = 0.0
    margin = min(EXPIRY_MARGIN_SECONDS, lifetime / 10)
    return AccessToken(value=value, expires_at=requested_at + lifetime - margin)


class TokenCache:
    """One token per key for the process; single-flight refresh for threads and for each event loop."""

    def __init__(self) -> None:
        self._tokens: dict[TokenKey, AccessToken] = {}
        self._guard = threading.Lock()
        self._thread_locks: dict[TokenKey, threading.Lock] = {}
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[TokenKey, asyncio.Lock]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, key: TokenKey, rejected: str | None, fetch: Callable[[], AccessToken]) -> str:
        with self._thread_lock(key):
            token = self._tokens.get(key)
            if token is None or not token.is_usable(rejected):
                token = self._tokens[key] = fetch()
            return token.value

    async def aget(self, key: TokenKey, rejected: str | None, fetch: Callable[[], Awaitable[AccessToken]]) -> str:
        async with self._loop_lock(key):
            token = self._tokens.get(key)
            if token is None or not token.is_usable(rejected):
                token = self._tokens[key] = await fetch()
            return token.value

    def clear(self) -> None:
        self._tokens.clear()

    def _thread_lock(self, key: TokenKey) -> threading.Lock:
        with self._guard:
            return self._thread_locks.setdefault(key, threading.Lock())

    def _loop_lock(self, key: TokenKey) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._guard:
            return self._loop_locks.setdefault(loop, {}).setdefault(key, asyncio.Lock())


token_cache = TokenCache()
