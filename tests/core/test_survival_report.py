"""The study report of a time-to-event study (core.workflows.report): the binary report's sections in survival
words (Cox models, hazard ratios, C-index, time-dependent AUC, horizons), every number read from the study's
SurvivalEvaluation, as HTML and PDF.

The slow tests fit the time-to-event sample study (1,001 patients, three families: ~30 s) and a 300-patient one
without a test cohort, with a short internal validation and the sample's external centre. The fast ones draw the
static survival figures from small frames and check the registry of report kinds.
"""

from __future__ import annotations

import html
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.figures.static import survival_calibration_png, survival_decision_png
from core.vocabulary import COHORTS, OUTCOME_KINDS, RISK_GROUPS, horizon_text
from core.workflows.report import REPORT_KINDS, SECTIONS, SURVIVAL_SECTIONS, build_report, report_kind
from tests.core.test_report import _page_events

PNG = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------
# Fast: the registry and the static figures
# ---------------------------------------------------------------------------------------------


def _study_of(kind: str) -> SimpleNamespace:
    """What report_kind reads of a study: its outcome's kind."""
    return SimpleNamespace(spec=SimpleNamespace(outcome=SimpleNamespace(kind=kind)))


def test_every_outcome_kind_has_a_report_and_another_is_refused():
    assert set(REPORT_KINDS) == set(OUTCOME_KINDS)
    assert REPORT_KINDS["binary"].sections == SECTIONS and REPORT_KINDS["survival"].sections == SURVIVAL_SECTIONS
    for kind in OUTCOME_KINDS:
        assert report_kind(_study_of(kind)) is REPORT_KINDS[kind]  # type: ignore[arg-type]
    # A study whose outcome kind has no report is refused with the kinds that have one.
    with pytest.raises(RadNomoError, match="no report is declared for the outcome kind 'ordinal'.*binary"):
        report_kind(_study_of("ordinal"))  # type: ignore[arg-type]
    # Every figure and table section of a kind is one of its sections.
    for kind in REPORT_KINDS.values():
        assert set(kind.figures) <= set(kind.sections)
        assert set(kind.table_sections) - {"Selected features"} <= set(kind.sections)


def _groups(shift: float) -> pd.DataFrame:
    predicted = np.linspace(0.3, 0.9, 5)
    observed = np.clip(predicted + shift, 0, 1)
    return pd.DataFrame({"predicted": predicted, "observed": observed, "low": observed - 0.1,
                         "high": np.minimum(observed + 0.1, 1.0)})


def test_static_survival_calibration_and_decision_panels_are_pngs_one_panel_per_horizon():
    labels, colours = {"a": "Model A", "b": "Model B"}, {"a": "#1f77b4", "b": "#d62728"}
    two = survival_calibration_png({f"at {h} months": {"a": _groups(0.0), "b": _groups(-0.05)} for h in (12, 36)},
                                   labels, colours)
    threshold = np.linspace(0.01, 0.99, 99)
    curve = pd.DataFrame({"threshold": threshold, "net_benefit": np.where(threshold < 0.8, 0.3 - threshold / 3, np.nan),
                          "treat_all": 0.4 - threshold})
    one = survival_decision_png({"at 12 months": {"a": curve, "b": curve.assign(net_benefit=np.nan)}}, labels,
                                colours)  # a model without any defined net benefit still draws
    assert two.startswith(PNG) and one.startswith(PNG)

    def width(data: bytes) -> int:
        return int.from_bytes(data[16:20], "big")

    assert width(two) > 1.6 * width(one)  # the same panel size, two panels side by side


# ---------------------------------------------------------------------------------------------
# Slow: the sample's time-to-event study
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def survival_report():
    from core.workflows.evaluation import evaluate_study
    from core.workflows.fit import fit_study, predict_study
    from core.workflows.sample import sample_survival_study

    study = sample_survival_study()
    models = fit_study(study)
    predictions = predict_study(study, models)
    evaluation = evaluate_study(study, models, predictions)
    report = build_report(study, models, predictions, evaluation=evaluation, compress=False)
    return study, models, evaluation, report


def _text(page: str) -> str:
    """The HTML's visible text (tags and the embedded images left out), entities decoded."""
    page = re.sub(r"<img[^>]*>", " ", page.split("</style>", 1)[-1])
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _section(page: str, heading: str, following: str) -> str:
    return page[page.index(f"<h2>{heading}</h2>"):page.index(f"<h2>{following}</h2>")]


@pytest.mark.slow
def test_survival_report_has_every_section_and_figure_in_both_formats(survival_report):
    study, models, evaluation, report = survival_report
    for section in SURVIVAL_SECTIONS:
        assert f"<h2>{section}</h2>" in report.html, section
        assert section.encode() in report.pdf, section
    figures = ["km_train", "km_test", "td_roc", "td_auc", "calibration", "decision", "nomogram", "flow"]
    assert list(report.figures) == figures and all(data.startswith(PNG) for data in report.figures.values())
    assert report.html.count("data:image/png;base64,") == len(figures)
    assert report.pdf.startswith(b"%PDF") and report.pdf.count(b"/Subtype /Image") >= len(figures)
    # No PDF page ends with a heading: each is kept with its first content.
    headings = {s.encode() for s in SURVIVAL_SECTIONS} | {b"At the risk-group cut-off", b"Risk groups",
                                                          b"Calibration at the horizons", b"Integrated Brier score"}
    pages = _page_events(report.pdf)
    assert len(pages) >= 8
    for number, events in enumerate(pages[:-1], start=1):
        assert events[-1] not in headings, f"page {number} ends with the heading {events[-1]!r}"
    # A figure section's figures come under its heading, after its text and tables.
    km = _section(report.html, "Kaplan-Meier curves by risk group", "Time-dependent ROC curves")
    assert km.count("data:image/png") == 2 and km.index("<h3>Risk groups</h3>") < km.index("<img")
    assert f"<h1>{html.escape(study.name)}</h1>" in report.html and "Synthetic sample data" in report.html


@pytest.mark.slow
def test_survival_report_speaks_of_cox_models_hazard_ratios_and_horizons_never_of_odds(survival_report):
    study, models, evaluation, report = survival_report
    text = _text(report.html)
    methods = text[text.index("Methods"):text.index("Missing values and exclusions")]
    for words in ("Cox proportional-hazards model (Efron ties)", "univariable Cox (Wald) p < 0.05",
                  "LASSO-Cox regression", "partial-likelihood deviance", "lambda.1se", "reverse Kaplan-Meier",
                  "Harrell's C-index", "Uno's", "riskRegression::Score", "integrated Brier score",
                  "horizons of 12, 36 and 60 months", "dcurves", "median linear predictor", "survival::cox.zph",
                  "with the predicted survival at 12, 36 and 60 months and the median time to death"):
        assert words in methods, words
    models_part = _text(_section(report.html, "Models", "Table 2"))
    assert " HR " in models_part and "HR_lower" in models_part and "hazard ratio" in models_part
    assert "Proportional-hazards check" in models_part and "GLOBAL" in models_part
    # The report's own words, the checklists left out: their items are the checklists' (CLEAR 41 "e.g. DeLong").
    own, own_pdf = text[:text.index("Reporting checklists")], report.pdf.split(b"Reporting checklists")[0]
    for binary_words in ("odds ratio", "OR_lower", "DeLong", "Youden", "logistic", "binomial", "Hosmer",
                         "ROC AUC", "calibration-in-the-large", "Wilson"):
        assert binary_words not in own, binary_words
        assert binary_words.encode() not in own_pdf, binary_words
    # "AUC" only as the time-dependent AUC, never a plain (binary) AUC.
    plain = re.sub(r"[Tt]ime-dependent AUCs?|AUC\(", "", own)
    assert "AUC" not in plain, plain[max(0, plain.find("AUC") - 80):plain.find("AUC") + 40]
    settings = _section(report.html, "Settings", "Methods")
    assert "12, 36 and 60 months" in settings and "cut-off rule" not in settings
    assert "Table 2 (C-index, time-dependent AUC)" in _text(report.html.split("<h2>Reporting checklists</h2>")[1])


def _interval(low: float, estimate: float, high: float, digits: int = 3) -> str:
    between = " to " if low < 0 else "-"
    return f"{estimate:.{digits}f} ({low:.{digits}f}{between}{high:.{digits}f})"


@pytest.mark.slow
def test_survival_report_holds_the_numbers_of_the_evaluation(survival_report):
    study, models, evaluation, report = survival_report
    labels = study.model_labels()
    table2 = evaluation.table2()
    part = _text(_section(report.html, "Table 2", "Kaplan-Meier curves by risk group"))
    assert len(table2) == 10  # five models, training and test
    for row in table2.itertuples(index=False):
        # cohort and model in words, then n and events, Harrell's C, Uno's C, AUC(t) at each horizon, the cut-off
        cells = [COHORTS[row.cohort], labels[row.model], str(row.n), str(row.events),
                 _interval(row.c_low, row.c_index, row.c_high), _interval(row.uno_low, row.uno_c, row.uno_high)]
        for horizon in evaluation.horizons:
            suffix = horizon_text(horizon)
            values = row._asdict()
            cells.append(_interval(values[f"auc_low_{suffix}"], values[f"auc_{suffix}"], values[f"auc_high_{suffix}"]))
        cells.append(f"{round(row.cutoff, 3):g}")
        assert re.search(r"\s+".join(re.escape(c) for c in cells), part), cells
    # The risk groups: each group's patients and events, the hazard ratio high vs low.
    groups = _text(_section(report.html, "Kaplan-Meier curves by risk group", "Time-dependent ROC curves"))
    for row in evaluation.risk_groups.itertuples(index=False):
        cells = [COHORTS[row.cohort], labels[row.model], RISK_GROUPS[row.group], str(row.n), str(row.events)]
        assert re.search(r"\s+".join(re.escape(c) for c in cells), groups), cells
        assert _interval(row.hr_low, row.hr, row.hr_high, 2) in groups
    # Calibration slope, observed / expected and Brier score at each horizon; the integrated Brier score.
    calibration = _text(_section(report.html, "Calibration", "Decision curves"))
    for row in evaluation.calibration_slope.itertuples(index=False):
        assert _interval(row.oe_low, row.observed_expected, row.oe_high) in calibration
    for row in evaluation.brier.itertuples(index=False):
        assert _interval(row.brier_low, row.brier, row.brier_high) in calibration
    for value in evaluation.ibs["ibs"]:
        assert f"{round(float(value), 4):g}" in calibration
    # Participants: events, censored and the median follow-up of each cohort, as the outcome's summary says.
    participants = _text(_section(report.html, "Participants", "Table 1"))
    outcome = study.spec.outcome
    for ids in (study.split.train_ids, study.split.test_ids):
        summary = outcome.summary(study.cohort.loc[list(ids)]).set_index("statistic")["value"]
        for statistic in ("events", "censored", "follow_up_median", "median_time"):
            assert summary[statistic] in participants, statistic
    # The clinical model's hazard ratios as fitted.
    coefficients = _text(_section(report.html, "Models", "Table 2"))
    for term, hr in models.clinical.table["HR"].items():
        assert f"{round(float(hr), 4):g}" in coefficients, term
    # The PDF's table cells wrap: the estimate, then its interval (parentheses escaped in the PDF's strings).
    first = table2.iloc[0]
    assert b"Harrell's C" in report.pdf and f"({first['c_index']:.3f})".encode() in report.pdf
    assert f"\\({first['c_low']:.3f}-{first['c_high']:.3f}\\)".encode() in report.pdf


# ---------------------------------------------------------------------------------------------
# Slow: no test cohort, its internal validation and an external centre
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validated(sample_study):
    """300 sample patients with their overall survival, all training, a radiomics family of 150 features, with a
    3-resample bootstrap and a 3-fold CV kept with the study, and the sample's external centre."""
    from core.stats.cohort import SplitConfig, split_cohort
    from core.workflows.external import read_sample_external, validate_external
    from core.workflows.fit import fit_study, predict_study
    from tests.core.test_survival_external import NAME, survival_study_300
    from core.workflows.validation import optimism_corrected_auc, repeated_cv_auc, with_bootstrap, with_cv

    study = survival_study_300(sample_study)
    study = study.replace(name="Survival, no test cohort", split=split_cohort(
        study.cohort.reset_index(), study.spec, SplitConfig(test_size=0.0)))
    models = fit_study(study)
    predictions = predict_study(study, models)
    study = with_bootstrap(study, optimism_corrected_auc(study, n_boot=3, seed=1), seed=1)
    study = with_cv(study, repeated_cv_auc(study, n_folds=3, n_repeats=1, seed=1), folds=3, repeats=1, seed=1)
    clinical, tables = read_sample_external(study.spec.outcome)
    external = validate_external(study, NAME, clinical, {"radiomics": tables["radiomics"]}, models)
    report = build_report(study, models, predictions, externals=[external], compress=False)
    return study, models, predictions, external, report


@pytest.mark.slow
def test_survival_report_of_a_no_test_study_with_its_internal_validation_and_external_centre(validated):
    from core.workflows.external import evaluate_survival_panel

    study, models, predictions, external, report = validated
    page = report.html
    for section in SURVIVAL_SECTIONS:
        assert f"<h2>{section}</h2>" in page, section
    assert "km_train" in report.figures and "km_test" not in report.figures  # no test cohort: its curves only
    validation = _text(_section(page, "Internal validation", "External cohorts"))
    assert "optimism-corrected" in validation and "3 resamples, seed 1" in validation
    assert "1 x 3-fold" in validation and "C-index" in validation and "AUC(t=" in validation
    external_part = _text(_section(page, "External cohorts", "Reporting checklists"))
    assert f"{external.name}: {len(external.cohort)} patients" in external_part
    assert "External performance" in external_part and "External calibration" in external_part
    # The centre's C-indices are those of the External validation page's panel (training cut-offs).
    panel = evaluate_survival_panel(study, models, predictions, [external], cohorts=[external.name])
    for row in panel.concordance.itertuples(index=False):
        assert _interval(row.c_low, row.c_index, row.c_high) in external_part
    # The checklists answer external testing from that section, linked (METRICS 27).
    checklists = page[page.index("<h2>Reporting checklists</h2>"):]
    metrics = checklists[checklists.index("<h3>METRICS</h3>"):]
    row = re.search(r"<td>27</td>(.*?)</tr>", metrics, re.S)
    assert row is not None and "<td>reported</td>" in row.group(1)
    assert "<a href='#external-cohorts'>External cohorts</a>" in row.group(1)
    flow = _text(_section(page, "Participant flow", "Participants"))
    assert f"External cohort '{external.name}': {len(external.cohort)} patients" in flow
    assert external.name.encode() in report.pdf and b"optimism-corrected" in report.pdf


@pytest.mark.slow
def test_survival_report_says_when_internal_validation_was_not_run(survival_report):
    study, models, evaluation, report = survival_report
    part = _text(_section(report.html, "Internal validation", "External cohorts"))
    assert "was not run" in part and "held-out test cohort is in Table 2" in part
