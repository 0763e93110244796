"""Server text is untrusted: it may echo the client secret or an access token, raw or escaped.

IMS may repeat the submitted form (with the secret); a gateway may repeat the Authorization header
(with the token).

Airflow's masker only sees the exact strings it was given, and only in log records; errors and
trigger events need the same protection, for every escaped form a server or a JSON encoder
produces. Every piece of server text goes through ``scrub`` before it is put into an exception.
"""

from __future__ import annotations

import json
import re
import threading
from urllib.parse import quote, quote_plus

MASK = "***"
# Secrets shorter than this are not worth hunting: they would mask ordinary words.
_MIN_SECRET_LENGTH = 6
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class SecretScrubber:
    """The client secrets and access tokens this process has seen, in each form they may come back in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: set[str] = set()
        self._forms: list[str] = []

    def register(self, secret: str) -> None:
        """Learn a secret in every encoding it may come back in; very short ones would mask plain words."""
        if len(secret) < _MIN_SECRET_LENGTH or secret in self._known:
            return
        variants = {
            secret,
            quote(secret, safe=""),
            quote_plus(secret),
            json.dumps(secret)[1:-1],
            json.dumps(secret, ensure_ascii=False)[1:-1],
            _escaped(secret),
        }
        with self._lock:
            self._known.add(secret)
            # Longest first, so that a form containing another is replaced whole.
            self._forms = sorted({*self._forms, *variants}, key=len, reverse=True)

    def scrub(self, text: str, limit: int | None = 500) -> str:
        """``text`` with every known secret masked and control characters escaped, cut to ``limit``."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        text = _escaped(text)
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        if limit is not None and len(text) > limit:
            text = f"{text[:limit]}... ({len(text) - limit} more characters)"
        return text


def describe(error: BaseException) -> str:
    """An unexpected exception for an event or a log: its type and its scrubbed text."""
    return f"{type(error).__name__}: {scrubber.scrub(str(error))}"


def _escaped(text: str) -> str:
    """CR, LF and other control characters escaped, so server text cannot forge log lines."""
    return _CONTROL.sub(lambda match: ascii(match.group())[1:-1], text)


scrubber = SecretScrubber()
