"""Random forest as a comparator learner ("random_forest", issue 31).

The model is scikit-learn's ``RandomForestClassifier(n_estimators=300, max_features, min_samples_leaf,
random_state=seed, n_jobs=1)`` on the raw features (trees need no scaling): each tree grown on a bootstrap sample,
its P(event) the mean of the trees' leaf event fractions. Two hyper-parameters are tuned on the training patients
by the forest's own out-of-bag predictions (:func:`oob_tune`: each candidate forest grown once on all training rows,
each patient predicted by the trees whose bootstrap sample left it out; the AUC of those predictions, with its DeLong
SE) on the grid

    max_features in ("sqrt", 0.33)  x  min_samples_leaf in (1, 5)

because they are the two that matter: in Probst, Wright & Boulesteix (2019, "Hyperparameters and tuning strategies
for random forest", WIREs Data Mining Knowl Discov 9:e1301) the number of features tried per split (mtry) gives most
of the gain from tuning and the node size most of the rest, while the number of trees only needs to be large
enough (300 is; more trees never hurt the AUC but cost time and saved size). sqrt(p) is the classification default
and p/3 the regression one (the two classic mtry choices, the second better with many noise features); a leaf size of
1 grows full trees, 5 smooths the probabilities. The chosen candidate is the final forest (it was grown on all
training rows with its seed). Out-of-bag tuning is the forest's own internal validation (Breiman 2001; tuneRanger's
default): no test patient is seen, and it costs one forest per candidate where 5-fold CV costs five more - what
makes refitting the forest inside every bootstrap resample affordable (43-76 s per fit with CV on 700 patients, a
few seconds out of bag).

scikit-learn saves only by pickle, so the forest is kept as its trees' node arrays (:mod:`tree_arrays`): saved as
plain JSON numbers, re-validated on reading, and predicted with numpy exactly as scikit-learn predicts (checked at
fit: the arrays' risks equal ``predict_proba`` on the training rows to 1e-12). Its SHAP values are shap's
interventional TreeSHAP (``shap.TreeExplainer`` on the arrays as its dict model) of the probability, against a
seeded sample of at most :data:`core.stats.explanations.MAX_BACKGROUND` training rows (as the other comparators).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from core.errors import RadNomoError
from core.stats.explanations import Explanation
from core.stats.learners.base import FitOptions, Predictors
from core.stats.learners.comparator import ComparatorModel, training_data
from core.stats.learners.tree_arrays import TreeArrays, forest_arrays, forest_risk, read_trees, shap_model, \
    tree_shap
from core.stats.outcomes import Outcome
from core.vocabulary import COMPARATOR_METHODS, COMPARATOR_ROLE

__all__ = ["RandomForestModel", "RandomForestLearner", "RANDOM_FOREST", "N_TREES", "GRID"]

N_TREES = 300
GRID: dict[str, tuple] = {"max_features": ("sqrt", 0.33), "min_samples_leaf": (1, 5)}
_ARRAY_CHECK = 1e-12  # the trees' arrays must reproduce scikit-learn's probabilities to this, or nothing is saved


@dataclass(frozen=True, kw_only=True, eq=False)
class RandomForestModel(ComparatorModel):
    """A fitted random forest as its trees' node arrays (see the module's docstring).

    Attributes
    ----------
    trees : tuple of TreeArrays
        The forest's trees, in scikit-learn's order (the order its probabilities are summed in).
    """

    LEARNER = "random_forest"
    FOLDS_RANGE = (0, 0)  # tuned out of bag: no inner folds

    @property
    def tuning_words(self) -> str:
        return "the out-of-bag AUC of each candidate forest"

    trees: tuple[TreeArrays, ...]

    def _risk(self, X: np.ndarray) -> np.ndarray:
        return forest_risk(self.trees, X)

    def explain(self, df: pd.DataFrame, background: pd.DataFrame) -> Explanation:
        """Interventional TreeSHAP of the forest's probability for the rows of ``df`` against ``background`` (the
        training rows, a seeded sample of at most ``MAX_BACKGROUND``), by ``shap.TreeExplainer`` on the saved arrays
        (:func:`~core.stats.learners.tree_arrays.tree_shap`): ``base_value + row sum`` is the forest's P(event).

        Raises
        ------
        RadNomoError
            As :meth:`ComparatorModel.explained_frames`.
        """
        X, B = self.explained_frames(df, background)
        with threadpool_limits(1):
            return tree_shap(self.name, shap_model(self.trees), X, B, seed=self.seed, output="probability",
                             method="interventional TreeSHAP (shap.TreeExplainer) of the probability")

    def _payload(self) -> dict:
        return {"trees": [t.to_dict() for t in self.trees]}

    @classmethod
    def _read_payload(cls, values: Mapping, common: dict) -> RandomForestModel:
        """The trees re-validated (:func:`~core.stats.learners.tree_arrays.read_trees`: structure, features within
        the model's, finite thresholds, probabilities in [0, 1], covers > 0, sizes)."""
        name = common["name"]
        if "trees" not in values:
            raise RadNomoError(f"the saved {name} random forest lacks its trees; refit the models.")
        trees = read_trees(values["trees"], len(common["features"]), f"{name} random forest's trees")
        return cls(**common, trees=trees)


@dataclass(frozen=True)
class RandomForestLearner:
    """Random forest on a family's features, max_features and min_samples_leaf tuned (see the module's docstring)."""

    name: str = "random_forest"
    label: str = COMPARATOR_METHODS["random_forest"]
    roles: tuple[str, ...] = (COMPARATOR_ROLE,)
    outcome_kinds: tuple[str, ...] = ("binary",)

    def description(self) -> str:
        return (f"a random forest of {N_TREES} trees on the features, the features tried per split and the leaf size "
                "tuned by the out-of-bag AUC on the training cohort")

    def fit(self, data: pd.DataFrame, outcome: Outcome | str, predictors: Predictors, *, name: str,
            options: FitOptions | None = None, selection: Any = None) -> RandomForestModel:
        """The forest of ``predictors.continuous`` on the training rows ``data`` (``options.seed`` seeds the forests;
        ``options.n_folds`` and ``selection`` are not used: the tuning is out of bag, :func:`oob_tune`).

        Raises
        ------
        RadNomoError
            As :func:`~core.stats.learners.comparator.training_data`.
        """
        seed = (options or FitOptions()).seed
        X, y = training_data(self, data, outcome, predictors, name=name)
        values = X.to_numpy(dtype=float)
        with threadpool_limits(1):
            params, table, forest = oob_tune(values, y, seed=seed)
            trees = forest_arrays(forest)
            gap = float(np.max(np.abs(forest_risk(trees, values) - forest.predict_proba(values)[:, 1])))
        if not gap <= _ARRAY_CHECK:
            raise RadNomoError(f"the {name} random forest's saved arrays predict up to {gap:.3g} away from "
                               "scikit-learn's own probabilities; this scikit-learn version stores its trees "
                               "differently, so the forest is not saved.")
        return RandomForestModel(name=name, learner=self.name, features=tuple(X.columns), params=params, grid=GRID,
                                 tuning=table, n_folds=0, seed=seed, trees=trees)

    def from_dict(self, values: Mapping) -> RandomForestModel:
        return RandomForestModel.from_dict(values)


def oob_tune(X: np.ndarray, y: np.ndarray, *, seed: int) -> tuple[dict, pd.DataFrame, Any]:
    """Tune the forest on its out-of-bag predictions: one forest of :data:`N_TREES` trees per point of :data:`GRID`
    (scikit-learn's ParameterGrid order), grown on the training rows ``X``, ``y`` with ``seed``.

    Returns
    -------
    (chosen parameters, table, the chosen forest)
        The table: one row per grid point, its parameters, ``cv_auc`` (the AUC of the out-of-bag P(event)) and
        ``cv_se`` (its DeLong SE); the first of tied maxima is chosen.

    Raises
    ------
    RadNomoError
        When a patient was in every tree's bootstrap sample (no out-of-bag prediction: a cohort far too small).
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import ParameterGrid

    from core.stats.evaluation import roc_auc

    rows, forests = [], []
    for point in ParameterGrid(GRID):
        # oob_score=True makes scikit-learn keep each row's out-of-bag class probabilities (oob_decision_function_)
        forest = RandomForestClassifier(n_estimators=N_TREES, random_state=seed, n_jobs=1, oob_score=True,
                                        bootstrap=True, **point)
        with warnings.catch_warnings():  # a row no tree left out: said below as an error, not a warning
            warnings.simplefilter("ignore", UserWarning)
            forest.fit(X, y)
        oob = forest.oob_decision_function_[:, 1]
        if np.isnan(oob).any():
            raise RadNomoError(f"{int(np.isnan(oob).sum())} training patient(s) were drawn by every tree, so the "
                               "random forest has no out-of-bag prediction to tune on; the cohort is too small.")
        auc = roc_auc(y, oob)
        rows.append({**point, "cv_auc": auc.auc, "cv_se": float(np.sqrt(max(auc.variance, 0.0)))})
        forests.append(forest)
    table = pd.DataFrame(rows)
    best = int(np.argmax(table["cv_auc"].to_numpy()))  # argmax: the first of tied maxima
    params = {k: table.iloc[best][k] for k in GRID}
    params = {k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()}
    return params, table, forests[best]


RANDOM_FOREST = RandomForestLearner()
