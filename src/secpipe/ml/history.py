"""The metrics of the last passed run of the same pipeline (through ``ctx.history``)."""

from __future__ import annotations

from collections.abc import Mapping

from secpipe.core.step import StepContext

COMPARED = ("accuracy", "balanced_accuracy", "f1_macro", "precision_macro", "recall_macro",
            "roc_auc_ovr")


def last_passed_metrics(ctx: StepContext, kind: str = "evaluate") -> tuple[str, dict[str, float]]:
    """(run id, metrics of this step id — else of a step of the same kind) of the most recent
    passed run of this pipeline other than the current one; ``("", {})`` when there is none
    (or when the step runs outside a recorded pipeline)."""
    if ctx.history is None or not ctx.pipeline:
        return "", {}
    run_id, metrics = ctx.history.last_passed_metrics(ctx.pipeline, exclude_run=ctx.run_id,
                                                      step_id=ctx.step_id, kind=kind)
    return run_id, dict(metrics)


def drops(current: Mapping[str, float], previous: Mapping[str, float]) -> dict[str, float]:
    """``<metric>_drop_vs_last`` = previous - current (positive when the model got worse)."""
    return {f"{name}_drop_vs_last": float(previous[name]) - float(current[name])
            for name in COMPARED if name in current and name in previous}
