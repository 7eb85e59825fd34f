"""Decision analysis with its uncertainty: decision curves with bootstrap bands, the net-benefit difference
between two models, net interventions avoided, standardized net benefit and the clinical impact curve.

Conventions as in :mod:`core.stats.evaluation`: ``y`` holds 0/1 outcomes (1 = event), ``prob`` predicted
probabilities in [0, 1], a patient is treated ("high risk") when ``prob >= threshold``; thresholds default to
0.01, 0.02, ..., 0.99 as :func:`core.stats.evaluation.decision_curve`.

Uncertainty is a percentile bootstrap over the cohort's patients (:func:`bootstrap_bands`): each resample draws
n patients with replacement from the whole cohort (not within outcome classes, so the prevalence varies
between resamples as it would between cohorts), as ``rmda::decision_curve`` does with ``bootstraps``. The
bands are pointwise (one interval per threshold), not a simultaneous band for the whole curve.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.stats.evaluation import _check_probabilities, _outcome_and_scores

__all__ = ["bootstrap_bands", "decision_analysis", "net_benefit_difference", "DECISION_ANALYSIS_COLUMNS",
           "NET_BENEFIT_DIFFERENCE_COLUMNS"]

# The statistics of decision_analysis that carry a bootstrap band (each has <name>_low and <name>_high).
_BANDED = ("net_benefit", "treat_all", "interventions_avoided", "standardized_net_benefit", "high_risk_per_1000",
           "high_risk_events_per_1000")
DECISION_ANALYSIS_COLUMNS = ("threshold",) + tuple(f"{name}{suffix}" for name in _BANDED
                                                   for suffix in ("", "_low", "_high"))
NET_BENEFIT_DIFFERENCE_COLUMNS = ("threshold", "difference", "low", "high")


def _check_bootstrap_settings(n_boot: int, level: float) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise RadNomoError(f"the bootstrap needs at least 2 resamples (n_boot); got {n_boot!r}. "
                           "500 or more give stable 95 % bands.")
    if not 0 < level < 1:
        raise RadNomoError(f"the confidence level must lie strictly between 0 and 1 (e.g. 0.95); got {level!r}.")


def _resample_plan(n: int, strata) -> list[np.ndarray]:
    """The patients' row numbers grouped by stratum (one group of all patients when ``strata`` is None)."""
    if strata is None:
        return [np.arange(n)]
    labels = np.asarray(strata)
    if labels.ndim != 1 or len(labels) != n:
        raise RadNomoError(f"strata must hold one label per patient ({n}); got shape {labels.shape}.")
    if pd.isna(labels).any():
        raise RadNomoError(f"strata has {int(pd.isna(labels).sum())} missing labels; give every patient a "
                           "stratum (or resample without strata).")
    # np.unique sorts the labels, so the strata are always drawn in the same order for a given seed.
    _, codes = np.unique(labels, return_inverse=True)
    return [np.flatnonzero(codes == k) for k in range(codes.max() + 1)]


def bootstrap_bands(statistic: Callable[[np.ndarray], np.ndarray], n: int, *, n_boot: int = 500, seed: int = 0,
                    level: float = 0.95, strata=None) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise percentile bootstrap band of a vector statistic (e.g. net benefit at each threshold).

    Parameters
    ----------
    statistic
        ``statistic(rows) -> 1-d array``: the statistic computed on the patients ``rows`` (integer row numbers
        0..n-1, drawn with replacement, length n; a patient may appear several times). It must return a vector
        of the same length for every resample; NaN where it is undefined on that resample (e.g. no event).
    n
        Number of patients.
    n_boot, seed, level
        Number of resamples, the seed of the one ``numpy.random.Generator`` that draws them (in order, resample
        after resample, stratum after stratum) and the two-sided level of the band.
    strata
        Optional length-n labels: each resample then draws, within each stratum, as many patients as it has
        (strata in sorted label order), so every resample keeps the strata's sizes (e.g. the outcome classes).

    Returns
    -------
    (low, high)
        Two arrays as long as the statistic: the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the
        resampled statistic at each position (numpy's default linear interpolation, R's ``quantile`` type 7).
        A resample that gives NaN at a position is left out of that position's quantiles; a position that is NaN
        in every resample gets NaN bounds.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise RadNomoError(f"the bootstrap needs at least one patient (n); got {n!r}.")
    _check_bootstrap_settings(n_boot, level)
    groups = _resample_plan(int(n), strata)
    rng = np.random.default_rng(seed)
    draws: np.ndarray | None = None
    for b in range(n_boot):
        rows = np.concatenate([group[rng.integers(0, len(group), len(group))] for group in groups])
        value = np.asarray(statistic(rows), dtype=float)
        if value.ndim != 1:
            raise RadNomoError(f"the bootstrapped statistic must return a 1-d vector; got shape {value.shape}.")
        if draws is None:
            draws = np.empty((n_boot, len(value)))
        elif len(value) != draws.shape[1]:
            raise RadNomoError(f"the bootstrapped statistic returned {len(value)} values on resample {b + 1} but "
                               f"{draws.shape[1]} on the first; it must return as many on every resample.")
        draws[b] = value
    assert draws is not None  # n_boot >= 2
    alpha = (1 - level) / 2
    with warnings.catch_warnings():
        # A position that is NaN in every resample has no quantile: NaN bounds, as documented.
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanquantile(draws, [alpha, 1 - alpha], axis=0)
    return low, high


def checked_cohort(y, *probs: object, what: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Validated 0/1 outcomes and probabilities of one cohort (``what``: the analysis, in messages); refuses
    missing values rather than dropping them (the decision analysis and the reclassification indexes)."""
    outcome = np.asarray(y, dtype=float)
    if outcome.ndim != 1:
        raise RadNomoError(f"{what} needs one outcome per patient (a 1-d column); got shape {outcome.shape}.")
    missing = int(np.isnan(outcome).sum())
    if missing:
        raise RadNomoError(f"{what} needs the outcome of every patient; {missing} of {len(outcome)} are missing "
                           "(NaN). Drop those patients explicitly before the analysis.")
    for prob in probs:
        _check_probabilities(prob, what)
    return _outcome_and_scores(outcome, *probs)


def _thresholds(thresholds: Sequence[float] | None) -> np.ndarray:
    """Threshold probabilities (default 0.01..0.99 by 0.01, as ``decision_curve``), each strictly in (0, 1)."""
    if thresholds is None:
        return np.arange(0.01, 1.0, 0.01)
    pts = np.asarray(thresholds, dtype=float).ravel()
    if len(pts) == 0:
        raise RadNomoError("give at least one threshold probability for the decision curve.")
    if not np.all(np.isfinite(pts)) or np.any((pts <= 0) | (pts >= 1)):
        raise RadNomoError("threshold probabilities must lie strictly between 0 and 1 (e.g. 0.01 to 0.99).")
    return pts


class _TreatedCounts:
    """Counts of treated patients (``prob >= threshold``) and of treated events at every threshold, for any
    weighting of the patients, in O(n + thresholds) per call.

    A bootstrap resample is a weighting: patient i counts as often as it was drawn. Each patient is treated at
    the thresholds <= its probability, i.e. at the first ``k_i`` thresholds in ascending order, so the count
    of treated patients at the j-th smallest threshold is the sum of the weights with ``k_i > j``: a reversed
    cumulative sum of ``np.bincount(k, weights)``, with no loop over thresholds.
    """

    def __init__(self, outcome: np.ndarray, prob: np.ndarray, thresholds: np.ndarray) -> None:
        self.outcome = outcome.astype(float)
        self.order = np.argsort(thresholds, kind="stable")
        self.unsort = np.argsort(self.order, kind="stable")
        # searchsorted(side="right") = number of thresholds <= p, the same comparison as prob >= threshold.
        self.k = np.searchsorted(thresholds[self.order], prob, side="right")
        self.size = len(thresholds)

    def _above(self, weights: np.ndarray) -> np.ndarray:
        per_k = np.bincount(self.k, weights=weights, minlength=self.size + 1)
        treated_sorted = np.cumsum(per_k[::-1])[::-1][1:]  # sum over k > j for j = 0..size-1
        return treated_sorted[self.unsort]

    def counts(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
        """(treated, treated events) at each threshold in the caller's order, total weight, total event weight."""
        return (self._above(weights), self._above(weights * self.outcome), float(weights.sum()),
                float((weights * self.outcome).sum()))


def _net_benefit(counts: _TreatedCounts, weights: np.ndarray, odds: np.ndarray) -> np.ndarray:
    treated, true_positive, n, _ = counts.counts(weights)
    return true_positive / n - (treated - true_positive) / n * odds


def decision_analysis(y, prob, thresholds: Sequence[float] | None = None, *, n_boot: int = 500, seed: int = 0,
                      level: float = 0.95, per: int = 100) -> pd.DataFrame:
    """Decision curve of one model on one cohort with pointwise bootstrap bands, the net interventions avoided,
    the standardized net benefit and the clinical impact curve.

    Parameters
    ----------
    y, prob
        0/1 outcomes and the model's predicted probabilities (0..1) for the same patients; none may be missing.
    thresholds
        Threshold probabilities pt, each in (0, 1); default 0.01, 0.02, ..., 0.99.
    n_boot, seed, level
        Bootstrap resamples, seed and level of the bands (:func:`bootstrap_bands`). The cohort's patients are
        resampled with replacement as a whole (not within outcome classes), as ``rmda::decision_curve`` does for
        a cohort design; the model's predictions are held fixed (rmda's ``fitted.risk = TRUE``), so the bands
        show the sampling uncertainty of this cohort, not that of fitting the model.
    per
        Net interventions avoided are given per ``per`` patients (100 by convention).

    Returns
    -------
    pandas.DataFrame
        One row per threshold, columns :data:`DECISION_ANALYSIS_COLUMNS`: ``threshold``;
        ``net_benefit`` = TP/n - FP/n * pt/(1-pt) (Vickers & Elkin 2006); ``treat_all`` =
        prevalence - (1 - prevalence) * pt/(1-pt); ``interventions_avoided`` = (net_benefit - treat_all) /
        (pt/(1-pt)) * per, the net reduction in interventions per ``per`` patients at no loss of detected events
        (Vickers et al. 2006; 0 where the model treats everyone); ``standardized_net_benefit`` = net_benefit /
        prevalence (Kerr et al. 2016; 1 is a perfect model); ``high_risk_per_1000`` and
        ``high_risk_events_per_1000``: of 1,000 patients, how many the model calls high risk (prob >= pt) and how
        many of those have the event (the clinical impact curve as ``rmda::plot_clinical_impact`` draws it). Each
        with ``_low`` and ``_high``, the bootstrap band. Net benefits are in units of true positives per patient.
    """
    outcome, (p,) = checked_cohort(y, prob, what="the decision analysis")
    _check_bootstrap_settings(n_boot, level)
    if not per > 0:
        raise RadNomoError("interventions avoided are given per a positive number of patients (e.g. 100); "
                           f"got {per!r}.")
    pts = _thresholds(thresholds)
    odds = pts / (1 - pts)
    counts = _TreatedCounts(outcome, p, pts)

    def statistics(weights: np.ndarray) -> np.ndarray:
        treated, true_positive, n, events = counts.counts(weights)
        prevalence = events / n
        net_benefit = true_positive / n - (treated - true_positive) / n * odds
        treat_all = prevalence - (1 - prevalence) * odds
        with np.errstate(divide="ignore", invalid="ignore"):
            # A resample without an event has no standardized net benefit: NaN, left out of its band.
            standardized = net_benefit / prevalence if prevalence > 0 else np.full(len(pts), np.nan)
        return np.concatenate([net_benefit, treat_all, (net_benefit - treat_all) / odds * per, standardized,
                               treated / n * 1000, true_positive / n * 1000])

    n = len(outcome)
    estimate = statistics(np.ones(n))
    low, high = bootstrap_bands(lambda rows: statistics(np.bincount(rows, minlength=n).astype(float)), n,
                                n_boot=n_boot, seed=seed, level=level)
    table = {"threshold": pts}
    size = len(pts)
    for i, name in enumerate(_BANDED):
        part = slice(i * size, (i + 1) * size)
        table[name], table[f"{name}_low"], table[f"{name}_high"] = estimate[part], low[part], high[part]
    return pd.DataFrame(table, columns=list(DECISION_ANALYSIS_COLUMNS))


def net_benefit_difference(y, prob_a, prob_b, thresholds: Sequence[float] | None = None, *, n_boot: int = 500,
                           seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Difference in net benefit between two models on the same patients, with a paired bootstrap band.

    Parameters
    ----------
    y, prob_a, prob_b
        0/1 outcomes and the two models' predicted probabilities (0..1) for the same patients, none missing.
    thresholds, n_boot, seed, level
        As :func:`decision_analysis`; each resample of the patients (whole cohort, with replacement) scores both
        models on the same drawn patients (paired), so the band reflects the correlation between the models.

    Returns
    -------
    pandas.DataFrame
        ``threshold``, ``difference`` = net benefit of model a - net benefit of model b (true positives per
        patient), ``low`` and ``high``: its pointwise percentile bootstrap interval. An interval that excludes 0
        favours one model at that threshold only; the curve as a whole is not a single test.
    """
    outcome, (pa, pb) = checked_cohort(y, prob_a, prob_b, what="the net-benefit difference")
    _check_bootstrap_settings(n_boot, level)
    pts = _thresholds(thresholds)
    odds = pts / (1 - pts)
    counts_a, counts_b = _TreatedCounts(outcome, pa, pts), _TreatedCounts(outcome, pb, pts)

    def difference(weights: np.ndarray) -> np.ndarray:
        return _net_benefit(counts_a, weights, odds) - _net_benefit(counts_b, weights, odds)

    n = len(outcome)
    low, high = bootstrap_bands(lambda rows: difference(np.bincount(rows, minlength=n).astype(float)), n,
                                n_boot=n_boot, seed=seed, level=level)
    return pd.DataFrame({"threshold": pts, "difference": difference(np.ones(n)), "low": low, "high": high},
                        columns=list(NET_BENEFIT_DIFFERENCE_COLUMNS))
