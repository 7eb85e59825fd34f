"""LASSO-Cox path and cross-validation: known answers from R's glmnet 4.1-6 (tests/reference/glmnet_cox.R),
an independent Breslow Cox fit (statsmodels), the optimality conditions, invariances and edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.stats.survival.lasso_cox import LassoCoxCV, LassoCoxPath, cox_deviance, lasso_cox_cv, lasso_cox_path

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
SARCOMA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sts_ct" / "tables" / "clinical_outcome.csv"
# The thresh R's "tight" fits used (glmnet_cox.R): at the same thresh the iterations are glmnet's own.
TIGHT = {"lung": 1e-13, "narrow": 1e-13, "wide": 1e-9}


def _case(name: str):
    data = pd.read_csv(REFERENCE / f"glmnet_cox_{name}_data.csv")
    return data.pop("time").to_numpy(), data.pop("event").to_numpy(), data.pop("foldid").to_numpy(), data


@pytest.fixture(scope="module", params=["lung", "narrow", "wide"])
def answers(request):
    name = request.param
    time, event, foldid, X = _case(name)
    return {"name": name, "X": X, "time": time, "event": event, "foldid": foldid,
            "cv": pd.read_csv(REFERENCE / f"glmnet_cox_{name}_cv.csv"),
            "cv_default": pd.read_csv(REFERENCE / f"glmnet_cox_{name}_cv_default.csv"),
            "coef": pd.read_csv(REFERENCE / f"glmnet_cox_{name}_coef.csv", index_col="term"),
            "choice": pd.read_csv(REFERENCE / f"glmnet_cox_{name}_choice.csv", index_col="fit"),
            "default": lasso_cox_cv(X, time, event, foldid=foldid),
            "default_c": lasso_cox_cv(X, time, event, foldid=foldid, measure="C"),
            "tight_path": lasso_cox_path(X, time, event, tol=TIGHT[name])}


# Tolerances: the path is glmnet's algorithm step for step (the same IRLS weights, coordinate order, strong rule
# and convergence test), so at the same thresh our iterates agree with glmnet's to rounding (~1e-13 seen); the
# tolerances below leave three orders of magnitude for compilers. glmnet's thresh bounds the distance of both to
# the exact optimum (~1e-3 in standardised coefficients at its default 1e-7), not the distance between them.

def test_lambda_sequence_and_early_end_match_glmnet(answers):
    ours, cv = answers["tight_path"], answers["cv"]
    assert len(ours.lambdas) == len(cv) == answers["choice"].loc["tight", "n_lambda"]
    np.testing.assert_allclose(ours.lambdas, cv["lambda"], rtol=1e-10)
    np.testing.assert_allclose(ours.dev_ratio, cv["dev_ratio"], rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(ours.n_nonzero, cv["nzero"])
    assert ours.null_deviance == pytest.approx(answers["choice"].loc["tight", "nulldev"], rel=1e-12)
    default, cv_default = answers["default"], answers["cv_default"]
    assert len(default.lambdas) == len(cv_default) == answers["choice"].loc["default", "n_lambda"]
    np.testing.assert_allclose(default.path.dev_ratio, cv_default["dev_ratio"], rtol=1e-9, atol=1e-12)


def test_path_coefficients_match_glmnet(answers):
    ours, coef = answers["tight_path"], answers["coef"]
    sds = ours.feature_sds.to_numpy()
    along = [c for c in coef.columns if c.startswith("path_")]
    assert len(along) == 5
    for column in along:
        index = int(column.removeprefix("path_")) - 1
        # Compared per standardised feature (coefficient x SD): "narrow" has features on scales 0.01 to 1000.
        np.testing.assert_allclose(ours.coefs.iloc[index].to_numpy() * sds, coef[column].to_numpy() * sds,
                                   atol=1e-8)


def test_cv_deviance_curve_and_choice_match_cv_glmnet_default(answers):
    ours, cv, choice = answers["default"], answers["cv_default"], answers["choice"]
    np.testing.assert_allclose(ours.lambdas, cv["lambda"], rtol=1e-10)
    np.testing.assert_allclose(ours.cv_mean, cv["cvm"], rtol=1e-8)
    np.testing.assert_allclose(ours.cv_se, cv["cvsd"], rtol=1e-8)
    assert ours.index_min + 1 == choice.loc["default", "index_min"]
    assert ours.index_1se + 1 == choice.loc["default", "index_1se"]
    assert ours.lambda_ == ours.lambda_1se == pytest.approx(choice.loc["default", "lambda_1se"], rel=1e-10)
    # coef_: the non-zero coefficients at lambda.1se, the path's own
    np.testing.assert_array_equal(ours.coef_.to_numpy(), ours.path.coefs.iloc[ours.index_1se][ours.coef_.index])


def test_cv_c_index_curve_and_choice_match_cv_glmnet_default(answers):
    ours, cv, choice = answers["default_c"], answers["cv_default"], answers["choice"]
    np.testing.assert_allclose(ours.cv_mean, cv["cvm_c"], rtol=1e-10)
    np.testing.assert_allclose(ours.cv_se, cv["cvsd_c"], rtol=1e-8)
    assert ours.index_min + 1 == choice.loc["default_c", "index_min"]
    assert ours.index_1se + 1 == choice.loc["default_c", "index_1se"]


@pytest.mark.parametrize("name", ["lung", "narrow"])
def test_tight_cv_and_chosen_coefficients_match_cv_glmnet(name):
    time, event, foldid, X = _case(name)
    ours = lasso_cox_cv(X, time, event, foldid=foldid, tol=TIGHT[name])
    cv = pd.read_csv(REFERENCE / f"glmnet_cox_{name}_cv.csv")
    coef = pd.read_csv(REFERENCE / f"glmnet_cox_{name}_coef.csv", index_col="term")
    choice = pd.read_csv(REFERENCE / f"glmnet_cox_{name}_choice.csv", index_col="fit")
    np.testing.assert_allclose(ours.cv_mean, cv["cvm"], rtol=1e-8)
    np.testing.assert_allclose(ours.cv_se, cv["cvsd"], rtol=1e-8)
    assert ours.lambda_min == pytest.approx(choice.loc["tight", "lambda_min"], rel=1e-10)
    sds = ours.feature_sds.to_numpy()
    for rule, index in (("lambda_min", ours.index_min), ("lambda_1se", ours.index_1se)):
        np.testing.assert_allclose(ours.path.coefs.iloc[index].to_numpy() * sds, coef[rule].to_numpy() * sds,
                                   atol=1e-8)


# ------------------------------------------------------------------------------------------------------------
# Independent checks
# ------------------------------------------------------------------------------------------------------------

def _synthetic(seed: int, n: int = 120, p: int = 6):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p)) * rng.uniform(0.5, 20, size=p)
    eta = 0.8 * x[:, 0] / x[:, 0].std() - 0.5 * x[:, 1] / x[:, 1].std()
    event_time = rng.exponential(np.exp(-eta))
    censor = rng.exponential(1.5, size=n)
    time = np.round(np.minimum(event_time, censor), 1) + 0.1  # rounded: ties, also event with censoring
    event = (event_time <= censor).astype(int)
    return pd.DataFrame(x, columns=[f"x{j}" for j in range(p)]), time, event


def _breslow_gradient(z: np.ndarray, time: np.ndarray, event: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """d/d beta of the Breslow log partial likelihood / n, by the textbook sums (no shared code)."""
    n = len(time)
    total = np.zeros(z.shape[1])
    for t in np.unique(time[event == 1]):
        dying = (time == t) & (event == 1)
        at_risk = time >= t
        weights = np.exp(eta[at_risk])
        total += z[dying].sum(axis=0) - dying.sum() * (weights @ z[at_risk]) / weights.sum()
    return total / n


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_solutions_meet_the_lasso_optimality_conditions(seed):
    X, time, event = _synthetic(seed)
    path = lasso_cox_path(X, time, event, tol=1e-14)
    x = X.to_numpy()
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    for index in (3, len(path.lambdas) // 2, len(path.lambdas) - 1):
        lam = path.lambdas[index]
        beta = path.coefs.iloc[index].to_numpy() * x.std(axis=0)
        gradient = _breslow_gradient(z, time, event, z @ beta)
        active = beta != 0
        # glmnet's convergence test is on squared coefficient changes (< tol x null deviance), so the gradient
        # is exact to ~sqrt(tol), not to tol: 1e-5 of lambda at tol 1e-14.
        np.testing.assert_allclose(gradient[active], lam * np.sign(beta[active]), atol=1e-5 * lam)
        assert np.all(np.abs(gradient[~active]) <= lam * (1 + 1e-5))
    assert np.all(path.coefs.iloc[0] == 0) and path.n_nonzero[1] >= 1
    # lambda_max: the largest gradient at the null model, the smallest lambda that keeps every coefficient at 0
    null_gradient = _breslow_gradient(z, time, event, np.zeros(len(time)))
    assert path.lambdas[0] == pytest.approx(np.abs(null_gradient).max(), rel=1e-9)


def test_tiny_lambda_is_the_breslow_cox_fit():
    """At lambda -> 0 with n >> p the lasso is the unpenalised Cox model with Breslow ties (statsmodels PHReg)."""
    from statsmodels.duration.hazard_regression import PHReg

    X, time, event = _synthetic(3, n=300, p=4)
    path = lasso_cox_path(X, time, event, lambdas=np.array([1e-12]), tol=1e-16)
    fit = PHReg(time, X.to_numpy(), status=event, ties="breslow").fit()
    np.testing.assert_allclose(path.coefs.iloc[0].to_numpy(), fit.params, rtol=1e-6)


def test_deviance_is_twice_the_saturated_minus_the_partial_log_likelihood():
    from statsmodels.duration.hazard_regression import PHReg

    X, time, event = _synthetic(5)
    beta = np.linspace(-0.02, 0.03, X.shape[1])
    loglik = PHReg(time, X.to_numpy(), status=event, ties="breslow").loglike(beta)
    counts = pd.Series(time[event == 1]).value_counts().to_numpy()
    saturated = -np.sum(counts * np.log(counts))
    assert cox_deviance(time, event, X.to_numpy() @ beta)[0] == pytest.approx(2 * (saturated - loglik), rel=1e-12)


def test_time_unit_and_row_order_change_nothing():
    X, time, event = _synthetic(11)
    path = lasso_cox_path(X, time, event)
    np.testing.assert_allclose(lasso_cox_path(X, time * 30.4375, event).coefs, path.coefs, rtol=1e-12, atol=1e-14)
    order = np.random.default_rng(0).permutation(len(time))
    shuffled = lasso_cox_path(X.iloc[order], time[order], event[order])
    np.testing.assert_allclose(shuffled.coefs, path.coefs, rtol=1e-9, atol=1e-12)


def test_default_folds_are_stratified_by_event_and_seeded():
    X, time, event = _synthetic(13, n=150)
    first = lasso_cox_cv(X, time, event, n_folds=5, seed=4)
    again = lasso_cox_cv(X, time, event, n_folds=5, seed=4)
    np.testing.assert_array_equal(first.foldid, again.foldid)
    np.testing.assert_array_equal(first.cv_mean, again.cv_mean)
    per_fold = np.bincount(first.foldid, weights=event)[1:]
    assert per_fold.max() - per_fold.min() <= 1
    assert first.rule == "1se" and first.lambda_ == first.lambda_1se >= first.lambda_min


def test_c_measure_prefers_higher_concordance():
    X, time, event = _synthetic(17, n=200)
    fit = lasso_cox_cv(X, time, event, n_folds=5, measure="C", rule="min")
    assert fit.measure == "C"
    assert fit.cv_mean[fit.index_min] == fit.cv_mean.max()
    assert fit.cv_mean[fit.index_1se] >= fit.cv_mean.max() - fit.cv_se[fit.index_min]
    assert fit.lambda_ == fit.lambda_min
    assert 0.5 < fit.cv_mean.max() <= 1


def test_results_round_trip_through_json():
    X, time, event = _synthetic(19)
    fit = lasso_cox_cv(X, time, event, n_folds=4)
    back = LassoCoxCV.from_dict(json.loads(json.dumps(fit.to_dict())))
    np.testing.assert_array_equal(back.cv_mean, fit.cv_mean)
    pd.testing.assert_series_equal(back.coef_, fit.coef_)
    pd.testing.assert_frame_equal(back.path.coefs, fit.path.coefs)
    assert back.lambda_ == fit.lambda_ and back.index_1se == fit.index_1se
    path = LassoCoxPath.from_dict(json.loads(json.dumps(fit.path.to_dict())))
    np.testing.assert_array_equal(path.dev_ratio, fit.path.dev_ratio)
    pd.testing.assert_series_equal(fit.linear_predictor(X), back.linear_predictor(X))


def test_non_convergence_is_reported_not_silent():
    X, time, event = _synthetic(23)
    path = lasso_cox_path(X, time, event, max_iter=1, tol=1e-14)
    assert not path.converged and len(path.unconverged)
    assert "did not converge" in path.convergence
    fit = lasso_cox_cv(X, time, event, n_folds=3, max_iter=1, tol=1e-14)
    assert not fit.converged and fit.unconverged[0].fit == "all rows"
    assert "did not converge" in fit.convergence
    assert lasso_cox_cv(X, time, event, n_folds=3).convergence is None


def test_constant_feature_is_left_out_as_glmnet_does():
    X, time, event = _synthetic(29)
    X["flat"] = 2.5
    path = lasso_cox_path(X, time, event)
    assert np.all(path.coefs["flat"] == 0)
    np.testing.assert_allclose(path.coefs.drop(columns="flat"), lasso_cox_path(X.drop(columns="flat"), time,
                                                                                event).coefs)


def test_impossible_requests_raise_actionable_errors():
    X, time, event = _synthetic(31, n=60)
    with pytest.raises(RadNomoError, match="no events"):
        lasso_cox_path(X, time, np.zeros_like(event))
    foldid = np.where(event == 1, 1 + np.arange(len(event)) % 2, 3)  # fold 3: censored patients only
    with pytest.raises(RadNomoError, match="fold.*3.*no event"):
        lasso_cox_cv(X, time, event, foldid=foldid)
    with pytest.raises(RadNomoError, match="fold.*3.*no event"):
        lasso_cox_cv(X, time, event, foldid=foldid, measure="C")
    with pytest.raises(RadNomoError, match="too few"):
        lasso_cox_cv(X, time, np.where(np.arange(len(event)) < 4, 1, 0), n_folds=10)
    with pytest.raises(RadNomoError, match="measure"):
        lasso_cox_cv(X, time, event, measure="auc")
    with pytest.raises(RadNomoError, match="rows"):
        lasso_cox_path(X, time[:-1], event)


def test_real_sarcoma_overall_survival():
    """The 51 real sarcoma patients (CC BY 3.0): a path on age, sex and grade, and its cross-validation."""
    if not SARCOMA.exists():
        pytest.skip("needs ../shared/data/sts_ct (the real sarcoma tables)")
    table = pd.read_csv(SARCOMA)
    X = pd.DataFrame({"age": table["age"], "male": (table["sex"] == "Male").astype(float),
                      "high_grade": (table["grade"] == "High").astype(float)})
    time = table["days_dx_to_last_fu"].to_numpy(dtype=float)
    event = (table["status"] == "D").to_numpy().astype(int)
    fit = lasso_cox_cv(X, time, event, n_folds=5, seed=1)
    assert fit.converged and len(fit.lambdas) >= 5
    assert np.all(np.bincount(fit.foldid, weights=event)[1:] >= 1)
    assert np.isfinite(fit.cv_mean).all() and set(fit.coef_.index) <= set(X.columns)
