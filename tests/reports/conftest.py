"""Fixtures of the report tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from sample_run import build_run

from secpipe.runstore.records import RunRecord


@pytest.fixture
def sample_run(tmp_path: Path) -> RunRecord:
    """A run with findings of every location kind, an errored step, a skipped input, a step
    with zero findings, a failed gate and embeddable artifacts."""
    return build_run(tmp_path)
