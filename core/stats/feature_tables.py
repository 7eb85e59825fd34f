"""Feature tables as real studies hand them over: exports of pyradiomics and other tools, with metadata,
text columns, constant columns, missing values and rows of other patients; and how their scale reads.

:func:`import_feature_table` keeps the numeric features and reports everything it left out and why
(nothing is dropped silently); :func:`scale_check` says when a table is already standardised or bounded,
so that the study's "variance > 1" would remove every feature.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.stats.cohort import indexed_by_id, normalise_id

__all__ = ["METADATA_PREFIXES", "FeatureTableImport", "import_feature_table", "ScaleCheck", "scale_check"]

# Columns written by feature-extraction tools that describe the extraction, not the tumour:
# pyradiomics' diagnostics_* (2.x and later) and general_info_* (its exports before 2.0), LIFEx's INFO_ block,
# generic meta_ columns, and the file paths and identifiers batch runs write beside the features.
METADATA_PREFIXES = ("diagnostics_", "general_info_", "INFO_", "meta_")
_PATH_COLUMNS = re.compile(r"^(image|mask|mask_reader\d*|imagepath|maskpath|image_path|mask_path|segmentation|"
                           r"reader|label|roi|study_date|series|patient_name|modality)$", re.IGNORECASE)


@dataclass(frozen=True, eq=False)
class FeatureTableImport:
    """A feature table made ready for a study, with what was left out.

    Attributes
    ----------
    table : pandas.DataFrame
        Float features indexed by patient ID (text), only the cohort's patients; missing values stay NaN
        (the study's missing-value policy decides about them).
    dropped : pandas.DataFrame
        One row per column left out: ``column``, ``reason`` ("metadata", "text", "constant",
        "no value").
    foreign_ids : tuple of str
        Rows whose ID is not a patient of the cohort (left out).
    patients_without_features : tuple of str
        Patients of the table whose every feature is missing.
    missing_values : int
        Missing feature values left in ``table``.
    """

    table: pd.DataFrame
    dropped: pd.DataFrame
    foreign_ids: tuple[str, ...]
    patients_without_features: tuple[str, ...]
    missing_values: int

    @property
    def notes(self) -> list[str]:
        """What happened to the table, in words (for the page and the report)."""
        notes = []
        for reason, group in self.dropped.groupby("reason", sort=False):
            examples = ", ".join(group["column"].head(3))
            notes.append(f"{len(group)} {reason} column(s) left out, e.g. {examples}.")
        if self.foreign_ids:
            notes.append(f"{len(self.foreign_ids)} row(s) of patients not in the cohort left out, e.g. "
                         f"{list(self.foreign_ids[:3])}.")
        if self.patients_without_features:
            notes.append(f"{len(self.patients_without_features)} patient(s) have no feature value at all, e.g. "
                         f"{list(self.patients_without_features[:3])}: the missing-value policy decides about them.")
        if self.missing_values:
            notes.append(f"{self.missing_values} missing value(s) in {int(self.table.isna().any().sum())} feature(s): "
                         "the missing-value policy decides about them.")
        return notes


def _is_metadata(column: str) -> bool:
    return str(column).startswith(METADATA_PREFIXES) or bool(_PATH_COLUMNS.match(str(column)))


def import_feature_table(table: pd.DataFrame, cohort_ids: Sequence[str], *, name: str = "feature table",
                         id_column: str = "ID", drop_constant: bool = True) -> FeatureTableImport:
    """Keep a table's numeric features for the cohort's patients and report every column and row left out.

    Parameters
    ----------
    table : pandas.DataFrame
        As read (:func:`core.io.tables.read_any_table`): IDs in ``id_column``, "ID", "id", "patient_id"
        or the index; features, and whatever else the tool wrote.
    cohort_ids : sequence of str
        The study's patient IDs.
    drop_constant : bool
        Leave out constant columns (a study's own table; an external cohort's keeps them, since the
        frozen models may use a feature that happens to be constant there).

    Returns
    -------
    FeatureTableImport

    Raises
    ------
    RadNomoError
        For duplicated IDs (named), rows without an ID, infinite values, no numeric feature left, or no
        row of a cohort patient.
    """
    frame = indexed_by_id(table, id_column=id_column, name=name)
    dropped: list[dict] = []
    keep = []
    for column in frame.columns:
        if _is_metadata(column):
            dropped.append({"column": str(column), "reason": "metadata"})
            continue
        values = frame[column]
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().sum() < values.notna().sum():
            dropped.append({"column": str(column), "reason": "text"})
            continue
        keep.append(column)
    features = frame[keep].apply(pd.to_numeric).astype(float)
    features.columns = [str(c) for c in features.columns]
    cohort = pd.Index([normalise_id(i) for i in cohort_ids], dtype=object)
    foreign = [i for i in features.index if i not in set(cohort)]
    features = features.loc[[i for i in features.index if i in set(cohort)]]
    if len(features.index) == 0:  # not .empty, which is also true of rows without a numeric column
        raise RadNomoError(f"none of the {name}'s IDs (e.g. {list(frame.index[:3])}) are patients of the cohort "
                           f"(e.g. {list(cohort_ids)[:3]}).")
    infinite = features.columns[np.isinf(features.to_numpy()).any(axis=0)].tolist()
    if infinite:
        raise RadNomoError(f"the {name} has infinite values in {len(infinite)} column(s), e.g. {infinite[:3]}; "
                           "a feature value must be a finite number (or left empty).")
    empty = features.columns[features.isna().all()].tolist()
    dropped += [{"column": c, "reason": "no value"} for c in empty]
    features = features.drop(columns=empty)
    constant = features.columns[features.nunique(dropna=True) <= 1].tolist() if drop_constant else []
    dropped += [{"column": c, "reason": "constant"} for c in constant]
    features = features.drop(columns=constant)
    if features.shape[1] == 0:
        raise RadNomoError(f"the {name} has no numeric feature column left (left out: "
                           f"{sorted({d['reason'] for d in dropped})}); is the ID column named '{id_column}' or 'ID'?")
    without = tuple(features.index[features.isna().all(axis=1)])
    return FeatureTableImport(table=features, dropped=pd.DataFrame(dropped, columns=["column", "reason"]),
                              foreign_ids=tuple(foreign), patients_without_features=without,
                              missing_values=int(features.isna().to_numpy().sum()))


@dataclass(frozen=True)
class ScaleCheck:
    """How a table's values are scaled: ``kind`` "standardised", "bounded" or "raw", with a warning when the
    variance filter at ``threshold`` would remove every feature (``removed`` of ``n_features``)."""

    kind: str
    n_features: int
    removed: int
    warning: str | None


def scale_check(X: pd.DataFrame, threshold: float = 1.0) -> ScaleCheck:
    """Recognise an already standardised (every variance about 1, means about 0) or bounded (every value in
    [0, 1]) table, and say what "variance > threshold" on the raw values would do to it.

    ``X`` holds the training rows. Population variances, as the variance filter's.
    """
    values = X.to_numpy(dtype=float)
    variances = np.nanvar(values, axis=0)
    removed = int((variances <= threshold).sum())
    if np.nanmin(values) >= 0 and np.nanmax(values) <= 1:
        kind = "bounded"
    elif np.all(np.abs(variances - 1) < 0.2) and np.all(np.abs(np.nanmean(values, axis=0)) < 0.2):
        kind = "standardised"
    else:
        kind = "raw"
    warning = None
    if removed == X.shape[1] and X.shape[1] > 0:
        described = {"bounded": "every value lies in [0, 1]", "standardised": "every feature is already z-scored "
                     "(variance about 1)", "raw": "no feature varies more than that"}[kind]
        warning = (f"{described}: 'variance > {threshold:g}' would remove all {X.shape[1]} features. Lower the "
                   "threshold, or run the variance filter on the min-max scale (Selection page).")
    elif kind != "raw" and removed:
        warning = (f"the table looks {kind}: 'variance > {threshold:g}' removes {removed} of {X.shape[1]} features "
                   "on scale alone, not for lack of information.")
    return ScaleCheck(kind=kind, n_features=X.shape[1], removed=removed, warning=warning)
