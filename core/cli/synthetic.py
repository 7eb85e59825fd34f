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

from core.errors import RadNomoError
from core.imaging.synthetic import generate_clinical, generate_cohort, image_subset

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m core.cli.synthetic",
                                     description="Generate the synthetic gastric-cancer CT cohort.")
    parser.add_argument("--n", type=int, default=1001, help="number of patients (default 1001)")
    parser.add_argument("--seed", type=int, default=20250601, help="cohort seed (default 20250601)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--no-images", action="store_true", help="write the tables only")
    parser.add_argument("--image-subset", type=int, default=None, metavar="K",
                        help="render images for K outcome-stratified patients only (the bundled sample)")
    parser.add_argument("--workers", type=int, default=1, help="rendering processes (default 1)")
    parser.add_argument("--scanner-mix", default=None, metavar="A=0.1,B=0.2,...",
                        help="share of patients per scanner (SCN-A..SCN-D), e.g. for an external centre")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        start = time.perf_counter()
        shares = None
        if args.scanner_mix:
            try:
                shares = {f"SCN-{k.strip().removeprefix('SCN-')}": float(v)
                          for k, v in (item.split("=") for item in args.scanner_mix.split(","))}
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
    clinical = tables.clinical
    print(f"wrote {len(clinical)} patients ({int(clinical['lm'].sum())} LM) to {args.out} "
          f"in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
