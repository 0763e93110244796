"""A long wait says it is alive at a modest cadence, never once per poll.

Status changes are logged as they happen (``StatusLog``), but an export can sit in PROCESSING for
hours: without a line now and then, a user reading the log cannot tell a wait from a hang.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from airflow_provider_aep.client.calls import Logger

ALIVE_EVERY_SECONDS = 600.0


class AliveLog:
    """``tick()`` after each check that found nothing; it logs only once ``every`` seconds passed.

    ``every`` defaults to ``ALIVE_EVERY_SECONDS``, read when the wait starts.
    """

    def __init__(
        self,
        log: Logger,
        what: str,
        every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.what = what
        self.every = ALIVE_EVERY_SECONDS if every is None else every
        self.clock = clock
        self.started = self._last = clock()
        self.checks = 0

    def tick(self) -> None:
        """One more check that found nothing; a line when the last one is ``every`` seconds old."""
        self.checks += 1
        now = self.clock()
        if now - self._last < self.every:
            return
        self._last = now
        self.log.info(
            "Still waiting for %s: %s so far, %d check(s) made.",
            self.what,
            duration_text(now - self.started),
            self.checks,
        )


def duration_text(seconds: float) -> str:
    """``4.2 s``, ``42 s``, ``3 min 05 s``, ``2 h 10 min``: the form every wait and transfer line uses."""
    seconds = max(seconds, 0.0)
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    whole = int(seconds + 0.5)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
