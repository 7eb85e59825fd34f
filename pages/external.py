"""External validation and subgroups: the frozen models on other cohorts and on subgroups, side by side."""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

import ui
from core.io.tables import read_any_table
from core.io.tables import read_table
from core.stats.evaluation import (
    calibration_curve,
    decision_curve,
    interval_text,
    roc_auc,
    roc_curve,
)
from core.workflows.external import cohort_aucs, cohort_panel, out_of_range, subgroups, validate_external
from core.figures.charts import (
    MODEL_LABELS,
    calibration_figure,
    decision_curve_figure,
    roc_figure,
)
from core.workflows.newpatient import needed_features
from core.io.paths import data_root, resolve_in_root
from core.workflows.fit import MODEL_NAMES, training_cutoffs
from core.workflows.sample import SAMPLE_EXTERNAL_DIR

ui.enter_page("pages/external.py")

EXTERNAL_KEY = "ext_cohorts"  # name -> (cohort, features)

st.title("External validation and subgroups")
st.caption("Nothing is refitted here: the training cohort's models and cut-offs score every other cohort. Add "
           "external cohorts (a clinical table with the study's columns and its feature tables) and compare them "
           "with the training and test cohorts and with subgroups, in one panel.")
ui.explain("external")
study = ui.get_study()
spec = study.spec
externals: dict = st.session_state.setdefault(EXTERNAL_KEY, {})

with ui.guard():
    models = ui.study_models(study)
    predictions = ui.study_predictions(study)
    outcome = study.cohort.set_index(spec.id_column)[spec.outcome_column]
    available = [m for m in MODEL_NAMES if m in predictions.columns]
    cutoffs = training_cutoffs(predictions, outcome, study.split.train_ids, available)

    st.subheader("Add an external cohort")
    source = st.radio("From", ["Upload files", "Files inside the data root"], horizontal=True, key="ext_source")
    name = st.text_input("Name", value=f"External {len(externals) + 1}", key="ext_name")
    tables: dict = {}
    if study.is_sample and SAMPLE_EXTERNAL_DIR.is_dir() and st.button(
            "Add the sample's external centre", key="ext_add_sample",
            help="A second synthetic centre: another seed and scanner mix, its features extracted with the "
                 "sample study's pyradiomics settings and autoencoder."):
        name = "External centre"
        tables = {"clinical": read_table(SAMPLE_EXTERNAL_DIR / "clinical.csv"),
                  "radiomics": pd.read_parquet(SAMPLE_EXTERNAL_DIR / "features_radiomics.parquet"),
                  "deep": pd.read_parquet(SAMPLE_EXTERNAL_DIR / "features_deep.parquet")}
    if source == "Upload files":
        clinical_file = st.file_uploader("Clinical table (CSV/TSV/XLSX)", key="ext_clinical_upload")
        radiomics_file = st.file_uploader("Radiomics features (Parquet or CSV)", key="ext_radiomics_upload")
        deep_file = st.file_uploader("Deep features (Parquet or CSV)", key="ext_deep_upload")
        files = {"clinical": clinical_file, "radiomics": radiomics_file, "deep": deep_file}
        ready = clinical_file is not None
        if ready and st.button("Add cohort", key="ext_add_upload"):
            for key, upload in files.items():
                if upload is not None:
                    tables[key] = read_any_table(upload.getvalue(), upload.name)
    else:
        root = data_root()
        paths = {key: st.text_input(f"{label} path inside {root}", key=f"ext_{key}_path")
                 for key, label in (("clinical", "Clinical table"), ("radiomics", "Radiomics features"),
                                    ("deep", "Deep features"))}
        if paths["clinical"] and st.button("Add cohort", key="ext_add_server"):
            for key, value in paths.items():
                if value:
                    path = resolve_in_root(value, root)
                    tables[key] = read_any_table(path.read_bytes(), path.name)
    if tables:
        clinical = tables.pop("clinical")
        cohort, features = validate_external(clinical, tables, spec, sorted(needed_features(models)))
        externals[name] = (cohort, features)
        st.success(f"Added {name}: {len(cohort)} patients, {int(cohort[spec.outcome_column].sum())} events.")

    # -----------------------------------------------------------------------------------------
    groups: dict[str, list[str]] = {"train": list(study.split.train_ids), "test": list(study.split.test_ids)}
    all_predictions, all_outcome = predictions, outcome
    for external_name, (cohort, features) in externals.items():
        scored = models.predict(cohort, features, spec)
        scored.index = [f"{external_name}:{i}" for i in scored.index]
        all_predictions = pd.concat([all_predictions, scored])
        all_outcome = pd.concat([all_outcome, pd.Series(cohort[spec.outcome_column].to_numpy(), index=scored.index)])
        groups[external_name] = list(scored.index)
    categorical = [c for c in study.cohort.columns if c not in (spec.id_column, spec.outcome_column)
                   and study.cohort[c].dtype == object and 2 <= study.cohort[c].nunique() <= 8]
    by = st.multiselect("Subgroups of the test cohort by", categorical, default=[], key="ext_subgroups")
    for column in by:
        groups.update({f"test, {k}": v for k, v in subgroups(study.cohort, spec, column, study.split.test_ids).items()})

    st.subheader("All cohorts side by side")
    panel = cohort_panel(all_predictions, all_outcome, groups, cutoffs)
    shown = panel[["group", "model", "n", "events"]].assign(model=panel["model"].map(MODEL_LABELS))
    shown = shown.join(interval_text(panel))
    shown[["Brier", "calibration intercept", "calibration slope"]] = panel[["brier", "cal_intercept", "cal_slope"]]
    st.dataframe(shown.round(3), hide_index=True, key="ext_panel")
    ui.csv_download(panel, "cohort_panel.csv", label="Panel (CSV)", key="ext_dl_panel")

    model = st.selectbox("Model for the figures", available, index=len(available) - 1, key="ext_model",
                         format_func=MODEL_LABELS.get)
    figure_groups = st.multiselect("Cohorts in the figures", list(groups), default=list(groups)[:4],
                                   key="ext_figure_groups")
    valid = [g for g in figure_groups if all_outcome.loc[groups[g]].nunique() == 2]
    curves = {g: roc_curve(all_outcome.loc[groups[g]], all_predictions.loc[groups[g], model]) for g in valid}
    aucs = {g: (lambda r: (r.auc, r.ci_low, r.ci_high))(roc_auc(all_outcome.loc[groups[g]],
                                                                all_predictions.loc[groups[g], model])) for g in valid}
    left, middle, right = st.columns(3)
    left.plotly_chart(roc_figure(curves, aucs, title=f"ROC: {MODEL_LABELS[model]}"), key="ext_roc")
    binned, smooth = {}, {}
    for g in valid:
        binned[g], smooth[g] = calibration_curve(all_outcome.loc[groups[g]], all_predictions.loc[groups[g], model])
    middle.plotly_chart(calibration_figure(binned, smooth, title="Calibration"), key="ext_calibration")
    right.plotly_chart(decision_curve_figure({g: decision_curve(all_outcome.loc[groups[g]],
                                                                all_predictions.loc[groups[g], model]) for g in valid},
                                             title="Decision curves"), key="ext_dca")

    for external_name, (cohort, features) in externals.items():
        with st.expander(f"{external_name}: features outside the training range"):
            train_ids = list(study.split.train_ids)
            rows = []
            for kind, table in features.items():
                reference = ui.study_features(study).get(kind)
                used = [f for f in sorted(needed_features(models)) if f in table.columns]
                if reference is not None and used:
                    rows.append(out_of_range(reference.loc[train_ids], table, used))
            report = pd.concat(rows) if rows else pd.DataFrame()
            flagged = int(report["flag"].sum()) if len(report) else 0
            if flagged:
                st.warning(f"{flagged} of the {len(report)} features the models use have more than 10 % of this "
                           "cohort's patients outside the training range: predictions extrapolate there.")
            st.dataframe(report.round(3), key=f"ext_range_{external_name}")

    st.subheader("Scanner harmonisation (ComBat)")
    batch_columns = ui.batch_columns(study)
    if not externals or not batch_columns:
        st.caption("Add an external cohort to compare its AUCs with and without ComBat harmonisation "
                   "(needs a scanner or centre column with at least two levels in training).")
    elif st.toggle("Compare with and without ComBat", key="ext_compare_combat",
                   help="Fits the whole study twice on the training cohort, once on the features as extracted "
                        "and once on ComBat-harmonised features, and scores every cohort with each."):
        column = st.selectbox("Harmonise by", batch_columns, key="ext_combat_by",
                              index=batch_columns.index("scanner") if "scanner" in batch_columns else 0)
        index = study.cohort.set_index(spec.id_column)
        raw = ui.study_features(study)
        cohorts = {"train": (index.loc[list(study.split.train_ids)].reset_index(), raw),
                   "test": (index.loc[list(study.split.test_ids)].reset_index(), raw), **externals}
        frames = []
        for label, by in (("as extracted", None), (f"ComBat by {column}", column)):
            settings = dataclasses.replace(study.model_settings, harmonise_by=by)
            frames.append(cohort_aucs(ui.study_models(study, settings), cohorts, spec).assign(features=label))
        comparison = pd.concat(frames, ignore_index=True)
        wide = comparison.pivot_table(index=["cohort", "model"], columns="features", values="auc", sort=False)
        wide.index = wide.index.set_levels(wide.index.levels[1].map(lambda m: MODEL_LABELS.get(m, m)), level=1)
        st.dataframe(wide.round(3), key="ext_combat_table")
        ui.csv_download(comparison, "auc_with_without_combat.csv", label="AUCs with and without ComBat (CSV)",
                        key="ext_dl_combat")
