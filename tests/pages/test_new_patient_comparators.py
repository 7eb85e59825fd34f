"""AppTest of the New patient page with comparator learners (issue 31): a CT scored, the comparators' risks listed
beside the nomogram model's, and the patient's SHAP waterfall of each score and comparator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.core.test_newpatient_comparators import ct_study
from tests.pages.apptest_helpers import dataframe_with, open_study_page

pytestmark = pytest.mark.slow  # the comparators' tuning, a CT's extraction and shap's first import: about a minute


@pytest.fixture(scope="module")
def study(sample_study):
    """The CT study of tests/core/test_newpatient_comparators.py: every binary comparator on the screened
    radiomics features, the features recomputable from the bundled CTs."""
    return ct_study(sample_study)


def _bundled_case(study) -> tuple[str, bytes, bytes]:
    from core.imaging.extraction.batch import read_manifest
    from core.workflows.sample import SAMPLE_MANIFEST

    manifest = read_manifest(SAMPLE_MANIFEST)
    row = manifest[manifest["Image"].map(lambda p: Path(p).is_file()) & manifest["ID"].isin(study.test_ids)].iloc[0]
    return row["ID"], Path(row["Image"]).read_bytes(), Path(row["Mask"]).read_bytes()


def _waterfall(at) -> dict:
    """The figure of the page's SHAP waterfall (its plotly spec)."""
    for chart in at.get("plotly_chart"):
        figure = json.loads(chart.proto.spec)
        if figure["data"] and figure["data"][0].get("type") == "waterfall":
            return figure
    raise AssertionError("no SHAP waterfall on the page")


def test_the_comparators_risks_and_the_patients_shap_waterfall(study, workspace):
    import ui

    at = open_study_page(study, "pages/new_patient.py")
    assert "np_shap_model" not in [s.key for s in at.selectbox]  # nothing scored yet
    _, ct, mask = _bundled_case(study)
    at.radio(key="np_source").set_value("NIfTI / NRRD files").run()
    at.file_uploader(key="np_image_upload").set_value(("ct.nii.gz", ct, "application/gzip")).run()
    at.file_uploader(key="np_mask_upload").set_value(("mask.nii.gz", mask, "application/gzip")).run()
    at.button(key="np_score").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    _, _, result, _ = at.session_state["np_result"]
    models = ui.results(study).models  # the app's own, shared in this process
    assert result.model == "fused" and list(result.comparators) == list(models.comparators)

    # The comparators' risks beside the nomogram model's.
    table = dataframe_with(at, "model", "kind", "predicted risk")
    assert list(table["model"]) == [study.model_label("fused"), *(study.model_label(n) for n in models.comparators)]
    assert list(table["kind"]) == ["nomogram", *["comparator"] * len(models.comparators)]
    np.testing.assert_allclose(table["predicted risk"], [result.probability, *result.comparators.values()])

    # The SHAP section: every score and comparator, the first (the score) drawn.
    box = at.selectbox(key="np_shap_model")
    assert box.options == [study.model_label(n) for n in [*models.scores, *models.comparators]]
    assert box.value == next(iter(models.scores))
    figure = _waterfall(at)
    trace = figure["data"][0]
    score = result.scores[box.value]  # a score's explanation is on its log-odds
    assert trace["base"] + sum(trace["x"][:-1]) == pytest.approx(score, abs=1e-6)
    assert figure["layout"]["xaxis"]["title"]["text"] == "model output (log-odds of the event)"
    assert any("SHAP" in c.value and "training patients" in c.value for c in at.caption)

    # Each comparator's waterfall ends at its own prediction of this patient.
    for name, risk in result.comparators.items():
        at.selectbox(key="np_shap_model").set_value(name).run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        figure = _waterfall(at)
        trace, scale = figure["data"][0], figure["layout"]["xaxis"]["title"]["text"]
        output = risk if "probability" in scale else np.log(risk / (1 - risk))
        assert trace["base"] + sum(trace["x"][:-1]) == pytest.approx(output, abs=1e-6), name
        assert study.model_label(name) in figure["layout"]["title"]["text"]
    kept = at.session_state["_np_shap"]
    assert {key[2] for key in kept} == {next(iter(models.scores)), *models.comparators}  # each explained once
