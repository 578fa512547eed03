"""Apply an image's layers, in memory, into a :class:`FileTree` of the final filesystem.

Each layer blob is streamed once: verified against its digest and size (:class:`VerifiedBlob`),
decompressed (gzip, zstd when the ``zstandard`` module is installed, or none), counted against a
total-bytes budget (a layer bomb stops with :class:`ImageBomb`), hashed against the config's
``diff_id`` and read as a tar stream. Nothing is written from the archive to disk except the
content of regular files, appended to one anonymous temporary spool file; entries keep an
offset into it. Whiteouts (``.wh.NAME``) and opaque directories (``.wh..wh..opq``) remove what
lower layers put there; every file removed that way (or replaced by a later layer) is kept in
:attr:`FileTree.deleted` with the layer it came from, and its content stays readable, because
a secret deleted in a later layer is still in the image.

Member names are normalised; absolute names, ``..`` components, NUL bytes, too long or too deep
paths are recorded in :attr:`FileTree.hostile` and skipped. Symlinks are resolved only inside
the tree (``..`` stops at the image root, loops raise :class:`SymlinkLoop`); a member written
through a symlinked parent lands where the link points inside the tree, and is noted as hostile.

With ``keep`` (a predicate on a regular file's path), :func:`apply_layers` spools only the content
of the files it selects, e.g. :func:`secpipe.images.inventory.wanted_for_inventory` (package
databases, metadata, changelogs, os-release) when the layer contents are not scanned: every entry,
whiteout, deletion, bound and check stays the same, the other files' bytes are skipped in the
stream (still decompressed and hashed for the ``diff_id``). Such an entry has
:attr:`FileEntry.content_skipped` set and opening it raises :class:`ContentNotKept`.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import os
import posixpath
import tarfile
import tempfile
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, Literal, cast

from secpipe.images.layout import (
    BlobMismatch,
    BoundedTarInfo,
    Image,
    ImageError,
    Layer,
    UnsupportedImage,
)

EntryType = Literal["file", "dir", "symlink", "hardlink", "char", "block", "fifo"]
DeleteReason = Literal["whiteout", "opaque", "replaced"]

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
MAX_SYMLINK_HOPS = 40
_CHUNK = 1 << 20


class LayerError(ImageError):
    """A layer could not be read: truncated, corrupt, or over a bound. The message names it."""


class ImageBomb(LayerError):
    """The image's uncompressed size or member count exceeds the configured bound."""


class SymlinkLoop(ImageError):
    """Resolving a path inside the image followed too many symlinks."""


class ContentNotKept(ImageError):
    """The file's bytes were not kept: the layers were applied with a ``keep`` predicate that
    did not select it (reading it cannot decide anything: callers report it, never pass)."""


KeepPredicate = Callable[[str], bool]
"""Selects, by tree path (``a/b``, no leading slash), the regular files whose bytes are kept."""


@dataclass(frozen=True)
class Limits:
    """Bounds on applying an image (defaults fit large real images)."""

    max_total_bytes: int = 16 * 1024**3  # uncompressed tar bytes over all layers
    max_members_per_layer: int = 1_000_000
    max_total_members: int = 5_000_000
    max_path_length: int = 4096
    max_depth: int = 256
    max_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One path of the image's filesystem (``path`` has no leading slash; the root is ``""``)."""

    path: str
    type: EntryType
    mode: int
    uid: int
    gid: int
    size: int
    layer: int  # index of the layer that put it there
    mtime: int = 0
    linkname: str = ""  # symlink target as written; hardlink target (normalised path)
    content_offset: int = -1  # where the bytes are in the tree's spool (-1: no content)
    implicit: bool = False  # a directory created because a member needed it
    content_skipped: bool = False  # a regular file whose bytes ``keep`` did not select

    @property
    def has_content(self) -> bool:
        """True for a regular file (or hardlink to one) whose bytes can be read."""
        return self.content_offset >= 0


@dataclass(frozen=True, slots=True)
class DeletedFile:
    """A path present in a lower layer and removed (or replaced) by a later one."""

    entry: FileEntry
    deleted_in: int
    reason: DeleteReason


@dataclass(frozen=True, slots=True)
class LayerStats:
    """What reading one layer found (for reports and benchmarks)."""

    index: int
    members: int
    uncompressed_bytes: int
    diff_id: str


@dataclass(frozen=True, slots=True)
class HostileMember:
    """A layer member that was refused or is suspicious (the reason says which)."""

    layer: int
    name: str
    reason: str


class _Hostile(Exception):
    pass


def normalize_member_name(name: str, limits: Limits = Limits()) -> str:
    """A tar member name as a tree path (``a/b``; ``""`` for the root), or :class:`ValueError`."""
    if "\x00" in name:
        raise ValueError("NUL byte in name")
    if name.startswith("/"):
        raise ValueError("absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError("parent reference (..) in path")
    path = "/".join(parts)
    if len(path) > limits.max_path_length:
        raise ValueError(f"path longer than {limits.max_path_length}")
    if len(parts) > limits.max_depth:
        raise ValueError(f"path deeper than {limits.max_depth}")
    return path


class _SpanReader(io.RawIOBase):
    """A read-only stream over one span of the spool (``os.pread``: safe across threads)."""

    def __init__(self, fd: int, offset: int, size: int) -> None:
        super().__init__()
        self._fd, self._start, self._size, self._pos = fd, offset, size, 0

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._size - self._pos)
        if want <= 0:
            return 0
        data = os.pread(self._fd, want, self._start + self._pos)
        view[:len(data)] = data
        self._pos += len(data)
        return len(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, min(self._size, base + offset))
        return self._pos

    def tell(self) -> int:
        return self._pos


class FileTree:
    """The final filesystem of an image, in memory; file content on a temporary spool file.

    Close it (or use it as a context manager) to drop the spool.
    """

    def __init__(self, spool: IO[bytes], layers: int, *, complete: bool = True) -> None:
        self._spool = spool
        self.contents_complete = complete
        """False when the layers were applied with ``keep``: some files' bytes were skipped."""
        self._spool_end = 0
        self._entries: dict[str, FileEntry] = {}
        self._children: dict[str, set[str]] = {"": set()}
        self.deleted: list[DeletedFile] = []
        self.hostile: list[HostileMember] = []
        self.layer_stats: list[LayerStats] = []
        self.layer_count = layers

    # -- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and path.strip("/") in self._entries

    def __iter__(self) -> Iterator[FileEntry]:
        for path in sorted(self._entries):
            yield self._entries[path]

    def get(self, path: str) -> FileEntry | None:
        """The entry at ``path`` (leading ``/`` allowed), not following symlinks."""
        return self._entries.get(path.strip("/"))

    def files(self) -> Iterator[FileEntry]:
        """Every entry with readable content (regular files and hardlinks to them), sorted.

        A tree applied with ``keep`` lists only the files whose bytes were kept.
        """
        return (e for e in self if e.has_content)

    def listdir(self, path: str) -> list[str]:
        """Full paths of the children of directory ``path`` (sorted; empty if none)."""
        return sorted(self._children.get(path.strip("/"), ()))

    def open(self, entry: FileEntry) -> BinaryIO:
        """A read-only, seekable stream of the entry's content (a live or a deleted file)."""
        if entry.content_skipped:
            raise ContentNotKept(f"/{entry.path}: content not kept (the layers were applied "
                                 "for package metadata only)")
        if not entry.has_content:
            raise ImageError(f"/{entry.path}: has no content ({entry.type})")
        raw = _SpanReader(self._spool.fileno(), entry.content_offset, entry.size)
        return io.BufferedReader(raw, buffer_size=256 * 1024)

    def read_bytes(self, entry: FileEntry, limit: int = 64 * 1024 * 1024) -> bytes:
        """The entry's content; :class:`ImageError` when it is larger than ``limit``."""
        if entry.size > limit and not entry.content_skipped:
            raise ImageError(f"/{entry.path}: {entry.size} bytes, over the read limit {limit}")
        with self.open(entry) as stream:
            return stream.read()

    def read_path(self, path: str, *, limit: int = 64 * 1024 * 1024) -> bytes | None:
        """The content at ``path`` after resolving symlinks in the tree; None if not a file.

        :class:`ContentNotKept` when it is a file whose bytes were not kept.
        """
        entry = self.resolve(path)
        if entry is None or not (entry.has_content or entry.content_skipped):
            return None
        return self.read_bytes(entry, limit)

    def under(self, path: str) -> Iterator[FileEntry]:
        """Every entry below directory ``path`` (not following symlinks), depth first, each
        folder's children in sorted order."""
        stack = sorted(self._children.get(path.strip("/"), ()), reverse=True)
        while stack:
            child = stack.pop()
            entry = self._entries.get(child)
            if entry is not None:
                yield entry
                stack.extend(sorted(self._children.get(child, ()), reverse=True))

    def realpath(self, path: str, *, follow_last: bool = True) -> str:
        """``path`` with every symlink resolved inside the tree (``..`` stops at the root)."""
        return self._resolve(path, follow_last=follow_last, create_layer=None)[0]

    def resolve(self, path: str, *, follow_last: bool = True) -> FileEntry | None:
        """The entry ``path`` leads to inside the tree, or None (dangling / missing)."""
        return self._entries.get(self.realpath(path, follow_last=follow_last))

    def close(self) -> None:
        """Drop the spool (entries stay, content no longer readable)."""
        self._spool.close()

    def __enter__(self) -> FileTree:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- building --------------------------------------------------------------------------
    def _resolve(self, path: str, *, follow_last: bool,
                 create_layer: int | None) -> tuple[str, bool]:
        """Resolve symlinks; with ``create_layer``, make missing or non-dir parents dirs.

        Returns the path and whether a symlink was followed.
        """
        parts = deque(p for p in path.split("/") if p not in ("", "."))
        done: list[str] = []
        hops = 0
        while parts:
            comp = parts.popleft()
            if comp == "..":
                if done:
                    done.pop()
                continue
            candidate = "/".join([*done, comp])
            entry = self._entries.get(candidate)
            if entry is not None and entry.type == "symlink" and (parts or follow_last):
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    raise SymlinkLoop(f"/{path}: more than {MAX_SYMLINK_HOPS} symlinks "
                                      "followed (a loop)")
                if entry.linkname.startswith("/"):
                    done = []
                parts.extendleft(reversed([p for p in entry.linkname.split("/") if p]))
                continue
            if create_layer is not None and (entry is None or entry.type != "dir"):
                if entry is not None:
                    self._remove_subtree(candidate, create_layer, "replaced", lower_only=False)
                self._insert(FileEntry(path=candidate, type="dir", mode=0o755, uid=0, gid=0,
                                       size=0, layer=create_layer, implicit=True))
            done.append(comp)
        return "/".join(done), hops > 0

    def _insert(self, entry: FileEntry) -> None:
        self._entries[entry.path] = entry
        parent = posixpath.dirname(entry.path)
        self._children.setdefault(parent, set()).add(entry.path)
        if entry.type == "dir":
            self._children.setdefault(entry.path, set())

    def _remove_subtree(self, root: str, layer: int, reason: DeleteReason, *,
                        lower_only: bool, keep_root: bool = False) -> None:
        """Remove ``root`` and what is under it (only entries of lower layers if ``lower_only``).

        An entry kept because something of ``layer`` remains under it becomes an implicit dir.
        """
        order: list[str] = []
        stack = [root]
        while stack:
            path = stack.pop()
            order.append(path)
            stack.extend(self._children.get(path, ()))
        survivors: set[str] = set()
        for path in reversed(order):  # children before parents
            entry = self._entries.get(path)
            if entry is None:
                continue
            if path == root and keep_root:
                continue
            kept_child = any(c in survivors for c in self._children.get(path, ()))
            if (lower_only and entry.layer >= layer) or kept_child:
                survivors.add(path)
                if kept_child and entry.type != "dir":
                    self._insert(FileEntry(path=path, type="dir", mode=0o755, uid=0, gid=0,
                                           size=0, layer=layer, implicit=True))
                continue
            del self._entries[path]
            self._children.pop(path, None)
            self._children.get(posixpath.dirname(path), set()).discard(path)
            if entry.type != "dir":
                self.deleted.append(DeletedFile(entry=entry, deleted_in=layer, reason=reason))

    def _spool_copy(self, stream: IO[bytes], size: int) -> int:
        offset = self._spool_end
        self._spool.seek(offset)
        copied = 0
        while copied < size:
            chunk = stream.read(min(_CHUNK, size - copied))
            if not chunk:
                raise LayerError("member content ends early")
            self._spool.write(chunk)
            copied += len(chunk)
        self._spool.flush()  # readers use os.pread on the descriptor
        self._spool_end += copied
        return offset


class _Counted:
    """The uncompressed layer stream: hashed (diff_id), counted against the budget and clock."""

    def __init__(self, stream: Any, what: str, budget: _Budget) -> None:
        self._stream, self._what, self._budget = stream, what, budget
        self._hash = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        self._budget.check_time(self._what)
        size = _CHUNK if n is None or n < 0 else n
        data: bytes = self._stream.read(min(size, self._budget.left + 1))
        self._budget.used += len(data)
        if self._budget.left < 0:
            raise ImageBomb(f"{self._what}: image expands past {self._budget.limit} bytes "
                            "uncompressed (a layer bomb?)")
        self._hash.update(data)
        return data

    def drain(self) -> str:
        while self.read(_CHUNK):
            pass
        return "sha256:" + self._hash.hexdigest()


class _Budget:
    def __init__(self, limits: Limits, cancel: threading.Event | None) -> None:
        self.limit = limits.max_total_bytes
        self.used = 0
        self.members = 0
        self.deadline = (time.monotonic() + limits.max_seconds
                         if limits.max_seconds is not None else None)
        self.cancel = cancel

    @property
    def left(self) -> int:
        return self.limit - self.used

    def check_time(self, what: str) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise LayerError(f"{what}: cancelled")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise LayerError(f"{what}: reading the image took longer than its time bound")


class _Prefixed:
    def __init__(self, head: bytes, rest: Any) -> None:
        self._head, self._rest = head, rest

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n is None or n < 0 or n >= len(self._head):
                head, self._head = self._head, b""
                more = self._rest.read(-1 if n is None or n < 0 else n - len(head))
                return head + bytes(more)
            head, self._head = self._head[:n], self._head[n:]
            return head
        return bytes(self._rest.read(n))


class _Gunzip:
    """A gzip stream (members one after another, zero padding between them allowed, as
    :class:`gzip.GzipFile` reads it) decompressed by :mod:`zlib` in large chunks; zlib checks
    each member's header, CRC-32 and length. At most ``_CHUNK`` decompressed bytes are held."""

    _MAGIC = b"\x1f\x8b"
    _FEED = 64 * 1024  # compressed bytes given to zlib at once (its unconsumed tail is copied)

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._input = memoryview(b"")  # compressed bytes read, not yet given to zlib
        self._tail = b""  # given to zlib, not consumed (output limit reached)
        self._out, self._pos = b"", 0
        self._started = False  # the current member has had input
        self._eof = False

    def _more_input(self) -> bool:
        if not self._input:
            data = self._raw.read(_CHUNK)
            if not data:
                return False
            self._input = memoryview(data)
        return True

    def _next_member(self) -> None:
        rest = self._zlib.unused_data + bytes(self._input)
        self._input = memoryview(b"")
        rest = rest.lstrip(b"\x00")
        while not rest:
            if not self._more_input():
                self._eof = True
                return
            rest, self._input = bytes(self._input).lstrip(b"\x00"), memoryview(b"")
        if rest[:2] != self._MAGIC[:len(rest[:2])]:
            raise zlib.error("data after a gzip member is not another gzip member")
        self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._input, self._started = memoryview(rest), True

    def _fill(self) -> None:
        """Decompress up to ``_CHUNK`` bytes into the output buffer (empty at the end)."""
        while not self._eof:
            if self._zlib.eof:
                self._next_member()
                continue
            feed: bytes | memoryview
            if self._tail:
                feed, self._tail = self._tail, b""
            elif self._more_input():
                feed, self._input = self._input[:self._FEED], self._input[self._FEED:]
                self._started = True
            elif self._started:
                raise EOFError("compressed stream ended before the end-of-stream marker was "
                               "reached")
            else:
                self._eof = True  # an empty stream: no member at all
                break
            out = self._zlib.decompress(feed, _CHUNK)
            self._tail = self._zlib.unconsumed_tail
            if out:
                self._out, self._pos = out, 0
                return

    def read(self, n: int = -1) -> bytes:
        want = _CHUNK if n is None or n < 0 else n
        if want <= 0:
            return b""
        if self._pos >= len(self._out):
            self._fill()
        data = self._out[self._pos:self._pos + want]
        self._pos += len(data)
        return data


def _decompressor(raw: Any, compression: str, what: str) -> Any:
    if compression == "auto":
        head = raw.read(4)
        raw = _Prefixed(head, raw)
        compression = ("gzip" if head[:2] == b"\x1f\x8b" else
                       "zstd" if head == b"\x28\xb5\x2f\xfd" else "none")
    if compression == "none":
        return raw
    if compression == "gzip":
        return _Gunzip(raw)
    if compression == "zstd":
        try:
            zstandard = importlib.import_module("zstandard")
        except ImportError as err:
            raise UnsupportedImage(f"{what}: zstd-compressed layer, but the 'zstandard' module "
                                   "is not installed (pip install zstandard)") from err
        return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    raise UnsupportedImage(f"{what}: unknown compression {compression!r}")


_TYPES: dict[bytes, EntryType] = {
    tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo",
}


def _escapes(link_dir: str, target: str) -> bool:
    if target.startswith("/"):
        return False
    depth = len([p for p in link_dir.split("/") if p])
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def _apply_member(tree: FileTree, tar: tarfile.TarFile, info: tarfile.TarInfo, index: int,
                  limits: Limits, keep: KeepPredicate | None = None) -> None:
    try:
        path = normalize_member_name(info.name, limits)
    except ValueError as err:
        raise _Hostile(str(err)) from err
    if not path:
        return  # the root directory itself
    base = posixpath.basename(path)
    parent = posixpath.dirname(path)
    if base.startswith(WHITEOUT_PREFIX):
        real_parent, _ = tree._resolve(parent, follow_last=True, create_layer=None)
        if base == OPAQUE_MARKER:
            real_parent, _ = tree._resolve(parent, follow_last=True, create_layer=index)
            tree._remove_subtree(real_parent, index, "opaque", lower_only=True, keep_root=True)
        elif not base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):  # other .wh..wh. = aufs
            name = base[len(WHITEOUT_PREFIX):]
            target = posixpath.join(real_parent, name) if real_parent else name
            if name not in ("", ".", "..") and target in tree._entries:
                tree._remove_subtree(target, index, "whiteout", lower_only=True)
        return
    real_parent, through_link = (tree._resolve(parent, follow_last=True, create_layer=index)
                                 if parent else ("", False))
    if through_link:
        tree.hostile.append(HostileMember(index, info.name,
                                          "written through a symlinked parent directory"))
    path = posixpath.join(real_parent, base) if real_parent else base
    kind: EntryType | None = "file" if info.isreg() else _TYPES.get(info.type)
    if kind is None:
        raise _Hostile(f"unsupported member type {info.type!r}")
    linkname, offset, size, skipped = "", -1, 0, False
    if kind == "file":
        size = info.size
        if keep is None or keep(path):
            stream = tar.extractfile(info)
            assert stream is not None
            offset = tree._spool_copy(stream, info.size)
        else:
            skipped = True  # the tar stream skips the bytes (still hashed for the diff_id)
    elif kind == "symlink":
        linkname = info.linkname
        if "\x00" in linkname:
            raise _Hostile("NUL byte in symlink target")
        if len(linkname) > limits.max_path_length:
            raise _Hostile(f"symlink target longer than {limits.max_path_length}")
        if _escapes(posixpath.dirname(path), linkname):
            tree.hostile.append(HostileMember(index, info.name,
                                              f"symlink points outside the image root: "
                                              f"{linkname}"))
    elif kind == "hardlink":
        try:
            linkname = normalize_member_name(info.linkname, limits)
        except ValueError as err:
            raise _Hostile(f"hardlink target: {err}") from err
        linked = tree._entries.get(linkname)
        if linked is not None and linked.content_skipped:
            size, skipped = linked.size, True
        elif linked is None or not linked.has_content:
            tree.hostile.append(HostileMember(index, info.name,
                                              f"hardlink to a missing file: {linkname}"))
        else:
            offset, size = linked.content_offset, linked.size
    elif kind in ("char", "block"):
        tree.hostile.append(HostileMember(index, info.name, f"{kind} device file"))
    existing = tree._entries.get(path)
    if existing is not None and not (existing.type == "dir" and kind == "dir"):
        tree._remove_subtree(path, index, "replaced", lower_only=False)
    tree._insert(FileEntry(path=path, type=kind, mode=info.mode & 0o7777, uid=info.uid,
                           gid=info.gid, size=size, layer=index, mtime=int(info.mtime),
                           linkname=linkname, content_offset=offset, content_skipped=skipped))


def _open_tar(counted: _Counted, budget: _Budget, start: int) -> tarfile.TarFile | None:
    """The layer's tar stream, or None for a zero-byte layer (its digests still decide)."""
    try:
        return tarfile.open(fileobj=cast(IO[bytes], counted), mode="r|",
                            tarinfo=BoundedTarInfo)
    except tarfile.ReadError:
        if budget.used != start:
            raise
        return None


def _apply_layer(tree: FileTree, image: Image, layer: Layer, limits: Limits,
                 budget: _Budget, keep: KeepPredicate | None) -> None:
    what = f"layer {layer.index} ({layer.digest or layer.path})"
    blob = image.open_layer(layer)
    try:
        counted = _Counted(_decompressor(blob, layer.compression, what), what, budget)
        members = 0
        start = budget.used
        tar = _open_tar(counted, budget, start)
        try:
            for info in tar or ():
                assert tar is not None
                members += 1
                budget.members += 1
                if members > limits.max_members_per_layer:
                    raise ImageBomb(f"{what}: more than {limits.max_members_per_layer} members")
                if budget.members > limits.max_total_members:
                    raise ImageBomb(f"{what}: image has more than {limits.max_total_members} "
                                    "members")
                try:
                    _apply_member(tree, tar, info, layer.index, limits, keep)
                except SymlinkLoop as err:
                    tree.hostile.append(HostileMember(layer.index, info.name[:4096],
                                                      f"symlink loop in its path: {err}"))
                except _Hostile as err:
                    tree.hostile.append(HostileMember(layer.index, info.name[:4096], str(err)))
        finally:
            if tar is not None:
                tar.close()
        diff_id = counted.drain()
        tree.layer_stats.append(LayerStats(layer.index, members, budget.used - start, diff_id))
        if layer.diff_id is not None and diff_id != layer.diff_id:
            raise BlobMismatch(f"{what}: uncompressed digest {diff_id} does not match the "
                               f"config's diff_id {layer.diff_id}")
        blob.finish()
    except ImageError as err:
        if what in err.message:
            raise
        raise type(err)(f"{what}: {err.message}") from err
    except (tarfile.TarError, EOFError, OSError, zlib.error, ValueError) as err:
        raise LayerError(f"{what}: truncated or corrupt layer ({type(err).__name__}: "
                         f"{err})") from err
    except Exception as err:  # a decompressor's own error type (zstd)
        if type(err).__module__.startswith("zstandard") or "Zstd" in type(err).__name__:
            raise LayerError(f"{what}: corrupt zstd stream ({err})") from err
        raise
    finally:
        blob.close()


def apply_layers(image: Image, *, limits: Limits | None = None,
                 cancel: threading.Event | None = None,
                 spool_dir: str | None = None, keep: KeepPredicate | None = None) -> FileTree:
    """The image's final filesystem, its deleted files and its hostile members.

    ``keep`` (None: every file) selects by tree path the regular files whose bytes are spooled;
    the others get :attr:`FileEntry.content_skipped` and are not readable
    (:class:`ContentNotKept`). Entries, deletions, hostile members and bounds do not depend on it.

    Raises :class:`LayerError` (truncated, corrupt, over a bound: :class:`ImageBomb`),
    :class:`~secpipe.images.layout.BlobMismatch` or :class:`SymlinkLoop`; all are
    :class:`~secpipe.images.layout.ImageError`. Close the returned tree when done.
    """
    bounds = limits or Limits()
    budget = _Budget(bounds, cancel)
    spool = tempfile.TemporaryFile(prefix="secpipe-image-", dir=spool_dir)  # noqa: SIM115
    tree = FileTree(spool, len(image.layers), complete=keep is None)
    try:
        for layer in image.layers:
            budget.check_time(f"layer {layer.index}")
            _apply_layer(tree, image, layer, bounds, budget, keep)
    except BaseException:
        tree.close()
        raise
    return tree


def export_files(tree: FileTree, entries: Iterable[FileEntry], dest: str | os.PathLike[str], *,
                 max_bytes: int = 1024**3) -> dict[str, FileEntry]:
    """Write the content of ``entries`` under the folder ``dest`` for tools that read paths.

    Only regular content is written (links and devices never are); directories are created
    fresh (mode 0700), files with ``O_EXCL | O_NOFOLLOW`` (mode 0600), so nothing an image
    names can make a write land outside ``dest``. An entry whose path collides with what was
    already written (a file where a directory is needed) is skipped. Returns written file path
    (as a string) -> entry. :class:`ImageError` when the total would exceed ``max_bytes``.
    """
    root = os.fspath(dest)
    written: dict[str, FileEntry] = {}
    total = 0
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    for entry in entries:
        if not entry.has_content or not entry.path:
            continue
        total += entry.size
        if total > max_bytes:
            raise ImageError(f"exporting image files: over {max_bytes} bytes")
        parts = entry.path.split("/")
        if any(p in ("", ".", "..") for p in parts):
            continue  # cannot happen for a tree built here; never trust it anyway
        folder = root
        try:
            for part in parts[:-1]:
                folder = os.path.join(folder, part)
                try:
                    os.mkdir(folder, 0o700)
                except FileExistsError:
                    if os.path.islink(folder) or not os.path.isdir(folder):
                        raise
            target = os.path.join(folder, parts[-1])
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | nofollow, 0o600)
        except OSError:
            continue
        with os.fdopen(fd, "wb") as out, tree.open(entry) as stream:
            while chunk := stream.read(_CHUNK):
                out.write(chunk)
        written[target] = entry
    return written
