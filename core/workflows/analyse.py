"""A whole study from files, without the dashboard: for scripts and reproducible papers.

:func:`analyse` takes a clinical table, feature tables (or CTs and masks to extract them from), external
cohorts and the choices a user makes on the pages, fits everything on the training patients, evaluates
it (Table 2 on every cohort; repeated cross-validation and the bootstrap when there is no test cohort,
or when asked) and writes the tables, the report and the saved study, which the dashboard opens.
The command line is :mod:`core.cli.analyse`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from core.errors import RadNomoError
from core.io.tables import read_any_table
from core.stats.cohort import CohortSpec, SplitConfig, guess_variable_kinds
from core.stats.feature_tables import FeatureTableImport, import_feature_table
from core.stats.summaries import table2, training_cutoffs
from core.vocabulary import check_name
from core.workflows.external import ExternalCohort, pooled_predictions, validate_external
from core.workflows.fit import StudyModels, fit_study, predict_study
from core.workflows.persistence import save_study
from core.workflows.report import build_report
from core.workflows.study import CombinedFamily, FeatureFamily, ModelSettings, Study, make_study
from core.workflows.validation import optimism_corrected_auc, repeated_cv_auc, summarise_cv

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


def family_label(name: str) -> str:
    """A family's label from its name: "radiomics" -> "Radiomics", "dl" -> "DL", "dl_radiomics" -> "DL-radiomics"."""
    words = [w.upper() if len(w) <= 2 else w for w in name.split("_")]
    label = "-".join(words)
    return label[0].upper() + label[1:]


def _read(path: Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise RadNomoError(f"'{path}' does not exist or is not a file.")
    return read_any_table(path.read_bytes(), path.name)


def read_features(name: str, path: Path, cohort_ids: Sequence[str], id_column: str) -> FeatureTableImport:
    """A feature table file imported for the cohort (metadata, text and constant columns left out and listed)."""
    check_name("feature family", name)
    return import_feature_table(_read(path), cohort_ids, name=f"{name} feature table ({Path(path).name})",
                                id_column=id_column)


def analyse(*, clinical: Path, id_column: str, outcome_column: str, continuous: Sequence[str] | None = None,
            categorical: Sequence[str] | None = None, features: Mapping[str, Path] | None = None,
            combined: Mapping[str, Sequence[str]] | None = None, externals: Sequence[ExternalSpec] = (),
            split: SplitConfig | None = None, settings: ModelSettings | None = None, drop_missing: bool = False,
            name: str | None = None, n_boot: int | None = None, cv_folds: int = 5, cv_repeats: int = 5,
            seed: int = 0, extra_families: Sequence[FeatureFamily] = (), clinical_model: Sequence[str] | None = None,
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
    if id_column not in table.columns or outcome_column not in table.columns:
        raise RadNomoError(f"--id '{id_column}' and --outcome '{outcome_column}' must be columns of {Path(clinical).name}"
                           f"; it has {list(table.columns)[:12]}.")
    if continuous is None and categorical is None:
        continuous, categorical = guess_variable_kinds(table, exclude=[id_column, outcome_column])
    spec = CohortSpec(id_column=id_column, outcome_column=outcome_column, continuous=tuple(continuous or ()),
                      categorical=tuple(categorical or ()))
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
        imported = read_features(family_name, Path(path), base.cohort.index, id_column)
        imports[family_name] = imported
        families.append(FeatureFamily(name=family_name, label=family_label(family_name),
                                      table=imported.table, kind="imported", source=f"imported from {Path(path).name}"))
    combos = tuple(CombinedFamily(name=c, label=family_label(c), members=tuple(m))
                   for c, m in (combined or {}).items())
    study = base.replace(families=tuple(families), combined=combos)
    if drop_missing:
        from core.stats.missing import patients_with_missing

        incomplete = patients_with_missing([study.cohort[list(spec.variables)], *(f.table for f in study.families)])
        if incomplete:
            study = study.without_patients(incomplete, "a missing value")
    note("reading")
    models = fit_study(study)
    predictions = predict_study(study, models)
    note("fitting")
    external_cohorts = []
    for external in externals:
        tables = {f: _read(p) for f, p in external.features.items()}
        external_cohorts.append(validate_external(study, external.name, _read(external.clinical), tables, models))
    pooled, outcome, groups = pooled_predictions(study, models, predictions, external_cohorts)
    cutoffs = training_cutoffs(predictions, study.outcome, study.train_ids, models.model_names)
    performance = table2(pooled, outcome, groups, cutoffs)
    note("evaluating")
    n_boot = (0 if study.has_test else 200) if n_boot is None else n_boot
    validation = pd.DataFrame()
    if n_boot:
        optimism = optimism_corrected_auc(study, n_boot=n_boot, seed=seed)
        cv = repeated_cv_auc(study, n_folds=cv_folds, n_repeats=cv_repeats, seed=seed)
        summary = summarise_cv(cv)
        validation = optimism.table.join(summary.add_prefix("cv_"), how="left")
        validation.index.name = "model"
        note("validating")
    return AnalysisResult(study=study, models=models, predictions=predictions, table2=performance,
                          validation=validation, imports=imports, externals=tuple(external_cohorts), seconds=seconds)


def write_outputs(result: AnalysisResult, out: Path) -> list[Path]:
    """Write DIR/table2.csv, funnel.csv, coefficients.csv, nomogram_points.csv, report.html, validation.csv (when
    run), imports.csv, notes.txt and the saved study folder DIR/study. Returns the files written."""
    from core.io.tables import csv_bytes

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    study, models = result.study, result.models
    written = []

    def csv(frame: pd.DataFrame, name: str, index: bool = False) -> None:
        (out / name).write_bytes(csv_bytes(frame, index=index))
        written.append(out / name)

    csv(result.table2, "table2.csv")
    csv(pd.concat([r.funnel.assign(family=f) for f, r in models.screening.items()], ignore_index=True)
        if models.screening else pd.DataFrame(columns=["family", "step", "n_features", "removed", "why"]),
        "funnel.csv")
    rows = []
    for family, score in models.scores.items():
        rows.append(score.table.reset_index().rename(columns={"feature": "term"}).assign(model=family))
    for model in models.model_names:
        if model in ("clinical", "fused"):
            rows.append(models.model(model).table.reset_index().assign(model=model))
    csv(pd.concat(rows, ignore_index=True), "coefficients.csv")
    which = "fused" if models.fused is not None else "clinical"
    nomogram = models.nomogram(study, result.predictions, which)
    axes = pd.concat([nomogram.axis(v).assign(variable=v) for v in nomogram.variables], ignore_index=True)
    csv(axes.assign(model=which, value=axes["value"].astype(str))[["model", "variable", "value", "points"]],
        "nomogram_points.csv")
    if len(result.validation):
        csv(result.validation.reset_index(), "validation.csv")
    imports = [imp.dropped.assign(family=f) for f, imp in result.imports.items()]
    csv(pd.concat(imports, ignore_index=True) if imports else pd.DataFrame(columns=["column", "reason", "family"]),
        "imports.csv")
    notes = [*models.notes, *(f"{f}: {n}" for f, imp in result.imports.items() for n in imp.notes),
             *(f"excluded {i}: {why}" for i, why in study.exclusions)]
    (out / "notes.txt").write_text("\n".join(notes) + ("\n" if notes else ""))
    written.append(out / "notes.txt")
    report = build_report(study, models, result.predictions)
    (out / "report.html").write_text(report.html)
    written.append(out / "report.html")
    save_study(study, out / "study", models)
    written.append(out / "study")
    (out / "timing.json").write_text(json.dumps(result.seconds, indent=1))
    written.append(out / "timing.json")
    return written
