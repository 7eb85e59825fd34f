"""Command line: extract radiomics features for a manifest.

    python -m core.cli.extract MANIFEST --params P --out features.parquet --workers N
                           [--engine pyradiomics|mirp] [--scheduler tcp://HOST:8786] [--store FILE]
                           [--mask-column Mask] [--no-preprocess]

MANIFEST is pyradiomics' batch CSV (ID,Image,Mask[,Mask_reader2]). P is a params YAML or the name of
a shipped one ("study", "study_lbp", "original"); with ``--engine mirp`` MIRP computes the IBSI features
the parameters ask for (Original, LoG and Wavelet images only). Results are cached in an SQLite store
(default: next to the output, ``<out>.store.sqlite``), so an interrupted run resumes and a repeated one is
instant.
The settings used (parameters, pre-processing, pyradiomics version) are written to ``<out>.settings.json``.
Exit code 0 when every case succeeded, 1 when some failed (listed on stderr), 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from core.cli.arguments import bounded_int
from core.errors import RadNomoError
from core.io.processes import MAX_WORKERS
from core.vocabulary import EXTRACTION_ENGINES

__all__ = ["main"]


def _progress(done: int, total: int, case_id: str, status: str) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {case_id}: {status}      ",
          end="" if done < total else "\n", file=sys.stderr, flush=True)


def _write_outputs(result, out: Path) -> None:
    """The feature table and its settings beside it; an unwritable path (too long a name, no such folder, a
    full disk) becomes a RadNomoError naming it."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".parquet":
            result.features.to_parquet(out)
        else:
            result.features.to_csv(out)
        # The settings travel with the table: parameters, pre-processing, label and pyradiomics version.
        settings_path = out.with_name(out.name + ".settings.json")
        settings_path.write_text(json.dumps(result.settings.to_dict(), indent=2, sort_keys=True, default=str))
    except OSError as error:
        raise RadNomoError(f"--out '{out}' cannot be written ({error.strerror or error}); give a path in a "
                           "writable folder.") from error


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m core.cli.extract", description=__doc__.split("\n\n")[0])
    parser.add_argument("manifest", help="pyradiomics batch CSV: ID,Image,Mask[,Mask_reader2]")
    parser.add_argument("--params", default="study",
                        help="params YAML, or 'study' / 'study_lbp' / 'original' (default study)")
    parser.add_argument("--engine", default="pyradiomics", choices=list(EXTRACTION_ENGINES), help="default pyradiomics")
    parser.add_argument("--out", required=True, help="output table (.parquet or .csv)")
    parser.add_argument("--workers", type=bounded_int(1, MAX_WORKERS, "--workers"), default=1,
                        help=f"local worker processes, 1 to {MAX_WORKERS} (default 1)")
    parser.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://host:8786")
    parser.add_argument("--store", default=None, help="feature-store SQLite file (default <out>.store.sqlite)")
    parser.add_argument("--mask-column", default="Mask", help="mask column of the manifest (default Mask)")
    parser.add_argument("--no-preprocess", action="store_true",
                        help="skip RadNomo's 1 mm resampling and HU clipping (pyradiomics settings only)")
    args = parser.parse_args(argv)

    from core.imaging.extraction.batch import ExtractionSettings, read_manifest, run_batch
    from core.imaging.extraction.preprocess import NO_PREPROCESSING, PreprocessConfig
    from core.imaging.extraction.radiomics import load_params
    from core.imaging.extraction.store import FeatureStore

    out = Path(args.out)
    try:
        if out.suffix.lower() not in (".parquet", ".csv"):
            raise RadNomoError(f"--out '{out}' must end in .parquet or .csv.")
        settings = ExtractionSettings(params=load_params(args.params), engine=args.engine,
                                      preprocess=NO_PREPROCESSING if args.no_preprocess else PreprocessConfig())
        manifest = read_manifest(args.manifest)
        start = time.perf_counter()
        with FeatureStore(args.store or f"{out}.store.sqlite") as store:  # a folder, device or damaged file: refused
            result = run_batch(manifest, settings, store=store, mask_column=args.mask_column, workers=args.workers,
                               scheduler=args.scheduler, on_progress=_progress)
        _write_outputs(result, out)
    except RadNomoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    counts = result.status["status"].value_counts().to_dict()
    print(f"{len(result.features)} cases x {result.features.shape[1]} features -> {out} in "
          f"{time.perf_counter() - start:.1f} s ({counts})", file=sys.stderr)
    failed = result.status[result.status.status == "failed"]
    for row in failed.itertuples():
        print(f"failed: {row.ID}: {row.message}", file=sys.stderr)
    return 1 if len(failed) else 0


if __name__ == "__main__":
    raise SystemExit(main())
