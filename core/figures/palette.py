"""Colours fixed per model and per cohort across every figure of the product (Okabe-Ito: colour-blind safe).

The clinical model is always grey and the fused model vermillion; score families take the remaining
Okabe-Ito colours in the study's order (the sample's radiomics, DL and DL-radiomics scores: orange, sky
blue, bluish green). Cohorts: training, test, then external cohorts and subgroups in the order given.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.vocabulary import CLINICAL, FUSED

__all__ = ["OUTCOME_COLOURS", "OKABE_ITO", "model_colours", "cohort_colours"]

# Okabe & Ito (2008), "Color universal design": distinguishable with every common colour-vision deficiency.
OKABE_ITO = {"orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73", "yellow": "#F0E442",
             "blue": "#0072B2", "vermillion": "#D55E00", "reddish_purple": "#CC79A7", "grey": "#999999",
             "black": "#000000"}
# Outcome 0 / 1.
OUTCOME_COLOURS = (OKABE_ITO["blue"], OKABE_ITO["vermillion"])
_FAMILY_ORDER = ("orange", "sky_blue", "bluish_green", "reddish_purple", "blue", "yellow", "black")
_COHORT_ORDER = ("blue", "vermillion", "bluish_green", "orange", "reddish_purple", "sky_blue", "yellow", "black",
                 "grey")


def model_colours(models: Sequence[str]) -> dict[str, str]:
    """A colour per model: clinical grey, fused vermillion, the score families in order after them."""
    colours, families = {}, [m for m in models if m not in (CLINICAL, FUSED)]
    for index, model in enumerate(families):
        colours[model] = OKABE_ITO[_FAMILY_ORDER[index % len(_FAMILY_ORDER)]]
    colours[CLINICAL] = OKABE_ITO["grey"]
    colours[FUSED] = OKABE_ITO["vermillion"]
    return {m: colours[m] for m in models}


def cohort_colours(cohorts: Sequence[str]) -> dict[str, str]:
    """A colour per cohort or subgroup, in the order given (training first, then test, ...)."""
    return {c: OKABE_ITO[_COHORT_ORDER[i % len(_COHORT_ORDER)]] for i, c in enumerate(cohorts)}
