"""A real browser (issue 28): the Evaluation and External validation pages of the sample study show the flexible
calibration curve with its band, the calibration statistics with CIs, decision curves with bootstrap bands and
their other measures, and two models compared; each view's CSV downloads, and each CSV holds the numbers the
engine computed (the deferred download callback only runs in a browser).
"""

from __future__ import annotations

import io

import pandas as pd
import pytest

from tests.pages.test_browser_e2e import _go, _no_errors, _settle, _shot, browser_page, server  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _download(page, key: str, tmp_path, name: str) -> pd.DataFrame:
    """Click the download button in the element keyed ``key`` and read the CSV the browser saved."""
    button = page.locator(f".st-key-{key} button").first
    button.scroll_into_view_if_needed()
    with page.expect_download(timeout=300_000) as download_info:
        button.click()
    path = tmp_path / name
    download_info.value.save_as(path)
    _settle(page)
    return pd.read_csv(io.StringIO(path.read_text()))


def _band_fills(page, key: str) -> int:
    """The number of filled areas (bands) drawn in the plotly chart keyed ``key``."""
    chart = page.locator(f".st-key-{key} .js-plotly-plot").first
    chart.wait_for()
    chart.scroll_into_view_if_needed()
    return chart.evaluate("c => (c.data || []).filter(t => t.fill === 'tonexty').length")


def _section(page, name: str) -> None:
    """Open the Evaluation page's section tab ``name`` and wait for its content to be drawn."""
    page.get_by_role("tab", name=name).first.click()
    _settle(page, 1.0)
    _no_errors(page)


def test_calibration_decision_and_comparison_views_download_their_csvs(server, browser_page, tmp_path):  # noqa: F811
    page = browser_page
    page.goto(server)
    page.get_by_role("heading", name="RadNomo").first.wait_for()
    _settle(page, 1.0)
    _go(page, "Evaluation")
    page.get_by_role("heading", name="Evaluation").first.wait_for()
    page.get_by_role("tab", name="Comparing two models").first.wait_for()
    _settle(page, 1.0)
    _no_errors(page)

    from core.workflows.results import StudyResults
    from core.workflows.sample import sample_study

    evaluation = StudyResults(sample_study()).evaluation
    _section(page, "Calibration")  # each section is drawn when its tab is opened
    assert _band_fills(page, "ev_cal_test") >= 1  # the loess curve's band
    calibration = _download(page, "ev_dl_cal", tmp_path, "calibration.csv")
    assert {"citl_low", "slope_high", "ici", "e90", "emax", "spiegelhalter_z", "hl_p"} <= set(calibration.columns)
    pd.testing.assert_series_equal(calibration["slope"], evaluation.calibration["slope"].reset_index(drop=True),
                                   check_names=False, rtol=1e-9)
    _section(page, "Decision curves")
    assert _band_fills(page, "ev_dca_test") >= 1  # the decision curves' bootstrap bands
    _shot(page, "10_evaluation_calibration_and_decision_bands")
    decision = _download(page, "ev_dl_dca", tmp_path, "decision_curve.csv")
    assert {"net_benefit_low", "interventions_avoided", "standardized_net_benefit",
            "high_risk_events_per_1000"} <= set(decision.columns)
    assert len(decision) == len(evaluation.decision)
    page.get_by_text("Net interventions avoided", exact=True).first.click()
    _settle(page, 1.0)
    _no_errors(page)
    _shot(page, "11_evaluation_interventions_avoided")
    _section(page, "Comparing two models")
    reclassification = _download(page, "ev_compare_dl_nri", tmp_path, "reclassification.csv")
    assert list(reclassification["cohort"]) == ["train", "test"]
    assert (reclassification["nri_low"] < reclassification["nri_high"]).all()
    difference = _download(page, "ev_compare_dl_nbd", tmp_path, "net_benefit_difference.csv")
    assert {"threshold", "difference", "low", "high"} <= set(difference.columns)

    _go(page, "External validation")
    page.get_by_role("heading", name="External validation").first.wait_for()
    page.get_by_text("Comparing two models in every cohort").first.wait_for()
    _settle(page, 1.0)
    _no_errors(page)
    assert _band_fills(page, "ext_calibration") >= 1 and _band_fills(page, "ext_dca") >= 1
    external = _download(page, "ext_dl_cal", tmp_path, "external_calibration.csv")
    assert {"citl", "intercept_low", "slope", "ici"} <= set(external.columns) and len(external) >= 2
    curves = _download(page, "ext_dl_dca", tmp_path, "external_decision_curve.csv")
    assert curves["net_benefit_low"].le(curves["net_benefit_high"] + 1e-12).all()
    _shot(page, "12_external_validation_views")
