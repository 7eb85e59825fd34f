"""The one shared UI helper: the open study in session state, cached core calls, error guard, downloads.

Pages import this module and ``core``; never each other.
"""

from __future__ import annotations

import io
import json
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import streamlit as st

from core.io.tables import read_table
from core.stats.cohort import CohortSpec, CohortSplit, SplitConfig, split_cohort, validate_cohort
from core.errors import RadNomoError
from core.workflows.fit import ModelSettings
from core.workflows.sample import (SAMPLE_AE_LOG, SAMPLE_AE_WEIGHTS, SAMPLE_DEEP, SAMPLE_RADIOMICS, SAMPLE_RADIOMICS_READER2,
                         SAMPLE_RADIOMICS_SETTINGS, SAMPLE_SPEC, load_sample_cohort)

log = logging.getLogger(__name__)

STUDY_KEY = "study"
APP_RAN_KEY = "_app_navigation_ran"  # set by app.py once its navigation exists in this session
REDIRECT_KEY = "_redirect_to_page"  # a page asked for before app.py ran


def enter_page(page_file: str) -> None:
    """Make sure a page runs inside app.py's navigation; call first thing in every page.

    Streamlit runs a fresh server's first request in its legacy pages-folder mode, so a deep link
    such as /cohort would run pages/cohort.py without app.py (no page config, no sidebar). Such a
    run is sent through app.py, which then opens the page that was asked for.
    """
    if not st.session_state.get(APP_RAN_KEY):
        st.session_state[REDIRECT_KEY] = page_file
        st.switch_page("app.py")


def finish_app_setup() -> None:
    """Called by app.py after st.navigation: mark the session and honour a pending deep link."""
    st.session_state[APP_RAN_KEY] = True
    target = st.session_state.pop(REDIRECT_KEY, None)
    if target:
        st.switch_page(target)


@dataclass(slots=True, kw_only=True)
class StudyState:
    """The study open in this browser session (the only state shared between pages).

    Attributes
    ----------
    name : str
        Shown in the sidebar, e.g. "Sample study (synthetic)" or the uploaded file's name.
    cohort : pandas.DataFrame
        The validated clinical table (:func:`core.stats.cohort.validate_cohort`).
    spec : CohortSpec
    split : CohortSplit
    is_sample : bool
        True for the bundled synthetic study.
    radiomics, radiomics_reader2 : pandas.DataFrame or None
        Classic radiomics features (index: patient ID, one column per feature) from reader 1's and
        reader 2's masks.
    radiomics_source : str
        Where the radiomics features came from (shown on the pages).
    radiomics_settings : dict or None
        The extraction settings (parameters, pre-processing, pyradiomics version) of those features.
    deep, deep_source : pandas.DataFrame or None, str
        Autoencoder latent features (``dl_000`` ...) and where they came from.
    ae_weights, ae_history : str or None, pandas.DataFrame or None
        The trained autoencoder's weights file and its per-epoch losses.
    model_settings : ModelSettings
        Screening thresholds, score method and clinical predictors (set on the Selection and
        Models pages; kept when the same cohort is re-split).
    """

    name: str
    cohort: pd.DataFrame
    spec: CohortSpec
    split: CohortSplit
    is_sample: bool = False
    radiomics: pd.DataFrame | None = None
    radiomics_reader2: pd.DataFrame | None = None
    radiomics_source: str = ""
    radiomics_settings: dict | None = None
    deep: pd.DataFrame | None = None
    deep_source: str = ""
    ae_weights: str | None = None
    ae_history: pd.DataFrame | None = None
    model_settings: ModelSettings = field(default_factory=ModelSettings)

    @property
    def n_events(self) -> int:
        return int(self.cohort[self.spec.outcome_column].sum())


# ---------------------------------------------------------------------------------------------
# Cached core calls (slow steps only)
# ---------------------------------------------------------------------------------------------


@st.cache_data(show_spinner="Loading the sample study...", max_entries=1)
def sample_cohort() -> pd.DataFrame:
    return load_sample_cohort()


@st.cache_data(show_spinner="Reading the table...", max_entries=8)
def read_table_cached(data: bytes, filename: str) -> pd.DataFrame:
    return read_table(data, filename)


# ---------------------------------------------------------------------------------------------
# The open study
# ---------------------------------------------------------------------------------------------


def open_study(name: str, cohort: pd.DataFrame, spec: CohortSpec, split_config: SplitConfig | None = None, *,
               is_sample: bool = False) -> StudyState:
    """Validate, split and make a cohort the open study; on error the previous study stays open.

    Raises
    ------
    RadNomoError
        From validation or splitting; nothing in the session has changed then.
    """
    validated = validate_cohort(cohort, spec.id_column, spec.outcome_column, continuous=spec.continuous,
                                categorical=spec.categorical)
    split = split_cohort(validated, spec, split_config)
    study = StudyState(name=name, cohort=validated, spec=spec, split=split, is_sample=is_sample)
    previous = st.session_state.get(STUDY_KEY)
    if previous is not None and previous.name == name and previous.cohort[spec.id_column].equals(
            validated[spec.id_column]):
        # Re-splitting or re-typing the same cohort keeps its radiomics features (computed per case,
        # nothing learned). The autoencoder learned from the old training cohort: it and its
        # features are kept only while the training cohort is the same, or test patients would leak in.
        for name in ("radiomics", "radiomics_reader2", "radiomics_source", "radiomics_settings", "model_settings"):
            setattr(study, name, getattr(previous, name))
        if previous.split.train_ids == split.train_ids:
            for name in ("deep", "deep_source", "ae_weights", "ae_history"):
                setattr(study, name, getattr(previous, name))
    st.session_state[STUDY_KEY] = study  # assigned last: only a fully built study replaces the old one
    return study


@st.cache_data(show_spinner="Loading the sample features...", max_entries=2)
def sample_features(path: str) -> pd.DataFrame | None:
    """A precomputed sample feature table (Parquet), or None when it is not there."""
    return pd.read_parquet(path) if Path(path).is_file() else None


def open_sample_study(split_config: SplitConfig | None = None) -> StudyState:
    """Open the bundled synthetic sample study, with its precomputed radiomics features."""
    study = open_study("Sample study (synthetic)", sample_cohort(), SAMPLE_SPEC, split_config, is_sample=True)
    study.radiomics = sample_features(str(SAMPLE_RADIOMICS))
    study.radiomics_reader2 = sample_features(str(SAMPLE_RADIOMICS_READER2))
    if study.radiomics is not None:
        study.radiomics_source = "precomputed for the sample study (python -m core.cli.extract, study params)"
        if SAMPLE_RADIOMICS_SETTINGS.is_file():
            study.radiomics_settings = json.loads(SAMPLE_RADIOMICS_SETTINGS.read_text())
    study.deep = sample_features(str(SAMPLE_DEEP))
    if study.deep is not None:
        study.deep_source = "precomputed for the sample study (autoencoder trained on its training cohort)"
    if SAMPLE_AE_WEIGHTS.is_file():
        study.ae_weights = str(SAMPLE_AE_WEIGHTS)
        study.ae_history = pd.read_csv(SAMPLE_AE_LOG) if SAMPLE_AE_LOG.is_file() else None
    return study


def studies_dir() -> Path:
    """Where saved studies live: <workspace>/studies."""
    from core.io.paths import workspace_dir

    folder = workspace_dir() / "studies"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def saved_from_state(study: StudyState):
    """The open study as a :class:`core.workflows.persistence.SavedStudy`, with its fitted models when they can be fitted."""
    from core.workflows.persistence import SavedStudy

    try:
        models = study_models(study)
    except RadNomoError:
        models = None  # e.g. no clinical predictor chosen yet: the data and settings are still worth keeping
    return SavedStudy(name=study.name, cohort=study.cohort, spec=study.spec, split=study.split,
                      model_settings=study.model_settings, radiomics=study.radiomics,
                      radiomics_reader2=study.radiomics_reader2, deep=study.deep,
                      radiomics_settings=study.radiomics_settings, ae_weights=study.ae_weights,
                      ae_history=study.ae_history, models=models, is_sample=study.is_sample)


def save_open_study() -> Path:
    """Save the open study into its folder under :func:`studies_dir` (same name, same folder)."""
    from core.workflows.persistence import save_study, slug

    study = get_study()
    return save_study(saved_from_state(study), studies_dir() / slug(study.name))


def open_saved_study(folder: str | Path) -> StudyState:
    """Make a saved study the open one, exactly as it was saved (its split included)."""
    from core.workflows.persistence import load_study

    saved = load_study(folder)
    study = StudyState(name=saved.name, cohort=saved.cohort, spec=saved.spec, split=saved.split,
                       is_sample=saved.is_sample, radiomics=saved.radiomics,
                       radiomics_reader2=saved.radiomics_reader2, radiomics_settings=saved.radiomics_settings,
                       radiomics_source=f"saved study '{saved.name}'" if saved.radiomics is not None else "",
                       deep=saved.deep, deep_source=f"saved study '{saved.name}'" if saved.deep is not None else "",
                       ae_weights=saved.ae_weights, ae_history=saved.ae_history,
                       model_settings=saved.model_settings)
    st.session_state[STUDY_KEY] = study
    return study


@st.cache_resource(max_entries=4)
def autoencoder(weights_path: str, weights_sha256: str):
    """A loaded autoencoder in eval mode, shared read-only (keyed by the file's hash too)."""
    from core.imaging.deep.train import load_weights

    return load_weights(weights_path)


def get_study() -> StudyState:
    """The open study; the sample study is opened on first use (the dashboard's default)."""
    study = st.session_state.get(STUDY_KEY)
    if study is None:
        study = open_sample_study()
    return study


# ---------------------------------------------------------------------------------------------
# Selection and models (cached; keyed by a fingerprint of the data, not by hashing it each run)
# ---------------------------------------------------------------------------------------------

_TOKENS: dict[int, tuple[object, str]] = {}


def frame_token(frame: pd.DataFrame | None) -> str:
    """A content fingerprint of a table, computed once per table object.

    Streamlit would otherwise hash every feature table (millions of values) on every rerun. The
    table is kept referenced beside its token, so its id cannot be reused by another object.
    """
    if frame is None:
        return "none"
    cached = _TOKENS.get(id(frame))
    if cached is not None and cached[0] is frame:
        return cached[1]
    import hashlib

    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    token = digest.hexdigest()[:20]
    if len(_TOKENS) > 32:
        _TOKENS.clear()
    _TOKENS[id(frame)] = (frame, token)
    return token


def study_features(study: StudyState) -> dict[str, pd.DataFrame]:
    """The open study's feature tables by kind ("radiomics", "deep"), those that exist."""
    return {k: v for k, v in (("radiomics", study.radiomics), ("deep", study.deep)) if v is not None}


def batch_columns(study: StudyState, max_levels: int = 12) -> list[str]:
    """Categorical cohort columns that can serve as a harmonisation batch (scanner, centre): 2 to
    ``max_levels`` levels, every level with at least 2 training patients."""
    spec = study.spec
    train = study.cohort.set_index(spec.id_column).loc[list(study.split.train_ids)]
    out = []
    for column in train.columns:
        if column == spec.outcome_column or column in spec.continuous or train[column].dtype.kind in "fiub":
            continue
        counts = train[column].value_counts()
        if 2 <= len(counts) <= max_levels and counts.min() >= 2:
            out.append(column)
    return out


def study_families(study: StudyState) -> list[str]:
    """Feature families the open study can screen: radiomics, dl, dl_radiomics."""
    have = study_features(study)
    return [f for f, needs in (("radiomics", ("radiomics",)), ("dl", ("deep",)), ("dl_radiomics", ("radiomics", "deep")))
            if all(k in have for k in needs)]


def _train_icc(study: StudyState) -> pd.DataFrame | None:
    """Reader agreement of the radiomics features on training patients with a second reading."""
    if study.radiomics is None or study.radiomics_reader2 is None:
        return None
    from core.stats.selection import icc_table

    both = study.radiomics_reader2.index.intersection(pd.Index(study.split.train_ids))
    return icc_table(study.radiomics.loc[both], study.radiomics_reader2.loc[both])


@st.cache_data(max_entries=4, show_spinner="Computing reader agreement (ICC) on the training cohort...")
def _icc_cached(_study: StudyState, token: str) -> pd.DataFrame | None:
    return _train_icc(_study)


def _data_token(study: StudyState) -> str:
    return "|".join([frame_token(study.cohort), frame_token(study.radiomics), frame_token(study.deep),
                     frame_token(study.radiomics_reader2), str(hash(study.split.train_ids))])


def results_key(study: StudyState) -> str:
    """A key for results computed from the open study's data and current settings (session caches)."""
    import json

    return json.dumps(study.model_settings.to_dict(), sort_keys=True) + "|" + _data_token(study)


def train_icc(study: StudyState) -> pd.DataFrame | None:
    return _icc_cached(study, _data_token(study))


@st.cache_data(max_entries=4, show_spinner="Harmonising the features (ComBat, fitted on the training cohort)...")
def _harmonised_cached(_study: StudyState, column: str, token: str) -> dict[str, pd.DataFrame]:
    from core.workflows.fit import harmonised_features

    return harmonised_features(_study.cohort, _study.spec, _study.split.train_ids, study_features(_study), column)[0]


def model_features(study: StudyState, harmonise_by: str | None) -> dict[str, pd.DataFrame]:
    """The feature tables the models see: ComBat-harmonised by ``harmonise_by``, else as extracted."""
    if harmonise_by is None:
        return study_features(study)
    return _harmonised_cached(study, harmonise_by, _data_token(study))


@st.cache_data(max_entries=24, show_spinner="Screening the features on the training cohort...")
def _screening_cached(_study: StudyState, family: str, settings: dict, harmonise_by: str | None, token: str):
    from core.workflows.fit import family_table, screen_family
    from core.stats.selection import ScreeningSettings

    train = list(_study.split.train_ids)
    X = family_table(model_features(_study, harmonise_by), family).loc[train]
    y = _study.cohort.set_index(_study.spec.id_column).loc[train, _study.spec.outcome_column]
    return screen_family(family, X, y, ScreeningSettings.from_dict(settings), icc=train_icc(_study))


def screening(study: StudyState, family: str):
    """The family's :class:`core.stats.selection.ScreeningResult` under the study's current settings."""
    return _screening_cached(study, family, study.model_settings.screening.to_dict(),
                             study.model_settings.harmonise_by, _data_token(study))


@st.cache_data(max_entries=8, show_spinner="Fitting the study's models on the training cohort...")
def _models_cached(_study: StudyState, settings: dict, token: str):
    from core.workflows.fit import fit_study_models

    chosen = ModelSettings.from_dict(settings)
    screened = {f: _screening_cached(_study, f, chosen.screening.to_dict(), chosen.harmonise_by, token)
                for f in study_families(_study)}
    return fit_study_models(_study.cohort, _study.spec, _study.split.train_ids, study_features(_study), chosen,
                            icc=train_icc(_study), screening=screened)


@st.cache_data(max_entries=8, show_spinner="Repeating the LASSO-CV on resamples of the training cohort...")
def _stability_cached(_study: StudyState, family: str, columns: tuple[str, ...], repeats: int, bootstrap: bool,
                      settings: dict, harmonise_by: str | None, token: str):
    from core.workflows.fit import family_table
    from core.stats.selection import selection_stability

    train = list(_study.split.train_ids)
    X = family_table(model_features(_study, harmonise_by), family).loc[train, list(columns)]
    y = _study.cohort.set_index(_study.spec.id_column).loc[train, _study.spec.outcome_column]
    return selection_stability(X, y, n_repeats=repeats, bootstrap=bootstrap, n_folds=settings["n_folds"],
                               rule=settings["rule"], seed=settings["seed"])


def stability(study: StudyState, family: str, columns: tuple[str, ...], repeats: int, bootstrap: bool):
    """(frequency, runs) of :func:`core.stats.selection.selection_stability` on the training cohort."""
    return _stability_cached(study, family, columns, repeats, bootstrap, study.model_settings.screening.to_dict(),
                             study.model_settings.harmonise_by, _data_token(study))


def study_models(study: StudyState, settings: ModelSettings | None = None):
    """Every fitted model of the open study (:class:`core.workflows.fit.StudyModels`), under its current
    settings or under ``settings`` (e.g. the same study with and without harmonisation)."""
    return _models_cached(study, (settings or study.model_settings).to_dict(), _data_token(study))


@st.cache_data(max_entries=8, show_spinner=False)
def _predictions_cached(_study: StudyState, settings: dict, token: str) -> pd.DataFrame:
    return study_models(_study).predict(_study.cohort, study_features(_study), _study.spec)


def study_predictions(study: StudyState) -> pd.DataFrame:
    """Every model's probability and every score for every patient of the open study (index: ID)."""
    return _predictions_cached(study, study.model_settings.to_dict(), _data_token(study))


@st.cache_data(max_entries=1, show_spinner=False)
def sample_truth() -> pd.DataFrame:
    """The sample cohort's hidden phenotype (generator_truth.csv): for teaching only, never a predictor."""
    from core.io.paths import SAMPLE_DIR

    return pd.read_csv(SAMPLE_DIR / "generator_truth.csv", dtype={"patient_id": str})


@st.cache_resource(show_spinner="Learning how the sample's features follow its hidden phenotype...")
def sample_emulators() -> dict:
    """:class:`core.workflows.teaching.FeatureEmulator` per feature kind, fitted on the rendered sample cohort."""
    from core.workflows.teaching import FeatureEmulator

    truth = sample_truth()
    return {kind: FeatureEmulator.fit(truth, pd.read_parquet(path))
            for kind, path in (("radiomics", SAMPLE_RADIOMICS), ("deep", SAMPLE_DEEP))}


@st.cache_data(max_entries=4, show_spinner="Running the pipeline twice: honest and leaky screening...")
def _leakage_cached(_study: StudyState, settings: dict, token: str) -> pd.DataFrame:
    from core.workflows.teaching import leakage_demo

    chosen = ModelSettings.from_dict(settings)
    return leakage_demo(_study.cohort, _study.spec, _study.split.train_ids, _study.split.test_ids,
                        study_features(_study), chosen, honest=study_models(_study, chosen))


def leakage(study: StudyState) -> pd.DataFrame:
    """Test AUCs of the open study's models with training-only vs all-patient screening."""
    return _leakage_cached(study, study.model_settings.to_dict(), _data_token(study))


@st.cache_data(max_entries=4, show_spinner="Writing the report...")
def _report_cached(_study: StudyState, settings: dict, token: str):
    from core.workflows.report import ReportInputs, build_report

    models = study_models(_study)
    autoencoder = None
    if _study.ae_weights:
        from core.imaging.deep.train import load_weights

        config = load_weights(_study.ae_weights)[1]["config"]
        autoencoder = {"latent_size": config.latent_size, "crop_size": config.crop_size}
    inputs = ReportInputs(name=_study.name, cohort=_study.cohort, spec=_study.spec, split=_study.split, models=models,
                          predictions=study_predictions(_study),
                          funnels={f: screening(_study, f).funnel for f in study_families(_study)},
                          radiomics_settings=_study.radiomics_settings, autoencoder=autoencoder,
                          is_sample=_study.is_sample)
    return build_report(inputs)


def study_report(study: StudyState):
    """The open study's report (:class:`core.workflows.report.Report`: ``.html``, ``.pdf``)."""
    return _report_cached(study, study.model_settings.to_dict(), _data_token(study))


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


def variable_label(name: str) -> str:
    """A column name in words: the sample study's labels, else the name with spaces."""
    from core.workflows.sample import VARIABLE_LABELS

    return VARIABLE_LABELS.get(name) or name.replace("_", " ").capitalize()


def fill_inputs(prefix: str, values: dict, levels: dict) -> None:
    """Pre-set the inputs made by :func:`predictor_inputs` (e.g. from a study patient's row)."""
    for variable, value in values.items():
        st.session_state[f"{prefix}{variable}"] = str(value) if variable in levels else float(value)


def predictor_inputs(variables: list[str], levels: dict, train: pd.DataFrame, prefix: str, *,
                     help_texts: dict | None = None, columns: int = 4) -> dict:
    """One input per predictor in clinical words: a select box of levels, or a number.

    Inputs start at the training cohort's mode / median; their state lives under
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
                st.session_state[key] = train[variable].mode().iloc[0]
            row[variable] = column.selectbox(variable_label(variable), options, key=key, help=help_text)
        else:
            if key not in st.session_state:
                st.session_state[key] = float(train[variable].median())
            row[variable] = column.number_input(variable_label(variable), key=key, format="%.3f", help=help_text)
    return row


def nomogram_plot(nomogram, points: dict | None = None, total: float | None = None):
    """(plotly figure, axes) of a :class:`core.stats.modeling.Nomogram` with clinical labels, the patient marked."""
    from core.figures.charts import nomogram_figure

    axes = {}
    for variable in nomogram.variables:
        axis = nomogram.axis(variable)
        axis["label"] = [f"{v:g}" if not isinstance(v, str) else v for v in axis["value"]]
        if variable not in nomogram.levels and len(axis) > 8:
            axis.loc[1::2, "label"] = ""  # every other tick label, so they do not overlap
        axes[variable] = axis
    labels = {v: variable_label(v) for v in nomogram.variables}
    figure = nomogram_figure(axes, labels, nomogram.total_points_axis(), nomogram.risk_axis(),
                             patient_points=points, patient_total=total)
    return figure, axes


def format_p(p: float) -> str:
    """A p-value as tables print it: '< 0.001', or three decimals; '' when not tested."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return ""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def csv_download(frame: pd.DataFrame, filename: str, *, label: str, key: str) -> None:
    """A download button for ``frame`` as UTF-8 CSV, written only when clicked (feature tables are large)."""
    st.download_button(label, lambda: frame.to_csv(index=False).encode("utf-8"), file_name=filename,
                       mime="text/csv", key=key, icon=":material/download:")


def parquet_download(frame: pd.DataFrame, filename: str, *, label: str, key: str) -> None:
    """A download button for ``frame`` (index kept) as Parquet, written only when clicked."""
    def payload() -> bytes:
        buffer = io.BytesIO()
        frame.to_parquet(buffer)
        return buffer.getvalue()

    st.download_button(label, payload, file_name=filename, mime="application/octet-stream", key=key,
                       icon=":material/download:")


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
        st.markdown(f"{len(study.cohort)} patients · {study.n_events} events · "
                    f"train {len(study.split.train_ids)} / test {len(study.split.test_ids)}")
        if study.is_sample:
            st.caption("Synthetic data made by RadNomo's generator; not patient data.")


# ---------------------------------------------------------------------------------------------
# Choosing a manifest of CT cases (shared by the feature pages)
# ---------------------------------------------------------------------------------------------

MANIFEST_SOURCES = ("Sample study", "Upload a manifest and a zip of images", "Manifest on the server")


def manifest_picker(prefix: str) -> tuple[str, pd.DataFrame] | None:
    """Widgets to choose a manifest; returns (description, manifest with absolute paths) or None.

    ``prefix`` keeps widget keys apart between pages (e.g. "fr", "ae"). The choice is kept in
    session state under ``<prefix>_manifest`` so it survives reruns.
    """
    import io
    import tempfile

    from core.io.archive import safe_extract_zip
    from core.imaging.extraction.batch import read_manifest
    from core.io.paths import data_root, resolve_in_root, workspace_dir
    from core.workflows.sample import SAMPLE_MANIFEST

    state_key = f"{prefix}_manifest"
    source = st.radio("Manifest", MANIFEST_SOURCES, horizontal=True, key=f"{prefix}_source")
    if source == MANIFEST_SOURCES[0]:
        with guard():
            manifest = read_manifest(SAMPLE_MANIFEST)
            on_disk = manifest["Image"].map(lambda p: Path(p).is_file())
            st.session_state[state_key] = ("sample study", manifest[on_disk].reset_index(drop=True))
            st.caption(f"{int(on_disk.sum())} of {len(manifest)} sample CTs are on disk. Regenerate all with "
                       "`python -m core.imaging.synthetic --n 1001 --seed 20250601 --out sample_data --workers 2`.")
    elif source == MANIFEST_SOURCES[1]:
        manifest_file = st.file_uploader("Manifest CSV (ID,Image,Mask[,Mask_reader2]; paths inside the zip)",
                                         type=["csv"], key=f"{prefix}_manifest_upload")
        archive = st.file_uploader("Zip of images and masks", type=["zip"], key=f"{prefix}_zip_upload")
        if manifest_file is not None and archive is not None and st.button("Unpack", key=f"{prefix}_unpack"):
            with guard():
                folder = Path(tempfile.mkdtemp(prefix="upload-", dir=workspace_dir()))
                safe_extract_zip(archive.getvalue(), folder)
                table = pd.read_csv(io.BytesIO(manifest_file.getvalue()), dtype=str, keep_default_na=False)
                st.session_state[state_key] = (manifest_file.name, read_manifest(table, base_dir=folder))
    else:
        root = data_root()
        server_manifest = st.text_input(f"Manifest path inside the data root ({root})", key=f"{prefix}_server_path",
                                        placeholder="manifest.csv")
        if st.button("Read manifest", key=f"{prefix}_read_server"):
            with guard():
                st.session_state[state_key] = (server_manifest, read_manifest(resolve_in_root(server_manifest, root)))
    chosen = st.session_state.get(state_key)
    if chosen is not None:
        study = get_study()
        unknown = sorted(set(chosen[1]["ID"]) - set(study.cohort[study.spec.id_column]))
        st.markdown(f"**{chosen[0]}**: {len(chosen[1])} cases" +
                    (", with second-reader masks" if "Mask_reader2" in chosen[1] else ""))
        if unknown:
            st.warning(f"{len(unknown)} manifest ID(s) are not in the open cohort, e.g. {unknown[:3]}.")
    return chosen
