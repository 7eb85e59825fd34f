"""How good the models are: ROC/AUC with DeLong intervals and tests, cut-off metrics, calibration, net benefit.

Conventions: ``y`` holds 0/1 outcomes (1 = event); a higher score means more likely an event; a
patient is called positive when ``score >= cutoff``. Functions take plain arrays (or Series) of
one cohort; cut-offs are chosen on the training cohort and applied unchanged elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from core.errors import RadNomoError
from core.vocabulary import PROPORTION_CIS, check_option

__all__ = ["RocAuc", "DelongResult", "CalibrationStats", "HosmerLemeshow", "Confusion", "roc_curve", "roc_points",
           "roc_auc", "delong_test", "youden_cutoff", "cutoff_for_sensitivity", "confusion_counts", "binary_metrics",
           "calibration_curve", "calibration_stats", "hosmer_lemeshow", "decision_curve", "compare_models",
           "bootstrap_ci", "performance_table", "METRICS", "interval_text"]

METRICS = ("ACC", "SENS", "SPEC", "PPV", "NPV")


def _outcome_and_scores(y, *scores) -> tuple[np.ndarray, list[np.ndarray]]:
    outcome = np.asarray(y, dtype=float)
    arrays = [np.asarray(s, dtype=float) for s in scores]
    if any(len(a) != len(outcome) for a in arrays):
        raise RadNomoError("outcome and scores must have the same length.")
    keep = np.isfinite(outcome)
    for a in arrays:
        keep &= np.isfinite(a)
    outcome = outcome[keep]
    if not set(np.unique(outcome)) <= {0.0, 1.0} or len(np.unique(outcome)) < 2:
        raise RadNomoError("the outcome must be 0/1 with both classes present among the patients evaluated.")
    return outcome.astype(int), [a[keep] for a in arrays]


def _complete_scores(scores: Mapping[str, object]) -> None:
    """Refuse a paired comparison where some model lacks a (finite) score for some patients.

    Dropping those patients silently would score every model on the patients that all of them
    happen to have, a different cohort from the one each model's own AUC describes.
    """
    lacking = []
    for name, values in scores.items():
        array = np.asarray(values, dtype=float)
        bad = int((~np.isfinite(array)).sum())
        if bad:
            lacking.append(f"model '{name}' lacks a score for {bad} of {len(array)} patients")
    if lacking:
        raise RadNomoError(f"{'; '.join(lacking)} (NaN or infinite); a paired comparison needs every model's score "
                           "for the same patients. Compare them on the patients that all models score (drop the "
                           "others explicitly), or find why the scores are missing.")


def _check_probabilities(prob, what: str) -> None:
    """Refuse predicted probabilities that are missing or outside [0, 1] (scores are not probabilities)."""
    p = np.asarray(prob, dtype=float)
    missing = int(np.isnan(p).sum())
    if missing:
        raise RadNomoError(f"{what} needs a predicted probability for every patient; {missing} of {len(p)} are "
                           "missing (NaN). Drop those patients explicitly or find why they lack a prediction.")
    outside = (p < 0) | (p > 1)
    if outside.any():
        examples = ", ".join(f"{v:g}" for v in p[outside][:3])
        raise RadNomoError(f"{what} needs predicted probabilities between 0 and 1; {int(outside.sum())} of {len(p)} "
                           f"lie outside (e.g. {examples}). Pass probabilities, not scores or linear predictors "
                           "(apply the logistic function 1 / (1 + exp(-x)) to a linear predictor).")


# ---------------------------------------------------------------------------------------------
# ROC and DeLong
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RocAuc:
    """AUC with its DeLong variance and confidence interval."""

    auc: float
    ci_low: float
    ci_high: float
    variance: float
    n_positive: int
    n_negative: int
    level: float


@dataclass(frozen=True)
class DelongResult:
    """Paired DeLong test of two AUCs on the same patients (two-sided)."""

    auc_a: float
    auc_b: float
    difference: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float


def roc_points(y, score) -> pd.DataFrame:
    """The ROC curve's corners only (scikit-learn's ``drop_intermediate``): the same curve drawn with a
    fraction of the points, for figures (``threshold``, ``fpr``, ``tpr``)."""
    from sklearn.metrics import roc_curve as sk_roc_curve

    outcome, (values,) = _outcome_and_scores(y, score)
    fpr, tpr, thresholds = sk_roc_curve(outcome, values, drop_intermediate=True)
    return pd.DataFrame({"threshold": thresholds, "fpr": fpr, "tpr": tpr})


def roc_curve(y, score) -> pd.DataFrame:
    """All operating points: ``threshold`` (positive when score >= it), ``fpr``, ``tpr``, from (0, 0) to (1, 1)."""
    from sklearn.metrics import roc_curve as sk_roc_curve

    outcome, (values,) = _outcome_and_scores(y, score)
    fpr, tpr, thresholds = sk_roc_curve(outcome, values, drop_intermediate=False)
    return pd.DataFrame({"threshold": thresholds, "fpr": fpr, "tpr": tpr})


def _structural_components(outcome: np.ndarray, scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray,
                                                                                   np.ndarray]:
    """AUCs and DeLong's placement values in O(n log n) per score (Sun & Xu 2014).

    Written by hand: scikit-learn has no DeLong variance and no maintained Python package offers
    the fast algorithm for paired tests. One sort per score: within each group of tied scores the
    events and non-events are counted, so a positive's placement is the share of negatives below
    it plus half those tied with it, and a negative's the share of positives above it plus half
    those tied (Sun & Xu's midrank formulas, without ranking three times). Placements stay in
    patient order, so the components of different scores pair up. Returns (aucs (k,), V10 (k, m),
    V01 (k, n)).
    """
    positive = outcome == 1
    m, n = int(positive.sum()), int((~positive).sum())
    aucs, v10, v01 = [], [], []
    for values in scores:
        order = np.argsort(values, kind="stable")
        sorted_values = values[order]
        new_group = np.empty(len(values), dtype=bool)
        new_group[0] = True
        np.not_equal(sorted_values[1:], sorted_values[:-1], out=new_group[1:])
        group_sorted = np.cumsum(new_group) - 1
        group = np.empty(len(values), dtype=np.int64)
        group[order] = group_sorted
        pos_in = np.bincount(group_sorted, weights=positive[order], minlength=group_sorted[-1] + 1)
        neg_in = np.bincount(group_sorted, weights=~positive[order], minlength=group_sorted[-1] + 1)
        neg_below = np.cumsum(neg_in) - neg_in
        pos_above = m - np.cumsum(pos_in)
        placement_x = (neg_below + 0.5 * neg_in)[group[positive]] / n
        placement_z = (pos_above + 0.5 * pos_in)[group[~positive]] / m
        aucs.append(placement_x.mean())
        v10.append(placement_x)
        v01.append(placement_z)
    return np.array(aucs), np.array(v10), np.array(v01)


def _delong_covariance(v10: np.ndarray, v01: np.ndarray) -> np.ndarray:
    m, n = v10.shape[1], v01.shape[1]
    s10 = np.atleast_2d(np.cov(v10)) if m > 1 else np.zeros((len(v10), len(v10)))
    s01 = np.atleast_2d(np.cov(v01)) if n > 1 else np.zeros((len(v01), len(v01)))
    return s10 / m + s01 / n


def roc_auc(y, score, level: float = 0.95) -> RocAuc:
    """AUC with its DeLong confidence interval (as R pROC's ``ci.auc(method = "delong")``, clipped to [0, 1])."""
    outcome, (values,) = _outcome_and_scores(y, score)
    aucs, v10, v01 = _structural_components(outcome, [values])
    variance = float(_delong_covariance(v10, v01)[0, 0])
    half = stats.norm.ppf(0.5 + level / 2) * np.sqrt(variance)
    auc = float(aucs[0])
    return RocAuc(auc=auc, ci_low=max(0.0, auc - half), ci_high=min(1.0, auc + half), variance=variance,
                  n_positive=int(outcome.sum()), n_negative=int(len(outcome) - outcome.sum()), level=level)


def _paired(aucs: np.ndarray, cov: np.ndarray, i: int, j: int, level: float) -> DelongResult:
    """DeLong test of AUC i = AUC j from the components' covariance."""
    difference = float(aucs[i] - aucs[j])
    variance = float(cov[i, i] + cov[j, j] - 2 * cov[i, j])
    if variance <= 0:
        z, p = 0.0, 1.0  # identical rankings: no difference to test
    else:
        z = difference / np.sqrt(variance)
        p = float(2 * stats.norm.sf(abs(z)))
    half = stats.norm.ppf(0.5 + level / 2) * np.sqrt(max(variance, 0.0))
    return DelongResult(auc_a=float(aucs[i]), auc_b=float(aucs[j]), difference=difference,
                        ci_low=difference - half, ci_high=difference + half, z=float(z), p_value=p)


def delong_test(y, score_a, score_b, level: float = 0.95) -> DelongResult:
    """Paired two-sided DeLong test of AUC(a) = AUC(b) (as R pROC's ``roc.test(method = "delong")``).

    Raises
    ------
    RadNomoError
        If either score has NaN or infinite values (with the count): a paired test needs both
        scores for the same patients, and dropping rows silently would change the cohort.
    """
    _complete_scores({"a": score_a, "b": score_b})
    outcome, (a, b) = _outcome_and_scores(y, score_a, score_b)
    aucs, v10, v01 = _structural_components(outcome, [a, b])
    return _paired(aucs, _delong_covariance(v10, v01), 0, 1, level)


def compare_models(y, scores: Mapping[str, Sequence[float]], *, holm: bool = False) -> pd.DataFrame:
    """Every pair of models by paired DeLong test: AUCs, difference with 95 % CI, z, p (Holm-adjusted when asked).

    The placements of each model are computed once and shared by all its pairs. Returns one row
    per pair (``model_a``, ``model_b``, ``auc_a``, ``auc_b``, ``difference``, ``ci_low``,
    ``ci_high``, ``z``, ``p_value`` and, with ``holm``, ``p_holm``).

    Raises
    ------
    RadNomoError
        If some model's scores are NaN or infinite for some patients, naming each such model and
        how many patients lack its score.
    """
    names = list(scores)
    rows = []
    if len(names) >= 2:
        _complete_scores(scores)
        outcome, arrays = _outcome_and_scores(y, *(scores[n] for n in names))
        aucs, v10, v01 = _structural_components(outcome, arrays)
        cov = _delong_covariance(v10, v01)
        for i, j in combinations(range(len(names)), 2):
            result = _paired(aucs, cov, i, j, 0.95)
            rows.append({"model_a": names[i], "model_b": names[j], "auc_a": result.auc_a, "auc_b": result.auc_b,
                         "difference": result.difference, "ci_low": result.ci_low, "ci_high": result.ci_high,
                         "z": result.z, "p_value": result.p_value})
    table = pd.DataFrame(rows, columns=["model_a", "model_b", "auc_a", "auc_b", "difference", "ci_low", "ci_high",
                                        "z", "p_value"])
    if holm and len(table):
        from statsmodels.stats.multitest import multipletests

        table["p_holm"] = multipletests(table["p_value"], method="holm")[1]
    return table


# ---------------------------------------------------------------------------------------------
# Cut-offs and confusion-matrix metrics
# ---------------------------------------------------------------------------------------------


def _midpoint_thresholds(values: np.ndarray) -> np.ndarray:
    """pROC's candidate cut-offs for ``values`` (its ``roc.utils.thresholds``, direction "<"), ascending.

    Returns -inf, the midpoints between neighbouring sorted unique values, +inf (one more than the
    unique values). Each cut-off splits the patients as the next higher observed value does (positive
    when score >= it) but lies between two observed values, so no training patient sits on it and a
    later patient scoring between the two neighbours is called positive. As in pROC: a midpoint that
    would overflow is taken as a/2 + b/2, and where two neighbours are adjacent doubles (no double lies
    between them, so the midpoint rounds onto one of them) and it rounded onto the lower one, the upper
    one is taken, which still separates them.
    """
    unique = np.unique(values)
    lower, upper = np.r_[-np.inf, unique], np.r_[unique, np.inf]
    with np.errstate(over="ignore", invalid="ignore"):
        midpoints = (lower + upper) / 2
    midpoints = np.where(np.abs(midpoints) > 1e100, lower / 2 + upper / 2, midpoints)
    inner = midpoints[1:-1]  # a view: the fix below writes into ``midpoints``
    collapsed = inner == unique[:-1]
    inner[collapsed] = unique[1:][collapsed]
    return midpoints


def _threshold_counts(y, score) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, int, int]:
    """The finite midpoint cut-offs and their counts, highest cut-off first.

    Returns (cut-offs, true positives, true negatives, lowest score, events, non-events): every
    midpoint cut-off of :func:`_midpoint_thresholds` but +inf (a cut-off nobody reaches is no rule),
    -inf included (everybody positive). Positive when score >= cut-off.
    """
    outcome, (values,) = _outcome_and_scores(y, score)
    thresholds = _midpoint_thresholds(values)[::-1][1:]
    events, non_events = np.sort(values[outcome == 1]), np.sort(values[outcome == 0])
    tp = len(events) - np.searchsorted(events, thresholds, side="left")
    tn = np.searchsorted(non_events, thresholds, side="left")
    return thresholds, tp, tn, float(values.min()), len(events), len(non_events)


def _finite_cutoff(threshold: float, lowest: float) -> float:
    """-inf (every patient positive; pROC's answer there) as the lowest training score, a finite number that
    every training patient reaches (a later patient scoring below all of them is called negative)."""
    return float(lowest) if np.isneginf(threshold) else float(threshold)


def youden_cutoff(y, score) -> float:
    """The score cut-off maximising Youden's J = sensitivity + specificity - 1 on these patients (positive when
    score >= it), placed as R pROC's ``coords(roc, "best", best.method = "youden")`` places it.

    Parameters
    ----------
    y : array-like
        0/1 outcomes of the training patients (1 = event).
    score : array-like
        Their scores (e.g. predicted probabilities; higher = more likely an event), same length.

    Returns
    -------
    float
        The cut-off, in the score's units. Candidates are pROC's: the midpoints between neighbouring sorted
        unique training scores, so no training patient sits on the cut-off and a later patient scoring between
        two training neighbours is not decided by which of them happened to be observed. Among equal J the
        highest cut-off (the more specific rule) is taken; pROC 1.18 returns every tied cut-off (and its
        ``ci.coords`` refuses ties by default), so the tie rule is ours. J is compared in whole counts
        (TP x non-events + TN x events), so ties are exact. Where the best rule calls every patient positive
        (a constant or inverted score: J <= 0 at every finite midpoint), pROC answers -inf; this returns the
        lowest training score instead, a finite cut-off every training patient reaches. The cut-off nobody
        reaches (+inf) is never chosen.

    Patients without a finite score or outcome are not counted (as in every function of this module).

    Raises
    ------
    RadNomoError
        If the outcome is not 0/1 with both classes present, or the lengths differ.
    """
    thresholds, tp, tn, lowest, n_events, n_non_events = _threshold_counts(y, score)
    # (J + 1) x events x non-events, in integers: equal J are equal here, whatever the floating-point rounding.
    scaled = tp.astype(np.int64) * n_non_events + tn.astype(np.int64) * n_events
    return _finite_cutoff(thresholds[int(np.argmax(scaled))], lowest)  # argmax: the first, i.e. highest, of ties


def cutoff_for_sensitivity(y, score, target: float) -> float:
    """The highest cut-off whose training sensitivity reaches ``target`` (positive when score >= it).

    Parameters
    ----------
    y, score : array-like
        0/1 outcomes and scores of the training patients, as :func:`youden_cutoff`.
    target : float
        The sensitivity to reach, in (0, 1].

    Returns
    -------
    float
        The highest of pROC's midpoint cut-offs (see :func:`youden_cutoff`) at which the share of events
        scoring >= it is at least ``target``: the most specific such rule, with no training patient on the
        cut-off. (pROC's own ``coords(roc, x = target, input = "sensitivity")`` interpolates between ROC
        points and gives no cut-off; this is its threshold table read as the rule says.) Where only calling
        every patient positive reaches the target (pROC's -inf), the lowest training score.

    Raises
    ------
    RadNomoError
        If ``target`` is outside (0, 1], or as :func:`youden_cutoff`.
    """
    if not 0 < target <= 1:
        raise RadNomoError(f"target sensitivity {target} must lie in (0, 1].")
    thresholds, tp, _, lowest, n_events, _ = _threshold_counts(y, score)
    # tp / events as pROC computes the sensitivity, compared as R would compare it; -inf (the last) always reaches.
    reaching = np.flatnonzero(tp / n_events >= target)
    return _finite_cutoff(thresholds[reaching[0]], lowest)


def _proportion_ci(successes: int, total: int, method: str, level: float) -> tuple[float, float, float]:
    if total == 0:
        return np.nan, np.nan, np.nan
    p = successes / total
    if method == "wald":
        half = stats.norm.ppf(0.5 + level / 2) * np.sqrt(p * (1 - p) / total)
        return p, max(0.0, p - half), min(1.0, p + half)
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(successes, total, alpha=1 - level, method="wilson")
    return p, float(low), float(high)


@dataclass(frozen=True)
class Confusion:
    """The 2 x 2 confusion matrix at a cut-off: counts of patients (positive when score >= cut-off).

    Attributes
    ----------
    tp, fp, tn, fn : int
        True positives (events called positive), false positives, true negatives, false negatives.
    """

    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def fpr(self) -> float:
        """False-positive rate, FP / (FP + TN) (0 when there is no non-event)."""
        return self.fp / max(self.fp + self.tn, 1)

    @property
    def tpr(self) -> float:
        """True-positive rate (sensitivity), TP / (TP + FN) (0 when there is no event)."""
        return self.tp / max(self.tp + self.fn, 1)

    def as_dict(self) -> dict[str, int]:
        """``{"tp": ..., "fp": ..., "tn": ..., "fn": ...}`` (one row of a tidy confusion table)."""
        return {"tp": self.tp, "fp": self.fp, "tn": self.tn, "fn": self.fn}


def _confusion(outcome: np.ndarray, values: np.ndarray, cutoff: float) -> Confusion:
    predicted = values >= cutoff
    return Confusion(tp=int(np.sum(predicted & (outcome == 1))), fp=int(np.sum(predicted & (outcome == 0))),
                     tn=int(np.sum(~predicted & (outcome == 0))), fn=int(np.sum(~predicted & (outcome == 1))))


def confusion_counts(y, score, cutoff: float) -> Confusion:
    """The confusion matrix of ``score`` at ``cutoff`` (positive when score >= cutoff) against 0/1 ``y``.

    Patients without a finite score or outcome are not counted (as in every function of this module).
    """
    outcome, (values,) = _outcome_and_scores(y, score)
    return _confusion(outcome, values, cutoff)


def binary_metrics(y, score, cutoff: float, ci: str = "wald", level: float = 0.95) -> pd.DataFrame:
    """ACC, SENS, SPEC, PPV and NPV at a cut-off, with confidence intervals.

    Parameters
    ----------
    y, score : array-like
    cutoff : float
        Positive when score >= cutoff.
    ci : {"wald", "wilson"}
        Wald (normal approximation; the study's Table 2) or Wilson score intervals.

    Returns
    -------
    pandas.DataFrame
        Index :data:`METRICS`; columns ``estimate``, ``low``, ``high``, ``numerator``, ``denominator``
        (the counts behind each proportion). The confusion matrix itself is :func:`confusion_counts`.
    """
    check_option("ci", ci, PROPORTION_CIS)
    outcome, (values,) = _outcome_and_scores(y, score)
    c = _confusion(outcome, values, cutoff)
    counts = {"ACC": (c.tp + c.tn, c.tp + c.tn + c.fp + c.fn), "SENS": (c.tp, c.tp + c.fn), "SPEC": (c.tn, c.tn + c.fp),
              "PPV": (c.tp, c.tp + c.fp), "NPV": (c.tn, c.tn + c.fn)}
    rows = {}
    for name, (k, total) in counts.items():
        estimate, low, high = _proportion_ci(k, total, ci, level)
        rows[name] = {"estimate": estimate, "low": low, "high": high, "numerator": k, "denominator": total}
    return pd.DataFrame(rows).T


# ---------------------------------------------------------------------------------------------
# Calibration
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalibrationStats:
    """How well predicted probabilities match outcomes.

    Attributes
    ----------
    brier : float
        Mean squared difference between probability and outcome.
    in_the_large : float
        Calibration-in-the-large: the intercept of a logistic model of the outcome with only an
        intercept and logit(prob) as offset (0 = predictions right on average; > 0 = too low).
    slope : float
        Calibration slope: the coefficient of logit(prob) in a logistic model of the outcome on it
        (1 = ideal, < 1 = predictions too extreme).
    recalibration_intercept : float
        Calibration intercept (logistic recalibration): the intercept of that same model (rms::val.prob's
        "Intercept"). It goes with the slope and is not calibration-in-the-large unless the slope is 1.
    """

    brier: float
    in_the_large: float
    slope: float
    recalibration_intercept: float

    @property
    def intercept(self) -> float:
        """Calibration-in-the-large under its older name (callers written before the two intercepts were told apart)."""
        return self.in_the_large


@dataclass(frozen=True)
class HosmerLemeshow:
    statistic: float
    df: int
    p_value: float
    table: pd.DataFrame


def _logit(prob: np.ndarray) -> np.ndarray:
    clipped = np.clip(prob, 1e-12, 1 - 1e-12)
    return np.log(clipped / (1 - clipped))


def calibration_stats(y, prob) -> CalibrationStats:
    """Brier score, calibration-in-the-large, calibration slope and the logistic recalibration's intercept.

    Calibration-in-the-large is the intercept of a logistic model of ``y`` with only an intercept and
    logit(prob) as offset (0 = predictions right on average); the slope is the coefficient of
    logit(prob) in a logistic model of ``y`` on it (1 = ideal, < 1 = predictions too extreme), and
    that model's intercept is the calibration intercept (logistic recalibration), as rms::val.prob
    reports it. See :class:`CalibrationStats`.

    Raises
    ------
    RadNomoError
        If a probability is missing (NaN) or outside [0, 1].
    """
    import statsmodels.api as sm

    _check_probabilities(prob, "calibration")
    outcome, (p,) = _outcome_and_scores(y, prob)
    logit = _logit(p)
    brier = float(np.mean((p - outcome) ** 2))
    intercept_fit = sm.GLM(outcome, np.ones((len(p), 1)), family=sm.families.Binomial(), offset=logit).fit()
    slope_fit = sm.GLM(outcome, sm.add_constant(logit), family=sm.families.Binomial()).fit()
    return CalibrationStats(brier=brier, in_the_large=float(intercept_fit.params[0]),
                            slope=float(slope_fit.params[1]), recalibration_intercept=float(slope_fit.params[0]))


def _risk_groups(p: np.ndarray, groups: int) -> np.ndarray:
    """Group index by quantiles of predicted risk (R: cut(p, quantile(p, 0:g/g), include.lowest = TRUE))."""
    breaks = np.unique(np.quantile(p, np.linspace(0, 1, groups + 1)))
    return np.clip(np.searchsorted(breaks, p, side="left") - 1, 0, len(breaks) - 2) if len(breaks) > 1 \
        else np.zeros(len(p), dtype=int)


def hosmer_lemeshow(y, prob, groups: int = 10) -> HosmerLemeshow:
    """Hosmer-Lemeshow goodness-of-fit test over groups of predicted risk (deciles by default).

    As R ResourceSelection::hoslem.test: groups by quantiles of ``prob`` (intervals closed on the
    right, the lowest included); statistic = sum over groups and both outcomes of
    (observed - expected)^2 / expected; df = number of groups - 2.

    Raises
    ------
    RadNomoError
        If a probability is missing (NaN) or outside [0, 1].
    """
    _check_probabilities(prob, "the Hosmer-Lemeshow test")
    outcome, (p,) = _outcome_and_scores(y, prob)
    group = _risk_groups(p, groups)
    frame = pd.DataFrame({"group": group, "y": outcome, "p": p})
    table = frame.groupby("group").agg(n=("y", "size"), observed=("y", "sum"), expected=("p", "sum"),
                                       mean_predicted=("p", "mean"))
    observed0 = table["n"] - table["observed"]
    expected0 = table["n"] - table["expected"]
    statistic = float((((table["observed"] - table["expected"]) ** 2) / table["expected"]).sum()
                      + (((observed0 - expected0) ** 2) / expected0).sum())
    df = len(table) - 2
    return HosmerLemeshow(statistic=statistic, df=df, p_value=float(stats.chi2.sf(statistic, df)), table=table)


def calibration_curve(y, prob, groups: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Observed vs predicted risk: by deciles of predicted risk, and a lowess-smoothed curve.

    Returns
    -------
    (binned, smooth)
        ``binned``: per group ``mean_predicted``, ``observed`` (event fraction), ``n``, ``low`` and
        ``high`` (Wilson 95 % interval of the fraction); ``smooth``: ``predicted``, ``observed``
        (lowess of y on prob, span 2/3, no robustness iterations, as rms::val.prob, whose R ``lowess`` interpolates
        between points closer than 1 % of the range of prob: same numbers as R, and O(n) local fits instead of O(n^2)).
    """
    from statsmodels.nonparametric.smoothers_lowess import lowess
    from statsmodels.stats.proportion import proportion_confint

    _check_probabilities(prob, "the calibration curve")
    outcome, (p,) = _outcome_and_scores(y, prob)
    hl = hosmer_lemeshow(outcome, p, groups)
    binned = hl.table.assign(observed_fraction=hl.table["observed"] / hl.table["n"])
    low, high = proportion_confint(binned["observed"], binned["n"], method="wilson")
    binned = pd.DataFrame({"mean_predicted": binned["mean_predicted"], "observed": binned["observed_fraction"],
                           "n": binned["n"], "low": low, "high": high}).reset_index(drop=True)
    fitted = lowess(outcome, p, frac=2 / 3, it=0, delta=0.01 * float(np.ptp(p)), return_sorted=True)
    smooth = pd.DataFrame({"predicted": fitted[:, 0], "observed": fitted[:, 1]})
    return binned, smooth


# ---------------------------------------------------------------------------------------------
# Decision curves
# ---------------------------------------------------------------------------------------------


def decision_curve(y, prob, thresholds: Sequence[float] | None = None) -> pd.DataFrame:
    """Net benefit of treating patients whose predicted risk is >= each threshold probability.

    net benefit = TP/n - FP/n * pt / (1 - pt); treat all = prevalence - (1 - prevalence) * pt / (1 - pt);
    treat none = 0 (Vickers & Elkin 2006).

    Returns
    -------
    pandas.DataFrame
        ``threshold``, ``net_benefit``, ``treat_all``, ``treat_none``.
    """
    _check_probabilities(prob, "the decision curve")
    outcome, (p,) = _outcome_and_scores(y, prob)
    pts = np.arange(0.01, 1.0, 0.01) if thresholds is None else np.asarray(thresholds, dtype=float)
    if np.any((pts <= 0) | (pts >= 1)):
        raise RadNomoError("threshold probabilities must lie strictly between 0 and 1.")
    n = len(outcome)
    prevalence = outcome.mean()
    odds = pts / (1 - pts)
    treated = p[None, :] >= pts[:, None]
    tp = (treated & (outcome[None, :] == 1)).sum(axis=1)
    fp = (treated & (outcome[None, :] == 0)).sum(axis=1)
    return pd.DataFrame({"threshold": pts, "net_benefit": tp / n - fp / n * odds,
                         "treat_all": prevalence - (1 - prevalence) * odds, "treat_none": 0.0})


# ---------------------------------------------------------------------------------------------
# Bootstrap and the study's Table 2
# ---------------------------------------------------------------------------------------------


def bootstrap_ci(y, score, statistic: Callable[[np.ndarray, np.ndarray], float], *, n_boot: int = 1000,
                 level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """Percentile bootstrap interval of any statistic(y, score), resampling within each outcome class.

    Returns (estimate on the original data, low, high).
    """
    outcome, (values,) = _outcome_and_scores(y, score)
    rng = np.random.default_rng(seed)
    positives, negatives = np.flatnonzero(outcome == 1), np.flatnonzero(outcome == 0)
    draws = np.empty(n_boot)
    for b in range(n_boot):
        rows = np.concatenate([rng.choice(positives, len(positives)), rng.choice(negatives, len(negatives))])
        draws[b] = statistic(outcome[rows], values[rows])
    alpha = (1 - level) / 2
    return float(statistic(outcome, values)), float(np.quantile(draws, alpha)), float(np.quantile(draws, 1 - alpha))


def performance_table(y, scores: Mapping[str, Sequence[float]], cutoffs: Mapping[str, float], *,
                      ci: str = "wald") -> pd.DataFrame:
    """The study's Table 2 for one cohort: per model AUC (DeLong CI) and the five metrics at its cut-off.

    Returns one row per model: ``model``, ``auc``, ``auc_low``, ``auc_high``, then ``acc``, ``acc_low``,
    ``acc_high`` ... ``npv_high``, and ``cutoff``.
    """
    rows = []
    for model, values in scores.items():
        auc = roc_auc(y, values)
        metrics = binary_metrics(y, values, cutoffs[model], ci=ci)
        row = {"model": model, "auc": auc.auc, "auc_low": auc.ci_low, "auc_high": auc.ci_high}
        for name in METRICS:
            key = name.lower()
            row[key], row[f"{key}_low"], row[f"{key}_high"] = (metrics.loc[name, c] for c in ("estimate", "low",
                                                                                               "high"))
        row["cutoff"] = cutoffs[model]
        rows.append(row)
    return pd.DataFrame(rows)


def interval_text(table: pd.DataFrame, keys: Sequence[str] = ("auc", "acc", "sens", "spec", "ppv", "npv"),
                  digits: int = 3) -> pd.DataFrame:
    """Each ``key`` of a Table 2-style frame as text 'estimate (low-high)', one upper-cased column per key."""
    def text(row: pd.Series, key: str) -> str:
        return f"{row[key]:.{digits}f} ({row[f'{key}_low']:.{digits}f}-{row[f'{key}_high']:.{digits}f})"

    return pd.DataFrame({key.upper(): [text(r, key) for _, r in table.iterrows()] for key in keys}, index=table.index)
