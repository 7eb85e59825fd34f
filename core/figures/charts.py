"""Plotly figure builders. They draw results computed elsewhere; no statistics live here."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.figures.palette import OUTCOME_COLOURS

__all__ = ["OUTCOME_COLOURS", "WINDOW_PRESETS", "distribution_figure", "slice_overlay_figure", "loss_curve_figure",
           "reconstruction_figure", "funnel_figure", "lasso_cv_figure", "coefficient_path_figure",
           "stability_figure", "coefficient_figure", "roc_figure", "risk_histogram_figure", "what_if_figure",
           "calibration_figure", "decision_curve_figure", "violin_figure", "confusion_figure", "add_band",
           "DECISION_MEASURES", "decision_measure_figure", "clinical_impact_figure", "net_benefit_difference_figure",
           "corrected_calibration_figure"]



def distribution_figure(df: pd.DataFrame, variable: str, outcome_column: str, *, kind: str,
                        outcome_labels: tuple[str, str]) -> go.Figure:
    """Distribution of one clinical variable by outcome.

    Parameters
    ----------
    df : pandas.DataFrame
        Cohort rows (validated; outcome 0/1).
    variable : str
        Column to draw.
    outcome_column : str
    kind : {"continuous", "categorical"}
        Continuous: overlaid histograms with box plots on top. Categorical: percentage of each
        outcome group per level, grouped bars.
    outcome_labels : (str, str)
        Legend names of outcome 0 and 1.
    """
    import plotly.express as px  # slow to import (half a second): only this figure needs it

    label_map = {0: outcome_labels[0], 1: outcome_labels[1]}
    colours = {outcome_labels[0]: OUTCOME_COLOURS[0], outcome_labels[1]: OUTCOME_COLOURS[1]}
    data = df[[variable, outcome_column]].dropna().assign(group=lambda d: d[outcome_column].map(label_map))
    if kind == "continuous":
        figure = px.histogram(data, x=variable, color="group", marginal="box", barmode="overlay",
                              histnorm="percent", opacity=0.6, color_discrete_map=colours,
                              category_orders={"group": list(outcome_labels)})
        figure.update_yaxes(title_text="% of group", row=1, col=1)
    else:
        shares = (data.groupby("group")[variable].value_counts(normalize=True).mul(100).rename("percent")
                  .reset_index())
        shares[variable] = shares[variable].astype(str)
        figure = px.bar(shares, x=variable, y="percent", color="group", barmode="group",
                        color_discrete_map=colours, category_orders={"group": list(outcome_labels)})
        figure.update_yaxes(title_text="% of group")
    figure.update_layout(legend_title_text=outcome_column, margin=dict(l=10, r=10, t=30, b=10), height=380)
    return figure


# Window presets (level, width) in HU for viewing CT.
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "Abdomen (50/350)": (50.0, 350.0),
    "Soft tissue (40/400)": (40.0, 400.0),
    "Liver (60/160)": (60.0, 160.0),
    "Lung (-600/1500)": (-600.0, 1500.0),
    "Bone (400/1800)": (400.0, 1800.0),
}


def _roi_outline(mask: np.ndarray, *, x: np.ndarray | None = None, y: np.ndarray | None = None,
                 width: float = 2.0) -> go.Contour:
    """The ROI's boundary (the 0.5 level of the mask) as a line trace."""
    return go.Contour(z=mask.astype(float), x=x, y=y, showscale=False, hoverinfo="skip", name="ROI",
                      contours=dict(start=0.5, end=0.5, size=1, coloring="lines"),
                      line=dict(color=OUTCOME_COLOURS[1], width=width))


def slice_overlay_figure(ct_slice: np.ndarray, mask_slice: np.ndarray, *, pixel_mm: tuple[float, float],
                         window: tuple[float, float], title: str = "") -> go.Figure:
    """One axial CT slice in a window, with the ROI outline drawn over it.

    Parameters
    ----------
    ct_slice : numpy.ndarray
        (rows, columns) in HU.
    mask_slice : numpy.ndarray
        Same shape; non-zero inside the ROI.
    pixel_mm : (float, float)
        (column, row) pixel size in mm, so the axes are in mm and the aspect is true.
    window : (level, width)
        Display window in HU.
    """
    level, width = window
    rows, columns = ct_slice.shape
    x = np.arange(columns) * pixel_mm[0]
    y = np.arange(rows) * pixel_mm[1]
    figure = go.Figure(go.Heatmap(z=ct_slice, x=x, y=y, colorscale="gray", zmin=level - width / 2,
                                  zmax=level + width / 2, colorbar=dict(title="HU"),
                                  hovertemplate="x %{x:.1f} mm, y %{y:.1f} mm: %{z} HU<extra></extra>"))
    if mask_slice.any():
        figure.add_trace(_roi_outline(mask_slice, x=x, y=y, width=2))
    figure.update_yaxes(autorange="reversed", scaleanchor="x", title_text="mm")
    figure.update_xaxes(title_text="mm")
    figure.update_layout(title=title, margin=dict(l=10, r=10, t=40, b=10), height=520)
    return figure


def loss_curve_figure(history: pd.DataFrame, best_epoch: int | None = None) -> go.Figure:
    """Training and validation reconstruction loss per epoch (``history`` from AETrainResult)."""
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=history["epoch"], y=history["train_loss"], mode="lines+markers", name="training",
                                line=dict(color=OUTCOME_COLOURS[0])))
    figure.add_trace(go.Scatter(x=history["epoch"], y=history["val_loss"], mode="lines+markers", name="validation",
                                line=dict(color=OUTCOME_COLOURS[1])))
    if best_epoch:
        figure.add_vline(x=best_epoch, line_dash="dot", annotation_text=f"kept: epoch {best_epoch}")
    figure.update_layout(xaxis_title="epoch", yaxis_title="ROI-weighted MSE", height=320,
                         margin=dict(l=10, r=10, t=30, b=10))
    return figure


def reconstruction_figure(original: np.ndarray, reconstruction: np.ndarray, mask: np.ndarray | None = None,
                          title: str = "") -> go.Figure:
    """Autoencoder input and reconstruction side by side (one slice each, window-scaled values 0..1)."""
    from plotly.subplots import make_subplots

    figure = make_subplots(rows=1, cols=2, subplot_titles=("input", "reconstruction"), horizontal_spacing=0.05)
    for column, values in ((1, original), (2, reconstruction)):
        figure.add_trace(go.Heatmap(z=values, colorscale="gray", zmin=0, zmax=1, showscale=column == 2,
                                    hovertemplate="%{z:.2f}<extra></extra>"), row=1, col=column)
        if mask is not None and mask.any():
            figure.add_trace(_roi_outline(mask, width=1.5), row=1, col=column)
    figure.update_yaxes(autorange="reversed", scaleanchor="x")
    figure.update_xaxes(scaleanchor="y")
    figure.update_layout(title=title, height=380, margin=dict(l=10, r=10, t=50, b=10))
    return figure


def funnel_figure(funnel: pd.DataFrame) -> go.Figure:
    """Features left after each screening step (``step``, ``n_features`` as ScreeningResult.funnel)."""
    figure = go.Figure(go.Funnel(y=funnel["step"], x=funnel["n_features"], textinfo="value",
                                 marker={"color": OUTCOME_COLOURS[0]}))
    figure.update_layout(title="Features left after each step (training cohort)", margin={"l": 10, "r": 10, "t": 40},
                         height=320)
    return figure


def _lambda_markers(figure: go.Figure, lasso) -> None:
    for value, name, dash in ((lasso.lambda_min, "lambda.min", "dot"), (lasso.lambda_1se, "lambda.1se", "dash")):
        figure.add_vline(x=float(np.log(value)), line_dash=dash, line_color="grey",
                         annotation_text=name, annotation_position="top")


def lasso_cv_figure(lasso) -> go.Figure:
    """Cross-validated deviance (or C) against log(lambda), +-1 SE bars, lambda.min and lambda.1se marked.

    ``lasso``: a :class:`core.stats.selection.LassoCV` (LASSO logistic or LASSO-Cox); its ``measure_label`` names
    the y-axis (binomial or partial-likelihood deviance, Harrell's C) and ``foldid`` the number of folds."""
    log_lambda = np.log(lasso.lambdas)
    measure = "deviance" if lasso.measure == "deviance" else lasso.measure_label
    figure = go.Figure(go.Scatter(x=log_lambda, y=lasso.cv_mean, mode="markers",
                                  marker={"color": OUTCOME_COLOURS[1], "size": 6},
                                  error_y={"type": "data", "array": lasso.cv_se, "color": "lightgrey"},
                                  customdata=lasso.n_nonzero,
                                  hovertemplate=f"log(λ) %{{x:.3f}}<br>{measure} %{{y:.4f}}<br>%{{customdata}} "
                                                "features<extra></extra>"))
    _lambda_markers(figure, lasso)
    folds = len(np.unique(lasso.foldid))
    figure.update_layout(title=f"LASSO: {folds}-fold cross-validated {measure}", xaxis_title="log(λ)",
                         yaxis_title=lasso.measure_label, height=380, margin={"t": 60})
    return figure


def coefficient_path_figure(lasso, max_lines: int = 40) -> go.Figure:
    """Standardised coefficients along the lambda path (features ever non-zero; the first ``max_lines``)."""
    path = lasso.path
    scaled = path * lasso.feature_sds
    ever = [c for c in scaled.columns if (scaled[c] != 0).any()]
    ever = sorted(ever, key=lambda c: -int((scaled[c] != 0).sum()))[:max_lines]
    log_lambda = np.log(path.index.to_numpy())
    figure = go.Figure([go.Scatter(x=log_lambda, y=scaled[c], mode="lines", name=c, showlegend=False,
                                   hovertemplate=f"{c}<br>log(λ) %{{x:.3f}}<br>coef %{{y:.4f}}<extra></extra>")
                        for c in ever])
    _lambda_markers(figure, lasso)
    figure.update_layout(title="Coefficient path (standardised features)",
                         xaxis_title="log(λ)", yaxis_title="coefficient", height=380, margin={"t": 60})
    return figure


def coefficient_figure(coefs: pd.Series, title: str) -> go.Figure:
    """Horizontal bars of coefficients (e.g. a score's standardised coefficients), sorted."""
    ordered = coefs.sort_values()
    figure = go.Figure(go.Bar(x=ordered.to_numpy(), y=ordered.index, orientation="h",
                              marker={"color": [OUTCOME_COLOURS[int(v > 0)] for v in ordered]}))
    figure.update_layout(title=title, height=max(220, 26 * len(ordered) + 80), margin={"l": 10, "t": 40},
                         xaxis_title="coefficient")
    return figure


def stability_figure(frequency: pd.DataFrame, top: int = 30) -> go.Figure:
    """Selection frequency of the most often selected features over repeated LASSO-CV runs."""
    shown = frequency.head(top).iloc[::-1]
    figure = go.Figure(go.Bar(x=shown["selected"], y=shown.index, orientation="h",
                              marker={"color": OUTCOME_COLOURS[0]},
                              hovertemplate="%{y}<br>selected in %{x:.0%} of runs<extra></extra>"))
    figure.update_layout(title="Selection frequency over repeated LASSO-CV", xaxis={"range": [0, 1],
                         "tickformat": ".0%"}, height=max(260, 22 * len(shown) + 80), margin={"l": 10, "t": 40})
    return figure


# Legends sit under the axes (inside they hid the curves of small panels); plotly widens the bottom margin.
LEGEND_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.16, "x": 0, "xanchor": "left"}
CURVE_HEIGHT = 520  # px: a square plot area in a half-width column at 1280-1920 px, legend below


def roc_figure(curves: dict[str, pd.DataFrame], aucs: dict[str, tuple[float, float, float]], *, title: str,
               labels: dict[str, str], colours: dict[str, str],
               marker: tuple[str, float, float] | None = None) -> go.Figure:
    """ROC curves (``fpr``, ``tpr`` per model or cohort) with AUC (95 % CI) in the legend.

    ``labels`` and ``colours`` name and colour each curve (:mod:`core.figures.palette`, fixed per model
    and cohort); ``marker``: (curve, fpr, tpr) of an operating point.
    """
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "lightgrey"},
                                showlegend=False, hoverinfo="skip"))
    for model, curve in curves.items():
        auc, low, high = aucs[model]
        figure.add_trace(go.Scatter(x=curve["fpr"], y=curve["tpr"], mode="lines", name=f"{labels[model]}: "
                                    f"{auc:.3f} ({low:.3f}-{high:.3f})",
                                    line={"color": colours[model], "width": 2.5 if model == "fused" else 2},
                                    hovertemplate="1 - specificity %{x:.3f}<br>sensitivity %{y:.3f}<extra></extra>"))
    if marker is not None:
        model, fpr, tpr = marker
        figure.add_trace(go.Scatter(x=[fpr], y=[tpr], mode="markers", name="operating point",
                                    marker={"size": 13, "color": colours[model], "symbol": "x",
                                            "line": {"width": 2, "color": "black"}}))
    figure.update_layout(title=title, xaxis_title="1 - specificity", yaxis_title="sensitivity", height=CURVE_HEIGHT,
                         xaxis={"range": [0, 1], "constrain": "domain"}, yaxis={"range": [0, 1.01],
                         "scaleanchor": "x", "constrain": "domain"}, legend=LEGEND_BELOW,
                         margin={"t": 50, "l": 60, "r": 20})
    return figure


def _rgba(colour: str, alpha: float) -> str:
    """A ``#rrggbb`` colour (or any other CSS colour, returned as is) with transparency, for a band's fill."""
    if colour.startswith("#") and len(colour) == 7:
        red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
        return f"rgba({red},{green},{blue},{alpha})"
    return colour


def add_band(figure: go.Figure, x: pd.Series, low: pd.Series, high: pd.Series, *, colour: str, name: str) -> None:
    """A shaded pointwise band (``low`` to ``high`` over ``x``) in ``colour``: drawn under the curve it belongs to,
    one legend entry (``name``) that toggles it. Points where either limit is NaN leave a gap."""
    group = f"band:{name}"
    figure.add_trace(go.Scatter(x=x, y=high, mode="lines", line={"width": 0}, showlegend=False, legendgroup=group,
                                hoverinfo="skip"))
    figure.add_trace(go.Scatter(x=x, y=low, mode="lines", line={"width": 0}, fill="tonexty",
                                fillcolor=_rgba(colour, 0.18), name=name, legendgroup=group, hoverinfo="skip"))


def calibration_figure(binned: dict[str, pd.DataFrame], smooth: dict[str, pd.DataFrame], *, title: str,
                       labels: dict[str, str], colours: dict[str, str],
                       flexible: Mapping[str, pd.DataFrame] | None = None) -> go.Figure:
    """Observed vs predicted risk per model (or cohort): decile points with 95 % bars, and either the flexible
    (loess) curve with its pointwise 95 % band (``flexible``: ``predicted``, ``observed``, ``low``, ``high``, as
    :func:`core.stats.calibration.flexible_calibration` gives it) or, for a model without one, the lowess curve
    (``smooth``), where it has one.
    The band is clipped to 0-1 for drawing only."""
    figure = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"},
                                  name="ideal"))
    for model in dict.fromkeys([*binned, *(flexible or {})]):
        colour = colours[model]
        table = binned.get(model)
        if table is not None:
            figure.add_trace(go.Scatter(x=table["mean_predicted"], y=table["observed"], mode="markers",
                                        name=f"{labels[model]} (deciles)", marker={"color": colour},
                                        error_y={"type": "data", "symmetric": False,
                                                 "array": table["high"] - table["observed"],
                                                 "arrayminus": table["observed"] - table["low"], "color": colour}))
        curve = flexible.get(model) if flexible is not None else None
        if curve is not None:
            add_band(figure, curve["predicted"], curve["low"].clip(0, 1), curve["high"].clip(0, 1), colour=colour,
                     name=f"{labels[model]} 95 % band")
            figure.add_trace(go.Scatter(x=curve["predicted"], y=curve["observed"].clip(0, 1), mode="lines",
                                        name=f"{labels[model]} (loess)", line={"color": colour}))
        elif model in smooth:  # no flexible curve for this model (e.g. too few distinct probabilities): the lowess
            figure.add_trace(go.Scatter(x=smooth[model]["predicted"], y=smooth[model]["observed"], mode="lines",
                                        name=f"{labels[model]} (smoothed)", line={"color": colour}))
    figure.update_layout(title=title, xaxis_title="predicted probability", yaxis_title="observed fraction",
                         xaxis={"range": [0, 1]}, yaxis={"range": [0, 1]}, height=CURVE_HEIGHT + 40,
                         legend=LEGEND_BELOW, margin={"t": 50, "l": 60, "r": 20})
    return figure


def corrected_calibration_figure(curves: Mapping[str, pd.DataFrame], *, title: str, labels: Mapping[str, str],
                                 colours: Mapping[str, str]) -> go.Figure:
    """rms::calibrate's plot per model: the apparent smoothed calibration curve (dashed), the bootstrap
    optimism-corrected one (solid) and the ideal diagonal. ``curves``: per model the rows of
    :class:`core.workflows.validation.OptimismResult` ``calibration_curve`` (``predicted``, ``apparent``,
    ``corrected``; risks 0-1; NaN points leave a gap)."""
    figure = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"},
                                  name="ideal"))
    for model, curve in curves.items():
        colour = colours[model]
        figure.add_trace(go.Scatter(x=curve["predicted"], y=curve["apparent"], mode="lines",
                                    name=f"{labels[model]} (apparent)", line={"color": colour, "dash": "dash"}))
        figure.add_trace(go.Scatter(x=curve["predicted"], y=curve["corrected"], mode="lines",
                                    name=f"{labels[model]} (bias-corrected)", line={"color": colour}))
    figure.update_layout(title=title, xaxis_title="predicted probability", yaxis_title="observed fraction (smoothed)",
                         xaxis={"range": [0, 1]}, yaxis={"range": [0, 1]}, height=CURVE_HEIGHT + 40,
                         legend=LEGEND_BELOW, margin={"t": 50, "l": 60, "r": 20})
    return figure


def decision_curve_figure(curves: dict[str, pd.DataFrame], *, title: str, labels: dict[str, str],
                          colours: dict[str, str], marker: tuple[str, float, float] | None = None,
                          bands: bool = False) -> go.Figure:
    """Net benefit against threshold probability per model (or cohort), with treat-all and treat-none; with
    ``bands`` each curve's bootstrap 95 % band (``net_benefit_low``/``_high``, where the curves hold them)."""
    first = next(iter(curves.values()))
    figure = go.Figure([go.Scatter(x=first["threshold"], y=first["treat_all"], mode="lines", name="treat all",
                                   line={"color": "black", "dash": "dash"}),
                        go.Scatter(x=first["threshold"], y=first["treat_none"], mode="lines", name="treat none",
                                   line={"color": "black"})])
    if bands:
        for model, curve in curves.items():
            if "net_benefit_low" in curve.columns:
                add_band(figure, curve["threshold"], curve["net_benefit_low"], curve["net_benefit_high"],
                         colour=colours[model], name=f"{labels[model]} 95 % band")
    add_net_benefit_curves(figure, curves, labels, colours, marker)
    top = max(float(c["net_benefit"].max()) for c in curves.values())
    figure.update_layout(title=title, xaxis_title="threshold probability", yaxis_title="net benefit",
                         height=CURVE_HEIGHT, yaxis={"range": [-0.05, max(0.05, top * 1.15)]}, legend=LEGEND_BELOW,
                         margin={"t": 50, "l": 60, "r": 20})
    return figure


def add_net_benefit_curves(figure: go.Figure, curves: Mapping[str, pd.DataFrame], labels: Mapping[str, str],
                           colours: Mapping[str, str], marker: tuple[str, float, float] | None = None) -> None:
    """A decision curve figure's model curves (``threshold``, ``net_benefit`` each) and the chosen cut-off's
    mark (model, threshold, net benefit), after its treat-all and treat-none lines (a binary outcome's curves and
    a time-to-event outcome's at a horizon are drawn alike)."""
    for model, curve in curves.items():
        figure.add_trace(go.Scatter(x=curve["threshold"], y=curve["net_benefit"], mode="lines", name=labels[model],
                                    line={"color": colours[model]}))
    if marker is not None:
        model, threshold, benefit = marker
        figure.add_trace(go.Scatter(x=[threshold], y=[benefit], mode="markers", name="chosen cut-off",
                                    marker={"size": 13, "symbol": "x", "color": colours[model],
                                            "line": {"width": 2, "color": "black"}}))


#: Decision-curve measures besides the net benefit that :func:`decision_measure_figure` draws: column -> axis title.
DECISION_MEASURES = {"interventions_avoided": "net interventions avoided per 100 patients",
                     "standardized_net_benefit": "standardized net benefit (net benefit / prevalence)"}


def decision_measure_figure(curves: Mapping[str, pd.DataFrame], measure: str, *, title: str,
                            labels: Mapping[str, str], colours: Mapping[str, str], bands: bool = True) -> go.Figure:
    """One decision-curve measure (a key of :data:`DECISION_MEASURES`) against the threshold probability per
    model (or cohort), each with its bootstrap 95 % band (``<measure>_low``/``_high``) when ``bands``; 0 drawn
    as the reference (no net interventions avoided; no benefit)."""
    figure = go.Figure(go.Scatter(x=[0, 1], y=[0, 0], mode="lines", line={"color": "black"}, name="0"))
    for model, curve in curves.items():
        if bands and f"{measure}_low" in curve.columns:
            add_band(figure, curve["threshold"], curve[f"{measure}_low"], curve[f"{measure}_high"],
                     colour=colours[model], name=f"{labels[model]} 95 % band")
        figure.add_trace(go.Scatter(x=curve["threshold"], y=curve[measure], mode="lines", name=labels[model],
                                    line={"color": colours[model]}))
    values = np.concatenate([c[measure].to_numpy(dtype=float) for c in curves.values()])
    finite = values[np.isfinite(values)]
    top = max(float(finite.max()), 0.05) if len(finite) else 1.0
    # Both measures fall steeply below 0 at low thresholds (interventions avoided divides by the threshold's odds):
    # the axis shows as far below 0 as the best curve rises above it, where the curves can be read.
    bottom = max(float(finite.min()), -top) if len(finite) else -1.0
    figure.update_layout(title=title, xaxis_title="threshold probability", yaxis_title=DECISION_MEASURES[measure],
                         height=CURVE_HEIGHT, yaxis={"range": [min(bottom, -0.05 * top) * 1.1, top * 1.15]},
                         legend=LEGEND_BELOW, margin={"t": 50, "l": 60, "r": 20})
    return figure


def clinical_impact_figure(curve: pd.DataFrame, *, title: str, colour: str, bands: bool = True) -> go.Figure:
    """The clinical impact curve (as rmda's plot_clinical_impact): out of 1,000 patients, the number classed high
    risk (risk >= threshold) and the number of them with the event, against the threshold probability; with
    ``bands`` their bootstrap 95 % bands (``high_risk_per_1000_low`` ...)."""
    figure = go.Figure()
    for column, name, dash in (("high_risk_per_1000", "number high risk", "solid"),
                               ("high_risk_events_per_1000", "number high risk with the event", "dash")):
        if bands and f"{column}_low" in curve.columns:
            add_band(figure, curve["threshold"], curve[f"{column}_low"], curve[f"{column}_high"], colour=colour,
                     name=f"{name}: 95 % band")
        figure.add_trace(go.Scatter(x=curve["threshold"], y=curve[column], mode="lines", name=name,
                                    line={"color": colour, "dash": dash}))
    figure.update_layout(title=title, xaxis_title="threshold probability", yaxis_title="patients per 1,000",
                         height=CURVE_HEIGHT, yaxis={"range": [0, 1000]}, legend=LEGEND_BELOW,
                         margin={"t": 50, "l": 60, "r": 20})
    return figure


def net_benefit_difference_figure(difference: pd.DataFrame, *, title: str, label: str, colour: str) -> go.Figure:
    """The net-benefit difference of two models (``threshold``, ``difference``, ``low``, ``high``: model a - model
    b, paired bootstrap 95 % band) against the threshold probability; 0 = no difference."""
    figure = go.Figure(go.Scatter(x=[0, 1], y=[0, 0], mode="lines", line={"color": "black"}, name="no difference"))
    add_band(figure, difference["threshold"], difference["low"], difference["high"], colour=colour,
             name="95 % band (paired bootstrap)")
    figure.add_trace(go.Scatter(x=difference["threshold"], y=difference["difference"], mode="lines", name=label,
                                line={"color": colour}))
    figure.update_layout(title=title, xaxis_title="threshold probability", yaxis_title="difference in net benefit",
                         height=CURVE_HEIGHT, legend=LEGEND_BELOW, margin={"t": 50, "l": 60, "r": 20})
    return figure


def violin_figure(values: pd.DataFrame, value_column: str, group_column: str, *, labels: dict, title: str,
                  p_value_text: str = "", y_title: str | None = None) -> go.Figure:
    """Violin plot of a score by group (e.g. outcome), with the p-value in the title."""
    figure = go.Figure()
    for index, (group, label) in enumerate(labels.items()):
        figure.add_trace(go.Violin(y=values.loc[values[group_column] == group, value_column], name=label,
                                   box_visible=True, meanline_visible=True, points=False,
                                   line_color=OUTCOME_COLOURS[index % 2]))
    # The p-value on a second title line: on one line a third of a row cut it off.
    figure.update_layout(title=f"{title}{'<br><sup>' + p_value_text + '</sup>' if p_value_text else ''}",
                         height=380, showlegend=False, margin={"t": 70}, yaxis_title=y_title or value_column)
    return figure


def risk_histogram_figure(risks: dict[str, pd.Series], patient_risk: float, *, title: str) -> go.Figure:
    """Predicted risks of the training cohort by outcome (label -> risks), the patient's risk marked."""
    figure = go.Figure()
    for index, (label, values) in enumerate(risks.items()):
        figure.add_trace(go.Histogram(x=values, name=label, opacity=0.6, marker_color=OUTCOME_COLOURS[index % 2],
                                      xbins={"size": 0.025}))
    figure.add_vline(x=patient_risk, line_width=3, line_color="black", annotation_text="this patient")
    figure.update_layout(barmode="overlay", title=title, height=280, xaxis_title="predicted probability",
                         margin={"t": 40})
    return figure


def what_if_figure(curve: pd.DataFrame, value, probability: float, *, label: str, categorical: bool) -> go.Figure:
    """Risk as one predictor moves (``value``, ``probability``), the patient's value marked."""
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=curve["value"], y=curve["probability"], mode="lines+markers" if categorical
                                else "lines", name="predicted risk"))
    figure.add_trace(go.Scatter(x=[value], y=[probability], mode="markers", name="this patient",
                                marker={"size": 13, "color": "black"}))
    figure.update_layout(title=f"Predicted risk as {label} changes", height=320, xaxis_title=label,
                         yaxis_title="predicted probability", yaxis_range=[0, 1], margin={"t": 40})
    return figure


def confusion_figure(confusion: Mapping[str, int], labels: tuple[str, str]) -> go.Figure:
    """2 x 2 confusion matrix (rows: actual, columns: predicted) as an annotated heatmap.

    ``confusion``: counts by ``tp``, ``fp``, ``tn``, ``fn`` (e.g. ``Confusion.as_dict()`` of
    :func:`core.stats.evaluation.confusion_counts`, or a row of a StudyEvaluation's ``confusion`` table)."""
    matrix = np.array([[confusion["tn"], confusion["fp"]], [confusion["fn"], confusion["tp"]]])
    # Axis labels on two lines: side by side, "predicted no liver metastasis" overlapped its neighbour.
    figure = go.Figure(go.Heatmap(z=matrix, x=[f"predicted<br>{labels[0]}", f"predicted<br>{labels[1]}"],
                                  y=[f"actual<br>{labels[0]}", f"actual<br>{labels[1]}"], colorscale="Blues",
                                  showscale=False, text=matrix, texttemplate="%{text}", textfont={"size": 18}))
    figure.update_layout(height=300, margin={"t": 20, "l": 10, "r": 10, "b": 10}, yaxis={"autorange": "reversed"},
                         xaxis={"side": "bottom", "tickangle": 0})
    return figure
