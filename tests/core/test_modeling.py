"""Logistic fits against R's glm (known answers in tests/reference) and edge cases."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.modeling import LogitFit, fit_logistic
from core.io.paths import SAMPLE_DIR

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


# ---------------------------------------------------------------------------------------------
# Nomogram: known answers from R rms 6.5 (tests/reference/rms_nomogram.R)
# ---------------------------------------------------------------------------------------------


def test_r_pretty_matches_r():
    from core.stats.modeling import r_pretty

    for _, row in pd.read_csv(REFERENCE / "r_pretty.csv").iterrows():
        expected = [float(v) for v in row["ticks"].split(";")]
        np.testing.assert_allclose(r_pretty(row["low"], row["high"], 10), expected, atol=1e-12)


def test_nomogram_points_match_rms_nomogram():
    from core.stats.modeling import Nomogram, fit_model
    from core.workflows.sample import load_sample_cohort

    cohort = load_sample_cohort()
    model = fit_model("clinical", cohort, "lm", continuous=["tumour_thickness_mm", "cea_ng_ml", "ca19_9_u_ml"],
                      categorical=["sex", "her2", "cn_stage"])
    nomogram = Nomogram(model, cohort)
    axes = pd.read_csv(REFERENCE / "rms_nomogram_axes.csv")
    lp = pd.read_csv(REFERENCE / "rms_nomogram_lp.csv")
    assert nomogram.points_per_unit_lp == pytest.approx(lp["sc"].iloc[0], rel=1e-6)
    for _, row in axes.iterrows():
        value = row["value"] if row["predictor"] in model.levels else float(row["value"])
        assert nomogram.points(row["predictor"], value) == pytest.approx(row["points"], abs=1e-6), tuple(row)
    for _, row in lp.iterrows():
        assert nomogram.linear_predictor_at(row["points"]) == pytest.approx(row["lp"], abs=1e-6)


def test_nomogram_total_points_and_probability_equal_the_model():
    from core.stats.modeling import Nomogram, fit_model
    from core.workflows.sample import load_sample_cohort

    cohort = load_sample_cohort()
    model = fit_model("clinical", cohort, "lm", continuous=["tumour_thickness_mm", "cea_ng_ml"],
                      categorical=["sex"])
    nomogram = Nomogram(model, cohort)
    patient = cohort.iloc[5]
    assert nomogram.total_points(patient) == pytest.approx(
        sum(nomogram.points(v, patient[v]) for v in ["tumour_thickness_mm", "cea_ng_ml", "sex"]))
    assert nomogram.probability(patient) == pytest.approx(model.predict_proba(cohort.iloc[[5]]).iloc[0], rel=1e-9)
    more_cea = patient.copy()
    more_cea["cea_ng_ml"] += 20
    assert nomogram.probability(more_cea) > nomogram.probability(patient)
    assert max(nomogram.axis(v)["points"].max() for v in nomogram.variables) == pytest.approx(100)
    with pytest.raises(RadNomoError, match="not a level"):
        nomogram.points("sex", "unknown")
    with pytest.raises(RadNomoError, match="not a predictor"):
        nomogram.points("age", 60)


def test_prediction_interval_equals_statsmodels_and_survives_to_dict(sample_cohort):
    import statsmodels.api as sm

    from core.stats.modeling import fit_model

    model = fit_model("clinical", sample_cohort, "lm", continuous=["tumour_thickness_mm", "cea_ng_ml"],
                      categorical=["sex"])
    design = model.design(sample_cohort)
    reference = sm.GLM(sample_cohort["lm"], sm.add_constant(design), family=sm.families.Binomial()).fit()
    frame = reference.get_prediction(sm.add_constant(design).iloc[:5]).summary_frame(alpha=0.05)
    ours = model.predict_interval(sample_cohort.iloc[:5])
    np.testing.assert_allclose(ours["probability"], frame["mean"], rtol=1e-6)
    np.testing.assert_allclose(ours["low"], frame["mean_ci_lower"], rtol=1e-5)
    np.testing.assert_allclose(ours["high"], frame["mean_ci_upper"], rtol=1e-5)
    from core.stats.modeling import LogisticModel

    again = LogisticModel.from_dict(model.to_dict())
    pd.testing.assert_frame_equal(again.predict_interval(sample_cohort.iloc[:5]), ours)


def test_coefficient_warnings_flag_collinearity_and_near_separation():
    from core.stats.summaries import coefficient_warnings

    table = pd.DataFrame({"OR": [1.2, 1067.0, 0.9], "OR_lower": [0.8, 3.0, 0.5], "OR_upper": [1.8, 4e5, 1.6],
                          "VIF": [1.1, 1.3, 7.2]}, index=["age", "her2: positive", "cea_ng_ml"])
    notes = coefficient_warnings(table, "fused model")
    assert len(notes) == 2
    assert "cea_ng_ml" in notes[0] and "VIF above 5" in notes[0]
    assert "her2: positive" in notes[1] and "age" not in notes[1]
    assert coefficient_warnings(table.loc[["age"]]) == []
