"""SHAP waterfall of one patient: from the model's expected output over the training patients to this patient's.

It draws an explanation computed elsewhere (:class:`core.stats.explanations.Explanation`); no statistics live here.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go

from core.errors import RadNomoError
from core.figures.palette import OKABE_ITO, OUTCOME_COLOURS
from core.stats.explanations import Explanation

__all__ = ["shap_waterfall_figure", "waterfall_bars", "OUTPUT_TITLES"]

# The axis title of each output scale of an explanation (Explanation.output).
OUTPUT_TITLES = {"log-odds": "model output (log-odds of the event)",
                 "probability": "model output (predicted probability of the event)",
                 "log relative hazard": "model output (log relative hazard)"}
BASE_LABEL = "E[f(x)]: mean over the training patients"
OUTPUT_LABEL = "f(x): this patient"
_BAR_PX = 30  # height per bar: the feature labels stay legible at the page's font size


def _shown(value: float) -> str:
    """A feature value as the bar's label shows it (4 significant digits, thousands separated)."""
    return f"{value:,.4g}"


def waterfall_bars(explanation: Explanation, patient_id: str, labels: Mapping[str, str] | None = None, *,
                   max_features: int = 10) -> list[tuple[str, str, float]]:
    """The waterfall's bars in drawing order, bottom to top: (measure, label, value).

    The first bar is the base value (``"absolute"``: E[f(x)] over the background, the training patients); then the
    features beyond the ``max_features`` largest by |SHAP| summed as one ``"other N features"`` bar (when there
    are any), then those features from the smallest |SHAP| to the largest (``"relative"``, labelled
    "feature = value" with the patient's value; ``labels`` renames features), and last the patient's output
    (``"total"``: base value + every SHAP value, on the explanation's output scale).

    Raises
    ------
    RadNomoError
        When the explanation has no row for ``patient_id`` or ``max_features`` is below 1.
    """
    if max_features < 1:
        raise RadNomoError("a waterfall shows at least one feature (max_features >= 1).")
    if patient_id not in explanation.values.index:
        raise RadNomoError(f"the {explanation.model} explanation has no patient {patient_id!r}.")
    labels = labels or {}
    values = explanation.values.loc[patient_id].astype(float)
    data = explanation.data.loc[patient_id]
    order = values.abs().sort_values(ascending=False, kind="stable").index  # ties: the model's feature order
    top, rest = list(order[:max_features]), list(order[max_features:])
    bars: list[tuple[str, str, float]] = [("absolute", BASE_LABEL, float(explanation.base_value))]
    if rest:
        bars.append(("relative", f"other {len(rest)} feature{'s' if len(rest) > 1 else ''}",
                     float(values[rest].sum())))
    for feature in reversed(top):
        bars.append(("relative", f"{labels.get(feature, feature)} = {_shown(float(data[feature]))}",
                      float(values[feature])))
    bars.append(("total", OUTPUT_LABEL, float(explanation.base_value + values.sum())))
    return bars


def shap_waterfall_figure(explanation: Explanation, patient_id: str, labels: Mapping[str, str] | None = None, *,
                          max_features: int = 10) -> go.Figure:
    """A patient's SHAP waterfall (horizontal, as shap's own waterfall plot): from the base value E[f(x)] (the
    model's mean output over the training patients) at the bottom, each feature's SHAP value added in turn (the
    ``max_features`` largest by |SHAP| at the top, the others summed as "other N features"), to the patient's
    output f(x) at the top.

    Parameters
    ----------
    explanation : Explanation
        The model's SHAP values of (at least) this patient (:func:`core.workflows.newpatient.explain_patient`).
    patient_id : str
        The patient's row of the explanation.
    labels : mapping, optional
        Display names of the features and of the model (``explanation.model``, shown in the title).
    max_features : int
        Features shown one by one.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``go.Waterfall`` trace drawn from ``base`` = E[f(x)]: its x values are offsets from it (0 for the base's
        mark, each SHAP value, then f(x) - E[f(x)] for the total bar), on the explanation's output scale (log-odds
        or probability, the axis says which); its text gives E[f(x)], each SHAP value and f(x). Bars raising the
        output are vermillion, lowering it blue (the outcome colours), the output grey; a dotted line marks
        E[f(x)].
    """
    bars = waterfall_bars(explanation, patient_id, labels, max_features=max_features)
    measures, names, values = (list(column) for column in zip(*bars, strict=True))
    model = (labels or {}).get(explanation.model, explanation.model)
    base, output = values[0], values[-1]
    # The trace is drawn from the base value (plotly's ``base``), so the base bar is a zero-length mark at E[f(x)]
    # and the total bar spans E[f(x)] to f(x): drawn from 0 instead, a base of -1.5 log-odds would squeeze every
    # contribution into a corner of the axis. Its x values are therefore offsets from the base.
    offsets = [0.0, *values[1:-1], output - base]
    text = [f"{base:.3f}", *(f"{v:+.3f}" for v in values[1:-1]), f"{output:.3f}"]
    figure = go.Figure(go.Waterfall(
        orientation="h", measure=measures, y=names, x=offsets, base=base, text=text, textposition="outside",
        connector={"line": {"color": "lightgrey", "width": 1}},
        increasing={"marker": {"color": OUTCOME_COLOURS[1]}}, decreasing={"marker": {"color": OUTCOME_COLOURS[0]}},
        totals={"marker": {"color": OKABE_ITO["grey"]}}, hovertemplate="%{y}<br>%{text}<extra></extra>"))
    figure.add_vline(x=base, line={"dash": "dot", "color": OKABE_ITO["grey"], "width": 1})
    steps = base + np.cumsum(offsets)
    low, high = float(min(steps.min(), base)), float(max(steps.max(), base))
    pad = 0.15 * (high - low or 1.0)  # room for the values written beside the bars
    figure.update_layout(title=f"Why this prediction: {model}, {patient_id}",
                         xaxis_title=OUTPUT_TITLES.get(explanation.output, explanation.output),
                         xaxis={"range": [low - pad, high + pad]}, yaxis={"automargin": True},
                         height=max(260, _BAR_PX * len(bars) + 120), showlegend=False,
                         margin={"t": 60, "l": 10, "r": 20})
    return figure
