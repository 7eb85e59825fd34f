"""Cox nomogram with survival axes, survival calibration and decision curves: known answers from R (rms 6.5,
survival 3.5; dcurves' formula reproduced with survfit) in tests/reference/survival_nomogram.R, properties and
edge cases, and the real sarcoma cohort where /work/shared is present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.stats.modeling import NomogramDesign
from core.stats.survival.calibration import cox_slope, kaplan_meier_at, quantile_groups, survival_calibration
from core.stats.survival.decision import DEFAULT_THRESHOLDS, UNKNOWN_RISK_NOTE, survival_decision_curve
from core.stats.survival.nomogram import BaselineHazard, CoxNomogram, patient_survival, r_approx

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
SARCOMA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sts_ct" / "tables" / "clinical_outcome.csv"
TICKS = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
MEDIAN_TICKS = [6, 12, 24, 36, 48, 60, 72]


def _reference(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / f"survival_nomogram_{name}.csv")


@pytest.fixture(scope="module")
def r_fit():
    fit = _reference("fit").set_index("term")["value"]
    coefficients = pd.Series({"age": fit["age"], "size": fit["size"], "grade: mid": fit["grade=mid"],
                              "grade: high": fit["grade=high"]})
    design = NomogramDesign(continuous=("age", "size"), levels={"grade": ("low", "mid", "high")},
                            coefficients=coefficients)
    baseline = _reference("baseline")
    nomogram = CoxNomogram(design, _reference("data"), BaselineHazard(baseline["time"].to_numpy(),
                                                                      baseline["cumhaz"].to_numpy()))
    return {"fit": fit, "design": design, "baseline": baseline, "nomogram": nomogram, "axes": _reference("axes")}


def _r_axis(axes: pd.DataFrame, name: str) -> pd.DataFrame:
    return axes[axes["axis"] == name].reset_index(drop=True)


# --- nomogram ---------------------------------------------------------------------------------------------


def test_centring_and_baseline_match_cph(r_fit):
    nomogram, baseline = r_fit["nomogram"], r_fit["baseline"]
    assert nomogram.center == pytest.approx(r_fit["fit"]["center"], rel=1e-12)
    # cph's own baseline survival (at the mean patient) is basehaz(centered = FALSE) shifted by the centre.
    np.testing.assert_allclose(np.exp(-baseline["cumhaz"] * np.exp(nomogram.center)), baseline["cph_surv"], rtol=1e-12)


@pytest.mark.parametrize("predictor", ["age", "size", "grade"])
def test_predictor_points_match_rms(r_fit, predictor):
    ours, r = r_fit["nomogram"].axis(predictor), _r_axis(r_fit["axes"], predictor)
    assert [str(v) if predictor == "grade" else f"{v:g}" for v in ours["value"]] == list(r["value"].astype(str))
    np.testing.assert_allclose(ours["points"], r["points"], rtol=1e-10, atol=1e-9)


def test_total_points_and_lp_axes_match_rms(r_fit):
    nomogram, axes = r_fit["nomogram"], r_fit["axes"]
    np.testing.assert_allclose(nomogram.total_points_axis()["points"], _r_axis(axes, "total_points")["points"],
                               rtol=1e-12)
    lp = _r_axis(axes, "lp_at")
    np.testing.assert_allclose(nomogram.lp_axis()["linear_predictor"], lp["value"].astype(float), atol=1e-12)
    np.testing.assert_allclose(nomogram.lp_axis()["points"], lp["points"], rtol=1e-10)
    scale = _reference("scale").set_index("quantity")["value"]
    assert nomogram.scale.points_per_unit_lp == pytest.approx(scale["sc"], rel=1e-12)
    assert nomogram.linear_predictor_at(0.0) == pytest.approx(scale["Intercept"], rel=1e-12)


@pytest.mark.parametrize("horizon", [12, 36, 60])
def test_survival_ticks_sit_where_rms_draws_them(r_fit, horizon):
    ours = r_fit["nomogram"].survival_axis(horizon, TICKS)
    r = _r_axis(r_fit["axes"], f"S{horizon}")
    assert len(ours) < len(TICKS)  # the ticks outside lp_at's range are left out, as rms
    np.testing.assert_allclose(ours["survival"], r["value"].astype(float), rtol=0)
    np.testing.assert_allclose(ours["total_points"], r["points"], rtol=1e-10, atol=1e-8)


def test_median_ticks_sit_where_rms_draws_them(r_fit):
    ours = r_fit["nomogram"].median_axis(MEDIAN_TICKS)
    r = _r_axis(r_fit["axes"], "median")
    assert list(ours["median_time"]) == list(r["value"].astype(float))  # 60 and 72 months never reached
    np.testing.assert_allclose(ours["total_points"], r["points"], rtol=1e-10, atol=1e-8)


def test_calculator_matches_rms_survival_and_quantile(r_fit):
    nomogram = r_fit["nomogram"]
    for _, patient in _reference("patients").iterrows():
        result = patient_survival(nomogram, patient, [12, 36, 60])
        assert result.linear_predictor == pytest.approx(patient["lp"], abs=1e-12)
        np.testing.assert_allclose(result.survival["survival"], patient[["S12", "S36", "S60"]].astype(float),
                                   rtol=1e-10)
        assert result.median_time == patient["median"]
        assert result.total_points == pytest.approx(result.points.sum())
        assert result.survival[["lower", "upper"]].isna().all().all() and "no confidence interval" in \
            result.interval_note


def test_calculator_uses_the_interval_hook(r_fit):
    seen = {}

    def interval(row, horizons, level):
        seen.update(row=row, horizons=list(horizons), level=level)
        return np.full(len(horizons), 0.1), np.full(len(horizons), 0.9)

    result = patient_survival(r_fit["nomogram"], {"age": 50, "size": 4, "grade": "mid"}, [12, 36], interval, 0.9)
    assert seen == {"row": {"age": 50, "size": 4, "grade": "mid"}, "horizons": [12.0, 36.0], "level": 0.9}
    assert list(result.survival["lower"]) == [0.1, 0.1] and result.interval_note == ""


def test_default_survival_axis_is_monotone_and_close_to_the_exact_inverse(r_fit):
    nomogram = r_fit["nomogram"]
    axis = nomogram.survival_axis(36)
    assert len(axis) >= 3 and (np.diff(axis["total_points"]) < 0).all()  # more points, lower survival
    lp = [nomogram.linear_predictor_at(p) for p in axis["total_points"]]
    # rms inverts on a 1000-point grid with linear interpolation: close to, not equal to, the exact inverse.
    np.testing.assert_allclose(nomogram.survival(36, lp), axis["survival"], atol=2e-4)


@settings(max_examples=10, deadline=5000)
@given(st.floats(30, 90), st.floats(1, 15), st.sampled_from(["low", "mid", "high"]), st.sampled_from([3, 12, 40]))
def test_calculator_equals_the_cox_formula_on_uncentred_covariates(r_fit, age, size, grade, horizon):
    nomogram, design, baseline = r_fit["nomogram"], r_fit["design"], r_fit["baseline"]
    row = {"age": age, "size": size, "grade": grade}
    raw_lp = float(design.coefficients.reindex(["age", "size"]) @ [age, size]
                   + design.coefficients.get(f"grade: {grade}", 0.0))
    cumhaz = baseline.loc[baseline["time"] <= horizon, "cumhaz"].iloc[-1]
    result = patient_survival(nomogram, row, [horizon])
    assert result.survival["survival"].iloc[0] == pytest.approx(np.exp(-cumhaz * np.exp(raw_lp)), rel=1e-10)


def test_nomogram_refuses_what_it_cannot_draw(r_fit):
    nomogram, design = r_fit["nomogram"], r_fit["design"]
    with pytest.raises(RadNomoError, match="past the last follow-up"):
        nomogram.survival_axis(500)
    with pytest.raises(RadNomoError, match="values are needed"):
        patient_survival(nomogram, {"age": 50, "grade": "low"}, [12])
    with pytest.raises(RadNomoError, match="not a level"):
        patient_survival(nomogram, {"age": 50, "size": 3, "grade": "extreme"}, [12])
    with pytest.raises(RadNomoError, match="strictly between 0 and 1"):
        nomogram.survival_axis(12, [0.5, 1.0])
    with_intercept = NomogramDesign(continuous=design.continuous, levels=design.levels,
                                    coefficients=pd.concat([pd.Series({"const": 0.3}), design.coefficients]))
    with pytest.raises(RadNomoError, match="no intercept"):
        CoxNomogram(with_intercept, _reference("data"), nomogram.baseline)
    with pytest.raises(RadNomoError, match="must increase"):
        BaselineHazard(np.array([1.0, 1.0]), np.array([0.1, 0.2]))


def test_r_approx_averages_ties_and_leaves_out_the_outside():
    x, y = np.array([3.0, 1.0, 2.0, 2.0]), np.array([30.0, 10.0, 19.0, 21.0])
    np.testing.assert_allclose(r_approx(x, y, np.array([1.5, 2.0, 2.5])), [15.0, 20.0, 25.0])
    assert np.isnan(r_approx(x, y, np.array([0.5, 3.5]))).all()


# --- calibration ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def external():
    return _reference("external")


def test_calibration_groups_slope_and_oe_match_r(external):
    ours = survival_calibration(external["time"], external["event"], external["pred36"], 36, groups=5)
    r = _reference("calibration_groups")
    for column in ("group", "n", "events"):
        assert list(ours.groups[column]) == list(r[column])
    for column in ("predicted", "observed", "lower", "upper", "std_err"):
        np.testing.assert_allclose(ours.groups[column], r[column], rtol=1e-10)
    assert (ours.groups["note"] == "").all()
    summary = _reference("calibration_summary").iloc[0]
    slope = ours.slope
    assert slope.converged and slope.convergence == ""
    # Same Efron likelihood, both Newton-Raphson: coxph stops at its default eps (1e-9, relative change of the
    # log-likelihood), after the quadratic convergence has settled beta to ~1e-15 here; 1e-9 leaves room.
    assert slope.coefficient == pytest.approx(summary["slope"], rel=1e-9)
    assert slope.std_err == pytest.approx(summary["slope_se"], rel=1e-9)
    assert (slope.lower, slope.upper) == pytest.approx((summary["slope_lower"], summary["slope_upper"]), rel=1e-9)
    assert slope.loglik == pytest.approx(summary["slope_loglik"], rel=1e-12)
    assert ours.events_by_horizon == summary["events_by_t"]
    got = (ours.observed_expected, ours.oe_lower, ours.oe_upper, ours.observed_risk, ours.expected_risk)
    assert got == pytest.approx(tuple(summary[["oe", "oe_lower", "oe_upper", "observed_risk", "expected_risk"]]),
                                rel=1e-12)


def test_calibration_refuses_impossible_requests(external):
    time, event, pred = external["time"], external["event"], external["pred36"]
    with pytest.raises(RadNomoError, match="past the last follow-up"):
        survival_calibration(time, event, pred, 500)
    with pytest.raises(RadNomoError, match="no event by the horizon"):
        survival_calibration(np.array([5.0, 6, 7]), np.array([1, 0, 1]), np.array([0.9, 0.8, 0.7]), 4, groups=1)
    with pytest.raises(RadNomoError, match="strictly between 0 and 1"):
        survival_calibration(time, event, np.where(pred > 0.5, 1.0, pred), 36)
    with pytest.raises(RadNomoError, match="too few distinct values"):
        quantile_groups(np.array([0.2, 0.2, 0.2, 0.2, 0.5]), 4)


def test_calibration_flags_a_group_followed_less_than_the_horizon():
    time = np.array([2.0, 3, 4, 5, 20, 25, 30, 35])
    event = np.array([1, 0, 1, 0, 1, 0, 1, 0])
    pred = np.array([0.8, 0.75, 0.7, 0.65, 0.4, 0.35, 0.3, 0.25])  # the high-survival group is followed to 5
    result = survival_calibration(time, event, pred, 10, groups=2)
    assert result.groups["note"].iloc[1].startswith("follow-up in this group ends at 5")
    assert result.groups["observed"].iloc[1] == pytest.approx((1 - 1 / 4) * (1 - 1 / 2))  # carried, as R extend


def test_monotone_slope_is_reported_not_silent():
    time = np.arange(1.0, 21.0)
    slope = cox_slope(time, np.ones(20, dtype=int), -time)  # the covariate orders every death
    assert not slope.converged and "monotone likelihood" in slope.convergence


@settings(max_examples=8, deadline=5000)
@given(st.integers(0, 2**31 - 1), st.floats(0.3, 3.0))
def test_slope_is_shift_free_and_scales_inversely(seed, power):
    rng = np.random.default_rng(seed)
    lp = rng.normal(size=60)
    time = rng.exponential(np.exp(-lp)) + 0.01
    event = (rng.uniform(size=60) < 0.8).astype(int)
    event[0] = 1
    pred = np.exp(-0.5 * np.exp(lp))
    base = cox_slope(time, event, np.log(-np.log(pred)))
    # S^power shifts log(-log S) by log(power): same slope. Doubling log(-log S) halves it.
    assert cox_slope(time, event, np.log(-np.log(pred ** power))).coefficient == pytest.approx(base.coefficient,
                                                                                               rel=1e-7, abs=1e-9)
    assert cox_slope(time, event, 2 * np.log(-np.log(pred))).coefficient == pytest.approx(base.coefficient / 2,
                                                                                          rel=1e-7, abs=1e-9)


# --- decision curve ---------------------------------------------------------------------------------------


def test_decision_curve_matches_dcurves_formula(external):
    ours = survival_decision_curve(external["time"], external["event"], 1 - external["pred36"], 36,
                                   np.arange(1, 100) / 100)
    r = _reference("decision")
    np.testing.assert_allclose(ours["threshold"], r["threshold"], rtol=1e-12)
    np.testing.assert_allclose(ours["test_positive_rate"], r["test_positive_rate"], rtol=1e-12)
    np.testing.assert_allclose(ours["treat_all"], r["treat_all"], rtol=1e-10)
    assert (ours["treat_none"] == r["treat_none"]).all()
    missing = r["net_benefit"].isna().to_numpy()
    np.testing.assert_allclose(ours.loc[~missing, "net_benefit"], r.loc[~missing, "net_benefit"], rtol=1e-10,
                               atol=1e-14)
    # dcurves' NA at the two top thresholds: their patients' follow-up ends before 36 months, but every one of
    # them died (survfit's summary(times = 36, extend = TRUE) gives survival 0 there): risk 1, NB = P here.
    assert missing.sum() == 2
    risk = 1 - external["pred36"].to_numpy()
    for threshold in r.loc[missing, "threshold"]:
        positive = risk >= threshold
        assert external["event"][positive].all() and external["time"][positive].max() < 36
    assert not ours["net_benefit"].isna().any() and (ours["note"] == "").all()
    np.testing.assert_array_equal(ours.loc[missing, "net_benefit"], ours.loc[missing, "test_positive_rate"])


def test_decision_curve_edge_cases():
    time = np.array([2.0, 4, 6, 8, 10, 12, 14, 16])
    event = np.array([1, 1, 0, 1, 0, 1, 0, 0])
    risk = np.array([0.9, 0.7, 0.6, 0.5, 0.3, 0.2, 0.1, 0.05])
    curve = survival_decision_curve(time, event, risk, 9, [0.5, 0.95])
    assert curve["net_benefit"].iloc[1] == 0 and curve["test_positive_rate"].iloc[1] == 0  # nobody that high
    everyone = survival_decision_curve(time, event, np.ones(8), 9, [0.2])
    assert everyone["net_benefit"].iloc[0] == pytest.approx(everyone["treat_all"].iloc[0])
    # Test positives all followed past the horizon, no time at or before it: their risk is 0 (dcurves fails).
    late = survival_decision_curve(time, event, np.r_[np.zeros(5), 0.9, 0.9, 0.9], 9, [0.5])
    assert late["net_benefit"].iloc[0] == pytest.approx(-3 / 8 * 1.0)
    assert len(DEFAULT_THRESHOLDS) == 99 and DEFAULT_THRESHOLDS[0] == 0.01 and DEFAULT_THRESHOLDS[-1] == 0.99
    # Test positives all followed less than the horizon: the last one censored -> unknown (NaN with the note);
    # the last one an event -> Kaplan-Meier survival 0 from there on, risk 1 (dcurves: NA in both).
    short = survival_decision_curve(time, event, np.r_[0.9, 0.9, 0.9, np.zeros(5)], 9, [0.5])
    assert np.isnan(short["net_benefit"].iloc[0]) and short["note"].iloc[0] == UNKNOWN_RISK_NOTE
    dead = survival_decision_curve(time, event, np.r_[0.9, 0.9, np.zeros(6)], 9, [0.5])
    assert dead["tp_rate"].iloc[0] == 2 / 8 and dead["fp_rate"].iloc[0] == 0 and dead["note"].iloc[0] == ""
    assert survival_decision_curve(time[:2], event[:2], risk[:2], 9, [0.5])["treat_all"].iloc[0] == 1
    with pytest.raises(RadNomoError, match="no patient is followed up to the horizon"):
        survival_decision_curve(time, event, risk, 20)
    with pytest.raises(RadNomoError, match="strictly between 0 and 1"):
        survival_decision_curve(time, event, risk, 9, [0.0, 0.5])
    with pytest.raises(RadNomoError, match="between 0 and 1"):
        survival_decision_curve(time, event, risk + 0.5, 9)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), horizon=st.sampled_from([3.0, 8.0, 15.0]))
def test_decision_curve_is_the_kaplan_meier_of_each_threshold_group(seed, horizon):
    """Each threshold's group against its own Kaplan-Meier fit (lifelines) on small tied, censored data."""
    from lifelines import KaplanMeierFitter
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    time = np.round(rng.exponential(8, n)) + 1.0    # whole units: ties, also at the horizon
    event = rng.integers(0, 2, n)
    risk = np.round(rng.uniform(0, 1, n), 1)          # tied risks: thresholds equal to a risk are test positive
    thresholds = [0.05, 0.3, 0.5, 0.7, 0.9, 0.95]
    if time.max() < horizon and event[time == time.max()].min() == 0:
        with pytest.raises(RadNomoError, match="no patient is followed up"):
            survival_decision_curve(time, event, risk, horizon, thresholds)
        return
    curve = survival_decision_curve(time, event, risk, horizon, thresholds)
    for row, threshold in zip(curve.itertuples(), thresholds, strict=True):
        positive = risk >= threshold
        assert row.test_positive_rate == positive.mean()
        if not positive.any():
            assert row.net_benefit == 0 and row.note == ""
            continue
        km = KaplanMeierFitter().fit(time[positive], event[positive])
        survival = float(km.survival_function_at_times(horizon).iloc[0])   # carried past the last time
        if time[positive].max() < horizon and survival > 0:
            assert np.isnan(row.net_benefit) and row.note == UNKNOWN_RISK_NOTE
        else:
            assert row.tp_rate == pytest.approx((1 - survival) * positive.mean(), abs=1e-12)
            odds = threshold / (1 - threshold)
            assert row.net_benefit == pytest.approx(row.tp_rate - row.fp_rate * odds, abs=1e-12)


# --- real data --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sarcoma():
    if not SARCOMA.is_file():
        pytest.skip(f"needs ../shared/data (the sarcoma cohort {SARCOMA} is absent)")
    table = pd.read_csv(SARCOMA)
    return table["days_dx_to_last_fu"].to_numpy(dtype=float), (table["status"] == "D").to_numpy(dtype=int), table


def test_kaplan_meier_and_treat_all_on_the_sarcoma_cohort_match_lifelines(sarcoma):
    from lifelines import KaplanMeierFitter
    time, event, table = sarcoma
    km = KaplanMeierFitter().fit(time, event)
    for horizon in (365.0, 730.0, 1095.0):
        ours = kaplan_meier_at(time, event, horizon)
        assert ours.survival == pytest.approx(float(km.survival_function_at_times(horizon).iloc[0]), rel=1e-12)
        curve = survival_decision_curve(time, event, np.ones(len(time)), horizon, [0.1])
        assert curve["treat_all"].iloc[0] == pytest.approx((1 - ours.survival) - ours.survival * 0.1 / 0.9, rel=1e-12)
    # A crude prediction (older is worse) runs through calibration on real censored data.
    age = table["age"].to_numpy(dtype=float)
    pred = np.exp(-0.2 * np.exp((age - age.mean()) / age.std()))
    result = survival_calibration(time, event, pred, 730.0, groups=3)
    assert result.groups["n"].sum() == len(time) and result.slope.std_err > 0
