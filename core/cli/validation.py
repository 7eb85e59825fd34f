"""Command line: Harrell's bootstrap optimism-corrected AUC and repeated CV of the sample study.

    python -m core.cli.validation --out DIR [--n-boot 200] [--folds 5] [--repeats 2] [--seed 0]

The whole pipeline is refitted inside every resample, with the dashboard's default settings; the
run is written to DIR (the dashboard shows the bundled one in sample_data/validation).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from core.workflows.sample import sample_study
from core.workflows.validation import optimism_corrected_auc, repeated_cv_auc, save_validation, summarise_cv

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.cli.validation",
                                     description="Harrell's bootstrap optimism-corrected AUC and repeated CV of the "
                                                 "whole pipeline on the sample study (default settings).")
    parser.add_argument("--out", required=True, help="output folder (e.g. sample_data/validation)")
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    study = sample_study()
    start = time.perf_counter()
    result = optimism_corrected_auc(study, n_boot=args.n_boot, seed=args.seed,
                                    on_progress=lambda b, n: print(f"resample {b}/{n}", flush=True))
    boot_seconds = time.perf_counter() - start
    cv = repeated_cv_auc(study, n_folds=args.folds, n_repeats=args.repeats, seed=args.seed)
    meta = {"n_boot": args.n_boot, "folds": args.folds, "repeats": args.repeats, "seed": args.seed,
            "bootstrap_seconds": round(boot_seconds, 1),
            "command": f"python -m core.cli.validation --out {args.out} --n-boot {args.n_boot} --folds {args.folds} "
                       f"--repeats {args.repeats} --seed {args.seed}"}
    save_validation(Path(args.out), study, result, cv, meta)
    print(result.table.round(3).to_string())
    print(summarise_cv(cv).round(3).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
