"""Flexible calibration of predicted risk by a horizon: the curve with its band, ICI, E50, E90 and Emax.

The method of Austin, Harrell & van Klaveren (Stat Med 2020;39:2714, "Graphical calibration curves and the
integrated calibration index (ICI) for survival models"), with their R code's choices:

1. each patient's predicted risk by the horizon ``t`` is ``risk = 1 - S_pred(t)``, and its complementary
   log-log ``cll = log(-log(1 - risk))``;
2. a Cox model of the observed outcome on a restricted cubic spline of ``cll`` with 3 knots (rms::rcs:
   knots at the 10th, 50th and 90th percentiles, Hmisc::rcspline.eval's rules for ties and for fewer than 100
   patients), Efron ties, fitted on ALL the follow-up (not censored at ``t``), as
   ``coxph(Surv(time, event) ~ rcs(cll, 3))``;
3. the observed risk by ``t`` of a patient is ``1 - S_cox(t | cll)`` from that model (survfit.coxph: the
   Efron-adjusted baseline hazard of an Efron fit, which is Breslow's when no event times are tied);
4. ICI = mean |observed - predicted| over the patients, E50 and E90 its median and 90th percentile (R
   ``quantile`` type 7), Emax its maximum;
5. the curve: observed against predicted risk on ``points`` equally spaced risks from the 1st to the 99th
   percentile of the predicted risks, with survfit.coxph's pointwise interval (its default ``conf.type =
   "log"``: ``S * exp(+-z se(H))``, ``se(H)`` including the variance of the coefficients) turned into risks.

ICI, E50, E90 and Emax are in risk units (0.02 = two percentage points). They are apparent when computed on
the training patients; on a test or external cohort they measure calibration in those patients. Reference
values from R (survival 3.5, rms 6.5) are in tests/reference/survival_flexible_calibration.R.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.stats.survival.cox import fit_cox

__all__ = ["FlexibleSurvivalCalibration", "survival_flexible_calibration", "rcs_knots", "rcs_basis"]

#: Number of knots of the calibration spline (Austin et al. 2020: 3, rms's quantiles .1, .5, .9).
_KNOTS = 3
#: Hmisc::rcspline.eval's ``fractied`` as rms::rcs passes it: an end value shared by at least this share of the
#: patients becomes its own knot (and the quantiles are taken among the others).
_FRACTIED = 0.05


@dataclass(frozen=True)
class FlexibleSurvivalCalibration:
    """Flexible calibration of predicted risk by one horizon (see the module's docstring for the method).

    Attributes
    ----------
    horizon : float
        The time (study unit) the risks refer to.
    ici, e50, e90, emax : float
        Mean, median, 90th percentile and maximum of ``|observed - predicted|`` risk over the patients (risk
        units, 0 to 1); smaller is better.
    n : int
        Patients.
    events : int
        Events at or before the horizon (all follow-up's events enter the Cox model, see ``events_total``).
    events_total : int
        Events over the whole follow-up.
    knots : tuple of float
        The spline's knots on the ``log(-log(1 - risk))`` scale.
    curve : pandas.DataFrame
        ``points`` rows: ``predicted`` (risk by the horizon, increasing), ``observed`` (the model's risk at that
        prediction), ``low`` and ``high`` (its pointwise interval at ``level``).
    patients : pandas.DataFrame
        One row per patient in the input order: ``predicted`` and ``observed`` risk (the ICI's terms).
    level : float
        Confidence level of the band.
    note : str
        Empty, or why the numbers need care (the Cox model did not converge, knots set on few distinct values).
    """

    horizon: float
    ici: float
    e50: float
    e90: float
    emax: float
    n: int
    events: int
    events_total: int
    knots: tuple[float, ...]
    curve: pd.DataFrame
    patients: pd.DataFrame
    level: float
    note: str


def rcs_knots(x: np.ndarray, nk: int = _KNOTS, fractied: float = _FRACTIED) -> tuple[np.ndarray, str]:
    """Default knots of a restricted cubic spline, as ``Hmisc::rcspline.eval(x, nk = nk, knots.only = TRUE)``
    called by ``rms::rcs(x, nk)`` (``fractied = 0.05``).

    Parameters
    ----------
    x : numpy.ndarray
        The values (no missing values), at least 6.
    nk : int
        Number of knots, at least 3.
    fractied : float
        Share of ties at an end value above which that value gets its own knot (rcspline.eval's rule).

    Returns
    -------
    (knots, note)
        The sorted distinct knots and "" or the warning rcspline.eval gives (few distinct values: the knots are
        the interior values; or its alternate algorithm when quantiles repeat).

    Raises
    ------
    RadNomoError
        Fewer than 6 values or fewer than 3 distinct knots (rcspline.eval stops there too).
    """
    xx = np.asarray(x, dtype=float)
    n = xx.size
    if n < 6:
        raise RadNomoError(f"a spline needs at least 6 values to place its knots; got {n}.")
    if nk < 3:
        raise RadNomoError(f"a restricted cubic spline needs at least 3 knots; got {nk}.")
    unique, counts = np.unique(xx, return_counts=True)
    note = ""
    if unique.size - 2 <= nk:
        knots = unique[1:-1]
        note = (f"{nk} knots requested with {unique.size} distinct values: the knots are the "
                f"{unique.size - 2} interior values")
    else:
        outer = 0.025 if nk > 6 else (0.05 if nk > 3 else 0.1)
        nke = nk
        first_knot: list[float] = []
        last_knot: list[float] = []
        override_first = override_last = False
        if 0 < fractied < 1:
            share = counts / n
            if share[1:-1].max() < fractied:
                if share[0] >= fractied:
                    first_knot = [float(xx[xx > xx.min()].min())]
                    xx = xx[xx > first_knot[0]]
                    nke -= 1
                    override_first = True
                if share[-1] >= fractied:
                    last_knot = [float(xx[xx < xx.max()].max())]
                    xx = xx[xx < last_knot[0]]
                    nke -= 1
                    override_last = True
        if nke == 1:
            inner = np.array([np.median(xx)])
        else:
            p = np.linspace(0.5, 1 - outer, nke) if nke == 2 else np.linspace(outer, 1 - outer, nke)
            inner = np.quantile(xx, p)   # numpy's default is R's type 7
            if np.unique(inner).size < min(nke, 3):
                inner = np.quantile(xx, np.linspace(outer, 1 - outer, 2 * nke))
                if first_knot and np.unique(inner).size < 3:
                    middle = (first_knot[0] + last_knot[0]) / 2 if last_knot else float(np.median(xx))
                    inner = np.sort(np.r_[first_knot[0], middle,
                                          last_knot[0] if last_knot else np.quantile(xx, 1 - outer)])
                if np.unique(inner).size < 3:
                    raise RadNomoError("fewer than 3 distinct knots: the values take too few distinct values "
                                       "for a spline.")
                note = (f"could not obtain {nke} interior knots with the default algorithm; used the alternate "
                        f"one ({np.unique(inner).size} knots)")
            if xx.size < 100:
                ordered = np.sort(xx)
                if not override_first:
                    inner[0] = ordered[4]
                if not override_last:
                    inner[nke - 1] = ordered[-5]
        knots = np.r_[first_knot, inner, last_knot]
    knots = np.unique(knots)
    if knots.size < 3:
        raise RadNomoError("fewer than 3 distinct knots: the values take too few distinct values for a spline.")
    return knots, note


def rcs_basis(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """The restricted cubic spline design, as ``rms::rcs(x, knots)`` (Hmisc::rcspline.eval with ``inclx = TRUE``
    and ``norm = 2``): ``x`` then one nonlinear column per interior knot; shape (n, len(knots) - 1)."""
    x = np.asarray(x, dtype=float)
    k = np.asarray(knots, dtype=float)
    last, before_last = k[-1], k[-2]
    scale = (last - k[0]) ** (2 / 3)
    columns = [x]
    for knot in k[:-2]:
        columns.append(np.maximum((x - knot) / scale, 0) ** 3
                       + ((before_last - knot) * np.maximum((x - last) / scale, 0) ** 3
                          - (last - knot) * np.maximum((x - before_last) / scale, 0) ** 3) / (last - before_last))
    return np.column_stack(columns)


def survival_flexible_calibration(time: np.ndarray, event: np.ndarray, predicted_survival: np.ndarray,
                                  horizon: float, level: float = 0.95, points: int = 100
                                  ) -> FlexibleSurvivalCalibration:
    """Flexible calibration curve, ICI, E50, E90 and Emax of predicted risk by ``horizon``.

    Parameters
    ----------
    time : numpy.ndarray
        Follow-up time of each patient (> 0, study unit).
    event : numpy.ndarray
        1 = event, 0 = censored.
    predicted_survival : numpy.ndarray
        Each patient's predicted probability of being event-free at ``horizon``, strictly between 0 and 1
        (the predicted risk is ``1 - predicted_survival``).
    horizon : float
        The time (study unit), at most the last follow-up time, with an event at or before it.
    level : float, default 0.95
        Confidence level of the pointwise band.
    points : int, default 100
        Number of predicted risks the curve is drawn at (from the 1st to the 99th percentile).

    Returns
    -------
    FlexibleSurvivalCalibration

    Raises
    ------
    RadNomoError
        Mismatched lengths, fewer than 6 patients, a prediction of exactly 0 or 1, a horizon past the follow-up
        or without an event before it, an invalid ``level`` or ``points``, or a spline the data cannot carry.
    """
    time, event = np.asarray(time, dtype=float), np.asarray(event)
    survival = np.asarray(predicted_survival, dtype=float)
    if not (time.ndim == event.ndim == survival.ndim == 1 and len(time) == len(event) == len(survival)):
        raise RadNomoError("time, event and predicted survival must have one value per patient.")
    if len(time) < 6:
        raise RadNomoError(f"the flexible calibration curve needs at least 6 patients (a 3-knot spline); got "
                           f"{len(time)}.")
    if np.isnan(time).any() or np.isnan(survival).any() or pd.isna(event).any() or (time <= 0).any():
        raise RadNomoError("time, event and predicted survival must be complete, with times > 0.")
    if not np.isin(event, (0, 1)).all():
        raise RadNomoError("event must be 1 (event) or 0 (censored) for every patient.")
    event = event.astype(int)
    if not 0 < level < 1:
        raise RadNomoError(f"the confidence level must lie strictly between 0 and 1; got {level!r}.")
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 2:
        raise RadNomoError(f"the calibration curve needs at least 2 points; got {points!r}.")
    if not np.isfinite(horizon) or horizon <= 0 or horizon > time.max():
        raise RadNomoError(f"the horizon {horizon:g} must lie within the follow-up (0, {time.max():g}]; choose a "
                           "shorter horizon.")
    events_by_horizon = int(np.sum((event == 1) & (time <= horizon)))
    if events_by_horizon == 0:
        raise RadNomoError(f"no event at or before the horizon {horizon:g}: the observed risk is 0 and calibration "
                           "cannot be judged; choose a later horizon.")
    outside = int(np.sum((survival <= 0) | (survival >= 1)))
    if outside:
        raise RadNomoError(f"{outside} predicted survival value(s) are 0 or 1 (or outside): the calibration model "
                           "works on log(-log S), which needs values strictly between 0 and 1. A horizon before "
                           "the model's first event time gives 1 for everyone; choose a later horizon.")
    risk = 1 - survival
    cll = np.log(-np.log(survival))
    knots, note = rcs_knots(cll)
    names = ["cll"] + ["cll" + "'" * (j + 1) for j in range(len(knots) - 2)]
    try:
        fit = fit_cox(pd.DataFrame(rcs_basis(cll, knots), columns=names), time, event, ties="efron")
    except RadNomoError as error:
        raise RadNomoError(f"the flexible calibration model (Cox on a spline of the predictions) cannot be fitted: "
                           f"{error}") from error
    notes = [note] if note else []
    if not fit.converged:
        notes.append(fit.convergence)
    own = fit.predict_survival(rcs_basis(cll, knots), [horizon], level)
    observed = 1 - own["survival"].to_numpy()
    difference = np.abs(observed - risk)
    first, last = np.quantile(risk, [0.01, 0.99])
    grid = np.linspace(first, last, int(points))
    with np.errstate(divide="ignore"):
        grid_cll = np.log(-np.log(1 - grid))
    # The grid lies within the patients' risks; clipping to their cll only undoes rounding, where a risk within
    # 1e-16 of 1 reads as exactly 1 (cll = inf) although the patient's own survival was above 0.
    grid_cll = np.clip(grid_cll, cll.min(), cll.max())
    band = fit.predict_survival(rcs_basis(grid_cll, knots), [horizon], level)
    curve = pd.DataFrame({"predicted": grid, "observed": 1 - band["survival"].to_numpy(),
                          # the interval of S turned into one of the risk 1 - S (bounds swap)
                          "low": 1 - band["upper"].to_numpy(), "high": 1 - band["lower"].to_numpy()})
    e50, e90 = np.quantile(difference, [0.5, 0.9])
    return FlexibleSurvivalCalibration(
        horizon=float(horizon), ici=float(difference.mean()), e50=float(e50), e90=float(e90),
        emax=float(difference.max()), n=int(len(time)), events=events_by_horizon, events_total=int(event.sum()),
        knots=tuple(float(k) for k in knots), curve=curve,
        patients=pd.DataFrame({"predicted": risk, "observed": observed}), level=float(level), note=" ".join(notes))
