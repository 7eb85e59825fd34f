"""Feature tables as real studies hand them over: exports of pyradiomics and other tools, with metadata,
text columns, constant columns, missing values and rows of other patients; and how their scale reads.

:func:`import_feature_table` keeps the numeric features and reports everything it left out and why
(nothing is dropped silently); :func:`scale_check` says when a table is already standardised or bounded,
so that the study's "variance > 1" would remove every feature.

Some columns must never be features, whatever table they come in: the patient ID, the outcome, the clinical
variables (a table holding everything) and whatever the user excludes by name or pattern
(:func:`role_columns`); and a column that orders the training outcome perfectly restates it
(:func:`perfect_orderers`). :func:`identifier_like` recognises ID-like text (hashes, paths, UUIDs).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.stats.cohort import blank_id_note, holds_dates, indexed_by_id, normalise_id, without_blank_ids

__all__ = ["METADATA_PREFIXES", "FeatureTableImport", "import_feature_table", "ScaleCheck", "scale_check",
           "parse_exclusions", "excluded_columns", "role_columns", "perfect_orderers", "identifier_like",
           "IDENTIFIER_LIKE"]

# Columns written by feature-extraction tools that describe the extraction, not the tumour:
# pyradiomics' diagnostics_* (2.x and later) and general_info_* (its exports before 2.0), LIFEx's INFO_ block,
# generic meta_ columns, and the file paths and identifiers batch runs write beside the features.
METADATA_PREFIXES = ("diagnostics_", "general_info_", "INFO_", "meta_")
_PATH_COLUMNS = re.compile(r"^(image|mask|mask_reader\d*|imagepath|maskpath|image_path|mask_path|segmentation|"
                           r"reader|label|roi|study_date|series|patient_name|modality)$", re.IGNORECASE)


# What the table itself says about a column (any other reason is a role: role_columns).
_KINDS_LEFT_OUT = ("metadata", "text", "date", "constant", "no value")


@dataclass(frozen=True, eq=False)
class FeatureTableImport:
    """A feature table made ready for a study, with what was left out.

    Attributes
    ----------
    table : pandas.DataFrame
        Float features indexed by patient ID (text), only the cohort's patients; missing values stay NaN
        (the study's missing-value policy decides about them).
    dropped : pandas.DataFrame
        One row per column left out: ``column``, ``reason`` ("metadata", "text", "date", "constant",
        "no value", or a role: "ID column", "outcome column", "clinical variable", "excluded ('pattern')").
    foreign_ids : tuple of str
        Rows whose ID is not a patient of the cohort (left out).
    patients_without_features : tuple of str
        Patients of the table whose every feature is missing.
    missing_values : int
        Missing feature values left in ``table``.
    blank_id_lines : tuple of int
        File lines of the rows left out for a blank patient ID (:func:`core.stats.cohort.without_blank_ids`).
    """

    table: pd.DataFrame
    dropped: pd.DataFrame
    foreign_ids: tuple[str, ...]
    patients_without_features: tuple[str, ...]
    missing_values: int
    blank_id_lines: tuple[int, ...] = ()

    @property
    def notes(self) -> list[str]:
        """What happened to the table, in words (for the page and the report)."""
        notes = []
        for reason, group in self.dropped.groupby("reason", sort=False):
            if reason in _KINDS_LEFT_OUT:
                examples = ", ".join(group["column"].head(3))
                notes.append(f"{len(group)} {reason} column(s) left out, e.g. {examples}.")
            else:  # a role (ID, outcome, clinical variable, the user's exclusion): every column named
                named = ", ".join(group["column"].head(20)) + (" ..." if len(group) > 20 else "")
                notes.append(f"{len(group)} column(s) that must never be features left out ({reason}): {named}.")
        if self.blank_id_lines:
            notes.append(blank_id_note(self.blank_id_lines, "table"))
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


def parse_exclusions(text: str | Iterable[str]) -> tuple[str, ...]:
    """Column names and glob patterns as a user types them ("lm_type, diagnostics_*", or one per line): trimmed,
    in their order, each once."""
    parts = re.split(r"[,;\n]", text) if isinstance(text, str) else [str(t) for t in text]
    return tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))


def excluded_columns(columns: Iterable[str], patterns: Sequence[str]) -> dict[str, str]:
    """Column -> the first of ``patterns`` that matches it.

    A pattern is a column name or a glob (``*``, ``?``, ``[abc]``, as :mod:`fnmatch`); both match regardless of
    case, since exports spell the same feature "Original_Firstorder_Mean" and "original_firstorder_mean".
    """
    lowered = [(pattern, pattern.lower()) for pattern in patterns]
    out = {}
    for column in columns:
        name = str(column).lower()
        for pattern, low in lowered:
            if name == low or fnmatchcase(name, low):
                out[str(column)] = pattern
                break
    return out


def role_columns(columns: Iterable[str], *, id_column: str | None = None,
                 outcome_column: str | Sequence[str] | None = None, clinical: Sequence[str] = (),
                 excluded: Sequence[str] = ()) -> dict[str, str]:
    """The columns of a feature table that must never be features, with why.

    Parameters
    ----------
    columns : iterable of str
        The feature table's columns.
    id_column : str or None
        The study's ID column (a feature table joined to the labels still holds it).
    outcome_column : str, sequence of str or None
        The study's outcome column, or every column of its outcome (``spec.outcome.columns``: an outcome such
        as time to event has more than one).
    clinical : sequence of str
        The study's clinical variables (a table holding clinical variables and features).
    excluded : sequence of str
        The user's exclusions, names or glob patterns (:func:`excluded_columns`).

    Returns
    -------
    dict
        Column -> reason: "ID column", "outcome column", "clinical variable" (names compared regardless of
        case and surrounding spaces) or "excluded ('<pattern>')"; columns in no role are absent.
    """
    columns = [str(c) for c in columns]
    roles: dict[str, str] = {}
    outcomes = (outcome_column,) if outcome_column is None or isinstance(outcome_column, str) else outcome_column
    for name, reason in ((id_column, "ID column"), *((c, "outcome column") for c in outcomes),
                         *((c, "clinical variable") for c in clinical)):
        if name is not None:
            roles.setdefault(str(name).strip().lower(), reason)
    out = {c: roles[c.strip().lower()] for c in columns if c.strip().lower() in roles}
    for column, pattern in excluded_columns(columns, excluded).items():
        out.setdefault(column, f"excluded ('{pattern}')")
    return out


# Perfect ordering by chance: with n1 events among n patients (distinct values), a feature unrelated to the
# outcome orders it perfectly (either way) with probability 2 / C(n, n1). A column is left out when that, times
# the number of columns looked at, stays below this: then it restates the outcome; in a cohort so small that
# chance could do it, the column is kept and named in a note instead.
PERFECT_CHANCE = 0.05


def perfect_orderers(X: pd.DataFrame, y: Sequence[int] | pd.Series) -> tuple[dict[str, str], list[str]]:
    """Columns equal to the outcome or ordering it perfectly (univariable AUC 0 or 1) on the given patients.

    Parameters
    ----------
    X : pandas.DataFrame
        Numeric features of the training patients (missing values allowed: each column is judged on the
        patients with a value).
    y : sequence of 0/1
        Their outcomes, in ``X``'s row order.

    Returns
    -------
    left_out : dict
        Column -> reason ("equal to the outcome", "the outcome reversed (1 - outcome)", "the outcome recoded
        (one value per outcome)", "has a value only for the patients with the event" (or without), "orders the
        outcome perfectly in training (AUC 1)" /
        "(AUC 0)"), for columns equal to the outcome or whose missing values are, and for perfect orderings
        chance cannot explain (:data:`PERFECT_CHANCE`).
    notes : list of str
        Perfect orderings kept because a cohort this small could give them by chance, named.
    """
    values = X.to_numpy(dtype=float)
    target = np.asarray(y, dtype=float).reshape(-1, 1)
    present = ~np.isnan(values)
    events, non_events = (present & (target == 1)).sum(axis=0), (present & (target == 0)).sum(axis=0)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-missing slices: nan, judged below
        max0 = np.nanmax(np.where(target == 0, values, np.nan), axis=0)
        min0 = np.nanmin(np.where(target == 0, values, np.nan), axis=0)
        max1 = np.nanmax(np.where(target == 1, values, np.nan), axis=0)
        min1 = np.nanmin(np.where(target == 1, values, np.nan), axis=0)
    both = (events > 0) & (non_events > 0)
    upward, downward = both & (max0 < min1), both & (max1 < min0)
    equal = both & np.all(~present | (values == target), axis=0)
    reversed_ = both & np.all(~present | (values == 1 - target), axis=0)
    left_out: dict[str, str] = {}
    notes: list[str] = []
    # A value present only for one outcome (a follow-up detail recorded only after the event) restates it too.
    observed = present.astype(float)
    for j in np.flatnonzero(~present.all(axis=0) & present.any(axis=0)):
        for side, pattern in (("with", target[:, 0]), ("without", 1 - target[:, 0])):
            if np.array_equal(observed[:, j], pattern):
                left_out[str(X.columns[j])] = f"has a value only for the patients {side} the event"
    for j in np.flatnonzero(upward | downward):
        column = str(X.columns[j])
        if equal[j]:
            left_out[column] = "equal to the outcome"
            continue
        if reversed_[j]:
            left_out[column] = "the outcome reversed (1 - outcome)"
            continue
        # Distinct values, not rows: a bootstrap resample repeats patients, which adds no evidence.
        k = len(np.unique(values[present[:, j] & (target[:, 0] == 1), j]))
        n = k + len(np.unique(values[present[:, j] & (target[:, 0] == 0), j]))
        if n == 2:
            left_out[column] = "the outcome recoded (one value per outcome)"
            continue
        log_chance = math.log(2 * X.shape[1]) - (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1))
        auc = 1 if upward[j] else 0
        if log_chance < math.log(PERFECT_CHANCE):
            left_out[column] = f"orders the outcome perfectly in training (AUC {auc})"
        else:
            notes.append(f"{column} orders the training outcome perfectly (AUC {auc}), which chance could do with "
                         f"{k} distinct values among events and {n - k} among non-events; it is kept: exclude it "
                         "if it restates the outcome.")
    return left_out, notes


IDENTIFIER_LIKE = "identifier-like column (every value unique)"
_HASH = re.compile(r"^[0-9a-f]{16,}$", re.IGNORECASE)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_PATH = re.compile(r"[\\/]|\.(?:nii|nii\.gz|nrrd|dcm|mha|mhd|png|jpe?g|tiff?)$", re.IGNORECASE)


def identifier_like(values: pd.Series) -> bool:
    """Whether a column holds identifiers rather than a variable: text whose every value is unique, or values
    that are mostly (90 %) hex hashes, UUIDs or file paths. Such a column orders any outcome "perfectly" only
    because each of its levels is one patient. Numbers are never identifier-like here (a continuous variable's
    values are unique too)."""
    present = values.dropna()
    if len(present) < 3 or pd.api.types.is_numeric_dtype(present) or pd.api.types.is_bool_dtype(present):
        return False
    text = present.astype(str).str.strip()
    if text.nunique() == len(text):
        return True
    patterned = text.str.match(_HASH) | text.str.match(_UUID) | text.str.contains(_PATH)
    return bool(patterned.mean() >= 0.9)


def _plain_numbers(values: pd.Series) -> bool:
    """Whether a column already holds real numbers (integer, float or boolean dtype, nullable ones included)."""
    return (pd.api.types.is_float_dtype(values) or pd.api.types.is_integer_dtype(values)
            or pd.api.types.is_bool_dtype(values))


def _constant(values: np.ndarray) -> np.ndarray:
    """Per column of a float matrix without all-missing columns: whether its present values are all equal
    (pandas' ``nunique(dropna=True) <= 1``, from one minimum and maximum per column instead of hashing every value)."""
    with np.errstate(invalid="ignore"):
        return np.nanmax(values, axis=0) == np.nanmin(values, axis=0)


def import_feature_table(table: pd.DataFrame, cohort_ids: Sequence[str], *, name: str = "feature table",
                         id_column: str = "ID", drop_constant: bool = True,
                         outcome_column: str | Sequence[str] | None = None, clinical: Sequence[str] = (),
                         excluded: Sequence[str] = ()) -> FeatureTableImport:
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
    outcome_column : str, sequence of str or None
        The study's outcome column (or its outcome's columns, ``spec.outcome.columns``), left out of the
        features when the table holds it.
    clinical : sequence of str
        The study's clinical variables, left out too (one table holding clinical variables and features).
    excluded : sequence of str
        The user's exclusions, names or glob patterns (:func:`role_columns`), left out too.

    Returns
    -------
    FeatureTableImport

    Raises
    ------
    RadNomoError
        For duplicated IDs (named), rows without an ID, infinite values, no numeric feature left, or no
        row of a cohort patient.
    """
    table, blank_lines = without_blank_ids(table, id_column)  # left out and counted, not a reason to refuse
    frame = indexed_by_id(table, id_column=id_column, name=name)
    dropped: list[dict] = []
    keep = []
    parsed = {}  # column -> its numbers, for columns read as text (a CSV's): parsed once, here
    # Roles before metadata and text: the listed reason then says "outcome column", not "text".
    roles = role_columns(frame.columns, id_column=id_column, outcome_column=outcome_column, clinical=clinical,
                         excluded=excluded)
    for column in frame.columns:
        if str(column) in roles:
            dropped.append({"column": str(column), "reason": roles[str(column)]})
            continue
        if _is_metadata(column):
            dropped.append({"column": str(column), "reason": "metadata"})
            continue
        values = frame[column]
        if _plain_numbers(values):  # a Parquet file's or a frame's numbers: neither text nor dates, nothing to parse
            keep.append(column)
            continue
        if holds_dates(values):  # pandas would turn dates into nanoseconds since 1970
            dropped.append({"column": str(column), "reason": "date"})
            continue
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().sum() < values.notna().sum():
            dropped.append({"column": str(column), "reason": "text"})
            continue
        keep.append(column)
        parsed[column] = numeric
    features = (pd.DataFrame({c: parsed.get(c, frame[c]) for c in keep}, index=frame.index, columns=keep)
                if parsed else frame[keep]).astype(float)
    features.columns = [str(c) for c in features.columns]
    # One set of the cohort's IDs (building it per row made this quadratic: seconds at 10,000 patients).
    cohort = set(normalise_id(i) for i in cohort_ids)
    foreign = [i for i in features.index if i not in cohort]
    features = features.loc[[i for i in features.index if i in cohort]]
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
    constant = features.columns[_constant(features.to_numpy())].tolist() if drop_constant else []
    dropped += [{"column": c, "reason": "constant"} for c in constant]
    features = features.drop(columns=constant)
    if features.shape[1] == 0:
        raise RadNomoError(f"the {name} has no numeric feature column left (left out: "
                           f"{sorted({d['reason'] for d in dropped})}); is the ID column named '{id_column}' or 'ID'?")
    without = tuple(features.index[features.isna().all(axis=1)])
    return FeatureTableImport(table=features, dropped=pd.DataFrame(dropped, columns=["column", "reason"]),
                              foreign_ids=tuple(foreign), patients_without_features=without,
                              missing_values=int(features.isna().to_numpy().sum()), blank_id_lines=blank_lines)


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
