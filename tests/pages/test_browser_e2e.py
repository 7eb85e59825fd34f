"""A real browser against a running dashboard: open the sample study (teaching mode on) -> change a
selection threshold -> Evaluation -> change a nomogram input -> download the report. Screenshots of each
step are kept in ``artifacts/e2e/`` (or ``$RADNOMO_E2E_ARTIFACTS``) for whoever reads the CI run.

The browser is Debian's ``chromium`` driven by Python playwright (never ``playwright install``: it
downloads a browser, which this machine cannot). Skipped with a reason where either is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("RADNOMO_E2E_ARTIFACTS", REPO / "artifacts" / "e2e"))
# The browser calculator of a binary study's nomogram, once drawn (CSS locators pierce its open shadow root).
CALCULATOR = "div[data-testid='stBidiComponentIsolated'] .calc[data-ready='1']"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """The dashboard on a free local port (its own workspace), stopped after the module."""
    port = _free_port()
    workspace = tmp_path_factory.mktemp("e2e-workspace")
    env = {**os.environ, "RADNOMO_WORKSPACE": str(workspace)}
    log = (workspace / "server.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                "--server.headless", "true"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"the dashboard did not start: {(workspace / 'server.log').read_text()[-2000:]}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def browser_page(chromium):
    context = chromium.new_context(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(180_000)
    page.console_errors = []  # what the browser's console reported as errors (e.g. a resource fetched offline)
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
    page.on("requestfailed", lambda request: page.console_errors.append(f"request failed: {request.url}"))
    yield page
    context.close()


def _settle(page, seconds: float = 0.5) -> None:
    """Wait until Streamlit has finished running the script (no 'Running...' status, no spinner)."""
    time.sleep(seconds)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=300_000)
    time.sleep(0.3)


def _shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    assert path.stat().st_size > 20_000  # a page with content, not a blank frame
    return path


def _no_errors(page) -> None:
    errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.all_inner_texts()


# Every text element of a plotly chart's SVG (tick labels, annotations, text traces) with its box on screen.
_TEXT_BOXES = """(chart) => Array.from(chart.querySelectorAll('svg text')).filter(t => t.textContent.trim() !== ''
    && !t.closest('.modebar')).map(t => { const r = t.getBoundingClientRect();
    return {text: t.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom}; })
    .filter(b => b.right - b.left > 0)"""


def _overlapping_labels(chart, tolerance: float = 0.5) -> list[tuple[str, str]]:
    """Pairs of text boxes in the rendered chart that overlap by more than ``tolerance`` px both ways."""
    boxes = chart.evaluate(_TEXT_BOXES)
    assert len(boxes) > 10, boxes  # the nomogram's labels were found
    pairs = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if min(a["right"], b["right"]) - max(a["left"], b["left"]) > tolerance and \
                    min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > tolerance:
                pairs.append((a["text"], b["text"]))
    return pairs


def _check_nomogram(page, shot: str) -> None:
    """The nomogram on screen: drawn, no two of its labels overlapping, screenshotted. A binary outcome's is drawn
    by the browser calculator (an SVG in the component's shadow root), a time-to-event outcome's by plotly."""
    chart = page.locator(f".st-key-nom_figure .js-plotly-plot, {CALCULATOR} .drawing").first
    chart.wait_for()
    chart.scroll_into_view_if_needed()
    _settle(page)
    assert _overlapping_labels(chart) == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    chart.screenshot(path=str(ARTIFACTS / f"{shot}.png"))


def _metrics_shown_in_full(page) -> dict[str, str]:
    """The browser calculator's results (risk, CI, total, rank), each checked to be fully visible (not cut off)."""
    values = page.locator(f"{CALCULATOR} .metric .value")
    shown = {}
    for index in range(values.count()):
        value = values.nth(index)
        clipped = value.evaluate("e => [e, ...e.querySelectorAll('*')].filter(n => n.scrollWidth > n.clientWidth + 1)"
                                 ".map(n => n.tagName + ' ' + n.scrollWidth + '/' + n.clientWidth)")
        if clipped:
            _shot(page, "metric_cut_off")
        assert not clipped, f"metric {value.inner_text()!r} is cut off: {clipped}"
        shown[index] = value.inner_text()
    return shown


def _changed_text(locator, before: str, timeout: float = 120) -> str:
    """The locator's text once it differs from ``before`` (Streamlit re-renders asynchronously)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = locator.inner_text()
        if text != before:
            return text
        time.sleep(0.25)
    return locator.inner_text()


def _go(page, title: str) -> None:
    page.get_by_role("link", name=title, exact=True).first.click()
    _settle(page, 1.0)


def test_sample_study_to_report_in_a_real_browser(server, browser_page, tmp_path):
    page = browser_page
    page.goto(server)
    page.get_by_role("heading", name="RadNomo").first.wait_for()
    _settle(page, 1.0)
    page.get_by_text("1001 patients").first.wait_for()
    _no_errors(page)
    page.get_by_text("Teaching mode").click()  # the real sidebar toggle: every page now explains itself
    page.get_by_text("What RadNomo does").first.wait_for()
    _settle(page)
    _shot(page, "1_home_sample_study_teaching_mode")

    _go(page, "Selection")
    page.get_by_role("heading", name="Selection").first.wait_for()
    funnel = page.locator('[data-testid="stDataFrame"]').first
    funnel.wait_for()
    p_input = page.get_by_label("Keep p <")
    p_input.fill("0.0100")
    p_input.press("Enter")
    _settle(page, 1.0)
    assert page.get_by_label("Keep p <").input_value() == "0.0100"
    _no_errors(page)
    _shot(page, "2_selection_threshold_changed")

    page.get_by_text("Screening and the LASSO").first.wait_for()  # teaching mode follows to other pages
    _go(page, "Evaluation")
    page.get_by_role("heading", name="Evaluation").first.wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    page.get_by_text("Table 2").first.wait_for()
    _no_errors(page)
    _shot(page, "3_evaluation")

    _go(page, "Nomogram")
    page.get_by_role("heading", name="Nomogram").first.wait_for()
    risk = page.locator(f"{CALCULATOR} #risk")
    risk.wait_for()
    before = risk.inner_text()
    cea = page.get_by_label("CEA (ng/mL)")
    cea.fill("25")
    after = risk.inner_text()  # worked out in the browser as the value is typed: no wait for the server
    cea.press("Enter")  # committed: the what-if curve and the files follow
    _settle(page)
    assert re.fullmatch(r"\d+\.\d%", after) and after != before, (before, after)
    assert risk.inner_text() == after
    _no_errors(page)
    _shot(page, "4_nomogram_input_changed")
    _check_nomogram(page, "nomogram_sample_fused")
    for width, screen in ((1280, "screen (1280 px and up)"), (1024, "tablet (1024 px)")):
        page.set_viewport_size({"width": width, "height": 900})
        _settle(page)
        _select(page, "Nomogram drawn for", screen)
        shown = _metrics_shown_in_full(page)
        assert re.fullmatch(r"\d+\.\d% – \d+\.\d%", shown[1]), shown  # the 95 % CI, whole
        _check_nomogram(page, f"nomogram_sample_fused_{width}px")
        _shot(page, f"4b_nomogram_calculator_{width}px")
    page.set_viewport_size({"width": 1500, "height": 1100})
    page.get_by_text("Clinical model", exact=True).first.click()
    _settle(page, 1.0)
    _check_nomogram(page, "nomogram_sample_clinical")

    _go(page, "Home")
    button = page.get_by_role("button", name="Report (HTML)")
    button.wait_for()
    with page.expect_download(timeout=300_000) as download_info:
        button.click()
    report = tmp_path / "report.html"
    download_info.value.save_as(report)
    html = report.read_text()
    assert "Table 2" in html and "<img" in html and "Methods" in html
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(report, ARTIFACTS / "radnomo_report.html")
    _settle(page)
    _shot(page, "5_report_downloaded")
    # Offline (as here), nothing the app shows is fetched from the internet: no failed request, no console error.
    assert page.console_errors == [], page.console_errors[:5]


def _select(page, label: str, option: str) -> None:
    """Choose ``option`` in the Streamlit select box labelled ``label``."""
    _settle(page)  # a rerun still drawing the page would close the list as soon as it opens
    for attempt in range(3):
        box = page.get_by_role("combobox", name=label)
        box.scroll_into_view_if_needed()
        box.click(force=True)  # an expander's summary may lie over the box's edge
        try:
            page.get_by_role("option", name=option, exact=True).first.click(timeout=30_000)
            break
        except PlaywrightTimeoutError:  # the list closed under a rerun (a loaded machine): open it again
            if attempt == 2:
                raise
            _settle(page)
    _settle(page)


def _open_own_cohort(page, server: str, table: Path, rows: int) -> None:
    """From a fresh page: upload ``table`` on the Cohort page and open it as the study."""
    page.goto(server)
    _settle(page, 1.0)
    _go(page, "Cohort")
    page.get_by_text("Upload a file").first.click()
    _settle(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(str(table))
    page.get_by_text(f"{table.name}: {rows} rows").first.wait_for()
    _settle(page)
    page.get_by_role("button", name="Use this cohort").click()
    _settle(page, 1.0)
    page.get_by_text(f"'{table.stem}' is now the open study.").first.wait_for()


def _write_sample_features(clinical, n_features: int, path: Path) -> None:
    """The sample study's first ``n_features`` radiomics features of ``clinical``'s patients, as a CSV with an
    ``ID`` column (a feature table computed elsewhere)."""
    import pandas as pd

    from core.workflows.sample import SAMPLE_RADIOMICS

    features = pd.read_parquet(SAMPLE_RADIOMICS).loc[clinical["patient_id"]].iloc[:, :n_features]
    features.reset_index().rename(columns={"index": "ID"}).to_csv(path, index=False)


def _open_sample_slice(page, server: str, folder: Path, name: str, columns: list[str], patients: int,
                       features: int) -> None:
    """Open, in the browser, the sample's first ``patients`` with the clinical ``columns`` (uploaded as
    ``<name>.csv``) and the first ``features`` radiomics features (imported as a table computed elsewhere)."""
    import pandas as pd

    from core.workflows.sample import SAMPLE_CLINICAL

    clinical = pd.read_csv(SAMPLE_CLINICAL).iloc[:patients][columns]
    clinical.to_csv(folder / f"{name}.csv", index=False)
    _write_sample_features(clinical, features, folder / f"{name}_radiomics.csv")
    _open_own_cohort(page, server, folder / f"{name}.csv", patients)
    _import_features(page, folder / f"{name}_radiomics.csv", (patients, features))
    _no_errors(page)


def _import_features(page, table: Path, shape: tuple[int, int]) -> None:
    """On Features - radiomics: import ``table`` as the study's radiomics family."""
    _go(page, "Features - radiomics")
    page.get_by_text("Import a radiomics feature table computed elsewhere").click()
    page.locator('[data-testid="stExpander"] input[type="file"]').last.set_input_files(str(table))
    _settle(page)
    page.get_by_role("button", name="Use this feature table").click()
    _settle(page, 1.0)
    page.get_by_text(f"{shape[0]} cases × {shape[1]} features imported").first.wait_for()


def test_a_study_of_its_own_shape_reaches_a_nomogram_and_downloads_itself(server, browser_page, tmp_path):
    """A clinical table and one radiomics feature table (no deep features): score + clinical nomogram, and the
    report and study zip carry the study's name, patient count and the current p threshold."""
    import json
    import zipfile

    import pandas as pd

    from core.workflows.sample import SAMPLE_CLINICAL

    clinical = pd.read_csv(SAMPLE_CLINICAL).iloc[:300]
    clinical = clinical[["patient_id", "lm", "age", "sex", "tumour_thickness_mm", "cea_ng_ml", "ca19_9_u_ml"]]
    clinical.to_csv(tmp_path / "liver_cohort_300.csv", index=False)
    _write_sample_features(clinical, 400, tmp_path / "radiomics_elsewhere.csv")

    page = browser_page
    _open_own_cohort(page, server, tmp_path / "liver_cohort_300.csv", 300)
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert "liver_cohort_300" in sidebar.inner_text() and "Sample study" not in sidebar.inner_text()
    _no_errors(page)
    _shot(page, "6_own_study_opened")

    _import_features(page, tmp_path / "radiomics_elsewhere.csv", (300, 400))
    assert page.get_by_text("Sample study", exact=True).count() == 0  # no sample manifest for another study
    _no_errors(page)

    _go(page, "Selection")
    p_input = page.get_by_label("Keep p <")
    p_input.fill("0.0200")
    p_input.press("Enter")
    _settle(page, 1.0)
    _no_errors(page)
    _shot(page, "7_own_study_selection")

    _go(page, "Nomogram")
    page.get_by_text("Fused model (Radiomics score + clinical)").first.wait_for()
    page.get_by_label("Radiomics score").first.wait_for()  # the score is an input of the calculator
    _no_errors(page)
    _shot(page, "8_own_study_nomogram")
    _check_nomogram(page, "nomogram_own_study_fused")

    _go(page, "Home")
    with page.expect_download(timeout=300_000) as download_info:
        page.get_by_role("button", name="Report (HTML)").click()
    report = tmp_path / "own_report.html"
    download_info.value.save_as(report)
    html = report.read_text()
    assert "<h1>liver_cohort_300</h1>" in html and "Synthetic sample data" not in html
    assert "<td>patients</td>\n      <td>300</td>" in html and "p &lt; 0.02" in html
    assert "Fused model (Radiomics score + clinical)" in html
    with page.expect_download(timeout=300_000) as download_info:
        page.get_by_role("button", name="Export the open study (.zip)").click()
    archive = tmp_path / "own_study.zip"
    download_info.value.save_as(archive)
    with zipfile.ZipFile(archive) as handle:
        description = json.loads(handle.read("study.json"))
    assert description["name"] == "liver_cohort_300" and [f["name"] for f in description["families"]] == ["radiomics"]
    assert len(description["split"]["train_ids"]) + len(description["split"]["test_ids"]) == 300
    assert description["settings"]["screening"]["p_threshold"] == 0.02
    shutil.copyfile(report, ARTIFACTS / "own_study_report.html")
    _shot(page, "9_own_study_downloads")


def test_a_pyradiomics_export_with_missing_values_reaches_evaluation_and_a_nomogram(server, browser_page, tmp_path):
    """A clinical table and a pyradiomics CSV with metadata columns and missing values, uploaded; a missing-value
    policy chosen; Evaluation and the nomogram reached."""
    import numpy as np
    import pandas as pd

    from core.workflows.sample import SAMPLE_CLINICAL, SAMPLE_RADIOMICS

    clinical = pd.read_csv(SAMPLE_CLINICAL).iloc[:250]
    clinical = clinical[["patient_id", "lm", "age", "sex", "tumour_thickness_mm", "cea_ng_ml"]]
    clinical.loc[[3, 7], "cea_ng_ml"] = np.nan
    clinical.to_csv(tmp_path / "lung_clinical.csv", index=False)
    features = pd.read_parquet(SAMPLE_RADIOMICS).loc[clinical["patient_id"]].iloc[:, :200].reset_index(drop=True)
    rng = np.random.default_rng(2)
    for column in features.columns[:6]:
        features.loc[rng.choice(len(features), 5, replace=False), column] = np.nan
    export = pd.concat([pd.DataFrame({"Image": [f"/scans/{i}.nrrd" for i in clinical["patient_id"]],
                                      "Mask": [f"/scans/{i}_gtv.nrrd" for i in clinical["patient_id"]],
                                      "ID": clinical["patient_id"].to_numpy(),
                                      "diagnostics_Versions_PyRadiomics": "v3.1.0",
                                      "general_info_Spacing": "(0.98, 0.98, 3.0)"}), features], axis=1)
    export.to_csv(tmp_path / "pyradiomics_export.csv", index=False)

    page = browser_page
    _open_own_cohort(page, server, tmp_path / "lung_clinical.csv", 250)
    _import_features(page, tmp_path / "pyradiomics_export.csv", (250, 200))
    page.get_by_text("4 metadata column(s) left out").first.wait_for()
    _shot(page, "10_pyradiomics_export_imported")

    _go(page, "Cohort")  # the missing-values panel opens by itself: the study has missing values
    _select(page, "Missing-value policy", "Impute the training mean (mode for categories)")
    _no_errors(page)
    _shot(page, "11_missing_value_policy")

    _go(page, "Evaluation")
    page.get_by_text("Table 2: performance of every model").first.wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    _no_errors(page)
    _go(page, "Models")
    page.get_by_text("missing value(s) imputed with the training mean").first.wait_for()
    _go(page, "Nomogram")
    page.get_by_text("Fused model (Radiomics score + clinical)").first.wait_for()
    _no_errors(page)
    _shot(page, "12_export_study_nomogram")


def test_the_label_overlap_check_finds_overlaps(browser_page):
    """The measurement the nomogram checks rely on, on a drawing with two labels laid over each other."""
    page = browser_page
    texts = "".join(f'<text x="{20 + 40 * i}" y="30" font-size="14">{i * 10}</text>' for i in range(11))
    page.set_content(f'<div id="chart"><svg width="600" height="80">{texts}'
                     '<text x="24" y="34" font-size="14">25</text></svg></div>')
    chart = page.locator("#chart")
    assert _overlapping_labels(chart) == [("0", "25")]


def test_a_features_only_study_reaches_evaluation_a_score_nomogram_and_the_report(server, browser_page, tmp_path):
    """A cohort table of IDs and outcomes alone plus a radiomics feature table: no clinical model, said once per
    page; Evaluation, the nomogram of the score and the report all work."""
    page = browser_page
    _open_sample_slice(page, server, tmp_path, "outcomes_only", ["patient_id", "lm"], 240, 300)

    _go(page, "Evaluation")
    page.get_by_text("Table 2: performance of every model").first.wait_for()
    page.get_by_text("This study has no clinical model, because the study declares no clinical variable").first \
        .wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    _no_errors(page)
    _shot(page, "13_features_only_evaluation")

    _go(page, "Nomogram")
    page.get_by_label("Radiomics score").first.wait_for()  # the score is the nomogram's one predictor
    _no_errors(page)
    _check_nomogram(page, "nomogram_features_only_score")
    _shot(page, "14_features_only_nomogram")

    _go(page, "Home")
    with page.expect_download(timeout=300_000) as download_info:
        page.get_by_role("button", name="Report (HTML)").click()
    report = tmp_path / "features_only_report.html"
    download_info.value.save_as(report)
    html = report.read_text()
    assert "<h1>outcomes_only</h1>" in html and "no clinical model" in html and "Radiomics score" in html
    assert "Fused model" not in html
    shutil.copyfile(report, ARTIFACTS / "features_only_report.html")
    _no_errors(page)


def test_a_leaking_column_is_excluded_one_click_from_the_leak_list(server, browser_page, tmp_path):
    """A clinical table whose follow-up column restates the outcome: the Cohort page's leak list flags it, one click
    keeps it out of the clinical variables and every feature family, and the models follow."""
    import numpy as np
    import pandas as pd

    from core.workflows.sample import SAMPLE_CLINICAL

    clinical = pd.read_csv(SAMPLE_CLINICAL).iloc[:240][["patient_id", "lm", "age", "sex", "cea_ng_ml"]]
    rng = np.random.default_rng(5)
    # Months to metastasis: short for the patients with the event, long (censoring) for the others: a leak.
    clinical["months_to_lm"] = np.where(clinical["lm"] == 1, rng.uniform(1, 14, len(clinical)),
                                        rng.uniform(12, 60, len(clinical))).round(1)
    clinical.to_csv(tmp_path / "leaky_cohort.csv", index=False)
    _write_sample_features(clinical, 200, tmp_path / "radiomics_200.csv")

    page = browser_page
    _open_own_cohort(page, server, tmp_path / "leaky_cohort.csv", 240)
    _import_features(page, tmp_path / "radiomics_200.csv", (240, 200))
    _go(page, "Cohort")
    page.get_by_text("Possible leak: months_to_lm").first.wait_for()
    _shot(page, "15_leak_flagged")
    button = page.get_by_role("button", name="Exclude months_to_lm")
    button.scroll_into_view_if_needed()
    button.click()
    _settle(page, 1.0)
    page.get_by_text("Never used as features (Selection page to edit): months_to_lm.").first.wait_for()
    assert page.get_by_text("Possible leak: months_to_lm").count() == 0
    _no_errors(page)
    _shot(page, "16_leak_excluded")

    _go(page, "Models")
    page.get_by_text("Univariable logistic regression").first.wait_for()
    picker = page.locator('[data-testid="stMultiSelect"]').first  # the clinical model's predictors, chosen first
    picker.wait_for()
    chosen = picker.inner_text()
    picker.click()
    options = page.get_by_role("option")
    options.first.wait_for()
    offered = [chosen, *options.all_inner_texts()]  # chosen predictors and those still offered
    page.keyboard.press("Escape")
    assert "Age" in " ".join(offered) and not any("onths to lm" in o for o in offered), offered
    _go(page, "Evaluation")
    page.get_by_text("Table 2: performance of every model").first.wait_for()
    _no_errors(page)
