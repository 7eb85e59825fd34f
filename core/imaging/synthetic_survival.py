"""The synthetic sample's time-to-event outcome: overall survival drawn from a Weibull proportional-hazards model.

The sample study's patients (:func:`core.imaging.synthetic.generate_clinical`, same seed, same CTs) get an
overall survival time from diagnosis, in months, whose hazard depends on the hidden imaging phenotype (the
``z_*`` trait scores of the truth table, which the rendered CTs and hence the radiomics and deep features show)
and on clinical factors (liver metastasis, clinical T and N stage, age)::

    h(t | x) = h0(t) exp(lp(x)),   h0(t) = (k / scale) (t / scale)^(k - 1)   (Weibull, shape k, scale in months)
    lp(x)    = sum of the log hazard ratios of :class:`SurvivalEffects` times the patient's (centred) values

An event time is drawn by inversion, ``T = scale (E / exp(lp))^(1 / k)`` with ``E`` ~ Exp(1), and censored by
the earlier of administrative censoring (entry uniform over an accrual period, the study closing at a fixed
time after the first entry) and random loss to follow-up (exponential): about 40 % of patients are censored,
everyone is followed for at least ``study_end - accrual`` months unless lost or dead, so the horizons 12, 36
and 60 months are inside follow-up. Times are rounded to 0.1 month (at least 0.1: no time is 0).

Overall survival, not time to liver metastasis: the sample's binary outcome already says who had liver
metastasis and when (``lm``, ``lm_interval_months``), with synchronous metastases at diagnosis (time ~ 0), so a
second, independently drawn time to metastasis would contradict it. Survival depends on ``lm`` (a strong
prognostic factor), which makes the two outcomes of the sample consistent. ``lm`` is not a baseline predictor
of survival (a metachronous metastasis is diagnosed later), which is why it is part of the hidden hazard only.

The draws come from their own random stream keyed by (seed, 4), after the clinical table is made, so the binary
sample's files (``clinical.csv``, ``manifest.csv``, ``generator_truth.csv``, the images) do not change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.errors import RadNomoError

if TYPE_CHECKING:  # core.imaging.synthetic writes this module's table: a run-time import would be circular
    from core.imaging.synthetic import CohortTables

__all__ = ["SURVIVAL_COLUMNS", "SURVIVAL_HORIZONS_MONTHS", "SURVIVAL_TIME_UNIT", "SurvivalEffects",
           "survival_linear_predictor", "generate_survival"]

SURVIVAL_COLUMNS: dict[str, str] = {
    "patient_id": "Patient identifier (GC0001...), as clinical.csv.",
    "os_months": "Overall survival: months from diagnosis to death or to the last follow-up (> 0, 0.1 month).",
    "death": "1 = died at os_months, 0 = alive (censored) at os_months.",
}
#: The horizons the sample's survival study predicts at (months), and the unit of ``os_months``.
SURVIVAL_HORIZONS_MONTHS = (12.0, 36.0, 60.0)
SURVIVAL_TIME_UNIT = "months"

# The random stream of the survival draws ([seed, 0] is the clinical table's, [seed, 2] the later traits',
# [seed, 1 or 3, patient] the images').
_STREAM = 4
# Clinical T and N stages as numbers (centred so that lp = 0 is a typical T3 N1-N2 patient of 60).
_T_LEVELS = {"T1": -2.0, "T2": -1.0, "T3": 0.0, "T4": 1.0}
_N_LEVELS = {"N0": -1.5, "N1": -0.5, "N2": 0.5, "N3": 1.5}
_LM_FRACTION = 312 / 1001  # centre of lm (the study's share), as the other terms are centred
_AGE_CENTRE = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SurvivalEffects:
    """The survival model of the synthetic sample (its knobs): Weibull baseline, log hazard ratios, censoring.

    Attributes
    ----------
    weibull_shape : float
        Shape k of the baseline hazard (> 1: the hazard rises with time).
    weibull_scale_months : float
        Scale of the baseline, months (the baseline median is ``scale * log(2)^(1/k)``).
    lm : float
        Log hazard ratio of liver metastasis (``lm`` = 1), centred at the study's LM share.
    ct_stage, cn_stage : float
        Log hazard ratio per clinical T stage (T1..T4) and per N stage (N0..N3).
    age_per_decade : float
        Log hazard ratio per 10 years of age (centred at 60).
    enhancement, heterogeneity, texture_scale, necrosis, margin, extent, infiltration : float
        Log hazard ratio per unit of each hidden phenotype z-score (``z_<trait>`` of the truth table).
    accrual_months : float
        Patients enter uniformly over this many months.
    study_end_months : float
        The study closes this long after the first entry: a patient who entered at ``e`` is censored at
        ``study_end - e`` (administrative censoring); must exceed ``accrual_months``.
    loss_per_month : float
        Rate of random loss to follow-up (exponential), per month.
    """

    weibull_shape: float = 1.2
    weibull_scale_months: float = 66.0
    lm: float = 0.7
    ct_stage: float = 0.2
    cn_stage: float = 0.2
    age_per_decade: float = 0.15
    enhancement: float = -0.15
    heterogeneity: float = 0.2
    texture_scale: float = 0.0
    necrosis: float = 0.2
    margin: float = 0.1
    extent: float = 0.1
    infiltration: float = 0.25
    accrual_months: float = 60.0
    study_end_months: float = 96.0
    loss_per_month: float = 0.004

    def __post_init__(self) -> None:
        if not all(np.isfinite(v) for v in asdict(self).values()):
            raise RadNomoError("every survival effect must be a finite number.")
        if self.weibull_shape <= 0 or self.weibull_scale_months <= 0:
            raise RadNomoError("the Weibull shape and scale must be > 0.")
        if not 0 < self.accrual_months < self.study_end_months or self.loss_per_month < 0:
            raise RadNomoError("the accrual must be > 0 and shorter than the study (study_end_months), and the loss "
                               "to follow-up rate >= 0.")

    def trait_effects(self) -> dict[str, float]:
        """``{"z_<trait>": log hazard ratio}`` for the seven phenotype traits."""
        return {f"z_{trait}": getattr(self, trait) for trait in
                ("enhancement", "heterogeneity", "texture_scale", "necrosis", "margin", "extent", "infiltration")}


def survival_linear_predictor(tables: CohortTables, effects: SurvivalEffects | None = None) -> np.ndarray:
    """The true log relative hazard ``lp(x)`` of every patient (row order of ``tables.clinical``).

    Parameters
    ----------
    tables : CohortTables
        From :func:`core.imaging.synthetic.generate_clinical`.
    effects : SurvivalEffects, optional
        Defaults to :class:`SurvivalEffects()`.

    Returns
    -------
    numpy.ndarray of float
        Centred so that 0 is a typical patient; a higher value is a worse prognosis.
    """
    effects = effects or SurvivalEffects()
    clinical, truth = tables.clinical, tables.truth
    lp = (effects.lm * (clinical["lm"].to_numpy(dtype=float) - _LM_FRACTION)
          + effects.ct_stage * clinical["ct_stage"].map(_T_LEVELS).to_numpy(dtype=float)
          + effects.cn_stage * clinical["cn_stage"].map(_N_LEVELS).to_numpy(dtype=float)
          + effects.age_per_decade * (clinical["age"].to_numpy(dtype=float) - _AGE_CENTRE) / 10)
    for column, log_hr in effects.trait_effects().items():
        lp = lp + log_hr * truth[column].to_numpy(dtype=float)
    return lp


def generate_survival(tables: CohortTables, seed: int, effects: SurvivalEffects | None = None) -> pd.DataFrame:
    """Overall survival of the patients of ``tables`` (the sample's time-to-event outcome).

    Parameters
    ----------
    tables : CohortTables
        From :func:`core.imaging.synthetic.generate_clinical` with the same ``seed``.
    seed : int
        The cohort's seed; the draws use their own stream (seed, 4), so the same seed gives the same table.
    effects : SurvivalEffects, optional
        Defaults to :class:`SurvivalEffects()`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SURVIVAL_COLUMNS`: ``patient_id``, ``os_months`` (float, > 0, one decimal), ``death``
        (int 0/1), one row per patient in the clinical table's order.
    """
    effects = effects or SurvivalEffects()
    lp = survival_linear_predictor(tables, effects)
    n = len(lp)
    rng = np.random.default_rng(np.random.SeedSequence([seed, _STREAM]))
    # Draw order (fixed): event times, entry times, loss-to-follow-up times.
    death_time = effects.weibull_scale_months * (rng.exponential(size=n) / np.exp(lp)) ** (1 / effects.weibull_shape)
    entry = rng.uniform(0.0, effects.accrual_months, size=n)
    loss = rng.exponential(1 / effects.loss_per_month, size=n) if effects.loss_per_month > 0 else np.full(n, np.inf)
    censor_time = np.minimum(effects.study_end_months - entry, loss)
    death = (death_time <= censor_time).astype(int)
    # One decimal, as a follow-up table records months; at least 0.1 (a time of 0 is not a time at risk).
    time = np.maximum(np.round(np.minimum(death_time, censor_time), 1), 0.1)
    return pd.DataFrame({"patient_id": tables.clinical["patient_id"].to_numpy(), "os_months": time, "death": death},
                        columns=list(SURVIVAL_COLUMNS))
