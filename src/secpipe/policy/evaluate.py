"""Evaluate a gate policy over findings, metrics and step errors. Fails closed."""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Mapping, Sequence

from secpipe.core.findings import Finding, Severity
from secpipe.core.results import GateDecision
from secpipe.policy.baseline import baseline_accepts
from secpipe.policy.inline import inline_state
from secpipe.policy.metrics import MetricBound
from secpipe.policy.model import PolicySpec, SuppressionSpec
from secpipe.tools.suppressions import TOOL_SUPPRESSED_REASON, is_tool_suppressed


def _matches(s: SuppressionSpec, f: Finding) -> bool:
    if s.fingerprint and s.fingerprint != f.fingerprint:
        return False
    if s.rule and s.rule != f.rule_id:
        return False
    return not (s.path and not fnmatch.fnmatch(f.location.path, s.path))


def _describe(s: SuppressionSpec) -> str:
    parts = [p for p in (s.fingerprint and f"fingerprint {s.fingerprint}",
                         s.rule and f"rule {s.rule}", s.path and f"path {s.path}") if p]
    return ", ".join(parts)


def evaluate(
    policy: PolicySpec,
    findings: Sequence[Finding],
    metrics: Mapping[str, float],
    errors: Sequence[str] = (),
    suppressions: Sequence[SuppressionSpec] = (),
    baseline: frozenset[str] = frozenset(),
    today: dt.date | None = None,
) -> GateDecision:
    """Decide. Expired suppressions no longer suppress, and the decision says so.

    A finding a secpipe scanner marked as suppressed by a comment in the source
    (:mod:`secpipe.policy.inline`) is accepted like a configured suppression while its expiry is
    today or later; expired, or without a reason or a date, it is counted with a note."""
    today = today or dt.date.today()
    reasons: list[str] = []
    notes: list[str] = []
    counted: list[Finding] = []
    suppressed = baselined = tool_accepted = tool_counted = 0
    accepted: list[tuple[str, str]] = []
    expired_noted: set[int] = set()
    seen: set[str] = set()
    for f in findings:
        if f.fingerprint in seen:
            continue
        seen.add(f.fingerprint)
        if policy.scanners is not None and f.scanner not in policy.scanners:
            continue
        active = None
        for i, s in enumerate(suppressions):
            if not _matches(s, f):
                continue
            if s.expires is not None and s.expires < today:
                if i not in expired_noted:
                    expired_noted.add(i)
                    notes.append(f"suppression ({_describe(s)}) expired on {s.expires}: "
                                 f"it no longer suppresses (reason was: {s.reason})")
                continue
            active = s
            break
        if active is not None:
            suppressed += 1
            until = f", until {active.expires}" if active.expires else ""
            accepted.append((f.fingerprint, f"suppressed: {active.reason}{until}"))
            continue
        inline = inline_state(f)
        if inline is not None:
            problem = inline.problem(today)
            if not problem:
                suppressed += 1
                accepted.append((f.fingerprint, f"suppressed inline at {inline.where}: "
                                                f"{inline.reason}, until {inline.expires}"))
                continue
            if problem not in notes:  # one note per comment, however many findings it covers
                notes.append(problem)
        if baseline_accepts(baseline, f):
            baselined += 1
            accepted.append((f.fingerprint, "in the baseline"))
            continue
        if is_tool_suppressed(f):
            if policy.accept_tool_suppressions:
                tool_accepted += 1
                accepted.append((f.fingerprint, f"accepted by accept_tool_suppressions: "
                                                f"{TOOL_SUPPRESSED_REASON}"))
                continue
            tool_counted += 1
        counted.append(f)

    if policy.fail_on is not None:
        worst = [f for f in counted if f.severity.rank >= policy.fail_on.rank]
        if worst:
            rules = sorted({f.rule_id for f in worst})
            shown = ", ".join(rules[:5]) + (" …" if len(rules) > 5 else "")
            reasons.append(f"{len(worst)} finding(s) at {policy.fail_on.value} or worse "
                           f"({shown})")
    for key, limit in sorted((policy.max or {}).items()):
        try:
            sev: Severity | None = Severity.parse(key)
        except ValueError:
            sev = None
        n = sum(1 for f in counted if (f.severity is sev if sev else f.rule_id == key))
        if n > limit:
            reasons.append(f"{n} {key} finding(s) (max {limit})")
    for text in policy.metrics or []:
        ok, line = MetricBound.parse(text).check(metrics)
        (notes if ok else reasons).append(line)
    if errors:
        if policy.unsafe_ignore_step_errors:
            notes.append(f"UNSAFE: ignoring {len(errors)} step error(s) by policy")
        else:
            reasons.extend(f"step could not complete: {e}" for e in errors)
    if suppressed:
        notes.append(f"{suppressed} finding(s) suppressed with a reason")
    if baselined:
        notes.append(f"{baselined} finding(s) already in the baseline")
    if tool_accepted:
        notes.append(f"{tool_accepted} finding(s) {TOOL_SUPPRESSED_REASON}: accepted by the "
                     "policy (accept_tool_suppressions)")
    if tool_counted:
        notes.append(f"{tool_counted} finding(s) {TOOL_SUPPRESSED_REASON}: counted (add a "
                     "suppression with a reason and an expiry, or set accept_tool_suppressions)")
    return GateDecision(passed=not reasons, reasons=tuple(reasons), notes=tuple(notes),
                        counted=len(counted), suppressed=suppressed, baselined=baselined,
                        accepted=tuple(accepted))
