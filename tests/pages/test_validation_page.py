"""AppTest of the Internal validation page: apparent and test AUCs, the bundled 200-resample bootstrap of the
sample study, and a repeated-CV run of the whole pipeline.

(The bootstrap itself is run on a small study in tests/core/test_validation.py; 200 resamples of the full
sample study take about half an hour, so the page shows the run bundled in sample_data/validation.)"""

from __future__ import annotations

import numpy as np

from tests.pages.apptest_helpers import dataframe_with, open_page


def test_apparent_test_and_cross_validated_auc(workspace):
    at = open_page("pages/validation.py", timeout=300)
    assert not at.error, [e.value for e in at.error]
    table = dataframe_with(at, "apparent (training)", "test")
    assert len(table) == 5 and (table["apparent (training)"] > table["test"]).sum() >= 4
    # The bundled bootstrap matches the sample study's default settings and split, so it is shown.
    assert any("200 resamples" in i.value for i in at.info)
    table = dataframe_with(at, "apparent (training)", "optimism-corrected")
    assert (table["resamples"] >= 190).all()
    assert (table["optimism"] > 0).all()
    assert (table["optimism-corrected"] < table["apparent (training)"]).all()
    # the saved run's apparent AUC is the live one: corrected = apparent - optimism on the page (3 decimals)
    np.testing.assert_allclose(table["optimism-corrected"], table["apparent (training)"] - table["optimism"],
                               atol=2e-3)
    assert len(at.get("plotly_chart")) == 1

    at.number_input(key="val_folds").set_value(3)
    at.number_input(key="val_repeats").set_value(1).run()
    at.button(key="val_run_cv").click().run()
    assert not at.exception and not at.error
    table = dataframe_with(at, "apparent (training)", "repeated CV (mean)")
    assert table["repeated CV (mean)"].between(0.5, 1).all()
    assert (table["repeated CV (mean)"] < table["apparent (training)"]).sum() >= 4
