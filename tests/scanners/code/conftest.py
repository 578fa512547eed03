"""Fixtures of the code scanner's engine tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from code_helpers import RunCode

from secpipe.core.results import StepResult
from secpipe.core.step import StepContext
from secpipe.scanners.code.step import CodeScanStep


@pytest.fixture
def run_code(tmp_path: Path) -> RunCode:
    """Run ``scan-code`` on a project folder: ``run_code(root, **settings)``."""

    def run(root: Path, ctx: StepContext | None = None, **settings: Any) -> StepResult:
        ctx = ctx or StepContext(project_root=root, workdir=tmp_path / "work")
        return CodeScanStep().run(ctx, CodeScanStep.Settings.model_validate(settings))

    return run
