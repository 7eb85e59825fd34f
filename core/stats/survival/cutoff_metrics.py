"""Time-dependent sensitivity, specificity, PPV and NPV of a risk score at one cut-off, as timeROC's SeSpPPVNPV.

At a horizon ``t`` (unit of ``time``) and a cut-off ``c`` on a risk score (higher = higher risk; a Cox linear
predictor), a patient is "positive" when ``risk > c`` (timeROC's ``marker > cutpoint``: strictly above). With
inverse probability of censoring weights from the Kaplan-Meier estimate of the censoring distribution ``G``
(prodlim's ``reverse = TRUE``, as pec's ``ipcw(method = "marginal")`` that timeROC calls):

* cases: event strictly before ``t`` (``time < t``, event = 1), weight ``1 / G(time-)``;
* controls: followed beyond ``t`` (``time > t``), weight ``1 / G(t)`` (the same for all, so specificity is the
  plain share of controls at or below the cut-off);
* anyone else (censored before ``t``, or an observation exactly at ``t``) carries no weight;
* sensitivity = weighted share of cases that are positive; specificity = share of controls that are not;
  PPV = weighted share of cases among the positives, NPV = weighted share of controls among the negatives.

Equal to ``timeROC::SeSpPPVtimeROC(cutpoint = c, T = time, delta = event, marker = risk, cause = 1,
weighting = "marginal", times = t, iid = FALSE)`` (timeROC 0.4, R/SeSpPPVNPV.R); timeROC is not installed here,
so tests/reference/survival_cutoff.R reproduces its formulas with prodlim's reverse Kaplan-Meier and pec's
weights by hand. Note the case definition: timeROC counts events strictly before ``t``, riskRegression's AUC
(:func:`core.stats.survival.time_dependent.td_auc`) events at or before ``t``; they differ only for events at
exactly ``t``. Written by hand because no Python library has these estimators. No standard errors (timeROC's
``iid = TRUE`` influence functions are not reproduced).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.stats.survival.time_dependent import censoring_survival

__all__ = ["cutoff_metrics"]


def cutoff_metrics(time: np.ndarray, event: np.ndarray, risk: np.ndarray, cutoff: float,
                   horizons: Sequence[float]) -> pd.DataFrame:
    """Sensitivity, specificity, PPV and NPV at ``cutoff`` for each horizon (IPCW, timeROC's estimators).

    Parameters
    ----------
    time : numpy.ndarray of float
        Follow-up (> 0, any unit).
    event : numpy.ndarray of int
        1 = event, 0 = censored.
    risk : numpy.ndarray of float
        Risk score, higher = higher risk (complete).
    cutoff : float
        A patient is positive (high risk) when ``risk > cutoff``.
    horizons : sequence of float
        Times (unit of ``time``), each > 0.

    Returns
    -------
    pandas.DataFrame
        One row per horizon (given order): ``horizon``, ``sensitivity``, ``specificity``, ``ppv``, ``npv``
        (proportions 0..1; NaN where undefined, as timeROC's NA: no case before the horizon for sensitivity
        and PPV, no control after it for specificity and NPV, nobody among the positives / negatives for PPV /
        NPV), ``cases``, ``controls``, ``censored`` (unweighted counts: censored before or observed at the horizon),
        ``positive`` and ``negative`` (patients above / at or below the cut-off).

    Raises
    ------
    RadNomoError
        Inputs of different lengths, a missing risk, or a horizon that is not a positive time.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(int)
    risk = np.asarray(risk, dtype=float)
    if not (time.shape == event.shape == risk.shape) or time.ndim != 1:
        raise RadNomoError("time, event and the risk score must have one value per patient.")
    if not np.isfinite(risk).all():
        raise RadNomoError("the risk score has missing or infinite values; predict every patient first.")
    positive = risk > cutoff
    # G(T_i-) for the cases (pec's subjectTimesLag = 1) and G(t) for the controls.
    g_before = censoring_survival(time, event, time, just_before=True)
    rows = []
    for horizon in horizons:
        horizon = float(horizon)
        if not np.isfinite(horizon) or horizon <= 0:
            raise RadNomoError(f"a horizon must be a positive time in the unit of the follow-up, not {horizon}.")
        case = (time < horizon) & (event == 1)
        control = time > horizon
        case_w = np.where(case, 1.0 / np.where(case, g_before, 1.0), 0.0)
        control_w = control.astype(float)   # 1 / G(t) is common to every control and cancels in each ratio below
        g_at = float(censoring_survival(time, event, np.array([horizon]))[0])
        control_w = control_w / g_at if g_at > 0 else control_w * np.nan
        with np.errstate(invalid="ignore", divide="ignore"):
            sensitivity = case_w[positive].sum() / case_w.sum() if case.any() else np.nan
            specificity = control[~positive].sum() / control.sum() if control.any() else np.nan
            weighted_positive = case_w[positive].sum() + control_w[positive].sum()
            weighted_negative = case_w[~positive].sum() + control_w[~positive].sum()
            # timeROC builds PPV from the sensitivity and NPV from the specificity: NA when either is
            ppv = case_w[positive].sum() / weighted_positive if weighted_positive > 0 and case.any() else np.nan
            npv = (control_w[~positive].sum() / weighted_negative if weighted_negative > 0 and control.any()
                   else np.nan)
        rows.append({"horizon": horizon, "sensitivity": float(sensitivity), "specificity": float(specificity),
                     "ppv": float(ppv), "npv": float(npv), "cases": int(case.sum()), "controls": int(control.sum()),
                     "censored": int(time.size - case.sum() - control.sum()), "positive": int(positive.sum()),
                     "negative": int((~positive).sum())})
    return pd.DataFrame(rows)
