"""Concordance (Harrell, Uno), time-dependent AUC, Brier score and IBS: R's answers, properties, edge cases.

Known answers: tests/reference/survival_discrimination.R (survival 3.5-3 ``concordance``, riskRegression
2022.11.28 ``Score``) on a seeded synthetic cohort (n = 400, tied times and risks, 39 % censored) and on
survival::lung. The algorithms are the same as R's, so the tolerances are rounding error (1e-9 relative or
better); the counts and C's agree to ~1e-12 in practice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.stats.survival.concordance import compare_concordance, concordance_influence, harrell_c, uno_c
from core.stats.survival.time_dependent import (
    brier,
    censoring_survival,
    compare_td_auc,
    integrated_brier,
    td_auc,
    td_roc_curve,
)

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
STS_TABLE = SHARED_DATA / "sts_ct" / "tables" / "clinical_outcome.csv"
TIGHT = 1e-9  # relative: same algorithm as R, only the order of floating-point sums differs


def _answers(kind: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / f"survival_discrimination_{kind}.csv")


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / f"survival_discrimination_{name}.csv")


def _brute_force(time, event, risk, weighting="n", tau=None):
    """survival's definition pair by pair (O(n^2)): counts and the infinitesimal-jackknife variance."""
    t, e, r = np.asarray(time, float), np.asarray(event, int), np.asarray(risk, float)
    first, second = t[:, None], t[None, :]
    comparable = (e[:, None] == 1) & ((second > first) | ((second == first) & (e[None, :] == 0)))
    weight = np.ones(t.size)
    if weighting == "n/G2" and e.sum() >= 2:
        weight = 1.0 / censoring_survival(t, e, t, just_before=True) ** 2
    if tau is not None:
        weight = np.where(t > tau, 0.0, weight)
    pair = comparable * weight[:, None]
    kinds = [pair * (r[:, None] > r[None, :]), pair * (r[:, None] < r[None, :]), pair * (r[:, None] == r[None, :])]
    counts = np.array([k.sum() for k in kinds])
    involved = np.array([k.sum(axis=0) + k.sum(axis=1) for k in kinds])  # pairs each patient is in
    total = counts.sum()
    somers = (counts[0] - counts[1]) / total
    dfbeta = ((involved[0] - involved[1]) / total - somers / total * involved.sum(axis=0)) / 2
    return (counts[0] + counts[2] / 2) / total, float(np.sum(dfbeta ** 2)), counts


# --- known answers ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("row", _answers("concordance").to_dict("records"),
                         ids=lambda r: f"{r['dataset']}-{r['risk']}-{r['timewt']}-{r['tau']}")
def test_harrell_and_uno_c_match_survival_concordance(row):
    data = _data(row["dataset"])
    tau = None if np.isnan(row["tau"]) else row["tau"]
    args = (data["time"].to_numpy(), data["event"].to_numpy(), data[row["risk"]].to_numpy())
    ours = harrell_c(*args) if row["timewt"] == "n" else uno_c(*args, tau=tau)
    assert ours.c == pytest.approx(row["concordance"], rel=TIGHT)
    assert ours.se ** 2 == pytest.approx(row["var"], rel=TIGHT)
    assert ours.weighting == row["timewt"] and ours.n == len(data)
    counts = [ours.concordant, ours.discordant, ours.tied_risk, ours.tied_time, ours.tied_both]
    np.testing.assert_allclose(counts, [row["concordant"], row["discordant"], row["tied_x"], row["tied_y"],
                                        row["tied_xy"]], rtol=TIGHT, atol=1e-9)
    assert ours.low == pytest.approx(ours.c - 1.959963984540054 * ours.se)
    assert ours.high == pytest.approx(ours.c + 1.959963984540054 * ours.se)


@pytest.mark.parametrize("row", _answers("covariance").to_dict("records"),
                         ids=lambda r: f"{r['dataset']}-{r['timewt']}")
def test_compared_concordances_use_survivals_covariance(row):
    data = _data(row["dataset"])
    table = compare_concordance(data["time"].to_numpy(), data["event"].to_numpy(),
                                {"risk1": data["risk1"].to_numpy(), "risk2": data["risk2"].to_numpy()},
                                weighting=row["timewt"])
    (result,) = table.to_dict("records")
    assert (result["first"], result["second"]) == ("risk1", "risk2")
    assert result["c_first"] == pytest.approx(row["c1"], rel=TIGHT)
    assert result["c_second"] == pytest.approx(row["c2"], rel=TIGHT)
    assert result["covariance"] == pytest.approx(row["v12"], rel=TIGHT)
    variance = row["v11"] + row["v22"] - 2 * row["v12"]
    assert result["se"] == pytest.approx(np.sqrt(variance), rel=TIGHT)
    assert result["difference"] == pytest.approx(row["c1"] - row["c2"], rel=TIGHT)
    z = (row["c1"] - row["c2"]) / np.sqrt(variance)
    assert result["z"] == pytest.approx(z, rel=TIGHT)
    assert 0 < result["p"] < 1


@pytest.mark.parametrize("dataset", ["synthetic", "lung"])
@pytest.mark.parametrize("risk", ["risk1", "risk2"])
def test_td_auc_matches_riskregression_score(dataset, risk):
    data = _data(dataset)
    answer = _answers("auc").query("dataset == @dataset and model == @risk")
    ours = td_auc(data["time"].to_numpy(), data["event"].to_numpy(), data[risk].to_numpy(),
                  answer["times"].tolist())
    np.testing.assert_allclose(ours["horizon"], answer["times"])
    np.testing.assert_allclose(ours["auc"], answer["AUC"], rtol=TIGHT)
    np.testing.assert_allclose(ours["se"], answer["se"], rtol=TIGHT)
    np.testing.assert_allclose(ours["auc_low"], answer["lower"], rtol=TIGHT)
    np.testing.assert_allclose(ours["auc_high"], answer["upper"], rtol=TIGHT)
    horizon = answer["times"].iloc[0]
    assert ours["cases"].iloc[0] == int(((data["time"] <= horizon) & (data["event"] == 1)).sum())


@pytest.mark.parametrize("dataset", ["synthetic", "lung"])
@pytest.mark.parametrize("risk", ["risk1", "risk2"])
def test_td_roc_curve_matches_riskregression_plotframe(dataset, risk):
    data = _data(dataset)
    answer = _answers("roc").query("dataset == @dataset and model == @risk")
    for horizon, points in answer.groupby("times"):
        curve = td_roc_curve(data["time"].to_numpy(), data["event"].to_numpy(), data[risk].to_numpy(), horizon)
        # R lists a point per distinct risk of any patient, highest first (a risk only patients censored
        # before the horizon have repeats the point before it) and leaves out the origin: compare the
        # distinct points, each with the threshold where it first appears (R's risk is plogis of the score).
        distinct = points.sort_values("risk", ascending=False, kind="stable")
        distinct = distinct[~distinct[["FPR", "TPR"]].round(12).duplicated()]
        np.testing.assert_allclose(curve[["fpr", "tpr"]].to_numpy()[1:], distinct[["FPR", "TPR"]].to_numpy(),
                                   rtol=TIGHT, atol=1e-14)
        np.testing.assert_allclose(curve["threshold"].to_numpy()[1:],
                                   np.log(distinct["risk"] / (1 - distinct["risk"])), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("dataset", ["synthetic", "lung"])
def test_compare_td_auc_matches_score_contrasts(dataset):
    data = _data(dataset)
    answer = _answers("auc_contrasts").query("dataset == @dataset")
    ours = compare_td_auc(data["time"].to_numpy(), data["event"].to_numpy(), data["risk2"].to_numpy(),
                          data["risk1"].to_numpy(), answer["times"].tolist())
    np.testing.assert_allclose(ours["delta"], answer["delta.AUC"], rtol=TIGHT)
    np.testing.assert_allclose(ours["se"], answer["se"], rtol=TIGHT)
    np.testing.assert_allclose(ours["low"], answer["lower"], rtol=TIGHT)
    np.testing.assert_allclose(ours["high"], answer["upper"], rtol=TIGHT)
    np.testing.assert_allclose(ours["p"], answer["p"], rtol=1e-8)  # a tail probability: relative error grows


@pytest.mark.parametrize("dataset", ["synthetic", "lung"])
def test_brier_and_integrated_brier_match_score(dataset):
    data = _data(dataset)
    answer = _answers("brier").query("dataset == @dataset")
    model, null = answer[answer["model"] == "model"], answer[answer["model"] == "Null model"]
    times = model["times"].to_numpy()
    survival = data[[f"s_{t:g}" for t in times]].to_numpy()
    table = integrated_brier(data["time"].to_numpy(), data["event"].to_numpy(), survival, times)
    np.testing.assert_allclose(table["brier"], model["Brier"], rtol=TIGHT)
    np.testing.assert_allclose(table["se"], model["se"], rtol=TIGHT)
    np.testing.assert_allclose(table["ibs"], model["IBS"], rtol=TIGHT, atol=1e-15)
    np.testing.assert_allclose(table["null_brier"], null["Brier"], rtol=TIGHT)
    np.testing.assert_allclose(table["null_ibs"], null["IBS"], rtol=TIGHT, atol=1e-15)
    k = len(times) // 2
    one = brier(data["time"].to_numpy(), data["event"].to_numpy(), survival[:, k], times[k])
    assert one.brier == pytest.approx(model["Brier"].iloc[k], rel=TIGHT)
    assert (one.low, one.high) == pytest.approx((model["lower"].iloc[k], model["upper"].iloc[k]), rel=TIGHT)
    assert one.null_se == pytest.approx(null["se"].iloc[k], rel=TIGHT)


@pytest.mark.skipif(not STS_TABLE.is_file(), reason=f"needs ../shared/data (the STS cohort table {STS_TABLE})")
def test_real_sarcoma_cohort_matches_r():
    table = pd.read_csv(STS_TABLE)
    time = table["days_dx_to_last_fu"].to_numpy(float)
    event = (table["status"] == "D").to_numpy(int)
    age = table["age"].to_numpy(float)
    answer = _answers("sts").set_index("statistic")
    for ours, key in [(harrell_c(time, event, age), "concordance_n"), (uno_c(time, event, age), "concordance_n/G2")]:
        assert ours.c == pytest.approx(answer.loc[key, "estimate"], rel=TIGHT)
        assert ours.se == pytest.approx(answer.loc[key, "se"], rel=TIGHT)
    auc = answer.loc[["auc"]]
    ours = td_auc(time, event, age, auc["times"].tolist())
    np.testing.assert_allclose(ours["auc"], auc["estimate"], rtol=TIGHT)
    np.testing.assert_allclose(ours["se"], auc["se"], rtol=TIGHT)


# --- properties ------------------------------------------------------------------------------------------

cohorts = st.integers(min_value=0, max_value=2**32 - 1)


def _cohort(seed: int, n: int, censored: float = 0.4):
    rng = np.random.default_rng(seed)
    time = rng.integers(1, 12, n).astype(float)  # few distinct times: many ties
    event = (rng.random(n) > censored).astype(int)
    event[0] = 1  # at least one event
    time[1] = time[0] + 1  # and someone followed after it
    risk = np.round(rng.normal(size=n), 1)
    return time, event, risk


@settings(max_examples=25, deadline=None)
@given(seed=cohorts, n=st.integers(3, 40), weighting=st.sampled_from(["n", "n/G2"]))
def test_concordance_equals_pair_by_pair_definition(seed, n, weighting):
    time, event, risk = _cohort(seed, n)
    c, variance, counts = _brute_force(time, event, risk, weighting)
    ours = harrell_c(time, event, risk) if weighting == "n" else uno_c(time, event, risk)
    assert ours.c == pytest.approx(c, rel=1e-12)
    assert ours.se ** 2 == pytest.approx(variance, rel=1e-9, abs=1e-15)
    np.testing.assert_allclose([ours.concordant, ours.discordant, ours.tied_risk], counts, rtol=1e-12)


def test_large_cohort_equals_pair_by_pair_definition_with_truncation():
    time, event, risk = _cohort(27, 1500)
    time = time + np.random.default_rng(1).integers(0, 50, time.size)  # more distinct times
    c, variance, counts = _brute_force(time, event, risk, "n/G2", tau=40)
    ours = uno_c(time, event, risk, tau=40)
    assert ours.c == pytest.approx(c, rel=1e-12)
    assert ours.se ** 2 == pytest.approx(variance, rel=1e-9)
    np.testing.assert_allclose([ours.concordant, ours.discordant, ours.tied_risk], counts, rtol=1e-10)


@settings(max_examples=15, deadline=None)
@given(seed=cohorts, n=st.integers(3, 60))
def test_reversed_risk_mirrors_the_concordance_and_uno_equals_harrell_without_censoring(seed, n):
    time, event, risk = _cohort(seed, n)
    forward, backward = harrell_c(time, event, risk), harrell_c(time, event, -risk)
    assert forward.c + backward.c == pytest.approx(1.0)
    assert forward.se == pytest.approx(backward.se, rel=1e-9, abs=1e-15)
    complete = np.ones_like(event)
    assert uno_c(time, complete, risk).c == pytest.approx(harrell_c(time, complete, risk).c, rel=1e-12)
    counts, dfbeta = concordance_influence(time, event, risk)
    assert counts[:3].sum() == pytest.approx(forward.concordant + forward.discordant + forward.tied_risk)
    assert np.sum(dfbeta ** 2) == pytest.approx(forward.se ** 2, rel=1e-12, abs=1e-18)


@settings(max_examples=15, deadline=None)
@given(seed=cohorts, n=st.integers(6, 60))
def test_without_censoring_auc_and_brier_are_the_plain_ones(seed, n):
    rng = np.random.default_rng(seed)
    time = rng.integers(1, 20, n).astype(float)
    time[:2] = [1.0, 19.0]  # a case and a control at horizon 10
    event = np.ones(n, dtype=int)
    risk = np.round(rng.normal(size=n), 1)
    horizon = 10.0
    case, control = time <= horizon, time > horizon
    pairs = (risk[case][:, None] > risk[control][None, :]) + 0.5 * (risk[case][:, None] == risk[control][None, :])
    (auc,) = td_auc(time, event, risk, [horizon])["auc"]
    assert auc == pytest.approx(pairs.mean(), rel=1e-12)
    # A monotone map of the risk keeps the AUC and its standard error.
    assert td_auc(time, event, np.exp(risk), [horizon]).equals(td_auc(time, event, risk, [horizon]))
    survival = 1 / (1 + np.exp(risk))
    score = brier(time, event, survival, horizon)
    assert score.brier == pytest.approx(np.mean((case - (1 - survival)) ** 2), rel=1e-12)
    assert score.null_brier == pytest.approx(case.mean() * (1 - case.mean()), rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=cohorts, n=st.integers(3, 60), horizon=st.sampled_from([2.0, 4.5, 7.0]))
def test_area_under_the_td_roc_curve_is_td_auc(seed, n, horizon):
    time, event, risk = _cohort(seed, n)  # many tied times and risks
    time[0], time[1] = 1.0, 11.0  # an event before every horizon, someone followed after it
    (auc,) = td_auc(time, event, risk, [horizon])["auc"]
    curve = td_roc_curve(time, event, risk, horizon)
    fpr, tpr = curve["fpr"].to_numpy(), curve["tpr"].to_numpy()
    assert np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2) == pytest.approx(auc, rel=1e-12, abs=1e-15)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0) and np.all(np.diff(curve["threshold"]) < 0)
    # Each point is the weighted share of cases / controls with risk >= its threshold (brute force).
    g = censoring_survival(time, event, time, just_before=True)
    case, control = (time <= horizon) & (event == 1), time > horizon
    for threshold, x, y in curve.iloc[1:].itertuples(index=False):
        positive = risk >= threshold
        assert y == pytest.approx(np.sum(positive[case] / g[case]) / np.sum(1 / g[case]), rel=1e-12)
        assert x == pytest.approx(np.mean(positive[control]), rel=1e-12)


def test_fast_on_ten_thousand_patients_and_consistent():
    rng = np.random.default_rng(5)
    n = 10_000
    risk = rng.normal(size=n)
    time = np.ceil(rng.exponential(20 * np.exp(-risk)) + 0.01)
    censor = np.ceil(rng.uniform(5, 80, n))
    event = (time <= censor).astype(int)
    time = np.minimum(time, censor)
    result = harrell_c(time, event, risk)
    assert 0.6 < result.c < 0.8 and 0 < result.se < 0.02
    auc = td_auc(time, event, risk, [10, 30])
    assert np.all((auc["auc"] > 0.6) & (auc["se"] < 0.03))


# --- edge cases --------------------------------------------------------------------------------------------

def test_impossible_requests_are_refused_with_what_to_do():
    time = np.array([1.0, 2.0, 3.0, 4.0])
    event = np.array([1, 0, 1, 0])
    risk = np.array([0.3, 0.1, 0.2, 0.0])
    with pytest.raises(RadNomoError, match="no comparable pair"):
        harrell_c(time, np.zeros(4, dtype=int), risk)
    with pytest.raises(RadNomoError, match="later tau"):
        uno_c(time, event, risk, tau=0.5)
    with pytest.raises(RadNomoError, match="possible values"):
        compare_concordance(time, event, {"a": risk, "b": -risk}, weighting="S")
    with pytest.raises(RadNomoError, match="at least two"):
        compare_concordance(time, event, {"a": risk})
    with pytest.raises(RadNomoError, match="missing or infinite"):
        harrell_c(time, event, np.array([0.1, np.nan, 0.2, 0.3]))
    with pytest.raises(RadNomoError, match="earlier horizon"):
        td_auc(time, event, risk, [4.0])
    with pytest.raises(RadNomoError, match="later horizon"):
        td_auc(time, event, risk, [0.5])
    with pytest.raises(RadNomoError, match="positive time"):
        td_auc(time, event, risk, [-1.0])
    with pytest.raises(RadNomoError, match="later horizon"):
        td_roc_curve(time, event, risk, 0.5)
    with pytest.raises(RadNomoError, match="earlier horizon"):
        td_roc_curve(time, event, risk, 4.0)
    # Before the first event the Brier score is still defined: every patient is a control with weight 1.
    survival = np.array([0.9, 0.8, 0.7, 0.6])
    assert brier(time, event, survival, 0.5).brier == pytest.approx(np.mean((1 - survival) ** 2))
    with pytest.raises(RadNomoError, match="earlier horizon"):
        brier(time, event, survival, 4.0)
    with pytest.raises(RadNomoError, match="between 0 and 1"):
        brier(time, event, np.array([0.2, 1.2, 0.5, 0.5]), 2.0)
    with pytest.raises(RadNomoError, match="increasing"):
        integrated_brier(time, event, np.full((4, 2), 0.5), [2.0, 1.0])


def test_censoring_survival_is_the_reverse_kaplan_meier_with_events_first():
    time = np.array([1.0, 2.0, 2.0, 3.0, 4.0])
    event = np.array([1, 1, 0, 0, 1])
    # At 2 the event leaves first: 1 censored of the 3 still at risk of censoring (times 2, 3, 4); at 3, 1 of 2.
    np.testing.assert_allclose(censoring_survival(time, event, np.array([1.5, 2.0, 3.0, 5.0])),
                               [1, 2 / 3, 1 / 3, 1 / 3])
    np.testing.assert_allclose(censoring_survival(time, event, np.array([2.0, 3.0]), just_before=True), [1, 2 / 3])
