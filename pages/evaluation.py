"""Evaluation of the open study's models, its body chosen by the study's outcome kind (PAGE_BODIES).

Binary outcome: ROC/AUC with DeLong CIs, a linked threshold explorer, Table 2, DeLong pairs, calibration, DCA,
violins; every table and curve read from the study's one evaluation (core.workflows.evaluation).
Time-to-event outcome: Harrell's and Uno's C, Table 2 per horizon, time-dependent ROC and AUC(t), Kaplan-Meier
risk groups, Brier / IBS, calibration and decision curves at a horizon, C-index pairs; every table read from the
study's one SurvivalEvaluation (core.workflows.survival_evaluation), every figure from core.figures.survival."""

from __future__ import annotations

import dataclasses

from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

import ui
from core.errors import RadNomoError, listed
from core.figures.charts import (calibration_figure, confusion_figure, decision_curve_figure, roc_figure,
                                 violin_figure)
from core.figures.palette import model_colours
from core.figures.survival import kaplan_meier_figure, survival_calibration_figure, td_auc_figure, td_roc_figure
from core.stats.evaluation import interval_text
from core.stats.summaries import compare_groups
from core.vocabulary import (COHORTS, CONCORDANCE_WEIGHTINGS, CUTOFF_RULES, DISCRIMINATION_MEASURES, OUTCOME_KINDS,
                             PROPORTION_CIS, RISK_GROUPS, SURVIVAL_CALIBRATION_COLUMNS, format_interval, format_number,
                             format_p, horizon_text, score_column)
from core.workflows.evaluation import DECISION_RESAMPLES, operating_point
from core.workflows.survival_evaluation import SURVIVAL_DECISION_RESAMPLES
from core.workflows.study import EvaluationSettings, Study

ui.enter_page("pages/evaluation.py")

# The study's evaluation settings the widgets were last set from: when the study's differ (another study opened,
# the page re-entered after its widget state was dropped), the widgets are set from the study again.
SYNCED_KEY = "_ev_synced"
VALUE_WIDGETS = {"fixed": ("ev_fixed", 0.5), "sensitivity": ("ev_target_sens", 0.8)}  # key, first value


# ---------------------------------------------------------------------------------------------
# A binary study
# ---------------------------------------------------------------------------------------------

def binary_page(study: Study) -> None:
    """The page for a binary study (as it always was)."""
    st.caption("Every model is fitted and every cut-off chosen on the training cohort; the test cohort only measures. "
               "Higher predicted probability = more likely an event; positive when probability ≥ cut-off.")
    ui.explain("evaluation")
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
                st.warning(f"The test cohort has {test_events} event(s) and {test_non_events} non-event(s): its "
                           "AUC, metrics and calibration rest on very few patients and their intervals are wide "
                           "(fewer than 10 of a class). Consider a larger test fraction (Cohort page) or the Internal "
                           "validation page.", icon=":material/warning:")
        else:
            st.info("This study has no test cohort: every figure here is on the training patients, whose performance "
                    "is optimistic. The Internal validation page estimates it on new patients.",
                    icon=":material/info:")

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
                cohort = pick[1].radio("Cohort", list(cohorts), horizontal=True, key="ev_cohort",
                                       format_func=COHORTS.get)
                rule_cutoff = float(np.clip(round(cutoffs[model], 3), 0.001, 0.999))
                # Keyed by the rule's cut-off: a new rule (or value) moves the slider to it; a drag stays until then.
                cutoff = pick[2].slider("Probability cut-off", 0.001, 0.999, value=rule_cutoff, step=0.001,
                                        format="%.3f", key=f"ev_cutoff_{model}_{rule_cutoff:.3f}",
                                        help=f"Training rule's value for this model: {cutoffs[model]:.3f}.")
                # The chosen cut-off's numbers (any cut-off, not only the rule's); the curves are the study's. At the
                # slider's starting value the rule's own cut-off (a midpoint between training predictions, not on the
                # slider's 0.001 grid), so the explorer agrees with Table 2 until the slider moves.
                if cutoff == rule_cutoff:
                    cutoff = cutoffs[model]
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

        # The sections below the explorer, each drawn when its tab is opened: a first visit draws the ROC curves,
        # the explorer and Table 2, not every figure of the page (a tab switch, like a choice inside a section,
        # reruns this part alone).
        sections(study, evaluated, predictions, models, model_labels, colours, chart_config)


#: The Evaluation page's sections below the threshold explorer, one tab each (the first is open at first).
SECTIONS = ("Table 2 and DeLong tests", "Calibration", "Decision curves", "Comparing two models", "Scores by outcome")


@st.fragment
def sections(study: Study, evaluated, predictions: pd.DataFrame, models: list[str], model_labels: dict[str, str],
             colours: dict[str, str], chart_config: dict) -> None:
    """Table 2 and DeLong, calibration, decision curves, two models compared and the scores by outcome, as tabs whose
    content runs only while open (state under ``ev_section``)."""
    with ui.guard():
        tabs = st.tabs(list(SECTIONS), key="ev_section", on_change="rerun")
        drawers = (_table2_delong, _calibration, _decision_curves, _comparison, _scores_by_outcome)
        for tab, draw in zip(tabs, drawers, strict=True):
            if tab.open:
                with tab:
                    draw(study, evaluated, predictions, models, model_labels, colours, chart_config)


def _table2_delong(study, evaluated, predictions, models, model_labels, colours, chart_config) -> None:
    """Table 2 at the study's cut-off rule, and every pair of models' DeLong test per cohort."""
    cohorts = study.cohorts()
    st.subheader("Table 2: performance of every model")
    performance = evaluated.table2
    formatted = performance[["cohort", "model"]].copy()
    formatted["model"] = formatted["model"].map(model_labels)
    formatted = formatted.join(interval_text(performance))
    formatted["cut-off"] = performance["cutoff"].round(4)
    st.dataframe(formatted, hide_index=True, key="ev_table2")
    ui.csv_download(performance, "table2.csv", label="Table 2 (CSV)", key="ev_dl_table2")

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


def _calibration(study, evaluated, predictions, models, model_labels, colours, chart_config) -> None:
    """Calibration plots per cohort of the chosen models, the calibration statistics with their CIs."""
    cohorts = study.cohorts()
    st.subheader("Calibration")
    shown_models = st.multiselect("Models", models, default=[m for m in ("fused", "clinical") if m in models],
                                  key="ev_cal_models", format_func=model_labels.get)
    cal_columns = st.columns(len(cohorts))
    for column, cohort in zip(cal_columns, cohorts, strict=True):
        binned = evaluated.curves("calibration_bins", cohort, shown_models)
        flexible = evaluated.curves("calibration_flexible", cohort, shown_models)
        smooth = evaluated.curves("calibration_smooth", cohort, shown_models)  # where a model has no loess
        column.plotly_chart(calibration_figure(binned, smooth, title=f"{COHORTS[cohort]} cohort",
                                               labels=model_labels, colours=colours, flexible=flexible),
                            key=f"ev_cal_{cohort}", config=chart_config)
    st.caption("Points: deciles of predicted risk with 95 % intervals; line and band: the flexible (loess) "
               "calibration curve with its pointwise 95 % band.")
    ui.calibration_statistics(evaluated.calibration, model_labels, key="ev_cal_table",
                              group_names=lambda c: COHORTS.get(c, c))
    downloads = st.columns(2)
    with downloads[0]:
        ui.csv_download(evaluated.calibration, "calibration.csv", label="Calibration statistics (CSV)",
                        key="ev_dl_cal")
    with downloads[1]:
        ui.csv_download(evaluated.calibration_flexible, "calibration_curves.csv",
                        label="Flexible calibration curves (CSV)", key="ev_dl_cal_curves")


def _decision_curves(study, evaluated, predictions, models, model_labels, colours, chart_config) -> None:
    """Decision curves per cohort with their bootstrap bands, in the view the user picks."""
    cohorts = study.cohorts()
    st.subheader("Decision curves")
    ui.decision_views({c: evaluated.curves("decision", c) for c in cohorts}, model_labels, colours, key="ev_dca",
                      titles={c: f"{COHORTS[c]} cohort" for c in cohorts}, chart_config=chart_config,
                      n_boot=DECISION_RESAMPLES, seed=evaluated.seed)
    ui.csv_download(evaluated.decision.drop(columns="treat_none"), "decision_curve.csv",
                    label="Decision curves with bands (CSV)", key="ev_dl_dca")


def _comparison(study, evaluated, predictions, models, model_labels, colours, chart_config) -> None:
    """Two chosen models compared: net benefit difference and reclassification (ui.model_comparison)."""
    cohorts = study.cohorts()
    st.subheader("Comparing two models: net benefit difference and reclassification")
    ui.model_comparison(predictions, study.outcome, {c: list(ids) for c, ids in cohorts.items()}, list(models),
                        model_labels, colours, key="ev_compare", seed=evaluated.seed,
                        main=ui.results(study).models.main_model, group_names=lambda c: COHORTS.get(c, c))


def _scores_by_outcome(study, evaluated, predictions, models, model_labels, colours, chart_config) -> None:
    """Each score's distribution by outcome in the chosen cohort (violins, Mann-Whitney p)."""
    cohorts, spec, outcome = study.cohorts(), study.spec, study.outcome
    labels = spec.outcome.labels
    st.subheader("Scores by outcome")
    scores = [m for m in models if score_column(m) in predictions.columns]
    if not scores:
        st.caption("No score in this study (clinical variables only).")
        return
    violin_cohort = st.radio("Cohort", list(cohorts), horizontal=True, key="ev_violin_cohort",
                             format_func=COHORTS.get)
    ids = cohorts[violin_cohort]
    violin_columns = st.columns(len(scores))
    for column, score in zip(violin_columns, scores, strict=True):
        data = predictions.loc[ids, [score_column(score)]].join(outcome)
        groups = compare_groups(data[score_column(score)], spec.outcome.events(data))
        column.plotly_chart(violin_figure(data, score_column(score), spec.outcome.event_column,
                                          labels={0: labels[0], 1: labels[1]}, title=model_labels[score],
                                          p_value_text=f"Mann-Whitney p {format_p(groups.mann_whitney_p_value)}",
                                          y_title="score (log-odds)"),
                            key=f"ev_violin_{score}", config=chart_config)


# ---------------------------------------------------------------------------------------------
# A time-to-event study
# ---------------------------------------------------------------------------------------------

def _survival_notes(notes: tuple[str, ...]) -> None:
    """Every note of the evaluation (what was left out or is unreliable), in view: nothing is left out silently."""
    if not notes:
        return
    with st.expander(f"What the evaluation left out or flags ({len(notes)} note(s))", expanded=len(notes) <= 5,
                     icon=":material/info:"):
        for note in notes:
            st.caption(note)


def _concordance_section(evaluated, model_labels: dict[str, str]) -> None:
    """Harrell's and Uno's C with their CIs, every cohort and model."""
    st.subheader("Concordance: every model, every cohort")
    concordance = evaluated.concordance
    tau = f"{horizon_text(evaluated.horizons[-1])} {evaluated.time_unit}"
    st.caption(f"{CONCORDANCE_WEIGHTINGS['n']}: over every comparable pair of patients; "
               f"{CONCORDANCE_WEIGHTINGS['n/G2']}: weighted by the inverse of the censoring curve, up to {tau} (the "
               "last horizon). 0.5 = chance, 1 = every pair ordered. 95% CIs.")
    shown = pd.DataFrame({
        "cohort": concordance["cohort"].map(COHORTS),
        "model": concordance["model"].map(model_labels),
        "n": concordance["n"], "events": concordance["events"],
        CONCORDANCE_WEIGHTINGS["n"]: [format_interval(r.c_index, r.c_low, r.c_high)
                                      for r in concordance.itertuples()],
        CONCORDANCE_WEIGHTINGS["n/G2"]: [format_interval(r.uno_c, r.uno_low, r.uno_high)
                                         for r in concordance.itertuples()],
        "left out": concordance["left_out"]})
    st.dataframe(shown, hide_index=True, key="ev_s_concordance")
    ui.csv_download(concordance, "concordance.csv", label="Concordance (CSV)", key="ev_s_dl_concordance")


def _table2_section(evaluated, model_labels: dict[str, str]) -> None:
    """Table 2 of one cohort: concordance, then per horizon the AUC(t) and the metrics at the training cut-off."""
    st.subheader("Table 2: performance of every model")
    unit = evaluated.time_unit
    st.caption("Per horizon t (in " + unit + "): the time-dependent AUC (cases: event by t; controls: event-free "
               "after t), and at the model's cut-off (high risk = linear predictor above the training quantile chosen "
               "above) the "
               "sensitivity, specificity, PPV and NPV (inverse-probability-of-censoring weighted) and the "
               "high-risk group's Kaplan-Meier event rate by t. 95% CIs; empty where a horizon was left out.")
    table2 = evaluated.table2()
    cohort = st.radio("Cohort", list(evaluated.cohorts), horizontal=True, key="ev_s_table2_cohort",
                      format_func=COHORTS.get)
    rows = table2[table2["cohort"] == cohort]
    shown = pd.DataFrame({"model": rows["model"].map(model_labels), "n": rows["n"], "events": rows["events"],
                          CONCORDANCE_WEIGHTINGS["n"]: [format_interval(r.c_index, r.c_low, r.c_high)
                                                        for r in rows.itertuples()],
                          CONCORDANCE_WEIGHTINGS["n/G2"]: [format_interval(r.uno_c, r.uno_low, r.uno_high)
                                                           for r in rows.itertuples()],
                          "cut-off (linear predictor)": rows["cutoff"].map(format_number)})
    for horizon in evaluated.horizons:
        suffix = horizon_text(horizon)
        measure = DISCRIMINATION_MEASURES["td_auc"].format(horizon=suffix)
        shown[measure] = [format_interval(*values) for values in rows[[f"auc_{suffix}", f"auc_low_{suffix}",
                                                          f"auc_high_{suffix}"]].itertuples(index=False)]
        for metric in ("sensitivity", "specificity", "ppv", "npv"):
            # SENS, SPEC, PPV, NPV: the binary Table 2's abbreviations (its keys upper-cased).
            shown[f"{metric[:4].upper()}(t={suffix})"] = rows[f"{metric}_{suffix}"].map(format_number)
        shown[f"high-risk event rate by t={suffix}"] = [
            format_interval(*values) for values in rows[[f"high_event_rate_{suffix}", f"high_event_rate_low_{suffix}",
                                             f"high_event_rate_high_{suffix}"]].itertuples(index=False)]
    shown["left out"] = rows["left_out"]
    st.dataframe(shown, hide_index=True, key="ev_s_table2")
    ui.csv_download(table2, "table2.csv", label="Table 2, every cohort (CSV)", key="ev_s_dl_table2")


def _td_roc_section(evaluated, horizon: float, model_labels, colours, chart_config) -> None:
    """Time-dependent ROC curves at the chosen horizon (AUC(t) and CI in the legend), then AUC(t) over time."""
    unit, at = evaluated.time_unit, f"{horizon_text(horizon)} {evaluated.time_unit}"
    st.subheader("Time-dependent ROC")
    st.caption(f"Cumulative/dynamic ROC at {at}: cases had the event by {at}, controls were event-free after it "
               "(censored patients weighted by the inverse probability of censoring); the linear predictor is the "
               "marker. AUC(t) with its 95% CI in the legend.")
    columns = st.columns(len(evaluated.cohorts))
    for column, (cohort, ids) in zip(columns, evaluated.cohorts.items(), strict=True):
        roc = ui.rows_where(evaluated.td_roc, cohort=cohort, horizon=float(horizon))
        aucs = ui.rows_where(evaluated.td_auc, cohort=cohort, horizon=float(horizon))
        curves = {m: roc[roc["model"] == m] for m in evaluated.models if (aucs["model"] == m).any()}
        intervals = {r.model: (r.auc, r.auc_low, r.auc_high) for r in aucs.itertuples()}
        if not curves:
            column.caption(f"{COHORTS[cohort]} cohort: no time-dependent ROC at {at} (see the notes above).")
            continue
        column.plotly_chart(td_roc_figure(curves, intervals, horizon=horizon, time_unit=unit, labels=model_labels,
                                          colours=colours,
                                          title=f"{COHORTS[cohort]} cohort (n = {len(ids)}), {at}"),
                            key=f"ev_s_roc_{cohort}", config=chart_config)
    columns = st.columns(len(evaluated.cohorts))
    for column, cohort in zip(columns, evaluated.cohorts, strict=True):
        table = ui.rows_where(evaluated.td_auc, cohort=cohort)
        if table.empty:
            column.caption(f"{COHORTS[cohort]} cohort: no time-dependent AUC (see the notes above).")
            continue
        column.plotly_chart(td_auc_figure(table, unit, labels=model_labels, colours=colours,
                                          title=f"Time-dependent AUC, {COHORTS[cohort].lower()} cohort"),
                            key=f"ev_s_auc_{cohort}", config=chart_config)
    ui.csv_download(evaluated.td_auc, "td_auc.csv", label="AUC(t) (CSV)", key="ev_s_dl_td_auc")


def _median_text(row) -> str:
    """A risk group's median survival with its CI, 'not reached' (NaN: survival stays above 0.5) for the median
    or a limit; '' for an empty group."""
    if row.n == 0:
        return ""
    median, low, high = (format_number(v, 1) or "not reached" for v in (row.median, row.median_low,
                                                                         row.median_high))
    return f"{median} ({low}-{high})"


def _risk_group_section(evaluated, model_labels, chart_config) -> None:
    """Kaplan-Meier curves of the low and high risk groups (training cut-off) per cohort; log-rank, HR, medians."""
    unit = evaluated.time_unit
    st.subheader("Risk groups: Kaplan-Meier")
    st.caption("High risk = linear predictor above the model's cut-off, the chosen quantile (the median by default) "
               "of the training patients, applied unchanged to every cohort. Kaplan-Meier curves with 95% bands, "
               "censoring ticks and the number at risk; log-rank test, and the Cox hazard ratio of high vs low risk "
               "with its 95% CI (Wald p).")
    models = list(evaluated.models)
    model = st.selectbox("Model", models, index=models.index("fused") if "fused" in models else len(models) - 1,
                         key="ev_s_km_model", format_func=model_labels.get)
    columns = st.columns(len(evaluated.cohorts))
    for column, cohort in zip(columns, evaluated.cohorts, strict=True):
        curves = evaluated.km_curves(cohort, model)
        groups = ui.rows_where(evaluated.risk_groups, cohort=cohort, model=model)
        if not curves or groups.empty:
            column.caption(f"{COHORTS[cohort]} cohort: no risk-group curves for this model (see the notes above).")
            continue
        first = groups.iloc[0]
        column.plotly_chart(kaplan_meier_figure({RISK_GROUPS[g]: c for g, c in curves.items()},
                                                title=f"{COHORTS[cohort]} cohort: {model_labels[model]}",
                                                time_unit=unit,
                                                log_rank_p=None if np.isnan(first["logrank_p"]) else
                                                float(first["logrank_p"]),
                                                y_title="event-free probability"),
                            key=f"ev_s_km_{cohort}", config=chart_config)
        column.caption(f"HR high vs low risk {format_interval(first['hr'], first['hr_low'], first['hr_high'], 2)}, "
                       f"p {format_p(first['hr_p']) or '(not estimated)'}; cut-off {format_number(first['cutoff'])}.")
    table = evaluated.risk_groups
    shown = pd.DataFrame({"cohort": table["cohort"].map(COHORTS), "model": table["model"].map(model_labels),
                          "risk group": table["group"].map(RISK_GROUPS), "n": table["n"], "events": table["events"],
                          f"median survival, {unit} (95% CI)": [_median_text(r) for r in table.itertuples()],
                          "HR high vs low (95% CI)": [format_interval(r.hr, r.hr_low, r.hr_high, 2)
                                                      for r in table.itertuples()],
                          "HR p": table["hr_p"].map(format_p), "log-rank p": table["logrank_p"].map(format_p)})
    st.dataframe(shown, hide_index=True, key="ev_s_risk_groups")
    ui.csv_download(table, "risk_groups.csv", label="Risk groups (CSV)", key="ev_s_dl_risk_groups")


def _brier_section(evaluated, model_labels) -> None:
    """The Brier score at each horizon (with the Kaplan-Meier null model's) and the integrated Brier score."""
    unit = evaluated.time_unit
    st.subheader("Brier score")
    st.caption(f"Mean squared error of the predicted survival at each horizon (inverse-probability-of-censoring "
               f"weighted; lower is better, 95% CI), beside the null model's (the cohort's Kaplan-Meier survival for "
               f"everyone); the integrated Brier score (IBS) averages it over time up to the last evaluable horizon "
               f"({unit}).")
    brier, ibs = evaluated.brier, evaluated.ibs
    keys = evaluated.concordance[["cohort", "model"]]
    shown = pd.DataFrame({"cohort": keys["cohort"].map(COHORTS), "model": keys["model"].map(model_labels)})
    for horizon in evaluated.horizons:
        suffix = horizon_text(horizon)
        rows = keys.merge(brier[brier["horizon"] == float(horizon)], on=["cohort", "model"], how="left")
        shown[f"Brier(t={suffix})"] = [format_interval(r.brier, r.brier_low, r.brier_high) for r in rows.itertuples()]
        shown[f"null Brier(t={suffix})"] = rows["null_brier"].map(format_number).to_numpy()
    rows = keys.merge(ibs, on=["cohort", "model"], how="left")
    shown["IBS"] = rows["ibs"].map(format_number).to_numpy()
    shown["null IBS"] = rows["null_ibs"].map(format_number).to_numpy()
    shown[f"IBS up to ({unit})"] = rows["ibs_to"].map(lambda t: "" if pd.isna(t) else horizon_text(t)).to_numpy()
    st.dataframe(shown, hide_index=True, key="ev_s_brier")
    ui.csv_download(brier, "brier.csv", label="Brier scores (CSV)", key="ev_s_dl_brier")
    ui.csv_download(ibs, "ibs.csv", label="Integrated Brier scores (CSV)", key="ev_s_dl_ibs")


def _calibration_section(evaluated, horizon: float, model_labels, colours, chart_config) -> None:
    """Predicted vs observed survival at the chosen horizon per cohort; slope and O/E at every horizon."""
    unit, at = evaluated.time_unit, f"{horizon_text(horizon)} {evaluated.time_unit}"
    st.subheader("Calibration")
    st.caption(f"At {at}: patients in quantile groups of predicted survival, the mean predicted survival against "
               "the group's Kaplan-Meier survival (95% CI); on the diagonal = well calibrated. Below, at every "
               "horizon: the calibration slope (1 = ideal) and the observed / expected risk of the event (1 = ideal).")
    models = list(evaluated.models)
    shown_models = st.multiselect("Models", models, default=[m for m in ("fused", "clinical") if m in models],
                                  key="ev_s_cal_models", format_func=model_labels.get)
    columns = st.columns(len(evaluated.cohorts))
    for column, cohort in zip(columns, evaluated.cohorts, strict=True):
        rows = ui.rows_where(evaluated.calibration, cohort=cohort, horizon=float(horizon))
        groups = {m: rows[rows["model"] == m] for m in shown_models if (rows["model"] == m).any()}
        if not groups:
            column.caption(f"{COHORTS[cohort]} cohort: no calibration of the chosen models at {at}.")
            continue
        column.plotly_chart(survival_calibration_figure(groups, horizon=horizon, time_unit=unit, labels=model_labels,
                                                        colours=colours,
                                                        title=f"{COHORTS[cohort]} cohort, {at}"),
                            key=f"ev_s_cal_{cohort}", config=chart_config)
    st.caption(f"Flexible calibration at {at} (Austin, Harrell & van Klaveren 2020): the observed risk of the event "
               "by then from a Cox model on a spline of the predicted risk, with its pointwise 95 % band; ICI, E50, "
               "E90 and Emax in the table below are its absolute errors in predicted risk.")
    columns = st.columns(len(evaluated.cohorts))
    for column, cohort in zip(columns, evaluated.cohorts, strict=True):
        rows = ui.rows_where(evaluated.calibration_flexible, cohort=cohort, horizon=float(horizon))
        flexible = {m: rows[rows["model"] == m] for m in shown_models if (rows["model"] == m).any()}
        if flexible:
            column.plotly_chart(calibration_figure({}, {}, title=f"{COHORTS[cohort]} cohort, {at} (risk)",
                                                   labels=model_labels, colours=colours, flexible=flexible),
                                key=f"ev_s_flex_{cohort}", config=chart_config)
    slope = evaluated.calibration_slope
    table = pd.DataFrame({"cohort": slope["cohort"].map(COHORTS), "model": slope["model"].map(model_labels),
                          f"horizon ({unit})": slope["horizon"].map(horizon_text),
                          "ICI": slope["ici"].round(3), "E50": slope["e50"].round(3), "E90": slope["e90"].round(3),
                          "Emax": slope["emax"].round(3),
                          SURVIVAL_CALIBRATION_COLUMNS["slope"]: [format_interval(r.slope, r.slope_low, r.slope_high)
                                                                  for r in slope.itertuples()],
                          "slope converged": slope["slope_converged"].map({True: "yes", False: "no"}),
                          SURVIVAL_CALIBRATION_COLUMNS["observed_expected"]: [
                              format_interval(r.observed_expected, r.oe_low, r.oe_high) for r in slope.itertuples()]})
    st.dataframe(table, hide_index=True, key="ev_s_cal_table")
    ui.csv_download(slope, "calibration.csv", label="Calibration statistics (CSV)", key="ev_s_dl_cal")
    ui.csv_download(evaluated.calibration, "calibration_groups.csv", label="Calibration groups (CSV)",
                    key="ev_s_dl_cal_groups")


def _decision_section(evaluated, horizon: float, model_labels, colours, chart_config) -> None:
    """Decision curves at the chosen horizon per cohort (risk = 1 - predicted survival there)."""
    at = f"{horizon_text(horizon)} {evaluated.time_unit}"
    st.subheader("Decision curves")
    st.caption(f"Net benefit at {at} of treating the patients whose predicted risk of the event by then (1 - "
               "predicted survival) is above the threshold, against treating everyone or no one; the event rates are "
               "Kaplan-Meier's, so censored patients count. Gaps: thresholds where it is undefined (see the notes).")
    panels = {}
    for cohort in evaluated.cohorts:
        rows = ui.rows_where(evaluated.decision, cohort=cohort, horizon=float(horizon))
        panels[cohort] = {m: rows[rows["model"] == m].reset_index(drop=True) for m in evaluated.models
                          if (rows["model"] == m).any()}
    # Treat-all is each cohort's own (its Kaplan-Meier risk by the horizon): the same for every model there.
    ui.decision_views(panels, model_labels, colours, key="ev_s_dca", chart_config=chart_config,
                      titles={c: f"{COHORTS[c]} cohort, {at}" for c in evaluated.cohorts},
                      n_boot=SURVIVAL_DECISION_RESAMPLES, seed=evaluated.seed)
    ui.csv_download(evaluated.decision.drop(columns="treat_none"), "decision_curve.csv",
                    label="Decision curves with bands (CSV)", key="ev_s_dl_dca")


def _pairs_section(evaluated, model_labels) -> None:
    """Every pair of models' Harrell's C compared per cohort, with Holm's correction beside the raw p."""
    st.subheader("Comparing models: Harrell's C of every pair")
    st.caption("Per cohort, on the patients every model scores: the difference of the two C-indices (a - b) with its "
               "95% CI and p-value (their correlation accounted for), and the p-value after Holm's correction for "
               "the cohort's number of pairs.")
    pairs = evaluated.comparisons
    if len(evaluated.models) < 2:
        st.caption("Only one model so far: a comparison needs two.")
        return
    if pairs.empty:
        st.caption("No comparison could be made (see the notes above).")
        return
    shown = pd.DataFrame({"cohort": pairs["cohort"].map(COHORTS), "model_a": pairs["model_a"].map(model_labels),
                          "model_b": pairs["model_b"].map(model_labels),
                          "C a": pairs["c_a"].map(format_number), "C b": pairs["c_b"].map(format_number),
                          "difference (95% CI)": [format_interval(r.difference, r.low, r.high)
                                                  for r in pairs.itertuples()],
                          "p": pairs["p"].map(format_p), "p (Holm)": pairs["p_holm"].map(format_p), "n": pairs["n"]})
    st.dataframe(shown, hide_index=True, key="ev_s_pairs")
    ui.csv_download(pairs, "c_index_pairs.csv", label="Pairs (CSV)", key="ev_s_dl_pairs")


def survival_page(study: Study) -> None:
    """The page for a time-to-event study: every table and curve read from its one
    :class:`core.workflows.survival_evaluation.SurvivalEvaluation`, drawn by :mod:`core.figures.survival`."""
    st.caption("Every model is fitted and every risk-group cut-off chosen on the training cohort; the test cohort only "
               "measures. Higher linear predictor = higher risk; the predicted survival at a horizon is the "
               "probability of being event-free then.")
    ui.explain("evaluation")
    with ui.guard():
        quantile = st.number_input(
            "Risk groups: split at this quantile of the training linear predictor", 0.05, 0.95,
            value=float(study.evaluation.risk_quantile), step=0.05, key="ev_s_quantile",
            help="0.5: the training median. The cut-off is chosen on the training patients and applied unchanged to "
                 "the test cohort, external cohorts and the report.")
        if float(quantile) != study.evaluation.risk_quantile:
            study = ui.set_study(study.replace(evaluation=dataclasses.replace(study.evaluation,
                                                                              risk_quantile=float(quantile))))
        results = ui.results(study)
        ui.no_clinical_note(results.models)
        evaluated = results.evaluation
        unit = evaluated.time_unit
        names = study.model_labels()
        model_labels = {m: names.get(m, m) for m in evaluated.models}
        colours = model_colours(list(evaluated.models))
        cohorts = study.cohorts()
        if study.has_test:
            test_events = study.spec.outcome.n_events(study.cohort.loc[cohorts["test"]])
            if test_events < 10:
                st.warning(f"The test cohort has {test_events} event(s): its concordance, AUC(t), calibration and "
                           "risk groups rest on very few events and their intervals are wide (fewer than 10). "
                           "Consider a larger test fraction (Cohort page) or the Internal validation page.",
                           icon=":material/warning:")
        else:
            st.info("This study has no test cohort: every figure here is on the training patients, whose performance "
                    "is optimistic. The Internal validation page estimates it on new patients.", icon=":material/info:")
        options = st.columns([2, 1])
        horizon = options[0].radio(f"Horizon ({unit})", list(evaluated.horizons), horizontal=True,
                                   key="ev_s_horizon", format_func=horizon_text,
                                   help="The time of the time-dependent ROC, calibration and decision curves (the "
                                        "tables show every horizon). The horizons are the outcome's (Cohort page).")
        image_format = options[1].radio("Figure downloads", ["png", "svg"], horizontal=True, key="ev_image_format",
                                        help="Format of the camera button on each figure.")
        chart_config = {"toImageButtonOptions": {"format": image_format, "scale": 2}}
        _survival_notes(evaluated.notes)
        _concordance_section(evaluated, model_labels)
        _table2_section(evaluated, model_labels)
        _td_roc_section(evaluated, horizon, model_labels, colours, chart_config)
        _risk_group_section(evaluated, model_labels, chart_config)
        _brier_section(evaluated, model_labels)
        _calibration_section(evaluated, horizon, model_labels, colours, chart_config)
        _decision_section(evaluated, horizon, model_labels, colours, chart_config)
        _pairs_section(evaluated, model_labels)


# ---------------------------------------------------------------------------------------------
# The page: its body for the open study's outcome kind
# ---------------------------------------------------------------------------------------------

#: Outcome kind (core.vocabulary.OUTCOME_KINDS) -> the page's body for a study of that kind. Keyed by the kind, not
#: by the type of the study's evaluation: the binary body sets the study's evaluation settings from its widgets
#: BEFORE the evaluation is computed, so the evaluation cannot be asked first. A new kind adds its body here.
PAGE_BODIES: dict[str, Callable[[Study], None]] = {"binary": binary_page, "survival": survival_page}


def _page_body(study: Study) -> Callable[[Study], None]:
    """The body for the study's outcome kind; a RadNomoError (shown by ui.guard) for a kind without one."""
    kind = study.spec.outcome.kind
    if kind not in PAGE_BODIES:
        raise RadNomoError(f"the Evaluation page has no view of a '{OUTCOME_KINDS.get(kind, kind)}' outcome yet; "
                           f"it shows {listed(OUTCOME_KINDS[k] for k in PAGE_BODIES)} outcomes.")
    return PAGE_BODIES[kind]


st.title("Evaluation")
current = ui.get_study()
body = None
with ui.guard():
    body = _page_body(current)
if body is not None:
    body(current)
