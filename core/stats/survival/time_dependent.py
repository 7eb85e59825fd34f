"""Time-dependent discrimination and accuracy of survival predictions: IPCW AUC(t), Brier score and IBS.

The numbers are R's ``riskRegression::Score(..., formula = Hist(time, event) ~ 1, cens.model = "km",
se.fit = TRUE, conservative = FALSE)`` (riskRegression 2022.11.28): inverse probability of censoring
weights from the Kaplan-Meier estimate of the censoring distribution, and standard errors from the
influence function that includes the censoring model's own uncertainty (riskRegression's
``getIC0AUC`` + ``getInfluenceFunctionAUCKMCensoringTerm`` and ``getInfluenceFunctionBrierKMCensoringTerm``).
Written by hand because no Python library gives these standard errors (lifelines has no time-dependent
AUC; scikit-survival, which has the point estimates only, is not available).

Conventions at a horizon ``t`` (unit of ``time``):

* case: event at or before t (``time <= t`` and ``event == 1``), weight ``1 / G(time-)``;
* control: still followed after t (``time > t``, event or not), weight ``1 / G(t)``;
* censored at or before t: neither, weight 0 (its weight is carried by the others);
* AUC: weighted share of case-control pairs where the case has the higher risk, ties counting 1/2
  (cumulative cases / dynamic controls AUC, Uno et al. 2007; Blanche et al. 2013);
* ROC curve (:func:`td_roc_curve`): the weighted shares of cases and controls with ``risk >= c`` over the
  thresholds c; its trapezoid area is the AUC (riskRegression's ``Score(plots = "ROC")`` plotframe);
* Brier: weighted mean of ``(1 - risk)**2`` over cases and ``risk**2`` over controls, divided by n
  (risk = 1 - predicted survival at t).

``G`` is the reverse Kaplan-Meier (prodlim's ``reverse = TRUE``): censorings are the events; at a time
with both, the events leave the risk set first. The influence function of the censoring hazard keeps
riskRegression's own risk set there (everyone with ``time >= u``, its Nelson-Aalen influence function),
a small inconsistency of riskRegression's that is reproduced on purpose so that the standard errors agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from core.errors import RadNomoError

__all__ = ["td_auc", "td_roc_curve", "compare_td_auc", "brier", "BrierScore", "integrated_brier", "censoring_survival"]


def censoring_survival(time: np.ndarray, event: np.ndarray, at: np.ndarray, *, just_before: bool = False
                       ) -> np.ndarray:
    """The reverse Kaplan-Meier G: the probability of being still uncensored at each time in ``at``.

    Parameters
    ----------
    time, event : arrays
        Follow-up (> 0, any unit) and status (1 = event, 0 = censored).
    at : array of float
        Times to evaluate G at.
    just_before : bool
        G(at-) (censorings at exactly ``at`` not yet counted) instead of G(at).

    Returns
    -------
    ndarray
        G at each time in ``at`` (1 before the first censoring).
    """
    censor_times, censored = np.unique(time[event == 0], return_counts=True)
    # At risk of censoring at u: followed beyond u, or censored at u (events at u leave first).
    at_risk = time.size - np.searchsorted(np.sort(time), censor_times, side="right") + censored
    cumulative = np.concatenate([[1.0], np.cumprod(1.0 - censored / at_risk)])
    at = np.asarray(at, dtype=float)
    if just_before:
        return cumulative[np.searchsorted(censor_times, at, side="left")]
    return cumulative[np.searchsorted(censor_times, at, side="right")]


class _CensoringInfluence:
    """The influence function of the Nelson-Aalen censoring hazard, as riskRegression computes it.

    For patient k and a unique-time index e, ``f_k(e)`` is k's influence on the censoring cumulative
    hazard at ``utime[e]`` (riskRegression's ``IC_Nelson_Aalen_cens_time``); a weight ``1/G(s)`` moves by
    ``f_k(s) / G(s)`` per unit of influence. :meth:`apply` returns ``sum_j a_j f_k(e_j)`` for every k in
    O(n log n) with cumulative sums instead of the n x n matrix.
    """

    def __init__(self, time: np.ndarray, event: np.ndarray) -> None:
        n = time.size
        self.utime, self.index = np.unique(time, return_inverse=True)
        at_risk = n - np.searchsorted(np.sort(time), self.utime, side="left")
        censored = np.bincount(self.index, weights=(event == 0).astype(float), minlength=self.utime.size)
        self.cumulative = np.cumsum(censored * n / at_risk ** 2)  # riskRegression's MC_term2
        # f_k at and after its own time: its censoring jump (if censored) minus the compensator so far.
        self.own = (event == 0) * n / at_risk[self.index] - self.cumulative[self.index]

    def position_before(self, times: np.ndarray) -> np.ndarray:
        """Index of the last unique time strictly before each time (-1: none), for weights 1/G(T-)."""
        return np.searchsorted(self.utime, times, side="left") - 1

    def position_at(self, t: float) -> int:
        """Index of the last unique time at or before ``t`` (-1: none), for the weight 1/G(t)."""
        return int(np.searchsorted(self.utime, t, side="right") - 1)

    def apply(self, a: np.ndarray, position: np.ndarray) -> np.ndarray:
        """``sum_j a_j f_k(position_j)`` for every patient k (position -1 contributes nothing)."""
        m = self.utime.size
        shifted = position + 1  # 0 .. m
        compensator = np.concatenate([[0.0], self.cumulative])[shifted]
        by_a = np.cumsum(np.bincount(shifted, weights=a, minlength=m + 1))
        by_am = np.cumsum(np.bincount(shifted, weights=a * compensator, minlength=m + 1))
        # Patients j with position_j < own index of k, i.e. shifted_j <= index_k, see f_k = -compensator;
        # the others see k's own value.
        return -by_am[self.index] + self.own * (by_a[-1] - by_a[self.index])


def _weights(time: np.ndarray, event: np.ndarray, horizon: float, *, need_cases: bool
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cases, controls and their IPCW weights at one horizon (0 for the censored before it).

    Raises RadNomoError for a horizon not inside the follow-up: no patient followed beyond it, or (for
    the AUC, ``need_cases``) no event by then.
    """
    if not np.isfinite(horizon) or horizon <= 0:
        raise RadNomoError(f"a horizon must be a positive time in the unit of the follow-up, not {horizon}.")
    case = (time <= horizon) & (event == 1)
    control = time > horizon
    if need_cases and not case.any():
        first = f"the first event is at {time[event == 1].min():g}" if event.any() else "there is no event"
        raise RadNomoError(f"no event at or before the horizon {horizon:g} ({first}): choose a later horizon.")
    if not control.any():
        raise RadNomoError(f"no patient is followed beyond the horizon {horizon:g} (last follow-up "
                           f"{time.max():g}): choose an earlier horizon.")
    g_before = censoring_survival(time, event, time, just_before=True)
    g_at = float(censoring_survival(time, event, np.array([horizon]))[0])
    weight = np.zeros(time.size)
    weight[case] = 1.0 / g_before[case]  # > 0: a case was still uncensored just before its event
    weight[control] = 1.0 / g_at  # > 0: the controls are uncensored at the horizon
    return case, control, weight


def _z(level: float) -> float:
    """The normal quantile of a two-sided interval at ``level``."""
    if not 0 < level < 1:
        raise RadNomoError(f"the confidence level must be between 0 and 1 (e.g. 0.95), not {level}.")
    return float(stats.norm.ppf(0.5 + level / 2))


def _check(time, event, values, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=np.int64)
    values = np.asarray(values, dtype=float)
    if time.ndim != 1 or event.shape != time.shape or values.shape[:1] != time.shape:
        raise RadNomoError(f"time, event and the {what} must have one value per patient.")
    if not np.all(np.isfinite(values)):
        raise RadNomoError(f"the {what} has missing or infinite values; predict every patient first.")
    return time, event, values


def _auc_with_influence(time: np.ndarray, event: np.ndarray, risk: np.ndarray, horizon: float,
                        influence: _CensoringInfluence) -> tuple[float, np.ndarray]:
    """AUC at one horizon and each patient's influence on it (riskRegression's IF.AUC, KM censoring)."""
    n = time.size
    case, control, weight = _weights(time, event, horizon, need_cases=True)
    _, rank = np.unique(risk, return_inverse=True)
    m = rank.max() + 1
    case_w = np.bincount(rank, weights=np.where(case, weight, 0.0), minlength=m)
    control_w = np.bincount(rank, weights=np.where(control, weight, 0.0), minlength=m)
    control_below = np.concatenate([[0.0], np.cumsum(control_w)])[rank]
    case_above = case_w.sum() - np.cumsum(case_w)[rank]
    # Each case against the controls (ties 1/2), each control against the cases: riskRegression's
    # ic0Case / ic0Control.
    against = np.where(case, control_below + 0.5 * control_w[rank],
                       np.where(control, case_above + 0.5 * case_w[rank], 0.0))
    mu_case, mu_control = case_w.sum(), control_w.sum()
    auc = float(np.sum(np.where(case, weight * against, 0.0)) / (mu_case * mu_control))
    a_num = weight * against
    a_den = weight * np.where(case, mu_control, np.where(control, mu_case, 0.0))
    mu = mu_case * mu_control / n ** 2
    ic0 = (a_num - auc * a_den) / n / mu
    position = np.where(case, influence.position_before(time), influence.position_at(horizon))
    position = np.where(case | control, position, -1)
    ic_censoring = (influence.apply(a_num, position) - auc * influence.apply(a_den, position)) / n ** 2 / mu
    return auc, ic0 + ic_censoring


def td_auc(time: np.ndarray, event: np.ndarray, risk: np.ndarray, horizons: Sequence[float],
           level: float = 0.95) -> pd.DataFrame:
    """Cumulative/dynamic AUC at each horizon with IPCW (Kaplan-Meier censoring) and its standard error.

    Equal to ``riskRegression::Score(list(m = risk), Hist(time, event) ~ 1, times = horizons,
    metrics = "auc", cens.model = "km")`` (the AUC depends only on the order of ``risk``, so a linear
    predictor gives the same AUC as the predicted risk at the horizon).

    Parameters
    ----------
    time : array of float
        Follow-up (> 0, any unit).
    event : array of int
        1 = event, 0 = censored.
    risk : array of float
        Risk score (higher = higher risk).
    horizons : sequence of float
        Times (unit of ``time``) at which cases (event by then) are told from controls (alive after).
    level : float
        Confidence level of the Wald interval (clipped to [0, 1] as riskRegression does).

    Returns
    -------
    pandas.DataFrame
        ``horizon``, ``auc``, ``se``, ``auc_low``, ``auc_high``, ``cases`` (events by the horizon) and
        ``controls`` (followed beyond it).

    Raises
    ------
    RadNomoError
        A horizon with no event before it or no patient followed beyond it.
    """
    time, event, risk = _check(time, event, risk, "risk score")
    z = _z(level)
    influence = _CensoringInfluence(time, event)
    rows = []
    for horizon in horizons:
        auc, ic = _auc_with_influence(time, event, risk, float(horizon), influence)
        se = float(np.std(ic, ddof=1) / np.sqrt(time.size))
        rows.append({"horizon": float(horizon), "auc": auc, "se": se, "auc_low": max(0.0, auc - z * se),
                     "auc_high": min(1.0, auc + z * se),
                     "cases": int(np.sum((time <= horizon) & (event == 1))), "controls": int(np.sum(time > horizon))})
    return pd.DataFrame(rows)


def td_roc_curve(time: np.ndarray, event: np.ndarray, risk: np.ndarray, horizon: float) -> pd.DataFrame:
    """The cumulative/dynamic ROC curve at one horizon with IPCW (Kaplan-Meier censoring): the curve of td_auc.

    The curve timeROC and riskRegression's ``plotROC`` draw: at a threshold ``c`` a patient is called
    positive when ``risk >= c``; sensitivity is the weighted share of cases (event at or before the
    horizon, weight ``1 / G(time-)``) called positive, 1 - specificity the weighted share of controls
    (followed beyond the horizon, weight ``1 / G(horizon)``) called positive. Patients censored before the
    horizon carry no weight, as in :func:`td_auc`. Tied risks move the curve diagonally, so the
    trapezoid area under it is exactly :func:`td_auc`'s AUC (ties counting 1/2).

    Parameters
    ----------
    time : array of float
        Follow-up (> 0, any unit).
    event : array of int
        1 = event, 0 = censored.
    risk : array of float
        Risk score (higher = higher risk).
    horizon : float
        The time (unit of ``time``) at which cases are told from controls.

    Returns
    -------
    pandas.DataFrame
        ``threshold`` (decreasing: +inf first, where no one is positive, then every distinct risk of a
        case or control), ``fpr`` and ``tpr`` (both non-decreasing, from (0, 0) to (1, 1)).

    Raises
    ------
    RadNomoError
        No event before the horizon or no patient followed beyond it.
    """
    time, event, risk = _check(time, event, risk, "risk score")
    case, control, weight = _weights(time, event, float(horizon), need_cases=True)
    used = case | control
    # Only the distinct risks of weighted patients move the curve (the others would repeat a point).
    thresholds, rank = np.unique(risk[used], return_inverse=True)
    case_w = np.bincount(rank, weights=np.where(case[used], weight[used], 0.0), minlength=thresholds.size)
    control_w = np.bincount(rank, weights=np.where(control[used], weight[used], 0.0), minlength=thresholds.size)
    # From the highest threshold down: the positives are everyone with risk >= it.
    tpr = np.concatenate([[0.0], np.cumsum(case_w[::-1]) / case_w.sum()])
    fpr = np.concatenate([[0.0], np.cumsum(control_w[::-1]) / control_w.sum()])
    # The last point is (1, 1) exactly, and no rounded partial sum overshoots it (the curve stays monotone).
    tpr, fpr = np.minimum(tpr, 1.0), np.minimum(fpr, 1.0)
    tpr[-1] = fpr[-1] = 1.0
    return pd.DataFrame({"threshold": np.concatenate([[np.inf], thresholds[::-1]]), "fpr": fpr, "tpr": tpr})


def compare_td_auc(time: np.ndarray, event: np.ndarray, risk: np.ndarray, reference: np.ndarray,
                   horizons: Sequence[float], level: float = 0.95) -> pd.DataFrame:
    """Difference of two risk scores' AUC(t) on the same patients, as Score's contrasts.

    ``delta = AUC(risk) - AUC(reference)``; its standard error is the standard deviation of the
    difference of the two influence functions over sqrt(n), the test a two-sided Wald z (riskRegression's
    ``getComparisons``).

    Returns
    -------
    pandas.DataFrame
        ``horizon``, ``delta``, ``se``, ``low``, ``high``, ``p``.
    """
    time, event, risk = _check(time, event, risk, "risk score")
    _, _, reference = _check(time, event, reference, "reference risk score")
    z = _z(level)
    influence = _CensoringInfluence(time, event)
    rows = []
    for horizon in horizons:
        auc, ic = _auc_with_influence(time, event, risk, float(horizon), influence)
        auc_ref, ic_ref = _auc_with_influence(time, event, reference, float(horizon), influence)
        delta = auc - auc_ref
        se = float(np.std(ic_ref - ic, ddof=1) / np.sqrt(time.size))
        p = float(2 * stats.norm.sf(abs(delta) / se)) if se > 0 else np.nan
        rows.append({"horizon": float(horizon), "delta": delta, "se": se, "low": delta - z * se,
                     "high": delta + z * se, "p": p})
    return pd.DataFrame(rows)


@dataclass(frozen=True, kw_only=True)
class BrierScore:
    """The IPCW Brier score at one horizon, with the Kaplan-Meier null model's for reference.

    Attributes
    ----------
    horizon : float
        Time (unit of ``time``).
    brier, se, low, high : float
        The model's Brier score (mean squared error of the predicted risk, 0 = perfect), its standard
        error and Wald interval (clipped to [0, 1], as riskRegression's).
    null_brier, null_se : float
        The same for the null model that predicts the Kaplan-Meier risk to every patient.
    level : float
        Confidence level of the interval.
    """

    horizon: float
    brier: float
    se: float
    low: float
    high: float
    null_brier: float
    null_se: float
    level: float


def _brier_with_influence(time: np.ndarray, event: np.ndarray, risk: np.ndarray, horizon: float,
                          influence: _CensoringInfluence) -> tuple[float, np.ndarray]:
    """Brier score at one horizon and each patient's influence on it (riskRegression's IF.Brier, KM)."""
    case, control, weight = _weights(time, event, horizon, need_cases=False)
    residual = np.where(case, (1.0 - risk) ** 2, np.where(control, risk ** 2, 0.0)) * weight
    score = float(residual.mean())
    position = np.where(case, influence.position_before(time), influence.position_at(horizon))
    position = np.where(case | control, position, -1)
    return score, residual - score + influence.apply(residual, position) / time.size


def _kaplan_meier(time: np.ndarray, event: np.ndarray, horizon: float) -> float:
    """Kaplan-Meier survival at ``horizon`` (events before censorings at tied times)."""
    event_times, deaths = np.unique(time[event == 1], return_counts=True)
    at_risk = time.size - np.searchsorted(np.sort(time), event_times, side="left")
    keep = event_times <= horizon
    return float(np.prod(1.0 - deaths[keep] / at_risk[keep]))


def brier(time: np.ndarray, event: np.ndarray, survival_prob_at_t: np.ndarray, horizon: float,
          level: float = 0.95) -> BrierScore:
    """IPCW Brier score of predicted survival probabilities at one horizon, with its standard error.

    Equal to ``riskRegression::Score(list(m = 1 - survival_prob_at_t), Hist(time, event) ~ 1,
    times = horizon, metrics = "brier", cens.model = "km", null.model = TRUE)``.

    Parameters
    ----------
    time, event : arrays
        Follow-up (> 0, any unit) and status (1 = event, 0 = censored).
    survival_prob_at_t : array of float
        Each patient's predicted probability of being event-free at ``horizon`` (0..1).
    horizon : float
        The time (unit of ``time``).
    level : float
        Confidence level.

    Returns
    -------
    BrierScore
        The model's Brier score, se and interval, and the null (Kaplan-Meier) model's Brier and se.
    """
    time, event, survival = _check(time, event, survival_prob_at_t, "predicted survival")
    if np.any((survival < 0) | (survival > 1)):
        raise RadNomoError("predicted survival probabilities must lie between 0 and 1.")
    z = _z(level)
    influence = _CensoringInfluence(time, event)
    score, ic = _brier_with_influence(time, event, 1.0 - survival, float(horizon), influence)
    null_risk = np.full(time.size, 1.0 - _kaplan_meier(time, event, float(horizon)))
    null_score, null_ic = _brier_with_influence(time, event, null_risk, float(horizon), influence)
    root_n = np.sqrt(time.size)
    se = float(np.std(ic, ddof=1) / root_n)
    return BrierScore(horizon=float(horizon), brier=score, se=se, low=max(0.0, score - z * se),
                      high=min(1.0, score + z * se), null_brier=null_score,
                      null_se=float(np.std(null_ic, ddof=1) / root_n), level=level)


def integrated_brier(time: np.ndarray, event: np.ndarray, survival_matrix: np.ndarray,
                     times: Sequence[float]) -> pd.DataFrame:
    """Brier score at each time and the integrated Brier score up to it, as riskRegression's ``summary = "ibs"``.

    The integral is riskRegression's: the Brier curve as a step function that is 0 on [0, times[0]) and
    Brier(times[k]) on [times[k], times[k+1]), divided by the length of the range:
    ``IBS(times[k]) = sum_{l < k} Brier(times[l]) * (times[l+1] - times[l]) / times[k]``.
    So it depends on the grid: use a fine, regular grid of times (e.g. every month) up to the last
    horizon of interest; the Brier score at the last time itself does not enter its IBS.

    Parameters
    ----------
    time, event : arrays
        Follow-up (> 0, any unit) and status.
    survival_matrix : 2-D array (patients x times)
        Predicted survival of each patient at each of ``times``.
    times : sequence of float
        Increasing times (unit of ``time``).

    Returns
    -------
    pandas.DataFrame
        ``time``, ``brier``, ``se``, ``ibs`` (model) and ``null_brier``, ``null_ibs`` (Kaplan-Meier model).
    """
    grid = np.asarray(times, dtype=float)
    survival_matrix = np.asarray(survival_matrix, dtype=float)
    if survival_matrix.ndim != 2 or survival_matrix.shape[1] != grid.size:
        raise RadNomoError("the survival matrix must have one column per time.")
    if grid.size == 0 or np.any(np.diff(grid) <= 0) or grid[0] <= 0:
        raise RadNomoError("the times of the integrated Brier score must be positive and increasing.")
    scores = [brier(time, event, survival_matrix[:, k], t) for k, t in enumerate(grid)]
    curve = np.array([s.brier for s in scores])
    null_curve = np.array([s.null_brier for s in scores])

    def integrate(values: np.ndarray) -> np.ndarray:
        steps = np.concatenate([[0.0], np.cumsum(values[:-1] * np.diff(grid))])
        return steps / grid

    return pd.DataFrame({"time": grid, "brier": curve, "se": [s.se for s in scores], "ibs": integrate(curve),
                         "null_brier": null_curve, "null_ibs": integrate(null_curve)})
