"""What a client is configured with: the connection's settings, its limits and its retry policy.

Every default lives here once; the hook, the operators' signatures and the docs refer to these names.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from airflow_provider_aep import USER_AGENT
from airflow_provider_aep.exceptions import AepConfigError

# Attempts per request (the first included) and the first backoff delay: every operator's
# ``request_retry_limit`` and ``request_retry_delay``.
DEFAULT_RETRY_LIMIT = 5
DEFAULT_RETRY_DELAY = 1.0
DEFAULT_MAX_RETRY_DELAY = 30.0
DEFAULT_MAX_RETRY_AFTER = 300.0
# Seconds for one request as a whole: every operator's ``request_timeout``.
DEFAULT_TIMEOUT = 30.0
# The largest AEP answer the provider reads is a page of 100 job records, a few hundred KB.
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
# 100 pages of 100 jobs: far more history than a duplicate check or a job search needs.
DEFAULT_MAX_PAGES = 100
# One download attempt of one file; a dropped one resumes where it stopped, under a new deadline.
DEFAULT_DOWNLOAD_TIMEOUT = 3600.0
# The most items one read of a growing listing takes (a watcher's poll); more wait for the next read.
DEFAULT_MAX_ITEMS_PER_POLL = 500
# Requests in flight at once per server and driver; the rest queue within their own deadline. Per
# server, so a stalling gateway cannot take the connections that waits on another need. At 100 ms
# of API latency, 32 carry about 320 polls/s: 10,000 waits polled every 30 s.
MAX_IN_FLIGHT = 32
KEEPALIVE_SECONDS = 60
# What both drivers' shared clients send with every request, whoever built it.
CLIENT_HEADERS = {"User-Agent": USER_AGENT}


@dataclass(frozen=True)
class AepConnectionSettings:
    """A connection checked in full up front, so a typo fails the task before any credential is sent.

    Made from an Airflow connection by ``hooks.connection``; the client only reads it.
    """

    conn_id: str
    gateway_url: str
    client_id: str
    client_secret: str = field(repr=False)
    org_id: str
    sandbox: str
    scopes: str
    ims_token_url: str
    ui_tenant: str | None = None

    @property
    def ui_organisation(self) -> str:
        """How links name the organisation: its tenant where configured, else its IMS org id."""
        return self.ui_tenant or self.org_id


@dataclass(frozen=True)
class Limits:
    """Caps per hook, so that no server can make a call run, grow or page on without end.

    ``timeout``: seconds for a whole request, from the wait for a connection to the body's last
    byte. ``max_response_bytes``: a larger body is abandoned as it streams in. ``max_pages``: pages
    one listing reads at most. ``download_timeout``: seconds for one attempt at downloading one
    file, whose body has no size cap; every read within it still waits ``timeout`` at most.
    """

    timeout: float = DEFAULT_TIMEOUT
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    max_pages: int = DEFAULT_MAX_PAGES
    download_timeout: float = DEFAULT_DOWNLOAD_TIMEOUT

    def __post_init__(self) -> None:
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise AepConfigError(f"timeout must be a positive number of seconds, got {self.timeout!r}")
        if self.max_response_bytes < 1024:
            raise AepConfigError(f"max_response_bytes must be at least 1024, got {self.max_response_bytes!r}")
        if not (math.isfinite(self.download_timeout) and self.download_timeout > 0):
            raise AepConfigError(
                f"download_timeout must be a positive number of seconds, got {self.download_timeout!r}"
            )
        if self.max_pages < 1:
            raise AepConfigError(f"max_pages must be at least 1, got {self.max_pages!r}")


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter; a server's ``Retry-After`` wins when it sends one.

    ``max_attempts`` counts the first try, so 5 means one call plus up to four retries.
    """

    max_attempts: int = DEFAULT_RETRY_LIMIT
    initial_delay: float = DEFAULT_RETRY_DELAY
    max_delay: float = DEFAULT_MAX_RETRY_DELAY
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1")
        if self.initial_delay < 0 or self.max_delay < self.initial_delay:
            raise ValueError("RetryPolicy needs 0 <= initial_delay <= max_delay")

    @classmethod
    def of(cls, retry_limit: int, retry_delay: float) -> RetryPolicy:
        """From the operator-style arguments: attempts per request, and the first backoff delay."""
        return cls(max_attempts=retry_limit, initial_delay=retry_delay, max_delay=max(retry_delay, cls.max_delay))

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        ceiling = min(self.max_delay, self.initial_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)
