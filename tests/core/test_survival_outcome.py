"""The time-to-event outcome (core.stats.outcomes.SurvivalOutcome): its refusals (naming patients), its values,
its saved form, the cohort code it goes through unchanged (validation, the event-stratified split, Table 1) and
its Table 1 rows, equal to R's survival (tests/reference/survival_outcome.R) on survival::lung and on the real
sarcoma cohort of the shared data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.stats.cohort import (CohortSpec, SplitConfig, outcome_summary, split_cohort, table_one,
                               train_test_comparison, validate_cohort)
from core.stats.outcomes import (OUTCOME_TYPES, SUMMARY_COLUMNS, BinaryOutcome, SurvivalOutcome, outcome_from_dict)

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
STS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sts_ct" / "tables" / "clinical_outcome.csv"
OUTCOME = SurvivalOutcome("months", "dead", "months", (12, 36), ("alive", "died"))


def _cohort(n: int = 40, seed: int = 1) -> pd.DataFrame:
    """``n`` patients: follow-up 1-80 months (text, as a table is read), event yes/no every third, an age."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"pid": [f"P{i:02d}" for i in range(n)],
                         "months": np.round(rng.uniform(1, 80, n), 1).astype(str),
                         "dead": np.where(np.arange(n) % 3 == 0, "yes", "no"), "age": rng.normal(60, 8, n)})


def _validated(frame: pd.DataFrame, outcome: SurvivalOutcome = OUTCOME) -> pd.DataFrame:
    return outcome.validated(frame, frame["pid"])


# ---------------------------------------------------------------------------------------------
# The type and its settings
# ---------------------------------------------------------------------------------------------


def test_the_survival_kind_is_registered_and_reads_its_columns():
    assert OUTCOME_TYPES["survival"] is SurvivalOutcome
    assert OUTCOME.columns == ("months", "dead") and OUTCOME.event_column == "dead"
    assert OUTCOME.horizons == (12.0, 36.0) and OUTCOME.event_label == "died"
    assert OUTCOME.describe() == ("time to died (months, column 'months'); 'dead' = 1 (died), 0 censored (alive); "
                                  "horizons 12 months, 36 months")
    assert OUTCOME.horizon_label(36) == "36 months"
    assert SurvivalOutcome("t", "e", "days", [365, 90]).horizons == (90.0, 365.0)  # kept sorted


@pytest.mark.parametrize(("build", "message"), [
    (lambda: SurvivalOutcome("t", "e", "months", ()), "at least one horizon"),
    (lambda: SurvivalOutcome("t", "e", "months", (12, -1)), r"horizon\(s\) -1 are not times > 0"),
    (lambda: SurvivalOutcome("t", "e", "months", (0,)), r"horizon\(s\) 0 are not times > 0"),
    (lambda: SurvivalOutcome("t", "e", "months", (float("nan"),)), "are not times > 0"),
    (lambda: SurvivalOutcome("t", "e", "months", (True,)), "are not times > 0"),
    (lambda: SurvivalOutcome("t", "e", "months", "12"), "must be a list of times"),
    (lambda: SurvivalOutcome("t", "e", "months", (12, 12.0)), "repeat a time"),
    (lambda: SurvivalOutcome("t", "t", "months", (12,)), "must be two columns"),
    (lambda: SurvivalOutcome(" ", "e", "months", (12,)), "time column must be named"),
    (lambda: SurvivalOutcome("t", "e", " ", (12,)), "name the unit"),
    (lambda: SurvivalOutcome("t", "e", "months", (12,), ("x", "X")), "both 'X'"),
    (lambda: outcome_from_dict({"kind": "survival", "time_column": "t", "event_column": "e"}),
     r"saved time-to-event outcome has no valid time_unit, horizons"),
    (lambda: outcome_from_dict({"kind": "survival", "time_column": "t", "event_column": "e", "time_unit": "days",
                                "horizons": ["12"]}), "no valid horizons"),
    (lambda: outcome_from_dict({"kind": "survival", "time_column": "t", "event_column": "e", "time_unit": "days",
                                "horizons": [12], "labels": "ab"}), "no valid labels"),
    (lambda: CohortSpec(id_column="pid", outcome=OUTCOME, continuous=("months",)), "cannot also be a variable"),
    (lambda: CohortSpec(id_column="dead", outcome=OUTCOME), "must be different"),
])
def test_settings_are_refused_with_what_to_do(build, message):
    with pytest.raises(RadNomoError, match=message):
        build()


def test_the_saved_form_round_trips_through_json_and_the_cohort_spec():
    assert outcome_from_dict(json.loads(json.dumps(OUTCOME.to_dict()))) == OUTCOME
    spec = CohortSpec(id_column="pid", outcome=OUTCOME, continuous=("age",))
    assert CohortSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec.identity()["outcome"] == {"kind": "survival", "time_column": "months", "event_column": "dead",
                                          "time_unit": "months", "horizons": [12.0, 36.0], "labels": ["alive", "died"]}
    assert hash(OUTCOME) == hash(outcome_from_dict(OUTCOME.to_dict()))  # fingerprints compare outcomes by value
    assert OUTCOME != SurvivalOutcome("months", "dead", "months", (12, 60), ("alive", "died"))


# ---------------------------------------------------------------------------------------------
# Validation: every refusal names the patients
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("column", "value", "message"), [
    ("months", "-3", r"'months' is negative for 1 patient\(s\): P04; .*cannot be negative"),
    ("months", "0", r"'months' is 0 for 1 patient\(s\): P04; a Kaplan-Meier or Cox model cannot use .*Add a small"),
    ("months", "", r"'months' is missing for 1 patient\(s\): P04"),
    ("months", None, r"'months' is missing for 1 patient\(s\): P04"),
    ("months", "2021-03-04", r"'months' is not a number for 1 patient\(s\): P04 \(e.g. '2021-03-04'\).*date"),
    ("months", "inf", r"'months' is infinite for patient\(s\) P04"),
    ("dead", "maybe", r"event column 'dead' has value\(s\) 'maybe' for patient\(s\) P04; code the event as 1"),
    ("dead", None, r"event column 'dead' is missing for 1 patient\(s\): P04"),
])
def test_a_bad_value_is_refused_naming_the_patient(column, value, message):
    frame = _cohort()
    frame[column] = frame[column].astype(object)
    frame.loc[4, column] = value
    with pytest.raises(RadNomoError, match=message):
        _validated(frame)


def test_r_style_one_two_events_all_censored_and_a_horizon_beyond_follow_up_are_refused():
    frame = _cohort()
    with pytest.raises(RadNomoError, match="R's survival also reads 1/2 as censored/event: recode"):
        _validated(frame.assign(dead=np.where(frame["dead"] == "yes", 2, 1)))
    with pytest.raises(RadNomoError, match=r"every patient is censored \('dead' is 0 for all 40\)"):
        _validated(frame.assign(dead="no"))
    last = float(frame["months"].astype(float).max())
    beyond = SurvivalOutcome("months", "dead", "months", (12, 100, 120))
    with pytest.raises(RadNomoError, match=rf"horizon\(s\) 100 months, 120 months lie beyond the last follow-up "
                                           rf"of the cohort \({last:g} months\).*keep 12 months"):
        _validated(frame, beyond)
    with pytest.raises(RadNomoError, match="of the test cohort .*choose horizons up to 5 months"):
        OUTCOME.check_horizons(np.array([1.0, 5.0]), what="the test cohort")


def test_validation_codes_the_columns_and_the_values_follow():
    frame = _cohort()
    clean = _validated(frame)
    assert list(clean.columns) == ["months", "dead"] and clean.index.equals(frame.index)
    assert clean["months"].dtype == float and clean["dead"].tolist() == [int(i % 3 == 0) for i in range(40)]
    values = OUTCOME.values(clean)
    assert list(values.columns) == [SurvivalOutcome.TIME, SurvivalOutcome.EVENT] and values.index.equals(frame.index)
    time, event = OUTCOME.arrays(clean)
    np.testing.assert_array_equal(time, frame["months"].astype(float).to_numpy())
    assert event.dtype.kind == "i" and OUTCOME.n_events(clean) == 14 == OUTCOME.limiting_count(clean)
    assert OUTCOME.has_contrast(clean) and not OUTCOME.has_contrast(clean.assign(dead=0))
    assert OUTCOME.event_labels(clean).head(2).tolist() == ["died", "alive"]
    with pytest.raises(RadNomoError, match="validate the cohort first"):
        OUTCOME.events(frame)  # yes/no as read: not coded yet
    with pytest.raises(RadNomoError, match="validate the cohort first"):
        OUTCOME.times(clean.assign(months=0.0))


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

times = st.floats(min_value=1e-3, max_value=1e4, allow_nan=False, allow_infinity=False)
events = st.sampled_from(["1", "0", "yes", "no", "TRUE", "false", 1, 0, 1.0, 0.0])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(times, events), min_size=2, max_size=40).filter(
    lambda rows: any(str(e).lower() in {"1", "yes", "true", "1.0"} for _, e in rows)))
def test_any_valid_input_round_trips(rows):
    frame = pd.DataFrame({"pid": [f"P{i}" for i in range(len(rows))], "months": [t for t, _ in rows],
                          "dead": [e for _, e in rows]})
    outcome = SurvivalOutcome("months", "dead", "months", (min(t for t, _ in rows),))
    clean = _validated(frame, outcome)
    np.testing.assert_array_equal(clean["months"].to_numpy(), frame["months"].to_numpy())
    assert clean["dead"].tolist() == [int(str(e).lower() in {"1", "yes", "true", "1.0"}) for _, e in rows]
    again = outcome.validated(clean, frame["pid"])  # validating a validated cohort changes nothing
    pd.testing.assert_frame_equal(again, clean)
    assert outcome_from_dict(outcome.to_dict()) == outcome


@settings(max_examples=25, deadline=None)
@given(st.lists(times, min_size=3, max_size=30), st.floats(max_value=-1e-9, min_value=-1e6), st.data())
def test_any_negative_time_is_refused_naming_the_patient(values, negative, data):
    where = data.draw(st.integers(0, len(values) - 1))
    values[where] = negative
    frame = pd.DataFrame({"pid": [f"P{i}" for i in range(len(values))], "months": values, "dead": 1})
    with pytest.raises(RadNomoError, match=rf"negative for 1 patient\(s\): P{where};"):
        _validated(frame, SurvivalOutcome("months", "dead", "months", (1e-3,)))


# ---------------------------------------------------------------------------------------------
# Through the cohort code, unchanged
# ---------------------------------------------------------------------------------------------


def test_a_survival_cohort_is_validated_split_by_event_and_tabled():
    frame = _cohort(60, seed=3)
    spec = CohortSpec(id_column="pid", outcome=OUTCOME, continuous=("age",))
    assert spec.reserved_columns == ("pid", "months", "dead")
    clean = validate_cohort(frame, spec.id_column, spec.outcome, continuous=spec.continuous)
    split = split_cohort(clean, spec, SplitConfig(seed=4))
    by_id = clean.set_index("pid")
    assert int(by_id.loc[list(split.test_ids), "dead"].sum()) == 6  # 30 % of the 20 events, stratified by event
    assert any(c.startswith("Train: died (n=14)") for c in table_one(clean, spec, split).columns)
    assert "died" in train_test_comparison(clean, spec, split)["level"].tolist()
    summary = outcome_summary(clean, spec, split)
    assert list(summary.columns) == ["statistic", "label", "Train", "Test"]
    assert summary.set_index("statistic").loc["events", "Test"] == "6 (33.3)"
    assert summary["label"].tolist()[-2:] == ["Event-free at 12 months (Kaplan-Meier), % [95% CI]",
                                              "Event-free at 36 months (Kaplan-Meier), % [95% CI]"]


def test_a_binary_outcome_summary_has_its_counts_only_and_no_curve():
    frame = _cohort().assign(dead=lambda f: (f["dead"] == "yes").astype(int))
    binary = BinaryOutcome("dead", ("alive", "died"))
    summary = binary.summary(frame)
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert summary["statistic"].tolist() == ["patients", "events"] and summary["value"].tolist() == ["40", "14 (35.0)"]
    assert binary.curve(frame) is None


def test_a_horizon_beyond_one_cohorts_follow_up_is_shown_not_carried_forward():
    frame = _validated(_cohort())
    short = frame[frame["months"] < 30]
    rows = OUTCOME.summary(short).set_index("label")
    assert rows.loc["Event-free at 36 months (Kaplan-Meier), % [95% CI]", "value"] == "beyond follow-up"
    assert np.isnan(rows.loc["Event-free at 36 months (Kaplan-Meier), % [95% CI]", "estimate"])


# ---------------------------------------------------------------------------------------------
# Table 1's numbers equal R's (survfit, reverse Kaplan-Meier; tests/reference/survival_outcome.R)
# ---------------------------------------------------------------------------------------------


def _compare_with_r(summary: pd.DataFrame, cohort: str) -> None:
    """Every number of ``summary`` against R's answers for ``cohort`` (same algorithm: 1e-9 relative)."""
    answers = pd.read_csv(REFERENCE / "survival_outcome_answers.csv")
    answers = answers[answers["cohort"] == cohort].reset_index(drop=True)
    assert summary["statistic"].tolist() == answers["statistic"].tolist()
    for column in ("estimate", "lower", "upper"):
        np.testing.assert_allclose(summary[column].to_numpy(dtype=float), answers[column].to_numpy(dtype=float),
                                   rtol=1e-9, equal_nan=True, err_msg=f"{cohort}: {column}")


def test_table1_rows_equal_r_on_the_lung_data():
    data = pd.read_csv(REFERENCE / "survival_outcome_lung_data.csv")
    outcome = SurvivalOutcome("time", "event", "days", (180, 365, 730), ("alive", "dead"))
    clean = validate_cohort(data, "id", outcome)
    summary = outcome.summary(clean)
    _compare_with_r(summary, "lung")
    shown = summary.set_index("statistic")["value"]
    assert shown["follow_up_median"] == "588 [511, 1010]" and shown["median_time"] == "310 [285, 363]"
    assert shown["events"] == "165 (72.4)" and shown["follow_up_range"] == "5 - 1022"
    curve = outcome.curve(clean)
    assert curve["time"].is_monotonic_increasing and int(curve["n_event"].sum()) == 165


@pytest.mark.skipif(not STS.is_file(), reason=f"needs ../shared/data (the real sarcoma cohort at {STS})")
def test_table1_rows_equal_r_on_the_real_sarcoma_cohort():
    table = pd.read_csv(STS).assign(died=lambda t: (t["status"] == "D").map({True: "yes", False: "no"}))
    outcome = SurvivalOutcome("days_dx_to_last_fu", "died", "days", (365, 730, 1095), ("alive", "dead"))
    clean = validate_cohort(table, "patient_id", outcome, continuous=("age",))
    summary = outcome.summary(clean)
    _compare_with_r(summary, "sts")
    assert summary.set_index("statistic").loc["median_time", "value"] == "not reached [892, NA]"
    spec = CohortSpec(id_column="patient_id", outcome=outcome, continuous=("age",))
    split = split_cohort(clean, spec, SplitConfig(seed=2025))
    test_events = int(clean.set_index("patient_id").loc[list(split.test_ids), "died"].sum())
    assert test_events in (4, 5)  # 30 % of the 15 deaths, stratified by event
    with pytest.raises(RadNomoError, match="beyond the last follow-up of the cohort"):
        validate_cohort(table, "patient_id", SurvivalOutcome("days_dx_to_last_fu", "died", "days", (3000,)))
