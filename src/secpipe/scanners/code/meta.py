"""The code scanner's findings about its own work: what it could not analyse, and why.

A file the scanner could not fully analyse is never a pass: each reason is a rule of its own
(``code.unparsed``, ``code.too-large`` …), so a policy can count them, and each says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

from secpipe.core.findings import Confidence, Finding, Location, Severity

SCANNER = "scan-code"


@dataclass(frozen=True)
class MetaRule:
    """A reason the analysis of a file did not complete."""

    id: str
    title: str
    severity: Severity
    fix: str


META_RULES: dict[str, MetaRule] = {r.id: r for r in (
    MetaRule("code.unparsed", "file not parsed (syntax error)", Severity.MEDIUM,
             "Fix the syntax error, or exclude the file if it is not Python 3 source (test data, "
             "templates); nothing in it was analysed."),
    MetaRule("code.undecodable", "file not decoded (encoding)", Severity.MEDIUM,
             "Save the file as UTF-8 (or declare the encoding it is in, PEP 263); nothing in it "
             "was analysed."),
    MetaRule("code.too-large", "file too large to analyse", Severity.MEDIUM,
             "Exclude generated files, or raise max_file_bytes if this one must be analysed; "
             "nothing in it was analysed."),
    MetaRule("code.budget-exceeded", "analysis budget exceeded", Severity.MEDIUM,
             "Raise max_seconds_per_file, or exclude the file if it is generated; its analysis "
             "did not finish, so it may hide problems."),
    MetaRule("code.analysis-failed", "analysis failed", Severity.MEDIUM,
             "Re-run with -v and report the problem; the file was not (fully) analysed."),
    MetaRule("code.test-error", "a check could not decide", Severity.MEDIUM,
             "Re-run with -v and report the problem; one check did not run on this file."),
    MetaRule("code.not-a-notebook", "notebook not read", Severity.MEDIUM,
             "Repair the notebook JSON, or rename the file if it is not a notebook; nothing in "
             "it was analysed."),
    MetaRule("code.unreadable", "file or folder not read", Severity.HIGH,
             "Make it readable by the user secpipe runs as, or exclude it."),
)}


def meta_finding(rule_id: str, path: str, message: str, *, line: int | None = None,
                 member: str | None = None, key: str = "") -> Finding:
    """A finding of the meta rule ``rule_id``; its fingerprint does not depend on the line (an
    edit above a syntax error keeps it), only on ``key`` where one file can have several."""
    rule = META_RULES[rule_id]
    return Finding.create(
        rule_id=rule.id, title=rule.title, severity=rule.severity, scanner=SCANNER,
        location=Location(path, line=line, member=member), message=message,
        key=f"{rule.id}\x1f{key}",
        confidence=Confidence.HIGH, tags=("secpipe:incomplete",), remediation=rule.fix)
