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


# ---------------------------------------------------------------------------------------------
# Labels that say what they are: readable OR units, post-selection p-values, sign flips
# ---------------------------------------------------------------------------------------------


def _volume_cohort(n: int = 800, seed: int = 3) -> pd.DataFrame:
    """A tumour volume in mm³ (0-700,000; log-odds +2e-6 per mm³), age in years and sex."""
    rng = np.random.default_rng(seed)
    volume = rng.uniform(0, 700_000, n)
    age = rng.normal(62, 10, n)
    sex = rng.choice(["female", "male"], n)
    eta = -1.2 + 2e-6 * volume + 0.03 * (age - 62) + 0.4 * (sex == "male")
    return pd.DataFrame({"volume_mm3": volume, "age": age, "sex": sex,
                         "lm": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)})


def test_readable_or_unit_known_answers():
    from core.stats.modeling import per_unit_term, readable_or_unit

    # 1.96 x 1e-6 = 1.96e-6 per mm³: 0.01 / 1.96e-6 = 5102, so per 10,000 units (OR 1.010 or its interval shows).
    assert readable_or_unit(1e-6, 1e-6) == 10_000
    assert readable_or_unit(2e-5, 1e-6) == 1_000  # 0.01 / 2e-5 = 500
    assert readable_or_unit(0.05, 0.01) == 1  # 1.051 (1.031-1.072) already reads
    assert readable_or_unit(0.0004, 0.0001) == 1  # 1.000 (1.000-1.001): the interval shows, left as it is
    assert readable_or_unit(float("nan"), 0.1) == 1
    assert per_unit_term("volume_mm3", 10_000) == "volume_mm3 (OR per 10,000 units)"
    assert per_unit_term("age", 1) == "age"
    from core.stats.modeling import labelled_term

    words = {"volume_mm3": "Volume (mm³)", "age": "Age (years)"}.get
    assert labelled_term("volume_mm3 (OR per 10,000 units)", words) == "Volume (mm³) (OR per 10,000 units)"
    assert labelled_term("age", words) == "Age (years)"


def test_model_tables_give_a_large_unit_predictor_its_or_per_a_readable_unit():
    from scipy import stats

    from core.stats.modeling import fit_model, readable_or_unit, univariable_logistic

    data = _volume_cohort()
    model = fit_model("clinical", data, "lm", continuous=["volume_mm3", "age"], categorical=["sex"])
    coef, se = model.fit.params["volume_mm3"], model.fit.bse["volume_mm3"]
    per_unit = np.exp([coef, coef - 1.96 * se, coef + 1.96 * se])
    assert {round(v, 3) for v in per_unit} == {1.0}  # what the table printed before: 1.000 (1.000-1.000)
    unit = readable_or_unit(coef, se)
    assert unit == 10_000
    table = model.table
    label = "volume_mm3 (OR per 10,000 units)"
    assert list(table.index) == [label, "age", "sex: male"]
    row = table.loc[label]
    z = stats.norm.ppf(0.975)
    assert row["coef"] == coef and row["se"] == se  # the fitted coefficient is unchanged (per mm³)
    assert row["OR"] == pytest.approx(np.exp(coef * 10_000))
    assert row["OR_lower"] == pytest.approx(np.exp((coef - z * se) * 10_000))
    assert row["OR_upper"] == pytest.approx(np.exp((coef + z * se) * 10_000))
    assert round(row["OR"], 3) != 1.0 and row["OR_per"] == 10_000
    assert table.loc["age", "OR"] == pytest.approx(np.exp(model.fit.params["age"])) and table.loc["age", "OR_per"] == 1
    assert "p_note" not in table  # no score in a clinical model
    # The univariable table (Models page, CSV) says the same.
    univariable = univariable_logistic(data, "lm", continuous=["volume_mm3", "age"], categorical=["sex"])
    volume = univariable.set_index("term").loc[label]
    alone = fit_model("v", data, "lm", continuous=["volume_mm3"]).fit
    assert volume["OR"] == pytest.approx(np.exp(alone.params["volume_mm3"] * 10_000))
    assert volume["variable"] == "volume_mm3" and "age" in set(univariable["term"])


def test_post_selection_p_values_are_marked_in_score_and_fused_tables():
    from core.stats.modeling import ScoreModel, fit_logistic, fit_model
    from core.vocabulary import POST_SELECTION_NOTE, POST_SELECTION_P

    rng = np.random.default_rng(11)
    n = 400
    features = pd.DataFrame({"f1": rng.normal(size=n), "f2": rng.normal(size=n)})
    y = (rng.random(n) < 1 / (1 + np.exp(-(features.f1 - 0.5 * features.f2)))).astype(int)
    fit = fit_logistic(features.assign(y=y), "y", ["f1", "f2"])
    score = ScoreModel(name="radiomics", method="refit", features=("f1", "f2"), means=features.mean() * 0,
                       sds=features.std(ddof=0) * 0 + 1, intercept=float(fit.params["const"]),
                       coefs=fit.params[["f1", "f2"]], fit=fit)
    table = score.table
    assert POST_SELECTION_P == "p (post-selection, not for inference)"
    assert POST_SELECTION_P in table.columns and "p_value" not in table.columns
    np.testing.assert_allclose(table[POST_SELECTION_P], fit.pvalues[["f1", "f2"]])
    data = pd.DataFrame({"radiomics_score": score.score(features), "age": rng.normal(60, 10, n), "lm": y})
    fused = fit_model("fused", data, "lm", continuous=["age", "radiomics_score"])
    notes = fused.table["p_note"]
    assert notes["radiomics_score"] == POST_SELECTION_NOTE and notes["age"] == ""
    assert "p_value" in fused.table  # the clinical terms' p-values stay as they are


def test_sign_flips_between_clinical_and_fused_models_are_explained():
    from core.stats.modeling import fit_model, sign_flips

    # Thickness raises the risk on its own (through the score it drives) but lowers it at a given score.
    rng = np.random.default_rng(5)
    n = 3000
    thickness = rng.normal(size=n)
    score = 1.5 * thickness + rng.normal(size=n)
    eta = -0.5 + 1.2 * score - 0.8 * thickness
    data = pd.DataFrame({"tumour_thickness_mm": thickness, "dl_radiomics_score": score, "age": rng.normal(size=n),
                         "lm": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)})
    clinical = fit_model("clinical", data, "lm", continuous=["tumour_thickness_mm", "age"])
    fused = fit_model("fused", data, "lm", continuous=["tumour_thickness_mm", "age", "dl_radiomics_score"])
    before, after = clinical.fit.params["tumour_thickness_mm"], fused.fit.params["tumour_thickness_mm"]
    assert before > 0 > after
    labels = {"tumour_thickness_mm": "Tumour thickness (mm)", "dl_radiomics_score": "DL-radiomics score"}
    notes = sign_flips(clinical, fused, label=lambda term: labels.get(term, term))
    flips = [note for note in notes if note.startswith("Tumour thickness (mm)")]
    assert len(flips) == 1
    note = flips[0]
    assert f"{before:+.3f} in the clinical model" in note and f"{after:+.3f} in the fused model" in note
    assert f"VIF {fused.vif['tumour_thickness_mm']:.2f} in the fused model" in note and "DL-radiomics score" in note
    assert "collinearity" in note and "with care" in note
    # Age has no effect: its sign may flip by chance, and then the note says its sign is uncertain.
    for other in notes:
        if other.startswith("age"):
            assert "not significant" in other or "Neither sign" in other
    # No clinical (or fused) model: nothing to compare.
    assert sign_flips(None, fused) == [] and sign_flips(clinical, None) == []
    same = fit_model("fused", data, "lm", continuous=["tumour_thickness_mm", "age"])
    assert sign_flips(clinical, same) == []


@pytest.mark.slow
def test_sample_study_thickness_sign_flip_is_explained(sample_study, sample_models):
    """The sample study's fused model: tumour thickness +0.041 alone (clinical), -0.041 beside the DL-radiomics
    score."""
    from core.stats.modeling import sign_flips

    notes = sign_flips(sample_models.clinical, sample_models.fused, sample_study.label)
    thickness = [n for n in notes if n.startswith(sample_study.label("tumour_thickness_mm"))]
    assert len(thickness) == 1
    assert "+0.041 in the clinical model but -0.041 in the fused model" in thickness[0]
    assert sample_study.label("dl_radiomics_score") in thickness[0]
    flipped = {t for t in sample_models.clinical.fit.predictors if t in sample_models.fused.fit.params.index
               and sample_models.clinical.fit.params[t] * sample_models.fused.fit.params[t] < 0}
    assert len(notes) == len(flipped)  # one sentence per flipped term, none for the others
