"""The one retry loop, driven without a server: what it retries, how it counts, where it stops."""

from __future__ import annotations

import httpx
import pytest

from airflow_provider_aep.client.calls import MAX_ATTEMPTS_WITH_PROGRESS, Failed, with_retries
from airflow_provider_aep.client.flows import Flow
from airflow_provider_aep.client.settings import RetryPolicy
from airflow_provider_aep.client.sync_driver import run_sync
from airflow_provider_aep.exceptions import AepApiError

NO_WAIT = RetryPolicy(max_attempts=3, initial_delay=0.0, max_delay=0.0)


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def debug(self, event: str, *args: object) -> None:
        self.lines.append(event % args)

    info = warning = debug


class Counted:
    """The core's ``Metrics``, counting what the loop reports."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def incr(self, name: str, count: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + count

    def timing(self, name: str, seconds: float) -> None:
        raise AssertionError("the retry loop times nothing")


def transient(**changes: object) -> AepApiError:
    fields: dict[str, object] = {"method": "GET", "path": "/x", "status_code": 503, **changes}
    return AepApiError(**fields)  # type: ignore[arg-type]


def attempts_of(outcomes: list[object], metrics: Counted | None = None) -> tuple[list[str | None], object]:
    """Runs the loop over attempts that give ``outcomes`` in turn; the tokens each saw, and the result."""
    seen: list[str | None] = []

    def attempt(token: str | None) -> Flow[object]:
        seen.append(token)
        return outcomes.pop(0)
        yield  # a flow, although these attempts send nothing

    tokens = iter(["t1", "t2", "t3"])
    flow = with_retries(attempt, policy=NO_WAIT, log=Log(), metrics=metrics or Counted())
    try:
        result: object = run_sync(flow, httpx.Client(), lambda rejected: next(tokens))
    except AepApiError as error:
        result = error
    return seen, result


def test_a_transient_failure_is_tried_again_until_the_limit() -> None:
    metrics = Counted()
    seen, result = attempts_of([Failed(transient()), Failed(transient()), Failed(transient())], metrics)
    assert len(seen) == NO_WAIT.max_attempts
    assert isinstance(result, AepApiError)
    assert result.status_code == 503
    # Each request sent again is one retry; the first attempt and the last failure are not.
    assert metrics.counts == {"api.retries": NO_WAIT.max_attempts - 1}


def test_a_token_refresh_after_a_401_is_not_a_retry() -> None:
    metrics = Counted()
    seen, result = attempts_of([Failed(transient(status_code=401)), "done"], metrics)
    assert (seen, result) == (["t1", "t2"], "done")
    assert metrics.counts == {}


def test_a_401_fetches_a_new_token_once_and_does_not_count_as_an_attempt() -> None:
    seen, result = attempts_of([Failed(transient(status_code=401)), "done"])
    assert (seen, result) == (["t1", "t2"], "done")
    seen, result = attempts_of([Failed(transient(status_code=401)), Failed(transient(status_code=401))])
    assert seen == ["t1", "t2"]
    assert isinstance(result, AepApiError)
    assert result.status_code == 401


def test_an_ambiguous_failure_is_not_resent_when_the_call_must_not_be() -> None:
    seen: list[str | None] = []

    def attempt(token: str | None) -> Flow[object]:
        seen.append(token)
        return Failed(transient())
        yield

    with pytest.raises(AepApiError):
        run_sync(
            with_retries(attempt, policy=NO_WAIT, log=Log(), metrics=Counted(), resend_ambiguous=False),
            httpx.Client(),
            str,
        )
    assert len(seen) == 1


def test_progress_starts_the_count_again_within_a_bound_in_all() -> None:
    """A download that writes a byte before every drop goes on, but not for ever."""
    outcomes: list[object] = [Failed(transient(status_code=None, transport_error="ReadError"), progressed=True)] * (
        MAX_ATTEMPTS_WITH_PROGRESS + 5
    )
    seen, result = attempts_of(outcomes)
    assert len(seen) == MAX_ATTEMPTS_WITH_PROGRESS
    assert isinstance(result, AepApiError)
    assert f"gave up after {MAX_ATTEMPTS_WITH_PROGRESS} attempts" in str(result)
