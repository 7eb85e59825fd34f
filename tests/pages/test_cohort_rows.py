"""The Cohort page on tables as they come (issue 23): no ID column (row numbers as IDs), blank IDs, a feature
table offered as the clinical table, and patients whose every feature is missing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.io.paths import DATA_ROOT_ENV
from core.vocabulary import ROW_ID_COLUMN
from tests.pages.apptest_helpers import open_page

pytestmark = pytest.mark.slow  # each test runs the app (4-12 s)


def _clinical(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"pid": [f"P{i}" for i in range(n)], "sex": rng.choice(["F", "M"], n),
                         "age": rng.normal(60, 10, n).round(1), "event": (np.arange(n) % 3 == 0).astype(int)})


@pytest.fixture()
def data_root(tmp_path, monkeypatch):
    clinical = _clinical()
    clinical.drop(columns="pid").to_csv(tmp_path / "no_ids.csv", index=False)
    clinical.assign(pid=clinical["pid"].where(~clinical.index.isin([3, 11]), "")).to_csv(
        tmp_path / "blank_ids.csv", index=False)
    rng = np.random.default_rng(1)
    features = pd.DataFrame(rng.normal(size=(40, 300)), columns=[f"original_glcm_F{j}" for j in range(300)])
    features.iloc[[5, 6], :] = np.nan  # two patients without any feature value
    pd.concat([clinical, features], axis=1).to_csv(tmp_path / "wide.csv", index=False)
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    return tmp_path


def _read(name: str) -> AppTest:
    at = open_page("pages/cohort.py")
    at.radio(key="coh_source").set_value("File on the server").run()
    at.text_input(key="coh_server_path").input(name).run()
    at.button(key="coh_read_server").click().run()
    assert not at.exception and not at.error
    return at


def test_a_table_without_ids_opens_with_row_numbers(data_root):
    at = _read("no_ids.csv")
    # No unique column: row numbers are proposed, and the outcome is guessed (never sex, which repeats).
    assert at.checkbox(key="coh_row_ids").value is True
    assert at.selectbox(key="coh_outcome_column").value == "event"
    at.button(key="coh_use_draft").click().run()
    assert not at.exception and not at.error
    study = at.session_state["study"]
    assert study.spec.id_column == ROW_ID_COLUMN and study.spec.variables == ("age", "sex")
    assert sorted(study.cohort.index, key=int) == [str(i) for i in range(1, 41)]


def test_blank_ids_are_left_out_counted_and_shown(data_root):
    at = _read("blank_ids.csv")
    assert at.checkbox(key="coh_row_ids").value is False
    assert at.selectbox(key="coh_id_column").value == "pid"
    assert any("2 row(s) with a blank ID left out of the table (file lines 5, 13)" in i.value for i in at.info)
    at.button(key="coh_use_draft").click().run()
    assert not at.exception and not at.error
    study = at.session_state["study"]
    assert len(study.cohort) == 38
    assert study.exclusions == (("file line 5", "a blank ID"), ("file line 13", "a blank ID"))
    assert "2 row(s) with a blank ID left out" in at.success[0].value


def test_a_feature_table_as_clinical_table_opens_with_its_features_and_drops_empty_patients(data_root):
    at = _read("wide.csv")
    assert any("reads as a feature table" in i.value for i in at.info)
    chosen = at.multiselect(key="coh_continuous").value + at.multiselect(key="coh_categorical").value
    assert set(chosen) == {"age", "sex"}  # not 300 features
    at.button(key="coh_open_as_features").click().run()
    assert not at.exception and not at.error
    study = at.session_state["study"]
    assert study.family_names == ["radiomics"] and study.family("radiomics").table.shape[1] == 300
    assert set(study.spec.variables) == {"age", "sex"}
    # The two patients without any feature value: dropped on their own, listed, the share saved with the study.
    assert at.number_input(key="coh_patient_share").value == 1.0
    at.button(key="coh_drop_sparse").click().run()
    assert not at.exception and not at.error
    study = at.session_state["study"]
    assert len(study.cohort) == 38 and study.settings.missing.patient_max_missing == 1.0
    missing = "every feature of a family missing"
    assert study.exclusions == (("P5", missing), ("P6", missing))
    assert "P5, P6" in at.success[0].value


def test_a_table_read_as_windows_1252_says_so_on_the_cohort_page():
    """A file with no UTF-8 at all is read as Windows-1252, and the page says so beside the table (never silent)."""
    from tests.pages.apptest_helpers import open_page

    at = open_page("pages/cohort.py")
    at.radio(key="coh_source").set_value("Upload a file").run()
    data = "pid,event,city\nP1,1,Zürich\nP2,0,Genève\nP3,1,Zürich\n".encode("cp1252")
    at.file_uploader(key="coh_upload").set_value(("latin.csv", data, "text/csv")).run()
    assert not at.exception
    assert any("Windows-1252" in i.value for i in at.info), [i.value for i in at.info]
