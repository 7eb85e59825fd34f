"""Where a feature page's CT cases come from: the sample's manifest, an uploaded manifest with a zip of its
images, or a manifest on the server (inside the data root). Each returns the manifest with absolute paths
(:func:`core.imaging.extraction.batch.read_manifest`), every path confined to its folder."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from core.imaging.extraction.batch import read_manifest
from core.io.archive import safe_extract_zip
from core.io.paths import data_root, resolve_in_root
from core.io.tables import read_table

__all__ = ["sample_manifest", "uploaded_manifest", "server_manifest", "unknown_ids"]


def sample_manifest() -> tuple[pd.DataFrame, int]:
    """The bundled sample's manifest, restricted to the cases whose CT is on disk, and how many it lists."""
    from core.workflows.sample import SAMPLE_MANIFEST

    manifest = read_manifest(SAMPLE_MANIFEST, confine_to=SAMPLE_MANIFEST.parent)
    on_disk = manifest["Image"].map(lambda p: Path(p).is_file())
    return manifest[on_disk].reset_index(drop=True), len(manifest)


def uploaded_manifest(manifest: bytes, filename: str, archive: bytes, uploads: Path) -> pd.DataFrame:
    """An uploaded manifest whose paths are inside an uploaded zip: the zip is unpacked (safely: sizes, member
    names and count checked, :func:`core.io.archive.safe_extract_zip`) into a new folder under ``uploads``.

    Raises
    ------
    RadNomoError
        For an unsafe or malformed zip, an unreadable manifest, or a path that leaves the unpacked folder.
    """
    uploads.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=uploads))
    safe_extract_zip(archive, folder)
    table = read_table(manifest, filename).astype("string").fillna("")
    return read_manifest(table, base_dir=folder, confine_to=folder)


def server_manifest(path: str) -> pd.DataFrame:
    """A manifest on the server, named relative to the data root; it and its cases must stay inside the root."""
    root = data_root()
    return read_manifest(resolve_in_root(path, root), confine_to=root)


def unknown_ids(manifest: pd.DataFrame, cohort: pd.DataFrame) -> list[str]:
    """The manifest's IDs that are not patients of ``cohort`` (indexed by patient ID), sorted."""
    return sorted(set(manifest["ID"]) - set(cohort.index))
