"""The study report: methods written from the actual settings, Table 1, the selection funnel, Table 2,
ROC / calibration / decision-curve figures, the nomogram, the internal validation, every external cohort,
the missing values and exclusions, and TRIPOD items, as HTML and PDF.

Figures are drawn with matplotlib (static images that need no browser); the PDF is written with
fpdf2 (pure Python). Everything comes from the study's data and fitted models, so the same saved
study gives the same report.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from core.errors import RadNomoError
from core.figures.nomogram import nomogram_file
from core.figures.palette import model_colours
from core.figures.static import calibration_png, decision_png, roc_png
from core.stats.cohort import table_one
from core.stats.evaluation import interval_text
from core.stats.learners import get_learner
from core.stats.modeling import labelled_term
from core.stats.selection import ScreeningResult
from core.vocabulary import CLINICAL, COHORTS, FUSED, PROPORTION_CIS, SCORE_ROLE, UNIVARIABLE_TESTS, format_p
from core.imaging.ibsi import compliance_sentence
from core.workflows.evaluation import StudyEvaluation, evaluate_study
from core.workflows.checks import family_compliance, feature_ibsi_tags, never_features
from core.workflows.external import ExternalCohort, cohort_panel, outside_range_summary, pooled_predictions
from core.workflows.fit import StudyModels
from core.workflows.nomograms import drawable_models, study_nomogram_layout
from core.workflows.sources import source_of
from core.workflows.study import FeatureFamily, Study
from core.workflows.validation import InternalValidation, study_validation, validation_notes, validation_table

__all__ = ["Report", "build_report", "SECTIONS", "methods_text"]

SECTIONS = ("Settings", "Methods", "Missing values and exclusions", "Table 1", "Feature selection", "Models",
            "Table 2", "ROC curves", "Calibration", "Decision curves", "Nomogram", "Internal validation",
            "External cohorts", "TRIPOD checklist")
# Sections that are tables (and the text above them), in the order they appear after the methods.
TABLE_SECTIONS = ("Missing values and exclusions", "Table 1", "Feature selection", "Selected features", "Models",
                  "Table 2")


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
    first = (f"{n} patients ({events} with the outcome '{study.spec.outcome.event_label}')")
    if not study.has_test:
        return (f"{first} all formed the training cohort (no held-out test cohort); every selection step, model and "
                "cut-off was fitted on them, and performance on new patients was estimated by internal validation.")
    config = study.split.config
    return (f"{first} were split at random, stratified by outcome, into a training cohort "
            f"({len(study.split.train_ids)}) and a test cohort ({len(study.split.test_ids)}) (test fraction "
            f"{config.test_size:g}, seed {config.seed}). Every selection step, model and cut-off was fitted on the "
            "training cohort only; the test cohort was used only to measure performance.")


def _compliance(study: Study, family: FeatureFamily) -> Callable[[], str]:
    """The family's IBSI compliance sentence, made only when its source asks for it."""
    return lambda: compliance_sentence(family_compliance(study, family.name), family.label)


def _family_text(study: Study) -> list[str]:
    paragraphs = []
    for family in study.families:
        # the source type says how its features were made
        paragraphs.append(source_of(family).methods_sentence(family, _compliance(study, family)))
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
            f", each {get_learner(settings.score_method, SCORE_ROLE).description()}.")
    if models.clinical is None:
        clinical = f"The study has {models.no_clinical}; its models are the scores alone."
    else:
        clinical = ("The clinical model was a multivariable logistic regression of "
                    f"{', '.join(study.label(v) for v in models.clinical.variables)}.")
    if models.fused is not None and models.fused_score is not None:
        fused = (f" The fused model added the {study.model_label(models.fused_score)} to the clinical predictors "
                 "and was drawn as a nomogram (rms::nomogram's points scale).")
    else:
        fused = f" The {study.model_label(models.main_model)} was drawn as a nomogram (rms::nomogram's points scale)."
    paragraphs.append(
        f"{clinical}{fused} "
        "Discrimination: ROC AUC with DeLong 95 % confidence intervals and paired DeLong tests; accuracy, "
        f"sensitivity, specificity, PPV and NPV with {_ci_words(study)} 95 % intervals at {_cutoff_words(study)}, "
        "applied unchanged to every other cohort; calibration curves, Brier score, calibration-in-the-large, slope "
        "and the Hosmer-Lemeshow test; decision curves (net benefit). Analyses were made with RadNomo.")
    return paragraphs


def _cutoff_words(study: Study) -> str:
    """The study's cut-off rule in a sentence's words."""
    evaluation = study.evaluation
    if evaluation.cutoff_rule == "youden":
        return "the cut-off maximising Youden's index on the training cohort"
    if evaluation.cutoff_rule == "fixed":
        return f"a fixed probability cut-off of {evaluation.cutoff_value:g}"
    return (f"the highest cut-off reaching a sensitivity of {evaluation.cutoff_value:g} on the training cohort")


def _ci_words(study: Study) -> str:
    return "Wilson" if study.evaluation.proportion_ci == "wilson" else "Wald"


def tripod_items(study: Study, externals: Sequence[ExternalCohort] = ()) -> pd.DataFrame:
    """TRIPOD (Collins et al. 2015) items this report addresses, and where (each a section of this report)."""
    validation = ("Internal validation section (bootstrap optimism correction, repeated cross-validation)"
                  + ("; test cohort in Table 2" if study.has_test else "; no held-out test cohort"))
    rows = [
        ("4a/5a", "Source of data and setting", "Methods, paragraph 1" + (" (synthetic sample cohort)"
                                                                          if study.is_sample else "")),
        ("5b", "Eligibility / participants", f"Table 1 ({len(study.cohort)} patients)"),
        ("6a", "Outcome definition", study.spec.outcome.describe()),
        ("7a", "Predictors and how measured", "Methods (extraction and screening settings)"),
        ("8", "Sample size", f"{len(study.split.train_ids)} training / {len(study.split.test_ids)} test; events "
                             f"{study.n_events}"),
        ("10a", "Handling of predictors", "Methods: standardisation, screening, LASSO"),
        ("10b", "Model type and building", "Models section: coefficients of every model"),
        ("10d", "Performance measures", "Table 2, ROC, calibration and decision curves"),
        ("10e/13", "Validation (internal)", validation),
        ("10e/12", "Validation (external)", f"External cohorts section ({len(externals)} cohort(s))" if externals
         else "External cohorts section (none in this study)"),
        ("9", "Missing data", "Missing values and exclusions section"),
        ("15a", "Full model presented", "Models section and nomogram"),
        ("16", "Model performance", "Table 2 with confidence intervals"),
    ]
    return pd.DataFrame(rows, columns=["item", "topic", "where in this report"])


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def _figures(study: Study, models: StudyModels, predictions: pd.DataFrame,
             evaluation: StudyEvaluation) -> dict[str, bytes]:
    """ROC curves of every cohort, calibration and decision curves of the last (test, else training), the
    nomogram: PNG bytes by figure key, drawn from the study's evaluation."""
    names = list(models.model_names)
    labels, colours = study.model_labels(), model_colours(study.model_names)
    titles = {c: f"{COHORTS[c]} cohort" for c in study.cohorts()}
    panels = {}
    for cohort, title in titles.items():
        curves, aucs = evaluation.curves("roc", cohort, names), evaluation.intervals(cohort)
        panels[title] = {m: (curve, f"{labels[m]} {aucs[m][0]:.3f} ({aucs[m][1]:.3f}-{aucs[m][2]:.3f})")
                         for m, curve in curves.items()}
    evaluated, evaluated_title = list(titles.items())[-1]
    figures = {"roc": roc_png(panels, colours)}
    # The models a reader acts on: clinical and fused; a study of scores alone shows its scores.
    shown = [m for m in (CLINICAL, FUSED) if m in names] or names
    bins = evaluation.curves("calibration_bins", evaluated, shown)
    smooth = evaluation.curves("calibration_smooth", evaluated, shown)
    figures["calibration"] = calibration_png({m: (bins[m], smooth[m]) for m in bins}, labels, colours,
                                             f"Calibration, {evaluated_title.lower()}")
    figures["decision"] = decision_png(evaluation.curves("decision", evaluated, names), labels, colours,
                                       f"Decision curves, {evaluated_title.lower()}")
    figures["nomogram"] = _nomogram_png(study, models, predictions)
    return figures


def _nomogram_png(study: Study, models: StudyModels, predictions: pd.DataFrame) -> bytes:
    """The study's main model's nomogram (fused, else clinical, else a score; the first that can be drawn), laid
    out for an A4 page at 300 dpi."""
    drawable = drawable_models(models)
    which = models.main_model if models.main_model in drawable else drawable[-1]
    nomogram = models.nomogram(study, predictions, which)
    layout = study_nomogram_layout(study, nomogram, width_px=482, font_size=8,
                                   title=f"Nomogram: {study.model_label(which)}")
    return nomogram_file(layout, "png", page="a4")


# ---------------------------------------------------------------------------------------------
# HTML and PDF
# ---------------------------------------------------------------------------------------------


def _table_one(study: Study) -> pd.DataFrame:
    """Table 1 with each variable in words (its label), p-values formatted, test columns left out."""
    table1 = table_one(study.cohort_table(), study.spec, study.split)
    table1 = table1[[c for c in table1.columns if not c.endswith(("significant", "test"))]]
    for column in [c for c in table1.columns if c.endswith(" p")]:
        table1[column] = table1[column].map(format_p)
    table1["variable"] = table1["variable"].map(lambda v: study.label(v) if isinstance(v, str) and v else v)
    return table1


def _missing_section(study: Study, models: StudyModels) -> tuple[pd.DataFrame, list[str]]:
    """What the missing-value policy did per table (columns left out, values imputed in and outside training),
    the patients excluded and why, and the pipeline's own notes on what it left out."""
    policy = study.settings.missing
    train = set(study.train_ids)  # once: a set built per patient made the report quadratic (5 s at 10,000)
    others = [i for i in study.cohort.index if i not in train]
    rows = []
    for name, imputer in models.imputers.items():
        source = study.cohort if name == CLINICAL else study.family(name).table if name in study.family_names \
            else None
        filled = list(imputer.fill_)
        outside = 0
        if source is not None and filled:
            present = [c for c in filled if c in source.columns]
            outside = int(source.loc[[i for i in others if i in source.index], present].isna().sum().sum())
        rows.append({"table": "Clinical variables" if name == CLINICAL else study.family_label(name)
                     if name in study.family_names else name,
                     "policy": imputer.policy.strategy,
                     f"columns left out (> {policy.max_missing:g} missing)": len(imputer.dropped_),
                     "values imputed (training)": int(imputer.n_filled_train_),
                     "values imputed (other patients)": outside})
    texts = [f"Missing values: {policy.strategy} imputation fitted on the training patients only"
             + ("" if policy.strategy == "none" else " (the training value fills every cohort)")
             + f"; features missing for more than {policy.max_missing:g} of the training patients were left out."]
    if study.exclusions:
        reasons = pd.Series([why for _, why in study.exclusions]).value_counts()
        texts.append(f"{len(study.exclusions)} patient(s) were excluded from the study: "
                     + "; ".join(f"{n} for {why}" for why, n in reasons.items()) + ".")
    else:
        texts.append("No patient was excluded after the study was opened.")
    texts += [f"Note: {note}" for note in models.notes]
    columns = ["table", "policy", f"columns left out (> {policy.max_missing:g} missing)", "values imputed (training)",
               "values imputed (other patients)"]
    return pd.DataFrame(rows, columns=columns), texts


def _never_features(study: Study) -> pd.DataFrame:
    """The columns of the feature tables kept out of every family (ID, outcome, clinical, the user's exclusions,
    perfect orderings of the outcome), with why."""
    table = never_features(study).table
    return table.assign(family=table["family"].map(study.family_label))[["family", "column", "reason"]]


def _validation_section(study: Study, models: StudyModels, evaluation: StudyEvaluation,
                        run: InternalValidation | None) -> tuple[pd.DataFrame, list[str]]:
    if run is None or (run.optimism is None and run.cv is None):
        return pd.DataFrame(), [
            "Internal validation (Harrell's bootstrap optimism correction, repeated cross-validation) was not run "
            "for this study with these settings: run it on the Internal validation page (it is then kept with the "
            "study) or with python -m core.analyse --n-boot 200."
            + (" Performance on the held-out test cohort is in Table 2." if study.has_test else
               " The study has no held-out test cohort, so its training AUCs are optimistic.")]
    aucs = evaluation.auc_table()
    table = validation_table(aucs, models.model_names, run.optimism, run.cv)
    table = table.round(3).reset_index(names="model")
    table["model"] = table["model"].map(study.model_label)
    return table, validation_notes(study, run)


def _external_section(study: Study, models: StudyModels, predictions: pd.DataFrame,
                      externals: Sequence[ExternalCohort], cutoffs: Mapping[str, float]
                      ) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Each external cohort scored by the frozen models at the training cut-offs: performance, calibration on
    every patient and without those outside the training range, and those patients."""
    if not externals:
        return {}, ["This study holds no external cohort (External validation page, or python -m core.analyse "
                    "--external NAME=CLINICAL.csv,FAMILY=PATH)."]
    labels = study.model_labels()
    texts = [f"{e.name}: {len(e.cohort)} patients, {e.n_events(study.spec.outcome)} with the outcome; scored by the "
             "frozen models (nothing refitted), at the training cohort's cut-offs."
             + "".join(f" {note}" for note in getattr(e, "notes", ())) for e in externals]
    pooled, outcome, groups = pooled_predictions(study, models, predictions, externals)
    tables = {}
    try:
        panel = cohort_panel(pooled, outcome, {e.name: groups[e.name] for e in externals}, cutoffs,
                             ci=study.evaluation.proportion_ci)
    except RadNomoError as error:
        texts.append(f"No performance table: {error}")
    else:
        shown = panel[["group", "model", "n", "events"]].rename(columns={"group": "cohort"})
        shown = shown.assign(model=shown["model"].map(labels)).join(interval_text(panel))
        shown["cut-off"] = panel["cutoff"].round(3)
        tables["External performance"] = shown
    patients, calibration = outside_range_summary(study, models, externals)
    if len(calibration):
        calibration = calibration.assign(model=calibration["model"].map(labels)).rename(
            columns={"group": "cohort", "cal_in_the_large": "calibration-in-the-large",
                     "cal_slope": "calibration slope",
                     "brier": "Brier", "n_outside": "n outside"})
        tables["External calibration"] = calibration.round(3)
    if len(patients):
        tables["Patients outside the training range"] = patients[["cohort", "patient", "reason"]]
        texts.append(f"{len(patients)} external patient(s) lie outside the training range (features far outside "
                     "it, or a predicted risk within 1e-6 of 0 or 1): calibration is shown with and without them.")
    else:
        texts.append("No external patient lies outside the training range.")
    return tables, texts


def _tables(study: Study, models: StudyModels, predictions: pd.DataFrame,
            screening: Mapping[str, ScreeningResult], externals: Sequence[ExternalCohort],
            validation: InternalValidation | None, evaluation: StudyEvaluation
            ) -> tuple[dict[str, pd.DataFrame], dict[str, list[str]]]:
    """Every table of the report by section, and the sentences above them."""
    labels = study.model_labels()
    cutoffs = evaluation.cutoffs
    performance = evaluation.table2
    formatted = performance[["cohort", "model"]].assign(cohort=performance["cohort"].map(COHORTS),
                                                        model=performance["model"].map(labels))
    formatted = formatted.join(interval_text(performance))
    formatted["cut-off"] = performance["cutoff"].round(3)
    funnel = pd.concat([result.funnel.assign(family=study.family_label(family)) for family, result in
                        screening.items()], ignore_index=True)[["family", "step", "n_features"]] if screening \
        else pd.DataFrame()
    coefficients = []
    for name, model in ((CLINICAL, models.clinical), (FUSED, models.fused)):
        if model is not None:
            columns = [c for c in ("coef", "OR", "OR_lower", "OR_upper", "p_value", "p_note") if c in model.table]
            table = model.table[columns].reset_index()
            table = table.assign(term=table["term"].map(lambda term: labelled_term(term, study.label)),
                                 p_value=table["p_value"].map(format_p)).round(4)
            coefficients.append(table.assign(model=labels[name]))
    # One row per selected feature with its IBSI tag and measured compliance, so a reviewer can check each.
    selected = pd.concat([feature_ibsi_tags(study, score.variables).reset_index().assign(score=labels[family])
                          for family, score in models.scores.items()], ignore_index=True) if models.scores else \
        pd.DataFrame()
    if not selected.empty:
        selected = selected[["score", "feature", "ibsi_tag", "ibsi"]].rename(
            columns={"ibsi_tag": "IBSI tag", "ibsi": "IBSI compliance"})
    missing, missing_texts = _missing_section(study, models)
    internal, internal_texts = _validation_section(study, models, evaluation, validation)
    external, external_texts = _external_section(study, models, predictions, externals, cutoffs)
    tables = {"Missing values and exclusions": missing, "Columns never used as features": _never_features(study),
              "Table 1": _table_one(study),
              "Feature selection": funnel, "Selected features": selected,
              "Models": pd.concat(coefficients, ignore_index=True) if coefficients else pd.DataFrame(),
              "Table 2": formatted, "Internal validation": internal, **external,
              "TRIPOD checklist": tripod_items(study, externals), "Settings": _settings_table(study)}
    texts = {"Missing values and exclusions": missing_texts,
             "Feature selection": [] if screening else ["No feature family in this study."],
             "Models": [] if coefficients else [models.no_clinical and f"This study has {models.no_clinical}; its "
                                                "models are its scores (coefficients in the selected features)."
                                                or "No clinical or fused model."],
             "Table 2": [f"Cut-offs: {_cutoff_words(study)}; {PROPORTION_CIS[study.evaluation.proportion_ci]} 95 % "
                         "intervals for the proportions, DeLong for the AUC.", *evaluation.notes],
             # What the fits themselves reported (e.g. a model that did not converge): only when there is any.
             "Warnings": list(getattr(models, "warnings", ())),
             "Internal validation": internal_texts, "External cohorts": external_texts}
    return tables, texts


def _settings_table(study: Study) -> pd.DataFrame:
    """The settings the report was made with, as the dashboard shows them (so a reader can redo it)."""
    s, settings = study.settings.screening, study.settings
    rows = [("patients", len(study.cohort)), ("events", study.n_events),
            ("training / test", f"{len(study.split.train_ids)} / {len(study.split.test_ids)}"),
            ("variance >", f"{s.variance_threshold:g}"),
            (f"|{s.correlation_method} r| <=", f"{s.correlation_threshold:g}"),
            ("univariable test", UNIVARIABLE_TESTS[s.test]), ("keep p <", f"{s.p_threshold:g}"),
            ("ICC >", "off" if s.icc_threshold is None else f"{s.icc_threshold:g}"),
            ("LASSO", f"{s.n_folds}-fold CV, lambda.{s.rule}, fold seed {s.seed}"),
            ("score coefficients", settings.score_method), ("harmonisation", settings.harmonise_by or "none"),
            ("clinical predictors", "univariable p < " + f"{settings.clinical_p:g}"
             if settings.clinical_continuous is None and settings.clinical_categorical is None else "chosen by hand"),
            ("excluded from the features", ", ".join(settings.excluded_features) or "none"),
            ("cut-off rule", study.evaluation.describe()),
            ("proportion CIs", PROPORTION_CIS[study.evaluation.proportion_ci])]
    return pd.DataFrame(rows, columns=["setting", "value"]).astype(str)


# The report's body after the title, in order: (section, its texts' key, its tables, its figure).
_FIGURES = {"ROC curves": "roc", "Calibration": "calibration", "Decision curves": "decision", "Nomogram": "nomogram"}
_EXTERNAL_TABLES = ("External performance", "External calibration", "Patients outside the training range")


def _layout(tables: dict[str, pd.DataFrame], texts: Mapping[str, list[str]]
            ) -> list[tuple[str, list[str], str | None]]:
    """(heading, table names, figure key) of every section in the order both formats print them; the
    Warnings section (after the methods) only when the models reported any."""
    order: list[tuple[str, list[str], str | None]] = []
    for section in ("Settings", *TABLE_SECTIONS):
        if section == "Missing values and exclusions" and texts.get("Warnings"):
            order.append(("Warnings", [], None))
        if section == "Selected features" and tables[section].empty:
            continue
        extra = ["Columns never used as features"] if section == "Missing values and exclusions" else []
        order.append((section, [section, *extra], None))
    order += [(section, [], key) for section, key in _FIGURES.items()]
    order += [("Internal validation", ["Internal validation"], None),
              ("External cohorts", [t for t in _EXTERNAL_TABLES if t in tables], None),
              ("TRIPOD checklist", ["TRIPOD checklist"], None)]
    return order


def _html(study: Study, paragraphs: list[str], tables: dict[str, pd.DataFrame], texts: dict[str, list[str]],
          figures: dict[str, bytes]) -> str:
    def image(key: str, alt: str) -> str:
        return f'<img alt="{alt}" src="data:image/png;base64,{base64.b64encode(figures[key]).decode()}">'

    body = [f"<h1>{html.escape(study.name)}</h1>",
            "<p class='note'>Synthetic sample data, not patient data.</p>" if study.is_sample else ""]
    for section, names, figure in _layout(tables, texts):
        body.append(f"<h2>{section}</h2>")
        if section == "Settings":
            body.append(tables["Settings"].to_html(index=False, border=0))
            body += ["<h2>Methods</h2>", *(f"<p>{html.escape(p)}</p>" for p in paragraphs)]
            continue
        body += [f"<p>{html.escape(text)}</p>" for text in texts.get(section, [])]
        for name in names:
            if not tables[name].empty:
                if name != section:
                    body.append(f"<h3>{name}</h3>")
                body.append(tables[name].to_html(index=False, na_rep="", border=0))
        if figure:
            body.append(image(figure, section))
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


def _png_aspect(data: bytes) -> float:
    """Height / width of a PNG, from its header (to know how much page an image needs before placing it)."""
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return height / width if width else 1.0


def _pdf(study: Study, paragraphs: list[str], tables: dict[str, pd.DataFrame], texts: dict[str, list[str]],
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
    usable = pdf.page_break_trigger - pdf.t_margin

    def heading(text: str, following_mm: float, size: int = 12) -> None:
        """A heading kept with the first ``following_mm`` of its content: a new page when they would not fit."""
        if pdf.get_y() + 9 + min(following_mm, usable - 9) > pdf.page_break_trigger:
            pdf.add_page()
        pdf.ln(2)
        pdf.set_x(pdf.l_margin)
        pdf.set_font("helvetica", "B", size)
        pdf.multi_cell(0, 7 if size >= 12 else 6, _latin1(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", size=8)

    def paragraph(text: str) -> None:
        pdf.set_font("helvetica", size=8)
        pdf.set_x(pdf.l_margin)
        pdf.multi_cell(0, 4.5, _latin1(text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)

    def table(frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        frame = frame.fillna("").astype(str)
        pdf.set_font("helvetica", size=6 if frame.shape[1] > 7 else 7)
        with pdf.table(line_height=3.5, text_align="LEFT") as grid:
            grid.row([_latin1(str(c)) for c in frame.columns])
            for row in frame.itertuples(index=False):
                grid.row([_latin1(str(v)) for v in row])

    # What must follow a heading on its page: a paragraph's first lines, a table's header and first rows.
    text_mm, table_mm = 14.0, 22.0
    for section, names, figure in _layout(tables, texts):
        if section == "Settings":
            heading(section, table_mm)
            table(tables["Settings"])
            heading("Methods", text_mm)
            for text in paragraphs:
                paragraph(text)
            continue
        section_texts = texts.get(section, [])
        shown = [n for n in names if not tables[n].empty]
        if figure:
            width = 170 if figure in ("roc", "nomogram") else 110
            aspect = _png_aspect(figures[figure])
            height = min(width * aspect, usable - 12)  # a figure taller than a page is scaled to fit one
            heading(section, height + 2)
            pdf.image(io.BytesIO(figures[figure]), w=height / aspect, h=height)
            continue
        heading(section, text_mm if section_texts else table_mm if shown else text_mm)
        for text in section_texts:
            paragraph(text)
        for name in shown:
            if name != section:
                heading(name, table_mm, size=10)
            table(tables[name])
    return bytes(pdf.output())


def build_report(study: Study, models: StudyModels, predictions: pd.DataFrame, *,
                 screening: Mapping[str, ScreeningResult] | None = None,
                 externals: Sequence[ExternalCohort] = (), validation: InternalValidation | None = None,
                 evaluation: StudyEvaluation | None = None, compress: bool = True) -> Report:
    """The study's report as HTML (figures embedded) and PDF, made from the study as it is.

    Parameters
    ----------
    study : Study
        Its name, patients and current settings (the evaluation settings included) head the report.
    models, predictions
        The study's fitted models and their predictions (:func:`core.workflows.fit.predict_study`).
    screening : mapping, optional
        Family -> screening result for the funnel (the models' own screening by default).
    externals : sequence of ExternalCohort
        Every external cohort to report (scored by the frozen models at the training cut-offs).
    validation : InternalValidation, optional
        The internal validation to report; by default the study's own latest run
        (:func:`core.workflows.validation.study_validation`). A section says so when there is none.
    evaluation : StudyEvaluation, optional
        The study's evaluation (:func:`core.workflows.evaluation.evaluate_study` of these models and
        predictions under the study's evaluation settings), computed here when not given: Table 2, the
        AUCs and the ROC, calibration and decision curves are read from it.
    compress : bool
        ``False`` keeps the PDF's text searchable (tests).
    """
    screening = dict(screening if screening is not None else models.screening)
    validation = validation if validation is not None else study_validation(study)
    evaluation = evaluation if evaluation is not None else evaluate_study(study, models, predictions)
    paragraphs = methods_text(study, models)
    tables, texts = _tables(study, models, predictions, screening, externals, validation, evaluation)
    figures = _figures(study, models, predictions, evaluation)
    return Report(html=_html(study, paragraphs, tables, texts, figures),
                  pdf=_pdf(study, paragraphs, tables, texts, figures, compress), figures=figures)
