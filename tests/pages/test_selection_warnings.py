"""AppTest: the Selection page says when the LASSO path stopped at its iteration limit (nothing silent)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.pages.apptest_helpers import open_study_page


def _small_study():
    from core.stats.cohort import CohortSpec, SplitConfig
    from core.workflows.study import FeatureFamily, ModelSettings, make_study

    rng = np.random.default_rng(5)
    n = 120
    ids = [f"P{i:03d}" for i in range(n)]
    signal = rng.normal(size=n)
    outcome = (rng.random(n) < 1 / (1 + np.exp(-2 * signal))).astype(int)
    clinical = pd.DataFrame({"pid": ids, "age": rng.normal(60, 10, n).round(), "event": outcome})
    features = pd.DataFrame({f"f{j}": signal * (3 if j < 4 else 0) + rng.normal(0, 3, n) for j in range(20)},
                            index=ids)
    spec = CohortSpec(id_column="pid", outcome_column="event", continuous=("age",))
    family = FeatureFamily(name="radiomics", label="Radiomics", table=features, kind="imported", source="test")
    return make_study("warnings", clinical, spec, SplitConfig(seed=1), families=[family],
                      settings=ModelSettings(clinical_continuous=("age",), clinical_categorical=()))


def test_selection_page_warns_of_an_unconverged_lasso(monkeypatch):
    import core.stats.selection as selection

    real = selection.lasso_cv
    monkeypatch.setattr(selection, "lasso_cv", lambda *args, **kwargs: real(*args, **kwargs, max_iter=2))
    at = open_study_page(_small_study(), "pages/selection.py", timeout=240)
    warnings = [w.value for w in at.warning]
    assert any("stopped at its iteration limit (2 coordinate-descent sweeps per lambda)" in w for w in warnings), \
        warnings
