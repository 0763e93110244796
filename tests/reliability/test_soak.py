"""A short soak in every test run; ``make soak`` runs the long one."""

from __future__ import annotations

from tests.reliability.soak import run_soak


def test_short_soak_loses_and_duplicates_nothing() -> None:
    result = run_soak(jobs=24, seed=3)
    assert result.duplicates == 0
    assert result.lost_ids == 0
    assert result.false_failures == 0, result.problems
    assert result.false_successes == 0
    assert result.failures_without_codes == 0
    assert result.outcomes["failed"] >= 1  # AEP failed some jobs, and they were reported failed
    assert result.outcomes["success"] + result.outcomes["failed"] == 24
    assert result.counters["jobs_created"] == 24
    assert result.fault_share > 0.15
    for kind in ("status", "slow", "drop"):
        assert result.counters[f"faults:{kind}"] >= 1, kind
    assert result.counters["tokens_revoked"] >= 1
    assert result.retries > 0
