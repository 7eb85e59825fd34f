"""The time-to-event outcome's screening statistics inside the one funnel (core.stats.survival.screening): the
univariable Cox table, the LASSO-Cox as the funnel's LASSO result, the cross-validation measure chosen in the
settings, and the binary funnel refusing what does not apply to it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.selection import BINARY_SCREENING, LassoCV, ScreeningSettings, screen
from core.stats.survival.concordance import harrell_c
from core.stats.survival.cox import univariable_cox
from core.stats.survival.lasso_cox import lasso_cox_cv
from core.stats.survival.screening import SURVIVAL_SCREENING


@pytest.fixture(scope="module")
def cohort() -> tuple[pd.DataFrame, pd.DataFrame]:
    """200 patients, 12 features (3 carry the hazard), exponential times with uniform censoring; seeded."""
    rng = np.random.default_rng(27)
    X = pd.DataFrame(rng.normal(size=(200, 12)), columns=[f"f{j}" for j in range(12)],
                     index=[f"P{i:03d}" for i in range(200)])
    hazard = np.exp(0.8 * X["f0"] - 0.6 * X["f1"] + 0.5 * X["f2"])
    event_time = rng.exponential(1 / hazard)
    censor_time = rng.uniform(0.2, 3.0, size=200)
    y = pd.DataFrame({"time": np.round(np.minimum(event_time, censor_time), 3) + 0.001,
                      "event": (event_time <= censor_time).astype(int)}, index=X.index)
    return X, y


def test_the_univariable_table_is_cox_per_feature_with_harrells_c(cohort):
    X, y = cohort
    values = SURVIVAL_SCREENING.outcome(y)
    for test, statistic in (("cox_wald", "z"), ("cox_lr", "lr_chisq")):
        table = SURVIVAL_SCREENING.univariable(X, values, test)
        fits = univariable_cox(X, y["time"].to_numpy(), y["event"].to_numpy()).set_index("feature")
        expected = fits["coef"] / fits["se"] if statistic == "z" else fits["lr_chisq"]
        np.testing.assert_allclose(table["statistic"], expected.to_numpy(), rtol=1e-12)
        np.testing.assert_allclose(table["p_value"], fits["p_wald" if test == "cox_wald" else "p_lr"], rtol=1e-12)
        np.testing.assert_allclose(table["HR"], fits["HR"], rtol=1e-12)
    for column in ("f0", "f5"):
        assert table.loc[column, "auc"] == pytest.approx(
            harrell_c(y["time"].to_numpy(), y["event"].to_numpy(), X[column].to_numpy()).c, abs=1e-12)
    assert table.loc["f0", "p_value"] < 1e-6 and table.loc["f0", "auc"] > 0.6 and table.loc["f1", "auc"] < 0.4


@pytest.mark.parametrize("measure", ["deviance", "C"])
def test_the_funnels_lasso_is_the_lasso_cox_with_the_chosen_measure(cohort, measure):
    X, y = cohort
    settings = ScreeningSettings(method="lasso", test="cox_wald", cv_measure=measure, seed=3, variance_threshold=0.0)
    result = screen(X, y, settings, statistics=SURVIVAL_SCREENING)
    direct = lasso_cox_cv(X, y["time"].to_numpy(), y["event"].to_numpy(), n_folds=10, seed=3, rule="1se",
                          measure=measure)
    lasso = result.lasso
    assert isinstance(lasso, LassoCV) and lasso.family == "cox" and lasso.measure == measure
    assert lasso.intercept_ == 0.0 and lasso.lambda_1se == direct.lambda_1se
    np.testing.assert_array_equal(lasso.cv_mean, direct.cv_mean)
    pd.testing.assert_series_equal(lasso.coef_, direct.coef_)
    assert {"f0", "f1"} <= set(lasso.coef_.index)
    back = LassoCV.from_dict(json.loads(json.dumps(lasso.to_dict())))
    assert back.family == "cox" and back.measure == measure
    np.testing.assert_array_equal(back.path.to_numpy(), lasso.path.to_numpy())
    assert lasso.measure_label == ("Harrell's C (held-out)" if measure == "C" else "partial-likelihood deviance")


def test_settings_keep_their_saved_form_and_refuse_what_the_outcome_lacks(cohort):
    X, y = cohort
    assert "cv_measure" not in ScreeningSettings().to_dict()  # every study saved before it: same form, same hash
    chosen = ScreeningSettings(test="cox_wald", cv_measure="C")
    assert ScreeningSettings.from_dict(chosen.to_dict()) == chosen
    with pytest.raises(RadNomoError, match="LASSO cross-validation measure"):
        ScreeningSettings(cv_measure="auc")
    binary = (X["f0"] > 0).astype(int)
    with pytest.raises(RadNomoError, match="Harrell's C.*does not apply to a binary outcome"):
        screen(X, binary, ScreeningSettings(cv_measure="C"), statistics=BINARY_SCREENING)
    with pytest.raises(RadNomoError, match="does not apply to a survival outcome"):
        screen(X, y, ScreeningSettings(test="student"), statistics=SURVIVAL_SCREENING)
    with pytest.raises(RadNomoError, match="no event among the training patients"):
        screen(X, y.assign(event=0), ScreeningSettings(test="cox_wald"), statistics=SURVIVAL_SCREENING)
