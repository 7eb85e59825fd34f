"""Subgroup analysis: do the scores tell two levels of a categorical column apart?

The reference study's Table 3 asks it of synchronous vs metachronous liver metastasis among the
patients with LM; here any categorical column, among the event patients or among all patients, can be
compared. Each score's cut-off is chosen (Youden) on the training patients compared and applied unchanged to
the patients shown (all, training or test), as the study's cut-offs are; groups under
:data:`core.vocabulary.MIN_PER_GROUP` patients are flagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from core.errors import RadNomoError
from core.stats.evaluation import performance_table, youden_cutoff
from core.stats.summaries import GroupComparison, categorical_columns, compare_groups, small_groups
from core.vocabulary import MIN_PER_GROUP, score_column
from core.workflows.study import Study, SubgroupSettings

__all__ = ["SubgroupResult", "subgroup_columns", "subgroup_levels", "subgroup_groups", "subgroup_cutoffs",
           "compare_subgroup"]


@dataclass(frozen=True, eq=False)
class SubgroupResult:
    """A subgroup comparison of a study's scores.

    Attributes
    ----------
    settings : SubgroupSettings
    groups : pandas.Series
        1 (``settings.positive``) or 0 (``settings.negative``) per patient compared (index: ID).
    counts : dict
        Level -> patients compared.
    table : pandas.DataFrame
        Table 3: per score (``model`` = family) AUC with DeLong CI and the metrics at the Youden
        cut-off of the training patients compared (:func:`subgroup_cutoffs`), on the patients compared
        (columns as :func:`core.stats.evaluation.performance_table`).
    comparisons : dict
        Family -> :class:`core.stats.summaries.GroupComparison` of its score (t-test, Mann-Whitney).
    warnings : tuple of str
    """

    settings: SubgroupSettings
    groups: pd.Series
    counts: dict[str, int]
    table: pd.DataFrame
    comparisons: dict[str, GroupComparison]
    warnings: tuple[str, ...]


def subgroup_columns(study: Study) -> list[str]:
    """Columns a subgroup comparison can split by: the cohort's categorical columns except the outcome."""
    return categorical_columns(study.cohort, exclude=list(study.spec.outcome.columns))


def subgroup_levels(study: Study, column: str, population: str = "events") -> list[str]:
    """The levels of ``column`` among the patients of ``population`` ("events" or "all")."""
    if column not in study.cohort.columns:
        raise RadNomoError(f"the cohort has no '{column}' column.")
    rows = study.cohort if population == "all" else study.cohort[study.outcome == 1]
    return sorted(rows[column].dropna().astype(str).unique())


def subgroup_groups(study: Study, settings: SubgroupSettings, ids: Sequence[str] | None = None) -> pd.Series:
    """1 for ``positive``, 0 for ``negative`` patients of the population (restricted to ``ids`` if given)."""
    if settings.column not in study.cohort.columns:
        raise RadNomoError(f"the cohort has no '{settings.column}' column to compare subgroups by.")
    rows = study.cohort if settings.population == "all" else study.cohort[study.outcome == 1]
    if ids is not None:
        rows = rows[rows.index.isin(set(ids))]
    values = rows[settings.column].astype("string")
    chosen = values.isin([settings.positive, settings.negative])
    groups = (values[chosen] == settings.positive).astype(int).rename(f"{settings.column}={settings.positive}")
    if groups.nunique() < 2:
        raise RadNomoError(f"the patients compared need both '{settings.positive}' and '{settings.negative}' in "
                           f"'{settings.column}'.")
    return groups


def subgroup_cutoffs(study: Study, predictions: pd.DataFrame, scores: Sequence[str],
                     settings: SubgroupSettings) -> dict[str, float]:
    """Each score's probability cut-off for the subgroup question, chosen by Youden's index on the training
    patients compared (whichever patients are shown later: test patients are judged at these, unchanged).

    Raises
    ------
    RadNomoError
        If the training patients compared hold one of the two levels only (no cut-off can be chosen).
    """
    try:
        train = subgroup_groups(study, settings, study.train_ids)
    except RadNomoError as error:
        raise RadNomoError(f"the cut-offs are chosen on the training patients, and {error}") from error
    return {s: youden_cutoff(train, predictions.loc[train.index, s]) for s in scores}


def compare_subgroup(study: Study, predictions: pd.DataFrame, scores: Sequence[str], settings: SubgroupSettings,
                     ids: Sequence[str] | None = None) -> SubgroupResult:
    """Table 3, ROC-ready groups and score comparisons for one subgroup question.

    Parameters
    ----------
    predictions : pandas.DataFrame
        :func:`core.workflows.fit.predict_study` output (the ``<family>_score`` columns are used).
    scores : sequence of str
        Score families to compare.
    ids : sequence of str, optional
        Restrict to these patients (e.g. the test cohort); all by default, as the study did. The cut-offs
        come from the training patients compared in every case (:func:`subgroup_cutoffs`).
    """
    if not scores:
        raise RadNomoError("no score to compare: the study needs a feature family with a non-empty selection.")
    groups = subgroup_groups(study, settings, ids)
    counts = {settings.positive: int(groups.sum()), settings.negative: int((1 - groups).sum())}
    warnings = []
    small = small_groups(counts)
    if small:
        warnings.append(f"{' and '.join(f'{level} ({counts[level]})' for level in small)}: fewer than "
                        f"{MIN_PER_GROUP} patients, so the AUC and its interval rest on very few patients.")
    # On each score's probability (the same ranking as its log-odds), so cut-offs read as probabilities.
    cutoffs = subgroup_cutoffs(study, predictions, scores, settings)
    table = performance_table(groups, {s: predictions.loc[groups.index, s] for s in scores}, cutoffs,
                              ci=study.evaluation.proportion_ci)
    comparisons = {s: compare_groups(predictions.loc[groups.index, score_column(s)], groups) for s in scores}
    return SubgroupResult(settings=settings, groups=groups, counts=counts, table=table, comparisons=comparisons,
                          warnings=tuple(warnings))
