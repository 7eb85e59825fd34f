"""Home: what RadNomo does, the open study, and the way in."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

import ui
from core.workflows.persistence import export_study, import_study, list_studies

ui.enter_page("pages/home.py")

st.title("RadNomo")
ui.explain("home")
st.markdown(
    "From CT images to a clinical nomogram, in the browser: **radiomics and deep features** from the "
    "tumour ROI, **leakage-free screening** on the training cohort (variance, Spearman redundancy, t-test, "
    "LASSO with 10-fold CV and the 1-SE rule), **clinical and fused models** drawn as a nomogram, and their "
    "**evaluation** (ROC/AUC with CIs, DeLong tests, calibration and decision curves)."
)
st.caption("This build covers the cohort (loading, validation, the train/test split, Table 1), feature "
           "extraction (pyradiomics and the 3D autoencoder), selection, the models, their evaluation, the "
           "nomogram, the synchronous-vs-metachronous analysis, saved studies, scoring a new patient from CT, "
           "external validation and the report. Optimism-corrected validation and ComBat harmonisation in the "
           "dashboard are being added.")

with ui.guard():
    study = ui.get_study()
    left, middle, right = st.columns(3)
    left.metric("Patients", len(study.cohort))
    middle.metric("Events", study.n_events,
                  help=f"{study.spec.outcome_column} = 1 ({study.spec.outcome_labels[1]})")
    right.metric("Train / test", f"{len(study.split.train_ids)} / {len(study.split.test_ids)}")
    st.info(f"Open study: **{study.name}**. " + (
        "It mirrors a published study of liver metastasis in 1001 gastric-cancer patients "
        "(venous-phase CT); the data are synthetic." if study.is_sample else ""), icon=":material/info:")

st.subheader("Start")
col_sample, col_new = st.columns(2)
with col_sample:
    st.markdown("**Explore the sample study** - a realistic synthetic cohort, open by default.")
    if st.button("Open the sample study", key="home_open_sample", icon=":material/science:"):
        with ui.guard():
            ui.open_sample_study()
            st.success("The sample study is open.")
with col_new:
    st.markdown("**Start a new study** - bring your own clinical table (CSV, TSV or XLSX).")
    if st.button("Start a new study", key="home_new_study", icon=":material/upload_file:"):
        # The Cohort page reads this once and opens its loader on the upload tab.
        st.session_state["coh_requested_source"] = "Upload a file"
        st.switch_page("pages/cohort.py")

st.subheader("Saved studies")
st.caption("A study is saved as plain data (Parquet tables, JSON settings and models, safetensors weights) in "
           "your workspace; export it as one zip to share it, import a zip someone shared.")
with ui.guard():
    saved_studies = list_studies(ui.studies_dir())
    save_col, open_col = st.columns(2)
    with save_col:
        if st.button("Save the open study", key="home_save", icon=":material/save:"):
            folder = ui.save_open_study()
            st.success(f"Saved to {folder.name}.")
            saved_studies = list_studies(ui.studies_dir())

        def exported() -> bytes:
            with tempfile.TemporaryDirectory() as scratch:
                return export_study(ui.saved_from_state(ui.get_study()), Path(scratch) / "study.zip").read_bytes()

        st.download_button("Export the open study (.zip)", exported, file_name="radnomo_study.zip",
                           mime="application/zip", key="home_export", icon=":material/download:")
    with open_col:
        if len(saved_studies):
            labels = {row.folder: f"{row.name} ({row.patients} patients, saved {row.saved})"
                      for row in saved_studies.itertuples()}
            chosen = st.selectbox("Saved study", list(labels), format_func=labels.get, key="home_saved_choice")
            if st.button("Open", key="home_open_saved", icon=":material/folder_open:"):
                study = ui.open_saved_study(chosen)
                st.success(f"Opened {study.name}.")
        else:
            st.caption("No saved study yet.")
        upload = st.file_uploader("Import a study (.zip)", type=["zip"], key="home_import_upload")
        if upload is not None and st.button("Import", key="home_import"):
            with tempfile.TemporaryDirectory() as scratch:
                archive = Path(scratch) / "upload.zip"
                archive.write_bytes(upload.getvalue())
                folder = import_study(archive, ui.studies_dir())
            study = ui.open_saved_study(folder)
            st.success(f"Imported and opened {study.name}.")

st.subheader("Report")
st.caption("Methods written from the study's actual settings, Table 1, the selection funnel, the models, Table 2, "
           "ROC, calibration and decision curves, the nomogram and TRIPOD items.")
with ui.guard():
    report_columns = st.columns(2)
    report_columns[0].download_button("Report (HTML)", lambda: ui.study_report(ui.get_study()).html.encode("utf-8"),
                                      file_name="radnomo_report.html", mime="text/html", key="home_report_html",
                                      icon=":material/description:")
    report_columns[1].download_button("Report (PDF)", lambda: ui.study_report(ui.get_study()).pdf,
                                      file_name="radnomo_report.pdf", mime="application/pdf", key="home_report_pdf",
                                      icon=":material/picture_as_pdf:")
