"""One cluster for the whole session (`make e2e-cluster`). Without PostgreSQL, Redis or the Celery
and PostgreSQL extras the tests skip together; in CI (which installs them) they fail instead."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_aep.simulator import SimulatorState
from tests.cluster.cluster import Cluster
from tests.cluster.services import postgres_bin
from tests.simulator_settings import restore_defaults

# Scenario -> figure -> value: printed as one table at the end of the session.
FIGURES: dict[str, dict[str, Any]] = {}
ISSUED_TOKENS: list[str] = []  # every access token the simulator handed out this session


def _missing() -> list[str]:
    missing = []
    if postgres_bin() is None:
        missing.append("PostgreSQL (Debian: postgresql)")
    if shutil.which("redis-server") is None:
        missing.append("Redis (Debian: redis-server)")
    for module, extra in (("celery", "apache-airflow[celery]"), ("asyncpg", "apache-airflow[postgres]")):
        if importlib.util.find_spec(module) is None:
            missing.append(f"{module} (pip: {extra})")
    return missing


@pytest.fixture(scope="session")
def cluster_parts() -> None:
    """Skips the tests that need the cluster's parts where they are missing, all of them alike."""
    if missing := _missing():
        message = f"the cluster tests need {', '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; .ci/run installs them, so CI must run these tests")
        pytest.skip(message)


@pytest.fixture(scope="session")
def cluster(cluster_parts: None) -> Iterator[Cluster]:
    with Cluster.running() as running:
        yield running


@pytest.fixture
def sim(cluster: Cluster) -> SimulatorState:
    """The simulator, with every switch a test may have turned set back and its records cleared.
    The tokens it issued stay valid: processes that live across tests keep theirs, as with IMS.
    The files landed so far go too: job ids start again at the same number after a reset, so a
    download would find the last scenario's files in its folder and fetch nothing."""
    state = cluster.state
    restore_defaults(state, keep={"identify_client"})
    ISSUED_TOKENS.extend(state.issued_tokens)
    tokens = dict(state.tokens)
    state.reset()
    state.tokens.update(tokens)
    shutil.rmtree(cluster.exports, ignore_errors=True)
    return state


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "reads_every_log: runs after every other cluster test, whose logs it reads")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("reads_every_log") is not None)  # a stable sort


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section("cluster figures")
    for scenario, figures in FIGURES.items():
        terminalreporter.write_line(f"{scenario}:")
        for name, value in figures.items():
            terminalreporter.write_line(f"  {name}: {value}")
