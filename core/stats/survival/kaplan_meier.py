"""Kaplan-Meier curves, their median, the median follow-up and the log-rank test, as R's survival gives them.

Every function takes trusted numpy arrays (validated at the boundary by the study's outcome): ``time``
(float, > 0, in any unit: the results are in the same unit) and ``event`` (int, 1 = event, 0 = censored).

Equal to R 4.2.2 / survival 3.5 (tests/reference/survival_cox.R, tests/core/test_survival_km_cox.py):

* :func:`kaplan_meier` = ``survfit(Surv(time, event) ~ 1)`` (Greenwood variance, ``conf.type = "log"``);
  :meth:`KaplanMeier.summary` = ``summary(fit, times = ..., extend = TRUE)``; :meth:`KaplanMeier.median`
  = the median and its ``0.95LCL`` / ``0.95UCL`` printed by ``print(fit)`` (``quantile.survfit``).
* :func:`median_follow_up` = the median of the reverse Kaplan-Meier ``survfit(Surv(time, 1 - event) ~ 1)``
  (prodlim's ``reverse = TRUE`` gives the same median except where events and censorings share a time).
* :func:`log_rank` = ``survdiff(Surv(time, event) ~ group)``.

Written by hand rather than with lifelines' ``KaplanMeierFitter``: lifelines' default intervals are
log(-log) ones and its median has no confidence interval of survfit's kind, and the code is short.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from core.errors import RadNomoError

__all__ = ["KaplanMeier", "LogRank", "kaplan_meier", "kaplan_meier_by_group", "log_rank", "median_follow_up"]

#: survival's tolerance for "the curve equals the probability exactly" in its quantiles (quantile.survfit).
_QUANTILE_TOL = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True, kw_only=True, eq=False)
class KaplanMeier:
    """A Kaplan-Meier curve, one row per distinct observed time (event or censoring), as ``survfit`` stores it.

    Attributes
    ----------
    time : numpy.ndarray
        Distinct observed times, increasing (the input's unit).
    n_risk, n_event, n_censor : numpy.ndarray of int
        Patients at risk just before each time, events and censorings at it.
    survival : numpy.ndarray
        The Kaplan-Meier estimate S(t) just after each time (a right-continuous step function).
    std_err : numpy.ndarray
        Standard error of S(t) (Greenwood), as ``summary(survfit(...))$std.err``; NaN where S(t) = 0.
    std_err_log : numpy.ndarray
        Standard error of -log S(t) (``survfit(...)$std.err``); infinite where S(t) = 0.
    lower, upper : numpy.ndarray
        Pointwise confidence interval of S(t) at ``level``, on the log scale (survfit's default
        ``conf.type = "log"``: ``S exp(+-z se_log)``, the upper limit capped at 1); NaN where S(t) = 0.
    level : float
        Confidence level of ``lower`` / ``upper`` (0.95 by default).
    n : int
        Patients in the curve.
    """

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    survival: np.ndarray
    std_err: np.ndarray
    std_err_log: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    n: int

    def summary(self, times: np.ndarray | list[float]) -> pd.DataFrame:
        """The curve read at given times, as ``summary(fit, times = times, extend = TRUE)``.

        Parameters
        ----------
        times : array-like of float
            Times in the curve's unit, any order (the result keeps the given order).

        Returns
        -------
        pandas.DataFrame
            Columns ``time``, ``n_risk`` (at risk at ``time``: patients whose time is >= it, 0 beyond the
            last follow-up), ``n_event`` (events in (previous requested time, time], in increasing order of
            the requested times), ``survival``, ``std_err``, ``lower``, ``upper``. The curve is
            right-continuous: at an event time it already includes that time's drop; before the first time
            S = 1 with standard error 0. Beyond the last follow-up the last value is carried forward (R's
            ``extend = TRUE``; with ``extend = FALSE`` R would drop those times instead): read ``n_risk``
            = 0 there as "no patient was still followed".
        """
        requested = np.asarray(times, dtype=float)
        order = np.argsort(requested, kind="stable")
        sorted_times = requested[order]
        # index of the last curve time <= t (0 = before the first time): survfit0 + findInterval
        last = np.searchsorted(self.time, sorted_times, side="right")
        surv = np.concatenate([[1.0], self.survival])[last]
        se = np.concatenate([[0.0], self.std_err])[last]
        lower = np.concatenate([[1.0], self.lower])[last]
        upper = np.concatenate([[1.0], self.upper])[last]
        # at risk at t: the n_risk of the first curve time >= t (0 beyond the end)
        first_at_or_after = np.searchsorted(self.time, sorted_times, side="left")
        n_risk = np.concatenate([self.n_risk, [0]])[first_at_or_after]
        cumulative_events = np.concatenate([[0], np.cumsum(self.n_event)])[last]
        n_event = np.diff(np.concatenate([[0], cumulative_events]))
        frame = pd.DataFrame({"time": sorted_times, "n_risk": n_risk.astype(int), "n_event": n_event.astype(int),
                              "survival": surv, "std_err": se, "lower": lower, "upper": upper})
        back = np.empty_like(order)
        back[order] = np.arange(len(order))
        return frame.iloc[back].reset_index(drop=True)

    def survival_at(self, times: np.ndarray | list[float]) -> np.ndarray:
        """S(t) at the given times (1 before the first time, the last value beyond the last follow-up).

        See :meth:`summary` for the exact semantics (R's ``summary(..., extend = TRUE)``).
        """
        return self.summary(times)["survival"].to_numpy()

    def median(self) -> tuple[float, float, float]:
        """The median survival time and its confidence interval, as ``print(survfit(...))``.

        Returns
        -------
        (median, lower, upper) : tuple of float
            In the input's time unit. The median is the first time S(t) <= 0.5; where S equals 0.5 exactly
            over an interval, the midpoint of that interval (survival's rule). The limits are the same
            read-out on the upper and lower confidence curves. NaN where the curve (or a confidence curve)
            never reaches 0.5: "not reached", as R prints NA.
        """
        return self.quantile(0.5)

    def quantile(self, probability: float) -> tuple[float, float, float]:
        """The time by which a share ``probability`` of patients had the event, with its CI (quantile.survfit).

        Parameters
        ----------
        probability : float
            In [0, 1]; 0.5 is the median.

        Returns
        -------
        (time, lower, upper) : tuple of float
            NaN where not reached.
        """
        grid = np.concatenate([[min(0.0, float(self.time[0]))], self.time])
        estimate = _findq(grid, np.concatenate([[0.0], 1 - self.survival]), probability)
        low = _findq(grid, np.concatenate([[0.0], 1 - self.lower]), probability)
        high = _findq(grid, np.concatenate([[0.0], 1 - self.upper]), probability)
        return estimate, low, high

    def to_frame(self) -> pd.DataFrame:
        """The whole curve: one row per distinct time with every attribute above (columns named as them)."""
        return pd.DataFrame({"time": self.time, "n_risk": self.n_risk, "n_event": self.n_event,
                             "n_censor": self.n_censor, "survival": self.survival, "std_err": self.std_err,
                             "lower": self.lower, "upper": self.upper})


def _findq(x: np.ndarray, y: np.ndarray, p: float, tol: float = _QUANTILE_TOL) -> float:
    """Port of survival's internal ``findq``: the x at which the non-decreasing y first reaches p.

    ``x`` = times with the start time first, ``y`` = 1 - S(t) (NaN allowed where a confidence limit is
    undefined). Where y equals p (within ``tol``) over a flat stretch, the midpoint of that stretch.
    """
    finite = y[~np.isnan(y)]
    if finite.size == 0 or finite.max() < p:
        return float("nan")
    xmax = x[-1]
    # keep the first occurrence of each y value (the drop), as R's duplicated(), which takes NaN as one value
    keep = ~pd.Series(y).duplicated().to_numpy()
    x, y = x[keep], y[keep]
    valid = np.flatnonzero(~np.isnan(y))

    def first_reaching(shift: float) -> float:
        # approx(y + shift, 1:n, p, method = "constant", f = 1) (rule 1, NaN pairs dropped): the first index
        # with y + shift >= p, NaN outside the range of y + shift
        shifted = y[valid] + shift
        if p < shifted[0] or p > shifted[-1]:
            return float("nan")
        return float(valid[np.argmax(shifted >= p)])

    if p == 0:
        return float(x[0])
    i1, i2 = first_reaching(tol), first_reaching(-tol)
    if not np.isnan(y[-1]) and abs(p - y[-1]) < tol and not np.isnan(i1):
        # the curve ends exactly at p: midpoint of the time it got there and the last follow-up
        return float((x[int(i1)] + xmax) / 2)
    if np.isnan(i1) or np.isnan(i2):
        return float("nan")
    return float((x[int(i1)] + x[int(i2)]) / 2)


def kaplan_meier(time: np.ndarray, event: np.ndarray, level: float = 0.95) -> KaplanMeier:
    """The Kaplan-Meier curve of right-censored times, as ``survfit(Surv(time, event) ~ 1)``.

    Parameters
    ----------
    time : numpy.ndarray of float
        Follow-up times (> 0, any unit).
    event : numpy.ndarray of int
        1 = event at ``time``, 0 = censored at ``time``.
    level : float
        Confidence level of the pointwise interval (survfit's ``conf.int``).

    Returns
    -------
    KaplanMeier
        The curve at every distinct time; see the class.

    Raises
    ------
    RadNomoError
        No patient, or ``level`` outside (0, 1).
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(int)
    if time.size == 0:
        raise RadNomoError("A Kaplan-Meier curve needs at least one patient: this group is empty.")
    if event.size != time.size:
        raise RadNomoError(f"{time.size} follow-up times but {event.size} event indicators: they must describe "
                           "the same patients.")
    if not 0 < level < 1:
        raise RadNomoError(f"The confidence level must be between 0 and 1 (got {level}).")
    distinct, inverse = np.unique(time, return_inverse=True)
    n_event = np.bincount(inverse, weights=event, minlength=distinct.size).astype(int)
    n_total = np.bincount(inverse, minlength=distinct.size)
    n_censor = n_total - n_event
    n_risk = np.cumsum(n_total[::-1])[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        survival = np.cumprod(1 - n_event / n_risk)
        # Greenwood: var(-log S) = sum d / (n (n - d)); infinite once everyone at risk has had the event
        terms = np.where(n_event == 0, 0.0, n_event / (n_risk * (n_risk - n_event).astype(float)))
        std_err_log = np.sqrt(np.cumsum(terms))
        std_err = np.where(survival > 0, std_err_log * survival, np.nan)
        z = stats.norm.ppf(1 - (1 - level) / 2)
        positive = np.where(survival > 0, survival, np.nan)
        lower = np.exp(np.log(positive) - z * std_err_log)
        upper = np.minimum(np.exp(np.log(positive) + z * std_err_log), 1.0)
    return KaplanMeier(time=distinct, n_risk=n_risk.astype(int), n_event=n_event, n_censor=n_censor.astype(int),
                       survival=survival, std_err=std_err, std_err_log=std_err_log, lower=lower, upper=upper,
                       level=level, n=int(time.size))


def median_follow_up(time: np.ndarray, event: np.ndarray) -> tuple[float, float, float]:
    """Median follow-up by the reverse Kaplan-Meier method (censoring taken as the event), with its 95 % CI.

    Parameters
    ----------
    time, event : numpy.ndarray
        As :func:`kaplan_meier`.

    Returns
    -------
    (median, lower, upper) : tuple of float
        In the input's time unit: the median of ``survfit(Surv(time, 1 - event) ~ 1)`` and its 0.95LCL /
        0.95UCL. NaN where not reached (more than half the patients had the event before being censored).
        prodlim's ``reverse = TRUE`` gives the same median unless an event and a censoring share a time:
        prodlim then takes the patient with the event out of the risk set for censoring at that time, survfit
        keeps them in, and the medians can differ by one time step (46 vs 45 months on the test cohort).
    """
    return kaplan_meier(time, 1 - np.asarray(event).astype(int)).median()


def kaplan_meier_by_group(time: np.ndarray, event: np.ndarray, group: np.ndarray | pd.Series,
                          level: float = 0.95) -> dict[object, KaplanMeier]:
    """One Kaplan-Meier curve per group (e.g. low / high risk), as ``survfit(Surv(time, event) ~ group)``.

    Parameters
    ----------
    time, event : numpy.ndarray
        As :func:`kaplan_meier`.
    group : array-like
        Group label of each patient (any hashable values; missing labels are refused).
    level : float
        Confidence level of the pointwise intervals.

    Returns
    -------
    dict
        Group label -> its :class:`KaplanMeier`, in sorted label order.
    """
    labels = pd.Series(np.asarray(group, dtype=object))
    if labels.isna().any():
        raise RadNomoError(f"{int(labels.isna().sum())} patient(s) have no group: give every patient a group "
                           "or leave them out before drawing curves by group.")
    time, event = np.asarray(time, dtype=float), np.asarray(event).astype(int)
    return {label: kaplan_meier(time[(labels == label).to_numpy()], event[(labels == label).to_numpy()], level)
            for label in _levels(labels)}


def _levels(labels: pd.Series) -> list:
    """The distinct group labels in R's factor order: numbers by value, anything else by its text."""
    values = list(labels.unique())
    try:
        return sorted(values)
    except TypeError:   # mixed types (e.g. numbers and text)
        return sorted(values, key=str)


@dataclass(frozen=True, kw_only=True, eq=False)
class LogRank:
    """The log-rank test of equal survival across groups, as ``survdiff``.

    Attributes
    ----------
    chisq : float
        The test statistic (O - E)' V^- (O - E) with the hypergeometric variance V.
    df : int
        Degrees of freedom: groups with someone at risk at an event time, minus 1 (survdiff's rule).
    p : float
        Upper-tail chi-square p-value.
    table : pandas.DataFrame
        One row per group (sorted labels): ``group``, ``n``, ``observed``, ``expected``,
        ``(O-E)^2/E`` and ``(O-E)^2/V`` as ``print(survdiff(...))``.
    """

    chisq: float
    df: int
    p: float
    table: pd.DataFrame


def log_rank(time: np.ndarray, event: np.ndarray, group: np.ndarray | pd.Series) -> LogRank:
    """Log-rank test (survdiff, rho = 0) of whether survival differs between groups.

    Parameters
    ----------
    time, event : numpy.ndarray
        As :func:`kaplan_meier`.
    group : array-like
        Group label of each patient; at least two groups.

    Returns
    -------
    LogRank

    Raises
    ------
    RadNomoError
        Fewer than two groups, a missing label, or no event at all (nothing to compare).
    """
    time, event = np.asarray(time, dtype=float), np.asarray(event).astype(int)
    labels = pd.Series(np.asarray(group, dtype=object))
    if labels.isna().any():
        raise RadNomoError(f"{int(labels.isna().sum())} patient(s) have no group: the log-rank test needs a group "
                           "for every patient.")
    levels = _levels(labels)
    if len(levels) < 2:
        raise RadNomoError("The log-rank test compares at least two groups; all patients are in one group.")
    if event.sum() == 0:
        raise RadNomoError("The log-rank test needs at least one event; no patient had the event.")
    codes = labels.map({label: i for i, label in enumerate(levels)}).to_numpy().astype(int)
    distinct, inverse = np.unique(time, return_inverse=True)
    k = len(levels)
    # per distinct time and group: patients leaving (any reason) and events
    leaving = np.zeros((distinct.size, k))
    events = np.zeros((distinct.size, k))
    np.add.at(leaving, (inverse, codes), 1.0)
    np.add.at(events, (inverse, codes), event.astype(float))
    at_risk = np.cumsum(leaving[::-1], axis=0)[::-1]
    n_t = at_risk.sum(axis=1)
    d_t = events.sum(axis=1)
    used = d_t > 0
    at_risk, events, n_t, d_t = at_risk[used], events[used], n_t[used], d_t[used]
    share = at_risk / n_t[:, None]
    expected = (d_t[:, None] * share).sum(axis=0)
    observed = events.sum(axis=0)
    # hypergeometric variance; the factor is 0 where everyone at risk has the event (n_t == 1)
    factor = np.where(n_t > 1, d_t * (n_t - d_t) / np.where(n_t > 1, n_t - 1, 1), 0.0)
    variance = np.einsum("t,tg,th->gh", factor, share, -share) + np.diag((factor[:, None] * share).sum(axis=0))
    difference = observed - expected
    # as survdiff: groups with no one at risk at any event time (expected 0) are left out, then the first
    # remaining group, and the statistic uses the rest (df = groups with expected > 0, minus 1)
    compared = np.flatnonzero(expected > 0)
    if compared.size < 2:
        raise RadNomoError("Only one group had patients at risk when the events happened: the log-rank test has "
                           "nothing to compare. Check the groups or the follow-up of each group.")
    kept = compared[1:]
    chisq = float(difference[kept] @ np.linalg.solve(variance[np.ix_(kept, kept)], difference[kept]))
    df = int(compared.size - 1)
    n = np.bincount(codes, minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):   # a left-out group (expected 0) gets NaN, as in R
        per_e, per_v = difference ** 2 / expected, difference ** 2 / np.diag(variance)
    table = pd.DataFrame({"group": levels, "n": n, "observed": observed, "expected": expected,
                          "(O-E)^2/E": per_e, "(O-E)^2/V": per_v})
    return LogRank(chisq=chisq, df=df, p=float(stats.chi2.sf(chisq, df)), table=table)
