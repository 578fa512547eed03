"""Adding secpipe's state folder to a project's ``.gitignore``: appended once, at the end; no
other line is rewritten, a link or special file is left alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

ENTRY = ".secpipe/"
"""The line added."""
_SAME = frozenset({".secpipe", ".secpipe/", "/.secpipe", "/.secpipe/", ".secpipe/**",
                   "/.secpipe/**"})
MAX_BYTES = 1 << 20
"""A larger ``.gitignore`` is left alone."""


def ensure_ignored(root: Path) -> str:
    """Make ``root/.gitignore`` ignore ``.secpipe/``; returns what was done, as a sentence."""
    path = root / ".gitignore"
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) \
        | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        return f"left .gitignore alone ({exc.strerror or exc}); add {ENTRY} to it yourself"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return f"left .gitignore alone (not a regular file); add {ENTRY} to it yourself"
        if st.st_size > MAX_BYTES:
            return f"left .gitignore alone (larger than 1 MiB); add {ENTRY} to it yourself"
        text = os.pread(fd, st.st_size, 0) if st.st_size else b""
        lines = {line.strip() for line in text.decode("utf-8", errors="replace").splitlines()}
        if lines & _SAME:
            return f".gitignore already ignores {ENTRY}"
        prefix = b"" if not text or text.endswith(b"\n") else b"\n"
        os.write(fd, prefix + ENTRY.encode() + b"\n")
        return f"added {ENTRY} to .gitignore" if text else f"created .gitignore with {ENTRY}"
    except OSError as exc:
        return f"could not update .gitignore ({exc.strerror or exc}); add {ENTRY} to it yourself"
    finally:
        os.close(fd)
