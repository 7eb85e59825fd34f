"""Command line: generate the synthetic cohort (tables and CTs).

    python -m core.cli.synthetic --n 1001 --seed 20250601 --out DIR [--no-images] [--image-subset K]
                                 [--workers N] [--scanner-mix A=0.1,B=0.2,C=0.4,D=0.3]

See :mod:`core.imaging.synthetic` for what is written. Exit code 0, or 2 on bad input.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

from core.cli.arguments import bounded_int, seed
from core.errors import RadNomoError
from core.imaging.synthetic import generate_clinical, generate_cohort, image_subset
from core.io.limits import finite_number_in_range
from core.io.processes import MAX_WORKERS

#: Most patients one command generates: one million (the tables of 1001 patients take a second; the
#: dashboard reads at most RADNOMO_MAX_TABLE_ROWS rows of a table anyway).
MAX_PATIENTS = 1_000_000

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m core.cli.synthetic",
                                     description="Generate the synthetic gastric-cancer CT cohort.")
    parser.add_argument("--n", type=bounded_int(1, MAX_PATIENTS, "--n"), default=1001,
                        help=f"number of patients, up to {MAX_PATIENTS:,} (default 1001)")
    parser.add_argument("--seed", type=seed(), default=20250601, help="cohort seed, 0 to 2**32 - 1 (default 20250601)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--no-images", action="store_true", help="write the tables only")
    parser.add_argument("--image-subset", type=bounded_int(1, MAX_PATIENTS, "--image-subset"), default=None,
                        metavar="K",
                        help="render images for K outcome-stratified patients only (the bundled sample)")
    parser.add_argument("--workers", type=bounded_int(1, MAX_WORKERS, "--workers"), default=1,
                        help=f"rendering processes, 1 to {MAX_WORKERS} (default 1)")
    parser.add_argument("--scanner-mix", default=None, metavar="A=0.1,B=0.2,...",
                        help="share of patients per scanner (SCN-A..SCN-D), e.g. for an external centre")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        start = time.perf_counter()
        shares = None
        if args.scanner_mix:
            try:
                # Relative weights: finite and non-negative (NaN or inf would reach the sampler as NaN).
                shares = {f"SCN-{k.strip().removeprefix('SCN-')}": finite_number_in_range(v, 0, 1e6, f"share of {k}")
                          for k, v in (item.split("=") for item in args.scanner_mix.split(","))}
            except RadNomoError:  # a share that is NaN, infinite or negative: its own message
                raise
            except ValueError as error:
                raise RadNomoError(f"--scanner-mix '{args.scanner_mix}' should read like A=0.1,B=0.5,C=0.4.") \
                    from error
        rows = None
        if args.image_subset is not None:
            rows = image_subset(generate_clinical(n=args.n, seed=args.seed, scanner_shares=shares), args.image_subset)
        tables = generate_cohort(args.out, n=args.n, seed=args.seed, images=not args.no_images,
                                 image_rows=rows, workers=args.workers, scanner_shares=shares)
    except RadNomoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a name too long, a file where a folder should be, a full disk
        print(f"error: --out '{args.out}' cannot be written ({error.strerror or error}); give a writable folder.",
              file=sys.stderr)
        return 2
    clinical = tables.clinical
    print(f"wrote {len(clinical)} patients ({int(clinical['lm'].sum())} LM) to {args.out} "
          f"in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
