"""The steps an API flow asks its driver to perform, and what the driver hands back.

Flows (see ``export_jobs_api``) are generators: they yield one of these actions and receive its
outcome. They hold all the logic (request building, response handling, retries, token refresh,
pagination); a driver (see ``transport``) only performs the I/O, synchronously or with asyncio.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    """Send the request and read its body.

    Outcome: a ``Reply``, an ``Oversized``, or the ``httpx.RequestError`` raised (a timeout once
    ``timeout`` seconds have passed in all).
    """

    request: httpx.Request
    timeout: float
    max_bytes: int


@dataclass(frozen=True)
class Sleep:
    """Wait before the next attempt. Outcome: None."""

    seconds: float


@dataclass(frozen=True)
class GetToken:
    """Outcome: a valid access token (str). ``rejected`` is a token Platform just refused."""

    rejected: str | None = None


Action = Send | Sleep | GetToken
Flow = Generator[Action, Any, T]


@dataclass(frozen=True)
class Reply:
    """A complete response, its body read in full and no larger than the request allowed."""

    request: httpx.Request
    status_code: int
    headers: Mapping[str, str]  # case-insensitive: httpx's headers, or aiohttp's as they came
    content: bytes

    @property
    def is_success(self) -> bool:
        """Any 2xx: Platform answers with more than 200 (a cancel may come back as a bodiless 204)."""
        return 200 <= self.status_code < 300


@dataclass(frozen=True)
class Oversized:
    """A response whose body passed ``limit`` bytes; reading stopped there."""

    request: httpx.Request
    status_code: int
    limit: int
