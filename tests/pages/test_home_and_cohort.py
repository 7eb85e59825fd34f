"""AppTest runs of the home and Cohort pages, including bad inputs through the server-path loader."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.io.paths import DATA_ROOT_ENV
from tests.pages.apptest_helpers import open_page


def _app() -> AppTest:
    return open_page()


def _cohort_page() -> AppTest:
    return open_page("pages/cohort.py")


def test_home_opens_on_the_sample_study():
    at = _app()
    assert at.title[0].value == "RadNomo"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Patients"] == "1001" and metrics["Events"] == "312"
    assert at.session_state["study"].is_sample
    # The report's contents beyond the models: the bundled internal validation, the (absent) external cohorts.
    assert any("Internal validation: the latest run is included" in c.value and "External cohorts: none added"
               in c.value for c in at.caption)
    at.button(key="home_open_sample").click().run()
    assert not at.exception
    assert at.success[0].value == "The sample study is open."


def test_start_a_new_study_opens_the_upload_loader():
    at = _app()
    at.button(key="home_new_study").click().run()
    assert not at.exception
    assert at.title[0].value == "Cohort"
    assert at.radio(key="coh_source").value == "Upload a file"


def test_cohort_page_shows_table1_and_comparison():
    at = _cohort_page()
    assert at.title[0].value == "Cohort"
    assert len(at.dataframe) >= 2
    table1 = at.dataframe[0].value
    assert "Train p" in table1.columns and "Test p" in table1.columns
    assert table1["variable"].iloc[0] == "age"
    # lm_type (the metastasis subtype, no predictor) orders the outcome: a note to keep it out, not a leak warning
    assert not any("Possible leak" in w.value for w in at.warning)
    assert any("lm_type (1.00)" in c.value for c in at.caption)
    # the distribution plot follows the chosen variable, categorical ones too
    at.selectbox(key="coh_plot_variable").set_value("ct_stage").run()
    assert not at.exception


@pytest.mark.slow
def test_resplit_changes_the_split_and_keeps_the_cohort():
    at = _cohort_page()
    before = at.session_state["study"]
    at.number_input(key="coh_seed").set_value(99).run()
    at.slider(key="coh_test_size").set_value(0.25).run()
    at.button(key="coh_resplit").click().run()
    assert not at.exception
    after = at.session_state["study"]
    assert after.split.config.seed == 99 and after.split.config.test_size == 0.25
    assert after.split.train_ids != before.split.train_ids
    assert len(after.split.test_ids) == 251
    assert after.cohort is before.cohort or after.cohort.equals(before.cohort)
    # per-case radiomics features survive a re-split; the autoencoder learned from the old training
    # cohort, so its family is dropped (its features would leak test patients), and the DL-radiomics with it
    assert after.family("radiomics").table is before.family("radiomics").table
    assert before.family_names == ["radiomics", "dl"] and after.family_names == ["radiomics"]
    assert after.combined == () and after.fused_family == "radiomics"


def _good_table(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"pid": [f"P{i}" for i in range(n)], "event": (np.arange(n) % 3 == 0).astype(int),
                         "age": rng.normal(60, 10, n).round(1), "grade": rng.choice(["G1", "G2"], n)})


@pytest.fixture()
def data_root(tmp_path, monkeypatch):
    good = _good_table()
    good.to_csv(tmp_path / "good.csv", index=False)
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "image.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    good.assign(pid=["P1"] + good.pid.tolist()[1:]).to_csv(tmp_path / "duplicate_ids.csv", index=False)
    good.assign(event=np.arange(40) % 3).to_csv(tmp_path / "three_classes.csv", index=False)
    good.assign(event=0).to_csv(tmp_path / "one_class.csv", index=False)
    good.head(12).to_csv(tmp_path / "few_rows.csv", index=False)
    good.assign(age=good.age.astype(object).where(good.index != 3, "unknown")).to_csv(
        tmp_path / "bad_values.csv", index=False)
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    return tmp_path


def _read_server_file(at: AppTest, name: str) -> AppTest:
    at.radio(key="coh_source").set_value("File on the server").run()
    at.text_input(key="coh_server_path").input(name).run()
    at.button(key="coh_read_server").click().run()
    assert not at.exception
    return at


def _use_draft(at: AppTest, continuous: list[str]) -> AppTest:
    at.selectbox(key="coh_id_column").set_value("pid").run()
    at.selectbox(key="coh_outcome_column").set_value("event").run()
    at.multiselect(key="coh_continuous").set_value(continuous).run()
    at.button(key="coh_use_draft").click().run()
    assert not at.exception
    return at


@pytest.mark.slow
def test_a_good_server_file_becomes_the_study(data_root):
    at = _read_server_file(_cohort_page(), "good.csv")
    at = _use_draft(at, ["age"])
    study = at.session_state["study"]
    assert study.name == "good" and len(study.cohort) == 40 and not study.is_sample
    assert at.success[0].value == "'good' is now the open study."
    assert at.dataframe[-1].value["variable"].tolist()[0] == "age"
    assert at.subheader[0].value == "good"  # the page ran again with the new study


@pytest.mark.slow
@pytest.mark.parametrize(("name", "message"), [
    ("empty.csv", "is empty"),
    ("image.csv", "binary file"),
    ("../outside.csv", "outside the data root"),
    ("nothing_here.csv", "does not exist"),
])
def test_unreadable_files_leave_the_study_untouched(data_root, name, message):
    at = _cohort_page()
    before = at.session_state["study"]
    at = _read_server_file(at, name)
    assert message in at.error[0].value
    assert at.session_state["study"] is before
    assert len(at.dataframe) >= 2  # the open study's tables still render


@pytest.mark.slow
@pytest.mark.parametrize(("name", "message"), [
    ("duplicate_ids.csv", "duplicated ID"),
    ("three_classes.csv", "3 distinct values"),
    ("one_class.csv", "one class only"),
    ("few_rows.csv", "at least 20"),
    ("bad_values.csv", "not numbers"),
])
def test_invalid_cohorts_leave_the_study_untouched(data_root, name, message):
    at = _read_server_file(_cohort_page(), name)
    before = at.session_state["study"]
    assert not at.error  # the file itself is readable
    at = _use_draft(at, ["age"])
    assert message in at.error[0].value
    assert at.session_state["study"] is before


@pytest.mark.slow
def test_save_reopen_and_import_from_the_home_page(workspace, tmp_path):
    from core.workflows.persistence import export_study
    from tests.pages.apptest_helpers import open_page

    from core.workflows.study import EvaluationSettings

    at = open_page()
    chosen = EvaluationSettings(cutoff_rule="fixed", cutoff_value=0.25, proportion_ci="wilson")
    at.session_state["study"] = at.session_state["study"].replace(evaluation=chosen)  # as Evaluation sets it
    at.run()
    at.button(key="home_save").click().run()
    assert not at.exception and "Saved to" in at.success[0].value
    at.run()
    choice = at.selectbox(key="home_saved_choice")
    assert len(choice.options) == 1
    at.session_state["study"] = None  # forget the open study: the saved one must come back by itself
    at.button(key="home_open_saved").click().run()
    assert not at.exception
    study = at.session_state["study"]
    assert study.name == "Sample study (synthetic)" and len(study.split.train_ids) == 700
    assert study.family_names == ["radiomics", "dl"] and study.combined[0].name == "dl_radiomics"
    assert study.evaluation == chosen  # the evaluation settings are saved with the study
    export_study(at.selectbox(key="home_saved_choice").value, tmp_path / "shared.zip")
    assert (tmp_path / "shared.zip").stat().st_size > 1000
