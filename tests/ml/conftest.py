"""Small synthetic ML projects built by code: a text classifier of HTTP payloads."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from ml_samples import MODEL_PY, make_rows, write_csv

from secpipe.core.step import StepContext


@pytest.fixture
def ml_project(tmp_path: Path) -> Path:
    """A project with model.py, data/requests.csv (240 rows) and data/holdout.csv (90 rows)."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "model.py").write_text(MODEL_PY, encoding="utf-8")
    write_csv(root / "data" / "requests.csv", make_rows(240, seed=1))
    write_csv(root / "data" / "holdout.csv", make_rows(90, seed=2))
    return root


@pytest.fixture
def ctx_factory(ml_project: Path):  # type: ignore[no-untyped-def]
    """Build a StepContext for a step id inside a fake run folder; progress/logs are collected."""

    def make(step_id: str, *, root: Path | None = None, timeout: float = 120.0,
             run_id: str = "run1", pipeline: str = "") -> StepContext:
        project = root or ml_project
        events: list[tuple[int, int | None, str]] = []
        logs: list[str] = []
        ctx = StepContext(
            project_root=project, workdir=project / ".secpipe" / "runs" / run_id / step_id,
            run_id=run_id, pipeline=pipeline, step_id=step_id,
            progress=lambda d, t, w: events.append((d, t, w)), log=logs.append,
            cancel=threading.Event(), timeout=timeout,
        )
        ctx.events = events  # type: ignore[attr-defined]
        ctx.logs = logs  # type: ignore[attr-defined]
        return ctx

    return make
