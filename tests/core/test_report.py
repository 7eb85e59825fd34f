"""The study report renders to HTML and PDF with every section and figure, the participant flow and the reporting
checklists (each item's "where" a link to a section the report has; the METRICS score as study_metrics gives it)."""

from __future__ import annotations

import base64
import re
from types import SimpleNamespace

import pytest

from core.stats.selection import ScreeningSettings
from core.workflows.checklist_items import checklist_items
from core.workflows.fit import fit_study, predict_study
from core.workflows.evaluation import evaluate_study
from core.workflows.report import CHECKLIST_TABLES, SECTIONS, build_report, section_anchor, study_facts
from core.workflows.study_checklists import study_metrics
from core.workflows.validation import study_validation


@pytest.fixture(scope="module")
def report(sample_study, sample_models, sample_predictions):
    return build_report(sample_study, sample_models, sample_predictions, compress=False)


@pytest.mark.slow
def test_html_has_every_section_and_figure(report):
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in report.html, section
    # Every heading printed carries its anchor (what a checklist item links to), and no anchor is printed twice.
    printed = re.findall(r"<a id='([a-z0-9-]+)'></a><h2>([^<]+)</h2>", report.html)
    assert [anchor for anchor, heading in printed] == [section_anchor(heading) for anchor, heading in printed]
    assert {"methods", "table-2", "missing"} <= {anchor for anchor, _ in printed}
    assert len(printed) == report.html.count("<h2>") == len({anchor for anchor, _ in printed})
    assert report.html.count("data:image/png;base64,") == 5  # ROC, calibration, decision, nomogram, flow
    assert "lambda.1se" in report.html and "t-test (Student) p &lt; 0.05" in report.html
    assert "Synthetic sample data" in report.html
    assert re.search(r"Fused model \(DL-radiomics score \+ clinical\)</td>\s*<td>0\.\d{3} \(0\.\d{3}-0\.\d{3}\)",
                     report.html)
    assert "<h1>Sample study (synthetic)</h1>" in report.html and "1001" in report.html


@pytest.mark.slow
def test_pdf_has_every_section_and_figure(report):
    assert report.pdf.startswith(b"%PDF")
    for section in SECTIONS:
        assert section.encode() in report.pdf, section
    assert report.pdf.count(b"/Subtype /Image") >= 5
    assert len(re.findall(rb"/Type /Page\b", report.pdf)) >= 3


@pytest.mark.slow
def test_report_lists_the_models_warnings_only_when_there_are_some(report, sample_study, sample_models,
                                                                    sample_predictions):
    """Warnings of the fits (e.g. non-convergence) get their own section; the report reads a given evaluation."""
    import copy

    from core.workflows.evaluation import evaluate_study

    assert "Warnings" not in report.html and b"Warnings" not in report.pdf
    warned = copy.copy(sample_models)
    sentence = "The clinical model's fit did not converge in 100 iterations; its coefficients may be unreliable."
    object.__setattr__(warned, "warnings", (sentence,))  # whether or not StudyModels declares the field yet
    evaluation = evaluate_study(sample_study, sample_models, sample_predictions)
    with_warning = build_report(sample_study, warned, sample_predictions, evaluation=evaluation, compress=False)
    page = with_warning.html
    part = page[page.index("<h2>Warnings</h2>"):page.index("<h2>Missing values and exclusions</h2>")]
    assert sentence.replace("'", "&#x27;") in part and page.index("<h2>Methods</h2>") < page.index("<h2>Warnings</h2>")
    assert b"Warnings" in with_warning.pdf and b"did not converge" in with_warning.pdf

    def table2(html: str) -> str:
        return html[html.index("<h2>Table 2</h2>"):html.index("<h2>ROC curves</h2>")]

    assert table2(page) == table2(report.html)  # the evaluation given is the one computed otherwise
    assert with_warning.figures["roc"] == report.figures["roc"]


@pytest.mark.slow
def test_report_follows_the_study_its_name_patients_and_settings(sample_study):
    one_family = sample_study.without_family("dl").replace(name="My radiomics study", is_sample=False).with_settings(
        screening=ScreeningSettings(p_threshold=0.02))
    models = fit_study(one_family)
    report = build_report(one_family, models, predict_study(one_family, models), compress=False)
    assert "<h1>My radiomics study</h1>" in report.html and "Synthetic sample data" not in report.html
    assert "p &lt; 0.02" in report.html and "p &lt; 0.05 entered" not in report.html
    assert "Fused model (Radiomics score + clinical)" in report.html and "DL-radiomics" not in report.html
    assert b"My radiomics study" in report.pdf and b"0.02" in report.pdf


# ---------------------------------------------------------------------------------------------
# The whole study: internal validation, external cohorts, evaluation settings, missing values
# ---------------------------------------------------------------------------------------------


def _page_events(pdf: bytes) -> list[list[bytes]]:
    """Per page of an uncompressed fpdf2 PDF, its text strings and image draws ("<image>") in drawing order."""
    streams = re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S)
    pages = []
    for stream in streams:
        events = [text if text else b"<image>" for text, _ in re.findall(rb"\((.*?)\) ?Tj|(/I\w+ Do)", stream)]
        if events:
            pages.append(events)
    return pages


@pytest.fixture(scope="module")
def no_test_study(sample_study):
    """300 sample patients, all training (no test cohort), narrower feature tables, a hand-picked clinical model;
    the study's evaluation settings changed from the defaults."""
    from core.stats.cohort import SplitConfig
    from core.workflows.study import EvaluationSettings
    from tests.studies import small_sample_study

    return small_sample_study(sample_study, SplitConfig(test_size=0.0), name="No-test study",
                              evaluation=EvaluationSettings(cutoff_rule="fixed", cutoff_value=0.3,
                                                            proportion_ci="wilson"))


@pytest.fixture(scope="module")
def whole_study(sample_study, no_test_study):
    """The no-test study with a bootstrap and a repeated CV kept with it, and an external cohort of 150 other
    sample patients."""
    from core.workflows.external import validate_external
    from core.workflows.validation import optimism_corrected_auc, repeated_cv_auc, with_bootstrap, with_cv

    study = no_test_study
    models = fit_study(study)
    study = with_bootstrap(study, optimism_corrected_auc(study, n_boot=3, seed=1), seed=1)
    study = with_cv(study, repeated_cv_auc(study, n_folds=3, n_repeats=1, seed=1), folds=3, repeats=1, seed=1)
    external_ids = sample_study.cohort.index[600:750]
    clinical = sample_study.cohort.loc[external_ids].reset_index()
    tables = {f.name: f.table.loc[external_ids] for f in sample_study.families}
    external = validate_external(study, "Centre B", clinical, tables, models)
    return study, models, external


@pytest.mark.slow
def test_report_of_a_no_test_study_holds_its_internal_validation_and_external_cohort(whole_study):
    study, models, external = whole_study
    report = build_report(study, models, predict_study(study, models), externals=[external], compress=False)
    page = report.html
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in page, section
    validation = page[page.index("<h2>Internal validation</h2>"):page.index("<h2>External cohorts</h2>")]
    assert "outcome-stratified bootstrap" in validation and "3 resamples, seed 1" in validation
    assert "optimism-corrected" in validation and "repeated CV (mean)" in validation
    assert "3 x 1-fold" not in validation and "1 x 3-fold" in validation
    external_part = page[page.index("<h2>External cohorts</h2>"):page.index("<h2>Reporting checklists</h2>")]
    assert "Centre B: 150 patients" in external_part and "calibration-in-the-large" in external_part
    assert "<h3>External performance</h3>" in external_part
    # The evaluation settings are the study's: in the settings, the methods and Table 2.
    assert "Fixed probability 0.30" in page and "Wilson" in page
    assert "a fixed probability cut-off of 0.3" in page and "Youden" not in page.split("<h2>Methods</h2>")[1]
    # The checklists follow the study: its external cohort answers METRICS 27 and CLEAR 38 from its section, the
    # bootstrap TRIPOD+AI 12c from the internal validation; no test cohort: the flow says so.
    external_link = f"<a href='#{section_anchor('External cohorts')}'>External cohorts</a>"
    assert _checklist(page, "METRICS")["27"][3:5] == ["reported", external_link]
    assert _checklist(page, "TRIPOD+AI")["12c"][4] == (f"<a href='#{section_anchor('Internal validation')}'>"
                                                       "Internal validation</a>")
    flow = page[page.index("<h2>Participant flow</h2>"):page.index("<h2>Table 1</h2>")]
    assert "no held-out test cohort" in flow and "External cohort &#x27;Centre B&#x27;: 150 patients" in flow
    assert b"Centre B" in report.pdf and b"outcome-stratified bootstrap" in report.pdf
    assert b"Fixed probability 0.30" in report.pdf


@pytest.mark.slow
def test_report_says_when_internal_validation_was_not_run(no_test_study):
    models = fit_study(no_test_study)
    report = build_report(no_test_study, models, predict_study(no_test_study, models), compress=False)
    part = report.html[report.html.index("<h2>Internal validation</h2>"):]
    assert "was not run" in part and "no held-out test cohort" in part
    assert "This study holds no external cohort" in report.html


@pytest.mark.slow
def test_report_of_scores_alone_and_its_labels(no_test_study):
    """No clinical model: the report still builds; Table 1 names variables by their labels, not column names."""
    excluded = no_test_study.family("radiomics").table.columns[0]
    study = no_test_study.with_settings(clinical_continuous=(), clinical_categorical=(), excluded_features=(excluded,))
    models = fit_study(study)
    assert models.clinical is None
    predictions = predict_study(study, models)
    evaluation = evaluate_study(study, models, predictions)
    assert evaluation.models == tuple(models.model_names) and "clinical" not in set(evaluation.table2["model"])
    assert list(evaluation.cohorts) == ["train"] and not evaluation.delong.empty
    report = build_report(study, models, predictions, compress=False, evaluation=evaluation)
    table1 = report.html[report.html.index("<h2>Table 1</h2>"):report.html.index("<h2>Feature selection</h2>")]
    assert "CEA (ng/mL)" in table1 and "cea_ng_ml" not in table1
    # The columns kept out of the features are listed with the missing values and exclusions.
    missing = report.html[report.html.index("<h2>Missing values and exclusions</h2>"):report.html.index(
        "<h2>Table 1</h2>")]
    assert "<h3>Columns never used as features</h3>" in missing and excluded in missing
    assert f"<td>excluded from the features</td>\n      <td>{excluded}</td>" in report.html
    assert "Clinical model" not in report.html.split("<h2>Table 2</h2>")[1].split("</table>")[0]


@pytest.mark.slow
def test_pdf_keeps_every_heading_with_its_content(whole_study):
    study, models, external = whole_study
    report = build_report(study, models, predict_study(study, models), externals=[external], compress=False)
    headings = {s.encode() for s in SECTIONS} | {b"Methods", b"External performance", b"External calibration"}
    pages = _page_events(report.pdf)
    assert len(pages) >= 4
    for number, events in enumerate(pages[:-1], start=1):
        assert events[-1] not in headings, f"page {number} ends with the heading {events[-1]!r}"
    shown = [e for events in pages for e in events]
    for heading in (b"ROC curves", b"Nomogram"):  # a figure follows its heading
        assert shown[shown.index(heading) + 1] == b"<image>"


# ---------------------------------------------------------------------------------------------
# The participant flow and the reporting checklists (issue 30)
# ---------------------------------------------------------------------------------------------


def _checklist(page: str, name: str) -> dict[str, list[str]]:
    """The rows of the report's checklist table ``name`` (its HTML), by item number: each row's cells as printed."""
    part = page[page.index(f"<h3>{name}</h3>"):]
    part = part[:part.index("</table>")]
    rows = [re.findall(r"<td>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", part, re.S)]
    return {cells[0]: cells for cells in rows if cells}


@pytest.mark.slow
def test_every_checklist_link_points_to_a_section_the_report_has(report):
    page = report.html
    assert "TRIPOD checklist" not in page and b"TRIPOD checklist" not in report.pdf
    anchors = dict(re.findall(r"<a id='([a-z0-9-]+)'></a><h2>([^<]+)</h2>", page))
    links = re.findall(r"<a href='#([^']*)'>([^<]*)</a>", page)
    assert len(links) > 20
    for anchor, text in links:
        assert anchor in anchors, anchor
        assert text == anchors[anchor]  # the link says the heading it goes to
    checklists = page[page.index("<h2>Reporting checklists</h2>"):]
    for name in CHECKLIST_TABLES:
        assert f"<h3>{name}</h3>" in checklists and name.encode() in report.pdf
    for name in ("TRIPOD+AI", "CLEAR", "METRICS"):
        rows = _checklist(page, name)
        assert len(rows) == len(checklist_items(CHECKLIST_TABLES[name]))
        # every item the run reports says where: a link; the PDF prints the heading instead
        assert all(cells[4].startswith("<a href='#") for cells in rows.values() if cells[3] == "reported"), name
    assert b"Feature selection" in report.pdf and b"href" not in report.pdf.split(b"Reporting checklists")[-1]


@pytest.mark.slow
def test_the_metrics_score_is_study_metrics_and_the_table_printed(report, sample_study, sample_models):
    facts = study_facts(SimpleNamespace(study=sample_study, models=sample_models), (), study_validation(sample_study))
    score = study_metrics(facts)
    found = re.search(r"METRICS score: ([0-9.]+) % \((\w[\w ]*)\)", report.html)
    assert found is not None and float(found.group(1)) == round(score.score, 1) and found.group(2) == score.band
    assert f"METRICS score: {score.score:.1f} %".encode() in report.pdf
    # The score printed is that of the METRICS table printed: the weights of its "reported" items over those of
    # the items that apply.
    weights = {item.number: item.weight or 0.0 for item in checklist_items("metrics")}
    rows = _checklist(report.html, "METRICS")
    met = sum(weights[n] for n, cells in rows.items() if cells[3] == "reported")
    applicable = sum(weights[n] for n, cells in rows.items() if cells[3] != "not applicable")
    assert float(found.group(1)) == pytest.approx(100 * met / applicable, abs=0.05)
    # The costliest items, largest first, each with what would earn its points.
    costly = re.findall(r"METRICS (\d+) costs ([0-9.]+) points: [^<]*Earned when", report.html)
    assert [n for n, _ in costly] == [n for n, _ in score.lost[:len(costly)]] and len(costly) == 5
    assert [float(p) for _, p in costly] == sorted((float(p) for _, p in costly), reverse=True)


@pytest.mark.slow
def test_the_participant_flow_diagram_and_sentences_are_in_both_formats(report, sample_study):
    assert report.figures["flow"].startswith(b"\x89PNG")
    flow = report.html[report.html.index("<h2>Participant flow</h2>"):report.html.index("<h2>Table 1</h2>")]
    assert base64.b64encode(report.figures["flow"]).decode() in flow
    train, test = len(sample_study.split.train_ids), len(sample_study.split.test_ids)
    assert f"{len(sample_study.cohort):,} patients were in the study" in flow and "none was excluded" in flow
    assert f"Training cohort: {train} patients" in flow and f"Test cohort: {test} patients" in flow
    pages = _page_events(report.pdf)
    shown = [e for events in pages for e in events]
    after = shown[shown.index(b"Participant flow"):shown.index(b"Table 1")]
    assert b"<image>" in after and any(b"Training cohort" in e for e in after)
