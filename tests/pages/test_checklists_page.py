"""AppTest of the Checklists page (issue 30): the sample study's checklists filled from its run, the METRICS score
with what would earn the missing points, PROBAST+AI, the participant flow and the drafted Methods."""

from __future__ import annotations

import pytest

from tests.pages.apptest_helpers import open_page


@pytest.mark.slow
def test_the_checklists_page_fills_every_checklist_from_the_sample_study():
    import ui
    from core.workflows.report import study_facts
    from core.workflows.study_checklists import study_metrics

    at = open_page("pages/checklists.py", timeout=300)
    assert not at.exception and not at.error
    study = at.session_state["study"]
    shown = {m.label: m.value for m in at.metric}
    expected = study_metrics(study_facts(ui.results(study)))
    assert shown["METRICS score"] == f"{expected.score:.1f} %" and shown["Quality band"] == expected.band
    sizes = sorted(len(frame.value) for frame in at.dataframe)
    assert sizes == [30, 34, 52, 58]  # METRICS, PROBAST+AI (16 + 18), TRIPOD+AI (27 items, 52 rows), CLEAR
    metrics = next(frame.value for frame in at.dataframe if len(frame.value) == 30).set_index("item")
    assert metrics.loc["27", "status"] == "not done"  # no external cohort in this session
    assert any("METRICS 27" in m.value for m in at.markdown)  # what would earn the missing points
    methods = at.text_area(key="cl_methods").value
    assert "training" in methods and len(methods) > 400
    assert any(f"{len(study.cohort):,} patients were in the study's table" in m.value for m in at.markdown)


@pytest.mark.slow
def test_an_authors_answer_is_kept_with_the_study():
    at = open_page("pages/checklists.py", timeout=300)
    item = at.selectbox(key="cl_author_item_tripod_ai").value
    at.text_area(key=f"cl_author_text_tripod_ai_{item}").set_value("Approved by the ethics board (ref 12).").run()
    at.button(key="cl_author_save_tripod_ai").click().run()
    assert not at.exception and not at.error
    assert at.session_state["study"].author_notes == {f"tripod_ai:{item}": "Approved by the ethics board (ref 12)."}
    tripod = next(frame.value for frame in at.dataframe if len(frame.value) == 52).set_index("item")
    assert tripod.loc[item, "status"] == "by the author"
