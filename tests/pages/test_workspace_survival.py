"""The home page with the time-to-event sample study: its info line says what it predicts (overall survival, not
liver metastasis), and it is saved to the workspace and reopened from there as the same study (AppTest)."""

from __future__ import annotations

import pytest

from core.stats.outcomes import SurvivalOutcome
from tests.pages.apptest_helpers import open_page


def _info(at) -> str:
    texts = [element.value for element in at.info if "Open study" in element.value]
    assert len(texts) == 1, texts
    return texts[0]


def test_the_home_page_says_the_survival_sample_predicts_overall_survival():
    at = open_page()
    assert "liver metastasis" in _info(at)  # the binary sample, as before
    at.button(key="home_open_survival_sample").click().run()
    assert not at.exception
    info = _info(at)
    assert "overall survival" in info and "1001 synthetic" in info
    assert "12 months, 36 months, 60 months" in info and "death = event, alive = censored" in info
    assert "liver metastasis" not in info and "metastasis" not in info


@pytest.mark.slow
def test_the_survival_sample_is_saved_and_reopened_from_the_home_page(workspace):
    from core.workflows.persistence import load_study, load_study_models

    at = open_page(timeout=300)
    at.button(key="home_open_survival_sample").click().run()
    opened = at.session_state["study"]
    at.button(key="home_save").click().run()  # fits it first: a save keeps the models with the study
    assert not at.exception and "Saved to" in at.success[0].value
    at.run()
    choice = at.selectbox(key="home_saved_choice")
    assert len(choice.options) == 1
    folder = choice.value
    at.session_state["study"] = None  # forget the open study: the saved one must come back by itself
    at.button(key="home_open_saved").click().run()
    assert not at.exception
    study = at.session_state["study"]
    assert isinstance(study.spec.outcome, SurvivalOutcome) and study.spec == opened.spec
    assert study.settings == opened.settings and study.settings.score_method == "cox_refit"
    assert study.split == opened.split and study.fingerprint == opened.fingerprint
    assert "overall survival" in _info(at)
    models = load_study_models(folder, load_study(folder))
    assert models is not None and models.outcome_kind == "survival"
    assert models.model_names == ["clinical", "radiomics", "dl", "dl_radiomics", "fused"]


def test_the_guided_tour_asks_for_the_binary_sample_when_the_survival_sample_is_open():
    at = open_page()
    at.button(key="home_open_survival_sample").click().run()
    at.switch_page("pages/walkthrough.py").run()
    assert not at.exception and not at.error
    assert any("sample study of liver metastasis (a binary outcome)" in element.value for element in at.info)
    assert "walk_next" not in [b.key for b in at.button]  # nothing of the tour is drawn on the survival sample
    at.button(key="walk_open_sample").click().run()
    assert not at.exception and at.session_state["study"].spec.outcome.kind == "binary"
