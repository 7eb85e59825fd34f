"""Learners as a protocol with one registry (core.stats.learners): the registry agrees with the vocabulary,
the ridge learner against independent implementations, saved models re-validated, non-convergence said."""

from __future__ import annotations

import copy
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.learners import (LEARNERS, FitOptions, FittedModel, Predictors, fitted_from_dict, get_learner,
                                 learners_for, score_methods)
from core.stats.learners.ridge import RidgeScore, ridge_logistic, ridge_path_cv
from core.stats.modeling import Nomogram, fit_logistic
from core.vocabulary import MODEL_ROLES, SCORE_METHODS, SCORE_ROLE
from core.workflows.fit import StudyModels, fit_models, predict_study, prepare_tables, screen_family
from tests.studies import sample_slice_arguments


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    """700 patients, 8 features on very different scales, an outcome driven by five of them."""
    rng = np.random.default_rng(7)
    n, p = 700, 8
    X = pd.DataFrame(rng.normal(size=(n, p)) * np.geomspace(0.1, 500, p) + 10, columns=[f"f{i}" for i in range(p)])
    z = ((X - X.mean()) / X.std()).to_numpy()
    eta = -0.6 + z[:, :5] @ np.array([0.9, -0.7, 0.5, 0.3, -0.2])
    return X.assign(event=(rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int))


FEATURES = Predictors(tuple(f"f{i}" for i in range(8)))


@pytest.fixture(scope="module")
def ridge(data) -> RidgeScore:
    return LEARNERS["ridge"].fit(data, "event", FEATURES, name="radiomics", options=FitOptions(seed=11, n_folds=5))


def test_the_registry_is_the_vocabulary():
    # SCORE_METHODS (what the pages, the CLI and ModelSettings offer) is exactly the registry's score learners (of
    # every outcome kind); those of a binary outcome are the default.
    assert score_methods(None) == SCORE_METHODS
    assert list(score_methods()) == list(learners_for(SCORE_ROLE, "binary")) == ["refit", "lasso", "ridge"]
    assert get_learner("logistic").roles == ("clinical", "fused")
    for learner in LEARNERS.values():
        assert set(learner.roles) <= set(MODEL_ROLES) and learner.description()
    with pytest.raises(RadNomoError, match="refit, lasso, ridge"):
        get_learner("forest", SCORE_ROLE)
    with pytest.raises(RadNomoError, match="not valid"):
        get_learner("logistic", SCORE_ROLE)  # a clinical learner cannot make a score


def test_ridge_equals_scikit_learn_and_statsmodels_at_its_penalty(data, ridge):
    from sklearn.linear_model import LogisticRegression
    import statsmodels.api as sm

    X, y = data[list(FEATURES.continuous)], data["event"].to_numpy()
    z = (X - X.mean()) / X.std(ddof=0)
    assert isinstance(ridge, FittedModel) and ridge.converged and ridge.penalty > 0
    # scikit-learn: C = 1 / (n * lambda), the intercept unpenalised (lbfgs).
    reference = LogisticRegression(C=1 / (len(y) * ridge.penalty), tol=1e-12, max_iter=10_000).fit(z, y)
    np.testing.assert_allclose(ridge.coefs.to_numpy(), reference.coef_[0], atol=1e-6)
    assert ridge.intercept == pytest.approx(reference.intercept_[0], abs=1e-6)
    # statsmodels' elastic net with L1_wt = 0 (coordinate descent; its own tolerance).
    alpha = np.r_[0.0, np.full(z.shape[1], ridge.penalty)]
    glm = sm.GLM(y, sm.add_constant(z), family=sm.families.Binomial()).fit_regularized(
        alpha=alpha, L1_wt=0.0, cnvrg_tol=1e-12, maxiter=5000)
    np.testing.assert_allclose(ridge.coefs.to_numpy(), np.asarray(glm.params)[1:], atol=2e-4)


def test_ridge_shrinks_the_refit_towards_zero(data, ridge):
    z = ((data[list(FEATURES.continuous)] - data[list(FEATURES.continuous)].mean())
         / data[list(FEATURES.continuous)].std(ddof=0)).assign(event=data["event"])
    refit = fit_logistic(z, "event", list(FEATURES.continuous))
    unpenalised = refit.params[list(FEATURES.continuous)].to_numpy()
    assert np.linalg.norm(ridge.coefs.to_numpy()) < np.linalg.norm(unpenalised)
    assert np.sign(ridge.coefs.to_numpy()[:3]).tolist() == np.sign(unpenalised[:3]).tolist()
    # The larger the penalty, the smaller the coefficients, towards 0.
    norms = [np.linalg.norm(ridge_logistic(z[list(FEATURES.continuous)].to_numpy(), data["event"].to_numpy(),
                                           penalty)[1]) for penalty in (0.01, 0.1, 1.0, 100.0)]
    assert norms == sorted(norms, reverse=True) and norms[-1] < 0.01


def test_ridge_is_deterministic_with_its_seed(data, ridge):
    again = LEARNERS["ridge"].fit(data, "event", FEATURES, name="radiomics", options=FitOptions(seed=11, n_folds=5))
    assert again.penalty == ridge.penalty
    pd.testing.assert_series_equal(again.coefs, ridge.coefs)
    X, y = data[list(FEATURES.continuous)], data["event"].to_numpy()
    one, _, _ = ridge_path_cv(X, y, FitOptions(seed=11, n_folds=5))
    other, _, _ = ridge_path_cv(X, y, FitOptions(seed=12, n_folds=5))
    assert not np.allclose(one["cv_deviance"], other["cv_deviance"])  # the seed sets the folds
    assert ridge.rule == "1se" and ridge.seed == 11 and ridge.n_folds == 5


def test_ridge_round_trips_and_refuses_tampered_data(data, ridge):
    saved = json.loads(json.dumps(ridge.to_dict()))
    back = fitted_from_dict(saved, "ridge", role=SCORE_ROLE)
    pd.testing.assert_series_equal(back.predict_risk(data), ridge.predict_risk(data))
    assert back.penalty == ridge.penalty and back.learner == "ridge"
    tampered = {"non-finite coefficient": lambda d: d["coefs"].update(f0=float("nan")),
                "negative penalty": lambda d: d.update(penalty=-1.0),
                "zero SD": lambda d: d["sds"].update(f1=0.0),
                "a feature too many": lambda d: d["coefs"].update(f9=0.1),
                "unknown rule": lambda d: d.update(rule="best"),
                "fold count": lambda d: d.update(n_folds="ten")}
    for what, edit in tampered.items():
        bad = copy.deepcopy(saved)
        edit(bad)
        with pytest.raises(RadNomoError, match="saved radiomics score"):
            fitted_from_dict(bad, "ridge", role=SCORE_ROLE)
        assert what  # each edit named
    with pytest.raises(RadNomoError, match="is not 'refit'"):
        fitted_from_dict(saved, "refit", role=SCORE_ROLE)  # a ridge score passed off as a refit
    with pytest.raises(RadNomoError, match="not valid"):
        fitted_from_dict(saved, "nonsense", role=SCORE_ROLE)


def test_the_ridge_score_can_be_drawn_and_a_model_that_cannot_says_so(data, ridge):
    nomogram = Nomogram(ridge, data)
    assert nomogram.variables == list(FEATURES.continuous)
    row = data.iloc[0]
    assert nomogram.probability(row) == pytest.approx(float(ridge.predict_risk(data).iloc[0]), rel=1e-9)

    class Forest:  # a fitted model whose risk is no sum of one term per predictor
        name, learner, drawable = "forest", "random_forest", False
        not_drawable = "a random forest's risk is not a sum of one term per predictor"

    with pytest.raises(RadNomoError, match="forest model \\(random_forest\\) cannot be drawn as a nomogram: a random"):
        Nomogram(Forest(), data)


def test_a_non_converging_fit_is_recorded_never_printed(data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may escape to a console
        stalled = fit_logistic(data, "event", ["f0", "f1", "f2"], maxiter=1)
        fine = fit_logistic(data, "event", ["f0", "f1", "f2"])
    assert not stalled.converged and fine.converged


@pytest.fixture(scope="module")
def small(sample_study):
    from core.stats.cohort import SplitConfig
    from tests.studies import small_sample_study

    study = small_sample_study(sample_study, SplitConfig(test_size=0.3, seed=3), n=300, widths=(60, 30))
    prepared = prepare_tables(study)
    screening = {f: screen_family(study, f, prepared.tables) for f in study.score_families}
    return study, prepared, screening


def test_study_models_are_a_mapping_with_roles_and_say_non_convergence(small, monkeypatch):
    import core.stats.modeling as modeling

    study, prepared, screening = small
    models = fit_models(study, prepared, screening)
    assert list(models) == models.model_names and models.clinical is models["clinical"]
    assert {models.roles[n] for n in models.scores} == {SCORE_ROLE} and models.warnings == ()
    assert all(isinstance(m, FittedModel) for m in models.values())
    # A constructed non-converging fit: every logistic fit stopped after one Newton step.
    real = modeling.fit_logistic
    monkeypatch.setattr(modeling, "fit_logistic", lambda *a, **k: real(*a, **{**k, "maxiter": 1}))
    stalled = fit_models(study, prepared, screening)
    assert any(w.startswith("The clinical model's logistic regression did not converge") for w in stalled.warnings)
    assert not stalled.clinical.converged
    saved = json.loads(json.dumps(stalled.to_dict()))
    assert StudyModels.from_dict(saved).warnings == stalled.warnings
    del saved["warnings"]  # a save from before warnings were stored: the models' own flags say it again
    assert any("clinical model" in w for w in StudyModels.from_dict(saved).warnings)


def test_the_nomogram_pages_ask_each_model_whether_it_can_be_drawn(small):
    import dataclasses

    from core.workflows.nomograms import cannot_draw, drawable_models

    study, prepared, screening = small
    models = fit_models(study, prepared, screening)
    assert drawable_models(models) == models.model_names

    class Forest:  # a clinical model of another learner, not drawable
        name, learner, drawable, variables = "forest", "random_forest", False, ("tumour_thickness_mm",)

    more = dataclasses.replace(models, fitted={**models.fitted, "forest": Forest()},
                               roles={**models.roles, "forest": "clinical"})
    assert len(more) == len(models) + 1 and drawable_models(more) == models.model_names
    assert cannot_draw(more, "forest").startswith("the forest model (random_forest) cannot be drawn as a nomogram")
    with pytest.raises(RadNomoError, match="cannot be drawn as a nomogram"):
        more.nomogram(study, predict_study(study, models), "forest")


def test_ridge_end_to_end_and_the_previous_saved_layout(small):
    study, prepared, screening = small
    ridge_study = study.with_settings(score_method="ridge")
    models = fit_models(ridge_study, prepared, screening)
    assert {m.learner for m in models.scores.values()} == {"ridge"} and models.fused is not None
    predictions = predict_study(ridge_study, models)
    assert predictions[models.model_names].notna().all().all()
    back = StudyModels.from_dict(json.loads(json.dumps(models.to_dict())))
    pd.testing.assert_frame_equal(predict_study(ridge_study, back), predictions)
    # The layout saved before the models were a mapping (fixed scores / clinical / fused slots) still opens.
    refit = fit_models(study, prepared, screening)
    new = refit.to_dict()
    old = {k: v for k, v in new.items() if k not in ("models", "warnings")}
    old.update(scores={n: e["model"] for n, e in new["models"].items() if e["role"] == SCORE_ROLE},
               clinical=new["models"]["clinical"]["model"], fused=new["models"]["fused"]["model"],
               fused_score=refit.fused_score)
    reopened = StudyModels.from_dict(json.loads(json.dumps(old)))
    assert reopened.model_names == refit.model_names and reopened.fused_score == refit.fused_score
    pd.testing.assert_frame_equal(predict_study(study, reopened), predict_study(study, refit))
    old["fused_score"] = "nope"
    with pytest.raises(RadNomoError, match="fused model takes"):
        StudyModels.from_dict(old)


@pytest.mark.slow
def test_core_analyse_takes_its_score_methods_from_the_registry_and_says_warnings(tmp_path, capsys,
                                                                                   monkeypatch):
    from core.cli.analyse import main
    from core.workflows.persistence import load_study

    common = sample_slice_arguments(tmp_path)
    with pytest.raises(SystemExit):
        main([*common, "--score-method", "forest", "--out", str(tmp_path / "no")])
    assert "choose from 'refit', 'lasso', 'ridge'" in capsys.readouterr().err
    assert main([*common, "--score-method", "ridge", "--out", str(tmp_path / "out")]) == 0
    assert "warning:" not in capsys.readouterr().err
    study = load_study(tmp_path / "out" / "study")
    assert study.settings.score_method == "ridge"
    coefficients = pd.read_csv(tmp_path / "out" / "coefficients.csv")
    assert set(coefficients["model"]) >= {"radiomics", "clinical", "fused"}
    report = (tmp_path / "out" / "report.html").read_text()
    assert "ridge (L2-penalised) logistic regression on the selected features" in report

    # A non-converging fit (every logistic fit stopped after one Newton step) is said on stderr and in notes.txt.
    import core.stats.modeling as modeling

    real = modeling.fit_logistic
    monkeypatch.setattr(modeling, "fit_logistic", lambda *a, **k: real(*a, **{**k, "maxiter": 1}))
    assert main([*common, "--out", str(tmp_path / "stalled")]) == 0
    said = "The clinical model's logistic regression did not converge"
    assert f"warning: {said}" in capsys.readouterr().err
    assert f"warning: {said}" in (tmp_path / "stalled" / "notes.txt").read_text()
