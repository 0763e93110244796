"""When to poll a job next: one schedule for the worker's wait and the trigger's.

The last check starts shortly before the deadline, so that a job finishing at the end of the wait
is still seen, and so that the check itself ends by the deadline.
"""

from __future__ import annotations

import random

# How long before the deadline the last status check starts, at most (never more than one poll
# interval), and so how long it may take.
FINAL_CHECK_SECONDS = 5.0


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
