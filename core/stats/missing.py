"""Missing values: a report per column and per patient, and the study's policy for them.

The policy (:class:`MissingPolicy`, saved with the study's settings) is explicit: features with more
than ``max_missing`` of the training patients missing are dropped, then the rest are imputed with the
training median or mean (categorical variables with the training mode), fitted on the training patients
only and applied unchanged to test, external and new patients (:class:`Imputer`); or nothing is imputed
and every step that meets a missing value says so. Dropping the patients with missing values is an
action on the study instead (:func:`core.workflows.study.Study.without_patients`), recorded with it: all of
them (:func:`patients_with_missing`), or only those missing (nearly) every feature of a family
(:func:`patients_missing_features`, at the policy's ``patient_max_missing`` share, saved with the study).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from core.errors import RadNomoError
from core.vocabulary import MISSING_STRATEGIES, check_option

__all__ = ["MissingPolicy", "Imputer", "missing_by_column", "missing_by_patient", "patients_with_missing",
           "patients_missing_features", "missing_features_reason"]


@dataclass(frozen=True, kw_only=True)
class MissingPolicy:
    """What to do with missing values.

    Attributes
    ----------
    strategy : {"median", "mean", "none"}
        Impute with the training median (mode for categorical variables), the training mean, or not at
        all (a missing value then stops the step that meets it, with its count).
    max_missing : float
        Features (not clinical variables) with a larger share of the training patients missing are
        dropped before imputing (0-1; the default leaves out features missing for more than 20 %).
    patient_max_missing : float or None
        Patients missing at least this share of one family's features leave the study on their own
        (listed in its exclusions), before anything is fitted: 1 = those missing every feature, 0.5 =
        those missing half or more. Imputing hundreds of medians for them would make up a patient;
        the others are still imputed as ``strategy`` says. None (default): every patient stays.
    """

    strategy: str = "median"
    max_missing: float = 0.2
    patient_max_missing: float | None = None

    def __post_init__(self) -> None:
        check_option("missing-value strategy", self.strategy, MISSING_STRATEGIES)
        if not 0 <= self.max_missing <= 1:
            raise RadNomoError(f"the largest share of missing values {self.max_missing} must lie in [0, 1].")
        if self.patient_max_missing is not None and not 0 < self.patient_max_missing <= 1:
            raise RadNomoError(f"the share of a family's features a patient may miss {self.patient_max_missing} must "
                               "lie in (0, 1] (1: drop only the patients missing every feature).")

    def to_dict(self) -> dict:
        values = {"strategy": self.strategy, "max_missing": self.max_missing}
        # Written only when set: a study without it keeps the fingerprint (and the stored fits) it had before.
        if self.patient_max_missing is not None:
            values["patient_max_missing"] = self.patient_max_missing
        return values

    @classmethod
    def from_dict(cls, values: Mapping | None) -> MissingPolicy:
        """The policy from :meth:`to_dict`; a save made before ``patient_max_missing`` existed keeps every patient."""
        if not values:
            return cls()
        patient = values.get("patient_max_missing")
        return cls(strategy=str(values["strategy"]), max_missing=float(values["max_missing"]),
                   patient_max_missing=None if patient is None else float(patient))


def missing_by_column(table: pd.DataFrame) -> pd.DataFrame:
    """Per column: ``n_missing`` and ``share`` (0-1), only columns with a missing value, most missing first."""
    counts = table.isna().sum()
    report = pd.DataFrame({"n_missing": counts, "share": counts / max(len(table), 1)})
    # rename_axis, not index.name =: the report shares its index with the caller's table
    report = report.rename_axis("column")
    return report[report["n_missing"] > 0].sort_values("n_missing", ascending=False)


def missing_by_patient(table: pd.DataFrame) -> pd.DataFrame:
    """Per patient: ``n_missing`` and ``share`` of the table's columns, only patients with a missing value."""
    counts = table.isna().sum(axis=1)
    report = pd.DataFrame({"n_missing": counts, "share": counts / max(table.shape[1], 1)})
    report = report.rename_axis("patient")
    return report[report["n_missing"] > 0].sort_values("n_missing", ascending=False)


def patients_with_missing(tables: Sequence[pd.DataFrame]) -> list[str]:
    """Patients with a missing value in any of ``tables`` (in the order they first appear)."""
    ids: list[str] = []
    for table in tables:
        seen = set(ids)  # once per table, not once per patient
        ids += [i for i in table.index[table.isna().any(axis=1)] if i not in seen]
    return ids


def patients_missing_features(tables: Sequence[pd.DataFrame], share: float) -> list[str]:
    """Patients missing at least ``share`` (0-1] of the features of one of ``tables`` (one table per family,
    index: patient ID), in the order they first appear; ``share=1``: only those missing every feature."""
    ids: dict[str, None] = {}  # ordered and unique
    for table in tables:
        if table.shape[1] == 0:
            continue
        shares = table.isna().mean(axis=1)
        # A small tolerance: 2 of 3 missing is a share of 0.666..., which "at least 2/3" must include.
        ids.update(dict.fromkeys(shares.index[shares >= share - 1e-12]))
    return list(ids)


def missing_features_reason(share: float) -> str:
    """Why :func:`patients_missing_features` left a patient out, in words (recorded with the study)."""
    return "every feature of a family missing" if share >= 1 else f"at least {share:.0%} of a family's features missing"


@dataclass(frozen=True, eq=False)
class Imputer:
    """Missing-value handling fitted on training rows (scikit-learn's fit / transform contract).

    Attributes
    ----------
    policy : MissingPolicy
    categorical : tuple of str
        Columns filled with their training mode (always, whatever the strategy's statistic).
    dropped_ : tuple of str
        Columns left out for having more than ``policy.max_missing`` missing in training.
    fill_ : dict
        Column -> the value that fills it (training median, mean or mode).
    n_filled_train_ : int
        Values filled in the training rows (the fit's own rows).
    """

    policy: MissingPolicy
    categorical: tuple[str, ...] = ()
    drop_columns: bool = True
    dropped_: tuple[str, ...] = ()
    fill_: dict = field(default_factory=dict)
    n_filled_train_: int = 0

    @classmethod
    def fit(cls, train: pd.DataFrame, policy: MissingPolicy, *, categorical: Sequence[str] = (),
            drop_columns: bool = True) -> Imputer:
        """Learn the columns to drop and the fill values from the training rows only.

        ``drop_columns=False`` keeps every column (clinical variables: the user chose them).

        Raises
        ------
        RadNomoError
            With strategy "none" and a missing value in the training rows (counted, with examples).
        """
        shares = train.isna().mean()
        dropped = tuple(c for c in train.columns if drop_columns and shares[c] > policy.max_missing)
        kept = train.drop(columns=list(dropped))
        missing = kept.isna()
        if policy.strategy == "none":
            if missing.to_numpy().any():
                columns = list(kept.columns[missing.any()])
                raise RadNomoError(f"{int(missing.to_numpy().sum())} missing value(s) in {len(columns)} column(s) of "
                                   f"the training patients, e.g. {columns[:3]}, and the missing-value policy imputes "
                                   "nothing: choose median or mean imputation, or drop those patients (Cohort page).")
            return cls(policy=policy, categorical=tuple(categorical), drop_columns=drop_columns, dropped_=dropped)
        # Every column gets its fill value, not only those missing in training: a test, external or new
        # patient may lack a value the training patients all had. Numbers in one vectorised pass.
        empty = list(kept.columns[~kept.notna().any().to_numpy()])  # one pass, not a Series per column
        if empty:
            raise RadNomoError(f"{empty[:3]} have no value in the training patients to impute from; leave them out.")
        categories = set(categorical)
        numeric = [c for c in kept.columns if c not in categories]
        values = kept[numeric].astype(float)
        statistic = values.median() if policy.strategy == "median" else values.mean()
        fill = {c: float(v) for c, v in statistic.items()}
        for column in [c for c in kept.columns if c in categories]:
            fill[column] = kept[column].dropna().astype(str).value_counts().index[0]
        return cls(policy=policy, categorical=tuple(categorical), drop_columns=drop_columns, dropped_=dropped,
                   fill_=fill, n_filled_train_=int(missing.to_numpy().sum()))

    def transform(self, table: pd.DataFrame, what: str = "table") -> pd.DataFrame:
        """``table`` without the dropped columns and with its missing values filled by the training values.

        Raises
        ------
        RadNomoError
            For a missing value in a column the training rows had complete, with strategy "none".
        """
        out = table.drop(columns=[c for c in self.dropped_ if c in table.columns])
        if self.policy.strategy == "none":
            missing = out.isna().to_numpy()
            if missing.any():
                raise RadNomoError(f"the {what} has {int(missing.sum())} missing value(s), e.g. in "
                                   f"{list(out.columns[out.isna().any()][:3])}, and the missing-value policy imputes "
                                   "nothing: choose median or mean imputation, or drop those patients.")
            return out
        missing = [c for c in out.columns if c not in self.fill_ and out[c].isna().any()]
        if missing:  # complete in training, missing here: nothing was learned to fill it with
            raise RadNomoError(f"the {what} has missing values in {missing[:3]}, which every training patient had; "
                               "the training cohort gives no value to impute them with.")
        present = {c: v for c, v in self.fill_.items() if c in out.columns}
        return out.fillna(present) if present else out

    def n_missing(self, table: pd.DataFrame) -> int:
        """Missing values of ``table`` that :meth:`transform` fills (dropped columns not counted)."""
        columns = [c for c in table.columns if c not in self.dropped_]
        return int(table[columns].isna().to_numpy().sum()) if columns else 0

    def to_dict(self) -> dict:
        return {"policy": self.policy.to_dict(), "categorical": list(self.categorical),
                "drop_columns": self.drop_columns, "dropped": list(self.dropped_),
                "fill": {k: (v if isinstance(v, str) else float(v)) for k, v in self.fill_.items()},
                "n_filled_train": self.n_filled_train_}

    @classmethod
    def from_dict(cls, values: Mapping) -> Imputer:
        return cls(policy=MissingPolicy.from_dict(values["policy"]), categorical=tuple(values["categorical"]),
                   drop_columns=bool(values["drop_columns"]), dropped_=tuple(values["dropped"]),
                   fill_=dict(values["fill"]), n_filled_train_=int(values["n_filled_train"]))

