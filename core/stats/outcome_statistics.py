"""Which statistics each outcome type uses: the one place an outcome kind is tied to its screening statistics
and its model learners.

The pipeline asks :func:`statistics_for` with the study's outcome and never switches on the outcome's kind. A
new outcome type (after its :class:`core.stats.outcomes.Outcome` subclass) is one more entry of
:data:`OUTCOME_STATISTICS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from core.errors import RadNomoError
from core.stats.modeling import events_per_variable, sign_flips, univariable_logistic
from core.stats.outcomes import Outcome
from core.stats.selection import BINARY_SCREENING, OutcomeScreening
from core.stats.summaries import (auc_table, coefficient_warnings, concordance_table, cox_events_per_variable,
                                  cox_sign_flips, hazard_ratio_warnings)
from core.stats.survival.screening import SURVIVAL_SCREENING
from core.stats.survival.univariable import univariable_cox_table
from core.vocabulary import OUTCOME_KINDS, UNIVARIABLE_TESTS

__all__ = ["OutcomeStatistics", "OUTCOME_STATISTICS", "statistics_for"]


@dataclass(frozen=True)
class OutcomeStatistics:
    """The statistics of one outcome kind.

    Attributes
    ----------
    kind : str
        The outcome kind (a key of :data:`core.vocabulary.OUTCOME_KINDS`).
    screening : OutcomeScreening
        Its univariable tests, mRMR relevance and LASSO for :func:`core.stats.selection.screen`.
    model_learner : str
        The learner (a key of :data:`core.stats.learners.LEARNERS`) of its clinical and fused models.
    score_methods : tuple of str
        The learners that may make its feature scores (the first is its default).
    model_words : str
        The model in words for the report ("logistic regression", "Cox proportional-hazards model").
    effect : str
        The univariable table's effect column ("OR", "HR").
    clinical_univariable : callable
        ``(train, outcome, continuous, categorical) -> DataFrame``: each clinical variable alone against the
        outcome on the training rows: ``variable``, ``term``, the effect (:attr:`effect`), ``lower``,
        ``upper``, ``p_value``, ``variable_p`` (the likelihood-ratio test the study's clinical predictors
        are chosen by), ``n``, ``note``.

    What the pages and the report say of its models (keyword-only: each outcome type declares all of them):

    score_scale : str
        What a score (a linear predictor) is on, in words ("log-odds", "log relative hazard").
    univariable_title : str
        The clinical univariable table's title ("Univariable logistic regression", "Univariable Cox regression").
    group_means : (str, str)
        Labels of a feature's mean in the patients without / with the event (the screening table's ``mean_0``,
        ``mean_1``: "mean non-event" / "mean event"; for a time-to-event outcome the patients without an event are
        the censored ones).
    discrimination_table : callable
        ``(predictions, outcome_values, cohorts, models) -> DataFrame`` (rows: cohort, columns: model): the
        discrimination at a glance. ``predictions`` as the study predicts (a model's column is its probability,
        or its linear predictor for a time-to-event study), ``outcome_values`` the outcome's
        :meth:`~core.stats.outcomes.Outcome.values` per patient ID. Binary: the AUC; time-to-event: Harrell's C.
    discrimination_note : str
        The glance table's caption: what it holds and where the rest of the evaluation is.
    coefficient_warnings : callable
        ``(table, label) -> list of str``: what a reader of a fitted clinical or fused model's table should be
        told (collinearity; odds or hazard ratios so extreme the likelihood is (almost) monotone).
    events_per_variable : callable
        ``(model) -> float``: events per estimated coefficient of a clinical model (below 10: overfitting).
    sign_flips : callable
        ``(clinical, fused, label) -> list of str``: terms whose coefficient changes sign from the clinical to the
        fused model, each explained (either model may be None).
    """

    kind: str
    screening: OutcomeScreening
    model_learner: str
    score_methods: tuple[str, ...]
    model_words: str
    effect: str
    clinical_univariable: Callable[[pd.DataFrame, Any, Sequence[str], Sequence[str]], pd.DataFrame]
    score_scale: str = field(kw_only=True)
    univariable_title: str = field(kw_only=True)
    group_means: tuple[str, str] = field(kw_only=True)
    discrimination_table: Callable[[pd.DataFrame, Any, Any, Sequence[str]], pd.DataFrame] = field(kw_only=True)
    discrimination_note: str = field(kw_only=True)
    coefficient_warnings: Callable[[pd.DataFrame, str], list[str]] = field(kw_only=True)
    events_per_variable: Callable[[Any], float] = field(kw_only=True)
    sign_flips: Callable[[Any, Any, Callable[[str], str] | None], list[str]] = field(kw_only=True)

    @property
    def default_test(self) -> str:
        """The univariable test a new study of this outcome screens with."""
        return self.screening.tests[0]

    def tests(self) -> dict[str, str]:
        """Its univariable tests -> their labels (what a form offers)."""
        return {name: UNIVARIABLE_TESTS[name] for name in self.screening.tests}


def _logistic_univariable(train: pd.DataFrame, outcome: Any, continuous: Sequence[str],
                          categorical: Sequence[str]) -> pd.DataFrame:
    return univariable_logistic(train, outcome.event_column, continuous=continuous, categorical=categorical)


def _cox_univariable(train: pd.DataFrame, outcome: Any, continuous: Sequence[str],
                     categorical: Sequence[str]) -> pd.DataFrame:
    return univariable_cox_table(train, outcome.time_column, outcome.event_column, continuous=continuous,
                                 categorical=categorical)


OUTCOME_STATISTICS: dict[str, OutcomeStatistics] = {
    "binary": OutcomeStatistics(
        "binary", BINARY_SCREENING, "logistic", ("refit", "lasso", "ridge"), "logistic regression", "OR",
        _logistic_univariable, score_scale="log-odds", univariable_title="Univariable logistic regression",
        group_means=("mean non-event", "mean event"), discrimination_table=auc_table,
        discrimination_note="AUC of each model; confidence intervals, DeLong tests and calibration are on the "
                            "Evaluation page.",
        coefficient_warnings=coefficient_warnings, events_per_variable=events_per_variable, sign_flips=sign_flips),
    "survival": OutcomeStatistics(
        "survival", SURVIVAL_SCREENING, "cox", ("cox_refit", "cox_lasso"),
        "Cox proportional-hazards model (Efron ties)", "HR", _cox_univariable, score_scale="log relative hazard",
        univariable_title="Univariable Cox regression", group_means=("mean censored", "mean event"),
        discrimination_table=concordance_table,
        discrimination_note="Harrell's C of each model's linear predictor (0.5: no better than chance); "
                            "confidence intervals, comparisons, time-dependent AUCs and calibration at each "
                            "horizon are on the Evaluation page.",
        coefficient_warnings=hazard_ratio_warnings, events_per_variable=cox_events_per_variable,
        sign_flips=cox_sign_flips),
}


def statistics_for(outcome: Outcome | str) -> OutcomeStatistics:
    """The statistics of ``outcome`` (an Outcome, or its kind)."""
    kind = outcome if isinstance(outcome, str) else outcome.kind
    if kind not in OUTCOME_STATISTICS:
        raise RadNomoError(f"no statistics are declared for the outcome kind '{kind}'; possible kinds: "
                           f"{', '.join(OUTCOME_KINDS)}.")
    return OUTCOME_STATISTICS[kind]
