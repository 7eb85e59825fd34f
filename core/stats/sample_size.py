"""The minimum sample size for developing a prediction model (Riley et al.), as the R package pmsampsize computes it.

Riley RD, Snell KIE, Ensor J, et al. Minimum sample size for developing a multivariable prediction model: Part II -
binary and time-to-event outcomes. Stat Med 2019;38:1276-96 (criteria 1-3 below, with the corrected equation 13).
Riley RD, Ensor J, Snell KIE, et al. Calculating the sample size required for developing a clinical prediction model.
BMJ 2020;368:m441 (the four steps for a binary outcome: precise overall risk, small mean absolute prediction error
(MAPE), small overfitting, small optimism in the apparent R^2).
Riley RD, Van Calster B, Collins GS. A note on estimating the Cox-Snell R^2 from a reported C statistic (AUROC) to
inform sample size calculations for developing a prediction model with a binary outcome. Stat Med 2021;40:859-64.
Ensor J, Martin EC, Riley RD. pmsampsize: sample size for development of a prediction model, R package 1.1.x.

The criteria, numbered as pmsampsize numbers them (criterion 4 is the BMJ paper's step (ii), which pmsampsize leaves
to van Smeden et al.'s formula):

1. small overfitting: the expected uniform shrinkage of predictor effects S >= ``shrinkage`` (0.9: at most 10 %):
   n = p / ((S - 1) ln(1 - R2_CS / S)) (Riley et al. 2019, eq. 11);
2. small optimism: apparent and adjusted Nagelkerke R^2 differ by at most ``r2_difference`` (0.05): criterion 1 at
   the shrinkage S = R2_CS / (R2_CS + delta max(R2_CS)) (eq. 23);
3. precise overall risk: binary, the outcome proportion within +/- ``margin`` (0.05):
   n = (1.96 / margin)^2 phi (1 - phi);
   time to event, the cumulative incidence at ``timepoint`` within +/- ``margin`` (a Poisson interval of the rate);
4. (binary) small mean absolute prediction error: van Smeden et al. (Stat Methods Med Res 2019;28:2455-74),
   ln(MAPE) = -0.508 + 0.259 ln(phi) + 0.504 ln(p) - 0.544 ln(n), solved for n at the target ``mape`` (0.05).

The anticipated Cox-Snell R^2 is given, or comes from an anticipated C-statistic (binary outcome: the large-sample
limit of Riley et al.'s 2021 simulation, computed here by numerical integration; see :func:`cstatistic_to_rsquared`),
or, when neither is known, is Riley's conservative default: 15 % of its maximum (a Nagelkerke R^2 of 0.15).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import integrate, optimize, special, stats

from core.errors import RadNomoError

__all__ = ["SampleSizeCriterion", "SampleSizeResult", "binary_sample_size", "survival_sample_size",
           "cstatistic_to_rsquared", "max_rsquared_binary", "max_rsquared_survival", "expected_shrinkage",
           "SAMPLE_SIZE_CRITERIA", "SAMPLE_SIZE_COLUMNS", "CONSERVATIVE_NAGELKERKE", "FINAL"]

#: What each criterion ensures, in words (criterion number -> text), for tables, pages and the report.
SAMPLE_SIZE_CRITERIA = {
    1: "small overfitting: predictor effects shrunk by at most {shrinkage_pct} (expected shrinkage >= {shrinkage})",
    2: "small optimism: apparent and adjusted Nagelkerke R\u00b2 differ by at most {r2_difference}",
    3: "precise overall risk: {risk} estimated within \u00b1{margin}",
    4: "small mean absolute prediction error (MAPE <= {mape}, van Smeden et al. 2019)",
}
#: The columns of :meth:`SampleSizeResult.table`.
SAMPLE_SIZE_COLUMNS = ("criterion", "ensures", "n", "events", "epp", "shrinkage", "assumption")
#: The label of the table's last row: the largest n over the criteria.
FINAL = "final"
#: Riley et al.'s conservative default when no R^2 or C-statistic is known: R2_CS at 15 % of its maximum.
CONSERVATIVE_NAGELKERKE = 0.15
# pmsampsize writes the normal quantile as 1.96 (not qnorm(0.975)): kept so that its numbers are reproduced.
Z = 1.96
# pmsampsize's survival maximum R^2 is computed for a nominal study of this many patients (R/pmsampsize_surv.R).
_SURVIVAL_NOMINAL_N = 10000


@dataclass(frozen=True)
class SampleSizeCriterion:
    """One criterion's requirement.

    Attributes
    ----------
    number : int
        1-4, as in :data:`SAMPLE_SIZE_CRITERIA`.
    ensures : str
        What meeting it ensures, in words.
    n : int
        The patients it requires.
    events : float
        The events expected among them: n x the outcome proportion (binary) or n x rate x mean follow-up (time to
        event); not rounded (pmsampsize prints it rounded up).
    epp : float
        Events per candidate predictor parameter (``events / parameters``).
    shrinkage : float
        The uniform shrinkage of predictor effects expected at ``n`` (:func:`expected_shrinkage`).
    assumption : str
        What the requirement rests on, in words.
    """

    number: int
    ensures: str
    n: int
    events: float
    epp: float
    shrinkage: float
    assumption: str


@dataclass(frozen=True)
class SampleSizeResult:
    """Riley's minimum sample size for developing a prediction model: one requirement per criterion and the largest.

    Attributes
    ----------
    outcome : str
        "binary" or "survival" (a key of :data:`core.vocabulary.OUTCOME_KINDS`).
    parameters : int
        Candidate predictor parameters (a categorical predictor counts its levels - 1).
    rsquared : float
        The anticipated Cox-Snell R^2 the criteria use.
    max_rsquared : float
        Its largest possible value for this outcome proportion (rate), as pmsampsize computes it.
    rsquared_source : str
        Where ``rsquared`` came from, in words (given; from a C-statistic; Riley's conservative default).
    criteria : tuple of SampleSizeCriterion
        In criterion order.
    inputs : mapping
        The inputs as given (prevalence or rate, timepoint and mean follow-up, shrinkage, margins, C-statistic).
    events_per_patient : float
        The outcome proportion (binary), or rate x mean follow-up (time to event): events = n x this.
    notes : tuple of str
        Caveats in words (e.g. the survival interval at the final n).
    """

    outcome: str
    parameters: int
    rsquared: float
    max_rsquared: float
    rsquared_source: str
    criteria: tuple[SampleSizeCriterion, ...]
    inputs: Mapping[str, Any] = field(default_factory=dict)
    events_per_patient: float = float("nan")
    notes: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        """The minimum sample size: the largest requirement over the criteria."""
        return max(c.n for c in self.criteria)

    @property
    def binding(self) -> SampleSizeCriterion:
        """The criterion that sets :attr:`n` (the first one when several require the same n)."""
        return next(c for c in self.criteria if c.n == self.n)

    @property
    def events(self) -> float:
        """Events expected at :attr:`n` (not rounded)."""
        return self.n * self.events_per_patient

    @property
    def epp(self) -> float:
        """Events per candidate parameter at :attr:`n`."""
        return self.events / self.parameters

    @property
    def nagelkerke(self) -> float:
        """The anticipated Nagelkerke R^2: ``rsquared / max_rsquared``."""
        return self.rsquared / self.max_rsquared

    @property
    def shrinkage(self) -> float:
        """The shrinkage expected at :attr:`n`."""
        return expected_shrinkage(self.n, self.parameters, self.rsquared)

    def table(self) -> pd.DataFrame:
        """One row per criterion and a "final" row (the largest n), columns :data:`SAMPLE_SIZE_COLUMNS`.

        ``criterion`` is text ("1".."4", :data:`FINAL`); ``n`` patients (int); ``events`` expected events at n (not
        rounded); ``epp`` events per candidate parameter; ``shrinkage`` expected at n; ``assumption`` in words.
        """
        rows = [{"criterion": str(c.number), "ensures": c.ensures, "n": c.n, "events": c.events, "epp": c.epp,
                 "shrinkage": c.shrinkage, "assumption": c.assumption} for c in self.criteria]
        rows.append({"criterion": FINAL, "ensures": f"all of the above (criterion {self.binding.number} sets it)",
                     "n": self.n, "events": self.events, "epp": self.epp, "shrinkage": self.shrinkage,
                     "assumption": f"Cox-Snell R\u00b2 {self.rsquared:.4f} ({self.rsquared_source}); max "
                                   f"{self.max_rsquared:.4f}; {self.parameters} candidate parameters"})
        table = pd.DataFrame(rows, columns=list(SAMPLE_SIZE_COLUMNS))
        return table.astype({"n": int, "events": float, "epp": float, "shrinkage": float})


# -- the pieces ------------------------------------------------------------------------------------------------


def max_rsquared_binary(prevalence: float) -> float:
    """The largest Cox-Snell R^2 a model of a binary outcome with this proportion can reach:
    1 - exp(2 lnL_null / n) with lnL_null / n = phi ln(phi) + (1 - phi) ln(1 - phi) (Riley et al. 2019, eq. 23)."""
    phi = float(prevalence)
    return 1.0 - math.exp(2.0 * (phi * math.log(phi) + (1.0 - phi) * math.log(1.0 - phi)))


def max_rsquared_survival(rate: float, meanfup: float) -> float:
    """The largest Cox-Snell R^2 of a time-to-event model, as pmsampsize computes it: an exponential null model's
    log-likelihood lnL_null = E ln(E / n) - E for a nominal n = 10,000 patients and E = ceiling(rate x meanfup x n)
    events (time in units of the mean follow-up, pmsampsize >= 1.0.2)."""
    n = _SURVIVAL_NOMINAL_N
    events = math.ceil(rate * meanfup * n)
    return 1.0 - math.exp(2.0 * (events * math.log(events / n) - events) / n)


def _shrinkage_n(parameters: int, rsquared: float, shrinkage: float) -> int:
    """Riley et al. 2019 eq. 11: the patients at which the expected shrinkage is ``shrinkage`` (rounded up)."""
    return math.ceil(parameters / ((shrinkage - 1.0) * math.log(1.0 - rsquared / shrinkage)))


def expected_shrinkage(n: int, parameters: int, rsquared: float) -> float:
    """The uniform shrinkage of predictor effects expected for a model of ``parameters`` candidate parameters fitted
    on ``n`` patients with Cox-Snell R^2 ``rsquared``: the S in (R^2, 1) with n = p / ((S - 1) ln(1 - R^2 / S))
    (Riley et al. 2019, eq. 11 read the other way; van Houwelingen's heuristic). 1 = no overfitting."""
    def gap(s: float) -> float:
        return n * (s - 1.0) * math.log(1.0 - rsquared / s) - parameters

    low, high = rsquared * (1 + 1e-12) + 1e-300, 1.0 - 1e-15
    if gap(high) >= 0:  # an enormous n: no shrinkage to machine precision
        return 1.0
    if gap(low) <= 0:  # so few patients for so many parameters that the heuristic bottoms out at S = R^2
        return float(rsquared)
    return float(optimize.brentq(gap, low, high, xtol=1e-14, rtol=1e-14))


def cstatistic_to_rsquared(cstatistic: float, prevalence: float) -> float:
    """The Cox-Snell R^2 of a logistic model with C-statistic ``cstatistic`` for an outcome of proportion
    ``prevalence`` (Riley, Van Calster and Collins, Stat Med 2021).

    Their method simulates one million patients whose linear predictor is N(0, 1) without the event and N(mu, 1)
    with it, mu = sqrt(2) Phi^-1(C) (so that the C-statistic is C), fits the logistic calibration model and takes
    its likelihood-ratio R^2 (pmsampsize ``cstat2rsq``, seed 123456). With two normals of equal variance that model
    is exactly the true one, so as n grows its R^2 tends to 1 - exp(-2 I), I the mutual information (nats) between
    the outcome and the linear predictor; that limit is computed here by adaptive quadrature, deterministically.
    pmsampsize's simulated value differs from it by Monte-Carlo error of order 1e-3 (tests/reference/sample_size.R).

    Returns
    -------
    float
        R2_CS in (0, max): :func:`max_rsquared_binary` bounds it.
    """
    c, phi = float(cstatistic), float(prevalence)
    mu = math.sqrt(2.0) * stats.norm.ppf(c)
    # The label coding does not matter (the R^2 is symmetric in phi <-> 1 - phi and mu <-> -mu).
    log_w = np.log([1.0 - phi, phi])

    def integrand(x: float) -> float:
        log_f = np.array([stats.norm.logpdf(x), stats.norm.logpdf(x, loc=mu)]) + log_w
        log_mix = special.logsumexp(log_f)
        return float(np.sum(np.exp(log_f) * (log_f - log_mix)))

    # E[log P(y | x)] over the mixture; the bulk of both normals lies in [-12, mu + 12].
    expected, _ = integrate.quad(integrand, -12.0, mu + 12.0, points=[0.0, mu], limit=400, epsabs=1e-13,
                                 epsrel=1e-12)
    entropy = -(phi * math.log(phi) + (1.0 - phi) * math.log(1.0 - phi))
    information = expected + entropy
    return float(-math.expm1(-2.0 * information))


def _check_common(parameters: int, shrinkage: float, r2_difference: float, margin: float) -> int:
    if isinstance(parameters, bool) or not float(parameters).is_integer() or int(parameters) < 1:
        raise RadNomoError(f"the candidate predictor parameters must be a whole number >= 1; got {parameters!r} "
                           "(count a categorical predictor's levels - 1, and one per score).")
    for what, value, high in (("the target shrinkage", shrinkage, 1.0), ("the R\u00b2 difference", r2_difference, 1.0),
                              ("the margin of error", margin, 0.5)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < high:
            raise RadNomoError(f"{what} must be a number in (0, {high:g}); got {value!r}.")
    return int(parameters)


def _anticipated_rsquared(rsquared: float | None, cstatistic: float | None, max_r2: float, shrinkage: float,
                          prevalence: float | None) -> tuple[float, str]:
    """The Cox-Snell R^2 to use and where it came from (see :func:`binary_sample_size`)."""
    if rsquared is not None and cstatistic is not None:
        raise RadNomoError("give the anticipated Cox-Snell R\u00b2 or the anticipated C-statistic, not both.")
    if cstatistic is not None:
        if prevalence is None:
            raise RadNomoError("a C-statistic converts to a Cox-Snell R\u00b2 for a binary outcome only (Riley et "
                               "al. 2021); for a time-to-event outcome give the anticipated Cox-Snell R\u00b2, or "
                               "leave it empty for the conservative default (15 % of its maximum).")
        if not isinstance(cstatistic, (int, float)) or isinstance(cstatistic, bool) or not 0.5 < cstatistic < 1:
            raise RadNomoError(f"the anticipated C-statistic must be a number in (0.5, 1); got {cstatistic!r} "
                               "(0.5 is a model that discriminates no better than chance).")
        value, source = cstatistic_to_rsquared(cstatistic, prevalence), f"from a C-statistic of {cstatistic:g}"
    elif rsquared is not None:
        if not isinstance(rsquared, (int, float)) or isinstance(rsquared, bool) or not 0 < rsquared < max_r2:
            raise RadNomoError(f"the anticipated Cox-Snell R\u00b2 must be a number in (0, {max_r2:.4f}), its largest "
                               f"possible value for this outcome; got {rsquared!r}.")
        value, source = float(rsquared), "given"
    else:
        value = CONSERVATIVE_NAGELKERKE * max_r2
        source = f"Riley et al.'s conservative default, {CONSERVATIVE_NAGELKERKE:.0%} of its maximum"
    if shrinkage <= value:
        raise RadNomoError(f"the target shrinkage {shrinkage:g} must exceed the anticipated Cox-Snell R\u00b2 "
                           f"({value:.4f}); shrinkage 0.9 (predictor effects shrunk by at most 10 %) is the usual "
                           "target.")
    return value, source


def _ensures(number: int, **values: Any) -> str:
    return SAMPLE_SIZE_CRITERIA[number].format(**values)


def _first_two(parameters: int, rsquared: float, max_r2: float, shrinkage: float, r2_difference: float,
               per_patient: float) -> list[SampleSizeCriterion]:
    """Criteria 1 and 2, shared by both outcomes."""
    n1 = _shrinkage_n(parameters, rsquared, shrinkage)
    s2 = rsquared / (rsquared + r2_difference * max_r2)
    n2 = _shrinkage_n(parameters, rsquared, s2)
    return [SampleSizeCriterion(1, _ensures(1, shrinkage_pct=f"{1 - shrinkage:.0%}", shrinkage=f"{shrinkage:g}"),
                                n1, n1 * per_patient, n1 * per_patient / parameters,
                                expected_shrinkage(n1, parameters, rsquared),
                                f"Riley et al. 2019 eq. 11 with shrinkage {shrinkage:g}"),
            SampleSizeCriterion(2, _ensures(2, r2_difference=f"{r2_difference:g}"), n2, n2 * per_patient,
                                n2 * per_patient / parameters, expected_shrinkage(n2, parameters, rsquared),
                                f"needs expected shrinkage {s2:.3f} (R\u00b2 / (R\u00b2 + {r2_difference:g} x "
                                "max R\u00b2))")]


# -- binary outcome --------------------------------------------------------------------------------------------


def binary_sample_size(prevalence: float, parameters: int, *, cstatistic: float | None = None,
                       rsquared: float | None = None, shrinkage: float = 0.9, r2_difference: float = 0.05,
                       margin: float = 0.05, mape: float | None = 0.05) -> SampleSizeResult:
    """Riley's minimum sample size for developing a model of a binary outcome (pmsampsize ``type = "b"`` plus the
    BMJ 2020 MAPE criterion).

    Parameters
    ----------
    prevalence : float
        The anticipated outcome proportion in the development data, in (0, 1).
    parameters : int
        Candidate predictor parameters (all considered, not only those kept; a categorical predictor counts its
        levels - 1).
    cstatistic, rsquared : float, optional
        The anticipated C-statistic (converted by :func:`cstatistic_to_rsquared`) or Cox-Snell R^2 (ideally an
        optimism-adjusted value from a previous model); at most one. Neither: Riley's conservative default, R2_CS =
        15 % of its maximum (:data:`CONSERVATIVE_NAGELKERKE`).
    shrinkage : float
        Criterion 1's target expected shrinkage (0.9: predictor effects shrunk by at most 10 %).
    r2_difference : float
        Criterion 2's largest acceptable difference between apparent and adjusted Nagelkerke R^2 (0.05).
    margin : float
        Criterion 3's absolute margin of error of the overall outcome proportion (0.05; 1.96 x SE).
    mape : float or None
        Criterion 4's target mean absolute prediction error (0.05); None leaves the criterion out, which gives
        pmsampsize's own result (its final n is the largest of criteria 1-3).

    Returns
    -------
    SampleSizeResult
        Events at n are n x ``prevalence``.

    Raises
    ------
    RadNomoError
        For a proportion, count, R^2, C-statistic, shrinkage or margin out of range, both R^2 and C given, or a target
        shrinkage below the R^2.
    """
    if not isinstance(prevalence, (int, float)) or isinstance(prevalence, bool) or not 0 < prevalence < 1:
        raise RadNomoError(f"the anticipated outcome proportion must be a number in (0, 1); got {prevalence!r}.")
    parameters = _check_common(parameters, shrinkage, r2_difference, margin)
    phi = float(prevalence)
    max_r2 = max_rsquared_binary(phi)
    r2, source = _anticipated_rsquared(rsquared, cstatistic, max_r2, shrinkage, phi)
    criteria = _first_two(parameters, r2, max_r2, shrinkage, r2_difference, phi)
    n3 = math.ceil((Z / margin) ** 2 * phi * (1.0 - phi))
    criteria.append(SampleSizeCriterion(3, _ensures(3, risk="the outcome proportion", margin=f"{margin:g}"), n3,
                                        n3 * phi, n3 * phi / parameters, expected_shrinkage(n3, parameters, r2),
                                        f"(1.96 / {margin:g})\u00b2 x {phi:.4g} x (1 - {phi:.4g})"))
    if mape is not None:
        if not isinstance(mape, (int, float)) or isinstance(mape, bool) or not 0 < mape < 0.5:
            raise RadNomoError(f"the target mean absolute prediction error must be a number in (0, 0.5); got {mape!r}.")
        n4 = math.ceil(math.exp((-0.508 + 0.259 * math.log(phi) + 0.504 * math.log(parameters) - math.log(mape))
                                / 0.544))
        criteria.append(SampleSizeCriterion(4, _ensures(4, mape=f"{mape:g}"), n4, n4 * phi, n4 * phi / parameters,
                                            expected_shrinkage(n4, parameters, r2),
                                            "ln(MAPE) = -0.508 + 0.259 ln(proportion) + 0.504 ln(parameters) "
                                            "- 0.544 ln(n), van Smeden et al.'s simulation-based approximation"))
    inputs = {"prevalence": phi, "parameters": parameters, "cstatistic": cstatistic, "rsquared": rsquared,
              "shrinkage": shrinkage, "r2_difference": r2_difference, "margin": margin, "mape": mape}
    return SampleSizeResult(outcome="binary", parameters=parameters, rsquared=r2, max_rsquared=max_r2,
                            rsquared_source=source, criteria=tuple(criteria), inputs=inputs, events_per_patient=phi)


# -- time-to-event outcome -------------------------------------------------------------------------------------


def _risk_interval(rate: float, timepoint: float, person_time: float) -> tuple[float, float, float]:
    """The cumulative incidence 1 - exp(-rate t) at ``timepoint`` and its 95 % interval from the rate's Poisson
    standard error sqrt(rate / person-time) (pmsampsize: person-time = mean follow-up x n, rounded to 0.1)."""
    se = math.sqrt(rate / person_time)
    risk = -math.expm1(-rate * timepoint)
    return risk, -math.expm1(-(rate - Z * se) * timepoint), -math.expm1(-(rate + Z * se) * timepoint)


def _risk_half_width(rate: float, timepoint: float, meanfup: float, n: int) -> float:
    """How far the upper 95 % limit of the cumulative incidence lies above it at ``n`` patients (pmsampsize's
    ``uci - cuminc``)."""
    risk, _, high = _risk_interval(rate, timepoint, round(meanfup * n, 1))
    return high - risk


def survival_sample_size(parameters: int, rate: float, timepoint: float, meanfup: float, *,
                         rsquared: float | None = None, cstatistic: float | None = None, shrinkage: float = 0.9,
                         r2_difference: float = 0.05, margin: float = 0.05, unit: str = "") -> SampleSizeResult:
    """Riley's minimum sample size for developing a model of a time-to-event outcome (pmsampsize ``type = "s"``).

    Parameters
    ----------
    parameters : int
        Candidate predictor parameters.
    rate : float
        The anticipated overall event rate (events per unit of time: per patient-month when times are in months).
    timepoint : float
        The horizon of interest for prediction (criterion 3's cumulative incidence), in the same time unit.
    meanfup : float
        The anticipated mean follow-up, in the same time unit.
    rsquared : float, optional
        The anticipated Cox-Snell R^2; None: Riley's conservative default (15 % of its maximum).
    cstatistic : float, optional
        Not converted for a time-to-event outcome (pmsampsize has no conversion): refused with what to give instead.
    shrinkage, r2_difference, margin : float
        As in :func:`binary_sample_size`; ``margin`` bounds the cumulative incidence at ``timepoint``.
    unit : str
        The time unit, for the words only (e.g. "months").

    Returns
    -------
    SampleSizeResult
        Events at n are n x rate x meanfup. Criterion 3 is pmsampsize's: the larger of criteria 1 and 2, with the
        95 % interval of the cumulative incidence at that n checked against ``margin``; where pmsampsize only
        reports an interval wider than the margin, n is raised here until it fits (Riley et al. 2019, section 5.3),
        and a note says so.

    Raises
    ------
    RadNomoError
        For a value out of range or a C-statistic.
    """
    parameters = _check_common(parameters, shrinkage, r2_difference, margin)
    for what, value in (("the overall event rate", rate), ("the timepoint", timepoint),
                        ("the mean follow-up", meanfup)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not (math.isfinite(value) and value > 0):
            raise RadNomoError(f"{what} must be a number > 0; got {value!r}.")
    if rate * meanfup >= 1:
        raise RadNomoError(f"an event rate of {rate:g} over a mean follow-up of {meanfup:g} gives {rate * meanfup:.2f} "
                           "events per patient; with one event per patient at most, rate x mean follow-up must be < 1 "
                           "(check that both use the same time unit).")
    max_r2 = max_rsquared_survival(rate, meanfup)
    r2, source = _anticipated_rsquared(rsquared, cstatistic, max_r2, shrinkage, None)
    per_patient = rate * meanfup
    criteria = _first_two(parameters, r2, max_r2, shrinkage, r2_difference, per_patient)
    n3 = max(c.n for c in criteria)
    notes = []
    at = f"{timepoint:g} {unit}".strip()
    risk, low, high = _risk_interval(rate, timepoint, round(meanfup * n3, 1))
    if high - risk > margin:
        # The interval narrows as n grows: double n until it fits, then bisect to the smallest n that does.
        wider = low_n = n3
        high_n = 2 * n3
        while _risk_half_width(rate, timepoint, meanfup, high_n) > margin:
            low_n, high_n = high_n, 2 * high_n
        while high_n - low_n > 1:
            middle = (low_n + high_n) // 2
            low_n, high_n = (low_n, middle) if _risk_half_width(rate, timepoint, meanfup, middle) <= margin \
                else (middle, high_n)
        n3 = high_n
        risk, low, high = _risk_interval(rate, timepoint, round(meanfup * n3, 1))
        notes.append(f"At {wider} patients the 95 % interval of the risk at {at} was wider than \u00b1{margin:g}"
                     f"; criterion 3 raises n to {n3} (pmsampsize reports the interval only).")
    criteria.append(SampleSizeCriterion(
        3, _ensures(3, risk=f"the cumulative incidence at {at}", margin=f"{margin:g}"), n3,
        n3 * per_patient, n3 * per_patient / parameters, expected_shrinkage(n3, parameters, r2),
        f"risk {risk:.3f} (95 % CI {low:.3f}-{high:.3f}) at n = {n3}, rate {rate:g}, mean follow-up {meanfup:g}"))
    inputs = {"rate": rate, "timepoint": timepoint, "meanfup": meanfup, "parameters": parameters,
              "rsquared": rsquared, "shrinkage": shrinkage, "r2_difference": r2_difference, "margin": margin,
              "risk": risk, "risk_low": low, "risk_high": high}
    return SampleSizeResult(outcome="survival", parameters=parameters, rsquared=r2, max_rsquared=max_r2,
                            rsquared_source=source, criteria=tuple(criteria), inputs=inputs,
                            events_per_patient=per_patient, notes=tuple(notes))
