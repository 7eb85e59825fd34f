"""The reporting checklists' items and the METRICS score (the groundwork of a study's filled checklists).

Four checklists, each a table shipped in ``core/workflows/checklists/`` with every item's number, its section and
the item in our own short words (never the published wording), and the source it was read from:

- TRIPOD+AI (Collins et al., BMJ 2024;385:e078378): 27 items, 52 rows with their lettered sub-items, each tagged
  D (model development), E (evaluation) or both;
- CLEAR (Kocak et al., Insights into Imaging 2023;14:75): 58 items;
- METRICS (Kocak et al., Insights into Imaging 2024;15:8): 30 items in 9 categories, each with its published weight
  and, for some, the condition under which it applies (segmentation, fully automatic segmentation, hand-crafted
  features, tabular features, end-to-end deep learning);
- PROBAST+AI (Moons et al., BMJ 2025;388:e082505): 16 signalling questions for a model's development and 18 for its
  evaluation, in four domains.

A row the sources could not confirm says so (``confidence``); the METRICS weights of items 24-30 are such rows.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Set
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from core.errors import RadNomoError

__all__ = ["CHECKLISTS", "METRICS_BANDS", "ChecklistItem", "MetricsScore", "checklist_items", "metrics_score"]

_FOLDER = Path(__file__).resolve().parent / "checklists"

@dataclass(frozen=True)
class _Table:
    """A checklist's shipped table: its name, file, and which of its columns hold an item's section, text and
    part (a TRIPOD+AI number is its ``number`` and ``sub`` columns together)."""

    name: str
    file: str
    section: str = "section"
    text: str = "item"
    part: str = ""


#: Checklist key -> its table.
CHECKLISTS = {"tripod_ai": _Table("TRIPOD+AI", "tripod_ai.csv", part="applies"),
              "clear": _Table("CLEAR", "clear.csv"),
              "metrics": _Table("METRICS", "metrics.csv", section="category"),
              "probast_ai": _Table("PROBAST+AI", "probast_ai.csv", section="domain", text="question", part="part")}

#: METRICS quality bands: (lower bound in %, name), from the lowest (Kocak et al. 2024).
METRICS_BANDS = ((0.0, "very low"), (20.0, "low"), (40.0, "moderate"), (60.0, "good"), (80.0, "excellent"))


@dataclass(frozen=True)
class ChecklistItem:
    """One item of a reporting checklist.

    Attributes
    ----------
    checklist : str
        Its checklist's key in :data:`CHECKLISTS`.
    number : str
        The checklist's own number: "12c" (TRIPOD+AI, number and sub-item), "37" (CLEAR, METRICS), "4.5" (PROBAST+AI).
    section : str
        Where it belongs ("Methods: Sample size", a METRICS category, a PROBAST+AI domain).
    text : str
        The item in our own short words.
    part : str
        PROBAST+AI: "development" or "evaluation"; TRIPOD+AI: "D", "E" or "D;E"; "" otherwise.
    weight : float or None
        METRICS: the item's weight (the 30 sum to 1); None otherwise.
    condition : str
        METRICS: the kind of study the item applies to ("" for every study).
    confirmed : bool
        False where the sources could not confirm the row (e.g. a weight read from one third-party copy).
    source : str
    """

    checklist: str
    number: str
    section: str
    text: str
    part: str = ""
    weight: float | None = None
    condition: str = ""
    confirmed: bool = True
    source: str = ""


def _item(key: str, row: Mapping[str, str]) -> ChecklistItem:
    table = CHECKLISTS[key]
    return ChecklistItem(checklist=key, number=row["number"] + row.get("sub", ""), section=row[table.section],
                         text=row[table.text], part=row[table.part] if table.part else "",
                         weight=float(row["weight"]) if row.get("weight") else None,
                         condition=row.get("condition", ""), confirmed=row["confidence"] == "confirmed",
                         source=row["source"])


@cache
def checklist_items(key: str) -> tuple[ChecklistItem, ...]:
    """The items of the checklist ``key`` (a key of :data:`CHECKLISTS`), in the checklist's order."""
    if key not in CHECKLISTS:
        raise RadNomoError(f"there is no checklist '{key}'; the checklists are {sorted(CHECKLISTS)}.")
    with (_FOLDER / CHECKLISTS[key].file).open(newline="", encoding="utf-8") as handle:
        return tuple(_item(key, row) for row in csv.DictReader(handle))


@dataclass(frozen=True)
class MetricsScore:
    """A study's METRICS score.

    Attributes
    ----------
    score : float
        100 x (the weights of the items met) / (the weights of the items that apply), in %.
    band : str
        Its quality band (:data:`METRICS_BANDS`).
    applicable : tuple of str
        The numbers of the items that apply to the study.
    lost : tuple of (str, float)
        Each applicable item not met, with the points (in %) it costs, largest first.
    """

    score: float
    band: str
    applicable: tuple[str, ...]
    lost: tuple[tuple[str, float], ...]


def metrics_score(met: Set[str], conditions: Set[str]) -> MetricsScore:
    """The METRICS score of a study that meets the items numbered ``met`` and has the ``conditions`` (the tags of
    the conditional items that apply to it, e.g. {"segmentation", "hand_crafted", "tabular"}).

    As the METRICS tool: an item whose condition the study does not have drops out of both sums, so the score is
    100 x sum(weights met) / sum(weights applicable).
    """
    items = checklist_items("metrics")
    unknown = set(met) - {item.number for item in items}
    if unknown:
        raise RadNomoError(f"METRICS has no item {sorted(unknown)}; its items are numbered 1-{len(items)}.")
    applicable = [item for item in items if not item.condition or item.condition in conditions]
    met_applicable = [item for item in applicable if item.number in met]
    if any(item.number in met for item in items if item not in applicable):
        raise RadNomoError("an item marked met does not apply to this study (its condition is absent).")
    total = math.fsum(item.weight or 0.0 for item in applicable)
    score = 100 * math.fsum(item.weight or 0.0 for item in met_applicable) / total
    band = next(name for lower, name in reversed(METRICS_BANDS) if score >= lower)
    lost = sorted(((item.number, 100 * (item.weight or 0.0) / total) for item in applicable
                   if item.number not in met), key=lambda pair: -pair[1])
    return MetricsScore(score=score, band=band, applicable=tuple(item.number for item in applicable),
                        lost=tuple(lost))
