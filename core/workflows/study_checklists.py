"""A study's reporting checklists filled from what was run: TRIPOD+AI, CLEAR, METRICS and PROBAST+AI (issue 30).

:func:`gather_facts` (through :func:`core.workflows.report.study_facts`) gathers once what the run knows (cohort,
split, external cohorts, feature families and their extraction, harmonisation, reader agreement, missing values,
screening, models, internal validation, sample size, software); each checklist has a registry ``{item number: answer
function}`` that turns those facts into an :class:`Answer` (status, the report section that answers it, one sentence
of evidence). Items without a function are what the run cannot know (ethics, funding, wording of the title, the
discussion...): "for the author".

- :func:`study_checklist` -> one checklist as a table (item, section, text, status, where, evidence);
- :func:`study_metrics` -> the METRICS score (items "reported" are met; conditions from the study);
- :func:`probast_assessment` -> PROBAST+AI's signalling questions pre-answered, with the concern they raise.

``where`` is always a value of :data:`REPORT_ANCHORS` (the ``id`` of a report heading) or "".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from core.errors import RadNomoError
from core.workflows.checklist_items import MetricsScore, checklist_items, metrics_score
from core.workflows.report_sections import SECTION_ANCHORS

__all__ = ["BY_AUTHOR", "author_key", "CHECKLIST_COLUMNS", "REPORT_ANCHORS", "STATUSES", "PROBAST_ANSWERS",
           "Answer", "FamilyFacts", "ModelFacts", "StudyFacts",
           "gather_facts", "study_checklist", "study_metrics", "probast_assessment", "CHECKLIST_ANSWERS",
           "metrics_conditions"]

#: Report heading -> the ``id`` of its section (:data:`core.workflows.report_sections.SECTION_ANCHORS`). Every
#: ``where`` is one of these ids.
REPORT_ANCHORS = SECTION_ANCHORS

#: The columns of a checklist's file (core.analyse's DIR/checklists/<checklist>.csv, the page's downloads).
CHECKLIST_COLUMNS = ("item", "section", "status", "where", "evidence")
#: An item's status, from answered by the run to left to the author.
STATUSES = ("reported", "partly", "not done", "not applicable", "for the author", "by the author")
#: An item the run cannot know, answered by the author's own text (saved with the study).
BY_AUTHOR = "by the author"
#: PROBAST+AI's answers to a signalling question, and the concern each raises.
PROBAST_ANSWERS = {"yes": "low", "probably yes": "low", "no": "high", "probably no": "high",
                   "no information": "unclear"}

_AUTHOR = "for the author"


@dataclass(frozen=True)
class Answer:
    """One item answered from the run.

    Attributes
    ----------
    status : str
        One of :data:`STATUSES`.
    where : str
        The id (:data:`REPORT_ANCHORS` value) of the report section that answers it, "" where none does.
    evidence : str
        One sentence with the run's value, or what the author must add.
    """

    status: str
    where: str = ""
    evidence: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise RadNomoError(f"'{self.status}' is no checklist status; the statuses are {list(STATUSES)}.")
        if self.where and self.where not in REPORT_ANCHORS.values():
            raise RadNomoError(f"'{self.where}' is no report section id; the ids are "
                               f"{sorted(REPORT_ANCHORS.values())}.")


@dataclass(frozen=True)
class FamilyFacts:
    """One feature family as the checklists see it.

    Attributes
    ----------
    name, label : str
    kind : str
        "radiomics" (extracted from images and masks, settings recorded), "deep" (autoencoder) or "imported".
    n_features : int
        Columns of its table.
    engine : str
        The extraction software and version ("pyradiomics v3.1.4"; "" when not recorded).
    settings : str
        Extraction and pre-processing settings in words ("" when not recorded).
    ibsi : tuple of (str, int)
        Measured IBSI compliance status -> number of features (radiomics families only).
    classes : tuple of (str, int)
        Feature class (pyradiomics' name: "firstorder", "glcm", "shape"...) -> number of features (radiomics
        families only).
    second_reader : bool
        Whether a second reader's features exist (reader agreement can be measured).
    start, kept : int or None
        Features entering the screening and kept in its score (None when the family was not screened).
    """

    name: str
    label: str
    kind: str
    n_features: int
    engine: str = ""
    settings: str = ""
    ibsi: tuple[tuple[str, int], ...] = ()
    classes: tuple[tuple[str, int], ...] = ()
    second_reader: bool = False
    start: int | None = None
    kept: int | None = None


@dataclass(frozen=True)
class ModelFacts:
    """One fitted model: its name, label, role, learner, number of estimated parameters (intercept excluded) and
    training events per parameter."""

    name: str
    label: str
    role: str
    learner: str
    parameters: int
    events_per_parameter: float


@dataclass(frozen=True)
class StudyFacts:
    """What a run knows about its study, gathered once by :func:`gather_facts` (counts are patients unless said).

    Attributes
    ----------
    name, outcome_kind, outcome : str
        The study's name, its outcome kind ("binary", "survival") and the outcome in words.
    patients, events, n_train, n_test, train_events, test_events : int
    split : str
        How the cohorts were drawn, in words (with the test fraction and seed).
    exclusions : tuple of (str, int)
        Reason -> patients excluded after the study was opened.
    externals : tuple of (str, int, int)
        Each external cohort: name, patients, events.
    families : tuple of FamilyFacts
    harmonise_by : str
        The ComBat batch column ("" without harmonisation).
    icc_threshold : float or None
        The reader-agreement filter of the screening (None: off).
    missing_strategy : str
    max_missing : float
        Features missing for more than this share of training patients were left out.
    columns_dropped, values_imputed : int
        Columns left out for missing values; values imputed in the training cohort.
    screening : str
        The screening steps and settings in words.
    models : tuple of ModelFacts
    main_model : str
    has_clinical : bool
        Whether a clinical (non-radiomic) model was fitted beside the scores.
    cutoff : str
        How predictions become risk classes, in the outcome kind's words (the binary cut-off rule; the survival
        horizons and risk groups), as the report's Settings table says it.
    measures : str
        Where the report gives performance, in the outcome kind's words (e.g. "Table 2, ROC, calibration and
        decision curves").
    validation : str
        The internal validation run in words ("" when none was run).
    calibration, decision_curves : bool
        Whether the report shows calibration and decision curves for this outcome kind.
    sample_size_minimum, sample_size_parameters : int
        Riley's minimum number of patients and the candidate parameters it was computed for.
    sample_size_met : bool
    warnings : tuple of str
        Fits that did not converge.
    seed : int
        The screening's fold seed (the split's is in ``split``).
    code_available, bundle_export : bool
        RadNomo is open source; the study (data, settings, models) exports as a bundle.
    """

    name: str
    outcome_kind: str
    outcome: str
    patients: int
    events: int
    n_train: int
    n_test: int
    train_events: int
    test_events: int
    split: str
    exclusions: tuple[tuple[str, int], ...]
    externals: tuple[tuple[str, int, int], ...]
    families: tuple[FamilyFacts, ...]
    harmonise_by: str
    icc_threshold: float | None
    missing_strategy: str
    max_missing: float
    columns_dropped: int
    values_imputed: int
    screening: str
    models: tuple[ModelFacts, ...]
    main_model: str
    has_clinical: bool
    cutoff: str
    measures: str
    validation: str
    calibration: bool
    decision_curves: bool
    sample_size_minimum: int
    sample_size_parameters: int
    sample_size_met: bool
    warnings: tuple[str, ...]
    seed: int
    code_available: bool = True
    bundle_export: bool = True
    author_notes: Mapping[str, str] = field(default_factory=dict)  # "<checklist>:<item>" -> the author's answer

    @property
    def has_test(self) -> bool:
        return self.n_test > 0

    @property
    def extracted(self) -> tuple[FamilyFacts, ...]:
        """Families extracted by RadNomo from images and masks (hand-crafted radiomics)."""
        return tuple(f for f in self.families if f.kind == "radiomics")

    @property
    def cohort_words(self) -> str:
        """E.g. "1001 patients, 312 events; 700 training / 301 test (stratified random split, ...)"."""
        return f"{self.patients} patients, {self.events} events; {self.split}"


# ---------------------------------------------------------------------------------------------
# Gathering the facts
# ---------------------------------------------------------------------------------------------

_INTERCEPT = {"intercept", "(intercept)", "const"}


def _family_settings(extraction: Mapping[str, Any] | None) -> tuple[str, str]:
    """(engine with version, settings in words) of a radiomics family's recorded extraction."""
    if not extraction:
        return "", ""
    version = extraction.get("pyradiomics_version")
    engine = f"pyradiomics {version}" if version else str(extraction.get("engine", ""))
    params = extraction.get("params") or {}
    setting = params.get("setting", {}) if isinstance(params, Mapping) else {}
    image_types = sorted(params.get("imageType", {})) if isinstance(params, Mapping) else []
    preprocess = extraction.get("preprocess") or {}
    parts = []
    if preprocess.get("spacing_mm"):
        spacing = "x".join(f"{float(v):g}" for v in preprocess["spacing_mm"])
        parts.append(f"resampled to {spacing} mm ({preprocess.get('image_interpolator', 'default')} interpolation)")
    if setting.get("binWidth") is not None:
        parts.append(f"bin width {setting['binWidth']}")
    elif setting.get("binCount") is not None:
        parts.append(f"bin count {setting['binCount']}")
    if image_types:
        parts.append(f"image types {', '.join(image_types)}")
    if "force2D" in setting:
        parts.append("2D" if setting["force2D"] else "3D")
    return engine, "; ".join(parts)


def _families(results: Any) -> tuple[FamilyFacts, ...]:
    from core.workflows.checks import family_compliance

    study, models = results.study, results.models
    facts = []
    for family in study.families:
        engine, settings = _family_settings(family.extraction) if family.kind == "radiomics" else ("", "")
        ibsi: tuple[tuple[str, int], ...] = ()
        classes: tuple[tuple[str, int], ...] = ()
        if family.kind == "radiomics":
            counts = family_compliance(study, family.name)["ibsi"].value_counts()
            ibsi = tuple((str(k), int(v)) for k, v in counts.items())
            # pyradiomics names a feature imageType_class_name ("wavelet-LLH_glcm_Contrast")
            names = pd.Series([str(c).split("_")[1] if str(c).count("_") >= 2 else "other"
                               for c in family.table.columns], dtype=object)
            classes = tuple((str(k), int(v)) for k, v in names.value_counts().items())
        funnel = models.screening.get(family.name)
        start = int(funnel.funnel["n_features"].iloc[0]) if funnel is not None else None
        kept = len(models[family.name].variables) if family.name in models else None
        facts.append(FamilyFacts(name=family.name, label=family.label, kind=family.kind,
                                 n_features=int(family.table.shape[1]), engine=engine, settings=settings, ibsi=ibsi,
                                 classes=classes, second_reader=family.reader2 is not None, start=start, kept=kept))
    return tuple(facts)


def _models(results: Any, train_events: int) -> tuple[ModelFacts, ...]:
    study, models = results.study, results.models
    rows = []
    for name in models.model_names:
        fitted = models[name]
        terms = [t for t in fitted.table.index if str(t).lower() not in _INTERCEPT]
        parameters = max(len(terms), 1)
        rows.append(ModelFacts(name=name, label=study.model_label(name), role=models.roles[name],
                               learner=fitted.learner, parameters=len(terms),
                               events_per_parameter=train_events / parameters))
    return tuple(rows)


def _validation_words(validation: Any) -> str:
    if validation is None or (validation.optimism is None and validation.cv is None):
        return ""
    meta = validation.meta or {}
    parts = []
    if validation.optimism is not None:
        boot = meta.get("bootstrap", {})
        parts.append(f"bootstrap optimism correction ({boot.get('done', '?')} resamples, seed {boot.get('seed', '?')})")
    if validation.cv is not None:
        cv = meta.get("cv", {})
        parts.append(f"repeated cross-validation ({cv.get('folds', '?')} folds x {cv.get('repeats', '?')} repeats)")
    return " and ".join(parts) + ", the whole pipeline refitted in each resample"


def gather_facts(results: Any, externals: Sequence[Any] = (), validation: Any = None, *, kind: Any) -> StudyFacts:
    """What the run of ``results`` (:class:`core.workflows.results.StudyResults`) knows, for the checklists.

    Parameters
    ----------
    results : StudyResults
        The study and its fitted models (the stored fit of the sample loads in seconds).
    externals : sequence of core.workflows.external.ExternalCohort
        The external cohorts scored by the frozen models.
    validation : core.workflows.validation.InternalValidation or None
        The internal validation run (bootstrap, repeated CV); None: the study's current one, if any.
    kind : core.workflows.report.ReportKind
        What the report of the study's outcome kind says and shows (its settings, measures, figures). Given by the
        caller: :func:`core.workflows.report.study_facts` passes the study's (the report builds the checklists,
        so this module does not import it).
    """
    from core.workflows.sample_size import study_sample_size

    study, models = results.study, results.models
    outcome = study.spec.outcome
    validation = validation if validation is not None else study.current_validation()
    train_events = int(outcome.n_events(study.cohort.loc[study.train_ids]))
    test_events = int(outcome.n_events(study.cohort.loc[study.test_ids])) if study.has_test else 0
    if study.has_test:
        config = study.split.config
        split = (f"{len(study.train_ids)} training / {len(study.test_ids)} test, random split stratified by outcome "
                 f"(test fraction {config.test_size:g}, seed {config.seed})")
    else:
        split = f"all {len(study.train_ids)} patients trained the models (no held-out test cohort)"
    reasons = pd.Series([why for _, why in study.exclusions], dtype=object).value_counts()
    imputers = models.imputers.values()
    s = study.settings.screening
    # The steps as the screening ran them (its funnel), so another screening method is said in its own steps.
    steps = list(dict.fromkeys(step for result in models.screening.values()
                               for step in result.funnel["step"].iloc[1:]))  # the first row: every feature
    screening = (f"{'; '.join(steps)} ({s.n_folds}-fold CV, fold seed {s.seed}); on the training cohort only"
                 if steps else "no feature family was screened")
    figures = set(kind.figures)
    sample_size = study_sample_size(study)
    return StudyFacts(
        name=study.name, outcome_kind=outcome.kind, outcome=outcome.describe(), patients=len(study.cohort),
        events=int(study.n_events), n_train=len(study.train_ids), n_test=len(study.test_ids) if study.has_test else 0,
        train_events=train_events, test_events=test_events, split=split,
        exclusions=tuple((str(k), int(v)) for k, v in reasons.items()),
        externals=tuple((e.name, len(e.cohort), int(e.n_events(outcome))) for e in externals),
        families=_families(results), harmonise_by=study.settings.harmonise_by or "",
        icc_threshold=s.icc_threshold, missing_strategy=study.settings.missing.strategy,
        max_missing=study.settings.missing.max_missing,
        columns_dropped=sum(len(i.dropped_) for i in imputers),
        values_imputed=sum(int(i.n_filled_train_) for i in imputers), screening=screening,
        models=_models(results, train_events), main_model=study.model_label(models.main_model),
        has_clinical=models.clinical is not None,
        cutoff="; ".join(f"{name}: {value}" for name, value in kind.settings_rows(study)),
        measures=kind.performance_words,
        validation=_validation_words(validation), calibration="Calibration" in figures,
        decision_curves="Decision curves" in figures, sample_size_minimum=int(sample_size.result.n),
        sample_size_parameters=int(sample_size.result.parameters), sample_size_met=bool(sample_size.meets),
        warnings=tuple(getattr(models, "warnings", ())), seed=s.seed, author_notes=dict(study.author_notes))


# ---------------------------------------------------------------------------------------------
# Answers shared by the checklists (each one small function of the facts)
# ---------------------------------------------------------------------------------------------

Rule = Callable[[StudyFacts], Answer]


def _cohort(f: StudyFacts) -> Answer:
    return Answer("reported", "settings", f.cohort_words + ".")


def _flow(f: StudyFacts) -> Answer:
    excluded = "; ".join(f"{n} excluded for {why}" for why, n in f.exclusions) or "no patient excluded after opening"
    return Answer("reported", "participant-flow", f"{f.cohort_words}; {excluded}: the participant-flow diagram "
                                                  "(exclusions before the study's table are the author's).")


def _table_one(f: StudyFacts) -> Answer:
    return Answer("reported", "table-1", f"Table 1 by cohort: {f.n_train} training ({f.train_events} events)"
                                         + (f", {f.n_test} test ({f.test_events} events)" if f.has_test else "") + ".")


def _split(f: StudyFacts) -> Answer:
    return Answer("reported", "methods", f"{f.split}; every selection step, model and cut-off fitted on training "
                                         "patients only.")


def _outcome(f: StudyFacts) -> Answer:
    return Answer("partly", "methods", f"Outcome {f.outcome} ({f.events} events); its clinical definition and "
                                       "assessment are the author's.")


def _sample_size(f: StudyFacts) -> Answer:
    met = "meets" if f.sample_size_met else "falls short of"
    return Answer("reported", "sample-size", f"Training cohort ({f.n_train} patients, {f.train_events} events) {met} "
                                             f"Riley's minimum of {f.sample_size_minimum} for "
                                             f"{f.sample_size_parameters} candidate parameters.")


def _missing(f: StudyFacts) -> Answer:
    return Answer("reported", "missing", f"{f.missing_strategy.capitalize()} imputation fitted on training; "
                                         f"{f.columns_dropped} column(s) missing for > {f.max_missing:g} of training "
                                         f"left out; {f.values_imputed} training value(s) imputed.")


def _sources(f: StudyFacts) -> Answer:
    families = ", ".join(f"{x.label} ({x.kind}, {x.n_features} features)" for x in f.families) or "no feature family"
    external = "; external: " + ", ".join(n for n, _, _ in f.externals) if f.externals else ""
    return Answer("partly", "methods", f"Feature families: {families}{external}; data provenance is the author's.")


def _extraction(f: StudyFacts) -> Answer:
    if not f.extracted:
        return Answer(_AUTHOR, "", "Features were imported: their extraction settings are the author's to report.")
    return Answer("reported", "methods", "; ".join(f"{x.label}: {x.engine}, {x.settings}" for x in f.extracted) + ".")


def _preprocessing(f: StudyFacts) -> Answer:
    answer = _extraction(f)
    combat = f"; ComBat by '{f.harmonise_by}'" if f.harmonise_by else "; no harmonisation"
    return Answer(answer.status, answer.where, answer.evidence.rstrip(".") + combat + ".") if f.extracted else answer


def _ibsi(f: StudyFacts) -> Answer:
    if not f.extracted:
        return Answer(_AUTHOR, "", "Features were imported: software, version and IBSI compliance are the author's.")
    counts = "; ".join(f"{x.label} ({x.engine}): " + ", ".join(f"{n} {k}" for k, n in x.ibsi) for x in f.extracted)
    return Answer("reported", "methods", f"IBSI-benchmarked software; measured compliance per feature: {counts}.")


def _feature_classes(f: StudyFacts) -> Answer:
    if not f.extracted:
        return Answer(_AUTHOR, "", "Features were imported: their classes are the author's to report.")
    return Answer("reported", "feature-selection", "; ".join(
        f"{x.label}: " + ", ".join(f"{n} {k}" for k, n in x.classes) for x in f.extracted) + ".")


def _feature_count(f: StudyFacts) -> Answer:
    return Answer("reported", "feature-selection",
                  "; ".join(f"{x.label}: {x.n_features} features" for x in f.families) + ".") if f.families else \
        Answer("not applicable", "", "No feature family.")


def _reader_agreement(f: StudyFacts) -> Answer:
    if f.icc_threshold is not None:
        return Answer("reported", "methods", f"Features with ICC > {f.icc_threshold:g} between two readers kept "
                                             "(training cohort).")
    if any(x.second_reader for x in f.families):
        return Answer("not done", "", "A second reader's features exist but the ICC filter is off.")
    return Answer("not done", "", "No second reader, test-retest or perturbation analysis.")


def _scaling(f: StudyFacts) -> Answer:
    combat = f"ComBat by '{f.harmonise_by}' fitted on training. " if f.harmonise_by else ""
    return Answer("reported", "methods", f"{combat}Features standardised inside the LASSO (training only).")


def _selection(f: StudyFacts) -> Answer:
    funnels = "; ".join(f"{x.label} {x.start} -> {x.kept}" for x in f.families if x.start is not None)
    return Answer("reported", "feature-selection", f"{f.screening}; {funnels}." if funnels else f"{f.screening}.")


def _epp(f: StudyFacts) -> Answer:
    worst = min(f.models, key=lambda m: m.events_per_parameter)
    status = "reported" if worst.events_per_parameter >= 10 else "partly"
    return Answer(status, "models", f"Fewest training events per parameter: {worst.label} "
                                    f"({worst.parameters} parameters, {worst.events_per_parameter:.1f} EPP).")


def _model_list(f: StudyFacts) -> Answer:
    listed = "; ".join(f"{m.label}: {m.learner}, {m.parameters} parameters" for m in f.models)
    return Answer("reported", "models", f"{listed}; main model {f.main_model}.")


def _tuning(f: StudyFacts) -> Answer:
    return Answer("reported", "settings", f"{f.screening}; {f.cutoff}.")


def _full_model(f: StudyFacts) -> Answer:
    return Answer("reported", "models", f"Coefficients of every model and the {f.main_model} nomogram; the study "
                                        "bundle holds the fitted models.")


def _confounders(f: StudyFacts) -> Answer:
    if f.harmonise_by:
        return Answer("partly", "methods", f"Batch effects of '{f.harmonise_by}' removed by ComBat; other confounders "
                                           "are the author's.")
    return Answer(_AUTHOR, "", "No harmonisation or confounder analysis was run.")


def _internal_external(f: StudyFacts) -> Answer:
    if f.externals:
        return Answer("reported", "external-cohorts", "External testing on " + ", ".join(
            f"{n} ({p} patients, {e} events)" for n, p, e in f.externals) + ", models frozen.")
    internal = "held-out test cohort" if f.has_test else "no held-out test cohort"
    return Answer("not done", "", f"No external cohort: internal testing only ({internal}).")


def _metrics(f: StudyFacts) -> Answer:
    return Answer("reported", "table-2", f"{f.measures}, with 95 % CIs per cohort; {f.cutoff}.")


def _calibration(f: StudyFacts) -> Answer:
    if not f.calibration:
        return Answer("not done", "", "No calibration for this outcome kind.")
    return Answer("reported", "calibration", "Calibration curve, intercept and slope with 95 % CIs.")


#: Per outcome kind, how its intervals and model comparisons are computed, and its regression model, in words.
_METHOD_WORDS = {
    "binary": {"intervals": "DeLong for the AUCs, the chosen proportion CI for the metrics at the cut-off, "
                            "bootstrap bands for net benefit",
               "comparison": "paired DeLong tests", "model": "logistic"},
    "survival": {"intervals": "for Harrell's C, the time-dependent AUCs and the metrics at each horizon, bootstrap "
                              "bands for net benefit",
                 "comparison": "paired differences in Harrell's C (Holm-adjusted p)", "model": "Cox"},
}


def _uncertainty(f: StudyFacts) -> Answer:
    return Answer("reported", "table-2", "95 % confidence intervals for every measure: "
                                         f"{_METHOD_WORDS[f.outcome_kind]['intervals']}.")


def _comparison(f: StudyFacts) -> Answer:
    return Answer("reported", "table-2", f"Models compared with {_METHOD_WORDS[f.outcome_kind]['comparison']} "
                                         f"against the {f.main_model}.")


def _clinical_utility(f: StudyFacts) -> Answer:
    if not f.has_clinical:
        return Answer("partly", "decision-curves", "Decision curves drawn; no clinical model to compare with.")
    return Answer("reported", "decision-curves", "Radiomics models compared with the clinical model; decision curves "
                                                 "(net benefit).")


def _baseline(f: StudyFacts) -> Answer:
    if not f.has_clinical:
        return Answer("not done", "", "No clinical (classical statistical) model beside the scores.")
    return Answer("reported", "models", f"A clinical {_METHOD_WORDS[f.outcome_kind]['model']} model is fitted and "
                                        "compared.")


def _internal_testing(f: StudyFacts) -> Answer:
    if f.has_test:
        return Answer("reported", "table-2", f"Held-out test cohort: {f.n_test} patients, {f.test_events} events.")
    return Answer("not done", "", "No held-out test cohort" + (f" (internal validation: {f.validation})."
                                                               if f.validation else "."))


def _internal_validation(f: StudyFacts) -> Answer:
    if f.validation:
        return Answer("reported", "internal-validation", f"{f.validation}.")
    return Answer("partly", "models", "Models and steps reported; internal validation (bootstrap) not run.")


def _performance(f: StudyFacts) -> Answer:
    return Answer("reported", "table-2", "Performance with 95 % CIs for training" + (" and test" if f.has_test else "")
                  + (" and external" if f.externals else "") + " cohorts.")


def _code(f: StudyFacts) -> Answer:
    return Answer("reported", "methods", "Analysed with RadNomo (open source); the analysis code is public.")


def _model_files(f: StudyFacts) -> Answer:
    return Answer("partly", "models", "The study bundle export holds the fitted models and calculator; publishing "
                                      "it is the author's.")


def _extraction_settings_shared(f: StudyFacts) -> Answer:
    if not f.extracted:
        return Answer(_AUTHOR, "", "Features were imported.")
    return Answer("partly", "methods", "Extraction parameters recorded with the study and in the bundle; "
                                       "publishing them is the author's.")


def _multicentre(f: StudyFacts) -> Answer:
    if f.externals:  # an external cohort may come from the same institution (temporal validation): partly
        return Answer("partly", "external-cohorts", f"{len(f.externals) + 1} cohorts (development and "
                                                    + ", ".join(n for n, _, _ in f.externals) + "); whether they "
                                                    "come from other institutions is the author's.")
    return Answer(_AUTHOR, "", "One cohort: whether it spans several institutions is the author's.")


def _evaluation_differences(f: StudyFacts) -> Answer:
    if f.externals:
        return Answer("reported", "external-cohorts", "External cohorts described and scored by the frozen models.")
    return Answer("not done", "", "No external evaluation data" + (" (the test cohort is a random split of the same "
                                                                   "source)." if f.has_test else "."))


def _evaluation_distribution(f: StudyFacts) -> Answer:
    if f.externals:
        return Answer("reported", "external-cohorts", "External cohorts' size and events beside the development "
                                                      "cohort.")
    if f.has_test:
        return Answer("reported", "table-1", "Table 1 compares the training and test cohorts.")
    return Answer("not applicable", "", "No evaluation cohort.")


def _heterogeneity(f: StudyFacts) -> Answer:
    if f.externals:
        return Answer("partly", "external-cohorts", "Performance per external cohort; no formal heterogeneity "
                                                    "analysis.")
    return Answer("not done", "", "One development cohort; heterogeneity across centres not examined.")


def _no_updating(f: StudyFacts) -> Answer:
    return Answer("not done", "", "Models are frozen after training; no recalibration or updating.")


def _class_imbalance(f: StudyFacts) -> Answer:
    return Answer("not applicable", "", f"No class-imbalance correction was used ({f.events} of {f.patients} "
                                        "patients with the event).")


def _model_output(f: StudyFacts) -> Answer:
    return Answer("reported", "settings", f"Predicted risks; {f.cutoff}.")


def _predictor_handling(f: StudyFacts) -> Answer:
    return Answer("reported", "methods", "Continuous predictors kept continuous (linear), features standardised; "
                                         f"{f.screening}.")


def _predictor_choice(f: StudyFacts) -> Answer:
    return Answer("reported", "feature-selection", f"Candidate features screened: {f.screening}.")


def _predictor_definition(f: StudyFacts) -> Answer:
    return Answer("partly", "methods", "Features named by their extraction class (IBSI names where any); clinical "
                                       "predictors' definitions are the author's.")


def _preprocessing_checks(f: StudyFacts) -> Answer:
    return Answer("partly", "methods", f"Pre-processing and missing values ({f.missing_strategy}) reported; checks "
                                       "across sociodemographic groups are the author's.")


def _excluded(f: StudyFacts) -> Answer:
    excluded = "; ".join(f"{n} for {why}" for why, n in f.exclusions) or "none after the study was opened"
    return Answer("partly", "missing", f"Exclusions: {excluded}; the inclusion criteria are the author's.")


def _per_analysis(f: StudyFacts) -> Answer:
    external = "".join(f"; {n}: {p} ({e} events)" for n, p, e in f.externals)
    return Answer("reported", "settings", f"Training {f.n_train} ({f.train_events} events)"
                  + (f"; test {f.n_test} ({f.test_events} events)" if f.has_test else "") + f"{external}.")


def _checklist_followed(f: StudyFacts) -> Answer:
    return Answer("reported", "reporting-checklists", "TRIPOD+AI, CLEAR and METRICS filled from the run with the "
                                                      "report.")


def _not_applicable_dl(f: StudyFacts) -> Answer:
    return Answer("not applicable", "", "RadNomo fits no end-to-end deep-learning model.")


def _not_applicable_auto_segmentation(f: StudyFacts) -> Answer:
    return Answer("not applicable", "", "RadNomo uses the masks it is given (no automatic segmentation).")


def _segmentation(f: StudyFacts) -> Answer:
    if not f.extracted:
        return Answer("not applicable", "", "Features were imported; no segmentation in this run.")
    return Answer(_AUTHOR, "", "Masks were given to RadNomo: the segmentation method and readers are the author's.")


def _balance(f: StudyFacts) -> Answer:
    return Answer("reported", "table-1", f"{f.events} of {f.patients} patients with the event; no resampling for "
                                         "class balance.")


def _table_selected(f: StudyFacts) -> Answer:
    return Answer("reported", "feature-selection", "Screening funnel per family; coefficients and IBSI tag of every "
                                                   "selected feature.")


def _explainability(f: StudyFacts) -> Answer:
    return Answer("reported", "nomogram", f"Linear models with coefficients and the {f.main_model} nomogram.")


def _pipeline(f: StudyFacts) -> Answer:
    return Answer("partly", "methods", "The pipeline is described step by step in the methods; no diagram yet.")


_TRIPOD: dict[str, Rule] = {
    "5a": _sources, "6b": _excluded, "7": _preprocessing_checks, "8a": _outcome, "9a": _predictor_choice,
    "9b": _predictor_definition, "10": _sample_size, "11": _missing, "12a": _split, "12b": _predictor_handling,
    "12c": _internal_validation, "12d": _heterogeneity, "12e": _metrics, "12f": _no_updating, "12g": _full_model,
    "13": _class_imbalance, "15": _model_output, "16": _evaluation_differences, "18f": _code, "20a": _flow,
    "20b": _table_one, "20c": _evaluation_distribution, "21": _per_analysis, "22": _full_model, "23a": _performance,
    "23b": _heterogeneity, "24": _no_updating}

_CLEAR: dict[str, Rule] = {
    "9": _sample_size, "11": _excluded, "12": _pipeline, "13": _sources, "15": _split, "17": _predictor_definition,
    "18": _outcome, "19": _segmentation, "21": _preprocessing, "22": _extraction, "23": _extraction,
    "24": _extraction, "25": _ibsi, "26": _feature_classes, "27": _feature_count, "28": _extraction, "29": _missing,
    "30": _balance, "31": _reader_agreement, "32": _scaling, "33": _selection, "34": _model_list, "35": _tuning,
    "36": _confounders, "37": _tuning, "38": _internal_external, "39": _metrics, "40": _uncertainty,
    "41": _comparison, "42": _clinical_utility, "43": _explainability, "44": _table_one, "45": _flow,
    "46": _table_selected, "47": _performance, "48": _clinical_utility, "55": _extraction_settings_shared,
    "56": _code, "57": _model_files, "58": _model_files}

_METRICS: dict[str, Rule] = {
    "1": _checklist_followed, "2": _excluded, "4": _multicentre, "8": _segmentation,
    "9": _not_applicable_auto_segmentation, "10": _segmentation, "11": _preprocessing, "12": _ibsi,
    "13": _extraction, "14": _reader_agreement, "15": _selection, "16": _epp, "17": _not_applicable_dl,
    "18": _split, "19": _confounders, "20": _metrics, "21": _uncertainty, "22": _calibration,
    "24": _clinical_utility, "25": _baseline, "26": _internal_testing, "27": _internal_external, "29": _code,
    "30": _model_files}

#: Checklist key -> {item number: answer function}; an item without one is "for the author".
CHECKLIST_ANSWERS: dict[str, dict[str, Rule]] = {"tripod_ai": _TRIPOD, "clear": _CLEAR, "metrics": _METRICS}


def author_key(checklist: str, item: str) -> str:
    """The key of the author's answer to ``item`` of ``checklist`` in :attr:`Study.author_notes`."""
    return f"{checklist}:{item}"


def _answer(key: str, number: str, facts: StudyFacts) -> Answer:
    rule = CHECKLIST_ANSWERS[key].get(number)
    answer = rule(facts) if rule is not None else Answer(_AUTHOR, "", "Not known to the run: the author's text.")
    note = facts.author_notes.get(author_key(key, number), "").strip()
    if answer.status == _AUTHOR and note:  # what the author wrote, said as theirs
        return Answer(BY_AUTHOR, "", note)
    return answer


def study_checklist(facts: StudyFacts, key: str) -> pd.DataFrame:
    """The checklist ``key`` ("tripod_ai", "clear", "metrics") answered from ``facts``: one row per item in the
    checklist's order, columns ``item`` (its number), ``section``, ``text`` (our words), ``status``
    (:data:`STATUSES`), ``where`` (a :data:`REPORT_ANCHORS` id or "") and ``evidence``."""
    if key not in CHECKLIST_ANSWERS:
        raise RadNomoError(f"'{key}' is not a checklist answered item by item; they are {sorted(CHECKLIST_ANSWERS)} "
                           "(PROBAST+AI: probast_assessment).")
    conditions = metrics_conditions(facts)
    rows = []
    for item in checklist_items(key):
        # A conditional item (METRICS) that does not apply to this kind of study drops out of the score.
        answer = Answer("not applicable", "", f"Applies only to studies with {item.condition.replace('_', ' ')}.") \
            if item.condition and item.condition not in conditions else _answer(key, item.number, facts)
        rows.append({"item": item.number, "section": item.section, "text": item.text, "status": answer.status,
                     "where": answer.where, "evidence": answer.evidence})
    return pd.DataFrame(rows, columns=["item", "section", "text", "status", "where", "evidence"])


def metrics_conditions(facts: StudyFacts) -> frozenset[str]:
    """The METRICS conditions of the study: segmentation and hand-crafted features when a family was extracted
    from images and masks; tabular always (RadNomo models feature tables); never automatic segmentation or
    end-to-end deep learning."""
    extracted = {"segmentation", "hand_crafted"} if facts.extracted else set()
    return frozenset({"tabular", *extracted})


def study_metrics(facts: StudyFacts) -> MetricsScore:
    """The study's METRICS score: the items answered "reported" (or "by the author") are met, the conditions of
    :func:`metrics_conditions` decide which items apply (:func:`core.workflows.checklist_items.metrics_score`)."""
    table = study_checklist(facts, "metrics")
    conditions = metrics_conditions(facts)
    applicable = {item.number for item in checklist_items("metrics") if not item.condition
                  or item.condition in conditions}
    met = {n for n, s in zip(table["item"], table["status"], strict=True)
           if s in ("reported", BY_AUTHOR) and n in applicable}
    return metrics_score(met, conditions)


# ---------------------------------------------------------------------------------------------
# PROBAST+AI
# ---------------------------------------------------------------------------------------------

Probe = Callable[[StudyFacts], tuple[str, str]]


def _same_predictors(f: StudyFacts) -> tuple[str, str]:
    if f.extracted:
        return "probably yes", "Features extracted with one recorded setting for every patient."
    return "no information", "Imported features: how they were measured is not known to the run."


def _same_preprocessing(f: StudyFacts) -> tuple[str, str]:
    return "yes", ("One pipeline for every patient; imputation" + (" and ComBat" if f.harmonise_by else "")
                   + " fitted on training and applied unchanged.")


def _dev_sample_size(f: StudyFacts) -> tuple[str, str]:
    met = "meets" if f.sample_size_met else "falls short of"
    worst = min(m.events_per_parameter for m in f.models)
    return ("yes" if f.sample_size_met else "no"), (f"The {f.n_train} training patients {met} Riley's minimum of "
                                                    f"{f.sample_size_minimum}; fewest events per parameter "
                                                    f"{worst:.1f}.")


def _coding(f: StudyFacts) -> tuple[str, str]:
    return "yes", "Continuous predictors and features kept continuous; no dichotomising."


def _missing_handling(f: StudyFacts) -> tuple[str, str]:
    if f.values_imputed == 0 and not f.exclusions:
        return "yes", "No missing value was imputed and no patient excluded."
    return "probably no", (f"Single {f.missing_strategy} imputation ({f.values_imputed} training values) fitted on "
                           "training; multiple imputation was not used.")


def _imbalance(f: StudyFacts) -> tuple[str, str]:
    return "yes", "No class-imbalance method was used."


def _overfitting(f: StudyFacts) -> tuple[str, str]:
    if f.validation:
        return "yes", f"Penalised (LASSO) selection; optimism estimated by {f.validation}."
    return "probably no", "Penalised (LASSO) selection, but optimism was not estimated (no bootstrap run)."


def _beyond_apparent(f: StudyFacts) -> tuple[str, str]:
    return "yes", ("Held-out test cohort" if f.has_test else "No test cohort") + (
        f" and {len(f.externals)} external cohort(s)" if f.externals else "") + "."


def _eval_sample_size(f: StudyFacts) -> tuple[str, str]:
    events = f.test_events + sum(e for _, _, e in f.externals)
    return ("yes" if events >= 100 else "probably no"), (f"{events} events in the evaluation cohorts (at least 100 "
                                                         "recommended).")


def _leakage(f: StudyFacts) -> tuple[str, str]:
    return "yes", "Patient-level split before any step; screening, models and cut-offs fitted on training only."


def _resampling(f: StudyFacts) -> tuple[str, str]:
    if f.validation:
        return "yes", f"{f.validation}."
    return "yes", "No resampling-based evaluation was run."


def _measures(f: StudyFacts) -> tuple[str, str]:
    done = f.calibration and f.decision_curves
    return ("yes" if done else "probably no"), "Discrimination with CIs, calibration curve and decision curves."


_PROBAST: dict[tuple[str, str], Probe] = {
    ("development", "2.1"): _same_predictors, ("development", "2.2"): _same_preprocessing,
    ("development", "4.1"): _dev_sample_size, ("development", "4.2"): _coding,
    ("development", "4.3"): _missing_handling, ("development", "4.4"): _imbalance,
    ("development", "4.5"): _overfitting,
    ("evaluation", "2.1"): _same_predictors, ("evaluation", "2.2"): _same_preprocessing,
    ("evaluation", "4.1"): _beyond_apparent, ("evaluation", "4.2"): _eval_sample_size,
    ("evaluation", "4.3"): _missing_handling, ("evaluation", "4.4"): _imbalance, ("evaluation", "4.5"): _leakage,
    ("evaluation", "4.6"): _resampling, ("evaluation", "4.7"): _measures}


def probast_assessment(facts: StudyFacts) -> pd.DataFrame:
    """PROBAST+AI's signalling questions pre-answered from the study: columns ``domain``, ``part``
    ("development"; "evaluation" only when the study has a test or an external cohort), ``number``, ``question``,
    ``answer`` (a key of :data:`PROBAST_ANSWERS`), ``concern`` ("low", "high", "unclear") and ``reason``.
    Questions the run cannot answer (data sources, outcome assessment) are "no information"."""
    parts = {"development", *(("evaluation",) if facts.has_test or facts.externals else ())}
    rows = []
    for item in checklist_items("probast_ai"):
        if item.part not in parts:
            continue
        probe = _PROBAST.get((item.part, item.number))
        answer, reason = probe(facts) if probe is not None else ("no information", "Not known to the run: the "
                                                                                     "author's assessment.")
        rows.append({"domain": item.section, "part": item.part, "number": item.number, "question": item.text,
                     "answer": answer, "concern": PROBAST_ANSWERS[answer], "reason": reason})
    return pd.DataFrame(rows, columns=["domain", "part", "number", "question", "answer", "concern", "reason"])

