"""Server-side paths: the data root that users may read from, and confinement to it."""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import RadNomoError

__all__ = ["REPO_ROOT", "SAMPLE_DIR", "DATA_ROOT_ENV", "WORKSPACE_ENV", "data_root", "workspace_dir", "resolve_in_root"]

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = REPO_ROOT / "sample_data"
DATA_ROOT_ENV = "RADNOMO_DATA_ROOT"
WORKSPACE_ENV = "RADNOMO_WORKSPACE"


def data_root() -> Path:
    """The folder whose files the dashboard may open by path.

    Read from the ``RADNOMO_DATA_ROOT`` environment variable at call time (not at import), and
    the bundled ``sample_data`` folder when it is unset.
    """
    configured = os.environ.get(DATA_ROOT_ENV, "").strip()
    return Path(configured).expanduser().resolve() if configured else SAMPLE_DIR


def workspace_dir() -> Path:
    """Where RadNomo keeps its own files (the feature store, unpacked uploads).

    ``RADNOMO_WORKSPACE`` (read at call time), else ``~/.cache/radnomo``; created on first use.
    """
    configured = os.environ.get(WORKSPACE_ENV, "").strip()
    folder = Path(configured).expanduser() if configured else Path.home() / ".cache" / "radnomo"
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()


def resolve_in_root(user_path: str, root: Path | None = None) -> Path:
    """Resolve a user-typed path relative to the data root and refuse anything outside it.

    Parameters
    ----------
    user_path : str
        Relative to the root (absolute paths are accepted only if they lie inside it).
    root : Path, optional
        Defaults to :func:`data_root`.

    Returns
    -------
    Path
        The resolved path (symbolic links followed), inside ``root``.

    Raises
    ------
    RadNomoError
        If the path is empty, leaves the root (``..``, absolute paths, links) or does not exist.
    """
    root = (root or data_root()).resolve()
    text = user_path.strip()
    if not text:
        raise RadNomoError("enter a path inside the data root.")
    candidate = (root / text).resolve()
    if not candidate.is_relative_to(root):
        raise RadNomoError(f"'{text}' is outside the data root {root}; only files inside it can be opened "
                           f"(set {DATA_ROOT_ENV} to change the root).")
    if not candidate.exists():
        raise RadNomoError(f"'{text}' does not exist inside the data root {root}.")
    return candidate
