"""When to try a failed call again, and how long to wait first."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter; a server's ``Retry-After`` wins when it sends one.

    ``max_attempts`` counts the first try, so 5 means one call plus up to four retries.
    """

    max_attempts: int = 5
    initial_delay: float = 1.0
    max_delay: float = 30.0
    max_retry_after: float = 300.0

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
