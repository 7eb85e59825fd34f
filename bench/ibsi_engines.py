"""Engine speed: MIRP vs pyradiomics per case, same sample cases, same RadNomo reading and pre-processing.

    python bench/ibsi_engines.py [--manifest M] [--cases 3] [--params original] [--json PATH]

Both engines run through :func:`core.imaging.extraction.batch.extract_case` on the same cases with
the same parameter file (default 'original': shape, first order and the five texture families of the
unfiltered image, fixed bin width 25 HU), so they read the files and resample to 1 mm (B-spline) and
clip HU alike; MIRP's settings are derived from the same parameters
(:meth:`core.imaging.extraction.mirp_engine.MirpSettings.from_params`). One warm-up case per engine
first, so imports and first-call compilation are not counted. Prints seconds per case and feature
counts for each engine; ratio = pyradiomics / MIRP seconds (> 1 = MIRP faster). In the ``--json``
rows (bench/results.py's format) ``radnomo`` is the MIRP engine and ``reference`` the pyradiomics one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import results  # noqa: E402
from core.imaging.extraction.batch import ExtractionSettings, extract_case, read_manifest  # noqa: E402
from core.imaging.extraction.radiomics import SHIPPED_PARAMS, load_params  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", default=str(ROOT / "sample_data" / "manifest.csv"))
    parser.add_argument("--cases", type=int, default=3, help="number of cases (those with files on disk), 3-5")
    parser.add_argument("--params", default="original", choices=sorted(SHIPPED_PARAMS),
                        help="parameters both engines follow (MIRP accepts Original/LoG/Wavelet only)")
    parser.add_argument("--json", help="also write the result rows here")
    args = parser.parse_args()

    manifest = read_manifest(args.manifest)
    manifest = manifest[manifest["Image"].map(lambda p: Path(p).is_file())].head(args.cases + 1)
    if len(manifest) < 2:
        print("error: fewer than two cases with files on disk.", file=sys.stderr)
        return 2
    warm_up, cases = manifest.iloc[0], manifest.iloc[1:]
    params = load_params(args.params)
    seconds: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for engine in ("pyradiomics", "mirp"):
        settings = ExtractionSettings(params=params, engine=engine)
        extract_case(warm_up["Image"], warm_up["Mask"], settings)
        for row in cases.itertuples():
            start = time.perf_counter()
            features, _ = extract_case(row.Image, row.Mask, settings)
            seconds.setdefault(engine, []).append(time.perf_counter() - start)
            counts[engine] = len(features)

    n = len(cases)
    print(f"{n} cases ({', '.join(cases['ID'])}), params '{args.params}', 1 process, after one warm-up case")
    print("| engine | features per case | seconds per case (mean) | per case |")
    print("|---|---|---|---|")
    for engine in ("pyradiomics", "mirp"):
        print(f"| {engine} | {counts[engine]} | {statistics.mean(seconds[engine]):.2f} | "
              f"{', '.join(f'{s:.2f}' for s in seconds[engine])} |")
    mirp, reference = statistics.mean(seconds["mirp"]), statistics.mean(seconds["pyradiomics"])
    print(f"ratio pyradiomics / MIRP seconds per case: {reference / mirp:.3f} (> 1 = MIRP faster)")
    results.write(args.json, [
        results.row(f"one case, '{args.params}' params, MIRP engine ({counts['mirp']} features) vs pyradiomics "
                    f"({counts['pyradiomics']}), mean of {n}", mirp, "s", reference=reference,
                    reference_tool="pyradiomics (RadNomo engine)")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
