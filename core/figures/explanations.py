"""Plotly figures of SHAP explanations (:class:`core.stats.explanations.Explanation`): the summary beeswarm and the
mean |SHAP| bars (one patient's waterfall is :mod:`core.figures.waterfall`'s). They draw values computed elsewhere;
no statistics live here."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.figures.palette import OKABE_ITO, OUTCOME_COLOURS
from core.stats.explanations import Explanation

__all__ = ["shap_summary_figure", "shap_importance_figure", "beeswarm_offsets",
           "FEATURE_VALUE_SCALE", "MAX_FEATURES"]

MAX_FEATURES = 15  # features drawn by default: beyond this a summary plot's rows are too thin to read
# Low feature values blue, high vermillion (the outcome colours, colour-blind safe), as SHAP's own plots do.
FEATURE_VALUE_SCALE = [[0.0, OKABE_ITO["blue"]], [1.0, OKABE_ITO["vermillion"]]]
_ROW_HEIGHT = 0.4  # half the vertical room a feature's points spread over (rows are 1 apart)
_BINS = 100  # SHAP-value bins along x within which points are stacked (shap.plots.beeswarm uses 100 too)


def _output_words(output: str) -> str:
    """The x axis title for SHAP values on ``output``'s scale."""
    return f"SHAP value (change in the predicted {output} from the average patient)"


def _ranked(explanation: Explanation, max_features: int) -> tuple[list[str], int]:
    """The ``max_features`` most important features (mean |SHAP|, largest first) and how many were left out."""
    if max_features < 1:
        raise ValueError("max_features must be at least 1")
    order = list(explanation.mean_abs().index)
    return order[:max_features], max(0, len(order) - max_features)


def beeswarm_offsets(values: np.ndarray, order_key: np.ndarray | None = None, *, bins: int = _BINS,
                     height: float = _ROW_HEIGHT) -> np.ndarray:
    """Vertical offsets (within +-``height``) that spread one feature's points as a beeswarm, deterministically.

    Hand-written after ``shap.plots.beeswarm`` (its layout draws with matplotlib, which this plotly figure cannot
    reuse): the SHAP values are cut into ``bins`` equal bins along x; within a bin the points are stacked
    outward from the centre line (0, +1, -1, +2, -2, ... layers), in the order of ``order_key`` (e.g. the feature's
    value, so that colours form bands; ties and NaN keep the input order) instead of SHAP's random shuffle; then
    every layer is scaled so that the fullest bin spans ``height`` either side.

    Parameters
    ----------
    values : numpy.ndarray
        One feature's SHAP values (1-D; NaN values get offset 0).
    order_key : numpy.ndarray, optional
        The same length: the order of the points within a bin (default: input order).
    """
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n == 0:
        return np.zeros(0)
    finite = np.isfinite(values)
    low, high = (values[finite].min(), values[finite].max()) if finite.any() else (0.0, 0.0)
    span = high - low
    quantised = np.zeros(n, dtype=int) if span <= 0 else \
        np.round((bins - 1) * (np.where(finite, values, low) - low) / span).astype(int)
    quantised[~finite] = -1  # a bin of their own: they take no layer from the points they are not drawn with
    key = np.arange(n, dtype=float) if order_key is None else np.asarray(order_key, dtype=float)
    # Sort by bin, then by the key (NaN last), then by position: a stable, seed-free order.
    order = np.lexsort((np.arange(n), np.nan_to_num(key, nan=np.inf), quantised))
    layer = pd.Series(quantised[order]).groupby(quantised[order]).cumcount().to_numpy()
    # Layer k of a bin sits at +ceil(k/2) for odd k and -k/2 for even k: 0, +1, -1, +2, -2, ...
    step = np.where(layer % 2 == 1, (layer + 1) // 2, -(layer // 2)).astype(float)
    offsets = np.zeros(n)
    offsets[order] = step
    widest = np.abs(offsets).max()
    if widest > 0:
        offsets *= height / widest
    offsets[~finite] = 0.0
    return offsets


def _value_rank(data: pd.Series) -> pd.Series:
    """A feature's values as within-feature ranks scaled to 0..1 (the colour: low -> high); a feature with one
    distinct value is 0.5 throughout; values that are not numbers stay NaN."""
    numbers = pd.to_numeric(data, errors="coerce")
    ranks = numbers.rank(method="average")
    lowest, highest = ranks.min(), ranks.max()
    if not np.isfinite(highest) or highest == lowest:
        return pd.Series(np.where(numbers.notna(), 0.5, np.nan), index=data.index)
    return (ranks - lowest) / (highest - lowest)


def shap_summary_figure(explanation: Explanation, labels: Mapping[str, str] | None = None, *,
                        max_features: int = MAX_FEATURES, title: str | None = None) -> go.Figure:
    """SHAP summary (beeswarm) of one model: a row per feature, the most important (mean |SHAP|) at the top; each
    explained patient a point at its SHAP value, coloured by the feature's value as a within-feature rank
    (0 = the lowest value, 1 = the highest), with a colour bar "feature value: low -> high".

    Parameters
    ----------
    explanation : Explanation
        The model's SHAP values (patients x features) and the feature values explained.
    labels : mapping, optional
        Feature -> the name shown (default: the column name).
    max_features : int
        The most features drawn (the rest are counted in the title).
    title : str, optional
        Default: "SHAP summary: <model>"; "" for none (then only the count of features left out, if any).

    Returns
    -------
    plotly.graph_objects.Figure
        One scatter trace of every drawn point (customdata: patient, feature value; the colour bar), plus a grey
        trace of the points whose feature value is not a number, if any. Rows at y = 0 (bottom) .. k-1 (top).
    """
    labels = labels or {}
    features, left_out = _ranked(explanation, max_features)
    xs, ys, colours, hover = [], [], [], []
    for row, feature in enumerate(reversed(features)):  # the least important of those drawn at the bottom
        shap_values = explanation.values[feature].to_numpy(dtype=float)
        rank = _value_rank(explanation.data[feature])
        offsets = beeswarm_offsets(shap_values, rank.to_numpy())
        xs.append(shap_values)
        ys.append(row + offsets)
        colours.append(rank.to_numpy(dtype=float))
        raw = explanation.data[feature]
        name = labels.get(feature, feature)
        hover.append(np.column_stack([np.full(len(raw), name, dtype=object), explanation.values.index.astype(str),
                                      [f"{v:.4g}" if isinstance(v, (int, float, np.number)) else str(v)
                                       for v in raw]]))
    x, y = np.concatenate(xs), np.concatenate(ys)
    colour, custom = np.concatenate(colours), np.concatenate(hover)
    known = np.isfinite(colour)
    template = ("%{customdata[0]} = %{customdata[2]}<br>patient %{customdata[1]}<br>SHAP %{x:.4f}"
                "<extra></extra>")
    figure = go.Figure(go.Scatter(
        x=x[known], y=y[known], mode="markers", customdata=custom[known], hovertemplate=template, showlegend=False,
        name="patients", marker={"size": 5, "color": colour[known], "colorscale": FEATURE_VALUE_SCALE, "cmin": 0,
                                 "cmax": 1, "opacity": 0.8,
                                 "colorbar": {"title": {"text": "feature value", "side": "right"},
                                              "tickvals": [0, 1], "ticktext": ["low", "high"], "thickness": 12,
                                              "len": 0.6}}))
    if not known.all():
        figure.add_trace(go.Scatter(x=x[~known], y=y[~known], mode="markers", customdata=custom[~known],
                                    hovertemplate=template, name="value not a number",
                                    marker={"size": 5, "color": OKABE_ITO["grey"]}))
    figure.add_vline(x=0, line_color="lightgrey", line_width=1)
    names = [labels.get(f, f) for f in reversed(features)]
    heading = f"SHAP summary: {explanation.model}" if title is None else title
    if left_out:
        heading = f"{heading} (top {len(features)} of {len(features) + left_out} features)".strip()
    figure.update_layout(title=heading, height=max(280, 34 * len(features) + 120),
                         margin={"l": 10, "t": 50 if heading else 20},
                         xaxis_title=_output_words(explanation.output),
                         yaxis={"tickvals": list(range(len(features))), "ticktext": names,
                                "range": [-0.6, len(features) - 0.4], "zeroline": False, "showgrid": False})
    return figure


def shap_importance_figure(explanation: Explanation, labels: Mapping[str, str] | None = None, *,
                           max_features: int = MAX_FEATURES, title: str | None = None) -> go.Figure:
    """Horizontal bars of each feature's mean |SHAP value| (the most important at the top), on the explanation's
    output scale; ``labels`` and ``max_features`` as :func:`shap_summary_figure`."""
    labels = labels or {}
    features, left_out = _ranked(explanation, max_features)
    importance = explanation.mean_abs().loc[features].iloc[::-1]
    figure = go.Figure(go.Bar(x=importance.to_numpy(), y=[labels.get(f, f) for f in importance.index],
                              orientation="h", marker={"color": OUTCOME_COLOURS[0]},
                              hovertemplate="%{y}<br>mean |SHAP| %{x:.4f}<extra></extra>"))
    heading = f"Mean |SHAP value|: {explanation.model}" if title is None else title
    if left_out:
        heading = f"{heading} (top {len(features)} of {len(features) + left_out} features)".strip()
    figure.update_layout(title=heading, height=max(240, 26 * len(features) + 90), margin={"l": 10, "t": 50},
                         xaxis_title=f"mean |SHAP value| ({explanation.output})")
    return figure
