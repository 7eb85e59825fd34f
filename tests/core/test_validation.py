"""Bootstrap optimism correction and repeated CV repeat the whole pipeline inside each resample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.stats.cohort import SplitConfig
from core.workflows.study import FeatureFamily
from core.workflows.validation import optimism_corrected_auc, repeated_cv_auc
from tests.studies import small_sample_study


@pytest.fixture(scope="module")
def small_study(sample_study):
    return small_sample_study(sample_study, SplitConfig(seed=1), name="small")


@pytest.mark.slow
def test_optimism_correction_lowers_the_apparent_auc(small_study):
    result = optimism_corrected_auc(small_study, n_boot=4, seed=3)
    table = result.table
    assert list(table.columns) == ["apparent", "optimism", "corrected", "n_boot"]
    np.testing.assert_allclose(table["corrected"], table["apparent"] - table["optimism"])
    assert (table["n_boot"] <= 4).all() and len(result.runs) == table["n_boot"].sum()
    assert table["optimism"].mean() > 0  # selecting from hundreds of features is optimistic
    assert (table.loc[[m for m in table.index if m != "clinical"], "corrected"]
            < table.loc[[m for m in table.index if m != "clinical"], "apparent"]).all()
    again = optimism_corrected_auc(small_study, n_boot=4, seed=3)
    assert again.table.equals(table)  # seeded


@pytest.mark.slow
def test_repeated_cv_refits_on_each_fold(small_study):
    table = repeated_cv_auc(small_study, n_folds=3, n_repeats=2)
    assert set(table["repeat"]) == {1, 2} and set(table["fold"]) == {1, 2, 3}
    assert table["auc"].between(0, 1).all()
    assert set(table["model"]) >= {"clinical", "radiomics"}


def test_the_bundled_sample_run_is_current_and_lowers_every_apparent_auc(sample_study):
    """sample_data/validation (python -m core.cli.validation --out sample_data/validation) must be the run of the
    dashboard's default settings on the current split; re-run that command when either changes."""
    from core.stats.cohort import CohortSplit
    from core.workflows.sample import SAMPLE_VALIDATION_DIR
    from core.workflows.validation import load_saved_validation

    saved = load_saved_validation(SAMPLE_VALIDATION_DIR, sample_study)
    assert saved is not None, "sample_data/validation is stale: re-run python -m core.cli.validation"
    table = saved["optimism"]
    assert saved["meta"]["n_boot"] == 200 and (table["n_boot"] >= 190).all()
    assert (table["optimism"] > 0).all() and (table["corrected"] < table["apparent"]).all()
    np.testing.assert_allclose(table["corrected"], table["apparent"] - table["optimism"])
    runs = saved["runs"]
    np.testing.assert_allclose(runs["optimism"].groupby(runs["model"]).mean(),
                               table["optimism"].loc[sorted(table.index)])
    assert len(saved["cv"]) == saved["meta"]["folds"] * saved["meta"]["repeats"] * len(table)
    assert load_saved_validation(SAMPLE_VALIDATION_DIR, sample_study.with_settings(harmonise_by="scanner")) is None
    fewer = CohortSplit(train_ids=sample_study.split.train_ids[1:],
                        test_ids=sample_study.split.test_ids + sample_study.split.train_ids[:1])
    assert load_saved_validation(SAMPLE_VALIDATION_DIR, sample_study.replace(split=fewer)) is None


@pytest.mark.slow
def test_resamples_where_the_lasso_keeps_nothing_are_counted_and_said(small_study):
    """A family of pure noise: in most resamples no feature survives screening, so its score cannot be refitted;
    those resamples are counted per family, left out of that score's optimism, and said in words."""
    from core.workflows.validation import EMPTY_TREATMENT, validation_notes, with_bootstrap

    rng = np.random.default_rng(7)
    noise = FeatureFamily(name="noise", label="Noise", table=pd.DataFrame(
        rng.normal(size=(len(small_study.cohort), 12)), index=small_study.cohort.index,
        columns=[f"n{i}" for i in range(12)]))
    study = small_study.replace(families=(*small_study.families, noise))
    result = optimism_corrected_auc(study, n_boot=4, seed=5)
    resamples = result.resamples
    assert list(resamples.index) == [0, 1, 2, 3] and resamples["fitted"].all()
    assert {"radiomics", "dl", "noise", "dl_radiomics"} <= set(resamples.columns)
    empty = (resamples[["radiomics", "dl", "noise", "dl_radiomics"]] == 0).sum()
    assert empty["noise"] >= 1
    # a model is averaged over exactly the resamples where it was refitted (its LASSO kept a feature)
    refitted = result.runs.groupby("model").size()
    for family in [f for f in ("radiomics", "dl", "dl_radiomics") if f in result.table.index]:
        assert refitted.get(family, 0) == 4 - empty[family] == result.table.loc[family, "n_boot"]
    notes = " ".join(validation_notes(study, with_bootstrap(study, result, seed=5).current_validation()))
    assert "outcome-stratified bootstrap" in notes and "4 resamples, seed 5" in notes
    for family, label in (("noise", "Noise"), ("radiomics", "Radiomics")):
        said = f"{label} score: {4 - empty[family]} of 4 resamples kept at least one feature; in the other " \
               f"{empty[family]} its LASSO kept none"
        assert (said in notes) == bool(empty[family]), family
    assert EMPTY_TREATMENT in notes


@pytest.mark.slow
def test_a_stopped_bootstrap_keeps_the_resamples_done(small_study):
    asked = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > 2  # two resamples, then Stop

    result = optimism_corrected_auc(small_study, n_boot=50, seed=3, should_stop=stop)
    assert result.stopped and result.requested == 50 and len(result.resamples) == 2
    assert (result.table["n_boot"] <= 2).all() and result.table["n_boot"].max() == 2
    full = optimism_corrected_auc(small_study, n_boot=2, seed=3)  # the same first two resamples
    pd.testing.assert_frame_equal(result.table, full.table)
    cv = repeated_cv_auc(small_study, n_folds=3, n_repeats=2, should_stop=lambda: True)
    assert cv.empty and cv.attrs["folds_run"] == 0


@pytest.mark.parametrize("what, value", [("bootstrap resamples", 1), ("bootstrap resamples", 5000),
                                         ("CV folds", 2), ("CV repeats", 2.5), ("CV folds", None)])
def test_run_sizes_out_of_range_are_refused_with_the_range(what, value):
    from core.errors import RadNomoError
    from core.workflows.validation import RUN_LIMITS, check_run_size

    low, high = RUN_LIMITS[what]
    with pytest.raises(RadNomoError, match=f"from {low} to {high} \\(you gave {value}\\); nothing was run"):
        check_run_size(what, value)
    assert check_run_size(what, low) == low
