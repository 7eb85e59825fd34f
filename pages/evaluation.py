"""Evaluation: ROC/AUC with DeLong CIs, a linked threshold explorer, Table 2, DeLong pairs, calibration, DCA,
violins; every table and curve read from the study's one evaluation (core.workflows.evaluation)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

import ui
from core.figures.charts import (calibration_figure, confusion_figure, decision_curve_figure, roc_figure,
                                 violin_figure)
from core.figures.palette import model_colours
from core.stats.evaluation import interval_text
from core.stats.summaries import compare_groups
from core.vocabulary import COHORTS, CUTOFF_RULES, PROPORTION_CIS, format_p, score_column
from core.workflows.evaluation import operating_point
from core.workflows.study import EvaluationSettings

ui.enter_page("pages/evaluation.py")

# The study's evaluation settings the widgets were last set from: when the study's differ (another study opened,
# the page re-entered after its widget state was dropped), the widgets are set from the study again.
SYNCED_KEY = "_ev_synced"
VALUE_WIDGETS = {"fixed": ("ev_fixed", 0.5), "sensitivity": ("ev_target_sens", 0.8)}  # key, first value

st.title("Evaluation")
st.caption("Every model is fitted and every cut-off chosen on the training cohort; the test cohort only measures. "
           "Higher predicted probability = more likely an event; positive when probability ≥ cut-off.")
ui.explain("evaluation")
study = ui.get_study()
spec = study.spec
labels = spec.outcome.labels

with ui.guard():
    predictions = ui.results(study).predictions
    outcome = study.outcome
    ui.no_clinical_note(ui.results(study).models)
    models = ui.results(study).models.model_names
    model_labels, colours = study.model_labels(), model_colours(study.model_names)
    cohorts = study.cohorts()
    if study.has_test:
        test_events = int(outcome.loc[cohorts["test"]].sum())
        test_non_events = len(cohorts["test"]) - test_events
        if min(test_events, test_non_events) < 10:
            st.warning(f"The test cohort has {test_events} event(s) and {test_non_events} non-event(s): its AUC, "
                       "metrics and calibration rest on very few patients and their intervals are wide (fewer than 10 "
                       "of a class). Consider a larger test fraction (Cohort page) or the Internal validation page.",
                       icon=":material/warning:")
    else:
        st.info("This study has no test cohort: every figure here is on the training patients, whose performance is "
                "optimistic. The Internal validation page estimates it on new patients.", icon=":material/info:")

    # The cut-off rule, its value and the CI method are the study's (saved with it; External validation and the
    # report use them too): the widgets show the study's and a change makes a new study.
    evaluation = study.evaluation
    if st.session_state.get(SYNCED_KEY) != evaluation or "ev_rule" not in st.session_state:
        st.session_state["ev_rule"] = evaluation.cutoff_rule
        st.session_state["ev_ci"] = evaluation.proportion_ci
        for rule_name, (key, first) in VALUE_WIDGETS.items():
            st.session_state[key] = evaluation.cutoff_value if evaluation.cutoff_rule == rule_name else \
                st.session_state.get(key, first)
    options = st.columns([2, 1, 1, 1])
    rule = options[0].radio("Cut-off", list(CUTOFF_RULES), horizontal=True, key="ev_rule",
                            format_func=CUTOFF_RULES.get,
                            help="Saved with the study: External validation and the report use the same rule.")
    value = None
    if rule in VALUE_WIDGETS and st.session_state.get(VALUE_WIDGETS[rule][0]) is None:
        st.session_state[VALUE_WIDGETS[rule][0]] = VALUE_WIDGETS[rule][1]  # its state went while it was hidden
    if rule == "fixed":
        value = options[1].number_input("Probability", 0.01, 0.99, step=0.01, key="ev_fixed")
    elif rule == "sensitivity":
        value = options[1].number_input("Sensitivity", 0.05, 1.0, step=0.05, key="ev_target_sens")
    ci_method = options[2].radio("Proportion CIs", list(PROPORTION_CIS), horizontal=True, key="ev_ci",
                                 format_func=PROPORTION_CIS.get)
    chosen = EvaluationSettings(cutoff_rule=rule, cutoff_value=None if value is None else float(value),
                                proportion_ci=ci_method)
    if chosen != evaluation:
        study = ui.set_study(study.replace(evaluation=chosen))
    st.session_state[SYNCED_KEY] = chosen
    image_format = options[3].radio("Figure downloads", ["png", "svg"], horizontal=True, key="ev_image_format",
                                    help="Format of the camera button on each figure.")
    chart_config = {"toImageButtonOptions": {"format": image_format, "scale": 2}}
    # Every table and curve below, computed once per study (its evaluation settings included) and shared with
    # External validation and the report.
    evaluated = ui.results(study).evaluation
    cutoffs = evaluated.cutoffs
    for note in evaluated.notes:
        st.caption(note)

    # -----------------------------------------------------------------------------------------
    st.subheader("ROC curves")
    roc_columns = st.columns(len(cohorts))
    for column, (cohort, ids) in zip(roc_columns, cohorts.items(), strict=True):
        curves, aucs = evaluated.curves("roc", cohort), evaluated.intervals(cohort)
        column.plotly_chart(roc_figure(curves, aucs, title=f"{COHORTS[cohort]} cohort (n = {len(ids)})",
                                       labels=model_labels, colours=colours), key=f"ev_roc_{cohort}",
                            config=chart_config)

    # -----------------------------------------------------------------------------------------
    st.subheader("Threshold explorer")
    st.caption("One cut-off moves the operating point on the ROC curve, the confusion matrix, the metrics and the "
               "marker on the decision curve together. It starts at the cut-off rule's value for the model.")

    @st.fragment
    def threshold_explorer() -> None:
        """Only this part runs again when its controls move (the rest of the page stays as it is)."""
        with ui.guard():
            pick = st.columns([2, 1, 3])
            model = pick[0].selectbox("Model", models, index=len(models) - 1, key="ev_model",
                                      format_func=model_labels.get)
            cohort = pick[1].radio("Cohort", list(cohorts), horizontal=True, key="ev_cohort", format_func=COHORTS.get)
            rule_cutoff = float(np.clip(round(cutoffs[model], 3), 0.001, 0.999))
            # Keyed by the rule's cut-off: a new rule (or value) moves the slider to it; a drag stays until then.
            cutoff = pick[2].slider("Probability cut-off", 0.001, 0.999, value=rule_cutoff, step=0.001, format="%.3f",
                                    key=f"ev_cutoff_{model}_{rule_cutoff:.3f}",
                                    help=f"Training rule's value for this model: {cutoffs[model]:.3f}.")
            # The chosen cut-off's numbers (any cut-off, not only the rule's); the curves are the study's.
            point = operating_point(predictions, outcome, cohorts[cohort], model, cutoff, ci=ci_method)
            metrics, confusion = point.metrics, point.confusion
            explorer = st.columns([3, 2, 3])
            explorer[0].plotly_chart(roc_figure(evaluated.curves("roc", cohort, [model]),
                                                {model: evaluated.intervals(cohort)[model]},
                                                title=f"ROC, {COHORTS[cohort].lower()} cohort",
                                                labels={model: "AUC"}, colours=colours,
                                                marker=(model, confusion.fpr, confusion.tpr)),
                                     key="ev_explorer_roc", config=chart_config)
            with explorer[1]:
                st.plotly_chart(confusion_figure(confusion.as_dict(), labels), key="ev_confusion",
                                config=chart_config)
                shown = metrics[["estimate", "low", "high"]].astype(float).round(3)
                shown["n"] = [f"{int(a)}/{int(b)}" for a, b in zip(metrics["numerator"], metrics["denominator"],
                                                                  strict=True)]
                st.dataframe(shown, key="ev_metrics_table")
            # Short legend names: the third of a row cannot hold the model's full name (it is chosen above).
            explorer[2].plotly_chart(decision_curve_figure(evaluated.curves("decision", cohort, [model]),
                                                           title="Net benefit at this cut-off",
                                                           labels={model: "model"}, colours=colours,
                                                           marker=(model, cutoff, point.net_benefit)),
                                     key="ev_explorer_dca", config=chart_config)

    threshold_explorer()

    # -----------------------------------------------------------------------------------------
    st.subheader("Table 2: performance of every model")
    performance = evaluated.table2
    formatted = performance[["cohort", "model"]].copy()
    formatted["model"] = formatted["model"].map(model_labels)
    formatted = formatted.join(interval_text(performance))
    formatted["cut-off"] = performance["cutoff"].round(3)
    st.dataframe(formatted, hide_index=True, key="ev_table2")
    ui.csv_download(performance, "table2.csv", label="Table 2 (CSV)", key="ev_dl_table2")

    # -----------------------------------------------------------------------------------------
    st.subheader("DeLong tests: every pair of models")
    holm = st.toggle("Holm correction for the number of comparisons", key="ev_holm")
    if len(models) < 2:
        st.caption("Only one model so far: DeLong tests need two (add features for the scores).")
    pair_columns = st.columns(len(cohorts))
    for column, cohort in zip(pair_columns, cohorts, strict=True):
        pairs = evaluated.pairs(cohort, holm=holm)
        table = pairs.assign(model_a=pairs["model_a"].map(model_labels), model_b=pairs["model_b"].map(model_labels))
        for name in ("p_value", "p_holm"):
            if name in table:
                table[name] = table[name].map(format_p)
        column.markdown(f"**{COHORTS[cohort]} cohort**")
        column.dataframe(table.round(3), hide_index=True, key=f"ev_delong_{cohort}")
        with column:
            ui.csv_download(pairs, f"delong_{cohort}.csv", label="DeLong table (CSV)", key=f"ev_dl_delong_{cohort}")

    # -----------------------------------------------------------------------------------------
    st.subheader("Calibration")
    shown_models = st.multiselect("Models", models, default=[m for m in ("fused", "clinical") if m in models],
                                  key="ev_cal_models", format_func=model_labels.get)
    cal_columns = st.columns(len(cohorts))
    for column, cohort in zip(cal_columns, cohorts, strict=True):
        binned = evaluated.curves("calibration_bins", cohort, shown_models)
        smooth = evaluated.curves("calibration_smooth", cohort, shown_models)
        column.plotly_chart(calibration_figure(binned, smooth, title=f"{COHORTS[cohort]} cohort", labels=model_labels,
                                               colours=colours), key=f"ev_cal_{cohort}", config=chart_config)
    calibration = evaluated.calibration.drop(columns="left_out")
    shown = calibration.assign(model=calibration["model"].map(model_labels), hl_p=calibration["hl_p"].map(format_p))
    st.dataframe(shown.rename(columns={"brier": "Brier", "calibration_in_the_large": "calibration-in-the-large",
                                       "slope": "calibration slope",
                                       "recalibration_intercept": "calibration intercept (logistic recalibration)",
                                       "hl_statistic": "Hosmer-Lemeshow χ²", "hl_df": "HL df",
                                       "hl_p": "HL p"}).round(3),
                 hide_index=True, key="ev_cal_table")
    ui.csv_download(calibration, "calibration.csv", label="Calibration statistics (CSV)", key="ev_dl_cal")

    # -----------------------------------------------------------------------------------------
    st.subheader("Decision curves")
    dca_columns = st.columns(len(cohorts))
    for column, cohort in zip(dca_columns, cohorts, strict=True):
        curves = evaluated.curves("decision", cohort)
        column.plotly_chart(decision_curve_figure(curves, title=f"{COHORTS[cohort]} cohort", labels=model_labels,
                                                  colours=colours), key=f"ev_dca_{cohort}", config=chart_config)
        with column:
            long = pd.concat([c.assign(model=m) for m, c in curves.items()], ignore_index=True)
            ui.csv_download(long, f"decision_curves_{cohort}.csv", label="Net benefit (CSV)",
                            key=f"ev_dl_dca_{cohort}")

    # -----------------------------------------------------------------------------------------
    st.subheader("Scores by outcome")
    scores = [m for m in models if score_column(m) in predictions.columns]
    if not scores:
        st.caption("No score in this study (clinical variables only).")
    else:
        violin_cohort = st.radio("Cohort", list(cohorts), horizontal=True, key="ev_violin_cohort",
                                 format_func=COHORTS.get)
        ids = cohorts[violin_cohort]
        violin_columns = st.columns(len(scores))
        for column, score in zip(violin_columns, scores, strict=True):
            data = predictions.loc[ids, [score_column(score)]].join(outcome)
            comparison = compare_groups(data[score_column(score)], spec.outcome.events(data))
            column.plotly_chart(violin_figure(data, score_column(score), spec.outcome.event_column,
                                              labels={0: labels[0], 1: labels[1]}, title=model_labels[score],
                                              p_value_text="Mann-Whitney p "
                                                           f"{format_p(comparison.mann_whitney_p_value)}",
                                              y_title="score (log-odds)"),
                                key=f"ev_violin_{score}", config=chart_config)
