"""A real browser (issue 31): on the sample study (1,001 patients), two comparator learners added on the Models page
are fitted and tuned (their expanders show), explained by SHAP (the summary plot drawn), and reach the Evaluation
page's ROC figures, whose plotly traces carry both comparators' labels. Screenshots go to ``artifacts/e2e/``
(or ``$RADNOMO_E2E_ARTIFACTS``); the seconds each step took are printed (``pytest -s``) and saved beside them.
"""

from __future__ import annotations

import json
import time

import pytest

from core.vocabulary import COMPARATOR_METHODS
from tests.pages.test_browser_e2e import (ARTIFACTS, _go, _no_errors, _select, _settle, _shot,  # noqa: F401
                                          browser_page, server)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Boosted trees (TreeSHAP) and a penalised linear model: both fit the sample's three families in under a minute
# together on 2 busy cores (the random forest takes about as long alone, and its SHAP half a minute more).
CHOSEN = ("xgboost", "elastic_net")
SHAP_TOGGLE = "Compute the SHAP explanations (a comparator's explainer can take a minute)"
COMPARATORS_LABEL = "Comparator learners (each fitted on every family's features beside its score)"

# The names of the traces of the plotly chart in the element keyed by the argument (its `data`, as drawn).
_TRACE_NAMES = "c => (c.data || []).map(t => t.name || '')"


def _add_comparator(page, label: str) -> None:
    """Pick ``label`` in the Models page's comparator multiselect (in a form: nothing runs until its button)."""
    _settle(page)
    for attempt in range(3):
        box = page.get_by_role("combobox", name=COMPARATORS_LABEL)
        box.scroll_into_view_if_needed()
        box.click(force=True)
        try:
            page.get_by_role("option", name=label, exact=True).first.click(timeout=30_000)
            break
        except Exception:  # the list closed under a rerun: open it again
            if attempt == 2:
                raise
            _settle(page)
    page.keyboard.press("Escape")  # close the list so that it does not cover the page


def _trace_names(page, key: str) -> list[str]:
    chart = page.locator(f".st-key-{key} .js-plotly-plot").first
    chart.wait_for()
    chart.scroll_into_view_if_needed()
    return chart.evaluate(_TRACE_NAMES)


def test_two_comparators_reach_the_models_page_shap_and_the_roc_figures(server, browser_page):  # noqa: F811
    from core.workflows.sample import sample_study

    study = sample_study().with_settings(comparators=CHOSEN)  # their names and labels only: nothing is fitted here
    labels = {name: study.model_label(name) for name in study.comparator_models}
    timings: dict[str, float] = {}
    page = browser_page
    page.goto(server)
    page.get_by_role("heading", name="RadNomo").first.wait_for()
    _settle(page, 1.0)
    start = time.perf_counter()
    _go(page, "Models")
    page.get_by_role("heading", name="Comparator learners").first.wait_for()
    timings["models page, no comparator"] = time.perf_counter() - start
    _no_errors(page)

    start = time.perf_counter()
    for learner in CHOSEN:
        _add_comparator(page, COMPARATOR_METHODS[learner])
    page.get_by_role("button", name="Fit the chosen comparators").click()  # one fit of both
    _settle(page, 1.0)
    for label in labels.values():
        page.get_by_text(f"{label}: ", exact=False).first.wait_for()  # the comparator's expander
    timings["models page, two comparators added (fit and tuned)"] = time.perf_counter() - start
    _no_errors(page)
    # The section in the middle of the screen: the choice, the tuning caption and the comparators' expanders.
    page.get_by_role("heading", name="Comparator learners").first.evaluate("e => e.scrollIntoView({block: 'start'})")
    _settle(page)
    _shot(page, "comparators_1_models_page")
    first = next(iter(labels.values()))
    page.get_by_text(f"{first}: ").first.click()  # its expander: the chosen parameters and the tuning grid
    page.get_by_role("button", name="Tuning table (CSV)").first.wait_for()
    _settle(page)
    _no_errors(page)
    _shot(page, "comparators_1b_tuning_table")

    trees = next(name for name in labels if name.endswith("xgboost"))
    start = time.perf_counter()
    page.get_by_text(SHAP_TOGGLE).click()  # a comparator's SHAP is computed when asked
    _settle(page, 1.0)
    _select(page, "Model explained", labels[trees])
    chart = page.locator(f".st-key-mod_shap_summary_{trees} .js-plotly-plot").first
    chart.wait_for()
    timings["SHAP of the comparators computed, boosted trees shown"] = time.perf_counter() - start
    chart.scroll_into_view_if_needed()
    _settle(page)
    # A point per explained patient and feature (plotly.js decodes the figure's packed arrays into _fullData).
    assert chart.evaluate("c => c._fullData[0]._length") >= 300
    _no_errors(page)
    _shot(page, "comparators_2_shap_summary")

    start = time.perf_counter()
    _go(page, "Evaluation")
    page.get_by_role("heading", name="Evaluation").first.wait_for()
    names = _trace_names(page, "ev_roc_test")
    timings["evaluation page with the comparators"] = time.perf_counter() - start
    for label in labels.values():
        assert any(name.startswith(f"{label}: ") for name in names), (label, names)
    _no_errors(page)
    page.get_by_role("heading", name="ROC curves").first.scroll_into_view_if_needed()
    _settle(page)
    _shot(page, "comparators_3_evaluation_roc")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "comparators_timings.json").write_text(json.dumps(timings, indent=1))
    print("comparator timings (s):", json.dumps({k: round(v, 1) for k, v in timings.items()}))
