"""The steps an API flow asks its driver to perform, and what the driver hands back.

Flows (see ``apis``) are generators: they yield one of these actions and receive its outcome. They
hold all the logic (request building, response handling, retries, token refresh, pagination); a
driver (``sync_driver``, ``async_driver``) only performs the I/O.

A flow asks through the typed steps of ``calls`` (``send``, ``stream``, ``sleep``, ``get_token``),
each of which says what its action's outcome is, so ``mypy --strict`` checks what a flow does with
a token or a reply. A bare ``yield`` of an action receives ``Outcome``, the union of all outcomes,
which no flow can use without a type error.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import httpx

T = TypeVar("T")

# Sent with every Platform request, and quoted in every error, so Adobe support can find the call.
REQUEST_ID_HEADER = "x-request-id"


@dataclass(frozen=True, slots=True)
class Request:
    """One attempt of a call, as plain data that either driver sends as it is.

    Not an ``httpx.Request``: the async driver hands requests to aiohttp, and building an httpx
    request for every poll of every trigger was the largest cost the flows added to a poll. The
    header values and the body carry credentials, so the repr leaves them out.
    """

    method: str
    url: str  # absolute and percent-encoded, query included
    path: str  # the URL's path: how errors and logs name the call
    headers: Mapping[str, str] = field(repr=False)
    content: bytes | None = field(default=None, repr=False)
    request_id: str | None = None  # the x-request-id this attempt was sent with, if any


@dataclass(frozen=True, slots=True)
class Send:
    """Send the request and read its body.

    Outcome: a ``Reply``, an ``Oversized``, or the ``httpx.RequestError`` the failure amounts to (a
    timeout once ``timeout`` seconds have passed in all).
    """

    request: Request
    timeout: float
    max_bytes: int


@dataclass(frozen=True, slots=True)
class Stream:
    """Send the request and write a success body to ``sink`` as it arrives: a download.

    ``skip(status, headers)`` says how many leading body bytes to drop before writing (a server
    that ignored ``Range`` resends bytes the sink already has), or None to write nothing because
    the answer does not fit; at most ``room`` bytes are written. A failure body is read as a
    ``Send`` reads it, under ``max_bytes``.
    Each socket operation waits at most ``idle_timeout`` seconds, the whole transfer ``timeout``.
    Outcome: a ``Streamed``.
    """

    request: Request
    sink: Callable[[bytes], object]
    skip: Callable[[int, Mapping[str, str]], int | None]
    room: int | None  # bytes the sink may still take; a body going past them is cut there
    timeout: float
    idle_timeout: float
    max_bytes: int


@dataclass(frozen=True, slots=True)
class Streamed:
    """What a ``Stream`` did: ``written`` bytes reached the sink before it ended or ``failure`` struck.

    ``status_code`` is None when no response arrived; ``content`` holds a failure's body.
    """

    request: Request
    status_code: int | None
    headers: Mapping[str, str]
    written: int
    refused: bool = False  # ``skip`` said the answer does not fit; nothing was written
    overflowed: bool = False  # the body went on past ``room``; what fitted was written
    failure: httpx.RequestError | None = None
    content: bytes = b""


@dataclass(frozen=True)
class Sleep:
    """Wait before the next attempt. Outcome: None."""

    seconds: float


@dataclass(frozen=True)
class GetToken:
    """Outcome: a valid access token (str). ``rejected`` is a token Platform just refused."""

    rejected: str | None = None


Action = Send | Stream | Sleep | GetToken


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete response, its body read in full and no larger than the request allowed."""

    request: Request
    status_code: int
    headers: Mapping[str, str]  # case-insensitive: httpx's headers, or aiohttp's as they came
    content: bytes


@dataclass(frozen=True)
class Oversized:
    """A response whose body passed ``limit`` bytes; reading stopped there."""

    request: Request
    status_code: int
    limit: int
    content: bytes = b""  # none of it is kept


# What a driver sends back into a flow: each action's outcome, as the typed steps below unpack it.
Outcome = Reply | Oversized | httpx.RequestError | Streamed | str | None
Flow = Generator[Action, Outcome, T]
