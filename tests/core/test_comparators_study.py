"""Comparator learners in a study (issue 31): fitted beside the scores on the training patients only, predicted,
saved and reopened without pickle to identical predictions, evaluated like any model, explained by SHAP, refitted
(tuning included) inside the bootstrap, reported, and driven from ``core.analyse --learners``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.cohort import SplitConfig
from core.stats.evaluation import roc_auc
from core.stats.learners import learners_for
from core.vocabulary import COMPARATOR_METHODS, COMPARATOR_ROLE, comparator_name
from core.workflows.explanations import SHAP_COLUMNS, shap_table, study_explanations
from core.workflows.fit import StudyModels, fit_study, predict_study
from core.workflows.study import FeatureFamily, ModelSettings
from tests.studies import sample_slice_arguments, small_sample_study

LEARNERS = ("random_forest", "svm", "xgboost", "elastic_net")  # the binary outcome's comparators


@pytest.fixture(scope="module")
def study(sample_study):
    """300 sample patients, their first 150 radiomics features alone (one family: each comparator is fitted once
    per family, tuning included, and a test refits the study), every comparator learner on the LASSO's selection."""
    small = small_sample_study(sample_study, SplitConfig(), widths=(150, 60))
    return small.replace(families=small.families[:1], combined=()).with_settings(comparators=LEARNERS)


@pytest.fixture(scope="module")
def models(study) -> StudyModels:
    return fit_study(study)


@pytest.fixture(scope="module")
def predictions(study, models) -> pd.DataFrame:
    return predict_study(study, models)


def test_every_comparator_learner_is_registered_under_its_vocabulary_name():
    assert {name: learner.label for name, learner in learners_for(COMPARATOR_ROLE).items()} == COMPARATOR_METHODS
    assert tuple(learners_for(COMPARATOR_ROLE, "binary")) == LEARNERS
    assert tuple(learners_for(COMPARATOR_ROLE, "survival")) == ("boosted_cox",)
    with pytest.raises(RadNomoError, match="comparator learner"):
        ModelSettings(comparators=("forest",))
    with pytest.raises(RadNomoError, match="distinct"):
        ModelSettings(comparators=("svm", "svm"))


def test_comparators_are_models_of_the_study_named_by_family_and_learner(study, models, predictions):
    expected = [comparator_name(family, learner) for family in models.scores for learner in LEARNERS]
    assert list(models.comparators) == expected == [m for m in study.model_names if m in models.comparators]
    assert models.model_names[-len(expected):] == expected  # after clinical, the scores and fused
    for name, model in models.comparators.items():
        family, _ = study.comparator_models[name]
        assert models.members[name] == study.members(family)
        assert list(model.variables) == list(models.scores[family].variables)  # the LASSO's selection by default
        assert study.model_label(name).startswith(study.family_label(family))
        risk = predictions[name]
        assert risk.notna().all() and ((risk > 0) & (risk < 1)).all()
        test = study.test_ids
        assert 0.5 < roc_auc(study.outcome.loc[test], risk.loc[test]).auc < 1.0
        assert model.table["chosen"].sum() == 1 and not model.drawable


def test_comparator_tuning_never_sees_a_test_patient(study, models, predictions):
    """Scramble every test patient's outcome and features: each comparator's tuning table, chosen
    hyper-parameters and training predictions stay exactly as they were."""
    rng = np.random.default_rng(3)
    test = study.test_ids
    cohort = study.cohort.copy()
    cohort.loc[test, "lm"] = 1 - cohort.loc[test, "lm"]
    families = []
    for family in study.families:
        table = family.table.copy()
        table.loc[test] = table.loc[test].to_numpy() * rng.lognormal(0, 1, size=(len(test), table.shape[1]))
        families.append(FeatureFamily(name=family.name, label=family.label, table=table, kind=family.kind))
    changed = study.replace(cohort=cohort, families=tuple(families))
    refit = fit_study(changed)
    train = study.train_ids
    refit_predictions = predict_study(changed, refit)
    for name, model in models.comparators.items():
        pd.testing.assert_frame_equal(refit[name].table, model.table)
        assert dict(refit[name].params) == dict(model.params)
        pd.testing.assert_series_equal(refit_predictions.loc[train, name], predictions.loc[train, name])


def test_saved_comparators_reload_without_pickle_to_identical_predictions(study, models, predictions, tmp_path):
    from core.workflows.persistence import load_study, load_study_models, save_study

    text = json.dumps(models.to_dict())
    assert "pickle" not in text.lower() and "__reduce__" not in text
    back = StudyModels.from_dict(json.loads(text))
    assert list(back.comparators) == list(models.comparators)
    pd.testing.assert_frame_equal(predict_study(study, back), predictions)
    folder = save_study(study, tmp_path / "study", models)
    reopened = load_study(folder)
    assert reopened.settings.comparators == LEARNERS
    stored = load_study_models(folder, reopened)
    pd.testing.assert_frame_equal(predict_study(reopened, stored), predictions)


def test_screened_features_give_every_feature_that_reached_the_lasso(study):
    screened = study.with_settings(comparators=("elastic_net",), comparator_features="screened")
    models = fit_study(screened)
    for family, result in models.screening.items():
        name = comparator_name(family, "elastic_net")
        assert models[name].variables == tuple(result.reaching_lasso)
        assert len(models[name].variables) >= len(result.selected)


def test_shap_of_scores_and_comparators(study, models):
    explanations = study_explanations(study, models)
    assert set(explanations) == {*models.scores, *models.comparators}
    for name, explanation in explanations.items():
        assert list(explanation.values.columns) == list(models[name].variables)
        assert len(explanation.values) == min(len(study.train_ids), getattr(models[name], "SHAP_PATIENTS", 300))
        model, train = models[name], explanation.data
        output = model.predict_risk(train) if explanation.output == "probability" else model.linear_predictor(train)
        # Additivity: base value + SHAP values = the model's output (exact for linear and tree SHAP)
        np.testing.assert_allclose(explanation.total().to_numpy(), output.to_numpy(), atol=1e-5)
    table = shap_table(explanations, study.model_labels())
    assert list(table.columns) == list(SHAP_COLUMNS)
    assert (table.groupby("model")["rank"].min() == 1).all()
    top = table[table["rank"] == 1].set_index("model")["mean_abs_shap"]
    assert (top > 0).all()


def test_the_report_says_which_learners_grids_and_tuning(study, models, predictions):
    from core.workflows.report import build_report, methods_text

    methods = " ".join(methods_text(study, models))
    for learner in LEARNERS:
        assert COMPARATOR_METHODS[learner] in methods
    assert "tuned on the training patients only" in methods and "out-of-bag AUC" in methods
    assert "tuned by 5-fold stratified cross-validation AUC" in methods and "grid" in methods
    report = build_report(study, models, predictions)
    assert "Comparator learners" in report.html and "SHAP importance" in report.html


@pytest.mark.slow
def test_the_bootstrap_refits_the_comparators_tuning_included(study):
    from core.workflows.validation import optimism_corrected_auc

    one = study.with_settings(comparators=("elastic_net",))
    result = optimism_corrected_auc(one, n_boot=10, seed=1)
    names = [comparator_name("radiomics", "elastic_net")]
    assert set(names) <= set(result.table.index)
    assert result.table.loc[names, "corrected"].between(0.3, 1).all()


@pytest.mark.slow
def test_core_analyse_learners_writes_rows_per_learner_delong_and_shap(tmp_path, capsys):
    from core.cli.analyse import main

    common = sample_slice_arguments(tmp_path)
    assert main([*common, "--learners", "lasso,forest", "--out", str(tmp_path / "no")]) == 2
    assert "unknown learner(s) forest" in capsys.readouterr().err
    out = tmp_path / "out"
    assert main([*common, "--learners", "lasso,random_forest,svm,xgboost", "--out", str(out)]) == 0
    table2 = pd.read_csv(out / "table2.csv")
    assert {"radiomics", "radiomics_random_forest", "radiomics_svm", "radiomics_xgboost"} <= set(table2["model"])
    delong = pd.read_csv(out / "delong.csv")
    pairs = set(zip(delong["model_a"], delong["model_b"], strict=True))
    assert ("radiomics", "radiomics_random_forest") in pairs or ("radiomics_random_forest", "radiomics") in pairs
    shap = pd.read_csv(out / "shap.csv")
    assert {"radiomics", "radiomics_random_forest", "radiomics_svm", "radiomics_xgboost"} == set(shap["model"])
    assert "Gradient boosting (XGBoost)" in (out / "report.html").read_text()


def test_a_time_to_event_study_takes_the_gradient_boosted_cox_comparator(sample_study, tmp_path):
    """The survival sample cut to 300 patients and its radiomics family: the boosted Cox comparator is a model of the
    study with a linear predictor and survival at each horizon, evaluated by Harrell's C, explained on the log
    relative hazard, and reloaded to identical predictions; a binary comparator is refused for a time to event."""
    from core.stats.cohort import split_cohort
    from core.stats.survival.concordance import harrell_c
    from core.vocabulary import survival_column
    from core.workflows.sample import sample_survival_study

    full = sample_survival_study()
    ids = full.cohort.index[:300]
    radiomics = full.families[0]
    family = FeatureFamily(name=radiomics.name, label=radiomics.label, table=radiomics.table.loc[ids].iloc[:, :150])
    cohort = full.cohort.loc[ids]
    study = full.replace(cohort=cohort, families=(family,), combined=(), is_sample=False,
                         split=split_cohort(cohort.reset_index(), full.spec, SplitConfig()))
    with pytest.raises(RadNomoError, match="do not fit a survival outcome"):
        study.with_settings(comparators=("random_forest",)).settings.check_outcome(study.spec.outcome)
    # every feature that reached the LASSO-Cox (which keeps none of these 150 for the score: a note says so)
    study = study.with_settings(comparators=("boosted_cox",), comparator_features="screened",
                                clinical_continuous=("tumour_thickness_mm",), clinical_categorical=())
    models = fit_study(study)
    name = comparator_name("radiomics", "boosted_cox")
    assert name in models.comparators and models.roles[name] == COMPARATOR_ROLE
    predictions = predict_study(study, models)
    for horizon in study.spec.outcome.horizons:
        survival = predictions[survival_column(name, horizon)]
        assert survival.between(0, 1).all()
    test = study.test_ids
    time, event = study.cohort.loc[test, "os_months"], study.cohort.loc[test, "death"]
    assert harrell_c(time.to_numpy(), event.to_numpy(), predictions.loc[test, name].to_numpy()).c > 0.5
    back = StudyModels.from_dict(json.loads(json.dumps(models.to_dict())))
    pd.testing.assert_frame_equal(predict_study(study, back), predictions)
    explanation = study_explanations(study, models)[name]
    assert explanation.output == "log relative hazard"
    np.testing.assert_allclose(explanation.total().to_numpy(),
                               models[name].linear_predictor(explanation.data).to_numpy(), atol=1e-6)
