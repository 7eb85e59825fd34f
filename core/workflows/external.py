"""Several cohorts side by side: training, test, external cohorts and subgroups, evaluated by frozen models.

External validation never refits anything: the models, cut-offs and (optional) ComBat estimates
come from the training cohort; an external cohort is only scored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.stats.cohort import blank_id_note, validate_cohort, with_row_ids, without_blank_ids
from core.stats.feature_tables import import_feature_table
from core.stats.outcomes import Outcome
from core.stats.evaluation import calibration_stats, roc_auc
from core.stats.summaries import categorical_columns
from core.vocabulary import CALIBRATION_SUBSETS, OUTSIDE_RANGE, ROW_ID_COLUMN
from core.workflows.evaluation import evaluate_cohorts
from core.workflows.fit import StudyModels
from core.workflows.study import Study

__all__ = ["ExternalCohort", "validate_external", "pooled_predictions", "level_groups", "subgroup_columns",
           "cohort_panel", "panel_notes", "out_of_range", "range_report", "cohort_aucs", "study_cohorts",
           "OUT_OF_RANGE_SHARE",
           "OUTSIDE_MARGIN_SD", "EXTREME_RISK", "training_limits", "study_limits", "outside_training_range",
           "outside_range_patients", "calibration_with_and_without", "outside_range_summary",
           "outside_range_notes"]

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
        For a missing clinical column or feature, IDs that do not match, an unknown family, or a
        non-binary outcome.
    """
    spec = study.spec
    if not name.strip():
        raise RadNomoError("give the external cohort a name.")
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
    return outside_training_range(limits, other, predictions[[m for m in models.model_names
                                                               if m in predictions.columns]])


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
        (index reset: ``patient``); ``calibration``: :func:`calibration_with_and_without` of every cohort.
    """
    frames, calibrations = [], []
    for external in externals:
        scored = models.predict(external.cohort, external.tables)
        outside = outside_range_patients(study, models, external, scored)
        frames.append(outside.reset_index().assign(cohort=external.name))
        index = [f"{external.name}:{i}" for i in scored.index]
        y = pd.Series(study.spec.outcome.events(external.cohort).to_numpy(), index=index)
        calibrations.append(calibration_with_and_without(
            scored.set_axis(index, axis=0), y, {external.name: index},
            {external.name: [f"{external.name}:{i}" for i in outside.index]},
            [m for m in models.model_names if m in scored.columns]))
    columns = ["cohort", "patient", "n_features", "features", "extreme_risk", "reason"]
    patients = pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
    calibration = pd.concat(calibrations, ignore_index=True) if calibrations else \
        calibration_with_and_without(pd.DataFrame(), pd.Series(dtype=float), {}, {}, [])
    return patients, calibration


def outside_range_notes(study: Study, models: StudyModels, externals: Sequence[ExternalCohort]) -> list[str]:
    """One plain sentence per external cohort with patients outside the training range (for notes.txt)."""
    patients, calibration = outside_range_summary(study, models, externals)
    notes = []
    for name, rows in patients.groupby("cohort", sort=False):
        shown = ", ".join(map(str, rows["patient"].iloc[:5])) + (", ..." if len(rows) > 5 else "")
        note = f"{name}: {len(rows)} patient(s) {OUTSIDE_RANGE} ({shown})"
        slopes = calibration[calibration["group"] == name].pivot_table(index="model", columns="patients",
                                                                       values="cal_slope", sort=False)
        if len(slopes.columns) == 2:
            model = slopes.index[-1]
            note += (f"; {model} calibration slope {slopes.loc[model, CALIBRATION_SUBSETS['all']]:.2f} with them, "
                     f"{slopes.loc[model, CALIBRATION_SUBSETS['within']]:.2f} without")
        notes.append(note + ".")
    return notes
