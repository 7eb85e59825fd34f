"""Feature tables without images, correlated like radiomics features, for cohorts too large to render.

Rendering and extracting 10,000 synthetic CTs would take days; the scale benchmark (``bench/scale.py``) and
anyone sizing a server need a study of that size in seconds. :func:`radiomics_like_features` draws a feature
table for the patients of :func:`core.imaging.synthetic.generate_clinical` from the same hidden phenotype
that drives the rendered images, so its signal about liver metastasis is the generator's, not invented here.

The structure is issue 26's generator of LASSO problems, with the phenotype as its first latent factors:
``latent`` = the seven phenotype z-scores of ``truth`` beside ``n_factors - 7`` independent N(0, 1) factors;
``X = latent @ W * 0.5 + E`` with loadings ``W`` and noise ``E`` N(0, 1); each column is then multiplied by a
scale drawn from U(0.5, 50) and shifted by U(-100, 100), so features are correlated through shared factors and
have very different scales (as first-order, shape and texture features do). Draw order (one generator seeded
with ``seed``): extra factors, loadings, noise, scales, shifts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.imaging.synthetic import generate_clinical

__all__ = ["PHENOTYPE_COLUMNS", "radiomics_like_features", "large_cohort"]

#: The hidden phenotype z-scores of :func:`core.imaging.synthetic.generate_clinical`'s truth table.
PHENOTYPE_COLUMNS = ("z_enhancement", "z_heterogeneity", "z_texture_scale", "z_necrosis", "z_margin", "z_extent",
                     "z_infiltration")

#: Most features one call draws (the product reads tables of up to MAX_TABLE_COLUMNS columns anyway).
MAX_FEATURES = 100_000


def radiomics_like_features(truth: pd.DataFrame, n_features: int, *, seed: int, n_factors: int = 20,
                            id_column: str = "patient_id") -> pd.DataFrame:
    """A feature table of ``n_features`` correlated, widely scaled features for the patients of ``truth``.

    Parameters
    ----------
    truth : pandas.DataFrame
        :attr:`core.imaging.synthetic.CohortTables.truth`: one row per patient with ``id_column`` and the
        phenotype z-scores :data:`PHENOTYPE_COLUMNS` (which depend on the outcome).
    n_features : int
        Columns to draw, 1 to :data:`MAX_FEATURES`.
    seed : int
        Seed of the draw; the same truth and seed give the same table.
    n_factors : int, default 20
        Latent factors in all (at least the seven phenotype scores).

    Returns
    -------
    pandas.DataFrame
        ``id_column`` then ``feature_00001``... (unitless, float64), one row per patient in ``truth``'s order.

    Raises
    ------
    RadNomoError
        For a size out of range or a truth table without the phenotype columns.
    """
    missing = [c for c in (id_column, *PHENOTYPE_COLUMNS) if c not in truth.columns]
    if missing:
        raise RadNomoError(f"the truth table lacks {missing}; pass generate_clinical(...).truth.")
    if not 1 <= n_features <= MAX_FEATURES:
        raise RadNomoError(f"n_features = {n_features} must lie between 1 and {MAX_FEATURES:,}.")
    if n_factors < len(PHENOTYPE_COLUMNS):
        raise RadNomoError(f"n_factors = {n_factors} must be at least {len(PHENOTYPE_COLUMNS)} (the phenotype).")
    rng = np.random.default_rng(seed)
    n = len(truth)
    extra = rng.standard_normal((n, n_factors - len(PHENOTYPE_COLUMNS)))
    latent = np.hstack([truth[list(PHENOTYPE_COLUMNS)].to_numpy(dtype=float), extra])
    loadings = rng.standard_normal((n_factors, n_features))
    values = latent @ loadings
    values *= 0.5
    values += rng.standard_normal((n, n_features))  # in place: one n x p array at a time, not three
    values *= rng.uniform(0.5, 50, n_features)
    values += rng.uniform(-100, 100, n_features)
    names = [f"feature_{j:05d}" for j in range(1, n_features + 1)]
    table = pd.DataFrame(values, columns=names)
    table.insert(0, id_column, truth[id_column].to_numpy())
    return table


def large_cohort(n: int, n_features: int, *, seed: int = 20250601) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A synthetic study of ``n`` patients without images: (clinical table, feature table).

    The clinical table is :func:`core.imaging.synthetic.generate_clinical`'s (ID ``patient_id``, outcome
    ``lm``; ``lm_type`` and ``lm_interval_months`` restate the outcome and must be excluded from models);
    the feature table is :func:`radiomics_like_features` of its hidden phenotype, seeded with ``seed + 1``.
    """
    tables = generate_clinical(n=n, seed=seed)
    return tables.clinical, radiomics_like_features(tables.truth, n_features, seed=seed + 1)
