"""AppTest of the New patient page: a bundled sample CT scored by the open study's frozen models."""

from __future__ import annotations

import pytest

from tests.pages.apptest_helpers import calculator_data, open_page


@pytest.mark.slow
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
    # The result's calculator starts at the scored values, the fused score fixed (computed from the CT), and the
    # model it evaluates gives the scored risk (the browser's numbers are compared with it in the browser tests).
    import pandas as pd

    import ui

    sent = calculator_data(at, "np_calc")
    assert sent["fixed"] == ["dl_radiomics_score"] and sent["persist"] is False
    assert sent["inputs"]["dl_radiomics_score"] == result.scores["dl_radiomics"]
    nomogram = ui.results(study).nomogram("fused")  # the app's own, shared in this process
    assert [v["name"] for v in sent["model"]["variables"]] == nomogram.variables
    shown = nomogram.model.predict_interval(pd.DataFrame([sent["inputs"]])).iloc[0]
    assert shown["probability"] == pytest.approx(result.probability, rel=1e-12)
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


def _sample_case(at) -> tuple[bytes, bytes]:
    from core.imaging.extraction.batch import read_manifest
    from core.workflows.sample import SAMPLE_MANIFEST

    manifest = read_manifest(SAMPLE_MANIFEST).set_index("ID")
    row = manifest.loc[at.selectbox(key="np_sample_id").value]
    return open(row["Image"], "rb").read(), open(row["Mask"], "rb").read()


@pytest.mark.slow
def test_a_ct_and_mask_swapped_between_their_boxes_are_refused_before_scoring(workspace):
    at = open_page("pages/new_patient.py", timeout=300)
    assert at.get("plotly_chart") and any("ROI" in c.value and "voxels" in c.value for c in at.caption)  # preview
    ct, mask = _sample_case(at)
    at.radio(key="np_source").set_value("NIfTI / NRRD files").run()
    at.file_uploader(key="np_image_upload").set_value(("mask.nii.gz", mask, "application/gzip")).run()
    at.file_uploader(key="np_mask_upload").set_value(("ct.nii.gz", ct, "application/gzip")).run()
    assert not at.exception
    assert any("seem swapped" in e.value for e in at.error), [e.value for e in at.error]
    assert at.button(key="np_score").disabled and "np_result" not in at.session_state
    # The clinical values are still drawn (and kept) under the refused upload.
    assert at.number_input(key="np_in_age").value is not None
    # In the right boxes: checked, previewed, scored.
    at.file_uploader(key="np_image_upload").set_value(("ct.nii.gz", ct, "application/gzip")).run()
    at.file_uploader(key="np_mask_upload").set_value(("mask.nii.gz", mask, "application/gzip")).run()
    assert not at.error and not at.button(key="np_score").disabled
    assert any("largest ROI area" in str(chart.proto.spec) for chart in at.get("plotly_chart"))
    at.button(key="np_score").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.session_state["np_result"][2].model == "fused"


def test_clinical_values_survive_a_change_of_source_and_out_of_range_values_are_flagged(workspace):
    from tests.archives import make_zip

    at = open_page("pages/new_patient.py", timeout=300)
    study = at.session_state["study"]
    typed = {"np_in_age": 61.0, "np_in_cea_ng_ml": 42.0}
    for key, value in typed.items():
        at.number_input(key=key).set_value(value).run()
    at.selectbox(key="np_in_sex").set_value("male").run()
    oldest = float(study.train["age"].max())
    assert not any("outside the training range" in w.value for w in at.warning)
    at.radio(key="np_source").set_value("Zipped DICOM (CT series + RTSTRUCT or SEG)").run()
    # A zip the page refuses (no CT series in it) leaves every clinical value as it was typed.
    at.file_uploader(key="np_dicom_upload").set_value(("dicom.zip", make_zip({"readme.txt": b"no images"}),
                                                       "application/zip")).run()
    assert not at.exception and any("image series" in e.value for e in at.error)
    for key, value in typed.items():
        assert at.number_input(key=key).value == value, key
    assert at.selectbox(key="np_in_sex").value == "male"
    at.radio(key="np_source").set_value("NIfTI / NRRD files").run()
    assert at.number_input(key="np_in_cea_ng_ml").value == 42.0 and at.selectbox(key="np_in_sex").value == "male"
    # A value outside the training range is flagged before anything is scored.
    at.number_input(key="np_in_age").set_value(oldest + 30).run()
    flags = [w.value for w in at.warning if "outside the training range" in w.value]
    assert len(flags) == 1 and f"({study.train['age'].min():g} to {oldest:g})" in flags[0]
    assert "np_result" not in at.session_state
