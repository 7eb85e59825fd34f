"""A new patient of a time-to-event study (issue 27): core.workflows.newpatient.score_patient reads the frozen Cox
models' survival at the outcome's horizons with their 95 % confidence intervals and the whole predicted curve, equal
to what the pipeline (StudyModels.predict) gives a cohort patient; the training cohort's curve to set it against; the
manifest's survival columns; the refusals a user can cause.

The study: the sample's first 400 patients with overall survival (months) and every 4th radiomics feature, as an
imported table (the features are given, not computed from a CT); the last test scores a bundled CT of the survival
sample study through score_manifest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.cohort import CohortSpec
from core.stats.outcomes import SurvivalOutcome
from core.stats.survival.kaplan_meier import kaplan_meier
from core.vocabulary import horizon_column, survival_column
from core.workflows.newpatient import (NewPatientResult, SurvivalPatientResult, needed_features,
                                       patient_outside_range, score_patient, training_percentile,
                                       training_survival_curve)

pytestmark = pytest.mark.slow  # the module's study is fitted once (its LASSO-Cox: 10-40 s on a loaded machine)

HORIZONS = (12.0, 36.0, 60.0)


@pytest.fixture(scope="module")
def fitted():
    """(study, models, predictions) of the 400-patient survival study."""
    from core.workflows.fit import fit_study, predict_study
    from core.workflows.sample import SAMPLE_CLINICAL, SAMPLE_RADIOMICS, SAMPLE_SURVIVAL
    from core.workflows.study import FeatureFamily, make_study

    clinical = pd.read_csv(SAMPLE_CLINICAL).merge(pd.read_csv(SAMPLE_SURVIVAL), on="patient_id").iloc[:400]
    clinical = clinical[["patient_id", "os_months", "death", "age", "sex", "ct_stage", "cn_stage", "cea_ng_ml"]]
    outcome = SurvivalOutcome(time_column="os_months", event_column="death", time_unit="months", horizons=HORIZONS,
                              labels=("alive", "death"))
    spec = CohortSpec(id_column="patient_id", outcome=outcome, continuous=("age", "cea_ng_ml"),
                      categorical=("sex", "ct_stage", "cn_stage"))
    features = pd.read_parquet(SAMPLE_RADIOMICS).loc[clinical["patient_id"]].iloc[:, ::4]
    study = make_study("survival 400", clinical, spec).with_family(
        FeatureFamily(name="radiomics", label="Radiomics", table=features, kind="imported", source="test"))
    models = fit_study(study)
    assert models.outcome_kind == "survival" and {"clinical", "radiomics", "fused"} <= set(models.model_names)
    return study, models, predict_study(study, models)


def _patient(study, models, index: int = 0) -> tuple[str, pd.Series, dict]:
    """A test patient: (ID, the features the scores use, the clinical values)."""
    case_id = study.split.test_ids[index]
    features = study.feature_tables()["radiomics"].loc[case_id, sorted(needed_features(models))]
    return case_id, features, study.cohort.loc[case_id].to_dict()


def test_a_new_patient_gets_the_pipelines_survival_with_the_cox_models_interval(fitted):
    study, models, predictions = fitted
    for index in range(3):
        case_id, features, clinical = _patient(study, models, index)
        result = score_patient(models, features, clinical)
        assert isinstance(result, SurvivalPatientResult) and result.model == "fused"
        own = predictions.loc[case_id]
        assert result.scores["radiomics"] == pytest.approx(own["radiomics_score"], abs=1e-9)
        assert result.linear_predictor == pytest.approx(own["fused"], abs=1e-9)
        assert list(result.survival["horizon"]) == list(HORIZONS)
        for horizon, value in zip(HORIZONS, result.survival["survival"], strict=True):
            assert value == pytest.approx(own[survival_column("fused", horizon)], abs=1e-9)
        # The interval is the Cox model's own (survfit's, log scale), around the estimate.
        row = study.cohort.loc[[case_id]].join(predictions[["radiomics_score"]])
        interval = models.model("fused").predict_survival(row, HORIZONS).iloc[0]
        for horizon, low, high in result.survival[["horizon", "low", "high"]].itertuples(index=False):
            assert low == pytest.approx(interval[horizon_column(horizon, "low")], abs=1e-12)
            assert high == pytest.approx(interval[horizon_column(horizon, "high")], abs=1e-12)
        assert (result.survival["low"] < result.survival["survival"]).all()
        assert (result.survival["survival"] < result.survival["high"]).all()
        assert result.interval_note is None
        assert result.risk == pytest.approx(1 - result.survival["survival"].iloc[0])


def test_the_patients_curve_is_the_whole_step_function_and_passes_through_the_horizons(fitted):
    study, models, _ = fitted
    _, features, clinical = _patient(study, models)
    result = score_patient(models, features, clinical)
    curve = result.curve
    model = models.model("fused")
    assert list(curve["time"]) == list(model.baseline["time"]) and curve["time"].max() == model.last_follow_up
    assert (np.diff(curve["survival"]) <= 1e-15).all() and (curve["survival"] > 0).all()
    assert ((curve["low"] <= curve["survival"]) & (curve["survival"] <= curve["high"])).all()
    # Read off the step function at each horizon (the last step at or before it): the horizon's survival.
    for horizon, value in zip(HORIZONS, result.survival["survival"], strict=True):
        step = curve[curve["time"] <= horizon].iloc[-1]
        assert step["survival"] == pytest.approx(value, abs=1e-12)


def test_a_higher_score_gives_a_higher_hazard_and_a_lower_curve(fitted):
    study, models, _ = fitted
    _, features, clinical = _patient(study, models)
    base = score_patient(models, features, clinical)
    feature = models.scores["radiomics"].coefs.abs().idxmax()
    shifted = features.copy()
    spread = study.feature_tables()["radiomics"].loc[study.train_ids, feature].std()
    shifted[feature] += np.sign(models.scores["radiomics"].coefs[feature]) * spread  # one training SD
    higher = score_patient(models, shifted, clinical)
    assert higher.scores["radiomics"] > base.scores["radiomics"]
    assert higher.linear_predictor > base.linear_predictor
    assert (higher.survival["survival"] < base.survival["survival"]).all()


def test_the_clinical_model_and_a_score_alone_read_the_same_way(fitted):
    study, models, predictions = fitted
    case_id, features, clinical = _patient(study, models, 1)
    clinical_only = score_patient(models, pd.Series(dtype=float), clinical, model="clinical")
    for horizon, value in zip(HORIZONS, clinical_only.survival["survival"], strict=True):
        assert value == pytest.approx(predictions.loc[case_id, survival_column("clinical", horizon)], abs=1e-9)
    # A score alone: through its Cox model of the outcome on the training cohort (StudyModels.score_model, the
    # nomogram's); the score refitted by Cox regression on its own linear predictor gives back its own survival.
    risk_model = models.score_model(study, predictions, "radiomics")
    alone = score_patient(models, features, {}, model="radiomics", risk_model=risk_model)
    assert alone.linear_predictor == pytest.approx(predictions.loc[case_id, "radiomics_score"], abs=1e-9)
    for horizon, value in zip(HORIZONS, alone.survival["survival"], strict=True):
        assert value == pytest.approx(predictions.loc[case_id, survival_column("radiomics", horizon)], abs=1e-4)
    assert (alone.survival["low"] < alone.survival["survival"]).all()
    with pytest.raises(RadNomoError, match="needs its Cox model"):
        score_patient(models, features, {}, model="radiomics")


def test_a_missing_clinical_value_or_an_unknown_level_is_refused(fitted):
    study, models, _ = fitted
    _, features, clinical = _patient(study, models)
    needed = next(v for v in models.model("fused").variables if v in clinical)  # a clinical predictor
    with pytest.raises(RadNomoError, match="needs a value"):
        score_patient(models, features, {k: v for k, v in clinical.items() if k != needed})
    categorical = next((v for v in models.model("fused").variables if v in study.spec.categorical), None)
    if categorical is not None:
        with pytest.raises(RadNomoError, match="level|could not predict"):
            score_patient(models, features, {**clinical, categorical: "no such level"})


def test_the_patient_is_set_against_the_training_cohort(fitted):
    study, models, predictions = fitted
    _, features, clinical = _patient(study, models)
    result = score_patient(models, features, clinical)
    train = predictions.loc[study.train_ids, "fused"]
    assert training_percentile(study, predictions, result) == pytest.approx(100 * (train < result.linear_predictor)
                                                                            .mean())
    curve = training_survival_curve(study)
    km = kaplan_meier(*study.spec.outcome.arrays(study.train))
    np.testing.assert_array_equal(curve["time"], km.time)
    np.testing.assert_array_equal(curve["survival"], km.survival)
    assert list(curve.columns) == ["time", "survival", "low", "high"]


def test_outside_the_training_range_uses_the_risk_by_the_first_horizon(fitted):
    study, models, _ = fitted
    _, features, clinical = _patient(study, models)
    result = score_patient(models, features, clinical)
    assert patient_outside_range(study, models, result) is None
    sure = pd.DataFrame({"horizon": HORIZONS, "survival": [0.0, 0.0, 0.0], "low": [0.0] * 3, "high": [0.0] * 3})
    extreme = SurvivalPatientResult(features=features, scores=result.scores, model="fused", linear_predictor=40.0,
                                    survival=sure, curve=result.curve)
    assert extreme.risk == 1.0
    assert "within 1e-06 of 0 or 1" in patient_outside_range(study, models, extreme)


def test_the_manifest_row_and_headline_of_a_survival_patient(fitted):
    study, models, _ = fitted
    _, features, clinical = _patient(study, models)
    result = score_patient(models, features, clinical)
    summary = result.summary()
    assert list(summary) == ["linear_predictor", *[horizon_column(h, bound) for h in HORIZONS
                                                   for bound in ("", "low", "high")]]
    assert summary[horizon_column(36.0)] == result.survival["survival"].iloc[1]
    assert result.headline().startswith("fused survival at 12: ") and "; at 60: " in result.headline()
    binary = NewPatientResult(features=features, scores={}, model="fused", probability=0.4, low=0.3, high=0.5)
    assert binary.summary() == {"probability": 0.4, "low": 0.3, "high": 0.5} and binary.risk == 0.4
    assert binary.headline() == "fused risk 0.400 (0.300-0.500)"


def test_a_binary_study_has_no_survival_curve(fitted):
    from core.workflows.study import make_study

    study, _, _ = fitted
    table = study.cohort.reset_index()[["patient_id", "death", "age"]]
    binary = make_study("binary", table, CohortSpec(id_column="patient_id", outcome_column="death",
                                                    continuous=("age",)))
    with pytest.raises(RadNomoError, match="no follow-up time"):
        training_survival_curve(binary)


def test_a_manifest_of_cts_gets_survival_columns_for_the_survival_sample():
    """The survival sample study (its features computable from the bundled CTs): one case of the manifest scored
    from its CT and mask, one row with the linear predictor and survival at each horizon with its CI."""
    from core.imaging.extraction.batch import read_manifest
    from core.workflows.newpatient import score_manifest
    from core.workflows.results import StudyResults
    from core.workflows.sample import SAMPLE_MANIFEST, sample_survival_study

    study = sample_survival_study()
    results = StudyResults(study)
    models, predictions = results.models, results.predictions
    manifest = read_manifest(SAMPLE_MANIFEST)
    manifest = manifest[manifest["Image"].map(lambda p: Path(p).is_file()) & manifest["ID"].isin(study.test_ids)]
    case = manifest.iloc[:1]
    scores = score_manifest(study, models, case, study.cohort)
    case_id = case["ID"].iloc[0]
    assert list(scores.columns) == ["ID", "radiomics_score", "dl_score", "dl_radiomics_score", "model",
                                    "linear_predictor", *[horizon_column(h, bound) for h in study.spec.outcome.horizons
                                                          for bound in ("", "low", "high")],
                                    "outside_training_range"]
    row = scores.iloc[0]
    assert row["ID"] == case_id and row["model"] == "fused" and row["outside_training_range"] == ""
    # From the CT: the autoencoder runs in float32 on one crop, so its latents agree with the pipeline's to ~1e-5.
    assert row["linear_predictor"] == pytest.approx(predictions.loc[case_id, "fused"], abs=1e-3)
    for horizon in study.spec.outcome.horizons:
        value = row[horizon_column(horizon)]
        assert value == pytest.approx(predictions.loc[case_id, survival_column("fused", horizon)], abs=1e-3)
        assert row[horizon_column(horizon, "low")] < value < row[horizon_column(horizon, "high")]
