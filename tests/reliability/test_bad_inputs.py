"""Every catalogued bad input fails clearly and sends nothing."""

from __future__ import annotations

import re

import pytest

from airflow_provider_aep.exceptions import AepConfigError
from airflow_provider_aep.simulator import SimulatorServer
from tests.reliability.bad_inputs import CASES, Case, error_of


def test_catalogue_is_large_enough() -> None:
    assert len(CASES) >= 25
    assert {case.area for case in CASES} == {"connection", "operator", "sensor", "hook", "dataset", "download"}


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.area}: {case.what}")
def test_bad_input_fails_before_any_request(
    case: Case, simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AEP_BAD", "{}")  # so the case's own value is undone afterwards
    error = error_of(case, simulator)
    assert isinstance(error, AepConfigError)
    assert case.expected in str(error)
    subject = {
        "connection": r"Connection 'aep_bad': ",
        "hook": r"(get_export_job|cancel_export_job|get_dataset|get_batch|list_batch_files|download_file) "
        r"on connection 'aep_default': ",
        "dataset": r"Task 'ensure_dataset': ",
        "download": r"Task 'download_export': ",
        "operator": r"Task 'create_export_job': ",
        "sensor": r"Task 'wait_for_export': ",
    }[case.area]
    assert re.match(subject, str(error))
    assert simulator.state.client_secret not in str(error)
    assert simulator.state.count("requests") == 0
