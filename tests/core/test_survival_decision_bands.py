"""Decision analysis at a horizon with bootstrap bands (issue 28): the point estimates are the decision curve's
(checked against dcurves' formula in test_survival_calibration_nomogram.py), the vectorised resampling equals a
plain loop over resampled cohorts, the bands are reproducible from a seed and the derived curves keep their
definitions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.stats.decision_analysis import DECISION_ANALYSIS_COLUMNS, NET_BENEFIT_DIFFERENCE_COLUMNS, bootstrap_bands
from core.stats.survival.decision import (
    UNKNOWN_RISK_NOTE,
    survival_decision_analysis,
    survival_decision_curve,
    survival_net_benefit_difference,
)

THRESHOLDS = np.round(np.linspace(0.05, 0.8, 16), 10)


def _cohort(seed: int, n: int = 150):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    event_time = rng.exponential(10 * np.exp(-0.8 * x))
    censor = rng.uniform(2, 30, n)
    time = np.round(np.minimum(event_time, censor), 1) + 0.1     # ties
    risk = 1 - np.exp(-np.exp(0.9 * x - 0.5))
    other = 1 - np.exp(-np.exp(0.4 * x + rng.normal(0, 0.5, n) - 0.5))
    return time, (event_time <= censor).astype(int), risk, other


def test_point_estimates_are_the_decision_curve_and_the_definitions_hold():
    time, event, risk, _ = _cohort(1)
    table = survival_decision_analysis(time, event, risk, 10, THRESHOLDS, n_boot=20)
    curve = survival_decision_curve(time, event, risk, 10, THRESHOLDS)
    assert list(table.columns) == [*DECISION_ANALYSIS_COLUMNS, "note"]
    np.testing.assert_allclose(table["net_benefit"], curve["net_benefit"], rtol=0, atol=1e-15)
    np.testing.assert_allclose(table["treat_all"], curve["treat_all"], rtol=0, atol=1e-15)
    np.testing.assert_allclose(table["high_risk_per_1000"], curve["test_positive_rate"] * 1000, atol=1e-12)
    np.testing.assert_allclose(table["high_risk_events_per_1000"], curve["tp_rate"] * 1000, atol=1e-12)
    odds = THRESHOLDS / (1 - THRESHOLDS)
    np.testing.assert_allclose(table["interventions_avoided"],
                               (table["net_benefit"] - table["treat_all"]) / odds * 100, atol=1e-12)
    everyone = (curve["treat_all"] + odds) / (1 + odds)   # treat all = K - (1 - K) odds: the cohort's risk K
    np.testing.assert_allclose(table["standardized_net_benefit"], table["net_benefit"] / everyone, atol=1e-12)


def _naive_statistics(time, event, risk, horizon, thresholds):
    """The same vector from survival_decision_curve on the resampled patients (repeats as separate rows)."""
    def statistic(rows):
        curve = survival_decision_curve(time[rows], event[rows], risk[rows], horizon, thresholds)
        odds = thresholds / (1 - thresholds)
        everyone = (curve["treat_all"].to_numpy() + odds) / (1 + odds)
        nb, treat_all = curve["net_benefit"].to_numpy(), curve["treat_all"].to_numpy()
        return np.concatenate([nb, treat_all, (nb - treat_all) / odds * 100, nb / everyone,
                               curve["test_positive_rate"].to_numpy() * 1000, curve["tp_rate"].to_numpy() * 1000])
    return statistic


def test_bands_equal_a_plain_loop_over_resampled_cohorts():
    time, event, risk, _ = _cohort(2, 90)
    table = survival_decision_analysis(time, event, risk, 8, THRESHOLDS, n_boot=40, seed=5)
    low, high = bootstrap_bands(_naive_statistics(time, event, risk, 8, THRESHOLDS), len(time), n_boot=40, seed=5)
    names = ["net_benefit", "treat_all", "interventions_avoided", "standardized_net_benefit", "high_risk_per_1000",
             "high_risk_events_per_1000"]
    size = len(THRESHOLDS)
    for i, name in enumerate(names):
        np.testing.assert_allclose(table[f"{name}_low"], low[i * size:(i + 1) * size], atol=1e-12, err_msg=name)
        np.testing.assert_allclose(table[f"{name}_high"], high[i * size:(i + 1) * size], atol=1e-12, err_msg=name)


def test_difference_band_equals_a_plain_paired_loop():
    time, event, risk, other = _cohort(3, 90)

    def naive(rows):
        a = survival_decision_curve(time[rows], event[rows], risk[rows], 8, THRESHOLDS)["net_benefit"].to_numpy()
        b = survival_decision_curve(time[rows], event[rows], other[rows], 8, THRESHOLDS)["net_benefit"].to_numpy()
        return a - b

    table = survival_net_benefit_difference(time, event, risk, other, 8, THRESHOLDS, n_boot=40, seed=9)
    assert list(table.columns) == list(NET_BENEFIT_DIFFERENCE_COLUMNS)
    low, high = bootstrap_bands(naive, len(time), n_boot=40, seed=9)
    np.testing.assert_allclose(table["difference"], naive(np.arange(len(time))), atol=1e-15)
    np.testing.assert_allclose(table["low"], low, atol=1e-12)
    np.testing.assert_allclose(table["high"], high, atol=1e-12)


def test_bands_are_reproducible_from_the_seed():
    time, event, risk, other = _cohort(4)
    first = survival_decision_analysis(time, event, risk, 10, THRESHOLDS, n_boot=30, seed=11)
    again = survival_decision_analysis(time, event, risk, 10, THRESHOLDS, n_boot=30, seed=11)
    other_seed = survival_decision_analysis(time, event, risk, 10, THRESHOLDS, n_boot=30, seed=12)
    assert first.equals(again)
    assert not np.allclose(first["net_benefit_low"], other_seed["net_benefit_low"])
    np.testing.assert_array_equal(first["net_benefit"], other_seed["net_benefit"])
    difference = survival_net_benefit_difference(time, event, risk, other, 10, THRESHOLDS, n_boot=30, seed=11)
    assert difference.equals(survival_net_benefit_difference(time, event, risk, other, 10, THRESHOLDS, n_boot=30,
                                                             seed=11))


def test_treat_all_band_does_not_depend_on_the_model_and_a_model_against_itself_differs_by_nothing():
    time, event, risk, other = _cohort(5)
    a = survival_decision_analysis(time, event, risk, 10, THRESHOLDS, n_boot=30, seed=3)
    b = survival_decision_analysis(time, event, other, 10, THRESHOLDS, n_boot=30, seed=3)
    for column in ("treat_all", "treat_all_low", "treat_all_high"):
        np.testing.assert_array_equal(a[column], b[column])
    same = survival_net_benefit_difference(time, event, risk, risk, 10, THRESHOLDS, n_boot=30, seed=3)
    assert (same[["difference", "low", "high"]].to_numpy() == 0).all()


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(30, 160), st.floats(0.5, 0.95))
def test_bands_are_ordered_and_the_impact_curve_falls_with_the_threshold(seed, n, level):
    time, event, risk, _ = _cohort(seed, n)
    horizon = float(np.quantile(time, 0.5))
    table = survival_decision_analysis(time, event, risk, horizon, THRESHOLDS, n_boot=25, seed=seed, level=level)
    for name in ("net_benefit", "treat_all", "interventions_avoided", "high_risk_per_1000",
                 "high_risk_events_per_1000"):
        low, high = table[f"{name}_low"], table[f"{name}_high"]
        known = low.notna() & high.notna()
        assert (low[known] <= high[known] + 1e-12).all(), name
    # Every resample calls fewer patients high risk at a higher threshold, so each quantile falls too.
    for column in ("high_risk_per_1000", "high_risk_per_1000_low", "high_risk_per_1000_high"):
        assert (np.diff(table[column]) <= 1e-9).all(), column
    assert (table["high_risk_events_per_1000"].fillna(0) <= table["high_risk_per_1000"] + 1e-9).all()
    assert ((table["high_risk_per_1000_low"] >= 0) & (table["high_risk_per_1000_high"] <= 1000)).all()


def test_an_unknown_risk_is_noted_and_left_out_of_the_band():
    # The two highest-risk patients are censored early: above 0.85 nobody is followed to the horizon.
    time = np.array([1.0, 1.5, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
    event = np.array([0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 0])
    risk = np.array([0.9, 0.9, 0.5, 0.4, 0.6, 0.3, 0.2, 0.5, 0.1, 0.3, 0.2, 0.1])
    table = survival_decision_analysis(time, event, risk, 9, [0.2, 0.85], n_boot=50, seed=1)
    assert np.isnan(table["net_benefit"].iloc[1]) and table["note"].iloc[1] == UNKNOWN_RISK_NOTE
    assert table["note"].iloc[0] == "" and np.isfinite(table["net_benefit"].iloc[0])


def test_errors_at_the_boundary():
    time, event, risk, other = _cohort(6, 60)
    with pytest.raises(RadNomoError, match="horizon"):
        survival_decision_analysis(time, event, risk, float(time.max()) + 5, n_boot=10)
    with pytest.raises(RadNomoError, match="at least 2 resamples"):
        survival_decision_analysis(time, event, risk, 8, n_boot=1)
    with pytest.raises(RadNomoError, match="confidence level"):
        survival_decision_analysis(time, event, risk, 8, n_boot=10, level=1.5)
    with pytest.raises(RadNomoError, match="per a positive number"):
        survival_decision_analysis(time, event, risk, 8, n_boot=10, per=0)
    with pytest.raises(RadNomoError, match="strictly between 0 and 1"):
        survival_decision_analysis(time, event, risk, 8, [0.0, 0.5], n_boot=10)
    with pytest.raises(RadNomoError, match="between 0 and 1"):
        survival_net_benefit_difference(time, event, risk, other + 1, 8, n_boot=10)
    with pytest.raises(RadNomoError, match="one value per patient"):
        survival_net_benefit_difference(time, event, risk, other[:-1], 8, n_boot=10)
