"""External validation of a time-to-event study (core.workflows.external): the external cohort's follow-up time
and event are validated at the boundary (every horizon within its own follow-up), the frozen models score it, and it
is evaluated as the study's own cohorts are, at the TRAINING risk-group cut-offs.

The study is 300 sample patients with their overall survival, one radiomics family cut to 150 features, its
pipeline fitted once (Cox learners, LASSO-Cox: a few seconds); the external cohort is the sample's second centre
(sample_data/external: clinical.csv joined to survival.csv, its radiomics features). The statistics themselves are
checked against R in test_survival_discrimination.py and friends; here every number must equal those functions on
the same predictions (the same code path, to 1e-12).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.cohort import SplitConfig, split_cohort
from core.stats.outcomes import SurvivalOutcome
from core.stats.survival.concordance import harrell_c
from core.vocabulary import survival_column
from core.stats.survival.calibration import survival_calibration
from core.vocabulary import CALIBRATION_SUBSETS
from core.workflows.external import (SURVIVAL_WITH_AND_WITHOUT_COLUMNS, cohort_concordance, evaluate_survival_panel,
                                     level_groups, outside_range_notes, outside_range_patients, outside_range_summary,
                                     read_sample_external, risk_columns, survival_calibration_with_and_without,
                                     validate_external)
from core.workflows.fit import fit_study, predict_study
from core.workflows.sample import SAMPLE_DIR, SAMPLE_EXTERNAL_DIR
from core.workflows.study import FeatureFamily, ModelSettings
from core.workflows.survival_evaluation import evaluate_survival_study, long_predictions, risk_cutoffs

HORIZONS = (12.0, 36.0, 60.0)
NAME = "Centre B"


def survival_study_300(sample_study):
    """The sample's first 300 patients with their overall survival as the outcome (horizons 12, 36, 60 months), the
    radiomics family cut to 150 features, the clinical model of tumour thickness and CEA (not fitted)."""
    survival = pd.read_csv(SAMPLE_DIR / "survival.csv", dtype={"patient_id": str}).set_index("patient_id")
    ids = sample_study.cohort.index[:300]
    cohort = sample_study.cohort.loc[ids].join(survival)
    outcome = SurvivalOutcome(time_column="os_months", event_column="death", time_unit="months", horizons=HORIZONS)
    spec = dataclasses.replace(sample_study.spec, outcome=outcome)
    family = sample_study.families[0]
    settings = dataclasses.replace(ModelSettings.for_outcome(outcome),
                                   clinical_continuous=("tumour_thickness_mm", "cea_ng_ml"), clinical_categorical=())
    return sample_study.replace(cohort=cohort, spec=spec, combined=(), is_sample=False, settings=settings,
                                families=(FeatureFamily(name=family.name, label=family.label,
                                                        table=family.table.loc[ids].iloc[:, :150]),),
                                split=split_cohort(cohort.reset_index(), spec, SplitConfig(seed=1)))


@pytest.fixture(scope="module")
def fitted(sample_study):
    """The 300-patient survival study, its fitted models and predictions, and the checked external cohort."""
    study = survival_study_300(sample_study)
    outcome = study.spec.outcome
    models = fit_study(study)
    predictions = predict_study(study, models)
    clinical, tables = read_sample_external(outcome)
    external = validate_external(study, NAME, clinical, {"radiomics": tables["radiomics"]}, models)
    return study, models, predictions, clinical, tables, external


def test_the_sample_external_centre_carries_its_follow_up(fitted):
    study, _, _, clinical, tables, external = fitted
    raw = pd.read_csv(SAMPLE_EXTERNAL_DIR / "survival.csv", dtype={"patient_id": str}).set_index("patient_id")
    outcome = study.spec.outcome
    assert len(clinical) == len(raw) == 300 and {"os_months", "death", "lm"} <= set(clinical.columns)
    assert set(tables) == {"radiomics", "dl"}
    np.testing.assert_array_equal(outcome.times(external.cohort), raw["os_months"].loc[external.cohort.index])
    np.testing.assert_array_equal(outcome.events(external.cohort), raw["death"].loc[external.cohort.index])
    assert external.n_events(outcome) == int(raw["death"].sum())


def test_read_sample_external_refuses_tables_of_other_patients(fitted, tmp_path):
    study = fitted[0]
    clinical = pd.read_csv(SAMPLE_EXTERNAL_DIR / "clinical.csv")
    clinical.to_csv(tmp_path / "clinical.csv", index=False)
    pd.read_csv(SAMPLE_EXTERNAL_DIR / "survival.csv").iloc[1:].to_csv(tmp_path / "survival.csv", index=False)
    with pytest.raises(RadNomoError, match="do not list the same patients .*1 in one only"):
        read_sample_external(study.spec.outcome, tmp_path)
    (tmp_path / "survival.csv").unlink()  # no table holds the follow-up: left absent, for validation to name
    read, _ = read_sample_external(study.spec.outcome, tmp_path)
    assert "os_months" not in read.columns


def test_an_external_cohort_without_follow_up_or_beyond_it_is_refused(fitted):
    study, models, _, clinical, tables, _ = fitted
    radiomics = {"radiomics": tables["radiomics"]}
    for column in ("os_months", "death"):
        with pytest.raises(RadNomoError, match=f"'{column}'.* not found"):
            validate_external(study, NAME, clinical.drop(columns=column), radiomics, models)
    short = clinical.assign(os_months=np.minimum(clinical["os_months"], 48.0))
    with pytest.raises(RadNomoError, match=f"60 months lie beyond the last follow-up of the external cohort "
                                           f"'{NAME}' \\(48 months\\).*keep 12 months, 36 months"):
        validate_external(study, NAME, short, radiomics, models)
    with pytest.raises(RadNomoError, match="every patient is censored"):
        validate_external(study, NAME, clinical.assign(death=0), radiomics, models)
    with pytest.raises(RadNomoError, match="is negative for 1 patient"):
        validate_external(study, NAME, clinical.assign(os_months=clinical["os_months"].where(
            clinical.index != 3, -1.0)), radiomics, models)


def test_the_panel_scores_the_external_cohort_at_the_training_cut_offs(fitted):
    study, models, predictions, _, tables, external = fitted
    panel = evaluate_survival_panel(study, models, predictions, [external])
    names = tuple(models.model_names)
    assert list(panel.cohorts) == ["train", "test", NAME] and panel.models == names
    assert panel.time_unit == "months" and panel.horizons == HORIZONS
    # the cut-offs: each model's median linear predictor over the training patients only
    cutoffs = risk_cutoffs(long_predictions(predictions.loc[study.train_ids], names, HORIZONS), study.train_ids)
    assert panel.cutoffs == pytest.approx(cutoffs, rel=0, abs=0)
    # the study's own cohorts: the numbers of the Evaluation page (evaluate_survival_study), unchanged
    own = evaluate_survival_study(study, models, predictions)
    for table in ("concordance", "td_auc", "risk_groups", "calibration_slope"):
        mine = getattr(panel, table)
        mine = mine[mine["cohort"] != NAME].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, getattr(own, table).reset_index(drop=True), rtol=1e-12)
    # the external cohort: the frozen models' linear predictors, straight into the statistics
    scored = models.predict(external.cohort, external.tables)
    time, event = study.spec.outcome.arrays(external.cohort)
    concordance = panel.concordance[panel.concordance["cohort"] == NAME].set_index("model")
    for model in names:
        expected = harrell_c(time, event, scored[model].to_numpy(dtype=float))
        assert concordance.loc[model, ["c_index", "c_low", "c_high"]].tolist() == pytest.approx(
            [expected.c, expected.low, expected.high], rel=1e-12)
        assert concordance.loc[model, "n"] == 300 and concordance.loc[model, "events"] == event.sum()
        high = panel.risk_groups[(panel.risk_groups["cohort"] == NAME) & (panel.risk_groups["model"] == model)]
        high = high.set_index("group")
        at_cutoff = scored[model].to_numpy() > cutoffs[model]  # high risk: above the TRAINING median
        assert high.loc["high", "n"] == at_cutoff.sum() and high.loc["high", "events"] == event[at_cutoff].sum()
    assert set(panel.td_auc.loc[panel.td_auc["cohort"] == NAME, "horizon"]) == set(HORIZONS)
    assert panel.km.empty  # the panel's tables only; the figures ask for the curves of what they draw
    drawn = evaluate_survival_panel(study, models, predictions, [external], cohorts=[NAME], model_names=[names[-1]],
                                    curves=True)
    assert set(drawn.km_curves(NAME, names[-1])) == {"low", "high"}
    assert drawn.cutoffs == {names[-1]: cutoffs[names[-1]]}  # the training median, whatever is drawn
    assert set(drawn.calibration["horizon"]) == set(HORIZONS) and set(drawn.td_roc["horizon"]) == set(HORIZONS)
    pd.testing.assert_frame_equal(drawn.concordance.reset_index(drop=True), panel.concordance[
        (panel.concordance["cohort"] == NAME) & (panel.concordance["model"] == names[-1])].reset_index(drop=True))


def test_subgroups_and_chosen_cohorts(fitted):
    study, models, predictions, _, _, external = fitted
    subgroups = level_groups(study, "sex", study.test_ids)
    assert subgroups
    name, ids = next(iter(subgroups.items()))
    within = [f"{NAME}:{i}" for i in external.cohort.index[:150]]
    panel = evaluate_survival_panel(study, models, predictions, [external], {name: ids, "first 150": within},
                                    cohorts=[name, "first 150"], model_names=["clinical"])
    assert list(panel.cohorts) == [name, "first 150"] and panel.models == ("clinical",)
    concordance = panel.concordance.set_index("cohort")
    time, event = study.spec.outcome.arrays(study.cohort.loc[ids])
    assert concordance.loc[name, "c_index"] == pytest.approx(
        harrell_c(time, event, predictions.loc[ids, "clinical"].to_numpy(dtype=float)).c, rel=1e-12)
    assert concordance.loc["first 150", "n"] == 150
    assert panel.km.empty and panel.td_roc.empty  # curves=False: the panel's tables only
    with pytest.raises(RadNomoError, match="no cohort or subgroup 'nowhere'"):
        evaluate_survival_panel(study, models, predictions, [external], cohorts=["nowhere"])
    with pytest.raises(RadNomoError, match="lists 1 patient\\(s\\) of no cohort"):
        evaluate_survival_panel(study, models, predictions, [external], {"odd": ["nobody"]})


def test_extreme_predicted_survival_not_the_linear_predictor_puts_a_patient_outside(fitted):
    study, models, _, _, _, external = fitted
    columns = risk_columns(study.spec.outcome, ["clinical"])
    assert columns == [survival_column("clinical", h) for h in HORIZONS]
    scored = models.predict(external.cohort, external.tables)
    first, second = external.cohort.index[:2]
    scored.loc[first, models.model_names] = 0.0  # a linear predictor of 0 is an average patient, not a risk of 0
    scored.loc[second, survival_column("clinical", 12.0)] = 1.0  # a predicted survival of 1 is extreme
    outside = outside_range_patients(study, models, external, scored)
    assert second in outside.index and "within 1e-06 of 0 or 1" in outside.loc[second, "reason"]
    assert survival_column("clinical", 12.0) in outside.loc[second, "extreme_risk"]
    assert first not in outside.index or outside.loc[first, "extreme_risk"] == ""


def test_cohort_concordance_for_the_combat_comparison(fitted):
    study, models, _, _, _, external = fitted
    table = cohort_concordance(models, {NAME: (external.cohort, external.tables)}, study.spec.outcome)
    assert list(table.columns) == ["cohort", "model", "n", "events", "c_index", "c_low", "c_high"]
    scored = models.predict(external.cohort, external.tables)
    time, event = study.spec.outcome.arrays(external.cohort)
    for row in table.itertuples():
        expected = harrell_c(time, event, scored[row.model].to_numpy(dtype=float))
        assert (row.c_index, row.c_low, row.c_high) == pytest.approx((expected.c, expected.low, expected.high),
                                                                     rel=1e-12)


def test_calibration_with_and_without_the_patients_outside_at_each_horizon(fitted):
    study, models, _, _, _, external = fitted
    scored = models.predict(external.cohort, external.tables)
    outside = list(external.cohort.index[:3])
    table = survival_calibration_with_and_without(study, models, external, scored, outside)
    assert list(table.columns) == SURVIVAL_WITH_AND_WITHOUT_COLUMNS
    assert set(table["patients"]) == set(CALIBRATION_SUBSETS.values()) and set(table["horizon"]) == set(HORIZONS)
    within = table[table["patients"] == CALIBRATION_SUBSETS["within"]].set_index(["model", "horizon"])
    rest = external.cohort.index[3:]
    time, event = study.spec.outcome.arrays(external.cohort.loc[rest])
    for model in models.model_names:
        for horizon in HORIZONS:
            expected = survival_calibration(time, event, scored.loc[rest, survival_column(model, horizon)].to_numpy(),
                                            horizon, groups=5)
            row = within.loc[(model, horizon)]
            assert (row["n"], row["events"], row["n_outside"]) == (297, event.sum(), 3)
            assert (row["cal_slope"], row["observed_expected"]) == pytest.approx(
                (expected.slope.coefficient, expected.observed_expected), rel=1e-12)


def test_the_notes_name_an_external_patient_far_outside_and_the_slope_at_the_last_horizon(fitted):
    study, models, _, _, _, external = fitted
    used = sorted(f for f in models.needed_features() if f in external.tables["radiomics"].columns)
    assert used
    far = external.tables["radiomics"].copy()
    first = far.index[0]
    far.loc[first, used[0]] = far[used[0]].max() + 50 * far[used[0]].std()
    moved = dataclasses.replace(external, tables={"radiomics": far})
    patients, calibration = outside_range_summary(study, models, [moved])
    assert list(patients["patient"]) == [first] and "training SD beyond" in patients["reason"].iloc[0]
    assert "horizon" in calibration.columns and len(calibration)
    notes = outside_range_notes(study, models, [moved])
    assert len(notes) == 1 and notes[0].startswith(f"{NAME}: 1 patient(s)") and first in notes[0]
    assert "calibration slope at 60 months" in notes[0]
