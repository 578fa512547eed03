"""Scan every commit of git history: the lines each commit added, on every ref.

It runs the ``git`` command (no shell, a fixed argument list, external diff drivers and text
conversion filters disabled) and streams ``git log --all -p -U0``: each run of added lines is
scanned as one text block, so a secret is reported at the commit that introduced it, with its line
in that commit's version of the file. The output read is bounded; hitting the bound is reported.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from secpipe.core.errors import InputError, StepError
from secpipe.scanners.secrets.engine import FileScan, Hit, scan_text

_HUNK = re.compile(rb"^@@ -[0-9]+(?:,[0-9]+)? \+([0-9]+)")
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "LC_ALL": "C",
            "GIT_OPTIONAL_LOCKS": "0"}


@dataclass
class HistoryScan:
    """What history held."""

    hits: list[tuple[str, str, Hit]] = field(default_factory=list)
    """(commit, path, hit), newest commit first."""
    problems: list[str] = field(default_factory=list)
    """Bounds hit while reading history."""
    commits: int = 0
    """Commits read."""
    bytes_read: int = 0
    """Bytes of ``git log`` output read."""


def _git(root: Path, *args: str) -> list[str]:
    return ["git", "-C", str(root), "-c", "core.quotepath=false", "-c", "core.fsmonitor=false",
            *args]


def check_repository(root: Path) -> None:
    """Raise :class:`InputError` unless ``root`` is inside a readable git repository."""
    env = {**os.environ, **_GIT_ENV}
    try:
        proc = subprocess.run(_git(root, "rev-parse", "--git-dir"), capture_output=True,
                              env=env, timeout=60, check=False)
    except FileNotFoundError:
        raise InputError("git history scan needs the git command, which is not installed") from None
    except subprocess.TimeoutExpired:
        raise InputError(f"{root}: git did not answer within 60 s") from None
    if proc.returncode != 0:
        raise InputError(f"{root}: not a git repository")


class _Parser:
    def __init__(self, max_block: int, out: HistoryScan) -> None:
        self.max_block = max_block
        self.out = out
        self.commit = ""
        self.path: str | None = None
        self.header = True
        self.next_line = 0
        self.block: list[bytes] = []
        self.block_start = 0
        self.block_bytes = 0

    def flush(self) -> None:
        if not self.block or self.path is None:
            self.block = []
            return
        raw = b"\n".join(self.block)
        self.block, self.block_bytes = [], 0
        if b"\x00" in raw:
            return
        scan = FileScan()
        scan_text(raw.decode("utf-8", "replace"), None, scan, self.block_start - 1)
        self.out.hits.extend((self.commit, self.path, hit) for hit in scan.hits)

    def feed(self, line: bytes) -> None:
        if line.startswith(b"\x1e"):
            self.flush()
            self.commit = line[1:].strip().decode("ascii", "replace")
            self.out.commits += 1
            self.path, self.header = None, True
        elif line.startswith(b"diff --git "):
            self.flush()
            self.path, self.header = None, True
        elif self.header and line.startswith(b"+++ "):
            name = line[4:].decode("utf-8", "replace")
            self.path = None if name == "/dev/null" else name.removeprefix("b/").strip('"')
        elif line.startswith(b"@@"):
            self.flush()
            m = _HUNK.match(line)
            self.header = False
            self.next_line = int(m.group(1)) if m else 1
        elif not self.header and line.startswith(b"+"):
            if not self.block:
                self.block_start = self.next_line
            self.block.append(line[1:])
            self.block_bytes += len(line)
            self.next_line += 1
            if self.block_bytes > self.max_block:
                self.out.problems.append(
                    f"{self.commit[:12]}:{self.path}: added text longer than {self.max_block} "
                    "bytes scanned in parts")
                self.flush()
        elif not self.header and line.startswith(b"-"):
            self.flush()


def scan_history(root: Path, *, max_bytes: int, max_block: int, cancel: threading.Event,
                 progress: Callable[[int], None], timeout: float | None = None) -> HistoryScan:
    """Scan the added lines of every commit reachable from any ref of the repository at ``root``."""
    check_repository(root)
    out = HistoryScan()
    parser = _Parser(max_block, out)
    cmd = _git(root, "log", "--all", "-p", "-U0", "--no-color", "--no-ext-diff", "--no-textconv",
               "--no-renames", "--format=%x1e%H", "--")
    env = {**os.environ, **_GIT_ENV}
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env)
        assert proc.stdout is not None
        stopped = ""
        try:
            for n, line in enumerate(proc.stdout):
                out.bytes_read += len(line)
                if out.bytes_read > max_bytes:
                    stopped = (f"git history larger than {max_bytes} bytes: "
                               "older commits not scanned")
                    break
                parser.feed(line.rstrip(b"\n"))
                if n % 2000 == 0:
                    if cancel.is_set():
                        stopped = "cancelled"
                        break
                    progress(out.commits)
            parser.flush()
        finally:
            if stopped:
                proc.kill()
            proc.stdout.close()
            code = proc.wait(timeout=timeout)
        if stopped == "cancelled":
            raise StepError("scan-secrets: cancelled while reading git history")
        if stopped:
            out.problems.append(stopped)
        elif code != 0:
            err.seek(0)
            lines = err.read(4000).decode("utf-8", "replace").strip().splitlines()
            detail = lines[0] if lines else f"git exited with {code}"
            raise InputError(f"{root}: broken git repository: {detail}")
    return out
