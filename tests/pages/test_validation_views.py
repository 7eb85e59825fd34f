"""AppTest of the methodologists' views on the Evaluation and External validation pages (issue 28): calibration
statistics with CIs and the flexible curve, decision curves with bands and their other measures, and two models
compared (net-benefit difference, NRI/IDI), on the sample study."""

from __future__ import annotations

import pytest

from tests.pages.apptest_helpers import dataframe_with, open_page, page_texts


@pytest.fixture(scope="module")
def evaluation():
    return open_page("pages/evaluation.py", timeout=300)


def _chart_keys(at) -> set[str]:
    return {element.key for element in at.get("plotly_chart") if getattr(element, "key", None)}


def _open_section(at, section: str) -> None:
    """Open one of the Evaluation page's section tabs (its content runs only while open)."""
    at.session_state["ev_section"] = section
    at.run()
    assert not at.exception


def test_calibration_statistics_carry_their_intervals_and_read_as_the_evaluation_computed(evaluation):
    at = evaluation
    assert not at.exception
    assert not _chart_keys(at) & {"ev_cal_train", "ev_cal_test"}  # drawn when their tab is opened, not before
    _open_section(at, "Calibration")
    shown = dataframe_with(at, "calibration-in-the-large", "calibration slope", "ICI", "Emax")
    study = at.session_state["study"]
    from core.workflows.results import StudyResults

    table = StudyResults(study).evaluation.calibration
    assert len(shown) == len(table) == 10  # 5 models, 2 cohorts
    test_fused = table[(table["cohort"] == "test") & (table["model"] == "fused")].iloc[0]
    row = shown[(shown["cohort"] == "Test") & (shown["model"] == study.model_labels()["fused"])].iloc[0]
    # each estimate with its CI, as text; the numbers those of the evaluation
    slope = row["calibration slope"]
    assert slope.startswith(f"{test_fused.slope:.3f} (")
    assert f"{test_fused.slope_low:.3f}" in slope and f"{test_fused.slope_high:.3f}" in slope
    assert row["ICI"] == pytest.approx(round(test_fused.ici, 3))
    # On the training cohort a logistic model's recalibration is 1 and 0 by construction: labelled, not an estimate.
    train = shown[shown["cohort"] == "Training"]
    assert (train["calibration slope"] == "1 (by construction)").all()
    assert (train["calibration intercept (logistic recalibration)"] == "0 (by construction)").all()
    assert "Hosmer-Lemeshow test depends on its arbitrary grouping" in page_texts(at)
    assert {"ev_cal_train", "ev_cal_test"} <= _chart_keys(at)
    _open_section(at, "Decision curves")
    assert {"ev_dca_train", "ev_dca_test"} <= _chart_keys(at)


def test_decision_views_switch_measure_and_bands(evaluation):
    at = evaluation
    _open_section(at, "Decision curves")
    at.radio(key="ev_dca_view").set_value("interventions_avoided").run()
    assert not at.exception
    figure = next(c for c in at.get("plotly_chart") if c.key == "ev_dca_test")
    assert "interventions avoided" in figure.proto.spec
    bands_on = figure.proto.spec.count("tonexty")
    at.toggle(key="ev_dca_bands").set_value(False).run()
    figure = next(c for c in at.get("plotly_chart") if c.key == "ev_dca_test")
    assert bands_on > 0 and figure.proto.spec.count("tonexty") == 0
    at.radio(key="ev_dca_view").set_value("clinical_impact").run()
    figure = next(c for c in at.get("plotly_chart") if c.key == "ev_dca_test")
    assert "patients per 1,000" in figure.proto.spec


def test_two_models_compared_by_reclassification_and_net_benefit_difference(evaluation):
    at = evaluation
    _open_section(at, "Comparing two models")
    table = dataframe_with(at, "NRI (continuous)", "IDI", "categorical NRI")
    assert list(table["cohort"]) == ["Training", "Test"]
    assert {"ev_compare_nbd_train", "ev_compare_nbd_test"} <= _chart_keys(at)
    # A typed category that is no probability is refused with a message, not a traceback.
    at.text_input(key="ev_compare_cuts").set_value("0.1, high").run()
    assert not at.exception and any("'high' is not a probability" in e.value for e in at.error)
    # Categories dropped: the continuous NRI stays, the categorical one is empty.
    at.text_input(key="ev_compare_cuts").set_value("").run()
    table = dataframe_with(at, "NRI (continuous)", "categorical NRI")
    assert (table["categorical NRI"] == "").all() and (table["NRI (continuous)"] != "").all()


@pytest.mark.slow
def test_external_page_shows_calibration_intervals_bands_and_comparison():
    at = open_page("pages/external.py", timeout=300)
    assert not at.exception
    shown = dataframe_with(at, "calibration-in-the-large", "calibration slope", "ICI")
    assert len(shown) >= 2 and shown["calibration slope"].str.contains(r"\(").all()
    assert {"ext_calibration", "ext_dca", "ext_dca_views_every"} <= _chart_keys(at)
    assert dataframe_with(at, "NRI (continuous)", "IDI") is not None
