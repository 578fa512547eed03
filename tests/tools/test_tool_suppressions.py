"""Suppressions a tool wrote itself reach the gate as marked findings: counted by default,
accepted (and recorded as accepted, with the reason) with ``accept_tool_suppressions``."""

from __future__ import annotations

import datetime as dt

from secpipe.core.findings import Finding, Location, Severity
from secpipe.policy.evaluate import evaluate
from secpipe.policy.model import PolicySpec, SuppressionSpec
from secpipe.tools.suppressions import TOOL_SUPPRESSED_REASON, mark_tool_suppressed


def _finding(rule: str, severity: Severity = Severity.HIGH) -> Finding:
    return Finding.create(rule_id=rule, title=rule, severity=severity, scanner="semgrep",
                          location=Location("app.py", line=3), message="eval of input")


NOSEMGREP = mark_tool_suppressed(_finding("python.eval"), "inSource")


def test_tool_suppressions_are_counted_by_default() -> None:
    decision = evaluate(PolicySpec(fail_on=Severity.HIGH), [NOSEMGREP], {})
    assert not decision.passed and decision.counted == 1 and decision.accepted == ()
    assert decision.reasons == ("1 finding(s) at high or worse (python.eval)",)
    assert any(TOOL_SUPPRESSED_REASON in note and "counted" in note for note in decision.notes)


def test_the_policy_flag_accepts_them_with_that_reason() -> None:
    policy = PolicySpec(fail_on=Severity.HIGH, accept_tool_suppressions=True)
    plain = _finding("python.exec", Severity.LOW)
    decision = evaluate(policy, [NOSEMGREP, plain], {})
    assert decision.passed and decision.counted == 1
    assert decision.accepted == ((NOSEMGREP.fingerprint,
                                  f"accepted by accept_tool_suppressions: "
                                  f"{TOOL_SUPPRESSED_REASON}"),)
    assert any("accepted by the policy" in note for note in decision.notes)


def test_a_gate_override_merges_the_flag() -> None:
    merged = PolicySpec(fail_on=Severity.HIGH).merged(
        PolicySpec.model_validate({"accept_tool_suppressions": True}))
    assert merged.accept_tool_suppressions is True and merged.fail_on is Severity.HIGH
    assert evaluate(merged, [NOSEMGREP], {}).passed


def test_a_reasoned_suppression_still_wins_and_expires() -> None:
    spec = SuppressionSpec(rule="python.eval", reason="sandboxed input",
                           expires=dt.date(2030, 1, 1))
    ok = evaluate(PolicySpec(fail_on=Severity.HIGH), [NOSEMGREP], {}, suppressions=[spec],
                  today=dt.date(2029, 1, 1))
    assert ok.passed and ok.suppressed == 1
    assert ok.accepted[0][1] == "suppressed: sandboxed input, until 2030-01-01"
    late = evaluate(PolicySpec(fail_on=Severity.HIGH), [NOSEMGREP], {}, suppressions=[spec],
                    today=dt.date(2031, 1, 1))
    assert not late.passed and late.counted == 1
