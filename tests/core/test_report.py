"""The study report renders to HTML and PDF with every section and figure."""

from __future__ import annotations

import re

import pytest

from core.workflows.report import SECTIONS, ReportInputs, build_report
from core.workflows.sample import SAMPLE_SPEC


@pytest.fixture(scope="module")
def report(sample_cohort, sample_features, sample_models):
    import json

    from core.workflows.sample import SAMPLE_RADIOMICS_SETTINGS

    split, models = sample_models
    inputs = ReportInputs(name="Sample study (synthetic)", cohort=sample_cohort, spec=SAMPLE_SPEC, split=split,
                          models=models, predictions=models.predict(sample_cohort, sample_features, SAMPLE_SPEC),
                          funnels={k: v.funnel for k, v in models.screening.items()},
                          radiomics_settings=json.loads(SAMPLE_RADIOMICS_SETTINGS.read_text()),
                          autoencoder={"latent_size": 512, "crop_size": 64}, is_sample=True)
    return build_report(inputs, compress=False)


def test_html_has_every_section_and_figure(report):
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in report.html, section
    assert report.html.count("data:image/png;base64,") == 4
    assert "lambda.1se" in report.html and "Student t-test p &lt; 0.05" in report.html
    assert "Synthetic sample data" in report.html
    assert re.search(r"Fused model</td>\s*<td>0\.\d{3} \(0\.\d{3}-0\.\d{3}\)", report.html)


def test_pdf_has_every_section_and_figure(report):
    assert report.pdf.startswith(b"%PDF")
    for section in SECTIONS:
        assert section.encode() in report.pdf, section
    assert report.pdf.count(b"/Subtype /Image") >= 4
    assert len(re.findall(rb"/Type /Page\b", report.pdf)) >= 3
