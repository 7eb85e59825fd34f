"""Internal validation of a time-to-event study (core.workflows.validation with core.stats.discrimination):
Harrell's bootstrap optimism and repeated CV report Harrell's C and the IPCW AUC at each horizon per model, with
the whole pipeline refitted in each resample; the binary study's frames keep their form.

Most tests stand a small deterministic fake in for the fitted study (``fit_study``/``predict_study`` as
validation.py imports them): a linear predictor made of each feature's training association with the event, which
overfits, so its optimism is positive. That isolates the resampling, the measures and the tables, and lets each
resample be recomputed by hand. The known answers of the measures themselves (against R's survival and
riskRegression) are in test_survival_discrimination.py; here the bootstrap's numbers must equal those functions
applied to the same predictions exactly (the same code path, so to 1e-12). The last test refits the real
pipeline (Cox learners, LASSO-Cox) on 300 sample patients.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.cohort import SplitConfig, split_cohort
from core.stats.discrimination import MEASURE, measures_for
from core.stats.outcomes import SurvivalOutcome
from core.stats.survival.concordance import harrell_c
from core.stats.survival.time_dependent import td_auc
from core.workflows import validation
from core.workflows.study import FeatureFamily, ModelSettings
from core.workflows.validation import (bootstrap_ids, discrimination_table, load_saved_validation,
                                       optimism_corrected_auc, repeated_cv_auc, save_validation, summarise_cv,
                                       validation_notes, validation_table, with_bootstrap, with_cv)
from tests.studies import small_sample_study

HORIZONS = (12.0, 36.0, 60.0)
LABELS = ["C-index", "AUC(t=12)", "AUC(t=36)", "AUC(t=60)"]
N_FEATURES = 30


def _survival_study(sample_study, n: int = 300, horizons=HORIZONS, width: int = 150):
    """The sample's first ``n`` patients with their overall survival (sample_data/survival.csv) as the outcome,
    the radiomics family cut to ``width`` features, the clinical model of tumour thickness and CEA."""
    from core.workflows.sample import SAMPLE_DIR

    survival = pd.read_csv(SAMPLE_DIR / "survival.csv").set_index("patient_id")
    ids = sample_study.cohort.index[:n]
    cohort = sample_study.cohort.loc[ids].join(survival)
    outcome = SurvivalOutcome(time_column="os_months", event_column="death", time_unit="months", horizons=horizons)
    spec = dataclasses.replace(sample_study.spec, outcome=outcome)
    family = sample_study.families[0]
    settings = dataclasses.replace(ModelSettings.for_outcome(outcome),
                                   clinical_continuous=("tumour_thickness_mm", "cea_ng_ml"), clinical_categorical=())
    return sample_study.replace(cohort=cohort, spec=spec, combined=(), is_sample=False, settings=settings,
                                families=(FeatureFamily(name=family.name, label=family.label,
                                                        table=family.table.loc[ids].iloc[:, :width]),),
                                split=split_cohort(cohort.reset_index(), spec, SplitConfig(seed=1)))


class FakeModels:
    """Stands in for :class:`core.workflows.fit.StudyModels` of a time-to-event study: per model a linear predictor
    (higher = higher risk). ``radiomics``: the first features, each weighted by its correlation with the event on
    the training patients (noise mostly, so it overfits); ``clinical``: tumour thickness with its sign."""

    model_names = ["clinical", "radiomics"]

    def __init__(self, study) -> None:
        event = study.spec.outcome.events(study.train).to_numpy(dtype=float)
        self.family = study.families[0].name
        X = study.families[0].table.loc[study.train_ids].iloc[:, :N_FEATURES].to_numpy(dtype=float)
        self.mean, self.sd = X.mean(axis=0), X.std(axis=0) + 1e-12
        Z = (X - self.mean) / self.sd
        self.coef = np.array([np.corrcoef(Z[:, j], event)[0, 1] for j in range(N_FEATURES)])
        thickness = study.train["tumour_thickness_mm"].to_numpy(dtype=float)
        self.sign = float(np.sign(np.corrcoef(thickness, event)[0, 1]))
        self.scores, self.screening = {}, {}
        self.notes: tuple[str, ...] = ()  # what a refit says (cv_fold keeps it in the fold's record)

    def predict(self, cohort: pd.DataFrame, tables) -> pd.DataFrame:
        X = tables[self.family].loc[cohort.index].iloc[:, :N_FEATURES].to_numpy(dtype=float)
        return pd.DataFrame({"clinical": self.sign * cohort["tumour_thickness_mm"].to_numpy(dtype=float),
                             "radiomics": ((X - self.mean) / self.sd) @ self.coef}, index=cohort.index)


@pytest.fixture
def fake_fit(monkeypatch):
    monkeypatch.setattr(validation, "fit_study", FakeModels)
    monkeypatch.setattr(validation, "predict_study",
                        lambda study, models: models.predict(study.cohort, study.feature_tables()))


@pytest.fixture(scope="module")
def survival_study(sample_study):
    return _survival_study(sample_study)


def _measured(study, frame: pd.DataFrame, risk: np.ndarray) -> dict[str, float]:
    """Harrell's C and the AUC at each horizon of ``risk`` in ``frame``'s patients, straight from the statistics."""
    time, event = study.spec.outcome.arrays(frame)
    aucs = td_auc(time, event, risk, study.spec.outcome.horizons)["auc"]
    return dict(zip(LABELS, [harrell_c(time, event, risk).c, *aucs], strict=True))


def test_the_bootstrap_reports_c_and_td_auc_per_model_each_resample_recomputable_by_hand(survival_study, fake_fit):
    study = survival_study
    result = optimism_corrected_auc(study, n_boot=6, seed=4)
    table = result.table
    assert list(table.columns) == [MEASURE, "apparent", "optimism", "corrected", "n_boot"]
    assert list(table.index) == [m for m in FakeModels.model_names for _ in LABELS]
    assert list(table[MEASURE]) == LABELS * 2
    np.testing.assert_allclose(table["corrected"], table["apparent"] - table["optimism"], rtol=0, atol=1e-15)
    # apparent: the statistics on the training patients' linear predictors
    apparent = FakeModels(study).predict(study.train, study.feature_tables())
    for model in FakeModels.model_names:
        expected = _measured(study, study.train, apparent[model].to_numpy())
        rows = table.loc[[model]].set_index(MEASURE)
        np.testing.assert_allclose(rows["apparent"], [expected[label] for label in LABELS], rtol=1e-12)
    # resample 2 by hand: its patients refitted, measured on themselves and on the original training cohort
    runs = result.runs
    assert list(runs.columns) == ["resample", "model", MEASURE, "boot", "original", "optimism"]
    ids = bootstrap_ids(study, 6, 4)[2]
    boot = validation._resampled(study, ids, "b2_")
    models = FakeModels(boot)
    on_boot = models.predict(boot.cohort, boot.feature_tables())["radiomics"].to_numpy()
    on_original = models.predict(study.train, study.feature_tables())["radiomics"].to_numpy()
    mine = runs[(runs["resample"] == 2) & (runs["model"] == "radiomics")].set_index(MEASURE)
    expected_boot, expected_original = _measured(study, boot.cohort, on_boot), _measured(study, study.train,
                                                                                         on_original)
    np.testing.assert_allclose(mine["boot"], [expected_boot[label] for label in LABELS], rtol=1e-12)
    np.testing.assert_allclose(mine["original"], [expected_original[label] for label in LABELS], rtol=1e-12)
    # optimism: the mean over resamples of boot - original, per model and measure
    by_hand = (runs["boot"] - runs["original"]).groupby([runs["model"], runs[MEASURE]]).mean()
    np.testing.assert_allclose(table.set_index(MEASURE, append=True)["optimism"], by_hand.loc[
        list(table.set_index(MEASURE, append=True).index)], rtol=1e-12)
    assert (table["n_boot"] == 6).all()
    # selecting 30 noise-weighted features is optimistic: the overfitted score's C and AUCs all drop
    radiomics = table.loc[["radiomics"]]
    assert (radiomics["optimism"] > 0).all() and (radiomics["corrected"] < radiomics["apparent"]).all()
    again = optimism_corrected_auc(study, n_boot=6, seed=4)
    pd.testing.assert_frame_equal(again.table, table, check_exact=True)  # seeded


def test_bootstrap_resamples_keep_the_events_and_the_censored_in_proportion(survival_study):
    study = survival_study
    events = study.spec.outcome.events(study.train)
    for ids in bootstrap_ids(study, 5, 11):
        assert len(ids) == len(events) and int(events.loc[ids].sum()) == int(events.sum())
        assert len(set(ids)) < len(ids)  # drawn with replacement


def test_repeated_cv_gives_held_out_c_and_td_auc_per_fold(survival_study, fake_fit):
    study = survival_study
    cv = repeated_cv_auc(study, n_folds=3, n_repeats=2, seed=2)
    assert list(cv.columns) == ["repeat", "fold", "model", MEASURE, "value"]
    assert len(cv) == 3 * 2 * 2 * len(LABELS) and cv.attrs["folds_run"] == 6
    assert cv["value"].between(0, 1).all()
    # fold 1 of repeat 1 by hand: refitted on the other folds, measured on the held-out patients
    from sklearn.model_selection import RepeatedStratifiedKFold

    train_ids = np.array(study.train_ids)
    strata = study.spec.outcome.strata(study.train).to_numpy()
    fit_rows, held_rows = next(RepeatedStratifiedKFold(n_splits=3, n_repeats=2, random_state=2).split(train_ids,
                                                                                                      strata))
    models = FakeModels(validation._training_only(study, train_ids[fit_rows].tolist()))
    held = study.cohort.loc[train_ids[held_rows]]
    expected = _measured(study, held, models.predict(held, study.feature_tables())["radiomics"].to_numpy())
    mine = cv[(cv["repeat"] == 1) & (cv["fold"] == 1) & (cv["model"] == "radiomics")].set_index(MEASURE)["value"]
    np.testing.assert_allclose(mine.loc[LABELS], [expected[label] for label in LABELS], rtol=1e-12)
    summary = summarise_cv(cv)
    assert list(summary.columns) == [MEASURE, "mean", "sd", "min", "max", "folds"]
    assert list(summary[MEASURE]) == LABELS * 2 and (summary["folds"] == 6).all()
    rows = cv[(cv["model"] == "clinical") & (cv[MEASURE] == "AUC(t=36)")]["value"]
    clinical = summary.loc[["clinical"]].set_index(MEASURE).loc["AUC(t=36)"]
    assert clinical["mean"] == pytest.approx(rows.mean(), rel=1e-12)
    assert clinical["sd"] == pytest.approx(rows.std(ddof=1), rel=1e-12)


def test_tables_notes_and_the_saved_run_of_a_survival_study(survival_study, fake_fit, tmp_path):
    study = survival_study
    result = optimism_corrected_auc(study, n_boot=3, seed=1)
    cv = repeated_cv_auc(study, n_folds=3, n_repeats=1, seed=1)
    predictions = FakeModels(study).predict(study.cohort, study.feature_tables())
    measured = discrimination_table(study, predictions, FakeModels.model_names)
    assert list(measured.columns) == ["model", MEASURE, "train", "test"]
    np.testing.assert_allclose(measured.set_index(["model", MEASURE]).loc[
        [("radiomics", label) for label in LABELS], "train"], result.table.loc[["radiomics"], "apparent"],
        rtol=1e-12)
    table = validation_table(measured, FakeModels.model_names, result.table, cv)
    assert list(table.columns) == [MEASURE, "apparent (training)", "test", "optimism", "optimism-corrected",
                                   "resamples", "repeated CV (mean)", "repeated CV (SD)"]
    assert list(table.index) == ["clinical"] * 4 + ["radiomics"] * 4 and list(table[MEASURE]) == LABELS * 2
    assert table.notna().all().all()
    # without the test cohort's values: the bootstrap's apparent values stand for the training column
    alone = validation_table(None, ["radiomics"], result.table, None)
    np.testing.assert_array_equal(alone["apparent (training)"], result.table.loc[["radiomics"], "apparent"])
    # kept with the study and in words
    run = with_cv(with_bootstrap(study, result, seed=1), cv, folds=3, repeats=1, seed=1).current_validation()
    notes = " ".join(validation_notes(study, run))
    assert "3 resamples, seed 1" in notes and "1 x 3-fold" in notes and "could be estimated" not in notes
    # saved and read back: the measure column travels with the tables
    save_validation(tmp_path, study, result, cv, {"n_boot": 3, "seed": 1, "folds": 3, "repeats": 1})
    saved = load_saved_validation(tmp_path, study)
    pd.testing.assert_frame_equal(saved["optimism"], result.table, check_exact=False, rtol=1e-15)
    pd.testing.assert_frame_equal(saved["runs"], result.runs, check_exact=False, rtol=1e-15)
    pd.testing.assert_frame_equal(saved["cv"], cv, check_exact=False, rtol=1e-15)


def test_a_measure_that_cannot_be_estimated_is_left_out_and_said(survival_study):
    """A horizon with no event by it: NaN in a resample or fold (left out of that measure's average, counted and
    said), refused on the training cohort (the apparent value) with what to do."""
    study = survival_study
    outcome = study.spec.outcome
    measures = measures_for(outcome)
    assert measures.labels(outcome) == tuple(LABELS)
    train = study.train
    lp = pd.Series(np.linspace(0, 1, len(train)), index=train.index)
    early = train[(train["os_months"] > 12) | (train["death"] == 0)]  # nobody has died by 12 months
    values = measures.score(outcome, early, lp.loc[early.index], False)
    assert np.isnan(values["AUC(t=12)"]) and np.isfinite(values["AUC(t=36)"]) and np.isfinite(values["C-index"])
    with pytest.raises(RadNomoError, match="no event at or before the horizon 12"):
        measures.score(outcome, early, lp.loc[early.index], True)
    # a run in which AUC(t=12) of the radiomics score was missing from one of its two resamples
    runs = pd.DataFrame([{"resample": r, "model": "radiomics", MEASURE: label, "boot": 0.7, "original": 0.6}
                         for r in (0, 1) for label in LABELS if (r, label) != (1, "AUC(t=12)")])
    runs = runs.assign(optimism=runs["boot"] - runs["original"])
    table = (runs.groupby(["model", MEASURE], sort=False).agg(optimism=("optimism", "mean"),
                                                               n_boot=("optimism", "size"))
             .reset_index(MEASURE).assign(apparent=0.7))
    table["corrected"] = table["apparent"] - table["optimism"]
    result = validation.OptimismResult(table=table[[MEASURE, "apparent", "optimism", "corrected", "n_boot"]],
                                       runs=runs, resamples=pd.DataFrame({"fitted": [True, True], "error": ["", ""]},
                                                                         index=pd.Index([0, 1], name="resample")),
                                       requested=2)
    notes = " ".join(validation_notes(study, with_bootstrap(study, result, seed=0).current_validation()))
    assert "AUC(t=12) could be estimated in 1 of the 2 resamples where the model was refitted" in notes
    assert validation.UNESTIMABLE_TREATMENT in notes


def test_a_horizon_without_events_in_the_training_cohort_is_refused(sample_study, fake_fit):
    study = _survival_study(sample_study, n=120, horizons=(0.05, 36.0))
    with pytest.raises(RadNomoError, match="no event at or before the horizon 0.05"):
        optimism_corrected_auc(study, n_boot=2, seed=0)


def test_threads_give_the_serial_numbers_for_a_survival_study(survival_study, fake_fit):
    serial = optimism_corrected_auc(survival_study, n_boot=3, seed=8)
    threads = optimism_corrected_auc(survival_study, n_boot=3, seed=8, where="threads")
    pd.testing.assert_frame_equal(threads.table, serial.table, check_exact=True)
    pd.testing.assert_frame_equal(threads.runs, serial.runs, check_exact=True)


def test_the_binary_study_keeps_its_frames(sample_study, monkeypatch):
    """No ``measure`` column and the AUC names for a binary outcome: its saved validations read as before."""
    class FakeBinary(FakeModels):
        def predict(self, cohort, tables):
            return 1 / (1 + np.exp(-super().predict(cohort, tables)))

    monkeypatch.setattr(validation, "fit_study", FakeBinary)
    monkeypatch.setattr(validation, "predict_study",
                        lambda study, models: models.predict(study.cohort, study.feature_tables()))
    study = small_sample_study(sample_study, SplitConfig(seed=1), n=150, widths=(40, 10))
    result = optimism_corrected_auc(study, n_boot=2, seed=0)
    # ... and, from issue 28, the .632/.632+ AUC and the recalibration of each resample after them
    assert list(result.table.columns) == ["apparent", "optimism", "corrected", "n_boot", "oob", "b632", "b632plus",
                                          "n_oob"]
    assert list(result.table.index) == FakeModels.model_names and result.table.index.name == "model"
    assert list(result.runs.columns) == ["resample", "model", "boot_auc", "original_auc", "oob_auc", "boot_intercept",
                                         "original_intercept", "boot_slope", "original_slope", "boot_brier",
                                         "original_brier", "optimism"]
    cv = repeated_cv_auc(study, n_folds=3, n_repeats=1)
    assert list(cv.columns) == ["repeat", "fold", "model", "auc"]
    assert list(summarise_cv(cv).columns) == ["mean", "sd", "min", "max", "folds"]
    from sklearn.metrics import roc_auc_score

    from core.stats.summaries import auc_table

    predicted = FakeBinary(study).predict(study.train, study.feature_tables())
    assert result.table.loc["radiomics", "apparent"] == roc_auc_score(study.spec.outcome.events(study.train),
                                                                      predicted["radiomics"])
    # the table the pages give validation_table: auc_table's, as before
    predictions = FakeBinary(study).predict(study.cohort, study.feature_tables())
    aucs = discrimination_table(study, predictions, FakeModels.model_names)
    pd.testing.assert_frame_equal(aucs, auc_table(predictions, study.outcome, study.cohorts(), FakeModels.model_names))
    table = validation_table(aucs, FakeModels.model_names, result.table, cv)
    assert list(table.columns) == ["apparent (training)", "test", "optimism", "optimism-corrected", "resamples",
                                   "repeated CV (mean)", "repeated CV (SD)"]


def test_an_outcome_kind_without_measures_is_refused():
    with pytest.raises(RadNomoError, match="no discrimination measure for the outcome kind 'ordinal'"):
        measures_for("ordinal")


@pytest.mark.slow
def test_the_real_pipeline_on_300_sample_patients(survival_study):
    """Cox learners and LASSO-Cox refitted in each of 10 resamples and 2 x 3 folds (10-60 s on a shared machine)."""
    from core.workflows.fit import fit_study, predict_study

    study = survival_study
    result = optimism_corrected_auc(study, n_boot=10, seed=0)
    table, resamples = result.table, result.resamples
    assert list(table[MEASURE]) == LABELS * (len(table) // len(LABELS)) and "clinical" in table.index
    assert table["apparent"].between(0, 1).all()
    np.testing.assert_allclose(table["corrected"], table["apparent"] - table["optimism"], atol=1e-15)
    assert len(resamples) == 10 and resamples["fitted"].all()
    # every measure of a model is averaged over the resamples where the model was refitted
    assert (table.loc[["clinical"], "n_boot"] == 10).all()
    for model in [m for m in table.index.unique() if m != "clinical"]:
        assert (table.loc[[model], "n_boot"] == int((resamples["radiomics"] > 0).sum())).all(), model
    # the apparent values are those of the study's own fit and predictions (the same code, the same numbers)
    models = fit_study(study)
    measured = discrimination_table(study, predict_study(study, models), models.model_names)
    np.testing.assert_allclose(measured["train"], table["apparent"], rtol=1e-12)
    cv = repeated_cv_auc(study, n_folds=3, n_repeats=2, seed=0)
    assert cv["value"].between(0, 1).all() and set(cv[MEASURE]) == set(LABELS)
    assert (summarise_cv(cv).loc[["clinical"], "folds"] == 6).all()
