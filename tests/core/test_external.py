"""External cohorts and subgroups evaluated by frozen models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.external import cohort_panel, out_of_range, subgroups, validate_external
from core.pipeline import training_cutoffs
from core.sample import SAMPLE_SPEC


def test_validate_external_checks_ids_and_features(sample_cohort, sample_features):
    external = sample_cohort.iloc[:80]
    ids = list(external["patient_id"])
    tables = {"radiomics": sample_features["radiomics"].loc[ids].reset_index(),
              "deep": sample_features["deep"].loc[ids]}
    cohort, features = validate_external(external, tables, SAMPLE_SPEC, ["dl_001", "original_firstorder_Median"])
    assert list(features["radiomics"].index) == ids and len(cohort) == 80
    with pytest.raises(RadNomoError, match="lack 1 feature"):
        validate_external(external, tables, SAMPLE_SPEC, ["not_a_feature"])
    with pytest.raises(RadNomoError, match="have no deep features"):
        validate_external(external, {"deep": sample_features["deep"].loc[ids[:40]]}, SAMPLE_SPEC, [])


def test_cohort_panel_and_subgroups(sample_cohort, sample_features, sample_models):
    split, models = sample_models
    predictions = models.predict(sample_cohort, sample_features, SAMPLE_SPEC)
    outcome = sample_cohort.set_index("patient_id")["lm"]
    cutoffs = training_cutoffs(predictions, outcome, split.train_ids, ["clinical", "fused"])
    groups = {"train": split.train_ids, "test": split.test_ids,
              **subgroups(sample_cohort, SAMPLE_SPEC, "scanner", split.test_ids)}
    assert any(name.startswith("scanner = ") for name in groups)
    panel = cohort_panel(predictions, outcome, groups, cutoffs)
    assert set(panel["group"]) == set(groups) and set(panel["model"]) == {"clinical", "fused"}
    train_fused = panel[(panel.group == "train") & (panel.model == "fused")].iloc[0]
    assert abs(train_fused["cal_intercept"]) < 1e-6 and train_fused["cal_slope"] == pytest.approx(1, abs=1e-6)
    assert (panel["n"] >= panel["events"]).all()


def test_out_of_range_flags_shifted_features():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    other = pd.DataFrame({"a": rng.normal(size=100), "b": rng.normal(4, 1, size=100)})
    table = out_of_range(train, other, ["a", "b"])
    assert table.index[0] == "b" and bool(table.loc["b", "flag"]) and not bool(table.loc["a", "flag"])
