"""What the Cohort page shows of a time-to-event outcome, and reads from its form.

* :func:`cohort_curves`: the open study's outcome over time, training vs test cohort (Kaplan-Meier curves, the
  log-rank test between them, the outcome's summary of all patients), or None for an outcome without time
  (:meth:`core.stats.outcomes.Outcome.curve` says which).
* :func:`parse_horizons`: the horizons as a user types them ("12, 36, 60") into numbers, refused with a message
  that says what to type.
* :func:`guess_time_column` and :func:`guess_event_column`: the form's first choices for a table as it comes.

The statistics are :mod:`core.stats.survival.kaplan_meier`'s (R's ``survfit`` and ``survdiff``); nothing here
computes one of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import RadNomoError, listed
from core.stats.cohort import guess_outcome_column
from core.stats.outcomes import BinaryOutcome, horizons_from_text
from core.stats.survival.kaplan_meier import KaplanMeier, LogRank, kaplan_meier, log_rank

__all__ = ["CohortCurves", "cohort_curves", "parse_horizons", "guess_time_column", "guess_event_column",
           "TRAIN_CURVE", "TEST_CURVE"]

#: The curves' names (legend, number-at-risk rows); the columns of core.stats.cohort.outcome_summary say the same.
TRAIN_CURVE, TEST_CURVE = "Train", "Test"


@dataclass(frozen=True, eq=False)
class CohortCurves:
    """A time-to-event study's cohort over time.

    Attributes
    ----------
    curves : mapping of str to KaplanMeier
        :data:`TRAIN_CURVE` (the training patients; every patient of a study without a test cohort) and, with a
        test cohort, :data:`TEST_CURVE`; times in :attr:`time_unit`.
    log_rank : LogRank or None
        The log-rank test (``survdiff``) of equal survival in the training and the test cohort; None without a
        test cohort (one curve, nothing to compare).
    summary : pandas.DataFrame
        :meth:`core.stats.outcomes.Outcome.summary` of all the study's patients (events, censored, median
        follow-up by reverse Kaplan-Meier, ...): one row per ``statistic``.
    time_unit : str
        The unit of every time (e.g. "months").
    """

    curves: Mapping[str, KaplanMeier]
    log_rank: LogRank | None
    summary: pd.DataFrame
    time_unit: str

    @property
    def log_rank_p(self) -> float | None:
        """The log-rank p-value of training vs test, None without a test cohort."""
        return None if self.log_rank is None else float(self.log_rank.p)

    def statistic(self, name: str) -> pd.Series:
        """The summary row of ``name`` (e.g. "censored", "follow_up_median"): ``label``, ``value`` (text),
        ``estimate``, ``lower``, ``upper``.

        Raises
        ------
        RadNomoError
            If the outcome's summary has no such row.
        """
        rows = self.summary[self.summary["statistic"] == name]
        if rows.empty:
            raise RadNomoError(f"the outcome's summary has no '{name}' row; it has "
                               f"{listed(self.summary['statistic'].unique())}.")
        return rows.iloc[0]


def cohort_curves(study) -> CohortCurves | None:
    """The Kaplan-Meier curves of ``study``'s training and test cohorts (a :class:`core.workflows.study.Study`)
    with the log-rank test between them, or None when its outcome has no time (a binary outcome).

    The curves describe the cohort (as Table 1 does): they use the outcome only, no model, so the test cohort is
    shown beside the training one, not learned from.
    """
    outcome = study.spec.outcome
    if outcome.curve(study.train) is None:  # the outcome's own answer: no time, no curve
        return None
    cohorts = {TRAIN_CURVE: study.train_ids, **({TEST_CURVE: study.test_ids} if study.has_test else {})}
    curves = {name: kaplan_meier(*outcome.arrays(study.cohort.loc[ids])) for name, ids in cohorts.items()}
    test = None
    if study.has_test:
        time, event = outcome.arrays(study.cohort.loc[[*study.train_ids, *study.test_ids]])
        group = np.repeat([TRAIN_CURVE, TEST_CURVE], [len(study.train_ids), len(study.test_ids)])
        test = log_rank(time, event, group)
    return CohortCurves(curves=curves, log_rank=test, summary=outcome.summary(study.cohort),
                        time_unit=outcome.time_unit)


def parse_horizons(text: str, unit: str = "months") -> tuple[float, ...]:
    """The Cohort page's horizons field ("12, 36, 60") as sorted floats
    (:func:`core.stats.outcomes.horizons_from_text`, the one reading of horizons)."""
    return horizons_from_text(text, unit=unit)


# Words of a column name that say it holds a follow-up time (compared with the name's words, in lower case).
_TIME_WORDS = {"time", "times", "futime", "fu", "follow", "followup", "months", "month", "days", "day", "years",
               "year", "weeks", "os", "pfs", "dfs", "rfs", "efs", "ttp", "tte", "survival", "duration", "interval"}
# Words that say a 0/1 column holds the event of a time-to-event outcome.
_EVENT_WORDS = {"event", "events", "status", "death", "dead", "died", "censor", "censored", "fustat", "vital",
                "relapse", "recurrence", "progression", "os", "pfs", "dfs"}


def _words(column: object) -> set[str]:
    """A column name's words in lower case: "OS_months" -> {os, months}, "timeToEvent" -> {time, to, event}."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(column))
    return {word for word in re.split(r"[^a-z0-9]+", text.lower()) if word}


def guess_time_column(table: pd.DataFrame, exclude: Sequence[str] = ()) -> str | None:
    """The column that most likely holds the follow-up time, or None: a numeric column with values >= 0 that is not
    coded 0/1, named like a time (``os_months``, ``futime``, ``days_to_last_fu``...). A time of 0 does not rule a
    column out: choosing it, the user is told what is wrong with it (:class:`core.stats.outcomes.SurvivalOutcome`)."""
    candidates = []
    for column in table.columns:
        if column in exclude or not pd.api.types.is_numeric_dtype(table[column]):
            continue
        values = table[column].dropna()
        if len(values) and (values >= 0).all() and not BinaryOutcome.accepts(table[column]) \
                and _TIME_WORDS & _words(column):
            candidates.append(str(column))
    # Every patient has a follow-up time; a time known for some only (e.g. the time to a metastasis) comes second.
    complete = [c for c in candidates if table[c].notna().all()]
    preferred = complete or candidates
    return preferred[0] if preferred else None


def guess_event_column(table: pd.DataFrame, exclude: Sequence[str] = ()) -> str | None:
    """The column that most likely holds the event indicator, or None: a column coded 0/1 (yes/no...) named like
    an event (``death``, ``status``, ``event``...) first, else :func:`core.stats.cohort.guess_outcome_column`."""
    for column in table.columns:
        if column not in exclude and _EVENT_WORDS & _words(column) and BinaryOutcome.accepts(table[column]):
            return str(column)
    return guess_outcome_column(table, exclude=exclude)
