"""Continuous NRI and IDI (Hmisc::improveProb), categorical NRI (Pencina 2008): R's answers, properties, edges.

Known answers: tests/reference/reclassification.R runs Hmisc 4.8.0's improveProb on two seeded cohorts (one with
6-decimal probabilities, one rounded to 2 decimals so that patients tie, do not move, and sit on cut points) and
computes the categorical NRI from table() with Pencina's formulas. Same arithmetic as R: tolerance 1e-12.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.stats.reclassification import (RECLASSIFICATION_COLUMNS, RECLASSIFICATION_NOTE, categorical_nri,
                                         improve_prob, reclassification_row)

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
COHORTS = ("smooth", "ties")
TOL = {"rtol": 0, "atol": 1e-12}


def _cohort(name: str) -> pd.DataFrame:
    data = pd.read_csv(REFERENCE / "reclassification_data.csv")
    return data[data["cohort"] == name].reset_index(drop=True)


@pytest.mark.parametrize("name", COHORTS)
def test_improve_prob_equals_hmisc(name: str) -> None:
    data = _cohort(name)
    answers = pd.read_csv(REFERENCE / "reclassification_improveprob.csv")
    r = answers[answers["cohort"] == name].set_index("name")["value"].astype(float)
    ours = improve_prob(data["y"], data["p_reference"], data["p_new"])
    assert (ours.n, ours.events, ours.nonevents) == (r["n"], r["na"], r["nb"])
    pairs = {"pup.ev": ours.pup_events, "pup.ne": ours.pup_nonevents, "pdown.ev": ours.pdown_events,
             "pdown.ne": ours.pdown_nonevents, "improveSens": ours.improve_sens, "improveSpec": ours.improve_spec}
    for key, index in (("nri", ours.nri), ("nri.ev", ours.nri_events), ("nri.ne", ours.nri_nonevents),
                       ("idi", ours.idi)):
        se_key = "se." + key
        pairs.update({key: index.estimate, se_key: index.se, f"z.{key}": index.z, f"{key}.p": index.p_value,
                      f"{key}.low": index.low, f"{key}.high": index.high})
    for key, value in pairs.items():
        np.testing.assert_allclose(value, r[key], **TOL, err_msg=key)
    if name == "ties":  # the rounding left some patients unmoved: only strict changes count as up or down
        assert ours.pup_events + ours.pdown_events < 1


@pytest.mark.parametrize("name", COHORTS)
@pytest.mark.parametrize("cuts", [(0.1, 0.3), (0.2,)])
def test_categorical_nri_equals_pencina_from_r(name: str, cuts: tuple[float, ...]) -> None:
    data = _cohort(name)
    key = " ".join(f"{c:g}" for c in cuts)
    answers = pd.read_csv(REFERENCE / "reclassification_categorical.csv", dtype={"cuts": str})
    r = answers[(answers["cohort"] == name) & (answers["cuts"] == key)].iloc[0]
    ours = categorical_nri(data["y"], data["p_reference"], data["p_new"], cuts)
    assert (ours.up_events, ours.down_events, ours.up_nonevents, ours.down_nonevents) == \
        (r["up_events"], r["down_events"], r["up_nonevents"], r["down_nonevents"])
    for value, expected in ((ours.nri.estimate, r["nri"]), (ours.nri.se, r["se"]), (ours.nri.z, r["z"]),
                            (ours.nri.p_value, r["p"]), (ours.nri.low, r["low"]), (ours.nri.high, r["high"]),
                            (ours.nri_events.estimate, r["nri_events"]), (ours.nri_events.se, r["se_events"]),
                            (ours.nri_nonevents.estimate, r["nri_nonevents"]),
                            (ours.nri_nonevents.se, r["se_nonevents"])):
        np.testing.assert_allclose(value, float(expected), **TOL)
    tables = pd.read_csv(REFERENCE / "reclassification_tables.csv", dtype={"cuts": str})
    tables = tables[(tables["cohort"] == name) & (tables["cuts"] == key)]
    for event, table in ((1, ours.events_table), (0, ours.nonevents_table)):
        expected = tables[tables["event"] == event].pivot(index="reference", columns="new", values="count")
        np.testing.assert_array_equal(table.to_numpy(), expected.to_numpy())
    assert ours.events_table.to_numpy().sum() == ours.events
    assert list(ours.events_table.index) == list(ours.categories)


def test_ties_cohort_has_probabilities_on_the_cuts() -> None:
    """The known answers exercise the boundary: a probability equal to a cut goes to the higher category."""
    data = _cohort("ties")
    assert np.isin(data[["p_reference", "p_new"]].to_numpy(), [0.1, 0.2, 0.3]).any()
    result = categorical_nri([0, 1, 0, 1], [0.1, 0.09, 0.05, 0.3], [0.09, 0.1, 0.3, 0.29999], (0.1, 0.3))
    assert (result.up_events, result.down_events, result.up_nonevents, result.down_nonevents) == (1, 1, 1, 1)
    assert result.categories == ("[0, 0.1)", "[0.1, 0.3)", "[0.3, 1]")


def test_reclassification_row_has_the_issue_columns() -> None:
    data = _cohort("smooth")
    row = reclassification_row(data["y"], data["p_reference"], data["p_new"], cuts=(0.1, 0.3))
    assert tuple(row) == RECLASSIFICATION_COLUMNS
    assert row["n"] == 400 and row["events"] == int(data["y"].sum())
    full = improve_prob(data["y"], data["p_reference"], data["p_new"])
    assert row["nri_events_low"] == full.nri_events.low and row["idi_high"] == full.idi.high
    assert row["categorical_nri"] == categorical_nri(data["y"], data["p_reference"], data["p_new"],
                                                     (0.1, 0.3)).nri.estimate
    without = reclassification_row(data["y"], data["p_reference"], data["p_new"])
    assert tuple(without) == RECLASSIFICATION_COLUMNS[:-3]
    assert "miscalibrated" in RECLASSIFICATION_NOTE and "decision curve" in RECLASSIFICATION_NOTE


def test_table_lays_out_the_indices() -> None:
    data = _cohort("smooth")
    table = improve_prob(data["y"], data["p_reference"], data["p_new"]).table()
    assert table["index"].tolist() == ["nri", "nri_events", "nri_nonevents", "idi"]
    assert list(table.columns) == ["index", "estimate", "se", "z", "p_value", "low", "high"]
    assert (table["low"] < table["estimate"]).all() and (table["estimate"] < table["high"]).all()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"y": [0, 1, np.nan, 1, 0]}, "outcome of every patient"),
    ({"p_new": [0.1, 0.2, np.nan, 0.4, 0.5]}, "missing"),
    ({"p_reference": [0.1, 0.2, 1.3, 0.4, 0.5]}, "between 0 and 1"),
    ({"y": [0, 1, 0, 0, 0]}, "at least 2 events"),
    ({"y": [0, 1, 2, 1, 0]}, "0/1"),
    ({"p_new": [0.1, 0.2, 0.3]}, "same length"),
])
def test_bad_input_is_refused(kwargs: dict, message: str) -> None:
    args = {"y": [0, 1, 0, 1, 0], "p_reference": [0.1, 0.2, 0.3, 0.4, 0.5], "p_new": [0.2, 0.3, 0.1, 0.5, 0.4]}
    args.update(kwargs)
    with pytest.raises(RadNomoError, match=message):
        improve_prob(**args)


@pytest.mark.parametrize("cuts", [(), (0.3, 0.1), (0.0, 0.5), (0.5, 1.0), (0.2, 0.2), (np.nan,)])
def test_bad_cuts_are_refused(cuts: tuple) -> None:
    with pytest.raises(RadNomoError, match="cut points"):
        categorical_nri([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], [0.2, 0.3, 0.1, 0.5], cuts)


def test_nobody_moving_gives_zero_with_no_test() -> None:
    p = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    result = improve_prob([0, 1, 0, 1, 0, 1], p, p)
    assert result.nri.estimate == 0 and result.nri.se == 0 and np.isnan(result.nri.p_value)
    assert result.idi.estimate == 0 and result.nri.low == result.nri.high == 0


cohorts = st.integers(min_value=6, max_value=60).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda y: 2 <= sum(y) <= len(y) - 2),
    st.lists(st.floats(0, 1), min_size=n, max_size=n),
    st.lists(st.floats(0, 1), min_size=n, max_size=n)))


@settings(max_examples=60, deadline=None)
@given(cohorts)
def test_nri_is_antisymmetric_and_idi_is_the_change_in_discrimination_slope(data) -> None:
    y, a, b = (np.asarray(v, dtype=float) for v in data)
    forward, backward = improve_prob(y, a, b), improve_prob(y, b, a)
    for name in ("nri", "nri_events", "nri_nonevents", "idi"):
        there, back = getattr(forward, name), getattr(backward, name)
        assert there.estimate == pytest.approx(-back.estimate, abs=1e-12)
        assert there.se == pytest.approx(back.se, abs=1e-12)
    slope = lambda p: p[y == 1].mean() - p[y == 0].mean()  # noqa: E731 - Yates' discrimination slope
    assert forward.idi.estimate == pytest.approx(slope(b) - slope(a), abs=1e-12)
    assert forward.nri.estimate == pytest.approx(forward.nri_events.estimate + forward.nri_nonevents.estimate)
    there_cat, back_cat = categorical_nri(y, a, b, (0.2, 0.5)), categorical_nri(y, b, a, (0.2, 0.5))
    assert there_cat.nri.estimate == pytest.approx(-back_cat.nri.estimate, abs=1e-12)
    assert there_cat.nri.se == pytest.approx(back_cat.nri.se, abs=1e-12)
    np.testing.assert_array_equal(there_cat.events_table.to_numpy(), back_cat.events_table.to_numpy().T)
