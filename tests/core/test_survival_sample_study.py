"""The time-to-event sample study (core.workflows.sample.sample_survival_study) and the Cohort page's survival helpers
(core.workflows.cohort_outcome): it builds and validates without a fit; one slow test fits it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.cohort import SplitConfig, outcome_summary
from core.stats.outcomes import SurvivalOutcome
from core.workflows.cohort_outcome import (TEST_CURVE, TRAIN_CURVE, cohort_curves, guess_event_column,
                                           guess_time_column, parse_horizons)
from core.workflows.sample import (SAMPLE_CLINICAL, SAMPLE_SPEC, SAMPLE_SURVIVAL, SAMPLE_SURVIVAL_SPEC,
                                   load_sample_survival_table, sample_study, sample_survival_study)
from core.workflows.study import ModelSettings

# Columns that describe the metastasis found during follow-up: never predictors of survival from diagnosis.
FOLLOW_UP_COLUMNS = ("lm", "lm_type", "lm_interval_months")


@pytest.fixture(scope="module")
def survival_study():
    return sample_survival_study()


def test_the_survival_sample_has_the_binary_samples_patients_variables_and_families(survival_study):
    binary = sample_study()
    assert sorted(survival_study.cohort.index) == sorted(binary.cohort.index) and len(survival_study.cohort) == 1001
    assert survival_study.spec.continuous == binary.spec.continuous
    assert survival_study.spec.categorical == binary.spec.categorical
    assert survival_study.family_names == binary.family_names == ["radiomics", "dl"]
    assert [c.name for c in survival_study.combined] == ["dl_radiomics"]
    assert survival_study.is_sample and survival_study.subgroup is None
    # the binary sample is untouched: its outcome, name and subgroup as before
    assert binary.spec == SAMPLE_SPEC and binary.spec.outcome.kind == "binary" and binary.subgroup is not None


def test_its_outcome_is_overall_survival_in_months_at_12_36_60(survival_study):
    outcome = survival_study.spec.outcome
    assert isinstance(outcome, SurvivalOutcome) and outcome == SAMPLE_SURVIVAL_SPEC.outcome
    assert (outcome.time_column, outcome.event_column, outcome.time_unit) == ("os_months", "death", "months")
    assert outcome.horizons == (12.0, 36.0, 60.0) and outcome.labels == ("alive", "death")
    # the events are survival.csv's deaths, patient by patient
    raw = pd.read_csv(SAMPLE_SURVIVAL, dtype={"patient_id": str}).set_index("patient_id")
    events = outcome.events(survival_study.cohort)
    assert events.to_dict() == raw["death"].loc[events.index].to_dict()
    assert survival_study.n_events == int(raw["death"].sum())
    np.testing.assert_allclose(outcome.times(survival_study.cohort), raw["os_months"].loc[events.index])


def test_metastasis_and_its_timing_are_never_predictors(survival_study):
    spec = survival_study.spec
    for column in FOLLOW_UP_COLUMNS:
        assert column in survival_study.cohort.columns  # kept in the table, as in the binary study ...
        assert column not in spec.variables  # ... never a clinical predictor
        for family in survival_study.families:
            assert column not in family.table.columns
    assert "scanner" not in spec.variables


def test_time_to_event_defaults_are_chosen_and_binary_settings_refused(survival_study):
    assert survival_study.settings == ModelSettings.for_outcome(survival_study.spec.outcome)
    assert survival_study.settings.score_method == "cox_refit"
    assert survival_study.settings.screening.test == "cox_wald"
    with pytest.raises(RadNomoError, match="does not apply"):
        sample_survival_study(settings=ModelSettings())  # the logistic refit of the binary study


def test_the_split_is_seeded_and_stratified_by_death(survival_study):
    split = survival_study.split
    assert (split.config.test_size, split.config.seed) == (0.3, 2025)
    assert (len(split.train_ids), len(split.test_ids)) == (700, 301)
    events = survival_study.spec.outcome.events(survival_study.cohort)
    train_rate, test_rate = events.loc[list(split.train_ids)].mean(), events.loc[list(split.test_ids)].mean()
    assert abs(train_rate - test_rate) < 0.01  # stratified: the death rate is kept in both cohorts
    again = sample_survival_study()
    assert again.split.train_ids == split.train_ids and again.model_fingerprint == survival_study.model_fingerprint
    other = sample_survival_study(SplitConfig(seed=7))
    assert other.split.train_ids != split.train_ids


def test_the_outcome_summary_and_the_curves_describe_the_cohort(survival_study):
    rows = outcome_summary(survival_study.cohort_table(), survival_study.spec, survival_study.split)
    events = survival_study.spec.outcome.events(survival_study.cohort)
    shown = rows.set_index("statistic")
    assert shown.loc["events", "Train"].startswith(f"{int(events.loc[survival_study.train_ids].sum())} (")
    assert shown.loc["events", "Test"].startswith(f"{int(events.loc[survival_study.test_ids].sum())} (")
    assert list(rows.columns) == ["statistic", "label", "Train", "Test"]
    assert (rows["statistic"] == "event_free").sum() == 3  # one row per horizon
    curves = cohort_curves(survival_study)
    assert curves is not None and list(curves.curves) == [TRAIN_CURVE, TEST_CURVE]
    assert curves.curves[TRAIN_CURVE].n == 700 and curves.curves[TEST_CURVE].n == 301
    assert curves.time_unit == "months" and 0 < curves.log_rank_p <= 1
    assert int(curves.statistic("censored")["estimate"]) == 1001 - survival_study.n_events
    assert curves.statistic("follow_up_median")["estimate"] > 0
    with pytest.raises(RadNomoError, match="no 'nonsense' row"):
        curves.statistic("nonsense")
    # without a test cohort: one curve, no log-rank test
    whole = cohort_curves(survival_study.resplit(SplitConfig(test_size=0.0)))
    assert list(whole.curves) == [TRAIN_CURVE] and whole.log_rank is None and whole.log_rank_p is None
    assert cohort_curves(sample_study()) is None  # a binary outcome has no curve


def test_the_two_sample_files_must_list_the_same_patients(monkeypatch, tmp_path):
    import core.workflows.sample as sample

    partial = pd.read_csv(SAMPLE_SURVIVAL).head(900)
    partial.to_csv(tmp_path / "survival.csv", index=False)
    monkeypatch.setattr(sample, "SAMPLE_SURVIVAL", tmp_path / "survival.csv")
    with pytest.raises(RadNomoError, match="101 in one only"):
        load_sample_survival_table()
    monkeypatch.undo()
    joined = load_sample_survival_table()
    assert len(joined) == len(pd.read_csv(SAMPLE_CLINICAL)) and joined[["os_months", "death"]].notna().all().all()


@pytest.mark.parametrize(("text", "expected"), [("12, 36, 60", (12.0, 36.0, 60.0)), ("12;36 60", (12.0, 36.0, 60.0)),
                                                (" 1.5 ", (1.5,)), ("365,730", (365.0, 730.0))])
def test_horizons_are_read_from_text(text, expected):
    assert parse_horizons(text, "days") == expected


@pytest.mark.parametrize(("text", "message"), [("", "at least one horizon"), (" , ", "at least one horizon"),
                                               ("12, soon", "'soon' is not a time > 0"),
                                               ("12, inf", "'inf' is not a time > 0"),
                                               ("1,5 years", "'years' is not a time > 0")])
def test_bad_horizon_text_is_refused_with_what_to_type(text, message):
    with pytest.raises(RadNomoError, match=message) as refused:
        parse_horizons(text, "months")
    assert "months" in str(refused.value)


def test_time_and_event_columns_are_guessed_from_a_table_as_it_comes():
    joined = load_sample_survival_table()
    assert guess_time_column(joined, exclude=["patient_id"]) == "os_months"
    assert guess_event_column(joined, exclude=["patient_id", "os_months"]) == "death"
    table = pd.DataFrame({"id": ["a", "b", "c"], "futime": [5.0, 12.0, 3.0], "fustat": [1, 0, 1],
                          "age": [50, 60, 70]})
    assert guess_time_column(table, exclude=["id"]) == "futime"
    assert guess_event_column(table, exclude=["id", "futime"]) == "fustat"
    assert guess_time_column(table.drop(columns="futime"), exclude=["id"]) is None  # age is no time
    # a time known for some patients only (the time to a metastasis) yields to one known for every patient
    partial = table.assign(lm_interval_months=[2.0, None, 0.0])[["id", "lm_interval_months", "futime", "fustat"]]
    assert guess_time_column(partial, exclude=["id"]) == "futime"
    assert guess_time_column(partial.drop(columns="futime"), exclude=["id"]) == "lm_interval_months"


@pytest.mark.slow
def test_the_survival_sample_fits(survival_study):
    from core.workflows.fit import fit_study

    models = fit_study(survival_study)
    assert models.outcome_kind == "survival" and not models.warnings
    assert models.model_names == ["clinical", "radiomics", "dl", "dl_radiomics", "fused"]
    # fitted on the training patients only, with the clinical variables and never the follow-up columns
    assert tuple(models.train_ids) == tuple(survival_study.train_ids)
    assert set(models.univariable["variable"]) == set(survival_study.spec.variables)
    assert (models.univariable["n"] == 700).all() and "HR" in models.univariable
    clinical = models["clinical"]
    assert clinical.n == 700 and clinical.n_events == int(survival_study.spec.outcome.n_events(survival_study.train))
    assert clinical.horizons == (12.0, 36.0, 60.0) and clinical.converged
    assert not set(FOLLOW_UP_COLUMNS) & (set(clinical.continuous) | set(clinical.levels))
