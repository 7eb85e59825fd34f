"""AppTest: a second learner chosen on the Models page (ridge scores) reaches the Models and Evaluation pages."""

from __future__ import annotations

import pytest

from core.stats.evaluation import roc_auc
from core.stats.learners import score_methods
from core.workflows.fit import fit_study, predict_study
from core.vocabulary import CALIBRATION_COLUMNS
from tests.pages.apptest_helpers import dataframe_with, open_study_page, page_texts


def _test_brier(at, label: str) -> float:
    """The Evaluation page's Brier score (it reads the probabilities, not only their order) of the model
    ``label`` in the test cohort, as shown (3 decimals), in its Calibration tab."""
    at.session_state["ev_section"] = "Calibration"  # the section's tab (its content runs only while open)
    at.run()
    brier = CALIBRATION_COLUMNS["brier"]
    table = dataframe_with(at, "cohort", "model", brier)
    row = table[(table["model"] == label) & (table["cohort"].str.lower() == "test")]
    assert len(row) == 1, table[["cohort", "model"]]
    return float(row[brier].iloc[0])


@pytest.mark.slow
def test_ridge_scores_on_the_models_and_evaluation_pages(small_study):
    ridge_study = small_study.with_settings(score_method="ridge")
    ridge = fit_study(ridge_study)  # the ridge fit, computed here independently of the pages
    family = max(ridge.scores, key=lambda f: len(ridge.scores[f].variables))  # several features: not the refit's order
    assert len(ridge.scores[family].variables) > 1
    test = list(ridge_study.split.test_ids)
    risk = predict_study(ridge_study, ridge).loc[test, family]
    outcome = ridge_study.outcome.loc[test]

    at = open_study_page(small_study, "pages/models.py")
    # The radio lists the registry's score methods (shown by their labels).
    assert at.radio(key="mod_score_method").options == list(score_methods().values())
    assert "Ridge penalty" not in page_texts(at)
    refit_auc = at.dataframe[-1].value.loc["test", family]

    at.radio(key="mod_score_method").set_value("ridge").run()
    assert not at.exception, at.exception
    assert at.session_state["study"].settings.score_method == "ridge"
    assert "Ridge penalty lambda" in page_texts(at) and "lambda.1se of 10-fold" in page_texts(at)
    # The ridge score's table: standardised coefficients and training means/SDs, no (refit) standard errors.
    assert "se" not in dataframe_with(at, "coef", "train_mean", "train_sd").columns
    ridge_auc = at.dataframe[-1].value.loc["test", family]
    assert ridge_auc == pytest.approx(roc_auc(outcome, risk).auc, abs=1e-12) and ridge_auc != refit_auc

    at.switch_page("pages/evaluation.py").run()
    assert not at.exception, at.exception
    assert _test_brier(at, small_study.model_label(family)) == round(float(((risk - outcome) ** 2).mean()), 3)
