"""Bounded capture of a tool's output streams.

A tool may write gigabytes; secpipe keeps a bounded part, says how much it left out, and passes
everything it keeps for logs through redaction. Three ways to keep a stream:

- :class:`KeepTail` — a log: the last ``limit`` bytes, redacted, written when the tool ends, with
  a first line saying how many bytes were left out;
- :class:`KeepHead` — an output to parse (SARIF on standard output): the first ``limit`` bytes,
  raw, written as they come; the caller refuses it when ``dropped`` is not 0;
- :class:`EachLine` — a progress channel: every line (bounded) redacted and handed to a
  callback (``train``'s JSON-lines progress), the last lines kept for the message.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from secpipe.tools.parsers.lines import LineSplitter

DEFAULT_TAIL_BYTES = 1 << 20
"""Default bytes kept of a log stream (its end)."""
SUMMARY_LINES = 5
"""Last non-empty lines kept for a message (each at most :data:`SUMMARY_CHARS`)."""
SUMMARY_CHARS = 500
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

Redact = Callable[[str], str]


@dataclass(frozen=True)
class StreamInfo:
    """What became of one output stream."""

    path: Path | None
    """The file holding what was kept (None for :class:`EachLine`)."""
    size: int
    """Bytes the tool wrote to the stream."""
    dropped: int
    """Bytes not kept (the start of a log, the end of an output, the end of over-long lines)."""
    last_lines: tuple[str, ...] = ()
    """Its last non-empty lines, de-coloured, one-line-safe, bounded and redacted."""

    @property
    def summary(self) -> str:
        """The last lines joined by `` | `` (for a one-line message)."""
        return " | ".join(self.last_lines)


@dataclass(frozen=True)
class KeepTail:
    """Keep the end of the stream as a redacted log file."""

    path: Path
    """Where the log is written when the tool ends."""
    limit: int = DEFAULT_TAIL_BYTES
    """Bytes kept (the last ones)."""


@dataclass(frozen=True)
class KeepHead:
    """Keep the start of the stream, raw, as a file to parse."""

    path: Path
    """Where the stream is written as it comes."""
    limit: int
    """Bytes kept (the first ones); the rest is counted in ``dropped``."""


@dataclass(frozen=True)
class EachLine:
    """Hand every line, redacted, to a callback."""

    callback: Callable[[str], None]
    """Called in the supervising thread with each line (no line ending)."""
    max_line: int = 64 << 10
    """Bytes kept of one line; the rest of an over-long line is dropped."""


Capture = KeepTail | KeepHead | EachLine


def one_line(text: str, limit: int = SUMMARY_CHARS) -> str:
    """De-coloured, control characters removed, bounded."""
    text = _CONTROL.sub(" ", _ANSI.sub("", text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _last_lines(text: str, redact: Redact) -> tuple[str, ...]:
    lines = [one_line(line) for line in text.splitlines()]
    return tuple(redact(line) for line in [ln for ln in lines if ln][-SUMMARY_LINES:])


class Sink(Protocol):
    """Receives a stream's bytes as they arrive and finishes with a :class:`StreamInfo`."""

    def feed(self, data: bytes) -> None: ...

    def close(self) -> StreamInfo: ...


class _Tail:
    def __init__(self, spec: KeepTail, redact: Redact) -> None:
        self.spec, self.redact = spec, redact
        self.buffer = bytearray()
        self.size = self.dropped = 0

    def feed(self, data: bytes) -> None:
        self.size += len(data)
        self.buffer += data
        excess = len(self.buffer) - self.spec.limit
        if excess > 0:
            del self.buffer[:excess]
            self.dropped += excess

    def close(self) -> StreamInfo:
        text = self.buffer.decode("utf-8", "replace")
        if self.dropped and "\n" in text:  # start at a whole line
            cut = text.index("\n") + 1
            self.dropped += len(text[:cut].encode("utf-8", "replace"))
            text = text[cut:]
        header = f"[secpipe: first {self.dropped} bytes left out]\n" if self.dropped else ""
        self.spec.path.parent.mkdir(parents=True, exist_ok=True)
        self.spec.path.write_text(header + self.redact(text), encoding="utf-8")
        return StreamInfo(self.spec.path, self.size, self.dropped, _last_lines(text, self.redact))


class _Head:
    def __init__(self, spec: KeepHead, redact: Redact) -> None:
        self.spec, self.redact = spec, redact
        spec.path.parent.mkdir(parents=True, exist_ok=True)
        self.file: IO[bytes] = spec.path.open("wb")
        self.size = self.dropped = 0
        self.last = bytearray()

    def feed(self, data: bytes) -> None:
        room = max(0, self.spec.limit - self.size)
        self.size += len(data)
        if room:
            self.file.write(data[:room])
        self.dropped += max(0, len(data) - room)
        self.last = (self.last + data)[-4096:]

    def close(self) -> StreamInfo:
        self.file.close()
        text = self.last.decode("utf-8", "replace")
        return StreamInfo(self.spec.path, self.size, self.dropped, _last_lines(text, self.redact))


class _Lines:
    def __init__(self, spec: EachLine, redact: Redact) -> None:
        self.spec, self.redact = spec, redact
        self.splitter = LineSplitter(spec.max_line)
        self.size = 0
        self.last: deque[str] = deque(maxlen=SUMMARY_LINES)

    def _emit(self, lines: list[str]) -> None:
        for line in lines:
            safe = self.redact(line)
            if line.strip():
                self.last.append(one_line(safe))
            self.spec.callback(safe)

    def feed(self, data: bytes) -> None:
        self.size += len(data)
        self._emit(self.splitter.feed(data))

    def close(self) -> StreamInfo:
        self._emit(self.splitter.finish())
        return StreamInfo(None, self.size, self.splitter.dropped, tuple(self.last))


def open_sink(capture: Capture, redact: Redact) -> Sink:
    """The sink for a capture choice."""
    if isinstance(capture, KeepTail):
        return _Tail(capture, redact)
    if isinstance(capture, KeepHead):
        return _Head(capture, redact)
    return _Lines(capture, redact)
