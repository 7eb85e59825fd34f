"""Teaching mode: plain-language explanations, the known truth behind the synthetic cohort, a fast
"what if" re-run of the pipeline on a freshly generated cohort, and the leakage demonstration.

What no real study can show: the sample cohort's generator knows each patient's hidden imaging
phenotype (``generator_truth.csv``) and how it depends on LM, so the best AUC any imaging model
could reach (the oracle) can be computed and set beside what the pipeline achieved.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.imaging.synthetic import PhenotypeEffects, generate_clinical
from core.stats.cohort import CohortSplit, SplitConfig
from core.stats.discrimination import measure_names, measures_for
from core.stats.summaries import auc_table
from core.workflows.fit import fit_models, fit_study, predict_study, prepare_tables, screen_family
from core.workflows.study import FeatureFamily, ModelSettings, Study, make_study

__all__ = ["Explanation", "EXPLANATIONS", "EXPLANATIONS_BY_KIND", "explanation_for", "WALKTHROUGH", "WalkStep",
           "TRAITS", "trait_effects", "oracle_scores", "oracle_auc", "FeatureEmulator", "sample_emulators",
           "WhatIfResult", "what_if", "leakage_demo", "leakage_measure", "held_out_discrimination"]

TRAITS = ("enhancement", "heterogeneity", "texture_scale", "necrosis", "margin", "extent", "infiltration")
# Synchronous share among LM patients in the study (192 of 312); the generator follows it.
SYNCHRONOUS_SHARE = 192 / 312


@dataclass(frozen=True)
class Explanation:
    """What a page shows and how to read it, in plain words, with one reference."""

    title: str
    text: str
    reference: str


EXPLANATIONS: dict[str, Explanation] = {
    "home": Explanation(
        "What RadNomo does",
        "A radiomics study turns each tumour's CT into numbers (features), keeps the few that predict the outcome, "
        "combines them into a score, adds clinical factors, and checks on patients the model never saw whether "
        "the predictions hold. The pages follow that order, left to right in the menu.",
        "Lambin P, et al. Radiomics: the bridge between medical imaging and personalized medicine. "
        "Nat Rev Clin Oncol 2017;14:749-62."),
    "cohort": Explanation(
        "Table 1 and the split",
        "Table 1 describes the patients with and without the event. The cohort is split once, at random but "
        "keeping the event rate equal (stratified), into a training cohort that every model learns from and a "
        "test cohort that only measures. p-values here compare groups; they say nothing about prediction.",
        "Collins GS, et al. TRIPOD statement. BMJ 2015;350:g7594."),
    "features_radiomics": Explanation(
        "Radiomics features",
        "pyradiomics measures the tumour region: its shape, the distribution of its HU values (first order) and "
        "its texture (how grey levels are arranged: GLCM, GLRLM, GLSZM, ...), on the original image and on "
        "filtered versions (wavelet, Laplacian of Gaussian). Resampling to 1 mm voxels first makes patients from "
        "different scanners comparable. ICC between two readers' masks shows which features are reproducible.",
        "Zwanenburg A, et al. The Image Biomarker Standardization Initiative. Radiology 2020;295:328-38."),
    "features_deep": Explanation(
        "Deep features",
        "An autoencoder learns to squeeze each tumour crop into 512 numbers and rebuild the crop from them; the 512 "
        "numbers (the latent vector) become features. Nobody told it about the outcome, so it learns whatever "
        "describes the images best, including the tissue around the tumour that ROI radiomics never sees. It is "
        "trained on the training cohort only.",
        "Hinton GE, Salakhutdinov RR. Reducing the dimensionality of data with neural networks. Science "
        "2006;313:504-7."),
    "selection": Explanation(
        "Screening and the LASSO",
        "With thousands of features and hundreds of patients, most features that look predictive are so by chance. "
        "The funnel removes near-constant and redundant features, keeps those that differ between outcomes, and "
        "lets the LASSO shrink the rest: the penalty lambda is chosen by 10-fold cross-validation. The 1-SE rule "
        "takes the largest lambda whose error is within one standard error of the best: fewer features for "
        "almost the same error, i.e. it trades a little fit for stability. Every step uses training patients "
        "only: selecting on all patients lets the test cohort leak into the model (see the Teaching page).",
        "Friedman J, Hastie T, Tibshirani R. Regularization paths for GLMs via coordinate descent. J Stat Softw "
        "2010;33:1-22."),
    "models": Explanation(
        "Scores and models",
        "A score is the weighted sum of the selected features: the log-odds of the event from a logistic "
        "regression. The clinical model uses clinical variables; the fused model adds one chosen score to them. "
        "An odds ratio above 1 raises the risk. With fewer than about 10 events per coefficient a model overfits.",
        "Peduzzi P, et al. A simulation study of the number of events per variable in logistic regression "
        "analysis. J Clin Epidemiol 1996;49:1373-9."),
    "evaluation": Explanation(
        "Reading ROC, DeLong, calibration and decision curves",
        "The AUC is the chance that a random patient with the event gets a higher predicted risk than one without "
        "(0.5 = coin toss). The DeLong test compares two AUCs measured on the same patients, using how the two "
        "models' rankings co-vary. Calibration asks whether 20 % predicted means 20 % observed. Net benefit at a "
        "threshold p counts true positives minus false positives weighted by p/(1-p), the harm of an unneeded "
        "intervention relative to the benefit of a needed one: a model is useful where its curve lies above "
        "'treat all' and 'treat none'.",
        "DeLong ER, et al. Biometrics 1988;44:837-45; Vickers AJ, Elkin EB. Decision curve analysis. Med Decis "
        "Making 2006;26:565-74."),
    "validation": Explanation(
        "Optimism",
        "A model always looks better on the patients it was built on. The bootstrap rebuilds the whole pipeline on "
        "resamples of the training cohort and measures how much better each rebuilt model does on its own resample "
        "than on the original cohort: that average gap (the optimism) is subtracted from the apparent AUC.",
        "Harrell FE, Lee KL, Mark DB. Multivariable prognostic models. Stat Med 1996;15:361-87."),
    "nomogram": Explanation(
        "Reading a nomogram",
        "Each predictor's value is read off its axis as points; the points add up to a total that maps to the "
        "predicted probability. The predictor with the widest effect spans 0-100 points. Moving one input shows "
        "how much that predictor alone changes the risk.",
        "Iasonos A, et al. How to build and interpret a nomogram for cancer prognosis. J Clin Oncol "
        "2008;26:1364-70."),
    "subgroups": Explanation(
        "Subgroups: synchronous vs metachronous and others",
        "A subgroup comparison asks whether a score also separates two kinds of patient it was not trained on, "
        "e.g. among patients with liver metastasis, metastases present at diagnosis (synchronous) from later ones "
        "(metachronous). The scores were not trained for it, so a modest AUC is expected; with fewer than 10 "
        "patients in a group the AUC says little.",
        "Guo et al. Front Oncol 2025;15:1613972."),
    "checklists": Explanation(
        "Reporting checklists",
        "Journals ask a prediction-model paper to show, item by item, how the study was done: who was included, "
        "how the model was built and validated, what it achieves. Here each item is answered from what the study "
        "actually ran, with the value and the report section; what a run cannot know (ethics, funding, the "
        "discussion) is left for you. METRICS weighs the items of a radiomics study into one quality score.",
        "Collins GS, et al. TRIPOD+AI. BMJ 2024;385:e078378. Kocak B, et al. METRICS. Insights Imaging "
        "2024;15:8."),
    "new_patient": Explanation(
        "Scoring a new patient",
        "A new patient's CT goes through exactly the training pipeline: same pre-processing, the same radiomics "
        "features, the same autoencoder, the frozen scores and model. The 95 % interval shows the uncertainty of "
        "the model's coefficients, not the patient's fate.",
        "Steyerberg EW. Clinical Prediction Models, 2nd ed. Springer 2019, ch. 17."),
    "external": Explanation(
        "External validation",
        "Other hospitals use other scanners and see other patients. Scoring their patients with the frozen models "
        "shows whether discrimination and calibration travel; calibration-in-the-large near 0 and slope near 1 "
        "mean the predicted risks can be used as they are. ComBat removes scanner differences from the features.",
        "Fortin JP, et al. Harmonization of cortical thickness measurements across scanners and sites. NeuroImage "
        "2018;167:104-20."),
    "teaching": Explanation(
        "The truth behind the synthetic cohort",
        "The sample cohort was generated: each patient has a hidden imaging phenotype that depends on LM. Knowing "
        "it, the best possible imaging model (the oracle) can be computed, and new cohorts can be drawn with a "
        "stronger or weaker effect to watch overfitting and optimism appear.",
        "Morris TP, White IR, Crowther MJ. Using simulation studies to evaluate statistical methods. Stat Med "
        "2019;38:2074-102."),
    "walkthrough": Explanation(
        "A guided tour",
        "The reference study, step by step, on the sample cohort: each step shows the study's published number "
        "beside RadNomo's and why they may differ.",
        "Guo et al. Front Oncol 2025;15:1613972."),
}

# A time-to-event study's explanations where the binary text would mislead (logistic regression, odds ratios,
# the ROC AUC, probabilities without a time); every other page reads as for a binary outcome.
_SURVIVAL_CHANGES: dict[str, Explanation] = {
    "cohort": Explanation(
        "Table 1, follow-up and the split",
        "Each patient has a follow-up time and an event flag: 1 = the event happened at that time, 0 = censored "
        "(event-free when last seen, fate unknown after). Table 1 describes the patients with and without an "
        "observed event. The Kaplan-Meier curve estimates the share still event-free over time, counting each "
        "censored patient while followed; the median follow-up comes from the reverse Kaplan-Meier (censoring as "
        "the 'event'). The split keeps the event rate equal in both cohorts (stratified). The horizons (e.g. 12, 36 "
        "and 60 months) are the times at which risks are predicted and judged: choose them for the clinical "
        "question, within follow-up, so that enough patients are still followed at the last one.",
        "Kaplan EL, Meier P. Nonparametric estimation from incomplete observations. J Am Stat Assoc "
        "1958;53:457-81; Schemper M, Smith TL. A note on quantifying follow-up in studies of failure time. "
        "Control Clin Trials 1996;17:343-6."),
    "selection": Explanation(
        "Screening and the LASSO-Cox",
        "With thousands of features and few events, most features that look prognostic are so by chance. The "
        "funnel removes near-constant and redundant features, keeps those whose univariable Cox model links them "
        "to the hazard, and lets the LASSO-Cox shrink the rest: the penalty lambda is chosen by 10-fold "
        "cross-validation of the Cox partial-likelihood deviance, where a censored patient counts in the risk sets "
        "until their follow-up ends. The 1-SE rule takes the largest lambda whose deviance is within one standard "
        "error of the best: fewer features for almost the same fit. Every step uses training patients only.",
        "Simon N, Friedman J, Hastie T, Tibshirani R. Regularization paths for Cox's proportional hazards model "
        "via coordinate descent. J Stat Softw 2011;39(5):1-13."),
    "models": Explanation(
        "Scores and Cox models",
        "A score is the weighted sum of the selected features: the linear predictor (log relative hazard) of a "
        "Cox proportional hazards model. The clinical model uses clinical variables; the fused model adds one "
        "chosen score to them. A hazard ratio (HR) above 1 means a higher event rate at every time, by that factor "
        "per unit; the baseline hazard (Breslow) turns the linear predictor into predicted survival at each "
        "horizon. The model assumes proportional hazards: each HR constant over follow-up. cox.zph tests it per "
        "term from the Schoenfeld residuals; p < 0.05 suggests the effect changes with time, so its HR is only an "
        "average over follow-up: look at the residual plot, and consider stratifying or a time interaction. "
        "Events, not patients, limit a Cox model: with fewer than about 10 events per coefficient (each level of "
        "a categorical variable is one) it overfits.",
        "Cox DR. Regression models and life-tables. J R Stat Soc B 1972;34:187-220; Grambsch PM, Therneau TM. "
        "Proportional hazards tests and diagnostics based on weighted residuals. Biometrika 1994;81:515-26; "
        "Peduzzi P, et al. Importance of events per independent variable in proportional hazards regression "
        "analysis II. J Clin Epidemiol 1995;48:1503-10."),
    "evaluation": Explanation(
        "Reading the C-index, time-dependent AUC, calibration and decision curves",
        "Harrell's C is the share of comparable pairs (one patient's event before the other's follow-up ends) in "
        "which the earlier event got the higher predicted risk (0.5 = coin toss). The time-dependent AUC at a "
        "horizon t tells patients with the event by t from those event-free after t; patients censored before t "
        "are stood in for by weighting the others (inverse probability of censoring weights). Calibration at t "
        "sets the predicted survival at t beside the Kaplan-Meier survival of groups of patients; the Brier score "
        "at t is the predictions' mean squared error. Net benefit at t and threshold p counts, among the patients "
        "whose predicted risk by t is at least p, true positives minus false positives weighted by p/(1-p), their "
        "events by t estimated by Kaplan-Meier. "
        "Risk groups split at the training median linear predictor are compared by Kaplan-Meier curves and the "
        "log-rank test. A horizon with few patients still followed gives wide intervals; past the last follow-up "
        "none is possible.",
        "Harrell FE, et al. Evaluating the yield of medical tests. JAMA 1982;247:2543-6; Blanche P, et al. Stat "
        "Med 2013;32:5381-97; Vickers AJ, et al. Extensions to decision curve analysis. BMC Med Inform Decis Mak "
        "2008;8:53."),
    "validation": Explanation(
        "Optimism",
        "A model always looks better on the patients it was built on. The bootstrap rebuilds the whole pipeline on "
        "resamples of the training cohort and measures how much better each rebuilt model does on its own resample "
        "than on the original cohort: that average gap (the optimism) is subtracted from the apparent Harrell's C "
        "and from the apparent time-dependent AUC at each horizon.",
        "Harrell FE, Lee KL, Mark DB. Multivariable prognostic models. Stat Med 1996;15:361-87."),
    "nomogram": Explanation(
        "Reading a Cox nomogram",
        "Each predictor's value is read off its axis as points; the points add up to a total that maps to the Cox "
        "model's linear predictor and from it to the predicted probability of being event-free at each horizon, "
        "and to the median time to the event where the predicted curve falls below 50 %. The predictor with the "
        "widest effect spans 0-100 points. Moving one input shows how much that predictor alone changes survival.",
        "Iasonos A, et al. How to build and interpret a nomogram for cancer prognosis. J Clin Oncol "
        "2008;26:1364-70."),
    "subgroups": Explanation(
        "Subgroups: two groups of patients",
        "A subgroup analysis of a time-to-event study asks two things: does survival differ between the two groups "
        "(their Kaplan-Meier curves and the log-rank test), and does each model still rank the patients within "
        "each group (Harrell's C and the time-dependent AUC per group)? Discrimination within a group is usually "
        "lower than in the whole cohort, whose patients differ more; with fewer than 10 patients or few events in "
        "a group the estimates say little, and a group without an event has none.",
        "Mantel N. Evaluation of survival data and two new rank order statistics arising in its consideration. "
        "Cancer Chemother Rep 1966;50:163-70."),
    "external": Explanation(
        "External validation",
        "Other hospitals use other scanners and see other patients. Scoring their patients with the frozen models "
        "shows whether discrimination (Harrell's C, the time-dependent AUC) and calibration travel: at each "
        "horizon, an observed/expected ratio near 1 and a calibration slope near 1 mean the predicted survival "
        "can be used as it is. Their follow-up must reach the horizons. ComBat removes scanner differences from "
        "the features.",
        "Royston P, Altman DG. External validation of a Cox prognostic model: principles and methods. BMC Med Res "
        "Methodol 2013;13:33."),
    "teaching": Explanation(
        "The truth behind the synthetic cohort",
        "The sample cohort was generated: each patient has a hidden imaging phenotype that depends on LM. That "
        "truth concerns liver metastasis, not survival, so the oracle and the what-if cohorts use the binary "
        "sample study; the leakage demonstration runs on the open study and measures Harrell's C on its test "
        "cohort.",
        "Morris TP, White IR, Crowther MJ. Using simulation studies to evaluate statistical methods. Stat Med "
        "2019;38:2074-102."),
}

#: Outcome kind (core.vocabulary.OUTCOME_KINDS) -> page -> its explanation: a binary study's are
#: :data:`EXPLANATIONS`; a time-to-event study's replace those that speak of logistic models and ROC AUCs.
EXPLANATIONS_BY_KIND: dict[str, dict[str, Explanation]] = {
    "binary": EXPLANATIONS,
    "survival": {**EXPLANATIONS, **_SURVIVAL_CHANGES},
}


def explanation_for(page: str, kind: str = "binary") -> Explanation:
    """The explanation of ``page`` (a page file's stem, e.g. "models") for a study whose outcome is of ``kind``
    (a key of :data:`core.vocabulary.OUTCOME_KINDS`).

    Raises
    ------
    RadNomoError
        For an outcome kind or a page without explanations.
    """
    if kind not in EXPLANATIONS_BY_KIND:
        raise RadNomoError(f"teaching mode has no explanations for a {kind} outcome; it has them for "
                           f"{', '.join(EXPLANATIONS_BY_KIND)}.")
    explanations = EXPLANATIONS_BY_KIND[kind]
    if page not in explanations:
        raise RadNomoError(f"teaching mode has no explanation of the page '{page}'.")
    return explanations[page]


@dataclass(frozen=True)
class WalkStep:
    """One step of the walk-through: what is done, the study's number, where RadNomo's comes from."""

    title: str
    what: str
    study: str
    why_different: str


WALKTHROUGH: tuple[WalkStep, ...] = (
    WalkStep("1. The cohort", "1001 patients with gastric cancer; 312 developed liver metastasis (LM).",
             "1001 patients, 312 LM (31.2 %), training 701 / test 300.",
             "The sample cohort is generated to match Table 1 per outcome; its 7:3 split gives 700 / 301."),
    WalkStep("2. Features", "pyradiomics on the venous-phase tumour ROI after 1 mm resampling, and the 512-value "
             "latent vector of a 3D convolutional autoencoder.", "1925 radiomics features and 512 deep features.",
             "RadNomo's study parameters give 1874 radiomics features (2246 with the LBP 2D/3D filters): the study's "
             "exact filter list is not published; 1925 = 14 shape + 21 images x 91 would fit, for instance, RadNomo's "
             "images with LBP 2D and two GLCM features fewer per image."),
    WalkStep("3. Screening", "Variance > 1, Spearman |rho| <= 0.7 redundancy, t-test p < 0.05, then the LASSO with "
             "10-fold CV and the 1-SE rule, on the training cohort only.",
             "The study reports the funnel down to its DL-radiomics signature.",
             "Chance decides which of many correlated features survive; another cohort keeps other but similar "
             "features."),
    WalkStep("4. Scores", "The radiomics, DL and DL-radiomics scores: logistic regressions on the selected "
             "features.", "Test AUC: radiomics .690, DL .694, DL-radiomics .748.",
             "The synthetic imaging phenotype was calibrated to land near these values; a test cohort of 301 "
             "gives AUCs with a standard error of about .03."),
    WalkStep("5. Clinical and fused models", "The clinical model (tumour thickness, CEA, CA19-9) and the fused "
             "model (DL-radiomics score + clinical factors).", "Test AUC: clinical .658, fused .787.",
             "The clinical variables follow Table 1 per outcome, not the study's patient-level data."),
    WalkStep("6. Evaluation", "Youden cut-offs from training; ACC, SENS, SPEC, PPV, NPV with Wald intervals; DeLong "
             "tests; calibration; decision curves.", "Table 2 (ten rows) and DeLong p < .05 fused vs clinical.",
             "Cut-offs chosen on another training cohort move SENS/SPEC more than the AUC."),
    WalkStep("7. Synchronous vs metachronous", "Among LM patients, does the DL-radiomics score separate the "
             "types?", "AUC .665 (Table 3).",
             "In the generator synchronous LM shifts the phenotype further than metachronous LM, as the study "
             "suggests."),
    WalkStep("8. The nomogram", "The fused model drawn as points per predictor.", "Figure 6 of the study.",
             "Same construction (rms::nomogram scale); the axis ranges follow the sample's training cohort."),
)


def trait_effects(effects: PhenotypeEffects | None = None) -> pd.DataFrame:
    """The generator's shift of each hidden imaging trait (SD units) for metachronous and synchronous LM."""
    effects = effects or PhenotypeEffects()
    shifts = effects.shifts()
    return pd.DataFrame({"metachronous LM": {t: shifts[t][0] for t in TRAITS},
                         "synchronous LM": {t: shifts[t][0] + shifts[t][1] for t in TRAITS}}).rename_axis("trait")


def oracle_scores(truth: pd.DataFrame, effects: PhenotypeEffects | None = None) -> pd.Series:
    """The log likelihood ratio LM vs no LM given a patient's true phenotype (the Bayes-optimal imaging score).

    Each trait is N(0, 1) without LM and shifted by the metachronous or synchronous shift with LM;
    the likelihood with LM mixes the two types in the study's proportions.
    """
    table = trait_effects(effects)
    z = truth[[f"z_{t}" for t in TRAITS]].to_numpy(dtype=float)
    mu_m, mu_s = table["metachronous LM"].to_numpy(), table["synchronous LM"].to_numpy()
    log_m = z @ mu_m - 0.5 * mu_m @ mu_m + np.log(1 - SYNCHRONOUS_SHARE)
    log_s = z @ mu_s - 0.5 * mu_s @ mu_s + np.log(SYNCHRONOUS_SHARE)
    return pd.Series(np.logaddexp(log_m, log_s), index=truth["patient_id"], name="oracle")


def oracle_auc(truth: pd.DataFrame, outcome: pd.Series, ids: Sequence[str] | None = None,
               effects: PhenotypeEffects | None = None) -> float:
    """AUC of :func:`oracle_scores` (on ``ids`` if given): the ceiling for any imaging-only model."""
    from sklearn.metrics import roc_auc_score

    scores = oracle_scores(truth, effects)
    ids = list(ids) if ids is not None else list(scores.index)
    return float(roc_auc_score(outcome.loc[ids], scores.loc[ids]))


@dataclass(eq=False)
class FeatureEmulator:
    """Features as a linear function of the hidden phenotype plus resampled residual rows.

    Fitted on a rendered cohort (features extracted from its CTs and its generator truth); used to
    give a newly generated cohort realistic features in a second instead of rendering and extracting
    its CTs (hours). Residual rows are drawn whole, so the features' correlations are kept; the link
    to the phenotype is linear, an approximation of what the rendering and extraction do.
    """

    columns: list[str]
    intercept_and_slopes: np.ndarray  # (1 + traits) x features
    residuals: np.ndarray  # rendered patients x features

    @classmethod
    def fit(cls, truth: pd.DataFrame, features: pd.DataFrame) -> FeatureEmulator:
        """Least squares of every feature column on the traits (rows matched by patient ID)."""
        truth = truth.set_index("patient_id")
        shared = features.index.intersection(truth.index)
        if len(shared) < 50:
            raise RadNomoError("the emulator needs the features and generator truth of at least 50 patients.")
        design = np.column_stack([np.ones(len(shared)), truth.loc[shared, [f"z_{t}" for t in TRAITS]].to_numpy()])
        values = features.loc[shared].to_numpy(dtype=float)
        coefficients = np.linalg.lstsq(design, values, rcond=None)[0]
        return cls(columns=list(features.columns), intercept_and_slopes=coefficients,
                   residuals=values - design @ coefficients)

    def simulate(self, truth: pd.DataFrame, rng: np.random.Generator, noise_scale: float = 1.0) -> pd.DataFrame:
        """Features for the patients of ``truth`` (index: patient ID)."""
        design = np.column_stack([np.ones(len(truth)), truth[[f"z_{t}" for t in TRAITS]].to_numpy(dtype=float)])
        rows = rng.integers(0, len(self.residuals), len(truth))
        values = design @ self.intercept_and_slopes + noise_scale * self.residuals[rows]
        return pd.DataFrame(values, index=pd.Index(truth["patient_id"], name="ID"), columns=self.columns)


@dataclass(frozen=True)
class WhatIfResult:
    """A what-if cohort's pipeline: AUC per model in train and test, the oracle, the funnel sizes.

    ``aucs``: rows train/test, columns models. ``optimism``: train - test AUC per model.
    """

    n: int
    events: int
    effect_scale: float
    noise_scale: float
    aucs: pd.DataFrame
    oracle_train: float
    oracle_test: float
    selected: dict[str, int]
    seconds: float

    @property
    def optimism(self) -> pd.Series:
        return self.aucs.loc["train"] - self.aucs.loc["test"]


def scaled_effects(scale: float) -> PhenotypeEffects:
    """The default imaging effects multiplied by ``scale`` (0 = no imaging signal at all)."""
    if scale < 0:
        raise RadNomoError("the effect scale must be 0 or more.")
    base = PhenotypeEffects()
    return dataclasses.replace(base, **{f.name: getattr(base, f.name) * scale for f in dataclasses.fields(base)})


def sample_emulators(truth: pd.DataFrame, sample: Study) -> dict[str, FeatureEmulator]:
    """:class:`FeatureEmulator` per feature family of the (rendered) sample study."""
    return {family.name: FeatureEmulator.fit(truth, family.table) for family in sample.families}


def what_if(emulators: dict[str, FeatureEmulator], sample: Study, *, n: int = 300, effect_scale: float = 1.0,
            noise_scale: float = 1.0, seed: int = 1, settings: ModelSettings | None = None) -> WhatIfResult:
    """Draw a new synthetic cohort and run the whole pipeline on it (7:3 split, everything fitted on training).

    Parameters
    ----------
    emulators : dict
        Family -> :class:`FeatureEmulator` fitted on the rendered sample cohort (:func:`sample_emulators`).
    sample : Study
        The sample study: the new cohort gets its roles, families (emulated) and combined families.
    n : int
        Patients (40 to 5000).
    effect_scale : float
        Multiplies every imaging effect of the generator (1 = the sample's; 0 = none).
    noise_scale : float
        Multiplies the features' residual noise (1 = as rendered).
    seed : int
    settings : ModelSettings, optional
        The sample's settings by default.

    Raises
    ------
    RadNomoError
        For out-of-range inputs or a cohort the pipeline cannot fit.
    """
    import time

    if not 40 <= n <= 5000:
        raise RadNomoError("the what-if cohort needs between 40 and 5000 patients.")
    if noise_scale < 0:
        raise RadNomoError("the noise scale must be 0 or more.")
    start = time.perf_counter()
    tables = generate_clinical(n=n, seed=seed, effects=scaled_effects(effect_scale))
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    families = tuple(FeatureFamily(name=name, label=sample.family_label(name),
                                   table=emulator.simulate(tables.truth, rng, noise_scale), kind="imported",
                                   source="emulated from the hidden phenotype") for name, emulator in emulators.items())
    study = make_study(f"what-if cohort (seed {seed})", tables.clinical, sample.spec, SplitConfig(seed=seed),
                       families=families, combined=sample.combined, settings=settings or sample.settings,
                       labels=sample.labels)
    models = fit_study(study)
    predictions = predict_study(study, models)
    aucs = auc_table(predictions, study.outcome, study.cohorts(), models.model_names)
    truth = tables.truth.assign(patient_id=tables.truth["patient_id"].astype(str))
    effects = scaled_effects(effect_scale)
    if effect_scale > 0:
        oracle_train = oracle_auc(truth, study.outcome, study.train_ids, effects)
        oracle_test = oracle_auc(truth, study.outcome, study.test_ids, effects)
    else:
        oracle_train = oracle_test = 0.5  # no imaging signal: nothing can beat chance
    return WhatIfResult(n=n, events=study.n_events, effect_scale=effect_scale, noise_scale=noise_scale,
                        aucs=aucs, oracle_train=oracle_train, oracle_test=oracle_test,
                        selected={k: len(v.variables) for k, v in models.scores.items()},
                        seconds=time.perf_counter() - start)


def leakage_measure(study: Study) -> str:
    """The name of the discrimination measure :func:`leakage_demo` reports for ``study``: the headline measure of
    its outcome type (:func:`core.stats.discrimination.measures_for`): "AUC" for a binary outcome, "C-index"
    (Harrell's) for a time-to-event one."""
    outcome = study.spec.outcome
    return measure_names(outcome)[measures_for(outcome).labels(outcome)[0]]


def held_out_discrimination(study: Study, predictions: pd.DataFrame, models: Sequence[str]) -> pd.Series:
    """Each model's :func:`leakage_measure` on the study's test cohort (index: model; unitless, 0-1; NaN where the
    test patients allow none, e.g. no event), from the outcome type's measures: the AUC of a binary model's
    probability, Harrell's C of a Cox model's linear predictor. Patients without a prediction are left out."""
    outcome = study.spec.outcome
    measures = measures_for(outcome)
    headline = measures.labels(outcome)[0]
    frame = study.cohort.loc[study.test_ids]
    return pd.Series({model: measures.score(outcome, frame, predictions.loc[study.test_ids, model], False)[headline]
                      for model in models}, dtype=float)


def leakage_demo(study: Study, *, honest=None) -> pd.DataFrame:
    """Test discrimination of every model (:func:`leakage_measure`: the AUC of a binary outcome, Harrell's C of a
    time-to-event one) with screening done properly (training only) and with the classic leak (screening and
    LASSO on all patients, then the models fitted on training).

    ``honest``: the study's models already fitted (the dashboard has them cached), so only the leaky
    pipeline is fitted here.

    Returns one row per model: ``honest``, ``leaky`` (test AUCs or C-indexes) and ``inflation`` (leaky - honest).

    Raises
    ------
    RadNomoError
        For a study without a test cohort (there is nothing to leak into).
    """
    if not study.has_test:
        raise RadNomoError("the leakage demonstration needs a test cohort; this study trains on every patient.")
    honest = honest if honest is not None else fit_study(study)
    everyone = study.replace(split=CohortSplit(train_ids=tuple(study.train_ids + study.test_ids), test_ids=(),
                                               config=study.split.config))
    prepared = prepare_tables(study)
    leaky_screening = {family: screen_family(everyone, family, prepared.tables) for family in honest.screening}
    leaky = fit_models(study, prepared, leaky_screening)
    rows = {}
    for name, models in (("honest", honest), ("leaky", leaky)):
        predictions = predict_study(study, models)
        rows[name] = held_out_discrimination(study, predictions, models.model_names)
    table = pd.DataFrame(rows).loc[[m for m in honest.model_names if m in rows["leaky"].index]]
    table["inflation"] = table["leaky"] - table["honest"]
    return table
