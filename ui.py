"""The one shared UI helper: the open study in session state, its cached results, widgets, downloads.

Pages import this module and ``core``; never each other. Nothing here computes a statistic or orders a
study's stages: :class:`core.workflows.results.StudyResults` does, and :func:`results` keeps one per study
(by its content fingerprint), all sharing one server-wide store of stage results; any change of the study
(roles, settings, split, a table) makes a new study whose changed stages are recomputed.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core.errors import RadNomoError
from core.io.limits import limit
from core.io.tables import csv_bytes, parquet_bytes, read_table
from core.stats.cohort import SplitConfig
from core.workflows.results import BackgroundFits, StageStore, StudyResults, results_key
from core.workflows.study import ModelSettings, Study

log = logging.getLogger(__name__)

STUDY_KEY = "study"
APP_RAN_KEY = "_app_navigation_ran"  # set by app.py once its navigation exists in this session
REDIRECT_KEY = "_redirect_to_page"  # a page asked for before app.py ran
FLASH_KEY = "_flash"  # a message to show after a rerun (e.g. "the study is open")
SPACE_KEY = "_space"  # this browser session's workspace token
EXTERNALS_KEY = "ext_cohorts"  # pages/external.py keeps (the study's data fingerprint, {name: ExternalCohort}) here


def enter_page(page_file: str) -> None:
    """First thing in every page: a page run without app.py's navigation (a fresh server's first request, in
    Streamlit's legacy pages mode: no page config, no sidebar) is sent through app.py, which opens the page."""
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


@st.cache_resource(show_spinner="Loading the survival sample study...", max_entries=2)
def _sample_survival_study(test_size: float, seed: int) -> Study:
    from core.workflows.sample import sample_survival_study

    return sample_survival_study(SplitConfig(test_size=test_size, seed=seed))


def sample_survival_study(split: SplitConfig | None = None) -> Study:
    """The bundled time-to-event sample study (overall survival of the same patients; shared read-only)."""
    split = split or SplitConfig()
    return _sample_survival_study(split.test_size, split.seed)


def get_study() -> Study:
    """The open study; the sample study is opened on first use (the dashboard's default)."""
    study = st.session_state.get(STUDY_KEY)
    if study is None:
        study = st.session_state[STUDY_KEY] = sample_study()
    return study


def set_study(study: Study, message: str | None = None, *, rerun: bool = False) -> Study:
    """Make a fully built ``study`` the open one; ``rerun``: draw the page again (sidebar too), ``message`` on top."""
    st.session_state[STUDY_KEY] = study
    if message:
        st.session_state[FLASH_KEY] = message
    if rerun:
        st.rerun()
    return study


def update_settings(**changes) -> Study:
    """Change the open study's model settings (a new Study; results follow its new fingerprint)."""
    study = get_study()
    plain = {k: v.to_dict() if hasattr(v, "to_dict") else list(v) if isinstance(v, tuple) else v
             for k, v in changes.items()}
    new = ModelSettings.from_dict({**study.settings.to_dict(), **plain})
    return study if new.to_dict() == study.settings.to_dict() else set_study(study.replace(settings=new))


@st.cache_data(show_spinner="Reading the table...", max_entries=8)
def read_table_cached(data: bytes, filename: str) -> pd.DataFrame:
    return read_table(data, filename)


# ---------------------------------------------------------------------------------------------
# Where this session keeps its files: its own space in the workspace
# ---------------------------------------------------------------------------------------------


def _logged_in_user() -> str | None:
    """The signed-in user's stable ID when the server has Streamlit authentication (st.login) configured."""
    try:
        return str(st.user.get("sub") or st.user.get("email")) if st.user.get("is_logged_in") else None
    except (AttributeError, KeyError, RadNomoError):  # no auth configured: st.user has no login state
        return None


def _browser_cookies() -> dict[str, str]:
    """The cookies the browser sent when this session connected (none in AppTest or a bare script run)."""
    return dict(st.context.cookies)


def space_token() -> str | None:
    """This browser's space token, read once a session from its cookie (a fresh one, stored by
    :func:`remember_space`, when it has none); None for a signed-in user. Never read from the address: a
    ``?space=`` link is a bearer credential anyone could copy."""
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


def _space():
    """This visitor's :class:`core.io.spaces.Space`: a signed-in user's, else this browser's (its cookie's token);
    its old scratch files are removed once a session."""
    from core.io.paths import workspace_dir
    from core.io.spaces import Space

    user = _logged_in_user()
    space = Space.of(workspace_dir(), user=user, token=None if user else space_token(),
                     user_name=str(st.user.get("name") or st.user.get("email") or "") or None if user else None)
    if not st.session_state.get("_scratch_aged"):
        st.session_state["_scratch_aged"] = True
        space.age_scratch()
    return space


def remember_space() -> None:
    """Called by app.py on every run: keep this browser's space token in its cookie
    (:func:`core.io.spaces.space_cookie_script`), and drop an old ``?space=`` from the address (never honoured,
    and not left there to be copied). Nothing is written for a signed-in user (their space follows their login)."""
    from core.io.spaces import SPACE_COOKIE, space_cookie_script

    if "space" in st.query_params:
        del st.query_params["space"]
    token = space_token()
    if token is not None:
        st.html(space_cookie_script(token, known=_browser_cookies().get(SPACE_COOKIE) == token,
                                    base_path=st.get_option("server.baseUrlPath")), unsafe_allow_javascript=True)


# Loads Streamlit's figure module (plotly.js, about 4.7 MB) in the browser once the page is drawn, so that the first
# page with a figure does not wait for it to be fetched and compiled (1-2 s in headless chromium on two cores). The
# same URL as Streamlit's own lazy import: the browser loads the module once, and Streamlit finds it loaded.
_PRELOAD_SCRIPT = """<script>
(() => {{
  if (window.__radnomoFigures) return;
  window.__radnomoFigures = true;
  const index = document.querySelector('script[src*="static/js/index."]');
  if (!index) return;
  const url = new URL("{chunk}", index.src).href;
  const load = () => import(url).catch(() => {{}});  // a failed preload leaves the lazy import to Streamlit
  // Once the page that carries this has been drawn (the script idle), not while it is being drawn.
  const app = document.querySelector("[data-testid='stApp']");
  const start = () => (app && app.getAttribute("data-test-script-state") === "running"
                       ? setTimeout(start, 100) : load());
  setTimeout(start, 100);
}})();
</script>"""


@st.cache_resource(show_spinner=False)
def _figure_chunk() -> str | None:
    """The file name of Streamlit's plotly chart module among its static files (hashed per release), or None."""
    import streamlit

    found = sorted((Path(streamlit.__file__).parent / "static" / "static" / "js").glob("PlotlyChart.*.js"))
    return found[0].name if len(found) == 1 else None


def preload_figures() -> None:
    """Called by app.py in the sidebar: the browser loads the figure module while the first page is read
    (:data:`_PRELOAD_SCRIPT`); nothing where the module is not found (another Streamlit release's layout)."""
    chunk = _figure_chunk()
    if chunk is not None:
        st.html(_PRELOAD_SCRIPT.format(chunk=chunk), unsafe_allow_javascript=True)


def user_space() -> Path:
    """This visitor's own folder in the workspace (:class:`core.io.spaces.Space`): studies, uploads, scratch."""
    return _space().folder


def studies_dir() -> Path:
    """This visitor's saved studies."""
    return _space().subfolder("studies")


def shared_studies_dir() -> Path:
    """Studies shared on purpose, listed for everyone on this server (:func:`core.workflows.sharing.shared_folder`)."""
    from core.io.paths import workspace_dir
    from core.workflows.sharing import shared_folder

    return shared_folder(workspace_dir())


def share_study(study: Study):
    """Share ``study`` (its fit too, when it can be fitted) for everyone on this server as this user
    (:func:`core.workflows.sharing.share_study`; refused when another user shared a study of this name)."""
    from core.workflows.sharing import share_study as share

    space = _space()
    return share(study, shared_studies_dir(), owner=space.owner, owner_label=space.shown_as,
                 models=results(study).fitted_models)


def save_study(study: Study, folder: Path) -> Path:
    """Save ``study`` with its fitted models (when it can be fitted) into ``folder``."""
    from core.workflows.persistence import save_study as save

    return save(study, folder, results(study).fitted_models)


def open_saved_study(folder: str | Path) -> Study:
    """Make a saved study the open one, exactly as saved; its saved fit stands for its fit (no refit)."""
    from core.workflows.results import reopen_study

    return set_study(reopen_study(folder, _store()))


@st.cache_resource(show_spinner=False)
def _store() -> StageStore:
    """The server's one store of stage results (:class:`core.workflows.results.StageStore`), shared by sessions."""
    return StageStore()


def _spinner(message: str):
    """A spinner while a stage is computed, in a script run (a deferred download runs outside one: none there)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    return st.spinner(message) if get_script_run_ctx(suppress_warning=True) is not None else nullcontext()


@st.cache_resource(max_entries=32, show_spinner=False)
def _results(key: str, _study: Study) -> StudyResults:
    return StudyResults(_study, _store(), announce=_spinner)


def results(study: Study) -> StudyResults:
    """The study's :class:`core.workflows.results.StudyResults` (``.models``, ``.predictions``, ``.evaluation``,
    ``.nomogram(model)``, ``.report(externals)`` ...), shared by every page and session that has this study."""
    return _results(results_key(study), study)


#: Background fits running at once on this server, all sessions together (RADNOMO_BACKGROUND_FITS).
MAX_PREFETCH_WORKERS = limit("BACKGROUND_FITS", 2)


@st.cache_resource(show_spinner=False)
def background_fits() -> BackgroundFits:
    """The server's :class:`core.workflows.results.BackgroundFits` (bounded threads, requests per session)."""
    return BackgroundFits(max_workers=MAX_PREFETCH_WORKERS)


def prefetch_models(study: Study) -> None:
    """Fit the study's models in the background for this browser session, so that the next page finds them
    ready; a newer request of this session replaces this one, and never another session's."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx(suppress_warning=True)
    # Without the page's spinner: a background thread has no page to draw on.
    background_fits().request(context.session_id if context is not None else "", StudyResults(study, _store()))


def after_this_run(action: Callable[[], None]) -> None:
    """Call ``action`` in a background thread once this script run has ended entirely: started earlier, it would
    take turns on the interpreter with the run's last messages and clean-up, and the page would say it is done
    later. At once, in the thread, outside a script run."""
    import threading

    from streamlit.runtime.scriptrunner import get_script_run_ctx

    drawing = threading.current_thread() if get_script_run_ctx(suppress_warning=True) is not None else None

    def run() -> None:
        if drawing is not None:
            drawing.join(timeout=30)
        action()

    threading.Thread(target=run, daemon=True, name="after-run").start()


@st.cache_resource(show_spinner=False)
def _warm_up_started() -> list:
    """One list per server process: holds the warm-up thread once it was started."""
    return []


@st.cache_resource(show_spinner=False)
def _page_runs() -> dict:
    """The server's count of page runs under way (all sessions), guarded by its lock."""
    import threading

    return {"running": 0, "lock": threading.Lock()}


@contextmanager
def page_run() -> Iterator[None]:
    """Around app.py's page run: counted, so that the sample's warm-up (:func:`warm_up_sample`) waits for the pages
    being drawn instead of competing with them for the CPU."""
    runs = _page_runs()
    with runs["lock"]:
        runs["running"] += 1
    try:
        yield
    finally:
        with runs["lock"]:
            runs["running"] -= 1


def _wait_for_quiet(longest_s: float = 10.0) -> None:
    """Wait (at most ``longest_s``) until no page run is under way, in any session."""
    import time

    runs, waited = _page_runs(), 0.0
    while runs["running"] > 0 and waited < longest_s:
        time.sleep(0.05)
        waited += 0.05


def warm_up_sample(study: Study) -> None:
    """Called by app.py after the page is drawn: once per server process, when ``study`` is the default sample study
    (what every new visitor opens), compute in a background thread what the next pages' first visits need (its
    prepared tables, screenings, models, predictions, clinical univariable table, evaluation; the never-feature and
    scale checks of Selection) and import the figure engine, so that Selection, Models and Evaluation find them
    ready. The stages go into the server's store (:func:`results`), where a page asking meanwhile waits for the
    one computation instead of starting another. Another study is computed when its pages ask (or by
    :func:`prefetch_models` after a change)."""
    import threading

    started = _warm_up_started()
    if started or study is not sample_study():
        return
    started.append(None)
    results_ = StudyResults(study, _store())  # without the page's spinner: a background thread has no page

    def charts() -> None:
        import core.figures.charts  # noqa: F401 - plotly and the figures every page draws

    # In the order a visitor meets them: Selection, Models, Evaluation (each stage computed once, and stored).
    steps = (charts, lambda: results_.usable_families, lambda: never_features(study), lambda: family_scales(study),
             lambda: results_.screenings, lambda: results_.predictions, lambda: results_.clinical_univariable,
             lambda: results_.evaluation)

    from streamlit.runtime.scriptrunner import get_script_run_ctx

    # This page's script run: the warm-up starts once it has ended entirely (its last messages and clean-up would
    # otherwise wait for the warm-up's turns on the interpreter).
    drawing = threading.current_thread() if get_script_run_ctx(suppress_warning=True) is not None else None

    def work() -> None:
        try:
            if drawing is not None:
                drawing.join(timeout=30)
            for step in steps:
                _wait_for_quiet()  # between steps, a page being drawn goes first
                step()
        except Exception:  # noqa: BLE001 - the page that needs a stage computes it and shows its error itself
            log.info("warming up the sample study failed; its pages will compute what they need", exc_info=True)

    thread = threading.Thread(target=work, daemon=True, name="warm-up-sample")
    started[0] = thread
    thread.start()


@st.cache_resource(max_entries=8, show_spinner=False)
def _never_features(key: str, _study: Study):
    from core.workflows.checks import never_features as compute

    return compute(_study)


def never_features(study: Study):
    """:func:`core.workflows.checks.never_features` of ``study``, computed once per data and exclusions (not again
    at every threshold change: it reads every feature of the training patients)."""
    return _never_features(f"{study.data_fingerprint}|{study.settings.excluded_features}", study)


@st.cache_resource(max_entries=8, show_spinner=False)
def _family_scales(key: str, _study: Study):
    from core.workflows.checks import family_scales as compute

    return compute(_study)


def family_scales(study: Study):
    """:func:`core.workflows.checks.family_scales` of ``study``, computed once per data and variance threshold."""
    return _family_scales(f"{study.data_fingerprint}|{study.settings.screening.variance_threshold}", study)


def no_clinical_note(models) -> None:
    """One plain note on a page that would show the clinical model, when the study has none (and why)."""
    if models.clinical is None and models.no_clinical:
        st.info(f"This study has {models.no_clinical}. Its models are its scores.", icon=":material/info:")


def study_externals(study: Study) -> tuple:
    """The external cohorts added on the External validation page for this study's data (this session's)."""
    stored = st.session_state.get(EXTERNALS_KEY)
    if not stored or stored[0] != study.data_fingerprint:
        return ()
    return tuple(stored[1].values())


@st.cache_resource(max_entries=4)
def autoencoder(weights_path: str, weights_sha256: str):
    """A loaded autoencoder in eval mode, shared read-only (keyed by the file's hash too)."""
    from core.imaging.deep.train import load_weights

    return load_weights(weights_path)


@contextmanager
def guard() -> Iterator[None]:
    """Around every page action: a RadNomoError stops the action and shows as an error; the rest of the page
    and the open study are untouched. Any other exception is logged and reported briefly, without a traceback."""
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
        st.session_state[f"{prefix}{variable}"] = typed_inputs({variable: value}, levels)[variable]


def predictor_inputs(study: Study, variables: list[str], levels: dict, defaults: dict, prefix: str, *,
                     help_texts: dict | None = None, columns: int = 4) -> dict:
    """One input per predictor in clinical words (a select box of levels, or a number), starting at ``defaults``;
    state under ``<prefix><variable>`` (pre-filled by :func:`fill_inputs`). Returns ``{variable: value}``."""
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


def csv_download(frame: pd.DataFrame, filename: str, *, label: str, key: str, index: bool = False) -> None:
    """A download button for ``frame`` as UTF-8 CSV (formula-like text escaped), written only when clicked; the click
    does not rerun the page (a rerun would also renew every other download's deferred file, so a second download
    clicked while it ran found its file gone)."""
    st.download_button(label, lambda: csv_bytes(frame, index=index), file_name=filename, mime="text/csv", key=key,
                       icon=":material/download:", on_click="ignore")


def parquet_download(frame: pd.DataFrame, filename: str, *, label: str, key: str) -> None:
    """A download button for ``frame`` (index kept) as Parquet, written only when clicked (no page rerun)."""
    st.download_button(label, lambda: parquet_bytes(frame), file_name=filename, mime="application/octet-stream",
                       key=key, icon=":material/download:", on_click="ignore")


def bytes_download(label: str, payload: Callable[[], bytes], filename: str, mime: str, *, key: str,
                   icon: str = ":material/download:") -> None:
    """A download whose bytes ``payload`` makes at the click (it must capture its study: a deferred download runs
    outside the script run, where :func:`get_study` cannot see the session)."""
    st.download_button(label, payload, file_name=filename, mime=mime, key=key, icon=icon, on_click="ignore")


TEACHING_KEY = "teaching"  # plain session value, mirrored from the sidebar toggle (widget state is dropped
# whenever a run does not draw its widget; the mirror survives)


def explain(page: str) -> None:
    """In teaching mode, the page's plain-language explanation and its reference (core.workflows.teaching)."""
    if not st.session_state.get(TEACHING_KEY):
        return
    from core.workflows.teaching import explanation_for

    explanation = explanation_for(page, get_study().spec.outcome.kind)  # the open study's outcome's words
    st.info(f"**{explanation.title}.** {explanation.text}\n\n*Reference:* {explanation.reference}",
            icon=":material/school:")


# ---------------------------------------------------------------------------------------------
# Choosing a manifest of CT cases (shared by the feature pages)
# ---------------------------------------------------------------------------------------------

MANIFEST_SOURCES = ("Sample study", "Upload a manifest and a zip of images", "Manifest on the server")


def manifest_picker(prefix: str) -> tuple[str, pd.DataFrame] | None:
    """Widgets to choose a manifest (:mod:`core.workflows.manifests`): (description, manifest) or None. Kept under
    ``<prefix>_manifest`` for the open study's data only (another study's cases are never offered); the sample's
    manifest only while the sample study is open."""
    from core.io.paths import data_root
    from core.workflows import manifests

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
    with guard():
        if source == MANIFEST_SOURCES[0]:
            from core.workflows.sample import SAMPLE_REGENERATE

            manifest, listed = manifests.sample_manifest()
            picked = ("sample study", manifest)
            st.caption(f"{len(manifest)} of {listed} sample CTs are on disk. Regenerate all with "
                       f"`{SAMPLE_REGENERATE}`.")
        elif source == MANIFEST_SOURCES[1]:
            manifest_file = st.file_uploader("Manifest CSV (ID,Image,Mask[,Mask_reader2]; paths inside the zip)",
                                             type=["csv"], key=f"{prefix}_manifest_upload")
            archive = st.file_uploader("Zip of images and masks", type=["zip"], key=f"{prefix}_zip_upload")
            if manifest_file is not None and archive is not None and st.button("Unpack", key=f"{prefix}_unpack"):
                picked = (manifest_file.name, manifests.uploaded_manifest(
                    manifest_file.getvalue(), manifest_file.name, archive.getvalue(), user_space() / "uploads"))
        else:
            path = st.text_input(f"Manifest path inside the data root ({data_root()})", key=f"{prefix}_server_path",
                                 placeholder="manifest.csv")
            if st.button("Read manifest", key=f"{prefix}_read_server"):
                picked = (path, manifests.server_manifest(path))
    if picked is not None:
        chosen = st.session_state[state_key] = (study.data_fingerprint, *picked)
    if chosen is None:
        return None
    description, manifest = chosen[1], chosen[2]
    unknown = manifests.unknown_ids(manifest, study.cohort)
    st.markdown(f"**{description}**: {len(manifest)} cases" +
                (", with second-reader masks" if "Mask_reader2" in manifest else ""))
    if unknown:
        st.warning(f"{len(unknown)} manifest ID(s) are not in the open cohort, e.g. {', '.join(unknown[:3])}.")
    return description, manifest


def exclusions_editor(study: Study, key: str) -> Study:
    """The study's "never use as features" list as a text input (names or glob patterns, comma-separated), saved
    with the study and applied to every family on change, with what each entry matches. Returns the open study."""
    from core.stats.feature_tables import parse_exclusions
    from core.workflows.checks import exclusions_text

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
    matched = exclusions_text(study)
    if matched:
        st.caption(matched)
    return study


def rows_where(frame: pd.DataFrame, **values) -> pd.DataFrame:
    """The rows of a tidy result table whose columns equal the given values (e.g. cohort="test", model="fused")."""
    mask = np.ones(len(frame), dtype=bool)
    for column, value in values.items():
        mask &= (frame[column] == value).to_numpy()
    return frame[mask]


# ---------------------------------------------------------------------------------------------
# Calibration, decision-curve and model-comparison views (Evaluation and External validation pages)
# ---------------------------------------------------------------------------------------------

#: The decision-curve views a user picks between: name -> what it shows.
DECISION_VIEWS = {"net_benefit": "Net benefit", "interventions_avoided": "Net interventions avoided",
                  "standardized_net_benefit": "Standardized net benefit", "clinical_impact": "Clinical impact"}


def calibration_statistics(table: pd.DataFrame, labels: dict[str, str], *, key: str,
                           group_names: Callable[[str], str] | None = None) -> None:
    """A binary evaluation's calibration table (core.workflows.evaluation: one row per cohort and model) with each
    statistic's 95 % CI, the Hosmer-Lemeshow test last (secondary), and how to read it."""
    from core.vocabulary import CALIBRATION_COLUMNS, CALIBRATION_READING, format_interval, format_p

    from core.workflows.evaluation import label_construction

    def shown_column(name: str) -> object:
        if f"{name}_low" in table.columns:  # the estimate with its 95 % CI, as text (a training fit's intercept
            # and slope, fixed by construction, said so)
            return label_construction(table, name, [format_interval(r[name], r[f"{name}_low"], r[f"{name}_high"])
                                                    for _, r in table.iterrows()])
        return table[name].map(format_p) if name.endswith("_p") else table[name].round(3)

    shown = pd.DataFrame({"cohort": table["cohort"].map(group_names or (lambda c: c)),
                          "model": table["model"].map(labels), "n": table["n"], "events": table["events"],
                          **{label: shown_column(name) for name, label in CALIBRATION_COLUMNS.items()}})
    st.dataframe(shown, hide_index=True, key=key)
    st.caption(CALIBRATION_READING)


def decision_views(panels: dict[str, dict[str, pd.DataFrame]], labels: dict[str, str], colours: dict[str, str], *,
                   key: str, titles: dict[str, str] | None = None, chart_config: dict | None = None, n_boot: int,
                   seed: int) -> None:
    """Decision curves side by side (one panel per id, e.g. a cohort: name -> its curve with bootstrap bands, as
    the evaluations' ``decision`` tables hold them; the chart of panel ``p`` is keyed ``<key>_<p>``, titled
    ``titles[p]``), as the view the user picks (:data:`DECISION_VIEWS`), with or without the 95 % bands; the
    clinical impact view draws one chosen curve per panel."""
    from core.figures.charts import clinical_impact_figure, decision_curve_figure, decision_measure_figure
    from core.vocabulary import DECISION_READING

    choice = st.columns([3, 1, 2])
    view = choice[0].radio("Show", list(DECISION_VIEWS), horizontal=True, key=f"{key}_view",
                           format_func=DECISION_VIEWS.get)
    bands = choice[1].toggle("95 % bands", value=True, key=f"{key}_bands")
    names = list(dict.fromkeys(n for curves in panels.values() for n in curves))
    impact = choice[2].selectbox("Clinical impact of", names, index=len(names) - 1, key=f"{key}_impact",
                                 format_func=labels.get, disabled=view != "clinical_impact") if names else None
    for column, (panel, curves) in zip(st.columns(max(len(panels), 1)), panels.items(), strict=False):
        title = (titles or {}).get(panel, panel)
        if not curves:
            column.caption(f"{title}: nothing to draw.")
            continue
        if view == "net_benefit":
            figure = decision_curve_figure(curves, title=title, labels=labels, colours=colours, bands=bands)
        elif view == "clinical_impact":
            shown = impact if impact in curves else next(iter(curves))
            figure = clinical_impact_figure(curves[shown], title=f"{title}: {labels[shown]}", colour=colours[shown],
                                            bands=bands)
        else:
            figure = decision_measure_figure(curves, view, title=title, labels=labels, colours=colours, bands=bands)
        column.plotly_chart(figure, key=f"{key}_{panel}", config=chart_config)
    st.caption(DECISION_READING.format(n_boot=n_boot, seed=seed))


def model_comparison(predictions: pd.DataFrame, outcome: pd.Series, cohorts: dict[str, list], models: list[str],
                     labels: dict[str, str], colours: dict[str, str], *, key: str, seed: int,
                     main: str | None = None, group_names: Callable[[str], str] | None = None) -> None:
    """Two chosen models compared in every cohort: the net-benefit difference with its paired bootstrap band, and
    reclassification (continuous and categorical NRI, IDI) with CIs and the indices' known limitations; each as a
    CSV download (core.workflows.model_comparison)."""
    from core.figures.charts import net_benefit_difference_figure
    from core.vocabulary import format_interval
    from core.workflows.model_comparison import RECLASSIFICATION_NOTE, compare_two_models, default_pair, parse_cuts

    pair = default_pair(models, main)
    if pair is None:
        st.caption("Only one model: comparing needs two.")
        return
    name = group_names or (lambda c: c)
    pick = st.columns([2, 2, 2])
    model = pick[0].selectbox("Model", models, index=models.index(pair[0]), key=f"{key}_model",
                              format_func=labels.get)
    others = [m for m in models if m != model]
    reference = pick[1].selectbox("against", others, index=others.index(pair[1]) if pair[1] in others else 0,
                                  key=f"{key}_reference", format_func=labels.get)
    cuts_text = pick[2].text_input("Risk categories (cut points) for the categorical NRI", "0.1, 0.3",
                                   key=f"{key}_cuts", help="Probabilities between 0 and 1, e.g. 0.1, 0.3 for low "
                                                           "(< 10 %), intermediate and high (>= 30 %) risk.")
    with guard():
        comparison = compare_two_models(predictions, outcome, cohorts, model, reference, cuts=parse_cuts(cuts_text),
                                        seed=seed)
        title = f"{labels[model]} - {labels[reference]}"
        drawn = [c for c in cohorts if (comparison.net_benefit_difference["cohort"] == c).any()]
        for column, cohort in zip(st.columns(max(len(drawn), 1)), drawn, strict=False):
            curve = comparison.net_benefit_difference
            column.plotly_chart(net_benefit_difference_figure(curve[curve["cohort"] == cohort],
                                                              title=f"{name(cohort)}: net benefit difference",
                                                              label=title, colour=colours[model]),
                                key=f"{key}_nbd_{cohort}")
        table = comparison.reclassification

        def with_ci(column: str) -> list[str]:
            return [format_interval(r[column], r[f"{column}_low"], r[f"{column}_high"]) for _, r in table.iterrows()]

        shown = pd.DataFrame({"cohort": table["cohort"].map(name), "n": table["n"], "events": table["events"],
                              "NRI (continuous)": with_ci("nri"), "NRI events": with_ci("nri_events"),
                              "NRI non-events": with_ci("nri_nonevents"), "IDI": with_ci("idi"),
                              "categorical NRI": with_ci("categorical_nri")})
        st.markdown(f"**Reclassification: {title}**")
        st.dataframe(shown, hide_index=True, key=f"{key}_reclassification")
        st.caption(RECLASSIFICATION_NOTE)
        for note in comparison.notes:
            st.caption(note)
        downloads = st.columns(2)
        with downloads[0]:
            csv_download(table, "reclassification.csv", label="Reclassification (CSV)", key=f"{key}_dl_nri")
        with downloads[1]:
            csv_download(comparison.net_benefit_difference.assign(model=model, reference=reference),
                         "net_benefit_difference.csv", label="Net-benefit difference (CSV)", key=f"{key}_dl_nbd")


# ---------------------------------------------------------------------------------------------
# The nomogram calculator that answers in the browser
# ---------------------------------------------------------------------------------------------


def typed_inputs(values: dict, levels: dict) -> dict:
    """Calculator values as the inputs hold them: a level as text, a number as float (a browser sends 59.0 as 59)."""
    return {variable: str(value) if variable in levels else float(value) for variable, value in values.items()}


@functools.cache
def _calculator_component():
    """The calculator's component (streamlit.components.v2: inline HTML/CSS/JS, no build step), declared once."""
    from core.figures.calculator import CALCULATOR_ASSETS

    parts = {part: path.read_text(encoding="utf-8") for part, path in CALCULATOR_ASSETS.items()}
    return st.components.v2.component("radnomo_nomogram_calculator", html=parts["html"], css=parts["css"],
                                      js=parts["js"], isolate_styles=True)


def nomogram_calculator(key: str, model: dict, drawing: dict | None, values: dict, *, revision: int,
                        on_commit: Callable[[dict], None] | None = None, fixed: tuple[str, ...] = ()) -> None:
    """A nomogram calculator evaluated in the browser (``core.figures.calculator``'s ``model`` and ``drawing``).

    It starts at ``values`` and takes them again whenever ``revision`` changes (the page set them, e.g. from a
    study patient); between those, a typed value is the browser's own: every keystroke recomputes points, risk,
    CI and the nomogram's marks there, with no rerun. A committed value (Enter, leaving the field, a choice) is
    passed to ``on_commit`` (in the callback of the rerun it causes: only the enclosing fragment reruns); without
    ``on_commit`` nothing is sent back and nothing reruns. ``fixed`` variables are shown but not editable."""
    def committed() -> None:
        state = st.session_state.get(key) or {}
        inputs = state.get("inputs") if hasattr(state, "get") else None
        if inputs and on_commit is not None:
            on_commit(dict(inputs))

    _calculator_component()(key=key, data={"model": model, "drawing": drawing, "inputs": values,
                                           "revision": revision, "fixed": list(fixed),
                                           "persist": on_commit is not None},
                            default={"inputs": None}, on_inputs_change=committed, width="stretch")


@st.cache_data(max_entries=16, show_spinner=False)
def flow_png(**boxes) -> bytes:
    """The participant-flow diagram (:func:`core.figures.flow.flow_diagram` of ``boxes``) as PNG, drawn once per
    texts (matplotlib takes about 0.7 s; the Checklists page reruns at each answer typed)."""
    from core.figures.flow import flow_diagram

    return flow_diagram(**boxes)
