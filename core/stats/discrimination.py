"""How internal validation measures a model's discrimination, per outcome type: one registry entry per kind.

Harrell's bootstrap optimism correction and repeated cross-validation (:mod:`core.workflows.validation`) score
every refitted model on some patients by the measures of the study's outcome type, asked through
:func:`measures_for` (never by switching on the outcome's kind):

* a binary outcome: the AUC of the predicted probability (scikit-learn's ``roc_auc_score``, as before);
* a time-to-event outcome: Harrell's C of the model's linear predictor
  (:func:`core.stats.survival.concordance.harrell_c`) and the cumulative/dynamic IPCW AUC at each of the
  outcome's horizons (:func:`core.stats.survival.time_dependent.td_auc`).

A new outcome type adds a :class:`DiscriminationMeasures` to :data:`DISCRIMINATION` with
:func:`register_measures`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.stats.outcomes import Outcome
from core.vocabulary import DISCRIMINATION_MEASURES, OUTCOME_KINDS, check_option, horizon_text

__all__ = ["DiscriminationMeasures", "DISCRIMINATION", "register_measures", "measures_for", "MEASURE",
           "GENERIC_COLUMNS", "measure_names", "measures_text"]

#: The column that names the measure of a row, in the frames of an outcome type whose measures are named.
MEASURE = "measure"
#: The value columns of the validation frames, by role: on the resample, on the original training cohort, on a
#: held-out fold. A :class:`DiscriminationMeasures` may rename them (the binary outcome keeps its AUC names).
GENERIC_COLUMNS = {"boot": "boot", "original": "original", "held_out": "value"}

#: ``(outcome, frame, risk, strict) -> {measure label: value}``: see :attr:`DiscriminationMeasures.score`.
Scorer = Callable[[Any, pd.DataFrame, pd.Series, bool], dict[str, float]]


@dataclass(frozen=True)
class DiscriminationMeasures:
    """The discrimination measures of one outcome type.

    Attributes
    ----------
    kind : str
        The outcome kind (a key of :data:`core.vocabulary.OUTCOME_KINDS`).
    labels : callable
        ``outcome -> tuple of str``: the measures' labels for that outcome (its rows' ``measure``), e.g.
        ``("C-index", "AUC(t=12)", "AUC(t=36)")``; from :data:`core.vocabulary.DISCRIMINATION_MEASURES`.
    score : callable
        ``(outcome, frame, risk, strict) -> {label: value}``: each measure of the predictions ``risk`` (a Series
        indexed as ``frame``: a probability, or a linear predictor, higher = higher risk; rows where it is NaN
        are left out) against the outcome in ``frame``'s rows (the cohort's columns). A measure that cannot be
        estimated on these patients (e.g. no event before a horizon in a fold) is NaN, or, when ``strict``,
        raises :class:`core.errors.RadNomoError` saying why.
    named : bool
        Whether the validation frames carry a :data:`MEASURE` column. False only for the binary outcome, whose
        single AUC predates the column: its frames (and saved validations) stay as they were.
    columns : mapping
        The value columns' names by role (keys of :data:`GENERIC_COLUMNS`).
    """

    kind: str
    labels: Callable[[Any], tuple[str, ...]]
    score: Scorer
    named: bool = True
    columns: Mapping[str, str] = field(default_factory=lambda: dict(GENERIC_COLUMNS))
    #: ``outcome -> {label: display name}``: how a page or report names each measure (e.g. ``AUC(t=12)`` as
    #: ``AUC(t=12 months)``, with the outcome's time unit); None: the labels themselves.
    shown: Callable[[Any], dict[str, str]] | None = None


def _binary_auc(outcome: Any, frame: pd.DataFrame, risk: pd.Series, strict: bool) -> dict[str, float]:
    """The AUC of ``risk`` (unitless, 0-1), computed exactly as internal validation always has (scikit-learn)."""
    from sklearn.metrics import roc_auc_score

    y = outcome.events(frame)
    keep = risk.notna()
    return {DISCRIMINATION_MEASURES["auc"]: float(roc_auc_score(y[keep], risk[keep]))}


def _td_auc_label(horizon: float) -> str:
    return DISCRIMINATION_MEASURES["td_auc"].replace("{horizon}", horizon_text(horizon))


def _survival_labels(outcome: Any) -> tuple[str, ...]:
    return (DISCRIMINATION_MEASURES["c_index"], *(_td_auc_label(h) for h in outcome.horizons))


def _survival_shown(outcome: Any) -> dict[str, str]:
    """Each survival measure's label -> its display name, the horizon with the outcome's time unit."""
    return {DISCRIMINATION_MEASURES["c_index"]: DISCRIMINATION_MEASURES["c_index"],
            **{_td_auc_label(h): DISCRIMINATION_MEASURES["td_auc"].replace("{horizon}", outcome.horizon_label(h))
               for h in outcome.horizons}}


def _survival_measures(outcome: Any, frame: pd.DataFrame, risk: pd.Series, strict: bool) -> dict[str, float]:
    """Harrell's C of the linear predictor and the IPCW AUC at each horizon (unitless, 0-1)."""
    from core.stats.survival.concordance import harrell_c
    from core.stats.survival.time_dependent import td_auc

    keep = risk.notna().to_numpy()
    time, event = outcome.arrays(frame)
    time, event, values = time[keep], event[keep], risk.to_numpy(dtype=float)[keep]
    c_label = DISCRIMINATION_MEASURES["c_index"]
    # No comparable pair (no event, or every event after every other time) leaves C undefined (0/0).
    with np.errstate(invalid="ignore", divide="ignore"):
        c = harrell_c(time, event, values).c if event.sum() else math.nan
    if strict and not math.isfinite(c):
        raise RadNomoError(f"Harrell's C cannot be estimated on these {len(time)} patients: no pair of patients "
                           "can be compared (an event before another patient's follow-up ends); check the events.")
    out = {c_label: float(c)}
    for horizon in outcome.horizons:
        label = _td_auc_label(horizon)
        try:
            out[label] = float(td_auc(time, event, values, [horizon])["auc"].iloc[0])
        except RadNomoError:
            if strict:
                raise
            out[label] = math.nan
        else:
            # td_auc's 0/0 (no case or no control at the horizon) reads NaN here, never a number
            if strict and not math.isfinite(out[label]):
                raise RadNomoError(f"{label} cannot be estimated on these {len(time)} patients: they need an event "
                                   f"by {outcome.horizon_label(horizon)} and a patient followed beyond it; choose "
                                   "another horizon.")
    return out


#: Registry: outcome kind -> its measures.
DISCRIMINATION: dict[str, DiscriminationMeasures] = {}


def register_measures(measures: DiscriminationMeasures) -> DiscriminationMeasures:
    """Add ``measures`` to :data:`DISCRIMINATION` under its kind (declared in :data:`OUTCOME_KINDS`)."""
    check_option("outcome kind", measures.kind, OUTCOME_KINDS)
    if set(measures.columns) != set(GENERIC_COLUMNS):
        raise RadNomoError(f"the measures of '{measures.kind}' must name the columns {sorted(GENERIC_COLUMNS)}.")
    DISCRIMINATION[measures.kind] = measures
    return measures


register_measures(DiscriminationMeasures(
    "binary", lambda outcome: (DISCRIMINATION_MEASURES["auc"],), _binary_auc, named=False,
    columns={"boot": "boot_auc", "original": "original_auc", "held_out": "auc"}))
register_measures(DiscriminationMeasures("survival", _survival_labels, _survival_measures, shown=_survival_shown))


def measures_for(outcome: Outcome | str) -> DiscriminationMeasures:
    """The discrimination measures of ``outcome`` (an Outcome, or its kind).

    Raises
    ------
    RadNomoError
        If none are registered for its kind.
    """
    kind = outcome if isinstance(outcome, str) else outcome.kind
    if kind not in DISCRIMINATION:
        raise RadNomoError(f"internal validation has no discrimination measure for the outcome kind '{kind}'; "
                           f"it has them for {', '.join(DISCRIMINATION)}.")
    return DISCRIMINATION[kind]


def measure_names(outcome: Outcome) -> dict[str, str]:
    """Each discrimination measure of ``outcome`` (its label, as in the frames' ``measure`` column) -> the name to
    show, e.g. ``{"C-index": "C-index", "AUC(t=12)": "AUC(t=12 months)"}``; ``{"AUC": "AUC"}`` for a binary one."""
    measures = measures_for(outcome)
    if measures.shown is not None:
        return dict(measures.shown(outcome))
    return {label: label for label in measures.labels(outcome)}


def measures_text(outcome: Outcome) -> str:
    """The outcome's discrimination measures in words for a title, e.g. ``"C-index and AUC(t=12 months), AUC(t=36
    months)"`` or ``"AUC"``."""
    names = list(measure_names(outcome).values())
    return names[0] if len(names) == 1 else f"{names[0]} and {', '.join(names[1:])}"
