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
from core.stats.cohort import validate_cohort
from core.stats.feature_tables import import_feature_table
from core.stats.evaluation import calibration_stats, performance_table, roc_auc
from core.stats.summaries import categorical_columns
from core.workflows.fit import StudyModels
from core.workflows.study import Study

__all__ = ["ExternalCohort", "validate_external", "pooled_predictions", "level_groups", "subgroup_columns",
           "cohort_panel", "out_of_range", "range_report", "cohort_aucs", "study_cohorts", "OUT_OF_RANGE_SHARE"]

# A feature with more than this share of a cohort's patients outside its training range is flagged:
# the models extrapolate for them.
OUT_OF_RANGE_SHARE = 0.1


@dataclass(frozen=True, eq=False)
class ExternalCohort:
    """An external cohort ready to be scored: its clinical table (indexed by ID) and feature tables by family."""

    name: str
    cohort: pd.DataFrame
    tables: dict[str, pd.DataFrame]

    def n_events(self, outcome_column: str) -> int:
        return int(self.cohort[outcome_column].sum())


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
    validated = validate_cohort(clinical, spec.id_column, spec.outcome_column, continuous=spec.continuous,
                                categorical=spec.categorical).set_index(spec.id_column)
    ids = validated.index
    unknown = [f for f in tables if f not in study.family_names]
    if unknown:
        raise RadNomoError(f"feature table(s) for unknown famil(ies) {unknown}; the study's families are "
                           f"{study.family_names}.")
    checked = {}
    for family, table in tables.items():
        table = import_feature_table(table, ids, name=f"external {family} feature table", id_column=spec.id_column,
                                     drop_constant=False).table
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
    return ExternalCohort(name=name, cohort=validated, tables=checked)


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
        outcomes.append(pd.Series(external.cohort[study.spec.outcome_column].to_numpy(), index=index))
        groups[external.name] = index
    return pd.concat(frames), pd.concat(outcomes), groups


def subgroup_columns(study: Study, max_levels: int = 8) -> list[str]:
    """Categorical cohort columns to split a cohort into subgroups by."""
    return categorical_columns(study.cohort, exclude=[study.spec.outcome_column], max_levels=max_levels)


def level_groups(study: Study, column: str, ids: Sequence[str], min_per_class: int = 5) -> dict[str, list[str]]:
    """Patients ``ids`` split by the levels of a categorical ``column`` (levels with at least
    ``min_per_class`` patients of each outcome: an AUC needs both)."""
    data = study.cohort.loc[list(ids)]
    groups = {}
    for level, rows in data.groupby(column, dropna=True):
        outcome = rows[study.spec.outcome_column]
        if min(outcome.sum(), len(outcome) - outcome.sum()) >= min_per_class:
            groups[f"{column} = {level}"] = list(rows.index)
    return groups


def cohort_panel(predictions: pd.DataFrame, outcome: pd.Series, groups: Mapping[str, Sequence[str]],
                 cutoffs: Mapping[str, float], *, ci: str = "wald") -> pd.DataFrame:
    """Every model in every cohort or subgroup: n, events, AUC and metrics (Table 2), Brier, calibration.

    Returns one row per group and model: ``group``, ``model``, ``n``, ``events``, the
    :func:`core.stats.summaries.table2` columns, ``brier``, ``cal_intercept`` (calibration-in-the-large)
    and ``cal_slope``.
    """
    frames = []
    for group, ids in groups.items():
        ids = list(ids)
        y = outcome.loc[ids]
        if y.nunique() < 2:
            continue
        scores = {m: predictions.loc[ids, m] for m in cutoffs}
        table = performance_table(y, scores, cutoffs, ci=ci)
        calibration = [calibration_stats(y, predictions.loc[ids, m]) for m in table["model"]]
        table.insert(0, "group", group)
        table.insert(2, "n", len(ids))
        table.insert(3, "events", int(y.sum()))
        table["brier"] = [c.brier for c in calibration]
        table["cal_intercept"] = [c.intercept for c in calibration]
        table["cal_slope"] = [c.slope for c in calibration]
        frames.append(table)
    if not frames:
        raise RadNomoError("no cohort or subgroup has patients with both outcomes.")
    return pd.concat(frames, ignore_index=True)


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
            rows.append(out_of_range(study.family(family).table.loc[study.train_ids], table, used))
    return pd.concat(rows) if rows else pd.DataFrame(columns=["train_min", "train_max", "below", "above", "flag"])


def cohort_aucs(models: StudyModels, cohorts: Mapping[str, tuple[pd.DataFrame, Mapping[str, pd.DataFrame]]],
                outcome_column: str) -> pd.DataFrame:
    """AUC (DeLong 95 % CI) of every model of fitted ``models`` in each cohort.

    Parameters
    ----------
    models : StudyModels
        Frozen models (their ComBat, if any, is applied to each cohort's features).
    cohorts : mapping
        Name -> (clinical table indexed by ID, feature tables by family).

    Returns
    -------
    pandas.DataFrame
        One row per cohort and model: ``cohort``, ``model``, ``n``, ``events``, ``auc``, ``auc_low``, ``auc_high``.
    """
    rows = []
    for name, (clinical, tables) in cohorts.items():
        predictions = models.predict(clinical, tables)
        y = clinical[outcome_column].loc[predictions.index]
        for model in models.model_names:
            keep = predictions[model].notna()
            result = roc_auc(y[keep], predictions.loc[keep, model])
            rows.append({"cohort": name, "model": model, "n": int(keep.sum()), "events": int(y[keep].sum()),
                         "auc": result.auc, "auc_low": result.ci_low, "auc_high": result.ci_high})
    return pd.DataFrame(rows)
