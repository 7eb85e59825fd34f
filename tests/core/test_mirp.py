"""The MIRP engine: settings from pyradiomics parameters, batch extraction, the store and the settings' dict."""

from __future__ import annotations

import hashlib
import json
import math
import warnings

import numpy as np
import pytest
import SimpleITK as sitk

from core.errors import RadNomoError
from core.imaging.extraction.batch import ExtractionSettings, read_manifest, run_batch
from core.imaging.extraction.mirp_engine import MirpSettings, mirp_version
from core.imaging.extraction.preprocess import NO_PREPROCESSING, PreprocessConfig
from core.imaging.extraction.radiomics import load_params, params_sha256, pyradiomics_version
from core.imaging.extraction.store import FeatureStore
from core.imaging.ibsi import mirp_ibsi_tag

pytest.importorskip("mirp", reason="the MIRP engine needs the 'mirp' package (requirements.txt)")


@pytest.fixture(scope="module")
def tiny_manifest(tmp_path_factory):
    """Two small synthetic CT cases (1 mm voxels, a 7 x 7 x 6 voxel ROI) written as NIfTI."""
    folder = tmp_path_factory.mktemp("mirp_cases")
    rng = np.random.default_rng(3)
    rows = []
    for index in range(2):
        volume = rng.normal(40.0 + 20 * index, 25.0, size=(12, 16, 16)).round().astype(np.int16)
        mask = np.zeros(volume.shape, np.uint8)
        mask[3:9, 4:11, 5:12] = 1
        image = sitk.GetImageFromArray(volume)
        image.SetSpacing((1.0, 1.0, 1.0))
        labels = sitk.GetImageFromArray(mask)
        labels.CopyInformation(image)
        sitk.WriteImage(image, str(folder / f"case{index}_ct.nii.gz"))
        sitk.WriteImage(labels, str(folder / f"case{index}_mask.nii.gz"))
        rows.append(f"T{index},case{index}_ct.nii.gz,case{index}_mask.nii.gz")
    (folder / "manifest.csv").write_text("ID,Image,Mask\n" + "\n".join(rows) + "\n")
    return read_manifest(folder / "manifest.csv")


@pytest.fixture(scope="module")
def mirp_settings() -> ExtractionSettings:
    params = load_params("original")
    # Two texture families keep the test quick; the settings path is the same as for all seven.
    params["featureClass"] = {"firstorder": None, "glcm": None, "glszm": None}
    return ExtractionSettings(params=params, preprocess=NO_PREPROCESSING, engine="mirp")


@pytest.mark.slow
def test_mirp_extracts_through_run_batch_and_the_store_caches_it(tiny_manifest, mirp_settings, tmp_path):
    with FeatureStore(tmp_path / "store.sqlite") as store:
        first = run_batch(tiny_manifest, mirp_settings, store=store)
        second = run_batch(tiny_manifest, mirp_settings, store=store)
        assert len(store) == 2
    assert first.status["status"].tolist() == ["extracted", "extracted"], first.status["message"].tolist()
    assert second.status["status"].tolist() == ["cached", "cached"]
    features = first.features
    assert all(name.startswith("mirp_") for name in features.columns)
    assert "mirp_stat_mean" in features and "mirp_cm_joint_entr_d1_3d_avg_fbs_w25.0" in features
    assert "mirp_szm_sze_3d_fbs_w25.0" in features
    assert not any(name.startswith("mirp_morph_") for name in features.columns)  # no shape class asked for
    # Every MIRP name maps back to an IBSI tag; the mean is the voxels' mean.
    assert all(mirp_ibsi_tag(name) for name in features.columns)
    volume = sitk.GetArrayFromImage(sitk.ReadImage(tiny_manifest["Image"][0]))
    assert math.isclose(features.loc["T0", "mirp_stat_mean"], volume[3:9, 4:11, 5:12].mean(), rel_tol=1e-6)
    np.testing.assert_allclose(second.features.to_numpy(), features.to_numpy())


def test_pyradiomics_store_key_is_unchanged_by_the_engine_field():
    params = load_params("original")
    before = ExtractionSettings(params=params)  # as every existing caller builds it
    assert ExtractionSettings(params=params, engine="pyradiomics").sha256 == before.sha256
    # The payload hashed before the engine field existed, rebuilt here: existing stores stay valid.
    payload = {"params": params_sha256(params), "preprocess": PreprocessConfig().sha256, "label": 1,
               "roi_name": None, "pyradiomics": pyradiomics_version()}
    assert before.sha256 == hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    assert ExtractionSettings(params=params, engine="mirp").sha256 != before.sha256


def test_engine_round_trips_through_the_settings_dict(mirp_settings):
    values = json.loads(json.dumps(mirp_settings.to_dict()))
    assert values["engine"] == "mirp" and values["mirp_version"] == mirp_version()
    again = ExtractionSettings.from_dict(values)
    assert again.engine == "mirp" and again.sha256 == mirp_settings.sha256
    legacy = ExtractionSettings(params=load_params("original")).to_dict()
    assert legacy["engine"] == "pyradiomics" and "pyradiomics_version" in legacy
    del legacy["engine"]  # a settings JSON written before the engine field
    loaded = ExtractionSettings.from_dict(legacy)
    assert loaded.engine == "pyradiomics"
    assert loaded.sha256 == ExtractionSettings(params=load_params("original")).sha256


def test_bad_engine_settings_are_refused():
    with pytest.raises(RadNomoError, match="engine 'radiomics' is not valid"):
        ExtractionSettings(params=load_params("original"), engine="radiomics")
    with pytest.raises(RadNomoError, match=r"MIRP has no equivalent of pyradiomics image type\(s\) \['Square'"):
        ExtractionSettings(params=load_params("study"), engine="mirp")
    with pytest.raises(RadNomoError, match="not valid pyradiomics parameters"):
        ExtractionSettings.from_dict({"params": {"setting": {"binWidthh": 25}}, "engine": "mirp"})


def test_mirp_settings_follow_the_pyradiomics_parameters():
    params = {"imageType": {"Original": {}, "LoG": {"sigma": [1.0, 3.0]}},
              "featureClass": {"shape": None, "gldm": None},
              "setting": {"binCount": 32, "resampledPixelSpacing": [2, 2, 2], "interpolator": "sitkLinear",
                          "resegmentRange": [-3, 3], "resegmentMode": "sigma", "voxelArrayShift": 0}}
    settings = MirpSettings.from_params(params)
    assert settings.discretisation == "fixed_bin_number" and settings.n_bins == 32
    assert settings.new_spacing_mm == (2.0, 2.0, 2.0) and settings.spline_order == 1
    assert settings.outlier_sigma == 3.0 and settings.intensity_range is None
    assert settings.families == ("morphology", "ngldm") and settings.log_sigma_mm == (1.0, 3.0)
    arguments = settings.mirp_arguments()
    assert arguments["filter_kernels"] == ["laplacian_of_gaussian"]
    assert arguments["glcm_spatial_method"] == ["3d_average"] and arguments["ngldm_spatial_method"] == ["3d"]
    clipped = MirpSettings.from_params({"setting": {"binWidth": 25}}, hu_range=(-1024.0, 1024.0))
    assert clipped.intensity_range == (-1024.0, 1024.0) and clipped.bin_width == 25.0
    two_d = MirpSettings.from_params({"setting": {"force2D": True, "resampledPixelSpacing": [2, 2, 0],
                                                  "resegmentRange": [-500, 400]}})
    assert two_d.by_slice and two_d.new_spacing_mm == (2.0, 2.0) and two_d.intensity_range == (-500.0, 400.0)
    assert two_d.mirp_arguments()["new_spacing"] == [2.0, 2.0]
    with pytest.raises(RadNomoError, match="normalize"):
        MirpSettings.from_params({"setting": {"normalize": True}})


@pytest.mark.slow
def test_mirp_runs_on_a_dask_cluster(tiny_manifest, mirp_settings):
    from dask.distributed import Client, LocalCluster

    serial = run_batch(tiny_manifest.head(1), mirp_settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster, Client(cluster):
            distributed = run_batch(tiny_manifest.head(1), mirp_settings, scheduler=cluster.scheduler_address)
    assert distributed.status["status"].tolist() == ["extracted"], distributed.status["message"].tolist()
    np.testing.assert_allclose(distributed.features.to_numpy(), serial.features.to_numpy())
