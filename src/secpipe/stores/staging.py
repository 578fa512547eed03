"""A folder filled out of sight and put in place whole: what ``secpipe store pull`` and the
``load`` step write into.

The rule: **no command deletes a folder it did not create.** The destination must not exist or
be an empty folder (anything else — a folder with files, a file, a symbolic link — is refused
before anything is downloaded). Files are written into a staging folder secpipe creates beside
it, which is renamed onto the destination only when all of them are complete (on POSIX the
rename fails rather than replace a folder that gained files meanwhile). On any failure, what
secpipe created is removed — the staging folder, and the parent folders it had to make — and
nothing else.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from secpipe.core.errors import InputError

_FULL = (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR)


def check_free(dest: Path) -> Path:
    """``dest`` as an absolute path, if a pull may write there (it does not exist, or is an
    empty folder); else an :class:`InputError` naming it."""
    where = Path(os.path.abspath(dest))  # "." has no name to stage beside; its absolute form has
    if where.is_symlink():
        raise InputError(f"{dest} is a symbolic link; a pull writes a new folder",
                         hint="name a folder that does not exist yet")
    if where.exists() and not where.is_dir():
        raise InputError(f"{dest} exists and is not a folder; a pull writes a new folder")
    if where.is_dir() and any(where.iterdir()):
        raise InputError(f"{dest} is not empty; a pull never replaces or mixes with what is "
                         "there", hint="name a new or empty folder")
    if where.parent == where or where == Path.cwd():
        raise InputError(f"{dest} is the {'root' if where.parent == where else 'current'} "
                         "folder; a pull writes a new folder", hint="name a new folder")
    return where


def _missing(folder: Path) -> list[Path]:
    """``folder`` and its parents that do not exist, deepest first."""
    missing = []
    at = folder
    while not at.exists() and not at.is_symlink() and at.parent != at:
        missing.append(at)
        at = at.parent
    return missing


def _remove_created(folders: list[Path]) -> None:
    for folder in folders:  # deepest first; rmdir never removes a folder someone filled
        try:
            folder.rmdir()
        except OSError:
            return


@contextlib.contextmanager
def staged_folder(dest: Path) -> Iterator[Path]:
    """Yield an empty staging folder; when the block ends normally it becomes ``dest``
    (checked with :func:`check_free` first), when it raises it is removed."""
    dest = check_free(dest)
    created = _missing(dest.parent)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.partial-"))
    except OSError as exc:
        _remove_created(created)
        raise InputError(f"cannot create {dest}: {exc.strerror or exc}") from None
    try:
        yield staging
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # the folder a plain mkdir would have made
        try:
            os.rename(staging, dest)  # POSIX: replaces an empty folder, never a filled one
        except OSError as exc:
            if exc.errno in _FULL:
                raise InputError(f"{dest} is no longer empty; a pull never replaces or mixes "
                                 "with what is there") from None
            raise InputError(f"cannot create {dest}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # created above, by us, and only ours
        _remove_created(created)
        raise
