"""Checks a study deserves before anyone trusts its models: columns that encode the outcome, columns that must
never be features, scales that empty the variance filter, how many predictors its events can carry, and which of
its features are IBSI-compliant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from core.imaging.ibsi import feature_compliance
from core.stats.feature_tables import (IDENTIFIER_LIKE, FeatureTableImport, ScaleCheck, excluded_columns,
                                       identifier_like, import_feature_table, perfect_orderers, scale_check)
from core.stats.selection import univariable_auc
from core.stats.summaries import outcome_auc
from core.workflows.sources import source_of
from core.workflows.study import Study

__all__ = ["LEAK_AUC", "possible_leaks", "LeftOutColumns", "never_features", "usable_feature_tables",
           "exclusion_matches", "exclusions_text", "study_feature_import", "family_scales", "events_per_variable_guide",
           "family_compliance", "feature_ibsi_tags"]

# A single column that orders the outcome this well on its own is more likely to restate it (a follow-up
# status, a date of metastasis) than to predict it.
LEAK_AUC = 0.95


def possible_leaks(study: Study, threshold: float = LEAK_AUC) -> pd.DataFrame:
    """Clinical columns (declared variables or not) and features whose univariable training AUC exceeds
    ``threshold``.

    Returns
    -------
    pandas.DataFrame
        ``source`` ("clinical variable", "other column", a family's label), ``family`` (the family's name,
        "" for a cohort column), ``column``, ``auc`` and ``note``: "" for a possible leak still in use,
        :data:`core.stats.feature_tables.IDENTIFIER_LIKE` for a cohort column of identifiers (its AUC says
        only that each value is one patient), "excluded" for a column the user already excluded, or
        "left out: <reason>" for a feature already kept out of the models (:func:`never_features`).
    """
    train = study.train
    y = study.spec.outcome.events(train)
    excluded = excluded_columns(train.columns, study.settings.excluded_features)
    rows = []
    for column in train.columns:
        if column in study.spec.outcome.columns:
            continue
        auc = outcome_auc(train[column], y)
        if auc > threshold:
            source = "clinical variable" if column in study.spec.variables else "other column"
            note = ("excluded" if column in excluded and column not in study.spec.variables
                    else IDENTIFIER_LIKE if identifier_like(study.cohort[column]) else "")
            rows.append({"source": source, "family": "", "column": column, "auc": auc, "note": note})
    left_out = never_features(study).table.set_index(["family", "column"])["reason"]
    for family in study.families:
        X = family.table.reindex(study.train_ids)
        complete = X.columns[X.notna().all()]
        if len(complete):
            aucs = univariable_auc(X[complete], y.to_numpy())
            strength = pd.concat([aucs, 1 - aucs], axis=1).max(axis=1)
            rows += [{"source": family.label, "family": family.name, "column": c, "auc": float(a),
                      "note": f"left out: {left_out[(family.name, c)]}" if (family.name, c) in left_out.index else ""}
                     for c, a in strength[strength > threshold].items()]
    return pd.DataFrame(rows, columns=["source", "family", "column", "auc", "note"]).sort_values(
        "auc", ascending=False, ignore_index=True)


@dataclass(frozen=True, eq=False)
class LeftOutColumns:
    """The columns of a study's feature families that are never features, and why.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per column left out: ``family`` (a single family's name), ``column``, ``reason`` ("ID column",
        "outcome column", "clinical variable", "excluded ('<pattern>')", "equal to the outcome", "orders the
        outcome perfectly in training (AUC 1)", ...).
    notes : tuple of str
        Perfect orderings kept because the cohort is small enough for chance to give them, named.
    """

    table: pd.DataFrame
    notes: tuple[str, ...] = ()

    def columns_of(self, family: str) -> list[str]:
        """The columns left out of one family."""
        return self.table.loc[self.table["family"] == family, "column"].tolist()

    def sentences(self) -> list[str]:
        """One sentence per family naming what was left out and why, then the notes (for the models' notes,
        the pages and the report)."""
        out = []
        for family, group in self.table.groupby("family", sort=False):
            named = "; ".join(f"{r.column} ({r.reason})" for r in group.head(12).itertuples())
            more = f" and {len(group) - 12} more" if len(group) > 12 else ""
            out.append(f"{family}: {len(group)} column(s) that must never be features left out: {named}{more}.")
        return out + list(self.notes)


def never_features(study: Study) -> LeftOutColumns:
    """Every column of the study's feature families that must never be a feature: the ID and outcome columns,
    the clinical variables and the user's exclusions (:meth:`Study.never_feature_columns`), and columns equal
    to the outcome or ordering it perfectly on the training patients
    (:func:`core.stats.feature_tables.perfect_orderers`: judged on training patients only).
    """
    rows, notes = [], []
    y = study.spec.outcome.events(study.train)
    for family in study.families:
        by_role = study.never_feature_columns(family.name)
        rows += [{"family": family.name, "column": c, "reason": r} for c, r in by_role.items()]
        rest = family.table.drop(columns=list(by_role))
        train = rest.index.intersection(pd.Index(study.train_ids))
        if rest.shape[1] and len(train):
            ordering, kept = perfect_orderers(rest.loc[train], y.loc[train])
            rows += [{"family": family.name, "column": c, "reason": r} for c, r in ordering.items()]
            notes += [f"{family.name}: {n}" for n in kept]
    return LeftOutColumns(table=pd.DataFrame(rows, columns=["family", "column", "reason"]), notes=tuple(notes))


def study_feature_import(study: Study, table: pd.DataFrame | None = None, *,
                         name: str = "feature table") -> FeatureTableImport:
    """A feature table imported for ``study``: :func:`core.stats.feature_tables.import_feature_table` with the
    study's patients, and its ID, outcome, clinical variables and exclusions left out and listed.

    ``table`` None imports the study's own cohort table (one table holding clinical variables and features):
    its other numeric columns become the features.

    Raises
    ------
    RadNomoError
        From the import (duplicated IDs, no numeric column left, no patient of the cohort).
    """
    spec = study.spec
    if table is None:
        table, name = study.cohort_table(), "cohort table"
    return import_feature_table(table, study.cohort.index, name=name, id_column=spec.id_column,
                                outcome_column=spec.outcome.columns, clinical=spec.variables,
                                excluded=study.settings.excluded_features)


def exclusion_matches(study: Study, patterns: Sequence[str] | None = None) -> pd.DataFrame:
    """What each exclusion pattern (the study's, or ``patterns``) matches: ``pattern``, ``where`` (a family's
    label, or "cohort" for the clinical table's columns), ``n`` and ``columns`` (up to 8 named, comma-separated).
    A pattern that matches nothing gets one row with ``n`` 0 and ``where`` "" (a typo shows)."""
    patterns = tuple(study.settings.excluded_features if patterns is None else patterns)
    places = [("cohort", [c for c in study.cohort.columns if c not in study.spec.outcome.columns])]
    places += [(family.label, list(family.table.columns)) for family in study.families]
    rows = []
    for pattern in patterns:
        found = False
        for where, columns in places:
            hits = list(excluded_columns(columns, (pattern,)))
            if hits:
                found = True
                rows.append({"pattern": pattern, "where": where, "n": len(hits),
                             "columns": ", ".join(hits[:8]) + (" ..." if len(hits) > 8 else "")})
        if not found:
            rows.append({"pattern": pattern, "where": "", "n": 0, "columns": ""})
    return pd.DataFrame(rows, columns=["pattern", "where", "n", "columns"])


def usable_feature_tables(study: Study) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The single families' tables without the columns that must never be features (:func:`never_features`),
    and sentences saying what was left out. A family left without any column is absent from the tables
    (and said so)."""
    left_out = never_features(study)
    tables, notes = {}, left_out.sentences()
    for name, table in study.feature_tables().items():
        gone = left_out.columns_of(name)
        if len(gone) == table.shape[1]:
            notes.append(f"{name}: every column of the table must stay out of the features; the family is left out.")
            continue
        tables[name] = table.drop(columns=gone) if gone else table
    return tables, notes


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
    """The events of the training cohort that limit a model (a binary outcome's smaller class:
    :meth:`core.stats.outcomes.Outcome.limiting_count`) and the predictors they can carry at 10 and at 20 events
    per variable (Peduzzi 1996; Riley et al. 2019 ask for more in small samples)."""
    events = study.spec.outcome.limiting_count(study.train)
    return {"events": events, "at_10": events / 10, "at_20": events / 20}


def family_compliance(study: Study, family_name: str) -> pd.DataFrame:
    """IBSI tag and measured compliance of every feature of one radiomics (or imported) family
    (:func:`core.imaging.ibsi.feature_compliance` with the family's engine and settings)."""
    family = study.family(family_name)
    return feature_compliance(family.table.columns, source_of(family).recorded_extraction(family))


def feature_ibsi_tags(study: Study, features) -> pd.DataFrame:
    """``ibsi_tag`` and ``ibsi`` (compliance status) of any features of the study (a score's, across families);
    deep features and unknown names get "" and "no IBSI feature"."""
    rows = pd.DataFrame(index=pd.Index(list(features), name="feature"), columns=["ibsi_tag", "ibsi"], dtype=object)
    rows[:] = ""
    rows["ibsi"] = "no IBSI feature"
    for family in study.families:
        if not source_of(family).ibsi_named:
            continue
        mine = [f for f in rows.index if f in family.table.columns]
        if mine:
            compliance = feature_compliance(mine, source_of(family).recorded_extraction(family))
            rows.loc[mine, ["ibsi_tag", "ibsi"]] = compliance[["ibsi_tag", "ibsi"]].to_numpy()
    return rows


def exclusions_text(study: Study) -> str:
    """What each of the study's exclusion patterns matches, in one line for a page ("" without exclusions):
    ``Excluded: lm_type -> 1 in cohort (lm_type); diag_* matches nothing``."""
    matches = exclusion_matches(study)
    if not len(matches):
        return ""
    return "Excluded: " + "; ".join(
        f"{r.pattern} matches nothing" if not r.n else f"{r.pattern} -> {r.n} in {r.where} ({r.columns})"
        for r in matches.itertuples())
