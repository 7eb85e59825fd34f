"""External cohorts and subgroups evaluated by frozen models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.summaries import training_cutoffs
from core.workflows.external import (cohort_aucs, cohort_panel, out_of_range, pooled_predictions, range_report,
                                     study_cohorts, level_groups, validate_external)


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


def test_cohort_panel_and_subgroups(sample_study, sample_models, sample_predictions):
    cutoffs = training_cutoffs(sample_predictions, sample_study.outcome, sample_study.train_ids, ["clinical", "fused"])
    groups = {**sample_study.cohorts(), **level_groups(sample_study, "scanner", sample_study.test_ids)}
    assert any(name.startswith("scanner = ") for name in groups)
    panel = cohort_panel(sample_predictions, sample_study.outcome, groups, cutoffs)
    assert set(panel["group"]) == set(groups) and set(panel["model"]) == {"clinical", "fused"}
    train_fused = panel[(panel.group == "train") & (panel.model == "fused")].iloc[0]
    assert abs(train_fused["cal_intercept"]) < 1e-6 and train_fused["cal_slope"] == pytest.approx(1, abs=1e-6)
    assert (panel["n"] >= panel["events"]).all()


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


def test_cohort_aucs_equal_scikit_learn_per_cohort(sample_study, sample_models, sample_predictions):
    from sklearn.metrics import roc_auc_score

    table = cohort_aucs(sample_models, study_cohorts(sample_study), "lm")
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
