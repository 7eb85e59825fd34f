"""Nomogram: any fitted model drawn as a nomogram (clinical, a score alone, a score + clinical), and a calculator.

A binary outcome's nomogram reads the total points off as the predicted risk; a time-to-event outcome's (a Cox
model) as the predicted survival at each horizon and the median survival time, and its calculator adds the
patient's predicted survival curve against the training cohort's."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

import ui
from core.figures.charts import risk_histogram_figure, what_if_figure
from core.figures.nomogram import nomogram_file
from core.figures.survival import patient_survival_figure
from core.stats.modeling import sign_flips
from core.vocabulary import FUSED, score_column
from core.workflows.nomograms import (DASHBOARD_WIDTHS, cannot_draw, drawable_models, study_calculator,
                                     study_cox_nomogram_layout, study_nomogram_layout, survival_calculation)
from core.workflows.persistence import study_folder_name

ui.enter_page("pages/nomogram.py")

VALUES_KEY = "_nom_values"  # the calculator's committed values, by variable (kept across models and pages)
REVISION_KEY = "_nom_revision"  # raised when the page sets the values (a study patient chosen)

st.title("Nomogram")
st.caption("Each predictor earns points (the one with the widest effect spans 0-100); the total points read off "
           "as the model's prediction (the predicted risk, or for a time-to-event outcome the survival at each "
           "horizon). Points are on the scale of R's rms::nomogram; the model is fitted on the training cohort.")
ui.explain("nomogram")
study = ui.get_study()
spec = study.spec


def _score_help(models, scale: str) -> dict:
    """Each score's help line: computed from the CT on ``scale`` (the model's linear-predictor scale in words)."""
    return {score_column(f): f"Computed from the patient's CT by the {study.model_label(f)} signature ({scale}); "
                             "see the Models page for its formula." for f in models.scores}


def _downloads(which: str, nomogram, print_file, extra_axes: list[pd.DataFrame] | None = None) -> None:
    """The nomogram's files (PNG/SVG/PDF, A4 and slide, laid out at the click by ``print_file(fmt, page)``) and its
    points as CSV (with ``extra_axes``: a Cox nomogram's survival ticks)."""
    name = f"{study_folder_name(study.name)}_nomogram_{which}"
    downloads = st.container(horizontal=True, wrap=True, key="nom_downloads")  # buttons as wide as their labels
    with downloads:
        for fmt, page, text in (("png", "a4", "PNG, A4 (300 dpi)"), ("svg", "a4", "SVG, A4"),
                                ("pdf", "a4", "PDF, A4"), ("png", "slide", "PNG, slide"),
                                ("pdf", "slide", "PDF, slide")):
            ui.bytes_download(text, lambda fmt=fmt, page=page: print_file(fmt, page),
                              f"{name}_{page}.{fmt}", {"png": "image/png", "svg": "image/svg+xml",
                                                       "pdf": "application/pdf"}[fmt], key=f"nom_dl_{fmt}_{page}")
        axes = [nomogram.axis(v).assign(variable=v) for v in nomogram.variables] + list(extra_axes or [])
        ui.csv_download(pd.concat(axes), "nomogram_axes.csv", label="Points (CSV)", key="nom_dl_axes")


def _calculator_values(nomogram, data: pd.DataFrame, typical: dict) -> tuple[dict, int, float]:
    """The calculator's heading and choices. Returns its values: those last committed in this session (kept across
    models and pages), a study patient's once chosen (test patients first), else the typical training patient;
    the revision the browser takes them again at (raised when the page sets them); the nomogram's width (px)."""
    st.subheader("Calculator")
    choose = st.columns([3, 2])
    patients = ["(enter values)", *study.split.test_ids, *study.split.train_ids]
    source = choose[0].selectbox("Start from a patient of the study", patients, key="nom_patient",
                                 help="Fills the inputs with that patient's values (test patients first).")
    screen = choose[1].selectbox("Nomogram drawn for", list(DASHBOARD_WIDTHS), key="nom_width",
                                 help="The nomogram is laid out for the width it is shown at, so no two labels meet.")
    values = st.session_state.setdefault(VALUES_KEY, {})
    if source != st.session_state.get("_nom_filled_from"):
        st.session_state["_nom_filled_from"] = source
        if source != patients[0]:
            values.update(ui.typed_inputs(data.loc[source, nomogram.variables].to_dict(), nomogram.levels))
            st.session_state[REVISION_KEY] = st.session_state.get(REVISION_KEY, 0) + 1
    row = {}
    for variable in nomogram.variables:
        value = values.get(variable)
        known = value in nomogram.levels[variable] if variable in nomogram.levels else isinstance(value, float)
        row[variable] = value if known else typical[variable]
    return ui.typed_inputs(row, nomogram.levels), st.session_state.get(REVISION_KEY, 0), DASHBOARD_WIDTHS[screen]


def _commit(levels: dict) -> Callable[[dict], None]:
    """Keep the values the browser committed, for the rest of the page (what-if, files) and the next visit."""
    def keep(inputs: dict) -> None:
        st.session_state.setdefault(VALUES_KEY, {}).update(ui.typed_inputs(inputs, levels))
    return keep


def binary_nomogram(models, predictions: pd.DataFrame, which: str, nomogram, labels: dict) -> None:
    """A binary outcome's nomogram (a logistic model's): the calculator and the nomogram, evaluated in the browser
    as the inputs move; the training-risk distribution, what-if and files for the committed values."""
    if which == FUSED:  # an axis that runs the other way than in the clinical model is explained where it is drawn
        for flip in sign_flips(models.clinical, models.fused, study.label):
            st.caption(f":material/swap_vert: {flip}")
    model = nomogram.model
    scores = [c for c in predictions.columns if c.endswith("_score")]
    data = study.cohort.join(predictions[scores])
    train = data.loc[study.train_ids]
    # Fixed for the model, so outside the calculator's fragment: the predictions hold every model's training risks.
    typical = ui.results(study).typical_inputs(nomogram.variables, nomogram.levels)
    train_risk = predictions.loc[study.train_ids, which]

    def _calculator() -> None:
        row, revision, width_px = _calculator_values(nomogram, data, typical)
        # The server's numbers for the committed values: the layout's room, what-if and the files start there.
        interval = model.predict_interval(pd.DataFrame([row])).iloc[0]  # probability, low, high
        probability = float(interval["probability"])
        bounds = (float(interval["low"]), float(interval["high"]))
        numbers, drawing = study_calculator(study, nomogram, row, bounds, width_px=width_px,
                                            training_risks=train_risk.dropna(),
                                            help_texts=_score_help(models, "log-odds"))
        ui.nomogram_calculator("nom_calc", numbers, drawing, row, revision=revision, on_commit=_commit(nomogram.levels))
        st.caption(f"{labels[which]}. Points, risk, its 95 % CI and the marks follow each value as you type (worked "
                   f"out in your browser from the fitted model). 1 point = {1 / nomogram.points_per_unit_lp:.4f} on "
                   "the log-odds scale; the total-points axis spans the training patients' totals (rms's pretty() "
                   "of the linear predictor); the guide reads the total off as the risk."
                   + (" The score axis is the patient's score, computed from the CT (New patient page)."
                      if which == FUSED else ""))

        # -----------------------------------------------------------------------------------------
        st.subheader("Against the training cohort, and what if?")
        st.caption("For the values last entered (press Enter or leave a field).")
        left, right = st.columns(2)
        events = spec.outcome.events(train)
        by_outcome = {spec.outcome.labels[k]: train_risk[events == k] for k in (0, 1)}
        left.plotly_chart(risk_histogram_figure(by_outcome, probability,
                                                title="Predicted risk in the training cohort"),
                          key="nom_distribution")
        with right:
            moved = st.selectbox("Move one predictor, keep the others", nomogram.variables, key="nom_whatif",
                                 format_func=study.label)
            curve = nomogram.what_if(row, moved)
            st.plotly_chart(what_if_figure(curve, row[moved], probability, label=study.label(moved),
                                           categorical=moved in nomogram.levels), key="nom_whatif_figure")
        low, high = curve.loc[curve["probability"].idxmin()], curve.loc[curve["probability"].idxmax()]
        st.caption(f"Across its range, {study.label(moved)} alone moves this patient's risk from "
                   f"{low['probability']:.1%} to {high['probability']:.1%} "
                   f"({high['points'] - low['points']:.0f} points).")
        # The patient's values are bound (as an immutable tuple of items) when the button is drawn; the file is
        # laid out at the click.
        drawn_row = tuple(row.items())

        def print_file(fmt: str, page: str, items=drawn_row, bounds=bounds) -> bytes:
            layout = study_nomogram_layout(study, nomogram, dict(items), bounds, width_px=880,
                                           title=f"{study.name}: {labels[which]}")
            return nomogram_file(layout, fmt, page=page)

        _downloads(which, nomogram, print_file)

    _calculator()


def survival_nomogram(models, predictions: pd.DataFrame, which: str, nomogram, labels: dict) -> None:
    """A time-to-event outcome's nomogram (a Cox model's): calculator with survival at each horizon and its 95 % CI,
    the patient's survival curve against the training cohort's Kaplan-Meier curve, the figure with survival axes."""
    outcome = spec.outcome
    horizons_text = ", ".join(outcome.horizon_label(h) for h in outcome.horizons)
    st.caption(f"For this time-to-event outcome the total points read off as the predicted probability of being "
               f"free of {outcome.event_label} at {horizons_text} and as the median time to {outcome.event_label}, "
               "as rms::nomogram draws a Cox model (cph) with Survival() and Quantile().")
    scores = [c for c in predictions.columns if c.endswith("_score")]
    data = study.cohort.join(predictions[scores])
    typical = ui.results(study).typical_inputs(nomogram.variables, nomogram.levels)

    def _calculator() -> None:
        row, revision, width_px = _calculator_values(nomogram, data, typical)
        # The server's numbers for the committed values: the layout's room, the curve, what-if and the files.
        result = survival_calculation(study, nomogram, row)
        numbers, drawing = study_calculator(study, nomogram, row, result.intervals, width_px=width_px,
                                            help_texts=_score_help(models, "log relative hazard"))
        ui.nomogram_calculator("nom_calc", numbers, drawing, row, revision=revision, on_commit=_commit(nomogram.levels))
        if result.patient.interval_note:
            st.caption(result.patient.interval_note)
        st.caption(f"{labels[which]}. Points, survival with its 95 % CI (the Cox model's), the median time and the "
                   "marks follow each value as you type (worked out in your browser from the fitted model). 1 point = "
                   f"{1 / nomogram.points_per_unit_lp:.4f} on the log relative hazard scale; the total-points axis "
                   f"spans the training patients' totals (rms's pretty() of the linear predictor); survival at "
                   f"{horizons_text} and the median time to {outcome.event_label} are read off the total points (the "
                   "Cox model's baseline survival of the training cohort).")

        # -----------------------------------------------------------------------------------------
        st.subheader("Against the training cohort, and what if?")
        st.caption("For the values last entered (press Enter or leave a field).")
        left, right = st.columns(2)
        left.plotly_chart(patient_survival_figure(result.curve, result.cohort, outcome.horizons, outcome.time_unit,
                                                  cohort_label="training cohort (Kaplan-Meier)"),
                          key="nom_survival_curve")
        with right:
            choose = st.columns(2)
            moved = choose[0].selectbox("Move one predictor, keep the others", nomogram.variables, key="nom_whatif",
                                        format_func=study.label)
            horizon = choose[1].selectbox("Risk by", list(outcome.horizons), key="nom_whatif_horizon",
                                          format_func=outcome.horizon_label,
                                          help=f"The risk of {outcome.event_label} by this time: 1 - predicted "
                                               "survival.")
            curve = nomogram.what_if(row, moved, horizon)
            survival = result.patient.survival
            risk = 1 - float(survival.loc[survival["horizon"] == horizon, "survival"].iloc[0])
            st.plotly_chart(what_if_figure(curve, row[moved], risk, label=study.label(moved),
                                           categorical=moved in nomogram.levels), key="nom_whatif_figure")
        low, high = curve.loc[curve["probability"].idxmin()], curve.loc[curve["probability"].idxmax()]
        st.caption(f"Across its range, {study.label(moved)} alone moves this patient's risk of "
                   f"{outcome.event_label} by {outcome.horizon_label(horizon)} from {low['probability']:.1%} to "
                   f"{high['probability']:.1%} ({high['points'] - low['points']:.0f} points).")
        drawn_row = tuple(row.items())
        intervals = result.intervals

        def print_file(fmt: str, page: str, items=drawn_row, intervals=intervals) -> bytes:
            layout = study_cox_nomogram_layout(study, nomogram, dict(items), intervals, width_px=880,
                                               title=f"{study.name}: {labels[which]}")
            return nomogram_file(layout, fmt, page=page)

        # the survival axes sit on the total points: their ticks in rows of their own
        _downloads(which, nomogram, print_file,
                   [nomogram.survival_axis(h).rename(columns={"survival": "value"})
                    .assign(variable=f"survival at {outcome.horizon_label(h)}") for h in outcome.horizons])

    _calculator()


# What each outcome type's nomogram shows (the one place the two are told apart on this page).
NOMOGRAM_PAGES = {"binary": binary_nomogram, "survival": survival_nomogram}
SCORE_ALONE = {"binary": "a logistic model", "survival": "a Cox model"}


@st.fragment
def nomogram_page() -> None:
    """The model, its calculator, what-if and nomogram, as one fragment: a changed control reruns this, not the page.

    One fragment, not one per part: a value the browser calculator commits as another control is clicked (the
    click blurs the field) reaches Streamlit in the same batch of widget updates, and a batch from two fragments is
    flushed as one fragment's rerun, so the other control's change would be lost."""
    with ui.guard():
        models = ui.results(study).models
        predictions = ui.results(study).predictions
        ui.no_clinical_note(models)
        choices = drawable_models(models)[::-1]  # fused first, clinical last
        for name in models.model_names:
            if name not in choices:  # a learner that cannot be drawn says so, plainly
                st.caption(f"{study.model_label(name)}: {cannot_draw(models, name)}")
        labels = study.model_labels()
        if st.session_state.get("nom_model") not in choices:
            st.session_state["nom_model"] = choices[0]
        which = st.radio("Model", choices, horizontal=True, key="nom_model", format_func=labels.get,
                         help=f"A score alone is drawn through {SCORE_ALONE[models.outcome_kind]} of the outcome on it "
                              "(training cohort).")
        nomogram = ui.results(study).nomogram(which)
        NOMOGRAM_PAGES[models.outcome_kind](models, predictions, which, nomogram, labels)


nomogram_page()
