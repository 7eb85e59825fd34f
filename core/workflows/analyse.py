"""A whole study from files, without the dashboard: for scripts and reproducible papers.

:func:`analyse` takes a clinical table, feature tables (or CTs and masks to extract them from), external
cohorts and the choices a user makes on the pages, fits everything on the training patients, evaluates
it (Table 2 on every cohort; repeated cross-validation and the bootstrap when there is no test cohort,
or when asked) and writes the tables, the report and the saved study, which the dashboard opens.
The command line is :mod:`core.cli.analyse`.

The study's outcome decides what is evaluated and written, through the registries below (one entry per outcome
kind of :data:`core.vocabulary.OUTCOME_KINDS`): a binary outcome's Table 2 (AUC with DeLong CI, metrics at the
cut-off); a time-to-event outcome's :class:`core.workflows.survival_evaluation.SurvivalEvaluation` (Harrell's C,
time-dependent AUC and the metrics at each horizon) with its long predictions and the nomogram's survival axes.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pandas as pd

from core.errors import RadNomoError
from core.io.tables import read_any_table
from core.stats.cohort import CohortSpec, SplitConfig, suggest_clinical_variables, with_row_ids
from core.stats.discrimination import MEASURE
from core.stats.feature_tables import FeatureTableImport, excluded_columns, import_feature_table, parse_exclusions
from core.stats.outcomes import BinaryOutcome, Outcome
from core.stats.summaries import table2
from core.vocabulary import ROW_ID_COLUMN, check_name, horizon_column
from core.workflows.checks import never_features
from core.workflows.evaluation import StudyEvaluation, evaluate_cohorts
from core.workflows.model_comparison import RECLASSIFICATION_COLUMNS, default_pair, reclassification_pairs
from core.workflows.sample_size import study_sample_size
from core.workflows.external import ExternalCohort, outside_range_notes, pooled_predictions, validate_external
from core.workflows.fit import StudyModels
from core.workflows.participant_flow import participant_flow
from core.workflows.persistence import save_study
from core.workflows.report import study_facts
from core.workflows.results import StudyResults
from core.workflows.study import default_family_label as family_label
from core.workflows.study_checklists import (CHECKLIST_ANSWERS, CHECKLIST_COLUMNS, probast_assessment, study_checklist,
                                             study_metrics)
from core.workflows.study import CombinedFamily, EvaluationSettings, FeatureFamily, ModelSettings, Study, make_study
from core.workflows.survival_evaluation import evaluate_survival_analysis
from core.workflows.validation import (optimism_corrected_auc, repeated_cv_auc, summarise_cv, validation_notes,
                                       with_bootstrap, with_cv)

__all__ = ["ExternalSpec", "AnalysisResult", "read_features", "analyse", "write_outputs", "summary_tables",
           "report_status", "OUTCOME_OPTIONS"]

#: The command line's options naming each outcome kind's columns, in the order of ``outcome.columns``
#: (what the messages about a column name).
OUTCOME_OPTIONS: dict[str, tuple[str, ...]] = {"binary": ("--outcome",), "survival": ("--time", "--event")}


@dataclass(frozen=True)
class ExternalSpec:
    """An external cohort as files: its clinical table and a feature table per family."""

    name: str
    clinical: Path
    features: dict[str, Path] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class AnalysisResult:
    """Everything :func:`analyse` made.

    ``results``: :class:`core.workflows.results.StudyResults` of ``study`` (the fit seeded, nothing refitted);
    ``table2``: per cohort (train, [test], each external) and model, AUC with DeLong CI and the metrics
    at the training Youden cut-off (a time-to-event study: :meth:`SurvivalEvaluation.table2`, Harrell's C with
    its CI, then per horizon the time-dependent AUC and the metrics at the training median linear predictor);
    ``validation``: per model (and, time to event, per measure) the apparent value, bootstrap optimism and
    corrected value, and the repeated-CV mean (empty when not run); ``imports``: what each feature
    table's import left out; ``seconds``: time per stage.

    ``evaluation`` is the evaluation of every cohort (externals included; on train and test the numbers of
    ``results.evaluation``): a binary study's :class:`core.workflows.evaluation.StudyEvaluation` (calibration with
    CIs, flexible calibration, decision curves with bootstrap bands), a time-to-event study's
    :class:`core.workflows.survival_evaluation.SurvivalEvaluation`; ``cohort_predictions`` the long table it was
    computed from (binary: cohort, id, model, outcome, probability; time to event:
    :func:`core.workflows.survival_evaluation.cohort_predictions`: cohort, id, model, time, event,
    linear_predictor, surv_<h>).
    """

    study: Study
    models: StudyModels
    predictions: pd.DataFrame
    table2: pd.DataFrame
    validation: pd.DataFrame
    imports: dict[str, FeatureTableImport]
    externals: tuple[ExternalCohort, ...]
    seconds: dict[str, float]
    results: StudyResults | None = None  # the final study's stages (its report, nomogram), sharing the fit's store
    evaluation: Any = None  # the evaluation of every cohort, externals included
    cohort_predictions: pd.DataFrame | None = None  # its long predictions (predictions.csv)


def _read(path: Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise RadNomoError(f"'{path}' does not exist or is not a file.")
    return read_any_table(path.read_bytes(), path.name)


def read_features(name: str, path: Path, cohort_ids: Sequence[str], id_column: str, *,
                  outcome_column: str | Sequence[str] | None = None, clinical: Sequence[str] = (),
                  excluded: Sequence[str] = (), expected_rows: int | None = None) -> FeatureTableImport:
    """A feature table file imported for the cohort: metadata, text and constant columns, and the columns that
    must never be features (the ID, ``outcome_column`` (or the outcome's columns), the ``clinical`` variables, the
    ``excluded`` names and patterns), left out and listed. ``expected_rows`` (the clinical table's row count, with
    row numbers as IDs): the table's rows are numbered as IDs and must be as many
    (:func:`core.stats.cohort.with_row_ids`)."""
    check_name("feature family", name)
    table = _read(path)
    if expected_rows is not None:
        table = with_row_ids(table, expected_rows=expected_rows, what=f"{name} feature table ({Path(path).name})")
    return import_feature_table(table, cohort_ids, name=f"{name} feature table ({Path(path).name})",
                                id_column=id_column, outcome_column=outcome_column, clinical=clinical,
                                excluded=excluded)


def _study_outcome(outcome_column: str | None, outcome: Outcome | None) -> Outcome:
    """The outcome of :func:`analyse`: ``outcome`` itself, or the binary outcome of ``outcome_column``; one of them.

    Raises
    ------
    RadNomoError
        Both given, or neither.
    """
    if (outcome_column is None) == (outcome is None):
        raise RadNomoError("give the study's outcome once: a binary outcome column (--outcome COL), or a time and an "
                           "event column with horizons for a time-to-event outcome (--time COL --event COL "
                           "--horizons 12,36,60)." if outcome is None else
                           f"give the study's outcome once: --outcome '{outcome_column}' or the time-to-event "
                           f"outcome ({outcome.describe()}), not both.")
    return outcome if outcome is not None else BinaryOutcome(str(outcome_column))


def analyse(*, clinical: Path, id_column: str | None = None, outcome_column: str | None = None,
            outcome: Outcome | None = None,
            continuous: Sequence[str] | None = None,
            categorical: Sequence[str] | None = None, features: Mapping[str, Path] | None = None,
            combined: Mapping[str, Sequence[str]] | None = None, externals: Sequence[ExternalSpec] = (),
            split: SplitConfig | None = None, settings: ModelSettings | None = None, drop_missing: bool = False,
            name: str | None = None, n_boot: int | None = None, cv_folds: int = 5, cv_repeats: int = 5,
            seed: int = 0, extra_families: Sequence[FeatureFamily] = (), clinical_model: Sequence[str] | None = None,
            exclude: Sequence[str] = (), row_ids: bool = False, evaluation: EvaluationSettings | None = None,
            on_step: Callable[[str], None] | None = None) -> AnalysisResult:
    """Run a whole study from files.

    Parameters
    ----------
    clinical : path
        The clinical table (CSV, TSV, XLSX or Parquet), one row per patient.
    id_column : str
    outcome_column : str, optional
        A binary outcome's 0/1 column (1 = event).
    outcome : core.stats.outcomes.Outcome, optional
        Any outcome instead, e.g. a :class:`core.stats.outcomes.SurvivalOutcome` (time and event columns, time
        unit, horizons); exactly one of ``outcome_column`` and ``outcome``.
    continuous, categorical : sequence of str, optional
        The clinical variables; guessed from the table when both are None (numeric with more than 8
        values: continuous; up to 12 levels: categorical), the ID and outcome columns left out.
    features : mapping, optional
        Family name -> feature table file.
    combined : mapping, optional
        Combined family name -> its member families (e.g. {"dl_radiomics": ["radiomics", "dl"]}).
    externals : sequence of ExternalSpec
    split : SplitConfig, optional
        The design: a 7:3 split by default; ``SplitConfig(test_size=0)`` trains on every patient.
    settings : ModelSettings, optional
        Screening, missing-value policy, clinical predictors, fused score, harmonisation.
    drop_missing : bool
        Take the patients with a missing value out of the study (recorded), instead of imputing.
    n_boot : int, optional
        Bootstrap resamples for the optimism-corrected AUC (time to event: Harrell's C and the AUC at each
        horizon) with repeated CV; default 200 without a test cohort, 0 (not run) with one.
    extra_families : sequence of FeatureFamily
        Families made elsewhere (e.g. extracted from images by the command line).
    clinical_model : sequence of str, optional
        The clinical model's predictors (default: every variable with univariable p < 0.05).
    exclude : sequence of str
        Column names and glob patterns (e.g. "lm_type", "diagnostics_*") kept out of every feature family
        (added to ``settings.excluded_features``, saved with the study) and out of the guessed clinical
        variables. The same file may be given as ``clinical`` and as a ``features`` table (one table holding
        everything): its ID, outcome and clinical columns are then left out of the family, which takes the rest;
        name the clinical variables (``continuous``/``categorical``) in that case.
    row_ids : bool
        The tables have no ID column: their rows are numbered "1".."n" as IDs (instead of ``id_column``), and
        the clinical and every feature table are matched row by row, so they must have as many rows (an
        external cohort's tables likewise among themselves). Rows with a blank ID (with ``id_column``) are
        left out and counted in the notes, in any table.
    evaluation : EvaluationSettings, optional
        The cut-off rule, its value and the proportion-CI method of Table 2 and the report (saved with the
        study); Youden's index on the training cohort and Wald intervals by default. A binary outcome's only: a
        time-to-event study's risk groups split at the training median linear predictor.

    Raises
    ------
    RadNomoError
        For any bad input, with one specific message.
    """
    seconds: dict[str, float] = {}
    start = time.perf_counter()

    def note(stage: str) -> None:
        nonlocal start
        seconds[stage] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        if on_step:
            on_step(f"{stage}: {seconds[stage]:.1f} s")

    study_outcome = _study_outcome(outcome_column, outcome)
    if evaluation is not None and study_outcome.kind not in _PERFORMANCE_USES_CUTOFF_RULE:
        raise RadNomoError("the cut-off rule and the proportion intervals (--cutoff, --ci) apply to a binary outcome; "
                           "a time-to-event study's risk groups split at the training median linear predictor.")
    table = _read(clinical)
    clinical_rows = None  # with row numbers as IDs: the count every feature table must match
    if row_ids:
        if id_column not in (None, ROW_ID_COLUMN):
            raise RadNomoError(f"give an ID column (--id '{id_column}') or row numbers as IDs (--row-ids), not both.")
        table = with_row_ids(table, what=f"clinical table ({Path(clinical).name})")
        id_column, clinical_rows = ROW_ID_COLUMN, len(table)
    elif id_column is None:
        raise RadNomoError(f"name the patient ID column of {Path(clinical).name} (--id), or use row numbers as IDs "
                           "(--row-ids) when it has none.")
    outcome_columns = tuple(study_outcome.columns)
    if id_column not in table.columns or any(c not in table.columns for c in outcome_columns):
        options = OUTCOME_OPTIONS.get(study_outcome.kind, ("the outcome",) * len(outcome_columns))
        named = [f"--id '{id_column}'", *(f"{o} '{c}'" for o, c in zip(options, outcome_columns, strict=True))]
        raise RadNomoError(f"{', '.join(named[:-1])} and {named[-1]} must be columns of "
                           f"{Path(clinical).name}; it has {list(table.columns)[:12]}.")
    excluded = (*(settings.excluded_features if settings else ()), *parse_exclusions(exclude))
    excluded = tuple(dict.fromkeys(excluded))
    if continuous is None and categorical is None:
        same = [f for f, p in (features or {}).items() if Path(p).resolve() == Path(clinical).resolve()]
        if same:
            raise RadNomoError(f"{Path(clinical).name} is both the clinical table and the '{same[0]}' feature table: "
                               "name its clinical variables with --continuous/--categorical (an empty "
                               "--continuous '' for none); its other numeric columns become the feature family.")
        # A feature table offered as the clinical table gets a handful of plausible variables, not ~1000.
        continuous, categorical = suggest_clinical_variables(
            table, exclude=[id_column, *outcome_columns, *excluded_columns(table.columns, excluded)])
    spec = CohortSpec(id_column=id_column, outcome=study_outcome, continuous=tuple(continuous or ()),
                      categorical=tuple(categorical or ()))
    settings = dataclasses.replace(settings or ModelSettings.for_outcome(study_outcome), excluded_features=excluded)
    base = make_study(name or Path(clinical).stem, table, spec, split or SplitConfig(), settings=settings)
    if clinical_model is not None:
        unknown = [c for c in clinical_model if c not in spec.variables]
        if unknown:
            raise RadNomoError(f"clinical model predictor(s) {unknown} are not clinical variables of the study "
                               f"({list(spec.variables)}).")
        base = base.with_settings(clinical_continuous=tuple(c for c in spec.continuous if c in clinical_model),
                                  clinical_categorical=tuple(c for c in spec.categorical if c in clinical_model))
    imports = {}
    families = list(extra_families)
    for family_name, path in (features or {}).items():
        imported = read_features(family_name, Path(path), base.cohort.index, id_column, outcome_column=outcome_columns,
                                 clinical=spec.variables, excluded=excluded, expected_rows=clinical_rows)
        imports[family_name] = imported
        families.append(FeatureFamily(name=family_name, label=family_label(family_name),
                                      table=imported.table, kind="imported", source=f"imported from {Path(path).name}"))
    combos = tuple(CombinedFamily(name=c, label=family_label(c, joiner="-"), members=tuple(m))
                   for c, m in (combined or {}).items())
    study = base.replace(families=tuple(families), combined=combos)
    if evaluation is not None:
        study = study.replace(evaluation=evaluation)
    if drop_missing:
        from core.stats.missing import patients_with_missing

        incomplete = patients_with_missing([study.cohort[list(spec.variables)], *(f.table for f in study.families)])
        if incomplete:
            study = study.without_patients(incomplete, "a missing value")
    share = study.settings.missing.patient_max_missing
    if share is not None:  # patients missing (nearly) every feature leave on their own; the rest are imputed
        from core.stats.missing import missing_features_reason, patients_missing_features

        sparse = patients_missing_features([f.table for f in study.families], share)
        if sparse:
            study = study.without_patients(sparse, missing_features_reason(share))
    note("reading")
    results = StudyResults(study)
    models, predictions = results.models, results.predictions
    note("fitting")
    external_cohorts = []
    for external in externals:
        tables = {f: _read(p) for f, p in external.features.items()}
        external_cohorts.append(validate_external(study, external.name, _read(external.clinical), tables, models))
    performance, full_evaluation, long = _PERFORMANCE[study.spec.outcome.kind](study, models, predictions,
                                                                               external_cohorts)
    note("evaluating")
    n_boot = (0 if study.has_test else 200) if n_boot is None else n_boot
    validation = pd.DataFrame()
    if n_boot:
        optimism = optimism_corrected_auc(study, n_boot=n_boot, seed=seed)
        cv = repeated_cv_auc(study, n_folds=cv_folds, n_repeats=cv_repeats, seed=seed)
        summary = summarise_cv(cv)
        if MEASURE in optimism.table.columns:  # one row per model and measure (time to event: C, AUC(t)...)
            validation = optimism.table.rename_axis("model").reset_index().merge(
                summary.add_prefix("cv_").rename(columns={f"cv_{MEASURE}": MEASURE}).rename_axis("model")
                .reset_index(), on=["model", MEASURE], how="left").set_index("model")
        else:
            validation = optimism.table.join(summary.add_prefix("cv_"), how="left")
        validation.index.name = "model"
        # Kept with the study: its saved folder and its report hold the run.
        study = with_cv(with_bootstrap(study, optimism, seed=seed), cv, folds=cv_folds, repeats=cv_repeats, seed=seed)
        note("validating")
    return AnalysisResult(study=study, models=models, predictions=predictions, table2=performance,
                          validation=validation, imports=imports, externals=tuple(external_cohorts), seconds=seconds,
                          results=StudyResults(study, results.store), evaluation=full_evaluation,
                          cohort_predictions=long)


def _survival_outputs(result: AnalysisResult, nomogram: Any, model: str) -> dict[str, pd.DataFrame]:
    """A time-to-event study's own files: its long predictions, time-dependent AUCs, nomogram survival axes,
    calibration statistics and decision curves at each horizon."""
    horizons = result.study.spec.outcome.horizons  # type: ignore[attr-defined]  # a SurvivalOutcome's
    axes = [nomogram.survival_axis(h).rename(columns={"survival": "value"}).assign(axis=horizon_column(h), horizon=h)
            for h in horizons]
    median = nomogram.median_axis()  # empty where the median survival is reached nowhere on the scale
    if len(median):
        axes.append(median.rename(columns={"median_time": "value"}).assign(axis="median", horizon=float("nan")))
    axes_table = pd.concat(axes, ignore_index=True).assign(model=model)
    return {"predictions.csv": cast(pd.DataFrame, result.cohort_predictions),  # _survival_performance made both
            "td_auc.csv": result.evaluation.td_auc[["cohort", "model", "horizon", "auc", "auc_low", "auc_high"]],
            "nomogram_axes.csv": axes_table[["model", "axis", "horizon", "total_points", "value"]],
            # At each horizon: the flexible calibration's ICI/E50/E90/Emax, the slope and O/E; the decision curves
            # with their bootstrap bands.
            "calibration.csv": result.evaluation.calibration_slope,
            "decision_curve.csv": result.evaluation.decision.drop(columns="treat_none")}


def _binary_outputs(result: AnalysisResult, nomogram: Any, model: str) -> dict[str, pd.DataFrame]:
    """A binary study's own files: its long predictions, calibration statistics, decision curves (with bootstrap
    bands) and reclassification of every model against the reference (the clinical model, else the first) in every
    cohort, externals included."""
    evaluation = result.evaluation
    long = cast(pd.DataFrame, result.cohort_predictions)
    names = result.models.model_names
    pair = default_pair(names, result.models.main_model)
    if pair is None:
        reclassification = pd.DataFrame(columns=list(RECLASSIFICATION_COLUMNS))
    else:
        # One key per patient of a cohort (an external patient's ID may repeat a study patient's).
        keyed = long.assign(key=list(zip(long["cohort"], long["id"], strict=True)))
        wide = keyed.pivot(index="key", columns="model", values="probability")
        outcome = keyed.drop_duplicates("key").set_index("key")["outcome"]
        cohorts = {c: list(dict.fromkeys(keyed.loc[keyed["cohort"] == c, "key"])) for c in evaluation.cohorts}
        reclassification = reclassification_pairs(wide, outcome, cohorts, names, pair[1])
    return {"predictions.csv": long,
            # every pair of models (scores, clinical, fused, comparators) per cohort: paired DeLong
            "delong.csv": evaluation.delong,
            "calibration.csv": evaluation.calibration,
            "decision_curve.csv": evaluation.decision.drop(columns="treat_none"),
            "reclassification.csv": reclassification}


#: Per outcome kind, the files it writes besides every study's: ``(result, nomogram, model) -> {file: table}``.
_KIND_OUTPUTS = {"binary": _binary_outputs, "survival": _survival_outputs}
#: Per outcome kind, the columns its coefficients.csv starts with (the others follow as the models' tables have them).
_COEFFICIENT_COLUMNS = {"survival": ("model", "term", "coef", "HR", "HR_lower", "HR_upper", "p")}


def _binary_performance(study: Study, models: StudyModels, predictions: pd.DataFrame,
                        externals: Sequence[ExternalCohort]) -> tuple[pd.DataFrame, StudyEvaluation, pd.DataFrame]:
    """A binary study's Table 2 on every cohort (externals pooled in), at the study's cut-off rule; the evaluation
    of every cohort; the long predictions (cohort, id, model, outcome, probability; an external patient under
    the ID of its own table)."""
    pooled, outcome, groups = pooled_predictions(study, models, predictions, externals)
    names = models.model_names
    cutoffs = study.evaluation.cutoffs(predictions, study.outcome, study.train_ids, names)
    ci = study.evaluation.proportion_ci
    evaluation = evaluate_cohorts(pooled, outcome, groups, names, cutoffs, ci=ci, seed=study.split.config.seed)
    own = set(study.cohorts())
    long = pd.concat([pd.DataFrame({"cohort": cohort, "id": [i if cohort in own else i[len(cohort) + 1:] for i in ids],
                                    "model": model, "outcome": outcome.loc[ids].to_numpy(dtype=int),
                                    "probability": pooled.loc[ids, model].to_numpy()})
                      for cohort, ids in groups.items() for model in names], ignore_index=True)
    return table2(pooled, outcome, groups, cutoffs, ci=ci), evaluation, long


def _survival_performance(study: Study, models: StudyModels, predictions: pd.DataFrame,
                          externals: Sequence[ExternalCohort]) -> tuple[pd.DataFrame, Any, pd.DataFrame]:
    """A time-to-event study's Table 2, its full evaluation and its long predictions, externals included."""
    evaluation, long = evaluate_survival_analysis(study, models, predictions, externals)
    return evaluation.table2(), evaluation, long


#: Per outcome kind: ``(study, models, predictions, externals) -> (table2, evaluation or None, long predictions or
#: None)``.
_PERFORMANCE = {"binary": _binary_performance, "survival": _survival_performance}
#: The outcome kinds whose Table 2 reads the study's cut-off rule and proportion intervals (EvaluationSettings).
_PERFORMANCE_USES_CUTOFF_RULE = ("binary",)


def _outside_range(study: Study, models: StudyModels, externals: Sequence[ExternalCohort]) -> list[str]:
    """The notes on external patients outside the training range (:func:`outside_range_notes`: their calibration
    slope with and without them, a binary model's probabilities), or, for an outcome kind it does not read yet,
    one note saying the check was not made."""
    if not externals:
        return []
    if study.spec.outcome.kind in _OUTSIDE_RANGE_KINDS:
        return outside_range_notes(study, models, externals)
    return [f"external cohort(s) {', '.join(e.name for e in externals)}: the check of patients outside the training "
            "range (and the calibration without them) is not yet made for time-to-event studies; they are evaluated "
            "with every patient."]


#: Outcome kinds whose external patients outside the training range are checked (with a logistic calibration).
_OUTSIDE_RANGE_KINDS = ("binary",)
#: Outcome kinds whose report is not written yet, and what the run's summary says instead.
_NO_REPORT_YET: dict[str, str] = {}


def report_status(study: Study) -> str | None:
    """None when :func:`write_outputs` writes the study's report.html; else the sentence the run's summary prints
    (an outcome kind whose report is not written yet)."""
    return _NO_REPORT_YET.get(study.spec.outcome.kind)


def summary_tables(result: AnalysisResult) -> list[tuple[str, pd.DataFrame]]:
    """What the command line prints after a run: (title, table) pairs, rounded for reading.

    A binary study: Table 2's AUC with its DeLong CI per cohort and model (no title). A time-to-event study:
    Harrell's C with its 95 % CI per cohort and model, then the time-dependent AUC at each horizon.
    """
    return _SUMMARIES[result.study.spec.outcome.kind](result)


def _binary_summary(result: AnalysisResult) -> list[tuple[str, pd.DataFrame]]:
    return [("", result.table2[["cohort", "model", "auc", "auc_low", "auc_high"]].round(3))]


def _survival_summary(result: AnalysisResult) -> list[tuple[str, pd.DataFrame]]:
    unit = result.study.spec.outcome.time_unit  # type: ignore[attr-defined]  # a SurvivalOutcome's
    concordance = result.table2[["cohort", "model", "n", "events", "c_index", "c_low", "c_high"]].round(3)
    td = result.evaluation.td_auc[["cohort", "model", "horizon", "auc", "auc_low", "auc_high"]].round(3)
    return [("Harrell's C-index (95 % CI)", concordance),
            (f"Time-dependent AUC at each horizon ({unit})", td)]


_SUMMARIES = {"binary": _binary_summary, "survival": _survival_summary}


def _validation_notes(result: AnalysisResult) -> list[str]:
    """The internal validation in words (:func:`core.workflows.validation.validation_notes`: the design, the
    resamples and folds where a model could not be refitted or a measure estimated, and why), then how
    validation.csv counts them; nothing when it was not run."""
    run = result.study.current_validation()
    if not len(result.validation) or run is None:
        return []
    folds = run.meta.get("cv", {}).get("done")
    return [*validation_notes(result.study, run),
            "validation.csv: n_boot counts the bootstrap resamples and cv_folds the held-out folds"
            + (f" (of {folds} run)" if folds else "") + " in which that model was refitted and that measure could be "
            "estimated; its optimism and its CV mean, SD, min and max are over those only (the notes above say why "
            "any are missing)."]


def write_outputs(result: AnalysisResult, out: Path) -> list[Path]:
    """Write DIR/table2.csv, funnel.csv, univariable.csv, coefficients.csv, nomogram_points.csv, report.html,
    validation.csv (when run: per model the apparent, optimism-corrected, .632 and .632+ AUC and the CV summary;
    a binary study adds validation_calibration.csv, the optimism-corrected calibration intercept, slope and Brier,
    and validation_calibration_curve.csv, rms::calibrate's corrected curve), sample_size.csv (Riley's minimum
    sample size: one row per criterion and the final one), participant_flow.csv (stage, patients, events, detail),
    the reporting checklists DIR/checklists/tripod_ai.csv, clear.csv, metrics.csv (item, section, status, where,
    evidence: :func:`core.workflows.study_checklists.study_checklist`), probast_ai.csv (PROBAST+AI pre-answered)
    and metrics_score.json (``score`` in %, ``band``, the ``applicable`` items, the ``lost`` points per item),
    imports.csv, notes.txt, shap.csv (:func:`core.workflows.explanations.shap_table`: per score and comparator
    model the mean |SHAP| of each feature on the training patients) and the saved study folder DIR/study. Returns
    the files written. No report.html where :func:`report_status` says it is not written yet.

    A binary study adds predictions.csv (cohort, id, model, outcome, probability: every patient and model of every
    cohort, externals included), calibration.csv (cohort, model, n, events, citl, intercept and slope each with
    ``_low``/``_high``, ici, e50, e90, emax, spiegelhalter_z, spiegelhalter_p, brier, hl_statistic, hl_df, hl_p,
    left_out), decision_curve.csv (cohort, model, threshold, net benefit, treat all, net interventions avoided
    per 100, standardized net benefit and the clinical impact counts per 1,000, each with its bootstrap band) and
    reclassification.csv (per cohort every model against the clinical model: nri, nri_events, nri_nonevents, idi
    each with ``_low``/``_high``; :data:`core.workflows.model_comparison.RECLASSIFICATION_COLUMNS`).

    A time-to-event study adds predictions.csv
    (:data:`core.workflows.survival_evaluation.COHORT_PREDICTION_COLUMNS` then ``surv_<h>``: one row per
    patient and model of every cohort), td_auc.csv (cohort, model, horizon, auc, auc_low, auc_high),
    nomogram_axes.csv (the main model's nomogram: per horizon where survival probabilities fall on its
    total-points scale, and its median-survival axis: model, axis, horizon, total_points, value), calibration.csv
    and decision_curve.csv at each horizon; its coefficients.csv starts with model, term, coef, HR, HR_lower,
    HR_upper, p.
    """
    from core.io.tables import csv_bytes

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    study, models = result.study, result.models
    results = result.results
    if results is None:  # a result made by hand: its models stand for the fit
        results = StudyResults(study)
        results.seed(models)
    written = []

    def csv(frame: pd.DataFrame, name: str, index: bool = False) -> None:
        (out / name).write_bytes(csv_bytes(frame, index=index))
        written.append(out / name)

    kind = study.spec.outcome.kind
    csv(result.table2, "table2.csv")
    csv(pd.concat([r.funnel.assign(family=f) for f, r in models.screening.items()], ignore_index=True)
        if models.screening else pd.DataFrame(columns=["family", "step", "n_features", "removed", "why"]),
        "funnel.csv")
    # Each clinical variable alone against the outcome on the training patients (OR or HR, LR-test p)
    csv(results.clinical_univariable, "univariable.csv")
    rows = []
    # Every fitted model's own table: the scores (by feature), then the clinical, fused and any other model.
    for name in [*models.scores, *(n for n in models.model_names if n not in models.scores)]:
        table = models[name].table.reset_index()
        rows.append(table.rename(columns={table.columns[0]: "term"}).assign(model=name))
    coefficients = pd.concat(rows, ignore_index=True)
    leading = _COEFFICIENT_COLUMNS.get(kind)
    if leading:  # the outcome type's columns first, present even where no model has them (NaN)
        coefficients = coefficients.reindex(columns=[*leading, *(c for c in coefficients if c not in leading)])
    csv(coefficients, "coefficients.csv")
    which = models.main_model
    nomogram = results.nomogram(which)
    axes = pd.concat([nomogram.axis(v).assign(variable=v) for v in nomogram.variables], ignore_index=True)
    csv(axes.assign(model=which, value=axes["value"].astype(str))[["model", "variable", "value", "points"]],
        "nomogram_points.csv")
    for name, frame in _KIND_OUTPUTS.get(kind, lambda *_: {})(result, nomogram, which).items():
        csv(frame, name)
    if len(result.validation):
        csv(result.validation.reset_index(), "validation.csv")
        run = study.current_validation()
        if run is not None and run.calibration is not None:  # a binary study's calibration optimism
            csv(run.calibration.reset_index(), "validation_calibration.csv")
        if run is not None and run.calibration_curve is not None:
            csv(run.calibration_curve, "validation_calibration_curve.csv")
    # Each score's and comparator's mean |SHAP| per feature on the training patients (imported here: shap's import
    # takes a second that nothing else of this module needs)
    from core.workflows.explanations import shap_table

    csv(shap_table(results.explanations, study.model_labels()), "shap.csv")
    # Riley's minimum sample size for developing the models, from the training cohort (core.workflows.sample_size)
    csv(study_sample_size(study).table(), "sample_size.csv")
    # The reporting checklists answered from this run (TRIPOD+AI, CLEAR, METRICS; PROBAST+AI pre-answered), the
    # METRICS score, and the participant flow.
    facts = study_facts(results, result.externals)
    (out / "checklists").mkdir(exist_ok=True)
    for key in CHECKLIST_ANSWERS:
        csv(study_checklist(facts, key)[list(CHECKLIST_COLUMNS)], f"checklists/{key}.csv")
    csv(probast_assessment(facts), "checklists/probast_ai.csv")
    score = study_metrics(facts)
    (out / "checklists" / "metrics_score.json").write_text(json.dumps(
        {"score": score.score, "band": score.band, "applicable": list(score.applicable),
         "lost": [{"item": item, "points": points} for item, points in score.lost]}, indent=1))
    written.append(out / "checklists" / "metrics_score.json")
    csv(participant_flow(study, result.externals).table(), "participant_flow.csv")
    imports = [imp.dropped.assign(family=f) for f, imp in result.imports.items()]
    # Columns kept out of the features after the import (perfect orderings of the training outcome; a family
    # made elsewhere): listed beside what the import left out.
    left_out = never_features(study).table
    imports.append(left_out[["column", "reason", "family"]])
    imports = pd.concat(imports, ignore_index=True).drop_duplicates(["family", "column"], ignore_index=True)
    csv(imports, "imports.csv")
    notes = [*(f"warning: {w}" for w in models.warnings), *models.notes,
             *(f"{f}: {n}" for f, imp in result.imports.items() for n in imp.notes),
             *(f"excluded {i}: {why}" for i, why in study.exclusions),
             *(f"external {e.name}: {n}" for e in result.externals for n in e.notes),
             *_outside_range(study, models, result.externals),
             *getattr(result.evaluation, "notes", ()),  # what a time-to-event evaluation left out, and why
             *_validation_notes(result)]
    (out / "notes.txt").write_text("\n".join(notes) + ("\n" if notes else ""))
    written.append(out / "notes.txt")
    if report_status(study) is None:
        report = results.report(result.externals)
        (out / "report.html").write_text(report.html)
        written.append(out / "report.html")
    save_study(study, out / "study", models)
    written.append(out / "study")
    (out / "timing.json").write_text(json.dumps(result.seconds, indent=1))
    written.append(out / "timing.json")
    return written
