"""Versioned JSON report of a run (``format: secpipe-run``, ``version: 1``)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from secpipe.reports.escape import readable_tree
from secpipe.runstore.records import RunRecord, StepRecord

FORMAT = "secpipe-run"
VERSION = 1


def finite_metrics(metrics: Mapping[str, float]) -> dict[str, float | None]:
    """Metrics with NaN and infinities as ``null`` (strict JSON has no such numbers)."""
    return {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}


def step_to_dict(step: StepRecord) -> dict[str, Any]:
    return {
        "id": step.step_id,
        "kind": step.kind,
        "stage": step.stage,
        "status": step.status.value,
        "started": step.started,
        "duration": round(step.duration, 4),
        "message": step.message,
        "tool": step.tool,
        "metrics": finite_metrics(step.metrics),
        "findings": len(step.findings),
        "skipped": [s.__dict__ for s in step.skipped],
        "artifacts": [a.to_dict() for a in step.artifacts],
        "gate": step.gate.to_dict() if step.gate else None,
    }


def run_to_dict(run: RunRecord) -> dict[str, Any]:
    findings = run.findings
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.severity.value] = counts.get(f.severity.value, 0) + 1
    return {
        "format": FORMAT,
        "version": VERSION,
        "run": {
            "id": run.run_id,
            "pipeline": run.pipeline,
            "project": run.project,
            "started": run.started,
            "finished": run.finished,
            "status": run.status,
            "exit_code": run.exit_code,
            "secpipe_version": run.secpipe_version,
        },
        "stages": [{"name": s.name, "index": s.index, "status": s.status.value}
                   for s in run.stages],
        "steps": [step_to_dict(s) for s in run.steps],
        "summary": {"findings": len(findings), "by_severity": counts},
        "findings": [f.to_dict() for f in findings],
    }


def render(run: RunRecord) -> str:
    """The report; an undecodable byte of a file name is shown as ``\\xNN``."""
    return json.dumps(readable_tree(run_to_dict(run)), indent=2, allow_nan=False) + "\n"
