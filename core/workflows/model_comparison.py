"""Two models compared beyond their AUCs, in every cohort: reclassification (NRI, IDI) and the difference in net
benefit across thresholds, each with its uncertainty.

A binary outcome's predictions (one probability column per model, index patient ID) and 0/1 outcomes; each
cohort's comparison is on the patients both models score (the others are counted and said). The new model is
judged against the reference (the clinical model by default: does the radiomics score add to it?).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from core.errors import RadNomoError
from core.stats.decision_analysis import NET_BENEFIT_DIFFERENCE_COLUMNS, net_benefit_difference
from core.stats.reclassification import RECLASSIFICATION_NOTE, reclassification_row

__all__ = ["ModelComparison", "compare_two_models", "default_pair", "reclassification_pairs", "reclassification_table",
           "parse_cuts", "RECLASSIFICATION_COLUMNS", "RECLASSIFICATION_NOTE"]

#: reclassification.csv's columns (one row per cohort and pair of models). The categorical NRI's columns are NaN
#: where no risk categories were given.
RECLASSIFICATION_COLUMNS = ("cohort", "model", "reference", "n", "events", "nri", "nri_low", "nri_high",
                            "nri_events", "nri_events_low", "nri_events_high", "nri_nonevents", "nri_nonevents_low",
                            "nri_nonevents_high", "idi", "idi_low", "idi_high", "categorical_nri",
                            "categorical_nri_low", "categorical_nri_high", "left_out")


@dataclass(frozen=True)
class ModelComparison:
    """A new model against a reference model in each cohort.

    Attributes
    ----------
    model, reference : str
        The new model and the one it is judged against.
    cuts : tuple of float
        The risk categories' cut points of the categorical NRI (probabilities, 0-1; empty: none computed).
    reclassification : pandas.DataFrame
        :data:`RECLASSIFICATION_COLUMNS`: continuous NRI (and its events' and non-events' parts), IDI and the
        categorical NRI, each with its 95 % CI (:func:`core.stats.reclassification.reclassification_row`).
    net_benefit_difference : pandas.DataFrame
        ``cohort`` then ``threshold``, ``difference`` (net benefit of ``model`` - ``reference``), ``low``, ``high``
        (paired bootstrap 95 % band).
    notes : tuple of str
        Patients left out (no prediction of one of the models) and cohorts with one outcome only.
    """

    model: str
    reference: str
    cuts: tuple[float, ...]
    reclassification: pd.DataFrame
    net_benefit_difference: pd.DataFrame
    notes: tuple[str, ...] = field(default=())


def default_pair(models: Sequence[str], main: str | None = None) -> tuple[str, str] | None:
    """The pair a study compares by default: its main model (the last one, else) against the clinical model, or
    against the first model when there is no clinical model; None with fewer than two models."""
    if len(models) < 2:
        return None
    new = main if main is not None and main in models else models[-1]
    reference = "clinical" if "clinical" in models and new != "clinical" else next(m for m in models if m != new)
    return new, reference


def _compared(predictions: pd.DataFrame, outcome: pd.Series, cohorts: Mapping[str, Sequence], model: str,
              reference: str, notes: list[str]):
    """Per cohort with both outcomes among the patients both models score: (cohort, their outcomes, the new
    model's and the reference's probabilities, patients left out); what is left out goes to ``notes``."""
    absent = [m for m in (model, reference) if m not in predictions.columns]
    if absent:
        raise RadNomoError(f"no predictions of model(s) {absent}; the predictions hold {list(predictions.columns)}.")
    if model == reference:
        raise RadNomoError("choose two different models to compare.")
    for cohort, ids in cohorts.items():
        ids = list(ids)
        both = predictions.loc[ids, [model, reference]].notna().all(axis=1)
        left_out = int((~both).sum())
        kept = both.index[both]
        y = outcome.loc[kept]
        if left_out:
            notes.append(f"{cohort}: {left_out} of {len(ids)} patient(s) without a prediction of both models are left "
                         f"out of the comparison ({len(kept)} compared).")
        if y.nunique() < 2:
            notes.append(f"{cohort}: the patients both models score hold one outcome only; no reclassification or "
                         "net-benefit difference there.")
            continue
        yield cohort, y, predictions.loc[kept, model], predictions.loc[kept, reference], left_out


def parse_cuts(text: str) -> tuple[float, ...]:
    """Risk categories' cut points typed by a user ("0.1, 0.3"; blank: none) as sorted probabilities.

    Raises
    ------
    RadNomoError
        For a part that is not a number, a number outside (0, 1), or the same cut point twice.
    """
    parts = [part.strip() for part in str(text).replace(";", ",").split(",") if part.strip()]
    values = []
    for part in parts:
        try:
            values.append(float(part.rstrip("%")) / (100 if part.endswith("%") else 1))
        except ValueError:
            raise RadNomoError(f"'{part[:40]}' is not a probability: give cut points such as 0.1, 0.3.") from None
    if len(set(values)) != len(values):
        raise RadNomoError(f"a cut point is given twice ({text[:60]}): give each once, e.g. 0.1, 0.3.")
    return _checked_cuts(values)


def _checked_cuts(cuts: Sequence[float]) -> tuple[float, ...]:
    checked = tuple(sorted(float(c) for c in cuts))
    if any(not 0 < c < 1 for c in checked):
        raise RadNomoError(f"risk category cut points must lie strictly between 0 and 1; got {list(checked)}.")
    return checked


def reclassification_table(predictions: pd.DataFrame, outcome: pd.Series, cohorts: Mapping[str, Sequence],
                           model: str, reference: str, *, cuts: Sequence[float] = ()) -> tuple[pd.DataFrame,
                                                                                             list[str]]:
    """Continuous and categorical NRI and IDI of ``model`` against ``reference`` in each cohort: rows as
    :data:`RECLASSIFICATION_COLUMNS`, and the notes on what was left out."""
    notes: list[str] = []
    cuts = _checked_cuts(cuts)
    rows = [{"cohort": cohort, "model": model, "reference": reference,
             **reclassification_row(y, old, new, cuts=cuts or None), "left_out": left_out}
            for cohort, y, new, old, left_out in _compared(predictions, outcome, cohorts, model, reference, notes)]
    return pd.DataFrame(rows).reindex(columns=list(RECLASSIFICATION_COLUMNS)), notes


def compare_two_models(predictions: pd.DataFrame, outcome: pd.Series, cohorts: Mapping[str, Sequence],
                       model: str, reference: str, *, cuts: Sequence[float] = (), n_boot: int = 500,
                       seed: int = 0) -> ModelComparison:
    """Reclassification and the net-benefit difference of ``model`` against ``reference`` in each cohort.

    Parameters
    ----------
    predictions : pandas.DataFrame
        Predicted probabilities (0-1), one column per model, index patient ID.
    outcome : pandas.Series
        0/1 per patient (same IDs).
    cohorts : mapping
        Cohort name -> its patient IDs.
    model, reference : str
        Columns of ``predictions``.
    cuts : sequence of float
        Risk categories' cut points for the categorical NRI (e.g. (0.1, 0.3)); empty: continuous NRI only.
    n_boot, seed : int
        The paired bootstrap of the net-benefit difference (the same seed, the same band).

    Raises
    ------
    RadNomoError
        For a model without predictions, the same model twice, or cut points outside (0, 1).
    """
    table, notes = reclassification_table(predictions, outcome, cohorts, model, reference, cuts=cuts)
    curves = [net_benefit_difference(y, new, old, n_boot=n_boot, seed=seed).assign(cohort=cohort)
              for cohort, y, new, old, _ in _compared(predictions, outcome, cohorts, model, reference, [])]
    columns = ["cohort", *NET_BENEFIT_DIFFERENCE_COLUMNS]
    differences = pd.concat(curves, ignore_index=True)[columns] if curves else pd.DataFrame(columns=columns)
    return ModelComparison(model=model, reference=reference, cuts=_checked_cuts(cuts), reclassification=table,
                           net_benefit_difference=differences, notes=tuple(notes))


def reclassification_pairs(predictions: pd.DataFrame, outcome: pd.Series, cohorts: Mapping[str, Sequence],
                           models: Sequence[str], reference: str, *, cuts: Sequence[float] = ()) -> pd.DataFrame:
    """reclassification.csv: every other model against ``reference`` in each cohort (rows as
    :data:`RECLASSIFICATION_COLUMNS`); empty with those columns when there is no other model."""
    frames = [reclassification_table(predictions, outcome, cohorts, m, reference, cuts=cuts)[0]
              for m in models if m != reference]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(RECLASSIFICATION_COLUMNS))
