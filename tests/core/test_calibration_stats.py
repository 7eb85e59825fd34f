"""core.stats.calibration against rms::val.prob, glm and R's loess (tests/reference/calibration_valprob.R), and its
properties.

Known answers agree with R to ~1e-12 (asserted at 1e-10): the logistic fits are the same maximum-likelihood
problem solved to machine precision; the lowess errors come from a port of R's clowess; the loess curve and band
from the same local fits and operator traces as R's surface = "direct", statistics = "exact".
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import core.stats.calibration as calibration
from core.errors import RadNomoError
from core.stats.calibration import (CALIBRATION_SUMMARY_COLUMNS, FLEXIBLE_CALIBRATION_COLUMNS, calibration_summary,
                                    flexible_calibration)
from core.stats.evaluation import hosmer_lemeshow

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
DATA = pd.read_csv(REFERENCE / "calibration_valprob_data.csv")
STATS = pd.read_csv(REFERENCE / "calibration_valprob_stats.csv")
LOESS = pd.read_csv(REFERENCE / "calibration_valprob_loess.csv")
DATASETS = ["miscalibrated", "ties_extremes", "few_distinct", "skewed", "sample_fused_test"]


def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    rows = DATA[DATA["dataset"] == name]
    return rows["y"].to_numpy(), rows["p"].to_numpy()


def _simulated(seed: int, n: int, a: float = 0.0, b: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded cohort: outcome from logit(true risk) = x, predictions logit(p) = a + b x."""
    rng = np.random.default_rng(seed)
    x = rng.normal(-0.5, 1.2, n)
    y = rng.binomial(1, 1 / (1 + np.exp(-x)))
    y[:2] = (0, 1)  # both classes, whatever the draw
    return y, 1 / (1 + np.exp(-(a + b * x)))


# ---------------------------------------------------------------------------------------------
# Known answers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DATASETS)
def test_summary_matches_val_prob_and_glm(name):
    y, p = _data(name)
    reference = STATS[STATS["dataset"] == name].set_index("statistic")["value"]
    row = calibration_summary(y, p).as_row()
    for key in ("n", "events", "citl", "citl_low", "citl_high", "intercept", "intercept_low", "intercept_high",
                "slope", "slope_low", "slope_high", "ici", "e50", "e90", "emax", "spiegelhalter_z",
                "spiegelhalter_p", "brier"):
        assert row[key] == pytest.approx(reference[key], rel=1e-10, abs=1e-10), key
    # val.prob's own lrm.fit stops at its convergence tolerance, up to ~2e-9 from the fully converged maximum (the
    # tight glm above, the same likelihood): compared at 1e-8.
    assert row["intercept"] == pytest.approx(reference["valprob_intercept"], abs=1e-8)
    assert row["slope"] == pytest.approx(reference["valprob_slope"], abs=1e-8)


@pytest.mark.parametrize("name", DATASETS)
def test_flexible_curve_matches_r_loess_direct_exact(name):
    y, p = _data(name)
    reference = LOESS[LOESS["dataset"] == name].reset_index(drop=True)
    curve = flexible_calibration(y, p)
    assert tuple(curve.columns) == FLEXIBLE_CALIBRATION_COLUMNS
    assert len(curve) == 100
    for column in FLEXIBLE_CALIBRATION_COLUMNS:
        np.testing.assert_allclose(curve[column], reference[column], rtol=1e-10, atol=1e-10, err_msg=column)
    assert curve.attrs["df"] == pytest.approx(reference["df"].iloc[0], rel=1e-10)
    assert curve.attrs["residual_scale"] == pytest.approx(reference["residual_scale"].iloc[0], rel=1e-10)
    assert curve.attrs["df_exact"] is True


def test_probabilities_of_0_or_1_are_left_out_of_the_logistic_fits_and_said():
    summary = calibration_summary(*_data("ties_extremes"))
    assert len(summary.notes) == 1 and summary.notes[0].startswith("3 of 120 patients")
    assert summary.n == 120  # and kept everywhere else: Brier, the E's and S:z match val.prob on all 120 above


def test_pseudo_inverse_neighbourhoods_are_reported():
    curve = flexible_calibration(*_data("few_distinct"))
    assert any("pseudo-inverse" in note for note in curve.attrs["notes"])
    assert not flexible_calibration(*_data("miscalibrated")).attrs["notes"]


def test_row_layout_and_hosmer_lemeshow_are_the_evaluation_modules():
    y, p = _data("sample_fused_test")
    summary = calibration_summary(y, p)
    row = summary.as_row()
    assert tuple(row) == CALIBRATION_SUMMARY_COLUMNS
    assert CALIBRATION_SUMMARY_COLUMNS[:3] == ("n", "events", "citl") and CALIBRATION_SUMMARY_COLUMNS[-1] == "hl_p"
    assert "notes" not in CALIBRATION_SUMMARY_COLUMNS
    hl = hosmer_lemeshow(y, p)
    assert (row["hl_statistic"], row["hl_df"], row["hl_p"]) == (hl.statistic, hl.df, hl.p_value)


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------


@given(st.integers(0, 10_000), st.integers(30, 200))
def test_errors_are_ordered_and_intervals_hold_their_estimates(seed, n):
    y, p = _simulated(seed, n, a=0.3, b=0.8)
    s = calibration_summary(y, p)
    assert 0 <= s.e50 <= s.e90 <= s.emax and 0 <= s.ici <= s.emax
    for name in ("citl", "intercept", "slope"):
        low, estimate, high = getattr(s, f"{name}_low"), getattr(s, name), getattr(s, f"{name}_high")
        assert low < estimate < high
        # Wald: symmetric about the estimate
        assert estimate - low == pytest.approx(high - estimate, rel=1e-9)
    assert 0 <= s.brier <= 1 and 0 <= s.spiegelhalter_p <= 1
    assert (s.n, s.events) == (n, int(y.sum()))


@given(st.integers(0, 10_000), st.floats(-1.5, 1.5), st.floats(0.3, 3.0))
def test_slope_and_intercept_follow_a_logit_affine_change_of_the_predictions(seed, a, b):
    """logit(p') = a + b logit(p): y ~ c0 + c1 logit(p) is y ~ (c0 - c1 a / b) + (c1 / b) logit(p'), the same fit;
    and calibration-in-the-large of p shifted by a on the logit scale (b = 1) moves by exactly -a."""
    y, p = _simulated(seed, 150)
    logit = np.log(p / (1 - p))
    before = calibration_summary(y, p)
    after = calibration_summary(y, 1 / (1 + np.exp(-(a + b * logit))))
    assert after.slope == pytest.approx(before.slope / b, rel=1e-7, abs=1e-9)
    assert after.intercept == pytest.approx(before.intercept - before.slope * a / b, rel=1e-7, abs=1e-9)
    shifted = calibration_summary(y, 1 / (1 + np.exp(-(a + logit))))
    assert shifted.citl == pytest.approx(before.citl - a, abs=1e-8)


@given(st.integers(0, 10_000), st.integers(30, 150))
def test_patient_order_does_not_matter(seed, n):
    y, p = _simulated(seed, n, a=-0.2, b=1.3)
    p = np.round(p, 2)  # ties, where a sort could depend on the order
    p = np.clip(p, 0.01, 0.99)
    if np.ptp(p) == 0:
        return
    permutation = np.random.default_rng(seed).permutation(n)
    first, second = calibration_summary(y, p), calibration_summary(y[permutation], p[permutation])
    for name in CALIBRATION_SUMMARY_COLUMNS:
        assert getattr(second, name) == pytest.approx(getattr(first, name), rel=1e-9, abs=1e-12), name
    curve, permuted = flexible_calibration(y, p, points=25), flexible_calibration(y[permutation], p[permutation],
                                                                                  points=25)
    np.testing.assert_allclose(permuted.to_numpy(), curve.to_numpy(), rtol=1e-9, atol=1e-12)


@given(st.integers(0, 10_000), st.integers(30, 150))
def test_swapping_event_and_non_event_mirrors_the_calibration(seed, n):
    """(y, p) -> (1 - y, 1 - p): the same calibration seen from the other outcome. The slope and Spiegelhalter's z
    are unchanged, both intercepts change sign, and the loess curve is reflected through (0.5, 0.5) (a local
    quadratic is unchanged by x -> 1 - x and reproduces constants, so its fit of 1 - y is 1 - its fit of y)."""
    y, p = _simulated(seed, n, a=0.4, b=0.7)
    s, mirrored = calibration_summary(y, p), calibration_summary(1 - y, 1 - p)
    assert mirrored.slope == pytest.approx(s.slope, rel=1e-7)
    assert mirrored.intercept == pytest.approx(-s.intercept, rel=1e-7, abs=1e-9)
    assert mirrored.citl == pytest.approx(-s.citl, rel=1e-7, abs=1e-9)
    assert mirrored.spiegelhalter_z == pytest.approx(s.spiegelhalter_z, rel=1e-9, abs=1e-12)
    assert mirrored.brier == pytest.approx(s.brier, rel=1e-12)
    curve = flexible_calibration(y, p, points=30)
    reflected = flexible_calibration(1 - y, 1 - p, points=30).iloc[::-1].reset_index(drop=True)
    np.testing.assert_allclose(reflected["predicted"], 1 - curve["predicted"], atol=1e-12)
    np.testing.assert_allclose(reflected["observed"], 1 - curve["observed"], atol=1e-7)
    np.testing.assert_allclose(reflected["high"] - reflected["low"], curve["high"] - curve["low"], rtol=1e-6)


@given(st.integers(0, 10_000), st.integers(20, 200), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_band_holds_the_curve_and_widens_with_the_level(seed, n, level):
    y, p = _simulated(seed, n, a=0.2, b=1.1)
    curve = flexible_calibration(y, p, level=level, points=40)
    assert (curve["low"] < curve["observed"]).all() and (curve["observed"] < curve["high"]).all()
    assert curve["predicted"].iloc[0] == p.min() and curve["predicted"].iloc[-1] == pytest.approx(p.max())
    wider = flexible_calibration(y, p, level=0.999, points=40)
    assert ((wider["high"] - wider["low"]) > (curve["high"] - curve["low"])).all()
    half = (curve["high"] - curve["low"]) / 2
    ratio = half / stats.t.ppf(0.5 + level / 2, curve.attrs["df"])
    reference = (wider["high"] - wider["low"]) / 2 / stats.t.ppf(0.9995, wider.attrs["df"])
    np.testing.assert_allclose(ratio, reference, rtol=1e-9)  # the same standard error at every level


def test_approximate_degrees_of_freedom_are_close_to_the_exact_ones(monkeypatch):
    """Above EXACT_DF_LIMIT delta2 is taken as delta1: against the exact traces on 400 patients, the curve and the
    residual scale are the same and the band moves by under 1e-5 of its width (less as n grows)."""
    y, p = _simulated(3, 400, a=0.1, b=0.9)
    exact = flexible_calibration(y, p)
    monkeypatch.setattr(calibration, "EXACT_DF_LIMIT", 0)
    approximate = flexible_calibration(y, p)
    assert exact.attrs["df_exact"] and not approximate.attrs["df_exact"]
    assert any("approximated" in note for note in approximate.attrs["notes"])
    np.testing.assert_allclose(approximate["observed"], exact["observed"], rtol=1e-10, atol=1e-12)
    assert approximate.attrs["residual_scale"] == pytest.approx(exact.attrs["residual_scale"], rel=1e-10)
    assert approximate.attrs["df"] == pytest.approx(exact.attrs["df"], rel=1e-2)
    np.testing.assert_allclose(approximate["high"] - approximate["low"], exact["high"] - exact["low"], rtol=1e-5)


@pytest.mark.slow  # a few seconds of CPU: 10,000 local fits over 10,000 patients
def test_ten_thousand_patients_without_an_n_by_n_matrix():
    y, p = _simulated(11, 10_000, a=0.3, b=0.8)
    curve = flexible_calibration(y, p)
    assert len(curve) == 100 and curve.attrs["df_exact"] is False
    assert np.isfinite(curve.to_numpy()).all()
    assert 9_900 < curve.attrs["df"] < 10_000
    assert calibration_summary(y, p).slope == pytest.approx(1 / 0.8, rel=0.15)


def test_perfect_separation_gives_no_slope_and_says_why():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    s = calibration_summary(y, p)
    assert math.isnan(s.slope) and math.isnan(s.intercept_low) and math.isfinite(s.citl)
    assert any("separate" in note for note in s.notes)


@pytest.mark.parametrize(("y", "p", "message"), [
    ([0, 1, 0, 1], [0.1, float("nan"), 0.3, 0.4], "missing"),
    ([0, 1, 0, 1], [0.1, 1.2, 0.3, 0.4], "between 0 and 1"),
    ([0, 1, 2, 1], [0.1, 0.2, 0.3, 0.4], "0/1 outcome"),
    ([0, 1, float("nan"), 1], [0.1, 0.2, 0.3, 0.4], "outcome of every patient"),
    ([1, 1, 1, 1], [0.1, 0.2, 0.3, 0.4], "both events and non-events"),
    ([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3], "differ between patients"),
    ([0, 1, 0], [0.3, 0.2, 0.1, 0.5], "the outcome has 3 values"),
])
def test_bad_inputs_are_refused_with_a_reason(y, p, message):
    for call in (calibration_summary, flexible_calibration):
        with pytest.raises(RadNomoError, match=message):
            call(y, p)


def test_bad_level_points_and_crowded_probabilities_are_refused():
    y, p = _simulated(1, 50)
    with pytest.raises(RadNomoError, match="confidence level"):
        calibration_summary(y, p, level=1.0)
    with pytest.raises(RadNomoError, match="confidence level"):
        flexible_calibration(y, p, level=0)
    with pytest.raises(RadNomoError, match="evaluation points"):
        flexible_calibration(y, p, points=1)
    with pytest.raises(RadNomoError, match="at least 4 patients"):
        flexible_calibration([0, 1, 1], [0.2, 0.5, 0.7])
    crowded = np.r_[np.full(45, 0.2), np.linspace(0.3, 0.9, 5)]  # 90 % share one probability; the span is 75 %
    with pytest.raises(RadNomoError, match="share one predicted probability"):
        flexible_calibration(y, crowded)
