"""Calibration of predicted survival at a horizon: grouped Kaplan-Meier, calibration slope, O/E ratio.

At a horizon ``t`` (study time unit) each patient has a predicted survival probability ``S_pred(t)``.

* Groups: patients cut into ``groups`` quantile groups of ``S_pred(t)`` -- R
  ``cut(pred, quantile(pred, seq(0, 1, length = groups + 1)), include.lowest = TRUE)`` (type-7 quantiles,
  right-closed intervals, so tied predictions stay together). rms ``calibrate(cmethod = "KM", u = t, m =)``
  instead cuts groups of about ``m`` patients (Hmisc ``cut2(m =)``); quantile groups are used here because
  their number is what a reader chooses. Per group: the mean predicted survival and the Kaplan-Meier
  observed survival at ``t`` with R survfit's default ("log") confidence interval.
* Calibration slope: the coefficient ``b`` of ``log(-log S_pred(t))`` in a Cox model of the observed
  times, ``coxph(Surv(time, event) ~ log(-log(pred)))`` (Efron ties), with its Wald interval; 1 is ideal,
  < 1 means predictions too extreme. For predictions from a proportional-hazards model
  ``log(-log S_pred(t)) = lp + log H0(t)``, so this is the slope on the linear predictor of Royston &
  Altman (BMC Med Res Methodol 2013;13:33) and Crowson, Atkinson & Therneau (Stat Methods Med Res
  2016;25:1692), read at ``t`` as in McLernon et al. (Ann Intern Med 2023;176:105).
* Observed / expected at ``t``: ``(1 - KM(t)) / mean(1 - S_pred(t))`` with interval
  ``O/E * exp(+-z sqrt(1 / events by t))`` (McLernon et al. 2023, their R code).

The Kaplan-Meier estimate and the one-covariate Cox fit are written here (a few lines each) so that the
numbers equal R's survfit / coxph to machine precision and this module stands on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from core.errors import RadNomoError
from core.stats.modeling import convergence_warning

__all__ = ["KaplanMeierAt", "kaplan_meier_at", "CoxSlope", "cox_slope", "SurvivalCalibration", "quantile_groups",
           "survival_calibration"]


@dataclass(frozen=True)
class KaplanMeierAt:
    """Kaplan-Meier survival at one time, as R ``summary(survfit(Surv(time, event) ~ 1), times = t,
    extend = TRUE)``.

    Attributes
    ----------
    survival : float
        ``S(t)``: the product over event times <= t of ``1 - d / n``.
    std_err : float
        Greenwood standard error of ``S(t)`` (R ``std.err``).
    lower, upper : float
        R's default "log" interval, ``S * exp(-+ z * sqrt(sum d / (n (n - d))))``, upper capped at 1; NaN
        when ``S(t)`` is 0.
    events : int
        Events at times <= t.
    at_risk : int
        Patients still followed at t (time >= t).
    last_time : float
        Last follow-up time of these patients; past it the estimate is carried forward (R ``extend``).
    """

    survival: float
    std_err: float
    lower: float
    upper: float
    events: int
    at_risk: int
    last_time: float


def kaplan_meier_at(time: np.ndarray, event: np.ndarray, horizon: float, level: float = 0.95) -> KaplanMeierAt:
    """Kaplan-Meier survival at ``horizon`` with its Greenwood SE and log-scale interval (see
    :class:`KaplanMeierAt`); ``time`` > 0 (any unit), ``event`` 1 = event, 0 = censored. Needs a patient."""
    time, event = np.asarray(time, dtype=float), np.asarray(event, dtype=int)
    if len(time) == 0:
        raise RadNomoError("a Kaplan-Meier estimate needs at least one patient.")
    event_times = np.unique(time[(event == 1) & (time <= horizon)])
    deaths = np.array([np.sum((time == u) & (event == 1)) for u in event_times], dtype=float)
    at_risk = np.array([np.sum(time >= u) for u in event_times], dtype=float)
    survival = float(np.prod(1 - deaths / at_risk)) if len(event_times) else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = float(np.sum(deaths / (at_risk * (at_risk - deaths)))) if len(event_times) else 0.0
    z = float(norm.ppf(0.5 + level / 2))
    if survival > 0 and np.isfinite(greenwood):
        se_log = np.sqrt(greenwood)
        lower, upper = survival * np.exp(-z * se_log), min(1.0, survival * np.exp(z * se_log))
        std_err = survival * se_log
    else:
        lower = upper = np.nan
        std_err = 0.0 if survival == 0 else np.nan
    return KaplanMeierAt(survival=survival, std_err=float(std_err), lower=float(lower), upper=float(upper),
                         events=int(np.sum((event == 1) & (time <= horizon))), at_risk=int(np.sum(time >= horizon)),
                         last_time=float(time.max()))


@dataclass(frozen=True)
class CoxSlope:
    """A one-covariate Cox fit (Efron ties), as R ``coxph(Surv(time, event) ~ x)``.

    Attributes
    ----------
    coefficient, std_err, lower, upper : float
        Log hazard ratio per unit of ``x``, its standard error (inverse information) and Wald interval.
    loglik : float
        Partial log-likelihood at the estimate (R ``fit$loglik[2]``).
    converged : bool
        False when Newton-Raphson did not settle or the likelihood is monotone (the estimate runs off to
        infinity, e.g. ``x`` perfectly orders the event times).
    convergence : str
        Empty, or the sentence saying why the estimate is unreliable.
    """

    coefficient: float
    std_err: float
    lower: float
    upper: float
    loglik: float
    converged: bool
    convergence: str


def _efron(beta: float, x: np.ndarray, time: np.ndarray, event: np.ndarray) -> tuple[float, float, float]:
    """Efron partial log-likelihood, score and information of one covariate (``x`` centred)."""
    order = np.argsort(-time, kind="stable")  # decreasing time: cumulative sums build the risk sets
    t_sorted, x_sorted, dead = time[order], x[order], event[order] == 1
    r = np.exp(beta * x_sorted)
    s0, s1, s2 = np.cumsum(r), np.cumsum(r * x_sorted), np.cumsum(r * x_sorted ** 2)
    _, first = np.unique(-t_sorted, return_index=True)
    last = np.r_[first[1:], len(t_sorted)] - 1  # the risk set of a time ends at its last tie
    loglik = score = info = 0.0
    for start, end in zip(first, last, strict=True):
        deaths = slice(start, end + 1)
        tied = dead[deaths]
        d = int(tied.sum())
        if d == 0:
            continue
        xd, rd = x_sorted[deaths][tied], r[deaths][tied]
        e0, e1, e2 = rd.sum(), (rd * xd).sum(), (rd * xd ** 2).sum()
        loglik += beta * xd.sum()
        score += xd.sum()
        for k in range(d):  # Efron: the tied deaths leave the risk set a fraction at a time
            f = k / d
            a0, a1, a2 = s0[end] - f * e0, s1[end] - f * e1, s2[end] - f * e2
            loglik -= np.log(a0)
            score -= a1 / a0
            info += a2 / a0 - (a1 / a0) ** 2
    return float(loglik), float(score), float(info)


def cox_slope(time: np.ndarray, event: np.ndarray, x: np.ndarray, level: float = 0.95,
              max_iter: int = 50) -> CoxSlope:
    """Fit ``coxph(Surv(time, event) ~ x)`` with Efron ties by Newton-Raphson with step halving.

    Written by hand (not lifelines) to report convergence the way this project does and to reach R's
    estimate to ~1e-10. Needs at least one event. See :class:`CoxSlope` for the result.
    """
    time, event, x = np.asarray(time, dtype=float), np.asarray(event, dtype=int), np.asarray(x, dtype=float)
    if event.sum() == 0:
        raise RadNomoError("the calibration slope needs at least one event; choose a later horizon or more patients.")
    centred = x - x.mean()  # as coxph: the estimate is unchanged, the exponentials stay moderate
    spread = float(np.std(centred)) or 1.0
    beta, (loglik, score, info) = 0.0, _efron(0.0, centred, time, event)
    converged = False
    for _ in range(max_iter):
        if info <= 0:
            break
        step = score / info
        new_beta = beta + step
        new = _efron(new_beta, centred, time, event)
        halvings = 0
        while new[0] < loglik - 1e-12 and halvings < 30:
            step /= 2
            new_beta = beta + step
            new = _efron(new_beta, centred, time, event)
            halvings += 1
        change = abs(new[0] - loglik)
        beta, (loglik, score, info) = new_beta, new
        if change <= 1e-12 * max(1.0, abs(loglik)) and abs(step) <= 1e-9 * max(1.0, abs(beta)):
            converged = True
            break
    # A monotone likelihood (x orders the events perfectly) has no finite maximum: the estimate grows
    # without bound while the information vanishes.
    monotone = abs(beta) * spread > 20 or info <= 1e-10
    detail = ""
    if monotone:
        detail = "monotone likelihood: the predictions order the observed events perfectly, the slope is infinite"
        converged = False
    elif not converged:
        detail = f"Newton-Raphson stopped after {max_iter} iterations"
    std_err = float(1 / np.sqrt(info)) if info > 0 else np.nan
    z = float(norm.ppf(0.5 + level / 2))
    return CoxSlope(coefficient=float(beta), std_err=std_err, lower=float(beta - z * std_err),
                    upper=float(beta + z * std_err), loglik=loglik, converged=converged,
                    convergence="" if converged else convergence_warning("calibration-slope Cox model", detail))


@dataclass(frozen=True)
class SurvivalCalibration:
    """Calibration of predicted survival at one horizon (see the module's docstring for the definitions).

    Attributes
    ----------
    horizon : float
        The time (study unit) at which survival is compared.
    groups : pandas.DataFrame
        One row per quantile group of predicted survival (lowest first): ``group``, ``n``, ``events``
        (all events of the group), ``predicted`` (mean predicted survival), ``observed`` (Kaplan-Meier at
        the horizon), ``lower`` / ``upper`` (its interval), ``std_err`` and ``note`` (non-empty where the
        group's follow-up ends before the horizon and its last estimate is carried forward).
    slope : CoxSlope
        The calibration slope (coefficient of ``log(-log S_pred)``), its interval and convergence.
    observed_expected, oe_lower, oe_upper : float
        Observed over expected risk at the horizon and its interval.
    observed_risk, expected_risk : float
        ``1 - KM(horizon)`` of all patients and the mean predicted risk.
    events_by_horizon : int
        Events at times <= horizon (the O/E interval's information).
    """

    horizon: float
    groups: pd.DataFrame
    slope: CoxSlope
    observed_expected: float
    oe_lower: float
    oe_upper: float
    observed_risk: float
    expected_risk: float
    events_by_horizon: int


def quantile_groups(values: np.ndarray, groups: int) -> np.ndarray:
    """Group number (1 = lowest) of each value: R ``cut(values, quantile(values, seq(0, 1, length = groups
    + 1)), include.lowest = TRUE, labels = FALSE)``. Raises RadNomoError when the cut points repeat."""
    if groups < 1 or groups > len(values):
        raise RadNomoError(f"cannot cut {len(values)} patients into {groups} groups; choose between 1 and "
                           f"{len(values)} groups.")
    cuts = np.quantile(values, np.linspace(0, 1, groups + 1))  # numpy's default is R's type 7
    if np.any(np.diff(cuts) <= 0):
        raise RadNomoError(f"the predictions take too few distinct values for {groups} quantile groups (tied cut "
                           "points); choose fewer groups.")
    return np.maximum(np.searchsorted(cuts, values, side="left"), 1)


def survival_calibration(time: np.ndarray, event: np.ndarray, predicted_survival: np.ndarray, horizon: float,
                         groups: int = 5, level: float = 0.95) -> SurvivalCalibration:
    """Calibration at ``horizon`` of predicted survival probabilities.

    Parameters
    ----------
    time : numpy.ndarray
        Follow-up time of each patient (> 0, study unit).
    event : numpy.ndarray
        1 = event, 0 = censored.
    predicted_survival : numpy.ndarray
        Each patient's predicted probability of surviving past ``horizon``, strictly between 0 and 1.
    horizon : float
        The time, at most the last follow-up time, with at least one event before it.
    groups : int, default 5
        Number of quantile groups of predicted survival.
    level : float, default 0.95
        Confidence level of every interval.

    Returns
    -------
    SurvivalCalibration
    """
    time, event = np.asarray(time, dtype=float), np.asarray(event, dtype=int)
    predicted = np.asarray(predicted_survival, dtype=float)
    if not (len(time) == len(event) == len(predicted)):
        raise RadNomoError("time, event and predicted survival must have one value per patient.")
    if horizon > time.max():
        raise RadNomoError(f"the horizon {horizon:g} is past the last follow-up time ({time.max():g}); choose a "
                           "shorter horizon.")
    if not np.all((predicted > 0) & (predicted < 1)):
        raise RadNomoError("predicted survival must lie strictly between 0 and 1 for the calibration slope "
                           "(log(-log S)); a horizon before the first event or past the model's follow-up gives "
                           "0 or 1: choose another horizon.")
    overall = kaplan_meier_at(time, event, horizon, level)
    if overall.events == 0:
        raise RadNomoError(f"no event by the horizon {horizon:g}: observed risk is 0 and calibration cannot be "
                           "judged; choose a later horizon.")
    group = quantile_groups(predicted, groups)
    rows = []
    for k in range(1, groups + 1):
        members = group == k
        km = kaplan_meier_at(time[members], event[members], horizon, level)
        note = (f"follow-up in this group ends at {km.last_time:g}, before the horizon: its last Kaplan-Meier "
                "estimate is carried forward" if km.last_time < horizon else "")
        rows.append({"group": k, "n": int(members.sum()), "events": int(event[members].sum()),
                     "predicted": float(predicted[members].mean()), "observed": km.survival, "lower": km.lower,
                     "upper": km.upper, "std_err": km.std_err, "note": note})
    slope = cox_slope(time, event, np.log(-np.log(predicted)), level)
    observed_risk, expected_risk = 1 - overall.survival, float(np.mean(1 - predicted))
    ratio = observed_risk / expected_risk
    z = float(norm.ppf(0.5 + level / 2))
    half = z * np.sqrt(1 / overall.events)
    return SurvivalCalibration(horizon=float(horizon), groups=pd.DataFrame(rows), slope=slope,
                               observed_expected=float(ratio), oe_lower=float(ratio * np.exp(-half)),
                               oe_upper=float(ratio * np.exp(half)), observed_risk=float(observed_risk),
                               expected_risk=expected_risk, events_by_horizon=overall.events)
