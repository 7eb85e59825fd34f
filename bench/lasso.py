"""LASSO-CV speed: core.stats.selection.lasso_cv vs R's cv.glmnet (or scikit-learn when R is absent), same data.

    python bench/lasso.py [--rows 701] [--features 2437] [--seed 7] [--bootstrap]
    python bench/lasso.py --grid [--shapes NAME ...]

One problem (the default): 10-fold CV over glmnet's 100-lambda path of a logistic LASSO on a
701 x 2,437 matrix (the study's training cohort x its extracted features), here standard-normal
features with ten informative ones. ``--bootstrap --rows 700 --features 180`` is instead the
shape of the LASSO-CV inside each resample of the optimism bootstrap: more rows than features
(glmnet's path then runs down to 1e-4 of the largest lambda), features strongly correlated
through ten shared factors (as the autoencoder's latent features), and the rows drawn with replacement,
so repeated patients push the end of the path towards separation. Both tools get the same rows and the same fold labels.

``--grid`` runs every shape in one run: issue 26's problems (tests/reference/lasso_shapes.py: 20 latent factors,
column scales 0.5-50 and shifts -100..100, stratified folds seed 0) at 200 x 2,000, 700 x 317, 2,800 x 651,
7,000 x 200 and a bootstrap resample of the 700 x 317 one, then the two problems above (701 x 2,437 and the
bootstrap-shaped 700 x 180, seed 7); ``--shapes`` picks some of them by name. It needs Rscript with glmnet.
It prints one table: shape, RadNomo's and cv.glmnet's seconds, the ratio, the path lengths, and whether
lambda.min and lambda.1se are the same (else how many grid steps apart; > 0 = cv.glmnet's is the larger).

With Rscript and glmnet installed, R's cv.glmnet is timed in its own process (library loading and
reading the data excluded: the cv.glmnet call alone, glmnet's defaults) and the chosen lambdas are compared;
otherwise (one problem only) the reference is scikit-learn's LogisticRegressionCV(penalty="l1", 100 Cs,
10 folds, liblinear). Times are best of 3 when the first run takes under 5 s (both tools; the machine is shared
and noisy), else one run. The ratio is reference / RadNomo, > 1 = RadNomo faster. RadNomo's first call (numba
compilation, cached on disk afterwards) is made before timing.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Imported after sys.path names the repository root, so the script runs as ``python bench/lasso.py``.
import results  # noqa: E402
from core.stats.selection import LassoCV, lasso_cv  # noqa: E402
from tests.reference.lasso_shapes import SHAPES, correlated_problem, write_csv  # noqa: E402

# A run shorter than this is repeated, and the best of REPEATS kept (in R as here).
SHORT_S = 5.0
REPEATS = 3

R_SCRIPT = f"""
suppressMessages(library(glmnet))
d <- read.csv(commandArgs(TRUE)[1])
y <- d$y; foldid <- d$foldid; x <- as.matrix(d[, -(1:2)])
t <- system.time(cv <- cv.glmnet(x, y, family = "binomial", foldid = foldid))[["elapsed"]]
runs <- 1
if (t < {SHORT_S}) for (i in 2:{REPEATS}) {{
  t <- min(t, system.time(cv <- cv.glmnet(x, y, family = "binomial", foldid = foldid))[["elapsed"]])
  runs <- runs + 1
}}
cat(sprintf("%.17g", c(t, cv$lambda.min, cv$lambda.1se, length(cv$lambda), runs)), "\\n")
"""


def problem(rows: int, features: int, seed: int,
            bootstrap: bool = False) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The README's problems: standard-normal features (or, ``bootstrap``, ten-factor correlated ones with the rows
    drawn with replacement), an outcome on the first ten, random 1-based fold labels. Returns X, y, foldid."""
    rng = np.random.default_rng(seed)
    if bootstrap:
        # most of each feature's variance shared through ten factors, as in the autoencoder's latent vector
        factors = rng.standard_normal((rows, 10))
        x = factors @ rng.standard_normal((10, features)) * 3.0 + rng.standard_normal((rows, features))
        x /= x.std(axis=0)
    else:
        x = rng.standard_normal((rows, features))
    eta = -0.8 + 0.4 * x[:, :10].sum(axis=1) / (np.sqrt(10) if bootstrap else 1)
    y = (rng.random(rows) < 1 / (1 + np.exp(-eta))).astype(int)
    if bootstrap:
        drawn = rng.integers(0, rows, rows)
        x, y = x[drawn], y[drawn]
    foldid = rng.permutation(np.resize(np.arange(1, 11), rows))
    return pd.DataFrame(x, columns=[f"f{j:04d}" for j in range(features)]), y, foldid


@dataclass(frozen=True)
class GridProblem:
    """A shape of the grid: its name (for ``--shapes``), its label in the table and how to make it."""

    name: str
    label: str
    make: Callable[[], tuple[pd.DataFrame, np.ndarray, np.ndarray]]


def _issue_problem(name: str) -> GridProblem:
    shape = SHAPES[name]
    return GridProblem(name, shape.label + ", correlated",
                       lambda: correlated_problem(shape.rows, shape.features, shape.resample))


GRID: dict[str, GridProblem] = {g.name: g for g in (
    *(_issue_problem(name) for name in SHAPES),
    GridProblem("readme_701x2437", "701 x 2,437, standard normal", lambda: problem(701, 2437, 7)),
    GridProblem("readme_bootstrap_700x180", "700 x 180, bootstrap-shaped", lambda: problem(700, 180, 7, True)),
)}


@dataclass(frozen=True)
class Timed:
    """A measured LASSO-CV: best seconds over ``runs`` runs, the chosen lambdas and the path length."""

    seconds: float
    runs: int
    lambda_min: float
    lambda_1se: float
    n_lambdas: int


def time_radnomo(X: pd.DataFrame, y: np.ndarray, foldid: np.ndarray) -> tuple[Timed, LassoCV]:
    """lasso_cv with the given folds: one run, best of REPEATS when it takes under SHORT_S seconds."""
    best, runs = np.inf, 0
    while runs < (REPEATS if best < SHORT_S else 1):
        start = time.perf_counter()
        fit = lasso_cv(X, y, foldid=foldid)
        best, runs = min(best, time.perf_counter() - start), runs + 1
    return Timed(best, runs, fit.lambda_min, fit.lambda_1se, len(fit.lambdas)), fit


def r_available() -> bool:
    """Whether Rscript runs and loads glmnet."""
    return bool(shutil.which("Rscript")) and subprocess.run(
        ["Rscript", "-e", "library(glmnet)"], check=False, capture_output=True).returncode == 0


def time_glmnet(X: pd.DataFrame, y: np.ndarray, foldid: np.ndarray) -> Timed:
    """cv.glmnet(x, y, family = "binomial", foldid = foldid) in its own Rscript process (the call alone timed)."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.csv"
        write_csv(X, y, foldid, data)
        script = Path(tmp) / "cv.R"
        script.write_text(R_SCRIPT)
        out = subprocess.run(["Rscript", str(script), str(data)], capture_output=True, text=True, check=True)
    seconds, lam_min, lam_1se, n_lambdas, runs = (float(v) for v in out.stdout.split())
    return Timed(seconds, int(runs), lam_min, lam_1se, int(n_lambdas))


def steps_apart(theirs: float, ours: float, lambdas: np.ndarray) -> float:
    """How many steps of the (geometric) lambda grid separate two lambdas; > 0 when ``theirs`` is the larger."""
    return float(np.log(theirs / ours) / np.log(lambdas[0] / lambdas[1]))


def agreement(theirs: float, ours: float, lambdas: np.ndarray) -> str:
    """ "same", or the signed number of grid steps between the two chosen lambdas."""
    if np.isclose(theirs, ours, rtol=1e-9):
        return "same"
    return f"{steps_apart(theirs, ours, lambdas):+.1f} steps"


def _seconds(timed: Timed) -> str:
    return f"{timed.seconds:.2f}" + (f" (best of {timed.runs})" if timed.runs > 1 else "")


def run_grid(names: list[str], json_path: str | None) -> int:
    """Time every named grid problem with both tools, print the table, write the json rows."""
    if not r_available():
        print("--grid needs Rscript with glmnet (Debian: apt-get install r-base-core r-cran-glmnet).", file=sys.stderr)
        return 2
    lines = ["| shape | RadNomo s | cv.glmnet s | ratio | lambdas (RadNomo/glmnet) | lambda.min | lambda.1se |",
             "|---|---|---|---|---|---|---|"]
    rows = []
    for name in names:
        grid = GRID[name]
        X, y, foldid = grid.make()
        ours, fit = time_radnomo(X, y, foldid)
        theirs = time_glmnet(X, y, foldid)
        line = (f"| {grid.label} | {_seconds(ours)} | {_seconds(theirs)} | {theirs.seconds / ours.seconds:.2f} "
                f"| {ours.n_lambdas}/{theirs.n_lambdas} | {agreement(theirs.lambda_min, ours.lambda_min, fit.lambdas)} "
                f"| {agreement(theirs.lambda_1se, ours.lambda_1se, fit.lambdas)} |")
        print(line, flush=True)
        lines.append(line)
        rows.append(results.row(f"LASSO 10-fold CV, {grid.label}, 100 lambdas", ours.seconds, "s",
                                reference=theirs.seconds, reference_tool="R cv.glmnet"))
    print("\n" + "\n".join(lines))
    print(f"\nratio = cv.glmnet s / RadNomo s (> 1 = RadNomo faster); times best of {REPEATS} where a run took under "
          f"{SHORT_S:.0f} s; lambda steps > 0: cv.glmnet's lambda is the larger.")
    results.write(json_path, rows)
    return 0


def run_one(args: argparse.Namespace) -> int:
    """The single-problem mode: one shape, R's cv.glmnet or else scikit-learn as the reference."""
    X, y, foldid = problem(args.rows, args.features, args.seed, args.bootstrap)
    ours, fit = time_radnomo(X, y, foldid)
    print(f"RadNomo lasso_cv: {_seconds(ours)} s  lambda.min {fit.lambda_min:.6g}  lambda.1se {fit.lambda_1se:.6g}  "
          f"{len(fit.lambdas)} lambdas  {len(fit.coef_)} features selected")
    if r_available():
        theirs = time_glmnet(X, y, foldid)
        reference, reference_s = "R cv.glmnet", theirs.seconds
        print(f"R cv.glmnet:      {_seconds(theirs)} s  lambda.min {theirs.lambda_min:.6g}  lambda.1se "
              f"{theirs.lambda_1se:.6g}  {theirs.n_lambdas} lambdas")
        for rule, their_lambda, my_lambda in (("lambda.min", theirs.lambda_min, fit.lambda_min),
                                              ("lambda.1se", theirs.lambda_1se, fit.lambda_1se)):
            same = agreement(their_lambda, my_lambda, fit.lambdas)
            print(f"{rule}: " + ("the same" if same == "same" else
                                 f"DIFFERENT ({same}; cv.glmnet's default fit is itself "
                                 f"approximate where the CV curve is flat)"))
    else:
        from sklearn.linear_model import LogisticRegressionCV
        from sklearn.model_selection import PredefinedSplit

        z = (X - X.mean()) / X.std(ddof=0)
        start = time.perf_counter()
        LogisticRegressionCV(Cs=100, cv=PredefinedSplit(foldid), penalty="l1", solver="liblinear",
                             scoring="neg_log_loss").fit(z, y)
        reference, reference_s = "scikit-learn LogisticRegressionCV", time.perf_counter() - start
        print(f"{reference}: {reference_s:.2f} s")
    print(f"ratio ({reference} / RadNomo): {reference_s / ours.seconds:.2f}")
    label = f"LASSO 10-fold CV, {'bootstrap resample ' if args.bootstrap else ''}{args.rows} x {args.features}"
    results.write(args.json, [results.row(f"{label}, 100 lambdas", ours.seconds,
                                          "s", reference=reference_s, reference_tool=reference)])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=701)
    parser.add_argument("--features", type=int, default=2437)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--bootstrap", action="store_true",
                        help="correlated features, rows drawn with replacement (a bootstrap resample)")
    parser.add_argument("--grid", action="store_true", help="every shape of the grid against cv.glmnet, one table")
    parser.add_argument("--shapes", nargs="+", choices=list(GRID), default=list(GRID),
                        help="with --grid: only these shapes")
    parser.add_argument("--json", help="also write the result rows here")
    args = parser.parse_args()
    # Compile once (numba; cached on disk afterwards), outside every timing: a narrow and a wide problem, so
    # both paths' code (more rows than features, and more features than rows) is ready.
    for rows, features in ((60, 20), (40, 80)):
        X, y, _ = problem(rows, features, 0)
        lasso_cv(X, y, n_folds=3)
    return run_grid(args.shapes, args.json) if args.grid else run_one(args)


if __name__ == "__main__":
    raise SystemExit(main())
