"""Nomogram: any fitted model drawn as a nomogram (clinical, a score alone, a score + clinical), and a calculator."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from core.figures.charts import risk_histogram_figure, what_if_figure
from core.figures.nomogram import nomogram_file, nomogram_plotly
from core.stats.modeling import sign_flips
from core.stats.summaries import risk_percentile
from core.vocabulary import FUSED, score_column
from core.workflows.nomograms import DASHBOARD_WIDTHS, cannot_draw, drawable_models, study_nomogram_layout
from core.workflows.persistence import study_folder_name

ui.enter_page("pages/nomogram.py")

st.title("Nomogram")
st.caption("Each predictor earns points (the one with the widest effect spans 0-100); the total points read off "
           "as the predicted risk. Points are on the scale of R's rms::nomogram; the model is fitted on the "
           "training cohort.")
ui.explain("nomogram")
study = ui.get_study()
spec = study.spec

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
                     help="A score alone is drawn through a logistic model of the outcome on it (training cohort).")
    nomogram = ui.results(study).nomogram(which)
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

    @st.fragment
    def calculator() -> None:
        """The calculator, the what-if curve and the nomogram: a changed input runs only this part again."""
        with ui.guard():
            _calculator()

    def _calculator() -> None:
        # -----------------------------------------------------------------------------------------
        st.subheader("Calculator")
        patients = ["(enter values)", *study.split.test_ids, *study.split.train_ids]
        source = st.selectbox("Start from a patient of the study", patients, key="nom_patient",
                              help="Fills the inputs with that patient's values (test patients first).")
        if source != st.session_state.get("_nom_filled_from"):
            st.session_state["_nom_filled_from"] = source
            if source != patients[0]:
                ui.fill_inputs("nom_in_", data.loc[source, nomogram.variables].to_dict(), nomogram.levels)
        help_texts = {score_column(f): f"Computed from the patient's CT by the {study.model_label(f)} signature "
                                       "(log-odds); see the Models page for its formula." for f in models.scores}
        row = ui.predictor_inputs(study, nomogram.variables, nomogram.levels, typical, "nom_in_",
                                  help_texts=help_texts)

        points = {v: nomogram.points(v, row[v]) for v in nomogram.variables}
        total = sum(points.values())
        interval = model.predict_interval(pd.DataFrame([row])).iloc[0]  # probability, low, high
        probability = float(interval["probability"])
        percentile = risk_percentile(probability, train_risk)

        # A wrapping row of metrics each as wide as its value: the risk and its CI stay whole on a 1024-px tablet,
        # where four fixed columns cut them off.
        result = st.container(horizontal=True, wrap=True, gap="large", key="nom_result")
        result.metric("Predicted risk", f"{probability:.1%}", width="content")
        result.metric("95 % CI", f"{interval['low']:.1%} – {interval['high']:.1%}", width="content")
        result.metric("Total points", f"{total:.1f}", width="content")
        result.metric("Training patients with a lower risk", f"{percentile:.0f} %", width="content",
                      help="Where this patient falls on the training cohort's distribution of predicted risk.")
        table = pd.DataFrame({"predictor": [study.label(v) for v in points],
                              "value": [f"{row[v]:g}" if not isinstance(row[v], str) else row[v] for v in points],
                              "points": [round(p, 1) for p in points.values()]})
        left, right = st.columns([2, 3])
        left.dataframe(table, hide_index=True, key="nom_points_table")
        events = spec.outcome.events(train)
        by_outcome = {spec.outcome.labels[k]: train_risk[events == k] for k in (0, 1)}
        right.plotly_chart(risk_histogram_figure(by_outcome, probability,
                                                 title="Predicted risk in the training cohort"),
                           key="nom_distribution")

        # -----------------------------------------------------------------------------------------
        st.subheader("What if?")
        moved = st.selectbox("Move one predictor, keep the others", nomogram.variables, key="nom_whatif",
                             format_func=study.label)
        curve = nomogram.what_if(row, moved)
        st.plotly_chart(what_if_figure(curve, row[moved], probability, label=study.label(moved),
                                       categorical=moved in nomogram.levels), key="nom_whatif_figure")
        low, high = curve.loc[curve["probability"].idxmin()], curve.loc[curve["probability"].idxmax()]
        st.caption(f"Across its range, {study.label(moved)} alone moves this patient's risk from "
                   f"{low['probability']:.1%} to {high['probability']:.1%} "
                   f"({high['points'] - low['points']:.0f} points); "
                   "the calculator above shows points, risk and position for the value you enter.")

        # -----------------------------------------------------------------------------------------
        st.subheader("The nomogram")
        sizes = st.columns([2, 3])
        screen = sizes[0].selectbox("Drawn for", list(DASHBOARD_WIDTHS), key="nom_width",
                                    help="The nomogram is laid out for the width it is shown at, so no two labels "
                                         "meet.")
        bounds = (float(interval["low"]), float(interval["high"]))
        layout = study_nomogram_layout(study, nomogram, row, bounds, width_px=DASHBOARD_WIDTHS[screen])
        st.plotly_chart(nomogram_plotly(layout), key="nom_figure", width="content", theme=None,
                        config={"toImageButtonOptions": {"format": "svg"}})
        st.caption(f"{labels[which]}. 1 point = {1 / nomogram.points_per_unit_lp:.4f} on the log-odds scale; the total-"
                   "points axis spans the training patients' totals (rms's pretty() of the linear predictor); the "
                   "patient is marked on every axis and the guide reads the total off as the risk."
                   + (" The score axis is the patient's score, computed from the CT (New patient page)."
                      if which == FUSED else ""))
        # The patient's values are bound (as an immutable tuple of items) when the button is drawn; the file is
        # laid out at the click.
        drawn_row = tuple(row.items())

        def print_file(fmt: str, page: str, items=drawn_row, bounds=bounds) -> bytes:
            layout = study_nomogram_layout(study, nomogram, dict(items), bounds, width_px=880,
                                           title=f"{study.name}: {labels[which]}")
            return nomogram_file(layout, fmt, page=page)

        name = f"{study_folder_name(study.name)}_nomogram_{which}"
        downloads = st.container(horizontal=True, wrap=True, key="nom_downloads")  # buttons as wide as their labels
        with downloads:
            for fmt, page, text in (("png", "a4", "PNG, A4 (300 dpi)"), ("svg", "a4", "SVG, A4"),
                                    ("pdf", "a4", "PDF, A4"), ("png", "slide", "PNG, slide"),
                                    ("pdf", "slide", "PDF, slide")):
                ui.bytes_download(text, lambda fmt=fmt, page=page: print_file(fmt, page),
                                  f"{name}_{page}.{fmt}", {"png": "image/png", "svg": "image/svg+xml",
                                                           "pdf": "application/pdf"}[fmt], key=f"nom_dl_{fmt}_{page}")
            ui.csv_download(pd.concat([nomogram.axis(v).assign(variable=v) for v in nomogram.variables]),
                            "nomogram_axes.csv", label="Points (CSV)", key="nom_dl_axes")

    calculator()
