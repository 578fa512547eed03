"""Findings a gate accepted (suppressed with a reason, or baselined) are marked in every report,
and SARIF carries them as accepted external suppressions (still valid against the schema)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from secpipe.core.findings import Finding, Location, Severity
from secpipe.core.results import StepStatus
from secpipe.policy.evaluate import evaluate
from secpipe.policy.model import PolicySpec, SuppressionSpec
from secpipe.reports import FORMATS
from secpipe.runstore.records import RunRecord, StageRecord, StepRecord

SCHEMA = Path(__file__).resolve().parents[1] / "data" / "sarif-schema-2.1.0.json"


def _run() -> tuple[RunRecord, Finding, Finding, Finding]:
    def f(rule: str, line: int) -> Finding:
        return Finding.create(rule_id=rule, title=rule, severity=Severity.HIGH,
                              scanner="scan-secrets", location=Location("a.py", line=line),
                              message=f"{rule} here")
    kept, suppressed, known = f("r.kept", 1), f("r.supp", 2), f("r.base", 3)
    decision = evaluate(
        PolicySpec(fail_on=Severity.HIGH), [kept, suppressed, known], {},
        suppressions=[SuppressionSpec(rule="r.supp", reason="test fixture, never issued")],
        baseline=frozenset({known.fingerprint}),
    )
    scan = StepRecord(step_id="secrets", kind="scan-secrets", stage="scan",
                      status=StepStatus.PASSED, started=0.0, duration=1.0,
                      findings=(kept, suppressed, known))
    gate = StepRecord(step_id="gate", kind="gate", stage="gate", status=StepStatus.FAILED,
                      started=1.0, duration=0.0, gate=decision)
    run = RunRecord(run_id="r1", pipeline="p", project="/proj", started=0.0, finished=1.0,
                    status="failed", exit_code=1, secpipe_version="0",
                    stages=(StageRecord("scan", 0, StepStatus.PASSED),
                            StageRecord("gate", 1, StepStatus.FAILED)), steps=(scan, gate))
    return run, kept, suppressed, known


def test_gate_records_why_each_finding_was_accepted() -> None:
    run, kept, suppressed, known = _run()
    assert run.accepted == {suppressed.fingerprint: "suppressed: test fixture, never issued",
                            known.fingerprint: "in the baseline"}
    assert kept.fingerprint not in run.accepted


def test_sarif_marks_accepted_results_and_stays_valid() -> None:
    run, *_ = _run()
    log = json.loads(FORMATS["sarif"](run))
    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).validate(log)
    results = {r["ruleId"]: r for r in log["runs"][0]["results"]}
    assert "suppressions" not in results["r.kept"]
    assert results["r.supp"]["suppressions"] == [{
        "kind": "external", "status": "accepted",
        "justification": "suppressed: test fixture, never issued"}]
    assert results["r.base"]["suppressions"][0]["justification"] == "in the baseline"


def test_markdown_and_html_show_the_reason() -> None:
    run, *_ = _run()
    text = FORMATS["markdown"](run)
    assert "Accepted by the gate — suppressed: test fixture, never issued" in text
    html = FORMATS["html"](run)
    assert html.count("suppressed: test fixture, never issued") == 1
    assert "in the baseline" in html
