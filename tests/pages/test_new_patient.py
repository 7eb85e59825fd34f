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
    case_id, result, _ = at.session_state["np_result"]
    assert case_id == patient and result.model == "fused"
    study = at.session_state["study"]
    assert at.metric[0].value == f"{result.probability:.1%}"
    assert any(f"{result.probability:.1%}" in c.value for c in at.caption)  # the pipeline's own prediction
    thickness = study.cohort.set_index("patient_id").loc[patient, "tumour_thickness_mm"]
    assert at.number_input(key="np_in_tumour_thickness_mm").value == thickness  # filled from the sample patient


def test_upload_without_files_cannot_be_scored(workspace):
    at = open_page("pages/new_patient.py", timeout=300)
    at.radio(key="np_source").set_value("NIfTI / NRRD files").run()
    assert not at.exception
    assert at.button(key="np_score").disabled
