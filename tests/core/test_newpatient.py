"""Scoring a new patient from CT: the same features and scores as the cohort pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import RadNomoError
from core.workflows.newpatient import (computable_families, deep_features, find_dicom_case, needed_features,
                                       radiomics_features, restricted_params, score_patient, study_patient_features)
from core.workflows.sample import SAMPLE_MANIFEST, SAMPLE_RADIOMICS_SETTINGS

TESTS = Path(__file__).resolve().parents[1]
IBSI = TESTS.parents[1] / "shared" / "data" / "ibsi_ct_phantom"


def _bundled_patient(study, cohort: str = "test") -> tuple[str, str, str]:
    from core.imaging.extraction.batch import read_manifest

    manifest = read_manifest(SAMPLE_MANIFEST)
    on_disk = manifest[manifest["Image"].map(lambda p: Path(p).is_file())]
    ids = set(study.test_ids if cohort == "test" else study.train_ids)
    row = on_disk[on_disk["ID"].isin(ids)].iloc[0]
    return row["ID"], row["Image"], row["Mask"]


@pytest.mark.slow
def test_restricted_parameters_give_the_same_feature_values(sample_study):
    import json

    from core.imaging.extraction.batch import ExtractionSettings, extract_case
    from core.imaging.extraction.preprocess import PreprocessConfig

    _, image, mask = _bundled_patient(sample_study)
    settings = json.loads(SAMPLE_RADIOMICS_SETTINGS.read_text())
    wanted = ["original_firstorder_Median", "log-sigma-2-0-mm-3D_glcm_Idmn", "wavelet-HLH_glszm_ZoneVariance",
              "square_gldm_HighGrayLevelEmphasis", "original_shape_Sphericity"]
    params = restricted_params(settings["params"], wanted)
    assert set(params["imageType"]) == {"Original", "LoG", "Wavelet", "Square"}
    assert params["imageType"]["LoG"] == {"sigma": [2.0]}
    preprocess = PreprocessConfig.from_dict(settings["preprocess"])
    full, _ = extract_case(image, mask, ExtractionSettings(params=settings["params"], preprocess=preprocess))
    restricted, _ = extract_case(image, mask, ExtractionSettings(params=params, preprocess=preprocess))
    assert set(restricted) <= set(full) and len(restricted) < len(full) / 10
    for name in wanted:
        assert restricted[name] == full[name], name


@pytest.mark.slow
def test_new_patient_score_equals_the_cohort_pipeline(sample_study, sample_models, sample_predictions):
    models = sample_models
    case_id, image, mask = _bundled_patient(sample_study)
    assert computable_families(sample_study, models) == (["radiomics", "dl"], [])
    features = study_patient_features(sample_study, models, image, mask, case_id=case_id)
    assert set(features.index) == needed_features(models)
    result = score_patient(models, features, sample_study.cohort.loc[case_id].to_dict())
    pipeline = sample_predictions.loc[case_id]
    # Radiomics features are bit-identical; the autoencoder runs in float32, where encoding one crop
    # instead of a batch of 16 changes the summation order (latents agree to ~1e-5).
    assert result.scores["radiomics"] == pytest.approx(pipeline["radiomics_score"], abs=1e-9)
    for name, value in result.scores.items():
        assert value == pytest.approx(pipeline[f"{name}_score"], abs=1e-3), name
    assert result.model == "fused" and result.probability == pytest.approx(pipeline["fused"], abs=1e-4)
    assert result.low < result.probability < result.high


@pytest.mark.slow
def test_score_patient_asks_for_missing_clinical_values(sample_features, sample_models):
    some = sample_features["radiomics"].join(sample_features["dl"]).iloc[0][sorted(needed_features(sample_models))]
    with pytest.raises(RadNomoError, match="needs a value"):
        score_patient(sample_models, some, {"age": 60})


@pytest.mark.slow
def test_features_need_the_study_settings(tmp_path, sample_study, sample_models):
    with pytest.raises(RadNomoError, match="extraction settings"):
        radiomics_features("a.nii.gz", "b.nii.gz", features=["original_firstorder_Mean"], extraction=None)
    with pytest.raises(RadNomoError, match="does not exist"):
        deep_features("a.nii.gz", "b.nii.gz", ["dl_001"], str(tmp_path / "missing.safetensors"), "x")
    with pytest.raises(RadNomoError, match="not a pyradiomics feature"):
        restricted_params({}, ["Mean"])
    # An imported family cannot be recomputed from a CT: named, not silently skipped.
    from core.workflows.study import FeatureFamily

    radiomics = sample_study.family("radiomics")
    imported = sample_study.with_family(FeatureFamily(name="radiomics", label="Radiomics", table=radiomics.table))
    assert computable_families(imported, sample_models) == (["dl"], ["radiomics"])
    with pytest.raises(RadNomoError, match="imported"):
        study_patient_features(imported, sample_models, "a.nii.gz", "b.nii.gz")


@pytest.mark.skipif(not IBSI.is_dir(), reason="IBSI CT phantom not found at ../shared/data")
def test_find_dicom_case_on_the_ibsi_phantom(tmp_path):
    import shutil

    shutil.copytree(IBSI / "dicom", tmp_path / "upload")
    (tmp_path / "upload" / "README.txt").write_text("not dicom")
    series, mask = find_dicom_case(tmp_path / "upload")
    assert series.name == "image" and mask.parent.name == "mask"
    shutil.copytree(IBSI / "dicom" / "image", tmp_path / "upload" / "second_series")
    with pytest.raises(RadNomoError, match="2 image series"):
        find_dicom_case(tmp_path / "upload")


def _nifti(path: Path, array, spacing=(1.0, 1.0, 1.0)) -> Path:
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    sitk.WriteImage(image, str(path))
    return path


def _ct_and_mask(tmp_path: Path):
    import numpy as np

    rng = np.random.default_rng(3)
    ct = rng.normal(40, 30, (12, 48, 48)).astype(np.int16)
    ct[:, :4, :] = -1000  # air around the body
    mask = np.zeros(ct.shape, np.uint8)
    mask[3:8, 10:20, 12:30] = 1
    mask[5, 10:30, 10:35] = 1  # slice 5 holds the largest part of the ROI
    return ct, mask


def test_check_case_refuses_swapped_boxes_and_images_that_are_not_what_their_box_says(tmp_path):
    from core.workflows.newpatient import check_case

    ct, mask = _ct_and_mask(tmp_path)
    image, label = _nifti(tmp_path / "ct.nii.gz", ct), _nifti(tmp_path / "mask.nii.gz", mask)
    preview = check_case(image, label)
    assert preview.slice_index == 5 and preview.n_slices == 12 and preview.roi_voxels == int(mask.sum())
    assert preview.ct_slice.shape == (48, 48) and preview.mask_slice.sum() == mask[5].sum()
    assert preview.ct_range[0] == -1000 and preview.roi_slices == 5 and not preview.warnings
    with pytest.raises(RadNomoError, match="seem swapped: the CT box holds a label image \\(values 0, 1\\)"):
        check_case(label, image)
    with pytest.raises(RadNomoError, match="'ct.nii.gz' is not a label image"):
        check_case(image, image)
    with pytest.raises(RadNomoError, match="is a label image \\(values 0, 1\\), not a CT"):
        check_case(label, label)
    # A mask that is a label image on another grid: refused by the reader, as before.
    other = _nifti(tmp_path / "other.nii.gz", mask, spacing=(2.0, 2.0, 2.0))
    with pytest.raises(RadNomoError, match="does not match the image's geometry"):
        check_case(image, other)
    # A CT without air (an MRI, a CT stored without its rescale): scored, with a doubt said first.
    no_air = _nifti(tmp_path / "mri.nii.gz", (ct - ct.min() + 5).astype("int16"))
    assert "lowest value is 5" in check_case(no_air, label).warnings[0]


def test_the_bundled_sample_ct_passes_and_swapped_is_refused(sample_study):
    from core.workflows.newpatient import preview_case

    _, image, mask = _bundled_patient(sample_study)
    preview = preview_case(sample_study, image, mask)
    assert preview.ct_range[0] < -900 and preview.mask_slice.any() and not preview.warnings
    with pytest.raises(RadNomoError, match="swapped"):
        preview_case(sample_study, mask, image)


def test_clinical_values_outside_the_training_range_are_named(sample_study):
    from core.workflows.newpatient import clinical_outside_range

    ages = sample_study.train["age"]
    assert clinical_outside_range(sample_study, {"age": float(ages.median()), "sex": "male"}) == []
    flags = clinical_outside_range(sample_study, {"age": float(ages.max()) + 40, "sex": "male"})
    assert len(flags) == 1 and flags[0].startswith(f"{sample_study.label('age')} = {ages.max() + 40:g} is outside "
                                                   f"the training range ({ages.min():g} to {ages.max():g})")


@pytest.mark.slow
def test_a_new_patient_far_outside_the_training_range_is_said_so(sample_study, sample_models, sample_predictions):
    from core.workflows.newpatient import NewPatientResult, patient_outside_range

    case_id, _, _ = _bundled_patient(sample_study)
    tables = sample_study.feature_tables()
    features = tables["radiomics"].join(tables["dl"]).loc[case_id, sorted(needed_features(sample_models))]
    result = score_patient(sample_models, features, sample_study.cohort.loc[case_id].to_dict())
    assert patient_outside_range(sample_study, sample_models, result) is None
    feature = sample_models.scores["radiomics"].coefs.idxmax()
    far = features.copy()
    far[feature] = 12 * tables["radiomics"].loc[sample_study.train_ids, feature].max()
    shifted = score_patient(sample_models, far, sample_study.cohort.loc[case_id].to_dict())
    why = patient_outside_range(sample_study, sample_models, shifted)
    assert why.startswith("1 feature(s) more than 2 training SD beyond the training range") and feature in why
    extreme = NewPatientResult(features=features, scores={}, model="fused", probability=1.0, low=1.0, high=1.0)
    assert "within 1e-06 of 0 or 1" in patient_outside_range(sample_study, sample_models, extreme)


@pytest.mark.slow
def test_a_study_of_scores_alone_scores_a_new_patient_by_its_score_model(sample_study, sample_models,
                                                                         sample_predictions):
    from scipy.special import expit

    case_id, _, _ = _bundled_patient(sample_study)
    tables = sample_study.feature_tables()
    features = tables["radiomics"].join(tables["dl"]).loc[case_id, sorted(needed_features(sample_models))]
    risk_model = sample_models.score_model(sample_study, sample_predictions, "radiomics")
    result = score_patient(sample_models, features, {}, model="radiomics", risk_model=risk_model)
    assert result.model == "radiomics" and result.low < result.probability < result.high
    # The score refitted by logistic regression reproduces its own probability.
    assert result.probability == pytest.approx(expit(sample_predictions.loc[case_id, "radiomics_score"]), abs=1e-3)
    with pytest.raises(RadNomoError, match="needs its logistic model"):
        score_patient(sample_models, features, {}, model="radiomics")


@pytest.mark.slow
def test_a_manifest_is_checked_case_by_case_and_says_who_is_outside_the_training_range(sample_study, sample_models):
    import pandas as pd

    from core.workflows.newpatient import score_manifest

    case_id, image, mask = _bundled_patient(sample_study)
    clinical = sample_study.cohort
    scores = score_manifest(sample_study, sample_models, pd.DataFrame({"ID": [case_id], "Image": [image],
                                                                       "Mask": [mask]}), clinical)
    assert list(scores["outside_training_range"]) == [""] and scores["model"].iloc[0] == "fused"
    swapped = pd.DataFrame({"ID": [case_id], "Image": [mask], "Mask": [image]})
    with pytest.raises(RadNomoError, match=f"patient {case_id}: the CT and the mask seem swapped"):
        score_manifest(sample_study, sample_models, swapped, clinical)
