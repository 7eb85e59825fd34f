"""Learners: what fits a model on training patients, as a protocol with one registry.

A :class:`Learner` fits a :class:`FittedModel` on training data (a DataFrame, its 0/1 outcome column and
the predictors, continuous and categorical), seeded. A fitted model predicts risks, gives its linear
predictor and a coefficient table, travels as plain JSON data (``to_dict`` / the learner's ``from_dict``,
re-validated on reading: finite numbers, matching terms; never pickle), says whether its fit converged,
and whether it can be drawn as a nomogram (``drawable`` and ``nomogram_design()``).

:data:`LEARNERS` is the one place a learner is registered (name -> learner). The score methods of
:data:`core.vocabulary.SCORE_METHODS` are the learners that can fill the "score" role, with the same
names and labels (tests/core/test_learners.py checks it); the comparator learners (random forest, SVM, XGBoost,
elastic net; the gradient-boosted Cox of a time to event) are those of :data:`core.vocabulary.COMPARATOR_METHODS`,
fitted beside each family's score (``comparator.py`` is their shared base). Adding a learner: write it in one file of
this package (see ``ridge.py``, or ``elastic_net.py`` for a comparator), register it below, add its entry to
``SCORE_METHODS`` when it makes scores or to ``COMPARATOR_METHODS`` when it is a comparator.

Each learner declares the outcome kinds it fits (``outcome_kinds``: "binary" for logistic and ridge, "survival"
for the Cox learners of ``cox.py``); :func:`learners_for`, :func:`get_learner` and :func:`score_methods` filter
by it, so a page or the CLI offers a study only the learners of its outcome.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.errors import RadNomoError
from core.stats.learners.base import (FitOptions, FittedModel, Learner, Predictors, SurvivalModel, binary_column,
                                     fitted_outcome)
from core.stats.learners.boosted_cox import BOOSTED_COX
from core.stats.learners.boosting import XGBOOST
from core.stats.learners.cox import COX, COX_LASSO, COX_REFIT
from core.stats.learners.elastic_net import ELASTIC_NET
from core.stats.learners.logistic import LASSO, LOGISTIC, REFIT
from core.stats.learners.random_forest import RANDOM_FOREST
from core.stats.learners.ridge import RIDGE
from core.stats.learners.svm import SVM
from core.vocabulary import MODEL_ROLES, OUTCOME_KINDS, SCORE_ROLE, check_option

__all__ = ["Predictors", "FitOptions", "FittedModel", "SurvivalModel", "Learner", "LEARNERS", "register",
           "get_learner", "learners_for", "score_methods", "fitted_from_dict", "fitted_outcome", "binary_column"]


LEARNERS: dict[str, Learner] = {}


def register(learner: Learner) -> Learner:
    """Add ``learner`` to :data:`LEARNERS` (the one registry); its roles must be model roles and its outcome kinds
    (at least one) outcome kinds."""
    if learner.name in LEARNERS:
        raise RadNomoError(f"a learner named '{learner.name}' is already registered.")
    for role in learner.roles:
        check_option("model role", role, MODEL_ROLES)
    if not learner.outcome_kinds:
        raise RadNomoError(f"the learner '{learner.name}' declares no outcome kind it fits.")
    for kind in learner.outcome_kinds:
        check_option("outcome kind", kind, OUTCOME_KINDS)
    LEARNERS[learner.name] = learner
    return learner


def get_learner(name: str, role: str | None = None, kind: str | None = None) -> Learner:
    """The learner named ``name`` (able to fill ``role`` and to fit outcomes of ``kind`` when given), else a
    RadNomoError listing the choices."""
    options = learners_for(role, kind)
    what = " ".join(w for w in (kind, role or "model") if w)
    check_option(f"{what} learner", name, list(options))
    return LEARNERS[name]


def learners_for(role: str | None, kind: str | None = None) -> dict[str, Learner]:
    """The registered learners that can fit a model of ``role`` (any role when None) for an outcome of ``kind``
    (a key of :data:`core.vocabulary.OUTCOME_KINDS`; any kind when None), in registration order."""
    if kind is not None:
        check_option("outcome kind", kind, OUTCOME_KINDS)
    return {name: learner for name, learner in LEARNERS.items()
            if (role is None or role in learner.roles) and (kind is None or kind in learner.outcome_kinds)}


def score_methods(kind: str | None = "binary") -> dict[str, str]:
    """Score method -> label of the score learners of outcomes of ``kind`` (default binary; None: every kind), from
    the registry (over every kind, what :data:`core.vocabulary.SCORE_METHODS` must equal)."""
    return {name: learner.label for name, learner in learners_for(SCORE_ROLE, kind).items()}


def fitted_from_dict(values: Mapping, learner: str, *, role: str) -> FittedModel:
    """A saved fitted model read back by the learner that wrote it (re-validated; RadNomoError otherwise)."""
    if not isinstance(values, Mapping):
        raise RadNomoError(f"a saved {role} model is not a JSON object.")
    return get_learner(str(learner)[:40], role).from_dict(values)


# The registrations: the one place a learner is declared (in the order the pages list them).
for _learner in (REFIT, LASSO, RIDGE, LOGISTIC, COX_REFIT, COX_LASSO, COX,
                 # the comparator learners (issue 31), in the order the Models page lists them
                 RANDOM_FOREST, SVM, XGBOOST, ELASTIC_NET, BOOSTED_COX):
    register(_learner)
