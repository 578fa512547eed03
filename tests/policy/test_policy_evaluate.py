"""Gate policy evaluation: severities, counts, metrics, baselines, suppressions, fail-closed."""

from __future__ import annotations

import datetime as dt

from secpipe.core.findings import Finding, Location, Severity
from secpipe.policy.evaluate import evaluate
from secpipe.policy.model import PolicySpec, SuppressionSpec

TODAY = dt.date(2026, 11, 26)


def _f(rule: str, sev: Severity, path: str = "a.py", line: int = 1) -> Finding:
    return Finding.create(rule_id=rule, title=rule, severity=sev, scanner="scan-x",
                          location=Location(path=path, line=line), message="m")


def test_fail_on_severity() -> None:
    findings = [_f("r1", Severity.MEDIUM), _f("r2", Severity.HIGH, line=2)]
    assert not evaluate(PolicySpec(fail_on=Severity.HIGH), findings, {}, today=TODAY).passed
    assert evaluate(PolicySpec(fail_on=Severity.CRITICAL), findings, {}, today=TODAY).passed


def test_max_counts_by_severity_and_rule() -> None:
    findings = [_f("r1", Severity.MEDIUM, line=i) for i in range(3)]
    d = evaluate(PolicySpec(max={"medium": 2}), findings, {}, today=TODAY)
    assert not d.passed and d.reasons == ("3 medium finding(s) (max 2)",)
    assert evaluate(PolicySpec(max={"medium": 3}), findings, {}, today=TODAY).passed
    d = evaluate(PolicySpec(max={"r1": 0}), findings, {}, today=TODAY)
    assert d.reasons == ("3 r1 finding(s) (max 0)",)


def test_metric_bounds() -> None:
    policy = PolicySpec(metrics=["accuracy >= 0.8"])
    assert evaluate(policy, [], {"accuracy": 0.91}, today=TODAY).passed
    failed = evaluate(policy, [], {"accuracy": 0.5}, today=TODAY)
    assert not failed.passed and "accuracy" in failed.reasons[0]
    missing = evaluate(policy, [], {}, today=TODAY)
    assert not missing.passed and "was not measured" in missing.reasons[0]
    nan = evaluate(policy, [], {"accuracy": float("nan")}, today=TODAY)
    assert not nan.passed


def test_baseline_only_new_findings_fail() -> None:
    old, new = _f("r", Severity.HIGH, line=1), _f("r", Severity.HIGH, line=2)
    policy = PolicySpec(fail_on=Severity.HIGH)
    d = evaluate(policy, [old], {}, baseline=frozenset({old.fingerprint}), today=TODAY)
    assert d.passed and d.baselined == 1
    d = evaluate(policy, [old, new], {}, baseline=frozenset({old.fingerprint}), today=TODAY)
    assert not d.passed and d.counted == 1


def test_suppression_with_reason_suppresses() -> None:
    f = _f("r", Severity.CRITICAL, path="examples/x.ipynb")
    s = SuppressionSpec(fingerprint=f.fingerprint, reason="demo key", expires=dt.date(2027, 1, 1))
    d = evaluate(PolicySpec(fail_on=Severity.HIGH), [f], {}, suppressions=[s], today=TODAY)
    assert d.passed and d.suppressed == 1


def test_suppression_by_rule_and_path_glob() -> None:
    inside = _f("r", Severity.HIGH, path="examples/a/b.py")
    outside = _f("r", Severity.HIGH, path="src/b.py")
    s = SuppressionSpec(rule="r", path="examples/*", reason="fixtures")
    d = evaluate(PolicySpec(fail_on=Severity.HIGH), [inside, outside], {}, suppressions=[s],
                 today=TODAY)
    assert not d.passed and d.suppressed == 1 and d.counted == 1


def test_expired_suppression_no_longer_suppresses_and_says_so() -> None:
    f = _f("r", Severity.HIGH)
    s = SuppressionSpec(fingerprint=f.fingerprint, reason="temp", expires=dt.date(2026, 11, 1))
    d = evaluate(PolicySpec(fail_on=Severity.HIGH), [f], {}, suppressions=[s], today=TODAY)
    assert not d.passed
    assert any("expired on 2026-11-01" in n for n in d.notes)


def test_step_errors_fail_closed() -> None:
    d = evaluate(PolicySpec(), [], {}, errors=["secrets: crashed"], today=TODAY)
    assert not d.passed and "could not complete" in d.reasons[0]
    d = evaluate(PolicySpec(unsafe_ignore_step_errors=True), [], {}, errors=["x"], today=TODAY)
    assert d.passed and any("UNSAFE" in n for n in d.notes)


def test_scanner_filter_and_dedup() -> None:
    f = _f("r", Severity.HIGH)
    d = evaluate(PolicySpec(fail_on=Severity.HIGH, scanners=["other"]), [f, f], {}, today=TODAY)
    assert d.passed and d.counted == 0
    d = evaluate(PolicySpec(fail_on=Severity.LOW), [f, f], {}, today=TODAY)
    assert d.counted == 1


def test_merge_overrides_only_set_fields() -> None:
    base = PolicySpec(fail_on=Severity.HIGH, metrics=["accuracy >= 0.8"])
    merged = base.merged(PolicySpec(fail_on=Severity.CRITICAL))
    assert merged.fail_on is Severity.CRITICAL and merged.metrics == ["accuracy >= 0.8"]
