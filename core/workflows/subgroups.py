"""Subgroup analysis: two levels of a categorical column compared, as the study's outcome type asks it.

A binary study (:func:`compare_subgroup`): do the scores tell the two levels apart? The reference study's
Table 3 asks it of synchronous vs metachronous liver metastasis among the patients with LM; here any
categorical column, among the event patients or among all patients, can be compared. Each score's cut-off is
chosen (Youden) on the training patients compared and applied unchanged to the patients shown (all, training
or test), as the study's cut-offs are.

A time-to-event study (:func:`compare_survival_subgroup`): does survival differ between the two groups
(Kaplan-Meier curves, log-rank test), and does every model still rank the patients within each group
(Harrell's C, the time-dependent AUC at each horizon, both of the model's linear predictor)?

Which analysis a study gets is read from :data:`SUBGROUP_ANALYSES` by its outcome's kind
(:func:`subgroup_analysis`). Groups under :data:`core.vocabulary.MIN_PER_GROUP` patients are flagged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.stats.evaluation import performance_table, youden_cutoff
from core.stats.summaries import GroupComparison, categorical_columns, compare_groups, small_groups
from core.stats.survival.concordance import harrell_c
from core.stats.survival.kaplan_meier import KaplanMeier, LogRank, kaplan_meier, log_rank
from core.stats.survival.time_dependent import td_auc
from core.vocabulary import MIN_PER_GROUP, SUBGROUP_POPULATIONS, horizon_column, horizon_text, score_column
from core.workflows.sample import SAMPLE_SURVIVAL_NAME
from core.workflows.study import Study, SubgroupSettings

__all__ = ["SubgroupResult", "subgroup_columns", "subgroup_levels", "subgroup_groups", "subgroup_cutoffs",
           "compare_subgroup", "SurvivalSubgroupResult", "compare_survival_subgroup", "SubgroupAnalysis",
           "SUBGROUP_ANALYSES", "subgroup_analysis", "default_subgroup", "SAMPLE_SURVIVAL_SUBGROUP"]


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
    """Columns a subgroup comparison can split by: the cohort's categorical columns and its two-valued columns
    (a 0/1 flag such as the sample's ``lm``), except the outcome's, in the cohort's order."""
    exclude = set(study.spec.outcome.columns)
    categorical = set(categorical_columns(study.cohort, exclude=list(exclude)))
    return [c for c in study.cohort.columns
            if c not in exclude and (c in categorical or study.cohort[c].dropna().nunique() == 2)]


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


# -- a time-to-event study ----------------------------------------------------------------------------------------

#: The survival sample's default comparison (:func:`default_subgroup`): patients with liver metastasis (``lm`` = 1)
#: against those without, among all patients. ``lm`` is not a predictor of the survival sample (a metastasis is
#: found during follow-up) but is part of its generator's hazard, so the two groups' survival differs clearly.
SAMPLE_SURVIVAL_SUBGROUP = SubgroupSettings(column="lm", population="all", positive="1", negative="0")
# A study's own default wins; a sample study without one gets its default here, by the sample's name.
_SAMPLE_DEFAULTS = {SAMPLE_SURVIVAL_NAME: SAMPLE_SURVIVAL_SUBGROUP}


def default_subgroup(study: Study) -> SubgroupSettings | None:
    """The comparison a page opens with: the study's own (``study.subgroup``, the binary sample's synchronous vs
    metachronous LM), else the survival sample's :data:`SAMPLE_SURVIVAL_SUBGROUP`, else None (the page's
    first choices)."""
    if study.subgroup is not None:
        return study.subgroup
    return _SAMPLE_DEFAULTS.get(study.name) if study.is_sample else None


@dataclass(frozen=True, eq=False)
class SurvivalSubgroupResult:
    """A subgroup comparison of a time-to-event study: the two groups' survival and every model within each.

    Attributes
    ----------
    settings : SubgroupSettings
    groups : pandas.Series
        1 (``settings.positive``) or 0 (``settings.negative``) per patient compared (index: ID).
    counts, events : dict
        Level -> patients compared, and events among them.
    concordance : pandas.DataFrame
        One row per group and model with at least one event in the group: ``group`` (the level), ``model``,
        ``n`` (patients with a prediction), ``events``, ``c_index``, ``c_low``, ``c_high`` (Harrell's C of the
        model's linear predictor with survival's standard error, 95 % Wald interval; unitless).
    td_auc : pandas.DataFrame
        One row per group, model and horizon it can be estimated at: ``group``, ``model``, ``horizon`` (the
        outcome's time unit), ``auc``, ``auc_low``, ``auc_high`` (IPCW cumulative/dynamic AUC, 95 % interval),
        ``cases`` (events by the horizon), ``controls`` (followed beyond it).
    curves : dict
        Level -> its :class:`core.stats.survival.kaplan_meier.KaplanMeier` (positive first).
    log_rank : LogRank or None
        The log-rank test of the two groups; None when it cannot be done (no event at all).
    survival : pandas.DataFrame
        One row per group: ``group``, ``n``, ``events``, ``median``, ``median_low``, ``median_high`` (Kaplan-Meier
        median time to the event with its 95 % interval, NaN = not reached) and, per horizon ``h``,
        ``horizon_column(h)`` = the Kaplan-Meier event-free share at ``h`` (NaN beyond the group's last
        follow-up).
    warnings : tuple of str
        What could not be estimated or rests on too few patients, in words.
    """

    settings: SubgroupSettings
    groups: pd.Series
    counts: dict[str, int]
    events: dict[str, int]
    concordance: pd.DataFrame
    td_auc: pd.DataFrame
    curves: dict[str, KaplanMeier]
    log_rank: LogRank | None
    survival: pd.DataFrame
    warnings: tuple[str, ...]


_CONCORDANCE_COLUMNS = ["group", "model", "n", "events", "c_index", "c_low", "c_high"]
_TD_AUC_COLUMNS = ["group", "model", "horizon", "auc", "auc_low", "auc_high", "cases", "controls"]


def _check_population(study: Study, settings: SubgroupSettings) -> None:
    allowed = subgroup_analysis(study).populations
    if settings.population not in allowed:
        raise RadNomoError(f"a {study.spec.outcome.kind} study compares subgroups among "
                           f"{' or '.join(SUBGROUP_POPULATIONS[p].lower() for p in allowed)}, not among "
                           f"{SUBGROUP_POPULATIONS[settings.population].lower()}: among the patients with the event "
                           "nobody is censored, so survival curves and concordance would describe the event's timing "
                           "only; choose all patients.")


def compare_survival_subgroup(study: Study, predictions: pd.DataFrame, models: Sequence[str],
                              settings: SubgroupSettings, ids: Sequence[str] | None = None) -> SurvivalSubgroupResult:
    """Survival of two groups of patients and every model's discrimination within each.

    Parameters
    ----------
    study : Study
        A time-to-event study (its outcome: times, events, horizons, time unit).
    predictions : pandas.DataFrame
        :func:`core.workflows.fit.predict_study` output (wide, index patient ID): each model's column is its
        linear predictor (higher = higher risk).
    models : sequence of str
        The models (prediction columns) to judge within each group.
    settings : SubgroupSettings
        Column, levels and population ("all": a time-to-event study refuses "events").
    ids : sequence of str, optional
        Restrict to these patients (e.g. the test cohort); all by default.

    Raises
    ------
    RadNomoError
        For no model, the "events" population, or a column without both levels among the patients compared.
    """
    if not models:
        raise RadNomoError("no model to judge: fit the study's models first (Models page).")
    _check_population(study, settings)
    outcome = study.spec.outcome
    horizons = tuple(getattr(outcome, "horizons", ()))
    unit = getattr(outcome, "time_unit", "")
    groups = subgroup_groups(study, settings, ids)
    time_all, event_all = outcome.arrays(study.cohort.loc[groups.index])  # type: ignore[attr-defined]
    levels = {settings.positive: 1, settings.negative: 0}
    counts = {level: int((groups == flag).sum()) for level, flag in levels.items()}
    events = {level: int(event_all[(groups == flag).to_numpy()].sum()) for level, flag in levels.items()}
    warnings: list[str] = []
    small = small_groups(counts)
    if small:
        warnings.append(f"{' and '.join(f'{level} ({counts[level]})' for level in small)}: fewer than "
                        f"{MIN_PER_GROUP} patients, so the estimates in that group rest on very few patients.")
    concordance, aucs, survival, curves = [], [], [], {}
    for level, flag in levels.items():
        member = (groups == flag).to_numpy()
        time, event = time_all[member], event_all[member]
        curve = kaplan_meier(time, event)
        curves[level] = curve
        median = curve.median()
        # Beyond the group's last follow-up the curve says nothing (R's extend = TRUE would carry it on): NaN.
        at = {horizon_column(h): float(s) if h <= time.max() else np.nan
              for h, s in zip(horizons, curve.survival_at(list(horizons)), strict=True)}
        survival.append({"group": level, "n": counts[level], "events": events[level], "median": median[0],
                         "median_low": median[1], "median_high": median[2], **at})
        if events[level] == 0:
            warnings.append(f"{level}: no event among its {counts[level]} patients, so no concordance or "
                            "time-dependent AUC within it.")
            continue
        ids_level = groups.index[member]
        for model in models:
            risk = predictions.loc[ids_level, model].to_numpy(dtype=float)
            have = np.isfinite(risk)
            t, e, r = time[have], event[have], risk[have]
            with np.errstate(invalid="ignore", divide="ignore"):  # no comparable pair: C = 0/0
                c = harrell_c(t, e, r) if e.sum() else None
            if c is None or not np.isfinite(c.c):
                warnings.append(f"{level}, {model}: no comparable pair of patients (an event before another "
                                "patient's follow-up ends), so no concordance.")
                continue
            concordance.append({"group": level, "model": model, "n": int(have.sum()), "events": int(e.sum()),
                                "c_index": c.c, "c_low": c.low, "c_high": c.high})
            for horizon in horizons:
                try:
                    row = td_auc(t, e, r, [horizon]).iloc[0]
                except RadNomoError as error:
                    warnings.append(f"{level}: no time-dependent AUC at {horizon_text(horizon)} {unit}: {error}")
                    continue
                aucs.append({"group": level, "model": model, **row.to_dict(), "cases": int(row["cases"]),
                             "controls": int(row["controls"])})
    try:
        test = log_rank(time_all, event_all, groups.map({1: settings.positive, 0: settings.negative}).to_numpy())
    except RadNomoError as error:
        test = None
        warnings.append(f"no log-rank test: {error}")
    return SurvivalSubgroupResult(
        settings=settings, groups=groups, counts=counts, events=events,
        concordance=pd.DataFrame(concordance, columns=_CONCORDANCE_COLUMNS),
        td_auc=pd.DataFrame(aucs, columns=_TD_AUC_COLUMNS), curves=curves, log_rank=test,
        survival=pd.DataFrame(survival), warnings=tuple(dict.fromkeys(warnings)))  # each sentence once


# -- which analysis a study gets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubgroupAnalysis:
    """How a study of one outcome kind compares subgroups.

    Attributes
    ----------
    kind : str
        The outcome kind (a key of :data:`core.vocabulary.OUTCOME_KINDS`).
    populations : tuple of str
        The populations (keys of :data:`core.vocabulary.SUBGROUP_POPULATIONS`) it can compare among, default first.
    compared : callable
        ``StudyModels -> list of str``: the prediction columns judged (a binary study's scores; a time-to-event
        study's every model, by its linear predictor).
    compare : callable
        ``(study, predictions, names, settings, ids) -> result``: :func:`compare_subgroup` or
        :func:`compare_survival_subgroup`.
    """

    kind: str
    populations: tuple[str, ...]
    compared: Callable[[Any], list[str]]
    compare: Callable[..., Any]


#: Outcome kind -> its subgroup analysis. A new outcome type adds an entry.
SUBGROUP_ANALYSES: dict[str, SubgroupAnalysis] = {
    "binary": SubgroupAnalysis("binary", ("events", "all"), lambda models: list(models.scores), compare_subgroup),
    "survival": SubgroupAnalysis("survival", ("all",), lambda models: list(models.model_names),
                                 compare_survival_subgroup),
}


def subgroup_analysis(study: Study) -> SubgroupAnalysis:
    """The subgroup analysis of ``study``'s outcome kind.

    Raises
    ------
    RadNomoError
        If none is registered for it.
    """
    kind = study.spec.outcome.kind
    if kind not in SUBGROUP_ANALYSES:
        raise RadNomoError(f"subgroup comparisons are not available for a {kind} outcome; they are for "
                           f"{', '.join(SUBGROUP_ANALYSES)} outcomes.")
    return SUBGROUP_ANALYSES[kind]
