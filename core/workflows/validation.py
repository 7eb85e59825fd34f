"""Internal validation beyond a single split: Harrell's bootstrap optimism correction and repeated CV.

Both repeat the whole pipeline (screening, LASSO, scores, clinical and fused models) inside every
resample, so the estimates include the optimism of the selection itself, not only of the final fit.

Discrimination is measured by the study's outcome type (:func:`core.stats.discrimination.measures_for`): a
binary outcome by the AUC of the predicted probability, a time-to-event outcome by Harrell's C of each model's
linear predictor and the IPCW AUC at each horizon. The frames of an outcome type with named measures (time to
event) carry a ``measure`` column (``C-index``, ``AUC(t=12)``...), one row per model and measure, and their
value columns are ``boot``/``original`` (runs) and ``value`` (CV); the binary outcome's frames have no
``measure`` column and keep their AUC names (``boot_auc``, ``original_auc``, ``auc``), as they were saved before.

For an outcome whose models predict a probability (:data:`CALIBRATED_KINDS`: binary) the bootstrap also gives,
from the same refits (no second one), the .632 and .632+ bootstrap AUC (Efron & Tibshirani 1997) beside Harrell's
optimism correction, and the optimism of calibration as rms::validate and rms::calibrate estimate it
(:mod:`core.stats.calibration_optimism`) - but with the whole pipeline refitted in each resample, where rms refits
only the final logistic model: the selection's optimism is in the corrected calibration too. A time-to-event
outcome has neither (its frames are as they were).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.stats.calibration_optimism import (CALIBRATION_INDEXES, brier_score, calibration_grid,
                                             logistic_recalibration, resample_calibration, summarise_curve_optimism)
from core.stats.cohort import CohortSplit
from core.stats.discrimination import MEASURE, DiscriminationMeasures, measures_for
from core.workflows.cluster import ResampleProgress, resample_runner
from core.workflows.fit import fit_study, predict_study
from core.workflows.study import FeatureFamily, Study

__all__ = ["OptimismResult", "InternalValidation", "optimism_corrected_auc", "repeated_cv_auc", "summarise_cv",
           "bootstrap_resample", "bootstrap_ids", "cv_fold",
           "validation_table", "load_saved_validation", "save_validation", "with_bootstrap", "with_cv",
           "study_validation", "validation_notes", "check_run_size", "RUN_LIMITS", "BOOTSTRAP_SCHEME",
           "EMPTY_TREATMENT", "discrimination_table", "UNESTIMABLE_TREATMENT", "FOLD_RECORD", "cv_fold_notes",
           "CALIBRATED_KINDS", "NO_INFORMATION_AUC", "bootstrap_632", "OOB_TREATMENT", "BY_CONSTRUCTION",
           "resampling_summary", "RESAMPLING_COLUMNS", "calibration_optimism_notes"]

# How the bootstrap draws its resamples, in words (the report and the page name it).
BOOTSTRAP_SCHEME = "outcome-stratified bootstrap"
# What happens to a model in a resample where it cannot be refitted (e.g. its LASSO keeps no feature).
EMPTY_TREATMENT = "left out of that model's optimism, which is averaged over the resamples where it was refitted"
# The key of the record that ends each fold's rows of cv_fold: the error that stopped the refit, or "".
FOLD_RECORD = "error"
# What happens to a measure that cannot be estimated on a resample or fold (e.g. AUC(t) with no event by t).
UNESTIMABLE_TREATMENT = "left out of that measure's average, which is over the resamples (folds) where it could be"
# The outcome kinds whose models predict the probability of one event: their bootstrap also gives the .632 and
# .632+ AUC and the optimism of calibration (a registry: another such kind is added here, not tested for).
CALIBRATED_KINDS = ("binary",)
# The AUC of a model that has no information (Efron & Tibshirani's no-information error rate gamma = 1 - 0.5).
NO_INFORMATION_AUC = 0.5
# What happens to a resample whose out-of-bag patients (those not drawn) hold one outcome class only.
OOB_TREATMENT = "left out of the out-of-bag AUC, which is averaged over the resamples where it could be estimated"
# How far from 0 and 1 an apparent calibration intercept and slope may be and still be "0 and 1 by construction"
# (a maximum-likelihood logistic model recalibrated on its own training patients; a penalised score is not).
BY_CONSTRUCTION = 1e-6
# The sizes a user may ask for: below the minimum the estimate means little, above the maximum a run takes hours.
RUN_LIMITS = {"bootstrap resamples": (10, 1000), "CV folds": (3, 10), "CV repeats": (1, 20)}


def check_run_size(what: str, value: float | None) -> int:
    """``value`` as a whole number within :data:`RUN_LIMITS` [``what``].

    Raises
    ------
    RadNomoError
        When it is missing, not whole or out of range (the message says the allowed range and what was given).
    """
    low, high = RUN_LIMITS[what]
    if value is None or value != value or float(value) != int(value) or not low <= int(value) <= high:
        raise RadNomoError(f"{what}: give a whole number from {low} to {high} (you gave {value}); nothing was run.")
    return int(value)


@dataclass(frozen=True)
class OptimismResult:
    """Apparent and optimism-corrected discrimination per model (and measure).

    Attributes
    ----------
    table : pandas.DataFrame
        Index: model; columns ``apparent``, ``optimism``, ``corrected``, ``n_boot`` (resamples in
        which the model could be fitted and the measure estimated); for an outcome with named measures
        (time to event) first a ``measure`` column, one row per model and measure. Unitless (AUC, C: 0-1).
    runs : pandas.DataFrame
        Per resample and model (and ``measure``): the value on the resample (binary ``boot_auc``, else
        ``boot``), that of the resample's model on the original training cohort (``original_auc``, else
        ``original``) and their difference ``optimism``.
    resamples : pandas.DataFrame
        One row per resample drawn (index ``resample``): ``fitted`` (the pipeline could be refitted),
        ``error`` (why not, else ""), and per score family the number of features its LASSO kept
        (0: none, so that score and the fused model built on it are left out of that resample).
    requested : int
        Resamples asked for; fewer were drawn when ``stopped``.
    stopped : bool
        The run was stopped before all ``requested`` resamples (what was done is kept).
    calibration : pandas.DataFrame or None
        :data:`CALIBRATED_KINDS` only (else None). Index model; ``measure`` (``intercept``, ``slope``, ``brier``:
        :data:`core.stats.calibration_optimism.CALIBRATION_INDEXES`), ``apparent`` (on the training cohort;
        intercept and slope 0 and 1 by construction for a maximum-likelihood logistic model), ``optimism`` (mean
        over resamples of the value on the resample - on the original training cohort), ``corrected`` (apparent -
        optimism: for the slope, the mean slope of the resample models on the original cohort), ``n_boot``.
    calibration_curve : pandas.DataFrame or None
        :data:`CALIBRATED_KINDS` only (else None). rms::calibrate's curve per model: ``model``, ``predicted`` (the
        grid of predicted risks), ``apparent`` (lowess-smoothed observed risk on the training cohort),
        ``optimism``, ``corrected``, ``n`` (resamples where the grid point was within both ranges); risks 0-1.
    """

    table: pd.DataFrame
    runs: pd.DataFrame
    resamples: pd.DataFrame = field(default_factory=pd.DataFrame)
    requested: int = 0
    stopped: bool = False
    calibration: pd.DataFrame | None = None
    calibration_curve: pd.DataFrame | None = None


@dataclass(frozen=True, eq=False)
class InternalValidation:
    """The latest internal validation of a study: kept with it (saved, reported) while ``key`` matches.

    Attributes
    ----------
    key : str
        :attr:`core.workflows.study.Study.validation_key` of the study it was made on.
    optimism, runs, resamples : pandas.DataFrame or None
        The bootstrap's :class:`OptimismResult` tables (None when the bootstrap was not run).
    cv : pandas.DataFrame or None
        :func:`repeated_cv_auc` rows (None when not run).
    calibration, calibration_curve : pandas.DataFrame or None
        The bootstrap's calibration optimism (:class:`OptimismResult`; None when not run, for an outcome without
        it, or for a run saved before it was computed).
    meta : mapping
        ``"bootstrap"``: scheme, requested, done, seed, stopped; ``"cv"``: folds, repeats, seed,
        requested, done, stopped; each with ``"source"`` when it was computed in advance (its command).
    """

    key: str
    optimism: pd.DataFrame | None = None
    runs: pd.DataFrame | None = None
    resamples: pd.DataFrame | None = None
    cv: pd.DataFrame | None = None
    meta: Mapping = field(default_factory=dict)
    calibration: pd.DataFrame | None = None
    calibration_curve: pd.DataFrame | None = None


def _keys(measures: DiscriminationMeasures) -> list[str]:
    """The columns that identify a row of the validation frames besides its resample or fold."""
    return ["model", MEASURE] if measures.named else ["model"]


def _scored(measures: DiscriminationMeasures, study: Study, frame: pd.DataFrame, risk: pd.Series, column: str,
            base: Mapping[str, object], model: str) -> list[dict]:
    """One row per measure of ``risk`` against the outcome in ``frame`` (``base`` + model [+ measure] +
    ``column``: the value); a measure that cannot be estimated on these patients has no row."""
    values = measures.score(study.spec.outcome, frame, risk, False)
    return [{**base, "model": model, **({MEASURE: label} if measures.named else {}), column: value}
            for label, value in values.items() if value == value]


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
            read = [(i, n) for i, n in zip(ids, new_ids, strict=True) if i in family.reader2.index]
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
    """Each resample's optimism: its models' value on the resample minus on the original training cohort
    (the binary outcome's AUC columns, or any other outcome's ``boot`` and ``original``)."""
    boot, original = ("boot_auc", "original_auc") if "boot_auc" in runs.columns else ("boot", "original")
    return runs.assign(optimism=runs[boot] - runs[original])


def _calibrated(study: Study, frame: pd.DataFrame, risk: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The outcome (0/1) and the predicted probability of the patients of ``frame`` with a prediction."""
    keep = risk.notna()
    return (study.spec.outcome.events(frame).loc[keep[keep].index].to_numpy(dtype=float),
            risk[keep].to_numpy(dtype=float))


def _probability_extras(study: Study, boot: Study, boot_risk: pd.Series, original_risk: pd.Series,
                        drawn: Sequence[str], grid: Sequence[float]) -> tuple[dict, list[float]]:
    """A resample model's out-of-bag AUC and calibration (:data:`CALIBRATED_KINDS`): the run's extra columns
    (``oob_auc``: NaN when the patients not drawn hold one class only, or none is left; ``boot_``/``original_``
    ``intercept``, ``slope``, ``brier``) and its calibration curve's optimism at the ``grid`` risks.
    ``original_risk``: the resample model's probabilities on the original training cohort (no new prediction:
    the out-of-bag patients are among them)."""
    from sklearn.metrics import roc_auc_score

    out_of_bag = original_risk.index.difference(pd.Index(drawn))
    y_oob, p_oob = _calibrated(study, study.cohort.loc[out_of_bag], original_risk.loc[out_of_bag])
    oob = float(roc_auc_score(y_oob, p_oob)) if len(np.unique(y_oob)) == 2 else float("nan")
    y_boot, p_boot = _calibrated(study, boot.cohort, boot_risk)
    y_original, p_original = _calibrated(study, study.cohort.loc[original_risk.index], original_risk)
    calibration = resample_calibration(y_boot, p_boot, y_original, p_original, grid)
    curve = [float(v) for v in np.asarray(calibration.pop("curve"))]
    return {"oob_auc": oob, **calibration}, curve


def bootstrap_resample(study: Study, index: int, ids: Sequence[str], models: Sequence[str],
                       families: Sequence[str], grids: Mapping[str, Sequence[float]] | None = None
                       ) -> tuple[dict, list[dict], dict[str, list[float]]]:
    """One bootstrap resample of :func:`optimism_corrected_auc`: the whole pipeline refitted on the training
    rows ``ids`` (drawn with replacement), scored on them and on the original training cohort (and, with
    ``grids``, on the training patients not drawn, and for calibration).

    A pure top-level function of its arguments (it runs the same in this process or on a cluster worker).

    Parameters
    ----------
    study : Study
        The study whose training cohort is resampled.
    index : int
        The resample's number (0-based), in its rows and in its patients' new IDs.
    ids : sequence of str
        The training patient IDs drawn, with repeats.
    models : sequence of str
        The models of the apparent fit (those whose optimism is estimated).
    families : sequence of str
        The score families counted (features their LASSO kept).
    grids : mapping, optional
        For an outcome of :data:`CALIBRATED_KINDS`: per model, the predicted risks (0-1) where its calibration
        curve is read (:func:`core.stats.calibration_optimism.calibration_grid` of the apparent predictions).

    Returns
    -------
    (dict, list of dict, dict)
        The resample's row (``resample``, ``fitted``, ``error``, features kept per family); one row per
        refitted model and measure of the outcome type (``resample``, ``model``, [``measure``,] the value on the
        resample and on the original training cohort: ``boot_auc``/``original_auc`` for a binary outcome,
        ``boot``/``original`` else; unitless, 0-1; with ``grids`` also ``oob_auc``, the AUC on the training
        patients not drawn, and ``boot_``/``original_`` ``intercept``, ``slope``, ``brier``, the logistic
        recalibration and Brier score on the resample and on the original cohort); and, with ``grids``, per model
        its calibration curve's optimism at its grid (smoothed risk on the resample - on the original cohort, NaN
        outside either's range; else empty). A measure that cannot be estimated on either has no row.
    """
    train_ids = study.train_ids
    boot = _resampled(study, ids, f"b{index}_")
    try:
        boot_models = fit_study(boot)
    except RadNomoError as error:
        # e.g. a resample where no model at all can be fitted: left out of every model, and counted
        return {"resample": index, "fitted": False, "error": str(error), **{f: np.nan for f in families}}, [], {}
    drawn = {"resample": index, "fitted": True, "error": "",
             **{f: len(boot_models.scores[f].variables) if f in boot_models.scores else 0 for f in families}}
    boot_pred = predict_study(boot, boot_models)
    original_pred = boot_models.predict(study.cohort.loc[train_ids], study.feature_tables())
    measures = measures_for(study.spec.outcome)
    boot_column, original_column = measures.columns["boot"], measures.columns["original"]
    keys = _keys(measures)
    runs: list[dict] = []
    curves: dict[str, list[float]] = {}
    for m in [m for m in models if m in boot_pred.columns]:
        on_boot = _scored(measures, study, boot.cohort, boot_pred[m], boot_column, {"resample": index}, m)
        on_original = {tuple(row[k] for k in keys): row[original_column] for row in _scored(
            measures, study, study.train, original_pred.loc[train_ids, m], original_column, {}, m)}
        extras: dict = {}
        if grids is not None and m in grids:
            extras, curves[m] = _probability_extras(study, boot, boot_pred[m], original_pred.loc[train_ids, m],
                                                    ids, grids[m])
        runs.extend({**row, original_column: on_original[key], **extras} for row in on_boot
                    if (key := tuple(row[k] for k in keys)) in on_original)
    return drawn, runs, curves


def bootstrap_632(apparent: float, oob: float) -> tuple[float, float]:
    """The .632 and .632+ bootstrap AUC from the apparent AUC and the mean out-of-bag AUC (unitless, 0-1).

    Efron & Tibshirani (JASA 1997) with the error err = 1 - AUC and the no-information error gamma = 1 - 0.5:

    * .632 = 0.368 * apparent + 0.632 * oob;
    * .632+: oob' = max(oob, 0.5) (their Err1' = min(Err1, gamma)); the relative overfitting rate
      R = (apparent - oob') / (apparent - 0.5), clipped to [0, 1] (0 when apparent <= 0.5); w = 0.632 / (1 - 0.368 R);
      .632+ = (1 - w) * apparent + w * oob'. With no overfitting (R = 0) it is the .632; with R = 1 it is oob'.

    NaN when ``oob`` is NaN (no resample had out-of-bag patients of both classes).
    """
    if oob != oob or apparent != apparent:
        return float("nan"), float("nan")
    b632 = 0.368 * apparent + 0.632 * oob
    oob_prime = max(oob, NO_INFORMATION_AUC)
    spread = apparent - NO_INFORMATION_AUC
    rate = min(max((apparent - oob_prime) / spread, 0.0), 1.0) if spread > 0 and apparent > oob_prime else 0.0
    weight = 0.632 / (1 - 0.368 * rate)
    return float(b632), float((1 - weight) * apparent + weight * oob_prime)


def _calibration_frames(study: Study, models: Sequence[str], apparent_pred: pd.DataFrame, runs: pd.DataFrame,
                        grids: Mapping[str, Sequence[float]], curves: Mapping[str, list[list[float]]]
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:class:`OptimismResult`'s ``calibration`` and ``calibration_curve`` from the resamples' runs and curves."""
    rows, parts = [], []
    for m in models:
        y, p = _calibrated(study, study.train, apparent_pred.loc[study.train_ids, m])
        intercept, slope = logistic_recalibration(y, p)
        apparent = {"intercept": intercept, "slope": slope, "brier": brier_score(y, p)}
        of_model = runs[runs["model"] == m]
        for measure in CALIBRATION_INDEXES:
            differences = (of_model[f"boot_{measure}"] - of_model[f"original_{measure}"]).dropna()
            optimism = float(differences.mean()) if len(differences) else float("nan")
            rows.append({"model": m, MEASURE: measure, "apparent": apparent[measure], "optimism": optimism,
                         "corrected": apparent[measure] - optimism, "n_boot": int(len(differences))})
        grid = grids[m]
        parts.append(summarise_curve_optimism(y, p, grid, np.array(curves.get(m) or []).reshape(-1, len(grid)))
                     .assign(model=m))
    calibration = pd.DataFrame(rows, columns=["model", MEASURE, "apparent", "optimism", "corrected", "n_boot"])
    curve = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["model", "predicted", "apparent", "optimism", "corrected", "n"])
    return calibration.set_index("model"), curve[["model", "predicted", "apparent", "optimism", "corrected", "n"]]


def bootstrap_ids(study: Study, n_boot: int, seed: int) -> list[list[str]]:
    """The training patient IDs of each of ``n_boot`` outcome-stratified bootstrap resamples, drawn from
    ``seed``: each stratum of the outcome (for a binary one: the events, then the non-events) resampled with
    replacement to its own size, resample after resample from one generator (so the first k resamples of a
    larger run are those of a run of k)."""
    rng = np.random.default_rng(seed)
    strata = study.spec.outcome.strata(study.train)
    groups = [strata.index[strata == level].to_numpy() for level in sorted(strata.unique(), reverse=True)]
    return [np.concatenate([rng.choice(group, len(group)) for group in groups]).tolist() for _ in range(n_boot)]


def optimism_corrected_auc(study: Study, *, n_boot: int = 200, seed: int = 0,
                           on_progress: ResampleProgress | None = None,
                           should_stop: Callable[[], bool] | None = None, where: object = None) -> OptimismResult:
    """Harrell's bootstrap optimism-corrected discrimination of every model on the study's training cohort.

    For each of ``n_boot`` bootstrap resamples of the training patients (stratified by outcome: the
    events and the non-events are each resampled with replacement, so every resample keeps the
    event rate) the whole pipeline is refitted; optimism = mean over resamples of (measure on the
    resample - measure of that resample's models on the original training cohort); corrected = apparent
    - optimism (Harrell, Lee & Mark 1996; Steyerberg, Clinical Prediction Models, ch. 5). The measures are
    the outcome type's (:func:`core.stats.discrimination.measures_for`): the AUC of a binary outcome; Harrell's
    C of the linear predictor and the IPCW AUC at each horizon of a time-to-event one (the frames then have a
    ``measure`` column). A model that cannot be refitted in a resample (its LASSO keeps no feature; the fused
    model without that score) is left out of that resample and counted in ``resamples``; a measure that cannot
    be estimated in a resample (e.g. no event by a horizon) is left out of that measure's average (``n_boot``
    counts where it was).

    For an outcome of :data:`CALIBRATED_KINDS` (binary) the same resamples also give (no second refit; each
    resample model is scored on the training patients it did not draw, who are among the original cohort):

    * ``table`` columns ``oob`` (mean over resamples of the AUC on the patients not drawn; a resample whose
      out-of-bag patients hold one class only is :data:`OOB_TREATMENT`), ``b632`` and ``b632plus``
      (:func:`bootstrap_632`; Efron & Tibshirani 1997) and ``n_oob`` (resamples in ``oob``); ``runs`` column
      ``oob_auc``, and ``boot_``/``original_`` ``intercept``, ``slope``, ``brier``;
    * ``calibration`` and ``calibration_curve``: the optimism-corrected calibration intercept, slope and Brier
      score (rms::validate) and calibration curve (rms::calibrate), computed as rms does
      (:mod:`core.stats.calibration_optimism`) but with the whole pipeline (screening, LASSO, models) refitted
      in each resample, where rms refits only the final model: the optimism of the selection is included.

    Every resample's patients are drawn up front from ``seed`` (:func:`bootstrap_ids`) and each is one call
    of :func:`bootstrap_resample`, so the result is identical wherever the resamples run.

    Parameters
    ----------
    on_progress : callable, optional
        Called with (resamples done, ``n_boot``, estimated seconds left or None) as resamples finish.
    should_stop : callable, optional
        Checked between resamples; when it returns True the run ends there (on a cluster the outstanding
        resamples are cancelled) and the result holds the resamples done (``stopped`` True).
    where : optional
        Where the resamples run (:func:`core.workflows.cluster.resample_runner`): None (this process), "local"
        (one worker process per core), "threads", a Dask scheduler address ``tcp://HOST:8786``, a
        ``distributed.Client`` or an open runner.

    Raises
    ------
    RadNomoError
        If ``n_boot`` < 1, the apparent models cannot be fitted or measured on the training cohort (e.g. no
        event by a horizon), or ``where`` is malformed or unreachable.
    """
    if n_boot < 1:
        raise RadNomoError("n_boot must be at least 1.")
    train_ids = study.train_ids
    measures = measures_for(study.spec.outcome)
    keys = _keys(measures)
    # The runner first: a scheduler that cannot be reached is said before minutes of fitting.
    with resample_runner(where) as runner:
        apparent_models = fit_study(study)
        apparent_pred = apparent_models.predict(study.cohort.loc[train_ids], study.feature_tables())
        models = apparent_models.model_names
        apparent = {(m, label) if measures.named else m: value for m in models for label, value in measures.score(
            study.spec.outcome, study.train, apparent_pred.loc[train_ids, m], True).items()}
        families = [f for f in study.score_families if f in apparent_models.screening]
        grids = None
        if measures.kind in CALIBRATED_KINDS:
            # rms::calibrate's grid of each model's apparent predictions: the resamples' curves are read there.
            grids = {m: calibration_grid(apparent_pred.loc[train_ids, m].dropna()).tolist() for m in models}
        jobs = [(b, ids, models, families, grids) for b, ids in enumerate(bootstrap_ids(study, n_boot, seed))]
        done, stopped = runner.run(bootstrap_resample, study, jobs, on_progress=on_progress,
                                   should_stop=should_stop)
    # Assembled in resample order, whatever order they finished in.
    drawn = [done[b][0] for b in sorted(done)]
    runs = [row for b in sorted(done) for row in done[b][1]]
    extra = ["oob_auc", *(f"{where}_{m}" for m in CALIBRATION_INDEXES for where in ("boot", "original"))] \
        if grids is not None else []
    runs_frame = _with_optimism(pd.DataFrame(runs, columns=["resample", *keys, measures.columns["boot"],
                                                            measures.columns["original"], *extra]))
    group = runs_frame.groupby(keys if measures.named else "model")  # one key: a plain index, as the binary had
    optimism, counts = group["optimism"].mean(), group.size()
    table = pd.DataFrame({"apparent": pd.Series(apparent), "optimism": optimism, "n_boot": counts})
    table = table.loc[list(apparent)]  # models in their order, each model's measures in theirs
    table["n_boot"] = table["n_boot"].fillna(0).astype(int)
    table["corrected"] = table["apparent"] - table["optimism"]
    columns = ["apparent", "optimism", "corrected", "n_boot"]
    if measures.named:
        table = table.rename_axis(keys).reset_index(MEASURE)
        columns.insert(0, MEASURE)
    calibration = curve = None
    if grids is not None:
        oob = runs_frame.dropna(subset=["oob_auc"]).groupby("model")["oob_auc"]
        table["oob"], table["n_oob"] = oob.mean(), oob.size()
        table["n_oob"] = table["n_oob"].fillna(0).astype(int)
        estimates = [bootstrap_632(a, o) for a, o in zip(table["apparent"], table["oob"], strict=True)]
        table["b632"], table["b632plus"] = [e[0] for e in estimates], [e[1] for e in estimates]
        columns += ["oob", "b632", "b632plus", "n_oob"]
        calibration, curve = _calibration_frames(study, models, apparent_pred, runs_frame, grids,
                                                 {m: [done[b][2][m] for b in sorted(done) if m in done[b][2]]
                                                  for m in models})
    resamples = pd.DataFrame(drawn, columns=["resample", "fitted", "error", *families]).set_index("resample")
    return OptimismResult(table=table[columns].rename_axis("model"), runs=runs_frame,
                          resamples=resamples, requested=n_boot, stopped=stopped, calibration=calibration,
                          calibration_curve=curve)


def cv_fold(study: Study, index: int, fit_ids: Sequence[str], held_ids: Sequence[str],
            n_folds: int) -> list[dict]:
    """One fold of :func:`repeated_cv_auc`: the whole pipeline refitted on the training patients ``fit_ids``
    and scored on ``held_ids``. A pure top-level function of its arguments.

    ``index`` is the fold's 0-based position over all repeats (repeat ``index // n_folds + 1``, fold
    ``index % n_folds + 1``). Returns one row per refitted model and measure of the outcome type (``repeat``,
    ``fold``, ``model``, [``measure``,] the held-out value: ``auc`` for a binary outcome, ``value`` else),
    none when the pipeline cannot be refitted on these patients, none for a measure that cannot be estimated
    on the held-out patients. The last row is the fold's record (:data:`FOLD_RECORD` set: the error that
    stopped the refit, else ""; ``refitted``: the models refitted; ``notes``: the refit's notes, which say why a
    model was not), which :func:`repeated_cv_auc` keeps apart, so that no fold is left out unsaid.
    """
    base = {"repeat": index // n_folds + 1, "fold": index % n_folds + 1}
    try:
        fitted = fit_study(_training_only(study, list(fit_ids)))
    except RadNomoError as error:
        return [{**base, FOLD_RECORD: str(error), "refitted": [], "notes": []}]
    held = list(held_ids)
    predictions = fitted.predict(study.cohort.loc[held], study.feature_tables())
    measures = measures_for(study.spec.outcome)
    return [*(row for m in fitted.model_names for row in _scored(
        measures, study, study.cohort.loc[held], predictions.loc[held, m], measures.columns["held_out"], base, m)),
        {**base, FOLD_RECORD: "", "refitted": list(fitted.model_names), "notes": list(fitted.notes)}]


def repeated_cv_auc(study: Study, *, n_folds: int = 5, n_repeats: int = 2, seed: int = 0,
                    on_progress: ResampleProgress | None = None,
                    should_stop: Callable[[], bool] | None = None, where: object = None) -> pd.DataFrame:
    """Repeated stratified K-fold CV of the whole pipeline on the study's training cohort.

    Returns one row per repeat, fold and model (and measure): ``repeat``, ``fold``, ``model``, the measure on
    the held-out fold with everything refitted on the other folds (a binary outcome: ``auc``; a time-to-event
    one: ``measure`` and ``value``, see :func:`cv_fold`), in repeat and fold order. The folds are stratified by
    :meth:`core.stats.outcomes.Outcome.strata` (the event). A fold where the pipeline cannot be refitted has no
    rows (a model that cannot be refitted in a fold has none for it, nor a measure it cannot estimate).
    Every fold is drawn up front from ``seed`` and is one call of :func:`cv_fold`, so the rows are
    identical wherever they run (``where``, ``on_progress`` as in :func:`optimism_corrected_auc`).
    ``should_stop`` is checked between folds: the folds done until it returns True are returned. The
    frame's ``attrs["folds_run"]`` counts the folds run (fitted or not) and ``attrs["folds"]`` lists their
    records (:func:`cv_fold`'s last row: ``repeat``, ``fold``, ``error``, ``refitted``, ``notes``), which
    :func:`cv_fold_notes` puts in words.
    """
    from sklearn.model_selection import RepeatedStratifiedKFold

    train_ids = np.array(study.train_ids)
    strata = study.spec.outcome.strata(study.train).to_numpy()
    splitter = RepeatedStratifiedKFold(n_splits=n_folds, n_repeats=n_repeats, random_state=seed)
    jobs = [(index, train_ids[fit_rows].tolist(), train_ids[held_rows].tolist(), n_folds)
            for index, (fit_rows, held_rows) in enumerate(splitter.split(train_ids, strata))]
    with resample_runner(where) as runner:
        done, _ = runner.run(cv_fold, study, jobs, on_progress=on_progress, should_stop=should_stop)
    rows = [row for index in sorted(done) for row in done[index] if FOLD_RECORD not in row]
    measures = measures_for(study.spec.outcome)
    frame = pd.DataFrame(rows, columns=["repeat", "fold", *_keys(measures), measures.columns["held_out"]])
    frame.attrs["folds_run"] = len(done)
    # Plain lists and dicts, not a frame: pandas compares attrs when it concatenates frames.
    frame.attrs["folds"] = [row for index in sorted(done) for row in done[index] if FOLD_RECORD in row]
    return frame


def summarise_cv(runs: pd.DataFrame) -> pd.DataFrame:
    """Per model: mean, SD, minimum and maximum held-out AUC over every repeat and fold, and the count.

    ``runs``: :func:`repeated_cv_auc`. For an outcome with named measures (a ``measure`` column), per model and
    measure: index model, then the ``measure`` column (the models and measures in the order of ``runs``).
    """
    if MEASURE not in runs.columns:
        grouped = runs.groupby("model", sort=False)["auc"]
        return pd.DataFrame({"mean": grouped.mean(), "sd": grouped.std(ddof=1), "min": grouped.min(),
                             "max": grouped.max(), "folds": grouped.size()})
    grouped = runs.groupby(["model", MEASURE], sort=False)["value"]
    return pd.DataFrame({"mean": grouped.mean(), "sd": grouped.std(ddof=1), "min": grouped.min(),
                         "max": grouped.max(), "folds": grouped.size()}).reset_index(MEASURE)


def validation_table(aucs: pd.DataFrame, models: Sequence[str], optimism: pd.DataFrame | None = None,
                     cv: pd.DataFrame | None = None) -> pd.DataFrame:
    """Apparent (training), test, optimism-corrected and cross-validated AUC per model, side by side.

    ``aucs``: :func:`core.stats.summaries.auc_table` (rows "train" and, when there is one, "test").

    For an outcome with named measures (time to event: ``optimism`` or ``cv`` with a ``measure`` column) one
    row per model and measure (index model, then the ``measure`` column, then the same columns): ``aucs`` is
    then :func:`discrimination_table` (columns ``model``, ``measure``, ``train``[, ``test``]), or None, when
    the apparent value is the bootstrap's own (the same fit on the same training patients) and no test
    column is shown.
    """
    if any(frame is not None and MEASURE in frame.columns for frame in (aucs, optimism, cv)):
        return _measure_table(aucs, models, optimism, cv)
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


# The columns of resampling_summary, by what they hold (the page, the report and the CSV name them so).
RESAMPLING_COLUMNS = {"apparent": "apparent AUC", "corrected": "Harrell optimism-corrected AUC",
                      "oob": "out-of-bag AUC", "b632": ".632 AUC", "b632plus": ".632+ AUC",
                      "slope_apparent": "calibration slope (apparent)",
                      "slope": "calibration slope (optimism-corrected)",
                      "intercept_apparent": "calibration intercept (apparent)",
                      "intercept": "calibration intercept (optimism-corrected)",
                      "brier_apparent": "Brier score (apparent)", "brier": "Brier score (optimism-corrected)",
                      "n_boot": "resamples", "n_oob": "resamples with out-of-bag AUC"}


def resampling_summary(optimism: pd.DataFrame | None, calibration: pd.DataFrame | None,
                       models: Sequence[str]) -> pd.DataFrame:
    """Per model, the bootstrap's discrimination and calibration side by side (a binary outcome's run).

    Parameters
    ----------
    optimism : pandas.DataFrame or None
        :class:`OptimismResult` ``table`` (with ``oob``, ``b632``, ``b632plus`` when computed).
    calibration : pandas.DataFrame or None
        :class:`OptimismResult` ``calibration``.
    models : sequence of str
        The models, in the order to show.

    Returns
    -------
    pandas.DataFrame
        Index model; the :data:`RESAMPLING_COLUMNS` the run has, named as there (AUC and calibration intercept and
        slope unitless, Brier score a squared probability). Empty when the run has neither (time to event, or a run
        saved before them).
    """
    parts: dict[str, pd.Series] = {}
    if optimism is not None and "b632" in optimism.columns:
        for key in ("apparent", "corrected", "oob", "b632", "b632plus"):
            parts[key] = optimism[key]
    if calibration is not None and len(calibration):
        for measure in CALIBRATION_INDEXES:
            rows = calibration[calibration[MEASURE] == measure]
            parts[f"{measure}_apparent"], parts[measure] = rows["apparent"], rows["corrected"]
    if optimism is not None and "b632" in optimism.columns:
        parts["n_boot"], parts["n_oob"] = optimism["n_boot"], optimism["n_oob"]
    if not parts:
        return pd.DataFrame(columns=[]).rename_axis("model")
    order = [key for key in RESAMPLING_COLUMNS if key in parts]
    table = pd.DataFrame({RESAMPLING_COLUMNS[key]: parts[key] for key in order})
    return table.loc[[m for m in models if m in table.index]].rename_axis("model")


def calibration_optimism_notes(study: Study, run: InternalValidation) -> list[str]:
    """The bootstrap's .632/.632+ and calibration optimism in sentences: what each is, that the apparent
    calibration intercept and slope are 0 and 1 by construction (or which model's are not), and resamples whose
    out-of-bag patients held one class; empty for a run without them."""
    notes = []
    optimism, calibration = run.optimism, run.calibration
    if optimism is not None and "b632" in optimism.columns:
        notes.append("The .632 and .632+ bootstrap AUC (Efron & Tibshirani 1997) weigh the apparent AUC with the mean "
                     "AUC of each resample's models on the training patients that resample did not draw "
                     "(out-of-bag): .632 = 0.368 x apparent + 0.632 x out-of-bag; .632+ raises the out-of-bag weight "
                     "as the relative overfitting rate grows (no-information AUC 0.5). Harrell's correction is the "
                     "one rms reports; with strong overfitting (many candidate features) the .632+ is usually the "
                     "lower, more conservative estimate.")
        short = optimism[optimism["n_oob"] < optimism["n_boot"]]
        for model, row in short.iterrows():
            notes.append(f"{study.model_label(str(model))}: {int(row['n_boot'] - row['n_oob'])} of "
                         f"{int(row['n_boot'])} resamples' out-of-bag patients held one outcome class only; they "
                         f"are {OOB_TREATMENT}.")
    if calibration is not None and len(calibration):
        notes.append("Calibration optimism as rms::validate and rms::calibrate estimate it, but with the whole "
                     "pipeline (screening, LASSO, models) refitted in each resample: each resample's models are "
                     "recalibrated (logistic regression of the outcome on their logit) on the original training "
                     "cohort; the "
                     "optimism-corrected slope is the mean of those slopes (below 1: predictions too extreme on new "
                     "patients, shrink them) and the corrected calibration curve is the apparent smoothed curve minus "
                     "its mean optimism (Harrell 2015).")
        refitted = optimism["n_boot"] if optimism is not None else None
        for model, row in calibration.iterrows():
            if refitted is not None and model in refitted.index and row["n_boot"] < refitted[model]:
                notes.append(f"{study.model_label(str(model))}: the calibration {row[MEASURE]} could be estimated in "
                             f"{int(row['n_boot'])} of the {int(refitted[model])} resamples where the model was "
                             "refitted (the recalibration did not converge, e.g. separation, in the others); the "
                             f"others are {UNESTIMABLE_TREATMENT}.")
        fixed = calibration[calibration[MEASURE].isin(["intercept", "slope"])]
        off = sorted({str(m) for m, row in fixed.iterrows()
                      if abs(row["apparent"] - CALIBRATION_INDEXES[row[MEASURE]]) > BY_CONSTRUCTION})
        notes.append("The apparent (training) calibration intercept and slope are 0 and 1 by construction (a "
                     "logistic model recalibrated on its own training patients) and say nothing about calibration"
                     + ("." if not off else "; except for " + ", ".join(study.model_label(m) for m in off)
                        + ", whose predictions are not a maximum-likelihood logistic fit on them."))
    return notes


def _measure_table(measured: pd.DataFrame | None, models: Sequence[str], optimism: pd.DataFrame | None,
                   cv: pd.DataFrame | None) -> pd.DataFrame:
    """:func:`validation_table` for an outcome with named measures: one row per model and measure."""
    parts = []
    if measured is not None and MEASURE in measured.columns:
        base = measured.set_index(["model", MEASURE])
        parts.append(base[["train"]].rename(columns={"train": "apparent (training)"}))
        if "test" in base.columns:
            parts.append(base[["test"]])
    elif optimism is not None:
        parts.append(optimism.set_index(MEASURE, append=True)[["apparent"]].rename(
            columns={"apparent": "apparent (training)"}))
    if optimism is not None:
        indexed = optimism.set_index(MEASURE, append=True)
        parts.append(indexed[["optimism", "corrected", "n_boot"]].rename(
            columns={"corrected": "optimism-corrected", "n_boot": "resamples"}))
    if cv is not None and len(cv):
        summary = summarise_cv(cv).set_index(MEASURE, append=True)
        parts.append(summary[["mean", "sd"]].rename(columns={"mean": "repeated CV (mean)",
                                                              "sd": "repeated CV (SD)"}))
    if not parts:
        return pd.DataFrame(columns=[MEASURE]).rename_axis("model")
    table = pd.concat(parts, axis=1, sort=False)
    # The models in their order, each model's measures in the order they were first given.
    order = [key for model in models for key in table.index if key[0] == model]
    return table.loc[order].rename_axis(["model", MEASURE]).reset_index(MEASURE)


def discrimination_table(study: Study, predictions: pd.DataFrame, models: Sequence[str]) -> pd.DataFrame:
    """Each model's discrimination in the training and (when the study has one) the test cohort, by the outcome
    type's measures (:func:`core.stats.discrimination.measures_for`): the ``aucs`` that :func:`validation_table`
    takes for this study, whatever its outcome type.

    Parameters
    ----------
    predictions : pandas.DataFrame
        :func:`core.workflows.fit.predict_study` (a model's column: its probability, or its linear predictor).
    models : sequence of str
        The models to measure (columns of ``predictions``).

    Returns
    -------
    pandas.DataFrame
        For an outcome with named measures (time to event): ``model``, ``measure``, ``train``[, ``test``]
        (unitless, 0-1; NaN where a measure cannot be estimated in that cohort, e.g. no event by a horizon).
        For the binary outcome, :func:`core.stats.summaries.auc_table` as before (rows cohort, columns model).
    """
    measures = measures_for(study.spec.outcome)
    if not measures.named:
        from core.stats.summaries import auc_table

        return auc_table(predictions, study.outcome, study.cohorts(), models)
    cohorts = study.cohorts()
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for name, ids in cohorts.items():
        frame = study.cohort.loc[list(ids)]
        for model in models:
            values = measures.score(study.spec.outcome, frame, predictions.loc[list(ids), model], False)
            for label, value in values.items():
                rows.setdefault((model, label), {})[name] = value
    table = pd.DataFrame.from_dict(rows, orient="index")
    return table.rename_axis(["model", MEASURE]).reset_index()[["model", MEASURE, *cohorts]]


def load_saved_validation(folder: Path, study: Study) -> dict | None:
    """A validation run saved by :func:`save_validation` in ``folder``, if it was made with this study's
    settings and training patients; else None. Returns {"optimism": table, "runs": ..., "cv": ..., "resamples": ...,
    "calibration": ..., "calibration_curve": ..., "meta": ...} (None for a part the run did not save: runs saved
    before resamples or calibration were recorded, or of an outcome without calibration)."""
    from core.io.limits import read_json_limited

    meta_path = folder / "validation.json"
    if not meta_path.is_file():
        return None
    meta = read_json_limited(meta_path, what="validation.json")  # size checked before parsing
    if not isinstance(meta, dict):
        raise RadNomoError(f"'{meta_path}' is not a saved validation run (not a JSON object).")
    # Settings saved before a setting existed read with its default (then compared as the study's are).
    from core.workflows.study import ModelSettings

    try:
        saved_settings = ModelSettings.from_dict(meta.get("settings") or {}).to_dict()
    except RadNomoError:
        return None
    if saved_settings != study.settings.to_dict() or meta.get("train_ids") != study.train_ids:
        return None
    resamples = folder / "resamples.csv"  # runs saved before resamples were counted have none
    calibration, curve = folder / "calibration.csv", folder / "calibration_curve.csv"  # nor before calibration
    return {"calibration": pd.read_csv(calibration, index_col="model") if calibration.is_file() else None,
            "calibration_curve": pd.read_csv(curve) if curve.is_file() else None,
            "optimism": pd.read_csv(folder / "optimism.csv", index_col="model"),
            "runs": _with_optimism(pd.read_csv(folder / "optimism_runs.csv")),
            "cv": pd.read_csv(folder / "repeated_cv.csv"),
            "resamples": pd.read_csv(resamples, index_col="resample", keep_default_na=True).fillna({"error": ""})
            if resamples.is_file() else None,
            "meta": meta}


def save_validation(folder: Path, study: Study, result: OptimismResult, cv: pd.DataFrame, meta: dict) -> None:
    """Write a validation run (optimism table, every resample, the repeated CV and what made them) to ``folder``."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    result.table.to_csv(folder / "optimism.csv", index_label="model")
    result.runs.to_csv(folder / "optimism_runs.csv", index=False)
    result.resamples.to_csv(folder / "resamples.csv", index_label="resample")
    for path in (folder / "calibration.csv", folder / "calibration_curve.csv"):
        path.unlink(missing_ok=True)  # an earlier run's, when this one has none
    if result.calibration is not None:
        result.calibration.to_csv(folder / "calibration.csv", index_label="model")
    if result.calibration_curve is not None:
        result.calibration_curve.to_csv(folder / "calibration_curve.csv", index=False)
    cv.to_csv(folder / "repeated_cv.csv", index=False)
    meta = {"settings": study.settings.to_dict(), "train_ids": study.train_ids, "scheme": BOOTSTRAP_SCHEME, **meta}
    (folder / "validation.json").write_text(json.dumps(meta, indent=1))


# ---------------------------------------------------------------------------------------------
# The study's latest run: kept with the study, described in words
# ---------------------------------------------------------------------------------------------


def _current(study: Study) -> InternalValidation:
    return study_validation(study) or InternalValidation(key=study.validation_key)


def with_bootstrap(study: Study, result: OptimismResult, *, seed: int) -> Study:
    """The study with ``result`` as its latest bootstrap (its current repeated CV, if any, kept)."""
    import dataclasses

    run = _current(study)
    meta = {**run.meta, "bootstrap": {"scheme": BOOTSTRAP_SCHEME, "requested": int(result.requested or len(
        result.resamples)), "done": int(len(result.resamples)), "seed": int(seed), "stopped": bool(result.stopped)}}
    return study.replace(validation=dataclasses.replace(run, optimism=result.table, runs=result.runs,
                                                        resamples=result.resamples, meta=meta,
                                                        calibration=result.calibration,
                                                        calibration_curve=result.calibration_curve))


def with_cv(study: Study, cv: pd.DataFrame, *, folds: int, repeats: int, seed: int, stopped: bool = False) -> Study:
    """The study with ``cv`` (:func:`repeated_cv_auc`) as its latest repeated CV (its current bootstrap kept)."""
    import dataclasses

    run = _current(study)
    done = int(cv.attrs.get("folds_run", cv[["repeat", "fold"]].drop_duplicates().shape[0]))
    meta = {**run.meta, "cv": {"folds": int(folds), "repeats": int(repeats), "seed": int(seed),
                               "requested": int(folds * repeats), "done": done, "stopped": bool(stopped)}}
    return study.replace(validation=dataclasses.replace(run, cv=cv, meta=meta))


def study_validation(study: Study) -> InternalValidation | None:
    """The study's latest internal validation when it fits the study as it is; for the sample study with its
    default settings, the run bundled in ``sample_data/validation``; else None."""
    current = study.current_validation()
    if current is not None or not study.is_sample:
        return current
    from core.workflows.sample import SAMPLE_VALIDATION_DIR

    saved = load_saved_validation(SAMPLE_VALIDATION_DIR, study)
    if saved is None:
        return None
    meta = saved["meta"]
    source = meta["command"]  # each part says it was computed in advance, and how
    return InternalValidation(
        key=study.validation_key, optimism=saved["optimism"], runs=saved["runs"], resamples=saved["resamples"],
        cv=saved["cv"], calibration=saved["calibration"], calibration_curve=saved["calibration_curve"],
        meta={"bootstrap": {"scheme": meta.get("scheme", BOOTSTRAP_SCHEME), "requested": meta["n_boot"],
                            "done": meta["n_boot"], "seed": meta["seed"], "stopped": False, "source": source},
              "cv": {"folds": meta["folds"], "repeats": meta["repeats"], "seed": meta["seed"],
                     "requested": meta["folds"] * meta["repeats"], "done": meta["folds"] * meta["repeats"],
                     "stopped": False, "source": source}})


def validation_notes(study: Study, run: InternalValidation) -> list[str]:
    """The run in sentences: the resampling scheme and its size, what was stopped, how many resamples kept
    no feature (per score) or could not be refitted, and how they are treated; the CV design."""
    notes = []
    boot = run.meta.get("bootstrap")
    if run.optimism is not None and boot:
        done, requested = boot["done"], boot["requested"]
        notes.append(f"Harrell's bootstrap optimism correction: {boot['scheme']} of the training cohort (the events "
                     "and the non-events each resampled with replacement), "
                     + (f"{done} resamples" if not boot.get("stopped") else
                        f"stopped by the user after {done} of {requested} resamples (those are kept)")
                     + f", seed {boot['seed']}; the whole pipeline was refitted in each"
                     + (f" (computed in advance for the sample study: {boot['source']})." if boot.get("source")
                        else "."))
        resamples = run.resamples
        if resamples is not None and len(resamples):
            failed = resamples[~resamples["fitted"].astype(bool)]
            if len(failed):
                notes.append(f"{len(failed)} of {len(resamples)} resamples could not be refitted at all (e.g. "
                             f"'{failed['error'].iloc[0]}') and are left out of every model.")
            fitted = resamples[resamples["fitted"].astype(bool)]
            fused_family = study.fused_family
            for family in [c for c in resamples.columns if c not in ("fitted", "error")]:
                empty = int((fitted[family] == 0).sum())
                if not empty:
                    continue
                label = study.model_label(family)
                also = " (and of the fused model's, which adds that score)" if family == fused_family and \
                    "fused" in run.optimism.index else ""
                notes.append(f"{label}: {len(fitted) - empty} of {len(fitted)} resamples kept at least one feature; "
                             f"in the other {empty} its LASSO kept none, so they are {EMPTY_TREATMENT}{also}.")
            if not any(int((fitted[c] == 0).sum()) for c in resamples.columns if c not in ("fitted", "error")) \
                    and not len(failed):
                notes.append("Every resample kept at least one feature for every score.")
        else:
            notes.append("This run did not record how many resamples kept no feature; the 'resamples' column counts "
                         f"those where each model was refitted (the others are {EMPTY_TREATMENT}).")
        if run.runs is not None:
            notes.extend(_unestimable_notes(study, run.runs, ["resample"], "resamples"))
    cv = run.meta.get("cv")
    if run.cv is not None and cv:
        notes.append(f"Repeated stratified cross-validation: {cv['repeats']} x {cv['folds']}-fold, seed {cv['seed']}"
                     + (f", stopped by the user after {cv['done']} of {cv['requested']} folds" if cv.get("stopped")
                        else "") + "; the whole pipeline was refitted on the other folds and scored on the held-out one"
                     + (f" (computed in advance for the sample study: {cv['source']})." if cv.get("source") else "."))
        notes.extend(cv_fold_notes(study, run.cv))
        notes.extend(_unestimable_notes(study, run.cv, ["repeat", "fold"], "folds"))
    return notes


def cv_fold_notes(study: Study, cv: pd.DataFrame) -> list[str]:
    """The folds of ``cv`` (:func:`repeated_cv_auc`) where the pipeline, or a model, could not be refitted, in
    words with the reason (the refit's own error or note); empty when every model was refitted in every fold, or
    when ``cv`` no longer has its fold records (a run read back from files)."""
    records = cv.attrs.get("folds") or []
    if not records:
        return []
    notes = []
    failed = [r for r in records if r[FOLD_RECORD]]
    if failed:
        notes.append(f"Repeated CV: the pipeline could not be refitted in {len(failed)} of {len(records)} folds (e.g. "
                     f"'{failed[0][FOLD_RECORD]}'); those folds have no value for any model.")
    fitted = [r for r in records if not r[FOLD_RECORD]]
    models = list(dict.fromkeys(m for r in fitted for m in r["refitted"]))
    for model in models:
        missing = [r for r in fitted if model not in r["refitted"]]
        if not missing:
            continue
        # The refit says why in a note of its own, "<model>: ..." (fit_models' notes)
        why = next((n.split(": ", 1)[1] for r in missing for n in r["notes"] if n.startswith(f"{model}: ")), "")
        notes.append(f"Repeated CV: {study.model_label(model)} was refitted in {len(fitted) - len(missing)} of the "
                     f"{len(fitted)} folds where the pipeline was" + (f" (in the others, e.g. '{why}')" if why else "")
                     + "; its held-out values (their mean, SD and count) are over those folds only.")
    return notes


def _unestimable_notes(study: Study, rows: pd.DataFrame, unit: list[str], word: str) -> list[str]:
    """For frames with named measures: each model's measure that could not be estimated in some of the
    resamples (folds) where the model was refitted, in words (how many, and how they are treated)."""
    if MEASURE not in rows.columns or rows.empty:
        return []
    notes = []
    for model, of_model in rows.groupby("model", sort=False):
        refitted = len(of_model[unit].drop_duplicates())
        for measure, count in of_model.groupby(MEASURE, sort=False).size().items():
            if count < refitted:
                notes.append(f"{study.model_label(str(model))}: {measure} could be estimated in {count} of the "
                             f"{refitted} {word} where the model was refitted (e.g. no event by the horizon, or no "
                             f"patient followed beyond it, among their patients); the others are "
                             f"{UNESTIMABLE_TREATMENT}.")
    return notes
