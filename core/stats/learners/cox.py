"""Cox proportional-hazards learners: the models of a time-to-event outcome, in three uses.

* ``cox``: a Cox model (maximum partial likelihood, Efron ties: R's ``coxph(Surv(time, event) ~ ...)``) on
  clinical variables (and a score): the clinical and the fused model (:class:`CoxModel`).
* ``cox_refit``: a score refitted by a Cox model on the LASSO-Cox's selected features, standardised with their
  training mean and population SD, as :func:`core.stats.modeling.build_score`'s "refit" does for a logistic score.
* ``cox_lasso``: a score with the LASSO-Cox's own (shrunken) coefficients (glmnet's ``coef(cvfit, s = ...)``).

The two scores are :class:`CoxScoreModel`. The fits are helper functions of :mod:`core.stats.survival.cox`
(:func:`~core.stats.survival.cox.fit_cox`, :func:`~core.stats.survival.cox.cox_zph`), checked there against R;
this module gives them the learner protocol's shape (:mod:`core.stats.learners.base`) and a saved form.

Every model predicts from what it keeps, never from its training rows: the coefficients, their variance matrix
and the training patients' baseline hazard at each distinct event time (with survfit's variance terms), so a
reopened study predicts survival, and its confidence interval, exactly as the fitted one. What they predict:

* ``linear_predictor(df)``: x'beta, uncentred (R's ``predict(fit, type = "lp")`` plus the centring constant;
  a score's is sum of coefficient / training SD x raw feature, glmnet's ``predict(fit, newx)``); NaN for a row
  with a missing value or a categorical level unseen in training (as the logistic models). ``baseline`` is the
  cumulative hazard at 0 of it, and ``nomogram_design()`` (``const`` = 0) gives the same linear predictor.
* ``predict_survival(df, horizons)``: S(t | x) = exp(-H0(t) exp(x'beta)) at each horizon with its 95 %
  confidence interval, equal to ``summary(survfit(fit, newdata = df), times = horizons)`` (log-scale interval,
  upper limit capped at 1). The ``cox_lasso`` score has no interval (its coefficients are penalised, so they
  have no variance matrix; glmnet's ``survfit.coxnet`` gives none either): NaN there.
* ``predict_risk(df)``: 1 - S(first horizon | x), the risk of the event by the outcome's first horizon; what
  generic code that ranks patients by risk (discrimination, decision curves of one horizon) uses.

Inputs at the boundary: ``outcome`` is a :class:`~core.stats.outcomes.SurvivalOutcome` (a validated cohort);
predictors complete (a missing training value is refused with its column, as :func:`fit_cox` does).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from core.errors import RadNomoError, listed
from core.stats.learners.base import FitOptions, Predictors, fitted_outcome
from core.stats.modeling import (LEVEL_SEPARATOR, NomogramDesign, categorical_levels, design_matrix, saved_names,
                                 saved_number, saved_numbers)
from core.stats.outcomes import Outcome, SurvivalOutcome
from core.stats.survival.cox import CoxFit, cox_zph, fit_cox, ph_warning
from core.vocabulary import (CLINICAL, FUSED, POST_SELECTION_NOTE, POST_SELECTION_P, SCORE_METHODS, SCORE_ROLE,
                             check_option, family_of_score, horizon_column)

__all__ = ["CoxModel", "CoxScoreModel", "CoxLearner", "CoxScoreLearner", "COX", "COX_REFIT", "COX_LASSO",
           "fixed_coefficient_hazard", "SURVIVAL", "baseline_frame", "checked_horizons"]

#: The outcome kind the Cox learners fit (a key of core.vocabulary.OUTCOME_KINDS).
SURVIVAL = SurvivalOutcome.kind
#: The ties every Cox learner fits with (coxph's default).
TIES = "efron"
#: Confidence level of the hazard ratios and predicted survivals.
LEVEL = 0.95
_WHAT_NOW = "the saved models were edited or damaged: refit them"


def _loaded(load: Callable[[Mapping], Any], values: Mapping, what: str) -> Any:
    """``load(values)`` for a saved model's ``from_dict``: its own refusals pass through; a value missing or of
    another type (KeyError, TypeError, ValueError) becomes one RadNomoError naming ``what``."""
    try:
        return load(values)
    except RadNomoError:
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise RadNomoError(f"the saved {what} lacks or mistypes {str(error)[:60]}; {_WHAT_NOW}.") from error


def fixed_coefficient_hazard(lp: np.ndarray, time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The baseline hazard of a Cox model whose linear predictors are fixed (a LASSO-Cox's): Efron's estimator.

    What glmnet's ``survfit.coxnet`` does: ``coxph(Surv(time, event) ~ lp, init = 1, iter = 0)`` (Efron ties), then
    ``survfit``. At each distinct event time with d tied events, risk-set sum S0 and tied sum T0 of exp(lp), the
    increment is sum over l = 0..d-1 of 1 / (S0 - l / d T0). Written out because fit_cox always estimates its
    coefficients; it equals :meth:`CoxFit.baseline_cumulative_hazard` (``centered=False``) at a fit's own
    coefficients (tests/core/test_survival_learners.py).

    Parameters
    ----------
    lp : numpy.ndarray of float
        Linear predictor of each training patient (uncentred).
    time, event : numpy.ndarray
        Follow-up (> 0) and 1 = event / 0 = censored.

    Returns
    -------
    (event_times, increments)
        Distinct event times (increasing) and the hazard increment there for a linear predictor of 0.
    """
    order = np.argsort(time, kind="stable")
    t, e, eta = np.asarray(time, float)[order], np.asarray(event, int)[order], np.asarray(lp, float)[order]
    events = np.flatnonzero(e == 1)
    if events.size == 0:
        raise RadNomoError("A Cox model needs at least one event among its training patients; none had the event.")
    shift = float(eta.max())  # exp(eta - shift) cannot overflow; the increments are scaled back below
    w = np.exp(eta - shift)
    at_risk = np.cumsum(w[::-1])[::-1]
    event_times, first, size = np.unique(t[events], return_index=True, return_counts=True)
    s0 = at_risk[np.searchsorted(t, event_times, side="left")]
    t0 = np.add.reduceat(w[events], first)
    group = np.repeat(np.arange(event_times.size), size)
    fraction = (np.arange(events.size) - first[group]) / size[group]  # Efron's l / d
    increments = np.add.reduceat(1 / (s0[group] - fraction * t0[group]), first)
    return event_times, increments * math.exp(-shift)


def baseline_frame(event_times: np.ndarray, cumulative: np.ndarray, last_follow_up: float) -> pd.DataFrame:
    """A baseline cumulative hazard as a model's ``baseline``: ``time`` (each distinct training event time, then the
    last training follow-up, where the step function ends, carried flat) and ``cumulative_hazard``."""
    times = event_times
    if last_follow_up > times[-1]:
        times, cumulative = np.append(times, last_follow_up), np.append(cumulative, cumulative[-1])
    return pd.DataFrame({"time": times, "cumulative_hazard": cumulative})


def checked_horizons(horizons: Sequence[float] | float, last_follow_up: float, name: str) -> np.ndarray:
    """``horizons`` as a float array, each > 0 and within the training follow-up of the model ``name``.

    Raises
    ------
    RadNomoError
        For no horizon, one not > 0 or not finite, or one beyond ``last_follow_up`` (no survival is predicted
        there), saying which.
    """
    values = np.atleast_1d(np.asarray(horizons, dtype=float))
    if values.size == 0 or not np.isfinite(values).all() or (values <= 0).any():
        raise RadNomoError("Give at least one horizon, each a time > 0 in the follow-up's unit.")
    beyond = values[values > last_follow_up]
    if beyond.size:
        raise RadNomoError(f"Horizon(s) {listed([f'{h:g}' for h in beyond])} lie beyond the last follow-up of the "
                           f"{name} model's training patients ({last_follow_up:g}): it cannot predict "
                           "survival there. Choose horizons within the follow-up.")
    return values


# --------------------------------------------------------------------------------------------------------------
# What every Cox model predicts with
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True, eq=False)
class _CoxPredictor(ABC):
    """Coefficients, their variance and the training baseline hazard: what predicts survival (no training rows).

    Attributes
    ----------
    name : str
    terms : tuple of str
        Design columns, in the order of ``coef``.
    coef : pandas.Series
        Log hazard ratio per unit of each term.
    var : pandas.DataFrame or None
        Variance matrix of ``coef`` (inverse information); None for penalised coefficients (no interval).
    centre : pandas.Series
        The covariate values the baseline hazard is at (coxph's ``fit$means``: training means, 0 for indicators).
    event_times : numpy.ndarray
        Distinct training event times, increasing (the outcome's unit).
    hazard : numpy.ndarray
        Hazard increment at each event time for a patient at ``centre`` (Efron-adjusted, as survfit.coxph).
    hazard_var, hazard_xbar : numpy.ndarray or None
        survfit's variance increments of the baseline and of the weighted covariate means (times x terms), for the
        interval; None without ``var``.
    last_follow_up : float
        The longest training follow-up: no survival is predicted beyond it.
    horizons : tuple of float
        The outcome's horizons (default of :meth:`predict_survival`; the first is :meth:`predict_risk`'s).
    n, n_events : int
        Training patients and events.
    converged : bool
    convergence : str
        "" when the fit converged, else the sentence to show (monotone likelihood, iterations ran out).
    ph_check : pandas.DataFrame
        cox.zph's test of proportional hazards on the training rows (``term``, ``chisq``, ``df``, ``p``; a GLOBAL
        row); empty where there is none (``cox_lasso``).
    ph_warning : str
        :func:`~core.stats.survival.cox.ph_warning` of ``ph_check`` ("" when proportional hazards hold at 5 %).
    """

    name: str
    terms: tuple[str, ...]
    coef: pd.Series
    var: pd.DataFrame | None
    centre: pd.Series
    event_times: np.ndarray
    hazard: np.ndarray
    hazard_var: np.ndarray | None
    hazard_xbar: np.ndarray | None
    last_follow_up: float
    horizons: tuple[float, ...]
    n: int
    n_events: int
    converged: bool
    convergence: str
    ph_check: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["term", "chisq", "df", "p"]))
    ph_warning: str = ""

    drawable = True

    @abstractmethod
    def design(self, df: pd.DataFrame) -> pd.DataFrame:
        """The numeric design columns (``terms``) of raw rows ``df``; NaN where a value is missing or unknown."""

    @property
    def _offset(self) -> float:
        """What :meth:`linear_predictor` adds to design x coefficients (0; a score's folded means)."""
        return 0.0

    def linear_predictor(self, df: pd.DataFrame) -> pd.Series:
        """x'beta of each row of ``df`` (raw columns; uncentred: S(t | x) = exp(-H0(t) exp(x'beta)) with
        :attr:`baseline`, and equal to ``nomogram_design().linear_predictor(df)``); NaN for a row with a missing
        value or an unknown level."""
        values = self.design(df)[list(self.terms)].to_numpy(dtype=float)
        return pd.Series(values @ self.coef.to_numpy() + self._offset, index=df.index, name="linear_predictor")

    @property
    def baseline(self) -> pd.DataFrame:
        """The baseline cumulative hazard H0 at a linear predictor of 0 (R's ``basehaz(fit, centered = FALSE)``,
        Efron-adjusted; a right-continuous step function, 0 before the first event): ``time`` (each distinct
        training event time, then the last training follow-up, where it ends) and ``cumulative_hazard``."""
        scale = math.exp(-(float(self.centre.to_numpy() @ self.coef.to_numpy()) + self._offset))
        return baseline_frame(self.event_times, np.cumsum(self.hazard) * scale, self.last_follow_up)

    def _horizons(self, horizons: Sequence[float] | float | None) -> np.ndarray:
        return checked_horizons(self.horizons if horizons is None else horizons, self.last_follow_up, self.name)

    def predict_survival(self, df: pd.DataFrame, horizons: Sequence[float] | float | None = None) -> pd.DataFrame:
        """Predicted survival of each row of ``df`` at each horizon, with its 95 % confidence interval.

        As ``summary(survfit(fit, newdata = df), times = horizons)``: S = exp(-H0(t) exp((x - centre)'beta)); the
        standard error of the cumulative hazard includes the variance of the coefficients (survfit's ``se.fit``)
        and the interval is on the log scale (``conf.type = "log"``), its upper limit capped at 1.

        Parameters
        ----------
        df : pandas.DataFrame
            Raw columns (the model's :attr:`variables`), one row per patient.
        horizons : float or sequence of float, optional
            Times in the outcome's unit; default the model's :attr:`horizons`. None may lie beyond the longest
            training follow-up.

        Returns
        -------
        pandas.DataFrame
            Index of ``df``; per horizon h (in the given order) ``surv_<h>``, ``surv_<h>_low``, ``surv_<h>_high``
            (:func:`~core.vocabulary.horizon_column`). NaN for a row with a missing value or an unknown level,
            and NaN limits for a model without a variance matrix (``cox_lasso``).

        Raises
        ------
        RadNomoError
            A horizon <= 0 or beyond the last training follow-up; a column the model needs is absent.
        """
        times = self._horizons(horizons)
        values = self.design(df)[list(self.terms)].to_numpy(dtype=float) - self.centre.to_numpy()
        at = np.searchsorted(self.event_times, times, side="right")
        cumhaz = np.concatenate([[0.0], np.cumsum(self.hazard)])[at]
        risk = np.exp(values @ self.coef.to_numpy())
        surv = np.exp(-np.outer(risk, cumhaz))
        lower = upper = np.full(surv.shape, np.nan)
        if self.var is not None and self.hazard_var is not None and self.hazard_xbar is not None:
            # survfit.coxph's variance of H(t | x) (as CoxFit.predict_survival, in the same order of operations)
            cumvar = np.concatenate([[0.0], np.cumsum(self.hazard_var)])[at]
            xbar = np.vstack([np.zeros((1, len(self.terms))), np.cumsum(self.hazard_xbar, axis=0)])[at]
            dt = cumhaz[None, :, None] * values[:, None, :] - xbar[None, :, :]
            quad = np.einsum("aht,ts,ahs->ah", dt, self.var.to_numpy(), dt)
            z = stats.norm.ppf(1 - (1 - LEVEL) / 2)
            # an extreme linear predictor overflows to an infinite interval (survival 0 or 1 there): no warning
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                se_cumhaz = np.sqrt((cumvar[None, :] + quad) * risk[:, None] ** 2)
                positive = np.where(surv > 0, surv, np.nan)
                lower = np.exp(np.log(positive) - z * se_cumhaz)
                upper = np.minimum(np.exp(np.log(positive) + z * se_cumhaz), 1.0)
        columns: dict[str, np.ndarray] = {}
        for j, h in enumerate(times):
            columns[horizon_column(h)] = surv[:, j]
            columns[horizon_column(h, "low")] = lower[:, j]
            columns[horizon_column(h, "high")] = upper[:, j]
        return pd.DataFrame(columns, index=df.index)

    def predict_risk(self, df: pd.DataFrame) -> pd.Series:
        """The risk of the event by the model's first horizon, 1 - S(horizons[0] | x), per row of ``df``.

        Generic code that ranks patients by risk (concordance, the binary-style tables) uses it; a horizon's own
        risks are ``1 - predict_survival(df, h)``. NaN for a row with a missing value or an unknown level.
        """
        horizon = self.horizons[0]
        survival = self.predict_survival(df, [horizon])[horizon_column(horizon)]
        return (1 - survival).rename("risk")

    # -- the saved form ------------------------------------------------------------------------------------------
    def _saved(self) -> dict[str, Any]:
        xbar = None if self.hazard_xbar is None else {t: self.hazard_xbar[:, j].tolist()
                                                      for j, t in enumerate(self.terms)}
        return {"name": self.name, "coef": self.coef.to_dict(),
                "var": None if self.var is None else self.var.to_dict(), "centre": self.centre.to_dict(),
                "baseline": {"time": self.event_times.tolist(), "hazard": self.hazard.tolist(),
                             "variance": None if self.hazard_var is None else self.hazard_var.tolist(),
                             "xbar": xbar},
                "last_follow_up": self.last_follow_up, "horizons": list(self.horizons), "n": self.n,
                "n_events": self.n_events, "converged": self.converged, "convergence": self.convergence,
                "ph_check": self.ph_check.to_dict(orient="list"), "ph_warning": self.ph_warning}

    @staticmethod
    def _read(values: Mapping, terms: tuple[str, ...], what: str, *, with_var: bool) -> dict[str, Any]:
        """The shared saved fields, re-validated against ``terms`` (RadNomoError naming ``what`` otherwise)."""
        if not isinstance(values.get("converged"), bool) or not isinstance(values.get("convergence"), str):
            raise RadNomoError(f"the saved {what}'s convergence is not recorded; {_WHAT_NOW}.")
        converged = values["converged"]
        coef = saved_numbers(values["coef"], f"{what}'s coefficients", terms)
        centre = saved_numbers(values["centre"], f"{what}'s centring", terms)
        var = None
        if with_var:
            raw = values["var"]
            if not isinstance(raw, dict) or set(raw) != set(terms):
                raise RadNomoError(f"the saved {what}'s variance matrix does not match its terms; {_WHAT_NOW}.")
            # a fit that did not converge may have an infinite variance (said in its convergence sentence)
            var = pd.DataFrame({c: saved_numbers(raw[c], f"{what}'s variances of {c}", terms, finite=converged)
                                for c in terms}).loc[list(terms), list(terms)]
            matrix = var.to_numpy()
            if converged and not np.allclose(matrix, matrix.T, rtol=1e-9, atol=0):
                raise RadNomoError(f"the saved {what}'s variance matrix is not symmetric; {_WHAT_NOW}.")
        elif values.get("var") is not None:
            raise RadNomoError(f"the saved {what} has a variance matrix its method does not make; {_WHAT_NOW}.")
        base = values["baseline"]
        if not isinstance(base, dict):
            raise RadNomoError(f"the saved {what}'s baseline hazard is not a table; {_WHAT_NOW}.")
        times = _saved_array(base.get("time"), f"{what}'s event times")
        hazard = _saved_array(base.get("hazard"), f"{what}'s baseline hazards", times.size)
        if times.size == 0 or (times <= 0).any() or (np.diff(times) <= 0).any() or (hazard <= 0).any():
            raise RadNomoError(f"the saved {what}'s baseline hazard must hold increasing event times > 0 and hazards "
                               f"> 0; {_WHAT_NOW}.")
        hazard_var = hazard_xbar = None
        if with_var:
            hazard_var = _saved_array(base.get("variance"), f"{what}'s baseline variances", times.size)
            if (hazard_var < 0).any():
                raise RadNomoError(f"the saved {what}'s baseline variance is negative; {_WHAT_NOW}.")
            xbar = base.get("xbar")
            if not isinstance(xbar, dict) or set(xbar) != set(terms):
                raise RadNomoError(f"the saved {what}'s baseline covariate means do not match its terms; {_WHAT_NOW}.")
            hazard_xbar = np.column_stack([_saved_array(xbar[t], f"{what}'s baseline means of {t}", times.size)
                                           for t in terms])
        last = values["last_follow_up"]
        if isinstance(last, bool) or not isinstance(last, (int, float)) or not math.isfinite(last) \
                or last < times[-1]:
            raise RadNomoError(f"the saved {what}'s last follow-up {str(last)[:20]} is not a time at or after its last "
                               f"event; {_WHAT_NOW}.")
        horizons = _saved_array(values["horizons"], f"{what}'s horizons")
        if horizons.size == 0 or (horizons <= 0).any() or (horizons > last).any():
            raise RadNomoError(f"the saved {what}'s horizons must be times > 0 within its follow-up; {_WHAT_NOW}.")
        n, n_events = values["n"], values["n_events"]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (n, n_events)) \
                or not times.size <= n_events <= n:
            raise RadNomoError(f"the saved {what} counts {str(n_events)[:20]} events among {str(n)[:20]} patients "
                               f"for {times.size} event times; {_WHAT_NOW}.")
        ph_check = _saved_ph_check(values.get("ph_check"), terms, what)
        shown = ph_warning(ph_check) if len(ph_check) else values.get("ph_warning", "")
        if not isinstance(shown, str):
            raise RadNomoError(f"the saved {what}'s proportional-hazards note is not a text; {_WHAT_NOW}.")
        return {"name": str(values["name"]), "terms": terms, "coef": coef, "var": var, "centre": centre,
                "event_times": times, "hazard": hazard, "hazard_var": hazard_var, "hazard_xbar": hazard_xbar,
                "last_follow_up": float(last), "horizons": tuple(float(h) for h in horizons), "n": n,
                "n_events": n_events, "converged": converged, "convergence": values["convergence"],
                "ph_check": ph_check, "ph_warning": shown}


def _saved_array(values: object, what: str, length: int | None = None) -> np.ndarray:
    """A saved list of finite numbers (of ``length`` when given), else a RadNomoError naming ``what``."""
    if not isinstance(values, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                               for v in values):
        raise RadNomoError(f"the saved {what} are not a list of numbers; {_WHAT_NOW}.")
    array = np.asarray(values, dtype=float)
    if not np.isfinite(array).all() or (length is not None and array.size != length):
        expected = "finite numbers" if length is None else f"{length} finite numbers"
        raise RadNomoError(f"the saved {what} are not {expected} ({array.size} given); {_WHAT_NOW}.")
    return array


def _saved_ph_check(values: object, terms: tuple[str, ...], what: str) -> pd.DataFrame:
    """cox.zph's table read back (columns as lists): its terms among ``terms`` and GLOBAL, numbers finite or NaN."""
    columns = ["term", "chisq", "df", "p"]
    if not isinstance(values, dict) or set(values) != set(columns):
        raise RadNomoError(f"the saved {what}'s proportional-hazards test is not a table of {columns}; {_WHAT_NOW}.")
    names = values["term"]
    if not isinstance(names, list) or not set(names) <= {*terms, "GLOBAL"} or len(set(names)) != len(names):
        raise RadNomoError(f"the saved {what}'s proportional-hazards test names terms the model lacks; {_WHAT_NOW}.")
    numbers = {}
    for column in columns[1:]:
        raw = values[column]
        if not isinstance(raw, list) or len(raw) != len(names) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
            raise RadNomoError(f"the saved {what}'s proportional-hazards {column} are not numbers; {_WHAT_NOW}.")
        numbers[column] = np.asarray(raw, dtype=float)
    p = numbers["p"]
    if ((p < 0) | (p > 1)).any():
        raise RadNomoError(f"the saved {what}'s proportional-hazards p-values lie outside 0-1; {_WHAT_NOW}.")
    return pd.DataFrame({"term": pd.Series(names, dtype=object), **numbers})


def _hazard_ratios(coef: pd.Series, var: pd.DataFrame | None) -> pd.DataFrame:
    """``coef``, ``HR``, ``HR_lower``, ``HR_upper`` (95 % Wald) and Wald ``p`` per term (NaN without ``var``)."""
    se = np.sqrt(np.diag(var.to_numpy())) if var is not None else np.full(len(coef), np.nan)
    q = stats.norm.ppf(1 - (1 - LEVEL) / 2)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # an infinite coefficient: inf, as said
        return pd.DataFrame({"coef": coef.to_numpy(), "HR": np.exp(coef.to_numpy()),
                             "HR_lower": np.exp(coef.to_numpy() - q * se), "HR_upper": np.exp(coef.to_numpy() + q * se),
                             "p": 2 * stats.norm.sf(np.abs(coef.to_numpy() / se))}, index=coef.index)


def _fitted_parts(fit: CoxFit, name: str, last_follow_up: float, horizons: tuple[float, ...]) -> dict[str, Any]:
    """The fields of a :class:`_CoxPredictor` from a :class:`CoxFit` (its baseline hazard with survfit's terms)."""
    # CoxFit._hazard_steps is survfit.coxph's baseline (checked against R in test_survival_km_cox.py); the model
    # keeps its steps so it predicts without the training rows. A test checks the two predictions agree.
    event_times, hazard, var_step, xbar_step = fit._hazard_steps()
    try:
        zph = cox_zph(fit)
        warning = ph_warning(zph)
    except (np.linalg.LinAlgError, RadNomoError) as error:  # a singular information matrix (non-convergence)
        zph = pd.DataFrame(columns=["term", "chisq", "df", "p"])
        warning = f"The proportional-hazards test (cox.zph) of the {name} model could not be computed ({error})."
    return {"name": name, "terms": fit.terms, "coef": fit.coef.copy(), "var": fit.var.copy(),
            "centre": fit.means.copy(), "event_times": event_times, "hazard": hazard, "hazard_var": var_step,
            "hazard_xbar": xbar_step, "last_follow_up": last_follow_up, "horizons": horizons, "n": fit.n,
            "n_events": fit.n_events, "converged": fit.converged, "convergence": fit.convergence, "ph_check": zph,
            "ph_warning": warning}


def _survival_data(learner: Any, outcome: Outcome | str, data: pd.DataFrame, name: str
                   ) -> tuple[np.ndarray, np.ndarray, SurvivalOutcome]:
    """``(time, event, outcome)`` of the training rows, the horizons checked against their follow-up."""
    checked = fitted_outcome(learner, outcome)
    if not isinstance(checked, SurvivalOutcome):  # fitted_outcome let through only the learner's kinds
        raise RadNomoError(f"the '{learner.name}' learner fits time-to-event outcomes only.")
    values = checked.values(data)
    time = values[SurvivalOutcome.TIME].to_numpy(dtype=float)
    event = values[SurvivalOutcome.EVENT].to_numpy(dtype=int)
    if event.sum() == 0:
        raise RadNomoError(f"no training patient of the {name} model had the event ({checked.event_label}): a Cox "
                           "model needs events; use more patients or check the event column.")
    checked.check_horizons(time, what=f"the {name} model's training patients")
    return time, event, checked


# --------------------------------------------------------------------------------------------------------------
# The clinical and fused model
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True, eq=False)
class CoxModel(_CoxPredictor):
    """A Cox model on named clinical variables (and scores), with its categorical coding: the clinical or fused
    model of a time-to-event study (learner ``cox``).

    Attributes (besides those of the predictions, see the module's docstring)
    ----------
    continuous : tuple of str
        Numeric variables (scores included).
    levels : dict
        Categorical variable -> its training levels (first = reference: R's treatment contrasts); each other level
        is a 0/1 design column ``f"{variable}{LEVEL_SEPARATOR}{level}"`` (:func:`~core.stats.modeling.design_matrix`).
    loglik_null, loglik : float
        Log partial likelihood with no predictor and at the fit (the likelihood-ratio test: :attr:`lr_p`).
    """

    continuous: tuple[str, ...]
    levels: dict[str, tuple[str, ...]]
    loglik_null: float
    loglik: float

    learner = "cox"

    @property
    def variables(self) -> tuple[str, ...]:
        return (*self.continuous, *self.levels)

    def design(self, df: pd.DataFrame) -> pd.DataFrame:
        missing = [v for v in self.variables if v not in df.columns]
        if missing:
            raise RadNomoError(f"the {self.name} model needs the column(s) {listed(missing)}, which these data lack.")
        return design_matrix(df, self.continuous, self.levels)

    @property
    def lr_p(self) -> float:
        """p of the likelihood-ratio test of the whole model (on one df per term)."""
        return float(stats.chi2.sf(2 * (self.loglik - self.loglik_null), len(self.terms)))

    @property
    def table(self) -> pd.DataFrame:
        """Per design term (index ``term``): ``coef`` (log hazard ratio per unit), ``HR`` with its 95 % Wald
        interval ``HR_lower`` / ``HR_upper`` and Wald ``p``, as ``summary(coxph(...))``. With a score among the
        terms (the fused model), ``p_note`` marks the score's p :data:`~core.vocabulary.POST_SELECTION_NOTE`."""
        table = _hazard_ratios(self.coef, self.var)
        if any(family_of_score(term) is not None for term in table.index):
            table["p_note"] = ["" if family_of_score(term) is None else POST_SELECTION_NOTE for term in table.index]
        return table.rename_axis("term")

    def nomogram_design(self) -> NomogramDesign:
        """Its variables (categorical ones by level) and log hazard ratios, ``const`` = 0.0: the design's linear
        predictor is :meth:`linear_predictor`, which :attr:`baseline` turns into survival."""
        return NomogramDesign(continuous=self.continuous, levels=dict(self.levels),
                              coefficients=pd.concat([pd.Series({"const": 0.0}), self.coef]))

    def to_dict(self) -> dict:
        """Plain JSON data (no pickle): the coefficients, their variance, the baseline hazard with its variance
        terms, the coding, the horizons and the checks."""
        return {**self._saved(), "learner": self.learner, "continuous": list(self.continuous),
                "levels": {k: list(v) for k, v in self.levels.items()}, "loglik_null": self.loglik_null,
                "loglik": self.loglik}

    @classmethod
    def from_dict(cls, values: Mapping) -> CoxModel:
        """From :meth:`to_dict`, re-validated: each categorical variable has two or more levels, the coefficients
        are exactly the variables' design columns and finite, the variance matrix square over them and symmetric,
        the baseline hazard positive at increasing times, horizons within the follow-up.

        Raises
        ------
        RadNomoError
            For a saved model that is malformed, edited or not finite.
        """
        return _loaded(cls._from_dict, values, "Cox model")

    @classmethod
    def _from_dict(cls, values: Mapping) -> CoxModel:
        if not isinstance(values, Mapping) or values.get("learner") != "cox":
            raise RadNomoError(f"the saved model is not a Cox model; {_WHAT_NOW}.")
        name = str(values["name"])
        what = f"{name} model"
        continuous = saved_names(values["continuous"], f"{what}'s continuous variables", empty=True)
        if not isinstance(values["levels"], dict):
            raise RadNomoError(f"the saved {what}'s categorical levels are not a table; {_WHAT_NOW}.")
        levels = {str(k): saved_names(v, f"levels of {k}") for k, v in values["levels"].items()}
        if any(len(v) < 2 for v in levels.values()):
            raise RadNomoError(f"the saved {what} has a categorical variable with a single level; {_WHAT_NOW}.")
        terms = tuple([*continuous, *(f"{c}{LEVEL_SEPARATOR}{level}" for c, v in levels.items() for level in v[1:])])
        if not terms or not isinstance(values["coef"], dict) or sorted(values["coef"]) != sorted(terms):
            raise RadNomoError(f"the saved {what}'s coefficients do not match its variables ({list(terms)[:4]}); "
                               f"{_WHAT_NOW}.")
        loglik_null = saved_number(values["loglik_null"], f"{what}'s log-likelihood without predictors")
        loglik = saved_number(values["loglik"], f"{what}'s log-likelihood")
        return cls(**cls._read(values, terms, what, with_var=True), continuous=continuous, levels=levels,
                   loglik_null=loglik_null, loglik=loglik)


@dataclass(frozen=True)
class CoxLearner:
    """A Cox proportional-hazards model (maximum partial likelihood, Efron ties) on continuous and categorical
    predictors (R's ``coxph`` with treatment contrasts): the clinical and the fused model of a time-to-event
    outcome."""

    name: str = "cox"
    label: str = "Cox proportional-hazards regression (maximum partial likelihood, Efron ties)"
    roles: tuple[str, ...] = (CLINICAL, FUSED)
    outcome_kinds: tuple[str, ...] = (SURVIVAL,)

    def description(self) -> str:
        return "a multivariable Cox proportional-hazards regression (maximum partial likelihood, Efron ties)"

    def fit(self, data: pd.DataFrame, outcome: Outcome | str, predictors: Predictors, *, name: str,
            options: FitOptions | None = None, selection: Any = None) -> CoxModel:
        """The Cox model of the time-to-event ``outcome`` on ``predictors`` over the training rows ``data``.

        Raises
        ------
        RadNomoError
            Another outcome kind, no predictor, a categorical variable with one training level, a missing
            training value, a constant or collinear predictor, no event, a horizon beyond the training follow-up.
        """
        time, event, _outcome = _survival_data(self, outcome, data, name)
        continuous, categorical = list(predictors.continuous), list(predictors.categorical)
        if not continuous and not categorical:
            raise RadNomoError(f"choose at least one predictor for the {name} model.")
        absent = [c for c in [*continuous, *categorical] if c not in data.columns]
        if absent:
            raise RadNomoError(f"the {name} model's predictor(s) {listed(absent)} are not in the training data.")
        levels = categorical_levels(data, categorical)
        single = [c for c, v in levels.items() if len(v) < 2]
        if single:
            raise RadNomoError(f"categorical variable(s) {listed(single)} have one level only in the training cohort "
                               "and cannot be estimated; leave them out.")
        fit = fit_cox(design_matrix(data, continuous, levels), time, event, ties=TIES)
        return CoxModel(**_fitted_parts(fit, name, float(time.max()), _outcome.horizons),
                        continuous=tuple(continuous), levels=levels, loglik_null=fit.loglik_null, loglik=fit.loglik)

    def from_dict(self, values: Mapping) -> CoxModel:
        return CoxModel.from_dict(values)


# --------------------------------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True, eq=False)
class CoxScoreModel(_CoxPredictor):
    """A signature score of a time-to-event outcome: sum of coefficient x standardised feature (a log hazard
    ratio), with the training baseline hazard that turns it into survival (score methods ``cox_refit``,
    ``cox_lasso``).

    Attributes (besides those of the predictions, see the module's docstring)
    ----------
    method : {"cox_refit", "cox_lasso"}
        Coefficients of a Cox model refitted on the LASSO-Cox's selected standardised features (with their
        variance), or the LASSO-Cox's own shrunken ones (no variance, no interval, no proportional-hazards test).
    features : tuple of str
        The raw feature columns (= ``terms``).
    means, sds : pandas.Series
        Training mean and population SD of each feature (the standardisation, as build_score's).
    """

    method: str
    means: pd.Series
    sds: pd.Series

    @property
    def learner(self) -> str:
        """The learner (score method) that fitted it: a key of :data:`core.stats.learners.LEARNERS`."""
        return self.method

    @property
    def features(self) -> tuple[str, ...]:
        return self.terms

    @property
    def variables(self) -> tuple[str, ...]:
        return self.terms

    @property
    def coefs(self) -> pd.Series:
        """Log hazard ratio per training SD of each feature (the score's coefficients, as ScoreModel.coefs)."""
        return self.coef

    def design(self, df: pd.DataFrame) -> pd.DataFrame:
        """The standardised features z = (x - training mean) / training SD of raw rows ``df``."""
        missing = [f for f in self.terms if f not in df.columns]
        if missing:
            raise RadNomoError(f"the {self.name} score needs feature(s) {listed(missing[:5])} that this table lacks.")
        return (df[list(self.terms)].apply(pd.to_numeric, errors="coerce") - self.means) / self.sds

    @property
    def intercept(self) -> float:
        """sum of coefficient x mean / SD: the score = intercept + sum coefficient x z(x) = sum (coefficient / SD)
        x, the uncentred x'beta on the raw features (glmnet's ``predict(fit, newx)`` for ``cox_lasso``). A Cox
        model's baseline hazard absorbs any constant; this one makes the score's nomogram free of intercept."""
        return float((self.coef / self.sds * self.means).sum())

    @property
    def _offset(self) -> float:
        return self.intercept

    def score(self, df: pd.DataFrame) -> pd.Series:
        """The score (log relative hazard, :meth:`linear_predictor`) of each row of ``df``."""
        return self.linear_predictor(df).rename(f"{self.name}_score")

    @property
    def formula(self) -> str:
        """The score written out, e.g. ``radiomics score = 1.52 + 0.831 x z(feature) - ...``."""
        terms = " ".join(f"{'-' if c < 0 else '+'} {abs(c):.4g} × z({f})" for f, c in self.coef.items())
        return f"{self.name} score = {self.intercept:.4g} {terms}".strip()

    @property
    def detail(self) -> str:
        """What the score is, in one line (the Models page's caption)."""
        if self.var is None:
            return ("The LASSO-Cox's shrunken coefficients: no standard errors, p-values or proportional-hazards "
                    "test; survival intervals are not given.")
        return "Cox regression refitted on the selected standardised features (Efron ties)."

    @property
    def table(self) -> pd.DataFrame:
        """Per feature (index ``feature``): ``coef`` (log hazard ratio per training SD), ``HR`` and, for a refit,
        its 95 % interval and :data:`~core.vocabulary.POST_SELECTION_P` (the LASSO-Cox chose these features on
        the same patients, so the p-values are too small: not for inference); ``train_mean``, ``train_sd``."""
        ratios = _hazard_ratios(self.coef, self.var)
        table = ratios[["coef", "HR"]].copy()
        if self.var is not None:
            table["HR_lower"], table["HR_upper"] = ratios["HR_lower"], ratios["HR_upper"]
            table[POST_SELECTION_P] = ratios["p"]
        table["train_mean"], table["train_sd"] = self.means.to_numpy(), self.sds.to_numpy()
        return table.rename_axis("feature")

    def nomogram_design(self) -> NomogramDesign:
        """The score on its raw features: coefficient / SD per feature, ``const`` = 0.0 (the design's linear
        predictor is :meth:`linear_predictor`, which :attr:`baseline` turns into survival)."""
        return NomogramDesign(continuous=self.terms, levels={},
                              coefficients=pd.concat([pd.Series({"const": 0.0}), self.coef / self.sds]))

    def to_dict(self) -> dict:
        """Plain JSON data (no pickle): as :meth:`CoxModel.to_dict`, with the method and the standardisation."""
        return {**self._saved(), "method": self.method, "features": list(self.terms), "means": self.means.to_dict(),
                "sds": self.sds.to_dict()}

    @classmethod
    def from_dict(cls, values: Mapping) -> CoxScoreModel:
        """From :meth:`to_dict`, re-validated: a Cox score method, one finite coefficient, centring, training mean
        and SD (> 0) per feature, a variance matrix exactly for a refit, the baseline as :meth:`CoxModel.from_dict`.

        Raises
        ------
        RadNomoError
            For a saved score that is malformed, edited or not finite.
        """
        return _loaded(cls._from_dict, values, "Cox score")

    @classmethod
    def _from_dict(cls, values: Mapping) -> CoxScoreModel:
        if not isinstance(values, Mapping):
            raise RadNomoError(f"a saved score is not a JSON object; {_WHAT_NOW}.")
        name, method = str(values.get("name"))[:40], values.get("method")
        check_option(f"the saved {name} score's method", method, [COX_REFIT.name, COX_LASSO.name])
        what = f"{name} score"
        features = saved_names(values["features"], f"{what}'s features")
        return cls(**cls._read(values, features, what, with_var=method == COX_REFIT.name), method=str(method),
                   means=saved_numbers(values["means"], f"{what}'s training means", features),
                   sds=saved_numbers(values["sds"], f"{what}'s training SDs", features, positive=True))


@dataclass(frozen=True)
class CoxScoreLearner:
    """A signature score of a time-to-event outcome over a LASSO-Cox's selected features (``selection``, with
    ``coef_``: its non-zero coefficients on the raw feature scale at the chosen lambda): ``cox_refit`` (a Cox
    model refitted on the standardised features) or ``cox_lasso`` (the LASSO-Cox's own coefficients)."""

    name: str
    label: str
    roles: tuple[str, ...] = (SCORE_ROLE,)
    outcome_kinds: tuple[str, ...] = (SURVIVAL,)

    def description(self) -> str:
        if self.name == "cox_refit":
            return "the linear predictor of a Cox model refitted on the selected features"
        return "with the LASSO-Cox's own coefficients"

    def fit(self, data: pd.DataFrame, outcome: Outcome | str, predictors: Predictors, *, name: str,
            options: FitOptions | None = None, selection: Any = None) -> CoxScoreModel:
        """The ``name`` score of the raw features ``predictors.continuous`` (the LASSO-Cox's selection, in its
        order) over the training rows ``data``.

        Raises
        ------
        RadNomoError
            Another outcome kind, no selection or predictors other than its features, no feature kept, a missing
            or constant training value, no event, a horizon beyond the follow-up, a refit that cannot be fitted.
        """
        time, event, _outcome = _survival_data(self, outcome, data, name)
        if selection is None:
            raise RadNomoError(f"the {self.name} score method needs the LASSO-Cox that selected its features.")
        coef_ = selection.coef_
        if predictors.categorical or list(predictors.continuous) != list(coef_.index):
            raise RadNomoError(f"the {name} score's predictors must be its LASSO-Cox's selected features.")
        features = list(coef_.index)
        if not features:
            raise RadNomoError(f"the LASSO-Cox kept no feature for the {name} score; try lambda.min or relax the "
                               "screening thresholds.")
        X = data[features].apply(pd.to_numeric, errors="coerce")
        if X.isna().to_numpy().any():
            raise RadNomoError(f"the {name} score needs complete training rows (missing values are imputed before "
                               "the models).")
        means, sds = X.mean(), X.std(ddof=0)
        constant = list(sds.index[sds <= 0])
        if constant:
            raise RadNomoError(f"feature(s) {listed(constant[:3])} are constant in the training rows.")
        z = (X - means) / sds
        if self.name == "cox_refit":
            fit = fit_cox(z, time, event, ties=TIES)
            return CoxScoreModel(**_fitted_parts(fit, name, float(time.max()), _outcome.horizons), method=self.name,
                                 means=means, sds=sds)
        coefs = (coef_.astype(float) * sds).rename(None)   # per standardised feature, as build_score's "lasso"
        lp = z.to_numpy(dtype=float) @ coefs.to_numpy()
        event_times, hazard = fixed_coefficient_hazard(lp, time, event)
        centre = pd.Series(0.0, index=features)
        return CoxScoreModel(name=name, terms=tuple(features), coef=coefs, var=None, centre=centre,
                             event_times=event_times, hazard=hazard, hazard_var=None, hazard_xbar=None,
                             last_follow_up=float(time.max()), horizons=_outcome.horizons, n=int(time.size),
                             n_events=int(event.sum()), converged=True, convergence="", method=self.name,
                             means=means, sds=sds)

    def from_dict(self, values: Mapping) -> CoxScoreModel:
        if values.get("method") != self.name:
            raise RadNomoError(f"the saved {str(values.get('name'))[:40]} score's method "
                               f"{str(values.get('method'))[:40]!r} is not '{self.name}'.")
        return CoxScoreModel.from_dict(values)


COX = CoxLearner()
COX_REFIT = CoxScoreLearner("cox_refit", SCORE_METHODS["cox_refit"])
COX_LASSO = CoxScoreLearner("cox_lasso", SCORE_METHODS["cox_lasso"])
