"""Each clinical variable alone in a Cox model: the time-to-event counterpart of
:func:`core.stats.modeling.univariable_logistic`, with the same table shape so the study chooses its clinical
predictors the same way (``variable_p`` below the study's threshold)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from core.errors import RadNomoError
from core.stats.modeling import categorical_levels, design_matrix, per_unit_term, readable_or_unit
from core.stats.survival.cox import fit_cox

__all__ = ["univariable_cox_table", "UNIVARIABLE_COX_COLUMNS"]

UNIVARIABLE_COX_COLUMNS = ("variable", "term", "HR", "lower", "upper", "p_value", "variable_p", "n", "note")


def univariable_cox_table(df: pd.DataFrame, time: str, event: str, *, continuous: Sequence[str] = (),
                          categorical: Sequence[str] = ()) -> pd.DataFrame:
    """Each clinical variable alone against the time to event (training rows), as ``coxph`` (Efron ties).

    Parameters
    ----------
    df : pandas.DataFrame
        Training rows with the variables, the follow-up time column ``time`` (> 0) and the 0/1 ``event`` column.
    continuous, categorical : sequences of str
        The variables; a categorical one is coded with treatment contrasts (first sorted level = reference).

    Returns
    -------
    pandas.DataFrame
        One row per design term (:data:`UNIVARIABLE_COX_COLUMNS`): ``variable``, ``term``, ``HR``, ``lower``,
        ``upper`` (95 % Wald), ``p_value`` (Wald, per term), ``variable_p`` (likelihood-ratio test of the whole
        variable, ``anova``'s), ``n`` (patients with the variable). A variable that cannot be fitted (one
        level, a monotone likelihood) gets a row with its reason in ``note``; a continuous variable whose
        per-unit HR would print 1.000 (1.000-1.000) is given per a power of ten, named in ``term``.
    """
    rows: list[dict[str, object]] = []
    for variable, kind in [*((c, "continuous") for c in continuous), *((c, "categorical") for c in categorical)]:
        levels = categorical_levels(df, [variable]) if kind == "categorical" else {}
        design = design_matrix(df, [variable] if kind == "continuous" else [], levels)
        complete = design.notna().all(axis=1) & df[time].notna() & df[event].notna()
        try:
            if design.shape[1] == 0:
                raise RadNomoError(f"{variable} has one level only in the training patients")
            fit = fit_cox(design[complete], df.loc[complete, time].to_numpy(dtype=float),
                          df.loc[complete, event].to_numpy(dtype=int))
        except RadNomoError as error:
            rows.append({"variable": variable, "term": variable, "n": int(complete.sum()), "note": str(error)})
            continue
        variable_p = float(stats.chi2.sf(max(2 * (fit.loglik - fit.loglik_null), 0.0), df=len(fit.terms)))
        for term in fit.terms:
            coef, se = float(fit.coef[term]), float(fit.se[term])
            unit = readable_or_unit(coef, se) if kind == "continuous" else 1.0
            z = stats.norm.ppf(0.975)
            rows.append({"variable": variable, "term": per_unit_term(term, unit), "HR": np.exp(coef * unit),
                         "lower": np.exp((coef - z * se) * unit), "upper": np.exp((coef + z * se) * unit),
                         "p_value": float(fit.p[term]), "variable_p": variable_p, "n": fit.n,
                         "note": fit.convergence})
    return pd.DataFrame(rows, columns=list(UNIVARIABLE_COX_COLUMNS))
