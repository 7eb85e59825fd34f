"""Elastic-net logistic regression as a comparator learner ("elastic_net", issue 31).

The features are standardised with the training mean and population SD; the model is scikit-learn's
``LogisticRegression(penalty="elasticnet", solver="saga", l1_ratio, C, max_iter=MAX_ITER, tol=TOL,
random_state=seed)``, which minimises (intercept unpenalised)

    C * sum_i logloss_i(b0, b) + l1_ratio * ||b||_1 + (1 - l1_ratio) / 2 * ||b||^2

(glmnet's alpha is l1_ratio and its lambda is 1 / (n C)). l1_ratio and C are tuned by
:func:`~core.stats.learners.comparator.tune` (5-fold stratified CV AUC on the training patients, seeded) on the grid

    l1_ratio in (0.2, 0.5, 0.8)  x  C in 7 half-decades from 1e-2 to 1e1

(mostly ridge to mostly LASSO; at C = 0.01 with a few hundred patients nearly every coefficient is 0, at C = 10 the
penalty is weak). Weaker penalties are left out: where patients are few and features many (a small cohort's
screened features) the data are nearly separable there, saga crawls (a fit of 51 patients x 65 features at C = 100
ran its 10,000 epochs, 2 s, and the tuning fits 21 points 6 times) and the AUC gains nothing. The final model is
refitted on all training rows with the chosen pair. saga stops at MAX_ITER epochs; if any fit (tuning's or final)
stops there, scikit-learn's ConvergenceWarning is caught and the model reports it (``converged`` False,
``convergence`` the sentence).

Saved as intercept + one coefficient per standardised feature + the training means and SDs; the log-odds are
``intercept + sum_j coef_j (x_j - mean_j) / sd_j`` and the SHAP values exact linear SHAP (as the scores').
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.stats.explanations import Explanation, linear_shap
from core.stats.learners.base import FitOptions, Predictors
from core.stats.learners.comparator import (TUNING_FOLDS, ComparatorModel, ConvergenceWatch, saved_array, standardised,
                                            training_data, tune)
from core.stats.modeling import convergence_warning, saved_number
from core.stats.outcomes import Outcome
from core.vocabulary import COMPARATOR_METHODS, COMPARATOR_ROLE

__all__ = ["ElasticNetModel", "ElasticNetLearner", "ELASTIC_NET", "L1_RATIOS", "C_GRID", "MAX_ITER", "TOL"]

L1_RATIOS = (0.2, 0.5, 0.8)
C_GRID = tuple(float(c) for c in np.logspace(-2, 1, 7))
MAX_ITER = 10_000  # saga epochs; standardised features converge in tens to a few thousand
# saga's stopping rule: the largest coefficient change in an epoch, relative to the largest coefficient (scikit-learn's
# default; 1e-6 took saga 5-10 times the epochs for coefficients that agree to 3 digits, an AUC that agrees to more)
TOL = 1e-4


@dataclass(frozen=True, kw_only=True, eq=False)
class ElasticNetModel(ComparatorModel):
    """A fitted elastic-net logistic regression on standardised features.

    Attributes
    ----------
    means, sds : numpy.ndarray
        Training mean and population SD (> 0) per feature.
    intercept : float
    coefs : numpy.ndarray
        One per standardised feature (log-odds per training SD); exactly 0 for a feature the L1 part dropped.
    """

    LEARNER = "elastic_net"

    means: np.ndarray
    sds: np.ndarray
    intercept: float
    coefs: np.ndarray

    @property
    def convergence(self) -> str:
        return "" if self.converged else convergence_warning(
            f"{self.name} model's elastic-net fit", f"saga stopped at {MAX_ITER} epochs")

    @property
    def coefficients(self) -> pd.Series:
        """The coefficients per standardised feature, named."""
        return pd.Series(self.coefs, index=list(self.features), name="coef")

    def _log_odds(self, X: np.ndarray) -> np.ndarray:
        return self.intercept + ((X - self.means) / self.sds) @ self.coefs

    def _risk(self, X: np.ndarray) -> np.ndarray:
        from scipy.special import expit

        return expit(self._log_odds(X))

    def explain(self, df: pd.DataFrame, background: pd.DataFrame) -> Explanation:
        """Exact linear SHAP of the log-odds: coef_j * (z_j - mean of z_j over ``background``) (the training rows)."""
        X, B = self.explained_frames(df, background)
        return linear_shap(self.name, (X - self.means) / self.sds, (B - self.means) / self.sds, self.coefs,
                           self.intercept, X)

    def _payload(self) -> dict:
        return {"means": self.means.tolist(), "sds": self.sds.tolist(), "intercept": self.intercept,
                "coefs": self.coefs.tolist()}

    @classmethod
    def _read_payload(cls, values: Mapping, common: dict) -> ElasticNetModel:
        """The arrays re-validated: one finite mean, SD (> 0) and coefficient per feature, a finite intercept."""
        name, p = common["name"], len(common["features"])
        lacking = [k for k in ("means", "sds", "intercept", "coefs") if k not in values]
        if lacking:
            raise RadNomoError(f"the saved {name} elastic net lacks {lacking}; refit the models.")
        sds = saved_array(values["sds"], f"{name} elastic net's training SDs", (p,))
        if (sds <= 0).any():
            raise RadNomoError(f"the saved {name} elastic net's training SDs must be above 0; refit the models.")
        return cls(**common, means=saved_array(values["means"], f"{name} elastic net's training means", (p,)),
                   sds=sds, intercept=saved_number(values["intercept"], f"{name} elastic net's intercept"),
                   coefs=saved_array(values["coefs"], f"{name} elastic net's coefficients", (p,)))


@dataclass(frozen=True)
class ElasticNetLearner:
    """Elastic-net logistic regression on a family's features (see the module's docstring)."""

    name: str = "elastic_net"
    label: str = COMPARATOR_METHODS["elastic_net"]
    roles: tuple[str, ...] = (COMPARATOR_ROLE,)
    outcome_kinds: tuple[str, ...] = ("binary",)

    def description(self) -> str:
        return ("an elastic-net (L1 + L2 penalised) logistic regression on the standardised features, its mixing "
                f"and penalty tuned by {TUNING_FOLDS}-fold cross-validated AUC on the training cohort")

    @staticmethod
    def grid() -> dict[str, tuple[float, ...]]:
        """The tuning grid: l1_ratio in :data:`L1_RATIOS` x C in :data:`C_GRID`."""
        return {"l1_ratio": L1_RATIOS, "C": C_GRID}

    def fit(self, data: pd.DataFrame, outcome: Outcome | str, predictors: Predictors, *, name: str,
            options: FitOptions | None = None, selection: Any = None) -> ElasticNetModel:
        """The elastic net of ``predictors.continuous`` on the training rows ``data`` (``options.seed`` seeds the
        tuning's folds and saga; ``options.n_folds`` and ``selection`` are not used).

        Raises
        ------
        RadNomoError
            As :func:`~core.stats.learners.comparator.training_data`.
        """
        from sklearn.linear_model import LogisticRegression

        seed = (options or FitOptions()).seed
        X, y = training_data(self, data, outcome, predictors, name=name)
        means, sds, z = standardised(X)
        estimator = LogisticRegression(penalty="elasticnet", solver="saga", max_iter=MAX_ITER, tol=TOL,
                                       random_state=seed)
        with ConvergenceWatch() as watch:
            params, table = tune(estimator, self.grid(), z, y, seed=seed)
            final = estimator.set_params(**params).fit(z, y)
        return ElasticNetModel(name=name, learner=self.name, features=tuple(X.columns), params=params,
                               grid=self.grid(), tuning=table, n_folds=TUNING_FOLDS, seed=seed,
                               fit_converged=watch.converged, means=means, sds=sds,
                               intercept=float(final.intercept_[0]), coefs=np.asarray(final.coef_[0], dtype=float))

    def from_dict(self, values: Mapping) -> ElasticNetModel:
        return ElasticNetModel.from_dict(values)


ELASTIC_NET = ElasticNetLearner()
