"""AppTest (issue 31): comparator learners chosen on the Models page are fitted, tuned and listed there (their
expanders, their rows of the AUC table), explained by SHAP (the page's mean |SHAP| table), and reach the
Evaluation page's tables; each number checked against the engine run here, outside the pages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.figures.explanations import beeswarm_offsets, shap_importance_figure, shap_summary_figure
from core.stats.evaluation import roc_auc
from core.stats.explanations import Explanation
from core.stats.learners import learners_for
from core.vocabulary import COMPARATOR_METHODS, COMPARATOR_ROLE, comparator_name
from core.workflows.explanations import shap_table, study_explanations
from core.workflows.fit import fit_study, predict_study
from tests.pages.apptest_helpers import dataframe_with, open_study_page, page_texts
from tests.pages.test_learners_pages import _test_brier

# Two learners of different kinds (boosted trees: TreeSHAP; a penalised linear model: exact linear SHAP) that fit
# the small study's three families in seconds.
CHOSEN = ("xgboost", "elastic_net")


def _shown_shap(at) -> pd.DataFrame:
    """The Models page's mean |SHAP| table of the model chosen in its SHAP subsection."""
    return dataframe_with(at, "rank", "feature", "mean_abs_shap").reset_index(drop=True)


def _expected_shap(table: pd.DataFrame, model: str) -> pd.DataFrame:
    return table[table["model"] == model][["rank", "feature", "mean_abs_shap"]].reset_index(drop=True)


@pytest.mark.slow
def test_the_models_page_offers_the_comparators_and_explains_the_scores_without_them(small_study):
    at = open_study_page(small_study, "pages/models.py")
    box = at.multiselect(key="mod_comparators")
    assert box.options == [COMPARATOR_METHODS[m] for m in learners_for(COMPARATOR_ROLE, "binary")]
    assert box.value == [] and at.radio(key="mod_comparator_features").value == "selected"
    assert "by inner 5-fold cross-validated AUC" in page_texts(at) and "bootstrap resample" in page_texts(at)
    assert not any(label in e.label for e in at.expander for label in COMPARATOR_METHODS.values())

    # Without comparators the SHAP subsection explains the scores (exact linear SHAP), as the engine does.
    models = fit_study(small_study)
    table = shap_table(study_explanations(small_study, models), small_study.model_labels())
    shap_box = at.selectbox(key="mod_shap_model")
    assert shap_box.options == [small_study.model_label(f) for f in models.scores]
    name = shap_box.value
    assert name in models.scores
    pd.testing.assert_frame_equal(_shown_shap(at), _expected_shap(table, name), check_dtype=False)
    texts = page_texts(at)
    assert "exact linear shap" in texts.lower() and f"on {min(len(models.train_ids), 300)} training patients" in texts


@pytest.mark.slow
def test_two_comparators_reach_the_models_and_evaluation_pages(small_study):
    study = small_study.with_settings(comparators=CHOSEN)
    models = fit_study(study)  # the comparators fitted here, outside the pages
    names = [comparator_name(family, learner) for family in study.score_families for learner in CHOSEN]
    assert set(models.comparators) == set(names), models.notes
    predictions = predict_study(study, models)
    test = list(study.split.test_ids)
    outcome = study.outcome

    at = open_study_page(small_study, "pages/models.py")
    at.multiselect(key="mod_comparators").set_value(list(CHOSEN)).run()  # picked: nothing fitted until the button
    assert at.session_state["study"].settings.comparators == ()
    at.multiselect(key="mod_comparators").set_value(list(CHOSEN))
    at.button(key="mod_comparators_apply").click().run()  # the form sends its widgets with its button
    assert not at.exception, at.exception
    assert at.session_state["study"].settings.comparators == CHOSEN

    labels = [e.label for e in at.expander]
    for name in names:
        label = study.model_label(name)
        assert any(text.startswith(f"{label}: {len(models[name].variables)} feature(s)") for text in labels), labels
        assert models[name].detail in page_texts(at)
    # The AUC table lists the comparators beside the scores, with the AUCs of the engine's predictions.
    aucs = dataframe_with(at, *names, index="test")
    for name in names:
        assert aucs.loc["test", name] == pytest.approx(roc_auc(outcome.loc[test], predictions.loc[test, name]).auc,
                                                       abs=1e-12)
    # The tuning table of each comparator, its chosen row flagged.
    tuning = dataframe_with(at, "cv_auc", "cv_se", "chosen")
    assert int(tuning["chosen"].sum()) == 1

    # SHAP of a comparator: the page's table is shap_table of the same explanations.
    assert not any(e.key == "mod_shap_model" for e in at.selectbox)  # asked first: a comparator's SHAP may be slow
    at.toggle(key="mod_shap_on").set_value(True).run()
    assert not at.exception, at.exception
    explanations = study_explanations(study, models)
    table = shap_table(explanations, study.model_labels())
    assert set(table["model"]) == {*models.scores, *names}
    assert at.selectbox(key="mod_shap_model").options == [study.model_label(m) for m in (*models.scores, *names)]
    for name in names:
        at.selectbox(key="mod_shap_model").set_value(name).run()  # looked up again: each run draws a new page
        assert not at.exception, at.exception
        pd.testing.assert_frame_equal(_shown_shap(at), _expected_shap(table, name), check_dtype=False)
        assert explanations[name].method.lower() in page_texts(at).lower()

    # The Evaluation page lists the comparators in Table 2 (AUC as the engine's) and in its DeLong pairs.
    at.switch_page("pages/evaluation.py").run()
    assert not at.exception, at.exception
    table2 = dataframe_with(at, "cohort", "model", "AUC", "cut-off")
    pairs = dataframe_with(at, "model_a", "model_b")
    for name in names:
        label = study.model_label(name)
        row = table2[(table2["model"] == label) & (table2["cohort"].str.lower() == "test")]
        assert len(row) == 1, table2[["cohort", "model"]]
        auc = roc_auc(outcome.loc[test], predictions.loc[test, name]).auc
        assert row["AUC"].iloc[0].startswith(f"{auc:.3f} ")
        assert label in set(pairs["model_a"]) | set(pairs["model_b"])
    risk = predictions.loc[test, names[1]]
    assert _test_brier(at, study.model_label(names[1])) == round(float(((risk - outcome.loc[test]) ** 2).mean()), 3)


# -- the SHAP figures (core/figures/explanations.py), on made-up explanations: fast --------------------------------

def _made_up_explanation(n: int = 40) -> Explanation:
    """Three features of known importance (|weights| 3 > 2 > 0.5) explained linearly: SHAP = weight * (x - mean)."""
    rng = np.random.default_rng(7)
    data = pd.DataFrame(rng.normal(size=(n, 3)), columns=["small", "large", "medium"],
                        index=[f"P{i:03d}" for i in range(n)])
    values = (data - data.mean()) * np.array([0.5, -3.0, 2.0])
    return Explanation("made_up", values, data, base_value=-0.4, output="log-odds", method="exact linear SHAP")


def test_the_summary_figure_ranks_features_top_down_and_colours_each_patient_by_its_value_rank():
    explanation = _made_up_explanation()
    figure = shap_summary_figure(explanation, {"large": "Large feature"}, max_features=2)
    assert list(figure.layout.yaxis.ticktext) == ["medium", "Large feature"]  # bottom to top: the largest on top
    assert "top 2 of 3 features" in figure.layout.title.text and "log-odds" in figure.layout.xaxis.title.text
    (trace,) = figure.data
    # Row 1 (top) holds "large": its points' x are its SHAP values, their colours its values' ranks 0..1.
    top = np.round(np.asarray(trace.y)) == 1
    order = explanation.data["large"].rank().to_numpy()
    np.testing.assert_allclose(np.asarray(trace.x)[top], explanation.values["large"].to_numpy())
    np.testing.assert_allclose(np.asarray(trace.marker.color)[top], (order - 1) / (len(order) - 1))
    assert np.abs(np.asarray(trace.y) - np.round(np.asarray(trace.y))).max() <= 0.4 + 1e-12  # jitter within a row
    assert list(trace.marker.colorbar.ticktext) == ["low", "high"]
    # Deterministic: the same explanation draws the same figure.
    assert shap_summary_figure(explanation, max_features=2).to_json() == shap_summary_figure(
        explanation, max_features=2).to_json()


def test_beeswarm_offsets_stack_points_of_a_bin_outward_in_the_order_given():
    # Four equal values share a bin: 0, +1, -1, +2 layers (scaled to the height); a lone value stays on the line.
    offsets = beeswarm_offsets(np.array([1.0, 1.0, 1.0, 1.0, 5.0]), np.array([4.0, 3.0, 2.0, 1.0, 0.0]), height=0.4)
    np.testing.assert_allclose(offsets, [0.4, -0.2, 0.2, 0.0, 0.0])
    np.testing.assert_allclose(beeswarm_offsets(np.array([2.0, np.nan, 2.0])), [0.0, 0.0, 0.4])


def test_the_importance_figure_draws_mean_abs_shap_largest_on_top():
    explanation = _made_up_explanation()
    bars = shap_importance_figure(explanation).data[0]
    assert list(bars.y) == ["small", "medium", "large"]  # the largest on top (the last bar)
    np.testing.assert_allclose(bars.x, explanation.mean_abs().iloc[::-1].to_numpy())
    np.testing.assert_allclose(bars.x, [0.5, 2.0, 3.0] * explanation.data.sub(explanation.data.mean()).abs().mean()
                               .loc[["small", "medium", "large"]].to_numpy())
