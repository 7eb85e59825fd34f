"""Flexible calibration at a horizon (Austin, Harrell & van Klaveren 2020): known answers from R (survival 3.5,
rms 6.5; tests/reference/survival_flexible_calibration.R), properties and the boundary's errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.stats.survival.flexible_calibration import rcs_basis, rcs_knots, survival_flexible_calibration

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
SETS = ["simulated", "small", "sample"]
# R's coxph stops at eps = 1e-10 (relative change of the log-likelihood), ours at 1e-12: the coefficients, and
# with them the observed risks, agree to ~1e-9 (1e-15 where both reach the maximum exactly).
TOLERANCE = 1e-8


def _reference(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / f"survival_flexible_calibration_{name}.csv")


@pytest.fixture(scope="module")
def r_answers():
    data = _reference("data")
    ours = {}
    for name in SETS:
        d = data[data["set"] == name]
        ours[name] = survival_flexible_calibration(d["time"].to_numpy(), d["event"].to_numpy(), d["pred"].to_numpy(),
                                                   float(d["horizon"].iloc[0]))
    return {"ours": ours, "summary": _reference("summary").set_index("set"), "knots": _reference("knots"),
            "patients": _reference("patients"), "curve": _reference("curve")}


@pytest.mark.parametrize("name", SETS)
def test_summary_matches_r(r_answers, name):
    ours, r = r_answers["ours"][name], r_answers["summary"].loc[name]
    for statistic in ("ici", "e50", "e90", "emax"):
        assert getattr(ours, statistic) == pytest.approx(r[statistic], abs=TOLERANCE), statistic
    assert (ours.n, ours.events) == (r["n"], r["events"])
    assert ours.note == ""


@pytest.mark.parametrize("name", SETS)
def test_knots_observed_risks_and_curve_match_r(r_answers, name):
    ours = r_answers["ours"][name]
    knots = r_answers["knots"]
    np.testing.assert_allclose(ours.knots, knots.loc[knots["set"] == name, "knot"], rtol=0, atol=1e-12)
    patients = r_answers["patients"]
    np.testing.assert_allclose(ours.patients["observed"], patients.loc[patients["set"] == name, "observed"],
                               rtol=0, atol=TOLERANCE)
    curve = r_answers["curve"][r_answers["curve"]["set"] == name]
    assert list(ours.curve.columns) == ["predicted", "observed", "low", "high"]
    np.testing.assert_allclose(ours.curve["predicted"], curve["predicted"], rtol=0, atol=1e-12)
    for column in ("observed", "low", "high"):
        np.testing.assert_allclose(ours.curve[column], curve[column], rtol=0, atol=TOLERANCE, err_msg=column)


@pytest.mark.parametrize("case", ["few", "top_tied", "both_tied", "under_100", "over_100"])
def test_default_knots_follow_rcspline_eval(case):
    data, knots = _reference("rcs_data"), _reference("rcs_knots")
    ours, note = rcs_knots(data.loc[data["case"] == case, "x"].to_numpy())
    np.testing.assert_allclose(ours, knots.loc[knots["case"] == case, "knot"], rtol=0, atol=1e-12)
    assert (note != "") == (case == "few")   # rcspline.eval warns only there


def test_rcs_basis_is_linear_beyond_the_outer_knots():
    knots = np.array([-1.0, 0.5, 2.0])
    x = np.array([3.0, 4.0, 5.0, 6.0])          # past the last knot the spline is linear: constant differences
    basis = rcs_basis(x, knots)
    np.testing.assert_allclose(np.diff(basis[:, 1], 2), 0, atol=1e-12)
    assert np.all(rcs_basis(np.array([-3.0, -1.0]), knots)[:, 1] == 0)   # and 0 below the first


def _cohort(seed: int, n: int, strength: float, shift: float):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    event_time = rng.exponential(8 * np.exp(-0.8 * x))
    censor = rng.uniform(2, 25, n)
    time = np.round(np.minimum(event_time, censor), 2) + 0.01
    survival = np.exp(-np.exp(strength * x + shift))
    return time, (event_time <= censor).astype(int), survival


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(40, 250), st.floats(0.3, 1.8), st.floats(-1.5, 0.5))
def test_error_summaries_are_ordered_and_the_band_holds_the_curve(seed, n, strength, shift):
    time, event, survival = _cohort(seed, n, strength, shift)
    horizon = float(np.quantile(time, 0.6))
    if not ((event == 1) & (time <= horizon)).any():
        return
    result = survival_flexible_calibration(time, event, survival, horizon, points=30)
    assert 0 <= result.e50 <= result.e90 <= result.emax <= 1
    assert 0 <= result.ici <= result.emax
    curve = result.curve
    assert len(curve) == 30 and np.all(np.diff(curve["predicted"]) > 0)
    assert np.all(curve["low"] <= curve["observed"] + 1e-12) and np.all(curve["observed"] <= curve["high"] + 1e-12)
    assert np.all((curve["low"] >= 0) & (curve["high"] <= 1))
    np.testing.assert_allclose(result.ici, np.mean(np.abs(result.patients["observed"] - result.patients["predicted"])))


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0.1, 30))
def test_the_order_of_patients_and_the_time_unit_do_not_matter(seed, scale):
    # The Cox model depends on the times only through their order: months or days give the same calibration.
    time, event, survival = _cohort(seed, 120, 1.0, -0.5)
    horizon = float(np.quantile(time, 0.5))
    base = survival_flexible_calibration(time, event, survival, horizon)
    order = np.random.default_rng(seed).permutation(len(time))
    moved = survival_flexible_calibration(time[order] * scale, event[order], survival[order], horizon * scale)
    for statistic in ("ici", "e50", "e90", "emax"):
        assert getattr(moved, statistic) == pytest.approx(getattr(base, statistic), abs=1e-9)
    np.testing.assert_allclose(moved.curve.to_numpy(), base.curve.to_numpy(), atol=1e-9)
    np.testing.assert_allclose(moved.patients["observed"], base.patients["observed"].to_numpy()[order], atol=1e-9)


def test_a_wider_level_gives_a_wider_band():
    time, event, survival = _cohort(3, 150, 1.0, -0.5)
    narrow = survival_flexible_calibration(time, event, survival, 6.0, level=0.8).curve
    wide = survival_flexible_calibration(time, event, survival, 6.0, level=0.99).curve
    np.testing.assert_allclose(narrow["observed"], wide["observed"])
    assert np.all(wide["low"] <= narrow["low"]) and np.all(wide["high"] >= narrow["high"])
    assert np.any(wide["high"] - wide["low"] > narrow["high"] - narrow["low"])


def test_errors_at_the_boundary():
    time, event, survival = _cohort(5, 80, 1.0, -0.5)
    with pytest.raises(RadNomoError, match="within the follow-up"):
        survival_flexible_calibration(time, event, survival, float(time.max()) + 1)
    with pytest.raises(RadNomoError, match="no event at or before"):
        survival_flexible_calibration(time, event, survival, float(time.min()) / 2)
    with pytest.raises(RadNomoError, match="0 or 1"):
        survival_flexible_calibration(time, event, np.r_[1.0, survival[1:]], 6.0)
    with pytest.raises(RadNomoError, match="one value per patient"):
        survival_flexible_calibration(time, event[:-1], survival, 6.0)
    with pytest.raises(RadNomoError, match="at least 6 patients"):
        survival_flexible_calibration(time[:5], event[:5], survival[:5], 6.0)
    with pytest.raises(RadNomoError, match="1 \\(event\\) or 0"):
        survival_flexible_calibration(time, event * 2, survival, 6.0)
    with pytest.raises(RadNomoError, match="confidence level"):
        survival_flexible_calibration(time, event, survival, 6.0, level=95)
    with pytest.raises(RadNomoError, match="at least 2 points"):
        survival_flexible_calibration(time, event, survival, 6.0, points=1)
    with pytest.raises(RadNomoError, match="at least 6 values"):
        rcs_knots(np.arange(5.0))
