"""External cohorts and subgroups evaluated by frozen models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.summaries import training_cutoffs
from core.workflows.external import (cohort_aucs, cohort_panel, out_of_range, pooled_predictions, range_report,
                                     study_cohorts, level_groups, validate_external)


@pytest.mark.slow
def test_validate_external_checks_ids_and_features(sample_study, sample_models):
    external = sample_study.cohort_table().iloc[:80]
    ids = list(external["patient_id"])
    tables = {"radiomics": sample_study.family("radiomics").table.loc[ids].reset_index(),
              "dl": sample_study.family("dl").table.loc[ids]}
    checked = validate_external(sample_study, "centre B", external, tables, sample_models)
    assert list(checked.tables["radiomics"].index) == ids and len(checked.cohort) == 80
    narrow = {"radiomics": tables["radiomics"].iloc[:, :5], "dl": tables["dl"]}
    with pytest.raises(RadNomoError, match="radiomics feature table lacks .* feature"):
        validate_external(sample_study, "centre B", external, narrow, sample_models)
    with pytest.raises(RadNomoError, match="have no dl features"):
        validate_external(sample_study, "x", external, {**tables, "dl": tables["dl"].loc[ids[:40]]}, sample_models)
    with pytest.raises(RadNomoError, match="need the \\['dl'\\]"):
        validate_external(sample_study, "x", external, {"radiomics": tables["radiomics"]}, sample_models)
    with pytest.raises(RadNomoError, match="unknown famil"):
        validate_external(sample_study, "x", external, {**tables, "pet": tables["dl"]}, sample_models)


@pytest.mark.slow
def test_cohort_panel_and_subgroups(sample_study, sample_models, sample_predictions):
    cutoffs = training_cutoffs(sample_predictions, sample_study.outcome, sample_study.train_ids, ["clinical", "fused"])
    groups = {**sample_study.cohorts(), **level_groups(sample_study, "scanner", sample_study.test_ids)}
    assert any(name.startswith("scanner = ") for name in groups)
    panel = cohort_panel(sample_predictions, sample_study.outcome, groups, cutoffs)
    assert set(panel["group"]) == set(groups) and set(panel["model"]) == {"clinical", "fused"}
    train_fused = panel[(panel.group == "train") & (panel.model == "fused")].iloc[0]
    assert abs(train_fused["cal_in_the_large"]) < 1e-6 and train_fused["cal_slope"] == pytest.approx(1, abs=1e-6)
    assert (panel["n"] >= panel["events"]).all()


@pytest.mark.slow
def test_pooled_predictions_keep_cohorts_apart_and_flag_extrapolation(sample_study, sample_models,
                                                                      sample_predictions):
    from core.workflows.sample import SAMPLE_EXTERNAL_DIR, sample_external_tables
    from core.io.tables import read_table

    external = validate_external(sample_study, "centre B", read_table(SAMPLE_EXTERNAL_DIR / "clinical.csv"),
                                 sample_external_tables(), sample_models)
    pooled, outcome, groups = pooled_predictions(sample_study, sample_models, sample_predictions, [external])
    assert list(groups) == ["train", "test", "centre B"] and len(groups["centre B"]) == len(external.cohort)
    assert all(i.startswith("centre B:") for i in groups["centre B"]) and not pooled.index.has_duplicates
    assert outcome.loc[groups["centre B"]].sum() == external.cohort["lm"].sum()
    report = range_report(sample_study, sample_models, external)
    assert set(report.index) == sample_models.needed_features()
    assert report["flag"].equals((report["below"] + report["above"]) > 0.1)

def test_out_of_range_flags_shifted_features():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    other = pd.DataFrame({"a": rng.normal(size=100), "b": rng.normal(4, 1, size=100)})
    table = out_of_range(train, other, ["a", "b"])
    assert table.index[0] == "b" and bool(table.loc["b", "flag"]) and not bool(table.loc["a", "flag"])


@pytest.mark.slow
def test_cohort_aucs_equal_scikit_learn_per_cohort(sample_study, sample_models, sample_predictions):
    from sklearn.metrics import roc_auc_score

    table = cohort_aucs(sample_models, study_cohorts(sample_study), sample_study.spec.outcome)
    assert len(table) == 10 and set(table["cohort"]) == {"train", "test"}
    for row in table.itertuples():
        ids = sample_study.cohorts()[row.cohort]
        assert row.auc == pytest.approx(roc_auc_score(sample_study.outcome.loc[ids],
                                                      sample_predictions.loc[ids, row.model]))
        assert row.auc_low < row.auc < row.auc_high and row.n == len(ids)


def test_saved_validation_is_used_only_for_the_same_settings_and_split(tmp_path, sample_study):
    import json

    from core.stats.cohort import CohortSplit
    from core.workflows.validation import load_saved_validation, summarise_cv

    settings, ids = sample_study.settings, sample_study.train_ids
    pd.DataFrame({"model": ["fused"], "apparent": [0.9], "optimism": [0.05], "corrected": [0.85],
                  "n_boot": [200]}).to_csv(tmp_path / "optimism.csv", index=False)
    pd.DataFrame({"resample": [0], "model": ["fused"], "boot_auc": [0.95], "original_auc": [0.9]}).to_csv(
        tmp_path / "optimism_runs.csv", index=False)
    cv = pd.DataFrame({"repeat": [1, 1, 1], "fold": [1, 2, 3], "model": ["fused"] * 3, "auc": [0.7, 0.8, 0.9]})
    cv.to_csv(tmp_path / "repeated_cv.csv", index=False)
    assert load_saved_validation(tmp_path, sample_study) is None  # nothing saved yet
    (tmp_path / "validation.json").write_text(json.dumps({"settings": settings.to_dict(), "train_ids": ids}))
    saved = load_saved_validation(tmp_path, sample_study)
    assert saved["optimism"].loc["fused", "corrected"] == 0.85
    assert saved["runs"]["optimism"].iloc[0] == pytest.approx(0.05)
    assert load_saved_validation(tmp_path, sample_study.with_settings(clinical_p=0.1)) is None
    fewer = CohortSplit(train_ids=tuple(ids[:-1]), test_ids=sample_study.split.test_ids + (ids[-1],))
    assert load_saved_validation(tmp_path, sample_study.replace(split=fewer)) is None
    summary = summarise_cv(cv)
    assert summary.loc["fused", "mean"] == pytest.approx(0.8) and summary.loc["fused", "sd"] == pytest.approx(0.1)
    assert summary.loc["fused", "folds"] == 3


def test_outside_training_range_rule_lists_far_values_and_extreme_risks():
    from core.workflows.external import outside_training_range, training_limits

    train = pd.DataFrame({"a": np.linspace(0, 10, 50), "b": np.linspace(-1, 1, 50)})
    limits = training_limits(train)
    sd = train["a"].std()
    assert limits.loc["a", "high"] == pytest.approx(10 + 2 * sd)
    assert limits.loc["b", "low"] == pytest.approx(-1 - 2 * train["b"].std())
    # Just past the maximum is not "far"; beyond max + 2 SD is; a missing value is not checked.
    other = pd.DataFrame({"a": [10.5, 10 + 2.1 * sd, np.nan, 5.0], "b": [0.0, 0.0, 0.0, -9.0]}, index=list("pqrs"))
    risk = pd.DataFrame({"fused": [0.5, 0.5, 1 - 1e-9, 0.4]}, index=other.index)
    table = outside_training_range(limits, other, risk)
    assert list(table.index) == ["q", "r", "s"]
    assert table.loc["q", "n_features"] == 1 and table.loc["q", "features"].startswith("a = ")
    assert table.loc["r", "n_features"] == 0 and "within 1e-06 of 0 or 1" in table.loc["r", "reason"]
    assert "b = -9" in table.loc["s", "features"] and "training -1 to 1" in table.loc["s", "features"]
    assert outside_training_range(limits, other.iloc[[0]]).empty


@pytest.mark.slow
def test_one_external_patient_far_outside_is_listed_and_calibration_shown_without_it(sample_study, sample_models):
    """The issue's case: one feature at 12x the training maximum gives p = 1.0 and drags the slope towards 0."""
    from core.io.tables import read_table
    from core.vocabulary import CALIBRATION_SUBSETS
    from core.workflows.external import ExternalCohort, outside_range_notes, outside_range_summary
    from core.workflows.sample import SAMPLE_EXTERNAL_DIR, sample_external_tables

    external = validate_external(sample_study, "centre B", read_table(SAMPLE_EXTERNAL_DIR / "clinical.csv"),
                                 sample_external_tables(), sample_models)
    patients, _ = outside_range_summary(sample_study, sample_models, [external])
    assert patients.empty  # the sample's second centre stays within range
    coefs = sample_models.scores["radiomics"].coefs
    feature = coefs.idxmax()  # the strongest risk-raising feature
    assert coefs[feature] > 0
    radiomics = external.tables["radiomics"].copy()
    patient = external.cohort.index[external.cohort["lm"] == 0][0]  # a patient without the event
    radiomics.loc[patient, feature] = 12 * sample_study.family("radiomics").table.loc[sample_study.train_ids,
                                                                                     feature].max()
    shifted = ExternalCohort(name="centre B", cohort=external.cohort,
                             tables={**external.tables, "radiomics": radiomics})
    assert sample_models.predict(shifted.cohort.loc[[patient]], shifted.tables).loc[patient, "radiomics"] > 1 - 1e-6
    patients, calibration = outside_range_summary(sample_study, sample_models, [shifted])
    assert list(patients["patient"]) == [patient] and patients["cohort"].iloc[0] == "centre B"
    assert feature in patients["features"].iloc[0] and "radiomics" in patients["extreme_risk"].iloc[0]
    slopes = calibration[calibration["model"] == "radiomics"].set_index("patients")
    with_it, without = slopes.loc[CALIBRATION_SUBSETS["all"]], slopes.loc[CALIBRATION_SUBSETS["within"]]
    assert with_it["n"] == without["n"] + 1 and with_it["n_outside"] == 1
    # One patient of 300 drags the slope towards 0 (0.31 with it, 0.83 without, on the sample).
    assert with_it["cal_slope"] < 0.5 * without["cal_slope"] and without["cal_slope"] > 0.7
    note = outside_range_notes(sample_study, sample_models, [shifted])
    assert len(note) == 1 and note[0].startswith(f"centre B: 1 patient(s) outside the training range ({patient})")


def test_cohort_panel_leaves_out_patients_without_a_prediction_per_model_and_says_so():
    from core.workflows.external import panel_notes

    rng = np.random.default_rng(4)
    ids = [f"P{i}" for i in range(120)]
    y = pd.Series(rng.integers(0, 2, 120), index=ids)
    predictions = pd.DataFrame({"clinical": rng.uniform(0.05, 0.95, 120), "dl": rng.uniform(0.05, 0.95, 120)},
                               index=ids)
    predictions.iloc[:25, 1] = np.nan  # a family covering only some patients: no dl prediction for 25
    panel = cohort_panel(predictions, y, {"test": ids}, {"clinical": 0.5, "dl": 0.5})
    rows = panel.set_index("model")
    assert rows.loc["clinical", "n"] == 120 and rows.loc["clinical", "left_out"] == 0
    assert rows.loc["dl", "n"] == 95 and rows.loc["dl", "left_out"] == 25
    assert rows.loc["dl", "events"] == int(y.iloc[25:].sum())
    assert panel_notes(panel, {"dl": "DL"}) == ["test, DL: 25 patient(s) without this model's features are left out "
                                                "(95 evaluated)."]


@pytest.mark.slow
def test_core_analyse_notes_name_the_external_patients_outside_the_training_range(tmp_path):
    from core.cli.analyse import main
    from core.workflows.sample import SAMPLE_CLINICAL, SAMPLE_EXTERNAL_DIR, SAMPLE_RADIOMICS

    external = pd.read_parquet(SAMPLE_EXTERNAL_DIR / "features_radiomics.parquet")
    patient = external.index[0]
    external.loc[patient] = external.loc[patient] * 12  # every feature of one patient at 12 times its value
    external.to_parquet(tmp_path / "ext_radiomics.parquet")
    out = tmp_path / "out"
    code = main(["--clinical", str(SAMPLE_CLINICAL), "--id", "patient_id", "--outcome", "lm",
                 "--continuous", "age,tumour_thickness_mm,cea_ng_ml,ca19_9_u_ml",
                 "--categorical", "sex,location,cn_stage,her2", "--features", f"radiomics={SAMPLE_RADIOMICS}",
                 "--external", f"centre B={SAMPLE_EXTERNAL_DIR / 'clinical.csv'},"
                               f"radiomics={tmp_path / 'ext_radiomics.parquet'}", "--n-boot", "0", "--out", str(out)])
    assert code == 0
    notes = (out / "notes.txt").read_text().splitlines()
    outside = [n for n in notes if "outside the training range" in n]
    assert len(outside) == 1 and outside[0].startswith(f"centre B: 1 patient(s) outside the training range ({patient})")
    assert "calibration slope" in outside[0] and "without" in outside[0]
