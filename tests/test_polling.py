"""The poll schedule the worker's wait and the trigger's wait share."""

from __future__ import annotations

import pytest

from airflow_provider_aep.polling import FINAL_CHECK_SECONDS, next_pause


@pytest.mark.parametrize(
    ("remaining", "poll_interval", "expected"),
    [
        (None, 30.0, (30.0, False)),  # no deadline: poll on
        (3600.0, 30.0, (30.0, False)),
        (20.0, 30.0, (20.0 - FINAL_CHECK_SECONDS, False)),  # the last check, before the deadline
        (FINAL_CHECK_SECONDS, 30.0, (FINAL_CHECK_SECONDS, True)),  # that check done: wait out the deadline
        (0.15, 0.1, (0.05, False)),  # short intervals: a final window of one interval
        (0.05, 0.1, (0.05, True)),
        (-1.0, 30.0, (0.0, True)),  # already past
    ],
)
def test_next_pause(remaining: float | None, poll_interval: float, expected: tuple[float, bool]) -> None:
    pause, over = next_pause(remaining, poll_interval)
    assert (round(pause, 9), over) == expected
