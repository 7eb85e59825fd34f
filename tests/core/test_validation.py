"""Bootstrap optimism correction and repeated CV repeat the whole pipeline inside each resample."""

from __future__ import annotations

import numpy as np
import pytest

from core.workflows.fit import ModelSettings
from core.workflows.sample import SAMPLE_SPEC
from core.workflows.validation import optimism_corrected_auc, repeated_cv_auc


@pytest.fixture(scope="module")
def small_study(sample_cohort, sample_features):
    from core.stats.cohort import SplitConfig, split_cohort

    cohort = sample_cohort.iloc[:300].reset_index(drop=True)
    ids = list(cohort["patient_id"])
    features = {"radiomics": sample_features["radiomics"].loc[ids].iloc[:, :150],
                "deep": sample_features["deep"].loc[ids].iloc[:, :60]}
    split = split_cohort(cohort, SAMPLE_SPEC, SplitConfig(seed=1))
    settings = ModelSettings(clinical_continuous=("tumour_thickness_mm", "cea_ng_ml"), clinical_categorical=())
    return cohort, features, split, settings


def test_optimism_correction_lowers_the_apparent_auc(small_study):
    cohort, features, split, settings = small_study
    result = optimism_corrected_auc(cohort, SAMPLE_SPEC, split.train_ids, features, settings, n_boot=4, seed=3)
    table = result.table
    assert list(table.columns) == ["apparent", "optimism", "corrected", "n_boot"]
    np.testing.assert_allclose(table["corrected"], table["apparent"] - table["optimism"])
    assert (table["n_boot"] <= 4).all() and len(result.runs) == table["n_boot"].sum()
    assert table["optimism"].mean() > 0  # selecting from hundreds of features is optimistic
    assert (table.loc[[m for m in table.index if m != "clinical"], "corrected"]
            < table.loc[[m for m in table.index if m != "clinical"], "apparent"]).all()
    again = optimism_corrected_auc(cohort, SAMPLE_SPEC, split.train_ids, features, settings, n_boot=4, seed=3)
    assert again.table.equals(table)  # seeded


def test_repeated_cv_refits_on_each_fold(small_study):
    cohort, features, split, settings = small_study
    table = repeated_cv_auc(cohort, SAMPLE_SPEC, split.train_ids, features, settings, n_folds=3, n_repeats=2)
    assert set(table["repeat"]) == {1, 2} and set(table["fold"]) == {1, 2, 3}
    assert table["auc"].between(0, 1).all()
    assert set(table["model"]) >= {"clinical", "radiomics"}


def test_the_bundled_sample_run_is_current_and_lowers_every_apparent_auc(sample_cohort):
    """sample_data/validation (python -m core.workflows.validation --out sample_data/validation) must be the run of the
    dashboard's default settings on the current split; re-run that command when either changes."""
    from dataclasses import replace

    from core.stats.cohort import split_cohort
    from core.io.paths import SAMPLE_DIR
    from core.workflows.validation import load_saved_validation

    train_ids = split_cohort(sample_cohort, SAMPLE_SPEC).train_ids
    saved = load_saved_validation(SAMPLE_DIR / "validation", ModelSettings(), train_ids)
    assert saved is not None, "sample_data/validation is stale: re-run python -m core.workflows.validation"
    table = saved["optimism"]
    assert saved["meta"]["n_boot"] == 200 and (table["n_boot"] >= 190).all()
    assert (table["optimism"] > 0).all() and (table["corrected"] < table["apparent"]).all()
    np.testing.assert_allclose(table["corrected"], table["apparent"] - table["optimism"])
    runs = saved["runs"]
    np.testing.assert_allclose((runs["boot_auc"] - runs["original_auc"]).groupby(runs["model"]).mean(),
                               table["optimism"].loc[sorted(table.index)])
    assert len(saved["cv"]) == saved["meta"]["folds"] * saved["meta"]["repeats"] * len(table)
    other = replace(ModelSettings(), harmonise_by="scanner")
    assert load_saved_validation(SAMPLE_DIR / "validation", other, train_ids) is None
    assert load_saved_validation(SAMPLE_DIR / "validation", ModelSettings(), train_ids[1:]) is None
