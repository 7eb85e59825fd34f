"""Gradient-boosted Cox model as a comparator learner of time-to-event outcomes ("boosted_cox", issue 31).

The model is scikit-survival's ``GradientBoostingSurvivalAnalysis(loss="coxph", learning_rate=0.05,
subsample=0.8, random_state=seed)`` on a family's raw features (trees need no standardisation): regression trees
fitted stage by stage to the gradient of the Cox partial likelihood, so its output is a log relative hazard

    eta(x) = init + sum over trees m of learning_rate * value_m(leaf of x)        (init = 0 for "coxph")

(sksurv's ``predict``). The number of trees and their depth are tuned on the grid

    n_estimators in (100, 300)  x  max_depth in (1, 2)

(depth 1: additive stumps, an additive Cox model; depth 2: pairwise interactions. With the learning rate fixed at
0.05, 100 and 300 trees span a lightly to a fully fitted ensemble on a few hundred patients; subsampling 80 % of the
rows per tree is Friedman's stochastic boosting, which regularises further.) The tuning is an inner
:data:`~core.stats.learners.comparator.TUNING_FOLDS`-fold cross-validation on the training patients only, folds
stratified by the event indicator (``StratifiedKFold(shuffle=True, random_state=seed)``), scored by Harrell's C of
each held-out fold (:func:`core.stats.survival.concordance.harrell_c`, R's ``concordance``: the same C the
evaluation reports); the chosen point has the highest mean C (ties: the first in :class:`ParameterGrid` order, the
simplest). Each depth is fitted once per fold with the most trees and scored after 100 and after 300 stages
(``staged_predict``): scikit-learn draws each stage's subsample and tree seed in turn from the one generator, so the
first 100 stages of a 300-tree fit are exactly the 100-tree fit (tests/core/test_comparators_survival.py checks).
The final model is refitted on all training patients with the chosen point.

Survival comes from the training patients' baseline hazard at the ensemble's linear predictors, as for the
LASSO-Cox's fixed coefficients: Efron's estimator (:func:`core.stats.learners.cox.fixed_coefficient_hazard`), so

    S(t | x) = exp(-H0(t) exp(eta(x)))

with no interval (the ensemble has no variance: the ``_low``/``_high`` columns are NaN), ``predict_risk`` =
1 - S(first horizon) and ``linear_predictor`` = eta. The model is saved as plain JSON data (never pickle): each
tree's arrays in :mod:`core.stats.learners.tree_arrays`' layout (children, split feature, threshold, node value,
cover), the learning rate, init, the baseline (event times, hazard increments), the horizons and the last follow-up;
it predicts from them with numpy, equal to sksurv's ``predict`` (to 1e-10; the same float32 comparisons and
summation order) and identical after a JSON round trip.
SHAP: interventional TreeSHAP of eta (``shap.TreeExplainer`` on shap's dict model of the trees, the learning rate
folded into the leaf values) against a seeded background of at most
:data:`~core.stats.explanations.MAX_BACKGROUND` training rows; output "log relative hazard".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.stats.explanations import MAX_BACKGROUND, Explanation
from core.stats.learners.base import FitOptions, Predictors
from core.stats.learners.comparator import TUNING_FOLDS, ComparatorModel, complete_rows, feature_rows, saved_array
from core.stats.learners.cox import (SURVIVAL, _survival_data, baseline_frame, checked_horizons,
                                     fixed_coefficient_hazard)
from core.stats.learners.tree_arrays import LEAF, TreeArrays
from core.stats.modeling import saved_number
from core.stats.outcomes import Outcome
from core.vocabulary import COMPARATOR_METHODS, COMPARATOR_ROLE, horizon_column

__all__ = ["BoostedCoxModel", "BoostedCoxLearner", "BOOSTED_COX", "LEARNING_RATE", "SUBSAMPLE", "GRID", "OUTPUT",
           "TUNING_SCORE", "TUNING_SCORE_LABEL"]

LEARNING_RATE = 0.05
SUBSAMPLE = 0.8
GRID: dict[str, tuple[int, ...]] = {"n_estimators": (100, 300), "max_depth": (1, 2)}
OUTPUT = "log relative hazard"  # the scale of the linear predictor and of the SHAP values
#: The tuning table's score column (the binary comparators' is "cv_auc") and its words.
TUNING_SCORE = "cv_c"
TUNING_SCORE_LABEL = "Harrell's C"
_WHAT_NOW = "the saved models were edited or damaged: refit them"


# --------------------------------------------------------------------------------------------------------------
# The ensemble's trees (core.stats.learners.tree_arrays' TreeArrays: scikit-learn's node arrays)
# --------------------------------------------------------------------------------------------------------------
def _tree_arrays(estimator: Any) -> TreeArrays:
    """A fitted ``DecisionTreeRegressor`` of the ensemble as :class:`TreeArrays`: its node arrays, the node's
    regression value (a step of the log relative hazard, before the learning rate) and its weighted number of
    training rows (of the stage's subsample) as the cover."""
    tree = estimator.tree_
    return TreeArrays(children_left=tree.children_left.astype(np.int64),
                      children_right=tree.children_right.astype(np.int64), feature=tree.feature.astype(np.int64),
                      threshold=tree.threshold.astype(float), value=tree.value.reshape(-1).astype(float),
                      cover=tree.weighted_n_node_samples.astype(float))


def _read_tree(values: object, n_features: int, max_depth: int, what: str) -> TreeArrays:
    """A saved tree re-validated: :meth:`TreeArrays.from_dict`'s checks (a complete binary tree whose children
    follow their parents, split features among the model's, finite thresholds, -2 at leaves, covers > 0), then the
    regression values (any finite numbers: from_dict's [0, 1] is for a forest's probabilities) and a depth of at
    most ``max_depth``.

    Raises
    ------
    RadNomoError
        Naming ``what``, for anything else.
    """
    if not isinstance(values, Mapping) or not isinstance(values.get("value"), list):
        raise RadNomoError(f"the saved {what} is not a tree's arrays; {_WHAT_NOW}.")
    node_values = saved_array(values["value"], f"{what}'s values", (None,))
    if node_values.size > 2 ** (max_depth + 1) - 1:
        raise RadNomoError(f"the saved {what} has more nodes than a tree of depth {max_depth}; {_WHAT_NOW}.")
    # The structure read by tree_arrays with placeholder probabilities, the real values put back after.
    tree = TreeArrays.from_dict({**values, "value": [0.0] * node_values.size}, n_features, what)
    tree = replace(tree, value=node_values)
    if _depth(tree) > max_depth:
        raise RadNomoError(f"the saved {what} is deeper than the model's max_depth {max_depth}; {_WHAT_NOW}.")
    return tree


def _depth(tree: TreeArrays) -> int:
    """The longest root-to-leaf path (children follow their parents, so one pass in node order)."""
    depth = np.zeros(tree.n_nodes, dtype=np.int64)
    for node in np.flatnonzero(tree.children_left != LEAF):
        depth[tree.children_left[node]] = depth[tree.children_right[node]] = depth[node] + 1
    return int(depth.max())


def _leaf_values(tree: TreeArrays, X32: np.ndarray) -> np.ndarray:
    """The value of the leaf each row of ``X32`` (float32, complete) reaches.

    tree_arrays' ``forest_risk`` walks trees the same way but returns a forest's mean; the boosted sum needs each
    tree's leaf values (to add them as sksurv does), so this is the one-tree walk: float32 inputs compared with the
    float64 thresholds, as scikit-learn's trees.
    """
    node = np.zeros(len(X32), dtype=np.int64)
    rows = np.arange(len(X32))
    while True:
        inner = tree.children_left[node] != LEAF
        if not inner.any():
            return tree.value[node]
        at = node[inner]
        left = X32[rows[inner], tree.feature[at]] <= tree.threshold[at]
        node[inner] = np.where(left, tree.children_left[at], tree.children_right[at])


# --------------------------------------------------------------------------------------------------------------
# The fitted model
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True, eq=False)
class BoostedCoxModel(ComparatorModel):
    """A fitted gradient-boosted Cox model (see the module's docstring); satisfies
    :class:`core.stats.learners.SurvivalModel`.

    Attributes (besides :class:`~core.stats.learners.comparator.ComparatorModel`'s; ``tuning`` holds
    :data:`TUNING_SCORE`, the mean held-out Harrell's C, instead of ``cv_auc``)
    ----------
    trees : tuple of TreeArrays
        The ensemble's regression trees, in stage order.
    learning_rate, init : float
        eta(x) = init + sum learning_rate * tree value.
    event_times : numpy.ndarray
        Distinct training event times, increasing (the outcome's unit).
    hazard : numpy.ndarray
        Efron's baseline hazard increment at each event time, for eta = 0.
    last_follow_up : float
        The longest training follow-up: no survival is predicted beyond it.
    horizons : tuple of float
        The outcome's horizons (default of :meth:`predict_survival`; the first is :meth:`predict_risk`'s).
    """

    LEARNER = "boosted_cox"
    TUNING_SCORE = TUNING_SCORE
    TUNING_MEASURE = TUNING_SCORE_LABEL

    trees: tuple[TreeArrays, ...]
    learning_rate: float
    init: float
    event_times: np.ndarray
    hazard: np.ndarray
    last_follow_up: float
    horizons: tuple[float, ...]

    # -- predictions ---------------------------------------------------------------------------

    def _eta(self, X: np.ndarray) -> np.ndarray:
        """The log relative hazard of complete rows ``X`` (raw features, float): sksurv's ``predict``, summed in
        its order (init, then each stage's learning_rate * leaf value in turn)."""
        with np.errstate(over="ignore"):  # a value beyond float32's range becomes inf, as in scikit-learn
            X32 = np.asarray(X, dtype=np.float64).astype(np.float32)
        eta = np.full(len(X32), self.init)
        for tree in self.trees:
            eta += self.learning_rate * _leaf_values(tree, X32)
        return eta

    def _rows(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``df``'s features as floats and which rows are complete."""
        X = complete_rows(df, self.features, f"{self.name} model").to_numpy()
        return X, ~np.isnan(X).any(axis=1)

    def linear_predictor(self, df: pd.DataFrame) -> pd.Series:
        """The log relative hazard eta(x) of each row of ``df`` (raw feature columns; S(t | x) = exp(-H0(t)
        exp(eta)) with :attr:`baseline`); NaN where a feature is missing.

        Raises
        ------
        RadNomoError
            When ``df`` lacks a feature.
        """
        X, complete = self._rows(df)
        eta = np.full(len(X), np.nan)
        if complete.any():
            eta[complete] = self._eta(X[complete])
        return pd.Series(eta, index=df.index, name="linear_predictor")

    @property
    def baseline(self) -> pd.DataFrame:
        """The baseline cumulative hazard H0 at eta = 0 (Efron, a right-continuous step function, 0 before the
        first event): ``time`` (each distinct training event time, then the last follow-up, where it ends) and
        ``cumulative_hazard``, as the Cox models'."""
        return baseline_frame(self.event_times, np.cumsum(self.hazard), self.last_follow_up)

    def _horizons(self, horizons: Sequence[float] | float | None) -> np.ndarray:
        return checked_horizons(self.horizons if horizons is None else horizons, self.last_follow_up, self.name)

    def predict_survival(self, df: pd.DataFrame, horizons: Sequence[float] | float | None = None) -> pd.DataFrame:
        """Predicted survival S(t | x) = exp(-H0(t) exp(eta(x))) of each row of ``df`` at each horizon.

        Parameters
        ----------
        df : pandas.DataFrame
            Raw feature columns, one row per patient.
        horizons : float or sequence of float, optional
            Times in the outcome's unit; default the model's :attr:`horizons`; none beyond the last follow-up.

        Returns
        -------
        pandas.DataFrame
            Index of ``df``; per horizon h ``surv_<h>`` and ``surv_<h>_low`` / ``surv_<h>_high``
            (:func:`~core.vocabulary.horizon_column`), the limits NaN (the ensemble has no variance); NaN rows
            where a feature is missing.

        Raises
        ------
        RadNomoError
            A horizon <= 0 or beyond the last training follow-up; a feature column absent.
        """
        times = self._horizons(horizons)
        eta = self.linear_predictor(df).to_numpy()
        cumhaz = np.concatenate([[0.0], np.cumsum(self.hazard)])[np.searchsorted(self.event_times, times,
                                                                                  side="right")]
        surv = np.exp(-np.outer(np.exp(eta), cumhaz))
        columns: dict[str, np.ndarray] = {}
        for j, h in enumerate(times):
            columns[horizon_column(h)] = surv[:, j]
            columns[horizon_column(h, "low")] = np.full(len(df), np.nan)
            columns[horizon_column(h, "high")] = np.full(len(df), np.nan)
        return pd.DataFrame(columns, index=df.index)

    def predict_risk(self, df: pd.DataFrame) -> pd.Series:
        """The risk of the event by the model's first horizon, 1 - S(horizons[0] | x), per row of ``df`` (NaN where
        a feature is missing; RadNomoError when ``df`` lacks a feature)."""
        return super().predict_risk(df).rename("risk")

    def _risk(self, X: np.ndarray) -> np.ndarray:
        """1 - S(first horizon | x) of complete rows ``X`` (the base class's hook, as :meth:`predict_survival`)."""
        at = np.searchsorted(self.event_times, self.horizons[0], side="right")
        cumhaz = np.concatenate([[0.0], np.cumsum(self.hazard)])[at]
        return 1 - np.exp(-np.exp(self._eta(X)) * cumhaz)

    @property
    def detail(self) -> str:
        """One line for the Models page: the learner, the chosen parameters and how they were chosen."""
        chosen = ", ".join(f"{k} = {v}" for k, v in self.params.items())
        return (f"{self.label}: {chosen} (learning rate {self.learning_rate:g}, subsample {SUBSAMPLE:g}); tuned by "
                f"{self.n_folds}-fold CV {TUNING_SCORE_LABEL} on the training patients (seed {self.seed}).")

    # -- SHAP ----------------------------------------------------------------------------------

    def shap_model(self) -> dict[str, Any]:
        """shap's dict model of the ensemble (``shap.TreeExplainer(model, data, model_output="raw")``): each
        tree's arrays (tree_arrays' layout, as its forests') with the learning rate folded into its values, init as
        ``base_offset``, float32 inputs (as scikit-learn compares): its raw output is eta."""
        return {"trees": [{"children_left": t.children_left.astype(np.int32),
                           "children_right": t.children_right.astype(np.int32),
                           "children_default": t.children_left.astype(np.int32),
                           "features": t.feature.astype(np.int32), "thresholds": t.threshold,
                           "values": (self.learning_rate * t.value)[:, None], "node_sample_weight": t.cover}
                          for t in self.trees],
                "base_offset": self.init, "tree_output": "raw_value", "input_dtype": np.float32,
                "internal_dtype": np.float64}

    def explain(self, df: pd.DataFrame, background: pd.DataFrame) -> Explanation:
        """Interventional TreeSHAP of the log relative hazard eta of ``df``'s rows against ``background`` (the
        training rows; a seeded sample of at most :data:`~core.stats.explanations.MAX_BACKGROUND` of them).

        Returns
        -------
        Explanation
            output "log relative hazard": base value (mean eta over the background rows used) + a row's values
            = its eta.

        Raises
        ------
        RadNomoError
            As :meth:`~core.stats.learners.comparator.ComparatorModel.explained_frames`.
        """
        import shap

        X, B = self.explained_frames(df, background)
        rows = B.to_numpy(dtype=float)
        if len(rows) > MAX_BACKGROUND:
            rng = np.random.default_rng(self.seed)
            rows = rows[np.sort(rng.choice(len(rows), size=MAX_BACKGROUND, replace=False))]
        explainer = shap.TreeExplainer(self.shap_model(), data=rows, model_output="raw",
                                       feature_perturbation="interventional")
        values = np.asarray(explainer.shap_values(X.to_numpy(dtype=float), check_additivity=False), dtype=float)
        return Explanation(model=self.name, values=pd.DataFrame(values, index=X.index, columns=X.columns), data=X,
                           base_value=float(np.ravel(explainer.expected_value)[0]), output=OUTPUT,
                           method=f"TreeSHAP (shap.TreeExplainer, interventional, {len(rows)} background rows)")

    # -- saving --------------------------------------------------------------------------------

    def _payload(self) -> dict:
        return {"trees": [t.to_dict() for t in self.trees], "learning_rate": self.learning_rate, "init": self.init,
                "baseline": {"time": self.event_times.tolist(), "hazard": self.hazard.tolist()},
                "horizons": list(self.horizons), "last_follow_up": self.last_follow_up}


    @classmethod
    def _read_payload(cls, values: Mapping, common: dict) -> BoostedCoxModel:
        """The ensemble re-validated: the grid is :data:`GRID` and the chosen ``n_estimators`` trees of at most
        the chosen ``max_depth``, each a valid tree over the features; a learning rate in (0, 1]; a finite init; a
        baseline of increasing event times > 0 with hazards > 0; horizons > 0, increasing, within the last follow-up,
        which is at least the last event time."""
        name, p = common["name"], len(common["features"])
        lacking = [k for k in ("trees", "learning_rate", "init", "baseline", "horizons", "last_follow_up")
                   if k not in values]
        if lacking:
            raise RadNomoError(f"the saved {name} model lacks {lacking}; refit the models.")
        grid, params = common["grid"], common["params"]
        if {k: tuple(v) for k, v in grid.items()} != GRID:
            raise RadNomoError(f"the saved {name} model's grid is not the boosted Cox learner's {GRID}; {_WHAT_NOW}.")
        trees = values["trees"]
        if not isinstance(trees, list) or len(trees) != params["n_estimators"]:
            raise RadNomoError(f"the saved {name} model must hold its {params['n_estimators']} trees; {_WHAT_NOW}.")
        parsed = tuple(_read_tree(t, p, params["max_depth"], f"{name} model's tree {i + 1}")
                       for i, t in enumerate(trees))
        rate = saved_number(values["learning_rate"], f"{name} model's learning rate")
        if not 0 < rate <= 1:
            raise RadNomoError(f"the saved {name} model's learning rate {rate:g} is not in (0, 1]; {_WHAT_NOW}.")
        base = values["baseline"]
        if not isinstance(base, Mapping) or set(base) != {"time", "hazard"}:
            raise RadNomoError(f"the saved {name} model's baseline hazard is not a table of time and hazard; "
                               f"{_WHAT_NOW}.")
        times = saved_array(base["time"], f"{name} model's event times", (None,))
        hazard = saved_array(base["hazard"], f"{name} model's baseline hazards", (times.size,))
        if times.size == 0 or (times <= 0).any() or (np.diff(times) <= 0).any() or (hazard <= 0).any():
            raise RadNomoError(f"the saved {name} model's baseline hazard must hold increasing event times > 0 and "
                               f"hazards > 0; {_WHAT_NOW}.")
        last = saved_number(values["last_follow_up"], f"{name} model's last follow-up")
        horizons = saved_array(values["horizons"], f"{name} model's horizons", (None,))
        if last < times[-1] or horizons.size == 0 or (horizons <= 0).any() or (np.diff(horizons) <= 0).any() \
                or (horizons > last).any():
            raise RadNomoError(f"the saved {name} model's horizons must be increasing times > 0 within its last "
                               f"follow-up, itself at or after the last event; {_WHAT_NOW}.")
        return cls(**common, trees=parsed, learning_rate=rate,
                   init=saved_number(values["init"], f"{name} model's init"), event_times=times, hazard=hazard,
                   last_follow_up=last, horizons=tuple(float(h) for h in horizons))


# --------------------------------------------------------------------------------------------------------------
# The learner
# --------------------------------------------------------------------------------------------------------------
def _training_rows(learner: BoostedCoxLearner, data: pd.DataFrame, outcome: Outcome | str, predictors: Predictors,
                   name: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, tuple[float, ...]]:
    """X (the continuous predictors as floats), time, event and the horizons of the training rows.

    Raises
    ------
    RadNomoError
        Not a time-to-event outcome, no feature, a categorical predictor, a column absent, a missing value, a
        constant feature, fewer events (or censored patients, when any) than tuning folds, a horizon beyond the
        follow-up.
    """
    time, event, checked = _survival_data(learner, outcome, data, name)
    X = feature_rows(learner, data, predictors, name=name)
    counts = np.bincount(event, minlength=2)
    if counts[1] < TUNING_FOLDS or 0 < counts[0] < TUNING_FOLDS:
        raise RadNomoError(f"{counts[1]} events and {counts[0]} censored training patients cannot fill the "
                           f"{TUNING_FOLDS} tuning folds (stratified by event) of the {name} model ({learner.label}).")
    return X, time, event, checked.horizons


def _tune(X: np.ndarray, time: np.ndarray, event: np.ndarray, *, seed: int,
          n_folds: int = TUNING_FOLDS) -> tuple[dict[str, int], pd.DataFrame]:
    """The grid point with the highest mean held-out Harrell's C over ``n_folds`` stratified folds.

    Written out rather than through ``GridSearchCV``: each depth is fitted once per fold with the most trees and
    scored at every ``n_estimators`` of the grid from its staged predictions (see the module's docstring), which
    saves the smaller fits; the scores and the table are as :func:`~core.stats.learners.comparator.tune`'s.

    Returns
    -------
    (params, table)
        The chosen point and one row per grid point in :class:`~sklearn.model_selection.ParameterGrid` order:
        ``n_estimators``, ``max_depth``, :data:`TUNING_SCORE` (mean C over the folds) and ``cv_se`` (their SD,
        ddof 1, / sqrt(n_folds)).
    """
    from sklearn.model_selection import ParameterGrid, StratifiedKFold
    from sksurv.ensemble import GradientBoostingSurvivalAnalysis
    from sksurv.util import Surv

    from core.stats.survival.concordance import harrell_c

    points = list(ParameterGrid({k: list(v) for k, v in GRID.items()}))
    most = max(GRID["n_estimators"])
    scores = np.full((len(points), n_folds), np.nan)
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(X, event)
    for k, (fit_rows, test_rows) in enumerate(folds):
        y = Surv.from_arrays(event[fit_rows].astype(bool), time[fit_rows])
        for depth in GRID["max_depth"]:
            model = GradientBoostingSurvivalAnalysis(loss="coxph", learning_rate=LEARNING_RATE, subsample=SUBSAMPLE,
                                                     n_estimators=most, max_depth=depth, random_state=seed)
            model.fit(X[fit_rows], y)
            for stage, eta in enumerate(model.staged_predict(X[test_rows]), start=1):
                for i, point in enumerate(points):
                    if point["max_depth"] == depth and point["n_estimators"] == stage:
                        scores[i, k] = harrell_c(time[test_rows], event[test_rows], eta).c
    if not np.isfinite(scores).all():
        raise RadNomoError("a tuning fold of the boosted Cox model has no comparable pair of patients (too few "
                           "events); it cannot be tuned on these training patients.")
    table = pd.DataFrame([{k: int(p[k]) for k in GRID} for p in points])
    table[TUNING_SCORE] = scores.mean(axis=1)
    table["cv_se"] = scores.std(axis=1, ddof=1) / math.sqrt(n_folds)
    best = int(np.argmax(table[TUNING_SCORE].to_numpy()))  # the first of tied maxima
    return {k: int(points[best][k]) for k in GRID}, table


@dataclass(frozen=True)
class BoostedCoxLearner:
    """Gradient-boosted Cox model (scikit-survival) on a family's features (see the module's docstring)."""

    name: str = "boosted_cox"
    label: str = COMPARATOR_METHODS["boosted_cox"]
    roles: tuple[str, ...] = (COMPARATOR_ROLE,)
    outcome_kinds: tuple[str, ...] = (SURVIVAL,)

    def description(self) -> str:
        return (f"a gradient-boosted Cox model (scikit-survival, learning rate {LEARNING_RATE:g}, subsample "
                f"{SUBSAMPLE:g}), its number of trees and depth tuned by {TUNING_FOLDS}-fold cross-validated "
                "Harrell's C on the training cohort, its survival from Efron's baseline hazard at its linear "
                "predictors")

    def fit(self, data: pd.DataFrame, outcome: Outcome | str, predictors: Predictors, *, name: str,
            options: FitOptions | None = None, selection: Any = None) -> BoostedCoxModel:
        """The boosted Cox model of ``predictors.continuous`` on the training rows ``data`` (``options.seed`` seeds
        the tuning's folds and the subsampling; ``options.n_folds`` and ``selection`` are not used).

        Raises
        ------
        RadNomoError
            As :func:`_training_rows`, or a tuning fold without a comparable pair.
        """
        from sksurv.ensemble import GradientBoostingSurvivalAnalysis
        from sksurv.util import Surv

        seed = (options or FitOptions()).seed
        X, time, event, horizons = _training_rows(self, data, outcome, predictors, name)
        values = X.to_numpy(dtype=float)
        params, table = _tune(values, time, event, seed=seed)
        fitted = GradientBoostingSurvivalAnalysis(loss="coxph", learning_rate=LEARNING_RATE, subsample=SUBSAMPLE,
                                                  random_state=seed, **params)
        fitted.fit(values, Surv.from_arrays(event.astype(bool), time))
        if fitted.init_ != "zero":  # sksurv's coxph loss starts from 0; anything else would be a changed library
            raise RadNomoError("scikit-survival's boosted Cox model did not start from 0; check its version.")
        trees = tuple(_tree_arrays(t) for t in fitted.estimators_[:, 0])
        # The baseline at the ensemble's own linear predictors of the training rows (sksurv's predict, which the
        # saved trees reproduce): Efron's estimator, as for the LASSO-Cox's fixed coefficients.
        event_times, hazard = fixed_coefficient_hazard(np.asarray(fitted.predict(values), dtype=float), time, event)
        return BoostedCoxModel(name=name, learner=self.name, features=tuple(X.columns), params=params, grid=GRID,
                               tuning=table, n_folds=TUNING_FOLDS, seed=seed, trees=trees,
                               learning_rate=LEARNING_RATE, init=0.0, event_times=event_times, hazard=hazard,
                               last_follow_up=float(time.max()), horizons=horizons)

    def from_dict(self, values: Mapping) -> BoostedCoxModel:
        return BoostedCoxModel.from_dict(values)


BOOSTED_COX = BoostedCoxLearner()
