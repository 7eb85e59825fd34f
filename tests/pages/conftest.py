"""Fixtures shared by the page tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.io.paths import WORKSPACE_ENV
from core.stats.cohort import SplitConfig
from tests.studies import small_sample_study


@pytest.fixture()
def workspace(tmp_path, monkeypatch) -> Path:
    """A scratch RADNOMO_WORKSPACE (feature store, trained weights) for one test."""
    folder = tmp_path / "workspace"
    monkeypatch.setenv(WORKSPACE_ENV, str(folder))
    return folder


@pytest.fixture(scope="session")
def small_study(sample_study):
    """The sample study cut to its first 300 patients, 150 radiomics and 60 deep features, split 7:3 with the
    default seed, with the clinical model of tumour thickness and CEA (tests/studies.py), named "Small sample".

    For page tests where the 1,001-patient sample itself is not what is tested: a page renders on it in about
    half the time. It is fitted by the first page that needs it (a few seconds) and then served from the app's
    stage store, which lives as long as the test process."""
    return small_sample_study(sample_study, SplitConfig(), name="Small sample")


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
