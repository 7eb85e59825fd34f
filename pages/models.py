"""Models: a score per feature family with its formula, the clinical model (univariable -> multivariable),
and the fused model (a chosen score + the clinical predictors)."""

from __future__ import annotations

import json

import streamlit as st

import ui
from core.figures.charts import coefficient_figure
from core.io.tables import screen_table
from core.stats.outcome_statistics import statistics_for
from core.vocabulary import SCORE_METHODS, format_p
from core.workflows.checks import feature_ibsi_tags
from core.workflows.fit import clinical_predictors

ui.enter_page("pages/models.py")

CLINICAL_KEY = "mod_clinical"


def ph_check(model, label: str, key: str) -> None:
    """A Cox model's test of proportional hazards (cox.zph, on the training patients): its warning when it fails,
    its table in an expander. Models without one (logistic models; the LASSO-Cox's own coefficients) show nothing."""
    table = getattr(model, "ph_check", None)
    if table is None or not len(table):
        return
    if model.ph_warning:
        st.warning(f"{label}: {model.ph_warning}", icon=":material/warning:")
    with st.expander(f"Proportional hazards, {label} (cox.zph, training cohort)"):
        st.dataframe(screen_table(table), hide_index=True, key=key)
        st.caption("Schoenfeld-residual test per term against the Kaplan-Meier transform of time (survival's "
                   "cox.zph); p < 0.05: that term's hazard ratio changes over follow-up. GLOBAL tests all terms.")

st.title("Models")
study = ui.get_study()
spec = study.spec
# The outcome type's statistics: its models in words, its score methods, its tables' warnings and glance table.
statistics = statistics_for(spec.outcome)
st.caption(f"Scores are the linear predictor ({statistics.score_scale}) of a {statistics.model_words} on the "
           "LASSO-selected features of each feature family; the clinical model uses the clinical variables you pick; "
           "the fused model adds one score to them. All are fitted on the training cohort with the Selection page's "
           "thresholds.")
ui.explain("models")

controls = st.columns(2)
methods = list(statistics.score_methods)  # the outcome type's own (the study refuses another type's method)
method = controls[0].radio("Score coefficients", methods, horizontal=True, key="mod_score_method",
                           index=methods.index(study.settings.score_method), format_func=SCORE_METHODS.get)
study = ui.update_settings(score_method=method)
if study.score_families:
    options = study.score_families
    fused_score = controls[1].selectbox("Score in the fused model", options, key="mod_fused_score",
                                        index=options.index(study.fused_family), format_func=study.model_label,
                                        help="The fused model adds this score to the clinical model's predictors.")
    if fused_score != study.fused_family:  # the default stays implicit (None), so saved runs keep matching
        study = ui.update_settings(fused_score=fused_score)

with ui.guard():
    # The clinical predictors are chosen before anything is fitted: a study whose variables do not qualify
    # (or that has none) is a study of scores alone, not a dead end.
    st.subheader("Clinical model")
    univariable = ui.results(study).clinical_univariable
    options = [*spec.continuous, *spec.categorical]
    if options:
        st.markdown(f"**{statistics.univariable_title}** (training cohort)")
        shown = univariable.assign(variable=univariable["variable"].map(study.label),
                                   p=univariable["p_value"].map(format_p),
                                   variable_p=univariable["variable_p"].map(format_p))
        st.dataframe(shown.drop(columns=["p_value"]), hide_index=True, key="mod_univariable_table",
                     column_config={statistics.effect: st.column_config.NumberColumn(format="%.3f"),
                                    "lower": st.column_config.NumberColumn("95% CI low", format="%.3f"),
                                    "upper": st.column_config.NumberColumn("95% CI high", format="%.3f"),
                                    "variable_p": st.column_config.TextColumn("p (variable, LR test)")})
        ui.csv_download(univariable, "clinical_univariable.csv", label="Univariable table (CSV)", key="mod_dl_uni")
        continuous, categorical, _ = clinical_predictors(study, univariable)
        current = [*continuous, *categorical]
        if CLINICAL_KEY not in st.session_state or not set(st.session_state[CLINICAL_KEY]) <= set(options) \
                or st.session_state.get("_mod_clinical_for") != study.data_fingerprint:
            st.session_state[CLINICAL_KEY] = current
            st.session_state["_mod_clinical_for"] = study.data_fingerprint
        chosen = st.multiselect(f"Clinical model predictors (default: univariable p < {study.settings.clinical_p:g}; "
                                "leave empty for no clinical model)", options, key=CLINICAL_KEY,
                                format_func=study.label)
        if st.button(f"Back to the default (univariable p < {study.settings.clinical_p:g})", key="mod_clinical_reset"):
            ui.update_settings(clinical_continuous=None, clinical_categorical=None)
            del st.session_state[CLINICAL_KEY]
            st.rerun()
        if set(chosen) != set(current):
            # An empty choice is a choice: no clinical model (the study's scores carry it).
            ui.update_settings(clinical_continuous=tuple(c for c in spec.continuous if c in chosen),
                               clinical_categorical=tuple(c for c in spec.categorical if c in chosen))
            st.rerun()

    models = ui.results(study).models
    for warning in models.warnings:  # fits that did not converge, LASSO paths stopped at their limit
        st.warning(warning, icon=":material/warning:")
    for note in models.notes:
        st.info(note, icon=":material/info:")

    if models.clinical is not None:
        st.markdown("**Multivariable clinical model**")
        st.dataframe(screen_table(models.clinical.table), key="mod_clinical_table")
        for warning in statistics.coefficient_warnings(models.clinical.table, "clinical model"):
            st.warning(warning, icon=":material/warning:")
        ph_check(models.clinical, "clinical model", "mod_ph_clinical")
        ui.csv_download(models.clinical.table.reset_index(), "clinical_model.csv", label="Clinical model (CSV)",
                        key="mod_dl_clinical")
        epv = statistics.events_per_variable(models.clinical)
        if epv < 10:
            st.warning(f"{epv:.1f} events per estimated coefficient (fewer than 10): the model may be overfitted; "
                       "consider fewer predictors.")
    elif not options:
        st.caption("The study declares no clinical variable (Cohort page): its models are the scores alone.")

    # -----------------------------------------------------------------------------------------
    st.subheader("Scores")
    if not models.scores:
        st.caption("No score: the study has no feature family, or no feature survived the screening (Selection page).")
    for name, score in models.scores.items():
        with st.expander(f"{study.model_label(name)}: {len(score.features)} feature(s)",
                         expanded=name == models.fused_score):
            st.code(score.formula, language=None, wrap_lines=True)
            st.caption(f"{SCORE_METHODS.get(score.learner, score.learner)}. z(x) = (x - training mean) / training "
                       f"SD; the score is the {statistics.score_scale} of the event. " + getattr(score, "detail", ""))
            left, right = st.columns([2, 3])
            left.plotly_chart(coefficient_figure(score.coefs, "Standardised coefficients"), key=f"mod_coef_{name}")
            right.dataframe(screen_table(score.table), key=f"mod_score_table_{name}")
            ui.csv_download(score.table.join(feature_ibsi_tags(study, score.table.index)).reset_index(),
                            f"score_{name}.csv", label="Score coefficients (CSV)",
                            key=f"mod_dl_score_{name}")
            ph_check(score, study.model_label(name), f"mod_ph_{name}")

    # -----------------------------------------------------------------------------------------
    st.subheader("Fused model")
    if models.fused is None and models.clinical is None:
        st.caption("No fused model: it adds a score to the clinical model's predictors, and this study has none.")
    elif models.fused is None:
        st.info("The fused model needs a score: the study needs a feature family and a non-empty selection.")
    else:
        st.caption(f"{study.model_label(models.fused_score)} + the clinical model's predictors."
                   + (" VIF > 5 flags collinearity." if "VIF" in models.fused.table else ""))
        st.dataframe(screen_table(models.fused.table), key="mod_fused_table")
        ui.csv_download(models.fused.table.reset_index(), "fused_model.csv", label="Fused model (CSV)",
                        key="mod_dl_fused")
        for warning in statistics.coefficient_warnings(models.fused.table, "fused model"):
            st.warning(warning, icon=":material/warning:")
        ph_check(models.fused, "fused model", "mod_ph_fused")
        for flip in statistics.sign_flips(models.clinical, models.fused, study.label):
            st.warning(flip, icon=":material/swap_vert:")

    # -----------------------------------------------------------------------------------------
    st.subheader("Discrimination at a glance")
    predictions = ui.results(study).predictions
    aucs = statistics.discrimination_table(predictions, spec.outcome.values(study.cohort), study.cohorts(),
                                           models.model_names)
    # Formatted by the grid, not by a pandas Styler: a Styler imports matplotlib (about half a second on a first
    # visit) and formats every cell in Python.
    st.dataframe(aucs, key="mod_auc_table",
                 column_config={column: st.column_config.NumberColumn(format="%.3f") for column in aucs.columns})
    st.caption(statistics.discrimination_note)

    ui.bytes_download("All fitted models (JSON)", lambda models=models: json.dumps(models.to_dict(), indent=1).encode(),
                      "radnomo_models.json", "application/json", key="mod_dl_json")
    ui.csv_download(predictions.reset_index(names=spec.id_column), "predictions.csv",
                    label="Predictions and scores, all patients (CSV)", key="mod_dl_predictions")
