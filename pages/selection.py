"""Selection: the study's screening funnel with every threshold adjustable, LASSO-CV, and selection stability."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from core.figures.charts import coefficient_path_figure, funnel_figure, lasso_cv_figure, stability_figure
from core.stats.outcome_statistics import statistics_for
from core.stats.selection import ScreeningSettings, settings_used
from core.stats.summaries import batch_columns as harmonisation_columns
from core.vocabulary import (CORRELATION_METHODS, LASSO_COX_MEASURES, LASSO_RULES, SCREENING_METHODS, VARIANCE_SCALES,
                             format_p)
from core.workflows.checks import feature_ibsi_tags

ui.enter_page("pages/selection.py")

st.title("Selection")
st.caption("Every step is fitted on the training cohort only; the test cohort never reaches it. Change a threshold "
           "and the funnel, the LASSO and the selected features follow. The settings here are used by the Models "
           "page.")
ui.explain("selection")
study = ui.get_study()
# The outcome type's statistics: its univariable tests, what its `auc` column holds, its groups' names.
statistics = statistics_for(study.spec.outcome)
discrimination = statistics.screening.discrimination
families = ui.results(study).usable_families
if not families:
    st.warning("The open study has no feature table yet: extract or import features first (Features pages). A "
               "study of clinical variables only goes straight to the Models page.")
    st.stop()

current = study.settings.screening
st.subheader("Thresholds")
row0 = st.columns([2, 1, 1, 1])
methods = list(SCREENING_METHODS)
method = row0[0].selectbox("Screening funnel", methods, index=methods.index(current.method), key="sel_method",
                           format_func=SCREENING_METHODS.get,
                           help="The study's funnel, or an alternative the field uses; each runs on the training "
                                "cohort only and is refitted inside every validation resample.")
scales = list(VARIANCE_SCALES)
variance_scale = row0[1].selectbox("Variance on", scales, index=scales.index(current.variance_scale),
                                   key="sel_variance_scale", format_func=VARIANCE_SCALES.get)
auc_threshold = row0[2].number_input(f"Univariable {discrimination} >", 0.5, 0.99, current.auc_threshold, 0.01,
                                     key="sel_auc", disabled="auc_threshold" not in settings_used(method))
mrmr_features = row0[3].number_input("mRMR keeps", 1, 500, current.mrmr_features, key="sel_mrmr",
                                     disabled="mrmr_features" not in settings_used(method))
row1 = st.columns(4)
reader2 = any(f.reader2 is not None for f in study.families)
use_icc = row1[0].toggle("ICC filter (two readers)", value=current.icc_threshold is not None, key="sel_use_icc",
                         disabled=not reader2,
                         help="Keep radiomics features reproducible between two readers' masks (ICC(3,1) on the "
                              "training patients read twice)." + ("" if reader2 else " Needs second-reader features."))
icc_threshold = row1[1].number_input("ICC >", 0.0, 0.99, current.icc_threshold or 0.8, 0.05, key="sel_icc",
                                     disabled=not use_icc)
variance = row1[2].number_input("Variance >", 0.0, 1e6, float(current.variance_threshold), 0.5, key="sel_variance",
                                help="Population variance (of the raw values, or on the min-max scale); the study "
                                     "drops variance <= 1 on the raw values.")
correlation = row1[3].number_input("Redundancy: |r| >", 0.3, 0.99, current.correlation_threshold, 0.05,
                                   key="sel_corr", help="Of each pair above it, drop the feature with the larger "
                                                        "mean absolute correlation (caret::findCorrelation).")
row2 = st.columns(4)
corr_method = row2[0].selectbox("Correlation", list(CORRELATION_METHODS),
                                index=list(CORRELATION_METHODS).index(current.correlation_method),
                                key="sel_corr_method", format_func=CORRELATION_METHODS.get)
offered = statistics.tests()  # the outcome type's own (the study refuses another type's test)
test = row2[1].selectbox("Univariable test", list(offered), index=list(offered).index(current.test), key="sel_test",
                         format_func=offered.get)
p_threshold = row2[2].number_input("Keep p <", 1e-6, 1.0, current.p_threshold, 0.01, format="%.4f", key="sel_p")
rule = row2[3].radio("LASSO lambda", list(LASSO_RULES), index=list(LASSO_RULES).index(current.rule), horizontal=True,
                     key="sel_rule", format_func=LASSO_RULES.get,
                     help="lambda.1se: the sparsest model within one standard error of the best CV deviance.")
row3 = st.columns(4)
folds = row3[0].number_input("CV folds", 3, 20, current.n_folds, key="sel_folds")
seed = row3[1].number_input("Fold seed", 0, 2**31 - 1, current.seed, key="sel_seed")
measures = {m: LASSO_COX_MEASURES[m] for m in statistics.screening.cv_measures}  # the outcome type's own
cv_measure = row3[3].selectbox("LASSO CV measure", list(measures), index=list(measures).index(current.cv_measure),
                               key="sel_cv_measure", format_func=measures.get, disabled=len(measures) == 1,
                               help="What the cross-validation picks lambda by: the held-out deviance (glmnet's "
                                    "default), or for a time-to-event outcome Harrell's C of each held-out fold "
                                    "(cv.glmnet's type.measure = \"C\").")
batch_columns = [None, *harmonisation_columns(study.train,
                                              exclude=[*study.spec.outcome.columns, *study.spec.continuous])]
harmonise_by = row3[2].selectbox(
    "ComBat harmonisation by", batch_columns, key="sel_harmonise",
    index=batch_columns.index(study.settings.harmonise_by)
    if study.settings.harmonise_by in batch_columns else 0,
    format_func=lambda c: "none" if c is None else c,
    help="Remove scanner (or centre) effects from every feature before screening: ComBat (Johnson et al. 2007; "
         "Fortin et al. 2018) with its scanner effects learned on the training cohort only, then applied "
         "unchanged to the test cohort, external cohorts and new patients.")

with ui.guard():
    settings = ScreeningSettings(method=method, variance_scale=variance_scale, auc_threshold=float(auc_threshold),
                                 mrmr_features=int(mrmr_features),
                                 icc_threshold=float(icc_threshold) if use_icc else None,
                                 variance_threshold=float(variance), correlation_threshold=float(correlation),
                                 correlation_method=corr_method, test=test, p_threshold=float(p_threshold),
                                 n_folds=int(folds), rule=rule, seed=int(seed), cv_measure=cv_measure)
    study = ui.update_settings(screening=settings, harmonise_by=harmonise_by)
    ui.prefetch_models(study)  # the Models and Evaluation pages find the other families screened
    for name, check in ui.family_scales(study).items():
        if check.warning and study.settings.screening.variance_scale == "raw":
            st.warning(f"{study.family_label(name)}: {check.warning}", icon=":material/warning:")

st.subheader("Columns that are never features")
study = ui.exclusions_editor(study, "sel_exclude")
families = ui.results(study).usable_families
if not families:
    st.warning("Every column of the feature tables is excluded or has a role (ID, outcome, clinical variable): "
               "change the exclusions above, or import features.")
    st.stop()

if st.session_state.get("sel_family") not in families:
    st.session_state["sel_family"] = families[0]
family = st.radio("Feature family", families, horizontal=True, key="sel_family", format_func=study.family_label)
with ui.guard():
    left_out = ui.never_features(study)
    mine = left_out.table[left_out.table["family"].isin(study.members(family))]
    # A column that restates the outcome is left out loudly; one with a role (ID, outcome, clinical, excluded) quietly.
    restating = mine[~mine["reason"].isin(["ID column", "outcome column", "clinical variable"])
                     & ~mine["reason"].str.startswith("excluded")]
    if len(restating):
        st.warning(f"Left out of {study.family_label(family)} before screening, since they restate the outcome: "
                   + "; ".join(f"{r.column} ({r.reason})" for r in restating.itertuples())
                   + ". A feature cannot know the outcome; check how the table was made.", icon=":material/warning:")
    for note in left_out.notes:
        st.warning(note, icon=":material/warning:")
    if len(mine):
        with st.expander(f"{len(mine)} column(s) of {study.family_label(family)} left out as never features"):
            st.dataframe(mine, hide_index=True, key="sel_left_out")

with ui.guard():
    result = ui.results(study).screening(family)
    left, right = st.columns([2, 3])
    left.plotly_chart(funnel_figure(result.funnel), key="sel_funnel_chart")
    with right:
        st.dataframe(result.funnel, hide_index=True, key="sel_funnel_table")
        ui.csv_download(result.funnel, f"funnel_{family}.csv", label="Funnel (CSV)", key="sel_dl_funnel")
        for note in (*result.notes, *result.warnings):
            st.warning(note, icon=":material/warning:")
        if result.lasso is None:
            empty = next((s for s in result.steps[1:] if not s.kept), None)
            st.warning("No feature reached the LASSO"
                       + (f": the step '{empty.step}' removed the last ones ({empty.why})" if empty else "")
                       + ". Relax that threshold.")
        elif not result.selected:
            st.warning(f"The LASSO kept no feature at lambda.{rule}: every coefficient is zero. Try lambda.min, "
                       "or relax the earlier thresholds.")
        else:
            st.success(f"{len(result.selected)} feature(s) selected at λ = {result.lasso.lambda_:.4g} "
                       f"(lambda.min {result.lasso.lambda_min:.4g}, lambda.1se {result.lasso.lambda_1se:.4g}).")

    if result.lasso is not None:
        lasso = result.lasso
        cv_col, path_col = st.columns(2)
        cv_col.plotly_chart(lasso_cv_figure(lasso), key="sel_cv_chart")
        path_col.plotly_chart(coefficient_path_figure(lasso), key="sel_path_chart")
        st.subheader("Selected features")
        selected = pd.DataFrame({"coef (original scale)": lasso.coef_,
                                 "coef (standardised)": lasso.coef_ * lasso.feature_sds[lasso.coef_.index]})
        if len(selected):
            tests = result.univariable.loc[selected.index]
            without, with_event = statistics.group_means
            selected[without] = tests["mean_0"]
            selected[with_event] = tests["mean_1"]
            if statistics.effect in tests:  # a time-to-event screening gives each feature's hazard ratio per unit
                selected[f"univariable {statistics.effect}"] = tests[statistics.effect]
            selected["univariable p"] = tests["p_value"].map(format_p)
        selected.index.name = "feature"
        selected = selected.join(feature_ibsi_tags(study, selected.index).rename(
            columns={"ibsi_tag": "IBSI tag", "ibsi": "IBSI compliance"}))
        # Four significant digits: a coefficient per HU² of a wavelet feature is 3e-10, which rounding hides.
        coefficients = selected["coef (original scale)"].map("{:.4g}".format)
        st.dataframe(selected.assign(**{"coef (original scale)": coefficients}), key="sel_selected_table")
        ui.csv_download(selected.reset_index(), f"selected_{family}.csv", label="Selected features (CSV)",
                        key="sel_dl_selected")
        cv_table = pd.DataFrame({"lambda": lasso.lambdas, f"cv_{lasso.measure}": lasso.cv_mean, "cv_se": lasso.cv_se,
                                 "n_features": lasso.n_nonzero})
        ui.csv_download(cv_table, f"lasso_cv_{family}.csv", label="LASSO CV curve (CSV)", key="sel_dl_cv")

    with st.expander("Univariable tests of the features that reached this step"):
        shown = result.univariable.assign(p=result.univariable["p_value"].map(format_p))
        # `auc` holds the outcome type's discrimination (AUC; Harrell's C of a time-to-event outcome).
        st.dataframe(shown, key="sel_univariable_table",
                     column_config={"auc": st.column_config.NumberColumn(discrimination)})
        ui.csv_download(result.univariable.reset_index(names="feature"), f"univariable_{family}.csv",
                        label="Univariable tests (CSV)", key="sel_dl_univariable")

    st.subheader("Selection stability")
    st.caption("LASSO-CV repeated on bootstrap resamples of the training cohort with new folds each time: how often "
               "each feature is selected, and how much lambda moves. Robust features are selected in most runs.")
    stab = st.columns([1, 1, 2])
    repeats = stab[0].number_input("Repeats", 5, 500, 20, key="sel_stab_repeats")
    bootstrap = stab[1].toggle("Bootstrap resamples", value=True, key="sel_stab_bootstrap",
                               help="Off: only the fold assignment changes between runs.")
    stability_key = f"sel_stability_{family}"
    reaching_lasso = result.reaching_lasso
    if st.button("Run stability analysis", key="sel_stab_run", disabled=result.lasso is None):
        st.session_state[stability_key] = (reaching_lasso, ui.results(study).stability(
            family, reaching_lasso, int(repeats), bool(bootstrap)))
    previous = st.session_state.get(stability_key)
    if previous is not None and previous[0] != reaching_lasso:
        st.info("The thresholds changed since the last stability run; run it again for these features.")
    elif previous is not None:
        frequency, runs = previous[1]
        left, right = st.columns([3, 2])
        left.plotly_chart(stability_figure(frequency), key="sel_stab_chart")
        with right:
            st.metric("lambda.1se across runs", f"{runs['lambda_1se'].median():.4g}",
                      help=f"median; range {runs['lambda_1se'].min():.4g} - {runs['lambda_1se'].max():.4g}")
            st.metric("Features selected per run", f"{runs['n_selected'].median():.0f}",
                      help=f"range {runs['n_selected'].min()} - {runs['n_selected'].max()}")
            ui.csv_download(frequency.reset_index(), f"stability_{family}.csv", label="Frequencies (CSV)",
                            key="sel_dl_stab")
