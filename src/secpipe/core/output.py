"""Writing a file a user named (``-o FILE``, ``secpipe init``): output goes to what is named.

- **nothing there, or a regular file** (also behind a symbolic link): written atomically — a
  temporary file beside the *target* is renamed over it, so a failed write never truncates the
  old content and a link stays a link (its target gets the content). An existing file keeps its
  permission bits.
- **anything else** (a FIFO, ``/dev/null``, a terminal, ``/proc/self/fd/1``): opened for writing
  in place, never created, truncated or replaced — the same as a shell's ``>``.
- **a folder**: refused, nothing is written or left behind.

A failure is one line naming the file and the reason (``No space left on device``), exit 2.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from secpipe.core.errors import InputError


def write_text(output: Path, text: str, what: str = "report") -> None:
    """Write ``text`` (UTF-8) to ``output`` as described above."""
    write_bytes(output, text.encode("utf-8"), what)


def write_bytes(output: Path, data: bytes, what: str = "report") -> None:
    """Write ``data`` to ``output`` as described above; ``what`` names it in errors."""
    try:
        mode: int | None = os.stat(output).st_mode
    except FileNotFoundError:
        mode = None  # nothing there, or a dangling link: its target is created
    except OSError as exc:
        raise InputError(f"cannot write {what} {output}: {exc.strerror or exc}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise InputError(f"cannot write {what} {output}: it is a folder",
                         hint="name a file, e.g. -o " + str(output / f"{what}.out"))
    try:
        if mode is None or stat.S_ISREG(mode):
            _atomic(Path(os.path.realpath(output)), data, mode)
        else:
            _in_place(output, data)
    except OSError as exc:
        raise InputError(f"cannot write {what} {output}: {exc.strerror or exc}") from None


def _atomic(target: Path, data: bytes, mode: int | None) -> None:
    import tempfile  # only when a file is written (a one-file scan writes none)

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # a new file is an ordinary file, not a private temp
        else:
            os.chmod(tmp, stat.S_IMODE(mode))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # our own temporary file, nothing else
        raise


def _in_place(output: Path, data: bytes) -> None:
    # no O_CREAT, no O_TRUNC: a device or a pipe is written to, never replaced
    fd = os.open(output, os.O_WRONLY | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "wb", buffering=0) as fh:
        view = memoryview(data)
        while view:
            written = fh.write(view)
            if not written:
                raise OSError(f"wrote nothing ({len(view)} bytes left)")
            view = view[written:]
