"""Shared fixtures: one simulator per test session on a loopback port, reset before every test."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_aep.client.settings import RetryPolicy
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.simulator import Scenario, SimulatorServer, SimulatorState
from tests.airflow_compat import AIRFLOW_2_ONLY_TESTS, AIRFLOW_3_ONLY_TESTS, AIRFLOW_V_3
from tests.simulator_settings import restore_defaults
from tests.tokens import forget_tokens

if TYPE_CHECKING:
    from playwright.sync_api import Browser

collect_ignore_glob = AIRFLOW_2_ONLY_TESTS if AIRFLOW_V_3 else AIRFLOW_3_ONLY_TESTS


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under pytest-xdist (``make test`` runs each suite with ``-n``), whatever ``--dist`` says: a
    test module runs whole, in file order, on one worker, as in one process; and all of tests/e2e on
    one, for its one Airflow deployment and the secret scan there that runs last."""
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "tests/e2e" if module.startswith("tests/e2e/") else module

    return ModuleScheduling(config, log)


def pytest_report_header() -> str:
    from airflow import __version__

    other = "Airflow 2.11" if AIRFLOW_V_3 else "Airflow 3"
    return f"apache-airflow {__version__}; {other} only, not collected: {', '.join(collect_ignore_glob)}"


FAST_RETRIES = RetryPolicy(max_attempts=5, initial_delay=0.01, max_delay=0.05)

EXPORT_REQUEST: dict[str, Any] = {
    "destination": {"datasetId": "5b7c86968f7b6501e21ba9df", "segmentPerBatch": False},
    "schema": {"name": "_xdm.context.profile"},
    "filter": {"segments": [{"segmentId": "52c26d0d-45f2-47a2-ab30-ed06abc981ff", "status": ["realized"]}]},
}


@pytest.fixture(autouse=True)
def token_store_path(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets a host of its own: a token store no other test has written to."""
    path = tmp_path_factory.mktemp("host") / "ims-tokens"
    monkeypatch.setenv("AIRFLOW__AEP__TOKEN_STORE_PATH", str(path))
    return path


@pytest.fixture(scope="session")
def simulator_server() -> Iterator[SimulatorServer]:
    with SimulatorServer(SimulatorState()) as server:
        yield server


@pytest.fixture
def simulator(simulator_server: SimulatorServer, monkeypatch: pytest.MonkeyPatch) -> SimulatorServer:
    """The running simulator, freshly reset, with ``aep_default`` pointing at it."""
    state = simulator_server.state
    restore_defaults(state)
    state.reset()
    state.default_scenario = Scenario(duration=0.5)
    forget_tokens()
    monkeypatch.setenv("AIRFLOW_CONN_AEP_DEFAULT", simulator_server.connection_env_value())
    return simulator_server


@pytest.fixture
def hook(simulator: SimulatorServer) -> AdobeExperiencePlatformHook:
    return AdobeExperiencePlatformHook(retry_policy=FAST_RETRIES, timeout=2.0)


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated SQLite metadata database, for tests that run DAGs with ``dag.test()``."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, env=os.environ.copy()
    )


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, fields: dict[str, Any]) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, for the UI tests of either Airflow version. Per module: Playwright's sync
    API keeps an event loop running in the main thread, which asyncio.run() in later tests refuses."""
    from tests.e2e.browser import chromium

    with chromium() as launched:
        yield launched


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


Call = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def call(request: pytest.FixtureRequest, hook: AdobeExperiencePlatformHook) -> Call:
    """Calls ``hook.<method>`` or awaits ``hook.a<method>``: each test runs against both twins."""

    def invoke(method: str, *args: Any, **kwargs: Any) -> Any:
        if request.param == "sync":
            return getattr(hook, method)(*args, **kwargs)
        return asyncio.run(getattr(hook, f"a{method}")(*args, **kwargs))

    return invoke


@pytest.fixture
def task_xcoms(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The XComs a trigger leaves through the Task SDK on Airflow 3, by key. The triggerer's pipe
    to its supervisor cannot exist outside a triggerer, so the SDK's ``XCom.set`` is recorded."""
    left: dict[str, Any] = {}
    if AIRFLOW_V_3:
        from airflow.sdk.execution_time.xcom import XCom

        def record(key: str, value: Any, **where: Any) -> None:
            assert where == {"dag_id": "aep_dag", "task_id": "create_export_job", "run_id": "manual__1", "map_index": 3}
            left[key] = value

        monkeypatch.setattr(XCom, "set", record)
    return left
