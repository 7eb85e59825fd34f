"""Server-side paths: the data root that users may read from, confinement to it, and regular-file checks."""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import shutil
import stat
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from core.errors import RadNomoError

__all__ = ["REPO_ROOT", "SAMPLE_DIR", "DATA_ROOT_ENV", "WORKSPACE_ENV", "data_root", "workspace_dir", "resolve_in_root",
           "age_out", "SCRATCH_MAX_AGE_S", "staged_folder", "publish_folder", "replace_file_atomically",
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
    removed: list[Path] = []
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


# ---------------------------------------------------------------------------------------------
# Outputs written together or not at all
# ---------------------------------------------------------------------------------------------

_RENAME_EXCHANGE = 2  # linux/fs.h: swap two paths in one step (renameat2, Linux 3.15+, glibc 2.28+)
_AT_FDCWD = -100


def _exchange(first: Path, second: Path) -> bool:
    """Swap two existing paths atomically (``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # an old C library without the call
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: a file system or kernel without the flag
        return False
    raise OSError(error, os.strerror(error), str(second))


def _siblings(target: Path, kind: str) -> list[Path]:
    return sorted(target.parent.glob(f".{glob.escape(target.name)}.{kind}-*"))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _recover(target: Path) -> None:
    """Undo what a process killed inside :func:`publish_folder`'s fallback, or while staging, left behind.

    A missing ``target`` beside an ``.old-`` sibling is the previous complete set, moved aside just before the
    kill: it goes back. Staging folders of processes no longer running are removed (they never became outputs).
    """
    old = _siblings(target, "old")
    if old and not target.exists():
        old[-1].rename(target)
        old = old[:-1]
    for leftover in old:
        shutil.rmtree(leftover, ignore_errors=True)
    for partial in _siblings(target, "partial"):
        pid = partial.name.rsplit("-", 2)[-2]
        if not pid.isdigit() or not _pid_alive(int(pid)):
            shutil.rmtree(partial, ignore_errors=True)


def publish_folder(staging: str | Path, target: str | Path) -> None:
    """Put the complete folder ``staging`` where ``target`` is, in one step; the previous ``target`` is removed.

    Where ``target`` does not exist, one ``rename``; where it does, one ``renameat2(RENAME_EXCHANGE)`` on Linux,
    so a process killed at any moment leaves either the previous folder or the new one at ``target``, never a
    mixture. Where the exchange is unsupported, ``target`` is moved aside and ``staging`` renamed into place; a
    kill between those two renames leaves the previous folder beside ``target``, and the next
    :func:`staged_folder` for ``target`` puts it back.

    Raises
    ------
    RadNomoError
        If ``target`` exists and is not a folder, or the renames fail (another process publishing at the
        same moment, a read-only folder): ``staging`` is then removed and ``target`` left as it was.
    """
    staging, target = Path(staging), Path(target)
    try:
        if target.exists() and not target.is_dir():
            raise RadNomoError(f"'{target}' is a file; the outputs need a folder of that name. Choose another path.")
        if not target.exists():
            try:
                staging.rename(target)
                return
            except OSError:  # created in between by another process: exchange with it below
                if not target.is_dir():
                    raise
        if _exchange(staging, target):
            shutil.rmtree(staging, ignore_errors=True)  # now the previous outputs
            return
        aside = target.parent / f".{target.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        target.rename(aside)
        staging.rename(target)
        shutil.rmtree(aside, ignore_errors=True)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise RadNomoError(f"the outputs could not be put in place at '{target}' ({error.strerror or error}); "
                           "another run may be writing there. Nothing was changed; run again.") from error


@contextlib.contextmanager
def staged_folder(target: str | Path, *, replaceable: Iterable[str] = ()) -> Iterator[Path]:
    """A fresh sibling folder to write a set of outputs into; on success it replaces ``target`` in one step.

    ``with staged_folder(out) as staging: ...`` writes everything into ``staging``; leaving the block
    normally publishes it (:func:`publish_folder`), an exception (or a kill) leaves ``target`` untouched and
    the staging folder removed (by the next run, after a kill).

    Parameters
    ----------
    target : path
        The folder the outputs belong in.
    replaceable : iterable of str
        The file names ``target`` may already hold (a previous run's outputs). A ``target`` holding anything
        else is refused before any work starts, so that replacing the folder never removes a person's files.

    Raises
    ------
    RadNomoError
        If ``target`` is a file, holds other files than ``replaceable``, or cannot be created or replaced.
    """
    target = Path(target).absolute()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _recover(target)
        if target.exists():
            if not target.is_dir():
                raise RadNomoError(f"'{target}' is a file; give a folder for the outputs.")
            others = sorted(p.name for p in target.iterdir() if p.name not in set(replaceable))
            if others:
                raise RadNomoError(f"'{target}' holds other files than a previous run's outputs "
                                   f"({', '.join(others[:5])}); the run replaces the folder as a whole, so give a "
                                   "new or empty folder.")
        staging = target.parent / f".{target.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
    except OSError as error:  # a name too long, a file where a folder should be, no permission
        raise RadNomoError(f"the output folder '{target}' cannot be used ({error.strerror or error}); give a "
                           "writable folder.") from error
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    publish_folder(staging, target)


def replace_file_atomically(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Write a file through ``write(temporary path)`` beside it, then rename it into place (all or nothing).

    A process killed while writing leaves the previous file (or none), never a truncated one.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        write(temporary)
        with open(temporary, "rb+") as handle:  # on disk before the rename makes it visible
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
