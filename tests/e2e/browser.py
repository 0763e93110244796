"""Driving the Airflow UI with Debian's Chromium through Playwright (no browser download)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Playwright's 5 s default for an assertion is too short for the React UI on a 2-core machine that
# also runs the other test workers: a page's first API answer alone can take longer there.
ASSERTION_TIMEOUT_MS = 30_000
_MISSING = f"Debian's chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"

# For a whole UI module: its tests share one browser session and build on each other's clicks, so
# without a browser they skip together rather than one by one. In CI they never skip (see chromium()).
requires_chromium = pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CI"), reason=_MISSING)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Skips locally without Chromium; in CI a missing browser is a failure, never a silent skip."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{_MISSING}; .ci/run installs it, so CI must run the browser tests")
        pytest.skip(_MISSING)
    expect.set_options(timeout=ASSERTION_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_showing(page: Page, path: str, shown: Locator, loads: int = 3) -> None:
    """Opens ``path`` and loads it again until ``shown`` is visible, as a person would press reload.
    The UI retries a failed request three times, then leaves the page without what it carried
    until the page is loaded again; on the loaded 2-core CI machine a DAG page once went without its
    Trigger button for 30 s. A page that never shows it still fails, after ``loads`` tries."""
    page.goto(path)
    for _ in range(loads - 1):
        try:
            expect(shown).to_be_visible()
            return
        except AssertionError:
            page.reload()
    expect(shown).to_be_visible()


def save_screenshot(page: Page, folder: Path, name: str) -> Path:
    """Into the test's folder, and into ``$AEP_SCREENSHOTS`` when a person wants to look."""
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    if wanted := os.environ.get("AEP_SCREENSHOTS"):
        Path(wanted).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(wanted) / name)
    return path


def airflow_rejects_portless_connection_tests() -> bool:
    """Airflow 3.3.2's UI posts ``port: 0`` for a connection without a port, and its API then
    refuses to test the stored credentials ("host or port to test differs"); fixed upstream in
    apache/airflow#73298 by treating 0 like a blank port."""
    from airflow.api_fastapi.core_api.routes.public.connections import _same_endpoint

    return not _same_endpoint(0, None)


def send_blank_port_as_null(page: Page) -> None:
    """The fix of apache/airflow#73298, applied to the UI's request instead of the server."""

    def rewrite(route: Route) -> None:
        body = route.request.post_data_json
        if body.get("port") == 0:
            body["port"] = None
        route.continue_(post_data=json.dumps(body))

    page.route("**/api/v2/connections/test", rewrite)
