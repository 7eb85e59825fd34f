"""AppTest of the Features - radiomics page: extraction from the sample manifest, ICC, viewer, bad paths."""

from __future__ import annotations

import io

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.io.paths import DATA_ROOT_ENV
from tests.pages.apptest_helpers import dataframe_with, open_page

FAST = "Original image only (107 features, ~1 s a case)"


@pytest.fixture()
def page(workspace) -> AppTest:
    return open_page("pages/features_radiomics.py", timeout=180)


def _extract(at: AppTest, mask: str, cases: int, double_read_only: bool = False) -> AppTest:
    at.selectbox(key="fr_params").set_value(FAST).run()
    at.checkbox(key="fr_double_read_only").set_value(double_read_only).run()
    at.selectbox(key="fr_mask_column").set_value(mask).run()
    at.number_input(key="fr_max_cases").set_value(cases).run()
    at.button(key="fr_run").click().run()
    assert not at.exception
    return at


@pytest.mark.slow
def test_extracts_both_readers_and_shows_agreement(page):
    at = _extract(page, "Mask", 4, double_read_only=True)
    family = at.session_state["study"].family("radiomics")
    assert family.table.shape == (4, 107) and family.kind == "radiomics"
    assert "extracted here" in family.source
    assert "4 cases × 107 features" in at.success[0].value
    assert family.extraction["preprocess"]["hu_range"] == [-1024.0, 1024.0]
    at = _extract(at, "Mask_reader2", 4, double_read_only=True)
    assert at.session_state["study"].family("radiomics").reader2.shape[1] == 107
    assert any("ICC(2,1) > 0.8" in m.value for m in at.markdown)
    status = at.dataframe[0].value
    assert set(status["status"]) == {"extracted"}


def test_sample_features_come_with_their_settings(page):
    family = page.session_state["study"].family("radiomics")
    assert family.table.shape == (1001, 1874)
    assert family.extraction["params"]["imageType"]["LoG"]["sigma"] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert family.extraction["preprocess"]["spacing_mm"] == [1.0, 1.0, 1.0]


@pytest.mark.slow
def test_a_second_family_of_the_users_own_name(page):
    at = page
    at.text_input(key="fr_family_name").input("arterial").run()
    at.text_input(key="fr_family_label").input("Arterial phase").run()
    at = _extract(at, "Mask", 3)
    study = at.session_state["study"]
    assert study.family_names == ["radiomics", "dl", "arterial"]
    assert study.family("arterial").label == "Arterial phase" and study.family("arterial").table.shape == (3, 107)


@pytest.mark.slow
def test_a_second_run_reads_the_store(page):
    at = _extract(page, "Mask", 2)
    at = _extract(at, "Mask", 2)
    assert "(2 cached)" in at.success[0].value
    # The store is this user's: another session (another space) extracts the same cases afresh.
    other = _extract(open_page("pages/features_radiomics.py", timeout=180), "Mask", 2)
    assert "(2 extracted)" in other.success[0].value


def test_case_viewer_moves_through_slices(page):
    at = page
    case = at.selectbox(key="fr_view_case").value
    slider = at.slider(key=f"fr_slice_{case}")
    slider.set_value(1).run()
    assert not at.exception
    at.selectbox(key="fr_window").set_value("Lung (-600/1500)").run()
    assert not at.exception


def test_server_manifest_outside_the_data_root_is_refused(page, tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    at = page
    before = at.session_state["study"]
    at.radio(key="fr_source").set_value("Manifest on the server").run()
    at.text_input(key="fr_server_path").input("../../etc/passwd").run()
    at.button(key="fr_read_server").click().run()
    assert not at.exception
    assert "outside the data root" in at.error[0].value
    assert at.session_state["study"] is before


def test_the_feature_table_carries_ibsi_tags_and_compliance(page):
    at = page
    sentence = next(m.value for m in at.markdown if m.value.startswith("**IBSI compliance of these features**"))
    assert "Of the 1874 Radiomics features (pyradiomics), 102 are IBSI features" in sentence
    compliance = dataframe_with(at, "IBSI tag", "compliance")
    assert compliance.loc["original_glcm_Contrast", "IBSI tag"] == "cm_contrast_3D_avg"
    assert compliance.loc["original_glcm_Contrast", "compliance"] == "agrees"
    assert compliance.loc["wavelet-LLH_glcm_Contrast", "compliance"] == "filtered image"
    at.multiselect(key="fr_ibsi_filter").set_value(["agrees"]).run()
    assert set(dataframe_with(at, "IBSI tag", "compliance")["compliance"]) == {"agrees"}
    summary = dataframe_with(at, "engine", "configuration", "agrees")
    assert set(summary["engine"]) == {"pyradiomics", "mirp"} and len(summary) == 12


@pytest.mark.slow
def test_mirp_is_chosen_per_extraction_and_recorded(page):
    at = page
    at.radio(key="fr_engine").set_value("mirp").run()
    assert not at.exception
    # MIRP has no Square ... Gradient or LBP filter: only the parameters it can follow are offered
    assert at.selectbox(key="fr_params").options == [FAST, "Upload a params YAML"]
    at.text_input(key="fr_family_name").input("mirp").run()
    at.number_input(key="fr_max_cases").set_value(1).run()
    at.button(key="fr_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    family = at.session_state["study"].family("mirp")
    assert family.extraction["engine"] == "mirp" and "mirp_version" in family.extraction
    assert all(name.startswith("mirp_") for name in family.table.columns) and "with mirp" in family.source
    compliance = dataframe_with(at, "IBSI tag", "compliance")
    assert (compliance["IBSI tag"] != "").all()


def test_an_imported_table_leaves_out_and_lists_flat_empty_and_text_columns(page):
    """A real export: the features, plus a constant, an empty and a text column. The features come in; each
    left-out column is named on the page with its reason."""
    study = page.session_state["study"]
    table = study.family("radiomics").table.iloc[:60, :30].rename_axis("ID").reset_index()
    table = table.assign(flat=3.0, empty=np.nan, note="see report")
    data = io.BytesIO()
    table.to_csv(data, index=False)
    page.text_input(key="fr_family_name").input("imported").run()
    page.file_uploader(key="fr_import_upload").set_value(("export.csv", data.getvalue(), "text/csv")).run()
    at = page.button(key="fr_import").click().run()
    assert not at.exception and not at.error
    assert at.session_state["study"].family("imported").table.shape == (60, 30)
    notes = [m.value for m in at.info]
    for expected in ("1 text column(s) left out, e.g. note", "1 no value column(s) left out, e.g. empty",
                     "1 constant column(s) left out, e.g. flat"):
        assert any(expected in n for n in notes), notes
    dropped = dataframe_with(at, "reason")
    reasons = dict(zip(dropped["column"], dropped["reason"], strict=True))
    assert reasons == {"note": "text", "empty": "no value", "flat": "constant"}
