"""AppTest runs of the Evaluation page for a time-to-event study: every section renders from the study's
SurvivalEvaluation (concordance, Table 2, time-dependent ROC and AUC(t), Kaplan-Meier risk groups, Brier / IBS,
calibration, decision curves, C-index pairs) and its notes are shown; the horizon and model selectors redraw.

The fast test renders an evaluation of synthetic predictions of the survival sample's patients (the study's
results stage is replaced, nothing is fitted); the slow one fits the survival sample study and renders its own.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import ui
from core.vocabulary import CONCORDANCE_WEIGHTINGS, RISK_GROUPS, horizon_column
from core.workflows.sample import sample_survival_study
from core.workflows.survival_evaluation import evaluate_survival_cohorts, risk_cutoffs
from tests.pages.apptest_helpers import dataframe_with, open_study_page, page_texts

HARRELL, UNO = CONCORDANCE_WEIGHTINGS["n"], CONCORDANCE_WEIGHTINGS["n/G2"]


def _chart(at: AppTest, key: str) -> dict:
    """The plotly figure (as JSON) of the chart whose widget key is ``key``."""
    for element in at.get("plotly_chart"):
        if element.proto.id.endswith(f"-{key}"):
            return json.loads(element.proto.spec)
    raise AssertionError(f"no plotly chart '{key}' on the page")


def _chart_keys(at: AppTest) -> set[str]:
    return {element.proto.id.rsplit("-", 1)[-1] for element in at.get("plotly_chart")}


def _synthetic_evaluation(study):
    """The evaluation of two synthetic models of the study's patients: "fused" (a noisy minus log time: it
    knows who dies early) and "clinical" (noise), with few decision thresholds (fast)."""
    outcome = study.spec.outcome
    values = outcome.values(study.cohort)
    values.index = study.cohort.index.astype(str)
    rng = np.random.default_rng(27)
    frames = []
    for model, lp in (("fused", -np.log(values["time"].to_numpy()) + rng.normal(0, 0.5, len(values))),
                      ("clinical", rng.normal(0, 0.5, len(values)))):
        lp = lp - lp.mean()
        columns = {"id": values.index, "model": model, "linear_predictor": lp}
        for horizon in (*outcome.horizons, 24, 48):  # two more grid times for the integrated Brier score
            columns[horizon_column(horizon)] = np.exp(-0.02 * horizon * np.exp(lp))
        frames.append(pd.DataFrame(columns))
    predictions = pd.concat(frames, ignore_index=True)
    cohorts = {name: tuple(str(i) for i in ids) for name, ids in study.cohorts().items()}
    return evaluate_survival_cohorts(predictions, values, cohorts, ["clinical", "fused"], outcome.horizons,
                                     risk_cutoffs(predictions, cohorts["train"]), time_unit=outcome.time_unit,
                                     decision_thresholds=np.round(np.arange(0.05, 0.96, 0.05), 2))


@pytest.fixture(scope="module")
def synthetic():
    study = sample_survival_study()
    return study, _synthetic_evaluation(study)


def test_the_page_draws_every_section_of_a_survival_evaluation(synthetic, monkeypatch):
    study, evaluation = synthetic
    # The page reads the study's stages through ui.results only: these stand in for them (no fit).
    stages = SimpleNamespace(evaluation=evaluation, models=SimpleNamespace(clinical="clinical", no_clinical=""))
    monkeypatch.setattr(ui, "results", lambda _study: stages)
    at = open_study_page(study, "pages/evaluation.py", timeout=120)
    assert not at.error, [e.value for e in at.error]
    labels = study.model_labels()
    # Concordance of every cohort and model, formatted "C (low-high)" as the evaluation has it
    concordance = dataframe_with(at, "cohort", "model", HARRELL, UNO)
    assert len(concordance) == 4 and set(concordance["cohort"]) == {"Training", "Test"}
    row = evaluation.concordance.iloc[0]
    assert concordance[HARRELL].iloc[0] == f"{row.c_index:.3f} ({row.c_low:.3f}-{row.c_high:.3f})"
    # Table 2 of the chosen cohort, with every horizon's AUC(t) and metrics at the cut-off
    table2 = dataframe_with(at, "model", HARRELL, "AUC(t=12)", "SENS(t=60)", "high-risk event rate by t=36")
    assert len(table2) == 2
    fused = evaluation.table2().set_index(["cohort", "model"]).loc[("train", "fused")]
    assert table2.set_index("model").loc[labels["fused"], "AUC(t=36)"].startswith(f"{fused['auc_36']:.3f} (")
    at.radio(key="ev_s_table2_cohort").set_value("test").run()
    assert not at.exception
    test_fused = evaluation.table2().set_index(["cohort", "model"]).loc[("test", "fused")]
    shown = dataframe_with(at, "model", HARRELL, "AUC(t=12)").set_index("model")
    assert shown.loc[labels["fused"], "n"] == test_fused["n"] < fused["n"]
    # Time-dependent ROC per cohort at the chosen horizon (AUC(t) with its CI in the legend), AUC(t), KM per cohort
    keys = _chart_keys(at)
    assert {"ev_s_roc_train", "ev_s_roc_test", "ev_s_auc_train", "ev_s_km_train", "ev_s_km_test", "ev_s_cal_train",
            "ev_s_dca_test"} <= keys
    roc = _chart(at, "ev_s_roc_test")
    auc = evaluation.td_auc.set_index(["cohort", "model", "horizon"]).loc[("test", "fused", 12.0)]
    assert any(trace.get("name", "").startswith(f"{labels['fused']}: {auc['auc']:.3f} ({auc['auc_low']:.3f}-")
               for trace in roc["data"])
    km = _chart(at, "ev_s_km_train")
    assert {RISK_GROUPS["low"], RISK_GROUPS["high"]} <= {(t.get("meta") or {}).get("group") for t in km["data"]}
    assert "at_risk" in {(t.get("meta") or {}).get("role") for t in km["data"]}
    assert "log-rank p" in json.dumps(km["layout"])
    risk = dataframe_with(at, "risk group", "HR high vs low (95% CI)", "log-rank p")
    assert len(risk) == 8  # 2 cohorts x 2 models x 2 groups
    # Brier / IBS, calibration slope and O/E, pairs; every note of the evaluation is on the page
    brier = dataframe_with(at, "model", "Brier(t=12)", "null Brier(t=60)", "IBS")
    assert (brier["IBS"] != "").all()
    assert len(dataframe_with(at, "slope converged")) == 12  # 2 cohorts x 2 models x 3 horizons
    pairs = dataframe_with(at, "cohort", "model_a", "model_b", "difference (95% CI)", "p (Holm)")
    assert len(pairs) == 2  # one pair per cohort
    texts = page_texts(at)
    assert evaluation.notes and all(note in texts for note in evaluation.notes)
    # Another horizon redraws the horizon's figures there; another model its risk groups
    at.radio(key="ev_s_horizon").set_value(60.0).run()
    assert not at.exception and not at.error
    assert "60 months" in json.dumps(_chart(at, "ev_s_roc_train")["layout"])
    at.selectbox(key="ev_s_km_model").set_value("clinical").run()
    assert not at.exception and not at.error
    assert labels["clinical"] in json.dumps(_chart(at, "ev_s_km_test")["layout"])


@pytest.mark.slow
def test_the_fitted_survival_sample_study_is_evaluated_on_the_page():
    """The whole path: the survival sample study fitted (LASSO-Cox screening, Cox models), evaluated and drawn."""
    at = open_study_page(sample_survival_study(), "pages/evaluation.py")
    assert not at.error, [e.value for e in at.error]
    study = at.session_state["study"]
    concordance = dataframe_with(at, "cohort", "model", HARRELL, UNO)
    assert len(concordance) == 2 * len(study.model_names)
    values = concordance[HARRELL].str.split(" ").str[0].astype(float)
    assert ((values > 0.5) & (values < 1)).all()
    assert {"ev_s_roc_train", "ev_s_roc_test", "ev_s_km_train", "ev_s_km_test"} <= _chart_keys(at)
    at.radio(key="ev_s_horizon").set_value(36.0).run()
    assert not at.exception and not at.error
