"""The sample study's stored fit (sample_data/fitted) is the fit of today's sample and defaults."""

from __future__ import annotations

import pandas as pd
import pytest

from core.workflows.fit import predict_study
from core.workflows.sample import load_sample_fit

pytestmark = pytest.mark.slow  # both compare the stored fit with a fresh fit of the whole sample


def test_the_stored_fit_is_current_and_equals_a_fresh_fit(sample_study, sample_models):
    stored = load_sample_fit(sample_study)
    assert stored is not None, "sample_data/fitted is stale: re-run python -m core.cli.sample_fit"
    pd.testing.assert_frame_equal(predict_study(sample_study, stored), predict_study(sample_study, sample_models))
    for family, result in sample_models.screening.items():
        pd.testing.assert_frame_equal(stored.screening[family].funnel, result.funnel)
        pd.testing.assert_series_equal(stored.screening[family].lasso.coef_, result.lasso.coef_)
    assert load_sample_fit(sample_study.replace(name="not the sample")) is None
    assert load_sample_fit(sample_study.with_settings(clinical_p=0.01)) is None


def test_the_stored_tour_numbers_are_current_and_equal_a_fresh_computation(sample_study, sample_models):
    from core.workflows.fit import fit_models, prepare_tables
    from core.workflows.tour import compute_tour, load_tour, tour_study

    tour = tour_study(sample_study)
    stored = load_tour(tour)
    assert stored is not None, "sample_data/fitted/tour.json.gz is stale: re-run python -m core.cli.sample_fit"
    # The tour differs from the sample in its clinical model only: the same screening, refitted models.
    fresh = compute_tour(tour, fit_models(tour, prepare_tables(tour), sample_models.screening))
    assert stored.models.clinical.variables == fresh.models.clinical.variables == (
        "tumour_thickness_mm", "cea_ng_ml", "ca19_9_u_ml")
    for name in ("performance", "subgroup", "predictions"):
        pd.testing.assert_frame_equal(getattr(stored, name), getattr(fresh, name), check_index_type=False)
    assert stored.funnels.keys() == fresh.funnels.keys()
    for family, funnel in fresh.funnels.items():
        pd.testing.assert_frame_equal(stored.funnels[family], funnel, check_index_type=False)
    assert set(stored.performance["model"]) == {"clinical", "radiomics", "dl", "dl_radiomics", "fused"}
    assert load_tour(sample_study) is None  # the sample's own clinical model is not the tour's
    # The tour judges as the reference study did (Youden, Wald), whatever cut-off rule the study has chosen.
    from core.workflows.study import EvaluationSettings

    chosen = sample_study.replace(evaluation=EvaluationSettings(cutoff_rule="fixed", cutoff_value=0.3))
    assert load_tour(tour_study(chosen)) is not None
    assert load_tour(tour_study(sample_study.with_settings(clinical_p=0.01))) is None


def test_the_stored_survival_fit_is_current_and_equals_a_fresh_fit():
    from core.workflows.fit import fit_study
    from core.workflows.sample import SAMPLE_FIT, load_sample_fit, sample_survival_study

    study = sample_survival_study()
    stored = load_sample_fit(study)
    assert stored is not None, ("sample_data/fitted/survival_models.json.gz is stale: re-run "
                                "python -m core.cli.sample_fit")
    assert stored.outcome_kind == "survival" and load_sample_fit(study, SAMPLE_FIT) is None  # not the binary file's
    fresh = fit_study(study)
    pd.testing.assert_frame_equal(predict_study(study, stored), predict_study(study, fresh))
    for family, result in fresh.screening.items():
        assert stored.screening[family].lasso.family == "cox"
        pd.testing.assert_series_equal(stored.screening[family].lasso.coef_, result.lasso.coef_)
