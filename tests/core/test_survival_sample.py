"""The synthetic sample's time-to-event outcome (core.imaging.synthetic_survival): the committed survival.csv is
what the generator writes, the binary sample's files are unchanged by it, the hazard's signal is real, the
censoring is in range, the horizons are inside follow-up, and the draws are seeded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.imaging.synthetic import generate_clinical, generate_cohort
from core.imaging.synthetic_survival import (SURVIVAL_COLUMNS, SURVIVAL_HORIZONS_MONTHS, SURVIVAL_TIME_UNIT,
                                             SurvivalEffects, generate_survival, survival_linear_predictor)
from core.stats.cohort import CohortSpec, SplitConfig, outcome_summary, split_cohort, validate_cohort
from core.stats.outcomes import SurvivalOutcome

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
SEED = 20250601
OUTCOME = SurvivalOutcome("os_months", "death", SURVIVAL_TIME_UNIT, SURVIVAL_HORIZONS_MONTHS, ("alive", "died"))


@pytest.fixture(scope="module")
def sample():
    """The sample's tables (n = 1001, the bundled seed) and its survival table."""
    tables = generate_clinical(n=1001, seed=SEED)
    return tables, generate_survival(tables, SEED)


def _harrell(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's C by counting every usable pair (i had the event before j's time; ties in risk count 1/2)."""
    earlier = (time[:, None] < time[None, :]) & (event[:, None] == 1)
    concordant = (risk[:, None] > risk[None, :]) + 0.5 * (risk[:, None] == risk[None, :])
    return float((concordant * earlier).sum() / earlier.sum())


@pytest.mark.parametrize(("folder", "n", "seed", "mix"), [
    ("", 1001, SEED, None),
    ("external", 300, 20250777, {"SCN-A": 0.05, "SCN-B": 0.15, "SCN-C": 0.45, "SCN-D": 0.35}),
])
def test_the_committed_tables_are_what_the_generator_writes(tmp_path, folder, n, seed, mix):
    """sample_data/survival.csv (and external/) is the command's output, and the binary sample's tables are
    byte-identical to those committed (the survival draws do not touch them)."""
    generate_cohort(tmp_path, n=n, seed=seed, images=False, scanner_shares=mix)
    committed = SAMPLE / folder
    assert (tmp_path / "survival.csv").read_bytes() == (committed / "survival.csv").read_bytes()
    assert (tmp_path / "clinical.csv").read_bytes() == (committed / "clinical.csv").read_bytes()
    if not folder:
        for name in ("manifest.csv", "generator_truth.csv"):
            assert (tmp_path / name).read_bytes() == (committed / name).read_bytes(), name


def test_the_table_is_a_valid_time_to_event_outcome_of_the_same_patients(sample):
    tables, survival = sample
    assert list(survival.columns) == list(SURVIVAL_COLUMNS)
    assert survival["patient_id"].tolist() == tables.clinical["patient_id"].tolist()
    cohort = tables.clinical.merge(survival, on="patient_id", validate="one_to_one")
    clean = validate_cohort(cohort, "patient_id", OUTCOME, continuous=("age",))  # horizons inside follow-up
    assert (clean["os_months"] > 0).all() and set(clean["death"]) == {0, 1}
    spec = CohortSpec(id_column="patient_id", outcome=OUTCOME, continuous=("age",))
    summary = outcome_summary(clean, spec, split_cohort(clean, spec, SplitConfig(seed=2025))).set_index("statistic")
    assert not summary.loc["event_free", "Test"].str.contains("beyond").any()


def test_censoring_is_in_range_and_follow_up_covers_the_horizons(sample):
    _, survival = sample
    censored = 1 - survival["death"].mean()
    assert 0.35 <= censored <= 0.45, censored
    # Everyone not lost or dead is followed for study end - accrual = 36 months; some beyond 60.
    effects = SurvivalEffects()
    alive = survival[survival["death"] == 0]["os_months"]
    assert (alive >= effects.study_end_months - effects.accrual_months).mean() > 0.7
    assert (survival["os_months"] > max(SURVIVAL_HORIZONS_MONTHS)).sum() > 100
    for seed in (1, 2):  # other seeds too
        other = generate_survival(generate_clinical(n=400, seed=seed), seed)
        assert 0.33 <= 1 - other["death"].mean() <= 0.47


def test_the_hazard_has_the_signal_it_was_given(sample):
    """A Cox model of the true covariates recovers the signs (and roughly the sizes) of the log hazard ratios,
    and the true linear predictor ranks the patients well (Harrell's C > 0.65)."""
    from lifelines import CoxPHFitter

    tables, survival = sample
    effects = SurvivalEffects()
    truth = tables.truth
    design = pd.DataFrame({
        "lm": tables.clinical["lm"], "t_stage": tables.clinical["ct_stage"].str[1].astype(int),
        "n_stage": tables.clinical["cn_stage"].str[1].astype(int), "age_decades": tables.clinical["age"] / 10,
        **{column: truth[column] for column in effects.trait_effects()}})
    true = {"lm": effects.lm, "t_stage": effects.ct_stage, "n_stage": effects.cn_stage,
            "age_decades": effects.age_per_decade, **effects.trait_effects()}
    fit = CoxPHFitter().fit(design.assign(T=survival["os_months"], E=survival["death"]), "T", "E")
    for term, value in true.items():
        estimate, se = fit.params_[term], fit.standard_errors_[term]  # se about 0.04-0.1 here
        if abs(value) >= 3 * se:  # an effect this size is found with its sign (margin's 0.1 need not be)
            assert np.sign(estimate) == np.sign(value), (term, estimate, value)
        assert abs(estimate - value) < 3 * se, (term, estimate, value)  # the true value inside a 3-SE band
    lp = survival_linear_predictor(tables, effects)
    c = _harrell(survival["os_months"].to_numpy(), survival["death"].to_numpy(), lp)
    assert 0.65 < c < 0.85, c
    # With no effects at all, the ranking is chance.
    null = SurvivalEffects(lm=0.0, ct_stage=0.0, cn_stage=0.0, age_per_decade=0.0,
                           **{trait.removeprefix("z_"): 0.0 for trait in effects.trait_effects()})
    flat = generate_survival(tables, SEED, null)
    assert abs(_harrell(flat["os_months"].to_numpy(), flat["death"].to_numpy(), lp) - 0.5) < 0.05


def test_the_draws_are_seeded(sample):
    tables, survival = sample
    pd.testing.assert_frame_equal(generate_survival(tables, SEED), survival)
    assert not generate_survival(tables, SEED + 1).equals(survival)
    assert generate_clinical(n=1001, seed=SEED).clinical.equals(tables.clinical)


@pytest.mark.parametrize(("knobs", "message"), [
    ({"weibull_shape": 0.0}, "shape and scale must be > 0"),
    ({"accrual_months": 100.0}, "shorter than the study"),
    ({"lm": float("nan")}, "finite number"),
])
def test_impossible_effects_are_refused(knobs, message):
    with pytest.raises(RadNomoError, match=message):
        SurvivalEffects(**knobs)
