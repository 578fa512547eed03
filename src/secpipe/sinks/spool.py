"""The sink spool: events a sink could not deliver, kept on disk for ``secpipe notify replay``.

Layout: ``<state_dir>/spool/<sink-name>/`` (``.secpipe/spool/alerts/``), one folder per sink,
holding files named ``<20-digit start time ns>-<pid>-<8-digit sequence>.jsonl``. Each line is one
entry, ``{"format": 1, "spooled_at": …, "reason": "…", "event": {event.to_dict()}}``; sorting the
names sorts the entries in the order the bus spooled them.

Guarantees:

* **Redacted before written**: every string of the entry (keys and values, at every depth) goes
  through the sink's redaction, and the finished line through it once more, before a byte reaches
  the disk.
* **Complete or absent**: a file is written under a temporary name and renamed into place, so a
  reader never sees half a file; files are ``0600``, folders ``0700``.
* **Bounded**: at most :data:`MAX_SPOOL_BYTES` and :data:`MAX_SPOOL_FILES` per sink, an entry at
  most :data:`MAX_ENTRY_BYTES`; what does not fit is dropped and counted, never silently.
* **Replay deletes only what it delivered**: it reads only files whose names it would write,
  delivers entries in order, stops at the first failure, removes a file once every entry of it is
  delivered and rewrites a partly delivered file with exactly the entries left (a line it cannot
  read is kept as it is). Any other file in the folder is never touched. One replay per sink at a
  time (an advisory lock on ``.lock`` in the folder).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets as _random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from secpipe.core.errors import InputError
from secpipe.core.event_codec import EventDecodeError, event_from_dict
from secpipe.core.events import Event

FORMAT = 1
"""The entry format this module writes and reads."""
MAX_SPOOL_BYTES = 16 * 1024 * 1024
"""Bytes one sink's spool may hold."""
MAX_SPOOL_FILES = 10_000
"""Files one sink's spool may hold."""
MAX_ENTRY_BYTES = 1024 * 1024
"""Bytes one spooled event may take (a larger one is dropped, with a failure line)."""
MAX_REASON = 300
"""Characters of the reason kept with an entry."""
_NAME = re.compile(r"^(\d{20})-(\d{1,10})-(\d{8})\.jsonl$")
_SINK_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_DEPTH = 32


def is_spool_file(name: str) -> bool:
    """True for a file name the spool writes (and so may read and delete)."""
    return bool(_NAME.match(name))


def _redact_tree(value: Any, redact: Callable[[str], str], depth: int = 0) -> Any:
    if depth > _DEPTH:
        raise ValueError("event nested too deeply")
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact(str(k)): _redact_tree(v, redact, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_tree(v, redact, depth + 1) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


def encode_entry(event: Event, reason: str, redact: Callable[[str], str],
                 spooled_at: float | None = None) -> str:
    """One spool line (no newline) for ``event``: every string redacted, then the line again."""
    entry = {"format": FORMAT, "spooled_at": time.time() if spooled_at is None else spooled_at,
             "reason": reason[:MAX_REASON], "event": event.to_dict()}
    text = json.dumps(_redact_tree(entry, redact), ensure_ascii=True, separators=(",", ":"),
                      allow_nan=False)
    return redact(text)


def decode_entry(line: str) -> Event:
    """The event of one spool line; :class:`EventDecodeError` when it is not a valid entry."""
    try:
        entry = json.loads(line)
    except ValueError:
        raise EventDecodeError("not JSON") from None
    if not isinstance(entry, dict) or entry.get("format") != FORMAT:
        raise EventDecodeError("not a spool entry of a known format")
    event = entry.get("event")
    if not isinstance(event, dict):
        raise EventDecodeError("a spool entry without an event")
    return event_from_dict(event)


@dataclass
class SpoolWrite:
    """What one :meth:`Spool.write` did."""

    written: int = 0
    dropped: int = 0
    problem: str = ""
    """Why events were dropped (one line), empty when none was."""


@dataclass
class ReplayResult:
    """What one :meth:`Spool.replay` did."""

    delivered: int = 0
    left: int = 0
    """Entries still in the spool (undelivered, unreadable, or not tried after a failure)."""
    unreadable: int = 0
    """Lines kept because they are not a valid entry."""
    error: str = ""
    """The failure that stopped the replay (one line), empty when none did."""
    files_removed: int = 0


@dataclass
class _Lines:
    path: Path
    lines: list[str] = field(default_factory=list)


class SpoolBusy(InputError):
    """Another replay of the same sink is running."""


class Spool:
    """One sink's spool folder. Thread-safe; several processes may write one folder at once
    (each writes only its own uniquely named files)."""

    def __init__(self, root: Path, sink_name: str, *, max_bytes: int = MAX_SPOOL_BYTES,
                 max_files: int = MAX_SPOOL_FILES, max_entry: int = MAX_ENTRY_BYTES) -> None:
        if not _SINK_NAME.match(sink_name):
            raise ValueError(f"{sink_name!r} is not a sink name")
        self.root = root
        self.sink_name = sink_name
        self.path = root / sink_name
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.max_entry = max_entry
        self._lock = threading.Lock()
        self._start = f"{time.time_ns():020d}-{os.getpid()}"
        self._seq = 0
        self._used: tuple[int, int] | None = None

    # ------------------------------------------------------------------ writing
    def reserve(self) -> int:
        """A sequence number for a later :meth:`write`: reserving in event order keeps the files
        in that order however late each is written."""
        with self._lock:
            self._seq += 1
            return self._seq

    def write(self, events: Sequence[Event], reason: str, redact: Callable[[str], str],
              seq: int | None = None) -> SpoolWrite:
        """Append ``events`` (in order) as one new file; never raises."""
        result = SpoolWrite()
        if not events:
            return result
        if seq is None:
            seq = self.reserve()
        lines: list[str] = []
        for event in events:
            try:
                line = encode_entry(event, reason, redact)
            except Exception as exc:  # an unserialisable plugin value: counted, not fatal
                result.dropped += 1
                result.problem = f"could not serialise {event.type}: {type(exc).__name__}"
                continue
            if len(line) + 1 > self.max_entry:
                result.dropped += 1
                result.problem = f"{event.type} is larger than {self.max_entry} bytes"
                continue
            lines.append(line)
        data = "".join(line + "\n" for line in lines).encode("ascii")
        if not lines:
            return result
        try:
            with self._lock:
                self._ensure_dir()
                used_bytes, used_files = self._usage()
                if used_files + 1 > self.max_files:
                    raise _Full(f"spool full ({self.max_files} files)")
                if used_bytes + len(data) > self.max_bytes:
                    # keep the oldest events that fit: drop from the end
                    room = self.max_bytes - used_bytes
                    kept: list[str] = []
                    size = 0
                    for line in lines:
                        if size + len(line) + 1 > room:
                            break
                        kept.append(line)
                        size += len(line) + 1
                    result.dropped += len(lines) - len(kept)
                    result.problem = f"spool full ({self.max_bytes} bytes)"
                    lines = kept
                    if not lines:
                        return result
                    data = "".join(line + "\n" for line in lines).encode("ascii")
                name = f"{self._start}-{seq:08d}.jsonl"
                _write_atomic(self.path, name, data)
                self._used = (used_bytes + len(data), used_files + 1)
            result.written = len(lines)
        except _Full as exc:
            result.dropped += len(lines)
            result.problem = str(exc)
        except OSError as exc:
            result.dropped += len(lines)
            result.problem = f"could not write the spool: {exc.strerror or type(exc).__name__}"
        return result

    def _ensure_dir(self) -> None:
        if self.path.is_symlink() or self.root.is_symlink():
            raise OSError(0, "the spool folder is a symbolic link")
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _usage(self) -> tuple[int, int]:
        if self._used is None:
            total = files = 0
            for path in self.files():
                with contextlib.suppress(OSError):
                    total += path.stat().st_size
                    files += 1
            self._used = (total, files)
        return self._used

    # ------------------------------------------------------------------ reading
    def files(self) -> list[Path]:
        """The spool's files, oldest first (only names the spool writes)."""
        try:
            names = [e.name for e in os.scandir(self.path)
                     if is_spool_file(e.name) and e.is_file(follow_symlinks=False)]
        except OSError:
            return []
        return [self.path / n for n in sorted(names, key=_order)]

    def count(self) -> int:
        """How many entries (lines) the spool holds."""
        total = 0
        for path in self.files():
            with contextlib.suppress(OSError), path.open("rb") as fh:
                total += sum(1 for line in fh if line.strip())
        return total

    def events(self) -> Iterator[Event]:
        """The spooled events in order (unreadable lines skipped)."""
        for chunk in self._read_all():
            for line in chunk.lines:
                with contextlib.suppress(EventDecodeError):
                    yield decode_entry(line)

    def _read_all(self) -> Iterator[_Lines]:
        for path in self.files():
            try:
                if path.stat().st_size > self.max_bytes:
                    continue  # not one the spool wrote: left alone
                text = path.read_bytes().decode("utf-8", errors="surrogateescape")
            except OSError:
                continue
            yield _Lines(path, [line for line in text.splitlines() if line.strip()])

    # ------------------------------------------------------------------ replay
    def replay(self, deliver: Callable[[Event], str | None]) -> ReplayResult:
        """Deliver the spooled events in order with ``deliver`` (returns None when delivered,
        else a one-line reason); stop at the first failure. Removes what was delivered only."""
        result = ReplayResult()
        with self._replay_lock():
            stopped = False
            for chunk in self._read_all():
                delivered: set[int] = set()
                try:
                    for index, line in enumerate(chunk.lines):
                        if stopped:
                            break
                        try:
                            event = decode_entry(line)
                        except EventDecodeError:
                            result.unreadable += 1
                            continue
                        problem = deliver(event)
                        if problem is None:
                            delivered.add(index)
                        else:
                            result.error = problem
                            stopped = True
                finally:
                    # the file always reflects what was delivered, even after Ctrl-C
                    result.delivered += len(delivered)
                    result.left += len(chunk.lines) - len(delivered)
                    if delivered and len(delivered) == len(chunk.lines):
                        chunk.path.unlink(missing_ok=True)
                        result.files_removed += 1
                    elif delivered:
                        _rewrite(chunk.path, [line for i, line in enumerate(chunk.lines)
                                              if i not in delivered])
            with self._lock:
                self._used = None
        return result

    @contextlib.contextmanager
    def _replay_lock(self) -> Iterator[None]:
        if not self.path.is_dir():
            yield
            return
        import fcntl

        fd = os.open(self.path / ".lock", os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise SpoolBusy(f"sink {self.sink_name}: another replay is running") from None
            yield
        finally:
            os.close(fd)


class _Full(Exception):
    pass


def _order(name: str) -> tuple[int, int, int]:
    match = _NAME.match(name)
    assert match is not None
    return int(match[1]), int(match[2]), int(match[3])


def _write_atomic(folder: Path, name: str, data: bytes) -> None:
    tmp = folder / f".tmp-{os.getpid()}-{_random.token_hex(6)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, folder / name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _rewrite(path: Path, lines: list[str]) -> None:
    data = "".join(line + "\n" for line in lines).encode("utf-8", errors="surrogateescape")
    _write_atomic(path.parent, path.name, data)


def spooled_sinks(root: Path) -> dict[str, int]:
    """Sink name -> entries spooled, for every sink folder under ``root`` that holds any."""
    out: dict[str, int] = {}
    try:
        names = sorted(e.name for e in os.scandir(root)
                       if e.is_dir(follow_symlinks=False) and _SINK_NAME.match(e.name))
    except OSError:
        return out
    for name in names:
        count = Spool(root, name).count()
        if count:
            out[name] = count
    return out
