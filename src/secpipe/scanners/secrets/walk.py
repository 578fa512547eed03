"""Find the files to scan under the requested paths, honouring exclude globs.

Symbolic links are never followed (a link could lead out of the project) and special files are
never opened; both are listed as skipped. A path named explicitly is scanned even when an exclude
glob matches it (so a pre-commit hook that passes ``.env`` still gets it scanned).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from secpipe.core.errors import InputError
from secpipe.core.results import Skipped

#: Folders skipped by default: version control internals, secpipe state, environments, caches.
DEFAULT_EXCLUDES = [
    ".git/", ".hg/", ".svn/", ".secpipe/", ".venv/", "node_modules/", "__pycache__/",
    ".mypy_cache/", ".ruff_cache/", ".pytest_cache/", ".hypothesis/", ".tox/", ".nox/",
]  # fmt: skip


@dataclass(frozen=True)
class FileEntry:
    """A regular file to scan."""

    path: str
    """Absolute path."""
    rel: str
    """Path relative to the project root, POSIX separators."""
    size: int
    mtime_ns: int
    ino: int
    explicit: bool = False
    """Named on its own in ``paths`` (then a file it cannot read makes the step an error)."""


class Excluder:
    """Matches relative paths against exclude globs (``name/`` globs match folders at any depth)."""

    def __init__(self, patterns: list[str]) -> None:
        self.dirs = [p.rstrip("/") for p in patterns if p.endswith("/")]
        self.files = [p for p in patterns if not p.endswith("/")]

    def dir_excluded(self, rel: str, name: str) -> bool:
        return any(fnmatchcase(name, p) or fnmatchcase(rel, p) for p in self.dirs) or any(
            fnmatchcase(rel, p) or fnmatchcase(rel + "/", p) for p in self.files)

    def file_excluded(self, rel: str, name: str) -> bool:
        return any(fnmatchcase(rel, p) or fnmatchcase(name, p) for p in self.files)

    def path_excluded(self, rel: str) -> bool:
        """A file path is excluded, or so is one of its folders (used for history paths)."""
        parts = rel.split("/")
        for i in range(1, len(parts)):
            if self.dir_excluded("/".join(parts[:i]), parts[i - 1]):
                return True
        return self.file_excluded(rel, parts[-1])


def _entry(path: str, rel: str, st: os.stat_result, explicit: bool = False) -> FileEntry:
    return FileEntry(path, rel, st.st_size, st.st_mtime_ns, st.st_ino, explicit)


def collect(root: Path, paths: list[str], excludes: list[str],
            skipped: list[Skipped]) -> list[FileEntry]:
    """The files under ``paths`` (relative to ``root``); unreadable folders go to ``skipped``."""
    excluder = Excluder(excludes)
    files: list[FileEntry] = []
    seen: set[str] = set()
    for given in paths:
        target = (root / given) if not os.path.isabs(given) else Path(given)
        try:
            st = target.lstat()
        except OSError:
            raise InputError(f"{given}: no such file or folder") from None
        rel = _rel(root, target)
        if stat.S_ISLNK(st.st_mode):
            skipped.append(Skipped(rel, "symbolic link (not followed)"))
        elif stat.S_ISREG(st.st_mode):
            if rel not in seen:
                seen.add(rel)
                files.append(_entry(str(target), rel, st, explicit=True))
        elif stat.S_ISDIR(st.st_mode):
            _walk(target, root, excluder, files, skipped, seen)
        else:
            skipped.append(Skipped(rel, "not a regular file"))
    return files


def _rel(root: Path, target: Path) -> str:
    try:
        rel = os.path.relpath(target, root)
    except ValueError:
        return target.as_posix()
    return "." if rel == "." else Path(rel).as_posix()


def _walk(top: Path, root: Path, excluder: Excluder, files: list[FileEntry],
          skipped: list[Skipped], seen: set[str]) -> None:
    top_rel = _rel(root, top)
    stack = [(str(top), "" if top_rel == "." else top_rel + "/")]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            skipped.append(Skipped(prefix.rstrip("/") or ".", f"unreadable: {exc.strerror}"))
            continue
        subdirs: list[tuple[str, str]] = []
        for entry in entries:
            rel = prefix + entry.name
            try:
                if entry.is_symlink():
                    skipped.append(Skipped(rel, "symbolic link (not followed)"))
                elif entry.is_dir(follow_symlinks=False):
                    if not excluder.dir_excluded(rel, entry.name):
                        subdirs.append((entry.path, rel + "/"))
                elif entry.is_file(follow_symlinks=False):
                    if not excluder.file_excluded(rel, entry.name) and rel not in seen:
                        seen.add(rel)
                        files.append(_entry(entry.path, rel, entry.stat(follow_symlinks=False)))
                else:
                    skipped.append(Skipped(rel, "not a regular file"))
            except OSError as exc:
                skipped.append(Skipped(rel, f"unreadable: {exc.strerror}"))
        stack.extend(reversed(subdirs))
