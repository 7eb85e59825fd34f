"""Several cohorts side by side: training, test, external cohorts and subgroups, evaluated by frozen models.

External validation never refits anything: the models, cut-offs and (optional) ComBat estimates
come from the training cohort; an external cohort is only scored.

A time-to-event study's external cohort carries the outcome's time and event columns (validated by its
:class:`core.stats.outcomes.SurvivalOutcome`, every horizon within the cohort's own follow-up) and is evaluated as
the study's own cohorts are (:func:`evaluate_survival_panel`: concordance, AUC(t), risk groups at the TRAINING
cut-offs, calibration at the horizons); its binary counterpart is :func:`cohort_panel`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import RadNomoError, listed
from core.io.tables import read_table
from core.stats.cohort import blank_id_note, validate_cohort, with_row_ids, without_blank_ids
from core.stats.feature_tables import import_feature_table
from core.stats.outcomes import Outcome
from core.stats.evaluation import calibration_stats, roc_auc
from core.stats.summaries import categorical_columns
from core.stats.survival.calibration import survival_calibration
from core.stats.survival.concordance import harrell_c
from core.vocabulary import CALIBRATION_SUBSETS, OUTSIDE_RANGE, ROW_ID_COLUMN, survival_column
from core.workflows.evaluation import evaluate_cohorts
from core.workflows.fit import StudyModels
from core.workflows.sample import SAMPLE_EXTERNAL_DIR, sample_external_tables
from core.workflows.study import Study
from core.workflows.survival_evaluation import (SurvivalEvaluation, cohort_predictions, evaluate_survival_cohorts,
                                                risk_cutoffs)

__all__ = ["ExternalCohort", "validate_external", "pooled_predictions", "level_groups", "subgroup_columns",
           "cohort_panel", "panel_notes", "out_of_range", "range_report", "cohort_aucs", "study_cohorts",
           "OUT_OF_RANGE_SHARE",
           "OUTSIDE_MARGIN_SD", "EXTREME_RISK", "training_limits", "study_limits", "outside_training_range",
           "outside_range_patients", "calibration_with_and_without", "outside_range_summary",
           "outside_range_notes", "risk_columns", "evaluate_survival_panel", "cohort_concordance",
           "read_sample_external", "SURVIVAL_CALIBRATION_GROUPS",
           "survival_calibration_with_and_without", "CALIBRATION_WITH_AND_WITHOUT", "SURVIVAL_WITH_AND_WITHOUT_COLUMNS",
           "EXTERNAL_OUTCOME_CHECKS", "RISK_COLUMNS"]

# A feature with more than this share of a cohort's patients outside its training range is flagged:
# the models extrapolate for them.
OUT_OF_RANGE_SHARE = 0.1
# One patient is "outside the training range" when a feature a score uses lies beyond the training minimum
# or maximum by more than OUTSIDE_MARGIN_SD training standard deviations, or when a model's predicted risk is
# within EXTREME_RISK of 0 or 1. A value just past the extremes is common in another centre (out_of_range
# counts those per feature); this far beyond them a linear score extrapolates where no training patient was,
# and a risk of 0 or 1 has an infinite logit that alone drags the calibration slope towards 0.
OUTSIDE_MARGIN_SD = 2.0
EXTREME_RISK = 1e-6
# Quantile groups of predicted survival in an external cohort's calibration at a horizon: as the Evaluation page.
SURVIVAL_CALIBRATION_GROUPS = 5


def _survival_follow_up(outcome, clinical: pd.DataFrame, name: str) -> None:
    """Refuse a horizon beyond the external cohort's own last follow-up, naming the cohort (the outcome's own
    validation would call it "the cohort"). Only its readable times are looked at: the values that are not
    (missing, text, <= 0) are named afterwards by the outcome's validation."""
    if outcome.time_column not in clinical.columns:
        return  # validate_cohort names the absent column
    times = pd.to_numeric(clinical[outcome.time_column], errors="coerce").to_numpy(dtype=float)
    times = times[np.isfinite(times) & (times > 0)]
    if times.size:
        outcome.check_horizons(times, what=f"the external cohort '{name}'")


#: Outcome kind -> what an external cohort's outcome must satisfy besides the outcome's own validation:
#: ``(outcome, clinical table as read, cohort name) -> None``, raising RadNomoError. A kind without one has none.
EXTERNAL_OUTCOME_CHECKS: dict[str, Callable[[Outcome, pd.DataFrame, str], None]] = {
    "survival": _survival_follow_up}


def _model_risks(outcome: Outcome, models: Sequence[str]) -> list[str]:
    """A binary outcome's predictions: each model's column is its predicted risk."""
    return list(models)


def _survival_risks(outcome, models: Sequence[str]) -> list[str]:
    """A time-to-event outcome's predictions: a model's column is its linear predictor (any real number); its
    predicted survival at each horizon (``survival_column``) is the probability that can be 0 or 1."""
    return [survival_column(m, h) for m in models for h in outcome.horizons]


#: Outcome kind -> ``(outcome, model names) -> prediction columns that are probabilities`` (those checked for a
#: risk of 0 or 1 by :func:`outside_range_patients`).
RISK_COLUMNS: dict[str, Callable[..., list[str]]] = {"binary": _model_risks, "survival": _survival_risks}


def risk_columns(outcome: Outcome, models: Sequence[str]) -> list[str]:
    """The prediction columns of ``models`` that hold a probability (0-1) for ``outcome``'s kind: the model columns
    themselves for a binary outcome; each model's predicted survival at each horizon for a time-to-event one."""
    if outcome.kind not in RISK_COLUMNS:
        raise RadNomoError(f"external validation does not know the predicted probabilities of a '{outcome.kind}' "
                           f"outcome; it knows {listed(RISK_COLUMNS)}.")
    return RISK_COLUMNS[outcome.kind](outcome, models)


@dataclass(frozen=True, eq=False)
class ExternalCohort:
    """An external cohort ready to be scored: its clinical table (indexed by ID) and feature tables by family."""

    name: str
    cohort: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    notes: tuple[str, ...] = ()  # what was left out on the way in (rows with a blank ID), in words

    def n_events(self, outcome: Outcome) -> int:
        """How many of the cohort's patients have the event of ``outcome`` (the study's)."""
        return outcome.n_events(self.cohort)


def validate_external(study: Study, name: str, clinical: pd.DataFrame, tables: Mapping[str, pd.DataFrame],
                      models: StudyModels) -> ExternalCohort:
    """Check an external cohort against the study: same variables, a feature table per family its scores use.

    Parameters
    ----------
    clinical : pandas.DataFrame
        The external clinical table as read (the study's ID column as a column, the study's variables).
    tables : mapping
        Family name -> feature table (index or first column: patient ID).
    models : StudyModels
        The frozen models (what they use is what the external cohort must have).

    Raises
    ------
    RadNomoError
        For a missing clinical column or feature, IDs that do not match, an unknown family, or an outcome the
        study's outcome does not accept (a binary one with one class; a time-to-event one without its time and
        event columns, with a time that is not > 0, without an event, or followed up for less than a horizon).
    """
    spec = study.spec
    if not name.strip():
        raise RadNomoError("give the external cohort a name.")
    check = EXTERNAL_OUTCOME_CHECKS.get(spec.outcome.kind)
    if check is not None:
        check(spec.outcome, clinical, name)
    notes = []
    if spec.id_column == ROW_ID_COLUMN and ROW_ID_COLUMN not in clinical.columns:
        # A study whose IDs are row numbers: the external tables are numbered alike and matched row by row.
        clinical = with_row_ids(clinical, what=f"external cohort '{name}'")
        tables = {f: with_row_ids(t, expected_rows=len(clinical), what=f"external {f} feature table",
                                  other=f"external cohort '{name}'") for f, t in tables.items()}
    if spec.id_column in clinical.columns:
        clinical, blank_lines = without_blank_ids(clinical, spec.id_column)
        if blank_lines:
            notes.append(blank_id_note(blank_lines, f"external cohort '{name}'"))
    validated = validate_cohort(clinical, spec.id_column, spec.outcome, continuous=spec.continuous,
                                categorical=spec.categorical).set_index(spec.id_column)
    ids = validated.index
    unknown = [f for f in tables if f not in study.family_names]
    if unknown:
        raise RadNomoError(f"feature table(s) for unknown famil(ies) {unknown}; the study's families are "
                           f"{study.family_names}.")
    checked = {}
    for family, table in tables.items():
        imported = import_feature_table(table, ids, name=f"external {family} feature table",
                                        id_column=spec.id_column, drop_constant=False)
        if imported.blank_id_lines:
            notes.append(blank_id_note(imported.blank_id_lines, f"external {family} feature table"))
        table = imported.table
        missing = [i for i in ids if i not in table.index]
        if missing:
            raise RadNomoError(f"{len(missing)} external patient(s) have no {family} features, e.g. {missing[:3]}.")
        checked[family] = table.loc[ids]
    needed = models.needed_features()
    for family, table in checked.items():
        absent = sorted(f for f in needed & set(study.family(family).table.columns) if f not in table.columns)
        if absent:
            raise RadNomoError(f"the external {family} feature table lacks {len(absent)} feature(s) the models use, "
                               f"e.g. {absent[:3]}; extract them with the study's settings.")
    needed_families = sorted({m for score in models.scores for m in models.members[score]})
    absent_families = [f for f in needed_families if f not in checked]
    if absent_families:
        raise RadNomoError(f"the models' scores need the {absent_families} feature table(s) of the external cohort.")
    return ExternalCohort(name=name, cohort=validated, tables=checked, notes=tuple(notes))


def study_cohorts(study: Study) -> dict[str, tuple[pd.DataFrame, dict[str, pd.DataFrame]]]:
    """The study's own cohorts as (clinical rows, feature tables): "train" and, if any, "test"."""
    tables = study.feature_tables()
    return {name: (study.cohort.loc[ids], tables) for name, ids in study.cohorts().items()}


def pooled_predictions(study: Study, models: StudyModels, predictions: pd.DataFrame,
                       externals: Sequence[ExternalCohort]) -> tuple[pd.DataFrame, pd.Series, dict[str, list[str]]]:
    """The study's predictions and every external cohort's, in one table.

    External patients are indexed ``<cohort name>:<ID>`` so IDs of different cohorts never mix.
    Returns (predictions, outcome, groups) with groups "train", ["test"], and one per external cohort.
    """
    groups = dict(study.cohorts())
    frames, outcomes = [predictions], [study.outcome]
    for external in externals:
        scored = models.predict(external.cohort, external.tables)
        index = [f"{external.name}:{i}" for i in scored.index]
        frames.append(scored.set_axis(index, axis=0))
        outcomes.append(pd.Series(study.spec.outcome.events(external.cohort).to_numpy(), index=index))
        groups[external.name] = index
    return pd.concat(frames), pd.concat(outcomes), groups


def subgroup_columns(study: Study, max_levels: int = 8) -> list[str]:
    """Categorical cohort columns to split a cohort into subgroups by."""
    return categorical_columns(study.cohort, exclude=list(study.spec.outcome.columns), max_levels=max_levels)


def level_groups(study: Study, column: str, ids: Sequence[str], min_per_class: int = 5) -> dict[str, list[str]]:
    """Patients ``ids`` split by the levels of a categorical ``column`` (levels with at least
    ``min_per_class`` patients of each outcome: an AUC needs both)."""
    data = study.cohort.loc[list(ids)]
    groups = {}
    for level, rows in data.groupby(column, dropna=True):
        outcome = study.spec.outcome.events(rows)
        if min(outcome.sum(), len(outcome) - outcome.sum()) >= min_per_class:
            groups[f"{column} = {level}"] = list(rows.index)
    return groups


def cohort_panel(predictions: pd.DataFrame, outcome: pd.Series, groups: Mapping[str, Sequence[str]],
                 cutoffs: Mapping[str, float], *, ci: str = "wald") -> pd.DataFrame:
    """Every model in every cohort or subgroup: n, events, AUC and metrics (Table 2), Brier, calibration.

    Each model is evaluated on the patients of the group it has a prediction for: a family that covers
    only some patients leaves the others out of its models' rows (counted in ``left_out``), never the
    whole panel. A group or model with one outcome only among them is left out.

    Returns one row per group and model: ``group``, ``model``, ``n``, ``events``, the
    :func:`core.stats.summaries.table2` columns, ``brier``, ``cal_in_the_large`` (calibration-in-the-large),
    ``cal_slope`` and ``left_out`` (the group's patients without this model's prediction).
    """
    evaluation = evaluate_cohorts(predictions, outcome, groups, list(cutoffs), cutoffs, ci=ci, curves=False)
    if evaluation.table2.empty:
        raise RadNomoError("no cohort or subgroup has patients with both outcomes.")
    return evaluation.panel()


def panel_notes(panel: pd.DataFrame, labels: Mapping[str, str] | None = None) -> list[str]:
    """Plain sentences for the panel rows that left patients out (no prediction: a family they lack)."""
    labels = labels or {}
    return [f"{row.group}, {labels.get(row.model, row.model)}: {row.left_out} patient(s) without this model's "
            f"features are left out ({row.n} evaluated)." for row in panel.itertuples() if row.left_out]


def out_of_range(train: pd.DataFrame, other: pd.DataFrame, columns: Sequence[str], *,
                 warn_share: float = OUT_OF_RANGE_SHARE) -> pd.DataFrame:
    """How much of another cohort lies outside the training range of each feature.

    Returns per feature ``train_min``, ``train_max``, ``below`` and ``above`` (share of the other
    cohort's patients under the training minimum / over the maximum) and ``flag`` (their sum above
    ``warn_share``), sorted by the share outside.
    """
    low, high = train[list(columns)].min(), train[list(columns)].max()
    values = other[list(columns)]
    table = pd.DataFrame({"train_min": low, "train_max": high, "below": (values < low).mean(),
                          "above": (values > high).mean()})
    outside = table["below"] + table["above"]
    table["flag"] = outside > warn_share
    table = table.rename_axis("feature")  # not index.name =: the index is the training table's columns
    return table.iloc[np.argsort(-outside.to_numpy(), kind="stable")]


def range_report(study: Study, models: StudyModels, external: ExternalCohort) -> pd.DataFrame:
    """:func:`out_of_range` of every feature the models use, external cohort vs the training cohort."""
    rows = []
    needed = sorted(models.needed_features())
    for family, table in external.tables.items():
        used = [f for f in needed if f in table.columns]
        if used:
            train = study.family(family).table
            train = train.loc[train.index.intersection(pd.Index(study.train_ids))]  # the training patients it has
            rows.append(out_of_range(train, table, used))
    return pd.concat(rows) if rows else pd.DataFrame(columns=["train_min", "train_max", "below", "above", "flag"])


def cohort_aucs(models: StudyModels, cohorts: Mapping[str, tuple[pd.DataFrame, Mapping[str, pd.DataFrame]]],
                outcome: Outcome) -> pd.DataFrame:
    """AUC (DeLong 95 % CI) of every model of fitted ``models`` in each cohort.

    Parameters
    ----------
    models : StudyModels
        Frozen models (their ComBat, if any, is applied to each cohort's features).
    cohorts : mapping
        Name -> (clinical table indexed by ID, feature tables by family).
    outcome : Outcome
        The study's (``study.spec.outcome``): each cohort's events.

    Returns
    -------
    pandas.DataFrame
        One row per cohort and model: ``cohort``, ``model``, ``n``, ``events``, ``auc``, ``auc_low``, ``auc_high``.
    """
    rows = []
    for name, (clinical, tables) in cohorts.items():
        predictions = models.predict(clinical, tables)
        y = outcome.events(clinical).loc[predictions.index]
        for model in models.model_names:
            keep = predictions[model].notna()
            result = roc_auc(y[keep], predictions.loc[keep, model])
            rows.append({"cohort": name, "model": model, "n": int(keep.sum()), "events": int(y[keep].sum()),
                         "auc": result.auc, "auc_low": result.ci_low, "auc_high": result.ci_high})
    return pd.DataFrame(rows)


def training_limits(train: pd.DataFrame, *, margin_sd: float = OUTSIDE_MARGIN_SD) -> pd.DataFrame:
    """The range of each column over the training rows, and the limits beyond which a value is far outside it.

    Parameters
    ----------
    train : pandas.DataFrame
        Training patients (rows) by feature or variable (numeric columns).
    margin_sd : float
        How many training standard deviations beyond the minimum / maximum a value may lie.

    Returns
    -------
    pandas.DataFrame
        Index: the columns; ``train_min``, ``train_max``, ``low`` (min - margin_sd x SD) and ``high``
        (max + margin_sd x SD). Missing training values are ignored.
    """
    values = train.apply(pd.to_numeric, errors="coerce")
    low, high, sd = values.min(), values.max(), values.std(ddof=1).fillna(0.0)
    return pd.DataFrame({"train_min": low, "train_max": high, "low": low - margin_sd * sd,
                         "high": high + margin_sd * sd}).rename_axis("feature")


def study_limits(study: Study, models: StudyModels, *, margin_sd: float = OUTSIDE_MARGIN_SD) -> pd.DataFrame:
    """:func:`training_limits` of every feature the models' scores use, each over the training patients
    its family has (the features as extracted, before imputation and harmonisation)."""
    needed = models.needed_features()
    frames = []
    for family in study.families:
        used = [c for c in family.table.columns if c in needed]
        if used:
            rows = family.table.index.intersection(pd.Index(study.train_ids))
            frames.append(training_limits(family.table.loc[rows, used], margin_sd=margin_sd))
    if not frames:
        return pd.DataFrame(columns=["train_min", "train_max", "low", "high"]).rename_axis("feature")
    limits = pd.concat(frames)
    return limits[~limits.index.duplicated()]


def _number(value: float) -> str:
    return f"{value:,.4g}"


def outside_training_range(limits: pd.DataFrame, other: pd.DataFrame, probabilities: pd.DataFrame | None = None, *,
                           extreme: float = EXTREME_RISK) -> pd.DataFrame:
    """The patients of another cohort (or one new patient) outside the training range.

    Parameters
    ----------
    limits : pandas.DataFrame
        :func:`training_limits` (or :func:`study_limits`) of the features to check.
    other : pandas.DataFrame
        The patients' values (index: ID) of those features; a column absent or a value missing is not checked.
    probabilities : pandas.DataFrame, optional
        Their predicted risk, one column per model (same index).
    extreme : float
        A risk within this of 0 or 1 puts a patient outside.

    Returns
    -------
    pandas.DataFrame
        One row per patient outside, in ``other``'s order (index: ID): ``n_features`` (features beyond
        the limits), ``features`` (each "name = value (training min to max)"), ``extreme_risk`` (each
        "model: risk") and ``reason`` (a sentence). Empty (same columns) when none is.
    """
    columns = [c for c in limits.index if c in other.columns]
    values = other[columns].apply(pd.to_numeric, errors="coerce")
    beyond = (values.lt(limits.loc[columns, "low"]) | values.gt(limits.loc[columns, "high"])).fillna(False)
    extreme_rows = pd.DataFrame(False, index=other.index, columns=[])
    if probabilities is not None and len(probabilities.columns):
        p = probabilities.reindex(other.index)
        extreme_rows = ((p <= extreme) | (p >= 1 - extreme)).fillna(False)
    rows = {}
    for patient in other.index:
        far = [c for c in columns if beyond.at[patient, c]]
        models = [m for m in extreme_rows.columns if extreme_rows.at[patient, m]]
        if not far and not models:
            continue
        features = "; ".join(f"{c} = {_number(values.at[patient, c])} (training {_number(limits.at[c, 'train_min'])}"
                             f" to {_number(limits.at[c, 'train_max'])})" for c in far)
        risks = "; ".join(f"{m}: {probabilities.at[patient, m]:.6g}" for m in models) \
            if probabilities is not None else ""
        reason = " and ".join(filter(None, [
            f"{len(far)} feature(s) more than {OUTSIDE_MARGIN_SD:g} training SD beyond the training range"
            if far else "", f"a predicted risk within {extreme:g} of 0 or 1" if models else ""]))
        rows[patient] = {"n_features": len(far), "features": features, "extreme_risk": risks, "reason": reason}
    table = pd.DataFrame.from_dict(rows, orient="index",
                                   columns=["n_features", "features", "extreme_risk", "reason"])
    return table.rename_axis("patient")


def outside_range_patients(study: Study, models: StudyModels, external: ExternalCohort,
                           predictions: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`outside_training_range` of an external cohort: the features the scores use (as extracted) against
    the training patients', and every model's predicted risk.

    ``predictions`` (``models.predict`` of the cohort, index: its IDs) is computed when not given.
    """
    limits = study_limits(study, models)
    frames = [table[[c for c in table.columns if c in limits.index]] for table in external.tables.values()]
    other = pd.concat(frames, axis=1) if frames else pd.DataFrame(index=external.cohort.index)
    other = other.loc[:, ~other.columns.duplicated()].reindex(external.cohort.index)
    if predictions is None:
        predictions = models.predict(external.cohort, external.tables)
    risks = [c for c in risk_columns(study.spec.outcome, models.model_names) if c in predictions.columns]
    return outside_training_range(limits, other, predictions[risks])


def calibration_with_and_without(predictions: pd.DataFrame, outcome: pd.Series,
                                 groups: Mapping[str, Sequence[str]], outside: Mapping[str, Sequence[str]],
                                 models: Sequence[str]) -> pd.DataFrame:
    """Calibration of each model in each cohort of ``outside``, on all its patients and without those outside.

    Parameters
    ----------
    predictions, outcome, groups
        As :func:`pooled_predictions` returns them.
    outside : mapping
        Cohort name -> the IDs (as in ``groups``) of its patients outside the training range.
    models : sequence of str

    Returns
    -------
    pandas.DataFrame
        One row per cohort, model and subset: ``group``, ``model``, ``patients`` (the
        :data:`core.vocabulary.CALIBRATION_SUBSETS` label), ``n``, ``events``, ``n_outside``, ``brier``,
        ``cal_in_the_large`` (calibration-in-the-large) and ``cal_slope``. A subset with one outcome only
        (or patients without a prediction) is left out of that model's rows.
    """
    rows = []
    for group, left_out in outside.items():
        ids = list(groups[group])
        dropped = set(left_out)
        for subset, members in (("all", ids), ("within", [i for i in ids if i not in dropped])):
            for model in models:
                p = predictions.loc[members, model].dropna()
                y = outcome.loc[p.index]
                if y.nunique() < 2:
                    continue
                stats = calibration_stats(y, p)
                rows.append({"group": group, "model": model, "patients": CALIBRATION_SUBSETS[subset], "n": len(p),
                             "events": int(y.sum()), "n_outside": len(dropped), "brier": stats.brier,
                             "cal_in_the_large": stats.in_the_large, "cal_slope": stats.slope})
    return pd.DataFrame(rows, columns=["group", "model", "patients", "n", "events", "n_outside", "brier",
                                       "cal_in_the_large", "cal_slope"])


def outside_range_summary(study: Study, models: StudyModels,
                          externals: Sequence[ExternalCohort]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every external cohort's patients outside the training range, and its calibration with and without them.

    For the report and the command line: the frozen models score each cohort (nothing is refitted).

    Returns
    -------
    (patients, calibration)
        ``patients``: :func:`outside_range_patients` of every cohort with a ``cohort`` column first
        (index reset: ``patient``); ``calibration``: of every cohort, by the outcome kind
        (:data:`CALIBRATION_WITH_AND_WITHOUT`): a binary outcome's :func:`calibration_with_and_without`; a
        time-to-event one's :func:`survival_calibration_with_and_without` (a ``horizon`` column more).
    """
    with_and_without, columns_of = CALIBRATION_WITH_AND_WITHOUT[study.spec.outcome.kind]
    frames, calibrations = [], []
    for external in externals:
        scored = models.predict(external.cohort, external.tables)
        outside = outside_range_patients(study, models, external, scored)
        frames.append(outside.reset_index().assign(cohort=external.name))
        calibrations.append(with_and_without(study, models, external, scored, list(outside.index)))
    columns = ["cohort", "patient", "n_features", "features", "extreme_risk", "reason"]
    patients = pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
    calibration = pd.concat(calibrations, ignore_index=True) if calibrations else pd.DataFrame(columns=columns_of)
    return patients, calibration


def _binary_with_and_without(study: Study, models: StudyModels, external: ExternalCohort, scored: pd.DataFrame,
                             outside: Sequence[str]) -> pd.DataFrame:
    """:func:`calibration_with_and_without` of one external cohort (``scored``: its predictions, index its IDs;
    ``outside``: the IDs of its patients outside the training range)."""
    index = [f"{external.name}:{i}" for i in scored.index]
    y = pd.Series(study.spec.outcome.events(external.cohort).to_numpy(), index=index)
    return calibration_with_and_without(scored.set_axis(index, axis=0), y, {external.name: index},
                                        {external.name: [f"{external.name}:{i}" for i in outside]},
                                        [m for m in models.model_names if m in scored.columns])


#: Columns of :func:`survival_calibration_with_and_without`.
SURVIVAL_WITH_AND_WITHOUT_COLUMNS = ["group", "model", "patients", "horizon", "n", "events", "n_outside", "cal_slope",
                                     "cal_slope_low", "cal_slope_high", "observed_expected"]


def survival_calibration_with_and_without(study: Study, models: StudyModels, external: ExternalCohort,
                                          scored: pd.DataFrame, outside: Sequence[str]) -> pd.DataFrame:
    """Calibration at each horizon of each model in a time-to-event study's external cohort, on all its patients
    and without those outside the training range (:func:`calibration_with_and_without` for a time-to-event outcome).

    Parameters
    ----------
    scored : pandas.DataFrame
        ``models.predict`` of the cohort (index its IDs): each model's predicted survival at each horizon.
    outside : sequence of str
        The IDs of its patients outside the training range.

    Returns
    -------
    pandas.DataFrame
        One row per subset, model and horizon: ``group`` (the cohort's name), ``model``, ``patients`` (the
        :data:`core.vocabulary.CALIBRATION_SUBSETS` label), ``horizon`` (the outcome's unit), ``n``, ``events``,
        ``n_outside``, ``cal_slope`` (+ ``cal_slope_low``, ``cal_slope_high``: the calibration slope of
        :func:`core.stats.survival.calibration.survival_calibration`, 1 = ideal) and ``observed_expected`` (1 =
        ideal). A subset, model and horizon where calibration cannot be estimated (no event by the horizon, a
        predicted survival of 0 or 1) is left out of the rows, as the binary one's subsets with one outcome only.
    """
    outcome = study.spec.outcome
    time, event = outcome.arrays(external.cohort.loc[scored.index])  # type: ignore[attr-defined]
    dropped = set(outside)
    rows = []
    for subset, mask in (("all", np.ones(len(scored), dtype=bool)), ("within", ~scored.index.isin(list(dropped)))):
        for model in models.model_names:
            for horizon in outcome.horizons:  # type: ignore[attr-defined]
                column = survival_column(model, horizon)
                if column not in scored.columns:
                    continue
                surv = scored[column].to_numpy(dtype=float)
                keep = mask & np.isfinite(surv)
                try:
                    result = survival_calibration(time[keep], event[keep], surv[keep], horizon,
                                                  groups=SURVIVAL_CALIBRATION_GROUPS)
                except RadNomoError:
                    continue
                rows.append({"group": external.name, "model": model, "patients": CALIBRATION_SUBSETS[subset],
                             "horizon": float(horizon), "n": int(keep.sum()), "events": int(event[keep].sum()),
                             "n_outside": len(dropped), "cal_slope": result.slope.coefficient,
                             "cal_slope_low": result.slope.lower, "cal_slope_high": result.slope.upper,
                             "observed_expected": result.observed_expected})
    return pd.DataFrame(rows, columns=SURVIVAL_WITH_AND_WITHOUT_COLUMNS)


#: Outcome kind -> (an external cohort's calibration with and without its patients outside the training range:
#: ``(study, models, external, scored, outside IDs) -> DataFrame``, that frame's columns).
CALIBRATION_WITH_AND_WITHOUT: dict[str, tuple[Callable[..., pd.DataFrame], list[str]]] = {
    "binary": (_binary_with_and_without, ["group", "model", "patients", "n", "events", "n_outside", "brier",
                                          "cal_in_the_large", "cal_slope"]),
    "survival": (survival_calibration_with_and_without, SURVIVAL_WITH_AND_WITHOUT_COLUMNS)}


def outside_range_notes(study: Study, models: StudyModels, externals: Sequence[ExternalCohort]) -> list[str]:
    """One plain sentence per external cohort with patients outside the training range (for notes.txt)."""
    patients, calibration = outside_range_summary(study, models, externals)
    notes = []
    for name, rows in patients.groupby("cohort", sort=False):
        shown = ", ".join(map(str, rows["patient"].iloc[:5])) + (", ..." if len(rows) > 5 else "")
        note = f"{name}: {len(rows)} patient(s) {OUTSIDE_RANGE} ({shown})"
        of_cohort, at = calibration[calibration["group"] == name], ""
        if "horizon" in of_cohort.columns and len(of_cohort):  # time to event: the slope at the last horizon
            last = of_cohort["horizon"].max()
            of_cohort, at = of_cohort[of_cohort["horizon"] == last], f" at {study.spec.outcome.horizon_label(last)}"  # type: ignore[attr-defined]
        slopes = of_cohort.pivot_table(index="model", columns="patients", values="cal_slope", sort=False)
        if len(slopes.columns) == 2:
            model = slopes.index[-1]
            note += (f"; {model} calibration slope{at} {slopes.loc[model, CALIBRATION_SUBSETS['all']]:.2f} with "
                     f"them, {slopes.loc[model, CALIBRATION_SUBSETS['within']]:.2f} without")
        notes.append(note + ".")
    return notes


def read_sample_external(outcome: Outcome, folder: Path | str = SAMPLE_EXTERNAL_DIR
                         ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The sample's external centre as read (not yet validated): its clinical table and feature tables by family.

    ``clinical.csv`` holds the binary outcome; an outcome column it lacks (a time-to-event study's follow-up time
    and event) is joined, patient by patient, from the folder's other CSV table that holds it (``survival.csv``).

    Raises
    ------
    RadNomoError
        If the tables joined do not list the same patients (never a silent inner join).
    """
    folder = Path(folder)
    clinical = read_table(folder / "clinical.csv")
    absent = [c for c in outcome.columns if c not in clinical.columns]
    key = clinical.columns[0]
    for path in sorted(folder.glob("*.csv")):
        if not absent or path.name == "clinical.csv":
            continue
        table = read_table(path)
        if key not in table.columns or not set(absent) <= set(table.columns):
            continue
        mine, theirs = set(clinical[key].astype(str)), set(table[key].astype(str))
        if mine != theirs:
            unmatched = sorted(mine ^ theirs)
            raise RadNomoError(f"{path.name} and clinical.csv of {folder} do not list the same patients "
                               f"({len(unmatched)} in one only: {listed(unmatched)}); regenerate the sample.")
        clinical = clinical.merge(table[[key, *absent]], on=key, how="left", validate="one_to_one")
        absent = []
    return clinical, sample_external_tables(folder)


def evaluate_survival_panel(study: Study, models: StudyModels, predictions: pd.DataFrame,
                            externals: Sequence[ExternalCohort] = (), groups: Mapping[str, Sequence[str]] | None = None,
                            *, cohorts: Sequence[str] | None = None, model_names: Sequence[str] | None = None,
                            curves: bool = False) -> SurvivalEvaluation:
    """A time-to-event study's models on its own cohorts, its external cohorts and subgroups, side by side.

    Nothing is refitted: the frozen ``models`` score each external cohort, and each model's risk-group cut-off is
    its median linear predictor over the TRAINING patients (:func:`core.workflows.survival_evaluation.risk_cutoffs`),
    applied unchanged to every cohort (as on the Evaluation page and in the report).

    Parameters
    ----------
    study : Study
        A time-to-event study (its outcome a :class:`core.stats.outcomes.SurvivalOutcome`).
    models : StudyModels
        Its fitted models.
    predictions : pandas.DataFrame
        :func:`core.workflows.fit.predict_study` of ``models`` (wide, index patient ID).
    externals : sequence of ExternalCohort
        Checked external cohorts (:func:`validate_external`).
    groups : mapping, optional
        More groups to evaluate: name -> keys, a study patient by its ID (e.g. :func:`level_groups` of the test
        cohort), an external one by ``<cohort name>:<ID>`` (as :func:`pooled_predictions` keys them).
    cohorts : sequence of str, optional
        The groups to evaluate (names of "train", ["test"], the externals and ``groups``); None: every one.
    model_names : sequence of str, optional
        The models to evaluate; None: every one.
    curves : bool
        Whether to compute the curve tables (time-dependent ROC, Kaplan-Meier, calibration groups, decision
        curves) and the pairwise comparisons: what figures need, slower.

    Returns
    -------
    SurvivalEvaluation
        Its ``cohorts`` are the groups evaluated, in the order train, [test], externals, ``groups`` (or
        ``cohorts``'s order); times in the outcome's unit; ``notes`` say what a cohort could not estimate
        (e.g. no event by a horizon in a subgroup).

    Raises
    ------
    RadNomoError
        An unknown group name or model, or a group key that is no patient of the study or of an external cohort.
    """
    table, values, own = cohort_predictions(study, models, predictions, externals)
    everything = {**own, **{str(name): tuple(str(k) for k in keys) for name, keys in (groups or {}).items()}}
    chosen = list(everything) if cohorts is None else [str(c) for c in cohorts]
    unknown = [c for c in chosen if c not in everything]
    if unknown:
        raise RadNomoError(f"no cohort or subgroup {listed(map(repr, unknown))}; there are "
                           f"{listed(map(repr, everything))}.")
    for name in chosen:
        strangers = [k for k in everything[name] if k not in values.index]
        if strangers:
            raise RadNomoError(f"group '{name}' lists {len(strangers)} patient(s) of no cohort, e.g. "
                               f"{listed(strangers[:3])}; key a study patient by its ID and an external one by "
                               "'<cohort name>:<ID>'.")
    names = tuple(models.model_names) if model_names is None else tuple(str(m) for m in model_names)
    outcome = study.spec.outcome
    long = table.drop(columns=["id", "cohort", "time", "event"]).rename(columns={"key": "id"})
    # the training patients' quantile (the study's), whichever groups are shown
    cutoffs = risk_cutoffs(long, own["train"], quantile=study.evaluation.risk_quantile)
    return evaluate_survival_cohorts(long, values, {c: everything[c] for c in chosen}, names,
                                     outcome.horizons,  # type: ignore[attr-defined]  # a SurvivalOutcome's
                                     {m: cutoffs[m] for m in names}, time_unit=outcome.time_unit,  # type: ignore[attr-defined]
                                     calibration_groups=SURVIVAL_CALIBRATION_GROUPS, curves=curves,
                                     seed=study.split.config.seed)


def cohort_concordance(models: StudyModels, cohorts: Mapping[str, tuple[pd.DataFrame, Mapping[str, pd.DataFrame]]],
                       outcome: Outcome) -> pd.DataFrame:
    """Harrell's C (95 % CI) of every model of fitted ``models`` in each cohort: :func:`cohort_aucs` for a
    time-to-event outcome (the ComBat comparison).

    Parameters
    ----------
    models : StudyModels
        Frozen models of a time-to-event study (a model's prediction: its linear predictor).
    cohorts : mapping
        Name -> (clinical table indexed by ID, feature tables by family).
    outcome : SurvivalOutcome
        The study's: each cohort's follow-up time and event.

    Returns
    -------
    pandas.DataFrame
        One row per cohort and model: ``cohort``, ``model``, ``n``, ``events``, ``c_index``, ``c_low``, ``c_high``
        (unitless, 0-1; NaN where the cohort's patients with a prediction have no event).
    """
    rows = []
    for name, (clinical, tables) in cohorts.items():
        predictions = models.predict(clinical, tables)
        time, event = outcome.arrays(clinical.loc[predictions.index])  # type: ignore[attr-defined]
        for model in models.model_names:
            keep = predictions[model].notna().to_numpy()
            c = harrell_c(time[keep], event[keep], predictions[model].to_numpy(dtype=float)[keep]) \
                if event[keep].sum() else None
            rows.append({"cohort": name, "model": model, "n": int(keep.sum()), "events": int(event[keep].sum()),
                         "c_index": c.c if c else np.nan, "c_low": c.low if c else np.nan,
                         "c_high": c.high if c else np.nan})
    return pd.DataFrame(rows, columns=["cohort", "model", "n", "events", "c_index", "c_low", "c_high"])
