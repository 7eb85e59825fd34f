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
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.errors import RadNomoError

__all__ = ["DEFAULT_THRESHOLDS", "UNKNOWN_RISK_NOTE", "survival_decision_curve"]

# dcurves' default thresholds: seq(0.01, 0.99, length.out = 99).
DEFAULT_THRESHOLDS: tuple[float, ...] = tuple(np.round(np.linspace(0.01, 0.99, 99), 10))

# ``note`` of a threshold whose net benefit is NaN.
UNKNOWN_RISK_NOTE = ("the patients at or above this threshold are all followed less than the horizon and the last "
                     "of them was censored: their risk by the horizon is unknown, no net benefit")


def _km_risks(time: np.ndarray, event: np.ndarray, positive: np.ndarray, horizon: float) -> np.ndarray:
    """Kaplan-Meier risk by ``horizon`` (``1 - KM(horizon)``) of each of several groups of the same patients.

    ``positive`` is a boolean matrix (groups x patients): row ``k`` selects group ``k``. Per group: 0
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
    np.cumsum(positive & (event == 1), axis=1, out=events_before[:, 1:])
    size = before[:, -1]
    # Event times up to the horizon (of anyone: a time without an event of the group has the factor 1).
    times = np.unique(time[(event == 1) & (time <= horizon)])
    first, after = np.searchsorted(time, times, side="left"), np.searchsorted(time, times, side="right")
    at_risk = size[:, None] - before[:, first]                    # group members with time >= u
    deaths = events_before[:, after] - events_before[:, first]    # group members with an event at u
    factor = 1 - np.divide(deaths, at_risk, out=np.zeros(deaths.shape), where=deaths > 0)
    survival = np.prod(factor, axis=1)
    last = np.where(positive, time, -np.inf).max(axis=1)
    risk = 1 - survival
    # Follow-up ending before the horizon: unknown there unless the survival already reached 0 (all events).
    risk[(last < horizon) & (survival > 0)] = np.nan
    risk[size == 0] = 0.0
    return risk


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
    time, event = np.asarray(time, dtype=float), np.asarray(event, dtype=int)
    risk = np.asarray(predicted_risk, dtype=float)
    if not (len(time) == len(event) == len(risk)) or len(time) == 0:
        raise RadNomoError("time, event and predicted risk must have one value per patient (at least one).")
    if not np.all((risk >= 0) & (risk <= 1)):
        raise RadNomoError("predicted risks must lie between 0 and 1 (the probability of the event by the horizon).")
    values = np.asarray(DEFAULT_THRESHOLDS if thresholds is None else thresholds, dtype=float)
    if len(values) == 0 or not np.all((values > 0) & (values < 1)):
        raise RadNomoError(f"decision thresholds must lie strictly between 0 and 1; got {list(values)[:5]}.")
    everyone = float(_km_risks(time, event, np.ones((1, len(time)), dtype=bool), horizon)[0])
    if np.isnan(everyone):
        raise RadNomoError(f"no patient is followed up to the horizon {horizon:g} (last follow-up "
                           f"{time.max():g}): the observed risk there cannot be estimated; choose a shorter horizon.")
    odds = values / (1 - values)
    positive = risk[None, :] >= values[:, None]
    rate = positive.sum(axis=1) / len(time)
    risk_positive = _km_risks(time, event, positive, horizon)
    tp, fp = risk_positive * rate, (1 - risk_positive) * rate
    note = np.where(np.isnan(risk_positive), UNKNOWN_RISK_NOTE, "")
    return pd.DataFrame({"threshold": values, "net_benefit": tp - fp * odds,
                         "treat_all": everyone - (1 - everyone) * odds, "treat_none": 0.0,
                         "test_positive_rate": rate, "tp_rate": tp, "fp_rate": fp, "note": note})
