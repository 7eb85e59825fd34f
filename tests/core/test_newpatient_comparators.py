"""A new patient scored by a study with comparator learners (issue 31): each comparator's predicted risk from the
patient's features as the models read them (harmonised with the training ComBat, as the scores get them), in the
result and in the manifest CLI's rows, and the patient's SHAP waterfall of any score or comparator."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.figures.waterfall import BASE_LABEL, OUTPUT_LABEL, shap_waterfall_figure, waterfall_bars
from core.stats.cohort import CohortSpec, SplitConfig, split_cohort
from core.stats.explanations import Explanation
from core.stats.learners import learners_for
from core.vocabulary import COMPARATOR_ROLE
from core.workflows.fit import fit_study, predict_study
from core.workflows.newpatient import (explain_patient, explainable_models, needed_features, patient_model_features,
                                       score_patient)
from core.workflows.study import ModelSettings

N_PATIENTS, N_FEATURES = 300, 150
# The comparators of the fast tests: a linear and a tree learner, both quick to tune and to explain (the random
# forest's tuning takes ~30 s here, and shap's exact explainer of the SVM compiles for ~25 s on its first call).
QUICK = ("elastic_net", "xgboost")


def ct_study(sample_study, comparators: tuple[str, ...] | None = None, **settings):
    """The sample study's first 300 patients and the first 150 radiomics features, the family's extraction settings
    kept (a bundled CT's features are recomputed exactly), the clinical model of tumour thickness and CEA, the
    ``comparators`` (default: every comparator learner of the binary outcome) on the features that reached the
    LASSO; ``settings`` applied last."""
    ids = sample_study.cohort.index[:N_PATIENTS]
    radiomics = sample_study.family("radiomics")
    family = dataclasses.replace(radiomics, table=radiomics.table.loc[ids].iloc[:, :N_FEATURES], reader2=None)
    cohort = sample_study.cohort.loc[ids]
    model_settings = ModelSettings(clinical_continuous=("tumour_thickness_mm", "cea_ng_ml"), clinical_categorical=(),
                                   comparators=tuple(learners_for(COMPARATOR_ROLE, "binary")) if comparators is None
                                   else comparators, comparator_features="screened")
    study = sample_study.replace(name="CT sample with comparators", cohort=cohort, families=(family,), combined=(),
                                 settings=model_settings, is_sample=False,
                                 split=split_cohort(cohort.reset_index(), sample_study.spec, SplitConfig()))
    return study.with_settings(**settings) if settings else study


@pytest.fixture(scope="module")
def harmonised(sample_study):
    """(study, models, predictions) of the CT study with the quick comparators, harmonised by scanner (ComBat)."""
    study = ct_study(sample_study, QUICK, harmonise_by="scanner")
    models = fit_study(study)
    return study, models, predict_study(study, models)


@pytest.fixture(scope="module")
def every(sample_study):
    """(study, models, predictions) of the CT study with every comparator learner (not harmonised)."""
    study = ct_study(sample_study)
    models = fit_study(study)
    return study, models, predict_study(study, models)


def _patient(study, models, patient=None):
    patient = patient or study.test_ids[0]
    features = study.feature_tables()["radiomics"].loc[patient, sorted(needed_features(models))].rename(patient)
    return patient, features, study.cohort.loc[patient].to_dict()


def test_a_new_patients_comparator_risks_equal_the_pipelines_on_the_same_features(harmonised):
    study, models, predictions = harmonised
    assert [study.comparator_models[n][1] for n in models.comparators] == list(QUICK)
    assert needed_features(models) >= {f for m in models.comparators.values() for f in m.variables}
    for patient in study.test_ids[:3]:
        _, features, clinical = _patient(study, models, patient)
        result = score_patient(models, features, clinical)
        assert list(result.comparators) == list(models.comparators)
        for name, risk in result.comparators.items():
            assert 0 < risk < 1
            assert risk == pytest.approx(predictions.loc[patient, name], abs=1e-12), name
        assert result.comparator_risks() == result.comparators
        assert result.probability == pytest.approx(predictions.loc[patient, "fused"], abs=1e-9)
        # The manifest's row: the risk with its CI, then each comparator's risk under its model name.
        assert result.summary() == {"probability": result.probability, "low": result.low, "high": result.high,
                                    **result.comparators}
    # The comparators read the harmonised features, not the raw ones: fed the raw values, a comparator's risk moves.
    _, features, clinical = _patient(study, models)
    result = score_patient(models, features, clinical)
    raw = features.to_frame().T
    assert not np.allclose([float(m.predict_risk(raw).iloc[0]) for m in models.comparators.values()],
                           list(result.comparators.values()), atol=1e-9, rtol=0)
    assert not np.allclose(result.inputs[features.index].to_numpy(float), features.to_numpy(float))


def test_a_patient_scored_without_features_has_no_comparator_and_nothing_to_explain(harmonised):
    study, models, _ = harmonised
    _, features, clinical = _patient(study, models)
    clinical_only = score_patient(models, pd.Series(dtype=float), clinical, model="clinical")
    assert clinical_only.comparators == {} and explainable_models(models, clinical_only) == []
    name = next(iter(models.comparators))
    with pytest.raises(RadNomoError, match="scored without feature"):
        patient_model_features(models, clinical_only, name)
    # A comparator whose features are not all given is left out; the others are kept.
    some = features.drop(models[name].variables[0])
    partial = score_patient(models, some, clinical, model="clinical")
    assert name not in partial.comparators and name not in explainable_models(models, partial)


def _waterfalls_add_up(study, models, result, patient) -> None:
    """Each explained model's SHAP of the patient adds up to the model's own output for it (its comparator risk or
    score in the result), and so do the waterfall's bars and the figure's trace."""
    names = explainable_models(models, result)
    assert names == [n for n in models.model_names if n in {*models.scores, *models.comparators}]
    for name in names:
        explanation = explain_patient(study, models, result, name)
        assert list(explanation.values.index) == [patient]
        # The model's own output for the patient, on the explanation's scale (scores: log-odds).
        risk = result.comparators[name] if name in result.comparators else 1 / (1 + np.exp(-result.scores[name]))
        output = risk if explanation.output == "probability" else np.log(risk / (1 - risk))
        total = float(explanation.total().iloc[0])
        assert total == pytest.approx(output, abs=1e-6), name
        shown = min(3, explanation.values.shape[1])
        bars = waterfall_bars(explanation, patient, max_features=3)
        assert bars[0] == ("absolute", BASE_LABEL, explanation.base_value)
        assert bars[-1][:2] == ("total", OUTPUT_LABEL) and bars[-1][2] == pytest.approx(total, abs=1e-12)
        # The bars between add up: the base value and every SHAP value (the shown ones and "other N") = the output.
        assert bars[0][2] + sum(v for _, _, v in bars[1:-1]) == pytest.approx(output, abs=1e-6)
        assert len(bars) == 2 + shown + (explanation.values.shape[1] > 3)
        figure = shap_waterfall_figure(explanation, patient, {name: study.model_label(name)}, max_features=3)
        trace = figure.data[0]
        assert trace.type == "waterfall" and trace.orientation == "h"
        assert trace.base + sum(trace.x[:-1]) == pytest.approx(output, abs=1e-6)
        assert trace.base + trace.x[-1] == pytest.approx(output, abs=1e-6)
        assert figure.layout.xaxis.title.text.startswith("model output") and explanation.output in \
            figure.layout.xaxis.title.text
        assert study.model_label(name) in figure.layout.title.text


def test_the_patients_waterfall_adds_up_to_each_models_output(harmonised):
    study, models, _ = harmonised
    patient, features, clinical = _patient(study, models)
    _waterfalls_add_up(study, models, score_patient(models, features, clinical), patient)


def _explanation() -> Explanation:
    """Two patients, five features, SHAP values chosen by hand (base value 0.5)."""
    values = pd.DataFrame([[0.30, -0.05, 0.01, -0.20, 0.02], [1.0, 1.0, 1.0, 1.0, 1.0]], index=["p1", "p2"],
                          columns=["a", "b", "c", "d", "e"])
    data = pd.DataFrame([[1.5, 2500.0, 0.000123, -3.0, 7.0], [0.0] * 5], index=values.index, columns=values.columns)
    return Explanation(model="m", values=values, data=data, base_value=0.5, output="log-odds", method="by hand")


def test_the_waterfall_bars_against_known_answers():
    explanation = _explanation()
    bars = waterfall_bars(explanation, "p1", {"a": "Feature A"}, max_features=3)
    assert bars == [("absolute", BASE_LABEL, 0.5),
                    ("relative", "other 2 features", pytest.approx(0.03)),   # c + e, the two smallest |SHAP|
                    ("relative", "b = 2,500", -0.05),
                    ("relative", "d = -3", -0.20),
                    ("relative", "Feature A = 1.5", 0.30),                    # the largest |SHAP| on top
                    ("total", OUTPUT_LABEL, pytest.approx(0.58))]
    every = waterfall_bars(explanation, "p1")
    assert len(every) == 7 and not any("other" in label for _, label, _ in every)
    assert ("relative", "c = 0.000123", 0.01) in every
    assert waterfall_bars(explanation, "p1", max_features=4)[1][1] == "other 1 feature"
    figure = shap_waterfall_figure(explanation, "p1", max_features=3)
    trace = figure.data[0]
    assert list(trace.measure) == ["absolute", "relative", "relative", "relative", "relative", "total"]
    assert trace.base == 0.5 and trace.x[0] == 0 and trace.x[-1] == pytest.approx(0.08)
    assert list(trace.text) == ["0.500", "+0.030", "-0.050", "-0.200", "+0.300", "0.580"]
    assert figure.layout.xaxis.title.text == "model output (log-odds of the event)"
    lowest, highest = figure.layout.xaxis.range
    assert lowest < 0.5 - 0.25 and highest > 0.5 + 0.08  # every step of the walk is in view
    with pytest.raises(RadNomoError, match="no patient 'p9'"):
        waterfall_bars(explanation, "p9")
    with pytest.raises(RadNomoError, match="at least one feature"):
        waterfall_bars(explanation, "p1", max_features=0)


@pytest.mark.slow
def test_every_comparator_learners_risk_and_waterfall(every):
    """Every comparator learner (the random forest's explanation is on the probability scale, the SVM's by shap's
    exact explainer): the new patient's risks equal the pipeline's and each waterfall adds up."""
    study, models, predictions = every
    assert [study.comparator_models[n][1] for n in models.comparators] == list(learners_for(COMPARATOR_ROLE,
                                                                                             "binary"))
    patient, features, clinical = _patient(study, models)
    result = score_patient(models, features, clinical)
    for name, risk in result.comparators.items():
        assert risk == pytest.approx(predictions.loc[patient, name], abs=1e-12), name
    _waterfalls_add_up(study, models, result, patient)


@pytest.mark.slow
def test_the_manifest_cli_writes_each_comparators_risk(every, tmp_path):
    """A saved study with comparators scores two bundled CTs from the command line: each row carries every
    comparator's risk under its model name, equal to the pipeline's on the cohort's features (radiomics features
    recomputed from the CT are bit-identical)."""
    from core.cli.newpatient import main
    from core.imaging.extraction.batch import read_manifest
    from core.workflows.persistence import save_study
    from core.workflows.sample import SAMPLE_MANIFEST

    study, models, predictions = every
    manifest = read_manifest(SAMPLE_MANIFEST)
    manifest = manifest[manifest["Image"].map(lambda p: Path(p).is_file()) & manifest["ID"].isin(study.test_ids)]
    cases = manifest.iloc[:2]
    assert len(cases) == 2
    cases.to_csv(tmp_path / "cases.csv", index=False)  # absolute paths: read as they are
    id_column = study.spec.id_column
    study.cohort.loc[cases["ID"]].reset_index().rename(columns={"index": id_column}).to_csv(
        tmp_path / "clinical.csv", index=False)
    folder = save_study(study, tmp_path / "study", models)
    assert main(["--study", str(folder), "--manifest", str(tmp_path / "cases.csv"), "--clinical",
                 str(tmp_path / "clinical.csv"), "--out", str(tmp_path / "scores.csv")]) == 0
    scores = pd.read_csv(tmp_path / "scores.csv", dtype={"ID": str}).set_index("ID")
    assert set(models.comparators) <= set(scores.columns)
    for name in models.comparators:
        np.testing.assert_allclose(scores[name], predictions.loc[scores.index, name], atol=1e-9, rtol=0)
    np.testing.assert_allclose(scores["probability"], predictions.loc[scores.index, "fused"], atol=1e-9)


def test_a_time_to_event_studys_comparator_columns_equal_the_pipelines():
    """The survival sample's first 400 patients, every 4th radiomics feature, the boosted-Cox comparator: a new
    patient's comparator columns (linear predictor, survival at each horizon) equal StudyModels.predict's, its risk
    by the first horizon is 1 - that survival, and its waterfall ends at its linear predictor; the Cox score is
    explained too (exact linear SHAP of its log relative hazard)."""
    from core.stats.outcomes import SurvivalOutcome
    from core.vocabulary import survival_column
    from core.workflows.sample import SAMPLE_CLINICAL, SAMPLE_RADIOMICS, SAMPLE_SURVIVAL
    from core.workflows.study import FeatureFamily, make_study

    horizons = (12.0, 36.0)
    clinical = pd.read_csv(SAMPLE_CLINICAL).merge(pd.read_csv(SAMPLE_SURVIVAL), on="patient_id").iloc[:400]
    clinical = clinical[["patient_id", "os_months", "death", "age", "sex", "ct_stage", "cn_stage", "cea_ng_ml"]]
    outcome = SurvivalOutcome(time_column="os_months", event_column="death", time_unit="months", horizons=horizons,
                              labels=("alive", "death"))
    spec = CohortSpec(id_column="patient_id", outcome=outcome, continuous=("age", "cea_ng_ml"),
                      categorical=("sex", "ct_stage", "cn_stage"))
    features = pd.read_parquet(SAMPLE_RADIOMICS).loc[clinical["patient_id"]].iloc[:, ::4]
    study = make_study("survival comparators", clinical, spec).with_family(
        FeatureFamily(name="radiomics", label="Radiomics", table=features, kind="imported", source="test"))
    study = study.with_settings(comparators=("boosted_cox",), comparator_features="screened")
    models = fit_study(study)
    predictions = predict_study(study, models)
    name = "radiomics_boosted_cox"
    assert models.outcome_kind == "survival" and list(models.comparators) == [name]
    patient = study.test_ids[0]
    values = study.feature_tables()["radiomics"].loc[patient, sorted(needed_features(models))].rename(patient)
    result = score_patient(models, values, study.cohort.loc[patient].to_dict())
    columns = [name, *(survival_column(name, h) for h in horizons)]
    assert list(result.comparators) == columns
    for column in columns:
        assert result.comparators[column] == pytest.approx(predictions.loc[patient, column], abs=1e-12), column
    assert result.comparator_risks() == {name: pytest.approx(1 - predictions.loc[patient, columns[1]], abs=1e-12)}
    assert list(result.summary())[-len(columns):] == columns
    assert explainable_models(models, result) == [*models.scores, name]
    explanation = explain_patient(study, models, result, name)
    assert explanation.output == "log relative hazard"
    assert float(explanation.total().iloc[0]) == pytest.approx(result.comparators[name], abs=1e-6)
    figure = shap_waterfall_figure(explanation, patient)
    assert figure.layout.xaxis.title.text == "model output (log relative hazard)"
