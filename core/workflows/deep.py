"""A deep feature family for a study: the autoencoder trained on the study's training patients only,
then every case of the manifest encoded. One function for the dashboard and the command line.

On disk (the command line), a run's weights, training log and features form one set written together or
not at all (:func:`train_deep_outputs`, :func:`encode_deep_outputs`): they are written into a fresh sibling
folder that replaces the output folder in one rename, with a record (:data:`DEEP_RUN_RECORD`) holding
each file's hash, so a run killed at any moment leaves the previous complete set or the new one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from core.errors import RadNomoError
from core.imaging.deep.data import prepare_volumes
from core.imaging.deep.features import extract_latents, latents_for_manifest
from core.imaging.deep.model import AEConfig
from core.imaging.deep.train import AETrainResult, train_autoencoder
from core.imaging.extraction.preprocess import PreprocessConfig
from core.imaging.extraction.readers import content_hash
from core.io.paths import staged_folder
from core.workflows.study import Autoencoder, FeatureFamily

__all__ = ["DeepFamilyResult", "train_deep_family", "train_deep_outputs", "encode_deep_outputs", "MIN_TRAINING_CASES",
           "DEEP_WEIGHTS", "DEEP_LOG", "DEEP_FEATURES", "DEEP_RUN_RECORD"]

#: The files of one autoencoder run in its output folder.
DEEP_WEIGHTS, DEEP_LOG, DEEP_FEATURES = "ae_weights.safetensors", "ae_training_log.csv", "features_deep.parquet"
#: The run's record: the SHA-256 of each file above, tying the features to the weights that made them.
DEEP_RUN_RECORD = "deep_run.json"
_DEEP_FILES = (DEEP_WEIGHTS, DEEP_LOG, DEEP_FEATURES, DEEP_RUN_RECORD)

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
    training_ids = set(training["ID"])  # once, not once per case
    rows = [i for i, case_id in enumerate(ids) if case_id in training_ids]
    result = train_autoencoder(config, volumes[rows], out_path, preprocess=preprocess.to_dict(), device=device,
                               on_epoch=on_epoch)
    latents = extract_latents(str(result.weights_path), volumes, ids, device=device)
    family = FeatureFamily(name=name, label=label, table=latents, kind="deep", source=source,
                           autoencoder=Autoencoder(weights=str(result.weights_path), history=result.history))
    return DeepFamilyResult(family=family, training=result, n_training_cases=len(rows))


def _write_record(folder: Path, **described: object) -> None:
    """The run's record: what made it and the hash of every file written (the record itself is last)."""
    hashes = {p.name: content_hash(p) for p in sorted(folder.iterdir()) if p.name != DEEP_RUN_RECORD}
    (folder / DEEP_RUN_RECORD).write_text(json.dumps({**described, "sha256": hashes}, indent=2, sort_keys=True))


def train_deep_outputs(manifest: pd.DataFrame, train_ids: list[str] | tuple[str, ...], config: AEConfig,
                       out_dir: str | Path, **options) -> DeepFamilyResult:
    """:func:`train_deep_family`, with its weights, training log and features written to ``out_dir`` as one set.

    Parameters
    ----------
    manifest, train_ids, config
        As for :func:`train_deep_family`.
    out_dir : path
        The run's folder: it receives :data:`DEEP_WEIGHTS`, :data:`DEEP_LOG`, :data:`DEEP_FEATURES` and
        :data:`DEEP_RUN_RECORD`, replacing a previous run's set there in one step.
    **options
        Passed on to :func:`train_deep_family` (``workers``, ``device``, ``on_epoch``, ...).

    Returns
    -------
    DeepFamilyResult
        With the weights' path inside ``out_dir``.

    Raises
    ------
    RadNomoError
        As :func:`train_deep_family`; also when ``out_dir`` holds other files than a previous run's set (they
        would be removed with the folder) or cannot be written. ``out_dir`` is then unchanged.
    """
    out_dir = Path(out_dir)
    with staged_folder(out_dir, replaceable=_DEEP_FILES) as staging:
        result = train_deep_family(manifest, train_ids, config, staging / DEEP_WEIGHTS, **options)
        result.training.history.to_csv(staging / DEEP_LOG, index=False)
        result.family.table.to_parquet(staging / DEEP_FEATURES)
        _write_record(staging, kind="trained", best_epoch=result.training.best_epoch,
                      n_training_cases=result.n_training_cases, config=config.to_dict())
    weights = out_dir.absolute() / DEEP_WEIGHTS
    trained = result.family.autoencoder
    if trained is None:  # train_deep_family always attaches its autoencoder; said rather than assumed
        raise RadNomoError("the trained deep family has no autoencoder record; retrain it.")
    autoencoder = replace(trained, weights=str(weights))
    return replace(result, family=replace(result.family, autoencoder=autoencoder),
                   training=replace(result.training, weights_path=weights))


def encode_deep_outputs(manifest: pd.DataFrame, weights_path: str | Path, out_dir: str | Path, *, workers: int = 1,
                        device: str = "auto") -> pd.DataFrame:
    """Encode a manifest's cases with trained weights into ``out_dir`` (features and run record, as one set).

    Returns
    -------
    pandas.DataFrame
        The deep features (:func:`core.imaging.deep.features.latents_for_manifest`).

    Raises
    ------
    RadNomoError
        For unreadable weights or cases; when ``out_dir`` holds other files than a previous encoding's
        (a training run's weights among them: encode into another folder), or cannot be written.
    """
    with staged_folder(out_dir, replaceable=(DEEP_FEATURES, DEEP_RUN_RECORD)) as staging:
        table = latents_for_manifest(manifest, str(weights_path), workers=workers, device=device)
        table.to_parquet(staging / DEEP_FEATURES)
        _write_record(staging, kind="encoded", weights=str(weights_path), weights_sha256=content_hash(weights_path))
    return table
