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
import json
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from core.errors import RadNomoError
from core.io.archive import safe_extract_zip
from core.io.limits import limit
from core.io.tables import read_any_table
from core.stats.cohort import CohortSpec, CohortSplit, SplitConfig, validate_cohort, validate_feature_table
from core.workflows.fit import StudyModels
from core.workflows.study import (Autoencoder, CombinedFamily, FeatureFamily, ModelSettings, Study,
                                  SubgroupSettings)

__all__ = ["save_study", "load_study", "load_study_models", "export_study", "import_study", "list_studies",
           "study_folder_name", "STUDY_FILE"]

STUDY_FILE = "study.json"
FORMAT = "radnomo-study"
FORMAT_VERSION = 2
# Content-addressed data files: role, optional family, 16 hex digits of the SHA-256, extension.
DATA_FILE = re.compile(r"^(cohort|models|(features|reader2|ae|history)_[a-z][a-z0-9_]{0,39})-[0-9a-f]{16}"
                       r"\.(parquet|json|csv|safetensors)$")
# Formats that can run code when loaded: refused by name, whatever they contain.
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".npy", ".npz", ".pt", ".pth", ".ckpt", ".dill", ".sav")
MAX_ARCHIVE_BYTES = limit("MAX_ARCHIVE_BYTES", 4 << 30)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_write(path: Path, write: Callable[[Path], None]) -> None:
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


def _store(folder: Path, role: str, suffix: str, write: Callable[[Path], None], files: dict[str, str]) -> str:
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
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}

    def parquet(frame: pd.DataFrame) -> Callable[[Path], None]:
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
                                  lambda p, w=weights: shutil.copyfile(w, p), files),
                "history": None if history is None else _store(folder, f"history_{family.name}", ".csv",
                                                               lambda p, h=history: h.to_csv(p, index=False), files)}
        families.append(entry)
    models_file = None
    if models is not None:
        models_file = _store(folder, "models", ".json",
                             lambda p: p.write_text(json.dumps(models.to_dict(), indent=1)), files)
    description = {
        "format": FORMAT, "version": FORMAT_VERSION, "name": study.name, "is_sample": study.is_sample,
        "spec": {"id_column": study.spec.id_column, "outcome_column": study.spec.outcome_column,
                 "continuous": list(study.spec.continuous), "categorical": list(study.spec.categorical),
                 "outcome_labels": list(study.spec.outcome_labels)},
        "split": {"train_ids": list(study.split.train_ids), "test_ids": list(study.split.test_ids),
                  "test_size": study.split.config.test_size, "seed": study.split.config.seed},
        "settings": study.settings.to_dict(), "labels": dict(study.labels),
        "subgroup": None if study.subgroup is None else study.subgroup.to_dict(),
        "cohort": cohort_file, "families": families,
        "combined": [{"name": c.name, "label": c.label, "members": list(c.members)} for c in study.combined],
        "exclusions": [list(e) for e in study.exclusions],
        "models": models_file, "models_fingerprint": study.fingerprint if models is not None else None,
        "files": files,
    }
    _fsync_write(folder / STUDY_FILE, lambda p: p.write_text(json.dumps(description, indent=1)))
    for path in folder.iterdir():  # files of earlier saves, and leftovers of interrupted ones
        if path.name != STUDY_FILE and path.name not in files:
            path.unlink(missing_ok=True) if path.is_file() or path.is_symlink() else shutil.rmtree(path, True)
    return folder


def _read_description(folder: Path) -> dict:
    path = folder / STUDY_FILE
    if not path.is_file():
        raise RadNomoError(f"'{folder.name}' is not a RadNomo study: {STUDY_FILE} is missing.")
    try:
        description = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RadNomoError(f"{STUDY_FILE} is not valid JSON ({error}).") from error
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
    description = _read_description(folder)
    try:
        files = _checked_files(folder, description)
        spec_values = description["spec"]
        spec = CohortSpec(id_column=str(spec_values["id_column"]), outcome_column=str(spec_values["outcome_column"]),
                          continuous=tuple(map(str, spec_values["continuous"])),
                          categorical=tuple(map(str, spec_values["categorical"])),
                          outcome_labels=tuple(map(str, spec_values["outcome_labels"])))
        raw = _table(_file(folder, files, description["cohort"], "cohort"))
        validated = validate_cohort(raw.reset_index() if spec.id_column not in raw.columns else raw,
                                    spec.id_column, spec.outcome_column, continuous=spec.continuous,
                                    categorical=spec.categorical)
        cohort = validated.set_index(spec.id_column)
        split = _split(description["split"], cohort.index)
        families = []
        for entry in description["families"]:
            name = str(entry["name"])

            def table(key: str, entry=entry, name=name) -> pd.DataFrame:
                frame = _table(_file(folder, files, entry[key], f"{name} {key}"))
                return validate_feature_table(frame, cohort.index, name=f"saved {name} feature table",
                                              refuse_constant=False)

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
                     exclusions=tuple((str(i), str(why)) for i, why in description.get("exclusions", [])))
    except RadNomoError as error:
        raise RadNomoError(f"the study in '{folder.name}' cannot be opened: {error}") from error
    except (KeyError, TypeError, ValueError, AttributeError, OSError) as error:
        raise RadNomoError(f"the study in '{folder.name}' is malformed ({type(error).__name__}: {error}).") from error


def load_study_models(folder: str | Path, study: Study) -> StudyModels | None:
    """The fitted models saved with a study, when they were fitted on exactly this study (else None)."""
    folder = Path(folder)
    description = _read_description(folder)
    if not description.get("models") or description.get("models_fingerprint") != study.fingerprint:
        return None
    files = _checked_files(folder, description)
    try:
        values = json.loads(_file(folder, files, description["models"], "models").read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RadNomoError(f"the study's saved models are not valid JSON ({error}).") from error
    if not isinstance(values, dict):
        raise RadNomoError("the study's saved models are malformed.")
    return StudyModels.from_dict(values)


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
    if not zipfile.is_zipfile(zip_path):
        raise RadNomoError("the file is not a zip archive.")
    data = Path(zip_path).read_bytes()
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = [m.filename for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError) as error:
        raise RadNomoError(f"the archive cannot be read ({error}).") from error
    pickles = [n for n in names if n.lower().endswith(PICKLE_SUFFIXES)]
    if pickles:
        raise RadNomoError(f"the archive holds pickle-type file(s) {pickles[:3]}; RadNomo never loads those.")
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=dest_dir))
    try:
        try:  # checks every member (traversal, links, nested archives, sizes) before writing any
            safe_extract_zip(data, staging, max_total_bytes=MAX_ARCHIVE_BYTES)
        except (RuntimeError, NotImplementedError, zlib.error, zipfile.BadZipFile, EOFError) as error:
            # zipfile raises these for encrypted members, unsupported compression and bad checksums.
            raise RadNomoError(f"the archive cannot be unpacked ({type(error).__name__}: {error}).") from error
        unexpected = [n for n in names if n != STUDY_FILE and not DATA_FILE.match(n)]
        if unexpected:
            raise RadNomoError(f"the archive holds file(s) a RadNomo study does not have: {unexpected[:3]}.")
        for name in names:
            if name.endswith(".parquet") and (staging / name).read_bytes()[:4] != b"PAR1":
                raise RadNomoError(f"'{name}' is not a Parquet file.")
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
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                description = _read_description(folder)
                patients = len(description["split"]["train_ids"]) + len(description["split"]["test_ids"])
            except (RadNomoError, KeyError, TypeError):
                continue
            rows.append({"folder": str(folder), "name": str(description.get("name")), "patients": patients,
                         "saved": pd.Timestamp((folder / STUDY_FILE).stat().st_mtime, unit="s").round("s")})
    return pd.DataFrame(rows, columns=["folder", "name", "patients", "saved"])
