"""One real Airflow 3 deployment and one simulator for every end-to-end test in this folder; the
secret scan in ``test_real_airflow`` runs last and covers what every test here left behind."""

from __future__ import annotations

import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from airflow_provider_aep.simulator import SimulatorServer, SimulatorState
from tests import REPO
from tests.e2e.airflow_stack import AirflowStack

ISSUED_TOKENS: list[str] = []  # every access token handed out during the session
TYPED_SECRETS: list[str] = []  # secrets typed into the UI, besides the simulator's own
UI_TENANT = "acme-eu"  # the organisation's name in the Experience Cloud links the tasks show

# Airflow 3.3 can fail a deferred task whose trigger fires moments after the deferral: the scheduler
# drains the executor's "success" of the process that deferred only once the resumed try is queued or
# running, and takes it for a task killed externally (apache/airflow#71580, #72716). A real export
# runs for minutes; the tests' jobs end well after the deferral instead of within a second of it.
# On the sensor's check and the trigger's first poll (a random part of the interval) the job is still
# running; it ends on the poll after, a whole poke interval later.
POLLS_TO_FINISH_AFTER_DEFERRAL = 3
# For aep_e2e_export, whose sensor pokes every second: fail by time, seconds after it deferred.
FAILS_AFTER_DEFERRAL = 8.0


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorServer]:
    with SimulatorServer(SimulatorState()) as server:
        yield server


@pytest.fixture(scope="session")
def stack(simulator: SimulatorServer) -> Iterator[AirflowStack]:
    with tempfile.TemporaryDirectory(prefix="aep-e2e-") as home:
        airflow = AirflowStack(
            Path(home),
            bundles={"provider_examples": REPO / "example_dags", "e2e_dags": REPO / "tests" / "e2e" / "dags"},
            connections={"AIRFLOW_CONN_AEP_DEFAULT": simulator.connection_env_value(ui_tenant=UI_TENANT)},
        )
        try:
            yield airflow.start()
        except BaseException:
            print(airflow.logs())
            raise
        finally:
            airflow.stop()


@pytest.fixture(autouse=True)
def fresh_simulator(simulator: SimulatorServer, stack: AirflowStack) -> Iterator[SimulatorState]:
    """What the simulator records is this test's alone: no run is still going when it is reset."""
    stack.wait_until_quiet()
    simulator.state.reset()
    yield simulator.state
    ISSUED_TOKENS.extend(simulator.state.issued_tokens)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test says what the deployment and the page showed: from a CI run on a loaded
    machine, that is all there is to tell a slow UI or a stuck task from a broken one."""
    report = yield
    if report.when != "call" or not report.failed:
        return report
    funcargs = getattr(item, "funcargs", {})
    if (page := funcargs.get("page")) is not None:
        try:
            shown = page.locator("body").inner_text(timeout=5_000)
        except Exception as error:  # the page itself may be what broke
            shown = f"(unreadable: {error})"
        report.sections.append(("the page when the test failed", f"{page.url}\n{shown}"))
    if (stack := funcargs.get("stack")) is not None:
        report.sections.append(("the deployment when the test failed", stack.logs()))
    return report
