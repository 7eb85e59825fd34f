"""Logistic models on the training cohort: the fitted-model contract used by scores, clinical and fused models.

So far :func:`fit_logistic` and :class:`LogitFit`; scores, the clinical and fused models and the
nomogram build on them.
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

__all__ = ["LogitFit", "fit_logistic"]


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

    def to_dict(self) -> dict:
        """Plain data (for saving studies as JSON; nothing is pickled)."""
        return {"outcome": self.outcome, "predictors": list(self.predictors), "params": self.params.to_dict(),
                "bse": self.bse.to_dict(), "pvalues": self.pvalues.to_dict(), "n_obs": self.n_obs,
                "n_events": self.n_events, "log_likelihood": self.log_likelihood, "converged": self.converged}

    @classmethod
    def from_dict(cls, values: dict) -> LogitFit:
        return cls(outcome=values["outcome"], predictors=tuple(values["predictors"]),
                   params=pd.Series(values["params"], dtype=float), bse=pd.Series(values["bse"], dtype=float),
                   pvalues=pd.Series(values["pvalues"], dtype=float), n_obs=int(values["n_obs"]),
                   n_events=int(values["n_events"]), log_likelihood=float(values["log_likelihood"]),
                   converged=bool(values["converged"]))


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
                    converged=bool(result.mle_retvals.get("converged", True)))
