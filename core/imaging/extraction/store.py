"""The feature store: an SQLite cache of per-case features.

Each case is stored under a key made of the image's and mask's content hashes, the hash of the
extraction settings (pyradiomics parameters, pre-processing, label) and the pyradiomics version,
so a re-run reads the cache, an interrupted batch resumes, and changed settings recompute. Only the
process that runs a batch writes; one row is committed per finished case.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["FeatureStore", "case_key"]

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
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(self.path)
        self._connection.execute("PRAGMA journal_mode=WAL")  # readers (the page) never block the writer
        self._connection.execute(_SCHEMA)
        self._connection.commit()

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, float]]:
        """Features of the keys present in the store: ``{key: {feature name: value}}``."""
        keys = list(keys)
        found: dict[str, dict[str, float]] = {}
        for start in range(0, len(keys), 500):  # SQLite limits the number of bound parameters
            chunk = keys[start:start + 500]
            rows = self._connection.execute(
                f"SELECT key, names_json, values_json FROM features WHERE key IN ({','.join('?' * len(chunk))})",
                chunk)
            for key, names, values in rows:
                found[key] = dict(zip(json.loads(names), json.loads(values)))
        return found

    def put(self, key: str, *, case_id: str, image_sha256: str, mask_sha256: str, settings_sha256: str,
            extractor_version: str, seconds: float, features: dict[str, float]) -> None:
        """Store one case's features (replacing an earlier row with the same key) and commit."""
        self._connection.execute(
            "INSERT OR REPLACE INTO features VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, case_id, image_sha256, mask_sha256, settings_sha256, extractor_version, float(seconds),
             datetime.now(timezone.utc).isoformat(timespec="seconds"), json.dumps(list(features)),
             json.dumps(list(features.values()))))
        self._connection.commit()

    def __len__(self) -> int:
        return int(self._connection.execute("SELECT COUNT(*) FROM features").fetchone()[0])

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
