"""Every benchmark in one command, and one table of ratios to the tools people would otherwise use.

    python bench/run_all.py [--quick] [--out bench/latest.md]

Runs each bench script in its own process (so one's caches and threads cannot help another):
extraction vs the pyradiomics CLI, autoencoder throughput, LASSO-CV vs R's cv.glmnet (scikit-learn
where R is absent), DeLong at n = 10^6 vs R's pROC, the dashboard pages' render times (AppTest: the
script alone), the teaching what-if re-run, MIRP vs pyradiomics per case, and what a user waits for in
a real browser (bench/browser.py: the same pages with Streamlit's transport and the browser's drawing),
and the whole study at 1,000 to 10,000 patients (bench/scale.py; its stage table goes to bench/scale.md).
Prints
a Markdown table (ratio > 1 = RadNomo faster) and writes it to ``--out``. ``--quick`` uses smaller
problems (4 extraction cases, 16 autoencoder samples) for a fast look.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def _scripts(quick: bool) -> list[list[str]]:
    return [["extraction.py", "--cases", "4" if quick else "8"],
            ["autoencoder.py", "--samples", "16" if quick else "48"],
            ["lasso.py"],
            ["lasso.py", "--bootstrap", "--rows", "700", "--features", "180"],
            ["evaluation.py"],
            ["what_if.py"],
            ["ibsi_engines.py", "--cases", "2" if quick else "3"],
            ["scale.py", "--pages", *(["--sizes", "1000"] if quick else ["--wide"])],
            ["browser.py"]]


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"


def table(rows: list[dict]) -> str:
    """The rows as a Markdown table."""
    lines = ["| benchmark | RadNomo | reference | reference tool | ratio (> 1 = RadNomo faster) |",
             "|---|---|---|---|---|"]
    for r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        lines.append(f"| {r['benchmark']} | {_value(r['radnomo'], r['unit'])} | {_value(r['reference'], r['unit'])} "
                     f"| {r['reference_tool'] or ''} | {ratio} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(BENCH / "latest.md"))
    args = parser.parse_args(argv)
    rows: list[dict] = []
    failed = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for script in _scripts(args.quick):
            out = Path(tmp) / f"{script[0]}.json"
            print(f"== {' '.join(script)}", flush=True)
            done = subprocess.run([sys.executable, str(BENCH / script[0]), *script[1:], "--json", str(out)],
                                  check=False)
            if done.returncode != 0 or not out.is_file():
                failed.append(script[0])
                continue
            rows += json.loads(out.read_text())
    header = (f"Measured {time.strftime('%Y-%m-%d')} on {platform.processor() or platform.machine()}, "
              f"{__import__('os').cpu_count()} cores, Python {platform.python_version()}; "
              f"{time.perf_counter() - start:.0f} s in all.\n\n")
    report = header + table(rows)
    print("\n" + report)
    Path(args.out).write_text(report)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
