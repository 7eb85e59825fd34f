"""A study's nomograms drawn in its own words: axis titles from the study's labels, the patient marked."""

from __future__ import annotations

from collections.abc import Mapping

from core.errors import RadNomoError
from core.figures.nomogram import NomogramLayout, nomogram_layout
from core.stats.modeling import Nomogram, nomogram_design
from core.workflows.fit import StudyModels
from core.workflows.study import Study

__all__ = ["nomogram_labels", "study_nomogram_layout", "DASHBOARD_WIDTHS", "cannot_draw", "drawable_models"]

# The nomogram's width on screen: a 1280-px window gives the main column about 880 px with the sidebar open;
# a 1024-px tablet about 620. The layout is made for the width it is drawn at, so labels never meet.
DASHBOARD_WIDTHS = {"screen (1280 px and up)": 880, "tablet (1024 px)": 620, "wide (1920 px)": 1240}


def nomogram_labels(study: Study, nomogram: Nomogram) -> dict[str, str]:
    """Axis titles: each predictor in the study's words, and the risk axis named after the outcome."""
    labels = {v: study.label(v) for v in nomogram.variables}
    labels["risk"] = f"Risk of {study.spec.outcome.event_label}"
    return labels


def study_nomogram_layout(study: Study, nomogram: Nomogram, patient: Mapping | None = None,
                          interval: tuple[float, float] | None = None, *, width_px: float = 880,
                          font_size: float = 13, title: str | None = None) -> NomogramLayout:
    """:func:`core.figures.nomogram.nomogram_layout` with the study's labels (and the patient's 95 % CI)."""
    return nomogram_layout(nomogram, nomogram_labels(study, nomogram), patient, width_px=width_px,
                           font_size=font_size, risk_interval=interval, title=title)


def cannot_draw(models: StudyModels, name: str) -> str:
    """Why the model ``name`` cannot be drawn as a nomogram, in one plain sentence ("" when it can).

    The model is asked (its ``drawable`` and ``nomogram_design``), whatever its learner; a score is drawn
    through its logistic model of the outcome, so it always can be.
    """
    if name in models.scores:
        return ""
    try:
        nomogram_design(models[name])
    except RadNomoError as error:
        return str(error)
    return ""


def drawable_models(models: StudyModels) -> list[str]:
    """The study's models that can be drawn as a nomogram, in display order."""
    return [name for name in models.model_names if not cannot_draw(models, name)]
