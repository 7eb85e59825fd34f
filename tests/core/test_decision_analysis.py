"""Decision curves with bootstrap bands, net-benefit difference, interventions avoided, standardized net benefit
and the clinical impact curve: R's answers, dcurves, an independent bootstrap loop, properties, edges.

Known answers: tests/reference/decision_analysis.R writes the formulas out in base R (rmda and dcurves are not
installed for R) on a seeded cohort whose probabilities equal the thresholds exactly for most patients (the
treated-at-equality rule matters). Same arithmetic: tolerance 1e-12. The bootstrap bands cannot be compared
with R (different random streams); they are compared with a plain loop over resamples drawn from the same
numpy Generator, through the existing ``decision_curve``, at 1e-12.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.stats.decision_analysis import (DECISION_ANALYSIS_COLUMNS, NET_BENEFIT_DIFFERENCE_COLUMNS, bootstrap_bands,
                                          decision_analysis, net_benefit_difference)
from core.stats.evaluation import decision_curve

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
TOL = {"rtol": 0, "atol": 1e-12}


@pytest.fixture(scope="module")
def reference() -> tuple[pd.DataFrame, pd.DataFrame]:
    return (pd.read_csv(REFERENCE / "decision_analysis_data.csv"),
            pd.read_csv(REFERENCE / "decision_analysis_answers.csv"))


def _simulated(n: int = 300, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(0.8 - 1.2 * x))).astype(int)
    return y, 1 / (1 + np.exp(0.8 - x)), 1 / (1 + np.exp(0.5 - 0.5 * x - rng.normal(0, 0.5, n)))


def test_decision_analysis_equals_r(reference) -> None:
    data, answers = reference
    ours = decision_analysis(data["y"], data["p_a"], answers["threshold"], n_boot=20)
    assert tuple(ours.columns) == DECISION_ANALYSIS_COLUMNS
    np.testing.assert_array_equal(ours["threshold"], answers["threshold"])
    for name in ("net_benefit", "treat_all", "interventions_avoided", "standardized_net_benefit",
                 "high_risk_per_1000", "high_risk_events_per_1000"):
        np.testing.assert_allclose(ours[name], answers[f"{name}_a"], **TOL, err_msg=name)
    # the data put patients exactly on thresholds: they are treated (p >= pt)
    assert np.isin(data["p_a"], answers["threshold"]).mean() > 0.5


def test_net_benefit_difference_equals_r(reference) -> None:
    data, answers = reference
    ours = net_benefit_difference(data["y"], data["p_a"], data["p_b"], answers["threshold"], n_boot=20)
    assert tuple(ours.columns) == NET_BENEFIT_DIFFERENCE_COLUMNS
    np.testing.assert_allclose(ours["difference"], answers["difference"], **TOL)


def test_net_benefit_equals_dcurves(reference) -> None:
    """dcurves (Python port of the R/Stata dca) at its default thresholds; its rates are products of rates, so
    the arithmetic differs in the last bits: 1e-12."""
    dcurves = pytest.importorskip("dcurves")
    data, _ = reference
    thresholds = np.arange(1, 100) / 100
    theirs = dcurves.dca(data=data, outcome="y", modelnames=["p_a"], thresholds=list(thresholds), nper=100)
    ours = decision_analysis(data["y"], data["p_a"], thresholds, n_boot=20)
    model = theirs[theirs["model"] == "p_a"].reset_index(drop=True)
    everyone = theirs[theirs["model"] == "all"].reset_index(drop=True)
    np.testing.assert_allclose(ours["net_benefit"], model["net_benefit"], **TOL)
    np.testing.assert_allclose(ours["treat_all"], everyone["net_benefit"], **TOL)
    np.testing.assert_allclose(ours["interventions_avoided"], model["net_intervention_avoided"], **TOL)
    np.testing.assert_allclose(ours["high_risk_per_1000"], model["test_pos_rate"] * 1000, **TOL)


def test_point_estimates_equal_the_decision_curve() -> None:
    y, p, _ = _simulated()
    ours, existing = decision_analysis(y, p, n_boot=20), decision_curve(y, p)
    np.testing.assert_array_equal(ours["threshold"], existing["threshold"])
    np.testing.assert_array_equal(ours["net_benefit"], existing["net_benefit"])
    np.testing.assert_array_equal(ours["treat_all"], existing["treat_all"])


def test_bands_equal_a_plain_bootstrap_loop() -> None:
    """Same Generator, same draws, resample after resample, through decision_curve on the resampled patients."""
    y, p, q = _simulated(n=120)
    n_boot, seed, level = 60, 11, 0.9
    rng = np.random.default_rng(seed)
    draws, differences = [], []
    for _ in range(n_boot):
        rows = rng.integers(0, len(y), len(y))
        curve = decision_curve(y[rows], p[rows])
        draws.append(curve["net_benefit"].to_numpy())
        differences.append(curve["net_benefit"].to_numpy() - decision_curve(y[rows], q[rows])["net_benefit"])
    ours = decision_analysis(y, p, n_boot=n_boot, seed=seed, level=level)
    np.testing.assert_allclose(ours["net_benefit_low"], np.quantile(draws, 0.05, axis=0), **TOL)
    np.testing.assert_allclose(ours["net_benefit_high"], np.quantile(draws, 0.95, axis=0), **TOL)
    paired = net_benefit_difference(y, p, q, n_boot=n_boot, seed=seed, level=level)
    np.testing.assert_allclose(paired["low"], np.quantile(differences, 0.05, axis=0), **TOL)
    np.testing.assert_allclose(paired["high"], np.quantile(differences, 0.95, axis=0), **TOL)


def test_derived_curves_follow_their_definitions() -> None:
    y, p, _ = _simulated()
    table = decision_analysis(y, p, n_boot=50)
    odds = table["threshold"] / (1 - table["threshold"])
    np.testing.assert_allclose(table["interventions_avoided"],
                               (table["net_benefit"] - table["treat_all"]) / odds * 100, **TOL)
    np.testing.assert_allclose(table["standardized_net_benefit"], table["net_benefit"] / y.mean(), **TOL)
    assert (table["high_risk_events_per_1000"] <= table["high_risk_per_1000"]).all()
    assert (table["high_risk_per_1000_low"] <= table["high_risk_per_1000_high"]).all()
    assert table["high_risk_per_1000"].is_monotonic_decreasing
    for name in ("net_benefit", "treat_all", "interventions_avoided", "standardized_net_benefit"):
        assert (table[f"{name}_low"] <= table[f"{name}_high"]).all()
    per_1000 = decision_analysis(y, p, n_boot=50, per=1000)
    np.testing.assert_allclose(per_1000["interventions_avoided"], table["interventions_avoided"] * 10, **TOL)


def test_same_seed_same_bands_and_unsorted_thresholds() -> None:
    y, p, q = _simulated()
    first, again = decision_analysis(y, p, n_boot=40, seed=5), decision_analysis(y, p, n_boot=40, seed=5)
    pd.testing.assert_frame_equal(first, again)
    other = decision_analysis(y, p, n_boot=40, seed=6)
    assert not np.allclose(first["net_benefit_low"], other["net_benefit_low"])
    shuffled = [0.3, 0.05, 0.5, 0.2]
    table = decision_analysis(y, p, shuffled, n_boot=40, seed=5).set_index("threshold")
    ordered = decision_analysis(y, p, sorted(shuffled), n_boot=40, seed=5).set_index("threshold")
    pd.testing.assert_frame_equal(table.loc[sorted(shuffled)], ordered)


def test_a_model_against_itself_differs_by_nothing() -> None:
    y, p, _ = _simulated()
    same = net_benefit_difference(y, p, p, n_boot=30)
    assert (same[["difference", "low", "high"]].to_numpy() == 0).all()


def test_bootstrap_bands_keep_the_strata_sizes() -> None:
    strata = np.array(["b"] * 7 + ["a"] * 13)
    low, high = bootstrap_bands(lambda rows: np.array([(strata[rows] == "a").sum(), len(rows)]), 20, n_boot=30,
                                strata=strata)
    np.testing.assert_array_equal(low, [13, 20])
    np.testing.assert_array_equal(high, [13, 20])
    loose_low, loose_high = bootstrap_bands(lambda rows: np.array([(strata[rows] == "a").sum()]), 20, n_boot=200)
    assert loose_low[0] < 13 < loose_high[0]


def test_bootstrap_bands_leave_nan_resamples_out() -> None:
    values = np.arange(10.0)
    seen: list[np.ndarray] = []

    def statistic(rows: np.ndarray) -> np.ndarray:
        mean = values[rows].mean()
        seen.append(np.array([mean, np.nan if mean > 4.5 else mean, np.nan]))
        return seen[-1]

    low, high = bootstrap_bands(statistic, 10, n_boot=100, seed=1, level=0.8)
    draws = np.array(seen)
    kept = draws[~np.isnan(draws[:, 1]), 1]
    assert 0 < len(kept) < 100
    np.testing.assert_allclose([low[0], high[0]], np.quantile(draws[:, 0], [0.1, 0.9]), **TOL)
    np.testing.assert_allclose([low[1], high[1]], np.quantile(kept, [0.1, 0.9]), **TOL)
    assert np.isnan(low[2]) and np.isnan(high[2])


@pytest.mark.parametrize(("call", "message"), [
    (lambda: bootstrap_bands(lambda r: np.zeros(2), 10, n_boot=1), "at least 2 resamples"),
    (lambda: bootstrap_bands(lambda r: np.zeros(2), 10, level=1.0), "confidence level"),
    (lambda: bootstrap_bands(lambda r: np.zeros(2), 0), "at least one patient"),
    (lambda: bootstrap_bands(lambda r: np.zeros(2), 10, strata=[1, 2]), "one label per patient"),
    (lambda: bootstrap_bands(lambda r: np.zeros(2), 3, strata=[1, None, 2]), "missing labels"),
    (lambda: bootstrap_bands(lambda r: np.zeros((2, 2)), 10), "1-d vector"),
    (lambda: bootstrap_bands(lambda r: np.zeros(int(r[0]) % 3 + 1), 10, n_boot=50), "as many on every"),
    (lambda: decision_analysis([0, 1, np.nan], [0.1, 0.2, 0.3]), "outcome of every patient"),
    (lambda: decision_analysis([0, 1, 1], [0.1, 0.2, 1.3]), "between 0 and 1"),
    (lambda: decision_analysis([0, 1, 1], [0.1, np.nan, 0.3]), "missing"),
    (lambda: decision_analysis([0, 0, 0], [0.1, 0.2, 0.3]), "both classes"),
    (lambda: decision_analysis([0, 1, 1], [0.1, 0.2, 0.3], [0.0, 0.5]), "strictly between 0 and 1"),
    (lambda: decision_analysis([0, 1, 1], [0.1, 0.2, 0.3], []), "at least one threshold"),
    (lambda: decision_analysis([0, 1, 1], [0.1, 0.2, 0.3], per=0), "positive number"),
    (lambda: net_benefit_difference([0, 1, 1], [0.1, 0.2, 0.3], [0.1, 0.2]), "same length"),
])
def test_bad_input_is_refused(call, message: str) -> None:
    with pytest.raises(RadNomoError, match=message):
        call()


cohorts = st.integers(min_value=4, max_value=80).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda y: 0 < sum(y) < len(y)),
    st.lists(st.floats(0.001, 1), min_size=n, max_size=n)))


@settings(max_examples=50, deadline=None)
@given(cohorts, st.floats(1e-6, 0.5))
def test_treat_all_tends_to_the_prevalence_and_treating_everyone_avoids_nothing(data, pt) -> None:
    y, p = np.asarray(data[0]), np.asarray(data[1])
    below = min(pt, float(p.min()))  # at or below every probability the model treats everyone
    table = decision_analysis(y, p, [1e-9, below, pt], n_boot=5)
    prevalence = y.mean()
    assert table["treat_all"].iloc[0] == pytest.approx(prevalence, abs=1e-8)
    assert abs(table["treat_all"].iloc[2] - prevalence) <= pt / (1 - pt) + 1e-12
    assert table["net_benefit"].iloc[1] == pytest.approx(table["treat_all"].iloc[1], abs=1e-12)
    assert table["interventions_avoided"].iloc[1] == pytest.approx(0, abs=1e-9)
    assert table["high_risk_per_1000"].iloc[1] == pytest.approx(1000)
    assert table["high_risk_events_per_1000"].iloc[1] == pytest.approx(1000 * prevalence)
