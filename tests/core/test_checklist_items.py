"""The reporting checklists as shipped (core.workflows.checklist_items): their full item counts, numbering and
sources, and the METRICS score against hand computations."""

from __future__ import annotations

import math

import pytest

from core.errors import RadNomoError
from core.workflows.checklist_items import CHECKLISTS, checklist_items, metrics_score


def test_each_checklist_has_its_full_item_count_and_numbering():
    tripod = checklist_items("tripod_ai")
    assert len(tripod) == 52 and len({item.number.rstrip("abcdefg") for item in tripod}) == 27
    assert [i.number for i in tripod if i.number.startswith("12")] == [f"12{s}" for s in "abcdefg"]
    assert {i.part for i in tripod} == {"D", "E", "D;E"}
    assert [i.number for i in checklist_items("clear")] == [str(n) for n in range(1, 59)]
    metrics = checklist_items("metrics")
    assert [i.number for i in metrics] == [str(n) for n in range(1, 31)] and len({i.section for i in metrics}) == 9
    assert math.isclose(math.fsum(i.weight for i in metrics), 1.0, abs_tol=1e-9)
    probast = checklist_items("probast_ai")
    assert sum(i.part == "development" for i in probast) == 16 and sum(i.part == "evaluation" for i in probast) == 18
    assert len({i.section for i in probast}) == 4
    for key in CHECKLISTS:
        assert all(item.text and item.source for item in checklist_items(key))


def test_the_metrics_score_equals_a_hand_computation():
    weights = {i.number: i.weight for i in checklist_items("metrics")}
    conditional = {i.number: i.condition for i in checklist_items("metrics") if i.condition}
    assert conditional == {"8": "segmentation", "9": "auto_segmentation", "10": "segmentation",
                           "12": "hand_crafted", "14": "tabular", "15": "tabular", "16": "tabular",
                           "17": "end_to_end_dl"}
    # Every item met: 100 %, whatever applies.
    everything = metrics_score({str(n) for n in range(1, 31)} - {"9", "17"},
                               {"segmentation", "hand_crafted", "tabular"})
    assert everything.score == pytest.approx(100.0) and everything.band == "excellent" and everything.lost == ()
    # A hand-crafted, manually segmented, tabular study meeting items 1-7 and 11-16 only: the weights of 9 and 17
    # (conditions absent) leave both sums.
    met = {str(n) for n in (*range(1, 8), *range(11, 17))}
    applicable = [n for n in weights if n not in ("9", "17")]
    expected = 100 * sum(weights[n] for n in met) / sum(weights[n] for n in applicable)
    score = metrics_score(met, {"segmentation", "hand_crafted", "tabular"})
    assert score.score == pytest.approx(expected, rel=1e-12) and "9" not in score.applicable
    assert score.lost[0][1] == pytest.approx(100 * max(weights[n] for n in applicable if n not in met)
                                             / sum(weights[n] for n in applicable))
    assert score.band == {0: "very low", 1: "low", 2: "moderate", 3: "good", 4: "excellent"}[min(int(expected // 20),
                                                                                                 4)]
    # The same study with external testing gained (item 27 met): its points come back.
    assert metrics_score(met | {"27"}, {"segmentation", "hand_crafted", "tabular"}).score > score.score


def test_unknown_items_and_checklists_are_refused():
    with pytest.raises(RadNomoError, match="no checklist"):
        checklist_items("stard")
    with pytest.raises(RadNomoError, match="no item"):
        metrics_score({"31"}, set())
    with pytest.raises(RadNomoError, match="does not apply"):
        metrics_score({"17"}, {"tabular"})
