"""Concordance of a risk score with a time-to-event outcome: Harrell's and Uno's C, and their comparison.

The numbers are R's ``survival::concordance(Surv(time, event) ~ risk, reverse = TRUE)`` (survival >= 3.0):
the same counting of pairs, the same time weights (``timewt = "n"`` for Harrell's C, ``"n/G2"`` for Uno's),
and the same infinitesimal-jackknife variance (``var``), which is also what ``concordance(fit1, fit2)``
uses for the covariance of several C's. Written by hand (numba) because lifelines' ``concordance_index``
gives neither the variance nor Uno's weights, and scikit-survival is not available.

Conventions (survival's):

* ``risk``: higher = higher risk (e.g. a Cox linear predictor); a pair is concordant when the patient with
  the event first has the higher risk.
* A pair (i, j) is comparable when i has an event at ``time[i]`` and j is still followed after it:
  ``time[j] > time[i]``, or ``time[j] == time[i]`` and j is censored (censored at the time of an event
  counts as having lived longer). Two events at the same time are "tied on time" and not comparable.
* Pairs tied on risk count 1/2 (``C = (concordant + tied_x / 2) / (concordant + discordant + tied_x)``).
* Uno's weight of a pair whose first time is t is ``1 / G(t-)**2``, ``G`` the Kaplan-Meier estimate of
  the censoring distribution (censorings tied with events happen just after them); ``tau`` (R's ``ymax``)
  leaves out pairs whose first event is after ``tau``.
* R's ``timefix`` (``aeqSurv``) merges times that differ by ~1e-8 relative rounding error; here times are
  compared exactly, so round such times before calling.

Everything runs in O(n log n) (a Fenwick tree over the ranks of the risk, as survival's balanced tree).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numba import njit
from scipy import stats

from core.errors import RadNomoError
from core.vocabulary import CONCORDANCE_WEIGHTINGS, check_option
from core.stats.survival.time_dependent import censoring_survival

__all__ = ["Concordance", "harrell_c", "uno_c", "compare_concordance", "concordance_influence"]

#: survival's names of the time weights (keys of CONCORDANCE_WEIGHTINGS): Harrell's (every comparable
#: pair weighs 1) and Uno's.
HARRELL, UNO = CONCORDANCE_WEIGHTINGS


@dataclass(frozen=True, kw_only=True)
class Concordance:
    """A concordance index with its standard error and the pair counts behind it.

    Attributes
    ----------
    c : float
        The concordance (0.5 = no discrimination, 1 = perfect): R's ``concordance``.
    se : float
        Its standard error, ``sqrt(var)`` with R's infinitesimal-jackknife ``var``.
    low, high : float
        The Wald interval ``c -/+ z * se`` at ``level`` (R prints only ``c`` and ``se``; this is the
        interval survival's vignette builds from them). Not clipped to [0, 1].
    level : float
        Confidence level of the interval (e.g. 0.95).
    concordant, discordant, tied_risk, tied_time, tied_both : float
        Weighted counts of comparable pairs (R's ``count``: concordant, discordant, tied.x, tied.y,
        tied.xy); whole numbers for Harrell's C, weighted by ``1/G**2`` for Uno's.
    weighting : str
        ``"n"`` (Harrell) or ``"n/G2"`` (Uno), survival's ``timewt``.
    tau : float or None
        The truncation time (R's ``ymax``), in the unit of ``time``; None when not truncated.
    n : int
        Patients.
    """

    c: float
    se: float
    low: float
    high: float
    level: float
    concordant: float
    discordant: float
    tied_risk: float
    tied_time: float
    tied_both: float
    weighting: str
    tau: float | None
    n: int


@njit(cache=True, nogil=True)
def _fenwick_add(tree: np.ndarray, index: int, value: float) -> None:
    i = index + 1
    while i < tree.shape[0]:
        tree[i] += value
        i += i & -i


@njit(cache=True, nogil=True)
def _fenwick_below(tree: np.ndarray, index: int) -> float:
    """Sum of the weights at ranks strictly below ``index``."""
    total = 0.0
    i = index
    while i > 0:
        total += tree[i]
        i -= i & -i
    return total


@njit(cache=True, nogil=True)
def _survivor_enters(q: int, rank_q: int, death_tree: np.ndarray, death_node: np.ndarray, death_total: float,
                     all_tree: np.ndarray, all_node: np.ndarray, imat: np.ndarray) -> None:
    """Patient ``q`` (rank ``rank_q``) joins those followed longer than every later event: the events already
    passed are taken off its influence row (they were not comparable with it: survival's concordance3), and it is
    added to the tree of patients passed. The caller adds 1 to its running total of them."""
    below = _fenwick_below(death_tree, rank_q)
    imat[q, 0] -= below
    imat[q, 1] -= death_total - below - death_node[rank_q]
    imat[q, 2] -= death_node[rank_q]
    _fenwick_add(all_tree, rank_q, 1.0)
    all_node[rank_q] += 1.0


@njit(cache=True, nogil=True)
def _counts(time: np.ndarray, event: np.ndarray, rank: np.ndarray, order: np.ndarray, n_ranks: int,
            pair_weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """survival's concordance3 (C code) with a Fenwick tree instead of its balanced binary tree.

    ``order`` sorts by decreasing time, censored before events at a tied time, then by rank.
    ``pair_weight[k]`` is the time weight of the k-th distinct event time counted from the LAST one.
    Returns the counts (concordant, discordant, tied.x, tied.y, tied.xy in survival's un-reversed
    orientation: "concordant" = the longer-lived patient has the larger x) and the n x 3 influence
    matrix (weighted number of pairs of each kind a patient belongs to).
    """
    n = time.shape[0]
    all_tree = np.zeros(n_ranks + 1)     # every patient already passed (followed longer)
    all_node = np.zeros(n_ranks)
    death_tree = np.zeros(n_ranks + 1)   # events already passed, weighted by their time weight
    death_node = np.zeros(n_ranks)
    all_total = 0.0
    death_total = 0.0
    count = np.zeros(5)
    imat = np.zeros((n, 3))
    utime = 0
    i = 0
    while i < n:
        p = order[i]
        r = rank[p]
        if event[p] == 0:
            _survivor_enters(p, r, death_tree, death_node, death_total, all_tree, all_node, imat)
            all_total += 1.0
            i += 1
            continue
        w = pair_weight[utime]
        utime += 1
        j = i
        while j < n and time[order[j]] == time[p] and event[order[j]] == 1:
            j += 1
        # Pass 1: each event against everyone followed longer (the tree does not hold the tied events yet).
        for k in range(i, j):
            q = order[k]
            rq = rank[q]
            below = _fenwick_below(all_tree, rq)
            above = all_total - below - all_node[rq]
            count[0] += w * above
            count[1] += w * below
            count[2] += w * all_node[rq]
            imat[q, 0] += w * above
            imat[q, 1] += w * below
            imat[q, 2] += w * all_node[rq]
        # Pairs tied on time (and on both), not comparable, counted as R counts them.
        d = j - i
        count[3] += w * d * (d - 1) / 2.0
        k = i
        while k < j:
            m = k
            while m < j and rank[order[m]] == rank[order[k]]:
                m += 1
            count[4] += w * (m - k) * (m - k - 1) / 2.0
            k = m
        for k in range(i, j):
            q = order[k]
            _fenwick_add(death_tree, rank[q], w)
            death_node[rank[q]] += w
            death_total += w
        # Pass 2: as survivors of the earlier events, these count from now on (tied events excluded).
        for k in range(i, j):
            q = order[k]
            _survivor_enters(q, rank[q], death_tree, death_node, death_total, all_tree, all_node, imat)
            all_total += 1.0
        i = j
    for p in range(n):
        r = rank[p]
        below = _fenwick_below(death_tree, r)
        imat[p, 0] += below
        imat[p, 1] += death_total - below - death_node[r]
        imat[p, 2] += death_node[r]
    count[3] -= count[4]
    return count, imat


def concordance_influence(time: np.ndarray, event: np.ndarray, risk: np.ndarray, *,
                          weighting: str = HARRELL, tau: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pair counts and each patient's influence on the concordance (R's ``dfbeta`` with reverse = TRUE).

    Parameters
    ----------
    time : array of float
        Follow-up time (> 0, any unit).
    event : array of int
        1 = event, 0 = censored.
    risk : array of float
        Risk score, higher = higher risk.
    weighting : {"n", "n/G2"}
        Harrell's (``"n"``) or Uno's (``"n/G2"``) time weights.
    tau : float, optional
        Leave out pairs whose event is after ``tau`` (R's ``ymax``), in the unit of ``time``.

    Returns
    -------
    counts : ndarray of 5 floats
        concordant, discordant, tied on risk, tied on time, tied on both (higher risk first = concordant).
    dfbeta : ndarray (n,)
        ``c_hat - c`` is approximately ``dfbeta.sum()`` to first order; ``var = sum(dfbeta**2)``
        (survival's infinitesimal jackknife).

    Raises
    ------
    RadNomoError
        When there is no comparable pair (no event followed by a longer follow-up before ``tau``).
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=np.int64)
    risk = np.asarray(risk, dtype=float)
    check_option("concordance weighting", weighting, CONCORDANCE_WEIGHTINGS)
    if not (time.shape == event.shape == risk.shape) or time.ndim != 1:
        raise RadNomoError("time, event and risk must be 1-D arrays of the same length.")
    if not np.all(np.isfinite(risk)):
        raise RadNomoError("the risk score has missing or infinite values; score every patient first.")
    event_times = np.unique(time[event == 1])
    if weighting == UNO and event.sum() >= 2:  # survival falls back to "n" with fewer than 2 events
        # G(t-) as survival's fastkm1: censorings tied with an event happen just after it.
        pair_weight = 1.0 / censoring_survival(time, event, event_times, just_before=True) ** 2
    else:
        pair_weight = np.ones(event_times.size)
    if tau is not None:
        pair_weight = np.where(event_times > tau, 0.0, pair_weight)
    unique_risk, rank = np.unique(risk, return_inverse=True)
    order = np.lexsort((rank, event, -time))
    count, imat = _counts(time, event, rank.astype(np.int64), order.astype(np.int64), unique_risk.size,
                          np.ascontiguousarray(pair_weight[::-1]))
    pairs = count[:3].sum()
    if pairs <= 0:
        where = f" before {tau:g}" if tau is not None else ""
        raise RadNomoError(f"no comparable pair of patients{where}: the concordance needs at least one event "
                           "followed by a patient with a longer follow-up; use more patients or a later tau.")
    somers = (count[0] - count[1]) / pairs
    dfbeta = (imat[:, 0] - imat[:, 1]) / pairs - somers / pairs * imat.sum(axis=1)
    # reverse = TRUE: concordant and discordant swap and the influence changes sign.
    counts = np.array([count[1], count[0], count[2], count[3], count[4]])
    return counts, -dfbeta / 2.0


def _concordance(time, event, risk, weighting: str, tau: float | None, level: float) -> Concordance:
    if not 0 < level < 1:
        raise RadNomoError(f"the confidence level must be between 0 and 1 (e.g. 0.95), not {level}.")
    counts, dfbeta = concordance_influence(time, event, risk, weighting=weighting, tau=tau)
    c = (counts[0] + counts[2] / 2.0) / counts[:3].sum()
    se = float(np.sqrt(np.sum(dfbeta ** 2)))
    half = stats.norm.ppf(0.5 + level / 2) * se
    return Concordance(c=float(c), se=se, low=float(c - half), high=float(c + half), level=level,
                       concordant=float(counts[0]), discordant=float(counts[1]), tied_risk=float(counts[2]),
                       tied_time=float(counts[3]), tied_both=float(counts[4]), weighting=weighting, tau=tau,
                       n=int(np.asarray(time).size))


def harrell_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray, level: float = 0.95) -> Concordance:
    """Harrell's C with survival's standard error: ``concordance(Surv(time, event) ~ risk, reverse = TRUE)``.

    Parameters
    ----------
    time : array of float
        Follow-up time (> 0, any unit).
    event : array of int
        1 = event, 0 = censored.
    risk : array of float
        Risk score, higher = higher risk (a Cox linear predictor, a score, a predicted risk).
    level : float
        Confidence level of the Wald interval ``c -/+ z * se``.

    Returns
    -------
    Concordance
        ``c``, ``se`` (R's ``sqrt(var)``), the interval and the pair counts.
    """
    return _concordance(time, event, risk, HARRELL, None, level)


def uno_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray, tau: float | None = None,
          level: float = 0.95) -> Concordance:
    """Uno's C: ``concordance(Surv(time, event) ~ risk, reverse = TRUE, timewt = "n/G2", ymax = tau)``.

    Pairs are weighted by ``1 / G(t-)**2`` (``G``: Kaplan-Meier of the censoring), which makes the
    estimate independent of the censoring distribution up to ``tau``. Inputs as :func:`harrell_c`;
    ``tau`` (unit of ``time``) leaves out pairs whose event is after it (choose it where enough patients
    are still followed: weights ``1/G**2`` grow large in the tail).
    """
    return _concordance(time, event, risk, UNO, tau, level)


def compare_concordance(time: np.ndarray, event: np.ndarray, risks: Mapping[str, np.ndarray], *,
                        weighting: str = HARRELL, tau: float | None = None, level: float = 0.95) -> pd.DataFrame:
    """Every pair of risk scores compared on the same patients, with the covariance survival uses.

    The covariance of the C's is ``crossprod(dfbeta)`` as in ``survival::concordance(fit1, fit2, ...)``;
    the difference's variance is ``v11 + v22 - 2 v12``, its test a Wald z (two-sided p), as in
    survival's vignette ("contrast" of the concordances).

    Parameters
    ----------
    time, event : arrays
        As :func:`harrell_c`.
    risks : mapping name -> array of float
        At least two risk scores (higher = higher risk) on the same patients.
    weighting : {"n", "n/G2"}
        Harrell's or Uno's C.
    tau : float, optional
        Truncation time (R's ``ymax``).
    level : float
        Confidence level of the difference's interval.

    Returns
    -------
    pandas.DataFrame
        One row per pair (in the mapping's order): ``first``, ``second``, ``c_first``, ``c_second``,
        ``difference`` (first - second), ``se``, ``low``, ``high``, ``z``, ``p``, ``covariance``.
    """
    if len(risks) < 2:
        raise RadNomoError("comparing concordances needs at least two risk scores.")
    results = {}
    for name, risk in risks.items():
        counts, dfbeta = concordance_influence(time, event, risk, weighting=weighting, tau=tau)
        results[name] = ((counts[0] + counts[2] / 2.0) / counts[:3].sum(), dfbeta)
    z_level = stats.norm.ppf(0.5 + level / 2)
    rows = []
    for a, b in itertools.combinations(results, 2):
        (ca, da), (cb, db) = results[a], results[b]
        covariance = float(da @ db)
        variance = float(da @ da + db @ db - 2 * covariance)
        se = float(np.sqrt(max(variance, 0.0)))
        difference = float(ca - cb)
        z = difference / se if se > 0 else np.nan
        rows.append({"first": a, "second": b, "c_first": float(ca), "c_second": float(cb),
                     "difference": difference, "se": se, "low": difference - z_level * se,
                     "high": difference + z_level * se, "z": z,
                     "p": float(2 * stats.norm.sf(abs(z))) if se > 0 else np.nan, "covariance": covariance})
    return pd.DataFrame(rows)
