from __future__ import annotations

import json

from secpipe.core.results import StepStatus
from secpipe.reports.json_report import render
from secpipe.runstore.records import RunRecord, StepRecord


def test_non_finite_metrics_become_null_and_output_is_strict_json() -> None:
    step = StepRecord(step_id="e", kind="evaluate", stage="s", status=StepStatus.PASSED,
                      started=0.0, duration=1.0, metrics={"auc": float("nan"), "acc": 0.9,
                                                          "x": float("inf")})
    run = RunRecord(run_id="r", pipeline="p", project="/p", started=0.0, finished=1.0,
                    status="passed", exit_code=0, secpipe_version="0", steps=(step,))
    data = json.loads(render(run), parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert data["steps"][0]["metrics"] == {"auc": None, "acc": 0.9, "x": None}
    assert data["format"] == "secpipe-run" and data["version"] == 1
