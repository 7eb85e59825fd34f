"""Command line: the sample study's frozen models on an external cohort, with and without ComBat.

    python -m core.cli.external [--external FOLDER] [--harmonise-by scanner] [--out table.csv]

FOLDER holds clinical.csv and one features_<family>.parquet per family of the sample study
(features_radiomics.parquet, features_deep.parquet for the "dl" family); the bundled external centre
by default. Prints the training, test and external AUCs with and without ComBat.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from core.cli.arguments import write_csv
from core.errors import RadNomoError
from core.io.tables import read_table
from core.workflows.external import cohort_aucs, study_cohorts, validate_external
from core.workflows.results import StudyResults
from core.workflows.sample import SAMPLE_EXTERNAL_DIR, sample_external_tables, sample_study

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.cli.external",
                                     description="Validate the sample study's models on an external cohort "
                                                 "(training, test and external AUCs, with and without ComBat).")
    parser.add_argument("--external", default=str(SAMPLE_EXTERNAL_DIR),
                        help="folder with clinical.csv and the feature tables (default: the bundled external "
                             "sample cohort)")
    parser.add_argument("--harmonise-by", default="scanner", help="cohort column for ComBat (default: scanner)")
    parser.add_argument("--out", default=None, help="write the table as CSV here")
    args = parser.parse_args(argv)
    folder = Path(args.external)
    study = sample_study()
    frames = []
    try:
        clinical = read_table(folder / "clinical.csv")
        tables = sample_external_tables(folder)
        for label, column in (("none", None), (f"ComBat by {args.harmonise_by}", args.harmonise_by)):
            variant = study.with_settings(harmonise_by=column)
            models = StudyResults(variant).models  # the sample's stored fit where the settings are its own
            external = validate_external(variant, "external", clinical, tables, models)
            cohorts = {**study_cohorts(variant), "external": (external.cohort, external.tables)}
            frames.append(cohort_aucs(models, cohorts, study.spec.outcome).assign(harmonisation=label))
    except (RadNomoError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    table = pd.concat(frames, ignore_index=True)
    wide = table.pivot_table(index=["cohort", "model"], columns="harmonisation", values="auc", sort=False)
    print(wide.round(3).to_string())
    if args.out:
        try:
            write_csv(table, args.out, "--out")
        except RadNomoError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
