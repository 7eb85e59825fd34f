"""A real browser (issue 30): the Checklists page on the sample study, each checklist downloaded as CSV (the
deferred download callback runs only in a browser) with its full item count and the run's answers."""

from __future__ import annotations

import pytest

from core.workflows.study_checklists import STATUSES
from tests.pages.test_browser_e2e import _go, _no_errors, _settle, _shot, browser_page, server  # noqa: F401
from tests.pages.test_browser_validation_views import _download

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_checklists_page_downloads_each_checklist(server, browser_page, tmp_path):  # noqa: F811
    page = browser_page
    page.goto(server)
    page.get_by_role("heading", name="RadNomo").first.wait_for()
    _settle(page, 1.0)
    _go(page, "Checklists")
    page.get_by_role("heading", name="Checklists").first.wait_for()
    page.get_by_text("METRICS score").first.wait_for()
    _settle(page, 1.0)
    _no_errors(page)
    _shot(page, "18_checklists")
    rows = {"tripod_ai": 52, "clear": 58, "metrics": 30}
    for index, (key, count) in enumerate(rows.items()):
        page.get_by_role("tab").nth(index).click()
        _settle(page)
        table = _download(page, f"cl_dl_{key}", tmp_path, f"{key}.csv")
        assert list(table.columns) == ["item", "section", "status", "where", "evidence"] and len(table) == count
        assert set(table["status"]) <= set(STATUSES)
    page.get_by_role("tab").nth(3).click()
    _settle(page)
    probast = _download(page, "cl_dl_probast_ai", tmp_path, "probast_ai.csv")
    assert len(probast) == 34 and set(probast["concern"]) <= {"low", "high", "unclear"}
    flow = _download(page, "cl_dl_flow_csv", tmp_path, "participant_flow.csv")
    assert flow.set_index("stage").loc["Included", "patients"] == 1001
    _no_errors(page)
