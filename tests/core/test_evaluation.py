"""Evaluation statistics: known answers (scikit-learn, R pROC, brute force, hand-computed), properties."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.stats.evaluation import (binary_metrics, bootstrap_ci, calibration_curve, calibration_stats, compare_models,
                             decision_curve, delong_test, hosmer_lemeshow, performance_table, roc_auc, youden_cutoff)

REFERENCE = Path(__file__).resolve().parents[1] / "reference"


def _brute_force_delong(y, scores):
    """DeLong et al. (1988) structural components by the O(m n) definition, for checking the fast version."""
    y = np.asarray(y)
    components10, components01, aucs = [], [], []
    for s in scores:
        x, z = s[y == 1], s[y == 0]
        psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
        aucs.append(psi.mean())
        components10.append(psi.mean(axis=1))
        components01.append(psi.mean(axis=0))
    v10, v01 = np.array(components10), np.array(components01)
    m, n = v10.shape[1], v01.shape[1]
    return np.array(aucs), np.cov(v10) / m + np.cov(v01) / n


scores_strategy = st.lists(st.tuples(st.integers(0, 1), st.integers(0, 6), st.integers(0, 6)), min_size=8,
                           max_size=60)


@given(rows=scores_strategy)
def test_auc_equals_scikit_learn_and_delong_equals_brute_force(rows):
    from sklearn.metrics import roc_auc_score

    data = np.array(rows, dtype=float)
    y, a, b = data[:, 0], data[:, 1], data[:, 2]
    if len(np.unique(y)) < 2 or min(y.sum(), len(y) - y.sum()) < 2:
        return
    assert roc_auc(y, a).auc == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    aucs, cov = _brute_force_delong(y, [a, b])
    assert roc_auc(y, a).variance == pytest.approx(cov[0, 0], abs=1e-12)
    result = delong_test(y, a, b)
    assert (result.auc_a, result.auc_b) == pytest.approx(tuple(aucs), abs=1e-12)
    variance = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    if variance > 1e-12:
        assert result.z == pytest.approx((aucs[0] - aucs[1]) / np.sqrt(variance), rel=1e-9)


def test_roc_auc_and_delong_test_match_proc():
    data = pd.read_csv(REFERENCE / "proc_delong_data.csv")
    answers = pd.read_csv(REFERENCE / "proc_delong.csv").iloc[0]
    a, b = roc_auc(data.y, data.a), roc_auc(data.y, data.b)
    assert (a.auc, a.ci_low, a.ci_high, a.variance) == pytest.approx(
        (answers.auc_a, answers.low_a, answers.high_a, answers.var_a), abs=1e-12)
    assert (b.auc, b.ci_low, b.ci_high) == pytest.approx((answers.auc_b, answers.low_b, answers.high_b), abs=1e-12)
    test = delong_test(data.y, data.a, data.b)
    assert test.z == pytest.approx(answers.z, abs=1e-10) and test.p_value == pytest.approx(answers.p, abs=1e-12)
    cutoff = youden_cutoff(data.y, data.a)
    metrics = binary_metrics(data.y, data.a, cutoff)
    assert metrics.loc["SENS", "estimate"] == pytest.approx(answers.youden_sens)
    assert metrics.loc["SPEC", "estimate"] == pytest.approx(answers.youden_spec)


def test_compare_models_holm_and_difference_interval():
    data = pd.read_csv(REFERENCE / "proc_delong_data.csv")
    table = compare_models(data.y, {"a": data.a, "b": data.b, "c": -data.a + data.b}, holm=True)
    assert list(zip(table.model_a, table.model_b)) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert (table["p_holm"] >= table["p_value"] - 1e-15).all()
    row = table.iloc[0]
    assert row.ci_low < row.difference < row.ci_high
    assert (row.ci_high < 0) == (row.p_value < 0.05 and row.difference < 0)


@pytest.mark.parametrize("estimate, n, low, high", [
    (.723, 701, .690, .756),  # Table 2, train, clinical ACC
    (.700, 701, .666, .734),  # train, radiomics ACC
    (.733, 701, .700, .766),  # train, fused ACC
    (.703, 300, .652, .755),  # test, clinical ACC
    (.607, 300, .551, .662),  # test, radiomics ACC
    (.663, 300, .610, .717),  # test, DL-radiomics ACC
])
def test_wald_intervals_reproduce_the_study_table_2(estimate, n, low, high):
    k = int(round(estimate * n))
    y = np.r_[np.ones(k), np.zeros(n - k)]  # every patient called positive: ACC = k / n
    metrics = binary_metrics(y, np.ones(n), cutoff=0.5)
    acc = metrics.loc["ACC"]
    assert round(acc["estimate"], 3) == estimate
    assert (round(acc["low"], 3), round(acc["high"], 3)) == pytest.approx((low, high), abs=0.0011)


def test_binary_metrics_counts_and_wilson():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    score = np.array([.9, .8, .3, .7, .2, .1, .4, .6])
    metrics = binary_metrics(y, score, cutoff=0.5, ci="wilson")
    assert metrics.attrs["confusion"] == {"tp": 3, "fp": 1, "tn": 3, "fn": 1}
    assert metrics.loc["SENS", "estimate"] == 0.75 and metrics.loc["PPV", "estimate"] == 0.75
    assert 0 < metrics.loc["SENS", "low"] < 0.75 < metrics.loc["SENS", "high"] < 1
    with pytest.raises(RadNomoError, match="wald, wilson"):
        binary_metrics(y, score, 0.5, ci="exact")


def test_hosmer_lemeshow_hand_computed_example():
    # Four groups of five (groups=4 -> quartiles of the predicted risk, df = 2).
    prob = np.repeat([0.1, 0.3, 0.5, 0.7], 5) + np.tile(np.arange(5) * 0.001, 4)
    y = np.array([0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1])
    result = hosmer_lemeshow(y, prob, groups=4)
    statistic = 0.0
    for g in range(4):
        p, obs = prob[5 * g:5 * g + 5], y[5 * g:5 * g + 5].sum()
        expected = p.sum()
        statistic += (obs - expected) ** 2 / expected + ((5 - obs) - (5 - expected)) ** 2 / (5 - expected)
    # By hand: expected events 0.51 / 1.51 / 2.51 / 3.51 against 1 / 2 / 3 / 4 observed, so every group is
    # off by 0.49: 0.2401 * (1/0.51 + 1/4.49 + 1/1.51 + 1/3.49 + 1/2.51 + 1/2.49 + 1/3.51 + 1/1.49) = 1.1737.
    assert statistic == pytest.approx(1.1737, abs=1e-4)
    assert result.statistic == pytest.approx(statistic, rel=1e-12)
    assert result.df == 2 and result.table["n"].tolist() == [5, 5, 5, 5]


def test_net_benefit_is_the_formula():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    prob = np.clip(0.3 * y + rng.uniform(0, 0.7, 200), 0, 1)
    curve = decision_curve(y, prob, thresholds=[0.1, 0.25, 0.5])
    for _, row in curve.iterrows():
        pt = row.threshold
        tp = np.sum((prob >= pt) & (y == 1))
        fp = np.sum((prob >= pt) & (y == 0))
        assert row.net_benefit == pytest.approx(tp / 200 - fp / 200 * pt / (1 - pt))
        assert row.treat_all == pytest.approx(y.mean() - (1 - y.mean()) * pt / (1 - pt))
    assert (curve.treat_none == 0).all()


def test_calibration_stats_of_well_and_badly_calibrated_predictions():
    rng = np.random.default_rng(2)
    logit = rng.normal(-0.5, 1.2, 20_000)
    y = (rng.random(20_000) < 1 / (1 + np.exp(-logit))).astype(int)
    good = calibration_stats(y, 1 / (1 + np.exp(-logit)))
    assert abs(good.in_the_large) < 0.05 and abs(good.slope - 1) < 0.05
    assert good.intercept == good.in_the_large  # the older name reads the same number
    too_extreme = calibration_stats(y, 1 / (1 + np.exp(-2 * logit)))
    assert too_extreme.slope == pytest.approx(0.5, abs=0.05)
    binned, smooth = calibration_curve(y, 1 / (1 + np.exp(-logit)))
    assert len(binned) == 10 and np.allclose(binned["observed"], binned["mean_predicted"], atol=0.04)
    assert smooth["predicted"].is_monotonic_increasing


def test_bootstrap_and_performance_table():
    data = pd.read_csv(REFERENCE / "proc_delong_data.csv")
    estimate, low, high = bootstrap_ci(data.y, data.a, lambda y, s: roc_auc(y, s).auc, n_boot=300, seed=1)
    delong = roc_auc(data.y, data.a)
    assert estimate == pytest.approx(delong.auc) and abs(low - delong.ci_low) < 0.03 and abs(high - delong.ci_high) < 0.03
    table = performance_table(data.y, {"a": data.a, "b": data.b}, {"a": 0.5, "b": 0.5})
    assert list(table.columns[:4]) == ["model", "auc", "auc_low", "auc_high"]
    assert {"acc", "sens_low", "npv_high", "cutoff"} <= set(table.columns)


def test_calibration_in_the_large_and_the_recalibration_intercept_are_told_apart():
    """Predictions expit(2 L + 1) of outcomes drawn with log-odds L: the logistic recalibration of y on
    logit(p) = 2 L + 1 has slope 1/2 and intercept -1/2 (rms::val.prob's "Intercept"); calibration-in-the-large
    (slope fixed at 1, logit as offset) is another number, equal to statsmodels' offset-only fit."""
    import statsmodels.api as sm

    from core.stats.summaries import calibration_table
    from core.vocabulary import CALIBRATION_COLUMNS

    rng = np.random.default_rng(7)
    logit = rng.normal(-0.5, 1.2, 40_000)
    y = (rng.random(40_000) < 1 / (1 + np.exp(-logit))).astype(int)
    prob = 1 / (1 + np.exp(-(2 * logit + 1)))
    result = calibration_stats(y, prob)
    assert result.slope == pytest.approx(0.5, abs=0.02)
    assert result.recalibration_intercept == pytest.approx(-0.5, abs=0.03)
    offset_only = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=2 * logit + 1).fit()
    assert result.in_the_large == pytest.approx(float(offset_only.params[0]), abs=1e-6)
    assert abs(result.in_the_large - result.recalibration_intercept) > 0.2
    # Mean predicted risk above the observed rate: calibration-in-the-large is negative.
    assert prob.mean() > y.mean() and result.in_the_large < 0

    ids = [f"p{i}" for i in range(len(y))]
    table = calibration_table(pd.DataFrame({"m": prob}, index=ids), pd.Series(y, index=ids), {"all": ids}, ["m"])
    assert list(table.columns) == ["cohort", "model", "brier", "calibration_in_the_large", "slope",
                                   "recalibration_intercept", "hl_statistic", "hl_df", "hl_p"]
    assert "intercept" not in table.columns  # never unnamed
    row = table.iloc[0]
    assert row["calibration_in_the_large"] == pytest.approx(result.in_the_large)
    assert row["recalibration_intercept"] == pytest.approx(result.recalibration_intercept)
    assert CALIBRATION_COLUMNS["calibration_in_the_large"] == "calibration-in-the-large"
    assert CALIBRATION_COLUMNS["recalibration_intercept"] == "calibration intercept (logistic recalibration)"
    assert set(CALIBRATION_COLUMNS) <= set(table.columns)
