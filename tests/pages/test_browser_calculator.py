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
    CALCULATOR, _go, _import_features, _no_errors, _open_own_cohort, _overlapping_labels, _settle, _shot,
    _write_sample_features, browser_page, server)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CALC = CALCULATOR
TOLERANCE = 1e-9

# What the calculator shows, at full precision (the data-* attributes the component keeps beside its text).
_READ = """c => ({values: JSON.parse(c.dataset.values), risk: +c.querySelector('#risk').dataset.risk,
  risk_text: c.querySelector('#risk').textContent, low: +c.querySelector('#ci').dataset.low,
  high: +c.querySelector('#ci').dataset.high, total: +c.querySelector('#total').dataset.total,
  points: Object.fromEntries(Array.from(c.querySelectorAll('#points tbody tr')).map(
      r => [r.dataset.var, +r.dataset.points])),
  marks: c.querySelectorAll('svg .mark').length})"""

# Counts the script runs from now on: each time Streamlit's app reports a running script.
_COUNT_RUNS = """() => { window.__runs = 0; const app = document.querySelector("[data-testid='stApp']");
  new MutationObserver(() => { if (app.dataset.testScriptState === 'running') window.__runs += 1; })
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']}); }"""

# Chooses a level as a person does (input, then change) and reads the risk shown in the same task.
_CHOOSE = """(c, [variable, level]) => { const box = c.querySelector(`select[data-var="${variable}"]`);
  box.value = level; box.dispatchEvent(new Event('input', {bubbles: true}));
  box.dispatchEvent(new Event('change', {bubbles: true})); return +c.querySelector('#risk').dataset.risk; }"""

def _calculator(page):
    calc = page.locator(CALC).first
    calc.wait_for(timeout=300_000)
    return calc


def _shown(page) -> dict:
    return _calculator(page).evaluate(_READ)


def _server(nomogram, values: dict) -> dict:
    """The engine's numbers for ``values`` (as the browser holds them: a number or a level)."""
    row = {v: (str(values[v]) if v in nomogram.levels else float(values[v])) for v in nomogram.variables}
    interval = nomogram.model.predict_interval(pd.DataFrame([row])).iloc[0]
    points = {v: nomogram.points(v, row[v]) for v in nomogram.variables}
    return {"risk": float(interval["probability"]), "low": float(interval["low"]), "high": float(interval["high"]),
            "total": float(sum(points.values())), "points": points}


def _assert_same(shown: dict, nomogram, what: str) -> None:
    expected = _server(nomogram, shown["values"])
    for name in ("risk", "low", "high", "total"):
        assert math.isclose(shown[name], expected[name], rel_tol=0, abs_tol=TOLERANCE), (what, name, shown, expected)
    assert set(shown["points"]) == set(nomogram.variables), (what, shown["points"])
    for variable, points in expected["points"].items():
        assert math.isclose(shown["points"][variable], points, rel_tol=0, abs_tol=TOLERANCE), (what, variable)
    assert shown["risk_text"] == f"{expected['risk']:.1%}", (what, shown["risk_text"])
    assert shown["marks"] == len(nomogram.variables) + 2  # each predictor, the total points and the risk


def _no_overlapping_labels(page) -> None:
    assert _overlapping_labels(page.locator(f"{CALC} .drawing").first) == []


def _move_inputs(page, nomogram, what: str) -> dict:
    """Move one continuous and one categorical input (when the model has them): each time the new risk is shown
    at once, equals the engine's, and no script ran. Returns what is shown last."""
    before = _shown(page)
    page.evaluate(_COUNT_RUNS)
    continuous = [v for v in nomogram.variables if v not in nomogram.levels]
    if continuous:
        variable = continuous[-1]
        axis = [float(t) for t in nomogram.ticks[variable]]
        moved = axis[0] + 0.6 * (axis[-1] - axis[0])  # inside the axis, away from where it started
        if math.isclose(moved, float(before["values"][variable])):
            moved = axis[0] + 0.3 * (axis[-1] - axis[0])
        page.locator(f"{CALC} input[data-var='{variable}']").fill(f"{moved:.4f}")
        shown = _shown(page)
        assert shown["risk"] != before["risk"] and shown["values"][variable] == pytest.approx(round(moved, 4))
        _assert_same(shown, nomogram, f"{what}: {variable} moved")
        before = shown
    assert page.evaluate("window.__runs") == 0  # typed values are computed in the browser: no script ran
    for variable, levels in nomogram.levels.items():
        # A choice is also committed to the server (a fragment rerun, off the critical path): the new risk must
        # already be shown in the same task as the choice's events, before any answer could come back.
        other = next(level for level in levels if level != before["values"][variable])
        risk = _calculator(page).evaluate(_CHOOSE, [variable, other])
        shown = _shown(page)
        assert shown["values"][variable] == other and shown["risk"] == risk
        _assert_same(shown, nomogram, f"{what}: {variable} = {other}")
        break
    return _shown(page)


def _choose_model(page, label: str) -> None:
    """Click the model's radio button (its label also names a calculator input: look in the radio group only)."""
    page.locator("[data-testid='stRadio']").get_by_text(label, exact=True).first.click()
    _settle(page, 1.0)


def _each_model(page, results, models: list[str], what: str) -> None:
    for name in models:
        label = results.study.model_labels()[name]
        _choose_model(page, label)
        nomogram = results.nomogram(name)
        deadline = time.time() + 120
        while set(_shown(page)["values"]) != set(nomogram.variables) and time.time() < deadline:
            time.sleep(0.2)  # the page is still sending the chosen model
        _assert_same(_shown(page), nomogram, f"{what} {name}: start")
        _move_inputs(page, nomogram, f"{what} {name}")
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
    from core.workflows.sample import SAMPLE_CLINICAL

    clinical = pd.read_csv(SAMPLE_CLINICAL).iloc[:320]
    clinical = clinical[["patient_id", "lm", "age", "sex", "cn_stage", "cea_ng_ml"]]
    clinical.to_csv(tmp_path / "stage_cohort.csv", index=False)
    _write_sample_features(clinical, 300, tmp_path / "radiomics_stage.csv")
    page = browser_page
    _open_own_cohort(page, server, tmp_path / "stage_cohort.csv", 320)
    _import_features(page, tmp_path / "radiomics_stage.csv", (320, 300))
    _no_errors(page)

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
