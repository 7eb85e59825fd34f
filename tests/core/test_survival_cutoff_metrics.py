"""Sensitivity, specificity, PPV and NPV at a cut-off (timeROC's SeSpPPVtimeROC): R's answers, properties, edges.

Known answers: tests/reference/survival_cutoff.R reproduces timeROC 0.4's estimator with prodlim's reverse
Kaplan-Meier weights (timeROC and pec are not installed) on a seeded cohort with events exactly on the horizons
and risks tied with the cut-off. Same arithmetic as R: tolerance 1e-12 absolute on proportions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.stats.survival.cutoff_metrics import cutoff_metrics

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
HORIZONS = [12, 24, 36, 60]


@pytest.mark.parametrize("cutoff", [0.0, 0.5])
def test_cutoff_metrics_equal_timeroc(cutoff: float) -> None:
    data = pd.read_csv(REFERENCE / "survival_cutoff_data.csv")
    answers = pd.read_csv(REFERENCE / "survival_cutoff_answers.csv")
    r = answers[answers["cutoff"] == cutoff].reset_index(drop=True)
    assert len(r) == len(HORIZONS)
    ours = cutoff_metrics(data["time"].to_numpy(), data["event"].to_numpy(), data["risk"].to_numpy(), cutoff,
                          HORIZONS)
    np.testing.assert_allclose(ours["horizon"], r["horizon"])
    np.testing.assert_allclose(ours["sensitivity"], r["TP"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours["specificity"], 1 - r["FP"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours["ppv"], r["PPV"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours["npv"], r["NPV"], rtol=0, atol=1e-12)
    assert ours["cases"].tolist() == r["cases"].tolist()
    assert ours["controls"].tolist() == r["controls"].tolist()
    # the data hold events exactly on the horizons and risks equal to the cut-off: the strict inequalities matter
    assert ((data["time"].isin(HORIZONS)) & (data["event"] == 1)).any()
    assert (data["risk"] == cutoff).any()
    assert (ours["positive"] == (data["risk"] > cutoff).sum()).all()


def test_without_censoring_the_metrics_are_plain_proportions() -> None:
    rng = np.random.default_rng(5)
    time = rng.exponential(20, 200) + 0.01
    event = np.ones(200, dtype=int)
    risk = -np.log(time) + rng.normal(scale=0.5, size=200)
    table = cutoff_metrics(time, event, risk, 0.0, [10.0]).iloc[0]
    case, control, positive = time < 10, time > 10, risk > 0
    assert table["sensitivity"] == pytest.approx(positive[case].mean(), abs=1e-12)
    assert table["specificity"] == pytest.approx((~positive)[control].mean(), abs=1e-12)
    assert table["ppv"] == pytest.approx(case[positive].mean(), abs=1e-12)
    assert table["npv"] == pytest.approx(control[~positive].mean(), abs=1e-12)


def test_undefined_metrics_are_nan_and_bad_inputs_are_refused() -> None:
    time = np.array([5.0, 8.0, 12.0, 20.0, 30.0])
    event = np.array([0, 1, 1, 0, 1])
    risk = np.array([0.1, 0.9, 0.5, 0.2, 0.3])
    early = cutoff_metrics(time, event, risk, 0.4, [2.0]).iloc[0]   # no case before 2
    assert np.isnan(early["sensitivity"]) and early["specificity"] == pytest.approx(0.6)
    late = cutoff_metrics(time, event, risk, 0.4, [40.0]).iloc[0]   # nobody followed beyond 40
    assert np.isnan(late["specificity"]) and np.isnan(late["npv"])
    everyone_low = cutoff_metrics(time, event, risk, 5.0, [15.0]).iloc[0]
    assert everyone_low["sensitivity"] == 0 and np.isnan(everyone_low["ppv"])
    with pytest.raises(RadNomoError, match="positive time"):
        cutoff_metrics(time, event, risk, 0.4, [0.0])
    with pytest.raises(RadNomoError, match="missing or infinite"):
        cutoff_metrics(time, event, np.array([0.1, np.nan, 0.5, 0.2, 0.3]), 0.4, [10.0])
    with pytest.raises(RadNomoError, match="one value per patient"):
        cutoff_metrics(time, event[:4], risk, 0.4, [10.0])


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_cutoff_metrics_properties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    time = np.ceil(rng.exponential(15, 60))
    event = rng.integers(0, 2, 60)
    risk = np.round(rng.normal(size=60), 1)
    lower, higher = cutoff_metrics(time, event, risk, -0.5, [10.0]), cutoff_metrics(time, event, risk, 0.5, [10.0])
    for table in (lower, higher):
        values = table[["sensitivity", "specificity", "ppv", "npv"]].to_numpy()
        assert np.all(np.isnan(values) | ((values >= 0) & (values <= 1)))
    # a higher cut-off calls fewer patients positive: sensitivity cannot rise, specificity cannot fall
    if not np.isnan(lower["sensitivity"].iloc[0]):
        assert higher["sensitivity"].iloc[0] <= lower["sensitivity"].iloc[0] + 1e-12
    if not np.isnan(lower["specificity"].iloc[0]):
        assert higher["specificity"].iloc[0] >= lower["specificity"].iloc[0] - 1e-12
