"""Fixtures of the tools tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A work folder for one test."""
    path = tmp_path / "work"
    path.mkdir()
    return path
