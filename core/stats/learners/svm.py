"""Support vector machine (RBF kernel, Platt-calibrated) as a comparator learner ("svm", issue 31).

The features are standardised with the training mean and population SD. The classifier is scikit-learn's
``SVC(kernel="rbf", C, gamma)`` on them; its decision value is

    f(x) = sum_i dual_i * exp(-gamma * ||z(x) - sv_i||^2) + b0        (z: the standardised features)

over the support vectors sv_i. C and gamma are tuned by :func:`~core.stats.learners.comparator.tune` (5-fold
stratified CV AUC of f on the training patients, seeded) on the grid

    C in (0.1, 1, 10)  x  gamma in (0.5, 1, 2) / n_features

(``gamma = 1 / n_features`` is scikit-learn's ``gamma="scale"`` for standardised features, whose variance is 1;
the grid brackets it by a factor of 2 each way, and C spans under- to over-fitting by decades).

The probability is Platt's sigmoid fitted inside the training rows: scikit-learn's
``CalibratedClassifierCV(SVC(chosen C, gamma), method="sigmoid", cv=StratifiedKFold(5, shuffle=True,
random_state=seed), ensemble=False)``: the sigmoid is fitted on 5-fold cross-validated decision values (never a
patient's own fit), and the SVC on all training rows, so

    P(event | x) = expit(-(a * f(x) + b))        (scikit-learn's _SigmoidCalibration)

The model is saved as those numbers (means, SDs, support vectors, dual coefficients, b0, gamma, a, b) and predicts
from them with numpy (:class:`SvmModel`), identically to the scikit-learn objects (tests/core/
test_comparators_linear.py checks to 1e-12). Its SHAP values are on the log-odds ``-(a f + b)``, model-agnostic
(:func:`core.stats.explanations.function_shap`: shap's exact explainer up to ``EXACT_MAX_FEATURES`` features, its
permutation explainer above, against a seeded background of at most ``MAX_BACKGROUND`` training rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from core.errors import RadNomoError
from core.stats.explanations import Explanation, function_shap
from core.stats.learners.base import FitOptions, Predictors
from core.stats.learners.comparator import (TUNING_FOLDS, ComparatorModel, ConvergenceWatch, saved_array, standardised,
                                            training_data, tune)
from core.stats.modeling import saved_number
from core.stats.outcomes import Outcome
from core.vocabulary import COMPARATOR_METHODS, COMPARATOR_ROLE

__all__ = ["SvmModel", "SvmLearner", "SVM", "C_GRID", "GAMMA_SCALES", "PLATT_FOLDS"]

C_GRID = (0.1, 1.0, 10.0)
GAMMA_SCALES = (0.5, 1.0, 2.0)  # gamma = scale / n_features (standardised features)
PLATT_FOLDS = 5  # the cross-validated decision values Platt's sigmoid is fitted on


@dataclass(frozen=True, kw_only=True, eq=False)
class SvmModel(ComparatorModel):
    """A fitted RBF SVM with Platt's sigmoid, as numbers (see the module's docstring for the formula).

    Attributes
    ----------
    means, sds : numpy.ndarray
        Training mean and population SD (> 0) per feature.
    support_vectors : numpy.ndarray
        n_support x n_features, standardised.
    dual_coefs : numpy.ndarray
        One per support vector (scikit-learn's ``dual_coef_[0]``: y_i alpha_i, signed towards the event).
    intercept : float
        b0 (``intercept_[0]``).
    gamma : float
        The kernel's width (> 0), the chosen ``params["gamma"]``.
    sigmoid_a, sigmoid_b : float
        Platt's sigmoid: P = expit(-(a f + b)).
    """

    LEARNER = "svm"
    # The most patients a study's SHAP summary explains with it (core.workflows.explanations): a model-agnostic
    # explanation costs thousands of kernel sums per patient, where a tree's or a linear model's costs almost nothing.
    SHAP_PATIENTS = 100

    means: np.ndarray
    sds: np.ndarray
    support_vectors: np.ndarray
    dual_coefs: np.ndarray
    intercept: float
    gamma: float
    sigmoid_a: float
    sigmoid_b: float

    def decision(self, X: np.ndarray) -> np.ndarray:
        """f(x) of complete rows ``X`` (raw features): the SVC's decision value, each row's independent of the
        others' (the squared distances summed directly, as libsvm does; no matrix product, whose blocking, and so
        whose last digits, depend on how many rows are predicted together)."""
        from scipy.spatial.distance import cdist

        kernel = np.exp(-self.gamma * cdist((X - self.means) / self.sds, self.support_vectors, "sqeuclidean"))
        return (kernel * self.dual_coefs).sum(axis=1) + self.intercept

    def _log_odds(self, X: np.ndarray) -> np.ndarray:
        return -(self.sigmoid_a * self.decision(X) + self.sigmoid_b)

    def _batch_log_odds(self, X: np.ndarray) -> np.ndarray:
        """The log-odds as SHAP evaluates them, on 10^5-10^7 rows: ||z - sv||^2 = |z|^2 + |sv|^2 - 2 z.sv, one
        matrix product (BLAS), 20-50x faster than :meth:`decision`; equal to it within ~1e-13 (rounding)."""
        z = (X - self.means) / self.sds
        squared = (np.einsum("ij,ij->i", z, z)[:, None] + self._sv_norms[None, :]
                   - 2.0 * (z @ self.support_vectors.T))
        decision = np.exp(-self.gamma * np.maximum(squared, 0.0)) @ self.dual_coefs + self.intercept
        return -(self.sigmoid_a * decision + self.sigmoid_b)

    @cached_property
    def _sv_norms(self) -> np.ndarray:
        return np.einsum("ij,ij->i", self.support_vectors, self.support_vectors)

    def _risk(self, X: np.ndarray) -> np.ndarray:
        from scipy.special import expit

        return expit(self._log_odds(X))

    def explain(self, df: pd.DataFrame, background: pd.DataFrame) -> Explanation:
        """SHAP values of the log-odds -(a f + b) for the rows of ``df`` against ``background`` (the training rows):
        model-agnostic (:func:`~core.stats.explanations.function_shap`, seeded with the model's seed)."""
        X, B = self.explained_frames(df, background)
        with threadpool_limits(1):
            return function_shap(self.name, self._batch_log_odds, X, B, seed=self.seed)

    def _payload(self) -> dict:
        return {"means": self.means.tolist(), "sds": self.sds.tolist(),
                "support_vectors": self.support_vectors.tolist(), "dual_coefs": self.dual_coefs.tolist(),
                "intercept": self.intercept, "gamma": self.gamma, "sigmoid_a": self.sigmoid_a,
                "sigmoid_b": self.sigmoid_b}

    @classmethod
    def _read_payload(cls, values: Mapping, common: dict) -> SvmModel:
        """The SVM's arrays re-validated: finite, one mean and SD (> 0) per feature, support vectors of the
        features' width with one dual coefficient each, a gamma > 0 equal to the chosen ``params["gamma"]``."""
        name, p = common["name"], len(common["features"])
        lacking = [k for k in ("means", "sds", "support_vectors", "dual_coefs", "intercept", "gamma", "sigmoid_a",
                               "sigmoid_b") if k not in values]
        if lacking:
            raise RadNomoError(f"the saved {name} SVM lacks {lacking}; refit the models.")
        sds = saved_array(values["sds"], f"{name} SVM's training SDs", (p,))
        if (sds <= 0).any():
            raise RadNomoError(f"the saved {name} SVM's training SDs must be above 0; refit the models.")
        vectors = saved_array(values["support_vectors"], f"{name} SVM's support vectors", (None, p))
        if not len(vectors):
            raise RadNomoError(f"the saved {name} SVM has no support vector; refit the models.")
        gamma = saved_number(values["gamma"], f"{name} SVM's gamma")
        if gamma <= 0 or gamma != common["params"].get("gamma"):
            raise RadNomoError(f"the saved {name} SVM's gamma ({gamma:.4g}) must be above 0 and the chosen "
                               "parameter's; refit the models.")
        return cls(**common, means=saved_array(values["means"], f"{name} SVM's training means", (p,)), sds=sds,
                   support_vectors=vectors,
                   dual_coefs=saved_array(values["dual_coefs"], f"{name} SVM's dual coefficients", (len(vectors),)),
                   intercept=saved_number(values["intercept"], f"{name} SVM's intercept"), gamma=gamma,
                   sigmoid_a=saved_number(values["sigmoid_a"], f"{name} SVM's Platt slope"),
                   sigmoid_b=saved_number(values["sigmoid_b"], f"{name} SVM's Platt intercept"))


@dataclass(frozen=True)
class SvmLearner:
    """RBF support vector machine on a family's features, Platt-calibrated (see the module's docstring)."""

    name: str = "svm"
    label: str = COMPARATOR_METHODS["svm"]
    roles: tuple[str, ...] = (COMPARATOR_ROLE,)
    outcome_kinds: tuple[str, ...] = ("binary",)

    def description(self) -> str:
        return ("a support vector machine with a radial (RBF) kernel on the standardised features, C and gamma tuned "
                f"by {TUNING_FOLDS}-fold cross-validated AUC on the training cohort, its probabilities from Platt's "
                f"sigmoid fitted on {PLATT_FOLDS}-fold cross-validated decision values")

    @staticmethod
    def grid(n_features: int) -> dict[str, tuple[float, ...]]:
        """The tuning grid: C in :data:`C_GRID` x gamma in :data:`GAMMA_SCALES` / ``n_features``."""
        return {"C": C_GRID, "gamma": tuple(s / n_features for s in GAMMA_SCALES)}

    def fit(self, data: pd.DataFrame, outcome: Outcome | str, predictors: Predictors, *, name: str,
            options: FitOptions | None = None, selection: Any = None) -> SvmModel:
        """The SVM of ``predictors.continuous`` on the training rows ``data`` (``options.seed`` seeds the tuning's
        and Platt's folds; ``options.n_folds`` and ``selection`` are not used: the tuning has
        :data:`~core.stats.learners.comparator.TUNING_FOLDS` folds).

        Raises
        ------
        RadNomoError
            As :func:`~core.stats.learners.comparator.training_data`.
        """
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.model_selection import StratifiedKFold
        from sklearn.svm import SVC

        seed = (options or FitOptions()).seed
        X, y = training_data(self, data, outcome, predictors, name=name)
        means, sds, z = standardised(X)
        grid = self.grid(z.shape[1])
        with ConvergenceWatch() as watch:
            params, table = tune(SVC(kernel="rbf"), grid, z, y, seed=seed)
            calibrated = CalibratedClassifierCV(
                SVC(kernel="rbf", **params), method="sigmoid", ensemble=False,
                cv=StratifiedKFold(n_splits=PLATT_FOLDS, shuffle=True, random_state=seed)).fit(z, y)
        converged = watch.converged
        fitted = calibrated.calibrated_classifiers_[0]
        svc, sigmoid = fitted.estimator, fitted.calibrators[0]
        return SvmModel(name=name, learner=self.name, features=tuple(X.columns), params=params, grid=grid,
                        tuning=table, n_folds=TUNING_FOLDS, seed=seed, fit_converged=converged, means=means, sds=sds,
                        support_vectors=np.asarray(svc.support_vectors_, dtype=float),
                        dual_coefs=np.asarray(svc.dual_coef_[0], dtype=float), intercept=float(svc.intercept_[0]),
                        gamma=float(svc._gamma), sigmoid_a=float(sigmoid.a_), sigmoid_b=float(sigmoid.b_))

    def from_dict(self, values: Mapping) -> SvmModel:
        return SvmModel.from_dict(values)


SVM = SvmLearner()
