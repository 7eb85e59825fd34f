"""AppTest of the Internal validation page: apparent and test AUCs, the bundled 200-resample bootstrap of the
sample study, and a repeated-CV run of the whole pipeline.

(The bootstrap itself is run on a small study in tests/core/test_validation.py; 200 resamples of the full
sample study take about half an hour, so the page shows the run bundled in sample_data/validation.)"""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest

from tests.pages.apptest_helpers import dataframe_with, open_page, open_study_page


@pytest.mark.slow
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
    # The bundled run holds the .632+ AUC and the optimism-corrected calibration (slope, curve) too.
    assert {c.key for c in at.get("plotly_chart")} == {"val_optimism_figure", "val_calibration_figure"}
    resampling = dataframe_with(at, ".632+ AUC", "calibration slope (optimism-corrected)")
    assert resampling[".632+ AUC"].between(0.5, 1).all()
    assert (resampling["calibration slope (optimism-corrected)"] < 1).all()  # every model shrinks on new patients

    at.number_input(key="val_folds").set_value(3)
    at.number_input(key="val_repeats").set_value(1).run()
    at.button(key="val_run_cv").click().run()
    assert not at.exception and not at.error
    _wait_for_the_run(at)
    assert not at.exception and not at.error
    assert any("Repeated cross-validation done: 3 of 3 folds" in s.value for s in at.success)
    table = dataframe_with(at, "apparent (training)", "repeated CV (mean)")
    assert table["repeated CV (mean)"].between(0.5, 1).all()
    assert (table["repeated CV (mean)"] < table["apparent (training)"]).sum() >= 4
    # The run is the study's now (saved with it, in the report); the bundled bootstrap is kept beside it.
    run = at.session_state["study"].current_validation()
    assert run is not None and run.meta["cv"]["folds"] == 3 and "source" not in run.meta["cv"]
    assert run.meta["bootstrap"]["done"] == 200 and run.meta["bootstrap"]["source"]
    assert "optimism-corrected" in dataframe_with(at, "apparent (training)", "repeated CV (mean)").columns


def _job(at):
    try:
        return at.session_state["_val_job"]
    except KeyError:
        return None


def _wait_for_the_run(at, timeout: float = 600) -> None:
    """Run the page again until the background run has ended and its result is in the study."""
    deadline = time.monotonic() + timeout
    while _job(at) is not None:
        assert time.monotonic() < deadline, "the validation run did not end"
        time.sleep(0.5)
        at.run()


def test_out_of_range_run_sizes_are_refused_visibly(workspace, small_study):
    """Typing 1 resample (or 2 folds) is refused with the allowed range, never silently replaced by a default."""
    at = open_study_page(small_study, "pages/validation.py")
    at.number_input(key="val_n_boot").set_value(1).run()
    assert not at.exception
    assert any("bootstrap resamples: give a whole number from 10 to 1000 (you gave 1)" in e.value for e in at.error)
    assert at.button(key="val_run_boot").disabled
    at.number_input(key="val_folds").set_value(2).run()
    assert any("CV folds: give a whole number from 3 to 10 (you gave 2)" in e.value for e in at.error)
    assert at.button(key="val_run_cv").disabled
    at.number_input(key="val_n_boot").set_value(20).run()
    assert not at.button(key="val_run_boot").disabled and not any("resamples" in e.value for e in at.error)


@pytest.mark.slow
def test_a_long_bootstrap_can_be_stopped_and_keeps_what_was_done(workspace, sample_study):
    """A small study's 1000-resample bootstrap, stopped from the page: the resamples done are kept in the study."""
    from core.stats.cohort import SplitConfig, split_cohort
    from core.workflows.study import FeatureFamily, ModelSettings

    ids = sample_study.cohort.index[:160]
    cohort = sample_study.cohort.loc[ids]
    small = sample_study.replace(
        name="Small", cohort=cohort, split=split_cohort(cohort.reset_index(), sample_study.spec, SplitConfig(seed=2)),
        families=(FeatureFamily(name="radiomics", label="Radiomics",
                                table=sample_study.family("radiomics").table.loc[ids].iloc[:, :40]),),
        combined=(), is_sample=False,
        settings=ModelSettings(clinical_continuous=("tumour_thickness_mm", "cea_ng_ml"), clinical_categorical=()))
    at = open_page(None, timeout=300)
    at.session_state["study"] = small
    at.switch_page("pages/validation.py").run()
    assert not at.exception and not at.error
    at.number_input(key="val_n_boot").set_value(1000).run()
    at.button(key="val_run_boot").click().run()
    assert _job(at) is not None and at.button(key="val_stop")  # running, with a Stop button
    deadline = time.monotonic() + 300
    while _job(at) is not None and _job(at)["progress"][0] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    at.button(key="val_stop").click().run()
    _wait_for_the_run(at)
    assert not at.exception and not at.error
    message = next(s.value for s in at.success if "Stopped after" in s.value)
    run = at.session_state["study"].current_validation()
    done = run.meta["bootstrap"]["done"]
    assert 2 <= done < 1000 and run.meta["bootstrap"]["stopped"] and len(run.resamples) == done
    assert f"Stopped after {done} of 1000 resamples" in message
    assert any(f"stopped by the user after {done} of 1000 resamples" in c.value for c in at.caption)
    table = dataframe_with(at, "apparent (training)", "optimism-corrected")
    assert (table["resamples"] <= done).all()


def test_the_scheduler_setting_is_checked_and_kept(workspace, small_study):
    """Empty: local processes; a malformed address is refused with the expected form and nothing can run; a
    well-formed one is kept in the session; one where no scheduler answers is said when a run starts."""
    at = open_study_page(small_study, "pages/validation.py")
    assert not at.exception and not at.error
    assert at.session_state["val_where"] == "local"
    assert any("Resamples run on" in c.value for c in at.caption)
    at.text_input(key="val_scheduler").set_value("http://10.0.0.5:8786").run()
    assert not at.exception
    assert any("the scheme must be tcp:// or tls://" in e.value and "tcp://HOST:PORT" in e.value for e in at.error)
    assert at.button(key="val_run_boot").disabled and at.button(key="val_run_cv").disabled
    assert "val_where" not in at.session_state
    at.text_input(key="val_scheduler").set_value("tcp://10.0.0.5").run()
    assert any("has no port" in e.value for e in at.error)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    at.text_input(key="val_scheduler").set_value(f" tcp://127.0.0.1:{port} ").run()
    assert not at.error and at.session_state["val_where"] == f"tcp://127.0.0.1:{port}"
    assert any(f"the Dask cluster at tcp://127.0.0.1:{port}" in c.value for c in at.caption)
    assert not at.button(key="val_run_cv").disabled
    at.number_input(key="val_folds").set_value(3)
    at.number_input(key="val_repeats").set_value(1).run()
    at.button(key="val_run_cv").click().run()
    _wait_for_the_run(at, timeout=60)
    assert not at.exception
    assert any(f"No Dask scheduler answered at tcp://127.0.0.1:{port}" in e.value for e in at.error)
    assert at.session_state["study"].current_validation() is None  # nothing was kept
    at.switch_page("pages/home.py").run()  # the setting stays for the session
    at.switch_page("pages/validation.py").run()
    assert at.text_input(key="val_scheduler").value == f" tcp://127.0.0.1:{port} "
    assert at.session_state["val_where"] == f"tcp://127.0.0.1:{port}"


@pytest.mark.slow
def test_the_632_auc_and_the_corrected_calibration_are_shown(workspace, small_study):
    """A binary study's bootstrap: Harrell's, .632 and .632+ AUC, the corrected calibration slope, intercept and
    Brier score (apparent slope and intercept said to be 1 and 0 by construction) and the corrected curve."""
    from core.workflows.validation import RESAMPLING_COLUMNS, optimism_corrected_auc, with_bootstrap

    result = optimism_corrected_auc(small_study, n_boot=3, seed=2)
    at = open_study_page(with_bootstrap(small_study, result, seed=2), "pages/validation.py")
    assert not at.exception and not at.error, [e.value for e in at.error]
    table = dataframe_with(at, RESAMPLING_COLUMNS["b632plus"], RESAMPLING_COLUMNS["slope"])
    assert len(table) == len(result.table)
    np.testing.assert_allclose(table[RESAMPLING_COLUMNS["b632"]].to_numpy(), result.table["b632"].round(3))
    np.testing.assert_allclose(table[RESAMPLING_COLUMNS["slope_apparent"]], 1.0, atol=1e-3)
    np.testing.assert_allclose(table[RESAMPLING_COLUMNS["intercept_apparent"]], 0.0, atol=1e-3)
    slopes = result.calibration[result.calibration["measure"] == "slope"]["corrected"]
    np.testing.assert_allclose(table[RESAMPLING_COLUMNS["slope"]].to_numpy(), slopes.round(3).to_numpy())
    captions = " ".join(c.value for c in at.caption)
    assert "1 and 0 by construction" in captions and "0 and 1 by construction" in captions
    assert "whole pipeline" in captions and ".632+" in captions
    assert len(at.get("plotly_chart")) == 2  # the optimism boxes and the corrected calibration curves
