"""The lasso path of a logistic regression, computed the way R's glmnet does (binomial, alpha = 1).

Written by hand, compiled with numba: the libraries that solve this problem in Python either do
not reproduce glmnet's path and stopping rules or are 3-6 times slower than cv.glmnet on a
radiomics-sized problem (glum and skglm: 13-15 s per path on 701 x 2,437 against 2.3 s for the
whole of cv.glmnet; python-glmnet has no wheels for current NumPy). The path is glmnet's
(Friedman, Hastie & Tibshirani 2010): the same lambdas and stopping rules, warm starts along the
decreasing sequence, and the sequential strong rule (Tibshirani et al. 2012) with a KKT check over
all features so no feature is wrongly left out. Each lambda is solved to glmnet's exact answer, but
faster than glmnet's IRLS with naive coordinate descent on every shape (issue 26; bench/lasso.py):
proximal Newton steps (Lee, Sun & Saunders 2014) with the exact gradient and a weighted Gram matrix
made by one matrix product and kept while the steps contract (a quasi-Newton model), each quadratic
model solved by coordinate descent in covariance form with Newton jumps on the active set, the jumps
sharing one Cholesky factor updated as features enter and leave. Glmnet's naive IRLS is kept as
``form="naive"``, to check the two against each other.

Problem, on standardised features x (population SD) with observation weights w summing to 1::

    minimise  -sum_i w_i [y_i eta_i - log(1 + exp(eta_i))] + lambda * sum_j |beta_j|,
    eta = beta_0 + x beta

which is glmnet's objective (mean negative log-likelihood + lambda * L1 norm) and its lambda scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

__all__ = ["LassoPath", "binomial_deviance", "lambda_max", "lambda_sequence", "lasso_path", "polish"]

# glmnet.control() factory defaults.
FDEV = 1e-5  # the path ends when the fraction of deviance explained grows by less than this
DEVMAX = 0.999  # the path stops once this fraction of the null deviance is explained
MIN_LAMBDAS = 5  # the stopping rules apply only after this many lambdas
BIG = 9.9e35  # glmnet's stand-in for an infinite lambda
PMIN = 1e-9  # fitted probabilities are kept in [PMIN, 1 - PMIN] in the weights
NEWTON_AFTER = 10  # active-only sweeps without convergence before a Newton jump (covariance form)
KEPT_STEPS = 3  # steps a kept Gram matrix may still need before a new one is made (an exact one needs ~2)


@dataclass(frozen=True)
class LassoPath:
    """Solutions along a lambda sequence, on the standardised scale.

    Attributes
    ----------
    lambdas : numpy.ndarray, shape (L,)
        Decreasing; L may be shorter than asked when glmnet's stopping rules end the path.
    intercepts : numpy.ndarray, shape (L,)
    coefs : numpy.ndarray, shape (L, p)
        Coefficients of the standardised features.
    dev_ratio : numpy.ndarray, shape (L,)
        Fraction of the null deviance explained.
    iterations : numpy.ndarray of int, shape (L,)
        Coordinate-descent sweeps used at each lambda (all IRLS steps together).
    max_iter : int
        The limit on those sweeps; a lambda that went past it stopped unconverged.
    """

    lambdas: np.ndarray
    intercepts: np.ndarray
    coefs: np.ndarray
    dev_ratio: np.ndarray
    iterations: np.ndarray
    max_iter: int

    @property
    def unconverged(self) -> np.ndarray:
        """Indices of the lambdas whose fit stopped at the iteration limit rather than converging."""
        return np.flatnonzero(self.iterations > self.max_iter)

    @property
    def converged(self) -> bool:
        """Whether every lambda's fit converged within ``max_iter`` sweeps."""
        return len(self.unconverged) == 0


def lambda_max(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Smallest lambda at which every coefficient is zero: max_j |sum_i w_i x_ij (y_i - ybar)|."""
    ybar = float(w @ y)
    return float(np.max(np.abs(x.T @ (w * (y - ybar)))))


def lambda_sequence(lam_max: float, n_lambdas: int, min_ratio: float) -> np.ndarray:
    """glmnet's sequence: n_lambdas values log-evenly from lam_max down to min_ratio * lam_max."""
    return lam_max * min_ratio ** (np.arange(n_lambdas) / (n_lambdas - 1))


def binomial_deviance(y: np.ndarray, eta: np.ndarray, w: np.ndarray) -> float:
    """-2 * weighted log-likelihood of 0/1 outcomes at linear predictor eta."""
    return float(-2.0 * np.sum(w * (y * eta - np.logaddexp(0.0, eta))))


def lasso_path(x: np.ndarray, y: np.ndarray, w: np.ndarray, lambdas: np.ndarray, *, stop_early: bool,
               tol: float = 1e-9, max_iter: int = 100_000, form: str = "auto") -> LassoPath:
    """Fit the lasso logistic path on already standardised features.

    Parameters
    ----------
    x : numpy.ndarray, shape (n, p)
        Standardised features (any memory order; copied to column order).
    y : numpy.ndarray, shape (n,)
        0/1 outcome.
    w : numpy.ndarray, shape (n,)
        Observation weights summing to 1.
    lambdas : numpy.ndarray
        Decreasing lambda values (glmnet's scale).
    stop_early : bool
        Apply glmnet's path stopping rules (deviance explained > 0.999 or changing by < 1e-5),
        as glmnet does when it chose the lambdas itself; user-given lambdas are all fitted.
    max_iter : int
        Coordinate-descent sweeps allowed per lambda (glmnet's ``maxit``); a lambda that needs more stops
        there, its solution unconverged, and says so in :attr:`LassoPath.iterations` (never silently).
    tol : float
        Convergence: the largest weighted squared coefficient change in a sweep, relative to
        the null deviance (glmnet's ``thresh``; its default 1e-7 leaves cross-validated deviances
        up to ~2e-3 off the exact ones at the end of a wide path; 1e-9 keeps them within ~1e-6
        over the lambdas that decide the choice). The chosen solution is refined exactly by
        :func:`polish`.
    form : {"auto", "naive", "covariance"}
        How each lambda is solved: IRLS with coordinate descent through the residuals ("naive",
        glmnet's binomial default) or proximal Newton steps whose quadratic models are solved through
        a kept weighted Gram matrix with Newton jumps on the active set ("covariance"; see
        :func:`_fit_strong_covariance`). Both reach the same solutions within ``tol``; "auto" takes
        covariance, the faster on every shape measured.

    Returns
    -------
    LassoPath
    """
    xf = np.asfortranarray(x, dtype=np.float64)
    yf = np.ascontiguousarray(y, dtype=np.float64)
    wf = np.ascontiguousarray(w, dtype=np.float64)
    lam = np.ascontiguousarray(lambdas, dtype=np.float64)
    if form not in ("auto", "naive", "covariance"):
        raise ValueError(f"form must be auto, naive or covariance, not {form!r}")
    # The covariance form on every shape: its Gram matrices are made by one matrix product (BLAS)
    # and kept while the steps contract, and its Newton jumps reuse one Cholesky factor, updated as
    # features enter and leave. CPU seconds per path, naive against covariance (bench/lasso.py's
    # problems): 200 x 2,000 0.082 / 0.044; 701 x 2,437 0.39 / 0.39; the bootstrap-shaped
    # 700 x 180 4.8 / 0.10. The naive form stays for the comparison test.
    covariance = form != "naive"
    if not (isinstance(max_iter, (int, np.integer)) and max_iter >= 1):
        raise ValueError(f"max_iter must be a whole number of at least 1, not {max_iter!r}")
    intercepts, coefs, dev_ratio, used, n_fitted = _path(xf, yf, wf, lam, stop_early, tol, int(max_iter), covariance)
    return LassoPath(lambdas=lam[:n_fitted].copy(), intercepts=intercepts[:n_fitted], coefs=coefs[:n_fitted],
                     dev_ratio=dev_ratio[:n_fitted], iterations=used[:n_fitted], max_iter=int(max_iter))


def polish(x: np.ndarray, y: np.ndarray, w: np.ndarray, lam: float, intercept: float, coefs: np.ndarray,
           *, max_steps: int = 20) -> tuple[float, np.ndarray]:
    """Refine one lasso solution to machine precision by Newton steps on its active set.

    Coordinate descent converges slowly along correlated directions, so a solution meeting the
    path's tolerance can still be ~1e-4 off in its coefficients (R's glmnet shares this). With the
    active set and signs fixed, the problem is smooth: Newton's method on
    f(b0, b_A) = -loglik/n + lam * sign_A . b_A converges quadratically. The refined solution is
    kept only if no sign changes and every inactive feature still meets its KKT condition.

    Parameters and returns as :func:`lasso_path` (standardised scale): the refined intercept and
    coefficients, or the given ones unchanged when refining is not safe.
    """
    active = np.flatnonzero(coefs)
    if len(active) == 0 or len(active) >= len(y) // 2:
        return intercept, coefs
    signs = np.sign(coefs[active])
    design = np.column_stack([np.ones(len(y)), x[:, active]])
    theta = np.concatenate([[intercept], coefs[active]])
    penalty = np.concatenate([[0.0], lam * signs])
    for _ in range(max_steps):
        prob = 1 / (1 + np.exp(-(design @ theta)))
        gradient = design.T @ (w * (prob - y)) + penalty
        hessian = design.T @ (design * (w * prob * (1 - prob))[:, None])
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            return intercept, coefs
        theta = theta - step
        if np.max(np.abs(step)) < 1e-13 * max(1.0, np.max(np.abs(theta))):
            break
    if np.any(np.sign(theta[1:]) != signs):
        return intercept, coefs
    refined = np.zeros_like(coefs)
    refined[active] = theta[1:]
    residual = w * (y - 1 / (1 + np.exp(-(design @ theta))))
    inactive = np.setdiff1d(np.arange(len(coefs)), active)
    if len(inactive) and np.max(np.abs(x[:, inactive].T @ residual)) > lam * (1 + 1e-9):
        return intercept, coefs
    return float(theta[0]), refined


@njit(cache=True, nogil=True)
def _deviance(y, eta, w):
    total = 0.0
    for i in range(y.shape[0]):
        e = eta[i]
        # log(1 + exp(e)) without overflow
        softplus = e + np.log1p(np.exp(-e)) if e > 0 else np.log1p(np.exp(e))
        total += w[i] * (y[i] * e - softplus)
    return -2.0 * total


@njit(cache=True, nogil=True, inline="always")
def _coordinate_minimum(u, lam, curvature):
    """The minimiser of curvature / 2 * b^2 - u * b + lam * |b|: soft-thresholding of u by lam."""
    a = abs(u) - lam
    return (a if u > 0 else -a) / curvature if a > 0 else 0.0


@njit(cache=True, nogil=True)
def _sweep(xt, r, v, v_sum, xv, beta, b0, strong, n_strong, lam, active_only):
    """One coordinate-descent pass over the strong set (or its non-zero part), then the intercept.

    ``xt`` is the feature matrix transposed (features x rows, C order), so each feature's values
    are contiguous. Updates ``beta`` and the weighted residual ``r`` in place; returns the largest
    weighted squared change and the new intercept.
    """
    n = xt.shape[1]
    largest = 0.0
    for k in range(n_strong):
        j = strong[k]
        old = beta[j]
        if active_only and old == 0.0:
            continue
        column = xt[j]
        u = np.dot(column, r) + xv[j] * old
        new = _coordinate_minimum(u, lam, xv[j])
        if new != old:
            d = new - old
            beta[j] = new
            for i in range(n):
                r[i] -= d * v[i] * column[i]
            largest = max(largest, xv[j] * d * d)
    d0 = 0.0
    for i in range(n):
        d0 += r[i]
    d0 /= v_sum
    if d0 != 0.0:
        b0 += d0
        for i in range(n):
            r[i] -= d0 * v[i]
        largest = max(largest, v_sum * d0 * d0)
    return largest, b0


@njit(cache=True, nogil=True)
def _descend_naive(xt, r, v, v_sum, xv, beta, b0, strong, n_strong, lam, threshold, iterations, max_iter):
    """Coordinate descent on one quadratic approximation, each update through the n residuals.

    Returns the new intercept and the running sweep count."""
    while True:
        iterations += 1
        largest, b0 = _sweep(xt, r, v, v_sum, xv, beta, b0, strong, n_strong, lam, False)
        if largest < threshold or iterations > max_iter:
            break
        while True:  # the active set only
            iterations += 1
            largest, b0 = _sweep(xt, r, v, v_sum, xv, beta, b0, strong, n_strong, lam, True)
            if largest < threshold or iterations > max_iter:
                break
    return b0, iterations


@njit(cache=True, nogil=True)
def _cd_covariance(g, c, r_sum, v_sum, gram, xv, beta, b0, strong, s, use, lam, threshold, iterations, max_iter,
                   n, jump):
    """Coordinate descent on one quadratic model, through its gradients and (weighted) Gram rows.

    The model: the gradients ``g`` (x_k . r, r the weighted working residual) and ``r_sum`` at the
    current point, the Gram rows ``gram`` (x_k . (v x_l)) and ``c`` (x_k . v), ``v_sum``, over the
    positions 0..s-1 (position k is feature ``strong[k]`` of ``beta``; only positions with ``use[k]``
    move). Each update costs O(s): the gradients of the others follow through the Gram row
    (glmnet's type.gaussian = "covariance", applied to each quadratic step of the logistic fit).
    ``n`` is the number of rows and ``jump`` the Newton jumps' kept factor (see :func:`_newton_once`).
    Updates ``beta``, ``g`` in place; returns the new intercept and the running sweep count.
    """
    active_only = False
    stalled = 0  # active-only sweeps in a row
    # Jump first: with the active set of the last step (the usual case once a path is under way) the
    # jump lands on this model's minimiser, and the sweep after it only confirms it. A converged-looking
    # sweep is otherwise confirmed by a jump below.
    b0, r_sum, _ = _newton_step(g, c, r_sum, v_sum, gram, beta, b0, strong, s, lam, n, jump)
    confirmed = True
    while True:
        iterations += 1
        largest = 0.0
        for k in range(s):
            if not use[k]:
                continue
            j = strong[k]
            old = beta[j]
            if active_only and old == 0.0:
                continue
            u = g[k] + xv[j] * old
            new = _coordinate_minimum(u, lam, xv[j])
            d = new - old
            # A move of rounding size (after a jump every coordinate "moves" by ~1e-16) costs O(s) and
            # changes nothing: it is left out, 12 orders of magnitude below the convergence threshold.
            if d != 0.0 and (new == 0.0 or xv[j] * d * d > 1e-12 * threshold):
                beta[j] = new
                row = gram[k]
                for q in range(s):
                    g[q] -= d * row[q]
                r_sum -= d * c[k]
                largest = max(largest, xv[j] * d * d)
        d0 = r_sum / v_sum
        if d0 != 0.0:
            b0 += d0
            for q in range(s):
                g[q] -= d0 * c[q]
            r_sum -= d0 * v_sum
            largest = max(largest, v_sum * d0 * d0)
        if largest < threshold or iterations > max_iter:
            if not active_only:
                if iterations > max_iter or confirmed:
                    break
                # A first sweep of small moves can be slow progress rather than the optimum: deep in
                # the path one lambda step moves each coordinate by less than the threshold, and the
                # solution would stay at the previous lambda's. Confirm with a Newton jump.
                b0, r_sum, moved = _newton_step(g, c, r_sum, v_sum, gram, beta, b0, strong, s, lam, n, jump)
                confirmed = True
                if moved < threshold:
                    break
            active_only = False  # the active set settled: sweep the whole strong set again
            stalled = 0
        else:
            active_only = True
            stalled += 1
            if stalled % NEWTON_AFTER == 0:
                b0, r_sum, _ = _newton_step(g, c, r_sum, v_sum, gram, beta, b0, strong, s, lam, n, jump)
    return b0, iterations


@njit(cache=True, nogil=True)
def _grow(matrix, size):
    """``matrix`` (square) copied into a larger square one of side ``size``."""
    grown = np.empty((size, size))
    m = matrix.shape[0]
    grown[:m, :m] = matrix
    return grown


@njit(cache=True, nogil=True)
def _gram_rows(xt, features, first, count, vt, gram, c):
    """Fill the Gram rows (and columns) of positions first..count-1 against positions 0..count-1.

    ``gram[k, l] = sum_i vt_i x_ik x_il`` for the features ``features[k]``, ``features[l]``, and
    ``c[k] = sum_i vt_i x_ik``. One matrix product (BLAS) for the block: computing the rows one matrix-vector
    product at a time was what made a deep path with many active features slow (2,800 x 651: minutes).
    """
    n = xt.shape[1]
    rows = np.empty((count, n))
    for k in range(count):
        rows[k] = xt[features[k]]
    fresh = np.empty((count - first, n))
    for t in range(count - first):
        for i in range(n):
            fresh[t, i] = vt[i] * rows[first + t, i]
    block = fresh @ rows.T  # (new) x (all)
    for t in range(count - first):
        k = first + t
        for q in range(count):
            gram[k, q] = block[t, q]
            gram[q, k] = block[t, q]
        total = 0.0
        for i in range(n):
            total += fresh[t, i]
        c[k] = total


@njit(cache=True, nogil=True)
def _irls_weights(y, w, eta, v, r):
    """IRLS weights v = w p (1 - p) (p kept in [PMIN, 1 - PMIN], as glmnet) and weighted residuals
    r = w (y - p) at linear predictor ``eta``, written into ``v`` and ``r``; returns their sums."""
    v_sum = 0.0
    r_sum = 0.0
    for i in range(y.shape[0]):
        pi = 1.0 / (1.0 + np.exp(-eta[i]))
        pi = min(max(pi, PMIN), 1.0 - PMIN)
        v[i] = w[i] * pi * (1.0 - pi)
        r[i] = w[i] * (y[i] - pi)
        v_sum += v[i]
        r_sum += r[i]
    return v_sum, r_sum


@njit(cache=True, nogil=True)
def _objective(y, eta, w, beta, lam):
    """glmnet's penalised objective: mean negative log-likelihood (weights w) + lam * L1 norm."""
    penalty = 0.0
    for j in range(beta.shape[0]):
        penalty += abs(beta[j])
    return 0.5 * _deviance(y, eta, w) + lam * penalty


@njit(cache=True, nogil=True)
def _newton_step(g, c, r_sum, v_sum, gram, beta, b0, strong, s, lam, n, jump):
    """Jump towards the exact minimiser of the quadratic approximation on the current active set.

    With the active set A and its signs fixed, the optimality conditions are linear:
    x_k . r = lam sign(beta_k) for k in A and sum(r) = 0, a symmetric (|A| + 1) system in the
    weighted Gram rows. Its solution is the minimiser over the orthant, and the objective is
    convex along the segment to it, so moving as far as the first coefficient that would change
    sign (set to zero there) always lowers it; the jump is then solved again without that coefficient,
    until one lands inside its orthant. Coordinate descent then goes on from the new point
    and alone decides convergence, so the answer is the one it would reach, in far fewer sweeps
    where the active features are strongly correlated. Returns the new intercept, sum(r) and
    the largest weighted squared change made (0 when no step was taken).
    """
    moved = 0.0
    for _ in range(s + 1):  # each partial jump removes one coefficient
        b0, r_sum, change, inside = _newton_once(g, c, r_sum, v_sum, gram, beta, b0, strong, s, lam, n, jump)
        moved = max(moved, change)
        if inside:
            break
    return b0, r_sum, moved


@njit(cache=True, nogil=True)
def _factor_from_scratch(factor, members, slot, info, active, a, gram, c, v_sum):
    """Factor the active block [[v_sum, c_A'], [c_A, G_AA]] (intercept first) by Cholesky; False if singular."""
    system = np.empty((a + 1, a + 1))
    system[0, 0] = v_sum
    for t in range(a):
        k = active[t]
        system[0, t + 1] = c[k]
        system[t + 1, 0] = c[k]
        for u in range(a):
            system[t + 1, u + 1] = gram[k, active[u]]
    for t in range(info[0]):
        slot[members[t]] = -1
    info[0] = -1
    try:
        lower = np.linalg.cholesky(system)
    except Exception:  # noqa: BLE001 - numba catches only Exception; singular: leave it to coordinate descent
        return False
    factor[:a + 1, :a + 1] = lower
    for t in range(a):
        members[t] = active[t]
        slot[active[t]] = t
    info[0] = a
    info[1] = info[2]
    return True


@njit(cache=True, nogil=True)
def _factor_remove(factor, members, slot, info, t):
    """Drop member t from the kept factor: its row goes, Givens rotations make the rest triangular again."""
    m = info[0] + 1  # the factor's side, intercept included
    row = t + 1
    for i in range(row, m - 1):
        for j in range(i + 2):
            factor[i, j] = factor[i + 1, j]
    for i in range(row, m - 1):
        x, z = factor[i, i], factor[i, i + 1]
        radius = np.hypot(x, z)
        cos, sin = x / radius, z / radius
        for k in range(i, m - 1):
            x, z = factor[k, i], factor[k, i + 1]
            factor[k, i] = cos * x + sin * z
            factor[k, i + 1] = -sin * x + cos * z
    slot[members[t]] = -1
    for u in range(t, info[0] - 1):
        members[u] = members[u + 1]
        slot[members[u]] = u
    info[0] -= 1


@njit(cache=True, nogil=True)
def _factor_append(factor, members, slot, info, k, gram, c):
    """Add position k as the factor's last member: one forward substitution; False if it makes it singular."""
    m = info[0] + 1
    new = np.empty(m)
    new[0] = c[k]
    for t in range(info[0]):
        new[t + 1] = gram[members[t], k]
    total = gram[k, k]
    for i in range(m):
        value = new[i]
        for j in range(i):
            value -= factor[i, j] * factor[m, j]
        factor[m, i] = value / factor[i, i]
        total -= factor[m, i] * factor[m, i]
    if not total > 1e-12 * gram[k, k]:
        return False
    factor[m, m] = np.sqrt(total)
    members[info[0]] = k
    slot[k] = info[0]
    info[0] += 1
    return True


@njit(cache=True, nogil=True)
def _newton_once(g, c, r_sum, v_sum, gram, beta, b0, strong, s, lam, n, jump):
    """One jump of :func:`_newton_step`; also returns whether it ended inside the orthant (or took no step).

    ``jump`` = (factor, members, slot, info) keeps the Cholesky factor of the last jump's active
    block, intercept first: ``members`` the positions in factor order, ``slot`` each position's place
    in it (-1: none), ``info`` = [members (-1: no factor), the Gram version it was made from, the
    current Gram version]. A jump on a nearby active set and the same Gram matrix updates it, O(a^2)
    per feature that enters or leaves, instead of factorising again, O(a^3): deep in a path with
    hundreds of active features, factorising was the whole cost.
    """
    factor, members, slot, info = jump
    a = 0
    active = np.empty(s, dtype=np.int64)
    for k in range(s):
        if beta[strong[k]] != 0.0:
            active[a] = k
            a += 1
    if a == 0 or a + 1 >= n:
        return b0, r_sum, 0.0, True
    changes = 0
    if info[0] >= 0 and info[1] == info[2]:
        for t in range(info[0]):
            if beta[strong[members[t]]] == 0.0:
                changes += 1
        for t in range(a):
            if slot[active[t]] < 0:
                changes += 1
    updated = False
    if info[0] >= 0 and info[1] == info[2] and changes <= 8 + a // 8:
        updated = True
        for t in range(info[0] - 1, -1, -1):
            if beta[strong[members[t]]] == 0.0:
                _factor_remove(factor, members, slot, info, t)
        for t in range(a):
            if slot[active[t]] < 0 and not _factor_append(factor, members, slot, info, active[t], gram, c):
                updated = False
                break
    if not updated and not _factor_from_scratch(factor, members, slot, info, active, a, gram, c, v_sum):
        return b0, r_sum, 0.0, True
    for t in range(a):
        active[t] = members[t]  # factor order from here on
    rhs = np.empty(a + 1)
    rhs[0] = r_sum
    for t in range(a):
        k = active[t]
        rhs[t + 1] = g[k] - (lam if beta[strong[k]] > 0 else -lam)
    # Two triangular solves with the kept factor: L z = rhs, then L' x = z; x[0] is the intercept's.
    x = np.empty(a + 1)
    for t in range(a + 1):
        total = rhs[t]
        for u in range(t):
            total -= factor[t, u] * x[u]
        x[t] = total / factor[t, t]
    for t in range(a, -1, -1):  # by rows of L (contiguous), each x[t] removed from those above it
        x[t] /= factor[t, t]
        row = factor[t]
        for u in range(t):
            x[u] -= row[u] * x[t]
    step = np.empty(a + 1)  # the coefficients' steps, then the intercept's
    for t in range(a):
        step[t] = x[t + 1]
    step[a] = x[0]
    for t in range(a + 1):
        if not np.isfinite(step[t]):
            return b0, r_sum, 0.0, True
    fraction = 1.0
    first_zero = -1
    moved = 0.0  # the largest weighted squared change, as a sweep measures it
    for t in range(a):
        old = beta[strong[active[t]]]
        new = old + step[t]
        if new == 0.0 or (new > 0) != (old > 0):
            crossing = old / (old - new)
            if crossing < fraction:
                fraction = crossing
                first_zero = t
    for t in range(a):
        k = active[t]
        d = fraction * step[t]
        if t == first_zero:
            d = -beta[strong[k]]
        beta[strong[k]] += d
        if t == first_zero:
            beta[strong[k]] = 0.0
        moved = max(moved, gram[k, k] * d * d)
        row = gram[k]
        for q in range(s):
            g[q] -= d * row[q]
        r_sum -= d * c[k]
    d0 = fraction * step[a]
    moved = max(moved, v_sum * d0 * d0)
    b0 += d0
    for q in range(s):
        g[q] -= d0 * c[q]
    r_sum -= d0 * v_sum
    return b0, r_sum, moved, first_zero < 0


@njit(cache=True, nogil=True)
def _fit_strong_covariance(xt, y, w, eta, beta, b0, strong, n_strong, in_strong, lam, threshold, iterations,
                           max_iter, xv, cache, gset, pos, f, gram, c, vt, vt_sum, factor, members, slot, info):
    """Solve one lambda on the strong set by proximal Newton steps with a Hessian kept between steps.

    Each step minimises the quadratic model (exact gradient, weighted Gram matrix) by coordinate
    descent in covariance form (:func:`_cd_covariance`), then moves the linear predictor. The Gram
    matrix x' diag(v) x costs O(n s^2) and is what dominates with many active features, so it is
    not recomputed at every step as IRLS would: it is kept (with the weights ``vt`` it was made at)
    while the steps keep contracting, and recomputed when a step contracts by less than 10x, when
    a step would raise the objective (that step is undone), or every step while it is small. The
    gradient is always exact, so a step of zero is the exact optimum: the answer is the one IRLS
    reaches, usually for a fraction of the Gram matrices. Features entering the strong set get their
    rows at the kept weights.

    The kept state, carried from lambda to lambda: ``cache`` (-1 until a Gram matrix has been made),
    the Gram matrix ``gram`` and ``c`` over ``f`` features (``gset``; ``pos`` maps back), the weights
    ``vt`` and ``vt_sum`` it was made at, and the Newton jumps' kept factor (``factor``, ``members``,
    ``slot``, ``info``; see :func:`_newton_once`). Returns the intercept, the sweep count and the state that may
    have been replaced (cache, f, gram, vt_sum, factor).
    """
    n = xt.shape[1]
    v = np.empty(n)
    r = np.empty(n)
    eta_old = np.empty(n)
    previous = np.inf
    before = np.inf  # the objective at the current point, when known
    refresh = cache < 0
    while True:
        v_sum, r_sum = _irls_weights(y, w, eta, v, r)
        fresh = False
        if refresh or f > 2 * n_strong + 64 and cache == 0:
            # a new Gram matrix, on the strong set only (features that left it are dropped)
            for k in range(f):
                pos[gset[k]] = -1
            f = 0
            for k in range(n_strong):
                gset[f] = strong[k]
                pos[strong[k]] = f
                f += 1
            if gram.shape[0] < f:
                gram = np.empty((max(f, 2 * gram.shape[0]), max(f, 2 * gram.shape[0])))
            info[2] += 1  # a new Gram version: the jumps' factor is stale
            vt[:] = v
            vt_sum = v_sum
            if f > 0:
                _gram_rows(xt, gset, 0, f, vt, gram, c)
            fresh = True
            refresh = False
        else:
            first = f
            for k in range(n_strong):
                j = strong[k]
                if pos[j] < 0:
                    gset[f] = j
                    pos[j] = f
                    f += 1
            if f > first:
                if gram.shape[0] < f:
                    gram = _grow(gram, max(f, 2 * gram.shape[0]))
                _gram_rows(xt, gset, first, f, vt, gram, c)
            fresh = False  # made at the weights of an earlier step
        if factor.shape[0] < gram.shape[0] + 1:
            factor = np.empty((gram.shape[0] + 1, gram.shape[0] + 1))
            members = np.empty(gram.shape[0], dtype=np.int64)
            slot = np.full(gram.shape[0], -1, dtype=np.int64)
            info[0] = -1
        use = np.empty(f, dtype=np.bool_)
        g = np.empty(f)
        beta_old = np.empty(f)
        for k in range(f):
            j = gset[k]
            use[k] = in_strong[j]
            xv[j] = gram[k, k]
            g[k] = np.dot(xt[j], r)
            beta_old[k] = beta[j]
        b0_old = b0
        eta_old[:] = eta
        if not fresh and before == np.inf:
            before = _objective(y, eta, w, beta, lam)
        b0, iterations = _cd_covariance(g, c, r_sum, vt_sum, gram, xv, beta, b0, gset, f, use, lam, threshold,
                                        iterations, max_iter, n, (factor, members, slot, info))
        d0 = b0 - b0_old
        measure = vt_sum * d0 * d0
        for i in range(n):
            eta[i] += d0
        for k in range(f):
            j = gset[k]
            d = beta[j] - beta_old[k]
            if d != 0.0:
                measure = max(measure, gram[k, k] * d * d)
                row = xt[j]
                for i in range(n):
                    eta[i] += d * row[i]
        # An exact Gram matrix makes an IRLS step, taken as glmnet takes it; a kept one must lower the objective.
        after = _objective(y, eta, w, beta, lam) if not fresh else np.inf
        if not fresh and after > before + 1e-13 * abs(before):
            # The kept Gram matrix misled this step: undo it and take an exact one.
            b0 = b0_old
            eta[:] = eta_old
            for k in range(f):
                beta[gset[k]] = beta_old[k]
            refresh = True
            cache = 0
            continue
        before = after
        cache = 0
        if measure < threshold or iterations > max_iter:
            break
        # The steps contract at least linearly: when the next one, at this step's contraction, would be
        # a hundredth of the threshold, it is not taken (it would cost two passes over the rows to move
        # the coefficients by less than a tenth of the tolerance's size).
        if measure < previous < np.inf and measure * (measure / previous) < 0.01 * threshold:
            break
        # A new Gram matrix when the steps at this contraction would need more than KEPT_STEPS more (tuned
        # on bench/lasso.py's grid: fewer steps paid for their Gram matrices on every shape).
        if not fresh and (measure >= previous or
                          np.log(threshold / measure) / np.log(measure / previous) > KEPT_STEPS):
            refresh = True
        if f <= 32:
            refresh = True  # a small Gram matrix costs less than a slow step
        previous = measure
    return b0, iterations, cache, f, gram, vt_sum, factor, members, slot


@njit(cache=True, nogil=True)
def _path(x, y, w, lambdas, stop_early, tol, max_iter, covariance):
    n, p = x.shape
    n_lam = lambdas.shape[0]
    intercepts = np.zeros(n_lam)
    coefs = np.zeros((n_lam, p))
    dev_ratio = np.zeros(n_lam)
    used = np.zeros(n_lam, dtype=np.int64)  # sweeps per lambda; above max_iter means it stopped unconverged

    ybar = 0.0
    for i in range(n):
        ybar += w[i] * y[i]
    b0 = np.log(ybar / (1.0 - ybar))
    beta = np.zeros(p)
    eta = np.full(n, b0)
    null_dev = _deviance(y, eta, w)
    threshold = tol * null_dev

    v = np.empty(n)  # IRLS weights w p (1 - p)
    r = np.empty(n)  # weighted working residual w (y - p) (minus the quadratic model's fit)
    xv = np.zeros(p)
    grad = np.zeros(p)
    in_strong = np.zeros(p, dtype=np.bool_)
    ever_active = np.zeros(p, dtype=np.bool_)
    strong = np.empty(p, dtype=np.int64)

    for i in range(n):
        r[i] = w[i] * (y[i] - ybar)
    xt = np.ascontiguousarray(x.T)  # a view of the column-ordered matrix (typed C even for one feature)
    # The covariance form's kept Gram matrix (see _fit_strong_covariance), carried from lambda to lambda.
    cache = -1
    gset = np.empty(p, dtype=np.int64)
    pos = np.full(p, -1, dtype=np.int64)
    n_cached = 0
    gram = np.empty((min(p, 64), min(p, 64)))
    c = np.empty(p)
    vt = np.empty(n)
    vt_sum = 0.0
    factor = np.empty((1, 1))
    members = np.empty(0, dtype=np.int64)
    slot = np.empty(0, dtype=np.int64)
    info = np.array([-1, 0, 0], dtype=np.int64)  # the jumps' factor: see _newton_once
    grad[:] = np.abs(xt @ r)

    n_fitted = 0
    lam_prev = lambdas[0]
    for m in range(n_lam):
        lam = lambdas[m]
        if stop_early and m == 0:
            lam = BIG  # glmnet fits its own first lambda as infinite: exactly the null model
        # Sequential strong rule: only features likely to be active are cycled over.
        n_strong = 0
        for j in range(p):
            in_strong[j] = ever_active[j] or grad[j] > 2.0 * lam - lam_prev
            if in_strong[j]:
                strong[n_strong] = j
                n_strong += 1
        iterations = 0
        while True:
            if covariance:
                b0, iterations, cache, n_cached, gram, vt_sum, factor, members, slot = _fit_strong_covariance(
                    xt, y, w, eta, beta, b0, strong, n_strong, in_strong, lam, threshold, iterations, max_iter, xv,
                    cache, gset, pos, n_cached, gram, c, vt, vt_sum, factor, members, slot, info)
            else:
                # IRLS on the strong set.
                while True:
                    v_sum, _ = _irls_weights(y, w, eta, v, r)
                    for k in range(n_strong):
                        j = strong[k]
                        s = 0.0
                        for i in range(n):
                            s += v[i] * xt[j, i] * xt[j, i]
                        xv[j] = s
                    b0_start = b0
                    beta_start = beta.copy()
                    # Coordinate descent on the quadratic approximation: a sweep over the strong set,
                    # then sweeps over the non-zero coefficients until they settle, and again.
                    b0, iterations = _descend_naive(xt, r, v, v_sum, xv, beta, b0, strong, n_strong, lam,
                                                    threshold, iterations, max_iter)
                    # New linear predictor; the IRLS loop ends when a whole quadratic step moved nothing.
                    for i in range(n):
                        eta[i] = b0
                    for k in range(n_strong):
                        j = strong[k]
                        if beta[j] != 0.0:
                            for i in range(n):
                                eta[i] += beta[j] * xt[j, i]
                    step = v_sum * (b0 - b0_start) ** 2
                    for k in range(n_strong):
                        j = strong[k]
                        step = max(step, xv[j] * (beta[j] - beta_start[j]) ** 2)
                    if step < threshold or iterations > max_iter:
                        break
            # KKT check over the features the strong rule left out.
            for i in range(n):
                pi = 1.0 / (1.0 + np.exp(-eta[i]))
                r[i] = w[i] * (y[i] - pi)
            violations = 0
            # |x_j . r| for the features that may enter: KKT here, the strong rule at the next lambda. An
            # active feature's is lambda at the optimum and never read (with n >> p most are active).
            needed = 0
            for j in range(p):
                if beta[j] == 0.0 and not ever_active[j]:
                    needed += 1
            if 2 * needed > p:
                grad[:] = np.abs(xt @ r)  # BLAS
            else:
                for j in range(p):
                    if beta[j] == 0.0 and not ever_active[j]:
                        grad[j] = abs(np.dot(xt[j], r))
            for j in range(p):
                if not in_strong[j] and grad[j] > lam:
                    in_strong[j] = True
                    strong[n_strong] = j
                    n_strong += 1
                    violations += 1
            if violations == 0 or iterations > max_iter:
                break
        for j in range(p):
            if beta[j] != 0.0:
                ever_active[j] = True
        intercepts[m] = b0
        coefs[m, :] = beta
        dev_ratio[m] = 1.0 - _deviance(y, eta, w) / null_dev
        used[m] = iterations
        n_fitted = m + 1
        lam_prev = lambdas[m]
        if stop_early and m + 1 >= MIN_LAMBDAS and (dev_ratio[m] > DEVMAX or dev_ratio[m] - dev_ratio[m - 1] < FDEV):
            break
    return intercepts, coefs, dev_ratio, used, n_fitted
