"""Gradient boosting (XGBoost) as a comparator learner ("xgboost", issue 31).

The model is ``xgboost.XGBClassifier(objective="binary:logistic", tree_method="hist", learning_rate=0.05,
subsample=0.8, colsample_bytree=0.8, max_depth, n_estimators, random_state=seed, n_jobs=1)`` on the raw features
(trees need no scaling): its log-odds the base score's plus the sum of the trees' leaf weights. Two hyper-parameters
are tuned by :func:`~core.stats.learners.comparator.tune` (5-fold stratified CV AUC on the training patients, seeded)
on the grid

    max_depth in (2, 4)  x  n_estimators in (100, 300)        at learning_rate 0.05

because tree depth (the order of interactions) and the number of rounds at a fixed small learning rate (how far the
fit goes) are what decide boosting's under- or over-fitting; with a few hundred patients, stumps-to-depth-4 trees and
100-300 rounds of 0.05 span the useful range (0.05 x 300 = 15 units of shrunken steps), and subsampling rows and
columns (0.8 each) adds the randomness that steadies small samples. The final model is fitted on all training rows
with the chosen pair.

Saved through XGBoost's own JSON model format (``Booster.save_raw("json")``, parsed into the saved JSON as an object,
never pickle); read back with ``Booster.load_model`` after re-validation: its size, finite numbers, the feature names
and count, the objective, the number of trees, each tree's structure (children after their parents, splits on the
model's features, numerical splits only) and the base score. It predicts with the booster (a ``DMatrix`` with the
feature names), identically after a save and reload. Its SHAP values are shap's interventional TreeSHAP of the
log-odds against a seeded sample of the training rows (:func:`~core.stats.learners.tree_arrays.tree_shap`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from core.errors import RadNomoError
from core.stats.explanations import Explanation
from core.stats.learners.base import FitOptions, Predictors
from core.stats.learners.comparator import TUNING_FOLDS, ComparatorModel, saved_array, training_data, tune
from core.stats.learners.tree_arrays import check_children, tree_shap
from core.stats.outcomes import Outcome
from core.vocabulary import COMPARATOR_METHODS, COMPARATOR_ROLE

__all__ = ["XGBoostModel", "XGBoostLearner", "XGBOOST", "GRID", "LEARNING_RATE", "SUBSAMPLE", "COLSAMPLE",
           "MAX_BOOSTER_CHARS", "read_booster"]

GRID: dict[str, tuple] = {"max_depth": (2, 4), "n_estimators": (100, 300)}
LEARNING_RATE = 0.05
SUBSAMPLE = 0.8  # rows drawn (without replacement) for each tree
COLSAMPLE = 0.8  # features drawn for each tree
# The longest saved booster read back (its JSON text): 300 trees of depth 4 take about 0.5 MB; anything far larger
# was edited or is not one of these models, and is refused before XGBoost parses it.
MAX_BOOSTER_CHARS = 20_000_000
_NO_PARENT = 2147483647  # XGBoost's parent index of a root (int32 max)
_FORBIDDEN = ("[", "]", "<")  # characters XGBoost refuses in feature names (they would confuse its text dumps)
_TREE_LISTS = ("left_children", "right_children", "parents", "split_indices", "split_conditions", "split_type",
               "default_left", "base_weights", "loss_changes", "sum_hessian")


def _estimator(seed: int, **params: Any) -> Any:
    """The XGBClassifier of the module's docstring, seeded, one thread, with ``params`` (the tuned pair)."""
    from xgboost import XGBClassifier

    return XGBClassifier(objective="binary:logistic", tree_method="hist", learning_rate=LEARNING_RATE,
                         subsample=SUBSAMPLE, colsample_bytree=COLSAMPLE, random_state=seed, n_jobs=1, **params)


def _fail(name: str, what: str) -> RadNomoError:
    return RadNomoError(f"the saved {name} XGBoost model {what}; it was edited or damaged: refit the models.")


def _ints(values: object, n: int, name: str, what: str) -> np.ndarray:
    """A saved list of ``n`` ints (not bools) as an int64 array."""
    if not isinstance(values, list) or len(values) != n or not all(type(v) is int for v in values):
        raise _fail(name, f"has a tree whose {what} are not {n} whole numbers")
    return np.array(values, dtype=np.int64)


def _check_tree(tree: object, index: int, n_features: int, name: str) -> None:
    """One saved XGBoost tree re-validated: its node lists of one length (``tree_param.num_nodes``), children after
    their parents (:func:`~core.stats.learners.tree_arrays.check_children`) and parents that agree, splits on the
    model's features, numerical splits only, finite numbers."""
    if not isinstance(tree, Mapping) or any(k not in tree for k in (*_TREE_LISTS, "tree_param", "categories")):
        raise _fail(name, f"has a tree ({index + 1}) without XGBoost's node lists")
    param = tree["tree_param"]
    n = int(param["num_nodes"]) if isinstance(param, Mapping) and str(param.get("num_nodes", "")).isdigit() else 0
    if not 1 <= n <= 2 ** 20 or not isinstance(param, Mapping) or param.get("num_feature") != str(n_features):
        raise _fail(name, f"has a tree ({index + 1}) whose size or feature count is not valid")
    left, right, parents, split_indices, split_type, default_left = (
        _ints(tree[k], n, name, k) for k in ("left_children", "right_children", "parents", "split_indices",
                                             "split_type", "default_left"))
    for key in ("split_conditions", "base_weights", "loss_changes", "sum_hessian"):
        saved_array(tree[key], f"{name} XGBoost model's tree {index + 1} {key}", (n,))
    inner = check_children(left, right, f"{name} XGBoost model's tree {index + 1}", complete=False)
    nodes = np.arange(n)
    if parents[0] != _NO_PARENT or (parents[left[inner]] != nodes[inner]).any() \
            or (parents[right[inner]] != nodes[inner]).any():
        raise _fail(name, f"has a tree ({index + 1}) whose parents disagree with its children")
    if ((split_indices[inner] < 0) | (split_indices[inner] >= n_features)).any():
        raise _fail(name, f"splits on a feature outside its {n_features} features (tree {index + 1})")
    if (split_type != 0).any() or tree["categories"] or ((default_left != 0) & (default_left != 1)).any():
        raise _fail(name, f"has a categorical split or a bad missing-value direction (tree {index + 1})")


def read_booster(values: object, features: Sequence[str], n_trees: int, name: str) -> tuple[str, Any]:
    """A saved XGBoost model (the parsed ``save_raw("json")``) re-validated, then loaded.

    Before XGBoost reads it: its JSON text (finite numbers only, ``allow_nan=False``) at most
    :data:`MAX_BOOSTER_CHARS` long; a "binary:logistic" gbtree of ``n_trees`` trees over exactly ``features`` (names,
    order, count, all numerical); a base score in (0, 1); each tree as :func:`_check_tree` checks. After loading:
    the booster's feature names, feature count and rounds again. No attributes (XGBoost's ``best_iteration`` and
    the like: the learner sets none).

    Returns
    -------
    (text, booster)
        The JSON text XGBoost loaded (what the model saves again) and the ``xgboost.Booster``.

    Raises
    ------
    RadNomoError
        For anything else (naming ``name``).
    """
    from xgboost import Booster
    from xgboost.core import XGBoostError

    if not isinstance(values, Mapping):
        raise _fail(name, "is not a JSON object")
    try:
        text = json.dumps(values, allow_nan=False, separators=(",", ":"))
    except (ValueError, TypeError, RecursionError) as error:  # NaN or infinity, a non-JSON value, deep nesting
        raise _fail(name, "holds values that are not finite JSON numbers") from error
    if len(text) > MAX_BOOSTER_CHARS:
        raise _fail(name, f"is {len(text):,} characters long, more than {MAX_BOOSTER_CHARS:,}")
    p = len(features)
    try:
        learner = values["learner"]
        model_param, objective = learner["learner_model_param"], learner["objective"]["name"]
        booster_name, model = learner["gradient_booster"]["name"], learner["gradient_booster"]["model"]
        trees, num_trees = model["trees"], model["gbtree_model_param"]["num_trees"]
        base_score = float(str(model_param["base_score"]).strip("[]"))
    except (KeyError, TypeError, ValueError) as error:
        raise _fail(name, "lacks parts of XGBoost's model format") from error
    if learner.get("feature_names") != list(features) or learner.get("feature_types") != ["float"] * p:
        raise _fail(name, f"names other features than its {p} numeric features {list(features)[:5]}")
    if model_param.get("num_feature") != str(p) or model_param.get("num_class") != "0" \
            or model_param.get("num_target") != "1":
        raise _fail(name, f"does not read {p} features for one binary outcome")
    if objective != "binary:logistic" or booster_name != "gbtree":
        raise _fail(name, "is not a binary:logistic tree booster")
    if learner.get("attributes") != {}:  # e.g. a best_iteration would make XGBoost's wrappers drop trees
        raise _fail(name, "carries attributes (such as a best iteration) this learner never sets")
    if not (math.isfinite(base_score) and 0 < base_score < 1):
        raise _fail(name, "has a base score outside (0, 1)")
    if not isinstance(trees, list) or len(trees) != n_trees or num_trees != str(n_trees):
        raise _fail(name, f"does not hold the {n_trees} trees of its chosen n_estimators")
    for index, tree in enumerate(trees):
        _check_tree(tree, index, p, name)
    booster = Booster()
    try:
        booster.load_model(bytearray(text.encode("utf-8")))
    except XGBoostError as error:
        raise _fail(name, f"is refused by XGBoost ({str(error).splitlines()[0][:200]})") from error
    if booster.feature_names != list(features) or booster.num_features() != p \
            or booster.num_boosted_rounds() != n_trees:
        raise _fail(name, "loads with other features or rounds than it names")
    booster.set_param({"nthread": 1})
    return text, booster


@dataclass(frozen=True, kw_only=True, eq=False)
class XGBoostModel(ComparatorModel):
    """A fitted XGBoost model (see the module's docstring).

    Attributes
    ----------
    booster_json : str
        The booster in XGBoost's JSON model format, as loaded (saved as the parsed object).
    booster : xgboost.Booster
        The booster loaded from ``booster_json`` (what predicts).
    """

    LEARNER = "xgboost"

    booster_json: str
    booster: Any

    def _matrix(self, X: np.ndarray) -> Any:
        from xgboost import DMatrix

        return DMatrix(np.asarray(X, dtype=float), feature_names=list(self.features), nthread=1)

    def _risk(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(self._matrix(X)), dtype=float)

    def _log_odds(self, X: np.ndarray) -> np.ndarray:
        """The booster's own margin (its log-odds), exact where the probability rounds to 0 or 1."""
        return np.asarray(self.booster.predict(self._matrix(X), output_margin=True), dtype=float)

    def explain(self, df: pd.DataFrame, background: pd.DataFrame) -> Explanation:
        """Interventional TreeSHAP of the log-odds for the rows of ``df`` against ``background`` (the training rows,
        a seeded sample of at most ``MAX_BACKGROUND``) by ``shap.TreeExplainer`` on the booster
        (:func:`~core.stats.learners.tree_arrays.tree_shap`): ``base_value + row sum`` is the booster's margin
        (to XGBoost's float32 precision, about 1e-6).

        Raises
        ------
        RadNomoError
            As :meth:`ComparatorModel.explained_frames`.
        """
        X, B = self.explained_frames(df, background)
        with threadpool_limits(1):
            return tree_shap(self.name, self.booster, X, B, seed=self.seed, output="log-odds",
                             method="interventional TreeSHAP (shap.TreeExplainer) of the XGBoost log-odds")

    def _payload(self) -> dict:
        return {"booster": json.loads(self.booster_json)}

    @classmethod
    def _read_payload(cls, values: Mapping, common: dict) -> XGBoostModel:
        """The booster re-validated and loaded (:func:`read_booster`), with as many trees as the chosen
        ``n_estimators``."""
        name = common["name"]
        if "booster" not in values:
            raise RadNomoError(f"the saved {name} XGBoost model lacks its booster; refit the models.")
        n_trees = common["params"].get("n_estimators")
        if isinstance(n_trees, bool) or not isinstance(n_trees, int):
            raise RadNomoError(f"the saved {name} XGBoost model's n_estimators is not a whole number.")
        text, booster = read_booster(values["booster"], common["features"], n_trees, name)
        return cls(**common, booster_json=text, booster=booster)


@dataclass(frozen=True)
class XGBoostLearner:
    """XGBoost on a family's features, tree depth and rounds tuned (see the module's docstring)."""

    name: str = "xgboost"
    label: str = COMPARATOR_METHODS["xgboost"]
    roles: tuple[str, ...] = (COMPARATOR_ROLE,)
    outcome_kinds: tuple[str, ...] = ("binary",)

    def description(self) -> str:
        return (f"gradient-boosted trees (XGBoost, learning rate {LEARNING_RATE}, row and feature subsampling "
                f"{SUBSAMPLE}) on the features, the tree depth and number of rounds tuned by {TUNING_FOLDS}-fold "
                "cross-validated AUC on the training cohort")

    def fit(self, data: pd.DataFrame, outcome: Outcome | str, predictors: Predictors, *, name: str,
            options: FitOptions | None = None, selection: Any = None) -> XGBoostModel:
        """The boosted trees of ``predictors.continuous`` on the training rows ``data`` (``options.seed`` seeds the
        tuning's folds and XGBoost's subsampling; ``options.n_folds`` and ``selection`` are not used: the tuning has
        :data:`~core.stats.learners.comparator.TUNING_FOLDS` folds). The fitted booster is saved to JSON and
        loaded back (:func:`read_booster`) before it predicts, so a fitted model and its reload are the same.

        Raises
        ------
        RadNomoError
            As :func:`~core.stats.learners.comparator.training_data`, or for a feature name XGBoost refuses.
        """
        seed = (options or FitOptions()).seed
        X, y = training_data(self, data, outcome, predictors, name=name)
        refused = [f for f in X.columns if any(c in f for c in _FORBIDDEN)]
        if refused:
            raise RadNomoError(f"XGBoost does not accept feature names containing '[', ']' or '<' ({refused[:3]}); "
                               f"rename those columns to fit the {name} model.")
        with threadpool_limits(1):
            params, table = tune(_estimator(seed), GRID, X, y, seed=seed)
            fitted = _estimator(seed, **params).fit(X, y)
            saved = json.loads(bytes(fitted.get_booster().save_raw("json")))
        text, booster = read_booster(saved, tuple(X.columns), params["n_estimators"], name)
        return XGBoostModel(name=name, learner=self.name, features=tuple(X.columns), params=params, grid=GRID,
                            tuning=table, n_folds=TUNING_FOLDS, seed=seed, booster_json=text, booster=booster)

    def from_dict(self, values: Mapping) -> XGBoostModel:
        return XGBoostModel.from_dict(values)


XGBOOST = XGBoostLearner()
