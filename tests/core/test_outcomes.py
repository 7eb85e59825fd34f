"""Outcome types (core.stats.outcomes) and the cohort specification that carries one: events, strata, labels,
the saved form (both layouts), the split's and the bootstrap's strata, and refusals with their messages."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.stats.cohort import CohortSpec, SplitConfig, split_cohort, table_one, validate_cohort
from core.stats.outcomes import (FALSE_WORDS, OUTCOME_TYPES, TRUE_WORDS, BinaryOutcome, Outcome, as_outcome,
                                 outcome_from_dict, register_outcome)
from core.vocabulary import DEFAULT_OUTCOME_LABELS, OUTCOME_KINDS

OUTCOME = BinaryOutcome("event", ("alive", "dead"))
zero_ones = st.lists(st.integers(0, 1), min_size=1, max_size=60)
# Display names: any text with something visible, distinct once case and surrounding spaces are ignored.
names = st.text(min_size=1, max_size=12).filter(lambda t: t.strip() != "")
label_pairs = st.tuples(names, names).filter(lambda p: p[0].strip().casefold() != p[1].strip().casefold())


def _frame(values) -> pd.DataFrame:
    return pd.DataFrame({"event": values}, index=[f"P{i:03d}" for i in range(len(values))])


# ---------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------


def test_every_declared_kind_has_one_registered_type_and_back():
    assert set(OUTCOME_TYPES) == set(OUTCOME_KINDS) == {"binary", "survival"}
    assert OUTCOME_TYPES["binary"] is BinaryOutcome and BinaryOutcome.kind == "binary"


def test_registering_an_undeclared_or_taken_kind_is_refused():
    class Undeclared(Outcome):  # a kind the vocabulary does not declare
        kind = "competing_risks"

    with pytest.raises(RadNomoError, match="outcome kind 'competing_risks' is not valid; possible values: binary"):
        register_outcome(Undeclared)

    class Impostor(BinaryOutcome):
        pass

    with pytest.raises(RadNomoError, match="already registered"):
        register_outcome(Impostor)
    assert OUTCOME_TYPES["binary"] is BinaryOutcome


# ---------------------------------------------------------------------------------------------
# Events, strata, contrast (properties)
# ---------------------------------------------------------------------------------------------


@given(zero_ones)
def test_events_strata_and_counts_follow_the_column(values):
    frame = _frame(values)
    events = OUTCOME.events(frame)
    assert events.dtype.kind == "i" and events.name == "event" and events.index.equals(frame.index)
    assert events.tolist() == values
    assert OUTCOME.n_events(frame) == sum(values)
    assert OUTCOME.strata(frame).tolist() == values
    assert OUTCOME.values(frame).equals(events)
    assert OUTCOME.limiting_count(frame) == min(sum(values), len(values) - sum(values))
    assert OUTCOME.has_contrast(frame) == (0 < sum(values) < len(values))
    assert OUTCOME.event_labels(frame).tolist() == [("alive", "dead")[v] for v in values]


@given(zero_ones, st.sampled_from([bool, float]))
def test_booleans_and_whole_floats_count_as_zero_one(values, kind):
    frame = _frame([kind(v) for v in values])
    assert OUTCOME.events(frame).tolist() == values and OUTCOME.n_events(frame) == sum(values)


@given(st.sampled_from(sorted(TRUE_WORDS)), st.sampled_from(sorted(FALSE_WORDS)), st.booleans(),
       st.lists(st.booleans(), min_size=2, max_size=40).filter(lambda f: len(set(f)) == 2))
def test_validation_reads_every_spelling_of_yes_and_no(yes, no, upper, flags):
    words = [(yes if flag else no) for flag in flags]
    frame = pd.DataFrame({"event": [w.upper() for w in words] if upper else words})
    coded = OUTCOME.validated(frame, pd.Series([f"P{i}" for i in range(len(words))]))
    assert coded["event"].tolist() == [int(flag) for flag in flags]
    assert BinaryOutcome.accepts(frame["event"])


@settings(max_examples=30, deadline=None)
@given(st.integers(30, 120), st.floats(0.15, 0.6), st.integers(0, 10_000))
def test_the_split_keeps_each_stratum_in_proportion(n, rate, seed):
    n_events = max(2, int(n * rate))
    cohort = pd.DataFrame({"pid": [f"P{i:03d}" for i in range(n)], "event": [1] * n_events + [0] * (n - n_events)})
    spec = CohortSpec(id_column="pid", outcome=OUTCOME)
    split = split_cohort(cohort, spec, SplitConfig(test_size=0.3, seed=seed))
    strata = spec.outcome.strata(cohort.set_index("pid"))
    test_events = int(strata.loc[list(split.test_ids)].sum())
    # sklearn's stratified split: each stratum's share of the test cohort within one patient of 30 %
    assert abs(test_events - 0.3 * n_events) <= 1
    assert len(split.test_ids) + len(split.train_ids) == n


# ---------------------------------------------------------------------------------------------
# Saved form
# ---------------------------------------------------------------------------------------------


@given(names, label_pairs)
def test_outcome_round_trips_through_json(column, labels):
    outcome = BinaryOutcome(column, labels)
    again = outcome_from_dict(json.loads(json.dumps(outcome.to_dict())))
    assert again == outcome and hash(again) == hash(outcome) and again.labels == labels


@given(names, label_pairs, st.lists(names, max_size=3, unique=True))
def test_cohort_spec_round_trips_in_both_layouts(column, labels, continuous):
    continuous = [c for c in continuous if c not in ("pid", column)]
    spec = CohortSpec(id_column="pid", outcome=BinaryOutcome(column, labels), continuous=continuous)
    assert CohortSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    legacy = {"id_column": "pid", "outcome_column": column, "continuous": continuous, "categorical": [],
              "outcome_labels": list(labels)}
    assert CohortSpec.from_dict(legacy) == spec


def test_the_fingerprint_fields_of_a_binary_outcome_are_those_before_outcomes_were_types():
    # Stored fits (the bundled sample's, saved studies') are matched by a hash of these fields.
    spec = CohortSpec(id_column="pid", outcome_column="event", continuous=("age",), outcome_labels=("a", "b"))
    before = {"id_column": "pid", "outcome_column": "event", "continuous": ("age",), "categorical": (),
              "outcome_labels": ("a", "b")}
    assert json.dumps(spec.identity(), sort_keys=True) == json.dumps(before, sort_keys=True)


def test_the_alias_keywords_and_the_outcome_build_the_same_spec():
    by_alias = CohortSpec(id_column="pid", outcome_column="event", outcome_labels=("alive", "dead"))
    assert by_alias == CohortSpec(id_column="pid", outcome=OUTCOME)
    assert by_alias.outcome_column == "event" and by_alias.outcome_labels == ("alive", "dead")
    assert CohortSpec(id_column="pid", outcome_column="event").outcome.labels == DEFAULT_OUTCOME_LABELS
    assert dataclasses.replace(by_alias, continuous=("age",)).outcome == OUTCOME
    assert by_alias.with_variables(["age"], ["sex"]).variables == ("age", "sex")
    assert by_alias.reserved_columns == ("pid", "event")
    assert as_outcome("event") == BinaryOutcome("event") and as_outcome(OUTCOME) is OUTCOME
    assert isinstance(OUTCOME, Outcome) and OUTCOME.describe() == "'event' = 1 (dead)"


# ---------------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("build", "message"), [
    (lambda: BinaryOutcome("event", ("dead", " Dead ")), "both 'Dead'"),
    (lambda: BinaryOutcome("event", ("", "dead")), "must not be blank"),
    (lambda: BinaryOutcome("event", ("only one",)), "must be two names"),
    (lambda: BinaryOutcome("event", "ab"), "must be two names"),
    (lambda: BinaryOutcome("  "), "must be named"),
    (lambda: outcome_from_dict({"kind": "competing", "time": "t"}), "outcome kind 'competing' is not valid"),
    (lambda: outcome_from_dict({"column": "event"}), "outcome kind 'None' is not valid"),
    (lambda: outcome_from_dict(["binary"]), "must be a mapping"),
    (lambda: outcome_from_dict({"kind": "binary", "column": 3}), "names no column"),
    (lambda: as_outcome(3), "an Outcome or a column name"),
    (lambda: CohortSpec(id_column="pid", outcome=OUTCOME, outcome_column="event"), "give the cohort's outcome once"),
    (lambda: CohortSpec(id_column="pid"), "needs an outcome"),
    (lambda: CohortSpec(id_column="event", outcome=OUTCOME), "must be different"),
    (lambda: CohortSpec(id_column="pid", outcome=OUTCOME, continuous=("event",)), "cannot also be a variable"),
    (lambda: CohortSpec.from_dict({"id_column": "pid", "continuous": [], "categorical": []}), r"lacks \['outcome'\]"),
    (lambda: CohortSpec.from_dict({"id_column": "pid", "outcome": {"kind": "binary", "column": "e"},
                                   "continuous": "age", "categorical": []}), "list of column names"),
    (lambda: OUTCOME.events(_frame(["yes", "no"])), "validate the cohort first"),
    (lambda: OUTCOME.events(pd.DataFrame({"other": [0, 1]})), "'event' is not in the table"),
])
def test_refusals_say_what_to_do(build, message):
    with pytest.raises(RadNomoError, match=message):
        build()


@pytest.mark.parametrize(("values", "message"), [
    ([0, 1, None, 1], "missing for 1 patient"),
    ([1, 1, 1, 1], "one class only"),
    ([0, 1, 2, 1], "3 distinct values"),
    ([1, 2, 1, 2], "code it as 0/1"),
])
def test_the_binary_outcome_keeps_the_cohort_messages(values, message):
    ids = pd.Series(["a", "b", "c", "d"])
    with pytest.raises(RadNomoError, match=f"outcome column 'event' .*{message}"):
        OUTCOME.validated(pd.DataFrame({"event": values}), ids)


def test_a_cohort_validated_and_tabled_by_its_outcome():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"pid": [f"P{i:02d}" for i in range(40)],
                          "event": np.where(np.arange(40) % 4 == 0, "yes", "no"), "age": rng.normal(60, 8, 40)})
    spec = CohortSpec(id_column="pid", outcome=OUTCOME, continuous=("age",))
    clean = validate_cohort(frame, spec.id_column, spec.outcome, continuous=spec.continuous)
    assert clean["event"].sum() == 10
    split = split_cohort(clean, spec, SplitConfig(seed=1))
    table = table_one(clean, spec, split)
    assert any(c.startswith("Train: dead (n=7)") for c in table.columns)
    assert any(c.startswith("Test: alive (n=9)") for c in table.columns)


# ---------------------------------------------------------------------------------------------
# A second outcome type goes through the cohort code unchanged
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _MonthsToEvent(Outcome):
    """Two columns (months of follow-up, event 0/1), the shape of the next issue's time to event: the cohort code
    must ask the outcome for its columns, events and strata, never read one column. Test-only, not registered."""

    time: str
    event: str
    labels: tuple[str, str] = ("censored", "died")
    kind = "months_to_event"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.time, self.event)

    @property
    def event_column(self) -> str:
        return self.event

    def validated(self, frame, ids):
        months = pd.to_numeric(frame[self.time], errors="coerce")
        if months.isna().any() or (months < 0).any():
            raise RadNomoError(f"follow-up '{self.time}' must be a number of months >= 0 for every patient.")
        return pd.DataFrame({self.time: months.astype(float),
                             self.event: BinaryOutcome(self.event).validated(frame, ids)[self.event]})

    def values(self, frame):
        return frame[[self.time, self.event]]

    def events(self, frame):
        return frame[self.event].astype(int)

    def to_dict(self):
        return {"kind": self.kind, "time": self.time, "event": self.event, "labels": list(self.labels)}

    @classmethod
    def from_dict(cls, values):
        return cls(values["time"], values["event"], tuple(values["labels"]))


def test_a_two_column_outcome_is_validated_split_and_tabled_by_what_it_says():
    from core.stats.cohort import train_test_comparison
    from core.stats.feature_tables import role_columns

    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"pid": [f"P{i:02d}" for i in range(50)], "months": rng.integers(1, 60, 50).astype(str),
                          "dead": np.where(np.arange(50) % 5 == 0, "yes", "no"), "age": rng.normal(60, 8, 50)})
    spec = CohortSpec(id_column="pid", outcome=_MonthsToEvent("months", "dead"), continuous=("age",))
    assert spec.reserved_columns == ("pid", "months", "dead")
    with pytest.raises(RadNomoError, match="'months' is the ID or outcome column"):
        CohortSpec(id_column="pid", outcome=spec.outcome, continuous=("months",))
    clean = validate_cohort(frame, spec.id_column, spec.outcome, continuous=spec.continuous)
    assert clean["months"].dtype == float and clean["dead"].sum() == 10
    with pytest.raises(RadNomoError, match="follow-up 'months'"):
        validate_cohort(frame.assign(months="soon"), spec.id_column, spec.outcome)
    split = split_cohort(clean, spec, SplitConfig(seed=2))
    assert int(clean.set_index("pid").loc[list(split.test_ids), "dead"].sum()) == 3  # 30 % of the 10 events
    assert any(c.startswith("Test: died (n=3)") for c in table_one(clean, spec, split).columns)
    assert "died" in train_test_comparison(clean, spec, split)["level"].tolist()
    assert role_columns(["months", "dead", "f1"], outcome_column=spec.outcome.columns) == {
        "months": "outcome column", "dead": "outcome column"}
    assert spec.identity()["outcome"] == {"kind": "months_to_event", "time": "months", "event": "dead",
                                          "labels": ["censored", "died"]}
    assert spec.outcome.n_events(clean) == 10 and spec.outcome.limiting_count(clean) == 10
