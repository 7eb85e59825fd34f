"""Server-side paths: the data root that users may read from, confinement to it, and regular-file checks."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from core.errors import RadNomoError

__all__ = ["REPO_ROOT", "SAMPLE_DIR", "DATA_ROOT_ENV", "WORKSPACE_ENV", "data_root", "workspace_dir", "resolve_in_root",
           "age_out", "SCRATCH_MAX_AGE_S",
           "NotRegularFileError", "file_kind", "require_regular_file", "open_regular_file"]

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


class NotRegularFileError(RadNomoError, OSError):
    """A path that is missing, or a folder, device, FIFO or socket where a regular file was expected.

    Both a :class:`RadNomoError` (the message says what to do) and an ``OSError``, so callers that
    report unreadable files per case by catching ``OSError`` (the batch runner) keep doing so.
    """


def file_kind(mode: int) -> str:
    """What a ``st_mode`` is, in words ("regular file", "folder", "FIFO (named pipe)", ...)."""
    for test, kind in ((stat.S_ISREG, "regular file"), (stat.S_ISDIR, "folder"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISSOCK, "socket"), (stat.S_ISLNK, "link")):
        if test(mode):
            return kind
    return "special file"


def require_regular_file(path: str | Path, what: str = "file") -> os.stat_result:
    """``os.stat`` of ``path`` (links followed), refusing anything but a regular file.

    Nothing is opened: opening a FIFO blocks until a writer appears and reading a device such as
    ``/dev/zero`` never ends, so the type is checked from the inode first.

    Parameters
    ----------
    path : path
    what : str
        How messages call the file ("image", "mask", "table file").

    Returns
    -------
    os.stat_result

    Raises
    ------
    NotRegularFileError
        If the path does not exist (or is a dangling link), or is not a regular file.
    """
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise NotRegularFileError(f"{what} '{path}' does not exist.") from None
    except OSError as error:
        raise NotRegularFileError(f"{what} '{path}' cannot be examined ({error.strerror or error}).") from None
    if not stat.S_ISREG(info.st_mode):
        raise NotRegularFileError(f"{what} '{path}' is a {file_kind(info.st_mode)}, not a regular file; give the path "
                                  "of the file itself.")
    return info


def open_regular_file(path: str | Path, what: str = "file") -> BinaryIO:
    """Open a regular file for reading in binary mode, refusing devices, FIFOs, sockets and folders.

    The type is checked before opening (:func:`require_regular_file`) and again on the open
    descriptor (``fstat``), so a path swapped for a FIFO in between cannot block the reader; the
    open itself is non-blocking for the same reason.

    Returns
    -------
    binary file object
        The caller closes it (use ``with``).

    Raises
    ------
    NotRegularFileError
    """
    require_regular_file(path, what)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        raise NotRegularFileError(f"{what} '{path}' cannot be opened ({error.strerror or error}).") from None
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode):
        os.close(descriptor)
        raise NotRegularFileError(f"{what} '{path}' is a {file_kind(info.st_mode)}, not a regular file.")
    return os.fdopen(descriptor, "rb")


SCRATCH_MAX_AGE_S = 24 * 3600  # uploads and patient scratch folders older than a day are removed


def age_out(folder: str | Path, max_age_s: float = SCRATCH_MAX_AGE_S) -> list[Path]:
    """Remove the entries of ``folder`` not modified for ``max_age_s`` seconds (scratch clean-up).

    Links are removed as links (never followed). Returns what was removed.
    """
    import shutil
    import time

    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    limit = time.time() - max_age_s
    for entry in folder.iterdir():
        try:
            if entry.lstat().st_mtime >= limit:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
        except OSError:  # another session removed it first
            continue
    return removed
