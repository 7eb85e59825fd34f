"""AppTest of the Evaluation, Nomogram and Synchronous-vs-metachronous pages on the sample study."""

from __future__ import annotations

import pytest

from tests.pages.apptest_helpers import dataframe_with, open_page


@pytest.fixture(scope="module")
def evaluation():
    return open_page("pages/evaluation.py", timeout=300)


def test_evaluation_shows_every_model_and_links_the_threshold_explorer(evaluation):
    at = evaluation
    assert not at.error
    table2 = dataframe_with(at, "cohort", "AUC", "cut-off")
    assert len(table2) == 10 and set(table2["cohort"]) == {"train", "test"}
    assert {"AUC", "ACC", "SENS", "SPEC", "PPV", "NPV"} <= set(table2.columns)
    before = dataframe_with(at, "estimate", "low", "n")
    slider = at.slider(key="ev_cutoff_fused")
    slider.set_value(0.9).run()
    assert not at.exception
    after = dataframe_with(at, "estimate", "low", "n")
    assert after.loc["SENS", "estimate"] < before.loc["SENS", "estimate"]  # a stricter cut-off
    assert after.loc["SPEC", "estimate"] >= before.loc["SPEC", "estimate"]
    delong = dataframe_with(at, "model_a", "model_b", "difference")
    assert len(delong) == 10  # 5 models, every pair


def test_evaluation_cutoff_rules_and_holm(evaluation):
    at = evaluation
    at.radio(key="ev_rule").set_value("fixed").run()
    at.number_input(key="ev_fixed").set_value(0.4).run()
    assert not at.exception
    assert (dataframe_with(at, "cohort", "AUC", "cut-off")["cut-off"] == 0.4).all()
    at.toggle(key="ev_holm").set_value(True).run()
    assert "p_holm" in dataframe_with(at, "model_a", "model_b").columns
    at.radio(key="ev_ci").set_value("wilson").run()
    assert not at.exception


def test_nomogram_input_changes_points_and_probability():
    at = open_page("pages/nomogram.py", timeout=300)
    assert not at.error
    total, risk = at.metric[0].value, at.metric[1].value
    at.number_input(key="nom_in_cea_ng_ml").set_value(60.0).run()
    assert not at.exception
    assert at.metric[0].value != total and at.metric[1].value != risk
    assert float(at.metric[1].value.rstrip("%")) > float(risk.rstrip("%"))  # CEA raises the risk
    patient = at.selectbox(key="nom_patient").options[1]
    at.selectbox(key="nom_patient").set_value(patient).run()
    assert not at.exception
    study = at.session_state["study"]
    assert at.number_input(key="nom_in_tumour_thickness_mm").value == pytest.approx(
        float(study.cohort.set_index("patient_id").loc[patient, "tumour_thickness_mm"]))
    at.radio(key="nom_model").set_value("clinical").run()
    assert not at.exception and "nom_in_dl_radiomics_score" not in [n.key for n in at.number_input]


def test_lm_type_page_reports_table3():
    at = open_page("pages/lm_type.py", timeout=300)
    assert not at.error
    table3 = dataframe_with(at, "score", "AUC")
    assert len(table3) == 3 and "AUC" in table3.columns
    assert "192 synchronous" in at.markdown[0].value or any("192 synchronous" in m.value for m in at.markdown)
    at.radio(key="lmt_patients").set_value("test").run()
    assert not at.exception
