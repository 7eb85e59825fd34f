"""Which fitted model is explained how (SHAP, issue 31): the registry :data:`EXPLAINERS` by model type.

A comparator (:class:`~core.stats.learners.comparator.ComparatorModel`) explains itself (TreeSHAP for the tree
ensembles, shap's exact or permutation explainer for the SVM, exact linear SHAP for the elastic net); a score
(:class:`~core.stats.modeling.ScoreModel`: the refit, LASSO and ridge scores; a time-to-event study's
:class:`~core.stats.learners.cox.CoxScoreModel`) gets exact linear SHAP of its linear predictor (log-odds, log relative
hazard). The clinical and fused models are not explained: they are read from their nomograms and coefficients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from core.errors import RadNomoError
from core.stats.explanations import Explanation, linear_shap
from core.stats.learners.comparator import ComparatorModel
from core.stats.learners.cox import CoxScoreModel
from core.stats.modeling import ScoreModel

__all__ = ["EXPLAINERS", "explain", "explainable"]


def _score_shap(model: Any, df: pd.DataFrame, background: pd.DataFrame, *, output: str = "log-odds") -> Explanation:
    """Exact linear SHAP of a score (its coefficients act on the standardised features): a logistic score's
    log-odds, or a Cox score's log relative hazard (``output``)."""
    standardised = getattr(model, "standardised", None) or model.design  # ScoreModel's / CoxScoreModel's z(x)
    z, z_background = standardised(df), standardised(background)
    for frame, what in ((z, "rows to explain"), (z_background, "SHAP background rows")):
        if frame.empty:
            raise RadNomoError(f"there are no {what} for the {model.name} score.")
        if frame.isna().to_numpy().any():
            raise RadNomoError(f"{int(frame.isna().any(axis=1).sum())} of the {what} of the {model.name} score have "
                               "a missing feature value; impute them first.")
    return linear_shap(model.name, z, z_background, model.coefs[list(model.features)].to_numpy(dtype=float),
                       model.intercept, df[list(model.features)].astype(float), output=output)


def _comparator_shap(model: ComparatorModel, df: pd.DataFrame, background: pd.DataFrame) -> Explanation:
    return model.explain(df, background)


def _cox_score_shap(model: CoxScoreModel, df: pd.DataFrame, background: pd.DataFrame) -> Explanation:
    return _score_shap(model, df, background, output="log relative hazard")


#: Model type -> how it is explained (a subclass is explained as its nearest registered base: RidgeScore as a score).
EXPLAINERS: dict[type, Callable[[Any, pd.DataFrame, pd.DataFrame], Explanation]] = {
    ComparatorModel: _comparator_shap, ScoreModel: _score_shap, CoxScoreModel: _cox_score_shap}


def _explainer(model: Any) -> Callable[[Any, pd.DataFrame, pd.DataFrame], Explanation] | None:
    return next((EXPLAINERS[kind] for kind in type(model).__mro__ if kind in EXPLAINERS), None)


def explainable(model: Any) -> bool:
    """Whether :func:`explain` explains ``model`` (a comparator or a score)."""
    return _explainer(model) is not None


def explain(model: Any, df: pd.DataFrame, background: pd.DataFrame) -> Explanation:
    """SHAP values of ``model`` for the rows of ``df`` against ``background`` (the training rows), by the
    :data:`EXPLAINERS` entry of its type.

    Raises
    ------
    RadNomoError
        For another model (the clinical and fused models are drawn as nomograms instead), a missing feature
        column, an incomplete row, or no row.
    """
    explainer = _explainer(model)
    if explainer is not None:
        return explainer(model, df, background)
    raise RadNomoError(f"the {getattr(model, 'name', type(model).__name__)} model has no SHAP explanation (only "
                       "the scores and the comparators are explained); read its nomogram or coefficient table.")
