"""Adobe IMS OAuth Server-to-Server tokens, fetched once and shared by the process and the host.

Adobe throttles integrations that ask for too many tokens, and a triggerer may hold thousands of
waits on one connection, so every hook instance, sync or async, reads one cache keyed by
(token URL, client id, secret digest, scopes); concurrent callers that miss it wait for a single request.
Behind that cache, a ``TokenStore`` shares tokens between the processes of a host, since Airflow
runs every task try in a process of its own: a miss looks there first, and only one process at a
time asks IMS.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Generator
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, TypeGuard
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, Field

from airflow_provider_aep import USER_AGENT
from airflow_provider_aep.client.calls import Failed, Logger, send_once, with_retries
from airflow_provider_aep.client.flows import Flow, Reply, Request
from airflow_provider_aep.client.metrics import Metrics
from airflow_provider_aep.client.responses import malformed, parse
from airflow_provider_aep.client.settings import AepConnectionSettings, Limits, RetryPolicy
from airflow_provider_aep.client.token_store import Slot, TokenStore
from airflow_provider_aep.scrubbing import scrubber

# Renew this long before IMS says the token expires, so no request carries a token that dies in flight.
EXPIRY_MARGIN_SECONDS = 300.0
# When IMS gives no usable expires_in. Its tokens live 24 hours; an hour is a safe guess, and a
# token that dies sooner is refreshed on Platform's 401 anyway.
DEFAULT_TOKEN_LIFETIME_SECONDS = 3600.0
# RFC 6750's b64token: anything else cannot travel in an Authorization header unaltered.
_BEARER_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")
_MAX_TOKEN_CHARACTERS = 16_384


class _TokenResponse(BaseModel):
    access_token: str = Field(min_length=1)
    expires_in: Any = None


@dataclass(frozen=True)
class TokenKey:
    """Everything a token depends on: a token cached under another key would be the wrong one to send."""

    token_url: str
    client_id: str
    # A token fetched with the right secret must not vouch for a connection holding a wrong one;
    # a digest keeps the secret itself out of the key.
    secret_digest: str
    scopes: str
    # Where a token store keeps this credential's token, sealed with a key derived from the secret.
    slot: Slot = field(compare=False, repr=False)

    @classmethod
    def of(cls, settings: AepConnectionSettings) -> TokenKey:
        """Hashes the secret, so the key can be kept and compared without holding the secret itself."""
        digest = hashlib.sha256(settings.client_secret.encode()).hexdigest()
        slot = Slot.of((settings.ims_token_url, settings.client_id, digest, settings.scopes), settings.client_secret)
        return cls(settings.ims_token_url, settings.client_id, digest, settings.scopes, slot)


@dataclass(frozen=True)
class AccessToken:
    """A token with a monotonic expiry, so a wall-clock change cannot make a dead token look alive."""

    value: str = field(repr=False)
    expires_at: float  # time.monotonic() deadline, margin already taken off

    def is_usable(self, rejected: str | None) -> bool:
        """Not the token Platform just refused, expired or not, so a 401 always leads to a new one."""
        return self.value != rejected and time.monotonic() < self.expires_at


def fetch_token(
    settings: AepConnectionSettings, *, policy: RetryPolicy, limits: Limits, log: Logger, metrics: Metrics
) -> Flow[AccessToken]:
    """POST the client credentials as a form body (never the query string, which gets logged)."""
    url = httpx.URL(settings.ims_token_url)
    form = urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": settings.client_id,
            "client_secret": settings.client_secret,
            "scope": settings.scopes,
        }
    ).encode()
    headers = {
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": USER_AGENT,
    }

    def attempt(_: str | None) -> Flow[Reply | Failed]:
        return (yield from send_once(Request("POST", str(url), url.path, headers, form), limits, log))

    requested_at = time.monotonic()
    metrics.incr("ims.token_requests")
    reply = yield from with_retries(attempt, policy=policy, log=log, metrics=metrics, authenticated=False)
    return _parse_token(reply, requested_at)


def _parse_token(reply: Reply, requested_at: float) -> AccessToken:
    body = parse(reply, _TokenResponse, what="an IMS token response")
    value = body.access_token
    if not _is_bearer_token(value):
        # Not echoed: it is a credential, and may hold characters that forge log lines.
        raise malformed(
            reply,
            f"IMS answered with an access_token that is not a bearer token ({len(value)} characters outside "
            "RFC 6750's token alphabet or too long); it was not used",
            transient=False,
        )
    scrubber.register(value)
    lifetime = _lifetime(body.expires_in)
    margin = min(EXPIRY_MARGIN_SECONDS, lifetime / 10)
    return AccessToken(value=value, expires_at=requested_at + lifetime - margin)


def _is_bearer_token(value: str) -> bool:
    return len(value) <= _MAX_TOKEN_CHARACTERS and _BEARER_TOKEN.fullmatch(value) is not None


def _lifetime(expires_in: object) -> float:
    """Seconds the token lives, as IMS says; the default when it says nothing usable."""
    if isinstance(expires_in, bool):
        return DEFAULT_TOKEN_LIFETIME_SECONDS
    try:
        seconds = float(expires_in)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_TOKEN_LIFETIME_SECONDS
    return seconds if math.isfinite(seconds) and seconds > 0 else DEFAULT_TOKEN_LIFETIME_SECONDS


# A step of a refresh: file work on the token store (run inline, or in a thread on an event loop),
# or None for "fetch a token from IMS now".
_Step = Callable[[], Any] | None


def _refresh(store: TokenStore | None, key: TokenKey, rejected: str | None) -> Generator[_Step, Any, AccessToken]:
    """A token for ``key`` from the host's store, or from IMS with the store locked; never ``rejected``.

    Written once as steps, so threads and event loops differ only in how they run a file step.
    The entry is read again under the lock: the process that held it has usually just fetched.
    """
    if store is None or not store.usable:
        token: AccessToken = yield None
        return token
    slot = key.slot
    stored = _stored((yield lambda: store.load(slot)))
    if stored is not None and stored.value != rejected:
        return stored
    lock = yield lambda: store.lock(slot)
    try:
        # Under the lock a refused token is retired, so that no other process takes it either.
        stored = _stored((yield lambda: store.load(slot, retire=rejected)))
        if stored is not None:
            return stored
        token = yield None
        seconds_left = token.expires_at - time.monotonic()
        yield lambda: store.save(slot, token.value, seconds_left)
        return token
    finally:
        lock.release()


def _stored(entry: tuple[str, float] | None) -> AccessToken | None:
    """A stored entry as a token, held to the rule a token from IMS meets."""
    if entry is None or not _is_bearer_token(entry[0]):
        return None
    scrubber.register(entry[0])
    return AccessToken(value=entry[0], expires_at=time.monotonic() + entry[1])


def _refresh_sync(steps: Generator[_Step, Any, AccessToken], fetch: Callable[[], AccessToken]) -> AccessToken:
    with closing(steps):  # an error closes the refresh, which releases the store's lock
        outcome: Any = None
        try:
            while True:
                step = steps.send(outcome)
                outcome = fetch() if step is None else step()
        except StopIteration as done:
            token: AccessToken = done.value
            return token


async def _refresh_async(
    steps: Generator[_Step, Any, AccessToken], fetch: Callable[[], Awaitable[AccessToken]]
) -> AccessToken:
    with closing(steps):
        outcome: Any = None
        try:
            while True:
                step = steps.send(outcome)
                # File work, and the wait for another process's fetch, never block the event loop.
                outcome = await fetch() if step is None else await asyncio.to_thread(step)
        except StopIteration as done:
            token: AccessToken = done.value
            return token


class TokenCache:
    """One token per key for the process; single-flight refresh for threads and for each event loop.

    A caller that waited while another fetched takes that token whatever its lifetime: otherwise a
    token IMS declares short-lived would be fetched once per waiting caller, one after the other.
    ``store`` names the host's token store, if any, and is asked only on a miss, which looks there
    before it asks IMS (see ``_refresh``).
    """

    def __init__(self) -> None:
        self._tokens: dict[TokenKey, AccessToken] = {}
        self._guard = threading.Lock()
        self._thread_locks: dict[TokenKey, threading.Lock] = {}
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[TokenKey, asyncio.Lock]] = (
            weakref.WeakKeyDictionary()
        )

    def get(
        self,
        key: TokenKey,
        rejected: str | None,
        fetch: Callable[[], AccessToken],
        store: Callable[[], TokenStore | None] = lambda: None,
    ) -> str:
        """For threads: callers that miss together wait on one lock, so IMS sees a single request."""
        before = self._tokens.get(key)
        if before is not None and before.is_usable(rejected):
            return before.value  # the common case takes no lock
        with self._thread_lock(key):
            token = self._tokens.get(key)
            if not _takes(token, before, rejected):
                token = self._tokens[key] = _refresh_sync(_refresh(store(), key, rejected), fetch)
            return token.value

    async def aget(
        self,
        key: TokenKey,
        rejected: str | None,
        fetch: Callable[[], Awaitable[AccessToken]],
        store: Callable[[], TokenStore | None] = lambda: None,
    ) -> str:
        """For tasks on an event loop; asyncio locks belong to one loop, hence a lock per loop."""
        before = self._tokens.get(key)
        if before is not None and before.is_usable(rejected):
            return before.value  # the common case, every poll of every trigger, takes no lock
        async with self._loop_lock(key):
            token = self._tokens.get(key)
            if not _takes(token, before, rejected):
                token = self._tokens[key] = await _refresh_async(_refresh(store(), key, rejected), fetch)
            return token.value

    def clear(self) -> None:
        """Forget every token, so a test starts without tokens another one fetched."""
        self._tokens.clear()

    def _thread_lock(self, key: TokenKey) -> threading.Lock:
        with self._guard:
            return self._thread_locks.setdefault(key, threading.Lock())

    def _loop_lock(self, key: TokenKey) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._guard:
            return self._loop_locks.setdefault(loop, {}).setdefault(key, asyncio.Lock())


def _takes(token: AccessToken | None, before: AccessToken | None, rejected: str | None) -> TypeGuard[AccessToken]:
    """Whether a caller can use the cached ``token``, having seen ``before`` when it started waiting."""
    if token is None or token.value == rejected:
        return False
    return token is not before or token.is_usable(rejected)


token_cache = TokenCache()
