"""Line-oriented tool output: bounded splitting, bounded reading, compiler-style locations.

:class:`LineSplitter` cuts a byte stream into lines no longer than a bound (the rest of an
over-long line is counted, never kept). :func:`read_lines` reads a whole output file within a size
and line-count bound (over either is an :class:`InputError`, never a silent cut).
:func:`location_lines` recognises the ``path:line[:column]: [severity:] [RULE] message`` lines
that compilers and many linters print (ruff's concise format, shellcheck's ``gcc`` format,
``grep -n``) into :class:`LineHit` values; other lines are counted, not guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from secpipe.core.errors import InputError
from secpipe.tools.parsers.common import read_bounded

MAX_LINE_BYTES = 64 << 10
"""Default bound on one line."""
MAX_LINES = 100_000
"""Default bound on the lines of one output file."""


class LineSplitter:
    """Cuts bytes into lines (without their ending), each at most ``max_line`` bytes."""

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self.max_line = max_line
        self.pending = bytearray()
        self.dropped = 0
        """Bytes of over-long lines that were not kept."""
        self._discarding = False

    def _line(self, raw: bytes) -> str:
        return raw.decode("utf-8", "replace").rstrip("\r")

    def feed(self, data: bytes) -> list[str]:
        """The lines completed by ``data``."""
        out: list[str] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            out.extend(self._take(data[start:end], complete=True))
            start = end + 1
        out.extend(self._take(data[start:], complete=False))
        return out

    def _take(self, chunk: bytes, *, complete: bool) -> list[str]:
        if self._discarding:
            self.dropped += len(chunk)
            if complete:
                self._discarding = False
            return []
        self.pending += chunk
        if len(self.pending) > self.max_line:
            self.dropped += len(self.pending) - self.max_line
            line = self._line(bytes(self.pending[: self.max_line]))
            self.pending.clear()
            self._discarding = not complete
            return [line]
        if complete:
            line = self._line(bytes(self.pending))
            self.pending.clear()
            return [line]
        return []

    def finish(self) -> list[str]:
        """The last line when the stream did not end with a line break."""
        if not self.pending:
            return []
        line = self._line(bytes(self.pending))
        self.pending.clear()
        return [line]


def read_lines(path: Path, *, max_bytes: int, max_lines: int = MAX_LINES,
               max_line: int = MAX_LINE_BYTES, what: str = "output") -> tuple[str, ...]:
    """The lines of a file; over ``max_bytes`` or ``max_lines`` is an :class:`InputError`; an
    over-long line is cut to ``max_line`` bytes."""
    splitter = LineSplitter(max_line)
    lines = [*splitter.feed(read_bounded(path, max_bytes, what)), *splitter.finish()]
    if len(lines) > max_lines:
        raise InputError(f"{what} {path} has {len(lines)} lines (limit {max_lines})")
    return tuple(lines)


@dataclass(frozen=True)
class LineHit:
    """One ``path:line[:column]: …`` line of a tool's output."""

    path: str
    """The path as the tool printed it."""
    line: int
    """1-based line."""
    column: int | None
    """1-based column, when printed."""
    severity: str
    """The severity word the tool printed (``error``, ``warning`` …), lower case, or ''."""
    rule: str
    """A rule code (``F401``, ``SC2086``), or ''."""
    message: str
    """The rest of the line."""


_HIT = re.compile(
    r"^(?P<path>[^:\s][^:]{0,999}):(?P<line>\d{1,9})(?::(?P<col>\d{1,9}))?:?\s+"
    r"(?:(?P<sev>error|warning|note|info|critical|high|medium|low|style)\s*:\s*)?"
    r"(?:(?P<rule>[A-Z]{1,10}[0-9]{1,6})\b:?\s*)?(?P<msg>.*?)"
    r"(?:\s+\[(?P<tail>[A-Za-z]{1,10}[0-9]{1,6})\])?\s*$", re.IGNORECASE)


def location_lines(lines: Iterable[str]) -> tuple[tuple[LineHit, ...], int]:
    """(recognised lines, count of other non-empty lines)."""
    hits: list[LineHit] = []
    other = 0
    for text in lines:
        match = _HIT.match(text)
        if match is None or not match.group("msg"):
            other += bool(text.strip())
            continue
        col = match.group("col")
        hits.append(LineHit(
            path=match.group("path"), line=int(match.group("line")),
            column=int(col) if col else None, severity=(match.group("sev") or "").lower(),
            rule=match.group("rule") or match.group("tail") or "", message=match.group("msg")))
    return tuple(hits), other
