"""Ridge (L2-penalised) logistic regression as a score learner (score method "ridge").

The score's features are those its family's LASSO selected (as for "refit"); their coefficients are
estimated with an L2 penalty instead of by maximum likelihood, which shrinks them towards 0 (less
optimistic than the refit, never exactly 0, no separation failures).

What it matches: R's ``glmnet::cv.glmnet(x, y, family = "binomial", alpha = 0, nfolds = k,
type.measure = "deviance")`` with glmnet's defaults ``standardize = TRUE`` (population SD) and
``lambda.min.ratio = 1e-4`` (n > p), ``lambda.1se`` or ``lambda.min`` as the study's LASSO rule. The
objective at penalty lambda is glmnet's, on the features standardised with the training mean and
population SD:

    -(1/n) * log-likelihood(b0, b) + lambda / 2 * ||b||^2        (the intercept not penalised)

which is scikit-learn's ``LogisticRegression(penalty="l2", C=1 / (n * lambda))`` (lbfgs does not penalise
the intercept) and statsmodels' ``GLM(...).fit_regularized(alpha=[0, lambda, ...], L1_wt=0)``; it is
minimised here by Newton's method (:func:`ridge_logistic`). Folds are stratified and seeded (the study's
screening seed and fold count); each fold's fit standardises on its own training part, as cv.glmnet does.
glmnet picks its folds at random without stratification and stops its path early, so its lambda differs from
ours; the coefficients at a given lambda are the same (tests/core/test_learners.py checks them against
scikit-learn and statsmodels).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from core.errors import RadNomoError
from core.stats.learners.base import FitOptions, Predictors, binary_column
from core.stats.modeling import ScoreModel, convergence_warning, saved_names, saved_number, saved_numbers
from core.stats.outcomes import Outcome
from core.vocabulary import LASSO_RULES, SCORE_ROLE, check_option

__all__ = ["RidgeScore", "RidgeLearner", "RIDGE", "ridge_logistic", "ridge_path_cv"]

N_LAMBDAS = 100  # glmnet's nlambda
LAMBDA_MIN_RATIO = 1e-4  # glmnet's lambda.min.ratio when there are more patients than features
MAX_ITER = 100  # Newton iterations (a ridge fit takes fewer than 10)


def ridge_logistic(z: np.ndarray, y: np.ndarray, penalty: float, *, start=None) -> tuple[float, np.ndarray, bool]:
    """The L2-penalised logistic fit on standardised features ``z`` (n x p) at glmnet's ``penalty``.

    Newton's method on the objective of the module's docstring (intercept unpenalised), with step halving
    so every step lowers it; ``start`` (intercept, coefficients) warm-starts a path, as glmnet does.
    Written out (a few lines of numpy) because the cross-validation fits the path k x 100 times, and
    scikit-learn's lbfgs at a tight tolerance takes a minute for what Newton does in a second.

    Returns
    -------
    (intercept, coefficients, converged)
        ``converged`` is False when the step was still above 1e-10 after :data:`MAX_ITER` iterations.
    """
    n, p = z.shape
    design = np.column_stack([np.ones(n), z])
    ridge = np.full(p + 1, penalty)
    ridge[0] = 0.0
    beta = np.zeros(p + 1) if start is None else np.r_[start[0], start[1]]

    def objective(b: np.ndarray) -> float:
        eta = design @ b
        return float(np.mean(np.logaddexp(0, eta) - y * eta) + 0.5 * np.sum(ridge * b * b))

    current = objective(beta)
    for _ in range(MAX_ITER):
        mu = 1 / (1 + np.exp(-(design @ beta)))
        gradient = design.T @ (mu - y) / n + ridge * beta
        hessian = (design.T * (mu * (1 - mu))) @ design / n + np.diag(ridge)
        step = np.linalg.solve(hessian, gradient)
        scale = 1.0
        while True:
            trial = beta - scale * step
            value = objective(trial)
            if value <= current + 1e-15 or scale < 1e-8:
                break
            scale /= 2
        beta, current = trial, value
        if np.max(np.abs(scale * step)) < 1e-10:
            return float(beta[0]), beta[1:].copy(), True
    return float(beta[0]), beta[1:].copy(), False


def _lambda_grid(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """glmnet's path for alpha = 0: from lambda_max = max|z'(y - ybar)| / (n * 0.001) down by 1e-4, log-spaced
    (glmnet computes the ridge lambda_max as for alpha = 0.001, since it is infinite at alpha = 0)."""
    n = len(y)
    top = float(np.max(np.abs(z.T @ (y - y.mean())))) / (n * 1e-3)
    top = top if top > 0 else 1.0
    return np.exp(np.linspace(math.log(top), math.log(top * LAMBDA_MIN_RATIO), N_LAMBDAS))


def _standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    means, sds = X.mean(axis=0), X.std(axis=0)
    sds = np.where(sds > 0, sds, 1.0)
    return (X - means) / sds, means, sds


def _deviance(y: np.ndarray, eta: np.ndarray) -> float:
    """Mean binomial deviance (cv.glmnet's type.measure = "deviance")."""
    return float(np.mean(2 * (np.logaddexp(0, eta) - y * eta)))


def ridge_path_cv(X: pd.DataFrame, y: np.ndarray, options: FitOptions) -> tuple[pd.DataFrame, float, int]:
    """Seeded stratified k-fold CV of the ridge path on the training rows ``X`` (raw features).

    Returns
    -------
    (curve, chosen lambda, non-converged fits)
        ``curve``: ``lambda``, ``cv_deviance`` (mean over folds), ``cv_se``; the lambda picked by
        ``options.rule`` ("min": the smallest mean deviance; "1se": the largest lambda within one SE of it).
    """
    from sklearn.model_selection import StratifiedKFold

    check_option("ridge penalty rule", options.rule, LASSO_RULES)
    values = X.to_numpy(dtype=float)
    z, _, _ = _standardise(values)
    lambdas = _lambda_grid(z, y)
    folds = StratifiedKFold(n_splits=options.n_folds, shuffle=True, random_state=options.seed)
    losses = np.zeros((options.n_folds, len(lambdas)))
    stalled = 0
    for k, (fit_rows, held_rows) in enumerate(folds.split(values, y)):
        z_fit, means, sds = _standardise(values[fit_rows])
        z_held = (values[held_rows] - means) / sds
        start = None
        for j, penalty in enumerate(lambdas):  # from the largest penalty down, each fit starting at the last
            intercept, coefs, converged = ridge_logistic(z_fit, y[fit_rows], penalty, start=start)
            stalled += not converged
            start = (intercept, coefs)
            losses[k, j] = _deviance(y[held_rows], intercept + z_held @ coefs)
    mean, se = losses.mean(axis=0), losses.std(axis=0, ddof=1) / math.sqrt(options.n_folds)
    best = int(np.argmin(mean))
    if options.rule == "min":
        chosen = float(lambdas[best])
    else:
        chosen = float(lambdas[np.flatnonzero(mean <= mean[best] + se[best])[0]])  # largest lambda within 1 SE
    return pd.DataFrame({"lambda": lambdas, "cv_deviance": mean, "cv_se": se}), chosen, stalled


@dataclass(frozen=True, kw_only=True, eq=False)
class RidgeScore(ScoreModel):
    """A ridge score: a :class:`~core.stats.modeling.ScoreModel` (intercept + coefficient x standardised
    feature) whose coefficients are L2-penalised, with how its penalty was chosen.

    Attributes
    ----------
    penalty : float
        lambda on glmnet's scale (the objective in the module's docstring), > 0.
    rule : {"1se", "min"}
    n_folds, seed : int
        The stratified cross-validation that chose ``penalty``.
    fit_converged : bool
        Whether every fit (the final one and the cross-validation's) converged.
    """

    penalty: float
    rule: str
    n_folds: int
    seed: int
    fit_converged: bool = True

    @property
    def converged(self) -> bool:
        return self.fit_converged

    @property
    def convergence(self) -> str:
        return "" if self.converged else convergence_warning(
            f"{self.name} score's ridge fit", f"Newton's method stopped at {MAX_ITER} iterations")

    @property
    def detail(self) -> str:
        """How the penalty was chosen, in one line (the Models page's caption)."""
        return (f"Ridge penalty lambda = {self.penalty:.4g} (glmnet's scale), lambda.{self.rule} of "
                f"{self.n_folds}-fold stratified cross-validation on binomial deviance (seed {self.seed}); "
                "coefficients shrunk towards 0, so no standard errors or p-values.")

    def to_dict(self) -> dict:
        return {**super().to_dict(), "penalty": self.penalty, "rule": self.rule, "n_folds": self.n_folds,
                "seed": self.seed, "fit_converged": self.fit_converged}

    @classmethod
    def from_dict(cls, values: Mapping) -> RidgeScore:
        """From :meth:`to_dict`, re-validated: finite coefficients, means, SDs (> 0) per feature, a finite
        penalty above 0, a known rule, a fold count of 2-100 and an integer seed.

        Raises
        ------
        RadNomoError
            For a saved score that is malformed, edited or not finite.
        """
        name = str(values["name"])
        if values["method"] != RIDGE.name or values.get("fit") is not None:
            raise RadNomoError(f"the saved {name[:40]} score is not a ridge score.")
        features = saved_names(values["features"], f"{name} score's features")
        penalty = saved_number(values["penalty"], f"{name} score's ridge penalty")
        if penalty <= 0:
            raise RadNomoError(f"the saved {name} score's ridge penalty must be above 0; refit the models.")
        check_option(f"the saved {name} score's penalty rule", values["rule"], LASSO_RULES)
        n_folds, seed = values["n_folds"], values["seed"]
        if not (isinstance(n_folds, int) and 2 <= n_folds <= 100 and isinstance(seed, int)) \
                or isinstance(n_folds, bool) or isinstance(seed, bool):
            raise RadNomoError(f"the saved {name} score's cross-validation ({str(n_folds)[:20]} folds, seed "
                               f"{str(seed)[:20]}) is not valid; refit the models.")
        return cls(name=name, method=RIDGE.name, features=features,
                   means=saved_numbers(values["means"], f"{name} score's training means", features),
                   sds=saved_numbers(values["sds"], f"{name} score's training SDs", features, positive=True),
                   intercept=saved_number(values["intercept"], f"{name} score's intercept"),
                   coefs=saved_numbers(values["coefs"], f"{name} score's coefficients", features),
                   penalty=penalty, rule=str(values["rule"]), n_folds=n_folds, seed=seed,
                   fit_converged=bool(values.get("fit_converged", True)))


@dataclass(frozen=True)
class RidgeLearner:
    """Ridge-penalised logistic regression on a score's selected features (see the module's docstring)."""

    name: str = "ridge"
    label: str = "Ridge (L2-penalised) logistic regression on the selected features, penalty by CV"
    roles: tuple[str, ...] = (SCORE_ROLE,)
    outcome_kinds: tuple[str, ...] = ("binary",)

    def description(self) -> str:
        return ("the linear predictor of a ridge (L2-penalised) logistic regression on the selected features, "
                "its penalty chosen by stratified cross-validation on the training cohort (glmnet, alpha = 0)")

    def fit(self, data: pd.DataFrame, outcome: Outcome | str, predictors: Predictors, *, name: str,
            options: FitOptions | None = None, selection: Any = None) -> RidgeScore:
        """The ridge score of ``predictors.continuous`` (raw features of the training rows ``data``).

        Raises
        ------
        RadNomoError
            Without features, with a categorical predictor, a constant feature, a missing value, an outcome
            not 0/1 with both classes, or fewer patients of a class than folds.
        """
        options = options or FitOptions()
        outcome = binary_column(self, outcome)
        features = list(predictors.continuous)
        if not features:
            raise RadNomoError(f"the LASSO kept no feature for the {name} score; try lambda.min or relax the "
                               "screening thresholds.")
        if predictors.categorical:
            raise RadNomoError(f"the {name} ridge score takes numeric features only.")
        X = data[features].apply(pd.to_numeric, errors="coerce")
        y = pd.to_numeric(data[outcome], errors="coerce").to_numpy()
        if X.isna().to_numpy().any() or np.isnan(y).any():
            raise RadNomoError(f"the {name} ridge score needs complete training rows (missing values are imputed "
                               "before the models).")
        if set(np.unique(y)) != {0, 1}:
            raise RadNomoError(f"the outcome '{outcome}' must be coded 0/1 with both classes present.")
        y = y.astype(int)
        if min(np.bincount(y)) < options.n_folds:
            raise RadNomoError(f"{min(np.bincount(y))} training patients in the smaller outcome class cannot fill "
                               f"{options.n_folds} cross-validation folds for the {name} ridge score.")
        means, sds = X.mean(), X.std(ddof=0)
        constant = list(sds.index[sds <= 0])
        if constant:
            raise RadNomoError(f"feature(s) {constant[:3]} are constant in the training rows.")
        # Small matrices (patients x a few dozen features): one BLAS thread is fastest, and a multi-threaded BLAS
        # on a loaded server spends 10x longer spinning than computing.
        with threadpool_limits(1):
            _, penalty, stalled = ridge_path_cv(X, y, options)
            intercept, coefs, converged = ridge_logistic(((X - means) / sds).to_numpy(dtype=float), y, penalty)
        return RidgeScore(name=name, method=self.name, features=tuple(features), means=means, sds=sds,
                          intercept=intercept, coefs=pd.Series(coefs, index=features), penalty=penalty,
                          rule=options.rule, n_folds=options.n_folds, seed=options.seed,
                          fit_converged=converged and not stalled)

    def from_dict(self, values: Mapping) -> RidgeScore:
        return RidgeScore.from_dict(values)


RIDGE = RidgeLearner()
