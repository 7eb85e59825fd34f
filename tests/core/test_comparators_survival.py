"""The gradient-boosted Cox comparator (core.stats.learners.boosted_cox): tuned, saved as JSON data and explained.

Known answers from independent code: scikit-survival's own ``predict`` (the log relative hazard) and, on data
without tied times (where Efron's and Breslow's baseline hazards coincide), its ``predict_survival_function``;
the tuning's C of one grid point recomputed from a direct 100-tree fit per fold and sksurv's
``concordance_index_censored``; TreeSHAP against shap's exact (brute-force Shapley) explainer of the linear
predictor with the same background.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.learners import SurvivalModel
from core.stats.learners.base import FitOptions, Predictors
from core.stats.learners.boosted_cox import (BOOSTED_COX, GRID, LEARNING_RATE, OUTPUT, SUBSAMPLE, TUNING_SCORE,
                                             BoostedCoxModel)
from core.stats.explanations import MAX_BACKGROUND
from core.stats.learners.comparator import TUNING_FOLDS
from core.stats.outcomes import BinaryOutcome, SurvivalOutcome
from core.stats.survival.concordance import harrell_c
from core.vocabulary import horizon_column

FEATURES = tuple(f"f{i}" for i in range(5))
HORIZONS = (4.0, 8.0)
SEED = 7


def _data(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """Exponential event times with hazard exp(f0 - 0.5 f1 + 0.5 f2 f3) / 8, uniform censoring (no tied times)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(FEATURES)))
    eta = X[:, 0] - 0.5 * X[:, 1] + 0.5 * X[:, 2] * X[:, 3]
    event_time = rng.exponential(8.0 * np.exp(-eta))
    censor = rng.uniform(2.0, 30.0, size=n)
    df = pd.DataFrame(X, columns=list(FEATURES), index=[f"p{i}" for i in range(n)])
    df["time"] = np.minimum(event_time, censor)
    df["event"] = (event_time <= censor).astype(int)
    return df


def _outcome() -> SurvivalOutcome:
    return SurvivalOutcome(time_column="time", event_column="event", time_unit="months", horizons=HORIZONS)


def _fit(df: pd.DataFrame, seed: int = SEED) -> BoostedCoxModel:
    return BOOSTED_COX.fit(df, _outcome(), Predictors(continuous=FEATURES), name="radiomics_boosted_cox",
                           options=FitOptions(seed=seed))


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return _data()


@pytest.fixture(scope="module")
def model(data) -> BoostedCoxModel:
    return _fit(data)


def _sksurv(df: pd.DataFrame, params: dict, seed: int = SEED):
    from sksurv.ensemble import GradientBoostingSurvivalAnalysis
    from sksurv.util import Surv

    return GradientBoostingSurvivalAnalysis(loss="coxph", learning_rate=LEARNING_RATE, subsample=SUBSAMPLE,
                                            random_state=seed, **params).fit(
        df[list(FEATURES)].to_numpy(), Surv.from_arrays(df["event"].to_numpy().astype(bool), df["time"].to_numpy()))


def _roundtrip(model: BoostedCoxModel) -> BoostedCoxModel:
    return BoostedCoxModel.from_dict(json.loads(json.dumps(model.to_dict())))


# -- the fit ---------------------------------------------------------------------------------------------------

def test_fit_discriminates_and_satisfies_the_survival_protocol(model, data):
    assert isinstance(model, SurvivalModel)
    assert model.learner == "boosted_cox" and model.variables == FEATURES and not model.drawable
    assert model.converged and model.convergence == ""
    c = harrell_c(data["time"].to_numpy(), data["event"].to_numpy(), model.linear_predictor(data).to_numpy()).c
    assert c > 0.6
    assert len(model.trees) == model.params["n_estimators"]
    assert model.params in [dict(zip(GRID, v, strict=True)) for v in [(100, 1), (100, 2), (300, 1), (300, 2)]]
    assert model.horizons == HORIZONS and model.last_follow_up == data["time"].max()
    assert "Harrell's C" in model.detail and f"seed {SEED}" in model.detail
    with pytest.raises(RadNomoError, match="cannot be drawn as a nomogram"):
        model.nomogram_design()


def test_tuning_table_and_choice(model):
    table = model.table
    assert list(table.columns) == ["n_estimators", "max_depth", TUNING_SCORE, "cv_se", "chosen"]
    # ParameterGrid's order (sorted keys, the last varying fastest): depth outer, number of trees inner
    assert list(zip(table["max_depth"], table["n_estimators"], strict=True)) == [(1, 100), (1, 300), (2, 100),
                                                                                  (2, 300)]
    assert table["chosen"].sum() == 1
    chosen = table[table["chosen"]].iloc[0]
    assert chosen[TUNING_SCORE] == table[TUNING_SCORE].max()
    assert ((table[TUNING_SCORE] > 0.5) & (table[TUNING_SCORE] <= 1) & (table["cv_se"] > 0)).all()


def test_tuning_score_equals_a_direct_fit_per_fold(model, data):
    """The (100 trees, depth 1) row, scored from the staged predictions of 300-tree fits, equals 100-tree fits on
    the same stratified folds scored by sksurv's own Harrell's C (no tied times: the two C's coincide)."""
    from sklearn.model_selection import StratifiedKFold
    from sksurv.metrics import concordance_index_censored

    event, time = data["event"].to_numpy(), data["time"].to_numpy()
    scores = []
    for fit_rows, test_rows in StratifiedKFold(TUNING_FOLDS, shuffle=True, random_state=SEED).split(data, event):
        fitted = _sksurv(data.iloc[fit_rows], {"n_estimators": 100, "max_depth": 1})
        eta = fitted.predict(data.iloc[test_rows][list(FEATURES)].to_numpy())
        scores.append(concordance_index_censored(event[test_rows].astype(bool), time[test_rows], eta)[0])
    row = model.tuning[(model.tuning["n_estimators"] == 100) & (model.tuning["max_depth"] == 1)].iloc[0]
    assert row[TUNING_SCORE] == pytest.approx(np.mean(scores), abs=1e-12)
    assert row["cv_se"] == pytest.approx(np.std(scores, ddof=1) / np.sqrt(TUNING_FOLDS), abs=1e-12)


def test_staged_fit_is_the_smaller_fit(data):
    """What the tuning's shortcut relies on: the first 100 stages of a 300-tree fit are the 100-tree fit."""
    X = data[list(FEATURES)].to_numpy()
    small = _sksurv(data, {"n_estimators": 100, "max_depth": 2}).predict(X)
    staged = list(_sksurv(data, {"n_estimators": 300, "max_depth": 2}).staged_predict(X))
    assert np.array_equal(staged[99], small)


def test_deterministic_and_seeded(model, data):
    again = _fit(data)
    assert json.dumps(again.to_dict()) == json.dumps(model.to_dict())


def test_equals_scikit_survival(model, data):
    """eta equals sksurv's predict of the same fit; survival equals its Breslow survival function (= Efron's
    without tied times) to 1e-10."""
    fitted = _sksurv(data, model.params)
    X = data[list(FEATURES)].to_numpy()
    assert np.abs(model.linear_predictor(data).to_numpy() - fitted.predict(X)).max() < 1e-10
    survival = model.predict_survival(data)
    functions = fitted.predict_survival_function(X)
    for h in HORIZONS:
        expected = np.array([f(h) for f in functions])
        assert np.abs(survival[horizon_column(h)].to_numpy() - expected).max() < 1e-10


# -- predictions -----------------------------------------------------------------------------------------------

def test_survival_in_unit_interval_and_decreasing(model, data):
    times = np.linspace(0.5, 0.95 * model.last_follow_up, 12)
    survival = model.predict_survival(data, times)
    values = survival[[horizon_column(h) for h in times]].to_numpy()
    assert ((values >= 0) & (values <= 1)).all()
    assert (np.diff(values, axis=1) <= 0).all() and (values[:, -1] < values[:, 0]).any()
    assert survival[[horizon_column(h, b) for h in times for b in ("low", "high")]].isna().all().all()
    first = model.predict_survival(data, [HORIZONS[0]])[horizon_column(HORIZONS[0])]
    assert np.allclose(model.predict_risk(data), 1 - first, rtol=0, atol=0)
    # the baseline gives the same survival: S = exp(-H0(t) exp(eta))
    base = model.baseline
    at = base["time"].searchsorted(HORIZONS[1], side="right") - 1
    expected = np.exp(-base["cumulative_hazard"].iloc[at] * np.exp(model.linear_predictor(data)))
    assert np.allclose(model.predict_survival(data)[horizon_column(HORIZONS[1])], expected, rtol=1e-12, atol=0)
    assert base["time"].iloc[-1] == model.last_follow_up


def test_missing_rows_and_bad_horizons(model, data):
    rows = data.head(4).copy()
    rows.loc["p1", "f2"] = np.nan
    risk = model.predict_risk(rows)
    assert risk.isna().tolist() == [False, True, False, False] and risk.index.equals(rows.index)
    assert model.linear_predictor(rows).isna().tolist() == [False, True, False, False]
    with pytest.raises(RadNomoError, match="beyond the last follow-up"):
        model.predict_survival(rows, [model.last_follow_up + 1])
    with pytest.raises(RadNomoError, match="lacks"):
        model.predict_risk(rows.drop(columns="f0"))


# -- saving ----------------------------------------------------------------------------------------------------

def test_json_roundtrip_is_identical(model, data):
    loaded = _roundtrip(model)
    assert np.array_equal(loaded.linear_predictor(data), model.linear_predictor(data))
    assert loaded.predict_survival(data).equals(model.predict_survival(data))
    assert loaded.table.equals(model.table) and loaded.params == model.params
    assert json.dumps(loaded.to_dict()) == json.dumps(model.to_dict())


def _edited(model: BoostedCoxModel, edit) -> dict:
    payload = json.loads(json.dumps(model.to_dict()))
    edit(payload)
    return payload


def _inner_node(payload: dict) -> int:
    return next(i for i, child in enumerate(payload["trees"][0]["children_left"]) if child >= 0)


EDITS = {
    "threshold NaN": lambda p: p["trees"][0]["threshold"].__setitem__(_inner_node(p), float("nan")),
    "child out of range": lambda p: p["trees"][0]["children_left"].__setitem__(_inner_node(p), 10_000),
    "child loops back": lambda p: p["trees"][0]["children_right"].__setitem__(_inner_node(p), 0),
    "feature out of range": lambda p: p["trees"][0]["feature"].__setitem__(_inner_node(p), len(FEATURES)),
    "value not a number": lambda p: p["trees"][0]["value"].__setitem__(0, "1.0"),
    "a tree dropped": lambda p: p["trees"].pop(),
    "learning rate 0": lambda p: p.__setitem__("learning_rate", 0.0),
    "init infinite": lambda p: p.__setitem__("init", float("inf")),
    "negative hazard": lambda p: p["baseline"]["hazard"].__setitem__(0, -1.0),
    "unsorted event times": lambda p: p["baseline"]["time"].reverse(),
    "horizon beyond follow-up": lambda p: p.__setitem__("horizons", [1.0, p["last_follow_up"] + 5]),
    "tuning C above 1": lambda p: p["tuning"][TUNING_SCORE].__setitem__(0, 1.5),
    "grid changed": lambda p: p["grid"].__setitem__("max_depth", [1, 2, 8]),
    "baseline missing": lambda p: p.pop("baseline"),
    "a feature name repeated": lambda p: p["features"].__setitem__(1, "f0"),
    "features the trees split beyond": lambda p: p.__setitem__("features", ["f0"]),
    "another learner": lambda p: p.__setitem__("learner", "random_forest"),
}


@pytest.mark.parametrize("edit", list(EDITS), ids=list(EDITS))
def test_edited_payload_refused(model, edit):
    with pytest.raises(RadNomoError):
        BoostedCoxModel.from_dict(_edited(model, EDITS[edit]))


def test_deeper_tree_refused(model):
    """A tree one level deeper than the chosen max_depth (a leaf split again) is refused."""
    def deepen(payload: dict) -> None:
        tree = payload["trees"][0]
        leaf = max(i for i, child in enumerate(tree["children_left"]) if child < 0 and i > 0)
        n = len(tree["value"])
        for _ in range(payload["params"]["max_depth"] + 2):  # split the deepest leaf repeatedly
            tree["children_left"][leaf], tree["children_right"][leaf] = n, n + 1
            tree["feature"][leaf], tree["threshold"][leaf] = 0, 0.0
            for key, leaf_value in (("children_left", -1), ("children_right", -1), ("feature", -2),
                                    ("threshold", -2.0), ("value", 0.0), ("cover", 1)):
                tree[key] += [leaf_value, leaf_value]
            leaf, n = n, n + 2

    with pytest.raises(RadNomoError, match="nodes than a tree of depth|deeper"):
        BoostedCoxModel.from_dict(_edited(model, deepen))


# -- fitting refused -------------------------------------------------------------------------------------------

def test_fit_refuses_what_it_cannot_fit(data):
    predictors = Predictors(continuous=FEATURES)
    with pytest.raises(RadNomoError, match="survival outcomes, not a binary"):
        BOOSTED_COX.fit(data, BinaryOutcome("event"), predictors, name="m")
    holed = data.copy()
    holed.iloc[3, 0] = np.nan
    with pytest.raises(RadNomoError, match="complete training rows"):
        BOOSTED_COX.fit(holed, _outcome(), predictors, name="m")
    with pytest.raises(RadNomoError, match="numeric features only"):
        BOOSTED_COX.fit(data, _outcome(), Predictors(continuous=FEATURES, categorical=("f0",)), name="m")
    with pytest.raises(RadNomoError, match="no feature"):
        BOOSTED_COX.fit(data, _outcome(), Predictors(), name="m")
    few = data.copy()
    few["event"] = 0
    few.iloc[:3, few.columns.get_loc("event")] = 1
    few.iloc[:3, few.columns.get_loc("time")] = 1.0
    with pytest.raises(RadNomoError, match="tuning folds"):
        BOOSTED_COX.fit(few, _outcome(), predictors, name="m")
    constant = data.assign(f4=1.0)
    with pytest.raises(RadNomoError, match="constant"):
        BOOSTED_COX.fit(constant, _outcome(), predictors, name="m")


# -- SHAP ------------------------------------------------------------------------------------------------------

def _brute_force_shapley(function, rows: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Interventional Shapley values by enumeration: v(S) = mean over background rows b of f(x_S, b_rest), and
    phi_j = sum over S without j of |S|! (p - |S| - 1)! / p! (v(S + j) - v(S))."""
    from itertools import product
    from math import factorial

    n, p = rows.shape
    masks = np.array(list(product([False, True], repeat=p)))
    # every row x every coalition x every background row, evaluated in one call
    mixed = np.where(masks[None, :, None, :], rows[:, None, None, :], background[None, None, :, :])
    v = function(mixed.reshape(-1, p)).reshape(n, len(masks), len(background)).mean(axis=2)
    index = {tuple(m): k for k, m in enumerate(masks)}
    phi = np.zeros((n, p))
    for k, mask in enumerate(masks):
        size = int(mask.sum())
        for j in np.flatnonzero(~mask):
            with_j = mask.copy()
            with_j[j] = True
            weight = factorial(size) * factorial(p - size - 1) / factorial(p)
            phi[:, j] += weight * (v[:, index[tuple(with_j)]] - v[:, k])
    return phi


def test_treeshap_of_the_dict_model_is_exact_shapley(model, data):
    """shap.TreeExplainer on the saved trees' dict model equals the Shapley values of the linear predictor
    enumerated over every coalition against the same background, and adds up to it."""
    import shap

    background = data[list(FEATURES)].to_numpy()[:40]
    rows = data[list(FEATURES)].iloc[40:60]
    tree = shap.TreeExplainer(_roundtrip(model).shap_model(), data=background, model_output="raw",
                              feature_perturbation="interventional")
    values = tree.shap_values(rows.to_numpy(), check_additivity=False)
    eta = model.linear_predictor(rows).to_numpy()
    # shap's C++ interventional TreeSHAP carries ~1e-8 of rounding over 300 trees (eta is of order 1)
    assert np.abs(values.sum(axis=1) + tree.expected_value - eta).max() < 1e-6
    assert tree.expected_value == pytest.approx(model._eta(background).mean(), abs=1e-10)
    reference = _brute_force_shapley(model._eta, rows.to_numpy(), background)
    assert np.abs(values - reference).max() < 1e-6


def test_explain_is_additive_on_the_log_relative_hazard(model, data):
    explanation = model.explain(data.iloc[:30], data)
    assert explanation.output == OUTPUT == "log relative hazard"
    assert list(explanation.values.columns) == list(FEATURES) and explanation.values.index.equals(data.index[:30])
    assert np.abs(explanation.total() - model.linear_predictor(data.iloc[:30])).max() < 1e-6
    assert "TreeSHAP" in explanation.method and f"{MAX_BACKGROUND} background rows" in explanation.method
    # the background sample is seeded: the same explanation again
    assert explanation.values.equals(model.explain(data.iloc[:30], data).values)
