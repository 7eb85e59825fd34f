"""Feature selection, fitted on the training cohort only. For now: reader agreement (ICC).

The screening steps of the study (variance, Spearman redundancy, t-test, LASSO) follow in this module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import RadNomoError

__all__ = ["icc_table"]


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
