"""The study's evaluation settings and its latest internal validation: validated, part of (or kept out of) its
fingerprint as they should be, saved with it and reopened, and older saves still open."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.cohort import SplitConfig, split_cohort
from core.workflows.persistence import STUDY_FILE, load_study, load_study_models, save_study
from core.workflows.study import EvaluationSettings, FeatureFamily, ModelSettings
from core.workflows.validation import optimism_corrected_auc, repeated_cv_auc, with_bootstrap, with_cv


@pytest.fixture(scope="module")
def small_study(sample_study):
    ids = sample_study.cohort.index[:240]
    families = (FeatureFamily(name="radiomics", label="Radiomics",
                              table=sample_study.family("radiomics").table.loc[ids].iloc[:, :80]),)
    cohort = sample_study.cohort.loc[ids]
    split = split_cohort(cohort.reset_index(), sample_study.spec, SplitConfig(seed=4))
    settings = ModelSettings(clinical_continuous=("tumour_thickness_mm", "cea_ng_ml"), clinical_categorical=())
    return sample_study.replace(name="small", cohort=cohort, split=split, families=families, combined=(),
                                settings=settings, is_sample=False)


@pytest.fixture(scope="module")
def validated(small_study):
    study = small_study.replace(evaluation=EvaluationSettings(cutoff_rule="sensitivity", cutoff_value=0.85,
                                                              proportion_ci="wilson"))
    study = with_bootstrap(study, optimism_corrected_auc(study, n_boot=2, seed=2), seed=2)
    return with_cv(study, repeated_cv_auc(study, n_folds=3, n_repeats=1, seed=2), folds=3, repeats=1, seed=2)


@pytest.mark.parametrize("values, message", [
    ({"cutoff_rule": "median"}, "cut-off rule 'median' is not valid"),
    ({"cutoff_rule": "fixed"}, "needs a value"),
    ({"cutoff_rule": "fixed", "cutoff_value": 1.2}, "between 0 and 1"),
    ({"cutoff_rule": "sensitivity", "cutoff_value": 0.0}, "(0, 1]"),
    ({"cutoff_rule": "youden", "cutoff_value": 0.4}, "Youden's index chooses the cut-off itself"),
    ({"proportion_ci": "exact"}, "proportion CI method 'exact' is not valid"),
])
def test_evaluation_settings_refuse_what_cannot_be_used(values, message):
    with pytest.raises(RadNomoError, match=message.replace("(", r"\(").replace(")", r"\)").replace("]", r"\]")):
        EvaluationSettings(**values)


@pytest.mark.slow
def test_evaluation_settings_are_in_the_fingerprint_but_refit_nothing(small_study, sample_predictions,
                                                                      sample_study):
    assert small_study.fingerprint == small_study.model_fingerprint  # defaults: the hash stored fits were made under
    fixed = small_study.replace(evaluation=EvaluationSettings(cutoff_rule="fixed", cutoff_value=0.3))
    assert fixed.fingerprint != small_study.fingerprint
    assert fixed.model_fingerprint == small_study.model_fingerprint
    assert fixed.validation_key == small_study.validation_key
    assert fixed.evaluation.describe() == "Fixed probability 0.30"
    models = ["clinical", "fused"]
    cutoffs = fixed.evaluation.cutoffs(sample_predictions, sample_study.outcome, sample_study.train_ids, models)
    assert cutoffs == {"clinical": 0.3, "fused": 0.3}
    sensitivity = EvaluationSettings(cutoff_rule="sensitivity", cutoff_value=0.9).cutoffs(
        sample_predictions, sample_study.outcome, sample_study.train_ids, models)
    train = sample_study.train_ids
    for model in models:  # the highest training cut-off reaching 90 % sensitivity
        positive = sample_predictions.loc[train, model] >= sensitivity[model]
        events = sample_study.outcome.loc[train] == 1
        assert (positive & events).sum() / events.sum() >= 0.9


def test_validation_is_kept_only_while_the_study_stays_the_same(validated):
    run = validated.current_validation()
    assert run is not None and run.meta["bootstrap"]["done"] == 2 and run.meta["cv"]["folds"] == 3
    assert validated.replace(name="renamed").current_validation() is run  # a name does not change what was run
    assert validated.with_settings(clinical_p=0.1).current_validation() is None
    assert validated.without_patients([validated.train_ids[0]], "test").current_validation() is None


def test_evaluation_settings_and_validation_saved_and_reopened(tmp_path, validated):
    from core.workflows.fit import fit_study

    models = fit_study(validated)
    folder = save_study(validated, tmp_path / "study", models)
    reopened = load_study(folder)
    assert reopened.evaluation == validated.evaluation
    assert reopened.fingerprint == validated.fingerprint
    assert load_study_models(folder, reopened) is not None  # saved models follow the model fingerprint
    run, saved = validated.current_validation(), reopened.current_validation()
    assert saved is not None and dict(saved.meta) == json.loads(json.dumps(dict(run.meta)))
    pd.testing.assert_frame_equal(saved.optimism, run.optimism, check_dtype=False)
    pd.testing.assert_frame_equal(saved.runs, run.runs, check_dtype=False)
    pd.testing.assert_frame_equal(saved.resamples, run.resamples, check_dtype=False)
    pd.testing.assert_frame_equal(saved.cv, run.cv, check_dtype=False)
    # An exported study (one zip) imports with its run.
    from core.workflows.persistence import export_study, import_study

    imported = load_study(import_study(export_study(folder, tmp_path / "study.zip"), tmp_path / "imported"))
    assert imported.current_validation() is not None and imported.evaluation == validated.evaluation
    # A run made on other settings is not saved with the study.
    other = save_study(validated.with_settings(clinical_p=0.1), tmp_path / "other")
    assert json.loads((other / STUDY_FILE).read_text())["validation"] is None
    assert not [p for p in other.iterdir() if p.name.startswith("validation_")]


def test_a_study_saved_before_these_settings_opens_with_the_defaults(tmp_path, validated):
    folder = save_study(validated, tmp_path / "old")
    description = json.loads((folder / STUDY_FILE).read_text())
    del description["evaluation"], description["validation"]
    (folder / STUDY_FILE).write_text(json.dumps(description))
    reopened = load_study(folder)
    assert reopened.evaluation == EvaluationSettings() and reopened.validation is None
