"""Cut-offs placed as R pROC places them: the Youden and target-sensitivity cut-offs at the midpoints between
neighbouring training scores (known answers from tests/reference/proc_cutoffs.R, brute force, edge cases)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.stats.evaluation import Confusion, binary_metrics, confusion_counts, cutoff_for_sensitivity, youden_cutoff

REFERENCE = Path(__file__).resolve().parents[1] / "reference"


def _proc_cutoff_cases() -> list:
    """(data set, score, rule, target, answer row) of tests/reference/proc_cutoffs.csv (made by proc_cutoffs.R)."""
    answers = pd.read_csv(REFERENCE / "proc_cutoffs.csv")
    return [pytest.param(row, id=f"{row.dataset}-{row.score}-{row.rule}-{row.target:g}")
            for row in answers.itertuples()]


def _proc_cutoff_data(dataset: str, score: str) -> tuple[pd.Series, pd.Series]:
    if dataset == "rounded":
        data = pd.read_csv(REFERENCE / "proc_delong_data.csv")
        return data["y"], data[score]
    if dataset == "ties":
        data = pd.read_csv(REFERENCE / "proc_cutoffs_ties.csv")
        return (data["y_tied_j"] if score == "tied_j" else data["y"]), data[score]
    data = pd.read_csv(REFERENCE / "proc_cutoffs_sample.csv")
    return data["y"], data[score]


@pytest.mark.parametrize("row", _proc_cutoff_cases())
def test_cutoffs_are_procs_midpoints(row):
    """pROC 1.18's coords(): the Youden cut-off ("best"; the highest of tied ones) and the highest threshold
    reaching a target sensitivity, on rounded scores, integer scores with heavy ties, tied J, an inverted score
    and the sample study's training probabilities. Same method and arithmetic ((a + b) / 2 of the same doubles),
    so the cut-offs agree to the last bits (1e-12: R's and Python's decimal parsers of the 17-digit CSV);
    sensitivity and specificity exactly as counts over the same patients."""
    y, score = _proc_cutoff_data(row.dataset, row.score)
    if row.rule == "youden":
        cutoff = youden_cutoff(y, score)
        # pROC lists every tied cut-off; +Inf (nobody positive) is no rule, so its tie below is taken.
        expected = row.low_threshold if np.isposinf(row.threshold) else row.threshold
    else:
        cutoff = cutoff_for_sensitivity(y, score, row.target)
        expected = row.threshold
    if np.isneginf(expected):
        # pROC's -Inf (every patient positive): the lowest training score, which every training patient reaches.
        assert cutoff == score.min()
        return
    assert cutoff == pytest.approx(expected, abs=1e-12, rel=0)
    assert not np.isclose(score, cutoff, rtol=0, atol=1e-12).any()  # no training patient sits on a midpoint
    metrics = binary_metrics(y, score, cutoff)
    if not np.isposinf(row.threshold):
        assert metrics.loc["SENS", "estimate"] == pytest.approx(row.sensitivity, abs=1e-15)
        assert metrics.loc["SPEC", "estimate"] == pytest.approx(row.specificity, abs=1e-15)


def test_cutoff_ties_extremes_and_adjacent_doubles():
    # Tied J (cut-offs 1.5 and 3.5 both give J = 0.5): the higher, the more specific rule.
    assert youden_cutoff([0, 1, 0, 1], [1, 2, 3, 4]) == 3.5
    # A constant or inverted score: the best rule calls everyone positive (pROC: -Inf): the lowest score instead.
    assert youden_cutoff([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3]) == 0.3
    assert youden_cutoff([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == 0.1
    assert cutoff_for_sensitivity([1, 0, 1, 0], [0.1, 0.2, 0.3, 0.4], 1.0) == 0.1
    assert cutoff_for_sensitivity([0, 1, 1, 0], [0.1, 0.2, 0.3, 0.4], 1.0) == pytest.approx(0.15)
    # Neighbours with no double between them: the midpoint would round onto the lower one; as pROC, the upper
    # one is taken, so the cut-off still separates them.
    low, high = 0.5, float(np.nextafter(0.5, 1.0))
    assert youden_cutoff([0, 1], [low, high]) == high
    assert confusion_counts([0, 1], [low, high], youden_cutoff([0, 1], [low, high])) == Confusion(1, 0, 1, 0)
    # Midpoints of huge scores are taken as a / 2 + b / 2 (a + b would overflow).
    assert youden_cutoff([0, 1], [-1e308, 1e308]) == 0.0 and youden_cutoff([0, 1], [1e308, 1.5e308]) == 1.25e308
    with pytest.raises(RadNomoError, match=r"\(0, 1\]"):
        cutoff_for_sensitivity([0, 1], [0.2, 0.4], 0.0)


cutoff_rows = st.lists(st.tuples(st.integers(0, 1), st.integers(0, 9)), min_size=2, max_size=40)


@given(rows=cutoff_rows, target=st.sampled_from([0.3, 0.5, 0.8, 0.9, 1.0]))
def test_cutoffs_by_brute_force(rows, target):
    """Against every split of the sorted unique scores: the Youden cut-off has the largest J (the highest such
    split), the sensitivity cut-off is the highest split reaching the target, and each sits midway between the
    two neighbouring scores it separates (the lowest score where everyone is positive)."""
    data = np.array(rows, dtype=float)
    y, score = data[:, 0], data[:, 1] / 4
    if len(np.unique(y)) < 2:
        return
    unique = np.unique(score)
    # Split k: positive are the scores >= unique[k]; the cut-off placed midway below unique[k] (k = 0: everyone).
    splits = [(k, (score >= unique[k]).astype(int)) for k in range(len(unique))]
    sens = [np.mean(p[y == 1]) for _, p in splits]
    j = [np.mean(p[y == 1]) + 1 - np.mean(p[y == 0]) for _, p in splits]
    place = [unique[0]] + [(unique[k - 1] + unique[k]) / 2 for k in range(1, len(unique))]
    best = max(k for k in range(len(unique)) if np.isclose(j[k], max(j), rtol=0, atol=1e-12))
    assert youden_cutoff(y, score) == place[best]
    assert cutoff_for_sensitivity(y, score, target) == place[max(k for k in range(len(unique))
                                                                if sens[k] >= target)]


def test_the_report_says_where_the_cutoff_sits():
    from types import SimpleNamespace

    from core.workflows.report import _cutoff_words
    from core.workflows.study import EvaluationSettings

    youden = _cutoff_words(SimpleNamespace(evaluation=EvaluationSettings()))
    sensitivity = _cutoff_words(SimpleNamespace(evaluation=EvaluationSettings(cutoff_rule="sensitivity",
                                                                              cutoff_value=0.9)))
    assert "Youden" in youden and "midway between neighbouring training predictions" in youden
    assert "sensitivity of 0.9" in sensitivity and "pROC" in sensitivity
    assert "midway" not in _cutoff_words(SimpleNamespace(evaluation=EvaluationSettings(cutoff_rule="fixed",
                                                                                      cutoff_value=0.3)))
