"""The study: one frozen object that holds everything a user analyses.

A :class:`Study` is the cohort (indexed by patient ID), the variables' roles, the split, the feature
tables by family, the settings, the display labels and its name. The dashboard's session holds one,
persistence saves and loads one, and every workflow (fitting, validation, external cohorts, teaching,
the report) takes one. It never changes: a change (a setting, a role, the split, a feature table, the
name) makes a new study with :meth:`Study.replace`, and its :attr:`Study.fingerprint` changes with it,
so every result cached under the old fingerprint is left behind.

Feature families are the user's: any number of feature tables, each a named :class:`FeatureFamily`
(radiomics, deep, a second phase, anything imported), and :class:`CombinedFamily` s of them (the
reference study's DL-radiomics = radiomics + deep). Each family, single or combined, gets a score;
the fused model adds one chosen score to the clinical predictors.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import pandas as pd

from core.errors import RadNomoError
from core.stats.cohort import (CohortSpec, CohortSplit, SplitConfig, blank_id_exclusions, split_cohort,
                               validate_cohort, without_blank_ids)
from core.stats.feature_tables import role_columns
from core.stats.learners import learners_for
from core.stats.missing import MissingPolicy
from core.stats.outcome_statistics import statistics_for
from core.stats.outcomes import Outcome
from core.stats.selection import ScreeningSettings
from core.workflows.sources import source_of
from core.vocabulary import (CLINICAL, COMPARATOR_FEATURES, COMPARATOR_METHODS, COMPARATOR_ROLE, CUTOFF_RULES,
                             FEATURE_KINDS, FUSED, PROPORTION_CIS, SCORE_METHODS, SUBGROUP_POPULATIONS, check_name,
                             check_option, comparator_name, family_of_score)

if TYPE_CHECKING:  # a result type of a later module; the study only carries it
    from core.workflows.validation import InternalValidation

__all__ = ["ModelSettings", "SubgroupSettings", "EvaluationSettings",
           "Autoencoder", "FeatureFamily", "CombinedFamily", "Study",
           "make_study", "table_fingerprint", "variable_label", "default_family_label"]


# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ModelSettings:
    """Choices behind the models.

    Attributes
    ----------
    screening : ScreeningSettings
        Applied to each feature family, single and combined, on the training cohort.
    score_method : str
        The learner of each family's score on its selected features, a key of
        :data:`core.vocabulary.SCORE_METHODS` (= the score learners of :data:`core.stats.learners.LEARNERS`):
        "refit" (logistic refit), "lasso" (the LASSO's own coefficients), "ridge" (L2-penalised, penalty by CV).
    clinical_continuous, clinical_categorical : tuple of str or None
        The clinical model's predictors; None = every clinical variable with univariable
        (likelihood-ratio) p below ``clinical_p`` in training.
    clinical_p : float
    harmonise_by : str or None
        A cohort column (e.g. "scanner"): ComBat-harmonise every feature table by its levels, fitted
        on the training cohort, before screening; None = no harmonisation.
    fused_score : str or None
        The family whose score the fused model adds to the clinical predictors; None = the study's
        default (its last combined family, else its first family).
    missing : MissingPolicy
        What to do with missing feature and clinical values (fitted on the training patients).
    excluded_features : tuple of str
        Column names and glob patterns (e.g. "lm_type", "diagnostics_*") the user keeps out of every
        feature family, matched regardless of case (:func:`core.stats.feature_tables.excluded_columns`).
    comparators : tuple of str
        Comparator learners (keys of :data:`core.vocabulary.COMPARATOR_METHODS`) fitted on every family's
        features beside its score, each tuned by inner cross-validation on the training patients; () = none.
    comparator_features : str
        Which features they fit (:data:`core.vocabulary.COMPARATOR_FEATURES`): "selected" (the LASSO's selection)
        or "screened" (every feature that passed the screening filters before the LASSO).
    """

    screening: ScreeningSettings = field(default_factory=ScreeningSettings)
    score_method: str = "refit"
    clinical_continuous: tuple[str, ...] | None = None
    clinical_categorical: tuple[str, ...] | None = None
    clinical_p: float = 0.05
    harmonise_by: str | None = None
    fused_score: str | None = None
    missing: MissingPolicy = field(default_factory=MissingPolicy)
    excluded_features: tuple[str, ...] = ()
    comparators: tuple[str, ...] = ()
    comparator_features: str = "selected"

    def __post_init__(self) -> None:
        check_option("score method", self.score_method, SCORE_METHODS)
        if isinstance(self.comparators, str) or len(set(self.comparators)) != len(self.comparators):
            raise RadNomoError("comparator learners are a list of distinct learner names.")
        for learner in self.comparators:
            check_option("comparator learner", learner, COMPARATOR_METHODS)
        check_option("comparators' features", self.comparator_features, COMPARATOR_FEATURES)
        if isinstance(self.excluded_features, str) or any(not str(p).strip() for p in self.excluded_features):
            raise RadNomoError("excluded features are a list of non-empty column names or patterns.")
        if isinstance(self.clinical_p, bool) or not isinstance(self.clinical_p, (int, float)) \
                or not 0 < self.clinical_p <= 1:  # NaN fails the comparison too
            raise RadNomoError(f"the clinical p threshold {str(self.clinical_p)[:40]} must be a number in (0, 1].")
        for what, value in (("harmonisation column", self.harmonise_by), ("fused model's score", self.fused_score)):
            if value is not None and not isinstance(value, str):  # e.g. a list in an edited study.json
                raise RadNomoError(f"the {what} {str(value)[:40]!r} must be a column or family name (text).")

    def to_dict(self) -> dict:
        return {"screening": self.screening.to_dict(), "score_method": self.score_method,
                "clinical_continuous": None if self.clinical_continuous is None else list(self.clinical_continuous),
                "clinical_categorical": None if self.clinical_categorical is None else list(self.clinical_categorical),
                "clinical_p": self.clinical_p, "harmonise_by": self.harmonise_by, "fused_score": self.fused_score,
                "missing": self.missing.to_dict(),
                # Only when set: a study without exclusions keeps the fingerprint (and stored fits) it had.
                **({"excluded_features": list(self.excluded_features)} if self.excluded_features else {}),
                **({"comparators": list(self.comparators), "comparator_features": self.comparator_features}
                   if self.comparators else {})}

    @classmethod
    def for_outcome(cls, outcome: Outcome) -> ModelSettings:
        """The default settings of a study of ``outcome``: its outcome type's default score method and
        univariable test (a time-to-event study: the Cox refit and the univariable Cox Wald test)."""
        statistics = statistics_for(outcome)
        return cls(screening=dataclasses.replace(ScreeningSettings(), test=statistics.default_test),
                   score_method=statistics.score_methods[0])

    def check_outcome(self, outcome: Outcome) -> None:
        """Refuse a score method or a univariable test that does not apply to ``outcome``'s type.

        Raises
        ------
        RadNomoError
            Naming the choice and those that apply.
        """
        statistics = statistics_for(outcome)
        if self.score_method not in statistics.score_methods:
            raise RadNomoError(f"the score method '{SCORE_METHODS.get(self.score_method, self.score_method)}' does "
                               f"not apply to a {outcome.kind} outcome; choose one of "
                               f"{', '.join(SCORE_METHODS[m] for m in statistics.score_methods)}.")
        fitting = learners_for(COMPARATOR_ROLE, outcome.kind)
        other = [learner for learner in self.comparators if learner not in fitting]
        if other:
            raise RadNomoError(f"the comparator learner(s) {', '.join(COMPARATOR_METHODS[m] for m in other)} do not "
                               f"fit a {outcome.kind} outcome; choose among "
                               f"{', '.join(COMPARATOR_METHODS[m] for m in fitting) or 'none'}.")
        if self.screening.test not in statistics.screening.tests:
            raise RadNomoError(f"the univariable test '{self.screening.test}' does not apply to a {outcome.kind} "
                               f"outcome; choose one of {', '.join(statistics.tests().values())}.")

    @classmethod
    def from_dict(cls, values: Mapping) -> ModelSettings:
        def as_tuple(v):
            return None if v is None else tuple(str(x) for x in v)

        try:
            return cls(screening=ScreeningSettings.from_dict(dict(values["screening"])),
                       score_method=str(values["score_method"]),
                       clinical_continuous=as_tuple(values["clinical_continuous"]),
                       clinical_categorical=as_tuple(values["clinical_categorical"]),
                       clinical_p=float(values["clinical_p"]), harmonise_by=values.get("harmonise_by"),
                       fused_score=values.get("fused_score"), missing=MissingPolicy.from_dict(values.get("missing")),
                       excluded_features=tuple(str(x) for x in values.get("excluded_features") or ()),
                       comparators=tuple(str(x)[:40] for x in values.get("comparators") or ()),
                       comparator_features=str(values.get("comparator_features", "selected"))[:40])
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, RadNomoError):
                raise
            raise RadNomoError(f"the model settings are malformed ({type(error).__name__}: {error}).") from error


@dataclass(frozen=True, kw_only=True)
class SubgroupSettings:
    """A comparison of two levels of a categorical column, e.g. synchronous vs metachronous LM.

    Attributes
    ----------
    column : str
    population : {"events", "all"}
        Among the patients with the event (as the reference study's Table 3) or among all patients.
    positive, negative : str
        The level expected to score higher (positive) and the level it is compared with.
    """

    column: str
    population: str = "events"
    positive: str
    negative: str

    def __post_init__(self) -> None:
        check_option("subgroup population", self.population, SUBGROUP_POPULATIONS)
        if self.positive == self.negative:
            raise RadNomoError("choose two different levels to compare.")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True, kw_only=True)
class EvaluationSettings:
    """How the study's models are judged at a cut-off: the rule that picks it on the training cohort, its
    value, and the confidence-interval method of ACC/SENS/SPEC/PPV/NPV.

    Evaluation, External validation and the report all use these (they are the study's, saved with it),
    so a cut-off chosen on one page is the one every other place reports.

    Attributes
    ----------
    cutoff_rule : {"youden", "fixed", "sensitivity"}
        Youden's index on the training cohort, a fixed probability, or the highest training cut-off
        reaching a target sensitivity (:data:`core.vocabulary.CUTOFF_RULES`).
    cutoff_value : float or None
        The fixed probability (0-1, exclusive) or the target sensitivity (0-1]; None for Youden.
    proportion_ci : {"wald", "wilson"}
        (:data:`core.vocabulary.PROPORTION_CIS`).
    risk_quantile : float
        A time-to-event study's risk groups: the quantile of the training patients' linear predictors that splits
        every cohort into low and high risk (0.5, the median, by default; 0.05-0.95), chosen on the training
        patients and applied unchanged to test and external cohorts.

    Raises
    ------
    RadNomoError
        For an unknown rule or method, or a value out of its range (or given to Youden's rule).
    """

    cutoff_rule: str = "youden"
    cutoff_value: float | None = None
    proportion_ci: str = "wald"
    risk_quantile: float = 0.5

    def __post_init__(self) -> None:
        check_option("cut-off rule", self.cutoff_rule, CUTOFF_RULES)
        check_option("proportion CI method", self.proportion_ci, PROPORTION_CIS)
        quantile = self.risk_quantile
        if isinstance(quantile, bool) or not isinstance(quantile, (int, float)) or not 0.05 <= quantile <= 0.95:
            raise RadNomoError(f"the risk groups' training quantile {str(quantile)[:40]} must be a number from 0.05 "
                               "to 0.95 (0.5: the median).")
        value = self.cutoff_value
        if self.cutoff_rule == "youden":
            if value is not None:
                raise RadNomoError("Youden's index chooses the cut-off itself; give a value only to the fixed or "
                                   "target-sensitivity rule.")
        elif value is None or not isinstance(value, (int, float)) or value != value:
            raise RadNomoError(f"the {CUTOFF_RULES[self.cutoff_rule].lower()} rule needs a value (e.g. 0.5).")
        elif self.cutoff_rule == "fixed" and not 0 < value < 1:
            raise RadNomoError(f"a fixed probability cut-off must lie between 0 and 1 (exclusive), not {value}.")
        elif self.cutoff_rule == "sensitivity" and not 0 < value <= 1:
            raise RadNomoError(f"a target sensitivity must lie in (0, 1], not {value}.")

    def describe(self) -> str:
        """The rule in words, e.g. "Youden index (training)", "Fixed probability 0.30"."""
        label = CUTOFF_RULES[self.cutoff_rule]
        return label if self.cutoff_value is None else f"{label} {self.cutoff_value:.2f}"

    def cutoffs(self, predictions: pd.DataFrame, outcome: pd.Series, train_ids: Sequence[str],
                models: Sequence[str]) -> dict[str, float]:
        """Each model's probability cut-off under this rule, chosen on ``train_ids`` only
        (:func:`core.stats.summaries.training_cutoffs`)."""
        from core.stats.summaries import training_cutoffs

        return training_cutoffs(predictions, outcome, train_ids, models, rule=self.cutoff_rule,
                                value=self.cutoff_value)

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        if values["risk_quantile"] == 0.5:  # the saved form (and fingerprint) of every study before it
            del values["risk_quantile"]
        return values

    @classmethod
    def from_dict(cls, values: Mapping | None) -> EvaluationSettings:
        """From :meth:`to_dict`; None or missing keys (a study saved before these settings) give the defaults."""
        values = dict(values or {})
        try:
            value = values.get("cutoff_value")
            return cls(cutoff_rule=str(values.get("cutoff_rule", "youden")),
                       cutoff_value=None if value is None else float(value),
                       proportion_ci=str(values.get("proportion_ci", "wald")),
                       risk_quantile=float(values.get("risk_quantile", 0.5)))
        except (TypeError, ValueError) as error:
            if isinstance(error, RadNomoError):
                raise
            raise RadNomoError(f"the evaluation settings are malformed ({error}).") from error


# ---------------------------------------------------------------------------------------------
# Feature families
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class Autoencoder:
    """A trained autoencoder that made a deep family: its weights file and per-epoch losses."""

    weights: str
    history: pd.DataFrame | None = None

    @cached_property
    def sha256(self) -> str:
        """The weights file's content hash (the same network wherever the file lies)."""
        digest = hashlib.sha256()
        with open(self.weights, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()


@dataclass(frozen=True, kw_only=True, eq=False)
class FeatureFamily:
    """One feature table of a study.

    Attributes
    ----------
    name : str
        Identifier (lower case, e.g. "radiomics", "dl", "arterial"); its score is ``<name>_score``.
    label : str
        How pages and the report name it ("Radiomics", "DL").
    table : pandas.DataFrame
        Float features, index: patient ID (text).
    kind : {"radiomics", "deep", "imported"}
        How the features were made: "radiomics" ones can be recomputed for a new patient from the
        recorded ``extraction`` settings, "deep" ones from the ``autoencoder``; "imported" ones not.
    source : str
        Where the table came from, in words.
    extraction : dict or None
        Extraction settings (engine, parameters, pre-processing) of a "radiomics" family.
    autoencoder : Autoencoder or None
        The weights of a "deep" family.
    reader2 : pandas.DataFrame or None
        The same features from a second reader's masks (reader agreement, the ICC filter).
    """

    name: str
    label: str
    table: pd.DataFrame
    kind: str = "imported"
    source: str = ""
    extraction: dict | None = None
    autoencoder: Autoencoder | None = None
    reader2: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        check_name("feature family", self.name)
        check_option("feature family kind", self.kind, FEATURE_KINDS)
        if not isinstance(self.table, pd.DataFrame) or self.table.shape[1] == 0:
            raise RadNomoError(f"feature family '{self.name}' needs a table with at least one feature.")
        if self.table.index.has_duplicates:
            raise RadNomoError(f"feature family '{self.name}' has duplicated patient IDs.")


@dataclass(frozen=True, kw_only=True)
class CombinedFamily:
    """Several families screened together as one (e.g. "dl_radiomics" = radiomics + dl)."""

    name: str
    label: str
    members: tuple[str, ...]

    def __post_init__(self) -> None:
        check_name("combined family", self.name)
        if len(self.members) < 2 or len(set(self.members)) != len(self.members):
            raise RadNomoError(f"combined family '{self.name}' needs at least two different member families.")


# ---------------------------------------------------------------------------------------------
# Content fingerprints
# ---------------------------------------------------------------------------------------------

_TOKENS: OrderedDict[int, tuple[pd.DataFrame, str]] = OrderedDict()
_MAX_TOKENS = 64


def table_fingerprint(frame: pd.DataFrame | None) -> str:
    """A content hash of a table (values, index and column names), computed once per table object.

    Hashing 2 million feature values takes a noticeable fraction of a second, and every change of a
    setting makes a new Study around the same tables; so the hash is remembered per object (the
    object is kept referenced beside it, so its ``id`` cannot be reused by another table).
    """
    if frame is None:
        return "none"
    cached = _TOKENS.get(id(frame))
    if cached is not None and cached[0] is frame:
        _TOKENS.move_to_end(id(frame))
        return cached[1]
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update(str(frame.index.name).encode())
    token = digest.hexdigest()[:24]
    _TOKENS[id(frame)] = (frame, token)
    while len(_TOKENS) > _MAX_TOKENS:
        _TOKENS.popitem(last=False)
    return token


def _hash(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


# ---------------------------------------------------------------------------------------------
# The study
# ---------------------------------------------------------------------------------------------


def default_family_label(name: str, joiner: str = " ") -> str:
    """A family's label from its name: "radiomics" -> "Radiomics", "dl" -> "DL", "arterial_phase" ->
    "Arterial phase" (words of two letters or fewer are abbreviations); a combined family's words joined with
    ``joiner="-"``: "dl_radiomics" -> "DL-radiomics"."""
    words = [w.upper() if len(w) <= 2 else w for w in name.split("_")]
    label = joiner.join(words)
    return label[0].upper() + label[1:]


def variable_label(name: str, labels: Mapping[str, str] | None = None) -> str:
    """A column name in words: the study's label for it, else the name with spaces."""
    return (labels or {}).get(name) or name.replace("_", " ").capitalize()


@dataclass(frozen=True, kw_only=True, eq=False)
class Study:
    """Everything a study is: cohort, roles, split, feature families, settings, labels, name.

    Attributes
    ----------
    name : str
    cohort : pandas.DataFrame
        The validated clinical table, indexed by patient ID (text; the index is named after
        ``spec.id_column``): the outcome as 0/1, continuous variables as float, categorical ones as text.
    spec : CohortSpec
        The variables' roles: ID and outcome columns, continuous and categorical variables.
    split : CohortSplit
        Training and test patient IDs and the settings that drew them.
    families : tuple of FeatureFamily
    combined : tuple of CombinedFamily
    settings : ModelSettings
    labels : mapping
        Display label per variable (e.g. "cea_ng_ml" -> "CEA (ng/mL)").
    subgroup : SubgroupSettings or None
        The study's default subgroup comparison (the sample's: synchronous vs metachronous LM).
    is_sample : bool
        The bundled synthetic study.
    exclusions : tuple of (str, str)
        Patients taken out of the study after it was opened, with why (e.g. missing values): reported
        in the report's participants, never silent.
    evaluation : EvaluationSettings
        The cut-off rule, its value and the proportion-CI method (Evaluation, External validation, the report).
    validation : core.workflows.validation.InternalValidation or None
        The latest internal-validation run (bootstrap, repeated CV), a result kept with the study so the
        report and a reopened study have it. Not part of :attr:`fingerprint` (it is made from the study,
        not a choice); it counts only while it matches :attr:`validation_key` (see :meth:`current_validation`).
    author_notes : mapping of str to str
        The author's own answers to reporting-checklist items the run cannot know (ethics, funding, ...), by
        ``"<checklist>:<item>"`` (e.g. ``"tripod_ai:18c"``); saved with the study, not part of any fingerprint.

    Raises
    ------
    RadNomoError
        If the parts do not fit together (unknown IDs in the split, overlapping cohorts, duplicated
        family names, a combined family of unknown members, a fused score that is no family).
    """

    name: str
    cohort: pd.DataFrame
    spec: CohortSpec
    split: CohortSplit
    families: tuple[FeatureFamily, ...] = ()
    combined: tuple[CombinedFamily, ...] = ()
    settings: ModelSettings = field(default_factory=ModelSettings)
    labels: Mapping[str, str] = field(default_factory=dict)
    subgroup: SubgroupSettings | None = None
    is_sample: bool = False
    exclusions: tuple[tuple[str, str], ...] = ()
    evaluation: EvaluationSettings = field(default_factory=EvaluationSettings)
    validation: InternalValidation | None = None
    author_notes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or not str(self.name).strip():
            raise RadNomoError("a study needs a name.")
        index = self.cohort.index
        if index.name != self.spec.id_column:
            raise RadNomoError(f"the cohort must be indexed by its ID column '{self.spec.id_column}'.")
        if index.has_duplicates:
            raise RadNomoError("the cohort has duplicated patient IDs.")
        train, test = set(self.split.train_ids), set(self.split.test_ids)
        if train & test:
            raise RadNomoError(f"{len(train & test)} patient(s) are in both the training and the test cohort, e.g. "
                               f"{sorted(train & test)[:3]}.")
        unknown = (train | test) - set(index)
        if unknown:
            raise RadNomoError(f"the split names {len(unknown)} patient(s) that are not in the cohort, e.g. "
                               f"{sorted(unknown)[:3]}.")
        if len(train) < 2:
            raise RadNomoError("the training cohort needs patients.")
        names = [f.name for f in self.families] + [c.name for c in self.combined]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise RadNomoError(f"feature family name(s) {duplicated} are used twice; each family needs its own name.")
        # Pages, figures and the report name families by label: two families under one label cannot be told apart.
        by_label: dict[str, list[str]] = {}
        labelled: tuple[FeatureFamily | CombinedFamily, ...] = (*self.families, *self.combined)
        for family in labelled:
            by_label.setdefault(family.label.strip().casefold(), []).append(family.name)
        for named in by_label.values():
            if len(named) > 1:
                raise RadNomoError(f"feature families {' and '.join(repr(n) for n in named)} share the label "
                                   f"'{self.family_label(named[0])}'; give each family its own label.")
        singles = {f.name for f in self.families}
        for combined in self.combined:
            unknown_members = [m for m in combined.members if m not in singles]
            if unknown_members:
                raise RadNomoError(f"combined family '{combined.name}' names unknown families {unknown_members}; "
                                   f"the study has {sorted(singles)}.")
        self.settings.check_outcome(self.spec.outcome)
        fused = self.settings.fused_score
        if fused is not None and fused not in names:
            raise RadNomoError(f"the fused model's score '{fused}' is not a family of this study ({names}).")

    # -- construction -----------------------------------------------------------------------

    def replace(self, **changes) -> Study:
        """A new study with ``changes`` (any field) applied; this one is left as it is."""
        return dataclasses.replace(self, **changes)

    def with_settings(self, **changes) -> Study:
        """A new study whose :class:`ModelSettings` have ``changes`` applied."""
        return self.replace(settings=dataclasses.replace(self.settings, **changes))

    def with_roles(self, continuous: Sequence[str], categorical: Sequence[str]) -> Study:
        """A new study with other clinical variables (the cohort re-validated for their types).

        Raises
        ------
        RadNomoError
            If a column is not in the cohort, is the ID or outcome, or a continuous one holds text.
        """
        spec = self.spec.with_variables(continuous, categorical)
        validated = validate_cohort(self.cohort_table(), spec.id_column, spec.outcome,
                                    continuous=spec.continuous, categorical=spec.categorical)
        return self.replace(spec=spec, cohort=validated.set_index(spec.id_column))

    def without_patients(self, ids: Sequence[str], reason: str) -> Study:
        """A new study without the patients ``ids`` (cohort, split and feature tables), recorded with ``reason``.

        Raises
        ------
        RadNomoError
            If an ID is not in the study, or too few patients would be left to fit anything.
        """
        ids = list(dict.fromkeys(ids))
        unknown = [i for i in ids if i not in self.cohort.index]
        if unknown:
            raise RadNomoError(f"{len(unknown)} patient(s) to exclude are not in the study, e.g. {unknown[:3]}.")
        gone = set(ids)
        train = tuple(i for i in self.split.train_ids if i not in gone)
        test = tuple(i for i in self.split.test_ids if i not in gone)
        cohort = self.cohort.drop(index=ids)
        if not self.spec.outcome.has_contrast(cohort.loc[list(train)]):
            raise RadNomoError(f"excluding {len(ids)} patient(s) would leave the training cohort without both "
                               "outcomes.")
        families = tuple(dataclasses.replace(f, table=f.table.drop(index=[i for i in ids if i in f.table.index]))
                         for f in self.families)
        return self.replace(cohort=cohort, split=dataclasses.replace(self.split, train_ids=train, test_ids=test),
                            families=families, exclusions=self.exclusions + tuple((i, reason) for i in ids))

    def with_family(self, family: FeatureFamily) -> Study:
        """A new study with ``family`` added, or replacing the family of the same name (same place)."""
        if family.name in self.family_names:
            families = tuple(family if f.name == family.name else f for f in self.families)
        else:
            families = (*self.families, family)
        return self.replace(families=families)

    def excluding(self, columns: Sequence[str]) -> Study:
        """A new study that never uses ``columns`` as features: they join ``settings.excluded_features`` (saved
        with the study); a clinical variable among them also leaves the clinical roles and the clinical model's
        chosen predictors (a column that restates the outcome must not be a predictor either).

        Raises
        ------
        RadNomoError
            If a column is the study's ID or outcome column (never a feature or predictor already).
        """
        columns = [str(c) for c in columns]
        roles = [c for c in columns if c in self.spec.reserved_columns]
        if roles:
            raise RadNomoError(f"{roles} is the study's ID or outcome column, which is never a feature already.")
        settings = self.settings
        excluded = tuple(dict.fromkeys((*settings.excluded_features, *columns)))

        def kept(names: tuple[str, ...] | None) -> tuple[str, ...] | None:  # None: the default choice stays
            return None if names is None else tuple(c for c in names if c not in columns)

        study = self.replace(settings=dataclasses.replace(
            settings, excluded_features=excluded, clinical_continuous=kept(settings.clinical_continuous),
            clinical_categorical=kept(settings.clinical_categorical)))
        if any(c in self.spec.variables for c in columns):
            study = study.with_roles([c for c in self.spec.continuous if c not in columns],
                                     [c for c in self.spec.categorical if c not in columns])
        return study

    def without_family(self, name: str) -> Study:
        """A new study without the family ``name`` (and without the combined families that need it)."""
        families = tuple(f for f in self.families if f.name != name)
        combined = tuple(c for c in self.combined if name not in c.members)
        remaining = {f.name for f in families} | {c.name for c in combined}
        settings = self.settings
        if settings.fused_score is not None and settings.fused_score not in remaining:
            settings = dataclasses.replace(settings, fused_score=None)
        return self.replace(families=families, combined=combined, settings=settings)

    def resplit(self, config: SplitConfig) -> Study:
        """A new study with the cohort split again by ``config``. Radiomics and imported features (computed per
        case, nothing learned) are kept; a family that learned from the old training cohort (the autoencoder's
        latent features) is dropped unless the training cohort is the same, or test patients would leak into
        the features."""
        new_split = split_cohort(self.cohort_table(), self.spec, config)
        kept = self
        if new_split.train_ids != self.split.train_ids:
            for family in self.families:
                if source_of(family).learns_from_training:  # e.g. an autoencoder trained on the old patients
                    kept = kept.without_family(family.name)
        return kept.replace(split=new_split)

    # -- the cohort -------------------------------------------------------------------------

    @property
    def outcome(self) -> pd.Series:
        """0/1 event indicator per patient ID (``spec.outcome.events``: a binary outcome itself)."""
        return self.spec.outcome.events(self.cohort)

    @property
    def n_events(self) -> int:
        """Patients with the event, in the whole cohort."""
        return self.spec.outcome.n_events(self.cohort)

    @property
    def train_ids(self) -> list[str]:
        return list(self.split.train_ids)

    @property
    def test_ids(self) -> list[str]:
        return list(self.split.test_ids)

    @property
    def has_test(self) -> bool:
        """False for a study that trains on every patient (no held-out test cohort)."""
        return len(self.split.test_ids) > 0

    @property
    def train(self) -> pd.DataFrame:
        """The training patients' rows of the cohort."""
        return self.cohort.loc[self.train_ids]

    def cohorts(self) -> dict[str, list[str]]:
        """Cohort name -> patient IDs: "train" and, when the study has one, "test"."""
        out = {"train": self.train_ids}
        if self.has_test:
            out["test"] = self.test_ids
        return out

    def cohort_table(self) -> pd.DataFrame:
        """The cohort with the ID as a column (for functions that take a table with an ID column)."""
        return self.cohort.reset_index()

    def label(self, variable: str) -> str:
        """A variable (or score column) in words."""
        family = family_of_score(variable)
        if family in self.score_families:
            return f"{self.family_label(family)} score"
        return variable_label(variable, self.labels)

    # -- feature families -------------------------------------------------------------------

    @property
    def family_names(self) -> list[str]:
        """The single families, in the order they were added."""
        return [f.name for f in self.families]

    @property
    def score_families(self) -> list[str]:
        """Every family that gets a score: single ones, then combined ones."""
        return [*self.family_names, *(c.name for c in self.combined)]

    def family(self, name: str) -> FeatureFamily:
        for family in self.families:
            if family.name == name:
                return family
        raise RadNomoError(f"the study has no feature family '{name}'; it has {self.family_names}.")

    def members(self, name: str) -> tuple[str, ...]:
        """The single families a family is made of (itself for a single family)."""
        for combined in self.combined:
            if combined.name == name:
                return combined.members
        self.family(name)
        return (name,)

    def label_for_family(self, name: str, label: str = "") -> str:
        """The label a family named ``name`` gets when it is made or replaced here: ``label`` when one is given,
        else its current label when the study has a family of that name, else the name in words
        (:func:`default_family_label`: "dl" -> "DL", "arterial_phase" -> "Arterial phase"). So a label follows
        its family's name unless the user gives one."""
        if label.strip():
            return label.strip()
        if name in self.family_names:
            return self.family_label(name)
        return default_family_label(name)

    def family_label(self, name: str) -> str:
        for combined in self.combined:
            if combined.name == name:
                return combined.label
        return self.family(name).label

    def feature_tables(self) -> dict[str, pd.DataFrame]:
        """Single family name -> feature table."""
        return {f.name: f.table for f in self.families}

    def feature_table(self, name: str, tables: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
        """The features of a family: its table, or its members' tables side by side (patients with all).

        ``tables`` (single family -> table) replaces the study's own tables, e.g. harmonised ones.
        """
        tables = tables if tables is not None else self.feature_tables()
        members = self.members(name)
        table = tables[members[0]]
        for member in members[1:]:
            table = table.join(tables[member], how="inner")
        return table

    @property
    def fused_family(self) -> str | None:
        """The family whose score the fused model takes: the setting, else the last combined family, else
        the first family; None for a study without features."""
        if self.settings.fused_score is not None:
            return self.settings.fused_score
        if self.combined:
            return self.combined[-1].name
        return self.families[0].name if self.families else None

    # -- models -----------------------------------------------------------------------------

    @property
    def model_names(self) -> list[str]:
        """Every model the study can have, in display order: clinical, one per score family, fused, then each
        comparator learner's model of each family (:attr:`comparator_models`)."""
        return [CLINICAL, *self.score_families, *([FUSED] if self.fused_family else []), *self.comparator_models]

    @property
    def comparator_models(self) -> dict[str, tuple[str, str]]:
        """Comparator model name -> (its family, its learner), per family then learner (e.g.
        ``radiomics_random_forest`` -> ("radiomics", "random_forest")); empty without comparators."""
        return {comparator_name(family, learner): (family, learner)
                for family in self.score_families for learner in self.settings.comparators}

    def model_label(self, model: str) -> str:
        """A model in words: "Clinical model", "<family> score", "Fused model (<family> score + clinical)",
        "<family>: <learner>" for a comparator."""
        if model == CLINICAL:
            return "Clinical model"
        if model == FUSED:
            family = self.fused_family
            return f"Fused model ({self.family_label(family)} score + clinical)" if family else "Fused model"
        if model in self.comparator_models:
            family, learner = self.comparator_models[model]
            return f"{self.family_label(family)}: {COMPARATOR_METHODS[learner]}"
        return f"{self.family_label(model)} score"

    def model_labels(self) -> dict[str, str]:
        return {m: self.model_label(m) for m in self.model_names}

    # -- identity ---------------------------------------------------------------------------

    @cached_property
    def data_fingerprint(self) -> str:
        """A hash of the data and design (cohort, roles, split, feature tables), not of the settings."""
        families = [(f.name, f.label, f.kind, table_fingerprint(f.table), table_fingerprint(f.reader2),
                     f.autoencoder.sha256 if f.autoencoder else None) for f in self.families]
        combined = [(c.name, c.label, list(c.members)) for c in self.combined]
        spec = self.spec.identity()
        split = [list(self.split.train_ids), list(self.split.test_ids), dataclasses.asdict(self.split.config)]
        return _hash(table_fingerprint(self.cohort), spec, split, families, combined, list(self.exclusions))

    @cached_property
    def model_fingerprint(self) -> str:
        """A hash of what the fitted models depend on and describe: data, roles, split, families, model
        settings, labels and name (not the evaluation settings: a new cut-off rule refits nothing)."""
        return _hash(self.data_fingerprint, self.settings.to_dict(), self.name, dict(self.labels),
                     None if self.subgroup is None else self.subgroup.to_dict(), self.is_sample)

    @cached_property
    def fingerprint(self) -> str:
        """A hash of everything the study is: any change of data, roles, split, families, settings (the
        evaluation settings included), labels or name changes it."""
        if self.evaluation == EvaluationSettings():
            # The defaults leave the hash as it was before evaluation settings existed, so fits stored
            # under it (the bundled sample fit, saved studies) still belong to the study.
            return self.model_fingerprint
        return _hash(self.model_fingerprint, self.evaluation.to_dict())

    @cached_property
    def validation_key(self) -> str:
        """A hash of what an internal validation depends on: the data, design and model settings."""
        return _hash(self.data_fingerprint, self.settings.to_dict())

    def current_validation(self) -> InternalValidation | None:
        """The study's internal-validation run when it was made on this study's data and settings, else None."""
        run = self.validation
        return run if run is not None and run.key == self.validation_key else None

    def training_key(self, family: str) -> str:
        """A hash of what a family's screening depends on: its members' tables, the training patients'
        outcomes, the harmonisation column and the screening settings."""
        members = self.members(family)
        tables = [(m, table_fingerprint(self.family(m).table), table_fingerprint(self.family(m).reader2))
                  for m in members]
        harmonise = self.settings.harmonise_by
        batch = None if harmonise is None or harmonise not in self.cohort else \
            self.cohort[harmonise].astype(str).tolist()
        outcome = self.spec.outcome.values(self.train).to_numpy().tolist()
        # The columns kept out of the features by role or by the user's exclusions change the screening too
        # (added only when there are any, so that other studies keep their keys).
        never = sorted(c for m in members for c in self.never_feature_columns(m))
        return _hash(tables, list(self.split.train_ids), outcome, harmonise, batch,
                     self.settings.screening.to_dict(), self.settings.missing.to_dict(), family,
                     *([never] if never else []))

    def never_feature_columns(self, family: str) -> dict[str, str]:
        """Columns of a single family's table that must never be features, with why: the study's ID and
        outcome columns, its clinical variables and the user's exclusions
        (:func:`core.stats.feature_tables.role_columns`); perfect orderings of the outcome are judged when the
        tables are prepared (:func:`core.workflows.checks.never_features`)."""
        return role_columns(self.family(family).table.columns, id_column=self.spec.id_column,
                            outcome_column=self.spec.outcome.columns, clinical=self.spec.variables,
                            excluded=self.settings.excluded_features)

    def __repr__(self) -> str:
        return (f"Study(name={self.name!r}, patients={len(self.cohort)}, events={self.n_events}, "
                f"train/test={len(self.split.train_ids)}/{len(self.split.test_ids)}, "
                f"families={self.score_families})")


def make_study(name: str, table: pd.DataFrame, spec: CohortSpec, split: CohortSplit | SplitConfig | None = None, *,
               families: Sequence[FeatureFamily] = (), combined: Sequence[CombinedFamily] = (),
               settings: ModelSettings | None = None, labels: Mapping[str, str] | None = None,
               subgroup: SubgroupSettings | None = None, is_sample: bool = False) -> Study:
    """A study from a clinical table as read (the ID as a column): validated, indexed by ID and split.

    Parameters
    ----------
    table : pandas.DataFrame
        The clinical table with ``spec.id_column`` as a column. Rows with a blank ID are left out and
        recorded in :attr:`Study.exclusions` (("file line 7", "a blank ID")), not a reason to refuse it.
    split : CohortSplit, SplitConfig or None
        A split already drawn, or the settings to draw one (the study's 7:3 by default).

    Raises
    ------
    RadNomoError
        From :func:`core.stats.cohort.validate_cohort` and :func:`core.stats.cohort.split_cohort`.
    """
    blank_lines: tuple[int, ...] = ()
    if spec.id_column in table.columns:
        table, blank_lines = without_blank_ids(table, spec.id_column)
    validated = validate_cohort(table, spec.id_column, spec.outcome, continuous=spec.continuous,
                                categorical=spec.categorical)
    if not isinstance(split, CohortSplit):
        split = split_cohort(validated, spec, split)
    cohort = validated.set_index(spec.id_column)
    return Study(name=name, cohort=cohort, spec=spec, split=split, families=tuple(families),
                 combined=tuple(combined), settings=settings or ModelSettings.for_outcome(spec.outcome),
                 labels=dict(labels or {}),
                 subgroup=subgroup, is_sample=is_sample, exclusions=blank_id_exclusions(blank_lines))

