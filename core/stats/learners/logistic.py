"""Logistic regression, the first learner, in its three uses.

* ``logistic``: maximum-likelihood logistic regression on clinical variables (and a score): the clinical
  and the fused model (:func:`core.stats.modeling.fit_model`, :class:`~core.stats.modeling.LogisticModel`).
* ``refit``: a score refitted by maximum likelihood on the LASSO-selected standardised features.
* ``lasso``: a score with the LASSO's own (shrunken) coefficients.

The two score methods are :func:`core.stats.modeling.build_score`'s (unchanged: the sample study's numbers
are theirs); the learners only give them the protocol's shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from core.errors import RadNomoError
from core.stats.learners.base import FitOptions, Predictors, binary_column
from core.stats.modeling import LogisticModel, ScoreModel, build_score, fit_model
from core.stats.outcomes import Outcome
from core.vocabulary import CLINICAL, FUSED, SCORE_METHODS, SCORE_ROLE

__all__ = ["LogisticLearner", "ScoreLearner", "LOGISTIC", "REFIT", "LASSO"]


@dataclass(frozen=True)
class LogisticLearner:
    """Maximum-likelihood logistic regression on continuous and categorical predictors (R's glm with
    treatment contrasts): the clinical and the fused model."""

    name: str = "logistic"
    label: str = "Logistic regression (maximum likelihood)"
    roles: tuple[str, ...] = (CLINICAL, FUSED)
    outcome_kinds: tuple[str, ...] = ("binary",)

    def description(self) -> str:
        return "a multivariable logistic regression (maximum likelihood)"

    def fit(self, data: pd.DataFrame, outcome: Outcome | str, predictors: Predictors, *, name: str,
            options: FitOptions | None = None, selection: Any = None) -> LogisticModel:
        return fit_model(name, data, binary_column(self, outcome), continuous=predictors.continuous,
                         categorical=predictors.categorical)

    def from_dict(self, values: Mapping) -> LogisticModel:
        return LogisticModel.from_dict(dict(values))


@dataclass(frozen=True)
class ScoreLearner:
    """A signature score over a LASSO's selected features (``selection``), by :func:`build_score`:
    "refit" (maximum likelihood on the standardised features) or "lasso" (the LASSO's coefficients)."""

    name: str
    label: str
    roles: tuple[str, ...] = (SCORE_ROLE,)
    outcome_kinds: tuple[str, ...] = ("binary",)

    def description(self) -> str:
        if self.name == "refit":
            return "the linear predictor of a logistic regression refitted on the selected features"
        return "with the LASSO's own coefficients"

    def fit(self, data: pd.DataFrame, outcome: Outcome | str, predictors: Predictors, *, name: str,
            options: FitOptions | None = None, selection: Any = None) -> ScoreModel:
        outcome = binary_column(self, outcome)
        if selection is None:
            raise RadNomoError(f"the {self.name} score method needs the LASSO that selected its features.")
        if predictors.categorical or list(predictors.continuous) != list(selection.coef_.index):
            raise RadNomoError(f"the {name} score's predictors must be its LASSO's selected features.")
        return build_score(name, data[list(predictors.continuous)], data[outcome], selection, method=self.name)

    def from_dict(self, values: Mapping) -> ScoreModel:
        if values.get("method") != self.name:
            raise RadNomoError(f"the saved {str(values.get('name'))[:40]} score's method "
                               f"{str(values.get('method'))[:40]!r} is not '{self.name}'.")
        return ScoreModel.from_dict(dict(values))


LOGISTIC = LogisticLearner()
REFIT = ScoreLearner("refit", SCORE_METHODS["refit"])
LASSO = ScoreLearner("lasso", SCORE_METHODS["lasso"])
