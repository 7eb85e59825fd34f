"""The feature store: an SQLite cache of per-case features.

Each case is stored under a key made of the image's and mask's content hashes, the hash of the
extraction settings (pyradiomics parameters, pre-processing, label) and the pyradiomics version,
so a re-run reads the cache, an interrupted batch resumes, and changed settings recompute. The process
that runs a batch writes one row per finished case; several batches (dashboard sessions, command
lines) may write to one store at once: writers wait for each other (SQLite's busy timeout) and a
write that still finds the store locked is retried with backoff.

A file that is not an SQLite database, or a damaged one, raises :class:`core.errors.RadNomoError`
naming the file: the store is only a cache, so the fix is to move it away and recompute.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from core.errors import RadNomoError

__all__ = ["FeatureStore", "case_key", "STORE_BUSY_TIMEOUT_S", "STORE_LOCK_RETRIES"]

#: How long one statement waits for another process's write lock (SQLite busy timeout): 30 s.
#: A write commits one case (milliseconds), so only a stalled writer or a slow disk waits long.
STORE_BUSY_TIMEOUT_S = 30.0
#: How many times a statement that still reports "database is locked" is retried after the busy
#: timeout (backoff 0.05 s doubling to at most 2 s, with jitter): 5. SQLite returns "locked" at
#: once, without waiting, in a few cases (a WAL being recovered, a journal-mode change).
STORE_LOCK_RETRIES = 5

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
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit, so a write takes the lock with
        # BEGIN IMMEDIATE up front (waiting on the busy timeout) rather than upgrading a read
        # transaction midway, which SQLite refuses at once with "database is locked".
        self._connection = sqlite3.connect(self.path, timeout=STORE_BUSY_TIMEOUT_S, isolation_level=None)
        try:
            self._retry(lambda: self._connection.execute(f"PRAGMA busy_timeout = {int(STORE_BUSY_TIMEOUT_S * 1000)}"))
            # WAL: readers (the page) never block the writer.
            self._retry(lambda: self._connection.execute("PRAGMA journal_mode=WAL").fetchall())
            self._retry(lambda: self._write(lambda: self._connection.execute(_SCHEMA)))
            # Touch every page of the key index: a truncated or overwritten file fails here, on
            # opening, rather than halfway through a batch.
            self._retry(lambda: self._connection.execute("SELECT COUNT(*) FROM features").fetchone())
        except BaseException:
            self._connection.close()
            raise

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
                            "is damaged (e.g. truncated) or is not a feature store. It is only a cache: move or "
                            "delete it and the features will be recomputed.")

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

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, float]]:
        """Features of the keys present in the store: ``{key: {feature name: value}}``."""
        keys = list(keys)
        found: dict[str, dict[str, float]] = {}
        for start in range(0, len(keys), 500):  # SQLite limits the number of bound parameters
            chunk = keys[start:start + 500]
            rows = self._retry(lambda: self._connection.execute(
                f"SELECT key, names_json, values_json FROM features WHERE key IN ({','.join('?' * len(chunk))})",
                chunk).fetchall())
            for key, names, values in rows:
                found[key] = dict(zip(json.loads(names), json.loads(values)))
        return found

    def put(self, key: str, *, case_id: str, image_sha256: str, mask_sha256: str, settings_sha256: str,
            extractor_version: str, seconds: float, features: dict[str, float]) -> None:
        """Store one case's features (replacing an earlier row with the same key) and commit.

        Waits for other writers (busy timeout, then bounded retries with backoff).
        """
        row = (key, case_id, image_sha256, mask_sha256, settings_sha256, extractor_version, float(seconds),
               datetime.now(timezone.utc).isoformat(timespec="seconds"), json.dumps(list(features)),
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
