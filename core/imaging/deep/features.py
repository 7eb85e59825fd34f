"""Deep features: the autoencoder's latent vector for every case (``dl_000`` ... ``dl_511``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from core.imaging.deep.train import load_weights, resolve_device

__all__ = ["extract_latents", "latent_columns", "latents_for_manifest", "reconstruct"]


def latent_columns(latent_size: int) -> list[str]:
    """Feature names ``dl_000`` ... for a latent vector of ``latent_size`` values."""
    return [f"dl_{i:03d}" for i in range(latent_size)]


@torch.no_grad()
def _encode(model, volumes: np.ndarray, ids: Sequence[str], *, batch_size: int, device: str) -> pd.DataFrame:
    """Latent vectors of crops under a loaded model, as the feature table."""
    model = model.to(device)
    latents = [model.encode(torch.from_numpy(np.ascontiguousarray(volumes[first:first + batch_size],
                                                                  dtype=np.float32)).to(device)).cpu().numpy()
               for first in range(0, len(volumes), batch_size)]
    latent_size = model.config.latent_size
    values = np.concatenate(latents).astype(np.float64) if latents else np.zeros((0, latent_size))
    return pd.DataFrame(values, index=pd.Index(list(ids), name="ID"), columns=latent_columns(latent_size))


def extract_latents(weights_path: str, volumes: np.ndarray, ids: Sequence[str], *, batch_size: int = 16,
                    device: str = "auto") -> pd.DataFrame:
    """Latent vectors of crops under trained weights.

    Parameters
    ----------
    weights_path : path
        Weights from :func:`core.imaging.deep.train.train_autoencoder` (safetensors).
    volumes : numpy.ndarray
        ``(cases, 2, crop, crop, crop)`` crops (:func:`core.imaging.deep.data.prepare_volumes`).
    ids : sequence of str
        Case IDs, one per crop.

    Returns
    -------
    pandas.DataFrame
        Index ``ID``, columns ``dl_000`` ... (latent size, 512 by default), float64.
    """
    model, _ = load_weights(weights_path)
    return _encode(model, volumes, ids, batch_size=batch_size, device=resolve_device(device))


def latents_for_manifest(manifest: pd.DataFrame, weights_path: str, *, store=None, workers: int = 1,
                         device: str = "auto", on_progress=None) -> pd.DataFrame:
    """Latent features of every case of a manifest, read from / written to the feature store.

    The store key combines the image's and mask's content hashes with the weights' hash, so new
    weights recompute and repeated extraction is free. Crops follow the pre-processing saved with
    the weights.

    Parameters
    ----------
    manifest : pandas.DataFrame
        ``ID``, ``Image``, ``Mask`` with absolute paths (:func:`core.imaging.extraction.batch.read_manifest`).
    weights_path : path
    store : core.imaging.extraction.store.FeatureStore, optional
    workers : int
        Processes preparing the crops.
    on_progress : callable, optional
        ``on_progress(done, total)`` while crops are prepared.

    Returns
    -------
    pandas.DataFrame
        Index ``ID`` (manifest order), columns ``dl_000`` ...
    """
    from core.imaging.deep.data import prepare_volumes
    from core.imaging.extraction.preprocess import PreprocessConfig
    from core.imaging.extraction.readers import content_hash
    from core.imaging.extraction.store import case_key

    model, metadata = load_weights(weights_path)
    config = metadata["config"]
    preprocess = PreprocessConfig.from_dict(metadata["preprocess"]) if metadata["preprocess"] else PreprocessConfig()
    weights_sha = content_hash(weights_path)
    keys = {}
    for case_id, image, mask in manifest[["ID", "Image", "Mask"]].itertuples(index=False):
        image_sha, mask_sha = content_hash(image), content_hash(mask)
        keys[case_id] = (case_key(image_sha, mask_sha, f"ae:{weights_sha}"), image_sha, mask_sha)
    cached = store.get_many(k for k, _, _ in keys.values()) if store is not None else {}
    todo = manifest[[keys[c][0] not in cached for c in manifest["ID"]]]
    rows = {c: cached[keys[c][0]] for c in manifest["ID"] if keys[c][0] in cached}
    if len(todo):
        ids, volumes = prepare_volumes(todo, crop_size=config.crop_size, preprocess=preprocess, workers=workers,
                                       on_progress=on_progress)
        fresh = _encode(model, volumes, ids, batch_size=16, device=resolve_device(device))
        for case_id, values in fresh.iterrows():
            rows[case_id] = values.to_dict()
            if store is not None:
                key, image_sha, mask_sha = keys[case_id]
                store.put(key, case_id=case_id, image_sha256=image_sha, mask_sha256=mask_sha,
                          settings_sha256=weights_sha, extractor_version=f"ae3d/torch-{torch.__version__}",
                          seconds=0.0, features=rows[case_id])
    table = pd.DataFrame.from_dict({c: rows[c] for c in manifest["ID"]}, orient="index")
    table.index.name = "ID"
    return table[latent_columns(config.latent_size)]


@torch.no_grad()
def reconstruct(model, crop: np.ndarray) -> np.ndarray:
    """The autoencoder's reconstruction ``(crop, crop, crop)`` of one ``(2, crop, crop, crop)`` input."""
    model.eval()
    return model(torch.from_numpy(np.ascontiguousarray(crop, dtype=np.float32)[None])).numpy()[0, 0]
