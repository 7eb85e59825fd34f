"""Extraction: readers (real CT phantom), pyradiomics baselines, parameters, store, batch, Dask, CLI."""

from __future__ import annotations

import ast
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from core.errors import RadNomoError
from core.imaging.extraction.batch import ExtractionSettings, read_manifest, run_batch
from core.imaging.extraction.preprocess import NO_PREPROCESSING, PreprocessConfig, preprocess_case, window_normalise
from core.imaging.extraction.radiomics import SHIPPED_PARAMS, extract_features, load_params
from core.imaging.extraction.readers import MaskGeometryWarning, content_hash, read_case, read_image, read_mask
from core.imaging.extraction.store import FeatureStore
from core.io.paths import SAMPLE_DIR

TESTS = Path(__file__).resolve().parents[1]
PYRADIOMICS_CASES = TESTS / "data" / "pyradiomics"
IBSI = TESTS.parents[1] / "shared" / "data" / "ibsi_ct_phantom"
needs_ibsi = pytest.mark.skipif(not IBSI.is_dir(), reason="IBSI CT phantom not found at ../shared/data "
                                "(CC BY-NC data, read from the shared folder only)")


def _volume(tmp_path: Path, name: str, array: np.ndarray, spacing=(1.0, 1.0, 2.0), origin=(0.0, 0.0, 0.0)) -> Path:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    path = tmp_path / name
    sitk.WriteImage(image, str(path))
    return path


@pytest.fixture()
def toy_case(tmp_path):
    rng = np.random.default_rng(0)
    ct = rng.normal(40, 20, (12, 32, 32)).astype(np.int16)
    labels = np.zeros((12, 32, 32), np.uint8)
    labels[3:9, 8:24, 8:24] = 1
    labels[4:6, 10:12, 10:12] = 2
    return _volume(tmp_path, "ct.nii.gz", ct), _volume(tmp_path, "mask.nii.gz", labels), labels


# ---------------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
@needs_ibsi
def test_dicom_rtstruct_and_nifti_give_the_same_mask_and_features():
    dicom = read_case(IBSI / "dicom" / "image", IBSI / "dicom" / "mask", roi_name="GTV-1")
    nifti = read_case(IBSI / "nifti" / "image.nii.gz", IBSI / "nifti" / "mask.nii.gz")
    count_dicom = int(sitk.GetArrayViewFromImage(dicom.mask).sum())
    count_nifti = int(sitk.GetArrayViewFromImage(nifti.mask).sum())
    assert abs(count_dicom - count_nifti) <= 0.01 * count_nifti
    params = load_params("original")
    from_dicom = extract_features(dicom.image, dicom.mask, params)
    from_nifti = extract_features(nifti.image, nifti.mask, params)
    assert len(from_dicom) == 107
    for name, value in from_nifti.items():
        assert from_dicom[name] == pytest.approx(value, rel=0.01, abs=1e-9), name


@needs_ibsi
def test_dicom_series_with_a_missing_slice_is_refused(tmp_path):
    folder = tmp_path / "series"
    shutil.copytree(IBSI / "dicom" / "image", folder)
    (folder / "DCM_IMG_00030.dcm").unlink()
    with pytest.raises(RadNomoError, match="uneven slice gaps"):
        read_image(folder)


@needs_ibsi
def test_rtstruct_roi_must_exist():
    image = read_image(IBSI / "dicom" / "image")
    with pytest.raises(RadNomoError, match="'Liver' is not in RTSTRUCT"):
        read_mask(IBSI / "dicom" / "mask", image, roi_name="Liver")


def test_label_choice_absent_label_and_empty_mask(toy_case, tmp_path):
    ct, mask, labels = toy_case
    image = read_image(ct)
    assert sitk.GetArrayViewFromImage(read_mask(mask, image, label=2)).sum() == (labels == 2).sum()
    assert sitk.GetArrayViewFromImage(read_mask(mask, image, label=None)).sum() == (labels > 0).sum()
    with pytest.raises(RadNomoError, match="label 7 is absent .* labels present: 0, 1, 2"):
        read_mask(mask, image, label=7)
    empty = _volume(tmp_path, "empty.nii.gz", np.zeros_like(labels))
    with pytest.raises(RadNomoError, match="absent|empty"):
        read_mask(empty, image)


def test_small_grid_offset_is_resampled_with_a_warning_and_large_mismatch_refused(toy_case, tmp_path):
    ct, _, labels = toy_case
    image = read_image(ct)
    shifted = _volume(tmp_path, "shifted.nii.gz", labels, origin=(0.2, 0.0, 0.0))
    with pytest.warns(MaskGeometryWarning, match="resampled onto the image"):
        mask = read_mask(shifted, image)
    assert mask.GetOrigin() == image.GetOrigin()
    other_grid = _volume(tmp_path, "other.nii.gz", labels[:, :16, :16], spacing=(2.0, 2.0, 2.0))
    with pytest.raises(RadNomoError, match="does not match the image's geometry"):
        read_mask(other_grid, image)


def test_corrupt_and_unsupported_files_are_refused(toy_case, tmp_path):
    ct, _, _ = toy_case
    truncated = tmp_path / "truncated.nii.gz"
    truncated.write_bytes(ct.read_bytes()[:200])
    with pytest.raises(RadNomoError, match="could not be read"):
        read_image(truncated)
    with pytest.raises(RadNomoError, match="not a supported format"):
        read_image(_touch(tmp_path / "x.png"))
    flat = _volume(tmp_path, "flat.nrrd", np.zeros((8, 8), np.int16), spacing=(1.0, 1.0), origin=(0.0, 0.0))
    with pytest.raises(RadNomoError, match="2D"):
        read_image(flat)


def _touch(path: Path) -> Path:
    path.write_bytes(b"not an image")
    return path


def test_slicer_segmentation_picks_the_named_segment(toy_case, tmp_path):
    ct, _, labels = toy_case
    seg = sitk.GetImageFromArray(labels)
    seg.SetSpacing((1.0, 1.0, 2.0))
    for index, (name, value) in enumerate([("tumour", 1), ("necrosis", 2)]):
        seg.SetMetaData(f"Segment{index}_Name", name)
        seg.SetMetaData(f"Segment{index}_LabelValue", str(value))
        seg.SetMetaData(f"Segment{index}_Layer", "0")
    path = tmp_path / "case.seg.nrrd"
    sitk.WriteImage(seg, str(path))
    image = read_image(ct)
    assert sitk.GetArrayViewFromImage(read_mask(path, image, roi_name="necrosis")).sum() == (labels == 2).sum()
    with pytest.raises(RadNomoError, match="choose one by name"):
        read_mask(path, image)


def test_content_hash_follows_bytes(toy_case, tmp_path):
    ct, mask, _ = toy_case
    copy = tmp_path / "copy.nii.gz"
    shutil.copy(ct, copy)
    assert content_hash(ct) == content_hash(copy) != content_hash(mask)


# ---------------------------------------------------------------------------------------------
# Pre-processing
# ---------------------------------------------------------------------------------------------


def test_resampling_to_1mm_and_hu_clip(toy_case):
    ct, mask, labels = toy_case
    case = read_case(ct, mask)
    image, resampled = preprocess_case(case.image, case.mask, PreprocessConfig(hu_range=(-50.0, 60.0)))
    assert image.GetSpacing() == (1.0, 1.0, 1.0)
    assert image.GetSize() == (32, 32, 24)
    assert resampled.GetSize() == image.GetSize()
    values = sitk.GetArrayViewFromImage(image)
    assert values.min() >= -50 and values.max() <= 60
    # nearest-neighbour mask keeps the ROI volume (mm^3)
    assert sitk.GetArrayViewFromImage(resampled).sum() * 1.0 == pytest.approx((labels == 1).sum() * 2.0, rel=0.02)
    window = window_normalise(image, 50, 350)
    assert window.min() >= 0 and window.max() <= 1


def test_preprocess_config_validates():
    with pytest.raises(RadNomoError, match="image_interpolator"):
        PreprocessConfig(image_interpolator="cubic")
    with pytest.raises(RadNomoError, match="spacing_mm"):
        PreprocessConfig(spacing_mm=(1.0, 0.0, 1.0))


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SHIPPED_PARAMS))
def test_every_shipped_params_file_is_valid(name):
    params = load_params(SHIPPED_PARAMS[name])
    assert "imageType" in params and "featureClass" in params


@pytest.mark.parametrize(("text", "message"), [
    (b"setting: {binWidthh: 25}\n", "not valid pyradiomics parameters"),
    (b"imageType: {Original: {}}\nsetting: {binWidth: 'wide'}\n", "not valid pyradiomics parameters"),
    (b"!!python/object/apply:os.system ['echo unsafe']\n", "not valid plain YAML"),
    (b"- just\n- a list\n", "must be a YAML mapping"),
    (b"imageType: [unclosed\n", "not valid plain YAML"),
])
def test_bad_params_are_refused(text, message):
    with pytest.raises(RadNomoError, match=message):
        load_params(text)


@pytest.mark.slow
def test_study_params_give_about_1900_features():
    case = read_case(SAMPLE_DIR / "images" / "GC0001_ct.nii.gz", SAMPLE_DIR / "masks" / "GC0001_r1.nii.gz")
    image, mask = preprocess_case(case.image, case.mask, PreprocessConfig())
    features = extract_features(image, mask, load_params("study"))
    assert len(features) == 1874
    assert {"original_shape_MeshVolume", "wavelet-LLH_glcm_Contrast", "log-sigma-3-0-mm-3D_firstorder_Mean",
            "gradient_ngtdm_Busyness"} <= set(features)


# ---------------------------------------------------------------------------------------------
# pyradiomics' own baselines
# ---------------------------------------------------------------------------------------------


def _baseline_columns() -> list[str]:
    table = pd.read_csv(PYRADIOMICS_CASES / "baseline" / "baseline_firstorder.csv", index_col=0, nrows=1)
    return [c for c in table.columns if c.split("_")[0] in ("brain1", "breast1")]


@pytest.mark.parametrize("test_case", _baseline_columns())
def test_reproduces_pyradiomics_baseline(test_case):
    classes = {}
    settings = None
    for csv in sorted((PYRADIOMICS_CASES / "baseline").glob("baseline_*.csv")):
        table = pd.read_csv(csv, index_col=0)
        if test_case not in table.columns:  # e.g. the shape2D baseline covers the 2D cases only
            continue
        settings = ast.literal_eval(table.loc["diagnostics_Configuration_Settings", test_case])
        classes[csv.stem.removeprefix("baseline_")] = table[test_case]
    two_d = bool(settings.get("force2D"))
    classes.pop("shape" if two_d else "shape2D", None)
    # The baseline's settings as a params file; values that are None are pyradiomics' defaults.
    params = {"imageType": {"Original": {}}, "featureClass": {name: None for name in classes},
              "setting": {k: v for k, v in settings.items() if v is not None and k != "additionalInfo"}}
    case_name = test_case.split("_")[0]
    case = read_case(PYRADIOMICS_CASES / f"{case_name}_image.nrrd", PYRADIOMICS_CASES / f"{case_name}_label.nrrd",
                     label=settings.get("label", 1))
    image, mask = preprocess_case(case.image, case.mask, NO_PREPROCESSING)
    features = extract_features(image, mask, load_params(_as_yaml(params)))
    compared = 0
    for column in classes.values():
        for name, expected in column.items():
            if name.startswith("diagnostics_") or pd.isna(expected):
                continue
            assert features[name] == pytest.approx(float(expected), rel=1e-3, abs=1e-6), (test_case, name)
            compared += 1
    assert compared > 80


def _as_yaml(params: dict) -> bytes:
    import yaml

    return yaml.safe_dump(params).encode()


# ---------------------------------------------------------------------------------------------
# Batch, store, Dask, CLI
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_manifest() -> pd.DataFrame:
    manifest = read_manifest(SAMPLE_DIR / "manifest.csv")
    present = manifest["Image"].map(lambda p: Path(p).is_file())
    return manifest[present].head(4).reset_index(drop=True)


@pytest.fixture(scope="module")
def fast_settings() -> ExtractionSettings:
    return ExtractionSettings(params=load_params("original"))


def test_manifest_is_checked(tmp_path):
    bad = tmp_path / "m.csv"
    bad.write_text("ID,Image\nA,a.nii\n")
    with pytest.raises(RadNomoError, match=r"lacks column\(s\) \['Mask'\]"):
        read_manifest(bad)
    bad.write_text("ID,Image,Mask\nA,a.nii,b.nii\nA,c.nii,d.nii\n")
    with pytest.raises(RadNomoError, match="repeats ID"):
        read_manifest(bad)
    manifest = read_manifest(SAMPLE_DIR / "manifest.csv")
    assert len(manifest) == 1001 and Path(manifest["Image"][0]).is_absolute()


def test_failing_case_is_reported_and_others_go_on(sample_manifest, fast_settings, tmp_path):
    manifest = sample_manifest.head(2).copy()
    manifest.loc[1, "Mask"] = str(_volume(tmp_path, "empty.nii.gz", np.zeros((4, 4, 4), np.uint8)))
    result = run_batch(manifest, fast_settings)
    assert result.status["status"].tolist() == ["extracted", "failed"]
    assert "label 1 is absent" in result.status["message"][1]
    assert list(result.features.index) == [manifest["ID"][0]]


@pytest.mark.slow
def test_second_run_reads_the_store_at_least_50_times_faster(sample_manifest, fast_settings, tmp_path):
    with FeatureStore(tmp_path / "store.sqlite") as store:
        start = time.perf_counter()
        first = run_batch(sample_manifest, fast_settings, store=store)
        first_seconds = time.perf_counter() - start
        start = time.perf_counter()
        second = run_batch(sample_manifest, fast_settings, store=store)
        second_seconds = time.perf_counter() - start
    assert set(first.status["status"]) == {"extracted"} and set(second.status["status"]) == {"cached"}
    pd.testing.assert_frame_equal(first.features, second.features)
    assert first_seconds / second_seconds >= 50, (first_seconds, second_seconds)


def test_changed_settings_recompute(sample_manifest, fast_settings, tmp_path):
    manifest = sample_manifest.head(1)
    other = ExtractionSettings(params=fast_settings.params, preprocess=PreprocessConfig(spacing_mm=(2.0, 2.0, 2.0)))
    with FeatureStore(tmp_path / "store.sqlite") as store:
        run_batch(manifest, fast_settings, store=store)
        again = run_batch(manifest, other, store=store)
    assert again.status["status"].tolist() == ["extracted"]


@pytest.mark.slow
def test_interrupted_batch_resumes_with_only_the_missing_cases(sample_manifest, tmp_path):
    manifest_csv = tmp_path / "manifest.csv"
    sample_manifest.to_csv(manifest_csv, index=False)
    store_path = tmp_path / "store.sqlite"
    process = subprocess.Popen([sys.executable, "-m", "core.cli.extract", str(manifest_csv), "--params", "original",
                                "--out", str(tmp_path / "f.parquet"), "--store", str(store_path)],
                               cwd=TESTS.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    stored = 0
    while time.time() < deadline and process.poll() is None:
        if store_path.exists():
            try:
                with sqlite3.connect(store_path) as connection:
                    stored = connection.execute("SELECT COUNT(*) FROM features").fetchone()[0]
            except sqlite3.OperationalError:  # the file exists a moment before its table: poll again
                stored = 0
            if stored >= 2:
                break
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 2 <= stored < len(sample_manifest), "the batch was not interrupted halfway"
    with sqlite3.connect(store_path) as connection:
        stored = connection.execute("SELECT COUNT(*) FROM features").fetchone()[0]
    with FeatureStore(store_path) as store:
        result = run_batch(sample_manifest, ExtractionSettings(params=load_params("original")), store=store)
    counts = result.status["status"].value_counts()
    assert counts["cached"] == stored and counts["extracted"] == len(sample_manifest) - stored


@pytest.mark.slow
def test_local_workers_and_dask_cluster_equal_the_serial_run(sample_manifest, fast_settings):
    from dask.distributed import Client, LocalCluster

    manifest = sample_manifest.head(3)
    serial = run_batch(manifest, fast_settings)
    processes = run_batch(manifest, fast_settings, workers=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster, Client(cluster) as client:
            distributed = run_batch(manifest, fast_settings, scheduler=cluster.scheduler_address)
            via_client = run_batch(manifest, fast_settings, scheduler=client)
    for other in (processes, distributed, via_client):
        pd.testing.assert_frame_equal(serial.features, other.features, check_exact=True)


@pytest.mark.slow
def test_cli_writes_parquet_and_reports_failures(sample_manifest, tmp_path):
    from core.cli.extract import main

    manifest = sample_manifest.head(2).copy()
    manifest.to_csv(tmp_path / "ok.csv", index=False)
    assert main([str(tmp_path / "ok.csv"), "--params", "original", "--out", str(tmp_path / "f.parquet")]) == 0
    table = pd.read_parquet(tmp_path / "f.parquet")
    assert table.shape == (2, 107)
    import json

    settings = json.loads((tmp_path / "f.parquet.settings.json").read_text())
    assert settings["preprocess"]["spacing_mm"] == [1.0, 1.0, 1.0]
    assert settings["params"]["setting"]["binWidth"] == 25 and settings["pyradiomics_version"]
    manifest.loc[1, "Image"] = str(tmp_path / "missing.nii.gz")
    manifest.to_csv(tmp_path / "bad.csv", index=False)
    assert main([str(tmp_path / "bad.csv"), "--params", "original", "--out", str(tmp_path / "g.csv")]) == 1
    assert main([str(tmp_path / "bad.csv"), "--params", "nope.yaml", "--out", str(tmp_path / "g.csv")]) == 2


def _seg_of_the_ibsi_gtv(path: Path) -> sitk.Image:
    """Write the IBSI phantom's GTV (from its RTSTRUCT) as a DICOM-SEG with highdicom (an independent writer) at
    ``path``; returns the RTSTRUCT's mask."""
    import highdicom
    import pydicom
    from highdicom.seg import (Segmentation, SegmentAlgorithmTypeValues, SegmentDescription,
                               SegmentationTypeValues)
    from pydicom.sr.codedict import codes

    image = read_image(IBSI / "dicom" / "image")
    reference = read_mask(IBSI / "dicom" / "mask", image, roi_name="GTV-1")
    sources = sorted((pydicom.dcmread(p) for p in (IBSI / "dicom" / "image").glob("*.dcm")),
                     key=lambda d: float(d.ImagePositionPatient[2]))
    # highdicom wants frames in the order of the source images (sorted by z here, as SimpleITK does).
    volume = sitk.GetArrayFromImage(reference).astype(bool)
    description = SegmentDescription(
        segment_number=1, segment_label="tumour",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm, algorithm_type=SegmentAlgorithmTypeValues.MANUAL)
    seg = Segmentation(source_images=sources, pixel_array=volume, segmentation_type=SegmentationTypeValues.BINARY,
                       segment_descriptions=[description], series_instance_uid=highdicom.UID(), series_number=2,
                       sop_instance_uid=highdicom.UID(), instance_number=1, manufacturer="RadNomo tests",
                       manufacturer_model_name="test", software_versions="0", device_serial_number="0")
    seg.save_as(path)
    return reference


@needs_ibsi
def test_dicom_seg_mask_equals_the_rtstruct_it_was_made_from(tmp_path):
    """A DICOM-SEG written by highdicom (an independent writer) from the RTSTRUCT's mask reads back identically."""
    path = tmp_path / "seg.dcm"
    reference = _seg_of_the_ibsi_gtv(path)
    image = read_image(IBSI / "dicom" / "image")
    mask = read_mask(path, image)
    assert np.array_equal(sitk.GetArrayFromImage(mask), sitk.GetArrayFromImage(reference))
    with pytest.raises(RadNomoError, match="'liver' is not in"):
        read_mask(path, image, roi_name="liver")


@needs_ibsi
def test_a_dicom_seg_beside_its_ct_series_in_one_folder_is_accepted(tmp_path):
    """The SEG is a series of its own in the CT's folder: the image is the other series, the mask the SEG."""
    from core.workflows.newpatient import find_dicom_case

    folder = tmp_path / "case"
    shutil.copytree(IBSI / "dicom" / "image", folder)
    reference = _seg_of_the_ibsi_gtv(folder / "seg.dcm")
    series, mask_file = find_dicom_case(folder)
    assert series == folder and mask_file == folder / "seg.dcm"
    case = read_case(series, mask_file)
    assert case.image.GetSize() == read_image(IBSI / "dicom" / "image").GetSize()
    assert np.array_equal(sitk.GetArrayFromImage(case.mask), sitk.GetArrayFromImage(reference))
    assert np.array_equal(sitk.GetArrayFromImage(read_mask(folder, case.image)), sitk.GetArrayFromImage(reference))
    # Two image series in one folder stay refused, named as image series.
    import pydicom

    for path in (IBSI / "dicom" / "image").glob("*.dcm"):
        dataset = pydicom.dcmread(path)
        dataset.SeriesInstanceUID = "1.2.3.4.5"
        dataset.SOPInstanceUID = dataset.SOPInstanceUID + ".9"
        dataset.save_as(folder / f"second_{path.name}")
    with pytest.raises(RadNomoError, match="2 DICOM image series"):
        read_image(folder)
