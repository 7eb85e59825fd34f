"""The time-to-event outcome's screening statistics: univariable Cox tests, Harrell's C per feature, the squared
Cox z as mRMR's relevance, and the LASSO-Cox (glmnet's ``family = "cox"``) as the funnel's last step.

:data:`SURVIVAL_SCREENING` plays, for a :class:`core.stats.outcomes.SurvivalOutcome`, the part
:data:`core.stats.selection.BINARY_SCREENING` plays for a binary outcome: :func:`core.stats.selection.screen`
asks it, never the outcome's kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.stats.selection import LassoCV, ScreeningSettings
from core.stats.survival.concordance import harrell_c
from core.stats.survival.cox import univariable_cox
from core.stats.survival.lasso_cox import lasso_cox_cv

__all__ = ["SurvivalScreening", "SURVIVAL_SCREENING", "SurvivalValues"]


@dataclass(frozen=True)
class SurvivalValues:
    """The training rows' follow-up (``time``, > 0) and event indicator (``event``, 0/1), aligned with ``X``."""

    time: np.ndarray
    event: np.ndarray


@dataclass(frozen=True)
class SurvivalScreening:
    """Univariable Cox (Wald or likelihood-ratio p), Harrell's C per feature and the LASSO-Cox.

    The univariable table keeps :data:`core.stats.selection.UNIVARIABLE_COLUMNS`: ``statistic`` is the Wald z
    (``cox_wald``) or the likelihood-ratio chi-square (``cox_lr``), ``mean_0`` / ``mean_1`` the feature's mean
    in the censored / event patients, ``auc`` Harrell's C of the feature as a risk score (0.5 = no
    discrimination; below 0.5 the feature is protective); the hazard ratio per unit and its 95 % interval
    (``HR``, ``HR_lower``, ``HR_upper``) and ``converged`` (1/0: whether the feature's Cox fit gave a finite HR)
    are added.
    """

    kind: str = "survival"
    tests: tuple[str, ...] = ("cox_wald", "cox_lr")
    discrimination: str = "Harrell's C"
    cv_measures: tuple[str, ...] = ("deviance", "C")

    def outcome(self, y: pd.DataFrame) -> SurvivalValues:
        """``y``: the ``time``/``event`` frame of :meth:`core.stats.outcomes.SurvivalOutcome.values`."""
        if not isinstance(y, pd.DataFrame) or not {"time", "event"} <= set(y.columns):
            raise RadNomoError("a time-to-event screening needs the follow-up time and the event of each training "
                               "patient (the outcome's time and event columns).")
        event = y["event"].to_numpy().astype(int)
        if event.sum() == 0:
            raise RadNomoError("no event among the training patients: a Cox model cannot be fitted; check the "
                               "event column or the split.")
        return SurvivalValues(time=y["time"].to_numpy(dtype=float), event=event)

    def univariable(self, X: pd.DataFrame, y: SurvivalValues, test: str) -> pd.DataFrame:
        fits = univariable_cox(X, y.time, y.event).set_index("feature")
        fits.index = X.columns
        wald = test == "cox_wald"
        statistic = fits["coef"] / fits["se"] if wald else fits["lr_chisq"]
        values = X.to_numpy(dtype=float)
        events = y.event == 1
        concordance = [harrell_c(y.time, y.event, values[:, j]).c if values[:, j].std() > 0 else 0.5
                       for j in range(values.shape[1])]
        return pd.DataFrame({"statistic": statistic.to_numpy(dtype=float),
                             "p_value": fits["p_wald" if wald else "p_lr"].to_numpy(dtype=float),
                             "mean_0": values[~events].mean(axis=0), "mean_1": values[events].mean(axis=0),
                             "auc": concordance, "HR": fits["HR"].to_numpy(dtype=float),
                             "HR_lower": fits["HR_lower"].to_numpy(dtype=float),
                             "HR_upper": fits["HR_upper"].to_numpy(dtype=float),
                             # 1 where the Cox fit converged to a finite HR, 0 where it did not (a constant
                             # feature, a monotone likelihood): numbers only, as the saved funnel stores them
                             "converged": fits["converged"].to_numpy(dtype=float)}, index=X.columns)

    def relevance(self, X: pd.DataFrame, y: SurvivalValues) -> np.ndarray:
        fits = univariable_cox(X, y.time, y.event)
        return np.nan_to_num((fits["coef"] / fits["se"]).to_numpy(dtype=float) ** 2)

    def lasso(self, X: pd.DataFrame, y: SurvivalValues, settings: ScreeningSettings) -> LassoCV:
        """The LASSO-Cox (:func:`lasso_cox_cv`, glmnet's ``cv.glmnet(family = "cox")``) as the funnel's one
        LASSO result type (no intercept), so the pages, the figures and the saved study read it as any LASSO."""
        fit = lasso_cox_cv(X, y.time, y.event, n_folds=settings.n_folds, rule=settings.rule, seed=settings.seed,
                           measure=settings.cv_measure)
        return LassoCV(lambdas=fit.lambdas, cv_mean=fit.cv_mean, cv_se=fit.cv_se, lambda_min=fit.lambda_min,
                       lambda_1se=fit.lambda_1se, rule=fit.rule, lambda_=fit.lambda_, coef_=fit.coef_, intercept_=0.0,
                       path=fit.path.coefs, n_nonzero=np.asarray(fit.path.n_nonzero), foldid=fit.foldid,
                       feature_sds=fit.path.feature_sds, unconverged=fit.unconverged, family="cox",
                       measure=fit.measure, stopped=fit.stopped)


SURVIVAL_SCREENING = SurvivalScreening()
