"""LASSO-CV speed: core.stats.selection.lasso_cv vs R's cv.glmnet (or scikit-learn when R is absent), same data.

    python bench/lasso.py [--rows 701] [--features 2437] [--seed 7] [--bootstrap]

The problem is the issue's: 10-fold CV over glmnet's 100-lambda path of a logistic LASSO on a
701 x 2,437 matrix (the study's training cohort x its extracted features), here standard-normal
features with ten informative ones. ``--bootstrap --rows 700 --features 180`` is instead the
shape of the LASSO-CV inside each resample of the optimism bootstrap: more rows than features
(glmnet's path then runs down to 1e-4 of the largest lambda), features strongly correlated
through ten shared factors (as the autoencoder's latent features), and the rows drawn with replacement,
so repeated patients push the end of the path towards separation. Both tools get the same rows and the same fold labels.
With Rscript and glmnet installed, R's cv.glmnet is timed in its own process (library loading
excluded) and the chosen lambdas are compared; otherwise the reference is scikit-learn's
LogisticRegressionCV(penalty="l1", 100 Cs, 10 folds, liblinear). Prints both times and the
ratio (reference / RadNomo, > 1 = RadNomo faster). RadNomo's first call (numba compilation,
cached on disk afterwards) is made before timing.
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

# Imported after sys.path names the repository root, so the script runs as ``python bench/lasso.py``.
import results  # noqa: E402
from core.stats.selection import lasso_cv  # noqa: E402

R_SCRIPT = """
suppressMessages(library(glmnet))
d <- read.csv(commandArgs(TRUE)[1])
y <- d$y; foldid <- d$foldid; x <- as.matrix(d[, -(1:2)])
t <- system.time(cv <- cv.glmnet(x, y, family = "binomial", foldid = foldid))[["elapsed"]]
cat(t, cv$lambda.min, cv$lambda.1se, length(cv$lambda), "\\n")
"""


def problem(rows: int, features: int, seed: int,
            bootstrap: bool = False) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=701)
    parser.add_argument("--features", type=int, default=2437)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--bootstrap", action="store_true",
                        help="correlated features, rows drawn with replacement (a bootstrap resample)")
    parser.add_argument("--json", help="also write the result rows here")
    args = parser.parse_args()
    X, y, foldid = problem(args.rows, args.features, args.seed, args.bootstrap)

    lasso_cv(X.iloc[:60, :20], y[:60], n_folds=3)  # compile once
    start = time.perf_counter()
    ours = lasso_cv(X, y, foldid=foldid)
    ours_s = time.perf_counter() - start
    print(f"RadNomo lasso_cv: {ours_s:.2f} s  lambda.min {ours.lambda_min:.6g}  lambda.1se {ours.lambda_1se:.6g}  "
          f"{len(ours.lambdas)} lambdas  {len(ours.coef_)} features selected")

    if shutil.which("Rscript") and subprocess.run(["Rscript", "-e", "library(glmnet)"],
                                                  check=False, capture_output=True).returncode == 0:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "data.csv"
            X.assign(y=y, foldid=foldid)[["y", "foldid", *X.columns]].to_csv(data, index=False, float_format="%.17g")
            script = Path(tmp) / "cv.R"
            script.write_text(R_SCRIPT)
            out = subprocess.run(["Rscript", str(script), str(data)], capture_output=True, text=True, check=True)
        seconds, lam_min, lam_1se, n_lambdas = out.stdout.split()
        reference, reference_s = "R cv.glmnet", float(seconds)
        print(f"R cv.glmnet:      {reference_s:.2f} s  lambda.min {float(lam_min):.6g}  lambda.1se "
              f"{float(lam_1se):.6g}  {n_lambdas} lambdas")
        for rule, theirs, mine in (("lambda.min", float(lam_min), ours.lambda_min),
                                   ("lambda.1se", float(lam_1se), ours.lambda_1se)):
            steps = np.log(theirs / mine) / np.log(ours.lambdas[0] / ours.lambdas[1])
            print(f"{rule}: " + ("the same" if np.isclose(theirs, mine, rtol=1e-9) else
                                 f"DIFFERENT ({steps:+.1f} grid steps; cv.glmnet's default fit is itself "
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
    print(f"ratio ({reference} / RadNomo): {reference_s / ours_s:.2f}")
    label = f"LASSO 10-fold CV, {'bootstrap resample ' if args.bootstrap else ''}{args.rows} x {args.features}"
    results.write(args.json, [results.row(f"{label}, 100 lambdas", ours_s,
                                          "s", reference=reference_s, reference_tool=reference)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
