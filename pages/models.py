"""Models: a score per feature family with its formula, the clinical model (univariable -> multivariable),
the fused model (a chosen score + the clinical predictors), the comparator learners (random forest, SVM,
XGBoost, elastic net on each family's features, tuned by inner cross-validation) and the SHAP explanations of
the scores and comparators."""

from __future__ import annotations

import json

import streamlit as st

import ui
from core.figures.charts import coefficient_figure
from core.figures.explanations import shap_summary_figure
from core.io.tables import screen_table
from core.stats.learners import learners_for
from core.stats.learners.comparator import TUNING_FOLDS
from core.stats.outcome_statistics import statistics_for
from core.vocabulary import COMPARATOR_FEATURES, COMPARATOR_METHODS, COMPARATOR_ROLE, SCORE_METHODS, format_p
from core.workflows.checks import feature_ibsi_tags
from core.workflows.explanations import explained_models, shap_table
from core.workflows.fit import clinical_predictors

ui.enter_page("pages/models.py")

CLINICAL_KEY = "mod_clinical"
COMPARATORS_KEY, COMPARATOR_FEATURES_KEY = "mod_comparators", "mod_comparator_features"
APPLY_KEY = "mod_comparators_apply"  # the form's button: the choice is fitted when it is pressed
# The study's (comparators, their features) the two widgets were last set from: when the study's differ (another
# study opened, a saved run loaded) the widgets follow the study; otherwise a widget that differs is the user's change.
COMPARATORS_SYNCED = "_mod_comparators_synced"
# What each outcome kind's comparators are tuned on (core.stats.learners.comparator.tune: AUC; the time-to-event
# comparators, core.stats.learners.boosted_cox: Harrell's C).
TUNING_MEASURES = {"binary": "AUC", "survival": "Harrell's C"}
SHAP_TOGGLE = "Compute the SHAP explanations (a comparator's explainer can take a minute)"


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


def comparator_learners(study, models) -> None:
    """The comparator learners' choice (applied to the study's settings at the form's button: the models are
    refitted and the page reruns), the tuning scheme in words, and per fitted comparator (``models``: the study's
    fitted models; None when they could not be fitted, so that a comparator can still be removed) its chosen
    hyper-parameters and tuning table."""
    available = list(learners_for(COMPARATOR_ROLE, study.spec.outcome.kind))
    if not available:
        st.caption(f"No comparator learner fits a {study.spec.outcome.kind} outcome yet: the scores stand alone.")
        return
    settings = study.settings
    synced = (tuple(settings.comparators), settings.comparator_features)
    if st.session_state.get(COMPARATORS_SYNCED) != synced or COMPARATORS_KEY not in st.session_state \
            or COMPARATOR_FEATURES_KEY not in st.session_state:
        st.session_state[COMPARATORS_KEY] = [m for m in settings.comparators if m in available]
        st.session_state[COMPARATOR_FEATURES_KEY] = settings.comparator_features
        st.session_state[COMPARATORS_SYNCED] = synced
    # A form: each change refits every comparator (tuning grids, tens of seconds to minutes on a large study), so
    # several learners are picked first and fitted once, at the button.
    with st.form("mod_comparators_form", border=False):
        left, right = st.columns([3, 2])
        chosen = left.multiselect("Comparator learners (each fitted on every family's features beside its score)",
                                  available, key=COMPARATORS_KEY, format_func=lambda m: COMPARATOR_METHODS[m],
                                  placeholder="None: the scores alone")
        features = right.radio("Features the comparators fit", list(COMPARATOR_FEATURES),
                               key=COMPARATOR_FEATURES_KEY, format_func=COMPARATOR_FEATURES.get)
        st.form_submit_button("Fit the chosen comparators", key=APPLY_KEY, icon=":material/model_training:",
                              help="Fits and tunes each chosen learner on every family (can take a minute or more).")
    # The widgets keep the user's order of choice; the settings keep the registry's (one fingerprint per set).
    wanted = (tuple(m for m in available if m in chosen), features)
    if wanted != synced:
        changed = ui.update_settings(comparators=wanted[0], comparator_features=wanted[1])
        if changed.settings.to_dict() != settings.to_dict():
            st.session_state[COMPARATORS_SYNCED] = (tuple(changed.settings.comparators),
                                                    changed.settings.comparator_features)
            st.rerun()  # the models above were fitted without them
    measure = TUNING_MEASURES.get(study.spec.outcome.kind, "score")
    out_of_bag = f"; the random forest by its out-of-bag {measure}" if "random_forest" in available else ""
    st.caption(f"Each comparator is fitted on the training patients only, its hyper-parameters tuned on them alone "
               f"(by inner {TUNING_FOLDS}-fold cross-validated {measure}, the folds stratified by the outcome and "
               f"seeded with the study's seed {settings.screening.seed}{out_of_bag}), then refitted on all training "
               "patients; the test cohort only measures it. The Internal validation page refits the whole pipeline, "
               "tuning included, inside each bootstrap resample. Comparators are compared with the scores in the "
               "table below and on the Evaluation page; they cannot be drawn as a nomogram.")
    if models is None:
        return
    if not models.comparators:
        if settings.comparators:
            st.caption("No comparator could be fitted (the notes above say why).")
        return
    for name, model in models.comparators.items():
        with st.expander(f"{study.model_label(name)}: {len(model.variables)} feature(s)"):
            st.markdown(model.detail)
            table = model.table
            # A parameter may mix texts and numbers (a forest's max_features: "sqrt" or 0.5), which the grid's
            # Arrow columns cannot hold: shown as text (the CSV keeps the values).
            shown = table.astype({c: str for c in table.columns
                                  if table[c].dtype == object and table[c].map(type).nunique() > 1})
            st.dataframe(shown, hide_index=True, key=f"mod_comparator_table_{name}",
                         column_config={"cv_auc": st.column_config.NumberColumn("CV AUC", format="%.3f"),
                                        "cv_c": st.column_config.NumberColumn("CV Harrell's C", format="%.3f"),
                                        "cv_se": st.column_config.NumberColumn(f"CV {measure} SE", format="%.3f"),
                                        "chosen": st.column_config.CheckboxColumn("chosen")})
            words = model.tuning_words
            listed = ", ".join(map(str, model.variables[:12])) + (
                f" and {len(model.variables) - 12} more" if len(model.variables) > 12 else "")
            st.caption(f"One row per grid point, scored by {words} (with its standard error); the chosen row scores "
                       f"highest (the first in grid order on a tie). Features: {listed}.")
            ui.csv_download(table, f"tuning_{name}.csv", label="Tuning table (CSV)", key=f"mod_dl_comparator_{name}")


def shap_section(study, models) -> None:
    """SHAP of the scores and comparators on the training patients: a model's summary plot and mean |SHAP| table,
    and shap.csv of every explained model. Computed here only (a stage of its own, memoised per model fit)."""
    explained = explained_models(models)
    if not explained:
        st.caption("Nothing to explain: the study has no score and no comparator learner.")
        return
    results = ui.results(study)
    # The scores' SHAP is exact and linear (milliseconds); a comparator's may take a model-agnostic explainer a
    # minute (the SVM's), so with comparators the page asks first, unless the explanations are already stored.
    if models.comparators and not results.explanations_ready and not st.toggle(
            SHAP_TOGGLE, key="mod_shap_on"):
        st.caption("Switch on to compute the SHAP explanations of the scores and comparator learners on the training "
                   "patients (computed once per fit, then kept).")
        return
    explanations = results.explanations
    explained = [name for name in explained if name in explanations]
    if not explained:
        st.caption("No model could be explained.")
        return
    name = st.selectbox("Model explained", explained, key="mod_shap_model", format_func=study.model_label)
    explanation = explanations[name]
    table = shap_table(explanations, study.model_labels())
    n_training = len(models.train_ids)
    n_explained = len(explanation.values)
    sample = "" if n_explained >= n_training else f" (a seeded sample of the {n_training})"
    method = explanation.method[:1].upper() + explanation.method[1:]
    st.caption(f"{method}, on the {explanation.output} scale, on {n_explained} training patients{sample}: each "
               f"point is a patient, at what the feature's value added to their predicted {explanation.output} "
               f"against the average training patient (base value {explanation.base_value:.3f}); colour: the "
               "feature's value, low to high. Features ranked by mean |SHAP| (the table below; shap.csv holds every "
               "explained model).")
    # Full width: a beeswarm needs the room, and the features' names (as the score tables and shap.csv give
    # them) are long. The selectbox above names the model, so the figure carries no title over its toolbar.
    st.plotly_chart(shap_summary_figure(explanation, title=""), key=f"mod_shap_summary_{name}")
    shown = table[table["model"] == name][["rank", "feature", "mean_abs_shap"]]
    st.dataframe(shown, hide_index=True, key="mod_shap_table",
                 column_config={"mean_abs_shap": st.column_config.NumberColumn(
                     f"mean |SHAP| ({explanation.output})", format="%.4f")})
    ui.csv_download(table, "shap.csv", label="Mean |SHAP| of every explained model (CSV)", key="mod_dl_shap")


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

comparators_drawn = False  # whether this run drew the comparator choice (else it is drawn at the end)
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
    st.subheader("Comparator learners")
    comparators_drawn = True
    comparator_learners(study, models)

    # -----------------------------------------------------------------------------------------
    st.subheader("Explanations (SHAP)")
    with ui.guard():  # an explanation that fails leaves the models and their discrimination on the page
        shap_section(study, models)

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

if not comparators_drawn and study.settings.comparators:
    # The models could not be fitted (the error above): the comparators stay removable, in case they are the cause.
    st.subheader("Comparator learners")
    with ui.guard():
        comparator_learners(study, None)
