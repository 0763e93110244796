"""The connection form as a user meets it in Airflow 2.11's UI (a real ``airflow webserver``),
clicked through in Chromium: Airflow 2 builds it from the hook's widget methods, not from the
provider info that Airflow 3 reads, so it is checked on its own."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from airflow_provider_aep.hooks.connection import DEFAULT_IMS_TOKEN_URL, DEFAULT_SANDBOX, DEFAULT_SCOPES
from airflow_provider_aep.simulator import SimulatorServer, SimulatorState
from tests.e2e.airflow_stack import free_port, wait_until
from tests.e2e.browser import requires_chromium, save_screenshot
from tests.e2e.conftest import UI_TENANT

EXTRA = "extra__adobe_experience_platform__"
WRONG_SECRET = "p8e-not-the-right-secret-2c9d"
ISSUED_TOKENS: list[str] = []  # every access token the simulator handed out in this module

pytestmark = requires_chromium


class Webserver:
    """``airflow webserver`` in a temporary AIRFLOW_HOME, every visitor an admin."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__WEBSERVER__WORKERS": "1",
            "AIRFLOW__API__AUTH_BACKENDS": "airflow.api.auth.backend.session",
        }
        self.log_path = home / "webserver.log"
        self.process: subprocess.Popen[bytes] | None = None

    def airflow(self, *args: str) -> str:
        command = [sys.executable, "-m", "airflow", *args]
        return subprocess.run(command, env=self.env, capture_output=True, text=True, check=True).stdout

    def start(self) -> Webserver:
        (self.home / "webserver_config.py").write_text('AUTH_ROLE_PUBLIC = "Admin"\n')
        self.airflow("db", "migrate")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "airflow", "webserver", "--hostname", "127.0.0.1", "--port", str(self.port)],
                env={**self.env, "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG"},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._healthy, 120, "the Airflow 2.11 webserver")
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/health").status_code == 200
        except httpx.TransportError:
            return False

    def stored_connection(self, conn_id: str) -> dict[str, object]:
        (stored,) = json.loads(self.airflow("connections", "get", conn_id, "-o", "json"))
        return dict(stored)


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorServer]:
    with SimulatorServer(SimulatorState()) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_simulator(simulator: SimulatorServer) -> Iterator[SimulatorState]:
    simulator.state.reset()
    yield simulator.state
    ISSUED_TOKENS.extend(simulator.state.issued_tokens)


@pytest.fixture(scope="module")
def webserver() -> Iterator[Webserver]:
    with tempfile.TemporaryDirectory(prefix="aep-airflow2-ui-") as home:
        server = Webserver(Path(home))
        try:
            yield server.start()
        except BaseException:
            print(server.log_path.read_text(errors="replace")[-4000:] if server.log_path.exists() else "")
            raise
        finally:
            server.stop()


@pytest.fixture
def page(browser: Browser, webserver: Webserver) -> Iterator[Page]:
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{webserver.port}", viewport={"width": 1280, "height": 1400}
    )
    yield context.new_page()
    context.close()


def open_add_connection_form(page: Page) -> None:
    page.goto("/connection/add")
    page.select_option("#conn_type", "adobe_experience_platform")


def fill_connection_form(page: Page, connection_id: str, simulator: SimulatorServer, secret: str) -> None:
    page.fill("#conn_id", connection_id)
    page.fill("#host", simulator.url)
    page.fill("#login", simulator.state.client_id)
    page.fill("#password", secret)
    page.fill(f"#{EXTRA}org_id", simulator.state.org_id)
    page.fill(f"#{EXTRA}ims_url", f"{simulator.url}/ims/token/v3")
    page.fill(f"#{EXTRA}ui_tenant", UI_TENANT)


def press_test(page: Page) -> str:
    """The Test button next to Save; returns the text of the alert that reports the outcome."""
    alert = page.locator(".container .row .alert")
    expect(alert).to_contain_text("Warning:")  # the form's own notice, which the outcome replaces
    page.click("#test-connection")
    expect(alert).not_to_contain_text("Warning:")
    expect(alert).to_be_visible()
    return alert.inner_text()


def test_form_relabels_hides_and_defaults_the_fields(page: Page, tmp_path: Path) -> None:
    open_add_connection_form(page)
    for field, label in (
        ("host", "Platform gateway URL"),
        ("login", "Client ID (API key)"),
        ("password", "Client secret"),
    ):
        expect(page.locator(f"label[for={field}]")).to_have_text(label)
    for hidden in ("schema", "port"):
        expect(page.locator(f"#{hidden}")).to_be_hidden()
    expect(page.locator("#password")).to_have_attribute("type", "password")
    for field, label in (
        ("org_id", "IMS organisation ID"),
        ("sandbox", "Sandbox name"),
        ("scopes", "OAuth scopes"),
        ("ims_url", "IMS token endpoint"),
        ("ui_tenant", "Experience Cloud tenant"),
    ):
        expect(page.locator(f"label[for={EXTRA}{field}]")).to_have_text(label)
    expect(page.locator(f"#{EXTRA}sandbox")).to_have_value(DEFAULT_SANDBOX)
    expect(page.locator(f"#{EXTRA}scopes")).to_have_value(DEFAULT_SCOPES)
    expect(page.locator(f"#{EXTRA}ims_url")).to_have_value(DEFAULT_IMS_TOKEN_URL)
    save_screenshot(page, tmp_path, "airflow2-connection-form.png")


def test_test_button_then_save_stores_what_the_form_showed(
    page: Page, webserver: Webserver, simulator: SimulatorServer, tmp_path: Path
) -> None:
    open_add_connection_form(page)
    fill_connection_form(page, "aep_from_the_form", simulator, simulator.state.client_secret)
    outcome = press_test(page)
    assert f"Connected to {simulator.url} as org {simulator.state.org_id}" in outcome, outcome
    assert simulator.state.count("tokens_issued") == 1
    assert simulator.state.count("requests:list") == 1
    save_screenshot(page, tmp_path, "airflow2-connection-tested.png")

    page.get_by_role("button", name="Save").click()
    expect(page).not_to_have_url("/connection/add")
    stored = webserver.stored_connection("aep_from_the_form")
    assert (stored["conn_type"], stored["host"], stored["login"]) == (
        "adobe_experience_platform",
        simulator.url,
        simulator.state.client_id,
    )
    assert stored["extra_dejson"] == {
        "org_id": simulator.state.org_id,
        "sandbox": DEFAULT_SANDBOX,
        "scopes": DEFAULT_SCOPES,
        "ims_url": f"{simulator.url}/ims/token/v3",
        "ui_tenant": UI_TENANT,
    }


def test_test_button_with_a_wrong_secret_says_why_without_echoing_it(page: Page, simulator: SimulatorServer) -> None:
    open_add_connection_form(page)
    fill_connection_form(page, "aep_wrong_secret", simulator, WRONG_SECRET)
    outcome = press_test(page)
    assert "invalid_client" in outcome, outcome
    assert WRONG_SECRET not in outcome
    assert simulator.state.count("requests:list") == 0


def test_no_secret_or_token_in_the_webserver_log(webserver: Webserver, simulator: SimulatorServer) -> None:
    """Runs last: the log of everything the tests above did, at DEBUG level."""
    log = webserver.log_path.read_text(errors="replace")
    assert "/api/v1/connections/test" in log  # the Test button's requests were logged
    assert ISSUED_TOKENS  # the Test button really authenticated
    secrets = [simulator.state.client_secret, WRONG_SECRET, *ISSUED_TOKENS]
    assert [secret[:12] for secret in secrets if secret in log] == []
