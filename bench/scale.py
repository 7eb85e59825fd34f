"""The whole study at growing sizes: each stage's time and peak memory, up to 10,000 patients x 2,000 features.

    python bench/scale.py [--sizes 1000,2500,5000,10000] [--features 2000] [--wide] [--pages]
                          [--out bench/scale.md] [--json PATH]

For each size a synthetic study without images is drawn (:func:`core.imaging.synthetic_features.large_cohort`:
the generator's clinical table and ``--features`` radiomics-like features, correlated through 20 latent factors
of which seven are the generator's outcome-dependent phenotype, on scales from 0.5 to 50; seed 20250601),
written as ``clinical.csv`` and ``radiomics.parquet``, and run through the real command,
:func:`core.workflows.analyse.analyse` then :func:`~core.workflows.analyse.write_outputs` (what
``python -m core.analyse`` does: 7:3 split, the study's funnel, Table 2, nomogram, report, saved study), in its own
process, so that one size's memory cannot hide in another's. ``--wide`` adds 1,000 patients x 20,000 features.
``--pages`` then renders the Cohort, Selection, Models, Evaluation and Nomogram pages of the largest study in
Streamlit's AppTest, in the same process, its fit seeded into the server's store (as after a fit in the dashboard).

How it measures. The bench wraps the stage functions that ``analyse`` calls (reading, import, the study's
validation and split, missing values, each screening step, the fit, predictions, evaluation, Table 2, the
nomogram, the report, saving) with a clock that charges time to the innermost stage running, so the stages
add up to the whole run, and whatever no wrapper names is "other". Memory is the process's resident set
(RSS, which counts numpy's and numba's buffers alike, unlike tracemalloc), read from /proc every 5 ms by a
thread; a stage's peak is the largest RSS seen while it ran. The process's exact peak (getrusage's
ru_maxrss, kernel-kept) is printed beside it as a check of the sampling. Prints a Markdown table per size
and writes it, with the stages' shares, into ``--out`` between two markers (the text around them is kept);
``--json`` writes result rows (bench/results.py). Each size takes the cores the bench is given (run it under
``taskset -c 1`` to leave a core to other work, as bench/scale.md's run did).
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import logging
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import results  # noqa: E402

SEED = 20250601
#: The stages of the table, in the order a study runs them.
STAGES = ("read files", "import features", "validate + split", "prepare (missing values)", "screen: variance",
          "screen: redundancy", "screen: t-test", "screen: LASSO-CV", "screen: checks", "fit models", "predict",
          "evaluate", "Table 2", "nomogram", "report", "save study", "other")
CLINICAL = dict(continuous=["age", "tumour_thickness_mm", "cea_ng_ml", "ca19_9_u_ml"],
                categorical=["sex", "location", "ct_stage", "cn_stage", "differentiation", "lauren", "her2"])
PAGES = ("pages/cohort.py", "pages/selection.py", "pages/models.py", "pages/evaluation.py", "pages/nomogram.py")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _rss() -> int:
    """This process's resident set in bytes (/proc/self/statm: cheap enough to read every few ms)."""
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * _PAGE_SIZE


class StageClock:
    """Time and peak RSS per stage; a stage called inside another is charged to the inner one only."""

    def __init__(self, interval_s: float = 0.005) -> None:
        self.seconds: dict[str, float] = {}
        self.peak: dict[str, int] = {}
        self._stack: list[str] = ["other"]
        self._since = time.perf_counter()
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            stage, rss = self._stack[-1], _rss()
            if rss > self.peak.get(stage, 0):
                self.peak[stage] = rss
            self._stop.wait(self._interval)

    def _switch(self, push: str | None) -> None:
        now = time.perf_counter()
        top = self._stack[-1]
        self.seconds[top] = self.seconds.get(top, 0.0) + now - self._since
        self.peak[top] = max(self.peak.get(top, 0), _rss())
        self._since = now
        if push is None:
            self._stack.pop()
        else:
            self._stack.append(push)

    def wrap(self, stage: str, function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            self._switch(stage)
            try:
                return function(*args, **kwargs)
            finally:
                self._switch(None)
        return timed

    def __enter__(self) -> StageClock:
        self._since = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        now = time.perf_counter()
        self.seconds["other"] = self.seconds.get("other", 0.0) + now - self._since  # the stack is back to "other"
        self._stop.set()
        self._thread.join()


class _TimedStep:
    """A screening step (core.stats.selection.FunnelStep) whose apply runs under the clock."""

    def __init__(self, step, apply) -> None:
        self.name, self.needs, self.apply = step.name, step.needs, apply


def instrument(clock: StageClock) -> None:
    """Wrap the stage functions of the study's path (this process only; the bench's own instrumentation)."""
    import core.workflows.analyse as analyse_module
    import core.workflows.evaluation as evaluation_module
    import core.workflows.fit as fit_module
    import core.workflows.report as report_module
    import core.workflows.results as results_module
    from core.stats import selection

    targets = [(analyse_module, "_read", "read files"), (analyse_module, "read_features", "import features"),
               (analyse_module, "make_study", "validate + split"), (analyse_module, "table2", "Table 2"),
               (analyse_module, "save_study", "save study"),
               (results_module, "prepare_tables", "prepare (missing values)"),
               (results_module, "usable_families", "prepare (missing values)"),
               (results_module, "fit_models", "fit models"), (results_module, "predict_study", "predict"),
               (fit_module, "screen", "screen: checks"),
               (evaluation_module, "evaluate_study", "evaluate"), (report_module, "build_report", "report")]
    for module, name, stage in targets:
        setattr(module, name, clock.wrap(stage, getattr(module, name)))
    fit_module.StudyModels.nomogram = clock.wrap("nomogram", fit_module.StudyModels.nomogram)
    names = {"variance": "screen: variance", "redundancy": "screen: redundancy", "univariable test": "screen: t-test",
             "LASSO": "screen: LASSO-CV"}
    pipeline = selection.SCREENING_PIPELINES["study"]
    selection.SCREENING_PIPELINES["study"] = tuple(
        _TimedStep(step, clock.wrap(names[step.name], step.apply)) if step.name in names else step
        for step in pipeline)


def draw(n: int, p: int, folder: Path) -> dict:
    """Write the study of ``n`` patients x ``p`` features into ``folder``; returns what was drawn and how long."""
    from core.imaging.synthetic_features import large_cohort

    start = time.perf_counter()
    clinical, features = large_cohort(n, p, seed=SEED)
    folder.mkdir(parents=True, exist_ok=True)
    clinical.to_csv(folder / "clinical.csv", index=False)
    features.to_parquet(folder / "radiomics.parquet", index=False)
    return {"n": n, "p": p, "events": int(clinical["lm"].sum()), "draw_s": time.perf_counter() - start,
            "parquet_mb": (folder / "radiomics.parquet").stat().st_size / 1e6}


def run_study(folder: Path, pages: bool) -> dict:
    """``analyse`` + ``write_outputs`` on the drawn study under the clock (the child process's work)."""
    import numpy as np

    from core.workflows.analyse import analyse, write_outputs
    import pandas as pd

    from core.stats.selection import lasso_cv

    # numba's compiled solver read from its cache before the clock starts (the server warms it up likewise).
    rng = np.random.default_rng(0)
    tiny = pd.DataFrame(rng.normal(size=(60, 4)), columns=list("abcd"))
    lasso_cv(tiny, (tiny["a"] + rng.normal(size=60) > 0).astype(int), n_folds=3)
    gc.collect()
    clock = StageClock()
    instrument(clock)
    baseline = _rss()
    start = time.perf_counter()
    with clock:
        result = analyse(clinical=folder / "clinical.csv", id_column="patient_id", outcome_column="lm",
                         features={"radiomics": folder / "radiomics.parquet"},
                         exclude=["lm_type", "lm_interval_months"], n_boot=0, seed=0, **CLINICAL)
        written = write_outputs(result, folder / "out")
    total = time.perf_counter() - start
    screening = result.models.screening["radiomics"]
    out = {"stages": {s: {"seconds": clock.seconds.get(s, 0.0), "peak_mb": clock.peak.get(s, 0) / 1e6}
                      for s in STAGES},
           "total_s": total, "baseline_mb": baseline / 1e6, "maxrss_mb": resource.getrusage(
               resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6,  # KiB
           "funnel": [[row.step, len(row.kept)] for row in screening.steps],
           "train": len(result.study.train_ids), "report": (folder / "out" / "report.html").is_file(),
           "written": len(written),
           "test_auc": {model: round(float(auc), 3) for cohort, model, auc in
                        result.table2[["cohort", "model", "auc"]].itertuples(index=False) if cohort == "test"}}
    if pages:
        out["pages"] = render_pages(result.study, result.models)
    return out


def render_pages(study, models) -> dict:
    """First render of each analysis page on the study, its fit (screening included) seeded into the server's
    store, as after a fit in the dashboard. (A study reopened from its folder has its models but not their
    screening, so its Selection page would run the screening, LASSO-CV included, again.)"""
    from streamlit.testing.v1 import AppTest

    import ui
    from core.workflows.results import StudyResults

    os.environ.setdefault("RADNOMO_WORKSPACE", tempfile.mkdtemp(prefix="radnomo-scale-"))
    # The store is fetched outside a script run; Streamlit warns of that once per call, which says nothing here.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
    store = ui._store()
    StudyResults(study, store).seed(models)
    rows = {}
    for page in PAGES:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900)
        at.session_state["study"] = study
        at.run()
        before = _rss()
        start = time.perf_counter()
        at.switch_page(page).run()
        seconds = time.perf_counter() - start
        problem = at.exception[0].value if at.exception else (at.error[0].value if at.error else None)
        rows[page] = {"seconds": seconds, "rss_mb": max(before, _rss()) / 1e6, "ok": problem is None,
                      "problem": str(problem)[:300] if problem else None}
        print(f"  {page:22s} {seconds:7.2f} s  {'ok' if problem is None else 'ERROR ' + str(problem)[:200]}",
              flush=True)
    rows["_refits"] = dict(store.computed)
    return rows


def markdown(runs: list[dict]) -> str:
    """The measured runs as the README's table: per stage, seconds and share at each size, peak RSS."""
    head = "| stage | " + " | ".join(f"{r['n']:,} x {r['p']:,}" for r in runs) + " |"
    lines = [head, "|---|" + "---|" * len(runs)]
    for stage in STAGES:
        cells = []
        for r in runs:
            s = r["stages"][stage]
            share = 100 * s["seconds"] / r["total_s"] if r["total_s"] else 0
            cells.append(f"{s['seconds']:.2f} s ({share:.0f} %), {s['peak_mb']:,.0f} MB")
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    lines.append("| **whole study** | " + " | ".join(
        f"**{r['total_s']:.1f} s**, peak {max(s['peak_mb'] for s in r['stages'].values()):,.0f} MB "
        f"(ru_maxrss {r['maxrss_mb']:,.0f} MB)" for r in runs) + " |")
    lines.append("| test AUC per model | " + " | ".join(
        ", ".join(f"{m} {a:.3f}" for m, a in r.get("test_auc", {}).items()) for r in runs) + " |")
    lines.append("| funnel (features after each step) | " + " | ".join(
        " > ".join(str(k) for _, k in r["funnel"]) for r in runs) + " |")
    for r in runs:
        pages = {k: v for k, v in r.get("pages", {}).items() if k.startswith("pages/")}
        if pages:
            lines += ["", f"Pages on the {r['n']:,} x {r['p']:,} study (AppTest, first render after the fit):", "",
                      "| page | seconds | RSS after |", "|---|---|---|"]
            lines += [f"| {page} | {v['seconds']:.2f} s{'' if v['ok'] else ' (error: ' + str(v['problem']) + ')'} "
                      f"| {v['rss_mb']:,.0f} MB |" for page, v in pages.items()]
    return "\n".join(lines) + "\n"


#: The part of ``--out`` the bench rewrites; the text around it (the analysis) is kept.
BEGIN = "<!-- measured by bench/scale.py: rewritten on each run -->"
END = "<!-- end of bench/scale.py's measurement -->"


def write_table(path: Path, text: str) -> None:
    """Put ``text`` between :data:`BEGIN` and :data:`END` in ``path`` (appended, with the markers, the first time)."""
    block = f"{BEGIN}\n{text}{END}"
    old = path.read_text() if path.is_file() else ""
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + block + old[old.index(END) + len(END):]
    else:
        new = old + ("\n" if old else "") + block + "\n"
    path.write_text(new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,2500,5000,10000", help="patients, comma-separated")
    parser.add_argument("--features", type=int, default=2000)
    parser.add_argument("--wide", action="store_true", help="also 1,000 patients x 20,000 features")
    parser.add_argument("--pages", action="store_true", help="render the main pages on the largest study")
    parser.add_argument("--out", default=None, help="write the Markdown table here (default: print only)")
    parser.add_argument("--json", help="also write the result rows here")
    parser.add_argument("--child", nargs=2, metavar=("FOLDER", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        done = run_study(Path(args.child[0]), args.pages)
        Path(args.child[1]).write_text(json.dumps(done))
        return 0
    shapes = [(int(n), args.features) for n in args.sizes.split(",") if n]
    if args.wide:
        shapes.append((1000, 20_000))
    largest = max(range(len(shapes)), key=lambda j: (shapes[j][0], -shapes[j][1]))  # --pages: the 10k study
    runs = []
    with tempfile.TemporaryDirectory(prefix="radnomo-scale-") as tmp:
        for i, (n, p) in enumerate(shapes):
            folder = Path(tmp) / f"{n}x{p}"
            drawn = draw(n, p, folder)
            print(f"== {n:,} patients x {p:,} features ({drawn['events']} events; drawn in {drawn['draw_s']:.1f} s, "
                  f"Parquet {drawn['parquet_mb']:.0f} MB)", flush=True)
            pages = args.pages and i == largest
            child = [sys.executable, str(Path(__file__).resolve()), "--child", str(folder), str(folder / "run.json")]
            done = subprocess.run(child + (["--pages"] if pages else []), check=False)
            if done.returncode != 0:
                print(f"   failed (exit {done.returncode})", file=sys.stderr)
                return 1
            run = {**drawn, **json.loads((folder / "run.json").read_text())}
            runs.append(run)
            print(f"   whole study {run['total_s']:.1f} s, ru_maxrss {run['maxrss_mb']:,.0f} MB, report written: "
                  f"{run['report']}; funnel {run['funnel']}", flush=True)
            for stage, s in run["stages"].items():
                print(f"   {stage:26s} {s['seconds']:8.2f} s  {s['peak_mb']:8,.0f} MB", flush=True)
            shutil_rmtree(folder / "out")
    table = markdown(runs)
    header = (f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores ({len(os.sched_getaffinity(0))} open to the bench), "
              f"Python {platform.python_version()}.\n\n")
    print("\n" + header + table)
    if args.out:
        write_table(Path(args.out), header + table)
    rows = [results.row(f"whole study (core.analyse), {r['n']:,} x {r['p']:,}, peak RSS "
                        f"{r['maxrss_mb']:,.0f} MB", r["total_s"], "s") for r in runs]
    for r in runs:
        for page, v in r.get("pages", {}).items():
            if page.startswith("pages/"):
                rows.append(results.row(f"page {page}, first render, {r['n']:,} x {r['p']:,} study "
                                        f"({'ok' if v['ok'] else 'error'})", v["seconds"], "s"))
    results.write(args.json, rows)
    return 0


def shutil_rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
