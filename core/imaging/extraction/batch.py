"""Batch extraction over a manifest: serial, local worker processes, or a Dask cluster.

A manifest is pyradiomics' batch CSV (``ID,Image,Mask`` plus optional ``Mask_reader2``), paths
relative to the manifest's folder. Each case is read, pre-processed and extracted independently;
a failing case is reported in the status table and the others go on.

Two engines compute the features (``ExtractionSettings.engine``): pyradiomics (the default, the
study's) and MIRP (:mod:`core.imaging.extraction.mirp_engine`, IBSI-compliant definitions, its
settings derived from the same pyradiomics parameter dict). Both get the same reading and
RadNomo pre-processing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from core.errors import RadNomoError
from core.vocabulary import EXTRACTION_ENGINES
from core.io.limits import whole_number_in_range
from core.io.paths import require_regular_file
from core.io.processes import MAX_WORKERS, worker_pool
from core.imaging.extraction.preprocess import PreprocessConfig, preprocess_case
from core.imaging.extraction.engines import ExtractionEngine, engine_of
from core.imaging.extraction.radiomics import params_sha256, validate_params
from core.imaging.extraction.readers import content_hash, read_case
from core.imaging.extraction.store import FeatureStore, case_key
from core.stats.cohort import normalise_id

__all__ = ["ENGINES", "ExtractionSettings", "BatchResult", "read_manifest", "extract_case", "run_batch"]

ENGINES = tuple(EXTRACTION_ENGINES)  # their types: core.imaging.extraction.engines

ProgressCallback = Callable[[int, int, str, str], None]  # (done, total, case id, status)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ExtractionSettings:
    """Everything that determines a case's features, besides its files.

    Attributes
    ----------
    params : dict
        Validated pyradiomics parameters (:func:`core.imaging.extraction.radiomics.load_params`). With
        ``engine="mirp"`` the MIRP settings are derived from them
        (:meth:`core.imaging.extraction.mirp_engine.MirpSettings.from_params`).
    preprocess : PreprocessConfig
        RadNomo's pre-processing before the engine (the study's by default).
    label : int or None
        Label value of the ROI in label-map masks (None: any non-zero voxel).
    roi_name : str or None
        ROI / segment name for RTSTRUCT, DICOM-SEG and .seg.nrrd masks.
    engine : {"pyradiomics", "mirp"}, default "pyradiomics"
        The feature engine.

    Raises
    ------
    RadNomoError
        If the engine is unknown, or ``params`` ask MIRP for something it cannot do alike.
    """

    params: dict
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    label: int | None = 1
    roi_name: str | None = None
    engine: str = "pyradiomics"

    def __post_init__(self) -> None:
        self.engine_type.check(self)  # an unknown engine, or parameters it cannot follow: now, not at the first case

    @property
    def engine_type(self) -> ExtractionEngine:
        """The engine's type (:mod:`core.imaging.extraction.engines`): what differs between engines."""
        return engine_of(self.engine)

    @property
    def mirp(self):
        """The MIRP settings derived from ``params`` and the HU clip (only meaningful for ``engine="mirp"``)."""
        from core.imaging.extraction.mirp_engine import MirpSettings

        return MirpSettings.from_params(self.params, hu_range=self.preprocess.hu_range)

    @property
    def extractor_version(self) -> str:
        """The engine's version as recorded in the store (pyradiomics: the bare version, as before)."""
        return self.engine_type.store_version()

    @property
    def sha256(self) -> str:
        """Hash of the settings and the engine's version: the settings part of the store key.

        A pyradiomics setting hashes exactly as before the engine field existed (no engine key in the
        payload), so existing feature stores stay valid; MIRP adds the engine and its version.
        """
        payload = {"params": params_sha256(self.params), "preprocess": self.preprocess.sha256, "label": self.label,
                   "roi_name": self.roi_name, **self.engine_type.hash_payload()}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def to_dict(self) -> dict:
        """Plain values for a settings JSON (inverse: :meth:`from_dict`); the engine's version is recorded."""
        return {"params": self.params, "preprocess": self.preprocess.to_dict(), "label": self.label,
                "roi_name": self.roi_name, "engine": self.engine,
                f"{self.engine}_version": self.engine_type.version()}

    @classmethod
    def from_dict(cls, values: dict) -> ExtractionSettings:
        """Settings from :meth:`to_dict`'s output (a saved ``.settings.json``).

        A dict without ``engine`` (written before MIRP was added) loads as pyradiomics; version keys
        are informative and ignored. ``params`` are validated again (a JSON file may have been edited).

        Raises
        ------
        RadNomoError
            If ``params`` is missing or invalid, or the engine is unknown.
        """
        if not isinstance(values, dict) or not isinstance(values.get("params"), dict):
            raise RadNomoError("extraction settings need a 'params' mapping (pyradiomics parameters).")
        preprocess = values.get("preprocess")
        return cls(params=validate_params(values["params"], "saved extraction settings"),
                   preprocess=PreprocessConfig.from_dict(preprocess) if preprocess else PreprocessConfig(),
                   label=values.get("label", 1), roi_name=values.get("roi_name"),
                   engine=values.get("engine") or "pyradiomics")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class BatchResult:
    """Features and per-case status of a batch.

    Attributes
    ----------
    features : pandas.DataFrame
        One row per successful case (index: case ID, in manifest order), one column per feature.
    status : pandas.DataFrame
        One row per case: ``ID``, ``status`` (extracted / cached / failed), ``seconds`` (extraction
        time; the original time for cached cases), ``message`` (why a case failed).
    settings : ExtractionSettings
    """

    features: pd.DataFrame
    status: pd.DataFrame
    settings: ExtractionSettings


def read_manifest(source: str | Path | pd.DataFrame, base_dir: str | Path | None = None, *,
                  confine_to: str | Path | None = None) -> pd.DataFrame:
    """Read and check a manifest; returns it with absolute ``Image`` / ``Mask`` paths.

    Parameters
    ----------
    source : path or DataFrame
        The CSV (paths relative to its folder) or an already-read table.
    base_dir : path, optional
        Folder that relative paths are resolved against (default: the CSV's folder).
    confine_to : path, optional
        Every image and mask path must resolve (links followed) inside this folder: the data root
        for a manifest on the server, the upload's own folder for an uploaded one. The dashboard
        always passes it; the command line, run by the machine's own user, does not.

    Raises
    ------
    RadNomoError
        If the CSV is missing, not a regular file, not UTF-8 or not CSV; ``ID``, ``Image`` or ``Mask`` is
        missing, an ID repeats, a cell is empty, or a path leaves ``confine_to`` (``..``, an absolute path
        elsewhere, a link out).
    """
    if isinstance(source, pd.DataFrame):
        manifest = source.copy()
        base = Path(base_dir or ".")
    else:
        path = Path(source)
        require_regular_file(path, "manifest")  # missing, a folder, a device, a name too long: RadNomoError
        try:
            manifest = pd.read_csv(path, dtype=str, keep_default_na=False)
        except UnicodeDecodeError as error:
            # pandas decodes in chunks, so error.start is no file offset: name the byte, not where it is.
            raise RadNomoError(f"manifest '{path.name}' holds the byte 0x{error.object[error.start]:02x}, which is "
                               "not UTF-8 text; save it as UTF-8 CSV (paths are never re-decoded).") from error
        except (ValueError, OSError) as error:  # pandas' ParserError and EmptyDataError are ValueErrors
            raise RadNomoError(f"manifest '{path.name}' cannot be read as CSV ({error}); pyradiomics' batch "
                               "format is ID,Image,Mask.") from error
        base = Path(base_dir) if base_dir else path.parent
    manifest.columns = [str(c).strip() for c in manifest.columns]
    # pyradiomics writes ID,Image,Mask; tables made by hand often say patient_id,image,mask.
    aliases = {"id": "ID", "patient_id": "ID", "case_id": "ID", "image": "Image", "mask": "Mask",
               "mask_reader2": "Mask_reader2"}
    if not {"ID", "Image", "Mask"} <= set(manifest.columns):
        manifest = manifest.rename(columns={c: aliases[c.lower()] for c in manifest.columns
                                            if c.lower() in aliases and aliases[c.lower()] not in manifest.columns})
    missing = [c for c in ("ID", "Image", "Mask") if c not in manifest.columns]
    if missing:
        raise RadNomoError(f"manifest lacks column(s) {missing}; pyradiomics' batch format is ID,Image,Mask.")
    manifest["ID"] = manifest["ID"].astype(str).map(normalise_id)
    if (manifest[["ID", "Image", "Mask"]] == "").any().any():
        raise RadNomoError("manifest has empty ID, Image or Mask cells; every case needs all three.")
    repeated = manifest["ID"][manifest["ID"].duplicated()].unique().tolist()
    if repeated:
        raise RadNomoError(f"manifest repeats ID(s) {repeated[:5]}; each case must appear once.")
    root = Path(confine_to).resolve() if confine_to is not None else None
    for column in [c for c in manifest.columns if c in ("Image", "Mask") or c.startswith("Mask_")]:
        resolved = [(base / value).resolve() if value else None for value in manifest[column]]
        if root is not None:
            outside = [(i, v) for i, v, r in zip(manifest["ID"], manifest[column], resolved, strict=True)
                       if r is not None and not r.is_relative_to(root)]
            if outside:
                raise RadNomoError(f"manifest column {column} points outside {root} for {len(outside)} case(s), e.g. "
                                   f"{outside[0][0]}: '{outside[0][1]}'; only files inside it are read.")
        manifest[column] = [str(r) if r is not None else "" for r in resolved]
    return manifest.reset_index(drop=True)


def extract_case(image_path: str, mask_path: str, settings: ExtractionSettings) -> tuple[dict[str, float], float]:
    """Read, pre-process and extract one case with the settings' engine; returns (features, seconds).

    Raises RadNomoError for a bad case (unreadable files, empty mask, the engine refusing it).
    """
    start = time.perf_counter()
    # The header's size is checked against the planned resampling before any voxel is read.
    case = read_case(image_path, mask_path, label=settings.label, roi_name=settings.roi_name,
                     spacing_mm=settings.preprocess.spacing_mm)
    image, mask = preprocess_case(case.image, case.mask, settings.preprocess)
    features = settings.engine_type.extract(image, mask, settings)
    return features, time.perf_counter() - start


def _extract_job(case_id: str, image_path: str, mask_path: str, settings: ExtractionSettings) -> tuple:
    """Worker entry point: never raises for a bad case, so one failure cannot stop the batch."""
    try:
        features, seconds = extract_case(image_path, mask_path, settings)
        return case_id, features, seconds, ""
    except RadNomoError as error:
        return case_id, None, 0.0, str(error)
    except Exception as error:  # a crash inside pyradiomics/MIRP/SimpleITK: report the case, keep going
        return case_id, None, 0.0, f"{type(error).__name__}: {error}"


def run_batch(manifest: pd.DataFrame, settings: ExtractionSettings, *, store: FeatureStore | None = None,
              mask_column: str = "Mask", workers: int = 1, scheduler: str | object | None = None,
              on_progress: ProgressCallback | None = None) -> BatchResult:
    """Extract every case of a manifest, reading the store first and writing each new case to it.

    Parameters
    ----------
    manifest : pandas.DataFrame
        From :func:`read_manifest`.
    settings : ExtractionSettings
    store : FeatureStore, optional
        Cache; without it every case is extracted.
    mask_column : str, default "Mask"
        Which mask to use (e.g. ``"Mask_reader2"``); rows with an empty cell are skipped.
    workers : int, default 1
        Local worker processes (1 = serial, in this process).
    scheduler : str or dask.distributed.Client, optional
        A Dask scheduler address (``tcp://host:8786``) or client; cases then run on that cluster.
    on_progress : callable, optional
        Called as ``on_progress(done, total, case_id, status)`` after each case.

    Returns
    -------
    BatchResult
    """
    if mask_column not in manifest.columns:
        raise RadNomoError(f"manifest has no column '{mask_column}'.")
    if scheduler is None:  # before hashing every case, not when the pool starts
        workers = whole_number_in_range(workers, 1, MAX_WORKERS, "workers")
    cases = manifest.loc[manifest[mask_column] != "", ["ID", "Image", mask_column]].to_numpy().tolist()
    settings_sha = settings.sha256
    version = settings.extractor_version
    status: dict[str, dict] = {}
    features: dict[str, dict[str, float]] = {}
    keys: dict[str, tuple[str, str, str]] = {}
    for case_id, image_path, mask_path in cases:
        try:
            image_sha, mask_sha = content_hash(image_path), content_hash(mask_path)
        except (OSError, RadNomoError) as error:  # special files, folders too large to hash: that case fails
            status[case_id] = {"status": "failed", "seconds": 0.0, "message": f"cannot read files: {error}"}
            continue
        keys[case_id] = (case_key(image_sha, mask_sha, settings_sha), image_sha, mask_sha)
    cached = store.get_many(k for k, _, _ in keys.values()) if store is not None else {}
    done = 0
    total = len(cases)

    def report(case_id: str, state: str) -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(done, total, case_id, state)

    for case_id, state in status.items():
        report(case_id, state["status"])
    todo = []
    for case_id, image_path, mask_path in cases:
        if case_id not in keys:
            continue
        if keys[case_id][0] in cached:
            features[case_id] = cached[keys[case_id][0]]
            status[case_id] = {"status": "cached", "seconds": 0.0, "message": ""}
            report(case_id, "cached")
        else:
            todo.append((case_id, image_path, mask_path))

    for case_id, values, seconds, message in _execute(todo, settings, workers=workers, scheduler=scheduler):
        if values is None:
            status[case_id] = {"status": "failed", "seconds": seconds, "message": message}
        else:
            features[case_id] = values
            status[case_id] = {"status": "extracted", "seconds": seconds, "message": ""}
            if store is not None:
                key, image_sha, mask_sha = keys[case_id]
                store.put(key, case_id=case_id, image_sha256=image_sha, mask_sha256=mask_sha,
                          settings_sha256=settings_sha, extractor_version=version, seconds=seconds, features=values)
        report(case_id, status[case_id]["status"])

    order = [case_id for case_id, _, _ in cases]
    table = pd.DataFrame.from_dict({c: features[c] for c in order if c in features}, orient="index")
    table.index.name = "ID"
    status_table = pd.DataFrame([{"ID": c, **status[c]} for c in order], columns=["ID", "status", "seconds", "message"])
    return BatchResult(features=table, status=status_table, settings=settings)


def _execute(todo: list[tuple[str, str, str]], settings: ExtractionSettings, *, workers: int,
             scheduler: str | object | None):
    """Yield job results as they finish, from the chosen executor."""
    if not todo:
        return
    if scheduler is not None:
        yield from _execute_dask(todo, settings, scheduler)
    elif workers > 1:
        with worker_pool(workers) as pool:
            futures = [pool.submit(_extract_job, *job, settings) for job in todo]
            for future in as_completed(futures):
                yield future.result()
    else:
        for job in todo:
            yield _extract_job(*job, settings)


def _execute_dask(todo: list[tuple[str, str, str]], settings: ExtractionSettings, scheduler: str | object):
    from dask.distributed import Client, as_completed as dask_completed

    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        # Workers need RadNomo importable (same code and requirements as this machine).
        futures = [client.submit(_extract_job, *job, settings, pure=False) for job in todo]
        for future in dask_completed(futures):
            yield future.result()
    finally:
        if client is not scheduler:
            client.close()
