"""Teaching mode and subgroups for a time-to-event study (issue 27): the explanations a page shows follow the
open study's outcome kind (the binary ones unchanged), the survival subgroup comparison (Kaplan-Meier curves and
log-rank test of two groups, every model's Harrell's C and time-dependent AUC within each group) gives the numbers
of core.stats.survival on each group's patients, and the leakage demonstration measures Harrell's C.

Every number here comes from functions checked against R in their own tests (tests/core/test_survival_*.py); these
tests check that the workflow hands each group's patients to them, and the log-rank test once more against
lifelines."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.cohort import CohortSpec, SplitConfig
from core.stats.outcomes import SurvivalOutcome
from core.stats.summaries import categorical_columns
from core.stats.survival.concordance import harrell_c
from core.stats.survival.kaplan_meier import kaplan_meier, log_rank
from core.stats.survival.time_dependent import td_auc
from core.vocabulary import OUTCOME_KINDS, horizon_column
from core.workflows.study import FeatureFamily, ModelSettings, SubgroupSettings, make_study
from core.workflows.subgroups import (SAMPLE_SURVIVAL_SUBGROUP, SUBGROUP_ANALYSES, compare_subgroup,
                                      compare_survival_subgroup, default_subgroup, subgroup_analysis,
                                      subgroup_columns, subgroup_levels)
from core.workflows.teaching import (EXPLANATIONS, EXPLANATIONS_BY_KIND, explanation_for, held_out_discrimination,
                                     leakage_demo, leakage_measure)

PAGES = {p.stem for p in (Path(__file__).resolve().parents[2] / "pages").glob("*.py")}
# The pages whose binary explanation speaks of logistic models, odds ratios, ROC AUCs or probabilities without a
# time, and so has a time-to-event version.
SURVIVAL_PAGES = {"cohort", "selection", "models", "evaluation", "validation", "nomogram", "subgroups", "external",
                  "teaching"}
HORIZONS = (12.0, 36.0)


def _survival_table(seed: int = 5, n: int = 240) -> tuple[pd.DataFrame, np.ndarray]:
    """A synthetic cohort: exponential times whose hazard rises with a hidden ``x`` and with arm "b", uniform
    censoring (months); ``flag`` a 0/1 column, ``tiny`` a column with a group of 4 patients and no event."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    arm = rng.choice(["a", "b"], n)
    hazard = np.exp(0.8 * x + 0.5 * (arm == "b"))
    t = rng.exponential(30 / hazard)
    c = rng.uniform(10, 80, n)
    time, dead = np.minimum(t, c).round(2) + 0.01, (t <= c).astype(int)
    tiny = np.where(np.arange(n) < 4, "rare", "common")
    dead[:4] = 0  # the rare group has no event
    return pd.DataFrame({"pid": [f"P{i:03d}" for i in range(n)], "time": time, "dead": dead,
                         "age": rng.normal(60, 10, n).round(), "arm": arm, "flag": rng.integers(0, 2, n),
                         "tiny": tiny}), x


@pytest.fixture(scope="module")
def survival():
    table, x = _survival_table()
    outcome = SurvivalOutcome(time_column="time", event_column="dead", time_unit="months", horizons=HORIZONS)
    study = make_study("synthetic survival", table, CohortSpec(id_column="pid", outcome=outcome, continuous=("age",)),
                       SplitConfig(seed=3))
    rng = np.random.default_rng(9)
    predictions = pd.DataFrame({"informed": x, "noise": rng.normal(size=len(x))}, index=study.cohort.index)
    return study, predictions


ARMS = SubgroupSettings(column="arm", population="all", positive="b", negative="a")


# -- teaching explanations ---------------------------------------------------------------------------------------


def test_every_outcome_kind_explains_every_page_and_the_binary_texts_are_the_binary_ones():
    assert set(EXPLANATIONS_BY_KIND) == set(OUTCOME_KINDS)
    assert EXPLANATIONS_BY_KIND["binary"] is EXPLANATIONS
    for kind, explanations in EXPLANATIONS_BY_KIND.items():
        assert PAGES <= set(explanations), (kind, PAGES - set(explanations))
        assert all(e.reference and len(e.text) > 80 for e in explanations.values())
        assert all(explanation_for(page, kind) is explanations[page] for page in PAGES)
    assert all(explanation_for(page) is EXPLANATIONS[page] for page in PAGES)  # binary by default


def test_survival_explanations_replace_every_binary_text_that_would_mislead():
    survival = EXPLANATIONS_BY_KIND["survival"]
    changed = {page for page in survival if survival[page] != EXPLANATIONS[page]}
    assert changed == SURVIVAL_PAGES
    for page in SURVIVAL_PAGES:
        text = survival[page].text.lower()
        assert not any(word in text for word in ("odds", "logistic", "delong", "youden")), page
    for page in set(survival) - SURVIVAL_PAGES:  # e.g. home, the feature pages: the same words
        assert survival[page] is EXPLANATIONS[page]


@pytest.mark.parametrize("page, words", [
    ("cohort", ["censored", "Kaplan-Meier", "reverse Kaplan-Meier", "horizons", "within follow-up"]),
    ("selection", ["univariable Cox", "LASSO-Cox", "partial-likelihood deviance", "1-SE rule", "training patients"]),
    ("models", ["Cox proportional hazards", "hazard ratio (HR)", "cox.zph", "Schoenfeld", "p < 0.05",
                "10 events per coefficient", "predicted survival at each horizon"]),
    ("evaluation", ["Harrell's C", "comparable pairs", "time-dependent AUC at a horizon t",
                    "inverse probability of censoring weights", "Calibration at t", "Brier score", "Net benefit at t",
                    "log-rank", "last follow-up"]),
    ("validation", ["Harrell's C", "time-dependent AUC at each horizon"]),
    ("nomogram", ["linear predictor", "event-free at each horizon", "median"]),
    ("subgroups", ["Kaplan-Meier", "log-rank", "Harrell's C", "time-dependent AUC", "without an event"]),
    ("external", ["Harrell's C", "observed/expected", "calibration slope", "horizon"]),
    ("teaching", ["liver metastasis", "Harrell's C"]),
])
def test_the_survival_explanations_say_what_the_survival_pages_show(page, words):
    explanation = explanation_for(page, "survival")
    assert all(word in explanation.text for word in words), [w for w in words if w not in explanation.text]


def test_an_unknown_outcome_kind_or_page_is_refused_with_the_ones_there_are():
    with pytest.raises(RadNomoError, match="no explanations for a competing outcome; it has them for binary"):
        explanation_for("models", "competing")
    with pytest.raises(RadNomoError, match="no explanation of the page 'nowhere'"):
        explanation_for("nowhere", "survival")


# -- subgroups ----------------------------------------------------------------------------------------------------


def test_each_group_gets_the_numbers_of_its_own_patients(survival):
    study, predictions = survival
    result = compare_survival_subgroup(study, predictions, ["informed", "noise"], ARMS)
    time, event = study.spec.outcome.arrays(study.cohort)
    arm = study.cohort["arm"].to_numpy()
    assert result.counts == {"b": int((arm == "b").sum()), "a": int((arm == "a").sum())}
    assert result.events == {"b": int(event[arm == "b"].sum()), "a": int(event[arm == "a"].sum())}
    assert result.groups.sum() == result.counts["b"] and result.warnings == ()
    for level in ("a", "b"):
        member = arm == level
        for model in ("informed", "noise"):
            risk = predictions[model].to_numpy()[member]
            c = harrell_c(time[member], event[member], risk)
            row = result.concordance.set_index(["group", "model"]).loc[(level, model)]
            assert (row["n"], row["events"]) == (member.sum(), event[member].sum())
            assert row[["c_index", "c_low", "c_high"]].tolist() == pytest.approx([c.c, c.low, c.high], rel=1e-12)
            expected = td_auc(time[member], event[member], risk, HORIZONS)
            got = result.td_auc[(result.td_auc["group"] == level) & (result.td_auc["model"] == model)]
            np.testing.assert_allclose(got[["horizon", "auc", "auc_low", "auc_high", "cases", "controls"]].to_numpy(
                dtype=float), expected[["horizon", "auc", "auc_low", "auc_high", "cases", "controls"]].to_numpy(
                dtype=float), rtol=1e-12)
        curve = kaplan_meier(time[member], event[member])
        np.testing.assert_array_equal(result.curves[level].survival, curve.survival)
        row = result.survival.set_index("group").loc[level]
        assert row[["median", "median_low", "median_high"]].tolist() == pytest.approx(list(curve.median()),
                                                                                      nan_ok=True)
        assert row[horizon_column(12)] == pytest.approx(curve.survival_at([12])[0])
    # the model that knows the hazard ranks better than noise in both groups
    c = result.concordance.set_index(["group", "model"])["c_index"]
    assert c[("a", "informed")] > c[("a", "noise")] + 0.1 and c[("b", "informed")] > c[("b", "noise")] + 0.1
    # the log-rank test of the two arms: survdiff's, and lifelines' (an independent implementation) to 1e-8
    from lifelines.statistics import logrank_test

    expected = log_rank(time, event, arm)
    assert (result.log_rank.chisq, result.log_rank.df) == (pytest.approx(expected.chisq, rel=1e-12), 1)
    other = logrank_test(time[arm == "a"], time[arm == "b"], event[arm == "a"], event[arm == "b"])
    assert result.log_rank.p == pytest.approx(other.p_value, rel=1e-8)
    assert result.log_rank.p < 0.01  # arm "b" has the higher hazard by construction


def test_the_patients_shown_restrict_every_number_and_missing_predictions_are_left_out(survival):
    study, predictions = survival
    test = compare_survival_subgroup(study, predictions, ["informed"], ARMS, ids=study.test_ids)
    assert sum(test.counts.values()) == len(study.test_ids) and set(test.groups.index) == set(study.test_ids)
    every = compare_survival_subgroup(study, predictions, ["informed"], ARMS)
    assert not np.allclose(test.concordance["c_index"], every.concordance["c_index"])
    gaps = predictions.copy()
    gaps.iloc[:10, 0] = np.nan  # ten patients without a prediction
    partial = compare_survival_subgroup(study, gaps, ["informed"], ARMS)
    assert partial.concordance["n"].sum() == len(study.cohort) - 10
    assert sum(partial.counts.values()) == len(study.cohort)  # the curves keep every patient


def test_a_group_without_events_or_too_small_is_reported_not_estimated(survival):
    study, predictions = survival
    result = compare_survival_subgroup(study, predictions, ["informed"],
                                       SubgroupSettings(column="tiny", population="all", positive="rare",
                                                        negative="common"))
    assert result.counts["rare"] == 4 and result.events["rare"] == 0
    assert set(result.concordance["group"]) == {"common"} and set(result.td_auc["group"]) == {"common"}
    warnings = " ".join(result.warnings)
    assert "rare (4): fewer than 10 patients" in warnings
    assert "rare: no event among its 4 patients, so no concordance or time-dependent AUC within it" in warnings
    assert result.log_rank is not None  # the other group has events: the curves can still be compared


def test_a_horizon_beyond_a_groups_follow_up_is_left_out_with_the_reason(survival):
    _, predictions = survival
    table, _ = _survival_table()
    table["follow_up"] = np.where(table["time"] < 50, "short", "long")  # the short group's follow-up ends before 60
    outcome = SurvivalOutcome(time_column="time", event_column="dead", time_unit="months", horizons=(12.0, 60.0))
    late = make_study("late horizon", table, CohortSpec(id_column="pid", outcome=outcome, continuous=("age",)),
                      SplitConfig(seed=3))
    result = compare_survival_subgroup(late, predictions, ["informed"], SubgroupSettings(
        column="follow_up", population="all", positive="short", negative="long"))
    short = result.td_auc[result.td_auc["group"] == "short"]
    assert set(short["horizon"]) == {12.0}
    assert set(result.td_auc.loc[result.td_auc["group"] == "long", "horizon"]) == {60.0}  # no event by 12 there
    assert any(w.startswith("short: no time-dependent AUC at 60 months") for w in result.warnings)
    survival = result.survival.set_index("group")[horizon_column(60)]
    assert np.isnan(survival["short"]) and 0 < survival["long"] < 1  # nobody of the short group followed that long


def test_a_survival_study_refuses_the_event_patients_population_and_an_empty_model_list(survival):
    study, predictions = survival
    with pytest.raises(RadNomoError, match="compares subgroups among all patients, not among patients with the "
                                           "event.*choose all patients"):
        compare_survival_subgroup(study, predictions, ["informed"], dataclasses.replace(ARMS, population="events"))
    with pytest.raises(RadNomoError, match="no model to judge"):
        compare_survival_subgroup(study, predictions, [], ARMS)
    with pytest.raises(RadNomoError, match="need both 'b' and 'a'"):
        compare_survival_subgroup(study, predictions, ["informed"], ARMS, ids=study.cohort.index[study.cohort["arm"]
                                                                                                == "a"])


def test_a_0_1_column_can_split_the_patients_and_the_outcome_columns_cannot(survival):
    study, _ = survival
    columns = subgroup_columns(study)
    assert columns == ["arm", "flag", "tiny"]  # not the time, the event or the continuous age
    assert subgroup_levels(study, "flag", "all") == ["0", "1"]


def test_the_outcome_kind_picks_the_analysis_and_what_it_compares():
    assert set(SUBGROUP_ANALYSES) == set(OUTCOME_KINDS)
    models = SimpleNamespace(scores={"radiomics": 1}, model_names=["clinical", "radiomics", "fused"])
    binary, survival = SUBGROUP_ANALYSES["binary"], SUBGROUP_ANALYSES["survival"]
    assert binary.compare is compare_subgroup and binary.populations == ("events", "all")
    assert binary.compared(models) == ["radiomics"]  # a binary study compares its scores, as before
    assert survival.compare is compare_survival_subgroup and survival.populations == ("all",)
    assert survival.compared(models) == ["clinical", "radiomics", "fused"]


def test_the_survival_sample_compares_liver_metastasis_with_none_among_all_patients():
    from core.workflows.sample import sample_study, sample_survival_study

    study = sample_survival_study()
    assert subgroup_analysis(study).kind == "survival"
    assert default_subgroup(study) == SAMPLE_SURVIVAL_SUBGROUP
    assert (SAMPLE_SURVIVAL_SUBGROUP.column, SAMPLE_SURVIVAL_SUBGROUP.population) == ("lm", "all")
    assert "lm" in subgroup_columns(study) and subgroup_levels(study, "lm", "all") == ["0", "1"]
    assert "lm" not in study.spec.variables  # not a predictor of the survival sample
    binary = sample_study()
    assert default_subgroup(binary) is binary.subgroup  # the reference study's Table 3, unchanged
    # its choices as before the 0/1 columns joined them: its only 0/1 column, lm, is its outcome
    assert subgroup_columns(binary) == categorical_columns(binary.cohort, exclude=["lm"])


# -- leakage, measured by the outcome type's discrimination ---------------------------------------------------------


def test_leakage_is_measured_by_harrells_c_on_the_test_patients(survival):
    study, predictions = survival
    assert leakage_measure(study) == "C-index"
    got = held_out_discrimination(study, predictions, ["informed", "noise"])
    time, event = study.spec.outcome.arrays(study.cohort.loc[study.test_ids])
    for model in ("informed", "noise"):
        assert got[model] == pytest.approx(harrell_c(time, event, predictions.loc[study.test_ids, model]).c,
                                           rel=1e-12)


def test_screening_on_all_patients_inflates_the_test_c_index_of_pure_noise():
    rng = np.random.default_rng(11)
    n = 240
    t, c = rng.exponential(30, n), rng.uniform(10, 80, n)
    table = pd.DataFrame({"pid": [f"P{i}" for i in range(n)], "time": np.minimum(t, c) + 0.01,
                          "dead": (t <= c).astype(int), "age": rng.normal(60, 10, n)})
    noise = pd.DataFrame(rng.normal(size=(n, 400)) * 3, index=pd.Index(table["pid"], name="ID"),
                         columns=[f"f{j}" for j in range(400)])
    outcome = SurvivalOutcome(time_column="time", event_column="dead", time_unit="months", horizons=HORIZONS)
    settings = dataclasses.replace(ModelSettings.for_outcome(outcome), clinical_continuous=("age",),
                                   clinical_categorical=())
    study = make_study("noise", table, CohortSpec(id_column="pid", outcome=outcome, continuous=("age",)),
                       SplitConfig(seed=3), families=[FeatureFamily(name="radiomics", label="Radiomics", table=noise)],
                       settings=settings)
    table = leakage_demo(study)
    assert table.loc["radiomics", "honest"] < 0.6  # noise: nothing to find
    assert table.loc["radiomics", "leaky"] > table.loc["radiomics", "honest"] + 0.1
    assert table.loc["clinical", "inflation"] == 0  # the clinical model never sees the features
