"""SHAP explanations of a study's scores and comparator learners (:mod:`core.stats.explanations` does the SHAP).

Each score (the LASSO's, exact linear SHAP on its log-odds) and each comparator learner (TreeSHAP for the tree
ensembles, the learner's own method otherwise) is explained on the training patients it was fitted on (at most
:data:`EXPLAINED_PATIENTS`, a seeded sample beyond that: KernelSHAP-like methods cost per patient), against a
background of training patients, on the features as the models see them (the training cohort's missing-value
handling and harmonisation applied). A new patient is explained the same way (:func:`patient_explanation`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.stats.explanations import Explanation
from core.stats.learners.explain import explain
from core.vocabulary import COMPARATOR_ROLE, SCORE_ROLE
from core.workflows.fit import StudyModels, joined_tables
from core.workflows.study import Study

__all__ = ["EXPLAINED_PATIENTS", "EXPLAINED_ROLES", "explained_models", "model_features", "study_explanations",
           "patient_explanation", "shap_table", "SHAP_COLUMNS"]

# The most training patients a model's SHAP summary explains (a seeded sample of them beyond it): enough for a
# summary plot's spread, and a model-agnostic explainer's cost grows with every patient.
EXPLAINED_PATIENTS = 300
# The roles whose models are explained: the scores (the LASSO's, or the study's score method) and the comparators.
EXPLAINED_ROLES = (SCORE_ROLE, COMPARATOR_ROLE)
# The columns of shap.csv and of the Models page's table.
SHAP_COLUMNS = ("model", "label", "feature", "mean_abs_shap", "rank", "output", "method", "n_patients")


def explained_models(models: StudyModels) -> list[str]:
    """The models a study explains: every score and comparator, in display order."""
    return [name for name in models.model_names if models.roles[name] in EXPLAINED_ROLES]


def model_features(study: Study, models: StudyModels, name: str, ids: Sequence[str] | None = None, *,
                   tables: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """The features model ``name`` reads for the patients ``ids`` (default: the training patients), as the models
    see them: the training cohort's missing-value handling and harmonisation applied (index: patient ID).
    ``tables``: :func:`_model_tables` already computed (one imputation and harmonisation for many models)."""
    if name not in models.members:
        raise RadNomoError(f"'{name}' reads no feature family; the explained models are {explained_models(models)}.")
    ids = list(models.train_ids if ids is None else ids)
    tables = _model_tables(study, models) if tables is None else tables
    return joined_tables(tables, models.members[name]).reindex(ids)[list(models[name].variables)]


def _model_tables(study: Study, models: StudyModels) -> dict[str, pd.DataFrame]:
    """The study's single-family tables as the models see them (training imputation, then harmonisation)."""
    cohort, tables = models.imputed(study.cohort, study.feature_tables())
    return models.harmonised(tables, cohort)


def study_explanations(study: Study, models: StudyModels, *, seed: int | None = None) -> dict[str, Explanation]:
    """Model name -> its SHAP explanation on the training patients (at most :data:`EXPLAINED_PATIENTS`, or the
    model's own ``SHAP_PATIENTS`` when fewer, drawn with ``seed``, default the study's screening seed), each against
    its training patients as background."""
    seed = study.settings.screening.seed if seed is None else seed
    out: dict[str, Explanation] = {}
    tables = _model_tables(study, models)
    for name in explained_models(models):
        background = model_features(study, models, name, tables=tables)
        shown = background
        # A model may explain fewer (a model-agnostic explainer's cost per patient: the SVM's SHAP_PATIENTS)
        limit = min(EXPLAINED_PATIENTS, getattr(models[name], "SHAP_PATIENTS", EXPLAINED_PATIENTS))
        if len(shown) > limit:
            rows = np.sort(np.random.default_rng(seed).choice(len(shown), limit, replace=False))
            shown = shown.iloc[rows]
        out[name] = explain(models[name], shown, background)
    return out


def patient_explanation(study: Study, models: StudyModels, name: str, features: pd.DataFrame) -> Explanation:
    """Model ``name``'s SHAP explanation of the patients of ``features`` (feature values of new patients as the
    models read them, harmonised where the study harmonises; index: their IDs; the columns the model reads), against
    its training patients as background. A missing value is refused (RadNomoError), never filled here."""
    if name not in explained_models(models):
        raise RadNomoError(f"the {name} model is not explained; the explained models are {explained_models(models)}.")
    lacking = [f for f in models[name].variables if f not in features.columns]
    if lacking:
        raise RadNomoError(f"the {name} model needs feature(s) {lacking[:3]} that the patient's features lack.")
    background = model_features(study, models, name)
    values = features[list(models[name].variables)].apply(pd.to_numeric, errors="coerce")
    if values.isna().to_numpy().any():
        raise RadNomoError(f"the patient lacks a value of the {name} model's features; its explanation needs all.")
    return explain(models[name], values, background)


def shap_table(explanations: Mapping[str, Explanation], labels: Mapping[str, str]) -> pd.DataFrame:
    """shap.csv: per model and feature the mean |SHAP| over the explained patients, ranked (1 = most important),
    with the output scale, the method and how many patients were explained."""
    rows = []
    for name, explanation in explanations.items():
        for rank, (feature, value) in enumerate(explanation.mean_abs().items(), start=1):
            rows.append({"model": name, "label": labels.get(name, name), "feature": feature,
                         "mean_abs_shap": float(value), "rank": rank, "output": explanation.output,
                         "method": explanation.method, "n_patients": len(explanation.values)})
    return pd.DataFrame(rows, columns=list(SHAP_COLUMNS))
