"""IBSI tags for RadNomo's features, and a measured IBSI compliance table of both engines.

The shipped table ``core/imaging/ibsi_compliance.csv`` is generated, not written by hand, with

    python -m core.cli.ibsi --out core/imaging

(from the repository root; it reads ``../shared/data`` and takes about 2 minutes on 2 cores. It also
writes ``ibsi_summary.csv`` beside the table; that file is not shipped, ``summarise(load_compliance())``
gives the same counts.)

Tags
----
:data:`PYRADIOMICS_IBSI` maps every pyradiomics feature (class -> feature -> IBSI tag) to the tag of the
Image Biomarker Standardisation Initiative's reference manual (Zwanenburg et al., IBSI chapter 1,
arXiv:1612.07003, and the feature pages of https://ibsi.readthedocs.io), or to None where the IBSI
defines no such feature. It is written by hand because no library ships it; each row follows the
definitions in pyradiomics' documentation (https://pyradiomics.readthedocs.io, "Radiomic Features",
whose notes name the IBSI counterpart of several features) checked against the manual's formulas.
Texture tags carry the aggregation pyradiomics uses: co-occurrence and run-length features are
computed per direction and averaged (``_3D_avg``; with ``weightingNorm`` the direction matrices are
merged first, ``_3D_comb``); zone, dependence and neighbourhood features come from one matrix over the
volume (``_3D``). With ``force2D`` the matrices use in-plane directions over all slices, which is the
IBSI's 2.5D aggregation (``_2_5D_avg`` / ``_2_5D_comb`` / ``_2_5D``). Notes of the table:

- pyradiomics' ``Kurtosis`` is the plain fourth standardised moment; IBSI ``stat_kurt`` is the excess
  kurtosis (3 less). The tag is the same feature concept, and the compliance table shows the offset.
- ``Entropy`` and ``Uniformity`` of pyradiomics' first order use the discretised intensities, so they
  are the IBSI intensity-histogram features (``ih_entropy``, ``ih_uniformity``).
- ``Energy`` and ``RootMeanSquared`` add ``voxelArrayShift`` to the intensities (IBSI: no shift).
- pyradiomics' GLDM is the IBSI neighbouring grey level dependence matrix (NGLDM, ``ngl_``) with
  coarseness parameter ``gldm_a`` = alpha and distance 1; its "small/large dependence" emphases are the
  IBSI's "low/high dependence" ones.
- Deprecated pyradiomics features that equal another (Dissimilarity = DifferenceAverage,
  SumVariance = ClusterTendency, Homogeneity1 = Id, Homogeneity2 = Idm) carry the IBSI tag of the
  feature they are named after in the IBSI (cm_dissimilarity, cm_sum_var, cm_inv_diff, cm_inv_diff_mom).
- No IBSI tag: shape's Maximum2DDiameter{Slice,Column,Row}, first order's TotalEnergy and
  StandardDeviation, GLCM's MCC, GLDM's DependencePercentage, and the shape2D class.

Compliance
----------
:func:`compliance_table` runs the IBSI digital phantom and the CT radiomics phantom under the five CT
configurations A-E through one engine with the settings each configuration prescribes as far as the
engine allows (:data:`NOT_MATCHED` lists what could not be matched), and compares every IBSI feature
with the consensus reference: ``agrees`` when the value, or the value rounded to 3 significant digits
(the precision of the published reference values), lies within the tolerance; ``differs`` otherwise;
``not computed`` when the engine gives no value for that tag. Image-processing checks of the reference
files (``img_dim_*``, ``int_mask_*``, ...) are not features and are left out.
"""

from __future__ import annotations

import functools
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.errors import RadNomoError
from core.vocabulary import EXTRACTION_ENGINES

__all__ = ["shipped_compliance", "PYRADIOMICS_IBSI", "CONFIGURATIONS", "ENGINES", "STATUSES", "NOT_MATCHED",
           "SHIPPED_COMPLIANCE", "ibsi_tag", "mirp_ibsi_tag", "read_reference", "within_tolerance", "engine_values",
           "compliance_table", "full_compliance", "summarise", "load_compliance", "IbsiConfiguration",
           "FEATURE_STATUSES", "configuration_for", "feature_compliance", "compliance_counts", "compliance_sentence"]

SHIPPED_COMPLIANCE = Path(__file__).resolve().parent / "ibsi_compliance.csv"
ENGINES = tuple(EXTRACTION_ENGINES)
STATUSES = ("agrees", "differs", "not computed")
COLUMNS = ["engine", "configuration", "tag", "reference", "tolerance", "value", "status", "pyradiomics_feature",
           "engine_feature"]

# ---------------------------------------------------------------------------------------------
# pyradiomics feature -> IBSI tag (without the aggregation suffix)
# ---------------------------------------------------------------------------------------------

PYRADIOMICS_IBSI: dict[str, dict[str, str | None]] = {
    "shape": {
        "MeshVolume": "morph_volume", "VoxelVolume": "morph_vol_approx", "SurfaceArea": "morph_area_mesh",
        "SurfaceVolumeRatio": "morph_av", "Compactness1": "morph_comp_1", "Compactness2": "morph_comp_2",
        "SphericalDisproportion": "morph_sph_dispr", "Sphericity": "morph_sphericity",
        "Maximum3DDiameter": "morph_diam", "MajorAxisLength": "morph_pca_maj_axis",
        "MinorAxisLength": "morph_pca_min_axis", "LeastAxisLength": "morph_pca_least_axis",
        "Elongation": "morph_pca_elongation", "Flatness": "morph_pca_flatness",
        "Maximum2DDiameterSlice": None, "Maximum2DDiameterColumn": None, "Maximum2DDiameterRow": None,
    },
    "firstorder": {
        "Mean": "stat_mean", "Variance": "stat_var", "Skewness": "stat_skew", "Kurtosis": "stat_kurt",
        "Median": "stat_median", "Minimum": "stat_min", "10Percentile": "stat_p10", "90Percentile": "stat_p90",
        "Maximum": "stat_max", "InterquartileRange": "stat_iqr", "Range": "stat_range",
        "MeanAbsoluteDeviation": "stat_mad", "RobustMeanAbsoluteDeviation": "stat_rmad",
        "Energy": "stat_energy", "RootMeanSquared": "stat_rms", "Entropy": "ih_entropy",
        "Uniformity": "ih_uniformity", "TotalEnergy": None, "StandardDeviation": None,
    },
    "glcm": {
        "MaximumProbability": "cm_joint_max", "JointAverage": "cm_joint_avg", "SumSquares": "cm_joint_var",
        "JointEntropy": "cm_joint_entr", "DifferenceAverage": "cm_diff_avg", "DifferenceVariance": "cm_diff_var",
        "DifferenceEntropy": "cm_diff_entr", "SumAverage": "cm_sum_avg", "SumEntropy": "cm_sum_entr",
        "JointEnergy": "cm_energy", "Contrast": "cm_contrast", "Id": "cm_inv_diff", "Idn": "cm_inv_diff_norm",
        "Idm": "cm_inv_diff_mom", "Idmn": "cm_inv_diff_mom_norm", "InverseVariance": "cm_inv_var",
        "Correlation": "cm_corr", "Autocorrelation": "cm_auto_corr", "ClusterTendency": "cm_clust_tend",
        "ClusterShade": "cm_clust_shade", "ClusterProminence": "cm_clust_prom", "Imc1": "cm_info_corr1",
        "Imc2": "cm_info_corr2", "MCC": None,
        # Deprecated in pyradiomics (equal to another feature); the IBSI keeps these names.
        "Dissimilarity": "cm_dissimilarity", "SumVariance": "cm_sum_var", "Homogeneity1": "cm_inv_diff",
        "Homogeneity2": "cm_inv_diff_mom",
    },
    "glrlm": {
        "ShortRunEmphasis": "rlm_sre", "LongRunEmphasis": "rlm_lre", "LowGrayLevelRunEmphasis": "rlm_lgre",
        "HighGrayLevelRunEmphasis": "rlm_hgre", "ShortRunLowGrayLevelEmphasis": "rlm_srlge",
        "ShortRunHighGrayLevelEmphasis": "rlm_srhge", "LongRunLowGrayLevelEmphasis": "rlm_lrlge",
        "LongRunHighGrayLevelEmphasis": "rlm_lrhge", "GrayLevelNonUniformity": "rlm_glnu",
        "GrayLevelNonUniformityNormalized": "rlm_glnu_norm", "RunLengthNonUniformity": "rlm_rlnu",
        "RunLengthNonUniformityNormalized": "rlm_rlnu_norm", "RunPercentage": "rlm_r_perc",
        "GrayLevelVariance": "rlm_gl_var", "RunVariance": "rlm_rl_var", "RunEntropy": "rlm_rl_entr",
    },
    "glszm": {
        "SmallAreaEmphasis": "szm_sze", "LargeAreaEmphasis": "szm_lze", "LowGrayLevelZoneEmphasis": "szm_lgze",
        "HighGrayLevelZoneEmphasis": "szm_hgze", "SmallAreaLowGrayLevelEmphasis": "szm_szlge",
        "SmallAreaHighGrayLevelEmphasis": "szm_szhge", "LargeAreaLowGrayLevelEmphasis": "szm_lzlge",
        "LargeAreaHighGrayLevelEmphasis": "szm_lzhge", "GrayLevelNonUniformity": "szm_glnu",
        "GrayLevelNonUniformityNormalized": "szm_glnu_norm", "SizeZoneNonUniformity": "szm_zsnu",
        "SizeZoneNonUniformityNormalized": "szm_zsnu_norm", "ZonePercentage": "szm_z_perc",
        "GrayLevelVariance": "szm_gl_var", "ZoneVariance": "szm_zs_var", "ZoneEntropy": "szm_zs_entr",
    },
    "gldm": {
        "SmallDependenceEmphasis": "ngl_lde", "LargeDependenceEmphasis": "ngl_hde",
        "LowGrayLevelEmphasis": "ngl_lgce", "HighGrayLevelEmphasis": "ngl_hgce",
        "SmallDependenceLowGrayLevelEmphasis": "ngl_ldlge", "SmallDependenceHighGrayLevelEmphasis": "ngl_ldhge",
        "LargeDependenceLowGrayLevelEmphasis": "ngl_hdlge", "LargeDependenceHighGrayLevelEmphasis": "ngl_hdhge",
        "GrayLevelNonUniformity": "ngl_glnu", "GrayLevelNonUniformityNormalized": "ngl_glnu_norm",
        "DependenceNonUniformity": "ngl_dcnu", "DependenceNonUniformityNormalized": "ngl_dcnu_norm",
        "GrayLevelVariance": "ngl_gl_var", "DependenceVariance": "ngl_dc_var", "DependenceEntropy": "ngl_dc_entr",
        "DependencePercentage": None,
    },
    "ngtdm": {
        "Coarseness": "ngt_coarseness", "Contrast": "ngt_contrast", "Busyness": "ngt_busyness",
        "Complexity": "ngt_complexity", "Strength": "ngt_strength",
    },
    "shape2D": {name: None for name in ("Elongation", "MajorAxisLength", "MaximumDiameter", "MeshSurface",
                                        "MinorAxisLength", "Perimeter", "PerimeterSurfaceRatio", "PixelSurface",
                                        "SphericalDisproportion", "Sphericity")},
}

_AVERAGED = ("glcm", "glrlm")              # features per direction, averaged (or merged with weightingNorm)
_WHOLE_MATRIX = ("glszm", "gldm", "ngtdm")  # one matrix over the ROI


def ibsi_tag(feature_name: str, *, force2d: bool = False, merged: bool = False) -> str | None:
    """The IBSI tag of a RadNomo feature name, or None where the IBSI defines no such feature.

    Parameters
    ----------
    feature_name : str
        ``<image type>_<class>_<feature>`` as pyradiomics names it (``original_glcm_JointEntropy``,
        ``wavelet-LLH_glrlm_RunEntropy``, ``log-sigma-2-0-mm-3D_firstorder_Mean``), ``<class>_<feature>``,
        or a MIRP engine name (``mirp_...``, see :func:`mirp_ibsi_tag`).
    force2d : bool, default False
        The features were computed with pyradiomics' ``force2D`` (in-plane directions over all slices:
        IBSI 2.5D aggregation) instead of in 3D.
    merged : bool, default False
        GLCM / GLRLM matrices were merged over directions before computing features (pyradiomics'
        ``weightingNorm``) instead of features averaged over directions.

    Returns
    -------
    str or None
        E.g. ``cm_joint_entr_3D_avg``, ``rlm_rl_entr_3D_avg``, ``stat_mean``, ``szm_sze_3D``.
        Filters do not change the tag: the IBSI tag names the feature, and a filtered image's feature
        is the same feature computed on the filter's response map (``wavelet-LLH_glrlm_RunEntropy`` and
        ``original_glrlm_RunEntropy`` both give ``rlm_rl_entr_3D_avg``); the image type stays in the
        RadNomo name.

    Raises
    ------
    RadNomoError
        If the name is not of the form above or names an unknown pyradiomics class or feature.
    """
    if feature_name.startswith("mirp_"):
        return mirp_ibsi_tag(feature_name)
    parts = feature_name.rsplit("_", 2)
    if len(parts) == 3:
        _, feature_class, feature = parts
    elif len(parts) == 2:
        feature_class, feature = parts
    else:
        raise RadNomoError(f"'{feature_name}' is not a feature name of the form <image type>_<class>_<feature>.")
    if feature_class not in PYRADIOMICS_IBSI:
        raise RadNomoError(f"'{feature_name}': '{feature_class}' is not a pyradiomics feature class; known: "
                           f"{sorted(PYRADIOMICS_IBSI)}.")
    table = PYRADIOMICS_IBSI[feature_class]
    if feature not in table:
        raise RadNomoError(f"'{feature_name}': pyradiomics' {feature_class} has no feature '{feature}'.")
    tag = table[feature]
    if tag is None:
        return None
    dimension = "2_5D" if force2d else "3D"
    if feature_class in _AVERAGED:
        return f"{tag}_{dimension}_{'comb' if merged else 'avg'}"
    if feature_class in _WHOLE_MATRIX:
        return f"{tag}_{dimension}"
    return tag


_MIRP_FAMILY = re.compile(r"(?:^|_)((?:morph|loc|stat|ih|ivh|cm|rlm|szm|dzm|ngt|ngl)_.+)$")
_MIRP_DISCRETISATION = re.compile(r"_fb[a-z]*_[wn][0-9.]+$")
_MIRP_AGGREGATION = (("_2d_avg", "_2D_avg"), ("_2d_s_mrg", "_2D_comb"), ("_2.5d_d_mrg", "_2_5D_avg"),
                     ("_2.5d_v_mrg", "_2_5D_comb"), ("_3d_avg", "_3D_avg"), ("_3d_v_mrg", "_3D_comb"),
                     ("_2d", "_2D"), ("_2.5d", "_2_5D"), ("_3d", "_3D"))


def mirp_ibsi_tag(feature_name: str) -> str | None:
    """The IBSI tag of a MIRP feature name (with or without RadNomo's ``mirp_`` prefix).

    MIRP names are the IBSI tags plus parameters: an optional filter prefix (``log_s_2.0_``), the
    distance (``_d1``) and NGLDM coarseness (``_a0.0``), MIRP's aggregation spelling
    (``_3d_v_mrg`` = ``_3D_comb``, ``_2.5d_d_mrg`` = ``_2_5D_avg``, ``_2d_s_mrg`` = ``_2D_comb``) and
    the discretisation (``_fbs_w25.0``, ``_fbn_n32``). As for :func:`ibsi_tag`, a filter does not
    change the tag.

    Parameters
    ----------
    feature_name : str
        E.g. ``mirp_cm_joint_entr_d1_3d_avg_fbs_w25.0``.

    Returns
    -------
    str or None
        E.g. ``cm_joint_entr_3D_avg``; None when the name has no IBSI family prefix.
    """
    name = feature_name.removeprefix("mirp_")
    match = _MIRP_FAMILY.search(name)
    if match is None:
        return None
    tag = _MIRP_DISCRETISATION.sub("", match.group(1))
    tag = re.sub(r"_d[0-9.]+_a[0-9.]+(?=_)", "", tag) if tag.startswith("ngl_") else tag
    tag = re.sub(r"_d[0-9.]+(?=_)", "", tag) if tag.startswith("cm_") else tag
    for mirp, ibsi in _MIRP_AGGREGATION:
        if tag.endswith(mirp):
            return tag[: -len(mirp)] + ibsi
    return tag


# ---------------------------------------------------------------------------------------------
# IBSI configurations
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class IbsiConfiguration:
    """One IBSI chapter 1 test configuration (reference manual, "Reference data sets").

    Attributes
    ----------
    name : str
        "digital_phantom" or "A".."E".
    reference_file : str
        The reference CSV in the data folder's ``ibsi_reference``.
    phantom : {"digital", "ct"}
    by_slice : bool
        2D (slice-by-slice) configuration (A, B).
    spacing_mm : tuple of floats or None
        Interpolated voxel spacing (x, y, z); (x, y) in-plane for 2D; None: no interpolation.
    spline_order : int
        1 (bi/trilinear) or 3 (tricubic).
    intensity_range : (float, float) or None
        Range re-segmentation (HU).
    outlier_sigma : float or None
        Outlier re-segmentation (mean +- k SD).
    discretisation : str
        "none", "fixed_bin_size" or "fixed_bin_number".
    bin_width, n_bins : float, int or None
    ivh_discretisation, ivh_bin_width, ivh_n_bins
        Intensity-volume histogram discretisation.
    """

    name: str
    reference_file: str
    phantom: str
    by_slice: bool = False
    spacing_mm: tuple[float, ...] | None = None
    spline_order: int = 1
    intensity_range: tuple[float, float] | None = None
    outlier_sigma: float | None = None
    discretisation: str = "none"
    bin_width: float | None = None
    n_bins: int | None = None
    ivh_discretisation: str = "none"
    ivh_bin_width: float | None = None
    ivh_n_bins: int | None = None


CONFIGURATIONS: dict[str, IbsiConfiguration] = {
    "digital_phantom": IbsiConfiguration(name="digital_phantom", reference_file="ibsi_1_dig_phantom.csv",
                                         phantom="digital"),
    "A": IbsiConfiguration(name="A", reference_file="ibsi_1_chest_config_a.csv", phantom="ct", by_slice=True,
                           intensity_range=(-500.0, 400.0), discretisation="fixed_bin_size", bin_width=25.0),
    "B": IbsiConfiguration(name="B", reference_file="ibsi_1_chest_config_b.csv", phantom="ct", by_slice=True,
                           spacing_mm=(2.0, 2.0), spline_order=1, intensity_range=(-500.0, 400.0),
                           discretisation="fixed_bin_number", n_bins=32),
    "C": IbsiConfiguration(name="C", reference_file="ibsi_1_chest_config_c.csv", phantom="ct",
                           spacing_mm=(2.0, 2.0, 2.0), spline_order=1, intensity_range=(-1000.0, 400.0),
                           discretisation="fixed_bin_size", bin_width=25.0, ivh_discretisation="fixed_bin_size",
                           ivh_bin_width=2.5),
    "D": IbsiConfiguration(name="D", reference_file="ibsi_1_chest_config_d.csv", phantom="ct",
                           spacing_mm=(2.0, 2.0, 2.0), spline_order=1, outlier_sigma=3.0,
                           discretisation="fixed_bin_number", n_bins=32),
    "E": IbsiConfiguration(name="E", reference_file="ibsi_1_chest_config_e.csv", phantom="ct",
                           spacing_mm=(2.0, 2.0, 2.0), spline_order=3, intensity_range=(-1000.0, 400.0),
                           outlier_sigma=3.0, discretisation="fixed_bin_number", n_bins=32,
                           ivh_discretisation="fixed_bin_number", ivh_n_bins=1000),
}

_PYRADIOMICS_EVERYWHERE = (
    ("no intensity-volume histogram (ivh_*), local intensity peaks (loc_*), GLDZM (dzm_*), intensity-histogram "
     "features other than entropy and uniformity, Moran's I, Geary's C, integrated intensity, centre-of-mass "
     "shift, asphericity or volume/area densities"),
    "first-order Kurtosis is not the excess kurtosis (IBSI stat_kurt + 3)",
    "GLDM: no normalised grey level non-uniformity (deprecated, raises)")
_PYRADIOMICS_INTERPOLATION = (
    "grid not centred on the original (pyradiomics keeps the origin corner)",
    "mask interpolated by nearest neighbour instead of linear interpolation with a 0.5 partial-volume threshold",
    "interpolated CT intensities are not rounded to integers")
_PYRADIOMICS_FBS = (("fixed bin size: bins start at a multiple of the width below the ROI minimum, not at the "
                     "re-segmentation lower bound"),)
_PYRADIOMICS_2D = ("no 2D (per-slice) texture aggregation: force2D gives the 2.5D tags only",)
_MIRP_EVERYWHERE = (("no oriented-minimum-bounding-box or minimum-volume-enclosing-ellipsoid densities (MIRP "
                     "does not compute them; the reference files give them no value either, so they are not rows)"),)
_MIRP_MORAN = (("Moran's I and Geary's C are estimated by MIRP's Monte Carlo sampling for ROIs over 1,000 voxels "
                "(the exact sum is quadratic in the voxel count)"),)

#: What each engine could not match, per configuration (beyond which the table's statuses speak).
NOT_MATCHED: dict[str, dict[str, tuple[str, ...]]] = {
    "pyradiomics": {
        "digital_phantom": _PYRADIOMICS_EVERYWHERE + _PYRADIOMICS_2D,
        "A": _PYRADIOMICS_EVERYWHERE + _PYRADIOMICS_2D + _PYRADIOMICS_FBS,
        "B": _PYRADIOMICS_EVERYWHERE + _PYRADIOMICS_2D + _PYRADIOMICS_INTERPOLATION
        + ("(matched: in-plane interpolation as resampledPixelSpacing [2, 2, 0] with force2D)",),
        "C": _PYRADIOMICS_EVERYWHERE + _PYRADIOMICS_INTERPOLATION + _PYRADIOMICS_FBS,
        "D": _PYRADIOMICS_EVERYWHERE + _PYRADIOMICS_INTERPOLATION
        + ("(matched: outlier re-segmentation as resegmentMode sigma, resegmentRange [-3, 3])",),
        "E": _PYRADIOMICS_EVERYWHERE + _PYRADIOMICS_INTERPOLATION
        + ("one re-segmentation only: the range [-1000, 400] HU is applied, the outlier filter is not",
           "tricubic interpolation as SimpleITK's cubic B-spline (sitkBSpline) on pyradiomics' grid"),
    },
    "mirp": {name: _MIRP_EVERYWHERE + (_MIRP_MORAN if name != "digital_phantom" else ()) for name in CONFIGURATIONS},
}

_DIAGNOSTIC_TAG = re.compile(r"_(?:init|interp|reseg)_(?:img|roi)$")


def read_reference(configuration: str, data_dir: str | Path) -> pd.DataFrame:
    """The IBSI reference values of one configuration (features only).

    Parameters
    ----------
    configuration : str
        A key of :data:`CONFIGURATIONS`.
    data_dir : path
        The folder holding ``ibsi_reference/`` (the shared data folder).

    Returns
    -------
    pandas.DataFrame
        Columns ``tag``, ``reference``, ``tolerance`` in file order; image-processing checks
        (``*_init_img``, ``*_interp_roi``, ...) and tags without a reference value (``ivh_auc``) are
        left out.

    Raises
    ------
    RadNomoError
        If the configuration is unknown or the file is missing.
    """
    config = _configuration(configuration)
    path = Path(data_dir) / "ibsi_reference" / config.reference_file
    if not path.is_file():
        raise RadNomoError(f"IBSI reference file '{path}' does not exist; point --data at the shared data folder.")
    table = pd.read_csv(path, sep=";")
    table.columns = ["reference", "tolerance", "tag"]
    # Image-processing checks are not features; a tag without a reference value (ivh_auc) cannot be judged.
    table = table[~table["tag"].str.contains(_DIAGNOSTIC_TAG) & table["reference"].notna()]
    return table[["tag", "reference", "tolerance"]].reset_index(drop=True)


def within_tolerance(value: float, reference: float, tolerance: float) -> bool:
    """IBSI agreement: |value - reference| <= tolerance, the value also taken at 3 significant digits.

    Reference values are published to 3 significant digits (tolerance 0 for the digital phantom), so
    a value is compared both as is and rounded to that precision, as the IBSI and MIRP's own tests do.
    """
    if value is None or not math.isfinite(value):
        return False
    slack = 1e-9 * max(abs(reference), 1e-12)  # float noise of the rounding only
    if abs(value - reference) <= tolerance + slack:
        return True
    rounded = float(f"{value:.3g}")
    return abs(rounded - reference) <= tolerance + slack


def _configuration(name: str) -> IbsiConfiguration:
    if name not in CONFIGURATIONS:
        raise RadNomoError(f"IBSI configuration '{name}' is not known; possible: {list(CONFIGURATIONS)}.")
    return CONFIGURATIONS[name]


def _read_phantom(config: IbsiConfiguration, data_dir: Path):
    from core.imaging.extraction.readers import read_case

    folder = data_dir / ("ibsi_digital_phantom" if config.phantom == "digital" else "ibsi_ct_phantom/nifti")
    image, mask = folder / "image.nii.gz", folder / "mask.nii.gz"
    if not image.is_file() or not mask.is_file():
        raise RadNomoError(f"the IBSI phantom is not in '{folder}' (image.nii.gz, mask.nii.gz); point --data at the "
                           "shared data folder.")
    # Our readers, so the phantom passes the same file checks as a patient's files.
    case = read_case(image, mask, label=1)
    return case.image, case.mask


def _pyradiomics_params(config: IbsiConfiguration, *, force2d: bool, merged: bool) -> dict:
    """pyradiomics parameters for a configuration (see :data:`NOT_MATCHED` for what cannot follow)."""
    classes = {name: [f for f, tag in table.items() if tag is not None and
                      f not in ("Dissimilarity", "SumVariance", "Homogeneity1", "Homogeneity2",
                                "GrayLevelNonUniformityNormalized" if name == "gldm" else "")]
               for name, table in PYRADIOMICS_IBSI.items() if name != "shape2D"}
    setting: dict = {"label": 1, "voxelArrayShift": 0, "normalize": False, "force2D": force2d,
                     "force2Ddimension": 0, "minimumROIDimensions": 1, "correctMask": True}
    if merged:
        # Direction matrices summed before the features: the IBSI's merged ("comb") aggregation.
        setting["weightingNorm"] = "no_weighting"
    if config.discretisation == "fixed_bin_number":
        setting["binCount"] = int(config.n_bins)
    else:
        # The digital phantom's grey levels are the integers 1-6: width 1 from 1 is no discretisation.
        setting["binWidth"] = float(config.bin_width or 1.0)
    if config.spacing_mm is not None:
        setting["resampledPixelSpacing"] = [*map(float, config.spacing_mm), 0.0][:3]
        setting["interpolator"] = "sitkBSpline" if config.spline_order == 3 else "sitkLinear"
    if config.intensity_range is not None:
        setting.update(resegmentRange=list(config.intensity_range), resegmentMode="absolute")
    elif config.outlier_sigma is not None:
        setting.update(resegmentRange=[-config.outlier_sigma, config.outlier_sigma], resegmentMode="sigma")
    return {"imageType": {"Original": {}}, "featureClass": classes, "setting": setting}


def _pyradiomics_runs(config: IbsiConfiguration) -> list[tuple[bool, bool]]:
    """(force2D, merged) runs: 2D configurations can only have pyradiomics' 2.5D; the phantom gets both."""
    dimensions = (False, True) if config.phantom == "digital" else ((True,) if config.by_slice else (False,))
    return [(force2d, merged) for force2d in dimensions for merged in (False, True)]


def _mirp_settings(config: IbsiConfiguration):
    from core.imaging.extraction.mirp_engine import MirpSettings

    aggregation = ("2D_avg", "2D_comb", "2_5D_avg", "2_5D_comb") if config.by_slice else ("3D_avg", "3D_comb")
    if config.phantom == "digital":
        aggregation = ("2D_avg", "2D_comb", "2_5D_avg", "2_5D_comb", "3D_avg", "3D_comb")
    return MirpSettings(by_slice=config.by_slice, new_spacing_mm=config.spacing_mm, spline_order=config.spline_order,
                        intensity_range=config.intensity_range, outlier_sigma=config.outlier_sigma,
                        discretisation=config.discretisation, bin_width=config.bin_width, n_bins=config.n_bins,
                        ivh_discretisation=config.ivh_discretisation, ivh_bin_width=config.ivh_bin_width,
                        ivh_n_bins=config.ivh_n_bins,
                        families=("morphology", "local_intensity", "statistics", "intensity_histogram",
                                  "intensity_volume_histogram", "glcm", "glrlm", "glszm", "gldzm", "ngtdm", "ngldm"),
                        texture_aggregation=aggregation, stat_value_shift=0.0)


def engine_values(engine: str, configuration: str, data_dir: str | Path) -> dict[str, tuple[float, str]]:
    """Run one engine on the phantom of one configuration.

    Parameters
    ----------
    engine : {"pyradiomics", "mirp"}
    configuration : str
        A key of :data:`CONFIGURATIONS`.
    data_dir : path
        The shared data folder (``ibsi_digital_phantom``, ``ibsi_ct_phantom``, ``ibsi_reference``).

    Returns
    -------
    dict
        IBSI tag -> (value, the engine's feature name).
    """
    if engine not in PHANTOM_RUNS:
        raise RadNomoError(f"engine '{engine}' is not valid; possible: {list(ENGINES)}.")
    config = _configuration(configuration)
    image, mask = _read_phantom(config, Path(data_dir))
    return PHANTOM_RUNS[engine](config, image, mask)


def _pyradiomics_phantom(config: IbsiConfiguration, image, mask) -> dict[str, tuple[float, str]]:
    """pyradiomics on a phantom: one run per 2D/3D and merged/averaged texture setting the configuration needs."""
    from core.imaging.extraction.radiomics import extract_features

    values: dict[str, tuple[float, str]] = {}
    for force2d, merged in _pyradiomics_runs(config):
        features = extract_features(image, mask, _pyradiomics_params(config, force2d=force2d, merged=merged))
        for name, value in features.items():
            tag = ibsi_tag(name, force2d=force2d, merged=merged)
            # Non-texture features are the same in every run: keep the first run's.
            if tag is not None and tag not in values:
                values[tag] = (value, name)
    return values


def _mirp_phantom(config: IbsiConfiguration, image, mask) -> dict[str, tuple[float, str]]:
    """MIRP on a phantom: one run, its feature names mapped to IBSI tags."""
    from core.imaging.extraction.mirp_engine import extract_features as mirp_features

    values: dict[str, tuple[float, str]] = {}
    for name, value in mirp_features(image, mask, _mirp_settings(config)).items():
        tag = mirp_ibsi_tag(name)
        if tag is not None and tag not in values:
            values[tag] = (value, name)
    return values


#: How each extraction engine (:data:`core.vocabulary.EXTRACTION_ENGINES`) is run on an IBSI phantom:
#: IBSI tag -> (value, the engine's feature name).
PHANTOM_RUNS = {"pyradiomics": _pyradiomics_phantom, "mirp": _mirp_phantom}


def _pyradiomics_name_of_tag() -> dict[str, str]:
    """IBSI tag (with aggregation) -> the pyradiomics feature name that computes it (original image)."""
    names: dict[str, str] = {}
    for force2d in (False, True):
        for merged in (False, True):
            for feature_class, table in PYRADIOMICS_IBSI.items():
                for feature in table:
                    tag = ibsi_tag(f"original_{feature_class}_{feature}", force2d=force2d, merged=merged)
                    if tag is not None:
                        names.setdefault(tag, f"original_{feature_class}_{feature}")
    return names


def compliance_table(engine: str, configuration: str, data_dir: str | Path) -> pd.DataFrame:
    """Measure one engine against the IBSI reference of one configuration.

    Parameters
    ----------
    engine : {"pyradiomics", "mirp"}
    configuration : str
        "digital_phantom" or "A".."E" (:data:`CONFIGURATIONS`).
    data_dir : path
        The shared data folder (``ibsi_reference``, ``ibsi_digital_phantom``, ``ibsi_ct_phantom``).

    Returns
    -------
    pandas.DataFrame
        One row per IBSI feature of the reference: ``engine``, ``configuration``, ``tag``,
        ``reference``, ``tolerance``, ``value`` (NaN when not computed), ``status`` (agrees / differs /
        not computed), ``pyradiomics_feature`` (the pyradiomics name of the tag, "" where none maps),
        ``engine_feature`` (the engine's own name of the value; pyradiomics names come with the
        force2D / weightingNorm setting of the run, see :func:`ibsi_tag`).
    """
    reference = read_reference(configuration, data_dir)
    values = engine_values(engine, configuration, data_dir)
    pyradiomics_names = _pyradiomics_name_of_tag()
    rows = []
    for tag, ref, tolerance in reference.itertuples(index=False):
        value, name = values.get(tag, (float("nan"), ""))
        if not name:
            status = "not computed"
        else:
            status = "agrees" if within_tolerance(value, float(ref), float(tolerance)) else "differs"
        rows.append({"engine": engine, "configuration": configuration, "tag": tag, "reference": float(ref),
                     "tolerance": float(tolerance), "value": value, "status": status,
                     "pyradiomics_feature": pyradiomics_names.get(tag, ""), "engine_feature": name})
    return pd.DataFrame(rows, columns=COLUMNS)


def full_compliance(data_dir: str | Path, *, engines=ENGINES, configurations=tuple(CONFIGURATIONS),
                    on_progress=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every engine x configuration: the compliance table and the seconds each run took.

    Parameters
    ----------
    data_dir : path
    engines, configurations : sequences of str
    on_progress : callable, optional
        Called as ``on_progress(engine, configuration, seconds)`` after each run.

    Returns
    -------
    (table, timings)
        The concatenated :func:`compliance_table` rows, and a DataFrame ``engine``,
        ``configuration``, ``seconds``.
    """
    tables, timings = [], []
    for engine in engines:
        for configuration in configurations:
            start = time.perf_counter()
            tables.append(compliance_table(engine, configuration, data_dir))
            seconds = time.perf_counter() - start
            timings.append({"engine": engine, "configuration": configuration, "seconds": seconds})
            if on_progress is not None:
                on_progress(engine, configuration, seconds)
    return pd.concat(tables, ignore_index=True), pd.DataFrame(timings)


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Counts per engine x configuration x status.

    Returns
    -------
    pandas.DataFrame
        Columns ``engine``, ``configuration``, ``agrees``, ``differs``, ``not computed``, ``total``,
        in the order of :data:`ENGINES` and :data:`CONFIGURATIONS`.
    """
    counts = (table.groupby(["engine", "configuration"])["status"].value_counts().unstack(fill_value=0)
              .reindex(columns=list(STATUSES), fill_value=0))
    counts["total"] = counts.sum(axis=1)
    order = [(e, c) for e in ENGINES for c in CONFIGURATIONS if (e, c) in counts.index]
    return counts.loc[order].reset_index().rename_axis(columns=None)


def load_compliance(path: str | Path | None = None) -> pd.DataFrame:
    """The shipped (or a given) compliance table, as written by ``python -m core.cli.ibsi``.

    Parameters
    ----------
    path : path, optional
        Default: ``core/imaging/ibsi_compliance.csv`` (works without the shared data folder).

    Raises
    ------
    RadNomoError
        If the file is missing or lacks the table's columns.
    """
    path = Path(path) if path is not None else SHIPPED_COMPLIANCE
    if not path.is_file():
        raise RadNomoError(f"compliance table '{path}' does not exist; generate it with python -m core.cli.ibsi.")
    table = pd.read_csv(path, keep_default_na=False, na_values={"value": [""]},
                        dtype={"pyradiomics_feature": str, "engine_feature": str})
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise RadNomoError(f"'{path.name}' lacks column(s) {missing}; regenerate it with python -m core.cli.ibsi.")
    return table


# ---------------------------------------------------------------------------------------------
# A study's features against the table
# ---------------------------------------------------------------------------------------------

#: What the compliance column says of one feature of a study.
FEATURE_STATUSES = {
    "agrees": "agrees with the IBSI reference on the digital phantom and the CT phantom configuration "
              "matching the family's settings",
    "definition only": "agrees on the digital phantom (the feature's definition) but differs on the CT phantom "
                       "(the engine's image processing: interpolation grid, re-segmentation, discretisation)",
    "differs": "differs from the IBSI reference on the digital phantom (its definition)",
    "not computed": "has an IBSI tag whose reference value the engine did not reproduce (not computed)",
    "filtered image": "computed on a filter response (LoG, wavelet, ...): IBSI chapter 1 has no reference for it",
    "no IBSI feature": "has no IBSI counterpart",
    "engine unknown": "imported: the engine and its settings are not known, so compliance was not measured",
}


def _statuses(table: pd.DataFrame, engine: str) -> dict[str, dict[str, str]]:
    """configuration -> tag -> status of one engine."""
    own = table[table["engine"] == engine]
    return {name: dict(zip(part["tag"], part["status"], strict=True)) for name, part in own.groupby("configuration")}


@functools.lru_cache(maxsize=len(ENGINES))
def _shipped_statuses(engine: str) -> dict[str, dict[str, str]]:
    """:func:`_statuses` of the shipped table, read once per process (pages ask for it on every run)."""
    return _statuses(load_compliance(), engine)


def configuration_for(extraction: dict | None) -> str:
    """The IBSI CT configuration whose aggregation and discretisation match a family's extraction settings.

    3D with a fixed bin width is configuration C (the study's: bin width 25 HU), 3D with a fixed bin
    number D; slice-wise (pyradiomics ``force2D``) A (bin width) or B (bin number).
    """
    setting = ((extraction or {}).get("params") or {}).get("setting") or {}
    by_number = "binCount" in setting
    if setting.get("force2D"):
        return "B" if by_number else "A"
    return "D" if by_number else "C"


def _filtered(feature: str) -> bool:
    """Whether a feature name is a filter response (pyradiomics image type other than original, or a MIRP
    name with a filter prefix)."""
    if feature.startswith("mirp_"):
        match = _MIRP_FAMILY.search(feature.removeprefix("mirp_"))
        return match is not None and match.start(1) > 0
    return not feature.startswith("original_")


def feature_compliance(features, extraction: dict | None, *, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per feature of a family: its IBSI tag and what the measured compliance table says of it.

    Parameters
    ----------
    features : sequence of str
        The family's feature names (pyradiomics ``<image type>_<class>_<feature>`` or ``mirp_...``;
        other names, e.g. of an imported table, get no tag).
    extraction : dict or None
        The family's extraction settings (``engine``, ``params``); None for an imported table.
    table : pandas.DataFrame, optional
        A compliance table (default: the shipped one, :func:`load_compliance`).

    Returns
    -------
    pandas.DataFrame
        Index ``feature``; ``ibsi_tag`` ("" where none), ``digital_phantom`` and ``ct_phantom``
        (the tag's status in the digital phantom and in :func:`configuration_for`'s CT configuration;
        "" where not measured), ``ibsi`` (one of :data:`FEATURE_STATUSES`). ``attrs["configuration"]``
        and ``attrs["engine"]`` say what was compared.
    """
    params = (extraction or {}).get("params") or {}
    setting = params.get("setting") or {}
    engine = (extraction or {}).get("engine", "pyradiomics") if extraction else None
    configuration = configuration_for(extraction)
    statuses: dict[str, dict[str, str]] = {}
    if engine is not None:
        statuses = _shipped_statuses(engine) if table is None else _statuses(table, engine)
    rows = []
    for feature in features:
        try:
            tag = ibsi_tag(feature, force2d=bool(setting.get("force2D")), merged=bool(setting.get("weightingNorm")))
        except RadNomoError:
            tag = None
        digital = statuses.get("digital_phantom", {}).get(tag, "") if tag else ""
        ct = statuses.get(configuration, {}).get(tag, "") if tag else ""
        if tag is None:
            status = "no IBSI feature"
        elif engine is None:
            status = "engine unknown"
        elif _filtered(feature):
            status, digital, ct = "filtered image", "", ""
        elif digital == "differs" or (not digital and ct == "differs"):
            status = "differs"
        elif digital == "agrees" and ct == "differs":
            status = "definition only"
        elif digital == "agrees" or (not digital and ct == "agrees"):  # both, or the one reference that has the tag
            status = "agrees"
        else:
            status = "not computed"
        rows.append({"feature": feature, "ibsi_tag": tag or "", "digital_phantom": digital, "ct_phantom": ct,
                     "ibsi": status})
    frame = pd.DataFrame(rows, columns=["feature", "ibsi_tag", "digital_phantom", "ct_phantom", "ibsi"])
    frame = frame.set_index("feature")
    frame.attrs.update(configuration=configuration, engine=engine or "")
    return frame


def compliance_counts(compliance: pd.DataFrame) -> dict[str, int]:
    """How many features of :func:`feature_compliance`'s table have each status (all statuses, zeros too)."""
    counts = compliance["ibsi"].value_counts()
    return {status: int(counts.get(status, 0)) for status in FEATURE_STATUSES}


def compliance_sentence(compliance: pd.DataFrame, label: str) -> str:
    """One sentence for the report and the Features page, e.g. "Of the 1874 Radiomics features, 1813 are
    filter responses ...; of the 107 of the original image, 61 agree with the IBSI reference ..."."""
    counts = compliance_counts(compliance)
    total = len(compliance)
    if compliance.attrs.get("engine") == "" or counts["engine unknown"]:
        tagged = total - counts["no IBSI feature"]
        return (f"{tagged} of the {total} {label} features carry an IBSI tag; they were imported, so their "
                "compliance could not be measured.")
    measured = counts["agrees"] + counts["definition only"] + counts["differs"] + counts["not computed"]
    configuration = compliance.attrs.get("configuration", "C")
    not_computed = f", {counts['not computed']} not computed" if counts["not computed"] else ""
    return (f"Of the {total} {label} features ({compliance.attrs.get('engine')}), {measured} are IBSI features of the "
            f"unfiltered image: {counts['agrees']} agree with the IBSI reference values on the digital phantom and "
            f"the CT phantom (configuration {configuration}), {counts['definition only']} agree on the digital phantom "
            f"only (the engine's image processing departs on the CT phantom), {counts['differs']} differ in "
            f"definition{not_computed}; {counts['filtered image']} are filter responses (no IBSI chapter 1 "
            f"reference) and {counts['no IBSI feature']} have no IBSI counterpart (RadNomo's measured IBSI "
            "compliance table, python -m core.cli.ibsi).")


@functools.lru_cache(maxsize=1)
def shipped_compliance() -> pd.DataFrame:
    """:func:`load_compliance` of the shipped table, read once per process (a page shows it on every run; the
    table is shared: read it, never modify it)."""
    return load_compliance()
