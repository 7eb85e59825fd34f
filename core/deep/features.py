"""Deep features: the autoencoder's latent vector for every case (``dl_000`` ... ``dl_511``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from core.deep.train import load_weights, resolve_device

__all__ = ["extract_latents", "latent_columns"]


def latent_columns(latent_size: int) -> list[str]:
    """Feature names ``dl_000`` ... for a latent vector of ``latent_size`` values."""
    return [f"dl_{i:03d}" for i in range(latent_size)]


@torch.no_grad()
def extract_latents(weights_path: str, volumes: np.ndarray, ids: Sequence[str], *, batch_size: int = 16,
                    device: str = "auto") -> pd.DataFrame:
    """Latent vectors of crops under trained weights.

    Parameters
    ----------
    weights_path : path
        Weights from :func:`core.deep.train.train_autoencoder` (safetensors).
    volumes : numpy.ndarray
        ``(cases, 2, crop, crop, crop)`` crops (:func:`core.deep.data.prepare_volumes`).
    ids : sequence of str
        Case IDs, one per crop.

    Returns
    -------
    pandas.DataFrame
        Index ``ID``, columns ``dl_000`` ... (latent size, 512 by default), float64.
    """
    model, metadata = load_weights(weights_path)
    device = resolve_device(device)
    model = model.to(device)
    latents = []
    for first in range(0, len(volumes), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(volumes[first:first + batch_size], dtype=np.float32))
        latents.append(model.encode(batch.to(device)).cpu().numpy())
    values = np.concatenate(latents).astype(np.float64) if latents else np.zeros((0, metadata["config"].latent_size))
    table = pd.DataFrame(values, index=pd.Index(list(ids), name="ID"),
                         columns=latent_columns(metadata["config"].latent_size))
    return table
