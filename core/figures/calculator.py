"""A nomogram's calculator as plain numbers, for the browser to evaluate itself.

The dashboard's calculator (``core/figures/web/nomogram_calculator.js``, mounted by ``ui.nomogram_calculator``)
recomputes a patient's points, total points and prediction (a logistic model's risk with its 95 % confidence
interval; a Cox model's survival at each horizon with survfit.coxph's interval, and the median time) and the
patient's marks on the nomogram in the browser, at every keystroke, with no round trip to the server. It gets the
fitted model once, as the JSON made here; the server stays the reference (``Nomogram.points``, the model's
``predict_interval``, ``survival_calculation``), and the browser tests compare the two to 1e-9.

Why by hand: no library evaluates an rms-style nomogram in a browser; the formulas are the models' own (see
:func:`_logistic_outcome`, :func:`_cox_outcome`).

JSON carries every float as Python's ``repr`` (the shortest text that reads back as the same double), so the
browser starts from the very numbers the server holds; NaN and infinities are refused here, since
``JSON.parse`` cannot read them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy import stats

from core.errors import RadNomoError
from core.figures.nomogram import (OUTCOME_KINDS, PALETTE, PLOTLY_FONT, PREDICTOR_KINDS, NomogramLayout,
                                   _tick_segments)
from core.stats.modeling import LEVEL_SEPARATOR, Nomogram
from core.stats.survival.nomogram import CoxNomogram

__all__ = ["CALCULATOR_ASSETS", "calculator_drawing", "calculator_model"]

# The component's markup, style and ES module (``export default function (component)``): plain files next to
# this module, so they are read (and linted) as what they are.
_WEB = Path(__file__).resolve().parent / "web"
CALCULATOR_ASSETS = {part: _WEB / f"nomogram_calculator.{part}" for part in ("html", "css", "js")}


def _finite(values, what: str) -> list[float]:
    numbers = [float(v) for v in np.ravel(np.asarray(values, dtype=float))]
    if not all(math.isfinite(v) for v in numbers):
        raise RadNomoError(f"the calculator cannot be sent to the browser: {what} holds a missing or infinite "
                           "value. Refit the model.")
    return numbers


def _logistic_outcome(nomogram: Nomogram, level: float, horizons: Sequence[float]) -> dict:
    """A logistic model's risk and its Wald interval: ``terms`` (``const`` first, then its design columns in the
    fit's order), ``params``, ``cov`` (None where the model was saved without one), ``z``.

    The browser computes, as ``LogitFit.predict_interval``: eta = params . x with x = [1, design row];
    se = sqrt(x' cov x); risk, low, high = expit(eta), expit(eta -+ z se).
    """
    fit = getattr(nomogram.model, "fit", nomogram.model)  # a LogisticModel holds its LogitFit; a LogitFit is its own
    terms = ["const", *fit.predictors]
    cov = None
    if getattr(fit, "cov_params", None) is not None:
        matrix = fit.cov_params.loc[terms, terms].to_numpy(dtype=float)
        cov = np.asarray(_finite(matrix, "the coefficients' covariance")).reshape(matrix.shape).tolist()
    return {"kind": "risk", "terms": terms, "params": _finite([fit.params[t] for t in terms], "the coefficients"),
            "cov": cov, "z": float(stats.norm.ppf(0.5 + level / 2))}


def _cox_outcome(nomogram: CoxNomogram, level: float, horizons: Sequence[float]) -> dict:
    """A Cox model's survival at each horizon, its 95 % interval and the median survival time.

    Survival is read off the total points as :meth:`CoxNomogram.survival` does: S(h) = exp(-H0(h) exp(lp +
    center)) with lp = ``lp_at_zero`` + total / points_per_unit_lp and H0 the uncentred baseline
    (``baseline_at``); the median is the first ``baseline_times`` where that survival is <= 0.5
    (:meth:`CoxNomogram.median_survival`). The interval is the model's (``predict_survival``, survfit.coxph's):
    with v = design row - ``centre``, r = exp(v . coef), per horizon H = ``cumhaz``, d = H v - ``xbar``,
    se = sqrt((``cumvar`` + d' var d) r^2), bounds exp(log S -+ z se) with S = exp(-r H), the upper capped at 1;
    none where ``var`` is None.
    """
    model = nomogram.model
    if model is None or not hasattr(model, "event_times"):
        raise RadNomoError("this nomogram was built without its Cox model, so it cannot give confidence intervals; "
                           "draw it from the study's fitted models.")
    times = np.asarray(horizons, dtype=float)
    at = np.searchsorted(model.event_times, times, side="right")
    cumhaz = np.concatenate([[0.0], np.cumsum(model.hazard)])[at]
    with_interval = model.var is not None and model.hazard_var is not None and model.hazard_xbar is not None
    steps = []
    for j, horizon in enumerate(times):
        step = {"horizon": float(horizon), "cumhaz": float(cumhaz[j]),
                "baseline_at": float(nomogram.baseline.at(float(horizon)))}
        if with_interval:
            step["cumvar"] = float(np.concatenate([[0.0], np.cumsum(model.hazard_var)])[at[j]])
            step["xbar"] = _finite(np.vstack([np.zeros((1, len(model.terms))),
                                              np.cumsum(model.hazard_xbar, axis=0)])[at[j]], "the baseline")
        steps.append(step)
    var = None
    if with_interval:
        terms = list(model.terms)
        var = np.asarray(_finite(model.var.loc[terms, terms], "the coefficients' covariance")) \
            .reshape(len(terms), len(terms)).tolist()
    return {"kind": "survival", "terms": list(model.terms), "coef": _finite(model.coef, "the coefficients"),
            "centre": _finite(model.centre, "the centring"), "var": var, "z": float(stats.norm.ppf(0.5 + level / 2)),
            "center": float(nomogram.center), "lp_at_zero": float(nomogram.linear_predictor_at(0.0)),
            "horizons": steps, "baseline_times": _finite(nomogram.baseline.times, "the baseline"),
            "baseline_cumhaz": _finite(nomogram.baseline.cumhaz, "the baseline")}


# What the browser reads off each kind of nomogram (its outcome's numbers), by the nomogram's type.
_OUTCOMES: dict[type, Callable[..., dict]] = {Nomogram: _logistic_outcome, CoxNomogram: _cox_outcome}


def calculator_model(nomogram: Nomogram | CoxNomogram, labels: Mapping[str, str], training_ranks: Sequence[float], *,
                     level: float = 0.95, help_texts: Mapping[str, str] | None = None,
                     horizons: Sequence[float] = (), words: Mapping[str, object] | None = None) -> dict:
    """What the browser needs to reproduce the server's calculator for a nomogram.

    Parameters
    ----------
    nomogram : Nomogram or CoxNomogram
        A logistic nomogram drawn from a model with a Wald interval (a LogisticModel, or a LogitFit on its
        predictor columns), or a Cox nomogram with its fitted Cox model.
    labels : mapping
        Variable -> its label in clinical words (the inputs' labels).
    training_ranks : sequence of float
        What the patient is ranked among ("training patients with a lower risk"): the training patients'
        predicted risks (logistic) or total points (Cox: a lower hazard).
    level : float, default 0.95
        Confidence level of the intervals.
    help_texts : mapping, optional
        Variable -> a help line shown under its input (e.g. how a score is computed).
    horizons : sequence of float
        A Cox nomogram's times (study unit) at which survival is read.
    words : mapping, optional
        How the results are named, sent as they are: a Cox nomogram's ``horizon_labels`` (one per horizon, e.g.
        "12 months"), ``time_unit`` and ``event`` (e.g. "death").

    Returns
    -------
    dict
        JSON-ready: ``variables`` (each with ``name``, ``label``, ``kind`` "continuous" or "categorical",
        ``coefficient`` per unit or ``coefficients`` per level (reference 0), ``column(s)``: the design term each
        sets, ``min_contribution``, ``range``: the axis's ticks' extent, ``levels``), ``points_per_unit_lp``,
        ``training_ranks`` (sorted), ``level`` and ``outcome``: the kind's numbers (``kind`` "risk" or "survival";
        see :func:`_logistic_outcome`, :func:`_cox_outcome`).

        Points, as :meth:`Nomogram.points`: (contribution - min_contribution) x points_per_unit_lp, summed to the
        total points.
    """
    scale = getattr(nomogram, "scale", nomogram)  # a Cox nomogram's points scale is a Nomogram
    variables = []
    for name in nomogram.variables:
        entry: dict = {"name": name, "label": labels.get(name, name), "help": (help_texts or {}).get(name, ""),
                       "min_contribution": _finite([scale.min_contribution[name]], name)[0]}
        if name in scale.levels:
            levels = [str(level_) for level_ in scale.levels[name]]
            columns = {lv: f"{name}{LEVEL_SEPARATOR}{lv}" for lv in levels}
            entry.update(kind="categorical", levels=levels,
                         coefficients={lv: float(scale.coefficients.get(columns[lv], 0.0)) for lv in levels},
                         columns={lv: c for lv, c in columns.items() if c in scale.coefficients.index})
        else:
            ticks = _finite(scale.ticks[name], f"the axis of {name}")
            entry.update(kind="continuous", coefficient=_finite([scale.coefficients[name]], name)[0], column=name,
                         range=[min(ticks), max(ticks)])
        variables.append(entry)
    return {"variables": variables, "points_per_unit_lp": float(scale.points_per_unit_lp),
            "training_ranks": sorted(_finite(training_ranks, "the training patients' predictions")),
            "level": level, "outcome": _OUTCOMES[type(nomogram)](nomogram, level, horizons),
            "words": dict(words or {})}


def calculator_drawing(layout: NomogramLayout) -> dict:
    """A nomogram's drawing in px (logistic or Cox), for the browser to draw as SVG and to mark the patient on.

    Parameters
    ----------
    layout : NomogramLayout
        Laid out with a patient (so the patient's column and summary have their room); the browser redraws
        the patient's marks, column and summary for the values entered.

    Returns
    -------
    dict
        JSON-ready: figure size, font, colours; per axis its key, kind, line (0-100 scale), ``to_x`` (how the
        patient's points map onto the 0-100 scale: 1 for predictors, 100 / total_max for the total points and the
        outcome axes), title lines, tick segments, labels (text, centre, rotation) and leaders, ``horizon_index``
        (a survival axis's horizon, in the calculator's order); the patient's column (right edge) and the
        summary's top.
    """
    if layout.patient is None:
        raise RadNomoError("the calculator's nomogram is laid out with a patient (its column needs room).")
    source = layout.source
    em = layout.font_size
    axes = []
    survival_axes = 0  # a Cox nomogram's survival axes, one per horizon in the calculator's order
    for axis in layout.axes:
        major, minor = _tick_segments(layout, axis)
        labels = []
        for tick in axis.labels:
            left, top, right, bottom = tick.box  # type: ignore[misc]
            labels.append({"text": tick.text, "x": (left + right) / 2, "y": (top + bottom) / 2,
                           "rotation": tick.rotation, "ground": axis.kind in OUTCOME_KINDS})
        axes.append({"key": axis.key, "kind": axis.kind, "y": axis.y_px, "line": list(axis.line),
                     "to_x": 1.0 if axis.kind in PREDICTOR_KINDS or axis.kind == "points"
                     else 100.0 / layout.total_max,
                     "title_lines": list(axis.title_lines), "title_right": axis.title_box[2],
                     "title_top": axis.title_box[1], "ticks": [list(s) for s in major],
                     "minor": [list(s) for s in minor], "labels": labels,
                     "leaders": [list(t.leader) for t in axis.labels if t.leader is not None],
                     "grid": [t.x_px for t in axis.ticks] if axis.kind == "points" else [],
                     "horizon_index": survival_axes if axis.kind == "survival" else None})
        survival_axes += axis.kind == "survival"
    predictors = [a for a in layout.axes if a.kind in PREDICTOR_KINDS]
    summary_top = layout.patient.summary_box[1]
    margin = 0.5 * em
    return {"width": layout.width_px, "height": layout.height_px, "font_size": em, "row": layout.row_px,
            "font": PLOTLY_FONT, "palette": dict(PALETTE), "scale": list(layout.scale_px),
            "total_max": layout.total_max, "axes": axes, "margin": margin,
            "grid_bottom": predictors[-1].y_px if predictors else None,
            "column_right": layout.width_px - margin, "summary_top": summary_top,
            "risk_format": source.risk_format}
