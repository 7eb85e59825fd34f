"""Workspaces of the dashboard's users: their names, who owns them, their clean-up, and per-folder locks.

Each user keeps saved studies, uploads and scratch files in a *space*, a folder under
``<workspace>/spaces``. A signed-in user's space is named from a hash of their ID; an anonymous
browser's from a random token the browser keeps in a cookie. The token is a bearer credential (whoever
holds it reads the space), so it is never written into a page address, a shared study or a log: what
others see of a space is :func:`space_owner`, a hash of its name.

Spaces unused for ``RADNOMO_SPACE_MAX_AGE_DAYS`` days (default 30) are removed by
:func:`remove_stale_spaces`; "used" is the space folder's modification time, which :func:`touch_space`
refreshes whenever the dashboard opens the space.

:func:`folder_lock` serialises writers (and keeps readers out while one writes) of one folder across
threads and processes with ``fcntl.flock`` on a lock file beside the folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from core.errors import RadNomoError
from core.io.limits import limit

__all__ = ["Space", "clean_up_spaces_daily", "space_cookie_script",
           "SPACES_FOLDER", "SPACE_COOKIE", "SPACE_MAX_AGE_DAYS", "is_space_token", "new_space_token",
           "space_folder_name", "space_owner", "touch_space", "remove_stale_spaces", "folder_lock",
           "LOCK_TIMEOUT_S"]

log = logging.getLogger(__name__)

SPACES_FOLDER = "spaces"  # <workspace>/spaces/<space name>
SPACE_COOKIE = "radnomo_space"  # the browser cookie that holds an anonymous user's space token
#: Spaces not opened for this many days are removed (their saved studies, uploads and scratch files).
SPACE_MAX_AGE_DAYS = limit("SPACE_MAX_AGE_DAYS", 30)
#: How long a save waits for another save of the same folder before giving up (seconds).
LOCK_TIMEOUT_S = 60.0

_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_SPACE_NAME = re.compile(r"^(session-[0-9a-f]{32}|user-[0-9a-f]{20})$")


def is_space_token(value: object) -> bool:
    """Whether ``value`` has the form of a space token (32 lower-case hex digits, as :func:`new_space_token` makes)."""
    return isinstance(value, str) and _TOKEN.fullmatch(value) is not None


def new_space_token() -> str:
    """A fresh random space token (128 bits from the operating system's secure generator)."""
    return secrets.token_hex(16)


def space_folder_name(*, token: str | None = None, user: str | None = None) -> str:
    """The folder name of a space: a signed-in ``user``'s (a hash of their ID) or an anonymous browser's ``token``.

    Raises
    ------
    RadNomoError
        If neither is given, or ``token`` is not a space token.
    """
    if user is not None:
        return "user-" + hashlib.sha256(user.encode("utf-8")).hexdigest()[:20]
    if not is_space_token(token):
        raise RadNomoError("a space needs a signed-in user or a 32-digit hexadecimal space token.")
    return f"session-{token}"


def space_owner(space_name: str) -> str:
    """A short public ID of a space (12 hex digits of a hash of its folder name).

    Shown beside shared studies and written into their records: it tells owners apart without revealing
    the space's token, from which it cannot be worked back.
    """
    return hashlib.sha256(f"radnomo-space:{space_name}".encode()).hexdigest()[:12]


def touch_space(folder: str | Path) -> None:
    """Mark the space ``folder`` as used now (its modification time), so :func:`remove_stale_spaces` keeps it."""
    with contextlib.suppress(OSError):  # removed in between by the clean-up: the caller re-creates it
        os.utime(folder)


def remove_stale_spaces(workspace: str | Path, max_age_days: float | None = None,
                        now: float | None = None) -> list[Path]:
    """Remove the spaces under ``<workspace>/spaces`` not used for ``max_age_days`` days; log each one.

    Only folders named like spaces (``session-<token>``, ``user-<hash>``) are considered; anything else in
    the folder is left alone. Links are removed as links, never followed.

    Parameters
    ----------
    workspace : path
        The dashboard's workspace (:func:`core.io.paths.workspace_dir`).
    max_age_days : float, optional
        Defaults to :data:`SPACE_MAX_AGE_DAYS` (``RADNOMO_SPACE_MAX_AGE_DAYS``).
    now : float, optional
        The current time (seconds since the epoch); for tests.

    Returns
    -------
    list of Path
        The spaces removed.
    """
    max_age_days = SPACE_MAX_AGE_DAYS if max_age_days is None else max_age_days
    root = Path(workspace) / SPACES_FOLDER
    cutoff = (time.time() if now is None else now) - max_age_days * 86400
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for entry in sorted(root.iterdir()):
        if _SPACE_NAME.fullmatch(entry.name) is None:
            continue
        try:
            if entry.lstat().st_mtime >= cutoff:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:  # another server process removed it first
            continue
        except OSError as error:  # kept, and said: a space that cannot be removed is not silently forgotten
            log.warning("stale space %s could not be removed (%s)", space_owner(entry.name), error)
            continue
        # The folder name holds the token: the log names the space by its public ID only.
        log.info("removed space %s, unused for over %s days", space_owner(entry.name), max_age_days)
        removed.append(entry)
    return removed


@contextlib.contextmanager
def folder_lock(folder: str | Path, *, shared: bool = False, timeout_s: float | None = None,
                what: str = "the study") -> Iterator[None]:
    """Hold a lock on ``folder`` across threads and processes while the block runs.

    The lock is ``fcntl.flock`` on ``.<folder name>.lock`` beside the folder (not inside it: a save replaces
    the folder's contents). ``shared=True`` takes a shared lock (readers: many at once, no writer), otherwise an
    exclusive one (one writer, no reader). Each call opens its own descriptor, so two threads of one process
    exclude each other too. Where ``fcntl`` does not exist (Windows) the block runs unlocked, and so does a reader
    where no lock file exists yet (a folder never saved under a lock, a read-only folder).

    Parameters
    ----------
    folder : path
    shared : bool
    timeout_s : float, optional
        Longest wait for the lock; :data:`LOCK_TIMEOUT_S` by default.
    what : str
        How the message calls the folder's content.

    Raises
    ------
    RadNomoError
        If the lock is not free within ``timeout_s`` (another save is still writing), or the lock file cannot
        be created.
    """
    try:
        import fcntl
    except ImportError:  # no flock on this platform
        yield
        return
    folder = Path(folder)
    timeout_s = LOCK_TIMEOUT_S if timeout_s is None else timeout_s
    lock_path = folder.parent / f".{folder.name}.lock"
    descriptor = None
    try:
        if not shared:
            folder.parent.mkdir(parents=True, exist_ok=True)
        # Readers never create the lock file (a refused import leaves its destination as it found it); every save
        # does, and it stays, so the readers of any folder saved since are locked out of a save in progress.
        flags = os.O_RDONLY if shared else os.O_RDWR | os.O_CREAT
        descriptor = os.open(lock_path, flags | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as error:
        if not shared:
            raise RadNomoError(f"{what} in '{folder}' cannot be locked ({error.strerror or error}); check that the "
                               "workspace is writable.") from error
    if descriptor is None:  # a reader of a folder never saved under a lock, or in a read-only place (the sample)
        yield
        return
    try:
        mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(descriptor, mode)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    outcome = "it was not opened" if shared else "nothing was changed"
                    raise RadNomoError(f"{what} in '{folder.name}' is being saved by someone else (another tab or "
                                       f"user) and stayed busy for {timeout_s:.0f} s; {outcome}. Try again in a "
                                       "moment.") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


CLEANUP_INTERVAL_S = 24 * 3600
_CLEANUP: dict[str, float | None] = {"last": None}
_CLEANUP_LOCK = threading.Lock()


def clean_up_spaces_daily(workspace: str | Path) -> bool:
    """At a server process's first call, then at most once a day, remove the stale spaces (:func:`remove_stale_spaces`)
    in a background thread. Returns whether a clean-up was started (for tests)."""
    with _CLEANUP_LOCK:
        last = _CLEANUP["last"]
        if last is not None and time.monotonic() - last < CLEANUP_INTERVAL_S:
            return False
        _CLEANUP["last"] = time.monotonic()

    def work() -> None:
        try:
            remove_stale_spaces(workspace)
        except (OSError, RadNomoError):  # logged; the next day's clean-up tries again
            log.warning("the clean-up of unused spaces failed", exc_info=True)

    threading.Thread(target=work, daemon=True, name="space-clean-up").start()
    return True


# Runs in the page itself (not an iframe), so document.cookie is the app's own. Streamlit answers over a websocket
# and cannot set a response cookie, so the cookie is written from script, and a cookie written from script cannot
# be HttpOnly: a script injected into the page could read the token. SameSite=Strict keeps it off requests from
# other sites; Secure where the app is served over HTTPS. A tab that finds another token already in the browser
# (two tabs opened at once) reloads once, so that every tab uses the browser's one space.
_COOKIE_SCRIPT = """<script>
(() => {{
  const name = "{name}", token = "{token}", known = {known};
  const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  const held = found ? found.slice(name.length + 1) : "";
  if (/^[0-9a-f]{{32}}$/.test(held) && held !== token && !known) {{
    if (!sessionStorage.getItem("radnomo_space_reloaded")) {{
      sessionStorage.setItem("radnomo_space_reloaded", "1");
      window.location.reload();
    }}
    return;
  }}
  document.cookie = name + "=" + token + "; Path={path}; Max-Age={max_age}; SameSite=Strict"
    + (window.location.protocol === "https:" ? "; Secure" : "");
}})();
</script>"""


def space_cookie_script(token: str, *, known: bool, base_path: str = "") -> str:
    """The script that keeps ``token`` in the browser's :data:`SPACE_COOKIE` for as long as a space is kept
    (renewed on every visit) on the app's own path ``base_path``; ``known``: the browser sent this very token.

    Raises
    ------
    RadNomoError
        If ``token`` is not a space token (nothing else is ever written into the script).
    """
    if not is_space_token(token):
        raise RadNomoError("not a space token.")
    base = base_path.strip("/")
    return _COOKIE_SCRIPT.format(name=SPACE_COOKIE, token=token, known="true" if known else "false",
                                 path=f"/{base}" if base else "/", max_age=int(SPACE_MAX_AGE_DAYS * 86400))


SCRATCH_FOLDERS = ("uploads", "patients")  # a space's scratch: unpacked uploads, new patients' scans


@dataclasses.dataclass(frozen=True)
class Space:
    """One visitor's own folder in the workspace: saved studies, uploads, scratch files.

    A signed-in user's space is named by a hash of their ID; an anonymous browser's by the random token kept in
    its cookie. Nobody lists, opens or overwrites another space; sharing is explicit
    (:mod:`core.workflows.sharing`). Each use marks the space as used (:func:`touch_space`), so that only unused
    ones are removed (:func:`remove_stale_spaces`).

    Attributes
    ----------
    workspace : Path
        The dashboard's workspace (:func:`core.io.paths.workspace_dir`).
    name : str
        The space's folder name (:func:`space_folder_name`).
    shown_as : str
        How others see its owner beside a shared study ("anonymous <owner>", or a signed-in user's name).
    """

    workspace: Path
    name: str
    shown_as: str

    @classmethod
    def of(cls, workspace: Path, *, user: str | None = None, token: str | None = None,
           user_name: str | None = None) -> Space:
        """The space of a signed-in ``user`` (shown as ``user_name``) or of an anonymous browser's ``token``."""
        name = space_folder_name(user=user, token=token)
        shown_as = (user_name or f"user {space_owner(name)}") if user is not None else f"anonymous {space_owner(name)}"
        return cls(Path(workspace), name, shown_as)

    @property
    def owner(self) -> str:
        """The space's public ID (:func:`space_owner`), never its token."""
        return space_owner(self.name)

    @property
    def folder(self) -> Path:
        """The space's folder, created on first use and marked as used now."""
        folder = self.workspace / SPACES_FOLDER / self.name
        folder.mkdir(parents=True, exist_ok=True)
        touch_space(folder)
        return folder

    def subfolder(self, name: str) -> Path:
        """A folder of the space (e.g. "studies", "uploads"), created on first use."""
        folder = self.folder / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def age_scratch(self) -> None:
        """Remove the old entries of the space's scratch folders (:func:`core.io.paths.age_out`)."""
        from core.io.paths import age_out

        for scratch in SCRATCH_FOLDERS:
            age_out(self.folder / scratch)
