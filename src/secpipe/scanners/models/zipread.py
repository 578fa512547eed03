"""A bounded ZIP reader that goes by the central directory, like PyTorch's and NumPy's loaders.

Python's :mod:`zipfile` refuses archives that loaders happily open (flag bits, names that differ
between the local and central headers, junk before the archive, wrong CRCs), so a scanner built
on it can be blinded. This reader locates the end-of-central-directory record from the end of the
file (junk before the archive is allowed, like ``zipfile``'s concatenation support), lists members
from the central directory (ZIP64 included), and reads a member's bytes lazily: only the first
bytes for typing, the whole member only when it is worth analysing, always within a byte limit.
Tensor members are never read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from secpipe.scanners.models.compressed import DecompressError, Unavailable, decompress
from secpipe.scanners.models.pickle_values import Buf

_EOCD = b"PK\x05\x06"
_EOCD64_LOC = b"PK\x06\x07"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"
_MAX_COMMENT = 0xFFFF + 22


class ZipError(Exception):
    """The archive structure cannot be read."""


@dataclass(frozen=True)
class Member:
    """One central-directory entry."""

    name: str
    """Name in the central directory."""
    method: int
    """Compression method (0 stored, 8 deflated, others unsupported)."""
    flags: int
    """General-purpose flag bits."""
    csize: int
    """Compressed size."""
    usize: int
    """Declared uncompressed size."""
    header_offset: int
    """Offset of the local header (junk prefix already accounted for)."""
    mode: int
    """Unix mode from the external attributes (0 when not made on Unix)."""
    local_name: str = ""
    """Name in the local header, once read."""

    @property
    def is_symlink(self) -> bool:
        return (self.mode & 0o170000) == 0o120000

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")


def find_eocd(buf: Buf) -> int:
    """Offset of the end-of-central-directory record, or -1."""
    size = len(buf)
    lo = max(0, size - _MAX_COMMENT)
    return buf.rfind(_EOCD, lo, size)


def list_members(buf: Buf, max_members: int) -> list[Member]:
    """The central directory's entries; :class:`ZipError` when it is unreadable."""
    eocd = find_eocd(buf)
    if eocd < 0 or eocd + 22 > len(buf):
        raise ZipError("no end-of-central-directory record")
    (_, _, _, _, count, cd_size, cd_offset, _) = struct.unpack("<IHHHHIIH", buf[eocd:eocd + 22])
    loc = eocd - 20
    if loc >= 0 and buf[loc:loc + 4] == _EOCD64_LOC:
        (_, _, e64_off, _) = struct.unpack("<IIQI", buf[loc:loc + 20])
        e64_at = _locate_eocd64(buf, e64_off, loc)
        if e64_at >= 0:
            (_, _, _, _, _, _, _, count, cd_size, cd_offset) = struct.unpack(
                "<IQHHIIQQQQ", buf[e64_at:e64_at + 56])
            end_cd = e64_at
        else:
            end_cd = eocd
    else:
        end_cd = eocd
    delta = end_cd - cd_size - cd_offset  # junk before the archive shifts every offset
    if delta < 0 or cd_size > len(buf):
        raise ZipError("central directory out of bounds")
    pos = cd_offset + delta
    out: list[Member] = []
    end = pos + cd_size
    while pos + 46 <= end and len(out) < max(count, 1) + 1:
        if buf[pos:pos + 4] != _CENTRAL:
            raise ZipError(f"bad central directory entry at {pos}")
        f = struct.unpack("<IHHHHHHIIIHHHHHII", buf[pos:pos + 46])
        flags, method, csize, usize = f[3], f[4], f[8], f[9]
        nlen, xlen, clen, eattr, lho = f[10], f[11], f[12], f[15], f[16]
        raw = bytes(buf[pos + 46:pos + 46 + nlen])
        extra = bytes(buf[pos + 46 + nlen:pos + 46 + nlen + xlen])
        usize, csize, lho = _zip64(extra, usize, csize, lho)
        name = raw.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        made_on = f[1] >> 8
        mode = (eattr >> 16) if made_on == 3 else 0
        out.append(Member(name, method, flags, csize, usize, lho + delta, mode))
        if len(out) > max_members:
            raise ZipError(f"more than {max_members} members")
        pos += 46 + nlen + xlen + clen
    return out


def _locate_eocd64(buf: Buf, recorded: int, loc: int) -> int:
    for at in (recorded, loc - 56):
        if 0 <= at < len(buf) and buf[at:at + 4] == b"PK\x06\x06":
            return at
    return -1


def _zip64(extra: bytes, usize: int, csize: int, lho: int) -> tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack("<HH", extra[pos:pos + 4])
        if tag == 1:
            data, i = extra[pos + 4:pos + 4 + size], 0
            if usize == 0xFFFFFFFF and i + 8 <= len(data):
                usize, i = struct.unpack("<Q", data[i:i + 8])[0], i + 8
            if csize == 0xFFFFFFFF and i + 8 <= len(data):
                csize, i = struct.unpack("<Q", data[i:i + 8])[0], i + 8
            if lho == 0xFFFFFFFF and i + 8 <= len(data):
                lho = struct.unpack("<Q", data[i:i + 8])[0]
            break
        pos += 4 + size
    return usize, csize, lho


def data_offset(buf: Buf, m: Member) -> tuple[int, str]:
    """(offset of the member's data, name in its local header)."""
    at = m.header_offset
    if at < 0 or at + 30 > len(buf) or buf[at:at + 4] != _LOCAL:
        raise ZipError(f"bad local header for {m.name!r}")
    nlen, xlen = struct.unpack("<HH", buf[at + 26:at + 30])
    local = bytes(buf[at + 30:at + 30 + nlen]).decode("utf-8", "replace")
    return at + 30 + nlen + xlen, local


_METHODS = {8: "deflate", 12: "bz2", 14: "zip-lzma"}


def read_member(buf: Buf, m: Member, limit: int) -> bytes:
    """Up to ``limit`` bytes of a member's uncompressed data (stored, deflate, bzip2, lzma)."""
    start, _ = data_offset(buf, m)
    end = min(len(buf), start + m.csize)
    if m.method == 0:
        return bytes(buf[start:min(end, start + limit)])
    kind = _METHODS.get(m.method)
    if kind is None:
        raise ZipError(f"unsupported compression method {m.method} for {m.name!r}")
    try:
        out, _ = decompress(kind, buf, limit, start, end)
    except (DecompressError, Unavailable) as exc:
        partial = exc.args[1] if len(exc.args) > 1 else b""
        if not partial:
            raise ZipError(f"{m.name!r}: {exc.args[0]}") from None
        out = partial
    return out[:limit]
