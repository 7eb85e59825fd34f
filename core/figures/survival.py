"""Plotly figures of time-to-event results: Kaplan-Meier curves with their number-at-risk table,
time-dependent ROC curves and AUC(t), calibration and decision curves at a horizon, and one patient's
predicted survival curve.

They draw results computed elsewhere (core.stats.survival); no statistics live here. Every time is in the
study's unit (``time_unit``, e.g. "months"), every horizon in that unit too. Curves are named and
coloured like the binary figures of :mod:`core.figures.charts` (colours from :mod:`core.figures.palette`,
fixed per model and per cohort), and share their layout (legend under the axes, same heights).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.errors import RadNomoError
from core.figures.charts import CURVE_HEIGHT, LEGEND_BELOW, roc_figure
from core.figures.palette import OKABE_ITO, cohort_colours, model_colours
from core.stats.modeling import r_pretty
from core.stats.survival.kaplan_meier import KaplanMeier
from core.vocabulary import format_p

__all__ = ["at_risk_times_for", "at_risk_table", "log_rank_text", "kaplan_meier_figure", "td_roc_figure",
           "td_auc_figure", "survival_calibration_figure",
           "patient_survival_figure"]

_MARGIN = {"t": 50, "l": 60, "r": 20}


def _translucent(colour: str, alpha: float = 0.15) -> str:
    """A '#RRGGBB' colour as 'rgba(r, g, b, alpha)', for confidence bands."""
    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def _check_curves(curves: Mapping, what: str) -> None:
    if not curves:
        raise RadNomoError(f"there is no {what} to draw: give at least one.")


def at_risk_times_for(curves: Mapping[str, KaplanMeier]) -> np.ndarray:
    """Round times from 0 to the last follow-up of any curve (R's ``pretty``, as survminer's breaks).

    Returns
    -------
    numpy.ndarray of float
        Increasing times (unit of the curves), the last one at or before the longest follow-up.
    """
    last = max(float(curve.time[-1]) for curve in curves.values())
    ticks = r_pretty(0.0, last)
    return ticks[(ticks >= 0) & (ticks <= last)]


def at_risk_table(curves: Mapping[str, KaplanMeier], times: Sequence[float] | np.ndarray) -> pd.DataFrame:
    """The number at risk of each curve at each time, as survminer's risk table.

    Parameters
    ----------
    curves : mapping
        Group name -> its :class:`~core.stats.survival.kaplan_meier.KaplanMeier`.
    times : sequence of float
        Times (unit of the curves).

    Returns
    -------
    pandas.DataFrame
        One row per group (in the given order), one column per time: the patients still followed at that
        time (their time >= it; 0 beyond the group's last follow-up), read from ``KaplanMeier.summary``.
    """
    times = np.asarray(times, dtype=float)
    if times.size == 0 or np.any(times < 0) or not np.all(np.isfinite(times)):
        raise RadNomoError("the number-at-risk times must be zero or positive times in the unit of the follow-up.")
    return pd.DataFrame([curve.summary(times)["n_risk"].to_numpy() for curve in curves.values()],
                        index=list(curves), columns=times)


def log_rank_text(p: float) -> str:
    """'log-rank p = 0.012' (or 'p < 0.001'), as every p-value of the product is printed."""
    shown = format_p(p)
    return f"log-rank p {shown}" if shown.startswith("<") else f"log-rank p = {shown}"


def _step(time: np.ndarray, values: np.ndarray, start: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A survival step function from time 0 (value ``start`` until the first time)."""
    return np.concatenate([[0.0], time]), np.concatenate([[start], values])


def kaplan_meier_figure(curves: Mapping[str, KaplanMeier], *, title: str, time_unit: str,
                        log_rank_p: float | None = None, at_risk_times: Sequence[float] | None = None,
                        show_ci: bool = True, colours: Mapping[str, str] | None = None,
                        y_title: str = "survival probability") -> go.Figure:
    """Kaplan-Meier curves by group, with confidence bands, censoring ticks and a number-at-risk table.

    Parameters
    ----------
    curves : mapping
        Group name (shown as is, e.g. "Low risk") -> its KaplanMeier (core.stats.survival.kaplan_meier).
    title : str
    time_unit : str
        Unit of the curves' times, for the x axis ("months").
    log_rank_p : float, optional
        p-value of the log-rank test of the groups, written in the plot's lower left (as survminer).
    at_risk_times : sequence of float, optional
        Times of the number-at-risk table (and the x ticks); round times up to the last follow-up by default.
    show_ci : bool
        Draw the pointwise confidence band of each curve (the curve's ``lower`` / ``upper``).
    colours : mapping, optional
        Group -> colour; by default the cohort colours in the given order (palette.cohort_colours).
    y_title : str
        The y axis' title.

    Returns
    -------
    plotly.graph_objects.Figure
        Two rows sharing the time axis: the curves (survival 0..1 against time) and the number at risk
        (one text row per group, coloured as its curve). Traces carry ``meta`` = {"group", "role"} with role
        "curve", "band_low", "band_high", "censored" or "at_risk".
    """
    from plotly.subplots import make_subplots

    _check_curves(curves, "Kaplan-Meier curve")
    colours = dict(colours) if colours is not None else cohort_colours(list(curves))
    times = at_risk_times_for(curves) if at_risk_times is None else np.asarray(at_risk_times, dtype=float)
    table = at_risk_table(curves, times)
    # The axis reaches the last follow-up, or the last time of the table if that is later.
    last = max(max(float(curve.time[-1]) for curve in curves.values()), float(times.max()))
    rows = len(curves)
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.8, 0.2], vertical_spacing=0.1,
                           subplot_titles=("", "Number at risk"))
    for group, curve in curves.items():
        colour = colours[group]
        meta = {"group": group}
        if show_ci:
            # The band stops where the curve reaches 0 (its log-scale interval is undefined there, NaN).
            finite = np.isfinite(curve.lower) & np.isfinite(curve.upper)
            for role, values, fill in (("band_low", curve.lower, None), ("band_high", curve.upper, "tonexty")):
                x, y = _step(curve.time[finite], values[finite])
                figure.add_trace(go.Scatter(x=x, y=y, mode="lines", line={"width": 0, "shape": "hv"},
                                            fill=fill, fillcolor=_translucent(colour), legendgroup=group,
                                            showlegend=False, hoverinfo="skip", meta={**meta, "role": role}),
                                 row=1, col=1)
        x, y = _step(curve.time, curve.survival)
        figure.add_trace(go.Scatter(x=x, y=y, mode="lines", name=group, legendgroup=group,
                                    line={"color": colour, "width": 2, "shape": "hv"}, meta={**meta, "role": "curve"},
                                    hovertemplate=f"{group}<br>%{{x:g}} {time_unit}: %{{y:.3f}}<extra></extra>"),
                         row=1, col=1)
        censored = curve.n_censor > 0
        figure.add_trace(go.Scatter(x=curve.time[censored], y=curve.survival[censored], mode="markers",
                                    marker={"symbol": "line-ns-open", "size": 9, "color": colour,
                                            "line": {"width": 1.5, "color": colour}},
                                    customdata=curve.n_censor[censored], legendgroup=group, showlegend=False,
                                    meta={**meta, "role": "censored"},
                                    hovertemplate=f"{group}<br>%{{customdata}} censored at %{{x:g}} {time_unit}"
                                                  "<extra></extra>"), row=1, col=1)
        counts = table.loc[group].to_numpy()
        figure.add_trace(go.Scatter(x=times, y=[group] * times.size, mode="text", text=[str(c) for c in counts],
                                    textfont={"color": colour, "size": 13}, showlegend=False, legendgroup=group,
                                    cliponaxis=False,  # the counts at time 0 sit on the axis' edge
                                    meta={**meta, "role": "at_risk"}, customdata=counts,
                                    hovertemplate=f"{group}: %{{customdata}} at risk at %{{x:g}} {time_unit}"
                                                  "<extra></extra>"), row=2, col=1)
    if log_rank_p is not None:
        figure.add_annotation(text=log_rank_text(log_rank_p), x=0.02, y=0.04, xref="x domain", yref="y domain",
                              xanchor="left", yanchor="bottom", showarrow=False, font={"size": 14})
    # A little room left of 0, so that the counts at time 0 clear the group names (as survminer's table).
    axis_range = [-0.04 * last, last * 1.03]
    figure.update_xaxes(range=axis_range, tickvals=times, ticktext=[f"{t:g}" for t in times], showticklabels=True,
                        row=1, col=1)
    figure.update_xaxes(range=axis_range, tickvals=times, ticktext=[f"{t:g}" for t in times],
                        title_text=f"time ({time_unit})", showgrid=False, row=2, col=1)
    figure.update_yaxes(range=[0, 1.02], title_text=y_title, row=1, col=1)
    # The first group on top of the table, as in the legend.
    figure.update_yaxes(categoryorder="array", categoryarray=list(curves)[::-1], showgrid=False, zeroline=False,
                        range=[-0.6, rows - 0.4], fixedrange=True, row=2, col=1)
    # The table's title on the left, as survminer's.
    figure.update_annotations(selector={"text": "Number at risk"}, x=0, xanchor="left", font={"size": 13})
    figure.update_layout(title=title, height=CURVE_HEIGHT + 30 * rows, margin={**_MARGIN, "t": 80},
                         legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "xanchor": "left"})
    return figure


def _labels_colours(names: Sequence[str], labels: Mapping[str, str] | None, colours: Mapping[str, str] | None
                    ) -> tuple[dict[str, str], dict[str, str]]:
    """Each curve's display name and colour: given, else its own name and the model colours."""
    return ({name: name for name in names} if labels is None else dict(labels),
            model_colours(list(names)) if colours is None else dict(colours))


def td_roc_figure(curves: Mapping[str, pd.DataFrame], aucs: Mapping[str, tuple[float, float, float]], *,
                  horizon: float, time_unit: str, labels: Mapping[str, str] | None = None,
                  colours: Mapping[str, str] | None = None, title: str | None = None) -> go.Figure:
    """Time-dependent (cumulative/dynamic) ROC curves at one horizon, AUC(t) with its CI in the legend.

    Parameters
    ----------
    curves : mapping
        Model (or cohort) -> ``fpr``, ``tpr`` (core.stats.survival.time_dependent.td_roc_curve).
    aucs : mapping
        Model -> (AUC, low, high) at the horizon (td_auc's ``auc``, ``auc_low``, ``auc_high``).
    horizon : float
        Cases: event by the horizon; controls: event-free after it (unit ``time_unit``).
    labels, colours : mapping, optional
        Display name and colour of each curve; by default its name and the model colours.
    title : str, optional
        By default "Time-dependent ROC at <horizon> <unit>".

    Returns
    -------
    plotly.graph_objects.Figure
        The binary ROC figure's look (:func:`core.figures.charts.roc_figure`).
    """
    _check_curves(curves, "ROC curve")
    labels, colours = _labels_colours(list(curves), labels, colours)
    return roc_figure(dict(curves), dict(aucs), labels=labels, colours=colours,
                      title=title or f"Time-dependent ROC at {horizon:g} {time_unit}")


def td_auc_figure(table: pd.DataFrame, time_unit: str, *, labels: Mapping[str, str] | None = None,
                  colours: Mapping[str, str] | None = None, title: str = "Time-dependent AUC") -> go.Figure:
    """AUC(t) of each model over the horizons, with its confidence interval as error bars.

    Parameters
    ----------
    table : pandas.DataFrame
        ``model``, ``horizon`` (unit ``time_unit``), ``auc``, ``auc_low``, ``auc_high``: one row per model
        and horizon (td_auc's rows with a model column).
    time_unit : str
    labels, colours : mapping, optional
        Display name and colour of each model; by default its name and the model colours.
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        One line with markers and error bars per model (in the table's order), the models spread a little
        sideways at each horizon so that their bars do not hide each other (the exact horizon is in the
        trace's ``customdata`` and the hover); a dotted line at AUC 0.5 (chance).
    """
    missing = {"model", "horizon", "auc", "auc_low", "auc_high"} - set(table.columns)
    if missing:
        raise RadNomoError(f"the AUC table lacks the column(s) {', '.join(sorted(missing))}.")
    if table.empty:
        raise RadNomoError("there is no AUC to draw: the table has no row.")
    models = list(dict.fromkeys(table["model"]))
    labels, colours = _labels_colours(models, labels, colours)
    horizons = np.sort(table["horizon"].unique().astype(float))
    span = float(np.min(np.diff(horizons))) if horizons.size > 1 else max(float(horizons[0]), 1.0)
    shift = 0.06 * span  # between neighbouring models: a few percent of the closest horizons' gap
    figure = go.Figure()
    figure.add_hline(y=0.5, line_dash="dot", line_color="grey")
    for index, model in enumerate(models):
        rows = table[table["model"] == model].sort_values("horizon")
        offset = (index - (len(models) - 1) / 2) * shift
        figure.add_trace(go.Scatter(x=rows["horizon"] + offset, y=rows["auc"], mode="lines+markers",
                                    name=labels[model], line={"color": colours[model]},
                                    marker={"color": colours[model], "size": 8}, customdata=rows["horizon"],
                                    error_y={"type": "data", "symmetric": False,
                                             "array": rows["auc_high"] - rows["auc"],
                                             "arrayminus": rows["auc"] - rows["auc_low"], "color": colours[model]},
                                    hovertemplate=f"{labels[model]}<br>%{{customdata:g}} {time_unit}: AUC "
                                                  "%{y:.3f}<extra></extra>"))
    bottom = min(0.4, float(table["auc_low"].min()) - 0.05)
    figure.update_layout(title=title, xaxis_title=f"horizon ({time_unit})", yaxis_title="AUC(t)",
                         xaxis={"tickvals": horizons, "ticktext": [f"{h:g}" for h in horizons]},
                         yaxis={"range": [max(0.0, bottom), 1.0]}, height=CURVE_HEIGHT - 80, legend=LEGEND_BELOW,
                         margin=_MARGIN)
    return figure


def survival_calibration_figure(groups: Mapping[str, pd.DataFrame], *, horizon: float, time_unit: str,
                                labels: Mapping[str, str] | None = None, colours: Mapping[str, str] | None = None,
                                title: str | None = None) -> go.Figure:
    """Predicted against observed survival at a horizon, by risk group, with the observed value's CI.

    Parameters
    ----------
    groups : mapping
        Model (or cohort) -> ``predicted`` (mean predicted survival of a risk group at the horizon),
        ``observed`` (its Kaplan-Meier survival there), ``low``, ``high`` (the observed value's CI); one row
        per risk group (core.stats.survival.calibration).
    horizon : float
        Unit ``time_unit``.
    labels, colours : mapping, optional
        Display name and colour of each model; by default its name and the model colours.
    title : str, optional
        By default "Calibration at <horizon> <unit>".

    Returns
    -------
    plotly.graph_objects.Figure
        Points with asymmetric error bars joined by a line per model, and the diagonal (ideal).
    """
    _check_curves(groups, "calibration curve")
    labels, colours = _labels_colours(list(groups), labels, colours)
    figure = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"},
                                  name="ideal"))
    for model, rows in groups.items():
        rows = rows.sort_values("predicted")
        colour = colours[model]
        figure.add_trace(go.Scatter(x=rows["predicted"], y=rows["observed"], mode="lines+markers",
                                    name=labels[model], line={"color": colour}, marker={"color": colour, "size": 8},
                                    error_y={"type": "data", "symmetric": False,
                                             "array": rows["high"] - rows["observed"],
                                             "arrayminus": rows["observed"] - rows["low"], "color": colour},
                                    hovertemplate="predicted %{x:.3f}<br>observed %{y:.3f}<extra></extra>"))
    at = f"{horizon:g} {time_unit}"
    figure.update_layout(title=title or f"Calibration at {at}", xaxis_title=f"predicted survival at {at}",
                         yaxis_title=f"observed survival at {at} (Kaplan-Meier)",
                         xaxis={"range": [0, 1], "constrain": "domain"},
                         yaxis={"range": [0, 1], "scaleanchor": "x", "constrain": "domain"},
                         height=CURVE_HEIGHT + 40, legend=LEGEND_BELOW, margin=_MARGIN)
    return figure


def _read_step(time: np.ndarray, values: np.ndarray, at: float) -> float:
    """The value of a right-continuous step curve at ``at`` (1 before its first time)."""
    index = int(np.searchsorted(time, at, side="right")) - 1
    return 1.0 if index < 0 else float(values[index])


def patient_survival_figure(patient: pd.DataFrame, cohort: pd.DataFrame, horizons: Sequence[float], time_unit: str,
                            *, title: str = "Predicted survival of this patient",
                            patient_label: str = "this patient",
                            cohort_label: str = "training cohort (Kaplan-Meier)") -> go.Figure:
    """One patient's predicted survival curve (with its CI) against the training cohort's Kaplan-Meier curve.

    Parameters
    ----------
    patient : pandas.DataFrame
        ``time`` (increasing, unit ``time_unit``), ``survival``, ``low``, ``high``: the model's predicted
        survival of the patient (a step function; 1 before its first time).
    cohort : pandas.DataFrame
        ``time``, ``survival``: the Kaplan-Meier curve of the training cohort.
    horizons : sequence of float
        Times to mark: a dotted vertical line and the patient's predicted survival there (read off the
        curve), e.g. 12, 36, 60 months.
    time_unit : str
    title, patient_label, cohort_label : str

    Returns
    -------
    plotly.graph_objects.Figure
        Traces: the patient's band (low, high), the patient's curve, the cohort's curve (grey, dashed) and a
        marker per horizon whose text is the patient's survival there in percent.
    """
    for frame, name, columns in ((patient, "patient's curve", {"time", "survival", "low", "high"}),
                                 (cohort, "cohort's curve", {"time", "survival"})):
        missing = columns - set(frame.columns)
        if missing:
            raise RadNomoError(f"the {name} lacks the column(s) {', '.join(sorted(missing))}.")
    patient = patient.sort_values("time")
    cohort = cohort.sort_values("time")
    time = patient["time"].to_numpy(dtype=float)
    colour = OKABE_ITO["vermillion"]
    figure = go.Figure()
    for values, fill in ((patient["low"], None), (patient["high"], "tonexty")):
        x, y = _step(time, values.to_numpy(dtype=float))
        figure.add_trace(go.Scatter(x=x, y=y, mode="lines", line={"width": 0, "shape": "hv"}, fill=fill,
                                    fillcolor=_translucent(colour), showlegend=False, hoverinfo="skip"))
    x, y = _step(time, patient["survival"].to_numpy(dtype=float))
    figure.add_trace(go.Scatter(x=x, y=y, mode="lines", name=patient_label, line={"color": colour, "width": 3,
                                                                                  "shape": "hv"},
                                hovertemplate=f"%{{x:g}} {time_unit}: %{{y:.1%}}<extra></extra>"))
    x, y = _step(cohort["time"].to_numpy(dtype=float), cohort["survival"].to_numpy(dtype=float))
    figure.add_trace(go.Scatter(x=x, y=y, mode="lines", name=cohort_label,
                                line={"color": OKABE_ITO["grey"], "dash": "dash", "shape": "hv"},
                                hovertemplate=f"%{{x:g}} {time_unit}: %{{y:.1%}}<extra></extra>"))
    marks = np.asarray(horizons, dtype=float)
    at = [_read_step(time, patient["survival"].to_numpy(dtype=float), h) for h in marks]
    for horizon in marks:
        figure.add_vline(x=horizon, line_dash="dot", line_color="grey")
    figure.add_trace(go.Scatter(x=marks, y=at, mode="markers+text", name=f"{patient_label} at the horizons",
                                text=[f"{s:.0%}" for s in at], textposition="top right",
                                marker={"color": colour, "size": 10}, showlegend=False,
                                hovertemplate=f"%{{x:g}} {time_unit}: %{{y:.1%}}<extra></extra>"))
    last = max(float(time[-1]), float(cohort["time"].max()), float(marks.max()) if marks.size else 0.0)
    figure.update_layout(title=title, xaxis_title=f"time ({time_unit})", yaxis_title="predicted survival probability",
                         xaxis={"range": [0, last * 1.03]}, yaxis={"range": [0, 1.02], "tickformat": ".0%"},
                         height=CURVE_HEIGHT - 80, margin=_MARGIN,
                         # the filled band would otherwise turn plotly's legend order around
                         legend={**LEGEND_BELOW, "traceorder": "normal"})
    return figure
