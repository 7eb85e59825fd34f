"""A study's nomograms drawn in its own words: axis titles from the study's labels, the patient marked."""

from __future__ import annotations

from collections.abc import Mapping

from core.figures.nomogram import NomogramLayout, nomogram_layout
from core.stats.modeling import Nomogram
from core.workflows.study import Study

__all__ = ["nomogram_labels", "study_nomogram_layout", "DASHBOARD_WIDTHS"]

# The nomogram's width on screen: a 1280-px window gives the main column about 880 px with the sidebar open;
# a 1024-px tablet about 620. The layout is made for the width it is drawn at, so labels never meet.
DASHBOARD_WIDTHS = {"screen (1280 px and up)": 880, "tablet (1024 px)": 620, "wide (1920 px)": 1240}


def nomogram_labels(study: Study, nomogram: Nomogram) -> dict[str, str]:
    """Axis titles: each predictor in the study's words, and the risk axis named after the outcome."""
    labels = {v: study.label(v) for v in nomogram.variables}
    labels["risk"] = f"Risk of {study.spec.outcome_labels[1]}"
    return labels


def study_nomogram_layout(study: Study, nomogram: Nomogram, patient: Mapping | None = None,
                          interval: tuple[float, float] | None = None, *, width_px: float = 880,
                          font_size: float = 13, title: str | None = None) -> NomogramLayout:
    """:func:`core.figures.nomogram.nomogram_layout` with the study's labels (and the patient's 95 % CI)."""
    return nomogram_layout(nomogram, nomogram_labels(study, nomogram), patient, width_px=width_px,
                           font_size=font_size, risk_interval=interval, title=title)
