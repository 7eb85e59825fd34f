"""A deep feature family for a study: the autoencoder trained on the study's training patients only,
then every case of the manifest encoded. One function for the dashboard and the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.errors import RadNomoError
from core.imaging.deep.data import prepare_volumes
from core.imaging.deep.features import extract_latents
from core.imaging.deep.model import AEConfig
from core.imaging.deep.train import AETrainResult, train_autoencoder
from core.imaging.extraction.preprocess import PreprocessConfig
from core.workflows.study import Autoencoder, FeatureFamily

__all__ = ["DeepFamilyResult", "train_deep_family", "MIN_TRAINING_CASES"]

# Fewer training crops cannot hold out a validation part for early stopping.
MIN_TRAINING_CASES = 4


@dataclass(frozen=True, eq=False)
class DeepFamilyResult:
    """The new family (latent features of every case) and the training run behind it."""

    family: FeatureFamily
    training: AETrainResult
    n_training_cases: int


def train_deep_family(manifest: pd.DataFrame, train_ids: list[str] | tuple[str, ...], config: AEConfig,
                      out_path: str | Path, *, name: str = "dl", label: str = "DL", source: str = "",
                      preprocess: PreprocessConfig | None = None, workers: int = 1, device: str = "auto",
                      max_training_cases: int = 0, on_crops: Callable[[int, int], None] | None = None,
                      on_epoch: Callable[[int, float, float], None] | None = None) -> DeepFamilyResult:
    """Train the 3D autoencoder on the manifest's training patients and encode every case of it.

    Parameters
    ----------
    manifest : pandas.DataFrame
        ``ID``, ``Image``, ``Mask`` (absolute paths), as :func:`core.imaging.extraction.batch.read_manifest` gives.
    train_ids : sequence of str
        The study's training patients: only their crops are learned from (test patients never are).
    config : AEConfig
    out_path : path
        Where the weights go (safetensors).
    max_training_cases : int
        Train on at most this many training cases (0 = all).

    Raises
    ------
    RadNomoError
        If fewer than :data:`MIN_TRAINING_CASES` cases of the manifest are training patients, or a crop
        cannot be made.
    """
    preprocess = preprocess or PreprocessConfig()
    train = set(train_ids)
    training = manifest[manifest["ID"].isin(train)]
    if max_training_cases:
        training = training.head(int(max_training_cases))
    if len(training) < MIN_TRAINING_CASES:
        raise RadNomoError(f"only {len(training)} of the manifest's cases are in the training cohort; at least "
                           f"{MIN_TRAINING_CASES} are needed (the autoencoder never sees test patients).")
    ids, volumes = prepare_volumes(manifest, crop_size=config.crop_size, preprocess=preprocess, workers=workers,
                                   on_progress=on_crops)
    rows = [i for i, case_id in enumerate(ids) if case_id in set(training["ID"])]
    result = train_autoencoder(config, volumes[rows], out_path, preprocess=preprocess.to_dict(), device=device,
                               on_epoch=on_epoch)
    latents = extract_latents(str(result.weights_path), volumes, ids, device=device)
    family = FeatureFamily(name=name, label=label, table=latents, kind="deep", source=source,
                           autoencoder=Autoencoder(weights=str(result.weights_path), history=result.history))
    return DeepFamilyResult(family=family, training=result, n_training_cases=len(rows))
