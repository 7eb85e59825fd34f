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

from core.errors import RadNomoError
from core.stats.cohort import CohortSplit
from core.workflows.fit import fit_study, predict_study
from core.workflows.study import FeatureFamily, Study

__all__ = ["OptimismResult", "optimism_corrected_auc", "repeated_cv_auc", "summarise_cv", "validation_table",
           "load_saved_validation", "save_validation"]


@dataclass(frozen=True)
class OptimismResult:
    """Apparent and optimism-corrected AUC per model.

    Attributes
    ----------
    table : pandas.DataFrame
        Index: model; columns ``apparent``, ``optimism``, ``corrected``, ``n_boot`` (resamples in
        which the model could be fitted).
    runs : pandas.DataFrame
        Per resample and model: ``boot_auc`` (on the resample), ``original_auc`` (the
        resample's model on the original training cohort) and their difference ``optimism``.
    """

    table: pd.DataFrame
    runs: pd.DataFrame


def _auc(y: pd.Series, p: pd.Series) -> float:
    from sklearn.metrics import roc_auc_score

    keep = p.notna()
    return float(roc_auc_score(y[keep], p[keep]))


def _resampled(study: Study, ids: Sequence[str], tag: str) -> Study:
    """The training rows ``ids`` (with repeats) as a study of their own: new unique IDs ``<id>#<tag><k>``,
    every patient in its training cohort, the same families and settings."""
    new_ids = pd.Index([f"{i}#{tag}{k}" for k, i in enumerate(ids)], name=study.cohort.index.name)
    cohort = study.cohort.loc[list(ids)].set_axis(new_ids, axis=0)
    families = []
    for family in study.families:
        table = family.table.loc[list(ids)].set_axis(pd.Index(new_ids, name=family.table.index.name), axis=0)
        reader2 = None
        if family.reader2 is not None:
            # Second readings only exist for some patients: keep those among the resample.
            read = [(i, n) for i, n in zip(ids, new_ids) if i in family.reader2.index]
            reader2 = family.reader2.loc[[i for i, _ in read]].set_axis(pd.Index([n for _, n in read],
                                                                                 name=family.reader2.index.name),
                                                                        axis=0)
        families.append(FeatureFamily(name=family.name, label=family.label, table=table, kind=family.kind,
                                      reader2=reader2))
    split = CohortSplit(train_ids=tuple(new_ids), test_ids=(), config=study.split.config)
    return study.replace(name=f"{study.name} [{tag}]", cohort=cohort, split=split, families=tuple(families))


def _training_only(study: Study, ids: Sequence[str]) -> Study:
    """The study restricted to training patients ``ids`` (all of them in its training cohort)."""
    return study.replace(split=CohortSplit(train_ids=tuple(ids), test_ids=(), config=study.split.config))


def _with_optimism(runs: pd.DataFrame) -> pd.DataFrame:
    """Each resample's optimism: its models' AUC on the resample minus on the original training cohort."""
    return runs.assign(optimism=runs["boot_auc"] - runs["original_auc"])


def optimism_corrected_auc(study: Study, *, n_boot: int = 200, seed: int = 0,
                           on_progress: Callable[[int, int], None] | None = None) -> OptimismResult:
    """Harrell's bootstrap optimism-corrected AUC of every model on the study's training cohort.

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
    train_ids = study.train_ids
    y = study.train[study.spec.outcome_column]
    apparent_models = fit_study(study)
    original = study.cohort.loc[train_ids]
    tables = study.feature_tables()
    apparent_pred = apparent_models.predict(original, tables)
    models = apparent_models.model_names
    apparent = {m: _auc(y, apparent_pred.loc[train_ids, m]) for m in models}
    rng = np.random.default_rng(seed)
    events, non_events = y.index[y == 1].to_numpy(), y.index[y == 0].to_numpy()
    runs = []
    for b in range(n_boot):
        ids = np.concatenate([rng.choice(events, len(events)), rng.choice(non_events, len(non_events))])
        boot = _resampled(study, ids, f"b{b}_")
        try:
            boot_models = fit_study(boot)
        except RadNomoError:
            continue  # e.g. a resample where no clinical variable is significant: skip it, count fewer
        boot_pred = predict_study(boot, boot_models)
        original_pred = boot_models.predict(original, tables)
        boot_y = boot.outcome
        for m in models:
            if m in boot_pred.columns:
                runs.append({"resample": b, "model": m, "boot_auc": _auc(boot_y, boot_pred[m]),
                             "original_auc": _auc(y, original_pred.loc[train_ids, m])})
        if on_progress:
            on_progress(b + 1, n_boot)
    runs_frame = _with_optimism(pd.DataFrame(runs, columns=["resample", "model", "boot_auc", "original_auc"]))
    optimism = runs_frame["optimism"].groupby(runs_frame["model"]).mean()
    counts = runs_frame.groupby("model").size()
    table = pd.DataFrame({"apparent": pd.Series(apparent), "optimism": optimism, "n_boot": counts}).loc[models]
    table["corrected"] = table["apparent"] - table["optimism"]
    return OptimismResult(table=table[["apparent", "optimism", "corrected", "n_boot"]], runs=runs_frame)


def repeated_cv_auc(study: Study, *, n_folds: int = 5, n_repeats: int = 2, seed: int = 0,
                    on_progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Repeated stratified K-fold CV of the whole pipeline on the study's training cohort.

    Returns one row per repeat, fold and model: ``repeat``, ``fold``, ``model``, ``auc`` (on the
    held-out fold, with everything refitted on the other folds).
    """
    from sklearn.model_selection import RepeatedStratifiedKFold

    train_ids = np.array(study.train_ids)
    y = study.train[study.spec.outcome_column].to_numpy()
    splitter = RepeatedStratifiedKFold(n_splits=n_folds, n_repeats=n_repeats, random_state=seed)
    tables = study.feature_tables()
    rows = []
    total = n_folds * n_repeats
    for index, (fit_rows, held_rows) in enumerate(splitter.split(train_ids, y)):
        try:
            fitted = fit_study(_training_only(study, train_ids[fit_rows]))
        except RadNomoError:
            continue
        held = list(train_ids[held_rows])
        predictions = fitted.predict(study.cohort.loc[held], tables)
        for m in fitted.model_names:
            rows.append({"repeat": index // n_folds + 1, "fold": index % n_folds + 1, "model": m,
                         "auc": _auc(study.outcome.loc[held], predictions.loc[held, m])})
        if on_progress:
            on_progress(index + 1, total)
    return pd.DataFrame(rows, columns=["repeat", "fold", "model", "auc"])


def summarise_cv(runs: pd.DataFrame) -> pd.DataFrame:
    """Per model: mean, SD, minimum and maximum held-out AUC over every repeat and fold, and the count."""
    grouped = runs.groupby("model", sort=False)["auc"]
    return pd.DataFrame({"mean": grouped.mean(), "sd": grouped.std(ddof=1), "min": grouped.min(),
                         "max": grouped.max(), "folds": grouped.size()})


def validation_table(aucs: pd.DataFrame, models: Sequence[str], optimism: pd.DataFrame | None = None,
                     cv: pd.DataFrame | None = None) -> pd.DataFrame:
    """Apparent (training), test, optimism-corrected and cross-validated AUC per model, side by side.

    ``aucs``: :func:`core.stats.summaries.auc_table` (rows "train" and, when there is one, "test").
    """
    table = pd.DataFrame({"apparent (training)": aucs.loc["train"]})
    if "test" in aucs.index:
        table["test"] = aucs.loc["test"]
    if optimism is not None:
        table["optimism"] = optimism["optimism"]
        table["optimism-corrected"] = optimism["corrected"]
        table["resamples"] = optimism["n_boot"]
    if cv is not None and len(cv):
        summary = summarise_cv(cv)
        table["repeated CV (mean)"] = summary["mean"]
        table["repeated CV (SD)"] = summary["sd"]
    return table.loc[[m for m in models if m in table.index]]


def load_saved_validation(folder: Path, study: Study) -> dict | None:
    """A validation run saved by :func:`save_validation` in ``folder``, if it was made with this study's
    settings and training patients; else None. Returns {"optimism": table, "runs": ..., "cv": ..., "meta": ...}."""
    import json

    meta_path = folder / "validation.json"
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    # Settings saved before a setting existed read with its default (then compared as the study's are).
    from core.workflows.study import ModelSettings

    try:
        saved_settings = ModelSettings.from_dict(meta.get("settings") or {}).to_dict()
    except RadNomoError:
        return None
    if saved_settings != study.settings.to_dict() or meta.get("train_ids") != study.train_ids:
        return None
    return {"optimism": pd.read_csv(folder / "optimism.csv", index_col="model"),
            "runs": _with_optimism(pd.read_csv(folder / "optimism_runs.csv")), "cv": pd.read_csv(folder / "repeated_cv.csv"),
            "meta": meta}


def save_validation(folder: Path, study: Study, result: OptimismResult, cv: pd.DataFrame, meta: dict) -> None:
    """Write a validation run (optimism table, every resample, the repeated CV and what made them) to ``folder``."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    result.table.to_csv(folder / "optimism.csv", index_label="model")
    result.runs.to_csv(folder / "optimism_runs.csv", index=False)
    cv.to_csv(folder / "repeated_cv.csv", index=False)
    meta = {"settings": study.settings.to_dict(), "train_ids": study.train_ids, **meta}
    (folder / "validation.json").write_text(json.dumps(meta, indent=1))
