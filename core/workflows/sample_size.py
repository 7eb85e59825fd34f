"""Riley's minimum sample size (:mod:`core.stats.sample_size`) for the open study, against its training cohort.

The anticipated outcome proportion (binary outcome) or event rate, mean follow-up and horizon (time to event) come
from the training patients; the candidate predictor parameters default to those of the study's final models (see
:func:`candidate_parameters`). Each outcome kind has its own entry in :data:`SAMPLE_SIZE_BY_OUTCOME`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from core.errors import RadNomoError
from core.stats.outcomes import SurvivalOutcome
from core.stats.sample_size import (SAMPLE_SIZE_COLUMNS, SampleSizeResult, binary_sample_size, expected_shrinkage,
                                    survival_sample_size)
from core.vocabulary import SAMPLE_SIZE_ANTICIPATION
from core.workflows.study import Study

__all__ = ["SampleSizeCheck", "study_sample_size", "candidate_parameters", "SAMPLE_SIZE_BY_OUTCOME", "AVAILABLE",
           "DEFAULT_CSTATISTIC", "anticipation_options"]

#: The label of the table row that holds the training cohort itself.
AVAILABLE = "training cohort"
#: The Cohort page's starting value when the user chooses to anticipate a C-statistic (binary outcome): a modest
#: model, below the apparent AUCs radiomics papers report. The page and the report start from Riley's conservative
#: default instead (Cox-Snell R^2 at 15 % of its maximum) because nothing about the study says which C to expect.
DEFAULT_CSTATISTIC = 0.75


#: Outcome kinds whose anticipated C-statistic converts to a Cox-Snell R^2 (core.stats.sample_size).
CSTATISTIC_KINDS = frozenset({"binary"})


def anticipation_options(kind: str) -> dict[str, str]:
    """What the sample size can anticipate for an outcome kind (keys of
    :data:`core.vocabulary.SAMPLE_SIZE_ANTICIPATION`, the conservative default first): a C-statistic only for a
    binary outcome (Riley et al. 2021 convert it for a logistic model; pmsampsize has no such conversion for a
    time-to-event one)."""
    return {key: label for key, label in SAMPLE_SIZE_ANTICIPATION.items()
            if key != "cstatistic" or kind in CSTATISTIC_KINDS}


@dataclass(frozen=True)
class SampleSizeCheck:
    """Riley's minimum sample size for a study, and whether its training cohort reaches it.

    Attributes
    ----------
    result : SampleSizeResult
        The criteria and the minimum (:func:`core.stats.sample_size.binary_sample_size` or
        :func:`~core.stats.sample_size.survival_sample_size`).
    n_available, events_available : int
        Patients and events of the training cohort.
    parameters_source : str
        Where the candidate parameters came from, in words (the study's candidates, itemised, or "given").
    anticipated : str
        The anticipated performance in words ("C-statistic 0.75", "Cox-Snell R² 0.10", the conservative default).
    inputs : str
        The outcome inputs taken from the training cohort, in words (proportion; or rate, mean follow-up, horizon).
    """

    result: SampleSizeResult
    n_available: int
    events_available: int
    parameters_source: str
    anticipated: str
    inputs: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def meets(self) -> bool:
        """Whether the training cohort has at least the minimum number of patients."""
        return self.n_available >= self.result.n

    @property
    def shortfall(self) -> int:
        """Patients missing to reach the minimum (0 when it is met)."""
        return max(0, self.result.n - self.n_available)

    @property
    def available_shrinkage(self) -> float:
        """The shrinkage of predictor effects expected at the training cohort's size (1 = none)."""
        return expected_shrinkage(self.n_available, self.result.parameters, self.result.rsquared)

    def table(self) -> pd.DataFrame:
        """The criteria, the "final" row and a :data:`AVAILABLE` row (the training cohort: its patients, events,
        events per candidate parameter and the shrinkage expected at its size); columns
        :data:`core.stats.sample_size.SAMPLE_SIZE_COLUMNS`."""
        short = f"{self.shortfall} patient(s) short of the minimum"
        available = {"criterion": AVAILABLE, "ensures": "meets the minimum" if self.meets else short,
                     "n": self.n_available, "events": float(self.events_available),
                     "epp": self.events_available / self.result.parameters, "shrinkage": self.available_shrinkage,
                     "assumption": self.inputs}
        table = pd.concat([self.result.table(), pd.DataFrame([available], columns=list(SAMPLE_SIZE_COLUMNS))],
                          ignore_index=True)
        return table.astype({"n": int, "events": float, "epp": float, "shrinkage": float})

    def sentences(self) -> list[str]:
        """The check in words, for the Cohort page and the report."""
        result, binding = self.result, self.result.binding
        cohort = f"The training cohort ({self.n_available} patients, {self.events_available} events)"
        minimum = (f"Riley's minimum of {result.n} patients (about {math.ceil(result.events)} events; criterion "
                   f"{binding.number}, {binding.ensures.split(':')[0]}) for {result.parameters} candidate parameters "
                   f"at an anticipated {self.anticipated}")
        if self.meets:
            first = f"{cohort} meets {minimum}."
        else:
            first = (f"{cohort} falls {self.shortfall} patients short of {minimum}; at its size the predictor effects "
                     f"would need shrinking by about {1 - self.available_shrinkage:.0%} (expected shrinkage "
                     f"{self.available_shrinkage:.2f}; the target is {result.inputs['shrinkage']:g}).")
        return [first,
                f"Anticipated Cox-Snell R\u00b2 {result.rsquared:.3f} ({result.rsquared_source}; largest possible "
                f"{result.max_rsquared:.3f}, Nagelkerke R\u00b2 {result.nagelkerke:.3f}); {self.inputs}.",
                f"Candidate parameters: {self.parameters_source}.",
                *result.notes, *self.notes]


def _level_counts(study: Study, variables: tuple[str, ...]) -> dict[str, int]:
    """Levels of each categorical variable among the training patients (missing values are no level)."""
    train = study.train
    return {v: int(train[v].dropna().nunique()) for v in variables}


def candidate_parameters(study: Study) -> tuple[int, str]:
    """The candidate predictor parameters of the study's final models, and how they were counted, in words.

    The clinical candidates are the clinical model's predictors when the settings fix them, else every clinical
    variable (the clinical model then chooses among them by univariable p, so all are candidates): a continuous
    variable counts 1, a categorical one its training levels - 1. Each score family adds one parameter (its
    score). The features screened into a score are not counted: the score is built in a separate, penalised step
    (its own candidates are the family's features), so this count is the smallest defensible one.
    """
    settings, spec = study.settings, study.spec
    fixed = settings.clinical_continuous is not None or settings.clinical_categorical is not None
    continuous = tuple(settings.clinical_continuous or ()) if fixed else spec.continuous
    categorical = tuple(settings.clinical_categorical or ()) if fixed else spec.categorical
    levels = _level_counts(study, categorical)
    parts = [f"{study.label(v)} (1)" for v in continuous]
    parts += [f"{study.label(v)} ({levels[v]} levels: {max(levels[v] - 1, 0)})" for v in categorical]
    parts += [f"{study.label(f'{family}_score')} (1)" for family in study.score_families]
    count = len(continuous) + sum(max(n - 1, 0) for n in levels.values()) + len(study.score_families)
    where = "the clinical model's chosen predictors" if fixed else "every clinical variable"
    text = (f"{count} = " + ", ".join(parts) + f" ({where}, plus one per score; the features inside a score are "
            "not counted)") if parts else "none"
    return count, text


def _binary_inputs(study: Study, parameters: int, cstatistic: float | None,
                   rsquared: float | None) -> tuple[SampleSizeResult, str]:
    events = study.spec.outcome.events(study.train)
    prevalence = float(events.mean())
    if not 0 < prevalence < 1:
        raise RadNomoError("the training cohort needs patients with and without the event for a sample size.")
    result = binary_sample_size(prevalence, parameters, cstatistic=cstatistic, rsquared=rsquared)
    return result, f"outcome proportion {prevalence:.3f} in the training cohort"


def _survival_inputs(study: Study, parameters: int, cstatistic: float | None,
                     rsquared: float | None) -> tuple[SampleSizeResult, str]:
    outcome = study.spec.outcome
    if not isinstance(outcome, SurvivalOutcome):
        raise RadNomoError("a time-to-event sample size needs a time-to-event outcome; this study's is "
                           f"{outcome.kind}.")
    train = study.train
    time, event = outcome.times(train), outcome.events(train)
    rate = float(event.sum() / time.sum())  # events per unit of follow-up time (the exponential model's rate)
    meanfup, horizon = float(time.mean()), float(outcome.horizons[-1])
    unit = outcome.time_unit
    result = survival_sample_size(parameters, rate, horizon, meanfup, rsquared=rsquared, cstatistic=cstatistic,
                                  unit=unit)
    return result, (f"event rate {rate:.4g} per {unit.rstrip('s')} of follow-up, mean follow-up {meanfup:.3g} {unit} "
                    f"and the study's last horizon {outcome.horizon_label(horizon)} (training cohort)")


#: Outcome kind (:data:`core.vocabulary.OUTCOME_KINDS`) -> (study, parameters, C-statistic, R^2) -> (result, the
#: inputs taken from the training cohort in words). A new outcome kind adds its entry here.
SAMPLE_SIZE_BY_OUTCOME: dict[str, Callable[[Study, int, float | None, float | None],
                                           tuple[SampleSizeResult, str]]] = {
    "binary": _binary_inputs,
    "survival": _survival_inputs,
}


def study_sample_size(study: Study, *, parameters: int | None = None, cstatistic: float | None = None,
                      rsquared: float | None = None) -> SampleSizeCheck:
    """Riley's minimum sample size for developing the study's models, and whether its training cohort reaches it.

    Parameters
    ----------
    study : Study
    parameters : int, optional
        Candidate predictor parameters; None: :func:`candidate_parameters` of the study.
    cstatistic, rsquared : float, optional
        The anticipated C-statistic (binary outcome only) or Cox-Snell R^2, at most one; neither: Riley's
        conservative default (Cox-Snell R^2 at 15 % of its maximum).

    Returns
    -------
    SampleSizeCheck

    Raises
    ------
    RadNomoError
        For an outcome kind without a sample size, a study without candidate parameters, or inputs out of range
        (from :mod:`core.stats.sample_size`).
    """
    kind = study.spec.outcome.kind
    if kind not in SAMPLE_SIZE_BY_OUTCOME:
        raise RadNomoError(f"no minimum sample size is defined for a {kind} outcome; defined for: "
                           f"{', '.join(SAMPLE_SIZE_BY_OUTCOME)}.")
    if parameters is None:
        parameters, source = candidate_parameters(study)
        if parameters < 1:
            raise RadNomoError("the study has no candidate predictor: choose clinical variables or add a feature "
                               "family (or give the number of candidate parameters).")
    else:
        source = f"{parameters} (given)"
    result, inputs = SAMPLE_SIZE_BY_OUTCOME[kind](study, parameters, cstatistic, rsquared)
    anticipated = (f"C-statistic of {cstatistic:g}" if cstatistic is not None else
                   f"Cox-Snell R\u00b2 of {rsquared:g}" if rsquared is not None else
                   "Nagelkerke R\u00b2 of 0.15 (conservative default)")
    train = study.train
    return SampleSizeCheck(result=result, n_available=len(train),
                           events_available=study.spec.outcome.n_events(train), parameters_source=source,
                           anticipated=anticipated, inputs=inputs)
