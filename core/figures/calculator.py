"""A logistic nomogram's calculator as plain numbers, for the browser to evaluate itself.

The dashboard's calculator (``core/figures/web/nomogram_calculator.js``, mounted by ``ui.nomogram_calculator``)
recomputes a patient's points, total points, predicted risk with its 95 % confidence interval and the patient's
marks on the nomogram in the browser, at every keystroke, with no round trip to the server. It gets the fitted
model once, as the JSON made here; the server stays the reference (``Nomogram.points`` and the model's
``predict_interval``), and the browser tests compare the two to 1e-9.

Why by hand: no library evaluates an rms-style nomogram in a browser; the formula is the model's own, a linear
predictor and a Wald interval (see :func:`calculator_model`).

JSON carries every float as Python's ``repr`` (the shortest text that reads back as the same double), so the
browser starts from the very numbers the server holds; NaN and infinities are refused here, since
``JSON.parse`` cannot read them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy import stats

from core.errors import RadNomoError
from core.figures.nomogram import (OUTCOME_KINDS, PALETTE, PLOTLY_FONT, PREDICTOR_KINDS, NomogramLayout,
                                   _tick_segments)
from core.stats.modeling import LEVEL_SEPARATOR, Nomogram

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


def _interval_terms(model) -> tuple[list[str], list[float], list[list[float]] | None]:
    """The model's Wald-interval ingredients: its terms (``const`` first, then its design columns in the fit's
    order), their coefficients and their covariance (None where the model was saved without one).

    A LogisticModel holds its LogitFit as ``fit``; a LogitFit drawn on its own predictor columns is its own fit.
    """
    fit = getattr(model, "fit", model)
    terms = ["const", *fit.predictors]
    params = _finite([fit.params[t] for t in terms], "the coefficients")
    cov = None
    if getattr(fit, "cov_params", None) is not None:
        matrix = fit.cov_params.loc[terms, terms].to_numpy(dtype=float)
        cov = np.asarray(_finite(matrix, "the coefficients' covariance")).reshape(matrix.shape).tolist()
    return terms, params, cov


def calculator_model(nomogram: Nomogram, labels: Mapping[str, str], training_risks: Sequence[float], *,
                     level: float = 0.95, help_texts: Mapping[str, str] | None = None) -> dict:
    """What the browser needs to reproduce the server's calculator for a logistic nomogram.

    Parameters
    ----------
    nomogram : Nomogram
        Drawn from a model with a Wald interval (a LogisticModel, or a LogitFit on its predictor columns).
    labels : mapping
        Variable -> its label in clinical words (the inputs' labels).
    training_risks : sequence of float
        The model's predicted risk of every training patient (the "training patients with a lower risk" rank).
    level : float, default 0.95
        Confidence level of the risk's interval.
    help_texts : mapping, optional
        Variable -> a help line shown under its input (e.g. how a score is computed).

    Returns
    -------
    dict
        JSON-ready: ``variables`` (each with ``name``, ``label``, ``kind`` "continuous" or "categorical",
        ``coefficient`` per unit or ``coefficients`` per level (reference 0), ``column(s)``: the design term each
        sets, ``min_contribution``, ``range``: the axis's ticks' extent, ``levels``), ``points_per_unit_lp``,
        ``terms``/``params``/``cov`` of the Wald interval (``cov`` None where unknown), ``z``,
        ``training_risks`` (sorted), ``level``.

        The browser computes, as :meth:`Nomogram.points` and ``LogitFit.predict_interval``:
        points = (contribution - min_contribution) x points_per_unit_lp; eta = params . x with x = [1, design
        row]; se = sqrt(x' cov x); risk, low, high = expit(eta), expit(eta -+ z se).
    """
    terms, params, cov = _interval_terms(nomogram.model)
    index = set(terms)
    variables = []
    for name in nomogram.variables:
        entry: dict = {"name": name, "label": labels.get(name, name), "help": (help_texts or {}).get(name, ""),
                       "min_contribution": _finite([nomogram.min_contribution[name]], name)[0]}
        if name in nomogram.levels:
            levels = [str(level_) for level_ in nomogram.levels[name]]
            columns = {lv: f"{name}{LEVEL_SEPARATOR}{lv}" for lv in levels}
            entry.update(kind="categorical", levels=levels,
                         coefficients={lv: float(nomogram.coefficients.get(columns[lv], 0.0)) for lv in levels},
                         columns={lv: c for lv, c in columns.items() if c in index})
        else:
            ticks = _finite(nomogram.ticks[name], f"the axis of {name}")
            entry.update(kind="continuous", coefficient=_finite([nomogram.coefficients[name]], name)[0],
                         column=name if name in index else None, range=[min(ticks), max(ticks)])
        variables.append(entry)
    return {"variables": variables, "points_per_unit_lp": float(nomogram.points_per_unit_lp),
            "terms": terms, "params": params, "cov": cov, "z": float(stats.norm.ppf(0.5 + level / 2)),
            "level": level, "training_risks": sorted(_finite(training_risks, "the training risks"))}


def calculator_drawing(layout: NomogramLayout) -> dict:
    """A logistic nomogram's drawing in px, for the browser to draw as SVG and to mark the patient on.

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
        risk), title lines, tick segments, labels (text, centre, rotation) and leaders; the patient's column
        (right edge and each row's axis) and the summary's top.
    """
    if layout.patient is None:
        raise RadNomoError("the calculator's nomogram is laid out with a patient (its column needs room).")
    source = layout.source
    em = layout.font_size
    axes = []
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
                     "grid": [t.x_px for t in axis.ticks] if axis.kind == "points" else []})
    predictors = [a for a in layout.axes if a.kind in PREDICTOR_KINDS]
    summary_top = layout.patient.summary_box[1]
    margin = 0.5 * em
    return {"width": layout.width_px, "height": layout.height_px, "font_size": em, "row": layout.row_px,
            "font": PLOTLY_FONT, "palette": dict(PALETTE), "scale": list(layout.scale_px),
            "total_max": layout.total_max, "axes": axes, "margin": margin,
            "grid_bottom": predictors[-1].y_px if predictors else None,
            "column_right": layout.width_px - margin, "summary_top": summary_top,
            "risk_format": source.risk_format}
