"""AppTest of the Selection and Models pages on a time-to-event study: the outcome type's tests, score methods,
Cox tables, proportional-hazards checks and Harrell's C glance table (the binary pages: test_selection_and_models.py).

The study is the survival sample cut to 300 patients (tests/studies.py), so each page fits in seconds; the tests
fit models and are marked slow (tests/conftest.py)."""

from __future__ import annotations

import base64
import dataclasses
import numpy as np
import plotly.io
import pytest

from core.stats.cohort import SplitConfig
from core.stats.outcome_statistics import statistics_for
from core.workflows.sample import sample_survival_study
from core.workflows.study import ModelSettings
from tests.pages.apptest_helpers import dataframe_with, open_study_page, page_texts
from tests.studies import small_sample_study

pytestmark = pytest.mark.slow

CLINICAL = ("age", "cea_ng_ml")


@pytest.fixture(scope="module")
def survival_study():
    """The survival sample's first 300 patients (150 radiomics, 60 deep features), split 7:3 stratified by death,
    with the time-to-event defaults (Cox refit, univariable Cox Wald) but lambda.min, and a clinical model of age,
    CEA and cT stage."""
    full = sample_survival_study()
    base = ModelSettings.for_outcome(full.spec.outcome)
    # lambda.min: on 210 training patients the LASSO-Cox's lambda.1se keeps no radiomics feature
    settings = dataclasses.replace(base, screening=dataclasses.replace(base.screening, rule="min"),
                                   clinical_continuous=CLINICAL, clinical_categorical=("ct_stage",))
    return small_sample_study(full, SplitConfig(), settings=settings, name="Small survival sample")


def _figure(at, index: int):
    """The plotly figure of the page's ``index``-th chart."""
    return plotly.io.from_json(at.get("plotly_chart")[index].proto.spec)


def _values(data) -> np.ndarray:
    """A trace's values: plotly's JSON writes a numpy array as {"dtype", "bdata": base64}."""
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"])
    return np.asarray(data, dtype=float)


def test_selection_page_offers_the_cox_tests_and_draws_the_lasso_cox(survival_study):
    at = open_study_page(survival_study, "pages/selection.py")
    assert not at.error, [e.value for e in at.error]
    test_box = at.selectbox(key="sel_test")
    assert test_box.options == ["Univariable Cox (Wald)", "Univariable Cox (likelihood ratio)"]
    assert at.number_input(key="sel_auc").label == "Univariable Harrell's C >"
    assert "feature(s) selected" in at.success[0].value

    # the CV curve is the Cox partial-likelihood deviance (figures 0, 1, 2: funnel, CV curve, coefficient path)
    assert len(at.get("plotly_chart")) >= 3
    cv = _figure(at, 1)
    assert cv.layout.yaxis.title.text == "partial-likelihood deviance"
    assert cv.layout.title.text == "LASSO: 10-fold cross-validated deviance"
    path = _figure(at, 2)  # the standardised LASSO-Cox path: a line per feature ever selected, every value drawn
    drawn = [_values(trace.y) for trace in path.data]
    assert len(drawn) >= 3 and all(len(y) == len(drawn[0]) > 10 and np.isfinite(y).all() for y in drawn)

    # the univariable table holds each feature's hazard ratio and Harrell's C (in `auc`), the selected table the HR
    univariable = dataframe_with(at, "HR", "HR_lower", "HR_upper", "auc", "p")
    assert univariable["auc"].between(0, 1).all() and (univariable["HR_lower"] <= univariable["HR"]).all()
    selected = dataframe_with(at, "mean censored", "mean event", "univariable HR")
    result = at.session_state["study"]
    assert result.settings.screening.test == "cox_wald"
    assert len(selected) > 0

    # selection stability repeats the LASSO-Cox (not a logistic LASSO of the event indicator)
    at.number_input(key="sel_stab_repeats").set_value(5).run()
    at.button(key="sel_stab_run").click().run()
    assert not at.exception and not at.error
    columns, (frequency, runs) = at.session_state["sel_stability_radiomics"]
    assert len(runs) == 5 and set(frequency.index) == set(columns)
    assert frequency["selected"].between(0, 1).all()

    test_box.set_value("cox_lr").run()
    assert not at.exception and not at.error
    assert at.session_state["study"].settings.screening.test == "cox_lr"
    assert "feature(s) selected" in at.success[0].value or "kept no feature" in page_texts(at)


def test_models_page_shows_cox_tables_ph_checks_and_harrells_c(survival_study):
    at = open_study_page(survival_study, "pages/models.py")
    assert not at.error, [e.value for e in at.error]
    statistics = statistics_for("survival")
    method = at.radio(key="mod_score_method")
    assert method.options == ["Cox regression refitted on the selected features",
                              "The LASSO-Cox's own (shrunken) coefficients"]
    texts = page_texts(at)
    assert "**Univariable Cox regression** (training cohort)" in texts
    assert "linear predictor (log relative hazard) of a Cox proportional-hazards model" in texts
    assert "log-odds" not in texts

    univariable = dataframe_with(at, "variable", "HR", "lower", "upper", "variable_p")
    assert (univariable["HR"] > 0).all()
    clinical = dataframe_with(at, "coef", "HR", "HR_lower", "HR_upper", "p", index="cea_ng_ml")
    assert "ct_stage: T2" in clinical.index and clinical["p"].map(type).eq(str).all()
    fused = dataframe_with(at, "HR", "HR_lower", "HR_upper", "p", "p_note", index="cea_ng_ml")
    assert "VIF" not in fused.columns

    # one proportional-hazards table per Cox model fitted with a variance (clinical, the refitted scores, fused)
    models = at.session_state["study"]
    ph_tables = [frame.value for frame in at.dataframe if {"term", "chisq", "df", "p"} <= set(frame.value.columns)]
    assert len(ph_tables) >= 3 and all("GLOBAL" in t["term"].tolist() for t in ph_tables)

    # Harrell's C at a glance: one row per cohort, one column per model, each a concordance
    glance = at.dataframe[-1].value
    assert list(glance.index) == ["train", "test"]
    assert {"clinical", "radiomics", "fused"} <= set(glance.columns)
    assert glance.stack().between(0.5, 1).all()  # every model orders risk better than chance on the sample
    assert statistics.discrimination_note in texts

    method.set_value("cox_lasso").run()
    assert not at.exception and not at.error
    assert at.session_state["study"].settings.score_method == "cox_lasso"
    assert models.settings.score_method == "cox_refit"
