"""The dashboard's cached results follow the open study: change, one at a time, the variable roles, the screening
settings, the split, a feature table and the name, and the models, the report and the nomogram follow each change.

The cache wrappers of ui.py are called directly (they are keyed by the study's content fingerprint); the
pages that call them are driven by the other page tests and the browser test.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import ui
from core.stats.cohort import SplitConfig, split_cohort
from core.stats.selection import ScreeningSettings
from core.workflows.study import FeatureFamily

pytestmark = pytest.mark.slow  # each test fits and reports the study several times over


@pytest.fixture(scope="module")
def base(small_study):
    study = small_study.without_family("dl").replace(name="Base study")
    return study.with_settings(clinical_continuous=("tumour_thickness_mm", "cea_ng_ml", "ca19_9_u_ml"),
                               clinical_categorical=("sex",))


def _results(study):
    models = ui.results(study).models
    return models, ui.results(study).report().html, ui.results(study).nomogram("fused")


def _title(html: str) -> str:
    return re.search(r"<h1>(.*?)</h1>", html).group(1)


def test_each_change_of_the_study_reaches_models_report_and_nomogram(base):
    models, html, nomogram = _results(base)
    assert "cea_ng_ml" in models.clinical.variables and "cea_ng_ml" in nomogram.variables
    assert _title(html) == "Base study" and "CEA (ng/mL)" in html

    # 1. Roles: CEA is no longer a variable of the study.
    roles = base.with_roles([c for c in base.spec.continuous if c != "cea_ng_ml"], base.spec.categorical)
    models_r, html_r, nomogram_r = _results(roles)
    assert "cea_ng_ml" not in models_r.clinical.variables and "cea_ng_ml" not in nomogram_r.variables
    assert "CEA (ng/mL)" not in html_r.split("<h2>Models</h2>")[1].split("<h2>Table 2</h2>")[0]

    # 2. Screening: a stricter univariable threshold.
    strict = base.with_settings(screening=ScreeningSettings(p_threshold=0.01))
    models_s, html_s, _ = _results(strict)
    assert models_s.screening["radiomics"].funnel["n_features"].iloc[-2] < \
        models.screening["radiomics"].funnel["n_features"].iloc[-2]
    assert "p &lt; 0.01" in html_s and "p &lt; 0.05 entered" not in html_s

    # 3. The split.
    resplit = base.replace(split=split_cohort(base.cohort_table(), base.spec, SplitConfig(seed=7)))
    models_p, html_p, nomogram_p = _results(resplit)
    assert models_p.train_ids != models.train_ids
    assert not np.isclose(nomogram_p.points_per_unit_lp, nomogram.points_per_unit_lp)
    assert "seed 7" in html_p

    # 4. A feature table: the radiomics features measured differently.
    family = base.family("radiomics")
    rng = np.random.default_rng(3)
    noisy = family.table * rng.lognormal(0, 0.3, size=family.table.shape)
    changed = base.with_family(FeatureFamily(name="radiomics", label="Radiomics", table=noisy, kind="imported"))
    models_f, html_f, _ = _results(changed)
    assert list(models_f.scores["radiomics"].features) != list(models.scores["radiomics"].features) or not \
        np.allclose(models_f.scores["radiomics"].coefs, models.scores["radiomics"].coefs)
    assert "imported" in html_f

    # 5. The name.
    renamed = base.replace(name="Renamed study")
    _, html_n, _ = _results(renamed)
    assert _title(html_n) == "Renamed study"
    # ...while the unchanged study still gets its own, cached, results.
    assert ui.results(base).models is models and _title(ui.results(base).report().html) == "Base study"


def test_evaluation_settings_and_a_validation_run_reach_the_report_without_a_refit(base):
    """A new cut-off rule or CI method changes the report, not the models; a validation run kept with the study
    (its fingerprint unchanged) gets a report of its own, which holds it."""
    import pandas as pd

    from core.workflows.study import EvaluationSettings
    from core.workflows.validation import with_cv

    models, html, _ = _results(base)
    fixed = base.replace(evaluation=EvaluationSettings(cutoff_rule="fixed", cutoff_value=0.4, proportion_ci="wilson"))
    assert ui.results(fixed).models is models and fixed.fingerprint != base.fingerprint
    html_e = ui.results(fixed).report().html
    assert "Fixed probability 0.40" in html_e and "Wilson" in html_e and "Fixed probability" not in html
    # A repeated CV of two folds, as the Internal validation page keeps it with the study.
    cv = pd.DataFrame([{"repeat": 1, "fold": fold, "model": model, "auc": 0.7 + 0.01 * fold}
                       for fold in (1, 2) for model in models.model_names])
    validated = with_cv(base, cv, folds=2, repeats=1, seed=0)
    assert validated.fingerprint == base.fingerprint and ui.results(validated).models is models
    html_v = ui.results(validated).report().html
    assert "1 x 2-fold" in html_v and "repeated CV (mean)" in html_v
    assert "1 x 2-fold" not in ui.results(base).report().html and "was not run" in ui.results(base).report().html
