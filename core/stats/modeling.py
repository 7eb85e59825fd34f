"""Logistic models on the training cohort: the fitted-model contract used by scores, clinical and fused models.

:func:`fit_logistic` / :class:`LogitFit` (the fitted-model contract), signature scores from a LASSO
selection (:func:`build_score`), clinical and fused models on mixed predictors (:func:`fit_model`,
:func:`univariable_logistic`) and the nomogram's points scale (:class:`Nomogram`). Everything is
fitted on training rows; test rows are only scored.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from core.errors import RadNomoError

__all__ = ["LogitFit", "fit_logistic", "ScoreModel", "build_score", "LogisticModel", "fit_model", "design_matrix",
           "categorical_levels", "variance_inflation", "events_per_variable", "univariable_logistic", "Nomogram", "r_pretty"]


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
    def from_dict(cls, values: dict) -> LogitFit:
        return cls(outcome=values["outcome"], predictors=tuple(values["predictors"]),
                   params=pd.Series(values["params"], dtype=float), bse=pd.Series(values["bse"], dtype=float),
                   pvalues=pd.Series(values["pvalues"], dtype=float), n_obs=int(values["n_obs"]),
                   n_events=int(values["n_events"]), log_likelihood=float(values["log_likelihood"]),
                   converged=bool(values["converged"]),
                   cov_params=None if values.get("cov_params") is None else pd.DataFrame(values["cov_params"]))


def fit_logistic(df: pd.DataFrame, outcome: str, predictors: Sequence[str]) -> LogitFit:
    """Fit a logistic regression of ``outcome`` on ``predictors`` by maximum likelihood (statsmodels).

    Parameters
    ----------
    df : pandas.DataFrame
        Training rows.
    outcome : str
        0/1 column.
    predictors : sequence of str
        Numeric columns; rows with a missing value in any of them are left out (complete cases).

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
    from statsmodels.tools.sm_exceptions import PerfectSeparationError, PerfectSeparationWarning

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
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        try:
            result = sm.Logit(y, design).fit(disp=0, maxiter=200)
        except (PerfectSeparationError, PerfectSeparationWarning, np.linalg.LinAlgError) as error:
            raise RadNomoError(f"the outcome is perfectly (or almost perfectly) separated by {predictors}; the "
                               "coefficients would be infinite. Remove or combine the separating predictor(s).") \
                from error
    return LogitFit(outcome=outcome, predictors=tuple(predictors), params=result.params.rename(str),
                    bse=result.bse.rename(str), pvalues=result.pvalues.rename(str), n_obs=int(result.nobs),
                    n_events=int(y.sum()), log_likelihood=float(result.llf),
                    converged=bool(result.mle_retvals.get("converged", True)),
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

    @property
    def formula(self) -> str:
        """The score written out, e.g. ``radiomics score = -0.512 + 0.831 x z(feature) - ...``."""
        terms = " ".join(f"{'-' if c < 0 else '+'} {abs(c):.4g} × z({f})" for f, c in self.coefs.items())
        return f"{self.name} score = {self.intercept:.4g} {terms}".strip()

    @property
    def table(self) -> pd.DataFrame:
        """Per feature: coefficient (standardised), training mean and SD, and SE / p when refitted."""
        table = pd.DataFrame({"coef": self.coefs, "train_mean": self.means, "train_sd": self.sds})
        if self.fit is not None:
            table["se"] = self.fit.bse[table.index]
            table["p_value"] = self.fit.pvalues[table.index]
        # rename_axis, not index.name =: the frame shares its index with self.coefs (frozen state)
        return table.rename_axis("feature")

    def to_dict(self) -> dict:
        return {"name": self.name, "method": self.method, "features": list(self.features),
                "means": self.means.to_dict(), "sds": self.sds.to_dict(), "intercept": self.intercept,
                "coefs": self.coefs.to_dict(), "fit": None if self.fit is None else self.fit.to_dict()}

    @classmethod
    def from_dict(cls, values: dict) -> ScoreModel:
        return cls(name=values["name"], method=values["method"], features=tuple(values["features"]),
                   means=pd.Series(values["means"], dtype=float), sds=pd.Series(values["sds"], dtype=float),
                   intercept=float(values["intercept"]), coefs=pd.Series(values["coefs"], dtype=float),
                   fit=None if values["fit"] is None else LogitFit.from_dict(values["fit"]))


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

    @property
    def table(self) -> pd.DataFrame:
        """Coefficient, SE, p, OR with 95 % CI and VIF per design column."""
        table = self.fit.summary.drop(index="const")
        table["VIF"] = self.vif
        return table.rename_axis("term")

    def to_dict(self) -> dict:
        return {"name": self.name, "continuous": list(self.continuous),
                "levels": {k: list(v) for k, v in self.levels.items()}, "fit": self.fit.to_dict(),
                "vif": self.vif.to_dict()}

    @classmethod
    def from_dict(cls, values: dict) -> LogisticModel:
        return cls(name=values["name"], continuous=tuple(values["continuous"]),
                   levels={k: tuple(v) for k, v in values["levels"].items()}, fit=LogitFit.from_dict(values["fit"]),
                   vif=pd.Series(values["vif"], dtype=float))


def variance_inflation(design: pd.DataFrame) -> pd.Series:
    """VIF of each column (with an intercept in the model), statsmodels' definition."""
    from statsmodels.stats.outliers_influence import variance_inflation_factor

    data = design.dropna()
    with_const = np.column_stack([np.ones(len(data)), data.to_numpy(dtype=float)])
    if design.shape[1] == 1:
        return pd.Series([1.0], index=design.columns)
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
        its reason in ``note``.
    """
    import statsmodels.api as sm

    rows = []
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
            rows.append({"variable": variable, "term": term, "OR": row["OR"], "lower": row["lower"],
                         "upper": row["upper"], "p_value": fit.pvalues[term], "variable_p": variable_p,
                         "n": fit.n_obs, "note": ""})
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
        small = dx < cell * unit_eps * 3
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
    fit : LogitFit or LogisticModel
        With a LogisticModel the variables are its clinical variables (categorical ones by level,
        e.g. ``points("sex", "male")``); with a LogitFit, its predictor columns.
    data : pandas.DataFrame
        Training rows (raw columns for a LogisticModel; the predictor columns for a LogitFit).
        Their axis ticks and their linear predictors (complete rows only) set the axes.
    max_points : float, default 100
        Points of the variable with the widest effect (rms ``maxscale``).

    Attributes
    ----------
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

    def __init__(self, fit: LogitFit | LogisticModel, data: pd.DataFrame, max_points: float = 100.0) -> None:
        self.model = fit if isinstance(fit, LogisticModel) else None
        self.fit = fit.fit if isinstance(fit, LogisticModel) else fit
        continuous = self.model.continuous if self.model is not None else self.fit.predictors
        self.levels: dict[str, tuple[str, ...]] = dict(self.model.levels) if self.model is not None else {}
        self.ticks: dict[str, np.ndarray] = {}
        for variable in continuous:
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
        lp = (self.model.linear_predictor(data) if self.model is not None else self.fit.linear_predictor(data))
        self.training_lp = lp.dropna().to_numpy(dtype=float)
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
                raise RadNomoError(f"'{level}' is not a level of {variable}; its levels are {list(self.levels[variable])}.")
            column = f"{variable}{LEVEL_SEPARATOR}{level}"
            return float(self.fit.params[column]) if column in self.fit.params.index else 0.0
        return float(self.fit.params[variable]) * float(value)

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
        return float(self.fit.params["const"] + sum(self.min_contribution.values())
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
