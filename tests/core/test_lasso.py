"""LASSO logistic regression with cross-validation: known answers from R's glmnet, scikit-learn, properties."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.selection import lasso_cv

REFERENCE = Path(__file__).resolve().parents[1] / "reference"


def _glmnet_case(name: str):
    data = pd.read_csv(REFERENCE / f"glmnet_{name}_data.csv")
    y = data.pop("y").to_numpy()
    foldid = data.pop("foldid").to_numpy()
    return data, y, foldid


@pytest.fixture(scope="module", params=["narrow", "wide"])
def glmnet_answers(request):
    name = request.param
    X, y, foldid = _glmnet_case(name)
    return {"X": X, "y": y, "foldid": foldid, "cv": pd.read_csv(REFERENCE / f"glmnet_{name}_cv.csv"),
            "coef": pd.read_csv(REFERENCE / f"glmnet_{name}_coef.csv", index_col="term"),
            "choice": pd.read_csv(REFERENCE / f"glmnet_{name}_choice.csv", index_col="fit"),
            "ours": lasso_cv(X, y, foldid=foldid), "ours_min": lasso_cv(X, y, foldid=foldid, rule="min")}


def test_lambda_path_and_its_early_end_match_glmnet(glmnet_answers):
    ours, cv = glmnet_answers["ours"], glmnet_answers["cv"]
    assert len(ours.lambdas) == len(cv)  # narrow: glmnet ends the path at 61 of 100 lambdas
    np.testing.assert_allclose(ours.lambdas, cv["lambda"], rtol=1e-10)
    decisive = ours.lambdas >= ours.lambda_min
    np.testing.assert_array_equal(ours.n_nonzero[decisive], cv["nzero"][decisive])
    # Far down a wide path a coefficient may sit within the solvers' tolerance of zero.
    assert np.abs(ours.n_nonzero - cv["nzero"]).max() <= 1


def test_cv_curve_matches_cv_glmnet(glmnet_answers):
    ours, cv = glmnet_answers["ours"], glmnet_answers["cv"]
    decisive = ours.lambdas >= ours.lambda_min  # the lambdas that decide lambda.min and lambda.1se
    np.testing.assert_allclose(ours.cv_mean[decisive], cv["cvm"][decisive], atol=1e-5)
    np.testing.assert_allclose(ours.cv_se[decisive], cv["cvsd"][decisive], atol=1e-5)
    np.testing.assert_allclose(ours.cv_mean, cv["cvm"], atol=5e-3)  # the near-separable tail: both approximate


def test_chosen_lambdas_match_cv_glmnet_tight_and_default(glmnet_answers):
    ours, choice = glmnet_answers["ours"], glmnet_answers["choice"]
    for fit in ("tight", "default"):
        assert ours.lambda_min == pytest.approx(choice.loc[fit, "lambda_min"], rel=1e-10)
        assert ours.lambda_1se == pytest.approx(choice.loc[fit, "lambda_1se"], rel=1e-10)
    assert ours.lambda_ == ours.lambda_1se and glmnet_answers["ours_min"].lambda_ == ours.lambda_min


@pytest.mark.parametrize("rule", ["1se", "min"])
def test_coefficients_at_the_chosen_lambda_match_glmnet(glmnet_answers, rule):
    ours = glmnet_answers["ours" if rule == "1se" else "ours_min"]
    reference = glmnet_answers["coef"][f"lambda_{rule}"]
    assert list(ours.coef_.index) == [t for t in reference.index[1:] if reference[t] != 0]
    assert ours.intercept_ == pytest.approx(reference["(Intercept)"], rel=1e-5)
    np.testing.assert_allclose(ours.coef_, reference[ours.coef_.index], rtol=1e-5)


def test_solution_equals_scikit_learn_l1_logistic_at_the_equivalent_C():
    from sklearn.linear_model import LogisticRegression

    X, y, foldid = _glmnet_case("narrow")
    result = lasso_cv(X, y, foldid=foldid, rule="min")
    z = (X - X.mean()) / X.std(ddof=0)
    # glmnet: mean log-loss + lambda |b|_1; scikit-learn: C * sum log-loss + |b|_1, so C = 1 / (n lambda).
    sk = LogisticRegression(penalty="l1", C=1 / (len(y) * result.lambda_), solver="saga", tol=1e-12,
                            max_iter=200_000).fit(z, y)
    sk_coef = pd.Series(sk.coef_[0] / X.std(ddof=0).to_numpy(), index=X.columns)
    assert list(sk_coef[sk_coef.abs() > 1e-8].index) == list(result.coef_.index)
    np.testing.assert_allclose(result.coef_, sk_coef[result.coef_.index], rtol=1e-4, atol=1e-9)


def test_stratified_folds_keep_the_outcome_balanced_and_are_seeded():
    X, y, _ = _glmnet_case("narrow")
    first = lasso_cv(X, y, seed=3)
    again = lasso_cv(X, y, seed=3)
    np.testing.assert_array_equal(first.foldid, again.foldid)
    np.testing.assert_array_equal(first.cv_mean, again.cv_mean)
    events = pd.Series(y).groupby(first.foldid).sum()
    assert events.max() - events.min() <= 1
    assert not np.array_equal(lasso_cv(X, y, seed=4).foldid, first.foldid)


def test_user_lambdas_are_all_fitted_and_coefficients_shrink_to_zero():
    X, y, foldid = _glmnet_case("narrow")
    result = lasso_cv(X, y, foldid=foldid, lambdas=np.geomspace(0.5, 0.001, 30))
    assert len(result.lambdas) == 30
    assert result.n_nonzero[0] == 0 and result.n_nonzero[-1] > 5
    assert result.linear_predictor(X).shape == (len(X),)


@given(seed=st.integers(0, 10_000), scale=st.floats(0.01, 100))
def test_kkt_conditions_hold_and_feature_scale_does_not_matter(seed, scale):
    rng = np.random.default_rng(seed)
    n, p = 80, 6
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"x{j}" for j in range(p)])
    y = (rng.random(n) < 1 / (1 + np.exp(-(X["x0"] - X["x1"])))).astype(int)
    if y.sum() < 8 or y.sum() > n - 8:
        return
    foldid = np.resize(np.arange(1, 6), n)
    fit = lasso_cv(X, y, foldid=foldid, rule="min")
    # Optimality of the chosen solution (standardised scale): gradient = lambda * sign on the
    # active set, |gradient| <= lambda elsewhere, and the intercept's score equation.
    z = (X - X.mean()) / X.std(ddof=0)
    residual = (y - 1 / (1 + np.exp(-fit.linear_predictor(X)))) / n
    gradient = z.T @ residual
    active = list(fit.coef_.index)
    assert abs(residual.sum()) < 1e-10
    np.testing.assert_allclose(gradient[active], fit.lambda_ * np.sign(fit.coef_), atol=1e-8)
    assert (gradient.drop(active).abs() <= fit.lambda_ + 1e-8).all()
    # Rescaling a feature rescales its coefficient and changes nothing else.
    rescaled = lasso_cv(X.assign(x0=X["x0"] * scale), y, foldid=foldid, rule="min")
    assert rescaled.lambda_ == pytest.approx(fit.lambda_, rel=1e-9)
    if "x0" in active:
        assert rescaled.coef_["x0"] * scale == pytest.approx(fit.coef_["x0"], rel=1e-6)


def test_bad_inputs_get_specific_messages():
    X, y, _ = _glmnet_case("narrow")
    with pytest.raises(RadNomoError, match="constant"):
        lasso_cv(X.assign(f001=1.0), y)
    with pytest.raises(RadNomoError, match="missing or infinite"):
        lasso_cv(X.assign(f002=np.where(np.arange(len(X)) == 3, np.nan, X["f002"])), y)
    with pytest.raises(RadNomoError, match="no features"):
        lasso_cv(X.iloc[:, :0], y)
    with pytest.raises(RadNomoError, match="both classes"):
        lasso_cv(X, np.zeros(len(y)))
    with pytest.raises(RadNomoError, match="too few"):
        lasso_cv(X.iloc[:30], np.r_[np.ones(4), np.zeros(26)])
    with pytest.raises(RadNomoError, match="rule"):
        lasso_cv(X, y, rule="best")
