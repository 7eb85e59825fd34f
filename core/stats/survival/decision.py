"""Decision curve of a survival model at a horizon, as R dcurves::dca(Surv(time, event) ~ risk, time = t).

A patient is "test positive" at threshold ``p`` when the predicted risk of an event by the horizon,
``1 - S_pred(t)``, is >= p. With ``n`` patients, ``P = #(risk >= p) / n`` and ``R`` the Kaplan-Meier
risk by the horizon among the test positives (``1 - KM(t)``)::

    true positives  tp = R * P          false positives  fp = (1 - R) * P
    net benefit     NB = tp - fp * p / (1 - p)

Treat all is the same with every patient positive (``R`` from the whole cohort's Kaplan-Meier), treat
none has net benefit 0. Edge cases as dcurves 0.4 (R/dca.r, ``.calculate_test_consequences`` and
``.surv_to_risk``): nobody at or above the threshold -> net benefit 0; the test positives' follow-up ends
before the horizon with their Kaplan-Meier survival still above 0 (the last of them censored) -> NaN
(dcurves: NA), reported in ``note``; the whole cohort's follow-up ending so is an error.

Two differences from dcurves, both where its answer is not the Kaplan-Meier estimate:

* the test positives' follow-up ends before the horizon with the event of the last of them (their
  Kaplan-Meier survival reaches 0 there and stays 0): dcurves gives NA (its check is only "no time beyond
  the horizon"), here the risk is 1, as ``summary(survfit(...), times = t, extend = TRUE)`` gives. On real
  data this is the common case at high thresholds (the few patients predicted at highest risk die early),
  where dcurves leaves the curve empty;
* every test positive is followed past the horizon with no time at or before it: dcurves fails, while the
  Kaplan-Meier risk is plainly 0 and is used here.

:func:`survival_decision_analysis` adds the uncertainty and the derived curves (issue 28): pointwise percentile
bootstrap bands (patients resampled with replacement from the whole cohort, predictions held fixed, as
:func:`core.stats.decision_analysis.decision_analysis` does for a binary outcome), net interventions avoided,
the standardized net benefit and the clinical impact curve; :func:`survival_net_benefit_difference` the
difference between two models on the same patients with a paired bootstrap band. A resample is a count of
draws per patient, so every threshold and the whole cohort of a resample come from one Kaplan-Meier pass
(:func:`_km_risks` with counts as weights).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.stats.decision_analysis import DECISION_ANALYSIS_COLUMNS, NET_BENEFIT_DIFFERENCE_COLUMNS, bootstrap_bands

__all__ = ["DEFAULT_THRESHOLDS", "UNKNOWN_RISK_NOTE", "survival_decision_curve", "survival_decision_analysis",
           "survival_net_benefit_difference"]

# dcurves' default thresholds: seq(0.01, 0.99, length.out = 99).
DEFAULT_THRESHOLDS: tuple[float, ...] = tuple(np.round(np.linspace(0.01, 0.99, 99), 10))

# The banded statistics of survival_decision_analysis, in the order its statistic vector stacks them (each also
# has _low and _high); the same names as the binary decision analysis' columns.
_BANDED = ("net_benefit", "treat_all", "interventions_avoided", "standardized_net_benefit", "high_risk_per_1000",
           "high_risk_events_per_1000")

# ``note`` of a threshold whose net benefit is NaN.
UNKNOWN_RISK_NOTE = ("the patients at or above this threshold are all followed less than the horizon and the last "
                     "of them was censored: their risk by the horizon is unknown, no net benefit")


def _km_risks(time: np.ndarray, event: np.ndarray, positive: np.ndarray, horizon: float) -> np.ndarray:
    """Kaplan-Meier risk by ``horizon`` (``1 - KM(horizon)``) of each of several groups of the same patients.

    ``positive`` is a boolean matrix (groups x patients): row ``k`` selects group ``k``; or a matrix of
    non-negative integer counts, patient i counted ``positive[k, i]`` times in group ``k`` (a bootstrap
    resample: the Kaplan-Meier of the drawn patients, repeats included). Per group: 0
    without patients; NaN when their follow-up ends before the horizon with a survival above 0 (no
    estimate there); else the Kaplan-Meier risk at the last time <= horizon (1 once every patient left at
    some time had the event there). All groups in one pass (one sort by time, cumulative counts) instead of
    a Kaplan-Meier fit per group: the decision curve asks for 99 groups per model and horizon.
    """
    order = np.argsort(time, kind="stable")
    time, event, positive = time[order], event[order], positive[:, order]
    # Cumulative counts along time with a leading 0: the patients (and the events) of a group before index i.
    before = np.zeros((positive.shape[0], len(time) + 1), dtype=np.int32)
    np.cumsum(positive, axis=1, out=before[:, 1:])
    events_before = np.zeros_like(before)
    np.cumsum(positive * (event == 1), axis=1, out=events_before[:, 1:])
    size = before[:, -1]
    # Event times up to the horizon (of anyone: a time without an event of the group has the factor 1).
    times = np.unique(time[(event == 1) & (time <= horizon)])
    first, after = np.searchsorted(time, times, side="left"), np.searchsorted(time, times, side="right")
    at_risk = size[:, None] - before[:, first]                    # group members with time >= u
    deaths = events_before[:, after] - events_before[:, first]    # group members with an event at u
    factor = 1 - np.divide(deaths, at_risk, out=np.zeros(deaths.shape), where=deaths > 0)
    survival = np.prod(factor, axis=1)
    last = np.where(positive > 0, time, -np.inf).max(axis=1)
    risk = 1 - survival
    # Follow-up ending before the horizon: unknown there unless the survival already reached 0 (all events).
    risk[(last < horizon) & (survival > 0)] = np.nan
    risk[size == 0] = 0.0
    return risk


def _checked(time, event, risks: Sequence, thresholds: Sequence[float] | None
             ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]:
    """The inputs as arrays (time float, event int, each predicted risk float, thresholds float), validated."""
    time, event = np.asarray(time, dtype=float), np.asarray(event, dtype=int)
    arrays = [np.asarray(r, dtype=float) for r in risks]
    if not all(len(time) == len(event) == len(r) for r in arrays) or len(time) == 0:
        raise RadNomoError("time, event and predicted risk must have one value per patient (at least one).")
    for r in arrays:
        if not np.all((r >= 0) & (r <= 1)):
            raise RadNomoError("predicted risks must lie between 0 and 1 (the probability of the event by the "
                               "horizon).")
    values = np.asarray(DEFAULT_THRESHOLDS if thresholds is None else thresholds, dtype=float)
    if values.ndim != 1 or len(values) == 0 or not np.all((values > 0) & (values < 1)):
        raise RadNomoError(f"decision thresholds must lie strictly between 0 and 1; got {list(np.ravel(values))[:5]}.")
    return time, event, arrays, values


def _cohort_risk(time: np.ndarray, event: np.ndarray, horizon: float) -> float:
    """Kaplan-Meier risk by ``horizon`` of the whole cohort; RadNomoError when nobody is followed that long."""
    everyone = float(_km_risks(time, event, np.ones((1, len(time)), dtype=bool), horizon)[0])
    if np.isnan(everyone):
        raise RadNomoError(f"no patient is followed up to the horizon {horizon:g} (last follow-up "
                           f"{time.max():g}): the observed risk there cannot be estimated; choose a shorter horizon.")
    return everyone


def survival_decision_curve(time: np.ndarray, event: np.ndarray, predicted_risk: np.ndarray, horizon: float,
                            thresholds: Sequence[float] | None = None) -> pd.DataFrame:
    """Net benefit of treating by predicted risk at ``horizon``, against treating all and none.

    Parameters
    ----------
    time : numpy.ndarray
        Follow-up time of each patient (> 0, study unit).
    event : numpy.ndarray
        1 = event, 0 = censored.
    predicted_risk : numpy.ndarray
        Each patient's predicted probability of the event by ``horizon`` (``1 - S_pred(horizon)``), in [0, 1].
    horizon : float
        The time (study unit), at most the last follow-up time.
    thresholds : sequence of float, optional
        Risk thresholds strictly between 0 and 1; default :data:`DEFAULT_THRESHOLDS` (dcurves').

    Returns
    -------
    pandas.DataFrame
        One row per threshold: ``threshold``, ``net_benefit``, ``treat_all``, ``treat_none`` (0),
        ``test_positive_rate`` (share with risk >= threshold), ``tp_rate``, ``fp_rate`` and ``note``
        (why a net benefit is NaN, else empty).
    """
    time, event, (risk,), values = _checked(time, event, (predicted_risk,), thresholds)
    everyone = _cohort_risk(time, event, horizon)
    odds = values / (1 - values)
    positive = risk[None, :] >= values[:, None]
    rate = positive.sum(axis=1) / len(time)
    risk_positive = _km_risks(time, event, positive, horizon)
    tp, fp = risk_positive * rate, (1 - risk_positive) * rate
    note = np.where(np.isnan(risk_positive), UNKNOWN_RISK_NOTE, "")
    return pd.DataFrame({"threshold": values, "net_benefit": tp - fp * odds,
                         "treat_all": everyone - (1 - everyone) * odds, "treat_none": 0.0,
                         "test_positive_rate": rate, "tp_rate": tp, "fp_rate": fp, "note": note})


def _sorted_by_time(time: np.ndarray, event: np.ndarray, risks: list[np.ndarray]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """The order that sorts the patients by time, and the data in that order.

    Sorted once, so that the Kaplan-Meier pass of every resample finds its data already in time order; the
    resamples still draw row numbers of the input order (see :func:`_resample_counts`), so a seed draws the
    same patients as the binary :func:`core.stats.decision_analysis.decision_analysis` on the same rows.
    """
    order = np.argsort(time, kind="stable")
    return order, time[order], event[order], [r[order] for r in risks]


def _resample_counts(rows: np.ndarray, order: np.ndarray) -> np.ndarray:
    """How often each patient (in time order) was drawn, from the row numbers (input order) of a resample."""
    return np.bincount(rows, minlength=len(order))[order]


def survival_decision_analysis(time: np.ndarray, event: np.ndarray, predicted_risk: np.ndarray, horizon: float,
                               thresholds: Sequence[float] | None = None, *, n_boot: int = 500, seed: int = 0,
                               level: float = 0.95, per: int = 100) -> pd.DataFrame:
    """Decision curve at ``horizon`` with pointwise bootstrap bands, interventions avoided, the standardized net
    benefit and the clinical impact curve.

    Parameters
    ----------
    time, event, predicted_risk, horizon, thresholds
        As :func:`survival_decision_curve` (risk = predicted probability of the event by ``horizon``).
    n_boot, seed, level
        Bootstrap resamples, the seed of their one generator and the two-sided level of the bands
        (:func:`core.stats.decision_analysis.bootstrap_bands`). The cohort's patients are resampled with
        replacement as a whole; the predictions are held fixed, so the bands show this cohort's sampling
        uncertainty, not that of fitting the model.
    per
        Net interventions avoided are given per ``per`` patients (100 by convention).

    Returns
    -------
    pandas.DataFrame
        One row per threshold ``pt``, the columns of
        :data:`core.stats.decision_analysis.DECISION_ANALYSIS_COLUMNS` then ``note``. With ``P`` the share of
        patients with risk >= pt, ``R`` the Kaplan-Meier risk by the horizon among them and ``K`` that of the
        whole cohort: ``net_benefit`` = R P - (1 - R) P pt/(1-pt) (true positives per patient, as
        :func:`survival_decision_curve`); ``treat_all`` = K - (1 - K) pt/(1-pt); ``interventions_avoided`` =
        (net_benefit - treat_all) / (pt/(1-pt)) * per (dcurves' net interventions avoided);
        ``standardized_net_benefit`` = net_benefit / K (Kerr et al. 2016; 1 is a perfect model; NaN when K is 0);
        ``high_risk_per_1000`` = 1000 P and ``high_risk_events_per_1000`` = 1000 R P (the clinical impact
        curve: of 1,000 patients, how many are called high risk and how many of them have the event by the
        horizon). Each has ``_low`` and ``_high``: the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles over
        the resamples (a resample where a value is undefined, e.g. its test positives all censored before the
        horizon, is left out of that value's band). ``note`` says why a point estimate is NaN (else "").

    Raises
    ------
    RadNomoError
        Mismatched lengths, risks outside [0, 1], thresholds outside (0, 1), nobody followed up to the horizon,
        fewer than 2 resamples, a level outside (0, 1).
    """
    time, event, (risk,), values = _checked(time, event, (predicted_risk,), thresholds)
    _cohort_risk(time, event, horizon)
    if not per > 0:
        raise RadNomoError(f"interventions avoided are given per a positive number of patients (e.g. 100); got "
                           f"{per!r}.")
    order, time, event, (risk,) = _sorted_by_time(time, event, [risk])
    odds = values / (1 - values)
    positive = risk[None, :] >= values[:, None]                     # (thresholds, patients)
    n_values = len(values)

    def statistics(counts: np.ndarray) -> np.ndarray:
        groups = np.vstack([positive * counts, counts[None, :]])    # every threshold's positives, then everyone
        km = _km_risks(time, event, groups, horizon)
        risk_positive, everyone = km[:n_values], km[-1]
        rate = groups[:n_values].sum(axis=1) / counts.sum()
        tp = risk_positive * rate
        net_benefit = tp - (1 - risk_positive) * rate * odds
        treat_all = everyone - (1 - everyone) * odds
        with np.errstate(divide="ignore", invalid="ignore"):
            standardized = net_benefit / everyone if everyone > 0 else np.full(n_values, np.nan)
        return np.concatenate([net_benefit, treat_all, (net_benefit - treat_all) / odds * per, standardized,
                               rate * 1000, tp * 1000])

    n = len(time)
    estimate = statistics(np.ones(n, dtype=np.int64))
    low, high = bootstrap_bands(lambda rows: statistics(_resample_counts(rows, order)), n, n_boot=n_boot, seed=seed,
                                level=level)
    table: dict[str, np.ndarray] = {"threshold": values}
    for i, name in enumerate(_BANDED):
        part = slice(i * n_values, (i + 1) * n_values)
        table[name], table[f"{name}_low"], table[f"{name}_high"] = estimate[part], low[part], high[part]
    frame = pd.DataFrame(table, columns=list(DECISION_ANALYSIS_COLUMNS))
    frame["note"] = np.where(np.isnan(table["net_benefit"]), UNKNOWN_RISK_NOTE, "")
    return frame


def survival_net_benefit_difference(time: np.ndarray, event: np.ndarray, risk_a: np.ndarray, risk_b: np.ndarray,
                                    horizon: float, thresholds: Sequence[float] | None = None, *, n_boot: int = 500,
                                    seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Net benefit of model a minus that of model b at ``horizon`` on the same patients, with a paired bootstrap
    band.

    Parameters
    ----------
    time, event, horizon, thresholds
        As :func:`survival_decision_curve`.
    risk_a, risk_b
        The two models' predicted risks by ``horizon`` (0..1) for the same patients.
    n_boot, seed, level
        As :func:`survival_decision_analysis`; each resample scores both models on the same drawn patients
        (paired), so the band carries the correlation between the models.

    Returns
    -------
    pandas.DataFrame
        :data:`core.stats.decision_analysis.NET_BENEFIT_DIFFERENCE_COLUMNS`: ``threshold``, ``difference`` (true
        positives per patient; NaN where either net benefit is unknown, see :data:`UNKNOWN_RISK_NOTE`), ``low``
        and ``high`` (pointwise percentile interval). An interval that excludes 0 favours one model at that
        threshold only; the curve as a whole is not one test.
    """
    time, event, (a, b), values = _checked(time, event, (risk_a, risk_b), thresholds)
    _cohort_risk(time, event, horizon)
    order, time, event, (a, b) = _sorted_by_time(time, event, [a, b])
    odds = values / (1 - values)
    positive = np.vstack([a[None, :] >= values[:, None], b[None, :] >= values[:, None]])
    n_values = len(values)

    def difference(counts: np.ndarray) -> np.ndarray:
        groups = positive * counts
        risk_positive = _km_risks(time, event, groups, horizon)
        rate = groups.sum(axis=1) / counts.sum()
        net_benefit = risk_positive * rate - (1 - risk_positive) * rate * np.tile(odds, 2)
        return net_benefit[:n_values] - net_benefit[n_values:]

    n = len(time)
    low, high = bootstrap_bands(lambda rows: difference(_resample_counts(rows, order)), n, n_boot=n_boot, seed=seed,
                                level=level)
    return pd.DataFrame({"threshold": values, "difference": difference(np.ones(n, dtype=np.int64)), "low": low,
                         "high": high}, columns=list(NET_BENEFIT_DIFFERENCE_COLUMNS))
