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


def test_score_patient_asks_for_missing_clinical_values(sample_features, sample_models):
    some = sample_features["radiomics"].join(sample_features["dl"]).iloc[0][sorted(needed_features(sample_models))]
    with pytest.raises(RadNomoError, match="needs a value"):
        score_patient(sample_models, some, {"age": 60})


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
