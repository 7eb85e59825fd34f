"""A study's models end to end: no test row leaks into any fit; scores and models are what they claim; any
shape of study (one family, several, clinical only, a combined family of the user's) is fitted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.selection import ScreeningSettings
from core.stats.summaries import auc_table
from core.vocabulary import CLINICAL, FUSED
from core.workflows.fit import fit_study, predict_study
from core.workflows.study import CombinedFamily, FeatureFamily, ModelSettings


@pytest.mark.slow
def test_perturbing_the_test_cohort_changes_no_fitted_step(sample_study, sample_models):
    rng = np.random.default_rng(0)
    test = sample_study.test_ids
    # Scramble everything known about the test patients: outcomes, clinical values, all features.
    cohort = sample_study.cohort.copy()
    cohort.loc[test, "lm"] = rng.permutation(cohort.loc[test, "lm"].to_numpy())
    cohort.loc[test, "cea_ng_ml"] = rng.uniform(0, 500, len(test))
    cohort.loc[test, "sex"] = "female"
    families = []
    for family in sample_study.families:
        table = family.table.copy()
        table.loc[test] = table.loc[test].to_numpy() * rng.lognormal(0, 1, size=(len(test), table.shape[1]))
        families.append(FeatureFamily(name=family.name, label=family.label, table=table, kind=family.kind))
    refit = fit_study(sample_study.replace(cohort=cohort, families=tuple(families)))
    models = sample_models
    for family, result in models.screening.items():
        assert refit.screening[family].kept == result.kept
        pd.testing.assert_series_equal(refit.screening[family].lasso.coef_, result.lasso.coef_)
        np.testing.assert_array_equal(refit.screening[family].lasso.cv_mean, result.lasso.cv_mean)
    for name, score in models.scores.items():
        pd.testing.assert_series_equal(refit.scores[name].coefs, score.coefs)
    pd.testing.assert_series_equal(refit.clinical.fit.params, models.clinical.fit.params)
    pd.testing.assert_series_equal(refit.fused.fit.params, models.fused.fit.params)
    pd.testing.assert_frame_equal(refit.univariable, models.univariable)


@pytest.mark.slow
def test_sample_study_fits_every_model_and_scores_the_test_cohort(sample_study, sample_models, sample_predictions):
    models = sample_models
    assert list(models.scores) == ["radiomics", "dl", "dl_radiomics"] and models.fused_score == "dl_radiomics"
    assert models.notes == () and models.warnings == ()  # every fit converged
    # A mapping of named fitted models with roles; the views are read from it.
    assert models.roles == {"clinical": CLINICAL, "radiomics": "score", "dl": "score", "dl_radiomics": "score",
                            "fused": FUSED}
    assert models.clinical is models[CLINICAL] and models.fused is models[FUSED] and models.main_model == FUSED
    assert {m.learner for m in models.values()} == {"logistic", "refit"} and all(m.converged for m in models.values())
    names = models.model_names
    assert names == ["clinical", "radiomics", "dl", "dl_radiomics", "fused"] == sample_study.model_names
    test = sample_predictions.loc[sample_study.test_ids]
    assert test[names].notna().all().all()
    assert ((test[names] > 0) & (test[names] < 1)).all().all()
    # Every family's funnel only shrinks.
    for result in models.screening.values():
        counts = result.funnel["n_features"].tolist()
        assert counts == sorted(counts, reverse=True) and counts[-1] > 0


@pytest.mark.slow
def test_sample_study_keeps_the_readme_numbers(sample_study, sample_models, sample_predictions):
    # The README's sample-study table (3 decimals) and funnel; the sample is one Study among others.
    aucs = auc_table(sample_predictions, sample_study.outcome, sample_study.cohorts(), sample_models.model_names)
    expected = {"train": [0.747, 0.746, 0.838, 0.859, 0.889], "test": [0.688, 0.701, 0.719, 0.739, 0.772]}
    for cohort, values in expected.items():
        np.testing.assert_allclose(aucs.loc[cohort].to_numpy(), values, atol=5e-4)
    funnels = {f: r.funnel["n_features"].tolist() for f, r in sample_models.screening.items()}
    assert funnels == {"radiomics": [1874, 936, 45, 16, 7], "dl": [512, 512, 505, 157, 39],
                       "dl_radiomics": [2386, 1448, 548, 170, 41]}


@pytest.mark.slow
def test_refit_score_equals_statsmodels_on_the_raw_selected_features(sample_study, sample_models):
    import statsmodels.api as sm

    score = sample_models.scores["radiomics"]
    X = sample_study.family("radiomics").table.loc[sample_study.train_ids, list(score.features)]
    y = sample_study.train["lm"]
    reference = sm.Logit(y.to_numpy(), sm.add_constant(X)).fit(disp=0)
    # Standardising is an affine change of the predictors: the log-odds are the same.
    np.testing.assert_allclose(score.score(X), reference.fittedvalues, atol=1e-6)
    assert "radiomics score =" in score.formula and all(f in score.formula for f in score.features)


@pytest.mark.slow
def test_lasso_score_is_the_lasso_linear_predictor(sample_study, sample_models):
    from core.stats.modeling import build_score

    lasso = sample_models.screening["dl"].lasso
    X = sample_study.family("dl").table.loc[sample_study.train_ids]
    score = build_score("dl", X, sample_study.train["lm"], lasso, method="lasso")
    np.testing.assert_allclose(score.score(X), lasso.linear_predictor(X), atol=1e-10)
    assert score.fit is None and list(score.table.columns) == ["coef", "train_mean", "train_sd"]
    # Showing a score's table leaves the fitted objects as they were (its index is theirs).
    assert score.table.index.name == "feature"
    assert score.coefs.index.name is None and lasso.coef_.index.name is None


@pytest.mark.slow
def test_vif_equals_one_over_one_minus_r_squared(sample_study, sample_models):
    from sklearn.linear_model import LinearRegression

    model = sample_models.clinical
    design = model.design(sample_study.train)
    for column in design.columns:
        others = design.drop(columns=column)
        r_squared = LinearRegression().fit(others, design[column]).score(others, design[column])
        assert model.vif[column] == pytest.approx(1 / (1 - r_squared), rel=1e-8)
    assert "VIF" in model.table.columns


def test_univariable_variable_p_is_the_likelihood_ratio_test(sample_cohort):
    import statsmodels.api as sm

    from core.stats.modeling import univariable_logistic

    table = univariable_logistic(sample_cohort, "lm", continuous=["cea_ng_ml"], categorical=["cn_stage"])
    stage = pd.get_dummies(sample_cohort["cn_stage"], drop_first=True, dtype=float)
    reference = sm.Logit(sample_cohort["lm"], sm.add_constant(stage)).fit(disp=0)
    assert table.loc[table.variable == "cn_stage", "variable_p"].iloc[0] == pytest.approx(reference.llr_pvalue)
    assert table.loc[table.variable == "cn_stage", "term"].tolist() == [f"cn_stage: {c}" for c in stage.columns]
    np.testing.assert_allclose(table.loc[table.variable == "cn_stage", "p_value"], reference.pvalues[1:])


def test_model_edge_cases_get_specific_messages(sample_cohort):
    from core.stats.modeling import events_per_variable, fit_model

    one_level = sample_cohort.assign(site="centre A")
    with pytest.raises(RadNomoError, match="one level only"):
        fit_model("clinical", one_level, "lm", categorical=["site"])
    separated = sample_cohort.assign(leak=sample_cohort["lm"] * 10.0)
    with pytest.raises(RadNomoError, match="separated"):
        fit_model("clinical", separated, "lm", continuous=["leak"])
    small = fit_model("clinical", sample_cohort.head(60), "lm", continuous=["age", "cea_ng_ml"],
                      categorical=["location", "cn_stage"])
    assert events_per_variable(small) < 10
    with pytest.raises(RadNomoError, match="at least one predictor"):
        fit_model("clinical", sample_cohort, "lm")


def test_empty_selection_is_reported_not_raised(sample_study):
    deep_only = sample_study.without_family("radiomics").with_settings(
        screening=ScreeningSettings(p_threshold=1e-12))
    models = fit_study(deep_only)
    assert "dl" not in models.scores and models.fused is None
    assert any("no feature passed" in note for note in models.notes)
    assert models.screening["dl"].funnel["n_features"].iloc[-1] == 0
    assert models.model_names == [CLINICAL]


# ---------------------------------------------------------------------------------------------
# Studies of any shape
# ---------------------------------------------------------------------------------------------


def _radiomics_only(sample_study):
    return sample_study.without_family("dl").replace(name="one radiomics table", is_sample=False)


def test_one_family_study_gets_a_fused_model_on_its_score_and_nothing_asks_for_deep(sample_study):
    study = _radiomics_only(sample_study)
    assert study.score_families == ["radiomics"] and study.fused_family == "radiomics"
    models = fit_study(study)
    assert list(models.scores) == ["radiomics"] and models.fused_score == "radiomics"
    assert "radiomics_score" in models.fused.continuous
    predictions = predict_study(study, models)
    assert list(predictions.columns[:3]) == [CLINICAL, "radiomics", FUSED]
    # A nomogram for every fitted model: clinical, the score alone, the score + clinical.
    for model in models.model_names:
        nomogram = models.nomogram(study, predictions, model)
        assert nomogram.total_points(study.train.join(predictions).iloc[0][nomogram.variables]) >= 0
    alone = models.nomogram(study, predictions, "radiomics")
    patient = predictions.iloc[0]
    # A refitted score's own logistic model reproduces its probability.
    assert alone.probability({"radiomics_score": patient["radiomics_score"]}) == pytest.approx(patient["radiomics"],
                                                                                                  abs=1e-6)


def test_clinical_only_study_is_a_first_class_study(sample_study):
    study = sample_study.replace(families=(), combined=(), name="clinical variables only")
    models = fit_study(study)
    assert models.model_names == [CLINICAL] and models.scores == {} and models.fused is None
    predictions = predict_study(study, models)
    assert list(predictions.columns) == [CLINICAL]
    assert models.nomogram(study, predictions, CLINICAL).variables


@pytest.mark.slow
def test_user_declared_families_and_combination_any_names(sample_study):
    radiomics, deep = sample_study.family("radiomics"), sample_study.family("dl")
    first_half = FeatureFamily(name="venous", label="Venous phase", table=radiomics.table.iloc[:, :900])
    second = FeatureFamily(name="arterial", label="Arterial phase", table=radiomics.table.iloc[:, 900:])
    study = sample_study.replace(
        families=(first_half, second, deep), is_sample=False,
        combined=(CombinedFamily(name="both_phases", label="Both phases", members=("venous", "arterial")),),
        settings=ModelSettings(fused_score="arterial"))
    models = fit_study(study)
    assert set(models.scores) <= {"venous", "arterial", "dl", "both_phases"}
    assert models.members["both_phases"] == ("venous", "arterial")
    assert models.screening["both_phases"].funnel["n_features"].iloc[0] == radiomics.table.shape[1]
    assert models.fused_score == "arterial" and "arterial_score" in models.fused.continuous
    assert study.model_label(FUSED) == "Fused model (Arterial phase score + clinical)"


def test_study_refuses_inconsistent_parts(sample_study):
    with pytest.raises(RadNomoError, match="both the training and the test"):
        sample_study.replace(split=sample_study.split.__class__(
            train_ids=sample_study.split.train_ids, test_ids=sample_study.split.train_ids[:3]))
    with pytest.raises(RadNomoError, match="unknown families"):
        sample_study.replace(combined=(CombinedFamily(name="x", label="X", members=("radiomics", "nope")),))
    with pytest.raises(RadNomoError, match="used twice"):
        sample_study.replace(families=sample_study.families + (sample_study.family("dl"),))
    with pytest.raises(RadNomoError, match="taken by the clinical model"):
        FeatureFamily(name="clinical", label="x", table=sample_study.family("dl").table)
    with pytest.raises(RadNomoError, match="not a family"):
        sample_study.with_settings(fused_score="perfusion")


def test_roles_follow_the_study_not_stale_settings(sample_study):
    chosen = sample_study.with_settings(clinical_continuous=("tumour_thickness_mm", "cea_ng_ml", "age"),
                                        clinical_categorical=())
    fewer = chosen.with_roles([c for c in sample_study.spec.continuous if c != "age"], sample_study.spec.categorical)
    models = fit_study(fewer.without_family("dl"))
    assert "age" not in models.clinical.variables
    assert any("'age'" in note or "['age']" in note for note in models.notes)


def test_fingerprint_follows_every_part_of_the_study(sample_study):
    from core.stats.cohort import SplitConfig, split_cohort

    base = sample_study.fingerprint
    variants = {
        "name": sample_study.replace(name="another name"),
        "settings": sample_study.with_settings(screening=ScreeningSettings(p_threshold=0.02)),
        "roles": sample_study.with_roles(sample_study.spec.continuous[:-1], sample_study.spec.categorical),
        "split": sample_study.replace(split=split_cohort(sample_study.cohort_table(), sample_study.spec,
                                                         SplitConfig(seed=1))),
        "features": sample_study.with_family(FeatureFamily(name="dl", label="DL",
                                                           table=sample_study.family("dl").table * 2, kind="deep")),
    }
    prints = {k: v.fingerprint for k, v in variants.items()}
    assert base not in prints.values() and len(set(prints.values())) == len(prints)
    # Settings leave the data fingerprint alone (screening caches keyed by it survive a rename).
    assert variants["settings"].data_fingerprint == sample_study.data_fingerprint
    assert sample_study.replace(name="x").training_key("radiomics") == sample_study.training_key("radiomics")
