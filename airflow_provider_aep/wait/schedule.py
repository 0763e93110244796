"""When to check again: one schedule for the worker's waits and the triggers', and the worker's one wait loop.

The last check starts shortly before the deadline, so that a job finishing at the end of the wait
is still seen, and so that the check itself ends by the deadline.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from airflow_provider_aep.wait.alive import AliveLog

T = TypeVar("T")

# Seconds between two checks of a wait, unless its task says otherwise.
DEFAULT_POLL_INTERVAL = 30.0
# How long before the deadline the last status check starts, at most (never more than one poll
# interval), and so how long it may take.
FINAL_CHECK_SECONDS = 5.0
# Airflow's own deferral timeout is only a backstop: the trigger's deadline fires first, so that the
# job can be cancelled before the task fails.
DEFERRAL_TIMEOUT_GRACE = timedelta(minutes=5)


def next_pause(remaining: float | None, poll_interval: float) -> tuple[float, bool]:
    """Seconds to wait before the next poll, and whether the wait is over (timed out) after that.

    ``remaining``: seconds to the deadline, None for none.
    """
    if remaining is None:
        return poll_interval, False
    final_check = min(FINAL_CHECK_SECONDS, poll_interval)
    if remaining > final_check:
        return min(poll_interval, remaining - final_check), False
    return max(remaining, 0.0), True


def first_pause(remaining: float | None, poll_interval: float) -> float:
    """Seconds a trigger waits before its first poll: a random part of one interval.

    Triggers that start together (a triggerer restarting, a DAG fanning out to many exports) would
    otherwise poll together at every interval, in bursts that stall the event loop and hit the API
    at once. The task checked the job just before deferring, so nothing is seen later than one
    interval after that check. It never delays the poll past the last check before the deadline.
    """
    pause = random.uniform(0.0, poll_interval)
    if remaining is not None:
        pause = min(pause, max(remaining - min(FINAL_CHECK_SECONDS, poll_interval), 0.0))
    return pause


def wait_in_worker(
    check: Callable[[], T | None],
    *,
    poll_interval: float,
    timeout: float | None,
    alive: AliveLog,
    checked_at: float | None = None,
) -> T | None:
    """``check()`` until it gives an answer (not None), sleeping in between; None once ``timeout`` passed.

    ``alive`` ticks after each check that found nothing, as a trigger's loop does. ``checked_at``:
    when (``time.monotonic()``) the caller's own check found nothing, just before: the wait counts
    from it and begins with a pause, so that no check is made twice.
    """
    began = time.monotonic() if checked_at is None else checked_at
    deadline = None if timeout is None else began + timeout
    answer = None if checked_at is not None else check()
    while answer is None:
        alive.tick()
        pause, timed_out = next_pause(None if deadline is None else deadline - time.monotonic(), poll_interval)
        time.sleep(pause)
        if timed_out:
            return None
        answer = check()
    return answer


def deferral_timeout(timeout: float | None) -> timedelta | None:
    """The ``timeout`` of a ``defer`` whose trigger ends the wait after ``timeout`` seconds itself."""
    return None if timeout is None else timedelta(seconds=timeout) + DEFERRAL_TIMEOUT_GRACE
