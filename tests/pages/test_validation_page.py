"""AppTest of the Internal validation page: the sample study's saved bootstrap, and a repeated-CV run."""

from __future__ import annotations

from tests.pages.apptest_helpers import dataframe_with, open_page


def test_optimism_corrected_auc_lies_below_the_apparent_auc_and_cv_runs(workspace):
    at = open_page("pages/validation.py", timeout=300)
    assert not at.error, [e.value for e in at.error]
    table = dataframe_with(at, "apparent (training)", "test", "optimism-corrected")
    # The saved 200-resample run of the sample study (sample_data/validation) matches the default settings.
    assert (table["optimism-corrected"] < table["apparent (training)"]).all()
    assert (table["resamples"] >= 190).all()
    assert any("Computed in advance" in info.value for info in at.info)

    at.number_input(key="val_folds").set_value(3)
    at.number_input(key="val_repeats").set_value(1).run()
    at.button(key="val_run_cv").click().run()
    assert not at.exception and not at.error
    table = dataframe_with(at, "apparent (training)", "repeated CV (mean)")
    assert table["repeated CV (mean)"].between(0.5, 1).all()
    assert (table["repeated CV (mean)"] < table["apparent (training)"]).sum() >= 4
