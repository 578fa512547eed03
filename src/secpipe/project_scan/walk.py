"""The bounded walk of ``secpipe init``: regular files only, links never followed, folders that
hold no project files skipped (the scanners' default excludes), a cap on files and bytes."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from secpipe.scanners.walk import DEFAULT_EXCLUDES, Excluder

MAX_FILES = 20_000
"""Files listed at most; the rest of the project is not looked at (the scan says so)."""
MAX_BYTES = 32 << 20
"""Bytes read at most over all files (each file is read only up to its head)."""
MAX_DEPTH = 12
"""Folder depth below the project root looked into."""


@dataclass(frozen=True)
class Entry:
    """A regular file of the project."""

    path: Path
    rel: str
    """Relative to the project root, POSIX separators."""
    size: int


@dataclass
class Budget:
    """What is left to read; records which bound was hit."""

    bytes_left: int = field(default_factory=lambda: MAX_BYTES)
    hit: list[str] = field(default_factory=list)

    def note(self, what: str) -> None:
        if what not in self.hit:
            self.hit.append(what)


def walk(root: Path, budget: Budget) -> list[Entry]:
    """The project's regular files, sorted by path, at most :data:`MAX_FILES`."""
    excluder = Excluder(DEFAULT_EXCLUDES)
    found: list[Entry] = []
    stack: list[tuple[str, str, int]] = [(str(root), "", 0)]
    while stack:
        folder, prefix, depth = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue  # an unreadable folder: init proposes from what it can read
        subdirs: list[tuple[str, str, int]] = []
        for entry in entries:
            rel = prefix + entry.name
            try:
                if entry.is_symlink():
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if depth >= MAX_DEPTH:
                        budget.note(f"folders deeper than {MAX_DEPTH} levels")
                    elif not excluder.dir_excluded(rel, entry.name):
                        subdirs.append((entry.path, rel + "/", depth + 1))
                elif entry.is_file(follow_symlinks=False):
                    if len(found) >= MAX_FILES:
                        budget.note(f"more than {MAX_FILES} files")
                        return sorted(found, key=lambda e: e.rel)
                    size = entry.stat(follow_symlinks=False).st_size
                    found.append(Entry(Path(entry.path), rel, size))
            except OSError:
                continue
        stack.extend(reversed(subdirs))
    return sorted(found, key=lambda e: e.rel)


def read_head(entry: Entry, limit: int, budget: Budget) -> bytes:
    """At most ``limit`` bytes from the start of ``entry`` (less when the budget runs low); a
    file that changed into something else than a regular file, or cannot be read, gives ``b""``."""
    want = min(limit, budget.bytes_left)
    if want <= 0:
        budget.note(f"more than {MAX_BYTES:,} bytes read")
        return b""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(entry.path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return b""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        chunks: list[bytes] = []
        left = want
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
    except OSError:
        return b""
    finally:
        os.close(fd)
    budget.bytes_left -= len(data)
    return data
