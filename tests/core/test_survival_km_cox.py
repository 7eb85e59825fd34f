"""Kaplan-Meier, log-rank and Cox models against R's survival (tests/reference/survival_cox.R), plus properties.

Known answers: R 4.2.2, survival 3.5-3, prodlim 2019.11.13 on a seeded synthetic cohort with many ties
("synth"), survival::lung complete cases ("lung"), two tiny curves that sit exactly at S = 0.5 ("half",
"half_end") and, where ../shared/data is present, the real sarcoma table ("sts_ct"). Tolerances: the same
algorithms as R, so 1e-9 relative or tighter (R's Cox fits use eps = 1e-12; ours stop at a relative
log-likelihood change of 1e-12), except where a number is stated otherwise below.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from core.errors import RadNomoError
from core.stats.survival.cox import cox_zph, fit_cox, ph_warning, univariable_cox
from core.stats.survival.kaplan_meier import kaplan_meier, kaplan_meier_by_group, log_rank, median_follow_up

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
STS_TABLE = SHARED_DATA / "sts_ct" / "tables" / "clinical_outcome.csv"
TERMS = {"synth": ["x1", "x2", "x3"], "lung": ["age", "sex", "ph.ecog"], "sts_ct": ["age", "male"]}
GROUP = {"synth": "group", "lung": "ph.ecog", "sts_ct": "group"}
HORIZONS = {"synth": [12, 36, 60], "lung": [180, 365, 730], "sts_ct": [365, 1095, 1825]}
REL = 1e-9


def answers(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / f"survival_cox_{name}.csv")


def dataset(name: str) -> pd.DataFrame:
    """The data R used: the CSVs written by the R script, the tiny curves, or the real sarcoma table."""
    if name in ("synth", "lung"):
        return pd.read_csv(REFERENCE / f"survival_cox_{name}_data.csv")
    if name == "half":
        return pd.DataFrame({"time": np.arange(1.0, 7.0), "event": [1, 1, 1, 0, 1, 0]})
    if name == "half_end":
        return pd.DataFrame({"time": np.arange(1.0, 5.0), "event": [1, 1, 0, 0]})
    if not STS_TABLE.is_file():
        pytest.skip(f"needs ../shared/data (the sarcoma table {STS_TABLE} is absent)")
    table = pd.read_csv(STS_TABLE)
    return pd.DataFrame({"time": table["days_dx_to_last_fu"].astype(float),
                         "event": (table["status"] == "D").astype(int), "age": table["age"],
                         "male": (table["sex"] == "Male").astype(int), "group": table["sex"]})


def assert_close(ours: np.ndarray | pd.Series, theirs: np.ndarray | pd.Series, rel: float = REL) -> None:
    """Equal to ``rel`` relative, NaN where R has NA."""
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(ours[~np.isnan(ours)], theirs[~np.isnan(theirs)], rtol=rel, atol=1e-14)


ALL = ["synth", "lung", "half", "half_end", "sts_ct"]
MODELLED = ["synth", "lung", "sts_ct"]


# ---------------------------------------------------------------------------------------------------------------
# Kaplan-Meier, medians, log-rank
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_kaplan_meier_curve_equals_survfit(name: str) -> None:
    data, r = dataset(name), answers("km_full")
    r = r[r["dataset"] == name]
    km = kaplan_meier(data["time"].to_numpy(), data["event"].to_numpy())
    assert_close(km.time, r["time"])
    for ours, theirs in [("n_risk", "n_risk"), ("n_event", "n_event"), ("n_censor", "n_censor"),
                         ("survival", "survival"), ("std_err_log", "std_err_log"), ("lower", "lower"),
                         ("upper", "upper")]:
        assert_close(getattr(km, ours), r[theirs])


@pytest.mark.parametrize("name", ALL)
def test_kaplan_meier_summary_at_times_equals_summary_extend(name: str) -> None:
    """summary(fit, times, extend = TRUE): before the first time, at event times, beyond the last follow-up."""
    data, r = dataset(name), answers("km")
    r = r[r["dataset"] == name]
    km = kaplan_meier(data["time"].to_numpy(), data["event"].to_numpy())
    # asked in reverse order: the result keeps the order asked
    ours = km.summary(r["time"].to_numpy()[::-1]).iloc[::-1].reset_index(drop=True)
    for column in ["time", "n_risk", "n_event", "survival", "std_err", "lower", "upper"]:
        assert_close(ours[column], r[column])
    assert_close(km.survival_at(r["time"]), r["survival"])


@pytest.mark.parametrize("name", ALL)
def test_medians_equal_survfit(name: str) -> None:
    data, r = dataset(name), answers("median").set_index(["dataset", "what"])
    time, event = data["time"].to_numpy(), data["event"].to_numpy()
    assert_close(kaplan_meier(time, event).median(), r.loc[(name, "km"), ["median", "lower", "upper"]])
    assert_close(median_follow_up(time, event), r.loc[(name, "reverse_km"), ["median", "lower", "upper"]])


def test_median_follow_up_differs_from_prodlim_only_through_ties() -> None:
    """prodlim's reverse = TRUE takes a patient with the event at t out of the risk set for censoring at t;
    survfit(Surv(time, 1 - event)) keeps them in. Without such ties both give the same median (lung, whose
    reverse medians agree); with them they may differ (synth: 46 here and in survfit, 45 in prodlim)."""
    r = answers("median").set_index(["dataset", "what"])
    assert r.loc[("lung", "reverse_km"), "median"] == r.loc[("lung", "prodlim_reverse"), "median"]
    data = dataset("synth")
    assert median_follow_up(data["time"].to_numpy(), data["event"].to_numpy())[0] == 46
    assert r.loc[("synth", "prodlim_reverse"), "median"] == 45


@pytest.mark.parametrize("name", MODELLED)
def test_log_rank_equals_survdiff(name: str) -> None:
    data, r = dataset(name), answers("logrank")
    r = r[r["dataset"] == name]
    test = log_rank(data["time"].to_numpy(), data["event"].to_numpy(), data[GROUP[name]])
    assert [str(g) for g in test.table["group"]] == [str(g) for g in r["group"]]
    assert_close(test.table["observed"], r["observed"])
    assert_close(test.table["expected"], r["expected"])
    assert test.chisq == pytest.approx(r["chisq"].iloc[0], rel=REL)
    assert test.df == r["df"].iloc[0]
    assert test.p == pytest.approx(r["p"].iloc[0], rel=1e-7)


def test_log_rank_leaves_out_a_group_never_at_risk_at_an_event_as_survdiff() -> None:
    """A group censored before the first event has expected 0: survdiff leaves it out (df 1, not 2)."""
    data = dataset("synth")
    time, event, group = data["time"].to_numpy(), data["event"].to_numpy(), data["group"].to_numpy()
    two = log_rank(time, event, group == "a")
    first_event = time[event == 1].min()
    early = log_rank(np.concatenate([time, [first_event / 2] * 3]), np.concatenate([event, [0, 0, 0]]),
                     np.concatenate([np.where(group == "a", "a", "b"), ["early"] * 3]))
    assert early.df == 1 and early.chisq == pytest.approx(two.chisq, rel=1e-12)
    assert list(early.table["expected"] == 0) == [False, False, True]


def test_kaplan_meier_by_group_is_one_curve_per_group() -> None:
    data = dataset("synth")
    curves = kaplan_meier_by_group(data["time"].to_numpy(), data["event"].to_numpy(), data["group"])
    assert list(curves) == ["a", "b", "c"]
    for label, curve in curves.items():
        alone = data[data["group"] == label]
        np.testing.assert_array_equal(curve.survival, kaplan_meier(alone["time"], alone["event"]).survival)
    assert sum(c.n for c in curves.values()) == len(data)


# ---------------------------------------------------------------------------------------------------------------
# Cox
# ---------------------------------------------------------------------------------------------------------------
def fitted(name: str):
    data = dataset(name)
    return data, fit_cox(data[TERMS[name]], data["time"].to_numpy(), data["event"].to_numpy())


@pytest.mark.parametrize("name", MODELLED)
def test_cox_fit_equals_coxph(name: str) -> None:
    data, fit = fitted(name)
    assert fit.converged and fit.convergence == ""
    r = answers("coef")
    r = r[r["dataset"] == name].set_index("term")
    table = fit.coef_table().set_index("term")
    assert list(table.index) == TERMS[name]
    for ours, theirs in [("coef", "coef"), ("se", "se"), ("z", "z"), ("p", "p"), ("HR_lower", "HR_lower"),
                         ("HR_upper", "HR_upper")]:
        assert_close(table[ours], r[theirs])
    assert_close(table["HR"], np.exp(r["coef"]))
    tests = answers("tests").set_index("dataset").loc[name]
    assert (fit.n, fit.n_events) == (tests["n"], tests["n_events"])
    for ours, theirs in [("loglik_null", "loglik_null"), ("loglik", "loglik"), ("lr", "lr"), ("lr_p", "lr_p"),
                         ("wald", "wald"), ("wald_p", "wald_p"), ("score", "score"), ("score_p", "score_p")]:
        assert getattr(fit, ours) == pytest.approx(tests[theirs], rel=REL), ours
    var = answers("var")
    var = var[var["dataset"] == name].pivot(index="row", columns="col", values="value")
    assert_close(fit.var.loc[TERMS[name], TERMS[name]].to_numpy(), var.loc[TERMS[name], TERMS[name]].to_numpy())


@pytest.mark.parametrize("name", MODELLED)
def test_cox_baseline_and_predictions_equal_survfit_coxph(name: str) -> None:
    data, fit = fitted(name)
    horizons = HORIZONS[name]
    base = answers("baseline")
    base = base[base["dataset"] == name]
    assert_close(fit.baseline_cumulative_hazard(horizons), base["cumhaz"])
    at_means = fit.predict_survival(pd.DataFrame([fit.means]), horizons)
    for column in ["survival", "std_err", "lower", "upper"]:
        assert_close(at_means[column], base[column])
    r = answers("predict")
    r = r[r["dataset"] == name]
    rows = data.iloc[[0, 1, 2, 9, 19]][TERMS[name]]
    ours = fit.predict_survival(rows, horizons)
    assert list(ours["patient"]) == list(np.repeat(rows.index, 3))
    for column in ["survival", "std_err", "lower", "upper"]:
        assert_close(ours[column], r[column])
    assert_close(fit.linear_predictor(rows, centered=True), r["lp"].to_numpy()[::3])
    # the uncentred pieces give the same survival: S = exp(-H0(t) exp(x'beta))
    direct = fit.survival_for_linear_predictor(fit.linear_predictor(rows), horizons)
    assert_close(direct.ravel(), ours["survival"])


@pytest.mark.parametrize("name", MODELLED)
def test_cox_zph_equals_survival_3(name: str) -> None:
    data, fit = fitted(name)
    r = answers("zph")
    r = r[r["dataset"] == name]
    ours = cox_zph(fit)
    assert list(ours["term"]) == list(r["term"])
    assert_close(ours["chisq"], r["chisq"])
    assert list(ours["df"]) == list(r["df"])
    assert_close(ours["p"], r["p"], rel=1e-8)
    # the same from the data passed again
    again = cox_zph(fit, data[TERMS[name]], data["time"].to_numpy(), data["event"].to_numpy())
    assert_close(again["chisq"], ours["chisq"], rel=1e-12)


def test_breslow_ties_equal_coxph_breslow() -> None:
    data = dataset("lung")
    fit = fit_cox(data[TERMS["lung"]], data["time"].to_numpy(), data["event"].to_numpy(), ties="breslow")
    r = answers("breslow")
    assert_close(fit.coef[TERMS["lung"]], r.loc[r["what"] == "coef", "value"])
    assert_close(fit.se[TERMS["lung"]], r.loc[r["what"] == "se", "value"])
    assert_close([fit.loglik_null, fit.loglik], r.loc[r["what"] == "loglik", "value"])
    # survfit's curve of a Breslow fit has no tie correction (ctype 1)
    predicted = fit.predict_survival(data.iloc[[0, 1, 2, 9, 19]][TERMS["lung"]], HORIZONS["lung"])
    assert_close(predicted["survival"], r.loc[r["what"] == "survival", "value"])
    assert_close(predicted["std_err"], r.loc[r["what"] == "std_err", "value"])


def test_univariable_cox_equals_coxph_one_by_one() -> None:
    data = dataset("synth")
    features = data.drop(columns=["time", "event", "group"])
    ours = univariable_cox(features, data["time"].to_numpy(), data["event"].to_numpy())
    r = answers("univariable")
    assert list(ours["feature"]) == list(r["feature"])
    assert ours["converged"].all() and (ours["note"] == "").all()
    # R stops at a relative log-likelihood change of 1e-12 too: coefficients agree to ~1e-10
    assert_close(ours["coef"], r["coef"], rel=1e-8)
    assert_close(ours["se"], r["se"], rel=1e-9)
    assert_close(ours["p_wald"], r["p_wald"], rel=1e-7)
    assert_close(ours["p_lr"], r["p_lr"], rel=1e-8)
    # the likelihood-ratio chi-square is the statistic behind coxph's logtest p (1 df)
    assert_close(stats.chi2.sf(ours["lr_chisq"], 1), r["p_lr"], rel=1e-8)
    assert (ours["lr_chisq"] > 0).all()
    assert_close(ours["HR"], np.exp(ours["coef"]), rel=1e-14)


def test_monotone_likelihood_is_reported_as_coxph_warns() -> None:
    """The x = 1 patients all have the event before any x = 0 patient: coxph warns "Loglik converged before
    variable 1; coefficient may be infinite" (recorded by the R script); our fit says so in words."""
    assert "coefficient may be infinite" in answers("monotone_warning")["warning"].iloc[0]
    X = pd.DataFrame({"marker": [1, 1, 1, 1, 0, 0, 0, 0.0]})
    time, event = np.arange(1.0, 9.0), np.array([1, 1, 1, 0, 1, 0, 1, 0])
    fit = fit_cox(X, time, event)
    assert not fit.converged
    assert "marker" in fit.convergence and "infinite" in fit.convergence
    screened = univariable_cox(X, time, event)
    assert not screened["converged"].iloc[0] and "infinite" in screened["note"].iloc[0]


def test_cox_refuses_what_it_cannot_fit() -> None:
    data = dataset("synth")
    time, event = data["time"].to_numpy(), data["event"].to_numpy()
    with pytest.raises(RadNomoError, match="at least one event"):
        fit_cox(data[["x1"]], time, np.zeros_like(event))
    with pytest.raises(RadNomoError, match="one value for every patient"):
        fit_cox(data[["x1"]].assign(flat=1.0), time, event)
    with pytest.raises(RadNomoError, match="collinear"):
        fit_cox(data[["x1", "x3"]].assign(both=data["x1"] + 2 * data["x3"]), time, event)
    with pytest.raises(RadNomoError, match="Missing values in x1"):
        fit_cox(data[["x1"]].astype(float).mask(data[["x1"]] < -1), time, event)
    with pytest.raises(RadNomoError, match="Tie handling .exact. is not valid"):
        fit_cox(data[["x1"]], time, event, ties="exact")
    fit = fit_cox(data[["x1"]], time, event)
    with pytest.raises(RadNomoError, match="beyond the last follow-up"):
        fit.predict_survival(data[["x1"]].head(2), [12, 10_000])
    with pytest.raises(RadNomoError, match="lack"):
        fit.predict_survival(data[["x3"]].head(2), [12])
    with pytest.raises(RadNomoError, match="at least two groups"):
        log_rank(time, event, np.zeros(len(time)))
    with pytest.raises(RadNomoError, match="at least one event"):
        univariable_cox(data[["x1"]], time, np.zeros_like(event))


def test_univariable_cox_reports_constant_features() -> None:
    data = dataset("synth")
    result = univariable_cox(data[["x1"]].assign(flat=3.0), data["time"].to_numpy(), data["event"].to_numpy())
    flat = result.set_index("feature").loc["flat"]
    assert np.isnan(flat["coef"]) and np.isnan(flat["p_wald"]) and not flat["converged"]
    assert np.isnan(flat["lr_chisq"]) and np.isnan(flat["p_lr"])
    assert result.set_index("feature").loc["x1", "lr_chisq"] > 0
    assert "constant" in flat["note"]


def test_ph_test_flags_a_hazard_ratio_that_reverses() -> None:
    """Data made to break proportional hazards (HR 6 in the first 10 time units, 1/6 after): cox.zph flags the
    term and ph_warning names it; with proportional hazards the sentence is empty."""
    rng = np.random.default_rng(27)
    n = 400
    x = rng.integers(0, 2, n).astype(float)
    early = rng.exponential(1 / (0.02 * np.where(x == 1, 6.0, 1.0)))
    late = 10 + rng.exponential(1 / (0.05 * np.where(x == 1, 1 / 6, 1.0)))
    event_time = np.where(early < 10, early, late)
    censor = rng.uniform(5, 60, n)
    time, event = np.minimum(event_time, censor), (event_time <= censor).astype(int)
    noise = rng.normal(size=n)
    fit = fit_cox(pd.DataFrame({"treated": x, "noise": noise}), time, event)
    zph = cox_zph(fit)
    assert zph.set_index("term").loc["treated", "p"] < 1e-4
    sentence = ph_warning(zph)
    assert "treated" in sentence and "noise" not in sentence
    proportional = fit_cox(dataset("lung")[["age"]], dataset("lung")["time"], dataset("lung")["event"])
    assert ph_warning(cox_zph(proportional)) == ""


# ---------------------------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------------------------
survival_data = st.integers(min_value=0, max_value=10_000).map(lambda seed: np.random.default_rng(seed)).map(
    lambda rng: (np.ceil(rng.exponential(10, 40)), rng.integers(0, 2, 40), rng.normal(size=40)))


@settings(max_examples=15, deadline=None)
@given(survival_data)
def test_kaplan_meier_properties(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    time, event, _ = data
    km = kaplan_meier(time, event)
    assert np.all(np.diff(km.survival) <= 0) and np.all((km.survival >= 0) & (km.survival <= 1))
    assert km.n_risk[0] == len(time) and km.n_event.sum() == event.sum()
    # without censoring the curve is the share still event-free
    uncensored = kaplan_meier(time, np.ones_like(event))
    np.testing.assert_allclose(uncensored.survival, [(time > t).mean() for t in uncensored.time], atol=1e-12)


@settings(max_examples=10, deadline=None)
@given(survival_data)
def test_cox_properties(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    time, event, x = data
    event = event.copy()
    event[:3] = 1   # at least a few events
    one = fit_cox(pd.DataFrame({"x": x}), time, event)
    screened = univariable_cox(pd.DataFrame({"x": x, "scaled": 1000 * x + 5}), time, event).set_index("feature")
    if not one.converged:
        return
    # the screening loop is the same model as a single fit, and units only rescale the coefficient
    assert screened.loc["x", "coef"] == pytest.approx(one.coef["x"], rel=1e-7)
    assert screened.loc["x", "p_lr"] == pytest.approx(one.lr_p, rel=1e-6)
    assert screened.loc["x", "lr_chisq"] == pytest.approx(one.lr, rel=1e-6, abs=1e-9)
    assert screened.loc["scaled", "coef"] == pytest.approx(one.coef["x"] / 1000, rel=1e-7)
    # without ties Efron and Breslow are the same likelihood
    distinct = time + np.arange(len(time)) * 1e-3
    efron = fit_cox(pd.DataFrame({"x": x}), distinct, event)
    breslow = fit_cox(pd.DataFrame({"x": x}), distinct, event, ties="breslow")
    assert efron.coef["x"] == pytest.approx(breslow.coef["x"], rel=1e-9)
    # the log-rank statistic ignores how the groups are labelled
    groups = np.where(x > 0, "high", "low")
    swapped = np.where(x > 0, "b", "a")
    assert log_rank(time, event, groups).chisq == pytest.approx(log_rank(time, event, swapped).chisq, rel=1e-12)
