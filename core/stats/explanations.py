"""SHAP explanations of fitted models: what each feature added to each patient's prediction (issue 31).

:class:`Explanation` holds SHAP values (patients x features) on a stated scale with their base value, so that
``base_value + sum of a row's values`` is the model's output for that patient (``total()``), and the two ways of
computing it: :func:`linear_shap` (exact, a linear model) and :func:`function_shap` (shap's model-agnostic
explainers). Which model is explained how is :func:`core.stats.learners.explain.explain`'s registry (a module
above both the models and this one, so neither imports the other).

Every explanation is interventional SHAP against a background (the training rows): the value of feature j for
patient i is what the model's output gains when feature j is set to patient i's value instead of being drawn from
the background, averaged over feature orders (Shapley). For a linear model of standardised features
(log-odds = b0 + sum_j c_j z_j) it is exactly ``c_j * (z_ij - mean over background of z_j)`` with base value the
mean log-odds over the background: what ``shap.LinearExplainer`` gives with independent features
(tests/core/test_comparators_linear.py checks it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.errors import RadNomoError

__all__ = ["Explanation", "linear_shap", "function_shap", "OUTPUTS", "MAX_BACKGROUND", "EXACT_MAX_FEATURES",
           "EVALUATIONS_PER_ROW", "MAX_PERMUTATIONS"]

# The model-agnostic explainer's budget (the SVM's): its cost is model evaluations = explained rows x background rows x
# coalitions, and an RBF SVM's evaluation is a kernel sum over its support vectors; at these values 100 patients of
# a 10-feature SVM are explained in seconds, not minutes (at 100 background rows and 25,000 evaluations per row,
# 300 patients took 2.5 minutes).
MAX_BACKGROUND = 50  # background rows a model-agnostic explainer integrates over (a seeded sample of the training)
EXACT_MAX_FEATURES = 6  # up to this many features shap's exact explainer (2**p coalitions); above, permutations
EVALUATIONS_PER_ROW = 5_000  # model evaluations per explained row the permutation explainer aims at (see below)
MAX_PERMUTATIONS = 10  # shap's own "auto" budget: 10 antithetic permutations
OUTPUTS = ("log-odds", "probability", "log relative hazard")  # the last: time-to-event comparators


@dataclass(frozen=True)
class Explanation:
    """SHAP values of one model for some patients.

    Attributes
    ----------
    model : str
        The model's name.
    values : pandas.DataFrame
        SHAP values: index = patients, columns = the model's features; on ``output``'s scale.
    data : pandas.DataFrame
        The raw feature values explained (same index and columns).
    base_value : float
        The expected model output over the background (on ``output``'s scale).
    output : {"log-odds", "probability", "log relative hazard"}
        The scale of ``values``, ``base_value`` and :meth:`total` (the last for a time-to-event model).
    method : str
        How the values were computed, e.g. "exact linear SHAP", "TreeSHAP (shap.TreeExplainer)".
    """

    model: str
    values: pd.DataFrame
    data: pd.DataFrame
    base_value: float
    output: str
    method: str

    def __post_init__(self) -> None:
        if self.output not in OUTPUTS:
            raise RadNomoError(f"an explanation's output must be one of {OUTPUTS}, not {self.output!r}.")
        if self.values.shape != self.data.shape or not self.values.index.equals(self.data.index) \
                or not self.values.columns.equals(self.data.columns):
            raise RadNomoError(f"the {self.model} explanation's SHAP values and feature values differ in shape.")

    def total(self) -> pd.Series:
        """base_value + the row's SHAP values: the model's output for each patient, on ``output``'s scale."""
        return (self.base_value + self.values.sum(axis=1)).rename(self.output)

    def mean_abs(self) -> pd.Series:
        """Mean |SHAP value| per feature (the global importance), largest first."""
        return self.values.abs().mean().sort_values(ascending=False, kind="stable").rename("mean_abs_shap")


def linear_shap(name: str, z: pd.DataFrame, z_background: pd.DataFrame, coefs: np.ndarray, intercept: float,
                data: pd.DataFrame, *, output: str = "log-odds") -> Explanation:
    """Exact interventional SHAP of the linear log-odds ``intercept + z @ coefs``.

    Parameters
    ----------
    name : str
        The model's name.
    z, z_background : pandas.DataFrame
        The rows to explain and the background rows, on the model's (standardised) scale, complete.
    coefs : numpy.ndarray
        One coefficient per column of ``z`` (log-odds per unit of z).
    intercept : float
    data : pandas.DataFrame
        The raw feature values of ``z``'s rows (what the explanation shows).
    output : str
        The scale of ``intercept + z @ coefs`` (one of :data:`OUTPUTS`: "log-odds", or a Cox score's "log relative
        hazard").

    Returns
    -------
    Explanation
        values ``coefs_j * (z_ij - mean z_background_j)`` (log-odds), base value the mean background log-odds.
    """
    centre = z_background.to_numpy(dtype=float).mean(axis=0)
    values = (z.to_numpy(dtype=float) - centre) * coefs
    return Explanation(model=name, values=pd.DataFrame(values, index=z.index, columns=z.columns),
                       data=data, base_value=float(intercept + centre @ coefs), output=output,
                       method="exact linear SHAP (interventional, training background)")


def function_shap(name: str, function: Callable[[np.ndarray], np.ndarray], X: pd.DataFrame,
                  background: pd.DataFrame, *, seed: int, output: str = "log-odds") -> Explanation:
    """Model-agnostic interventional SHAP of ``function`` (rows of raw features -> output) with shap.

    The background is a seeded sample of at most :data:`MAX_BACKGROUND` of ``background``'s rows (numpy's
    ``default_rng(seed)``), masked independently (``shap.maskers.Independent``). Up to
    :data:`EXACT_MAX_FEATURES` features: ``shap.explainers.Exact`` (exact Shapley values against that
    background, 2**p coalitions); above: ``shap.explainers.Permutation`` (seeded antithetic permutations; each
    permutation's values add up exactly, so ``total()`` still equals the function), with as many permutations as
    keep the function's evaluations per explained row near :data:`EVALUATIONS_PER_ROW` (at least 1, at most
    :data:`MAX_PERMUTATIONS`): the cost of a kernel model's SHAP grows with features x background x permutations,
    and this bounds it at about the exact explainer's cost for 6 features.

    Returns
    -------
    Explanation
        On ``output``'s scale, ``method`` naming the explainer, the background size and the permutations.
    """
    import shap

    rng = np.random.default_rng(seed)
    rows = background.to_numpy(dtype=float)
    if len(rows) > MAX_BACKGROUND:
        rows = rows[np.sort(rng.choice(len(rows), size=MAX_BACKGROUND, replace=False))]
    masker = shap.maskers.Independent(rows, max_samples=len(rows))
    p = X.shape[1]
    explainer: Any
    if p <= EXACT_MAX_FEATURES:
        explainer = shap.explainers.Exact(function, masker)
        result = explainer(X.to_numpy(dtype=float), max_evals=2 ** p + 1, silent=True)
        method = f"exact SHAP (shap.explainers.Exact, {len(rows)} background rows)"
    else:
        per_permutation = 2 * p + 1  # shap's forward and reverse pass of one antithetic permutation
        permutations = int(np.clip(EVALUATIONS_PER_ROW // (per_permutation * len(rows)), 1, MAX_PERMUTATIONS))
        explainer = shap.explainers.Permutation(function, masker, seed=seed)
        result = explainer(X.to_numpy(dtype=float), max_evals=permutations * per_permutation, silent=True)
        method = (f"permutation SHAP (shap.explainers.Permutation, {permutations} antithetic permutation(s), "
                  f"{len(rows)} background rows, seed {seed})")
    base = np.asarray(result.base_values, dtype=float).reshape(-1)
    return Explanation(model=name, values=pd.DataFrame(np.asarray(result.values, dtype=float), index=X.index,
                                                       columns=X.columns),
                       data=X, base_value=float(base[0]), output=output, method=method)
