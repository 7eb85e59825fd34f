"""The large-study path (issue 26): the image-free generator, and stages that must give the same answers on the
paths that make them scale to 10,000 patients x 2,000 features (bench/scale.py measures the time)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.imaging.synthetic import generate_clinical
from core.imaging.synthetic_features import PHENOTYPE_COLUMNS, large_cohort, radiomics_like_features
from core.io.tables import read_any_table
from core.stats.feature_tables import import_feature_table


def test_radiomics_like_features_are_seeded_correlated_widely_scaled_and_carry_the_outcome():
    clinical, features = large_cohort(400, 120, seed=3)
    again = large_cohort(400, 120, seed=3)[1]
    pd.testing.assert_frame_equal(features, again)
    assert not features.equals(large_cohort(400, 120, seed=4)[1])
    assert list(features["patient_id"]) == list(clinical["patient_id"])
    X = features.drop(columns="patient_id").to_numpy()
    sd = X.std(axis=0)
    assert sd.max() / sd.min() > 20  # scales from 0.5 to 50
    corr = np.corrcoef(X, rowvar=False)[np.triu_indices(X.shape[1], 1)]
    assert np.abs(corr).mean() > 0.1  # shared latent factors, not independent noise
    # The phenotype drives the features, and the phenotype depends on LM: some feature separates the outcome.
    y = clinical["lm"].to_numpy()
    effect = np.abs(X[y == 1].mean(axis=0) - X[y == 0].mean(axis=0)) / sd
    assert effect.max() > 0.4


def test_radiomics_like_features_refuse_bad_sizes_and_truth():
    truth = generate_clinical(n=60, seed=1).truth
    with pytest.raises(RadNomoError, match="n_features"):
        radiomics_like_features(truth, 0, seed=1)
    with pytest.raises(RadNomoError, match="n_factors"):
        radiomics_like_features(truth, 5, seed=1, n_factors=3)
    with pytest.raises(RadNomoError, match="lacks"):
        radiomics_like_features(truth.drop(columns=[PHENOTYPE_COLUMNS[0]]), 5, seed=1)


def _table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"ID": [f"P{i:03d}" for i in range(40)], "a": rng.normal(size=40),
                          "b": rng.integers(0, 5, size=40),
                          "constant": 2.5, "zero": 0.0, "c": rng.normal(size=40), "note": "x"})
    table.loc[3, "a"] = np.nan
    table.loc[[0, 1], "constant"] = np.nan  # constant among the present values
    table.loc[5, "zero"] = -0.0  # -0.0 == 0.0: still constant, as pandas' nunique says
    table["b_nullable"] = pd.array([*range(39), None], dtype="Int64")
    return table


def test_a_feature_table_imports_alike_from_numbers_and_from_text():
    """Parquet hands the import numbers, a CSV hands it text: the numbers path skips parsing, the same table results
    (features, values, dtypes, what was left out and why)."""
    table = _table()
    ids = [*table["ID"][:35], "P999"]
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    from_numbers = import_feature_table(read_any_table(buffer.getvalue(), "f.parquet"), ids)
    from_text = import_feature_table(read_any_table(table.to_csv(index=False).encode(), "f.csv"), ids)
    pd.testing.assert_frame_equal(from_numbers.table, from_text.table)
    assert list(from_numbers.table.columns) == ["a", "b", "c", "b_nullable"]
    assert all(pd.api.types.is_float_dtype(d) for d in from_numbers.table.dtypes)
    assert len(from_numbers.table) == 35 and from_numbers.foreign_ids == tuple(f"P{i:03d}" for i in range(35, 40))
    assert from_numbers.table.loc["P003", "a"] != from_numbers.table.loc["P003", "a"]  # NaN kept for the imputer
    for imported in (from_numbers, from_text):
        reasons = dict(zip(imported.dropped["column"], imported.dropped["reason"], strict=True))
        assert reasons == {"constant": "constant", "zero": "constant", "note": "text"}


def test_constant_columns_are_those_pandas_nunique_calls_constant():
    from core.stats.feature_tables import _constant

    rng = np.random.default_rng(1)
    values = rng.normal(size=(30, 6))
    values[:, 1] = 4.0
    values[::3, 1] = np.nan
    values[:, 2] = 0.0
    values[7, 2] = -0.0
    values[:, 3] = np.r_[np.full(29, 1.0), 1.0 + 1e-15]
    values[:29, 4] = np.nan  # one present value
    frame = pd.DataFrame(values)
    assert list(_constant(values)) == list(frame.nunique(dropna=True) <= 1)
    assert list(_constant(values)) == [False, True, True, False, True, False]


def _statsmodels_vif(design: pd.DataFrame) -> np.ndarray:
    from statsmodels.stats.outliers_influence import variance_inflation_factor

    with_const = np.column_stack([np.ones(len(design)), design.to_numpy(dtype=float)])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.array([variance_inflation_factor(with_const, j + 1) for j in range(design.shape[1])])


@pytest.mark.parametrize("shape", [(50, 3), (700, 12), (2000, 40)])
def test_vif_from_the_inverse_correlation_equals_statsmodels_regressions(shape):
    """The one-pass VIF (inverse correlation matrix) gives statsmodels' per-column regressions' numbers."""
    from core.stats.modeling import variance_inflation

    rng = np.random.default_rng(shape[0])
    n, k = shape
    latent = rng.normal(size=(n, 3))
    values = latent @ rng.normal(size=(3, k)) + rng.normal(size=(n, k)) * rng.uniform(0.2, 2, k)
    design = pd.DataFrame(values * rng.uniform(0.01, 100, k), columns=[f"x{j}" for j in range(k)])
    design["level_b"] = (rng.random(n) < 0.3).astype(float)  # a dummy, as a categorical predictor gives
    np.testing.assert_allclose(variance_inflation(design).to_numpy(), _statsmodels_vif(design), rtol=1e-9)


def test_vif_of_collinear_or_constant_columns_is_statsmodels_own():
    from core.stats.modeling import variance_inflation

    rng = np.random.default_rng(5)
    design = pd.DataFrame(rng.normal(size=(80, 3)), columns=["a", "b", "c"])
    design["d"] = design["a"] + 2 * design["b"]  # exactly collinear: R^2 = 1
    np.testing.assert_array_equal(variance_inflation(design).to_numpy(), _statsmodels_vif(design))
    assert np.isinf(variance_inflation(design)["d"]) or variance_inflation(design)["d"] > 1e10
    constant = design[["a", "b"]].assign(e=3.0)
    np.testing.assert_array_equal(variance_inflation(constant).to_numpy(), _statsmodels_vif(constant))
    assert variance_inflation(design[["a"]]).tolist() == [1.0]


def test_the_smooth_calibration_curve_is_r_val_prob_lowess():
    """R's lowess (what rms::val.prob draws) interpolates between points closer than 1 % of the range of the
    predictions; the curve is R's to 1e-12 (it differed by 2e-4 when every point was fitted, which also made it
    quadratic in the patients: about a second per model at 7,000 training patients)."""
    from pathlib import Path

    from core.stats.evaluation import calibration_curve

    i = np.arange(1, 401)
    p = ((i * 0.6180339887) % 1) * 0.9 + 0.05
    y = ((p + ((i * 0.7548776662) % 1)) > 1).astype(int)
    reference = pd.read_csv(Path(__file__).parents[1] / "reference" / "r_lowess_val_prob.csv")
    _, smooth = calibration_curve(y, p)
    np.testing.assert_allclose(smooth["predicted"], reference["x"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(smooth["observed"], reference["y"], rtol=0, atol=1e-12)


@pytest.fixture
def streamed_correlations(monkeypatch):
    """The redundancy step's block path on small tables: every table is 'too wide', blocks of 7 features."""
    from core.stats import selection

    monkeypatch.setattr(selection, "DENSE_CORRELATION_MAX", 2)
    monkeypatch.setattr(selection, "CORRELATION_BLOCK", 7)


def test_streamed_redundancy_matches_caret_findcorrelation(streamed_correlations):
    """The block path (for tables whose correlation matrix would not fit: 20,000 features = 3.2 GB) removes what
    caret removes, on the reference table."""
    from pathlib import Path

    from core.stats.selection import drop_correlated

    reference = Path(__file__).parents[1] / "reference"
    data = pd.read_csv(reference / "caret_findcorrelation_wide.csv")
    answers = pd.read_csv(reference / "caret_findcorrelation_removed.csv", keep_default_na=False)
    expected = answers[(answers.case == "wide") & ~answers.exact].removed.iloc[0].split(";")
    kept = drop_correlated(data, threshold=0.7, method="spearman")
    assert sorted(set(data.columns) - set(kept)) == sorted(expected)


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_streamed_redundancy_decides_as_the_whole_matrix(method, monkeypatch):
    from core.stats import selection

    _, features = large_cohort(150, 300, seed=11)
    X = features.drop(columns="patient_id")
    X["twin"] = X["feature_00003"] * 2 + 1  # a perfect twin: |r| = 1
    dense = selection.drop_correlated(X, 0.5, method, exact=False)
    monkeypatch.setattr(selection, "DENSE_CORRELATION_MAX", 2)
    monkeypatch.setattr(selection, "CORRELATION_BLOCK", 7)
    streamed = selection.drop_correlated(X, 0.5, method, exact=False)
    assert streamed == dense and 100 < len(dense) < X.shape[1] - 100  # many pairs decided, many kept
    with pytest.raises(RadNomoError, match="constant"):
        selection.drop_correlated(X.assign(flat=1.0), 0.3, method, exact=False)
