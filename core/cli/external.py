"""Command line: a study's frozen models on an external cohort (by default the sample study's, with and without ComBat).

    python -m core.cli.external [--study FOLDER] [--external FOLDER] [--harmonise-by COLUMN] [--name NAME]
                                [--out table.csv] [--table2 table2.csv]

Without --study: the bundled sample study (binary outcome), its models fitted without and with ComBat by
``--harmonise-by`` (default scanner), on the bundled external centre by default; prints the training, test and
external AUCs of both.

With --study FOLDER (a saved study: the dashboard's "Save", ``core.cli.analyse``'s DIR/study, an imported archive):
the study's FROZEN models as saved score the external cohort, nothing refitted (a study saved without models is
fitted on its training patients first, and says so). With --harmonise-by COLUMN a second variant is refitted with
ComBat by COLUMN (on the training patients) for comparison. The discrimination printed is the outcome type's
(:data:`DISCRIMINATION`): the AUC of a binary outcome; Harrell's C of each model's linear predictor for a time to
event.

The external FOLDER holds ``clinical.csv`` (the study's ID column and variables, and its outcome: a binary
study's 0/1 column; a time-to-event study's follow-up time and event columns, each horizon within the cohort's own
follow-up) and one feature table per family, ``features_<family>.parquet`` (or ``.csv``; the sample's layout,
``features_deep.parquet`` for its "dl" family, is read too). An outcome column clinical.csv lacks is joined, patient
by patient, from another CSV table of the folder that holds it (the sample's ``survival.csv``).

``--out`` writes the discrimination table (one row per cohort, model and variant) as CSV; ``--table2`` the frozen
models' Table 2 on the training, test and external cohorts (:func:`core.workflows.reproduce.study_table2`, the
outcome type's: AUC and metrics at the study's cut-off rule; Harrell's and Uno's C, AUC(t) and the risk groups at
the training cut-off at each horizon).
On bad input it exits 2 with one specific message on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from core.cli.arguments import write_csv
from core.errors import RadNomoError, listed
from core.io.tables import read_any_table
from core.workflows.external import (cohort_aucs, cohort_concordance, read_sample_external, study_cohorts,
                                     validate_external)
from core.workflows.fit import StudyModels
from core.workflows.persistence import STUDY_FILE, load_study, load_study_models
from core.workflows.reproduce import study_table2
from core.workflows.results import StudyResults
from core.workflows.sample import SAMPLE_EXTERNAL_DIR, sample_external_tables, sample_study
from core.workflows.study import Study

__all__ = ["main", "DISCRIMINATION", "external_tables", "saved_study_and_models", "EXTERNAL_NAME"]

#: The external cohort's name in every table (``--name`` changes it).
EXTERNAL_NAME = "external"
#: Outcome kind -> (the frozen models' discrimination in each cohort: ``(models, cohorts, outcome) -> DataFrame`` with
#: ``cohort``, ``model``, ``n``, ``events`` and the value column; that column; its name in words).
DISCRIMINATION: dict[str, tuple[Callable[..., pd.DataFrame], str, str]] = {
    "binary": (cohort_aucs, "auc", "AUC"),
    "survival": (cohort_concordance, "c_index", "Harrell's C")}


def external_tables(study: Study, folder: Path) -> dict[str, pd.DataFrame]:
    """The external cohort's feature tables in ``folder`` for the study's single families: ``features_<family>``
    (``.parquet``, else ``.csv``), or the sample's layout (:func:`core.workflows.sample.sample_external_tables`).
    A family without a table is left out (:func:`validate_external` says when the models need it)."""
    sample = sample_external_tables(folder)
    tables = {}
    for family in study.family_names:
        for suffix in (".parquet", ".csv"):
            path = folder / f"features_{family}{suffix}"
            if path.is_file():
                tables[family] = read_any_table(path.read_bytes(), path.name)
                break
        else:
            if family in sample:
                tables[family] = sample[family]
    return tables


def saved_study_and_models(folder: Path, say: Callable[[str], None] = print) -> tuple[Study, StudyModels]:
    """A saved study and its frozen models (fitted on its training patients when it was saved without them).

    Raises
    ------
    RadNomoError
        For a folder that holds no study, a study that does not load, or saved models that are refused (edited).
    """
    if not (folder / STUDY_FILE).is_file():
        raise RadNomoError(f"--study '{folder}' is not a saved study (it has no {STUDY_FILE}); give the folder the "
                           "dashboard saved, or DIR/study of core.cli.analyse --out DIR.")
    study = load_study(folder)
    models = load_study_models(folder, study)
    if models is None:
        say(f"{study.name}: saved without its models; fitting them on its {len(study.train_ids)} training patients.")
        models = StudyResults(study).models
    return study, models


def _variants(study: Study, models: StudyModels | None, harmonise_by: str | None, saved: bool
              ) -> list[tuple[str, Study, StudyModels | None]]:
    """(label, study, frozen models or None to fit) of each variant compared."""
    if not saved:  # the sample: fitted without and with ComBat (its stored fit where the settings are its own)
        column = harmonise_by or "scanner"
        return [("none", study.with_settings(harmonise_by=None), None),
                (f"ComBat by {column}", study.with_settings(harmonise_by=column), None)]
    own = study.settings.harmonise_by
    variants: list[tuple[str, Study, StudyModels | None]] = [
        (f"as saved ({f'ComBat by {own}' if own else 'no ComBat'})", study, models)]
    if harmonise_by is not None and harmonise_by != own:
        variants.append((f"ComBat by {harmonise_by} (refitted)", study.with_settings(harmonise_by=harmonise_by), None))
    return variants


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.cli.external",
                                     description="Score an external cohort with a study's frozen models: the sample "
                                                 "study's (with and without ComBat) or a saved study's (--study).")
    parser.add_argument("--study", default=None,
                        help="a saved study folder (with study.json); default: the bundled sample study")
    parser.add_argument("--external", default=str(SAMPLE_EXTERNAL_DIR),
                        help="folder with clinical.csv (with the study's outcome columns) and the feature tables "
                             "(default: the bundled external sample cohort)")
    parser.add_argument("--harmonise-by", default=None,
                        help="cohort column for a ComBat variant, refitted on training (default: scanner for the "
                             "sample study; none for a saved study)")
    parser.add_argument("--name", default=EXTERNAL_NAME, help=f"the external cohort's name (default {EXTERNAL_NAME})")
    parser.add_argument("--out", default=None, help="write the discrimination table as CSV here")
    parser.add_argument("--table2", default=None,
                        help="write the frozen models' Table 2 (training, test and external cohorts) as CSV here")
    args = parser.parse_args(argv)
    folder = Path(args.external)
    frames = []
    try:
        if not (folder / "clinical.csv").is_file():
            raise RadNomoError(f"--external '{folder}' has no clinical.csv; give a folder with clinical.csv and "
                               "features_<family>.parquet for each feature family.")
        if args.study is None:
            study, models, saved = sample_study(), None, False
        else:
            (study, models), saved = saved_study_and_models(Path(args.study)), True
        outcome = study.spec.outcome
        if outcome.kind not in DISCRIMINATION:
            raise RadNomoError(f"external validation from the command line knows {listed(DISCRIMINATION)} outcomes, "
                               f"not a {outcome.kind} one.")
        measure, column, words = DISCRIMINATION[outcome.kind]
        clinical, _ = read_sample_external(outcome, folder)  # an outcome column it lacks joined from another CSV
        tables = external_tables(study, folder) if saved else sample_external_tables(folder)
        frozen = None
        for label, variant, fitted in _variants(study, models, args.harmonise_by, saved):
            fitted = fitted if fitted is not None else StudyResults(variant).models
            external = validate_external(variant, args.name, clinical, tables, fitted)
            if frozen is None:
                frozen = (variant, fitted, external)
            cohorts: Mapping = {**study_cohorts(variant), args.name: (external.cohort, external.tables)}
            frames.append(measure(fitted, cohorts, outcome).assign(harmonisation=label))
        table = pd.concat(frames, ignore_index=True)
        print(f"{study.name}: {words} per cohort and model (with its 95 % CI in --out)")
        wide = table.pivot_table(index=["cohort", "model"], columns="harmonisation", values=column, sort=False)
        print(wide.round(3).to_string())
        for note in (frozen[2].notes if frozen else ()):
            print(f"note: {note}")
        if args.out:
            write_csv(table, args.out, "--out")
        if args.table2 and frozen is not None:
            variant, fitted, external = frozen
            write_csv(study_table2(variant, fitted, externals=[external]), args.table2, "--table2")
    except (RadNomoError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
