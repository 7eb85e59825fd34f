"""One object owns a study's stages: prepare -> screen (per family) -> fit -> predict -> evaluate -> nomogram -> report.

:class:`StudyResults` computes each stage of a :class:`~core.workflows.study.Study` on first use and keeps it in
a :class:`StageStore`, keyed by the part of the study's content the stage depends on (its fingerprints): a
p-threshold change re-screens and refits but reuses the prepared tables; a new cut-off rule re-evaluates but
refits nothing; a change of roles, settings, split or table gives new keys, so a stale result is never served.
Several results objects (the pages of one session, another session on the same study, a background fit, the
report, the command line) share one store, and a stage being computed by one caller is waited for, not
computed twice. A saved fit seeds the store (the bundled sample's stored fit, a reopened study's models).

Every stage is a core function (:mod:`core.workflows.fit`, :mod:`core.workflows.evaluation`,
:mod:`core.workflows.report` ...); this module only orders and memoises them. The dashboard caches one
``StudyResults`` per study (``ui.results``); a notebook or the command line makes its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

import pandas as pd

from core.errors import RadNomoError
from core.workflows.fit import (PreparedTables, StudyModels, clinical_univariable, fit_models, predict_study,
                                prepare_tables, screen_family, usable_families)
from core.workflows.study import Study, table_fingerprint

__all__ = ["StudyResults", "StageStore", "BackgroundFits", "STAGES", "results_key", "reopen_study", "warm_up_solver"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# Each stage: what a person waiting for it is told, and how many results of it a store keeps (the oldest
# used goes first). The numbers bound a server's memory: a 1,001-patient study's stages weigh a few MB each.
STAGES: dict[str, tuple[str, int]] = {
    "prepared": ("Preparing the features (missing values, harmonisation)...", 8),
    "screening_memo": ("", 16),
    "usable": ("", 8),
    "screening": ("Screening the features on the training cohort...", 48),
    "models": ("Fitting the study's models on the training cohort...", 12),
    "stored_fit": ("", 2),
    "predictions": ("", 12),
    "univariable": ("", 12),
    "evaluation": ("Evaluating the models on every cohort...", 12),
    "nomogram": ("Drawing up the nomogram...", 24),
    "explanations": ("Explaining the scores and comparator learners (SHAP)...", 8),
    "typical_inputs": ("", 24),
    "compliance": ("", 8),
    "stability": ("Repeating the LASSO-CV on resamples of the training cohort...", 8),
    "leakage": ("Running the pipeline twice: honest and leaky screening...", 4),
    "report": ("Writing the report...", 4),
    "tour": ("Fitting the sample study with the reference study's clinical model...", 2),
    "truth": ("", 1),
    "emulators": ("Learning how the sample's features follow its hidden phenotype...", 1),
}

_MISSING = object()


class StageStore:
    """A thread-safe, bounded memo of stage results: ``(stage, key) -> value``.

    One computation per key at a time: a second caller asking for a key being computed waits for it and
    gets the same object. A computation that raises stores nothing (the next caller tries again and gets
    the same error, e.g. a RadNomoError the page shows). Results are shared, never copied: they are frozen
    objects and tables nobody modifies.

    Attributes
    ----------
    computed : collections.Counter
        How many times each stage was computed in this store (for tests and diagnostics).
    """

    def __init__(self, sizes: Mapping[str, int] | None = None) -> None:
        self._sizes = {stage: size for stage, (_, size) in STAGES.items()} | dict(sizes or {})
        self._values: dict[str, OrderedDict[str, Any]] = {stage: OrderedDict() for stage in self._sizes}
        self._lock = threading.Lock()
        self._computing: dict[tuple[str, str], threading.Lock] = {}
        self.computed: Counter[str] = Counter()

    def peek(self, stage: str, key: str) -> Any:
        """The stored value, or the module's ``_MISSING`` sentinel when absent (a stored None is a value)."""
        with self._lock:
            values = self._values[stage]
            if key in values:
                values.move_to_end(key)
                return values[key]
            return _MISSING

    def has(self, stage: str, key: str) -> bool:
        """Whether ``stage`` is stored under ``key`` (nothing is computed)."""
        return self.peek(stage, key) is not _MISSING

    def put(self, stage: str, key: str, value: Any) -> None:
        """Store ``value`` (e.g. a saved fit standing for the stage), evicting the least recently used."""
        with self._lock:
            values = self._values[stage]
            values[key] = value
            values.move_to_end(key)
            while len(values) > self._sizes[stage]:
                values.popitem(last=False)

    def get(self, stage: str, key: str, compute: Callable[[], T],
            announce: Callable[[str], AbstractContextManager] | None = None) -> T:
        """The value of ``stage`` under ``key``, computed by ``compute()`` once when absent.

        ``announce(message)``, when given, is entered around a computation (the dashboard shows a spinner).
        """
        value = self.peek(stage, key)
        if value is not _MISSING:
            return value
        with self._lock:
            gate = self._computing.setdefault((stage, key), threading.Lock())
        with gate:  # callers of the same key queue here; the first computes, the others find its result
            value = self.peek(stage, key)
            if value is not _MISSING:
                return value
            message = STAGES.get(stage, ("", 0))[0]
            try:
                with announce(message) if announce is not None and message else nullcontext():
                    value = compute()
            finally:
                with self._lock:
                    self._computing.pop((stage, key), None)
            self.put(stage, key, value)
            with self._lock:
                self.computed[stage] += 1
            return value


def reopen_study(folder, store: StageStore | None = None) -> Study:
    """A saved study, exactly as it was saved (its split included), with its saved fit (when there is one, and it
    is this study's: :func:`core.workflows.persistence.load_study_models`) seeded into ``store``.

    Raises
    ------
    RadNomoError
        For a folder that does not hold a study RadNomo can open, or saved models that are refused.
    """
    from core.workflows.persistence import load_study, load_study_models

    study = load_study(folder)
    models = load_study_models(folder, study)
    if models is not None:
        StudyResults(study, store).seed(models)
    return study


def results_key(study: Study) -> str:
    """Everything a study's results depend on: its :attr:`~core.workflows.study.Study.fingerprint`, its latest
    internal validation run (kept with the study, outside the fingerprint; table hashes stand for the run) and the
    author's checklist answers (its report and checklists show them)."""
    run = study.current_validation()
    parts = [study.fingerprint, *(table_fingerprint(getattr(run, part, None)) for part in ("optimism", "cv"))]
    if study.author_notes:  # a study without any keeps the key it had
        parts.append(hashlib.sha256(json.dumps(sorted(study.author_notes.items())).encode()).hexdigest()[:16])
    return "|".join(parts)


class StudyResults:
    """Every result of one study, each computed once per content change and shared through a store.

    Parameters
    ----------
    study : Study
    store : StageStore, optional
        Shared with other results objects (of this study or others); a fresh one by default.
    announce : callable, optional
        ``announce(message)`` -> context manager entered around a stage's computation (a spinner).
    """

    def __init__(self, study: Study, store: StageStore | None = None, *,
                 announce: Callable[[str], AbstractContextManager] | None = None) -> None:
        self.study = study
        self.store = store if store is not None else StageStore()
        self._announce = announce

    def __repr__(self) -> str:
        return f"StudyResults({self.study.name!r}, fingerprint={self.study.fingerprint[:12]})"

    def _get(self, stage: str, key: str, compute: Callable[[], T]) -> T:
        return self.store.get(stage, key, compute, self._announce)

    # -- keys: what each stage depends on ------------------------------------------------------

    @property
    def prepared_key(self) -> str:
        """The data and the settings that shape the tables the models see (missing values, harmonisation,
        exclusions); the screening and model settings are not part of it."""
        settings = self.study.settings
        return (f"{self.study.data_fingerprint}|{settings.harmonise_by}|{settings.missing.to_dict()}|"
                f"{settings.excluded_features}")

    def _memo_key(self, family: str) -> str:
        """What the variance and redundancy steps of a family depend on, besides their own thresholds."""
        return f"{self.prepared_key}|{family}|{self.study.settings.screening.icc_threshold}"

    # -- seeding from a saved fit -------------------------------------------------------------

    def seed(self, models: StudyModels) -> None:
        """Let a saved fit of this study stand for its fit (a reopened study, the bundled sample): its models,
        and each family's screening when it was stored with them."""
        self.store.put("models", self.study.model_fingerprint, models)
        for family, result in models.screening.items():
            self.store.put("screening", self.study.training_key(family), result)

    def _seed_stored_fit(self) -> None:
        """The sample study with its stored settings comes fitted (sample_data/fitted): seeded once per store."""
        if not self.study.is_sample:
            return

        def load() -> StudyModels | None:
            from core.workflows.sample import load_sample_fit

            stored = load_sample_fit(self.study)
            if stored is not None:
                self.seed(stored)
            return stored

        self._get("stored_fit", self.study.model_fingerprint, load)

    # -- the stages -----------------------------------------------------------------------------

    @property
    def prepared(self) -> PreparedTables:
        """:func:`core.workflows.fit.prepare_tables`: missing values and harmonisation, fitted on training."""
        return self._get("prepared", self.prepared_key, lambda: prepare_tables(self.study))

    @property
    def usable_families(self) -> list[str]:
        """Score families whose training patients all have features (:func:`core.workflows.fit.usable_families`)."""
        # Kept: a combined family's table is a join, and the Selection page asks on every rerun.
        return list(self._get("usable", self.prepared_key,
                              lambda: usable_families(self.study, self.prepared.tables)))

    def screening(self, family: str):
        """The family's :class:`core.stats.selection.ScreeningResult` under the study's current settings."""
        self._seed_stored_fit()

        def compute():
            memo = self._get("screening_memo", self._memo_key(family), dict)  # early steps, reused by threshold
            return screen_family(self.study, family, self.prepared.tables, memo=memo)

        return self._get("screening", self.study.training_key(family), compute)

    @property
    def screenings(self) -> dict:
        """Family -> screening result, for every usable family."""
        return {family: self.screening(family) for family in self.usable_families}

    @property
    def models(self) -> StudyModels:
        """Every fitted model (:func:`core.workflows.fit.fit_models`); refitting waits for no evaluation setting."""
        self._seed_stored_fit()
        return self._get("models", self.study.model_fingerprint,
                         lambda: fit_models(self.study, self.prepared, self.screenings))

    @property
    def fitted_models(self) -> StudyModels | None:
        """:attr:`models`, or None when the study cannot be fitted yet (e.g. no clinical predictor and no score):
        what a save or a share keeps with the study's data and settings."""
        try:
            return self.models
        except RadNomoError:
            return None

    @property
    def predictions(self) -> pd.DataFrame:
        """Every model's probability and every score for every patient (index: patient ID)."""
        return self._get("predictions", self.study.model_fingerprint,
                         lambda: predict_study(self.study, self.models))

    @property
    def clinical_univariable(self) -> pd.DataFrame:
        """Each clinical variable alone against the outcome on training (no feature screened: fast)."""
        return self._get("univariable", self.study.model_fingerprint, lambda: clinical_univariable(self.study))

    @property
    def evaluation(self):
        """:func:`core.workflows.evaluation.evaluate_study`: discrimination, Table 2 at the study's cut-off
        rule, calibration and decision curves, computed once for the pages and the report."""
        def compute():
            from core.workflows.evaluation import evaluate_study

            return evaluate_study(self.study, self.models, self.predictions)

        return self._get("evaluation", self.study.fingerprint, compute)

    @property
    def explanations(self) -> dict:
        """:func:`core.workflows.explanations.study_explanations`: each score's and comparator's SHAP values on the
        training patients (model name -> :class:`core.stats.explanations.Explanation`)."""
        def compute():
            from core.workflows.explanations import study_explanations

            return study_explanations(self.study, self.models)

        return self._get("explanations", self.study.model_fingerprint, compute)

    @property
    def explanations_ready(self) -> bool:
        """Whether :attr:`explanations` is stored for the current fit (asking for it then costs nothing)."""
        return self.store.has("explanations", self.study.model_fingerprint)

    def nomogram(self, model: str):
        """The :class:`core.stats.modeling.Nomogram` of one fitted model (on the training patients)."""
        return self._get("nomogram", f"{self.study.model_fingerprint}|{model}",
                         lambda: self.models.nomogram(self.study, self.predictions, model))

    def typical_inputs(self, variables: Sequence[str], levels: Mapping[str, Sequence[str]]) -> dict:
        """Where a calculator's inputs start: the training median of each numeric variable (scores included)
        and the most frequent level of each categorical one (:func:`core.stats.summaries.typical_values`)."""
        def compute() -> dict:
            from core.stats.summaries import typical_values

            train = self.study.train
            scores = [v for v in variables if v not in train.columns]  # a model's score: from the predictions
            if scores:
                train = train.join(self.predictions.loc[self.study.train_ids, scores])
            return typical_values(train, list(variables), {v: tuple(levels[v]) for v in levels})

        key = f"{self.study.model_fingerprint}|{tuple(variables)}|{sorted((v, tuple(levels[v])) for v in levels)}"
        return dict(self._get("typical_inputs", key, compute))

    def family_compliance(self, family: str) -> pd.DataFrame:
        """IBSI tag and measured compliance of each feature of a family
        (:func:`core.workflows.checks.family_compliance`)."""
        def compute() -> pd.DataFrame:
            from core.workflows.checks import family_compliance

            return family_compliance(self.study, family)

        return self._get("compliance", f"{self.study.data_fingerprint}|{family}", compute)

    def stability(self, family: str, columns: Sequence[str], repeats: int, bootstrap: bool):
        """(frequency, runs) of :func:`core.stats.selection.selection_stability` on the training patients."""
        def compute():
            from core.stats.outcome_statistics import statistics_for
            from core.stats.selection import selection_stability

            study, settings = self.study, self.study.settings.screening
            X = study.feature_table(family, self.prepared.tables).loc[study.train_ids, list(columns)]
            # The outcome as the outcome type's LASSO fits it (0/1; the time/event frame of a time-to-event study).
            y = study.spec.outcome.values(study.cohort).loc[study.train_ids]
            return selection_stability(X, y, n_repeats=repeats, bootstrap=bootstrap, n_folds=settings.n_folds,
                                       rule=settings.rule, seed=settings.seed,
                                       statistics=statistics_for(study.spec.outcome).screening)

        key = f"{self.study.training_key(family)}|{tuple(columns)}|{repeats}|{bootstrap}"
        return self._get("stability", key, compute)

    @property
    def leakage(self) -> pd.DataFrame:
        """Test AUCs of the models with training-only vs all-patient screening
        (:func:`core.workflows.teaching.leakage_demo`)."""
        def compute() -> pd.DataFrame:
            from core.workflows.teaching import leakage_demo

            return leakage_demo(self.study, honest=self.models)

        return self._get("leakage", self.study.model_fingerprint, compute)

    @property
    def tour_numbers(self):
        """:class:`core.workflows.tour.TourNumbers` when this study is the guided tour's
        (:func:`core.workflows.tour.tour_study`): stored with the sample (python -m core.cli.sample_fit), computed
        only for other settings."""
        def compute():
            from core.workflows.tour import compute_tour, load_tour

            stored = load_tour(self.study)
            return stored if stored is not None else compute_tour(self.study, self.models)

        return self._get("tour", self.study.fingerprint, compute)

    @property
    def sample_truth(self) -> pd.DataFrame:
        """The sample cohort's hidden phenotype (generator_truth.csv): for teaching only, never a predictor."""
        from core.workflows.sample import load_sample_truth

        return self._get("truth", "sample", load_sample_truth)

    @property
    def emulators(self) -> dict:
        """:class:`core.workflows.teaching.FeatureEmulator` per family of this (rendered sample) study, fitted on its
        hidden phenotype (:func:`core.workflows.teaching.sample_emulators`)."""
        def compute() -> dict:
            from core.workflows.teaching import sample_emulators

            return sample_emulators(self.sample_truth, self.study)

        return self._get("emulators", self.study.data_fingerprint, compute)

    def report(self, externals: Sequence = ()):
        """The study's report (:class:`core.workflows.report.Report`) with its latest internal validation and
        the external cohorts ``externals`` (:class:`core.workflows.external.ExternalCohort`)."""
        run = self.study.current_validation()
        key = "|".join([results_key(self.study), *(f"{e.name}:{table_fingerprint(e.cohort)}" for e in externals)])

        def compute():
            from core.workflows.report import build_report

            return build_report(self.study, self.models, self.predictions, screening=self.screenings,
                                externals=tuple(externals), validation=run, evaluation=self.evaluation,
                                explanations=self.explanations if self.models.comparators else None)

        return self._get("report", key, compute)


class BackgroundFits:
    """Fits studies in the background for the sessions that ask, so that the next page finds them ready.

    Requests belong to a session: a newer request of a session replaces its pending one and stops its running
    one at the next family (a user moving a threshold several times does not start a fit for each value), and
    never touches another session's. At most ``max_workers`` threads fit at once, all sessions together;
    requests beyond wait their turn, the session that asked first served first. Results go into the
    :class:`StageStore` of the requested :class:`StudyResults`, where the pages find them.

    Parameters
    ----------
    max_workers : int
        Threads fitting at once.
    delay_s : float
        Each worker waits this long before taking a request (the page that changed a setting draws first, and
        a later change of the same session replaces the request before any work is done).
    """

    def __init__(self, max_workers: int = 2, delay_s: float = 1.0) -> None:
        self.max_workers = max_workers
        self.delay_s = delay_s
        self._pending: OrderedDict[str, tuple[StudyResults, int]] = OrderedDict()
        self._generation: dict[str, int] = {}
        self._workers: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def request(self, session: str, results: StudyResults) -> None:
        """Fit ``results``' study for ``session`` in the background (replacing that session's earlier request)."""
        with self._lock:
            generation = self._generation.get(session, 0) + 1
            self._generation[session] = generation
            self._pending.pop(session, None)  # re-queued at the end: sessions are served in the order they asked
            self._pending[session] = (results, generation)
            self._workers = {w for w in self._workers if w.is_alive()}
            if len(self._workers) >= self.max_workers:
                return  # a running worker takes it when it finishes its current fit
            worker = threading.Thread(target=self._work, daemon=True, name="background-fit")
            self._workers.add(worker)
        worker.start()

    def workers(self) -> list[threading.Thread]:
        """The worker threads alive now."""
        with self._lock:
            return [w for w in self._workers if w.is_alive()]

    def _current(self, session: str, generation: int) -> bool:
        return self._generation.get(session) == generation

    def _work(self) -> None:
        while True:
            time.sleep(self.delay_s)
            with self._lock:
                if not self._pending:
                    self._workers.discard(threading.current_thread())
                    return
                session, (results, generation) = self._pending.popitem(last=False)  # the longest-waiting session
            try:
                # Family by family, so that a newer request of the same session stops this one at the next family.
                for family in results.usable_families:
                    if not self._current(session, generation):
                        break
                    results.screening(family)
                else:
                    if self._current(session, generation):
                        _ = results.predictions
            except Exception:  # noqa: BLE001 - the page that needs the models shows the error itself
                log.info("background fit of %s failed; the page will report it", results.study.name, exc_info=True)
            with self._lock:  # the session's counter is dropped once nothing of it is pending or running
                if self._current(session, generation) and session not in self._pending:
                    del self._generation[session]


_WARMED = threading.Event()


def warm_up_solver() -> None:
    """Once per process, load the compiled LASSO solver in a background thread (numba reads its cache in about a
    second), so that the first threshold a user changes does not wait for it."""
    if _WARMED.is_set():
        return
    _WARMED.set()

    def work() -> None:
        import numpy as np

        from core.stats.selection import lasso_cv

        rng = np.random.default_rng(0)
        X = pd.DataFrame(rng.normal(size=(60, 4)), columns=list("abcd"))
        lasso_cv(X, (X["a"] + rng.normal(size=60) > 0).astype(int), n_folds=3)

    threading.Thread(target=work, daemon=True, name="warm-up").start()
