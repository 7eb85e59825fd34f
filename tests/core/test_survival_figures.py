"""The time-to-event figures (core.figures.survival and the static twins in core.figures.static).

Each figure is built from small seeded cohorts run through the real statistics (Kaplan-Meier, log-rank,
td_auc, td_roc_curve) or from small hand-made tables, and its traces are checked to carry exactly those
numbers; every plotly figure serialises to JSON and every static one renders to PNG bytes.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.figures.static import kaplan_meier_png, td_auc_png, td_roc_png
from core.figures.survival import (
    at_risk_table,
    kaplan_meier_figure,
    log_rank_text,
    patient_survival_figure,
    survival_calibration_figure,
    td_auc_figure,
    td_roc_figure,
)
from core.stats.survival.kaplan_meier import kaplan_meier, kaplan_meier_by_group, log_rank
from core.stats.survival.time_dependent import td_auc, td_roc_curve

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    """120 patients in months: a risk score, two risk groups, ~30 % censored, whole-month (tied) times."""
    rng = np.random.default_rng(2027)
    n = 120
    score = rng.normal(size=n)
    event_time = np.ceil(rng.exponential(30 * np.exp(-0.9 * score)))
    censor_time = np.ceil(rng.uniform(10, 80, n))
    return pd.DataFrame({"time": np.minimum(event_time, censor_time), "event": (event_time <= censor_time).astype(int),
                         "score": score, "other": score + rng.normal(scale=1.5, size=n),
                         "group": np.where(score > 0, "High risk", "Low risk")})


def _traces(figure, role: str) -> dict[str, object]:
    return {trace.meta["group"]: trace for trace in figure.data if trace.meta and trace.meta["role"] == role}


def test_kaplan_meier_figure_draws_the_curves_their_bands_censoring_and_number_at_risk(cohort):
    curves = kaplan_meier_by_group(cohort["time"].to_numpy(), cohort["event"].to_numpy(), cohort["group"])
    test = log_rank(cohort["time"].to_numpy(), cohort["event"].to_numpy(), cohort["group"])
    times = [0, 12, 24, 36, 60]
    figure = kaplan_meier_figure(curves, title="Overall survival", time_unit="months", log_rank_p=test.p,
                                 at_risk_times=times)
    lines, low, high = _traces(figure, "curve"), _traces(figure, "band_low"), _traces(figure, "band_high")
    censored, at_risk = _traces(figure, "censored"), _traces(figure, "at_risk")
    assert set(lines) == set(at_risk) == {"High risk", "Low risk"}
    for group, curve in curves.items():
        # The step curve starts at (0, 1) and then takes exactly the Kaplan-Meier steps.
        np.testing.assert_array_equal(lines[group].x, np.concatenate([[0.0], curve.time]))
        np.testing.assert_array_equal(lines[group].y, np.concatenate([[1.0], curve.survival]))
        assert lines[group].line.shape == "hv"
        finite = np.isfinite(curve.lower)
        np.testing.assert_array_equal(low[group].y, np.concatenate([[1.0], curve.lower[finite]]))
        np.testing.assert_array_equal(high[group].y, np.concatenate([[1.0], curve.upper[finite]]))
        # A tick where someone was censored, at the curve's height.
        members = cohort[cohort["group"] == group]
        censor_times = np.unique(members.loc[members["event"] == 0, "time"])
        np.testing.assert_array_equal(censored[group].x, censor_times)
        np.testing.assert_array_equal(censored[group].y, curve.survival_at(censor_times))
        # The table's counts: patients still followed at each time, as survfit's n.risk and by hand.
        counts = [int((members["time"] >= t).sum()) for t in times]
        assert [int(c) for c in at_risk[group].text] == counts
        np.testing.assert_array_equal(at_risk[group].customdata, curve.summary(times)["n_risk"])
        np.testing.assert_array_equal(at_risk[group].x, times)
        assert at_risk[group].xaxis == "x2" and lines[group].xaxis == "x"
    assert counts[0] == len(members)
    texts = [annotation.text for annotation in figure.layout.annotations]
    assert log_rank_text(test.p) in texts and "Number at risk" in texts
    assert log_rank_text(test.p) == f"log-rank p = {test.p:.3f}" or test.p < 0.001
    assert list(figure.layout.xaxis2.tickvals) == times
    assert figure.layout.xaxis2.title.text == "time (months)"
    json.loads(figure.to_json())


def test_kaplan_meier_figure_defaults_without_bands_or_test(cohort):
    curve = kaplan_meier(cohort["time"].to_numpy(), cohort["event"].to_numpy())
    figure = kaplan_meier_figure({"All patients": curve}, title="OS", time_unit="days", show_ci=False)
    assert not _traces(figure, "band_low") and len(_traces(figure, "curve")) == 1
    (table,) = _traces(figure, "at_risk").values()
    # Round times from 0 to at most the last follow-up; everyone is at risk at 0.
    assert table.x[0] == 0 and table.x[-1] <= curve.time[-1] and len(table.x) >= 3
    assert int(table.text[0]) == len(cohort)
    assert not any("log-rank" in (a.text or "") for a in figure.layout.annotations)
    json.loads(figure.to_json())


def test_a_curve_that_reaches_zero_stops_its_band_there():
    # The last patient has the event: S = 0 at the end, where the log-scale interval is undefined.
    curve = kaplan_meier(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 0, 1, 1]))
    assert curve.survival[-1] == 0 and np.isnan(curve.lower[-1])
    figure = kaplan_meier_figure({"a": curve}, title="", time_unit="years", log_rank_p=0.0004)
    (low,) = _traces(figure, "band_low").values()
    assert np.all(np.isfinite(low.y)) and len(low.y) == curve.time.size  # (0, 1) plus the 3 finite steps
    assert "log-rank p < 0.001" in [a.text for a in figure.layout.annotations]
    json.loads(figure.to_json())
    assert at_risk_table({"a": curve}, [0, 2.5, 9]).loc["a"].tolist() == [4, 2, 0]
    with pytest.raises(RadNomoError, match="zero or positive"):
        at_risk_table({"a": curve}, [-1.0])
    with pytest.raises(RadNomoError, match="at least one"):
        kaplan_meier_figure({}, title="", time_unit="months")


def test_td_roc_figure_draws_each_models_curve_to_one_one_with_its_auc(cohort):
    time, event = cohort["time"].to_numpy(), cohort["event"].to_numpy()
    horizon = 24.0
    curves, aucs = {}, {}
    for model in ("score", "other"):
        curves[model] = td_roc_curve(time, event, cohort[model].to_numpy(), horizon)
        row = td_auc(time, event, cohort[model].to_numpy(), [horizon]).iloc[0]
        aucs[model] = (row["auc"], row["auc_low"], row["auc_high"])
    figure = td_roc_figure(curves, aucs, horizon=horizon, time_unit="months",
                           labels={"score": "Score", "other": "Other"})
    assert figure.layout.title.text == "Time-dependent ROC at 24 months"
    drawn = {trace.name.split(":")[0]: trace for trace in figure.data if trace.name}
    for model, label in (("score", "Score"), ("other", "Other")):
        trace = drawn[label]
        np.testing.assert_array_equal(trace.x, curves[model]["fpr"])
        np.testing.assert_array_equal(trace.y, curves[model]["tpr"])
        assert (trace.x[0], trace.y[0], trace.x[-1], trace.y[-1]) == (0, 0, 1, 1)
        assert f"{aucs[model][0]:.3f} ({aucs[model][1]:.3f}-{aucs[model][2]:.3f})" in trace.name
        # The area under the drawn curve is the AUC in the legend.
        assert np.trapezoid(trace.y, trace.x) == pytest.approx(aucs[model][0], rel=1e-12)
    json.loads(figure.to_json())


def test_td_auc_figure_draws_auc_over_horizons_with_intervals(cohort):
    time, event = cohort["time"].to_numpy(), cohort["event"].to_numpy()
    horizons = [12.0, 24.0, 36.0]
    table = pd.concat([td_auc(time, event, cohort[m].to_numpy(), horizons).assign(model=m) for m in ("score", "other")])
    figure = td_auc_figure(table, "months")
    traces = {trace.name: trace for trace in figure.data}
    assert set(traces) == {"score", "other"}
    for model, trace in traces.items():
        rows = table[table["model"] == model]
        np.testing.assert_array_equal(trace.y, rows["auc"])
        np.testing.assert_array_equal(trace.customdata, horizons)
        np.testing.assert_allclose(trace.error_y.array, rows["auc_high"] - rows["auc"])
        np.testing.assert_allclose(trace.error_y.arrayminus, rows["auc"] - rows["auc_low"])
        # Drawn beside its horizon, by less than a tenth of the gap between horizons.
        assert np.all(np.abs(np.asarray(trace.x) - horizons) < 1.2) and not np.allclose(trace.x, horizons)
    assert list(figure.layout.xaxis.tickvals) == horizons
    json.loads(figure.to_json())
    with pytest.raises(RadNomoError, match="auc_low"):
        td_auc_figure(table.drop(columns="auc_low"), "months")


def test_survival_calibration_figure_draws_predicted_against_observed_with_the_diagonal():
    groups = {"clinical": pd.DataFrame({"predicted": [0.9, 0.5, 0.7], "observed": [0.85, 0.45, 0.72],
                                        "low": [0.78, 0.33, 0.6], "high": [0.92, 0.58, 0.82]})}
    figure = survival_calibration_figure(groups, horizon=36, time_unit="months", labels={"clinical": "Clinical"})
    ideal, drawn = figure.data
    assert list(ideal.x) == [0, 1] and list(ideal.y) == [0, 1]
    assert drawn.name == "Clinical"
    np.testing.assert_array_equal(drawn.x, [0.5, 0.7, 0.9])  # in order of the prediction
    np.testing.assert_array_equal(drawn.y, [0.45, 0.72, 0.85])
    np.testing.assert_allclose(drawn.error_y.array, [0.13, 0.10, 0.07])
    np.testing.assert_allclose(drawn.error_y.arrayminus, [0.12, 0.12, 0.07])
    assert figure.layout.xaxis.title.text == "predicted survival at 36 months"
    json.loads(figure.to_json())


def test_patient_survival_figure_marks_the_patients_survival_at_each_horizon(cohort):
    patient = pd.DataFrame({"time": [3.0, 10.0, 20.0, 40.0], "survival": [0.95, 0.8, 0.6, 0.4],
                            "low": [0.9, 0.7, 0.5, 0.3], "high": [0.99, 0.88, 0.7, 0.5]})
    km = kaplan_meier(cohort["time"].to_numpy(), cohort["event"].to_numpy())
    figure = patient_survival_figure(patient, km.to_frame()[["time", "survival"]], [12, 36, 60], "months")
    by_name = {trace.name: trace for trace in figure.data}
    np.testing.assert_array_equal(by_name["this patient"].y, [1.0, 0.95, 0.8, 0.6, 0.4])
    np.testing.assert_array_equal(by_name["training cohort (Kaplan-Meier)"].y, np.concatenate([[1.0], km.survival]))
    marks = by_name["this patient at the horizons"]
    assert list(marks.x) == [12, 36, 60] and list(marks.y) == [0.8, 0.6, 0.4]
    assert list(marks.text) == ["80%", "60%", "40%"]
    assert [shape.x0 for shape in figure.layout.shapes] == [12, 36, 60]
    json.loads(figure.to_json())
    with pytest.raises(RadNomoError, match="low"):
        patient_survival_figure(patient.drop(columns="low"), km.to_frame(), [12], "months")


def test_static_survival_figures_render_to_png(cohort):
    time, event = cohort["time"].to_numpy(), cohort["event"].to_numpy()
    curves = kaplan_meier_by_group(time, event, cohort["group"])
    png = kaplan_meier_png(curves, title="Overall survival", time_unit="months", log_rank_p=0.03,
                           at_risk_times=[0, 24, 48])
    assert png.startswith(PNG) and len(png) > 5000
    roc = {h: {"score": (td_roc_curve(time, event, cohort["score"].to_numpy(), h), "Score")} for h in (12.0, 36.0)}
    assert td_roc_png(roc, {"score": "#E69F00"}, time_unit="months", cohort="Test").startswith(PNG)
    table = td_auc(time, event, cohort["score"].to_numpy(), [12, 24, 36]).assign(model="score")
    assert td_auc_png(table, {"score": "Score"}, {"score": "#E69F00"}, time_unit="months").startswith(PNG)
