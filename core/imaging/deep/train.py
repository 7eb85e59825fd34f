"""Training the autoencoder (training cohort only), and saving/loading its weights safely."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from core.imaging.deep.model import AE3D, AEConfig
from core.errors import RadNomoError
from core.imaging.extraction.readers import content_hash
from core.io.limits import read_json_limited
from core.io.paths import replace_file_atomically

__all__ = ["AETrainResult", "set_determinism", "resolve_device", "train_autoencoder", "save_weights", "load_weights",
           "read_weights_metadata"]

EpochCallback = Callable[[int, float, float], None]  # (epoch, train loss, validation loss)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class AETrainResult:
    """A trained autoencoder.

    Attributes
    ----------
    weights_path : Path
        The safetensors file (weights, with the config and pre-processing in its metadata).
    weights_sha256 : str
        Hash of that file (part of the deep-feature cache key).
    history : pandas.DataFrame
        One row per epoch: ``epoch``, ``train_loss``, ``val_loss`` (ROI-weighted MSE of the
        window-scaled CT), ``seconds``.
    best_epoch : int
        The epoch whose weights were kept (lowest validation loss).
    config : AEConfig
    device : str
        Where it trained ("cpu" or "cuda").
    """

    weights_path: Path
    weights_sha256: str
    history: pd.DataFrame
    best_epoch: int
    config: AEConfig
    device: str


def set_determinism(seed: int) -> None:
    """Seed torch and ask for deterministic kernels (MONAI's set_determinism, reduced to what we use)."""
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


def resolve_device(device: str = "auto") -> str:
    """"auto" -> "cuda" when a GPU is present, else "cpu"; refuses "cuda" without a GPU."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RadNomoError("device 'cuda' was asked for but no GPU is available; use 'cpu' or 'auto'.")
    if device not in ("cpu", "cuda"):
        raise RadNomoError(f"device '{device}' is not valid; possible values: auto, cpu, cuda.")
    return device


def _weighted_mse(reconstruction: torch.Tensor, batch: torch.Tensor, roi_weight: float) -> torch.Tensor:
    target, roi = batch[:, :1], batch[:, 1:2]
    weights = 1.0 + (roi_weight - 1.0) * roi
    return (weights * (reconstruction - target) ** 2).sum() / weights.sum()


def train_autoencoder(config: AEConfig, volumes: np.ndarray, out_path: str | Path, *, preprocess: dict | None = None,
                      device: str = "auto", on_epoch: EpochCallback | None = None) -> AETrainResult:
    """Train the autoencoder on training-cohort crops, with early stopping on a held-out part of them.

    Parameters
    ----------
    config : AEConfig
    volumes : numpy.ndarray
        ``(cases, 2, crop, crop, crop)`` crops of the **training cohort only**
        (:func:`core.imaging.deep.data.prepare_volumes`).
    out_path : path
        Where the safetensors weights are written.
    preprocess : dict, optional
        The pre-processing settings, stored with the weights.
    device : {"auto", "cpu", "cuda"}
    on_epoch : callable, optional
        ``on_epoch(epoch, train_loss, val_loss)`` after each epoch (live loss curve).

    Returns
    -------
    AETrainResult

    Raises
    ------
    RadNomoError
        If there are fewer than 4 cases or the crops do not match the config.
    """
    if len(volumes) < 4:
        raise RadNomoError(f"{len(volumes)} training cases are too few to train the autoencoder (at least 4).")
    device = resolve_device(device)
    set_determinism(config.seed)
    generator = np.random.default_rng(config.seed)
    order = generator.permutation(len(volumes))
    n_val = max(1, int(round(config.validation_fraction * len(volumes))))
    val_index, train_index = np.sort(order[:n_val]), np.sort(order[n_val:])
    data = torch.from_numpy(np.ascontiguousarray(volumes, dtype=np.float32))
    model = AE3D(config).to(device)
    model._check(data[:1])
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    rows, best_loss, best_state, best_epoch, stale = [], float("inf"), None, 0, 0
    for epoch in range(1, config.epochs + 1):
        start = time.perf_counter()
        model.train()
        shuffled = train_index[generator.permutation(len(train_index))]
        total, count = 0.0, 0
        for first in range(0, len(shuffled), config.batch_size):
            batch = data[shuffled[first:first + config.batch_size]].to(device)
            if len(batch) < 2:  # batch norm needs two samples
                continue
            optimiser.zero_grad()
            loss = _weighted_mse(model(batch), batch, config.roi_weight)
            loss.backward()
            optimiser.step()
            total, count = total + float(loss.detach()) * len(batch), count + len(batch)
        val_loss = evaluate_loss(model, data[val_index], config, device)
        rows.append({"epoch": epoch, "train_loss": total / max(count, 1), "val_loss": val_loss,
                     "seconds": time.perf_counter() - start})
        if on_epoch is not None:
            on_epoch(epoch, rows[-1]["train_loss"], val_loss)
        if val_loss < best_loss - 1e-7:
            best_loss, best_epoch, stale = val_loss, epoch, 0
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= config.patience:
                break
    model.load_state_dict(best_state)
    path = save_weights(model.cpu(), config, out_path, preprocess=preprocess)
    return AETrainResult(weights_path=path, weights_sha256=content_hash(path), history=pd.DataFrame(rows),
                         best_epoch=best_epoch, config=config, device=device)


@torch.no_grad()
def evaluate_loss(model: AE3D, data: torch.Tensor, config: AEConfig, device: str) -> float:
    """Mean ROI-weighted reconstruction MSE over ``data`` in eval mode."""
    model.eval()
    total = 0.0
    for first in range(0, len(data), config.batch_size):
        batch = data[first:first + config.batch_size].to(device)
        total += float(_weighted_mse(model(batch), batch, config.roi_weight)) * len(batch)
    return total / len(data)


def save_weights(model: AE3D, config: AEConfig, path: str | Path, *, preprocess: dict | None = None) -> Path:
    """Write the weights as safetensors with the config and pre-processing in the file's metadata.

    The file is written beside ``path`` and renamed into place, so a process killed while saving leaves the
    previous weights (or none) at ``path``, never a truncated file.
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # One metadata entry holding canonical JSON: safetensors writes several entries in hash-map
    # order, which would make the bytes (and the weights' hash) differ between identical saves.
    metadata = {"radnomo": json.dumps({"format": "radnomo-ae3d", "config": config.to_dict(),
                                       "preprocess": preprocess or {}}, sort_keys=True)}
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return replace_file_atomically(path, lambda temporary: save_file(state, str(temporary), metadata=metadata))


def read_weights_metadata(path: str | Path) -> dict:
    """The config and pre-processing recorded in a weights file, without reading its tensors.

    Returns {"config": AEConfig, "preprocess": dict}.

    Raises
    ------
    RadNomoError
        If the file is missing, not a safetensors file, or not RadNomo autoencoder weights.
    """
    from safetensors import SafetensorError
    from safetensors.torch import safe_open

    path = Path(path)
    if not path.is_file():
        raise RadNomoError(f"weights file '{path}' does not exist.")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise RadNomoError(f"'{path.name}' is not a weights file (safetensors expected): {error}") from error
    try:  # size-checked, and nesting or malformed JSON refused rather than escaping as RecursionError
        described = read_json_limited(metadata.get("radnomo", "{}").encode("utf-8"), what=f"'{path.name}' metadata")
    except RadNomoError:
        described = {}
    if not isinstance(described, dict) or described.get("format") != "radnomo-ae3d":
        raise RadNomoError(f"'{path.name}' holds tensors but not RadNomo autoencoder weights.")
    try:
        config = AEConfig.from_dict(described["config"])
    except (KeyError, TypeError, ValueError) as error:
        raise RadNomoError(f"'{path.name}' describes its autoencoder wrongly ({error}).") from error
    return {"config": config, "preprocess": described.get("preprocess", {})}


def load_weights(path: str | Path) -> tuple[AE3D, dict]:
    """Load an autoencoder saved by :func:`save_weights` (safetensors: no code is ever unpickled).

    Returns
    -------
    (model in eval mode, metadata dict with ``config`` (AEConfig) and ``preprocess`` (dict))

    Raises
    ------
    RadNomoError
        If the file is missing, not a safetensors file, or not RadNomo autoencoder weights.
    """
    from safetensors import SafetensorError
    from safetensors.torch import safe_open

    described = read_weights_metadata(path)
    config = described["config"]
    # Build the described network on the meta device first (no memory) and compare every tensor's
    # shape with the file's, so edited metadata (say crop_size 384) cannot make us allocate gigabytes.
    with torch.device("meta"):
        expected = {name: tuple(tensor.shape) for name, tensor in AE3D(config).state_dict().items()}
    try:
        with safe_open(str(path), framework="pt") as handle:
            stored = {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
            if stored != expected:
                raise RadNomoError(f"'{Path(path).name}' does not match the autoencoder its metadata describes.")
            state = {name: handle.get_tensor(name) for name in handle.keys()}
    except SafetensorError as error:
        raise RadNomoError(f"'{Path(path).name}' is not a weights file (safetensors expected): {error}") from error
    model = AE3D(config)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise RadNomoError(f"'{Path(path).name}' does not match the autoencoder its metadata describes.") from error
    model.eval()
    return model, {"config": config, "preprocess": described.get("preprocess", {})}
