"""Every catalogued bad input fails clearly and sends nothing."""

from __future__ import annotations

import pytest

from airflow_provider_aep.exceptions import AepConfigError
from airflow_provider_aep.simulator import SimulatorServer
from tests.reliability.bad_inputs import CASES, Case, error_of


def test_catalogue_is_large_enough() -> None:
    assert len(CASES) >= 25
    assert {case.area for case in CASES} == {"connection", "operator", "sensor"}


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.area}: {case.what}")
def test_bad_input_fails_before_any_request(
    case: Case, simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AEP_BAD", "{}")  # so the case's own value is undone afterwards
    error = error_of(case, simulator)
    assert isinstance(error, AepConfigError)
    assert case.expected in str(error)
    subject = "Connection 'aep_bad'" if case.area == "connection" else "Task '"
    assert str(error).startswith(subject)
    assert simulator.state.client_secret not in str(error)
    assert simulator.state.count("requests") == 0
