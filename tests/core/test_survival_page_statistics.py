"""What the Selection and Models pages show of a time-to-event study, from the outcome type's statistics
(core.stats.outcome_statistics): Harrell's C at a glance, hazard-ratio warnings, events per variable, sign flips
between the clinical and fused Cox models, the LASSO-Cox's CV figure and its selection stability."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from core.figures.charts import lasso_cv_figure
from core.stats.learners import Predictors
from core.stats.learners.cox import COX
from core.stats.outcome_statistics import statistics_for
from core.stats.outcomes import SurvivalOutcome
from core.stats.selection import BINARY_SCREENING, ScreeningSettings, lasso_cv, selection_stability
from core.stats.summaries import (auc_table, concordance_table, cox_events_per_variable, cox_sign_flips,
                                  hazard_ratio_warnings)
from core.stats.survival.concordance import harrell_c
from core.stats.survival.screening import SURVIVAL_SCREENING
from core.vocabulary import CLINICAL, FUSED

OUTCOME = SurvivalOutcome(time_column="time", event_column="event", time_unit="months", horizons=(2.0,))


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    """400 patients: a score, a clinical variable x close to it (r about 0.9) and exponential survival whose log
    hazard is 1.2 score - 0.5 x, censored uniformly: x alone raises the hazard, x given the score lowers it."""
    rng = np.random.default_rng(27)
    n = 400
    score = rng.normal(size=n)
    x = score + 0.5 * rng.normal(size=n)
    event_time = rng.exponential(np.exp(-(1.2 * score - 0.5 * x)))
    censor = rng.uniform(0.5, 4.0, size=n)
    ids = [f"P{i:03d}" for i in range(n)]
    return pd.DataFrame({"radiomics_score": score, "x": x, "time": np.minimum(event_time, censor),
                         "event": (event_time <= censor).astype(int),
                         "noise": rng.normal(size=n)}, index=pd.Index(ids, name="patient_id"))


def test_concordance_table_is_harrells_c_of_each_model_per_cohort(cohort):
    predictions = pd.DataFrame({"a": cohort["radiomics_score"], "b": -cohort["x"]}, index=cohort.index)
    predictions.iloc[:5, 0] = np.nan  # a patient without a prediction is left out, not counted
    cohorts = {"train": list(cohort.index[:300]), "test": list(cohort.index[300:])}
    table = concordance_table(predictions, OUTCOME.values(cohort), cohorts, ["a", "b"])
    assert list(table.index) == ["train", "test"] and list(table.columns) == ["a", "b"]
    train = cohort.iloc[5:300]
    expected = harrell_c(train["time"].to_numpy(), train["event"].to_numpy(), train["radiomics_score"].to_numpy()).c
    assert table.loc["train", "a"] == pytest.approx(expected, rel=1e-12)
    test = cohort.iloc[300:]
    expected = harrell_c(test["time"].to_numpy(), test["event"].to_numpy(), -test["x"].to_numpy()).c
    assert table.loc["test", "b"] == pytest.approx(expected, rel=1e-12)
    assert table.loc["train", "a"] > 0.6 and table.loc["train", "b"] < 0.5  # -x orders risk backwards

    censored = {"none": list(cohort.index[cohort["event"] == 0][:20])}  # no event: no comparable pair
    assert np.isnan(concordance_table(predictions, OUTCOME.values(cohort), censored, ["a"]).loc["none", "a"])


def test_hazard_ratio_warnings_name_extreme_and_unbounded_terms():
    table = pd.DataFrame({"HR": [1.5, 250.0, 0.8, 0.004], "HR_lower": [1.1, 20.0, 1e-3, 1e-4],
                          "HR_upper": [2.0, 3000.0, 600.0, 0.1]}, index=["age", "stage: IV", "grade: 3", "sex: m"])
    (note,) = hazard_ratio_warnings(table, "clinical model")
    assert note.startswith("clinical model: hazard ratio(s) of ['stage: IV', 'sex: m', 'grade: 3']")
    assert "monotone" in note and "'age'" not in note
    assert hazard_ratio_warnings(table.loc[["age"]]) == []
    vif = hazard_ratio_warnings(table.loc[["age"]].assign(VIF=[7.0]), "fused model")
    assert vif == ["fused model: VIF above 5 for ['age'] (collinear terms: their HRs are unstable)."]


def test_cox_events_per_variable_counts_events_not_the_smaller_class(cohort):
    model = COX.fit(cohort, OUTCOME, Predictors(("x", "noise")), name=CLINICAL)
    assert cox_events_per_variable(model) == pytest.approx(cohort["event"].sum() / 2)
    assert statistics_for("survival").events_per_variable(model) == cox_events_per_variable(model)


def test_cox_sign_flips_explain_a_term_that_turns_with_the_score(cohort):
    clinical = COX.fit(cohort, OUTCOME, Predictors(("x", "noise")), name=CLINICAL)
    fused = COX.fit(cohort, OUTCOME, Predictors(("radiomics_score", "x", "noise")), name=FUSED)
    assert clinical.coef["x"] > 0 > fused.coef["x"]
    flips = cox_sign_flips(clinical, fused, lambda term: {"x": "Tumour size"}.get(term, term))
    assert len(flips) == 1  # noise keeps its (near-zero, positive) sign in this seeded cohort
    assert flips[0].startswith(f"Tumour size: log hazard ratio {clinical.coef['x']:+.3f} in the clinical model but "
                               f"{fused.coef['x']:+.3f} in the fused model")
    assert "The fused model also holds the radiomics_score, which is correlated with it" in flips[0]
    assert cox_sign_flips(None, fused) == [] and cox_sign_flips(clinical, None) == []
    assert cox_sign_flips(clinical, clinical) == []


def test_cox_sign_flips_say_when_a_sign_is_uncertain():
    clinical = SimpleNamespace(table=pd.DataFrame({"coef": [0.2], "p": [0.01]}, index=["age"]))
    fused = SimpleNamespace(table=pd.DataFrame({"coef": [1.0, -0.05], "p": [1e-6, 0.4]},
                                               index=["dl_score", "age"]))
    (flip,) = cox_sign_flips(clinical, fused)
    assert "The fused coefficient is not significant (p = 0.400)" in flip


def test_each_outcome_type_names_its_models_and_tables():
    binary, survival = statistics_for("binary"), statistics_for("survival")
    # the binary pages' words stay as they were
    assert (binary.score_scale, binary.univariable_title, binary.group_means) == (
        "log-odds", "Univariable logistic regression", ("mean non-event", "mean event"))
    assert binary.discrimination_table is auc_table
    assert (survival.score_scale, survival.univariable_title, survival.group_means) == (
        "log relative hazard", "Univariable Cox regression", ("mean censored", "mean event"))
    assert survival.discrimination_table is concordance_table and "Harrell's C" in survival.discrimination_note


def test_lasso_cv_figure_names_the_deviance_its_result_holds(cohort):
    X = cohort[["radiomics_score", "x", "noise"]]
    binary = lasso_cv(X, cohort["event"].to_numpy(), n_folds=5, seed=1)
    figure = lasso_cv_figure(binary)
    assert figure.layout.yaxis.title.text == "binomial deviance"
    assert figure.layout.title.text == "LASSO: 5-fold cross-validated deviance"
    cox = SURVIVAL_SCREENING.lasso(X, SURVIVAL_SCREENING.outcome(OUTCOME.values(cohort)),
                                   ScreeningSettings(n_folds=4, seed=1))
    figure = lasso_cv_figure(cox)
    assert figure.layout.yaxis.title.text == "partial-likelihood deviance"
    assert figure.layout.title.text == "LASSO: 4-fold cross-validated deviance"


def test_selection_stability_repeats_the_lasso_cox(cohort):
    X = cohort[["radiomics_score", "x", "noise"]]
    y = OUTCOME.values(cohort)
    frequency, runs = selection_stability(X, y, n_repeats=4, n_folds=5, seed=2, statistics=SURVIVAL_SCREENING)
    again, _ = selection_stability(X, y, n_repeats=4, n_folds=5, seed=2, statistics=SURVIVAL_SCREENING)
    pd.testing.assert_frame_equal(frequency, again)
    assert len(runs) == 4 and frequency.loc["radiomics_score", "selected"] == 1.0
    # the same repeats with the binary LASSO of the event indicator are another analysis
    binary, _ = selection_stability(X, cohort["event"], n_repeats=4, n_folds=5, seed=2, statistics=BINARY_SCREENING)
    assert not np.allclose(binary["mean_coef"].fillna(0).sort_index(), frequency["mean_coef"].fillna(0).sort_index())
