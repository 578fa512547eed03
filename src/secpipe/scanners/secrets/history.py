"""Scan every commit of git history: the lines each commit added, on every ref.

It runs the ``git`` command (no shell, a fixed argument list, external diff drivers and text
conversion filters disabled) and streams ``git log --all -p -U0``: each run of added lines is
scanned as one text block, so a secret is reported at the commit that introduced it, with its line
in that commit's version of the file. Credential files known by name (:mod:`.credfiles`) are read
by their parsers here too, on the lines each commit added to them. The output read is bounded;
hitting the bound is reported.
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
from typing import Protocol

from secpipe.core.errors import InputError, StepError
from secpipe.scanners.secrets.credfiles import credential_file
from secpipe.scanners.secrets.engine import FileScan, Hit, scan_credential_file, scan_text

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
    cached_commits: int = 0
    """Commits whose result came from the cache."""


class HistoryCache(Protocol):
    """Where per-commit results are remembered (:class:`~.cache.ScanCache`)."""

    def history_known(self, commits: list[str]) -> dict[str, list[tuple[str, Hit]]]: ...

    def history_store(self, results: dict[str, list[tuple[str, Hit]]]) -> None: ...


def _git(root: Path, *args: str) -> list[str]:
    return ["git", "-C", str(root), "-c", "core.quotepath=false", "-c", "core.fsmonitor=false",
            *args]


def check_repository(root: Path) -> str:
    """Raise :class:`InputError` unless ``root`` is inside a readable git repository; return
    ``root``'s path inside the repository's work tree (``""`` at its top or in a bare one)."""
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
    prefix = subprocess.run(_git(root, "rev-parse", "--show-prefix"), capture_output=True,
                            env=env, timeout=60, check=False)
    return prefix.stdout.decode("utf-8", "replace").strip() if prefix.returncode == 0 else ""


class _Parser:
    def __init__(self, max_block: int, out: HistoryScan, prefix: str = "") -> None:
        self.max_block = max_block
        self.prefix = prefix
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
        text = raw.decode("utf-8", "replace")
        scan_text(text, None, scan, self.block_start - 1)
        fmt = credential_file(self.path)
        if fmt is not None:  # a credential file known by name: its parser reads the added lines
            scan_credential_file(fmt, text, None, scan, self.block_start - 1)
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
            self.path = None if name == "/dev/null" else (
                name.removeprefix("b/").strip('"').removeprefix(self.prefix))
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


def _rev_list(root: Path, env: dict[str, str], timeout: float | None) -> list[str]:
    try:
        proc = subprocess.run(_git(root, "rev-list", "--all"), capture_output=True, env=env,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise InputError(f"{root}: git rev-list did not finish in time") from None
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = lines[0] if lines else f"git exited with {proc.returncode}"
        raise InputError(f"{root}: broken git repository: {detail}")
    return proc.stdout.decode("ascii", "replace").split()


def scan_history(root: Path, *, max_bytes: int, max_block: int, cancel: threading.Event,
                 progress: Callable[[int], None], timeout: float | None = None,
                 cache: HistoryCache | None = None) -> HistoryScan:
    """Scan the added lines of every commit reachable from any ref of the repository at ``root``.

    Commits are immutable, so with a ``cache`` only commits never scanned before are read.
    """
    prefix = check_repository(root)
    env = {**os.environ, **_GIT_ENV}
    commits = _rev_list(root, env, timeout)
    # results depend on the subtree read, so the cache key is (subtree, commit)
    keyed = cache.history_known([f"{prefix}:{c}" for c in commits]) if cache is not None else {}
    known = {k.rsplit(":", 1)[1]: v for k, v in keyed.items()}
    todo = [c for c in commits if c not in known]
    out = HistoryScan()
    complete = True
    if todo:
        complete = _read_log(root, env, todo, out, max_bytes, max_block, cancel, progress,
                             timeout, prefix)
    fresh: dict[str, list[tuple[str, Hit]]] = {c: [] for c in todo}
    for commit, path, hit in out.hits:
        fresh.setdefault(commit, []).append((path, hit))
    if cache is not None and todo and complete:
        cache.history_store({f"{prefix}:{c}": hits for c, hits in fresh.items()})
    out.hits = [(c, p, h) for c in commits for p, h in known.get(c) or fresh.get(c, [])]
    out.commits = len(commits)
    out.cached_commits = len(known)
    return out


def _read_log(root: Path, env: dict[str, str], todo: list[str], out: HistoryScan,
              max_bytes: int, max_block: int, cancel: threading.Event,
              progress: Callable[[int], None], timeout: float | None, prefix: str) -> bool:
    """Stream ``git log -p`` of the ``todo`` commits into ``out``; False when a bound stopped it.

    Below the top of the work tree only ``root``'s subtree is read, with paths relative to it.
    """
    parser = _Parser(max_block, out, prefix)
    cmd = _git(root, "log", "--no-walk=unsorted", "--stdin", "-p", "-U0", "--no-color",
               "--no-ext-diff", "--no-textconv", "--no-renames", "--format=%x1e%H",
               *(["--", "."] if prefix else []))
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as revs:
        revs.write("\n".join(todo).encode("ascii") + b"\n")
        revs.seek(0)
        proc = subprocess.Popen(cmd, stdin=revs, stdout=subprocess.PIPE, stderr=err, env=env)
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
            return False
        if code != 0:
            err.seek(0)
            lines = err.read(4000).decode("utf-8", "replace").strip().splitlines()
            detail = lines[0] if lines else f"git exited with {code}"
            raise InputError(f"{root}: broken git repository: {detail}")
    return True
