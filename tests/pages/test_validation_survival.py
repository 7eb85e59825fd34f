"""AppTest of the Internal validation page for a time-to-event study: the apparent and test values, the bootstrap's
optimism and its box plot per model and measure, named by the outcome's measures (Harrell's C and AUC(t) at each
horizon with the outcome's time unit), never as an AUC alone.

The study is 300 sample patients with their overall survival; the fitted models are the deterministic fake of
tests/core/test_survival_validation.py (each feature's training association with the event), through which a real
6-resample bootstrap runs in the test process: nothing is fitted, the page only reads what the engine computed.
"""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace

import numpy as np
import pytest

import ui
from core.stats.discrimination import MEASURE, measure_names, measures_text
from core.workflows import validation
from core.workflows.validation import discrimination_table, optimism_corrected_auc, with_bootstrap
from tests.core.test_survival_validation import FakeModels, _survival_study
from tests.pages.apptest_helpers import dataframe_with, open_study_page, page_texts

SHOWN = ["C-index", "AUC(t=12 months)", "AUC(t=36 months)", "AUC(t=60 months)"]


def _values(encoded) -> np.ndarray:
    """A plotly trace's array as numbers (plotly writes numpy arrays as base64 ``bdata`` with a ``dtype``)."""
    if isinstance(encoded, dict):
        return np.frombuffer(base64.b64decode(encoded["bdata"]), dtype=np.dtype(encoded["dtype"]))
    return np.asarray(encoded, dtype=float)


@pytest.fixture(scope="module")
def survival_run(sample_study):
    """The survival study with a 6-resample bootstrap of the fake models kept with it, and those models."""
    study = _survival_study(sample_study)
    patch = pytest.MonkeyPatch()
    patch.setattr(validation, "fit_study", FakeModels)
    patch.setattr(validation, "predict_study", lambda s, models: models.predict(s.cohort, s.feature_tables()))
    try:
        result = optimism_corrected_auc(study, n_boot=6, seed=4)
    finally:
        patch.undo()
    return with_bootstrap(study, result, seed=4), result


def test_the_measures_are_named_with_the_outcomes_time_unit(survival_run):
    outcome = survival_run[0].spec.outcome
    assert list(measure_names(outcome).values()) == SHOWN
    assert list(measure_names(outcome)) == ["C-index", "AUC(t=12)", "AUC(t=36)", "AUC(t=60)"]
    assert measures_text(outcome) == "C-index and AUC(t=12 months), AUC(t=36 months), AUC(t=60 months)"


def test_the_page_shows_c_and_td_auc_per_model_and_the_optimism_by_measure(survival_run, monkeypatch):
    study, result = survival_run
    models = FakeModels(study)
    predictions = models.predict(study.cohort, study.feature_tables())
    monkeypatch.setattr(ui, "results", lambda _study: SimpleNamespace(models=models, predictions=predictions))
    at = open_study_page(study, "pages/validation.py", timeout=120)
    assert not at.error, [e.value for e in at.error]
    assert any("C-index and AUC(t=12 months)" in h.value for h in at.subheader)
    assert not any(h.value.endswith("test AUC") for h in at.subheader)
    table = dataframe_with(at, MEASURE, "apparent (training)", "test", "optimism", "optimism-corrected")
    labels = study.model_labels()
    assert list(table.index) == [labels[m] for m in FakeModels.model_names for _ in SHOWN]
    assert list(table[MEASURE]) == SHOWN * 2
    # the numbers are the engine's: apparent / test from discrimination_table, optimism from the bootstrap
    measured = discrimination_table(study, predictions, FakeModels.model_names)
    np.testing.assert_allclose(table["apparent (training)"], measured["train"].round(3))
    np.testing.assert_allclose(table["test"], measured["test"].round(3))
    np.testing.assert_allclose(table["optimism"], result.table["optimism"].round(3))
    # one box per model and measure: the measures (display names) along the axis, a trace per model
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    traces = figure["data"]
    assert [t["name"] for t in traces] == [labels[m] for m in FakeModels.model_names]
    for trace, model in zip(traces, FakeModels.model_names, strict=True):
        rows = result.runs[result.runs["model"] == model]
        assert sorted(set(trace["x"])) == sorted(SHOWN) and len(trace["x"]) == len(rows)
        np.testing.assert_allclose(np.sort(_values(trace["y"])), np.sort(rows["optimism"]), rtol=1e-12)
    assert "measure" in figure["layout"]["title"]["text"] and "AUC on" not in figure["layout"]["title"]["text"]
    assert "Run the bootstrap to add" not in page_texts(at)
