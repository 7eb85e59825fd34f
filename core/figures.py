"""Plotly figure builders. They draw results computed elsewhere; no statistics live here."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

__all__ = ["OUTCOME_COLOURS", "distribution_figure"]

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
