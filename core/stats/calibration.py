"""Calibration of predicted probabilities for a binary outcome, to the standard of rms::val.prob and loess curves.

Two functions, both on one cohort's 0/1 outcomes ``y`` (1 = event) and predicted probabilities ``prob`` (in [0, 1]):

* :func:`calibration_summary`: the numbers of the calibration hierarchy (Van Calster et al., J Clin Epidemiol 2016)
  as ``rms::val.prob`` reports them: calibration-in-the-large, the logistic recalibration's intercept and slope with
  Wald CIs, the lowess-based errors ICI (val.prob's Eavg), E50, E90 and Emax, Spiegelhalter's z, the Brier score,
  and the Hosmer-Lemeshow test (kept, but secondary).
* :func:`flexible_calibration`: the flexible calibration curve, a loess of the outcome on the predicted probability
  (degree 2, span 0.75, as CalibrationCurves::val.prob.ci.2) with its pointwise confidence band, computed as R's
  ``predict(loess(y ~ p, degree = 2, span = 0.75, control = loess.control(surface = "direct", statistics =
  "exact")), se = TRUE)``.

Known answers from R are in tests/reference/calibration_valprob.R.
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass, fields

import numpy as np
import pandas as pd
from scipy import stats

from core.errors import RadNomoError
from core.stats.evaluation import _check_probabilities, hosmer_lemeshow

__all__ = ["CalibrationSummary", "CALIBRATION_SUMMARY_COLUMNS", "FLEXIBLE_CALIBRATION_COLUMNS", "calibration_summary",
           "flexible_calibration", "LOESS_SPAN", "EXACT_DF_LIMIT"]

#: The loess span of the flexible calibration curve (R's loess default, as CalibrationCurves uses it).
LOESS_SPAN = 0.75
#: Up to this many patients the loess band's degrees of freedom are exact (R's statistics = "exact": the n x n
#: operator matrix); above it they are approximated (see :func:`flexible_calibration`).
EXACT_DF_LIMIT = 3000
#: Columns of :func:`flexible_calibration`'s frame.
FLEXIBLE_CALIBRATION_COLUMNS = ("predicted", "observed", "low", "high")
# Operator rows are computed this many matrix entries at a time (8 MB of float64): never an n x n matrix above
# EXACT_DF_LIMIT.
_CHUNK_ENTRIES = 1_000_000


@dataclass(frozen=True)
class CalibrationSummary:
    """How well one cohort's predicted probabilities match its outcomes (one row of ``calibration.csv``).

    All intervals are Wald intervals at the ``level`` asked for (estimate +- z * standard error).

    Attributes
    ----------
    n, events : int
        Patients evaluated and events among them.
    citl, citl_low, citl_high : float
        Calibration-in-the-large (log-odds): the intercept of a logistic model of the outcome with logit(prob) as
        offset. 0 = right on average; > 0 = predictions too low; < 0 = too high.
    intercept, intercept_low, intercept_high : float
        Calibration intercept of the logistic recalibration y ~ logit(prob) (rms::val.prob's "Intercept"; log-odds).
        It goes with the slope; it is not calibration-in-the-large unless the slope is 1.
    slope, slope_low, slope_high : float
        Calibration slope: the coefficient of logit(prob) in that model (val.prob's "Slope"). 1 = ideal; < 1 =
        predictions too extreme (overfitting); > 1 = too moderate. On the training cohort of a logistic model the
        apparent slope is 1 and the intercept 0 by construction.
    ici, e50, e90, emax : float
        Absolute differences (probability scale) between each patient's predicted probability and the lowess
        calibration curve at it (val.prob's smoother: ``lowess(p, y, iter = 0)``): their mean (the integrated
        calibration index, val.prob's "Eavg"), median, 90th percentile (R's quantile type 7) and maximum.
    spiegelhalter_z, spiegelhalter_p : float
        Spiegelhalter's z test of calibration (val.prob's "S:z", "S:p"); two-sided p.
    brier : float
        Mean squared difference between probability and outcome.
    hl_statistic, hl_df, hl_p : float, int, float
        Hosmer-Lemeshow test over deciles of predicted risk (secondary: it depends on the grouping and on n).
    notes : tuple of str
        What the numbers left out or could not compute, in words (e.g. probabilities of exactly 0 or 1, which
        have no logit, are left out of the three logistic models as val.prob leaves them out). Not a column of
        ``as_row``.
    """

    n: int
    events: int
    citl: float
    citl_low: float
    citl_high: float
    intercept: float
    intercept_low: float
    intercept_high: float
    slope: float
    slope_low: float
    slope_high: float
    ici: float
    e50: float
    e90: float
    emax: float
    spiegelhalter_z: float
    spiegelhalter_p: float
    brier: float
    hl_statistic: float
    hl_df: int
    hl_p: float
    notes: tuple[str, ...] = ()

    def as_row(self) -> dict[str, float | int]:
        """The statistics by :data:`CALIBRATION_SUMMARY_COLUMNS`, in that order (``notes`` left out)."""
        values = astuple(self)
        return {name: values[i] for i, name in enumerate(CALIBRATION_SUMMARY_COLUMNS)}


#: The columns of :meth:`CalibrationSummary.as_row`, in order: every field of :class:`CalibrationSummary` but notes.
CALIBRATION_SUMMARY_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(CalibrationSummary) if f.name != "notes")


def _check_level(level: float) -> float:
    level = float(level)
    if not 0 < level < 1:
        raise RadNomoError(f"the confidence level must lie strictly between 0 and 1 (e.g. 0.95); got {level:g}.")
    return level


def _outcome_and_probability(y, prob, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Validated 0/1 outcome (int) and probabilities (float) of the same patients; refuses anything missing."""
    _check_probabilities(prob, what)
    p = np.asarray(prob, dtype=float).ravel()
    outcome = np.asarray(y, dtype=float).ravel()
    if len(outcome) != len(p):
        raise RadNomoError(f"{what}: the outcome has {len(outcome)} values and the probabilities {len(p)}; pass one "
                           "of each per patient.")
    missing = int((~np.isfinite(outcome)).sum())
    if missing:
        raise RadNomoError(f"{what} needs the outcome of every patient; {missing} of {len(outcome)} are missing. "
                           "Drop those patients explicitly (with their probabilities) before calling it.")
    if not set(np.unique(outcome)) <= {0.0, 1.0}:
        raise RadNomoError(f"{what} needs a 0/1 outcome (1 = event); found values such as "
                           f"{sorted(set(np.unique(outcome)) - {0.0, 1.0})[:3]}.")
    if len(np.unique(outcome)) < 2:
        raise RadNomoError(f"{what} needs both events and non-events among the patients evaluated; all "
                           f"{len(outcome)} have outcome {int(outcome[0]) if len(outcome) else 'none'}.")
    if np.ptp(p) == 0:
        raise RadNomoError(f"{what} needs predicted probabilities that differ between patients; all {len(p)} are "
                           f"{p[0]:g}, so there is no calibration slope or curve to estimate.")
    return outcome.astype(int), p


def _logistic(outcome: np.ndarray, design: np.ndarray, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood logistic regression by Newton-Raphson: coefficients and their covariance matrix.

    The covariance is the inverse Fisher information at the estimate (as R's glm). Converges to machine precision
    (the known answers compare with R at 1e-8 and better), or raises.
    """
    def deviance_at(coefficients: np.ndarray) -> float:
        eta = offset + design @ coefficients
        return float(-2 * np.sum(outcome * eta - np.logaddexp(0, eta)))

    beta = np.zeros(design.shape[1])
    deviance = deviance_at(beta)
    for _ in range(100):
        mu = 1 / (1 + np.exp(-(offset + design @ beta)))
        information = design.T @ (design * (mu * (1 - mu))[:, None])
        step = np.linalg.solve(information, design.T @ (outcome - mu))
        new_deviance = deviance_at(beta + step)
        halvings = 0
        while new_deviance > deviance + 1e-12 * (abs(deviance) + 0.1) and halvings < 30:  # step-halving, as glm
            step = step / 2
            new_deviance = deviance_at(beta + step)
            halvings += 1
        beta = beta + step
        converged = abs(deviance - new_deviance) <= 1e-15 * (abs(new_deviance) + 0.1) or \
            float(np.max(np.abs(step))) <= 1e-13 * (1 + float(np.max(np.abs(beta))))
        deviance = new_deviance
        if converged:
            break
    else:
        raise RadNomoError("the logistic recalibration did not converge in 100 Newton steps; the predicted "
                           "probabilities may (nearly) separate events from non-events. Inspect them on this cohort.")
    mu = 1 / (1 + np.exp(-(offset + design @ beta)))
    covariance = np.linalg.inv(design.T @ (design * (mu * (1 - mu))[:, None]))
    return beta, covariance


def _r_lowess(x: np.ndarray, y: np.ndarray, f: float, delta: float) -> np.ndarray:
    """R's ``lowess(x, y, f, iter = 0, delta)$y`` for ``x`` sorted ascending: a port of clowess/lowest (R's lowess.c).

    Local linear fits with tricube weights on the ns = f * n nearest points (ties on the right picked up), weights
    of 1 within 0.001 h and 0 beyond 0.999 h, the slope dropped where the points are not spread out; fits only
    every ``delta`` along x, linear interpolation between, tied x given the same fit. Ported rather than taken
    from statsmodels because the two differ by up to ~3e-7 near the ends (neighbourhood and skipping details),
    and val.prob's errors should be R's to ~1e-12.
    """
    n = len(x)
    fitted = np.empty(n)
    if n < 2:
        fitted[:] = y
        return fitted
    ns = max(2, min(n, int(f * n + 1e-7)))
    spread = x[-1] - x[0]
    # 0-based translation of clowess: nleft, nright, i, last are indices into the sorted arrays.
    nleft, nright, last, i = 0, ns - 1, -1, 0
    while True:
        if nright < n - 1 and x[i] - x[nleft] > x[nright + 1] - x[i]:
            nleft += 1
            nright += 1
            continue
        xs = x[i]
        h = max(xs - x[nleft], x[nright] - xs)
        window = x[nleft:]
        r = np.abs(window - xs)
        beyond = np.flatnonzero((r > 0.999 * h) & (window > xs))
        stop = int(beyond[0]) if len(beyond) else len(window)  # rightmost point nrt = nleft + stop - 1
        xw, yw, rw = window[:stop], y[nleft:nleft + stop], r[:stop]
        w = np.where(rw <= 0.999 * h, np.where(rw <= 0.001 * h, 1.0, (1 - (rw / h) ** 3) ** 3), 0.0)
        total = w.sum()
        if total <= 0:
            fitted[i] = y[i]
        else:
            w = w / total
            if h > 0:
                centre = float(np.sum(w * xw))
                b = xs - centre
                c = float(np.sum(w * (xw - centre) ** 2))
                if math.sqrt(c) > 0.001 * spread:
                    w = w * (b / c * (xw - centre) + 1.0)
            fitted[i] = float(np.sum(w * yw))
        if last < i - 1:
            skipped = np.arange(last + 1, i)
            alpha = (x[skipped] - x[last]) / (x[i] - x[last])
            fitted[skipped] = alpha * fitted[i] + (1 - alpha) * fitted[last]
        last = i
        cut = x[last] + delta
        j = last + 1
        while j < n:
            if x[j] > cut:
                break
            if x[j] == x[last]:
                fitted[j] = fitted[last]
                last = j
            j += 1
        i = max(last + 1, j - 1)
        if last >= n - 1:
            return fitted


def _lowess_errors(outcome: np.ndarray, p: np.ndarray) -> np.ndarray:
    """|p - lowess calibration curve at p| per patient, as rms::val.prob computes its Emax, E90 and Eavg.

    val.prob: ``Sm <- lowess(p, y, iter = 0); approx(Sm, xout = p, ties = mean)$y``: R's lowess (span 2/3,
    delta = 1 % of the range of p) on the patients ordered by p (R's order(): stable), then read at each p, the
    fits of tied p averaged (they are equal: lowess gives tied x one fit).
    """
    order = np.argsort(p, kind="stable")
    smooth = _r_lowess(p[order], outcome[order].astype(float), 2 / 3, 0.01 * float(np.ptp(p)))
    values, index = np.unique(p[order], return_inverse=True)
    tied_mean = np.bincount(index, weights=smooth, minlength=len(values)) / np.bincount(index, minlength=len(values))
    at_patient = np.empty(len(p))
    at_patient[order] = tied_mean[index]
    return np.abs(p - at_patient)


def _spiegelhalter(outcome: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Spiegelhalter's z and its two-sided p, as val.prob's Spi(): sum((y - p)(1 - 2p)) / sqrt(sum((1-2p)^2 p(1-p)))."""
    denominator = float(np.sum((1 - 2 * p) ** 2 * p * (1 - p)))
    if denominator <= 0:
        return math.nan, math.nan
    z = float(np.sum((outcome - p) * (1 - 2 * p))) / math.sqrt(denominator)
    return z, float(2 * stats.norm.sf(abs(z)))


def calibration_summary(y, prob, level: float = 0.95) -> CalibrationSummary:
    """The calibration statistics of one cohort, as rms::val.prob gives them, with Wald CIs (see CalibrationSummary).

    Parameters
    ----------
    y : array-like of 0/1
        Outcome per patient (1 = event); none missing.
    prob : array-like of float in [0, 1]
        Predicted probability of the event per patient (not a score or a linear predictor); none missing.
    level : float
        Confidence level of the intervals (0.95 = 95 %).

    Returns
    -------
    CalibrationSummary
        As val.prob: calibration intercept and slope of ``glm(y ~ qlogis(p), binomial)`` (val.prob's Intercept,
        Slope) with ``confint.default``; calibration-in-the-large from ``glm(y ~ 1, offset = qlogis(p))``;
        Emax, E90, Eavg (= ICI) and E50 from ``lowess(p, y, iter = 0)``; S:z, S:p; Brier; Hosmer-Lemeshow over
        deciles (:func:`core.stats.evaluation.hosmer_lemeshow`). Probabilities of exactly 0 or 1 are left out of
        the three logistic models (their logit is infinite; val.prob drops them with a warning) and kept in every
        other number; ``notes`` says how many.

    Raises
    ------
    RadNomoError
        Missing or out-of-range values, a non-0/1 outcome, a single outcome class, constant probabilities or a
        bad level. Probabilities that separate events from non-events perfectly (an infinite slope) give NaN
        intercept and slope (with their CIs) and a note, not an error.
    """
    what = "the calibration summary"
    level = _check_level(level)
    outcome, p = _outcome_and_probability(y, prob, what)
    notes: list[str] = []
    finite = (p > 0) & (p < 1)
    if not finite.all():
        notes.append(f"{int((~finite).sum())} of {len(p)} patients with a predicted probability of exactly 0 or 1 "
                     "(no logit) are left out of calibration-in-the-large and the calibration intercept and slope, "
                     "as rms::val.prob leaves them out; every other statistic includes them.")
    y_fit, logit = outcome[finite], np.log(p[finite] / (1 - p[finite]))
    if len(np.unique(y_fit)) < 2 or np.ptp(logit) == 0:
        raise RadNomoError(f"{what}: once the probabilities of exactly 0 or 1 are left out, the remaining "
                           f"{len(y_fit)} patients have a single outcome class or a single probability; the logistic "
                           "recalibration cannot be estimated.")
    z = float(stats.norm.ppf(0.5 + level / 2))
    ones = np.ones((len(y_fit), 1))
    (citl,), citl_cov = _logistic(y_fit, ones, logit)
    citl_se = math.sqrt(citl_cov[0, 0])
    if logit[y_fit == 0].max() <= logit[y_fit == 1].min():
        # (Quasi-)complete separation: the recalibration's maximum likelihood is at an infinite slope.
        recal, intercept_se, slope_se = np.array([math.nan, math.nan]), math.nan, math.nan
        notes.append("the predicted probabilities separate events from non-events perfectly (no event has a lower "
                     "probability than a non-event), so the calibration slope is infinite and the calibration "
                     "intercept and slope are not given; check for a leak or a very small cohort.")
    else:
        recal, recal_cov = _logistic(y_fit, np.column_stack([ones[:, 0], logit]), np.zeros(len(y_fit)))
        intercept_se, slope_se = math.sqrt(recal_cov[0, 0]), math.sqrt(recal_cov[1, 1])

    errors = _lowess_errors(outcome, p)
    spiegelhalter_z, spiegelhalter_p = _spiegelhalter(outcome, p)
    if math.isnan(spiegelhalter_z):
        notes.append("Spiegelhalter's z is undefined here (every probability is 0, 0.5 or 1).")
    hl = hosmer_lemeshow(outcome, p)
    return CalibrationSummary(
        n=len(outcome), events=int(outcome.sum()),
        citl=float(citl), citl_low=float(citl - z * citl_se), citl_high=float(citl + z * citl_se),
        intercept=float(recal[0]), intercept_low=float(recal[0] - z * intercept_se),
        intercept_high=float(recal[0] + z * intercept_se),
        slope=float(recal[1]), slope_low=float(recal[1] - z * slope_se), slope_high=float(recal[1] + z * slope_se),
        ici=float(errors.mean()), e50=float(np.median(errors)), e90=float(np.quantile(errors, 0.9)),
        emax=float(errors.max()), spiegelhalter_z=spiegelhalter_z, spiegelhalter_p=spiegelhalter_p,
        brier=float(np.mean((p - outcome) ** 2)), hl_statistic=float(hl.statistic), hl_df=int(hl.df),
        hl_p=float(hl.p_value), notes=tuple(notes))


# ---------------------------------------------------------------------------------------------
# Flexible (loess) calibration curve
# ---------------------------------------------------------------------------------------------


def _neighbourhood_radius2(sorted_x: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    """Squared distance from each point of ``q`` to its k-th nearest x (loess's rho, ehg127: dist(psi(nf))).

    The k nearest of sorted 1-D points form a window xs[lo:lo + k]; the best window is where xs[lo] + xs[lo+k-1]
    first reaches 2q (a binary search), give or take one for rounding, so every neighbour of the three is tried.
    """
    n = len(sorted_x)
    sums = sorted_x[: n - k + 1] + sorted_x[k - 1:]
    centre = np.searchsorted(sums, 2 * q, side="left")
    best = np.full(len(q), np.inf)
    for shift in (-1, 0, 1):
        lo = np.clip(centre + shift, 0, n - k)
        far = np.maximum((sorted_x[lo] - q) ** 2, (sorted_x[lo + k - 1] - q) ** 2)
        best = np.minimum(best, far)
    return best


@dataclass(frozen=True)
class _LocalFits:
    """The local quadratic fits of a loess at some points ``q`` (one row per point).

    ``weights``: tricube weights (len(q) x (stop - start)) of the patients sorted by p from ``start`` to ``stop``
    (every patient outside has weight 0); ``radius``: the neighbourhood radius h =
    sqrt(rho); ``coefficients``: a = M^-1 e1 in u = (x - q) / h, so that the operator row is w * (a0 + a1 u + a2 u^2);
    ``response``: sum w u^k y (k = 0..2), so that the fit is a . response; ``squares``: the 3 x 3 matrix of
    sum w^2 u^(k+l), so that the row's sum of squares is a' squares a; ``usable``: rows whose moments give the fit
    to ~1e-11 (the others are computed as R does, by :func:`_svd_rows`).
    """

    q: np.ndarray
    start: int
    stop: int
    weights: np.ndarray
    radius: np.ndarray
    coefficients: np.ndarray
    response: np.ndarray
    squares: np.ndarray
    usable: np.ndarray

    def rows(self, sorted_x: np.ndarray) -> tuple[np.ndarray, int]:
        """The operator rows (len(q) x n, the patients sorted by p: fit(q) = rows @ y sorted alike), and how many
        of them needed a pseudo-inverse (a rank-deficient local design)."""
        x = sorted_x[self.start:self.stop]
        u = (x[None, :] - self.q[:, None]) / self.radius[:, None]
        a = self.coefficients
        rows = np.zeros((len(self.q), len(sorted_x)))
        rows[:, self.start:self.stop] = self.weights * (a[:, :1] + u * (a[:, 1:2] + a[:, 2:3] * u))
        deficient = 0
        if not self.usable.all():
            redo = ~self.usable
            rows[redo, self.start:self.stop], deficient = _svd_rows(x, self.q[redo], self.weights[redo])
        return rows, deficient


def _about(raw: np.ndarray, shift: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Moments sum w (x - q)^k / h^k (k = 0..K) from the raw moments sum w x'^k, x' = x - centre, shift = q - centre.

    Binomial expansion; the chunk's points are close to the centre, so the terms nearly never cancel.
    """
    degree = raw.shape[1]
    out = np.zeros_like(raw)
    for k in range(degree):
        for m in range(k + 1):
            out[:, k] += math.comb(k, m) * (-shift) ** (k - m) * raw[:, m]
        out[:, k] /= scale ** k
    return out


def _local_fits(sorted_x: np.ndarray, sorted_y: np.ndarray, q: np.ndarray, k: int) -> _LocalFits:
    """The loess local quadratics at ``q`` (degree 2, tricube weights, k nearest patients), as R's ehg127.

    For each q the k nearest x give rho (squared radius); weight (1 - (|x - q| / sqrt(rho))^3)^3 inside, 0 outside;
    the local quadratic in (x - q) is fitted by weighted least squares and its intercept is the fit. The weighted
    moments come from one matrix product per chunk (BLAS) about a centre near the chunk's points, so a 10,000-
    patient curve takes seconds; the 3 x 3 systems are solved in u = (x - q) / h, well conditioned. Where one is
    not (cond > 1e8: fewer than three distinct x carry weight, or ties), the row is redone as R does it.
    Works on the patients sorted by p (``sorted_x``, ``sorted_y``), only on those within some point's radius.
    """
    rho = _neighbourhood_radius2(sorted_x, q, k)
    if np.any(rho <= 0):
        raise RadNomoError("the loess calibration curve needs neighbourhoods of non-zero width, but more than "
                           f"{k} of the {len(sorted_x)} patients (the span, {LOESS_SPAN:.0%}) share one predicted "
                           "probability. Too few distinct probabilities for a flexible curve: use the grouped "
                           "(decile) calibration plot.")
    radius = np.sqrt(rho)
    # Only patients within some point's radius carry weight (a relative margin far above rounding keeps them all).
    start = int(np.searchsorted(sorted_x, float(np.min(q - radius * (1 + 1e-9))), side="left"))
    stop = int(np.searchsorted(sorted_x, float(np.max(q + radius * (1 + 1e-9))), side="right"))
    x, y = sorted_x[start:stop], sorted_y[start:stop]
    # weights, in place: t = (x - q)^2 / rho, w = max(0, 1 - t^1.5)^3 (0 from the k-th neighbour's distance on)
    w = x[None, :] - q[:, None]
    np.multiply(w, w, out=w)
    w *= (1 / rho)[:, None]
    r3 = np.sqrt(w)
    r3 *= w
    np.subtract(1.0, r3, out=w)
    np.maximum(w, 0.0, out=w)
    cube = w * w
    cube *= w
    weights = cube
    centre = float(np.median(q))
    shifted = x - centre
    powers = np.column_stack([shifted ** m for m in range(5)] + [y * shifted ** m for m in range(3)])
    raw = weights @ powers
    raw2 = (weights * weights) @ powers[:, :5]
    shift = q - centre
    s = _about(raw[:, :5], shift, radius)
    response = _about(raw[:, 5:], shift, radius)
    g = _about(raw2, shift, radius)
    index = np.add.outer(np.arange(3), np.arange(3))
    moments = s[:, index]
    squares = g[:, index]
    # Normal equations lose about cond(moments) * 1e-16 and the expansion about the centre (1 + |q - centre| / h)^4
    # of that again: rows where the two together could pass ~1e-11 are computed as R does (_svd_rows): weight far
    # from q and tightly clustered (skewed probabilities), or fewer than three distinct p carrying weight.
    condition = np.linalg.cond(moments) * (1 + np.abs(shift) / radius) ** 4
    usable = np.isfinite(condition) & (condition < 1e5)
    coefficients = np.zeros((len(q), 3))
    if usable.any():
        unit = np.zeros((int(usable.sum()), 3, 1))
        unit[:, 0, 0] = 1.0
        coefficients[usable] = np.linalg.solve(moments[usable], unit)[..., 0]
    return _LocalFits(q=q, start=start, stop=stop, weights=weights, radius=radius, coefficients=coefficients,
                      response=response, squares=squares, usable=usable)


def _svd_rows(x: np.ndarray, q: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, int]:
    """Operator rows at the points ``q`` as R's ehg127 computes them (batched), and how many were rank-deficient.

    Design columns sqrt(w) * (1, x - q, (x - q)^2), each scaled to unit norm (equilibrated); its SVD, singular values
    at or below 100 * machine epsilon * the largest treated as zero (R's pseudo-inverse, which R warns about); the
    intercept's row of the (pseudo-)inverse, unscaled, times sqrt(w). Backward stable: used where the moments are not.
    """
    root = np.sqrt(w)
    d = x[None, :] - q[:, None]
    design = np.stack([root, root * d, root * d * d], axis=-1)
    norms = np.linalg.norm(design, axis=1)
    norms[norms == 0] = 1.0
    design /= norms[:, None, :]
    left, sigma, right_t = np.linalg.svd(design, full_matrices=False)
    keep = sigma > sigma[:, :1] * 100 * np.finfo(float).eps
    inverse = np.divide(1.0, sigma, out=np.zeros_like(sigma), where=keep)
    # first row of V S^+ U': sum over j of V[0, j] / s_j * U[:, j]
    rows = np.einsum("cj,cmj->cm", right_t[:, :, 0] * inverse, left) / norms[:, :1] * root
    return rows, int((~keep).any(axis=1).sum())


def flexible_calibration(y, prob, level: float = 0.95, points: int = 100) -> pd.DataFrame:
    """The flexible calibration curve: a loess of the outcome on the predicted probability with a pointwise band.

    As R's ``predict(loess(y ~ p, degree = 2, span = 0.75, family = "gaussian", control = loess.control(surface =
    "direct", statistics = "exact")), newdata, se = TRUE)`` (the curve of CalibrationCurves::val.prob.ci.2 and Van
    Calster et al. 2016, without the kd-tree interpolation): band = fit +- qt(0.5 + level / 2, df) * se, with
    se = residual scale * sqrt(sum of the squared operator row), residual scale = sqrt(RSS / delta1) and
    df = delta1^2 / delta2 (delta1 = tr((I - L)^T (I - L)), delta2 = tr(((I - L)^T (I - L))^2), L the n x n
    operator of the fit at the patients).

    Up to :data:`EXACT_DF_LIMIT` patients delta1 and delta2 are exact, as R's. Above it, delta2 would need the
    full n x n product (O(n^3)); delta1 stays exact (row by row, in chunks, never an n x n matrix) and df is
    taken as delta1 (delta2 ~= delta1 when the operator is close to a projection). With thousands of residual
    degrees of freedom the t quantile hardly moves: the band's width changed by 2e-6 of itself at n = 400 and
    4e-8 at n = 3,000 (a test compares the two). ``attrs["df_exact"]`` says which was used.

    Parameters
    ----------
    y : array-like of 0/1
        Outcome per patient (1 = event); none missing.
    prob : array-like of float in [0, 1]
        Predicted probability per patient; none missing; not all equal.
    level : float
        Confidence level of the pointwise band (0.95 = 95 %).
    points : int
        Number of equally spaced evaluation points from min(prob) to max(prob) (R: seq(min, max, length.out)).

    Returns
    -------
    pandas.DataFrame
        ``predicted`` (the evaluation point, probability scale), ``observed`` (the loess estimate of the event
        probability there), ``low`` and ``high`` (the pointwise band). Raw numbers: the loess of a 0/1 outcome may
        leave [0, 1] (clip for drawing only). ``attrs``: ``df`` (degrees of freedom of the t quantile),
        ``df_exact`` (bool), ``residual_scale``, ``level``, ``notes`` (tuple of str: e.g. neighbourhoods where the
        local fit needed a pseudo-inverse, as R warns).

    Raises
    ------
    RadNomoError
        Missing or out-of-range values, a non-0/1 outcome, one outcome class, constant probabilities, fewer than
        4 patients, a bad level or number of points, or more patients sharing one probability than the span holds.
    """
    what = "the flexible calibration curve"
    level = _check_level(level)
    if isinstance(points, bool) or not isinstance(points, int | np.integer) or points < 2:
        raise RadNomoError(f"{what} needs at least 2 evaluation points (an integer); got {points!r}.")
    outcome, x = _outcome_and_probability(y, prob, what)
    n = len(x)
    k = min(n, math.floor(n * LOESS_SPAN + 1e-5))  # R's loess_workspace: nf
    if k < 3:
        raise RadNomoError(f"{what} needs at least 4 patients (a local quadratic on {LOESS_SPAN:.0%} of them); "
                           f"got {n}.")
    # Everything below works on the patients sorted by p (the operator's traces do not depend on the order).
    order = np.argsort(x, kind="stable")
    sorted_x, sorted_y = x[order], outcome[order].astype(float)
    grid = np.linspace(x.min(), x.max(), int(points))
    chunk = max(1, _CHUNK_ENTRIES // n)

    # The curve at the evaluation points, a few neighbouring points at a time (their moments are taken about a
    # centre near them: see _about).
    grid_rows = np.empty((len(grid), n))
    singular = 0
    for start in range(0, len(grid), 8):
        fits = _local_fits(sorted_x, sorted_y, grid[start:start + 8], k)
        grid_rows[start:start + 8], deficient = fits.rows(sorted_x)
        singular += deficient
    fit = grid_rows @ sorted_y
    unit_se = np.sqrt(np.sum(grid_rows ** 2, axis=1))

    # The fit at every patient (residual scale) and delta1, delta2 (degrees of freedom), chunk by chunk over the
    # patients in increasing p (so that each chunk's points are close together).
    exact = n <= EXACT_DF_LIMIT
    fitted = np.empty(n)
    full = np.empty((n, n)) if exact else None
    delta1 = 0.0
    for start in range(0, n, chunk):
        at = np.arange(start, min(n, start + chunk))
        fits = _local_fits(sorted_x, sorted_y, sorted_x[at], k)
        if full is not None:
            rows, deficient = fits.rows(sorted_x)
            singular += deficient
            full[at] = rows
            fitted[at] = rows @ sorted_y
            continue
        # From the moments: the operator's diagonal is a0 (weight 1 and u = 0 at the patient itself) and its row's
        # sum of squares a'Ga; the rows the moments cannot give exactly enough are computed explicitly.
        good, redo = fits.usable, np.flatnonzero(~fits.usable)
        a = fits.coefficients[good]
        fitted[at[good]] = np.einsum("ij,ij->i", a, fits.response[good])
        delta1 += float(np.sum(1 - 2 * a[:, 0] + np.einsum("ij,ijk,ik->i", a, fits.squares[good], a)))
        if len(redo):
            x_slice = sorted_x[fits.start:fits.stop]
            rows, deficient = _svd_rows(x_slice, sorted_x[at[redo]], fits.weights[redo])
            singular += deficient
            fitted[at[redo]] = rows @ sorted_y[fits.start:fits.stop]
            diagonal = rows[np.arange(len(redo)), at[redo] - fits.start]
            delta1 += float(np.sum(1 - 2 * diagonal + np.sum(rows ** 2, axis=1)))
    if full is not None:
        # R's lowesc: LL = (I - L)(I - L)'; delta1 = tr(LL); delta2 = tr(LL^2) = sum(LL^2) (LL is symmetric).
        full[np.diag_indices(n)] -= 1
        product = full @ full.T
        delta1 = float(np.trace(product))
        delta2 = float(np.sum(product ** 2))
        del full, product
    else:
        delta2 = delta1
    residual_scale = math.sqrt(float(np.sum((sorted_y - fitted) ** 2)) / delta1)
    df = delta1 ** 2 / delta2
    half = float(stats.t.ppf(0.5 + level / 2, df)) * residual_scale * unit_se
    frame = pd.DataFrame({"predicted": grid, "observed": fit, "low": fit - half, "high": fit + half})
    notes = []
    if singular:
        notes.append(f"the local quadratic was singular in {singular} neighbourhood(s) (fewer than three distinct "
                     "probabilities carry weight there); a pseudo-inverse was used, as R's loess does with a "
                     "warning.")
    if not exact:
        notes.append(f"above {EXACT_DF_LIMIT} patients the band's degrees of freedom are approximated by delta1 "
                     f"({df:.1f}); the residual scale is exact.")
    frame.attrs.update({"df": df, "df_exact": exact, "residual_scale": residual_scale, "level": level,
                        "notes": tuple(notes)})
    return frame
