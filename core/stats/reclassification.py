"""Reclassification between a reference model and a new model on the same patients: the continuous NRI and the
IDI exactly as ``Hmisc::improveProb``, the categorical NRI of Pencina et al. (Stat Med 2008) with its
reclassification tables, and one tidy row of both for the study's tables.

Conventions: ``y`` holds 0/1 outcomes (1 = event); ``p_reference`` and ``p_new`` are the two models' predicted
probabilities (0..1) for the same patients, none missing (refused, not dropped as ``improveProb`` drops them).
All indices are differences "new minus reference": positive favours the new model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from core.errors import RadNomoError
from core.stats.decision_analysis import checked_cohort

__all__ = ["ReclassificationIndex", "Reclassification", "CategoricalNri", "improve_prob", "categorical_nri",
           "reclassification_row", "RECLASSIFICATION_NOTE", "RECLASSIFICATION_COLUMNS"]

RECLASSIFICATION_NOTE = (
    "The NRI and IDI are reported because reviewers ask for them, but they are weak evidence of added value: "
    "the NRI can favour a new model that is merely miscalibrated, and its p-value is not a valid test of whether "
    "the new predictor adds anything (Pepe et al. 2013; Kerr et al. 2014; Hilden & Gerds 2014). Judge the new "
    "model by its decision curve and net-benefit difference, and by the change in AUC and Brier score.")

# The row that reclassification_row gives (the categorical columns only when cut points are given).
RECLASSIFICATION_COLUMNS = ("n", "events", "nri", "nri_low", "nri_high", "nri_events", "nri_events_low",
                            "nri_events_high", "nri_nonevents", "nri_nonevents_low", "nri_nonevents_high", "idi",
                            "idi_low", "idi_high", "categorical_nri", "categorical_nri_low", "categorical_nri_high")


@dataclass(frozen=True)
class ReclassificationIndex:
    """One index (NRI, a part of it, or the IDI) with its standard error, Wald z, two-sided p and Wald CI
    (estimate -/+ z_(1+level)/2 * se, as ``print.improveProb``). NaN z and p where the SE is 0 (nobody moved)."""

    estimate: float
    se: float
    z: float
    p_value: float
    low: float
    high: float


def _index(estimate: float, variance: float, level: float) -> ReclassificationIndex:
    se = float(np.sqrt(variance))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = float(np.float64(estimate) / se) if se > 0 else float("nan")
    half = stats.norm.ppf((1 + level) / 2) * se
    return ReclassificationIndex(float(estimate), se, z, float(2 * stats.norm.sf(abs(z))), float(estimate - half),
                                 float(estimate + half))


@dataclass(frozen=True)
class Reclassification:
    """``Hmisc::improveProb(x1 = p_reference, x2 = p_new, y)``.

    ``pup_events`` etc. are the proportions of events (non-events) whose probability rose (fell) with the new
    model. ``nri`` = (pup_events - pdown_events) + (pdown_nonevents - pup_nonevents), the continuous
    ("category-free", NRI(>0)) NRI on the scale -2..2; ``nri_events`` and ``nri_nonevents`` its two parts;
    ``improve_sens`` = mean change in probability among events, ``improve_spec`` = minus that among non-events;
    ``idi`` = their sum = the change in the discrimination slope (mean probability of events minus that of
    non-events). SEs as improveProb: the multinomial variance of each NRI part and the sample variances of
    the changes (n - 1 denominator) for the IDI.
    """

    n: int
    events: int
    nonevents: int
    pup_events: float
    pup_nonevents: float
    pdown_events: float
    pdown_nonevents: float
    nri: ReclassificationIndex
    nri_events: ReclassificationIndex
    nri_nonevents: ReclassificationIndex
    improve_sens: float
    improve_spec: float
    idi: ReclassificationIndex
    level: float

    def table(self) -> pd.DataFrame:
        """The three NRIs and the IDI as rows (``index``, ``estimate``, ``se``, ``z``, ``p_value``, ``low``,
        ``high``), as ``print.improveProb`` lays them out."""
        rows = {"nri": self.nri, "nri_events": self.nri_events, "nri_nonevents": self.nri_nonevents,
                "idi": self.idi}
        return pd.DataFrame([{"index": name, **vars(value)} for name, value in rows.items()])


def _paired_cohort(y, p_reference, p_new, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    outcome_int, (reference, new) = checked_cohort(y, p_reference, p_new, what=what)
    counts = np.bincount(outcome_int, minlength=2)
    if counts.min() < 2:
        raise RadNomoError(f"{what} needs at least 2 events and 2 non-events for its standard errors; the cohort "
                           f"has {counts[1]} events and {counts[0]} non-events.")
    return outcome_int, reference, new


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise RadNomoError(f"the confidence level must lie strictly between 0 and 1 (e.g. 0.95); got {level!r}.")


def improve_prob(y, p_reference, p_new, level: float = 0.95) -> Reclassification:
    """Continuous NRI and IDI of a new model over a reference model, exactly as
    ``Hmisc::improveProb(x1 = p_reference, x2 = p_new, y)`` and its print method (Wald CIs at ``level``).

    Parameters
    ----------
    y
        0/1 outcomes, at least 2 of each class.
    p_reference, p_new
        The reference and the new model's predicted probabilities (0..1) for the same patients.
    level
        Two-sided level of the Wald intervals.

    Returns
    -------
    Reclassification
        See the class; indices are unitless (NRI: difference of proportions; IDI: difference of probabilities).
    """
    _check_level(level)
    outcome, reference, new = _paired_cohort(y, p_reference, p_new, "the NRI and IDI")
    events, nonevents = outcome == 1, outcome == 0
    na, nb = int(events.sum()), int(nonevents.sum())
    d = new - reference
    up_ev, down_ev = int((d[events] > 0).sum()), int((d[events] < 0).sum())
    up_ne, down_ne = int((d[nonevents] > 0).sum()), int((d[nonevents] < 0).sum())
    # Variance of a difference of two multinomial proportions: (up + down)/n^2 - (up - down)^2/n^3.
    var_ev = (up_ev + down_ev) / na**2 - (up_ev - down_ev) ** 2 / na**3
    var_ne = (down_ne + up_ne) / nb**2 - (down_ne - up_ne) ** 2 / nb**3
    nri_ev = up_ev / na - down_ev / na
    nri_ne = down_ne / nb - up_ne / nb
    idi = float(d[events].mean() - d[nonevents].mean())
    var_idi = float(d[events].var(ddof=1) / na + d[nonevents].var(ddof=1) / nb)
    return Reclassification(
        n=len(outcome), events=na, nonevents=nb, pup_events=up_ev / na, pup_nonevents=up_ne / nb,
        pdown_events=down_ev / na, pdown_nonevents=down_ne / nb,
        nri=_index(nri_ev + nri_ne, var_ev + var_ne, level), nri_events=_index(nri_ev, var_ev, level),
        nri_nonevents=_index(nri_ne, var_ne, level), improve_sens=float(d[events].sum() / na),
        improve_spec=float(-d[nonevents].sum() / nb), idi=_index(idi, var_idi, level), level=level)


@dataclass(frozen=True)
class CategoricalNri:
    """Categorical NRI between two models' risk categories (Pencina et al. 2008).

    ``categories`` are the labels of the risk categories ("[0, 0.1)", "[0.1, 0.3)", "[0.3, 1]" for cuts 0.1,
    0.3: a patient with probability exactly at a cut goes to the higher category, as ``prob >= threshold``
    elsewhere). ``events_table`` and ``nonevents_table`` count the patients by reference category (rows) and new
    category (columns). ``up_events`` etc. count events (non-events) moved to a higher (lower) category.
    """

    cuts: tuple[float, ...]
    categories: tuple[str, ...]
    n: int
    events: int
    nonevents: int
    up_events: int
    down_events: int
    up_nonevents: int
    down_nonevents: int
    nri: ReclassificationIndex
    nri_events: ReclassificationIndex
    nri_nonevents: ReclassificationIndex
    events_table: pd.DataFrame
    nonevents_table: pd.DataFrame
    level: float


def _check_cuts(cuts: Sequence[float]) -> tuple[float, ...]:
    values = np.asarray(cuts, dtype=float).ravel()
    if len(values) == 0 or not np.all(np.isfinite(values)) or np.any((values <= 0) | (values >= 1)) \
            or np.any(np.diff(values) <= 0):
        raise RadNomoError(f"risk-category cut points must be one or more increasing probabilities strictly between "
                           f"0 and 1 (e.g. 0.1, 0.3); got {list(np.atleast_1d(cuts))}.")
    return tuple(float(v) for v in values)


def _category_labels(cuts: tuple[float, ...]) -> tuple[str, ...]:
    edges = (0.0, *cuts, 1.0)
    return tuple(f"[{edges[k]:g}, {edges[k + 1]:g}{']' if k == len(cuts) else ')'}" for k in range(len(cuts) + 1))


def categorical_nri(y, p_reference, p_new, cuts: Sequence[float], level: float = 0.95) -> CategoricalNri:
    """Categorical NRI of a new model over a reference model for risk categories cut at ``cuts``.

    NRI = (up_events - down_events) / events + (down_nonevents - up_nonevents) / nonevents, with Pencina et al.
    (Stat Med 2008)'s standard errors: var(events part) = (up_events + down_events) / events^2, var(non-events
    part) = (up_nonevents + down_nonevents) / nonevents^2, var(NRI) = their sum (the McNemar-type variance
    their z-test uses; ``improve_prob`` further subtracts (up - down)^2 / n^3, as Hmisc does). Wald CIs at
    ``level``.

    Parameters
    ----------
    y, p_reference, p_new
        As :func:`improve_prob`.
    cuts
        Increasing cut points strictly in (0, 1), e.g. (0.1, 0.3) for low / intermediate / high risk; a
        probability equal to a cut belongs to the higher category.

    Returns
    -------
    CategoricalNri
    """
    _check_level(level)
    cut_points = _check_cuts(cuts)
    outcome, reference, new = _paired_cohort(y, p_reference, p_new, "the categorical NRI")
    edges = np.asarray(cut_points)
    ref_cat = np.searchsorted(edges, reference, side="right")
    new_cat = np.searchsorted(edges, new, side="right")
    labels = _category_labels(cut_points)
    k = len(labels)

    def table(mask: np.ndarray) -> pd.DataFrame:
        counts = np.bincount(ref_cat[mask] * k + new_cat[mask], minlength=k * k).reshape(k, k)
        return pd.DataFrame(counts, index=pd.Index(labels, name="reference"),
                            columns=pd.Index(labels, name="new"))

    events, nonevents = outcome == 1, outcome == 0
    na, nb = int(events.sum()), int(nonevents.sum())
    up_ev = int((new_cat[events] > ref_cat[events]).sum())
    down_ev = int((new_cat[events] < ref_cat[events]).sum())
    up_ne = int((new_cat[nonevents] > ref_cat[nonevents]).sum())
    down_ne = int((new_cat[nonevents] < ref_cat[nonevents]).sum())
    nri_ev, nri_ne = (up_ev - down_ev) / na, (down_ne - up_ne) / nb
    var_ev, var_ne = (up_ev + down_ev) / na**2, (up_ne + down_ne) / nb**2
    return CategoricalNri(
        cuts=cut_points, categories=labels, n=len(outcome), events=na, nonevents=nb, up_events=up_ev,
        down_events=down_ev, up_nonevents=up_ne, down_nonevents=down_ne,
        nri=_index(nri_ev + nri_ne, var_ev + var_ne, level), nri_events=_index(nri_ev, var_ev, level),
        nri_nonevents=_index(nri_ne, var_ne, level), events_table=table(events), nonevents_table=table(nonevents),
        level=level)


def reclassification_row(y, p_reference, p_new, *, cuts: Sequence[float] | None = None,
                         level: float = 0.95) -> dict[str, float | int]:
    """One row for the study's reclassification table (new vs reference model on one cohort).

    Returns
    -------
    dict
        ``n``, ``events``; the continuous NRI ``nri`` and its parts ``nri_events``, ``nri_nonevents``, and the
        ``idi``, each with ``_low``/``_high`` (Wald CI at ``level``, as :func:`improve_prob`); with ``cuts``, also
        ``categorical_nri`` with ``_low``/``_high`` (:func:`categorical_nri`). Keys in the order of
        :data:`RECLASSIFICATION_COLUMNS`.
    """
    result = improve_prob(y, p_reference, p_new, level=level)
    row: dict[str, float | int] = {"n": result.n, "events": result.events}
    for name in ("nri", "nri_events", "nri_nonevents", "idi"):
        index: ReclassificationIndex = getattr(result, name)
        row.update({name: index.estimate, f"{name}_low": index.low, f"{name}_high": index.high})
    if cuts is not None:
        categorical = categorical_nri(y, p_reference, p_new, cuts, level=level).nri
        row.update({"categorical_nri": categorical.estimate, "categorical_nri_low": categorical.low,
                    "categorical_nri_high": categorical.high})
    return row
