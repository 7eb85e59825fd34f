"""The Cox nomogram as a picture (core.figures.nomogram.cox_nomogram_layout): rms's survival axes drawn where
rms draws them, the patient read off them as the Cox model predicts, and no two labels overlapping.

Two nomograms: the rms reference one (tests/reference/survival_nomogram.R: cph of age, size and a 3-level grade
on 300 simulated patients; its rms tick positions are the known answers) and one on the sample survival cohort's
first 500 patients fitted here with the Cox learner (a real CoxModel, with its confidence intervals).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.figures.nomogram import (
    MEDIAN_AXIS,
    nomogram_file,
    nomogram_layout,
    nomogram_matplotlib,
    nomogram_plotly,
    page_layout,
    survival_axis_key,
)
from core.figures.nomogram import cox_nomogram_layout as layout_of
from core.stats.learners.base import Predictors
from core.stats.learners.cox import COX
from core.stats.modeling import NomogramDesign
from core.stats.survival.nomogram import BaselineHazard, CoxNomogram
from core.vocabulary import horizon_column

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
TICKS = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]  # survival_nomogram.R's fun.at
MEDIAN_TICKS = [6, 12, 24, 36, 48, 60, 72]
HORIZONS = (12.0, 36.0, 60.0)
SIZES = [(1240, 14), (880, 13), (620, 12)]


def _reference(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / f"survival_nomogram_{name}.csv")


@pytest.fixture(scope="module")
def rms_nomogram() -> CoxNomogram:
    fit = _reference("fit").set_index("term")["value"]
    coefficients = pd.Series({"age": fit["age"], "size": fit["size"], "grade: mid": fit["grade=mid"],
                              "grade: high": fit["grade=high"]})
    design = NomogramDesign(continuous=("age", "size"), levels={"grade": ("low", "mid", "high")},
                            coefficients=coefficients)
    baseline = _reference("baseline")
    return CoxNomogram(design, _reference("data"), BaselineHazard(baseline["time"].to_numpy(),
                                                                  baseline["cumhaz"].to_numpy()))


@pytest.fixture(scope="module")
def sample_fit():
    """A Cox model of the sample's overall survival on five clinical variables (500 training patients) and its
    nomogram, built as the study builds it (core.workflows.fit._cox_nomogram: the model's baseline hazard)."""
    from core.workflows.fit import _cox_nomogram
    from core.workflows.sample import SAMPLE_SURVIVAL_SPEC, load_sample_survival_table

    table = load_sample_survival_table().set_index("patient_id")
    train = table.iloc[:500]
    model = COX.fit(train, SAMPLE_SURVIVAL_SPEC.outcome,
                    Predictors(("age", "cea_ng_ml", "tumour_thickness_mm"), ("ct_stage", "sex")), name="clinical")
    return model, _cox_nomogram(model, train), table.iloc[500:]


def _r_axis(name: str) -> pd.DataFrame:
    axes = _reference("axes")
    return axes[axes["axis"] == name].reset_index(drop=True)


def _overlap(a, b, tolerance=0.01) -> bool:
    return (min(a[2], b[2]) - max(a[0], b[0]) > tolerance) and (min(a[3], b[3]) - max(a[1], b[1]) > tolerance)


# ---------------------------------------------------------------------------------------------
# The axes, where rms draws them
# ---------------------------------------------------------------------------------------------


def test_axes_are_points_predictors_total_then_survival_per_horizon_and_median(rms_nomogram):
    layout = layout_of(rms_nomogram, horizons=HORIZONS, time_unit="months", width_px=880, font_size=13)
    assert [(a.key, a.kind) for a in layout.axes] == [
        ("points", "points"), ("age", "continuous"), ("size", "continuous"), ("grade", "categorical"),
        ("total_points", "total"), ("surv_12", "survival"), ("surv_36", "survival"), ("surv_60", "survival"),
        (MEDIAN_AXIS, "median")]
    assert [survival_axis_key(h) for h in HORIZONS] == [horizon_column(h) for h in HORIZONS]
    titles = {a.key: a.title for a in layout.axes}
    assert titles["surv_36"] == "Survival at 36 months" and titles[MEDIAN_AXIS] == "Median survival time (months)"
    # the study's words replace them
    named = layout_of(rms_nomogram, {"surv_36": "3-year overall survival"}, horizons=HORIZONS, time_unit="months",
                      width_px=880, font_size=13)
    assert named.axis("surv_36").title == "3-year overall survival"
    # the scale above the outcome axes is the logistic nomogram's, tick for tick
    scale = nomogram_layout(rms_nomogram.scale, width_px=880, font_size=13)
    for key in ("points", "age", "size", "grade", "total_points"):
        assert [t.points for t in layout.axis(key).ticks] == [t.points for t in scale.axis(key).ticks]


@pytest.mark.parametrize("horizon", [12, 36, 60])
def test_survival_ticks_sit_where_rms_draws_them(rms_nomogram, horizon):
    layout = layout_of(rms_nomogram, horizons=HORIZONS, time_unit="months", width_px=880, font_size=13,
                       survivals=TICKS)
    axis, r = layout.axis(survival_axis_key(horizon)), _r_axis(f"S{horizon}")
    ticks = sorted(axis.ticks, key=lambda t: t.value)
    np.testing.assert_allclose([t.value for t in ticks], r["value"].astype(float), rtol=0)
    np.testing.assert_allclose([t.points for t in ticks], r["points"], rtol=1e-10, atol=1e-8)
    # on the drawing: x on the 0-100 scale is total points * 100 / the Total points axis's end
    np.testing.assert_allclose([t.x for t in ticks], r["points"] * 100 / layout.total_max, rtol=1e-10, atol=1e-8)
    assert all(t.text == f"{t.value * 100:g}%" for t in axis.labels)
    # higher points, lower survival: the labels run 95% ... 5% left to right, as rms
    values = [t.value for t in axis.ticks]
    assert values == sorted(values, reverse=True)
    # the line spans rms's linear predictors (lp.at), within the Total points axis, as the risk axis does
    lp_points = rms_nomogram.lp_axis()["points"]
    expected = (max(0.0, lp_points.min()) * 100 / layout.total_max, min(layout.total_max, lp_points.max()) * 100
                / layout.total_max)
    assert axis.line == pytest.approx(expected, abs=1e-9)


def test_median_ticks_sit_where_rms_draws_them(rms_nomogram):
    layout = layout_of(rms_nomogram, horizons=HORIZONS, time_unit="months", width_px=880, font_size=13,
                       median_times=MEDIAN_TICKS)
    axis, r = layout.axis(MEDIAN_AXIS), _r_axis("median")
    ticks = sorted(axis.ticks, key=lambda t: t.value)
    assert [t.value for t in ticks] == list(r["value"].astype(float))  # 60 and 72 months are never reached
    np.testing.assert_allclose([t.points for t in ticks], r["points"], rtol=1e-10, atol=1e-8)
    # drawn only where the median is reached within follow-up: from the points where it first is
    low, high = rms_nomogram.median_range()
    assert axis.line[0] == pytest.approx(max(low, 0.0) * 100 / layout.total_max, abs=1e-9)
    survival_line = layout.axis("surv_12").line
    assert survival_line[0] <= axis.line[0] < axis.line[1] <= survival_line[1]


def test_no_median_axis_where_the_median_is_never_reached():
    # Few events and short follow-up: survival stays above one half at every score.
    design = NomogramDesign(continuous=("x",), levels={}, coefficients=pd.Series({"x": 0.5}))
    data = pd.DataFrame({"x": np.linspace(-2, 2, 50)})
    nomogram = CoxNomogram(design, data, BaselineHazard(np.array([1.0, 5.0, 10.0]), np.array([0.01, 0.02, 0.05])))
    assert nomogram.median_range() is None
    layout = layout_of(nomogram, patient={"x": 1.0}, horizons=(5.0,), time_unit="years", width_px=880,
                       font_size=13)
    assert [a.key for a in layout.axes][-1] == "surv_5" and MEDIAN_AXIS not in [a.key for a in layout.axes]
    assert layout.patient.median_time is None
    assert "median" not in " ".join(layout.patient.summary_lines)
    assert layout.patient.guide[2] == layout.axis("surv_5").y_px  # the guide ends on the last axis


# ---------------------------------------------------------------------------------------------
# The patient, read off as the Cox model predicts
# ---------------------------------------------------------------------------------------------


def test_patient_marks_are_the_cox_models_survival_and_median(sample_fit):
    model, nomogram, test = sample_fit
    patient = test.iloc[3][nomogram.variables].to_dict()
    predicted = model.predict_survival(pd.DataFrame([patient]), HORIZONS).iloc[0]
    intervals = {h: (predicted[horizon_column(h, "low")], predicted[horizon_column(h, "high")]) for h in HORIZONS}
    layout = layout_of(nomogram, patient=patient, horizons=HORIZONS, time_unit="months", width_px=880,
                       font_size=13, survival_intervals=intervals)
    marks = layout.patient
    total = nomogram.total_points(patient)
    assert marks.total_points == pytest.approx(total, rel=1e-12)
    assert math.isnan(marks.risk) and marks.interval is None
    for horizon in HORIZONS:
        axis = layout.axis(survival_axis_key(horizon))
        # the nomogram's survival at the patient's total points is the Cox model's prediction for the patient
        assert marks.survival[horizon] == pytest.approx(predicted[horizon_column(horizon)], rel=1e-9)
        assert axis.patient_value == marks.survival[horizon]
        assert axis.patient_x == pytest.approx(min(max(total * 100 / layout.total_max, axis.line[0]), axis.line[1]))
    lp = nomogram.linear_predictor_at(total)
    assert marks.median_time == pytest.approx(float(nomogram.median_survival(lp)[0]))
    # the median read off the drawn curve: the first time the model's survival falls to one half
    times = model.baseline["time"].to_numpy()
    curve = model.predict_survival(pd.DataFrame([patient]), times).iloc[0]
    first = next(t for t in times if curve[horizon_column(t)] <= 0.5)
    assert marks.median_time == pytest.approx(first)
    # words: survival with its interval at each horizon, then the median, no line broken inside an interval
    summary = " ".join(marks.summary_lines)
    for horizon in HORIZONS:
        low, high = intervals[horizon]
        assert (f"{marks.survival[horizon] * 100:.1f} % (95 % CI {low * 100:.1f}–{high * 100:.1f} %) at "
                f"{horizon:g} months") in summary
    assert summary.startswith(f"Total points {total:.1f} → survival ")
    assert summary.endswith(f"median survival {marks.median_time:.1f} months")
    assert all(line.count("(") == line.count(")") for line in marks.summary_lines)
    column = {key: text for key, text, _ in marks.column}
    assert column["surv_36"] == f"{marks.survival[36.0] * 100:.1f} %"
    assert column[MEDIAN_AXIS] == f"{marks.median_time:.1f}"
    assert marks.guide[1:] == (layout.axis("total_points").y_px, layout.axis(MEDIAN_AXIS).y_px)


def test_a_patient_whose_median_is_not_reached_is_not_marked_on_that_axis(sample_fit):
    model, nomogram, test = sample_fit
    lps = model.linear_predictor(test).dropna()
    patient = test.loc[lps.idxmin(), nomogram.variables].to_dict()  # the lowest hazard of the test patients
    layout = layout_of(nomogram, patient=patient, horizons=HORIZONS, time_unit="months", width_px=880,
                       font_size=13)
    assert math.isnan(layout.patient.median_time)
    assert layout.axis(MEDIAN_AXIS).patient_x is None
    assert dict((k, t) for k, t, _ in layout.patient.column)[MEDIAN_AXIS] == "not reached"
    assert "median survival not reached within follow-up" in " ".join(layout.patient.summary_lines)


def test_what_if_moves_one_predictor_as_the_cox_model_predicts(sample_fit):
    model, nomogram, test = sample_fit
    assert nomogram.model is model  # the study's nomogram keeps its model (for the intervals)
    patient = test.iloc[5][nomogram.variables].to_dict()
    curve = nomogram.what_if(patient, "cea_ng_ml", 36.0)
    assert len(curve) == 60 and list(curve.columns) == ["value", "points", "total_points", "survival", "probability"]
    rows = pd.DataFrame([{**patient, "cea_ng_ml": v} for v in curve["value"]])
    expected = model.predict_survival(rows, [36.0])[horizon_column(36.0)].to_numpy()
    np.testing.assert_allclose(curve["survival"], expected, rtol=1e-9)
    np.testing.assert_allclose(curve["probability"], 1 - expected, rtol=1e-9)
    assert np.all(np.diff(curve["survival"]) < 0)  # CEA raises the hazard
    levels = nomogram.what_if(patient, "ct_stage", 12.0)
    assert list(levels["value"]) == list(nomogram.levels["ct_stage"])


def test_refusals(rms_nomogram):
    with pytest.raises(RadNomoError, match="at least one horizon"):
        layout_of(rms_nomogram, horizons=(), time_unit="months", width_px=880, font_size=13)
    last = rms_nomogram.baseline.last_time
    with pytest.raises(RadNomoError, match="past the last follow-up"):
        layout_of(rms_nomogram, horizons=(12, last + 1), time_unit="months", width_px=880, font_size=13)
    with pytest.raises(RadNomoError, match="values are needed"):
        layout_of(rms_nomogram, patient={"age": 60}, horizons=(12,), time_unit="months", width_px=880, font_size=13)
    with pytest.raises(RadNomoError, match="risk_format"):
        layout_of(rms_nomogram, horizons=(12,), time_unit="months", width_px=880, font_size=13, risk_format="odds")
    with pytest.raises(RadNomoError, match="cox_nomogram_layout"):  # a risk axis would be meaningless
        nomogram_layout(rms_nomogram, width_px=880, font_size=13)


# ---------------------------------------------------------------------------------------------
# The pictures: no overlap, every drawing and file
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width,font", SIZES)
def test_no_two_texts_overlap_and_every_survival_axis_keeps_labels(sample_fit, width, font):
    _, nomogram, test = sample_fit
    layout = layout_of(nomogram, patient=test.iloc[0][nomogram.variables].to_dict(), horizons=HORIZONS,
                       time_unit="months", width_px=width, font_size=font, title="Overall survival")
    boxes = layout.text_boxes()
    pairs = [(boxes[i][:2], boxes[j][:2]) for i in range(len(boxes)) for j in range(i + 1, len(boxes))
             if _overlap(boxes[i][2], boxes[j][2])]
    assert not pairs
    for horizon in HORIZONS:
        assert len(layout.axis(survival_axis_key(horizon)).labels) >= 2
    assert all(box[2] <= width + 1e-6 and box[0] >= -1e-6 for _, _, box in boxes)


def test_plotly_matplotlib_and_files_draw_the_survival_axes(sample_fit):
    _, nomogram, test = sample_fit
    layout = layout_of(nomogram, patient=test.iloc[1][nomogram.variables].to_dict(), horizons=HORIZONS,
                       time_unit="months", width_px=880, font_size=13)
    figure = nomogram_plotly(layout)
    texts = [a.text for a in figure.layout.annotations]
    assert {"Survival at 12 months", "Survival at 60 months", "Median survival time (months)"} <= set(texts)
    hovers = " ".join(str(h) for trace in figure.data for h in (trace.hovertext or ()))
    assert "Survival at 36 months: " in hovers and "% at " in hovers
    marked = [a for a in layout.axes if a.patient_x is not None]
    patient_trace = next(trace for trace in figure.data if trace.name == "this patient")
    assert len(patient_trace.x) == len(marked) == len(layout.axes) - 1  # every axis but Points
    drawing = nomogram_matplotlib(layout)
    assert any(t.get_text() == "Survival at 36 months" for t in drawing.axes[0].texts)
    for fmt, magic in (("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")):
        assert nomogram_file(layout, fmt, page="a4").startswith(magic)
    a4 = page_layout(layout, "a4")
    assert a4.height_px <= 247 / 25.4 * 72 + 1e-6 and a4.source.survival is not None
    assert [a.key for a in a4.axes] == [a.key for a in layout.axes]
