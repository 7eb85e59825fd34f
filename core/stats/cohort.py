"""Cohort tables: reading, validation, the stratified train/test split and the study's Table 1.

Public API: :func:`read_table`, :func:`validate_cohort`, :func:`guess_variable_kinds`,
:func:`missing_values`, :class:`CohortSpec`, :class:`SplitConfig`, :class:`CohortSplit`,
:func:`split_cohort`, :func:`baseline_table`, :func:`table_one`, :func:`train_test_comparison`; for tables as
they come: :func:`without_blank_ids` (rows with a blank ID left out and counted), :func:`with_row_ids` (row
numbers as IDs, tables matched row by row), :func:`guess_id_column`, :func:`guess_outcome_column`,
:func:`looks_like_feature_table` and :func:`suggest_clinical_variables` (a handful, never ~1000 features).
Bad input raises :class:`core.errors.RadNomoError` with a message a person can act on.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import pandas as pd
from scipy import stats

from core.errors import RadNomoError, listed
from core.stats.outcomes import BinaryOutcome, Outcome, as_outcome, level_text, outcome_from_dict
from core.vocabulary import ROW_ID_COLUMN

__all__ = ["validate_feature_table", "indexed_by_id", "level_text", "normalise_id",
    "without_blank_ids", "blank_id_note", "blank_id_exclusions", "with_row_ids", "guess_id_column",
    "guess_outcome_column", "looks_like_feature_table", "suggest_clinical_variables", "FEATURE_TABLE_MIN_COLUMNS",
    "MAX_SUGGESTED_VARIABLES",
    "MIN_ROWS",
    "CohortSpec",
    "SplitConfig",
    "CohortSplit",
    "validate_cohort",
    "guess_variable_kinds",
    "missing_values",
    "split_cohort",
    "baseline_table",
    "table_one",
    "outcome_summary",
    "train_test_comparison",
]

MIN_ROWS = 20


# ---------------------------------------------------------------------------------------------
# Specifications
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, init=False)
class CohortSpec:
    """Which columns of a cohort table mean what.

    Built as ``CohortSpec(id_column=..., outcome=BinaryOutcome("lm", ("non-LM", "LM")), continuous=...)``, or,
    for a binary outcome, ``CohortSpec(id_column=..., outcome_column="lm", outcome_labels=("non-LM", "LM"))``
    (all arguments by keyword).

    Attributes
    ----------
    id_column : str
        Unique patient identifier.
    outcome : core.stats.outcomes.Outcome
        What the study predicts (:class:`~core.stats.outcomes.BinaryOutcome`: one 0/1 column, 1 = event); ask
        it for events, strata and labels.
    continuous, categorical : tuple of str
        Clinical variables by type.

    Raises
    ------
    RadNomoError
        If a variable is both continuous and categorical, the ID or an outcome column is also a variable, the
        ID column is an outcome column, or the outcome is given twice (``outcome`` and ``outcome_column``) or
        not at all.
    """

    id_column: str
    outcome: Outcome
    continuous: tuple[str, ...]
    categorical: tuple[str, ...]

    def __init__(self, *, id_column: str, outcome: Outcome | None = None, continuous: Sequence[str] = (),
                 categorical: Sequence[str] = (), outcome_column: str | None = None,
                 outcome_labels: Sequence[str] | None = None) -> None:
        if outcome is not None and (outcome_column is not None or outcome_labels is not None):
            raise RadNomoError("give the cohort's outcome once: an outcome, or a binary outcome's column (and "
                               "labels), not both.")
        if outcome is None:
            if outcome_column is None:
                raise RadNomoError("the cohort specification needs an outcome (or a binary outcome's column).")
            outcome = BinaryOutcome(outcome_column) if outcome_labels is None else \
                BinaryOutcome(outcome_column, cast("tuple[str, str]", tuple(outcome_labels)))  # checked there
        object.__setattr__(self, "id_column", id_column)
        object.__setattr__(self, "outcome", as_outcome(outcome))
        object.__setattr__(self, "continuous", tuple(continuous))
        object.__setattr__(self, "categorical", tuple(categorical))
        self._check()

    def _check(self) -> None:
        overlap = set(self.continuous) & set(self.categorical)
        if overlap:
            raise RadNomoError(f"variables {sorted(overlap)} are marked both continuous and categorical; "
                               "choose one type for each.")
        for name in self.reserved_columns:
            if name in self.continuous or name in self.categorical:
                raise RadNomoError(f"column '{name}' is the ID or outcome column and cannot also be a variable.")
        if self.id_column in self.outcome.columns:
            raise RadNomoError("the ID column and the outcome column must be different columns.")

    @property
    def variables(self) -> tuple[str, ...]:
        """All clinical variables, continuous first."""
        return self.continuous + self.categorical

    @property
    def reserved_columns(self) -> tuple[str, ...]:
        """The ID column and the outcome's columns: never a clinical variable or a feature."""
        return (self.id_column, *self.outcome.columns)

    @property
    def outcome_column(self) -> str:
        """The outcome's event column (read-only alias kept for older callers: ask :attr:`outcome` instead)."""
        return self.outcome.event_column

    @property
    def outcome_labels(self) -> tuple[str, str]:
        """Display names of "no event" and "event" (alias of ``outcome.labels``)."""
        return self.outcome.labels

    def with_variables(self, continuous: Sequence[str], categorical: Sequence[str]) -> CohortSpec:
        """The same ID and outcome with other clinical variables."""
        return CohortSpec(id_column=self.id_column, outcome=self.outcome, continuous=continuous,
                          categorical=categorical)

    def identity(self) -> dict[str, object]:
        """What a study's fingerprint records of the specification: the ID, the variables and the outcome's
        :meth:`~core.stats.outcomes.Outcome.identity` (for a binary outcome the fields this class had before
        outcomes were types, so stored fits keep matching their study)."""
        return {"id_column": self.id_column, "continuous": list(self.continuous),
                "categorical": list(self.categorical), **self.outcome.identity()}

    def to_dict(self) -> dict[str, object]:
        """JSON-ready values: ``id_column``, ``outcome`` (its ``to_dict``), ``continuous``, ``categorical``."""
        return {"id_column": self.id_column, "outcome": self.outcome.to_dict(),
                "continuous": list(self.continuous), "categorical": list(self.categorical)}

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> CohortSpec:
        """The specification :meth:`to_dict` wrote, or one of the layout before outcomes were types
        (``outcome_column`` and ``outcome_labels`` beside the ID and variables).

        Raises
        ------
        RadNomoError
            If a value is missing or of the wrong type, or the roles overlap.
        """
        if not isinstance(values, Mapping):
            raise RadNomoError(f"a cohort specification must be a mapping; got {type(values).__name__}.")
        missing = [k for k in ("id_column", "continuous", "categorical") if k not in values]
        if "outcome" not in values and "outcome_column" not in values:
            missing.append("outcome")
        if missing:
            raise RadNomoError(f"the saved cohort specification lacks {missing}.")
        names = {k: values[k] for k in ("continuous", "categorical")}
        for key, names_ in names.items():
            if isinstance(names_, str) or not isinstance(names_, (list, tuple)):
                raise RadNomoError(f"the saved cohort specification's '{key}' must be a list of column names.")
        if "outcome" in values:
            outcome = outcome_from_dict(values["outcome"])  # type: ignore[arg-type]
        else:  # the layout before outcomes were types: a binary outcome's column and labels
            labels = values.get("outcome_labels")
            outcome = BinaryOutcome(str(values["outcome_column"]),
                                    *([tuple(map(str, labels))] if labels is not None else []))  # type: ignore[call-overload]
        return cls(id_column=str(values["id_column"]), outcome=outcome,
                   continuous=tuple(map(str, names["continuous"])),  # type: ignore[call-overload]
                   categorical=tuple(map(str, names["categorical"])))  # type: ignore[call-overload]


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitConfig:
    """Settings of the outcome-stratified random train/test split.

    Attributes
    ----------
    test_size : float, default 0.3
        Fraction of patients in the test cohort (the study's 7:3 split), in [0.05, 0.95]; or 0: no
        held-out test cohort (every patient trains; a small cohort is then evaluated by repeated
        cross-validation and the bootstrap, the whole pipeline refitted inside).
    seed : int, default 2025
        Random seed; the same seed and data give the same split.
    """

    test_size: float = 0.3
    seed: int = 2025

    @property
    def has_test(self) -> bool:
        return self.test_size > 0

    def __post_init__(self) -> None:
        if self.test_size != 0 and not 0.05 <= self.test_size <= 0.95:
            raise RadNomoError(f"test_size = {self.test_size} must be 0 (no test cohort) or lie between 0.05 and "
                               "0.95.")
        if self.seed < 0:
            raise RadNomoError(f"seed = {self.seed} must be a non-negative integer.")


@dataclass(frozen=True, slots=True, kw_only=True)
class CohortSplit:
    """Patient IDs of the training and test cohorts (sorted, disjoint).

    Attributes
    ----------
    train_ids, test_ids : tuple of str
    config : SplitConfig
        The settings that produced the split.
    """

    train_ids: tuple[str, ...]
    test_ids: tuple[str, ...]
    config: SplitConfig = field(default_factory=SplitConfig)

    def cohort_labels(self, ids: Sequence[str]) -> pd.Series:
        """'train' or 'test' for each of ``ids`` (index = ids)."""
        train = set(self.train_ids)
        return pd.Series(["train" if i in train else "test" for i in ids], index=list(ids), name="cohort")



def validate_cohort(df: pd.DataFrame, id_column: str, outcome: Outcome | str, *,
                    continuous: Sequence[str] = (), categorical: Sequence[str] = ()) -> pd.DataFrame:
    """Check a cohort table and return a clean copy.

    Parameters
    ----------
    df : pandas.DataFrame
        The table as read by :func:`read_table`.
    id_column : str
        The patient-ID column.
    outcome : Outcome or str
        The study's outcome (``spec.outcome``), or the name of a binary outcome column.
    continuous, categorical : sequence of str, optional
        Clinical variables by type; continuous ones must be numeric (missing values allowed).

    Returns
    -------
    pandas.DataFrame
        Same rows and columns; IDs as text, the outcome coded by its type (a binary one as int 0/1,
        1 = event), continuous variables as float (NaN where missing), categorical variables as text.

    Raises
    ------
    RadNomoError
        If a column is absent; there are fewer than 20 rows; an ID is missing or duplicated; the
        outcome is missing, not binary, or has one class only; a continuous variable has values
        that are not numbers.
    """
    outcome = as_outcome(outcome)
    columns = [id_column, *outcome.columns, *continuous, *categorical]
    absent = [c for c in columns if c not in df.columns]
    if absent:
        raise RadNomoError(f"column(s) {listed(repr(c) for c in absent)} not found; the table has {df.shape[1]:,} "
                           f"columns: {listed(repr(str(c)) for c in df.columns)}.")
    if len(df) < MIN_ROWS:
        raise RadNomoError(f"the table has {len(df)} rows; at least {MIN_ROWS} patients are needed.")
    CohortSpec(id_column=id_column, outcome=outcome, continuous=tuple(continuous),
               categorical=tuple(categorical))  # checks overlaps
    out = df.copy()
    out[id_column] = _validated_ids(out[id_column])
    for column, values in outcome.validated(out, out[id_column]).items():
        out[column] = values
    for column in continuous:
        out[column] = _validated_numeric(out[column], out[id_column])
    for column in categorical:
        out[column] = out[column].map(lambda v: v if pd.isna(v) else level_text(v))
    return out


# Characters that show as nothing: a copy-paste from a web page or a PDF can hide them inside an ID.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def normalise_id(value: object) -> str:
    """A patient ID as the text that identifies the patient, for comparing and joining IDs.

    The ID's own text is kept (``001`` stays ``001``); a number read from a spreadsheet shows as
    :func:`level_text` does (1.0 as ``1``). Then zero-width characters (U+200B-U+200D, U+2060,
    U+FEFF) are removed, the text is put in Unicode NFKC form and surrounding whitespace is
    stripped. NFKC rather than NFC: besides composing accents typed as separate characters
    (NFD ``e`` + U+0301 becomes ``é``, as NFC does), it folds compatibility forms that look alike
    or come from another input method, such as full-width ``ＧＣ００１`` (``GC001``), ligatures and
    no-break spaces; two IDs that differ only so are one patient typed twice, not two patients.
    Letter case and inner spaces are kept.

    Parameters
    ----------
    value : str or number

    Returns
    -------
    str
        The normalised ID ("" if nothing visible is left).
    """
    text = value if isinstance(value, str) else level_text(value)
    return unicodedata.normalize("NFKC", text.translate(_INVISIBLE)).strip()


def _shown_id(text: str) -> str:
    """An ID for a message, invisible, non-printable and combining characters spelled out (U+200B as \\u200b)."""
    shown = "".join(c if c.isprintable() and not unicodedata.combining(c) else f"\\u{ord(c):04x}" for c in text)
    return f"'{shown}'"


def _normalised_ids(ids: pd.Series) -> tuple[pd.Series, pd.Series, list[str]]:
    """(original text, normalised text, collision examples) of IDs; missing IDs are None in both."""
    original = ids.map(lambda v: None if not isinstance(v, str) and pd.isna(v) else
                       (v if isinstance(v, str) else level_text(v)))
    normalised = original.map(lambda v: None if v is None else normalise_id(v))
    duplicated = normalised.notna() & (normalised != "") & normalised.duplicated(keep=False)
    examples = []
    for key in list(dict.fromkeys(normalised[duplicated]))[:5]:
        forms = list(dict.fromkeys(original[normalised == key]))
        examples.append(_shown_id(forms[0]) if len(forms) == 1 else
                        " = ".join(map(_shown_id, forms)) + " (the same once invisible characters, surrounding "
                        "spaces, full-width forms and Unicode composition are normalised)")
    return original, normalised, examples


def _validated_ids(ids: pd.Series) -> pd.Series:
    _, normalised, examples = _normalised_ids(ids)
    missing = normalised.isna() | (normalised == "")
    if missing.any():
        rows = (np.flatnonzero(missing) + 2).tolist()[:5]
        raise RadNomoError(f"ID column '{ids.name}' is empty in {int(missing.sum())} row(s) (file lines {rows}); "
                           "every patient needs an ID.")
    if examples:
        count = normalised[normalised.duplicated(keep=False)].nunique()
        raise RadNomoError(f"ID column '{ids.name}' has {count} duplicated ID(s), e.g. {'; '.join(examples)}; "
                           "each patient must appear once.")
    return normalised.astype(object)


def holds_dates(values: pd.Series) -> bool:
    """Whether a column holds dates, times or durations (datetime64/timedelta64, or such objects).

    pandas turns those into nanoseconds (since 1970, or in all) when asked for numbers, silently: a
    date of birth used as a continuous variable would become an 18-digit "measurement".
    """
    if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_timedelta64_dtype(values) \
            or isinstance(values.dtype, pd.PeriodDtype):
        return True
    if values.dtype != object:
        return False
    present = values.dropna()
    return bool(len(present)) and bool(present.map(lambda v: isinstance(v, (datetime.date, datetime.time,
                                                                         datetime.timedelta, np.datetime64,
                                                                         np.timedelta64))).any())


# A date or time written as text: 2021-03-04, 2021/03/04, 04.03.2021, 4/3/21, optionally with a time.
_DATE_TEXT = re.compile(r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})"
                        r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")


def _dates_message(what: str, example: object) -> str:
    return (f"{what} holds dates or times (e.g. {str(example)[:40]!r}), not numbers; compute a number from it first "
            "(e.g. age at diagnosis in years, days from surgery to recurrence) or use it as a categorical variable.")


def refuse_dates(values: pd.Series, what: str) -> None:
    """Raise a RadNomoError naming ``what`` if ``values`` holds dates or times (see :func:`holds_dates`)."""
    if holds_dates(values):
        raise RadNomoError(_dates_message(what, values.dropna().iloc[0] if values.notna().any() else ""))


def _validated_numeric(values: pd.Series, ids: pd.Series) -> pd.Series:
    refuse_dates(values, f"continuous column '{values.name}'")
    numeric = pd.to_numeric(values, errors="coerce")
    bad = numeric.isna() & values.notna() & (values.astype(str).str.strip() != "")
    if bad.any():
        examples = [f"{pid}: {str(val)[:40]!r}" for pid, val in zip(ids[bad].head(3), values[bad].head(3),
                                                                            strict=True)]
        if values[bad].astype(str).str.strip().str.fullmatch(_DATE_TEXT).all():  # dates written as text
            raise RadNomoError(_dates_message(f"continuous column '{values.name}'", values[bad].iloc[0]))
        raise RadNomoError(f"continuous column '{values.name}' has {int(bad.sum())} value(s) that are not numbers "
                           f"({'; '.join(examples)}); fix them, leave them empty, or treat the column as categorical.")
    infinite = np.isinf(numeric)
    if infinite.any():
        raise RadNomoError(f"continuous column '{values.name}' has infinite values for "
                           f"{ids[infinite].head(3).tolist()}.")
    return numeric.astype(float)


def guess_variable_kinds(df: pd.DataFrame, exclude: Sequence[str] = (), *,
                         max_levels: int = 12) -> tuple[list[str], list[str]]:
    """Propose (continuous, categorical) variables for a table.

    Numeric columns with more than 8 distinct values are continuous; columns with at most
    ``max_levels`` distinct values are categorical; the rest (free text, dates, IDs) are left out.
    """
    continuous, categorical = [], []
    for column in df.columns:
        if column in exclude:
            continue
        values = df[column].dropna()
        distinct = values.nunique()
        if pd.api.types.is_numeric_dtype(values) and distinct > 8:
            continuous.append(column)
        elif 1 <= distinct <= max_levels:
            categorical.append(column)
    return continuous, categorical


def missing_values(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Missing-value report: one row per column with ``n_missing`` and ``percent`` (0-100)."""
    counts = df[list(columns)].isna().sum()
    return pd.DataFrame({"variable": counts.index, "n_missing": counts.to_numpy(),
                         "percent": np.round(100 * counts.to_numpy() / max(len(df), 1), 1)})


# ---------------------------------------------------------------------------------------------
# Tables as they come: blank IDs, no ID column, a feature table offered as the clinical table
# ---------------------------------------------------------------------------------------------

#: A table with at least this many numeric columns (ID and outcome aside) reads as a feature table:
#: clinical tables hold tens of variables, radiomics exports hundreds to thousands of features.
FEATURE_TABLE_MIN_COLUMNS = 50
#: The most clinical variables proposed for a table that reads as a feature table.
MAX_SUGGESTED_VARIABLES = 8

# Words that name a patient identifier, and words that name a clinical variable (matched against a
# column name's words: "PatientID" -> patient, id; "T_stage" -> t, stage).
_ID_WORDS = {"id", "ids", "pid", "uid", "mrn", "patient", "patientid", "case", "caseid", "subject", "subjectid",
             "identifier", "accession", "record"}
_OUTCOME_WORDS = {"outcome", "label", "labels", "event", "target", "y", "class", "status", "response",
                  "diagnosis", "malignant", "malignancy", "lm", "metastasis", "recurrence", "death", "dead",
                  "survival", "positive", "result", "group"}
_CLINICAL_WORDS = {"age", "sex", "gender", "stage", "grade", "tnm", "t", "n", "m", "bmi", "smoking", "smoker",
                   "histology", "histologic", "ecog", "kps", "psa", "gleason", "cea", "ca199", "ca19", "afp",
                   "location", "site", "side", "lauren", "her2", "differentiation", "performance", "race",
                   "ethnicity", "weight", "height", "diabetes", "hypertension", "alcohol", "pathology",
                   "lymph", "node", "nodes", "invasion", "ki67", "er", "pr", "subtype", "laterality", "scanner",
                   "centre", "center", "institution", "hospital", "treatment", "therapy", "chemotherapy"}
# Prefixes of radiomics feature names (pyradiomics image types and classes), never a clinical variable.
_FEATURE_PREFIXES = ("original", "wavelet", "log", "square", "squareroot", "logarithm", "exponential",
                     "gradient", "lbp", "firstorder", "shape", "glcm", "glrlm", "glszm", "gldm", "ngtdm",
                     "diagnostics", "morph", "stat", "ih", "ivh", "cm", "rlm", "szm", "dzm", "ngt", "ngl")


def _name_words(column: object) -> list[str]:
    """A column name's words in lower case: "PatientID" -> [patient, id], "ca19_9_u_ml" -> [ca19, 9, u, ml]."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(column))
    return [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]


def _is_blank(value: object) -> bool:
    """An ID cell with nothing in it: missing, or text that normalises to nothing (spaces, zero-width)."""
    if not isinstance(value, str) and pd.isna(value):
        return True
    return normalise_id(value) == ""


def _id_source(table: pd.DataFrame, id_column: str) -> str | None:
    """The column :func:`indexed_by_id` takes the IDs from (``id_column``, "ID", "id", "patient_id"); None: the
    index."""
    return next((c for c in (id_column, "ID", "id", "patient_id") if c in table.columns), None)


def without_blank_ids(table: pd.DataFrame, id_column: str) -> tuple[pd.DataFrame, tuple[int, ...]]:
    """A table without its rows whose patient ID is blank, and where those rows were.

    Parameters
    ----------
    table : pandas.DataFrame
        As read (:func:`core.io.tables.read_table`, rows in file order). The IDs are in ``id_column``; a
        table without that column (a feature table) has them where :func:`indexed_by_id` looks: a column
        "ID", "id" or "patient_id", else the index.
    id_column : str

    Returns
    -------
    (pandas.DataFrame, tuple of int)
        The table without the blank-ID rows (index reset when rows were left out), and the file lines
        of the rows left out (the header being line 1, so the first data row is line 2). A blank ID is a
        missing cell or one holding only spaces or invisible characters (:func:`normalise_id`).
    """
    if id_column == ROW_ID_COLUMN and ROW_ID_COLUMN not in table.columns:
        return table, ()  # numbered row by row (indexed_by_id): every row has an ID
    source = _id_source(table, id_column)
    ids = table[source] if source is not None else pd.Series(table.index, index=table.index)
    blank = ids.map(_is_blank).to_numpy(dtype=bool)
    if not blank.any():
        return table, ()
    lines = tuple(int(i) + 2 for i in np.flatnonzero(blank))
    kept = table.loc[~blank]
    return (kept.reset_index(drop=True) if source is not None else kept), lines


def blank_id_note(lines: Sequence[int], what: str) -> str:
    """"N row(s) with a blank ID left out of the <what> (file lines ...)." for the page and the notes."""
    shown = ", ".join(map(str, lines[:8])) + (", ..." if len(lines) > 8 else "")
    return f"{len(lines)} row(s) with a blank ID left out of the {what} (file lines {shown})."


def blank_id_exclusions(lines: Sequence[int]) -> tuple[tuple[str, str], ...]:
    """Rows left out for a blank ID as a study's exclusions: ("file line 7", "a blank ID") each."""
    return tuple((f"file line {line}", "a blank ID") for line in lines)


def with_row_ids(table: pd.DataFrame, *, expected_rows: int | None = None, what: str = "table",
                 other: str = "clinical table") -> pd.DataFrame:
    """A table without IDs given row numbers as IDs: a first column :data:`~core.vocabulary.ROW_ID_COLUMN`
    holding "1".."n" (text, as IDs are), in the table's row order.

    A clinical table and a feature table both numbered so are matched row by row: row 5 of one is
    row 5 of the other, so they must hold the same patients in the same order.

    Parameters
    ----------
    table : pandas.DataFrame
    expected_rows : int, optional
        The number of rows of the table this one is matched with (the clinical table's).
    what, other : str
        How messages name this table and the one it is matched with.

    Raises
    ------
    RadNomoError
        If the table already has a column named like the row-ID column, or its row count differs from
        ``expected_rows`` (both counts named).
    """
    if ROW_ID_COLUMN in table.columns:
        raise RadNomoError(f"the {what} already has a column '{ROW_ID_COLUMN}'; choose it as the ID column instead "
                           "of row numbers, or rename it.")
    if expected_rows is not None and len(table) != expected_rows:
        raise RadNomoError(f"with row numbers as IDs the {what} is matched row by row with the {other}, but it has "
                           f"{len(table)} rows and the {other} has {expected_rows}; give both tables an ID column, "
                           "or make their rows the same patients in the same order.")
    out = table.reset_index(drop=True)
    out.insert(0, ROW_ID_COLUMN, [str(i) for i in range(1, len(out) + 1)])
    return out


def _could_be_ids(values: pd.Series) -> bool:
    """Whether a column could hold patient IDs: its non-blank values unique, text or whole numbers, most filled."""
    filled = values[~values.map(_is_blank)]
    if len(filled) < 2 or len(filled) < 0.5 * len(values):
        return False
    if pd.api.types.is_numeric_dtype(filled) and not np.all(np.mod(filled.astype(float), 1) == 0):
        return False  # measurements with decimals are unique too, and never IDs
    return not filled.map(normalise_id).duplicated().any()


def guess_id_column(table: pd.DataFrame) -> str | None:
    """The column that most likely holds the patient IDs, or None (then propose row numbers as IDs).

    A column with a repeated value is never proposed (``sex`` is not an ID). Among the columns whose
    non-blank values are unique (text or whole numbers), one named like an ID (``patient_id``, ``PatientID``,
    ``case``, ``MRN``...) comes first, then the table's first column, then the first unique text column;
    failing those, a column named like an ID with mostly distinct values (its duplicates are then refused
    by name when the cohort opens).
    """
    candidates = [c for c in table.columns if _could_be_ids(table[c])]
    named = [c for c in candidates if _ID_WORDS & set(_name_words(c))]
    if named:
        return named[0]
    if candidates and candidates[0] == table.columns[0]:
        return candidates[0]
    text = [c for c in candidates if not pd.api.types.is_numeric_dtype(table[c])]
    if text:
        return text[0]
    # A column named like an ID whose values mostly differ but some repeat stays the proposal: opening the
    # cohort then names the duplicated IDs, to be fixed, instead of row numbers hiding them.
    repeated = [c for c in table.columns if _ID_WORDS & set(_name_words(c)) and table[c].nunique() > len(table) / 2]
    return repeated[0] if repeated else None


def guess_outcome_column(table: pd.DataFrame, exclude: Sequence[str] = ()) -> str | None:
    """The column that most likely holds the binary outcome, or None.

    Only columns coded as a binary outcome (0/1, yes/no, true/false) qualify; one named like an outcome
    (``outcome``, ``label``, ``event``, ``status``, ``lm``...) first, else the first such column.
    """
    binary = [c for c in table.columns if c not in exclude and BinaryOutcome.accepts(table[c])]
    named = [c for c in binary if _OUTCOME_WORDS & set(_name_words(c))]
    return (named or binary or [None])[0]


def looks_like_feature_table(table: pd.DataFrame, exclude: Sequence[str] = ()) -> bool:
    """Whether a table offered as the clinical table reads as a feature table: at least
    :data:`FEATURE_TABLE_MIN_COLUMNS` numeric columns besides ``exclude`` (the ID and the outcome)."""
    numeric = [c for c in table.columns if c not in exclude and pd.api.types.is_numeric_dtype(table[c])]
    return len(numeric) >= FEATURE_TABLE_MIN_COLUMNS


def suggest_clinical_variables(table: pd.DataFrame, exclude: Sequence[str] = (), *,
                               max_variables: int = MAX_SUGGESTED_VARIABLES) -> tuple[list[str], list[str]]:
    """(continuous, categorical) clinical variables to pre-select for a table.

    A clinical table gets :func:`guess_variable_kinds`. A table that reads as a feature table
    (:func:`looks_like_feature_table`) gets only a handful of plausible variables, at most
    ``max_variables``: columns named like a clinical variable (age, sex, stage, grade...), then
    categorical columns of up to 5 levels, never a column named like a radiomics feature
    (``original_firstorder_Mean``, ``wavelet-LLH_glcm_...``).
    """
    continuous, categorical = guess_variable_kinds(table, exclude=exclude)
    if not looks_like_feature_table(table, exclude):
        return continuous, categorical
    chosen = set(continuous) | set(categorical)

    def plausible(column: str) -> bool:
        words = _name_words(column)
        return bool(words) and words[0] not in _FEATURE_PREFIXES and not re.match(r"(?i)^(wavelet|log-sigma)", column)

    named = [c for c in table.columns if c in chosen and plausible(c) and _CLINICAL_WORDS & set(_name_words(c))]
    few_levels = [c for c in categorical if plausible(c) and c not in named and table[c].nunique() <= 5]
    keep = set((named + few_levels)[:max_variables])
    return [c for c in continuous if c in keep], [c for c in categorical if c in keep]


# ---------------------------------------------------------------------------------------------
# Split
# ---------------------------------------------------------------------------------------------


def split_cohort(df: pd.DataFrame, spec: CohortSpec, config: SplitConfig | None = None) -> CohortSplit:
    """Outcome-stratified random split into training and test cohorts.

    Parameters
    ----------
    df : pandas.DataFrame
        A validated cohort (:func:`validate_cohort`).
    spec : CohortSpec
    config : SplitConfig, optional
        Test fraction and seed; defaults to the study's 7:3 split.

    Returns
    -------
    CohortSplit

    Raises
    ------
    RadNomoError
        If either cohort would lack events or non-events.
    """
    from sklearn.model_selection import train_test_split  # sklearn is slow to import; only needed here

    config = config or SplitConfig()
    ids = df[spec.id_column].to_numpy()
    if not config.has_test:
        return CohortSplit(train_ids=tuple(sorted(ids)), test_ids=(), config=config)
    strata = spec.outcome.strata(df).to_numpy()
    try:
        train, test = train_test_split(ids, test_size=config.test_size, random_state=config.seed, stratify=strata)
    except ValueError as error:
        raise RadNomoError(f"the cohort cannot be split {1 - config.test_size:.0%}:{config.test_size:.0%} with "
                           f"both outcomes in each part ({error}).") from error
    return CohortSplit(train_ids=tuple(sorted(train)), test_ids=tuple(sorted(test)), config=config)


# ---------------------------------------------------------------------------------------------
# Baseline tables
# ---------------------------------------------------------------------------------------------

_ALPHA = 0.05


def _continuous_test(a: np.ndarray, b: np.ndarray) -> tuple[str, float, float]:
    """The study's rule: Student's t when Shapiro-Wilk (each group) and Levene allow, else Mann-Whitney U.

    Levene's test uses scipy's default centre (the median, i.e. Brown-Forsythe), which is also
    R car::leveneTest's default and robust to the skew that sends us to Mann-Whitney anyway.
    """
    if len(a) < 3 or len(b) < 3 or (np.ptp(a) == 0 and np.ptp(b) == 0):
        return "not testable", np.nan, np.nan
    with warnings.catch_warnings():
        # scipy warns that Shapiro-Wilk p-values may be inaccurate for n > 5000; the rule still applies.
        warnings.simplefilter("ignore", UserWarning)
        normal = stats.shapiro(a).pvalue > _ALPHA and stats.shapiro(b).pvalue > _ALPHA
    equal_variance = stats.levene(a, b).pvalue > _ALPHA
    if normal and equal_variance:
        result = stats.ttest_ind(a, b, equal_var=True)
        return "Student t", float(result.statistic), float(result.pvalue)
    result = stats.mannwhitneyu(a, b, alternative="two-sided")
    return "Mann-Whitney U", float(result.statistic), float(result.pvalue)


def _categorical_test(table: pd.DataFrame) -> tuple[str, float, float, str]:
    """Pearson's chi-square on a levels x groups table (Yates-corrected when 2 x 2, as R's chisq.test)."""
    table = table.loc[table.sum(axis=1) > 0]
    if table.shape[0] < 2 or (table.sum(axis=0) == 0).any():
        return "not testable", np.nan, np.nan, "fewer than two levels observed"
    result = stats.chi2_contingency(table.to_numpy())
    small = int((result.expected_freq < 5).sum())
    note = f"{small} cell(s) with expected count < 5" if small else ""
    return "Chi-square", float(result.statistic), float(result.pvalue), note


def baseline_table(df: pd.DataFrame, group: pd.Series, *, continuous: Sequence[str], categorical: Sequence[str],
                   group_labels: tuple[str, str]) -> pd.DataFrame:
    """Characteristics of two groups side by side, with the study's tests.

    Parameters
    ----------
    df : pandas.DataFrame
        Validated cohort rows.
    group : pandas.Series
        0/1 (or False/True) group membership aligned with ``df``.
    continuous, categorical : sequence of str
        Variables to describe.
    group_labels : (str, str)
        Names of group 0 and group 1; they head the two description columns.

    Returns
    -------
    pandas.DataFrame
        One row per continuous variable (mean +- SD) and one per categorical level (n (%)), with
        columns ``variable``, ``level``, the two group labels (display text), ``test``,
        ``statistic``, ``p_value`` (on the variable's first row only), ``significant``
        (p < 0.05) and ``note``. Missing values are left out of each variable's counts and tests.
    """
    membership = group.astype(int).to_numpy()
    label0, label1 = group_labels
    rows: list[dict[str, object]] = []
    for column in continuous:
        values = df[column].to_numpy(dtype=float)
        a = values[(membership == 0) & ~np.isnan(values)]
        b = values[(membership == 1) & ~np.isnan(values)]
        test, statistic, p = _continuous_test(a, b)
        n_missing = int(np.isnan(values).sum())
        rows.append({"variable": column, "level": "mean ± SD", label0: _mean_sd(a), label1: _mean_sd(b),
                     "test": test, "statistic": statistic, "p_value": p,
                     "note": f"{n_missing} missing" if n_missing else ""})
    for column in categorical:
        present = df[column].notna().to_numpy()
        table = pd.crosstab(df[column].to_numpy()[present], membership[present]).reindex(columns=[0, 1], fill_value=0)
        test, statistic, p, note = _categorical_test(table)
        n_missing = int((~present).sum())
        note = "; ".join(x for x in (note, f"{n_missing} missing" if n_missing else "") if x)
        totals = table.sum(axis=0)
        for i, (level, counts) in enumerate(table.iterrows()):
            rows.append({"variable": column, "level": str(level),
                         label0: _count_pct(counts[0], totals[0]), label1: _count_pct(counts[1], totals[1]),
                         "test": test if i == 0 else "", "statistic": statistic if i == 0 else np.nan,
                         "p_value": p if i == 0 else np.nan, "note": note if i == 0 else ""})
    out = pd.DataFrame(rows, columns=["variable", "level", label0, label1, "test", "statistic", "p_value", "note"])
    out.insert(out.columns.get_loc("p_value") + 1, "significant", out["p_value"] < _ALPHA)
    return out


def _mean_sd(values: np.ndarray) -> str:
    if len(values) == 0:
        return "-"
    sd = values.std(ddof=1) if len(values) > 1 else 0.0
    return f"{values.mean():.2f} ± {sd:.2f}"


def _count_pct(count: int, total: int) -> str:
    return f"{int(count)} ({100 * count / total:.1f})" if total else "0 (-)"


def table_one(df: pd.DataFrame, spec: CohortSpec, split: CohortSplit) -> pd.DataFrame:
    """The study's Table 1: characteristics by outcome within the training and the test cohort.

    Returns
    -------
    pandas.DataFrame
        Columns ``variable``, ``level``, then for each cohort (``Train``, ``Test``) the two outcome
        groups headed "<cohort>: <label> (n=..)", and ``<cohort> test``, ``<cohort> p`` and
        ``<cohort> significant``. A split without a test cohort gives the training columns only.
    """
    parts = []
    cohorts = (("Train", split.train_ids), ("Test", split.test_ids)) if split.test_ids else \
        (("Train", split.train_ids),)
    for name, ids in cohorts:
        rows = df[df[spec.id_column].isin(set(ids))]
        outcome = spec.outcome.events(rows)
        labels = tuple(f"{name}: {label} (n={int((outcome == k).sum())})"
                       for k, label in enumerate(spec.outcome.labels))
        part = baseline_table(rows, outcome, continuous=spec.continuous, categorical=spec.categorical,
                              group_labels=labels)  # type: ignore[arg-type]
        part = part.drop(columns=["statistic", "note"]).rename(columns={
            "test": f"{name} test", "p_value": f"{name} p", "significant": f"{name} significant"})
        parts.append(part.set_index(["variable", "level"]))
    # Keep the variables in the spec's order (a join would sort them); levels seen in one
    # cohort only still get a row.
    order = list(dict.fromkeys([key for part in parts for key in part.index]))
    return pd.concat([part.reindex(order) for part in parts], axis=1).reset_index()


def outcome_summary(df: pd.DataFrame, spec: CohortSpec, split: CohortSplit) -> pd.DataFrame:
    """Table 1's outcome rows: what :meth:`~core.stats.outcomes.Outcome.summary` says of the outcome in the training
    and the test cohort (a binary outcome: patients, events; a time-to-event one adds censoring, the median
    follow-up by reverse Kaplan-Meier, the median time to event and the event-free proportions at its horizons).

    Returns
    -------
    pandas.DataFrame
        Columns ``statistic``, ``label``, then one display column per cohort (``Train``, ``Test``; the training
        one only for a split without a test cohort). The numbers behind each cell: ``spec.outcome.summary(rows)``.
    """
    cohorts = (("Train", split.train_ids), ("Test", split.test_ids)) if split.test_ids else \
        (("Train", split.train_ids),)
    parts = [spec.outcome.summary(df[df[spec.id_column].isin(set(ids))]) for _, ids in cohorts]
    out = parts[0][["statistic", "label"]].copy()
    for (name, _), part in zip(cohorts, parts, strict=True):
        out[name] = part["value"].to_numpy()  # same rows in the same order: one outcome, its own row list
    return out


def train_test_comparison(df: pd.DataFrame, spec: CohortSpec, split: CohortSplit) -> pd.DataFrame:
    """Characteristics of the training vs the test cohort (all patients, outcome included as a variable).

    A split that is balanced shows no significant differences beyond the expected 1 in 20.
    Columns as :func:`baseline_table` with groups "Train (n=..)" and "Test (n=..)".
    """
    in_test = df[spec.id_column].isin(set(split.test_ids))
    labels = (f"Train (n={int((~in_test).sum())})", f"Test (n={int(in_test.sum())})")
    event_column = spec.outcome.event_column
    with_outcome = df.assign(**{event_column: spec.outcome.event_labels(df)})
    return baseline_table(with_outcome, in_test, continuous=spec.continuous,
                          categorical=(event_column, *spec.categorical), group_labels=labels)


def indexed_by_id(table: pd.DataFrame, *, id_column: str = "ID", name: str = "feature table") -> pd.DataFrame:
    """A copy of a feature table indexed by normalised patient ID (:func:`normalise_id`), named "ID".

    The IDs come from ``id_column``, a column named "ID", "id" or "patient_id", or else the index. When
    ``id_column`` is the row-ID column (:data:`~core.vocabulary.ROW_ID_COLUMN`: a study whose IDs are row
    numbers) and the table lacks it, its rows are numbered the same way (:func:`with_row_ids`), so it is
    matched with the cohort row by row.

    Raises
    ------
    RadNomoError
        For rows without an ID (callers leave them out first with :func:`without_blank_ids`), or IDs
        that repeat (named, look-alikes included).
    """
    frame = table
    if id_column == ROW_ID_COLUMN and ROW_ID_COLUMN not in frame.columns:
        frame = with_row_ids(frame, what=name)
    source = _id_source(frame, id_column)
    if source is not None:
        frame = frame.set_index(source)
    frame = frame.copy()
    # IDs as their text, normalised as the cohort's (validate_cohort), so the two match.
    _, normalised, examples = _normalised_ids(pd.Series(frame.index, dtype=object))
    if (normalised.isna() | (normalised == "")).any():
        raise RadNomoError(f"the {name} has rows without a patient ID.")
    frame.index = pd.Index(normalised.tolist(), dtype=object, name="ID")
    if examples:
        count = frame.index[frame.index.duplicated()].nunique()
        raise RadNomoError(f"the {name} has {count} duplicated ID(s), e.g. {'; '.join(examples[:3])}; one row per "
                           "patient.")
    return frame


def validate_feature_table(table: pd.DataFrame, cohort_ids: Sequence[str], *, name: str = "feature table",
                           id_column: str = "ID", refuse_constant: bool = True) -> pd.DataFrame:
    """Check a feature table (one row per patient, one numeric column per feature) against a cohort.

    Parameters
    ----------
    table : pandas.DataFrame
        As read: the IDs in ``id_column``, in a column named "ID", or in the index.
    cohort_ids : sequence of str
        The open cohort's patient IDs.
    name : str
        How messages call the table.
    refuse_constant : bool
        Refuse columns with a single value (they carry no information; a new study's table should
        not have them). External cohorts may legitimately have some, so they pass False.

    Returns
    -------
    pandas.DataFrame
        Float features indexed by ID (str), pyradiomics' ``diagnostics_*`` columns left out.

    Raises
    ------
    RadNomoError
        For missing or duplicated IDs, IDs not in the cohort, text, infinite, all-missing or
        constant columns, or no feature column at all.
    """
    frame = indexed_by_id(table, id_column=id_column, name=name)
    frame = frame[[c for c in frame.columns if not str(c).startswith("diagnostics_")]]
    if frame.shape[1] == 0:
        raise RadNomoError(f"the {name} has no feature columns.")
    dates = [i for i in range(frame.shape[1]) if holds_dates(frame.iloc[:, i])]
    if dates:  # before the numbers: pandas would turn them into nanoseconds since 1970
        refuse_dates(frame.iloc[:, dates[0]], f"the {name}'s column '{frame.columns[dates[0]]}'"
                     + (f" (and {len(dates) - 1:,} more column(s))" if len(dates) > 1 else ""))
    text = [c for c in frame.columns if pd.to_numeric(frame[c], errors="coerce").notna().sum()
            < frame[c].notna().sum()]
    if text:
        raise RadNomoError(f"the {name} has {len(text)} column(s) with text, e.g. {text[:3]}; features must be "
                           "numbers (is the ID column named 'ID'?).")
    frame = frame.apply(pd.to_numeric).astype(float)
    shared = frame.index.intersection(pd.Index([normalise_id(i) for i in cohort_ids], dtype=object))
    if len(shared) == 0:
        raise RadNomoError(f"none of the {name}'s {len(frame)} IDs (e.g. {frame.index[:3].tolist()}) are patients "
                           f"of the cohort (e.g. {list(cohort_ids)[:3]}).")
    values = frame.to_numpy()
    infinite = frame.columns[np.isinf(values).any(axis=0)].tolist()
    if infinite:
        raise RadNomoError(f"the {name} has infinite values in {len(infinite)} column(s), e.g. {infinite[:3]}.")
    empty = frame.columns[frame.isna().all()].tolist()
    if empty:
        raise RadNomoError(f"the {name} has {len(empty)} column(s) without any value, e.g. {empty[:3]}; remove them.")
    if refuse_constant:
        constant = frame.columns[frame.nunique(dropna=True) <= 1].tolist()
        if constant:
            raise RadNomoError(f"the {name} has {len(constant)} constant column(s), e.g. {constant[:3]}; they carry "
                               "no information: remove them.")
    return frame
