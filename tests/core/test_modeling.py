"""Logistic fits against R's glm (known answers in tests/reference) and edge cases."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.modeling import LogitFit, fit_logistic
from core.paths import SAMPLE_DIR

REFERENCE = Path(__file__).resolve().parents[1] / "reference"


@pytest.fixture(scope="module")
def clinical() -> pd.DataFrame:
    data = pd.read_csv(SAMPLE_DIR / "clinical.csv")
    return data.assign(cea_high=(data.cea_ng_ml > 5).astype(int), log_ca19_9=np.log(data.ca19_9_u_ml))


def test_fit_logistic_equals_r_glm(clinical):
    reference = pd.read_csv(REFERENCE / "glm_logistic.csv")
    fit = fit_logistic(clinical, "lm", ["tumour_thickness_mm", "cea_high", "log_ca19_9"])
    names = {"(Intercept)": "const", "log(ca19_9_u_ml)": "log_ca19_9"}
    for row in reference.itertuples():
        term = names.get(row.term, row.term)
        assert fit.params[term] == pytest.approx(row.coef, rel=1e-6)
        assert fit.bse[term] == pytest.approx(row.se, rel=1e-5)
        assert fit.pvalues[term] == pytest.approx(row.p_value, rel=1e-4)
        if term != "const":
            assert fit.odds_ratios.loc[term, "lower"] == pytest.approx(row.or_lower, rel=1e-5)
            assert fit.odds_ratios.loc[term, "upper"] == pytest.approx(row.or_upper, rel=1e-5)
    assert fit.log_likelihood == pytest.approx(reference.loglik.iloc[0], rel=1e-8)
    assert fit.n_obs == 1001 and fit.n_events == 312 and fit.converged


def test_predictions_round_trips_and_summary(clinical):
    fit = fit_logistic(clinical, "lm", ["tumour_thickness_mm", "cea_high"])
    probability = fit.predict_proba(clinical)
    manual = 1 / (1 + np.exp(-(fit.params["const"] + fit.params["tumour_thickness_mm"] * clinical.tumour_thickness_mm
                                + fit.params["cea_high"] * clinical.cea_high)))
    assert np.allclose(probability, manual)
    for copy in (pickle.loads(pickle.dumps(fit)), LogitFit.from_dict(fit.to_dict())):
        assert np.allclose(copy.predict_proba(clinical), probability)
    assert list(fit.summary.columns) == ["coef", "se", "z", "p_value", "OR", "OR_lower", "OR_upper"]
    with pytest.raises(RadNomoError, match="needed to apply"):
        fit.predict_proba(clinical.drop(columns="cea_high"))


def test_refuses_separation_constants_and_text(clinical):
    data = clinical.assign(leak=clinical.lm * 10.0, flat=1.0)
    with pytest.raises(RadNomoError, match="separated"):
        fit_logistic(data, "lm", ["leak"])
    with pytest.raises(RadNomoError, match="constant"):
        fit_logistic(data, "lm", ["flat", "age"])
    with pytest.raises(RadNomoError, match="not numeric"):
        fit_logistic(data, "lm", ["sex"])
    with pytest.raises(RadNomoError, match="not found"):
        fit_logistic(data, "lm", ["nope"])
