"""Score a new patient from CT: only the features the models need, then scores, risk with CI, nomogram points.

The features are computed exactly as for the cohort (the same pre-processing, pyradiomics
parameters restricted to the needed image types and features, and the study's autoencoder), so a
cohort patient scored here gets the score the pipeline gave it.

A time-to-event study's patient gets the model's predicted survival at the outcome's horizons with the Cox model's
95 % confidence intervals and the whole predicted survival curve (:class:`SurvivalPatientResult`); a binary study's
gets the risk with its CI (:class:`NewPatientResult`).

A study with comparator learners (issue 31: random forest, SVM, XGBoost, elastic net beside each family's score)
gives each comparator's prediction too, from the patient's features as the models read them (harmonised with the
training ComBat, as the scores get them); :func:`explain_patient` gives the SHAP explanation of this patient by any
score or comparator (:func:`explainable_models`), against the training patients.

Command line (a manifest of new patients)::

    python -m core.cli.newpatient --study STUDY_FOLDER --manifest cases.csv --clinical clinical.csv --out scores.csv
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.stats.learners.base import FittedModel
from core.stats.learners.explain import explainable
from core.vocabulary import FUSED, horizon_column, score_column, survival_column
from core.workflows.fit import StudyModels
from core.workflows.sources import source_of
from core.workflows.study import Study

if TYPE_CHECKING:  # only the type: the explanations (core.workflows.explanations) are imported where they are used
    from core.stats.explanations import Explanation

__all__ = ["NewPatientResult", "SurvivalPatientResult", "training_percentile", "training_survival_curve",
           "needed_features", "restricted_params", "radiomics_features", "deep_features",
           "study_patient_features",
           "computable_families", "score_patient", "find_dicom_case", "score_manifest", "CasePreview", "check_case",
           "preview_case", "clinical_outside_range", "patient_outside_range", "MAX_MASK_LABELS", "AIR_HU",
           "explainable_models", "patient_model_features", "explain_patient"]

# What the two images of a case must be. A mask is a label image: a few integer values (0 and the ROI's
# labels). A CT in Hounsfield units holds thousands of values, down to the air around the body (about
# -1000 HU); a CT with nothing below AIR_HU is an MRI, a CT without its rescale, or not a CT at all.
MAX_MASK_LABELS = 20
AIR_HU = -200.0
# Whether an image is a label image is decided on at most this many voxels taken at regular steps (a CT
# has more distinct values than MAX_MASK_LABELS in any such sample; a mask has no other values to find).
_SAMPLED_VOXELS = 2_000_000

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
        The radiomics and deep features the scores and comparators use (as extracted).
    scores : dict
        Score name -> log-odds (radiomics, dl, dl_radiomics where the study has them).
    model : str
        "fused", "clinical" or a score's family (a study of scores alone): the model giving the risk.
    probability, low, high : float
        Predicted risk and its 95 % confidence interval.
    comparators : dict
        Comparator model name (e.g. "radiomics_random_forest") -> its predicted risk of the event (0-1; NaN where
        a feature value is missing): what :meth:`StudyModels.predict` puts in its column. Empty without comparators.
    inputs : pandas.Series or None
        The features as the models read them (harmonised with the training ComBat where the study harmonises,
        else ``features``): what the scores and comparators were computed from and what
        :func:`explain_patient` explains. None: the same as ``features``.
    """

    features: pd.Series
    scores: dict[str, float]
    model: str
    probability: float
    low: float
    high: float
    comparators: dict[str, float] = field(default_factory=dict)
    inputs: pd.Series | None = None

    @property
    def risk(self) -> float:
        """The predicted risk of the event (0-1): :attr:`probability`."""
        return self.probability

    @property
    def prediction(self) -> float:
        """What :meth:`StudyModels.predict` puts in the model's column for this patient: the probability."""
        return self.probability

    def comparator_risks(self) -> dict[str, float]:
        """Comparator model name -> its predicted risk of the event (0-1): :attr:`comparators`."""
        return dict(self.comparators)

    def summary(self) -> dict[str, float]:
        """The result as one row of :func:`score_manifest`'s table: ``probability``, ``low``, ``high``, then each
        comparator's predicted risk under its model name (the column :meth:`StudyModels.predict` gives it)."""
        return {"probability": self.probability, "low": self.low, "high": self.high, **self.comparators}

    def headline(self) -> str:
        """The result in one line, e.g. ``fused risk 0.412 (0.350-0.477)``."""
        return f"{self.model} risk {self.probability:.3f} ({self.low:.3f}-{self.high:.3f})"


@dataclass(frozen=True)
class SurvivalPatientResult:
    """One patient of a time-to-event study scored by its frozen models.

    Attributes
    ----------
    features : pandas.Series
        The radiomics and deep features the scores use.
    scores : dict
        Score name -> linear predictor (log relative hazard: higher, higher hazard).
    model : str
        "fused", "clinical" or a score's family (a study of scores alone): the model giving the survival.
    linear_predictor : float
        What :meth:`StudyModels.predict` puts in the model's column for this patient: the model's linear predictor
        (a score alone: the score itself).
    survival : pandas.DataFrame
        One row per horizon of the outcome (its time unit): ``horizon``, ``survival`` (predicted probability of
        being event-free then), ``low``, ``high`` (the Cox model's 95 % confidence interval, as
        ``summary(survfit(fit, newdata), times)``; NaN for a model without a variance matrix).
    curve : pandas.DataFrame
        The whole predicted survival curve: ``time`` (every step of the model's baseline hazard up to the last
        training follow-up), ``survival``, ``low``, ``high``.
    interval_note : str or None
        Why the confidence limits are missing (a model without a variance matrix), None when they are given.
    comparators : dict
        The comparators' columns of :meth:`StudyModels.predict` for this patient: ``<name>`` (the comparator's
        linear predictor) and ``<name>@surv_<h>`` (its predicted survival at each horizon,
        :func:`core.vocabulary.survival_column`). Empty without comparators.
    inputs : pandas.Series or None
        The features as the models read them (harmonised where the study harmonises); None: ``features``.
    """

    features: pd.Series
    scores: dict[str, float]
    model: str
    linear_predictor: float
    survival: pd.DataFrame
    curve: pd.DataFrame
    interval_note: str | None = None
    comparators: dict[str, float] = field(default_factory=dict)
    inputs: pd.Series | None = None

    @property
    def risk(self) -> float:
        """The predicted risk of the event by the first horizon (0-1): 1 - survival there."""
        return float(1.0 - self.survival["survival"].iloc[0])

    @property
    def prediction(self) -> float:
        """What :meth:`StudyModels.predict` puts in the model's column: :attr:`linear_predictor`."""
        return self.linear_predictor

    def comparator_risks(self) -> dict[str, float]:
        """Comparator model name -> its predicted risk of the event by the first horizon (0-1): 1 - its survival
        there, as :attr:`risk` is the model's (NaN where it has none)."""
        first = float(self.survival["horizon"].iloc[0])
        # One linear predictor's column per comparator, named as the model; its survival columns are "<name>@...".
        names = [c for c in self.comparators if "@" not in c]
        return {name: 1.0 - self.comparators.get(survival_column(name, first), float("nan")) for name in names}

    def summary(self) -> dict[str, float]:
        """The result as one row of :func:`score_manifest`'s table: ``linear_predictor``, then per horizon h
        ``surv_<h>``, ``surv_<h>_low``, ``surv_<h>_high`` (:func:`core.vocabulary.horizon_column`), then the
        comparators' columns (:attr:`comparators`)."""
        row = {"linear_predictor": self.linear_predictor}
        for horizon, value, low, high in self.survival[["horizon", "survival", "low", "high"]].itertuples(
                index=False):
            row.update({horizon_column(horizon): value, horizon_column(horizon, "low"): low,
                        horizon_column(horizon, "high"): high})
        return {**row, **self.comparators}

    def headline(self) -> str:
        """The result in one line, e.g. ``fused survival at 12: 0.912 (0.880-0.945); at 36: ...``."""
        return f"{self.model} survival " + "; ".join(
            f"at {h:g}: {v:.3f} ({low:.3f}-{high:.3f})"
            for h, v, low, high in self.survival[["horizon", "survival", "low", "high"]].itertuples(index=False))


PatientResult = NewPatientResult | SurvivalPatientResult


def needed_features(models: StudyModels) -> set[str]:
    """Every feature any of the study's scores or comparators uses."""
    return models.needed_features()


def _features_by_family(study: Study, models: StudyModels) -> dict[str, list[str]]:
    """Single family -> the features of it that the scores and comparators use (in the family table's order)."""
    needed = models.needed_features()
    used = {m for score in models.scores for m in models.members[score]}
    for name in models.comparators:
        # A comparator's family is read as well; one that only a comparator reads and that cannot be recomputed from
        # CT (an imported table) is left out: the scores decide whether a patient can be scored
        # (computable_families), and such a comparator then gives no prediction (score_patient skips it).
        used |= {m for m in models.members[name]
                 if m in used or source_of(study.family(m)).scorable_from_images(study.family(m))}
    return {f.name: [c for c in f.table.columns if c in needed] for f in study.families if f.name in used}


def computable_families(study: Study, models: StudyModels) -> tuple[list[str], list[str]]:
    """(families whose features can be recomputed from a new CT, families that cannot: imported tables,
    or missing extraction settings / weights), among those the scores use (and those only a comparator uses,
    when they can be recomputed)."""
    can: list[str] = []
    cannot: list[str] = []
    for name in _features_by_family(study, models):
        family = study.family(name)
        ok = source_of(family).scorable_from_images(family)
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
    if settings.engine_type.computes_only_asked:
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
    """Every feature the study's scores and comparators use, computed from one case's CT and mask, family by
    family (only the features the models need: :meth:`StudyModels.needed_features`).

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
        if source_of(family).recorded_extraction(family):  # an engine's settings (else an autoencoder's weights)
            values.append(radiomics_features(image_path, mask_path, features=features, extraction=family.extraction,
                                             case_id=case_id))
        elif family.autoencoder is not None:
            values.append(deep_features(image_path, mask_path, features, family.autoencoder.weights, case_id))
        else:  # computable_families refused such a family already; said here rather than an AttributeError
            raise RadNomoError(f"the {family.label} features have neither extraction settings nor autoencoder "
                               "weights: a new patient cannot be scored from CT.")
    return pd.concat(values).rename(case_id) if values else pd.Series(dtype=float, name=case_id)


def score_patient(models: StudyModels, features: pd.Series, clinical: dict, *,
                  model: str | None = None, risk_model: FittedModel | None = None) -> PatientResult:
    """Scores and risk of one patient by the frozen models.

    Parameters
    ----------
    features : pandas.Series
        The features the scores and comparators use (:func:`study_patient_features`); may be empty for a
        study without scores. A comparator whose features are not all given is left out of the result.
    clinical : dict
        Every clinical predictor of the model (categorical ones by level), and the harmonisation
        column (e.g. scanner) when the study uses ComBat.
    model : str, optional
        "fused", "clinical" or a score's family (a study of scores alone); by default the study's
        main model (:attr:`StudyModels.main_model`).
    risk_model : FittedModel, optional
        For a score: its model of the outcome on the training cohort (:meth:`StudyModels.score_model`: a
        logistic model, or a Cox model for a time-to-event study), which gives the risk and its CI.

    Returns
    -------
    NewPatientResult or SurvivalPatientResult
        By the study's outcome kind (:attr:`StudyModels.outcome_kind`): a binary study's risk with its CI, a
        time-to-event study's survival at each horizon with its CI and the predicted survival curve; each with
        the comparators' predictions from the same (harmonised) features as the scores.
    """
    frame = features.to_frame().T
    if models.harmonisers and len(frame.columns):
        column = models.settings.harmonise_by
        if pd.isna(clinical.get(column)):
            raise RadNomoError(f"the study harmonises features by '{column}' (ComBat): give the patient's {column}.")
        for combat in models.harmonisers.values():
            adjusted = combat.transform(frame, [clinical[column]], partial=True)
            frame[adjusted.columns] = adjusted
    scores = {name: float(score.linear_predictor(frame).iloc[0]) for name, score in models.scores.items()
              if set(score.variables) <= set(frame.columns)}
    # The comparators read the same harmonised features as the scores (StudyModels.predict gives them the
    # imputed, harmonised tables; a new patient's extracted features are complete, so only ComBat applies).
    comparators: dict[str, float] = {}
    for comparator, fitted in models.comparators.items():
        if set(fitted.variables) <= set(frame.columns):
            comparators.update(_COMPARATOR_COLUMNS[models.outcome_kind](comparator, fitted, frame))
    inputs = frame.iloc[0].rename(features.name) if len(frame) else features
    name = model or models.main_model
    row = dict(clinical)
    chosen: FittedModel  # the score's model of the outcome or a multivariable model: both are FittedModels
    if name in models.scores:  # a study of scores alone: the risk is the score's model of the outcome
        if risk_model is None:
            raise RadNomoError(f"the {name} score's risk needs its {_SCORE_MODELS[models.outcome_kind]} "
                               "(StudyModels.score_model).")
        chosen = risk_model
    else:
        chosen = models.model(name)
    needs = models.fused_score if name == FUSED else name if name in models.scores else None
    if needs is not None:
        if needs not in scores:
            raise RadNomoError(f"the {name} model needs the {needs} score, which needs its features.")
        row[score_column(needs)] = scores[needs]
    missing = [v for v in chosen.variables if v not in row or pd.isna(row[v])]
    if missing:
        raise RadNomoError(f"the {name} model needs a value for {missing}.")
    result = _PATIENT_READERS[models.outcome_kind](chosen, pd.DataFrame([row]), name=name, features=features,
                                                   scores=scores)
    return replace(result, comparators=comparators, inputs=inputs)


def _binary_comparator(name: str, model: FittedModel, frame: pd.DataFrame) -> dict[str, float]:
    """A binary study's comparator column for the one patient of ``frame``: its predicted risk (as
    :meth:`StudyModels.predict` fills it)."""
    return {name: float(model.predict_risk(frame).iloc[0])}


def _survival_comparator(name: str, model: FittedModel, frame: pd.DataFrame) -> dict[str, float]:
    """A time-to-event study's comparator columns for the one patient of ``frame``, as :meth:`StudyModels.predict`
    fills them: its linear predictor and its predicted survival at each of its horizons."""
    out = {name: float(model.linear_predictor(frame).iloc[0])}
    survival = model.predict_survival(frame).iloc[0]  # type: ignore[attr-defined]  # every survival model has it
    for horizon in model.horizons:  # type: ignore[attr-defined]
        out[survival_column(name, horizon)] = float(survival[horizon_column(horizon)])
    return out


def _binary_patient(chosen: FittedModel, row: pd.DataFrame, *, name: str, features: pd.Series,
                    scores: dict[str, float]) -> NewPatientResult:
    """A binary study's patient: the model's risk with its 95 % CI (``row``: the model's inputs, one row)."""
    predict_interval = getattr(chosen, "predict_interval", None)  # the protocol promises a risk, not its interval
    if predict_interval is None:
        raise RadNomoError(f"the {name} model ({chosen.learner}) gives no confidence interval for a patient's "
                           "risk; choose a model whose learner does (logistic regression).")
    interval = predict_interval(row).iloc[0]
    return NewPatientResult(features=features, scores=scores, model=name, probability=float(interval["probability"]),
                            low=float(interval["low"]), high=float(interval["high"]))


def _survival_patient(chosen: FittedModel, row: pd.DataFrame, *, name: str, features: pd.Series,
                      scores: dict[str, float]) -> SurvivalPatientResult:
    """A time-to-event study's patient: the Cox model's survival at its horizons with the 95 % CI, and the whole
    predicted curve (``row``: the model's inputs, one row)."""
    predict_survival = getattr(chosen, "predict_survival", None)  # every survival learner's model has it
    if predict_survival is None:
        raise RadNomoError(f"the {name} model ({chosen.learner}) predicts no survival; a time-to-event study's "
                           "models are Cox models.")
    horizons = [float(h) for h in chosen.horizons]  # type: ignore[attr-defined]  # the outcome's, checked at the fit
    at = predict_survival(row, horizons).iloc[0]
    survival = pd.DataFrame({"horizon": horizons, "survival": [float(at[horizon_column(h)]) for h in horizons],
                             "low": [float(at[horizon_column(h, "low")]) for h in horizons],
                             "high": [float(at[horizon_column(h, "high")]) for h in horizons]})
    if survival["survival"].isna().any():
        raise RadNomoError(f"the {name} model could not predict this patient's survival (a level it was not "
                           "trained on?); check the clinical values.")
    # Every step of the baseline hazard (and the last follow-up): the predicted survival is a step function
    # there, so this is the whole curve, not a sample of it.
    times = chosen.baseline["time"].to_numpy(dtype=float)  # type: ignore[attr-defined]
    steps = predict_survival(row, times).iloc[0]
    curve = pd.DataFrame({"time": times, "survival": [float(steps[horizon_column(t)]) for t in times],
                          "low": [float(steps[horizon_column(t, "low")]) for t in times],
                          "high": [float(steps[horizon_column(t, "high")]) for t in times]})
    # A score alone: the study's predictions carry the score itself as its linear predictor.
    linear_predictor = scores[name] if name in scores else float(chosen.linear_predictor(row).iloc[0])
    note = None if survival[["low", "high"]].notna().all().all() else (
        f"The {name} model ({chosen.learner}) has no variance matrix (penalised coefficients), so its survival has "
        "no confidence interval.")
    return SurvivalPatientResult(features=features, scores=scores, model=name, linear_predictor=linear_predictor,
                                 survival=survival, curve=curve, interval_note=note)


# How each outcome kind reads a patient off the chosen model, and what a score's model of the outcome is (the one
# place the kinds are told apart here; StudyModels.outcome_kind).
_PATIENT_READERS: dict[str, Callable[..., PatientResult]] = {"binary": _binary_patient,
                                                             "survival": _survival_patient}
_SCORE_MODELS = {"binary": "logistic model", "survival": "Cox model"}
_COMPARATOR_COLUMNS: dict[str, Callable[[str, FittedModel, pd.DataFrame], dict[str, float]]] = {
    "binary": _binary_comparator, "survival": _survival_comparator}


def explainable_models(models: StudyModels, result: PatientResult) -> list[str]:
    """The models whose SHAP explanation of this patient can be given: every explained model
    (:func:`core.workflows.explanations.explained_models`: the scores and the comparators) that SHAP explains
    (not a Cox score) and whose features the patient has, all of them with a value; in display order. Empty for a
    patient scored without features."""
    from core.workflows.explanations import explained_models

    inputs = result.features if result.inputs is None else result.inputs
    return [name for name in explained_models(models)
            if explainable(models[name]) and set(models[name].variables) <= set(inputs.index)
            and bool(inputs[list(models[name].variables)].notna().all())]


def patient_model_features(models: StudyModels, result: PatientResult, name: str) -> pd.DataFrame:
    """The features model ``name`` reads for this patient, as the models read them (harmonised where the study
    harmonises): one row indexed by the patient's ID (``result.features.name``, else "new patient"), the model's
    features as columns, in its order; what :func:`core.workflows.explanations.patient_explanation` takes.

    Raises
    ------
    RadNomoError
        When the study has no such model or the patient lacks one of its features.
    """
    if name not in models:
        raise RadNomoError(f"the study has no {name} model; its models are {list(models)}.")
    inputs = result.features if result.inputs is None else result.inputs
    variables = list(models[name].variables)
    lacking = [v for v in variables if v not in inputs.index]
    if lacking:
        raise RadNomoError(f"this patient was scored without feature(s) {lacking[:3]} that the {name} model reads; "
                           "score the patient from its CT to explain it.")
    patient = str(result.features.name) if result.features.name is not None else "new patient"
    return inputs[variables].astype(float).rename(patient).to_frame().T


def explain_patient(study: Study, models: StudyModels, result: PatientResult, name: str) -> Explanation:
    """SHAP explanation of this patient by model ``name`` (a score or a comparator: :func:`explainable_models`),
    against the model's training patients as background, on the model's output scale (log-odds, probability, or a
    time-to-event comparator's log relative hazard: the explanation's ``output`` says which); ``base_value`` + the
    patient's SHAP values = the model's output for the patient.

    Raises
    ------
    RadNomoError
        For a model that is not explained (the clinical and fused models are read on their nomogram) or a feature
        the patient lacks.
    """
    from core.workflows.explanations import patient_explanation

    return patient_explanation(study, models, name, patient_model_features(models, result, name))


def training_percentile(study: Study, predictions: pd.DataFrame, result: PatientResult) -> float:
    """Share (0-100) of the training patients whose prediction by the same model ranks below the patient's: a
    lower predicted risk (binary) or a lower linear predictor, i.e. a lower hazard (time to event).

    ``predictions`` is :meth:`StudyModels.predict` of the study's patients."""
    from core.stats.summaries import risk_percentile

    if result.model not in predictions.columns:
        raise RadNomoError(f"the study's predictions have no {result.model} column to compare the patient with.")
    return risk_percentile(result.prediction, predictions.loc[study.train_ids, result.model])


def training_survival_curve(study: Study) -> pd.DataFrame:
    """The training patients' Kaplan-Meier curve, to set a new patient's predicted curve against: ``time`` (the
    outcome's unit), ``survival``, ``low``, ``high`` (95 %, log scale as survfit's).

    Raises
    ------
    RadNomoError
        If the study's outcome has no time (a binary outcome).
    """
    from core.stats.survival.kaplan_meier import kaplan_meier

    arrays = getattr(study.spec.outcome, "arrays", None)
    if arrays is None:
        raise RadNomoError("the study's outcome has no follow-up time, so it has no survival curve.")
    km = kaplan_meier(*arrays(study.train))
    return pd.DataFrame({"time": km.time, "survival": km.survival, "low": km.lower, "high": km.upper})


def find_dicom_case(folder: str | Path) -> tuple[Path, Path]:
    """In an unpacked DICOM upload, the CT series folder and the RTSTRUCT or SEG file.

    Raises
    ------
    RadNomoError
        If there is no CT series, no mask object, or more than one of either.
    """
    from core.imaging.extraction.readers import MASK_MODALITIES, dicom_modality

    series: set[Path] = set()
    masks: list[Path] = []
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file():
            continue
        modality = dicom_modality(path)  # None: not DICOM, ignored (README files, thumbnails)
        if modality in MASK_MODALITIES:
            masks.append(path)  # a SEG may sit in its CT's folder: that folder is still the series
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

    ``clinical`` is indexed by patient ID with the clinical predictors. Each case's images are checked
    first (:func:`check_case`: a CT and a mask swapped between the manifest's columns are refused). Returns
    one row per case: ``ID``, each ``<family>_score``, ``model``, the result's :meth:`~NewPatientResult.summary`
    (binary: ``probability``, ``low``, ``high``; time to event: ``linear_predictor`` and ``surv_<h>``,
    ``surv_<h>_low``, ``surv_<h>_high`` per horizon; then each comparator's columns under its model name, e.g.
    ``radiomics_random_forest``: its predicted risk) and ``outside_training_range`` (why the patient is outside it,
    :func:`patient_outside_range`; empty if not).
    """
    name = models.main_model
    risk_model = None
    if name in models.scores:  # a study of scores alone: the risk is the main score's model of the outcome
        from core.workflows.fit import predict_study

        risk_model = models.score_model(study, predict_study(study, models), name)
    rows = []
    for case_id, image, mask in manifest[["ID", "Image", "Mask"]].itertuples(index=False):
        if case_id not in clinical.index:
            raise RadNomoError(f"patient {case_id} of the manifest has no clinical row.")
        try:
            preview_case(study, image, mask)
        except RadNomoError as error:
            raise RadNomoError(f"patient {case_id}: {error}") from error
        values = study_patient_features(study, models, image, mask, case_id=case_id)
        result = score_patient(models, values, clinical.loc[case_id].to_dict(), model=name, risk_model=risk_model)
        rows.append({"ID": case_id, **{score_column(k): v for k, v in result.scores.items()}, "model": result.model,
                     **result.summary(), "outside_training_range": patient_outside_range(study, models, result) or ""})
        if on_case:
            on_case(case_id, result)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class CasePreview:
    """A new patient's CT and mask checked for what they are, and the axial slice to show them on.

    Attributes
    ----------
    ct_slice, mask_slice : numpy.ndarray
        (rows, columns): the axial slice with the largest ROI area, in HU and 0/1.
    slice_index, n_slices : int
        That slice (from 0) and the CT's number of slices.
    pixel_mm : (float, float)
        (column, row) pixel size in mm.
    ct_range : (float, float)
        The CT's lowest and highest value.
    roi_voxels, roi_slices : int
        The ROI's size in voxels and the number of slices it is on.
    warnings : tuple of str
        Doubts that do not stop the scoring (e.g. a CT without air values), in words.
    """

    ct_slice: np.ndarray
    mask_slice: np.ndarray
    slice_index: int
    n_slices: int
    pixel_mm: tuple[float, float]
    ct_range: tuple[float, float]
    roi_voxels: int
    roi_slices: int
    warnings: tuple[str, ...] = ()


def _label_values(array: np.ndarray) -> np.ndarray | None:
    """The distinct values of a label image (at most MAX_MASK_LABELS integers), None when it is not one."""
    step = max(1, int(round((array.size / _SAMPLED_VOXELS) ** (1 / 3))))
    sample = np.unique(array[::step, ::step, ::step] if array.ndim == 3 else array)
    if len(sample) > MAX_MASK_LABELS or not np.all(np.mod(sample, 1) == 0):
        return None
    values = np.unique(array)  # the sample says label image: every voxel confirms it
    return values if len(values) <= MAX_MASK_LABELS and np.all(np.mod(values, 1) == 0) else None


def _shown(values: np.ndarray) -> str:
    return ", ".join(f"{v:g}" for v in values[:6]) + (", ..." if len(values) > 6 else "")


def check_case(image_path: str | Path, mask_path: str | Path, *, label: int | None = 1,
               roi_name: str | None = None) -> CasePreview:
    """Check that a case's CT is a CT and its mask a label image on the CT's grid, and pick the slice to show.

    Parameters
    ----------
    image_path : path
        The CT: a volume file or a DICOM series folder.
    mask_path : path
        The mask: a label volume, a .seg.nrrd, a DICOM RTSTRUCT or SEG file (or its folder).
    label, roi_name
        The ROI, as the study's extraction reads it (:func:`core.imaging.extraction.readers.read_mask`).

    Returns
    -------
    CasePreview

    Raises
    ------
    RadNomoError
        If the CT and the mask are swapped between their boxes, the CT is a label image, the mask
        is not one, the ROI is absent, or the mask is not on the CT's grid (and as the readers).
    """
    import SimpleITK as sitk

    from core.imaging.extraction.readers import is_volume_file, read_image, read_mask

    image = read_image(image_path)
    ct = sitk.GetArrayViewFromImage(image)
    image_labels = _label_values(ct)
    mask_path = Path(mask_path)
    if is_volume_file(mask_path) and not mask_path.name.lower().endswith(".seg.nrrd"):
        mask_image = read_image(mask_path)  # kept: the array view below reads its buffer
        mask_array = sitk.GetArrayViewFromImage(mask_image)
        mask_labels = _label_values(mask_array)
        if mask_labels is None:
            if image_labels is not None:
                raise RadNomoError(
                    f"the CT and the mask seem swapped: the CT box holds a label image (values {_shown(image_labels)}) "
                    f"and the mask box an image with values from {mask_array.min():g} to {mask_array.max():g}. Put "
                    "the CT in the CT box and the tumour mask in the mask box.")
            raise RadNomoError(f"the mask '{mask_path.name}' is not a label image: it holds more than "
                               f"{MAX_MASK_LABELS} distinct values (from {mask_array.min():g} to "
                               f"{mask_array.max():g}), as a CT does. Give the tumour's segmentation (0 outside, "
                               "its label inside).")
    if image_labels is not None:
        raise RadNomoError(f"the CT '{Path(image_path).name}' is a label image (values {_shown(image_labels)}), not a "
                           "CT: give the CT in the CT box and its tumour mask in the mask box.")
    low, high = float(ct.min()), float(ct.max())
    warnings = []
    if low > AIR_HU:
        warnings.append(f"The CT's lowest value is {low:g}: a CT in Hounsfield units holds air (about -1000 HU) "
                        f"below {AIR_HU:g}. If this is an MRI, or a CT stored without its rescale, its features are "
                        "not comparable with the study's.")
    mask = sitk.GetArrayFromImage(read_mask(mask_path, image, label=label, roi_name=roi_name))
    area = mask.sum(axis=(1, 2))
    index = int(np.argmax(area))  # the slice through the largest part of the ROI
    spacing = image.GetSpacing()
    return CasePreview(ct_slice=np.array(ct[index]), mask_slice=mask[index], slice_index=index, n_slices=ct.shape[0],
                       pixel_mm=(float(spacing[0]), float(spacing[1])), ct_range=(low, high),
                       roi_voxels=int(mask.sum()), roi_slices=int((area > 0).sum()), warnings=tuple(warnings))


def preview_case(study: Study, image_path: str | Path, mask_path: str | Path) -> CasePreview:
    """:func:`check_case` with the ROI the study's radiomics extraction reads (label 1 by default)."""
    extraction = next(filter(None, (source_of(f).recorded_extraction(f) for f in study.families)), None) or {}
    return check_case(image_path, mask_path, label=extraction.get("label", 1), roi_name=extraction.get("roi_name"))


def clinical_outside_range(study: Study, values: dict) -> list[str]:
    """The continuous clinical values outside the training patients' range, each as a sentence.

    ``values`` holds a new patient's clinical values by variable; others than the study's continuous
    variables are not checked (a categorical value is one of the training levels by construction).
    """
    from core.workflows.external import training_limits

    columns = [v for v in study.spec.continuous if v in values and not pd.isna(values[v])]
    if not columns:
        return []
    limits = training_limits(study.train[columns], margin_sd=0.0)
    return [f"{study.label(v)} = {values[v]:g} is outside the training range ({limits.at[v, 'train_min']:g} to "
            f"{limits.at[v, 'train_max']:g}): the model extrapolates there." for v in columns
            if not limits.at[v, "train_min"] <= float(values[v]) <= limits.at[v, "train_max"]]


def patient_outside_range(study: Study, models: StudyModels, result: PatientResult) -> str | None:
    """Why a scored patient is outside the training range (:func:`core.workflows.external.outside_training_range`:
    a feature far beyond the training range, or a risk within 1e-6 of 0 or 1: a time-to-event study's risk of the
    event by its first horizon), None when it is not."""
    from core.workflows.external import outside_training_range, study_limits

    name = result.features.name or "new patient"
    features = result.features.rename(name).to_frame().T
    risk = pd.DataFrame({result.model: [result.risk]}, index=features.index)
    table = outside_training_range(study_limits(study, models), features, risk)
    if table.empty:
        return None
    row = table.iloc[0]
    details = "; ".join(filter(None, [row["features"], row["extreme_risk"]]))
    return f"{row['reason']}: {details}."
