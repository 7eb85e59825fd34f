"""AppTest of the Selection and Models pages on the sample study."""

from __future__ import annotations

import pytest

from tests.pages.apptest_helpers import dataframe_with, open_page


def _funnel(at):
    return at.session_state["study"].settings.screening, at.dataframe[0].value


@pytest.mark.slow
def test_selection_thresholds_drive_the_funnel():
    at = open_page("pages/selection.py", timeout=240)
    settings, funnel = _funnel(at)
    assert settings.p_threshold == 0.05 and funnel["n_features"].tolist()[0] == 1874
    assert "feature(s) selected" in at.success[0].value
    assert len(at.get("plotly_chart")) >= 3  # funnel, CV curve, coefficient path

    at.number_input(key="sel_p").set_value(0.001).run()
    assert not at.exception
    settings, stricter = _funnel(at)
    assert settings.p_threshold == 0.001
    assert stricter["n_features"].iloc[-2] < funnel["n_features"].iloc[-2]  # fewer pass the t-test

    at.toggle(key="sel_use_icc").set_value(True).run()
    assert not at.exception
    _, with_icc = _funnel(at)
    assert with_icc["step"].iloc[1] == "ICC > 0.8" and with_icc["n_features"].iloc[1] < 1874

    at.radio(key="sel_family").set_value("dl").run()
    at.number_input(key="sel_variance").set_value(1e6).run()  # every feature fails the variance filter
    assert not at.exception
    assert any("No feature reached the LASSO" in w.value or "kept no feature" in w.value for w in at.warning)


@pytest.mark.slow
def test_selection_stability_runs_on_the_features_reaching_the_lasso():
    at = open_page("pages/selection.py", timeout=240)
    at.number_input(key="sel_stab_repeats").set_value(5).run()
    at.button(key="sel_stab_run").click().run()
    assert not at.exception
    columns, (frequency, runs) = at.session_state["sel_stability_radiomics"]
    assert len(runs) == 5 and set(frequency.index) == set(columns)
    assert frequency["selected"].between(0, 1).all()


@pytest.mark.slow
def test_models_page_clinical_choice_and_score_method():
    at = open_page("pages/models.py", timeout=240)
    assert not at.error
    default = at.multiselect(key="mod_clinical").value
    assert {"tumour_thickness_mm", "cea_ng_ml", "ca19_9_u_ml"} <= set(default)
    aucs_default = at.dataframe[-1].value
    assert list(aucs_default.columns) == ["clinical", "radiomics", "dl", "dl_radiomics", "fused"]
    assert len(at.code) == 3 and all("score =" in c.value for c in at.code)
    # p-values as every table writes them ("< 0.001"), never as raw floats such as 9e-30.
    shown = dataframe_with(at, "OR", "VIF", index="dl_radiomics_score")
    assert shown["p_value"].map(type).eq(str).all()
    assert shown.loc["dl_radiomics_score", "p_value"] == "< 0.001"

    at.multiselect(key="mod_clinical").set_value(["tumour_thickness_mm", "cea_ng_ml", "ca19_9_u_ml"]).run()
    assert not at.exception
    settings = at.session_state["study"].settings
    assert settings.clinical_continuous == ("tumour_thickness_mm", "cea_ng_ml", "ca19_9_u_ml")
    aucs = at.dataframe[-1].value
    assert aucs.loc["test", "clinical"] != aucs_default.loc["test", "clinical"]
    assert aucs.loc["test", "radiomics"] == aucs_default.loc["test", "radiomics"]

    at.radio(key="mod_score_method").set_value("lasso").run()
    assert not at.exception
    assert at.session_state["study"].settings.score_method == "lasso"

    at.button(key="mod_clinical_reset").click().run()
    assert not at.exception
    assert at.session_state["study"].settings.clinical_continuous is None

    # The fused model takes any score: the radiomics score instead of the DL-radiomics one.
    at.selectbox(key="mod_fused_score").set_value("radiomics").run()
    assert not at.exception
    assert at.session_state["study"].settings.fused_score == "radiomics"
    assert dataframe_with(at, "OR", "VIF", index="radiomics_score") is not None


