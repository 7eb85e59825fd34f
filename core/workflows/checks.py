"""Checks a study deserves before anyone trusts its models: columns that encode the outcome, scales that empty
the variance filter, how many predictors its events can carry, and which of its features are IBSI-compliant.
"""

from __future__ import annotations

import pandas as pd

from core.imaging.ibsi import feature_compliance
from core.stats.feature_tables import ScaleCheck, scale_check
from core.stats.selection import univariable_auc
from core.stats.summaries import outcome_auc
from core.workflows.study import Study

__all__ = ["LEAK_AUC", "possible_leaks", "family_scales", "events_per_variable_guide", "family_compliance",
           "feature_ibsi_tags"]

# A single column that orders the outcome this well on its own is more likely to restate it (a follow-up
# status, a date of metastasis) than to predict it.
LEAK_AUC = 0.95


def possible_leaks(study: Study, threshold: float = LEAK_AUC) -> pd.DataFrame:
    """Clinical columns (declared variables or not) and features whose univariable training AUC exceeds
    ``threshold``: ``source`` ("clinical variable", "other column", a family's label), ``column``, ``auc``."""
    train = study.train
    y = train[study.spec.outcome_column]
    rows = []
    for column in train.columns:
        if column == study.spec.outcome_column:
            continue
        auc = outcome_auc(train[column], y)
        if auc > threshold:
            source = "clinical variable" if column in study.spec.variables else "other column"
            rows.append({"source": source, "column": column, "auc": auc})
    for family in study.families:
        X = family.table.reindex(study.train_ids)
        complete = X.columns[X.notna().all()]
        if len(complete):
            aucs = univariable_auc(X[complete], y.to_numpy())
            strength = pd.concat([aucs, 1 - aucs], axis=1).max(axis=1)
            rows += [{"source": family.label, "column": c, "auc": float(a)}
                     for c, a in strength[strength > threshold].items()]
    return pd.DataFrame(rows, columns=["source", "column", "auc"]).sort_values("auc", ascending=False,
                                                                               ignore_index=True)


def family_scales(study: Study) -> dict[str, ScaleCheck]:
    """How each family's training values are scaled, against the variance threshold it will meet."""
    threshold = study.settings.screening.variance_threshold
    out = {}
    for family in study.families:
        X = family.table.reindex(study.train_ids).dropna(axis=1, how="all")
        if X.shape[1]:
            out[family.name] = scale_check(X, threshold)
    return out


def events_per_variable_guide(study: Study) -> dict[str, float]:
    """The events (smaller outcome class) of the training cohort and the predictors they can carry at 10 and at
    20 events per variable (Peduzzi 1996; Riley et al. 2019 ask for more in small samples)."""
    y = study.train[study.spec.outcome_column]
    events = int(min(y.sum(), len(y) - y.sum()))
    return {"events": events, "at_10": events / 10, "at_20": events / 20}


def family_compliance(study: Study, family_name: str) -> pd.DataFrame:
    """IBSI tag and measured compliance of every feature of one radiomics (or imported) family
    (:func:`core.imaging.ibsi.feature_compliance` with the family's engine and settings)."""
    family = study.family(family_name)
    return feature_compliance(family.table.columns, family.extraction if family.kind == "radiomics" else None)


def feature_ibsi_tags(study: Study, features) -> pd.DataFrame:
    """``ibsi_tag`` and ``ibsi`` (compliance status) of any features of the study (a score's, across families);
    deep features and unknown names get "" and "no IBSI feature"."""
    rows = pd.DataFrame(index=pd.Index(list(features), name="feature"), columns=["ibsi_tag", "ibsi"], dtype=object)
    rows[:] = ""
    rows["ibsi"] = "no IBSI feature"
    for family in study.families:
        if family.kind == "deep":
            continue
        mine = [f for f in rows.index if f in family.table.columns]
        if mine:
            compliance = feature_compliance(mine, family.extraction if family.kind == "radiomics" else None)
            rows.loc[mine, ["ibsi_tag", "ibsi"]] = compliance[["ibsi_tag", "ibsi"]].to_numpy()
    return rows
