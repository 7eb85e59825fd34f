"""The tree comparators (issue 31): the random forest (saved as its trees' arrays) and XGBoost (saved as XGBoost's
JSON) fitted, tuned, seeded, saved and reloaded to identical predictions, edited payloads refused, and explained by
TreeSHAP checked against exact Shapley values computed here by enumerating every coalition."""

from __future__ import annotations

import copy
import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.explanations import MAX_BACKGROUND
from core.stats.learners import FitOptions, FittedModel, Predictors
from core.stats.learners import boosting, random_forest
from core.stats.learners.boosting import XGBOOST, XGBoostModel
from core.stats.learners.random_forest import RANDOM_FOREST, RandomForestModel
from core.stats.learners.tree_arrays import background_rows, forest_arrays, forest_risk
from core.vocabulary import COMPARATOR_METHODS, COMPARATOR_ROLE

FEATURES = tuple(f"x{i}" for i in range(6))
PREDICTORS = Predictors(FEATURES)
SMALL_FOREST = 25  # trees in the tests' forests (the learner's 300 take ~20 s to tune on two cores)
SMALL_BOOSTING = {"max_depth": (2, 3), "n_estimators": (20, 40)}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    """200 patients, 6 features on different scales, an outcome with an interaction and a threshold effect."""
    rng = np.random.default_rng(31)
    X = pd.DataFrame(rng.normal(size=(200, 6)) * [1, 2, 0.5, 10, 1, 3] + [0, 5, 0, 100, 0, 0], columns=FEATURES,
                     index=[f"P{i:03d}" for i in range(200)])
    z = (X - X.mean()) / X.std()
    eta = -0.3 + 1.2 * z.x0 - 0.8 * (z.x1 > 0.5) + 0.7 * z.x2 * z.x3
    return X.assign(event=(rng.uniform(size=200) < 1 / (1 + np.exp(-eta))).astype(int))


def fit_forest(data: pd.DataFrame, seed: int = 5) -> RandomForestModel:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(random_forest, "N_TREES", SMALL_FOREST)
        return RANDOM_FOREST.fit(data, "event", PREDICTORS, name="mri_random_forest", options=FitOptions(seed=seed))


def fit_boosting(data: pd.DataFrame, seed: int = 5) -> XGBoostModel:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(boosting, "GRID", SMALL_BOOSTING)
        return XGBOOST.fit(data, "event", PREDICTORS, name="mri_xgboost", options=FitOptions(seed=seed))


@pytest.fixture(scope="module")
def forest(data) -> RandomForestModel:
    return fit_forest(data)


@pytest.fixture(scope="module")
def booster(data) -> XGBoostModel:
    return fit_boosting(data)


def reloaded(model, learner):
    """The model through JSON text and back, as a study file carries it."""
    return learner.from_dict(json.loads(json.dumps(model.to_dict())))


def exact_shapley(function, x: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, float]:
    """Interventional Shapley values of ``function`` at ``x`` by enumerating all 2^p coalitions: the value of a
    coalition S is the mean of ``function`` over the background rows with S's features set to x's. Written out
    as the definition (independent of shap's tree algorithm)."""
    p = len(x)
    coalitions = list(itertools.product((False, True), repeat=p))
    rows = np.concatenate([np.where(np.array(s), x, background) for s in coalitions])
    worth = dict(zip(coalitions, function(rows).reshape(len(coalitions), len(background)).mean(axis=1),
                     strict=True))
    phi = np.zeros(p)
    for s in coalitions:
        size = sum(s)
        for i in range(p):
            if not s[i]:
                with_i = tuple(True if j == i else s[j] for j in range(p))
                phi[i] += math.factorial(size) * math.factorial(p - size - 1) / math.factorial(p) \
                    * (worth[with_i] - worth[s])
    return phi, float(worth[(False,) * p])


# -- the learners ------------------------------------------------------------------------------------------------


def test_the_learners_are_comparators_of_binary_outcomes(forest, booster):
    for learner, model in ((RANDOM_FOREST, forest), (XGBOOST, booster)):
        assert learner.label == COMPARATOR_METHODS[learner.name] and learner.roles == (COMPARATOR_ROLE,)
        assert learner.outcome_kinds == ("binary",) and learner.description()
        assert isinstance(model, FittedModel) and model.learner == learner.name and not model.drawable
        assert model.variables == FEATURES and model.converged and model.convergence == ""
        with pytest.raises(RadNomoError, match="cannot be drawn as a nomogram"):
            model.nomogram_design()
    assert RANDOM_FOREST.name == "random_forest" and XGBOOST.name == "xgboost"
    assert random_forest.GRID == {"max_features": ("sqrt", 0.33), "min_samples_leaf": (1, 5)}
    assert boosting.GRID == {"max_depth": (2, 4), "n_estimators": (100, 300)}


@pytest.mark.parametrize("which", ["forest", "booster"])
def test_fitted_models_predict_probabilities_and_keep_the_index(which, data, request):
    model = request.getfixturevalue(which)
    risk = model.predict_risk(data)
    assert risk.index.equals(data.index) and risk.notna().all() and ((risk >= 0) & (risk <= 1)).all()
    from sklearn.metrics import roc_auc_score
    assert roc_auc_score(data["event"], risk) > 0.75  # it learned something (training AUC)
    gappy = data.copy()
    gappy.loc["P003", "x2"] = np.nan
    gappy.loc["P004", "x5"] = "n/a"
    predicted = model.predict_risk(gappy)
    assert predicted[["P003", "P004"]].isna().all() and predicted.drop(["P003", "P004"]).equals(
        risk.drop(["P003", "P004"]))
    lp = model.linear_predictor(data)
    assert np.allclose(1 / (1 + np.exp(-lp)), risk, atol=1e-6)
    table = model.table
    assert table["chosen"].sum() == 1 and len(table) == 4
    assert table.loc[table["chosen"], "cv_auc"].iloc[0] == table["cv_auc"].max()
    with pytest.raises(RadNomoError, match="lacks"):
        model.predict_risk(data.drop(columns="x4"))


def test_fits_are_seeded(data, forest, booster):
    assert json.dumps(fit_forest(data).to_dict()) == json.dumps(forest.to_dict())
    assert json.dumps(fit_boosting(data).to_dict()) == json.dumps(booster.to_dict())
    assert not fit_forest(data, seed=6).predict_risk(data).equals(forest.predict_risk(data))
    assert not fit_boosting(data, seed=6).predict_risk(data).equals(booster.predict_risk(data))


def test_the_tuning_tables_change_when_one_training_row_changes(data, forest, booster):
    changed = data.copy()
    changed.loc["P010", "event"] = 1 - changed.loc["P010", "event"]
    for model, refit in ((forest, fit_forest(changed)), (booster, fit_boosting(changed))):
        assert not np.array_equal(model.tuning["cv_auc"], refit.tuning["cv_auc"])
        pd.testing.assert_frame_equal(model.tuning.drop(columns=["cv_auc", "cv_se"]),
                                      refit.tuning.drop(columns=["cv_auc", "cv_se"]))


def test_bad_training_data_and_feature_names_are_refused(data):
    with pytest.raises(RadNomoError, match="complete training rows"):
        RANDOM_FOREST.fit(data.assign(x1=data.x1.where(data.index != "P001")), "event", PREDICTORS, name="m")
    with pytest.raises(RadNomoError, match="numeric features only"):
        XGBOOST.fit(data, "event", Predictors(FEATURES, ("x0",)), name="m")
    renamed = data.rename(columns={"x0": "x[0]"})
    with pytest.raises(RadNomoError, match=r"\[.*rename those columns"):
        XGBOOST.fit(renamed, "event", Predictors(("x[0]", *FEATURES[1:])), name="m")


# -- the random forest as arrays ------------------------------------------------------------------------------------


def test_the_forests_arrays_predict_exactly_as_scikit_learn(data):
    from sklearn.ensemble import RandomForestClassifier

    X, y = data[list(FEATURES)].to_numpy(), data["event"].to_numpy()
    rng = np.random.default_rng(0)
    for leaf in (1, 5):  # pure leaves (values 0 or 1) and mixed ones (fractions: the summation order shows)
        rf = RandomForestClassifier(n_estimators=40, max_features=0.33, min_samples_leaf=leaf, random_state=2,
                                    n_jobs=1).fit(X, y)
        trees = forest_arrays(rf)
        # Rows exactly on split thresholds (float64 midpoints, which scikit-learn's float32 cast moves to one side).
        on_thresholds = X[:50].copy()
        inner = trees[0].children_left >= 0
        for k, (f, t) in enumerate(zip(trees[0].feature[inner], trees[0].threshold[inner], strict=True)):
            on_thresholds[k % 50, f] = t
        for rows in (X, rng.normal(size=(300, 6)) * X.std(axis=0) + X.mean(axis=0), np.round(X, 1),
                     on_thresholds):
            ours, theirs = forest_risk(trees, rows), rf.predict_proba(rows)[:, 1]
            assert np.max(np.abs(ours - theirs)) <= 1e-12
            assert np.array_equal(ours, theirs)


def test_a_forest_reloads_from_json_to_identical_predictions(data, forest):
    text = json.dumps(forest.to_dict())
    again = RANDOM_FOREST.from_dict(json.loads(text))
    assert again.predict_risk(data).equals(forest.predict_risk(data))
    assert json.dumps(again.to_dict()) == text
    assert again.params == forest.params and again.table.equals(forest.table)
    tree = forest.to_dict()["trees"][0]
    assert all(type(v) is int for k in ("children_left", "children_right", "feature", "cover") for v in tree[k])
    assert set(tree) == {"children_left", "children_right", "feature", "threshold", "value", "cover"}


def _edited_forest(forest, edit):
    values = copy.deepcopy(forest.to_dict())
    edit(values, values["trees"][1])
    return json.loads(json.dumps(values))  # NaN survives as JSON's NaN, as Python's json writes and reads it


def _inner(tree) -> int:
    return next(i for i, c in enumerate(tree["children_left"]) if c >= 0)


def _leaf(tree) -> int:
    return tree["children_left"].index(-1)


@pytest.mark.parametrize("edit, message", [
    (lambda v, t: t["threshold"].__setitem__(_inner(t), float("nan")), "not finite"),
    (lambda v, t: t["threshold"].__setitem__(_leaf(t), 0.5), "leaves hold thresholds"),
    (lambda v, t: t["children_left"].__setitem__(_inner(t), len(t["value"]) + 3), "out of range"),
    (lambda v, t: t["children_right"].__setitem__(_inner(t), 0), "out of range"),  # a cycle back to the root
    (lambda v, t: t["children_right"].__setitem__(_leaf(t), len(t["value"]) - 1), "one child"),
    (lambda v, t: t["feature"].__setitem__(_inner(t), 6), "outside the model's 6 features"),
    (lambda v, t: t["feature"].__setitem__(_inner(t), 1.0), "whole numbers"),
    (lambda v, t: t["children_left"].__setitem__(_inner(t), True), "whole numbers"),
    (lambda v, t: t["value"].__setitem__(0, 1.5), r"\[0, 1\]"),
    (lambda v, t: t["cover"].__setitem__(0, 0), "above 0"),
    (lambda v, t: t["value"].pop(), "shape"),
    (lambda v, t: t.pop("cover"), "exactly"),
    (lambda v, t: v["features"].pop(), "outside the model's 5 features"),
    (lambda v, t: v.__setitem__("trees", []), "1 to"),
    (lambda v, t: v.__setitem__("learner", "xgboost"), "learner"),
])
def test_an_edited_forest_is_refused(forest, edit, message):
    values = _edited_forest(forest, edit)
    with pytest.raises(RadNomoError, match=message):
        RANDOM_FOREST.from_dict(values)


def test_a_forest_with_a_shared_child_is_refused(forest):
    def share(values, tree):
        left, right = tree["children_left"], tree["children_right"]
        first = _inner(tree)
        second = next(i for i in range(first + 1, len(left)) if left[i] >= 0)
        right[second] = left[second]  # two edges to one node: a node with two parents, another unreachable
    with pytest.raises(RadNomoError, match="do not form a tree"):
        RANDOM_FOREST.from_dict(_edited_forest(forest, share))


def test_forest_shap_is_exact_interventional_shapley(data, forest):
    X = data[list(FEATURES)]
    background = X.iloc[:12]
    explanation = forest.explain(X.iloc[:5], background)
    assert explanation.output == "probability" and "TreeSHAP" in explanation.method
    for row in range(5):
        phi, base = exact_shapley(forest._risk, X.to_numpy()[row], background.to_numpy())
        assert np.max(np.abs(explanation.values.to_numpy()[row] - phi)) < 1e-7
        assert abs(explanation.base_value - base) < 1e-12


def test_forest_shap_adds_up_and_equals_shap_on_the_scikit_learn_forest(data, forest):
    import shap
    from sklearn.ensemble import RandomForestClassifier

    X = data[list(FEATURES)]
    explanation = forest.explain(X, X)  # 200 background rows: a seeded sample of MAX_BACKGROUND
    risk = forest.predict_risk(X)
    # shap's interventional TreeSHAP accumulates in float32 (tree_shap.h), so it adds up to ~1e-8, not 1e-12.
    assert np.max(np.abs(explanation.total() - risk)) < 1e-7
    assert f"{MAX_BACKGROUND} training patients" in explanation.method and explanation.values.index.equals(X.index)
    rf = RandomForestClassifier(n_estimators=SMALL_FOREST, random_state=forest.seed, n_jobs=1,
                                **forest.params).fit(X.to_numpy(), data["event"].to_numpy())
    assert np.array_equal(rf.predict_proba(X.to_numpy())[:, 1], risk.to_numpy())  # the same forest
    direct = shap.TreeExplainer(rf, data=background_rows(X, forest.seed), feature_perturbation="interventional",
                                model_output="raw")
    values = direct.shap_values(X.to_numpy(), check_additivity=False)[:, :, 1]
    assert np.max(np.abs(values - explanation.values.to_numpy())) < 1e-12
    assert abs(direct.expected_value[1] - explanation.base_value) < 1e-12
    again = RANDOM_FOREST.from_dict(json.loads(json.dumps(forest.to_dict()))).explain(X, X)
    assert again.values.equals(explanation.values)
    with pytest.raises(RadNomoError, match="impute"):
        forest.explain(X.assign(x0=X.x0.where(X.index != "P000")), X)


# -- XGBoost -------------------------------------------------------------------------------------------------------


def test_a_booster_reloads_from_json_to_identical_predictions(data, booster):
    text = json.dumps(booster.to_dict())
    again = XGBOOST.from_dict(json.loads(text))
    assert again.predict_risk(data).equals(booster.predict_risk(data))
    assert again.linear_predictor(data).equals(booster.linear_predictor(data))
    assert json.dumps(again.to_dict()) == text and again.booster_json == booster.booster_json
    saved = booster.to_dict()["booster"]
    assert saved["learner"]["feature_names"] == list(FEATURES)
    assert len(saved["learner"]["gradient_booster"]["model"]["trees"]) == booster.params["n_estimators"]
    # The fitted booster's own probabilities (XGBoost's scikit-learn wrapper) are the saved model's.
    fitted = boosting._estimator(booster.seed, **booster.params).fit(data[list(FEATURES)], data["event"])
    assert np.array_equal(fitted.predict_proba(data[list(FEATURES)])[:, 1].astype(float),
                          booster.predict_risk(data).to_numpy())


def _first_split(tree) -> int:
    return next(i for i, c in enumerate(tree["left_children"]) if c >= 0)


def _edited_booster(booster, edit):
    values = copy.deepcopy(booster.to_dict())
    edit(values, values["booster"], values["booster"]["learner"]["gradient_booster"]["model"]["trees"][2])
    return json.loads(json.dumps(values))


@pytest.mark.parametrize("edit, message", [
    (lambda v, b, t: t["split_conditions"].__setitem__(0, float("nan")), "not finite"),
    (lambda v, b, t: t["base_weights"].__setitem__(0, float("inf")), "not finite"),
    (lambda v, b, t: t["left_children"].__setitem__(_first_split(t), 99), "out of range"),
    (lambda v, b, t: t["right_children"].__setitem__(_first_split(t), 0), "out of range"),
    (lambda v, b, t: t["parents"].__setitem__(1, 5), "parents disagree"),
    (lambda v, b, t: t["split_indices"].__setitem__(_first_split(t), 6), "outside its 6 features"),
    (lambda v, b, t: t["split_type"].__setitem__(0, 1), "categorical"),
    (lambda v, b, t: t["sum_hessian"].pop(), "shape"),
    (lambda v, b, t: t["tree_param"].__setitem__("num_nodes", "1000"), "whole numbers"),
    (lambda v, b, t: v.__setitem__("features", ["x1", "x0", *FEATURES[2:]]), "names other features"),
    (lambda v, b, t: v.__setitem__("features", [*FEATURES[:5], "age"]), "names other features"),
    (lambda v, b, t: b["learner"].__setitem__("feature_names", [*FEATURES[:5], "age"]), "names other features"),
    (lambda v, b, t: b["learner"]["learner_model_param"].__setitem__("num_feature", "7"), "7 features|6 features"),
    (lambda v, b, t: b["learner"]["learner_model_param"].__setitem__("base_score", "[1.5E0]"), "base score"),
    (lambda v, b, t: b["learner"]["objective"].__setitem__("name", "reg:squarederror"), "binary:logistic"),
    (lambda v, b, t: b["learner"]["gradient_booster"]["model"]["trees"].pop(), "trees of its chosen"),
    (lambda v, b, t: b["learner"]["gradient_booster"]["model"]["tree_info"].pop(), "refused by XGBoost"),
    (lambda v, b, t: b["learner"].__setitem__("attributes", {"best_iteration": "3"}), "attributes"),
    (lambda v, b, t: b["learner"].pop("gradient_booster"), "lacks parts"),
    (lambda v, b, t: v.pop("booster"), "lacks its booster"),
])
def test_an_edited_booster_is_refused(booster, edit, message):
    with pytest.raises(RadNomoError, match=message):
        XGBOOST.from_dict(_edited_booster(booster, edit))


def test_an_oversized_booster_is_refused_before_xgboost_reads_it(booster, monkeypatch):
    monkeypatch.setattr(boosting, "MAX_BOOSTER_CHARS", 1000)
    with pytest.raises(RadNomoError, match="characters long"):
        XGBOOST.from_dict(booster.to_dict())


def test_booster_shap_is_exact_interventional_shapley_of_the_log_odds(data, booster):
    X = data[list(FEATURES)]
    background = X.iloc[:12]
    explanation = booster.explain(X.iloc[:5], background)
    assert explanation.output == "log-odds"
    for row in range(5):
        phi, base = exact_shapley(booster._log_odds, X.to_numpy()[row], background.to_numpy())
        assert np.max(np.abs(explanation.values.to_numpy()[row] - phi)) < 1e-5
        assert abs(explanation.base_value - base) < 1e-5


def test_booster_shap_adds_up_to_the_log_odds_after_a_reload(data, booster):
    X = data[list(FEATURES)]
    again = reloaded(booster, XGBOOST)
    explanation = again.explain(X, X)
    assert np.max(np.abs(explanation.total() - booster.linear_predictor(X))) < 1e-5
    assert explanation.values.equals(booster.explain(X, X).values)
    # XGBoost's own path-dependent TreeSHAP of the same booster adds up to the same log-odds.
    from xgboost import DMatrix
    contributions = again.booster.predict(DMatrix(X.to_numpy(), feature_names=list(FEATURES)), pred_contribs=True)
    assert np.max(np.abs(contributions.sum(axis=1) - booster.linear_predictor(X).to_numpy())) < 1e-5


# -- the learners' own settings (slow: 300 trees, the full grids) ---------------------------------------------------


@pytest.mark.slow
def test_the_default_learners_fit_save_and_reload(data):
    for learner in (RANDOM_FOREST, XGBOOST):
        model = learner.fit(data, "event", PREDICTORS, name=f"mri_{learner.name}", options=FitOptions(seed=1))
        assert model.grid == (random_forest.GRID if learner is RANDOM_FOREST else boosting.GRID)
        again = reloaded(model, learner)
        assert again.predict_risk(data).equals(model.predict_risk(data))
    assert len(model.to_dict()["booster"]["learner"]["gradient_booster"]["model"]["trees"]) \
        == model.params["n_estimators"]


def test_the_forest_is_tuned_on_its_out_of_bag_auc(data, forest):
    """Each candidate's cv_auc is the AUC (with its DeLong SE) of scikit-learn's out-of-bag probabilities of a
    forest grown on the training rows alone; the chosen candidate is the saved forest, said as out-of-bag tuning."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score

    X, y = data[list(FEATURES)].to_numpy(), data["event"].to_numpy()
    for _, row in forest.tuning.iterrows():
        params = {k: row[k] for k in random_forest.GRID}
        params["min_samples_leaf"] = int(params["min_samples_leaf"])
        oob = RandomForestClassifier(n_estimators=SMALL_FOREST, random_state=5, oob_score=True, **params).fit(X, y)
        assert row["cv_auc"] == pytest.approx(roc_auc_score(y, oob.oob_decision_function_[:, 1]), abs=1e-12)
        assert 0 < row["cv_se"] < 0.1
    chosen = forest.tuning.iloc[int(np.argmax(forest.tuning["cv_auc"]))]
    assert {k: str(chosen[k]) for k in random_forest.GRID} == {k: str(v) for k, v in forest.params.items()}
    assert forest.n_folds == 0 and "out-of-bag AUC" in forest.detail
    refit = RandomForestClassifier(n_estimators=SMALL_FOREST, random_state=5, **forest.params).fit(X, y)
    np.testing.assert_array_equal(forest.predict_risk(data).to_numpy(), refit.predict_proba(X)[:, 1])
