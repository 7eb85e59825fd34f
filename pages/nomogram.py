"""Nomogram: the fused (or clinical) model drawn as a nomogram, and a calculator for one patient."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import ui
from core.figures.charts import OUTCOME_COLOURS
from core.workflows.fit import FUSED_SCORE

ui.enter_page("pages/nomogram.py")

SCORE_COLUMN = f"{FUSED_SCORE}_score"

st.title("Nomogram")
st.caption("Each predictor earns points (the one with the widest effect spans 0-100); the total points read off "
           "as the predicted risk. Points are on the scale of R's rms::nomogram; the model is fitted on the "
           "training cohort.")
ui.explain("nomogram")
study = ui.get_study()
spec = study.spec

with ui.guard():
    models = ui.study_models(study)
    predictions = ui.study_predictions(study)
    choices = ["fused", "clinical"] if models.fused is not None else ["clinical"]
    which = st.radio("Model", choices, horizontal=True, key="nom_model",
                     format_func={"fused": "Fused model (DL-radiomics score + clinical)", "clinical": "Clinical model"}.get)
    model = models.fused if which == "fused" else models.clinical
    cohort = study.cohort.set_index(spec.id_column, drop=False)
    data = cohort.join(predictions[[SCORE_COLUMN]]) if SCORE_COLUMN in predictions else cohort
    train = data.loc[list(study.split.train_ids)]
    nomogram = models.nomogram(study.cohort, spec, predictions, which)

    # -----------------------------------------------------------------------------------------
    st.subheader("Calculator")
    patients = ["(enter values)", *study.split.test_ids, *study.split.train_ids]
    source = st.selectbox("Start from a patient of the study", patients, key="nom_patient",
                          help="Fills the inputs with that patient's values (test patients first).")
    if source != st.session_state.get("_nom_filled_from"):
        st.session_state["_nom_filled_from"] = source
        if source != patients[0]:
            ui.fill_inputs("nom_in_", data.loc[source, nomogram.variables].to_dict(), nomogram.levels)
    row = ui.predictor_inputs(nomogram.variables, nomogram.levels, train, "nom_in_", help_texts={
        SCORE_COLUMN: "Computed from the patient's CT by the DL-radiomics signature (log-odds); see the Models page "
                      "for its formula."})

    points = {v: nomogram.points(v, row[v]) for v in nomogram.variables}
    total = sum(points.values())
    interval = model.predict_interval(pd.DataFrame([row]))
    probability = float(interval["probability"].iloc[0])
    train_risk = model.predict_proba(train)
    percentile = float((train_risk < probability).mean() * 100)

    result = st.columns([1, 1, 1, 2])
    result[0].metric("Total points", f"{total:.1f}")
    result[1].metric("Predicted risk", f"{probability:.1%}",
                     help=f"95 % CI {interval['low'].iloc[0]:.1%} - {interval['high'].iloc[0]:.1%}")
    result[2].metric("95 % CI", f"{interval['low'].iloc[0]:.1%} - {interval['high'].iloc[0]:.1%}")
    result[3].metric("Training patients with a lower risk", f"{percentile:.0f} %",
                     help="Where this patient falls on the training cohort's distribution of predicted risk.")
    table = pd.DataFrame({"predictor": [ui.variable_label(v) for v in points],
                          "value": [f"{row[v]:g}" if not isinstance(row[v], str) else row[v] for v in points],
                          "points": [round(p, 1) for p in points.values()]})
    left, right = st.columns([2, 3])
    left.dataframe(table, hide_index=True, key="nom_points_table")
    histogram = go.Figure()
    for outcome_value in (0, 1):
        risks = train_risk[train[spec.outcome_column] == outcome_value]
        histogram.add_trace(go.Histogram(x=risks, name=spec.outcome_labels[outcome_value], opacity=0.6,
                                         marker_color=OUTCOME_COLOURS[outcome_value], xbins={"size": 0.025}))
    histogram.add_vline(x=probability, line_width=3, line_color="black", annotation_text="this patient")
    histogram.update_layout(barmode="overlay", title="Predicted risk in the training cohort", height=280,
                            xaxis_title="predicted probability", margin={"t": 40})
    right.plotly_chart(histogram, key="nom_distribution")

    # -----------------------------------------------------------------------------------------
    st.subheader("What if?")
    moved = st.selectbox("Move one predictor, keep the others", nomogram.variables, key="nom_whatif",
                         format_func=ui.variable_label)
    curve = nomogram.what_if(row, moved)
    what_if = go.Figure()
    what_if.add_trace(go.Scatter(x=curve["value"], y=curve["probability"], mode="lines+markers"
                                 if moved in nomogram.levels else "lines", name="predicted risk"))
    what_if.add_trace(go.Scatter(x=[row[moved]], y=[probability], mode="markers", name="this patient",
                                 marker={"size": 13, "color": "black"}))
    what_if.update_layout(title=f"Predicted risk as {ui.variable_label(moved)} changes", height=320,
                          xaxis_title=ui.variable_label(moved), yaxis_title="predicted probability",
                          yaxis_range=[0, 1], margin={"t": 40})
    st.plotly_chart(what_if, key="nom_whatif_figure")
    low, high = curve.loc[curve["probability"].idxmin()], curve.loc[curve["probability"].idxmax()]
    st.caption(f"Across its range, {ui.variable_label(moved)} alone moves this patient's risk from "
               f"{low['probability']:.1%} to {high['probability']:.1%} ({high['points'] - low['points']:.0f} points); "
               "the calculator above shows points, risk and position for the value you enter.")

    # -----------------------------------------------------------------------------------------
    st.subheader("The nomogram")
    figure, axes = ui.nomogram_plot(nomogram, points, total)
    st.plotly_chart(figure, key="nom_figure", config={"toImageButtonOptions": {"format": "svg"}})
    st.caption(f"1 point = {1 / nomogram.points_per_unit_lp:.4f} on the log-odds scale; intercept and the smallest "
               f"contributions give log-odds {nomogram.linear_predictor_at(0):.3f} at 0 points.")
    st.download_button("Points of every axis (CSV)", lambda: pd.concat(
        [a.assign(variable=v) for v, a in axes.items()]).to_csv(index=False).encode(), file_name="nomogram_axes.csv",
        mime="text/csv", key="nom_dl_axes", icon=":material/download:")
