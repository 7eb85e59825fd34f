"""The study's models end to end: screening -> three scores -> clinical model -> fused model.

Everything is fitted on the training cohort only; the test cohort (and any other) is only scored
by the frozen models (:meth:`StudyModels.predict`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.stats.cohort import CohortSpec
from core.errors import RadNomoError
from core.stats.modeling import LogisticModel, ScoreModel, build_score, fit_model, univariable_logistic
from core.stats.selection import ScreeningResult, ScreeningSettings, screen

__all__ = ["SCORE_NAMES", "MODEL_NAMES", "FUSED_SCORE", "ModelSettings", "StudyModels", "fit_study_models",
           "default_clinical_variables", "screen_family", "family_table", "auc_table", "training_cutoffs", "table2",
           "table3", "lm_type_outcome", "CUTOFF_RULES", "harmonised_features"]

SCORE_NAMES = ("radiomics", "dl", "dl_radiomics")
MODEL_NAMES = ("clinical", "radiomics", "dl", "dl_radiomics", "fused")
FUSED_SCORE = "dl_radiomics"  # the score the fused model combines with the clinical predictors


@dataclass(frozen=True, kw_only=True)
class ModelSettings:
    """Choices behind the models.

    Attributes
    ----------
    screening : ScreeningSettings
        Applied to each feature family (radiomics, deep, and both together).
    score_method : {"refit", "lasso"}
        Score coefficients from a logistic refit on the selected features, or the LASSO's own.
    clinical_continuous, clinical_categorical : tuple of str or None
        The clinical model's predictors; None = every clinical variable with univariable
        (likelihood-ratio) p below ``clinical_p`` in training.
    clinical_p : float
    harmonise_by : str or None
        A cohort column (e.g. "scanner"): ComBat-harmonise the features by its levels, fitted on
        the training cohort, before screening; None = no harmonisation.
    """

    screening: ScreeningSettings = field(default_factory=ScreeningSettings)
    score_method: str = "refit"
    clinical_continuous: tuple[str, ...] | None = None
    clinical_categorical: tuple[str, ...] | None = None
    clinical_p: float = 0.05
    harmonise_by: str | None = None

    def to_dict(self) -> dict:
        return {"screening": self.screening.to_dict(), "score_method": self.score_method,
                "clinical_continuous": None if self.clinical_continuous is None else list(self.clinical_continuous),
                "clinical_categorical": None if self.clinical_categorical is None else list(self.clinical_categorical),
                "clinical_p": self.clinical_p, "harmonise_by": self.harmonise_by}

    @classmethod
    def from_dict(cls, values: dict) -> ModelSettings:
        def as_tuple(v):
            return None if v is None else tuple(v)

        return cls(screening=ScreeningSettings.from_dict(values["screening"]), score_method=values["score_method"],
                   clinical_continuous=as_tuple(values["clinical_continuous"]),
                   clinical_categorical=as_tuple(values["clinical_categorical"]), clinical_p=values["clinical_p"],
                   harmonise_by=values.get("harmonise_by"))


@dataclass(frozen=True, eq=False)
class StudyModels:
    """The fitted study: screening per family, scores, clinical and fused models.

    Attributes
    ----------
    settings : ModelSettings
    screening : dict
        Family ("radiomics", "dl", "dl_radiomics") -> ScreeningResult; only families with features.
    scores : dict
        Family -> ScoreModel (families whose LASSO kept at least one feature).
    univariable : pandas.DataFrame
        :func:`core.stats.modeling.univariable_logistic` of every clinical variable (training).
    clinical, fused : LogisticModel
        ``fused`` is None when there is no DL-radiomics score.
    train_ids : tuple of str
        The patients everything was fitted on.
    notes : tuple of str
        Why a family, score or model is missing.
    harmonisers : dict
        Feature kind -> :class:`core.stats.harmonise.ComBat` fitted on the training cohort (empty
        without harmonisation); :meth:`predict` applies them to every cohort it scores.
    """

    settings: ModelSettings
    screening: dict[str, ScreeningResult]
    scores: dict[str, ScoreModel]
    univariable: pd.DataFrame
    clinical: LogisticModel
    fused: LogisticModel | None
    train_ids: tuple[str, ...]
    notes: tuple[str, ...] = ()
    harmonisers: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The fitted models as plain data (JSON-ready): settings, scores, clinical and fused models."""
        return {"settings": self.settings.to_dict(), "train_ids": list(self.train_ids),
                "scores": {k: v.to_dict() for k, v in self.scores.items()}, "clinical": self.clinical.to_dict(),
                "fused": None if self.fused is None else self.fused.to_dict(),
                "selected": {k: v.selected for k, v in self.screening.items()},
                "funnels": {k: v.funnel.to_dict(orient="list") for k, v in self.screening.items()},
                "univariable": self.univariable.to_dict(orient="list"), "notes": list(self.notes),
                "harmonisers": {k: v.to_dict() for k, v in self.harmonisers.items()}}

    @classmethod
    def from_dict(cls, values: dict) -> StudyModels:
        """Rebuild the fitted models from :meth:`to_dict` (the screening itself is not stored: re-run it
        from ``settings`` on the same data, which gives the same result)."""
        from core.stats.harmonise import ComBat
        from core.stats.modeling import LogisticModel, ScoreModel

        return cls(harmonisers={k: ComBat.from_dict(v) for k, v in values.get("harmonisers", {}).items()},
                   settings=ModelSettings.from_dict(values["settings"]), screening={},
                   scores={k: ScoreModel.from_dict(v) for k, v in values["scores"].items()},
                   univariable=pd.DataFrame(values["univariable"]),
                   clinical=LogisticModel.from_dict(values["clinical"]),
                   fused=None if values["fused"] is None else LogisticModel.from_dict(values["fused"]),
                   train_ids=tuple(values["train_ids"]), notes=tuple(values.get("notes", ())))

    def nomogram(self, cohort: pd.DataFrame, spec: CohortSpec, predictions: pd.DataFrame, which: str = "fused"):
        """The :class:`core.stats.modeling.Nomogram` of the fused (or clinical) model on the training patients."""
        from core.stats.modeling import Nomogram

        if which == "fused" and self.fused is None:
            raise RadNomoError("this study has no fused model (it needs the DL-radiomics score).")
        train = cohort.set_index(spec.id_column, drop=False).loc[list(self.train_ids)]
        if which == "fused":
            train = train.join(predictions[[f"{FUSED_SCORE}_score"]])
        return Nomogram(self.fused if which == "fused" else self.clinical, train)

    def harmonised(self, features: dict[str, pd.DataFrame], cohort: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """``features`` harmonised with the training cohort's ComBat (unchanged without harmonisation).

        ``cohort`` (indexed by patient ID) holds the harmonisation column; only its patients are kept.
        """
        if not self.harmonisers:
            return features
        from core.stats.harmonise import apply_harmonisers

        column = self.settings.harmonise_by
        if column not in cohort.columns:
            raise RadNomoError(f"the models harmonise features by '{column}', which this cohort lacks.")
        return apply_harmonisers(self.harmonisers, features, cohort[column])

    def score_table(self, features: dict[str, pd.DataFrame], ids: Sequence[str]) -> pd.DataFrame:
        """Each score (log-odds) for the patients ``ids`` (index: ID; NaN where features are missing)."""
        out = pd.DataFrame(index=pd.Index(list(ids)))
        for name, score in self.scores.items():
            table = family_table(features, name)
            rows = table.index.intersection(out.index)
            out.loc[rows, f"{name}_score"] = score.score(table.loc[rows])
        return out

    def predict(self, cohort: pd.DataFrame, features: dict[str, pd.DataFrame], spec: CohortSpec) -> pd.DataFrame:
        """Predicted probability of every model for every patient of ``cohort``.

        Parameters
        ----------
        cohort : pandas.DataFrame
            Clinical table (any patients: training, test, external).
        features : dict
            "radiomics" and/or "deep" -> feature table indexed by patient ID.

        Returns
        -------
        pandas.DataFrame
            Index: patient ID; one column per model in :data:`MODEL_NAMES` that exists
            (probabilities), plus the scores as ``<name>_score`` (log-odds).
        """
        data = cohort.set_index(spec.id_column, drop=False)
        scores = self.score_table(self.harmonised(features, data), data.index)
        out = pd.DataFrame(index=data.index)
        out["clinical"] = self.clinical.predict_proba(data).to_numpy()
        for name in SCORE_NAMES:
            if f"{name}_score" in scores:
                out[name] = 1 / (1 + np.exp(-scores[f"{name}_score"]))
        if self.fused is not None:
            out["fused"] = self.fused.predict_proba(data.join(scores[[f"{FUSED_SCORE}_score"]])).to_numpy()
        return out.join(scores)


def auc_table(predictions: pd.DataFrame, outcome: pd.Series, cohorts: dict[str, Sequence[str]]) -> pd.DataFrame:
    """AUC of every model column of ``predictions`` in each cohort (rows: cohort, columns: model).

    ``outcome`` is indexed by patient ID; ``cohorts`` maps a name ("train", "test") to its IDs.
    """
    from sklearn.metrics import roc_auc_score

    models = [m for m in MODEL_NAMES if m in predictions.columns]
    rows = {}
    for name, ids in cohorts.items():
        ids = list(ids)
        rows[name] = {m: roc_auc_score(outcome.loc[ids], predictions.loc[ids, m]) for m in models}
    return pd.DataFrame(rows).T[models]


def family_table(features: dict[str, pd.DataFrame], family: str) -> pd.DataFrame:
    """The feature table of a family: radiomics, deep ("dl") or both side by side ("dl_radiomics")."""
    if family == "radiomics":
        return features["radiomics"]
    if family == "dl":
        return features["deep"]
    return features["radiomics"].join(features["deep"], how="inner")


def default_clinical_variables(univariable: pd.DataFrame, spec: CohortSpec, p_threshold: float) -> tuple[
        tuple[str, ...], tuple[str, ...]]:
    """Clinical variables with univariable p < ``p_threshold`` (continuous, categorical)."""
    significant = set(univariable.loc[univariable["variable_p"] < p_threshold, "variable"])
    return (tuple(c for c in spec.continuous if c in significant),
            tuple(c for c in spec.categorical if c in significant))


def fit_study_models(cohort: pd.DataFrame, spec: CohortSpec, train_ids: Sequence[str],
                     features: dict[str, pd.DataFrame], settings: ModelSettings | None = None, *,
                     icc: pd.DataFrame | None = None,
                     screening: dict[str, ScreeningResult] | None = None) -> StudyModels:
    """Fit every model of the study on the training patients only.

    Parameters
    ----------
    cohort : pandas.DataFrame
        The validated clinical table (all patients; only ``train_ids`` rows are used).
    spec : CohortSpec
    train_ids : sequence of str
    features : dict
        "radiomics" and/or "deep" -> feature table (index: patient ID).
    settings : ModelSettings, optional
    icc : pandas.DataFrame, optional
        Reader-agreement table for the optional ICC filter (radiomics features only).
    screening : dict, optional
        Family -> a :func:`screen_family` result already computed with these settings on these
        training rows (the dashboard caches them); families not given are screened here.

    Raises
    ------
    RadNomoError
        If the clinical model cannot be fitted (no predictor, separation, ...). Missing families
        or empty selections are recorded in ``notes`` instead.
    """
    settings = settings or ModelSettings()
    train_ids = tuple(train_ids)
    clinical_train = cohort.set_index(spec.id_column, drop=False).loc[list(train_ids)]
    y = clinical_train[spec.outcome_column]
    notes: list[str] = []
    scores: dict[str, ScoreModel] = {}
    families = [f for f, needs in (("radiomics", ("radiomics",)), ("dl", ("deep",)),
                                   ("dl_radiomics", ("radiomics", "deep")))
                if all(features.get(k) is not None for k in needs)]
    screening = dict(screening or {})
    harmonisers = {}
    if settings.harmonise_by is not None:
        features, harmonisers = harmonised_features(cohort, spec, train_ids, features, settings.harmonise_by)
    for family in families:
        table = family_table(features, family)
        missing = [i for i in train_ids if i not in table.index]
        if missing:
            notes.append(f"{family}: {len(missing)} training patient(s) have no features (e.g. {missing[0]}); "
                         "the family is left out.")
            screening.pop(family, None)
            continue
        X = table.loc[list(train_ids)]
        if family not in screening:
            screening[family] = screen_family(family, X, y, settings.screening, icc=icc)
        lasso = screening[family].lasso
        if lasso is None:
            notes.append(f"{family}: no feature passed the univariable step; relax the screening thresholds.")
            continue
        try:
            scores[family] = build_score(family, X, y, lasso, method=settings.score_method)
        except RadNomoError as error:
            notes.append(f"{family}: {error}")
    univariable = univariable_logistic(clinical_train, spec.outcome_column, continuous=spec.continuous,
                                       categorical=spec.categorical)
    continuous, categorical = default_clinical_variables(univariable, spec, settings.clinical_p)
    if settings.clinical_continuous is not None:
        continuous = settings.clinical_continuous
    if settings.clinical_categorical is not None:
        categorical = settings.clinical_categorical
    if not continuous and not categorical:
        raise RadNomoError(f"no clinical variable reaches univariable p < {settings.clinical_p:g}; pick the clinical "
                           "model's predictors yourself.")
    clinical = fit_model("clinical", clinical_train, spec.outcome_column, continuous=continuous,
                         categorical=categorical)
    fused = None
    if FUSED_SCORE in scores:
        score_column = f"{FUSED_SCORE}_score"
        fused_train = clinical_train.assign(**{score_column: scores[FUSED_SCORE].score(
            family_table(features, FUSED_SCORE).loc[list(train_ids)]).to_numpy()})
        fused = fit_model("fused", fused_train, spec.outcome_column, continuous=(score_column, *continuous),
                          categorical=categorical)
    else:
        notes.append("fused: needs the DL-radiomics score (radiomics and deep features).")
    return StudyModels(settings=settings, screening=screening, scores=scores, univariable=univariable,
                       clinical=clinical, fused=fused, train_ids=train_ids, notes=tuple(notes),
                       harmonisers=harmonisers)


def harmonised_features(cohort: pd.DataFrame, spec: CohortSpec, train_ids: Sequence[str],
                        features: dict[str, pd.DataFrame], column: str) -> tuple[dict[str, pd.DataFrame], dict]:
    """ComBat by ``column`` fitted on ``train_ids``, applied to every patient of ``cohort``.

    Returns (harmonised feature tables, kind -> fitted ComBat).
    """
    from core.stats.harmonise import apply_harmonisers, fit_harmonisers

    if column not in cohort.columns:
        raise RadNomoError(f"cannot harmonise by '{column}': the cohort has no such column.")
    batch = cohort.set_index(spec.id_column)[column]
    harmonisers = fit_harmonisers(features, batch, list(train_ids))
    return apply_harmonisers(harmonisers, features, batch), harmonisers


def screen_family(family: str, X: pd.DataFrame, y: pd.Series, settings: ScreeningSettings, *,
                  icc: pd.DataFrame | None = None) -> ScreeningResult:
    """:func:`core.stats.selection.screen` for one feature family (training rows only).

    The ICC step filters radiomics columns only: deep features have no second reader, so for
    "dl" the step is skipped and in "dl_radiomics" deep columns pass it.
    """
    if settings.icc_threshold is not None and family == "dl":
        settings = ScreeningSettings.from_dict({**settings.to_dict(), "icc_threshold": None})
    elif settings.icc_threshold is not None and family == "dl_radiomics" and icc is not None:
        icc = _icc_for(icc, X.columns)
    return screen(X, y, settings, icc=icc)


def _icc_for(icc: pd.DataFrame, columns: pd.Index) -> pd.DataFrame:
    """ICC table for a mixed family: radiomics columns keep their ICC; deep columns always pass."""
    deep = [c for c in columns if c not in icc.index]
    return pd.concat([icc, pd.DataFrame({"ICC1": 1.0, "ICC2": 1.0, "ICC3": 1.0}, index=deep)])


# ---------------------------------------------------------------------------------------------
# The study's evaluation tables (Table 2 and Table 3 analogues)
# ---------------------------------------------------------------------------------------------

CUTOFF_RULES = ("youden", "fixed", "sensitivity")


def training_cutoffs(predictions: pd.DataFrame, outcome: pd.Series, train_ids: Sequence[str],
                     models: Sequence[str], *, rule: str = "youden", value: float | None = None) -> dict[str, float]:
    """Each model's probability cut-off, chosen on the training cohort only.

    ``rule``: "youden" (maximal sensitivity + specificity - 1), "fixed" (``value`` is the
    probability) or "sensitivity" (the highest cut-off reaching sensitivity ``value``).
    """
    from core.stats.evaluation import cutoff_for_sensitivity, youden_cutoff

    if rule not in CUTOFF_RULES:
        raise RadNomoError(f"cut-off rule '{rule}' is not valid; possible values: {', '.join(CUTOFF_RULES)}.")
    train = list(train_ids)
    cutoffs = {}
    for model in models:
        if rule == "youden":
            cutoffs[model] = youden_cutoff(outcome.loc[train], predictions.loc[train, model])
        elif rule == "fixed":
            if value is None or not 0 < value < 1:
                raise RadNomoError("a fixed cut-off needs a probability between 0 and 1.")
            cutoffs[model] = float(value)
        else:
            cutoffs[model] = cutoff_for_sensitivity(outcome.loc[train], predictions.loc[train, model], value or 0.8)
    return cutoffs


def table2(predictions: pd.DataFrame, outcome: pd.Series, cohorts: dict[str, Sequence[str]],
           cutoffs: dict[str, float], *, ci: str = "wald") -> pd.DataFrame:
    """The study's Table 2 for any study: per cohort and model, AUC (DeLong CI) and ACC/SENS/SPEC/PPV/NPV (CIs).

    Columns: ``cohort``, ``model``, ``auc``, ``auc_low``, ``auc_high``, then ``acc`` ... ``npv_high``, ``cutoff``.
    """
    from core.stats.evaluation import performance_table

    frames = []
    for cohort, ids in cohorts.items():
        ids = list(ids)
        scores = {m: predictions.loc[ids, m] for m in cutoffs}
        frames.append(performance_table(outcome.loc[ids], scores, cutoffs, ci=ci).assign(cohort=cohort))
    table = pd.concat(frames, ignore_index=True)
    return table[["cohort", *[c for c in table.columns if c != "cohort"]]]


def lm_type_outcome(cohort: pd.DataFrame, spec: CohortSpec, column: str = "lm_type",
                    positive: str = "synchronous", negative: str = "metachronous") -> pd.Series:
    """Among event patients, 1 = ``positive`` type, 0 = ``negative`` type (index: patient ID)."""
    if column not in cohort.columns:
        raise RadNomoError(f"the cohort has no '{column}' column to split the events by type.")
    data = cohort.set_index(spec.id_column)
    events = data[(data[spec.outcome_column] == 1) & data[column].isin([positive, negative])]
    if events[column].nunique() < 2:
        raise RadNomoError(f"the events need both '{positive}' and '{negative}' patients in '{column}'.")
    return (events[column] == positive).astype(int).rename(f"{column}={positive}")


def table3(predictions: pd.DataFrame, type_outcome: pd.Series, train_ids: Sequence[str],
           scores: Sequence[str] = ("dl_radiomics",), *, ci: str = "wald") -> pd.DataFrame:
    """The study's Table 3: how well each score separates the event types (e.g. synchronous vs metachronous LM).

    Computed on all event patients (as the study), with each score's cut-off chosen by Youden's
    index on the training event patients only. Columns as :func:`table2` with ``model`` the score.
    """
    from core.stats.evaluation import performance_table, youden_cutoff

    ids = list(type_outcome.index)
    train = [i for i in ids if i in set(train_ids)]
    cutoffs = {s: youden_cutoff(type_outcome.loc[train], predictions.loc[train, s]) for s in scores}
    return performance_table(type_outcome, {s: predictions.loc[ids, s] for s in scores}, cutoffs, ci=ci)
