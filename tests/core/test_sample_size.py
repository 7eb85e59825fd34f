"""Riley's minimum sample size (core.stats.sample_size, core.workflows.sample_size) against pmsampsize's published
numbers and R (tests/reference/sample_size.R), plus properties."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.stats.sample_size import (FINAL, SAMPLE_SIZE_COLUMNS, binary_sample_size, cstatistic_to_rsquared,
                                    expected_shrinkage, max_rsquared_binary, survival_sample_size)
from core.vocabulary import OUTCOME_KINDS
from core.workflows.sample_size import (AVAILABLE, SAMPLE_SIZE_BY_OUTCOME, candidate_parameters, study_sample_size)

REFERENCE = Path(__file__).resolve().parents[1] / "reference"

# pmsampsize 1.1.x's own tests (tests/testthat/test_bin.R, JoieEnsor/pmsampsize; also the package's documented
# example and Riley et al. Stat Med 2019 part II, section 4): (R2_CS, parameters, prevalence) -> n of criteria
# 1, 2, 3 and the final n, and the EPP of each (rounded to 2 decimals as pmsampsize prints it).
BINARY_PUBLISHED = [
    ((0.288, 24, 0.174), (623, 662, 221, 662), (4.52, 4.8, 1.6, 4.8)),
    ((0.55, 24, 0.174), (255, 532, 221, 532), (1.85, 3.86, 1.6, 3.86)),
    ((0.288, 36, 0.174), (934, 992, 221, 992), (4.51, 4.79, 1.07, 4.79)),
    ((0.288, 24, 0.25), (623, 590, 289, 623), (6.49, 6.15, 3.01, 6.49)),
]
# pmsampsize 1.1.x's tests/testthat/test_surv.R: (R2_CS, parameters, rate, timepoint, meanfup) -> n of criteria
# 1, 2, 3 and the final n, and their EPP. The last one is the README's example with 30 parameters (n = 5143).
SURVIVAL_PUBLISHED = [
    ((0.051, 25, 0.065, 2, 2.07), (4286, 866, 4286, 4286), (23.07, 4.66, 23.07, 23.07)),
    ((0.065, 25, 0.065, 2, 2.07), (3335, 859, 3335, 3335), (17.95, 4.62, 17.95, 17.95)),
    ((0.051, 50, 0.065, 2, 2.07), (8572, 1731, 8572, 8572), (23.07, 4.66, 23.07, 23.07)),
    ((0.051, 25, 0.1, 2, 2.07), (4286, 731, 4286, 4286), (35.49, 6.05, 35.49, 35.49)),
    ((0.051, 25, 0.065, 4, 2.07), (4286, 866, 4286, 4286), (23.07, 4.66, 23.07, 23.07)),
    ((0.051, 25, 0.065, 2, 4), (4286, 679, 4286, 4286), (44.57, 7.06, 44.57, 44.57)),
    ((0.06, 40, 0.08, 3, 5), (5798, 969, 5798, 5798), (57.98, 9.69, 57.98, 57.98)),
    ((0.03, 10, 0.09, 3, 3), (2950, 272, 2950, 2950), (79.65, 7.34, 79.65, 79.65)),
    ((0.3, 80, 0.03, 1, 5), (1974, 2272, 2272, 2272), (3.7, 4.26, 4.26, 4.26)),
    ((0.051, 30, 0.065, 2, 2.07), (5143, 1039, 5143, 5143), (23.07, 4.66, 23.07, 23.07)),
]


@pytest.mark.parametrize(("inputs", "sizes", "epp"), BINARY_PUBLISHED)
def test_binary_criteria_1_to_3_reproduce_pmsampsize(inputs, sizes, epp):
    rsquared, parameters, prevalence = inputs
    result = binary_sample_size(prevalence, parameters, rsquared=rsquared, mape=None)
    table = result.table()
    assert table["criterion"].tolist() == ["1", "2", "3", FINAL]
    assert tuple(table["n"]) == sizes
    assert tuple(round(v, 2) for v in table["epp"]) == epp
    assert result.n == sizes[-1] and result.events == pytest.approx(sizes[-1] * prevalence, rel=1e-12)


@pytest.mark.parametrize(("inputs", "sizes", "epp"), SURVIVAL_PUBLISHED)
def test_survival_criteria_reproduce_pmsampsize(inputs, sizes, epp):
    rsquared, parameters, rate, timepoint, meanfup = inputs
    result = survival_sample_size(parameters, rate, timepoint, meanfup, rsquared=rsquared)
    assert tuple(result.table()["n"]) == sizes
    assert tuple(round(v, 2) for v in result.table()["epp"]) == epp
    assert result.notes == ()  # every published example meets the +/- 0.05 margin at max(n1, n2)


def test_survival_interval_is_pmsampsizes():
    # pmsampsize's README example prints "95% CI for overall risk = (0.113, 0.13), for true value of 0.122".
    result = survival_sample_size(30, 0.065, 2, 2.07, rsquared=0.051)
    assert (round(result.inputs["risk_low"], 3), round(result.inputs["risk_high"], 3)) == (0.113, 0.13)
    assert round(result.inputs["risk"], 3) == 0.122
    assert result.max_rsquared == pytest.approx(0.5547264935529718, abs=1e-12)


def test_binary_mape_is_criterion_4_and_can_set_the_minimum():
    # BMJ 2020 step (ii) by van Smeden's formula: exp((-0.508 + 0.259 ln 0.174 + 0.504 ln 24 - ln 0.05) / 0.544)
    # = 800.03 -> 801, above pmsampsize's 662 for the same inputs.
    result = binary_sample_size(0.174, 24, rsquared=0.288)
    assert [c.number for c in result.criteria] == [1, 2, 3, 4]
    assert result.criteria[3].n == 801 and result.n == 801 and result.binding.number == 4

    def mape(n: float) -> float:
        return math.exp(-0.508 + 0.259 * math.log(0.174) + 0.504 * math.log(24) - 0.544 * math.log(n))
    assert mape(801) <= 0.05 < mape(800)


def test_cstatistic_limit_matches_r_and_pmsampsize_simulation():
    reference = pd.read_csv(REFERENCE / "sample_size_cstatistic.csv")
    assert len(reference) >= 6
    for row in reference.itertuples():
        ours = cstatistic_to_rsquared(row.cstatistic, row.prevalence)
        # Same method (the large-sample limit by adaptive quadrature, R's integrate vs scipy's quad).
        assert ours == pytest.approx(row.rsq_limit, abs=1e-9)
        # pmsampsize's value is one simulation of 10^6 patients (seed 123456): Monte-Carlo error, not a method
        # difference, separates it from the limit (at most 9e-4 over these cases).
        assert ours == pytest.approx(row.rsq_pmsampsize, abs=1.5e-3)
        assert ours == pytest.approx(row.rsq_riley2021, abs=2.5e-3)
        # Given pmsampsize's rounded R^2, its sample sizes are reproduced exactly ...
        exact = binary_sample_size(row.prevalence, row.parameters, rsquared=row.rsq_pmsampsize_used, mape=None)
        assert [c.n for c in exact.criteria] + [exact.n] == [row.n1, row.n2, row.n3, row.n_final]
        # ... and from the C-statistic itself (the limit) they differ by a few patients at most.
        from_c = binary_sample_size(row.prevalence, row.parameters, cstatistic=row.cstatistic, mape=None)
        assert abs(from_c.n - row.n_final) <= max(3, 0.01 * row.n_final)


def test_riley_2021_worked_example():
    # Riley, Van Calster & Collins 2021: C = 0.81, outcome proportion 0.77 -> R2_CS 0.2100957 (their simulation,
    # set.seed(1234)); the limit is 0.2121, within that simulation's error.
    assert cstatistic_to_rsquared(0.81, 0.77) == pytest.approx(0.2100957, abs=2.5e-3)
    reference = pd.read_csv(REFERENCE / "sample_size_cstatistic.csv")
    row = reference[(reference["cstatistic"] == 0.81) & (reference["prevalence"] == 0.77)].iloc[0]
    assert round(row.rsq_riley2021, 7) == 0.2100957  # the R script reproduces the paper's number


def test_conservative_default_is_15_percent_of_the_maximum():
    result = binary_sample_size(0.2, 10)
    assert result.rsquared == pytest.approx(0.15 * max_rsquared_binary(0.2), rel=1e-14)
    assert result.nagelkerke == pytest.approx(0.15, rel=1e-12)
    assert "conservative default" in result.rsquared_source
    surv = survival_sample_size(10, 0.05, 3, 2.5)
    assert surv.nagelkerke == pytest.approx(0.15, rel=1e-12)


def test_table_shape_and_shrinkage():
    result = binary_sample_size(0.3, 12, cstatistic=0.75)
    table = result.table()
    assert tuple(table.columns) == SAMPLE_SIZE_COLUMNS
    assert table["criterion"].tolist() == ["1", "2", "3", "4", FINAL]
    assert table.loc[0, "shrinkage"] >= 0.9 and table.iloc[-1]["n"] == table["n"].iloc[:-1].max()
    assert (table["events"] == table["n"] * 0.3).all()
    assert "C-statistic of 0.75" in table.iloc[-1]["assumption"]


@pytest.mark.parametrize("bad", [
    dict(prevalence=0.0, parameters=10), dict(prevalence=1.0, parameters=10), dict(prevalence=0.2, parameters=0),
    dict(prevalence=0.2, parameters=2.5), dict(prevalence=0.2, parameters=10, cstatistic=0.5),
    dict(prevalence=0.2, parameters=10, cstatistic=0.8, rsquared=0.1),
    dict(prevalence=0.2, parameters=10, rsquared=0.7),
    dict(prevalence=0.2, parameters=10, rsquared=0.3, shrinkage=0.2), dict(prevalence=0.2, parameters=10, margin=0),
    dict(prevalence=0.2, parameters=10, mape=0),
])
def test_binary_refusals(bad):
    with pytest.raises(RadNomoError):
        binary_sample_size(**bad)


def test_survival_refusals():
    with pytest.raises(RadNomoError, match="binary outcome only"):
        survival_sample_size(10, 0.05, 2, 2, cstatistic=0.75)
    with pytest.raises(RadNomoError, match="same time unit"):
        survival_sample_size(10, 0.5, 2, 3)
    with pytest.raises(RadNomoError, match="> 0"):
        survival_sample_size(10, 0.05, 0, 2)


def test_expected_shrinkage_at_its_limits():
    assert expected_shrinkage(10, 500, 0.2) == 0.2  # far too few patients: the heuristic's floor, S = R^2
    assert expected_shrinkage(10**18, 1, 0.2) == 1.0
    assert 0.2 < expected_shrinkage(100, 10, 0.2) < 1


def test_survival_criterion_3_raises_n_until_the_interval_fits():
    result = survival_sample_size(2, 0.3, 1, 1, rsquared=0.3)
    n1, n2, n3 = (c.n for c in result.criteria)
    assert n3 > max(n1, n2) and result.notes and "raises n" in result.notes[0]

    def half_width(n: int) -> float:
        se = math.sqrt(0.3 / round(1 * n, 1))
        return (1 - math.exp(-(0.3 + 1.96 * se))) - (1 - math.exp(-0.3))
    assert half_width(n3) <= 0.05 < half_width(n3 - 1)


@given(prevalence=st.floats(0.02, 0.98), parameters=st.integers(1, 60), extra=st.integers(1, 40),
       cstatistic=st.floats(0.6, 0.92))
def test_n_grows_with_parameters(prevalence, parameters, extra, cstatistic):
    r2 = cstatistic_to_rsquared(cstatistic, prevalence)
    fewer = binary_sample_size(prevalence, parameters, rsquared=r2)
    more = binary_sample_size(prevalence, parameters + extra, rsquared=r2)
    assert all(m.n >= f.n for f, m in zip(fewer.criteria, more.criteria, strict=True)) and more.n >= fewer.n


@given(prevalence=st.floats(0.05, 0.95), parameters=st.integers(1, 40), low=st.floats(0.7, 0.94),
       step=st.floats(0.005, 0.05), margin=st.floats(0.01, 0.2), wider=st.floats(0.001, 0.1))
def test_n_grows_with_the_shrinkage_target_and_falls_with_the_margin(prevalence, parameters, low, step, margin, wider):
    r2 = 0.5 * max_rsquared_binary(prevalence) * 0.5
    loose = binary_sample_size(prevalence, parameters, rsquared=r2, shrinkage=low, margin=margin + wider)
    strict = binary_sample_size(prevalence, parameters, rsquared=r2, shrinkage=low + step, margin=margin)
    assert strict.criteria[0].n >= loose.criteria[0].n
    assert strict.criteria[2].n >= loose.criteria[2].n and strict.n >= loose.n


@given(parameters=st.integers(1, 80), r2=st.floats(0.01, 0.5), target=st.floats(0.6, 0.97))
def test_expected_shrinkage_inverts_criterion_1(parameters, r2, target):
    assume(target > r2 * 1.05)
    n = math.ceil(parameters / ((target - 1) * math.log(1 - r2 / target)))
    assert expected_shrinkage(n, parameters, r2) >= target - 1e-12
    if n > 1:
        assert expected_shrinkage(n - 1, parameters, r2) < target + 1e-12


@given(rate=st.floats(0.005, 0.2), meanfup=st.floats(0.5, 4.0), parameters=st.integers(1, 40),
       margin=st.floats(0.02, 0.1))
def test_survival_final_meets_every_criterion(rate, meanfup, parameters, margin):
    assume(rate * meanfup < 0.9)
    result = survival_sample_size(parameters, rate, 2.0, meanfup, margin=margin)
    assert result.n == max(c.n for c in result.criteria)
    assert result.inputs["risk_high"] - result.inputs["risk"] <= margin + 1e-12
    assert result.criteria[0].shrinkage >= 0.9 - 1e-12


# -- the study workflow ---------------------------------------------------------------------------------------


def test_every_outcome_kind_has_a_sample_size():
    assert set(SAMPLE_SIZE_BY_OUTCOME) == set(OUTCOME_KINDS)


def test_study_sample_size_binary(sample_study):
    count, text = candidate_parameters(sample_study)
    spec, train = sample_study.spec, sample_study.train
    expected = len(spec.continuous) + sum(train[v].dropna().nunique() - 1 for v in spec.categorical) \
        + len(sample_study.score_families)
    assert count == expected and text.startswith(f"{count} = ")
    check = study_sample_size(sample_study, cstatistic=0.75)
    prevalence = spec.outcome.events(train).mean()
    direct = binary_sample_size(prevalence, count, cstatistic=0.75)
    assert check.result.n == direct.n and check.n_available == len(train)
    assert check.events_available == int(spec.outcome.events(train).sum())
    table = check.table()
    assert tuple(table.columns) == SAMPLE_SIZE_COLUMNS and table["criterion"].tolist()[-2:] == [FINAL, AVAILABLE]
    assert table.iloc[-1]["n"] == len(train)
    assert check.meets == (len(train) >= direct.n)
    first = check.sentences()[0]
    assert first.startswith(f"The training cohort ({len(train)} patients, {check.events_available} events)")
    assert f"minimum of {direct.n} patients" in first and "C-statistic of 0.75" in first
    # few parameters and a strong model: the training cohort meets it, and says so
    small = study_sample_size(sample_study, parameters=2, rsquared=0.3)
    assert small.meets and " meets Riley's minimum" in small.sentences()[0] and small.shortfall == 0
    assert "2 (given)" in small.sentences()[2]


def test_study_sample_size_survival():
    from core.workflows.sample import sample_survival_study

    study = sample_survival_study()
    check = study_sample_size(study)
    outcome, train = study.spec.outcome, study.train
    rate = outcome.events(train).sum() / outcome.times(train).sum()
    direct = survival_sample_size(check.result.parameters, rate, outcome.horizons[-1], outcome.times(train).mean())
    assert check.result.n == direct.n and check.result.inputs["timepoint"] == outcome.horizons[-1]
    assert "conservative default" in check.sentences()[1]
    with pytest.raises(RadNomoError, match="binary outcome only"):
        study_sample_size(study, cstatistic=0.7)
