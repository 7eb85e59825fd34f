"""The learner protocol (:class:`Learner`, :class:`FittedModel`, :class:`SurvivalModel`) and what a fit is given
(:class:`Predictors`, :class:`FitOptions`, the outcome through :func:`fitted_outcome`); the registry is
:mod:`core.stats.learners`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from core.errors import RadNomoError
from core.stats.modeling import NomogramDesign
from core.stats.outcomes import Outcome, as_outcome

__all__ = ["Predictors", "FitOptions", "FittedModel", "SurvivalModel", "Learner", "fitted_outcome", "binary_column"]


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


@runtime_checkable
class SurvivalModel(FittedModel, Protocol):
    """A fitted model of a time-to-event outcome (the Cox learners): a :class:`FittedModel` whose
    ``predict_risk`` is the risk of the event by its first horizon, and which predicts survival curves.

    Attributes
    ----------
    horizons : tuple of float
        The times (in the outcome's unit) it predicts at by default; the first is ``predict_risk``'s.
    baseline : pandas.DataFrame
        ``time`` (each distinct training event time) and ``cumulative_hazard`` there for a linear predictor of 0
        (what a survival nomogram turns points into survival with: S(t) = exp(-H0(t) exp(lp))).
    """

    @property
    def horizons(self) -> tuple[float, ...]: ...

    @property
    def baseline(self) -> pd.DataFrame: ...

    def predict_survival(self, df: pd.DataFrame, horizons: Any = None) -> pd.DataFrame: ...


class Learner(Protocol):
    """Fits a :class:`FittedModel` on training rows.

    Attributes
    ----------
    name, label : str
        Its key in :data:`LEARNERS` and its words (the score methods' labels in the vocabulary).
    roles : tuple of str
        The roles (:data:`core.vocabulary.MODEL_ROLES`) its models may fill.
    outcome_kinds : tuple of str
        The outcome kinds (:data:`core.vocabulary.OUTCOME_KINDS`) it fits: ("binary",) for the logistic and ridge
        learners, ("survival",) for the Cox learners.
    """

    @property
    def name(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def roles(self) -> tuple[str, ...]: ...

    @property
    def outcome_kinds(self) -> tuple[str, ...]: ...

    def description(self) -> str:
        """How it fits, in one clause for the report's methods ("each the linear predictor of ...")."""
        ...

    def fit(self, data: pd.DataFrame, outcome: Outcome | str, predictors: Predictors, *, name: str,
            options: FitOptions | None = None, selection: Any = None) -> FittedModel:
        """Fit on ``data`` (training rows only) the ``outcome`` on ``predictors``.

        ``outcome``: an :class:`~core.stats.outcomes.Outcome` of one of :attr:`outcome_kinds`, or the name of a 0/1
        column (a binary outcome, as before outcomes were types); :func:`fitted_outcome` reads it.

        ``name``: the model's name; ``options``: seed, folds, rule of any tuning (default :class:`FitOptions`);
        ``selection``: the LASSO that chose a score's features (``core.stats.selection.LassoCV``, or the LASSO-Cox
        of a time-to-event outcome; the "lasso" and "cox_lasso" methods take its coefficients). Raises RadNomoError
        when it cannot be fitted (separation, no predictor, an outcome of another kind ...).
        """
        ...

    def from_dict(self, values: Mapping) -> FittedModel:
        """A fitted model back from its ``to_dict``, re-validated (RadNomoError for anything edited)."""
        ...


def fitted_outcome(learner: Learner, outcome: Outcome | str) -> Outcome:
    """The outcome ``learner`` is asked to fit, as an :class:`~core.stats.outcomes.Outcome` (a column name is a
    binary outcome), checked to be of a kind the learner fits.

    Raises
    ------
    RadNomoError
        For an outcome of another kind (e.g. a time-to-event outcome given to a logistic learner), naming the
        learners' kinds.
    """
    outcome = as_outcome(outcome)
    if outcome.kind not in learner.outcome_kinds:
        raise RadNomoError(f"the '{learner.name}' learner fits {' or '.join(learner.outcome_kinds)} outcomes, not a "
                           f"{outcome.kind} outcome ({outcome.describe()}); choose a learner of that outcome kind.")
    return outcome


def binary_column(learner: Learner, outcome: Outcome | str) -> str:
    """The 0/1 column of the binary ``outcome`` a learner of binary outcomes fits (:func:`fitted_outcome`)."""
    return fitted_outcome(learner, outcome).event_column
