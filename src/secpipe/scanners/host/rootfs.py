"""An image's final filesystem written out as a folder, for OpenSCAP's offline evaluation.

The image (an OCI layout, an ``oci-archive`` or a ``docker save`` tar) is opened and its layers
applied by :mod:`secpipe.images` (digests verified, whiteouts applied, hostile members — paths
out of the root, links escaping it — refused and never written, size and count bounds). Then
each entry is written under a fresh folder of the step (mode 0700, so a set-uid file of the
image is reachable by nobody else):

- folders, regular files (hard links as copies) and symbolic links (as links, never followed:
  every file is created with ``O_EXCL | O_NOFOLLOW`` in a parent whose real path is checked to
  be inside the folder); devices and FIFOs are not written (counted);
- modes as in the image (folders' modes set last, deepest first); owners as in the image when
  secpipe runs as root — otherwise they cannot be set, and the step treats the ownership rules
  as undecided (``owners_exact`` False).

Nothing of the image is executed. :func:`remove_tree` deletes the folder again (making folders
writable first, as the image may have made some read-only).
"""

from __future__ import annotations

import os
import shutil
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from secpipe.core.errors import InputError, StepError
from secpipe.images.layers import FileEntry, FileTree, apply_layers
from secpipe.images.layout import ImageError, open_image

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Unpacked:
    """What was written."""

    root: Path
    files: int
    skipped: int
    """Entries not written (devices, FIFOs, a path under a link)."""
    hostile: int
    """Members the layer reader refused."""
    owners_exact: bool
    """Owners were set as in the image (secpipe runs as root)."""


def _inside(dest: Path, target: Path) -> bool:
    parent = os.path.realpath(target.parent)
    return parent == str(dest) or parent.startswith(str(dest) + os.sep)


def _copy(tree: FileTree, entry: FileEntry, target: Path) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out, tree.open(entry) as src:
        while chunk := src.read(_CHUNK):
            out.write(chunk)


def unpack_image(path: Path, dest: Path, *, cancel: threading.Event,
                 ref: str | None = None) -> Unpacked:
    """Write the filesystem of the image at ``path`` into the new folder ``dest``."""
    dest.mkdir(mode=0o700, parents=False)
    dest = Path(os.path.realpath(dest))
    as_root = os.geteuid() == 0
    files = skipped = 0
    try:
        image = open_image(path, ref=ref)
    except ImageError as exc:
        raise InputError(f"image {path}: {exc}") from None
    try:
        with apply_layers(image, cancel=cancel, spool_dir=str(dest.parent)) as tree:
            folders: list[tuple[Path, FileEntry]] = []
            for entry in tree:
                if cancel.is_set():
                    raise StepError("cancelled while unpacking the image")
                if not entry.path:
                    continue
                target = dest / entry.path
                if not _inside(dest, target):
                    skipped += 1
                    continue
                if entry.type == "dir":
                    target.mkdir(mode=0o700)
                    folders.append((target, entry))
                    continue
                if entry.type in ("file", "hardlink") and entry.has_content:
                    _copy(tree, entry, target)
                    files += 1
                elif entry.type == "symlink":
                    os.symlink(entry.linkname, target)
                else:
                    skipped += 1
                    continue
                if as_root:
                    os.chown(target, entry.uid, entry.gid, follow_symlinks=False)
                if entry.type != "symlink":
                    os.chmod(target, stat.S_IMODE(entry.mode), follow_symlinks=False)
            for target, entry in reversed(folders):
                if as_root:
                    os.chown(target, entry.uid, entry.gid, follow_symlinks=False)
                os.chmod(target, stat.S_IMODE(entry.mode))
            hostile = len(tree.hostile)
    except ImageError as exc:
        raise InputError(f"image {path}: {exc}") from None
    finally:
        image.close()
    return Unpacked(dest, files, skipped, hostile, as_root)


def remove_tree(root: Path) -> None:
    """Delete an unpacked tree (folders made writable first; links never followed)."""
    if not root.exists():
        return
    for folder, dirs, _ in os.walk(root, followlinks=False):
        for name in dirs:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, stat.S_IRWXU)
    shutil.rmtree(root, ignore_errors=True)
