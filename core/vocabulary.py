"""RadNomo's vocabulary: every name of a model, option and cohort, with its label, declared once.

Pages, the report, downloads and the command lines take their option lists and labels from here,
and :func:`check_option` validates a value against its list with a message that names the allowed
values (statsmodels' ``string_like(..., options=...)``). The p-value formatter used everywhere is
:func:`format_p`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from core.errors import RadNomoError

__all__ = ["CLINICAL", "FUSED", "SCORE_SUFFIX", "RESERVED_NAMES", "score_column", "family_of_score",
           "SCORE_METHODS", "UNIVARIABLE_TESTS", "CORRELATION_METHODS", "LASSO_RULES", "CUTOFF_RULES",
           "PROPORTION_CIS", "FEATURE_KINDS", "COHORTS", "MISSING_STRATEGIES", "SCREENING_METHODS",
           "VARIANCE_SCALES", "SUBGROUP_POPULATIONS", "check_option", "check_name",
           "format_p", "format_number", "format_interval", "MIN_PER_GROUP", "ROW_ID_COLUMN",
           "OUTSIDE_RANGE", "CALIBRATION_SUBSETS"]

# The two models every study has (the fused one when it has a score); each feature family adds its score.
CLINICAL = "clinical"
FUSED = "fused"
SCORE_SUFFIX = "_score"
RESERVED_NAMES = (CLINICAL, FUSED)


def score_column(family: str) -> str:
    """The column that holds a family's score (log-odds), e.g. ``radiomics_score``."""
    return f"{family}{SCORE_SUFFIX}"


def horizon_text(horizon: float) -> str:
    """A horizon as written in column names and words: ``12`` for 12.0, ``36.5`` (shortest exact form)."""
    value = float(horizon)
    return str(int(value)) if value.is_integer() else repr(value)


def horizon_column(horizon: float, bound: str = "") -> str:
    """A model's predicted survival at ``horizon``: ``surv_12``; ``bound`` "low" / "high" names its interval's
    limits (``surv_12_low``)."""
    return f"{SURVIVAL_PREFIX}{horizon_text(horizon)}" + (f"_{bound}" if bound else "")


def survival_column(model: str, horizon: float) -> str:
    """The study predictions' column of ``model``'s predicted survival at ``horizon`` (a time-to-event study),
    e.g. ``fused@surv_36``; the model's own column holds its linear predictor."""
    return f"{model}@{horizon_column(horizon)}"


SURVIVAL_PREFIX = "surv_"  # predicted survival columns: surv_<horizon>
__all__ += ["horizon_text", "horizon_column", "survival_column", "SURVIVAL_PREFIX"]


def family_of_score(column: str) -> str | None:
    """The family of a score column (``dl_radiomics_score`` -> ``dl_radiomics``), None for other columns."""
    return column[: -len(SCORE_SUFFIX)] if column.endswith(SCORE_SUFFIX) else None


SCORE_METHODS = {"refit": "Logistic regression refitted on the selected features",
                 "lasso": "The LASSO's own (shrunken) coefficients",
                 "ridge": "Ridge (L2-penalised) logistic regression on the selected features, penalty by CV",
                 # time-to-event outcomes (core.stats.learners.cox): over a LASSO-Cox's selected features
                 "cox_refit": "Cox regression refitted on the selected features",
                 "cox_lasso": "The LASSO-Cox's own (shrunken) coefficients"}
# The roles a study's fitted models fill (core.workflows.fit.StudyModels); a study may hold any number of each.
SCORE_ROLE = "score"
COMPARATOR_ROLE = "comparator"
MODEL_ROLES = {SCORE_ROLE: "Score (a feature family's signature)", CLINICAL: "Clinical model",
               FUSED: "Fused model (a score + the clinical predictors)",
               COMPARATOR_ROLE: "Comparator (another learner on a family's features)"}
# The comparator learners (core.stats.learners: the registry's learners of the comparator role, same names and
# labels): each fits a family's features beside its score, its hyper-parameters tuned by inner cross-validation on
# the training patients; its model is named comparator_name(family, learner), e.g. ``mri_random_forest``.
COMPARATOR_METHODS = {"random_forest": "Random forest",
                      "svm": "Support vector machine (RBF kernel, Platt-calibrated)",
                      "xgboost": "Gradient boosting (XGBoost)",
                      "elastic_net": "Elastic-net logistic regression",
                      # time-to-event outcomes (core.stats.learners.boosted_cox)
                      "boosted_cox": "Gradient-boosted Cox (scikit-survival)"}
# Which of a family's features a comparator fits: the LASSO's selection (the score's own features), or every
# feature that passed the screening's filters before the LASSO (the learner then selects for itself).
COMPARATOR_FEATURES = {"selected": "The features the family's LASSO selected (the score's features)",
                       "screened": "Every feature that passed the screening filters (before the LASSO)"}


def comparator_name(family: str, learner: str) -> str:
    """The model name of ``learner``'s comparator on ``family``'s features, e.g. ``mri_random_forest``."""
    return f"{family}_{learner}"


__all__ += ["SCORE_ROLE", "COMPARATOR_ROLE", "MODEL_ROLES", "COMPARATOR_METHODS", "COMPARATOR_FEATURES",
            "comparator_name"]
# The binary outcome's tests, then the time-to-event outcome's (each outcome type offers its own: see
# core.stats.selection.OutcomeScreening.tests).
UNIVARIABLE_TESTS = {"student": "t-test (Student)", "welch": "t-test (Welch)", "mannwhitney": "Mann-Whitney U",
                     "cox_wald": "Univariable Cox (Wald)", "cox_lr": "Univariable Cox (likelihood ratio)"}
CORRELATION_METHODS = {"spearman": "Spearman", "pearson": "Pearson", "kendall": "Kendall"}
LASSO_RULES = {"1se": "lambda.1se", "min": "lambda.min"}
# What the LASSO-Cox cross-validation scores each lambda by (glmnet's type.measure for family = "cox").
LASSO_COX_MEASURES = {"deviance": "Partial-likelihood deviance", "C": "Harrell's C"}
__all__ += ["LASSO_COX_MEASURES"]
CUTOFF_RULES = {"youden": "Youden index (training)", "fixed": "Fixed probability",
                "sensitivity": "Target sensitivity (training)"}
PROPORTION_CIS = {"wald": "Wald (study)", "wilson": "Wilson"}
FEATURE_KINDS = {"radiomics": "radiomics features extracted here (pyradiomics settings recorded)",
                 "deep": "autoencoder latent features (weights recorded)",
                 "imported": "a feature table computed elsewhere"}
# The radiomics extraction engines (core.imaging.extraction.engines holds one type per name).
EXTRACTION_ENGINES = {"pyradiomics": "pyradiomics (the study's)", "mirp": "MIRP (IBSI-compliant by design)"}
__all__ += ["EXTRACTION_ENGINES"]
COHORTS = {"train": "Training", "test": "Test"}
# Calibration statistics' columns (core.stats.calibration.calibration_summary, the evaluation's calibration table) in
# words. The two intercepts differ: calibration-in-the-large has the logit as offset (slope fixed at 1); the
# recalibration's goes with its slope.
CALIBRATION_COLUMNS = {"citl": "calibration-in-the-large",
                       "intercept": "calibration intercept (logistic recalibration)", "slope": "calibration slope",
                       "ici": "ICI", "e50": "E50", "e90": "E90", "emax": "Emax",
                       "spiegelhalter_z": "Spiegelhalter z", "spiegelhalter_p": "Spiegelhalter p",
                       "brier": "Brier score", "hl_statistic": "Hosmer-Lemeshow χ² (secondary)", "hl_p": "HL p"}
# p-values of features a LASSO selected on the same patients (and of the score built from them) are optimistic.
POST_SELECTION_NOTE = "post-selection: not for inference"
POST_SELECTION_P = "p (post-selection, not for inference)"
__all__ += ["CALIBRATION_COLUMNS", "POST_SELECTION_NOTE", "POST_SELECTION_P"]
# Concordance of a risk with a time-to-event outcome (core.stats.survival.concordance): survival's timewt names.
CONCORDANCE_WEIGHTINGS = {"n": "Harrell's C", "n/G2": "Uno's C (censoring-weighted)"}
__all__ += ["CONCORDANCE_WEIGHTINGS"]
# Tie handling of a Cox model (core.stats.survival.cox): coxph's ``ties`` names.
COX_TIES = {"efron": "Efron (coxph's default)", "breslow": "Breslow"}
__all__ += ["COX_TIES"]
# Risk groups of a survival model at its training cut-off on the linear predictor (core.workflows.survival_evaluation):
# "high" = strictly above the cut-off. Keys are the table values, lower risk first.
RISK_GROUPS = {"low": "Low risk", "high": "High risk"}
__all__ += ["RISK_GROUPS"]
# Calibration of survival at a horizon (core.stats.survival.calibration) and a Cox nomogram's extra axes
# (core.stats.survival.nomogram), in words; "{horizon}" is the time with its unit.
SURVIVAL_CALIBRATION_COLUMNS = {"predicted": "mean predicted survival", "observed": "observed survival (Kaplan-Meier)",
                                "slope": "calibration slope (Cox model on log(-log predicted survival))",
                                "observed_expected": "observed / expected risk"}
COX_NOMOGRAM_AXES = {"survival": "Probability of surviving {horizon}", "median_time": "Median survival time"}
__all__ += ["SURVIVAL_CALIBRATION_COLUMNS", "COX_NOMOGRAM_AXES"]
# The discrimination measures internal validation reports (core.stats.discrimination), as its tables' `measure`
# column names them; "{horizon}" is the horizon as in column names (horizon_text), in the outcome's time unit.
DISCRIMINATION_MEASURES = {"auc": "AUC", "c_index": "C-index", "td_auc": "AUC(t={horizon})"}
__all__ += ["DISCRIMINATION_MEASURES"]
# Patients whose features lie far outside the training range, or whose risk is 0 or 1 to 1e-6 (core.workflows.external).
OUTSIDE_RANGE = "outside the training range"
# External calibration is shown on every patient and again without those outside the training range.
CALIBRATION_SUBSETS = {"all": "All patients", "within": f"Without the patients {OUTSIDE_RANGE}"}
# The ID column a table without IDs gets ("use row numbers as IDs"): its rows numbered "1".."n" as text, so
# a clinical and a feature table without IDs are matched row by row.
ROW_ID_COLUMN = "row"
MISSING_STRATEGIES = {"median": "Impute the training median (mode for categories)",
                      "mean": "Impute the training mean (mode for categories)",
                      "none": "Impute nothing (a missing value stops the analysis, with its count)"}
# The screening funnels the field uses; each runs on the training cohort and is refitted inside validation.
SCREENING_METHODS = {
    "study": "The study's: variance, redundancy, univariable test, LASSO",
    "test_first": "Univariable test before redundancy, then LASSO",
    "auc": "Univariable discrimination filter (AUC or C-index), redundancy, LASSO",
    "mrmr": "mRMR (relevance minus redundancy), then LASSO",
    "lasso": "LASSO alone (after the variance filter)",
}
VARIANCE_SCALES = {"raw": "raw values (the study's)", "minmax": "each feature scaled to 0-1 (training range)"}
SUBGROUP_POPULATIONS = {"events": "Patients with the event", "all": "All patients"}
# The kinds of outcome a study can have (core.stats.outcomes.OUTCOME_TYPES holds one type per name) and the
# display names of "no event" / "event" when the user gives none.
OUTCOME_KINDS = {"binary": "Binary (0/1, 1 = event)", "survival": "Time to event (time + event 1/0)"}
DEFAULT_OUTCOME_LABELS = ("no event", "event")
# The rows of a cohort's outcome summary (core.stats.outcomes.Outcome.summary; {unit} and {horizon} are filled
# in by a time-to-event outcome).
OUTCOME_SUMMARY_ROWS = {
    "patients": "Patients, n",
    "events": "Events, n (%)",
    "censored": "Censored, n (%)",
    "follow_up_median": "Median follow-up, {unit} (reverse Kaplan-Meier) [95% CI]",
    "follow_up_range": "Follow-up, {unit}: range",
    "median_time": "Median time to event, {unit} (Kaplan-Meier) [95% CI]",
    "event_free": "Event-free at {horizon} (Kaplan-Meier), % [95% CI]",
}
__all__ += ["OUTCOME_KINDS", "DEFAULT_OUTCOME_LABELS", "OUTCOME_SUMMARY_ROWS"]
# What Riley's minimum sample size (core.workflows.sample_size) anticipates of the model's performance; a C-statistic
# converts to a Cox-Snell R² for a binary outcome only (core.workflows.sample_size.anticipation_options).
SAMPLE_SIZE_ANTICIPATION = {"default": "Conservative default (Nagelkerke R\u00b2 0.15)",
                            "cstatistic": "Anticipated C-statistic", "rsquared": "Anticipated Cox-Snell R\u00b2"}
__all__ += ["SAMPLE_SIZE_ANTICIPATION"]
# Below this many patients in a group, a comparison of groups is flagged as resting on too few patients.
MIN_PER_GROUP = 10

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def check_option(what: str, value: object, options: Mapping[str, str] | tuple | list) -> None:
    """Raise :class:`RadNomoError` unless ``value`` is one of ``options`` (the message lists them)."""
    if value not in options:
        allowed = ", ".join(map(str, options))
        raise RadNomoError(f"{what} '{value}' is not valid; possible values: {allowed}.")


def check_name(what: str, name: str) -> None:
    """A family's name: lower-case letters, digits and underscores, starting with a letter; not a model's name.

    Names become column names (``<name>_score``) and file names, so they are kept plain.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise RadNomoError(f"{what} name '{name}' is not valid: use 1-40 lower-case letters, digits or underscores, "
                           "starting with a letter (e.g. 'radiomics', 'deep', 'arterial_phase').")
    if name in RESERVED_NAMES:
        raise RadNomoError(f"{what} name '{name}' is taken by the {name} model; choose another.")


def format_p(p: float | None) -> str:
    """A p-value as every table of RadNomo prints it: '< 0.001', else three decimals; '' when not tested."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return ""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def format_number(value: float | None, digits: int = 3) -> str:
    """A statistic for display: fixed decimals, '' when missing (NaN or None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.{digits}f}"


def format_interval(estimate: float, low: float, high: float, digits: int = 3) -> str:
    """An estimate with its interval for display: ``'0.712 (0.661-0.763)'``, or ``'-0.05 (-0.08 to -0.03)'`` when a
    limit is negative (a dash would read as a minus); the estimate alone when a limit is missing; '' when the
    estimate is."""
    text = format_number(estimate, digits)
    bounds = format_number(low, digits), format_number(high, digits)
    if not (text and all(bounds)):
        return text
    return f"{text} ({bounds[0]} to {bounds[1]})" if low < 0 else f"{text} ({bounds[0]}-{bounds[1]})"

# How to read a binary model's calibration statistics and decision curves: the words of the Evaluation and External
# validation pages and of the report (one text, said the same way everywhere).
CALIBRATION_READING = (
    "Read in this order (Van Calster et al. 2016): calibration-in-the-large (0: right on average; > 0: predictions "
    "too low), the calibration slope (1: ideal; < 1: predictions too extreme, the sign of overfitting), then the "
    "flexible curve and its band. ICI is the mean absolute distance between the curve and the diagonal over the "
    "patients (E50 its median, E90 its 90th percentile, Emax its largest). On the training cohort the slope is 1 "
    "and the intercept 0 by construction for a model refitted there; internal validation gives their "
    "optimism-corrected values. The Hosmer-Lemeshow test depends on its arbitrary grouping and on the sample size "
    "and is a secondary check only.")
DECISION_READING = (
    "Net benefit at each threshold probability (the risk at which one would act), against treating everyone and "
    "no one; the bands are pointwise 95 % bootstrap intervals ({n_boot} resamples of the cohort's patients, seed "
    "{seed}). Net interventions avoided: per 100 patients, how many fewer interventions than treating everyone "
    "at the same net benefit; the standardized net benefit is the net benefit divided by the prevalence (1: "
    "every event found with no false positive).")
__all__ += ["CALIBRATION_READING", "DECISION_READING"]
