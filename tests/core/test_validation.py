"""Bootstrap optimism correction and repeated CV repeat the whole pipeline inside each resample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.stats.cohort import SplitConfig
from core.workflows.study import FeatureFamily
from core.workflows.validation import optimism_corrected_auc, repeated_cv_auc
from tests.studies import small_sample_study


@pytest.fixture(scope="module")
def small_study(sample_study):
    return small_sample_study(sample_study, SplitConfig(seed=1), name="small")


@pytest.fixture(scope="module")
def boot(small_study):
    """A small bootstrap of the small binary study (4 resamples, seed 3)."""
    return optimism_corrected_auc(small_study, n_boot=4, seed=3)


@pytest.mark.slow
def test_optimism_correction_lowers_the_apparent_auc(small_study, boot):
    result = boot
    table = result.table
    assert list(table.columns) == ["apparent", "optimism", "corrected", "n_boot", "oob", "b632", "b632plus", "n_oob"]
    np.testing.assert_allclose(table["corrected"], table["apparent"] - table["optimism"])
    assert (table["n_boot"] <= 4).all() and len(result.runs) == table["n_boot"].sum()
    assert table["optimism"].mean() > 0  # selecting from hundreds of features is optimistic
    assert (table.loc[[m for m in table.index if m != "clinical"], "corrected"]
            < table.loc[[m for m in table.index if m != "clinical"], "apparent"]).all()
    again = optimism_corrected_auc(small_study, n_boot=4, seed=3)
    assert again.table.equals(table)  # seeded
    pd.testing.assert_frame_equal(again.calibration, result.calibration)
    pd.testing.assert_frame_equal(again.calibration_curve, result.calibration_curve)
    _check_632_and_calibration(small_study, result, 4)


def _check_632_and_calibration(study, result, n_boot):
    """The .632/.632+ columns follow from the runs' out-of-bag AUCs; the calibration frames from the runs and
    the resample curves; all from the one refit per resample."""
    from core.workflows.validation import bootstrap_632

    table, runs = result.table, result.runs
    assert {"oob_auc", "boot_slope", "original_slope", "boot_intercept", "original_intercept", "boot_brier",
            "original_brier"} <= set(runs.columns)
    oob = runs.dropna(subset=["oob_auc"]).groupby("model")["oob_auc"]
    np.testing.assert_allclose(table["oob"], oob.mean().loc[table.index])
    assert (table["n_oob"] == oob.size().loc[table.index]).all() and (table["n_oob"] <= table["n_boot"]).all()
    np.testing.assert_allclose(table["b632"], 0.368 * table["apparent"] + 0.632 * table["oob"])
    for model, row in table.iterrows():
        assert bootstrap_632(row["apparent"], row["oob"])[1] == pytest.approx(row["b632plus"], abs=1e-12), model
        # a weighted mean: .632+ lies between the (floored) out-of-bag AUC and the apparent one
        low, high = sorted([max(row["oob"], 0.5), row["apparent"]])
        assert low - 1e-12 <= row["b632plus"] <= high + 1e-12
    calibration = result.calibration
    assert list(calibration.columns) == ["measure", "apparent", "optimism", "corrected", "n_boot"]
    assert set(calibration.index) == set(table.index)
    assert list(calibration["measure"].unique()) == ["intercept", "slope", "brier"]
    slope = calibration[calibration["measure"] == "slope"]
    np.testing.assert_allclose(slope["corrected"], slope["apparent"] - slope["optimism"])
    for model in slope.index:
        of_model = runs[runs["model"] == model]
        expected = slope.loc[model, "apparent"] - (of_model["boot_slope"] - of_model["original_slope"]).mean()
        assert slope.loc[model, "corrected"] == pytest.approx(expected)
    # the whole pipeline's optimism: the corrected slopes are below 1 (resample models overfit)
    assert (slope["corrected"] < slope["apparent"]).mean() >= 0.5
    curve = result.calibration_curve
    assert list(curve.columns) == ["model", "predicted", "apparent", "optimism", "corrected", "n"]
    assert (curve.groupby("model").size() == 50).all() and curve["n"].between(0, n_boot).all()
    np.testing.assert_allclose(curve["corrected"], curve["apparent"] - curve["optimism"])
    assert curve["predicted"].between(0, 1).all()


@pytest.mark.slow
def test_the_632_and_calibration_frames_are_saved_with_the_study_and_the_run(small_study, boot, tmp_path):
    from core.workflows.persistence import load_study, save_study
    from core.workflows.validation import load_saved_validation, save_validation, study_validation, with_bootstrap

    study = with_bootstrap(small_study, boot, seed=3)
    again = study_validation(load_study(save_study(study, tmp_path / "study")))
    assert again is not None
    pd.testing.assert_frame_equal(again.optimism, boot.table, check_dtype=False, check_names=False)
    pd.testing.assert_frame_equal(again.calibration, boot.calibration, check_dtype=False)
    pd.testing.assert_frame_equal(again.calibration_curve, boot.calibration_curve, check_dtype=False)
    pd.testing.assert_frame_equal(again.runs, boot.runs, check_dtype=False)
    cv = pd.DataFrame(columns=["repeat", "fold", "model", "auc"])
    save_validation(tmp_path / "run", small_study, boot, cv, {"n_boot": 4, "seed": 3, "folds": 3, "repeats": 1})
    saved = load_saved_validation(tmp_path / "run", small_study)
    assert saved is not None
    pd.testing.assert_frame_equal(saved["calibration"], boot.calibration, check_dtype=False)
    pd.testing.assert_frame_equal(saved["calibration_curve"], boot.calibration_curve, check_dtype=False)
    assert {"oob", "b632", "b632plus"} <= set(saved["optimism"].columns)


def test_632_plus_follows_efron_and_tibshirani():
    from core.workflows.validation import bootstrap_632

    assert bootstrap_632(0.8, 0.8) == pytest.approx((0.8, 0.8))  # no overfitting: both are the apparent
    assert bootstrap_632(0.8, 0.5)[1] == pytest.approx(0.5)  # R = 1: the out-of-bag (no-information) AUC
    assert bootstrap_632(0.8, 0.4) == pytest.approx((0.368 * 0.8 + 0.632 * 0.4, 0.5))  # oob' = max(oob, 0.5)
    # R = (0.9 - 0.7) / 0.4 = 0.5, w = 0.632 / (1 - 0.184)
    w = 0.632 / (1 - 0.368 * 0.5)
    assert bootstrap_632(0.9, 0.7) == pytest.approx((0.368 * 0.9 + 0.632 * 0.7, (1 - w) * 0.9 + w * 0.7))
    assert bootstrap_632(0.7, 0.75) == pytest.approx((0.368 * 0.7 + 0.632 * 0.75,) * 2)  # oob above: R = 0
    assert all(v != v for v in bootstrap_632(0.8, float("nan")))


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0), st.floats(min_value=0.0, max_value=1.0))
def test_632_plus_is_a_weighted_mean_of_the_floored_out_of_bag_and_the_apparent_auc(apparent, oob):
    from core.workflows.validation import bootstrap_632

    b632, plus = bootstrap_632(apparent, oob)
    assert b632 == pytest.approx(0.368 * apparent + 0.632 * oob)
    low, high = sorted([max(oob, 0.5), apparent])
    assert low - 1e-12 <= plus <= high + 1e-12
    if oob >= apparent or apparent <= 0.5:  # no overfitting to correct: R = 0, the .632 weights on oob'
        assert plus == pytest.approx(0.368 * apparent + 0.632 * max(oob, 0.5))


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


@pytest.mark.slow
def test_the_report_shows_the_632_auc_and_the_corrected_calibration(small_study, boot):
    from core.workflows.fit import fit_study, predict_study
    from core.workflows.report import build_report
    from core.workflows.validation import RESAMPLING_COLUMNS, with_bootstrap

    study = with_bootstrap(small_study, boot, seed=3)
    models = fit_study(study)
    report = build_report(study, models, predict_study(study, models), compress=False)
    part = report.html[report.html.index("<h2>Internal validation</h2>"):]
    for key in ("b632", "b632plus", "slope", "intercept", "brier"):
        assert RESAMPLING_COLUMNS[key] in part, key
    assert "0 and 1 by construction" in part and "whole pipeline" in part and ".632+" in part
    assert f"{boot.table.loc['fused', 'b632plus']:.3f}".rstrip("0") in part
