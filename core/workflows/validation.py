"""Internal validation beyond a single split: Harrell's bootstrap optimism correction and repeated CV.

Both repeat the whole pipeline (screening, LASSO, scores, clinical and fused models) inside every
resample, so the estimates include the optimism of the selection itself, not only of the final fit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.stats.cohort import CohortSpec
from core.errors import RadNomoError
from core.workflows.fit import MODEL_NAMES, ModelSettings, fit_study_models

__all__ = ["OptimismResult", "optimism_corrected_auc", "repeated_cv_auc", "summarise_cv", "load_saved_validation",
           "main"]


@dataclass(frozen=True)
class OptimismResult:
    """Apparent and optimism-corrected AUC per model.

    Attributes
    ----------
    table : pandas.DataFrame
        Index: model; columns ``apparent``, ``optimism``, ``corrected``, ``n_boot`` (resamples in
        which the model could be fitted).
    runs : pandas.DataFrame
        Per resample and model: ``boot_auc`` (on the resample) and ``original_auc`` (the
        resample's model on the original training cohort).
    """

    table: pd.DataFrame
    runs: pd.DataFrame


def _auc(y: pd.Series, p: pd.Series) -> float:
    from sklearn.metrics import roc_auc_score

    keep = p.notna()
    return float(roc_auc_score(y[keep], p[keep]))


def _resampled(cohort: pd.DataFrame, spec: CohortSpec, features: dict[str, pd.DataFrame], ids: Sequence[str],
               tag: str) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], list[str]]:
    """Rows ``ids`` (with repeats) under new unique IDs ``<id>#<tag><k>``, for cohort and feature tables."""
    new_ids = [f"{i}#{tag}{k}" for k, i in enumerate(ids)]
    data = cohort.set_index(spec.id_column).loc[list(ids)]
    data.index = new_ids
    data = data.rename_axis(spec.id_column).reset_index()
    tables = {}
    for name, table in features.items():
        sub = table.loc[list(ids)]
        sub.index = pd.Index(new_ids, name=table.index.name)
        tables[name] = sub
    return data, tables, new_ids


def optimism_corrected_auc(cohort: pd.DataFrame, spec: CohortSpec, train_ids: Sequence[str],
                           features: dict[str, pd.DataFrame], settings: ModelSettings | None = None, *,
                           n_boot: int = 200, seed: int = 0,
                           on_progress: Callable[[int, int], None] | None = None) -> OptimismResult:
    """Harrell's bootstrap optimism-corrected AUC of every model on the training cohort.

    For each of ``n_boot`` bootstrap resamples of the training patients (stratified by outcome) the
    whole pipeline is refitted; optimism = mean over resamples of (AUC on the resample - AUC of
    that resample's models on the original training cohort); corrected = apparent - optimism
    (Harrell, Lee & Mark 1996; Steyerberg, Clinical Prediction Models, ch. 5).

    Raises
    ------
    RadNomoError
        If ``n_boot`` < 1 or the apparent models cannot be fitted.
    """
    if n_boot < 1:
        raise RadNomoError("n_boot must be at least 1.")
    settings = settings or ModelSettings()
    train_ids = list(train_ids)
    data = cohort.set_index(spec.id_column, drop=False)
    y = data.loc[train_ids, spec.outcome_column]
    apparent_models = fit_study_models(cohort, spec, train_ids, features, settings)
    apparent_pred = apparent_models.predict(data.loc[train_ids].reset_index(drop=True), features, spec)
    models = [m for m in MODEL_NAMES if m in apparent_pred.columns]
    apparent = {m: _auc(y, apparent_pred.loc[train_ids, m]) for m in models}
    rng = np.random.default_rng(seed)
    events, non_events = y.index[y == 1].to_numpy(), y.index[y == 0].to_numpy()
    runs = []
    for b in range(n_boot):
        ids = np.concatenate([rng.choice(events, len(events)), rng.choice(non_events, len(non_events))])
        boot_cohort, boot_features, boot_ids = _resampled(cohort, spec, features, ids, f"b{b}_")
        try:
            boot_models = fit_study_models(boot_cohort, spec, boot_ids, boot_features, settings)
        except RadNomoError:
            continue  # e.g. a resample where no clinical variable is significant: skip it, count fewer
        boot_pred = boot_models.predict(boot_cohort, boot_features, spec)
        original_pred = boot_models.predict(data.loc[train_ids].reset_index(drop=True), features, spec)
        boot_y = boot_cohort.set_index(spec.id_column)[spec.outcome_column]
        for m in models:
            if m in boot_pred.columns:
                runs.append({"resample": b, "model": m, "boot_auc": _auc(boot_y, boot_pred[m]),
                             "original_auc": _auc(y, original_pred.loc[train_ids, m])})
        if on_progress:
            on_progress(b + 1, n_boot)
    runs_frame = pd.DataFrame(runs, columns=["resample", "model", "boot_auc", "original_auc"])
    optimism = (runs_frame["boot_auc"] - runs_frame["original_auc"]).groupby(runs_frame["model"]).mean()
    counts = runs_frame.groupby("model").size()
    table = pd.DataFrame({"apparent": pd.Series(apparent), "optimism": optimism, "n_boot": counts}).loc[models]
    table["corrected"] = table["apparent"] - table["optimism"]
    return OptimismResult(table=table[["apparent", "optimism", "corrected", "n_boot"]], runs=runs_frame)


def repeated_cv_auc(cohort: pd.DataFrame, spec: CohortSpec, train_ids: Sequence[str],
                    features: dict[str, pd.DataFrame], settings: ModelSettings | None = None, *,
                    n_folds: int = 5, n_repeats: int = 2, seed: int = 0) -> pd.DataFrame:
    """Repeated stratified K-fold CV of the whole pipeline on the training cohort.

    Returns one row per repeat, fold and model: ``repeat``, ``fold``, ``model``, ``auc`` (on the
    held-out fold, with everything refitted on the other folds).
    """
    from sklearn.model_selection import RepeatedStratifiedKFold

    settings = settings or ModelSettings()
    train_ids = np.array(list(train_ids))
    data = cohort.set_index(spec.id_column, drop=False)
    y = data.loc[train_ids, spec.outcome_column].to_numpy()
    splitter = RepeatedStratifiedKFold(n_splits=n_folds, n_repeats=n_repeats, random_state=seed)
    rows = []
    for index, (fit_rows, held_rows) in enumerate(splitter.split(train_ids, y)):
        try:
            fitted = fit_study_models(cohort, spec, train_ids[fit_rows], features, settings)
        except RadNomoError:
            continue
        held = list(train_ids[held_rows])
        predictions = fitted.predict(data.loc[held].reset_index(drop=True), features, spec)
        for m in [m for m in MODEL_NAMES if m in predictions.columns]:
            rows.append({"repeat": index // n_folds + 1, "fold": index % n_folds + 1, "model": m,
                         "auc": _auc(data.loc[held, spec.outcome_column], predictions.loc[held, m])})
    return pd.DataFrame(rows, columns=["repeat", "fold", "model", "auc"])


def summarise_cv(runs: pd.DataFrame) -> pd.DataFrame:
    """Per model: mean, SD, minimum and maximum held-out AUC over every repeat and fold, and the count."""
    grouped = runs.groupby("model", sort=False)["auc"]
    return pd.DataFrame({"mean": grouped.mean(), "sd": grouped.std(ddof=1), "min": grouped.min(),
                         "max": grouped.max(), "folds": grouped.size()})


def load_saved_validation(folder: Path, settings: ModelSettings, train_ids: Sequence[str]) -> dict | None:
    """A validation run saved by :func:`main` in ``folder``, if it was made with these settings and
    training patients; else None. Returns {"optimism": table, "runs": ..., "cv": ..., "meta": ...}."""
    import json

    meta_path = folder / "validation.json"
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("settings") != settings.to_dict() or meta.get("train_ids") != list(train_ids):
        return None
    return {"optimism": pd.read_csv(folder / "optimism.csv", index_col="model"),
            "runs": pd.read_csv(folder / "optimism_runs.csv"), "cv": pd.read_csv(folder / "repeated_cv.csv"),
            "meta": meta}


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: optimism correction and repeated CV of the sample study (the dashboard's defaults)."""
    import argparse
    import json
    import time

    from core.stats.cohort import split_cohort
    from core.workflows.sample import SAMPLE_DEEP, SAMPLE_RADIOMICS, SAMPLE_SPEC, load_sample_cohort

    parser = argparse.ArgumentParser(prog="python -m core.workflows.validation",
                                     description="Harrell's bootstrap optimism-corrected AUC and repeated CV of the "
                                                 "whole pipeline on the sample study (default settings).")
    parser.add_argument("--out", required=True, help="output folder (e.g. sample_data/validation)")
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cohort = load_sample_cohort()
    split = split_cohort(cohort, SAMPLE_SPEC)
    features = {"radiomics": pd.read_parquet(SAMPLE_RADIOMICS), "deep": pd.read_parquet(SAMPLE_DEEP)}
    settings = ModelSettings()
    start = time.perf_counter()
    result = optimism_corrected_auc(cohort, SAMPLE_SPEC, split.train_ids, features, settings, n_boot=args.n_boot,
                                    seed=args.seed,
                                    on_progress=lambda b, n: print(f"resample {b}/{n}", flush=True))
    boot_seconds = time.perf_counter() - start
    cv = repeated_cv_auc(cohort, SAMPLE_SPEC, split.train_ids, features, settings, n_folds=args.folds,
                         n_repeats=args.repeats, seed=args.seed)
    result.table.to_csv(out / "optimism.csv", index_label="model")
    result.runs.to_csv(out / "optimism_runs.csv", index=False)
    cv.to_csv(out / "repeated_cv.csv", index=False)
    meta = {"settings": settings.to_dict(), "train_ids": list(split.train_ids), "n_boot": args.n_boot,
            "folds": args.folds, "repeats": args.repeats, "seed": args.seed,
            "bootstrap_seconds": round(boot_seconds, 1),
            "command": f"python -m core.workflows.validation --out {args.out} --n-boot {args.n_boot} --folds {args.folds} "
                       f"--repeats {args.repeats} --seed {args.seed}"}
    (out / "validation.json").write_text(json.dumps(meta, indent=1))
    print(result.table.round(3).to_string())
    print(summarise_cv(cv).round(3).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
