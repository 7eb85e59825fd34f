"""A study's models end to end: screening per family -> a score per family -> clinical model -> fused model.

Everything is fitted on the study's training cohort only; the test cohort (and any other) is only
scored by the frozen models (:meth:`StudyModels.predict`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import pandas as pd
from scipy.special import expit

from core.errors import RadNomoError
from core.stats.harmonise import ComBat, apply_harmonisers, coverage_notes, fit_harmonisers
from core.stats.missing import Imputer
from core.stats.learners import FitOptions, FittedModel, Predictors, fitted_from_dict, get_learner
from core.stats.learners.comparator import ComparatorModel
from core.stats.modeling import Nomogram, nomogram_design
from core.stats.survival.nomogram import BaselineHazard, CoxNomogram
from core.stats.outcome_statistics import statistics_for
from core.stats.selection import ScreeningResult, ScreeningSettings, icc_table, screen
from core.vocabulary import (CLINICAL, COMPARATOR_ROLE, FUSED, MODEL_ROLES, SCORE_ROLE, check_option, family_of_score,
                             horizon_column, score_column, survival_column)
from core.workflows.checks import usable_feature_tables
from core.workflows.study import ModelSettings, Study

__all__ = ["StudyModels", "PreparedTables", "fit_study", "fit_models", "usable_families", "screen_family",
           "comparator_features", "joined_tables",
           "prepare_tables", "family_icc", "clinical_predictors", "clinical_univariable", "no_clinical_model_reason",
           "predict_study", "CLINICAL_IMPUTER"]

CLINICAL_IMPUTER = "clinical"  # the imputers' key of the clinical variables (features: their family's name)


@dataclass(frozen=True, eq=False)
class StudyModels(Mapping[str, FittedModel]):
    """A study's fitted models: a mapping of named fitted models, each with a role, and how they were made.

    ``models[name]`` is a fitted model (:class:`core.stats.learners.FittedModel`, any learner) and
    ``models.roles[name]`` its role (:data:`core.vocabulary.MODEL_ROLES`: a family's "score", the
    "clinical" model, a "fused" model of a score and clinical predictors), so a study may hold any number;
    iteration is in display order (clinical, each score, fused). ``clinical``, ``fused``, ``scores``,
    ``fused_score``, ``model_names``, :meth:`model` and :attr:`main_model` are read-only views of it.

    Attributes
    ----------
    settings : ModelSettings
        The settings they were fitted with.
    screening : dict
        Family -> ScreeningResult (families whose training patients all have features).
    fitted : dict
        Name -> fitted model, in display order.
    roles : dict
        Name -> its role.
    univariable : pandas.DataFrame
        :func:`core.stats.modeling.univariable_logistic` of every clinical variable (training).
    members : dict
        Score family (and comparator model) -> the single families whose tables it reads (a single family: itself).
    train_ids : tuple of str
        The patients everything was fitted on.
    notes : tuple of str
        Why a family, score or model is missing, and what was left out.
    warnings : tuple of str
        One sentence per fit that did not converge (naming the model) and per LASSO path that stopped at
        its iteration limit (the screening's warnings, naming the family): shown on the Models page, in
        the report and by ``core.analyse``.
    harmonisers : dict
        Single family -> :class:`core.stats.harmonise.ComBat` fitted on the training cohort (empty
        without harmonisation); :meth:`predict` applies them to every cohort it scores.
    imputers : dict
        Single family (and "clinical") -> :class:`core.stats.missing.Imputer` fitted on the training
        cohort; :meth:`predict` applies them first, unchanged, to every cohort it scores.
    no_clinical : str
        Why the study has no clinical model, in one sentence ("" when it has one): every page that
        would show the clinical model shows this instead.
    outcome_kind : str
        The kind of outcome the models predict (:data:`core.vocabulary.OUTCOME_KINDS`): what
        :meth:`predict` fills (probabilities, or linear predictors and survival probabilities).
    """

    settings: ModelSettings
    screening: dict[str, ScreeningResult]
    fitted: dict[str, FittedModel]
    roles: dict[str, str]
    univariable: pd.DataFrame
    members: dict[str, tuple[str, ...]]
    train_ids: tuple[str, ...]
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    harmonisers: dict[str, ComBat] = field(default_factory=dict)
    imputers: dict[str, Imputer] = field(default_factory=dict)
    no_clinical: str = ""
    outcome_kind: str = "binary"

    # A mapping compares and hashes by identity here (two fits are never "equal" by value).
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __post_init__(self) -> None:
        if set(self.roles) != set(self.fitted):
            raise RadNomoError("every fitted model needs a role, and every role a model.")
        for name, role in self.roles.items():
            check_option(f"the {name} model's role", role, MODEL_ROLES)
        check_option("the models' outcome kind", self.outcome_kind, list(_PREDICTIONS))

    def __getitem__(self, name: str) -> FittedModel:
        return self.fitted[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.fitted)

    def __len__(self) -> int:
        return len(self.fitted)

    def __bool__(self) -> bool:
        return True  # a StudyModels always holds a model; never falsy like an empty mapping

    def named(self, role: str) -> dict[str, FittedModel]:
        """The models of ``role``, in display order."""
        return {name: model for name, model in self.fitted.items() if self.roles[name] == role}

    def _first(self, role: str) -> FittedModel | None:
        return next(iter(self.named(role).values()), None)

    @property
    def scores(self) -> dict[str, FittedModel]:
        """Family -> its score (families whose LASSO kept at least one feature), in the study's order."""
        return self.named(SCORE_ROLE)

    @property
    def comparators(self) -> dict[str, ComparatorModel]:
        """Comparator model name -> its model (another learner on a family's features), in the study's order."""
        # Every comparator learner's model is a ComparatorModel (core.stats.learners.comparator)
        return cast(dict[str, ComparatorModel], self.named(COMPARATOR_ROLE))


    @property
    def clinical(self) -> FittedModel | None:
        """The clinical model; None for a study of scores alone (``no_clinical`` says why)."""
        return self._first(CLINICAL)

    @property
    def fused(self) -> FittedModel | None:
        """The fused model (a score + the clinical predictors); None without one."""
        return self._first(FUSED)

    def score_inputs(self, name: str) -> list[str]:
        """The families whose scores the model ``name`` reads (its ``<family>_score`` variables)."""
        return [family for v in getattr(self.fitted[name], "variables", ())
                if (family := family_of_score(v)) is not None and family in self.scores]

    @property
    def fused_score(self) -> str | None:
        """The family whose score the fused model takes (None without a fused model)."""
        fused = next(iter(self.named(FUSED)), None)
        inputs = self.score_inputs(fused) if fused is not None else []
        return inputs[0] if inputs else None

    @property
    def model_names(self) -> list[str]:
        """The fitted models, in display order: clinical, each score, fused."""
        return list(self.fitted)

    def model(self, name: str) -> FittedModel:
        """The multivariable model ``name`` ("clinical", "fused", any model not a score); scores are
        :attr:`scores`."""
        if name in self.fitted and self.roles[name] != SCORE_ROLE:
            return self.fitted[name]
        raise RadNomoError(f"'{name}' is not a multivariable model of this study ({self.model_names}).")

    @property
    def main_model(self) -> str:
        """The model a study's nomogram and summaries lead with: the fused model, else the clinical one, else
        the last score (a combined family's when there is one)."""
        for role in (FUSED, CLINICAL, SCORE_ROLE):
            names = list(self.named(role))
            if names:
                return names[0] if role != SCORE_ROLE else names[-1]
        raise RadNomoError("the study has no fitted model.")

    def needed_features(self) -> set[str]:
        """Every feature any score or comparator uses."""
        return {f for model in (*self.scores.values(), *self.comparators.values()) for f in model.variables}

    # -- persistence ------------------------------------------------------------------------

    def to_dict(self, *, include_screening: bool = False) -> dict:
        """The fitted models as plain data (JSON-ready): settings, each named model with its role and
        learner, funnels, notes and warnings; with ``include_screening`` every family's whole screening
        too (its LASSO path and CV curve)."""
        extra = {"screening": {k: v.to_dict() for k, v in self.screening.items()}} if include_screening else {}
        return {**extra, "settings": self.settings.to_dict(), "train_ids": list(self.train_ids),
                "models": {name: {"role": self.roles[name], "learner": model.learner, "model": model.to_dict()}
                           for name, model in self.fitted.items()},
                "members": {k: list(v) for k, v in self.members.items()},
                "selected": {k: v.selected for k, v in self.screening.items()},
                "funnels": {k: v.funnel.to_dict(orient="list") for k, v in self.screening.items()},
                "univariable": self.univariable.to_dict(orient="list"), "notes": list(self.notes),
                "warnings": list(self.warnings),
                "harmonisers": {k: v.to_dict() for k, v in self.harmonisers.items()},
                "imputers": {k: v.to_dict() for k, v in self.imputers.items()}, "no_clinical": self.no_clinical,
                # a binary study's saved form is as it was before other outcome kinds existed
                **({"outcome_kind": self.outcome_kind} if self.outcome_kind != "binary" else {})}

    @classmethod
    def from_dict(cls, values: Mapping) -> StudyModels:
        """Rebuild the fitted models from :meth:`to_dict` (the screening comes back when it was stored with
        ``include_screening``; else re-run it from ``settings`` on the same data, which gives the same result).

        Reads the previous layout too (fixed ``scores`` / ``clinical`` / ``fused`` slots, before the models
        were a mapping with roles), so a study saved before opens.

        Every part is re-validated as it is read (an imported study's models are an upload), each model by
        the learner that wrote it: finite coefficients, training means and SDs (> 0), harmonisers and fill
        values; each model's terms match its variables, each score's families are named, the fused model
        takes a score the models have. Whether they fit a particular study is checked on loading it
        (:func:`core.workflows.persistence.load_study_models`).

        Raises
        ------
        RadNomoError
            If the plain data are malformed (a missing part, a wrong type) or the models are not sound
            (a non-finite number, terms that do not match, an unknown learner or role).
        """
        try:
            models = cls._from_dict(values)
        except RadNomoError as error:
            raise RadNomoError(f"the saved models are refused: {error}") from error
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            raise RadNomoError(f"the saved models are malformed ({type(error).__name__}: {error}).") from error
        for key, imputer in models.imputers.items():
            bad = [c for c, v in imputer.fill_.items()
                   if not isinstance(v, str) and not (isinstance(v, (int, float)) and math.isfinite(v))]
            if bad:
                raise RadNomoError(f"the saved models are refused: the {key} missing-value fill of {bad[:3]} is not a "
                                   "finite number; refit the models.")
        if set(models.scores) | set(models.comparators) != set(models.members) or not all(models.members.values()):
            raise RadNomoError("the saved models are refused: their scores and comparators and the families each "
                               "reads differ.")
        for name in models.named(FUSED):
            if not models.score_inputs(name):
                raise RadNomoError(f"the saved models are refused: the {str(name)[:40]} model takes no score the "
                                   "models hold.")
        saved_fused = values.get("fused_score") if isinstance(values, Mapping) else None
        if saved_fused is not None and saved_fused != models.fused_score:
            raise RadNomoError(f"the saved models are refused: the fused model takes the {str(saved_fused)[:40]!r} "
                               "score, which the models do not hold.")
        if len(set(models.train_ids)) != len(models.train_ids):
            raise RadNomoError("the saved models are refused: their training patients list a patient twice.")
        return models

    @classmethod
    def _from_dict(cls, values: Mapping) -> StudyModels:
        """:meth:`from_dict` without its cross-checks (every nested part validates itself)."""
        if not isinstance(values, Mapping):
            raise RadNomoError("the saved models are not a JSON object.")
        if "models" in values:
            saved = dict(values["models"])
            for name, entry in saved.items():
                if not isinstance(entry, Mapping) or not {"role", "learner", "model"} <= set(entry):
                    raise RadNomoError(f"the saved {str(name)[:40]} model lacks its role, learner or coefficients.")
            entries = {str(name): (str(entry["role"]), str(entry["learner"]), entry["model"])
                       for name, entry in saved.items()}
        else:  # the previous layout: a score per family, one clinical and one fused model (both logistic)
            scores = dict(values["scores"])
            entries = {**({CLINICAL: (CLINICAL, "logistic", values["clinical"])} if values["clinical"] else {}),
                       **{str(k): (SCORE_ROLE, str(dict(v).get("method")), v) for k, v in scores.items()},
                       **({FUSED: (FUSED, "logistic", values["fused"])} if values["fused"] else {})}
        fitted: dict[str, FittedModel] = {}
        for name, (role, learner, model) in entries.items():
            check_option(f"the saved {name[:40]} model's role", role, MODEL_ROLES)
            fitted[name] = fitted_from_dict(model, learner, role=role)
            if fitted[name].name != name:
                raise RadNomoError(f"the saved model {name[:40]!r} is named {str(fitted[name].name)[:40]!r} inside.")
        warned = tuple(str(w) for w in values.get("warnings", ()))
        # A study saved before warnings were stored: its models' own non-convergence, said again.
        warned = warned or tuple(m.convergence for m in fitted.values() if not m.converged)
        return cls(harmonisers={k: ComBat.from_dict(v) for k, v in dict(values.get("harmonisers") or {}).items()},
                   settings=ModelSettings.from_dict(values["settings"]),
                   screening={k: ScreeningResult.from_dict(v) for k, v in dict(values.get("screening") or {}).items()},
                   fitted=fitted, roles={name: role for name, (role, _, _) in entries.items()},
                   univariable=pd.DataFrame(values["univariable"]),
                   members={k: tuple(v) for k, v in dict(values["members"]).items()},
                   train_ids=tuple(str(i) for i in values["train_ids"]),
                   notes=tuple(str(n) for n in values.get("notes", ())), warnings=warned,
                   imputers={k: Imputer.from_dict(v) for k, v in dict(values.get("imputers") or {}).items()},
                   no_clinical=str(values.get("no_clinical") or ""),
                   outcome_kind=str(values.get("outcome_kind", "binary"))[:40])

    # -- scoring ----------------------------------------------------------------------------

    def imputed(self, cohort: pd.DataFrame, tables: Mapping[str, pd.DataFrame]) -> tuple[pd.DataFrame,
                                                                                         dict[str, pd.DataFrame]]:
        """The cohort and feature tables with the training cohort's missing-value handling applied."""
        clinical = self.imputers.get(CLINICAL_IMPUTER)
        if clinical is not None:
            used = self.clinical.variables if self.clinical is not None else ()
            columns = [c for c in (*clinical.fill_, *used) if c in cohort.columns]
            columns = list(dict.fromkeys(columns))
            if columns and cohort[columns].isna().to_numpy().any():
                cohort = cohort.assign(**clinical.transform(cohort[columns], "cohort"))
        out = {}
        for family, table in tables.items():
            imputer = self.imputers.get(family)
            needed = imputer is not None and (imputer.dropped_ or table.isna().to_numpy().any())
            if needed and imputer is not None:
                table = imputer.transform(table, f"{family} feature table")
            out[family] = table
        return cohort, out

    def harmonised(self, tables: Mapping[str, pd.DataFrame], cohort: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """Single-family tables harmonised with the training cohort's ComBat (as given without harmonisation).

        ``cohort`` (indexed by patient ID) holds the harmonisation column.
        """
        if not self.harmonisers:
            return dict(tables)
        column = self.settings.harmonise_by
        if column not in cohort.columns:
            raise RadNomoError(f"the models harmonise features by '{column}', which this cohort lacks.")
        return apply_harmonisers(self.harmonisers, dict(tables), cohort[column])

    def score_table(self, tables: Mapping[str, pd.DataFrame], ids: Sequence[str]) -> pd.DataFrame:
        """Each score (log-odds) for the patients ``ids`` (index: ID; NaN where features are missing)."""
        out = pd.DataFrame(index=pd.Index(list(ids)))
        for name, score in self.scores.items():
            members = self.members[name]
            if any(m not in tables for m in members):
                continue
            table = joined_tables(tables, members)
            rows = table.index.intersection(out.index)
            out[score_column(name)] = float("nan")
            out.loc[rows, score_column(name)] = score.linear_predictor(table.loc[rows])
        return out

    def predict(self, cohort: pd.DataFrame, tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        """Predicted probability of every model for every patient of ``cohort``.

        Parameters
        ----------
        cohort : pandas.DataFrame
            Clinical table indexed by patient ID (any patients: training, test, external).
        tables : mapping
            Single family name -> feature table indexed by patient ID.

        Returns
        -------
        pandas.DataFrame
            Index: patient ID; one column per model of :attr:`model_names` (NaN where a patient lacks
            features), plus the scores as ``<family>_score`` (their linear predictors). A binary study's model
            columns hold the predicted probability; a time-to-event study's hold the model's linear predictor
            (a risk score: higher, higher hazard) and each model's predicted survival at each horizon is in
            :func:`core.vocabulary.survival_column` (``fused@surv_36``).
        """
        cohort, tables = self.imputed(cohort, tables)
        harmonised = self.harmonised(tables, cohort)
        scores = self.score_table(harmonised, cohort.index)
        predicts = _PREDICTIONS[self.outcome_kind]
        out = pd.DataFrame(index=cohort.index)
        joined: dict[tuple[str, ...], pd.DataFrame] = {}  # a family's joined table, once for its score and comparators

        def family_table(name: str) -> pd.DataFrame:
            members = tuple(self.members[name])
            if members not in joined:
                joined[members] = joined_tables(harmonised, members)
            return joined[members]

        for name, model in self.fitted.items():
            if self.roles[name] == COMPARATOR_ROLE:  # another learner on its family's features (imputed, harmonised)
                if all(m in harmonised for m in self.members[name]):  # a patient without features: NaN
                    out = predicts(out, name, model, None, family_table(name).reindex(cohort.index))
                continue
            if self.roles[name] == SCORE_ROLE:
                if score_column(name) in scores:
                    table = family_table(name)
                    out = predicts(out, name, model, scores[score_column(name)],
                                   table.loc[table.index.intersection(cohort.index)])
                continue
            # A model that takes scores (the fused one) reads them as computed here, never from the cohort.
            needs = [score_column(f) for f in self.score_inputs(name)]
            if all(column in scores for column in needs):
                inputs = cohort.join(scores[needs]) if needs else cohort
                out = predicts(out, name, model, None, inputs)
        return out.join(scores)

    def nomogram(self, study: Study, predictions: pd.DataFrame, model: str = FUSED) -> Nomogram | CoxNomogram:
        """The nomogram of any fitted model on the training patients: "clinical", "fused", or a score family
        (the score alone, drawn through a model of the outcome on it, fitted on training): a logistic model's
        (:class:`core.stats.modeling.Nomogram`), or a Cox model's with survival axes
        (:class:`core.stats.survival.nomogram.CoxNomogram`).

        The model is asked for what a nomogram needs (:func:`core.stats.modeling.nomogram_design`); one that
        cannot be drawn raises a RadNomoError that says so plainly.
        """
        if model not in self.fitted:
            if model == CLINICAL:
                raise RadNomoError("this study has no clinical model (see the Models page's note).")
            if model == FUSED:
                raise RadNomoError("this study has no fused model (it needs a score; see the Models page).")
            raise RadNomoError(f"the study has no {model} model; its models are {self.model_names}.")
        draw = _NOMOGRAMS[self.outcome_kind]
        if self.roles[model] == SCORE_ROLE:
            score = self.score_model(study, predictions, model)
            return draw(score, study.train.join(predictions[[score_column(model)]]))
        needs = [score_column(f) for f in self.score_inputs(model)]
        return draw(self.fitted[model], study.train.join(predictions[needs]) if needs else study.train)

    def score_model(self, study: Study, predictions: pd.DataFrame, family: str) -> FittedModel:
        """A score alone as a model of the outcome on it (outcome ~ score on the training cohort, by the outcome
        type's learner: logistic, Cox), for its nomogram and calculator. For a refitted logistic score this
        reproduces its own probabilities (intercept 0, slope 1)."""
        if family not in self.scores:
            raise RadNomoError(f"the study has no {family} score; its scores are {list(self.scores)}.")
        column = score_column(family)
        train = study.train.join(predictions[[column]])
        learner = statistics_for(study.spec.outcome).model_learner
        return get_learner(learner, CLINICAL).fit(train, study.spec.outcome, Predictors((column,)), name=family)


def _binary_predictions(out: pd.DataFrame, name: str, model: FittedModel, score: pd.Series | None,
                        inputs: pd.DataFrame) -> pd.DataFrame:
    """A binary study's column of ``name``: the predicted probability (a score's: the logistic of its log-odds)."""
    out[name] = expit(score) if score is not None else model.predict_risk(inputs).to_numpy()
    return out


def _survival_predictions(out: pd.DataFrame, name: str, model: FittedModel, score: pd.Series | None,
                          inputs: pd.DataFrame) -> pd.DataFrame:
    """A time-to-event study's columns of ``name``: its linear predictor (a score's: the score itself) and its
    predicted survival at each of its horizons (NaN for a patient without a prediction)."""
    out[name] = score if score is not None else model.linear_predictor(inputs).to_numpy()
    survival = model.predict_survival(inputs)  # type: ignore[attr-defined]  # every survival learner's model has it
    for horizon in model.horizons:  # type: ignore[attr-defined]
        out[survival_column(name, horizon)] = survival[horizon_column(horizon)].reindex(out.index)
    return out


def _cox_nomogram(model: FittedModel, data: pd.DataFrame) -> CoxNomogram:
    """A Cox model's nomogram on its training rows ``data``, with survival axes from its baseline hazard (carried
    flat from the last event to the last follow-up, where survival is still estimated)."""
    baseline = model.baseline  # type: ignore[attr-defined]  # every survival learner's model has it
    times, cumhaz = baseline["time"].to_numpy(dtype=float), baseline["cumulative_hazard"].to_numpy(dtype=float)
    last = float(model.last_follow_up)  # type: ignore[attr-defined]
    if last > times[-1]:
        times, cumhaz = np.append(times, last), np.append(cumhaz, cumhaz[-1])
    return CoxNomogram(nomogram_design(model), data, BaselineHazard(times, cumhaz), model=model)


# How each outcome type's models fill the predictions and are drawn (the one place the kinds are told apart).
_PREDICTIONS = {"binary": _binary_predictions, "survival": _survival_predictions}
_NOMOGRAMS: dict[str, Callable[[FittedModel, pd.DataFrame], Nomogram | CoxNomogram]] = {
    "binary": Nomogram, "survival": _cox_nomogram}


def joined_tables(tables: Mapping[str, pd.DataFrame], members: Sequence[str]) -> pd.DataFrame:
    """The single-family ``tables`` of ``members`` side by side (the patients every one has), as a score or a
    comparator of a combined family reads them."""
    table = tables[members[0]]
    for member in members[1:]:
        table = table.join(tables[member], how="inner")
    return table


def predict_study(study: Study, models: StudyModels) -> pd.DataFrame:
    """Every model's probability and every score for every patient of ``study`` (index: patient ID)."""
    return models.predict(study.cohort, study.feature_tables())


# ---------------------------------------------------------------------------------------------
# Fitting
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PreparedTables:
    """The single-family tables the models see, and what made them so from the tables as extracted.

    ``tables``: missing values handled (columns over the policy's share dropped, the rest imputed with
    training values), then ComBat-harmonised when the settings ask; ``imputers`` and ``harmonisers``
    by family, fitted on the training patients; ``notes``: what the missing-value policy did.
    """

    tables: dict[str, pd.DataFrame]
    imputers: dict[str, Imputer]
    harmonisers: dict[str, ComBat]
    notes: tuple[str, ...] = ()


def prepare_tables(study: Study) -> PreparedTables:
    """Missing values then harmonisation of every single family, fitted on the training patients and
    applied to every patient of the cohort.

    Raises
    ------
    RadNomoError
        With the policy "none" and a missing training value; a harmonisation column the cohort lacks.
    """
    policy = study.settings.missing
    # ID, outcome, clinical and user-excluded columns, and perfect orderings of the outcome, never reach a model.
    usable, notes = usable_feature_tables(study)
    tables, imputers = {}, {}
    for name, table in usable.items():
        train = table.loc[table.index.intersection(pd.Index(study.train_ids))]
        imputer = Imputer.fit(train, policy)
        imputers[name] = imputer
        filled = imputer.n_missing(table)
        tables[name] = imputer.transform(table, f"{name} feature table") if filled or imputer.dropped_ else table
        if imputer.dropped_:
            notes.append(f"{name}: {len(imputer.dropped_)} feature(s) missing for more than "
                         f"{policy.max_missing:.0%} of the training patients left out, e.g. "
                         f"{list(imputer.dropped_[:3])}.")
        if filled:
            notes.append(f"{name}: {filled} missing value(s) imputed with the training {policy.strategy} "
                         f"({imputer.n_filled_train_} of them in training patients).")
    column = study.settings.harmonise_by
    if column is None or not tables:
        return PreparedTables(tables=tables, imputers=imputers, harmonisers={}, notes=tuple(notes))
    if column not in study.cohort.columns:
        raise RadNomoError(f"cannot harmonise by '{column}': the cohort has no such column.")
    batch = study.cohort[column]
    harmonisers = fit_harmonisers(tables, batch, study.train_ids)
    notes.extend(coverage_notes(tables, study.train_ids))  # families covering only some patients, said
    return PreparedTables(tables=apply_harmonisers(harmonisers, tables, batch), imputers=imputers,
                          harmonisers=harmonisers, notes=tuple(notes))


def _clinical_imputer(study: Study, variables: tuple[str, ...], categorical: tuple[str, ...]) -> Imputer | None:
    """Missing-value handling of the clinical variables, fitted on the training patients (None without any)."""
    if not variables:
        return None
    return Imputer.fit(study.train[list(variables)], study.settings.missing, categorical=categorical,
                       drop_columns=False)


def _clinical_training(study: Study) -> tuple[pd.DataFrame, Imputer | None, list[str]]:
    """The training rows with their clinical values imputed as the study's policy says, the imputer
    (None without clinical variables) and a note of what was filled."""
    train = study.train
    imputer = _clinical_imputer(study, study.spec.variables, study.spec.categorical)
    if imputer is None:
        return train, None, []
    filled = imputer.n_missing(study.cohort[list(study.spec.variables)])
    if not filled:
        return train, imputer, []
    note = (f"clinical: {filled} missing value(s) imputed with the training {study.settings.missing.strategy} "
            f"(the mode for categories; {imputer.n_filled_train_} of them in training patients).")
    return train.assign(**imputer.transform(train[list(study.spec.variables)], "training cohort")), imputer, [note]


def clinical_univariable(study: Study) -> pd.DataFrame:
    """Every clinical variable alone against the outcome on the training patients (missing values handled as
    in :func:`fit_study`), by the outcome type's model (:func:`core.stats.modeling.univariable_logistic`,
    :func:`core.stats.survival.univariable.univariable_cox_table`): what the default clinical predictors are
    chosen from, available before any feature family is screened."""
    train, _, _ = _clinical_training(study)
    return statistics_for(study.spec.outcome).clinical_univariable(train, study.spec.outcome, study.spec.continuous,
                                                                   study.spec.categorical)


def family_icc(study: Study, family: str) -> pd.DataFrame | None:
    """Reader agreement of a family's features on the training patients read twice (None without a second
    reader). A combined family takes its members' ICCs; columns of a member without a second reader pass
    the ICC filter (ICC = 1), since nothing says they are not reproducible."""
    parts, any_reader2 = [], False
    for member in study.members(family):
        table = study.family(member)
        if table.reader2 is not None:
            both = table.reader2.index.intersection(pd.Index(study.train_ids))
            parts.append(icc_table(table.table.loc[both], table.reader2.loc[both]))
            any_reader2 = True
        else:
            parts.append(pd.DataFrame({"ICC1": 1.0, "ICC2": 1.0, "ICC3": 1.0}, index=table.table.columns))
    return pd.concat(parts) if any_reader2 else None


def screen_family(study: Study, family: str, tables: Mapping[str, pd.DataFrame] | None = None, *,
                  icc: pd.DataFrame | None = None, memo=None) -> ScreeningResult:
    """:func:`core.stats.selection.screen` of one family on the training patients.

    ``tables``: the single-family tables to use (:func:`prepare_tables`' ones by default).
    ``icc``: :func:`family_icc` already computed (None: computed here when the ICC filter is on).
    ``memo``: passed to :func:`core.stats.selection.screen` (one per family and training rows).
    Without a second reader the ICC step is skipped (the funnel shows no ICC step).

    Raises
    ------
    RadNomoError
        If a training patient has no features in this family.
    """
    settings = study.settings.screening
    tables = tables if tables is not None else prepare_tables(study).tables
    gone = [m for m in study.members(family) if m not in tables]
    if gone:
        raise RadNomoError(f"{family}: no column of {gone} may be a feature (ID, outcome, clinical or excluded "
                           "columns only); import its features or change the exclusions.")
    table = study.feature_table(family, tables)
    missing = [i for i in study.train_ids if i not in table.index]
    if missing:
        raise RadNomoError(f"{family}: {len(missing)} training patient(s) have no features (e.g. {missing[0]}).")
    if settings.icc_threshold is not None:
        icc = icc if icc is not None else family_icc(study, family)
        if icc is None:
            settings = ScreeningSettings.from_dict({**settings.to_dict(), "icc_threshold": None})
    X = table.loc[study.train_ids]
    return screen(X, study.spec.outcome.values(study.train), settings, icc=icc, memo=memo,
                  statistics=statistics_for(study.spec.outcome).screening)


def clinical_predictors(study: Study, univariable: pd.DataFrame) -> tuple[tuple[str, ...], tuple[str, ...], list[str]]:
    """The clinical model's (continuous, categorical) predictors and notes on what was left out.

    The settings' choice, restricted to the study's current variables (a variable taken out of the
    roles leaves the model, with a note); by default every variable with univariable p < clinical_p.
    """
    spec, settings = study.spec, study.settings
    significant = set(univariable.loc[univariable["variable_p"] < settings.clinical_p, "variable"])
    continuous = tuple(c for c in spec.continuous if c in significant)
    categorical = tuple(c for c in spec.categorical if c in significant)
    notes = []
    for chosen, allowed, kind in ((settings.clinical_continuous, spec.continuous, "continuous"),
                                  (settings.clinical_categorical, spec.categorical, "categorical")):
        if chosen is None:
            continue
        dropped = [c for c in chosen if c not in allowed]
        if dropped:
            notes.append(f"clinical: {dropped} left out, no longer {kind} variables of the study.")
        kept = tuple(c for c in chosen if c in allowed)
        if kind == "continuous":
            continuous = kept
        else:
            categorical = kept
    return continuous, categorical, notes


def no_clinical_model_reason(study: Study, univariable: pd.DataFrame, continuous: Sequence[str],
                             categorical: Sequence[str]) -> str | None:
    """Why the study has no clinical model, in one plain sentence; None when it has one.

    A study of scores alone is a study like any other: no clinical variable declared, none reaching the
    univariable threshold, or the user's choice of "none" each leave the clinical model (and the fused
    model, which adds a score to its predictors) out, and the score models carry the study.
    """
    if continuous or categorical:
        return None
    settings = study.settings
    if not study.spec.variables:
        return "no clinical model, because the study declares no clinical variable"
    if settings.clinical_continuous is not None or settings.clinical_categorical is not None:
        return "no clinical model, because none was chosen (Models page, or --clinical-model none)"
    best = univariable["variable_p"].min() if univariable["variable_p"].notna().any() else float("nan")
    smallest = f" (the smallest is p = {best:.3g})" if best == best else ""
    return (f"no clinical model, because no clinical variable reaches univariable p < {settings.clinical_p:g}"
            f"{smallest}; pick its predictors on the Models page (or --clinical-model) to fit one")


def fit_study(study: Study) -> StudyModels:
    """Fit every model of ``study`` on its training patients only: its tables prepared
    (:func:`prepare_tables`), each usable family screened (:func:`screen_family`), then :func:`fit_models`.

    Memoised stage by stage (and shared by every caller) in :class:`core.workflows.results.StudyResults`;
    this function computes everything afresh.

    Raises
    ------
    RadNomoError
        As :func:`fit_models`.
    """
    prepared = prepare_tables(study)
    screening = {family: screen_family(study, family, prepared.tables)
                 for family in usable_families(study, prepared.tables)}
    return fit_models(study, prepared, screening)


def comparator_features(study: Study, screening: ScreeningResult) -> tuple[str, ...]:
    """The features a comparator of the family screened as ``screening`` fits, as the settings say
    (:data:`core.vocabulary.COMPARATOR_FEATURES`): the LASSO's selection, or every feature that reached the LASSO."""
    if study.settings.comparator_features == "screened":
        return tuple(screening.reaching_lasso) if len(screening.steps) > 1 else ()
    return tuple(screening.selected)


def _fit_comparators(study: Study, tables: Mapping[str, pd.DataFrame], screened: Mapping[str, ScreeningResult],
                     options: FitOptions, outcome_columns: Mapping[str, np.ndarray],
                     notes: list[str]) -> dict[str, FittedModel]:
    """Each comparator learner of the settings on each screened family's features (training rows only), in the
    order of :attr:`Study.comparator_models`; a comparator that cannot be fitted is left out with a note appended
    to ``notes``."""
    fitted: dict[str, FittedModel] = {}
    taken = {CLINICAL, FUSED, *study.score_families}
    for name, (family, learner_name) in study.comparator_models.items():
        if family not in screened:
            continue  # the family itself could not be screened: said where it was left out
        if name in taken:
            notes.append(f"{name}: the comparator's name is a family's name; rename the family to fit it.")
            continue
        features = comparator_features(study, screened[family])
        learner = get_learner(learner_name, COMPARATOR_ROLE, study.spec.outcome.kind)
        if not features:
            notes.append(f"{name}: no {study.settings.comparator_features} feature of {family} to fit the comparator "
                         f"({learner.label}) on.")
            continue
        table = study.feature_table(family, tables).loc[study.train_ids, list(features)]
        try:
            fitted[name] = learner.fit(table.assign(**outcome_columns), study.spec.outcome, Predictors(features),
                                       name=name, options=options)
        except RadNomoError as error:
            notes.append(f"{name}: {error}")
    return fitted


def usable_families(study: Study, tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """Score families that can be screened: every member has a usable table (``tables``, prepared) and every
    training patient has features."""
    train = set(study.train_ids)
    return [f for f in study.score_families if all(m in tables for m in study.members(f))
            and train <= set(study.feature_table(f, tables).index)]


def fit_models(study: Study, prepared: PreparedTables, screening: Mapping[str, ScreeningResult]) -> StudyModels:
    """The study's models from its prepared tables and its families' screening (the fit stage).

    Parameters
    ----------
    study : Study
    prepared : PreparedTables
        :func:`prepare_tables` of this study.
    screening : mapping
        Family -> :func:`screen_family` of this study; a usable family missing here is screened here.

    Raises
    ------
    RadNomoError
        If the chosen clinical model cannot be fitted (separation, ...), or the study would have no model
        at all (no clinical predictor and no score). No clinical predictor alone is no error: the study is
        one of scores alone, with a note. A family without features for every training patient, or an
        empty selection, is recorded in ``notes`` too.
    """
    settings = study.settings
    train = study.train
    outcome = study.spec.outcome
    statistics = statistics_for(outcome)
    # The outcome's columns beside a family's features: what a score learner reads its outcome from.
    outcome_columns = {column: train[column].to_numpy() for column in outcome.columns}
    tables = prepared.tables
    notes: list[str] = list(prepared.notes)
    screened = dict(screening or {})
    scores: dict[str, FittedModel] = {}
    warned: list[str] = []
    learner = get_learner(settings.score_method, SCORE_ROLE)
    options = FitOptions(seed=settings.screening.seed, n_folds=settings.screening.n_folds,
                         rule=settings.screening.rule)
    for family in study.score_families:
        if any(m not in tables for m in study.members(family)):
            continue  # every column of a member must stay out of the features: said in prepare_tables' notes
        table = study.feature_table(family, tables)
        missing = [i for i in study.train_ids if i not in table.index]
        if missing:
            notes.append(f"{family}: {len(missing)} training patient(s) have no features (e.g. {missing[0]}); "
                         "the family is left out.")
            screened.pop(family, None)
            continue
        if family not in screened:
            screened[family] = screen_family(study, family, tables)
        if settings.screening.icc_threshold is not None and not any(s.startswith("ICC") for s in
                                                                     screened[family].kept):
            notes.append(f"{family}: no second reader's features, so the ICC filter was skipped.")
        notes.extend(f"{family}: {note}" for note in screened[family].notes)
        # A LASSO path stopped at its iteration limit (the screening's warnings): said, never silent.
        warned.extend(f"{family}: {warning}" for warning in getattr(screened[family], "warnings", ()))
        lasso = screened[family].lasso
        if lasso is None:
            notes.append(f"{family}: no feature passed the univariable step; relax the screening thresholds.")
            continue
        try:
            scores[family] = learner.fit(table.loc[study.train_ids].assign(**outcome_columns), outcome,
                                         Predictors(tuple(lasso.coef_.index)), name=family, options=options,
                                         selection=lasso)
        except RadNomoError as error:
            notes.append(f"{family}: {error}")
    comparators = _fit_comparators(study, tables, screened, options, outcome_columns, notes)
    imputers = dict(prepared.imputers)
    train, clinical_imputer, clinical_notes = _clinical_training(study)
    if clinical_imputer is not None:
        imputers[CLINICAL_IMPUTER] = clinical_imputer
    notes.extend(clinical_notes)
    univariable = statistics.clinical_univariable(train, outcome, study.spec.continuous, study.spec.categorical)
    continuous, categorical, predictor_notes = clinical_predictors(study, univariable)
    notes.extend(predictor_notes)
    clinical, why_none = None, no_clinical_model_reason(study, univariable, continuous, categorical)
    if why_none is None:
        clinical = get_learner(statistics.model_learner, CLINICAL).fit(
            train, outcome, Predictors(continuous, categorical), name=CLINICAL)
    else:
        notes.append(f"clinical: {why_none}.")
    if not scores and clinical is None:
        raise RadNomoError(f"this study has no model to fit: {why_none} and no feature family gave a score "
                           "(see the Selection page's funnel).")
    fused, fused_score = None, study.fused_family
    if clinical is None:
        # A fused model is a score plus clinical predictors; without predictors it would be the score again
        # (the clinical note above says why there are none: one note, not two).
        fused_score = None
    elif fused_score is not None and fused_score in scores:
        column = score_column(fused_score)
        fused_train = train.assign(**{column: scores[fused_score].linear_predictor(
            study.feature_table(fused_score, tables).loc[study.train_ids]).to_numpy()})
        fused = get_learner(statistics.model_learner, FUSED).fit(fused_train, outcome,
                                                                 Predictors((column, *continuous), categorical),
                                                                 name=FUSED)
    elif fused_score is not None:
        notes.append(f"fused: needs the {study.family_label(fused_score)} score, which this study has not got.")
    members = {family: study.members(family) for family in scores}
    members.update({name: study.members(study.comparator_models[name][0]) for name in comparators})
    fitted: dict[str, FittedModel] = {**({CLINICAL: clinical} if clinical is not None else {}), **scores,
                                      **({FUSED: fused} if fused is not None else {}), **comparators}
    roles = {**({CLINICAL: CLINICAL} if clinical is not None else {}), **{f: SCORE_ROLE for f in scores},
             **({FUSED: FUSED} if fused is not None else {}), **{name: COMPARATOR_ROLE for name in comparators}}
    warned.extend(model.convergence for model in fitted.values() if not model.converged)
    return StudyModels(settings=settings, screening=screened, fitted=fitted, roles=roles, univariable=univariable,
                       members=members, train_ids=tuple(study.train_ids), notes=tuple(notes), warnings=tuple(warned),
                       harmonisers=dict(prepared.harmonisers), imputers=imputers, no_clinical=why_none or "",
                       outcome_kind=outcome.kind)

