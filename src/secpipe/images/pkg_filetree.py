"""The adapter from an applied image (:class:`secpipe.images.layers.FileTree`) to :class:`FsView`.

Symbolic links are resolved inside the tree only (``FileTree.realpath``); ``listdir`` resolves
the parents of a path but not a link at the path itself, so a walk never crosses a link and sees
each file once. A link loop or a read error is "no such file" for the inventory, never a crash.
A file whose bytes were not kept (a tree applied with ``keep``) reads as ``None`` too, and its
path is added to :attr:`FileTreeView.not_kept`: :func:`secpipe.images.inventory.inventory` turns
each into a problem (nothing is decided from a file that could not be read).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from secpipe.images.layout import ImageError

if TYPE_CHECKING:
    from secpipe.images.layers import FileEntry, FileTree


class FileTreeView:
    """A read-only :class:`~secpipe.images.pkg_model.FsView` over an applied image."""

    def __init__(self, tree: FileTree) -> None:
        self._tree = tree
        self.not_kept: list[str] = []
        """Paths read whose file content was not kept when the layers were applied."""

    def _entry(self, path: str, *, follow_last: bool) -> FileEntry | None:
        try:
            return self._tree.resolve(path, follow_last=follow_last)
        except (ImageError, RecursionError):
            return None

    def read(self, path: str, limit: int) -> bytes | None:
        """At most ``limit`` bytes of the regular file ``path`` leads to inside the tree."""
        entry = self._entry(path, follow_last=True)
        if entry is not None and entry.content_skipped:
            if path not in self.not_kept:
                self.not_kept.append(path)
            return None
        if entry is None or not entry.has_content:
            return None
        try:
            with self._tree.open(entry) as stream:
                return stream.read(limit)
        except (ImageError, OSError, ValueError):
            return None

    def listdir(self, path: str) -> list[str]:
        """Names in the directory ``path`` (``[]`` for a link, a file or nothing)."""
        entry = self._entry(path, follow_last=False)
        if entry is None and path.strip("/"):
            return []
        if entry is not None and entry.type != "dir":
            return []
        children = self._tree.listdir(entry.path if entry is not None else "")
        return [child.rstrip("/").rpartition("/")[2] for child in children]

    def exists(self, path: str) -> bool:
        """Whether anything is at ``path`` (a dangling link counts)."""
        return self._entry(path, follow_last=False) is not None

    def owner(self, path: str) -> tuple[int, int] | None:
        """(uid, gid) of the entry at ``path`` (a link's own owner)."""
        entry = self._entry(path, follow_last=False)
        return None if entry is None else (entry.uid, entry.gid)
