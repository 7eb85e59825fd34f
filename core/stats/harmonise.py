"""ComBat harmonisation of features across scanners, fitted on the training cohort, applied to any other.

Written by hand: the maintained Python ports either pin NumPy < 2 (neuroHarmonize) or have no
separate fit and apply steps (inmoose); neuroCombat 0.2.12 (2021) fits but marks its apply step as
"under development" and prints to stdout. This is the same algorithm as neuroCombat / sva::ComBat
(Johnson, Li & Rabinovic 2007; Fortin et al. 2018): location/scale model per feature with
parametric empirical-Bayes shrinkage of the scanner effects, batch only (no biological covariates,
so nothing about the outcome is used), and it reproduces neuroCombat's output (tests/core/test_harmonise.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.stats.modeling import saved_names

__all__ = ["ComBat", "fit_harmonisers", "apply_harmonisers", "coverage_notes"]


@dataclass(eq=False)
class ComBat:
    """Scanner (batch) effects per feature, learned on training rows.

    Attributes (after :meth:`fit`)
    ------------------------------
    features : list of str
    batches : list of str
    stand_mean, var_pooled : numpy.ndarray, shape (features,)
    gamma_star, delta_star : numpy.ndarray, shape (batches, features)
        Empirical-Bayes location and scale of each scanner's effect.
    """

    features: list[str] | None = None
    batches: list[str] | None = None
    stand_mean: np.ndarray | None = None
    var_pooled: np.ndarray | None = None
    gamma_star: np.ndarray | None = None
    delta_star: np.ndarray | None = None
    tolerance: float = 1e-4

    def fit(self, X: pd.DataFrame, batch: pd.Series | np.ndarray) -> ComBat:
        """Learn the scanner effects from training rows ``X`` (rows x features) and their ``batch`` labels.

        Raises
        ------
        RadNomoError
            If a scanner has fewer than 2 rows, there is only one scanner, or features are missing
            or constant within the data.
        """
        labels = np.asarray(batch).astype(str)
        values = _checked(X)
        levels, counts = np.unique(labels, return_counts=True)
        if len(levels) < 2:
            raise RadNomoError("ComBat needs at least two scanners in the training cohort.")
        if counts.min() < 2:
            raise RadNomoError(f"scanner '{levels[counts.argmin()]}' has {counts.min()} training patient(s); ComBat "
                               "needs at least 2 per scanner.")
        n = len(values)
        design = (labels[:, None] == levels[None, :]).astype(float)  # rows x batches
        beta = np.linalg.lstsq(design, values, rcond=None)[0]  # batch means, batches x features
        grand_mean = (counts / n) @ beta
        var_pooled = ((values - design @ beta) ** 2).mean(axis=0)
        if np.any(var_pooled == 0):
            constant = [c for c, v in zip(X.columns, var_pooled, strict=True) if v == 0]
            raise RadNomoError(f"feature(s) {constant[:5]} do not vary within scanners; drop them before ComBat.")
        standardised = (values - grand_mean) / np.sqrt(var_pooled)
        gamma_hat = np.linalg.lstsq(design, standardised, rcond=None)[0]
        delta_hat = np.array([standardised[labels == level].var(axis=0, ddof=1) for level in levels])
        gamma_bar = gamma_hat.mean(axis=1)
        t2 = gamma_hat.var(axis=1, ddof=1)
        a_prior = np.array([_inverse_gamma_a(d) for d in delta_hat])
        b_prior = np.array([_inverse_gamma_b(d) for d in delta_hat])
        gamma_star = np.empty_like(gamma_hat)
        delta_star = np.empty_like(delta_hat)
        for i, level in enumerate(levels):
            gamma_star[i], delta_star[i] = _eb_estimates(standardised[labels == level], gamma_hat[i], delta_hat[i],
                                                         gamma_bar[i], t2[i], a_prior[i], b_prior[i], self.tolerance)
        self.features, self.batches = list(X.columns), [str(level) for level in levels]
        self.stand_mean, self.var_pooled = grand_mean, var_pooled
        self.gamma_star, self.delta_star = gamma_star, delta_star
        return self

    def transform(self, X: pd.DataFrame, batch: pd.Series | np.ndarray, *, partial: bool = False) -> pd.DataFrame:
        """Harmonised copy of ``X`` (any rows: training, test, external), index and columns kept.

        ``partial=True`` harmonises only the fitted features present in ``X`` (e.g. the few a new
        patient's score needs) and returns those columns.

        Raises
        ------
        RadNomoError
            If ComBat was not fitted, a feature is missing, or a scanner was not in the training cohort.
        """
        fitted, batches, stand_mean, var_pooled, gamma_star, delta_star = self._fitted()
        missing = [f for f in fitted if f not in X.columns]
        if missing and not partial:
            raise RadNomoError(f"feature(s) {missing[:5]} that ComBat was fitted on are missing.")
        keep = np.array([f in X.columns for f in fitted])
        features = [f for f, k in zip(fitted, keep, strict=True) if k]
        labels = np.asarray(batch).astype(str)
        unknown = sorted(set(labels) - set(batches))
        if unknown:
            raise RadNomoError(f"scanner(s) {unknown} were not in the training cohort; ComBat can only adjust for "
                               f"scanners it learned ({', '.join(batches)}).")
        values = X[features].to_numpy(dtype=float)
        index = np.array([batches.index(label) for label in labels], dtype=np.int64)
        mean, var = stand_mean[keep], var_pooled[keep]
        standardised = (values - mean) / np.sqrt(var)
        adjusted = (standardised - gamma_star[index][:, keep]) / np.sqrt(delta_star[index][:, keep])
        return pd.DataFrame(adjusted * np.sqrt(var) + mean, index=X.index, columns=features)

    def _fitted(self) -> tuple[list[str], list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(features, batches, stand_mean, var_pooled, gamma_star, delta_star) of a fitted ComBat.

        Raises
        ------
        RadNomoError
            If it was not fitted (or read from a saved study).
        """
        if self.features is None or self.batches is None or self.stand_mean is None or self.var_pooled is None \
                or self.gamma_star is None or self.delta_star is None:
            raise RadNomoError("ComBat has not been fitted on a training cohort yet.")
        return self.features, self.batches, self.stand_mean, self.var_pooled, self.gamma_star, self.delta_star

    def to_dict(self) -> dict:
        """Plain data for saving with a study (JSON)."""
        features, batches, stand_mean, var_pooled, gamma_star, delta_star = self._fitted()
        return {"features": features, "batches": batches, "stand_mean": stand_mean.tolist(),
                "var_pooled": var_pooled.tolist(), "gamma_star": gamma_star.tolist(),
                "delta_star": delta_star.tolist()}

    @classmethod
    def from_dict(cls, values: dict) -> ComBat:
        """From :meth:`to_dict`, re-validated: arrays shaped (features,) and (scanners, features), all finite,
        variances above 0 (a saved harmoniser is applied to every cohort scored).

        Raises
        ------
        RadNomoError
            For a saved harmoniser that is malformed, edited or not finite.
        """
        features = list(saved_names(values["features"], "harmonised features", empty=True))
        batches = list(saved_names(values["batches"], "harmonisation scanners"))
        arrays = {}
        for key, shape in (("stand_mean", (len(features),)), ("var_pooled", (len(features),)),
                           ("gamma_star", (len(batches), len(features))),
                           ("delta_star", (len(batches), len(features)))):
            try:
                array = np.asarray(values[key], dtype=float)
            except (TypeError, ValueError) as error:
                raise RadNomoError(f"the saved harmoniser's {key} is not a table of numbers.") from error
            if array.shape != shape or not np.isfinite(array).all():
                raise RadNomoError(f"the saved harmoniser's {key} has shape {array.shape} (expected {shape}) or "
                                   "values that are not finite; the saved models were edited: refit them.")
            if key in ("var_pooled", "delta_star") and (array <= 0).any():
                raise RadNomoError(f"the saved harmoniser's {key} must be above 0; refit the models.")
            arrays[key] = array
        return cls(features=features, batches=batches, stand_mean=arrays["stand_mean"],
                   var_pooled=arrays["var_pooled"], gamma_star=arrays["gamma_star"], delta_star=arrays["delta_star"])


def fit_harmonisers(features: dict[str, pd.DataFrame], batch: pd.Series,
                    train_ids: list[str] | tuple[str, ...]) -> dict[str, ComBat]:
    """One ComBat per feature kind ("radiomics", "deep"), fitted on the training patients only.

    Parameters
    ----------
    features : dict
        Kind -> feature table (index: patient ID).
    batch : pandas.Series
        Scanner (or centre) label per patient ID.
    train_ids : sequence of str

    Returns
    -------
    dict
        Kind -> fitted :class:`ComBat`. Columns that are constant within a training scanner or
        not finite for every training patient are left out of the fit (and so left unchanged by
        :func:`apply_harmonisers`): ComBat's pooled variance would be zero or undefined there.
        A table that covers only some training patients is fitted on those it has
        (:func:`coverage_notes` says so in words).

    Raises
    ------
    RadNomoError
        If a training patient has no scanner label, or ComBat cannot be fitted for a kind (one
        scanner, a scanner with a single patient among the patients the table has): the kind is named.
    """
    train = pd.Index(list(train_ids))
    labels = batch.reindex(train)
    if labels.isna().any():
        missing = list(labels.index[labels.isna()][:3])
        raise RadNomoError(f"{int(labels.isna().sum())} training patient(s) have no '{batch.name}' value for "
                           f"harmonisation, e.g. {missing}.")
    fitted = {}
    for kind, table in features.items():
        rows = train[train.isin(table.index)]  # a family may cover only some patients: fit on those it has
        X = table.loc[rows]
        kind_labels = labels.loc[rows].to_numpy()
        finite = np.isfinite(X.to_numpy(dtype=float)).all(axis=0)
        X = X.loc[:, finite]
        varies = X.groupby(kind_labels).var(ddof=0).min(axis=0) > 0
        try:
            fitted[kind] = ComBat().fit(X.loc[:, varies.to_numpy()], kind_labels)
        except RadNomoError as error:
            raise RadNomoError(f"{kind} features ({len(rows)} training patients): {error}") from error
    return fitted


def coverage_notes(features: dict[str, pd.DataFrame], train_ids: list[str] | tuple[str, ...]) -> list[str]:
    """A plain sentence for each feature table that covers only some training patients.

    Parameters
    ----------
    features : dict
        Kind -> feature table (index: patient ID).
    train_ids : sequence of str

    Returns
    -------
    list of str
        E.g. "dl: ComBat was fitted on the 140 of 200 training patients with dl features; the other 60 are
        left out of it (they have no dl features to harmonise)."
    """
    train = pd.Index(list(train_ids))
    notes = []
    for kind, table in features.items():
        have = int(train.isin(table.index).sum())
        if have < len(train):
            notes.append(f"{kind}: ComBat was fitted on the {have} of {len(train)} training patients with {kind} "
                         f"features; the other {len(train) - have} are left out of it (they have no {kind} features "
                         "to harmonise).")
    return notes


def apply_harmonisers(harmonisers: dict[str, ComBat], features: dict[str, pd.DataFrame],
                      batch: pd.Series) -> dict[str, pd.DataFrame]:
    """Feature tables with the harmonised columns replaced (rows: the patients with a ``batch`` label).

    Rows without a label (patients outside the cohort) are dropped; columns ComBat was not fitted
    on pass through unchanged.

    Raises
    ------
    RadNomoError
        For a scanner the training cohort did not have, or a missing feature.
    """
    out = {}
    for kind, table in features.items():
        combat = harmonisers.get(kind)
        if combat is None:
            out[kind] = table
            continue
        rows = table.index.intersection(batch.dropna().index)
        harmonised = table.loc[rows].copy()
        adjusted = combat.transform(table.loc[rows], batch.loc[rows].to_numpy(), partial=True)
        harmonised[adjusted.columns] = adjusted
        out[kind] = harmonised
    return out


def _checked(X: pd.DataFrame) -> np.ndarray:
    values = X.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        bad = [c for c, b in zip(X.columns, ~np.isfinite(values).all(axis=0), strict=True) if b]
        raise RadNomoError(f"feature(s) {bad[:5]} have missing or infinite values; ComBat needs complete data.")
    return values


def _inverse_gamma_a(delta_hat: np.ndarray) -> float:
    m, s2 = delta_hat.mean(), delta_hat.var(ddof=1)
    return float((2 * s2 + m ** 2) / s2)


def _inverse_gamma_b(delta_hat: np.ndarray) -> float:
    m, s2 = delta_hat.mean(), delta_hat.var(ddof=1)
    return float((m * s2 + m ** 3) / s2)


def _eb_estimates(z: np.ndarray, gamma_hat: np.ndarray, delta_hat: np.ndarray, gamma_bar: float, t2: float,
                  a: float, b: float, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Parametric empirical-Bayes location and scale of one scanner (ComBat's it.sol)."""
    n = (~np.isnan(z)).sum(axis=0)
    gamma_old, delta_old = gamma_hat.copy(), delta_hat.copy()
    change = 1.0
    while change > tolerance:
        gamma_new = (t2 * n * gamma_hat + delta_old * gamma_bar) / (t2 * n + delta_old)
        sum2 = ((z - gamma_new) ** 2).sum(axis=0)
        delta_new = (0.5 * sum2 + b) / (n / 2.0 + a - 1.0)
        change = max(np.max(np.abs(gamma_new - gamma_old) / gamma_old),
                     np.max(np.abs(delta_new - delta_old) / delta_old))
        gamma_old, delta_old = gamma_new, delta_new
    return gamma_old, delta_old
