"""AppTest runs of a time-to-event study on the Home and Cohort pages: the one-click survival sample, a survival
cohort built through the Cohort page's form, and the form's clear refusals (a bad horizon text, a time of 0)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.io.paths import DATA_ROOT_ENV
from core.stats.outcomes import SurvivalOutcome
from core.workflows.sample import SAMPLE_CLINICAL, SAMPLE_SURVIVAL
from tests.pages.apptest_helpers import open_page

pytestmark = pytest.mark.slow  # each test runs the app (5-15 s)


def _chart(at: AppTest, key: str) -> dict:
    """The plotly figure (as JSON) of the chart whose widget key is ``key``."""
    for element in at.get("plotly_chart"):
        if element.proto.id.endswith(f"-{key}"):
            return json.loads(element.proto.spec)
    raise AssertionError(f"no plotly chart '{key}' on the page")


def _texts(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def test_the_survival_sample_opens_from_home_and_the_cohort_page_shows_its_curves():
    at = open_page()
    at.button(key="home_open_survival_sample").click().run()
    assert not at.exception
    assert at.success[0].value == "The survival sample study is open."
    study = at.session_state["study"]
    assert isinstance(study.spec.outcome, SurvivalOutcome) and study.is_sample
    at.switch_page("pages/cohort.py").run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Patients"] == "1001" and metrics["Events (death)"] == str(study.n_events)
    assert metrics["Censored (alive)"] == str(1001 - study.n_events)
    assert float(metrics["Median follow-up (months)"]) > 12
    figure = _chart(at, "coh_kaplan_meier")
    roles = {(trace.get("meta") or {}).get("role") for trace in figure["data"]}
    groups = {(trace.get("meta") or {}).get("group") for trace in figure["data"]}
    assert {"curve", "at_risk"} <= roles and {"Train", "Test"} <= groups
    assert "log-rank p" in json.dumps(figure["layout"])
    # Table 1 by event status, then the outcome's rows (follow-up, event-free at each horizon)
    table1 = at.dataframe[0].value
    assert "Train: death (n=" in " ".join(table1.columns) and "Train p" in table1.columns
    outcome_rows = next(f.value for f in at.dataframe if "label" in f.value.columns and "Train" in f.value.columns)
    assert any(label.startswith("Median follow-up, months") for label in outcome_rows["label"])
    assert sum(label.startswith("Event-free at") for label in outcome_rows["label"]) == 3
    # distributions by event vs censored work, categorical and continuous
    at.selectbox(key="coh_plot_variable").set_value("ct_stage").run()
    assert not at.exception
    # and the binary sample opens again exactly as before: four metrics, no curve
    at.radio(key="coh_source").set_value("Sample study").run()
    at.button(key="coh_open_sample").click().run()
    assert not at.exception
    assert [m.label for m in at.metric] == ["Patients", "Events (LM)", "Training cohort", "Test cohort"]
    assert not any(e.proto.id.endswith("-coh_kaplan_meier") for e in at.get("plotly_chart"))


@pytest.fixture()
def survival_root(tmp_path, monkeypatch):
    """A data root holding the sample's clinical table joined with its overall survival (300 patients), and the
    same with one follow-up time of 0."""
    joined = pd.read_csv(SAMPLE_CLINICAL).merge(pd.read_csv(SAMPLE_SURVIVAL), on="patient_id").head(300)
    joined.to_csv(tmp_path / "os.csv", index=False)
    joined.assign(os_months=joined["os_months"].where(joined.index != 4, 0.0)).to_csv(tmp_path / "os_zero.csv",
                                                                                        index=False)
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    return tmp_path


def _survival_form(name: str, horizons: str = "12, 36, 60") -> AppTest:
    at = open_page("pages/cohort.py")
    at.radio(key="coh_source").set_value("File on the server").run()
    at.text_input(key="coh_server_path").input(name).run()
    at.button(key="coh_read_server").click().run()
    assert not at.exception
    at.radio(key="coh_outcome_kind").set_value("survival").run()
    assert not at.exception
    # the time and event columns are guessed from their names; chosen explicitly here all the same
    assert at.selectbox(key="coh_time_column").value == "os_months"
    assert at.selectbox(key="coh_event_column").value == "death"
    at.selectbox(key="coh_id_column").set_value("patient_id").run()
    at.multiselect(key="coh_continuous").set_value(["age", "cea_ng_ml"]).run()
    at.multiselect(key="coh_categorical").set_value(["ct_stage", "cn_stage"]).run()
    at.text_input(key="coh_event_label").input("death").run()
    at.text_input(key="coh_censored_label").input("alive").run()
    at.text_input(key="coh_horizons").input(horizons).run()
    at.button(key="coh_use_draft").click().run()
    assert not at.exception
    return at


def test_a_survival_cohort_built_through_the_form_opens_with_its_curves(survival_root):
    at = _survival_form("os.csv", horizons="60; 12, 36")
    assert not _texts(at), _texts(at)
    study = at.session_state["study"]
    outcome = study.spec.outcome
    assert isinstance(outcome, SurvivalOutcome) and study.name == "os" and len(study.cohort) == 300
    assert (outcome.time_column, outcome.event_column, outcome.time_unit) == ("os_months", "death", "months")
    assert outcome.horizons == (12.0, 36.0, 60.0) and outcome.labels == ("alive", "death")
    assert study.spec.variables == ("age", "cea_ng_ml", "ct_stage", "cn_stage")
    assert study.settings.score_method == "cox_refit"  # the time-to-event defaults
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Events (death)"] == str(study.n_events) and "Median follow-up (months)" in metrics
    assert {"Train", "Test"} <= {(t.get("meta") or {}).get("group") for t in _chart(at, "coh_kaplan_meier")["data"]}


@pytest.mark.parametrize(("name", "horizons", "message"), [
    ("os.csv", "12, soon, 60", "'soon' is not a time > 0; type the horizons as times in months"),
    ("os.csv", "", "give at least one horizon"),
    ("os_zero.csv", "12, 36, 60", "follow-up time 'os_months' is 0 for 1 patient(s)"),
])
def test_the_form_refuses_a_bad_horizon_text_and_a_time_of_zero_clearly(survival_root, name, horizons, message):
    at = _survival_form(name, horizons=horizons)
    assert any(message in text for text in _texts(at)), _texts(at)
    assert at.session_state["study"].is_sample  # the open study is unchanged
    assert at.selectbox(key="coh_time_column").value == "os_months"  # the draft stays, to be corrected
