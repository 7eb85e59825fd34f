"""The study report: methods written from the actual settings, Table 1, the selection funnel, Table 2,
ROC / calibration / decision-curve figures, the nomogram and TRIPOD items, as HTML and PDF.

Figures are drawn with matplotlib (static images that need no browser); the PDF is written with
fpdf2 (pure Python). Everything comes from the study's data and fitted models, so the same saved
study gives the same report.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from core.figures.nomogram import nomogram_file
from core.figures.palette import model_colours
from core.figures.static import calibration_png, decision_png, roc_png
from core.stats.cohort import table_one
from core.stats.evaluation import calibration_curve, decision_curve, interval_text, roc_auc, roc_points
from core.stats.selection import ScreeningResult
from core.stats.summaries import table2, training_cutoffs
from core.vocabulary import CLINICAL, FUSED, UNIVARIABLE_TESTS, format_p
from core.imaging.ibsi import compliance_sentence
from core.workflows.checks import family_compliance, feature_ibsi_tags
from core.workflows.fit import StudyModels
from core.workflows.nomograms import study_nomogram_layout
from core.workflows.study import Study

__all__ = ["Report", "build_report", "SECTIONS", "methods_text"]

SECTIONS = ("Methods", "Table 1", "Feature selection", "Models", "Table 2", "ROC curves", "Calibration",
            "Decision curves", "Nomogram", "TRIPOD checklist")


@dataclass(frozen=True)
class Report:
    """The report as self-contained HTML, as PDF, and its figures (PNG bytes by name)."""

    html: str
    pdf: bytes
    figures: dict[str, bytes]


# ---------------------------------------------------------------------------------------------
# Content
# ---------------------------------------------------------------------------------------------


def _design_text(study: Study) -> str:
    n, events = len(study.cohort), study.n_events
    first = (f"{n} patients ({events} with the outcome '{study.spec.outcome_labels[1]}')")
    if not study.has_test:
        return (f"{first} all formed the training cohort (no held-out test cohort); every selection step, model and "
                "cut-off was fitted on them, and performance on new patients was estimated by internal validation.")
    config = study.split.config
    return (f"{first} were split at random, stratified by outcome, into a training cohort "
            f"({len(study.split.train_ids)}) and a test cohort ({len(study.split.test_ids)}) (test fraction "
            f"{config.test_size:g}, seed {config.seed}). Every selection step, model and cut-off was fitted on the "
            "training cohort only; the test cohort was used only to measure performance.")


def _family_text(study: Study) -> list[str]:
    paragraphs = []
    for family in study.families:
        settings = family.extraction or {}
        params = settings.get("params") or {}
        if family.kind == "radiomics" and params:
            preprocess = settings.get("preprocess") or {}
            image_types = ", ".join(sorted(params.get("imageType", {})))
            classes = ", ".join(sorted(params.get("featureClass", {})))
            spacing = preprocess.get("spacing_mm")
            engine = settings.get("engine", "pyradiomics")
            version = settings.get(f"{engine}_version", "")
            paragraphs.append(
                f"{family.label} features ({family.table.shape[1]}) were extracted with {engine} {version} "
                f"(image types: {image_types}; feature classes: {classes}; bin width "
                f"{params.get('setting', {}).get('binWidth', 'default')})"
                + (f" after resampling to {spacing} mm and clipping intensities to {preprocess.get('hu_range')} HU"
                   if spacing else "") + ". " + compliance_sentence(family_compliance(study, family.name), family.label))
        elif family.kind == "deep" and family.autoencoder is not None:
            from core.imaging.deep.train import read_weights_metadata

            config = read_weights_metadata(family.autoencoder.weights)["config"]
            paragraphs.append(f"{family.label} features were the {config.latent_size}-value latent vector of a 3D "
                              f"convolutional autoencoder trained on the training cohort's {config.crop_size}-voxel "
                              "ROI-centred crops (1 mm, abdomen window, mask as a second channel).")
        else:
            paragraphs.append(f"{family.label} features ({family.table.shape[1]}) were imported: {family.source}. "
                              + compliance_sentence(family_compliance(study, family.name), family.label))
    for combined in study.combined:
        members = " and ".join(study.family_label(m) for m in combined.members)
        paragraphs.append(f"The {combined.label} family screened the {members} features together.")
    return paragraphs


def methods_text(study: Study, models: StudyModels) -> list[str]:
    """Methods paragraphs generated from the study's actual settings."""
    settings = study.settings
    s = settings.screening
    paragraphs = [_design_text(study), *_family_text(study)]
    if settings.harmonise_by:
        paragraphs.append(f"Features were harmonised across levels of '{settings.harmonise_by}' with ComBat "
                          "(parametric empirical Bayes; Johnson et al. 2007, Fortin et al. 2018), its location and "
                          "scale estimates fitted on the training cohort and applied unchanged to every other patient.")
    if study.score_families:
        icc = f"features with ICC > {s.icc_threshold:g} between two readers were kept; " if s.icc_threshold else ""
        scores = ", ".join(study.model_label(f) for f in study.score_families)
        paragraphs.append(
            f"Feature screening on the training cohort: {icc}features with variance <= {s.variance_threshold:g} were "
            f"dropped; of each pair with |{s.correlation_method} correlation| > {s.correlation_threshold:g} the "
            "feature with the larger mean absolute correlation was dropped (caret::findCorrelation); features with "
            f"a {UNIVARIABLE_TESTS[s.test]} p < {s.p_threshold:g} entered a LASSO logistic regression "
            f"(standardised features, {s.n_folds}-fold stratified cross-validation on binomial deviance, "
            f"lambda.{s.rule}). Each family was screened on its own, giving the {scores}"
            + (", each the linear predictor of a logistic regression refitted on the selected features."
               if settings.score_method == "refit" else ", each with the LASSO's own coefficients."))
    clinical = ", ".join(study.label(v) for v in models.clinical.variables)
    fused = (f" The fused model added the {study.model_label(models.fused_score)} to the clinical predictors and "
             "was drawn as a nomogram (rms::nomogram's points scale)." if models.fused is not None else
             " The clinical model was drawn as a nomogram (rms::nomogram's points scale).")
    paragraphs.append(
        f"The clinical model was a multivariable logistic regression of {clinical}.{fused} "
        "Discrimination: ROC AUC with DeLong 95 % confidence intervals and paired DeLong tests; accuracy, "
        "sensitivity, specificity, PPV and NPV with Wald 95 % intervals at the cut-off maximising Youden's index "
        "on the training cohort; calibration curves, Brier score, calibration intercept and slope and the "
        "Hosmer-Lemeshow test; decision curves (net benefit). Analyses were made with RadNomo.")
    return paragraphs


def tripod_items(study: Study) -> pd.DataFrame:
    """TRIPOD (Collins et al. 2015) items this report addresses, and where."""
    validation = "Test cohort results in Table 2" if study.has_test else "Training cohort only: see internal validation"
    rows = [
        ("4a/5a", "Source of data and setting", "Methods, paragraph 1" + (" (synthetic sample cohort)"
                                                                          if study.is_sample else "")),
        ("5b", "Eligibility / participants", f"Table 1 ({len(study.cohort)} patients)"),
        ("6a", "Outcome definition", f"'{study.spec.outcome_column}' = 1 ({study.spec.outcome_labels[1]})"),
        ("7a", "Predictors and how measured", "Methods (extraction and screening settings)"),
        ("8", "Sample size", f"{len(study.split.train_ids)} training / {len(study.split.test_ids)} test; events "
                             f"{study.n_events}"),
        ("10a", "Handling of predictors", "Methods: standardisation, screening, LASSO"),
        ("10b", "Model type and building", "Models section: coefficients of every model"),
        ("10d", "Performance measures", "Table 2, ROC, calibration and decision curves"),
        ("10e/13", "Validation (internal)", validation),
        ("15a", "Full model presented", "Models section and nomogram"),
        ("16", "Model performance", "Table 2 with confidence intervals"),
    ]
    return pd.DataFrame(rows, columns=["item", "topic", "where in this report"])


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def _figures(study: Study, models: StudyModels, predictions: pd.DataFrame) -> dict[str, bytes]:
    outcome = study.outcome
    names = models.model_names
    labels, colours = study.model_labels(), model_colours(study.model_names)
    cohorts = {f"{'Training' if c == 'train' else 'Test'} cohort": ids for c, ids in study.cohorts().items()}
    panels = {}
    for title, ids in cohorts.items():
        panels[title] = {}
        for m in names:
            auc = roc_auc(outcome.loc[ids], predictions.loc[ids, m])
            panels[title][m] = (roc_points(outcome.loc[ids], predictions.loc[ids, m]),
                                f"{labels[m]} {auc.auc:.3f} ({auc.ci_low:.3f}-{auc.ci_high:.3f})")
    evaluated_title, evaluated = list(cohorts.items())[-1]
    figures = {"roc": roc_png(panels, colours)}
    shown = [m for m in (CLINICAL, FUSED) if m in names]
    figures["calibration"] = calibration_png(
        {m: calibration_curve(outcome.loc[evaluated], predictions.loc[evaluated, m]) for m in shown}, labels, colours,
        f"Calibration, {evaluated_title.lower()}")
    figures["decision"] = decision_png(
        {m: decision_curve(outcome.loc[evaluated], predictions.loc[evaluated, m]) for m in names}, labels, colours,
        f"Decision curves, {evaluated_title.lower()}")
    figures["nomogram"] = _nomogram_png(study, models, predictions)
    return figures


def _nomogram_png(study: Study, models: StudyModels, predictions: pd.DataFrame) -> bytes:
    """The fused (else clinical) model's nomogram, laid out for an A4 page at 300 dpi."""
    which = FUSED if models.fused is not None else CLINICAL
    nomogram = models.nomogram(study, predictions, which)
    layout = study_nomogram_layout(study, nomogram, width_px=482, font_size=8,
                                   title=f"Nomogram: {study.model_label(which)}")
    return nomogram_file(layout, "png", page="a4")


# ---------------------------------------------------------------------------------------------
# HTML and PDF
# ---------------------------------------------------------------------------------------------


def _tables(study: Study, models: StudyModels, predictions: pd.DataFrame,
            screening: Mapping[str, ScreeningResult]) -> dict[str, pd.DataFrame]:
    labels = study.model_labels()
    cutoffs = training_cutoffs(predictions, study.outcome, study.train_ids, models.model_names)
    performance = table2(predictions, study.outcome, study.cohorts(), cutoffs)
    formatted = performance[["cohort", "model"]].assign(model=performance["model"].map(labels))
    formatted = formatted.join(interval_text(performance))
    table1 = table_one(study.cohort_table(), study.spec, study.split)
    table1 = table1[[c for c in table1.columns if not c.endswith(("significant", "test"))]]
    for column in [c for c in table1.columns if c.endswith(" p")]:
        table1[column] = table1[column].map(format_p)
    funnel = pd.concat([result.funnel.assign(family=study.family_label(family)) for family, result in
                        screening.items()], ignore_index=True)[["family", "step", "n_features"]] if screening \
        else pd.DataFrame()
    coefficients = []
    for name, model in ((CLINICAL, models.clinical), (FUSED, models.fused)):
        if model is not None:
            table = model.table[["coef", "OR", "OR_lower", "OR_upper", "p_value"]].reset_index()
            table = table.assign(term=table["term"].map(lambda term: study.label(term)), p_value=table["p_value"].map(
                format_p)).round(4)
            coefficients.append(table.assign(model=labels[name]))
    # One row per selected feature with its IBSI tag and measured compliance, so a reviewer can check each.
    selected = pd.concat([feature_ibsi_tags(study, score.features).reset_index().assign(score=labels[family])
                          for family, score in models.scores.items()], ignore_index=True) if models.scores else \
        pd.DataFrame()
    if not selected.empty:
        selected = selected[["score", "feature", "ibsi_tag", "ibsi"]].rename(
            columns={"ibsi_tag": "IBSI tag", "ibsi": "IBSI compliance"})
    return {"Table 1": table1, "Feature selection": pd.concat([funnel], ignore_index=True),
            "Selected features": selected,
            "Models": pd.concat(coefficients, ignore_index=True) if coefficients else pd.DataFrame(),
            "Table 2": formatted, "TRIPOD checklist": tripod_items(study)}


def _settings_table(study: Study) -> pd.DataFrame:
    """The settings the report was made with, as the dashboard shows them (so a reader can redo it)."""
    s, settings = study.settings.screening, study.settings
    rows = [("patients", len(study.cohort)), ("events", study.n_events),
            ("training / test", f"{len(study.split.train_ids)} / {len(study.split.test_ids)}"),
            ("variance >", f"{s.variance_threshold:g}"), (f"|{s.correlation_method} r| <=", f"{s.correlation_threshold:g}"),
            ("univariable test", UNIVARIABLE_TESTS[s.test]), ("keep p <", f"{s.p_threshold:g}"),
            ("ICC >", "off" if s.icc_threshold is None else f"{s.icc_threshold:g}"),
            ("LASSO", f"{s.n_folds}-fold CV, lambda.{s.rule}, fold seed {s.seed}"),
            ("score coefficients", settings.score_method), ("harmonisation", settings.harmonise_by or "none"),
            ("clinical predictors", "univariable p < " + f"{settings.clinical_p:g}" if settings.clinical_continuous is None
             and settings.clinical_categorical is None else "chosen by hand")]
    return pd.DataFrame(rows, columns=["setting", "value"]).astype(str)


def _html(study: Study, paragraphs: list[str], tables: dict[str, pd.DataFrame],
          figures: dict[str, bytes]) -> str:
    def image(key: str, alt: str) -> str:
        return f'<img alt="{alt}" src="data:image/png;base64,{base64.b64encode(figures[key]).decode()}">'

    body = [f"<h1>{html.escape(study.name)}</h1>",
            "<p class='note'>Synthetic sample data, not patient data.</p>" if study.is_sample else "",
            "<h2>Settings</h2>", tables["Settings"].to_html(index=False, border=0),
            "<h2>Methods</h2>", *(f"<p>{html.escape(p)}</p>" for p in paragraphs)]
    for section in ("Table 1", "Feature selection", "Selected features", "Models", "Table 2"):
        if not tables[section].empty:
            body += [f"<h2>{section}</h2>", tables[section].to_html(index=False, na_rep="", border=0)]
    body += ["<h2>ROC curves</h2>", image("roc", "ROC curves"), "<h2>Calibration</h2>",
             image("calibration", "Calibration"), "<h2>Decision curves</h2>", image("decision", "Decision curves"),
             "<h2>Nomogram</h2>", image("nomogram", "Nomogram"), "<h2>TRIPOD checklist</h2>",
             tables["TRIPOD checklist"].to_html(index=False, border=0)]
    style = ("body{font-family:Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;font-size:12px;margin:0.5em 0 1.5em}"
             "td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left}img{max-width:100%}"
             ".note{color:#a33}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(study.name)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")


_LATIN1 = {"λ": "lambda", "≥": ">=", "≤": "<=", "±": "+/-", "×": "x", "–": "-", "—": "-", "ρ": "rho", "χ": "chi",
           "²": "2", "’": "'", "“": '"', "”": '"'}


def _latin1(text: str) -> str:
    """fpdf2's core fonts are Latin-1: spell out the few other characters the report uses."""
    for character, replacement in _LATIN1.items():
        text = text.replace(character, replacement)
    return text.encode("latin-1", errors="replace").decode("latin-1")


def _pdf(study: Study, paragraphs: list[str], tables: dict[str, pd.DataFrame],
         figures: dict[str, bytes], compress: bool) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_compression(compress)
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_page()
    pdf.set_font("helvetica", "B", 16)
    pdf.multi_cell(0, 8, _latin1(study.name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=9)
    if study.is_sample:
        pdf.multi_cell(0, 5, "Synthetic sample data, not patient data.", new_x="LMARGIN", new_y="NEXT")

    def heading(text: str) -> None:
        pdf.ln(2)
        pdf.set_x(pdf.l_margin)
        pdf.set_font("helvetica", "B", 12)
        pdf.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", size=8)

    def table(frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        frame = frame.fillna("").astype(str)
        pdf.set_font("helvetica", size=6 if frame.shape[1] > 7 else 7)
        with pdf.table(line_height=3.5, text_align="LEFT") as grid:
            grid.row([_latin1(str(c)) for c in frame.columns])
            for row in frame.itertuples(index=False):
                grid.row([_latin1(str(v)) for v in row])

    heading("Settings")
    table(tables["Settings"])
    heading("Methods")
    for paragraph in paragraphs:
        pdf.set_x(pdf.l_margin)
        pdf.multi_cell(0, 4.5, _latin1(paragraph), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    for section in ("Table 1", "Feature selection", "Selected features", "Models", "Table 2"):
        if not tables[section].empty:
            heading(section)
            table(tables[section])
    for section, key in (("ROC curves", "roc"), ("Calibration", "calibration"), ("Decision curves", "decision"),
                         ("Nomogram", "nomogram")):
        heading(section)
        pdf.image(io.BytesIO(figures[key]), w=170 if key in ("roc", "nomogram") else 110)
    heading("TRIPOD checklist")
    table(tables["TRIPOD checklist"])
    return bytes(pdf.output())


def build_report(study: Study, models: StudyModels, predictions: pd.DataFrame, *,
                 screening: Mapping[str, ScreeningResult] | None = None, compress: bool = True) -> Report:
    """The study's report as HTML (figures embedded) and PDF, made from the study as it is.

    Parameters
    ----------
    study : Study
        Its name, patients and current settings head the report.
    models, predictions
        The study's fitted models and their predictions (:func:`core.workflows.fit.predict_study`).
    screening : mapping, optional
        Family -> screening result for the funnel (the models' own screening by default).
    compress : bool
        ``False`` keeps the PDF's text searchable (tests).
    """
    screening = dict(screening if screening is not None else models.screening)
    paragraphs = methods_text(study, models)
    tables = _tables(study, models, predictions, screening)
    tables["Settings"] = _settings_table(study)
    figures = _figures(study, models, predictions)
    return Report(html=_html(study, paragraphs, tables, figures),
                  pdf=_pdf(study, paragraphs, tables, figures, compress), figures=figures)
