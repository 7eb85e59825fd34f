"""Command line: a whole study from files, for scripts and reproducible papers.

    python -m core.cli.analyse --clinical C.csv (--id COL | --row-ids)
        (--outcome COL | --time COL --event COL --horizons 12,36,60 [--time-unit months])
        [--continuous a,b] [--categorical c,d]
        --features NAME=PATH [--features NAME=PATH ...] [--combine NAME=A+B]
        [--images MANIFEST [--params study] [--engine pyradiomics|mirp] [--deep] [--workers N]]
        [--external NAME=CLINICAL.csv,FAMILY=PATH,...] [--test-fraction 0.3 | --no-test] [--seed 2025]
        [--missing median|mean|none|drop] [--max-missing 0.2] [--drop-patients-missing 1]
        [--method study|test_first|auc|mrmr|lasso]
        [--p-threshold 0.05] [--variance-threshold 1] [--variance-scale raw|minmax] [--folds 10] [--rule 1se|min]
        [--clinical-model a,b] [--exclude a,b,pattern*]
        [--fused-score FAMILY] [--score-method refit|lasso|ridge|cox_refit|cox_lasso]
        [--learners lasso,random_forest,svm,xgboost,elastic_net] [--comparator-features selected|screened]
        [--cutoff youden|fixed=P|sensitivity=S] [--ci wald|wilson] [--n-boot N] [--name NAME]
        --out DIR

Writes DIR/table2.csv (cohort, model, AUC with DeLong CI, ACC, SENS, SPEC, PPV, NPV), DIR/funnel.csv,
DIR/coefficients.csv, DIR/nomogram_points.csv, DIR/report.html, DIR/validation.csv (bootstrap optimism and
repeated CV; run by default with --no-test), DIR/imports.csv (what each feature table's import left out, the
columns that must never be features among it: ID, outcome, clinical variables, --exclude, perfect orderings),
DIR/notes.txt, DIR/univariable.csv (each clinical variable alone against the outcome on the training patients),
DIR/shap.csv (each score's and comparator's mean |SHAP| per feature on the training patients) and the saved study
folder DIR/study, which the dashboard opens (Home, "Saved studies"). --learners adds comparator learners beside each
family's score (``lasso``: the score itself, always fitted), each model named ``<family>_<learner>`` (e.g.
``radiomics_random_forest``) in table2.csv, delong.csv (a binary study's every pair of models per cohort) and
validation.csv.

A time-to-event study (--time, --event: 1 = event, 0 = censored, and --horizons in the time's unit) is fitted
with Cox models; its DIR/table2.csv holds per cohort and model Harrell's C (c_index, c_low, c_high) and, per
horizon h, the time-dependent AUC and the metrics at the training median linear predictor (suffix _h);
DIR/predictions.csv (cohort, id, model, time, event, linear_predictor, surv_<h>), DIR/td_auc.csv (cohort, model,
horizon, auc, auc_low, auc_high) and DIR/nomogram_axes.csv (survival at each horizon and median survival on the
nomogram's total points) are added; coefficients.csv has HR with its 95 % CI. --cutoff and --ci are a binary
outcome's.
On bad input it exits 2 with one specific message on stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from core.cli.arguments import bounded_int, finite_float, parse_horizons, seed
from core.errors import RadNomoError
from core.io.processes import MAX_WORKERS
from core.stats.cohort import CohortSpec, SplitConfig
from core.stats.learners import score_methods
from core.stats.missing import MissingPolicy
from core.stats.outcomes import BinaryOutcome, Outcome, SurvivalOutcome
from core.stats.selection import ScreeningSettings
from core.workflows.analyse import ExternalSpec, analyse, report_status, summary_tables, write_outputs
from core.workflows.study import EvaluationSettings, ModelSettings
from core.workflows.validation import RUN_LIMITS
from core.vocabulary import (COMPARATOR_FEATURES, COMPARATOR_METHODS, EXTRACTION_ENGINES, LASSO_COX_MEASURES,
                             LASSO_RULES, MISSING_STRATEGIES, PROPORTION_CIS, SCREENING_METHODS, VARIANCE_SCALES)

__all__ = ["main", "parse_pairs", "outcome_from_arguments", "comparator_learners", "SCORE_LEARNER"]

#: What --learners calls each family's score (fitted whatever --learners says: the nomogram is drawn from it).
SCORE_LEARNER = "lasso"


def comparator_learners(value: str | None) -> tuple[str, ...]:
    """The comparator learners of ``--learners`` (comma-separated; ``lasso`` names the score, not a comparator).

    Raises
    ------
    RadNomoError
        For an unknown or repeated learner, naming the choices.
    """
    names = [] if value is None else [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n != SCORE_LEARNER and n not in COMPARATOR_METHODS]
    if unknown or len(set(names)) != len(names):
        raise RadNomoError(f"--learners: {'unknown learner(s) ' + ', '.join(unknown) if unknown else 'a learner twice'}"
                           f"; choose among {SCORE_LEARNER}, {', '.join(COMPARATOR_METHODS)}.")
    return tuple(n for n in names if n != SCORE_LEARNER)

#: The time unit of --time when --time-unit is not given.
DEFAULT_TIME_UNIT = "months"


def parse_pairs(values: Sequence[str], what: str) -> dict[str, str]:
    """NAME=VALUE arguments as a dict (names must not repeat)."""
    pairs = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise RadNomoError(f"{what} '{value}' should read NAME=VALUE.")
        if name.strip() in pairs:
            raise RadNomoError(f"{what} name '{name.strip()}' is given twice.")
        pairs[name.strip()] = rest.strip()
    return pairs


def _external(value: str) -> ExternalSpec:
    name, sep, rest = value.partition("=")
    parts = rest.split(",")
    if not sep or not name.strip() or not parts[0].strip():
        raise RadNomoError(f"--external '{value}' should read NAME=CLINICAL.csv[,FAMILY=PATH,...].")
    return ExternalSpec(name=name.strip(), clinical=Path(parts[0].strip()),
                        features={k: Path(v) for k, v in parse_pairs(parts[1:], "--external feature table").items()})


def _evaluation(cutoff: str, ci: str) -> EvaluationSettings:
    """--cutoff (youden, fixed=P or sensitivity=S) and --ci as the study's evaluation settings."""
    rule, sep, value = cutoff.partition("=")
    try:
        number = float(value) if sep else None
    except ValueError as error:
        raise RadNomoError(f"--cutoff '{cutoff}' should read youden, fixed=P or sensitivity=S (a number).") from error
    return EvaluationSettings(cutoff_rule=rule.strip(), cutoff_value=number, proportion_ci=ci)


def outcome_from_arguments(outcome: str | None, time: str | None, event: str | None, horizons: str | None,
                           time_unit: str | None) -> Outcome:
    """The study's outcome from the command line: --outcome (binary, 0/1), or --time and --event with --horizons
    (and --time-unit, default months) for a time-to-event outcome.

    Raises
    ------
    RadNomoError
        Neither or both kinds given; --time without --event (or the reverse); --horizons or --time-unit without
        --time; a time-to-event outcome without --horizons; horizons that are not distinct times > 0
        (:func:`core.cli.arguments.parse_horizons`); an empty time unit.
    """
    survival = {"--time": time, "--event": event}
    given = [option for option, value in survival.items() if value is not None]
    if outcome is not None and given:
        raise RadNomoError(f"--outcome '{outcome}' is a binary outcome and {' and '.join(given)} a time-to-event "
                           "one: give --outcome COL (0/1), or --time COL --event COL --horizons H1,H2 for a "
                           "time to event, not both.")
    if outcome is not None or not given:
        stray = [o for o, v in {"--horizons": horizons, "--time-unit": time_unit}.items() if v is not None]
        if stray:
            raise RadNomoError(f"{' and '.join(stray)} belong to a time-to-event outcome: give --time COL and "
                               "--event COL with them (or drop them for a binary --outcome).")
        if outcome is None:
            raise RadNomoError("name the outcome: --outcome COL (a 0/1 column, 1 = event), or --time COL --event COL "
                               "--horizons 12,36,60 for a time to event (1 = event, 0 = censored).")
        return BinaryOutcome(outcome)
    if len(given) == 1:
        missing = "--event" if time is not None else "--time"
        raise RadNomoError(f"{given[0]} needs {missing}: a time-to-event outcome is a follow-up time column and an "
                           "event column (1 = event, 0 = censored), given together.")
    if horizons is None:
        raise RadNomoError("a time-to-event outcome needs --horizons: the times at which risks are predicted and "
                           "evaluated, in the time's unit, e.g. --horizons 12,36,60 (months).")
    unit = DEFAULT_TIME_UNIT if time_unit is None else time_unit.strip()
    if not unit:
        raise RadNomoError("--time-unit is empty; name the unit of the follow-up times, e.g. months or days.")
    return SurvivalOutcome(time_column=str(time), event_column=str(event), time_unit=unit,
                           horizons=parse_horizons(horizons))


def _list(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _image_families(args, clinical: Path, spec: CohortSpec, split: SplitConfig, out: Path, log) -> list:
    """Radiomics (and with --deep, autoencoder) families extracted from the manifest's CTs."""
    from core.imaging.deep.model import AEConfig
    from core.imaging.extraction.batch import ExtractionSettings, read_manifest, run_batch
    from core.imaging.extraction.preprocess import PreprocessConfig
    from core.imaging.extraction.radiomics import load_params
    from core.imaging.extraction.store import FeatureStore
    from core.io.tables import read_any_table
    from core.workflows.deep import train_deep_family
    from core.workflows.study import FeatureFamily, make_study

    manifest = read_manifest(args.images)
    settings = ExtractionSettings(params=load_params(args.params), preprocess=PreprocessConfig(), engine=args.engine)
    start = time.perf_counter()
    with FeatureStore(out / "features.store.sqlite") as store:
        result = run_batch(manifest, settings, store=store, workers=args.workers)
    failed = result.status[result.status["status"] == "failed"]
    if len(failed):
        log(f"{len(failed)} case(s) failed: " + "; ".join(f"{r.ID}: {r.message}" for r in failed.head(5).itertuples()))
    log(f"radiomics: {result.features.shape[0]} cases x {result.features.shape[1]} features in "
        f"{time.perf_counter() - start:.0f} s")
    families = [FeatureFamily(name="radiomics", label="Radiomics", table=result.features, kind="radiomics",
                              extraction=result.settings.to_dict(), source=f"extracted from {Path(args.images).name}")]
    if args.deep:
        table = read_any_table(clinical.read_bytes(), clinical.name)
        train_ids = make_study("split", table, spec, split).train_ids
        start = time.perf_counter()
        deep = train_deep_family(manifest, train_ids, AEConfig(epochs=args.epochs), out / "ae_weights.safetensors",
                                 workers=args.workers, source=f"autoencoder trained on the training cases of "
                                                              f"{Path(args.images).name}")
        log(f"deep: trained on {deep.n_training_cases} training cases (kept epoch {deep.training.best_epoch}) in "
            f"{time.perf_counter() - start:.0f} s")
        families.append(deep.family)
    return families


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.cli.analyse", description="A whole RadNomo study from files.")
    parser.add_argument("--clinical", required=True, help="clinical table (CSV, TSV, XLSX or Parquet)")
    parser.add_argument("--id", help="patient ID column (rows with a blank ID are left out and counted)")
    parser.add_argument("--row-ids", action="store_true",
                        help="tables without an ID column: their rows numbered 1..n are the IDs, and the clinical "
                             "and feature tables are matched row by row (they must have as many rows)")
    parser.add_argument("--outcome", help="a binary outcome: its 0/1 column (1 = event)")
    parser.add_argument("--time", help="a time-to-event outcome: the follow-up time column (> 0, with --event and "
                                       "--horizons)")
    parser.add_argument("--event", help="a time-to-event outcome: the event column (1 = event, 0 = censored)")
    parser.add_argument("--horizons", help="a time-to-event outcome: the times at which risks are predicted and "
                                           "evaluated, comma-separated, in --time-unit (e.g. 12,36,60)")
    parser.add_argument("--time-unit", help=f"the unit of --time and --horizons (default {DEFAULT_TIME_UNIT})")
    parser.add_argument("--continuous", help="continuous variables, comma-separated (default: guessed)")
    parser.add_argument("--categorical", help="categorical variables, comma-separated (default: guessed)")
    parser.add_argument("--features", action="append", default=[], metavar="NAME=PATH",
                        help="a feature table as a family (repeat for several)")
    parser.add_argument("--combine", action="append", default=[], metavar="NAME=A+B",
                        help="a combined family of others (e.g. dl_radiomics=radiomics+dl)")
    parser.add_argument("--images", help="a manifest (ID,Image,Mask) to extract a radiomics family from")
    parser.add_argument("--params", default="study", help="pyradiomics parameters for --images (default: study)")
    parser.add_argument("--engine", default="pyradiomics", choices=list(EXTRACTION_ENGINES), help="engine for --images")
    parser.add_argument("--deep", action="store_true", help="with --images: train the autoencoder on the training "
                                                            "cases and add its latents as the 'dl' family")
    parser.add_argument("--epochs", type=bounded_int(1, 1000, "--epochs"), default=30,
                        help="autoencoder epochs (default 30)")
    parser.add_argument("--workers", type=bounded_int(1, MAX_WORKERS, "--workers"), default=1)
    parser.add_argument("--external", action="append", default=[], metavar="NAME=CLINICAL,FAMILY=PATH,...")
    design = parser.add_mutually_exclusive_group()
    design.add_argument("--test-fraction", type=finite_float(0.05, 0.9, "--test-fraction"), default=0.3)
    design.add_argument("--no-test", action="store_true", help="every patient trains (small cohorts)")
    parser.add_argument("--seed", type=seed(), default=2025, help="split seed")
    parser.add_argument("--missing", default="median", choices=[*MISSING_STRATEGIES, "drop"],
                        help="missing values: impute the training median or mean, none, or drop those patients")
    parser.add_argument("--max-missing", type=finite_float(0, 1, "--max-missing"), default=0.2,
                        help="drop features missing for more than this share of the training patients")
    parser.add_argument("--drop-patients-missing", type=finite_float(0, 1, "--drop-patients-missing", open_low=True),
                        default=None, metavar="SHARE",
                        help="drop the patients missing at least this share of a family's features (1: those "
                             "missing every feature), listed in notes.txt; the others are imputed")
    parser.add_argument("--method", default="study", choices=list(SCREENING_METHODS), help="screening funnel")
    parser.add_argument("--p-threshold", type=finite_float(0, 1, "--p-threshold", open_low=True), default=0.05)
    parser.add_argument("--variance-threshold", type=finite_float(0, 1e300, "--variance-threshold"), default=1.0)
    parser.add_argument("--variance-scale", default="raw", choices=list(VARIANCE_SCALES))
    parser.add_argument("--folds", type=bounded_int(3, 20, "--folds"), default=10,
                        help="LASSO cross-validation folds (default 10)")
    parser.add_argument("--rule", default="1se", choices=list(LASSO_RULES), help="LASSO lambda (default 1se)")
    parser.add_argument("--lasso-measure", default="deviance", choices=list(LASSO_COX_MEASURES),
                        help="what the LASSO's cross-validation picks lambda by: the held-out deviance (default) or, "
                             "for a time-to-event outcome, Harrell's C (cv.glmnet type.measure = \"C\")")
    parser.add_argument("--mrmr-features", type=bounded_int(1, 10_000, "--mrmr-features"), default=20,
                        help="with --method mrmr: features kept")
    parser.add_argument("--clinical-model", help="the clinical model's predictors, comma-separated, or 'none' for a "
                                                 "study of scores alone (default: univariable p < 0.05)")
    parser.add_argument("--fused-score", help="the family whose score the fused model takes")
    parser.add_argument("--score-method", default=None, choices=list(score_methods(None)),
                        help="how each family's score is fitted on its selected features: "
                             + "; ".join(f"{k}: {v}" for k, v in score_methods(None).items())
                             + " (default refit; cox_refit for a time to event)")
    parser.add_argument("--learners", default=None,
                        help="the learners compared, comma-separated: lasso (each family's score, always fitted) "
                             "and comparators fitted on each family's features beside it, tuned by inner 5-fold "
                             "CV on the training patients: " + "; ".join(f"{k}: {v}" for k, v in
                                                                          COMPARATOR_METHODS.items()))
    parser.add_argument("--comparator-features", default="selected", choices=list(COMPARATOR_FEATURES),
                        help="the features the comparators fit: " + "; ".join(f"{k}: {v}" for k, v in
                                                                             COMPARATOR_FEATURES.items()))
    parser.add_argument("--exclude", help="columns kept out of every feature family (and of the guessed clinical "
                                          "variables), comma-separated names or patterns, e.g. "
                                          "'lm_type,diagnostics_*'; saved with the study")
    parser.add_argument("--cutoff", default=None,
                        help="the cut-off rule of Table 2 and the report: youden (default: Youden's index on the "
                             "training cohort), fixed=P (a probability) or sensitivity=S (a target sensitivity); "
                             "saved with the study (a binary outcome's)")
    parser.add_argument("--ci", default=None, choices=list(PROPORTION_CIS),
                        help="confidence intervals of ACC/SENS/SPEC/PPV/NPV (default wald; a binary outcome's)")
    parser.add_argument("--n-boot", type=bounded_int(0, RUN_LIMITS["bootstrap resamples"][1], "--n-boot"), default=None,
                        help="bootstrap resamples (default 200 with --no-test, else 0: not run)")
    parser.add_argument("--name", help="study name (default: the clinical file's name)")
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args(argv)
    out = Path(args.out)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        outcome = outcome_from_arguments(args.outcome, args.time, args.event, args.horizons, args.time_unit)
        defaults = ModelSettings.for_outcome(outcome)  # the outcome type's score method and univariable test
        continuous, categorical = _list(args.continuous), _list(args.categorical)
        chosen = _list(args.clinical_model)
        if chosen is not None and [c.lower() for c in chosen] == ["none"]:
            chosen = []  # a study of scores alone: no clinical model (and so no fused model)
        settings = ModelSettings(
            screening=ScreeningSettings(method=args.method, p_threshold=args.p_threshold,
                                        variance_threshold=args.variance_threshold,
                                        variance_scale=args.variance_scale, n_folds=args.folds, rule=args.rule,
                                        mrmr_features=args.mrmr_features, test=defaults.screening.test,
                                        cv_measure=args.lasso_measure),
            missing=MissingPolicy(strategy="median" if args.missing == "drop" else args.missing,
                                  max_missing=args.max_missing, patient_max_missing=args.drop_patients_missing),
            fused_score=args.fused_score,
            score_method=defaults.score_method if args.score_method is None else args.score_method,
            comparators=comparator_learners(args.learners), comparator_features=args.comparator_features)
        split = SplitConfig(test_size=0.0 if args.no_test else args.test_fraction, seed=args.seed)
        combined = {name: [m.strip() for m in members.split("+")]
                    for name, members in parse_pairs(args.combine, "--combine").items()}
        externals = [_external(value) for value in args.external]
        extra = []
        out.mkdir(parents=True, exist_ok=True)
        if args.images:
            if args.id is None:  # the manifest names its cases by ID: row numbers cannot match them
                raise RadNomoError("--images needs the clinical table's ID column (--id), which the manifest's IDs "
                                   "match; row numbers (--row-ids) cannot.")
            spec = CohortSpec(id_column=args.id, outcome=outcome)
            extra = _image_families(args, Path(args.clinical), spec, split, out, log)
        evaluation = None  # the study's default (Youden, Wald); given, analyse refuses it for a time to event
        if args.cutoff is not None or args.ci is not None:
            evaluation = _evaluation(args.cutoff or "youden", args.ci or "wald")
        result = analyse(clinical=Path(args.clinical), id_column=args.id, row_ids=args.row_ids, outcome=outcome,
                         continuous=continuous, categorical=categorical,
                         features={k: Path(v) for k, v in parse_pairs(args.features, "--features").items()},
                         combined=combined, externals=externals, split=split, settings=settings,
                         drop_missing=args.missing == "drop", name=args.name, n_boot=args.n_boot,
                         clinical_model=chosen, exclude=_list(args.exclude) or (),
                         evaluation=evaluation,
                         extra_families=extra, on_step=log)
        written = write_outputs(result, out)
    except (RadNomoError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for title, table in summary_tables(result):
        if title:
            print(title)
        print(table.to_string(index=False))
    status = report_status(result.study)
    if status:
        print(status)
    if len(result.validation):
        print(result.validation.round(3).to_string())
    for warning in result.models.warnings:  # non-convergence, LASSO paths at their limit: never silent
        log(f"warning: {warning}")
    for note in result.models.notes:
        log(f"note: {note}")
    left = result.study.exclusions
    if left:  # blank IDs, patients missing every feature, --missing drop: each one is in notes.txt
        reasons = pd.Series([why for _, why in left]).value_counts()
        log("note: left out of the study: " + "; ".join(f"{n} with {why}" for why, n in reasons.items())
            + " (notes.txt lists them).")
    for external in result.externals:
        for note in external.notes:
            log(f"note: {note}")
    log(f"wrote {len(written)} outputs to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
