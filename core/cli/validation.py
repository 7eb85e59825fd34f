"""Command line: Harrell's bootstrap optimism-corrected AUC and repeated CV of the sample study.

    python -m core.cli.validation --out DIR [--n-boot 200] [--folds 5] [--repeats 2] [--seed 0]

The whole pipeline is refitted inside every resample, with the dashboard's default settings; the
run is written to DIR (the dashboard shows the bundled one in sample_data/validation). The counts are
bounded as on the Validation page (:data:`core.workflows.validation.RUN_LIMITS`) and the seed is a whole
number from 0 to 2**32 - 1; anything else exits with code 2 and a usage message before any resample.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from core.cli.arguments import bounded_int, seed
from core.errors import RadNomoError
from core.workflows.sample import sample_study
from core.workflows.validation import (RUN_LIMITS, optimism_corrected_auc, repeated_cv_auc, save_validation,
                                       summarise_cv)

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.cli.validation",
                                     description="Harrell's bootstrap optimism-corrected AUC and repeated CV of the "
                                                 "whole pipeline on the sample study (default settings).")
    parser.add_argument("--out", required=True, help="output folder (e.g. sample_data/validation)")
    for option, what, default in (("--n-boot", "bootstrap resamples", 200), ("--folds", "CV folds", 5),
                                  ("--repeats", "CV repeats", 2)):
        low, high = RUN_LIMITS[what]
        parser.add_argument(option, type=bounded_int(low, high, option), default=default,
                            help=f"{what}, {low} to {high} (default {default})")
    parser.add_argument("--seed", type=seed(), default=0, help="resampling seed, 0 to 2**32 - 1 (default 0)")
    args = parser.parse_args(argv)
    study = sample_study()
    start = time.perf_counter()
    try:
        result = optimism_corrected_auc(study, n_boot=args.n_boot, seed=args.seed,
                                        on_progress=lambda b, n: print(f"resample {b}/{n}", flush=True))
        boot_seconds = time.perf_counter() - start
        cv = repeated_cv_auc(study, n_folds=args.folds, n_repeats=args.repeats, seed=args.seed)
    except RadNomoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    meta = {"n_boot": args.n_boot, "folds": args.folds, "repeats": args.repeats, "seed": args.seed,
            "bootstrap_seconds": round(boot_seconds, 1),
            "command": f"python -m core.cli.validation --out {args.out} --n-boot {args.n_boot} --folds {args.folds} "
                       f"--repeats {args.repeats} --seed {args.seed}"}
    try:
        try:
            save_validation(Path(args.out), study, result, cv, meta)
        except OSError as error:  # a name too long, a file where the folder should be, a full disk
            raise RadNomoError(f"--out '{args.out}' cannot be written ({error.strerror or error}); give a writable "
                               "folder.") from error
    except RadNomoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(result.table.round(3).to_string())
    print(summarise_cv(cv).round(3).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
