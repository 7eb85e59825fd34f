"""A time-to-event study saved, reopened, exported, imported and shared (core.workflows.persistence, sharing).

What must come back identical: the SurvivalOutcome (time and event columns, unit, horizons, labels), the settings
(Cox score method, univariable Cox test), the fitted Cox models (``outcome_kind``, each CoxModel with its baseline
hazard and variance matrix), the LASSO-Cox screening (recomputed on reopening, and as plain JSON), the internal
validation with its ``measure`` column, and the reopened models' predictions (linear predictors and survival at
each horizon). An edited saved outcome or model is refused with a RadNomoError.

The study is the sample's first 300 patients with their overall survival, its radiomics family cut to 150 features,
the clinical model of tumour thickness and CEA: fitted once per module (Cox learners, LASSO-Cox: a few seconds).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.cohort import SplitConfig, split_cohort
from core.stats.outcomes import SurvivalOutcome
from core.stats.selection import ScreeningResult
from core.vocabulary import survival_column
from core.workflows.fit import StudyModels, fit_study, predict_study
from core.workflows.persistence import (STUDY_FILE, export_study, import_study, load_study, load_study_models,
                                        save_study)
from core.workflows.results import StageStore, StudyResults, reopen_study
from core.workflows.sample import SAMPLE_DIR
from core.workflows.sharing import share_study, shared_studies
from core.workflows.study import FeatureFamily, ModelSettings
from core.workflows.validation import optimism_corrected_auc, repeated_cv_auc, with_bootstrap, with_cv

HORIZONS = (12.0, 36.0, 60.0)


def small_survival_study(sample_study):
    """The sample's first 300 patients with overall survival (months; horizons 12, 36, 60), radiomics cut to 150
    features, the time-to-event default settings with the clinical model of tumour thickness and CEA."""
    survival = pd.read_csv(SAMPLE_DIR / "survival.csv", dtype={"patient_id": str}).set_index("patient_id")
    ids = sample_study.cohort.index[:300]
    cohort = sample_study.cohort.loc[ids].join(survival)
    outcome = SurvivalOutcome(time_column="os_months", event_column="death", time_unit="months", horizons=HORIZONS,
                              labels=("alive", "death"))
    spec = dataclasses.replace(sample_study.spec, outcome=outcome)
    family = sample_study.families[0]
    settings = dataclasses.replace(ModelSettings.for_outcome(outcome),
                                   clinical_continuous=("tumour_thickness_mm", "cea_ng_ml"), clinical_categorical=())
    return sample_study.replace(name="Small survival study", cohort=cohort, spec=spec, combined=(), is_sample=False,
                                settings=settings, subgroup=None,
                                families=(FeatureFamily(name=family.name, label=family.label,
                                                        table=family.table.loc[ids].iloc[:, :150]),),
                                split=split_cohort(cohort.reset_index(), spec, SplitConfig(seed=1)))


@pytest.fixture(scope="module")
def fitted(sample_study):
    """The small survival study with a (tiny) internal validation run kept, its models and predictions."""
    study = small_survival_study(sample_study)
    boot = optimism_corrected_auc(study, n_boot=2, seed=5)
    cv = repeated_cv_auc(study, n_folds=3, n_repeats=1, seed=5)
    study = with_cv(with_bootstrap(study, boot, seed=5), cv, folds=3, repeats=1, seed=5)
    models = fit_study(study)
    return study, models, predict_study(study, models)


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    study, models, _ = fitted
    return save_study(study, tmp_path_factory.mktemp("survival") / "study", models)


def _rehash(folder: Path, name: str) -> None:
    """Recompute the hash of the edited file ``name`` in study.json, as a tamperer would."""
    description = json.loads((folder / STUDY_FILE).read_text())
    description["files"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / STUDY_FILE).write_text(json.dumps(description))


def _edit_models(folder: Path, edit) -> None:
    """Edit the saved models' JSON with ``edit(values)`` and recompute its hash."""
    name = json.loads((folder / STUDY_FILE).read_text())["models"]
    values = json.loads((folder / name).read_text())
    edit(values)
    (folder / name).write_text(json.dumps(values))
    _rehash(folder, name)


def _edit_outcome(folder: Path, edit) -> None:
    """Edit the saved outcome (study.json's spec) with ``edit(outcome dict)``."""
    description = json.loads((folder / STUDY_FILE).read_text())
    edit(description["spec"]["outcome"])
    (folder / STUDY_FILE).write_text(json.dumps(description))


def _copy(folder: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(folder, tmp_path / "copy"))


def test_the_saved_study_is_the_same_time_to_event_study(fitted, saved):
    study, _, _ = fitted
    again = load_study(saved)
    assert again.spec == study.spec and isinstance(again.spec.outcome, SurvivalOutcome)
    assert again.spec.outcome.horizons == HORIZONS and again.spec.outcome.time_unit == "months"
    assert again.spec.outcome.labels == ("alive", "death")
    assert again.settings == study.settings
    assert (again.settings.score_method, again.settings.screening.test) == ("cox_refit", "cox_wald")
    assert again.split == study.split and again.fingerprint == study.fingerprint
    pd.testing.assert_frame_equal(again.cohort, study.cohort)
    saved_spec = json.loads((saved / STUDY_FILE).read_text())["spec"]["outcome"]
    assert saved_spec["kind"] == "survival" and saved_spec["time_column"] == "os_months"


def test_the_internal_validation_comes_back_with_its_measures(fitted, saved):
    study, _, _ = fitted
    run, again = study.current_validation(), load_study(saved).current_validation()
    assert run is not None and again is not None and again.key == run.key and again.meta == run.meta
    assert "measure" in run.optimism.columns and "measure" in run.cv.columns
    assert set(run.optimism["measure"]) >= {"C-index"}  # Harrell's C and the AUC at each horizon it could estimate
    for part in ("optimism", "runs", "resamples", "cv"):
        pd.testing.assert_frame_equal(getattr(again, part), getattr(run, part), check_dtype=False)


def test_the_cox_models_come_back_identical_and_predict_the_same(fitted, saved):
    study, models, predictions = fitted
    again = load_study(saved)
    loaded = load_study_models(saved, again)
    assert loaded is not None and loaded.outcome_kind == models.outcome_kind == "survival"
    assert loaded.model_names == models.model_names and loaded.roles == models.roles
    for name in models:
        assert loaded[name].learner == models[name].learner
        assert loaded[name].to_dict() == models[name].to_dict()  # coefficients, variance, baseline, horizons
        pd.testing.assert_frame_equal(loaded[name].baseline, models[name].baseline)
        pd.testing.assert_frame_equal(loaded[name].table, models[name].table)
    reopened = predict_study(again, loaded)
    assert survival_column("clinical", 36.0) in reopened.columns
    pd.testing.assert_frame_equal(reopened, predictions, rtol=1e-12, atol=1e-12)


def test_the_lasso_cox_screening_comes_back(fitted, saved):
    study, models, _ = fitted
    screening = models.screening["radiomics"]
    assert screening.lasso is not None and screening.lasso.family == "cox"
    # as plain JSON (the form the sample's stored fit keeps)
    again = ScreeningResult.from_dict(json.loads(json.dumps(screening.to_dict())))
    assert again.lasso.family == "cox" and again.selected == screening.selected
    pd.testing.assert_series_equal(again.lasso.coef_, screening.lasso.coef_)
    # and recomputed for a reopened study: the same features, coefficients and lambda
    store = StageStore()
    reopened = reopen_study(saved, store)
    results = StudyResults(reopened, store)
    # The saved fit stands for the fit (nothing refitted); a study folder keeps the models without their screening
    # (as a binary study's), which is recomputed from the saved data and settings when a page asks for it.
    fit_only = ("funnels", "selected")
    assert {k: v for k, v in results.models.to_dict().items() if k not in fit_only} == \
        {k: v for k, v in models.to_dict().items() if k not in fit_only}
    recomputed = results.screening("radiomics")
    assert recomputed.selected == screening.selected and recomputed.lasso.family == "cox"
    pd.testing.assert_series_equal(recomputed.lasso.coef_, screening.lasso.coef_)
    assert recomputed.lasso.lambda_ == screening.lasso.lambda_


def test_export_import_and_sharing_round_trip(fitted, tmp_path):
    study, models, predictions = fitted
    archive = export_study(study, tmp_path / "study.zip", models)
    folder = import_study(archive, tmp_path / "studies")
    again = load_study(folder)
    assert again.spec == study.spec and again.fingerprint == study.fingerprint
    pd.testing.assert_frame_equal(predict_study(again, load_study_models(folder, again)), predictions)
    shared, record = share_study(study, tmp_path / "shared", owner="abc123", owner_label="Ann", models=models,
                                 now=datetime(2026, 12, 6, tzinfo=UTC))
    assert record.name == study.name and shared_studies(tmp_path / "shared")["owner_label"].tolist() == ["Ann"]
    opened = load_study(shared)
    assert opened.spec.outcome == study.spec.outcome
    assert load_study_models(shared, opened).outcome_kind == "survival"


def _baseline_doubled(values):
    baseline = values["models"]["clinical"]["model"]["baseline"]
    baseline["hazard"] = [2 * v for v in baseline["hazard"]]  # the hazard increments at the event times


def _coefficient_edited(values):
    coef = values["models"]["fused"]["model"]["coef"]
    first = next(iter(coef)) if isinstance(coef, dict) else 0
    coef[first] = coef[first] + 0.5


def _binary_kind(values):
    values.pop("outcome_kind")  # read as a binary study's models


def _horizons_changed(values):
    for entry in values["models"].values():
        entry["model"]["horizons"] = [12.0, 24.0]


@pytest.mark.parametrize("edit, message", [
    (_baseline_doubled, "no longer reproduce"),
    (_coefficient_edited, "no longer reproduce"),
    (_binary_kind, "binary outcome"),
    (_horizons_changed, "horizons"),
])
def test_edited_saved_cox_models_are_refused(saved, tmp_path, edit, message):
    folder = _copy(saved, tmp_path)
    _edit_models(folder, edit)
    with pytest.raises(RadNomoError, match=message):
        load_study_models(folder, load_study(folder))
    with pytest.raises(RadNomoError, match=message):  # an import refuses them too, leaving nothing behind
        import_study(export_study(folder, tmp_path / "edited.zip"), tmp_path / "studies")
    assert not any((tmp_path / "studies").iterdir())


def test_a_binary_learners_model_in_a_survival_studys_models_is_refused(fitted, saved, tmp_path):
    """A sound logistic model (of death as 0/1) put in place of the Cox clinical model: refused by its learner."""
    from core.stats.learners import Predictors, get_learner

    study, _, _ = fitted
    logistic = get_learner("logistic", "clinical").fit(study.train, "death", Predictors(("tumour_thickness_mm",
                                                                                         "cea_ng_ml")), name="clinical")
    folder = _copy(saved, tmp_path)
    _edit_models(folder, lambda values: values["models"].update(
        clinical={"role": "clinical", "learner": "logistic", "model": logistic.to_dict()}))
    with pytest.raises(RadNomoError, match="'logistic' learner, which does not fit a survival outcome"):
        load_study_models(folder, load_study(folder))


def _time_is_the_event(outcome):
    outcome["time_column"] = outcome["event_column"]


def _negative_horizon(outcome):
    outcome["horizons"] = [-12.0, 36.0]


def _horizon_past_follow_up(outcome):
    outcome["horizons"] = [12.0, 36.0, 6000.0]


def _unknown_time_column(outcome):
    outcome["time_column"] = "no_such_column"


def _no_horizons(outcome):
    outcome["horizons"] = []


@pytest.mark.parametrize("edit, message", [
    (_time_is_the_event, "time"),
    (_negative_horizon, "horizon"),
    (_horizon_past_follow_up, "follow-up|horizon"),
    (_unknown_time_column, "no_such_column"),
    (_no_horizons, "horizon"),
])
def test_an_edited_saved_survival_outcome_is_refused(saved, tmp_path, edit, message):
    folder = _copy(saved, tmp_path)
    _edit_outcome(folder, edit)
    with pytest.raises(RadNomoError, match=message):
        load_study(folder)


def test_an_edited_follow_up_time_is_refused_even_with_its_hash_recomputed(saved, tmp_path):
    folder = _copy(saved, tmp_path)
    name = json.loads((folder / STUDY_FILE).read_text())["cohort"]
    cohort = pd.read_parquet(folder / name)
    cohort.loc[cohort.index[0], "os_months"] = -3.0
    cohort.to_parquet(folder / name)
    with pytest.raises(RadNomoError, match="changed after saving"):
        load_study(folder)
    _rehash(folder, name)
    with pytest.raises(RadNomoError, match="os_months"):
        load_study(folder)


def test_models_of_a_binary_study_are_not_taken_for_a_survival_study(fitted, saved):
    """StudyModels.from_dict of the saved form keeps the kind; a survival study's models say so in their JSON."""
    _, models, _ = fitted
    values = json.loads(json.dumps(models.to_dict()))
    assert values["outcome_kind"] == "survival"
    again = StudyModels.from_dict(values)
    assert again.outcome_kind == "survival"
    np.testing.assert_array_equal(again["clinical"].baseline.to_numpy(), models["clinical"].baseline.to_numpy())
