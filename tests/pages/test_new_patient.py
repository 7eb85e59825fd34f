"""AppTest of the New patient page: a bundled sample CT scored by the open study's frozen models."""

from __future__ import annotations

from tests.pages.apptest_helpers import open_page


def test_sample_ct_scores_like_the_pipeline(workspace):
    at = open_page("pages/new_patient.py", timeout=300)
    assert not at.error
    patient = at.selectbox(key="np_sample_id").options[0]
    at.selectbox(key="np_sample_id").set_value(patient).run()
    at.button(key="np_score").click().run()
    assert not at.exception and not at.error
    _, case_id, result, _ = at.session_state["np_result"]
    assert case_id == patient and result.model == "fused"
    study = at.session_state["study"]
    assert at.metric[0].value == f"{result.probability:.1%}"
    assert any(f"{result.probability:.1%}" in c.value for c in at.caption)  # the pipeline's own prediction
    thickness = study.cohort.loc[patient, "tumour_thickness_mm"]
    assert at.number_input(key="np_in_tumour_thickness_mm").value == thickness  # filled from the sample patient
    # Leave the page and come back: the values typed in (and the result) are still there, not training medians.
    at.number_input(key="np_in_cea_ng_ml").set_value(42.0).run()
    at.switch_page("pages/models.py").run()
    at.switch_page("pages/new_patient.py").run()
    assert not at.exception
    assert at.number_input(key="np_in_cea_ng_ml").value == 42.0
    assert at.number_input(key="np_in_tumour_thickness_mm").value == thickness
    assert any("differ from those this result was scored with" in i.value for i in at.info)


def test_upload_without_files_cannot_be_scored(workspace):
    at = open_page("pages/new_patient.py", timeout=300)
    at.radio(key="np_source").set_value("NIfTI / NRRD files").run()
    assert not at.exception
    assert at.button(key="np_score").disabled
