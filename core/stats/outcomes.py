"""The study's outcome as a type: the columns it reads, how they are validated, its events, the strata of
stratified splits, resamples and folds, its words, and its saved form.

A study's :class:`core.stats.cohort.CohortSpec` carries one :class:`Outcome` (``spec.outcome``); code asks it,
not a column name, for the events (:meth:`Outcome.events`, :meth:`Outcome.n_events`), the strata
(:meth:`Outcome.strata`), whether some patients can be fitted on (:meth:`Outcome.has_contrast`) and its words
(:attr:`Outcome.labels`, :meth:`Outcome.describe`).

:class:`BinaryOutcome` (one 0/1 column, 1 = event) is the first type. Another, such as time to event (a time
column and an event column), is a subclass of :class:`Outcome` with its own :attr:`Outcome.kind`, declared in
:data:`core.vocabulary.OUTCOME_KINDS` and added to :data:`OUTCOME_TYPES` with :func:`register_outcome`; its
:meth:`Outcome.events` is its event indicator and its :meth:`Outcome.strata` what splits keep balanced, so the
cohort table, the split, Table 1 and the resampling code need no change.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from core.errors import RadNomoError
from core.vocabulary import DEFAULT_OUTCOME_LABELS, OUTCOME_KINDS, check_option

__all__ = ["Outcome", "BinaryOutcome", "OUTCOME_TYPES", "register_outcome", "outcome_from_dict", "as_outcome",
           "TRUE_WORDS", "FALSE_WORDS", "level_text"]

# How a binary outcome may be written in a table (compared in lower case): these and only these are read.
TRUE_WORDS = frozenset({"1", "yes", "y", "true", "t", "positive", "pos"})
FALSE_WORDS = frozenset({"0", "no", "n", "false", "f", "negative", "neg"})


class Outcome(ABC):
    """What a study predicts: the cohort columns that hold it and what they mean.

    Subclasses are frozen dataclasses (compared and hashed by value: a study's fingerprint includes its
    outcome) with a :attr:`kind` registered in :data:`OUTCOME_TYPES`. Every method that takes a ``frame``
    expects a validated cohort (:meth:`validated`, through :func:`core.stats.cohort.validate_cohort`)
    holding :attr:`columns`.
    """

    #: The registry name (a key of :data:`core.vocabulary.OUTCOME_KINDS`).
    kind: ClassVar[str]
    #: Display names of "no event" and "event" (e.g. ("non-LM", "LM")).
    labels: tuple[str, str]

    @property
    @abstractmethod
    def columns(self) -> tuple[str, ...]:
        """Every cohort column the outcome reads (never a variable or a feature)."""

    @property
    @abstractmethod
    def event_column(self) -> str:
        """The column that holds the event indicator (the binary outcome's only column)."""

    @abstractmethod
    def validated(self, frame: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
        """The outcome's columns of a cohort as read, checked and coded (same index as ``frame``).

        ``ids`` (the patients' IDs, aligned with ``frame``) name the patients in messages.

        Raises
        ------
        RadNomoError
            With what is wrong with the values and what to do.
        """

    @abstractmethod
    def values(self, frame: pd.DataFrame) -> pd.Series | pd.DataFrame:
        """What a learner fits, per row of ``frame`` (the binary outcome: its 0/1 Series)."""

    @abstractmethod
    def events(self, frame: pd.DataFrame) -> pd.Series:
        """Event indicator per row of ``frame``: int 0/1 (1 = the event), named :attr:`event_column`."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The outcome as JSON-ready values, with ``"kind"`` (read back by :func:`outcome_from_dict`)."""

    @classmethod
    @abstractmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Outcome:
        """The outcome :meth:`to_dict` wrote.

        Raises
        ------
        RadNomoError
            If a value is missing or of the wrong type.
        """

    # -- derived from the above: a new type overrides them only where it means something else ----------

    @property
    def event_label(self) -> str:
        """The event in words (``labels[1]``)."""
        return self.labels[1]

    def n_events(self, frame: pd.DataFrame) -> int:
        """How many rows of ``frame`` have the event."""
        return int(self.events(frame).sum())

    def strata(self, frame: pd.DataFrame) -> pd.Series:
        """Per row, the stratum a stratified split, resample or cross-validation fold keeps in proportion
        (int codes; by default the event indicator)."""
        return self.events(frame)

    def limiting_count(self, frame: pd.DataFrame) -> int:
        """The count that limits how many predictors a model fitted on ``frame`` can carry (events per
        variable; Peduzzi 1996, Riley et al. 2019): by default the events."""
        return self.n_events(frame)

    def has_contrast(self, frame: pd.DataFrame) -> bool:
        """Whether ``frame``'s rows hold both patients with and without the event (a model can learn from them)."""
        return self.events(frame).nunique() == 2

    def event_labels(self, frame: pd.DataFrame) -> pd.Series:
        """Per row, the event status in words (:attr:`labels`), named :attr:`event_column`."""
        return self.events(frame).map(dict(enumerate(self.labels)))

    def describe(self) -> str:
        """The outcome in words for pages and the report, e.g. ``'lm' = 1 (LM)``."""
        return f"'{self.event_column}' = 1 ({self.event_label})"

    def identity(self) -> dict[str, Any]:
        """What the study's fingerprint records of the outcome (a change of outcome refits everything)."""
        return {"outcome": self.to_dict()}

    def _present(self, frame: pd.DataFrame, column: str) -> pd.Series:
        """``frame[column]``, refused with the table's columns when it is absent."""
        if column not in frame.columns:
            raise RadNomoError(f"the outcome column '{column}' is not in the table; its columns are "
                               f"{list(map(str, frame.columns))[:10]}.")
        return frame[column]


_OUTCOME_TYPES: dict[str, type[Outcome]] = {}
#: Registry: outcome kind (:data:`core.vocabulary.OUTCOME_KINDS`) -> its :class:`Outcome` type.
OUTCOME_TYPES: Mapping[str, type[Outcome]] = _OUTCOME_TYPES


def register_outcome(cls: type[Outcome]) -> type[Outcome]:
    """Add an :class:`Outcome` type to :data:`OUTCOME_TYPES` under its :attr:`~Outcome.kind` (a class decorator).

    Raises
    ------
    RadNomoError
        If the kind is not declared in :data:`core.vocabulary.OUTCOME_KINDS` or is taken by another type.
    """
    check_option("outcome kind", getattr(cls, "kind", None), OUTCOME_KINDS)
    kind = cls.kind
    if _OUTCOME_TYPES.get(kind, cls) is not cls:
        raise RadNomoError(f"outcome kind '{kind}' is already registered ({_OUTCOME_TYPES[kind].__name__}).")
    _OUTCOME_TYPES[kind] = cls
    return cls


def _labels(labels: object) -> tuple[str, str]:
    """Two distinct, non-blank display names, as a tuple of str (their text kept as given: it is part of the
    study's fingerprint, which saved fits are matched by)."""
    if isinstance(labels, str) or not isinstance(labels, (tuple, list)) or len(labels) != 2 \
            or not all(isinstance(label, str) for label in labels):
        raise RadNomoError(f"the outcome's labels {labels!r} must be two names: 'no event' and 'event' "
                           "(e.g. 'non-LM', 'LM').")
    no, yes = labels
    if not no.strip() or not yes.strip():
        raise RadNomoError("the outcome's labels must not be blank: name both outcomes (e.g. 'non-LM', 'LM').")
    # Tables head their columns by label (Table 1: "Train: <label> (n=..)"): two alike would be one column.
    if no.strip().casefold() == yes.strip().casefold():
        raise RadNomoError(f"the outcome's two labels are both '{yes.strip()}'; give the event and the non-event "
                           "different names.")
    return no, yes


@register_outcome
@dataclass(frozen=True, slots=True)
class BinaryOutcome(Outcome):
    """A binary outcome: one column coded 0/1 (1 = event, e.g. liver metastasis), or yes/no, true/false.

    Attributes
    ----------
    column : str
        The cohort column that holds it.
    labels : (str, str)
        Display names of outcome 0 and 1, e.g. ("non-LM", "LM"); two distinct, non-blank names.
    """

    kind: ClassVar[str] = "binary"
    column: str
    labels: tuple[str, str] = DEFAULT_OUTCOME_LABELS

    def __post_init__(self) -> None:
        if not isinstance(self.column, str) or not self.column.strip():
            raise RadNomoError(f"the outcome column must be named by a column name; got {self.column!r}.")
        object.__setattr__(self, "labels", _labels(self.labels))

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    @property
    def event_column(self) -> str:
        return self.column

    @staticmethod
    def accepts(values: pd.Series) -> bool:
        """Whether a column as read is coded as a binary outcome: two values, one of :data:`TRUE_WORDS` and one of
        :data:`FALSE_WORDS` (missing values aside)."""
        levels = set(values.dropna().map(level_text).str.lower())
        return len(levels) == 2 and levels <= TRUE_WORDS | FALSE_WORDS and len({v in TRUE_WORDS for v in levels}) == 2

    def validated(self, frame: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
        """The column as int 0/1 (1 = event).

        Raises
        ------
        RadNomoError
            If the outcome is missing for a patient (named), has one class only, more than two values, or two
            values that are not 0/1, yes/no, true/false (the event class would be ambiguous).
        """
        outcome = self._present(frame, self.column)
        name = self.column
        missing = outcome.isna()
        if missing.any():
            raise RadNomoError(f"outcome column '{name}' is missing for {int(missing.sum())} patient(s), e.g. "
                               f"{ids[missing].head(5).tolist()}; remove them or fill in the outcome.")
        values = outcome.map(level_text).str.lower()
        distinct = sorted(values.unique())
        if len(distinct) == 1:
            raise RadNomoError(f"outcome column '{name}' has one class only ({distinct[0]!r}); both events and "
                               "non-events are needed.")
        if len(distinct) > 2:
            shown = ", ".join(distinct[:6]) + (", ..." if len(distinct) > 6 else "")
            raise RadNomoError(f"outcome column '{name}' has {len(distinct)} distinct values ({shown}); a binary "
                               "0/1 outcome is required (1 = event).")
        if not (set(distinct) <= TRUE_WORDS | FALSE_WORDS) or len({v in TRUE_WORDS for v in distinct}) != 2:
            raise RadNomoError(f"outcome column '{name}' has values {distinct}; code it as 0/1 (1 = event) so the "
                               "event class is unambiguous.")
        return pd.DataFrame({name: values.isin(TRUE_WORDS).astype(int)}, index=frame.index)

    def values(self, frame: pd.DataFrame) -> pd.Series:
        """The 0/1 outcome per row (what a logistic model fits)."""
        return self.events(frame)

    def events(self, frame: pd.DataFrame) -> pd.Series:
        """The 0/1 outcome per row as int.

        Raises
        ------
        RadNomoError
            If the column is absent or holds anything but 0/1 (the frame was not validated).
        """
        values = self._present(frame, self.column)
        unusable = values[~values.isin((0, 1))]  # 0.0/1.0 and booleans pass: astype(int) reads them alike
        if len(unusable):
            raise RadNomoError(f"outcome column '{self.column}' holds {len(unusable)} value(s) other than 0/1, "
                               f"e.g. {unusable.head(3).tolist()}; validate the cohort first.")
        return values.astype(int)

    def limiting_count(self, frame: pd.DataFrame) -> int:
        """The smaller outcome class: events or non-events, whichever are fewer."""
        events = self.events(frame)
        return int(min(events.sum(), len(events) - events.sum()))

    def identity(self) -> dict[str, Any]:
        # The names the study's fingerprint recorded before outcomes were types, so fits stored under it (the
        # bundled sample's, saved studies') still belong to their study.
        return {"outcome_column": self.column, "outcome_labels": list(self.labels)}

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "column": self.column, "labels": list(self.labels)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> BinaryOutcome:
        column = values.get("column")
        if not isinstance(column, str):
            raise RadNomoError(f"the saved binary outcome names no column (got {column!r}).")
        return cls(column=column, labels=tuple(values.get("labels", DEFAULT_OUTCOME_LABELS)))


def outcome_from_dict(values: Mapping[str, Any]) -> Outcome:
    """The outcome :meth:`Outcome.to_dict` wrote, of the type its ``"kind"`` names.

    Raises
    ------
    RadNomoError
        If ``values`` is not a mapping, names no kind or one not in :data:`OUTCOME_TYPES`, or its values are wrong.
    """
    if not isinstance(values, Mapping):
        raise RadNomoError(f"a saved outcome must be a mapping with a 'kind'; got {type(values).__name__}.")
    check_option("outcome kind", values.get("kind"), list(OUTCOME_TYPES))
    return OUTCOME_TYPES[values["kind"]].from_dict(values)


def as_outcome(outcome: Outcome | str) -> Outcome:
    """``outcome`` itself, or the :class:`BinaryOutcome` of a column name (default labels).

    Raises
    ------
    RadNomoError
        For anything else.
    """
    if isinstance(outcome, Outcome):
        return outcome
    if isinstance(outcome, str):
        return BinaryOutcome(outcome)
    raise RadNomoError(f"an outcome is an Outcome or a column name; got {type(outcome).__name__}.")


def level_text(value: object) -> str:
    """Category level as text; 1.0 read from a spreadsheet shows as '1'.

    Outcomes and categories are read alike; :mod:`core.stats.cohort` (which builds on this module) re-exports it.
    """
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
