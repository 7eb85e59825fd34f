"""The Cohort page's minimum sample size (Riley et al. 2020; issue 28): the table and sentences beside the
events-per-variable guide, the anticipated performance and the candidate parameters as inputs, binary and survival."""

from __future__ import annotations

import pytest

from core.stats.sample_size import SAMPLE_SIZE_COLUMNS
from core.vocabulary import SAMPLE_SIZE_ANTICIPATION
from core.workflows.sample_size import AVAILABLE, candidate_parameters, study_sample_size
from tests.pages.apptest_helpers import open_page

pytestmark = pytest.mark.slow  # each test runs the app (5-15 s)


def _sample_size_table(at):
    """The page's sample-size table (a static st.table, so the Cohort page's dataframes keep their order)."""
    for table in at.table:
        if set(SAMPLE_SIZE_COLUMNS) <= set(table.value.columns):
            return table.value
    raise AssertionError("no sample-size table on the page")


def test_binary_sample_size_follows_its_inputs():
    at = open_page("pages/cohort.py")
    assert not at.error
    study = at.session_state["study"]
    count, _ = candidate_parameters(study)
    assert at.number_input(key="coh_ss_parameters").value == count
    # starts from the conservative default, as the report does
    assert at.radio(key="coh_ss_anticipation").value == "default"
    assert at.radio(key="coh_ss_anticipation").options == list(SAMPLE_SIZE_ANTICIPATION.values())
    table = _sample_size_table(at)
    expected = study_sample_size(study)
    assert table["n"].tolist() == expected.table()["n"].tolist()
    assert table["criterion"].tolist()[-1] == AVAILABLE
    shown = " ".join(w.value for w in at.warning) + " ".join(s.value for s in at.success)
    assert expected.sentences()[0] in shown
    # an anticipated C-statistic of 0.8 lowers the minimum, and the page says which C it used
    at.radio(key="coh_ss_anticipation").set_value("cstatistic").run()
    at.number_input(key="coh_ss_cstatistic").set_value(0.8).run()
    assert not at.exception and not at.error
    with_c = study_sample_size(study, cstatistic=0.8)
    assert _sample_size_table(at)["n"].tolist() == with_c.table()["n"].tolist()
    assert with_c.result.n < expected.result.n
    # few parameters and a strong model: the training cohort meets it
    at.radio(key="coh_ss_anticipation").set_value("rsquared").run()
    at.number_input(key="coh_ss_rsquared").set_value(0.3).run()
    at.number_input(key="coh_ss_parameters").set_value(3).run()
    assert not at.exception and not at.error
    assert any("meets Riley's minimum" in s.value for s in at.success)
    assert _sample_size_table(at)["n"].iloc[-2] == study_sample_size(study, parameters=3, rsquared=0.3).result.n


def test_survival_sample_size_offers_no_cstatistic():
    at = open_page()
    at.button(key="home_open_survival_sample").click().run()
    at.switch_page("pages/cohort.py").run()
    assert not at.exception and not at.error
    options = at.radio(key="coh_ss_anticipation").options
    assert SAMPLE_SIZE_ANTICIPATION["cstatistic"] not in options and len(options) == 2
    table = _sample_size_table(at)
    assert table["criterion"].tolist() == ["1", "2", "3", "final", AVAILABLE]
    study = at.session_state["study"]
    assert table["n"].tolist() == study_sample_size(study).table()["n"].tolist()
