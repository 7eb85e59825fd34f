"""External cohorts and subgroups evaluated by frozen models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.workflows.external import cohort_panel, out_of_range, subgroups, validate_external
from core.workflows.fit import training_cutoffs
from core.workflows.sample import SAMPLE_SPEC


def test_validate_external_checks_ids_and_features(sample_cohort, sample_features):
    external = sample_cohort.iloc[:80]
    ids = list(external["patient_id"])
    tables = {"radiomics": sample_features["radiomics"].loc[ids].reset_index(),
              "deep": sample_features["deep"].loc[ids]}
    cohort, features = validate_external(external, tables, SAMPLE_SPEC, ["dl_001", "original_firstorder_Median"])
    assert list(features["radiomics"].index) == ids and len(cohort) == 80
    with pytest.raises(RadNomoError, match="lack 1 feature"):
        validate_external(external, tables, SAMPLE_SPEC, ["not_a_feature"])
    with pytest.raises(RadNomoError, match="have no deep features"):
        validate_external(external, {"deep": sample_features["deep"].loc[ids[:40]]}, SAMPLE_SPEC, [])


def test_cohort_panel_and_subgroups(sample_cohort, sample_features, sample_models):
    split, models = sample_models
    predictions = models.predict(sample_cohort, sample_features, SAMPLE_SPEC)
    outcome = sample_cohort.set_index("patient_id")["lm"]
    cutoffs = training_cutoffs(predictions, outcome, split.train_ids, ["clinical", "fused"])
    groups = {"train": split.train_ids, "test": split.test_ids,
              **subgroups(sample_cohort, SAMPLE_SPEC, "scanner", split.test_ids)}
    assert any(name.startswith("scanner = ") for name in groups)
    panel = cohort_panel(predictions, outcome, groups, cutoffs)
    assert set(panel["group"]) == set(groups) and set(panel["model"]) == {"clinical", "fused"}
    train_fused = panel[(panel.group == "train") & (panel.model == "fused")].iloc[0]
    assert abs(train_fused["cal_intercept"]) < 1e-6 and train_fused["cal_slope"] == pytest.approx(1, abs=1e-6)
    assert (panel["n"] >= panel["events"]).all()


def test_out_of_range_flags_shifted_features():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    other = pd.DataFrame({"a": rng.normal(size=100), "b": rng.normal(4, 1, size=100)})
    table = out_of_range(train, other, ["a", "b"])
    assert table.index[0] == "b" and bool(table.loc["b", "flag"]) and not bool(table.loc["a", "flag"])


def test_cohort_aucs_equal_scikit_learn_per_cohort(sample_cohort, sample_features, sample_models):
    from sklearn.metrics import roc_auc_score

    from core.workflows.external import cohort_aucs

    split, models = sample_models
    index = sample_cohort.set_index("patient_id")
    cohorts = {name: (index.loc[list(ids)].reset_index(), sample_features)
               for name, ids in (("train", split.train_ids), ("test", split.test_ids))}
    table = cohort_aucs(models, cohorts, SAMPLE_SPEC)
    assert len(table) == 10 and set(table["cohort"]) == {"train", "test"}
    predictions = models.predict(sample_cohort, sample_features, SAMPLE_SPEC)
    for row in table.itertuples():
        ids = list(split.train_ids if row.cohort == "train" else split.test_ids)
        assert row.auc == pytest.approx(roc_auc_score(index.loc[ids, "lm"], predictions.loc[ids, row.model]))
        assert row.auc_low < row.auc < row.auc_high and row.n == len(ids)


def test_saved_validation_is_used_only_for_the_same_settings_and_split(tmp_path):
    import json

    from core.workflows.fit import ModelSettings
    from core.workflows.validation import load_saved_validation, summarise_cv

    settings, ids = ModelSettings(), ["A", "B"]
    pd.DataFrame({"model": ["fused"], "apparent": [0.9], "optimism": [0.05], "corrected": [0.85],
                  "n_boot": [200]}).to_csv(tmp_path / "optimism.csv", index=False)
    pd.DataFrame({"resample": [0], "model": ["fused"], "boot_auc": [0.95], "original_auc": [0.9]}).to_csv(
        tmp_path / "optimism_runs.csv", index=False)
    cv = pd.DataFrame({"repeat": [1, 1, 1], "fold": [1, 2, 3], "model": ["fused"] * 3, "auc": [0.7, 0.8, 0.9]})
    cv.to_csv(tmp_path / "repeated_cv.csv", index=False)
    assert load_saved_validation(tmp_path, settings, ids) is None  # nothing saved yet
    (tmp_path / "validation.json").write_text(json.dumps({"settings": settings.to_dict(), "train_ids": ids}))
    saved = load_saved_validation(tmp_path, settings, ids)
    assert saved["optimism"].loc["fused", "corrected"] == 0.85
    assert load_saved_validation(tmp_path, ModelSettings(clinical_p=0.1), ids) is None
    assert load_saved_validation(tmp_path, settings, ["A"]) is None
    summary = summarise_cv(cv)
    assert summary.loc["fused", "mean"] == pytest.approx(0.8) and summary.loc["fused", "sd"] == pytest.approx(0.1)
    assert summary.loc["fused", "folds"] == 3
