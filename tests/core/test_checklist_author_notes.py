"""The author's own answers to the checklist items the run cannot know (ethics, funding ...): saved with the study
(not part of any fingerprint), shown as "by the author" with their text, and counted by the METRICS score."""

from __future__ import annotations

import json

import pytest

from core.errors import RadNomoError
from core.workflows.persistence import STUDY_FILE, load_study, save_study
from core.workflows.results import StudyResults
from core.workflows.report import study_facts
from core.workflows.study_checklists import author_key, study_checklist, study_metrics


@pytest.fixture(scope="module")
def results(sample_study):
    return StudyResults(sample_study)


def test_an_authors_answer_is_saved_with_the_study_and_shown_as_theirs(results, sample_study, tmp_path):
    before = study_checklist(study_facts(results), "metrics").set_index("item")
    item = next(number for number, status in before["status"].items() if status == "for the author")
    written = sample_study.replace(author_notes={author_key("metrics", item): "Approved by the ethics board (ref 12)."})
    assert written.model_fingerprint == sample_study.model_fingerprint  # a note refits nothing
    loaded = load_study(save_study(written, tmp_path / "study"))
    assert loaded.author_notes == written.author_notes
    facts = study_facts(StudyResults(loaded))
    row = study_checklist(facts, "metrics").set_index("item").loc[item]
    assert (row["status"], row["evidence"], row["where"]) == ("by the author", "Approved by the ethics board (ref 12).",
                                                              "")
    # The author's answer counts as met: the score rises by exactly that item's share.
    gained = study_metrics(facts).score - study_metrics(study_facts(results)).score
    lost = dict(study_metrics(study_facts(results)).lost)
    assert gained == pytest.approx(lost[item])


def test_malformed_saved_notes_are_refused(sample_study, tmp_path):
    folder = save_study(sample_study, tmp_path / "study")
    description = json.loads((folder / STUDY_FILE).read_text())
    description["author_notes"] = {"metrics:1": 7}
    (folder / STUDY_FILE).write_text(json.dumps(description))
    with pytest.raises(RadNomoError, match="checklist notes are malformed"):
        load_study(folder)
