"""External validation and subgroups: the frozen models on other cohorts and on subgroups, side by side."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from core.figures.charts import calibration_figure, decision_curve_figure, roc_figure
from core.figures.palette import cohort_colours
from core.io.paths import data_root, resolve_in_root
from core.io.tables import read_any_table, read_table
from core.stats.evaluation import interval_text
from core.stats.summaries import batch_columns
from core.vocabulary import CALIBRATION_SUBSETS, OUTSIDE_RANGE
from core.workflows.evaluation import evaluate_cohorts
from core.workflows.external import (OUT_OF_RANGE_SHARE, OUTSIDE_MARGIN_SD, calibration_with_and_without,
                                     cohort_aucs, cohort_panel, outside_range_patients, panel_notes,
                                     pooled_predictions, range_report, study_cohorts, subgroup_columns, level_groups,
                                     validate_external)
from core.workflows.sample import SAMPLE_EXTERNAL_DIR, sample_external_tables

ui.enter_page("pages/external.py")

EXTERNAL_KEY = "ext_cohorts"  # (the study's data fingerprint, {name: ExternalCohort})

st.title("External validation and subgroups")
st.caption("Nothing is refitted here: the training cohort's models and cut-offs score every other cohort. Add "
           "external cohorts (a clinical table with the study's columns and a feature table per family) and compare "
           "them with the training and test cohorts and with subgroups, in one panel.")
ui.explain("external")
study = ui.get_study()
spec = study.spec
stored = st.session_state.get(EXTERNAL_KEY)
if stored is None or stored[0] != study.data_fingerprint:  # another study's cohorts are not this one's
    stored = (study.data_fingerprint, {})
    st.session_state[EXTERNAL_KEY] = stored
externals: dict = stored[1]

with ui.guard():
    models = ui.results(study).models
    predictions = ui.results(study).predictions
    available = models.model_names
    labels = study.model_labels()
    # The study's cut-off rule and CI method (chosen on Evaluation, saved with the study, used by the report).
    cutoffs = ui.results(study).evaluation.cutoffs
    families = sorted({m for score in models.scores for m in models.members[score]}, key=study.family_names.index)

    st.subheader("Add an external cohort")
    source = st.radio("From", ["Upload files", "Files inside the data root"], horizontal=True, key="ext_source")
    name = st.text_input("Name", value=f"External {len(externals) + 1}", key="ext_name")
    tables: dict = {}
    clinical = None
    if study.is_sample and SAMPLE_EXTERNAL_DIR.is_dir() and st.button(
            "Add the sample's external centre", key="ext_add_sample",
            help="A second synthetic centre: another seed and scanner mix, its features extracted with the "
                 "sample study's pyradiomics settings and autoencoder."):
        name = "External centre"
        clinical, tables = read_table(SAMPLE_EXTERNAL_DIR / "clinical.csv"), sample_external_tables()
    if source == "Upload files":
        clinical_file = st.file_uploader("Clinical table (CSV/TSV/XLSX)", key="ext_clinical_upload")
        files = {f: st.file_uploader(f"{study.family_label(f)} features (Parquet, CSV or XLSX)",
                                     key=f"ext_{f}_upload") for f in families}
        if clinical_file is not None and st.button("Add cohort", key="ext_add_upload"):
            clinical = read_any_table(clinical_file.getvalue(), clinical_file.name)
            tables = {f: read_any_table(u.getvalue(), u.name) for f, u in files.items() if u is not None}
    else:
        root = data_root()
        clinical_path = st.text_input(f"Clinical table path inside {root}", key="ext_clinical_path")
        paths = {f: st.text_input(f"{study.family_label(f)} features path inside {root}", key=f"ext_{f}_path")
                 for f in families}
        if clinical_path and st.button("Add cohort", key="ext_add_server"):
            path = resolve_in_root(clinical_path, root)
            clinical = read_any_table(path.read_bytes(), path.name)
            for family, value in paths.items():
                if value:
                    path = resolve_in_root(value, root)
                    tables[family] = read_any_table(path.read_bytes(), path.name)
    if clinical is not None:
        external = validate_external(study, name, clinical, tables, models)
        externals[external.name] = external
        if "ext_figure_groups" in st.session_state:  # a cohort just added is drawn, not only tabulated
            st.session_state["ext_figure_groups"] = list(dict.fromkeys([*st.session_state["ext_figure_groups"],
                                                                        external.name]))
        st.success(f"Added {external.name}: {len(external.cohort)} patients, "
                   f"{external.n_events(spec.outcome)} events." + "".join(f" {n}" for n in external.notes))

    # -----------------------------------------------------------------------------------------
    all_predictions, all_outcome, groups = pooled_predictions(study, models, predictions, list(externals.values()))
    by = st.multiselect("Subgroups of the test cohort by" if study.has_test else "Subgroups of the training cohort by",
                        subgroup_columns(study), default=[], key="ext_subgroups", format_func=study.label)
    evaluated = study.test_ids if study.has_test else study.train_ids
    prefix = "test" if study.has_test else "train"
    for column in by:
        groups.update({f"{prefix}, {k}": v for k, v in level_groups(study, column, evaluated).items()})
    colours = cohort_colours(list(groups))

    st.subheader("All cohorts side by side")
    panel = cohort_panel(all_predictions, all_outcome, groups, cutoffs, ci=study.evaluation.proportion_ci)
    shown = panel[["group", "model", "n", "events"]].assign(model=panel["model"].map(labels))
    shown = shown.join(interval_text(panel))
    shown[["Brier", "calibration-in-the-large", "calibration slope"]] = panel[["brier", "cal_in_the_large",
                                                                              "cal_slope"]]
    st.dataframe(shown.round(3), hide_index=True, key="ext_panel")
    for note in panel_notes(panel, labels):
        st.caption(note)
    ui.csv_download(panel, "cohort_panel.csv", label="Panel (CSV)", key="ext_dl_panel")

    # Patients far outside the training range (or with a risk of 0 or 1) extrapolate and can alone drag an
    # external calibration slope towards 0: listed, and the calibration shown again without them.
    outside = {}
    for external in externals.values():
        scored = all_predictions.loc[groups[external.name]].set_axis(list(external.cohort.index), axis=0)
        listed = outside_range_patients(study, models, external, scored)
        outside[external.name] = [f"{external.name}:{i}" for i in listed.index]
        if len(listed):
            st.warning(f"{external.name}: {len(listed)} patient(s) {OUTSIDE_RANGE} (a feature the scores use more "
                       f"than {OUTSIDE_MARGIN_SD:g} training SD beyond the training minimum or maximum, or a predicted "
                       "risk within 1e-6 of 0 or 1): the models extrapolate for them. Calibration is shown with and "
                       "without them.")
            st.dataframe(listed[["reason", "features", "extreme_risk"]], key=f"ext_outside_{external.name}")
    if any(outside.values()):
        calibration = calibration_with_and_without(all_predictions, all_outcome, groups,
                                                   {g: ids for g, ids in outside.items() if ids}, available)
        st.markdown(f"**External calibration with and without the patients {OUTSIDE_RANGE}**")
        st.dataframe(calibration.assign(model=calibration["model"].map(labels)).rename(
            columns={"cal_in_the_large": "calibration-in-the-large", "cal_slope": "calibration slope",
                     "brier": "Brier", "n_outside": "n outside"}).round(3),
                     hide_index=True, key="ext_calibration_outside")
        offered = st.session_state.setdefault("_ext_without_offered", set())
        for name, ids in outside.items():  # the cohort without them is a group of the figures too
            if ids:
                without = f"{name} ({CALIBRATION_SUBSETS['within'].lower()})"
                groups[without] = [i for i in groups[name] if i not in set(ids)]
                drawn_now = st.session_state.get("ext_figure_groups", [])
                if without not in offered and name in drawn_now:  # drawn beside the cohort when first offered
                    st.session_state["ext_figure_groups"] = [*drawn_now, without]
                offered.add(without)
        colours = cohort_colours(list(groups))

    model = st.selectbox("Model for the figures", available, index=len(available) - 1, key="ext_model",
                         format_func=labels.get)
    figure_groups = st.multiselect("Cohorts in the figures", list(groups), default=list(groups)[:4],
                                   key="ext_figure_groups")
    # The chosen model on the chosen cohorts, evaluated as the study's own cohorts are (the same function): each
    # group holds the patients with a prediction of this model, and a group with one outcome only is not drawn.
    drawn = evaluate_cohorts(all_predictions, all_outcome, {g: groups[g] for g in figure_groups}, [model], cutoffs,
                             ci=study.evaluation.proportion_ci)
    aucs = {g: drawn.intervals(g)[model] for g in figure_groups if drawn.evaluated(g, model)}
    group_labels = {g: g for g in groups}
    left, middle, right = st.columns(3)
    left.plotly_chart(roc_figure(drawn.curves_across("roc", model, figure_groups), aucs, title="ROC",
                                 labels=group_labels, colours=colours), key="ext_roc")
    middle.plotly_chart(calibration_figure(drawn.curves_across("calibration_bins", model, figure_groups),
                                           drawn.curves_across("calibration_smooth", model, figure_groups),
                                           title="Calibration", labels=group_labels, colours=colours),
                        key="ext_calibration")
    right.plotly_chart(decision_curve_figure(drawn.curves_across("decision", model, figure_groups),
                                             title="Decision curves", labels=group_labels, colours=colours),
                       key="ext_dca")

    for external in externals.values():
        with st.expander(f"{external.name}: features outside the training range"):
            report = range_report(study, models, external)
            flagged = int(report["flag"].sum()) if len(report) else 0
            if flagged:
                st.warning(f"{flagged} of the {len(report)} features the models use have more than "
                           f"{OUT_OF_RANGE_SHARE:.0%} of this cohort's patients outside the training range: "
                           "predictions extrapolate there.")
            st.dataframe(report.round(3), key=f"ext_range_{external.name}")

    st.subheader("Scanner harmonisation (ComBat)")
    combat_columns = batch_columns(study.train, exclude=[*spec.outcome.columns, *spec.continuous])
    if not externals or not combat_columns or not study.families:
        st.caption("Add an external cohort to compare its AUCs with and without ComBat harmonisation "
                   "(needs a scanner or centre column with at least two levels in training).")
    elif st.toggle("Compare with and without ComBat", key="ext_compare_combat",
                   help="Fits the whole study twice on the training cohort, once on the features as extracted "
                        "and once on ComBat-harmonised features, and scores every cohort with each."):
        column = st.selectbox("Harmonise by", combat_columns, key="ext_combat_by",
                              index=combat_columns.index("scanner") if "scanner" in combat_columns else 0)
        cohorts = {**study_cohorts(study), **{e.name: (e.cohort, e.tables) for e in externals.values()}}
        frames = []
        for label, harmonise_by in (("as extracted", None), (f"ComBat by {column}", column)):
            variant = study.with_settings(harmonise_by=harmonise_by)
            variant_models = ui.results(variant).models
            frames.append(cohort_aucs(variant_models, cohorts, spec.outcome).assign(features=label))
            for note in variant_models.notes:  # e.g. a family covering only some patients, fitted on those
                if harmonise_by is not None and note not in models.notes:
                    st.caption(f"{label}: {note}")
        comparison = pd.concat(frames, ignore_index=True)
        wide = comparison.pivot_table(index=["cohort", "model"], columns="features", values="auc", sort=False)
        wide.index = wide.index.set_levels(wide.index.levels[1].map(lambda m: labels.get(m, m)), level=1)
        st.dataframe(wide.round(3), key="ext_combat_table")
        ui.csv_download(comparison, "auc_with_without_combat.csv", label="AUCs with and without ComBat (CSV)",
                        key="ext_dl_combat")
