"""A real browser against a running dashboard: open the sample study (teaching mode on) -> change a
selection threshold -> Evaluation -> change a nomogram input -> download the report. Screenshots of each
step are kept in ``artifacts/e2e/`` (or ``$RADNOMO_E2E_ARTIFACTS``) for whoever reads the CI run.

The browser is Debian's ``chromium`` driven by Python playwright (never ``playwright install``: it
downloads a browser, which this machine cannot). Skipped with a reason where either is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("RADNOMO_E2E_ARTIFACTS", REPO / "artifacts" / "e2e"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """The dashboard on a free local port (its own workspace), stopped after the module."""
    port = _free_port()
    workspace = tmp_path_factory.mktemp("e2e-workspace")
    env = {**os.environ, "RADNOMO_WORKSPACE": str(workspace)}
    log = (workspace / "server.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                "--server.headless", "true"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"the dashboard did not start: {(workspace / 'server.log').read_text()[-2000:]}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def browser_page():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright Python package")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        context = browser.new_context(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(180_000)
        yield page
        context.close()
        browser.close()


def _settle(page, seconds: float = 0.5) -> None:
    """Wait until Streamlit has finished running the script (no 'Running...' status, no spinner)."""
    time.sleep(seconds)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=300_000)
    time.sleep(0.3)


def _shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    assert path.stat().st_size > 20_000  # a page with content, not a blank frame
    return path


def _no_errors(page) -> None:
    errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.all_inner_texts()


def _changed_text(locator, before: str, timeout: float = 120) -> str:
    """The locator's text once it differs from ``before`` (Streamlit re-renders asynchronously)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = locator.inner_text()
        if text != before:
            return text
        time.sleep(0.25)
    return locator.inner_text()


def _go(page, title: str) -> None:
    page.get_by_role("link", name=title, exact=True).first.click()
    _settle(page, 1.0)


def test_sample_study_to_report_in_a_real_browser(server, browser_page, tmp_path):
    page = browser_page
    page.goto(server)
    page.get_by_role("heading", name="RadNomo").first.wait_for()
    _settle(page, 1.0)
    page.get_by_text("1001 patients").first.wait_for()
    _no_errors(page)
    page.get_by_text("Teaching mode").click()  # the real sidebar toggle: every page now explains itself
    page.get_by_text("What RadNomo does").first.wait_for()
    _settle(page)
    _shot(page, "1_home_sample_study_teaching_mode")

    _go(page, "Selection")
    page.get_by_role("heading", name="Selection").first.wait_for()
    funnel = page.locator('[data-testid="stDataFrame"]').first
    funnel.wait_for()
    p_input = page.get_by_label("Keep p <")
    p_input.fill("0.0100")
    p_input.press("Enter")
    _settle(page, 1.0)
    assert page.get_by_label("Keep p <").input_value() == "0.0100"
    _no_errors(page)
    _shot(page, "2_selection_threshold_changed")

    page.get_by_text("Screening and the LASSO").first.wait_for()  # teaching mode follows to other pages
    _go(page, "Evaluation")
    page.get_by_role("heading", name="Evaluation").first.wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    page.get_by_text("Table 2").first.wait_for()
    _no_errors(page)
    _shot(page, "3_evaluation")

    _go(page, "Nomogram")
    page.get_by_role("heading", name="Nomogram").first.wait_for()
    risk = page.locator('[data-testid="stMetricValue"]').nth(1)
    risk.wait_for()
    before = risk.inner_text()
    cea = page.get_by_label("CEA (ng/mL)")
    cea.fill("25")
    cea.press("Enter")
    after = _changed_text(page.locator('[data-testid="stMetricValue"]').nth(1), before)
    _settle(page)
    assert re.fullmatch(r"\d+\.\d%", after) and after != before, (before, after)
    _no_errors(page)
    _shot(page, "4_nomogram_input_changed")

    _go(page, "Home")
    button = page.get_by_role("button", name="Report (HTML)")
    button.wait_for()
    with page.expect_download(timeout=300_000) as download_info:
        button.click()
    report = tmp_path / "report.html"
    download_info.value.save_as(report)
    html = report.read_text()
    assert "Table 2" in html and "<img" in html and "Methods" in html
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(report, ARTIFACTS / "radnomo_report.html")
    _settle(page)
    _shot(page, "5_report_downloaded")
