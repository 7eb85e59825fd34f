"""New patient: upload a CT and its tumour mask, enter the clinical values, get the scores, risk and nomogram points."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

import ui
from core.io.archive import safe_extract_zip
from core.imaging.extraction.batch import read_manifest
from core.figures.charts import MODEL_LABELS
from core.workflows.newpatient import find_dicom_case, needed_features, patient_features, score_patient
from core.io.paths import workspace_dir
from core.workflows.fit import FUSED_SCORE
from core.workflows.sample import SAMPLE_MANIFEST

ui.enter_page("pages/new_patient.py")

SOURCES = ("A bundled sample CT", "NIfTI / NRRD files", "Zipped DICOM (CT series + RTSTRUCT or SEG)")

st.title("New patient")
st.caption("The study's frozen models score a patient from the CT and tumour mask: the same pre-processing, only "
           "the radiomics features the scores use, the study's autoencoder for the deep features; then the "
           "DL-radiomics score, the nomogram points and the risk with its 95 % CI.")
ui.explain("new_patient")
study = ui.get_study()
spec = study.spec


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name) or "upload"


with ui.guard():
    models = ui.study_models(study)
    model = models.fused if models.fused is not None else models.clinical
    needed = sorted(needed_features(models)) if models.fused is not None else []

    st.subheader("1. Images")
    source = st.radio("Source", SOURCES, horizontal=True, key="np_source")
    image_path = mask_path = None
    case_id = "new patient"
    if source == SOURCES[0]:
        manifest = read_manifest(SAMPLE_MANIFEST)
        manifest = manifest[manifest["Image"].map(lambda p: Path(p).is_file())]
        case_id = st.selectbox("Sample patient (synthetic)", manifest["ID"].tolist(), key="np_sample_id")
        row = manifest.set_index("ID").loc[case_id]
        image_path, mask_path = row["Image"], row["Mask"]
    else:
        upload_dir = Path(tempfile.mkdtemp(prefix="patient-", dir=workspace_dir()))
        if source == SOURCES[1]:
            image = st.file_uploader("CT (.nii, .nii.gz, .nrrd, .mha)", key="np_image_upload")
            mask = st.file_uploader("Tumour mask (same formats, or .seg.nrrd)", key="np_mask_upload")
            if image is not None and mask is not None:
                image_path = upload_dir / f"image_{_safe_name(image.name)}"
                mask_path = upload_dir / f"mask_{_safe_name(mask.name)}"
                image_path.write_bytes(image.getvalue())
                mask_path.write_bytes(mask.getvalue())
        else:
            archive = st.file_uploader("Zip of the DICOM folder", type=["zip"], key="np_dicom_upload")
            if archive is not None:
                safe_extract_zip(archive.getvalue(), upload_dir)
                image_path, mask_path = find_dicom_case(upload_dir)

    st.subheader("2. Clinical values")
    train = study.cohort.set_index(spec.id_column).loc[list(study.split.train_ids)]
    clinical_variables = [v for v in model.variables if v != f"{FUSED_SCORE}_score"]
    if source == SOURCES[0] and case_id != st.session_state.get("_np_filled_from") \
            and case_id in set(study.cohort[spec.id_column]):
        st.session_state["_np_filled_from"] = case_id
        ui.fill_inputs("np_in_", study.cohort.set_index(spec.id_column).loc[case_id, clinical_variables].to_dict(),
                       model.levels)
    clinical = ui.predictor_inputs(clinical_variables, model.levels, train, "np_in_")
    if models.harmonisers:
        # ComBat needs the patient's scanner (or centre) to remove its effect from the features.
        batch_column = models.settings.harmonise_by
        batches = next(iter(models.harmonisers.values())).batches
        if source == SOURCES[0] and case_id in set(study.cohort[spec.id_column]) \
                and st.session_state.get("_np_batch_from") != case_id:
            st.session_state["_np_batch_from"] = case_id
            st.session_state["np_batch"] = str(study.cohort.set_index(spec.id_column).loc[case_id, batch_column])
        clinical[batch_column] = st.selectbox(f"{ui.variable_label(batch_column)} (features are harmonised by it)",
                                              batches, key="np_batch")

    if st.button("Score this patient", key="np_score", type="primary", disabled=image_path is None):
        with st.spinner("Reading the images and computing the features..."):
            features = patient_features(image_path, mask_path, features=needed,
                                        radiomics_settings=study.radiomics_settings, ae_weights=study.ae_weights,
                                        case_id=case_id) if needed else pd.Series(dtype=float)
        st.session_state["np_result"] = (case_id, score_patient(models, features, clinical), clinical)

    result_state = st.session_state.get("np_result")
    if result_state is not None:
        scored_id, result, used_clinical = result_state
        st.subheader(f"3. Result: {scored_id}")
        metrics = st.columns(4)
        metrics[0].metric(f"Risk ({MODEL_LABELS[result.model]})", f"{result.probability:.1%}")
        metrics[1].metric("95 % CI", f"{result.low:.1%} - {result.high:.1%}")
        train_risk = ui.study_predictions(study).loc[list(study.split.train_ids), result.model]
        metrics[2].metric("Training patients with a lower risk", f"{(train_risk < result.probability).mean():.0%}")
        if FUSED_SCORE in result.scores:
            metrics[3].metric("DL-radiomics score", f"{result.scores[FUSED_SCORE]:.3f}")
        nomogram = models.nomogram(study.cohort, spec, ui.study_predictions(study), result.model)
        row = dict(used_clinical)
        if result.model == "fused":
            row[f"{FUSED_SCORE}_score"] = result.scores[FUSED_SCORE]
        points = pd.DataFrame({"predictor": [ui.variable_label(v) for v in nomogram.variables],
                               "points": [round(nomogram.points(v, row[v]), 1) for v in nomogram.variables]})
        left, right = st.columns(2)
        left.markdown(f"**Nomogram points** (total {nomogram.total_points(row):.1f})")
        left.dataframe(points, hide_index=True)
        right.markdown("**Scores (log-odds)**")
        right.dataframe(pd.DataFrame({"score": [MODEL_LABELS.get(k, k) for k in result.scores],
                                      "value": list(result.scores.values())}), hide_index=True)
        with st.expander(f"The {len(result.features)} features the scores used"):
            st.dataframe(result.features.rename("value").to_frame())
        if scored_id in set(study.cohort[spec.id_column]):
            st.caption("This patient is in the open study: the pipeline's own prediction was "
                       f"{ui.study_predictions(study).loc[scored_id, result.model]:.1%}.")

if study.radiomics_settings is None and needed:
    st.warning("The open study has no radiomics extraction settings saved, so its radiomics features cannot be "
               "recomputed for a new patient.")
