"""The browser calculator's numbers (core.figures.calculator): what is sent reproduces the engine.

The payload is evaluated here with the formula its docstring states (the one the component's JavaScript
implements): points = (contribution - min_contribution) x points_per_unit_lp; eta = params . [1, design row];
se = sqrt(x' cov x); risk, low, high = expit(eta), expit(eta -+ z se). It must give ``Nomogram.points`` and the
model's ``predict_interval`` for any patient; the JavaScript itself is compared with the engine in a real browser
(tests/pages/test_browser_calculator.py).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.figures.calculator import CALCULATOR_ASSETS, calculator_drawing, calculator_model
from core.figures.nomogram import nomogram_layout
from core.stats.modeling import Nomogram, fit_logistic, fit_model
from core.vocabulary import horizon_column

CONTINUOUS = ["age", "tumour_thickness_mm", "cea_ng_ml"]
CATEGORICAL = ["sex", "cn_stage", "location"]


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    from core.imaging.synthetic import generate_clinical

    return generate_clinical(n=500, seed=20261206).clinical


@pytest.fixture(scope="module")
def nomogram(cohort) -> Nomogram:
    train = cohort.iloc[:350]
    return Nomogram(fit_model("clinical", train, "lm", continuous=CONTINUOUS, categorical=CATEGORICAL), train)


def _points_and_design(payload: dict, values: dict) -> tuple[dict, np.ndarray]:
    """Each variable's points, and the design row over the outcome's terms (a level's indicator set to 1)."""
    index = {t: i for i, t in enumerate(payload["outcome"]["terms"])}
    x = np.zeros(len(index))
    points = {}
    for v in payload["variables"]:
        value = values[v["name"]]
        if v["kind"] == "categorical":
            contribution = v["coefficients"][value]
            if value in v["columns"]:
                x[index[v["columns"][value]]] = 1.0
        else:
            contribution = v["coefficient"] * value
            x[index[v["column"]]] = value
        points[v["name"]] = (contribution - v["min_contribution"]) * payload["points_per_unit_lp"]
    return points, x


def _evaluate(payload: dict, values: dict) -> dict:
    """The calculator's formula on the payload (as the browser evaluates it)."""
    outcome = payload["outcome"]
    points, x = _points_and_design(payload, values)
    x[0] = 1.0  # "const"
    eta = float(np.dot(outcome["params"], x))
    se = math.sqrt(float(x @ np.asarray(outcome["cov"]) @ x))
    expit = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    return {"points": points, "risk": expit(eta), "low": expit(eta - outcome["z"] * se),
            "high": expit(eta + outcome["z"] * se)}


def _engine(nomogram: Nomogram, values: dict) -> dict:
    interval = nomogram.model.predict_interval(pd.DataFrame([values])).iloc[0]
    return {"points": {v: nomogram.points(v, values[v]) for v in nomogram.variables},
            "risk": interval["probability"], "low": interval["low"], "high": interval["high"]}


def _assert_same(shown: dict, engine: dict) -> None:
    for name in ("risk", "low", "high"):
        assert shown[name] == pytest.approx(engine[name], abs=1e-12, rel=0)
    for variable, points in engine["points"].items():
        assert shown["points"][variable] == pytest.approx(points, abs=1e-10, rel=0)


def test_the_payload_is_plain_json_with_the_models_numbers(nomogram, cohort):
    payload = calculator_model(nomogram, {"age": "Age (years)"}, [0.3, 0.1, 0.2])
    text = json.dumps(payload, allow_nan=False)  # JSON.parse cannot read NaN or infinities
    assert json.loads(text) == payload
    fit, outcome = nomogram.model.fit, payload["outcome"]
    assert outcome["kind"] == "risk" and outcome["terms"][0] == "const"
    assert outcome["terms"][1:] == list(fit.predictors)
    assert outcome["params"] == [float(fit.params[t]) for t in outcome["terms"]]
    assert payload["training_ranks"] == [0.1, 0.2, 0.3] and outcome["z"] == pytest.approx(1.959963984540054)
    by_name = {v["name"]: v for v in payload["variables"]}
    assert by_name["age"]["label"] == "Age (years)" and by_name["sex"]["label"] == "sex"
    reference = nomogram.levels["cn_stage"][0]
    assert reference not in by_name["cn_stage"]["columns"] and by_name["cn_stage"]["coefficients"][reference] == 0
    ticks = nomogram.ticks["cea_ng_ml"]
    assert by_name["cea_ng_ml"]["range"] == [float(min(ticks)), float(max(ticks))]
    assert all(CALCULATOR_ASSETS[part].is_file() for part in ("html", "css", "js"))


@settings(max_examples=40, deadline=None)
@given(row=st.integers(0, 499), age=st.floats(20, 95), cea=st.floats(0, 400))
def test_the_payload_reproduces_the_engine_for_any_patient(nomogram, cohort, row, age, cea):
    payload = json.loads(json.dumps(calculator_model(nomogram, {}, [0.5])))
    values = {v: (str(cohort.iloc[row][v]) if v in nomogram.levels else float(cohort.iloc[row][v]))
              for v in nomogram.variables}
    values.update(age=age, cea_ng_ml=cea)  # beyond the axes too: the formula has no range
    _assert_same(_evaluate(payload, values), _engine(nomogram, values))


def test_a_nomogram_of_a_bare_logistic_fit_sends_its_own_columns(cohort):
    train = cohort.iloc[:350]
    fit = fit_logistic(train, "lm", ["tumour_thickness_mm", "cea_ng_ml"])
    nomogram = Nomogram(fit, train)
    payload = calculator_model(nomogram, {}, [0.5])
    values = {"tumour_thickness_mm": 14.0, "cea_ng_ml": 9.5}
    interval = fit.predict_interval(pd.DataFrame([values])).iloc[0]
    shown = _evaluate(payload, values)
    assert shown["risk"] == pytest.approx(interval["probability"], abs=1e-12)
    assert shown["low"] == pytest.approx(interval["low"], abs=1e-12)


def test_a_missing_number_is_refused_before_it_reaches_the_browser(nomogram, cohort):
    with pytest.raises(RadNomoError, match="training patients' predictions"):
        calculator_model(nomogram, {}, [0.2, float("nan")])


def test_the_drawing_needs_a_patient_and_maps_points_onto_each_axis(nomogram, cohort):
    patient = cohort.iloc[420].to_dict()
    with pytest.raises(RadNomoError, match="with a patient"):
        calculator_drawing(nomogram_layout(nomogram, width_px=880, font_size=13))
    layout = nomogram_layout(nomogram, patient=patient, width_px=880, font_size=13)
    drawing = json.loads(json.dumps(calculator_drawing(layout), allow_nan=False))
    assert [a["key"] for a in drawing["axes"]] == [a.key for a in layout.axes]
    # The browser places the patient at points x to_x on the 0-100 scale, held inside the axis line: as the layout.
    points = {v: nomogram.points(v, patient[v]) for v in nomogram.variables}
    total = sum(points.values())
    for sent, axis in zip(drawing["axes"], layout.axes, strict=True):
        if axis.patient_x is None:
            continue
        own = points.get(axis.key, total)
        assert min(max(own * sent["to_x"], sent["line"][0]), sent["line"][1]) == pytest.approx(axis.patient_x)


# --- a Cox nomogram ---------------------------------------------------------------------------------------------

HORIZONS = (12.0, 36.0, 60.0)


@pytest.fixture(scope="module")
def cox_fit():
    """A Cox model of the sample's overall survival (500 training patients) and its nomogram, built as the study
    builds it (core.workflows.fit._cox_nomogram), and the other patients."""
    from core.stats.learners.base import Predictors
    from core.stats.learners.cox import COX
    from core.workflows.fit import _cox_nomogram
    from core.workflows.sample import SAMPLE_SURVIVAL_SPEC, load_sample_survival_table

    table = load_sample_survival_table().set_index("patient_id")
    train = table.iloc[:500]
    model = COX.fit(train, SAMPLE_SURVIVAL_SPEC.outcome,
                    Predictors(("age", "cea_ng_ml", "tumour_thickness_mm"), ("ct_stage", "sex")), name="clinical")
    return model, _cox_nomogram(model, train), table.iloc[500:]


def _evaluate_cox(payload: dict, values: dict) -> dict:
    """The Cox calculator's formula on the payload (as the browser evaluates it)."""
    outcome = payload["outcome"]
    points, x = _points_and_design(payload, values)
    total = sum(points.values())
    relative = math.exp(outcome["lp_at_zero"] + total / payload["points_per_unit_lp"] + outcome["center"])
    centred = x - np.asarray(outcome["centre"])
    risk = math.exp(float(centred @ np.asarray(outcome["coef"])))
    rows = []
    for h in outcome["horizons"]:
        d = h["cumhaz"] * centred - np.asarray(h["xbar"])
        se = math.sqrt((h["cumvar"] + float(d @ np.asarray(outcome["var"]) @ d)) * risk ** 2)
        s = math.exp(-risk * h["cumhaz"])
        bounds = (math.nan, math.nan)  # survival 0: no log-scale interval (survfit's NA)
        if s > 0:
            with np.errstate(over="ignore"):  # a huge interval overflows to infinity: the upper limit is capped at 1
                low, high = np.exp(math.log(s) + np.array([-1.0, 1.0]) * outcome["z"] * se)
            bounds = (float(low), min(float(high), 1.0))
        rows.append((math.exp(-h["baseline_at"] * relative), *bounds))
    below = [t for t, c in zip(outcome["baseline_times"], outcome["baseline_cumhaz"], strict=True)
             if math.exp(-c * relative) <= 0.5]
    return {"total": total, "survival": rows, "median": below[0] if below else float("nan")}


@settings(max_examples=25, deadline=None)
@given(row=st.integers(0, 400), cea=st.floats(0, 200))
def test_a_cox_payload_reproduces_survival_its_interval_and_the_median(cox_fit, row, cea):
    from core.stats.survival.nomogram import patient_survival

    model, nomogram, others = cox_fit
    payload = json.loads(json.dumps(calculator_model(nomogram, {}, [1.0], horizons=HORIZONS), allow_nan=False))
    assert payload["outcome"]["kind"] == "survival"
    values = {v: (str(others.iloc[row][v]) if v in nomogram.scale.levels else float(others.iloc[row][v]))
              for v in nomogram.variables}
    values["cea_ng_ml"] = cea
    shown = _evaluate_cox(payload, values)
    engine = patient_survival(nomogram, values, HORIZONS)
    interval = model.predict_survival(pd.DataFrame([values]), list(HORIZONS)).iloc[0]
    assert shown["total"] == pytest.approx(engine.total_points, abs=1e-10)
    for (survival, low, high), horizon, expected in zip(shown["survival"], HORIZONS, engine.survival["survival"],
                                                         strict=True):
        assert survival == pytest.approx(expected, abs=1e-12)
        assert low == pytest.approx(interval[horizon_column(horizon, "low")], abs=1e-12, nan_ok=True)
        assert high == pytest.approx(interval[horizon_column(horizon, "high")], abs=1e-12, nan_ok=True)
    assert shown["median"] == pytest.approx(engine.median_time, nan_ok=True)


def test_a_cox_nomogram_without_its_model_is_refused(cox_fit):
    from core.stats.survival.nomogram import CoxNomogram

    _, nomogram, _ = cox_fit
    bare = CoxNomogram.__new__(CoxNomogram)
    bare.__dict__.update({**nomogram.__dict__, "model": None})
    with pytest.raises(RadNomoError, match="without its Cox model"):
        calculator_model(bare, {}, [1.0], horizons=HORIZONS)
