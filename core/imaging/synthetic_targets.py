"""The reference study's published Table 1, and the per-outcome targets the synthetic cohort is built to.

Source: Guo et al., Front. Oncol. 2025;15:1613972, Table 1 (summarised in the project's
reference-study notes). The study reports a training (n = 701) and a test (n = 300) cohort;
the generator mirrors the two combined, per outcome (non-LM n = 689, LM n = 312).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import sqrt

__all__ = [
    "PUBLISHED_TABLE1",
    "ContinuousTarget",
    "combined_continuous",
    "combined_proportions",
]

# Per characteristic: {level: (train non-LM, train LM, test non-LM, test LM)} counts, or for the
# continuous ones (mean, SD) per group in the same order. Group sizes: 475, 226, 214, 86.
GROUP_SIZES = (475, 226, 214, 86)

PUBLISHED_TABLE1: dict[str, dict[str, tuple[float, float, float, float]] | tuple] = {
    "age": ((58.91, 10.15), (61.06, 10.63), (59.40, 10.62), (60.92, 10.18)),
    "tumour_thickness_mm": ((16.79, 5.81), (19.15, 7.41), (16.89, 7.36), (20.46, 7.47)),
    "sex": {"female": (107, 37, 59, 19), "male": (368, 189, 155, 67)},
    "location": {
        "cardia_fundus": (181, 61, 75, 32),
        "body": (81, 44, 40, 15),
        "antrum": (119, 57, 60, 18),
        "over_two_thirds": (94, 64, 39, 21),
    },
    "ct_stage": {"T1": (34, 19, 28, 4), "T2": (85, 32, 39, 9), "T3": (219, 104, 98, 43), "T4": (137, 71, 49, 30)},
    "cn_stage": {"N0": (151, 46, 78, 15), "N1": (90, 64, 38, 21), "N2": (115, 72, 41, 27), "N3": (119, 44, 57, 23)},
    # The published test-LM differentiation counts (33 + 35) do not add up to 86; the combined
    # LM proportion below renormalises the published counts (166 / 294 poorly differentiated).
    "differentiation": {"poor": (255, 133, 118, 33), "moderate_high": (220, 93, 96, 35)},
    "lauren": {"intestinal": (175, 84, 68, 43), "diffuse": (151, 82, 70, 22), "mixed": (149, 60, 76, 21)},
    "her2": {"negative": (217, 90, 82, 34), "positive": (258, 136, 132, 52)},
    # Dichotomised in the paper; the generator draws continuous values with these exceedances.
    "cea_above_5": {"yes": (90, 93, 40, 43), "no": (385, 133, 174, 43)},
    "ca19_9_above_37": {"yes": (64, 71, 32, 30), "no": (411, 155, 182, 56)},
}


@dataclass(frozen=True, slots=True)
class ContinuousTarget:
    """Mean and standard deviation of a continuous variable in one outcome group (variable's units)."""

    mean: float
    sd: float


def combined_continuous(name: str) -> dict[int, ContinuousTarget]:
    """Pool the published train and test mean +- SD per outcome.

    Returns ``{0: non-LM target, 1: LM target}``; the pooled SD includes the between-cohort
    spread (the exact variance of the union of both cohorts).
    """
    groups = PUBLISHED_TABLE1[name]
    result = {}
    for outcome, (train_idx, test_idx) in {0: (0, 2), 1: (1, 3)}.items():
        (m1, s1), (m2, s2) = groups[train_idx], groups[test_idx]
        n1, n2 = GROUP_SIZES[train_idx], GROUP_SIZES[test_idx]
        n = n1 + n2
        mean = (n1 * m1 + n2 * m2) / n
        ss = (n1 - 1) * s1**2 + (n2 - 1) * s2**2 + n1 * (m1 - mean) ** 2 + n2 * (m2 - mean) ** 2
        result[outcome] = ContinuousTarget(mean=mean, sd=sqrt(ss / (n - 1)))
    return result


def combined_proportions(name: str) -> dict[int, dict[str, float]]:
    """Per-outcome level proportions of a categorical characteristic, train and test combined.

    Returns ``{0: {level: proportion}, 1: {...}}``; proportions in each group sum to 1.
    """
    levels = PUBLISHED_TABLE1[name]
    result: dict[int, dict[str, float]] = {}
    for outcome, idx in {0: (0, 2), 1: (1, 3)}.items():
        counts = {level: sum(c[i] for i in idx) for level, c in levels.items()}
        total = sum(counts.values())
        result[outcome] = {level: count / total for level, count in counts.items()}
    return result
