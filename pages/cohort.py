"""Cohort: open a clinical table, choose its columns, split it, and read Table 1."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from core.figures.charts import distribution_figure
from core.io.paths import data_root, resolve_in_root
from core.io.tables import read_notes
from core.stats.missing import (MissingPolicy, missing_by_column, missing_by_patient, missing_features_reason,
                                patients_missing_features, patients_with_missing)
from core.vocabulary import MISSING_STRATEGIES, OUTCOME_KINDS, ROW_ID_COLUMN, format_p
from core.stats.feature_tables import IDENTIFIER_LIKE
from core.figures.survival import kaplan_meier_figure
from core.stats.outcomes import SurvivalOutcome
from core.workflows.checks import events_per_variable_guide, possible_leaks, study_feature_import
from core.workflows.sample_size import (DEFAULT_CSTATISTIC, anticipation_options, candidate_parameters,
                                        study_sample_size)
from core.workflows.cohort_outcome import (cohort_curves, guess_event_column, guess_time_column, parse_horizons)
from core.workflows.study import FeatureFamily, make_study
from core.stats.cohort import (CohortSpec, SplitConfig, blank_id_note, guess_id_column, guess_outcome_column,
                               looks_like_feature_table, missing_values, outcome_summary, suggest_clinical_variables,
                               table_one, train_test_comparison, with_row_ids, without_blank_ids)

ui.enter_page("pages/cohort.py")

DRAFT_KEY = "coh_draft"  # (file name, raw DataFrame) read but not yet opened as the study

COLUMN_KEYS = ("coh_id_column", "coh_outcome_column", "coh_continuous", "coh_categorical", "coh_study_name",
               "coh_row_ids", "coh_time_column", "coh_event_column")


def _set_draft(name: str, raw: pd.DataFrame) -> None:
    """Hold a freshly read table for column choice; choices made for an earlier table are forgotten."""
    st.session_state[DRAFT_KEY] = (name, raw)
    for key in COLUMN_KEYS:
        st.session_state.pop(key, None)


def _selectbox(label: str, options: list[str], key: str, guessed: str | None, **kwargs) -> str:
    """A column choice that starts at ``guessed`` and forgets an earlier choice that is no longer an option."""
    if st.session_state.get(key) is not None and st.session_state[key] not in options:
        st.session_state.pop(key)
    return st.selectbox(label, options, key=key, index=options.index(guessed) if guessed in options else 0, **kwargs)


def _binary_outcome_form(table: pd.DataFrame, id_column: str) -> tuple[list[str], dict]:
    """The binary outcome's column choice: (its columns, the rest of the form's spec builder's arguments)."""
    outcome_options = [c for c in table.columns if c != id_column]
    guessed_outcome = guess_outcome_column(table, exclude=[id_column])
    chosen_outcome = st.session_state.get("coh_outcome_column")
    if chosen_outcome is not None and chosen_outcome not in outcome_options:
        st.session_state.pop("coh_outcome_column")  # the ID column it was is no outcome
    outcome_column = st.selectbox("Outcome column (0/1, 1 = event)", outcome_options, key="coh_outcome_column",
                                  index=outcome_options.index(guessed_outcome) if guessed_outcome else 0)
    return [outcome_column], {"outcome_column": outcome_column}


def _survival_outcome_form(table: pd.DataFrame, id_column: str) -> tuple[list[str], dict]:
    """A time-to-event outcome's choices: the time and event columns, the time unit and the horizons (read as
    typed; parsed when the cohort is used, so a bad text is said then)."""
    options = [c for c in table.columns if c != id_column]
    time_col, event_col = st.columns(2)
    time_column = _selectbox_in(time_col, "Time column (time to the event or to the last follow-up, > 0)", options,
                                "coh_time_column", guess_time_column(table, exclude=[id_column]))
    event_options = [c for c in options if c != time_column]
    event_column = _selectbox_in(event_col, "Event column (1 = event, 0 = censored)", event_options,
                                 "coh_event_column", guess_event_column(table, exclude=[id_column, time_column]))
    unit_col, horizons_col = st.columns(2)
    time_unit = unit_col.text_input("Time unit", "months", key="coh_time_unit",
                                    help="The unit of the time column (months, days, years...), shown on every "
                                         "axis and label; the horizons are in this unit too.")
    horizons = horizons_col.text_input("Horizons", "12, 36, 60", key="coh_horizons",
                                       help="Times (in the time unit) at which risks are predicted and evaluated, "
                                            "separated by commas, e.g. 12, 36, 60 months.")
    return [time_column, event_column], {"time_column": time_column, "event_column": event_column,
                                         "time_unit": time_unit, "horizons_text": horizons}


def _selectbox_in(container, label: str, options: list[str], key: str, guessed: str | None) -> str:
    """:func:`_selectbox` drawn in ``container`` (a column)."""
    with container:
        return _selectbox(label, options, key, guessed)


def _binary_spec(choices: dict, labels: tuple[str, str], **spec) -> CohortSpec:
    return CohortSpec(outcome_column=choices["outcome_column"], outcome_labels=labels, **spec)


def _survival_spec(choices: dict, labels: tuple[str, str], **spec) -> CohortSpec:
    unit = choices["time_unit"].strip()
    horizons = parse_horizons(choices["horizons_text"], unit or "the time unit")
    outcome = SurvivalOutcome(time_column=choices["time_column"], event_column=choices["event_column"],
                              time_unit=unit, horizons=horizons, labels=labels)
    return CohortSpec(outcome=outcome, **spec)


# Per outcome kind (core.vocabulary.OUTCOME_KINDS): its form, its spec from the form's choices, and the inputs of
# the names of its two outcome classes (label, default, widget key).
OUTCOME_FORMS = {
    "binary": (_binary_outcome_form, _binary_spec, (("Name of outcome 0", "no event", "coh_label0"),
                                                    ("Name of outcome 1", "event", "coh_label1"))),
    "survival": (_survival_outcome_form, _survival_spec, (("Name of the censored (event 0)", "censored",
                                                           "coh_censored_label"),
                                                          ("Name of the event (event 1)", "event", "coh_event_label"))),
}


def _keep_valid_choices(key: str, options: list[str]) -> None:
    """Drop earlier choices that are no longer options (e.g. a column just chosen as the outcome)."""
    if key in st.session_state:
        st.session_state[key] = [v for v in st.session_state[key] if v in options]


st.title("Cohort")
ui.explain("cohort")

# ---------------------------------------------------------------------------------------------
# 1. Open a table (always in view: after an upload the draft shows right here)
# ---------------------------------------------------------------------------------------------
requested_source = st.session_state.pop("coh_requested_source", None)  # set by Home's "Start a new study"
if requested_source:
    st.session_state["coh_source"] = requested_source
with st.container(border=True):
    st.markdown("**Open a clinical table**")
    source = st.radio("Source", ["Sample study", "Upload a file", "File on the server"], horizontal=True,
                      key="coh_source")
    if source == "Sample study":
        st.caption("1001 synthetic gastric-cancer patients mirroring the reference study's Table 1.")
        if st.button("Open the sample study", key="coh_open_sample"):
            with ui.guard():
                st.session_state.pop(DRAFT_KEY, None)
                ui.set_study(ui.sample_study(), "The sample study is open.", rerun=True)
        if st.button("Open the survival sample study", key="coh_open_survival_sample",
                     help="The same patients with overall survival as the outcome (months; death 1, censored 0)."):
            with ui.guard():
                st.session_state.pop(DRAFT_KEY, None)
                ui.set_study(ui.sample_survival_study(), "The survival sample study is open.", rerun=True)
    elif source == "Upload a file":
        upload = st.file_uploader("Clinical table (one row per patient)", type=["csv", "tsv", "txt", "xlsx"],
                                  key="coh_upload")
        # A file stays in the uploader across reruns: read each upload once, so the column
        # choices made afterwards are not reset on every rerun.
        if upload is not None and st.session_state.get("coh_upload_token") != upload.file_id:
            st.session_state["coh_upload_token"] = upload.file_id
            with ui.guard():
                _set_draft(upload.name, ui.read_table_cached(upload.getvalue(), upload.name))
    else:
        root = data_root()
        server_path = st.text_input(f"Path inside the data root ({root})", key="coh_server_path",
                                    placeholder="clinical.csv")
        if st.button("Read", key="coh_read_server"):
            with ui.guard():
                path = resolve_in_root(server_path, root)
                _set_draft(path.name, ui.read_table_cached(path.read_bytes(), path.name))

    draft = st.session_state.get(DRAFT_KEY)
    if draft is not None:
        name, raw = draft
        st.markdown(f"**{name}**: {raw.shape[0]} rows × {raw.shape[1]} columns (not open yet: choose the columns, "
                    "then *Use this cohort*)")
        for note in read_notes(raw):  # e.g. a file read as Windows-1252: said, never silent
            st.info(note, icon=":material/info:")
        st.dataframe(raw.head(8), hide_index=True)
        study_name = st.text_input("Study name", value=name.rsplit(".", 1)[0], key="coh_study_name")
        # A column with a repeated value is never proposed as the ID; without a unique column, row numbers are.
        guessed_id = guess_id_column(raw)
        row_ids = st.checkbox("Use row numbers as IDs (the table has no ID column)", value=guessed_id is None,
                              key="coh_row_ids",
                              help="Patients are numbered 1..n in the table's order. A feature table without IDs is "
                                   "then matched row by row: it must list the same patients in the same order.")
        table = raw
        if row_ids:
            with ui.guard():
                table = with_row_ids(raw, what=f"table '{name}'")
            id_column = ROW_ID_COLUMN
            st.caption(f"IDs: the row numbers 1 to {len(raw)} (column '{ROW_ID_COLUMN}').")
        else:
            id_column = st.selectbox("Patient ID column", list(raw.columns), key="coh_id_column",
                                     index=list(raw.columns).index(guessed_id) if guessed_id else 0)
        columns = list(table.columns)
        outcome_kind = st.radio("Outcome", list(OUTCOME_FORMS), format_func=OUTCOME_KINDS.get, horizontal=True,
                                key="coh_outcome_kind",
                                help="Binary: one 0/1 column (1 = event). Time to event: a follow-up time column "
                                     "and an event column (1 = event, 0 = censored at that time), with the horizons "
                                     "at which risks are predicted.")
        outcome_form, outcome_spec, label_inputs = OUTCOME_FORMS[outcome_kind]
        outcome_columns, outcome_choices = outcome_form(table, id_column)
        blank_lines = without_blank_ids(table, id_column)[1] if id_column in table.columns else ()
        if blank_lines:
            st.info(blank_id_note(blank_lines, "table") + " They stay out when the cohort opens; duplicated IDs "
                    "are refused.", icon=":material/info:")
        as_features = looks_like_feature_table(table, exclude=[id_column, *outcome_columns])
        if as_features:
            n_numeric = sum(pd.api.types.is_numeric_dtype(table[c]) for c in columns)
            st.info(f"'{name}' has {n_numeric} numeric columns: it reads as a feature table (a radiomics export), not "
                    "a clinical table, so only a handful of plausible clinical variables are pre-selected. *Open it "
                    "with its features* takes the patient ID and the outcome from it, the clinical variables chosen "
                    "below as such, and every other numeric column as the Radiomics feature family.",
                    icon=":material/lightbulb:")
        guessed_cont, guessed_cat = suggest_clinical_variables(table, exclude=[id_column, *outcome_columns])
        continuous_options = [c for c in columns if c != id_column and c not in outcome_columns]
        _keep_valid_choices("coh_continuous", continuous_options)
        # A default only the first time: Streamlit warns when a keyed widget gets both a default and state.
        continuous = st.multiselect("Continuous variables", continuous_options, key="coh_continuous",
                                    default=None if "coh_continuous" in st.session_state else guessed_cont)
        categorical_options = [c for c in continuous_options if c not in continuous]
        _keep_valid_choices("coh_categorical", categorical_options)
        categorical = st.multiselect("Categorical variables", categorical_options, key="coh_categorical",
                                     default=None if "coh_categorical" in st.session_state
                                     else [c for c in guessed_cat if c not in continuous])
        label_0, label_1 = st.columns(2)
        (text_0, default_0, key_0), (text_1, default_1, key_1) = label_inputs
        outcome_labels = (label_0.text_input(text_0, default_0, key=key_0),
                          label_1.text_input(text_1, default_1, key=key_1))

        def draft_spec() -> CohortSpec:
            """The chosen columns as a specification (built at the click: a bad choice is said there)."""
            return outcome_spec(outcome_choices, outcome_labels, id_column=id_column, continuous=tuple(continuous),
                                categorical=tuple(categorical))

        left_out = (" " + blank_id_note(blank_lines, "table")) if blank_lines else ""
        if st.button("Use this cohort", key="coh_use_draft", type="primary"):
            with ui.guard():
                ui.set_study(make_study(study_name.strip() or name, table, draft_spec()))
                st.session_state.pop(DRAFT_KEY, None)
                ui.set_study(ui.get_study(), f"'{study_name or name}' is now the open study.{left_out}", rerun=True)
        if as_features and st.button("Open it with its features", key="coh_open_as_features",
                                     help="The study's clinical table and its Radiomics feature family, both from "
                                          "this one table."):
            with ui.guard():
                # Made, imported, then opened at once: on an error the previous study stays open.
                opened = make_study(study_name.strip() or name, table, draft_spec())
                imported = study_feature_import(opened, name=f"table '{name}'")
                family = FeatureFamily(name="radiomics", label="Radiomics", table=imported.table, kind="imported",
                                       source=f"imported from {name} (the clinical table)")
                st.session_state.pop(DRAFT_KEY, None)
                ui.set_study(opened.with_family(family), f"'{study_name or name}' is now the open study, with "
                             f"{imported.table.shape[1]} features as the Radiomics family.{left_out} "
                             + " ".join(imported.notes), rerun=True)

# ---------------------------------------------------------------------------------------------
# 2. The open study: summary, roles, split
# ---------------------------------------------------------------------------------------------
study = ui.get_study()
spec = study.spec
st.subheader(study.name)
curves = None  # the cohort's Kaplan-Meier curves: an outcome with a time (core.stats.outcomes.Outcome.curve)
with ui.guard():
    curves = cohort_curves(study)
if curves is None:
    cols = st.columns(4)
    cols[0].metric("Patients", len(study.cohort))
    cols[1].metric(f"Events ({spec.outcome.event_label})", study.n_events)
    cols[2].metric("Training cohort", len(study.split.train_ids))
    cols[3].metric("Test cohort", len(study.split.test_ids))
else:
    censored, follow_up = curves.statistic("censored"), curves.statistic("follow_up_median")
    cols = st.columns(6)
    cols[0].metric("Patients", len(study.cohort))
    cols[1].metric(f"Events ({spec.outcome.event_label})", study.n_events)
    cols[2].metric(f"Censored ({spec.outcome.labels[0]})", int(censored["estimate"]))
    median = follow_up["estimate"]  # NaN when fewer than half were censored before the last time: not reached
    cols[3].metric(f"Median follow-up ({curves.time_unit})", "not reached" if pd.isna(median) else f"{median:.4g}",
                   help=f"{follow_up['label']}: {follow_up['value']}, all patients.")
    cols[4].metric("Training cohort", len(study.split.train_ids))
    cols[5].metric("Test cohort", len(study.split.test_ids))
    described = spec.outcome.describe()
    st.caption(described[:1].upper() + described[1:] + ".")

with st.expander("Study name and variable roles"):
    new_name = st.text_input("Study name", value=study.name, key="coh_rename")
    columns = [c for c in study.cohort.columns if c not in spec.outcome.columns]
    roles = st.columns(2)
    continuous = roles[0].multiselect("Continuous variables", columns, default=list(spec.continuous),
                                      key="coh_roles_continuous")
    categorical = roles[1].multiselect("Categorical variables", [c for c in columns if c not in continuous],
                                       default=[c for c in spec.categorical if c not in continuous],
                                       key="coh_roles_categorical")
    if st.button("Apply", key="coh_roles_apply"):
        with ui.guard():
            changed = study.with_roles(continuous, categorical) if (tuple(continuous), tuple(categorical)) != (
                spec.continuous, spec.categorical) else study
            if new_name.strip() and new_name.strip() != study.name:
                changed = changed.replace(name=new_name.strip())
            ui.set_study(changed, "The study's name and roles are updated.", rerun=True)

with st.expander("Design: train/test split or no held-out test cohort", expanded=not study.has_test):
    current = study.split.config
    designs = ["split", "no test"]
    design = st.radio("Design", designs, index=0 if study.has_test else 1, horizontal=True, key="coh_design",
                      format_func={"split": "Train/test split (outcome-stratified)",
                                   "no test": "No held-out test cohort (every patient trains)"}.get,
                      help="Small cohorts (50-100 patients are common) lose too much to a test cohort: train on "
                           "every patient and estimate performance by repeated cross-validation and the bootstrap "
                           "(Internal validation page), the whole pipeline refitted inside.")
    test_size = st.slider("Test fraction", 0.1, 0.5, float(current.test_size) if study.has_test else 0.3, 0.05,
                          key="coh_test_size", disabled=design == "no test",
                          help="Outcome-stratified random split; the study used 7:3.")
    seed = st.number_input("Seed", min_value=0, value=int(current.seed), step=1, key="coh_seed")
    if st.button("Apply the design", key="coh_resplit"):
        with ui.guard():
            resplit = study.resplit(SplitConfig(test_size=test_size if design == "split" else 0.0, seed=int(seed)))
            message = (f"Split {len(resplit.split.train_ids)} / {len(resplit.split.test_ids)} (seed "
                       f"{resplit.split.config.seed})." if resplit.has_test else
                       f"All {len(resplit.split.train_ids)} patients train; see the Internal validation page.")
            ui.set_study(resplit, message, rerun=True)
    guide = events_per_variable_guide(study)
    counted = "events in the smaller outcome class" if curves is None else f"events ({spec.outcome.event_label})"
    st.caption(f"{guide['events']} {counted} of the training cohort: about "
               f"{guide['at_10']:.0f} predictors at 10 events per variable, {guide['at_20']:.0f} at 20 (what a model "
               "of this many patients can carry without overfitting; the LASSO's selection counts too; Riley's "
               "minimum sample size is below).")

# Riley's minimum sample size, beside the events-per-variable guide (its own expander: Streamlit nests none). It starts
# from Riley's conservative default, as the report does: nothing in the study says which C-statistic to expect.
with st.expander("Minimum sample size (Riley et al. 2020)"):
    anticipations = anticipation_options(spec.outcome.kind)
    study_parameters, counted_parameters = candidate_parameters(study)
    size_cols = st.columns(3)
    parameters = size_cols[0].number_input(
        "Candidate predictor parameters", min_value=1, value=max(study_parameters, 1), step=1, key="coh_ss_parameters",
        help=f"Every parameter the models may estimate, not only those kept. The study's: {counted_parameters}.")
    anticipation = size_cols[1].radio(
        "Anticipated performance", list(anticipations), format_func=anticipations.get, key="coh_ss_anticipation",
        help="Ideally the optimism-corrected C-statistic or Cox-Snell R\u00b2 of a previous model for this outcome "
             "(the apparent AUCs radiomics papers report are optimistic). Without one, Riley et al.'s conservative "
             "default: a Cox-Snell R\u00b2 at 15 % of its maximum.")
    anticipated = {}
    if anticipation == "cstatistic":
        anticipated["cstatistic"] = size_cols[2].number_input("Anticipated C-statistic", 0.51, 0.99, DEFAULT_CSTATISTIC,
                                                              0.01, key="coh_ss_cstatistic")
    elif anticipation == "rsquared":
        anticipated["rsquared"] = size_cols[2].number_input("Anticipated Cox-Snell R\u00b2", 0.001, 0.99, 0.1, 0.01,
                                                            format="%.3f", key="coh_ss_rsquared")
    with ui.guard():
        chosen_parameters = None if int(parameters) == study_parameters else int(parameters)  # None: itemised
        size_check = study_sample_size(study, parameters=chosen_parameters, **anticipated)
        first, *rest = size_check.sentences()
        (st.success if size_check.meets else st.warning)(first)
        # A static table: its long "ensures" and "assumption" texts wrap instead of being cut.
        st.table(size_check.table().style.format({"events": "{:.1f}", "epp": "{:.2f}", "shrinkage": "{:.3f}"})
                 .hide(axis="index"))
        st.caption(" ".join(rest) + " Criteria 1-3 as the R package pmsampsize computes them (Riley et al., Stat Med "
                   "2019); criterion 4 for a binary outcome is the BMJ 2020 paper's mean absolute prediction error.")

# Open when a clinical value is missing, or some patient lacks every feature of a family (imputing would make it up).
with st.expander("Missing values", expanded=bool(study.cohort[list(spec.variables)].isna().to_numpy().any()
                                                 if spec.variables else False)
                 or bool(patients_missing_features([f.table for f in study.families], 1.0))):
    missing = missing_values(study.cohort, spec.variables)
    if missing["n_missing"].sum():
        st.markdown("**Clinical variables**")
        st.dataframe(missing[missing["n_missing"] > 0], hide_index=True, key="coh_missing_clinical")
    else:
        st.caption("No missing values in the chosen clinical variables.")
    for family in study.families:
        by_column = missing_by_column(family.table)
        if len(by_column):
            by_patient = missing_by_patient(family.table)
            st.markdown(f"**{family.label} features**: {int(by_column['n_missing'].sum())} missing value(s) in "
                        f"{len(by_column)} feature(s) and {len(by_patient)} patient(s)")
            left, right = st.columns(2)
            left.dataframe(by_column.round(3), key=f"coh_missing_{family.name}_features")
            right.dataframe(by_patient.round(3), key=f"coh_missing_{family.name}_patients")
    policy = study.settings.missing
    strategies = list(MISSING_STRATEGIES)
    row = st.columns([2, 1])
    strategy = row[0].selectbox("Missing-value policy", strategies, index=strategies.index(policy.strategy),
                                key="coh_missing_strategy", format_func=MISSING_STRATEGIES.get,
                                help="Fitted on the training patients only and applied unchanged to test, "
                                     "external and new patients; saved with the study.")
    share = row[1].number_input("Drop features missing for more than (share of training patients)", 0.0, 1.0,
                                float(policy.max_missing), 0.05, key="coh_missing_share")
    with ui.guard():
        study = ui.update_settings(missing=MissingPolicy(strategy=strategy, max_missing=float(share),
                                                         patient_max_missing=policy.patient_max_missing))
    if study.families:
        patient_share = st.number_input(
            "Drop patients missing at least this share of a family's features (1 = every feature)", 0.05, 1.0,
            float(policy.patient_max_missing or 1.0), 0.05, key="coh_patient_share",
            help="Imputing every feature of a patient would make the patient up. Only these patients leave the "
                 "study; the others are imputed as the policy says. The share is saved with the study.")
        sparse = patients_missing_features([f.table for f in study.families], float(patient_share))
        if sparse:
            reason = missing_features_reason(float(patient_share))
            shown = ", ".join(sparse[:10]) + (" ..." if len(sparse) > 10 else "")
            st.caption(f"{len(sparse)} patient(s) with {reason}: {shown}.")
            if st.button(f"Drop the {len(sparse)} patient(s) with {reason}", key="coh_drop_sparse",
                         help="Takes only them out of the study (training and test); the report lists them."):
                with ui.guard():
                    kept = MissingPolicy(strategy=strategy, max_missing=float(share),
                                         patient_max_missing=float(patient_share))
                    ui.set_study(study.with_settings(missing=kept).without_patients(sparse, reason),
                                 f"{len(sparse)} patient(s) with {reason} left the study: {shown}.", rerun=True)
    incomplete = patients_with_missing([study.cohort[list(spec.variables)], *(f.table for f in study.families)])
    if incomplete:
        if st.button(f"Drop the {len(incomplete)} patient(s) with a missing value instead", key="coh_drop_missing",
                     help="Takes them out of the study (training and test); the report lists them."):
            with ui.guard():
                ui.set_study(study.without_patients(incomplete, "a missing value"),
                             f"{len(incomplete)} patient(s) with a missing value left the study.", rerun=True)
    if study.exclusions:
        st.caption(f"{len(study.exclusions)} patient(s) were taken out of this study: "
                   + ", ".join(f"{i} ({why})" for i, why in study.exclusions[:10])
                   + (" ..." if len(study.exclusions) > 10 else ""))

LEAK_BUTTONS = 8  # one "Exclude" click per flagged column, for the strongest ones


def _exclude_button(row, where: str) -> None:
    """One click that keeps a flagged column out of every feature family (and out of the clinical roles)."""
    if st.button(f"Exclude {row.column}", key=f"coh_exclude_{row.family}_{row.column}",
                 help=f"Never use {row.column} as a feature" + (" or clinical variable" if where == "clinical" else "")
                      + "; saved with the study, editable on the Selection page."):
        with ui.guard():
            ui.set_study(ui.get_study().excluding([row.column]), f"{row.column} is excluded from the features"
                         + (" and the clinical variables" if where == "clinical" else "") + ".", rerun=True)


with ui.guard():
    leaks = possible_leaks(study)
    # A predictor (or feature) that orders the outcome on its own is a warning; a column that is no predictor
    # (a subtype or follow-up detail of the outcome, e.g. the sample study's lm_type) only a note to keep it out;
    # a column of identifiers orders it only because each value is one patient; columns already kept out are listed.
    identifiers = leaks[leaks["note"] == IDENTIFIER_LIKE]
    done = leaks[leaks["note"].str.startswith("left out") | (leaks["note"] == "excluded")]
    open_ = leaks[leaks["note"] == ""]
    used, unused = open_[open_["source"] != "other column"], open_[open_["source"] == "other column"]
    if len(used):
        st.warning("Possible leak: " + "; ".join(f"{r.column} ({r.source}) orders the outcome with AUC "
                                                  f"{r.auc:.2f} on its own" for r in used.head(5).itertuples())
                   + ". A column that encodes the outcome (a follow-up status, a metastasis date) must not be a "
                     "predictor.", icon=":material/warning:")
    if len(unused):
        st.caption("Not predictors, but they order the outcome on their own (training AUC): "
                   + ", ".join(f"{r.column} ({r.auc:.2f})" for r in unused.head(5).itertuples())
                   + ". They describe the outcome (a subtype, a follow-up detail): keep them out of the models.")
    flagged = pd.concat([used, unused]).head(LEAK_BUTTONS)
    if len(flagged):
        buttons = st.columns(min(len(flagged), 4))
        for i, row in enumerate(flagged.itertuples()):
            with buttons[i % len(buttons)]:
                _exclude_button(row, "clinical" if row.source == "clinical variable" else "")
    for row in identifiers.itertuples():
        text = (f"{row.column}: {IDENTIFIER_LIKE}. It orders the outcome (AUC {row.auc:.2f}) only because each "
                "value is one patient; it describes no patient and is no outcome descriptor.")
        if row.source == "clinical variable":
            st.warning(text + " Take it out of the clinical variables above.", icon=":material/warning:")
        else:
            st.caption(text)
    if len(done):
        st.caption("Already kept out of the features: " + "; ".join(
            f"{r.column} ({r.note.removeprefix('left out: ')})" for r in done.head(10).itertuples()) + ".")
if study.settings.excluded_features:
    st.caption("Never used as features (Selection page to edit): " + ", ".join(study.settings.excluded_features) + ".")

# ---------------------------------------------------------------------------------------------
# 3. Table 1 and the train-vs-test comparison
# ---------------------------------------------------------------------------------------------


def _render_table(frame: pd.DataFrame, p_columns: list[str], significant_columns: list[str]) -> None:
    """Show a baseline table with formatted p-values and p < 0.05 highlighted."""
    shown = frame.drop(columns=significant_columns)
    for column in p_columns:
        shown[column] = frame[column].map(format_p)

    def highlight(row: pd.Series) -> list[str]:
        flagged = {p for p, s in zip(p_columns, significant_columns, strict=True) if bool(frame.loc[row.name, s])}
        return ["background-color: #fde2d0; font-weight: 600" if c in flagged else "" for c in row.index]

    st.dataframe(shown.style.apply(highlight, axis=1), hide_index=True, width="stretch")


table_source = study.cohort_table()
st.subheader("Table 1: baseline characteristics by outcome")
st.caption("Categorical: n (%), chi-square (Yates-corrected for 2 × 2). Continuous: mean ± SD, Student's t when "
           "Shapiro-Wilk and Levene allow, else Mann-Whitney U. Highlighted: p < 0.05.")
with ui.guard():
    table1 = table_one(table_source, spec, study.split)
    _render_table(table1, [c for c in ("Train p", "Test p") if c in table1],
                  [c for c in ("Train significant", "Test significant") if c in table1])
    ui.csv_download(table1, "table1.csv", label="Table 1 (CSV)", key="coh_download_table1")
if curves is not None:
    st.markdown(f"**Outcome: {spec.outcome.event_label} over time ({curves.time_unit})**")
    st.caption("Events and censoring by cohort; follow-up by reverse Kaplan-Meier (the censoring's own curve), the "
               "median time to event and the event-free proportions at the horizons by Kaplan-Meier, 95% CIs as "
               "R's survfit (log).")
    with ui.guard():
        outcome_rows = outcome_summary(table_source, spec, study.split)
        st.dataframe(outcome_rows.drop(columns=["statistic"]), hide_index=True, width="stretch",
                     key="coh_outcome_summary")
        ui.csv_download(outcome_rows, "outcome_summary.csv", label="Outcome rows (CSV)",
                        key="coh_download_outcome_summary")

if study.has_test:
    st.subheader("Training vs test cohort")
    with ui.guard():
        comparison = train_test_comparison(table_source, spec, study.split)
        _render_table(comparison.drop(columns=["statistic"]), ["p_value"], ["significant"])
        ui.csv_download(comparison, "train_vs_test.csv", label="Comparison (CSV)", key="coh_download_comparison")

if curves is not None:
    st.subheader("Kaplan-Meier: " + ("training vs test cohort" if study.has_test else "all patients"))
    st.caption("The outcome over time in each cohort, with 95% confidence bands, censoring marks and the number at "
               "risk" + (". The log-rank test asks whether the split drew cohorts of different survival (it should "
                         "not: the split is random and stratified by the event)." if study.has_test else "."))
    st.plotly_chart(kaplan_meier_figure(curves.curves, title=f"Time to {spec.outcome.event_label} "
                                        f"({spec.outcome.time_column})", time_unit=curves.time_unit,
                                        log_rank_p=curves.log_rank_p, y_title="event-free probability"),
                    key="coh_kaplan_meier")

# ---------------------------------------------------------------------------------------------
# 4. Distributions
# ---------------------------------------------------------------------------------------------
st.subheader("Distributions by outcome")
if curves is not None:
    st.caption(f"By event status at the last follow-up: {spec.outcome.labels[1]} (event 1) vs "
               f"{spec.outcome.labels[0]} (censored, event 0); the time to it is not drawn here.")
if spec.variables:
    variable = st.selectbox("Variable", spec.variables, key="coh_plot_variable", format_func=study.label)
    kind = "continuous" if variable in spec.continuous else "categorical"
    st.plotly_chart(distribution_figure(table_source, variable, spec.outcome.event_column, kind=kind,
                                        outcome_labels=spec.outcome.labels), key="coh_distribution")
else:
    st.caption("Choose clinical variables to see their distributions.")
