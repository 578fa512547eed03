"""What every parser shares: reading an output file within a size bound, and paths."""

from __future__ import annotations

import os
from pathlib import Path

from secpipe.core.errors import InputError


def read_bounded(path: Path, max_bytes: int, what: str) -> bytes:
    """The bytes of ``path``; missing, unreadable or over ``max_bytes`` is an
    :class:`InputError` naming ``what`` and the file (never an empty result)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{what} {path} is missing or unreadable: {exc.strerror}") from None
    if size > max_bytes:
        raise InputError(f"{what} {path} is {size} bytes (limit {max_bytes})")
    try:
        with path.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"{what} {path} is unreadable: {exc.strerror}") from None
    if len(raw) > max_bytes:  # it grew since stat()
        raise InputError(f"{what} {path} is over {max_bytes} bytes")
    return raw


def project_path(raw: str, project_root: Path, base_dir: Path) -> str:
    """A path a tool printed, as a project-relative POSIX path when it is inside the project
    (relative paths are relative to ``base_dir``, the tool's working folder), else as printed."""
    local = raw if os.path.isabs(raw) else os.path.join(base_dir, raw)
    local = os.path.normpath(os.path.abspath(local))
    root = os.path.normpath(os.path.abspath(project_root))
    if local == root:
        return "."
    if local.startswith(root + os.sep):
        return os.path.relpath(local, root).replace(os.sep, "/")
    return raw
