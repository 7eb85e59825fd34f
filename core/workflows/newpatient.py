"""Score a new patient from CT: only the features the models need, then scores, risk with CI, nomogram points.

The features are computed exactly as for the cohort (the same pre-processing, pyradiomics
parameters restricted to the needed image types and features, and the study's autoencoder), so a
cohort patient scored here gets the score the pipeline gave it.

Command line (a manifest of new patients)::

    python -m core.workflows.newpatient --study STUDY_FOLDER --manifest cases.csv --clinical clinical.csv --out scores.csv
"""

from __future__ import annotations

import argparse
import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.errors import RadNomoError
from core.workflows.fit import FUSED_SCORE, StudyModels

__all__ = ["NewPatientResult", "needed_features", "restricted_params", "patient_features", "score_patient",
           "find_dicom_case", "main"]

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
    return {f for score in models.scores.values() for f in score.features}


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


def patient_features(image_path: str | Path, mask_path: str | Path, *, features: Sequence[str],
                     radiomics_settings: dict | None, ae_weights: str | None,
                     case_id: str = "new patient") -> pd.Series:
    """The listed features of one case: radiomics ones by pyradiomics, ``dl_*`` ones from the autoencoder.

    Parameters
    ----------
    image_path, mask_path : path
        CT and tumour mask (NIfTI, NRRD, MHA, a DICOM folder with an RTSTRUCT or SEG file).
    features : sequence of str
    radiomics_settings : dict or None
        The study's extraction settings (``params``, ``preprocess``, ``label``, ``roi_name``), as
        saved with its feature table.
    ae_weights : path or None
        The study's autoencoder weights (needed for ``dl_*`` features).

    Raises
    ------
    RadNomoError
        If the images cannot be read or the settings / weights the features need are missing.
    """
    radiomic = [f for f in features if not f.startswith("dl_")]
    deep = [f for f in features if f.startswith("dl_")]
    values: dict[str, float] = {}
    if radiomic:
        if not radiomics_settings or "params" not in radiomics_settings:
            raise RadNomoError("the study's radiomics extraction settings are missing; they are needed to compute "
                               "its radiomics features the same way.")
        from core.imaging.extraction.batch import ExtractionSettings, extract_case
        from core.imaging.extraction.preprocess import PreprocessConfig

        settings = ExtractionSettings(params=restricted_params(radiomics_settings["params"], radiomic),
                                      preprocess=PreprocessConfig.from_dict(radiomics_settings["preprocess"]),
                                      label=radiomics_settings.get("label", 1),
                                      roi_name=radiomics_settings.get("roi_name"))
        extracted, _ = extract_case(str(image_path), str(mask_path), settings)
        missing = [f for f in radiomic if f not in extracted]
        if missing:
            raise RadNomoError(f"pyradiomics did not return feature(s) {missing[:3]}.")
        values.update({f: float(extracted[f]) for f in radiomic})
    if deep:
        if not ae_weights:
            raise RadNomoError("the study's autoencoder weights are missing; they are needed for its deep features.")
        from core.imaging.deep.data import case_crop
        from core.imaging.deep.features import extract_latents
        from core.imaging.deep.train import load_weights
        from core.imaging.extraction.preprocess import PreprocessConfig

        _, metadata = load_weights(ae_weights)
        preprocess = PreprocessConfig.from_dict(metadata["preprocess"]) if metadata["preprocess"] \
            else PreprocessConfig()
        crop = case_crop(str(image_path), str(mask_path), metadata["config"].crop_size, preprocess)
        latents = extract_latents(ae_weights, crop[None], [case_id]).iloc[0]
        values.update({f: float(latents[f]) for f in deep})
    return pd.Series(values, name=case_id)[list(features)]


def score_patient(models: StudyModels, features: pd.Series, clinical: dict) -> NewPatientResult:
    """Scores and risk (fused model when the study has one, else clinical) of one patient.

    ``clinical`` maps every clinical predictor of the model to the patient's value (categorical
    ones by level), and the harmonisation column (e.g. scanner) when the study uses ComBat.
    """
    frame = features.to_frame().T
    if models.harmonisers:
        column = models.settings.harmonise_by
        if pd.isna(clinical.get(column)):
            raise RadNomoError(f"the study harmonises features by '{column}' (ComBat): give the patient's {column}.")
        for combat in models.harmonisers.values():
            adjusted = combat.transform(frame, [clinical[column]], partial=True)
            frame[adjusted.columns] = adjusted
    scores = {name: float(score.score(frame).iloc[0]) for name, score in models.scores.items()}
    model = models.fused if models.fused is not None else models.clinical
    name = "fused" if models.fused is not None else "clinical"
    row = dict(clinical)
    if name == "fused":
        row[f"{FUSED_SCORE}_score"] = scores[FUSED_SCORE]
    missing = [v for v in model.variables if v not in row or pd.isna(row[v])]
    if missing:
        raise RadNomoError(f"the {name} model needs a value for {missing}.")
    interval = model.predict_interval(pd.DataFrame([row])).iloc[0]
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.workflows.newpatient",
                                     description="Score new patients with a saved study's frozen models.")
    parser.add_argument("--study", required=True, help="saved study folder")
    parser.add_argument("--manifest", required=True, help="CSV with ID,Image,Mask (paths relative to it)")
    parser.add_argument("--clinical", required=True, help="CSV with the ID column and the clinical predictors")
    parser.add_argument("--out", required=True, help="output CSV")
    args = parser.parse_args(argv)
    from core.io.tables import read_table
    from core.imaging.extraction.batch import read_manifest
    from core.workflows.persistence import load_study

    study = load_study(args.study)
    if study.models is None:
        raise RadNomoError("the saved study has no fitted models; fit them (Models page) and save it again.")
    manifest = read_manifest(args.manifest)
    clinical = read_table(args.clinical).set_index(study.spec.id_column)
    features = sorted(needed_features(study.models))
    rows = []
    for case_id, image, mask in manifest[["ID", "Image", "Mask"]].itertuples(index=False):
        if case_id not in clinical.index:
            raise RadNomoError(f"patient {case_id} of the manifest has no row in {Path(args.clinical).name}.")
        values = patient_features(image, mask, features=features, radiomics_settings=study.radiomics_settings,
                                  ae_weights=study.ae_weights, case_id=case_id)
        result = score_patient(study.models, values, clinical.loc[case_id].to_dict())
        rows.append({"ID": case_id, **{f"{k}_score": v for k, v in result.scores.items()}, "model": result.model,
                     "probability": result.probability, "low": result.low, "high": result.high})
        print(f"{case_id}: {result.model} risk {result.probability:.3f} ({result.low:.3f}-{result.high:.3f})")
    pd.DataFrame(rows).to_csv(args.out, index=False)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except RadNomoError as error:
        raise SystemExit(f"error: {error}") from None
