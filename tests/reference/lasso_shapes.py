"""Issue 26's LASSO-CV problems: correlated radiomics-like features of very different scales, in four shapes.

The one definition of these problems, used by the known-answer tests (tests/core/test_lasso_shapes.py), by the
benchmark grid (``python bench/lasso.py --grid``) and to make R's answers:

    python -m tests.reference.lasso_shapes        # from the repository root; needs Rscript with glmnet

which writes each problem to a temporary CSV (17 significant digits), runs tests/reference/glmnet_shapes.R on it
and keeps only R's outputs (``tests/reference/glmnet_shape_<name>_{cv,coef,choice}.csv``): the data of the big
shapes (7,000 x 200 is ~25 MB as text) are regenerated here, bit for bit, from the seed.

The generator (issue 26), per problem with ``rng = numpy.random.default_rng(7 n + p)``; the draws are made in
this order, each as one call on the whole array (row-major), so the data are fixed by (n, p) alone:

1. ``latent``: standard normal, shape (n, 20) -- 20 shared factors;
2. ``loadings``: standard normal, shape (20, p);
3. ``noise``: standard normal, shape (n, p); X = latent @ loadings * 0.5 + noise;
4. ``scales``: uniform on [0.5, 50), shape (p,); each column multiplied by its scale;
5. ``shifts``: uniform on [-100, 100), shape (p,); then added;
6. ``uniforms``: uniform on [0, 1), shape (n,); y = 1 where uniforms < logistic(-0.8 + 0.8 latent[:, 0] +
   0.5 latent[:, 1]), else 0 (a Bernoulli draw);
7. only for a bootstrap resample (``resample=True``): ``drawn`` = integers in [0, n), shape (n,): the rows
   (of X and y together) drawn with replacement, as one resample of the optimism bootstrap.

Folds: the product's stratified 10 folds with seed 0 (``core.stats.selection.stratified_folds(y, 10, 0)``),
computed on the final (resampled) y, 1-based as glmnet's ``foldid``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REFERENCE = Path(__file__).resolve().parent
R_SCRIPT = REFERENCE / "glmnet_shapes.R"
N_LATENT = 20
N_FOLDS = 10
FOLD_SEED = 0


@dataclass(frozen=True)
class Shape:
    """One problem of the grid: ``rows`` x ``features``, optionally a bootstrap resample of it."""

    name: str  # file stem of R's answers: glmnet_shape_<name>_*.csv
    rows: int
    features: int
    resample: bool = False

    @property
    def label(self) -> str:
        """What the benchmark table calls it, e.g. "700 x 317 (bootstrap resample)"."""
        return f"{self.rows:,} x {self.features:,}" + (" (bootstrap resample)" if self.resample else "")


# The four shapes (p >> n, n ~ p, n > p, n >> p) and a bootstrap resample of the 700 x 317 one.
SHAPES: dict[str, Shape] = {s.name: s for s in (
    Shape("n200_p2000", 200, 2000),
    Shape("n700_p317", 700, 317),
    Shape("n2800_p651", 2800, 651),
    Shape("n7000_p200", 7000, 200),
    Shape("n700_p317_resample", 700, 317, resample=True),
)}


def correlated_problem(rows: int, features: int, resample: bool = False
                       ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Issue 26's problem of ``rows`` x ``features`` (see the module's docstring for the draws and their order).

    Returns
    -------
    X : pandas.DataFrame
        rows x features, columns ``f0000``...; raw values (scales 0.5-50, shifts -100..100, unitless).
    y : numpy.ndarray of int
        0/1 outcome (about 30 % events).
    foldid : numpy.ndarray of int
        1-based stratified fold label per row (10 folds, seed 0).
    """
    from core.stats.selection import stratified_folds

    rng = np.random.default_rng(7 * rows + features)
    latent = rng.standard_normal((rows, N_LATENT))
    loadings = rng.standard_normal((N_LATENT, features))
    noise = rng.standard_normal((rows, features))
    x = latent @ loadings * 0.5 + noise
    scales = rng.uniform(0.5, 50, features)
    shifts = rng.uniform(-100, 100, features)
    x = x * scales + shifts
    uniforms = rng.random(rows)
    eta = -0.8 + 0.8 * latent[:, 0] + 0.5 * latent[:, 1]
    y = (uniforms < 1 / (1 + np.exp(-eta))).astype(int)
    if resample:
        drawn = rng.integers(0, rows, rows)
        x, y = x[drawn], y[drawn]
    foldid = stratified_folds(y, N_FOLDS, FOLD_SEED)
    return pd.DataFrame(x, columns=[f"f{j:04d}" for j in range(features)]), y, foldid


def shape_problem(name: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """:func:`correlated_problem` for the grid's shape ``name`` (a key of :data:`SHAPES`)."""
    shape = SHAPES[name]
    return correlated_problem(shape.rows, shape.features, shape.resample)


def write_csv(X: pd.DataFrame, y: np.ndarray, foldid: np.ndarray, path: Path) -> None:
    """The problem as R reads it: columns y, foldid, then the features, at 17 significant digits (exact doubles)."""
    X.assign(y=y, foldid=foldid)[["y", "foldid", *X.columns]].to_csv(path, index=False, float_format="%.17g")


def make_reference(names: list[str]) -> None:
    """Run tests/reference/glmnet_shapes.R on each named shape; R writes its answers next to this file."""
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "data.csv"
            write_csv(*shape_problem(name), data)
            print(f"== {name}", flush=True)
            subprocess.run(["Rscript", str(R_SCRIPT), str(data), str(REFERENCE / f"glmnet_shape_{name}")], check=True)


if __name__ == "__main__":
    make_reference(sys.argv[1:] or list(SHAPES))
