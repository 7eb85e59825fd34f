"""Tables of a study's predictions: AUCs per cohort, cut-offs chosen on training, Table 2 and Table 3,
calibration per model, two groups compared, a patient's place among the training risks, and the
rules that say which columns are categorical.

Inputs are tables indexed by patient ID: ``predictions`` (one probability column per model, plus
``<family>_score`` columns of log-odds) and ``outcome`` (0/1). Cohorts are given as name -> IDs. For a
time-to-event study: Harrell's C per cohort (:func:`concordance_table`, from the linear predictors) and what a
Cox model's reader is told (:func:`hazard_ratio_warnings`, :func:`cox_events_per_variable`,
:func:`cox_sign_flips`); :mod:`core.stats.outcome_statistics` says which of these each outcome type uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from core.errors import RadNomoError
from core.stats.evaluation import cutoff_for_sensitivity, performance_table, roc_auc, youden_cutoff
from core.stats.modeling import term_words, uncertain_sign_text
from core.stats.survival.concordance import harrell_c
from core.vocabulary import CUTOFF_RULES, MIN_PER_GROUP, check_option, family_of_score

__all__ = ["auc_table", "training_cutoffs", "table2", "table3", "calibration_table", "GroupComparison",
           "compare_groups", "risk_percentile", "typical_values", "outcome_auc", "coefficient_warnings",
           "is_categorical", "categorical_columns", "batch_columns", "small_groups", "concordance_table",
           "hazard_ratio_warnings", "cox_events_per_variable", "cox_sign_flips"]


def auc_table(predictions: pd.DataFrame, outcome: pd.Series, cohorts: Mapping[str, Sequence[str]],
              models: Sequence[str]) -> pd.DataFrame:
    """AUC of each model in each cohort (rows: cohort, columns: model); patients without a prediction are left out."""
    rows: dict[str, dict[str, float]] = {}
    for name, ids in cohorts.items():
        ids = list(ids)
        rows[name] = {}
        for model in models:
            values = predictions.loc[ids, model]
            keep = values.notna()
            rows[name][model] = roc_auc(outcome.loc[ids][keep], values[keep]).auc
    return pd.DataFrame(rows).T[list(models)]


def training_cutoffs(predictions: pd.DataFrame, outcome: pd.Series, train_ids: Sequence[str],
                     models: Sequence[str], *, rule: str = "youden", value: float | None = None) -> dict[str, float]:
    """Each model's probability cut-off, chosen on the training cohort only.

    ``rule``: "youden" (maximal sensitivity + specificity - 1), "fixed" (``value`` is the
    probability) or "sensitivity" (the highest cut-off reaching sensitivity ``value``).
    """
    check_option("cut-off rule", rule, CUTOFF_RULES)
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


def table2(predictions: pd.DataFrame, outcome: pd.Series, cohorts: Mapping[str, Sequence[str]],
           cutoffs: Mapping[str, float], *, ci: str = "wald") -> pd.DataFrame:
    """The study's Table 2 for any study: per cohort and model, AUC (DeLong CI) and ACC/SENS/SPEC/PPV/NPV (CIs).

    Columns: ``cohort``, ``model``, ``auc``, ``auc_low``, ``auc_high``, then ``acc`` ... ``npv_high``, ``cutoff``,
    ``left_out`` (patients of the cohort without that model's prediction, e.g. missing a family's features; the
    model is judged on the others).
    """
    frames = []
    for cohort, ids in cohorts.items():
        ids = list(ids)
        for model in cutoffs:
            # A model is judged on the patients it has a prediction for (a family may cover only some patients);
            # how many were left out is a column of the table, never silent.
            values = predictions.loc[ids, model]
            have = values.notna()
            if not have.any():
                continue
            frame = performance_table(outcome.loc[ids][have.to_numpy()], {model: values[have]}, cutoffs, ci=ci)
            frames.append(frame.assign(cohort=cohort, left_out=int((~have).sum())))
    if not frames:
        raise RadNomoError("no model has a prediction for any patient of these cohorts.")
    table = pd.concat(frames, ignore_index=True)
    return table[["cohort", *[c for c in table.columns if c != "cohort"]]]


def table3(predictions: pd.DataFrame, groups: pd.Series, train_ids: Sequence[str], scores: Sequence[str], *,
           ci: str = "wald") -> pd.DataFrame:
    """The study's Table 3: how well each score separates two groups (e.g. synchronous vs metachronous LM).

    ``groups`` is 1 / 0 per patient (the patients compared); each score's cut-off is chosen by
    Youden's index on the training patients among them only. ``scores`` name columns of
    ``predictions``. Columns as :func:`table2` (without ``cohort``), ``model`` the score.
    """
    ids = list(groups.index)
    training = set(train_ids)  # once, not once per patient
    train = [i for i in ids if i in training]
    if groups.loc[train].nunique() < 2:
        raise RadNomoError("the training patients compared hold one group only; a cut-off cannot be chosen.")
    cutoffs = {s: youden_cutoff(groups.loc[train], predictions.loc[train, s]) for s in scores}
    return performance_table(groups, {s: predictions.loc[ids, s] for s in scores}, cutoffs, ci=ci)


def calibration_table(predictions: pd.DataFrame, outcome: pd.Series, cohorts: Mapping[str, Sequence[str]],
                      models: Sequence[str]) -> pd.DataFrame:
    """Calibration of each model in each cohort.

    Returns one row per cohort and model: ``cohort``, ``model`` and
    :data:`core.stats.calibration.CALIBRATION_SUMMARY_COLUMNS` (calibration-in-the-large and the logistic
    recalibration's intercept and slope as rms::val.prob, each with its 95 % CI; ICI, E50, E90, Emax; Spiegelhalter's
    z; Brier; Hosmer-Lemeshow over 10 risk groups). :data:`core.vocabulary.CALIBRATION_COLUMNS` gives the labels.
    """
    from core.stats.calibration import CALIBRATION_SUMMARY_COLUMNS, calibration_summary

    rows = [{"cohort": cohort, "model": model,
             **calibration_summary(outcome.loc[list(ids)], predictions.loc[list(ids), model]).as_row()}
            for cohort, ids in cohorts.items() for model in models]
    return pd.DataFrame(rows, columns=["cohort", "model", *CALIBRATION_SUMMARY_COLUMNS])


@dataclass(frozen=True)
class GroupComparison:
    """A value compared between two groups: sizes, means, Student's t-test and Mann-Whitney U (two-sided)."""

    n_positive: int
    n_negative: int
    mean_positive: float
    mean_negative: float
    t_p_value: float
    mann_whitney_p_value: float


def compare_groups(values: pd.Series, groups: pd.Series) -> GroupComparison:
    """``values`` of group 1 vs group 0 (``groups`` aligned by index); patients without a value are left out."""
    data = pd.DataFrame({"value": values, "group": groups}).dropna()
    positive = data.loc[data["group"] == 1, "value"].to_numpy(dtype=float)
    negative = data.loc[data["group"] == 0, "value"].to_numpy(dtype=float)
    if len(positive) < 2 or len(negative) < 2:
        raise RadNomoError(f"each group needs at least 2 patients with a value ({len(positive)} and "
                           f"{len(negative)} here).")
    return GroupComparison(n_positive=len(positive), n_negative=len(negative),
                           mean_positive=float(positive.mean()), mean_negative=float(negative.mean()),
                           t_p_value=float(stats.ttest_ind(positive, negative).pvalue),
                           mann_whitney_p_value=float(stats.mannwhitneyu(positive, negative).pvalue))


def risk_percentile(risk: float, training_risks: pd.Series) -> float:
    """Share (0-100) of the training patients whose predicted risk is below ``risk``."""
    values = training_risks.dropna().to_numpy(dtype=float)
    if len(values) == 0:
        raise RadNomoError("no training patient has a predicted risk to compare with.")
    return float((values < risk).mean() * 100)


def typical_values(rows: pd.DataFrame, variables: Sequence[str], levels: Mapping[str, Sequence[str]]) -> dict:
    """A typical patient of ``rows``: the median of each numeric variable, the most frequent level of each
    categorical one (calculator inputs start there)."""
    values: dict[str, str | float] = {}
    for variable in variables:
        if variable in levels:
            counts = rows[variable].astype("string").value_counts()
            values[variable] = str(counts.index[0]) if len(counts) else str(levels[variable][0])
        else:
            values[variable] = float(pd.to_numeric(rows[variable], errors="coerce").median())
    return values


def outcome_auc(values: pd.Series, outcome: pd.Series) -> float:
    """How well one column alone orders the outcome: the AUC of its values (numeric) or of its levels' event
    rates (categorical), in whichever direction is higher (0.5-1). Patients without a value are left out."""
    data = pd.DataFrame({"v": values, "y": outcome}).dropna()
    if data["y"].nunique() < 2 or data["v"].nunique() < 2:
        return float("nan")
    score = pd.to_numeric(data["v"], errors="coerce")
    if score.isna().any():  # text levels: each level scored by its event rate among these patients
        score = data.groupby("v")["y"].transform("mean")
    auc = roc_auc(data["y"], score).auc
    return float(max(auc, 1 - auc))


# Flags on a fitted model's coefficient table (Models page, report).
VIF_LIMIT = 5.0
EXTREME_OR = 100.0  # an odds ratio beyond 100 (or below 1/100) per unit usually means near separation


def _effect_warnings(table: pd.DataFrame, label: str, effect: str, limit: float, plural: str, why: str) -> list[str]:
    """The warnings of a model table whose effect column is ``effect`` (``OR``, ``HR``; with ``<effect>_lower`` /
    ``<effect>_upper`` and ``VIF`` where present): collinear terms (VIF > 5), and effects beyond ``limit`` (or below
    1 / ``limit``) or intervals whose ends are 10^4 apart, said as ``plural`` of those terms followed by ``why``."""
    notes = []
    if "VIF" in table:
        high = table.index[table["VIF"] > VIF_LIMIT].tolist()
        if high:
            notes.append(f"{label}: VIF above {VIF_LIMIT:g} for {high} (collinear terms: their {effect}s are "
                         "unstable).")
    if effect in table:
        extreme = table.index[(table[effect] > limit) | (table[effect] < 1 / limit)].tolist()
        if f"{effect}_lower" in table and f"{effect}_upper" in table:
            with np.errstate(divide="ignore", invalid="ignore"):
                wide = table.index[(table[f"{effect}_upper"] / table[f"{effect}_lower"]) > 1e4].tolist()
            extreme = list(dict.fromkeys(extreme + wide))
        if extreme:
            notes.append(f"{label}: {plural} of {extreme} are extreme or their intervals span orders of magnitude: "
                         f"{why}")
    return notes


def coefficient_warnings(table: pd.DataFrame, label: str = "the model") -> list[str]:
    """What a reader of a logistic model's table (``OR``, ``OR_lower``, ``OR_upper``, ``VIF``) should be told:
    collinear terms (VIF > 5) and odds ratios so extreme, or intervals so wide, that the outcome is (almost)
    separated by the term."""
    return _effect_warnings(table, label, "OR", EXTREME_OR, "odds ratio(s)",
                            "the outcome is (almost) separated by them; combine levels or leave them out.")


# A hazard ratio beyond 100 (or below 1/100) per unit, or an interval whose ends are 10^4 apart, usually means a
# monotone likelihood: a term (a level without events, a value that orders the events perfectly) whose
# coefficient runs off towards infinity while the fit "converges".
EXTREME_HR = 100.0


def hazard_ratio_warnings(table: pd.DataFrame, label: str = "the model") -> list[str]:
    """What a reader of a Cox model's table (``HR``, ``HR_lower``, ``HR_upper``; ``VIF`` if present) should be
    told: collinear terms (VIF > 5) and hazard ratios so extreme, or intervals so wide, that the partial
    likelihood is monotone in the term (its coefficient is not estimable). Empty when there is nothing to say."""
    return _effect_warnings(table, label, "HR", EXTREME_HR, "hazard ratio(s)",
                            "the partial likelihood is (almost) monotone in them (e.g. a level with no event, or a "
                            "term that orders the events perfectly), so their coefficients are not estimable; "
                            "combine levels or leave them out.")


def cox_events_per_variable(model: Any) -> float:
    """Events per estimated coefficient of a Cox model (``n_events`` / number of ``terms``, e.g. a
    :class:`core.stats.learners.cox.CoxModel`): below 10 the model may be overfitted. In a time-to-event model
    the events, not the smaller outcome class, carry the information (censored patients only inform risk sets)."""
    return model.n_events / max(len(model.terms), 1)


def cox_sign_flips(clinical: Any, fused: Any, label: Callable[[str], str] | None = None) -> list[str]:
    """Terms whose log hazard ratio changes sign between a clinical and a fused Cox model, each explained.

    ``clinical``, ``fused``: Cox models with a ``table`` of ``coef`` and ``p`` per term (index: term), e.g.
    :class:`core.stats.learners.cox.CoxModel`; either may be None (nothing to compare). ``label``: term ->
    words (default the term). As :func:`core.stats.modeling.sign_flips` for logistic models: the fused model
    holds the clinical terms and a score, and a term correlated with the score can change sign once the score
    is in (its adjusted effect), so its nomogram axis points the other way. One sentence per flipped term.
    """
    if clinical is None or fused is None:
        return []
    name = label or (lambda term: term)
    before_table, after_table = clinical.table, fused.table
    scores = [t for t in after_table.index if family_of_score(t) is not None]
    adjusted_for = " and ".join(f"the {name(t)}" for t in scores) or "the fused model's other terms"
    notes = []
    for term in before_table.index:
        if term not in after_table.index:
            continue
        before, after = float(before_table.loc[term, "coef"]), float(after_table.loc[term, "coef"])
        if before * after >= 0:
            continue
        weak_text = uncertain_sign_text(float(before_table.loc[term, "p"]), float(after_table.loc[term, "p"]))
        words = term_words(term, name)
        notes.append(f"{words}: log hazard ratio {before:+.3f} in the clinical model but {after:+.3f} in the "
                     f"fused model. The fused model also holds {adjusted_for}, which is correlated with it: the "
                     "clinical model gives its effect on its own (unadjusted), the fused model its effect among "
                     f"patients with the same score (adjusted), and the two can differ even in sign.{weak_text} "
                     "Interpret the fused model's adjusted hazard ratio with care (it is not a causal effect): on "
                     "the fused model's nomogram this term points the other way.")
    return notes


def concordance_table(predictions: pd.DataFrame, outcome: pd.DataFrame, cohorts: Mapping[str, Sequence[str]],
                      models: Sequence[str]) -> pd.DataFrame:
    """Harrell's C of each model in each cohort (rows: cohort, columns: model), as :func:`auc_table` for a
    time-to-event outcome.

    ``predictions``: the wide frame of a time-to-event study (index patient ID; each model's column its linear
    predictor, higher = higher risk); ``outcome``: ``time`` (> 0, any unit) and ``event`` (1/0) per patient ID
    (:meth:`core.stats.outcomes.SurvivalOutcome.values`). Patients without a prediction are left out; a cohort
    without an event (no comparable pair) gets NaN.
    """
    rows: dict[str, dict[str, float]] = {}
    for name, ids in cohorts.items():
        ids = list(ids)
        time = outcome.loc[ids, "time"].to_numpy(dtype=float)
        event = outcome.loc[ids, "event"].to_numpy(dtype=int)
        rows[name] = {}
        for model in models:
            values = predictions.loc[ids, model].to_numpy(dtype=float)
            keep = np.isfinite(values)
            usable = event[keep].sum() > 0 and keep.sum() >= 2
            rows[name][model] = harrell_c(time[keep], event[keep], values[keep]).c if usable else float("nan")
    return pd.DataFrame(rows).T[list(models)]


def small_groups(counts: Mapping[str, int], minimum: int = MIN_PER_GROUP) -> list[str]:
    """Groups with fewer than ``minimum`` patients (their statistics rest on too few patients)."""
    return [name for name, n in counts.items() if n < minimum]


# ---------------------------------------------------------------------------------------------
# Which columns are categorical: one rule for every page
# ---------------------------------------------------------------------------------------------


def is_categorical(values: pd.Series, max_levels: int = 12) -> bool:
    """A column is categorical when it is text (or boolean) with 2 to ``max_levels`` levels."""
    present = values.dropna()
    if present.empty or pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present):
        return False
    return 2 <= present.nunique() <= max_levels


def categorical_columns(cohort: pd.DataFrame, exclude: Sequence[str] = (), max_levels: int = 12) -> list[str]:
    """The cohort's categorical columns (:func:`is_categorical`), ``exclude`` left out."""
    return [c for c in cohort.columns if c not in set(exclude) and is_categorical(cohort[c], max_levels)]


def batch_columns(train: pd.DataFrame, exclude: Sequence[str] = (), max_levels: int = 12) -> list[str]:
    """Categorical columns that can serve as a harmonisation batch (scanner, centre): every level with at
    least 2 training patients (ComBat estimates a mean and a variance per level)."""
    out = []
    for column in categorical_columns(train, exclude, max_levels):
        if train[column].value_counts().min() >= 2:
            out.append(column)
    return out

