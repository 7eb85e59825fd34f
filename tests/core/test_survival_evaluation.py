"""The survival evaluation of a study's cohorts: tables equal to the statistics they come from, cut-offs from
the training cohort, notes for what is left out, Table 2, boundary errors; on synthetic data and on the sample's
survival table with a Cox model of clinical columns.

The statistics themselves are checked against R in their own test files (test_survival_km_cox.py,
test_survival_discrimination.py, test_survival_cutoff_metrics.py, test_survival_calibration_nomogram.py); here
each table is compared with a direct call of the function behind it (same inputs: exact equality).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.outcomes import SurvivalOutcome
from core.stats.survival.calibration import survival_calibration
from core.stats.survival.concordance import compare_concordance, harrell_c, uno_c
from core.stats.survival.cox import fit_cox
from core.stats.survival.cutoff_metrics import cutoff_metrics
from core.stats.survival.decision import survival_decision_curve
from core.stats.survival.kaplan_meier import kaplan_meier, log_rank
from core.stats.survival.time_dependent import brier, integrated_brier, td_auc, td_roc_curve
from core.vocabulary import horizon_column as survival_column
from core.vocabulary import horizon_text
from core.workflows.survival_evaluation import (
    RISK_GROUPS,
    SurvivalEvaluation,
    evaluate_survival_cohorts,
    risk_cutoffs,
)

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
HORIZONS = (12, 36, 60)
THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)   # a few decision thresholds keep the tests fast


def _synthetic(n: int = 300, seed: int = 27) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, tuple]]:
    """Predictions of two models ("good": the true log hazard; "noise": unrelated), outcomes, train/test."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    event_time = rng.exponential(1 / (0.03 * np.exp(0.8 * x)))
    censor = rng.uniform(10, 80, n)
    time = np.round(np.minimum(event_time, censor), 1) + 0.1
    ids = [f"P{i:03d}" for i in range(n)]
    outcome = pd.DataFrame({"time": time, "event": (event_time <= censor).astype(int)}, index=ids)
    frames = []
    for model, lp in (("good", 0.8 * x), ("noise", 0.5 * rng.normal(size=n))):
        columns = {"id": ids, "model": model, "linear_predictor": lp}
        for h in (*HORIZONS, 24, 48):   # two extra grid times for the integrated Brier score
            columns[survival_column(h)] = np.exp(-0.03 * h * np.exp(lp))
        frames.append(pd.DataFrame(columns))
    cut = int(0.6 * n)
    return pd.concat(frames, ignore_index=True), outcome, {"train": tuple(ids[:cut]), "test": tuple(ids[cut:])}


@pytest.fixture(scope="module")
def synthetic() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, tuple], SurvivalEvaluation]:
    predictions, outcome, cohorts = _synthetic()
    cutoffs = risk_cutoffs(predictions, cohorts["train"])
    evaluation = evaluate_survival_cohorts(predictions, outcome, cohorts, ["good", "noise"], HORIZONS, cutoffs,
                                           time_unit="months", decision_thresholds=THRESHOLDS)
    return predictions, outcome, cohorts, evaluation


def _arrays(predictions, outcome, ids, model, horizon=None):
    rows = predictions[predictions["model"] == model].set_index("id").loc[list(ids)]
    time, event = outcome.loc[list(ids), "time"].to_numpy(), outcome.loc[list(ids), "event"].to_numpy()
    surv = None if horizon is None else rows[survival_column(horizon)].to_numpy()
    return time, event, rows["linear_predictor"].to_numpy(), surv


def _one(frame: pd.DataFrame, **where) -> pd.DataFrame:
    mask = np.ones(len(frame), dtype=bool)
    for column, value in where.items():
        mask &= (frame[column] == value).to_numpy()
    return frame[mask]


def test_column_names_of_horizons() -> None:
    assert survival_column(12) == "surv_12" and survival_column(12.0) == "surv_12"
    assert survival_column(36.5) == "surv_36.5" and horizon_text(0.25) == "0.25"


def test_cutoffs_are_the_training_quantiles(synthetic) -> None:
    predictions, _, cohorts, evaluation = synthetic
    train = predictions[predictions["id"].isin(cohorts["train"])]
    for model in ("good", "noise"):
        lp = train.loc[train["model"] == model, "linear_predictor"]
        assert evaluation.cutoffs[model] == pytest.approx(float(np.median(lp)), abs=0)
        assert risk_cutoffs(predictions, cohorts["train"], quantile=0.25)[model] == float(np.quantile(lp, 0.25))
        # the same cut-off in every cohort, and the high-risk group is everyone strictly above it
        for cohort, ids in cohorts.items():
            _, _, lp_cohort, _ = _arrays(predictions, synthetic[1], ids, model)
            groups = _one(evaluation.risk_groups, cohort=cohort, model=model).set_index("group")
            assert (groups["cutoff"] == evaluation.cutoffs[model]).all()
            assert groups.loc["high", "n"] == int((lp_cohort > evaluation.cutoffs[model]).sum())
    with pytest.raises(RadNomoError, match="strictly between 0 and 1"):
        risk_cutoffs(predictions, cohorts["train"], quantile=1.0)
    with pytest.raises(RadNomoError, match="no linear predictor for any training patient"):
        risk_cutoffs(predictions, ["nobody"])


def test_tables_equal_the_statistics_behind_them(synthetic) -> None:
    predictions, outcome, cohorts, evaluation = synthetic
    cohort, model, horizon = "test", "good", 36
    time, event, lp, surv = _arrays(predictions, outcome, cohorts[cohort], model, horizon)
    concordance = _one(evaluation.concordance, cohort=cohort, model=model).iloc[0]
    harrell, uno = harrell_c(time, event, lp), uno_c(time, event, lp, tau=60)
    assert (concordance["c_index"], concordance["c_low"], concordance["c_high"]) == (harrell.c, harrell.low,
                                                                                     harrell.high)
    assert (concordance["uno_c"], concordance["uno_low"], concordance["uno_high"]) == (uno.c, uno.low, uno.high)
    assert concordance["n"] == len(time) and concordance["events"] == event.sum() and concordance["left_out"] == 0
    auc = _one(evaluation.td_auc, cohort=cohort, model=model, horizon=horizon).iloc[0]
    direct = td_auc(time, event, lp, [horizon]).iloc[0]
    assert (auc["auc"], auc["auc_low"], auc["auc_high"]) == (direct["auc"], direct["auc_low"], direct["auc_high"])
    roc = _one(evaluation.td_roc, cohort=cohort, model=model, horizon=horizon)
    np.testing.assert_array_equal(roc["tpr"], td_roc_curve(time, event, lp, horizon)["tpr"])
    score = _one(evaluation.brier, cohort=cohort, model=model, horizon=horizon).iloc[0]
    direct_brier = brier(time, event, surv, horizon)
    assert (score["brier"], score["brier_high"], score["null_brier"]) == (direct_brier.brier, direct_brier.high,
                                                                         direct_brier.null_brier)
    # the IBS integrates over every surv_<t> column up to the last horizon (12, 24, 36, 48, 60)
    ibs = _one(evaluation.ibs, cohort=cohort, model=model).iloc[0]
    rows = predictions[predictions["model"] == model].set_index("id").loc[list(cohorts[cohort])]
    grid = [12, 24, 36, 48, 60]
    direct_ibs = integrated_brier(time, event, rows[[survival_column(t) for t in grid]].to_numpy(), grid)
    assert ibs["grid_points"] == 5 and ibs["ibs_to"] == 60 and ibs["ibs"] == direct_ibs["ibs"].iloc[-1]
    calibration = survival_calibration(time, event, surv, horizon, groups=5)
    slope = _one(evaluation.calibration_slope, cohort=cohort, model=model, horizon=horizon).iloc[0]
    assert slope["slope"] == calibration.slope.coefficient and slope["oe_high"] == calibration.oe_upper
    groups = _one(evaluation.calibration, cohort=cohort, model=model, horizon=horizon)
    np.testing.assert_array_equal(groups["observed"], calibration.groups["observed"])
    np.testing.assert_array_equal(groups["low"], calibration.groups["lower"])
    decision = _one(evaluation.decision, cohort=cohort, model=model, horizon=horizon)
    direct_decision = survival_decision_curve(time, event, 1 - surv, horizon, THRESHOLDS)
    np.testing.assert_array_equal(decision["net_benefit"], direct_decision["net_benefit"])
    np.testing.assert_array_equal(decision["treat_all"], direct_decision["treat_all"])


def test_risk_groups_at_the_training_cutoff(synthetic) -> None:
    predictions, outcome, cohorts, evaluation = synthetic
    cohort, model = "test", "good"
    time, event, lp, _ = _arrays(predictions, outcome, cohorts[cohort], model)
    high = lp > evaluation.cutoffs[model]
    groups = _one(evaluation.risk_groups, cohort=cohort, model=model).set_index("group")
    assert list(groups.index) == list(RISK_GROUPS)
    test = log_rank(time, event, np.where(high, "high", "low"))
    fit = fit_cox(pd.DataFrame({"high": high.astype(float)}), time, event)
    assert (groups["logrank_chisq"] == test.chisq).all() and (groups["logrank_p"] == test.p).all()
    assert (groups["hr"] == fit.hr["high"]).all() and (groups["hr_low"] == fit.hr_lower["high"]).all()
    assert groups.loc["high", "hr"] > 1   # the model that knows the hazard puts the deaths in its high group
    km_high = kaplan_meier(time[high], event[high])
    assert tuple(groups.loc["high", ["median", "median_low", "median_high"]]) == pytest.approx(km_high.median(),
                                                                                               nan_ok=True)
    curve = _one(evaluation.km, cohort=cohort, model=model, group="high")
    assert curve["time"].iloc[0] == 0 and curve["survival"].iloc[0] == 1 and curve["n_risk"].iloc[0] == high.sum()
    np.testing.assert_array_equal(curve["survival"].iloc[1:], km_high.survival)
    # metrics at the cut-off per horizon: timeROC's estimators and the groups' Kaplan-Meier event rates
    metrics = _one(evaluation.cutoff_metrics, cohort=cohort, model=model).set_index("horizon")
    direct = cutoff_metrics(time, event, lp, evaluation.cutoffs[model], HORIZONS).set_index("horizon")
    for column in ("sensitivity", "specificity", "ppv", "npv"):
        np.testing.assert_array_equal(metrics[column], direct[column])
    rate = kaplan_meier(time[high], event[high]).summary([12.0]).iloc[0]
    assert metrics.loc[12.0, "high_event_rate"] == pytest.approx(1 - rate["survival"], abs=1e-15)
    assert metrics.loc[12.0, "high_event_rate_low"] == pytest.approx(1 - rate["upper"], abs=1e-15)
    assert metrics.loc[12.0, "high_event_rate"] > metrics.loc[12.0, "low_event_rate"]


def test_model_pairs_are_compared_per_cohort(synthetic) -> None:
    predictions, outcome, cohorts, evaluation = synthetic
    assert list(evaluation.comparisons["cohort"]) == ["train", "test"]
    pair = _one(evaluation.comparisons, cohort="train").iloc[0]
    time, event, good, _ = _arrays(predictions, outcome, cohorts["train"], "good")
    _, _, noise, _ = _arrays(predictions, outcome, cohorts["train"], "noise")
    direct = compare_concordance(time, event, {"good": good, "noise": noise}).iloc[0]
    assert (pair["model_a"], pair["model_b"]) == ("good", "noise")
    assert (pair["difference"], pair["low"], pair["high"], pair["p"]) == (direct["difference"], direct["low"],
                                                                         direct["high"], direct["p"])
    assert pair["p_holm"] == pair["p"]   # one pair: Holm changes nothing
    assert pair["difference"] > 0 and pair["n"] == len(cohorts["train"])


def test_table2_gathers_the_cohort_and_horizon_columns(synthetic) -> None:
    _, _, _, evaluation = synthetic
    table = evaluation.table2()
    assert list(table.columns[:11]) == ["cohort", "model", "n", "events", "c_index", "c_low", "c_high", "uno_c",
                                        "uno_low", "uno_high", "cutoff"]
    for h in HORIZONS:
        for column in ("auc", "auc_low", "auc_high", "sensitivity", "specificity", "ppv", "npv", "high_event_rate",
                       "high_event_rate_low", "high_event_rate_high"):
            assert f"{column}_{h}" in table.columns
    assert table.columns[-1] == "left_out" and len(table) == 4
    row = table[(table["cohort"] == "test") & (table["model"] == "good")].iloc[0]
    auc = _one(evaluation.td_auc, cohort="test", model="good", horizon=36).iloc[0]
    metrics = _one(evaluation.cutoff_metrics, cohort="test", model="good", horizon=36).iloc[0]
    assert row["auc_36"] == auc["auc"] and row["sensitivity_36"] == metrics["sensitivity"]
    assert row["cutoff"] == evaluation.cutoffs["good"]


def test_left_out_cases_are_noted_not_raised() -> None:
    predictions, outcome, cohorts = _synthetic(n=200, seed=3)
    ids = list(outcome.index)
    # a cohort without events, a cohort whose follow-up ends before 60 months, patients without a prediction
    outcome.loc[ids[:20], "event"] = 0
    short = ids[20:80]
    outcome.loc[short, "time"] = np.minimum(outcome.loc[short, "time"], 40.0)
    missing = ids[80:85]
    predictions.loc[predictions["id"].isin(missing) & (predictions["model"] == "noise"), "linear_predictor"] = np.nan
    cohorts = {"train": tuple(ids[20:]), "no_events": tuple(ids[:20]), "short": tuple(short),
               "gappy": tuple(ids[80:140])}
    cutoffs = risk_cutoffs(predictions, cohorts["train"])
    evaluation = evaluate_survival_cohorts(predictions, outcome, cohorts, ["good", "noise"], HORIZONS, cutoffs,
                                           time_unit="months", decision_thresholds=THRESHOLDS)
    notes = " | ".join(evaluation.notes)
    # no event: in no table, said so
    for name in ("concordance", "td_auc", "brier", "risk_groups", "cutoff_metrics", "calibration_slope"):
        assert not (getattr(evaluation, name)["cohort"] == "no_events").any(), name
    assert "no_events, good: no event among the 20 patient(s)" in notes
    assert not evaluation.evaluated("no_events", "good") and evaluation.evaluated("short", "good")
    # nobody followed past 60: that horizon is out of the horizon tables, the others stay
    assert set(_one(evaluation.td_auc, cohort="short", model="good")["horizon"]) == {12.0, 36.0}
    assert set(_one(evaluation.brier, cohort="short", model="good")["horizon"]) == {12.0, 36.0}
    assert set(_one(evaluation.cutoff_metrics, cohort="short", model="good")["horizon"]) == {12.0, 36.0}
    assert "short, good: horizon 60 months left out of the time-dependent AUC" in notes
    assert "short, good: horizon 60 months left out of the Brier score" in notes
    assert "beyond the horizon 60" in notes
    row = evaluation.table2().set_index(["cohort", "model"]).loc[("short", "good")]
    assert np.isnan(row["auc_60"]) and not np.isnan(row["auc_36"])
    # the IBS stops at the last evaluable horizon
    assert _one(evaluation.ibs, cohort="short", model="good")["ibs_to"].iloc[0] == 36
    # patients without a prediction: counted, noted, the model judged on the others
    gappy = _one(evaluation.concordance, cohort="gappy", model="noise").iloc[0]
    assert gappy["left_out"] == 5 and gappy["n"] == 55
    assert "gappy, noise: 5 of 60 patient(s) without this model's linear predictor" in notes
    pair = _one(evaluation.comparisons, cohort="gappy").iloc[0]
    assert pair["n"] == 55 and pair["left_out"] == 5
    # a cut-off above every patient: one risk group, no log-rank or hazard ratio, said so
    one_group = evaluate_survival_cohorts(predictions, outcome, {"train": cohorts["train"]}, ["good"], HORIZONS,
                                          {"good": 100.0}, time_unit="months", curves=False)
    groups = one_group.risk_groups.set_index("group")
    assert groups.loc["high", "n"] == 0 and np.isnan(groups.loc["low", "logrank_p"])
    assert np.isnan(groups.loc["low", "hr"])
    assert any("every patient is in the low-risk group" in n for n in one_group.notes)
    # curves=False leaves out the curve tables and the pairs
    for name in ("td_roc", "km", "calibration", "decision", "comparisons"):
        assert getattr(one_group, name).empty, name
    assert not one_group.concordance.empty and not one_group.calibration_slope.empty


def test_inputs_are_checked_at_the_boundary(synthetic) -> None:
    predictions, outcome, cohorts, evaluation = synthetic
    cutoffs = evaluation.cutoffs

    def run(pred=predictions, out=outcome, coh=cohorts, models=("good",), horizons=HORIZONS, cuts=cutoffs):
        return evaluate_survival_cohorts(pred, out, coh, models, horizons, cuts, time_unit="months", curves=False)

    with pytest.raises(RadNomoError, match="lack column.*surv_36"):
        run(pred=predictions.drop(columns=["surv_36"]))
    with pytest.raises(RadNomoError, match="no predictions of model"):
        run(models=("other",))
    with pytest.raises(RadNomoError, match="no cut-off for model"):
        run(cuts={"noise": 0.0})
    with pytest.raises(RadNomoError, match="duplicated patient-model"):
        run(pred=pd.concat([predictions, predictions.head(1)]))
    with pytest.raises(RadNomoError, match="without an outcome"):
        run(coh={"train": (*cohorts["train"], "X999")})
    with pytest.raises(RadNomoError, match="at least one horizon"):
        run(horizons=())
    with pytest.raises(RadNomoError, match="'event' column"):
        run(out=outcome.drop(columns=["event"]))


def test_sample_survival_with_a_cox_model_of_clinical_columns() -> None:
    """The sample's overall survival (os_months / death, horizons 12/36/60) against two Cox models fitted on a
    seeded 70 % training split: age, T and N stage; and age alone."""
    clinical = pd.read_csv(SAMPLE / "clinical.csv").set_index("patient_id")
    survival = pd.read_csv(SAMPLE / "survival.csv").set_index("patient_id")
    frame = clinical.join(survival)
    outcome = SurvivalOutcome(time_column="os_months", event_column="death", time_unit="months", horizons=HORIZONS)
    values = outcome.values(frame)
    X = pd.DataFrame({"age": frame["age"].astype(float),
                      "t_stage": frame["ct_stage"].str[1].astype(float),
                      "n_stage": frame["cn_stage"].str[1].astype(float)}, index=frame.index)
    order = np.random.default_rng(2025).permutation(len(frame))
    train = frame.index[order[: int(0.7 * len(frame))]]
    test = frame.index[order[int(0.7 * len(frame)):]]
    frames = []
    for model, terms in (("clinical", ["age", "t_stage", "n_stage"]), ("age", ["age"])):
        fit = fit_cox(X.loc[train, terms], values.loc[train, "time"].to_numpy(), values.loc[train, "event"].to_numpy())
        assert fit.converged
        lp = fit.linear_predictor(X[terms])
        surv = fit.survival_for_linear_predictor(lp, HORIZONS)
        frames.append(pd.DataFrame({"id": frame.index, "model": model, "linear_predictor": lp,
                                    **{survival_column(h): surv[:, k] for k, h in enumerate(HORIZONS)}}))
    predictions = pd.concat(frames, ignore_index=True)
    cohorts = {"train": tuple(train), "test": tuple(test)}
    cutoffs = risk_cutoffs(predictions, train)
    evaluation = evaluate_survival_cohorts(predictions, values, cohorts, ["clinical", "age"], HORIZONS, cutoffs,
                                           time_unit="months", decision_thresholds=THRESHOLDS)
    table = evaluation.table2().set_index(["cohort", "model"])
    assert len(table) == 4 and table["left_out"].eq(0).all()
    # the stages carry hazard in the generator: the clinical model discriminates, on the held-out patients too
    assert table.loc[("test", "clinical"), "c_index"] > 0.55
    assert table.loc[("test", "clinical"), "c_index"] > table.loc[("test", "age"), "c_index"]
    # a few numbers against the functions directly (test cohort, clinical model)
    time, event, lp, surv = _arrays(predictions, values, test, "clinical", 60)
    assert table.loc[("test", "clinical"), "c_index"] == harrell_c(time, event, lp).c
    assert table.loc[("test", "clinical"), "auc_60"] == td_auc(time, event, lp, [60])["auc"].iloc[0]
    assert _one(evaluation.brier, cohort="test", model="clinical", horizon=60)["brier"].iloc[0] == \
        brier(time, event, surv, 60).brier
    direct = cutoff_metrics(time, event, lp, cutoffs["clinical"], [12]).iloc[0]
    assert table.loc[("test", "clinical"), "sensitivity_12"] == direct["sensitivity"]
    # the training cohort's median splits it in two halves (up to ties at the median)
    groups = _one(evaluation.risk_groups, cohort="train", model="clinical").set_index("group")
    assert abs(int(groups.loc["high", "n"]) - len(train) / 2) <= 0.5 * len(train) * 0.1
    assert groups.loc["high", "hr"] > 1 and groups.loc["high", "logrank_p"] < 0.05
    assert set(evaluation.decision["horizon"]) == set(map(float, HORIZONS))


def test_the_risk_groups_split_at_the_studys_training_quantile():
    """EvaluationSettings.risk_quantile chooses the cut-off on the training patients (the median by default) and
    every cohort is split there; the setting keeps the saved form of studies that do not change it."""
    import dataclasses

    from core.workflows.study import EvaluationSettings

    assert "risk_quantile" not in EvaluationSettings().to_dict()
    upper = EvaluationSettings(risk_quantile=0.75)
    assert EvaluationSettings.from_dict(upper.to_dict()) == upper
    with pytest.raises(RadNomoError, match="0.05 to 0.95"):
        EvaluationSettings(risk_quantile=0.99)
    from core.workflows.fit import fit_study, predict_study
    from core.workflows.sample import sample_survival_study
    from core.workflows.survival_evaluation import evaluate_survival_study, long_predictions

    study = sample_survival_study()
    study = study.replace(families=(), combined=(), settings=dataclasses.replace(study.settings, fused_score=None))
    models = fit_study(study)
    predictions = predict_study(study, models)
    for quantile in (0.5, 0.75):
        shifted = study.replace(evaluation=EvaluationSettings(risk_quantile=quantile))
        evaluation = evaluate_survival_study(shifted, models, predictions)
        long = long_predictions(predictions, models.model_names, study.spec.outcome.horizons)
        train = long[long["id"].isin([str(i) for i in study.train_ids])]
        expected = float(np.quantile(train["linear_predictor"], quantile))
        groups = evaluation.risk_groups
        cutoff = groups.loc[groups["cohort"] == "test", "cutoff"].iloc[0]
        assert cutoff == pytest.approx(expected, rel=1e-12)
        high = groups[(groups["cohort"] == "train") & (groups["group"] == "high")]["n"].iloc[0]
        assert high == pytest.approx((1 - quantile) * len(study.train_ids), abs=3)
