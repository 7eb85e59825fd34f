"""Scoring a new patient from CT: the same features and scores as the cohort pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import RadNomoError
from core.workflows.newpatient import find_dicom_case, needed_features, patient_features, restricted_params, score_patient
from core.workflows.sample import SAMPLE_AE_WEIGHTS, SAMPLE_MANIFEST, SAMPLE_RADIOMICS_SETTINGS, SAMPLE_SPEC

TESTS = Path(__file__).resolve().parents[1]
IBSI = TESTS.parents[1] / "shared" / "data" / "ibsi_ct_phantom"


def _bundled_patient(sample_cohort, split, cohort: str = "test") -> tuple[str, str, str]:
    from core.imaging.extraction.batch import read_manifest

    manifest = read_manifest(SAMPLE_MANIFEST)
    on_disk = manifest[manifest["Image"].map(lambda p: Path(p).is_file())]
    ids = set(split.test_ids if cohort == "test" else split.train_ids)
    row = on_disk[on_disk["ID"].isin(ids)].iloc[0]
    return row["ID"], row["Image"], row["Mask"]


def test_restricted_parameters_give_the_same_feature_values(sample_cohort, sample_models):
    import json

    from core.imaging.extraction.batch import ExtractionSettings, extract_case
    from core.imaging.extraction.preprocess import PreprocessConfig

    split, _ = sample_models
    _, image, mask = _bundled_patient(sample_cohort, split)
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


def test_new_patient_score_equals_the_cohort_pipeline(sample_cohort, sample_features, sample_models):
    import json

    split, models = sample_models
    case_id, image, mask = _bundled_patient(sample_cohort, split)
    features = patient_features(image, mask, features=sorted(needed_features(models)),
                                radiomics_settings=json.loads(SAMPLE_RADIOMICS_SETTINGS.read_text()),
                                ae_weights=str(SAMPLE_AE_WEIGHTS), case_id=case_id)
    clinical = sample_cohort.set_index(SAMPLE_SPEC.id_column).loc[case_id].to_dict()
    result = score_patient(models, features, clinical)
    pipeline = models.predict(sample_cohort, sample_features, SAMPLE_SPEC).loc[case_id]
    # Radiomics features are bit-identical; the autoencoder runs in float32, where encoding one crop
    # instead of a batch of 16 changes the summation order (latents agree to ~1e-5).
    assert result.scores["radiomics"] == pytest.approx(pipeline["radiomics_score"], abs=1e-9)
    for name, value in result.scores.items():
        assert value == pytest.approx(pipeline[f"{name}_score"], abs=1e-3), name
    assert result.model == "fused" and result.probability == pytest.approx(pipeline["fused"], abs=1e-4)
    assert result.low < result.probability < result.high


def test_score_patient_asks_for_missing_clinical_values(sample_features, sample_models):
    _, models = sample_models
    some = sample_features["radiomics"].join(sample_features["deep"]).iloc[0][sorted(needed_features(models))]
    with pytest.raises(RadNomoError, match="needs a value"):
        score_patient(models, some, {"age": 60})


def test_patient_features_needs_the_study_settings(tmp_path):
    with pytest.raises(RadNomoError, match="extraction settings"):
        patient_features("a.nii.gz", "b.nii.gz", features=["original_firstorder_Mean"], radiomics_settings=None,
                         ae_weights=None)
    with pytest.raises(RadNomoError, match="autoencoder weights"):
        patient_features("a.nii.gz", "b.nii.gz", features=["dl_001"], radiomics_settings=None, ae_weights=None)
    with pytest.raises(RadNomoError, match="not a pyradiomics feature"):
        restricted_params({}, ["Mean"])


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
