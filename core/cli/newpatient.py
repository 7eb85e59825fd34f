"""Command line: score new patients from CT with a saved study's frozen models.

    python -m core.cli.newpatient --study STUDY_FOLDER --manifest cases.csv --clinical clinical.csv --out scores.csv

The manifest lists ID,Image,Mask (paths relative to it); the clinical table has the study's ID column and
the clinical predictors. Exit code 0, or 2 on bad input (one message on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from core.cli.arguments import write_csv
from core.errors import RadNomoError
from core.imaging.extraction.batch import read_manifest
from core.io.tables import read_table
from core.workflows.newpatient import score_manifest
from core.workflows.results import StageStore, StudyResults, reopen_study

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.cli.newpatient",
                                     description="Score new patients with a saved study's frozen models.")
    parser.add_argument("--study", required=True, help="saved study folder")
    parser.add_argument("--manifest", required=True, help="CSV with ID,Image,Mask (paths relative to it)")
    parser.add_argument("--clinical", required=True, help="CSV with the ID column and the clinical predictors")
    parser.add_argument("--out", required=True, help="output CSV")
    args = parser.parse_args(argv)
    try:
        store = StageStore()
        study = reopen_study(args.study, store)  # its saved fit seeded; fitted here only when none was saved
        models = StudyResults(study, store).models
        manifest = read_manifest(args.manifest)
        clinical = read_table(args.clinical)
        if study.spec.id_column not in clinical.columns:
            raise RadNomoError(f"--clinical '{args.clinical}' has no column '{study.spec.id_column}' (the study's ID "
                               f"column); its columns: {', '.join(map(str, clinical.columns[:10]))}.")
        clinical = clinical.astype({study.spec.id_column: str}).set_index(study.spec.id_column)
        scores = score_manifest(study, models, manifest, clinical,
                                on_case=lambda case_id, result: print(f"{case_id}: {result.headline()}"))
        write_csv(scores, args.out, "--out")
    except RadNomoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
