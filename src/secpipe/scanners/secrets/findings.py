"""Turn scan hits into :class:`~secpipe.core.findings.Finding` s (redacted, fingerprinted)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from secpipe.core.findings import Confidence, Finding, Location, Severity
from secpipe.core.results import Skipped
from secpipe.scanners.secrets.engine import FileScan, Hit
from secpipe.scanners.secrets.rules import (
    INCOMPLETE_RULE,
    REMEDIATION,
    TAGS,
    UNREADABLE_RULE,
    Rule,
    reported_rules,
)
from secpipe.scanners.walk import UNREADABLE

if TYPE_CHECKING:  # git history is imported only when a scan asks for it
    from secpipe.scanners.secrets.history import HistoryScan

SCANNER = "scan-secrets"
META_RULES = frozenset({INCOMPLETE_RULE, UNREADABLE_RULE})


@cache
def _rules() -> dict[str, Rule]:
    return {r.rule_id: r for r in reported_rules()}


def secret_finding(path: str, hit: Hit, commit: str | None = None) -> Finding:
    """The finding of one secret (the secret itself is never in it: evidence is redacted)."""
    rule = _rules()[hit.rule_id]
    where = f" added in commit {commit[:12]}" if commit else ""
    return Finding.create(
        rule_id=hit.rule_id, title=rule.title, severity=rule.severity, scanner=SCANNER,
        location=Location(path=path, line=hit.line, column=hit.column,
                          end_line=hit.end_line if hit.end_line != hit.line else None,
                          member=hit.member, commit=commit),
        message=f"{rule.title}{where} ({hit.evidence})", key=hit.key,
        confidence=rule.confidence, evidence=hit.evidence, tags=TAGS, remediation=REMEDIATION,
        properties={"category": rule.category},
    )


def incomplete(path: str, member: str | None, reason: str, commit: str | None = None) -> Finding:
    """A bound stopped the scan of (part of) an input: it may still hide secrets."""
    return Finding.create(
        rule_id=INCOMPLETE_RULE, title="Input not fully scanned for secrets",
        severity=Severity.MEDIUM, scanner=SCANNER,
        location=Location(path=path, member=member, commit=commit),
        message=f"could not be fully analysed: {reason}", key=reason,
        confidence=Confidence.HIGH,
        remediation="Check this input by hand or raise the bound in the step's settings.",
    )


def unreadable(path: str, error: str) -> Finding:
    """A file or folder that could not be read: it may hold anything, so it is high (the
    default policy fails on it) rather than a silent skip."""
    return Finding.create(
        rule_id=UNREADABLE_RULE, title="File or folder could not be read",
        severity=Severity.HIGH, scanner=SCANNER, location=Location(path=path),
        message=f"could not be read, so it was not scanned: {error}", key=error,
        remediation="Make it readable by the scanner, or exclude it on purpose.")


def file_findings(path: str, scan: FileScan, error: str,
                  skipped: list[Skipped]) -> list[Finding]:
    """Findings of one file (and its Skipped entries)."""
    if error:
        skipped.append(Skipped(path, f"{UNREADABLE}{error}"))
        return [unreadable(path, error)]
    if scan.skipped:
        skipped.append(Skipped(path, scan.skipped))
    if scan.truncated_size:
        skipped.append(Skipped(path, f"too large ({scan.truncated_size} bytes): head scanned"))
    out = [secret_finding(path, hit) for hit in scan.hits]
    out.extend(incomplete(path, member, reason) for member, reason in scan.problems)
    return out


def history_findings(hist: HistoryScan) -> list[Finding]:
    """Findings of git history, oldest introduction first."""
    out = [secret_finding(path, hit, commit) for commit, path, hit in reversed(hist.hits)]
    out.extend(incomplete(".git", None, reason) for reason in hist.problems)
    return out


def dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per fingerprint: the working tree before history, the first occurrence kept."""
    seen: set[str] = set()
    out: list[Finding] = []
    for finding in findings:
        if finding.fingerprint not in seen:
            seen.add(finding.fingerprint)
            out.append(finding)
    return out
