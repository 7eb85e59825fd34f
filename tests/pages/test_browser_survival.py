"""A real browser builds a time-to-event study (issue 27): a clinical table with a follow-up time and an event
column is uploaded on the Cohort page and opened as "Time to event", a radiomics feature table is imported, and
Selection, Models, Evaluation (Kaplan-Meier risk groups, time-dependent ROC, calibration and decision curves, each
drawn with data), the survival nomogram with its calculator (survival at each horizon with its 95 % CI, which
follows a changed input) and the New patient page's survival are reached. Screenshots go to ``artifacts/e2e/`` like
test_browser_e2e.py's.

Uses the harness of test_browser_e2e.py (Debian's chromium driven by Python playwright, never ``playwright
install``; skipped with a reason where either is missing).
"""

from __future__ import annotations

import re

import pytest

from tests.pages.test_browser_e2e import (ARTIFACTS, CALCULATOR, _check_nomogram, _go, _import_features, _no_errors,  # noqa: F401 - fixtures
                                          _select, _settle, _shot, browser_page, server)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HORIZONS = (12, 36, 60)  # months

# A plotly chart as drawn: the traces plotly drew (the graph div's ``_fullData``: x decoded from plotly's typed arrays)
# with their points, and the SVG paths of its traces, so a chart with a title and axes but no curve does not pass.
_DRAWN = """(chart) => ({traces: (chart._fullData || []).length,
    points: (chart._fullData || []).reduce((n, t) => n + ((t.x && t.x.length) || 0), 0),
    paths: chart.querySelectorAll('.scatterlayer .trace path').length,
    text: Array.from(chart.querySelectorAll('svg text')).map(t => t.textContent).join(' | ')})"""


def _drawn_chart(page, key: str, min_points: int = 10) -> dict:
    """The plotly chart whose Streamlit key is ``key``: asserted drawn with data (traces with ``min_points`` points or
    more in all, SVG paths)."""
    chart = page.locator(f".st-key-{key} .js-plotly-plot").first
    chart.wait_for()
    chart.scroll_into_view_if_needed()
    drawn = chart.evaluate(_DRAWN)
    assert drawn["traces"] > 0 and drawn["points"] >= min_points and drawn["paths"] > 0, (key, drawn)
    return drawn


def _survival_metrics(page) -> dict[str, str]:
    """The "Survival at <horizon>" results shown (the browser calculator's, or the page's metrics): label -> value."""
    shown = {}
    for metric, label, value in ((f"{CALCULATOR} .metric", ".label", ".value"),
                                 ('[data-testid="stMetric"]', '[data-testid="stMetricLabel"]',
                                  '[data-testid="stMetricValue"]')):
        for box in page.locator(metric).all():
            text = box.locator(label).inner_text().strip()
            if text.startswith("Survival at"):
                shown[text] = box.locator(value).inner_text().strip()
    return shown


def _write_survival_study(tmp_path) -> tuple:
    """The sample's first 400 patients with overall survival (months, death 1 / censored 0) and five clinical
    variables, and every 4th of their radiomics features (469) as a table computed elsewhere. (400 patients: the
    LASSO-Cox keeps radiomics features there, so the study has a radiomics score and a fused model; at 300 it
    keeps none.)"""
    import pandas as pd

    from core.workflows.sample import SAMPLE_CLINICAL, SAMPLE_RADIOMICS, SAMPLE_SURVIVAL

    clinical = pd.read_csv(SAMPLE_CLINICAL).merge(pd.read_csv(SAMPLE_SURVIVAL), on="patient_id", how="inner")
    clinical = clinical.iloc[:400][["patient_id", "os_months", "death", "age", "sex", "ct_stage", "cn_stage",
                                    "cea_ng_ml"]]
    assert len(clinical) == 400  # every sample patient has a survival row
    clinical_path = tmp_path / "gastric_os_400.csv"
    clinical.to_csv(clinical_path, index=False)
    features = pd.read_parquet(SAMPLE_RADIOMICS).loc[clinical["patient_id"]].iloc[:, ::4]
    features_path = tmp_path / "radiomics_os_400.csv"
    features.reset_index().rename(columns={"index": "ID"}).to_csv(features_path, index=False)
    return clinical_path, features_path, features.shape


def test_a_survival_study_reaches_its_curves_and_nomogram(server, browser_page, tmp_path):  # noqa: F811
    clinical_path, features_path, shape = _write_survival_study(tmp_path)
    page = browser_page
    try:
        _survival_study_in_the_browser(page, server, clinical_path, features_path, shape)
    except Exception:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)  # what the page showed when it failed, for whoever reads the run
        page.screenshot(path=str(ARTIFACTS / "survival_failed.png"), full_page=True)
        raise


def _survival_study_in_the_browser(page, url: str, clinical_path, features_path, shape) -> None:

    # Cohort: the upload, "Time to event", its columns, unit and horizons, then the study opens.
    page.goto(url)
    _settle(page, 1.0)
    _go(page, "Cohort")
    page.get_by_text("Upload a file").first.click()
    _settle(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(str(clinical_path))
    page.get_by_text(f"{clinical_path.name}: 400 rows").first.wait_for()
    _settle(page)
    page.get_by_text("Time to event (time + event 1/0)").first.click()
    _settle(page, 1.0)
    _select(page, "Time column (time to the event or to the last follow-up, > 0)", "os_months")
    _select(page, "Event column (1 = event, 0 = censored)", "death")
    for label, value in (("Time unit", "months"), ("Horizons", ", ".join(map(str, HORIZONS)))):
        box = page.get_by_label(label, exact=True)
        box.fill(value)
        box.press("Enter")
        _settle(page)
    _shot(page, "s1_survival_cohort_form")
    button = page.get_by_role("button", name="Use this cohort")
    button.scroll_into_view_if_needed()
    button.click()
    _settle(page, 1.0)
    page.get_by_text(f"'{clinical_path.stem}' is now the open study.").first.wait_for()
    _no_errors(page)
    page.locator(".st-key-coh_kaplan_meier .js-plotly-plot").first.wait_for()  # the cohort's own KM curves
    _shot(page, "s2_survival_cohort_open")

    _import_features(page, features_path, shape)
    _no_errors(page)

    _go(page, "Selection")
    page.get_by_role("heading", name="Selection").first.wait_for()
    page.locator('[data-testid="stDataFrame"]').first.wait_for()  # the screening funnel
    _no_errors(page)
    _shot(page, "s3_survival_selection")

    _go(page, "Models")
    page.get_by_role("heading", name="Models").first.wait_for()
    page.get_by_text(re.compile(r"^Proportional hazards, ")).first.wait_for()  # Cox models, each with its cox.zph
    _no_errors(page)
    _shot(page, "s4_survival_models")

    _go(page, "Evaluation")
    page.get_by_role("heading", name="Evaluation").first.wait_for()
    page.get_by_text("Table 2: performance of every model").first.wait_for()
    for cohort in ("train", "test"):
        km = _drawn_chart(page, f"ev_s_km_{cohort}")
        assert "log-rank" in km["text"], km["text"][:300]
        _drawn_chart(page, f"ev_s_roc_{cohort}")
        _drawn_chart(page, f"ev_s_auc_{cohort}", min_points=len(HORIZONS))  # AUC(t) at each horizon
        _drawn_chart(page, f"ev_s_cal_{cohort}", min_points=5)  # the diagonal and the risk groups of a model
        _drawn_chart(page, f"ev_s_dca_{cohort}")
    _no_errors(page)
    _shot(page, "s5_survival_evaluation")

    _go(page, "Nomogram")
    page.get_by_role("heading", name="Nomogram").first.wait_for()
    page.get_by_text("Fused model (Radiomics score + clinical)").first.wait_for()
    calculator = page.locator(CALCULATOR).first
    calculator.wait_for()
    axes = calculator.evaluate("c => Array.from(c.querySelectorAll('svg text')).map(t => t.textContent).join(' | ')")
    for horizon in HORIZONS:
        assert f"Survival at {horizon} months" in axes, axes[:500]
    before = _survival_metrics(page)
    assert set(before) == {f"Survival at {h} months" for h in HORIZONS}, before
    interval = re.compile(r"(\d+\.\d)% \(95 % CI (\d+\.\d)% – (\d+\.\d)%\)")
    for label, value in before.items():
        found = interval.fullmatch(value)
        assert found, (label, value)
        estimate, low, high = map(float, found.groups())
        assert low <= estimate <= high, (label, value)
    _shot(page, "s6_survival_nomogram")

    score = page.get_by_role("spinbutton", name="Radiomics score").first  # the calculator's input, not the model radio
    score.fill(f"{float(score.input_value()) + 1.5:.3f}")  # a higher score: a higher hazard, a lower survival
    after = _survival_metrics(page)  # worked out in the browser as the value is typed
    score.press("Enter")  # committed: the curve, what-if and files follow
    _settle(page, 1.0)
    assert after.keys() == before.keys() and all(after[k] != before[k] for k in before), (before, after)
    assert all(float(interval.fullmatch(after[k]).group(1)) < float(interval.fullmatch(before[k]).group(1))
               for k in before), (before, after)
    _no_errors(page)
    _check_nomogram(page, "nomogram_survival_fused")
    _shot(page, "s7_survival_nomogram_input_changed")

    # New patient: the features were imported (no CT can be scored), so the clinical model gives the survival.
    _go(page, "New patient")
    page.get_by_text("the clinical model gives the risk").first.wait_for()
    button = page.get_by_role("button", name="Score this patient")
    button.scroll_into_view_if_needed()
    button.click()
    _settle(page, 1.0)
    page.locator(".st-key-np_survival_curve .js-plotly-plot").first.wait_for()
    scored = _survival_metrics(page)
    assert set(scored) == {f"Survival at {h} months" for h in HORIZONS}, scored
    assert all(interval.fullmatch(value) for value in scored.values()), scored
    _drawn_chart(page, "np_survival_curve")  # the patient's curve against the training cohort's
    _no_errors(page)
    _shot(page, "s8_survival_new_patient")
