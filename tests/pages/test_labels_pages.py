"""Labels that say what they are, as the pages show them: calibration-in-the-large and the recalibration
intercept told apart (Evaluation), post-selection p-values marked (Models: score and fused tables)."""

from __future__ import annotations

from core.vocabulary import CALIBRATION_COLUMNS, POST_SELECTION_NOTE, POST_SELECTION_P
from tests.pages.apptest_helpers import dataframe_with, open_page


def test_evaluation_calibration_table_names_both_intercepts():
    at = open_page("pages/evaluation.py", timeout=300)
    assert not at.exception
    at.session_state["ev_section"] = "Calibration"  # the section's tab (its content runs only while open)
    at.run()
    table = dataframe_with(at, "HL p", CALIBRATION_COLUMNS["citl"])
    assert CALIBRATION_COLUMNS["intercept"] == "calibration intercept (logistic recalibration)"
    assert {"calibration-in-the-large", "calibration slope", "calibration intercept (logistic recalibration)"} <= \
        set(table.columns)
    assert not any(str(c).lower() in ("intercept", "intercept (in the large)") for c in table.columns)
    assert table["calibration-in-the-large"].notna().all()


def test_models_page_marks_post_selection_p_values():
    at = open_page("pages/models.py", timeout=300)
    assert not at.exception
    score = dataframe_with(at, "train_mean", POST_SELECTION_P)
    assert "p_value" not in score.columns
    assert score[POST_SELECTION_P].map(type).eq(str).all()  # written as every p-value ("< 0.001", "0.012")
    fused = dataframe_with(at, "OR", "VIF", "p_note", index="dl_radiomics_score")
    assert fused.loc["dl_radiomics_score", "p_note"] == POST_SELECTION_NOTE
    assert (fused.drop(index="dl_radiomics_score")["p_note"] == "").all()


def test_a_sign_that_flips_between_the_clinical_and_fused_models_is_explained_where_shown():
    """The sample's tumour thickness: +0.041 in the clinical model, -0.041 in the fused one (collinear with the
    score). The Models page says so beside the fused model; the Nomogram page beside the fused nomogram."""
    at = open_page("pages/models.py", timeout=300)
    flips = [w.value for w in at.warning if "Tumour thickness" in w.value and "fused model" in w.value]
    assert flips and "collinear" in flips[0].lower()
    at.switch_page("pages/nomogram.py").run()
    assert not at.exception
    assert any("Tumour thickness" in c.value and "fused model" in c.value for c in at.caption)
