"""The sample study's stored fit (sample_data/fitted) is the fit of today's sample and defaults."""

from __future__ import annotations

import pandas as pd

from core.workflows.fit import predict_study
from core.workflows.sample import load_sample_fit


def test_the_stored_fit_is_current_and_equals_a_fresh_fit(sample_study, sample_models):
    stored = load_sample_fit(sample_study)
    assert stored is not None, "sample_data/fitted is stale: re-run python -m core.cli.sample_fit"
    pd.testing.assert_frame_equal(predict_study(sample_study, stored), predict_study(sample_study, sample_models))
    for family, result in sample_models.screening.items():
        pd.testing.assert_frame_equal(stored.screening[family].funnel, result.funnel)
        pd.testing.assert_series_equal(stored.screening[family].lasso.coef_, result.lasso.coef_)
    assert load_sample_fit(sample_study.replace(name="not the sample")) is None
    assert load_sample_fit(sample_study.with_settings(clinical_p=0.01)) is None
