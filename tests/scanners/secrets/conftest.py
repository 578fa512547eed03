"""Helpers for the secrets scanner tests: scan bytes or a folder in-process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from secpipe.core.results import StepResult
from secpipe.core.step import StepContext
from secpipe.scanners.secrets.archives import Limits
from secpipe.scanners.secrets.engine import FileScan, scan_bytes
from secpipe.scanners.secrets.step import SecretsScanStep

LIMITS = Limits(max_file_bytes=1 << 20, max_depth=3, max_archive_bytes=4 << 20, max_members=50)


def scan(data: bytes | str, limits: Limits = LIMITS) -> FileScan:
    """Scan one file's content."""
    return scan_bytes(data.encode() if isinstance(data, str) else data, limits)


def rule_ids(data: bytes | str) -> list[str]:
    return [h.rule_id for h in scan(data).hits]


RunStep = Callable[..., StepResult]


@pytest.fixture
def run_step(tmp_path: Path) -> RunStep:
    """Run the step on a project folder: ``run_step(root, cache_dir=None, **settings)``."""

    def run(root: Path, cache_dir: Path | None = None, **settings: Any) -> StepResult:
        step = SecretsScanStep()
        ctx = StepContext(project_root=root, workdir=tmp_path / "work", cache_dir=cache_dir)
        return step.run(ctx, SecretsScanStep.Settings.model_validate(settings))

    return run
