"""Logistic models on the training cohort: the fitted-model contract used by scores, clinical and fused models.

:func:`fit_logistic` / :class:`LogitFit` (the fitted-model contract), signature scores from a LASSO
selection (:func:`build_score`), clinical and fused models on mixed predictors (:func:`fit_model`,
:func:`univariable_logistic`) and the nomogram's points scale (:class:`Nomogram`). Everything is
fitted on training rows; test rows are only scored.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from core.errors import RadNomoError
from core.vocabulary import POST_SELECTION_NOTE, POST_SELECTION_P, family_of_score

__all__ = ["LogitFit", "fit_logistic", "ScoreModel", "build_score", "LogisticModel", "fit_model", "design_matrix",
           "categorical_levels", "variance_inflation", "events_per_variable", "univariable_logistic", "Nomogram",
           "r_pretty", "readable_or_unit", "per_unit_term", "labelled_term", "sign_flips", "saved_names",
           "saved_numbers", "saved_number", "NomogramDesign", "nomogram_design", "convergence_warning"]


def saved_names(values: object, what: str, *, empty: bool = False) -> tuple[str, ...]:
    """Names read back from a saved model: a list of distinct texts (non-empty unless ``empty``).

    Raises
    ------
    RadNomoError
        Naming ``what``, for anything else (a text, a number, a duplicate).
    """
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
        raise RadNomoError(f"the saved {what} must be a list of names.")
    if len(set(values)) != len(values) or (not values and not empty):
        raise RadNomoError(f"the saved {what} {'repeat a name' if values else 'are empty'}.")
    return tuple(values)


def saved_numbers(values: object, what: str, names: Sequence[str], *, finite: bool = True,
                  positive: bool = False) -> pd.Series:
    """A saved mapping name -> number (coefficients, means, SDs) as a float Series, re-validated.

    Parameters
    ----------
    values : object
        What the saved JSON holds (should be a dict of name -> number).
    what : str
        What it is, for the message (e.g. "radiomics score's coefficients").
    names : sequence of str
        The names it must hold, no more and no fewer (the model's features or terms).
    finite, positive : bool
        Refuse NaN and infinite values; refuse values <= 0 (standard deviations).

    Returns
    -------
    pandas.Series
        Float values in the order of ``names``.

    Raises
    ------
    RadNomoError
        For another shape, names that differ from ``names``, or a value that is not a number, not
        finite or not positive: an edited or damaged saved model, never used to predict.
    """
    if not isinstance(values, dict):
        raise RadNomoError(f"the saved {what} are not a table of names and numbers.")
    if set(values) != set(names) or len(values) != len(names):
        extra, lacking = sorted(set(values) - set(names))[:3], sorted(set(names) - set(values))[:3]
        raise RadNomoError(f"the saved {what} do not match the model's terms (unexpected {extra}, "
                           f"missing {lacking}); the saved models were edited or belong to another model.")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) or (v is None and not finite)
               for v in values.values()):
        raise RadNomoError(f"the saved {what} hold a value that is not a number.")
    series = pd.Series([values[n] for n in names], index=list(names), dtype=float)
    bad = series[~np.isfinite(series.to_numpy())] if finite else series.iloc[:0]
    if len(bad):
        raise RadNomoError(f"the saved {what} hold {len(bad)} value(s) that are not finite numbers (e.g. "
                           f"{bad.index[0]} = {bad.iloc[0]}); a model with them would predict NaN or infinite "
                           "risks, so it is refused: refit the models.")
    if positive and (series <= 0).any():
        name = series.index[(series <= 0).to_numpy()][0]
        raise RadNomoError(f"the saved {what} must be above 0 ({name} = {series[name]}); refit the models.")
    return series


def saved_number(value: object, what: str) -> float:
    """One saved finite number (an intercept), else a RadNomoError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RadNomoError(f"the saved {what} {str(value)[:40]!r} is not a finite number; refit the models.")
    return float(value)


@dataclass(frozen=True, kw_only=True, eq=False)
class NomogramDesign:
    """What a nomogram needs of a fitted linear model: its variables, their coding and coefficients.

    Every fitted model that can be drawn as a nomogram gives one (``nomogram_design()``); the
    :class:`Nomogram` asks for it instead of switching on the model's type.

    Attributes
    ----------
    continuous : tuple of str
        Numeric variables (raw columns), each with one coefficient (log-odds per unit).
    levels : dict
        Categorical variable -> its levels (first = reference, coefficient 0); the others' indicator
        columns are named ``f"{variable}{LEVEL_SEPARATOR}{level}"``.
    coefficients : pandas.Series
        ``const`` (the log-odds at every variable 0 / reference) and one coefficient per design column.
    """

    continuous: tuple[str, ...]
    levels: dict[str, tuple[str, ...]]
    coefficients: pd.Series

    def linear_predictor(self, df: pd.DataFrame) -> pd.Series:
        """Log-odds of each row of ``df`` (raw columns; NaN where a value is missing or a level unknown)."""
        design = design_matrix(df, self.continuous, self.levels)
        terms = list(design.columns)
        return pd.Series(self.coefficients["const"] + design.to_numpy(dtype=float)
                         @ self.coefficients[terms].to_numpy(dtype=float), index=df.index, name="linear_predictor")


def convergence_warning(what: str, detail: str = "") -> str:
    """The one sentence every non-converged fit is reported with (``what``: the model in words)."""
    return (f"The {what} did not converge{f' ({detail})' if detail else ''}: its coefficients are those at the "
            "last iteration and may be unreliable; simplify the model (fewer or less collinear predictors).")


@dataclass(frozen=True, kw_only=True, eq=False)
class LogitFit:
    """A fitted multivariable logistic regression (maximum likelihood, no penalty).

    Attributes
    ----------
    outcome : str
        Outcome column (0/1).
    predictors : tuple of str
        Predictor columns, in the order of ``params`` after the intercept. Categorical predictors
        must already be numeric (e.g. 0/1 indicators).
    params, bse, pvalues : pandas.Series
        Coefficients (log-odds per unit of each predictor, ``const`` first), their standard errors
        and Wald p-values.
    n_obs, n_events : int
        Rows used (complete cases) and events among them.
    log_likelihood : float
    converged : bool
    cov_params : pandas.DataFrame or None
        Covariance matrix of ``params`` (for confidence intervals of predictions).
    """

    outcome: str
    predictors: tuple[str, ...]
    params: pd.Series
    bse: pd.Series
    pvalues: pd.Series
    n_obs: int
    n_events: int
    log_likelihood: float
    converged: bool
    cov_params: pd.DataFrame | None = None

    @cached_property
    def odds_ratios(self) -> pd.DataFrame:
        """``OR``, ``lower``, ``upper`` (95 % Wald interval) per predictor (the intercept excluded)."""
        z = stats.norm.ppf(0.975)
        params, bse = self.params.drop("const"), self.bse.drop("const")
        return pd.DataFrame({"OR": np.exp(params), "lower": np.exp(params - z * bse),
                             "upper": np.exp(params + z * bse)})

    @property
    def summary(self) -> pd.DataFrame:
        """Coefficient table: ``coef``, ``se``, ``z``, ``p_value``, ``OR``, ``OR_lower``, ``OR_upper``."""
        table = pd.DataFrame({"coef": self.params, "se": self.bse, "z": self.params / self.bse,
                              "p_value": self.pvalues})
        ratios = self.odds_ratios.rename(columns={"lower": "OR_lower", "upper": "OR_upper"})
        return table.join(ratios)

    def linear_predictor(self, df: pd.DataFrame) -> pd.Series:
        """Log-odds for each row of ``df`` (needs the predictor columns; index kept)."""
        missing = [p for p in self.predictors if p not in df.columns]
        if missing:
            raise RadNomoError(f"columns {missing} are needed to apply this model.")
        values = df[list(self.predictors)].to_numpy(dtype=float)
        return pd.Series(self.params["const"] + values @ self.params[list(self.predictors)].to_numpy(),
                         index=df.index, name="linear_predictor")

    def predict_proba(self, df: pd.DataFrame) -> pd.Series:
        """Predicted probability of the event for each row of ``df``."""
        return pd.Series(1 / (1 + np.exp(-self.linear_predictor(df))), name="probability")

    drawable = True

    def nomogram_design(self) -> NomogramDesign:
        """Its predictor columns, each numeric, with their coefficients (for :class:`Nomogram`)."""
        return NomogramDesign(continuous=self.predictors, levels={}, coefficients=self.params)

    def predict_interval(self, df: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
        """Probability with its confidence interval (Wald on the log-odds scale, then transformed)."""
        if self.cov_params is None:
            raise RadNomoError("this model was saved without its covariance matrix; refit it for intervals.")
        eta = self.linear_predictor(df)
        design = np.column_stack([np.ones(len(df)), df[list(self.predictors)].to_numpy(dtype=float)])
        names = ["const", *self.predictors]
        cov = self.cov_params.loc[names, names].to_numpy()
        se = np.sqrt(np.einsum("ij,jk,ik->i", design, cov, design))
        z = stats.norm.ppf(0.5 + level / 2)
        expit = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        return pd.DataFrame({"probability": expit(eta), "low": expit(eta - z * se), "high": expit(eta + z * se)},
                            index=df.index)

    def to_dict(self) -> dict:
        """Plain data (for saving studies as JSON; nothing is pickled)."""
        return {"outcome": self.outcome, "predictors": list(self.predictors), "params": self.params.to_dict(),
                "bse": self.bse.to_dict(), "pvalues": self.pvalues.to_dict(), "n_obs": self.n_obs,
                "n_events": self.n_events, "log_likelihood": self.log_likelihood, "converged": self.converged,
                "cov_params": None if self.cov_params is None else self.cov_params.to_dict()}

    @classmethod
    def from_dict(cls, values: dict, *, what: str = "model") -> LogitFit:
        """From :meth:`to_dict` (``what``: the model's name in messages), re-validated: the coefficients are
        exactly ``const`` and the predictors, all finite; the covariance matrix (when saved) is square over
        the same terms and finite.

        Raises
        ------
        RadNomoError
            For a saved fit that is malformed, edited or not finite.
        """
        predictors = saved_names(values["predictors"], f"{what}'s predictors")
        terms = ["const", *predictors]
        cov = values.get("cov_params")
        if cov is not None:
            if not isinstance(cov, dict):
                raise RadNomoError(f"the saved {what}'s covariance matrix is not a table.")
            rows = {column: saved_numbers(cov.get(column), f"{what}'s covariances of {column}", terms)
                    for column in terms}
            if set(cov) != set(terms):
                raise RadNomoError(f"the saved {what}'s covariance matrix does not match its terms.")
            cov = pd.DataFrame(rows).loc[terms, terms]
        n_obs, n_events = int(values["n_obs"]), int(values["n_events"])
        if not 0 <= n_events <= n_obs:
            raise RadNomoError(f"the saved {what} counts {n_events} events among {n_obs} patients.")
        return cls(outcome=str(values["outcome"]), predictors=predictors,
                   params=saved_numbers(values["params"], f"{what}'s coefficients", terms),
                   bse=saved_numbers(values["bse"], f"{what}'s standard errors", terms, finite=False),
                   pvalues=saved_numbers(values["pvalues"], f"{what}'s p-values", terms, finite=False), n_obs=n_obs,
                   n_events=n_events, log_likelihood=float(values["log_likelihood"]),
                   converged=bool(values["converged"]), cov_params=cov)


def fit_logistic(df: pd.DataFrame, outcome: str, predictors: Sequence[str], *, maxiter: int = 200) -> LogitFit:
    """Fit a logistic regression of ``outcome`` on ``predictors`` by maximum likelihood (statsmodels).

    Parameters
    ----------
    df : pandas.DataFrame
        Training rows.
    outcome : str
        0/1 column.
    predictors : sequence of str
        Numeric columns; rows with a missing value in any of them are left out (complete cases).
    maxiter : int, default 200
        Newton iterations allowed; a fit that stops there (or that statsmodels flags with a
        ConvergenceWarning) is returned with ``converged=False``, which :class:`StudyModels` turns into
        a warning naming the model.

    Returns
    -------
    LogitFit

    Raises
    ------
    RadNomoError
        If a column is absent or not numeric, a predictor is constant, too few rows remain, or the
        outcome is perfectly separated by the predictors (the estimates would be infinite).
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationError, PerfectSeparationWarning

    predictors = list(predictors)
    absent = [c for c in [outcome, *predictors] if c not in df.columns]
    if absent:
        raise RadNomoError(f"column(s) {absent} not found.")
    if not predictors:
        raise RadNomoError("choose at least one predictor.")
    data = df[[outcome, *predictors]].apply(pd.to_numeric, errors="coerce").dropna()
    non_numeric = [c for c in predictors if df[c].notna().sum() and pd.to_numeric(df[c], errors="coerce").isna().all()]
    if non_numeric:
        raise RadNomoError(f"predictor(s) {non_numeric} are not numeric; code categorical variables as 0/1 first.")
    if len(data) < len(predictors) + 2:
        raise RadNomoError(f"only {len(data)} complete rows for {len(predictors)} predictor(s).")
    constant = [c for c in predictors if data[c].nunique() < 2]
    if constant:
        raise RadNomoError(f"predictor(s) {constant} are constant in these rows and cannot be estimated.")
    y = data[outcome].to_numpy()
    if set(np.unique(y)) != {0, 1}:
        raise RadNomoError(f"outcome '{outcome}' must be coded 0/1 with both classes present.")
    design = sm.add_constant(data[predictors].astype(float), has_constant="add")
    with warnings.catch_warnings(record=True) as caught:
        # Non-convergence is recorded on the fit (``converged``), never printed to a console nobody reads:
        # statsmodels warns (ConvergenceWarning) when Newton's method stops at maxiter.
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.simplefilter("error", PerfectSeparationWarning)
        try:
            result = sm.Logit(y, design).fit(disp=0, maxiter=maxiter)
        except (PerfectSeparationError, PerfectSeparationWarning, np.linalg.LinAlgError) as error:
            raise RadNomoError(f"the outcome is perfectly (or almost perfectly) separated by {predictors}; the "
                               "coefficients would be infinite. Remove or combine the separating predictor(s).") \
                from error
    stalled = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return LogitFit(outcome=outcome, predictors=tuple(predictors), params=result.params.rename(str),
                    bse=result.bse.rename(str), pvalues=result.pvalues.rename(str), n_obs=int(result.nobs),
                    n_events=int(y.sum()), log_likelihood=float(result.llf),
                    converged=bool(result.mle_retvals.get("converged", True)) and not stalled,
                    cov_params=result.cov_params().rename(index=str, columns=str))


# ---------------------------------------------------------------------------------------------
# Scores: radiomics, DL and DL-radiomics
# ---------------------------------------------------------------------------------------------

SCORE_METHODS = ("refit", "lasso")


@dataclass(frozen=True, kw_only=True, eq=False)
class ScoreModel:
    """A signature score = intercept + sum of coefficient x standardised feature (the log-odds).

    Attributes
    ----------
    name : str
        E.g. "radiomics", "dl", "dl_radiomics".
    method : {"refit", "lasso"}
        Coefficients from a logistic regression refitted on the LASSO-selected features, or the
        LASSO's own (shrunken) coefficients.
    features : tuple of str
    means, sds : pandas.Series
        Training mean and population SD of each feature (the standardisation).
    intercept : float
    coefs : pandas.Series
        Per standardised feature.
    fit : LogitFit or None
        The refitted model (method "refit"), with SEs and p-values.
    """

    name: str
    method: str
    features: tuple[str, ...]
    means: pd.Series
    sds: pd.Series
    intercept: float
    coefs: pd.Series
    fit: LogitFit | None = None

    def standardised(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [f for f in self.features if f not in X.columns]
        if missing:
            raise RadNomoError(f"the {self.name} score needs feature(s) {missing[:5]} that this table lacks.")
        return (X[list(self.features)] - self.means) / self.sds

    def score(self, X: pd.DataFrame) -> pd.Series:
        """The score (log-odds) of each row of ``X`` (raw feature values; index kept)."""
        values = self.standardised(X).to_numpy(dtype=float)
        return pd.Series(self.intercept + values @ self.coefs.to_numpy(), index=X.index, name=f"{self.name}_score")

    # -- the fitted-model protocol (core.stats.learners.FittedModel) ---------------------------

    @property
    def learner(self) -> str:
        """The learner (score method) that fitted it: a key of :data:`core.stats.learners.LEARNERS`."""
        return self.method

    @property
    def variables(self) -> tuple[str, ...]:
        return self.features

    @property
    def converged(self) -> bool:
        """Whether its own fit converged (the refit's Newton iterations; a LASSO's path is the screening's)."""
        return self.fit is None or self.fit.converged

    @property
    def convergence(self) -> str:
        """One sentence naming the score when its fit did not converge ("" when it did)."""
        return "" if self.converged else convergence_warning(f"{self.name} score's {self.method} fit")

    def linear_predictor(self, X: pd.DataFrame) -> pd.Series:
        """The score itself (log-odds)."""
        return self.score(X)

    def predict_risk(self, X: pd.DataFrame) -> pd.Series:
        """Predicted probability of the event: the logistic function of the score."""
        return pd.Series(1 / (1 + np.exp(-self.score(X))), name="probability")

    drawable = True

    def nomogram_design(self) -> NomogramDesign:
        """The score on its raw features: coefficient / SD per feature, the means folded into ``const``."""
        per_unit = self.coefs / self.sds
        const = self.intercept - float((per_unit * self.means).sum())
        return NomogramDesign(continuous=self.features, levels={},
                              coefficients=pd.concat([pd.Series({"const": const}), per_unit]))

    @property
    def formula(self) -> str:
        """The score written out, e.g. ``radiomics score = -0.512 + 0.831 x z(feature) - ...``."""
        terms = " ".join(f"{'-' if c < 0 else '+'} {abs(c):.4g} × z({f})" for f, c in self.coefs.items())
        return f"{self.name} score = {self.intercept:.4g} {terms}".strip()

    @property
    def table(self) -> pd.DataFrame:
        """Per feature: coefficient (standardised), training mean and SD, and SE / p when refitted.

        The p-value column is :data:`core.vocabulary.POST_SELECTION_P` ("p (post-selection, not for
        inference)"): the LASSO chose these features on the same patients, so their Wald p-values are
        too small and must not be read as tests.
        """
        table = pd.DataFrame({"coef": self.coefs, "train_mean": self.means, "train_sd": self.sds})
        if self.fit is not None:
            table["se"] = self.fit.bse[table.index]
            table[POST_SELECTION_P] = self.fit.pvalues[table.index]
        # rename_axis, not index.name =: the frame shares its index with self.coefs (frozen state)
        return table.rename_axis("feature")

    def to_dict(self) -> dict:
        return {"name": self.name, "method": self.method, "features": list(self.features),
                "means": self.means.to_dict(), "sds": self.sds.to_dict(), "intercept": self.intercept,
                "coefs": self.coefs.to_dict(), "fit": None if self.fit is None else self.fit.to_dict()}

    @classmethod
    def from_dict(cls, values: dict) -> ScoreModel:
        """From :meth:`to_dict`, re-validated: one finite coefficient, training mean and SD (> 0) per feature,
        a finite intercept, and a refit whose terms and coefficients are the score's.

        Raises
        ------
        RadNomoError
            For a saved score that is malformed, edited or not finite.
        """
        name, method = str(values["name"]), values["method"]
        if method not in SCORE_METHODS:
            raise RadNomoError(f"the saved {name} score's method {str(method)[:40]!r} is not one of {SCORE_METHODS}.")
        features = saved_names(values["features"], f"{name} score's features")
        fit = None if values["fit"] is None else LogitFit.from_dict(values["fit"], what=f"{name} score's refit")
        intercept = saved_number(values["intercept"], f"{name} score's intercept")
        coefs = saved_numbers(values["coefs"], f"{name} score's coefficients", features)
        if fit is not None and (set(fit.predictors) != set(features) or not np.allclose(
                fit.params[["const", *features]].to_numpy(), [intercept, *coefs.to_numpy()], rtol=1e-9, atol=0)):
            raise RadNomoError(f"the saved {name} score's coefficients differ from its own refit; the saved models "
                               "were edited: refit them.")
        return cls(name=name, method=method, features=features,
                   means=saved_numbers(values["means"], f"{name} score's training means", features),
                   sds=saved_numbers(values["sds"], f"{name} score's training SDs", features, positive=True),
                   intercept=intercept, coefs=coefs, fit=fit)


def build_score(name: str, X: pd.DataFrame, y: pd.Series | np.ndarray, lasso, *, method: str = "refit") -> ScoreModel:
    """Turn a LASSO selection into a score, fitted on the training rows.

    Parameters
    ----------
    name : str
    X : pandas.DataFrame
        Training rows (raw feature values).
    y : array-like
        0/1 outcome aligned with ``X``.
    lasso : core.stats.selection.LassoCV
        The selection (its non-zero coefficients name the features).
    method : {"refit", "lasso"}

    Raises
    ------
    RadNomoError
        If the LASSO kept no feature, or the refit fails (e.g. perfect separation).
    """
    if method not in SCORE_METHODS:
        raise RadNomoError(f"method '{method}' is not valid; possible values: {', '.join(SCORE_METHODS)}.")
    features = list(lasso.coef_.index)
    if not features:
        raise RadNomoError(f"the LASSO kept no feature for the {name} score at lambda.{lasso.rule}; try lambda.min "
                           "or relax the screening thresholds.")
    means = X[features].mean()
    sds = X[features].std(ddof=0)
    if method == "lasso":
        coefs = lasso.coef_ * sds
        return ScoreModel(name=name, method=method, features=tuple(features), means=means, sds=sds,
                          intercept=float(lasso.intercept_ + (lasso.coef_ * means).sum()), coefs=coefs)
    data = ((X[features] - means) / sds).assign(_outcome=np.asarray(y).astype(int))
    fit = fit_logistic(data, "_outcome", features)
    return ScoreModel(name=name, method=method, features=tuple(features), means=means, sds=sds,
                      intercept=float(fit.params["const"]), coefs=fit.params[features], fit=fit)


# ---------------------------------------------------------------------------------------------
# Clinical and fused models on mixed (continuous + categorical) predictors
# ---------------------------------------------------------------------------------------------

LEVEL_SEPARATOR = ": "  # indicator column of a categorical level, e.g. "sex: male"


def categorical_levels(df: pd.DataFrame, categorical: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Levels of each categorical variable in training rows, sorted; the first is the reference (as R)."""
    return {c: tuple(sorted(df[c].dropna().astype(str).unique())) for c in categorical}


def design_matrix(df: pd.DataFrame, continuous: Sequence[str], levels: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    """Numeric predictors: continuous columns as they are, one 0/1 indicator per non-reference level.

    A value not among ``levels`` (a level unseen in training) gives a row of NaN for that variable,
    so the row is left out rather than silently coded as the reference.
    """
    out = pd.DataFrame(index=df.index)
    for column in continuous:
        out[column] = pd.to_numeric(df[column], errors="coerce")
    for column, column_levels in levels.items():
        values = df[column].astype("string")
        known = values.isin(column_levels)
        for level in column_levels[1:]:
            out[f"{column}{LEVEL_SEPARATOR}{level}"] = np.where(known, (values == level).astype(float), np.nan)
    return out


@dataclass(frozen=True, kw_only=True, eq=False)
class LogisticModel:
    """A logistic model on named clinical variables (and scores), with its categorical coding.

    Attributes
    ----------
    name : str
    continuous : tuple of str
        Numeric predictors (scores included).
    levels : dict
        Categorical predictor -> its training levels (first = reference).
    fit : LogitFit
        Fitted on :func:`design_matrix` columns.
    vif : pandas.Series
        Variance inflation factor of each design column in training.
    """

    name: str
    continuous: tuple[str, ...]
    levels: dict[str, tuple[str, ...]]
    fit: LogitFit
    vif: pd.Series

    @property
    def variables(self) -> tuple[str, ...]:
        return (*self.continuous, *self.levels)

    def design(self, df: pd.DataFrame) -> pd.DataFrame:
        return design_matrix(df, self.continuous, self.levels)

    def linear_predictor(self, df: pd.DataFrame) -> pd.Series:
        return self.fit.linear_predictor(self.design(df))

    def predict_proba(self, df: pd.DataFrame) -> pd.Series:
        return self.fit.predict_proba(self.design(df))

    def predict_interval(self, df: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
        """Probability with its 95 % confidence interval for each row of ``df`` (raw columns)."""
        return self.fit.predict_interval(self.design(df), level)

    # -- the fitted-model protocol (core.stats.learners.FittedModel) ---------------------------

    learner = "logistic"
    drawable = True

    @property
    def converged(self) -> bool:
        return self.fit.converged

    @property
    def convergence(self) -> str:
        """One sentence naming the model when its fit did not converge ("" when it did)."""
        return "" if self.converged else convergence_warning(f"{self.name} model's logistic regression")

    def predict_risk(self, df: pd.DataFrame) -> pd.Series:
        return self.predict_proba(df)

    def nomogram_design(self) -> NomogramDesign:
        """Its variables (categorical ones by level) and coefficients (for :class:`Nomogram`)."""
        return NomogramDesign(continuous=self.continuous, levels=dict(self.levels), coefficients=self.fit.params)

    @property
    def table(self) -> pd.DataFrame:
        """Coefficient, SE, p, OR with 95 % CI and VIF per design column.

        ``coef`` and ``se`` stay per unit. A continuous term whose per-unit OR would print as
        1.000 (1.000-1.000) (e.g. a volume in mm³) has its OR and interval given per a power of ten
        (:func:`readable_or_unit`), said in its label, e.g. "volume_mm3 (OR per 10,000 units)", with
        the multiplier in ``OR_per``. With a score among the terms (the fused model), ``p_note`` marks
        the score's p-value :data:`core.vocabulary.POST_SELECTION_NOTE`: its features were selected on
        these patients.
        """
        table = self.fit.summary.drop(index="const")
        table["VIF"] = self.vif
        units = {term: readable_or_unit(table.loc[term, "coef"], table.loc[term, "se"]) for term in self.continuous
                 if term in table.index}
        units = {term: unit for term, unit in units.items() if unit != 1}
        if units:
            z = stats.norm.ppf(0.975)
            per = pd.Series(1.0, index=table.index)
            per[list(units)] = list(units.values())
            table["OR"] = np.exp(table["coef"] * per)
            table["OR_lower"] = np.exp((table["coef"] - z * table["se"]) * per)
            table["OR_upper"] = np.exp((table["coef"] + z * table["se"]) * per)
            table["OR_per"] = per
            table = table.rename(index={term: per_unit_term(term, unit) for term, unit in units.items()})
        scores = [term for term in table.index if family_of_score(term) is not None]
        if scores:
            table["p_note"] = ["" if family_of_score(term) is None else POST_SELECTION_NOTE for term in table.index]
        return table.rename_axis("term")

    def to_dict(self) -> dict:
        return {"name": self.name, "continuous": list(self.continuous),
                "levels": {k: list(v) for k, v in self.levels.items()}, "fit": self.fit.to_dict(),
                "vif": self.vif.to_dict()}

    @classmethod
    def from_dict(cls, values: dict) -> LogisticModel:
        """From :meth:`to_dict`, re-validated: each categorical variable has two or more distinct levels, and
        the fit's terms are exactly the design columns of the variables (:func:`design_matrix`).

        Raises
        ------
        RadNomoError
            For a saved model that is malformed, edited or not finite.
        """
        name = str(values["name"])
        continuous = saved_names(values["continuous"], f"{name} model's continuous variables", empty=True)
        if not isinstance(values["levels"], dict):
            raise RadNomoError(f"the saved {name} model's categorical levels are not a table.")
        levels = {str(k): saved_names(v, f"levels of {k}") for k, v in values["levels"].items()}
        if any(len(v) < 2 for v in levels.values()):
            raise RadNomoError(f"the saved {name} model has a categorical variable with a single level.")
        fit = LogitFit.from_dict(values["fit"], what=f"{name} model")
        design = [*continuous, *(f"{c}{LEVEL_SEPARATOR}{level}" for c, v in levels.items() for level in v[1:])]
        if sorted(fit.predictors) != sorted(design):
            raise RadNomoError(f"the saved {name} model's coefficients ({list(fit.predictors)[:4]}) do not match its "
                               f"variables ({design[:4]}); the saved models were edited: refit them.")
        return cls(name=name, continuous=continuous, levels=levels, fit=fit,
                   vif=saved_numbers(values["vif"], f"{name} model's VIFs", fit.predictors, finite=False))


def readable_or_unit(coef: float, se: float, digits: int = 3) -> float:
    """The unit an odds ratio is best given per: 1, or the power of ten that makes it readable.

    A per-unit OR of a predictor measured in small units (a volume in mm³: coefficient ~1e-6) prints
    as 1.000 (1.000-1.000) at ``digits`` decimals. Then the OR is given per ``10**k`` units, the
    smallest power of ten for which the larger of abs(coef) and the interval's half-width (1.96 SE)
    reaches 0.01 on the log-odds scale (so the OR or its interval shows at least 1.010 / 0.990).

    Parameters
    ----------
    coef, se : float
        Log-odds per unit and its standard error.
    digits : int, default 3
        Decimals the OR is printed with.

    Returns
    -------
    float
        1.0 when the per-unit OR already reads (or the coefficient is not finite), else 10, 100, 1,000 ...
    """
    z = stats.norm.ppf(0.975)
    if not (np.isfinite(coef) and np.isfinite(se)):
        return 1.0
    shown = {round(float(np.exp(v)), digits) for v in (coef, coef - z * se, coef + z * se)}
    spread = max(abs(coef), z * abs(se))
    if shown != {1.0} or spread == 0:
        return 1.0
    return float(10 ** math.ceil(math.log10(0.01 / spread)))


_PER_UNIT = re.compile(r"^(?P<term>.*) \(OR per (?P<unit>[\d,]+) units\)$")


def per_unit_term(term: str, unit: float) -> str:
    """A term's label when its OR is given per ``unit`` units, e.g. "volume_mm3 (OR per 10,000 units)"."""
    return term if unit == 1 else f"{term} (OR per {unit:,.0f} units)"


def labelled_term(term: str, label: Callable[[str], str]) -> str:
    """A model table's term in words, its OR unit kept: ``labelled_term("volume_mm3 (OR per 10,000 units)",
    study.label)`` gives "Volume (mm³) (OR per 10,000 units)"; a term without a unit is ``label(term)``."""
    match = _PER_UNIT.match(term)
    if match is None:
        return label(term)
    return f"{label(match['term'])} (OR per {match['unit']} units)"


def term_words(term: str, label: Callable[[str], str]) -> str:
    """A design term in words: the variable's label, and its level for a category (``"T stage (T3)"``)."""
    variable, _, level = term.partition(LEVEL_SEPARATOR)
    return f"{label(variable)} ({level})" if level else label(variable)


def uncertain_sign_text(p_clinical: float, p_fused: float) -> str:
    """What a sign flip's Wald p-values say of it: a coefficient whose p is 0.05 or more may have flipped by chance
    (its sign is not established); "" when both are below 0.05."""
    weak = {model: p for model, p in (("clinical", p_clinical), ("fused", p_fused)) if p >= 0.05}
    if len(weak) == 2:
        return (f" Neither sign is firmly estimated (clinical p = {weak['clinical']:.3f}, fused p = "
                f"{weak['fused']:.3f}).")
    if weak:
        (model, p), = weak.items()
        return f" The {model} coefficient is not significant (p = {p:.3f}), so its sign is uncertain."
    return ""


def sign_flips(clinical: LogisticModel | None, fused: LogisticModel | None,
               label: Callable[[str], str] | None = None) -> list[str]:
    """Terms whose coefficient changes sign between the clinical and the fused model, each explained.

    The fused model holds the clinical terms and a score; a term correlated with the score can
    change sign once the score is in the model (its effect is then the effect at a given score, not
    the unadjusted one). Readers of a nomogram whose axis "runs backwards" need to be told so.

    Parameters
    ----------
    clinical, fused : LogisticModel or None
        Either may be None (a study without a clinical or fused model): then there is nothing to compare.
    label : callable, optional
        Term -> words (e.g. ``Study.label``); default the term itself. A categorical level's term
        ("sex: male") is labelled by its variable's label and the level.

    Returns
    -------
    list of str
        One plain sentence per term whose coefficient is positive in one model and negative in the
        other, with both coefficients, their p-values and the term's VIF in the fused model; empty
        when no sign flips.
    """
    if clinical is None or fused is None:
        return []
    name = label or (lambda term: term)
    scores = [t for t in fused.continuous if family_of_score(t) is not None]
    adjusted_for = " and ".join(f"the {name(t)}" for t in scores) or "the fused model's other terms"
    notes = []
    for term in clinical.fit.predictors:
        if term not in fused.fit.params.index:
            continue
        before, after = float(clinical.fit.params[term]), float(fused.fit.params[term])
        if before * after >= 0:
            continue
        vif = float(fused.vif.get(term, np.nan))
        vif_text = f"; VIF {vif:.2f} in the fused model" if np.isfinite(vif) else ""
        # A coefficient whose Wald p is 0.05 or more may have flipped by chance: its sign is not established.
        weak_text = uncertain_sign_text(float(clinical.fit.pvalues[term]), float(fused.fit.pvalues[term]))
        words = term_words(term, name)
        notes.append(f"{words}: coefficient {before:+.3f} in the clinical model but {after:+.3f} in the fused "
                     f"model. The fused model also holds {adjusted_for}, which is correlated with it (collinearity"
                     f"{vif_text}): the clinical model gives its effect on its own (unadjusted), the fused model its "
                     "effect among patients with the same score (adjusted), and the two can differ even in sign."
                     f"{weak_text} Interpret the fused model's adjusted effect with care (it is not a causal effect): "
                     "on the fused model's nomogram this term points the other way.")
    return notes


def variance_inflation(design: pd.DataFrame) -> pd.Series:
    """VIF of each column (with an intercept in the model), statsmodels' definition: 1 / (1 - R^2) of the column
    regressed on the others and a constant.

    Computed as the diagonal of the inverse correlation matrix (one pass over the rows: O(n k^2)), which equals that
    definition; statsmodels' regression per column (an SVD of the n x k design each, O(n k^3) and most of the fit of
    a 100-feature score at 7,000 training patients) is kept for designs too ill-conditioned to invert reliably
    (collinear columns, where it gives inf).
    """
    from statsmodels.stats.outliers_influence import variance_inflation_factor

    data = design.dropna()
    if design.shape[1] == 1:
        return pd.Series([1.0], index=design.columns)
    values = data.to_numpy(dtype=float)
    centred = values - values.mean(axis=0)
    cross = centred.T @ centred
    spread = np.sqrt(np.diag(cross))
    if len(values) > design.shape[1] + 1 and np.all(spread > 0):
        correlation = cross / np.outer(spread, spread)
        if np.linalg.cond(correlation) < 1e6:  # the inverse then holds 10 digits at least
            return pd.Series(np.diag(np.linalg.inv(correlation)), index=design.columns)
    with_const = np.column_stack([np.ones(len(data)), values])
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.Series([variance_inflation_factor(with_const, j + 1) for j in range(design.shape[1])],
                         index=design.columns)


def fit_model(name: str, df: pd.DataFrame, outcome: str, *, continuous: Sequence[str] = (),
              categorical: Sequence[str] = ()) -> LogisticModel:
    """Fit a multivariable logistic model (clinical or fused) on training rows.

    Parameters
    ----------
    name : str
    df : pandas.DataFrame
        Training rows with the outcome and every predictor.
    outcome : str
    continuous, categorical : sequence of str
        Numeric and categorical predictors (categorical ones are coded with R's treatment
        contrasts: the alphabetically first level is the reference).

    Raises
    ------
    RadNomoError
        For no predictor, a categorical predictor with one level in training, a constant
        predictor, or perfect separation.
    """
    continuous, categorical = list(continuous), list(categorical)
    if not continuous and not categorical:
        raise RadNomoError(f"choose at least one predictor for the {name} model.")
    levels = categorical_levels(df, categorical)
    single = [c for c, v in levels.items() if len(v) < 2]
    if single:
        raise RadNomoError(f"categorical variable(s) {single} have one level only in the training cohort and "
                           "cannot be estimated; leave them out.")
    design = design_matrix(df, continuous, levels)
    fit = fit_logistic(design.assign(**{outcome: df[outcome].to_numpy()}), outcome, list(design.columns))
    return LogisticModel(name=name, continuous=tuple(continuous), levels=levels, fit=fit,
                         vif=variance_inflation(design))


def events_per_variable(model: LogisticModel) -> float:
    """Events (the smaller outcome class) per estimated coefficient: below 10 the model may be overfitted."""
    smaller = min(model.fit.n_events, model.fit.n_obs - model.fit.n_events)
    return smaller / max(len(model.fit.predictors), 1)


def univariable_logistic(df: pd.DataFrame, outcome: str, *, continuous: Sequence[str] = (),
                         categorical: Sequence[str] = ()) -> pd.DataFrame:
    """Each clinical variable alone against the outcome (training rows).

    Returns
    -------
    pandas.DataFrame
        One row per design term: ``variable``, ``term``, ``OR``, ``lower``, ``upper`` (95 % Wald),
        ``p_value`` (Wald, per term) and ``variable_p`` (likelihood-ratio test of the whole
        variable, which equals the term's test for a continuous or two-level variable in large
        samples), ``n``. A variable that cannot be fitted (one level, separation) gets a row with
        its reason in ``note``. A continuous variable whose per-unit OR would print 1.000 (1.000-1.000)
        has its OR and interval per a power of ten, named in ``term`` (:func:`readable_or_unit`).
    """
    import statsmodels.api as sm

    rows: list[dict[str, object]] = []
    for variable, kind in [*((c, "continuous") for c in continuous), *((c, "categorical") for c in categorical)]:
        try:
            model = fit_model(variable, df, outcome, continuous=[variable] if kind == "continuous" else [],
                              categorical=[variable] if kind == "categorical" else [])
        except RadNomoError as error:
            rows.append({"variable": variable, "term": variable, "note": str(error)})
            continue
        fit = model.fit
        null = sm.Logit(np.r_[np.ones(fit.n_events), np.zeros(fit.n_obs - fit.n_events)],
                        np.ones(fit.n_obs)).fit(disp=0)
        lr = 2 * (fit.log_likelihood - null.llf)
        variable_p = float(stats.chi2.sf(lr, df=len(fit.predictors)))
        for term, row in fit.odds_ratios.iterrows():
            # A per-unit OR that prints 1.000 (1.000-1.000) is given per a readable unit, as in the model tables.
            unit = readable_or_unit(fit.params[term], fit.bse[term]) if kind == "continuous" else 1.0
            odds = row if unit == 1 else np.exp(np.log(row) * unit)
            rows.append({"variable": variable, "term": per_unit_term(term, unit), "OR": odds["OR"],
                         "lower": odds["lower"], "upper": odds["upper"], "p_value": fit.pvalues[term],
                         "variable_p": variable_p, "n": fit.n_obs, "note": ""})
    return pd.DataFrame(rows, columns=["variable", "term", "OR", "lower", "upper", "p_value", "variable_p", "n",
                                       "note"])


# ---------------------------------------------------------------------------------------------
# Nomogram (R rms::nomogram's points scale)
# ---------------------------------------------------------------------------------------------


def r_pretty(low: float, high: float, n: int = 5) -> np.ndarray:
    """R's ``pretty(c(low, high), n)``: about n+1 round tick values covering [low, high].

    Written out because rms::nomogram draws its axes at these ticks and scales points over them;
    a port of R's R_pretty (src/appl/pretty.c) with its default biases.
    """
    high_bias, u5_bias, shrink, min_n = 1.5, 0.5 + 1.5 * 1.5, 0.75, n // 3
    dx = high - low
    if dx == 0 and high == 0:
        cell, small = 1.0, True
    else:
        cell = max(abs(low), abs(high))
        unit_eps = 1 + (1 / (1 + high_bias) if u5_bias >= 1.5 * high_bias + 0.5 else 1.5 / (1 + u5_bias))
        unit_eps *= max(1, n) * np.finfo(float).eps
        small = bool(dx < cell * unit_eps * 3)
    if small:
        if cell > 10:
            cell = 9 + cell / 10
        cell *= shrink
        if min_n > 1:
            cell /= min_n
    else:
        cell = dx / n if n > 1 else dx
    base = 10.0 ** np.floor(np.log10(cell))
    unit = base
    if 2 * base - cell < high_bias * (cell - unit):
        unit = 2 * base
        if 5 * base - cell < u5_bias * (cell - unit):
            unit = 5 * base
            if 10 * base - cell < high_bias * (cell - unit):
                unit = 10 * base
    ns, nu = np.floor(low / unit + 1e-7), np.ceil(high / unit - 1e-7)
    while ns * unit > low + 1e-10 * unit:
        ns -= 1
    while nu * unit < high - 1e-10 * unit:
        nu += 1
    k = int(0.5 + nu - ns)
    if k < min_n:
        k = min_n - k
        if ns >= 0:
            nu += k // 2
            ns -= k // 2 + k % 2
        else:
            ns -= k // 2
            nu += k // 2 + k % 2
    return np.arange(ns, nu + 0.5) * unit


def nomogram_design(model) -> NomogramDesign:
    """What ``model`` gives a nomogram (:class:`NomogramDesign`), or a RadNomoError saying plainly that this
    model cannot be drawn as one (``drawable`` false, or no ``nomogram_design``: e.g. a learner that is not
    linear in its predictors)."""
    design = getattr(model, "nomogram_design", None)
    if not getattr(model, "drawable", False) or design is None:
        name = getattr(model, "name", type(model).__name__)
        learner = getattr(model, "learner", "")
        reason = getattr(model, "not_drawable", "") or "its risk is not a sum of one term per predictor"
        raise RadNomoError(f"the {name} model{f' ({learner})' if learner else ''} cannot be drawn as a nomogram: "
                           f"{reason}. Its risks are on the Evaluation page.")
    return design()


class Nomogram:
    """Points of a logistic model on R rms::nomogram's scale.

    As rms (datadist + nomogram, defaults): one axis per variable; a categorical variable is drawn
    at its levels, a numeric one with at most 10 distinct training values at those values, any
    other at ``pretty(range, 10)`` ticks over its full training range. Each variable's points are
    linear in its contribution to the linear predictor and 0 at its smallest contribution over its
    ticks; the variable whose contribution varies most spans 0-100. Total points map back to the
    linear predictor and the probability.

    The total-points and risk axes follow rms 6.5 ``nomogram()`` (R/nomogram.s) too:

    * ``lp_at = pretty(range(training linear predictors), 10)`` (rms: ``lp.at`` from
      ``fit$linear.predictors``, i.e. the rows the model was fitted on);
    * total-points ticks ``pretty(c(0, sum.max), 10)`` with
      ``sum.max = max(100, sc * (max(lp_at) - Intercept))`` (``sum.max = 100`` with one
      variable), where ``sc`` is :attr:`points_per_unit_lp` and ``Intercept`` the log-odds at 0
      points. So the axis runs from 0 to just past the training patients' largest total, not to
      the (never reached) sum of every variable's maximum;
    * risk ticks at chosen probabilities (rms: ``fun.at``), placed by inverting the logistic
      function, and kept only inside ``lp_at``'s range (rms inverts ``fun`` on a grid over
      ``range(lp.at)`` with ``approx``, which gives NA outside it) and on the total-points axis.

    Parameters
    ----------
    fit : fitted model
        Any fitted model that can be drawn (``drawable``), asked for its :class:`NomogramDesign`
        (:func:`nomogram_design`): a LogisticModel's variables are its clinical variables (categorical
        ones by level, e.g. ``points("sex", "male")``); a LogitFit's, its predictor columns. A model
        that cannot be drawn is refused with a RadNomoError saying so.
    data : pandas.DataFrame
        Training rows (raw columns for a LogisticModel; the predictor columns for a LogitFit).
        Their axis ticks and their linear predictors (complete rows only) set the axes.
    max_points : float, default 100
        Points of the variable with the widest effect (rms ``maxscale``).

    Attributes
    ----------
    model : fitted model
        The model drawn (its ``predict_interval``, where it has one, gives the calculator's interval).
    training_lp : numpy.ndarray
        Linear predictor (log-odds) of each complete training row.
    lp_at : numpy.ndarray
        ``pretty(range(training_lp), 10)``: the linear-predictor ticks rms would draw.
    """

    # Risk ticks of the nomogram's risk axis when the caller chooses none. rms leaves them to the
    # caller (fun.at); its fallback, pretty(plogis(range(lp.at)), 10), gives steps of 0.1 or 0.05 that
    # crowd where the logistic curve is flat and leave out the 1-5 % and 95-99 % risks that matter
    # clinically. These are the ticks of the rms documentation's own examples (nomogram help page:
    # fun.at=c(.001,.01,.05,seq(.1,.9,by=.1),.95,.99,.999)) without the 0.1 % / 99.9 % extremes.
    DEFAULT_RISKS: tuple[float, ...] = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)

    def __init__(self, fit, data: pd.DataFrame, max_points: float = 100.0) -> None:
        # The model is asked for what a nomogram needs (its NomogramDesign), whatever learner fitted it.
        design = nomogram_design(fit)
        self.model = fit
        self.coefficients = design.coefficients
        self.levels: dict[str, tuple[str, ...]] = dict(design.levels)
        self.ticks: dict[str, np.ndarray] = {}
        for variable in design.continuous:
            values = pd.to_numeric(data[variable], errors="coerce").dropna().to_numpy()
            distinct = np.unique(values)
            self.ticks[variable] = distinct if len(distinct) <= 10 else r_pretty(values.min(), values.max(), 10)
        for variable, levels in self.levels.items():
            self.ticks[variable] = np.array(levels, dtype=object)
        contributions = {v: np.array([self._contribution(v, t) for t in ticks]) for v, ticks in self.ticks.items()}
        self.min_contribution = {v: float(c.min()) for v, c in contributions.items()}
        widest = max(float(c.max() - c.min()) for c in contributions.values())
        if widest == 0:
            raise RadNomoError("every predictor has a zero coefficient or no spread; there is nothing to draw.")
        self.points_per_unit_lp = max_points / widest  # rms: attr(nomogram, "info")$sc
        self.max_points = max_points
        # rms scales the total-points axis on the fitted rows' linear predictors (fit$linear.predictors).
        self.training_lp = design.linear_predictor(data).dropna().to_numpy(dtype=float)
        if len(self.training_lp) == 0:
            raise RadNomoError("no training row has a value for every predictor; the nomogram's total-points axis "
                               "is scaled on the training patients.")
        self.lp_at = r_pretty(float(self.training_lp.min()), float(self.training_lp.max()), 10)

    @property
    def variables(self) -> list[str]:
        return list(self.ticks)

    def _contribution(self, variable: str, value) -> float:
        if variable in self.levels:
            level = str(value)
            if level not in self.levels[variable]:
                raise RadNomoError(f"'{level}' is not a level of {variable}; its levels are "
                                   f"{list(self.levels[variable])}.")
            column = f"{variable}{LEVEL_SEPARATOR}{level}"
            return float(self.coefficients[column]) if column in self.coefficients.index else 0.0
        return float(self.coefficients[variable]) * float(value)

    def points(self, predictor: str, value) -> float:
        """Points of one variable at ``value`` (a number, or a level of a categorical variable)."""
        if predictor not in self.ticks:
            raise RadNomoError(f"'{predictor}' is not a predictor of this model; its predictors are {self.variables}.")
        return (self._contribution(predictor, value) - self.min_contribution[predictor]) * self.points_per_unit_lp

    def total_points(self, row: dict | pd.Series) -> float:
        """Sum of the points of every variable for one patient (a mapping of variable -> value)."""
        missing = [v for v in self.variables if v not in row or pd.isna(row[v])]
        if missing:
            raise RadNomoError(f"values are needed for {missing}.")
        return float(sum(self.points(v, row[v]) for v in self.variables))

    def linear_predictor_at(self, total_points: float) -> float:
        """The log-odds that ``total_points`` stand for."""
        return float(self.coefficients["const"] + sum(self.min_contribution.values())
                     + total_points / self.points_per_unit_lp)

    def probability(self, row: dict | pd.Series) -> float:
        """Predicted probability for one patient, read off the total-points axis."""
        return float(1 / (1 + np.exp(-self.linear_predictor_at(self.total_points(row)))))

    def what_if(self, row: dict | pd.Series, predictor: str, values=None) -> pd.DataFrame:
        """One patient with ``predictor`` moved over ``values`` (default: its levels, or 60 steps across
        its axis), everything else fixed: ``value``, ``points``, ``total_points``, ``probability``."""
        if predictor not in self.ticks:
            raise RadNomoError(f"'{predictor}' is not a predictor of this model; its predictors are {self.variables}.")
        if values is None:
            ticks = self.ticks[predictor]
            values = list(ticks) if predictor in self.levels else np.linspace(float(ticks.min()), float(ticks.max()),
                                                                              60)
        rows = []
        for value in values:
            moved = {**dict(row), predictor: value}
            total = self.total_points(moved)
            rows.append({"value": value, "points": self.points(predictor, value), "total_points": total,
                         "probability": float(1 / (1 + np.exp(-self.linear_predictor_at(total))))})
        return pd.DataFrame(rows)

    def axis(self, predictor: str) -> pd.DataFrame:
        """The variable's tick values and their points (for drawing)."""
        return pd.DataFrame({"value": self.ticks[predictor],
                             "points": [self.points(predictor, v) for v in self.ticks[predictor]]})

    @property
    def training_total_points(self) -> np.ndarray:
        """Total points of each complete training row (from its linear predictor)."""
        return (self.training_lp - self.linear_predictor_at(0.0)) * self.points_per_unit_lp

    def lp_axis(self) -> pd.DataFrame:
        """rms's linear-predictor axis: ``linear_predictor`` (the ``lp_at`` ticks) and their ``points``."""
        return pd.DataFrame({"linear_predictor": self.lp_at,
                             "points": (self.lp_at - self.linear_predictor_at(0.0)) * self.points_per_unit_lp})

    def total_points_axis(self) -> pd.DataFrame:
        """Ticks of the total-points axis, as rms::nomogram: ``pretty(c(0, sum.max), 10)``.

        ``sum.max`` is the total points of the largest ``lp_at`` tick (at least ``max_points``; exactly
        ``max_points`` with one variable), so the axis spans the training patients' totals.

        Returns
        -------
        pandas.DataFrame
            ``points`` (the ticks, from 0) and ``linear_predictor`` (the log-odds at each).
        """
        if len(self.variables) == 1:
            sum_max = self.max_points
        else:
            sum_max = max(self.max_points, float(self.lp_axis()["points"].max()))
        ticks = r_pretty(0.0, sum_max, 10)
        return pd.DataFrame({"points": ticks, "linear_predictor": [self.linear_predictor_at(t) for t in ticks]})

    def risk_axis(self, risks=None) -> pd.DataFrame:
        """Where chosen probabilities fall on the total-points scale.

        Parameters
        ----------
        risks : sequence of float, optional
            Probabilities strictly between 0 and 1 (rms ``fun.at``). Default :attr:`DEFAULT_RISKS`;
            where fewer than three of them fall on the axis (a model whose training risks span a
            narrow range), rms's own default instead: ``pretty(plogis(range(lp_at)), 10)``.

        Returns
        -------
        pandas.DataFrame
            ``total_points`` and ``risk``, in increasing order, for the risks whose log-odds lie in
            ``lp_at``'s range (as rms) and whose points lie on :meth:`total_points_axis`.
        """
        if risks is None:
            shown = self.risk_axis(self.DEFAULT_RISKS)
            if len(shown) >= 3:
                return shown
            ends = 1 / (1 + np.exp(-self.lp_at[[0, -1]]))
            return self.risk_axis([p for p in r_pretty(float(ends[0]), float(ends[1]), 10) if 0 < p < 1])
        values = np.asarray(sorted(float(r) for r in risks))
        if len(values) and ((values <= 0) | (values >= 1)).any():
            raise RadNomoError(f"risk ticks must lie strictly between 0 and 1; got {list(values)}.")
        largest = float(self.total_points_axis()["points"].max())
        base = self.linear_predictor_at(0.0)
        rows = []
        for risk in values:
            log_odds = float(np.log(risk / (1 - risk)))
            total = (log_odds - base) * self.points_per_unit_lp
            inside_lp = self.lp_at.min() - 1e-9 <= log_odds <= self.lp_at.max() + 1e-9
            if inside_lp and -1e-9 <= total <= largest + 1e-9:
                rows.append({"total_points": total, "risk": risk})
        return pd.DataFrame(rows, columns=["total_points", "risk"])
