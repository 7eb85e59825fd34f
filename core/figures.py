"""Plotly figure builders. They draw results computed elsewhere; no statistics live here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

__all__ = ["OUTCOME_COLOURS", "WINDOW_PRESETS", "distribution_figure", "slice_overlay_figure", "loss_curve_figure",
           "reconstruction_figure", "funnel_figure", "lasso_cv_figure", "coefficient_path_figure",
           "stability_figure", "coefficient_figure"]

# Colour-blind-safe pair (Okabe-Ito blue / vermillion) for outcome 0 / 1.
OUTCOME_COLOURS = ("#0072B2", "#D55E00")


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
    """Cross-validated binomial deviance against log(lambda), +-1 SE bars, lambda.min and lambda.1se marked."""
    log_lambda = np.log(lasso.lambdas)
    figure = go.Figure(go.Scatter(x=log_lambda, y=lasso.cv_mean, mode="markers",
                                  marker={"color": OUTCOME_COLOURS[1], "size": 6},
                                  error_y={"type": "data", "array": lasso.cv_se, "color": "lightgrey"},
                                  customdata=lasso.n_nonzero,
                                  hovertemplate="log(λ) %{x:.3f}<br>deviance %{y:.4f}<br>%{customdata} features"
                                                "<extra></extra>"))
    _lambda_markers(figure, lasso)
    figure.update_layout(title="LASSO: 10-fold cross-validated deviance", xaxis_title="log(λ)",
                         yaxis_title="binomial deviance", height=380, margin={"t": 60})
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
