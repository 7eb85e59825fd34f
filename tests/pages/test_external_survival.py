"""AppTest of the External validation page for a time-to-event study: an external cohort with its follow-up is
scored by the frozen models and shown beside the training and test cohorts (Harrell's / Uno's C, AUC(t) at each
horizon, risk groups at the training cut-offs, calibration at the horizons), with its AUC(t), calibration and
Kaplan-Meier figures; every number is core.workflows.external.evaluate_survival_panel's.

The study is the 300-patient survival study of tests/core/test_survival_external.py, fitted once here (a few
seconds); the page reads it through ui.results (replaced: nothing is fitted in the page).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from streamlit.testing.v1 import AppTest

import ui
from core.vocabulary import CONCORDANCE_WEIGHTINGS, RISK_GROUPS
from core.workflows.external import evaluate_survival_panel, read_sample_external, validate_external
from core.workflows.fit import fit_study, predict_study
from tests.core.test_survival_external import NAME, survival_study_300
from tests.pages.apptest_helpers import APP, dataframe_with, page_texts

HARRELL = CONCORDANCE_WEIGHTINGS["n"]


@pytest.fixture(scope="module")
def fitted(sample_study):
    study = survival_study_300(sample_study)
    models = fit_study(study)
    predictions = predict_study(study, models)
    clinical, tables = read_sample_external(study.spec.outcome)
    external = validate_external(study, NAME, clinical, {"radiomics": tables["radiomics"]}, models)
    return study, models, predictions, external


def _open(study, models, predictions, externals) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["study"] = study
    at.session_state["ext_cohorts"] = (study.data_fingerprint, externals)  # as the page keeps what was added
    at.run()
    at.switch_page("pages/external.py").run()
    assert not at.exception, at.exception
    return at


def _chart_keys(at: AppTest) -> set[str]:
    return {element.proto.id.rsplit("-", 1)[-1] for element in at.get("plotly_chart")}


def test_the_external_cohort_beside_the_studys_own(fitted, monkeypatch):
    study, models, predictions, external = fitted
    monkeypatch.setattr(ui, "results", lambda _study: SimpleNamespace(models=models, predictions=predictions))
    at = _open(study, models, predictions, {NAME: external})
    assert not at.error, [e.value for e in at.error]
    expected = evaluate_survival_panel(study, models, predictions, [external])
    shown = dataframe_with(at, "cohort", "model", HARRELL, "AUC(t=12 months)", "AUC(t=60 months)")
    assert list(shown["cohort"].unique()) == ["Training", "Test", NAME]
    labels = study.model_labels()
    row = expected.concordance.iloc[-1]
    last = shown.iloc[-1]
    assert (last["cohort"], last["model"]) == (NAME, labels[row.model])
    assert last[HARRELL] == f"{row.c_index:.3f} ({row.c_low:.3f}-{row.c_high:.3f})"
    auc = expected.td_auc[(expected.td_auc["cohort"] == NAME) & (expected.td_auc["model"] == row.model)
                          & (expected.td_auc["horizon"] == 36.0)].iloc[0]
    assert last["AUC(t=36 months)"] == f"{auc.auc:.3f} ({auc.auc_low:.3f}-{auc.auc_high:.3f})"
    risk = dataframe_with(at, "risk group", "HR high vs low (95% CI)", "log-rank p")
    assert set(risk["risk group"]) == set(RISK_GROUPS.values()) and NAME in set(risk["cohort"])
    assert len(dataframe_with(at, "calibration slope (Cox model on log(-log predicted survival))")) == \
        len(expected.calibration_slope)
    # the figures of the chosen model (the last) on the first cohorts: AUC(t) and calibration across cohorts,
    # and one Kaplan-Meier figure per cohort
    keys = _chart_keys(at)
    assert {"ext_s_td_auc", "ext_s_calibration_figure", "ext_s_km_0", "ext_s_km_1", "ext_s_km_2"} <= keys
    for element in at.get("plotly_chart"):
        if element.proto.id.endswith("-ext_s_td_auc"):
            names = {trace.get("name") for trace in json.loads(element.proto.spec)["data"]}
            assert {"Training", "Test", NAME} <= names
    assert "AUC" in page_texts(at) and "ROC" not in {h.value for h in at.subheader}
    # another horizon and fewer cohorts redraw without error
    at.radio(key="ext_s_horizon").set_value(60.0).run()
    at.multiselect(key="ext_figure_groups").set_value([NAME]).run()
    assert not at.exception and not at.error
    assert "ext_s_km_0" in _chart_keys(at) and "ext_s_km_1" not in _chart_keys(at)


def test_without_external_cohorts_the_page_shows_the_studys_cohorts(fitted, monkeypatch):
    study, models, predictions, _ = fitted
    monkeypatch.setattr(ui, "results", lambda _study: SimpleNamespace(models=models, predictions=predictions))
    at = _open(study, models, predictions, {})
    assert not at.error, [e.value for e in at.error]
    shown = dataframe_with(at, "cohort", "model", HARRELL)
    assert list(shown["cohort"].unique()) == ["Training", "Test"]
    assert any("ComBat" in c.value for c in at.caption)
