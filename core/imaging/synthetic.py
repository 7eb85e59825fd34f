"""Deterministic generator of a synthetic gastric-cancer CT cohort that mirrors the reference study.

The cohort (clinical table, venous-phase CT crops and tumour masks) is synthetic: no patient data.
It mirrors the per-outcome distributions of the study's Table 1 (train and test combined) and
gives each tumour an imaging phenotype that depends on liver-metastasis (LM) status, on
synchronous vs metachronous LM and on the scanner, so image features carry real but imperfect
signal. The strength of that signal is set by :class:`PhenotypeEffects` (documented knobs).

Command line::

    python -m core.cli.synthetic --n 1001 --seed 20250601 --out DIR [--no-images]
                             [--image-subset K] [--workers N]

Writes ``DIR/clinical.csv``, ``DIR/manifest.csv`` (pyradiomics batch format ``ID,Image,Mask`` plus
``Mask_reader2``), ``DIR/generator_truth.csv`` (the hidden phenotype, for teaching and calibration
only), ``DIR/survival.csv`` (overall survival, :mod:`core.imaging.synthetic_survival`) and, unless
``--no-images``, ``DIR/images/<ID>_ct.nii.gz`` and ``DIR/masks/<ID>_r1.nii.gz``
(``_r2`` for the double-read patients). Every patient draws from its own random stream keyed by
(seed, patient number), so any subset of images is byte-identical to the same patients in a full run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage, stats

from core.errors import RadNomoError
from core.io.processes import worker_pool
from core.imaging.synthetic_survival import generate_survival
from core.imaging.synthetic_targets import combined_continuous, combined_proportions

__all__ = [
    "CLINICAL_COLUMNS",
    "PhenotypeEffects",
    "ScannerProfile",
    "SCANNERS",
    "CohortTables",
    "generate_clinical",
    "render_patient",
    "generate_cohort",
    "measure_thickness_mm",
]

log = logging.getLogger(__name__)

# Study proportions (reference study: 1001 patients, 312 LM, 192 synchronous, 120 metachronous).
_LM_FRACTION = 312 / 1001
_SYNCHRONOUS_FRACTION = 192 / 312
_N_DOUBLE_READ = 100  # patients re-drawn by a second reader in the study

CLINICAL_COLUMNS: dict[str, str] = {
    "patient_id": "Patient identifier (GC0001...).",
    "age": "Age at diagnosis, years (integer).",
    "sex": "female / male.",
    "location": "Tumour location: cardia_fundus, body, antrum, over_two_thirds (> 2/3 of the stomach).",
    "tumour_thickness_mm": "Maximal tumour (gastric wall) thickness on CT, mm.",
    "ct_stage": "Clinical T stage: T1-T4.",
    "cn_stage": "Clinical N stage: N0-N3.",
    "differentiation": "poor (un-/poorly differentiated) / moderate_high.",
    "lauren": "Lauren type: intestinal / diffuse / mixed.",
    "her2": "HER2 status: negative / positive.",
    "cea_ng_ml": "Serum CEA, ng/mL (upper normal limit 5).",
    "ca19_9_u_ml": "Serum CA19-9, U/mL (upper normal limit 37).",
    "scanner": "CT scanner id (SCN-A..SCN-D), differing in noise, sharpness and pixel size.",
    "lm": "Liver metastasis during follow-up: 1 yes, 0 no (the outcome).",
    "lm_type": "none / synchronous (< 6 months from diagnosis) / metachronous (> 6 months).",
    "lm_interval_months": "Months from gastric-cancer diagnosis to LM; empty when lm = 0.",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class PhenotypeEffects:
    """How strongly the tumour's imaging phenotype depends on the outcome (the generator's knobs).

    Each phenotype trait is a latent z-score drawn as ``N(lm_shift * lm + sync_shift * synchronous, 1)``
    and then mapped to physical image properties (see :func:`render_patient`). A shift of 0 makes
    the trait pure noise; 0.5 is a moderate effect (AUC of the trait alone about 0.64).

    Attributes
    ----------
    enhancement_lm, enhancement_sync : float
        Shift of tumour venous-phase enhancement (mean HU ~ 85 + 12 z). Negative: LM tumours enhance less.
    heterogeneity_lm, heterogeneity_sync : float
        Shift of the internal texture amplitude (SD ~ 14 HU * exp(0.3 z)).
    texture_scale_lm, texture_scale_sync : float
        Shift of the texture grain size (Gaussian correlation length ~ 2.2 mm * exp(0.3 z)).
    necrosis_lm, necrosis_sync : float
        Shift of the necrotic (low-attenuation) fraction of the tumour (logit scale, ~ 8 % at z = 0).
    margin_lm, margin_sync : float
        Shift of serosal margin irregularity (boundary bump amplitude ~ 1.6 mm * exp(0.35 z)).
    extent_lm, extent_sync : float
        Shift of the tumour's craniocaudal length and circumferential extent (size and shape).
    infiltration_lm, infiltration_sync : float
        Shift of peritumoral infiltration: perigastric fat stranding and small nodes just outside
        the serosa. It lies outside the tumour ROI, so ROI-based radiomics barely sees it while
        the autoencoder, which sees the whole crop around the tumour, can.
    """

    enhancement_lm: float = -0.16
    enhancement_sync: float = -0.26
    heterogeneity_lm: float = 0.20
    heterogeneity_sync: float = 0.32
    texture_scale_lm: float = -0.14
    texture_scale_sync: float = -0.22
    necrosis_lm: float = 0.20
    necrosis_sync: float = 0.31
    margin_lm: float = 0.19
    margin_sync: float = 0.30
    extent_lm: float = 0.13
    extent_sync: float = 0.20
    infiltration_lm: float = 0.65
    infiltration_sync: float = 1.01

    def shifts(self) -> dict[str, tuple[float, float]]:
        """``{trait: (lm shift, synchronous shift)}`` for every trait."""
        values = asdict(self)
        return {trait: (values[f"{trait}_lm"], values[f"{trait}_sync"]) for trait in _TRAITS}


_TRAITS = ("enhancement", "heterogeneity", "texture_scale", "necrosis", "margin", "extent", "infiltration")
# Traits added after the first release draw from their own random stream, so the clinical table
# and the earlier traits of a given seed stay what they were.
_LATER_TRAITS = ("infiltration",)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScannerProfile:
    """Acquisition properties of one synthetic CT scanner.

    Attributes
    ----------
    name : str
        Scanner id written to ``clinical.csv``.
    share : float
        Fraction of patients scanned on it.
    pixel_mm : float
        In-plane pixel spacing, mm (slices are always 5 mm).
    noise_hu : float
        Standard deviation of quantum noise, HU.
    psf_mm : float
        Reconstruction blur (Gaussian sigma of the point-spread function), mm; larger is softer.
    hu_offset : float
        Calibration offset added to every voxel, HU.
    """

    name: str
    share: float
    pixel_mm: float
    noise_hu: float
    psf_mm: float
    hu_offset: float


SCANNERS: tuple[ScannerProfile, ...] = (
    ScannerProfile(name="SCN-A", share=0.35, pixel_mm=0.70, noise_hu=10.0, psf_mm=0.45, hu_offset=0.0),
    ScannerProfile(name="SCN-B", share=0.30, pixel_mm=0.74, noise_hu=14.0, psf_mm=0.80, hu_offset=4.0),
    ScannerProfile(name="SCN-C", share=0.20, pixel_mm=0.78, noise_hu=18.0, psf_mm=0.60, hu_offset=-3.0),
    ScannerProfile(name="SCN-D", share=0.15, pixel_mm=0.68, noise_hu=12.0, psf_mm=1.00, hu_offset=6.0),
)
_SCANNER_BY_NAME = {s.name: s for s in SCANNERS}

# Image grid of every crop: 128 x 128 pixels in-plane, 16 slices of 5 mm (80 mm craniocaudal).
_GRID_XY = 128
_GRID_Z = 16
_SLICE_MM = 5.0
_SUBSLICES = 5  # rendered at 1 mm in z, then averaged into 5 mm slices (partial-volume effect)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CohortTables:
    """The generated tables.

    Attributes
    ----------
    clinical : pandas.DataFrame
        One row per patient, columns :data:`CLINICAL_COLUMNS`.
    truth : pandas.DataFrame
        The hidden generator state per patient (phenotype z-scores, double-read flag); not a predictor.
    """

    clinical: pd.DataFrame
    truth: pd.DataFrame


# ---------------------------------------------------------------------------------------------
# Clinical table
# ---------------------------------------------------------------------------------------------


def _exact_counts(proportions: dict[str, float], n: int) -> dict[str, int]:
    """Largest-remainder rounding: integer counts summing to ``n`` closest to ``proportions * n``."""
    raw = {level: p * n for level, p in proportions.items()}
    counts = {level: int(np.floor(v)) for level, v in raw.items()}
    short = n - sum(counts.values())
    for level in sorted(raw, key=lambda lv: raw[lv] - counts[lv], reverse=True)[:short]:
        counts[level] += 1
    return counts


def _allocate_ordered(latent: np.ndarray, proportions: dict[str, float]) -> np.ndarray:
    """Assign levels (in the dict's order) by rank of ``latent``: exact counts, latent-correlated."""
    counts = _exact_counts(proportions, len(latent))
    labels = np.repeat(np.array(list(counts), dtype=object), list(counts.values()))
    out = np.empty(len(latent), dtype=object)
    out[np.argsort(latent, kind="stable")] = labels
    return out


def _match_moments(values: np.ndarray, target_mean: float, target_sd: float, lower: float, upper: float,
                   decimals: int) -> np.ndarray:
    """Affinely rescale to the target mean and SD, keeping ranks; clip and round (a few passes)."""
    x = values.astype(float)
    for _ in range(6):
        x = (x - x.mean()) / x.std(ddof=1) * target_sd + target_mean
        x = np.round(np.clip(x, lower, upper), decimals)
    return x


def _lognormal_with_exceedance(latent: np.ndarray, median: float, sigma: float, threshold: float,
                               exceed_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Log-normal values ranked by ``latent`` with exactly round(fraction * n) above ``threshold``.

    The uniform quantile of each patient is placed in the below- or above-threshold part of the
    log-normal according to its rank, so the shape is log-normal and the exceedance is exact.
    """
    n = len(latent)
    n_above = int(round(exceed_fraction * n))
    dist = stats.lognorm(s=sigma, scale=median)
    p_threshold = dist.cdf(threshold)
    ranks = np.empty(n, dtype=int)
    ranks[np.argsort(latent, kind="stable")] = np.arange(n)
    jitter = rng.uniform(0.05, 0.95, size=n)
    below = ranks < n - n_above
    u = np.where(below,
                 p_threshold * (ranks + jitter) / max(n - n_above, 1),
                 p_threshold + (1 - p_threshold) * (ranks - (n - n_above) + jitter) / max(n_above, 1))
    return np.round(dist.ppf(u), 2)


def _group_sizes(n: int) -> tuple[int, int, int]:
    """(non-LM, synchronous, metachronous) counts for a cohort of ``n`` in the study's proportions."""
    n_lm = int(round(n * _LM_FRACTION))
    n_sync = int(round(n_lm * _SYNCHRONOUS_FRACTION))
    return n - n_lm, n_sync, n_lm - n_sync


def _clinical_group(outcome: int, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Clinical variables of ``n`` patients of one outcome group, with Table 1's marginals.

    A latent "stage severity" links clinical T, N, thickness and the tumour markers, as they
    are linked in real gastric cancer; each marginal still matches its exact target.
    """
    severity = rng.standard_normal(n)

    def noisy(weight: float) -> np.ndarray:
        return weight * severity + np.sqrt(1 - weight**2) * rng.standard_normal(n)

    age_t = combined_continuous("age")[outcome]
    thick_t = combined_continuous("tumour_thickness_mm")[outcome]
    # Thickness is right-skewed in practice: start from a gamma shape, then match the moments.
    thickness_raw = stats.gamma(a=6.0).ppf(stats.norm.cdf(noisy(0.55)))
    frame = pd.DataFrame({
        "age": _match_moments(rng.standard_normal(n), age_t.mean, age_t.sd, 20, 88, 0).astype(int),
        "sex": _allocate_ordered(rng.standard_normal(n), combined_proportions("sex")[outcome]),
        "location": _allocate_ordered(noisy(0.2), combined_proportions("location")[outcome]),
        "tumour_thickness_mm": _match_moments(thickness_raw, thick_t.mean, thick_t.sd, 4.0, 48.0, 1),
        "ct_stage": _allocate_ordered(noisy(0.6), combined_proportions("ct_stage")[outcome]),
        "cn_stage": _allocate_ordered(noisy(0.4), combined_proportions("cn_stage")[outcome]),
        "differentiation": _allocate_ordered(rng.standard_normal(n), combined_proportions("differentiation")[outcome]),
        "lauren": _allocate_ordered(rng.standard_normal(n), combined_proportions("lauren")[outcome]),
        "her2": _allocate_ordered(rng.standard_normal(n), combined_proportions("her2")[outcome]),
    })
    cea_p = combined_proportions("cea_above_5")[outcome]["yes"]
    ca_p = combined_proportions("ca19_9_above_37")[outcome]["yes"]
    frame["cea_ng_ml"] = _lognormal_with_exceedance(noisy(0.3), 2.6 if outcome == 0 else 4.2, 1.0, 5.0, cea_p, rng)
    frame["ca19_9_u_ml"] = _lognormal_with_exceedance(noisy(0.3), 12.0 if outcome == 0 else 18.0, 1.2, 37.0,
                                                      ca_p, rng)
    return frame


def generate_clinical(n: int = 1001, seed: int = 20250601, effects: PhenotypeEffects | None = None,
                      scanner_shares: dict[str, float] | None = None) -> CohortTables:
    """Generate the clinical table and the hidden phenotype of ``n`` synthetic patients.

    Parameters
    ----------
    n : int, default 1001
        Cohort size (at least 40). LM, synchronous and metachronous counts follow the study's
        proportions (312, 192 and 120 of 1001).
    seed : int
        Seed of the whole cohort; the same seed gives identical tables.
    effects : PhenotypeEffects, optional
        Outcome dependence of the imaging phenotype; defaults to :class:`PhenotypeEffects()`.
    scanner_shares : dict, optional
        Share of patients per scanner name (e.g. an external centre's mix); defaults to the
        shares of :data:`SCANNERS`. Only the scanner column changes with it.

    Returns
    -------
    CohortTables
        ``clinical`` (columns :data:`CLINICAL_COLUMNS`) and ``truth`` (phenotype z-scores).

    Raises
    ------
    RadNomoError
        If ``n`` < 40 or ``seed`` is negative.
    """
    if n < 40:
        raise RadNomoError(f"n = {n} is too small; the generator needs at least 40 patients.")
    if seed < 0:
        raise RadNomoError(f"seed = {seed} must be a non-negative integer.")
    effects = effects or PhenotypeEffects()
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    n_non_lm, n_sync, n_meta = _group_sizes(n)

    groups = [_clinical_group(0, n_non_lm, rng), _clinical_group(1, n_sync + n_meta, rng)]
    groups[0]["lm"] = 0
    groups[0]["lm_type"] = "none"
    groups[1]["lm"] = 1
    # Which LM patients are synchronous is drawn at random within the LM group.
    lm_type = np.array(["synchronous"] * n_sync + ["metachronous"] * n_meta, dtype=object)
    groups[1]["lm_type"] = rng.permutation(lm_type)
    clinical = pd.concat(groups, ignore_index=True)

    synchronous = (clinical["lm_type"] == "synchronous").to_numpy()
    metachronous = (clinical["lm_type"] == "metachronous").to_numpy()
    interval = np.full(n, np.nan)
    interval[synchronous] = np.round(rng.uniform(0.0, 5.9, synchronous.sum()), 1)
    interval[metachronous] = np.round(np.clip(rng.lognormal(np.log(16.0), 0.6, metachronous.sum()), 6.1, 96.0), 1)
    clinical["lm_interval_months"] = interval

    shares_by_name = scanner_shares or {s.name: s.share for s in SCANNERS}
    unknown = set(shares_by_name) - set(_SCANNER_BY_NAME)
    if unknown or any(v < 0 for v in shares_by_name.values()) or sum(shares_by_name.values()) <= 0:
        raise RadNomoError(f"scanner shares must be non-negative and name known scanners "
                           f"({', '.join(_SCANNER_BY_NAME)}); got {shares_by_name}.")
    shares = np.array([shares_by_name.get(s.name, 0.0) for s in SCANNERS])
    clinical["scanner"] = rng.choice([s.name for s in SCANNERS], size=n, p=shares / shares.sum())

    truth = pd.DataFrame(index=clinical.index)
    lm = clinical["lm"].to_numpy(dtype=float)
    later_rng = np.random.default_rng(np.random.SeedSequence([seed, 2]))
    for trait, (lm_shift, sync_shift) in effects.shifts().items():
        noise = (later_rng if trait in _LATER_TRAITS else rng).standard_normal(n)
        truth[f"z_{trait}"] = lm_shift * lm + sync_shift * synchronous + noise

    # Shuffle so patient order carries no outcome information, then number the patients.
    order = rng.permutation(n)
    clinical = clinical.iloc[order].reset_index(drop=True)
    truth = truth.iloc[order].reset_index(drop=True)
    ids = [f"GC{i + 1:04d}" for i in range(n)]
    clinical.insert(0, "patient_id", ids)
    truth.insert(0, "patient_id", ids)
    truth["double_read"] = _double_read_flags(clinical["lm"].to_numpy(), rng)
    return CohortTables(clinical=clinical[list(CLINICAL_COLUMNS)], truth=truth)


def _double_read_flags(lm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Outcome-stratified choice of the patients re-drawn by a second reader (100 of 1001)."""
    n_double = int(round(_N_DOUBLE_READ * len(lm) / 1001))
    flags = np.zeros(len(lm), dtype=bool)
    for outcome in (0, 1):
        members = np.flatnonzero(lm == outcome)
        k = int(round(n_double * len(members) / len(lm)))
        flags[rng.choice(members, size=k, replace=False)] = True
    return flags


# ---------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PatientImages:
    """One patient's rendered CT crop and masks, as numpy arrays in (z, y, x) order.

    Attributes
    ----------
    ct_hu : numpy.ndarray
        int16 Hounsfield units.
    mask_reader1, mask_reader2 : numpy.ndarray, numpy.ndarray | None
        uint8 tumour masks (1 = tumour); ``mask_reader2`` only for double-read patients.
    spacing_mm : tuple of float
        (x, y, z) voxel spacing in mm, SimpleITK order.
    origin_mm : tuple of float
        (x, y, z) physical position of voxel (0, 0, 0), mm.
    """

    ct_hu: np.ndarray
    mask_reader1: np.ndarray
    mask_reader2: np.ndarray | None
    spacing_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float]


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma_px: Sequence[float]) -> np.ndarray:
    """Gaussian-filtered white noise rescaled to zero mean and unit SD."""
    field_ = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=sigma_px, mode="wrap")
    return (field_ - field_.mean()) / (field_.std() + 1e-12)


def _plateau(u: np.ndarray) -> np.ndarray:
    """1 on a flat top (|u| < ~0.5), falling smoothly to 0 at |u| = 1; 0 beyond."""
    return np.clip(1.0 - np.abs(u) ** 4, 0.0, 1.0)


def render_patient(patient: pd.Series, truth: pd.Series, seed: int, patient_number: int) -> PatientImages:
    """Render one patient's venous-phase CT crop around the tumour, with reader masks.

    The stomach is a slightly elliptical tube along z: enhancing wall (4 mm, ~ 95 HU) around
    water-filled lumen with a gas cap, in fat (-100 HU) with a liver-like organ and vessels. The
    tumour replaces an arc of the wall: its radial thickness equals ``tumour_thickness_mm`` on a
    plateau at its centre and tapers to the normal wall at its edges. Its phenotype z-scores
    (``truth``) set enhancement, texture amplitude and grain, necrosis and margin irregularity;
    the scanner sets pixel size, blur, noise and HU offset. Rendering is at 1 mm in z and averaged
    into 5 mm slices, which gives realistic partial-volume effects.

    Parameters
    ----------
    patient : pandas.Series
        A row of the clinical table (uses tumour_thickness_mm and scanner).
    truth : pandas.Series
        The matching row of the hidden phenotype (z_* columns, double_read).
    seed : int
        Cohort seed.
    patient_number : int
        0-based row number; with ``seed`` it keys the patient's own random stream.

    Returns
    -------
    PatientImages
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1, patient_number]))
    scanner = _SCANNER_BY_NAME[patient["scanner"]]
    px = scanner.pixel_mm
    thickness = float(patient["tumour_thickness_mm"])
    z = {trait: float(truth[f"z_{trait}"]) for trait in _TRAITS}

    nz_fine = _GRID_Z * _SUBSLICES
    # Physical coordinates (mm) of the fine grid, origin at the crop centre.
    ys = (np.arange(_GRID_XY) - (_GRID_XY - 1) / 2) * px
    xs = ys.copy()
    zs = (np.arange(nz_fine) - (nz_fine - 1) / 2) * (_SLICE_MM / _SUBSLICES)
    zz, yy, xx = np.meshgrid(zs, ys, xs, indexing="ij")

    # Stomach geometry: the tumour faces direction theta0; the crop is centred on the tumour.
    theta0 = rng.uniform(-np.pi, np.pi)
    wall_mm = 4.0
    # A thick tumour sits on a wide, distended stomach, so its arc stays wider than it is thick
    # (as in real bulky gastric cancers) and the lumen never closes.
    radius = max(30.0, 1.5 * thickness + 12.0) + rng.uniform(0.0, 8.0)
    ellipticity = rng.uniform(0.0, 0.08)
    tilt = rng.uniform(-0.15, 0.15, size=2)  # centre line drift, mm per mm of z
    centre_offset = radius - thickness / 2
    cx = -centre_offset * np.cos(theta0) + tilt[0] * zz
    cy = -centre_offset * np.sin(theta0) + tilt[1] * zz
    dx, dy = xx - cx, yy - cy
    r = np.hypot(dx, dy)
    theta = np.arctan2(dy, dx)
    r_outer = radius * (1 + ellipticity * np.cos(2 * (theta - theta0)))

    # Tumour footprint: angular half-width and craniocaudal length grow with the extent trait.
    half_angle = np.deg2rad(np.clip(52 + 10 * z["extent"] + rng.normal(0, 5), 36, 85))
    half_length = np.clip(24 + 6 * z["extent"] + rng.normal(0, 3), 12, 36)
    dtheta = np.angle(np.exp(1j * (theta - theta0)))
    # Irregular footprint edge: low-frequency modulation of the angular extent.
    edge_wobble = 1 + 0.12 * np.cos(3 * dtheta + rng.uniform(0, 2 * np.pi)) * np.cos(zz / 9.0)
    profile = _plateau(dtheta / half_angle * edge_wobble) * _plateau(zz / half_length)
    footprint = profile > 0.05
    # Radial thickness rises from the normal wall at the footprint's edge to the clinical value
    # on its central plateau (a tumour thinner than the normal wall stays that thin).
    edge_thickness = min(wall_mm, thickness)
    local_thickness = edge_thickness + (thickness - edge_thickness) * profile

    # Serosal margin irregularity: bumps that only ever thin the tumour, so its maximum stays
    # the clinical thickness (the plateau keeps places with no bump).
    margin_amp = 1.6 * np.exp(0.35 * z["margin"])
    bumps = _smooth_noise(rng, zz.shape, sigma_px=(3.0 / (_SLICE_MM / _SUBSLICES), 2.5 / px, 2.5 / px))
    # The thickest point (the footprint's centre) is kept free of bumps over a disc about the
    # tumour's own thickness wide, which is where a radiologist would measure it.
    centre_distance = np.hypot(dtheta * r_outer, zz)
    spare_centre = 1 - np.exp(-(centre_distance / (0.6 * thickness + 2.0)) ** 4)
    bump_depth = (np.minimum(margin_amp * np.clip(bumps, 0, None), 0.5 * local_thickness) * (profile > 0.3)
                  * spare_centre)
    tumour_outer = r_outer - bump_depth
    tumour_inner = r_outer - local_thickness
    inner_surface = np.where(footprint, tumour_inner, r_outer - wall_mm)
    lumen = r < inner_surface
    wall = ~footprint & ~lumen & (r <= r_outer)
    tumour = footprint & (r >= tumour_inner) & (r <= tumour_outer)

    # Background anatomy: fat everywhere, a liver-like organ in one corner, a few vessels.
    hu = np.full(zz.shape, -100.0)
    # The organ lies beside the stomach (perpendicular to the tumour's direction), with fat between.
    organ_dir = theta0 + rng.choice([-1.0, 1.0]) * np.pi / 2 + rng.uniform(-0.4, 0.4)
    organ_edge = 18.0 + 4.0 * _smooth_noise(rng, zz.shape, sigma_px=(8, 10 / px, 10 / px))
    organ = ((xx * np.cos(organ_dir) + yy * np.sin(organ_dir)) > organ_edge) & (r > r_outer + 5.0)
    hu[organ] = 105.0
    for _ in range(3):
        vx, vy = rng.uniform(-40, 40, size=2)
        hu[np.hypot(xx - vx - 0.1 * zz, yy - vy) < rng.uniform(2.0, 4.0)] = 160.0
    hu += 6.0 * _smooth_noise(rng, zz.shape, sigma_px=(2, 3 / px, 3 / px))  # tissue inhomogeneity

    hu[lumen] = 10.0  # water-filled lumen
    gas_level = rng.uniform(0.55, 0.8) * radius
    hu[lumen & ((cy - yy) > gas_level)] = -950.0  # gas cap on the non-dependent side
    hu[wall] = 95.0

    # Tumour phenotype.
    enhancement = 85.0 + 12.0 * z["enhancement"]
    texture_sd = 14.0 * np.exp(0.3 * z["heterogeneity"])
    grain_mm = 2.2 * np.exp(0.3 * z["texture_scale"])
    texture = _smooth_noise(rng, zz.shape, sigma_px=(grain_mm / (_SLICE_MM / _SUBSLICES), grain_mm / px,
                                                     grain_mm / px))
    tumour_hu = enhancement + texture_sd * texture
    necrotic_fraction = 1 / (1 + np.exp(-(-2.4 + 0.9 * z["necrosis"])))
    depth = np.clip(np.minimum(tumour_outer - r, r - tumour_inner), 0, None)
    necrosis_field = _smooth_noise(rng, zz.shape, sigma_px=(4, 4 / px, 4 / px)) + 0.25 * depth
    tumour_core = tumour & (depth > 2.0)
    if tumour_core.any() and necrotic_fraction * tumour.sum() >= 1:
        cut = np.quantile(necrosis_field[tumour_core], max(0.0, 1 - necrotic_fraction * tumour.sum() /
                                                           tumour_core.sum()))
        necrotic = tumour_core & (necrosis_field >= cut)
        tumour_hu = np.where(necrotic, 22.0 + 0.3 * texture_sd * texture, tumour_hu)
    hu[tumour] = tumour_hu[tumour]
    _add_peritumoral_infiltration(hu, z["infiltration"], r=r, r_outer=r_outer, dtheta=dtheta, zz=zz,
                                  half_angle=half_angle, half_length=half_length, fat=(hu < -50) & (r > r_outer),
                                  rng=np.random.default_rng(np.random.SeedSequence([seed, 3, patient_number])),
                                  px=px)

    # 1 mm sub-slices averaged into 5 mm slices: the partial-volume effect of clinical CT.
    ct = hu.reshape(_GRID_Z, _SUBSLICES, _GRID_XY, _GRID_XY).mean(axis=1)
    tumour_fraction = tumour.reshape(_GRID_Z, _SUBSLICES, _GRID_XY, _GRID_XY).mean(axis=1)

    # Scanner: in-plane blur, correlated quantum noise, calibration offset.
    ct = ndimage.gaussian_filter(ct, sigma=(0, scanner.psf_mm / px, scanner.psf_mm / px))
    ct += scanner.noise_hu * _smooth_noise(rng, ct.shape, sigma_px=(0, 0.7, 0.7))
    ct += scanner.hu_offset
    ct_hu = np.clip(np.round(ct), -1024, 3071).astype(np.int16)

    mask1 = _largest_component(tumour_fraction >= 0.5)
    mask2 = None
    if bool(truth["double_read"]):
        # A second reader: smooth boundary disagreement of ~1 pixel and an occasional extra or
        # missing end slice, as seen between radiologists drawing 5 mm CT.
        disagreement = 0.22 * _smooth_noise(rng, tumour_fraction.shape, sigma_px=(0.5, 3, 3))
        soft = ndimage.gaussian_filter(tumour_fraction, sigma=(0, 1.0, 1.0))
        mask2 = _largest_component(soft + disagreement >= 0.5)
        slices = np.flatnonzero(mask2.any(axis=(1, 2)))
        if len(slices) > 3 and rng.uniform() < 0.3:
            mask2[slices[0] if rng.uniform() < 0.5 else slices[-1]] = False
        mask2 = mask2.astype(np.uint8)

    spacing = (px, px, _SLICE_MM)
    origin = (-(_GRID_XY - 1) / 2 * px, -(_GRID_XY - 1) / 2 * px, -(_GRID_Z - 1) / 2 * _SLICE_MM)
    return PatientImages(ct_hu=ct_hu, mask_reader1=mask1.astype(np.uint8), mask_reader2=mask2,
                         spacing_mm=spacing, origin_mm=origin)


def _add_peritumoral_infiltration(hu: np.ndarray, z: float, *, r: np.ndarray, r_outer: np.ndarray,
                                  dtheta: np.ndarray, zz: np.ndarray, half_angle: float, half_length: float,
                                  fat: np.ndarray, rng: np.random.Generator, px: float) -> None:
    """Perigastric fat infiltration and small nodes beside the tumour's serosa (in place, HU).

    Infiltration: a hazy rise in the attenuation of the fat on the tumour's side of the stomach,
    fading with distance from the serosa, wider and denser with ``z`` (serosal invasion and
    perigastric fat stranding); nodes: a few soft-tissue nodules (~45 HU) 4-14 mm outside the
    serosa, more and larger with ``z``. Both lie outside the tumour mask.
    """
    outside = r - r_outer
    beside = np.clip(1.8 - np.abs(dtheta) / half_angle, 0, 1) * np.clip(1.5 - np.abs(zz) / half_length, 0, 1)
    band_mm = float(np.clip(10.0 + 4.0 * z, 4.0, 26.0))
    strength = 1 / (1 + np.exp(-(-0.6 + 1.1 * z)))  # 0..1, about 0.35 at z = 0
    patchiness = 1 + 0.3 * _smooth_noise(rng, zz.shape, sigma_px=(1.0, 4.0 / px, 4.0 / px))
    haze = fat & (outside > 0) & (beside > 0)
    # The haze rises over the first few millimetres off the serosa (a thin fat plane is usually kept),
    # then fades with distance.
    profile = (1 - np.exp(-outside[haze] / 2.0)) * np.exp(-outside[haze] / band_mm)
    hu[haze] += 170.0 * strength * profile * beside[haze] * patchiness[haze]
    n_nodes = min(int(rng.poisson(1.0 * np.exp(0.6 * z))), 6)
    for _ in range(n_nodes):
        angle = rng.uniform(-half_angle, half_angle)
        distance = rng.uniform(4.0, 14.0)
        z_node = rng.uniform(-0.8, 0.8) * half_length
        node_radius = rng.uniform(2.5, 4.5) * np.exp(0.15 * z)
        near = (np.abs(dtheta - angle) * (r_outer + distance)) ** 2 + (outside - distance) ** 2 + (zz - z_node) ** 2
        hu[fat & (near < node_radius ** 2)] = 45.0


def _largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 3D-connected component of a boolean mask (an empty mask stays empty)."""
    labels, count = ndimage.label(mask)
    if count <= 1:
        return mask.astype(bool)
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
    return labels == (int(np.argmax(sizes)) + 1)


def measure_thickness_mm(mask: np.ndarray, spacing_mm: Sequence[float]) -> float:
    """Maximal in-plane thickness of a mask: the diameter of its largest inscribed circle, mm.

    This is how a radiologist measures gastric wall thickness on an axial slice: the widest
    perpendicular extent of the thickened wall. ``mask`` is (z, y, x); ``spacing_mm`` is (x, y, z).
    """
    best = 0.0
    sx, sy = float(spacing_mm[0]), float(spacing_mm[1])
    for axial in mask.astype(bool):
        if axial.any():
            # EDT to the nearest background pixel centre overshoots the boundary by half a pixel.
            radius = ndimage.distance_transform_edt(axial, sampling=(sy, sx)).max() - 0.5 * min(sx, sy)
            best = max(best, 2 * radius)
    return best


# ---------------------------------------------------------------------------------------------
# Writing a cohort
# ---------------------------------------------------------------------------------------------


def _write_patient(args: tuple[pd.Series, pd.Series, int, int, str]) -> str:
    """Render and write one patient's NIfTI files (worker function; returns the patient id)."""
    import SimpleITK as sitk

    patient, truth, seed, number, out_dir = args
    images = render_patient(patient, truth, seed, number)
    pid = patient["patient_id"]
    out = Path(out_dir)

    def write(array: np.ndarray, path: Path) -> None:
        image = sitk.GetImageFromArray(array)
        image.SetSpacing(images.spacing_mm)
        image.SetOrigin(images.origin_mm)
        sitk.WriteImage(image, str(path), useCompression=True)

    write(images.ct_hu, out / "images" / f"{pid}_ct.nii.gz")
    write(images.mask_reader1, out / "masks" / f"{pid}_r1.nii.gz")
    if images.mask_reader2 is not None:
        write(images.mask_reader2, out / "masks" / f"{pid}_r2.nii.gz")
    return pid


def manifest_for(tables: CohortTables) -> pd.DataFrame:
    """The pyradiomics batch manifest (``ID,Image,Mask,Mask_reader2``), paths relative to its folder."""
    ids = tables.clinical["patient_id"]
    double = tables.truth["double_read"].to_numpy()
    return pd.DataFrame({
        "ID": ids,
        "Image": [f"images/{pid}_ct.nii.gz" for pid in ids],
        "Mask": [f"masks/{pid}_r1.nii.gz" for pid in ids],
        "Mask_reader2": [f"masks/{pid}_r2.nii.gz" if d else "" for pid, d in zip(ids, double, strict=True)],
    })


def image_subset(tables: CohortTables, k: int) -> list[int]:
    """Row numbers of ``k`` patients for a small bundled image set.

    Outcome-stratified (LM, synchronous and metachronous represented) and enriched with
    double-read patients, so every page has something to show on the bundled images.
    """
    clinical, truth = tables.clinical, tables.truth
    chosen: list[int] = []
    quotas = {"none": 0.55, "synchronous": 0.27, "metachronous": 0.18}
    for lm_type, share in quotas.items():
        rows = np.flatnonzero((clinical["lm_type"] == lm_type).to_numpy())
        double = rows[truth["double_read"].to_numpy()[rows]]
        single = rows[~truth["double_read"].to_numpy()[rows]]
        quota = int(round(k * share))
        n_double = min(len(double), quota // 3)
        chosen += list(double[:n_double]) + list(single[: quota - n_double])
    return sorted(chosen[:k])


def generate_cohort(out_dir: str | Path, *, n: int = 1001, seed: int = 20250601, images: bool = True,
                    image_rows: Sequence[int] | None = None, workers: int = 1,
                    effects: PhenotypeEffects | None = None,
                    scanner_shares: dict[str, float] | None = None) -> CohortTables:
    """Generate a cohort and write its files under ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Output folder (created).
    n, seed, effects
        As :func:`generate_clinical`.
    images : bool, default True
        Render and write the CT crops and masks.
    image_rows : sequence of int, optional
        Only these 0-based patients get images (default: all). The manifest still lists everyone.
    workers : int, default 1
        Processes used for rendering; the output does not depend on it.

    Returns
    -------
    CohortTables
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = generate_clinical(n=n, seed=seed, effects=effects, scanner_shares=scanner_shares)
    tables.clinical.to_csv(out / "clinical.csv", index=False, float_format="%.2f", lineterminator="\n")
    manifest_for(tables).to_csv(out / "manifest.csv", index=False, lineterminator="\n")
    tables.truth.to_csv(out / "generator_truth.csv", index=False, float_format="%.4f", lineterminator="\n")
    # The time-to-event outcome (overall survival) of the same patients, from its own random stream.
    generate_survival(tables, seed).to_csv(out / "survival.csv", index=False, float_format="%.1f", lineterminator="\n")
    if images:
        (out / "images").mkdir(exist_ok=True)
        (out / "masks").mkdir(exist_ok=True)
        rows = range(n) if image_rows is None else image_rows
        jobs = [(tables.clinical.iloc[i], tables.truth.iloc[i], seed, i, str(out)) for i in rows]
        if workers > 1:
            with worker_pool(workers) as pool:
                for done, _ in enumerate(pool.map(_write_patient, jobs, chunksize=4), start=1):
                    if done % 50 == 0:
                        log.info("rendered %d / %d patients", done, len(jobs))
        else:
            for job in jobs:
                _write_patient(job)
    return tables
