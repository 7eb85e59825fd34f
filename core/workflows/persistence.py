"""Studies that last: save a :class:`~core.workflows.study.Study` to a folder, reopen it, export and import it.

A study folder holds plain data only: ``study.json`` (name, roles, split, settings, labels, the
families and the SHA-256 of every other file), Parquet tables (the cohort, each family's features and
second-reader features), an autoencoder's weights as safetensors with its training log, and the fitted
models as JSON. Nothing is ever pickled or unpickled.

Saves are atomic: data files are content-addressed (``<role>-<sha256 prefix>.<ext>``) and never
overwritten, and ``study.json`` (which names them) is replaced in one ``os.replace`` after they are all
written; files no longer named are removed afterwards. A save killed at any moment leaves either the
previous study or the new one, complete. Loading re-validates everything as if the study were typed
by hand (IDs, outcome, variable types, split, feature tables), so an edited file cannot slip in.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.io.archive import MAX_STUDY_ZIP_MEMBERS, declared_member_count, safe_extract_zip
from core.io.limits import MAX_JSON_BYTES, limit, read_json_limited
from core.io.spaces import folder_lock
from core.io.tables import read_any_table
from core.stats.learners import LEARNERS
from core.stats.cohort import CohortSpec, CohortSplit, SplitConfig, validate_cohort, validate_feature_table
from core.vocabulary import score_column
from core.workflows.fit import StudyModels
from core.workflows.study import (Autoencoder, CombinedFamily, EvaluationSettings, FeatureFamily, ModelSettings,
                                  Study, SubgroupSettings)
from core.workflows.validation import InternalValidation

__all__ = ["save_study", "load_study", "load_study_models", "export_study", "import_study", "list_studies",
           "study_folder_name", "STUDY_FILE"]

STUDY_FILE = "study.json"
FORMAT = "radnomo-study"
FORMAT_VERSION = 2
# Content-addressed data files: role, optional family, 16 hex digits of the SHA-256, extension.
DATA_FILE = re.compile(r"^(cohort|models|validation_(optimism|runs|resamples|cv|calibration|calibration_curve)|"
                       r"(features|reader2|ae|history)_[a-z][a-z0-9_]{0,39})-[0-9a-f]{16}"
                       r"\.(parquet|json|csv|safetensors)$")
# The internal validation's tables, with the index each is saved without (Parquet keeps plain columns).
VALIDATION_TABLES = {"optimism": "model", "runs": None, "resamples": "resample", "cv": None,
                     "calibration": "model", "calibration_curve": None}
# Formats that can run code when loaded: refused by name, whatever they contain.
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".npy", ".npz", ".pt", ".pth", ".ckpt", ".dill", ".sav")
MAX_ARCHIVE_BYTES = limit("MAX_ARCHIVE_BYTES", 4 << 30)
# Training patients whose saved predictions travel with the models: reloaded models must reproduce them.
CHECK_PATIENTS = 20
# How closely they must (the same numbers through the same arithmetic; only summation order may differ).
CHECK_TOLERANCE = {"rtol": 1e-7, "atol": 1e-9}
# Errors Python raises for malformed content (wrong types, missing keys, numbers out of range); a study's
# files are an upload, so each becomes a RadNomoError naming the study.
MALFORMED = (LookupError, TypeError, ValueError, AttributeError, OverflowError, RecursionError)


def _short(text: object, length: int = 80) -> str:
    """``text`` cut to ``length`` characters for a message (a hostile name can be thousands long)."""
    text = str(text)
    return text if len(text) <= length else f"{text[:length]}..."


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write ``path`` through a temporary file in its folder, flushed to disk, then renamed into place."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(Path(temporary))
        with open(temporary, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _store(folder: Path, role: str, suffix: str, write: Callable[[Path], object], files: dict[str, str]) -> str:
    """Write one data file under its content address (kept if already there). Returns its name."""
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{role}.", suffix=".tmp")
    os.close(handle)
    try:
        write(Path(temporary))
        digest = _sha256(Path(temporary))
        name = f"{role}-{digest[:16]}{suffix}"
        target = folder / name
        if target.is_file() and _sha256(target) == digest:
            os.remove(temporary)
        else:
            with open(temporary, "rb+") as stream:
                os.fsync(stream.fileno())
            os.replace(temporary, target)
        files[name] = digest
        return name
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def study_folder_name(name: str) -> str:
    """A folder name from a study name (letters, digits, dashes)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:60] or "study"


def save_study(study: Study, folder: str | Path, models: StudyModels | None = None) -> Path:
    """Write ``study`` (and its fitted ``models``, optional) into ``folder``; returns the folder.

    Atomic: the previous study in ``folder`` stays loadable until the new ``study.json`` replaces it
    in one step, and leftovers of an interrupted save are removed by the next one.
    """
    folder = Path(folder)
    # One save of a folder at a time (two tabs, two users): each save removes the files its study.json does not
    # name, so without the lock it would remove a concurrent save's files mid-save. A save waits for the other
    # (up to core.io.spaces.LOCK_TIMEOUT_S), then gives up with a RadNomoError that says so.
    with folder_lock(folder):
        return _save_locked(study, folder, models)


def _save_locked(study: Study, folder: Path, models: StudyModels | None) -> Path:
    """:func:`save_study`'s work, with the folder's lock held."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}

    def parquet(frame: pd.DataFrame) -> Callable[[Path], object]:
        return lambda p: frame.to_parquet(p, compression="zstd")

    cohort_file = _store(folder, "cohort", ".parquet", parquet(study.cohort), files)
    families = []
    for family in study.families:
        entry = {"name": family.name, "label": family.label, "kind": family.kind, "source": family.source,
                 "extraction": family.extraction,
                 "table": _store(folder, f"features_{family.name}", ".parquet", parquet(family.table), files),
                 "reader2": None if family.reader2 is None else _store(folder, f"reader2_{family.name}", ".parquet",
                                                                     parquet(family.reader2), files),
                 "autoencoder": None}
        if family.autoencoder is not None:
            weights = family.autoencoder.weights
            history = family.autoencoder.history
            entry["autoencoder"] = {
                "weights": _store(folder, f"ae_{family.name}", ".safetensors",
                                  partial(shutil.copyfile, weights), files),
                "history": None if history is None else _store(folder, f"history_{family.name}", ".csv",
                                                               partial(history.to_csv, index=False), files)}
        families.append(entry)
    validation: dict[str, object] | None = None
    run = study.current_validation()  # a run made on other data or settings is not kept
    if run is not None:
        validation = {"key": run.key, "meta": dict(run.meta)}
        for part, index in VALIDATION_TABLES.items():
            frame = getattr(run, part)
            if frame is not None and index is not None:
                frame = frame.reset_index(names=index)
            validation[part] = None if frame is None else _store(folder, f"validation_{part}", ".parquet",
                                                                 parquet(frame), files)
    models_file = None
    if models is not None:
        # With the predictions they must reproduce on reloading (load_study_models refuses edited models by them).
        saved_models = {**models.to_dict(), "check": _prediction_check(study, models)}
        models_file = _store(folder, "models", ".json",
                             lambda p: p.write_text(json.dumps(saved_models, indent=1)), files)
    description = {
        "format": FORMAT, "version": FORMAT_VERSION, "name": study.name, "is_sample": study.is_sample,
        "spec": study.spec.to_dict(),  # the outcome by its type; CohortSpec.from_dict reads the older layout too
        "split": {"train_ids": list(study.split.train_ids), "test_ids": list(study.split.test_ids),
                  "test_size": study.split.config.test_size, "seed": study.split.config.seed},
        "settings": study.settings.to_dict(), "labels": dict(study.labels),
        "subgroup": None if study.subgroup is None else study.subgroup.to_dict(),
        "cohort": cohort_file, "families": families,
        "combined": [{"name": c.name, "label": c.label, "members": list(c.members)} for c in study.combined],
        "exclusions": [list(e) for e in study.exclusions],
        "evaluation": study.evaluation.to_dict(), "validation": validation,
        "author_notes": dict(study.author_notes),
        "models": models_file, "models_fingerprint": study.model_fingerprint if models is not None else None,
        "files": files,
    }
    _fsync_write(folder / STUDY_FILE, lambda p: p.write_text(json.dumps(description, indent=1)))
    for path in folder.iterdir():  # files of earlier saves, and leftovers of interrupted ones
        if path.name != STUDY_FILE and path.name not in files:
            path.unlink(missing_ok=True) if path.is_file() or path.is_symlink() else shutil.rmtree(path, True)
    return folder


def _read_description(folder: Path) -> dict:
    """``study.json`` of ``folder``, parsed only when under :data:`core.io.limits.MAX_JSON_BYTES`."""
    path = folder / STUDY_FILE
    try:
        present = path.is_file()
    except OSError as error:  # e.g. a folder name longer than the file system allows
        raise RadNomoError(f"the study folder '{_short(folder.name)}' cannot be read ({error.strerror or error}).") \
            from error
    if not present:
        raise RadNomoError(f"'{_short(folder.name)}' is not a RadNomo study: {STUDY_FILE} is missing.")
    description = read_json_limited(path, what=STUDY_FILE)  # size, UTF-8, nesting and number length checked
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise RadNomoError(f"{STUDY_FILE} is not a RadNomo study description.")
    if description.get("version") != FORMAT_VERSION:
        raise RadNomoError(f"study format version {description.get('version')} is not supported (this RadNomo "
                           f"reads version {FORMAT_VERSION}; re-save the study from the RadNomo that made it).")
    return description


def _checked_files(folder: Path, description: dict) -> dict[str, str]:
    files = description.get("files")
    if not isinstance(files, dict):
        raise RadNomoError(f"{STUDY_FILE} does not list its files.")
    for name, digest in files.items():
        if not isinstance(name, str) or not DATA_FILE.match(name):
            raise RadNomoError(f"the study lists an unexpected file '{name}'.")
        path = folder / name
        if path.is_symlink() or not path.is_file():
            raise RadNomoError(f"the study's file '{name}' is missing.")
        if _sha256(path) != digest:
            raise RadNomoError(f"the study's file '{name}' was changed after saving (its SHA-256 differs).")
    return files


def _file(folder: Path, files: dict[str, str], name: object, what: str) -> Path:
    if not isinstance(name, str) or name not in files:
        raise RadNomoError(f"the study's {what} file is not among its listed files.")
    return folder / name


def _ids(values: object, what: str) -> tuple[str, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise RadNomoError(f"the study's {what} must be a list of patient IDs (text).")
    if len(set(values)) != len(values):
        raise RadNomoError(f"the study's {what} lists a patient twice.")
    return tuple(values)


def _split(values: dict, cohort_ids: pd.Index) -> CohortSplit:
    train, test = _ids(values.get("train_ids"), "training IDs"), _ids(values.get("test_ids"), "test IDs")
    overlap = set(train) & set(test)
    if overlap:
        raise RadNomoError(f"the study's split puts {len(overlap)} patient(s) in both the training and the test "
                           f"cohort, e.g. {sorted(overlap)[:3]}.")
    named, present = set(train) | set(test), set(cohort_ids)
    if named != present:
        unknown, unsplit = sorted(named - present), sorted(present - named)
        raise RadNomoError(f"the study's split does not match its cohort: {len(unknown)} unknown patient(s) "
                           f"{unknown[:3]}, {len(unsplit)} patient(s) in neither cohort {unsplit[:3]}.")
    return CohortSplit(train_ids=train, test_ids=test,
                       config=SplitConfig(test_size=float(values["test_size"]), seed=int(values["seed"])))


def _table(path: Path) -> pd.DataFrame:
    """A saved table read with the size limits every upload gets (an imported study is an upload)."""
    return read_any_table(path.read_bytes(), path.name)


#: The most author's notes a saved study may hold, and the longest one (characters): a study file is read whole.
MAX_AUTHOR_NOTES, MAX_AUTHOR_NOTE = 500, 5000


def _author_notes(values: object) -> dict[str, str]:
    """The author's checklist answers saved with the study ({} for a study saved without any, or before them)."""
    if values is None:
        return {}
    if not isinstance(values, dict) or len(values) > MAX_AUTHOR_NOTES or not all(
            isinstance(k, str) and isinstance(v, str) and len(k) <= 64 and len(v) <= MAX_AUTHOR_NOTE
            for k, v in values.items()):
        raise RadNomoError(f"the study's saved checklist notes are malformed (at most {MAX_AUTHOR_NOTES} texts of "
                           f"{MAX_AUTHOR_NOTE} characters, each under its item's key).")
    return dict(values)


def _validation(folder: Path, files: dict[str, str], values: object) -> InternalValidation | None:
    """The saved internal validation (None for a study saved without one, or before they were saved)."""
    if values is None:
        return None
    if not isinstance(values, dict) or not isinstance(values.get("key"), str):
        raise RadNomoError("the study's saved internal validation is malformed.")
    tables = {}
    for part, index in VALIDATION_TABLES.items():
        name = values.get(part)
        frame = None if name is None else _table(_file(folder, files, name, f"internal validation {part}"))
        if frame is not None and index is not None:
            frame = frame.set_index(index)
        tables[part] = frame
    return InternalValidation(key=values["key"], meta=dict(values.get("meta") or {}), **tables)


def load_study(folder: str | Path) -> Study:
    """Read a study folder written by :func:`save_study`, checking every file against its recorded hash
    and re-validating its content.

    Raises
    ------
    RadNomoError
        If the folder is not a study, or a file is missing, altered, unreadable or inconsistent
        (IDs, outcome, variable types, split, feature tables).
    """
    folder = Path(folder)
    with folder_lock(folder, shared=True):  # no save removes the files while they are read
        return _load_locked(folder)


def _load_locked(folder: Path) -> Study:
    """:func:`load_study`'s work, with the folder's shared lock held."""
    description = _read_description(folder)
    try:
        files = _checked_files(folder, description)
        spec = CohortSpec.from_dict(description["spec"])
        raw = _table(_file(folder, files, description["cohort"], "cohort"))
        validated = validate_cohort(raw.reset_index() if spec.id_column not in raw.columns else raw,
                                    spec.id_column, spec.outcome, continuous=spec.continuous,
                                    categorical=spec.categorical)
        cohort = validated.set_index(spec.id_column)
        split = _split(description["split"], cohort.index)
        families = []
        for entry in description["families"]:
            name = str(entry["name"])

            def table(key: str, entry=entry, name=name) -> pd.DataFrame:
                frame = _table(_file(folder, files, entry[key], f"{name} {key}"))
                checked = validate_feature_table(frame, cohort.index, name=f"saved {name} feature table",
                                                 refuse_constant=False)
                # The index keeps the name it was saved with: it is part of the table's (and the study's)
                # fingerprint, which saved models and the saved internal validation are matched by.
                return checked.rename_axis(frame.index.name) if frame.index.name is not None else checked

            autoencoder = None
            if entry.get("autoencoder"):
                ae = entry["autoencoder"]
                history = ae.get("history")
                autoencoder = Autoencoder(
                    weights=str(_file(folder, files, ae["weights"], f"{name} autoencoder")),
                    history=None if history is None else _table(_file(folder, files, history, f"{name} log")))
            families.append(FeatureFamily(name=name, label=str(entry["label"]), table=table("table"),
                                          kind=str(entry["kind"]), source=str(entry.get("source", "")),
                                          extraction=entry.get("extraction"), autoencoder=autoencoder,
                                          reader2=None if entry.get("reader2") is None else table("reader2")))
        combined = tuple(CombinedFamily(name=str(c["name"]), label=str(c["label"]),
                                        members=tuple(map(str, c["members"]))) for c in description["combined"])
        subgroup = description.get("subgroup")
        return Study(name=str(description["name"]), cohort=cohort, spec=spec, split=split, families=tuple(families),
                     combined=combined, settings=ModelSettings.from_dict(description["settings"]),
                     labels={str(k): str(v) for k, v in dict(description.get("labels") or {}).items()},
                     subgroup=None if subgroup is None else SubgroupSettings(**subgroup),
                     is_sample=bool(description.get("is_sample", False)),
                     exclusions=tuple((str(i), str(why)) for i, why in description.get("exclusions", [])),
                     evaluation=EvaluationSettings.from_dict(description.get("evaluation")),
                     validation=_validation(folder, files, description.get("validation")),
                     author_notes=_author_notes(description.get("author_notes")))
    except RadNomoError as error:
        raise RadNomoError(f"the study in '{_short(folder.name)}' cannot be opened: {error}") from error
    except (*MALFORMED, OSError) as error:
        raise RadNomoError(f"the study in '{_short(folder.name)}' is malformed ({type(error).__name__}: "
                           f"{_short(error, 200)}); it was edited or damaged: re-export it from the RadNomo that "
                           "saved it.") from error


def load_study_models(folder: str | Path, study: Study) -> StudyModels | None:
    """The fitted models saved with a study, when they were fitted on exactly this study (else None).

    The models are re-validated, not trusted (an imported study is an upload): read only under
    :data:`core.io.limits.MAX_JSON_BYTES`; every number finite and every model's terms its own
    (:meth:`StudyModels.from_dict`); then against ``study``: fitted on its training patients, reading
    families and variables it has, predicting a finite risk for its training patients, and reproducing the
    predictions saved with them for its first :data:`CHECK_PATIENTS` training patients.

    Raises
    ------
    RadNomoError
        For saved models that are oversized, malformed, not finite, or do not reproduce their own
        predictions on the study (edited models): refit them.
    """
    folder = Path(folder)
    with folder_lock(folder, shared=True):  # no save removes the files while they are read
        return _models_locked(folder, study)


def _models_locked(folder: Path, study: Study) -> StudyModels | None:
    """:func:`load_study_models`' work, with the folder's shared lock held."""
    description = _read_description(folder)
    if not description.get("models") or description.get("models_fingerprint") != study.model_fingerprint:
        return None
    try:
        files = _checked_files(folder, description)
        values = read_json_limited(_file(folder, files, description["models"], "models"), what="the saved models")
        if not isinstance(values, dict):
            raise RadNomoError("the saved models are not a JSON object.")
        models = StudyModels.from_dict(values)
        _check_models_on_study(study, models, values.get("check"))
        return models
    except RadNomoError as error:
        raise RadNomoError(f"the saved models of '{_short(folder.name)}' are refused: {error}") from error
    except (*MALFORMED, OSError) as error:
        raise RadNomoError(f"the saved models of '{_short(folder.name)}' are malformed ({type(error).__name__}: "
                           f"{_short(error, 200)}); refit the models.") from error


def _training_predictions(study: Study, models: StudyModels) -> pd.DataFrame:
    """Every model's prediction for the study's training patients (index: ID). Only they are scored: the
    models were fitted on them, so they can always be (a test patient may lack a value a policy of no
    imputation refuses)."""
    train = pd.Index(study.split.train_ids)
    tables = {name: table.loc[table.index.intersection(train)] for name, table in study.feature_tables().items()}
    return models.predict(study.train, tables)


def _survival_models_check(study: Study, models: StudyModels) -> None:
    """A time-to-event study's saved models predict survival at the study's horizons, each of them (a model saved
    with other horizons would leave the study's survival columns empty)."""
    horizons = tuple(float(h) for h in study.spec.outcome.horizons)  # type: ignore[attr-defined]  # a SurvivalOutcome's
    for name, model in models.items():
        saved = tuple(float(h) for h in getattr(model, "horizons", ()))
        if saved != horizons:
            raise RadNomoError(f"the {_short(name, 40)} model predicts survival at horizons "
                               f"{', '.join(f'{h:g}' for h in saved) or 'none'}, the study's are "
                               f"{', '.join(f'{h:g}' for h in horizons)}; refit the models.")


#: Outcome kind -> what its saved models must satisfy on the study besides every kind's checks:
#: ``(study, models) -> None``, raising RadNomoError. A kind without an entry has none.
MODEL_CHECKS: dict[str, Callable[[Study, StudyModels], None]] = {"survival": _survival_models_check}


def _prediction_check(study: Study, models: StudyModels) -> dict:
    """What reloaded models must reproduce: every prediction column for the first :data:`CHECK_PATIENTS`
    training patients (None where a patient has no prediction)."""
    ids = list(study.split.train_ids[:CHECK_PATIENTS])
    predictions = _training_predictions(study, models).reindex(ids)
    return {"ids": ids, "predictions": {column: [float(v) if math.isfinite(v) else None
                                                 for v in predictions[column].astype(float)]
                                        for column in predictions.columns}}


def _check_models_on_study(study: Study, models: StudyModels, check: object) -> None:
    """Refuse saved ``models`` that do not belong to ``study`` or do not reproduce their saved ``check``
    (:func:`_prediction_check`; None for a study saved before checks were kept: then the other checks only)."""
    if set(models.train_ids) != set(study.split.train_ids):
        raise RadNomoError("they were fitted on other training patients than the study's.")
    outcome = study.spec.outcome
    if models.outcome_kind != outcome.kind:
        raise RadNomoError(f"they predict a {_short(models.outcome_kind, 40)} outcome and the study's is a "
                           f"{outcome.kind} outcome ({outcome.describe()}); refit the models.")
    for name, model in models.items():
        learner = LEARNERS.get(model.learner)
        if learner is None or outcome.kind not in learner.outcome_kinds:
            raise RadNomoError(f"the {_short(name, 40)} model is fitted by the '{_short(model.learner, 40)}' learner, "
                               f"which does not fit a {outcome.kind} outcome; refit the models.")
    kind_check = MODEL_CHECKS.get(outcome.kind)
    if kind_check is not None:
        kind_check(study, models)
    families = {f.name: f for f in study.families}
    for score, members in models.members.items():  # each score and comparator, and the families it reads
        unknown = [m for m in members if m not in families]
        if unknown:
            raise RadNomoError(f"the {score} model reads feature families {unknown[:3]}, which the study does not "
                               "have.")
        columns = set().union(*(families[m].table.columns for m in members))
        missing = [f for f in models[score].variables if f not in columns]
        if missing:
            raise RadNomoError(f"the {score} model uses feature(s) {missing[:3]} that the study's {list(members)} "
                               "table(s) lack.")
    scores = {score_column(name) for name in models.scores}  # the fused model's score is computed, not read
    for model in (models[name] for name in models if name not in models.members):  # clinical, fused, any other
        lacking = [v for v in model.variables if v not in study.cohort.columns and v not in scores]
        if lacking:
            raise RadNomoError(f"the {model.name} model uses variable(s) {lacking[:3]} that the study's cohort lacks.")
    predictions = _training_predictions(study, models)
    values = predictions.to_numpy(dtype=float)
    if np.isinf(values).any():
        column = predictions.columns[np.isinf(values).any(axis=0)][0]
        raise RadNomoError(f"they predict an infinite {column} for some of the study's training patients.")
    silent = [m for m in models.model_names if m in predictions.columns and predictions[m].isna().all()]
    if silent or any(m not in predictions.columns for m in models.model_names):
        raise RadNomoError(f"they give no prediction for the study's training patients ({silent[:3]}).")
    if check is None:
        return
    if not isinstance(check, dict) or not isinstance(check.get("ids"), list) \
            or not isinstance(check.get("predictions"), dict):
        raise RadNomoError("their saved predictions (the check they travel with) are malformed.")
    if set(check["predictions"]) != set(predictions.columns) or not set(check["ids"]) <= set(predictions.index):
        raise RadNomoError("their saved predictions name other models or patients than the study's; they were "
                           "edited or belong to another study: refit the models.")
    for column, saved in check["predictions"].items():
        expected = np.array([np.nan if v is None else v for v in saved], dtype=float)
        now = predictions.loc[check["ids"], column].to_numpy(dtype=float)
        if expected.shape != now.shape or not np.allclose(now, expected, equal_nan=True, **CHECK_TOLERANCE):
            raise RadNomoError(f"they no longer reproduce their own {column} predictions for the study's training "
                               "patients (the coefficients were edited after saving); refit the models.")


def export_study(study: Study | str | Path, zip_path: str | Path, models: StudyModels | None = None) -> Path:
    """Write a study (or a saved study folder) as one zip archive. Returns the archive's path."""
    zip_path = Path(zip_path)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(study) if isinstance(study, (str, Path)) else save_study(study, Path(scratch) / "study", models)
        files = _checked_files(folder, _read_description(folder))

        def write(path: Path) -> None:
            with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name in [STUDY_FILE, *sorted(files)]:
                    archive.write(folder / name, arcname=name)

        zip_path.parent.mkdir(parents=True, exist_ok=True)
        _fsync_write(zip_path, write)
    return zip_path


def _study_member(name: str) -> bool:
    """Whether an archive member belongs in a study archive (``study.json`` and its data files only).

    Raises
    ------
    RadNomoError
        For a pickle-type member (named, whatever it holds: RadNomo never loads those) and any other
        name a study does not have (nested archives included).
    """
    if name.lower().endswith(PICKLE_SUFFIXES):
        raise RadNomoError(f"the archive holds the pickle-type file '{_short(name)}'; RadNomo never loads those "
                           "(nothing was unpacked).")
    if name != STUDY_FILE and not DATA_FILE.match(name):
        raise RadNomoError(f"the archive holds '{_short(name)}', a file a RadNomo study does not have (nothing was "
                           "unpacked); export the study again from RadNomo.")
    return True


def import_study(zip_path: str | Path, dest_dir: str | Path) -> Path:
    """Unpack a study archive into a new folder inside ``dest_dir`` and check it; returns that folder.

    Raises
    ------
    RadNomoError
        For anything unsafe or malformed: not a zip, path traversal, symbolic links, nested archives,
        oversize or zip-bomb members (see :func:`core.io.archive.safe_extract_zip`), encrypted or
        unsupported members, a bad checksum, pickle-type files, unexpected files, or a study that does
        not load. Nothing is left behind then, and nothing is ever written outside ``dest_dir``.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    try:
        data = Path(zip_path).read_bytes()
    except OSError as error:  # e.g. a name longer than the file system allows
        raise RadNomoError(f"the archive '{_short(Path(zip_path).name)}' cannot be read "
                           f"({error.strerror or error}).") from error
    declared = declared_member_count(data)
    if declared is not None and declared <= MAX_STUDY_ZIP_MEMBERS:
        # The directory is parsed only once its size is known to be small (safe_extract_zip refuses the
        # rest); a JSON member is refused on its declared size before a byte of it is unpacked or parsed.
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                oversize = [m for m in archive.infolist()
                            if m.filename.lower().endswith(".json") and m.file_size > MAX_JSON_BYTES]
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as error:
            raise RadNomoError(f"the archive cannot be read ({_short(error, 200)}).") from error
        if oversize:
            raise RadNomoError(f"the archive's '{_short(oversize[0].filename)}' unpacks to "
                               f"{oversize[0].file_size:,} bytes; a study's JSON files are read only up to "
                               f"{MAX_JSON_BYTES:,} bytes (RADNOMO_MAX_JSON_BYTES); nothing was unpacked.")
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=dest_dir))
    try:
        # Checks every member (count, duplicates such as two study.json, traversal, links, nested archives,
        # sizes, names) before writing any; damaged members found while unpacking are refused too.
        safe_extract_zip(data, staging, max_total_bytes=MAX_ARCHIVE_BYTES, max_members=MAX_STUDY_ZIP_MEMBERS,
                         allowed=_study_member)
        for path in sorted(staging.iterdir()):
            if path.suffix == ".parquet" and path.read_bytes()[:4] != b"PAR1":
                raise RadNomoError(f"'{path.name}' is not a Parquet file.")
        study = load_study(staging)
        load_study_models(staging, study)  # malformed saved models are refused now, not when first used
        target = dest_dir / study_folder_name(study.name)
        suffix = 1
        while target.exists():
            suffix += 1
            target = dest_dir / f"{study_folder_name(study.name)}-{suffix}"
        staging.rename(target)
        return target
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def list_studies(root: str | Path) -> pd.DataFrame:
    """Saved studies under ``root``: ``folder``, ``name``, ``patients``, ``saved`` (modification time)."""
    rows = []
    root = Path(root)
    try:
        folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if root.is_dir() else []
    except OSError as error:  # e.g. a name longer than the file system allows
        raise RadNomoError(f"the studies folder '{_short(root)}' cannot be read ({error.strerror or error}).") \
            from error
    for folder in folders:
        try:
            description = _read_description(folder)
            patients = len(description["split"]["train_ids"]) + len(description["split"]["test_ids"])
        except (RadNomoError, *MALFORMED):
            continue
        rows.append({"folder": str(folder), "name": str(description.get("name")), "patients": patients,
                     "saved": pd.Timestamp((folder / STUDY_FILE).stat().st_mtime, unit="s").round("s")})
    return pd.DataFrame(rows, columns=["folder", "name", "patients", "saved"])
