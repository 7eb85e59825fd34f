"""Learners: what fits a model on training patients, as a protocol with one registry.

A :class:`Learner` fits a :class:`FittedModel` on training data (a DataFrame, its 0/1 outcome column and
the predictors, continuous and categorical), seeded. A fitted model predicts risks, gives its linear
predictor and a coefficient table, travels as plain JSON data (``to_dict`` / the learner's ``from_dict``,
re-validated on reading: finite numbers, matching terms; never pickle), says whether its fit converged,
and whether it can be drawn as a nomogram (``drawable`` and ``nomogram_design()``).

:data:`LEARNERS` is the one place a learner is registered (name -> learner). The score methods of
:data:`core.vocabulary.SCORE_METHODS` are the learners that can fill the "score" role, with the same
names and labels (tests/core/test_learners.py checks it). Adding a learner: write it in one file of this
package (see ``ridge.py``), register it below, add its entry to ``SCORE_METHODS`` when it makes scores.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.errors import RadNomoError
from core.stats.learners.base import FitOptions, FittedModel, Learner, Predictors
from core.stats.learners.logistic import LASSO, LOGISTIC, REFIT
from core.stats.learners.ridge import RIDGE
from core.vocabulary import MODEL_ROLES, SCORE_ROLE, check_option

__all__ = ["Predictors", "FitOptions", "FittedModel", "Learner", "LEARNERS", "register", "get_learner",
           "learners_for", "score_methods", "fitted_from_dict"]


LEARNERS: dict[str, Learner] = {}


def register(learner: Learner) -> Learner:
    """Add ``learner`` to :data:`LEARNERS` (the one registry); its roles must be model roles."""
    if learner.name in LEARNERS:
        raise RadNomoError(f"a learner named '{learner.name}' is already registered.")
    for role in learner.roles:
        check_option("model role", role, MODEL_ROLES)
    LEARNERS[learner.name] = learner
    return learner


def get_learner(name: str, role: str | None = None) -> Learner:
    """The learner named ``name`` (able to fill ``role`` when given), else a RadNomoError listing the choices."""
    options = learners_for(role) if role is not None else LEARNERS
    check_option(f"{role or 'model'} learner", name, list(options))
    return LEARNERS[name]


def learners_for(role: str) -> dict[str, Learner]:
    """The registered learners that can fit a model of ``role``, in registration order."""
    return {name: learner for name, learner in LEARNERS.items() if role in learner.roles}


def score_methods() -> dict[str, str]:
    """Score method -> label, from the registry (what :data:`core.vocabulary.SCORE_METHODS` must equal)."""
    return {name: learner.label for name, learner in learners_for(SCORE_ROLE).items()}


def fitted_from_dict(values: Mapping, learner: str, *, role: str) -> FittedModel:
    """A saved fitted model read back by the learner that wrote it (re-validated; RadNomoError otherwise)."""
    if not isinstance(values, Mapping):
        raise RadNomoError(f"a saved {role} model is not a JSON object.")
    return get_learner(str(learner)[:40], role).from_dict(values)


# The registrations: the one place a learner is declared (in the order the pages list them).
for _learner in (REFIT, LASSO, RIDGE, LOGISTIC):
    register(_learner)
