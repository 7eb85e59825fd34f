"""Evaluation speed: DeLong at n = 1,000,000 (vs R pROC when present), the sample study's whole evaluation, and
the dashboard pages' render times.

    python bench/evaluation.py [--n 1000000] [--no-pages]

Study evaluation: core.workflows.evaluation.evaluate_study of the sample study's saved fit (every model on the
training and test cohorts: AUCs, ROC, DeLong pairs, Table 2, calibration and decision curves), the one
computation the Evaluation page, External validation and the report share.

DeLong: core.stats.evaluation.delong_test on two correlated scores of n patients (about 30 % events),
timed in-process; with Rscript and pROC installed, pROC's roc.test(method = "delong", paired)
on the same data is timed inside R (data loading excluded) and the ratio printed (> 1 = RadNomo
faster). Pages: each analysis page of the sample study run in Streamlit's AppTest, first (models
fitted, caches empty) and again (caches warm, as when a user moves a control); prints seconds.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import results  # noqa: E402
from core.stats.evaluation import delong_test  # noqa: E402

R_SCRIPT = """
suppressMessages(library(pROC))
d <- read.csv(commandArgs(TRUE)[1])
t <- system.time({
  ra <- roc(d$y, d$a, direction = "<", levels = c(0, 1), quiet = TRUE)
  rb <- roc(d$y, d$b, direction = "<", levels = c(0, 1), quiet = TRUE)
  test <- roc.test(ra, rb, method = "delong", paired = TRUE)
})[["elapsed"]]
cat(t, test$p.value, "\\n")
"""

PAGES = ["pages/selection.py", "pages/models.py", "pages/evaluation.py", "pages/nomogram.py", "pages/subgroups.py",
         "pages/validation.py", "pages/external.py", "pages/walkthrough.py", "pages/teaching.py"]


def bench_delong(n: int) -> list[dict]:
    rng = np.random.default_rng(0)
    y = (rng.random(n) < 0.3).astype(int)
    a = y * 0.8 + rng.normal(size=n)
    b = 0.6 * a + y * 0.4 + rng.normal(size=n)
    delong_test(y[:1000], a[:1000], b[:1000])
    start = time.perf_counter()
    result = delong_test(y, a, b)
    ours = time.perf_counter() - start
    print(f"DeLong, n = {n:,}: RadNomo {ours:.3f} s (p = {result.p_value:.3g})")
    reference = None
    if shutil.which("Rscript") and subprocess.run(["Rscript", "-e", "library(pROC)"], check=False,
                                                  capture_output=True).returncode == 0:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "d.csv"
            pd.DataFrame({"y": y, "a": a, "b": b}).to_csv(data, index=False)
            script = Path(tmp) / "delong.R"
            script.write_text(R_SCRIPT)
            out = subprocess.run(["Rscript", str(script), str(data)], check=True, capture_output=True, text=True)
        seconds, p_value = (float(v) for v in out.stdout.split())
        print(f"DeLong, n = {n:,}: R pROC {seconds:.3f} s (p = {p_value:.3g}); ratio (pROC / RadNomo) "
              f"{seconds / ours:.1f}")
        reference = seconds
    return [results.row(f"paired DeLong test, n = {n:,}", ours, "s", reference=reference,
                        reference_tool="R pROC roc.test" if reference is not None else None)]


def bench_study_evaluation() -> list[dict]:
    from core.workflows.evaluation import evaluate_study
    from core.workflows.results import StudyResults
    from core.workflows.sample import sample_study

    results_ = StudyResults(sample_study())
    models, predictions = results_.models, results_.predictions
    start = time.perf_counter()
    evaluation = evaluate_study(results_.study, models, predictions)
    seconds = time.perf_counter() - start
    print(f"evaluate_study, sample study ({len(evaluation.models)} models x {len(evaluation.cohorts)} cohorts): "
          f"{seconds:.2f} s")
    return [results.row("evaluate_study of the sample study (every table and curve)", seconds, "s")]


def bench_pages() -> list[dict]:
    import os

    from streamlit.testing.v1 import AppTest

    os.environ.setdefault("RADNOMO_WORKSPACE", tempfile.mkdtemp(prefix="radnomo-bench-"))
    rows = []
    for page in PAGES:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        at.run()
        start = time.perf_counter()
        at.switch_page(page).run()
        first = time.perf_counter() - start
        start = time.perf_counter()
        at.run()
        again = time.perf_counter() - start
        status = "error" if at.exception or at.error else "ok"
        print(f"page {page:24s} first {first:6.2f} s   warm {again:5.2f} s   {status}")
        rows.append(results.row(f"page {page}, warm re-render ({status}; first {first:.1f} s)", again, "s"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--no-pages", action="store_true")
    parser.add_argument("--json", help="also write the result rows here")
    args = parser.parse_args()
    rows = bench_delong(args.n) + bench_study_evaluation()
    if not args.no_pages:
        rows += bench_pages()
    results.write(args.json, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
