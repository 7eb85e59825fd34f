"""A 3D convolutional autoencoder whose latent vector is the deep-feature set (torch lives only in core/deep)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import torch
from torch import nn

from core.errors import RadNomoError

__all__ = ["AEConfig", "AE3D"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AEConfig:
    """Autoencoder architecture and training settings.

    Attributes
    ----------
    crop_size : int, default 64
        Edge of the cubic ROI-centred input crop, voxels (1 mm voxels after pre-processing).
    in_channels : int, default 2
        CT (abdomen-window scaled to [0, 1]) and the ROI mask.
    base_channels : int, default 8
        Channels of the first encoder block; each of the four stride-2 blocks doubles them.
    latent_size : int, default 512
        Length of the latent vector (the study's 512 deep features).
    epochs : int, default 30
    batch_size : int, default 8
    learning_rate : float, default 1e-3
        Adam step size.
    roi_weight : float, default 4.0
        Weight of ROI voxels in the reconstruction MSE relative to background (1 = plain MSE).
    validation_fraction : float, default 0.15
        Share of the training cohort held out for early stopping.
    patience : int, default 5
        Epochs without validation improvement before training stops.
    seed : int, default 2025
    """

    crop_size: int = 64
    in_channels: int = 2
    base_channels: int = 8
    latent_size: int = 512
    epochs: int = 30
    batch_size: int = 8
    learning_rate: float = 1e-3
    roi_weight: float = 4.0
    validation_fraction: float = 0.15
    patience: int = 5
    seed: int = 2025

    def __post_init__(self) -> None:
        if self.crop_size % 16 or self.crop_size < 16:
            raise RadNomoError(f"crop_size = {self.crop_size} must be a multiple of 16 (four stride-2 blocks).")
        for name in ("in_channels", "base_channels", "latent_size", "epochs", "batch_size", "patience"):
            if getattr(self, name) < 1:
                raise RadNomoError(f"{name} = {getattr(self, name)} must be at least 1.")
        if not 0 < self.learning_rate < 1:
            raise RadNomoError(f"learning_rate = {self.learning_rate} must lie in (0, 1).")
        if not self.roi_weight >= 1 or self.roi_weight == float("inf"):  # NaN fails the first test
            raise RadNomoError(f"roi_weight = {self.roi_weight} must be a finite number of at least 1.")
        if not 0 < self.validation_fraction < 0.5:
            raise RadNomoError(f"validation_fraction = {self.validation_fraction} must lie in (0, 0.5).")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> AEConfig:
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()


def _block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(in_channels, out_channels, 3, stride=2, padding=1),
                         nn.BatchNorm3d(out_channels), nn.LeakyReLU(0.1))


def _up_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose3d(in_channels, out_channels, 4, stride=2, padding=1),
                         nn.BatchNorm3d(out_channels), nn.LeakyReLU(0.1))


class AE3D(nn.Module):
    """3D convolutional autoencoder: four stride-2 conv blocks -> linear latent -> mirrored decoder.

    Input ``(batch, in_channels, crop, crop, crop)``; :meth:`encode` gives ``(batch, latent_size)``,
    :meth:`forward` the reconstruction of the CT channel ``(batch, 1, crop, crop, crop)`` in [0, 1].
    """

    def __init__(self, config: AEConfig) -> None:
        super().__init__()
        self.config = config
        channels = [config.base_channels * 2**i for i in range(4)]
        self.bottom = config.crop_size // 16
        # A 1x1x1 squeeze before the dense layer keeps the weights small (about 4 MB at the defaults).
        self.squeezed = max(channels[-1] // 4, 1)
        flat = self.squeezed * self.bottom**3
        self.encoder = nn.Sequential(_block(config.in_channels, channels[0]), _block(channels[0], channels[1]),
                                     _block(channels[1], channels[2]), _block(channels[2], channels[3]),
                                     nn.Conv3d(channels[3], self.squeezed, 1))
        self.to_latent = nn.Linear(flat, config.latent_size)
        self.from_latent = nn.Linear(config.latent_size, flat)
        self.decoder = nn.Sequential(nn.Conv3d(self.squeezed, channels[3], 1), nn.LeakyReLU(0.1),
                                     _up_block(channels[3], channels[2]), _up_block(channels[2], channels[1]),
                                     _up_block(channels[1], channels[0]),
                                     nn.ConvTranspose3d(channels[0], 1, 4, stride=2, padding=1), nn.Sigmoid())

    def _check(self, volumes: torch.Tensor) -> None:
        size = self.config.crop_size
        expected = (self.config.in_channels, size, size, size)
        if volumes.ndim != 5 or tuple(volumes.shape[1:]) != expected:
            raise RadNomoError(f"autoencoder input has shape {tuple(volumes.shape)}; expected (batch, {expected[0]}, "
                               f"{size}, {size}, {size}).")

    def encode(self, volumes: torch.Tensor) -> torch.Tensor:
        """Latent vectors ``(batch, latent_size)`` of input crops."""
        self._check(volumes)
        return self.to_latent(self.encoder(volumes).flatten(1))

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Reconstructed CT channel ``(batch, 1, crop, crop, crop)`` from latent vectors."""
        grid = self.from_latent(latent).view(-1, self.squeezed, self.bottom, self.bottom, self.bottom)
        return self.decoder(grid)

    def forward(self, volumes: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(volumes))
