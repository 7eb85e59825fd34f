"""Feature selection, fitted on the training cohort only.

Reader agreement (ICC) and the study's screening steps: variance threshold, Spearman redundancy
with caret::findCorrelation semantics, univariable t-test, and LASSO logistic regression with
glmnet's cross-validation (:func:`lasso_cv`). Every function takes training rows only; test rows
are only ever indexed by the kept columns.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import stats
from threadpoolctl import threadpool_limits

from core.errors import RadNomoError
from core.vocabulary import CORRELATION_METHODS, LASSO_COX_MEASURES, LASSO_RULES, UNIVARIABLE_TESTS, check_option

__all__ = ["icc_table", "variance_filter", "drop_correlated", "univariable_tests", "univariable_auc", "mrmr", "LassoCV",
           "PathConvergence", "lasso_cv", "stratified_folds", "ScreeningSettings", "ScreeningStep", "ScreeningResult",
           "FunnelStep", "StepOutcome", "ScreeningContext", "NotAllMissing", "IccFilter", "VarianceFilter",
           "RedundancyFilter", "UnivariableTest", "UnivariableAuc", "Mrmr", "Lasso", "FIRST_STEPS",
           "SCREENING_PIPELINES", "settings_used", "screen", "selection_stability"]


def icc_table(reader1: pd.DataFrame, reader2: pd.DataFrame) -> pd.DataFrame:
    """Single-rater intraclass correlation of every feature between two readers' masks.

    Parameters
    ----------
    reader1, reader2 : pandas.DataFrame
        Rows = cases, columns = features; cases are matched by index, features by name.

    Returns
    -------
    pandas.DataFrame
        Indexed by feature, columns ``ICC1`` (one-way random), ``ICC2`` (two-way random, absolute
        agreement) and ``ICC3`` (two-way mixed, consistency), single rater, as psych::ICC and
        pingouin name them; NaN for a feature constant across all cases.

    Raises
    ------
    RadNomoError
        If fewer than 3 cases or no features are shared.

    Notes
    -----
    Shrout & Fleiss (1979) mean squares, computed for all features at once (vectorised: pingouin
    works one feature at a time through a long table, which takes minutes for 1,900 features):
    ICC1 = (MSR - MSW) / (MSR + (k-1) MSW); ICC2 = (MSR - MSE) / (MSR + (k-1) MSE + k (MSC - MSE) / n);
    ICC3 = (MSR - MSE) / (MSR + (k-1) MSE), with k = 2 readers and n cases.
    """
    cases = reader1.index.intersection(reader2.index)
    features = reader1.columns.intersection(reader2.columns)
    if len(cases) < 3:
        raise RadNomoError(f"only {len(cases)} case(s) were read by both readers; ICC needs at least 3.")
    if len(features) == 0:
        raise RadNomoError("the two readers' tables share no feature names.")
    x = np.stack([reader1.loc[cases, features].to_numpy(dtype=float),
                  reader2.loc[cases, features].to_numpy(dtype=float)], axis=1)  # (n, k, features)
    n, k = x.shape[0], x.shape[1]
    grand = x.mean(axis=(0, 1))
    row_means = x.mean(axis=1)
    col_means = x.mean(axis=0)
    ss_rows = k * ((row_means - grand) ** 2).sum(axis=0)
    ss_cols = n * ((col_means - grand) ** 2).sum(axis=0)
    ss_total = ((x - grand) ** 2).sum(axis=(0, 1))
    ss_error = ss_total - ss_rows - ss_cols
    ms_rows = ss_rows / (n - 1)
    ms_cols = ss_cols / (k - 1)
    ms_error = ss_error / ((n - 1) * (k - 1))
    ms_within = (ss_cols + ss_error) / (n * (k - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        icc1 = (ms_rows - ms_within) / (ms_rows + (k - 1) * ms_within)
        icc2 = (ms_rows - ms_error) / (ms_rows + (k - 1) * ms_error + k * (ms_cols - ms_error) / n)
        icc3 = (ms_rows - ms_error) / (ms_rows + (k - 1) * ms_error)
    table = pd.DataFrame({"ICC1": icc1, "ICC2": icc2, "ICC3": icc3}, index=features)
    table.index.name = "feature"
    return table


def variance_filter(X: pd.DataFrame, threshold: float = 1.0) -> list[str]:
    """Columns whose variance on the raw values exceeds ``threshold`` (the study drops variance <= 1.0).

    The variance is the population variance (``ddof=0``), as scikit-learn's VarianceThreshold;
    missing values are ignored. Returns the kept column names in their original order.
    """
    variances = X.var(axis=0, ddof=0, skipna=True)
    return [c for c in X.columns if variances[c] > threshold]


def drop_correlated(X: pd.DataFrame, threshold: float = 0.7, method: str = "spearman",
                    exact: bool | None = None) -> list[str]:
    """Remove redundant features as R's ``caret::findCorrelation`` does; returns the kept column names.

    Parameters
    ----------
    X : pandas.DataFrame
        Training rows, one column per feature.
    threshold : float, default 0.7
        Pairs with absolute correlation above it are redundant.
    method : {"spearman", "pearson", "kendall"}
    exact : bool, optional
        caret's two algorithms: ``True`` re-computes mean absolute correlations after every
        removal; ``False`` decides all pairs from the initial means (vectorised). ``None`` (default)
        follows caret: exact when there are fewer than 100 columns.

    Notes
    -----
    For each pair above the cut-off, the member with the larger mean absolute correlation with the
    other features is removed (Kuhn, caret). Reproduced line by line, quirks included (the exact
    variant compares a row mean with the mean of the whole matrix without the other row), and
    checked against caret 6.0-93 in tests/reference.
    """
    check_option("method", method, CORRELATION_METHODS)
    if not 0 < threshold < 1:
        raise RadNomoError(f"threshold = {threshold} must lie in (0, 1).")
    columns = list(X.columns)
    if len(columns) < 2:
        return columns
    use_exact = len(columns) < 100 if exact is None else exact
    # Too many features to hold their correlation matrix: caret's fast decisions from blocks of it.
    streamed = not use_exact and len(columns) > DENSE_CORRELATION_MAX and method != "kendall" \
        and not X.isna().to_numpy().any()
    if streamed:
        corr = None
        undefined = ~(X.to_numpy(dtype=float).std(axis=0) > 0)
    else:
        corr = _correlation_matrix(X, method)
        undefined = np.isnan(corr).all(axis=0) if np.isnan(corr).any() else np.zeros(len(columns), dtype=bool)
    if undefined.any() or (corr is not None and np.isnan(corr).any()):
        constant = [c for c, v in zip(columns, undefined, strict=True) if v]
        raise RadNomoError(f"correlations are undefined for constant or empty feature(s) {constant[:5]}; drop them "
                           "first (the variance filter does).")
    if corr is None:
        removed = _decided(*_correlated_pairs_streamed(_standardised(X, method), threshold))
    else:
        removed = _find_correlation_exact(corr, threshold) if use_exact else _find_correlation_fast(corr, threshold)
    removed_set = set(removed)
    return [c for i, c in enumerate(columns) if i not in removed_set]


def _correlation_matrix(X: pd.DataFrame, method: str) -> np.ndarray:
    """Feature-by-feature correlations. Without missing values Spearman is Pearson on average ranks,
    computed as one matrix product (10x faster than pandas' pairwise loop on 1,000+ features)."""
    values = X.to_numpy(dtype=float)
    if method == "kendall" or np.isnan(values).any():
        return X.corr(method=method).to_numpy()
    if method == "spearman":
        values = stats.rankdata(values, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.corrcoef(values, rowvar=False)


#: Features up to which the redundancy step holds their whole correlation matrix. Beyond, it computes the matrix in
#: blocks of :data:`CORRELATION_BLOCK` rows and keeps only what caret's fast algorithm reads (each feature's mean
#: absolute correlation and the pairs above the cut-off): 20,000 features would otherwise need 3.2 GB for the matrix
#: and as much again for its absolute values.
DENSE_CORRELATION_MAX = 4_000
CORRELATION_BLOCK = 1_000


def _standardised(X: pd.DataFrame, method: str) -> np.ndarray:
    """Columns (ranked for Spearman) centred and scaled to unit norm, so that their cross-products are the
    correlations (no missing value, no constant column: checked before)."""
    values = X.to_numpy(dtype=float)
    if method == "spearman":
        values = stats.rankdata(values, axis=0)
    values = values - values.mean(axis=0)
    values /= np.sqrt(np.einsum("ij,ij->j", values, values))
    return values


def _correlated_pairs_streamed(z: np.ndarray, cutoff: float,
                               block: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """caret's inputs from the correlation matrix ``z.T @ z`` computed ``block`` rows at a time (memory: block x p):
    each column's mean absolute correlation (diagonal included) and the pairs (row < column) above ``cutoff``."""
    block = block or CORRELATION_BLOCK
    p = z.shape[1]
    total = np.empty(p)
    rows, cols = [], []
    for start in range(0, p, block):
        part = z[:, start:start + block].T @ z
        np.clip(part, -1, 1, out=part)  # as numpy's corrcoef
        np.abs(part, out=part)
        total[start:start + block] = part.sum(axis=1)  # the matrix is symmetric: row sums are column sums
        r, c = np.nonzero(part > cutoff)
        r += start
        upper = c > r
        rows.append(r[upper])
        cols.append(c[upper])
    return total / p, np.concatenate(rows), np.concatenate(cols)


def _find_correlation_fast(corr: np.ndarray, cutoff: float) -> list[int]:
    """caret's findCorrelation_fast: all pairs judged by the initial mean absolute correlations."""
    average = np.abs(corr).mean(axis=0)  # colMeans(abs(x)), diagonal included as in caret
    rows, cols = np.nonzero(np.triu(np.abs(corr) > cutoff, k=1))
    return _decided(average, rows, cols)


def _decided(average: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> list[int]:
    """caret's fast decisions: of each pair (row < column) above the cut-off, the member with the larger mean
    absolute correlation goes, pairs taken in R's column-major order; returns the removed indices, first first."""
    order = np.lexsort((rows, cols))  # R's which() walks the matrix column by column
    rows, cols = rows[order], cols[order]
    discard_col = average[cols] > average[rows]
    removed = np.concatenate([cols[discard_col], rows[~discard_col]])
    return list(dict.fromkeys(removed.tolist()))


def _find_correlation_exact(corr: np.ndarray, cutoff: float) -> list[int]:
    """caret's findCorrelation_exact: mean absolute correlations updated after each removal."""
    x = np.abs(corr).astype(float)
    n = len(x)
    tmp = x.copy()
    np.fill_diagonal(tmp, np.nan)
    order = np.argsort(-np.nanmean(tmp, axis=0), kind="stable")  # order(..., decreasing = TRUE)
    x = x[np.ix_(order, order)]
    x2 = x.copy()
    np.fill_diagonal(x2, np.nan)
    delete = np.zeros(n, dtype=bool)
    everyone = np.arange(n)
    for i in range(n - 1):
        if not np.any(x2[~np.isnan(x2)] > cutoff):
            break
        if delete[i]:
            continue
        for j in range(i + 1, n):
            if delete[i] or delete[j] or not x[i, j] > cutoff:
                continue
            mean_i = np.nanmean(x2[i, :]) if not np.isnan(x2[i, :]).all() else np.nan
            others = x2[everyone != j, :]
            mean_without_j = np.nanmean(others) if not np.isnan(others).all() else np.nan
            if mean_i > mean_without_j:
                delete[i] = True
                x2[i, :] = np.nan
                x2[:, i] = np.nan
            else:
                delete[j] = True
                x2[j, :] = np.nan
                x2[:, j] = np.nan
    return order[delete].tolist()


def univariable_tests(X: pd.DataFrame, y: pd.Series, *, test: str = "student") -> pd.DataFrame:
    """Each feature against the binary outcome: statistic and p-value per feature.

    Parameters
    ----------
    X : pandas.DataFrame
        Training rows.
    y : pandas.Series
        0/1 outcome aligned with ``X``.
    test : {"student", "welch", "mannwhitney"}
        Independent-samples t-test with equal variances (the study's), Welch's t-test, or the
        Mann-Whitney U test (two-sided).

    Returns
    -------
    pandas.DataFrame
        Indexed by feature: ``statistic``, ``p_value``, ``mean_0``, ``mean_1``.
    """
    check_option("test", test, {name: UNIVARIABLE_TESTS[name] for name in BinaryScreening.tests})
    outcome = np.asarray(y).astype(int)
    if set(np.unique(outcome)) != {0, 1}:
        raise RadNomoError("the outcome must have both classes 0 and 1 in the training rows.")
    values = X.to_numpy(dtype=float)
    a, b = values[outcome == 0], values[outcome == 1]
    if test == "mannwhitney":
        result = stats.mannwhitneyu(a, b, alternative="two-sided", axis=0)
    else:
        result = stats.ttest_ind(a, b, equal_var=test == "student", axis=0)
    return pd.DataFrame({"statistic": result.statistic, "p_value": result.pvalue, "mean_0": a.mean(axis=0),
                         "mean_1": b.mean(axis=0)}, index=X.columns)


# ---------------------------------------------------------------------------------------------
# LASSO with cross-validation (glmnet's cv.glmnet for family = "binomial", type.measure = "deviance")
# ---------------------------------------------------------------------------------------------

PROB_CLAMP = 1e-5  # cv.glmnet keeps held-out probabilities in [1e-5, 1 - 1e-5] for the deviance
MAX_ITER = 100_000  # coordinate-descent sweeps per lambda (glmnet's maxit)
ALL_ROWS = "all rows"  # PathConvergence.fit of the path on all training rows (the folds are "fold 1", ...)


@dataclass(frozen=True)
class PathConvergence:
    """The lambdas at which one LASSO path stopped at its iteration limit instead of converging.

    Attributes
    ----------
    fit : str
        Which path: ``"all rows"`` (the fit whose coefficients are reported) or ``"fold k"`` (a
        cross-validation fit, which feeds the deviance curve).
    lambdas : tuple of float
        Those lambdas (glmnet's scale), decreasing.
    iterations : tuple of int
        Sweeps used at each of them (more than ``max_iter``: the path stopped there).
    max_iter : int
        The limit.
    """

    fit: str
    lambdas: tuple[float, ...]
    iterations: tuple[int, ...]
    max_iter: int

    def to_dict(self) -> dict:
        return {"fit": self.fit, "lambdas": list(self.lambdas), "iterations": list(self.iterations),
                "max_iter": self.max_iter}

    @classmethod
    def from_dict(cls, values: dict) -> PathConvergence:
        return cls(fit=str(values["fit"]), lambdas=tuple(float(v) for v in values["lambdas"]),
                   iterations=tuple(int(v) for v in values["iterations"]), max_iter=int(values["max_iter"]))


@dataclass(frozen=True, eq=False)
class LassoCV:
    """Result of :func:`lasso_cv`.

    Attributes
    ----------
    lambdas : numpy.ndarray
        The lambda sequence (decreasing, glmnet's scale), from the fit on all rows.
    cv_mean, cv_se : numpy.ndarray
        Cross-validated binomial deviance per lambda and its standard error (glmnet's cvm, cvsd).
    lambda_min, lambda_1se : float
        The lambda of least deviance; the largest lambda within one standard error of it.
    rule : {"1se", "min"}
        Which of the two chose :attr:`lambda_`.
    lambda_ : float
    coef_ : pandas.Series
        The non-zero coefficients at :attr:`lambda_` on the original feature scale, in column order.
    intercept_ : float
    path : pandas.DataFrame
        All coefficients along the path (index: lambda; columns: features; original scale).
    n_nonzero : numpy.ndarray
        Non-zero coefficients per lambda.
    foldid : numpy.ndarray
        1-based fold of each row.
    feature_sds : pandas.Series
        Population SD of each feature in the rows fitted (coefficient x SD = standardised coefficient).
    unconverged : tuple of PathConvergence
        Each path (the fit on all rows, a cross-validation fold) that stopped at its iteration limit at
        some lambdas instead of converging; empty when every fit converged. :attr:`warning` says it in words.
    family : {"binomial", "cox"}
        glmnet's family: the LASSO logistic regression (:func:`lasso_cv`) or the LASSO-Cox
        (:func:`core.stats.survival.lasso_cox.lasso_cox_cv`, no intercept: ``intercept_`` 0).
    measure : {"deviance", "C"}
        What :attr:`cv_mean` holds: the held-out deviance (binomial; the Cox partial likelihood's) or Harrell's C.
    stopped : tuple of str
        The paths ("all rows", "fold k") a numerical failure ended early (a saturated Cox fit); said in
        :attr:`warning`.
    """

    lambdas: np.ndarray
    cv_mean: np.ndarray
    cv_se: np.ndarray
    lambda_min: float
    lambda_1se: float
    rule: str
    lambda_: float
    coef_: pd.Series
    intercept_: float
    path: pd.DataFrame
    n_nonzero: np.ndarray
    foldid: np.ndarray
    feature_sds: pd.Series
    unconverged: tuple[PathConvergence, ...] = ()
    family: str = "binomial"
    measure: str = "deviance"
    stopped: tuple[str, ...] = ()

    @property
    def converged(self) -> bool:
        """Whether every path (all rows and every fold) converged at every lambda (and none ended early)."""
        return not self.unconverged and not self.stopped

    @property
    def measure_label(self) -> str:
        """What the cross-validation curve shows, in words (a figure's axis)."""
        if self.measure == "C":
            return "Harrell's C (held-out)"
        return "partial-likelihood deviance" if self.family == "cox" else "binomial deviance"

    @property
    def warning(self) -> str | None:
        """One sentence on the paths that stopped at their iteration limit (or, for a LASSO-Cox, ended early at a
        saturated fit); None when all converged."""
        if self.stopped and not self.unconverged:
            return (f"A partial-likelihood weight reached zero (a saturated fit) in {', '.join(self.stopped)}; those "
                    "LASSO-Cox paths end early, and their last coefficients are carried to the smaller lambdas.")
        if not self.unconverged:
            return None
        limit = self.unconverged[0].max_iter
        parts = []
        full = [c for c in self.unconverged if c.fit == ALL_ROWS]
        if full:
            lambdas = full[0].lambdas
            where = (f"lambda {lambdas[0]:.4g}" if len(lambdas) == 1
                     else f"lambdas {max(lambdas):.4g} to {min(lambdas):.4g}")
            parts.append(f"at {len(lambdas)} of {len(self.lambdas)} lambdas of the fit on all training rows ({where})")
        folds = [c for c in self.unconverged if c.fit != ALL_ROWS]
        if folds:
            parts.append(f"in {len(folds)} of {len(np.unique(self.foldid))} cross-validation folds "
                         f"({', '.join(c.fit for c in folds)})")
        return (f"The LASSO path stopped at its iteration limit ({limit:,} coordinate-descent sweeps per lambda) "
                f"without converging {' and '.join(parts)}; the coefficients and cross-validated deviances there "
                "are approximate.")

    @property
    def index_min(self) -> int:
        return int(np.flatnonzero(self.lambdas == self.lambda_min)[0])

    @property
    def index_1se(self) -> int:
        return int(np.flatnonzero(self.lambdas == self.lambda_1se)[0])

    def to_dict(self) -> dict:
        """Plain data (JSON-ready; floats written exactly by JSON's shortest round-trip form)."""
        return {"lambdas": self.lambdas.tolist(), "cv_mean": self.cv_mean.tolist(), "cv_se": self.cv_se.tolist(),
                "lambda_min": self.lambda_min, "lambda_1se": self.lambda_1se, "rule": self.rule,
                "lambda_": self.lambda_, "coef_": self.coef_.to_dict(), "intercept_": self.intercept_,
                "path_columns": list(self.path.columns), "path": self.path.to_numpy().tolist(),
                "n_nonzero": self.n_nonzero.tolist(), "foldid": self.foldid.tolist(),
                "feature_sds": self.feature_sds.to_dict(),
                "unconverged": [c.to_dict() for c in self.unconverged],
                # a binomial LASSO's saved form is as it was before the LASSO-Cox existed
                **({"family": self.family, "measure": self.measure, "stopped": list(self.stopped)}
                   if self.family != "binomial" else {})}

    @classmethod
    def from_dict(cls, values: dict) -> LassoCV:
        lambdas = np.asarray(values["lambdas"], dtype=float)
        coef = values["coef_"]
        return cls(lambdas=lambdas, cv_mean=np.asarray(values["cv_mean"], dtype=float),
                   cv_se=np.asarray(values["cv_se"], dtype=float), lambda_min=float(values["lambda_min"]),
                   lambda_1se=float(values["lambda_1se"]), rule=str(values["rule"]), lambda_=float(values["lambda_"]),
                   coef_=pd.Series(list(coef.values()), index=list(coef), dtype=float),
                   intercept_=float(values["intercept_"]),
                   path=pd.DataFrame(np.asarray(values["path"], dtype=float).reshape(len(lambdas), -1),
                                     index=pd.Index(lambdas, name="lambda"), columns=values["path_columns"]),
                   n_nonzero=np.asarray(values["n_nonzero"], dtype=int), foldid=np.asarray(values["foldid"], dtype=int),
                   feature_sds=pd.Series(values["feature_sds"], dtype=float),
                   # fits saved before convergence was recorded have no entry
                   unconverged=tuple(PathConvergence.from_dict(c) for c in values.get("unconverged", ())),
                   family=str(values.get("family", "binomial")), measure=str(values.get("measure", "deviance")),
                   stopped=tuple(str(v) for v in values.get("stopped", ())))

    def linear_predictor(self, X: pd.DataFrame) -> pd.Series:
        """Intercept + selected coefficients x feature values for each row of ``X`` (index kept)."""
        values = X[list(self.coef_.index)].to_numpy(dtype=float)
        return pd.Series(self.intercept_ + values @ self.coef_.to_numpy(), index=X.index, name="lasso_score")


def stratified_folds(y: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """1-based fold labels with both classes spread evenly over the folds (scikit-learn's StratifiedKFold)."""
    from sklearn.model_selection import StratifiedKFold

    foldid = np.zeros(len(y), dtype=int)
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for fold, (_, held_out) in enumerate(splitter.split(np.zeros(len(y)), y), start=1):
        foldid[held_out] = fold
    return foldid


@dataclass(frozen=True)
class _PathFit:
    """A lasso path on the original feature scale."""

    lambdas: np.ndarray
    intercepts: np.ndarray
    coefs: np.ndarray  # (L, p)
    iterations: np.ndarray  # sweeps per lambda
    max_iter: int

    def unconverged(self, fit: str) -> PathConvergence | None:
        """The lambdas this path stopped at its iteration limit, as a record named ``fit``; None if none."""
        stopped = np.flatnonzero(self.iterations > self.max_iter)
        if not len(stopped):
            return None
        return PathConvergence(fit=fit, lambdas=tuple(float(v) for v in self.lambdas[stopped]),
                               iterations=tuple(int(v) for v in self.iterations[stopped]), max_iter=self.max_iter)

    def at(self, lambdas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Coefficients at other lambdas, interpolated linearly in lambda and clamped at the ends
        (glmnet's predict(..., s = lambda), which cv.glmnet uses for each fold)."""
        if len(self.lambdas) == 1:
            return np.repeat(self.intercepts, len(lambdas)), np.repeat(self.coefs, len(lambdas), axis=0)
        order = self.lambdas[::-1]  # increasing, for np.interp
        targets = np.clip(lambdas, order[0], order[-1])
        intercepts = np.interp(targets, order, self.intercepts[::-1])
        coefs = np.empty((len(lambdas), self.coefs.shape[1]))
        position = np.interp(targets, order, np.arange(len(order)))
        left = np.floor(position).astype(int)
        right = np.minimum(left + 1, len(order) - 1)
        frac = (position - left)[:, None]
        reversed_coefs = self.coefs[::-1]
        coefs[:] = reversed_coefs[left] * (1 - frac) + reversed_coefs[right] * frac
        return intercepts, coefs


def _fit_path(x: np.ndarray, y: np.ndarray, lambdas: np.ndarray | None, n_lambdas: int,
              max_iter: int = MAX_ITER) -> _PathFit:
    """glmnet(x, y, family = "binomial") with standardize = TRUE; lambdas=None lets it choose them."""
    from core.stats.lasso_path import lambda_max, lambda_sequence, lasso_path

    n, p = x.shape
    weights = np.full(n, 1.0 / n)
    means = x.mean(axis=0)
    sds = x.std(axis=0)  # population SD, as glmnet
    z = (x - means) / sds
    if lambdas is None:
        ratio = 0.01 if n < p else 1e-4  # glmnet's lambda.min.ratio default
        lambdas = lambda_sequence(lambda_max(z, y, weights), n_lambdas, ratio)
        path = lasso_path(z, y, weights, lambdas, stop_early=True, max_iter=max_iter)
    else:
        path = lasso_path(z, y, weights, lambdas, stop_early=False, max_iter=max_iter)
    coefs = path.coefs / sds
    return _PathFit(lambdas=path.lambdas, intercepts=path.intercepts - coefs @ means, coefs=coefs,
                    iterations=path.iterations, max_iter=path.max_iter)


def lasso_cv(X: pd.DataFrame, y: pd.Series | np.ndarray, *, n_folds: int = 10, foldid: np.ndarray | None = None,
             lambdas: np.ndarray | None = None, rule: str = "1se", seed: int = 0, n_lambdas: int = 100,
             n_jobs: int | None = None, max_iter: int = MAX_ITER) -> LassoCV:
    """LASSO logistic regression with K-fold cross-validation, as R's ``cv.glmnet(x, y, family = "binomial")``.

    Parameters
    ----------
    X : pandas.DataFrame
        Training rows x features (raw values; standardised inside with the population SD and
        coefficients returned on the original scale, as glmnet's ``standardize = TRUE``).
    y : array-like
        0/1 outcome, aligned with ``X``.
    n_folds : int, default 10
        Stratified folds drawn with ``seed``; ignored when ``foldid`` is given.
    foldid : array-like of int, optional
        1-based fold label per row (as glmnet's ``foldid``).
    lambdas : array-like, optional
        Lambda values on glmnet's scale (sorted decreasing); by default glmnet's sequence of
        ``n_lambdas`` values from the smallest lambda that zeroes every coefficient down to 0.01 of
        it (1e-4 when there are more rows than features), ended early by glmnet's rules.
    rule : {"1se", "min"}
        Pick lambda.1se (largest lambda with deviance within one SE of the minimum) or lambda.min.
    seed : int
    n_jobs : int, optional
        Threads for the fold fits (default: all cores).
    max_iter : int
        Coordinate-descent sweeps allowed per lambda in each path (glmnet's ``maxit``). A path that
        reaches it is kept, and recorded in :attr:`LassoCV.unconverged` (with :attr:`LassoCV.warning`).

    Returns
    -------
    LassoCV

    Notes
    -----
    As cv.glmnet 4.1: each fold chooses its own lambda sequence and its held-out predictions at
    the full-data lambdas are interpolated linearly in lambda; the deviance is averaged within
    folds, cvm is the mean of the fold averages weighted by fold size and cvsd their weighted SD
    over sqrt(K - 1). glmnet's folds are random (not stratified): pass ``foldid`` to match it.
    """
    check_option("LASSO rule", rule, LASSO_RULES)
    _setting_in_range("LASSO iteration limit", max_iter, 1, 10**9, whole=True)
    x = _checked_matrix(X)
    outcome = np.asarray(y, dtype=float)
    if len(outcome) != len(x):
        raise RadNomoError(f"X has {len(x)} rows but y has {len(outcome)}.")
    if set(np.unique(outcome)) != {0.0, 1.0}:
        raise RadNomoError("the outcome must be coded 0/1 with both classes present.")
    if foldid is None:
        if not 3 <= n_folds <= len(x):
            raise RadNomoError(f"n_folds = {n_folds} must lie between 3 and the number of rows ({len(x)}).")
        smallest_class = int(min(outcome.sum(), len(outcome) - outcome.sum()))
        if smallest_class < n_folds:
            raise RadNomoError(f"only {smallest_class} patients in the smaller outcome class: too few for "
                               f"{n_folds}-fold cross-validation; use fewer folds.")
        foldid = stratified_folds(outcome.astype(int), n_folds, seed)
    else:
        foldid = np.asarray(foldid, dtype=int)
        if len(foldid) != len(x) or foldid.min() < 1 or len(np.unique(foldid)) < 3:
            raise RadNomoError("foldid must give a 1-based fold label (at least 3 folds) for every row.")
    if lambdas is not None:
        lambdas = np.sort(np.asarray(lambdas, dtype=float))[::-1]
        if lambdas.min() <= 0:
            raise RadNomoError("lambdas must be positive.")

    folds = np.unique(foldid)

    def fit(fold: int) -> _PathFit:  # fold 0 = all rows
        rows = foldid != fold
        return _fit_path(x[rows], outcome[rows], lambdas, n_lambdas, max_iter)

    def held_out_deviance(fold: int, fold_fit: _PathFit, lambda_grid: np.ndarray) -> np.ndarray:
        """Mean binomial deviance of the fold's held-out rows at each lambda of the fit on all rows."""
        held_out = foldid == fold
        intercepts, coefs = fold_fit.at(lambda_grid)
        eta = intercepts[None, :] + x[held_out] @ coefs.T
        prob = np.clip(1 / (1 + np.exp(-eta)), PROB_CLAMP, 1 - PROB_CLAMP)
        observed = outcome[held_out][:, None]
        return (-2 * (observed * np.log(prob) + (1 - observed) * np.log(1 - prob))).mean(axis=0)

    # The compiled path releases the GIL, so the fits run in parallel threads; each fold picks its
    # own lambdas (as in cv.glmnet), so none waits for the fit on all rows.
    # BLAS is held to one thread here (the held-out predictions too): its own threads would fight the
    # fold threads, and on a busy machine a multi-threaded BLAS call can take ten times as long.
    with threadpool_limits(limits=1, user_api="blas"), \
            ThreadPoolExecutor(max_workers=n_jobs or os.cpu_count() or 1) as pool:
        full, *fold_fits = pool.map(fit, [0, *folds])
        lambda_grid = full.lambdas
        fold_deviance = np.array(list(pool.map(held_out_deviance, folds, fold_fits,
                                               [lambda_grid] * len(folds)))).reshape(len(folds), len(lambda_grid))
    fold_sizes = np.array([np.sum(foldid == f) for f in folds], dtype=float)
    cv_mean = fold_sizes @ fold_deviance / fold_sizes.sum()
    cv_se = np.sqrt(fold_sizes @ (fold_deviance - cv_mean) ** 2 / fold_sizes.sum() / (len(folds) - 1))

    lambda_min = float(lambda_grid[cv_mean <= cv_mean.min()].max())
    index_min = int(np.flatnonzero(lambda_grid == lambda_min)[0])
    lambda_1se = float(lambda_grid[cv_mean <= cv_mean[index_min] + cv_se[index_min]].max())
    chosen = lambda_1se if rule == "1se" else lambda_min
    index = int(np.flatnonzero(lambda_grid == chosen)[0])
    columns = list(X.columns)
    intercept, coefs = _polished(x, outcome, chosen, full.intercepts[index], full.coefs[index])
    nonzero = coefs != 0
    # Nothing silent: every path (all rows, each fold) that stopped at its iteration limit is recorded.
    records = [full.unconverged(ALL_ROWS)] + [fold_fit.unconverged(f"fold {fold}")
                                              for fold, fold_fit in zip(folds, fold_fits, strict=True)]
    unconverged = [record for record in records if record]
    return LassoCV(lambdas=lambda_grid, cv_mean=cv_mean, cv_se=cv_se, lambda_min=lambda_min, lambda_1se=lambda_1se,
                   rule=rule, lambda_=chosen,
                   coef_=pd.Series(coefs[nonzero], index=[c for c, k in zip(columns, nonzero, strict=True) if k],
                                   dtype=float),
                   intercept_=intercept,
                   path=pd.DataFrame(full.coefs, index=pd.Index(lambda_grid, name="lambda"), columns=columns),
                   n_nonzero=(full.coefs != 0).sum(axis=1), foldid=foldid,
                   feature_sds=pd.Series(x.std(axis=0), index=columns), unconverged=tuple(unconverged))


def _polished(x: np.ndarray, y: np.ndarray, lam: float, intercept: float,
              coefs: np.ndarray) -> tuple[float, np.ndarray]:
    """The chosen solution refined to machine precision (see :func:`core.stats.lasso_path.polish`), original scale."""
    from core.stats.lasso_path import polish

    means, sds = x.mean(axis=0), x.std(axis=0)
    b0, beta = polish((x - means) / sds, y, np.full(len(y), 1.0 / len(y)), lam, intercept + coefs @ means,
                      coefs * sds)
    beta = beta / sds
    return float(b0 - beta @ means), beta


def _checked_matrix(X: pd.DataFrame) -> np.ndarray:
    """Training features as a float matrix; missing, infinite and constant columns are refused by name."""
    if X.shape[1] == 0:
        raise RadNomoError("no features are left to select from; relax the screening thresholds.")
    values = X.to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        columns = [c for c, b in zip(X.columns, bad.any(axis=0), strict=True) if b]
        raise RadNomoError(f"feature(s) {columns[:5]} have missing or infinite values in the training rows; impute "
                           "or drop them before LASSO.")
    constant = [c for c, sd in zip(X.columns, values.std(axis=0), strict=True) if sd == 0]
    if constant:
        raise RadNomoError(f"feature(s) {constant[:5]} are constant in the training rows and carry no information; "
                           "drop them (the variance filter does).")
    return values


# ---------------------------------------------------------------------------------------------
# The study's screening pipeline, fitted on training rows only
# ---------------------------------------------------------------------------------------------


#: Bounds of the screening's counts: LASSO cross-validation folds (as on the Selection page), the
#: features mRMR may keep, and a seed (NumPy's and scikit-learn's seeds are 0 to 2**32 - 1).
FOLD_RANGE = (3, 20)
MAX_MRMR_FEATURES = 10_000
MAX_SEED = 2**32 - 1


def _setting_in_range(what: str, value: object, low: float, high: float, *, whole: bool = False,
                      open_low: bool = False, open_high: bool = False) -> None:
    """Refuse a setting that is not a (whole, with ``whole``) finite number within ``low``-``high``.

    Raises
    ------
    RadNomoError
        Naming the setting, its value and the range, e.g. "fold seed -1 must be a whole number from 0 to ...".
    """
    low_text, high_text = f"{low:,}" if whole else f"{low:g}", f"{high:,}" if whole else f"{high:g}"
    if whole:
        kind = f"a whole number from {low_text} to {high_text}"
        valid = isinstance(value, (int, np.integer)) and not isinstance(value, bool) and low <= value <= high
    else:
        upper = "" if math.isinf(high) else f" and {'below' if open_high else 'at most'} {high_text}"
        kind = f"a finite number {'above' if open_low else 'of at least'} {low_text}{upper}"
        valid = (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
                 and math.isfinite(value) and (low < value if open_low else low <= value)
                 and (value < high if open_high else value <= high))
    if not valid:
        raise RadNomoError(f"{what} {value!r} is not valid: it must be {kind}.")


@dataclass(frozen=True, kw_only=True)
class ScreeningSettings:
    """Thresholds of every screening step (the study's values by default).

    Attributes
    ----------
    method : {"study", "test_first", "auc", "mrmr", "lasso"}
        The funnel (:data:`core.vocabulary.SCREENING_METHODS`): the study's variance -> redundancy ->
        univariable test -> LASSO; the test before the redundancy step; a univariable-AUC filter in place of
        the test; mRMR in place of redundancy and test; or the LASSO alone after the variance filter.
    icc_threshold : float or None
        Keep features with ICC > this between two readers' masks (step 0); None skips the step.
    variance_threshold : float
        Drop features whose population variance is <= this, on ``variance_scale``.
    variance_scale : {"raw", "minmax"}
        The raw values (the study's), or each feature scaled to 0-1 over the training rows (so the
        threshold means the same for every unit; a z-scored or bounded table needs it).
    correlation_threshold : float
        For pairs with |rho| above it, drop one (caret::findCorrelation).
    correlation_method : {"spearman", "pearson", "kendall"}
    test : {"student", "welch", "mannwhitney"}
    p_threshold : float
        Keep features with univariable p below it.
    auc_threshold : float
        "auc" method: keep features whose univariable AUC (either direction) exceeds it.
    mrmr_features : int
        "mrmr" method: how many features mRMR passes to the LASSO.
    n_folds, rule, seed
        LASSO cross-validation: folds, "1se" or "min", and the seed of the stratified folds.
    cv_measure : {"deviance", "C"}
        What the LASSO's cross-validation minimises (:data:`core.vocabulary.LASSO_COX_MEASURES`): the held-out
        deviance (every outcome type), or Harrell's C of each held-out fold (a time-to-event outcome's LASSO-Cox,
        glmnet's ``type.measure = "C"``); the outcome type says which it offers (``OutcomeScreening.cv_measures``).
    """

    method: str = "study"
    icc_threshold: float | None = None
    variance_threshold: float = 1.0
    variance_scale: str = "raw"
    correlation_threshold: float = 0.7
    correlation_method: str = "spearman"
    test: str = "student"
    p_threshold: float = 0.05
    auc_threshold: float = 0.6
    mrmr_features: int = 20
    n_folds: int = 10
    rule: str = "1se"
    seed: int = 0
    cv_measure: str = "deviance"

    def __post_init__(self) -> None:
        from core.vocabulary import SCREENING_METHODS, VARIANCE_SCALES, check_option

        check_option("screening method", self.method, SCREENING_METHODS)
        check_option("variance scale", self.variance_scale, VARIANCE_SCALES)
        check_option("redundancy correlation", self.correlation_method, CORRELATION_METHODS)
        check_option("univariable test", self.test, UNIVARIABLE_TESTS)
        # Every number finite and in its range (NaN passes every comparison test, so each is checked for it).
        if self.icc_threshold is not None:
            _setting_in_range("ICC threshold", self.icc_threshold, 0, 1, open_low=True, open_high=True)
        _setting_in_range("variance threshold", self.variance_threshold, 0, math.inf)
        _setting_in_range("redundancy threshold |r|", self.correlation_threshold, 0, 1, open_low=True)
        _setting_in_range("p-value threshold", self.p_threshold, 0, 1, open_low=True)
        _setting_in_range("AUC threshold", self.auc_threshold, 0.5, 1, open_high=True)
        _setting_in_range("number of features mRMR keeps", self.mrmr_features, 1, MAX_MRMR_FEATURES, whole=True)
        _setting_in_range("number of LASSO cross-validation folds", self.n_folds, *FOLD_RANGE, whole=True)
        _setting_in_range("fold seed", self.seed, 0, MAX_SEED, whole=True)
        check_option("LASSO rule", self.rule, LASSO_RULES)
        check_option("LASSO cross-validation measure", self.cv_measure, LASSO_COX_MEASURES)

    def to_dict(self) -> dict:
        values = dict(self.__dict__)
        if values["cv_measure"] == "deviance":  # the saved form (and the fingerprint) of every study before it
            del values["cv_measure"]
        return values

    @classmethod
    def from_dict(cls, values: dict) -> ScreeningSettings:
        """From :meth:`to_dict` (settings saved before a field existed take its default)."""
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise RadNomoError(f"unknown screening setting(s) {sorted(unknown)}.")
        return cls(**values)


@dataclass(frozen=True)
class ScreeningStep:
    """One step of the funnel: its name, the features left after it, and why the others were removed."""

    step: str
    kept: tuple[str, ...]
    removed: int
    why: str


@dataclass(frozen=True, eq=False)
class ScreeningResult:
    """Outcome of :func:`screen`.

    Attributes
    ----------
    settings : ScreeningSettings
    steps : tuple of ScreeningStep
        In order; the first holds all features (removed 0).
    univariable : pandas.DataFrame
        The univariable test (and AUC) of every feature that reached the LASSO, and of those the test
        step judged (:func:`univariable_tests`, plus ``auc``).
    lasso : LassoCV or None
        None when no feature reached the LASSO.
    notes : tuple of str
        What the funnel did that a user would want to know (e.g. a scale that empties the variance step).
    warnings : tuple of str
        What makes the result less reliable than it looks, one sentence each (a LASSO path that stopped
        at its iteration limit: :attr:`LassoCV.warning`). Empty for results saved before it existed.
    """

    settings: ScreeningSettings
    steps: tuple[ScreeningStep, ...]
    univariable: pd.DataFrame
    lasso: LassoCV | None
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """Plain data (JSON-ready), so a fitted study can be stored with its screening."""
        return {"settings": self.settings.to_dict(),
                "steps": [{"step": s.step, "kept": list(s.kept), "removed": s.removed, "why": s.why}
                          for s in self.steps],
                "univariable": {"index": list(self.univariable.index),
                                **{c: self.univariable[c].astype(float).tolist() for c in self.univariable.columns}},
                "lasso": None if self.lasso is None else self.lasso.to_dict(), "notes": list(self.notes),
                "warnings": list(self.warnings)}

    @classmethod
    def from_dict(cls, values: dict) -> ScreeningResult:
        table = dict(values["univariable"])
        index = table.pop("index")
        return cls(settings=ScreeningSettings.from_dict(values["settings"]),
                   steps=tuple(ScreeningStep(s["step"], tuple(s["kept"]), int(s["removed"]), s["why"])
                               for s in values["steps"]),
                   univariable=pd.DataFrame(table, index=pd.Index(index, dtype=object)),
                   lasso=None if values["lasso"] is None else LassoCV.from_dict(values["lasso"]),
                   notes=tuple(values.get("notes", ())), warnings=tuple(values.get("warnings", ())))

    @property
    def kept(self) -> dict[str, tuple[str, ...]]:
        """Features left after each step, in step order (the first entry holds all features)."""
        return {s.step: s.kept for s in self.steps}

    @property
    def selected(self) -> list[str]:
        """Features with a non-zero LASSO coefficient at the chosen lambda."""
        return [] if self.lasso is None else list(self.lasso.coef_.index)

    @property
    def reaching_lasso(self) -> tuple[str, ...]:
        """The features that passed every step before the LASSO."""
        return self.steps[-2].kept

    @property
    def funnel(self) -> pd.DataFrame:
        """``step``, ``n_features`` after it, ``removed`` by it and ``why``."""
        return pd.DataFrame({"step": [s.step for s in self.steps], "n_features": [len(s.kept) for s in self.steps],
                             "removed": [s.removed for s in self.steps], "why": [s.why for s in self.steps]})


def univariable_auc(X: pd.DataFrame, y: np.ndarray) -> pd.Series:
    """Each feature's AUC for the outcome (Mann-Whitney U / (n1 n0), ties counted half), per feature."""
    outcome = np.asarray(y).astype(int)
    ranks = stats.rankdata(X.to_numpy(dtype=float), axis=0)
    n1, n0 = int(outcome.sum()), int(len(outcome) - outcome.sum())
    u = ranks[outcome == 1].sum(axis=0) - n1 * (n1 + 1) / 2
    return pd.Series(u / (n1 * n0), index=X.columns, name="auc")


def mrmr(X: pd.DataFrame, y: np.ndarray, k: int, *, relevance: np.ndarray | None = None) -> list[str]:
    """Minimum-redundancy maximum-relevance selection, FCQ form (Ding & Peng 2005): relevance = the ANOVA F
    statistic of the feature for the binary outcome (or the ``relevance`` given, one value per column: the
    time-to-event outcome's is the squared univariable Cox z), redundancy = mean |Pearson r| with the features
    already chosen; greedily take the feature with the largest relevance / redundancy.

    Written out because the libraries that offer it (mrmr_selection, pymrmr) pull in heavy or unmaintained
    dependencies for these twenty lines; the F / mean |r| quotient is mrmr_selection's default.
    """
    values = X.to_numpy(dtype=float)
    if relevance is None:
        relevance = BINARY_SCREENING.relevance(X, np.asarray(y).astype(int))
    standardised = (values - values.mean(axis=0)) / values.std(axis=0)
    chosen: list[int] = [int(np.argmax(relevance))]
    redundancy = np.zeros(values.shape[1])
    while len(chosen) < min(k, values.shape[1]):
        last = standardised[:, chosen[-1]]
        redundancy += np.abs(standardised.T @ last / len(last))
        score = relevance / np.maximum(redundancy / len(chosen), 1e-12)
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return [X.columns[j] for j in chosen]


# ---------------------------------------------------------------------------------------------
# Screening steps, and the methods declared as sequences of them
# ---------------------------------------------------------------------------------------------

UNIVARIABLE_COLUMNS = ("statistic", "p_value", "mean_0", "mean_1", "auc")
# What a step's ``needs`` may name besides the ScreeningSettings fields: the two readers' ICC table.
ICC_INPUT = "icc"


class OutcomeScreening(Protocol):
    """What screening asks of the study's outcome type: its univariable tests, a relevance for mRMR and its LASSO.

    The funnel's outcome-blind steps (missing, ICC, variance, redundancy) never ask; the steps that read the
    outcome do, so one funnel serves every outcome type. :data:`BINARY_SCREENING` is the binary outcome's;
    the time-to-event outcome's is :data:`core.stats.survival.screening.SURVIVAL_SCREENING`, and
    :mod:`core.stats.outcome_statistics` maps each outcome kind to its own.

    Attributes
    ----------
    kind : str
        The outcome kind served (a key of :data:`core.vocabulary.OUTCOME_KINDS`).
    tests : tuple of str
        The keys of :data:`core.vocabulary.UNIVARIABLE_TESTS` it offers; the first is its default.
    discrimination : str
        What the univariable table's ``auc`` column holds for it, in words ("AUC", "Harrell's C").
    """

    @property
    def kind(self) -> str: ...

    @property
    def tests(self) -> tuple[str, ...]: ...

    @property
    def discrimination(self) -> str: ...

    @property
    def cv_measures(self) -> tuple[str, ...]:
        """The LASSO cross-validation measures it offers (keys of :data:`core.vocabulary.LASSO_COX_MEASURES`)."""
        ...

    def outcome(self, y) -> Any:
        """The outcome values as the other methods take them (checked once per :func:`screen`)."""
        ...

    def univariable(self, X: pd.DataFrame, y, test: str) -> pd.DataFrame:
        """One row per column of ``X`` (index: feature), columns :data:`UNIVARIABLE_COLUMNS` at least."""
        ...

    def relevance(self, X: pd.DataFrame, y) -> np.ndarray:
        """Each feature's relevance to the outcome for mRMR (larger = more relevant), in column order."""
        ...

    def lasso(self, X: pd.DataFrame, y, settings: ScreeningSettings) -> LassoCV:
        """The LASSO with cross-validation on ``X`` (the features that reach it), as ``settings`` say."""
        ...


@dataclass(frozen=True)
class BinaryScreening:
    """The binary outcome's screening: t-test / Welch / Mann-Whitney, univariable AUC, F for mRMR,
    the LASSO logistic regression (:func:`lasso_cv`, glmnet's ``family = "binomial"``)."""

    kind: str = "binary"
    tests: tuple[str, ...] = ("student", "welch", "mannwhitney")
    discrimination: str = "AUC"
    cv_measures: tuple[str, ...] = ("deviance",)

    def outcome(self, y) -> np.ndarray:
        return np.asarray(y).astype(int)

    def univariable(self, X: pd.DataFrame, y: np.ndarray, test: str) -> pd.DataFrame:
        return univariable_tests(X, y, test=test).assign(auc=univariable_auc(X, y))

    def relevance(self, X: pd.DataFrame, y: np.ndarray) -> np.ndarray:
        values = X.to_numpy(dtype=float)
        t_values = stats.ttest_ind(values[y == 1], values[y == 0], axis=0).statistic
        return np.nan_to_num(t_values ** 2)  # two groups: F = t^2

    def lasso(self, X: pd.DataFrame, y: np.ndarray, settings: ScreeningSettings) -> LassoCV:
        return lasso_cv(X, y, n_folds=settings.n_folds, rule=settings.rule, seed=settings.seed)


BINARY_SCREENING = BinaryScreening()


def _univariable(X: pd.DataFrame, y, candidates: Sequence[str], test: str,
                 statistics: OutcomeScreening = BINARY_SCREENING) -> pd.DataFrame:
    """The outcome type's univariable table for ``candidates``; an empty table (same columns) for none."""
    if not candidates:
        return pd.DataFrame(columns=list(UNIVARIABLE_COLUMNS))
    return statistics.univariable(X[list(candidates)], y, test)


@dataclass(eq=False)
class ScreeningContext:
    """What the steps of one :func:`screen` call share besides the features each is handed.

    Attributes
    ----------
    settings : ScreeningSettings
    icc : pandas.DataFrame or None
        Reader agreement (:func:`icc_table`), for the ICC step.
    memo : mutable mapping
        Results of the outcome-blind, costly steps for these training rows (see :meth:`remembered`).
    tested : pandas.DataFrame
        The univariable table so far (:data:`UNIVARIABLE_COLUMNS`): a step that tests replaces it, the
        LASSO step completes it with the features that reach the LASSO untested.
    statistics : OutcomeScreening
        The outcome type's tests, relevance and LASSO.
    """

    settings: ScreeningSettings
    icc: pd.DataFrame | None
    memo: MutableMapping
    tested: pd.DataFrame
    statistics: OutcomeScreening = BINARY_SCREENING

    def remembered(self, step: FunnelStep, columns: Sequence[str], compute: Callable[[], list[str]]) -> list[str]:
        """``compute()`` once per step, input columns and values of the settings the step ``needs``.

        A later call that changes only another step's setting (the p threshold, the LASSO's rule)
        finds the result here instead of computing it again (the dashboard's sliders rely on it). The
        memo belongs to one table of training rows (and its readers' ICC table), so those are not in the key.
        """
        key = (step.name, tuple(columns), *(getattr(self.settings, need) for need in step.needs if need != ICC_INPUT))
        if key not in self.memo:
            self.memo[key] = compute()
        return list(self.memo[key])


@dataclass(frozen=True, eq=False)
class StepOutcome:
    """What one screening step did.

    Attributes
    ----------
    kept : list of str
        The features it passes on, in their input order (the LASSO's: those with a non-zero coefficient).
    row : ScreeningStep
        Its row of the funnel.
    notes : tuple of str
        What it did that a user would want to know.
    warnings : tuple of str
        What may make its result unreliable (a LASSO path that did not converge).
    tested : pandas.DataFrame or None
        A univariable table it computed (replaces :attr:`ScreeningContext.tested`); None if it computed none.
    lasso : LassoCV or None
        The LASSO fit, from the LASSO step.
    """

    kept: list[str]
    row: ScreeningStep
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    tested: pd.DataFrame | None = None
    lasso: LassoCV | None = None


def _outcome(label: str, columns: Sequence[str], kept: Sequence[str], why: str, **extra) -> StepOutcome:
    """A step's outcome with its funnel row: ``label``, the kept features and how many of ``columns`` it removed."""
    kept = list(kept)
    return StepOutcome(kept=kept, row=ScreeningStep(label, tuple(kept), len(columns) - len(kept), why), **extra)


class FunnelStep(Protocol):
    """One step of a screening method.

    ``name`` identifies it (and keys its memo); ``needs`` names the :class:`ScreeningSettings` fields it
    reads (and :data:`ICC_INPUT` for the readers' ICC table). ``apply`` takes the training rows ``X``,
    the 0/1 outcome ``y``, the features still in the funnel and the shared context, and returns what it
    kept with its funnel row, or None when it does not apply to this study (no ICC threshold set).
    """

    name: str
    needs: tuple[str, ...]

    def apply(self, X: pd.DataFrame, y: np.ndarray, columns: list[str],
              context: ScreeningContext) -> StepOutcome | None: ...


class NotAllMissing:
    """Drops features with no value in the training rows (a step only when there are any)."""

    name = "not all missing"
    needs: tuple[str, ...] = ()

    def apply(self, X: pd.DataFrame, y: np.ndarray, columns: list[str],
              context: ScreeningContext) -> StepOutcome | None:
        empty = set(X[columns].columns[X[columns].isna().all()])
        if not empty:
            return None
        return _outcome("not all missing", columns, [c for c in columns if c not in empty],
                        "no value in the training rows")


class IccFilter:
    """Keeps features whose ICC(3,1) between two readers' masks exceeds the threshold (when one is set)."""

    name = "icc"
    needs: tuple[str, ...] = ("icc_threshold", ICC_INPUT)

    def apply(self, X: pd.DataFrame, y: np.ndarray, columns: list[str],
              context: ScreeningContext) -> StepOutcome | None:
        threshold = context.settings.icc_threshold
        if threshold is None:
            return None
        if context.icc is None:
            raise RadNomoError("the ICC filter needs a second reader's features; load them or switch the filter off.")
        reproducible = set(context.icc.index[context.icc["ICC3"] > threshold])
        return _outcome(f"ICC > {threshold:g}", columns, [c for c in columns if c in reproducible],
                        f"ICC(3,1) <= {threshold:g} between the two readers")


class VarianceFilter:
    """Drops features whose population variance is at most the threshold, on the raw or min-max scale."""

    name = "variance"
    needs: tuple[str, ...] = ("variance_threshold", "variance_scale")

    def apply(self, X: pd.DataFrame, y: np.ndarray, columns: list[str],
              context: ScreeningContext) -> StepOutcome | None:
        settings = context.settings
        kept = context.remembered(self, columns, lambda: _variance_kept(X[columns], settings))
        notes: tuple[str, ...] = ()
        if not kept and columns and settings.variance_scale == "raw":
            # Every feature removed: say when that is the table's scale (z-scored, bounded), not its information.
            from core.stats.feature_tables import scale_check

            check = scale_check(X[list(columns)], settings.variance_threshold)
            notes = (check.warning,) if check.warning else ()
        scale = "min-max scale" if settings.variance_scale == "minmax" else "raw values"
        return _outcome(f"variance > {settings.variance_threshold:g}", columns, kept,
                        f"variance <= {settings.variance_threshold:g} on the {scale}", notes=notes)


def _variance_kept(X: pd.DataFrame, settings: ScreeningSettings) -> list[str]:
    if settings.variance_scale == "minmax":
        low, high = X.min(), X.max()
        spread = (high - low).replace(0, np.nan)
        return variance_filter((X - low) / spread, settings.variance_threshold)
    return variance_filter(X, settings.variance_threshold)


class RedundancyFilter:
    """Of each pair correlated above the threshold, drops one (caret::findCorrelation)."""

    name = "redundancy"
    needs: tuple[str, ...] = ("correlation_threshold", "correlation_method")

    def apply(self, X: pd.DataFrame, y: np.ndarray, columns: list[str],
              context: ScreeningContext) -> StepOutcome | None:
        threshold, method = context.settings.correlation_threshold, context.settings.correlation_method
        kept = context.remembered(self, columns, lambda: drop_correlated(X[columns], threshold, method)
                                  if len(columns) >= 2 else columns)
        return _outcome(f"|{method} r| <= {threshold:g}", columns, kept,
                        f"|{method} r| > {threshold:g} with a feature of larger mean correlation "
                        "(caret::findCorrelation)")


class UnivariableTest:
    """Keeps features whose univariable test (t-test, Welch, Mann-Whitney) has p below the threshold."""

    name = "univariable test"
    needs: tuple[str, ...] = ("test", "p_threshold")

    def apply(self, X: pd.DataFrame, y: np.ndarray, columns: list[str],
              context: ScreeningContext) -> StepOutcome | None:
        test, threshold = context.settings.test, context.settings.p_threshold
        tested = _univariable(X, y, columns, test, context.statistics)
        return _outcome(f"{test} p < {threshold:g}", columns,
                        [c for c in columns if tested.loc[c, "p_value"] < threshold],
                        f"{test} p >= {threshold:g}", tested=tested)


class UnivariableAuc:
    """Keeps features whose univariable AUC, in either direction, exceeds the threshold."""

    name = "univariable AUC"
    needs: tuple[str, ...] = ("auc_threshold", "test")  # the test's p-values are tabulated beside the AUCs

    def apply(self, X: pd.DataFrame, y: np.ndarray, columns: list[str],
              context: ScreeningContext) -> StepOutcome | None:
        threshold = context.settings.auc_threshold
        tested = _univariable(X, y, columns, context.settings.test, context.statistics)
        strength = np.maximum(tested["auc"], 1 - tested["auc"]) if len(tested) else tested["auc"]
        measure = context.statistics.discrimination
        return _outcome(f"univariable {measure} > {threshold:g}", columns,
                        [c for c in columns if strength[c] > threshold],
                        f"univariable {measure} (either direction) <= {threshold:g}", tested=tested)


class Mrmr:
    """Keeps the ``mrmr_features`` most relevant, least redundant features (:func:`mrmr`)."""

    name = "mRMR"
    needs: tuple[str, ...] = ("mrmr_features",)

    def apply(self, X: pd.DataFrame, y: np.ndarray, columns: list[str],
              context: ScreeningContext) -> StepOutcome | None:
        k = context.settings.mrmr_features
        relevance = context.statistics.relevance(X[columns], y) if columns else None
        return _outcome(f"mRMR top {k}", columns, mrmr(X[columns], y, k, relevance=relevance) if columns else [],
                        "not among the mRMR's most relevant, least redundant features")


class Lasso:
    """LASSO logistic regression with cross-validation (:func:`lasso_cv`): keeps the non-zero coefficients.

    The last step of every method. Before fitting it completes the univariable table with the features
    that reach it untested, so the table covers every feature the LASSO saw.
    """

    name = "LASSO"
    needs: tuple[str, ...] = ("n_folds", "rule", "seed", "test", "cv_measure")

    def apply(self, X: pd.DataFrame, y: np.ndarray, columns: list[str],
              context: ScreeningContext) -> StepOutcome | None:
        settings = context.settings
        label = f"LASSO (lambda.{settings.rule})"
        if not columns:
            return _outcome(label, columns, [], "no feature reached the LASSO")
        tested = context.tested
        untested = [c for c in columns if c not in tested.index]
        if untested:
            fresh = _univariable(X, y, untested, settings.test, context.statistics)
            tested = pd.concat([tested, fresh]) if len(tested) else fresh
        lasso = context.statistics.lasso(X[columns], y, settings)
        return _outcome(label, columns, list(lasso.coef_.index), f"zero coefficient at lambda.{settings.rule}",
                        warnings=(lasso.warning,) if lasso.warning else (), tested=tested, lasso=lasso)


# Every method starts with these (each skips itself when it does not apply) and ends with the LASSO.
FIRST_STEPS: tuple[FunnelStep, ...] = (NotAllMissing(), IccFilter(), VarianceFilter())

#: Each screening method of :data:`core.vocabulary.SCREENING_METHODS` as its sequence of steps. A new
#: method is one entry here (and its label in the vocabulary); :func:`screen` runs whatever is listed.
SCREENING_PIPELINES: dict[str, tuple[FunnelStep, ...]] = {
    "study": (*FIRST_STEPS, RedundancyFilter(), UnivariableTest(), Lasso()),
    "test_first": (*FIRST_STEPS, UnivariableTest(), RedundancyFilter(), Lasso()),
    "auc": (*FIRST_STEPS, UnivariableAuc(), RedundancyFilter(), Lasso()),
    "mrmr": (*FIRST_STEPS, Mrmr(), Lasso()),
    "lasso": (*FIRST_STEPS, Lasso()),
}


def settings_used(method: str) -> set[str]:
    """The :class:`ScreeningSettings` fields (and :data:`ICC_INPUT`) that the steps of ``method`` read,
    so a form can leave the others disabled (the AUC threshold matters only to a method with that step)."""
    check_option("screening method", method, list(SCREENING_PIPELINES))
    return {need for step in SCREENING_PIPELINES[method] for need in step.needs}


def screen(X: pd.DataFrame, y: pd.Series | np.ndarray | pd.DataFrame, settings: ScreeningSettings | None = None, *,
           icc: pd.DataFrame | None = None, memo: MutableMapping | None = None,
           statistics: OutcomeScreening = BINARY_SCREENING) -> ScreeningResult:
    """Feature screening on training rows: the steps of ``settings.method`` (:data:`SCREENING_PIPELINES`)
    in order, [ICC] -> variance -> the method's filters -> LASSO.

    Parameters
    ----------
    X : pandas.DataFrame
        Training rows only (index: patient ID), one column per feature, no missing value (the study's
        missing-value policy has run).
    y : array-like or pandas.DataFrame
        The outcome aligned with ``X``, as ``statistics`` reads it: the 0/1 outcome (binary), the
        ``time``/``event`` frame of :meth:`core.stats.outcomes.SurvivalOutcome.values` (time to event).
    settings : ScreeningSettings, optional
    icc : pandas.DataFrame, optional
        :func:`icc_table` output; needed when ``settings.icc_threshold`` is set (its ``ICC3``
        column, two-way mixed consistency, as most radiomics studies report).
    memo : mutable mapping, optional
        Where the variance and redundancy steps keep their results for these same rows (the caller
        gives one per table of training rows): a later call that changes only a later step (the
        p threshold, the LASSO's rule) reuses them instead of computing them again.
    statistics : OutcomeScreening
        The outcome type's univariable tests, mRMR relevance and LASSO (default: the binary outcome's).

    Returns
    -------
    ScreeningResult
        No step raises on an empty result: the funnel shows where the features ran out, and why.

    Raises
    ------
    RadNomoError
        For missing values in ``X`` (counted), an ICC filter without reader agreement, or a method
        with no sequence of steps.
    """
    settings = settings or ScreeningSettings()
    pipeline = SCREENING_PIPELINES.get(settings.method)
    if pipeline is None:
        raise RadNomoError(f"screening method '{settings.method}' has no steps; possible values: "
                           f"{', '.join(SCREENING_PIPELINES)}.")
    if settings.test not in statistics.tests:
        raise RadNomoError(f"the univariable test '{UNIVARIABLE_TESTS.get(settings.test, settings.test)}' does not "
                           f"apply to a {statistics.kind} outcome; choose one of "
                           f"{', '.join(UNIVARIABLE_TESTS[t] for t in statistics.tests)}.")
    if settings.cv_measure not in statistics.cv_measures:
        raise RadNomoError(f"the LASSO's cross-validation measure '{LASSO_COX_MEASURES[settings.cv_measure]}' does not "
                           f"apply to a {statistics.kind} outcome; choose "
                           f"{', '.join(LASSO_COX_MEASURES[m] for m in statistics.cv_measures)}.")
    outcome = statistics.outcome(y)
    empty = X.columns[X.isna().all()]
    missing = X.drop(columns=empty).isna().to_numpy()
    if missing.any():
        columns = list(X.drop(columns=empty).columns[missing.any(axis=0)])
        raise RadNomoError(f"{int(missing.sum())} missing value(s) in {len(columns)} feature(s) of the training rows, "
                           f"e.g. {columns[:3]}: set a missing-value policy (impute or drop) before screening.")
    context = ScreeningContext(settings=settings, icc=icc, memo=memo if memo is not None else {},
                               tested=pd.DataFrame(columns=list(UNIVARIABLE_COLUMNS)), statistics=statistics)
    steps = [ScreeningStep("all features", tuple(X.columns), 0, "")]
    notes: list[str] = []
    warnings: list[str] = []
    lasso = None
    columns = list(X.columns)
    for step in pipeline:
        done = step.apply(X, outcome, columns, context)
        if done is None:
            continue
        steps.append(done.row)
        notes.extend(done.notes)
        warnings.extend(done.warnings)
        if done.tested is not None:
            context.tested = done.tested
        if done.lasso is not None:
            lasso = done.lasso
        columns = done.kept
    return ScreeningResult(settings=settings, steps=tuple(steps), univariable=context.tested, lasso=lasso,
                           notes=tuple(notes), warnings=tuple(warnings))


def selection_stability(X: pd.DataFrame, y: pd.Series | np.ndarray | pd.DataFrame, *, n_repeats: int = 50,
                        bootstrap: bool = True, n_folds: int = 10, rule: str = "1se", seed: int = 0,
                        statistics: OutcomeScreening = BINARY_SCREENING) -> tuple[pd.DataFrame, pd.DataFrame]:
    """How robust the LASSO selection is: LASSO-CV repeated over fold seeds and bootstrap resamples.

    Parameters
    ----------
    X, y
        Training rows of the features that reach the LASSO (after the univariable step).
    n_repeats : int
        Repetitions; each draws new folds and, with ``bootstrap``, a bootstrap resample of the
        training rows (stratified by outcome, so both classes keep their size).
    statistics : OutcomeScreening
        The outcome type's LASSO (default: the binary outcome's, ``y`` 0/1); a time-to-event outcome's takes
        ``y`` as the ``time``/``event`` frame, and its bootstrap keeps the numbers of events and censored patients.

    Returns
    -------
    (frequency, runs)
        ``frequency``: per feature, ``selected`` (share of runs with a non-zero coefficient)
        and ``mean_coef`` (mean coefficient when selected), sorted by frequency; ``runs``: per
        repetition ``lambda_min``, ``lambda_1se`` and ``n_selected``.
    """
    rng = np.random.default_rng(seed)
    # The bootstrap strata: the event indicator (0/1 outcome; a time-to-event frame's `event` column).
    outcome = np.asarray(y["event"] if isinstance(y, pd.DataFrame) else y).astype(int)
    counts = pd.Series(0, index=X.columns, dtype=float)
    sums = pd.Series(0.0, index=X.columns)
    runs = []
    for repeat in range(n_repeats):
        rows = np.arange(len(outcome))
        if bootstrap:
            rows = np.concatenate([rng.choice(np.flatnonzero(outcome == k), size=int(np.sum(outcome == k)))
                                   for k in (0, 1)])
        sample = X.iloc[rows]
        usable = sample.columns[sample.std(ddof=0) > 0]
        chosen = y.iloc[rows] if isinstance(y, pd.DataFrame | pd.Series) else np.asarray(y)[rows]
        fit = statistics.lasso(sample[usable], statistics.outcome(chosen),
                               ScreeningSettings(n_folds=n_folds, rule=rule, seed=seed + 1 + repeat))
        counts[fit.coef_.index] += 1
        sums[fit.coef_.index] += fit.coef_
        runs.append({"repeat": repeat + 1, "lambda_min": fit.lambda_min, "lambda_1se": fit.lambda_1se,
                     "n_selected": len(fit.coef_)})
    frequency = pd.DataFrame({"selected": counts / n_repeats,
                              "mean_coef": (sums / counts.replace(0, np.nan))}).sort_values("selected",
                                                                                             ascending=False)
    return frequency.rename_axis("feature"), pd.DataFrame(runs)
