"""The poll schedule the worker's wait and the trigger's wait share."""

from __future__ import annotations

import pytest

from airflow_provider_aep.wait.schedule import FINAL_CHECK_SECONDS, first_pause, next_pause


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


def test_first_polls_of_triggers_that_start_together_are_spread_over_one_interval() -> None:
    pauses = [first_pause(None, 30.0) for _ in range(1000)]
    assert all(0.0 <= pause <= 30.0 for pause in pauses)
    # Spread, not bunched: every third of the interval gets a fair share of the first polls.
    thirds = [sum(1 for pause in pauses if low <= pause < low + 10.0) for low in (0.0, 10.0, 20.0)]
    assert min(thirds) > 250, thirds


def test_a_first_poll_is_never_later_than_the_last_check_before_the_deadline() -> None:
    assert all(first_pause(12.0, 30.0) <= 12.0 - FINAL_CHECK_SECONDS for _ in range(200))
    assert first_pause(3.0, 30.0) == 0.0
