"""Models: the three scores with their formulas, the clinical model (univariable -> multivariable), the fused model."""

from __future__ import annotations

import dataclasses
import json

import streamlit as st

import ui
from core.figures.charts import coefficient_figure
from core.stats.modeling import events_per_variable
from core.workflows.fit import auc_table

ui.enter_page("pages/models.py")

SCORE_LABELS = {"radiomics": "Radiomics score", "dl": "DL score", "dl_radiomics": "DL-radiomics score"}
CLINICAL_KEY = "mod_clinical"

st.title("Models")
st.caption("Scores are the linear predictor (log-odds) of a logistic regression on the LASSO-selected features; the "
           "clinical model uses the clinical variables you pick; the fused model adds the DL-radiomics score to "
           "them. All are fitted on the training cohort with the Selection page's thresholds.")
ui.explain("models")
study = ui.get_study()
spec = study.spec

method = st.radio("Score coefficients", ["refit", "lasso"], horizontal=True, key="mod_score_method",
                  index=["refit", "lasso"].index(study.model_settings.score_method),
                  format_func={"refit": "Logistic regression refitted on the selected features",
                               "lasso": "The LASSO's own (shrunken) coefficients"}.get)
study.model_settings = dataclasses.replace(study.model_settings, score_method=method)

with ui.guard():
    models = ui.study_models(study)
    for note in models.notes:
        st.info(note, icon=":material/info:")

    # -----------------------------------------------------------------------------------------
    st.subheader("Clinical model")
    univariable = models.univariable
    st.markdown("**Univariable logistic regression** (training cohort)")
    shown = univariable.assign(p=univariable["p_value"].map(ui.format_p),
                               variable_p=univariable["variable_p"].map(ui.format_p))
    st.dataframe(shown.drop(columns=["p_value"]), hide_index=True, key="mod_univariable_table",
                 column_config={"OR": st.column_config.NumberColumn(format="%.3f"),
                                "lower": st.column_config.NumberColumn("95% CI low", format="%.3f"),
                                "upper": st.column_config.NumberColumn("95% CI high", format="%.3f"),
                                "variable_p": st.column_config.TextColumn("p (variable, LR test)")})
    ui.csv_download(univariable, "clinical_univariable.csv", label="Univariable table (CSV)", key="mod_dl_uni")

    options = [*spec.continuous, *spec.categorical]
    if CLINICAL_KEY not in st.session_state or not set(st.session_state[CLINICAL_KEY]) <= set(options):
        st.session_state[CLINICAL_KEY] = list(models.clinical.variables)
    chosen = st.multiselect("Clinical model predictors (default: univariable p < 0.05)", options, key=CLINICAL_KEY)
    if st.button("Back to the default (univariable p < 0.05)", key="mod_clinical_reset"):
        study.model_settings = dataclasses.replace(study.model_settings, clinical_continuous=None,
                                                   clinical_categorical=None)
        del st.session_state[CLINICAL_KEY]
        st.rerun()
    if set(chosen) != set(models.clinical.variables):
        if not chosen:
            st.warning("Pick at least one predictor for the clinical model.")
        else:
            study.model_settings = dataclasses.replace(
                study.model_settings, clinical_continuous=tuple(c for c in spec.continuous if c in chosen),
                clinical_categorical=tuple(c for c in spec.categorical if c in chosen))
            st.rerun()

    st.markdown("**Multivariable clinical model**")
    st.dataframe(models.clinical.table, key="mod_clinical_table")
    ui.csv_download(models.clinical.table.reset_index(), "clinical_model.csv", label="Clinical model (CSV)",
                    key="mod_dl_clinical")
    epv = events_per_variable(models.clinical)
    if epv < 10:
        st.warning(f"{epv:.1f} events per estimated coefficient (fewer than 10): the model may be overfitted; "
                   "consider fewer predictors.")

    # -----------------------------------------------------------------------------------------
    st.subheader("Scores")
    for name, score in models.scores.items():
        with st.expander(f"{SCORE_LABELS[name]}: {len(score.features)} feature(s)", expanded=name == "dl_radiomics"):
            st.code(score.formula, language=None, wrap_lines=True)
            st.caption("z(x) = (x - training mean) / training SD; the score is the log-odds of the event.")
            left, right = st.columns([2, 3])
            left.plotly_chart(coefficient_figure(score.coefs, "Standardised coefficients"), key=f"mod_coef_{name}")
            right.dataframe(score.table, key=f"mod_score_table_{name}")
            ui.csv_download(score.table.reset_index(), f"score_{name}.csv", label="Score coefficients (CSV)",
                            key=f"mod_dl_score_{name}")

    # -----------------------------------------------------------------------------------------
    st.subheader("Fused model")
    if models.fused is None:
        st.info("The fused model needs the DL-radiomics score: the study needs radiomics and deep features and a "
                "non-empty DL-radiomics selection.")
    else:
        st.caption("DL-radiomics score + the clinical model's predictors. VIF > 5 flags collinearity.")
        st.dataframe(models.fused.table, key="mod_fused_table")
        ui.csv_download(models.fused.table.reset_index(), "fused_model.csv", label="Fused model (CSV)",
                        key="mod_dl_fused")
        if (models.fused.vif > 5).any():
            st.warning(f"VIF above 5 for {list(models.fused.vif[models.fused.vif > 5].index)}.")

    # -----------------------------------------------------------------------------------------
    st.subheader("Discrimination at a glance")
    predictions = ui.study_predictions(study)
    outcome = study.cohort.set_index(spec.id_column)[spec.outcome_column]
    aucs = auc_table(predictions, outcome, {"train": study.split.train_ids, "test": study.split.test_ids})
    st.dataframe(aucs.style.format("{:.3f}"), key="mod_auc_table")
    st.caption("AUC of each model; confidence intervals, DeLong tests and calibration are on the Evaluation page.")

    st.download_button("All fitted models (JSON)", lambda: json.dumps(models.to_dict(), indent=1).encode(),
                       file_name="radnomo_models.json", mime="application/json", key="mod_dl_json",
                       icon=":material/download:")
    ui.csv_download(predictions.reset_index(names=spec.id_column), "predictions.csv",
                    label="Predictions and scores, all patients (CSV)", key="mod_dl_predictions")
