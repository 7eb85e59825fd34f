"""Cox proportional-hazards models as R's survival gives them: fit, prediction, screening and the PH test.

* :func:`fit_cox` = ``coxph(Surv(time, event) ~ ., ties = "efron")``: coefficients, model-based standard
  errors, hazard ratios with 95 % CIs, Wald p, the likelihood-ratio, Wald and score global tests, and the
  monotone-likelihood ("coefficient may be infinite") warning with coxph's own rule.
* :meth:`CoxFit.predict_survival` = ``summary(survfit(fit, newdata = ...), times = ...)`` (Efron-adjusted
  baseline hazard, ``stype = 2``, standard error with the variance of the coefficients, ``conf.type = "log"``).
* :func:`univariable_cox` = ``coxph`` on each feature alone, vectorised over features (screening).
* :func:`cox_zph` = survival >= 3.0's ``cox.zph(fit)`` (``transform = "km"``): a score test of adding
  ``x * g(t)`` terms, ported from survival's R/cox.zph.R and src/zph1.c, not the older Grambsch-Therneau
  approximation of survival < 3 and of lifelines' ``proportional_hazard_test``.

Why by hand rather than lifelines' ``CoxPHFitter``: lifelines stops its Newton iterations on its own
criterion, has no survfit-style standard error of a predicted survival, no monotone-likelihood check of
coxph's kind and no vectorised screening; the Efron likelihood is a few array operations. Everything is
checked against R in tests/core/test_survival_km_cox.py (tests/reference/survival_cox.R).

Inputs inside core are trusted: ``time`` float > 0 (any unit; predictions are asked in the same unit),
``event`` int 0/1, predictors numeric (categorical ones already as 0/1 indicators) without missing values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from core.errors import RadNomoError, listed
from core.stats.modeling import convergence_warning
from core.stats.survival.kaplan_meier import kaplan_meier
from core.vocabulary import COX_TIES, check_option

__all__ = ["CoxFit", "fit_cox", "univariable_cox", "cox_zph", "ph_warning"]

#: coxph.control's defaults used by its infinite-coefficient check (eps, toler.inf = sqrt(eps)).
_COXPH_EPS = 1e-9
_TOLER_INF = float(np.sqrt(_COXPH_EPS))
#: Our own stopping rule: relative change of the log partial likelihood. Tighter than coxph's 1e-9 so that
#: coefficients are the maximum-likelihood ones to ~1e-10 (coxph's default stops up to ~1e-7 away from them).
_EPS = 1e-12
_ITER_MAX = 30
#: A likelihood "got worse" (step halving) only beyond rounding noise: at the maximum, sums over thousands of
#: patients move the last digits, which must not trigger endless halving.
_NOISE = 1e-11


# --------------------------------------------------------------------------------------------------------------
# The Efron partial likelihood on arrays
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Layout:
    """Where the risk sets and tied events are in the data sorted by time (built once per data set).

    ``order`` sorts the patients by time; in that order, ``group_start[k]`` is the first patient still at risk
    at the k-th distinct event time, ``tie_first[k]`` the first of its events among ``event_pos`` (positions
    of the events, sorted). Each event row r has ``row_group[r]`` (its event time) and ``row_fraction[r]``
    = l / d (Efron: l = 0..d-1 among the d tied events; 0 for Breslow).
    """

    order: np.ndarray
    event_pos: np.ndarray
    group_start: np.ndarray
    tie_first: np.ndarray
    tie_size: np.ndarray
    row_group: np.ndarray
    row_fraction: np.ndarray
    event_times: np.ndarray


def _layout(time: np.ndarray, event: np.ndarray, ties: str) -> _Layout:
    order = np.argsort(time, kind="stable")
    sorted_time, sorted_event = time[order], event[order]
    event_pos = np.flatnonzero(sorted_event == 1)
    if event_pos.size == 0:
        raise RadNomoError("A Cox model needs at least one event; no patient in these data had the event. "
                           "Check the event column (1 = event, 0 = censored) or use more patients.")
    event_time = sorted_time[event_pos]
    new_group = np.concatenate([[True], event_time[1:] != event_time[:-1]])
    tie_first = np.flatnonzero(new_group)
    tie_size = np.diff(np.concatenate([tie_first, [event_pos.size]]))
    row_group = np.cumsum(new_group) - 1
    within = np.arange(event_pos.size) - tie_first[row_group]
    fraction = within / tie_size[row_group] if ties == "efron" else np.zeros(event_pos.size)
    group_start = np.searchsorted(sorted_time, event_time[tie_first], side="left")
    return _Layout(order=order, event_pos=event_pos, group_start=group_start, tie_first=tie_first,
                   tie_size=tie_size, row_group=row_group, row_fraction=fraction, event_times=event_time[tie_first])


def _reverse_cumsum(values: np.ndarray) -> np.ndarray:
    return np.cumsum(values[::-1], axis=0)[::-1]


def _efron_rows(layout: _Layout, xs: np.ndarray, eta: np.ndarray, *, second: bool = True
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, float]:
    """Efron's denominators per event row: den0 (rows,), den1 (rows, p), den2 (rows, p, p) and the shift c.

    ``xs`` (n, p) and ``eta`` (n,) are in time order. Risks are exp(eta - c) with c = max(eta) so nothing
    overflows; every ratio below is free of c and the log-likelihood adds it back.
    """
    shift = float(eta.max())
    w = np.exp(eta - shift)
    wx = w[:, None] * xs
    s0 = _reverse_cumsum(w)[layout.group_start]
    s1 = _reverse_cumsum(wx)[layout.group_start]
    ev = layout.event_pos
    t0 = np.add.reduceat(w[ev], layout.tie_first)
    t1 = np.add.reduceat(wx[ev], layout.tie_first, axis=0)
    g, a = layout.row_group, layout.row_fraction
    den0 = s0[g] - a * t0[g]
    den1 = s1[g] - a[:, None] * t1[g]
    den2 = None
    if second:
        wxx = wx[:, :, None] * xs[:, None, :]
        s2 = _reverse_cumsum(wxx)[layout.group_start]
        t2 = np.add.reduceat(wxx[ev], layout.tie_first, axis=0)
        den2 = s2[g] - a[:, None, None] * t2[g]
    return den0, den1, den2, shift


def _derivatives(layout: _Layout, xs: np.ndarray, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Log partial likelihood, score vector and information matrix at ``beta`` (xs in time order)."""
    eta = xs @ beta
    den0, den1, den2, shift = _efron_rows(layout, xs, eta)
    assert den2 is not None
    ev = layout.event_pos
    loglik = float(eta[ev].sum() - np.log(den0).sum() - shift * ev.size)
    mean = den1 / den0[:, None]
    score = xs[ev].sum(axis=0) - mean.sum(axis=0)
    information = (den2 / den0[:, None, None]).sum(axis=0) - np.einsum("ri,rj->ij", mean, mean)
    return loglik, score, information


# --------------------------------------------------------------------------------------------------------------
# The fit
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True, eq=False)
class CoxFit:
    """A fitted Cox model (maximum partial likelihood), as ``coxph``.

    Attributes
    ----------
    terms : tuple of str
        Predictor names, in the order of every vector below.
    coef, se, z, p : pandas.Series
        Log hazard ratio per unit of each predictor, its model-based standard error (``sqrt(diag(vcov))``),
        Wald z and two-sided Wald p.
    hr, hr_lower, hr_upper : pandas.Series
        exp(coef) and its 95 % Wald interval exp(coef +- 1.96 se).
    var : pandas.DataFrame
        Variance matrix of ``coef`` (inverse information), as ``vcov(fit)``.
    loglik_null, loglik : float
        Log partial likelihood at coef = 0 and at the fit.
    lr, wald, score : float
        Global likelihood-ratio, Wald and score (log-rank) test statistics on ``len(terms)`` df;
        ``lr_p``, ``wald_p``, ``score_p`` their p-values.
    n, n_events : int
    ties : str
        "efron" (coxph's default) or "breslow".
    converged : bool
        False when the iterations ran out or the likelihood is monotone (a coefficient running off to
        infinity, as with a predictor that separates events from non-events over time).
    convergence : str
        "" when converged, else the sentence to show the user (it names the predictors concerned).
    iterations : int
    means : pandas.Series
        The centring of the predictors, as coxph's ``fit$means``: the training mean, except 0 for a predictor
        whose values are all in {-1, 0, 1} (coxph's ``nocenter``). R's default ``survfit(fit)`` curve,
        ``basehaz(fit, centered = TRUE)`` and ``predict(type = "lp")`` are at / relative to these values.
    """

    terms: tuple[str, ...]
    coef: pd.Series
    se: pd.Series
    z: pd.Series
    p: pd.Series
    hr: pd.Series
    hr_lower: pd.Series
    hr_upper: pd.Series
    var: pd.DataFrame
    loglik_null: float
    loglik: float
    lr: float
    lr_p: float
    wald: float
    wald_p: float
    score: float
    score_p: float
    n: int
    n_events: int
    ties: str
    converged: bool
    convergence: str
    iterations: int
    means: pd.Series
    # training data kept for the baseline hazard and cox.zph (sorted by time)
    _x: np.ndarray
    _time: np.ndarray
    _event: np.ndarray

    def coef_table(self) -> pd.DataFrame:
        """One row per term: ``term``, ``coef``, ``se``, ``HR``, ``HR_lower``, ``HR_upper``, ``z``, ``p``."""
        return pd.DataFrame({"term": list(self.terms), "coef": self.coef.to_numpy(), "se": self.se.to_numpy(),
                             "HR": self.hr.to_numpy(), "HR_lower": self.hr_lower.to_numpy(),
                             "HR_upper": self.hr_upper.to_numpy(), "z": self.z.to_numpy(), "p": self.p.to_numpy()})

    def _matrix(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            missing = [t for t in self.terms if t not in X.columns]
            if missing:
                raise RadNomoError(f"The Cox model needs the column(s) {listed(missing)}, which these data lack.")
            values = X[list(self.terms)].to_numpy(dtype=float)
        else:
            values = np.asarray(X, dtype=float)
            if values.ndim == 1:
                values = values[None, :]
            if values.shape[1] != len(self.terms):
                raise RadNomoError(f"The Cox model has {len(self.terms)} predictor(s); these data have "
                                   f"{values.shape[1]} column(s).")
        if np.isnan(values).any():
            raise RadNomoError("Some predictor values are missing: a Cox prediction needs every predictor of "
                               "every patient (impute them or leave those patients out).")
        return values

    def linear_predictor(self, X: pd.DataFrame | np.ndarray, *, centered: bool = False) -> np.ndarray:
        """x'beta for each row of ``X`` (columns = ``terms``).

        ``centered=False`` (default): x'beta itself, so that S(t | x) = exp(-H0(t) exp(x'beta)) with
        ``H0 = baseline_cumulative_hazard(t, centered=False)``. ``centered=True``: (x - means)'beta, R's
        ``predict(fit, type = "lp")``.
        """
        values = self._matrix(X)
        if centered:
            values = values - self.means.to_numpy()
        return np.asarray(values @ self.coef.to_numpy())

    def _hazard_steps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per distinct event time: time, hazard increment, variance increment and the xbar increment.

        As survival's agsurv (survtype / vartype 3 for Efron, 2 for Breslow), with risks centred at the
        training means (exp((x - means)'beta)), so the curve is the one at the means.
        """
        layout = _layout(self._time, self._event, self.ties)
        xs = self._x[layout.order] - self.means.to_numpy()
        eta = xs @ self.coef.to_numpy()
        den0, den1, _, shift = _efron_rows(layout, xs, eta, second=False)
        scale = np.exp(-shift)   # the rows were computed with exp(eta - shift)
        groups = layout.tie_first
        hazard = np.add.reduceat(scale / den0, groups)
        var_step = np.add.reduceat(scale ** 2 / den0 ** 2, groups)
        xbar_step = np.add.reduceat(scale * den1 / den0[:, None] ** 2, groups, axis=0)
        return layout.event_times, hazard, var_step, xbar_step

    def baseline_cumulative_hazard(self, times: Sequence[float] | np.ndarray, *, centered: bool = True
                                   ) -> np.ndarray:
        """The baseline cumulative hazard H0(t) (Efron-adjusted for an Efron fit, as survfit.coxph).

        Parameters
        ----------
        times : array-like of float
            In the training time unit (right-continuous step function, 0 before the first event).
        centered : bool
            True (R's ``basehaz(fit, centered = TRUE)`` and ``survfit(fit)``): the hazard of a patient at
            ``means`` (training means; 0 for indicators, as coxph). False: of a patient with every predictor 0, so that
            H(t | x) = H0(t) exp(x'beta) with the uncentred :meth:`linear_predictor`.
        """
        event_times, hazard, _, _ = self._hazard_steps()
        cumulative = np.concatenate([[0.0], np.cumsum(hazard)])
        values = cumulative[np.searchsorted(event_times, np.asarray(times, dtype=float), side="right")]
        if not centered:
            values = values * np.exp(-float(self.means.to_numpy() @ self.coef.to_numpy()))
        return np.asarray(values)

    def survival_for_linear_predictor(self, lp: Sequence[float] | np.ndarray,
                                      times: Sequence[float] | np.ndarray) -> np.ndarray:
        """S(t | lp) = exp(-H0(t) exp(lp)) for uncentred linear predictors ``lp`` (rows) at ``times`` (columns)."""
        self._check_horizons(times)
        h0 = self.baseline_cumulative_hazard(times, centered=False)
        return np.asarray(np.exp(-np.outer(np.exp(np.asarray(lp, dtype=float)), h0)))

    def _check_horizons(self, times: Sequence[float] | np.ndarray) -> np.ndarray:
        horizons = np.asarray(times, dtype=float)
        last = float(self._time.max())
        if horizons.size == 0 or np.isnan(horizons).any() or (horizons < 0).any():
            raise RadNomoError("Give at least one horizon, each a time >= 0 in the follow-up's unit.")
        if (horizons > last).any():
            raise RadNomoError(f"Horizon(s) {listed(horizons[horizons > last].tolist())} lie beyond the last "
                               f"follow-up of the training patients ({last:g}): the model cannot predict survival "
                               "there. Choose horizons within the follow-up.")
        return horizons

    def predict_survival(self, X: pd.DataFrame | np.ndarray, horizons: Sequence[float] | np.ndarray,
                         level: float = 0.95) -> pd.DataFrame:
        """Predicted survival of each patient at each horizon with its CI, as survfit.coxph.

        Equal to ``summary(survfit(fit, newdata = X), times = horizons)``: S = exp(-H0(t) exp((x - means)'beta)),
        the standard error of H(t | x) includes the variance of beta (survfit's ``se.fit``), the interval
        is on the log scale (``conf.type = "log"``, upper limit capped at 1).

        Parameters
        ----------
        X : pandas.DataFrame or numpy.ndarray
            One row per patient, columns = ``terms`` (a DataFrame's index labels the rows of the result).
        horizons : array-like of float
            Times in the training unit (e.g. 12, 36, 60 months), none beyond the last training follow-up.
        level : float
            Confidence level.

        Returns
        -------
        pandas.DataFrame
            Long format, one row per patient and horizon (patients outer, horizons in the given order):
            ``patient`` (the index label, or the row number), ``horizon``, ``survival``, ``std_err``
            (of the survival, as summary.survfit), ``lower``, ``upper``.

        Raises
        ------
        RadNomoError
            A horizon beyond the last training follow-up (no extrapolation), missing predictor values.
        """
        horizons = self._check_horizons(horizons)
        values = self._matrix(X) - self.means.to_numpy()
        labels = list(X.index) if isinstance(X, pd.DataFrame) else list(range(values.shape[0]))
        event_times, hazard, var_step, xbar_step = self._hazard_steps()
        at = np.searchsorted(event_times, horizons, side="right")
        cumhaz = np.concatenate([[0.0], np.cumsum(hazard)])[at]
        cumvar = np.concatenate([[0.0], np.cumsum(var_step)])[at]
        xbar = np.vstack([np.zeros((1, len(self.terms))), np.cumsum(xbar_step, axis=0)])[at]
        risk = np.exp(values @ self.coef.to_numpy())                       # (patients,)
        surv = np.exp(-np.outer(risk, cumhaz))                             # (patients, horizons)
        dt = cumhaz[None, :, None] * values[:, None, :] - xbar[None, :, :]  # (patients, horizons, p)
        quad = np.einsum("aht,ts,ahs->ah", dt, self.var.to_numpy(), dt)
        se_cumhaz = np.sqrt((cumvar[None, :] + quad) * risk[:, None] ** 2)
        z = stats.norm.ppf(1 - (1 - level) / 2)
        # log(0) where survival is 0 (NaN bounds, as survfit's NA); exp overflows where the SE is huge (bound 1)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            positive = np.where(surv > 0, surv, np.nan)
            lower = np.exp(np.log(positive) - z * se_cumhaz)
            upper = np.minimum(np.exp(np.log(positive) + z * se_cumhaz), 1.0)
        n_patients, n_horizons = surv.shape
        return pd.DataFrame({"patient": np.repeat(np.asarray(labels, dtype=object), n_horizons),
                             "horizon": np.tile(horizons, n_patients), "survival": surv.ravel(),
                             "std_err": (se_cumhaz * surv).ravel(), "lower": lower.ravel(), "upper": upper.ravel()})


def _as_matrix(X: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    if isinstance(X, pd.DataFrame):
        return X.to_numpy(dtype=float), tuple(str(c) for c in X.columns)
    values = np.asarray(X, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    return values, tuple(f"x{j + 1}" for j in range(values.shape[1]))


def _check_design(values: np.ndarray, terms: tuple[str, ...], time: np.ndarray, event: np.ndarray) -> None:
    if values.shape[0] != time.size or event.size != time.size:
        raise RadNomoError(f"The predictors have {values.shape[0]} rows but the outcome has {time.size}: they "
                           "must describe the same patients.")
    if np.isnan(values).any():
        bad = [t for t, col in zip(terms, values.T, strict=True) if np.isnan(col).any()]
        raise RadNomoError(f"Missing values in {listed(bad)}: a Cox model needs complete predictors (impute them "
                           "on the training patients or leave those patients out).")
    constant = [t for t, col in zip(terms, values.T, strict=True) if np.ptp(col) == 0]
    if constant:
        raise RadNomoError(f"{listed(constant)} take(s) one value for every patient: a constant predictor has no "
                           "hazard ratio; leave it out of the model.")
    centred = values - values.mean(axis=0)
    scaled = centred / np.linalg.norm(centred, axis=0)
    if np.linalg.matrix_rank(scaled, tol=1e-10) < values.shape[1]:
        raise RadNomoError(f"The predictors {listed(terms)} are collinear (one is a combination of the others): "
                           "their hazard ratios cannot be separated; leave one of them out.")


def _newton(layout: _Layout, xs: np.ndarray, iter_max: int = _ITER_MAX
            ) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, int, bool]:
    """coxph's Newton-Raphson with step halving: beta, loglik, score, information, iterations, converged."""
    beta = np.zeros(xs.shape[1])
    loglik, score, information = _derivatives(layout, xs, beta)
    for iteration in range(1, iter_max + 1):
        try:
            step = np.linalg.solve(information, score)
        except np.linalg.LinAlgError:
            return beta, loglik, score, information, iteration, False
        candidate = beta + step
        new_loglik, new_score, new_information = _derivatives(layout, xs, candidate)
        halvings = 0
        # step halving, as coxfit6, when the likelihood got worse (or overflowed)
        while (not np.isfinite(new_loglik) or new_loglik < loglik - _NOISE * abs(loglik)) and halvings < 30:
            candidate = (candidate + beta) / 2
            new_loglik, new_score, new_information = _derivatives(layout, xs, candidate)
            halvings += 1
        done = abs(1 - loglik / new_loglik) <= _EPS if new_loglik != 0 else abs(new_loglik - loglik) <= _EPS
        beta, loglik, score, information = candidate, new_loglik, new_score, new_information
        if done and halvings == 0:
            return beta, loglik, score, information, iteration, True
    return beta, loglik, score, information, iter_max, False


def fit_cox(X: pd.DataFrame | np.ndarray, time: np.ndarray, event: np.ndarray, *, ties: str = "efron") -> CoxFit:
    """Fit a Cox proportional-hazards model by maximum partial likelihood, as ``coxph``.

    Parameters
    ----------
    X : pandas.DataFrame or numpy.ndarray
        Predictors (n, p), numeric, complete; columns name the terms (``x1``... for an array).
    time : numpy.ndarray of float
        Follow-up times (> 0, any unit).
    event : numpy.ndarray of int
        1 = event, 0 = censored.
    ties : {"efron", "breslow"}
        Handling of tied event times (coxph's ``ties``).

    Returns
    -------
    CoxFit
        Equal to ``coxph(..., ties = "efron")`` to ~1e-8 relative (checked against R on two data sets with ties).
        A monotone likelihood (coxph's "Loglik converged before variable ...; coefficient may be infinite")
        or iterations that ran out give ``converged=False`` with a sentence naming the terms.

    Raises
    ------
    RadNomoError
        No event, rows that do not match, missing values, a constant or collinear predictor, unknown ``ties``.
    """
    check_option("Tie handling", ties, COX_TIES)
    values, terms = _as_matrix(X)
    time, event = np.asarray(time, dtype=float), np.asarray(event).astype(int)
    _check_design(values, terms, time, event)
    layout = _layout(time, event, ties)
    # coxph's centring (nocenter = c(-1, 0, 1)): a column with values only in {-1, 0, 1} (an indicator) is not
    # centred, so R's fit$means, predict(type = "lp") and survfit(fit)'s default curve have 0 there
    indicator = np.isin(values, (-1.0, 0.0, 1.0)).all(axis=0)
    means = np.where(indicator, 0.0, values.mean(axis=0))
    xs = values[layout.order] - means
    loglik_null, score_null, information_null = _derivatives(layout, xs, np.zeros(len(terms)))
    beta, loglik, score, information, iterations, converged = _newton(layout, xs)
    p = len(terms)
    try:
        var = np.linalg.inv(information)
    except np.linalg.LinAlgError:
        var = np.full((p, p), np.nan)
    problems = []
    if not converged:
        problems.append(convergence_warning("Cox model", f"{iterations} iterations"))
    # coxph's check for an infinite coefficient: the one-step Newton change u'V is still large
    change = np.abs(score @ var)
    infinite = ~np.isfinite(score) | ((change > _COXPH_EPS) & (change > _TOLER_INF * np.abs(beta)))
    if converged and infinite.any():
        named = [terms[j] for j in np.flatnonzero(infinite)]
        problems.append(f"The Cox model's likelihood kept rising as the coefficient(s) of {listed(named)} grew: "
                        "the hazard ratio is infinite (monotone likelihood: the predictor separates who has the "
                        "event first). Its estimate, standard error and p are meaningless; leave it out, "
                        "dichotomise it differently or use a penalised (LASSO) Cox model.")
        converged = False
    se = np.sqrt(np.diag(var))
    z = beta / se
    q = stats.norm.ppf(0.975)
    # an infinite coefficient (reported above) makes exp() overflow to inf, which is the honest value
    with np.errstate(over="ignore"):
        hr, hr_lower, hr_upper = np.exp(beta), np.exp(beta - q * se), np.exp(beta + q * se)
    index = pd.Index(terms)
    lr = 2 * (loglik - loglik_null)
    try:
        wald = float(beta @ np.linalg.solve(var, beta))
    except np.linalg.LinAlgError:
        wald = float("nan")
    score_test = float(score_null @ np.linalg.solve(information_null, score_null))
    order = layout.order
    return CoxFit(terms=terms, coef=pd.Series(beta, index=index), se=pd.Series(se, index=index),
                  z=pd.Series(z, index=index), p=pd.Series(2 * stats.norm.sf(np.abs(z)), index=index),
                  hr=pd.Series(hr, index=index), hr_lower=pd.Series(hr_lower, index=index),
                  hr_upper=pd.Series(hr_upper, index=index),
                  var=pd.DataFrame(var, index=index, columns=index), loglik_null=loglik_null, loglik=loglik,
                  lr=float(lr), lr_p=float(stats.chi2.sf(lr, p)), wald=wald, wald_p=float(stats.chi2.sf(wald, p)),
                  score=score_test, score_p=float(stats.chi2.sf(score_test, p)), n=int(time.size),
                  n_events=int(event.sum()), ties=ties, converged=converged, convergence=" ".join(problems),
                  iterations=iterations, means=pd.Series(means, index=index), _x=values[order], _time=time[order],
                  _event=event[order])


# --------------------------------------------------------------------------------------------------------------
# Univariable screening, vectorised over features
# --------------------------------------------------------------------------------------------------------------
def _univariable_rows(layout: _Layout, xs: np.ndarray, beta: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-likelihood, score and information of F one-predictor models at once (xs (n, F), beta (F,))."""
    eta = xs * beta                                  # (n, F)
    shift = eta.max(axis=0)
    w = np.exp(eta - shift)
    wx = w * xs
    wxx = wx * xs
    start, ev, first = layout.group_start, layout.event_pos, layout.tie_first
    g, a = layout.row_group, layout.row_fraction[:, None]
    den0 = _reverse_cumsum(w)[start][g] - a * np.add.reduceat(w[ev], first, axis=0)[g]
    den1 = _reverse_cumsum(wx)[start][g] - a * np.add.reduceat(wx[ev], first, axis=0)[g]
    den2 = _reverse_cumsum(wxx)[start][g] - a * np.add.reduceat(wxx[ev], first, axis=0)[g]
    mean = den1 / den0
    loglik = eta[ev].sum(axis=0) - np.log(den0).sum(axis=0) - shift * ev.size
    score = xs[ev].sum(axis=0) - mean.sum(axis=0)
    information = (den2 / den0 - mean ** 2).sum(axis=0)
    return loglik, score, information


def univariable_cox(X: pd.DataFrame, time: np.ndarray, event: np.ndarray, *, ties: str = "efron") -> pd.DataFrame:
    """One Cox model per feature (each feature alone), all features in one vectorised Newton loop.

    Equal to ``coxph(Surv(time, event) ~ feature, ties = "efron")`` fitted one feature at a time (checked
    against R), in about a second for 1,000 patients x 1,000 features.

    Parameters
    ----------
    X : pandas.DataFrame
        Features (n, F), numeric and complete, columns = feature names.
    time, event : numpy.ndarray
        As :func:`fit_cox`.
    ties : {"efron", "breslow"}

    Returns
    -------
    pandas.DataFrame
        One row per feature in the input order: ``feature``, ``coef`` (log hazard ratio per unit), ``se``,
        ``HR``, ``HR_lower``, ``HR_upper`` (95 % Wald), ``p_wald``, ``lr_chisq`` (likelihood-ratio
        chi-square 2 (loglik - loglik0), 1 df), ``p_lr`` (its p-value), ``converged`` and ``note`` (why a
        feature has no estimate: constant, monotone likelihood, iterations ran out; "" otherwise). A constant
        feature gets NaN estimates and p = 1 is NOT assumed: its p values and ``lr_chisq`` are NaN, so a
        screening step must decide (and report) what to do with it.

    Raises
    ------
    RadNomoError
        No event, missing values, rows that do not match, unknown ``ties``.
    """
    check_option("Tie handling", ties, COX_TIES)
    names = [str(c) for c in X.columns]
    values = X.to_numpy(dtype=float)
    time, event = np.asarray(time, dtype=float), np.asarray(event).astype(int)
    if values.shape[0] != time.size or event.size != time.size:
        raise RadNomoError(f"The features have {values.shape[0]} rows but the outcome has {time.size}: they "
                           "must describe the same patients.")
    if np.isnan(values).any():
        bad = [n for n, col in zip(names, values.T, strict=True) if np.isnan(col).any()]
        raise RadNomoError(f"Missing values in {listed(bad)}: impute them on the training patients before "
                           "univariable Cox screening.")
    layout = _layout(time, event, ties)
    # centre and scale each feature (the likelihood is invariant; Newton is better conditioned); back-transform
    centre = values.mean(axis=0)
    scale = values.std(axis=0)
    constant = scale == 0
    scale = np.where(constant, 1.0, scale)
    xs = ((values - centre) / scale)[layout.order]
    n_features = xs.shape[1]
    beta = np.zeros(n_features)
    loglik0, score, information = _univariable_rows(layout, xs, beta)
    loglik = loglik0.copy()
    active = ~constant
    converged = np.zeros(n_features, dtype=bool)
    iterations = 0
    while active.any() and iterations < _ITER_MAX:
        iterations += 1
        cols = np.flatnonzero(active)
        step = score[cols] / information[cols]
        old_beta, old_loglik = beta[cols], loglik[cols]
        candidate = old_beta + step
        new_loglik, new_score, new_information = _univariable_rows(layout, xs[:, cols], candidate)
        halved = np.zeros(cols.size, dtype=bool)
        for _ in range(30):   # step halving where the likelihood got worse, as coxph
            worse = ~np.isfinite(new_loglik) | (new_loglik < old_loglik - _NOISE * np.abs(old_loglik))
            if not worse.any():
                break
            halved |= worse
            candidate = np.where(worse, (candidate + old_beta) / 2, candidate)
            sub = np.flatnonzero(worse)
            ll, sc, inf = _univariable_rows(layout, xs[:, cols[sub]], candidate[sub])
            new_loglik[sub], new_score[sub], new_information[sub] = ll, sc, inf
        beta[cols], loglik[cols], score[cols], information[cols] = candidate, new_loglik, new_score, new_information
        done = (np.abs(1 - old_loglik / new_loglik) <= _EPS) & ~halved
        converged[cols[done]] = True
        active[cols[done]] = False
    with np.errstate(divide="ignore", invalid="ignore"):
        var = 1 / information
        change = np.abs(score * var)
        infinite = converged & (~np.isfinite(score) | ((change > _COXPH_EPS) & (change > _TOLER_INF * np.abs(beta))))
        coef = np.where(constant, np.nan, beta / scale)
        se = np.where(constant, np.nan, np.sqrt(var) / scale)
        z = coef / se
        lr = np.where(constant, np.nan, np.maximum(2 * (loglik - loglik0), 0.0))
    q = stats.norm.ppf(0.975)
    with np.errstate(over="ignore"):   # an infinite coefficient (noted) gives an infinite HR
        hr, hr_lower, hr_upper = np.exp(coef), np.exp(coef - q * se), np.exp(coef + q * se)
    note = np.full(n_features, "", dtype=object)
    note[~converged & ~constant] = convergence_warning("univariable Cox model", f"{_ITER_MAX} iterations")
    note[infinite] = "monotone likelihood: the hazard ratio is infinite (the feature orders who has the event)"
    note[constant] = "constant feature: no hazard ratio"
    return pd.DataFrame({"feature": names, "coef": coef, "se": se, "HR": hr, "HR_lower": hr_lower, "HR_upper": hr_upper,
                         "p_wald": 2 * stats.norm.sf(np.abs(z)), "lr_chisq": lr, "p_lr": stats.chi2.sf(lr, 1),
                         "converged": converged & ~infinite & ~constant, "note": note})


# --------------------------------------------------------------------------------------------------------------
# Proportional hazards: cox.zph (survival >= 3.0)
# --------------------------------------------------------------------------------------------------------------
def cox_zph(fit: CoxFit, X: pd.DataFrame | np.ndarray | None = None, time: np.ndarray | None = None,
            event: np.ndarray | None = None) -> pd.DataFrame:
    """Test of proportional hazards per term and globally, as survival >= 3.0's ``cox.zph(fit)``.

    The score test, at the fitted coefficients, of adding x_j * g(t) for each term (and for all terms at once,
    GLOBAL), with g(t) = 1 - KM(t-) (``transform = "km"``) centred at its mean over the event times; Efron or
    Breslow ties as the fit. Ported from survival's R/cox.zph.R and src/zph1.c (each term here is one column).

    Parameters
    ----------
    fit : CoxFit
        The fitted model (it keeps its training data).
    X, time, event : optional
        The data the model was fitted on (columns = ``fit.terms``); by default the ones the fit kept. Other
        patients would not give cox.zph's test (it is a score test at the fit's own likelihood).

    Returns
    -------
    pandas.DataFrame
        ``term``, ``chisq``, ``df``, ``p``: one row per term then a ``GLOBAL`` row (df = number of terms).
        A small p says the term's hazard ratio changes over follow-up (see :func:`ph_warning`).
    """
    if X is None or time is None or event is None:
        time, event, x = fit._time, fit._event, fit._x
    else:
        x, time, event = fit._matrix(X), np.asarray(time, dtype=float), np.asarray(event).astype(int)
        if x.shape[0] != time.size or event.size != time.size:
            raise RadNomoError(f"The predictors have {x.shape[0]} rows but the outcome has {time.size}: give "
                               "the data the Cox model was fitted on.")
    x = x - fit.means.to_numpy()
    layout = _layout(time, event, fit.ties)
    km = kaplan_meier(time, event)
    # 1 - S(t-): the KM just before each patient's time (findInterval(left.open = TRUE) in cox.zph)
    before = np.searchsorted(km.time, time, side="left")
    transformed = 1 - np.concatenate([[1.0], km.survival])[before]
    g_all = transformed - transformed[event == 1].mean()
    g = g_all[layout.order][layout.event_pos][layout.tie_first]   # one value per event time (time order)
    xs = x[layout.order]
    den0, den1, den2, _ = _efron_rows(layout, xs, xs @ fit.coef.to_numpy())
    assert den2 is not None
    mean = den1 / den0[:, None]
    row_info = den2 / den0[:, None, None] - mean[:, :, None] * mean[:, None, :]      # (rows, p, p)
    row_g = g[layout.row_group]
    p = len(fit.terms)
    u_time = (row_g[:, None] * (xs[layout.event_pos] - mean)).sum(axis=0)
    imat = np.zeros((2 * p, 2 * p))
    imat[:p, :p] = row_info.sum(axis=0)
    imat[:p, p:] = (row_g[:, None, None] * row_info).sum(axis=0)
    imat[p:, :p] = imat[:p, p:].T
    imat[p:, p:] = (row_g[:, None, None] ** 2 * row_info).sum(axis=0)
    rows = []
    for j, term in enumerate(fit.terms):
        keep = np.concatenate([np.arange(p), [p + j]])
        u = np.concatenate([np.zeros(p), [u_time[j]]])
        chisq = float(u @ np.linalg.solve(imat[np.ix_(keep, keep)], u))
        rows.append((term, chisq, 1, float(stats.chi2.sf(chisq, 1))))
    u = np.concatenate([np.zeros(p), u_time])
    chisq = float(u @ np.linalg.solve(imat, u))
    rows.append(("GLOBAL", chisq, p, float(stats.chi2.sf(chisq, p))))
    return pd.DataFrame(rows, columns=["term", "chisq", "df", "p"])


def ph_warning(zph: pd.DataFrame, alpha: float = 0.05) -> str:
    """A plain sentence naming the terms whose proportional-hazards test fails at ``alpha`` ("" if none).

    Parameters
    ----------
    zph : pandas.DataFrame
        The result of :func:`cox_zph`.
    alpha : float
        Significance level of the test.
    """
    terms = zph[zph["term"] != "GLOBAL"]
    failing = terms[terms["p"] < alpha]
    global_row = zph[zph["term"] == "GLOBAL"]
    global_fails = bool((global_row["p"] < alpha).any())
    if failing.empty and not global_fails:
        return ""
    if failing.empty:
        return (f"The global test of proportional hazards fails (p = {float(global_row['p'].iloc[0]):.3g} < "
                f"{alpha:g}) though no single term does: the hazard ratios may change over follow-up; look at "
                "the Schoenfeld residuals before trusting one hazard ratio per term.")
    named = [f"{t} (p = {p:.3g})" for t, p in zip(failing["term"], failing["p"], strict=True)]
    return (f"Proportional hazards may not hold for {listed(named)} (cox.zph p < {alpha:g}): the hazard ratio of "
            f"{'this term' if len(named) == 1 else 'these terms'} changes over follow-up, so one hazard ratio "
            "summarises it poorly; consider stratifying on it, a time interaction, or reporting the horizon-"
            "specific risks.")
