"""The learner protocol (:class:`Learner`, :class:`FittedModel`) and what a fit is given (:class:`Predictors`,
:class:`FitOptions`); the registry is :mod:`core.stats.learners`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from core.stats.modeling import NomogramDesign

__all__ = ["Predictors", "FitOptions", "FittedModel", "Learner"]


@dataclass(frozen=True)
class Predictors:
    """The predictors a learner fits on: numeric columns and categorical ones (coded by the learner)."""

    continuous: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.continuous, *self.categorical)


@dataclass(frozen=True)
class FitOptions:
    """What a learner that tunes itself by cross-validation needs: the seed of its stratified folds, how many
    folds, and the rule that picks its penalty ("1se" or "min", as the study's LASSO). Learners without
    tuning ignore them."""

    seed: int = 0
    n_folds: int = 10
    rule: str = "1se"


@runtime_checkable
class FittedModel(Protocol):
    """A model fitted on training patients (a score, the clinical or the fused model, any learner).

    Attributes
    ----------
    name : str
        The model's name in the study ("clinical", "fused", a family's name for its score).
    learner : str
        The key of the learner that fitted it in :data:`LEARNERS`.
    variables : tuple of str
        The raw columns it reads.
    converged : bool
        Whether its fit converged; ``convergence`` is the sentence that says otherwise ("" when it did).
    drawable : bool
        Whether it can be drawn as a nomogram (``nomogram_design()`` gives what the nomogram needs).
    table : pandas.DataFrame
        Its coefficient / summary table.
    """

    @property
    def name(self) -> str: ...

    @property
    def learner(self) -> str: ...

    @property
    def variables(self) -> tuple[str, ...]: ...

    @property
    def converged(self) -> bool: ...

    @property
    def convergence(self) -> str: ...

    @property
    def drawable(self) -> bool: ...

    @property
    def table(self) -> pd.DataFrame: ...

    def linear_predictor(self, df: pd.DataFrame) -> pd.Series: ...

    def predict_risk(self, df: pd.DataFrame) -> pd.Series: ...

    def nomogram_design(self) -> NomogramDesign: ...

    def to_dict(self) -> dict: ...


class Learner(Protocol):
    """Fits a :class:`FittedModel` on training rows.

    Attributes
    ----------
    name, label : str
        Its key in :data:`LEARNERS` and its words (the score methods' labels in the vocabulary).
    roles : tuple of str
        The roles (:data:`core.vocabulary.MODEL_ROLES`) its models may fill.
    """

    @property
    def name(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def roles(self) -> tuple[str, ...]: ...

    def description(self) -> str:
        """How it fits, in one clause for the report's methods ("each the linear predictor of ...")."""
        ...

    def fit(self, data: pd.DataFrame, outcome: str, predictors: Predictors, *, name: str,
            options: FitOptions | None = None, selection: Any = None) -> FittedModel:
        """Fit on ``data`` (training rows only) the 0/1 ``outcome`` on ``predictors``.

        ``name``: the model's name; ``options``: seed, folds, rule of any tuning (default :class:`FitOptions`);
        ``selection``: the LASSO that chose a score's features (``core.stats.selection.LassoCV``; the "lasso"
        method takes its coefficients). Raises RadNomoError when it cannot be fitted (separation, no predictor ...).
        """
        ...

    def from_dict(self, values: Mapping) -> FittedModel:
        """A fitted model back from its ``to_dict``, re-validated (RadNomoError for anything edited)."""
        ...
