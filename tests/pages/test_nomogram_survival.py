"""The Nomogram page of a time-to-event study (AppTest on the survival sample study): the Cox nomogram with an
axis of survival per horizon and of median survival time, the calculator's survival at each horizon with its 95 %
confidence interval (the Cox model's own), and the patient's survival curve against the training Kaplan-Meier
curve; and core.workflows.nomograms.survival_calculation, which gives the page those numbers."""

from __future__ import annotations

import base64
import json

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.stats.survival.kaplan_meier import kaplan_meier
from core.vocabulary import horizon_column, survival_column
from tests.pages.apptest_helpers import calculator_data, open_study_page, page_texts

pytestmark = pytest.mark.slow  # the page fits the survival sample study (about 20 s) and runs the app


def _chart(at: AppTest, key: str) -> dict:
    """The plotly figure (as JSON) of the chart whose widget key is ``key``."""
    for element in at.get("plotly_chart"):
        if element.proto.id.endswith(f"-{key}"):
            return json.loads(element.proto.spec)
    raise AssertionError(f"no plotly chart '{key}' on the page")


def _values(data) -> np.ndarray:
    """A plotly trace's x or y: a list, or plotly's typed array ({"dtype", "bdata": base64})."""
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"])
    return np.asarray(data, dtype=float)


@pytest.fixture(scope="module")
def page():
    from core.workflows.sample import sample_survival_study

    return open_study_page(sample_survival_study(), "pages/nomogram.py")


@pytest.fixture(scope="module")
def results(page):
    """The page's study's stages, computed again outside the app (the models refitted: the same numbers)."""
    from core.workflows.results import StudyResults

    return StudyResults(page.session_state["study"])


def test_the_page_reads_survival_with_its_interval_off_the_cox_nomogram(page, results):
    """The page sends its browser calculator the Cox nomogram (the browser's numbers are compared with the engine in
    tests/pages/test_browser_calculator.py); at the values it starts from (a test patient chosen), the engine's
    calculator gives the pipeline's own predicted survival and the Cox model's interval."""
    from core.workflows.nomograms import survival_calculation

    at = page
    assert not at.exception and not at.error
    study = at.session_state["study"]
    outcome = study.spec.outcome
    assert at.radio(key="nom_model").value == "fused"
    patient = study.split.test_ids[2]
    at.selectbox(key="nom_patient").set_value(patient).run()
    assert not at.exception and not at.error
    sent = calculator_data(at, "nom_calc")
    assert sent["model"]["outcome"]["kind"] == "survival"
    assert [h["horizon"] for h in sent["model"]["outcome"]["horizons"]] == list(outcome.horizons)
    assert sent["model"]["words"] == {"horizon_labels": [outcome.horizon_label(h) for h in outcome.horizons],
                                      "time_unit": outcome.time_unit, "event": outcome.event_label}
    # The study's own predictions of this test patient (StudyModels.predict), and the Cox model's interval.
    predictions = results.predictions
    model = results.models["fused"]
    row = study.cohort.loc[[patient]].join(predictions[["dl_radiomics_score"]])
    assert sent["inputs"]["dl_radiomics_score"] == pytest.approx(float(row["dl_radiomics_score"].iloc[0]))
    calculation = survival_calculation(study, results.nomogram("fused"), sent["inputs"])
    interval = model.predict_survival(row, outcome.horizons).iloc[0]
    table = calculation.patient.survival
    for horizon, survival, low, high in table[["horizon", "survival", "lower", "upper"]].itertuples(index=False):
        assert survival == pytest.approx(predictions.loc[patient, survival_column("fused", horizon)], rel=1e-9)
        assert low == pytest.approx(interval[horizon_column(horizon, "low")], rel=1e-9)
        assert high == pytest.approx(interval[horizon_column(horizon, "high")], rel=1e-9)
        assert low < survival < high

    # The nomogram: the study's predictors, then survival at each horizon and the median time.
    titles = [" ".join(a["title_lines"]) for a in sent["drawing"]["axes"]]
    for horizon in outcome.horizons:
        assert f"Survival at {outcome.horizon_label(horizon)}" in titles
    assert f"Median time to death ({outcome.time_unit})" in titles
    assert "Total points" in titles and "Clinical T stage" in titles

    # The patient's curve (with its band) against the training cohort's Kaplan-Meier curve.
    curve = _chart(at, "nom_survival_curve")
    names = [trace.get("name") for trace in curve["data"]]
    assert "this patient" in names and "training cohort (Kaplan-Meier)" in names
    cohort = next(trace for trace in curve["data"] if trace.get("name") == "training cohort (Kaplan-Meier)")
    time, event = outcome.arrays(study.train)
    km = kaplan_meier(time, event)
    assert _values(cohort["y"])[-1] == pytest.approx(km.survival[-1])
    assert "log relative hazard" in sent["model"]["variables"][0]["help"]

    # What if: the risk of death by the chosen horizon as one predictor moves, the patient marked on it.
    at.selectbox(key="nom_whatif").set_value("cea_ng_ml").run()
    at.selectbox(key="nom_whatif_horizon").set_value(60.0).run()
    assert not at.exception and not at.error
    what_if = _chart(at, "nom_whatif_figure")
    marked = next(trace for trace in what_if["data"] if trace.get("name") == "this patient")
    survival_60 = predictions.loc[patient, survival_column("fused", 60.0)]
    assert _values(marked["y"])[0] == pytest.approx(1 - survival_60, rel=1e-9)
    assert "risk of death by 60 months" in page_texts(at)


def test_a_committed_input_moves_survival_and_every_model_can_be_read(page):
    at = page

    def patient_curve() -> np.ndarray:
        figure = _chart(at, "nom_survival_curve")
        return _values(next(t for t in figure["data"] if t.get("name") == "this patient")["y"])

    before = patient_curve()
    # What the browser commits (kept by the page as the calculator's values) moves the patient's curve.
    at.session_state["_nom_values"] = {**calculator_data(at, "nom_calc")["inputs"], "cea_ng_ml": 80.0}
    at.run()
    assert not at.exception and not at.error
    after = patient_curve()
    assert (after[-1] < before[-1]) and calculator_data(at, "nom_calc")["inputs"]["cea_ng_ml"] == 80.0
    for model in ("clinical", "radiomics", "dl_radiomics"):
        at.radio(key="nom_model").set_value(model).run()
        assert not at.exception and not at.error, model
        sent = calculator_data(at, "nom_calc")
        assert sent["model"]["outcome"]["kind"] == "survival" and sent["model"]["outcome"]["var"] is not None
    # A score alone: its one input, drawn through a Cox model of the outcome on it.
    assert [v["name"] for v in calculator_data(at, "nom_calc")["model"]["variables"]] == ["dl_radiomics_score"]
    assert "a Cox model of the outcome" in at.radio(key="nom_model").help


def test_survival_calculation_is_the_cox_models_prediction(page, results):
    from core.workflows.nomograms import study_nomogram_layout, survival_calculation

    study = page.session_state["study"]
    nomogram = results.nomogram("clinical")
    model = results.models["clinical"]
    outcome = study.spec.outcome
    patient = study.split.test_ids[0]
    row = study.cohort.loc[patient, nomogram.variables].to_dict()
    result = survival_calculation(study, nomogram, row)
    predicted = model.predict_survival(pd.DataFrame([row]), outcome.horizons).iloc[0]
    table = result.patient.survival
    for horizon, survival, low, high in table[["horizon", "survival", "lower", "upper"]].itertuples(index=False):
        assert survival == pytest.approx(predicted[horizon_column(horizon)], rel=1e-9)
        assert (low, high) == pytest.approx((predicted[horizon_column(horizon, "low")],
                                             predicted[horizon_column(horizon, "high")]), rel=1e-12)
        assert result.intervals[horizon] == (low, high)
        # the curve passes through the same survival at the horizon (a step function read at the horizon)
        at = result.curve[result.curve["time"] <= horizon].iloc[-1]
        assert at["survival"] == pytest.approx(survival, rel=1e-9)
    curve = result.curve
    assert np.all(np.diff(curve["time"]) > 0) and np.all(np.diff(curve["survival"]) <= 1e-15)
    assert (curve["low"] <= curve["survival"]).all() and (curve["survival"] <= curve["high"]).all()
    assert curve["time"].iloc[-1] == pytest.approx(model.last_follow_up)
    time, event = outcome.arrays(study.train)
    np.testing.assert_allclose(result.cohort["survival"], kaplan_meier(time, event).survival)
    totals = nomogram.training_total_points
    assert result.percentile == pytest.approx(100 * np.mean(totals < result.patient.total_points))
    # The report draws the study's nomogram through study_nomogram_layout: survival axes, no risk axis.
    layout = study_nomogram_layout(study, nomogram, width_px=482, font_size=8)
    kinds = [axis.kind for axis in layout.axes]
    assert "risk" not in kinds and kinds.count("survival") == len(outcome.horizons)
