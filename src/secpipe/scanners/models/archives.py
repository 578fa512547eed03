"""Containers: ZIP (PyTorch, Keras, NumPy .npz, plain), tar, 7z and compressed streams.

Each member is typed by content (first bytes only) and read whole only when it is a format worth
analysing or its head cannot rule one out (a pickle or protobuf cut mid-stream), within the member
and total byte budgets. PyTorch storage records (``*/data/<n>``) are never read. Path traversal
names, links and decompression bombs are findings.
"""

from __future__ import annotations

import io
import posixpath
import re
import tarfile
import time
import zlib
from collections.abc import Callable
from functools import partial
from typing import IO, TYPE_CHECKING, Any

from secpipe.core.findings import Severity
from secpipe.scanners.models import configs, keras_fmt, torchscript
from secpipe.scanners.models.compressed import (
    DecompressBudget,
    DecompressError,
    Unavailable,
    decompress,
)
from secpipe.scanners.models.pickle_values import Buf
from secpipe.scanners.models.report import Where
from secpipe.scanners.models.sniff import sniff, sniff_head
from secpipe.scanners.models.zipread import ZipError, data_offset, list_members, read_member

if TYPE_CHECKING:
    from secpipe.scanners.models.engine import ModelScanner, Scan

_STORAGE = re.compile(r"(^|/)data/\d+$")
_TORCH_META = ("/version", "/byteorder", "/.data/version", "/.data/serialization_id",
               "/.format_version", "/.storage_alignment")
_HEAD = 1024
_SMALL = 1 << 20


def unsafe_name(name: str) -> str | None:
    """Why an archive member name escapes the extraction folder, or None."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        return "absolute path"
    if ".." in norm.split("/"):
        return "parent-directory (..) component"
    return None


def worth_reading(head: bytes, size: int, small: Callable[[], bytes]) -> bool:
    """Whether a member of ``size`` bytes starting with ``head`` must be read whole: its head
    names a format, or cannot rule one out (:data:`~.sniff.MORE`); a member of at most 1 MiB is
    typed whole (``small()`` reads it)."""
    kind = sniff_head(head, size)
    if kind is None and len(head) < size <= _SMALL:
        kind = sniff(small())
    return kind is not None


def _check_name(scanner: ModelScanner, name: str, where: Where, scan: Scan) -> None:
    why = unsafe_name(name)
    if why:
        scan.coll.add("models.archive.path-traversal", Severity.HIGH, where.inner(name),
                      f"member {name!r} escapes the extraction folder ({why})", key=name)


def _budget(scanner: ModelScanner, scan: Scan, where: Where, size: int) -> bool:
    b = scanner.budgets
    if size > b.max_member_bytes:
        scan.coll.incomplete(where, f"member of {size} bytes exceeds max_member_bytes "
                             f"({b.max_member_bytes})")
        return False
    if scan.bytes_read + size > b.max_total_bytes:
        scan.coll.incomplete(where, f"file exceeds max_total_bytes ({b.max_total_bytes})")
        return False
    return True


def scan_zip(scanner: ModelScanner, buf: Buf, where: Where, scan: Scan) -> None:
    """Scan a ZIP archive member by member (see the module docstring)."""
    coll = scan.coll
    try:
        members = list_members(buf, scanner.budgets.max_members)
    except ZipError as exc:
        if bytes(buf[:4]) == b"PK\x03\x04":
            coll.incomplete(where, f"unreadable zip archive: {exc}")
        return
    names = {m.name for m in members}
    torch = any(n == "data.pkl" or n.endswith("/data.pkl") for n in names)
    keras = "config.json" in names and ("metadata.json" in names or any(
        n.endswith(".weights.h5") for n in names))
    npz = bool(names) and all(n.endswith(".npy") for n in names)
    fmt = "pytorch-zip" if torch else "keras" if keras else "npz" if npz else "zip"
    if fmt != "zip":
        coll.formats.add(fmt)
    script = torchscript.records(names) if torch else frozenset()
    for m in members:
        if time.monotonic() > scan.deadline:
            coll.incomplete(where, f"time budget of {scanner.budgets.max_seconds:g}s exhausted")
            return
        _check_name(scanner, m.name, where, scan)
        inner = where.inner(m.name, "torchscript" if torchscript.is_pickle_member(
            m.name, script) else fmt)
        if m.is_symlink:
            coll.add("models.archive.link", Severity.HIGH, inner,
                     f"member {m.name!r} is a symbolic link", key=m.name)
            continue
        if m.is_dir:
            continue
        if torch and (_STORAGE.search(m.name) or m.name.endswith(_TORCH_META)):
            continue
        if m.csize and m.usize > (64 << 20) and m.usize / m.csize > scanner.budgets.bomb_ratio:
            coll.add("models.archive.bomb", Severity.HIGH, inner,
                     f"member {m.name!r} expands {m.csize} bytes to {m.usize} "
                     f"(ratio {m.usize // m.csize}:1)", key=m.name)
            continue
        try:
            _, local = data_offset(buf, m)
            if local != m.name:
                coll.add("models.archive.inconsistent", Severity.MEDIUM, inner,
                         f"local header names the member {local!r}, the central directory "
                         f"{m.name!r}", key=m.name)
            if keras and m.name.endswith(".h5"):
                continue  # weights only: Keras reads no code from model.weights.h5
            code = torchscript.is_code_member(m.name, script)  # text: read it whole
            if not code and not worth_reading(read_member(buf, m, _HEAD), m.usize,
                                 partial(read_member, buf, m, _SMALL)):
                if configs.is_config_name(m.name, True):  # YAML configs naming callables
                    text = read_member(buf, m, configs.MAX_CONFIG_BYTES + 1)
                    scan.bytes_read += len(text)
                    configs.scan_config(text, inner, coll, scanner.allow)
                continue
            if not _budget(scanner, scan, inner, m.usize):
                continue
            # never more than the central directory declares: a lying size truncates the data
            data = read_member(buf, m, min(scanner.budgets.max_member_bytes,
                                           max(m.usize, 1 << 16)))
        except ZipError as exc:
            coll.incomplete(inner, f"member could not be read: {exc}")
            continue
        scan.bytes_read += len(data)
        if code:
            torchscript.scan_code(data, inner.typed("torchscript"), coll)
            continue
        if keras and m.name == "config.json":
            keras_fmt.scan_json_config(data, inner.typed("keras"), coll)
            continue
        scanner.scan_blob(data, inner, scan)


def _more(head: bytes, fh: IO[bytes]) -> bytes:
    return head + fh.read(_SMALL)


class _MapFile(io.RawIOBase):
    """A read-only, seekable file object over a memory map (for :mod:`tarfile`)."""

    def __init__(self, buf: Buf) -> None:
        self.buf, self.pos = buf, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: len(self.buf)}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, b: Any) -> int:
        data = self.buf[self.pos:self.pos + len(b)]
        b[:len(data)] = data
        self.pos += len(data)
        return len(data)


def scan_tar(scanner: ModelScanner, buf: Buf, where: Where, scan: Scan) -> None:
    """Scan an (uncompressed) tar archive."""
    coll = scan.coll
    fileobj: Any = io.BytesIO(buf) if isinstance(buf, bytes) else _MapFile(buf)
    try:
        with tarfile.open(fileobj=fileobj, mode="r:") as tf:
            count = 0
            for ti in tf:
                count += 1
                if count > scanner.budgets.max_members:
                    coll.incomplete(where, f"more than {scanner.budgets.max_members} members")
                    break
                _check_name(scanner, ti.name, where, scan)
                inner = where.inner(ti.name, "tar")
                if ti.issym() or ti.islnk():
                    kind = "symbolic" if ti.issym() else "hard"
                    target = posixpath.normpath(posixpath.join(posixpath.dirname(ti.name),
                                                               ti.linkname))
                    coll.add("models.archive.link", Severity.HIGH, inner,
                             f"member {ti.name!r} is a {kind} link to {ti.linkname!r}"
                             + (" (outside the archive)" if unsafe_name(target) or
                                ti.linkname.startswith("/") else ""), key=ti.name)
                    continue
                if not ti.isfile():
                    continue
                fh = tf.extractfile(ti)
                if fh is None:
                    continue
                head = fh.read(_HEAD)
                if not worth_reading(head, ti.size, partial(_more, head, fh)):
                    if configs.is_config_name(ti.name, True):  # NeMo model_config.yaml …
                        fh.seek(0)
                        text = fh.read(configs.MAX_CONFIG_BYTES + 1)
                        scan.bytes_read += len(text)
                        configs.scan_config(text, inner, coll, scanner.allow)
                    continue
                if not _budget(scanner, scan, inner, ti.size):
                    continue
                fh.seek(0)
                data = fh.read(scanner.budgets.max_member_bytes)
                scan.bytes_read += len(data)
                scanner.scan_blob(data, inner, scan)
    except (tarfile.TarError, EOFError, OSError, zlib.error, ValueError) as exc:
        coll.incomplete(where, f"unreadable tar archive: {exc}")


def scan_7z(scanner: ModelScanner, buf: Buf, where: Where, scan: Scan) -> None:
    """Scan a 7z archive with py7zr when installed; otherwise say it could not be analysed."""
    coll = scan.coll
    coll.formats.add("7z")
    try:
        import py7zr
        from py7zr.io import BytesIOFactory
    except ImportError:
        coll.incomplete(where, "7z archive could not be analysed: py7zr is not installed "
                        "(pip install 'secpipe[models]')")
        return
    limit = scanner.budgets.max_member_bytes
    try:
        with py7zr.SevenZipFile(io.BytesIO(bytes(buf)), "r") as z:
            infos = z.list()
            if len(infos) > scanner.budgets.max_members:
                coll.incomplete(where, f"more than {scanner.budgets.max_members} members")
                return
            wanted = []
            for info in infos:
                _check_name(scanner, info.filename, where, scan)
                if info.is_directory:
                    continue
                size = int(info.uncompressed or 0)
                if _budget(scanner, scan, where.inner(info.filename, "7z"), size):
                    wanted.append(info.filename)
                    scan.bytes_read += size
            factory = BytesIOFactory(limit)
            z.extract(targets=wanted, factory=factory)
    except Exception as exc:  # py7zr raises many unrelated types on hostile input
        coll.incomplete(where, f"unreadable 7z archive: {type(exc).__name__}: {exc}")
        return
    for name in wanted:
        product = factory.products.get(name)
        if product is not None:
            product.seek(0)
            scanner.scan_blob(product.read(limit), where.inner(name, "7z"), scan)


def scan_compressed(scanner: ModelScanner, kind: str, buf: Buf, where: Where, scan: Scan) -> None:
    """Decompress a gzip / bz2 / xz / lzma / zlib / LZ4 stream (bounded) and scan its content."""
    limit = min(scanner.budgets.max_member_bytes,
                scanner.budgets.max_total_bytes - scan.bytes_read)
    start = 21 if kind == "zfile" else 0  # joblib < 0.10: b"ZF" + 19-byte hex length + zlib
    codec = "zlib" if kind == "zfile" else kind
    try:
        out, used = decompress(codec, buf, limit, start)
    except Unavailable as exc:
        scan.coll.incomplete(where, f"could not be analysed: {exc}")
        return
    except DecompressError as exc:
        out = exc.args[1] if len(exc.args) > 1 else b""
        used = len(buf)
        if isinstance(exc, DecompressBudget):
            scan.coll.incomplete(where, f"{kind} stream: {exc.args[0]}")
        elif not out:
            return  # not really compressed data: nothing to report
        else:
            scan.coll.incomplete(where, f"{kind} stream is corrupt after {len(out)} bytes: "
                                 f"{exc.args[0]}")
    inner = where.inner(f"[{kind}]", "joblib" if kind == "zfile" else kind)
    if len(out) > limit:
        if used and len(out) / used > scanner.budgets.bomb_ratio:
            scan.coll.add("models.archive.bomb", Severity.HIGH, where,
                          f"{kind} stream expands beyond {limit} bytes "
                          f"(ratio over {len(out) // max(used, 1)}:1)", key=kind)
        else:
            scan.coll.incomplete(where, f"{kind} stream larger than {limit} bytes")
        out = out[:limit]
    scan.bytes_read += len(out)
    scanner.scan_blob(out, inner, scan)
