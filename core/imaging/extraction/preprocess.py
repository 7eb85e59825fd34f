"""The study's pre-processing: resampling to isotropic voxels, HU clipping and the abdomen window.

Settings live in :class:`PreprocessConfig` and are recorded with every result (their hash is part
of the feature-store key).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np
import SimpleITK as sitk

from core.errors import RadNomoError

__all__ = ["PreprocessConfig", "NO_PREPROCESSING", "preprocess_case", "resample_to_spacing", "clip_hu",
           "window_normalise"]

_INTERPOLATORS = {"bspline": sitk.sitkBSpline, "linear": sitk.sitkLinear, "nearest": sitk.sitkNearestNeighbor}


@dataclass(frozen=True, slots=True, kw_only=True)
class PreprocessConfig:
    """Pre-processing settings (the study's by default).

    Attributes
    ----------
    spacing_mm : tuple of 3 floats or None, default (1, 1, 1)
        Target voxel spacing (x, y, z) in mm; None keeps the original grid.
    image_interpolator : {"bspline", "linear", "nearest"}, default "bspline"
        Interpolation of the image (cubic B-spline, as the study); masks always use nearest neighbour.
    hu_range : (float, float) or None, default (-1024, 1024)
        Intensities are clipped to this range (HU); None leaves them.
    window_level, window_width : float, default 50 and 350
        The abdomen window used to scale deep-learning inputs to [0, 1].
    """

    spacing_mm: tuple[float, float, float] | None = (1.0, 1.0, 1.0)
    image_interpolator: str = "bspline"
    hu_range: tuple[float, float] | None = (-1024.0, 1024.0)
    window_level: float = 50.0
    window_width: float = 350.0

    def __post_init__(self) -> None:
        if self.spacing_mm is not None and (len(self.spacing_mm) != 3 or min(self.spacing_mm) <= 0):
            raise RadNomoError(f"spacing_mm = {self.spacing_mm} must be three positive numbers (mm).")
        if self.image_interpolator not in _INTERPOLATORS:
            raise RadNomoError(f"image_interpolator '{self.image_interpolator}' is not valid; possible values: "
                               f"{sorted(_INTERPOLATORS)}.")
        if self.hu_range is not None and self.hu_range[0] >= self.hu_range[1]:
            raise RadNomoError(f"hu_range = {self.hu_range} must be (low, high) with low < high.")
        if self.window_width <= 0:
            raise RadNomoError(f"window_width = {self.window_width} must be positive (HU).")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict) -> PreprocessConfig:
        """Inverse of :meth:`to_dict` (lists back to tuples)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()
                      if k in cls.__dataclass_fields__})

    @property
    def sha256(self) -> str:
        """Hash of the settings (part of the feature-store key)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()


NO_PREPROCESSING = PreprocessConfig(spacing_mm=None, hu_range=None)


def resample_to_spacing(image: sitk.Image, mask: sitk.Image, spacing_mm: tuple[float, float, float],
                        interpolator: str = "bspline") -> tuple[sitk.Image, sitk.Image]:
    """Resample image (float32, chosen interpolator) and mask (nearest neighbour) to ``spacing_mm``.

    The new grid keeps the origin and direction and covers the same physical extent.
    """
    old_spacing = np.asarray(image.GetSpacing())
    new_spacing = np.asarray(spacing_mm, dtype=float)
    size = [max(1, int(round(n * s / t))) for n, s, t in zip(image.GetSize(), old_spacing, new_spacing)]
    reference = sitk.Image(size, sitk.sitkUInt8)
    reference.SetSpacing(tuple(new_spacing))
    reference.SetOrigin(image.GetOrigin())
    reference.SetDirection(image.GetDirection())
    minimum = float(sitk.GetArrayViewFromImage(image).min())
    resampled_image = sitk.Resample(sitk.Cast(image, sitk.sitkFloat32), reference, sitk.Transform(),
                                    _INTERPOLATORS[interpolator], minimum, sitk.sitkFloat32)
    resampled_mask = sitk.Resample(mask, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    return resampled_image, resampled_mask


def clip_hu(image: sitk.Image, hu_range: tuple[float, float]) -> sitk.Image:
    """Clip intensities to ``hu_range`` (B-spline overshoot and metal included)."""
    return sitk.Clamp(sitk.Cast(image, sitk.sitkFloat32), sitk.sitkFloat32, float(hu_range[0]), float(hu_range[1]))


def window_normalise(image: sitk.Image, level: float = 50.0, width: float = 350.0) -> np.ndarray:
    """The image as a float32 array (z, y, x) scaled by the window to [0, 1] (deep-learning input)."""
    array = sitk.GetArrayFromImage(image).astype(np.float32)
    low = level - width / 2
    return np.clip((array - low) / width, 0.0, 1.0)


def preprocess_case(image: sitk.Image, mask: sitk.Image, config: PreprocessConfig) -> tuple[sitk.Image, sitk.Image]:
    """Apply the configured resampling and HU clipping; returns (image, mask).

    Raises
    ------
    RadNomoError
        If the mask is empty after resampling (an ROI smaller than one target voxel).
    """
    if config.spacing_mm is not None:
        image, mask = resample_to_spacing(image, mask, config.spacing_mm, config.image_interpolator)
        if not sitk.GetArrayViewFromImage(mask).any():
            raise RadNomoError("the mask is empty after resampling to "
                               f"{config.spacing_mm} mm; the ROI is smaller than one voxel.")
    if config.hu_range is not None:
        image = clip_hu(image, config.hu_range)
    return image, mask
