"""The study report renders to HTML and PDF with every section and figure."""

from __future__ import annotations

import re

import pytest

from core.stats.selection import ScreeningSettings
from core.workflows.fit import fit_study, predict_study
from core.workflows.report import SECTIONS, build_report


@pytest.fixture(scope="module")
def report(sample_study, sample_models, sample_predictions):
    return build_report(sample_study, sample_models, sample_predictions, compress=False)


def test_html_has_every_section_and_figure(report):
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in report.html, section
    assert report.html.count("data:image/png;base64,") == 4
    assert "lambda.1se" in report.html and "t-test (Student) p &lt; 0.05" in report.html
    assert "Synthetic sample data" in report.html
    assert re.search(r"Fused model \(DL-radiomics score \+ clinical\)</td>\s*<td>0\.\d{3} \(0\.\d{3}-0\.\d{3}\)",
                     report.html)
    assert "<h1>Sample study (synthetic)</h1>" in report.html and "1001" in report.html


def test_pdf_has_every_section_and_figure(report):
    assert report.pdf.startswith(b"%PDF")
    for section in SECTIONS:
        assert section.encode() in report.pdf, section
    assert report.pdf.count(b"/Subtype /Image") >= 4
    assert len(re.findall(rb"/Type /Page\b", report.pdf)) >= 3


def test_report_follows_the_study_its_name_patients_and_settings(sample_study):
    one_family = sample_study.without_family("dl").replace(name="My radiomics study", is_sample=False).with_settings(
        screening=ScreeningSettings(p_threshold=0.02))
    models = fit_study(one_family)
    report = build_report(one_family, models, predict_study(one_family, models), compress=False)
    assert "<h1>My radiomics study</h1>" in report.html and "Synthetic sample data" not in report.html
    assert "p &lt; 0.02" in report.html and "p &lt; 0.05 entered" not in report.html
    assert "Fused model (Radiomics score + clinical)" in report.html and "DL-radiomics" not in report.html
    assert b"My radiomics study" in report.pdf and b"0.02" in report.pdf
