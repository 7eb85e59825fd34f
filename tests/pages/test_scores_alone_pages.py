"""A study of scores alone (a feature table and an outcome, no clinical variable) on every page: each page
renders without an error, shows the score models, and the pages that would show a clinical model say why
there is none. The clinical predictors can be chosen on Models before anything is fitted, "none" included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.stats.cohort import CohortSpec, SplitConfig
from core.workflows.study import FeatureFamily, make_study
from tests.pages.apptest_helpers import open_study_page, page_texts

PAGES = ["pages/cohort.py", "pages/selection.py", "pages/models.py", "pages/evaluation.py", "pages/nomogram.py",
         "pages/validation.py", "pages/subgroups.py", "pages/external.py", "pages/new_patient.py", "pages/home.py"]


def _study(continuous: tuple[str, ...] = ()):
    rng = np.random.default_rng(11)
    n = 160
    ids = [f"P{i:03d}" for i in range(n)]
    X = pd.DataFrame(rng.normal(size=(n, 30)) * 4, index=pd.Index(ids, name="ID"),
                     columns=[f"original_firstorder_F{j}" for j in range(30)])
    logit = 0.5 * X.iloc[:, 0] - 0.4 * X.iloc[:, 1]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    cohort = pd.DataFrame({"pid": ids, "event": y, "sex": rng.choice(["F", "M"], n), "noise": rng.normal(size=n)})
    spec = CohortSpec(id_column="pid", outcome_column="event", continuous=continuous)
    return make_study("scores alone", cohort, spec, SplitConfig(seed=1),
                      families=[FeatureFamily(name="radiomics", label="Radiomics", table=X)])


_run = open_study_page


_texts = page_texts


@pytest.mark.parametrize("page", PAGES)
def test_every_page_works_for_a_study_of_scores_alone(page):
    at = _run(_study(), page)
    assert not at.error, [e.value for e in at.error]
    if page in ("pages/models.py", "pages/nomogram.py", "pages/evaluation.py"):
        assert "no clinical model" in _texts(at)


def test_the_clinical_predictors_are_chosen_before_any_fit_none_included():
    at = _run(_study(continuous=("noise",)), "pages/models.py")
    assert not at.error
    picker = at.multiselect(key="mod_clinical")
    picker.set_value(["noise"]).run()
    assert not at.exception and not at.error
    assert at.session_state["study"].settings.clinical_continuous == ("noise",)
    assert any("Multivariable clinical model" in m.value for m in at.markdown)
    at.multiselect(key="mod_clinical").set_value([]).run()
    assert not at.exception and not at.error
    settings = at.session_state["study"].settings
    assert settings.clinical_continuous == () and settings.clinical_categorical == ()
    assert "none was chosen" in _texts(at)
    assert not any("Multivariable clinical model" in m.value for m in at.markdown)
