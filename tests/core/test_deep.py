"""The autoencoder on tiny synthetic crops: shapes, learning, determinism, safe weights, latents."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.imaging.deep.data import prepare_volumes, roi_crop
from core.imaging.deep.features import extract_latents
from core.imaging.deep.model import AE3D, AEConfig
from core.imaging.deep.train import load_weights, save_weights, train_autoencoder
from core.errors import RadNomoError
from core.imaging.extraction.batch import read_manifest
from core.imaging.extraction.preprocess import PreprocessConfig
from core.imaging.extraction.readers import read_case
from core.io.paths import SAMPLE_DIR

TINY = dict(crop_size=16, base_channels=4, batch_size=4, epochs=6, learning_rate=3e-3, patience=10)


@pytest.fixture(scope="module")
def tiny_volumes() -> np.ndarray:
    """24 crops of 16^3: a bright blob of varying size and position on a noisy background, with its mask."""
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(*[np.arange(16)] * 3, indexing="ij"))
    volumes = np.zeros((24, 2, 16, 16, 16), dtype=np.float32)
    for i in range(24):
        centre = rng.uniform(5, 11, size=3)[:, None, None, None]
        blob = (((grid - centre) ** 2).sum(axis=0) < rng.uniform(9, 20)).astype(np.float32)
        volumes[i, 0] = 0.3 + 0.4 * blob + rng.normal(0, 0.03, (16, 16, 16))
        volumes[i, 1] = blob
    return np.clip(volumes, 0, 1).astype(np.float16)


def test_shapes_and_structure_checks():
    model = AE3D(AEConfig(crop_size=16, base_channels=4))
    x = torch.zeros(3, 2, 16, 16, 16)
    assert model.encode(x).shape == (3, 512)
    assert model(x).shape == (3, 1, 16, 16, 16)
    with pytest.raises(RadNomoError, match="expected"):
        model.encode(torch.zeros(3, 1, 16, 16, 16))
    with pytest.raises(RadNomoError, match="multiple of 16"):
        AEConfig(crop_size=20)


@pytest.mark.slow
def test_training_lowers_the_loss_and_is_deterministic(tiny_volumes, tmp_path):
    config = AEConfig(**TINY)
    first = train_autoencoder(config, tiny_volumes, tmp_path / "a.safetensors", device="cpu")
    second = train_autoencoder(config, tiny_volumes, tmp_path / "b.safetensors", device="cpu")
    history = first.history
    assert history["train_loss"].iloc[-1] < 0.5 * history["train_loss"].iloc[0]
    assert history["val_loss"].min() < history["val_loss"].iloc[0]
    assert first.weights_sha256 == second.weights_sha256
    ids = [f"P{i}" for i in range(len(tiny_volumes))]
    a = extract_latents(str(first.weights_path), tiny_volumes, ids, device="cpu")
    b = extract_latents(str(second.weights_path), tiny_volumes, ids, device="cpu")
    assert a.shape == (24, 512) and list(a.columns[:2]) == ["dl_000", "dl_001"] and a.columns[-1] == "dl_511"
    assert a.equals(b)


def test_weights_round_trip_and_foreign_files_are_refused(tmp_path):
    config = AEConfig(crop_size=16, base_channels=4, latent_size=32)
    model = AE3D(config).eval()
    path = save_weights(model, config, tmp_path / "w.safetensors", preprocess={"spacing_mm": [1, 1, 1]})
    loaded, metadata = load_weights(path)
    assert metadata["config"] == config and metadata["preprocess"] == {"spacing_mm": [1, 1, 1]}
    x = torch.rand(2, 2, 16, 16, 16)
    assert torch.equal(model.encode(x), loaded.encode(x))
    pickle_file = tmp_path / "model.pt"
    torch.save(model.state_dict(), pickle_file)
    with pytest.raises(RadNomoError, match="not a weights file"):
        load_weights(pickle_file)
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(RadNomoError, match="not RadNomo autoencoder weights"):
        load_weights(tmp_path / "other.safetensors")
    with pytest.raises(RadNomoError, match="does not exist"):
        load_weights(tmp_path / "missing.safetensors")


def test_roi_crop_is_centred_and_window_scaled():
    case = read_case(SAMPLE_DIR / "images" / "GC0001_ct.nii.gz", SAMPLE_DIR / "masks" / "GC0001_r1.nii.gz")
    crop = roi_crop(case.image, case.mask, crop_size=64, preprocess=PreprocessConfig())
    assert crop.shape == (2, 64, 64, 64) and crop.dtype == np.float32
    assert 0 <= crop[0].min() and crop[0].max() <= 1
    centre = np.argwhere(crop[1] > 0).mean(axis=0)
    assert np.allclose(centre, 32, atol=1.5)


def test_prepare_volumes_for_a_manifest():
    manifest = read_manifest(SAMPLE_DIR / "manifest.csv").head(2)
    ids, volumes = prepare_volumes(manifest, crop_size=32)
    assert ids == manifest["ID"].tolist() and volumes.shape == (2, 2, 32, 32, 32)
    assert volumes.dtype == np.float16


@pytest.mark.slow
def test_cli_trains_on_the_training_split_only(tmp_path):
    import pandas as pd

    from core.io.tables import read_table
    from core.stats.cohort import CohortSpec, SplitConfig, split_cohort, validate_cohort
    from core.cli.deep import main

    manifest = read_manifest(SAMPLE_DIR / "manifest.csv")
    manifest = manifest[manifest["Image"].map(lambda p: Path(p).is_file())].head(12)
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    code = main([str(tmp_path / "manifest.csv"), "--cohort", str(SAMPLE_DIR / "clinical.csv"), "--out-dir",
                 str(tmp_path / "out"), "--epochs", "1", "--crop", "32", "--latent", "8"])
    assert code == 0
    deep = pd.read_parquet(tmp_path / "out" / "features_deep.parquet")
    assert deep.index.tolist() == manifest["ID"].tolist() and deep.shape[1] == 8
    log = pd.read_csv(tmp_path / "out" / "ae_training_log.csv")
    assert list(log.columns) == ["epoch", "train_loss", "val_loss", "seconds"]
    # the same split as the dashboard's: count the training patients the CLI could use
    spec = CohortSpec(id_column="patient_id", outcome_column="lm")
    cohort = validate_cohort(read_table(SAMPLE_DIR / "clinical.csv"), "patient_id", "lm")
    train = set(split_cohort(cohort, spec, SplitConfig()).train_ids)
    assert 4 <= len(set(manifest["ID"]) & train) < len(manifest)
    # Encoding with the trained weights, no training: the same latents as the training run wrote.
    code = main([str(tmp_path / "manifest.csv"), "--weights", str(tmp_path / "out" / "ae_weights.safetensors"),
                 "--out-dir", str(tmp_path / "encoded")])
    assert code == 0
    encoded = pd.read_parquet(tmp_path / "encoded" / "features_deep.parquet")
    pd.testing.assert_frame_equal(encoded, deep, check_names=False, atol=1e-6, rtol=0)
