"""Static figures (matplotlib, PNG bytes) for the study report: they need no browser.

Each function takes tidy results computed elsewhere (ROC points, calibration bins, net benefit) and the
models' colours and labels; no statistics are computed here.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from core.stats.survival.kaplan_meier import KaplanMeier

__all__ = ["png_bytes", "roc_png", "calibration_png", "decision_png", "kaplan_meier_png", "td_roc_png", "td_auc_png",
           "survival_calibration_png", "survival_decision_png"]


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
    """Calibration: decile points (``mean_predicted``, ``observed``) and the smooth curve per model, with its
    pointwise 95 % band where the curve has ``low`` and ``high`` (the flexible calibration's; drawn clipped to 0-1)."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5, 4.6))
    for model, (binned, smooth) in curves.items():
        axis.plot(binned["mean_predicted"], binned["observed"], "o", color=colours[model])
        if "low" in smooth.columns:
            axis.fill_between(smooth["predicted"], smooth["low"].clip(0, 1), smooth["high"].clip(0, 1),
                              color=colours[model], alpha=0.18, lw=0)
        axis.plot(smooth["predicted"], smooth["observed"].clip(0, 1), color=colours[model], label=labels[model])
    axis.plot([0, 1], [0, 1], ls=":", color="grey")
    axis.set(title=title, xlabel="predicted probability", ylabel="observed fraction", xlim=(0, 1), ylim=(0, 1))
    axis.legend(fontsize=8)
    return png_bytes(figure)


def decision_png(curves: Mapping[str, pd.DataFrame], labels: Mapping[str, str], colours: Mapping[str, str],
                 title: str) -> bytes:
    """Decision curves: net benefit per model, with treat-all and treat-none, and each curve's bootstrap 95 % band
    where it has ``net_benefit_low`` and ``net_benefit_high``."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 4.6))
    first = next(iter(curves.values()))
    axis.plot(first["threshold"], first["treat_all"], "k--", label="treat all")
    axis.axhline(0, color="black", lw=0.8, label="treat none")
    for model, curve in curves.items():
        if "net_benefit_low" in curve.columns:
            axis.fill_between(curve["threshold"], curve["net_benefit_low"], curve["net_benefit_high"],
                              color=colours[model], alpha=0.15, lw=0)
        axis.plot(curve["threshold"], curve["net_benefit"], color=colours[model], label=labels[model])
    top = max(float(c["net_benefit"].max()) for c in curves.values())
    axis.set(title=title, xlabel="threshold probability", ylabel="net benefit", ylim=(-0.05, max(0.05, top * 1.15)))
    axis.legend(fontsize=7)
    return png_bytes(figure)


def kaplan_meier_png(curves: Mapping[str, KaplanMeier], *, title: str, time_unit: str,
                     colours: Mapping[str, str] | None = None, log_rank_p: float | None = None,
                     at_risk_times: Sequence[float] | None = None, show_ci: bool = True,
                     y_title: str = "survival probability") -> bytes:
    """Kaplan-Meier curves by group with CI bands, censoring ticks and the number at risk under the plot.

    The static twin of :func:`core.figures.survival.kaplan_meier_figure` (same inputs, same table).
    """
    from core.figures.palette import cohort_colours
    from core.figures.survival import at_risk_table, at_risk_times_for, log_rank_text

    plt = _pyplot()
    colours = dict(colours) if colours is not None else cohort_colours(list(curves))
    times = at_risk_times_for(curves) if at_risk_times is None else np.asarray(at_risk_times, dtype=float)
    table = at_risk_table(curves, times)
    last = max(max(float(curve.time[-1]) for curve in curves.values()), float(times.max()))
    figure, (axis, risk_axis) = plt.subplots(2, 1, figsize=(6, 4.6 + 0.25 * len(curves)), sharex=True,
                                             gridspec_kw={"height_ratios": [4, 0.4 + 0.25 * len(curves)]})
    for group, curve in curves.items():
        colour = colours[group]
        x, y = np.concatenate([[0.0], curve.time]), np.concatenate([[1.0], curve.survival])
        if show_ci:
            finite = np.isfinite(curve.lower) & np.isfinite(curve.upper)
            axis.fill_between(np.concatenate([[0.0], curve.time[finite]]),
                              np.concatenate([[1.0], curve.lower[finite]]),
                              np.concatenate([[1.0], curve.upper[finite]]), step="post", color=colour, alpha=0.15,
                              lw=0)
        axis.step(x, y, where="post", color=colour, label=group)
        censored = curve.n_censor > 0
        axis.plot(curve.time[censored], curve.survival[censored], "|", color=colour, ms=7)
    if log_rank_p is not None:
        axis.text(0.02, 0.04, log_rank_text(log_rank_p), transform=axis.transAxes)
    axis.set(title=title, ylabel=y_title, ylim=(0, 1.02), xlim=(0, last * 1.03))
    axis.tick_params(labelbottom=True)  # the times under the curves too, not only under the table
    axis.legend(fontsize=8, loc="upper right")
    # The table: one row per group (first on top), its counts in its colour under each time.
    for row, group in enumerate(curves):
        for time, count in zip(times, table.loc[group], strict=True):
            risk_axis.text(time, len(curves) - 1 - row, str(int(count)), color=colours[group], ha="center",
                           va="center", fontsize=8)
    risk_axis.set(ylim=(-0.6, len(curves) - 0.4), yticks=range(len(curves)), yticklabels=list(curves)[::-1],
                  xlabel=f"time ({time_unit})", xticks=times)
    risk_axis.set_title("Number at risk", fontsize=9, loc="left")
    # The counts at time 0 are centred on the axis: keep the group names clear of them.
    risk_axis.tick_params(axis="y", length=0, pad=14)
    for label in risk_axis.get_yticklabels():
        label.set_color(colours[label.get_text()])
    for side in ("top", "right", "left"):
        risk_axis.spines[side].set_visible(False)
    return png_bytes(figure)


def td_roc_png(panels: Mapping[float, Mapping[str, tuple[pd.DataFrame, str]]], colours: Mapping[str, str], *,
               time_unit: str, cohort: str = "") -> bytes:
    """Time-dependent ROC curves, one panel per horizon: horizon -> model -> (curve ``fpr``, ``tpr``, legend).

    Drawn as :func:`roc_png`, titled "<cohort>: at <horizon> <unit>".
    """
    prefix = f"{cohort}: " if cohort else ""
    return roc_png({f"{prefix}ROC at {horizon:g} {time_unit}": curves for horizon, curves in panels.items()}, colours)


def td_auc_png(table: pd.DataFrame, labels: Mapping[str, str], colours: Mapping[str, str], *, time_unit: str,
               title: str = "Time-dependent AUC") -> bytes:
    """AUC(t) per model over the horizons (``model``, ``horizon``, ``auc``, ``auc_low``, ``auc_high``) with CI bars."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 4.2))
    models = list(dict.fromkeys(table["model"]))
    horizons = np.sort(table["horizon"].unique().astype(float))
    shift = 0.06 * (float(np.min(np.diff(horizons))) if horizons.size > 1 else max(float(horizons[0]), 1.0))
    for index, model in enumerate(models):
        rows = table[table["model"] == model].sort_values("horizon")
        offset = (index - (len(models) - 1) / 2) * shift  # side by side, so that the bars do not hide each other
        axis.errorbar(rows["horizon"] + offset, rows["auc"], yerr=[rows["auc"] - rows["auc_low"],
                      rows["auc_high"] - rows["auc"]], color=colours[model], marker="o", capsize=3,
                      label=labels[model])
    axis.axhline(0.5, ls=":", color="grey")
    axis.set(title=title, xlabel=f"horizon ({time_unit})", ylabel="AUC(t)", xticks=horizons,
             ylim=(max(0.0, min(0.4, float(table["auc_low"].min()) - 0.05)), 1.0))
    axis.legend(fontsize=7)
    return png_bytes(figure)


def survival_calibration_png(panels: Mapping[str, Mapping[str, pd.DataFrame]], labels: Mapping[str, str],
                             colours: Mapping[str, str]) -> bytes:
    """Calibration of predicted survival, one panel per horizon: panel title -> model -> its risk groups
    (``predicted``: mean predicted survival, ``observed``: Kaplan-Meier survival, ``low``, ``high``: its CI; all
    0..1), drawn as points with error bars joined per model, and the diagonal.

    The static twin of :func:`core.figures.survival.survival_calibration_figure`.
    """
    from core.vocabulary import SURVIVAL_CALIBRATION_COLUMNS

    plt = _pyplot()
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.2), squeeze=False)
    for axis, (title, groups) in zip(axes[0], panels.items(), strict=True):
        for model, rows in groups.items():
            rows = rows.sort_values("predicted")
            axis.errorbar(rows["predicted"], rows["observed"], yerr=[rows["observed"] - rows["low"],
                          rows["high"] - rows["observed"]], color=colours[model], marker="o", ms=4, capsize=2,
                          label=labels[model])
        axis.plot([0, 1], [0, 1], ls=":", color="grey")
        axis.set(title=title, xlabel=SURVIVAL_CALIBRATION_COLUMNS["predicted"],
                 ylabel=SURVIVAL_CALIBRATION_COLUMNS["observed"], xlim=(0, 1), ylim=(0, 1))
        axis.legend(fontsize=7, loc="upper left")
    return png_bytes(figure)


def survival_decision_png(panels: Mapping[str, Mapping[str, pd.DataFrame]], labels: Mapping[str, str],
                          colours: Mapping[str, str]) -> bytes:
    """Decision curves at each horizon, one panel per horizon: panel title -> model -> ``threshold`` (risk of the
    event by the horizon, 0..1), ``net_benefit``, ``treat_all`` (the same for every model); treat-none is 0.
    Thresholds where the net benefit is undefined (NaN) leave a gap.

    The static twin of the pages' decision curves (:func:`core.figures.charts.decision_curve_figure`).
    """
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.2), squeeze=False)
    for axis, (title, curves) in zip(axes[0], panels.items(), strict=True):
        first = next(iter(curves.values()))
        axis.plot(first["threshold"], first["treat_all"], "k--", label="treat all")
        axis.axhline(0, color="black", lw=0.8, label="treat none")
        for model, curve in curves.items():
            if "net_benefit_low" in curve.columns:  # the bootstrap 95 % band, where the curve holds one
                axis.fill_between(curve["threshold"], curve["net_benefit_low"], curve["net_benefit_high"],
                                  color=colours[model], alpha=0.15, lw=0)
            axis.plot(curve["threshold"], curve["net_benefit"], color=colours[model], label=labels[model])
        values = np.concatenate([c["net_benefit"].to_numpy(dtype=float) for c in curves.values()])
        top = float(np.nanmax(values)) if np.isfinite(values).any() else 0.0
        axis.set(title=title, xlabel="threshold risk of the event", ylabel="net benefit",
                 ylim=(-0.05, max(0.05, top * 1.15)))
        axis.legend(fontsize=7)
    return png_bytes(figure)
