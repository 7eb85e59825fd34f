"""The feature store: an SQLite cache of per-case features.

Each case is stored under a key made of the image's and mask's content hashes, the hash of the
extraction settings (pyradiomics parameters, pre-processing, label) and the pyradiomics version,
so a re-run reads the cache, an interrupted batch resumes, and changed settings recompute. The process
that runs a batch writes one row per finished case; several batches (dashboard sessions, command
lines) may write to one store at once: writers wait for each other (SQLite's busy timeout) and a
write that still finds the store locked is retried with backoff.

A file that is not an SQLite database, a damaged one, one whose table is not a feature store's, or a
row that cannot be read back (malformed or hostile JSON, fewer names than values) raises
:class:`core.errors.RadNomoError` naming the file: the store is only a cache, so the fix is to move it
away and recompute. A path that is a folder, a device (``/dev/null``) or another special file is refused
before SQLite opens it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

from core.errors import RadNomoError
from core.io.limits import limit, read_json_limited
from core.io.paths import file_kind

__all__ = ["FeatureStore", "case_key", "STORE_BUSY_TIMEOUT_S", "STORE_LOCK_RETRIES"]

#: How long one statement waits for another process's write lock (SQLite busy timeout): 30 s.
#: A write commits one case (milliseconds), so only a stalled writer or a slow disk waits long.
STORE_BUSY_TIMEOUT_S = 30.0
#: How many times a statement that still reports "database is locked" is retried after the busy
#: timeout (backoff 0.05 s doubling to at most 2 s, with jitter): 5. SQLite returns "locked" at
#: once, without waiting, in a few cases (a WAL being recovered, a journal-mode change).
STORE_LOCK_RETRIES = 5
#: Largest JSON text of one stored row's names or values (``RADNOMO_MAX_STORE_ROW_BYTES``): 16 MB. A case's
#: 2,246 features take about 100 kB; a larger row is damage or an attack, refused before parsing.
MAX_STORE_ROW_BYTES = limit("MAX_STORE_ROW_BYTES", 16_000_000)

_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS features (
    key TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    image_sha256 TEXT NOT NULL,
    mask_sha256 TEXT NOT NULL,
    settings_sha256 TEXT NOT NULL,
    extractor_version TEXT NOT NULL,
    seconds REAL NOT NULL,
    created_utc TEXT NOT NULL,
    names_json TEXT NOT NULL,
    values_json TEXT NOT NULL
)
"""
_COLUMNS = ("key", "case_id", "image_sha256", "mask_sha256", "settings_sha256", "extractor_version", "seconds",
            "created_utc", "names_json", "values_json")
_ADVICE = "It is only a cache: move or delete it (or point --store elsewhere) and the features will be recomputed."


def case_key(image_sha256: str, mask_sha256: str, settings_sha256: str) -> str:
    """The store key of one case under one setting (extraction settings, or autoencoder weights)."""
    return hashlib.sha256(f"{image_sha256}|{mask_sha256}|{settings_sha256}".encode()).hexdigest()


class FeatureStore:
    """SQLite-backed cache of extracted features.

    Parameters
    ----------
    path : path
        The database file (created with its folder if absent). ``":memory:"`` keeps it in memory.

    Raises
    ------
    RadNomoError
        If the file is not an SQLite database or is damaged (truncated, overwritten), or stays
        locked by another process through :data:`STORE_BUSY_TIMEOUT_S` and
        :data:`STORE_LOCK_RETRIES`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            self._check_path(Path(self.path))
        # isolation_level=None: transactions are explicit, so a write takes the lock with
        # BEGIN IMMEDIATE up front (waiting on the busy timeout) rather than upgrading a read
        # transaction midway, which SQLite refuses at once with "database is locked".
        try:
            self._connection = sqlite3.connect(self.path, timeout=STORE_BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as error:
            raise self._store_error(error) from error
        try:
            self._retry(lambda: self._connection.execute(f"PRAGMA busy_timeout = {int(STORE_BUSY_TIMEOUT_S * 1000)}"))
            # WAL: readers (the page) never block the writer.
            self._retry(lambda: self._connection.execute("PRAGMA journal_mode=WAL").fetchall())
            self._retry(lambda: self._write(lambda: self._connection.execute(_SCHEMA)))
            # CREATE TABLE IF NOT EXISTS keeps a table of the same name with other columns (another program's
            # database): every later write would fail with SQLite's "table features has 3 columns".
            columns = tuple(row[1] for row in self._retry(
                lambda: self._connection.execute("PRAGMA table_info(features)").fetchall()))
            if columns != _COLUMNS:
                raise RadNomoError(f"feature store '{self.path}' has a 'features' table with columns {list(columns)}, "
                                   f"not a RadNomo feature store's. {_ADVICE}")
            # Touch every page of the key index: a truncated or overwritten file fails here, on
            # opening, rather than halfway through a batch.
            self._retry(lambda: self._connection.execute("SELECT COUNT(*) FROM features").fetchone())
        except BaseException:
            self._connection.close()
            raise

    def _check_path(self, path: Path) -> None:
        """Refuse a path that is not a (new or existing) regular file before SQLite opens it."""
        try:
            info = os.stat(path)
        except FileNotFoundError:
            info = None
        except OSError as error:  # a name too long, a file used as a folder, no permission
            raise RadNomoError(f"feature store '{path}' cannot be used ({error.strerror or error}); give a file "
                               "path in a writable folder.") from None
        if info is not None and not stat.S_ISREG(info.st_mode):
            raise RadNomoError(f"feature store '{path}' is a {file_kind(info.st_mode)}, not a file; give the path of "
                               "a new or existing feature-store file (e.g. features.store.sqlite).")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RadNomoError(f"the feature store's folder '{path.parent}' cannot be created "
                               f"({error.strerror or error}); give a file path in a writable folder.") from None

    def _retry(self, operation: Callable[[], _T]) -> _T:
        """Run ``operation``, retrying while the store is locked; SQLite errors become RadNomoError."""
        for attempt in range(STORE_LOCK_RETRIES + 1):
            try:
                return operation()
            except sqlite3.OperationalError as error:
                message = str(error).lower()
                if ("locked" not in message and "busy" not in message) or attempt == STORE_LOCK_RETRIES:
                    raise self._store_error(error) from error
                time.sleep(min(2.0, 0.05 * 2 ** attempt) * (0.5 + random.random()))
            except sqlite3.DatabaseError as error:
                raise self._store_error(error) from error
        raise AssertionError("unreachable")  # pragma: no cover

    def _store_error(self, error: sqlite3.Error) -> RadNomoError:
        message = str(error)
        if "locked" in message.lower() or "busy" in message.lower():
            return RadNomoError(f"feature store '{self.path}' stayed locked by another process ({message}) beyond "
                                f"{STORE_BUSY_TIMEOUT_S:g} s and {STORE_LOCK_RETRIES} retries; try again when the "
                                "other extraction has finished.")
        if isinstance(error, sqlite3.OperationalError) and "malformed" not in message \
                and "not a database" not in message:
            return RadNomoError(f"feature store '{self.path}' cannot be used ({message}); check that its folder is "
                                "writable and the disk is not full.")
        return RadNomoError(f"feature store '{self.path}' is not a readable SQLite database ({message}): the file "
                            f"is damaged (e.g. truncated) or is not a feature store. {_ADVICE}")

    def _decode_row(self, key: str, names: object, values: object) -> dict[str, float]:
        """One stored row's features, or a RadNomoError when the row is not what :meth:`put` writes."""
        where = f"feature store '{self.path}', row {str(key)[:16]}"
        try:
            decoded = [read_json_limited(text.encode("utf-8") if isinstance(text, str) else text,
                                         MAX_STORE_ROW_BYTES, f"{where}, {column}")
                       for column, text in (("names", names), ("values", values))]
        except (RadNomoError, TypeError) as error:  # TypeError: a NULL or number where SQLite held no text
            raise RadNomoError(f"{error} {_ADVICE}") from error
        names_list, values_list = decoded
        if not isinstance(names_list, list) or not isinstance(values_list, list) \
                or not all(isinstance(n, str) for n in names_list) \
                or not all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values_list):
            raise RadNomoError(f"{where} does not hold a list of feature names and a list of numbers. {_ADVICE}")
        if len(names_list) != len(values_list):
            raise RadNomoError(f"{where} has {len(names_list)} feature names but {len(values_list)} values; "
                               f"features would be lost. {_ADVICE}")
        if len(set(names_list)) != len(names_list):
            raise RadNomoError(f"{where} names a feature twice; one of the values would be lost. {_ADVICE}")
        return {n: (math.nan if v is None else float(v)) for n, v in zip(names_list, values_list, strict=True)}

    def _write(self, statement: Callable[[], object]) -> None:
        """Run one write in its own transaction, taking the write lock first."""
        self._connection.execute("BEGIN IMMEDIATE")
        try:
            statement()
            self._connection.execute("COMMIT")
        except BaseException:
            if self._connection.in_transaction:
                self._connection.execute("ROLLBACK")
            raise

    def _select(self, keys: list[str]) -> list[tuple[str, object, object]]:
        """The stored rows (key, names_json, values_json) of ``keys`` (at most SQLite's bound-parameter limit)."""
        return self._connection.execute(
            f"SELECT key, names_json, values_json FROM features WHERE key IN ({','.join('?' * len(keys))})",
            keys).fetchall()

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, float]]:
        """Features of the keys present in the store: ``{key: {feature name: value}}``."""
        keys = list(keys)
        found: dict[str, dict[str, float]] = {}
        for start in range(0, len(keys), 500):  # SQLite limits the number of bound parameters
            chunk = keys[start:start + 500]
            rows = self._retry(partial(self._select, chunk))
            for key, names, values in rows:
                found[key] = self._decode_row(key, names, values)
        return found

    def put(self, key: str, *, case_id: str, image_sha256: str, mask_sha256: str, settings_sha256: str,
            extractor_version: str, seconds: float, features: dict[str, float]) -> None:
        """Store one case's features (replacing an earlier row with the same key) and commit.

        Waits for other writers (busy timeout, then bounded retries with backoff).
        """
        row = (key, case_id, image_sha256, mask_sha256, settings_sha256, extractor_version, float(seconds),
               datetime.now(UTC).isoformat(timespec="seconds"), json.dumps(list(features)),
               json.dumps(list(features.values())))
        self._retry(lambda: self._write(lambda: self._connection.execute(
            "INSERT OR REPLACE INTO features VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)))

    def __len__(self) -> int:
        return int(self._retry(lambda: self._connection.execute("SELECT COUNT(*) FROM features").fetchone())[0])

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
