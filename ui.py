"""The one shared UI helper: the open study in session state, cached core calls, error guard, downloads.

Pages import this module and ``core``; never each other. Nothing here computes a statistic: every
number comes from a core function, cached here by the open study's content fingerprint
(:attr:`core.workflows.study.Study.fingerprint`), so any change of the study (roles, settings, split,
a feature table, its name) refreshes every result that depends on it. The fitted models and what follows
from them alone are keyed by :attr:`~core.workflows.study.Study.model_fingerprint`, which leaves out the
evaluation settings: a new cut-off rule or CI method refits nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import streamlit as st

from core.errors import RadNomoError
from core.io.limits import limit
from core.io.tables import csv_bytes, read_table
from core.stats.cohort import CohortSpec, SplitConfig
from core.workflows.study import ModelSettings, Study, make_study

log = logging.getLogger(__name__)

STUDY_KEY = "study"
APP_RAN_KEY = "_app_navigation_ran"  # set by app.py once its navigation exists in this session
REDIRECT_KEY = "_redirect_to_page"  # a page asked for before app.py ran
FLASH_KEY = "_flash"  # a message to show after a rerun (e.g. "the study is open")
SPACE_KEY = "_space"  # this browser session's workspace token


def enter_page(page_file: str) -> None:
    """Make sure a page runs inside app.py's navigation; call first thing in every page.

    Streamlit runs a fresh server's first request in its legacy pages-folder mode, so a deep link
    such as /cohort would run pages/cohort.py without app.py (no page config, no sidebar). Such a
    run is sent through app.py, which then opens the page that was asked for.
    """
    if not st.session_state.get(APP_RAN_KEY):
        st.session_state[REDIRECT_KEY] = page_file
        st.switch_page("app.py")
    message = st.session_state.pop(FLASH_KEY, None)
    if message:
        st.success(message, icon=":material/check_circle:")


def finish_app_setup() -> None:
    """Called by app.py after st.navigation: mark the session and honour a pending deep link."""
    st.session_state[APP_RAN_KEY] = True
    target = st.session_state.pop(REDIRECT_KEY, None)
    if target:
        st.switch_page(target)


# ---------------------------------------------------------------------------------------------
# The open study
# ---------------------------------------------------------------------------------------------


@st.cache_resource(show_spinner="Loading the sample study...", max_entries=2)
def _sample_study(test_size: float, seed: int) -> Study:
    from core.workflows.sample import sample_study

    return sample_study(SplitConfig(test_size=test_size, seed=seed))


def sample_study(split: SplitConfig | None = None) -> Study:
    """The bundled sample study (shared read-only by every session: a Study never changes)."""
    split = split or SplitConfig()
    return _sample_study(split.test_size, split.seed)


_WARMED = threading.Event()


def warm_up() -> None:
    """Once per server process, load the compiled LASSO solver in the background (numba reads its cache
    in about a second), so the first threshold change a user makes does not wait for it."""
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


def get_study() -> Study:
    """The open study; the sample study is opened on first use (the dashboard's default)."""
    study = st.session_state.get(STUDY_KEY)
    if study is None:
        study = sample_study()
        st.session_state[STUDY_KEY] = study
    return study


def set_study(study: Study, message: str | None = None, *, rerun: bool = False) -> Study:
    """Make ``study`` the open one (only a fully built study ever replaces the previous one).

    ``rerun``: run the page again so that everything drawn before this call (the sidebar) shows the
    new study; ``message`` is shown at the top of that run.
    """
    st.session_state[STUDY_KEY] = study
    if message:
        st.session_state[FLASH_KEY] = message
    if rerun:
        st.rerun()
    return study


def update_settings(**changes) -> Study:
    """Change the open study's model settings (a new Study; results follow its new fingerprint)."""
    study = get_study()
    settings = study.settings
    new = ModelSettings.from_dict({**settings.to_dict(), **{k: _plain(v) for k, v in changes.items()}})
    if new.to_dict() == settings.to_dict():
        return study
    return set_study(study.replace(settings=new))


def _plain(value):
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return list(value) if isinstance(value, tuple) else value


def open_study(name: str, table: pd.DataFrame, spec: CohortSpec, split: SplitConfig | None = None) -> Study:
    """Validate and split a clinical table and make it the open study (no features yet).

    Raises
    ------
    RadNomoError
        From validation or splitting; the previous study stays open then.
    """
    return set_study(make_study(name, table, spec, split))


def resplit(split: SplitConfig) -> Study:
    """The open study with a new split. Radiomics features (computed per case, nothing learned) are kept; a
    deep family's autoencoder learned from the old training cohort, so it is dropped unless the training
    cohort is the same (or test patients would leak into the features)."""
    from core.stats.cohort import split_cohort

    study = get_study()
    new_split = split_cohort(study.cohort_table(), study.spec, split)
    kept = study
    if new_split.train_ids != study.split.train_ids:
        for family in study.families:
            if family.kind == "deep":
                kept = kept.without_family(family.name)
    return set_study(kept.replace(split=new_split))


@st.cache_data(show_spinner="Reading the table...", max_entries=8)
def read_table_cached(data: bytes, filename: str) -> pd.DataFrame:
    return read_table(data, filename)


def read_notes(frame: pd.DataFrame) -> list[str]:
    """What reading a table noted about it (e.g. the encoding it was read in), to show beside it."""
    from core.io.tables import READ_NOTES

    return list(frame.attrs.get(READ_NOTES, ()))


# ---------------------------------------------------------------------------------------------
# Where this session keeps its files: its own space in the workspace
# ---------------------------------------------------------------------------------------------


def _logged_in_user() -> str | None:
    """The signed-in user's stable ID when the server has Streamlit authentication (st.login) configured."""
    try:
        user = st.user
        if user.get("is_logged_in"):
            return str(user.get("sub") or user.get("email"))
    except (AttributeError, KeyError, RadNomoError):  # no auth configured: st.user has no login state
        return None
    return None


def _browser_cookies() -> dict[str, str]:
    """The cookies the browser sent when this session connected (none in AppTest or a bare script run)."""
    return dict(st.context.cookies)


def space_token() -> str | None:
    """This browser's space token, kept in its ``radnomo_space`` cookie; None for a signed-in user.

    Read once a session from the cookie the browser sent; a browser without one (or with a malformed one)
    gets a fresh token, which :func:`remember_space` stores in the browser. Never read from the page's
    address: a ``?space=`` link is a bearer credential anyone could copy, so it is ignored.
    """
    from core.io.spaces import SPACE_COOKIE, is_space_token, new_space_token

    if _logged_in_user() is not None:
        return None
    token = st.session_state.get(SPACE_KEY)
    if not is_space_token(token):
        token = _browser_cookies().get(SPACE_COOKIE)
        if not is_space_token(token):
            token = new_space_token()
        st.session_state[SPACE_KEY] = token
    return token


def _space_name() -> str:
    from core.io.spaces import space_folder_name

    user = _logged_in_user()
    return space_folder_name(user=user) if user is not None else space_folder_name(token=space_token())


# Runs in the page itself (st.html, not an iframe), so document.cookie is the app's own. Streamlit answers over a
# websocket and cannot set a response cookie, so the cookie is written from script, and a cookie written from
# script cannot be HttpOnly: a script injected into the page could read the token. SameSite=Strict keeps it off
# requests from other sites; Secure where the app is served over HTTPS. A tab that finds another token already in
# the browser (two tabs opened at once) reloads once, so that every tab uses the browser's one space.
_COOKIE_SCRIPT = """<script>
(() => {{
  const name = "{name}", token = "{token}", known = {known};
  const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  const held = found ? found.slice(name.length + 1) : "";
  if (/^[0-9a-f]{{32}}$/.test(held) && held !== token && !known) {{
    if (!sessionStorage.getItem("radnomo_space_reloaded")) {{
      sessionStorage.setItem("radnomo_space_reloaded", "1");
      window.location.reload();
    }}
    return;
  }}
  document.cookie = name + "=" + token + "; Path={path}; Max-Age={max_age}; SameSite=Strict"
    + (window.location.protocol === "https:" ? "; Secure" : "");
}})();
</script>"""


def remember_space() -> None:
    """Called by app.py on every run: keep this browser's space token in its cookie, drop ``?space=`` from the address.

    The cookie lives as long as the space is kept (``RADNOMO_SPACE_MAX_AGE_DAYS``), renewed on every visit, for
    the app's own path. Nothing is written for a signed-in user (their space follows their login).
    """
    from core.io.spaces import SPACE_COOKIE, SPACE_MAX_AGE_DAYS

    if "space" in st.query_params:  # an old link's token: never honoured, and not left in the address to be copied
        del st.query_params["space"]
    token = space_token()
    if token is None:
        return
    base = st.get_option("server.baseUrlPath").strip("/")
    known = "true" if _browser_cookies().get(SPACE_COOKIE) == token else "false"
    st.html(_COOKIE_SCRIPT.format(name=SPACE_COOKIE, token=token, known=known, path=f"/{base}" if base else "/",
                                  max_age=int(SPACE_MAX_AGE_DAYS * 86400)), unsafe_allow_javascript=True)


def user_space() -> Path:
    """This user's own folder in the workspace: saved studies, uploads, scratch files.

    With Streamlit authentication configured (``st.login``, OIDC), the signed-in user's space
    (folder named by a hash of their ID); otherwise this browser's own space, named by a random
    token kept in a browser cookie (:func:`space_token`), so opening the app again in the same
    browser finds it. Nobody lists, opens or overwrites another space; sharing is explicit
    (:func:`share_study`). Each use marks the space as used (unused ones are removed, :func:`clean_up_spaces`).
    """
    from core.io.paths import workspace_dir
    from core.io.spaces import SPACES_FOLDER, touch_space

    folder = workspace_dir() / SPACES_FOLDER / _space_name()
    folder.mkdir(parents=True, exist_ok=True)
    touch_space(folder)
    if not st.session_state.get("_scratch_aged"):  # once a session: old uploads and patient scans go
        from core.io.paths import age_out

        st.session_state["_scratch_aged"] = True
        for scratch in ("uploads", "patients"):
            age_out(folder / scratch)
    return folder


SPACE_CLEANUP_INTERVAL_S = 24 * 3600
_SPACE_CLEANUP = {"last": None}
_SPACE_CLEANUP_LOCK = threading.Lock()


def clean_up_spaces() -> None:
    """Called by app.py: at a server process's first run, then once a day, remove the spaces unused for
    ``RADNOMO_SPACE_MAX_AGE_DAYS`` days (in the background; each removal is logged)."""
    from core.io.paths import workspace_dir
    from core.io.spaces import remove_stale_spaces

    with _SPACE_CLEANUP_LOCK:
        last = _SPACE_CLEANUP["last"]
        if last is not None and time.monotonic() - last < SPACE_CLEANUP_INTERVAL_S:
            return
        _SPACE_CLEANUP["last"] = time.monotonic()

    def work() -> None:
        try:
            remove_stale_spaces(workspace_dir())
        except (OSError, RadNomoError):  # logged; the next day's clean-up tries again
            log.warning("the clean-up of unused spaces failed", exc_info=True)

    threading.Thread(target=work, daemon=True, name="space-clean-up").start()


def studies_dir() -> Path:
    """This user's saved studies."""
    folder = user_space() / "studies"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shared_studies_dir() -> Path:
    """Studies someone shared on purpose, listed for everyone on this server."""
    from core.io.paths import workspace_dir

    folder = workspace_dir() / "shared" / "studies"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _owner() -> tuple[str, str]:
    """This user's public ID (a hash of their space's name, never its token) and how others see them."""
    from core.io.spaces import space_owner

    owner = space_owner(_space_name())
    if _logged_in_user() is not None:
        return owner, str(st.user.get("name") or st.user.get("email") or f"user {owner}")
    return owner, f"anonymous {owner}"


def shared_studies() -> pd.DataFrame:
    """The shared studies with who shared each and when (:func:`core.workflows.sharing.shared_studies`)."""
    from core.workflows.sharing import shared_studies as listed

    return listed(shared_studies_dir())


def share_study(study: Study):
    """Share ``study`` (with its fitted models when they can be fitted) for everyone on this server, as this user.

    Returns the shared folder and its :class:`core.workflows.sharing.ShareRecord`; refused (RadNomoError) when
    another user already shared a study of this name.
    """
    from core.workflows.sharing import share_study as share

    owner, label = _owner()
    return share(study, shared_studies_dir(), owner=owner, owner_label=label, models=_models_if_fitted(study))


def _models_if_fitted(study: Study):
    try:
        return study_models(study)
    except RadNomoError:
        return None  # e.g. no clinical predictor chosen yet: the data and settings are still worth keeping


def save_study(study: Study, folder: Path) -> Path:
    """Save ``study`` with its fitted models (when they can be fitted) into ``folder``."""
    from core.workflows.persistence import save_study as save

    return save(study, folder, _models_if_fitted(study))


def open_saved_study(folder: str | Path) -> Study:
    """Make a saved study the open one, exactly as it was saved (its split included)."""
    from core.workflows.persistence import load_study, load_study_models

    study = load_study(folder)
    models = load_study_models(folder, study)
    if models is not None:
        _models_cached(study.model_fingerprint, study, models)  # the saved fit stands for this study's fit
    return set_study(study)


# ---------------------------------------------------------------------------------------------
# Cached core calls, keyed by the study's content (results are frozen: shared, never copied)
# ---------------------------------------------------------------------------------------------


@st.cache_resource(max_entries=8, show_spinner="Preparing the features (missing values, harmonisation)...")
def _prepared_cached(key: str, _study: Study):
    from core.workflows.fit import prepare_tables

    return prepare_tables(_study)


def prepared(study: Study):
    """:class:`core.workflows.fit.PreparedTables` of the study (the single-family tables the models see)."""
    key = (f"{study.data_fingerprint}|{study.settings.harmonise_by}|{study.settings.missing.to_dict()}|"
           f"{study.settings.excluded_features}")
    return _prepared_cached(key, study)


@st.cache_resource(max_entries=48, show_spinner="Screening the features on the training cohort...")
def _screening_cached(key: str, _study: Study, family: str, _known=None):
    if _known is not None:
        return _known
    from core.workflows.fit import screen_family

    return screen_family(_study, family, prepared(_study).tables, memo=_screening_memo(_memo_key(_study, family)))


def _memo_key(study: Study, family: str) -> str:
    """What the variance and redundancy steps of a family depend on, besides their own thresholds."""
    settings = study.settings
    return (f"{study.data_fingerprint}|{family}|{settings.harmonise_by}|{settings.missing.to_dict()}|"
            f"{settings.screening.icc_threshold}")


@st.cache_resource(max_entries=16, show_spinner=False)
def _screening_memo(key: str) -> dict:
    """The early screening steps' results for one family's training rows (a p-threshold change reuses them)."""
    return {}


def screening(study: Study, family: str):
    """The family's :class:`core.stats.selection.ScreeningResult` under the study's current settings."""
    _seed_sample_fit(study)
    return _screening_cached(study.training_key(family), study, family)


@st.cache_resource(max_entries=1, show_spinner=False)
def _sample_fit(fingerprint: str, _study: Study):
    from core.workflows.sample import load_sample_fit

    return load_sample_fit(_study)


def _seed_sample_fit(study: Study) -> None:
    """The sample study with its default settings comes fitted (sample_data/fitted): its models and screening
    go into the caches instead of being fitted again."""
    if not study.is_sample:
        return
    stored = _sample_fit(study.model_fingerprint, study)
    if stored is None:
        return
    _models_cached(study.model_fingerprint, study, stored)
    for family, result in stored.screening.items():
        _screening_cached(study.training_key(family), study, family, result)


PREFETCH_DELAY_S = 1.0
#: Background fits running at once on this server, all sessions together (RADNOMO_BACKGROUND_FITS).
MAX_PREFETCH_WORKERS = limit("BACKGROUND_FITS", 2)
# Per session: its latest request (study, generation) and its request counter; the worker threads alive.
_PREFETCH: dict = {"pending": {}, "generation": {}, "workers": set()}
_PREFETCH_LOCK = threading.Lock()


def _session_id() -> str:
    """This browser session's ID ("" outside a script run, e.g. in a test calling the function directly)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx(suppress_warning=True)
    return context.session_id if context is not None else ""


def prefetch_models(study: Study, session: str | None = None) -> None:
    """Fit the study's models in the background, so that the next page finds them ready (or waits only for
    the rest: the cache lets one computation run per study, and the results are shared by every session).

    Requests belong to a session (``session``, this browser session's ID by default): a newer request of the
    same session replaces its pending one and stops its running one at the next family (a user moving a
    threshold several times does not start a fit for each value), and never touches another session's.
    At most :data:`MAX_PREFETCH_WORKERS` threads fit at once; requests beyond wait their turn, oldest first.
    """
    key = _session_id() if session is None else session
    with _PREFETCH_LOCK:
        generation = _PREFETCH["generation"].get(key, 0) + 1
        _PREFETCH["generation"][key] = generation
        _PREFETCH["pending"].pop(key, None)  # re-queued at the end: sessions are served in the order they asked
        _PREFETCH["pending"][key] = (study, generation)
        _PREFETCH["workers"] = {w for w in _PREFETCH["workers"] if w.is_alive()}
        if len(_PREFETCH["workers"]) >= MAX_PREFETCH_WORKERS:
            return  # a running worker takes it when it finishes its current fit
        worker = threading.Thread(target=_prefetch_worker, daemon=True, name="prefetch")
        _PREFETCH["workers"].add(worker)
    worker.start()


def prefetch_workers() -> list[threading.Thread]:
    """The background-fit threads alive now (for tests and diagnostics)."""
    with _PREFETCH_LOCK:
        return [w for w in _PREFETCH["workers"] if w.is_alive()]


def _prefetch_worker() -> None:
    while True:
        time.sleep(PREFETCH_DELAY_S)  # let the page that changed the setting draw first; later changes win
        with _PREFETCH_LOCK:
            if not _PREFETCH["pending"]:
                _PREFETCH["workers"].discard(threading.current_thread())
                return
            key = next(iter(_PREFETCH["pending"]))  # the session that has waited longest
            study, generation = _PREFETCH["pending"].pop(key)

        def current() -> bool:
            return _PREFETCH["generation"].get(key) == generation

        try:
            # Family by family, so that a newer request of the same session (the user moved another threshold)
            # stops this one at the next family instead of after the whole fit: the latest setting is fitted first.
            for family in usable_families(study):
                if not current():
                    break
                screening(study, family)
            else:
                if current():
                    study_predictions(study)
        except Exception:  # noqa: BLE001 - the page that needs the models shows the error itself
            log.info("background fit of %s failed; the page will report it", study.name, exc_info=True)
        with _PREFETCH_LOCK:  # the session's counter is dropped once nothing of it is pending or running
            if current() and key not in _PREFETCH["pending"]:
                del _PREFETCH["generation"][key]


def usable_families(study: Study) -> list[str]:
    """Score families whose training patients all have features (the others cannot be screened)."""
    tables = prepared(study).tables
    train = set(study.train_ids)
    return [f for f in study.score_families if all(m in tables for m in study.members(f))
            and train <= set(study.feature_table(f, tables).index)]


@st.cache_resource(max_entries=12, show_spinner="Fitting the study's models on the training cohort...")
def _models_cached(fingerprint: str, _study: Study, _known=None):
    if _known is not None:
        return _known
    from core.workflows.fit import fit_study

    screened = {f: screening(_study, f) for f in usable_families(_study)}
    return fit_study(_study, screening=screened, prepared=prepared(_study))


@st.cache_resource(max_entries=12, show_spinner=False)
def _clinical_univariable_cached(fingerprint: str, _study: Study) -> pd.DataFrame:
    from core.workflows.fit import clinical_univariable

    return clinical_univariable(_study)


def clinical_univariable(study: Study) -> pd.DataFrame:
    """Each clinical variable alone against the outcome on the training patients (no feature screened)."""
    return _clinical_univariable_cached(study.model_fingerprint, study)


def no_clinical_note(models) -> None:
    """One plain note on a page that would show the clinical model, when the study has none (and why)."""
    if models.clinical is None and models.no_clinical:
        st.info(f"This study has {models.no_clinical}. Its models are its scores.", icon=":material/info:")


def study_models(study: Study):
    """Every fitted model of the study (:class:`core.workflows.fit.StudyModels`)."""
    _seed_sample_fit(study)
    # The models do not depend on the evaluation settings: a new cut-off rule refits nothing.
    return _models_cached(study.model_fingerprint, study)


@st.cache_resource(max_entries=12, show_spinner=False)
def _predictions_cached(fingerprint: str, _study: Study) -> pd.DataFrame:
    from core.workflows.fit import predict_study

    return predict_study(_study, study_models(_study))


def study_predictions(study: Study) -> pd.DataFrame:
    """Every model's probability and every score for every patient of the study (index: ID)."""
    return _predictions_cached(study.model_fingerprint, study)


@st.cache_resource(max_entries=12, show_spinner="Drawing up the nomogram...")
def _nomogram_cached(fingerprint: str, _study: Study, model: str):
    return study_models(_study).nomogram(_study, study_predictions(_study), model)


def nomogram(study: Study, model: str):
    """The :class:`core.stats.modeling.Nomogram` of one fitted model of the study."""
    return _nomogram_cached(study.model_fingerprint, study, model)


@st.cache_resource(max_entries=24, show_spinner=False)
def _typical_inputs_cached(fingerprint: str, _study: Study, variables: tuple[str, ...], levels: tuple) -> dict:
    from core.stats.summaries import typical_values

    train = _study.train
    scores = [v for v in variables if v not in train.columns]  # a model's score: from the predictions
    if scores:
        train = train.join(study_predictions(_study).loc[_study.train_ids, scores])
    return typical_values(train, variables, dict(levels))


def typical_inputs(study: Study, variables: list[str], levels: dict) -> dict:
    """Where a calculator's inputs start: the training cohort's median of each numeric variable (scores
    included) and most frequent level of each categorical one (:func:`core.stats.summaries.typical_values`)."""
    key = tuple((v, tuple(levels[v])) for v in variables if v in levels)
    return dict(_typical_inputs_cached(study.model_fingerprint, study, tuple(variables), key))


@st.cache_resource(max_entries=8, show_spinner=False)
def _family_compliance_cached(key: str, _study: Study, family: str) -> pd.DataFrame:
    from core.workflows.checks import family_compliance as compliance

    return compliance(_study, family)


def family_compliance(study: Study, family: str) -> pd.DataFrame:
    """IBSI tag and measured compliance of each feature of a family (:func:`core.workflows.checks.family_compliance`)."""
    return _family_compliance_cached(study.data_fingerprint, study, family)


@st.cache_resource(max_entries=1, show_spinner=False)
def ibsi_compliance_table() -> pd.DataFrame:
    """The shipped IBSI compliance table of both engines (:func:`core.imaging.ibsi.load_compliance`)."""
    from core.imaging.ibsi import load_compliance

    return load_compliance()


@st.cache_resource(max_entries=8, show_spinner="Repeating the LASSO-CV on resamples of the training cohort...")
def _stability_cached(key: str, _study: Study, family: str, columns: tuple[str, ...], repeats: int, bootstrap: bool):
    from core.stats.selection import selection_stability

    X = _study.feature_table(family, prepared(_study).tables).loc[_study.train_ids, list(columns)]
    y = _study.train[_study.spec.outcome_column]
    screening_settings = _study.settings.screening
    return selection_stability(X, y, n_repeats=repeats, bootstrap=bootstrap, n_folds=screening_settings.n_folds,
                               rule=screening_settings.rule, seed=screening_settings.seed)


def stability(study: Study, family: str, columns: tuple[str, ...], repeats: int, bootstrap: bool):
    """(frequency, runs) of :func:`core.stats.selection.selection_stability` on the training cohort."""
    return _stability_cached(f"{study.training_key(family)}|{columns}|{repeats}|{bootstrap}", study, family, columns,
                             repeats, bootstrap)


@st.cache_resource(max_entries=4, show_spinner="Running the pipeline twice: honest and leaky screening...")
def _leakage_cached(fingerprint: str, _study: Study) -> pd.DataFrame:
    from core.workflows.teaching import leakage_demo

    return leakage_demo(_study, honest=study_models(_study))


def leakage(study: Study) -> pd.DataFrame:
    """Test AUCs of the study's models with training-only vs all-patient screening."""
    return _leakage_cached(study.model_fingerprint, study)


@st.cache_resource(max_entries=4, show_spinner="Writing the report...")
def _report_cached(key: str, _study: Study, _externals: tuple = ()):
    from core.workflows.report import build_report

    return build_report(_study, study_models(_study), study_predictions(_study),
                        screening={f: screening(_study, f) for f in usable_families(_study)}, externals=_externals)


EXTERNALS_KEY = "ext_cohorts"  # pages/external.py keeps (the study's data fingerprint, {name: ExternalCohort}) here


def study_externals(study: Study) -> tuple:
    """The external cohorts added on the External validation page for this study's data (this session's)."""
    stored = st.session_state.get(EXTERNALS_KEY)
    if not stored or stored[0] != study.data_fingerprint:
        return ()
    return tuple(stored[1].values())


def study_report(study: Study, externals: tuple = ()):
    """The study's report (:class:`core.workflows.report.Report`: ``.html``, ``.pdf``), with its latest internal
    validation and the external cohorts ``externals``."""
    from core.workflows.study import table_fingerprint

    run = study.current_validation()
    # Table hashes stand for the run and the cohorts (each hash keeps its table referenced, so it stays unique).
    parts = [study.fingerprint, *(table_fingerprint(getattr(run, part, None)) for part in ("optimism", "cv")),
             *(f"{e.name}:{table_fingerprint(e.cohort)}" for e in externals)]
    return _report_cached("|".join(parts), study, tuple(externals))


@st.cache_resource(max_entries=4)
def autoencoder(weights_path: str, weights_sha256: str):
    """A loaded autoencoder in eval mode, shared read-only (keyed by the file's hash too)."""
    from core.imaging.deep.train import load_weights

    return load_weights(weights_path)


@st.cache_data(max_entries=1, show_spinner=False)
def sample_truth() -> pd.DataFrame:
    """The sample cohort's hidden phenotype (generator_truth.csv): for teaching only, never a predictor."""
    from core.workflows.sample import load_sample_truth

    return load_sample_truth()


@st.cache_resource(show_spinner="Learning how the sample's features follow its hidden phenotype...")
def sample_emulators() -> dict:
    """:class:`core.workflows.teaching.FeatureEmulator` per sample family, fitted on the rendered sample cohort."""
    from core.workflows.teaching import sample_emulators as fit_emulators

    return fit_emulators(sample_truth(), sample_study())


@st.cache_resource(max_entries=2, show_spinner="Fitting the sample study with the reference study's clinical model...")
def _tour_cached(fingerprint: str, _tour: Study):
    from core.workflows.tour import compute_tour, load_tour

    # Stored with the sample (python -m core.cli.sample_fit); computed here only for other settings.
    stored = load_tour(_tour)
    return stored if stored is not None else compute_tour(_tour, study_models(_tour))


def tour_numbers(tour: Study):
    """:class:`core.workflows.tour.TourNumbers` of the tour study ``tour`` (core.workflows.tour.tour_study)."""
    return _tour_cached(tour.fingerprint, tour)


# ---------------------------------------------------------------------------------------------
# Rendering helpers
# ---------------------------------------------------------------------------------------------


@contextmanager
def guard() -> Iterator[None]:
    """Show a RadNomoError as an error message on the page and carry on rendering.

    Use around every page action: the action stops at the error, the rest of the page (and the
    open study) is untouched. Any other exception is logged and reported briefly, without a traceback.
    """
    try:
        yield
    except RadNomoError as error:
        st.error(str(error), icon=":material/error:")
    except Exception:  # last line of defence: keep the page alive, keep the details in the log
        log.exception("unexpected error in a page action")
        st.error("Something went wrong that RadNomo did not expect; the details are in the server log. "
                 "The open study is unchanged.", icon=":material/error:")


def fill_inputs(prefix: str, values: dict, levels: dict) -> None:
    """Pre-set the inputs made by :func:`predictor_inputs` (e.g. from a study patient's row)."""
    for variable, value in values.items():
        st.session_state[f"{prefix}{variable}"] = str(value) if variable in levels else float(value)


def predictor_inputs(study: Study, variables: list[str], levels: dict, defaults: dict, prefix: str, *,
                     help_texts: dict | None = None, columns: int = 4) -> dict:
    """One input per predictor in clinical words: a select box of levels, or a number.

    Inputs start at ``defaults`` (e.g. the training cohort's modes / medians); their state lives under
    ``<prefix><variable>``, so a page can pre-fill them with :func:`fill_inputs`. Returns
    ``{variable: value}``.
    """
    grid = st.columns(max(1, min(columns, len(variables))))
    row: dict = {}
    for index, variable in enumerate(variables):
        column, key = grid[index % len(grid)], f"{prefix}{variable}"
        help_text = (help_texts or {}).get(variable)
        if variable in levels:
            options = list(levels[variable])
            if st.session_state.get(key) not in options:
                st.session_state[key] = defaults[variable] if defaults.get(variable) in options else options[0]
            row[variable] = column.selectbox(study.label(variable), options, key=key, help=help_text)
        else:
            if key not in st.session_state:
                st.session_state[key] = float(defaults[variable])
            row[variable] = column.number_input(study.label(variable), key=key, format="%.3f", help=help_text)
    return row


def shown_table(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A table for the screen: p-values written as every table of RadNomo writes them ("< 0.001"), other
    numbers rounded (so 9e-30 never shows as a cut-off string of zeros)."""
    from core.vocabulary import format_p

    shown = table.copy()
    for column in shown.columns:
        if str(column).lower() in ("p", "p_value", "p value", "variable_p", "hl_p", "p_holm") or \
                str(column).lower().endswith(" p") or str(column).lower().startswith("p ("):
            shown[column] = shown[column].map(format_p)
        elif pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].round(digits)
    return shown


def csv_download(frame: pd.DataFrame, filename: str, *, label: str, key: str, index: bool = False) -> None:
    """A download button for ``frame`` as UTF-8 CSV (formula-like text escaped), written only when clicked."""
    st.download_button(label, lambda: csv_bytes(frame, index=index), file_name=filename, mime="text/csv", key=key,
                       icon=":material/download:")


def parquet_download(frame: pd.DataFrame, filename: str, *, label: str, key: str) -> None:
    """A download button for ``frame`` (index kept) as Parquet, written only when clicked."""
    def payload() -> bytes:
        import io

        buffer = io.BytesIO()
        frame.to_parquet(buffer)
        return buffer.getvalue()

    st.download_button(label, payload, file_name=filename, mime="application/octet-stream", key=key,
                       icon=":material/download:")


def bytes_download(label: str, payload: Callable[[], bytes], filename: str, mime: str, *, key: str,
                   icon: str = ":material/download:") -> None:
    """A download whose bytes are made at the click from ``payload`` (which must capture the study it
    describes: a deferred download runs outside the user's script run, where :func:`get_study` cannot
    see the session)."""
    st.download_button(label, payload, file_name=filename, mime=mime, key=key, icon=icon)


TEACHING_KEY = "teaching"  # plain session value, mirrored from the sidebar toggle (widget state is dropped
# whenever a run does not draw its widget; the mirror survives)


def explain(page: str) -> None:
    """In teaching mode, the page's plain-language explanation and its reference (core.workflows.teaching)."""
    if not st.session_state.get(TEACHING_KEY):
        return
    from core.workflows.teaching import EXPLANATIONS

    explanation = EXPLANATIONS[page]
    st.info(f"**{explanation.title}.** {explanation.text}\n\n*Reference:* {explanation.reference}",
            icon=":material/school:")


def study_sidebar() -> None:
    """The sidebar's summary of the open study and the teaching toggle (shown on every page)."""
    study = get_study()
    with st.sidebar:
        st.session_state[TEACHING_KEY] = st.toggle(
            "Teaching mode", value=bool(st.session_state.get(TEACHING_KEY, False)), key="teaching_toggle",
            help="Adds a short explanation of what each page shows and how to read it, with a reference.")
        st.caption("Open study")
        st.markdown(f"**{study.name}**")
        design = (f"train {len(study.split.train_ids)} / test {len(study.split.test_ids)}" if study.has_test
                  else f"all {len(study.split.train_ids)} train (no test cohort)")
        st.markdown(f"{len(study.cohort)} patients · {study.n_events} events · {design}")
        families = ", ".join(study.family_label(f) for f in study.score_families) or "clinical variables only"
        st.caption(f"Features: {families}")
        if study.is_sample:
            st.caption("Synthetic data made by RadNomo's generator; not patient data.")


# ---------------------------------------------------------------------------------------------
# Choosing a manifest of CT cases (shared by the feature pages)
# ---------------------------------------------------------------------------------------------

MANIFEST_SOURCES = ("Sample study", "Upload a manifest and a zip of images", "Manifest on the server")


def manifest_picker(prefix: str) -> tuple[str, pd.DataFrame] | None:
    """Widgets to choose a manifest; returns (description, manifest with absolute paths) or None.

    ``prefix`` keeps widget keys apart between pages (e.g. "fr", "ae"). The choice is kept in
    session state under ``<prefix>_manifest`` for the open study's cohort only: opening another
    study forgets it (its cases would be another study's). The sample's manifest is offered only
    while the sample study is open.
    """
    import tempfile

    from core.imaging.extraction.batch import read_manifest
    from core.io.archive import safe_extract_zip
    from core.io.paths import data_root, resolve_in_root

    study = get_study()
    state_key = f"{prefix}_manifest"
    chosen = st.session_state.get(state_key)
    if chosen is not None and chosen[0] != study.data_fingerprint:
        st.session_state.pop(state_key, None)
        chosen = None
    sources = MANIFEST_SOURCES if study.is_sample else MANIFEST_SOURCES[1:]
    if st.session_state.get(f"{prefix}_source") not in sources:
        st.session_state[f"{prefix}_source"] = sources[0]
    source = st.radio("Manifest", sources, horizontal=True, key=f"{prefix}_source")
    picked = None
    if source == MANIFEST_SOURCES[0]:
        with guard():
            from core.workflows.sample import SAMPLE_MANIFEST, SAMPLE_REGENERATE

            manifest = read_manifest(SAMPLE_MANIFEST, confine_to=SAMPLE_MANIFEST.parent)
            on_disk = manifest["Image"].map(lambda p: Path(p).is_file())
            picked = ("sample study", manifest[on_disk].reset_index(drop=True))
            st.caption(f"{int(on_disk.sum())} of {len(manifest)} sample CTs are on disk. Regenerate all with "
                       f"`{SAMPLE_REGENERATE}`.")
    elif source == MANIFEST_SOURCES[1]:
        manifest_file = st.file_uploader("Manifest CSV (ID,Image,Mask[,Mask_reader2]; paths inside the zip)",
                                         type=["csv"], key=f"{prefix}_manifest_upload")
        archive = st.file_uploader("Zip of images and masks", type=["zip"], key=f"{prefix}_zip_upload")
        if manifest_file is not None and archive is not None and st.button("Unpack", key=f"{prefix}_unpack"):
            with guard():
                uploads = user_space() / "uploads"
                uploads.mkdir(exist_ok=True)
                folder = Path(tempfile.mkdtemp(prefix="upload-", dir=uploads))
                safe_extract_zip(archive.getvalue(), folder)
                table = read_table(manifest_file.getvalue(), manifest_file.name).astype("string").fillna("")
                picked = (manifest_file.name, read_manifest(table, base_dir=folder, confine_to=folder))
    else:
        root = data_root()
        server_manifest = st.text_input(f"Manifest path inside the data root ({root})", key=f"{prefix}_server_path",
                                        placeholder="manifest.csv")
        if st.button("Read manifest", key=f"{prefix}_read_server"):
            with guard():
                picked = (server_manifest, read_manifest(resolve_in_root(server_manifest, root), confine_to=root))
    if picked is not None:
        chosen = (study.data_fingerprint, *picked)
        st.session_state[state_key] = chosen
    if chosen is None:
        return None
    description, manifest = chosen[1], chosen[2]
    unknown = sorted(set(manifest["ID"]) - set(study.cohort.index))
    st.markdown(f"**{description}**: {len(manifest)} cases" +
                (", with second-reader masks" if "Mask_reader2" in manifest else ""))
    if unknown:
        st.warning(f"{len(unknown)} manifest ID(s) are not in the open cohort, e.g. {', '.join(unknown[:3])}.")
    return description, manifest


def exclusions_editor(study: Study, key: str) -> Study:
    """The study's "never use as features" list as a text input (names or glob patterns, comma-separated), saved
    with the study and applied to every family on change, with what each entry matches. Returns the open study."""
    from core.stats.feature_tables import parse_exclusions
    from core.workflows.checks import exclusion_matches

    # The widget follows the study: its text is the study's when first shown (e.g. after an exclusion made on the
    # Cohort page) and when another study is opened, so an old text never lands on a new study.
    owner = f"{key}_study"
    if key not in st.session_state or st.session_state.get(owner) != study.data_fingerprint:
        st.session_state[key] = ", ".join(study.settings.excluded_features)
    st.session_state[owner] = study.data_fingerprint
    text = st.text_input("Never use as features (column names or patterns, comma-separated)", key=key,
                         placeholder="e.g. lm_type, diagnostics_*, *_hash",
                         help="Kept out of every feature family before screening, on every page and in every "
                              "validation resample; saved with the study. The study's ID, outcome and clinical "
                              "columns are always kept out. * matches any text, ? one character; case is ignored.")
    with guard():
        study = update_settings(excluded_features=parse_exclusions(text))
    matches = exclusion_matches(study)
    if len(matches):
        st.caption("Excluded: " + "; ".join(
            f"{r.pattern} matches nothing" if not r.n else f"{r.pattern} -> {r.n} in {r.where} ({r.columns})"
            for r in matches.itertuples()))
    return study
