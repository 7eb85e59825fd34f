"""Score a new patient from CT: only the features the models need, then scores, risk with CI, nomogram points.

The features are computed exactly as for the cohort (the same pre-processing, pyradiomics
parameters restricted to the needed image types and features, and the study's autoencoder), so a
cohort patient scored here gets the score the pipeline gave it.

Command line (a manifest of new patients)::

    python -m core.cli.newpatient --study STUDY_FOLDER --manifest cases.csv --clinical clinical.csv --out scores.csv
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.errors import RadNomoError
from core.vocabulary import CLINICAL, FUSED, score_column
from core.workflows.fit import StudyModels
from core.workflows.study import Study

__all__ = ["NewPatientResult", "needed_features", "restricted_params", "radiomics_features", "deep_features",
           "study_patient_features",
           "computable_families", "score_patient", "find_dicom_case", "score_manifest"]

_IMAGE_TYPES = {"original": "Original", "wavelet": "Wavelet", "log": "LoG", "square": "Square",
                "squareroot": "SquareRoot", "logarithm": "Logarithm", "exponential": "Exponential",
                "gradient": "Gradient", "lbp-2d": "LBP2D", "lbp-3d": "LBP3D"}
_LOG_SIGMA = re.compile(r"^log-sigma-(\d+)-(\d+)-mm-3D$")


@dataclass(frozen=True)
class NewPatientResult:
    """One patient scored by a study's frozen models.

    Attributes
    ----------
    features : pandas.Series
        The radiomics and deep features the scores use.
    scores : dict
        Score name -> log-odds (radiomics, dl, dl_radiomics where the study has them).
    model : str
        "fused" or "clinical": the model giving the risk.
    probability, low, high : float
        Predicted risk and its 95 % confidence interval.
    """

    features: pd.Series
    scores: dict[str, float]
    model: str
    probability: float
    low: float
    high: float


def needed_features(models: StudyModels) -> set[str]:
    """Every feature any of the study's scores uses."""
    return models.needed_features()


def _features_by_family(study: Study, models: StudyModels) -> dict[str, list[str]]:
    """Single family -> the features of it that the scores use (in the family table's order)."""
    needed = models.needed_features()
    used = {m for score in models.scores for m in models.members[score]}
    return {f.name: [c for c in f.table.columns if c in needed] for f in study.families if f.name in used}


def computable_families(study: Study, models: StudyModels) -> tuple[list[str], list[str]]:
    """(families whose features can be recomputed from a new CT, families that cannot: imported tables,
    or missing extraction settings / weights), among those the scores use."""
    can, cannot = [], []
    for name in _features_by_family(study, models):
        family = study.family(name)
        ok = (family.kind == "radiomics" and bool(family.extraction) and "params" in family.extraction) or \
             (family.kind == "deep" and family.autoencoder is not None)
        (can if ok else cannot).append(name)
    return can, cannot


def restricted_params(params: dict, features: Sequence[str]) -> dict:
    """The pyradiomics parameters cut down to the image types and features in ``features``.

    Feature names read ``<image type>_<class>_<feature>`` (e.g. ``log-sigma-2-0-mm-3D_glcm_Idmn``);
    each feature's value does not depend on which others are computed, so the restricted
    extraction gives the same numbers, only faster.
    """
    restricted = copy.deepcopy(params)
    image_types: dict[str, dict] = {}
    classes: dict[str, set[str]] = {}
    for name in features:
        parts = name.split("_")
        if len(parts) < 3:
            raise RadNomoError(f"'{name}' is not a pyradiomics feature name.")
        prefix, feature_class, feature = parts[0], parts[1], "_".join(parts[2:])
        sigma = _LOG_SIGMA.match(prefix)
        if sigma:
            settings = image_types.setdefault("LoG", {"sigma": []})
            value = float(f"{sigma.group(1)}.{sigma.group(2)}")
            if value not in settings["sigma"]:
                settings["sigma"].append(value)
        else:
            key = _IMAGE_TYPES.get(prefix.split("-")[0].lower())
            if key is None:
                raise RadNomoError(f"image type of feature '{name}' is not known.")
            image_types.setdefault(key, dict(params.get("imageType", {}).get(key) or {}))
        classes.setdefault(feature_class, set()).add(feature)
    restricted["imageType"] = image_types
    restricted["featureClass"] = {c: sorted(f) for c, f in classes.items()}
    return restricted


def radiomics_features(image_path: str | Path, mask_path: str | Path, *, features: Sequence[str],
                       extraction: dict | None, case_id: str = "new patient") -> pd.Series:
    """The listed radiomics features of one case, extracted exactly as the family's features were.

    Parameters
    ----------
    image_path, mask_path : path
        CT and tumour mask (NIfTI, NRRD, MHA, a DICOM folder with an RTSTRUCT or SEG file).
    features : sequence of str
    extraction : dict or None
        The family's extraction settings (``params``, ``preprocess``, ``label``, ``roi_name``), as
        recorded with its feature table.

    Raises
    ------
    RadNomoError
        If the images cannot be read or the settings the features need are missing.
    """
    if not extraction or "params" not in extraction:
        raise RadNomoError("the study's radiomics extraction settings are missing; they are needed to compute "
                           "its radiomics features the same way.")
    import dataclasses

    from core.imaging.extraction.batch import ExtractionSettings, extract_case

    settings = ExtractionSettings.from_dict(extraction)  # the family's engine (pyradiomics or MIRP) and settings
    if settings.engine == "pyradiomics":
        # Only the image types and classes the score uses (MIRP computes whole families either way).
        settings = dataclasses.replace(settings, params=restricted_params(settings.params, features))
    extracted, _ = extract_case(str(image_path), str(mask_path), settings)
    missing = [f for f in features if f not in extracted]
    if missing:
        raise RadNomoError(f"the extraction did not return feature(s) {missing[:3]}.")
    return pd.Series({f: float(extracted[f]) for f in features}, name=case_id)


def deep_features(image_path: str | Path, mask_path: str | Path, features: Sequence[str], weights: str,
                   case_id: str) -> pd.Series:
    """The listed latent features of one case from an autoencoder's weights (the crop made as in training).

    Raises
    ------
    RadNomoError
        If the images or the weights cannot be read, or the weights give no such feature.
    """
    from core.imaging.deep.data import case_crop
    from core.imaging.deep.features import extract_latents
    from core.imaging.deep.train import load_weights
    from core.imaging.extraction.preprocess import PreprocessConfig

    _, metadata = load_weights(weights)
    preprocess = PreprocessConfig.from_dict(metadata["preprocess"]) if metadata["preprocess"] else PreprocessConfig()
    crop = case_crop(str(image_path), str(mask_path), metadata["config"].crop_size, preprocess)
    latents = extract_latents(weights, crop[None], [case_id]).iloc[0]
    missing = [f for f in features if f not in latents.index]
    if missing:
        raise RadNomoError(f"the autoencoder does not give feature(s) {missing[:3]}.")
    return latents[list(features)].astype(float)


def study_patient_features(study: Study, models: StudyModels, image_path: str | Path, mask_path: str | Path, *,
                           case_id: str = "new patient") -> pd.Series:
    """Every feature the study's scores use, computed from one case's CT and mask, family by family.

    Raises
    ------
    RadNomoError
        If a score uses a family that cannot be recomputed from images (an imported table), or the
        images cannot be read.
    """
    can, cannot = computable_families(study, models)
    if cannot:
        raise RadNomoError(f"the scores use the {', '.join(study.family_label(f) for f in cannot)} features, which "
                           "were imported (their extraction is unknown): a new patient cannot be scored from CT.")
    values = []
    for name, features in _features_by_family(study, models).items():
        family = study.family(name)
        if not features:
            continue
        if family.kind == "radiomics":
            values.append(radiomics_features(image_path, mask_path, features=features, extraction=family.extraction,
                                             case_id=case_id))
        else:
            values.append(deep_features(image_path, mask_path, features, family.autoencoder.weights, case_id))
    return pd.concat(values).rename(case_id) if values else pd.Series(dtype=float, name=case_id)


def score_patient(models: StudyModels, features: pd.Series, clinical: dict, *,
                  model: str | None = None) -> NewPatientResult:
    """Scores and risk of one patient by the frozen models.

    Parameters
    ----------
    features : pandas.Series
        The features the scores use (:func:`study_patient_features`); may be empty for a study
        without scores.
    clinical : dict
        Every clinical predictor of the model (categorical ones by level), and the harmonisation
        column (e.g. scanner) when the study uses ComBat.
    model : str, optional
        "fused" or "clinical"; the fused model when the study has one, by default.
    """
    frame = features.to_frame().T
    if models.harmonisers and len(frame.columns):
        column = models.settings.harmonise_by
        if pd.isna(clinical.get(column)):
            raise RadNomoError(f"the study harmonises features by '{column}' (ComBat): give the patient's {column}.")
        for combat in models.harmonisers.values():
            adjusted = combat.transform(frame, [clinical[column]], partial=True)
            frame[adjusted.columns] = adjusted
    scores = {name: float(score.score(frame).iloc[0]) for name, score in models.scores.items()
              if set(score.features) <= set(frame.columns)}
    name = model or (FUSED if models.fused is not None else CLINICAL)
    chosen = models.model(name)
    row = dict(clinical)
    if name == FUSED:
        if models.fused_score not in scores:
            raise RadNomoError(f"the fused model needs the {models.fused_score} score, which needs its features.")
        row[score_column(models.fused_score)] = scores[models.fused_score]
    missing = [v for v in chosen.variables if v not in row or pd.isna(row[v])]
    if missing:
        raise RadNomoError(f"the {name} model needs a value for {missing}.")
    interval = chosen.predict_interval(pd.DataFrame([row])).iloc[0]
    return NewPatientResult(features=features, scores=scores, model=name, probability=float(interval["probability"]),
                            low=float(interval["low"]), high=float(interval["high"]))


def find_dicom_case(folder: str | Path) -> tuple[Path, Path]:
    """In an unpacked DICOM upload, the CT series folder and the RTSTRUCT or SEG file.

    Raises
    ------
    RadNomoError
        If there is no CT series, no mask object, or more than one of either.
    """
    import pydicom

    series: set[Path] = set()
    masks: list[Path] = []
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file():
            continue
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["Modality"])
        except Exception:  # not DICOM: ignored (README files, thumbnails)  # noqa: BLE001
            continue
        modality = str(getattr(header, "Modality", ""))
        if modality in ("RTSTRUCT", "SEG"):
            masks.append(path)
        elif modality:
            series.add(path.parent)
    if len(series) != 1:
        raise RadNomoError(f"the upload holds {len(series)} image series folders; put exactly one CT series in it.")
    if len(masks) != 1:
        raise RadNomoError(f"the upload holds {len(masks)} RTSTRUCT/SEG files; exactly one tumour mask is needed.")
    return series.pop(), masks[0]


def score_manifest(study: Study, models: StudyModels, manifest: pd.DataFrame, clinical: pd.DataFrame, *,
                   on_case=None) -> pd.DataFrame:
    """Score every case of a manifest (``ID``, ``Image``, ``Mask``) with the study's frozen models.

    ``clinical`` is indexed by patient ID with the clinical predictors. Returns one row per case: ``ID``,
    each ``<family>_score``, ``model``, ``probability``, ``low``, ``high``.
    """
    rows = []
    for case_id, image, mask in manifest[["ID", "Image", "Mask"]].itertuples(index=False):
        if case_id not in clinical.index:
            raise RadNomoError(f"patient {case_id} of the manifest has no clinical row.")
        values = study_patient_features(study, models, image, mask, case_id=case_id)
        result = score_patient(models, values, clinical.loc[case_id].to_dict())
        rows.append({"ID": case_id, **{score_column(k): v for k, v in result.scores.items()}, "model": result.model,
                     "probability": result.probability, "low": result.low, "high": result.high})
        if on_case:
            on_case(case_id, result)
    return pd.DataFrame(rows)
