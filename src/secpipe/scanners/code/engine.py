"""One file's analysis: bounded read, decode (PEP 263), one parse, secpipe's rules and bandit's.

:class:`Analyser` is built once per process (bandit's test set and the rule pack load once) and
turns a file into a :class:`FileResult`: findings of secpipe's ML/LLM rule pack
(:mod:`secpipe.scanners.code.mlrules`), findings of bandit's tests run on the same tree
(:mod:`.bandit_run`), and a finding for anything that stopped the analysis (:mod:`.meta`). When
both report the same concern on the same line, secpipe's finding is kept and bandit's dropped
(ours knows the ML context: a ``pickle.load`` of a downloaded file, not any ``pickle.load``).
``# nosec`` findings stay, marked as suppressed in the tool's output
(:func:`secpipe.tools.suppressions.mark_tool_suppressed`), for the policy to accept or count.
"""

from __future__ import annotations

import ast
import errno
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from secpipe.core import pyast
from secpipe.core.findings import Confidence, Finding, Location, Severity
from secpipe.core.results import Skipped
from secpipe.scanners.code import source
from secpipe.scanners.code.bandit_run import (
    CATALOG,
    BanditIssue,
    BanditRunner,
    docs_url,
    file_bytes,
    is_suppressed,
    nosec_lines,
    split_large_literals,
)
from secpipe.scanners.code.meta import SCANNER, meta_finding
from secpipe.tools.suppressions import mark_tool_suppressed

BANDIT_PREFIX = "code.bandit."
"""Rule ids of bandit's tests: ``code.bandit.B602``."""

_SEVERITY = {"HIGH": Severity.HIGH, "MEDIUM": Severity.MEDIUM, "LOW": Severity.LOW,
             "UNDEFINED": Severity.INFO}
_CONFIDENCE = {"HIGH": Confidence.HIGH, "MEDIUM": Confidence.MEDIUM, "LOW": Confidence.LOW,
               "UNDEFINED": Confidence.LOW}

_DESERIALIZE = frozenset({502})
_CODE_EXEC = frozenset({94, 95, 78})
_SHELL = frozenset({78, 77})
_SQL = frozenset({89})
_HTML = frozenset({79, 80, 94, 116, 1336})
#: bandit test -> the CWEs of a secpipe rule that reports the same concern (default: its own CWE)
SAME_CONCERN: dict[str, frozenset[int]] = {
    "B301": _DESERIALIZE, "B302": _DESERIALIZE, "B614": _DESERIALIZE, "B506": _DESERIALIZE,
    "B102": _CODE_EXEC, "B307": _CODE_EXEC,
    **{t: _SHELL for t in ("B601", "B602", "B603", "B604", "B605", "B606", "B607", "B609")},
    "B608": _SQL, "B610": _SQL, "B611": _SQL,
    **{t: _HTML for t in ("B308", "B701", "B702", "B703", "B704")},
    "B201": frozenset({94, 489, 215, 668}),
    "B501": frozenset({295}), "B323": frozenset({295}),
    "B615": frozenset({494, 829}),
    "B113": frozenset({400}),
    **{t: frozenset({259, 798}) for t in ("B105", "B106", "B107")},
}

SOURCES = ("secpipe", "bandit", "incomplete")
"""Where findings come from (metrics ``findings_<source>``)."""


@dataclass(frozen=True)
class Options:
    """What to run on each file, and its bounds."""

    bandit: bool = True
    """Run bandit's tests."""
    skip: frozenset[str] = frozenset()
    """secpipe rule ids and bandit test ids (``B101``) not to run or report."""
    min_severity: Severity = Severity.INFO
    """Findings of rules below this are dropped (never findings about the analysis itself)."""
    max_file_bytes: int = 5 << 20
    """Largest source file analysed."""
    max_notebook_bytes: int = 64 << 20
    """Largest notebook read (outputs included)."""

    def to_json(self) -> dict[str, Any]:
        return {"bandit": self.bandit, "skip": sorted(self.skip),
                "min_severity": self.min_severity.value, "max_file_bytes": self.max_file_bytes,
                "max_notebook_bytes": self.max_notebook_bytes}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Options:
        return cls(bool(data["bandit"]), frozenset(data["skip"]),
                   Severity(data["min_severity"]), int(data["max_file_bytes"]),
                   int(data["max_notebook_bytes"]))

    def limit(self, kind: str) -> int:
        return self.max_notebook_bytes if kind == "ipynb" else self.max_file_bytes


@dataclass
class FileResult:
    """What analysing one file produced."""

    findings: list[Finding] = field(default_factory=list)
    """Its findings, meta findings included."""
    lines: int = 0
    """Lines of Python analysed (code cells' lines for a notebook)."""
    problem: str = ""
    """Why it was not (fully) analysed; empty when it was."""
    skipped: list[Skipped] = field(default_factory=list)
    """Parts deliberately not analysed (a notebook's ``%%bash`` cells, a non-Python kernel)."""
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SOURCES, 0))
    """Findings by source."""

    def add(self, finding: Finding, origin: str) -> None:
        self.findings.append(finding)
        self.counts[origin] += 1

    def fail(self, finding: Finding, problem: str) -> None:
        self.add(finding, "incomplete")
        if not self.problem:
            self.problem = problem

    def to_json(self) -> dict[str, Any]:
        return {"findings": [f.to_dict() for f in self.findings], "lines": self.lines,
                "problem": self.problem, "counts": self.counts,
                "skipped": [[s.path, s.reason] for s in self.skipped]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FileResult:
        return cls([Finding.from_dict(f) for f in data["findings"]], int(data["lines"]),
                   str(data["problem"]), [Skipped(str(p), str(r)) for p, r in data["skipped"]],
                   {k: int(v) for k, v in data["counts"].items()})


def load_rule_pack() -> ModuleType:
    """secpipe's ML/LLM rule pack (``RULES``, ``check_tree``)."""
    from secpipe.scanners.code import mlrules

    return mlrules


def read_bounded(path: str, limit: int) -> bytes:
    """The bytes of the regular file ``path``; ``OSError(EFBIG)`` when it holds more than
    ``limit`` bytes (never more than ``limit + 1`` are read). Links are not followed."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
                 | getattr(os, "O_NOFOLLOW", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if info.st_size > limit:
            raise OSError(errno.EFBIG, f"{info.st_size} bytes")
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        if left <= 0:
            raise OSError(errno.EFBIG, f"more than {limit} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def too_large(rel: str, size: int | str, limit: int, setting: str) -> FileResult:
    """The result of a file over its size bound (nothing of it is read)."""
    res = FileResult()
    text = f"too large ({size} bytes, limit {limit}; {setting})"
    res.fail(meta_finding("code.too-large", rel, f"not analysed: {text}"), text)
    return res


class Analyser:
    """Analyses files with the rule pack and bandit's tests; built once per process."""

    def __init__(self, options: Options, rules: ModuleType | None = None) -> None:
        self.options = options
        self.rules = rules if rules is not None else load_rule_pack()
        self.rule_table: Mapping[str, Any] = self.rules.RULES
        bandit_skip = frozenset(s.removeprefix(BANDIT_PREFIX) for s in options.skip
                                if s.removeprefix(BANDIT_PREFIX)[:1] == "B")
        self.bandit = BanditRunner(bandit_skip) if options.bandit else None

    def analyse(self, path: str, rel: str, kind: str) -> FileResult:
        """Analyse the file at ``path`` (``rel``: how findings name it; ``kind``: ``py`` or
        ``ipynb``)."""
        limit = self.options.limit(kind)
        setting = "max_notebook_bytes" if kind == "ipynb" else "max_file_bytes"
        try:
            data = read_bounded(path, limit)
        except OSError as exc:
            if exc.errno == errno.EFBIG:
                return too_large(rel, str(exc.strerror).split(" bytes")[0], limit, setting)
            res = FileResult()
            if exc.errno == errno.ENOENT:  # removed since it was listed: nothing left to check
                res.skipped.append(Skipped(rel, "removed during the scan"))
                return res
            reason = f"unreadable: {exc.strerror or exc}"
            res.fail(meta_finding("code.unreadable", rel, f"not analysed: {reason}"), reason)
            return res
        return self.analyse_bytes(data, path, rel, kind)

    def analyse_bytes(self, data: bytes, path: str, rel: str, kind: str) -> FileResult:
        """Analyse a file's bytes (``path`` is where it is on disk, for bandit's module name)."""
        res = FileResult()
        try:
            text = source.decode(data)
        except source.Undecodable as exc:
            res.fail(meta_finding("code.undecodable", rel, f"not analysed: {exc.reason}",
                                  line=exc.line), f"undecodable: {exc.reason}")
            return res
        if kind != "ipynb":
            self._unit(res, path, rel, None, text)
            return res
        try:
            notebook = source.read_notebook(text)
        except ValueError as exc:
            res.fail(meta_finding("code.not-a-notebook", rel, f"not analysed: {exc}"),
                     f"not a notebook: {exc}")
            return res
        if notebook.language not in ("python", "python3", "ipython", "python2"):
            res.skipped.append(Skipped(rel, f"notebook in {notebook.language} (not Python)"))
            return res
        for index, why in notebook.other_cells:
            res.skipped.append(Skipped(f"{rel}!cell[{index}]", why))
        for cell in notebook.cells:
            self._unit(res, path, rel, f"cell[{cell.index}]", cell.code)
        return res

    def _unit(self, res: FileResult, path: str, rel: str, member: str | None,
              code: str) -> None:
        """Parse one unit of code (a file, a cell) once and run every check on the tree."""
        lines = source.split_lines(code)
        res.lines += len(lines) - (lines[-1] == "")  # a final newline ends, not starts, a line
        try:
            tree = pyast.parse_module(code, filename=rel)
        except SyntaxError as exc:
            where = f" at line {exc.lineno}" if exc.lineno else ""
            why = f"syntax error{where}: {exc.msg}"
            res.fail(meta_finding("code.unparsed", rel, f"not analysed: {why}",
                                  line=exc.lineno, member=member), why)
            return
        except (ValueError, RecursionError, MemoryError) as exc:
            why = f"not parsed: {type(exc).__name__}: {str(exc)[:200]}"
            res.fail(meta_finding("code.unparsed", rel, why, member=member), why)
            return
        nosec = nosec_lines(code)
        ours = self._ours(res, tree, lines, rel, member, nosec)
        if self.bandit is not None:
            self._bandit(res, tree, code, lines, (path, rel, member), nosec, ours)

    def _ours(self, res: FileResult, tree: ast.Module, lines: Sequence[str], rel: str,
              member: str | None, nosec: dict[int, frozenset[str]]) -> list[tuple[int, int, int]]:
        """secpipe's rule pack on the tree; returns (first line, last line, CWE) per finding,
        and per call a rule examined and found safe."""
        cleared: list[tuple[int, int, int]] = []
        try:
            hits = self.rules.check_tree(tree, lines, cleared)
        except RecursionError:
            why = "nested too deeply for the ML/LLM rules"
            res.fail(meta_finding("code.budget-exceeded", rel, f"not fully analysed: {why}",
                                  member=member), why)
            return []
        except Exception as exc:  # a rule crashed on this input: reported, never a pass
            why = f"the ML/LLM rules failed: {type(exc).__name__}: {str(exc)[:200]}"
            res.fail(meta_finding("code.analysis-failed", rel, f"not fully analysed: {why}",
                                  member=member), why)
            return []
        spans: list[tuple[int, int, int]] = []
        seen: dict[tuple[str, str], int] = {}
        for hit in hits:
            rule = self.rule_table.get(hit.rule_id)
            if rule is None or hit.rule_id in self.options.skip:
                continue
            severity = hit.severity or rule.severity
            if severity.rank < self.options.min_severity.rank:
                continue
            end = hit.end_line or hit.line
            spans.append((hit.line, end, _cwe_number(rule.cwe)))
            text = lines[hit.line - 1].strip() if 0 < hit.line <= len(lines) else ""
            n = seen[(hit.rule_id, text)] = seen.get((hit.rule_id, text), 0) + 1
            finding = Finding.create(
                rule_id=hit.rule_id, title=rule.title, severity=severity, scanner=SCANNER,
                location=Location(rel, line=hit.line, column=hit.column,
                                  end_line=hit.end_line if hit.end_line != hit.line else None,
                                  member=member),
                message=hit.message, key=f"{text}\x1f{n}",
                confidence=hit.confidence or rule.confidence,
                tags=(rule.cwe, *rule.tags), remediation=rule.fix,
                properties={"source": "secpipe"})
            if is_suppressed(nosec, tuple(range(hit.line, end + 1)), (hit.rule_id,)):
                finding = mark_tool_suppressed(finding, "inSource")
            res.add(finding, "secpipe")
        return spans + cleared

    def _bandit(self, res: FileResult, tree: ast.Module, code: str, lines: Sequence[str],
                where: tuple[str, str, str | None], nosec: dict[int, frozenset[str]],
                ours: list[tuple[int, int, int]]) -> None:
        assert self.bandit is not None
        path, rel, member = where
        try:
            issues, errors = self.bandit.run(split_large_literals(tree), file_bytes(code),
                                             path)
        except RecursionError:
            why = "nested too deeply for bandit's tests"
            res.fail(meta_finding("code.budget-exceeded", rel, f"not fully analysed: {why}",
                                  member=member), why)
            return
        for error in errors:
            res.fail(meta_finding("code.test-error", rel, f"a bandit test failed: {error}",
                                  member=member, key=error), f"a bandit test failed: {error}")
        seen: dict[tuple[str, str], int] = {}
        for issue in issues:
            severity = _SEVERITY.get(issue.severity, Severity.INFO)
            if severity.rank < self.options.min_severity.rank or _same_concern(issue, ours):
                continue
            rule_id = BANDIT_PREFIX + issue.test_id
            if rule_id in self.options.skip or (issue.test_id == "B101"
                                                and is_test_file(rel)):
                continue
            title, _, fix = CATALOG.get(issue.test_id, (issue.test_name.replace("_", " "), 0,
                                                        ""))
            text = lines[issue.line - 1].strip() if 0 < issue.line <= len(lines) else ""
            n = seen[(rule_id, text)] = seen.get((rule_id, text), 0) + 1
            url = docs_url(issue.test_id, issue.test_name)
            tags = ((f"CWE-{issue.cwe}",) if issue.cwe else ()) + (f"bandit:{issue.test_id}",)
            finding = Finding.create(
                rule_id=rule_id, title=f"{title} (bandit {issue.test_id})", severity=severity,
                scanner=SCANNER, location=Location(rel, line=issue.line, column=issue.column,
                                                   member=member),
                message=issue.text, key=f"{text}\x1f{n}",
                confidence=_CONFIDENCE.get(issue.confidence, Confidence.LOW), tags=tags,
                remediation=f"{fix} ({url})" if fix else url,
                properties={"source": "bandit", "bandit_test": issue.test_name})
            if is_suppressed(nosec, (issue.line, *issue.lines),
                             (issue.test_id, issue.test_name, rule_id)):
                finding = mark_tool_suppressed(finding, "inSource")
            res.add(finding, "bandit")


_TEST_DIRS = frozenset({"tests", "test", "testing"})


def is_test_file(rel: str) -> bool:
    """Whether a file is a test module by the conventions of pytest and unittest (``test_*.py``,
    ``*_test.py``, ``conftest.py``, or any file under a ``tests``/``test``/``testing`` folder).
    An ``assert`` there is the test itself, so bandit's B101 is not reported on it."""
    parts = rel.replace("\\", "/").split("/")
    name = parts[-1]
    stem = name.rsplit(".", 1)[0]
    return (stem.startswith("test_") or stem.endswith("_test") or stem == "conftest"
            or any(part in _TEST_DIRS for part in parts[:-1]))


def _cwe_number(cwe: str) -> int:
    digits = cwe.upper().removeprefix("CWE-")
    return int(digits) if digits.isdigit() else 0


def _same_concern(issue: BanditIssue, ours: list[tuple[int, int, int]]) -> bool:
    """True when a secpipe finding on the issue's line reports the same concern."""
    if not ours:
        return False
    cwes = SAME_CONCERN.get(issue.test_id, frozenset({issue.cwe}))
    return any(first <= issue.line <= last and cwe in cwes for first, last, cwe in ours)
