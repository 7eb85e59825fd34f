"""Extraction speed: RadNomo's batch (python -m core.cli.extract) vs pyradiomics' own CLI, same cases and work.

    python bench/extraction.py [--manifest M] [--cases 8] [--workers 2] [--params study]

Both sides do the study's work per case: 1 mm B-spline resampling, then the given pyradiomics
parameters. RadNomo resamples the whole crop itself; the pyradiomics CLI gets the same resampling
as its own settings (resampledPixelSpacing [1, 1, 1], sitkBSpline), which it applies after cropping.
Each tool runs in a fresh process on the same cases; RadNomo starts with an empty feature store.
Prints cases per minute for each, the ratio (RadNomo / pyradiomics, > 1 = RadNomo faster), and the
re-run time from RadNomo's store.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import results  # noqa: E402
from core.imaging.extraction.batch import read_manifest  # noqa: E402
from core.imaging.extraction.radiomics import SHIPPED_PARAMS  # noqa: E402


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", default=str(ROOT / "sample_data" / "manifest.csv"))
    parser.add_argument("--cases", type=int, default=8, help="number of cases (those with files on disk)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--params", default="study", choices=sorted(SHIPPED_PARAMS))
    parser.add_argument("--json", help="also write the result rows here")
    args = parser.parse_args()

    manifest = read_manifest(args.manifest)
    manifest = manifest[manifest["Image"].map(lambda p: Path(p).is_file())].head(args.cases)
    n = len(manifest)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        cases_csv = tmp_path / "cases.csv"
        manifest[["ID", "Image", "Mask"]].to_csv(cases_csv, index=False)
        params = yaml.safe_load(SHIPPED_PARAMS[args.params].read_text())
        params["setting"].update({"resampledPixelSpacing": [1.0, 1.0, 1.0], "interpolator": "sitkBSpline"})
        pyradiomics_params = tmp_path / "pyradiomics_params.yaml"
        pyradiomics_params.write_text(yaml.safe_dump(params))

        reference = timed([str(Path(sys.executable).with_name("pyradiomics")), str(cases_csv), "-p",
                           str(pyradiomics_params), "-j", str(args.workers), "-o", str(tmp_path / "ref.csv"),
                           "-f", "csv"])
        radnomo_command = [sys.executable, "-m", "core.cli.extract", str(cases_csv), "--params", args.params, "--out",
                           str(tmp_path / "ours.parquet"), "--workers", str(args.workers), "--store",
                           str(tmp_path / "store.sqlite")]
        ours = timed(radnomo_command)
        cached = timed(radnomo_command)

    print(f"{n} cases, params '{args.params}', {args.workers} workers")
    print("| tool | seconds | cases per minute |")
    print("|---|---|---|")
    print(f"| pyradiomics CLI (-j {args.workers}) | {reference:.1f} | {60 * n / reference:.1f} |")
    print(f"| RadNomo core.cli.extract (--workers {args.workers}) | {ours:.1f} | {60 * n / ours:.1f} |")
    print(f"| RadNomo re-run from the feature store | {cached:.1f} | {60 * n / cached:.1f} |")
    print(f"ratio RadNomo / pyradiomics (cases per minute): {reference / ours:.2f}")
    results.write(args.json, [
        results.row(f"radiomics extraction, {n} cases, '{args.params}' params, {args.workers} workers", ours, "s",
                    reference=reference, reference_tool="pyradiomics CLI"),
        results.row(f"the same {n} cases again (feature store)", cached, "s", reference=reference,
                    reference_tool="pyradiomics CLI")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
