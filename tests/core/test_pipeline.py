"""The study's models end to end: no test row leaks into any fit; scores and models are what they claim."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.workflows.fit import MODEL_NAMES, ModelSettings, fit_study_models
from core.workflows.sample import SAMPLE_SPEC
from core.stats.selection import ScreeningSettings


def test_perturbing_the_test_cohort_changes_no_fitted_step(sample_cohort, sample_features, sample_models):
    split, models = sample_models
    rng = np.random.default_rng(0)
    test = list(split.test_ids)
    # Scramble everything known about the test patients: outcomes, clinical values, all features.
    cohort = sample_cohort.set_index("patient_id", drop=False)
    cohort.loc[test, "lm"] = rng.permutation(cohort.loc[test, "lm"].to_numpy())
    cohort.loc[test, "cea_ng_ml"] = rng.uniform(0, 500, len(test))
    cohort.loc[test, "sex"] = "female"
    features = {}
    for family, table in sample_features.items():
        table = table.copy()
        table.loc[test] = table.loc[test].to_numpy() * rng.lognormal(0, 1, size=(len(test), table.shape[1]))
        features[family] = table
    refit = fit_study_models(cohort.reset_index(drop=True), SAMPLE_SPEC, split.train_ids, features)

    for family, result in models.screening.items():
        assert refit.screening[family].kept == result.kept
        pd.testing.assert_series_equal(refit.screening[family].lasso.coef_, result.lasso.coef_)
        np.testing.assert_array_equal(refit.screening[family].lasso.cv_mean, result.lasso.cv_mean)
    for name, score in models.scores.items():
        pd.testing.assert_series_equal(refit.scores[name].coefs, score.coefs)
    pd.testing.assert_series_equal(refit.clinical.fit.params, models.clinical.fit.params)
    pd.testing.assert_series_equal(refit.fused.fit.params, models.fused.fit.params)
    pd.testing.assert_frame_equal(refit.univariable, models.univariable)


def test_sample_study_fits_every_model_and_scores_the_test_cohort(sample_cohort, sample_features, sample_models):
    split, models = sample_models
    assert set(models.scores) == {"radiomics", "dl", "dl_radiomics"} and models.fused is not None
    assert models.notes == ()
    predictions = models.predict(sample_cohort, sample_features, SAMPLE_SPEC)
    assert set(MODEL_NAMES) <= set(predictions.columns)
    test = predictions.loc[list(split.test_ids)]
    assert test[list(MODEL_NAMES)].notna().all().all()
    assert ((test[list(MODEL_NAMES)] > 0) & (test[list(MODEL_NAMES)] < 1)).all().all()
    # Every family's funnel only shrinks.
    for result in models.screening.values():
        counts = result.funnel["n_features"].tolist()
        assert counts == sorted(counts, reverse=True) and counts[-1] > 0


def test_refit_score_equals_statsmodels_on_the_raw_selected_features(sample_cohort, sample_features, sample_models):
    import statsmodels.api as sm

    split, models = sample_models
    score = models.scores["radiomics"]
    train = list(split.train_ids)
    X = sample_features["radiomics"].loc[train, list(score.features)]
    y = sample_cohort.set_index("patient_id").loc[train, "lm"]
    reference = sm.Logit(y.to_numpy(), sm.add_constant(X)).fit(disp=0)
    # Standardising is an affine change of the predictors: the log-odds are the same.
    np.testing.assert_allclose(score.score(X), reference.fittedvalues, atol=1e-6)
    assert "radiomics score =" in score.formula and all(f in score.formula for f in score.features)


def test_lasso_score_is_the_lasso_linear_predictor(sample_cohort, sample_features, sample_models):
    from core.stats.modeling import build_score

    split, models = sample_models
    lasso = models.screening["dl"].lasso
    train = list(split.train_ids)
    X = sample_features["deep"].loc[train]
    y = sample_cohort.set_index("patient_id").loc[train, "lm"]
    score = build_score("dl", X, y, lasso, method="lasso")
    np.testing.assert_allclose(score.score(X), lasso.linear_predictor(X), atol=1e-10)
    assert score.fit is None and list(score.table.columns) == ["coef", "train_mean", "train_sd"]


def test_vif_equals_one_over_one_minus_r_squared(sample_cohort, sample_models):
    from sklearn.linear_model import LinearRegression

    split, models = sample_models
    model = models.clinical
    design = model.design(sample_cohort.set_index("patient_id").loc[list(split.train_ids)])
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


def test_empty_selection_is_reported_not_raised(sample_cohort, sample_features, sample_models):
    split, _ = sample_models
    strict = ModelSettings(screening=ScreeningSettings(p_threshold=1e-12))
    models = fit_study_models(sample_cohort, SAMPLE_SPEC, split.train_ids,
                              {"deep": sample_features["deep"]}, strict)
    assert "dl" not in models.scores and models.fused is None
    assert any("no feature passed" in note for note in models.notes)
    assert models.screening["dl"].funnel["n_features"].iloc[-1] == 0
