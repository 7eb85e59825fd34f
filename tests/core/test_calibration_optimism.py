"""core.stats.calibration_optimism against rms::calibrate and rms::validate (tests/reference/calibrate_rms.R)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit

from core.errors import RadNomoError
from core.stats.calibration_optimism import (calibration_grid, corrected_calibration_curve,
                                             corrected_calibration_indexes, logistic_recalibration,
                                             smoothed_calibration)

REFERENCE = Path(__file__).resolve().parents[1] / "reference"


def _logistic(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """lrm's maximum-likelihood coefficients (intercept first), Newton-Raphson to 1e-12."""
    import statsmodels.api as sm

    return np.asarray(sm.Logit(y, sm.add_constant(X)).fit(method="newton", tol=1e-12, maxiter=100, disp=0).params)


@pytest.fixture(scope="module")
def rms_case():
    """The R data, the apparent model's probabilities and, per resample R drew, (rows, resample model's
    probabilities on every patient), the model refitted here on the same rows."""
    data = pd.read_csv(REFERENCE / "calibrate_rms_data.csv")
    X, y = data[["x1", "x2", "x3"]].to_numpy(), data["y"].to_numpy(dtype=float)
    design = np.column_stack([np.ones(len(y)), X])
    prob = expit(design @ _logistic(X, y))
    indices = pd.read_csv(REFERENCE / "calibrate_rms_indices.csv")
    resamples = []
    for _, drawn in indices.groupby("resample", sort=True):
        rows = drawn["row"].to_numpy() - 1  # R's 1-based rows
        resamples.append((rows, expit(design @ _logistic(X[rows], y[rows]))))
    return y, prob, resamples


def test_the_corrected_calibration_curve_is_rms_calibrate(rms_case):
    y, prob, resamples = rms_case
    expected = pd.read_csv(REFERENCE / "calibrate_rms_calibrate.csv")
    curve = corrected_calibration_curve(y, prob, resamples)
    assert list(curve.columns) == ["predicted", "apparent", "optimism", "corrected", "n"]
    # The same method; the only difference is where the fits stop: lrm.fit stops when -2 log L changes by less
    # than eps = 0.025 (a Newton step after that leaves ~1e-9 in the probabilities), statsmodels at 1e-12.
    for column, theirs in [("predicted", "predy"), ("apparent", "calibrated_orig"), ("optimism", "optimism"),
                           ("corrected", "calibrated_corrected")]:
        np.testing.assert_allclose(curve[column], expected[theirs], rtol=0, atol=1e-8, err_msg=column)
    np.testing.assert_array_equal(curve["n"], expected["n"])
    assert curve["n"].min() < len(resamples)  # the grid's ends fall outside some resamples' range: counted


def test_the_corrected_calibration_indexes_are_rms_validate(rms_case):
    y, prob, resamples = rms_case
    expected = pd.read_csv(REFERENCE / "calibrate_rms_validate.csv").set_index("index")
    expected.index = expected.index.map({"Intercept": "intercept", "Slope": "slope", "B": "brier"})
    table = corrected_calibration_indexes(y, prob, resamples)
    assert list(table.index) == ["intercept", "slope", "brier"]
    # rms sets the apparent and training intercept and slope to 0 and 1; they are computed here (to ~1e-12). The
    # fits stop at different places (lrm.fit: -2 log L changing by < 0.025; here 1e-12): ~1e-9 apart.
    for column, theirs in [("apparent", "index_orig"), ("training", "training"), ("test", "test"),
                           ("optimism", "optimism"), ("corrected", "index_corrected")]:
        np.testing.assert_allclose(table[column], expected.loc[table.index, theirs], rtol=0, atol=1e-8)
    np.testing.assert_array_equal(table["n"], expected.loc[table.index, "n"])


def test_the_grid_is_calibrates_predy_and_needs_eleven_patients():
    p = np.linspace(0.01, 0.99, 30)
    grid = calibration_grid(p[::-1])
    assert len(grid) == 50 and grid[0] == p[4] and grid[-1] == pytest.approx(p[-5])
    with pytest.raises(RadNomoError, match="more than 10"):
        calibration_grid(p[:10])


def test_recalibration_is_unestimable_with_one_class_and_refuses_bad_input():
    assert np.isnan(logistic_recalibration(np.ones(20), np.linspace(0.1, 0.9, 20))).all()
    with pytest.raises(RadNomoError, match="between 0 and 1"):
        logistic_recalibration([0, 1], [0.2, 1.2])
    with pytest.raises(RadNomoError, match="0/1"):
        smoothed_calibration([0, 2], [0.2, 0.4], [0.3])


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.floats(min_value=-1.5, max_value=1.5),
       st.floats(min_value=0.3, max_value=3.0))
def test_recalibration_recovers_a_known_miscalibration_and_is_0_1_on_its_own_fit(seed, a, b):
    """logit(p_true) = a + b logit(p): the fitted intercept and slope converge on (a, b); refitting on the
    recalibrated probabilities themselves gives 0 and 1 (the apparent values, by construction)."""
    rng = np.random.default_rng(seed)
    lp = rng.normal(0, 1.5, 4000)
    y = rng.binomial(1, expit(a + b * lp)).astype(float)
    intercept, slope = logistic_recalibration(y, expit(lp))
    assert abs(intercept - a) < 0.35 and abs(slope - b) < 0.35 * b + 0.1
    again = logistic_recalibration(y, expit(intercept + slope * lp))
    np.testing.assert_allclose(again, (0.0, 1.0), atol=1e-7)


def test_a_resample_identical_to_the_cohort_has_no_optimism(rms_case):
    y, prob, _ = rms_case
    rows = np.arange(len(y))
    curve = corrected_calibration_curve(y, prob, [(rows, prob), (rows, prob)])
    np.testing.assert_allclose(curve["optimism"], 0, atol=1e-15)
    np.testing.assert_allclose(curve["corrected"], curve["apparent"])
    table = corrected_calibration_indexes(y, prob, [(rows, prob)])
    np.testing.assert_allclose(table["optimism"], 0, atol=1e-12)
