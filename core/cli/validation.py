"""Command line: Harrell's bootstrap optimism correction and repeated CV of the sample study or a saved study.

    python -m core.cli.validation --out DIR [--study FOLDER [--save-in-study]] [--n-boot 200] [--folds 5]
                                  [--repeats 2] [--seed 0] [--scheduler tcp://HOST:8786]

The whole pipeline is refitted inside every resample, with the study's settings: the bundled sample study's
defaults, or those of the saved study in FOLDER (``--study``: the dashboard's "Save", ``core.cli.analyse``'s
DIR/study). Discrimination is the outcome type's (:func:`core.stats.discrimination.measures_for`): the AUC of a
binary outcome; Harrell's C and the AUC at each horizon of a time to event (the tables then have a ``measure``
column). The run is written to DIR (the dashboard shows the bundled one in sample_data/validation); with
``--save-in-study`` it is also kept in the saved study (and shown when the dashboard opens it), its saved models
unchanged. The counts are bounded as on the Validation page (:data:`core.workflows.validation.RUN_LIMITS`) and
the seed is a whole number from 0 to 2**32 - 1; anything else exits with code 2 and a usage message before any
resample.

The resamples run on local worker processes (one per core) by default, on an existing Dask cluster with
``--scheduler tcp://HOST:8786`` (its workers need this RadNomo version installed), or in this process with
``--scheduler serial``; the numbers are identical wherever they run. A malformed address exits with code 2
before anything runs; an unreachable scheduler exits with code 2 and says so after a few seconds. A folder that
holds no study, or a study that does not load, exits with code 2 before anything runs.
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
from core.workflows.persistence import STUDY_FILE, load_study, load_study_models, save_study
from core.workflows.sample import sample_study
from core.workflows.study import Study
from core.workflows.validation import (RUN_LIMITS, optimism_corrected_auc, repeated_cv_auc, save_validation,
                                       summarise_cv, with_bootstrap, with_cv)

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


def _saved_study(folder: Path) -> Study:
    """The saved study in ``folder`` (re-validated on loading).

    Raises
    ------
    RadNomoError
        For a folder without a study, or a study that does not load.
    """
    if not (folder / STUDY_FILE).is_file():
        raise RadNomoError(f"--study '{folder}' is not a saved study (it has no {STUDY_FILE}); give the folder the "
                           "dashboard saved, or DIR/study of core.cli.analyse --out DIR.")
    return load_study(folder)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.cli.validation",
                                     description="Harrell's bootstrap optimism-corrected discrimination and repeated "
                                                 "CV of the whole pipeline on the sample study (default settings) or "
                                                 "a saved study (--study).")
    parser.add_argument("--out", required=True, help="output folder (e.g. sample_data/validation)")
    parser.add_argument("--study", default=None,
                        help="a saved study folder (with study.json); default: the bundled sample study")
    parser.add_argument("--save-in-study", action="store_true",
                        help="also keep the run in the saved study of --study (its models unchanged)")
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
    if args.save_in_study and args.study is None:
        parser.error("--save-in-study needs --study FOLDER (the bundled sample study is not saved over)")
    try:
        study = sample_study() if args.study is None else _saved_study(Path(args.study))
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
    study_option = "" if args.study is None else f" --study {args.study}"
    meta = {"n_boot": args.n_boot, "folds": args.folds, "repeats": args.repeats, "seed": args.seed,
            "bootstrap_seconds": round(boot_seconds, 1),
            "command": f"python -m core.cli.validation --out {args.out}{study_option} --n-boot {args.n_boot} "
                       f"--folds {args.folds} --repeats {args.repeats} --seed {args.seed}"}
    try:
        try:
            save_validation(Path(args.out), study, result, cv, meta)
        except OSError as error:  # a name too long, a file where the folder should be, a full disk
            raise RadNomoError(f"--out '{args.out}' cannot be written ({error.strerror or error}); give a writable "
                               "folder.") from error
        if args.save_in_study:
            folder = Path(args.study)
            models = load_study_models(folder, study)  # kept as they are (the run changes no model)
            kept = with_cv(with_bootstrap(study, result, seed=args.seed), cv, folds=args.folds,
                           repeats=args.repeats, seed=args.seed, stopped=False)
            save_study(kept, folder, models)
            print(f"kept in the saved study {folder}", flush=True)
    except RadNomoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(result.table.round(3).to_string())
    print(summarise_cv(cv).round(3).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
