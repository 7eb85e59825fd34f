"""MIRP as a second radiomics engine: one-case extraction with IBSI-compliant definitions.

MIRP (``pip install mirp``; Zwanenburg et al., the IBSI's lead author; https://github.com/oncoray/mirp)
implements the IBSI chapter 1 (features) and chapter 2 (filters) definitions. RadNomo hands it a case
as SimpleITK images read by :mod:`core.imaging.extraction.readers` (so the same file checks apply as
for pyradiomics), written to a temporary uncompressed NIfTI pair, which keeps the voxel spacing and
geometry (MIRP's in-memory numpy input has no spacing). MIRP estimates Moran's I and Geary's C by
Monte Carlo sampling for ROIs over 1,000 voxels; the temporary folder's name is derived from the case
so that the estimate is the same on every run (see ``_case_folder``).

Settings
--------
:class:`MirpSettings` is a small frozen dataclass of the IBSI processing choices (resampling, spline
order, re-segmentation, discretisation, families, aggregation, filters). Batch runs derive it from the
same pyradiomics parameter dict that drives the pyradiomics engine
(:meth:`MirpSettings.from_params`), so a study keeps one parameter file and only switches
``engine``; the mapping is:

==========================================  ================================================================
pyradiomics ``params``                      MIRP
==========================================  ================================================================
``setting.binWidth``                        ``fixed_bin_size`` (IBSI: bins start at the re-segmentation
                                            lower bound, -1000 HU for CT without one; pyradiomics starts
                                            them at a multiple of the width below the ROI minimum)
``setting.binCount``                        ``fixed_bin_number``
``setting.resampledPixelSpacing``           ``new_spacing`` (MIRP centres the new grid, IBSI style; a 0
                                            for z with ``force2D`` means in-plane resampling)
``setting.interpolator``                    spline order: sitkNearestNeighbor 0, sitkLinear 1, sitkBSpline 3
``setting.resegmentRange`` / ``Mode``       absolute -> ``resegmentation_intensity_range``; sigma with a
                                            symmetric range [-k, k] -> ``resegmentation_sigma`` k; without
                                            one, RadNomo's HU clip range (removes nothing, sets the bins'
                                            lower bound)
``setting.force2D`` (dimension 0)           ``by_slice`` with 2D texture aggregation
``setting.voxelArrayShift``                 ``stat_value_shift`` (energy, RMS; both engines add it alike)
``featureClass``                            families: shape -> morphology; firstorder -> statistics and
                                            intensity histogram; glcm, glrlm, glszm, ngtdm alike;
                                            gldm -> ngldm (pyradiomics' GLDM is the IBSI NGLDM)
``imageType`` Original / LoG / Wavelet      base features / ``laplacian_of_gaussian`` (sigma, mm) /
                                            ``separable_wavelet`` (same wavelet, level, the 8 filter
                                            combinations, not rotation invariant)
==========================================  ================================================================

Texture aggregation follows pyradiomics' (features per direction, then averaged: IBSI ``3D_avg``;
zone and neighbourhood families over the volume: ``3D``). pyradiomics image types without a MIRP
counterpart (Square, SquareRoot, Logarithm, Exponential, Gradient, LBP2D, LBP3D) and intensity
normalisation are refused with :class:`core.errors.RadNomoError` rather than silently dropped, so a
MIRP feature table never looks complete when it is not. Filtered images use fixed bin number as
given, or pyradiomics-style fixed bin size (IBSI defines no lower bound for a response map).

Feature names are MIRP's own, IBSI-tag-like names prefixed with ``mirp_`` so they never collide
with pyradiomics' (``mirp_cm_joint_entr_d1_3d_avg_fbs_w25.0``, ``mirp_log_s_2.0_stat_mean``);
:func:`core.imaging.ibsi.mirp_ibsi_tag` turns one back into its IBSI tag.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from core.errors import RadNomoError

__all__ = ["PREFIX", "AGGREGATIONS", "MirpSettings", "mirp_version", "extract_features"]

PREFIX = "mirp_"

# IBSI aggregation names (as in the reference tags) -> MIRP's spatial methods: co-occurrence and run-length
# matrices have six, the zone and neighbourhood families three (2D, 2.5D, 3D).
AGGREGATIONS = ("2D_avg", "2D_comb", "2_5D_avg", "2_5D_comb", "3D_avg", "3D_comb")
_MATRIX_METHOD = {"2D_avg": "2d_average", "2D_comb": "2d_slice_merge", "2_5D_avg": "2.5d_direction_merge",
                  "2_5D_comb": "2.5d_volume_merge", "3D_avg": "3d_average", "3D_comb": "3d_volume_merge"}
_ZONE_METHOD = {"2D": "2d", "2_5D": "2.5d", "3D": "3d"}

_FAMILIES = ("morphology", "local_intensity", "statistics", "intensity_histogram", "intensity_volume_histogram",
             "glcm", "glrlm", "glszm", "gldzm", "ngtdm", "ngldm")
_PYRADIOMICS_FAMILIES = {"shape": ("morphology",), "firstorder": ("statistics", "intensity_histogram"),
                         "glcm": ("glcm",), "glrlm": ("glrlm",), "glszm": ("glszm",), "gldm": ("ngldm",),
                         "ngtdm": ("ngtdm",)}
_SPLINE_ORDER = {"sitkNearestNeighbor": 0, "sitkLinear": 1, "sitkBSpline": 3}
_DISCRETISATIONS = ("fixed_bin_size", "fixed_bin_number", "fixed_bin_size_pyradiomics", "none")
_UNMAPPED_IMAGE_TYPES = ("Square", "SquareRoot", "Logarithm", "Exponential", "Gradient", "LBP2D", "LBP3D")
_WAVELET_SET = ("LLL", "LLH", "LHL", "LHH", "HLL", "HLH", "HHL", "HHH")


@dataclass(frozen=True, slots=True, kw_only=True)
class MirpSettings:
    """IBSI processing and feature settings of one MIRP extraction.

    Attributes
    ----------
    by_slice : bool, default False
        2D (slice-by-slice) processing: in-plane resampling and 2D texture aggregation are possible.
    new_spacing_mm : tuple of floats or None, default None
        Resampled voxel spacing in mm, (x, y, z); (x, y) when ``by_slice``. None: no interpolation.
    spline_order : int, default 1
        Image interpolation: 0 nearest neighbour, 1 (tri)linear, 3 (tri)cubic spline. Masks are always
        interpolated linearly and kept where >= 0.5 (IBSI's partial-volume threshold).
    intensity_range : (float, float) or None, default None
        Range re-segmentation (HU): voxels outside leave the intensity mask (not the morphological one).
    outlier_sigma : float or None, default None
        Outlier re-segmentation: voxels beyond mean +- ``outlier_sigma`` SD leave the intensity mask.
    discretisation : {"fixed_bin_size", "fixed_bin_number", "fixed_bin_size_pyradiomics", "none"}
        Intensity discretisation of histogram and texture features.
    bin_width : float or None, default 25
        Bin width (HU) for the fixed-bin-size methods.
    n_bins : int or None, default None
        Bin count for ``fixed_bin_number``.
    ivh_discretisation : {"none", "fixed_bin_size", "fixed_bin_number"}, default "none"
        Discretisation of the intensity-volume histogram (IBSI prescribes it per configuration).
    ivh_bin_width, ivh_n_bins : float or int or None
        Its bin width (HU) or count.
    families : tuple of str
        MIRP feature families (see ``_FAMILIES``); empty: no features of the unfiltered image.
    texture_aggregation : tuple of str, default ("3D_avg",)
        IBSI aggregation methods among :data:`AGGREGATIONS`; zone and neighbourhood families use the
        dimension part (2D, 2_5D, 3D).
    stat_value_shift : float, default 0
        Added to intensities for energy and RMS (pyradiomics' voxelArrayShift; not IBSI).
    log_sigma_mm : tuple of floats, default ()
        Laplacian-of-Gaussian filters to apply (sigma in mm).
    wavelet : str or None, default None
        Separable wavelet family (e.g. "coif1") for the 8 first-level combinations.
    wavelet_levels : tuple of ints, default (1,)
        Decomposition levels.
    modality : str, default "ct"
        MIRP image modality; CT intensities are rounded to integers after interpolation (IBSI).
    response_families : tuple of str
        Families computed on each filter response map (morphology is the unfiltered mask's).
    """

    by_slice: bool = False
    new_spacing_mm: tuple[float, ...] | None = None
    spline_order: int = 1
    intensity_range: tuple[float, float] | None = None
    outlier_sigma: float | None = None
    discretisation: str = "fixed_bin_size"
    bin_width: float | None = 25.0
    n_bins: int | None = None
    ivh_discretisation: str = "none"
    ivh_bin_width: float | None = None
    ivh_n_bins: int | None = None
    families: tuple[str, ...] = ("morphology", "statistics", "intensity_histogram", "glcm", "glrlm", "glszm",
                                 "ngtdm", "ngldm")
    texture_aggregation: tuple[str, ...] = ("3D_avg",)
    stat_value_shift: float = 0.0
    log_sigma_mm: tuple[float, ...] = ()
    wavelet: str | None = None
    wavelet_levels: tuple[int, ...] = (1,)
    modality: str = "ct"
    response_families: tuple[str, ...] = ("statistics", "intensity_histogram", "glcm", "glrlm", "glszm", "ngtdm",
                                          "ngldm")

    def __post_init__(self) -> None:
        unknown = sorted((set(self.families) | set(self.response_families)) - set(_FAMILIES))
        if unknown:
            raise RadNomoError(f"MIRP feature families {unknown} are unknown; possible: {list(_FAMILIES)}.")
        bad = sorted(set(self.texture_aggregation) - set(AGGREGATIONS))
        if bad or not self.texture_aggregation:
            raise RadNomoError(f"texture aggregation {bad or '()'} is not valid; possible: {list(AGGREGATIONS)}.")
        if self.new_spacing_mm is not None:
            wanted = 2 if self.by_slice else 3
            if len(self.new_spacing_mm) != wanted or min(self.new_spacing_mm) <= 0:
                raise RadNomoError(f"new_spacing_mm = {self.new_spacing_mm} must be {wanted} positive numbers (mm)"
                                   f"{' in-plane (x, y) for slice-by-slice processing' if self.by_slice else ''}.")
        if self.spline_order not in (0, 1, 3):
            raise RadNomoError(f"spline_order {self.spline_order} is not valid; use 0, 1 or 3.")
        if self.discretisation not in _DISCRETISATIONS:
            raise RadNomoError(f"discretisation '{self.discretisation}' is not valid; possible: "
                               f"{list(_DISCRETISATIONS)}.")
        if self.discretisation == "fixed_bin_number" and not (self.n_bins and self.n_bins > 0):
            raise RadNomoError("fixed_bin_number needs n_bins > 0.")
        if self.discretisation.startswith("fixed_bin_size") and not (self.bin_width and self.bin_width > 0):
            raise RadNomoError("fixed bin size needs bin_width > 0 (HU).")
        if self.intensity_range is not None and self.intensity_range[0] >= self.intensity_range[1]:
            raise RadNomoError(f"intensity_range = {self.intensity_range} must be (low, high) with low < high.")
        if self.outlier_sigma is not None and self.outlier_sigma <= 0:
            raise RadNomoError(f"outlier_sigma = {self.outlier_sigma} must be positive.")

    def to_dict(self) -> dict:
        """Plain values (tuples as lists), e.g. for a settings JSON."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_params(cls, params: dict, *, hu_range: tuple[float, float] | None = None) -> MirpSettings:
        """Translate validated pyradiomics parameters into MIRP settings (table in the module docstring).

        Parameters
        ----------
        params : dict
            From :func:`core.imaging.extraction.radiomics.load_params`.
        hu_range : (float, float), optional
            RadNomo's HU clip (:class:`~core.imaging.extraction.preprocess.PreprocessConfig`), used as
            MIRP's re-segmentation range when ``params`` set none: the clipped voxels all lie inside it,
            so it removes none, and it gives IBSI fixed-bin-size bins their lower bound (the clip's low
            end instead of MIRP's CT default of -1000 HU, below which clipped voxels would fall).

        Returns
        -------
        MirpSettings

        Raises
        ------
        RadNomoError
            If the parameters ask for something MIRP cannot do the same way (an image type without a
            MIRP filter, intensity normalisation, relative re-segmentation, an unsupported interpolator).
        """
        setting = params.get("setting") or {}
        image_types = params.get("imageType") or {"Original": {}}
        unmapped = [name for name in image_types if name in _UNMAPPED_IMAGE_TYPES or
                    name not in ("Original", "LoG", "Wavelet")]
        if unmapped:
            raise RadNomoError(f"MIRP has no equivalent of pyradiomics image type(s) {unmapped}; use parameters "
                               "with Original, LoG and Wavelet only (e.g. 'original'), or engine 'pyradiomics'.")
        if setting.get("normalize"):
            raise RadNomoError("intensity normalisation (normalize: true) has no equivalent in RadNomo's MIRP engine; "
                               "set it to false for CT (HU are absolute), or use engine 'pyradiomics'.")
        by_slice = bool(setting.get("force2D", False))
        if by_slice and int(setting.get("force2Ddimension", 0)) != 0:
            raise RadNomoError("MIRP works slice by slice in the axial plane only; use force2Ddimension: 0.")
        spacing = setting.get("resampledPixelSpacing")
        new_spacing = None
        if spacing:
            spacing = [float(s) for s in spacing]
            if by_slice and len(spacing) == 3 and spacing[2] == 0:
                new_spacing = tuple(spacing[:2])
            elif 0 in spacing:
                raise RadNomoError(f"resampledPixelSpacing {spacing} keeps an axis unchanged (0); MIRP needs every "
                                   "spacing, or force2D with 0 for z (in-plane resampling).")
            else:
                new_spacing = tuple(spacing[:2]) if by_slice else tuple(spacing)
        interpolator = setting.get("interpolator", "sitkBSpline")
        if isinstance(interpolator, int):
            interpolator = {sitk.sitkNearestNeighbor: "sitkNearestNeighbor", sitk.sitkLinear: "sitkLinear",
                            sitk.sitkBSpline: "sitkBSpline"}.get(interpolator, str(interpolator))
        if new_spacing is not None and interpolator not in _SPLINE_ORDER:
            raise RadNomoError(f"interpolator {interpolator} has no MIRP equivalent; "
                               f"use one of {sorted(_SPLINE_ORDER)}.")
        intensity_range, sigma = None, None
        reseg = setting.get("resegmentRange")
        if reseg:
            mode = setting.get("resegmentMode", "absolute")
            low, high = (float(reseg[0]), float(reseg[1])) if len(reseg) > 1 else (float(reseg[0]), float("inf"))
            if mode == "absolute":
                intensity_range = (low, high)
            elif mode == "sigma" and low == -high:
                sigma = high
            else:
                raise RadNomoError(f"resegmentMode '{mode}' with range {list(reseg)} has no MIRP equivalent; use "
                                   "absolute, or sigma with a symmetric range [-k, k].")
        if intensity_range is None and hu_range is not None:
            intensity_range = (float(hu_range[0]), float(hu_range[1]))
        if "binCount" in setting:
            discretisation, width, count = "fixed_bin_number", None, int(setting["binCount"])
        else:
            discretisation, width, count = "fixed_bin_size", float(setting.get("binWidth", 25)), None
        families: list[str] = []
        for name in (params.get("featureClass") or _PYRADIOMICS_FAMILIES):
            families.extend(_PYRADIOMICS_FAMILIES.get(name, ()))
        families = list(dict.fromkeys(families))
        log_sigma = tuple(float(s) for s in (image_types.get("LoG") or {}).get("sigma", ()))
        wavelet, levels = None, (1,)
        if "Wavelet" in image_types:
            wavelet_settings = image_types.get("Wavelet") or {}
            wavelet = str(wavelet_settings.get("wavelet", setting.get("wavelet", "coif1")))
            start = int(wavelet_settings.get("start_level", setting.get("start_level", 0)))
            count_levels = int(wavelet_settings.get("level", setting.get("level", 1)))
            levels = tuple(range(start + 1, start + count_levels + 1))
        return cls(by_slice=by_slice, new_spacing_mm=new_spacing, spline_order=_SPLINE_ORDER.get(interpolator, 3),
                   intensity_range=intensity_range, outlier_sigma=sigma, discretisation=discretisation,
                   bin_width=width, n_bins=count,
                   # Without Original, pyradiomics computes no feature of the unfiltered image (shape included).
                   families=tuple(families) if "Original" in image_types else (),
                   response_families=tuple(f for f in families if f != "morphology"),
                   texture_aggregation=("2_5D_avg",) if by_slice else ("3D_avg",),
                   stat_value_shift=float(setting.get("voxelArrayShift", 0)), log_sigma_mm=log_sigma,
                   wavelet=wavelet, wavelet_levels=levels)

    def mirp_arguments(self) -> dict:
        """Keyword arguments of :func:`mirp.extract_features` for these settings."""
        matrix = [_MATRIX_METHOD[a] for a in self.texture_aggregation]
        zone = list(dict.fromkeys(_ZONE_METHOD[a.rsplit("_", 1)[0]] for a in self.texture_aggregation))
        arguments: dict = {
            "image_modality": self.modality, "by_slice": self.by_slice,
            # IBSI 1 interpolates without anti-aliasing (MIRP's default smooths before down-sampling).
            "anti_aliasing": False, "spline_order": self.spline_order,
            "base_feature_families": list(self.families) or "none",
            "base_discretisation_method": self.discretisation, "stat_value_shift": float(self.stat_value_shift),
            "ivh_discretisation_method": self.ivh_discretisation,
            "glcm_spatial_method": matrix, "glrlm_spatial_method": matrix, "glszm_spatial_method": zone,
            "gldzm_spatial_method": zone, "ngtdm_spatial_method": zone, "ngldm_spatial_method": zone,
        }
        if self.new_spacing_mm is not None:
            # MIRP takes spacing as (z, y, x); in-plane spacing for slices as (y, x).
            arguments["new_spacing"] = [float(s) for s in reversed(self.new_spacing_mm)]
        if self.intensity_range is not None:
            arguments["resegmentation_intensity_range"] = [float(v) for v in self.intensity_range]
        if self.outlier_sigma is not None:
            arguments["resegmentation_sigma"] = float(self.outlier_sigma)
        if self.discretisation == "fixed_bin_number":
            arguments["base_discretisation_n_bins"] = int(self.n_bins)
        elif self.discretisation != "none":
            arguments["base_discretisation_bin_width"] = float(self.bin_width)
        if self.ivh_discretisation == "fixed_bin_number":
            arguments["ivh_discretisation_n_bins"] = int(self.ivh_n_bins or 1000)
        elif self.ivh_discretisation == "fixed_bin_size":
            arguments["ivh_discretisation_bin_width"] = float(self.ivh_bin_width or 1.0)
        kernels = []
        if self.log_sigma_mm:
            kernels.append("laplacian_of_gaussian")
            arguments["laplacian_of_gaussian_sigma"] = [float(s) for s in self.log_sigma_mm]
        if self.wavelet:
            kernels.append("separable_wavelet")
            arguments.update(separable_wavelet_families=self.wavelet, separable_wavelet_set=list(_WAVELET_SET),
                             separable_wavelet_rotation_invariance=False,
                             separable_wavelet_decomposition_level=list(self.wavelet_levels))
        if kernels:
            arguments["filter_kernels"] = kernels
            arguments["response_map_feature_families"] = list(self.response_families) or "none"
            if self.discretisation == "fixed_bin_number":
                arguments.update(response_map_discretisation_method="fixed_bin_number",
                                 response_map_discretisation_n_bins=int(self.n_bins))
            else:
                # A response map has no natural lower bound for IBSI's fixed bin size: bins start at its minimum.
                arguments.update(response_map_discretisation_method="fixed_bin_size_pyradiomics",
                                 response_map_discretisation_bin_width=float(self.bin_width or 25.0))
        return arguments


def mirp_version() -> str:
    """The installed MIRP version (part of the feature-store key of MIRP settings)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mirp")
    except PackageNotFoundError:
        return "not installed"


@contextmanager
def _quiet_mirp() -> Iterator[None]:
    """Keep MIRP's INFO chatter off stdout for one call, then leave logging as it was.

    MIRP calls ``logging.basicConfig(level=INFO, stream=sys.stdout)`` and logs every step at INFO on
    the root logger; that would interleave with our progress output. INFO is disabled only for the
    duration of the call, and any handler MIRP attached to the root logger is removed afterwards.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(previous)
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)


@contextmanager
def _case_folder(image: sitk.Image, mask: sitk.Image) -> Iterator[Path]:
    """A temporary folder for one case whose path depends only on the case's voxels and geometry.

    MIRP seeds its Monte Carlo estimate of Moran's I and Geary's C (ROIs over 1,000 voxels) from a
    hash of the voxels and of the image's attributes, its sample name and folder included; a random
    temporary folder would make those two features change from run to run. The folder is claimed
    with an atomic ``mkdir``; if another process holds the same case right now (or a crashed run
    left it behind recently), a random folder is used instead, so only that estimate loses its
    reproducibility, never correctness. The folder is removed afterwards.
    """
    import hashlib
    import os
    import shutil

    digest = hashlib.sha256()
    for item in (image, mask):
        digest.update(sitk.GetArrayViewFromImage(item).tobytes())
        digest.update(repr((item.GetSpacing(), item.GetOrigin(), item.GetDirection())).encode())
    base = Path(tempfile.gettempdir()) / "radnomo_mirp"
    base.mkdir(exist_ok=True)
    folder = base / digest.hexdigest()[:32]
    try:
        if folder.exists() and time.time() - folder.stat().st_mtime > 3600:
            shutil.rmtree(folder, ignore_errors=True)  # left by a crashed run an hour ago or more
        os.mkdir(folder)
    except OSError:
        folder = Path(tempfile.mkdtemp(prefix="case_", dir=base))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def extract_features(image: sitk.Image, mask: sitk.Image, settings: MirpSettings) -> dict[str, float]:
    """Extract MIRP features of one case.

    Parameters
    ----------
    image : SimpleITK.Image
        3D image (HU for CT), e.g. from :func:`core.imaging.extraction.readers.read_case`, possibly
        pre-processed by RadNomo.
    mask : SimpleITK.Image
        Binary ROI mask on the image's grid (uint8, 1 = ROI).
    settings : MirpSettings

    Returns
    -------
    dict
        ``mirp_<MIRP feature name>`` -> value (float; NaN where MIRP could not compute a feature).
        MIRP's metadata columns (file names, voxel size, settings id) are left out.

    Raises
    ------
    RadNomoError
        If MIRP is not installed, the grids differ, or MIRP refuses the case.
    """
    try:
        from mirp import extract_features as mirp_extract
    except ImportError as error:
        raise RadNomoError("the MIRP engine needs the 'mirp' package (pip install -r requirements.txt).") from error
    if image.GetSize() != mask.GetSize() or not np.allclose(image.GetSpacing(), mask.GetSpacing()):
        raise RadNomoError("image and mask must be on the same grid for MIRP; read them with read_case.")
    if not sitk.GetArrayViewFromImage(mask).any():
        raise RadNomoError("the mask is empty; MIRP has no region to extract features from.")
    binary = sitk.Cast(mask > 0, sitk.sitkUInt8)
    binary.CopyInformation(image)
    with _case_folder(image, binary) as folder:
        # Uncompressed NIfTI: writing and reading are fast, and the geometry travels with the voxels.
        image_path, mask_path = folder / "image.nii", folder / "mask.nii"
        sitk.WriteImage(image, str(image_path), useCompression=False)
        sitk.WriteImage(binary, str(mask_path), useCompression=False)
        try:
            with _quiet_mirp():
                tables = mirp_extract(image=str(image_path), mask=str(mask_path), sample_name="case",
                                      export_features=True, write_features=False, **settings.mirp_arguments())
        except (ValueError, RuntimeError, IndexError, KeyError, TypeError) as error:
            raise RadNomoError(f"MIRP could not extract this case: {error}") from error
    if not tables:
        raise RadNomoError("MIRP returned no features for this case (is the ROI empty after re-segmentation?).")
    row = tables[0].iloc[0]
    features: dict[str, float] = {}
    for name, value in row.items():
        if name == "sample_name" or str(name).startswith("image_"):
            continue  # MIRP's metadata, not features
        try:
            features[PREFIX + str(name)] = float(value)
        except (TypeError, ValueError):
            features[PREFIX + str(name)] = float("nan")
    return features
