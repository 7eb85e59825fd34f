"""The shared base of the comparator learners (random forest, SVM, XGBoost, elastic net: issue 31).

A comparator fits one feature family's features on the training patients, beside the family's score, with its
hyper-parameters tuned by inner cross-validation on those training patients only (:func:`tune`: a seeded,
stratified :data:`TUNING_FOLDS`-fold grid search on AUC), and predicts the probability of the event. Its fitted
model is a :class:`ComparatorModel`: a :class:`~core.stats.learners.FittedModel` that cannot be drawn as a
nomogram, whose table is its tuning table, explained by SHAP (:meth:`ComparatorModel.explain`), and saved as plain
JSON data (``to_dict``; never pickle) that :meth:`ComparatorModel.from_dict` re-validates before building anything.

A learner's module subclasses :class:`ComparatorModel` (setting its ``LEARNER`` key) with three hooks: ``_risk(X)``
(the probabilities of complete rows of raw features, a numpy array), ``_payload()`` (its own arrays as JSON data)
and ``_read_payload(values, common)`` (those arrays re-validated; :func:`saved_array` reads one), and may override
``_log_odds(X)`` (default: logit of ``_risk``) and must define ``explain``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from core.errors import RadNomoError
from core.stats.explanations import Explanation
from core.stats.learners.base import Learner, Predictors, binary_column
from core.stats.modeling import NomogramDesign, convergence_warning, saved_names
from core.stats.outcomes import Outcome
from core.vocabulary import COMPARATOR_METHODS

__all__ = ["TUNING_FOLDS", "MAX_SAVED_NUMBERS", "RISK_BOUNDS", "LOG_ODDS_BOUNDS", "ComparatorModel", "training_data",
           "feature_rows", "standardised", "ConvergenceWatch", "tune", "saved_array", "complete_rows"]

TUNING_FOLDS = 5  # inner CV folds of every comparator's tuning (stratified, seeded with FitOptions.seed)
# The most numbers (list items and mapping entries, counted through every level) a saved comparator may hold: a
# forest of 500 trees of a few hundred nodes is about a million; a payload above this is refused unread rather
# than built (an edited or hostile file must not exhaust memory).
MAX_SAVED_NUMBERS = 5_000_000
RISK_BOUNDS = (1e-12, 1 - 1e-12)  # risks are clipped to these before the logit (linear_predictor)
LOG_ODDS_BOUNDS = (math.log(RISK_BOUNDS[0]) - math.log1p(-RISK_BOUNDS[0]),  # logit(RISK_BOUNDS)
                   math.log(RISK_BOUNDS[1]) - math.log1p(-RISK_BOUNDS[1]))
MAX_FOLDS = 20
MAX_NAME = 200  # characters of a saved model's name
_SEED_RANGE = 2 ** 32  # scikit-learn's random_state (and numpy's legacy seeding) takes 0 .. 2**32 - 1

_COMMON = ("name", "learner", "features", "params", "grid", "tuning", "n_folds", "seed", "fit_converged")


def _is_scalar(value: object) -> bool:
    """A JSON scalar a hyper-parameter may take: a text, a bool, an int, a finite float or None."""
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (str, bool, int))


def _count_items(values: object, limit: int) -> int:
    """How many list items and mapping entries ``values`` holds at every level, counting stops above ``limit``.

    Iterative (an explicit stack), so a deeply nested payload cannot exhaust the recursion limit.
    """
    count, stack = 0, [values]
    while stack and count <= limit:
        item = stack.pop()
        if isinstance(item, (Mapping, list, tuple)):
            count += len(item)
            if count > limit:  # before looking inside: a refused payload costs no more than its top lists' lengths
                break
            inner = item.values() if isinstance(item, Mapping) else item
            stack.extend(v for v in inner if isinstance(v, (list, tuple, Mapping)))
    return count


def saved_array(values: object, what: str, shape: tuple[int | None, ...]) -> np.ndarray:
    """A saved array of finite numbers (nested lists) as a float numpy array of ``shape`` (None: any length).

    Raises
    ------
    RadNomoError
        Naming ``what``, for a value that is not a number (bools and texts included), a ragged or wrongly
        shaped array, or a value that is not finite: an edited or damaged saved model, never used to predict.
    """
    def numbers(item: object, depth: int) -> bool:
        if depth == len(shape):
            return isinstance(item, (int, float)) and not isinstance(item, bool)
        return isinstance(item, list) and all(numbers(v, depth + 1) for v in item)

    if not numbers(values, 0):
        raise RadNomoError(f"the saved {what} must be {'a list' if len(shape) == 1 else 'nested lists'} of numbers "
                           f"({len(shape)} level(s)); the saved models were edited or damaged: refit them.")
    try:
        array = np.array(values, dtype=float)
    except (ValueError, OverflowError) as error:  # a ragged list, an integer too large for a float
        raise RadNomoError(f"the saved {what} are not a rectangular array of numbers; refit the models.") from error
    if array.ndim != len(shape) or any(want is not None and got != want
                                       for got, want in zip(array.shape, shape, strict=True)):
        raise RadNomoError(f"the saved {what} have shape {array.shape}, not "
                           f"{tuple('any' if s is None else s for s in shape)}; the saved models were edited or "
                           "belong to another model: refit them.")
    if not np.isfinite(array).all():
        raise RadNomoError(f"the saved {what} hold values that are not finite numbers; refit the models.")
    return array


def complete_rows(df: pd.DataFrame, features: Sequence[str], what: str) -> pd.DataFrame:
    """``df``'s ``features`` as floats (texts that are not numbers and infinite values become NaN).

    Raises
    ------
    RadNomoError
        When ``df`` lacks one of ``features`` (naming ``what``, the model).
    """
    missing = [f for f in features if f not in df.columns]
    if missing:
        raise RadNomoError(f"the {what} needs feature(s) {missing[:5]} that this table lacks.")
    X = df[list(features)].apply(pd.to_numeric, errors="coerce").astype(float)
    return X.where(np.isfinite(X.to_numpy()))


@dataclass(frozen=True, kw_only=True, eq=False)
class ComparatorModel:
    """A comparator learner's fitted model (satisfies :class:`core.stats.learners.FittedModel`).

    Attributes
    ----------
    name : str
        The model's name in the study, e.g. "radiomics_random_forest" (``core.vocabulary.comparator_name``).
    learner : str
        Its learner's key in ``LEARNERS`` and :data:`core.vocabulary.COMPARATOR_METHODS`.
    features : tuple of str
        The raw feature columns it reads, in order.
    params : mapping
        The chosen hyper-parameters (JSON scalars).
    grid : mapping
        The grid searched: parameter -> tuple of values.
    tuning : pandas.DataFrame
        One row per grid point (in :class:`sklearn.model_selection.ParameterGrid` order): the parameters' columns,
        ``cv_auc`` (mean AUC over the inner folds) and ``cv_se`` (its standard error, SD over folds / sqrt(k)).
    n_folds, seed : int
        The inner cross-validation (stratified, shuffled with ``seed``) that tuned it; the learner's own
        randomness (bootstrap, subsampling, Platt folds) is seeded with ``seed`` too.
    fit_converged : bool
        Whether every fit (the tuning's and the final one) converged.
    """

    LEARNER: ClassVar[str] = ""  # a subclass's learner key: from_dict refuses a payload of another learner
    # The tuning table's score column and the measure it holds (a time-to-event comparator tunes on Harrell's C)
    TUNING_SCORE: ClassVar[str] = "cv_auc"
    TUNING_MEASURE: ClassVar[str] = "AUC"
    # The inner folds a saved model may state (the random forest tunes on its out-of-bag predictions: 0 folds)
    FOLDS_RANGE: ClassVar[tuple[int, int]] = (2, MAX_FOLDS)

    name: str
    learner: str
    features: tuple[str, ...]
    params: Mapping[str, Any]
    grid: Mapping[str, tuple]
    tuning: pd.DataFrame
    n_folds: int
    seed: int
    fit_converged: bool = True

    # -- the fitted-model protocol ---------------------------------------------------------------

    @property
    def label(self) -> str:
        """The learner in words (:data:`core.vocabulary.COMPARATOR_METHODS`)."""
        return COMPARATOR_METHODS.get(self.learner, self.learner)

    @property
    def variables(self) -> tuple[str, ...]:
        return self.features

    @property
    def converged(self) -> bool:
        return self.fit_converged

    @property
    def convergence(self) -> str:
        """The sentence that says the fit did not converge ("" when it did)."""
        return "" if self.converged else convergence_warning(
            f"{self.name} model's {self.label.lower()} fit", "the solver stopped at its iteration limit")

    @property
    def drawable(self) -> bool:
        return False

    @property
    def table(self) -> pd.DataFrame:
        """The tuning table (one row per grid point: parameters, cv_auc, cv_se) with a ``chosen`` bool column
        flagging the chosen parameters' row."""
        table = self.tuning.copy()
        chosen = np.ones(len(table), dtype=bool)
        for param, value in self.params.items():
            chosen &= np.array([v == value for v in table[param]], dtype=bool)
        table["chosen"] = chosen
        return table

    @property
    def detail(self) -> str:
        """One line for the Models page: the learner, the chosen parameters and how they were chosen."""
        chosen = ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in self.params.items())
        return f"{self.label}: {chosen}; tuned by {self.tuning_words} on the training patients (seed {self.seed})."

    @property
    def tuning_words(self) -> str:
        """How its hyper-parameters were chosen, in words ("5-fold stratified cross-validation AUC")."""
        return f"{self.n_folds}-fold stratified cross-validation {self.TUNING_MEASURE}"

    def predict_risk(self, df: pd.DataFrame) -> pd.Series:
        """P(event) of each row of ``df`` (raw feature columns; index kept); NaN where a feature is missing.

        Raises
        ------
        RadNomoError
            When ``df`` lacks a feature.
        """
        X = complete_rows(df, self.features, f"{self.name} model")
        complete = X.notna().all(axis=1).to_numpy()
        risk = np.full(len(X), np.nan)
        if complete.any():
            risk[complete] = self._risk(X.to_numpy()[complete])
        return pd.Series(risk, index=df.index, name="probability")

    def linear_predictor(self, df: pd.DataFrame) -> pd.Series:
        """logit(risk), the risk clipped to :data:`RISK_BOUNDS` (a forest's risk of 0 or 1 stays finite); NaN where
        a feature is missing."""
        X = complete_rows(df, self.features, f"{self.name} model")
        complete = X.notna().all(axis=1).to_numpy()
        lp = np.full(len(X), np.nan)
        if complete.any():
            lp[complete] = np.clip(self._log_odds(X.to_numpy()[complete]), *LOG_ODDS_BOUNDS)
        return pd.Series(lp, index=df.index, name="linear_predictor")

    def nomogram_design(self) -> NomogramDesign:
        raise RadNomoError(f"{self.label} cannot be drawn as a nomogram (it is not a linear model); report its "
                           "performance and its SHAP explanation instead.")

    def explain(self, df: pd.DataFrame, background: pd.DataFrame) -> Explanation:
        """SHAP values of the rows of ``df`` against ``background`` (the training rows); subclass-specific."""
        raise NotImplementedError(f"{type(self).__name__} does not define its SHAP explanation")

    def explained_frames(self, df: pd.DataFrame, background: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The rows to explain and the background, as float frames of the model's features.

        Raises
        ------
        RadNomoError
            For a missing feature column, an incomplete row (SHAP values of a row with a missing value are not
            defined: impute first) or no row.
        """
        X = complete_rows(df, self.features, f"{self.name} model")
        B = complete_rows(background, self.features, f"{self.name} model's SHAP background")
        for frame, what in ((X, "rows to explain"), (B, "SHAP background rows")):
            if frame.empty:
                raise RadNomoError(f"there are no {what} for the {self.name} model.")
            if frame.isna().to_numpy().any():
                raise RadNomoError(f"{int(frame.isna().any(axis=1).sum())} of the {what} of the {self.name} model "
                                   "have a missing or non-numeric feature value; impute them first.")
        return X, B

    # -- saving --------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """Plain JSON data: the common fields and the learner's own arrays (``_payload``)."""
        return {"name": self.name, "learner": self.learner, "features": list(self.features),
                "params": dict(self.params), "grid": {k: list(v) for k, v in self.grid.items()},
                "tuning": {c: self.tuning[c].tolist() for c in self.tuning.columns}, "n_folds": self.n_folds,
                "seed": self.seed, "fit_converged": self.fit_converged, **self._payload()}

    @classmethod
    def from_dict(cls, values: Mapping) -> Self:
        """From :meth:`to_dict`, re-validated before anything is built: a JSON object of at most
        :data:`MAX_SAVED_NUMBERS` items, the common fields (a comparator learner's key, distinct non-empty feature
        names, JSON-scalar parameters within a non-empty grid, a tuning table with one row per grid point and
        finite scores, 2-20 folds, an integer seed, a bool ``fit_converged``), then the learner's own arrays.

        Raises
        ------
        RadNomoError
            For a saved model that is malformed, edited, oversized or not finite.
        """
        if not isinstance(values, Mapping):
            raise RadNomoError("a saved comparator model is not a JSON object.")
        if _count_items(values, MAX_SAVED_NUMBERS) > MAX_SAVED_NUMBERS:
            raise RadNomoError(f"a saved comparator model holds more than {MAX_SAVED_NUMBERS:,} numbers; it was "
                               "edited or is not a RadNomo model, so it is not read.")
        lacking = [k for k in _COMMON if k not in values]
        if lacking:
            raise RadNomoError(f"a saved comparator model lacks {lacking}; refit the models.")
        name = values["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            raise RadNomoError(f"a saved comparator model's name is not a text of 1 to {MAX_NAME} characters.")
        learner = values["learner"]
        if learner not in COMPARATOR_METHODS or (cls.LEARNER and learner != cls.LEARNER):
            raise RadNomoError(f"the saved {name} model's learner {str(learner)[:40]!r} is not "
                               f"{cls.LEARNER or ' or '.join(COMPARATOR_METHODS)}; refit the models.")
        features = saved_names(values["features"], f"{name} model's features")
        if not all(f.strip() for f in features):
            raise RadNomoError(f"the saved {name} model's features include an empty name.")
        grid = cls._read_grid(values["grid"], name)
        params = values["params"]
        if not isinstance(params, Mapping) or set(params) != set(grid) \
                or not all(_is_scalar(v) and v in grid[k] for k, v in params.items()):
            raise RadNomoError(f"the saved {name} model's chosen parameters are not a point of its grid "
                               f"{ {k: list(v)[:5] for k, v in grid.items()} }; refit the models.")
        tuning = cls._read_tuning(values["tuning"], grid, name)
        n_folds, seed = values["n_folds"], values["seed"]
        low, high = cls.FOLDS_RANGE
        if isinstance(n_folds, bool) or not isinstance(n_folds, int) or not low <= n_folds <= high \
                or isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < _SEED_RANGE:
            raise RadNomoError(f"the saved {name} model's tuning ({str(n_folds)[:20]} folds, seed {str(seed)[:20]}) "
                               f"is not valid ({low}-{high} folds, a seed of 0 to 2**32 - 1); refit the models.")
        if not isinstance(values["fit_converged"], bool):
            raise RadNomoError(f"the saved {name} model's 'fit_converged' is not true or false.")
        common = {"name": name, "learner": learner, "features": features, "params": dict(params), "grid": grid,
                  "tuning": tuning, "n_folds": n_folds, "seed": seed, "fit_converged": values["fit_converged"]}
        return cls._read_payload(values, common)

    @classmethod
    def _read_grid(cls, grid: object, name: str) -> dict[str, tuple]:
        if not isinstance(grid, Mapping) or not grid or not all(
                isinstance(k, str) and k and k not in (cls.TUNING_SCORE, "cv_se", "chosen")
                and isinstance(v, list) and v and all(_is_scalar(x) for x in v) for k, v in grid.items()):
            raise RadNomoError(f"the saved {name} model's grid is not a table of parameter names and non-empty "
                               "lists of values; refit the models.")
        return {k: tuple(v) for k, v in grid.items()}

    @classmethod
    def _read_tuning(cls, tuning: object, grid: Mapping[str, tuple], name: str) -> pd.DataFrame:
        """The tuning table re-validated: one row per grid point, its scores (:attr:`TUNING_SCORE`: AUCs, or
        Harrell's C) in [0, 1] and their SEs >= 0."""
        score_columns = (cls.TUNING_SCORE, "cv_se")
        columns = [*grid, *score_columns]
        rows = math.prod(len(v) for v in grid.values())
        if not isinstance(tuning, Mapping) or set(tuning) != set(columns) \
                or not all(isinstance(tuning[c], list) and len(tuning[c]) == rows for c in columns):
            raise RadNomoError(f"the saved {name} model's tuning table must hold columns {columns} of {rows} "
                               "values each (one per grid point); refit the models.")
        if not all(_is_scalar(v) and v in grid[c] for c in grid for v in tuning[c]):
            raise RadNomoError(f"the saved {name} model's tuning table names parameter values outside its grid.")
        scores = {c: saved_array(tuning[c], f"{name} model's tuning {c}", (rows,)) for c in score_columns}
        if ((scores[cls.TUNING_SCORE] < 0) | (scores[cls.TUNING_SCORE] > 1) | (scores["cv_se"] < 0)).any():
            raise RadNomoError(f"the saved {name} model's tuning {cls.TUNING_MEASURE}s must lie in [0, 1] and their "
                               "SEs be >= 0.")
        return pd.DataFrame({**{c: list(tuning[c]) for c in grid}, **scores})

    # -- the subclass hooks ----------------------------------------------------------------------

    def _risk(self, X: np.ndarray) -> np.ndarray:
        """P(event) of complete rows ``X`` (n x features, raw values, float)."""
        raise NotImplementedError

    def _log_odds(self, X: np.ndarray) -> np.ndarray:
        """logit of :meth:`_risk` (clipped to :data:`RISK_BOUNDS`); a learner whose model is a log-odds (the SVM's
        Platt sigmoid, the elastic net) overrides it with that log-odds, exact where the risk rounds to 0 or 1."""
        risk = np.clip(self._risk(X), *RISK_BOUNDS)
        return np.log(risk) - np.log1p(-risk)

    def _payload(self) -> dict:
        """The learner's own fitted arrays as JSON data (lists of floats)."""
        raise NotImplementedError

    @classmethod
    def _read_payload(cls, values: Mapping, common: dict) -> Self:
        """The model from the validated ``common`` fields and its own arrays in ``values``, re-validated."""
        raise NotImplementedError


def training_data(learner: Learner, data: pd.DataFrame, outcome: Outcome | str, predictors: Predictors, *,
                  name: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The training rows a comparator fits: X (``predictors.continuous`` as floats, ``data``'s index) and y (0/1).

    Raises
    ------
    RadNomoError
        For an outcome not binary, no feature, a categorical predictor, a missing value, an outcome not 0/1 with
        both classes, fewer patients of a class than :data:`TUNING_FOLDS` (the tuning's folds), a constant feature.
    """
    column = binary_column(learner, outcome)
    X = feature_rows(learner, data, predictors, name=name, outcome_columns=(column,))
    y = pd.to_numeric(data[column], errors="coerce").to_numpy(dtype=float)
    if np.isnan(y).any():
        raise RadNomoError(f"the {name} model ({learner.label}) needs complete training rows (missing values are "
                           "imputed before the models).")
    if set(np.unique(y)) != {0, 1}:
        raise RadNomoError(f"the outcome '{column}' must be coded 0/1 with both classes present.")
    y_int = y.astype(int)
    smaller = int(min(np.bincount(y_int)))
    if smaller < TUNING_FOLDS:
        raise RadNomoError(f"{smaller} training patients in the smaller outcome class cannot fill the "
                           f"{TUNING_FOLDS} tuning folds of the {name} model ({learner.label}).")
    return X, y_int


def feature_rows(learner: Learner, data: pd.DataFrame, predictors: Predictors, *, name: str,
                 outcome_columns: Sequence[str] = ()) -> pd.DataFrame:
    """The features a comparator fits (``predictors.continuous`` of the training rows ``data``, as floats): what
    every comparator checks of its features, whatever its outcome (:func:`training_data` adds a binary outcome's
    checks; the time-to-event comparators their own).

    Raises
    ------
    RadNomoError
        For no feature, a categorical predictor, a column absent (``outcome_columns`` included), a missing value or
        a constant feature.
    """
    label = COMPARATOR_METHODS.get(learner.name, learner.label)
    features = list(predictors.continuous)
    if not features:
        raise RadNomoError(f"the {name} model ({label}) has no feature to fit; the family's LASSO kept none.")
    if predictors.categorical:
        raise RadNomoError(f"the {name} model ({label}) takes numeric features only, not "
                           f"{list(predictors.categorical)[:3]}.")
    missing = [c for c in (*features, *outcome_columns) if c not in data.columns]
    if missing:
        raise RadNomoError(f"the training table lacks column(s) {missing[:5]} for the {name} model.")
    X = complete_rows(data, features, f"{name} model")
    if X.isna().to_numpy().any():
        raise RadNomoError(f"the {name} model ({label}) needs complete training rows (missing values are imputed "
                           "before the models).")
    sds = X.std(ddof=0)
    constant = list(sds.index[(sds <= 0).to_numpy()])
    if constant:
        raise RadNomoError(f"feature(s) {constant[:3]} are constant in the training rows of the {name} model.")
    return X


def standardised(X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(training means, population SDs, standardised rows) of the training features ``X`` (complete, none
    constant: :func:`training_data`): what the comparators that standardise (SVM, elastic net) save and fit on."""
    means, sds = X.mean().to_numpy(), X.std(ddof=0).to_numpy()
    return means, sds, (X.to_numpy() - means) / sds


class ConvergenceWatch:
    """A context that records whether scikit-learn said a fit inside it did not converge (``converged``), and
    passes every other warning on: a comparator reports non-convergence through its model, never by printing.

    Also holds BLAS to one thread inside: small matrices, and a multi-threaded BLAS on a loaded server spins more
    than it computes."""

    def __init__(self) -> None:
        self.converged = True
        self._caught: Any = None
        self._contexts: list[Any] = []

    def __enter__(self) -> ConvergenceWatch:
        from sklearn.exceptions import ConvergenceWarning

        self._category = ConvergenceWarning
        self._contexts = [threadpool_limits(1), warnings.catch_warnings(record=True)]
        self._contexts[0].__enter__()
        self._caught = self._contexts[1].__enter__()
        warnings.simplefilter("always", ConvergenceWarning)
        return self

    def __exit__(self, *exc: object) -> None:
        for context in reversed(self._contexts):
            context.__exit__(*exc)
        self.converged = not any(issubclass(w.category, self._category) for w in self._caught)
        for w in self._caught:  # anything else is not ours to swallow
            if not issubclass(w.category, self._category):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def tune(estimator: Any, grid: Mapping[str, Sequence], X: Any, y: np.ndarray, *, seed: int,
         n_folds: int = TUNING_FOLDS) -> tuple[dict, pd.DataFrame]:
    """Grid search of ``estimator`` on the rows ``X``, ``y`` only, by AUC of inner stratified cross-validation.

    scikit-learn's ``GridSearchCV(estimator, grid, scoring="roc_auc", cv=StratifiedKFold(n_folds, shuffle=True,
    random_state=seed), refit=False, n_jobs=1, error_score="raise")``: a failing fit is raised, not scored NaN.

    Returns
    -------
    (params, table)
        The best parameters (the highest mean AUC; ties: the first in grid order, :class:`ParameterGrid`'s) and
        the table: one row per grid point in that order, the parameters' columns, ``cv_auc`` (mean over folds) and
        ``cv_se`` (SD over folds, ddof 1, / sqrt(n_folds)).
    """
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    grid = {k: list(v) for k, v in grid.items()}
    search = GridSearchCV(estimator, grid, scoring="roc_auc", refit=False, n_jobs=1, error_score="raise",
                          cv=StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed))
    search.fit(X, y)
    results = search.cv_results_
    folds = np.column_stack([results[f"split{k}_test_score"] for k in range(n_folds)])
    # The caller's parameter order for the columns; the rows stay in ParameterGrid's order.
    table = pd.DataFrame([dict(p) for p in results["params"]])[list(grid)]
    table["cv_auc"] = folds.mean(axis=1)
    table["cv_se"] = folds.std(axis=1, ddof=1) / math.sqrt(n_folds)
    best = int(np.argmax(table["cv_auc"].to_numpy()))  # argmax: the first of tied maxima
    params = {k: _plain(v) for k, v in results["params"][best].items()}
    for column in grid:
        table[column] = [_plain(v) for v in table[column]]
    return {k: params[k] for k in grid}, table


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python scalar JSON saves (a grid's values may be numpy floats)."""
    return value.item() if isinstance(value, np.generic) else value
