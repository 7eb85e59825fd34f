"""Fixtures shared by the page tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.io.paths import WORKSPACE_ENV


@pytest.fixture()
def workspace(tmp_path, monkeypatch) -> Path:
    """A scratch RADNOMO_WORKSPACE (feature store, trained weights) for one test."""
    folder = tmp_path / "workspace"
    monkeypatch.setenv(WORKSPACE_ENV, str(folder))
    return folder


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def chromium():
    """Debian's chromium driven by playwright (never `playwright install`), for one test module; skipped with a
    reason where chromium or playwright is missing."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright Python package")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()
