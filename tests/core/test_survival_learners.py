"""The Cox learners (core.stats.learners.cox): registered by outcome kind, equal to R's coxph / survfit / cox.zph
and to glmnet's survfit.coxnet, saved as plain JSON that predicts identically and refuses edits.

Known answers: tests/reference/survival_cox_*.csv (survival_cox.R: survival::lung) and
tests/reference/survival_learners_*.csv (survival_learners.R: a factor predictor, a LASSO-Cox). Tolerances:
coxph's coefficients and survfit's survivals to 1e-6 relative (R fitted with eps 1e-12; our fit is tighter);
the model's saved predictions equal helper A's CoxFit.predict_survival to 1e-12 (the same formula, re-applied).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.stats.learners import (LEARNERS, FittedModel, Predictors, SurvivalModel, fitted_from_dict, get_learner,
                                 learners_for, score_methods)
from core.stats.learners.cox import COX, COX_LASSO, COX_REFIT, CoxModel, CoxScoreModel, fixed_coefficient_hazard
from core.stats.modeling import LEVEL_SEPARATOR
from core.stats.outcomes import BinaryOutcome, SurvivalOutcome
from core.stats.survival.cox import fit_cox
from core.vocabulary import (CLINICAL, FUSED, POST_SELECTION_NOTE, POST_SELECTION_P, SCORE_METHODS, SCORE_ROLE,
                             horizon_column)

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
HORIZONS = (12.0, 36.0, 60.0)


def _outcome(horizons=HORIZONS, unit="months") -> SurvivalOutcome:
    return SurvivalOutcome(time_column="time", event_column="event", time_unit=unit, horizons=horizons)


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "survival_cox_lung_data.csv")


@pytest.fixture(scope="module")
def synth() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "survival_cox_synth_data.csv")


@pytest.fixture(scope="module")
def lung_model(lung) -> CoxModel:
    return COX.fit(lung, _outcome((180, 365, 730), "days"), Predictors(("age", "sex", "ph.ecog")), name=CLINICAL)


@pytest.fixture(scope="module")
def factor_model(synth) -> CoxModel:
    return COX.fit(synth, _outcome(), Predictors(("x1", "x3"), ("group",)), name=CLINICAL)


FEATURES = ["x1", "x3", "f04", "f07"]  # the non-zero coefficients of R's LASSO-Cox (survival_learners_lasso.csv)


@pytest.fixture(scope="module")
def glmnet_lasso() -> tuple[pd.Series, pd.DataFrame]:
    reference = pd.read_csv(REFERENCE / "survival_learners_lasso.csv")
    coef = reference[reference["what"] == "coef"].set_index("key")["value"]
    return coef[coef != 0], reference[reference["what"] == "survival"]


@pytest.fixture(scope="module")
def scores(synth, glmnet_lasso) -> dict[str, CoxScoreModel]:
    selection = SimpleNamespace(coef_=glmnet_lasso[0])
    return {learner.name: learner.fit(synth, _outcome(), Predictors(tuple(FEATURES)), name="radiomics",
                                      selection=selection) for learner in (COX_REFIT, COX_LASSO)}


def _wide(reference: pd.DataFrame, column: str) -> np.ndarray:
    """R's long predictions (row outer, time inner) as a rows x horizons matrix."""
    return reference[column].to_numpy(dtype=float).reshape(-1, len(HORIZONS))


def _columns(horizons, bound: str = "") -> list[str]:
    return [horizon_column(h, bound) for h in horizons]


# --------------------------------------------------------------------------------------------------------------
def test_the_registry_by_outcome_kind():
    assert learners_for(CLINICAL, "survival") == {"cox": COX} and learners_for(FUSED, "survival") == {"cox": COX}
    assert list(learners_for(SCORE_ROLE, "survival")) == ["cox_refit", "cox_lasso"]
    assert list(learners_for(SCORE_ROLE, "binary")) == ["refit", "lasso", "ridge"]
    assert list(learners_for(CLINICAL, "binary")) == ["logistic"]
    # The vocabulary's score methods are the registry's over every kind; the default (binary) list is unchanged.
    assert score_methods(None) == SCORE_METHODS and list(score_methods()) == ["refit", "lasso", "ridge"]
    assert score_methods("survival") == {"cox_refit": SCORE_METHODS["cox_refit"],
                                         "cox_lasso": SCORE_METHODS["cox_lasso"]}
    assert get_learner("cox", CLINICAL, "survival") is COX and get_learner("cox") is COX
    with pytest.raises(RadNomoError, match="binary clinical learner 'cox' is not valid; possible values: logistic"):
        get_learner("cox", CLINICAL, "binary")
    with pytest.raises(RadNomoError, match="possible values: cox_refit, cox_lasso"):
        get_learner("refit", SCORE_ROLE, "survival")
    with pytest.raises(RadNomoError, match="outcome kind 'competing'"):
        learners_for(CLINICAL, "competing")
    for learner in LEARNERS.values():
        assert learner.outcome_kinds and learner.description()


def test_learners_refuse_an_outcome_of_another_kind_and_binary_ones_take_an_outcome_or_a_column(lung):
    binary = lung.assign(dead=lung["event"])
    with pytest.raises(RadNomoError, match="'cox' learner fits survival outcomes, not a binary outcome"):
        COX.fit(binary, "dead", Predictors(("age",)), name=CLINICAL)
    with pytest.raises(RadNomoError, match="'logistic' learner fits binary outcomes, not a survival outcome"):
        get_learner("logistic").fit(lung, _outcome((180,), "days"), Predictors(("age",)), name=CLINICAL)
    by_column = get_learner("logistic").fit(binary, "dead", Predictors(("age", "sex")), name=CLINICAL)
    by_outcome = get_learner("logistic").fit(binary, BinaryOutcome("dead"), Predictors(("age", "sex")), name=CLINICAL)
    pd.testing.assert_series_equal(by_column.predict_risk(binary), by_outcome.predict_risk(binary))


def test_a_cox_model_of_lung_is_coxph_and_survfit(lung, lung_model):
    assert isinstance(lung_model, SurvivalModel) and isinstance(lung_model, FittedModel)
    assert lung_model.converged and lung_model.convergence == "" and lung_model.learner == "cox"
    r = pd.read_csv(REFERENCE / "survival_cox_coef.csv").query("dataset == 'lung'").set_index("term")
    table = lung_model.table
    assert list(table.columns) == ["coef", "HR", "HR_lower", "HR_upper", "p"] and table.index.name == "term"
    for column in ("coef", "HR_lower", "HR_upper", "p"):
        np.testing.assert_allclose(table[column], r.loc[table.index, column], rtol=1e-6)
    # The same numbers as helper A's fit_cox (the learner adds nothing to the fit).
    fit = fit_cox(lung[["age", "sex", "ph.ecog"]], lung["time"].to_numpy(), lung["event"].to_numpy())
    reference = fit.coef_table().set_index("term")
    np.testing.assert_allclose(table[["coef", "HR", "HR_lower", "HR_upper", "p"]],
                               reference[["coef", "HR", "HR_lower", "HR_upper", "p"]], rtol=1e-12)
    # survfit(fit, newdata = rows 1, 2, 3, 10, 20) at 180, 365, 730 days, with its log-scale interval.
    rows = lung.iloc[[0, 1, 2, 9, 19]]
    predicted = lung_model.predict_survival(rows)
    expected = pd.read_csv(REFERENCE / "survival_cox_predict.csv").query("dataset == 'lung'")
    horizons = (180, 365, 730)
    for bound, column in (("", "survival"), ("low", "lower"), ("high", "upper")):
        np.testing.assert_allclose(predicted[_columns(horizons, bound)], _wide(expected, column), rtol=1e-6)
    # ... and exactly what CoxFit.predict_survival gives, though the model kept only its baseline hazard.
    a = fit.predict_survival(rows[["age", "sex", "ph.ecog"]], horizons)
    for bound, column in (("", "survival"), ("low", "lower"), ("high", "upper")):
        np.testing.assert_allclose(predicted[_columns(horizons, bound)].to_numpy().ravel(), a[column], rtol=1e-12)
    # The risk generic code ranks by: the event by the first horizon.
    np.testing.assert_allclose(lung_model.predict_risk(rows), 1 - _wide(expected, "survival")[:, 0], rtol=1e-6)
    np.testing.assert_allclose(lung_model.linear_predictor(rows), fit.linear_predictor(rows), rtol=1e-12)
    # The baseline (lp = 0) is the uncentred one: S(t | x) = exp(-H0(t) exp(lp)).
    h0 = lung_model.baseline
    np.testing.assert_allclose(h0["cumulative_hazard"], fit.baseline_cumulative_hazard(h0["time"], centered=False),
                               rtol=1e-12)
    assert lung_model.ph_warning == "" and list(lung_model.ph_check["term"]) == ["age", "sex", "ph.ecog", "GLOBAL"]


def test_a_factor_is_coded_as_r_does_and_the_proportional_hazards_test_is_cox_zph(synth, factor_model):
    r = pd.read_csv(REFERENCE / "survival_learners_coef.csv")
    r["term"] = r["term"].replace({"groupb": f"group{LEVEL_SEPARATOR}b", "groupc": f"group{LEVEL_SEPARATOR}c"})
    r = r.set_index("term")
    assert factor_model.terms == tuple(r.index) and factor_model.levels == {"group": ("a", "b", "c")}
    table = factor_model.table
    for column in ("coef", "HR_lower", "HR_upper", "p"):
        np.testing.assert_allclose(table[column], r[column], rtol=1e-6)
    expected = pd.read_csv(REFERENCE / "survival_learners_predict.csv")
    predicted = factor_model.predict_survival(synth.iloc[[0, 1, 2, 9, 19]])
    for bound, column in (("", "survival"), ("low", "lower"), ("high", "upper")):
        np.testing.assert_allclose(predicted[_columns(HORIZONS, bound)], _wide(expected, column), rtol=1e-6)
    zph = pd.read_csv(REFERENCE / "survival_learners_zph.csv")
    np.testing.assert_allclose(factor_model.ph_check["chisq"], zph["chisq"], rtol=1e-6)
    np.testing.assert_allclose(factor_model.ph_check["p"], zph["p"], rtol=1e-6)
    design = factor_model.nomogram_design()
    assert design.coefficients["const"] == 0.0 and design.levels == {"group": ("a", "b", "c")}
    pd.testing.assert_series_equal(design.linear_predictor(synth), factor_model.linear_predictor(synth),
                                   check_exact=False, rtol=1e-12)


def test_a_missing_value_or_an_unseen_level_gives_nan_and_a_missing_column_is_refused(synth, factor_model):
    rows = synth.iloc[:4].copy()
    rows.loc[rows.index[1], "group"] = "d"      # a level unseen in training
    rows.loc[rows.index[2], "x3"] = np.nan
    lp = factor_model.linear_predictor(rows)
    assert lp.isna().tolist() == [False, True, True, False]
    survival = factor_model.predict_survival(rows)
    assert survival.isna().all(axis=1).tolist() == [False, True, True, False]
    assert factor_model.predict_risk(rows).isna().tolist() == [False, True, True, False]
    with pytest.raises(RadNomoError, match="needs the column"):
        factor_model.predict_survival(rows.drop(columns="group"))
    with pytest.raises(RadNomoError, match="beyond the last follow-up"):
        factor_model.predict_survival(rows, [1000.0])


def test_horizons_and_data_a_cox_model_cannot_be_fitted_on_are_refused(synth):
    with pytest.raises(RadNomoError, match="beyond the last follow-up of the clinical model's training patients"):
        COX.fit(synth, _outcome((12, 500)), Predictors(("x1",)), name=CLINICAL)
    with pytest.raises(RadNomoError, match="one level only"):
        COX.fit(synth.assign(site="A"), _outcome(), Predictors(("x1",), ("site",)), name=CLINICAL)
    with pytest.raises(RadNomoError, match="Missing values"):
        COX.fit(synth.assign(x3=synth["x3"].where(synth.index > 0)), _outcome(), Predictors(("x3",)), name=CLINICAL)
    with pytest.raises(RadNomoError, match="no training patient of the clinical model had the event"):
        COX.fit(synth.assign(event=0), _outcome(), Predictors(("x1",)), name=CLINICAL)
    with pytest.raises(RadNomoError, match="at least one predictor"):
        COX.fit(synth, _outcome(), Predictors(), name=CLINICAL)


def test_a_monotone_likelihood_is_said_and_kept_through_saving():
    # x = 1 patients all fail before any x = 0 patient: coxph warns the coefficient may be infinite.
    mono = pd.DataFrame({"time": [1, 2, 3, 4, 5, 6, 7, 8], "event": [1, 1, 1, 0, 1, 0, 1, 0],
                         "x": [1, 1, 1, 1, 0, 0, 0, 0]}).astype(float)
    model = COX.fit(mono, _outcome((4.0,)), Predictors(("x",)), name=CLINICAL)
    assert not model.converged and "infinite" in model.convergence
    back = CoxModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert not back.converged and back.convergence == model.convergence


def _tamper(saved: dict, edit) -> dict:
    bad = copy.deepcopy(saved)
    edit(bad)
    return bad


def test_a_cox_model_round_trips_as_plain_json_and_refuses_edited_values(synth, factor_model):
    text = json.dumps(factor_model.to_dict(), allow_nan=False)   # plain JSON: no NaN, no pickle
    back = fitted_from_dict(json.loads(text), "cox", role=CLINICAL)
    assert isinstance(back, CoxModel) and back.variables == factor_model.variables
    pd.testing.assert_frame_equal(back.predict_survival(synth, [6, 24, 48]),
                                  factor_model.predict_survival(synth, [6, 24, 48]), check_exact=True)
    pd.testing.assert_frame_equal(back.table, factor_model.table, check_exact=True)
    pd.testing.assert_frame_equal(back.baseline, factor_model.baseline, check_exact=True)
    pd.testing.assert_frame_equal(back.ph_check, factor_model.ph_check, check_exact=True, check_dtype=False)
    assert back.ph_warning == factor_model.ph_warning and back.horizons == HORIZONS and back.lr_p == factor_model.lr_p
    saved = json.loads(text)
    b = f"group{LEVEL_SEPARATOR}b"
    tampered = {
        "non-finite coefficient": lambda d: d["coef"].update(x1=float("nan")),
        "a coefficient too many": lambda d: d["coef"].update(x9=0.1),
        "a level removed": lambda d: d["levels"].update(group=["a", "b"]),
        "asymmetric variance": lambda d: d["var"]["x1"].update(x3=d["var"]["x1"]["x3"] + 1),
        "a negative hazard": lambda d: d["baseline"]["hazard"].__setitem__(0, -0.1),
        "unsorted event times": lambda d: d["baseline"]["time"].reverse(),
        "a baseline too short": lambda d: d["baseline"]["variance"].pop(),
        "xbar of another term": lambda d: d["baseline"]["xbar"].update(x9=d["baseline"]["xbar"].pop(b)),
        "a horizon beyond follow-up": lambda d: d.update(horizons=[12.0, 1e6]),
        "events above patients": lambda d: d.update(n_events=d["n"] + 1),
        "a p-value above 1": lambda d: d["ph_check"]["p"].__setitem__(0, 2.0),
        "a missing field": lambda d: d.pop("centre"),
        "convergence as text": lambda d: d.update(converged="yes"),
    }
    for what, edit in tampered.items():
        with pytest.raises(RadNomoError, match="saved"):
            fitted_from_dict(_tamper(saved, edit), "cox", role=CLINICAL)
        assert what
    with pytest.raises(RadNomoError, match="not valid"):
        fitted_from_dict(saved, "cox", role=SCORE_ROLE)   # a clinical learner's model is no score


def test_the_lasso_cox_score_predicts_as_glmnet_survfit(synth, scores, glmnet_lasso):
    coef, expected = glmnet_lasso
    lasso = scores["cox_lasso"]
    assert lasso.learner == "cox_lasso" and lasso.var is None and lasso.converged
    sds = synth[FEATURES].std(ddof=0)
    np.testing.assert_allclose(lasso.coefs, coef[FEATURES] * sds, rtol=1e-12)   # per training SD
    predicted = lasso.predict_survival(synth.iloc[[0, 1, 2, 9, 19]])
    np.testing.assert_allclose(predicted[_columns(HORIZONS)], _wide(expected, "value"), rtol=1e-8)
    assert predicted[_columns(HORIZONS, "low")].isna().all().all()   # penalised: no interval
    assert list(lasso.table.columns) == ["coef", "HR", "train_mean", "train_sd"]
    # The score is the LASSO-Cox's linear predictor (glmnet's predict(fit, newx), uncentred) ...
    raw = synth[FEATURES].to_numpy() @ coef[FEATURES].to_numpy()
    np.testing.assert_allclose(lasso.linear_predictor(synth), raw, rtol=1e-12, atol=1e-12)
    # ... which the baseline turns into survival: S(t | x) = exp(-H0(t) exp(lp)).
    h0 = lasso.baseline.set_index("time")["cumulative_hazard"]
    at_36 = h0[h0.index <= 36].iloc[-1]
    np.testing.assert_allclose(np.exp(-at_36 * np.exp(raw[[0, 1, 2, 9, 19]])), _wide(expected, "value")[:, 1],
                               rtol=1e-8)
    assert lasso.baseline["time"].iloc[-1] == synth["time"].max()   # the step function ends at the follow-up


def test_the_refitted_score_is_a_cox_model_of_the_standardised_features(synth, scores):
    refit = scores["cox_refit"]
    z = (synth[FEATURES] - synth[FEATURES].mean()) / synth[FEATURES].std(ddof=0)
    fit = fit_cox(z, synth["time"].to_numpy(), synth["event"].to_numpy())
    np.testing.assert_allclose(refit.coefs, fit.coef, rtol=1e-12)
    table = refit.table
    assert POST_SELECTION_P in table and table.index.name == "feature"
    np.testing.assert_allclose(table[POST_SELECTION_P], fit.p, rtol=1e-12)
    predicted = refit.predict_survival(synth.iloc[:7], [24])
    np.testing.assert_allclose(predicted[horizon_column(24)], fit.predict_survival(z.iloc[:7], [24])["survival"],
                               rtol=1e-12)
    assert refit.formula.startswith(f"radiomics score = {refit.intercept:.4g} ") and refit.detail
    design = refit.nomogram_design()   # raw features, no intercept (a Cox model has none)
    assert design.coefficients["const"] == 0.0
    pd.testing.assert_series_equal(design.linear_predictor(synth), refit.linear_predictor(synth),
                                   check_exact=False, rtol=1e-9, atol=1e-12)
    # The score is the refit's linear predictor plus a constant (which the baseline absorbs).
    shift = refit.linear_predictor(synth) - fit.linear_predictor(z)
    np.testing.assert_allclose(shift, refit.intercept, rtol=1e-9)
    # A fused Cox model with the score: its p is marked post-selection.
    fused = COX.fit(synth.assign(radiomics_score=refit.linear_predictor(synth)), _outcome(),
                    Predictors(("radiomics_score", "x3")), name=FUSED)
    assert fused.table.loc["radiomics_score", "p_note"] == POST_SELECTION_NOTE


def test_scores_round_trip_and_refuse_edits(synth, scores):
    for method, score in scores.items():
        saved = json.loads(json.dumps(score.to_dict(), allow_nan=False))
        back = fitted_from_dict(saved, method, role=SCORE_ROLE)
        pd.testing.assert_frame_equal(back.predict_survival(synth), score.predict_survival(synth), check_exact=True)
        pd.testing.assert_frame_equal(back.table, score.table, check_exact=True)
        other = "cox_lasso" if method == "cox_refit" else "cox_refit"
        with pytest.raises(RadNomoError, match=f"is not '{other}'"):
            fitted_from_dict(saved, other, role=SCORE_ROLE)
        for edit in (lambda d: d["sds"].update(x1=0.0), lambda d: d["means"].update(x1=float("inf")),
                     lambda d: d.update(method="refit"), lambda d: d["coef"].pop("f04")):
            with pytest.raises(RadNomoError, match="saved"):
                CoxScoreModel.from_dict(_tamper(saved, edit))
    lasso = json.loads(json.dumps(scores["cox_lasso"].to_dict()))
    with pytest.raises(RadNomoError, match="variance matrix its method does not make"):
        CoxScoreModel.from_dict({**lasso, "var": scores["cox_refit"].to_dict()["var"]})


def test_score_learners_need_their_selection(synth):
    selection = SimpleNamespace(coef_=pd.Series({"x1": 0.4, "f04": 0.1}))
    with pytest.raises(RadNomoError, match="needs the LASSO-Cox"):
        COX_REFIT.fit(synth, _outcome(), Predictors(("x1", "f04")), name="radiomics")
    with pytest.raises(RadNomoError, match="must be its LASSO-Cox's selected features"):
        COX_LASSO.fit(synth, _outcome(), Predictors(("x1",)), name="radiomics", selection=selection)
    with pytest.raises(RadNomoError, match="kept no feature"):
        COX_LASSO.fit(synth, _outcome(), Predictors(()), name="radiomics",
                      selection=SimpleNamespace(coef_=pd.Series(dtype=float)))
    with pytest.raises(RadNomoError, match="fits survival outcomes"):
        COX_REFIT.fit(synth, "event", Predictors(("x1", "f04")), name="radiomics", selection=selection)


def test_the_fixed_coefficient_hazard_is_the_fitted_baseline(lung):
    # With a fit's own coefficients, Efron's estimator at fixed lp is CoxFit's (survfit's) baseline hazard.
    time, event = lung["time"].to_numpy(float), lung["event"].to_numpy(int)
    fit = fit_cox(lung[["age", "sex", "ph.ecog"]], time, event)
    times, increments = fixed_coefficient_hazard(fit.linear_predictor(lung), time, event)
    np.testing.assert_allclose(np.cumsum(increments), fit.baseline_cumulative_hazard(times, centered=False),
                               rtol=1e-12)
    assert times.tolist() == sorted(set(time[event == 1].tolist()))


def test_the_lasso_cox_selection_feeds_both_score_methods(synth):
    from core.stats.survival.lasso_cox import lasso_cox_cv

    features = ["x1", "x2", "x3", *(f"f{j:02d}" for j in range(4, 11))]
    selection = lasso_cox_cv(synth[features], synth["time"].to_numpy(), synth["event"].to_numpy(), n_folds=5,
                             seed=3, rule="min")
    chosen = Predictors(tuple(selection.coef_.index))
    assert chosen.continuous   # the simulated hazard depends on x1, x2, x3 and f04
    lasso = COX_LASSO.fit(synth, _outcome(), chosen, name="radiomics", selection=selection)
    refit = COX_REFIT.fit(synth, _outcome(), chosen, name="radiomics", selection=selection)
    np.testing.assert_allclose(lasso.linear_predictor(synth), selection.linear_predictor(synth), rtol=1e-10,
                               atol=1e-12)
    # The refit undoes the LASSO's shrinkage: larger coefficients, with the same signs.
    assert np.linalg.norm(refit.coefs) > np.linalg.norm(lasso.coefs)
    assert (np.sign(refit.coefs) == np.sign(lasso.coefs)).all()


def test_a_cox_model_on_the_sample_study_survival():
    clinical = pd.read_csv(SAMPLE / "clinical.csv", dtype={"patient_id": str})
    survival = pd.read_csv(SAMPLE / "survival.csv", dtype={"patient_id": str})
    data = clinical.merge(survival, on="patient_id", validate="one_to_one")
    outcome = SurvivalOutcome(time_column="os_months", event_column="death", time_unit="months", horizons=HORIZONS)
    predictors = Predictors(("age", "tumour_thickness_mm"), ("ct_stage", "sex"))
    model = COX.fit(data, outcome, predictors, name=CLINICAL)
    assert model.converged and model.n == len(data) and model.n_events == int(data["death"].sum())
    design = model.design(data)
    fit = fit_cox(design, data["os_months"].to_numpy(), data["death"].to_numpy())
    np.testing.assert_allclose(model.coef, fit.coef, rtol=1e-12)
    risk = model.predict_risk(data)
    assert risk.between(0, 1).all() and risk.index.equals(data.index)
    # Thicker tumours die sooner in the sample (its generator's effect).
    assert model.coef["tumour_thickness_mm"] > 0


@settings(max_examples=12, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), n=st.integers(15, 60), beta=st.floats(-1.5, 1.5))
def test_predictions_are_survival_curves_whatever_the_data(seed, n, beta):
    # Small seeded cohorts with ties and censoring: survival in [0, 1], falling with the horizon, inside its
    # interval, risk = 1 - survival at the first horizon, and the saved model predicts the same.
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    time = np.ceil(rng.exponential(10 * np.exp(-beta * x)))
    data = pd.DataFrame({"time": np.minimum(time, 30.0), "event": (time <= 30).astype(int), "x": x,
                         "arm": rng.choice(["a", "b"], size=n)})
    if data["event"].sum() < 2 or data["arm"].nunique() < 2:
        return
    last = float(data["time"].max())
    horizons = tuple(sorted({max(1.0, last / 4), max(1.0, last / 2), last}))
    try:
        model = COX.fit(data, _outcome(horizons), Predictors(("x",), ("arm",)), name=CLINICAL)
    except RadNomoError:   # a constant or collinear design in a tiny cohort: refused, said
        return
    survival = model.predict_survival(data)
    values = survival[_columns(horizons)].to_numpy()
    assert ((values >= 0) & (values <= 1)).all() and (np.diff(values, axis=1) <= 1e-12).all()
    if model.converged:
        low, high = survival[_columns(horizons, "low")].to_numpy(), survival[_columns(horizons, "high")].to_numpy()
        assert (low <= values + 1e-12).all() and (values <= high + 1e-12).all() and (high <= 1).all()
    np.testing.assert_allclose(model.predict_risk(data), 1 - values[:, 0], rtol=1e-12)
    back = CoxModel.from_dict(json.loads(json.dumps(model.to_dict())))
    pd.testing.assert_frame_equal(back.predict_survival(data), survival, check_exact=True)


def test_the_survival_nomogram_draws_a_cox_model_from_its_design_and_baseline(synth, factor_model, scores):
    # What a nomogram needs of a Cox model (core.stats.survival.nomogram): the design (no intercept) and the
    # baseline at linear predictor 0; its survival for a patient is the model's.
    from core.stats.survival.nomogram import BaselineHazard, CoxNomogram

    for model in (factor_model, scores["cox_refit"]):
        baseline = BaselineHazard(model.baseline["time"].to_numpy(), model.baseline["cumulative_hazard"].to_numpy())
        nomogram = CoxNomogram(model.nomogram_design(), synth, baseline)
        row = synth.iloc[4]
        centred = nomogram.linear_predictor_at(nomogram.total_points(row))
        expected = model.predict_survival(synth.iloc[[4]], [36])[horizon_column(36)].iloc[0]
        assert float(nomogram.survival(36, centred)) == pytest.approx(expected, rel=1e-9)
