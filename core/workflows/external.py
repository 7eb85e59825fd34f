"""Several cohorts side by side: training, test, external cohorts and subgroups, evaluated by frozen models.

External validation never refits anything: the models, cut-offs and (optional) ComBat estimates
come from the training cohort; an external cohort is only scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from core.stats.cohort import CohortSpec, validate_cohort, validate_feature_table
from core.errors import RadNomoError

__all__ = ["validate_external", "subgroups", "cohort_panel", "out_of_range", "cohort_aucs", "main"]


def validate_external(cohort: pd.DataFrame, features: dict[str, pd.DataFrame], spec: CohortSpec,
                      needed: Sequence[str]) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Check an external cohort against the study: same variables, feature tables for its patients.

    Parameters
    ----------
    cohort : pandas.DataFrame
        The external clinical table (same column names as the study's).
    features : dict
        "radiomics" / "deep" -> feature table (index or first column: patient ID).
    needed : sequence of str
        Features the frozen scores use.

    Returns
    -------
    (cohort, features)
        The validated table and the feature tables indexed by patient ID, restricted to its patients.

    Raises
    ------
    RadNomoError
        For a missing clinical column or feature, IDs that do not match, or a non-binary outcome.
    """
    validated = validate_cohort(cohort, spec.id_column, spec.outcome_column, continuous=spec.continuous,
                                categorical=spec.categorical)
    ids = pd.Index(validated[spec.id_column])
    tables = {}
    for name, table in features.items():
        if table is None:
            continue
        table = validate_feature_table(table, ids, name=f"external {name} feature table", id_column=spec.id_column,
                                       refuse_constant=False)
        shared = ids.intersection(table.index)
        if len(shared) < len(ids):
            missing = [i for i in ids if i not in table.index]
            raise RadNomoError(f"{len(missing)} external patient(s) have no {name} features, e.g. {missing[:3]}.")
        tables[name] = table.loc[ids]
    have = set().union(*(set(t.columns) for t in tables.values())) if tables else set()
    absent = [f for f in needed if f not in have]
    if absent:
        raise RadNomoError(f"the external feature tables lack {len(absent)} feature(s) the models use, e.g. "
                           f"{absent[:3]}; extract them with the study's settings.")
    return validated, tables


def subgroups(cohort: pd.DataFrame, spec: CohortSpec, column: str, ids: Sequence[str],
              min_per_class: int = 5) -> dict[str, list[str]]:
    """Patients ``ids`` split by the levels of a categorical ``column`` (levels with enough of both outcomes)."""
    data = cohort.set_index(spec.id_column).loc[list(ids)]
    groups = {}
    for level, rows in data.groupby(column, dropna=True):
        outcome = rows[spec.outcome_column]
        if min(outcome.sum(), len(outcome) - outcome.sum()) >= min_per_class:
            groups[f"{column} = {level}"] = list(rows.index)
    return groups


def cohort_panel(predictions: pd.DataFrame, outcome: pd.Series, groups: dict[str, Sequence[str]],
                 cutoffs: dict[str, float], *, ci: str = "wald") -> pd.DataFrame:
    """Every model in every cohort or subgroup: n, events, AUC and metrics (Table 2), Brier, calibration.

    Returns one row per group and model: ``group``, ``model``, ``n``, ``events``, the :func:`table2`
    columns, ``brier``, ``cal_intercept`` (calibration-in-the-large) and ``cal_slope``.
    """
    from core.stats.evaluation import calibration_stats, performance_table

    frames = []
    for group, ids in groups.items():
        ids = list(ids)
        y = outcome.loc[ids]
        if y.nunique() < 2:
            continue
        scores = {m: predictions.loc[ids, m] for m in cutoffs}
        table = performance_table(y, scores, cutoffs, ci=ci)
        calibration = [calibration_stats(y, predictions.loc[ids, m]) for m in table["model"]]
        table.insert(0, "group", group)
        table.insert(2, "n", len(ids))
        table.insert(3, "events", int(y.sum()))
        table["brier"] = [c.brier for c in calibration]
        table["cal_intercept"] = [c.intercept for c in calibration]
        table["cal_slope"] = [c.slope for c in calibration]
        frames.append(table)
    if not frames:
        raise RadNomoError("no cohort or subgroup has patients with both outcomes.")
    return pd.concat(frames, ignore_index=True)


def out_of_range(train: pd.DataFrame, other: pd.DataFrame, columns: Sequence[str], *,
                 warn_share: float = 0.1) -> pd.DataFrame:
    """How much of another cohort lies outside the training range of each feature.

    Returns per feature ``below`` and ``above`` (share of the other cohort's patients under the
    training minimum / over the maximum) and ``flag`` (their sum above ``warn_share``), sorted by
    the share outside.
    """
    low, high = train[list(columns)].min(), train[list(columns)].max()
    values = other[list(columns)]
    table = pd.DataFrame({"train_min": low, "train_max": high, "below": (values < low).mean(),
                          "above": (values > high).mean()})
    outside = table["below"] + table["above"]
    table["flag"] = outside > warn_share
    table.index.name = "feature"
    return table.iloc[np.argsort(-outside.to_numpy(), kind="stable")]


def cohort_aucs(models, cohorts: dict[str, tuple[pd.DataFrame, dict[str, pd.DataFrame]]],
                spec: CohortSpec) -> pd.DataFrame:
    """AUC (DeLong 95 % CI) of every model of fitted ``models`` in each cohort.

    Parameters
    ----------
    models : core.workflows.fit.StudyModels
        Frozen models (their ComBat, if any, is applied to each cohort's features).
    cohorts : dict
        Name -> (clinical table, feature tables by kind).

    Returns
    -------
    pandas.DataFrame
        One row per cohort and model: ``cohort``, ``model``, ``n``, ``events``, ``auc``, ``auc_low``, ``auc_high``.
    """
    from core.stats.evaluation import roc_auc
    from core.workflows.fit import MODEL_NAMES

    rows = []
    for name, (clinical, features) in cohorts.items():
        predictions = models.predict(clinical, features, spec)
        y = clinical.set_index(spec.id_column)[spec.outcome_column].loc[predictions.index]
        for model in [m for m in MODEL_NAMES if m in predictions.columns]:
            keep = predictions[model].notna()
            result = roc_auc(y[keep], predictions.loc[keep, model])
            rows.append({"cohort": name, "model": model, "n": int(keep.sum()), "events": int(y[keep].sum()),
                         "auc": result.auc, "auc_low": result.ci_low, "auc_high": result.ci_high})
    return pd.DataFrame(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: the sample study's frozen models on an external cohort, with and without ComBat."""
    import argparse

    from core.io.tables import read_table
    from core.stats.cohort import split_cohort
    from core.workflows.newpatient import needed_features
    from core.workflows.fit import ModelSettings, fit_study_models
    from core.workflows.sample import SAMPLE_DEEP, SAMPLE_EXTERNAL_DIR, SAMPLE_RADIOMICS, SAMPLE_SPEC, load_sample_cohort

    parser = argparse.ArgumentParser(prog="python -m core.workflows.external",
                                     description="Validate the sample study's models on an external cohort "
                                                 "(training, test and external AUCs, with and without ComBat).")
    parser.add_argument("--external", default=str(SAMPLE_EXTERNAL_DIR),
                        help="folder with clinical.csv, features_radiomics.parquet and features_deep.parquet "
                             "(default: the bundled external sample cohort)")
    parser.add_argument("--harmonise-by", default="scanner", help="cohort column for ComBat (default: scanner)")
    parser.add_argument("--out", default=None, help="write the table as CSV here")
    args = parser.parse_args(argv)
    folder = Path(args.external)
    try:
        external = read_table(folder / "clinical.csv")
        tables = {"radiomics": pd.read_parquet(folder / "features_radiomics.parquet"),
                  "deep": pd.read_parquet(folder / "features_deep.parquet")}
    except (OSError, ValueError) as error:
        raise SystemExit(f"error: cannot read the external cohort in {folder}: {error}") from None
    cohort = load_sample_cohort()
    split = split_cohort(cohort, SAMPLE_SPEC)
    features = {"radiomics": pd.read_parquet(SAMPLE_RADIOMICS), "deep": pd.read_parquet(SAMPLE_DEEP)}
    index = cohort.set_index(SAMPLE_SPEC.id_column)
    frames = []
    for label, column in (("none", None), (f"ComBat by {args.harmonise_by}", args.harmonise_by)):
        models = fit_study_models(cohort, SAMPLE_SPEC, split.train_ids, features, ModelSettings(harmonise_by=column))
        external_cohort, external_features = validate_external(external, tables, SAMPLE_SPEC,
                                                               sorted(needed_features(models)))
        cohorts = {"train": (index.loc[list(split.train_ids)].reset_index(), features),
                   "test": (index.loc[list(split.test_ids)].reset_index(), features),
                   "external": (external_cohort, external_features)}
        frames.append(cohort_aucs(models, cohorts, SAMPLE_SPEC).assign(harmonisation=label))
    table = pd.concat(frames, ignore_index=True)
    wide = table.pivot_table(index=["cohort", "model"], columns="harmonisation", values="auc", sort=False)
    print(wide.round(3).to_string())
    if args.out:
        table.to_csv(args.out, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
