"""Feature selection, fitted on the training cohort only.

So far: reader agreement (ICC) and the study's first three screening steps (variance threshold,
Spearman redundancy with caret::findCorrelation semantics, univariable t-test). LASSO follows.
Every function takes training rows only; test rows are only ever indexed by the kept columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from core.errors import RadNomoError

__all__ = ["icc_table", "variance_filter", "drop_correlated", "univariable_tests"]


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
    if method not in ("spearman", "pearson", "kendall"):
        raise RadNomoError(f"method '{method}' is not valid; possible values: spearman, pearson, kendall.")
    if not 0 < threshold < 1:
        raise RadNomoError(f"threshold = {threshold} must lie in (0, 1).")
    columns = list(X.columns)
    if len(columns) < 2:
        return columns
    corr = X.corr(method=method).to_numpy()
    if np.isnan(corr).any():
        constant = [c for c, v in zip(columns, np.isnan(corr).all(axis=0)) if v]
        raise RadNomoError(f"correlations are undefined for constant or empty feature(s) {constant[:5]}; drop them "
                           "first (the variance filter does).")
    use_exact = len(columns) < 100 if exact is None else exact
    removed = _find_correlation_exact(corr, threshold) if use_exact else _find_correlation_fast(corr, threshold)
    removed_set = set(removed)
    return [c for i, c in enumerate(columns) if i not in removed_set]


def _find_correlation_fast(corr: np.ndarray, cutoff: float) -> list[int]:
    """caret's findCorrelation_fast: all pairs judged by the initial mean absolute correlations."""
    average = np.abs(corr).mean(axis=0)  # colMeans(abs(x)), diagonal included as in caret
    rows, cols = np.nonzero(np.triu(np.abs(corr) > cutoff, k=1))
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
    if test not in ("student", "welch", "mannwhitney"):
        raise RadNomoError(f"test '{test}' is not valid; possible values: student, welch, mannwhitney.")
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
