"""The steps an API flow asks its driver to perform.

Flows (see ``export_jobs_api``) are generators: they yield one of these actions and receive its
outcome. They hold all the logic (request building, response handling, retries, token refresh,
pagination); a driver (see ``transport``) only performs the I/O, synchronously or with asyncio.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    """Send the request. Outcome: the ``httpx.Response``, or the ``httpx.TransportError`` raised."""

    request: httpx.Request


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
