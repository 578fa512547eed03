"""Fixtures for the secrets scanner tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from secrets_helpers import RunStep

from secpipe.core.results import StepResult
from secpipe.core.step import StepContext
from secpipe.scanners.secrets.step import SecretsScanStep


@pytest.fixture
def run_step(tmp_path: Path) -> RunStep:
    """Run the step on a project folder: ``run_step(root, cache_dir=None, **settings)``."""

    def run(root: Path, cache_dir: Path | None = None, **settings: Any) -> StepResult:
        step = SecretsScanStep()
        ctx = StepContext(project_root=root, workdir=tmp_path / "work", cache_dir=cache_dir)
        return step.run(ctx, SecretsScanStep.Settings.model_validate(settings))

    return run
