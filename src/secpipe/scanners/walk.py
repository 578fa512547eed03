"""The one walker of every file scanner: the files under the requested paths, minus excludes.

Symbolic links are never followed (a link could lead out of the project) and special files (FIFOs,
sockets, devices) are never opened; both, and folders or entries that cannot be read, are reported
as :class:`~secpipe.core.results.Skipped`. A link or special file is a policy (it holds no bytes of
the project to scan); an unreadable input is not: a scanner turns every :func:`unreadable` entry
into a finding its users' policy fails on. A path named explicitly is scanned even when an exclude
glob matches it (so a pre-commit hook that passes ``.env`` still gets it scanned); one that does
not exist, or a folder named explicitly that cannot be listed, is an :class:`InputError`.

Exclude globs (``fnmatch``, case-sensitive, ``*`` also matches ``/``), relative to the project
root:

* ``name/`` (a trailing slash) matches folders only: by name at any depth, or by path when it
  holds another ``/`` (``docs/build/``);
* a glob without ``/`` matches a file or a folder by name at any depth (``*.min.js``, ``venv``);
* any other glob matches a file's path, and a folder's path or ``path/`` (``fixtures/**``).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from secpipe.core.errors import InputError
from secpipe.core.results import Skipped

STATE_EXCLUDE = ".secpipe/"
"""secpipe's state folder (run outputs, the run store, caches, the local artifact store). Skipped
by scanners of what the project holds; not by the secrets scanner, for which a key or token
written there is as leaked as anywhere (it passes over secpipe's own databases by content)."""

#: Skipped unless ``default_excludes: false``: version control internals, secpipe's state,
#: virtual environments, installed packages and tool caches. ``exclude`` adds to these.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git/", ".hg/", ".svn/", STATE_EXCLUDE, ".venv/", "venv/", "node_modules/", "__pycache__/",
    ".mypy_cache/", ".ruff_cache/", ".pytest_cache/", ".hypothesis/", ".tox/", ".nox/",
)  # fmt: skip

#: The default excludes of the secrets scanner: :data:`DEFAULT_EXCLUDES` but secpipe's state.
SECRETS_DEFAULT_EXCLUDES: tuple[str, ...] = tuple(
    p for p in DEFAULT_EXCLUDES if p != STATE_EXCLUDE)


UNREADABLE = "unreadable: "
"""Start of the :attr:`Skipped.reason` of an input that could not be read (then the OS error)."""


def unreadable(skipped: Iterable[Skipped]) -> list[Skipped]:
    """The skipped inputs that could not be read (folders not listed, entries not examined)."""
    return [s for s in skipped if s.reason.startswith(UNREADABLE)]


@dataclass(frozen=True)
class FileEntry:
    """A regular file to scan."""

    path: str
    """Absolute path."""
    rel: str
    """Path relative to the project root, POSIX separators."""
    size: int
    """Size in bytes when it was listed."""
    mtime_ns: int
    """Modification time when it was listed (cache keys)."""
    ino: int
    """Inode number (cache keys)."""
    explicit: bool = False
    """Named on its own in ``paths`` (then a file it cannot read makes the step an error)."""


class Excluder:
    """Matches relative paths against exclude globs (the rules are in the module docstring)."""

    def __init__(self, patterns: list[str] | tuple[str, ...]) -> None:
        self.dirs = [p.rstrip("/") for p in patterns if p.endswith("/")]
        self.files = [p for p in patterns if not p.endswith("/")]
        self.names = [p for p in self.files if "/" not in p]

    def dir_excluded(self, rel: str, name: str) -> bool:
        """The folder ``rel`` (last component ``name``) is skipped with all it holds."""
        return (any(fnmatchcase(name, p) or fnmatchcase(rel, p) for p in self.dirs)
                or any(fnmatchcase(name, p) for p in self.names)
                or any(fnmatchcase(rel, p) or fnmatchcase(rel + "/", p) for p in self.files))

    def file_excluded(self, rel: str, name: str) -> bool:
        """The file ``rel`` (last component ``name``) is skipped."""
        return any(fnmatchcase(rel, p) or fnmatchcase(name, p) for p in self.files)

    def path_excluded(self, rel: str) -> bool:
        """A file path is excluded, or so is one of its folders (paths of git history)."""
        parts = rel.split("/")
        for i in range(1, len(parts)):
            if self.dir_excluded("/".join(parts[:i]), parts[i - 1]):
                return True
        return self.file_excluded(rel, parts[-1])


def collect(root: Path, paths: list[str], excludes: list[str] | tuple[str, ...],
            skipped: list[Skipped]) -> list[FileEntry]:
    """The files under ``paths`` (relative to ``root``, or absolute), sorted by folder; links,
    special files and unreadable folders go to ``skipped``. A missing path, or a folder named
    here that cannot be listed, is an :class:`InputError` naming it."""
    excluder = Excluder(excludes)
    files: list[FileEntry] = []
    seen: set[str] = set()
    for given in paths:
        target = (root / given) if not os.path.isabs(given) else Path(given)
        try:
            st = target.lstat()
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                raise InputError(f"{given}: no such file or folder") from None
            raise InputError(f"{given}: {UNREADABLE}{exc.strerror or exc}") from None
        rel = relative(root, target)
        if stat.S_ISLNK(st.st_mode):
            skipped.append(Skipped(rel, "symbolic link (not followed)"))
        elif stat.S_ISREG(st.st_mode):
            if rel not in seen:
                seen.add(rel)
                files.append(_entry(str(target), rel, st, explicit=True))
        elif stat.S_ISDIR(st.st_mode):
            try:  # a folder named explicitly that cannot be listed: the scan cannot start
                os.scandir(str(target)).close()
            except OSError as exc:
                name = given if given != "." else os.path.abspath(target)
                raise InputError(f"{name}: {UNREADABLE}{exc.strerror or exc}") from None
            _walk(target, root, excluder, files, skipped, seen)
        else:
            skipped.append(Skipped(rel, "not a regular file"))
    return files


def relative(root: Path, target: Path) -> str:
    """``target`` relative to ``root`` with POSIX separators (absolute when on another drive)."""
    try:
        rel = os.path.relpath(target, root)
    except ValueError:
        return target.as_posix()
    return "." if rel == "." else Path(rel).as_posix()


def _entry(path: str, rel: str, st: os.stat_result, explicit: bool = False) -> FileEntry:
    return FileEntry(path, rel, st.st_size, st.st_mtime_ns, st.st_ino, explicit)


def _walk(top: Path, root: Path, excluder: Excluder, files: list[FileEntry],
          skipped: list[Skipped], seen: set[str]) -> None:
    top_rel = relative(root, top)
    stack = [(str(top), "" if top_rel == "." else top_rel + "/")]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            skipped.append(Skipped(prefix.rstrip("/") or ".", f"{UNREADABLE}{exc.strerror}"))
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
                skipped.append(Skipped(rel, f"{UNREADABLE}{exc.strerror}"))
        stack.extend(reversed(subdirs))
