"""Features - radiomics: choose a manifest and parameters, extract with pyradiomics, view cases, download."""

from __future__ import annotations

import json
import os

import numpy as np
import SimpleITK as sitk
import streamlit as st

import ui
from core.errors import RadNomoError
from core.io.tables import read_any_table
from core.imaging.extraction.batch import ExtractionSettings, run_batch
from core.imaging.extraction.engines import engine_of
from core.imaging.ibsi import (CONFIGURATIONS, ENGINES as IBSI_ENGINES, FEATURE_STATUSES, compliance_sentence,
                               shipped_compliance, summarise)
from core.imaging.extraction.preprocess import NO_PREPROCESSING, PreprocessConfig
from core.imaging.extraction.radiomics import load_params
from core.imaging.extraction.readers import read_case
from core.imaging.extraction.store import FeatureStore
from core.figures.charts import WINDOW_PRESETS, slice_overlay_figure
from core.stats.selection import icc_table
from core.vocabulary import EXTRACTION_ENGINES, check_name
from core.workflows.checks import study_feature_import
from core.workflows.sources import source_of
from core.workflows.study import FeatureFamily

ui.enter_page("pages/features_radiomics.py")

STATUS_KEY = "fr_last_status"
# What the extraction under way has done; left behind only when a run did not finish (Stop, or any click that
# interrupts it), so the next run of the page can say what was kept.
RUN_KEY = "fr_running"
IMPORT_KEY = "fr_last_import"  # (file name, FeatureTableImport): what the last import left out, and why
PARAM_CHOICES = {"Study (1,874 features, ~5 s a case)": "study",
                 "Study + LBP 2D/3D filters (2,246 features, ~6 s a case)": "study_lbp",
                 "Original image only (107 features, ~1 s a case)": "original", "Upload a params YAML": "upload"}
# MIRP has no Square, SquareRoot, Logarithm, Exponential, Gradient or LBP filter: with it, the parameters
# must use Original, LoG and Wavelet only (core.imaging.extraction.mirp_engine refuses the others).
MIRP_PARAMS = ("original", "upload")

st.title("Features - radiomics")
ui.explain("features_radiomics")
study = ui.get_study()
# Per-case feature tables (extracted here or imported); a family learned from the training cohort is the Deep page's.
radiomics_families = [f.name for f in study.families if not source_of(f).learns_from_training]

# ---------------------------------------------------------------------------------------------
# 1. The manifest
# ---------------------------------------------------------------------------------------------
st.subheader("1. Cases")
chosen = ui.manifest_picker("fr")
manifest = chosen[1] if chosen else None

# ---------------------------------------------------------------------------------------------
# 2. Extraction
# ---------------------------------------------------------------------------------------------
st.subheader("2. Extract")
engine = st.radio("Engine", list(EXTRACTION_ENGINES), format_func=EXTRACTION_ENGINES.get, horizontal=True,
                  key="fr_engine",
                  help="pyradiomics is the reference study's engine. MIRP follows the IBSI definitions and image "
                       "processing (see the compliance table below) and is about 20 times slower; it takes the "
                       "same parameters where it has an equivalent (Original, LoG and Wavelet images).")
choices = [c for c in PARAM_CHOICES if engine_of(engine).follows_every_param or PARAM_CHOICES[c] in MIRP_PARAMS]
params_choice = st.selectbox("Parameters (pyradiomics' format; MIRP follows them)", choices, key="fr_params")
params_upload = None
if PARAM_CHOICES[params_choice] == "upload":
    params_upload = st.file_uploader("params YAML", type=["yaml", "yml"], key="fr_params_upload")
columns = st.columns(3)
mask_options = ["Mask"] + (["Mask_reader2"] if manifest is not None and "Mask_reader2" in manifest else [])
mask_column = columns[0].selectbox("Mask", mask_options, key="fr_mask_column",
                                   help="Mask_reader2: the second reader's ROI, for reproducibility (ICC).")
workers = columns[1].number_input("Worker processes", 1, max(1, os.cpu_count() or 1), 1, key="fr_workers")
max_cases = columns[2].number_input("Cases (0 = all)", 0, 100_000, 0, key="fr_max_cases")
double_read_only = st.checkbox("Only the double-read cases (both readers' masks, for the ICC)", value=False,
                               key="fr_double_read_only", disabled="Mask_reader2" not in mask_options)
resample = st.checkbox("Pre-process as the study: resample to 1 × 1 × 1 mm (B-spline) and clip to -1024..1024 HU",
                       value=True, key="fr_preprocess")
with st.expander("Pre-processing settings", expanded=False):
    pre = st.columns(4)
    spacing = pre[0].number_input("Isotropic voxel (mm)", 0.25, 5.0, 1.0, 0.25, key="fr_spacing", disabled=not resample)
    interpolator = pre[1].selectbox("Image interpolator", ["bspline", "linear", "nearest"], key="fr_interpolator",
                                    disabled=not resample)
    hu_low = pre[2].number_input("HU low", -2000.0, 0.0, -1024.0, key="fr_hu_low", disabled=not resample)
    hu_high = pre[3].number_input("HU high", 0.0, 4000.0, 1024.0, key="fr_hu_high", disabled=not resample)

names = st.columns(2)
family_name = names[0].text_input("Feature family name", value=radiomics_families[0] if radiomics_families
                                  else "radiomics", key="fr_family_name",
                                  help="The features become this family of the study (a second phase or reader: "
                                       "another name). Lower-case letters, digits and underscores.")
# Empty by default, so the label follows the family's name (a renamed family is not left with another's label).
family_label = study.label_for_family(family_name, names[1].text_input(
    "Label", value="", key="fr_family_label", placeholder=study.label_for_family(family_name),
    help="How pages, figures and the report name the family; each family needs its own. Empty: "
         f"'{study.label_for_family(family_name)}', following the name."))

stopped = st.session_state.pop(RUN_KEY, None)
if stopped is not None:
    st.warning(f"Extraction stopped after {stopped['done']} of {stopped['total']} cases. The cases done are kept in "
               "this workspace's feature store: run it again with the same settings and it goes on from there. The "
               f"study's '{stopped['family']}' features are unchanged until a run finishes.",
               icon=":material/stop_circle:")
if st.button("Run extraction", key="fr_run", type="primary", disabled=manifest is None):
    with ui.guard():
        key = PARAM_CHOICES[params_choice]
        if key == "upload":
            if params_upload is None:
                raise RadNomoError("upload a params YAML first.")
            params = load_params(params_upload.getvalue())
        else:
            params = load_params(key)
        preprocess = PreprocessConfig(spacing_mm=(spacing,) * 3, image_interpolator=interpolator,
                                      hu_range=(hu_low, hu_high)) if resample else NO_PREPROCESSING
        settings = ExtractionSettings(params=params, preprocess=preprocess, engine=engine)
        cases = manifest[manifest[mask_column] != ""]
        if double_read_only and "Mask_reader2" in cases:
            cases = cases[cases["Mask_reader2"] != ""]
        cases = cases.head(int(max_cases)) if max_cases else cases
        # A click on Stop runs the page again, which ends this run at its next progress report (after a case).
        st.button("Stop", key="fr_stop", icon=":material/stop:",
                  help="Stops after the case under way; the cases done stay in the feature store.")
        bar = st.progress(0.0, text="Starting...")
        st.session_state[RUN_KEY] = {"done": 0, "total": len(cases), "family": family_name}

        def on_progress(done: int, total: int, case_id: str, status: str) -> None:
            st.session_state[RUN_KEY] = {"done": done, "total": total, "family": family_name}
            bar.progress(done / total, text=f"{done}/{total}: {case_id} {status}")

        try:
            with FeatureStore(ui.user_space() / "features.sqlite") as store:  # this user's cache, no one else's
                result = run_batch(cases, settings, store=store, mask_column=mask_column, workers=int(workers),
                                   on_progress=on_progress)
        except Exception:
            # An error is no Stop (the guard shows it). Streamlit's rerun on Stop is a BaseException, not an
            # Exception, so it passes by and leaves the marker for the next run of the page.
            st.session_state.pop(RUN_KEY, None)
            raise
        st.session_state.pop(RUN_KEY, None)
        st.session_state[STATUS_KEY] = result.status
        if result.features.empty:
            raise RadNomoError("no case was extracted; see the status table for each case's reason.")
        check_name("feature family", family_name)
        counts = result.status["status"].value_counts().to_dict()
        if mask_column == "Mask_reader2":
            if family_name not in study.family_names:
                raise RadNomoError(f"extract reader 1's masks into '{family_name}' first; reader 2's features are "
                                   "compared with them.")
            family = study.family(family_name)
            study = ui.set_study(study.with_family(FeatureFamily(
                name=family.name, label=family.label, table=family.table, kind=family.kind, source=family.source,
                extraction=family.extraction, reader2=result.features)))
        else:
            study = ui.set_study(study.with_family(FeatureFamily(
                name=family_name, label=family_label, table=result.features, kind="radiomics",
                extraction=result.settings.to_dict(),
                source=f"extracted here from {chosen[0]} with {engine} ({key} parameters)")))
        st.success(f"{len(result.features)} cases × {result.features.shape[1]} features into "
                   f"'{family_name}' ({', '.join(f'{n} {state}' for state, n in counts.items())}).")

status = st.session_state.get(STATUS_KEY)
if status is not None:
    with st.expander("Per-case status of the last run", expanded=bool((status["status"] == "failed").any())):
        st.dataframe(status, hide_index=True, width="stretch")

# ---------------------------------------------------------------------------------------------
# 3. The feature table
# ---------------------------------------------------------------------------------------------
st.subheader("3. Feature table")
with st.expander("Import a radiomics feature table computed elsewhere (CSV, TSV, XLSX or Parquet)"):
    st.caption("One row per patient: the patient ID (column 'ID' or the cohort's ID column), then one numeric column "
               "per feature. pyradiomics' diagnostics_* and older general_info_* columns, file paths and other text "
               "columns are recognised and left out, constant columns too, and so are the study's outcome and "
               "clinical-variable columns and the excluded ones (below), which must never be features: each is "
               "listed. Missing values are "
               "kept for the study's missing-value policy (Cohort page). New patients cannot be scored from CT "
               "with imported features (their extraction settings are unknown).")
    imported = st.file_uploader("Feature table", type=["csv", "tsv", "txt", "xlsx", "parquet"],
                                key="fr_import_upload")
    if imported is not None and st.button("Use this feature table", key="fr_import"):
        with ui.guard():
            check_name("feature family", family_name)
            result = study_feature_import(study, read_any_table(imported.getvalue(), imported.name),
                                          name=f"feature table '{imported.name}'")
            table = result.table
            study = ui.set_study(study.with_family(FeatureFamily(name=family_name, label=family_label, table=table,
                                                                 kind="imported",
                                                                 source=f"imported from {imported.name}")))
            st.session_state[IMPORT_KEY] = (imported.name, result)
            st.success(f"{table.shape[0]} cases × {table.shape[1]} features imported from {imported.name} into "
                       f"'{family_name}'.")
    # One table holding everything: the cohort table's numeric columns beyond its roles become the family.
    if st.button("Use the cohort table's other numeric columns as this feature family", key="fr_import_cohort",
                 help="For a table holding clinical variables and features: its ID, outcome and clinical "
                      "variables (Cohort page) and the excluded columns stay out; the rest becomes the family."):
        with ui.guard():
            check_name("feature family", family_name)
            result = study_feature_import(study)
            study = ui.set_study(study.with_family(FeatureFamily(
                name=family_name, label=family_label, table=result.table, kind="imported",
                source="the cohort table's columns beyond its clinical variables")))
            st.session_state[IMPORT_KEY] = ("the cohort table", result)
            st.success(f"{result.table.shape[0]} cases × {result.table.shape[1]} features of the cohort table into "
                       f"'{family_name}'.")
    last_import = st.session_state.get(IMPORT_KEY)
    if last_import is not None:
        for note in last_import[1].notes:
            st.info(note, icon=":material/info:")
        if len(last_import[1].dropped):
            st.dataframe(last_import[1].dropped, hide_index=True, key="fr_import_dropped", height=200)
study = ui.exclusions_editor(study, "fr_exclude")
shown_family = study.family(family_name) if family_name in study.family_names else None
if shown_family is None:
    st.info(f"No '{family_name}' features yet: run an extraction above or import a table.")
else:
    features = shown_family.table
    st.markdown(f"{features.shape[0]} cases × {features.shape[1]} features — {shown_family.source}.")
    st.dataframe(features.iloc[:20, :12], width="stretch")
    left, right = st.columns(2)
    with left:
        ui.csv_download(features.reset_index(), f"features_{family_name}.csv", label="Features (CSV)",
                        key="fr_download_csv")
    with right:
        ui.parquet_download(features, f"features_{family_name}.parquet", label="Features (Parquet)",
                            key="fr_download_parquet")
    # IBSI: each feature's tag and what RadNomo's measured compliance table says of it.
    with ui.guard():
        compliance = ui.results(study).family_compliance(family_name)
        st.markdown("**IBSI compliance of these features** "
                    + compliance_sentence(compliance, shown_family.label))
        shown = compliance.rename(columns={"ibsi_tag": "IBSI tag", "digital_phantom": "digital phantom",
                                           "ct_phantom": f"CT phantom ({compliance.attrs['configuration']})",
                                           "ibsi": "compliance"})
        only = st.multiselect("Show", list(FEATURE_STATUSES), default=[], key="fr_ibsi_filter",
                              placeholder="every feature", help="\n".join(f"- **{k}**: {v}"
                                                                            for k, v in FEATURE_STATUSES.items()))
        st.dataframe(shown[shown["compliance"].isin(only)] if only else shown, key="fr_ibsi_table", height=260)
        ui.csv_download(compliance.reset_index(), f"features_{family_name}_ibsi.csv",
                        label="Feature names with IBSI tags (CSV)", key="fr_download_ibsi")
    settings = shown_family.extraction
    if settings is not None:
        with st.expander("Extraction settings (recorded with the features)"):
            st.json(settings, expanded=False)
            st.download_button("Settings (JSON)", json.dumps(settings, indent=2, sort_keys=True, default=str),
                               file_name=f"features_{family_name}.settings.json", mime="application/json",
                               key="fr_download_settings", icon=":material/download:")

if shown_family is not None and shown_family.reader2 is not None:
    st.subheader("Reader agreement")
    with ui.guard():
        icc = icc_table(shown_family.table, shown_family.reader2)
        share = float((icc["ICC2"] > 0.8).mean())
        shared_cases = len(shown_family.table.index.intersection(shown_family.reader2.index))
        st.markdown(f"{shared_cases} double-read cases; **{share:.0%}** of {len(icc)} features have ICC(2,1) > 0.8 "
                    "(reproducible, as the study's criterion).")
        st.dataframe(icc.sort_values("ICC2").round(3), width="stretch", height=260)
        ui.csv_download(icc.reset_index(), "icc.csv", label="ICC table (CSV)", key="fr_download_icc")

with st.expander("The IBSI compliance table of both engines (digital phantom, CT phantom configurations A-E)"):
    st.caption("Measured, not asserted: python -m core.cli.ibsi --out DIR runs the IBSI phantoms through each engine "
               "with the settings each configuration prescribes and compares every feature with the consensus "
               "reference value and tolerance (IBSI chapter 1). 'not computed': the engine has no such feature.")
    with ui.guard():
        table = shipped_compliance()
        st.dataframe(summarise(table), hide_index=True, key="fr_ibsi_summary")
        pick = st.columns(2)
        shown_engine = pick[0].selectbox("Engine", list(IBSI_ENGINES), key="fr_ibsi_engine")
        shown_configuration = pick[1].selectbox("Configuration", list(CONFIGURATIONS), key="fr_ibsi_configuration")
        st.dataframe(table[(table["engine"] == shown_engine) & (table["configuration"] == shown_configuration)],
                     hide_index=True, key="fr_ibsi_reference", height=300)
        ui.csv_download(table, "ibsi_compliance.csv", label="Compliance table (CSV)", key="fr_download_compliance")

# ---------------------------------------------------------------------------------------------
# 4. Case viewer
# ---------------------------------------------------------------------------------------------
st.subheader("4. View a case")
if manifest is None or manifest.empty:
    st.caption("Choose a manifest to view its cases.")
else:
    case_id = st.selectbox("Case", manifest["ID"].tolist(), key="fr_view_case")
    row = manifest.set_index("ID").loc[case_id]
    with ui.guard():
        case = read_case(row["Image"], row["Mask"])
        ct = sitk.GetArrayFromImage(case.image)
        roi = sitk.GetArrayFromImage(case.mask)
        area = roi.sum(axis=(1, 2))
        default_slice = int(np.argmax(area))
        # Slices are numbered from 1 on screen, as in the title below (and in every DICOM viewer).
        slice_number = st.slider("Axial slice", 1, ct.shape[0], default_slice + 1, key=f"fr_slice_{case_id}")
        slice_index = slice_number - 1
        window_name = st.selectbox("Window", list(WINDOW_PRESETS), key="fr_window")
        spacing = case.image.GetSpacing()
        st.plotly_chart(slice_overlay_figure(ct[slice_index], roi[slice_index], pixel_mm=(spacing[0], spacing[1]),
                                             window=WINDOW_PRESETS[window_name],
                                             title=f"{case_id}, slice {slice_index + 1}/{ct.shape[0]}"),
                        key="fr_slice_figure")
        st.caption(f"Voxel size {spacing[0]:.2f} × {spacing[1]:.2f} × {spacing[2]:.2f} mm; ROI on "
                   f"{int((area > 0).sum())} slices, {int(roi.sum())} voxels.")
