"""Reader agreement (ICC) against pingouin, an independent implementation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.selection import icc_table


def _readers(seed: int, n: int = 25, features: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=(n, features)) * rng.uniform(0.5, 5, features)
    ids = [f"P{i}" for i in range(n)]
    columns = [f"f{j}" for j in range(features)]
    first = pd.DataFrame(truth + rng.normal(0, 0.6, truth.shape), index=ids, columns=columns)
    second = pd.DataFrame(truth + 0.4 + rng.normal(0, 0.6, truth.shape), index=ids, columns=columns)
    return first, second


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_icc_equals_pingouin(seed):
    import pingouin

    first, second = _readers(seed)
    ours = icc_table(first, second)
    for feature in first.columns:
        long = pd.DataFrame({"case": list(first.index) * 2, "reader": ["r1"] * len(first) + ["r2"] * len(first),
                             "value": np.r_[first[feature], second[feature]]})
        reference = pingouin.intraclass_corr(long, targets="case", raters="reader", ratings="value")
        # pingouin 0.7 names them McGraw & Wong style: ICC(1,1), ICC(A,1) (= ICC2), ICC(C,1) (= ICC3).
        reference = reference.set_index("Type")["ICC"]
        assert ours.loc[feature, "ICC1"] == pytest.approx(reference["ICC(1,1)"], abs=1e-10)
        assert ours.loc[feature, "ICC2"] == pytest.approx(reference["ICC(A,1)"], abs=1e-10)
        assert ours.loc[feature, "ICC3"] == pytest.approx(reference["ICC(C,1)"], abs=1e-10)


def test_cases_are_matched_by_index_and_features_by_name():
    first, second = _readers(3)
    shuffled = second.sample(frac=1.0, random_state=0)[second.columns[::-1]]
    pd.testing.assert_frame_equal(icc_table(first, second), icc_table(first, shuffled))


def test_identical_readers_agree_perfectly_and_constant_features_are_nan():
    first, _ = _readers(4)
    first["constant"] = 1.0
    table = icc_table(first, first.copy())
    assert np.allclose(table.drop(index="constant").to_numpy(), 1.0)
    assert table.loc["constant"].isna().all()


def test_too_few_cases_or_no_shared_features():
    first, second = _readers(5)
    with pytest.raises(RadNomoError, match="at least 3"):
        icc_table(first.head(2), second.head(2))
    with pytest.raises(RadNomoError, match="share no feature"):
        icc_table(first, second.add_prefix("x_"))


@given(st.floats(0.1, 100), st.floats(-50, 50))
def test_icc3_is_invariant_to_a_reader_offset_and_scale_of_both(scale, offset):
    first, second = _readers(6)
    base = icc_table(first, second)
    moved = icc_table(first * scale, second * scale + offset)
    assert np.allclose(base["ICC3"], moved["ICC3"], atol=1e-9)
