"""A whole study from files, without the dashboard: for scripts and reproducible papers.

:func:`analyse` takes a clinical table, feature tables (or CTs and masks to extract them from), external
cohorts and the choices a user makes on the pages, fits everything on the training patients, evaluates
it (Table 2 on every cohort; repeated cross-validation and the bootstrap when there is no test cohort,
or when asked) and writes the tables, the report and the saved study, which the dashboard opens.
The command line is :mod:`core.cli.analyse`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from core.errors import RadNomoError
from core.io.tables import read_any_table
from core.stats.cohort import CohortSpec, SplitConfig, suggest_clinical_variables, with_row_ids
from core.stats.feature_tables import FeatureTableImport, excluded_columns, import_feature_table, parse_exclusions
from core.stats.summaries import table2
from core.vocabulary import ROW_ID_COLUMN, check_name
from core.workflows.checks import never_features
from core.workflows.external import ExternalCohort, outside_range_notes, pooled_predictions, validate_external
from core.workflows.fit import StudyModels
from core.workflows.persistence import save_study
from core.workflows.results import StudyResults
from core.workflows.study import default_family_label as family_label
from core.workflows.study import CombinedFamily, EvaluationSettings, FeatureFamily, ModelSettings, Study, make_study
from core.workflows.validation import optimism_corrected_auc, repeated_cv_auc, summarise_cv, with_bootstrap, with_cv

__all__ = ["ExternalSpec", "AnalysisResult", "read_features", "analyse", "write_outputs"]


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
    at the training Youden cut-off; ``validation``: per model the apparent AUC, bootstrap optimism and
    corrected AUC, and the repeated-CV mean (empty when not run); ``imports``: what each feature
    table's import left out; ``seconds``: time per stage.
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


def _read(path: Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise RadNomoError(f"'{path}' does not exist or is not a file.")
    return read_any_table(path.read_bytes(), path.name)


def read_features(name: str, path: Path, cohort_ids: Sequence[str], id_column: str, *,
                  outcome_column: str | None = None, clinical: Sequence[str] = (),
                  excluded: Sequence[str] = (), expected_rows: int | None = None) -> FeatureTableImport:
    """A feature table file imported for the cohort: metadata, text and constant columns, and the columns that
    must never be features (the ID, ``outcome_column``, the ``clinical`` variables, the ``excluded`` names and
    patterns), left out and listed. ``expected_rows`` (the clinical table's row count, with row numbers as IDs):
    the table's rows are numbered as IDs and must be as many (:func:`core.stats.cohort.with_row_ids`)."""
    check_name("feature family", name)
    table = _read(path)
    if expected_rows is not None:
        table = with_row_ids(table, expected_rows=expected_rows, what=f"{name} feature table ({Path(path).name})")
    return import_feature_table(table, cohort_ids, name=f"{name} feature table ({Path(path).name})",
                                id_column=id_column, outcome_column=outcome_column, clinical=clinical,
                                excluded=excluded)


def analyse(*, clinical: Path, id_column: str | None = None, outcome_column: str,
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
    id_column, outcome_column : str
    continuous, categorical : sequence of str, optional
        The clinical variables; guessed from the table when both are None (numeric with more than 8
        values: continuous; up to 12 levels: categorical), the ID and outcome left out.
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
        Bootstrap resamples for the optimism-corrected AUC (with repeated CV); default 200 without a
        test cohort, 0 (not run) with one.
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
        study); Youden's index on the training cohort and Wald intervals by default.

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
    if id_column not in table.columns or outcome_column not in table.columns:
        raise RadNomoError(f"--id '{id_column}' and --outcome '{outcome_column}' must be columns of "
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
            table, exclude=[id_column, outcome_column, *excluded_columns(table.columns, excluded)])
    spec = CohortSpec(id_column=id_column, outcome_column=outcome_column, continuous=tuple(continuous or ()),
                      categorical=tuple(categorical or ()))
    settings = dataclasses.replace(settings or ModelSettings(), excluded_features=excluded)
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
        imported = read_features(family_name, Path(path), base.cohort.index, id_column, outcome_column=outcome_column,
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
    pooled, outcome, groups = pooled_predictions(study, models, predictions, external_cohorts)
    cutoffs = study.evaluation.cutoffs(predictions, study.outcome, study.train_ids, models.model_names)
    performance = table2(pooled, outcome, groups, cutoffs, ci=study.evaluation.proportion_ci)
    note("evaluating")
    n_boot = (0 if study.has_test else 200) if n_boot is None else n_boot
    validation = pd.DataFrame()
    if n_boot:
        optimism = optimism_corrected_auc(study, n_boot=n_boot, seed=seed)
        cv = repeated_cv_auc(study, n_folds=cv_folds, n_repeats=cv_repeats, seed=seed)
        summary = summarise_cv(cv)
        validation = optimism.table.join(summary.add_prefix("cv_"), how="left")
        validation.index.name = "model"
        # Kept with the study: its saved folder and its report hold the run.
        study = with_cv(with_bootstrap(study, optimism, seed=seed), cv, folds=cv_folds, repeats=cv_repeats, seed=seed)
        note("validating")
    return AnalysisResult(study=study, models=models, predictions=predictions, table2=performance,
                          validation=validation, imports=imports, externals=tuple(external_cohorts), seconds=seconds,
                          results=StudyResults(study, results.store))


def write_outputs(result: AnalysisResult, out: Path) -> list[Path]:
    """Write DIR/table2.csv, funnel.csv, coefficients.csv, nomogram_points.csv, report.html, validation.csv (when
    run), imports.csv, notes.txt and the saved study folder DIR/study. Returns the files written."""
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

    csv(result.table2, "table2.csv")
    csv(pd.concat([r.funnel.assign(family=f) for f, r in models.screening.items()], ignore_index=True)
        if models.screening else pd.DataFrame(columns=["family", "step", "n_features", "removed", "why"]),
        "funnel.csv")
    rows = []
    # Every fitted model's own table: the scores (by feature), then the clinical, fused and any other model.
    for name in [*models.scores, *(n for n in models.model_names if n not in models.scores)]:
        table = models[name].table.reset_index()
        rows.append(table.rename(columns={table.columns[0]: "term"}).assign(model=name))
    csv(pd.concat(rows, ignore_index=True), "coefficients.csv")
    which = models.main_model
    nomogram = results.nomogram(which)
    axes = pd.concat([nomogram.axis(v).assign(variable=v) for v in nomogram.variables], ignore_index=True)
    csv(axes.assign(model=which, value=axes["value"].astype(str))[["model", "variable", "value", "points"]],
        "nomogram_points.csv")
    if len(result.validation):
        csv(result.validation.reset_index(), "validation.csv")
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
             *outside_range_notes(study, models, result.externals)]
    (out / "notes.txt").write_text("\n".join(notes) + ("\n" if notes else ""))
    written.append(out / "notes.txt")
    report = results.report(result.externals)
    (out / "report.html").write_text(report.html)
    written.append(out / "report.html")
    save_study(study, out / "study", models)
    written.append(out / "study")
    (out / "timing.json").write_text(json.dumps(result.seconds, indent=1))
    written.append(out / "timing.json")
    return written
