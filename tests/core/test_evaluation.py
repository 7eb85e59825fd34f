"""Evaluation statistics: known answers (scikit-learn, R pROC, brute force, hand-computed), properties."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.stats.evaluation import (Confusion, binary_metrics, bootstrap_ci, calibration_curve, calibration_stats,
                                   compare_models, confusion_counts, decision_curve, delong_test, hosmer_lemeshow,
                                   performance_table, roc_auc, roc_points, youden_cutoff)
from core.stats.decision_analysis import decision_analysis
from core.workflows.evaluation import DECISION_RESAMPLES, evaluate_cohorts, evaluate_study, operating_point

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
    assert list(zip(table.model_a, table.model_b, strict=True)) == [("a", "b"), ("a", "c"), ("b", "c")]
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
    confusion = confusion_counts(y, score, 0.5)
    assert confusion == Confusion(tp=3, fp=1, tn=3, fn=1)
    assert confusion.as_dict() == {"tp": 3, "fp": 1, "tn": 3, "fn": 1}
    assert (confusion.fpr, confusion.tpr) == (0.25, 0.75)
    assert not metrics.attrs  # the counts are a table's columns (numerator, denominator), not hidden metadata
    assert list(metrics["numerator"]) == [6, 3, 3, 3, 3] and list(metrics["denominator"]) == [8, 4, 4, 4, 4]
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


@pytest.mark.slow
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
    assert estimate == pytest.approx(delong.auc)
    assert abs(low - delong.ci_low) < 0.03 and abs(high - delong.ci_high) < 0.03
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
    row = table.iloc[0]
    assert row["citl"] == pytest.approx(result.in_the_large, abs=1e-8)
    assert row["intercept"] == pytest.approx(result.recalibration_intercept, abs=1e-8)
    assert row["slope"] == pytest.approx(result.slope, abs=1e-8)
    assert row["slope_low"] < 0.5 < row["slope_high"] and row["citl_low"] < row["citl"] < row["citl_high"]
    # Both intercepts named for what they are wherever they are shown.
    assert CALIBRATION_COLUMNS["citl"] == "calibration-in-the-large"
    assert CALIBRATION_COLUMNS["intercept"] == "calibration intercept (logistic recalibration)"
    assert set(CALIBRATION_COLUMNS) <= set(table.columns)


# ---------------------------------------------------------------------------------------------
# The study's evaluation, computed once (core.workflows.evaluation)
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_evaluate_study_equals_the_single_functions(sample_study, sample_models, sample_predictions):
    """Every table of evaluate_study is what the single functions give, cohort by cohort and model by model."""
    from core.stats.summaries import auc_table, calibration_table, table2

    study, predictions, names = sample_study, sample_predictions, list(sample_models.model_names)
    evaluation = evaluate_study(study, sample_models, predictions)
    cohorts, outcome = study.cohorts(), study.outcome
    assert evaluation.models == tuple(names) and list(evaluation.cohorts) == list(cohorts) == ["train", "test"]
    assert len(evaluation.aucs) == len(evaluation.table2) == len(evaluation.confusion) == 2 * len(names)
    assert len(evaluation.delong) == 2 * len(names) * (len(names) - 1) // 2 and not evaluation.notes
    cutoffs = study.evaluation.cutoffs(predictions, outcome, study.train_ids, names)
    assert evaluation.cutoffs == cutoffs
    pd.testing.assert_frame_equal(evaluation.table2, table2(predictions, outcome, cohorts, cutoffs))
    pd.testing.assert_frame_equal(evaluation.calibration.drop(columns="left_out"),
                                  calibration_table(predictions, outcome, cohorts, names), check_dtype=False)
    pd.testing.assert_frame_equal(evaluation.auc_table(), auc_table(predictions, outcome, cohorts, names))
    for cohort, ids in cohorts.items():
        y = outcome.loc[ids]
        pd.testing.assert_frame_equal(evaluation.pairs(cohort, holm=True),
                                      compare_models(y, {m: predictions.loc[ids, m] for m in names}, holm=True))
        for model in names:
            p = predictions.loc[ids, model]
            pd.testing.assert_frame_equal(evaluation.curves("roc", cohort)[model], roc_points(y, p))
            decision = evaluation.curves("decision", cohort)[model]
            pd.testing.assert_frame_equal(decision[["threshold", "net_benefit", "treat_all", "treat_none"]],
                                          decision_curve(y, p), check_exact=False, rtol=1e-12, atol=1e-12)
            # the bands those of the decision analysis from the study's seed (the same seed, the same bands)
            again = decision_analysis(y, p, n_boot=DECISION_RESAMPLES, seed=study.split.config.seed)
            banded = decision.drop(columns="treat_none")
            pd.testing.assert_frame_equal(banded, again[banded.columns])
            binned, smooth = calibration_curve(y, p)
            pd.testing.assert_frame_equal(evaluation.curves("calibration_bins", cohort)[model], binned)
            pd.testing.assert_frame_equal(evaluation.curves("calibration_smooth", cohort)[model], smooth)
            auc = roc_auc(y, p)
            assert evaluation.intervals(cohort)[model] == (auc.auc, auc.ci_low, auc.ci_high)
            row = evaluation.confusion.set_index(["cohort", "model"]).loc[(cohort, model)]
            assert Confusion(*(int(row[k]) for k in ("tp", "fp", "tn", "fn"))) == confusion_counts(y, p, cutoffs[model])
            table_row = evaluation.table2.set_index(["cohort", "model"]).loc[(cohort, model)]
            assert table_row["sens"] == row["tp"] / (row["tp"] + row["fn"])
    assert list(evaluation.pairs("test").columns) == list(compare_models([0, 1], {}).columns)


@pytest.mark.slow
def test_table2_cutoffs_come_from_the_training_cohort_only(sample_study, sample_models, sample_predictions):
    """Shuffling the test patients' predictions changes the test rows of Table 2, never a cut-off."""
    study, names = sample_study, list(sample_models.model_names)
    shuffled = sample_predictions.copy()
    test = list(study.test_ids)
    rng = np.random.default_rng(3)
    shuffled.loc[test, names] = shuffled.loc[test, names].to_numpy()[rng.permutation(len(test))]
    before = evaluate_study(study, sample_models, sample_predictions)
    after = evaluate_study(study, sample_models, shuffled)
    train = list(study.train_ids)
    youden = {m: youden_cutoff(study.outcome.loc[train], sample_predictions.loc[train, m]) for m in names}
    assert after.cutoffs == before.cutoffs == youden
    assert (after.table2["cutoff"] == after.table2["model"].map(before.cutoffs)).all()
    pd.testing.assert_frame_equal(after.table2[after.table2["cohort"] == "train"],
                                  before.table2[before.table2["cohort"] == "train"])
    assert not np.allclose(after.table2.loc[after.table2["cohort"] == "test", "auc"],
                           before.table2.loc[before.table2["cohort"] == "test", "auc"])


def _toy(n: int = 80, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    ids = [f"p{i}" for i in range(n)]
    y = pd.Series((rng.random(n) < 0.4).astype(int), index=ids)
    a = 1 / (1 + np.exp(-(1.5 * y + rng.normal(size=n) - 0.7)))
    b = 1 / (1 + np.exp(-(0.5 * y + rng.normal(size=n) - 0.5)))
    return pd.DataFrame({"a": a, "b": b}, index=ids), y


def test_evaluate_cohorts_says_what_it_left_out_and_tables_only_when_asked():
    predictions, y = _toy()
    predictions.loc[["p0", "p1", "p2"], "b"] = np.nan  # a family these patients lack
    ones = list(y.index[y == 1][:6])
    evaluation = evaluate_cohorts(predictions, y, {"all": list(y.index), "events only": ones}, ["a", "b"],
                                  {"a": 0.5, "b": 0.4}, ci="wilson")
    assert set(evaluation.aucs["cohort"]) == {"all"}  # one outcome only: no AUC there, and said so
    assert any("events only, a" in note and "one outcome only" in note for note in evaluation.notes)
    assert any("all, b: 3 of 80" in note for note in evaluation.notes)
    aucs = evaluation.aucs.set_index("model")
    assert aucs.loc["b", "n"] == 77 and aucs.loc["b", "left_out"] == 3 and aucs.loc["a", "left_out"] == 0
    have = predictions["b"].notna()
    assert aucs.loc["b", "auc"] == roc_auc(y[have], predictions.loc[have, "b"]).auc
    # The paired test is on the patients both models score, counted.
    pair = evaluation.delong.iloc[0]
    assert (pair["n"], pair["left_out"]) == (77, 3)
    assert pair["p_value"] == pytest.approx(delong_test(y[have], predictions.loc[have, "a"],
                                                        predictions.loc[have, "b"]).p_value)
    wilson = binary_metrics(y[have], predictions.loc[have, "b"], 0.4, ci="wilson")
    row = evaluation.table2.set_index("model").loc["b"]
    assert (row["sens_low"], row["left_out"]) == (wilson.loc["SENS", "low"], 3)
    tables_only = evaluate_cohorts(predictions, y, {"all": list(y.index)}, ["a", "b"], {"a": 0.5, "b": 0.4},
                                   curves=False)
    assert tables_only.roc.empty and tables_only.decision.empty and tables_only.delong.empty
    pd.testing.assert_frame_equal(tables_only.table2, evaluate_cohorts(predictions, y, {"all": list(y.index)},
                                                                       ["a", "b"], {"a": 0.5, "b": 0.4}).table2)
    panel = tables_only.panel()
    assert list(panel.columns[:4]) == ["group", "model", "n", "events"] and list(panel["n"]) == [80, 77]
    with pytest.raises(RadNomoError, match="no cut-off for model"):
        evaluate_cohorts(predictions, y, {"all": list(y.index)}, ["a", "b"], {"a": 0.5})
    with pytest.raises(RadNomoError, match="not a curve table"):
        evaluation.curves("table2", "all")


def test_operating_point_is_the_metrics_confusion_and_net_benefit_at_any_cutoff():
    predictions, y = _toy(seed=2)
    point = operating_point(predictions, y, list(y.index), "a", 0.37, ci="wald")
    pd.testing.assert_frame_equal(point.metrics, binary_metrics(y, predictions["a"], 0.37))
    assert point.confusion == confusion_counts(y, predictions["a"], 0.37) and point.left_out == 0
    assert point.net_benefit == decision_curve(y, predictions["a"], [0.37])["net_benefit"].iloc[0]
    assert point.confusion.tpr == point.metrics.loc["SENS", "estimate"]


@pytest.mark.slow
def test_evaluate_study_of_scores_alone(sample_study, sample_predictions):
    """A study without a clinical model evaluates its scores (names given instead of fitted models)."""
    scores = ("radiomics", "dl_radiomics")
    evaluation = evaluate_study(sample_study, scores, sample_predictions[list(scores)])
    assert evaluation.models == scores and set(evaluation.table2["model"]) == set(scores)
    assert set(evaluation.delong["model_a"]) | set(evaluation.delong["model_b"]) == set(scores)
    assert len(evaluation.delong) == 2  # one pair per cohort


def test_only_a_training_fit_recalibration_is_labelled_by_construction():
    from core.workflows.evaluation import by_construction, label_construction

    table = pd.DataFrame({"cohort": ["train", "train", "test"], "intercept": [1e-12, 0.2, 1e-12],
                          "slope": [1.0 + 1e-12, 0.8, 1.0]})
    assert list(by_construction(table)) == [True, False, False]  # a penalised fit, and the test cohort: estimates
    assert label_construction(table, "slope", ["a", "b", "c"]) == ["1 (by construction)", "b", "c"]
    assert label_construction(table, "citl", ["a", "b", "c"]) == ["a", "b", "c"]
