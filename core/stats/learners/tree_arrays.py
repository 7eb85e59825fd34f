"""Decision trees as plain arrays: a scikit-learn random forest saved as data, re-validated, predicted and explained.

scikit-learn has no data (non-pickle) format for its trees, so a fitted forest is kept as each tree's arrays, one
entry per node, in scikit-learn's own layout (``sklearn.tree._tree.Tree``):

    children_left, children_right   child node indices; -1 (TREE_LEAF) at a leaf
    feature                         the split's feature (column index); -2 (TREE_UNDEFINED) at a leaf
    threshold                       go left when x[feature] <= threshold; -2.0 at a leaf
    value                           the node's P(event): the event fraction of its (bootstrap, weighted) samples
    cover                           the node's weighted number of training samples (``weighted_n_node_samples``)

which is what ``shap.TreeExplainer`` accepts as a dict model (:func:`shap_model`), so a reloaded forest is explained
by shap itself. The class-0 fraction, impurities and node sample counts are not kept: neither prediction nor
TreeSHAP reads them.

Prediction (:func:`forest_risk`) walks every tree at once with numpy, as scikit-learn does: the features are cast to
float32 first (scikit-learn's trees compare float32 inputs with float64 thresholds, which are midpoints of float32
values), and the forest's probability is the trees' values summed in tree order and divided by the number of trees
(``ForestClassifier.predict_proba``), so it equals ``predict_proba`` exactly (tests/core/test_comparators_trees.py).

:func:`check_children` is the structural check shared with XGBoost's saved trees (``boosting.py``): every internal
node's children lie after it, so a walk from the root always ends at a leaf, and no node has two parents.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.stats.explanations import MAX_BACKGROUND, Explanation
from core.stats.learners.comparator import saved_array

__all__ = ["TreeArrays", "forest_arrays", "forest_risk", "shap_model", "check_children", "read_trees",
           "background_rows", "tree_shap", "LEAF", "UNDEFINED", "MAX_TREES", "MAX_NODES"]

LEAF = -1  # scikit-learn's TREE_LEAF: the child index of a leaf
UNDEFINED = -2  # scikit-learn's TREE_UNDEFINED: a leaf's feature and threshold
MAX_TREES = 5_000  # the most trees a saved forest may hold (the learner fits 300)
MAX_NODES = 1_000_000  # the most nodes a saved forest may hold, all trees together (300 trees on 700 rows: ~65,000)
_KEYS = ("children_left", "children_right", "feature", "threshold", "value", "cover")


@dataclass(frozen=True, eq=False)
class TreeArrays:
    """One decision tree as node arrays (see the module's docstring), all of one length (the node count).

    Attributes
    ----------
    children_left, children_right, feature : numpy.ndarray of int
    threshold, value, cover : numpy.ndarray of float
        ``value`` is P(event) at the node (in [0, 1]); ``cover`` > 0.
    """

    children_left: np.ndarray
    children_right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    value: np.ndarray
    cover: np.ndarray

    @property
    def n_nodes(self) -> int:
        return len(self.children_left)

    def to_dict(self) -> dict:
        """Plain JSON data: lists of ints and floats (a cover that is a whole number, as an unweighted bootstrap's
        counts are, is saved as an int: shorter, and read back as the same float)."""
        cover = self.cover
        covers = [int(c) for c in cover] if np.array_equal(cover, np.round(cover)) and cover.max() < 2 ** 53 \
            else cover.tolist()
        return {"children_left": self.children_left.tolist(), "children_right": self.children_right.tolist(),
                "feature": self.feature.tolist(), "threshold": self.threshold.tolist(), "value": self.value.tolist(),
                "cover": covers}

    @classmethod
    def from_dict(cls, values: object, n_features: int, what: str) -> TreeArrays:
        """A tree from :meth:`to_dict`, re-validated (``what`` names it in messages).

        Checks: the six arrays, of one length >= 1; integer children and features; :func:`check_children`'s
        structure with every node but the root the child of exactly one node (a complete tree); a feature in
        [0, ``n_features``) and a finite threshold at each internal node, -2 at each leaf; values in [0, 1];
        covers > 0; everything finite.

        Raises
        ------
        RadNomoError
            For anything else: an edited or damaged saved model, never used to predict.
        """
        if not isinstance(values, Mapping) or set(values) != set(_KEYS):
            raise RadNomoError(f"the saved {what} must hold exactly {list(_KEYS)}; refit the models.")
        left, right, feature = (_saved_ints(values[k], f"{what}'s {k}") for k in _KEYS[:3])
        threshold, value, cover = (saved_array(values[k], f"{what}'s {k}", (len(left),)) for k in _KEYS[3:])
        if not len(left) or not len(left) == len(right) == len(feature):
            raise RadNomoError(f"the saved {what}'s node arrays are empty or of different lengths; refit the models.")
        inner = check_children(left, right, what, complete=True)
        if ((feature[inner] < 0) | (feature[inner] >= n_features)).any() or (feature[~inner] != UNDEFINED).any():
            raise RadNomoError(f"the saved {what} splits on a feature outside the model's {n_features} features (or "
                               "a leaf names one); refit the models.")
        if (threshold[~inner] != UNDEFINED).any():
            raise RadNomoError(f"the saved {what}'s leaves hold thresholds; refit the models.")
        if ((value < 0) | (value > 1)).any() or (cover <= 0).any():
            raise RadNomoError(f"the saved {what}'s node probabilities must lie in [0, 1] and its covers be above 0; "
                               "refit the models.")
        return cls(children_left=left, children_right=right, feature=feature, threshold=threshold, value=value,
                   cover=cover)


def _saved_ints(values: object, what: str) -> np.ndarray:
    """A saved list of ints (not bools, not floats) as an int64 array."""
    if not isinstance(values, list) or not all(type(v) is int for v in values):
        raise RadNomoError(f"the saved {what} must be a list of whole numbers; refit the models.")
    if values and (min(values) < -2 ** 31 or max(values) >= 2 ** 31):
        raise RadNomoError(f"the saved {what} hold an index out of range; refit the models.")
    return np.array(values, dtype=np.int64)


def check_children(left: np.ndarray, right: np.ndarray, what: str, *, complete: bool) -> np.ndarray:
    """Check a tree's child arrays (one entry per node; -1 at a leaf) and return the internal nodes' mask.

    A node is a leaf when both children are -1, internal when both are indices after its own (``i < child < n``),
    and no node is the child of two nodes, so every walk from the root ends at a leaf in fewer than n steps.
    ``complete``: also require every node but the root to be a child (no unreachable node, as scikit-learn's trees;
    XGBoost's may keep deleted nodes).

    Raises
    ------
    RadNomoError
        Naming ``what``, for any other structure (a child out of range, a cycle, a shared child, half a leaf).
    """
    n = len(left)
    inner = left != LEAF
    nodes = np.arange(n)
    if (inner != (right != LEAF)).any():
        raise RadNomoError(f"the saved {what} has a node with one child; refit the models.")
    children = np.concatenate([left[inner], right[inner]])
    parents = np.concatenate([nodes[inner], nodes[inner]])
    if ((children <= parents) | (children >= n)).any():
        raise RadNomoError(f"the saved {what} has a child index out of range (each child must follow its parent "
                           f"among its {n} nodes); refit the models.")
    if len(np.unique(children)) != len(children) or (complete and len(children) != n - 1):
        raise RadNomoError(f"the saved {what}'s nodes do not form a tree (a node with two parents or an "
                           "unreachable node); refit the models.")
    return inner


def read_trees(values: object, n_features: int, what: str) -> tuple[TreeArrays, ...]:
    """A saved list of trees (each :meth:`TreeArrays.to_dict`), re-validated: 1 to :data:`MAX_TREES` trees of at
    most :data:`MAX_NODES` nodes in all (checked before any tree is read).

    Raises
    ------
    RadNomoError
        For anything else (naming ``what`` and the tree).
    """
    if not isinstance(values, list) or not 1 <= len(values) <= MAX_TREES:
        raise RadNomoError(f"the saved {what} must be a list of 1 to {MAX_TREES} trees; refit the models.")
    sizes = [len(t["value"]) if isinstance(t, Mapping) and isinstance(t.get("value"), list) else 0 for t in values]
    if sum(sizes) > MAX_NODES:
        raise RadNomoError(f"the saved {what} hold {sum(sizes):,} nodes, more than {MAX_NODES:,}; it was edited or "
                           "is not a RadNomo model, so it is not read.")
    return tuple(TreeArrays.from_dict(t, n_features, f"{what} (tree {i + 1})") for i, t in enumerate(values))


def forest_arrays(forest: Any) -> tuple[TreeArrays, ...]:
    """The trees of a fitted ``sklearn.ensemble.RandomForestClassifier`` of a 0/1 outcome as :class:`TreeArrays`
    (the value: the event's fraction, class 1's column of each node's ``tree_.value``)."""
    if list(forest.classes_) != [0, 1]:
        raise RadNomoError(f"a random forest of a 0/1 outcome was expected, not one of {list(forest.classes_)}.")
    trees = []
    for estimator in forest.estimators_:
        tree = estimator.tree_
        # scikit-learn >= 1.4 keeps a classifier's node values as class fractions (each row sums to 1); the event's
        # fraction is the probability predict_proba returns at a leaf.
        trees.append(TreeArrays(children_left=tree.children_left.astype(np.int64),
                                children_right=tree.children_right.astype(np.int64),
                                feature=tree.feature.astype(np.int64), threshold=tree.threshold.astype(float),
                                value=tree.value[:, 0, 1].astype(float),
                                cover=tree.weighted_n_node_samples.astype(float)))
    return tuple(trees)


def _stacked(trees: Sequence[TreeArrays]) -> tuple[np.ndarray, ...]:
    """The trees' arrays concatenated, children shifted to global indices, with each tree's root index."""
    offsets = np.cumsum([0, *(t.n_nodes for t in trees[:-1])])
    left = np.concatenate([np.where(t.children_left == LEAF, LEAF, t.children_left + o)
                           for t, o in zip(trees, offsets, strict=True)])
    right = np.concatenate([np.where(t.children_right == LEAF, LEAF, t.children_right + o)
                            for t, o in zip(trees, offsets, strict=True)])
    feature = np.concatenate([np.maximum(t.feature, 0) for t in trees])  # a leaf's -2 never indexes: kept in range
    threshold = np.concatenate([t.threshold for t in trees])
    value = np.concatenate([t.value for t in trees])
    return offsets, left, right, feature, threshold, value


def forest_risk(trees: Sequence[TreeArrays], X: np.ndarray) -> np.ndarray:
    """The forest's P(event) for complete rows ``X`` (n x features, raw values): the mean of the trees' leaf values.

    Written with numpy rather than rebuilding scikit-learn objects (which only pickle can restore): every (row, tree)
    pair is walked together, one level per step (as many steps as the deepest tree), each step moving only the pairs
    not yet at a leaf. The inputs are cast to float32 and compared with the float64 thresholds, and the leaf values
    summed tree by tree then divided by the number of trees, exactly as scikit-learn's
    ``RandomForestClassifier.predict_proba`` does, so the two agree to the last bit.
    """
    with np.errstate(over="ignore"):  # a value beyond float32's range becomes inf, as in scikit-learn
        X32 = np.asarray(X, dtype=np.float64).astype(np.float32)
    offsets, left, right, feature, threshold, value = _stacked(trees)
    n, n_trees = len(X32), len(trees)
    node = np.tile(offsets, n)  # (row, tree) pairs, row-major: row i's trees at i * n_trees ...
    row = np.repeat(np.arange(n), n_trees)
    active = np.flatnonzero(left[node] != LEAF)  # the pairs not yet at a leaf: only those take the next step
    while active.size:
        at = node[active]
        step = np.where(X32[row[active], feature[at]] <= threshold[at], left[at], right[at])
        node[active] = step
        active = active[left[step] != LEAF]
    leaf_values = value[node].reshape(n, n_trees)
    total = np.zeros(n)
    for t in range(n_trees):  # tree by tree, in order: scikit-learn's summation order, so the same rounding
        total += leaf_values[:, t]
    return total / n_trees


def shap_model(trees: Sequence[TreeArrays]) -> dict:
    """The forest as the dict model ``shap.TreeExplainer`` takes: each tree's arrays under shap's names, its
    values divided by the number of trees (the forest is their mean), float32 inputs (as scikit-learn compares),
    probability outputs; missing values are not possible (the rows explained are complete), so a node's default
    child is its left one (scikit-learn's own default without missing values in training)."""
    scale = 1.0 / len(trees)
    return {"trees": [{"children_left": t.children_left.astype(np.int32),
                       "children_right": t.children_right.astype(np.int32),
                       "children_default": t.children_left.astype(np.int32),
                       "features": t.feature.astype(np.int32), "thresholds": t.threshold,
                       "values": (t.value * scale)[:, None], "node_sample_weight": t.cover} for t in trees],
            "base_offset": 0.0, "tree_output": "probability", "input_dtype": np.float32,
            "internal_dtype": np.float64}


def background_rows(background: pd.DataFrame, seed: int, limit: int = MAX_BACKGROUND) -> np.ndarray:
    """``background``'s rows as floats; a sample of ``limit`` of them when there are more (numpy's
    ``default_rng(seed)``, kept in their order: the sample :func:`core.stats.explanations.function_shap` draws)."""
    rows = background.to_numpy(dtype=float)
    if len(rows) > limit:
        rows = rows[np.sort(np.random.default_rng(seed).choice(len(rows), size=limit, replace=False))]
    return rows


def tree_shap(name: str, model: Any, X: pd.DataFrame, background: pd.DataFrame, *, seed: int, output: str,
              method: str) -> Explanation:
    """Interventional TreeSHAP: ``shap.TreeExplainer(model, data=background sample, model_output="raw")``.

    Parameters
    ----------
    name : str
        The model's name.
    model : dict or xgboost.Booster
        What TreeExplainer reads: :func:`shap_model`'s dict (raw output: the probability) or a booster (raw output:
        the log-odds).
    X, background : pandas.DataFrame
        Complete rows to explain, and the training rows (a seeded sample of at most
        :data:`~core.stats.explanations.MAX_BACKGROUND`: :func:`background_rows`).
    seed : int
    output : {"probability", "log-odds"}
        The scale of the raw output.
    method : str
        The method's words; the background's size and seed are appended.

    Returns
    -------
    Explanation
        ``base_value`` the mean raw output over the background sample; base value + a row's values is the row's
        raw output to shap's precision (its interventional algorithm accumulates in float32, tree_shap.h: about
        1e-8 of the output's size). Its weights 1 / (N C(N-1, M)) are computed in 32-bit ints, which overflow for
        leaves reached through more than 30 features on which the row and a background row differ; the weights
        that overflow are below 3e-10 exactly and below 2e-7 as computed (checked for N up to 44), so a leaf's
        value is misweighted by less than 2e-7 of itself there.
    """
    import shap

    rows = background_rows(background, seed)
    explainer = shap.TreeExplainer(model, data=rows, feature_perturbation="interventional", model_output="raw")
    # shap's C code prints a progress bar to stderr after 10 seconds; a page or the CLI has no use for it.
    with contextlib.redirect_stderr(io.StringIO()):
        values = explainer.shap_values(X.to_numpy(dtype=float), check_additivity=False)
    base = float(np.asarray(explainer.expected_value, dtype=float).reshape(-1)[0])
    return Explanation(model=name, values=pd.DataFrame(np.asarray(values, dtype=float).reshape(X.shape),
                                                       index=X.index, columns=X.columns),
                       data=X, base_value=base, output=output,
                       method=f"{method}, against {len(rows)} training patients (seed {seed})")
