"""The stage object (core.workflows.results): each stage computed once per content change and shared by every
caller of the store; a change of roles, settings, split or table never serves a stale result; a saved fit seeds
it; background fits belong to one session and run on a bounded number of threads."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.cohort import SplitConfig
from core.workflows.fit import fit_study
from core.workflows.results import BackgroundFits, StageStore, StudyResults
from core.workflows.study import EvaluationSettings, FeatureFamily
from tests.studies import small_sample_study


@pytest.fixture(scope="module")
def small(sample_study):
    return small_sample_study(sample_study, SplitConfig(seed=3), n=240, widths=(60, 30))


@pytest.fixture(scope="module")
def fitted(small):
    """One store with the small study's models, predictions and evaluation computed (shared by the tests that
    only read it)."""
    results = StudyResults(small)
    _ = results.predictions
    return results


# -- the store ---------------------------------------------------------------------------------


def test_the_store_computes_a_key_once_even_when_asked_from_two_threads_at_once():
    store, calls, gate = StageStore(), [], threading.Event()

    def slow():
        calls.append(1)
        gate.wait(10)
        return object()

    got = []
    threads = [threading.Thread(target=lambda: got.append(store.get("models", "k", slow))) for _ in range(4)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(10)
    assert len(calls) == 1 and len(got) == 4 and all(g is got[0] for g in got)
    assert store.computed["models"] == 1


def test_the_store_keeps_no_failed_computation_and_evicts_the_least_recently_used():
    store = StageStore(sizes={"models": 2})

    def fail():
        raise RadNomoError("no model to fit")

    for _ in range(2):  # a failure is not stored: asked again, computed again (and fails again)
        with pytest.raises(RadNomoError, match="no model to fit"):
            store.get("models", "bad", fail)
    store.get("models", "a", lambda: "A")
    store.get("models", "b", lambda: "B")
    store.get("models", "a", lambda: "not again")  # "a" used last: "b" goes first
    store.get("models", "c", lambda: "C")
    assert store.has("models", "a") and store.has("models", "c") and not store.has("models", "b")
    assert store.get("models", "a", lambda: "not again") == "A"


# -- the stages ----------------------------------------------------------------------------------


def test_each_stage_is_computed_once_and_shared_by_two_callers(small, fitted):
    counts = dict(fitted.store.computed)
    assert counts["prepared"] == 1 and counts["models"] == 1 and counts["predictions"] == 1
    assert counts["screening"] == len(fitted.usable_families) == 3  # radiomics, dl, combined
    other = StudyResults(small, fitted.store)  # another page, another session: the same store
    assert other.models is fitted.models and other.predictions is fitted.predictions
    assert other.screening("radiomics") is fitted.screening("radiomics")
    assert dict(fitted.store.computed) == counts  # nothing computed again


def test_the_stages_equal_a_fit_from_scratch(small, fitted):
    fresh = fit_study(small)
    assert fitted.models.model_names == fresh.model_names
    for name in ("clinical", "fused"):
        pd.testing.assert_series_equal(fitted.models.model(name).fit.params, fresh.model(name).fit.params)
    assert list(fitted.models.scores) == list(fresh.scores) and fresh.scores
    for family, score in fresh.scores.items():
        assert fitted.models.scores[family].features == score.features


def test_an_evaluation_setting_re_evaluates_but_refits_nothing(small, fitted):
    store = StageStore()
    first = StudyResults(small, store)
    _ = first.models
    changed = StudyResults(small.replace(evaluation=EvaluationSettings(cutoff_rule="fixed", cutoff_value=0.3)), store)
    assert changed.models is first.models and changed.predictions is first.predictions
    assert store.computed["models"] == 1 and store.computed["screening"] == 3


def test_a_screening_threshold_rescreens_and_refits_but_reuses_the_prepared_tables(small):
    store = StageStore()
    first = StudyResults(small, store)
    _ = first.models
    stricter = small.with_settings(screening=small.settings.screening.__class__.from_dict(
        {**small.settings.screening.to_dict(), "p_threshold": 0.01}))
    second = StudyResults(stricter, store)
    _ = second.models
    assert store.computed["prepared"] == 1  # the tables do not depend on the screening thresholds
    assert store.computed["screening"] == 6 and store.computed["models"] == 2
    assert store.computed["screening_memo"] == 3  # the early steps' memo is reused across thresholds
    assert second.models is not first.models


@pytest.mark.parametrize("change", ["roles", "settings", "split", "table"])
def test_no_stale_result_is_served_after_a_change(small, fitted, change):
    if change == "roles":
        changed = small.with_roles(continuous=("tumour_thickness_mm",), categorical=())
    elif change == "settings":
        changed = small.with_settings(fused_score="radiomics")
    elif change == "split":
        changed = small.resplit(SplitConfig(seed=11))
    else:
        radiomics = small.family("radiomics")
        table = radiomics.table.copy()
        table.iloc[0, 0] += 1.0
        changed = small.with_family(FeatureFamily(name="radiomics", label=radiomics.label, table=table))
    results = StudyResults(changed, fitted.store)
    assert changed.model_fingerprint != small.model_fingerprint
    before = fitted.store.computed["models"]
    models = results.models
    assert models is not fitted.models and fitted.store.computed["models"] == before + 1
    assert tuple(models.train_ids) == tuple(changed.train_ids)
    assert (models.clinical.variables if models.clinical is not None else ()) == (
        fit_study(changed).clinical.variables if fit_study(changed).clinical is not None else ())


def test_a_saved_fit_seeds_the_store(small, fitted):
    store = StageStore()
    results = StudyResults(small, store)
    results.seed(fitted.models)
    assert results.models is fitted.models
    assert all(results.screening(f) is fitted.models.screening[f] for f in fitted.models.screening)
    assert store.computed["models"] == 0 and store.computed["screening"] == 0


@pytest.mark.slow
def test_the_sample_study_comes_fitted(sample_study, sample_models):
    store = StageStore()
    results = StudyResults(sample_study, store)
    assert results.models.model_names == sample_models.model_names
    assert store.computed["models"] == 0 and store.computed["screening"] == 0  # read from sample_data/fitted


def test_nomogram_report_and_evaluation_are_stages_of_the_same_fit(small, fitted):
    nomogram = fitted.nomogram("fused")
    assert fitted.nomogram("fused") is nomogram
    assert fitted.store.computed["nomogram"] == 1
    patient = small.train_ids[0]
    row = {**small.train.loc[patient].to_dict(), **fitted.predictions.loc[patient].to_dict()}
    assert 0 < nomogram.probability(row) < 1
    typical = fitted.typical_inputs(nomogram.variables, nomogram.levels)
    assert set(typical) == set(nomogram.variables)


def test_a_stage_that_fails_says_why_every_time(small):
    nothing = small.replace(families=(), combined=(), settings=small.settings.__class__.from_dict(
        {**small.settings.to_dict(), "clinical_continuous": [], "clinical_categorical": [], "fused_score": None}))
    results = StudyResults(nothing)
    for _ in range(2):
        with pytest.raises(RadNomoError, match="no model to fit"):
            _ = results.models


# -- background fits --------------------------------------------------------------------------------


class _RecordedResults:
    """Stands for a StudyResults in the background-fit tests: records the stages asked for."""

    def __init__(self, name, families, calls, hold=None):
        self.study = type("S", (), {"name": name})()
        self.usable_families = list(families)
        self._calls, self._hold = calls, hold

    def screening(self, family):
        self._calls.append((self.study.name, family))
        if self._hold is not None and family == self.usable_families[0]:
            self._hold()

    @property
    def predictions(self):
        self._calls.append((self.study.name, "models"))


def _join(fits):
    for worker in fits.workers():
        worker.join(10)
    assert not fits.workers()


def test_a_newer_background_fit_stops_the_older_one_at_the_next_family():
    """A user who moves a second threshold while the first change is being fitted waits for the second only."""
    calls, started, release = [], threading.Event(), threading.Event()
    fits = BackgroundFits(max_workers=2, delay_s=0.0)
    families = ["radiomics", "dl", "dl_radiomics"]
    fits.request("session", _RecordedResults("A", families, calls, hold=lambda: (started.set(), release.wait(10))))
    assert started.wait(10)
    fits.request("session", _RecordedResults("B", families, calls))
    release.set()
    _join(fits)
    assert calls == [("A", "radiomics"), ("B", "radiomics"), ("B", "dl"), ("B", "dl_radiomics"), ("B", "models")]


def test_background_fits_of_two_sessions_both_complete():
    """One session's newer request never cancels another session's background fit."""
    calls, started, release = [], threading.Event(), threading.Event()
    fits = BackgroundFits(max_workers=2, delay_s=0.0)
    fits.request("session-1", _RecordedResults("A", ["radiomics", "dl"], calls,
                                                hold=lambda: (started.set(), release.wait(10))))
    assert started.wait(10)
    fits.request("session-2", _RecordedResults("B", ["radiomics", "dl"], calls))
    release.set()
    _join(fits)
    for study in ("A", "B"):
        assert [f for s, f in calls if s == study] == ["radiomics", "dl", "models"], calls
    assert not fits._pending and not fits._generation  # nothing of either session is left behind


def test_background_fits_use_a_bounded_number_of_threads():
    calls, release = [], threading.Event()
    fits = BackgroundFits(max_workers=2, delay_s=0.0)
    for i in range(6):
        fits.request(f"session-{i}", _RecordedResults(f"S{i}", ["radiomics"], calls, hold=lambda: release.wait(10)))
    assert len(fits.workers()) == 2
    release.set()
    _join(fits)
    assert sorted(s for s, f in calls if f == "models") == [f"S{i}" for i in range(6)]  # every session's fit, in turn


def test_a_background_fit_fills_the_store_the_pages_read(small):
    store = StageStore()
    fits = BackgroundFits(max_workers=1, delay_s=0.0)
    fits.request("session", StudyResults(small, store))
    _join(fits)
    assert store.computed["predictions"] == 1
    page = StudyResults(small, store)
    _ = page.predictions
    assert store.computed["models"] == 1 and store.computed["predictions"] == 1  # found ready, not refitted
    assert np.isfinite(page.predictions["clinical"]).all()


@pytest.mark.slow
def test_the_evaluation_and_the_report_are_stages_computed_once_from_the_same_fit(small, fitted):
    from core.workflows.evaluation import evaluate_study

    fits = fitted.store.computed["models"]
    evaluation = fitted.evaluation
    assert StudyResults(small, fitted.store).evaluation is evaluation  # another caller: the same tables
    direct = evaluate_study(small, fitted.models, fitted.predictions)
    for table in ("aucs", "table2", "calibration", "decision"):
        pd.testing.assert_frame_equal(getattr(evaluation, table), getattr(direct, table))
    report = fitted.report()
    assert fitted.report() is report
    assert fitted.store.computed["evaluation"] == 1 and fitted.store.computed["report"] == 1
    fixed = StudyResults(small.replace(evaluation=EvaluationSettings(cutoff_rule="fixed", cutoff_value=0.3)),
                         fitted.store)
    assert fixed.evaluation is not evaluation and set(fixed.evaluation.cutoffs.values()) == {0.3}
    assert fitted.store.computed["models"] == fits  # a new cut-off rule refits nothing
