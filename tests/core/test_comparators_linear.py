"""The comparator base (core.stats.learners.comparator), SHAP explanations (core.stats.explanations) and the SVM and
elastic-net comparators (issue 31): predictions against scikit-learn's own objects, seeded, saved as JSON and read
back identically, edited payloads refused, tuning on the training rows only, SHAP additive and equal to shap's."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.explanations import MAX_BACKGROUND, Explanation, linear_shap
from core.stats.learners.explain import explain
from core.stats.learners.base import FitOptions, FittedModel, Predictors
from core.stats.learners.comparator import (MAX_SAVED_NUMBERS, TUNING_FOLDS, ComparatorModel, training_data,
                                            tune)
from core.stats.learners.elastic_net import ELASTIC_NET, ElasticNetModel
from core.stats.learners.svm import SVM, SvmModel
from core.stats.modeling import ScoreModel
from core.stats.outcomes import SurvivalOutcome

FEATURES = tuple(f"f{i}" for i in range(6))
PREDICTORS = Predictors(FEATURES)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    """200 patients, 6 features on very different scales; the outcome depends on three (one non-linearly)."""
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(200, 6)) * [1, 10, 100, 0.1, 5, 2] + 3, columns=list(FEATURES),
                     index=[f"p{i}" for i in range(200)])
    z = (X - X.mean()) / X.std()
    eta = -0.3 + z["f0"] - 0.6 * z["f1"] ** 2 + 0.5 * z["f2"]
    return X.assign(event=(rng.uniform(size=200) < 1 / (1 + np.exp(-eta))).astype(int))


@pytest.fixture(scope="module")
def svm(data) -> SvmModel:
    return SVM.fit(data, "event", PREDICTORS, name="rad_svm", options=FitOptions(seed=4))


@pytest.fixture(scope="module")
def enet(data) -> ElasticNetModel:
    return ELASTIC_NET.fit(data, "event", PREDICTORS, name="rad_elastic_net", options=FitOptions(seed=4))


@pytest.fixture(params=["svm", "enet"])
def model(request, svm, enet) -> ComparatorModel:
    return {"svm": svm, "enet": enet}[request.param]


def _standardised(model, data) -> np.ndarray:
    return ((data[list(FEATURES)] - model.means) / model.sds).to_numpy()


# -- the common behaviour --------------------------------------------------------------------------------------

def test_a_comparator_is_a_fitted_model_that_predicts_probabilities(model, data):
    assert isinstance(model, FittedModel) and model.variables == FEATURES and model.converged
    assert model.convergence == "" and not model.drawable
    risk = model.predict_risk(data)
    assert risk.index.equals(data.index) and ((risk > 0) & (risk < 1)).all()
    lp = model.linear_predictor(data)
    np.testing.assert_allclose(lp, np.log(risk / (1 - risk)), rtol=1e-9, atol=1e-9)
    # A row with a missing (or non-numeric) feature predicts NaN; the others are unchanged.
    edited = data.astype({"f2": object})
    edited.loc["p0", "f1"], edited.loc["p1", "f2"] = np.nan, "n/a"
    again = model.predict_risk(edited)
    assert again[["p0", "p1"]].isna().all() and again.iloc[2:].equals(risk.iloc[2:])
    with pytest.raises(RadNomoError, match="lacks"):
        model.predict_risk(data.drop(columns="f3"))
    with pytest.raises(RadNomoError, match="cannot be drawn as a nomogram"):
        model.nomogram_design()


def test_the_table_is_the_tuning_table_with_the_chosen_row(model):
    table = model.table
    assert list(table.columns) == [*model.grid, "cv_auc", "cv_se", "chosen"]
    assert len(table) == np.prod([len(v) for v in model.grid.values()]) and table["chosen"].sum() == 1
    chosen = table[table["chosen"]].iloc[0]
    assert {k: chosen[k] for k in model.grid} == model.params
    assert chosen["cv_auc"] == table["cv_auc"].max() and "chosen" not in model.tuning.columns
    assert f"{TUNING_FOLDS}-fold stratified cross-validation AUC on the training patients (seed 4)" in model.detail


@pytest.mark.parametrize("learner", [SVM, ELASTIC_NET], ids=["svm", "enet"])
def test_the_fit_is_seeded(learner, data, svm, enet):
    first = {"svm": svm, "elastic_net": enet}[learner.name]
    again = learner.fit(data, "event", PREDICTORS, name="again", options=FitOptions(seed=4))
    assert again.predict_risk(data).equals(first.predict_risk(data))
    pd.testing.assert_frame_equal(again.tuning, first.tuning)


def test_the_json_round_trip_predicts_identically(model, data):
    saved = json.loads(json.dumps(model.to_dict()))
    back = type(model).from_dict(saved)
    assert back.to_dict() == saved and back.params == model.params and back.table.equals(model.table)
    assert back.predict_risk(data).equals(model.predict_risk(data))
    learner = SVM if isinstance(model, SvmModel) else ELASTIC_NET
    assert learner.from_dict(saved).predict_risk(data).equals(model.predict_risk(data))


def _edits(model) -> list:
    """(edit of the saved dict, message) pairs every comparator must refuse."""
    def setter(key, value):
        return lambda d: d.__setitem__(key, value)

    grid_key = next(iter(model.grid))
    return [
        (setter("name", ""), "name"),
        (setter("name", 5), "name"),
        (setter("learner", "forest"), "learner"),
        (setter("learner", "xgboost"), "learner"),  # a comparator's key, but not this model's
        (setter("features", [*FEATURES[:-1], FEATURES[0]]), "repeat"),
        (setter("features", [*FEATURES[:-1], " "]), "empty name"),
        (setter("features", "f0"), "list of names"),
        (setter("n_folds", 1), "folds"),
        (setter("n_folds", True), "folds"),
        (setter("seed", 1.5), "seed"),
        (setter("seed", -1), "seed"),
        (setter("fit_converged", "yes"), "fit_converged"),
        (lambda d: d["params"].__setitem__(grid_key, 123.456), "grid"),
        (lambda d: d["tuning"]["cv_auc"].pop(), "values each"),
        (lambda d: d["tuning"]["cv_se"].__setitem__(0, float("nan")), "not finite"),
        (lambda d: d["tuning"]["cv_auc"].__setitem__(0, 1.5), r"\[0, 1\]"),
        (lambda d: d["tuning"]["cv_auc"].__setitem__(0, "0.7"), "numbers"),
        (lambda d: d["grid"].__setitem__(grid_key, []), "grid"),
        (lambda d: d.pop("tuning"), "lacks"),
        (lambda d: d["means"].pop(), "shape"),
        (lambda d: d["means"].__setitem__(0, float("inf")), "not finite"),
        (lambda d: d["sds"].__setitem__(1, 0.0), "above 0"),
        (lambda d: d["means"].__setitem__(2, True), "numbers"),
        (setter("intercept", float("nan")), "not a finite number"),
        (lambda d: d.pop("means"), "lacks"),
    ]


def test_edited_payloads_are_refused(model):
    saved = json.loads(json.dumps(model.to_dict()))
    for edit, message in _edits(model):
        edited = copy.deepcopy(saved)
        edit(edited)
        with pytest.raises(RadNomoError, match=message):
            type(model).from_dict(edited)
    with pytest.raises(RadNomoError, match="JSON object"):
        type(model).from_dict([saved])


def test_svm_specific_edits_are_refused(svm):
    saved = json.loads(json.dumps(svm.to_dict()))
    for edit, message in [(lambda d: d["dual_coefs"].pop(), "shape"),
                          (lambda d: d["support_vectors"][0].pop(), "rectangular|shape"),
                          (lambda d: d["support_vectors"][3].__setitem__(2, float("nan")), "not finite"),
                          (lambda d: d.__setitem__("support_vectors", []), "shape|no support vector"),
                          (lambda d: d.__setitem__("gamma", d["gamma"] * 2), "gamma"),
                          (lambda d: d.__setitem__("sigmoid_a", None), "not a finite number")]:
        edited = copy.deepcopy(saved)
        edit(edited)
        with pytest.raises(RadNomoError, match=message):
            SvmModel.from_dict(edited)
    with pytest.raises(RadNomoError, match="learner"):
        ElasticNetModel.from_dict(saved)  # an SVM is not read as an elastic net


def test_an_oversized_payload_is_refused_before_it_is_read(enet):
    saved = enet.to_dict()
    saved["means"] = [0.0] * (MAX_SAVED_NUMBERS + 1)
    with pytest.raises(RadNomoError, match="more than 5,000,000"):
        ElasticNetModel.from_dict(saved)


# -- the training data and the tuning ----------------------------------------------------------------------------

def test_training_data_refuses_what_cannot_be_fitted(data):
    X, y = training_data(SVM, data, "event", PREDICTORS, name="m")
    assert list(X.columns) == list(FEATURES) and X.index.equals(data.index) and set(y) == {0, 1}
    cases = [(data, Predictors(()), "no feature"),
             (data.assign(site="a"), Predictors(FEATURES, ("site",)), "numeric features only"),
             (data.assign(f0=data["f0"].where(data.index != "p5")), PREDICTORS, "complete training rows"),
             (data.assign(event=2 * data["event"]), PREDICTORS, "0/1"),
             (data.assign(event=0), PREDICTORS, "0/1"),
             (pd.concat([data[data["event"] == 0], data[data["event"] == 1].head(TUNING_FOLDS - 1)]), PREDICTORS,
              "cannot fill"),
             (data.assign(f4=1.0), PREDICTORS, "constant"),
             (data, Predictors(("f0", "nope")), "lacks")]
    for frame, predictors, message in cases:
        with pytest.raises(RadNomoError, match=message):
            training_data(ELASTIC_NET, frame, "event", predictors, name="m")
    survival = SurvivalOutcome(time_column="t", event_column="event", time_unit="months", horizons=(12.0,))
    with pytest.raises(RadNomoError, match="binary"):
        SVM.fit(data.assign(t=1.0), survival, PREDICTORS, name="m")


def test_tune_picks_the_best_and_the_first_of_ties():
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] + rng.normal(size=120) > 0).astype(int)
    # Every constant prediction has AUC 0.5: a tie, so the first grid point.
    params, table = tune(DummyClassifier(), {"strategy": ["prior", "most_frequent", "uniform"]}, X, y, seed=1)
    assert params == {"strategy": "prior"} and (table["cv_auc"] == 0.5).all()
    # A real grid: the table holds the mean and SE of the fold AUCs, in grid order, as scikit-learn computes them.
    params, table = tune(LogisticRegression(), {"C": [1e-3, 1.0]}, X, y, seed=1)
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    for row in table.itertuples():
        scores = cross_val_score(LogisticRegression(C=row.C), X, y, scoring="roc_auc",
                                 cv=StratifiedKFold(TUNING_FOLDS, shuffle=True, random_state=1))
        assert row.cv_auc == pytest.approx(scores.mean(), abs=1e-12)
        assert row.cv_se == pytest.approx(scores.std(ddof=1) / np.sqrt(TUNING_FOLDS), abs=1e-12)
    assert params["C"] == table.loc[table["cv_auc"].idxmax(), "C"]


@pytest.mark.parametrize("learner", [SVM, ELASTIC_NET], ids=["svm", "enet"])
def test_the_tuning_sees_only_the_training_rows(learner, data):
    train = data.index[:150]

    def tuning(frame: pd.DataFrame) -> pd.DataFrame:
        return learner.fit(frame.loc[train], "event", PREDICTORS, name="m", options=FitOptions(seed=2)).tuning

    base = tuning(data)
    held_out = data.copy()
    held_out.loc[data.index[150:], "f0"] += 100.0  # only rows outside the training rows change
    pd.testing.assert_frame_equal(tuning(held_out), base)
    trained = data.copy()
    trained.loc[train[:20], "f0"] = -trained.loc[train[:20], "f0"]  # training rows change
    assert not np.allclose(tuning(trained)["cv_auc"], base["cv_auc"])


# -- the learners against scikit-learn ----------------------------------------------------------------------------

def test_the_svm_predicts_as_scikit_learns_platt_calibrated_svc(svm, data):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import SVC

    z = _standardised(svm, data)
    reference = CalibratedClassifierCV(SVC(kernel="rbf", **svm.params), method="sigmoid", ensemble=False,
                                       cv=StratifiedKFold(5, shuffle=True, random_state=4)).fit(z, data["event"])
    np.testing.assert_allclose(svm.predict_risk(data), reference.predict_proba(z)[:, 1], rtol=0, atol=1e-12)
    inner = reference.calibrated_classifiers_[0].estimator
    np.testing.assert_allclose(svm.decision(data[list(FEATURES)].to_numpy()), inner.decision_function(z),
                               rtol=0, atol=1e-10)
    assert svm.gamma == svm.params["gamma"] and svm.params["gamma"] in [s / 6 for s in (0.5, 1, 2)]


def test_the_elastic_net_is_scikit_learns_at_the_chosen_parameters(enet, data):
    from sklearn.linear_model import LogisticRegression

    z = _standardised(enet, data)
    reference = LogisticRegression(penalty="elasticnet", solver="saga", max_iter=10_000, tol=1e-4, random_state=4,
                                   **enet.params).fit(z, data["event"])
    np.testing.assert_allclose(enet.coefs, reference.coef_[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(enet.predict_risk(data), reference.predict_proba(z)[:, 1], rtol=0, atol=1e-12)
    assert enet.coefficients.index.tolist() == list(FEATURES)
    assert enet.means == pytest.approx(data[list(FEATURES)].mean().to_numpy())
    assert enet.sds == pytest.approx(data[list(FEATURES)].std(ddof=0).to_numpy())


def test_a_non_converged_elastic_net_says_so(data, monkeypatch):
    import core.stats.learners.elastic_net as module

    monkeypatch.setattr(module, "MAX_ITER", 1)
    stalled = module.ELASTIC_NET.fit(data, "event", PREDICTORS, name="rad_elastic_net", options=FitOptions(seed=4))
    assert not stalled.converged and "did not converge" in stalled.convergence and "1 epochs" in stalled.convergence
    assert not ElasticNetModel.from_dict(json.loads(json.dumps(stalled.to_dict()))).converged


# -- SHAP --------------------------------------------------------------------------------------------------------

def test_linear_shap_equals_shaps_linear_explainer(enet, data):
    import shap

    background, rows = data.iloc[:150], data.iloc[150:]
    explanation = explain(enet, rows, background)
    assert isinstance(explanation, Explanation) and explanation.output == "log-odds"
    assert explanation.values.index.equals(rows.index) and list(explanation.values.columns) == list(FEATURES)
    z_background, z = _standardised(enet, background), _standardised(enet, rows)
    reference = shap.LinearExplainer((enet.coefs, enet.intercept),
                                     shap.maskers.Independent(z_background, max_samples=len(z_background)))
    np.testing.assert_allclose(explanation.values.to_numpy(), reference.shap_values(z), rtol=0, atol=1e-12)
    assert explanation.base_value == pytest.approx(float(reference.expected_value), abs=1e-12)
    # Additive: the base value and the row's values add up to the model's log-odds.
    np.testing.assert_allclose(explanation.total(), enet.linear_predictor(rows), rtol=0, atol=1e-9)
    assert explanation.mean_abs().is_monotonic_decreasing
    assert explanation.data.equals(rows[list(FEATURES)].astype(float))


def test_a_scores_shap_is_exact_linear_shap(data):
    import shap

    X = data[["f0", "f2"]]
    score = ScoreModel(name="radiomics", method="lasso", features=("f0", "f2"), means=X.mean(),
                       sds=X.std(ddof=0), intercept=-0.4, coefs=pd.Series({"f0": 0.8, "f2": -0.3}))
    explanation = explain(score, data.iloc[:10], data)
    np.testing.assert_allclose(explanation.total(), score.linear_predictor(data.iloc[:10]), rtol=0, atol=1e-12)
    z = ((X - score.means) / score.sds).to_numpy()
    reference = shap.LinearExplainer((score.coefs.to_numpy(), score.intercept),
                                     shap.maskers.Independent(z, max_samples=len(z)))
    np.testing.assert_allclose(explanation.values.to_numpy(), reference.shap_values(z[:10]), rtol=0, atol=1e-12)
    # By hand: coefficient x (z - mean z over the background); the base value the mean log-odds there.
    assert explanation.values.loc["p3", "f0"] == pytest.approx(0.8 * z[3, 0] - 0.8 * z[:, 0].mean(), abs=1e-12)
    assert explanation.base_value == pytest.approx(score.linear_predictor(data).mean(), abs=1e-12)


def test_explain_refuses_what_it_cannot_explain(enet, data):
    with pytest.raises(RadNomoError, match="no SHAP explanation"):
        explain(object(), data, data)
    with pytest.raises(RadNomoError, match="impute"):
        explain(enet, data.assign(f0=data["f0"].where(data.index != "p1")), data)
    with pytest.raises(RadNomoError, match="no rows"):
        explain(enet, data.iloc[:0], data)
    with pytest.raises(RadNomoError, match="differ in shape"):
        frame = pd.DataFrame({"a": [1.0]})
        Explanation(model="m", values=frame, data=frame.assign(b=1.0), base_value=0.0, output="log-odds",
                    method="m")
    one = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(RadNomoError, match="output"):
        linear_shap("m", one, one, np.array([1.0]), 0.0, one).__class__(
            model="m", values=one, data=one, base_value=0.0, output="odds", method="m")


@pytest.mark.slow  # shap's model-agnostic explainers compile numba code on first use (~10-30 s per process)
def test_the_svms_shap_values_add_up_to_its_log_odds(svm, data):
    rows = data.iloc[:20]
    explanation = explain(svm, rows, data)
    assert explanation.method.startswith(f"exact SHAP (shap.explainers.Exact, {MAX_BACKGROUND} background rows")
    np.testing.assert_allclose(explanation.total(), svm.linear_predictor(rows), rtol=0, atol=1e-6)
    # Seeded: the same background sample, the same values.
    assert explain(svm, rows, data).values.equals(explanation.values)
    # The feature the outcome depends on most matters most; a pure-noise feature least of those.
    assert explanation.mean_abs().index[0] in ("f0", "f1")


@pytest.mark.slow
def test_the_svms_permutation_shap_values_add_up_above_the_exact_explainers_features():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(120, 12)), columns=[f"g{i}" for i in range(12)])
    frame = X.assign(event=(X["g0"] - X["g1"] + rng.normal(size=120) > 0).astype(int))
    model = SVM.fit(frame, "event", Predictors(tuple(X.columns)), name="m", options=FitOptions(seed=3))
    explanation = model.explain(frame.iloc[:10], frame)
    assert explanation.method.startswith("permutation SHAP") and "seed 3" in explanation.method
    np.testing.assert_allclose(explanation.total(), model.linear_predictor(frame.iloc[:10]), rtol=0, atol=1e-6)
