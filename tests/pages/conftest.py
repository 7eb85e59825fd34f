"""Fixtures shared by the page tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.io.paths import WORKSPACE_ENV


@pytest.fixture()
def workspace(tmp_path, monkeypatch) -> Path:
    """A scratch RADNOMO_WORKSPACE (feature store, trained weights) for one test."""
    folder = tmp_path / "workspace"
    monkeypatch.setenv(WORKSPACE_ENV, str(folder))
    return folder
