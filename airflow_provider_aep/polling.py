"""When to poll a job next: one schedule for the worker's wait and the trigger's.

The last check starts shortly before the deadline, so that a job finishing at the end of the wait
is still seen, and so that the check itself ends by the deadline.
"""

from __future__ import annotations

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
