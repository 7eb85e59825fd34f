"""Studies that last: save a study to a folder, reopen it, export and import it as one zip.

A study folder holds plain data only: ``study.json`` (name, variable roles, the split, model
settings, extraction settings, and the SHA-256 of every other file), Parquet tables (cohort,
feature tables), the fitted models as JSON (coefficients, scalers, feature names) and the
autoencoder's weights as safetensors. Nothing is ever pickled or unpickled; an imported archive
is checked member by member before anything of it is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from core.io.archive import safe_extract_zip
from core.stats.cohort import CohortSpec, CohortSplit, SplitConfig
from core.errors import RadNomoError
from core.workflows.fit import ModelSettings, StudyModels

__all__ = ["SavedStudy", "save_study", "load_study", "export_study", "import_study", "list_studies",
           "STUDY_FILE"]

STUDY_FILE = "study.json"
FORMAT = "radnomo-study"
FORMAT_VERSION = 1
TABLES = ("cohort", "radiomics", "radiomics_reader2", "deep")
WEIGHTS_FILE = "ae_weights.safetensors"
MODELS_FILE = "models.json"
HISTORY_FILE = "ae_history.csv"
ALLOWED_FILES = {STUDY_FILE, MODELS_FILE, WEIGHTS_FILE, HISTORY_FILE, *(f"{t}.parquet" for t in TABLES)}
# Formats that can run code when loaded: refused by name, whatever they contain.
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".npy", ".npz", ".pt", ".pth", ".ckpt", ".dill", ".sav")
MAX_ARCHIVE_BYTES = 4 << 30


@dataclass(kw_only=True, eq=False)
class SavedStudy:
    """Everything a study needs to be reopened as it was.

    Attributes
    ----------
    name : str
    cohort : pandas.DataFrame
        The validated clinical table.
    spec : CohortSpec
    split : CohortSplit
    model_settings : ModelSettings
    radiomics, radiomics_reader2, deep : pandas.DataFrame or None
        Feature tables (index: patient ID).
    radiomics_settings : dict or None
        Extraction settings of the radiomics features (pyradiomics parameters, pre-processing).
    ae_weights : str or None
        Path of the autoencoder's safetensors weights (copied into the study folder on saving).
    ae_history : pandas.DataFrame or None
    models : StudyModels or None
        The fitted models (saved as JSON; on loading, scores and models are rebuilt from it).
    is_sample : bool
    """

    name: str
    cohort: pd.DataFrame
    spec: CohortSpec
    split: CohortSplit
    model_settings: ModelSettings = field(default_factory=ModelSettings)
    radiomics: pd.DataFrame | None = None
    radiomics_reader2: pd.DataFrame | None = None
    deep: pd.DataFrame | None = None
    radiomics_settings: dict | None = None
    ae_weights: str | None = None
    ae_history: pd.DataFrame | None = None
    models: StudyModels | None = None
    is_sample: bool = False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename it into place."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def slug(name: str) -> str:
    """A folder name from a study name (letters, digits, dashes)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:60] or "study"


def save_study(study: SavedStudy, folder: str | Path) -> Path:
    """Write ``study`` into ``folder`` (created; files replaced atomically one by one). Returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    tables = {"cohort": study.cohort, "radiomics": study.radiomics, "radiomics_reader2": study.radiomics_reader2,
              "deep": study.deep}
    for name, table in tables.items():
        target = folder / f"{name}.parquet"
        if table is None:
            target.unlink(missing_ok=True)
            continue
        _atomic_write(target, lambda p, t=table: t.to_parquet(p, compression="zstd"))
        files[target.name] = _sha256(target)
    for target, present, write in (
            (folder / WEIGHTS_FILE, study.ae_weights is not None,
             lambda p: shutil.copyfile(study.ae_weights, p)),
            (folder / HISTORY_FILE, study.ae_history is not None,
             lambda p: study.ae_history.to_csv(p, index=False)),
            (folder / MODELS_FILE, study.models is not None,
             lambda p: p.write_text(json.dumps(study.models.to_dict(), indent=1)))):
        if not present:
            target.unlink(missing_ok=True)
            continue
        _atomic_write(target, write)
        files[target.name] = _sha256(target)
    manifest = {
        "format": FORMAT, "version": FORMAT_VERSION, "name": study.name, "is_sample": study.is_sample,
        "spec": {"id_column": study.spec.id_column, "outcome_column": study.spec.outcome_column,
                 "continuous": list(study.spec.continuous), "categorical": list(study.spec.categorical),
                 "outcome_labels": list(study.spec.outcome_labels)},
        "split": {"train_ids": list(study.split.train_ids), "test_ids": list(study.split.test_ids),
                  "test_size": study.split.config.test_size, "seed": study.split.config.seed},
        "model_settings": study.model_settings.to_dict(), "radiomics_settings": study.radiomics_settings,
        "files": files,
    }
    _atomic_write(folder / STUDY_FILE, lambda p: p.write_text(json.dumps(manifest, indent=1)))
    return folder


def _read_manifest(folder: Path) -> dict:
    path = folder / STUDY_FILE
    if not path.is_file():
        raise RadNomoError(f"'{folder.name}' is not a RadNomo study: {STUDY_FILE} is missing.")
    try:
        manifest = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RadNomoError(f"{STUDY_FILE} is not valid JSON ({error}).") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise RadNomoError(f"{STUDY_FILE} is not a RadNomo study description.")
    if manifest.get("version") != FORMAT_VERSION:
        raise RadNomoError(f"study format version {manifest.get('version')} is not supported (this RadNomo reads "
                           f"version {FORMAT_VERSION}).")
    return manifest


def load_study(folder: str | Path) -> SavedStudy:
    """Read a study folder written by :func:`save_study`, checking every file against its recorded hash.

    Raises
    ------
    RadNomoError
        If the folder is not a study, a file is missing, altered or unreadable.
    """
    folder = Path(folder)
    manifest = _read_manifest(folder)
    try:
        files = dict(manifest["files"])
        for name, digest in files.items():
            if name not in ALLOWED_FILES:
                raise RadNomoError(f"the study lists an unexpected file '{name}'.")
            path = folder / name
            if not path.is_file():
                raise RadNomoError(f"the study's file '{name}' is missing.")
            if _sha256(path) != digest:
                raise RadNomoError(f"the study's file '{name}' was changed after saving (its SHA-256 differs).")
        tables = {t: pd.read_parquet(folder / f"{t}.parquet") if f"{t}.parquet" in files else None for t in TABLES}
        if tables["cohort"] is None:
            raise RadNomoError("the study has no cohort table.")
        spec_values = manifest["spec"]
        spec = CohortSpec(id_column=spec_values["id_column"], outcome_column=spec_values["outcome_column"],
                          continuous=tuple(spec_values["continuous"]), categorical=tuple(spec_values["categorical"]),
                          outcome_labels=tuple(spec_values["outcome_labels"]))
        split_values = manifest["split"]
        split = CohortSplit(train_ids=tuple(split_values["train_ids"]), test_ids=tuple(split_values["test_ids"]),
                            config=SplitConfig(test_size=split_values["test_size"], seed=split_values["seed"]))
        models = None
        if MODELS_FILE in files:
            models = StudyModels.from_dict(json.loads((folder / MODELS_FILE).read_text()))
        history = pd.read_csv(folder / HISTORY_FILE) if HISTORY_FILE in files else None
        return SavedStudy(name=str(manifest["name"]), cohort=tables["cohort"], spec=spec, split=split,
                          model_settings=ModelSettings.from_dict(manifest["model_settings"]),
                          radiomics=tables["radiomics"], radiomics_reader2=tables["radiomics_reader2"],
                          deep=tables["deep"], radiomics_settings=manifest.get("radiomics_settings"),
                          ae_weights=str(folder / WEIGHTS_FILE) if WEIGHTS_FILE in files else None,
                          ae_history=history, models=models, is_sample=bool(manifest.get("is_sample", False)))
    except RadNomoError:
        raise
    except (KeyError, TypeError, ValueError, OSError) as error:
        raise RadNomoError(f"the study in '{folder.name}' is malformed ({type(error).__name__}: {error}).") from error


def export_study(study: SavedStudy | str | Path, zip_path: str | Path) -> Path:
    """Write a study (or a saved study folder) as one zip archive. Returns the archive's path."""
    zip_path = Path(zip_path)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(study) if isinstance(study, (str, Path)) else save_study(study, Path(scratch) / "study")
        _read_manifest(folder)
        def write(path: Path) -> None:
            with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name in sorted(ALLOWED_FILES):
                    if (folder / name).is_file():
                        archive.write(folder / name, arcname=name)
        zip_path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(zip_path, write)
    return zip_path


def import_study(zip_path: str | Path, dest_dir: str | Path) -> Path:
    """Unpack a study archive into a new folder inside ``dest_dir`` and check it; returns that folder.

    Raises
    ------
    RadNomoError
        For anything unsafe or malformed: not a zip, path traversal, symbolic links, nested archives,
        oversize or zip-bomb members (see :func:`core.io.archive.safe_extract_zip`), pickle-type files,
        unexpected files, or a study that does not load. Nothing is left behind then, and nothing
        is ever written outside ``dest_dir``.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    data = Path(zip_path).read_bytes()
    if not zipfile.is_zipfile(zip_path):
        raise RadNomoError("the file is not a zip archive.")
    with zipfile.ZipFile(zip_path) as archive:
        names = [m.filename for m in archive.infolist() if not m.is_dir()]
    pickles = [n for n in names if n.lower().endswith(PICKLE_SUFFIXES)]
    if pickles:
        raise RadNomoError(f"the archive holds pickle-type file(s) {pickles[:3]}; RadNomo never loads those.")
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=dest_dir))
    try:
        safe_extract_zip(data, staging, max_total_bytes=MAX_ARCHIVE_BYTES)
        unexpected = [n for n in names if n not in ALLOWED_FILES]
        if unexpected:
            raise RadNomoError(f"the archive holds file(s) a RadNomo study does not have: {unexpected[:3]}.")
        for name in names:
            if name.endswith(".parquet") and (staging / name).read_bytes()[:4] != b"PAR1":
                raise RadNomoError(f"'{name}' is not a Parquet file.")
        study = load_study(staging)
        target = dest_dir / slug(study.name)
        suffix = 1
        while target.exists():
            suffix += 1
            target = dest_dir / f"{slug(study.name)}-{suffix}"
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
                manifest = _read_manifest(folder)
            except RadNomoError:
                continue
            rows.append({"folder": str(folder), "name": manifest["name"],
                         "patients": len(manifest["split"]["train_ids"]) + len(manifest["split"]["test_ids"]),
                         "saved": pd.Timestamp((folder / STUDY_FILE).stat().st_mtime, unit="s").round("s")})
    return pd.DataFrame(rows, columns=["folder", "name", "patients", "saved"])
