"""Static figures (matplotlib, PNG bytes) for the study report: they need no browser.

Each function takes tidy results computed elsewhere (ROC points, calibration bins, net benefit) and the
models' colours and labels; no statistics are computed here.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import pandas as pd

__all__ = ["png_bytes", "roc_png", "calibration_png", "decision_png"]


def png_bytes(figure, dpi: int = 110) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def roc_png(panels: Mapping[str, Mapping[str, tuple[pd.DataFrame, str]]], colours: Mapping[str, str]) -> bytes:
    """One panel per cohort: each model's ROC curve (``fpr``, ``tpr``) with its legend text."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.6), squeeze=False)
    for axis, (title, curves) in zip(axes[0], panels.items(), strict=True):
        for model, (curve, legend) in curves.items():
            axis.plot(curve["fpr"], curve["tpr"], color=colours[model], label=legend)
        axis.plot([0, 1], [0, 1], ls=":", color="grey")
        axis.set(title=title, xlabel="1 - specificity", ylabel="sensitivity")
        axis.legend(fontsize=7, loc="lower right")
    return png_bytes(figure)


def calibration_png(curves: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]], labels: Mapping[str, str],
                    colours: Mapping[str, str], title: str) -> bytes:
    """Calibration: decile points (``mean_predicted``, ``observed``) and the smooth curve per model."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5, 4.6))
    for model, (binned, smooth) in curves.items():
        axis.plot(binned["mean_predicted"], binned["observed"], "o", color=colours[model])
        axis.plot(smooth["predicted"], smooth["observed"], color=colours[model], label=labels[model])
    axis.plot([0, 1], [0, 1], ls=":", color="grey")
    axis.set(title=title, xlabel="predicted probability", ylabel="observed fraction", xlim=(0, 1), ylim=(0, 1))
    axis.legend(fontsize=8)
    return png_bytes(figure)


def decision_png(curves: Mapping[str, pd.DataFrame], labels: Mapping[str, str], colours: Mapping[str, str],
                 title: str) -> bytes:
    """Decision curves: net benefit per model, with treat-all and treat-none."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 4.6))
    first = next(iter(curves.values()))
    axis.plot(first["threshold"], first["treat_all"], "k--", label="treat all")
    axis.axhline(0, color="black", lw=0.8, label="treat none")
    for model, curve in curves.items():
        axis.plot(curve["threshold"], curve["net_benefit"], color=colours[model], label=labels[model])
    top = max(float(c["net_benefit"].max()) for c in curves.values())
    axis.set(title=title, xlabel="threshold probability", ylabel="net benefit", ylim=(-0.05, max(0.05, top * 1.15)))
    axis.legend(fontsize=7)
    return png_bytes(figure)
