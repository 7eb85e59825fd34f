"""The study's evaluation, computed once: every model on every cohort, as tidy tables.

:func:`evaluate_cohorts` evaluates any set of cohorts (the study's training and test cohorts, external
cohorts, subgroups) at cut-offs chosen beforehand; :func:`evaluate_study` is that for a study, its
cut-offs chosen on the training cohort by the study's rule (``study.evaluation``). The Evaluation page,
the External validation page and the report read the one :class:`StudyEvaluation` instead of each
looping over cohorts and models themselves.

Conventions as :mod:`core.stats.evaluation`: ``predictions`` holds one probability column per model
(index: patient ID), ``outcome`` is 0/1 on the same IDs, a patient is positive when probability >= cut-off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from core.errors import RadNomoError
from core.workflows.survival_evaluation import SurvivalEvaluation, evaluate_survival_study
from core.stats.calibration import CALIBRATION_SUMMARY_COLUMNS, calibration_summary, flexible_calibration
from core.stats.decision_analysis import decision_analysis
from core.stats.evaluation import (Confusion, binary_metrics, calibration_curve, compare_models, confusion_counts,
                                   decision_curve, performance_table, roc_auc, roc_points)

if TYPE_CHECKING:  # only for annotations: the study layer needs nothing from here
    from core.workflows.study import Study

__all__ = ["StudyEvaluation", "OperatingPoint", "evaluate_cohorts", "evaluate_study", "operating_point",
           "by_construction", "label_construction", "CURVE_TABLES"]

# The tables of a StudyEvaluation holding curves (several rows per cohort and model), by attribute name.
CURVE_TABLES = ("roc", "calibration_bins", "calibration_smooth", "calibration_flexible", "decision")
#: Bootstrap resamples of the decision curves' 95 % bands (the patients of a cohort resampled, as rmda does).
DECISION_RESAMPLES = 500

_AUC_COLUMNS = ["cohort", "model", "n", "events", "auc", "auc_low", "auc_high", "left_out"]
_DELONG_COLUMNS = ["cohort", "model_a", "model_b", "auc_a", "auc_b", "difference", "ci_low", "ci_high", "z",
                   "p_value", "p_holm", "n", "left_out"]
_CONFUSION_COLUMNS = ["cohort", "model", "cutoff", "tp", "fp", "tn", "fn"]
_CALIBRATION_COLUMNS = ["cohort", "model", *CALIBRATION_SUMMARY_COLUMNS, "left_out"]
# The decision analysis' columns (core.stats.decision_analysis.decision_analysis) and treat-none's 0.
_DECISION_COLUMNS = ["threshold", "net_benefit", "net_benefit_low", "net_benefit_high", "treat_all", "treat_all_low",
                     "treat_all_high", "treat_none", "interventions_avoided", "interventions_avoided_low",
                     "interventions_avoided_high", "standardized_net_benefit", "standardized_net_benefit_low",
                     "standardized_net_benefit_high", "high_risk_per_1000", "high_risk_per_1000_low",
                     "high_risk_per_1000_high", "high_risk_events_per_1000", "high_risk_events_per_1000_low",
                     "high_risk_events_per_1000_high"]
_CURVE_COLUMNS = {"roc": ["threshold", "fpr", "tpr"],
                  "calibration_bins": ["mean_predicted", "observed", "n", "low", "high"],
                  "calibration_smooth": ["predicted", "observed"],
                  "calibration_flexible": ["predicted", "observed", "low", "high"],
                  "decision": _DECISION_COLUMNS}


@dataclass(frozen=True, eq=False)
class StudyEvaluation:
    """Every model evaluated on every cohort, as tidy tables (one row per cohort and model, or per point of
    a curve), each computed once.

    A model is judged in a cohort on the patients it has a prediction for (``left_out`` counts the others);
    a cohort and model whose patients hold one outcome only is left out of every table and said so in
    ``notes``.

    Attributes
    ----------
    models : tuple of str
        The models evaluated, in order.
    cohorts : dict
        Cohort name -> its patient IDs, in order.
    cutoffs : dict
        Model -> probability cut-off (chosen beforehand, e.g. on the training cohort).
    proportion_ci : {"wald", "wilson"}
        The interval method of ACC/SENS/SPEC/PPV/NPV.
    aucs : pandas.DataFrame
        ``cohort``, ``model``, ``n``, ``events``, ``auc``, ``auc_low``, ``auc_high`` (DeLong 95 %), ``left_out``.
    roc : pandas.DataFrame
        ``cohort``, ``model``, ``threshold``, ``fpr``, ``tpr``: the ROC curve's corners
        (:func:`core.stats.evaluation.roc_points`).
    delong : pandas.DataFrame
        Every pair of models in each cohort (paired DeLong on the patients every model scores):
        ``cohort``, ``model_a``, ``model_b``, ``auc_a``, ``auc_b``, ``difference``, ``ci_low``, ``ci_high``,
        ``z``, ``p_value``, ``p_holm`` (Holm over the cohort's pairs), ``n``, ``left_out``.
    table2 : pandas.DataFrame
        The study's Table 2 (:func:`core.stats.summaries.table2` columns): ``cohort``, ``model``, AUC and
        the five metrics with intervals, ``cutoff``, ``left_out``.
    confusion : pandas.DataFrame
        ``cohort``, ``model``, ``cutoff``, ``tp``, ``fp``, ``tn``, ``fn`` (patients) at the model's cut-off.
    calibration : pandas.DataFrame
        ``cohort``, ``model``, :data:`core.stats.calibration.CALIBRATION_SUMMARY_COLUMNS` (n, events,
        calibration-in-the-large, the logistic recalibration's intercept and slope, each with its 95 % CI; ICI,
        E50, E90, Emax; Spiegelhalter's z; Brier; Hosmer-Lemeshow) and ``left_out``.
    calibration_bins, calibration_smooth : pandas.DataFrame
        ``cohort``, ``model`` and :func:`core.stats.evaluation.calibration_curve`'s columns (deciles of
        predicted risk; lowess curve, as rms::val.prob draws it).
    calibration_flexible : pandas.DataFrame
        ``cohort``, ``model``, ``predicted``, ``observed``, ``low``, ``high``: the flexible (loess) calibration
        curve with its pointwise 95 % band (:func:`core.stats.calibration.flexible_calibration`).
    decision : pandas.DataFrame
        ``cohort``, ``model``, ``threshold`` (0.01-0.99) and the net benefit, treat all, net interventions avoided
        per 100, standardized net benefit and the clinical impact counts per 1,000, each with its bootstrap 95 %
        band (:func:`core.stats.decision_analysis.decision_analysis`, :data:`DECISION_RESAMPLES` resamples of the
        cohort's patients from ``seed``), and ``treat_none`` (0).
    seed : int
        The seed of the decision curves' bootstrap bands.
    notes : tuple of str
        Sentences on what was left out (patients without a prediction, cohorts with one outcome only).
    """

    models: tuple[str, ...]
    cohorts: dict[str, tuple]
    cutoffs: dict[str, float]
    proportion_ci: str
    aucs: pd.DataFrame
    roc: pd.DataFrame
    delong: pd.DataFrame
    table2: pd.DataFrame
    confusion: pd.DataFrame
    calibration: pd.DataFrame
    calibration_bins: pd.DataFrame
    calibration_smooth: pd.DataFrame
    decision: pd.DataFrame
    calibration_flexible: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["cohort", "model", *_CURVE_COLUMNS["calibration_flexible"]]))
    notes: tuple[str, ...] = field(default=())
    seed: int = 0

    def evaluated(self, cohort: str, model: str) -> bool:
        """Whether ``model`` was evaluated on ``cohort`` (both outcomes among its patients with a prediction)."""
        return bool(((self.aucs["cohort"] == cohort) & (self.aucs["model"] == model)).any())

    def curves(self, table: str, cohort: str, models: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
        """One cohort's curves of ``table`` (one of :data:`CURVE_TABLES`) by model: model -> its points
        (the curve's own columns, index 0..k-1). ``models`` picks and orders them (default: every model);
        a model not evaluated on the cohort is absent."""
        if table not in CURVE_TABLES:
            raise RadNomoError(f"'{table}' is not a curve table; possible values: {', '.join(CURVE_TABLES)}.")
        frame = getattr(self, table)
        rows = frame[frame["cohort"] == cohort]
        out = {}
        for model in (self.models if models is None else models):
            points = rows[rows["model"] == model]
            if len(points):
                out[model] = points[_CURVE_COLUMNS[table]].reset_index(drop=True)
        return out

    def curves_across(self, table: str, model: str, cohorts: Sequence[str]) -> dict[str, pd.DataFrame]:
        """One model's curves of ``table`` in each of ``cohorts`` (cohort -> its points); a cohort the model
        was not evaluated on is absent."""
        out = {}
        for cohort in cohorts:
            points = self.curves(table, cohort, [model])
            if points:
                out[cohort] = points[model]
        return out

    def intervals(self, cohort: str) -> dict[str, tuple[float, float, float]]:
        """Model -> (AUC, lower, upper DeLong 95 % limit) on one cohort."""
        rows = self.aucs[self.aucs["cohort"] == cohort]
        return {r.model: (r.auc, r.auc_low, r.auc_high) for r in rows.itertuples()}

    def auc_table(self) -> pd.DataFrame:
        """AUCs as :func:`core.stats.summaries.auc_table` gives them: rows cohort, columns model."""
        wide = self.aucs.pivot(index="cohort", columns="model", values="auc")
        return wide.reindex(index=[c for c in self.cohorts if c in wide.index],
                            columns=[m for m in self.models if m in wide.columns]).rename_axis(index=None, columns=None)

    def pairs(self, cohort: str, *, holm: bool = False) -> pd.DataFrame:
        """One cohort's DeLong table as :func:`core.stats.evaluation.compare_models` gives it (``p_holm`` only
        when ``holm``)."""
        columns = ["model_a", "model_b", "auc_a", "auc_b", "difference", "ci_low", "ci_high", "z", "p_value"]
        rows = self.delong[self.delong["cohort"] == cohort]
        return rows[columns + (["p_holm"] if holm else [])].reset_index(drop=True)

    def panel(self) -> pd.DataFrame:
        """Every model in every cohort side by side: ``group`` (the cohort), ``model``, ``n``, ``events``, the
        Table 2 columns, ``brier``, ``cal_in_the_large`` (calibration-in-the-large), ``cal_slope`` and
        ``left_out`` (:func:`core.workflows.external.cohort_panel`)."""
        table = self.table2.drop(columns=["left_out"]).merge(
            self.aucs[["cohort", "model", "n", "events", "left_out"]], on=["cohort", "model"], how="left")
        calibration = self.calibration[["cohort", "model", "brier", "citl", "slope"]].rename(
            columns={"citl": "cal_in_the_large", "slope": "cal_slope"})
        table = table.merge(calibration, on=["cohort", "model"], how="left").rename(columns={"cohort": "group"})
        metrics = [c for c in self.table2.columns if c not in ("cohort", "model", "left_out")]
        return table[["group", "model", "n", "events", *metrics, "brier", "cal_in_the_large", "cal_slope", "left_out"]]


def by_construction(calibration: pd.DataFrame, training: str = "train") -> pd.Series:
    """Per row of a calibration table (``cohort``, ``intercept``, ``slope``): True where the logistic
    recalibration's intercept and slope are 0 and 1 by construction: a model fitted by maximum likelihood on the
    ``training`` cohort, judged there (they say nothing about calibration; the bootstrap's optimism-corrected
    values do). Read from the numbers (within 1e-6), so a model fitted otherwise (a penalised score) is not
    labelled."""
    return ((calibration["cohort"] == training) & ((calibration["slope"] - 1).abs() < 1e-6)
            & (calibration["intercept"].abs() < 1e-6))


#: What the intercept and slope of a training fit's recalibration are, by construction (:func:`by_construction`).
CONSTRUCTION_VALUES = {"intercept": "0 (by construction)", "slope": "1 (by construction)"}


def label_construction(calibration: pd.DataFrame, name: str, texts: Sequence[str]) -> list[str]:
    """``texts`` (one per row of ``calibration``, e.g. the ``name`` column with its CI) with the rows where the
    intercept or slope (``name``) is fixed by construction (:func:`by_construction`) said so instead."""
    if name not in CONSTRUCTION_VALUES:
        return list(texts)
    return [CONSTRUCTION_VALUES[name] if fixed else text
            for text, fixed in zip(texts, by_construction(calibration), strict=True)]


def _rows(frame: pd.DataFrame, cohort: str, model: str) -> pd.DataFrame:
    return frame.assign(cohort=cohort, model=model)


def _frame(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """The frames stacked with ``columns`` in order (an empty table with those columns when there is none)."""
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def evaluate_cohorts(predictions: pd.DataFrame, outcome: pd.Series, cohorts: Mapping[str, Sequence],
                     models: Sequence[str], cutoffs: Mapping[str, float], *, ci: str = "wald",
                     curves: bool = True, seed: int = 0) -> StudyEvaluation:
    """Evaluate each model on each cohort at its cut-off: AUCs, ROC, DeLong pairs, Table 2, confusion counts,
    calibration (statistics with CIs, decile, lowess and loess curves) and decision curves with bootstrap bands.

    Parameters
    ----------
    predictions : pandas.DataFrame
        One predicted-probability column per model (index: patient ID; NaN where a model has none).
    outcome : pandas.Series
        0/1 per patient (same IDs).
    cohorts : mapping
        Cohort name -> its patient IDs.
    models : sequence of str
        Columns of ``predictions`` to evaluate.
    cutoffs : mapping
        Model -> probability cut-off, chosen beforehand (never on the cohort it is applied to, unless training).
    ci : {"wald", "wilson"}
        Interval method of the proportions.
    curves : bool
        ``False`` leaves out the ROC, calibration and decision curves and the DeLong pairs (the tables only:
        what a panel of many cohorts needs).
    seed : int
        Seed of the decision curves' bootstrap bands (the same seed, the same bands).

    Returns
    -------
    StudyEvaluation

    Raises
    ------
    RadNomoError
        For a model without a prediction column or a cut-off.
    """
    models = tuple(models)
    absent = [m for m in models if m not in predictions.columns]
    if absent:
        raise RadNomoError(f"no predictions of model(s) {absent}; the predictions hold {list(predictions.columns)}.")
    no_cutoff = [m for m in models if m not in cutoffs]
    if no_cutoff:
        raise RadNomoError(f"no cut-off for model(s) {no_cutoff}; choose them on the training cohort first.")
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in ("aucs", "delong", "table2", "confusion",
                                                                  "calibration", *CURVE_TABLES)}
    notes = []
    for cohort, ids in cohorts.items():
        ids = list(ids)
        y_all = outcome.loc[ids]
        evaluated = []
        for model in models:
            values = predictions.loc[ids, model]
            have = values.notna().to_numpy()
            p, y = values[have], y_all[have]
            left_out = int((~have).sum())
            if left_out:
                notes.append(f"{cohort}, {model}: {left_out} of {len(ids)} patient(s) without this model's "
                             f"prediction are left out ({len(p)} evaluated).")
            if y.nunique() < 2:
                notes.append(f"{cohort}, {model}: the {len(p)} patient(s) with a prediction hold one outcome only; "
                             "no AUC, metrics or calibration can be computed there.")
                continue
            evaluated.append(model)
            auc = roc_auc(y, p)
            parts["aucs"].append(pd.DataFrame([{"cohort": cohort, "model": model, "n": len(p), "events": int(y.sum()),
                                                "auc": auc.auc, "auc_low": auc.ci_low, "auc_high": auc.ci_high,
                                                "left_out": left_out}]))
            parts["table2"].append(performance_table(y, {model: p}, cutoffs, ci=ci).assign(cohort=cohort,
                                                                                           left_out=left_out))
            counts = confusion_counts(y, p, cutoffs[model])
            parts["confusion"].append(pd.DataFrame([{"cohort": cohort, "model": model, "cutoff": cutoffs[model],
                                                     **counts.as_dict()}]))
            try:
                summary = calibration_summary(y, p)
            except RadNomoError as error:  # e.g. one probability for everyone: nothing to recalibrate
                notes.append(f"{cohort}, {model}: no calibration statistics: {error}")
                row = dict.fromkeys(CALIBRATION_SUMMARY_COLUMNS, float("nan")) | {"n": len(p), "events": int(y.sum())}
            else:
                notes.extend(f"{cohort}, {model}, calibration: {note}" for note in summary.notes)
                row = summary.as_row()
            parts["calibration"].append(pd.DataFrame([{"cohort": cohort, "model": model, **row,
                                                       "left_out": left_out}]))
            if curves:
                parts["roc"].append(_rows(roc_points(y, p), cohort, model))
                binned, smooth = calibration_curve(y, p)
                parts["calibration_bins"].append(_rows(binned, cohort, model))
                parts["calibration_smooth"].append(_rows(smooth, cohort, model))
                try:
                    flexible = flexible_calibration(y, p)
                except RadNomoError as error:  # e.g. most patients share one probability: no loess there
                    notes.append(f"{cohort}, {model}: no flexible calibration curve: {error}")
                else:
                    notes.extend(f"{cohort}, {model}, flexible calibration: {note}"
                                 for note in flexible.attrs.get("notes", ()))
                    parts["calibration_flexible"].append(_rows(flexible, cohort, model))
                decision = decision_analysis(y, p, n_boot=DECISION_RESAMPLES, seed=seed)
                parts["decision"].append(_rows(decision.assign(treat_none=0.0), cohort, model))
        if curves and len(evaluated) >= 2:
            # A paired test needs every model's score for the same patients: those all models score, said so.
            scored = predictions.loc[ids, evaluated].notna().all(axis=1).to_numpy()
            y = y_all[scored]
            if y.nunique() == 2:
                pairs = compare_models(y, {m: predictions.loc[ids, m][scored] for m in evaluated}, holm=True)
                parts["delong"].append(pairs.assign(cohort=cohort, n=int(scored.sum()),
                                                    left_out=int((~scored).sum())))
    table2_columns = ["cohort", *[c for c in parts["table2"][0].columns if c != "cohort"]] if parts["table2"] else \
        ["cohort", "model", "auc", "auc_low", "auc_high", "cutoff", "left_out"]
    return StudyEvaluation(
        models=models, cohorts={name: tuple(ids) for name, ids in cohorts.items()},
        cutoffs={m: float(cutoffs[m]) for m in models}, proportion_ci=ci,
        aucs=_frame(parts["aucs"], _AUC_COLUMNS), delong=_frame(parts["delong"], _DELONG_COLUMNS),
        table2=_frame(parts["table2"], table2_columns), confusion=_frame(parts["confusion"], _CONFUSION_COLUMNS),
        calibration=_frame(parts["calibration"], _CALIBRATION_COLUMNS),
        **{name: _frame(parts[name], ["cohort", "model", *_CURVE_COLUMNS[name]]) for name in CURVE_TABLES},
        notes=tuple(notes), seed=seed)


def evaluate_study(study: Study, models, predictions: pd.DataFrame) -> StudyEvaluation | SurvivalEvaluation:
    """The study's evaluation: every model on the training and (if any) test cohort, each cut-off chosen on
    the training cohort by the study's rule and its proportion intervals (``study.evaluation``).

    Parameters
    ----------
    study : Study
        Its outcome, cohorts and evaluation settings.
    models : StudyModels or sequence of str
        The fitted models (their ``model_names`` are evaluated) or the model names themselves.
    predictions : pandas.DataFrame
        :func:`core.workflows.fit.predict_study` of those models (every patient of the study).

    Returns
    -------
    StudyEvaluation, or a time-to-event study's
    :class:`core.workflows.survival_evaluation.SurvivalEvaluation`
    """
    evaluate = _STUDY_EVALUATIONS.get(study.spec.outcome.kind)
    if evaluate is not None:  # another outcome type's evaluation (a time-to-event study's SurvivalEvaluation)
        return evaluate(study, models, predictions)
    names = tuple(getattr(models, "model_names", models))
    settings = study.evaluation
    cutoffs = settings.cutoffs(predictions, study.outcome, study.train_ids, names)
    return evaluate_cohorts(predictions, study.outcome, study.cohorts(), names, cutoffs, ci=settings.proportion_ci,
                            seed=study.split.config.seed)


# The evaluation of each outcome type other than the binary one (this module's own, above).
_STUDY_EVALUATIONS = {"survival": evaluate_survival_study}


@dataclass(frozen=True)
class OperatingPoint:
    """One model on one cohort at any cut-off (the threshold explorer): metrics, confusion counts, net benefit.

    Attributes
    ----------
    cutoff : float
        Probability cut-off (positive when probability >= it).
    metrics : pandas.DataFrame
        :func:`core.stats.evaluation.binary_metrics` (index ACC ... NPV).
    confusion : Confusion
        The counts (and ``fpr``, ``tpr``: the point on the ROC curve).
    net_benefit : float
        Net benefit of treating the patients at or above the cut-off (the cut-off as threshold probability).
    left_out : int
        Patients of the cohort without this model's prediction (not counted).
    """

    cutoff: float
    metrics: pd.DataFrame
    confusion: Confusion
    net_benefit: float
    left_out: int


def operating_point(predictions: pd.DataFrame, outcome: pd.Series, ids: Sequence, model: str, cutoff: float, *,
                    ci: str = "wald") -> OperatingPoint:
    """``model`` on the patients ``ids`` at ``cutoff`` (strictly between 0 and 1): see :class:`OperatingPoint`.

    Patients without the model's prediction are left out (counted in ``left_out``), as in :func:`evaluate_cohorts`.
    """
    values = predictions.loc[list(ids), model]
    have = values.notna().to_numpy()
    y, p = outcome.loc[list(ids)][have], values[have]
    return OperatingPoint(cutoff=float(cutoff), metrics=binary_metrics(y, p, cutoff, ci=ci),
                          confusion=confusion_counts(y, p, cutoff),
                          net_benefit=float(decision_curve(y, p, [cutoff])["net_benefit"].iloc[0]),
                          left_out=int((~have).sum()))
