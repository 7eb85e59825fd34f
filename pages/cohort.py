"""Cohort: open a clinical table, choose its columns, split it, and read Table 1."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from core.figures.charts import distribution_figure
from core.io.paths import data_root, resolve_in_root
from core.stats.missing import MissingPolicy, missing_by_column, missing_by_patient, patients_with_missing
from core.vocabulary import MISSING_STRATEGIES, format_p
from core.workflows.checks import events_per_variable_guide, possible_leaks
from core.stats.cohort import (CohortSpec, SplitConfig, guess_variable_kinds, missing_values, table_one,
                               train_test_comparison)

ui.enter_page("pages/cohort.py")

DRAFT_KEY = "coh_draft"  # (file name, raw DataFrame) read but not yet opened as the study

COLUMN_KEYS = ("coh_id_column", "coh_outcome_column", "coh_continuous", "coh_categorical", "coh_study_name")


def _set_draft(name: str, raw: pd.DataFrame) -> None:
    """Hold a freshly read table for column choice; choices made for an earlier table are forgotten."""
    st.session_state[DRAFT_KEY] = (name, raw)
    for key in COLUMN_KEYS:
        st.session_state.pop(key, None)


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
        st.dataframe(raw.head(8), hide_index=True)
        columns = list(raw.columns)
        study_name = st.text_input("Study name", value=name.rsplit(".", 1)[0], key="coh_study_name")
        id_column = st.selectbox("Patient ID column", columns, key="coh_id_column")
        outcome_column = st.selectbox("Outcome column (0/1, 1 = event)", columns,
                                      index=min(1, len(columns) - 1), key="coh_outcome_column")
        guessed_cont, guessed_cat = guess_variable_kinds(raw, exclude=[id_column, outcome_column])
        continuous_options = [c for c in columns if c not in (id_column, outcome_column)]
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
        outcome_labels = (label_0.text_input("Name of outcome 0", "no event", key="coh_label0"),
                          label_1.text_input("Name of outcome 1", "event", key="coh_label1"))
        if st.button("Use this cohort", key="coh_use_draft", type="primary"):
            with ui.guard():
                spec = CohortSpec(id_column=id_column, outcome_column=outcome_column, continuous=tuple(continuous),
                                  categorical=tuple(categorical), outcome_labels=outcome_labels)
                ui.open_study(study_name.strip() or name, raw, spec)
                st.session_state.pop(DRAFT_KEY, None)
                ui.set_study(ui.get_study(), f"'{study_name or name}' is now the open study.", rerun=True)

# ---------------------------------------------------------------------------------------------
# 2. The open study: summary, roles, split
# ---------------------------------------------------------------------------------------------
study = ui.get_study()
spec = study.spec
st.subheader(study.name)
cols = st.columns(4)
cols[0].metric("Patients", len(study.cohort))
cols[1].metric(f"Events ({spec.outcome_labels[1]})", study.n_events)
cols[2].metric("Training cohort", len(study.split.train_ids))
cols[3].metric("Test cohort", len(study.split.test_ids))

with st.expander("Study name and variable roles"):
    new_name = st.text_input("Study name", value=study.name, key="coh_rename")
    columns = [c for c in study.cohort.columns if c != spec.outcome_column]
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
            resplit = ui.resplit(SplitConfig(test_size=test_size if design == "split" else 0.0, seed=int(seed)))
            message = (f"Split {len(resplit.split.train_ids)} / {len(resplit.split.test_ids)} (seed "
                       f"{resplit.split.config.seed})." if resplit.has_test else
                       f"All {len(resplit.split.train_ids)} patients train; see the Internal validation page.")
            ui.set_study(resplit, message, rerun=True)
    guide = events_per_variable_guide(study)
    st.caption(f"{guide['events']} events in the smaller outcome class of the training cohort: about "
               f"{guide['at_10']:.0f} predictors at 10 events per variable, {guide['at_20']:.0f} at 20 (what a model "
               "of this many patients can carry without overfitting; the LASSO's selection counts too).")

with st.expander("Missing values", expanded=bool(study.cohort[list(spec.variables)].isna().to_numpy().any()
                                                 if spec.variables else False)):
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
        study = ui.update_settings(missing=MissingPolicy(strategy=strategy, max_missing=float(share)))
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

with ui.guard():
    leaks = possible_leaks(study)
    # A predictor (or feature) that orders the outcome on its own is a warning; a column that is no predictor
    # (a subtype or follow-up detail of the outcome, e.g. the sample study's lm_type) only a note to keep it out.
    used, unused = leaks[leaks["source"] != "other column"], leaks[leaks["source"] == "other column"]
    if len(used):
        st.warning("Possible leak: " + "; ".join(f"{r.column} ({r.source}) orders the outcome with AUC "
                                                  f"{r.auc:.2f} on its own" for r in used.head(5).itertuples())
                   + ". A column that encodes the outcome (a follow-up status, a metastasis date) must not be a "
                     "predictor.", icon=":material/warning:")
    if len(unused):
        st.caption("Not predictors, but they order the outcome on their own (training AUC): "
                   + ", ".join(f"{r.column} ({r.auc:.2f})" for r in unused.head(5).itertuples())
                   + ". They describe the outcome (a subtype, a follow-up detail): keep them out of the models.")

# ---------------------------------------------------------------------------------------------
# 3. Table 1 and the train-vs-test comparison
# ---------------------------------------------------------------------------------------------


def _render_table(frame: pd.DataFrame, p_columns: list[str], significant_columns: list[str]) -> None:
    """Show a baseline table with formatted p-values and p < 0.05 highlighted."""
    shown = frame.drop(columns=significant_columns)
    for column in p_columns:
        shown[column] = frame[column].map(format_p)

    def highlight(row: pd.Series) -> list[str]:
        flagged = {p for p, s in zip(p_columns, significant_columns) if bool(frame.loc[row.name, s])}
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

if study.has_test:
    st.subheader("Training vs test cohort")
    with ui.guard():
        comparison = train_test_comparison(table_source, spec, study.split)
        _render_table(comparison.drop(columns=["statistic"]), ["p_value"], ["significant"])
        ui.csv_download(comparison, "train_vs_test.csv", label="Comparison (CSV)", key="coh_download_comparison")

# ---------------------------------------------------------------------------------------------
# 4. Distributions
# ---------------------------------------------------------------------------------------------
st.subheader("Distributions by outcome")
if spec.variables:
    variable = st.selectbox("Variable", spec.variables, key="coh_plot_variable", format_func=study.label)
    kind = "continuous" if variable in spec.continuous else "categorical"
    st.plotly_chart(distribution_figure(table_source, variable, spec.outcome_column, kind=kind,
                                        outcome_labels=spec.outcome_labels), key="coh_distribution")
else:
    st.caption("Choose clinical variables to see their distributions.")
