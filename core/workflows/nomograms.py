"""A study's nomograms drawn in its own words: axis titles from the study's labels, the patient marked; and the
time-to-event calculator (a patient's survival at the horizons with its confidence interval, and survival curve)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.figures.calculator import calculator_drawing, calculator_model
from core.figures.nomogram import MEDIAN_AXIS, NomogramLayout, cox_nomogram_layout, nomogram_layout, survival_axis_key
from core.stats.modeling import Nomogram, nomogram_design
from core.stats.outcomes import SurvivalOutcome
from core.stats.summaries import risk_percentile
from core.stats.survival.kaplan_meier import kaplan_meier
from core.stats.survival.nomogram import CoxNomogram, PatientSurvival, patient_survival
from core.vocabulary import horizon_column
from core.workflows.fit import StudyModels
from core.workflows.study import Study

__all__ = ["nomogram_labels", "study_nomogram_layout", "study_calculator", "DASHBOARD_WIDTHS", "cannot_draw",
           "drawable_models", "SurvivalCalculation", "survival_calculation", "cox_nomogram_labels",
           "study_cox_nomogram_layout"]

# The nomogram's width on screen: a 1280-px window gives the main column about 880 px with the sidebar open;
# a 1024-px tablet about 620. The layout is made for the width it is drawn at, so labels never meet.
DASHBOARD_WIDTHS = {"screen (1280 px and up)": 880, "tablet (1024 px)": 620, "wide (1920 px)": 1240}


def nomogram_labels(study: Study, nomogram: Nomogram) -> dict[str, str]:
    """Axis titles: each predictor in the study's words, and the risk axis named after the outcome."""
    labels = {v: study.label(v) for v in nomogram.variables}
    labels["risk"] = f"Risk of {study.spec.outcome.event_label}"
    return labels


def study_nomogram_layout(study: Study, nomogram: Nomogram | CoxNomogram, patient: Mapping | None = None,
                          interval: tuple[float, float] | None = None, *, width_px: float = 880,
                          font_size: float = 13, title: str | None = None) -> NomogramLayout:
    """:func:`core.figures.nomogram.nomogram_layout` with the study's labels (and the patient's 95 % CI of the
    risk). A Cox model's nomogram is drawn with its survival axes (:func:`study_cox_nomogram_layout`, whose
    ``intervals`` give the patient's survival intervals; ``interval`` is a risk's and is not used there)."""
    if isinstance(nomogram, CoxNomogram):
        return study_cox_nomogram_layout(study, nomogram, patient, width_px=width_px, font_size=font_size,
                                         title=title)
    return nomogram_layout(nomogram, nomogram_labels(study, nomogram), patient, width_px=width_px,
                           font_size=font_size, risk_interval=interval, title=title)


def study_calculator(study: Study, nomogram: Nomogram | CoxNomogram, patient: Mapping,
                     interval: tuple[float, float] | Mapping[float, tuple[float, float]], *, width_px: float,
                     training_risks: Sequence[float] = (), help_texts: Mapping[str, str] | None = None
                     ) -> tuple[dict, dict]:
    """The browser calculator of a nomogram in the study's words: its numbers
    (:func:`core.figures.calculator.calculator_model`, the inputs labelled as the study labels them) and its drawing
    (:func:`core.figures.calculator.calculator_drawing` of the nomogram laid out ``width_px`` wide for
    ``patient``).

    ``interval`` is the patient's 95 % interval as the layout writes it: a logistic model's risk (low, high), a Cox
    model's survival per horizon {horizon: (low, high)}. A logistic patient is ranked among ``training_risks`` (the
    model's training risks); a Cox patient among the training patients' total points (a lower hazard)."""
    labels = {v: study.label(v) for v in nomogram.variables}
    if isinstance(nomogram, CoxNomogram):
        outcome = _survival_outcome(study)
        numbers = calculator_model(nomogram, labels, list(nomogram.training_total_points), help_texts=help_texts,
                                   horizons=outcome.horizons,
                                   words={"horizon_labels": [outcome.horizon_label(h) for h in outcome.horizons],
                                          "time_unit": outcome.time_unit, "event": outcome.event_label})
        layout = study_cox_nomogram_layout(study, nomogram, patient, dict(interval), width_px=width_px)  # type: ignore[arg-type]
    else:
        numbers = calculator_model(nomogram, labels, training_risks, help_texts=help_texts)
        layout = study_nomogram_layout(study, nomogram, patient, interval, width_px=width_px)  # type: ignore[arg-type]
    return numbers, calculator_drawing(layout)


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


# --------------------------------------------------------------------------------------------------------------
# Time-to-event: the Cox nomogram in the study's words, and its calculator
# --------------------------------------------------------------------------------------------------------------
def _survival_outcome(study: Study) -> SurvivalOutcome:
    """The study's time-to-event outcome; a RadNomoError for a study of another outcome type."""
    outcome = study.spec.outcome
    if not isinstance(outcome, SurvivalOutcome):
        raise RadNomoError(f"the study's outcome is {outcome.kind}, not time-to-event: its nomogram has a risk axis, "
                           "not survival axes.")
    return outcome


def cox_nomogram_labels(study: Study, nomogram: CoxNomogram) -> dict[str, str]:
    """Axis titles of a Cox nomogram: each predictor in the study's words, survival at each horizon ("Survival at
    12 months") and the median time to the event ("Median time to death (months)")."""
    outcome = _survival_outcome(study)
    labels = {v: study.label(v) for v in nomogram.variables}
    for horizon in outcome.horizons:
        labels[survival_axis_key(horizon)] = f"Survival at {outcome.horizon_label(horizon)}"
    labels[MEDIAN_AXIS] = f"Median time to {outcome.event_label} ({outcome.time_unit})"
    return labels


def study_cox_nomogram_layout(study: Study, nomogram: CoxNomogram, patient: Mapping | None = None,
                              intervals: Mapping[float, tuple[float, float]] | None = None, *,
                              width_px: float = 880, font_size: float = 13,
                              title: str | None = None) -> NomogramLayout:
    """:func:`core.figures.nomogram.cox_nomogram_layout` at the study's horizons, in its labels and time unit, with
    the patient's 95 % confidence interval of survival at each horizon (``intervals``: horizon -> (low, high))."""
    outcome = _survival_outcome(study)
    return cox_nomogram_layout(nomogram, cox_nomogram_labels(study, nomogram), patient, horizons=outcome.horizons,
                               time_unit=outcome.time_unit, width_px=width_px, font_size=font_size,
                               survival_intervals=intervals, title=title)


@dataclass(frozen=True)
class SurvivalCalculation:
    """What the calculator of a time-to-event study shows for one patient (:func:`survival_calculation`).

    Attributes
    ----------
    patient : core.stats.survival.nomogram.PatientSurvival
        Points per predictor, total points, linear predictor (centred), ``survival`` (``horizon``, ``survival``,
        ``lower``, ``upper``: the probability and its 95 % confidence interval at each of the study's horizons,
        as ``summary(survfit(fit, newdata), times)``) and median survival time (NaN where not reached).
    curve : pandas.DataFrame
        The patient's predicted survival over the follow-up: ``time`` (each training event time, then the last
        training follow-up; time unit of the study), ``survival``, ``low``, ``high`` (95 % confidence interval).
    cohort : pandas.DataFrame
        The training patients' Kaplan-Meier curve: ``time``, ``survival``.
    percentile : float
        Share (0-100) of the training patients with fewer total points, i.e. a lower predicted hazard.
    intervals : dict
        Horizon -> (low, high) of the patient's survival there (for the nomogram's summary).
    """

    patient: PatientSurvival
    curve: pd.DataFrame
    cohort: pd.DataFrame
    percentile: float
    intervals: dict


def _model_interval(model):
    """The Cox model's own confidence interval of one patient's survival, as patient_survival's ``interval`` hook."""
    def interval(row: Mapping, horizons: Sequence[float], level: float) -> tuple[np.ndarray, np.ndarray]:
        if not np.isclose(level, 0.95):
            raise RadNomoError(f"the Cox model gives 95 % intervals only, not {level:.0%}.")
        table = model.predict_survival(pd.DataFrame([dict(row)]), list(horizons)).iloc[0]
        return (np.array([table[horizon_column(h, "low")] for h in horizons], dtype=float),
                np.array([table[horizon_column(h, "high")] for h in horizons], dtype=float))

    return interval


def survival_calculation(study: Study, nomogram: CoxNomogram, row: Mapping) -> SurvivalCalculation:
    """One patient read off a time-to-event study's nomogram: points, survival at the study's horizons with the
    Cox model's 95 % confidence intervals, median survival, the predicted survival curve and the training cohort's
    Kaplan-Meier curve to set it against.

    Parameters
    ----------
    study : Study
        A time-to-event study (its outcome's horizons and training patients).
    nomogram : CoxNomogram
        ``StudyResults(study).nomogram(model)``: it carries the fitted Cox model (``nomogram.model``).
    row : mapping
        Predictor -> value for every predictor of the nomogram.

    Returns
    -------
    SurvivalCalculation

    Raises
    ------
    RadNomoError
        A missing value or unknown level, a nomogram without its model, a horizon past the follow-up.
    """
    model = nomogram.model
    if model is None or not hasattr(model, "predict_survival"):
        raise RadNomoError("this nomogram was built without its Cox model, so it cannot give confidence intervals; "
                           "draw it from the study's fitted models.")
    outcome = _survival_outcome(study)
    horizons = [float(h) for h in outcome.horizons]
    patient = patient_survival(nomogram, row, horizons, interval=_model_interval(model))
    table = patient.survival
    intervals = {float(h): (float(low), float(high))
                 for h, low, high in zip(table["horizon"], table["lower"], table["upper"], strict=True)}
    # The curve at every step of the model's baseline: the predicted survival is a step function there, so this is
    # the whole curve, not a sampled one.
    times = model.baseline["time"].to_numpy(dtype=float)
    predicted = model.predict_survival(pd.DataFrame([dict(row)]), times).iloc[0]
    curve = pd.DataFrame({"time": times,
                          "survival": [predicted[horizon_column(t)] for t in times],
                          "low": [predicted[horizon_column(t, "low")] for t in times],
                          "high": [predicted[horizon_column(t, "high")] for t in times]})
    time, event = outcome.arrays(study.train)
    km = kaplan_meier(time, event)
    cohort = pd.DataFrame({"time": km.time, "survival": km.survival})
    percentile = risk_percentile(patient.total_points, pd.Series(nomogram.training_total_points))
    return SurvivalCalculation(patient=patient, curve=curve, cohort=cohort, percentile=percentile,
                               intervals=intervals)
