"""Bootstrap optimism of calibration, as rms::calibrate and rms::validate estimate it (Harrell 2015, ch. 5 and 10).

A bootstrap resample's model is scored twice: on the resample it was fitted on (its "training" value) and on the
original cohort (its "test" value); optimism = mean over resamples of (training - test), and the corrected value =
apparent - optimism. For calibration:

* the **curve** (rms::calibrate.default): at each predicted risk of a grid, the lowess-smoothed observed risk
  (``lowess(p, y, iter = 0)``, interpolated linearly at the grid, NaN outside the predictions' range) minus the
  predicted risk; the corrected curve = apparent smoothed risk - optimism. A grid point where a resample's
  smoothed curve is NaN on either side is left out of that point's mean (``n`` counts the resamples used);
* the **logistic recalibration** (rms::validate.lrm): ``logit P(y = 1) = intercept + slope * logit(p)``; on the
  patients a maximum-likelihood logistic model was fitted on it is 0 and 1 by construction, so its optimism is
  0 - (mean test intercept) and 1 - (mean test slope), and the corrected slope is the mean slope of the resample
  models on the original cohort; the **Brier score** mean((y - p)^2) likewise.

The functions here take the resamples' predictions already made (the caller refits whatever it refits: rms its
logistic model, :mod:`core.workflows.validation` the whole pipeline) and compute nothing random.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from core.errors import RadNomoError

__all__ = ["GRID_POINTS", "SMOOTHERS", "calibration_grid", "smoothed_calibration", "logistic_recalibration",
           "brier_score", "resample_calibration", "summarise_curve_optimism", "corrected_calibration_curve",
           "corrected_calibration_indexes", "CALIBRATION_INDEXES"]

# rms::calibrate's grid: 50 equally spaced predicted risks.
GRID_POINTS = 50
# The smoothers of the calibration curve, by name (rms::calibrate's default, "lowess", is the only one).
SMOOTHERS = ("lowess",)
# The recalibration indexes of rms::validate.lrm, in its row order, with the value each has on the patients an
# unpenalised logistic model was fitted on (by construction; None: none by construction).
CALIBRATION_INDEXES = {"intercept": 0.0, "slope": 1.0, "brier": None}
# Probabilities are kept this far from 0 and 1 before their logit is taken (a model that predicts exactly 0 or 1
# would otherwise give an infinite logit and no recalibration fit).
_LOGIT_EPS = 1e-15


def _as_arrays(y, prob) -> tuple[np.ndarray, np.ndarray]:
    """``y`` as 0/1 floats and ``prob`` as floats, checked (same length, probabilities in [0, 1], no NaN)."""
    outcome = np.asarray(y, dtype=float)
    p = np.asarray(prob, dtype=float)
    if outcome.shape != p.shape or outcome.ndim != 1:
        raise RadNomoError(f"calibration needs one outcome per prediction (got {outcome.shape} and {p.shape}).")
    if np.isnan(p).any() or np.isnan(outcome).any():
        raise RadNomoError("calibration: the outcome or the predicted probabilities have missing values; "
                           "drop those patients first.")
    if not np.isin(outcome, (0.0, 1.0)).all():
        raise RadNomoError("calibration needs a binary outcome coded 0/1.")
    if (p < 0).any() or (p > 1).any():
        raise RadNomoError("calibration needs predicted probabilities between 0 and 1.")
    return outcome, p


def calibration_grid(prob, points: int = GRID_POINTS) -> np.ndarray:
    """rms::calibrate's grid of predicted risks: ``points`` equally spaced values from the 5th smallest to the 5th
    largest of ``prob`` (R: ``p <- sort(predicted); seq(p[5], p[n - 4], length = 50)``).

    Raises
    ------
    RadNomoError
        With fewer than 11 predictions (rms: "must have n > 10").
    """
    p = np.sort(np.asarray(prob, dtype=float))
    if len(p) < 11:
        raise RadNomoError(f"the calibration curve's grid needs more than 10 patients (got {len(p)}).")
    return np.linspace(p[4], p[len(p) - 5], points)


def _lowess(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R's ``lowess(p, y, iter = 0)``: span 2/3, no robustness iterations, fits skipped (interpolated) between
    points closer than 1 % of the range of ``p``; returns the sorted ``p`` and the smoothed ``y``."""
    from statsmodels.nonparametric.smoothers_lowess import lowess

    fitted = lowess(y, p, frac=2 / 3, it=0, delta=0.01 * float(np.ptp(p)), return_sorted=True)
    return fitted[:, 0], fitted[:, 1]


def smoothed_calibration(y, prob, grid, smoother: str = "lowess") -> np.ndarray:
    """The smoothed observed risk at each ``grid`` risk (rms::calibrate's ``cal.error`` + ``grid``).

    ``approx(lowess(prob, y, iter = 0), xout = grid, ties = function(x) x[1])$y`` in R: linear interpolation of
    the smoothed curve, the first value at tied predictions, NaN outside the range of ``prob``.

    Parameters
    ----------
    y : array-like of 0/1
    prob : array-like of float
        Predicted probabilities (0-1), one per patient.
    grid : array-like of float
        Predicted risks (0-1) where the curve is read.
    smoother : str
        One of :data:`SMOOTHERS`.

    Returns
    -------
    numpy.ndarray
        The smoothed event fraction (0-1) at each grid point (NaN outside the predictions' range).
    """
    if smoother not in SMOOTHERS:
        raise RadNomoError(f"unknown calibration smoother '{smoother}'; use one of {', '.join(SMOOTHERS)}.")
    outcome, p = _as_arrays(y, prob)
    x, smooth = _lowess(p, outcome)
    # approx(ties = first): one point per distinct prediction, its first smoothed value (tied ones are equal).
    x, first = np.unique(x, return_index=True)
    return np.interp(np.asarray(grid, dtype=float), x, smooth[first], left=np.nan, right=np.nan)


def logistic_recalibration(y, prob) -> tuple[float, float]:
    """Calibration intercept and slope: the maximum-likelihood fit of ``logit P(y = 1) = a + b * logit(prob)``
    (rms::val.prob's and rms::validate's "Intercept" and "Slope"; unitless).

    Returns (NaN, NaN) when they cannot be estimated on these patients (one class only, separation, a constant
    prediction, no convergence): the callers count such resamples.
    """
    import warnings

    import statsmodels.api as sm

    outcome, p = _as_arrays(y, prob)
    logit = np.log(np.clip(p, _LOGIT_EPS, 1 - _LOGIT_EPS)) - np.log1p(-np.clip(p, _LOGIT_EPS, 1 - _LOGIT_EPS))
    if outcome.min() == outcome.max() or np.ptp(logit) == 0:
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # separation and non-convergence are checked below, not warned about
        try:
            fit = sm.Logit(outcome, np.column_stack([np.ones_like(logit), logit])).fit(
                method="newton", tol=1e-12, maxiter=100, disp=0)
        except (np.linalg.LinAlgError, ValueError):
            return float("nan"), float("nan")
    params = np.asarray(fit.params, dtype=float)
    if not fit.mle_retvals.get("converged", False) or not np.isfinite(params).all():
        return float("nan"), float("nan")
    return float(params[0]), float(params[1])


def brier_score(y, prob) -> float:
    """Mean squared difference between the outcome (0/1) and the predicted probability (0-1)."""
    outcome, p = _as_arrays(y, prob)
    return float(np.mean((outcome - p) ** 2))


def resample_calibration(y_resample, prob_resample, y_original, prob_original, grid,
                         smoother: str = "lowess") -> dict[str, object]:
    """One bootstrap resample's calibration: its model scored on the resample it was fitted on and on the
    original cohort.

    Parameters
    ----------
    y_resample, prob_resample : array-like
        The resample's outcomes (0/1) and its model's predicted probabilities on them (0-1).
    y_original, prob_original : array-like
        The original cohort's outcomes and the resample model's predicted probabilities on it.
    grid : array-like
        The risks where the curve is read (:func:`calibration_grid` of the apparent predictions).

    Returns
    -------
    dict
        ``curve``: smoothed observed risk on the resample minus on the original cohort at each grid point (NaN
        where either is outside its predictions' range); ``boot_intercept``, ``boot_slope`` (on the resample: 0
        and 1 for an unpenalised logistic model), ``original_intercept``, ``original_slope`` (on the original
        cohort; NaN when not estimable), ``boot_brier``, ``original_brier``.
    """
    on_boot = smoothed_calibration(y_resample, prob_resample, grid, smoother)
    on_original = smoothed_calibration(y_original, prob_original, grid, smoother)
    boot_intercept, boot_slope = logistic_recalibration(y_resample, prob_resample)
    original_intercept, original_slope = logistic_recalibration(y_original, prob_original)
    return {"curve": on_boot - on_original,
            "boot_intercept": boot_intercept, "boot_slope": boot_slope,
            "original_intercept": original_intercept, "original_slope": original_slope,
            "boot_brier": brier_score(y_resample, prob_resample),
            "original_brier": brier_score(y_original, prob_original)}


def summarise_curve_optimism(y, prob, grid, differences, smoother: str = "lowess") -> pd.DataFrame:
    """The optimism-corrected calibration curve from each resample's :func:`resample_calibration` ``curve``.

    Parameters
    ----------
    y, prob : array-like
        The original cohort's outcomes (0/1) and the apparent model's predicted probabilities (0-1).
    grid : array-like
        The risks of the curves (:func:`calibration_grid` of ``prob``).
    differences : array-like, shape (resamples, len(grid))
        Each resample's smoothed risk on the resample minus on the original cohort (NaN: not estimable there).

    Returns
    -------
    pandas.DataFrame
        One row per grid point: ``predicted`` (the grid risk), ``apparent`` (smoothed observed risk of the apparent
        model on the original cohort), ``optimism`` (mean difference over the resamples where it is estimable),
        ``corrected`` (apparent - optimism), ``n`` (those resamples); risks in 0-1. rms::calibrate's
        ``predy``, ``calibrated.orig``, ``optimism``, ``calibrated.corrected`` and ``n``.
    """
    grid = np.asarray(grid, dtype=float)
    diffs = np.asarray(differences, dtype=float).reshape(-1, len(grid))
    apparent = smoothed_calibration(y, prob, grid, smoother)
    counts = np.isfinite(diffs).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        optimism = np.where(counts > 0, np.nansum(diffs, axis=0) / np.maximum(counts, 1), np.nan)
    return pd.DataFrame({"predicted": grid, "apparent": apparent, "optimism": optimism,
                         "corrected": apparent - optimism, "n": counts.astype(int)})


def _resample_rows(n: int, resamples: Iterable[tuple[Sequence[int], Sequence[float]]]):
    """Each resample as (rows drawn, the resample model's probabilities on every original patient), checked."""
    for number, (drawn, given) in enumerate(resamples, start=1):
        rows, prob = np.asarray(drawn, dtype=int), np.asarray(given, dtype=float)
        if len(prob) != n or rows.ndim != 1 or (len(rows) and (rows.min() < 0 or rows.max() >= n)):
            raise RadNomoError(f"resample {number}: give the 0-based rows drawn (0 to {n - 1}) and the resample "
                               f"model's probability for each of the {n} original patients.")
        yield rows, prob


def corrected_calibration_curve(y, prob, resamples: Iterable[tuple[Sequence[int], Sequence[float]]], *,
                                grid=None, smoother: str = "lowess") -> pd.DataFrame:
    """rms::calibrate's bootstrap optimism-corrected calibration curve (``method = "boot"``).

    Parameters
    ----------
    y, prob : array-like
        The original cohort's outcomes (0/1) and the apparent model's predicted probabilities (0-1).
    resamples : iterable of (rows, resample_prob)
        Per bootstrap resample: the 0-based rows of the original cohort drawn (with repeats), and the probability
        that the model refitted on them predicts for every original patient (so its predictions on the resample
        are ``resample_prob[rows]``, against ``y[rows]``).
    grid : array-like, optional
        The risks where the curve is read; default :func:`calibration_grid` (rms's ``predy``).
    smoother : str
        One of :data:`SMOOTHERS`.

    Returns
    -------
    pandas.DataFrame
        :func:`summarise_curve_optimism`: ``predicted``, ``apparent``, ``optimism``, ``corrected``, ``n``.
    """
    outcome, p = _as_arrays(y, prob)
    grid = calibration_grid(p) if grid is None else np.asarray(grid, dtype=float)
    diffs = [smoothed_calibration(outcome[rows], boot[rows], grid, smoother)
             - smoothed_calibration(outcome, boot, grid, smoother) for rows, boot in _resample_rows(len(p), resamples)]
    return summarise_curve_optimism(outcome, p, grid, np.array(diffs).reshape(-1, len(grid)), smoother)


def corrected_calibration_indexes(y, prob, resamples: Iterable[tuple[Sequence[int], Sequence[float]]]) -> pd.DataFrame:
    """rms::validate.lrm's optimism-corrected calibration intercept, slope and Brier score (``method = "boot"``).

    ``y``, ``prob`` and ``resamples`` as in :func:`corrected_calibration_curve`. The apparent and each resample's
    "training" intercept and slope are computed (not assumed): for an unpenalised logistic model they are 0 and 1
    by construction, as rms sets them. A resample where an index cannot be estimated is left out of its mean.

    Returns
    -------
    pandas.DataFrame
        Index ``index`` (``intercept``, ``slope``, ``brier``); columns ``apparent``, ``training`` (mean on the
        resamples), ``test`` (mean on the original cohort), ``optimism`` (training - test), ``corrected``
        (apparent - optimism), ``n`` (resamples used); unitless (Brier: squared probability).
    """
    outcome, p = _as_arrays(y, prob)
    rows = []
    for drawn, boot in _resample_rows(len(p), resamples):
        result = resample_calibration(outcome[drawn], boot[drawn], outcome, boot, [])
        rows.append(result)
    intercept, slope = logistic_recalibration(outcome, p)
    apparent = {"intercept": intercept, "slope": slope, "brier": brier_score(outcome, p)}
    out = {}
    for index in CALIBRATION_INDEXES:
        train = np.array([r[f"boot_{index}"] for r in rows], dtype=float)
        test = np.array([r[f"original_{index}"] for r in rows], dtype=float)
        ok = np.isfinite(train) & np.isfinite(test)
        training = float(train[ok].mean()) if ok.any() else float("nan")
        tested = float(test[ok].mean()) if ok.any() else float("nan")
        out[index] = {"apparent": apparent[index], "training": training, "test": tested,
                      "optimism": training - tested, "corrected": apparent[index] - (training - tested),
                      "n": int(ok.sum())}
    return pd.DataFrame.from_dict(out, orient="index").rename_axis("index")
