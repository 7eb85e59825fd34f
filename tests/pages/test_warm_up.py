"""The sample study's warm-up (ui.warm_up_sample): a served app's first page starts it once per server process, and
the next pages of the sample find their stages computed (issue 29: first visits that do not wait for the engine)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow  # it evaluates the whole sample study


def test_the_default_sample_is_warmed_up_once_and_its_stages_are_found_not_recomputed():
    import ui
    from core.workflows.results import StudyResults

    ui._warm_up_started.clear()
    ui._store.clear()
    study = ui.sample_study()
    ui.warm_up_sample(study.replace(name="Another study"))  # not the default sample: nothing starts
    assert ui._warm_up_started() == []
    ui.warm_up_sample(study)
    started = ui._warm_up_started()
    assert len(started) == 1 and started[0].name == "warm-up-sample"
    ui.warm_up_sample(study)  # once per server process
    assert ui._warm_up_started() == started
    started[0].join(timeout=600)
    assert not started[0].is_alive()

    store = ui._store()
    assert store.has("evaluation", study.fingerprint) and store.has("predictions", study.model_fingerprint)
    assert store.has("univariable", study.model_fingerprint)
    computed = dict(store.computed)
    results = StudyResults(study, store)
    _ = results.evaluation, results.clinical_univariable, results.screenings
    assert dict(store.computed) == computed  # what the pages ask for is found, not computed again
    assert ui.never_features(study) is ui.never_features(study)  # Selection's checks are kept too
    ui._warm_up_started.clear()
