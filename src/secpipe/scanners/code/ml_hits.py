"""Collecting rule hits: one per rule and place, the most severe kept; severity ladders."""

from __future__ import annotations

import ast
from collections.abc import Sequence

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.code.flow import REMOTE, UNTRUSTED, Taint, describe, kinds_of
from secpipe.scanners.code.ml_catalog import RULES
from secpipe.scanners.code.rules import CodeHit

_CONF_RANK = {Confidence.LOW: 0, Confidence.MEDIUM: 1, Confidence.HIGH: 2}


class Hits:
    """The hits of one file."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = lines
        self._hits: dict[tuple[str, int, int], CodeHit] = {}
        #: lines of jinja2 Environment() calls with autoescape on, of templates with |safe
        self.escaped_envs: set[int] = set()
        self.safe_templates: set[int] = set()
        #: module-level names bound once to a template string that uses |safe
        self.safe_template_names: frozenset[str] = frozenset()
        #: names bound once, at module level, to the literal True (``DEBUG = True``)
        self.true_names: frozenset[str] = frozenset()
        #: (first line, last line, CWE) of calls a rule examined and found safe
        self.cleared: list[tuple[int, int, int]] = []

    def add(self, rule_id: str, line: int, column: int, end_line: int | None, message: str,
            severity: Severity | None = None, confidence: Confidence | None = None) -> None:
        rule = RULES[rule_id]
        sev = severity or rule.severity
        conf = confidence or rule.confidence
        hit = CodeHit(rule_id, line, column, end_line if end_line != line else None, message,
                      sev, conf)
        key = (rule_id, line, column)
        old = self._hits.get(key)
        if old is None or (sev.rank, _CONF_RANK[conf]) > (
                (old.severity or rule.severity).rank, _CONF_RANK[old.confidence or conf]):
            self._hits[key] = hit

    def at(self, rule_id: str, node: ast.expr | ast.stmt, message: str,
           severity: Severity | None = None, confidence: Confidence | None = None) -> None:
        self.add(rule_id, node.lineno, node.col_offset + 1, getattr(node, "end_lineno", None),
                 message, severity, confidence)

    def clear(self, node: ast.expr, cwe: int) -> None:
        """A rule looked at ``node`` and decided it is safe for the concern ``cwe``."""
        self.cleared.append((node.lineno, getattr(node, "end_lineno", None) or node.lineno,
                             cwe))

    def sorted(self) -> list[CodeHit]:
        return sorted(self._hits.values(), key=lambda h: (h.line, h.column, h.rule_id))


def ladder(taint: Taint, const: bool) -> tuple[Severity, Confidence, str]:
    """Severity of loading untrusted-format data, by where it comes from: a request or a
    download (critical), the command line, stdin or the environment (high), unknown (medium),
    a literal path in the repository (low)."""
    kinds = kinds_of(taint)
    if kinds & REMOTE:
        return Severity.CRITICAL, Confidence.HIGH, "from " + describe(taint, REMOTE)
    if kinds & UNTRUSTED:
        return Severity.HIGH, Confidence.MEDIUM, "from " + describe(taint, UNTRUSTED)
    if const:
        return Severity.LOW, Confidence.LOW, "of a literal path in the code"
    if "param" in kinds:
        return Severity.MEDIUM, Confidence.LOW, "from " + describe(taint, {"param"})
    return Severity.MEDIUM, Confidence.LOW, "of data whose origin is not known to be local"
