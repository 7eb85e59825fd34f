"""AppTest of the Internal validation page: apparent and test AUCs, and a repeated-CV run of the whole pipeline.

(The bootstrap itself is tested on a small study in tests/core/test_validation.py; a resample of the full
sample study takes most of a minute, too long for the page test.)"""

from __future__ import annotations

from tests.pages.apptest_helpers import dataframe_with, open_page


def test_apparent_test_and_cross_validated_auc(workspace):
    at = open_page("pages/validation.py", timeout=300)
    assert not at.error, [e.value for e in at.error]
    table = dataframe_with(at, "apparent (training)", "test")
    assert len(table) == 5 and (table["apparent (training)"] > table["test"]).sum() >= 4
    assert any("Run the bootstrap" in c.value for c in at.caption)

    at.number_input(key="val_folds").set_value(3)
    at.number_input(key="val_repeats").set_value(1).run()
    at.button(key="val_run_cv").click().run()
    assert not at.exception and not at.error
    table = dataframe_with(at, "apparent (training)", "repeated CV (mean)")
    assert table["repeated CV (mean)"].between(0.5, 1).all()
    assert (table["repeated CV (mean)"] < table["apparent (training)"]).sum() >= 4
