"""A cohort or subgroup too small to rank anyone (one patient, events tied at the end of follow-up, every event
where one risk group alone is followed) is left out of the survival evaluation's tables with a note: it never
raises, and the other cohorts' numbers are the same as without it (core.workflows.survival_evaluation)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.vocabulary import horizon_column
from core.workflows.survival_evaluation import evaluate_survival_cohorts

HORIZONS = (12, 36)
THRESHOLDS = (0.2, 0.5)  # two decision thresholds keep the runs fast
TABLES = ("concordance", "td_auc", "brier", "ibs", "risk_groups", "cutoff_metrics", "calibration_slope", "km",
          "calibration", "decision", "td_roc", "comparisons")


def _predictions(ids, lps: dict[str, np.ndarray]) -> pd.DataFrame:
    """Long predictions of each model: its linear predictor and a survival falling with it at 12, 24, 36."""
    frames = []
    for model, lp in lps.items():
        columns = {"id": list(ids), "model": model, "linear_predictor": np.asarray(lp, dtype=float)}
        for horizon in (12, 24, 36):
            columns[horizon_column(horizon)] = np.exp(-0.02 * horizon * np.exp(columns["linear_predictor"]))
        frames.append(pd.DataFrame(columns))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def cohort():
    """60 patients (the training cohort) with two models ("good": the true log hazard, "noise")."""
    rng = np.random.default_rng(27)
    n = 60
    x = rng.normal(size=n)
    event_time = rng.exponential(1 / (0.03 * np.exp(0.8 * x)))
    censor = rng.uniform(10, 70, n)
    ids = [f"T{i:02d}" for i in range(n)]
    outcome = pd.DataFrame({"time": np.round(np.minimum(event_time, censor), 1) + 0.1,
                            "event": (event_time <= censor).astype(int)}, index=ids)
    return outcome, _predictions(ids, {"good": 0.8 * x, "noise": rng.normal(size=n)})


def _with_group(cohort, group: pd.DataFrame, lps: dict[str, list[float]]):
    """The training cohort plus ``group`` (its outcome rows) scored by ``lps``, evaluated at cut-offs 0."""
    outcome, predictions = cohort
    outcome = pd.concat([outcome, group])
    predictions = pd.concat([predictions, _predictions(group.index, lps)], ignore_index=True)
    cohorts = {"train": tuple(cohort[0].index), "group": tuple(group.index)}
    return evaluate_survival_cohorts(predictions, outcome, cohorts, ["good", "noise"], HORIZONS,
                                     {"good": 0.0, "noise": 0.0}, time_unit="months",
                                     decision_thresholds=THRESHOLDS)


@pytest.fixture(scope="module")
def alone(cohort):
    """The training cohort evaluated on its own."""
    outcome, predictions = cohort
    return evaluate_survival_cohorts(predictions, outcome, {"train": tuple(outcome.index)}, ["good", "noise"],
                                     HORIZONS, {"good": 0.0, "noise": 0.0}, time_unit="months",
                                     decision_thresholds=THRESHOLDS)


@pytest.mark.parametrize(("times", "events"), [
    ([8.0], [1]),              # a single patient, with an event
    ([20.0, 20.0], [1, 1]),    # two events at the same time: neither outlived the other
    ([5.0, 9.0, 30.0], [0, 0, 1]),  # the only event is the last follow-up: nobody outlives it
])
def test_a_group_without_a_comparable_pair_is_left_out_with_a_note(cohort, alone, times, events):
    ids = [f"G{i}" for i in range(len(times))]
    group = pd.DataFrame({"time": times, "event": events}, index=ids)
    evaluation = _with_group(cohort, group, {"good": np.linspace(-1, 1, len(ids)),
                                             "noise": np.linspace(1, -1, len(ids))})
    for name in TABLES:
        table = getattr(evaluation, name)
        assert not (table["cohort"] == "group").any(), name
    for model in ("good", "noise"):
        assert not evaluation.evaluated("group", model)
        assert (f"group, {model}: no comparable pair among its {len(ids)} patient(s) (an event followed by a "
                "longer follow-up): left out of every table of this cohort.") in evaluation.notes
    # the training cohort's numbers do not depend on the group beside it
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(evaluation, name).reset_index(drop=True),
                                      getattr(alone, name).reset_index(drop=True), check_dtype=False)
    assert [note for note in evaluation.notes if note.startswith("train")] == list(alone.notes)


def test_events_only_after_the_last_horizon_keep_harrells_c_without_unos(cohort):
    # comparable pairs (events at 50-80, later follow-up at 90), none with an event by 36 months
    ids = [f"L{i}" for i in range(6)]
    group = pd.DataFrame({"time": [50.0, 60.0, 70.0, 80.0, 90.0, 90.0], "event": [1, 1, 1, 1, 0, 0]}, index=ids)
    evaluation = _with_group(cohort, group, {"good": [2.0, 1.0, 0.5, 0.0, -1.0, -2.0],
                                             "noise": [0.1, -0.3, 0.2, 0.4, -0.1, 0.3]})
    row = evaluation.concordance.set_index(["cohort", "model"]).loc[("group", "good")]
    assert row["c_index"] == 1.0 and np.isnan(row["uno_c"]) and np.isnan(row["uno_low"])
    assert "group, good: no comparable pair with an event by 36 months: no Uno's C." in evaluation.notes
    assert not (evaluation.td_auc["cohort"] == "group").any()


def test_a_log_rank_with_one_group_at_risk_is_noted_not_raised(cohort):
    # high risk (lp > 0): events at 10 and 20; low risk: censored at 4 and 6, before any event
    ids = [f"R{i}" for i in range(4)]
    group = pd.DataFrame({"time": [10.0, 20.0, 4.0, 6.0], "event": [1, 1, 0, 0]}, index=ids)
    evaluation = _with_group(cohort, group, {"good": [1.0, 0.5, -0.5, -1.0], "noise": [1.0, 0.5, -0.5, -1.0]})
    groups = evaluation.risk_groups.set_index(["cohort", "model", "group"]).sort_index().loc[("group", "good")]
    assert list(groups["n"]) == [2, 2] and groups["logrank_p"].isna().all() and groups["hr"].isna().all()
    assert any(note.startswith("group, good: no log-rank test or hazard ratio high vs low risk: Only one group had")
               for note in evaluation.notes)


def test_models_scoring_different_patients_without_a_common_comparable_pair(cohort):
    # "good" lacks G1, "noise" lacks G3: each ranks its three patients, but the two shared (events tied at 5) are
    # not comparable, so the pair of models is not compared there
    ids = ["G0", "G1", "G2", "G3"]
    group = pd.DataFrame({"time": [5.0, 10.0, 5.0, 12.0], "event": [1, 0, 1, 0]}, index=ids)
    outcome, predictions = cohort
    extra = _predictions(ids, {"good": [1.0, np.nan, 0.5, -1.0], "noise": [0.3, -0.2, 0.1, np.nan]})
    evaluation = evaluate_survival_cohorts(
        pd.concat([predictions, extra], ignore_index=True), pd.concat([outcome, group]),
        {"train": tuple(outcome.index), "group": tuple(ids)}, ["good", "noise"], HORIZONS,
        {"good": 0.0, "noise": 0.0}, time_unit="months", decision_thresholds=THRESHOLDS)
    assert evaluation.evaluated("group", "good") and evaluation.evaluated("group", "noise")
    assert not (evaluation.comparisons["cohort"] == "group").any()
    assert any(note.startswith("group: no comparison of concordances: no comparable pair") for note in evaluation.notes)


@settings(max_examples=12, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 60), st.integers(0, 1), st.integers(-3, 3)), min_size=1, max_size=8))
def test_any_small_group_is_evaluated_or_named_in_a_note(patients):
    # integer times and linear predictors: many ties, the cases that leave nothing to compare
    ids = [f"H{i}" for i in range(len(patients))]
    outcome = pd.DataFrame({"time": [float(t) for t, _, _ in patients], "event": [e for _, e, _ in patients]},
                           index=ids)
    lp = np.array([float(x) for _, _, x in patients])
    evaluation = evaluate_survival_cohorts(_predictions(ids, {"a": lp, "b": -lp}), outcome, {"group": tuple(ids)},
                                           ["a", "b"], HORIZONS, {"a": 0.0, "b": 0.0}, time_unit="months",
                                           decision_thresholds=THRESHOLDS)
    for model in ("a", "b"):
        assert evaluation.evaluated("group", model) or any(note.startswith(f"group, {model}: no ")
                                                           for note in evaluation.notes)
