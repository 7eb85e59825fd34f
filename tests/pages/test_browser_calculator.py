"""A real browser (issue 29): the nomogram calculator answers in the browser, with the server's numbers.

For every model of the sample study, and of a study of another shape (a cohort with other clinical variables,
two of them categorical, and an imported radiomics table), the risk, its 95 % CI, the total and each predictor's
points the browser shows equal the engine's (``Nomogram.points``, the model's ``predict_interval``) to 1e-9, at
the values the calculator starts from and after an input is moved; moving an input reruns no script; a committed
value is kept when the page is left; the nomogram's labels do not overlap.
"""

from __future__ import annotations

import math
import time

import pandas as pd
import pytest

from tests.pages.test_browser_e2e import (  # noqa: F401
    CALCULATOR, _go, _no_errors, _open_sample_slice, _overlapping_labels, _settle, _shot, browser_page, server)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CALC = CALCULATOR
TOLERANCE = 1e-9

# What the calculator shows, at full precision (the data-* attributes the component keeps beside its text): a
# binary outcome's risk and CI, or a time-to-event outcome's survival and CI per horizon and median time.
_READ = """c => { const data = (id) => (c.querySelector(id) || {dataset: {}}).dataset;
  return {values: JSON.parse(c.dataset.values), total: +data('#total').total,
  risk: +data('#risk').risk, risk_text: (c.querySelector('#risk') || {}).textContent, low: +data('#ci').low,
  high: +data('#ci').high, median: +data('#median').median,
  survival: Array.from(c.querySelectorAll('[id^="survival-"]')).map(e => ({horizon: +e.dataset.horizon,
    survival: +e.dataset.survival, low: +e.dataset.low, high: +e.dataset.high, text: e.textContent})),
  points: Object.fromEntries(Array.from(c.querySelectorAll('#points tbody tr')).map(
      r => [r.dataset.var, +r.dataset.points])),
  marks: c.querySelectorAll('svg .mark').length}; }"""

# Counts the script runs from now on: each time Streamlit's app reports a running script.
_COUNT_RUNS = """() => { window.__runs = 0; const app = document.querySelector("[data-testid='stApp']");
  new MutationObserver(() => { if (app.dataset.testScriptState === 'running') window.__runs += 1; })
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']}); }"""

# Chooses a level as a person does (input, then change) and reads the total shown in the same task.
_CHOOSE = """(c, [variable, level]) => { const box = c.querySelector(`select[data-var="${variable}"]`);
  box.value = level; box.dispatchEvent(new Event('input', {bubbles: true}));
  box.dispatchEvent(new Event('change', {bubbles: true})); return +c.querySelector('#total').dataset.total; }"""

def _calculator(page):
    calc = page.locator(CALC).first
    calc.wait_for(timeout=300_000)
    return calc


def _shown(page) -> dict:
    return _calculator(page).evaluate(_READ)


def _row(nomogram, values: dict) -> dict:
    return {v: (str(values[v]) if v in nomogram.levels else float(values[v])) for v in nomogram.variables}


def _close(shown: float, expected: float) -> bool:
    return (math.isnan(shown) and math.isnan(expected)) or math.isclose(shown, expected, rel_tol=0,
                                                                         abs_tol=TOLERANCE)


def _assert_same(shown: dict, nomogram, what: str, study=None) -> None:
    """The browser's numbers equal the engine's for the values it shows: a logistic model's risk with its
    interval (``predict_interval``), or a Cox model's survival with its interval at each horizon and median time
    (``survival_calculation``, what the server's calculator shows)."""
    row = _row(nomogram, shown["values"])
    points = {v: nomogram.points(v, row[v]) for v in nomogram.variables}
    assert set(shown["points"]) == set(points), (what, shown["points"])
    for variable, expected in points.items():
        assert _close(shown["points"][variable], expected), (what, variable, shown["points"][variable], expected)
    assert _close(shown["total"], sum(points.values())), (what, "total")
    if study is None:  # a logistic model
        interval = nomogram.model.predict_interval(pd.DataFrame([row])).iloc[0]
        expected = {"risk": interval["probability"], "low": interval["low"], "high": interval["high"]}
        for name, value in expected.items():
            assert _close(shown[name], float(value)), (what, name, shown[name], float(value))
        assert shown["risk_text"] == f"{expected['risk']:.1%}", (what, shown["risk_text"])
        assert shown["marks"] == len(nomogram.variables) + 2  # each predictor, the total points and the risk
        return
    from core.workflows.nomograms import survival_calculation

    patient = survival_calculation(study, nomogram, row).patient
    table = patient.survival
    assert [s["horizon"] for s in shown["survival"]] == list(table["horizon"]), what
    for got, (_, expected) in zip(shown["survival"], table.iterrows(), strict=True):
        for name, column in (("survival", "survival"), ("low", "lower"), ("high", "upper")):
            assert _close(got[name], float(expected[column])), (what, got["horizon"], name, got, expected)
        assert got["text"].startswith(f"{expected['survival']:.1%} (95 % CI {expected['lower']:.1%} – "), got
    assert _close(shown["median"], patient.median_time), (what, "median", shown["median"], patient.median_time)


def _no_overlapping_labels(page) -> None:
    assert _overlapping_labels(page.locator(f"{CALC} .drawing").first) == []


def _move_inputs(page, nomogram, what: str, study=None) -> dict:
    """Move one continuous and one categorical input (when the model has them): each time the new risk is shown
    at once, equals the engine's, and no script ran. Returns what is shown last."""
    before = _shown(page)
    page.evaluate(_COUNT_RUNS)
    continuous = [v for v in nomogram.variables if v not in nomogram.levels]
    if continuous:
        variable = continuous[-1]
        axis = [float(t) for t in getattr(nomogram, "scale", nomogram).ticks[variable]]  # a Cox nomogram: its scale
        moved = axis[0] + 0.6 * (axis[-1] - axis[0])  # inside the axis, away from where it started
        if math.isclose(moved, float(before["values"][variable])):
            moved = axis[0] + 0.3 * (axis[-1] - axis[0])
        page.locator(f"{CALC} input[data-var='{variable}']").fill(f"{moved:.4f}")
        shown = _shown(page)
        assert shown["total"] != before["total"] and shown["values"][variable] == pytest.approx(round(moved, 4))
        _assert_same(shown, nomogram, f"{what}: {variable} moved", study)
        before = shown
    assert page.evaluate("window.__runs") == 0  # typed values are computed in the browser: no script ran
    for variable, levels in nomogram.levels.items():
        # A choice is also committed to the server (a fragment rerun, off the critical path): the new risk must
        # already be shown in the same task as the choice's events, before any answer could come back.
        other = next(level for level in levels if level != before["values"][variable])
        total = _calculator(page).evaluate(_CHOOSE, [variable, other])
        shown = _shown(page)
        assert shown["values"][variable] == other and shown["total"] == total
        _assert_same(shown, nomogram, f"{what}: {variable} = {other}", study)
        break
    return _shown(page)


def _choose_model(page, label: str) -> None:
    """Click the model's radio button (its label also names a calculator input: look in the radio group only)."""
    page.locator("[data-testid='stRadio']").get_by_text(label, exact=True).first.click()
    _settle(page, 1.0)


def _each_model(page, results, models: list[str], what: str, study=None) -> None:
    for name in models:
        label = results.study.model_labels()[name]
        _choose_model(page, label)
        nomogram = results.nomogram(name)
        deadline = time.time() + 120
        while set(_shown(page)["values"]) != set(nomogram.variables) and time.time() < deadline:
            time.sleep(0.2)  # the page is still sending the chosen model
        _assert_same(_shown(page), nomogram, f"{what} {name}: start", study)
        _move_inputs(page, nomogram, f"{what} {name}", study)
        _no_errors(page)


def test_the_calculator_answers_in_the_browser_with_the_servers_numbers(server, browser_page):  # noqa: F811
    from core.workflows.nomograms import drawable_models
    from core.workflows.results import StudyResults
    from core.workflows.sample import sample_study

    results = StudyResults(sample_study())
    page = browser_page
    page.goto(server)
    page.get_by_role("heading", name="RadNomo").first.wait_for()
    _settle(page, 1.0)
    _go(page, "Nomogram")
    _calculator(page)
    _no_overlapping_labels(page)
    _shot(page, "15_calculator_in_the_browser")
    _each_model(page, results, drawable_models(results.models)[::-1], "sample")

    # A committed value (Enter) reaches the server: it is kept when the page is left and opened again.
    _choose_model(page, results.study.model_labels()["fused"])
    cea = page.locator(f"{CALC} input[data-var='cea_ng_ml']")
    cea.fill("41.5")
    cea.press("Enter")
    _settle(page, 1.0)
    _go(page, "Home")
    _go(page, "Nomogram")
    shown = _shown(page)
    assert shown["values"]["cea_ng_ml"] == 41.5
    _assert_same(shown, results.nomogram("fused"), "sample fused, after leaving the page")
    assert page.console_errors == [], page.console_errors[:5]


def test_the_calculator_of_a_study_of_another_shape_equals_the_server(server, browser_page, tmp_path):  # noqa: F811
    """Other clinical variables (two categorical, one with four levels) and an imported radiomics table: every
    drawable model's calculator equals the engine's numbers for the same study, read back from its export."""
    from core.workflows.nomograms import drawable_models
    from core.workflows.persistence import import_study, load_study
    from core.workflows.results import StudyResults

    page = browser_page
    _open_sample_slice(page, server, tmp_path, "stage_cohort",
                       ["patient_id", "lm", "age", "sex", "cn_stage", "cea_ng_ml"], 320, 300)

    _go(page, "Home")
    with page.expect_download(timeout=300_000) as download_info:
        page.get_by_role("button", name="Export the open study (.zip)").click()
    archive = tmp_path / "stage_study.zip"
    download_info.value.save_as(archive)
    results = StudyResults(load_study(import_study(archive, tmp_path / "imported")))
    assert set(results.study.spec.categorical) >= {"sex", "cn_stage"}

    _go(page, "Nomogram")
    _calculator(page)
    _no_overlapping_labels(page)
    _shot(page, "16_calculator_another_shape")
    _each_model(page, results, drawable_models(results.models)[::-1], "another shape")
    assert page.console_errors == [], page.console_errors[:5]


def test_the_survival_calculator_equals_the_servers_cox_numbers(server, browser_page):  # noqa: F811
    """The survival sample study (a Cox model per score, clinical and fused; three horizons, a median axis):
    survival with survfit.coxph's interval at each horizon, the median time and the points, as the server's."""
    from core.workflows.nomograms import drawable_models
    from core.workflows.results import StudyResults
    from core.workflows.sample import sample_survival_study

    results = StudyResults(sample_survival_study())
    page = browser_page
    page.goto(server)
    page.get_by_role("heading", name="RadNomo").first.wait_for()
    _settle(page, 1.0)
    page.get_by_role("button", name="Open the survival sample study").click()
    _settle(page, 1.0)
    _go(page, "Nomogram")
    _calculator(page)
    assert len(_shown(page)["survival"]) == len(results.study.spec.outcome.horizons)
    _no_overlapping_labels(page)
    _shot(page, "17_survival_calculator_in_the_browser")
    _each_model(page, results, drawable_models(results.models)[::-1], "survival sample", results.study)
    assert page.console_errors == [], page.console_errors[:5]
