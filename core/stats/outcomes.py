"""The study's outcome as a type: the columns it reads, how they are validated, its events, the strata of
stratified splits, resamples and folds, its words, and its saved form.

A study's :class:`core.stats.cohort.CohortSpec` carries one :class:`Outcome` (``spec.outcome``); code asks it,
not a column name, for the events (:meth:`Outcome.events`, :meth:`Outcome.n_events`), the strata
(:meth:`Outcome.strata`), whether some patients can be fitted on (:meth:`Outcome.has_contrast`) and its words
(:attr:`Outcome.labels`, :meth:`Outcome.describe`).

:class:`BinaryOutcome` (one 0/1 column, 1 = event) is the first type, :class:`SurvivalOutcome` (a follow-up time
column and an event column, with the horizons to predict at) the second. Each is a subclass of :class:`Outcome`
with its own :attr:`Outcome.kind`, declared in :data:`core.vocabulary.OUTCOME_KINDS` and added to
:data:`OUTCOME_TYPES` with :func:`register_outcome`; its :meth:`Outcome.events` is its event indicator and its
:meth:`Outcome.strata` what splits keep balanced, so the cohort table, the split, Table 1 and the resampling code
need no change. Table 1's outcome rows come from :meth:`Outcome.summary` (a time-to-event outcome adds the
follow-up, the median time to event and the event-free proportions at its horizons) and its curve from
:meth:`Outcome.curve` (Kaplan-Meier; none for a binary outcome).
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from core.errors import RadNomoError, listed
from core.stats.survival.kaplan_meier import kaplan_meier, median_follow_up
from core.vocabulary import DEFAULT_OUTCOME_LABELS, OUTCOME_KINDS, OUTCOME_SUMMARY_ROWS, check_option

__all__ = ["Outcome", "BinaryOutcome", "SurvivalOutcome", "horizons_from_text", "MAX_HORIZONS",
           "OUTCOME_TYPES", "register_outcome", "outcome_from_dict",
           "as_outcome", "TRUE_WORDS", "FALSE_WORDS", "level_text", "SUMMARY_COLUMNS"]

#: Columns of :meth:`Outcome.summary`: the row's key (of :data:`core.vocabulary.OUTCOME_SUMMARY_ROWS`), its label,
#: its display text, and the numbers behind it (NaN where a row has none).
SUMMARY_COLUMNS = ("statistic", "label", "value", "estimate", "lower", "upper")

#: The most horizons a time-to-event study evaluates at (each adds a column to every table and axis to the nomogram).
MAX_HORIZONS = 20


def horizons_from_text(text: str, *, unit: str = "months", what: str = "horizons") -> tuple[float, ...]:
    """Horizons typed as text (``"12, 36, 60"``: commas, semicolons or spaces between them) as sorted distinct
    floats, each finite and > 0, in the follow-up's ``unit``: the one reading of horizons for the Cohort page's
    field and the command line's ``--horizons`` (``what`` names the field in messages).

    Raises
    ------
    RadNomoError
        For no horizon, a part that is not a time > 0 (each named), a repeated horizon, or more than
        :data:`MAX_HORIZONS`; saying what to type.
    """
    parts = [part for part in re.split(r"[,;\s]+", str(text).strip()) if part]
    example = "e.g. 12, 36, 60"
    if not parts:
        raise RadNomoError(f"{what}: give at least one horizon, a time in {unit} at which to predict the risk, "
                           f"{example}.")
    values, bad = [], []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            bad.append(part[:40])
        values.append(value)
    if bad:
        raise RadNomoError(f"{what}: {listed(map(repr, bad))} {'is' if len(bad) == 1 else 'are'} not a time > 0; "
                           f"type the horizons as times in {unit} after the origin, separated by commas, {example} "
                           "(a decimal point, not a comma, in 1.5).")
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise RadNomoError(f"{what} repeats {', '.join(f'{v:g}' for v in repeated)}; give each horizon once.")
    if len(values) > MAX_HORIZONS:
        raise RadNomoError(f"{what} gives {len(values)} horizons; give at most {MAX_HORIZONS}.")
    return tuple(sorted(values))


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

    def summary(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The outcome in one cohort (the rows of ``frame``) for Table 1: patients and events, n (%).

        Returns
        -------
        pandas.DataFrame
            Columns :data:`SUMMARY_COLUMNS`: ``statistic`` (a key of :data:`core.vocabulary.OUTCOME_SUMMARY_ROWS`),
            ``label``, ``value`` (display text), ``estimate``, ``lower``, ``upper`` (numbers; for counts
            ``estimate`` is the count, ``lower``/``upper`` NaN). A type adds its own rows (time to event: follow-up,
            median time, event-free proportions at its horizons).
        """
        events = self.events(frame)
        n, k = len(events), int(events.sum())
        return pd.DataFrame([_summary_row("patients", OUTCOME_SUMMARY_ROWS["patients"], f"{n}", n),
                             _summary_row("events", OUTCOME_SUMMARY_ROWS["events"], _count_percent(k, n), k)],
                            columns=list(SUMMARY_COLUMNS))

    def curve(self, frame: pd.DataFrame) -> pd.DataFrame | None:
        """The outcome's curve over time in the rows of ``frame`` (a time-to-event outcome: its Kaplan-Meier
        table), or None for an outcome without time (the binary one)."""
        return None

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


def _summary_row(statistic: str, label: str, value: str, estimate: float, lower: float = math.nan,
                 upper: float = math.nan) -> dict[str, object]:
    """One row of :meth:`Outcome.summary` (columns :data:`SUMMARY_COLUMNS`)."""
    return {"statistic": statistic, "label": label, "value": value, "estimate": float(estimate),
            "lower": float(lower), "upper": float(upper)}


def _count_percent(count: int, total: int) -> str:
    """``'12 (30.0)'``: a count and its percentage of ``total`` (as Table 1 prints counts)."""
    return f"{count} ({100 * count / total:.1f})" if total else "0 (-)"


def _shown(value: float) -> str:
    """A time or a percentage for display: up to 4 significant digits, no trailing zeros (``12``, ``36.5``)."""
    return f"{value:.4g}"


def _is_number(value: object) -> bool:
    """A real number that is not a bool (``True`` is an int to Python, never a horizon to a user)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


@register_outcome
@dataclass(frozen=True, slots=True)
class SurvivalOutcome(Outcome):
    """A time-to-event outcome: a follow-up time column and an event column (1 = event, 0 = censored).

    The time is the time from the study's origin (e.g. diagnosis) to the event or to the last follow-up, in any
    unit (:attr:`time_unit`, free text shown in every label); it must be > 0 for every patient. The event column
    reads 0/1 or the words of :data:`TRUE_WORDS` / :data:`FALSE_WORDS` (yes/no, true/false...).

    Attributes
    ----------
    time_column : str
        The cohort column of follow-up times (number > 0, in :attr:`time_unit`).
    event_column : str
        The cohort column of the event indicator (1 = the event was observed at that time, 0 = censored then).
    time_unit : str
        The unit of the times, e.g. "months" or "days" (free text, used in labels and :meth:`describe`).
    horizons : tuple of float
        The times (in :attr:`time_unit`) at which risks are predicted and evaluated, e.g. (12, 36, 60) months:
        at least one, each finite and > 0, distinct; kept sorted.
    labels : (str, str)
        Display names of "censored" and "event", e.g. ("no metastasis", "liver metastasis").
    """

    kind: ClassVar[str] = "survival"
    #: Column names of :meth:`values` (the same for every cohort, so learners read them without asking).
    TIME: ClassVar[str] = "time"
    EVENT: ClassVar[str] = "event"
    time_column: str
    # A field where Outcome declares a property: field() says it has no default (dataclass would take the property).
    event_column: str = field()
    time_unit: str
    horizons: tuple[float, ...]
    labels: tuple[str, str] = DEFAULT_OUTCOME_LABELS

    def __post_init__(self) -> None:
        for what, name in (("time", self.time_column), ("event", self.event_column)):
            if not isinstance(name, str) or not name.strip():
                raise RadNomoError(f"the time-to-event outcome's {what} column must be named by a column name; "
                                   f"got {name!r}.")
        if self.time_column == self.event_column:
            raise RadNomoError(f"the time and the event of a time-to-event outcome must be two columns; both are "
                               f"'{self.time_column}'.")
        if not isinstance(self.time_unit, str) or not self.time_unit.strip():
            raise RadNomoError(f"name the unit of the follow-up times (e.g. 'months', 'days'); got {self.time_unit!r}.")
        object.__setattr__(self, "horizons", _horizons(self.horizons, self.time_unit))
        object.__setattr__(self, "labels", _labels(self.labels))

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.time_column, self.event_column)

    def horizon_label(self, horizon: float) -> str:
        """A horizon in words with its unit, e.g. ``'36 months'``."""
        return f"{_shown(horizon)} {self.time_unit}"

    def describe(self) -> str:
        """E.g. ``time to liver metastasis (months, column 'ttm'); 'lm' = 1 (liver metastasis), 0 censored``."""
        return (f"time to {self.event_label} ({self.time_unit}, column '{self.time_column}'); "
                f"'{self.event_column}' = 1 ({self.event_label}), 0 censored ({self.labels[0]}); horizons "
                f"{', '.join(self.horizon_label(h) for h in self.horizons)}")

    # -- validation ----------------------------------------------------------------------------------

    def validated(self, frame: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
        """The time as float (> 0, :attr:`time_unit`) and the event as int 0/1, same index as ``frame``.

        Raises
        ------
        RadNomoError
            Naming the patients (by ``ids``): a time missing, not a number, infinite, negative or 0; an event
            missing or not 0/1 (yes/no, true/false); no event at all; a horizon beyond the last follow-up.
        """
        ids = pd.Series(np.asarray(ids, dtype=object), index=frame.index)
        time = self._validated_time(self._present(frame, self.time_column), ids)
        event = self._validated_event(self._present(frame, self.event_column), ids)
        if event.sum() == 0:
            raise RadNomoError(f"every patient is censored ('{self.event_column}' is 0 for all {len(event)}); a "
                               f"time-to-event model needs events: check the event column (1 = {self.event_label}).")
        self.check_horizons(time.to_numpy(), what="the cohort")
        return pd.DataFrame({self.time_column: time, self.event_column: event}, index=frame.index)

    def _validated_time(self, raw: pd.Series, ids: pd.Series) -> pd.Series:
        """The follow-up times as float, each finite and > 0 (see :meth:`validated`)."""
        name, unit = self.time_column, self.time_unit
        missing = raw.map(lambda v: v is None or (isinstance(v, str) and not v.strip())) | raw.isna()
        if missing.any():
            raise RadNomoError(f"follow-up time '{name}' is missing for {int(missing.sum())} patient(s): "
                               f"{listed(ids[missing])}; fill in the time to the event or to the last follow-up, "
                               "or remove them.")
        is_bool = raw.map(lambda v: isinstance(v, (bool, np.bool_)))
        numbers = pd.to_numeric(raw.where(~is_bool), errors="coerce").astype(float)
        not_numbers = numbers.isna()
        if not_numbers.any():
            raise RadNomoError(f"follow-up time '{name}' is not a number for {int(not_numbers.sum())} patient(s): "
                               f"{listed(ids[not_numbers])} (e.g. {raw[not_numbers].iloc[0]!r}); give the time in "
                               f"{unit} as a number (a date must first be turned into the time since the study's "
                               "origin, e.g. diagnosis).")
        infinite = ~np.isfinite(numbers)
        if infinite.any():
            raise RadNomoError(f"follow-up time '{name}' is infinite for patient(s) {listed(ids[infinite])}; give "
                               f"the time in {unit} of the event or the last follow-up.")
        negative = numbers < 0
        if negative.any():
            raise RadNomoError(f"follow-up time '{name}' is negative for {int(negative.sum())} patient(s): "
                               f"{listed(ids[negative])}; a time runs from the study's origin (e.g. diagnosis) to "
                               "the event or the last follow-up and cannot be negative: check those dates.")
        zero = numbers == 0
        if zero.any():
            # Kaplan-Meier and Cox (as R's survival) count a patient at risk only while time > 0: an event at
            # time 0 happened before anyone was at risk and would be dropped or break the risk sets.
            raise RadNomoError(f"follow-up time '{name}' is 0 for {int(zero.sum())} patient(s): "
                               f"{listed(ids[zero])}; a Kaplan-Meier or Cox model cannot use an event or a "
                               "censoring at time 0 (no one is at risk yet). Add a small amount (e.g. half a day, "
                               f"in {unit}) if the event was seen at the origin, or remove those patients.")
        return numbers.rename(name)

    def _validated_event(self, raw: pd.Series, ids: pd.Series) -> pd.Series:
        """The event as int 0/1 (see :meth:`validated`)."""
        name = self.event_column
        missing = raw.isna() | raw.map(lambda v: isinstance(v, str) and not v.strip())
        if missing.any():
            raise RadNomoError(f"event column '{name}' is missing for {int(missing.sum())} patient(s): "
                               f"{listed(ids[missing])}; give 1 (event) or 0 (censored) for each, or remove them.")
        words = raw.map(level_text).str.lower()
        unknown = ~words.isin(TRUE_WORDS | FALSE_WORDS)
        if unknown.any():
            distinct = sorted(words[unknown].unique())
            hint = (" (R's survival also reads 1/2 as censored/event: recode 1 -> 0 and 2 -> 1)"
                    if set(words.unique()) <= {"1", "2"} else "")
            raise RadNomoError(f"event column '{name}' has value(s) {listed(map(repr, distinct))} for patient(s) "
                               f"{listed(ids[unknown])}; code the event as 1 (event) or 0 (censored), or yes/no"
                               f"{hint}.")
        return words.isin(TRUE_WORDS).astype(int).rename(name)

    def check_horizons(self, time: np.ndarray, *, what: str = "the cohort") -> None:
        """Refuse a horizon beyond the last follow-up of ``time`` (survival there cannot be estimated).

        Call it for each cohort a horizon is evaluated in (the training and the test cohort, an external one):
        ``what`` names that cohort in the message.

        Raises
        ------
        RadNomoError
            Naming the horizon, the last follow-up and what to do.
        """
        last = float(np.max(time)) if len(time) else 0.0
        beyond = [h for h in self.horizons if h > last]
        if beyond:
            within = [h for h in self.horizons if h <= last]
            keep = (f"keep {', '.join(self.horizon_label(h) for h in within)}" if within
                    else f"choose horizons up to {_shown(last)} {self.time_unit}")
            raise RadNomoError(f"horizon(s) {', '.join(self.horizon_label(h) for h in beyond)} lie beyond the last "
                               f"follow-up of {what} ({_shown(last)} {self.time_unit}): survival there cannot be "
                               f"estimated; {keep}, or check the time unit.")

    # -- values ---------------------------------------------------------------------------------------

    def times(self, frame: pd.DataFrame) -> pd.Series:
        """The follow-up time per row as float (> 0, :attr:`time_unit`), named :attr:`time_column`.

        Raises
        ------
        RadNomoError
            If the column is absent or holds anything but numbers > 0 (the frame was not validated).
        """
        values = pd.to_numeric(self._present(frame, self.time_column), errors="coerce").astype(float)
        unusable = values[~(np.isfinite(values) & (values > 0))]
        if len(unusable):
            raise RadNomoError(f"follow-up time '{self.time_column}' holds {len(unusable)} value(s) that are not "
                               f"numbers > 0; validate the cohort first.")
        return values

    def events(self, frame: pd.DataFrame) -> pd.Series:
        """The event indicator per row as int 0/1 (1 = event, 0 = censored), named :attr:`event_column`.

        Raises
        ------
        RadNomoError
            If the column is absent or holds anything but 0/1 (the frame was not validated).
        """
        values = self._present(frame, self.event_column)
        unusable = values[~values.isin((0, 1))]
        if len(unusable):
            raise RadNomoError(f"event column '{self.event_column}' holds {len(unusable)} value(s) other than 0/1, "
                               f"e.g. {unusable.head(3).tolist()}; validate the cohort first.")
        return values.astype(int)

    def values(self, frame: pd.DataFrame) -> pd.DataFrame:
        """What a survival learner fits: columns :attr:`TIME` (float, :attr:`time_unit`) and :attr:`EVENT` (int 0/1),
        same index as ``frame``."""
        return pd.DataFrame({self.TIME: self.times(frame).to_numpy(), self.EVENT: self.events(frame).to_numpy()},
                            index=frame.index)

    def arrays(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(time, event)`` as numpy arrays (float, int), the inputs of :mod:`core.stats.survival`."""
        return self.times(frame).to_numpy(dtype=float), self.events(frame).to_numpy(dtype=int)

    def has_contrast(self, frame: pd.DataFrame) -> bool:
        """Whether a model can learn from ``frame``'s rows: at least one event, and follow-up times that differ
        (patients all censored, or all at one time, give a Cox model no risk set to compare)."""
        return bool(self.events(frame).sum() >= 1 and self.times(frame).nunique() >= 2)

    # -- Table 1 --------------------------------------------------------------------------------------

    def summary(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Patients, events, censored; median follow-up by reverse Kaplan-Meier [95 % CI] and its range; median
        time to event by Kaplan-Meier [95 % CI]; the event-free proportion (%) at each horizon [95 % CI].

        Kaplan-Meier as R's ``survfit`` (log confidence intervals), through
        :mod:`core.stats.survival.kaplan_meier`. A median not reached shows "not reached" (NaN numbers); a
        horizon beyond this cohort's last follow-up shows "beyond follow-up" (NaN), never a carried-forward value.

        Returns
        -------
        pandas.DataFrame
            Columns :data:`SUMMARY_COLUMNS`; times in :attr:`time_unit`, proportions in %.
        """
        rows = Outcome.summary(self, frame)  # not super(): a slots dataclass is a new class, which breaks it
        time, event = self.arrays(frame)
        n, censored = len(event), int((event == 0).sum())
        unit = self.time_unit
        labels = {key: text.replace("{unit}", unit) for key, text in OUTCOME_SUMMARY_ROWS.items()}
        added = [_summary_row("censored", labels["censored"], _count_percent(censored, n), censored)]
        median, low, high = (float(v) for v in median_follow_up(time, event))
        added.append(_summary_row("follow_up_median", labels["follow_up_median"], _estimate_text(median, low, high),
                                  median, low, high))
        added.append(_summary_row("follow_up_range", labels["follow_up_range"],
                                  f"{_shown(time.min())} - {_shown(time.max())}", math.nan, time.min(), time.max()))
        km = kaplan_meier(time, event)
        median, low, high = (float(v) for v in km.median())
        added.append(_summary_row("median_time", labels["median_time"], _estimate_text(median, low, high),
                                  median, low, high))
        at_horizons = km.summary(list(self.horizons))
        for horizon, (_, row) in zip(self.horizons, at_horizons.iterrows(), strict=True):
            label = labels["event_free"].replace("{horizon}", self.horizon_label(horizon))
            if horizon > time.max():  # survfit's extend = TRUE would carry the last value forward: not shown
                added.append(_summary_row("event_free", label, "beyond follow-up", math.nan))
                continue
            estimate, low, high = (100 * float(row[key]) for key in ("survival", "lower", "upper"))
            added.append(_summary_row("event_free", label, _estimate_text(estimate, low, high, "{:.1f}"),
                                      estimate, low, high))
        return pd.concat([rows, pd.DataFrame(added, columns=list(SUMMARY_COLUMNS))], ignore_index=True)

    def curve(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The cohort's Kaplan-Meier table (:meth:`core.stats.survival.kaplan_meier.KaplanMeier.to_frame`: time,
        at risk, events, censored, survival with its 95 % CI), times in :attr:`time_unit`."""
        return kaplan_meier(*self.arrays(frame)).to_frame()

    # -- saved form -----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "time_column": self.time_column, "event_column": self.event_column,
                "time_unit": self.time_unit, "horizons": list(self.horizons), "labels": list(self.labels)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SurvivalOutcome:
        fields = {key: values.get(key) for key in ("time_column", "event_column", "time_unit")}
        wrong = [key for key, value in fields.items() if not isinstance(value, str)]
        horizons = values.get("horizons")
        if not isinstance(horizons, (list, tuple)) or not all(_is_number(h) for h in horizons):
            wrong.append("horizons")
        labels = values.get("labels", DEFAULT_OUTCOME_LABELS)
        if not isinstance(labels, (list, tuple)):
            wrong.append("labels")
        if wrong:
            raise RadNomoError(f"the saved time-to-event outcome has no valid {', '.join(wrong)} (got "
                               f"{ {key: values.get(key) for key in wrong} }); save the study again.")
        return cls(time_column=fields["time_column"], event_column=fields["event_column"],  # type: ignore[arg-type]
                   time_unit=fields["time_unit"], horizons=tuple(horizons),  # type: ignore[arg-type]
                   labels=tuple(labels))


def _horizons(horizons: object, unit: object) -> tuple[float, ...]:
    """At least one finite horizon > 0, distinct, as a sorted tuple of float."""
    if isinstance(horizons, (str, bytes)) or not hasattr(horizons, "__iter__"):
        raise RadNomoError(f"the horizons must be a list of times in {unit} (e.g. 12, 36, 60); got {horizons!r}.")
    values = list(horizons)
    if not values:
        raise RadNomoError(f"give at least one horizon: a time in {unit} at which to predict the risk "
                           "(e.g. 12, 36, 60 months).")
    bad = [h for h in values if not _is_number(h) or not math.isfinite(h) or h <= 0]
    if bad:
        raise RadNomoError(f"horizon(s) {listed(map(repr, bad))} are not times > 0 in {unit}; a horizon is when the "
                           "risk is predicted, after the origin (e.g. 12, 36, 60 months).")
    floats = sorted(float(h) for h in values)
    if len(set(floats)) != len(floats):
        raise RadNomoError(f"the horizons {floats} repeat a time; give each once.")
    return tuple(floats)


def _estimate_text(estimate: float, low: float, high: float, style: str = "") -> str:
    """``'24.5 [18.2, 30.1]'`` (``style`` a format such as ``"{:.1f}"``, else :func:`_shown`); a missing estimate
    (a median not reached) is "not reached", a missing limit "NA" (as R prints them)."""
    def shown(value: float) -> str:
        return "NA" if math.isnan(value) else style.format(value) if style else _shown(value)

    if math.isnan(estimate):
        return "not reached" + (f" [{shown(low)}, NA]" if not math.isnan(low) else "")
    return f"{shown(estimate)} [{shown(low)}, {shown(high)}]"


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
