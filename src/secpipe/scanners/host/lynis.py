"""Lynis: one ``lynis audit system`` run, and its report file read into findings.

``lynis audit system --quick --no-colors --report-file F --log-file L`` (``--tests`` to run a
few tests only) goes through :mod:`secpipe.tools`. The report is ``key=value`` lines; secpipe
reads ``warning[]=TEST|text|details|solution|`` (``host.lynis.TEST``, MEDIUM),
``suggestion[]=…`` (LOW, when asked for) and ``hardening_index``. The file is read within a size
bound; lines are cut at a length bound; a report without ``hardening_index`` (Lynis stopped
early) is an error, never a clean result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from secpipe.core.errors import InputError
from secpipe.tools.parsers.common import read_bounded

MAX_REPORT_BYTES = 8 << 20
MAX_LINE = 2000
MAX_ITEMS = 5000
_TEST_ID = re.compile(r"^[A-Z][A-Z0-9]{1,12}-[0-9A-Z]{2,8}$|^LYNIS$")


@dataclass(frozen=True)
class LynisItem:
    """One warning or suggestion."""

    test: str
    text: str
    details: str
    solution: str


@dataclass(frozen=True)
class LynisReport:
    """What a Lynis report file said."""

    version: str
    hardening_index: int
    warnings: tuple[LynisItem, ...]
    suggestions: tuple[LynisItem, ...]
    tests_executed: int


def lynis_argv(program: str, report: Path, log: Path, tests: list[str]) -> tuple[str, ...]:
    """The argv of a quick, colourless system audit writing ``report`` and ``log``."""
    argv = [program, "audit", "system", "--quick", "--no-colors", "--report-file", str(report),
            "--log-file", str(log)]
    if tests:
        argv += ["--tests", " ".join(tests)]
    return tuple(argv)


def _item(value: str) -> LynisItem | None:
    parts = [p.strip() for p in value.split("|")]
    if not parts or not _TEST_ID.match(parts[0]):
        return None
    parts += [""] * 4
    clean = ["" if p == "-" else p[:500] for p in parts[:4]]
    return LynisItem(*clean)


def parse_report(raw: bytes) -> LynisReport:
    """The report in ``raw``; :class:`InputError` when it is not a complete Lynis report."""
    text = raw.decode("utf-8", "replace")
    warnings: list[LynisItem] = []
    suggestions: list[LynisItem] = []
    index: int | None = None
    version, executed = "", 0
    for line in text.splitlines():
        line = line[:MAX_LINE]
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key in ("warning[]", "suggestion[]"):
            item = _item(value)
            if item is None:
                continue
            bucket = warnings if key == "warning[]" else suggestions
            if len(bucket) >= MAX_ITEMS:
                raise InputError(f"Lynis report has over {MAX_ITEMS} {key[:-2]}s")
            bucket.append(item)
        elif key == "hardening_index":
            if not value.strip().isdigit() or int(value) > 100:
                raise InputError(f"Lynis report: hardening_index {value[:20]!r} is not 0-100")
            index = int(value)
        elif key == "lynis_version":
            version = value.strip()[:40]
        elif key == "tests_executed":
            executed = len([t for t in value.split("|") if t.strip()])
    if index is None:
        raise InputError("Lynis report has no hardening_index (the audit did not complete)")
    return LynisReport(version, index, tuple(warnings), tuple(suggestions), executed)


def read_report(path: Path, max_bytes: int = MAX_REPORT_BYTES) -> LynisReport:
    """:func:`parse_report` of a file read within ``max_bytes``."""
    return parse_report(read_bounded(path, max_bytes, "Lynis report"))
