"""The provider as a user meets it in the Airflow 3 UI, clicked through in a real Chromium: the
connection form and its Test button, then the task views of a deferred export."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from airflow_provider_aep.hooks.connection import DEFAULT_IMS_TOKEN_URL, DEFAULT_SANDBOX, DEFAULT_SCOPES
from airflow_provider_aep.simulator import Scenario, SimulatorServer, SimulatorState
from tests.e2e.airflow_stack import AirflowStack, wait_until
from tests.e2e.browser import (
    airflow_rejects_portless_connection_tests,
    open_showing,
    requires_chromium,
    save_screenshot,
    send_blank_port_as_null,
)
from tests.e2e.conftest import FAILS_AFTER_DEFERRAL, TYPED_SECRETS, UI_TENANT

pytestmark = requires_chromium

EXAMPLE_DAG = "aep_nightly_segment_export"
E2E_DAG = "aep_e2e_export"
WRONG_SECRET = "p8e-not-the-right-secret-7f3a"


@pytest.fixture
def page(browser: Browser, stack: AirflowStack) -> Iterator[Page]:
    base_url = f"http://127.0.0.1:{stack.port}"
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 1100})
    yield context.new_page()
    context.close()


def open_add_connection_form(page: Page) -> None:
    add = page.get_by_role("button", name="Add Connection")
    open_showing(page, "/connections", add)
    add.click()
    page.locator("[role=combobox]").first.click()
    page.keyboard.type("Adobe")
    page.get_by_role("option", name="Adobe Experience Platform").click()


def fill_connection_form(page: Page, connection_id: str, simulator: SimulatorServer, secret: str) -> None:
    page.locator("input[name=connection_id]").fill(connection_id)
    page.locator("input[name=host]").fill(simulator.url)
    page.locator("input[name=login]").fill(simulator.state.client_id)
    page.locator("input[name=password]").fill(secret)
    page.get_by_role("button", name="Extra Fields", exact=True).click()
    page.locator("[name=element_org_id]").fill(simulator.state.org_id)
    page.locator("[name=element_ims_url]").fill(f"{simulator.url}/ims/token/v3")
    page.locator("[name=element_ui_tenant]").fill(UI_TENANT)


def save_connection(page: Page, connection_id: str) -> None:
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("row").filter(has_text=connection_id)).to_be_visible()


def press_test(page: Page, connection_id: str) -> str:
    """Clicks the row's Test button; returns the text of the notification reporting the outcome."""
    notifications = page.locator("[data-scope=toast][data-part=root]").filter(has_text="Test Connection")
    expect(notifications).to_have_count(0, timeout=15_000)  # an earlier outcome has faded
    page.get_by_role("row").filter(has_text=connection_id).get_by_role("button", name="Test Connection").click()
    expect(notifications).to_have_count(1)
    return notifications.inner_text()


def test_connection_form_shows_the_provider_fields_and_saves_them(
    page: Page, stack: AirflowStack, simulator: SimulatorServer, tmp_path: Path
) -> None:
    open_add_connection_form(page)
    for label in ("Platform gateway URL", "Client ID (API key)", "Client secret"):
        expect(page.get_by_text(label, exact=True)).to_be_visible()
    expect(page.locator("input[name=password]")).to_have_attribute("type", "password")
    for hidden in ("schema", "port"):
        expect(page.locator(f"input[name={hidden}]")).to_have_count(0)
    page.get_by_role("button", name="Extra Fields", exact=True).click()
    for label in (
        "IMS organisation ID",
        "Sandbox name",
        "OAuth scopes",
        "IMS token endpoint",
        "Experience Cloud tenant",
    ):
        expect(page.get_by_text(label).first).to_be_visible()
    expect(page.locator("[name=element_sandbox]")).to_have_value(DEFAULT_SANDBOX)
    expect(page.locator("[name=element_scopes]")).to_have_value(DEFAULT_SCOPES)
    expect(page.locator("[name=element_ims_url]")).to_have_value(DEFAULT_IMS_TOKEN_URL)
    page.get_by_role("button", name="Standard Fields", exact=True).click()

    fill_connection_form(page, "aep_from_the_form", simulator, simulator.state.client_secret)
    expect(page.locator("input[name=password]")).to_be_hidden()
    save_screenshot(page, tmp_path, "connection-form-extra-fields.png")
    page.get_by_role("button", name="Standard Fields", exact=True).click()
    expect(page.locator("[name=element_org_id]")).to_be_hidden()  # the accordion has settled
    expect(page.locator("input[name=password]")).to_have_attribute("type", "password")
    expect(page.locator("input[name=password]")).to_be_in_viewport()
    save_screenshot(page, tmp_path, "connection-form.png")
    save_connection(page, "aep_from_the_form")

    stored = stack.api.get("/connections/aep_from_the_form").json()
    assert stored["conn_type"] == "adobe_experience_platform"
    assert stored["host"] == simulator.url
    assert stored["login"] == simulator.state.client_id
    assert stored["port"] is None
    assert json.loads(stored["extra"]) == {
        "org_id": simulator.state.org_id,
        "sandbox": DEFAULT_SANDBOX,
        "scopes": DEFAULT_SCOPES,
        "ims_url": f"{simulator.url}/ims/token/v3",
        "ui_tenant": UI_TENANT,
    }


def test_test_button_reports_success(page: Page, fresh_simulator: SimulatorState) -> None:
    open_showing(page, "/connections", page.get_by_role("row").filter(has_text="aep_from_the_form"))
    if airflow_rejects_portless_connection_tests():
        # What users of this Airflow version see for every connection type without a port.
        assert "Bad Request" in press_test(page, "aep_from_the_form")
        assert fresh_simulator.count("tokens_issued") == 0
        send_blank_port_as_null(page)
    outcome = press_test(page, "aep_from_the_form")
    assert "Connected to" in outcome, outcome
    assert fresh_simulator.org_id in outcome
    assert fresh_simulator.count("tokens_issued") == 1
    assert fresh_simulator.count("requests:list") == 1


def test_test_button_with_a_wrong_secret_says_why_without_echoing_it(
    page: Page, simulator: SimulatorServer, fresh_simulator: SimulatorState
) -> None:
    TYPED_SECRETS.append(WRONG_SECRET)
    open_add_connection_form(page)
    fill_connection_form(page, "aep_wrong_secret", simulator, WRONG_SECRET)
    save_connection(page, "aep_wrong_secret")
    send_blank_port_as_null(page)
    outcome = press_test(page, "aep_wrong_secret")
    assert "invalid_client" in outcome, outcome
    assert WRONG_SECRET not in outcome
    assert fresh_simulator.count("requests:list") == 0


def run_id_of_manual_run(stack: AirflowStack, dag_id: str) -> str:
    def manual_run() -> str | None:
        runs = stack.api.get(f"/dags/{dag_id}/dagRuns").json()["dag_runs"]
        return next((run["dag_run_id"] for run in runs if run["run_type"] == "manual"), None)

    run_id: str = wait_until(manual_run, 60, f"a manual run of {dag_id}")
    return run_id


def trigger_from_ui(page: Page, stack: AirflowStack, dag_id: str) -> str:
    stack.unpause(dag_id)
    trigger = page.get_by_role("button", name="Trigger").first
    open_showing(page, f"/dags/{dag_id}", trigger)
    trigger.click()
    page.get_by_role("dialog").get_by_role("button", name="Trigger").click()
    return run_id_of_manual_run(stack, dag_id)


def log_view(page: Page) -> str:
    return page.locator("body").inner_text()


def test_example_dag_triggered_from_the_ui_defers_and_logs_for_on_call(
    page: Page, stack: AirflowStack, fresh_simulator: SimulatorState, tmp_path: Path
) -> None:
    fresh_simulator.default_scenario = Scenario(duration=20)
    run_id = trigger_from_ui(page, stack, EXAMPLE_DAG)
    page.goto(f"/dags/{EXAMPLE_DAG}/runs/{run_id}/tasks/wait_for_export")
    expect(page.get_by_text("Deferred", exact=True).first).to_be_visible(timeout=120_000)
    job_id = stack.xcom(EXAMPLE_DAG, run_id, "create_export_job")
    # The worker's check before deferring logs the first status line, the trigger the later ones.
    waiting = page.get_by_text(re.compile(rf"Export job {job_id} is (NEW|PROCESSING) \(\dm \d\ds since"))
    expect(waiting.last).to_be_visible(timeout=60_000)
    save_screenshot(page, tmp_path, "sensor-deferred.png")

    # The task stored its link before it deferred: the button is there while it waits.
    dataset_id = fresh_simulator.jobs[int(job_id)].body["destination"]["datasetId"]
    dataset_page = f"https://experience.adobe.com/#/@{UI_TENANT}/sname:prod/platform/dataset/browse/{dataset_id}"
    details = f"/dags/{EXAMPLE_DAG}/runs/{run_id}/tasks/wait_for_export/details"
    open_showing(page, details, page.get_by_text("Deferred", exact=True).first)
    expect(page.get_by_role("link", name="AEP dataset")).to_have_attribute("href", dataset_page)
    save_screenshot(page, tmp_path, "deferred-task-aep-dataset-link.png")
    page.goto(f"/dags/{EXAMPLE_DAG}/runs/{run_id}/tasks/wait_for_export")

    assert stack.wait_for_run(EXAMPLE_DAG, run_id) == "success", stack.logs()
    page.reload()
    expect(page.get_by_text("Success", exact=True).first).to_be_visible()
    batches = re.escape(str({"*": f"sim-batch-{job_id}"}))
    summary = re.compile(rf"Export job {job_id} SUCCEEDED: 1250 profiles exported, batches {batches}")
    expect(page.get_by_text(summary)).to_be_visible()
    status_line = rf"Export job {job_id} is (\w+) \((\d+)m (\d\d)s since it was created\)"

    def trigger_log_complete() -> list[tuple[str, str, str]]:
        """The triggerer writes its part of the task log on its own schedule; reload until it is in."""
        statuses = re.findall(status_line, log_view(page))
        if statuses and statuses[-1][0] == "SUCCEEDED":
            return statuses
        page.reload()
        expect(page.get_by_text(summary)).to_be_visible()
        return []

    statuses = wait_until(trigger_log_complete, 60, "the trigger's SUCCEEDED line in the log view", interval=2)
    elapsed = [int(minutes) * 60 + int(seconds) for _, minutes, seconds in statuses]
    assert elapsed == sorted(elapsed), statuses
    assert elapsed[-1] >= 20, statuses
    save_screenshot(page, tmp_path, "sensor-succeeded.png")


def test_failed_export_shows_codes_job_and_request_id_in_the_log_view(
    page: Page, stack: AirflowStack, fresh_simulator: SimulatorState
) -> None:
    fresh_simulator.default_scenario = Scenario(outcome="FAILED", duration=FAILS_AFTER_DEFERRAL)
    run_id = trigger_from_ui(page, stack, E2E_DAG)
    assert stack.wait_for_run(E2E_DAG, run_id) == "failed", stack.logs()
    (job_id,) = fresh_simulator.jobs
    request_id = fresh_simulator.jobs[job_id].request_id
    open_showing(
        page, f"/dags/{E2E_DAG}/runs/{run_id}/tasks/wait_for_export", page.get_by_text("Failed", exact=True).first
    )
    failure = (
        f"AEP export job {job_id} failed: [0090000009] Error writing profiles to output path "
        f"'adl://simulator/snapshot'; [unknown] Job aborted. (request id {request_id})"
    )
    expect(page.get_by_text(failure).first).to_be_visible()
