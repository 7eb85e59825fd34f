"""AppTest runs of the Subgroups and Teaching pages with a time-to-event study open (issue 27).

Subgroups: the survival sample opens on liver metastasis (Lm 1 vs 0) among all patients, draws the two groups'
Kaplan-Meier curves with the log-rank test and their survival table, and every model's Harrell's C and AUC(t)
within each group, the numbers of core.workflows.subgroups.compare_survival_subgroup; another column and the test
patients redraw it. Teaching mode shows the survival explanations. The fast tests stand synthetic linear predictors
of the survival sample's patients in for the study's models (the results stage is replaced, nothing is fitted).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import ui
from core.vocabulary import format_p, horizon_column
from core.workflows.sample import load_sample_truth, sample_survival_study
from core.workflows.subgroups import SAMPLE_SURVIVAL_SUBGROUP, compare_survival_subgroup
from core.workflows.teaching import EXPLANATIONS, explanation_for
from tests.pages.apptest_helpers import dataframe_with, open_study_page, page_texts

MODELS = ["clinical", "fused"]


@pytest.fixture(scope="module")
def synthetic():
    """The survival sample study and two synthetic models' linear predictors of its patients: "fused" (a noisy
    minus log time: it knows who dies early) and "clinical" (noise)."""
    study = sample_survival_study()
    time = study.spec.outcome.times(study.cohort).to_numpy()
    rng = np.random.default_rng(27)
    predictions = pd.DataFrame({"clinical": rng.normal(0, 0.5, len(time)),
                                "fused": -np.log(time) + rng.normal(0, 0.5, len(time))}, index=study.cohort.index)
    return study, predictions


@pytest.fixture
def stages(synthetic, monkeypatch):
    """The page's results stages (models and predictions) replaced by the synthetic ones."""
    _, predictions = synthetic
    stand_in = SimpleNamespace(models=SimpleNamespace(scores={}, model_names=MODELS), predictions=predictions,
                               sample_truth=load_sample_truth())
    monkeypatch.setattr(ui, "results", lambda _study: stand_in)
    return stand_in


def _chart(at: AppTest, key: str) -> dict:
    """The plotly figure (as JSON) of the chart whose widget key is ``key``."""
    for element in at.get("plotly_chart"):
        if element.proto.id.endswith(f"-{key}"):
            return json.loads(element.proto.spec)
    raise AssertionError(f"no plotly chart '{key}' on the page")


def test_the_survival_sample_compares_liver_metastasis_by_kaplan_meier_and_discrimination(synthetic, stages):
    study, predictions = synthetic
    at = open_study_page(study, "pages/subgroups.py", timeout=120)
    assert not at.error, [e.value for e in at.error]
    # The survival sample's default: lm 1 vs 0 among all patients ("among the patients with the event" is not offered)
    assert at.selectbox(key="sub_column").value == "lm"
    assert at.radio(key="sub_population").options == ["All patients"]
    assert (at.selectbox(key="sub_positive").value, at.selectbox(key="sub_negative").value) == ("1", "0")
    assert at.selectbox(key="sub_positive").label == "Group"
    expected = compare_survival_subgroup(study, predictions, MODELS, SAMPLE_SURVIVAL_SUBGROUP)
    texts = page_texts(at)
    assert "liver metastasis (Lm = 1)" in texts
    assert f"**{expected.counts['1']} patients with Lm = 1** ({expected.events['1']} events)" in texts
    test = expected.log_rank
    assert f"Log-rank test: chi-square {test.chisq:.2f} (1 df), p {format_p(test.p)}." in texts
    # Kaplan-Meier curves of both groups with the number at risk and the log-rank p
    km = _chart(at, "sub_s_km")
    groups = {(t.get("meta") or {}).get("group") for t in km["data"]}
    assert {"Lm = 1", "Lm = 0"} <= groups and "log-rank p" in json.dumps(km["layout"])
    survival = dataframe_with(at, "group", "patients", "events", "median (months)", "free of death at 36 months")
    assert survival["patients"].tolist() == [expected.counts["1"], expected.counts["0"]]
    at36 = expected.survival.set_index("group")[horizon_column(36)]
    assert survival["free of death at 36 months"].tolist() == [f"{at36['1']:.1%}", f"{at36['0']:.1%}"]
    # Harrell's C and AUC(t) of every model within each group, as the workflow computes them
    shown = dataframe_with(at, "group", "model", "patients", "events", "C-index", "AUC(t=12 months)",
                           "AUC(t=60 months)")
    assert len(shown) == 4
    row = expected.concordance.iloc[0]
    assert shown["C-index"].iloc[0] == f"{row.c_index:.3f} ({row.c_low:.3f}-{row.c_high:.3f})"
    assert shown["model"].iloc[0] == study.model_label(row.model) and shown["group"].iloc[0] == "Lm = 1"
    fused = expected.concordance.set_index(["group", "model"])["c_index"]
    assert fused[("1", "fused")] > fused[("1", "clinical")]  # the model that knows the times ranks better


def test_another_column_and_the_test_patients_redraw_the_comparison(synthetic, stages):
    study, predictions = synthetic
    at = open_study_page(study, "pages/subgroups.py", timeout=120)
    at.selectbox(key="sub_column").set_value("sex").run()
    at.radio(key="sub_patients").set_value("test").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    positive, negative = at.selectbox(key="sub_positive").value, at.selectbox(key="sub_negative").value
    settings = SAMPLE_SURVIVAL_SUBGROUP.__class__(column="sex", population="all", positive=positive,
                                                  negative=negative)
    expected = compare_survival_subgroup(study, predictions, MODELS, settings, ids=study.test_ids)
    survival = dataframe_with(at, "group", "patients", "median (months)")
    assert survival["patients"].sum() == len(study.test_ids)
    assert survival["group"].tolist() == [f"Sex = {positive}", f"Sex = {negative}"]
    shown = dataframe_with(at, "group", "model", "C-index")
    row = expected.concordance.iloc[-1]
    assert shown["C-index"].iloc[-1] == f"{row.c_index:.3f} ({row.c_low:.3f}-{row.c_high:.3f})"
    assert "On the test patients of each group" in page_texts(at)


def test_teaching_mode_explains_the_survival_pages_in_survival_words(synthetic, stages):
    study, _ = synthetic
    at = AppTest.from_file(ui.__file__.replace("ui.py", "app.py"), default_timeout=120)
    at.session_state["study"] = study
    at.session_state["teaching"] = True
    at.run()
    for page in ("subgroups", "teaching"):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        explanation = explanation_for(page, "survival")
        assert explanation != EXPLANATIONS[page]
        shown = [i.value for i in at.info]
        assert any(explanation.title in text and explanation.text in text for text in shown), shown
        assert not any(EXPLANATIONS[page].text in text for text in shown)
    # The Teaching page says its truth is about liver metastasis and names the C-index for the leakage demonstration
    texts = page_texts(at)
    assert "predicts another outcome than the one the hidden phenotype was drawn for" in texts
    assert "its C-index is inflated" in texts


@pytest.mark.slow
def test_the_fitted_survival_sample_study_on_the_subgroups_page():
    """The whole path: the survival sample fitted (Cox models of its scores and clinical variables), its predictions'
    linear predictors compared within the patients with and without liver metastasis."""
    at = open_study_page(sample_survival_study(), "pages/subgroups.py", timeout=900)
    assert not at.error, [e.value for e in at.error]
    study = at.session_state["study"]
    shown = dataframe_with(at, "group", "model", "C-index", "AUC(t=36 months)")
    assert len(shown) == 2 * len(ui.results(study).models.model_names)
    values = shown["C-index"].str.split(" ").str[0].astype(float)
    assert ((values > 0.4) & (values < 1)).all()
    assert "Log-rank test: chi-square" in page_texts(at)
