"""The study report: methods written from the actual settings, Table 1, the selection funnel, Table 2,
ROC / calibration / decision-curve figures, the nomogram, the internal validation, every external cohort,
the missing values and exclusions, the participant flow, and the reporting checklists (TRIPOD+AI, CLEAR, METRICS with
its score, PROBAST+AI: :mod:`core.workflows.study_checklists`), as HTML and PDF.

Figures are drawn with matplotlib (static images that need no browser); the PDF is written with
fpdf2 (pure Python). Everything comes from the study's data and fitted models, so the same saved
study gives the same report.

The study's outcome type decides what differs (:data:`REPORT_KINDS`, one :class:`ReportKind` per outcome kind,
asked once through :func:`report_kind`): a binary study reports ROC AUCs, odds ratios and metrics at its cut-off
rule; a time-to-event study (:class:`core.workflows.survival_evaluation.SurvivalEvaluation`) its participants'
follow-up, Cox models with hazard ratios and their proportional-hazards check, Harrell's and Uno's C,
time-dependent AUC and ROC curves, Kaplan-Meier curves of the risk groups, calibration, Brier scores and decision
curves at its horizons, and the Cox nomogram's survival axes. The other sections are shared.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.workflows.report_sections import SECTION_ANCHORS, section_anchor
from core.figures.flow import flow_diagram
from core.figures.nomogram import nomogram_file
from core.figures.palette import model_colours
from core.figures.static import (calibration_png, decision_png, kaplan_meier_png, roc_png, survival_calibration_png,
                                 survival_decision_png, td_auc_png, td_roc_png)
from core.stats.cohort import outcome_summary, table_one
from core.stats.evaluation import interval_text
from core.stats.learners import get_learner
from core.stats.modeling import labelled_term
from core.stats.outcome_statistics import statistics_for
from core.stats.selection import ScreeningResult
from core.vocabulary import (CALIBRATION_READING, CLINICAL, COHORTS, COMPARATOR_FEATURES, COMPARATOR_METHODS,
                             COMPARATOR_ROLE, DECISION_READING, FUSED, PROPORTION_CIS, RISK_GROUPS, SCORE_ROLE,
                             UNIVARIABLE_TESTS, format_p, horizon_text)
from core.imaging.ibsi import compliance_sentence
from core.workflows.evaluation import DECISION_RESAMPLES, StudyEvaluation, evaluate_study, label_construction
from core.workflows.model_comparison import RECLASSIFICATION_NOTE, default_pair, reclassification_table
from core.workflows.sample_size import study_sample_size
from core.workflows.checks import family_compliance, feature_ibsi_tags, never_features
from core.workflows.external import (ExternalCohort, cohort_panel, evaluate_survival_panel, outside_range_summary,
                                     pooled_predictions)
from core.workflows.fit import StudyModels
from core.workflows.nomograms import drawable_models, study_nomogram_layout
from core.workflows.participant_flow import ParticipantFlow, participant_flow
from core.workflows.sources import source_of
from core.workflows.study import FeatureFamily, Study
from core.workflows.survival_evaluation import SurvivalEvaluation
from core.workflows.validation import (RESAMPLING_COLUMNS, calibration_optimism_notes, resampling_summary)
from core.workflows.validation import (InternalValidation, discrimination_table, study_validation, validation_notes,
                                       validation_table)

if TYPE_CHECKING:  # imported where a report is built (the checklists load the item tables)
    from core.workflows.study_checklists import StudyFacts

__all__ = ["Report", "build_report", "study_facts", "SECTION_ANCHORS", "section_anchor",
           "SECTIONS", "SURVIVAL_SECTIONS", "methods_text", "ReportKind", "REPORT_KINDS",
           "report_kind"]

# The binary study's sections (a time-to-event study's: SURVIVAL_SECTIONS; each outcome kind's: REPORT_KINDS).
SECTIONS = ("Settings", "Methods", "Missing values and exclusions", "Participant flow", "Table 1", "Sample size",
            "Feature selection", "Models", "Table 2", "ROC curves", "Calibration", "Decision curves",
            "Reclassification", "Nomogram", "Internal validation", "External cohorts", "Reporting checklists")
SURVIVAL_SECTIONS = ("Settings", "Methods", "Missing values and exclusions", "Participant flow", "Participants",
                     "Table 1", "Sample size", "Feature selection", "Models", "Table 2",
                     "Kaplan-Meier curves by risk group", "Time-dependent ROC curves", "Time-dependent AUC",
                     "Calibration", "Decision curves", "Nomogram", "Internal validation", "External cohorts",
                     "Reporting checklists")
# Sections that are tables (and the text above them), in the order they appear after the methods.
TABLE_SECTIONS = ("Missing values and exclusions", "Participant flow", "Table 1", "Sample size", "Feature selection",
                  "Selected features", "Models", "Table 2")
#: Table sections that also show a figure (under their tables), for every outcome kind: section -> figure keys.
TABLE_FIGURES = {"Participant flow": ("flow",)}
#: The reporting checklists' tables under "Reporting checklists", in order: table name -> checklist key
#: (:data:`core.workflows.checklist_items.CHECKLISTS`); PROBAST+AI is pre-answered, not filled item by item.
CHECKLIST_TABLES = {"TRIPOD+AI": "tripod_ai", "CLEAR": "clear", "METRICS": "metrics",
                    "PROBAST+AI self-assessment": "probast_ai"}
#: The tables under "Models" of a study with comparator learners (:func:`_comparator_tables`).
COMPARATOR_TABLES = ("Comparator learners", "SHAP importance")
#: The METRICS items that cost the most points, said one sentence each under the score.
COSTLIEST_ITEMS = 5
#: The thresholds (probabilities) at which the report tabulates the decision curves.
REPORT_THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)


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
    """Methods paragraphs generated from the study's actual settings, in its outcome type's words
    (:func:`report_kind`: the LASSO, the model, the nomogram's axes and the performance measures)."""
    kind = report_kind(study)
    statistics = statistics_for(study.spec.outcome)
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
            f"a {kind.test_words(s.test)} p < {s.p_threshold:g} entered a {kind.lasso_words(s)}. "
            f"Each family was screened on its own, giving the {scores}"
            f", each {get_learner(settings.score_method, SCORE_ROLE).description()}.")
    if models.clinical is None:
        clinical = f"The study has {models.no_clinical}; its models are the scores alone."
    else:
        clinical = (f"The clinical model was a multivariable {statistics.model_words} of "
                    f"{', '.join(study.label(v) for v in models.clinical.variables)}.")
    drawn = f"drawn as a nomogram (rms::nomogram's points scale{kind.nomogram_words(study)})"
    if models.fused is not None and models.fused_score is not None:
        fused = (f" The fused model added the {study.model_label(models.fused_score)} to the clinical predictors "
                 f"and was {drawn}.")
    else:
        fused = f" The {study.model_label(models.main_model)} was {drawn}."
    paragraphs.append(f"{clinical}{fused} {kind.measures_text(study)} Analyses were made with RadNomo.")
    if models.comparators:
        paragraphs.append(_comparators_text(study, models))
    return paragraphs


def _comparators_text(study: Study, models: StudyModels) -> str:
    """The comparator learners in one paragraph: which, on which features, their grids and how each was tuned."""
    grids: dict[str, Any] = {}
    for model in models.comparators.values():  # every family's model of a learner searched the same grid
        grids.setdefault(model.learner, model)
    learners = "; ".join(
        f"{COMPARATOR_METHODS[name]} ({get_learner(name, COMPARATOR_ROLE).description()}; grid "
        + ", ".join(f"{param} in {{{', '.join(str(v) for v in values)}}}" for param, values in model.grid.items())
        + f"; tuned by {model.tuning_words})" for name, model in grids.items())
    first = next(iter(grids.values()))
    features = COMPARATOR_FEATURES[study.settings.comparator_features].lower()
    return (f"Comparator learners were fitted on each family's features ({features}) beside its score: {learners}. "
            f"Their hyper-parameters were tuned on the training patients only (seed {first.seed}; inner folds "
            "stratified by the outcome), and the chosen model refitted on all of them; in the internal validation "
            "the whole pipeline, tuning included, was refitted in every resample. Each score and comparator was "
            "explained by SHAP values on the training patients (exact linear SHAP for the scores, TreeSHAP for tree "
            "ensembles, a model-agnostic explainer otherwise).")


def _comparator_tables(study: Study, models: StudyModels,
                       explanations: Mapping[str, Any] | None) -> dict[str, pd.DataFrame]:
    """The "Comparator learners" table (model, features, chosen hyper-parameters, the inner cross-validation's
    measure (AUC; Harrell's C for a time to event) at the chosen ones) and the "SHAP importance" table (each
    explained model's five largest mean |SHAP|); none without comparators."""
    if not models.comparators:
        return {}
    rows = []
    for name, model in models.comparators.items():
        chosen = model.table[model.table["chosen"]]
        rows.append({"model": study.model_label(name), "features": len(model.variables),
                     "hyper-parameters": ", ".join(f"{k} = {v}" for k, v in model.params.items()),
                     "tuned on": model.TUNING_MEASURE,
                     "inner-CV value": round(float(chosen[model.TUNING_SCORE].iloc[0]), 3)})
    tables = {"Comparator learners": pd.DataFrame(rows)}
    if explanations:
        from core.workflows.explanations import shap_table  # shap's import only where a report explains models

        top = shap_table(explanations, study.model_labels())
        top = top[top["rank"] <= 5]
        tables["SHAP importance"] = top.assign(mean_abs_shap=top["mean_abs_shap"].round(4))[
            ["label", "feature", "mean_abs_shap", "output", "method"]].rename(
            columns={"label": "model", "mean_abs_shap": "mean |SHAP|"})
    return tables


def _binary_measures(study: Study) -> str:
    """A binary study's performance measures in the methods' words."""
    return ("Discrimination: ROC AUC with DeLong 95 % confidence intervals and paired DeLong tests; accuracy, "
            f"sensitivity, specificity, PPV and NPV with {_ci_words(study)} 95 % intervals at {_cutoff_words(study)}, "
            "applied unchanged to every other cohort. Calibration (Van Calster et al. 2016): the flexible (loess) "
            "calibration curve with its pointwise 95 % band; calibration-in-the-large and the logistic "
            "recalibration's intercept and slope with 95 % confidence intervals; the integrated calibration index "
            "(ICI), E50, E90 and Emax from rms::val.prob's lowess curve; Spiegelhalter's z; the Brier score; the "
            "Hosmer-Lemeshow test as a secondary check. Decision curves (net benefit) with bootstrap 95 % bands, "
            "net interventions avoided and the standardized net benefit. Reclassification of the main model against "
            "the clinical model: continuous NRI and IDI (Hmisc::improveProb) with 95 % confidence intervals.")


def _horizons_words(study: Study) -> str:
    """The study's horizons with their unit, e.g. "12, 36 and 60 months"."""
    outcome = study.spec.outcome
    shown = [f"{float(h):g}" for h in outcome.horizons]  # type: ignore[attr-defined]  # a SurvivalOutcome's
    listing = shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"
    return f"{listing} {outcome.time_unit}"  # type: ignore[attr-defined]


def _risk_split(study: Study) -> str:
    """Where the risk groups split, in words: "median linear predictor", "75th percentile of the linear predictor"."""
    quantile = study.evaluation.risk_quantile
    return "median linear predictor" if quantile == 0.5 else f"{quantile * 100:g}th percentile of the linear predictor"


def _survival_measures(study: Study) -> str:
    """A time-to-event study's performance measures in the methods' words (each as core.stats.survival computes
    it, checked there against R)."""
    outcome = study.spec.outcome
    last = f"{float(outcome.horizons[-1]):g} {outcome.time_unit}"  # type: ignore[attr-defined]
    return (f"Follow-up times were in {outcome.time_unit}; patients without the event were censored at their "  # type: ignore[attr-defined]
            "last follow-up, and the median follow-up was estimated by the reverse Kaplan-Meier method. Predictions "
            f"and performance were evaluated at horizons of {_horizons_words(study)}. Discrimination: Harrell's "
            "C-index of the linear predictor with its 95 % confidence interval (survival::concordance) and Uno's "
            f"IPCW C truncated at {last}; paired comparisons of C-indices; time-dependent AUC at each horizon "
            "(inverse-probability-of-censoring weighted, cumulative cases / dynamic controls, as "
            "riskRegression::Score) with 95 % confidence intervals. Overall accuracy: IPCW Brier score at each "
            "horizon and the integrated Brier score, against the Kaplan-Meier null model. Calibration at each "
            "horizon: mean predicted survival against Kaplan-Meier observed survival in quintiles of predicted "
            "survival, the calibration slope and the observed / expected ratio, and the flexible calibration curve "
            "(a Cox model on a restricted cubic spline of the complementary log-log of the predicted risk, Austin, "
            "Harrell & van Klaveren 2020) with its ICI, E50, E90 and Emax. Decision curves at each horizon "
            "(net benefit with the risk of the event by the horizon as the threshold probability, dcurves' method "
            "for time-to-event outcomes) with bootstrap 95 % bands, net interventions avoided and the standardized "
            f"net benefit. Risk groups: high vs low at the training cohort's {_risk_split(study)}, "
            "applied unchanged to every other cohort, compared by Kaplan-Meier curves, the log-rank test and a Cox "
            "hazard ratio; sensitivity, specificity, PPV and NPV at that cut-off at each horizon (IPCW). "
            "Proportional hazards of the clinical and fused models were checked with scaled Schoenfeld residuals "
            "(survival::cox.zph, KM time transform).")


def _survival_nomogram_words(study: Study) -> str:
    outcome = study.spec.outcome
    return (f", with the predicted survival at {_horizons_words(study)} and the median time to "
            f"{outcome.event_label}")


def _cutoff_words(study: Study) -> str:
    """The study's cut-off rule in a sentence's words."""
    evaluation = study.evaluation
    # Where a learned cut-off sits matters for the other cohorts (a patient between two training neighbours):
    # it is said, and it is where R pROC's coords() puts it.
    placed = ("placed midway between neighbouring training predictions, as R pROC's coords() places it, and "
              "positive at or above it")
    if evaluation.cutoff_rule == "youden":
        return f"the cut-off maximising Youden's index on the training cohort ({placed})"
    if evaluation.cutoff_rule == "fixed":
        return f"a fixed probability cut-off of {evaluation.cutoff_value:g}"
    return (f"the highest cut-off reaching a sensitivity of {evaluation.cutoff_value:g} on the training cohort "
            f"({placed})")


def _ci_words(study: Study) -> str:
    return "Wilson" if study.evaluation.proportion_ci == "wilson" else "Wald"


def study_facts(results: Any, externals: Sequence[ExternalCohort] = (), validation: Any = None) -> StudyFacts:
    """What the run of ``results`` (a :class:`core.workflows.results.StudyResults`, or anything with its ``study``
    and ``models``) knows, for the reporting checklists: :func:`core.workflows.study_checklists.gather_facts` with
    the report's words for the study's outcome kind (:func:`report_kind`)."""
    from core.workflows.study_checklists import gather_facts

    return gather_facts(results, externals, validation, kind=report_kind(results.study))


def _checklists_section(facts: StudyFacts) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The reporting checklists answered from the run (:mod:`core.workflows.study_checklists`): one table per
    checklist (:data:`CHECKLIST_TABLES`; TRIPOD+AI, CLEAR and METRICS item by item with their ``where`` a section id,
    PROBAST+AI pre-answered with its concern) and the sentences above them: the METRICS score with its band, then
    the :data:`COSTLIEST_ITEMS` items that cost the most points, each with what the run says and what would earn
    it."""
    from core.workflows.checklist_items import checklist_items
    from core.workflows.study_checklists import probast_assessment, study_checklist, study_metrics

    tables = {name: probast_assessment(facts) if key == "probast_ai" else study_checklist(facts, key)[
        ["item", "section", "text", "status", "where", "evidence"]] for name, key in CHECKLIST_TABLES.items()}
    score = study_metrics(facts)
    texts = [f"METRICS score: {score.score:.1f} % ({score.band}), the published weights of the items reported "
             f"over those of the {len(score.applicable)} items that apply to this study (Kocak et al., Insights "
             "Imaging 2024). Items the run cannot know are the author's: each table says so, and the score rises "
             "with what the author adds."]
    items = {item.number: item for item in checklist_items("metrics")}
    evidence = dict(zip(tables["METRICS"]["item"], tables["METRICS"]["evidence"], strict=True))
    for number, points in score.lost[:COSTLIEST_ITEMS]:
        wanted = items[number].text
        texts.append(f"METRICS {number} costs {points:.1f} points: {evidence[number].rstrip('.')}. Earned when "
                     f"{wanted[0].lower()}{wanted[1:]}.")
    texts.append("TRIPOD+AI (Collins et al., BMJ 2024), CLEAR (Kocak et al., Insights Imaging 2023), METRICS (Kocak et "
                 "al., Insights Imaging 2024) and PROBAST+AI (Moons et al., BMJ 2025), each item in our own short "
                 "words; \"where\" is the section of this report that answers it.")
    return tables, texts


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def _figures(study: Study, models: StudyModels, predictions: pd.DataFrame, evaluation: Any) -> dict[str, bytes]:
    """A binary study's ROC curves of every cohort, calibration and decision curves of the last (test, else
    training), the nomogram: PNG bytes by figure key, drawn from the study's evaluation."""
    evaluation = cast(StudyEvaluation, evaluation)
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
    flexible = evaluation.curves("calibration_flexible", evaluated, shown)
    smooth = evaluation.curves("calibration_smooth", evaluated, shown)  # for a model without a loess curve
    figures["calibration"] = calibration_png({m: (bins[m], flexible.get(m, smooth[m])) for m in bins}, labels, colours,
                                             f"Calibration (loess, 95 % band), {evaluated_title.lower()}")
    figures["decision"] = decision_png(evaluation.curves("decision", evaluated, names), labels, colours,
                                       f"Decision curves, {evaluated_title.lower()}")
    figures["nomogram"] = _nomogram_png(study, models, predictions)
    return figures


def _survival_figures(study: Study, models: StudyModels, predictions: pd.DataFrame,
                      evaluation: SurvivalEvaluation) -> dict[str, bytes]:
    """A time-to-event study's figures, drawn from its evaluation: the main model's Kaplan-Meier curves by risk
    group on every cohort (``km_<cohort>``), then on the last cohort (test, else training) the time-dependent ROC
    curves at each horizon, AUC(t), calibration and decision curves at each horizon; and the nomogram."""
    names = [m for m in models.model_names if m in evaluation.models]
    labels, colours = study.model_labels(), model_colours(study.model_names)
    unit, horizons = evaluation.time_unit, evaluation.horizons
    main = models.main_model
    figures = {}
    for cohort in study.cohorts():
        curves = evaluation.km_curves(cohort, main)
        if not curves:  # not evaluated there (no event): said in the evaluation's notes
            continue
        groups = evaluation.risk_groups
        logrank = groups.loc[(groups["cohort"] == cohort) & (groups["model"] == main), "logrank_p"]
        p = float(logrank.iloc[0]) if len(logrank) and np.isfinite(logrank.iloc[0]) else None
        figures[f"km_{cohort}"] = kaplan_meier_png(
            {RISK_GROUPS[group]: curve for group, curve in curves.items()}, time_unit=unit, log_rank_p=p,
            title=f"{study.model_label(main)}: risk groups, {COHORTS[cohort].lower()} cohort")
    evaluated = list(study.cohorts())[-1]
    cohort_title = f"{COHORTS[evaluated]} cohort"
    of_cohort = {name: frame[frame["cohort"] == evaluated] for name, frame in
                 (("td_roc", evaluation.td_roc), ("td_auc", evaluation.td_auc), ("calibration", evaluation.calibration),
                  ("decision", evaluation.decision))}
    roc_panels: dict[float, dict[str, tuple[pd.DataFrame, str]]] = {}
    for horizon in horizons:
        for model in names:
            curve = of_cohort["td_roc"][(of_cohort["td_roc"]["model"] == model)
                                        & (of_cohort["td_roc"]["horizon"] == float(horizon))]
            auc = of_cohort["td_auc"][(of_cohort["td_auc"]["model"] == model)
                                      & (of_cohort["td_auc"]["horizon"] == float(horizon))]
            if len(curve) and len(auc):
                row = auc.iloc[0]
                roc_panels.setdefault(float(horizon), {})[model] = (
                    curve, f"{labels[model]} {row['auc']:.3f} ({row['auc_low']:.3f}-{row['auc_high']:.3f})")
    if roc_panels:
        figures["td_roc"] = td_roc_png(roc_panels, colours, time_unit=unit, cohort=cohort_title)
    if len(of_cohort["td_auc"]):
        figures["td_auc"] = td_auc_png(of_cohort["td_auc"], labels, colours, time_unit=unit,
                                       title=f"Time-dependent AUC, {cohort_title.lower()}")
    # The models a reader acts on: clinical and fused; a study of scores alone shows its scores.
    shown = [m for m in (CLINICAL, FUSED) if m in names] or names
    for key, frame, draw in (("calibration", of_cohort["calibration"], survival_calibration_png),
                             ("decision", of_cohort["decision"], survival_decision_png)):
        panels: dict[str, dict[str, pd.DataFrame]] = {}
        for horizon in horizons:
            for model in shown:
                rows = frame[(frame["model"] == model) & (frame["horizon"] == float(horizon))]
                if len(rows):
                    panels.setdefault(f"{cohort_title}: at {float(horizon):g} {unit}", {})[model] = rows
        if panels:
            figures[key] = draw(panels, labels, colours)
    figures["nomogram"] = _nomogram_png(study, models, predictions)
    return figures


def _flow_png(flow: ParticipantFlow) -> bytes:
    """The participant-flow diagram (:func:`core.figures.flow.flow_diagram`) of ``flow``'s boxes, as PNG."""
    return flow_diagram(**flow.boxes())


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


def _validation_section(study: Study, models: StudyModels, predictions: pd.DataFrame, evaluation: Any,
                        run: InternalValidation | None) -> tuple[pd.DataFrame, list[str]]:
    kind = report_kind(study)
    if run is None or (run.optimism is None and run.cv is None):
        return pd.DataFrame(), [
            "Internal validation (Harrell's bootstrap optimism correction, repeated cross-validation) was not run "
            "for this study with these settings: run it on the Internal validation page (it is then kept with the "
            "study) or with python -m core.analyse --n-boot 200."
            + (" Performance on the held-out test cohort is in Table 2." if study.has_test else
               f" The study has no held-out test cohort, so its training {kind.apparent_words} are optimistic.")]
    aucs = kind.discrimination(study, models, predictions, evaluation)
    table = validation_table(aucs, models.model_names, run.optimism, run.cv)
    # A binary study's bootstrap also gives the .632/.632+ AUC and the optimism-corrected calibration (issue 28):
    # beside Harrell's, from the same resamples (the apparent slope and intercept, 1 and 0, are said in words).
    extra = resampling_summary(run.optimism, run.calibration, models.model_names)
    shown = [RESAMPLING_COLUMNS[k] for k in ("b632", "b632plus", "slope", "intercept", "brier")]
    if not extra.empty:  # a time-to-event run has none (its table has a row per model and measure)
        table = table.join(extra[[c for c in shown if c in extra.columns]])
    table = table.round(3).reset_index(names="model")
    table["model"] = table["model"].map(study.model_label)
    return table, [*validation_notes(study, run), *calibration_optimism_notes(study, run)]


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
    return _outside_range_section(study, models, externals, tables, texts)


def _outside_range_section(study: Study, models: StudyModels, externals: Sequence[ExternalCohort],
                           tables: dict[str, pd.DataFrame], texts: list[str]
                           ) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """``tables`` and ``texts`` of the External cohorts section with each cohort's calibration on every patient and
    without those outside the training range (:func:`outside_range_summary`, by the outcome kind), and those
    patients."""
    labels = study.model_labels()
    patients, calibration = outside_range_summary(study, models, externals)
    if len(calibration):
        calibration = calibration.assign(model=calibration["model"].map(labels)).rename(
            columns={"group": "cohort", "cal_in_the_large": "calibration-in-the-large",
                     "cal_slope": "calibration slope", "cal_slope_low": "slope low", "cal_slope_high": "slope high",
                     "observed_expected": "observed / expected",
                     "brier": "Brier", "n_outside": "n outside"})
        if "horizon" in calibration:  # a time-to-event outcome's, one row per horizon: "12 months"
            calibration["horizon"] = calibration["horizon"].map(
                study.spec.outcome.horizon_label)  # type: ignore[attr-defined]  # a SurvivalOutcome's
        tables["External calibration"] = calibration.round(3)
    if len(patients):
        tables["Patients outside the training range"] = patients[["cohort", "patient", "reason"]]
        texts.append(f"{len(patients)} external patient(s) lie outside the training range (features far outside "
                     "it, or a predicted risk within 1e-6 of 0 or 1): calibration is shown with and without them.")
    else:
        texts.append("No external patient lies outside the training range.")
    return tables, texts


def _binary_performance(study: Study, models: StudyModels, predictions: pd.DataFrame, evaluation: Any
                        ) -> tuple[dict[str, pd.DataFrame], dict[str, list[str]]]:
    """A binary study's Table 2 (AUC, accuracy, sensitivity, specificity, PPV, NPV with their intervals at the
    cut-off) and the sentence above it."""
    evaluation = cast(StudyEvaluation, evaluation)
    labels = study.model_labels()
    performance = evaluation.table2
    formatted = performance[["cohort", "model"]].assign(cohort=performance["cohort"].map(COHORTS),
                                                        model=performance["model"].map(labels))
    formatted = formatted.join(interval_text(performance))
    formatted["cut-off"] = performance["cutoff"].round(4)
    tables = {"Table 2": formatted, "Calibration statistics": _calibration_statistics(study, evaluation),
              "Net benefit at selected thresholds": _decision_table(study, evaluation)}
    texts = {"Table 2": [f"Cut-offs: {_cutoff_words(study)}; {PROPORTION_CIS[study.evaluation.proportion_ci]} 95 % "
                         "intervals for the proportions, DeLong for the AUC.", *evaluation.notes],
             "Calibration": [CALIBRATION_READING],
             "Decision curves": [DECISION_READING.format(n_boot=DECISION_RESAMPLES, seed=evaluation.seed)]}
    pair = default_pair(models.model_names, models.main_model)
    if pair is None:
        texts["Reclassification"] = ["Only one model: reclassification compares two."]
    else:
        table, notes = reclassification_table(predictions, study.outcome, study.cohorts(), *pair)
        tables["Reclassification"] = _reclassification_text(study, table)
        texts["Reclassification"] = [f"The {study.model_label(pair[0])} against the {study.model_label(pair[1])} "
                                     "(Hmisc::improveProb: continuous NRI with its events' and non-events' parts, "
                                     "IDI; 95 % confidence intervals).", RECLASSIFICATION_NOTE, *notes]
    return tables, texts


def _with_ci(table: pd.DataFrame, name: str) -> list[str]:
    """Column ``name`` of ``table`` with its ``_low`` and ``_high`` as "estimate (low to high)" per row."""
    return [f"{row[name]:.3f} ({row[f'{name}_low']:.3f} to {row[f'{name}_high']:.3f})" for _, row in table.iterrows()]


def _calibration_statistics(study: Study, evaluation: StudyEvaluation) -> pd.DataFrame:
    """The report's calibration table: every cohort and model, each statistic with its CI as text."""
    table = evaluation.calibration
    # a training fit's recalibration intercept and slope are 0 and 1 by construction: labelled so
    intercept = label_construction(table, "intercept", _with_ci(table, "intercept"))
    slope = label_construction(table, "slope", _with_ci(table, "slope"))
    return pd.DataFrame({"cohort": table["cohort"].map(lambda c: COHORTS.get(c, c)),
                         "model": table["model"].map(study.model_labels()), "n": table["n"], "events": table["events"],
                         "calibration-in-the-large": _with_ci(table, "citl"), "intercept": intercept, "slope": slope,
                         "ICI": table["ici"].round(3), "E50": table["e50"].round(3),
                         "E90": table["e90"].round(3), "Emax": table["emax"].round(3),
                         "Spiegelhalter z": table["spiegelhalter_z"].round(2), "Brier": table["brier"].round(3),
                         "Hosmer-Lemeshow (secondary)": [f"{row.hl_statistic:.2f} (df {row.hl_df}, p "
                                                         f"{format_p(row.hl_p)})" for row in table.itertuples()]})


def _decision_table(study: Study, evaluation: StudyEvaluation) -> pd.DataFrame:
    """The decision curves at :data:`REPORT_THRESHOLDS`: per cohort and model the net benefit with its band, treat
    all's, net interventions avoided per 100 and the standardized net benefit."""
    table = evaluation.decision
    rows = table[np.isclose(table["threshold"].to_numpy()[:, None], REPORT_THRESHOLDS).any(axis=1)]
    return pd.DataFrame({
        "cohort": rows["cohort"].map(lambda c: COHORTS.get(c, c)), "model": rows["model"].map(study.model_labels()),
        "threshold": rows["threshold"].round(2), "net benefit (95 % band)": _with_ci(rows, "net_benefit"),
        "treat all": rows["treat_all"].round(3), "interventions avoided /100": rows["interventions_avoided"].round(1),
        "standardized net benefit": rows["standardized_net_benefit"].round(3)})


def _reclassification_text(study: Study, table: pd.DataFrame) -> pd.DataFrame:
    """Reclassification rows as the report prints them: each index with its 95 % CI."""
    labels = study.model_labels()
    return pd.DataFrame({"cohort": table["cohort"].map(lambda c: COHORTS.get(c, c)),
                         "model": table["model"].map(labels), "reference": table["reference"].map(labels),
                         "n": table["n"], "events": table["events"], "NRI (continuous)": _with_ci(table, "nri"),
                         "NRI events": _with_ci(table, "nri_events"),
                         "NRI non-events": _with_ci(table, "nri_nonevents"), "IDI": _with_ci(table, "idi")})


def _coefficients(study: Study, models: StudyModels) -> list[pd.DataFrame]:
    """The clinical and fused models' coefficients with their effect (odds or hazard ratio, as the outcome type
    says: :func:`core.stats.outcome_statistics.statistics_for`) and its 95 % interval, p formatted."""
    labels, effect = study.model_labels(), statistics_for(study.spec.outcome).effect
    coefficients = []
    for name, model in ((CLINICAL, models.clinical), (FUSED, models.fused)):
        if model is not None:
            p_column = "p_value" if "p_value" in model.table else "p"  # a Cox model's table names it p
            columns = [c for c in ("coef", effect, f"{effect}_lower", f"{effect}_upper", p_column, "p_note")
                       if c in model.table]
            table = model.table[columns].reset_index()
            table = table.assign(term=table["term"].map(lambda term: labelled_term(term, study.label)),
                                 **{p_column: table[p_column].map(format_p)}).round(4)
            coefficients.append(table.assign(model=labels[name]))
    return coefficients


def _tables(study: Study, models: StudyModels, predictions: pd.DataFrame,
            screening: Mapping[str, ScreeningResult], externals: Sequence[ExternalCohort],
            validation: InternalValidation | None, evaluation: Any, flow: ParticipantFlow, facts: StudyFacts,
            explanations: Mapping[str, Any] | None = None) -> tuple[dict[str, pd.DataFrame], dict[str, list[str]]]:
    """Every table of the report by section, and the sentences above them (the performance sections in the
    outcome type's own measures: :func:`report_kind`; the participant ``flow``; the checklists answered from
    ``facts``)."""
    kind = report_kind(study)
    labels = study.model_labels()
    performance, performance_texts = kind.performance(study, models, predictions, evaluation)
    funnel = pd.concat([result.funnel.assign(family=study.family_label(family)) for family, result in
                        screening.items()], ignore_index=True)[["family", "step", "n_features"]] if screening \
        else pd.DataFrame()
    coefficients = _coefficients(study, models)
    # One row per selected feature with its IBSI tag and measured compliance, so a reviewer can check each.
    selected = pd.concat([feature_ibsi_tags(study, score.variables).reset_index().assign(score=labels[family])
                          for family, score in models.scores.items()], ignore_index=True) if models.scores else \
        pd.DataFrame()
    if not selected.empty:
        selected = selected[["score", "feature", "ibsi_tag", "ibsi"]].rename(
            columns={"ibsi_tag": "IBSI tag", "ibsi": "IBSI compliance"})
    missing, missing_texts = _missing_section(study, models)
    sample_size = study_sample_size(study)
    internal, internal_texts = _validation_section(study, models, predictions, evaluation, validation)
    external, external_texts = kind.external(study, models, predictions, externals, evaluation)
    checklists, checklist_texts = _checklists_section(facts)
    tables = {"Missing values and exclusions": missing, "Columns never used as features": _never_features(study),
              "Table 1": _table_one(study), "Sample size": sample_size.table(),
              "Feature selection": funnel, "Selected features": selected,
              "Models": pd.concat(coefficients, ignore_index=True) if coefficients else pd.DataFrame(),
              **performance, "Participant flow": _flow_table(flow), "Internal validation": internal, **external,
              **checklists, "Settings": _settings_table(study), **_comparator_tables(study, models, explanations)}
    texts = {"Missing values and exclusions": missing_texts, "Sample size": sample_size.sentences(),
             "Feature selection": [] if screening else ["No feature family in this study."],
             "Models": [] if coefficients else [models.no_clinical and f"This study has {models.no_clinical}; its "
                                                "models are its scores (coefficients in the selected features)."
                                                or "No clinical or fused model."],
             # What the fits themselves reported (e.g. a model that did not converge): only when there is any.
             "Warnings": list(getattr(models, "warnings", ())),
             "Internal validation": internal_texts, "External cohorts": external_texts,
             "Participant flow": flow.sentences(), "Reporting checklists": checklist_texts}
    for section, sentences in performance_texts.items():  # the outcome type's sentences follow the shared ones
        texts[section] = [*texts.get(section, []), *sentences]
    return tables, texts


def _flow_table(flow: ParticipantFlow) -> pd.DataFrame:
    """The flow's boxes as the report prints them: events left empty where a stage does not count them."""
    table = flow.table()
    return table.assign(events=table["events"].astype(object).where(table["events"].notna(), ""))


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
            *report_kind(study).settings_rows(study)]
    return pd.DataFrame(rows, columns=["setting", "value"]).astype(str)


def _binary_settings(study: Study) -> list[tuple[str, object]]:
    return [("cut-off rule", study.evaluation.describe()),
            ("proportion CIs", PROPORTION_CIS[study.evaluation.proportion_ci])]


def _survival_settings(study: Study) -> list[tuple[str, object]]:
    return [("time unit", study.spec.outcome.time_unit),  # type: ignore[attr-defined]  # a SurvivalOutcome's
            ("horizons", _horizons_words(study)),
            ("risk groups", f"high above the training cohort's {_risk_split(study)}")]


# The report's body after the title, in order: (section, its texts' key, its tables, its figure).
_EXTERNAL_TABLES = ("External performance", "External calibration", "Patients outside the training range")


def _layout(study: Study, tables: dict[str, pd.DataFrame], texts: Mapping[str, list[str]],
            figures: Mapping[str, bytes]) -> list[tuple[str, list[str], tuple[str, ...]]]:
    """(heading, table names, figure keys) of every section in the order both formats print them (the study's
    outcome type's sections: :func:`report_kind`); the Warnings section (after the methods) only when the models
    reported any. A figure section shows its tables (above its figures) when the outcome type gives any, and the
    figures that were drawn."""
    kind = report_kind(study)
    order: list[tuple[str, list[str], tuple[str, ...]]] = []
    for section in ("Settings", *kind.table_sections):
        if section == "Missing values and exclusions" and texts.get("Warnings"):
            order.append(("Warnings", [], ()))
        if section == "Selected features" and tables[section].empty:
            continue
        extra = [t for t in kind.subtables.get(section, ()) if t in tables]
        order.append((section, [section, *extra], tuple(k for k in TABLE_FIGURES.get(section, ()) if k in figures)))
    order += [(section, [t for t in kind.subtables.get(section, ()) if t in tables],
               tuple(k for k in keys if k in figures)) for section, keys in kind.figures.items()]
    order += [("Internal validation", ["Internal validation"], ()),
              ("External cohorts", [t for t in _EXTERNAL_TABLES if t in tables], ()),
              ("Reporting checklists", [t for t in CHECKLIST_TABLES if t in tables], ())]
    return order



def _section_headings(anchors: pd.Series) -> list[str]:
    """Report section ids (a table's ``where`` column, :data:`SECTION_ANCHORS` values; "" for none) as headings."""
    headings = {anchor: heading for heading, anchor in SECTION_ANCHORS.items()}
    return [headings[anchor] if anchor else "" for anchor in anchors]


def _html_table(frame: pd.DataFrame) -> str:
    """``frame`` as an HTML table; its ``where`` column, when it has one (report section ids), as links to those
    sections (``<a href='#id'>heading</a>``)."""
    if "where" not in frame:
        return frame.to_html(index=False, na_rep="", border=0)
    shown = frame.astype(object).where(frame.notna(), "").map(lambda value: html.escape(str(value)))
    shown["where"] = [f"<a href='#{anchor}'>{html.escape(heading)}</a>" if anchor else ""
                      for anchor, heading in zip(frame["where"], _section_headings(frame["where"]), strict=True)]
    return shown.to_html(index=False, border=0, escape=False)


def _html(study: Study, paragraphs: list[str], tables: dict[str, pd.DataFrame], texts: dict[str, list[str]],
          figures: dict[str, bytes]) -> str:
    def image(key: str, alt: str) -> str:
        return f'<img alt="{alt}" src="data:image/png;base64,{base64.b64encode(figures[key]).decode()}">'

    body = [f"<h1>{html.escape(study.name)}</h1>",
            "<p class='note'>Synthetic sample data, not patient data.</p>" if study.is_sample else ""]
    for section, names, keys in _layout(study, tables, texts, figures):
        body.append(f"<a id='{section_anchor(section)}'></a><h2>{section}</h2>")
        if section == "Settings":
            body.append(tables["Settings"].to_html(index=False, border=0))
            body += [f"<a id='{section_anchor('Methods')}'></a><h2>Methods</h2>",
                     *(f"<p>{html.escape(p)}</p>" for p in paragraphs)]
            continue
        body += [f"<p>{html.escape(text)}</p>" for text in texts.get(section, [])]
        for name in names:
            if not tables[name].empty:
                if name != section:
                    body.append(f"<h3>{name}</h3>")
                body.append(_html_table(tables[name]))
        body += [image(key, section) for key in keys]
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


#: Relative PDF column widths of the checklist tables (:func:`_checklists_section`).
_PDF_WIDTHS = {"item": 1.0, "section": 2.2, "text": 4.5, "status": 1.6, "where": 2.0, "evidence": 5.5,
               "domain": 2.2, "part": 1.8, "number": 1.0, "question": 4.5, "answer": 1.6, "concern": 1.3,
               "reason": 5.0}


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
        if "where" in frame:  # report section ids: their headings on paper
            frame = frame.assign(where=_section_headings(frame["where"]))
        frame = frame.astype(object).where(frame.notna(), "").astype(str)  # an Int64 column takes no "" itself
        pdf.set_font("helvetica", size=6 if frame.shape[1] > 7 else 7)
        # The checklists' long texts get the room (relative widths); other tables share the width equally.
        widths = tuple(_PDF_WIDTHS[c] for c in frame.columns) if set(frame.columns) <= set(_PDF_WIDTHS) else None
        with pdf.table(line_height=3.5, text_align="LEFT", col_widths=widths) as grid:
            grid.row([_latin1(str(c)) for c in frame.columns])
            for row in frame.itertuples(index=False):
                grid.row([_latin1(str(v)) for v in row])

    # What must follow a heading on its page: a paragraph's first lines, a table's header and first rows.
    text_mm, table_mm = 14.0, 22.0
    wide = (*report_kind(study).wide_figures, "flow")

    def size(key: str) -> tuple[float, float]:
        """(width, height) in mm of a figure on the page: a figure taller than a page is scaled to fit one."""
        aspect = _png_aspect(figures[key])
        height = min((170 if key in wide else 110) * aspect, usable - 12)
        return height / aspect, height

    for section, names, keys in _layout(study, tables, texts, figures):
        if section == "Settings":
            heading(section, table_mm)
            table(tables["Settings"])
            heading("Methods", text_mm)
            for text in paragraphs:
                paragraph(text)
            continue
        section_texts = texts.get(section, [])
        shown = [n for n in names if not tables[n].empty]
        if keys and not section_texts and not shown:  # a figure straight under its heading
            heading(section, size(keys[0])[1] + 2)
        else:
            heading(section, text_mm if section_texts else table_mm if shown else text_mm)
        for text in section_texts:
            paragraph(text)
        for name in shown:
            if name != section:
                heading(name, table_mm, size=10)
            table(tables[name])
        for key in keys:
            width, height = size(key)
            if pdf.get_y() + height > pdf.page_break_trigger:
                pdf.add_page()
            pdf.set_x(pdf.l_margin)
            pdf.image(io.BytesIO(figures[key]), w=width, h=height)
    return bytes(pdf.output())


def build_report(study: Study, models: StudyModels, predictions: pd.DataFrame, *,
                 screening: Mapping[str, ScreeningResult] | None = None,
                 externals: Sequence[ExternalCohort] = (), validation: InternalValidation | None = None,
                 evaluation: StudyEvaluation | SurvivalEvaluation | None = None, facts: StudyFacts | None = None,
                 explanations: Mapping[str, Any] | None = None, compress: bool = True) -> Report:
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
    evaluation : StudyEvaluation or SurvivalEvaluation, optional
        The study's evaluation (:func:`core.workflows.evaluation.evaluate_study` of these models and
        predictions under the study's evaluation settings), computed here when not given: Table 2, the
        AUCs and the ROC, calibration and decision curves (a time-to-event study's C-indices, AUC(t), risk
        groups, calibration and decision curves at its horizons) are read from it.
    facts : StudyFacts, optional
        What the run knows, for the reporting checklists (:func:`study_facts` of
        the study's results, these ``externals`` and ``validation``); gathered here from the study and ``models``
        when not given.
    explanations : mapping, optional
        Model -> SHAP :class:`~core.stats.explanations.Explanation` (:func:`core.workflows.explanations.
        study_explanations`), reported for a study with comparator learners; computed here when not given.
    compress : bool
        ``False`` keeps the PDF's text searchable (tests).
    """
    screening = dict(screening if screening is not None else models.screening)
    validation = validation if validation is not None else study_validation(study)
    evaluation = evaluation if evaluation is not None else evaluate_study(study, models, predictions)
    if facts is None:
        # study_facts reads a results object's study and models only: these, as given
        facts = study_facts(SimpleNamespace(study=study, models=models), externals, validation)
    paragraphs = methods_text(study, models)
    flow = participant_flow(study, externals)
    if explanations is None and models.comparators:
        from core.workflows.explanations import study_explanations  # shap's import only where it is needed

        explanations = study_explanations(study, models)
    tables, texts = _tables(study, models, predictions, screening, externals, validation, evaluation, flow, facts,
                            explanations)
    figures = {**report_kind(study).draw(study, models, predictions, evaluation), "flow": _flow_png(flow)}
    return Report(html=_html(study, paragraphs, tables, texts, figures),
                  pdf=_pdf(study, paragraphs, tables, texts, figures, compress), figures=figures)


# ---------------------------------------------------------------------------------------------
# A time-to-event study's tables (each number read from its SurvivalEvaluation)
# ---------------------------------------------------------------------------------------------


def _interval(estimate: float, low: float, high: float, digits: int = 3) -> str:
    """'estimate (low-high)'; '' when the estimate is missing (a horizon left out: said in the notes)."""
    if not np.isfinite(estimate):
        return ""
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{estimate:.{digits}f}"
    between = " to " if low < 0 else "-"  # "-0.079 to -0.034", never "-0.079--0.034"
    return f"{estimate:.{digits}f} ({low:.{digits}f}{between}{high:.{digits}f})"


def _intervals(frame: pd.DataFrame, estimate: str, low: str, high: str, digits: int = 3) -> list[str]:
    return [_interval(float(e), float(lo), float(hi), digits)
            for e, lo, hi in zip(frame[estimate], frame[low], frame[high], strict=True)]


def _named(study: Study, frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """``frame``'s cohort and model columns in words (a cohort not of the study, an external one, as named)."""
    labels = study.model_labels()
    named = frame[list(columns)].copy()
    if "cohort" in named:
        named["cohort"] = named["cohort"].map(lambda c: COHORTS.get(c, c))
    for column in [c for c in ("model", "model_a", "model_b") if c in named]:
        named[column] = named[column].map(lambda m: labels.get(m, m))
    return named


def _horizon_label(evaluation: SurvivalEvaluation, horizon: float) -> str:
    return f"{float(horizon):g} {evaluation.time_unit}"


def _survival_table2(study: Study, evaluation: SurvivalEvaluation) -> pd.DataFrame:
    """Table 2 of a time-to-event study (:meth:`SurvivalEvaluation.table2`) for reading: per cohort and model,
    Harrell's and Uno's C and the time-dependent AUC at each horizon with their 95 % CIs, and the risk-group
    cut-off on the linear predictor."""
    table2 = evaluation.table2()
    shown = _named(study, table2, "cohort", "model", "n", "events")
    shown["Harrell's C (95 % CI)"] = _intervals(table2, "c_index", "c_low", "c_high")
    shown["Uno's C (95 % CI)"] = _intervals(table2, "uno_c", "uno_low", "uno_high")
    for horizon in evaluation.horizons:
        suffix = horizon_text(horizon)
        shown[f"AUC({_horizon_label(evaluation, horizon)}) (95 % CI)"] = _intervals(
            table2, f"auc_{suffix}", f"auc_low_{suffix}", f"auc_high_{suffix}")
    shown["cut-off (linear predictor)"] = table2["cutoff"].round(3)
    return shown


def _survival_cutoff_table(study: Study, evaluation: SurvivalEvaluation) -> pd.DataFrame:
    """Per cohort, model and horizon at the risk-group cut-off: sensitivity, specificity, PPV, NPV (IPCW) and the
    high-risk group's Kaplan-Meier event rate by the horizon with its 95 % CI."""
    metrics = evaluation.cutoff_metrics
    shown = _named(study, metrics, "cohort", "model")
    shown["horizon"] = [_horizon_label(evaluation, h) for h in metrics["horizon"]]
    for column, title in (("sensitivity", "sensitivity"), ("specificity", "specificity"), ("ppv", "PPV"),
                          ("npv", "NPV")):
        shown[title] = metrics[column].astype(float).round(3)
    shown["high-risk event rate (95 % CI)"] = _intervals(metrics, "high_event_rate", "high_event_rate_low",
                                                         "high_event_rate_high")
    return shown


def _survival_comparisons(study: Study, evaluation: SurvivalEvaluation) -> pd.DataFrame:
    pairs = evaluation.comparisons
    shown = _named(study, pairs, "cohort", "model_a", "model_b")
    shown["difference in Harrell's C (95 % CI)"] = _intervals(pairs, "difference", "low", "high")
    shown["p"] = pairs["p"].map(format_p)
    shown["p (Holm)"] = pairs["p_holm"].map(format_p)
    return shown.rename(columns={"model_a": "model A", "model_b": "model B"})


def _median_text(row: pd.Series) -> str:
    """A risk group's median time to the event with its CI; 'not reached' where the curve stays above 0.5."""
    if not np.isfinite(row["median"]):
        return "not reached"
    low = f"{row['median_low']:.1f}" if np.isfinite(row["median_low"]) else "NA"
    high = f"{row['median_high']:.1f}" if np.isfinite(row["median_high"]) else "NA"
    return f"{row['median']:.1f} ({low}-{high})"


def _survival_risk_groups(study: Study, evaluation: SurvivalEvaluation) -> pd.DataFrame:
    groups = evaluation.risk_groups
    shown = _named(study, groups, "cohort", "model")
    shown["group"] = groups["group"].map(RISK_GROUPS)
    shown["n"], shown["events"] = groups["n"], groups["events"]
    shown[f"median time ({evaluation.time_unit}, 95 % CI)"] = [_median_text(row) for _, row in groups.iterrows()]
    shown["log-rank p"] = groups["logrank_p"].map(format_p)
    shown["HR high vs low (95 % CI)"] = _intervals(groups, "hr", "hr_low", "hr_high", 2)
    return shown


def _survival_calibration(study: Study, evaluation: SurvivalEvaluation) -> pd.DataFrame:
    """Per cohort, model and horizon: calibration slope and observed / expected ratio (95 % CIs), the flexible
    calibration's ICI, E50, E90 and Emax (Austin et al. 2020), IPCW Brier score (95 % CI) and the Kaplan-Meier null
    model's."""
    keys = ["cohort", "model", "horizon"]
    merged = evaluation.calibration_slope.merge(evaluation.brier, on=keys, how="outer")
    # The evaluation's order (an outer merge sorts its keys as text): cohorts, then models, then horizons.
    cohorts, models = list(evaluation.cohorts), list(evaluation.models)
    merged = merged.assign(_c=merged["cohort"].map(cohorts.index), _m=merged["model"].map(models.index)).sort_values(
        ["_c", "_m", "horizon"], kind="stable", ignore_index=True)
    shown = _named(study, merged, "cohort", "model")
    shown["horizon"] = [_horizon_label(evaluation, h) for h in merged["horizon"]]
    shown["calibration slope (95 % CI)"] = _intervals(merged, "slope", "slope_low", "slope_high")
    shown["observed / expected (95 % CI)"] = _intervals(merged, "observed_expected", "oe_low", "oe_high")
    for column, name in (("ici", "ICI"), ("e50", "E50"), ("e90", "E90"), ("emax", "Emax")):
        shown[name] = merged[column].astype(float).round(3)  # the flexible calibration's errors in risk
    shown["Brier (95 % CI)"] = _intervals(merged, "brier", "brier_low", "brier_high")
    shown["Brier, null model"] = merged["null_brier"].astype(float).round(3)
    return shown


def _survival_ibs(study: Study, evaluation: SurvivalEvaluation) -> pd.DataFrame:
    ibs = evaluation.ibs
    shown = _named(study, ibs, "cohort", "model")
    shown["up to"] = [_horizon_label(evaluation, t) for t in ibs["ibs_to"]]
    shown["integrated Brier score"] = ibs["ibs"].astype(float).round(4)
    shown["null model"] = ibs["null_ibs"].astype(float).round(4)
    shown["times"] = ibs["grid_points"]
    return shown


def _survival_proportional_hazards(study: Study, models: StudyModels) -> tuple[pd.DataFrame, list[str]]:
    """The clinical and fused Cox models' proportional-hazards check (cox.zph: chi-square, df, p per term and
    GLOBAL), and what it says."""
    labels = study.model_labels()
    rows, texts = [], []
    for name, model in ((CLINICAL, models.clinical), (FUSED, models.fused)):
        check = getattr(model, "ph_check", None)
        if model is None or check is None or not len(check):
            continue
        rows.append(check.assign(model=labels[name], term=check["term"].map(
            lambda term: term if term == "GLOBAL" else labelled_term(term, study.label)),
            chisq=check["chisq"].astype(float).round(3), p=check["p"].map(format_p))[["model", "term", "chisq",
                                                                                        "df", "p"]])
        warning = getattr(model, "ph_warning", "")
        if warning:
            texts.append(f"{labels[name]}: {warning}")
    if rows and not texts:
        texts.append("No term of the clinical or fused model departs from proportional hazards at the 5 % level "
                     "(survival::cox.zph, scaled Schoenfeld residuals against the Kaplan-Meier time transform).")
    return (pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()), texts


def _survival_performance(study: Study, models: StudyModels, predictions: pd.DataFrame, evaluation: Any
                          ) -> tuple[dict[str, pd.DataFrame], dict[str, list[str]]]:
    """A time-to-event study's performance tables (Table 2 and those of its figure sections) and their
    sentences, every number read from its :class:`SurvivalEvaluation`."""
    evaluation = cast(SurvivalEvaluation, evaluation)
    unit, last = evaluation.time_unit, _horizon_label(evaluation, evaluation.horizons[-1])
    evaluated = COHORTS[list(study.cohorts())[-1]].lower()
    proportional, proportional_texts = _survival_proportional_hazards(study, models)
    tables = {"Table 2": _survival_table2(study, evaluation),
              "At the risk-group cut-off": _survival_cutoff_table(study, evaluation),
              "Comparisons of Harrell's C": _survival_comparisons(study, evaluation),
              "Risk groups": _survival_risk_groups(study, evaluation),
              "Calibration at the horizons": _survival_calibration(study, evaluation),
              "Integrated Brier score": _survival_ibs(study, evaluation),
              "Proportional-hazards check": proportional,
              "Participants": _participants(study)}
    main = study.model_label(models.main_model)
    texts = {
        "Participants": [f"Outcome: {study.spec.outcome.describe()}. Follow-up in {unit}; median follow-up by the "
                         "reverse Kaplan-Meier method, median time to the event and event-free proportions by "
                         "Kaplan-Meier, with 95 % confidence intervals."],
        "Models": ["Coefficients are log hazard ratios; HR is the hazard ratio per unit of each predictor (per level "
                   "against the reference for a categorical one) with its 95 % Wald interval.", *proportional_texts],
        "Table 2": [f"Harrell's C-index and Uno's C (truncated at {last}) of each model's linear predictor, and the "
                    "time-dependent AUC at each horizon (IPCW, cumulative / dynamic), with 95 % confidence "
                    "intervals. Risk groups: high when the linear predictor is above the cut-off, the training "
                    f"cohort's {_risk_split(study)}, applied unchanged to every other cohort.", *evaluation.notes],
        "Kaplan-Meier curves by risk group": [
            f"Kaplan-Meier curves of the {main}'s low- and high-risk groups in each cohort with 95 % confidence "
            "bands and the number at risk; the table gives every model's groups with the median time to the event, "
            "the log-rank test and the Cox hazard ratio of high vs low risk."],
        "Time-dependent ROC curves": [
            f"Time-dependent ROC curves of every model at each horizon in the {evaluated} cohort (cases: the event "
            "by the horizon; controls: event-free beyond it; inverse-probability-of-censoring weights); AUC(t) "
            "with its 95 % CI in the legend."],
        "Time-dependent AUC": [f"AUC(t) of every model at each horizon in the {evaluated} cohort with 95 % "
                               "confidence intervals (Table 2 gives every cohort)."],
        "Calibration": [f"Predicted survival against Kaplan-Meier observed survival at each horizon in quintiles of "
                        f"predicted survival, {evaluated} cohort; the tables give every model and cohort."],
        "Decision curves": [f"Net benefit at each horizon in the {evaluated} cohort, the threshold being the risk of "
                            "the event by the horizon (1 - predicted survival); treat-all from the Kaplan-Meier "
                            "risk. A gap: thresholds where the net benefit is undefined (see the notes of Table 2)."]}
    return tables, texts


def _participants(study: Study) -> pd.DataFrame:
    """The outcome in the training and test cohorts (:func:`core.stats.cohort.outcome_summary`): patients, events,
    censored, median follow-up (reverse Kaplan-Meier), median time to the event, event-free at the horizons."""
    summary = outcome_summary(study.cohort_table(), study.spec, study.split)
    return summary.drop(columns=["statistic"]).rename(columns={"label": "outcome"})


def _survival_discrimination(study: Study, models: StudyModels, predictions: pd.DataFrame, evaluation: Any
                             ) -> pd.DataFrame:
    return discrimination_table(study, predictions, models.model_names)


def _binary_discrimination(study: Study, models: StudyModels, predictions: pd.DataFrame, evaluation: Any
                           ) -> pd.DataFrame:
    return cast(StudyEvaluation, evaluation).auc_table()


def _binary_external(study: Study, models: StudyModels, predictions: pd.DataFrame,
                     externals: Sequence[ExternalCohort], evaluation: Any) -> tuple[dict[str, pd.DataFrame], list[str]]:
    return _external_section(study, models, predictions, externals, cast(StudyEvaluation, evaluation).cutoffs)


def _survival_external(study: Study, models: StudyModels, predictions: pd.DataFrame,
                       externals: Sequence[ExternalCohort], evaluation: Any
                       ) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Each external cohort scored by the frozen models, its risk groups at the training cut-offs: C-indices and
    AUC(t) (as Table 2), calibration and Brier score at the horizons."""
    if not externals:
        return _external_section(study, models, predictions, externals, {})
    evaluation = cast(SurvivalEvaluation, evaluation)
    outcome = study.spec.outcome
    texts = [f"{e.name}: {len(e.cohort)} patients, {e.n_events(outcome)} with the event '{outcome.event_label}'; "
             "scored by the frozen models (nothing refitted), the risk groups split at the training cohort's cut-offs."
             + "".join(f" {note}" for note in getattr(e, "notes", ())) for e in externals]
    # As the External validation page evaluates them: the training cut-offs, every cohort's own horizons' checks.
    panel = evaluate_survival_panel(study, models, predictions, externals, cohorts=[e.name for e in externals])
    texts += list(panel.notes)
    return _outside_range_section(study, models, externals, {"External performance": _survival_table2(study, panel)},
                                  texts)


# ---------------------------------------------------------------------------------------------
# What each outcome type's report says and shows
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportKind:
    """The report of one outcome kind: its sections and the builders of what differs between kinds (the other
    sections are the same for every study).

    Attributes
    ----------
    sections : tuple of str
        Every heading in order (what a reader and the tests look for).
    table_sections : tuple of str
        The table sections after the methods, in order (``Selected features`` only when there are some).
    subtables : mapping
        Section -> the further tables shown under it (each when the section builders made it).
    figures : mapping
        Figure section -> figure keys, in order after the table sections (those drawn are shown).
    wide_figures : tuple of str
        Figure keys drawn across the PDF page (170 mm; the others 110 mm).
    test_words, lasso_words, nomogram_words, measures_text : callable
        The methods' words: a univariable test's name, the LASSO of the screening (its settings), what the
        nomogram shows beyond its points (the study), the performance measures (the study).
    performance_words, apparent_words : str
        TRIPOD item 10d's "where in this report"; the training measures a study without a test cohort overstates.
    performance : callable
        ``(study, models, predictions, evaluation) -> (tables, texts)``: Table 2 and the kind's other tables by
        name, sentences by section.
    draw : callable
        ``(study, models, predictions, evaluation) -> {figure key: PNG bytes}``.
    discrimination : callable
        ``(study, models, predictions, evaluation) -> DataFrame``: the apparent (and test) discrimination that
        :func:`core.workflows.validation.validation_table` sets beside the internal validation.
    external : callable
        ``(study, models, predictions, externals, evaluation) -> (tables, texts)``: the External cohorts section.
    settings_rows : callable
        ``(study) -> [(setting, value)]``: the evaluation settings at the end of the Settings table.
    """

    sections: tuple[str, ...]
    table_sections: tuple[str, ...]
    subtables: Mapping[str, tuple[str, ...]]
    figures: Mapping[str, tuple[str, ...]]
    wide_figures: tuple[str, ...]
    test_words: Callable[[str], str]
    lasso_words: Callable[[Any], str]
    nomogram_words: Callable[[Study], str]
    measures_text: Callable[[Study], str]
    performance_words: str
    apparent_words: str
    performance: Callable[[Study, StudyModels, pd.DataFrame, Any],
                          tuple[dict[str, pd.DataFrame], dict[str, list[str]]]]
    draw: Callable[[Study, StudyModels, pd.DataFrame, Any], dict[str, bytes]]
    discrimination: Callable[[Study, StudyModels, pd.DataFrame, Any], pd.DataFrame]
    external: Callable[[Study, StudyModels, pd.DataFrame, Sequence[ExternalCohort], Any],
                       tuple[dict[str, pd.DataFrame], list[str]]]
    settings_rows: Callable[[Study], list[tuple[str, object]]] = field(default=_binary_settings)


REPORT_KINDS: dict[str, ReportKind] = {
    "binary": ReportKind(
        sections=SECTIONS, table_sections=TABLE_SECTIONS,
        subtables={"Missing values and exclusions": ("Columns never used as features",),
                   "Models": COMPARATOR_TABLES,
                   "Calibration": ("Calibration statistics",),
                   "Decision curves": ("Net benefit at selected thresholds",),
                   "Reclassification": ("Reclassification",)},
        figures={"ROC curves": ("roc",), "Calibration": ("calibration",), "Decision curves": ("decision",),
                 "Reclassification": (), "Nomogram": ("nomogram",)}, wide_figures=("roc", "nomogram"),
        test_words=lambda test: UNIVARIABLE_TESTS[test],
        lasso_words=lambda s: (f"LASSO logistic regression (standardised features, {s.n_folds}-fold stratified "
                               f"cross-validation on binomial deviance, lambda.{s.rule})"),
        nomogram_words=lambda study: "", measures_text=_binary_measures,
        performance_words="Table 2, ROC, calibration and decision curves", apparent_words="AUCs",
        performance=_binary_performance, draw=_figures, discrimination=_binary_discrimination,
        external=_binary_external, settings_rows=_binary_settings),
    "survival": ReportKind(
        sections=SURVIVAL_SECTIONS,
        table_sections=("Missing values and exclusions", "Participant flow", "Participants", *TABLE_SECTIONS[2:]),
        subtables={"Missing values and exclusions": ("Columns never used as features",),
                   "Models": ("Proportional-hazards check", *COMPARATOR_TABLES),
                   "Table 2": ("At the risk-group cut-off", "Comparisons of Harrell's C"),
                   "Kaplan-Meier curves by risk group": ("Risk groups",),
                   "Calibration": ("Calibration at the horizons", "Integrated Brier score")},
        figures={"Kaplan-Meier curves by risk group": ("km_train", "km_test"),
                 "Time-dependent ROC curves": ("td_roc",), "Time-dependent AUC": ("td_auc",),
                 "Calibration": ("calibration",), "Decision curves": ("decision",), "Nomogram": ("nomogram",)},
        wide_figures=("td_roc", "calibration", "decision", "nomogram"),
        test_words=lambda test: UNIVARIABLE_TESTS[test].replace("Univariable", "univariable"),
        lasso_words=lambda s: (f"LASSO-Cox regression (glmnet's cv.glmnet with family = \"cox\": standardised "
                               f"features, {s.n_folds}-fold cross-validation with folds stratified by event on the "
                               f"partial-likelihood deviance, lambda.{s.rule})"),
        nomogram_words=_survival_nomogram_words, measures_text=_survival_measures,
        performance_words="Table 2 (C-index, time-dependent AUC), Kaplan-Meier curves by risk group, time-dependent "
                          "ROC curves, calibration and decision curves at each horizon",
        apparent_words="C-indices and time-dependent AUCs",
        performance=_survival_performance, draw=_survival_figures, discrimination=_survival_discrimination,
        external=_survival_external, settings_rows=_survival_settings),
}


def report_kind(study: Study) -> ReportKind:
    """What the report of ``study``'s outcome kind says and shows (:data:`REPORT_KINDS`)."""
    kind = study.spec.outcome.kind
    if kind not in REPORT_KINDS:
        raise RadNomoError(f"no report is declared for the outcome kind '{kind}'; reports exist for "
                           f"{', '.join(REPORT_KINDS)}.")
    return REPORT_KINDS[kind]
