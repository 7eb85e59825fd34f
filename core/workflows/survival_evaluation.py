"""The evaluation of a time-to-event study, computed once: every survival model on every cohort, as tidy tables.

The survival counterpart of :mod:`core.workflows.evaluation`: :func:`evaluate_survival_cohorts` evaluates any
set of cohorts (training, test, external) with risk-group cut-offs chosen beforehand on the training cohort
(:func:`risk_cutoffs`); :class:`SurvivalEvaluation` holds the tables and :meth:`SurvivalEvaluation.table2`
the study's Table 2. Every number comes from :mod:`core.stats.survival` (checked there against R); this
module only loops over cohorts, models and horizons, and says in ``notes`` what it had to leave out.

Data shapes (the lead's decisions):

* predictions: a LONG DataFrame, one row per patient and model: ``id``, ``model``, ``linear_predictor``
  (higher = higher risk) and, for each horizon ``h``, ``horizon_column(h)`` (e.g. ``surv_12``): the
  predicted probability of being event-free at ``h``. More ``surv_<t>`` columns than the horizons may be
  given: every one of them is the grid of the integrated Brier score.
* outcome values: a DataFrame indexed by patient ID with ``time`` (> 0, in ``time_unit``) and ``event``
  (1 = event, 0 = censored), as :meth:`core.stats.outcomes.SurvivalOutcome.values` gives it.
* cohorts: cohort name -> tuple of patient IDs.
* risk groups: "high" when the linear predictor is strictly above the model's cut-off (timeROC's
  ``marker > cutpoint``, so the sensitivity at the cut-off and the risk groups count the same patients).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from core.errors import RadNomoError, listed
from core.stats.survival.calibration import survival_calibration
from core.stats.survival.concordance import compare_concordance, harrell_c, uno_c
from core.stats.survival.cox import fit_cox
from core.stats.survival.cutoff_metrics import cutoff_metrics
from core.stats.decision_analysis import DECISION_ANALYSIS_COLUMNS
from core.stats.survival.decision import DEFAULT_THRESHOLDS, survival_decision_analysis
from core.stats.survival.flexible_calibration import survival_flexible_calibration
from core.stats.survival.kaplan_meier import KaplanMeier, kaplan_meier, log_rank
from core.stats.survival.time_dependent import brier, integrated_brier, td_auc, td_roc_curve
from core.vocabulary import RISK_GROUPS as VOCABULARY_RISK_GROUPS

if TYPE_CHECKING:  # only for annotations
    from core.workflows.study import Study
from core.vocabulary import SURVIVAL_PREFIX, horizon_column, horizon_text, survival_column

__all__ = ["SurvivalEvaluation", "evaluate_survival_cohorts", "evaluate_survival_study", "long_predictions",
           "risk_cutoffs", "cohort_predictions", "evaluate_survival_analysis",
           "RISK_GROUPS", "PREDICTION_COLUMNS", "COHORT_PREDICTION_COLUMNS"]

#: Column names of the long predictions table (besides the ``surv_<h>`` columns).
PREDICTION_COLUMNS = ("id", "model", "linear_predictor")
#: The two risk groups' table values, lower first (``linear_predictor <= cut-off``, then ``> cut-off``); their
#: display names are core.vocabulary.RISK_GROUPS.
RISK_GROUPS: tuple[str, ...] = tuple(VOCABULARY_RISK_GROUPS)
#: Outcome columns read (SurvivalOutcome.TIME / EVENT).
_TIME, _EVENT = "time", "event"

_CONCORDANCE_COLUMNS = ["cohort", "model", "n", "events", "c_index", "c_low", "c_high", "uno_c", "uno_low",
                        "uno_high", "uno_tau", "left_out"]
_TD_AUC_COLUMNS = ["cohort", "model", "horizon", "auc", "auc_low", "auc_high"]
_TD_ROC_COLUMNS = ["cohort", "model", "horizon", "threshold", "fpr", "tpr"]
_BRIER_COLUMNS = ["cohort", "model", "horizon", "brier", "brier_low", "brier_high", "null_brier"]
_IBS_COLUMNS = ["cohort", "model", "ibs_to", "ibs", "null_ibs", "grid_points"]
_RISK_GROUP_COLUMNS = ["cohort", "model", "cutoff", "group", "n", "events", "median", "median_low", "median_high",
                       "logrank_chisq", "logrank_p", "hr", "hr_low", "hr_high", "hr_p"]
_KM_COLUMNS = ["cohort", "model", "group", "time", "n_risk", "n_event", "n_censor", "survival", "std_err",
               "std_err_log", "lower", "upper"]
_CUTOFF_COLUMNS = ["cohort", "model", "horizon", "cutoff", "sensitivity", "specificity", "ppv", "npv",
                   "high_event_rate", "high_event_rate_low", "high_event_rate_high", "low_event_rate",
                   "low_event_rate_low", "low_event_rate_high", "cases", "controls"]
_CALIBRATION_COLUMNS = ["cohort", "model", "horizon", "group", "predicted", "observed", "low", "high", "n", "events"]
_FLEXIBLE_COLUMNS = ["cohort", "model", "horizon", "predicted", "observed", "low", "high"]
_SLOPE_COLUMNS = ["cohort", "model", "horizon", "ici", "e50", "e90", "emax", "slope", "slope_low", "slope_high",
                  "slope_converged",
                  "observed_expected", "oe_low", "oe_high"]
_DECISION_COLUMNS = ["cohort", "model", "horizon", *DECISION_ANALYSIS_COLUMNS, "treat_none"]
#: Bootstrap resamples of the decision curves' 95 % bands at each horizon (the cohort's patients resampled).
SURVIVAL_DECISION_RESAMPLES = 200
_COMPARISON_COLUMNS = ["cohort", "model_a", "model_b", "c_a", "c_b", "difference", "low", "high", "z", "p",
                       "p_holm", "n", "left_out"]
#: Per-horizon columns of Table 2 (suffixed ``_<h>``), from the td_auc and cutoff_metrics tables.
_TABLE2_HORIZON_COLUMNS = {"td_auc": ["auc", "auc_low", "auc_high"],
                           "cutoff_metrics": ["sensitivity", "specificity", "ppv", "npv", "high_event_rate",
                                              "high_event_rate_low", "high_event_rate_high"]}


def _survival_columns(predictions: pd.DataFrame) -> dict[float, str]:
    """Time -> column of every ``surv_<t>`` column of ``predictions`` (sorted by time)."""
    found = {}
    for column in predictions.columns:
        if isinstance(column, str) and column.startswith(SURVIVAL_PREFIX):
            try:
                found[float(column[len(SURVIVAL_PREFIX):])] = column
            except ValueError:
                continue
    return dict(sorted(found.items()))


def risk_cutoffs(predictions: pd.DataFrame, train_ids: Sequence, quantile: float = 0.5) -> dict[str, float]:
    """Each model's risk-group cut-off on the linear predictor: its ``quantile`` over the training patients.

    Chosen on the training cohort only and applied unchanged to every cohort (risk groups "high" above it).

    Parameters
    ----------
    predictions : pandas.DataFrame
        The long predictions table (``id``, ``model``, ``linear_predictor``, ...).
    train_ids : sequence
        The training patients' IDs.
    quantile : float
        Strictly between 0 and 1; 0.5 (the median) by default. Type-7 quantile (R's default).

    Returns
    -------
    dict
        Model -> cut-off (in the linear predictor's units), models in their order of appearance.

    Raises
    ------
    RadNomoError
        A quantile outside (0, 1), missing columns, or a model without a training prediction.
    """
    if not 0 < quantile < 1:
        raise RadNomoError(f"the risk-group quantile must lie strictly between 0 and 1 (0.5 = the median), "
                           f"not {quantile}.")
    _check_columns(predictions, [])
    train = predictions[predictions["id"].isin(list(train_ids))]
    cutoffs = {}
    for model in pd.unique(predictions["model"]):
        values = train.loc[train["model"] == model, "linear_predictor"].dropna().to_numpy(dtype=float)
        if values.size == 0:
            raise RadNomoError(f"model '{model}' has no linear predictor for any training patient: its risk-group "
                               "cut-off must be chosen on the training cohort; predict the training patients first.")
        cutoffs[str(model)] = float(np.quantile(values, quantile))
    return cutoffs


def _check_columns(predictions: pd.DataFrame, horizons: Sequence[float]) -> None:
    needed = [*PREDICTION_COLUMNS, *(horizon_column(h) for h in horizons)]
    missing = [c for c in needed if c not in predictions.columns]
    if missing:
        raise RadNomoError(f"the survival predictions lack column(s) {listed(missing)}; they hold "
                           f"{listed(map(str, predictions.columns))}. Predict the linear predictor and the survival "
                           "at every horizon for each patient and model.")


@dataclass(frozen=True, eq=False)
class SurvivalEvaluation:
    """Every survival model evaluated on every cohort, as tidy tables (one row per cohort and model, per
    horizon, or per point of a curve), each computed once.

    A model is judged in a cohort on the patients with its linear predictor and every horizon's predicted
    survival (``left_out`` counts the others). A cohort and model without an event is left out of every
    table; a horizon nobody is followed past (or with no event before it) is left out of that horizon's
    tables; each is said in ``notes``. Proportions are 0..1, times in :attr:`time_unit`, intervals 95 %.

    Attributes
    ----------
    models, cohorts, horizons, cutoffs, time_unit
        What was evaluated: model names, cohort name -> IDs, horizons, model -> cut-off on the linear
        predictor, the unit of every time.
    concordance : pandas.DataFrame
        ``cohort``, ``model``, ``n``, ``events``, ``c_index``, ``c_low``, ``c_high`` (Harrell's C,
        :func:`~core.stats.survival.concordance.harrell_c`), ``uno_c``, ``uno_low``, ``uno_high`` (Uno's C
        truncated at ``uno_tau`` = the last horizon), ``uno_tau``, ``left_out``.
    td_auc : pandas.DataFrame
        ``cohort``, ``model``, ``horizon``, ``auc``, ``auc_low``, ``auc_high`` (IPCW cumulative/dynamic AUC of
        the linear predictor, riskRegression's Score).
    td_roc : pandas.DataFrame
        ``cohort``, ``model``, ``horizon``, ``threshold``, ``fpr``, ``tpr``: the curves of ``td_auc``.
    brier : pandas.DataFrame
        ``cohort``, ``model``, ``horizon``, ``brier``, ``brier_low``, ``brier_high``, ``null_brier`` (IPCW
        Brier score of the predicted survival; the Kaplan-Meier null model's).
    ibs : pandas.DataFrame
        ``cohort``, ``model``, ``ibs_to`` (upper time), ``ibs``, ``null_ibs``, ``grid_points``: the integrated
        Brier score over the ``surv_<t>`` columns up to the last evaluable horizon (riskRegression's step
        integral, 0 before the first grid time: coarse with only a few horizons).
    risk_groups : pandas.DataFrame
        One row per cohort, model and group (``low``, ``high``): ``cutoff``, ``n``, ``events``, the median
        survival and its CI (NaN = not reached), then the same on both rows: log-rank ``logrank_chisq`` /
        ``logrank_p`` and the Cox hazard ratio high vs low ``hr``, ``hr_low``, ``hr_high``, ``hr_p`` (Wald).
    km : pandas.DataFrame
        Kaplan-Meier curve points per group: ``cohort``, ``model``, ``group``, ``time`` (a first row at 0),
        ``n_risk``, ``n_event``, ``n_censor``, ``survival``, ``std_err``, ``std_err_log``, ``lower``,
        ``upper`` (:meth:`km_curves` gives them back as KaplanMeier curves).
    cutoff_metrics : pandas.DataFrame
        Per cohort, model and horizon at the cut-off: ``sensitivity``, ``specificity``, ``ppv``, ``npv``
        (timeROC's IPCW estimators, :func:`~core.stats.survival.cutoff_metrics.cutoff_metrics`), the
        high- and low-risk groups' Kaplan-Meier event rate by the horizon (1 - S(h)) with its CI (NaN where
        the group's follow-up ends before the horizon), ``cases``, ``controls``.
    calibration : pandas.DataFrame
        ``cohort``, ``model``, ``horizon``, ``group`` (quantile group of predicted survival, 1 = lowest),
        ``predicted`` (mean predicted survival), ``observed`` (Kaplan-Meier), ``low``, ``high``, ``n``, ``events``.
    calibration_slope : pandas.DataFrame
        ``cohort``, ``model``, ``horizon``, ``ici``, ``e50``, ``e90``, ``emax`` (the flexible calibration's
        absolute errors in predicted risk by the horizon, Austin et al. 2020:
        :func:`~core.stats.survival.flexible_calibration.survival_flexible_calibration`), ``slope`` (+
        ``slope_low``, ``slope_high``, ``slope_converged``), ``observed_expected`` (+ ``oe_low``, ``oe_high``).
    calibration_flexible : pandas.DataFrame
        ``cohort``, ``model``, ``horizon``, ``predicted``, ``observed`` (risk of the event by the horizon, 0-1),
        ``low``, ``high``: the flexible calibration curve with its pointwise 95 % band.
    decision : pandas.DataFrame
        ``cohort``, ``model``, ``horizon``, ``threshold``, the net benefit, treat all, net interventions avoided per
        100, standardized net benefit and clinical impact counts per 1,000, each with its bootstrap 95 % band
        (:func:`~core.stats.survival.decision.survival_decision_analysis`, :data:`SURVIVAL_DECISION_RESAMPLES`
        resamples from ``seed``), and ``treat_none`` (risk = 1 - predicted survival at the horizon; dcurves'
        definitions).
    comparisons : pandas.DataFrame
        Every pair of models per cohort on the patients all of them score (Harrell's C,
        :func:`~core.stats.survival.concordance.compare_concordance`): ``model_a``, ``model_b``, ``c_a``,
        ``c_b``, ``difference`` (a - b), ``low``, ``high``, ``z``, ``p``, ``p_holm`` (Holm over the cohort's
        pairs), ``n``, ``left_out``.
    notes : tuple of str
        Sentences on everything left out or unreliable.
    """

    models: tuple[str, ...]
    cohorts: dict[str, tuple]
    horizons: tuple[float, ...]
    cutoffs: dict[str, float]
    time_unit: str
    concordance: pd.DataFrame
    td_auc: pd.DataFrame
    td_roc: pd.DataFrame
    brier: pd.DataFrame
    ibs: pd.DataFrame
    risk_groups: pd.DataFrame
    km: pd.DataFrame
    cutoff_metrics: pd.DataFrame
    calibration: pd.DataFrame
    calibration_slope: pd.DataFrame
    decision: pd.DataFrame
    comparisons: pd.DataFrame
    notes: tuple[str, ...] = field(default=())
    calibration_flexible: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=_FLEXIBLE_COLUMNS))
    seed: int = 0

    def evaluated(self, cohort: str, model: str) -> bool:
        """Whether ``model`` was evaluated on ``cohort`` (a comparable pair among the patients it predicts)."""
        return bool(((self.concordance["cohort"] == cohort) & (self.concordance["model"] == model)).any())

    def km_curves(self, cohort: str, model: str) -> dict[str, KaplanMeier]:
        """The Kaplan-Meier curve of each risk group of ``model`` on ``cohort``, read back from :attr:`km` (its
        first row at time 0 dropped), for :func:`core.figures.survival.kaplan_meier_figure`.

        Returns
        -------
        dict
            Group (``low``, ``high``, lower risk first) -> its :class:`KaplanMeier` (95 % log intervals); a
            group without patients is absent; empty when the model was not evaluated there or the curves were
            left out (``curves=False``).
        """
        rows = self.km[(self.km["cohort"] == cohort) & (self.km["model"] == model)]
        found = {}
        for group in RISK_GROUPS:
            points = rows[rows["group"] == group]
            if points.empty:
                continue
            start, points = points.iloc[0], points.iloc[1:]
            found[group] = KaplanMeier(
                time=points["time"].to_numpy(dtype=float), n_risk=points["n_risk"].to_numpy(dtype=int),
                n_event=points["n_event"].to_numpy(dtype=int), n_censor=points["n_censor"].to_numpy(dtype=int),
                survival=points["survival"].to_numpy(dtype=float), std_err=points["std_err"].to_numpy(dtype=float),
                std_err_log=points["std_err_log"].to_numpy(dtype=float),
                lower=points["lower"].to_numpy(dtype=float), upper=points["upper"].to_numpy(dtype=float),
                level=0.95, n=int(start["n_risk"]))
        return found

    def table2(self) -> pd.DataFrame:
        """The study's Table 2: one row per cohort and model.

        Columns: ``cohort``, ``model``, ``n``, ``events``, ``c_index``, ``c_low``, ``c_high``, ``uno_c``,
        ``uno_low``, ``uno_high``, ``cutoff``, then for each horizon ``h`` (suffix ``_<h>``, as
        :func:`horizon_text`): ``auc``, ``auc_low``, ``auc_high`` (time-dependent AUC), ``sensitivity``,
        ``specificity``, ``ppv``, ``npv`` (at the cut-off), ``high_event_rate`` with ``_low`` / ``_high`` (the
        high-risk group's Kaplan-Meier event rate by ``h``), and ``left_out``. NaN where a horizon was left out.
        """
        base = self.concordance[["cohort", "model", "n", "events", "c_index", "c_low", "c_high", "uno_c", "uno_low",
                                 "uno_high"]].copy()
        base["cutoff"] = base["model"].map(self.cutoffs).astype(float)
        for horizon in self.horizons:
            suffix = horizon_text(horizon)
            for table, columns in _TABLE2_HORIZON_COLUMNS.items():
                frame = getattr(self, table)
                rows = frame[frame["horizon"] == float(horizon)][["cohort", "model", *columns]]
                base = base.merge(rows.rename(columns={c: f"{c}_{suffix}" for c in columns}),
                                  on=["cohort", "model"], how="left")
        base["left_out"] = self.concordance["left_out"].to_numpy()
        return base


def _frame(rows: list[dict] | list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """Rows (dicts) or frames stacked with ``columns`` in order (empty with those columns when there is none)."""
    if not rows:
        return pd.DataFrame(columns=columns)
    if isinstance(rows[0], pd.DataFrame):
        return pd.concat(rows, ignore_index=True)[columns]
    return pd.DataFrame(rows)[columns]


def _event_rate(time: np.ndarray, event: np.ndarray, horizon: float) -> tuple[float, float, float]:
    """1 - KM(horizon) with its CI (1 - upper, 1 - lower; NaN where KM is 0, as survfit's).

    NaN where the follow-up ends before the horizon with someone still event-free (the curve is unknown there);
    where everyone had the event before the horizon the rate is 1 (the curve reached 0)."""
    if time.size == 0:
        return (np.nan, np.nan, np.nan)
    row = kaplan_meier(time, event).summary([horizon]).iloc[0]
    if time.max() < horizon and row["survival"] > 0:
        return (np.nan, np.nan, np.nan)
    return (1 - float(row["survival"]), 1 - float(row["upper"]), 1 - float(row["lower"]))


class _Collector:
    """The tables' rows and the notes, filled cohort by cohort and model by model."""

    def __init__(self) -> None:
        self.rows: dict[str, list] = {name: [] for name in (
            "concordance", "td_auc", "td_roc", "brier", "ibs", "risk_groups", "km", "cutoff_metrics",
            "calibration", "calibration_slope", "calibration_flexible", "decision", "comparisons")}
        self.notes: list[str] = []

    def note(self, cohort: str, model: str | None, sentence: str) -> None:
        self.notes.append(f"{cohort}, {model}: {sentence}" if model else f"{cohort}: {sentence}")


def evaluate_survival_cohorts(predictions: pd.DataFrame, outcome_values: pd.DataFrame,
                              cohorts: Mapping[str, Sequence], models: Sequence[str], horizons: Sequence[float],
                              cutoffs: Mapping[str, float], *, time_unit: str, calibration_groups: int = 5,
                              decision_thresholds: Sequence[float] | None = None,
                              curves: bool = True, seed: int = 0) -> SurvivalEvaluation:
    """Evaluate each survival model on each cohort: concordance, time-dependent AUC and ROC, Brier / IBS, risk
    groups at the cut-off (KM, log-rank, HR), metrics at the cut-off, calibration, decision curves, pairs.

    Parameters
    ----------
    predictions : pandas.DataFrame
        Long: ``id``, ``model``, ``linear_predictor`` and ``surv_<h>`` (``horizon_column(h)``) for every
        horizon; one row per patient and model (NaN where a model has no prediction).
    outcome_values : pandas.DataFrame
        Indexed by patient ID: ``time`` (> 0, ``time_unit``) and ``event`` (1/0).
    cohorts : mapping
        Cohort name -> its patient IDs (every one in ``outcome_values``).
    models : sequence of str
        The models to evaluate (values of ``predictions["model"]``).
    horizons : sequence of float
        Times (``time_unit``) at which the horizon-specific tables are computed.
    cutoffs : mapping
        Model -> cut-off on the linear predictor, chosen on the training cohort (:func:`risk_cutoffs`).
    time_unit : str
        The unit of ``time`` and the horizons (words in notes).
    calibration_groups : int
        Quantile groups of predicted survival in the calibration table.
    decision_thresholds : sequence of float, optional
        Risk thresholds of the decision curves (default dcurves' 0.01..0.99).
    curves : bool
        ``False`` leaves out the curve tables (``td_roc``, ``km``, ``calibration``, ``calibration_flexible``,
        ``decision``) and the pairwise comparisons: what a panel of many cohorts needs.
    seed : int
        Seed of the decision curves' bootstrap bands (the same seed, the same bands).

    Returns
    -------
    SurvivalEvaluation

    Raises
    ------
    RadNomoError
        Missing columns, a model without predictions or a cut-off, duplicated (id, model) rows, cohort
        patients without an outcome, or no horizon. One cohort's gap (no event, a horizon beyond its
        follow-up) never raises: it is left out with a note.
    """
    models = tuple(str(m) for m in models)
    horizons = tuple(sorted(float(h) for h in horizons))
    if not horizons:
        raise RadNomoError("give at least one horizon (a time in the follow-up's unit) to evaluate survival at.")
    _check_columns(predictions, horizons)
    for column in (_TIME, _EVENT):
        if column not in outcome_values.columns:
            raise RadNomoError(f"the outcome values lack the '{column}' column (SurvivalOutcome.values gives "
                               "'time' and 'event').")
    absent = [m for m in models if not (predictions["model"] == m).any()]
    if absent:
        raise RadNomoError(f"no predictions of model(s) {listed(absent)}; the predictions hold "
                           f"{listed(map(str, pd.unique(predictions['model'])))}.")
    no_cutoff = [m for m in models if m not in cutoffs]
    if no_cutoff:
        raise RadNomoError(f"no cut-off for model(s) {listed(no_cutoff)}; choose them on the training cohort first "
                           "(risk_cutoffs).")
    duplicated = predictions.duplicated(["id", "model"])
    if duplicated.any():
        rows = predictions.loc[duplicated, ["id", "model"]].head(3).itertuples(index=False)
        raise RadNomoError(f"{int(duplicated.sum())} duplicated patient-model row(s) in the predictions, e.g. "
                           f"{listed(f'{r.id} ({r.model})' for r in rows)}: give one row per patient and model.")
    grid = _survival_columns(predictions)
    thresholds = DEFAULT_THRESHOLDS if decision_thresholds is None else tuple(decision_thresholds)
    out = _Collector()
    by_model = {m: predictions[predictions["model"] == m].set_index("id") for m in models}
    for cohort, ids in cohorts.items():
        ids = list(ids)
        unknown = [i for i in ids if i not in outcome_values.index]
        if unknown:
            raise RadNomoError(f"cohort '{cohort}' has {len(unknown)} patient(s) without an outcome, e.g. "
                               f"{listed(map(str, unknown[:3]))}: give every patient's time and event.")
        outcome = outcome_values.loc[ids]
        scored: dict[str, np.ndarray] = {}
        for model in models:
            rows = by_model[model].reindex(ids)
            needed = ["linear_predictor", *(horizon_column(h) for h in horizons)]
            have = rows[needed].notna().all(axis=1).to_numpy()
            left_out = int((~have).sum())
            if left_out:
                out.note(cohort, model, f"{left_out} of {len(ids)} patient(s) without this model's linear predictor "
                                        f"or predicted survival are left out ({int(have.sum())} evaluated).")
            time = outcome[_TIME].to_numpy(dtype=float)[have]
            event = outcome[_EVENT].to_numpy(dtype=int)[have]
            if event.sum() == 0:
                out.note(cohort, model, f"no event among the {int(have.sum())} patient(s) evaluated: no "
                                        "discrimination, calibration or risk-group table can be computed there.")
                continue
            if _evaluate_one(out, cohort, model, time, event, rows[have], horizons, grid, float(cutoffs[model]),
                             left_out, time_unit, calibration_groups, thresholds, curves, seed):
                scored[model] = have
        if curves and len(scored) >= 2:
            _compare(out, cohort, outcome, by_model, scored, ids)
    rows = out.rows
    return SurvivalEvaluation(
        models=models, cohorts={name: tuple(ids) for name, ids in cohorts.items()}, horizons=horizons,
        cutoffs={m: float(cutoffs[m]) for m in models}, time_unit=time_unit,
        concordance=_frame(rows["concordance"], _CONCORDANCE_COLUMNS), td_auc=_frame(rows["td_auc"], _TD_AUC_COLUMNS),
        td_roc=_frame(rows["td_roc"], _TD_ROC_COLUMNS), brier=_frame(rows["brier"], _BRIER_COLUMNS),
        ibs=_frame(rows["ibs"], _IBS_COLUMNS), risk_groups=_frame(rows["risk_groups"], _RISK_GROUP_COLUMNS),
        km=_frame(rows["km"], _KM_COLUMNS), cutoff_metrics=_frame(rows["cutoff_metrics"], _CUTOFF_COLUMNS),
        calibration=_frame(rows["calibration"], _CALIBRATION_COLUMNS),
        calibration_slope=_frame(rows["calibration_slope"], _SLOPE_COLUMNS),
        decision=_frame(rows["decision"], _DECISION_COLUMNS),
        comparisons=_frame(rows["comparisons"], _COMPARISON_COLUMNS), notes=tuple(out.notes),
        calibration_flexible=_frame(rows["calibration_flexible"], _FLEXIBLE_COLUMNS), seed=seed)


def _evaluate_one(out: _Collector, cohort: str, model: str, time: np.ndarray, event: np.ndarray,
                  rows: pd.DataFrame, horizons: tuple[float, ...], grid: dict[float, str], cutoff: float,
                  left_out: int, unit: str, groups: int, thresholds: Sequence[float], curves: bool,
                  seed: int) -> bool:
    """Every table's rows of one model on one cohort (patients with a prediction, at least one event); False
    (and a note, no row) where no pair of its patients is comparable."""
    lp = rows["linear_predictor"].to_numpy(dtype=float)
    key = {"cohort": cohort, "model": model}
    n, events = int(time.size), int(event.sum())
    # Concordance: Harrell's C over all comparable pairs, Uno's up to the last horizon (its 1/G^2 weights grow
    # without bound in the tail of follow-up).
    # A small group (one patient, events tied at the last follow-up) can have no comparable pair: harrell_c and
    # uno_c then raise. Without a comparable pair there is nothing to rank, so the model is left out of this
    # cohort (every table) with a note; without one before tau only Uno's C is left empty.
    tau = horizons[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        try:
            harrell = harrell_c(time, event, lp)
        except RadNomoError:
            harrell = None
        try:
            uno = uno_c(time, event, lp, tau=tau)
            uno_c_, uno_low, uno_high = uno.c, uno.low, uno.high
        except RadNomoError:
            uno_c_ = uno_low = uno_high = np.nan
    if harrell is None or not np.isfinite(harrell.c):
        out.note(cohort, model, f"no comparable pair among its {n} patient(s) (an event followed by a longer "
                                "follow-up): left out of every table of this cohort.")
        return False
    if not np.isfinite(uno_c_):
        out.note(cohort, model, f"no comparable pair with an event by {horizon_text(tau)} {unit}: no Uno's C.")
    out.rows["concordance"].append({**key, "n": n, "events": events, "c_index": harrell.c, "c_low": harrell.low,
                                    "c_high": harrell.high, "uno_c": uno_c_, "uno_low": uno_low,
                                    "uno_high": uno_high, "uno_tau": tau, "left_out": left_out})
    usable, discriminated = [], []
    for horizon in horizons:
        label = f"{horizon_text(horizon)} {unit}"
        try:
            auc = td_auc(time, event, lp, [horizon]).iloc[0]
        except RadNomoError as error:
            out.note(cohort, model, f"horizon {label} left out of the time-dependent AUC, ROC and cut-off metrics: "
                                    f"{error}")
        else:
            discriminated.append(horizon)
            out.rows["td_auc"].append({**key, "horizon": horizon, "auc": auc["auc"], "auc_low": auc["auc_low"],
                                       "auc_high": auc["auc_high"]})
            if curves:
                out.rows["td_roc"].append(td_roc_curve(time, event, lp, horizon).assign(horizon=horizon, **key))
        surv = rows[horizon_column(horizon)].to_numpy(dtype=float)
        try:
            score = brier(time, event, surv, horizon)
        except RadNomoError as error:
            out.note(cohort, model, f"horizon {label} left out of the Brier score, calibration and decision "
                                    f"curve: {error}")
            continue
        usable.append(horizon)
        out.rows["brier"].append({**key, "horizon": horizon, "brier": score.brier, "brier_low": score.low,
                                  "brier_high": score.high, "null_brier": score.null_brier})
        _calibration(out, key, time, event, surv, horizon, label, groups, curves)
        if curves:
            try:
                curve = survival_decision_analysis(time, event, 1 - surv, horizon, thresholds,
                                                   n_boot=SURVIVAL_DECISION_RESAMPLES, seed=seed)
            except RadNomoError as error:
                out.note(cohort, model, f"horizon {label} left out of the decision curve: {error}")
                continue
            undefined = int(curve["net_benefit"].isna().sum())
            if undefined:
                out.note(cohort, model, f"horizon {label}: net benefit undefined at {undefined} threshold(s) (the "
                                        "patients at or above them are all followed less than the horizon and the "
                                        "last of them was censored: their risk by then is unknown).")
            out.rows["decision"].append(curve.drop(columns="note").assign(horizon=horizon, treat_none=0.0, **key))
    if usable:
        _integrated_brier(out, key, time, event, rows, grid, usable[-1], unit)
    _risk_groups(out, key, time, event, lp, cutoff, tuple(discriminated), unit, curves)
    return True


def _calibration(out: _Collector, key: dict, time: np.ndarray, event: np.ndarray, surv: np.ndarray,
                 horizon: float, label: str, groups: int, curves: bool) -> None:
    try:
        result = survival_calibration(time, event, surv, horizon, groups=groups)
    except RadNomoError as error:
        out.note(key["cohort"], key["model"], f"horizon {label} left out of the calibration: {error}")
        return
    slope = result.slope
    if not slope.converged:
        out.note(key["cohort"], key["model"], f"horizon {label}: {slope.convergence}")
    try:
        flexible = survival_flexible_calibration(time, event, surv, horizon)
    except RadNomoError as error:
        out.note(key["cohort"], key["model"], f"horizon {label}: no flexible calibration curve: {error}")
        errors = dict.fromkeys(("ici", "e50", "e90", "emax"), np.nan)
    else:
        if flexible.note:
            out.note(key["cohort"], key["model"], f"horizon {label}, flexible calibration: {flexible.note}")
        errors = {"ici": flexible.ici, "e50": flexible.e50, "e90": flexible.e90, "emax": flexible.emax}
        if curves:
            out.rows["calibration_flexible"].append(flexible.curve.assign(horizon=horizon, **key))
    out.rows["calibration_slope"].append({**key, "horizon": horizon, **errors, "slope": slope.coefficient,
                                          "slope_low": slope.lower, "slope_high": slope.upper,
                                          "slope_converged": slope.converged,
                                          "observed_expected": result.observed_expected, "oe_low": result.oe_lower,
                                          "oe_high": result.oe_upper})
    if curves:
        table = result.groups
        for sentence in table.loc[table["note"] != "", "note"]:
            out.note(key["cohort"], key["model"], f"horizon {label}, calibration: {sentence}.")
        out.rows["calibration"].append(table.rename(columns={"lower": "low", "upper": "high"})
                                       .assign(horizon=horizon, **key))


def _integrated_brier(out: _Collector, key: dict, time: np.ndarray, event: np.ndarray, rows: pd.DataFrame,
                      grid: dict[float, str], upto: float, unit: str) -> None:
    """IBS over the ``surv_<t>`` columns up to ``upto`` whose patients all have a prediction."""
    times = [t for t, column in grid.items() if t <= upto and rows[column].notna().all()]
    if len(times) < 2:
        out.note(key["cohort"], key["model"], f"integrated Brier score left out: it needs predicted survival at "
                                              f"two times or more up to {horizon_text(upto)} {unit}.")
        return
    matrix = rows[[grid[t] for t in times]].to_numpy(dtype=float)
    table = integrated_brier(time, event, matrix, times)
    last = table.iloc[-1]
    out.rows["ibs"].append({**key, "ibs_to": float(last["time"]), "ibs": float(last["ibs"]),
                            "null_ibs": float(last["null_ibs"]), "grid_points": len(times)})


def _risk_groups(out: _Collector, key: dict, time: np.ndarray, event: np.ndarray, lp: np.ndarray, cutoff: float,
                 horizons: tuple[float, ...], unit: str, curves: bool) -> None:
    """Low / high risk at ``cutoff``: KM medians and curves, log-rank, Cox HR high vs low, and the metrics at the
    cut-off at ``horizons`` (those with a case before and a control after them)."""
    cohort, model = key["cohort"], key["model"]
    high = lp > cutoff
    labels = np.where(high, RISK_GROUPS[1], RISK_GROUPS[0])
    chisq = p = hr = hr_low = hr_high = hr_p = np.nan
    test = None
    if high.all() or not high.any():
        only = RISK_GROUPS[1] if high.all() else RISK_GROUPS[0]
        out.note(cohort, model, f"every patient is in the {only}-risk group at the cut-off {cutoff:.4g}: no log-rank "
                                "test or hazard ratio.")
    else:
        try:
            test = log_rank(time, event, labels)
        except RadNomoError as error:  # a small cohort: the events may all fall where one group alone is at risk
            out.note(cohort, model, f"no log-rank test or hazard ratio high vs low risk: {error}")
    if test is not None:
        chisq, p = test.chisq, test.p
        fit = fit_cox(pd.DataFrame({"high": high.astype(float)}), time, event)
        if fit.converged:
            hr, hr_low, hr_high = float(fit.hr["high"]), float(fit.hr_lower["high"]), float(fit.hr_upper["high"])
            hr_p = float(fit.p["high"])
        else:
            out.note(cohort, model, f"no hazard ratio high vs low risk: {fit.convergence}")
    for group, members in zip(RISK_GROUPS, (~high, high), strict=True):
        median = (np.nan, np.nan, np.nan)
        if members.any():
            curve = kaplan_meier(time[members], event[members])
            median = curve.median()
            if curves:
                points = curve.to_frame().assign(std_err_log=curve.std_err_log)
                start = pd.DataFrame([{"time": 0.0, "n_risk": int(members.sum()), "n_event": 0, "n_censor": 0,
                                       "survival": 1.0, "std_err": 0.0, "std_err_log": 0.0, "lower": 1.0,
                                       "upper": 1.0}])
                out.rows["km"].append(pd.concat([start, points], ignore_index=True).assign(group=group, **key))
        out.rows["risk_groups"].append({**key, "cutoff": cutoff, "group": group, "n": int(members.sum()),
                                        "events": int(event[members].sum()), "median": median[0],
                                        "median_low": median[1], "median_high": median[2], "logrank_chisq": chisq,
                                        "logrank_p": p, "hr": hr, "hr_low": hr_low, "hr_high": hr_high, "hr_p": hr_p})
    metrics = cutoff_metrics(time, event, lp, cutoff, horizons)
    for row in metrics.itertuples(index=False):
        rates = {}
        for group, members in zip(RISK_GROUPS, (~high, high), strict=True):
            rate = _event_rate(time[members], event[members], row.horizon)
            if members.any() and np.isnan(rate[0]):
                out.note(cohort, model, f"the {group}-risk group's follow-up ends before {horizon_text(row.horizon)} "
                                        f"{unit}: no event rate there.")
            rates.update({f"{group}_event_rate": rate[0], f"{group}_event_rate_low": rate[1],
                          f"{group}_event_rate_high": rate[2]})
        out.rows["cutoff_metrics"].append({**key, "horizon": row.horizon, "cutoff": cutoff,
                                           "sensitivity": row.sensitivity, "specificity": row.specificity,
                                           "ppv": row.ppv, "npv": row.npv, **rates, "cases": row.cases,
                                           "controls": row.controls})


def _compare(out: _Collector, cohort: str, outcome: pd.DataFrame, by_model: dict[str, pd.DataFrame],
             scored: dict[str, np.ndarray], ids: list) -> None:
    """Harrell's C of every pair of models on the patients every evaluated model scores (Holm-adjusted p)."""
    together = np.logical_and.reduce(list(scored.values()))
    time = outcome[_TIME].to_numpy(dtype=float)[together]
    event = outcome[_EVENT].to_numpy(dtype=int)[together]
    if event.sum() == 0:
        out.note(cohort, None, "no event among the patients every model scores: no comparison of concordances.")
        return
    risks = {m: by_model[m].reindex(ids)["linear_predictor"].to_numpy(dtype=float)[together] for m in scored}
    with np.errstate(invalid="ignore", divide="ignore"):
        try:
            table = compare_concordance(time, event, risks)
        except RadNomoError as error:  # no comparable pair among the patients every model scores
            out.note(cohort, None, f"no comparison of concordances: {error}")
            return
    table = table.rename(columns={"first": "model_a", "second": "model_b", "c_first": "c_a", "c_second": "c_b"})
    finite = table["p"].notna().to_numpy()
    table["p_holm"] = np.nan
    if finite.any():
        table.loc[finite, "p_holm"] = multipletests(table.loc[finite, "p"], method="holm")[1]
    if not finite.all():
        pairs = [f"{a} vs {b}" for a, b in zip(table.loc[~finite, "model_a"], table.loc[~finite, "model_b"],
                                                strict=True)]
        out.note(cohort, None, f"no test for {listed(pairs)}: the two concordances do not differ on any patient.")
    out.rows["comparisons"].append(table.assign(cohort=cohort, n=int(together.sum()),
                                                left_out=int((~together).sum())))


def long_predictions(predictions: pd.DataFrame, models: Sequence[str], horizons: Sequence[float]) -> pd.DataFrame:
    """A time-to-event study's wide predictions (:meth:`core.workflows.fit.StudyModels.predict`: each model's
    linear predictor in its own column, its survival at each horizon in ``survival_column(model, h)``) as the long
    table :func:`evaluate_survival_cohorts` reads: ``id``, ``model``, ``linear_predictor``, ``surv_<h>``."""
    parts = []
    for model in models:
        part = pd.DataFrame({"id": predictions.index.astype(str), "model": model,
                             "linear_predictor": predictions[model].to_numpy(dtype=float)})
        for horizon in horizons:
            part[horizon_column(horizon)] = predictions[survival_column(model, horizon)].to_numpy(dtype=float)
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(PREDICTION_COLUMNS))


def evaluate_survival_study(study: Study, models, predictions: pd.DataFrame) -> SurvivalEvaluation:
    """A time-to-event study's evaluation: every model on the training and (if any) test cohort, its risk-group
    cut-off (the study's quantile of the linear predictor, the median by default:
    ``study.evaluation.risk_quantile``) chosen on the training patients.

    Parameters
    ----------
    study : Study
        Its outcome (a :class:`core.stats.outcomes.SurvivalOutcome`: horizons, time unit) and cohorts.
    models : StudyModels or sequence of str
        The fitted models (their ``model_names``) or the names themselves.
    predictions : pandas.DataFrame
        :func:`core.workflows.fit.predict_study` of those models.
    """
    names = tuple(getattr(models, "model_names", models))
    outcome = study.spec.outcome
    horizons = tuple(outcome.horizons)  # type: ignore[attr-defined]  # a SurvivalOutcome's
    long = long_predictions(predictions, names, horizons)
    values = outcome.values(study.cohort)
    values.index = study.cohort.index.astype(str)
    cohorts = {name: tuple(str(i) for i in ids) for name, ids in study.cohorts().items()}
    return evaluate_survival_cohorts(long, values, cohorts, names, horizons,
                                     risk_cutoffs(long, [str(i) for i in study.train_ids],
                                                  quantile=study.evaluation.risk_quantile),
                                     time_unit=outcome.time_unit,  # type: ignore[attr-defined]
                                     seed=study.split.config.seed)


#: Columns of :func:`cohort_predictions` (then ``surv_<h>`` per horizon): what ``predictions.csv`` of a
#: time-to-event analysis holds.
COHORT_PREDICTION_COLUMNS = ("cohort", "id", "model", "time", "event", "linear_predictor")


def cohort_predictions(study: Study, models, predictions: pd.DataFrame,
                       externals: Sequence = ()) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, tuple[str, ...]]]:
    """Every cohort's patients with each model's prediction and their outcome, in one long table.

    Parameters
    ----------
    study : Study
        A time-to-event study (its outcome a :class:`core.stats.outcomes.SurvivalOutcome`).
    models : StudyModels
        Its fitted models (they score the external cohorts; nothing is refitted).
    predictions : pandas.DataFrame
        :func:`core.workflows.fit.predict_study` of ``models`` (wide: index patient ID).
    externals : sequence of core.workflows.external.ExternalCohort
        Checked external cohorts (:func:`core.workflows.external.validate_external`).

    Returns
    -------
    (table, outcome_values, cohorts)
        ``table``: :data:`COHORT_PREDICTION_COLUMNS` then ``surv_<h>`` for each horizon, one row per patient and
        model (cohorts train, [test], each external in that order); ``id`` is the patient's own ID, ``time`` in
        the outcome's unit, ``event`` 1/0, ``surv_<h>`` the predicted probability of being event-free at ``h``.
        ``outcome_values`` (``time``, ``event``) and ``cohorts`` (name -> keys) are keyed as
        :func:`evaluate_survival_cohorts` reads them: a study patient by its ID, an external one by
        ``<cohort name>:<ID>`` (as :func:`core.workflows.external.pooled_predictions`), so IDs never mix.
    """
    names = tuple(models.model_names)
    outcome = study.spec.outcome
    horizons = tuple(outcome.horizons)  # type: ignore[attr-defined]  # a SurvivalOutcome's
    sources = [(cohort, study.cohort.loc[list(ids)], predictions.loc[list(ids)], "")
               for cohort, ids in study.cohorts().items()]
    for external in externals:
        sources.append((external.name, external.cohort, models.predict(external.cohort, external.tables),
                        f"{external.name}:"))
    parts, values, cohorts = [], [], {}
    for cohort, rows, wide, prefix in sources:
        keys = [f"{prefix}{i}" for i in rows.index.astype(str)]
        outcome_values = outcome.values(rows).set_axis(keys, axis=0)
        long = long_predictions(wide.loc[rows.index], names, horizons)
        long.insert(0, "key", np.tile(keys, len(names)))  # long_predictions stacks the models, patients in order
        long = long.join(outcome_values, on="key")
        long["id"] = np.tile(rows.index.astype(str), len(names))
        parts.append(long.assign(cohort=cohort))
        values.append(outcome_values)
        cohorts[cohort] = tuple(keys)
    columns = [*COHORT_PREDICTION_COLUMNS, *(horizon_column(h) for h in horizons)]
    table = pd.concat(parts, ignore_index=True)
    return table[["key", *columns]], pd.concat(values), cohorts


def evaluate_survival_analysis(study: Study, models, predictions: pd.DataFrame,
                               externals: Sequence = ()) -> tuple[SurvivalEvaluation, pd.DataFrame]:
    """The study's evaluation (as :func:`evaluate_survival_study`: the same cut-offs, chosen on the training
    patients, and the same numbers on train and test) with its external cohorts evaluated alongside, and the long
    predictions it was computed from (:func:`cohort_predictions`, without its internal ``key`` column).

    Each external cohort is scored by the frozen models, at the training cut-offs; a horizon beyond an external
    cohort's follow-up, or a cohort without events, is left out of its tables with a note, as for any cohort.
    """
    table, values, cohorts = cohort_predictions(study, models, predictions, externals)
    names = tuple(models.model_names)
    outcome = study.spec.outcome
    horizons = tuple(outcome.horizons)  # type: ignore[attr-defined]  # a SurvivalOutcome's
    long = table.drop(columns=["id", "cohort", _TIME, _EVENT]).rename(columns={"key": "id"})
    train = cohorts.get("train", ())
    cutoffs = risk_cutoffs(long, train, quantile=study.evaluation.risk_quantile)
    evaluation = evaluate_survival_cohorts(long, values, cohorts, names, horizons, cutoffs,
                                           time_unit=outcome.time_unit,  # type: ignore[attr-defined]
                                           seed=study.split.config.seed)
    return evaluation, table.drop(columns=["key"])
