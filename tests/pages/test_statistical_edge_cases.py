"""Statistical edge cases through the pages: perfect separation, a LASSO that keeps nothing, fewer than
10 events per variable, a single-level categorical variable and a tiny test cohort each give a clear
message and no crash."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from core.stats.cohort import CohortSpec, SplitConfig
from core.workflows.study import FeatureFamily, ModelSettings, make_study
from tests.pages.apptest_helpers import open_study_page


def _study(settings: ModelSettings, *, n: int = 160, test_size: float = 0.3, informative: bool = True):
    """A small synthetic study: a separating variable, a one-level category, noise or informative features."""
    rng = np.random.default_rng(4)
    y = (rng.random(n) < 0.3).astype(int)
    cohort = pd.DataFrame({"pid": [f"P{i:03d}" for i in range(n)], "event": y,
                           "age": rng.normal(60, 10, n).round(1), "marker": rng.normal(y, 1.0).round(3),
                           "separator": (y * 10 + rng.random(n)).round(3),
                           "grade": rng.choice(["G1", "G2", "G3"], n), "site": "one site"})
    spec = CohortSpec(id_column="pid", outcome_column="event", continuous=("age", "marker", "separator"),
                      categorical=("grade", "site"))
    features = rng.normal(size=(n, 40))
    if informative:
        features[:, :3] += 1.5 * y[:, None]
    radiomics = pd.DataFrame(features * 5, index=pd.Index(cohort["pid"], name="ID"),
                             columns=[f"original_firstorder_F{j}" for j in range(40)])
    return make_study("edge case", cohort, spec, SplitConfig(test_size=test_size, seed=1),
                      families=[FeatureFamily(name="radiomics", label="Radiomics", table=radiomics)], settings=settings)


_run = open_study_page


def _texts(elements) -> list[str]:
    return [e.value for e in elements]


BASE = ModelSettings(clinical_continuous=("age", "marker"), clinical_categorical=())


def test_perfect_separation_is_named():
    at = _run(_study(dataclasses.replace(BASE, clinical_continuous=("separator",))), "pages/models.py")
    assert any("perfectly (or almost perfectly) separated by ['separator']" in m for m in _texts(at.error))


def test_a_single_level_categorical_variable_is_named():
    at = _run(_study(dataclasses.replace(BASE, clinical_categorical=("site",))), "pages/models.py")
    assert any("['site'] have one level only in the training cohort" in m for m in _texts(at.error))


def test_a_lasso_that_keeps_nothing_says_so_and_the_clinical_model_still_works():
    from core.stats.selection import ScreeningSettings

    # Every noise feature reaches the LASSO (p < 1): at lambda.1se it keeps none of them.
    settings = dataclasses.replace(BASE, screening=ScreeningSettings(p_threshold=1.0))
    at = _run(_study(settings, informative=False), "pages/models.py")
    notes = _texts(at.info) + _texts(at.warning)
    assert any("the LASSO kept no feature" in m for m in notes), notes
    assert not at.error
    at.switch_page("pages/evaluation.py").run()
    assert not at.exception and not at.error  # the clinical model alone is evaluated


def test_fewer_than_ten_events_per_variable_is_warned():
    settings = dataclasses.replace(BASE, clinical_categorical=("grade",))
    at = _run(_study(settings, n=100), "pages/models.py")
    assert any("events per estimated coefficient (fewer than 10)" in m for m in _texts(at.warning))


@pytest.mark.parametrize("page", ["pages/evaluation.py", "pages/nomogram.py", "pages/external.py"])
def test_a_tiny_test_cohort_is_warned_and_nothing_crashes(page):
    at = _run(_study(BASE, n=60, test_size=0.1), page)
    assert not at.error, _texts(at.error)
    if page == "pages/evaluation.py":
        assert any("rest on very few patients" in m for m in _texts(at.warning))
