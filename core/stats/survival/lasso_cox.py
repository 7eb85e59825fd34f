"""The LASSO-Cox path and its cross-validation, computed the way R's glmnet 4.1-6 does (``family = "cox"``).

Written by hand, compiled with numba: scikit-survival (whose CoxnetSurvivalAnalysis is close) needs a newer
scikit-learn than the product's, lifelines has no L1 path, and neither reproduces glmnet's lambda sequence,
its stopping rules or cv.glmnet's grouped partial-likelihood deviance. This module follows glmnet's Fortran
(``coxnet1`` in ``mortran/coxnet5dpclean.m``) and its R code (``cv.glmnet.raw``, ``buildPredmat.coxnetlist``,
``cv.coxnet``, ``cvstats``, ``getOptcv.glmnet``):

* the Breslow partial likelihood (ties share one risk set), no intercept, observation weights 1/n;
* features centred and scaled by their population SD (1/n variance) inside, coefficients returned on the
  original scale (``standardize = TRUE``);
* lambda_max = max_j |x_j' r| at the null model (r: the partial likelihood's gradient with respect to the
  linear predictor), then ``n_lambda`` values log-evenly down to ``lambda_min_ratio`` x lambda_max (1e-4 when
  there are at least as many patients as features, else 1e-2); glmnet fits its first lambda as infinite and
  reports it extrapolated from the next two (``fix.lam``);
* each lambda solved by IRLS with the diagonal of the partial likelihood's Hessian as weights and cyclic
  coordinate descent, warm-started, with the sequential strong rule and a KKT check over all features;
* the path ends early as glmnet's Cox path does: after 5 lambdas, once the fraction of the null deviance
  explained grew by less than 0.1 % (relative) over the last 4, or exceeds 0.99 (``glmnet.control``'s fdev 1e-5
  and devmax 0.999, rescaled by ``coxnet1`` to 1e-3 and 0.99), or when more than ``dfmax`` features are in;
* cross-validation: each fold fits its own path, its coefficients are interpolated linearly in lambda at the
  full data's lambdas; the fold's deviance is the partial-likelihood deviance of all patients minus that of
  the training part, both at the fold's coefficients, per event of the held-out fold; the curve is the mean
  over folds weighted by their events, its SE the weighted SD over sqrt(K - 1) (grouped = TRUE); or Harrell's
  C of the held-out fold, weighted by fold size (type.measure = "C").

Ties between an event and a censoring at the same time: the censored patient is in the risk set, as in
survival::coxph and as glmnet intends (it adds 100 machine epsilons to censored times; for times of 256 or more
in the unit given that shift is lost to rounding and glmnet's risk sets then follow its quicksort's order, so
its answers change with the time unit; ours do not: the partial likelihood depends on the order of times only).

The iterations are glmnet's own (the same weights, coordinate order, strong rule and convergence test), so at
the same ``tol`` (glmnet's ``thresh``) the path and the cross-validated curves equal R's to rounding (~1e-13 on
tests/reference/glmnet_cox.R's problems) and take the same number of sweeps. Each sweep costs about half of
glmnet's (the weighted features are kept per IRLS step, made only for those that move, and the linear
predictor is moved once per step): a full 500 x 500 path (100 lambdas, 59,181 sweeps in both) took 16 s of CPU
against glmnet's 35 s.

Where a path with about as many features as patients runs on to a saturated fit it is still slow
(bench/lasso_cox.py's 1,000 x 1,000: 95 % of its 24,584 sweeps in its last 50 lambdas, 25 s per path), past any
lambda cross-validation chooses: each of those lambdas takes 100-200 IRLS steps of ~5 sweeps. Two faster forms
were tried and measured slower (issue 27): coordinate descent in covariance form (Gram rows of the strong set,
remade at every IRLS step for its ~5 sweeps: 4.5x slower on 1,000 x 200, 18x on 1,000 x 1,000), and Newton jumps
on the active set with the partial likelihood's exact Hessian, as core.stats.lasso_path makes for the binomial
(near saturation the active set nears n features and that Hessian is singular: the jumps failed their objective
check; 2 % of the sweeps saved on 300 x 300, at a higher cost per lambda). Passing over the zero coefficients
whose gradient provably stays within lambda (a Cauchy-Schwarz bound from the step's first gradients) kept the
iterates bit for bit but saved nothing: the bound is too loose. So glmnet's own iterations are kept, and with them
its answers at its thresh, to rounding.
"""

from __future__ import annotations

import math
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numba import njit
from threadpoolctl import threadpool_limits

from core.errors import RadNomoError
from core.stats.modeling import convergence_warning
from core.stats.selection import ALL_ROWS, PathConvergence, stratified_folds
from core.vocabulary import LASSO_COX_MEASURES, LASSO_RULES, check_option

__all__ = ["LassoCoxPath", "LassoCoxCV", "lasso_cox_path", "lasso_cox_cv", "cox_deviance", "lambda_sequence"]

# glmnet.control() factory defaults, as coxnet1 uses them.
FDEV = 1e-5 * 100  # coxnet1 multiplies fdev by 100: the path ends when deviance explained grows by < 0.1 %
# ... and rescales devmax to 0.99, with single-precision literals (0.99 and 0.999 are REAL in its Fortran)
DEVMAX = 0.999 * float(np.float32(0.99)) / float(np.float32(0.999))
MIN_LAMBDAS = 5  # the stopping rules apply from the 5th lambda, comparing with the one 4 before
EPS = 1e-6  # smallest lambda.min.ratio
BIG = 9.9e35  # glmnet's stand-in for an infinite lambda
TOL = 1e-7  # convergence, relative to the null deviance (glmnet's thresh default)
FMAX = math.log(sys.float_info.max * 0.1)  # linear predictors are clamped to +-this before exp, as glmnet's
MAX_ITER = 100_000  # coordinate-descent sweeps per lambda (glmnet's maxit, which it counts over the whole path)


def _ratio(n_lambda: int, min_ratio: float) -> float:
    """glmnet's step between lambdas, alf = min_ratio^(1 / (n_lambda - 1)), with the exponent in single precision
    as its Fortran computes it (``1.0/(nlam-1)``: REAL literals). Exact double precision would drift from R's
    lambdas by ~1e-10 per step (5e-9 at the 60th)."""
    return float(max(EPS, min_ratio) ** float(np.float32(1.0) / np.float32(n_lambda - 1)))


def lambda_sequence(lam_max: float, n_lambda: int, min_ratio: float) -> np.ndarray:
    """glmnet's lambdas: lam_max then lam_max x alf, x alf^2, ... (alf from :func:`_ratio`).

    Computed by repeated multiplication, as glmnet's Fortran does, so the values agree with R's to the last digit.
    """
    alf = _ratio(n_lambda, min_ratio)
    out = np.empty(n_lambda)
    out[0] = lam_max
    if n_lambda > 1:
        out[1] = alf * lam_max
    for m in range(2, n_lambda):
        out[m] = out[m - 1] * alf
    return out


# ---------------------------------------------------------------------------------------------------------------
# Risk sets
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _RiskSets:
    """The Breslow risk sets of one set of patients, in time order.

    ``order`` sorts the patients by time; in that order ``risk_start[k]`` is the first position at risk at the
    k-th distinct event time, ``last_event[i]`` the index of the latest event time at or before position i's
    time (-1 before the first event), ``dq`` the weight of an event at each position (0 if censored) and ``dk``
    the total event weight at each event time.
    """

    order: np.ndarray
    risk_start: np.ndarray
    last_event: np.ndarray
    dq: np.ndarray
    dk: np.ndarray


def _risk_sets(time: np.ndarray, event: np.ndarray, weights: np.ndarray) -> _RiskSets:
    order = np.argsort(time, kind="stable")
    t = time[order]
    d = event[order].astype(float)
    q = weights[order]
    event_times = np.unique(t[d > 0])
    risk_start = np.searchsorted(t, event_times, side="left")
    last_event = np.searchsorted(event_times, t, side="right") - 1
    dq = d * q
    dk = np.bincount(last_event[d > 0], weights=dq[d > 0], minlength=len(event_times))
    return _RiskSets(order=order, risk_start=risk_start.astype(np.int64), last_event=last_event.astype(np.int64),
                     dq=dq, dk=dk)


def cox_deviance(time: np.ndarray, event: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """The Breslow partial-likelihood deviance, as glmnet's ``coxnet.deviance`` with unit weights.

    Parameters
    ----------
    time : numpy.ndarray, shape (n,)
        Follow-up times (any unit; only their order matters).
    event : numpy.ndarray, shape (n,)
        1 = event, 0 = censored.
    eta : numpy.ndarray, shape (n,) or (n, L)
        Linear predictors (one column per lambda).

    Returns
    -------
    numpy.ndarray, shape (L,)
        2 x (saturated log partial likelihood - log partial likelihood) per column; the saturated one is
        -sum_k D_k log D_k over the distinct event times (D_k events at time k).
    """
    eta = np.asarray(eta, dtype=float)
    eta = eta[:, None] if eta.ndim == 1 else eta
    sets = _risk_sets(np.asarray(time, dtype=float), np.asarray(event), np.ones(len(time)))
    f = eta[sets.order]
    f = f - f.max(axis=0)  # the partial likelihood does not change with a shift of eta; this keeps exp finite
    suffix = np.cumsum(np.exp(f)[::-1], axis=0)[::-1]
    log_risk = np.log(suffix[sets.risk_start])
    loglik = sets.dq @ f - sets.dk @ log_risk
    saturated = -float(sets.dk @ np.log(sets.dk))
    return 2.0 * (saturated - loglik)


# ---------------------------------------------------------------------------------------------------------------
# The compiled path
# ---------------------------------------------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def _outer(e, dq, dk, risk_start, last_event, w, wr, u, b, c):
    """IRLS weights and working gradient at relative risks ``e`` (glmnet's ``outer``).

    Fills ``u`` (risk-set sums), ``w`` (the diagonal of minus the Hessian) and ``wr`` (the gradient of the log
    partial likelihood with respect to the linear predictor); returns False when a weight is not positive
    (glmnet's numerical error -30000: the fit has gone to the boundary).
    """
    n = e.shape[0]
    n_times = dk.shape[0]
    k = n_times - 1
    total = 0.0
    for i in range(n - 1, -1, -1):
        total += e[i]
        while k >= 0 and risk_start[k] == i:
            u[k] = total
            k -= 1
    running_b = 0.0
    running_c = 0.0
    for k in range(n_times):
        running_b += dk[k] / u[k]
        running_c += dk[k] / (u[k] * u[k])
        b[k] = running_b
        c[k] = running_c
    ok = True
    for i in range(n):
        k = last_event[i]
        if k < 0:
            w[i] = 0.0
            wr[i] = 0.0
            continue
        w[i] = e[i] * (b[k] - e[i] * c[k])
        if w[i] <= 0.0:
            ok = False
        wr[i] = dq[i] - e[i] * b[k]
    return ok


@njit(cache=True, nogil=True)
def _log_partial_likelihood(f, dq, dk, u):
    """sum(event weight x eta) - sum_k dk log(risk-set sum): glmnet's ``risk`` (``u`` from :func:`_outer`)."""
    total = 0.0
    for i in range(f.shape[0]):
        total += dq[i] * f[i]
    for k in range(dk.shape[0]):
        total -= dk[k] * np.log(u[k])
    return total


@njit(cache=True, nogil=True)
def _relative_risk(f, q, e):
    """e = q exp(f), f clamped to +-FMAX so exp stays finite (glmnet's fmax)."""
    for i in range(f.shape[0]):
        v = f[i]
        e[i] = q[i] * np.exp(min(v, FMAX) if v > 0 else max(v, -FMAX))


@njit(cache=True, nogil=True)
def _refresh(row, w, weighted, v, j):
    """weighted = w x_j and v_j = sum_i w_i x_ij^2 at the current IRLS weights."""
    s = 0.0
    for i in range(row.shape[0]):
        weighted[i] = w[i] * row[i]
        s += weighted[i] * row[i]
    v[j] = s


@njit(cache=True, nogil=True)
def _coordinate_step(j, xt, w, wx, slot, v, fresh, a, wr, al):
    """One coordinate-descent update of feature ``j`` on the quadratic approximation (glmnet's coxnet inner loop),
    the one the sweep over the strong set and the sweeps over the active list both make: ``a[j]`` soft-thresholded
    at ``al``, the weighted residuals ``wr`` moved with it. Returns (whether ``a[j]`` moved, ``v_j d^2``: its
    contribution to the convergence check)."""
    row = xt[j]
    g = np.dot(wr, row)
    if a[j] == 0.0 and abs(g) <= al:
        return False, 0.0  # stays at zero: z = g, within lambda
    if not fresh[j]:
        _refresh(row, w, wx[slot[j]], v, j)
        fresh[j] = True
    z = a[j] * v[j] + g
    new = 0.0
    if abs(z) > al:
        new = (z - al if z > 0 else z + al) / v[j]
    if new == a[j]:
        return False, 0.0
    d = new - a[j]
    a[j] = new
    weighted = wx[slot[j]]
    for i in range(wr.shape[0]):
        wr[i] -= d * weighted[i]
    return True, v[j] * d * d


@njit(cache=True, nogil=True)
def _cox_path(xt, q, dq, dk, risk_start, last_event, usable, lambdas, user, n_lambda, alf, tol, max_iter, dfmax):
    """glmnet's ``coxnet1`` for the lasso (alpha = 1, penalty factors 1), on standardised features.

    ``xt`` is the standardised feature matrix transposed (features x patients in time order, C order);
    ``usable`` marks the non-constant features. With ``user`` the given ``lambdas`` are all fitted; otherwise
    glmnet's sequence is made (``alf`` its ratio) and its stopping rules apply. Returns the coefficients, the
    lambdas fitted (the first as glmnet's infinite one), the deviance explained, the sweeps per lambda, the
    number of lambdas fitted, an error flag (1: a non-positive IRLS weight ended the path) and the null
    (half, per unit weight) deviance.
    """
    p, n = xt.shape
    n_times = dk.shape[0]
    n_lam = lambdas.shape[0] if user else n_lambda
    coefs = np.zeros((n_lam, p))
    alm = np.zeros(n_lam)
    dev = np.zeros(n_lam)
    used = np.zeros(n_lam, dtype=np.int64)

    f = np.zeros(n)
    e = np.empty(n)
    w = np.empty(n)
    wr = np.empty(n)
    u = np.empty(n_times)
    bb = np.empty(n_times)
    cc = np.empty(n_times)
    a = np.zeros(p)
    a_start = np.zeros(p)
    a_sweep = np.zeros(p)  # the coefficients at the start of the IRLS step (all strong features)
    wx = np.empty((min(p, 64), n))  # w x_j of the strong features at this IRLS step's weights, by slot
    slot = np.full(p, -1, dtype=np.int64)
    fresh = np.zeros(p, dtype=np.bool_)  # w x_j and v_j made at this IRLS step's weights
    n_slots = 0
    v = np.zeros(p)
    ga = np.zeros(p)
    strong = np.zeros(p, dtype=np.bool_)
    entered = np.zeros(p, dtype=np.bool_)  # glmnet's mm: ever non-zero, in the active list
    active = np.empty(p, dtype=np.int64)  # glmnet's m: the active list, in order of entry
    n_in = 0

    _relative_risk(f, q, e)
    _outer(e, dq, dk, risk_start, last_event, w, wr, u, bb, cc)
    r0 = _log_partial_likelihood(f, dq, dk, u)
    saturated = 0.0
    for k in range(n_times):
        saturated -= dk[k] * np.log(dk[k])
    rr = saturated - r0  # the null (half) deviance per unit weight: glmnet's dev0 before rescaling
    threshold = tol * rr
    for j in range(p):
        if usable[j]:
            ga[j] = abs(np.dot(wr, xt[j]))

    error = 0
    n_fitted = 0
    al = 0.0
    for m in range(n_lam):
        al0 = al
        if user:
            al = lambdas[m]
        elif m >= 2:
            al = al * alf
        elif m == 0:
            al = BIG
        else:
            al0 = 0.0
            for j in range(p):
                if usable[j]:
                    al0 = max(al0, ga[j])
            al = alf * al0
        # Sequential strong rule (Tibshirani et al. 2012): the features coordinate descent cycles over.
        tlam = 2.0 * al - al0
        for j in range(p):
            if usable[j] and not strong[j] and ga[j] > tlam:
                strong[j] = True
        iterations = 0
        while True:
            for t in range(n_in):
                a_start[active[t]] = a[active[t]]
            for j in range(p):
                if strong[j] and slot[j] < 0:
                    if n_slots == wx.shape[0]:  # grown by doubling: only strong features get a row
                        grown = np.empty((min(p, 2 * n_slots), n))
                        grown[:n_slots] = wx[:n_slots]
                        wx = grown
                    slot[j] = n_slots
                    n_slots += 1
            # w x_j and v_j = x_j' W x_j at this step's weights are made when feature j is first needed in the step
            # (_refresh): a coefficient at zero whose gradient stays within lambda needs neither, and near a
            # saturated fit most of the strong set is such (the same arithmetic, only skipped where unused).
            for j in range(p):
                if strong[j]:
                    fresh[j] = False
                    a_sweep[j] = a[j]
            # Coordinate descent on the quadratic approximation: a sweep over the strong set, then sweeps over
            # the active list until they settle, and again.
            while True:
                iterations += 1
                largest = 0.0
                for j in range(p):
                    if not strong[j]:
                        continue
                    moved, change = _coordinate_step(j, xt, w, wx, slot, v, fresh, a, wr, al)
                    if moved:
                        largest = max(largest, change)
                        if not entered[j]:
                            entered[j] = True
                            active[n_in] = j
                            n_in += 1
                if largest < threshold or iterations > max_iter:
                    break
                while True:
                    iterations += 1
                    largest = 0.0
                    for t in range(n_in):
                        moved, change = _coordinate_step(active[t], xt, w, wx, slot, v, fresh, a, wr, al)
                        if moved:
                            largest = max(largest, change)
                    if largest < threshold or iterations > max_iter:
                        break
            # The linear predictor follows the coefficients' net moves over the step (glmnet moves it with every
            # update; once per step is one pass instead of one per update, the same up to rounding).
            for j in range(p):
                if strong[j] and a[j] != a_sweep[j]:
                    d = a[j] - a_sweep[j]
                    row = xt[j]
                    for i in range(n):
                        f[i] += d * row[i]
            _relative_risk(f, q, e)
            if not _outer(e, dq, dk, risk_start, last_event, w, wr, u, bb, cc):
                error = 1
                break
            if iterations > max_iter:
                break
            moved = False
            for t in range(n_in):
                j = active[t]
                if v[j] * (a[j] - a_start[j]) ** 2 >= threshold:
                    moved = True
                    break
            if moved:
                continue
            # KKT check over the features the strong rule left out.
            violated = False
            for j in range(p):
                if usable[j] and not strong[j]:
                    ga[j] = abs(np.dot(wr, xt[j]))
                    if ga[j] > al:
                        strong[j] = True
                        violated = True
            if not violated:
                break
        if error:
            break  # glmnet returns the lambdas before this one
        coefs[m, :] = a
        alm[m] = al
        dev[m] = (_log_partial_likelihood(f, dq, dk, u) - r0) / rr
        used[m] = iterations
        n_fitted = m + 1
        if user or m + 1 < MIN_LAMBDAS:
            continue
        nonzero = 0
        for j in range(p):
            if a[j] != 0.0:
                nonzero += 1
        if nonzero > dfmax:
            break
        if dev[m] > 0.0 and (dev[m] - dev[m - MIN_LAMBDAS + 1]) / dev[m] < FDEV:
            break
        if dev[m] > DEVMAX:
            break
    return coefs, alm, dev, used, n_fitted, error, rr


# ---------------------------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------------------------

def _stopped_sentence(what: str, lam: float) -> str:
    return (f"The {what} stopped at lambda {lam:.4g}: a partial-likelihood weight reached zero (the fit is "
            "saturated, as glmnet's numerical error); the path ends at the lambdas before it.")


@dataclass(frozen=True, eq=False)
class LassoCoxPath:
    """A LASSO-Cox path (glmnet's ``glmnet(x, Surv(time, event), family = "cox")``).

    Attributes
    ----------
    lambdas : numpy.ndarray, shape (L,)
        Decreasing, glmnet's scale; L may be shorter than asked when glmnet's stopping rules end the path.
    coefs : pandas.DataFrame, shape (L, p)
        Coefficients (log hazard ratio per unit of each feature, original scale); index: lambda.
    dev_ratio : numpy.ndarray, shape (L,)
        Fraction of the null partial-likelihood deviance explained (glmnet's ``dev.ratio``).
    null_deviance : float
        glmnet's ``nulldev``: 2 x (saturated - null log partial likelihood), unit weights.
    n_nonzero : numpy.ndarray of int, shape (L,)
    feature_sds : pandas.Series
        Population SD of each feature (coefficient x SD = the standardised coefficient).
    iterations : numpy.ndarray of int, shape (L,)
        Coordinate-descent sweeps used at each lambda.
    max_iter : int
        The limit on those sweeps; a lambda that went past it stopped unconverged.
    stopped_early : bool
        True when a numerical failure (a non-positive partial-likelihood weight: the fit is saturated) ended the
        path before its stopping rules did; :attr:`convergence` says so.
    next_lambda : float
        The lambda whose fit failed when :attr:`stopped_early` (NaN otherwise).
    """

    lambdas: np.ndarray
    coefs: pd.DataFrame
    dev_ratio: np.ndarray
    null_deviance: float
    n_nonzero: np.ndarray
    feature_sds: pd.Series
    iterations: np.ndarray
    max_iter: int
    stopped_early: bool = False
    next_lambda: float = math.nan

    @property
    def unconverged(self) -> np.ndarray:
        """Indices of the lambdas whose fit stopped at the iteration limit rather than converging."""
        return np.flatnonzero(self.iterations > self.max_iter)

    @property
    def converged(self) -> bool:
        """Whether every lambda converged and no numerical failure ended the path."""
        return len(self.unconverged) == 0 and not self.stopped_early

    @property
    def convergence(self) -> str | None:
        """One sentence on what did not converge; None when everything did."""
        parts = []
        if len(self.unconverged):
            stopped = self.lambdas[self.unconverged]
            parts.append(convergence_warning(
                "LASSO-Cox path", f"{len(stopped)} of {len(self.lambdas)} lambdas, {stopped.max():.4g} to "
                f"{stopped.min():.4g}, reached {self.max_iter:,} coordinate-descent sweeps"))
        if self.stopped_early:
            parts.append(_stopped_sentence("LASSO-Cox path", self.next_lambda))
        return " ".join(parts) or None

    def to_dict(self) -> dict:
        """Plain data (JSON-ready)."""
        return {"lambdas": self.lambdas.tolist(), "columns": list(self.coefs.columns),
                "coefs": self.coefs.to_numpy().tolist(), "dev_ratio": self.dev_ratio.tolist(),
                "null_deviance": self.null_deviance, "feature_sds": self.feature_sds.to_dict(),
                "iterations": self.iterations.tolist(), "max_iter": self.max_iter,
                "stopped_early": self.stopped_early, "next_lambda": None if math.isnan(self.next_lambda)
                else self.next_lambda}

    @classmethod
    def from_dict(cls, values: dict) -> LassoCoxPath:
        lambdas = np.asarray(values["lambdas"], dtype=float)
        coefs = pd.DataFrame(np.asarray(values["coefs"], dtype=float).reshape(len(lambdas), -1),
                             index=pd.Index(lambdas, name="lambda"), columns=values["columns"])
        nxt = values.get("next_lambda")
        return cls(lambdas=lambdas, coefs=coefs, dev_ratio=np.asarray(values["dev_ratio"], dtype=float),
                   null_deviance=float(values["null_deviance"]), n_nonzero=(coefs.to_numpy() != 0).sum(axis=1),
                   feature_sds=pd.Series(values["feature_sds"], dtype=float),
                   iterations=np.asarray(values["iterations"], dtype=int), max_iter=int(values["max_iter"]),
                   stopped_early=bool(values["stopped_early"]), next_lambda=math.nan if nxt is None else float(nxt))

    def at(self, lambdas: np.ndarray) -> np.ndarray:
        """Coefficients (original scale) at other lambdas, shape (len(lambdas), p): linear interpolation in lambda,
        clamped at the ends of the path (glmnet's ``predict(fit, s = lambdas, type = "coefficients")``)."""
        return _interpolate(self.lambdas, self.coefs.to_numpy(), np.asarray(lambdas, dtype=float))


def _interpolate(path_lambdas: np.ndarray, coefs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    if len(path_lambdas) == 1:
        return np.repeat(coefs, len(targets), axis=0)
    increasing = path_lambdas[::-1]
    clamped = np.clip(targets, increasing[0], increasing[-1])
    position = np.interp(clamped, increasing, np.arange(len(increasing), dtype=float))
    left = np.floor(position).astype(int)
    right = np.minimum(left + 1, len(increasing) - 1)
    frac = (position - left)[:, None]
    reversed_coefs = coefs[::-1]
    return reversed_coefs[left] * (1 - frac) + reversed_coefs[right] * frac


@dataclass(frozen=True, eq=False)
class LassoCoxCV:
    """Result of :func:`lasso_cox_cv` (glmnet's ``cv.glmnet(x, Surv(time, event), family = "cox")``).

    Attributes
    ----------
    lambdas : numpy.ndarray
        The lambda sequence of the fit on all rows (decreasing, glmnet's scale).
    cv_mean, cv_se : numpy.ndarray
        Cross-validated measure per lambda and its standard error (glmnet's cvm, cvsd): partial-likelihood
        deviance per event (lower is better) or Harrell's C (higher is better), as :attr:`measure`.
    measure : {"deviance", "C"}
    lambda_min, lambda_1se : float
        The lambda of the best measure; the largest lambda within one standard error of it.
    rule : {"1se", "min"}
        Which of the two chose :attr:`lambda_`.
    lambda_ : float
    coef_ : pandas.Series
        The non-zero coefficients at :attr:`lambda_` (log hazard ratio per unit, original scale), column order.
    path : LassoCoxPath
        The fit on all rows.
    foldid : numpy.ndarray
        1-based fold of each row.
    unconverged : tuple of PathConvergence
        Each path (all rows, a fold) that stopped at its iteration limit somewhere; empty when all converged.
    stopped : tuple of str
        Which paths ("all rows", "fold k") a numerical failure ended early (their lambdas before it are kept).
    """

    lambdas: np.ndarray
    cv_mean: np.ndarray
    cv_se: np.ndarray
    measure: str
    lambda_min: float
    lambda_1se: float
    rule: str
    lambda_: float
    coef_: pd.Series
    path: LassoCoxPath
    foldid: np.ndarray
    unconverged: tuple[PathConvergence, ...] = ()
    stopped: tuple[str, ...] = ()

    @property
    def converged(self) -> bool:
        """Whether every path (all rows and every fold) converged at every lambda."""
        return not self.unconverged and not self.stopped

    @property
    def convergence(self) -> str | None:
        """One sentence on the fits that did not converge; None when all did."""
        parts = []
        if self.unconverged:
            fits = ", ".join(f"{c.fit} ({len(c.lambdas)} lambdas)" for c in self.unconverged)
            parts.append(convergence_warning(
                "LASSO-Cox path", f"{fits} reached {self.unconverged[0].max_iter:,} coordinate-descent sweeps; "
                "the cross-validated curve there is approximate"))
        if self.stopped:
            parts.append(f"A partial-likelihood weight reached zero (a saturated fit) in {', '.join(self.stopped)}; "
                         "those paths end early, and their last coefficients are carried to the smaller lambdas.")
        return " ".join(parts) or None

    @property
    def n_nonzero(self) -> np.ndarray:
        return self.path.n_nonzero

    @property
    def feature_sds(self) -> pd.Series:
        return self.path.feature_sds

    @property
    def index_min(self) -> int:
        return int(np.flatnonzero(self.lambdas == self.lambda_min)[0])

    @property
    def index_1se(self) -> int:
        return int(np.flatnonzero(self.lambdas == self.lambda_1se)[0])

    def linear_predictor(self, X: pd.DataFrame) -> pd.Series:
        """Selected coefficients x feature values for each row of ``X`` (log relative hazard; index kept)."""
        values = X[list(self.coef_.index)].to_numpy(dtype=float)
        return pd.Series(values @ self.coef_.to_numpy(), index=X.index, name="lasso_cox_score")

    def to_dict(self) -> dict:
        """Plain data (JSON-ready; floats written exactly by JSON's shortest round-trip form)."""
        return {"lambdas": self.lambdas.tolist(), "cv_mean": self.cv_mean.tolist(), "cv_se": self.cv_se.tolist(),
                "measure": self.measure, "lambda_min": self.lambda_min, "lambda_1se": self.lambda_1se,
                "rule": self.rule, "lambda_": self.lambda_, "coef_": self.coef_.to_dict(),
                "path": self.path.to_dict(), "foldid": self.foldid.tolist(),
                "unconverged": [c.to_dict() for c in self.unconverged], "stopped": list(self.stopped)}

    @classmethod
    def from_dict(cls, values: dict) -> LassoCoxCV:
        coef = values["coef_"]
        return cls(lambdas=np.asarray(values["lambdas"], dtype=float),
                   cv_mean=np.asarray(values["cv_mean"], dtype=float), cv_se=np.asarray(values["cv_se"], dtype=float),
                   measure=str(values["measure"]), lambda_min=float(values["lambda_min"]),
                   lambda_1se=float(values["lambda_1se"]), rule=str(values["rule"]), lambda_=float(values["lambda_"]),
                   coef_=pd.Series(list(coef.values()), index=list(coef), dtype=float),
                   path=LassoCoxPath.from_dict(values["path"]), foldid=np.asarray(values["foldid"], dtype=int),
                   unconverged=tuple(PathConvergence.from_dict(c) for c in values["unconverged"]),
                   stopped=tuple(values["stopped"]))


# ---------------------------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------------------------

def _as_matrix(X: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, list[str]]:
    if isinstance(X, pd.DataFrame):
        return X.to_numpy(dtype=float), [str(c) for c in X.columns]
    x = np.asarray(X, dtype=float)
    if x.ndim != 2:
        raise RadNomoError(f"the features must be a 2-D table (patients x features), not {x.ndim}-D.")
    return x, [f"x{j + 1}" for j in range(x.shape[1])]


def _check_events(event: np.ndarray, time: np.ndarray, where: str) -> None:
    """The partial likelihood needs an event with at least two other patients still at risk (glmnet's jerr 30000)."""
    if not np.any(event == 1):
        raise RadNomoError(f"{where} has no events: the LASSO-Cox model cannot be fitted; use more patients, "
                           "or fewer cross-validation folds.")
    at_risk = int(np.sum(time >= time[event == 1].min()))
    if at_risk < 3:
        raise RadNomoError(f"{where} has only {at_risk} patient(s) still followed at its first event: too few "
                           "for the LASSO-Cox model; use more patients or fewer folds.")


def lasso_cox_path(X: pd.DataFrame | np.ndarray, time: np.ndarray, event: np.ndarray, *,
                   lambdas: np.ndarray | None = None, n_lambda: int = 100, lambda_min_ratio: float | None = None,
                   standardize: bool = True, dfmax: int | None = None, tol: float = TOL,
                   max_iter: int = MAX_ITER) -> LassoCoxPath:
    """The LASSO-Cox path, as R's ``glmnet(x, Surv(time, event), family = "cox")`` (alpha = 1).

    Parameters
    ----------
    X : pandas.DataFrame or numpy.ndarray, shape (n, p)
        Features (raw values). Constant features are left out of the fit (coefficient 0), as glmnet does.
    time : numpy.ndarray, shape (n,)
        Follow-up time (> 0, any unit).
    event : numpy.ndarray, shape (n,)
        1 = event, 0 = censored.
    lambdas : array-like, optional
        Lambdas on glmnet's scale (sorted decreasing; all fitted, no early stop). By default glmnet's sequence.
    n_lambda : int
        Length of glmnet's sequence (``nlambda``).
    lambda_min_ratio : float, optional
        Smallest lambda as a fraction of lambda_max; default 1e-4 when n >= p, else 1e-2 (glmnet's).
    standardize : bool
        Fit on features scaled to unit population SD (glmnet's default); coefficients are returned on the
        original scale either way.
    dfmax : int, optional
        End the path once more than this many features are in (glmnet's ``dfmax``; default p + 1: never).
    tol : float
        Convergence of coordinate descent and of IRLS: the largest weighted squared coefficient change, relative
        to the null deviance (glmnet's ``thresh``). The default is glmnet's 1e-7: the iterations being glmnet's, the
        path then equals R's default fit to ~1e-12. That leaves the coefficients up to ~1e-3 (standardised scale)
        from the exact optimum along correlated directions, as R's are; 1e-10 brings them to ~1e-5, 1e-13 to
        machine precision, at up to 3-10x the time on wide data near saturation.
    max_iter : int
        Coordinate-descent sweeps allowed per lambda; a lambda that needs more is kept unconverged and reported.

    Returns
    -------
    LassoCoxPath
    """
    x, columns = _as_matrix(X)
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(int)
    n, p = x.shape
    if len(time) != n or len(event) != n:
        raise RadNomoError(f"X has {n} rows but time has {len(time)} and event {len(event)}.")
    _check_events(event, time, "the data")
    if lambdas is not None:
        lambdas = np.sort(np.asarray(lambdas, dtype=float))[::-1]
        if len(lambdas) == 0 or lambdas.min() < 0:
            raise RadNomoError("lambdas must be one or more non-negative values.")
    if not (isinstance(n_lambda, (int, np.integer)) and n_lambda >= 3):
        raise RadNomoError(f"n_lambda must be a whole number of at least 3, not {n_lambda!r}.")
    ratio = (0.01 if n < p else 1e-4) if lambda_min_ratio is None else float(lambda_min_ratio)
    if not 0 < ratio < 1:
        raise RadNomoError(f"lambda_min_ratio must lie strictly between 0 and 1, not {ratio}.")

    weights = np.full(n, 1.0 / n)
    means = weights @ x
    centred = x - means
    sds = np.sqrt(weights @ centred**2)
    usable = sds > 0
    scale = np.where(usable, sds, 1.0) if standardize else np.ones(p)
    z = centred / scale
    sets = _risk_sets(time, event, weights)
    xt = np.ascontiguousarray(z[sets.order].T)
    alf = _ratio(int(n_lambda), ratio)
    coefs, alm, dev, used, n_fitted, error, rr = _cox_path(
        xt, weights[sets.order], sets.dq, sets.dk, sets.risk_start, sets.last_event, usable,
        np.zeros(1) if lambdas is None else np.ascontiguousarray(lambdas), lambdas is not None, int(n_lambda), alf,
        float(tol), int(max_iter), p + 1 if dfmax is None else int(dfmax))
    fitted = alm[:n_fitted].copy()
    if lambdas is None and n_fitted > 2:
        fitted[0] = math.exp(2 * math.log(fitted[1]) - math.log(fitted[2]))  # glmnet's fix.lam
    next_lambda = math.nan
    if error:
        grid = lambdas if lambdas is not None else lambda_sequence(fitted[0] if n_fitted else BIG, int(n_lambda),
                                                                   ratio)
        next_lambda = float(grid[n_fitted]) if n_fitted < len(grid) else math.nan
    beta = coefs[:n_fitted] / scale
    return LassoCoxPath(lambdas=fitted, coefs=pd.DataFrame(beta, index=pd.Index(fitted, name="lambda"),
                                                           columns=columns),
                        dev_ratio=dev[:n_fitted], null_deviance=float(2.0 * n * rr),
                        n_nonzero=(beta != 0).sum(axis=1), feature_sds=pd.Series(sds, index=columns),
                        iterations=used[:n_fitted], max_iter=int(max_iter), stopped_early=bool(error),
                        next_lambda=next_lambda)


def lasso_cox_cv(X: pd.DataFrame | np.ndarray, time: np.ndarray, event: np.ndarray, *,
                 foldid: np.ndarray | None = None, n_folds: int = 10, seed: int = 0, rule: str = "1se",
                 measure: str = "deviance", lambdas: np.ndarray | None = None, n_lambda: int = 100,
                 lambda_min_ratio: float | None = None, tol: float = TOL, max_iter: int = MAX_ITER,
                 n_jobs: int | None = None) -> LassoCoxCV:
    """LASSO-Cox with K-fold cross-validation, as R's ``cv.glmnet(x, Surv(time, event), family = "cox")``.

    Parameters
    ----------
    X, time, event
        As :func:`lasso_cox_path` (raw feature values; time > 0 in any unit; event 1 = event, 0 = censored).
    foldid : array-like of int, optional
        1-based fold of each row (glmnet's ``foldid``; at least 3 folds). By default ``n_folds`` folds drawn
        with ``seed``, stratified by event so each fold holds its share of events (glmnet's are random: pass
        ``foldid`` to match it).
    rule : {"1se", "min"}
        Choose lambda.1se (the largest lambda within one SE of the best) or lambda.min.
    measure : {"deviance", "C"}
        The held-out partial-likelihood deviance (glmnet's default, grouped) or Harrell's C of each held-out
        fold (``type.measure = "C"``).
    lambdas, n_lambda, lambda_min_ratio, tol, max_iter
        As :func:`lasso_cox_path`, for every fit.
    n_jobs : int, optional
        Threads for the fold fits (default: all cores; the compiled path releases the GIL).

    Returns
    -------
    LassoCoxCV

    Notes
    -----
    As cv.glmnet 4.1-6: each fold fits its own lambda sequence; its coefficients at the full data's lambdas
    are interpolated linearly in lambda (clamped at the ends). Deviance: per fold k,
    (D_all(beta_k) - D_train(beta_k)) / events in fold k, where D is :func:`cox_deviance` of all patients and
    of the training part at the fold's coefficients; cvm is the mean over folds weighted by their events, cvsd
    the weighted SD / sqrt(K - 1). C: Harrell's C of the held-out fold's linear predictor (ties in it count
    1/2, as survival::concordance), weighted by fold size. lambda.min is the largest lambda with the best
    value; lambda.1se the largest within one SE of it.
    """
    check_option("LASSO rule", rule, LASSO_RULES)
    check_option("LASSO-Cox cross-validation measure", measure, LASSO_COX_MEASURES)
    x, columns = _as_matrix(X)
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(int)
    n = len(x)
    if len(time) != n or len(event) != n:
        raise RadNomoError(f"X has {n} rows but time has {len(time)} and event {len(event)}.")
    if foldid is None:
        if not 3 <= n_folds <= n:
            raise RadNomoError(f"n_folds = {n_folds} must lie between 3 and the number of rows ({n}).")
        n_events = int(event.sum())
        if n_events < n_folds:
            raise RadNomoError(f"only {n_events} events: too few for {n_folds}-fold cross-validation (every fold "
                               "needs an event); use fewer folds.")
        foldid = stratified_folds(event, n_folds, seed)
    else:
        foldid = np.asarray(foldid, dtype=int)
        if len(foldid) != n or foldid.min() < 1 or len(np.unique(foldid)) < 3:
            raise RadNomoError("foldid must give a 1-based fold label (at least 3 folds) for every row.")
    folds = np.unique(foldid)
    fold_events = np.array([event[foldid == k].sum() for k in folds], dtype=float)
    if np.any(fold_events == 0):
        empty = ", ".join(str(k) for k in folds[fold_events == 0])
        raise RadNomoError(f"cross-validation fold(s) {empty} hold no event, so their held-out {measure} is "
                           "undefined; use fewer folds or folds stratified by event (leave foldid unset).")
    for k in folds:
        train = foldid != k
        _check_events(event[train], time[train], f"the training part of fold {k}")

    def fit(fold: int) -> LassoCoxPath:  # fold 0 = all rows
        rows = foldid != fold
        return lasso_cox_path(pd.DataFrame(x[rows], columns=columns, copy=False), time[rows], event[rows],
                              lambdas=lambdas, n_lambda=n_lambda,
                              lambda_min_ratio=lambda_min_ratio, tol=tol, max_iter=max_iter)

    # BLAS is held to one thread: its own threads would fight the fold threads (as core.stats.selection.lasso_cv).
    with threadpool_limits(limits=1, user_api="blas"), \
            ThreadPoolExecutor(max_workers=n_jobs or os.cpu_count() or 1) as pool:
        full, *fold_fits = pool.map(fit, [0, *folds])
    grid = full.lambdas
    raw = np.empty((len(folds), len(grid)))
    for row, (k, fold_fit) in enumerate(zip(folds, fold_fits, strict=True)):
        beta = fold_fit.at(grid)  # (L, p)
        held_out = foldid == k
        if measure == "deviance":
            train = ~held_out
            eta = x @ beta.T  # all patients' linear predictors; the training part's are its rows
            raw[row] = (cox_deviance(time, event, eta)
                        - cox_deviance(time[train], event[train], eta[train])) / fold_events[row]
        else:
            raw[row] = _harrell_c_columns(time[held_out], event[held_out], x[held_out] @ beta.T)
    weights = fold_events if measure == "deviance" else np.array([np.sum(foldid == k) for k in folds], dtype=float)
    cv_mean = weights @ raw / weights.sum()
    cv_se = np.sqrt(weights @ (raw - cv_mean) ** 2 / weights.sum() / (len(folds) - 1))

    # glmnet maximises C by minimising -C.
    loss = cv_mean if measure == "deviance" else -cv_mean
    lambda_min = float(grid[loss <= loss.min()].max())
    index_min = int(np.flatnonzero(grid == lambda_min)[0])
    lambda_1se = float(grid[loss <= loss[index_min] + cv_se[index_min]].max())
    chosen = lambda_1se if rule == "1se" else lambda_min
    index = int(np.flatnonzero(grid == chosen)[0])
    coefs = full.coefs.to_numpy()[index]
    nonzero = coefs != 0
    records = [(ALL_ROWS, full)] + [(f"fold {k}", fold_fit) for k, fold_fit in zip(folds, fold_fits, strict=True)]
    unconverged = tuple(PathConvergence(fit=name, lambdas=tuple(float(v) for v in path.lambdas[path.unconverged]),
                                        iterations=tuple(int(v) for v in path.iterations[path.unconverged]),
                                        max_iter=path.max_iter)
                        for name, path in records if len(path.unconverged))
    return LassoCoxCV(lambdas=grid, cv_mean=cv_mean, cv_se=cv_se, measure=measure, lambda_min=lambda_min,
                      lambda_1se=lambda_1se, rule=rule, lambda_=chosen,
                      coef_=pd.Series(coefs[nonzero], index=[c for c, k in zip(columns, nonzero, strict=True) if k],
                                      dtype=float),
                      path=full, foldid=foldid, unconverged=unconverged,
                      stopped=tuple(name for name, path in records if path.stopped_early))


def _harrell_c_columns(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> np.ndarray:
    """Harrell's C of each column of ``risk`` (higher = shorter survival), as glmnet's ``Cindex``.

    Written here rather than calling core.stats.survival.concordance.harrell_c once per lambda: this evaluates
    every lambda of a fold in one pass over its comparable pairs (a fold is small: n_fold^2 / 2 pairs), and
    computes no variance. Pairs: i with an event before j's time, or at the same time as j censored (a censored
    patient is at risk at the event time, as survival::concordance); two events at the same time are not
    compared. Ties in ``risk`` count 1/2.
    """
    first, second = np.nonzero((event[:, None] == 1) & ((time[:, None] < time[None, :]) |
                                                         ((time[:, None] == time[None, :]) & (event[None, :] == 0))))
    if len(first) == 0:
        return np.full(risk.shape[1], np.nan)
    concordant = np.empty(risk.shape[1])
    chunk = max(1, 2_000_000 // len(first))  # lambdas at a time: memory stays ~16 MB however large the fold
    for start in range(0, risk.shape[1], chunk):
        difference = risk[first, start:start + chunk] - risk[second, start:start + chunk]
        concordant[start:start + chunk] = (difference > 0).sum(axis=0) + 0.5 * (difference == 0).sum(axis=0)
    return concordant / len(first)
