"""Command line: Harrell's bootstrap optimism-corrected AUC and repeated CV of the sample study.

    python -m core.cli.validation --out DIR [--n-boot 200] [--folds 5] [--repeats 2] [--seed 0]
                                  [--scheduler tcp://HOST:8786]

The whole pipeline is refitted inside every resample, with the dashboard's default settings; the
run is written to DIR (the dashboard shows the bundled one in sample_data/validation). The counts are
bounded as on the Validation page (:data:`core.workflows.validation.RUN_LIMITS`) and the seed is a whole
number from 0 to 2**32 - 1; anything else exits with code 2 and a usage message before any resample.

The resamples run on local worker processes (one per core) by default, on an existing Dask cluster with
``--scheduler tcp://HOST:8786`` (its workers need this RadNomo version installed), or in this process with
``--scheduler serial``; the numbers are identical wherever they run. A malformed address exits with code 2
before anything runs; an unreachable scheduler exits with code 2 and says so after a few seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from core.cli.arguments import bounded_int, seed
from core.errors import RadNomoError
from core.workflows.cluster import describe_setting, executor_setting, resample_runner, time_left
from core.workflows.sample import sample_study
from core.workflows.validation import (RUN_LIMITS, optimism_corrected_auc, repeated_cv_auc, save_validation,
                                       summarise_cv)

__all__ = ["main"]


def _where(text: str) -> str:
    """argparse type of --scheduler: :func:`core.workflows.cluster.executor_setting` (exit 2 when malformed)."""
    try:
        return executor_setting(text)
    except RadNomoError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _progress(unit: str):
    """Prints "resample 17/200, ~2 min left" as resamples finish (nothing before the first)."""
    def show(done: int, total: int, seconds_left: float | None) -> None:
        if done:
            print(f"{unit} {done}/{total}" + (f", ~{time_left(seconds_left)} left" if seconds_left else ""),
                  flush=True)
    return show


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
    parser.add_argument("--scheduler", type=_where, default="local",
                        help="where the resamples run: the Dask scheduler of an existing cluster (tcp://HOST:8786; "
                             "its workers need this RadNomo version), 'serial' (this process) or 'local' (default: "
                             "one worker process per core); the results are the same")
    args = parser.parse_args(argv)
    study = sample_study()
    try:
        print(f"running on {describe_setting(args.scheduler)}", flush=True)
        # One cluster (started or connected to once) for the bootstrap and the CV.
        with resample_runner(args.scheduler) as runner:
            start = time.perf_counter()
            result = optimism_corrected_auc(study, n_boot=args.n_boot, seed=args.seed, where=runner,
                                            on_progress=_progress("resample"))
            boot_seconds = time.perf_counter() - start
            cv = repeated_cv_auc(study, n_folds=args.folds, n_repeats=args.repeats, seed=args.seed, where=runner,
                                 on_progress=_progress("fold"))
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
