"""SurvivalEvaluation.km_curves: the risk groups' Kaplan-Meier curves read back from the evaluation's ``km`` table
are the curves of core.stats.survival.kaplan_meier on the same patients (what the Evaluation page draws)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.stats.survival.kaplan_meier import kaplan_meier
from core.vocabulary import horizon_column
from core.workflows.survival_evaluation import evaluate_survival_cohorts, risk_cutoffs


def test_km_curves_are_the_risk_groups_kaplan_meier_curves() -> None:
    rng = np.random.default_rng(11)
    n = 160
    x = rng.normal(size=n)
    event_time = rng.exponential(1 / (0.04 * np.exp(0.9 * x)))
    censor = rng.uniform(5, 60, n)
    time = np.round(np.minimum(event_time, censor), 1) + 0.1
    ids = [f"P{i:03d}" for i in range(n)]
    outcome = pd.DataFrame({"time": time, "event": (event_time <= censor).astype(int)}, index=ids)
    predictions = pd.DataFrame({"id": ids, "model": "m", "linear_predictor": 0.9 * x,
                                **{horizon_column(h): np.exp(-0.04 * h * np.exp(0.9 * x)) for h in (6, 12, 24)}})
    cohorts = {"train": tuple(ids[:100]), "test": tuple(ids[100:])}
    cutoffs = risk_cutoffs(predictions, cohorts["train"])
    evaluation = evaluate_survival_cohorts(predictions, outcome, cohorts, ["m"], (6, 12, 24), cutoffs,
                                           time_unit="months", decision_thresholds=(0.2, 0.4))
    for cohort, members in cohorts.items():
        curves = evaluation.km_curves(cohort, "m")
        assert list(curves) == ["low", "high"]
        lp = 0.9 * x[[ids.index(i) for i in members]]
        t, e = outcome.loc[list(members), "time"].to_numpy(), outcome.loc[list(members), "event"].to_numpy()
        for group, chosen in (("low", lp <= cutoffs["m"]), ("high", lp > cutoffs["m"])):
            expected = kaplan_meier(t[chosen], e[chosen])
            got = curves[group]
            pd.testing.assert_frame_equal(got.to_frame(), expected.to_frame())
            np.testing.assert_array_equal(got.std_err_log, expected.std_err_log)
            assert got.n == expected.n == int(chosen.sum()) and got.level == expected.level
    assert evaluation.km_curves("test", "no such model") == {}
