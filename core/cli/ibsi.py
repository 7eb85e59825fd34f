"""Command line: measure both radiomics engines against the IBSI chapter 1 reference values.

    python -m core.cli.ibsi --out DIR [--data PATH] [--engine pyradiomics|mirp ...]
                            [--configuration digital_phantom|A|B|C|D|E ...]

Runs the IBSI digital phantom and the CT radiomics phantom under configurations A-E through
pyradiomics and MIRP (:mod:`core.imaging.ibsi`), and writes ``DIR/ibsi_compliance.csv`` (engine,
configuration, tag, reference, tolerance, value, status, pyradiomics_feature, engine_feature) and
``DIR/ibsi_summary.csv`` (counts per engine x configuration x status, also printed). The data folder
defaults to ``../shared/data`` beside the repository. The shipped table is regenerated with
``python -m core.cli.ibsi --out core/imaging``. Exit code 0 on success, 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from core.errors import RadNomoError

__all__ = ["main", "DEFAULT_DATA"]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    from core.imaging.ibsi import CONFIGURATIONS, ENGINES, NOT_MATCHED, full_compliance, summarise

    parser = argparse.ArgumentParser(prog="python -m core.cli.ibsi", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output folder for ibsi_compliance.csv and ibsi_summary.csv")
    parser.add_argument("--data", default=str(DEFAULT_DATA),
                        help=f"shared data folder with ibsi_reference/ and the phantoms (default {DEFAULT_DATA})")
    parser.add_argument("--engine", action="append", choices=ENGINES, help="engine(s) to run (default: both)")
    parser.add_argument("--configuration", action="append", choices=list(CONFIGURATIONS),
                        help="configuration(s) to run (default: all six)")
    args = parser.parse_args(argv)
    engines = tuple(args.engine or ENGINES)
    configurations = tuple(args.configuration or CONFIGURATIONS)
    data = Path(args.data)
    if not (data / "ibsi_reference").is_dir():
        print(f"error: '{data}' has no ibsi_reference/ folder; pass --data with the shared data folder.",
              file=sys.stderr)
        return 2

    def progress(engine: str, configuration: str, seconds: float) -> None:
        print(f"{engine:12s} {configuration:16s} {seconds:6.1f} s", file=sys.stderr, flush=True)

    start = time.perf_counter()
    try:
        table, timings = full_compliance(data, engines=engines, configurations=configurations, on_progress=progress)
    except RadNomoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary = summarise(table).merge(timings, on=["engine", "configuration"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "ibsi_compliance.csv", index=False)
    summary.to_csv(out / "ibsi_summary.csv", index=False, float_format="%.1f")
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    print("\nNot matched (per engine and configuration):")
    for engine in engines:
        for configuration in configurations:
            for item in NOT_MATCHED[engine][configuration]:
                print(f"  {engine} {configuration}: {item}")
    print(f"\n{len(table)} rows -> {out / 'ibsi_compliance.csv'}, summary -> {out / 'ibsi_summary.csv'} "
          f"in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
