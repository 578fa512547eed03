"""The metrics of the last passed run of the same pipeline, from the run store (read only)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from secpipe.core.errors import StoreError
from secpipe.core.step import StepContext

COMPARED = ("accuracy", "balanced_accuracy", "f1_macro", "precision_macro", "recall_macro",
            "roc_auc_ovr")
_SCAN_RUNS = 50


def store_path(ctx: StepContext) -> Path:
    """``<project>/<state_dir>/runs.db`` as the runner uses it."""
    return ctx.project_root / str(ctx.config.get("state_dir", ".secpipe")) / "runs.db"


def last_passed_metrics(ctx: StepContext, kind: str = "evaluate") -> tuple[str, dict[str, float]]:
    """(run id, metrics of this step id — else of a step of the same kind) of the most recent
    passed run of this pipeline other than the current one; ``("", {})`` when there is none."""
    path = store_path(ctx)
    if not path.is_file() or not ctx.pipeline:
        return "", {}
    from secpipe.runstore import RunStore

    try:
        store = RunStore(path)
    except StoreError:
        return "", {}
    try:
        for run in store.list_runs(limit=_SCAN_RUNS, pipeline=ctx.pipeline):
            if run.run_id == ctx.run_id or run.status != "passed":
                continue
            same = [s for s in run.steps if s.step_id == ctx.step_id and s.kind == kind]
            other = [s for s in run.steps if s.kind == kind]
            for step in same or other:
                if step.metrics:
                    return run.run_id, dict(step.metrics)
    finally:
        store.close()
    return "", {}


def drops(current: Mapping[str, float], previous: Mapping[str, float]) -> dict[str, float]:
    """``<metric>_drop_vs_last`` = previous - current (positive when the model got worse)."""
    return {f"{name}_drop_vs_last": float(previous[name]) - float(current[name])
            for name in COMPARED if name in current and name in previous}
