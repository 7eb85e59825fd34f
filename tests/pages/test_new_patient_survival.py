"""AppTest of the New patient page on a time-to-event study (issue 27): a bundled sample CT scored by the survival
sample study's frozen Cox models shows the survival at each horizon with its 95 % CI (the pipeline's own numbers for
a patient of the study) and the patient's predicted curve against the training cohort's Kaplan-Meier curve; a study
whose features were imported is scored by its clinical model."""

from __future__ import annotations

import json

import pytest

from core.vocabulary import survival_column
from tests.pages.apptest_helpers import calculator_data, open_study_page

pytestmark = pytest.mark.slow  # the page fits the survival sample study and extracts a CT's features


def _chart(at, key: str) -> dict:
    """The plotly figure (as JSON) of the chart whose widget key is ``key``."""
    for element in at.get("plotly_chart"):
        if element.proto.id.endswith(f"-{key}"):
            return json.loads(element.proto.spec)
    raise AssertionError(f"no plotly chart '{key}' on the page")


def test_a_sample_ct_gets_its_survival_at_each_horizon_and_its_curve(workspace):
    from core.workflows.results import StudyResults
    from core.workflows.sample import sample_survival_study

    at = open_study_page(sample_survival_study(), "pages/new_patient.py")
    assert not at.error
    study = at.session_state["study"]
    outcome = study.spec.outcome
    patient = next(p for p in at.selectbox(key="np_sample_id").options if p in set(study.test_ids))
    at.selectbox(key="np_sample_id").set_value(patient).run()
    at.button(key="np_score").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    _, case_id, result, _ = at.session_state["np_result"]
    assert case_id == patient and result.model == "fused"
    predictions = StudyResults(study).predictions  # the pipeline's, computed again outside the app
    # The result's calculator starts at the scored values, the fused score fixed; at those values the engine's
    # calculator (what the browser reproduces, compared in tests/pages/test_browser_calculator.py) gives the
    # scored survival with its interval.
    import ui
    from core.workflows.nomograms import survival_calculation

    sent = calculator_data(at, "np_calc")
    assert sent["fixed"] == ["dl_radiomics_score"] and sent["model"]["outcome"]["kind"] == "survival"
    engine = survival_calculation(study, ui.results(study).nomogram("fused"), sent["inputs"]).patient.survival
    for (horizon, value, low, high), (_, calculated) in zip(
            result.survival[["horizon", "survival", "low", "high"]].itertuples(index=False), engine.iterrows(),
            strict=True):
        assert low < value < high
        assert (calculated["survival"], calculated["lower"], calculated["upper"]) == pytest.approx((value, low, high),
                                                                                                   rel=1e-9)
        # From the CT: the radiomics features are the pipeline's; the autoencoder's agree to ~1e-5 (float32).
        assert value == pytest.approx(predictions.loc[patient, survival_column("fused", horizon)], abs=1e-3)
    assert not any(m.label.startswith("Risk (") for m in at.metric)
    own = ", ".join(f"{predictions.loc[patient, survival_column('fused', h)]:.1%} at {outcome.horizon_label(h)}"
                    for h in outcome.horizons)
    assert any(f"the pipeline's own predicted survival was {own}" in c.value for c in at.caption)
    figure = _chart(at, "np_survival_curve")
    names = " ".join(str(trace.get("name")) for trace in figure["data"])
    assert "this patient" in names and "training cohort (Kaplan-Meier)" in names
    assert any("log relative hazard" in m.value for m in at.markdown)  # the scores' scale, not log-odds


def test_a_study_of_imported_features_is_scored_by_its_clinical_model(workspace):
    import pandas as pd

    from core.stats.cohort import CohortSpec
    from core.stats.outcomes import SurvivalOutcome
    from core.workflows.sample import SAMPLE_CLINICAL, SAMPLE_RADIOMICS, SAMPLE_SURVIVAL
    from core.workflows.study import FeatureFamily, make_study

    clinical = pd.read_csv(SAMPLE_CLINICAL).merge(pd.read_csv(SAMPLE_SURVIVAL), on="patient_id").iloc[:400]
    clinical = clinical[["patient_id", "os_months", "death", "age", "sex", "ct_stage", "cn_stage", "cea_ng_ml"]]
    outcome = SurvivalOutcome(time_column="os_months", event_column="death", time_unit="months",
                              horizons=(12.0, 36.0, 60.0), labels=("alive", "death"))
    spec = CohortSpec(id_column="patient_id", outcome=outcome, continuous=("age", "cea_ng_ml"),
                      categorical=("sex", "ct_stage", "cn_stage"))
    features = pd.read_parquet(SAMPLE_RADIOMICS).loc[clinical["patient_id"]].iloc[:, ::4]
    study = make_study("survival 400", clinical, spec).with_family(
        FeatureFamily(name="radiomics", label="Radiomics", table=features, kind="imported", source="test"))

    at = open_study_page(study, "pages/new_patient.py")
    assert not at.error
    assert any("the clinical model gives the risk" in w.value for w in at.warning)
    at.button(key="np_score").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    _, _, result, _ = at.session_state["np_result"]
    assert result.model == "clinical" and result.scores == {}
    sent = calculator_data(at, "np_calc")
    assert sent["fixed"] == [] and sent["model"]["words"]["horizon_labels"] == ["12 months", "36 months", "60 months"]
    first = _chart(at, "np_survival_curve")
    # Another clinical value, scored again: other numbers.
    stage = next(k for k in ("np_in_ct_stage", "np_in_cn_stage") if k in [s.key for s in at.selectbox])
    box = at.selectbox(key=stage)
    box.set_value(next(o for o in box.options if o != box.value)).run()
    at.button(key="np_score").click().run()
    assert not at.exception and not at.error
    again = calculator_data(at, "np_calc")
    assert again["inputs"] != sent["inputs"] and again["revision"] == sent["revision"] + 1  # the browser takes them
    assert _chart(at, "np_survival_curve") != first
