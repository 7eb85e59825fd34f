"""Home: what RadNomo does, the open study, and the way in."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

import ui
from core.workflows.persistence import export_study, import_study, list_studies, study_folder_name
from core.workflows.sharing import shared_studies
from core.workflows.validation import study_validation

ui.enter_page("pages/home.py")

# What each sample study is, by its outcome kind: the binary sample predicts liver metastasis; the time-to-event one
# is the same synthetic patients with their overall survival (it says nothing of metastasis).
SAMPLE_WORDS = {
    "binary": lambda study: ("It mirrors a published study of liver metastasis in 1001 gastric-cancer patients "
                             "(venous-phase CT); the data are synthetic."),
    "survival": lambda study: (
        f"It predicts the overall survival of the same {len(study.cohort)} synthetic gastric-cancer patients as the "
        "sample study (the same clinical variables and CT features): time from diagnosis in "
        f"{study.spec.outcome.time_unit}, death = event, alive = censored, at "
        f"{', '.join(study.spec.outcome.horizon_label(h) for h in study.spec.outcome.horizons)}; the data are "
        "synthetic."),
}

st.title("RadNomo")
ui.explain("home")
st.markdown(
    "From CT images to a clinical nomogram, in the browser: **radiomics and deep features** from the "
    "tumour ROI, **leakage-free screening** on the training cohort (variance, Spearman redundancy, t-test, "
    "LASSO with 10-fold CV and the 1-SE rule), **clinical and fused models** drawn as a nomogram, and their "
    "**evaluation** (ROC/AUC with CIs, DeLong tests, calibration and decision curves), for a binary outcome or a "
    "time to event (Cox models, Kaplan-Meier curves, C-index and time-dependent AUC at your horizons)."
)
st.caption("Bring a clinical table and any number of feature tables (or CTs and masks to extract them from), or "
           "explore the sample study. Every model is fitted on the training cohort only; ComBat harmonisation, "
           "optimism-corrected internal validation, external cohorts, subgroups, new-patient scoring from CT and a "
           "report with the methods written from your settings are on the pages to the left.")

with ui.guard():
    study = ui.get_study()
    left, middle, right, families = st.columns(4)
    left.metric("Patients", len(study.cohort))
    middle.metric("Events", study.n_events, help=study.spec.outcome.describe())
    right.metric("Train / test", f"{len(study.split.train_ids)} / {len(study.split.test_ids)}")
    families.metric("Feature families", len(study.score_families),
                    help=", ".join(study.family_label(f) for f in study.score_families) or "none yet")
    st.info(f"Open study: **{study.name}**. " + (SAMPLE_WORDS[study.spec.outcome.kind](study) if study.is_sample
                                                  and study.spec.outcome.kind in SAMPLE_WORDS else ""),
            icon=":material/info:")

st.subheader("Start")
col_sample, col_new = st.columns(2)
with col_sample:
    st.markdown("**Explore the sample study** - a realistic synthetic cohort, open by default.")
    if st.button("Open the sample study", key="home_open_sample", icon=":material/science:"):
        with ui.guard():
            ui.set_study(ui.sample_study(), "The sample study is open.", rerun=True)
    # The same patients with a time-to-event outcome: overall survival (months; death = 1, censored = 0).
    if st.button("Open the survival sample study", key="home_open_survival_sample", icon=":material/timeline:",
                 help="The same synthetic patients, clinical variables and features, with overall survival as the "
                      "outcome (Kaplan-Meier, Cox models, horizons 12, 36 and 60 months)."):
        with ui.guard():
            ui.set_study(ui.sample_survival_study(), "The survival sample study is open.", rerun=True)
with col_new:
    st.markdown("**Start a new study** - bring your own clinical table (CSV, TSV or XLSX).")
    if st.button("Start a new study", key="home_new_study", icon=":material/upload_file:"):
        # The Cohort page reads this once and opens its loader on the upload tab.
        st.session_state["coh_requested_source"] = "Upload a file"
        st.switch_page("pages/cohort.py")

st.subheader("Saved studies")
st.caption("A study is saved as plain data (Parquet tables, JSON settings and models, safetensors weights) in your "
           "own space of the workspace: nobody else on this server lists or opens it, and this browser finds it again "
           "(signed in: your account). Share one on purpose to list it for everyone, under your name; nobody can "
           "replace a study someone else shared. Export it as one zip to send it; import a zip someone sent.")
with ui.guard():
    own, shared = list_studies(ui.studies_dir()), shared_studies(ui.shared_studies_dir())
    save_col, open_col = st.columns(2)
    with save_col:
        if st.button("Save the open study", key="home_save", icon=":material/save:"):
            folder = ui.save_study(study, ui.studies_dir() / study_folder_name(study.name))
            st.success(f"Saved to {folder.name}.")
            own = list_studies(ui.studies_dir())
        if st.button("Share the open study with everyone on this server", key="home_share", icon=":material/share:"):
            with ui.guard():  # refused when another user shared this name: the rest of the section still shows
                folder, record = ui.share_study(study)
                st.success(f"Shared as {folder.name} by {record.owner_label}.")
                shared = shared_studies(ui.shared_studies_dir())

        def exported(study=study) -> bytes:  # bound now: the click runs outside this session's script
            with tempfile.TemporaryDirectory() as scratch:
                return export_study(study, Path(scratch) / "study.zip", ui.results(study).models).read_bytes()

        ui.bytes_download("Export the open study (.zip)", exported, f"{study_folder_name(study.name)}.zip",
                          "application/zip", key="home_export")
    with open_col:
        choices = {**{row.folder: f"{row.name} ({row.patients} patients, saved {row.saved})"
                      for row in own.itertuples()},
                   **{row.folder: f"[shared] {row.name} ({row.patients} patients, shared by {row.owner_label} "
                                  f"{row.shared_at})" for row in shared.itertuples()}}
        if choices:
            chosen = st.selectbox("Saved study", list(choices), format_func=choices.get, key="home_saved_choice")
            if st.button("Open", key="home_open_saved", icon=":material/folder_open:"):
                opened = ui.open_saved_study(chosen)
                ui.set_study(opened, f"Opened {opened.name}.", rerun=True)
        else:
            st.caption("No saved study yet.")
        if len(shared):
            st.dataframe(shared[["name", "owner_label", "shared_at", "patients"]].rename(columns={
                "name": "Shared study", "owner_label": "Shared by", "shared_at": "When (UTC)", "patients": "Patients"}),
                hide_index=True)
        upload = st.file_uploader("Import a study (.zip)", type=["zip"], key="home_import_upload")
        if upload is not None and st.button("Import", key="home_import"):
            with tempfile.TemporaryDirectory() as scratch:
                archive = Path(scratch) / "upload.zip"
                archive.write_bytes(upload.getvalue())
                folder = import_study(archive, ui.studies_dir())
            opened = ui.open_saved_study(folder)
            ui.set_study(opened, f"Imported and opened {opened.name}.", rerun=True)

st.subheader("Report")
st.caption("The open study as it is now: its settings (the cut-off rule and CI method of the Evaluation page "
           "included), methods written from them, missing values and exclusions, Table 1, the selection funnel, the "
           "models, Table 2, ROC, calibration and decision curves, the nomogram, the latest internal validation, "
           "every external cohort added on the External validation page, and TRIPOD items.")
with ui.guard():
    externals = ui.study_externals(study)
    run = study_validation(study)
    st.caption(("Internal validation: the latest run is included. " if run is not None else
                "Internal validation: not run with these settings yet (Internal validation page); the report says so. ")
               + (f"External cohorts: {', '.join(e.name for e in externals)}." if externals else
                  "External cohorts: none added (External validation page)."))
    report_columns = st.columns(2)
    name, study_results = study_folder_name(study.name), ui.results(study)
    with report_columns[0]:  # written at the click, outside the script run: the lambdas hold what they describe
        ui.bytes_download("Report (HTML)", lambda results=study_results, externals=externals:
            results.report(externals).html.encode("utf-8"), f"{name}_report.html", "text/html", key="home_report_html",
            icon=":material/description:")
    with report_columns[1]:
        ui.bytes_download("Report (PDF)", lambda results=study_results, externals=externals:
            results.report(externals).pdf, f"{name}_report.pdf", "application/pdf", key="home_report_pdf",
            icon=":material/picture_as_pdf:")
