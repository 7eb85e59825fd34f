"""LASSO-Cox speed: core.stats.survival.lasso_cox.lasso_cox_cv vs R's cv.glmnet(family = "cox"), same data, same folds.

    python bench/lasso_cox.py [--shapes NAME ...] [--quick] [--r-limit 180] [--json PATH]

Each shape is one 10-fold cross-validation over glmnet's 100-lambda path (glmnet's defaults: lambda.min.ratio
1e-4 when n >= p, else 1e-2; thresh 1e-7; deviance, grouped), on radiomics-like data: features sharing 20 latent
factors, on scales 0.5-50 with shifts -100..100 (as issue 26's shapes, tests/reference/lasso_shapes.py), a hazard
on the first two factors, ~30 % censored, times in whole months (ties, also between events and censorings), and
random 1-based fold labels. The shapes span what the product hands the LASSO-Cox: a few dozen to a few hundred
features after the screening funnel (300 x 40, 1,000 x 200, 3,000 x 300), up to everything past the variance filter
(500 x 1,500). ``--quick`` runs the two small shapes only (for short checks on a shared machine). ``--shapes
n1000_p1000`` adds the worst case, as many features as patients: glmnet's path then runs to lambda_max / 10^4 and a
saturated fit (95 % of the sweeps in its last 50 lambdas; ~25 s per path here, over 3 minutes for cv.glmnet), so
it is not run by default.

R's cv.glmnet runs in its own Rscript process (library loading and reading the data excluded: the cv.glmnet call
alone is timed); one that takes longer than ``--r-limit`` seconds is stopped and reported as "> limit". Times are
best of 3 when the first run takes under 5 s (both tools), else one run; CPU seconds (user + system) are
reported beside them, the fairer comparison on a shared machine, where wall times vary with the load. BLAS is
held to one thread here (and RadNomo's folds run on one thread: ``n_jobs=1``), so the ratio compares the
algorithms on one core each, as glmnet's Fortran is single-threaded. The ratio is cv.glmnet s / RadNomo s (> 1 =
RadNomo faster). The table also says whether the lambda sequences agree (1e-10 relative) and whether lambda.min
and lambda.1se are the same (else how many grid steps apart; > 0 = cv.glmnet's is the larger). RadNomo's numba
compilation (cached on disk) happens before any timing.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Imported after sys.path names the repository root, so the script runs as ``python bench/lasso_cox.py``.
import results  # noqa: E402
from core.stats.survival.lasso_cox import LassoCoxCV, lasso_cox_cv  # noqa: E402

SHORT_S = 5.0  # a run shorter than this is repeated, and the best of REPEATS kept (in R as here)
REPEATS = 3
R_LIMIT_S = 180.0  # cv.glmnet runs longer than this are stopped (reported as "> limit")
N_LATENT = 20

R_SCRIPT = f"""
suppressMessages({{library(glmnet); library(survival)}})
d <- read.csv(commandArgs(TRUE)[1])
y <- Surv(d$time, d$event); foldid <- d$foldid; x <- as.matrix(d[, -(1:3)])
cpu <- function(s) s[["user.self"]] + s[["sys.self"]]
s <- system.time(cv <- cv.glmnet(x, y, family = "cox", foldid = foldid))
t <- s[["elapsed"]]; c <- cpu(s)
runs <- 1
if (t < {SHORT_S}) for (i in 2:{REPEATS}) {{
  s <- system.time(cv <- cv.glmnet(x, y, family = "cox", foldid = foldid))
  t <- min(t, s[["elapsed"]]); c <- min(c, cpu(s))
  runs <- runs + 1
}}
cat(sprintf("%.17g", c(t, cv$lambda.min, cv$lambda.1se, length(cv$lambda), runs, c)), "\\n")
cat(sprintf("%.17g", cv$lambda), "\\n")
"""


@dataclass(frozen=True)
class Shape:
    """One benchmark problem: ``rows`` x ``features``; ``quick`` ones are run by ``--quick``, ``default`` ones when
    no shape is named."""

    name: str
    rows: int
    features: int
    quick: bool = False
    default: bool = True  # run without --shapes

    @property
    def label(self) -> str:
        return f"{self.rows:,} x {self.features:,}"


SHAPES = {s.name: s for s in (Shape("n300_p40", 300, 40, quick=True), Shape("n1000_p200", 1000, 200, quick=True),
                              Shape("n3000_p300", 3000, 300), Shape("n500_p1500", 500, 1500),
                              Shape("n1000_p1000", 1000, 1000, default=False))}


def survival_problem(rows: int, features: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """The problem of one shape, fixed by (rows, features): X, time (whole months >= 1), event (1/0), foldid (1-10).

    Drawn with ``numpy.random.default_rng(7 rows + features)``: 20 latent factors, loadings, noise (X = latent @
    loadings x 0.5 + noise), column scales on [0.5, 50) and shifts on [-100, 100); event times exponential with
    log hazard 0.8 latent_0 - 0.5 latent_1, censoring times exponential (~30 % censored); fold labels a random
    permutation of 1..10 repeated."""
    rng = np.random.default_rng(7 * rows + features)
    latent = rng.standard_normal((rows, N_LATENT))
    x = latent @ rng.standard_normal((N_LATENT, features)) * 0.5 + rng.standard_normal((rows, features))
    x = x * rng.uniform(0.5, 50, features) + rng.uniform(-100, 100, features)
    hazard = np.exp(0.8 * latent[:, 0] - 0.5 * latent[:, 1])
    event_time = rng.exponential(24.0 / hazard)
    censor_time = rng.exponential(60.0, rows)
    time_ = np.ceil(np.minimum(event_time, censor_time))  # whole months: ties
    event = (event_time <= censor_time).astype(int)
    foldid = rng.permutation(np.resize(np.arange(1, 11), rows))
    return pd.DataFrame(x, columns=[f"f{j:04d}" for j in range(features)]), time_, event, foldid


@dataclass(frozen=True)
class Timed:
    """A measured cross-validation: best seconds over ``runs`` runs, the chosen lambdas and the lambda sequence
    (``seconds`` is inf, the rest NaN/empty, when R was stopped at its limit)."""

    seconds: float
    runs: int
    lambda_min: float
    lambda_1se: float
    lambdas: np.ndarray
    cpu_seconds: float = np.inf  # best CPU time (user + system) over the same runs


def time_radnomo(X: pd.DataFrame, time_: np.ndarray, event: np.ndarray,
                 foldid: np.ndarray) -> tuple[Timed, LassoCoxCV]:
    """lasso_cox_cv with the given folds on one thread: one run, best of REPEATS when it takes under SHORT_S s."""
    best, best_cpu, runs = np.inf, np.inf, 0
    while runs < (REPEATS if best < SHORT_S else 1):
        start, start_cpu = time.perf_counter(), time.process_time()
        fit = lasso_cox_cv(X, time_, event, foldid=foldid, n_jobs=1)
        best, runs = min(best, time.perf_counter() - start), runs + 1
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    return Timed(best, runs, fit.lambda_min, fit.lambda_1se, fit.lambdas, best_cpu), fit


def r_available() -> bool:
    """Whether Rscript runs and loads glmnet and survival."""
    return bool(shutil.which("Rscript")) and subprocess.run(
        ["Rscript", "-e", "library(glmnet); library(survival)"], check=False, capture_output=True).returncode == 0


def time_glmnet(X: pd.DataFrame, time_: np.ndarray, event: np.ndarray, foldid: np.ndarray, limit: float) -> Timed:
    """cv.glmnet(x, Surv(time, event), family = "cox", foldid = foldid) in its own Rscript process."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.csv"
        frame = pd.concat([pd.DataFrame({"time": time_, "event": event, "foldid": foldid}), X], axis=1)
        frame.to_csv(data, index=False, float_format="%.17g")
        script = Path(tmp) / "cv.R"
        script.write_text(R_SCRIPT)
        try:
            out = subprocess.run(["Rscript", str(script), str(data)], capture_output=True, text=True, check=True,
                                 timeout=limit)
        except subprocess.TimeoutExpired:
            return Timed(np.inf, 0, np.nan, np.nan, np.empty(0))
    first, second = out.stdout.strip().split("\n")[:2]
    seconds, lam_min, lam_1se, _, runs, cpu = (float(v) for v in first.split())
    return Timed(seconds, int(runs), lam_min, lam_1se, np.array([float(v) for v in second.split()]), cpu)


def agreement(theirs: float, ours: float, lambdas: np.ndarray) -> str:
    """ "same", or the signed number of grid steps between the two chosen lambdas (> 0: cv.glmnet's larger)."""
    if np.isnan(theirs):
        return "-"
    if np.isclose(theirs, ours, rtol=1e-9):
        return "same"
    return f"{np.log(theirs / ours) / np.log(lambdas[0] / lambdas[1]):+.1f} steps"


def _seconds(timed: Timed, limit: float) -> str:
    if not np.isfinite(timed.seconds):
        return f"> {limit:.0f}"
    return f"{timed.seconds:.2f}" + (f" (best of {timed.runs})" if timed.runs > 1 else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", nargs="+", choices=list(SHAPES), help="only these shapes")
    parser.add_argument("--quick", action="store_true", help="the small shapes only")
    parser.add_argument("--r-limit", type=float, default=R_LIMIT_S, help="seconds after which cv.glmnet is stopped")
    parser.add_argument("--json", help="also write the result rows here")
    args = parser.parse_args()
    if not r_available():
        print("bench/lasso_cox.py needs Rscript with glmnet and survival (Debian: apt-get install r-base-core "
              "r-cran-glmnet r-cran-survival).", file=sys.stderr)
        return 2
    names = args.shapes or [s.name for s in SHAPES.values() if s.quick or (s.default and not args.quick)]
    with threadpool_limits(limits=1, user_api="blas"):
        # numba compilation (cached on disk afterwards), outside every timing
        X, time_, event, foldid = survival_problem(60, 20)
        lasso_cox_cv(X, time_, event, foldid=foldid, n_jobs=1)
        lines = ["| shape | events | RadNomo s | cv.glmnet s | ratio | CPU s (RadNomo/glmnet) | CPU ratio "
                 "| lambdas (RadNomo/glmnet) | same lambdas | lambda.min | lambda.1se |",
                 "|---|---|---|---|---|---|---|---|---|---|---|"]
        rows = []
        for name in names:
            shape = SHAPES[name]
            X, time_, event, foldid = survival_problem(shape.rows, shape.features)
            ours, fit = time_radnomo(X, time_, event, foldid)
            theirs = time_glmnet(X, time_, event, foldid, args.r_limit)
            same = "-" if not len(theirs.lambdas) else (
                "yes" if len(theirs.lambdas) == len(ours.lambdas)
                and np.allclose(theirs.lambdas, ours.lambdas, rtol=1e-10, atol=0) else "NO")
            ratio = theirs.seconds / ours.seconds
            line = (f"| {shape.label} | {int(event.sum())} | {_seconds(ours, args.r_limit)} "
                    f"| {_seconds(theirs, args.r_limit)} | {'> ' if not np.isfinite(ratio) else ''}"
                    f"{(args.r_limit if not np.isfinite(ratio) else theirs.seconds) / ours.seconds:.2f} "
                    f"| {ours.cpu_seconds:.2f}/{theirs.cpu_seconds:.2f} | {theirs.cpu_seconds / ours.cpu_seconds:.2f} "
                    f"| {len(ours.lambdas)}/{len(theirs.lambdas) or '-'} | {same} "
                    f"| {agreement(theirs.lambda_min, ours.lambda_min, fit.lambdas)} "
                    f"| {agreement(theirs.lambda_1se, ours.lambda_1se, fit.lambdas)} |")
            print(line, flush=True)
            lines.append(line)
            rows.append(results.row(f"LASSO-Cox 10-fold CV, {shape.label}, 100 lambdas", ours.seconds, "s",
                                    reference=theirs.seconds if np.isfinite(theirs.seconds) else None,
                                    reference_tool="R cv.glmnet (family = cox)"))
            rows.append(results.row(f"LASSO-Cox 10-fold CV, {shape.label}, 100 lambdas, CPU time", ours.cpu_seconds,
                                    "s", reference=theirs.cpu_seconds if np.isfinite(theirs.cpu_seconds) else None,
                                    reference_tool="R cv.glmnet (family = cox)"))
    print("\n" + "\n".join(lines))
    print(f"\nratio = cv.glmnet s / RadNomo s (> 1 = RadNomo faster), one core each; times best of {REPEATS} where a "
          f"run took under {SHORT_S:.0f} s; cv.glmnet stopped after {args.r_limit:.0f} s; lambda steps > 0: "
          "cv.glmnet's lambda is the larger.")
    results.write(args.json, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
