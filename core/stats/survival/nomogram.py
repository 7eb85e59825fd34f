"""Nomogram of a Cox model with survival axes, as R rms::nomogram draws it for a ``cph`` fit.

The points of each predictor, the total-points axis and the linear-predictor ticks are those of the
logistic nomogram (:class:`core.stats.modeling.Nomogram`, rms 6.5 ``nomogram()``), reused as they are: a
Cox model is drawn on the same scale, with rms's centring (its ``Intercept`` is ``-fit$center``, the
training patients' mean linear predictor). Below it, one axis per horizon places chosen survival
probabilities on the total-points scale, as ``nomogram(fit, fun = function(lp) Survival(fit)(t, lp),
fun.at = ...)`` does, and a median-survival-time axis as ``fun = function(lp) Quantile(fit)(lp = lp)``.

The model comes in as numbers, not as a fit object: a :class:`~core.stats.modeling.NomogramDesign`
(predictors, coding and log-hazard-ratio coefficients; no intercept) and the baseline cumulative hazard
``H0(t)`` at linear predictor 0 (R ``basehaz(fit, centered = FALSE)``) as step arrays, so that
``S(t | lp) = exp(-H0(t) * exp(lp))``. Times are in whatever unit the study's follow-up is in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.stats.modeling import Nomogram, NomogramDesign, design_matrix, r_pretty

__all__ = ["BaselineHazard", "CoxNomogram", "PatientSurvival", "SurvivalInterval", "patient_survival", "r_approx"]

# rms places a function's ticks by inverting it on this many equally spaced linear predictors over
# range(lp.at) (nomogram.s: xseq <- seq(min(lp.at), max(lp.at), length = 1000)); kept so the ticks sit
# where R draws them, to the digit.
RMS_FUNCTION_GRID = 1000
# rms's Survival() reads the step function at the last time <= t + 1e-6 (and NA past the last time + 1e-6).
RMS_TIME_SLACK = 1e-6


def r_approx(x: np.ndarray, y: np.ndarray, xout: np.ndarray) -> np.ndarray:
    """R's ``approx(x, y, xout, ties = mean)$y`` (linear, ``rule = 1``): NaN outside ``range(x)``.

    Written out because rms inverts a nomogram's functions with it: non-finite pairs dropped, ``x``
    sorted, the ``y`` of tied ``x`` averaged, then linear interpolation.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    xout = np.asarray(xout, dtype=float)
    if len(x) == 0:
        return np.full(xout.shape, np.nan)
    unique, inverse = np.unique(x, return_inverse=True)
    means = np.bincount(inverse, weights=y) / np.bincount(inverse)
    if len(unique) == 1:
        return np.where(xout == unique[0], means[0], np.nan)
    result = np.interp(xout, unique, means)
    return np.where((xout < unique[0]) | (xout > unique[-1]) | ~np.isfinite(xout), np.nan, result)


@dataclass(frozen=True)
class BaselineHazard:
    """Baseline cumulative hazard ``H0(t)`` of a Cox model, at linear predictor 0 (uncentred covariates).

    Attributes
    ----------
    times : numpy.ndarray
        Increasing follow-up times (> 0, the study's time unit) where the step function is known; the
        last one is the end of follow-up (R ``basehaz(fit, centered = FALSE)$time``: every distinct time).
    cumhaz : numpy.ndarray
        ``H0`` at each time (non-decreasing, >= 0); 0 before the first time.
    """

    times: np.ndarray
    cumhaz: np.ndarray

    def __post_init__(self) -> None:
        times, cumhaz = np.asarray(self.times, dtype=float), np.asarray(self.cumhaz, dtype=float)
        if times.ndim != 1 or times.shape != cumhaz.shape or len(times) == 0:
            raise RadNomoError("the baseline hazard needs as many cumulative hazards as times (at least one).")
        if not (np.all(np.isfinite(times)) and np.all(np.isfinite(cumhaz))) or np.any(np.diff(times) <= 0) \
                or np.any(np.diff(cumhaz) < 0) or cumhaz[0] < 0:
            raise RadNomoError("the baseline hazard's times must increase and its cumulative hazard must be finite, "
                               "non-negative and non-decreasing; refit the Cox model.")
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "cumhaz", cumhaz)

    @property
    def last_time(self) -> float:
        """End of the baseline's follow-up: survival is not estimated past it."""
        return float(self.times[-1])

    def at(self, horizon: float) -> float:
        """``H0(horizon)``, read as rms's ``Survival()`` reads its step function (last time <= t + 1e-6).

        Raises RadNomoError for a horizon past the last follow-up time (R gives NA there).
        """
        horizon = float(horizon)
        if not np.isfinite(horizon) or horizon < 0:
            raise RadNomoError(f"the horizon {horizon} must be a non-negative time.")
        if horizon > self.last_time + RMS_TIME_SLACK:
            raise RadNomoError(f"the horizon {horizon:g} is past the last follow-up time ({self.last_time:g}): "
                               "survival is not estimated there; choose a shorter horizon.")
        index = int(np.searchsorted(self.times, horizon + RMS_TIME_SLACK, side="right")) - 1
        return 0.0 if index < 0 else float(self.cumhaz[index])


class _CoxDesign:
    """A Cox model's design seen as a drawable model (what :class:`Nomogram` asks for), centred as rms.

    rms's ``cph`` centres the linear predictor at the training means (``fit$center``); its nomogram's
    ``Intercept`` is ``-fit$center`` and its ``lp.at`` ticks come from the centred linear predictors, so
    the design is handed over with ``const = -center``.
    """

    drawable = True
    name = "Cox"

    def __init__(self, design: NomogramDesign, center: float) -> None:
        coefficients = design.coefficients.drop("const", errors="ignore").astype(float)
        self._design = NomogramDesign(continuous=tuple(design.continuous), levels=dict(design.levels),
                                      coefficients=pd.concat([pd.Series({"const": -center}), coefficients]))

    def nomogram_design(self) -> NomogramDesign:
        return self._design


class CoxNomogram:
    """Points, total points, survival-at-horizon axes and median-survival axis of a Cox model, as rms.

    Parameters
    ----------
    design : NomogramDesign
        The Cox model's predictors (numeric ``continuous``; categorical ``levels``, first = reference)
        and its ``coefficients`` (log hazard ratio per unit / per level indicator). ``const`` must be
        absent or 0: a Cox model has no intercept.
    data : pandas.DataFrame
        The training rows the model was fitted on (raw columns). They set the axes' ticks (as rms's
        datadist), the centring (their mean design row, rms ``fit$means``) and ``lp_at``.
    baseline : BaselineHazard
        ``H0(t)`` at linear predictor 0 with uncentred covariates (R ``basehaz(coxph, centered = FALSE)``).
    max_points : float, default 100
        Points of the predictor with the widest effect (rms ``maxscale``).
    model : object, optional
        The fitted model drawn (e.g. a :class:`core.stats.learners.cox.CoxModel`), kept for what the
        nomogram itself cannot give: the confidence interval of a patient's survival (its
        ``predict_survival``). None when the nomogram is built from numbers alone.

    Attributes
    ----------
    scale : core.stats.modeling.Nomogram
        The points scale (shared with the logistic nomogram); its linear predictor is rms's centred one.
    center : float
        Mean training linear predictor (rms ``fit$center``), subtracted from every linear predictor.
    baseline : BaselineHazard
        As given.
    model : object or None
        As given.
    """

    # Survival ticks when the caller chooses none: as the logistic nomogram's risks (rms leaves fun.at to
    # the caller), the round probabilities clinicians read, without the crowded extremes.
    DEFAULT_SURVIVALS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)

    def __init__(self, design: NomogramDesign, data: pd.DataFrame, baseline: BaselineHazard,
                 max_points: float = 100.0, model: Any = None) -> None:
        const = float(design.coefficients.get("const", 0.0))
        if const != 0.0:
            raise RadNomoError(f"a Cox model has no intercept, but its design carries const = {const:g}; pass the "
                               "log hazard ratios only.")
        coefficients = design.coefficients.drop("const", errors="ignore").astype(float)
        columns = design_matrix(data, tuple(design.continuous), dict(design.levels))
        complete = columns.dropna()
        if len(complete) == 0:
            raise RadNomoError("no training row has a value for every predictor; the nomogram is scaled on the "
                               "training patients.")
        # rms: fit$center = sum(fit$means * coef), the means of the design columns over the fitted rows.
        self.center = float(complete.mean().to_numpy() @ coefficients[list(complete.columns)].to_numpy())
        self.scale = Nomogram(_CoxDesign(design, self.center), data, max_points=max_points)
        self.baseline = baseline
        self.coefficients = coefficients
        self.model = model

    # --- the points scale, as the logistic nomogram --------------------------------------------------
    @property
    def variables(self) -> list[str]:
        """Predictors, in the order of their axes."""
        return self.scale.variables

    @property
    def levels(self) -> dict[str, tuple[str, ...]]:
        """Categorical predictor -> its levels (first = reference), as the logistic nomogram's."""
        return self.scale.levels

    @property
    def points_per_unit_lp(self) -> float:
        """Points per unit of log hazard ratio (rms ``sc``)."""
        return self.scale.points_per_unit_lp

    @property
    def training_total_points(self) -> np.ndarray:
        """Total points of each complete training row."""
        return self.scale.training_total_points

    def points(self, predictor: str, value) -> float:
        """Points of one predictor at ``value`` (a number, or a level of a categorical predictor)."""
        return self.scale.points(predictor, value)

    def total_points(self, row: Mapping | pd.Series) -> float:
        """Sum of the points of every predictor for one patient (predictor -> value)."""
        return self.scale.total_points(row)

    def axis(self, predictor: str) -> pd.DataFrame:
        """A predictor's tick ``value`` and ``points`` (for drawing)."""
        return self.scale.axis(predictor)

    def total_points_axis(self) -> pd.DataFrame:
        """Total-points ticks (``points``) and the centred ``linear_predictor`` at each (rms)."""
        return self.scale.total_points_axis()

    def lp_axis(self) -> pd.DataFrame:
        """rms's linear-predictor ticks (centred ``linear_predictor``) and their ``points``."""
        return self.scale.lp_axis()

    def linear_predictor_at(self, total_points: float) -> float:
        """The centred linear predictor (log relative hazard vs the mean patient) of ``total_points``."""
        return self.scale.linear_predictor_at(total_points)

    # --- survival -------------------------------------------------------------------------------------
    def survival(self, horizon: float, linear_predictor) -> np.ndarray:
        """``S(horizon | lp)`` for centred linear predictors (rms ``Survival(fit)(horizon, lp)``).

        Equals ``exp(-H0(horizon) * exp(lp + center))``: rms's ``surv`` at the mean patient raised to
        ``exp(lp)``. Raises RadNomoError for a horizon past the last follow-up time.
        """
        cumhaz = self.baseline.at(horizon)
        return np.exp(-cumhaz * np.exp(np.asarray(linear_predictor, dtype=float) + self.center))

    def median_survival(self, linear_predictor) -> np.ndarray:
        """Median survival time for centred linear predictors (rms ``Quantile(fit)(0.5, lp)``, step type).

        The first baseline time at which the patient's survival is <= 0.5; NaN where it never falls to 0.5
        within follow-up (median not reached).
        """
        lp = np.atleast_1d(np.asarray(linear_predictor, dtype=float))
        surv = np.exp(-np.outer(np.exp(lp + self.center), self.baseline.cumhaz))
        reached = surv <= 0.5
        first = np.argmax(reached, axis=1)
        return np.where(reached.any(axis=1), self.baseline.times[first], np.nan)

    def what_if(self, row: Mapping | pd.Series, predictor: str, horizon: float, values=None) -> pd.DataFrame:
        """One patient with ``predictor`` moved over ``values`` (default: its levels, or 60 steps across its axis),
        everything else fixed, read at ``horizon`` (study time unit).

        Returns
        -------
        pandas.DataFrame
            ``value``, ``points``, ``total_points``, ``survival`` (S(horizon) at that total) and ``probability``
            (1 - survival: the risk of the event by the horizon, as the logistic nomogram's what-if gives a risk).
        """
        moved = self.scale.what_if(row, predictor, values)[["value", "points", "total_points"]]
        lp = np.array([self.linear_predictor_at(t) for t in moved["total_points"]])
        survival = self.survival(horizon, lp)
        return moved.assign(survival=survival, probability=1 - survival)

    def median_range(self) -> tuple[float, float] | None:
        """The total points over which the median survival time is reached within follow-up (on rms's grid of
        linear predictors spanning ``lp_at``): where the median axis is drawn. None where it is reached nowhere."""
        grid = self._function_grid()
        reached = np.isfinite(self.median_survival(grid))
        if not reached.any():
            return None
        points = (grid[reached] - self.linear_predictor_at(0.0)) * self.scale.points_per_unit_lp
        return float(points.min()), float(points.max())

    def _function_grid(self) -> np.ndarray:
        lp_at = self.scale.lp_at
        return np.linspace(float(lp_at.min()), float(lp_at.max()), RMS_FUNCTION_GRID)

    def _placed(self, values: np.ndarray, on_grid: np.ndarray, name: str) -> pd.DataFrame:
        """Ticks ``values`` of a function known on rms's grid, placed on the total-points scale as rms does."""
        grid = self._function_grid()
        positions = r_approx(on_grid, grid, values)
        shown = ~np.isnan(positions)
        points = (positions[shown] - self.linear_predictor_at(0.0)) * self.scale.points_per_unit_lp
        return pd.DataFrame({"total_points": points, name: values[shown]})

    def survival_axis(self, horizon: float, survivals: Sequence[float] | None = None) -> pd.DataFrame:
        """Where chosen survival probabilities at ``horizon`` fall on the total-points scale.

        As rms: the survival function is evaluated on 1000 linear predictors spanning ``lp_at`` and
        inverted by linear interpolation; probabilities outside the range it spans are left out.

        Parameters
        ----------
        horizon : float
            Time (study unit) at which survival is read; at most the last follow-up time.
        survivals : sequence of float, optional
            Probabilities strictly between 0 and 1 (rms ``fun.at``). Default :attr:`DEFAULT_SURVIVALS`;
            where fewer than three of them fall on the axis, rms's own default
            ``pretty(range(S over lp_at), 10)``.

        Returns
        -------
        pandas.DataFrame
            ``total_points`` and ``survival``, in the order of ``survivals`` (sorted).
        """
        on_grid = self.survival(horizon, self._function_grid())
        if survivals is None:
            shown = self.survival_axis(horizon, self.DEFAULT_SURVIVALS)
            if len(shown) >= 3:
                return shown
            ends = on_grid[[0, -1]]
            survivals = [p for p in r_pretty(float(ends.min()), float(ends.max()), 10) if 0 < p < 1]
        values = np.asarray(sorted(float(s) for s in survivals))
        if len(values) and ((values <= 0) | (values >= 1)).any():
            raise RadNomoError(f"survival ticks must lie strictly between 0 and 1; got {list(values)}.")
        return self._placed(values, on_grid, "survival")

    def median_axis(self, times: Sequence[float] | None = None) -> pd.DataFrame:
        """Where chosen median survival times fall on the total-points scale (rms ``Quantile(fit)``).

        Parameters
        ----------
        times : sequence of float, optional
            Times (study unit). Default rms's: ``pretty(range of the reached medians over lp_at, 10)``.

        Returns
        -------
        pandas.DataFrame
            ``total_points`` and ``median_time``; empty where the median is reached nowhere on the axis
            (fewer than half the patients could die within follow-up at every score).
        """
        on_grid = self.median_survival(self._function_grid())
        finite = on_grid[np.isfinite(on_grid)]
        if times is None:
            if len(finite) == 0:
                return pd.DataFrame(columns=["total_points", "median_time"])
            times = [t for t in r_pretty(float(finite.min()), float(finite.max()), 10) if t > 0]
        values = np.asarray(sorted(float(t) for t in times))
        if len(values) and (values <= 0).any():
            raise RadNomoError(f"median survival ticks must be positive times; got {list(values)}.")
        return self._placed(values, on_grid, "median_time")


# A hook for the Cox fit's confidence interval of one patient's survival: (row, horizons, level) ->
# (lower, upper), each an array over the horizons. The intervals need the fit's covariance, which the
# nomogram does not hold.
SurvivalInterval = Callable[[Mapping, Sequence[float], float], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class PatientSurvival:
    """One patient read off a :class:`CoxNomogram`.

    Attributes
    ----------
    points : pandas.Series
        Points per predictor (index: predictor).
    total_points : float
        Their sum.
    linear_predictor : float
        Centred linear predictor (log hazard ratio vs the mean training patient), as rms.
    survival : pandas.DataFrame
        ``horizon``, ``survival`` (probability) and ``lower`` / ``upper`` (NaN where no interval hook
        was given, see ``interval_note``).
    median_time : float
        Median survival time (study unit); NaN where not reached within follow-up.
    interval_note : str
        Empty, or why the interval columns are empty.
    """

    points: pd.Series
    total_points: float
    linear_predictor: float
    survival: pd.DataFrame
    median_time: float
    interval_note: str = field(default="")


def patient_survival(nomogram: CoxNomogram, row: Mapping | pd.Series, horizons: Sequence[float],
                     interval: SurvivalInterval | None = None, level: float = 0.95) -> PatientSurvival:
    """The calculator: one patient's points, total points and survival at each horizon.

    Survival is read exactly (not on rms's drawing grid): ``S(t) = exp(-H0(t) exp(lp + center))`` with
    ``lp`` the linear predictor of the patient's total points.

    Parameters
    ----------
    nomogram : CoxNomogram
    row : mapping
        Predictor -> value (a level for a categorical predictor); every predictor needed.
    horizons : sequence of float
        Times (study unit), each at most the last follow-up time.
    interval : callable, optional
        The Cox fit's interval for this patient: ``interval(row, horizons, level) -> (lower, upper)``.
    level : float, default 0.95
        Confidence level handed to ``interval``.

    Returns
    -------
    PatientSurvival
    """
    missing = [v for v in nomogram.variables if v not in row or pd.isna(row[v])]
    if missing:
        raise RadNomoError(f"values are needed for {missing}.")
    points = pd.Series({v: nomogram.points(v, row[v]) for v in nomogram.variables}, name="points", dtype=float)
    total = float(points.sum())
    lp = nomogram.linear_predictor_at(total)
    horizons = [float(h) for h in horizons]
    survival = np.array([float(nomogram.survival(h, lp)) for h in horizons])
    note = ""
    if interval is None:
        lower = upper = np.full(len(horizons), np.nan)
        note = "no confidence interval: the Cox fit's covariance was not given to the calculator."
    else:
        lower, upper = (np.asarray(a, dtype=float) for a in interval(dict(row), horizons, level))
    table = pd.DataFrame({"horizon": horizons, "survival": survival, "lower": lower, "upper": upper})
    return PatientSurvival(points=points, total_points=total, linear_predictor=lp, survival=table,
                           median_time=float(nomogram.median_survival(lp)[0]), interval_note=note)
