"""New patient: upload a CT and its tumour mask, enter the clinical values, get the scores, the model's prediction
(a binary study's risk; a time-to-event study's survival at each horizon and the patient's curve against the
training cohort's) with its 95 % CI, and the nomogram points; with comparator learners, their predicted risks beside
the nomogram's, and for any score or comparator the patient's SHAP waterfall (why this risk)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

import ui
from core.figures.charts import WINDOW_PRESETS, slice_overlay_figure
from core.imaging.extraction.batch import read_manifest
from core.io.archive import safe_extract_zip
from core.figures.survival import patient_survival_figure
from core.figures.waterfall import shap_waterfall_figure
from core.stats.outcome_statistics import statistics_for
from core.vocabulary import CLINICAL, FUSED, OUTSIDE_RANGE, score_column, survival_column
from core.workflows.nomograms import DASHBOARD_WIDTHS, study_calculator
from core.workflows.newpatient import (clinical_outside_range, computable_families, explain_patient,
                                       explainable_models, find_dicom_case, patient_outside_range, preview_case,
                                       score_patient, study_patient_features, training_survival_curve)

ui.enter_page("pages/new_patient.py")

SOURCES = ("A bundled sample CT", "NIfTI / NRRD files", "Zipped DICOM (CT series + RTSTRUCT or SEG)")
SCORED_KEY = "_np_scored"  # how many times a patient was scored this session: the calculator takes the new values
RESULT_KEY = "np_result"  # (study fingerprint, case, result, clinical values used)
VALUES_KEY = "_np_values"  # the clinical values typed in, kept when the page is left (widget state is not)
PREVIEW_KEY = "_np_preview"  # ((image path, mask path), CasePreview) of the images checked last
SHAP_KEY = "_np_shap"  # (study fingerprint, scoring revision, model) -> the patient's Explanation (SHAP costs seconds)

st.title("New patient")
st.caption("The study's frozen models score a patient from the CT and tumour mask: the same pre-processing, only "
           "the features the scores use (pyradiomics restricted to them, the study's autoencoder), then the "
           "scores, the model's prediction with its 95 % CI (the risk, or for a time-to-event outcome the survival "
           "at each horizon and the patient's survival curve) and the nomogram points.")
ui.explain("new_patient")
study = ui.get_study()
spec = study.spec


def _calculator(result, predictions: pd.DataFrame, models, row: dict, interval) -> None:
    """The calculator at the scored values (``interval``: the scored prediction's 95 % interval as the nomogram's
    layout takes it): the scores fixed (computed from the CT), the clinical values free to explore in the browser
    (the scored result is kept as it is)."""
    nomogram = ui.results(study).nomogram(result.model)
    scores = tuple(v for v in nomogram.variables if v in {score_column(f) for f in models.scores})
    numbers, drawing = study_calculator(
        study, nomogram, row, interval, width_px=DASHBOARD_WIDTHS["screen (1280 px and up)"],
        training_risks=predictions.loc[study.train_ids, result.model].dropna(),
        help_texts={v: "Computed from this patient's CT (fixed here)." for v in scores})
    st.caption(f"{study.model_label(result.model)}. The scores come from the CT; change a clinical value below to "
               "see its effect at once (worked out in your browser; the scored result is kept as it is).")
    ui.nomogram_calculator("np_calc", numbers, drawing, row, revision=st.session_state.get(SCORED_KEY, 0),
                           fixed=scores)
    if models.fused_score in result.scores:
        st.metric(study.model_label(models.fused_score), f"{result.scores[models.fused_score]:.3f}")


def _binary_prediction(result, predictions: pd.DataFrame, scored_id: str, models, row: dict) -> None:
    """A binary study's patient: the calculator (risk with its 95 % CI, rank among the training patients, points,
    the nomogram)."""
    _calculator(result, predictions, models, row, (result.low, result.high))
    if scored_id in study.cohort.index:
        st.caption("This patient is in the open study: the pipeline's own prediction was "
                   f"{predictions.loc[scored_id, result.model]:.1%}.")


def _survival_prediction(result, predictions: pd.DataFrame, scored_id: str, models, row: dict) -> None:
    """A time-to-event study's patient: the calculator (survival at each horizon with its 95 % CI, median time, rank
    of the predicted hazard among the training patients, points, the nomogram) and the predicted survival curve
    against the training cohort's Kaplan-Meier."""
    outcome = spec.outcome
    intervals = {float(h): (float(low), float(high))
                 for h, low, high in result.survival[["horizon", "low", "high"]].itertuples(index=False)}
    _calculator(result, predictions, models, row, intervals)
    if result.interval_note:
        st.caption(result.interval_note)
    st.plotly_chart(patient_survival_figure(result.curve, training_survival_curve(study), outcome.horizons,
                                            outcome.time_unit, title=f"Predicted survival of {scored_id}",
                                            cohort_label="training cohort (Kaplan-Meier)"),
                    key="np_survival_curve")
    if scored_id in study.cohort.index:
        own = ", ".join(f"{predictions.loc[scored_id, survival_column(result.model, h)]:.1%} at "
                        f"{outcome.horizon_label(h)}" for h in outcome.horizons)
        st.caption(f"This patient is in the open study: the pipeline's own predicted survival was {own}.")


# What each outcome kind shows of a scored patient (StudyModels.outcome_kind; the one place the kinds are told apart
# on this page).
PREDICTION_VIEWS = {"binary": _binary_prediction, "survival": _survival_prediction}


def _risk_column(result, models) -> str:
    """The comparison table's risk column: a binary study's predicted risk, a time-to-event study's risk of the event
    by the first horizon (what each result's ``risk`` and ``comparator_risks`` give)."""
    if models.outcome_kind == "survival":
        return f"risk of the event by {spec.outcome.horizon_label(float(result.survival['horizon'].iloc[0]))}"
    return "predicted risk"


def _comparator_risks(result, models) -> None:
    """The comparator learners' predicted risks of the patient beside the nomogram model's (a small table); a note
    for those the patient has no prediction of (features it was scored without)."""
    if not models.comparators:
        return
    risks = result.comparator_risks()
    if risks:
        column = _risk_column(result, models)
        table = pd.DataFrame({"model": [study.model_label(result.model), *(study.model_label(n) for n in risks)],
                              "kind": ["nomogram", *("comparator" for _ in risks)],
                              column: [result.risk, *risks.values()]})
        st.markdown("**The comparator learners' predictions**")
        st.dataframe(table, hide_index=True, column_config={column: st.column_config.NumberColumn(format="%.3f")})
        st.caption("Each comparator learner (tuned by cross-validation on the training patients) predicts from this "
                   "patient's features of its family, read as the scores read them; the nomogram's model is the one "
                   "the calculator shows. The comparators are reported beside it, not combined with it.")
    missing = [study.model_label(n) for n in models.comparators if n not in risks]
    if missing:
        st.caption(f"No prediction by {', '.join(missing)}: the patient was scored without the features they read.")


def _shap_waterfall(result, models) -> None:
    """"Why this risk": the SHAP waterfall of this patient by a score or comparator the user picks, from the model's
    mean output over the training patients to the patient's (explanations kept per scoring: SHAP of a kernel model
    takes seconds)."""
    options = explainable_models(models, result)
    if not options:
        return
    st.subheader("Why this risk (SHAP)")
    name = st.selectbox("Model explained", options, format_func=study.model_label, key="np_shap_model")
    key = (study.fingerprint, st.session_state.get(SCORED_KEY, 0), name)
    kept = st.session_state.get(SHAP_KEY, {})
    if key not in kept:
        with st.spinner(f"Explaining the {study.model_label(name)} prediction (SHAP)..."):
            # Only this scoring's explanations are kept: a new scoring or study makes them stale.
            kept = {k: v for k, v in kept.items() if k[:2] == key[:2]}
            kept[key] = explain_patient(study, models, result, name)
        st.session_state[SHAP_KEY] = kept
    explanation = kept[key]
    patient = explanation.values.index[0]
    st.plotly_chart(shap_waterfall_figure(explanation, patient, {name: study.model_label(name)}),
                    key="np_shap_waterfall")
    harmonised = " The feature values are as the model reads them (harmonised by " \
        f"{study.label(models.settings.harmonise_by)})." if models.harmonisers else ""
    st.caption(f"SHAP ({explanation.method}) on the {explanation.output} scale: the bottom bar is the model's mean "
               "output over the training patients, each bar what this patient's value of a feature adds to it "
               "(vermillion raises the risk, blue lowers it), the top bar this patient's output."
               f"{harmonised} It explains the model, not the disease: a feature's share is no causal effect.")


def _upload_key(*uploads) -> str:
    """A folder name for these uploads (the same files keep one folder across reruns)."""
    import hashlib

    return hashlib.sha256("|".join(u.file_id for u in uploads).encode()).hexdigest()[:16]


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name) or "upload"


with ui.guard():
    models = ui.results(study).models
    can, cannot = computable_families(study, models)
    imported = ", ".join(study.family_label(f) for f in cannot)
    if cannot and models.clinical is None:
        st.info(f"The scores use {imported} features that were imported (their extraction is unknown) and the study "
                "has no clinical model, so a new patient cannot be scored here: score the patient's features with "
                "the study's score formula (Models page) instead.", icon=":material/info:")
        st.stop()
    # The risk comes from the fused model, else the clinical one; in a study of scores alone, from the main score.
    name = FUSED if models.fused is not None and not cannot else CLINICAL if models.clinical is not None \
        else models.main_model
    risk_model = models.score_model(study, ui.results(study).predictions, name) if name in models.scores else None
    model = risk_model or models.model(name)
    if cannot:
        st.warning(f"The scores use {imported} features that were imported "
                   "(their extraction is unknown), so a new CT cannot be scored: the clinical model gives the risk.")

    st.subheader("1. Images")
    sources = SOURCES if study.is_sample else SOURCES[1:]
    source = st.radio("Source", sources, horizontal=True, key="np_source")
    image_path = mask_path = None
    case_id = "new patient"
    # The images are read and checked in their own guard: a refused upload shows its error and the rest of
    # the page (the clinical values typed in) is still drawn, so no input loses its value.
    with ui.guard():
        if source == SOURCES[0]:
            from core.workflows.sample import SAMPLE_MANIFEST

            manifest = read_manifest(SAMPLE_MANIFEST, confine_to=SAMPLE_MANIFEST.parent)
            manifest = manifest[manifest["Image"].map(lambda p: Path(p).is_file())]
            case_id = st.selectbox("Sample patient (synthetic)", manifest["ID"].tolist(), key="np_sample_id")
            row = manifest.set_index("ID").loc[case_id]
            image_path, mask_path = row["Image"], row["Mask"]
        else:
            uploads = ui.user_space() / "patients"
            uploads.mkdir(exist_ok=True)
            if source == SOURCES[1]:
                image = st.file_uploader("CT (.nii, .nii.gz, .nrrd, .mha)", key="np_image_upload")
                mask = st.file_uploader("Tumour mask (same formats, or .seg.nrrd)", key="np_mask_upload")
                if image is not None and mask is not None:
                    # One folder per upload, not per run.
                    upload_dir = uploads / f"patient-{_upload_key(image, mask)}"
                    upload_dir.mkdir(exist_ok=True)
                    image_path = upload_dir / f"image_{_safe_name(image.name)}"
                    mask_path = upload_dir / f"mask_{_safe_name(mask.name)}"
                    image_path.write_bytes(image.getvalue())
                    mask_path.write_bytes(mask.getvalue())
            else:
                archive = st.file_uploader("Zip of the DICOM folder", type=["zip"], key="np_dicom_upload")
                if archive is not None:
                    upload_dir = uploads / f"patient-{_upload_key(archive)}"
                    if not upload_dir.is_dir():
                        staging = Path(tempfile.mkdtemp(prefix=".patient-", dir=uploads))
                        safe_extract_zip(archive.getvalue(), staging)
                        staging.rename(upload_dir)
                    image_path, mask_path = find_dicom_case(upload_dir)
        if image_path is not None:
            paths = (str(image_path), str(mask_path))
            image_path = mask_path = None  # until the images pass their check: nothing refused is scored
            previewed = st.session_state.get(PREVIEW_KEY)
            if previewed is None or previewed[0] != paths:
                previewed = (paths, preview_case(study, *paths))
                st.session_state[PREVIEW_KEY] = previewed
            image_path, mask_path = paths
            preview = previewed[1]
            for doubt in preview.warnings:
                st.warning(doubt)
            with st.expander("Preview: the CT with the tumour outline", expanded=True):
                st.plotly_chart(slice_overlay_figure(
                    preview.ct_slice, preview.mask_slice, pixel_mm=preview.pixel_mm,
                    window=WINDOW_PRESETS["Soft tissue (40/400)"],
                    title=f"{case_id}, axial slice {preview.slice_index + 1}/{preview.n_slices} (largest ROI area)"),
                    key="np_preview")
                st.caption(f"CT values {preview.ct_range[0]:g} to {preview.ct_range[1]:g}; ROI {preview.roi_voxels:,} "
                           f"voxels on {preview.roi_slices} slices. Check that the outline sits on the tumour "
                           "before scoring.")

    st.subheader("2. Clinical values")
    clinical_variables = [v for v in model.variables if v not in {score_column(f) for f in models.scores}]
    kept = st.session_state.get(VALUES_KEY, {})
    if kept.get("study") == study.fingerprint:  # the page was left and reopened: the values come back
        ui.fill_inputs("np_in_", {v: kept["values"][v] for v in clinical_variables
                                  if v in kept["values"] and f"np_in_{v}" not in st.session_state}, model.levels)
    if source == SOURCES[0] and case_id != st.session_state.get("_np_filled_from") and case_id in study.cohort.index:
        st.session_state["_np_filled_from"] = case_id
        ui.fill_inputs("np_in_", study.cohort.loc[case_id, clinical_variables].to_dict(), model.levels)
    clinical = ui.predictor_inputs(study, clinical_variables, model.levels,
                                   ui.results(study).typical_inputs(clinical_variables, model.levels), "np_in_")
    if models.harmonisers:
        # ComBat needs the patient's scanner (or centre) to remove its effect from the features.
        batch_column = models.settings.harmonise_by
        batches = next(iter(models.harmonisers.values())).batches
        if source == SOURCES[0] and case_id in study.cohort.index and \
                st.session_state.get("_np_batch_from") != case_id:
            st.session_state["_np_batch_from"] = case_id
            st.session_state["np_batch"] = str(study.cohort.loc[case_id, batch_column])
        clinical[batch_column] = st.selectbox(f"{study.label(batch_column)} (features are harmonised by it)",
                                              batches, key="np_batch")
    st.session_state[VALUES_KEY] = {"study": study.fingerprint, "values": dict(clinical)}
    for flag in clinical_outside_range(study, clinical):  # said before scoring, not after
        st.warning(flag, icon=":material/warning:")

    needs_images = name == FUSED or (models.scores and not cannot)
    if st.button("Score this patient", key="np_score", type="primary", disabled=needs_images and image_path is None):
        with st.spinner("Reading the images and computing the features..."):
            features = study_patient_features(study, models, image_path, mask_path, case_id=case_id) \
                if needs_images and not cannot else pd.Series(dtype=float)
        st.session_state[SCORED_KEY] = st.session_state.get(SCORED_KEY, 0) + 1
        st.session_state[RESULT_KEY] = (study.fingerprint, case_id, score_patient(
            models, features, clinical, model=name, risk_model=risk_model), dict(clinical))

    result_state = st.session_state.get(RESULT_KEY)
    if result_state is not None and result_state[0] == study.fingerprint:
        _, scored_id, result, used_clinical = result_state
        st.subheader(f"3. Result: {scored_id}")
        if used_clinical != clinical:
            st.info("The clinical values above differ from those this result was scored with; score again to "
                    "update it.", icon=":material/info:")
        predictions = ui.results(study).predictions
        row = dict(used_clinical)
        if result.model == FUSED:
            row[score_column(models.fused_score)] = result.scores[models.fused_score]
        elif result.model in result.scores:  # a study of scores alone: the nomogram of the score
            row[score_column(result.model)] = result.scores[result.model]
        PREDICTION_VIEWS[models.outcome_kind](result, predictions, scored_id, models, row)
        _comparator_risks(result, models)
        outside = patient_outside_range(study, models, result)
        if outside:
            st.warning(f"This patient is {OUTSIDE_RANGE}: {outside} The prediction is an extrapolation; read it with "
                       "care.", icon=":material/warning:")
        if result.scores:  # none where the clinical model alone was scored (imported features)
            st.markdown(f"**Scores ({statistics_for(spec.outcome).score_scale})**")
            st.dataframe(pd.DataFrame({"score": [study.model_label(k) for k in result.scores],
                                       "value": list(result.scores.values())}), hide_index=True)
            used = "scores and comparators" if result.comparators else "scores"
            with st.expander(f"The {len(result.features)} features the {used} used"):
                st.dataframe(result.features.rename("value").to_frame())
        with ui.guard():  # a model that cannot be explained says why; the result above stays
            _shap_waterfall(result, models)
