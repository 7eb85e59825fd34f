"""Teaching mode's core: the oracle, the feature emulator, the what-if re-run and the leakage demonstration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from core.errors import RadNomoError
from core.imaging.synthetic import PhenotypeEffects, generate_clinical
from core.stats.cohort import CohortSpec, SplitConfig
from core.workflows.study import FeatureFamily, ModelSettings, make_study
from core.workflows.teaching import (EXPLANATIONS, TRAITS, WALKTHROUGH, FeatureEmulator, leakage_demo, oracle_auc,
                                     oracle_scores, scaled_effects, trait_effects, what_if)


def test_oracle_score_is_the_log_likelihood_ratio_written_out():
    effects = PhenotypeEffects()
    tables = generate_clinical(n=200, seed=3)
    scores = oracle_scores(tables.truth, effects)
    shifts = trait_effects(effects)
    z = tables.truth[[f"z_{t}" for t in TRAITS]].to_numpy()[0]

    def density(mu):  # the product of unit normals, written out
        return np.prod(np.exp(-0.5 * (z - mu) ** 2) / np.sqrt(2 * np.pi))

    with_lm = (120 / 312) * density(shifts["metachronous LM"].to_numpy()) + \
        (192 / 312) * density(shifts["synchronous LM"].to_numpy())
    assert scores.iloc[0] == pytest.approx(np.log(with_lm / density(np.zeros(len(TRAITS)))), rel=1e-10)


def test_the_oracle_beats_any_single_trait_and_tracks_the_effect_size():
    tables = generate_clinical(n=1000, seed=5)
    outcome = tables.clinical.set_index("patient_id")["lm"]
    best_single = max(roc_auc_score(outcome, tables.truth[f"z_{t}"].to_numpy()) for t in TRAITS)
    assert oracle_auc(tables.truth, outcome) > best_single
    weak = generate_clinical(n=1000, seed=5, effects=scaled_effects(0.3))
    weak_outcome = weak.clinical.set_index("patient_id")["lm"]
    assert oracle_auc(weak.truth, weak_outcome, effects=scaled_effects(0.3)) < oracle_auc(tables.truth, outcome)


def test_emulator_recovers_a_known_linear_link_and_keeps_residual_rows_whole():
    tables = generate_clinical(n=400, seed=2)
    truth = tables.truth
    rng = np.random.default_rng(0)
    z = truth[[f"z_{t}" for t in TRAITS]].to_numpy()
    slopes = rng.normal(size=(len(TRAITS), 5))
    features = pd.DataFrame(2.0 + z @ slopes + 0.1 * rng.normal(size=(400, 5)), index=truth["patient_id"],
                            columns=[f"f{j}" for j in range(5)])
    emulator = FeatureEmulator.fit(truth, features)
    np.testing.assert_allclose(emulator.intercept_and_slopes[1:], slopes, atol=0.03)
    simulated = emulator.simulate(truth, np.random.default_rng(1), noise_scale=0.0)
    np.testing.assert_allclose(simulated.to_numpy(), 2.0 + z @ slopes, atol=0.1)
    with pytest.raises(RadNomoError, match="at least 50"):
        FeatureEmulator.fit(truth.head(20), features)


@pytest.fixture(scope="module")
def emulators(sample_features):
    from core.workflows.sample import load_sample_truth

    truth = load_sample_truth()
    return {"radiomics": FeatureEmulator.fit(truth, sample_features["radiomics"].iloc[:, :300]),
            "dl": FeatureEmulator.fit(truth, sample_features["dl"].iloc[:, :120])}


@pytest.mark.slow
def test_what_if_is_seeded_and_shows_the_effect(emulators, sample_study):
    settings = ModelSettings(clinical_continuous=("tumour_thickness_mm", "cea_ng_ml"), clinical_categorical=())
    strong = what_if(emulators, sample_study, n=300, effect_scale=2.0, seed=4, settings=settings)
    again = what_if(emulators, sample_study, n=300, effect_scale=2.0, seed=4, settings=settings)
    pd.testing.assert_frame_equal(strong.aucs, again.aucs)
    assert strong.n == 300 and 60 < strong.events < 130
    assert 0.5 < strong.oracle_test <= 1
    none = what_if(emulators, sample_study, n=300, effect_scale=0.0, seed=4, settings=settings)
    assert none.oracle_test == 0.5
    assert strong.aucs.loc["test", "dl_radiomics"] > none.aucs.loc["test", "dl_radiomics"] + 0.1
    with pytest.raises(RadNomoError, match="between 40 and 5000"):
        what_if(emulators, sample_study, n=10)


def test_screening_on_all_patients_inflates_the_test_auc_of_pure_noise():
    rng = np.random.default_rng(11)
    n = 240
    y = (rng.random(n) < 0.35).astype(int)
    table = pd.DataFrame({"pid": [f"P{i}" for i in range(n)], "event": y, "age": rng.normal(60, 10, n)})
    noise = pd.DataFrame(rng.normal(size=(n, 400)) * 3, index=pd.Index(table["pid"], name="ID"),
                         columns=[f"f{j}" for j in range(400)])
    study = make_study("noise", table, CohortSpec(id_column="pid", outcome_column="event", continuous=("age",)),
                       SplitConfig(seed=3), families=[FeatureFamily(name="radiomics", label="Radiomics", table=noise)],
                       settings=ModelSettings(clinical_continuous=("age",), clinical_categorical=()))
    table = leakage_demo(study)
    assert table.loc["radiomics", "honest"] < 0.62  # noise: nothing to find
    assert table.loc["radiomics", "leaky"] > table.loc["radiomics", "honest"] + 0.1
    assert table.loc["clinical", "inflation"] == 0  # the clinical model never sees the features


def test_every_page_has_an_explanation_with_a_reference_and_the_tour_has_eight_steps():
    from pathlib import Path

    pages = {p.stem for p in (Path(__file__).resolve().parents[2] / "pages").glob("*.py")}
    assert pages <= set(EXPLANATIONS)
    assert all(e.reference and len(e.text) > 80 for e in EXPLANATIONS.values())
    assert len(WALKTHROUGH) == 8
