"""A hand-rolled ZIP writer: full control over local vs central headers, flags, CRC, links."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

DOS_TIME, DOS_DATE = 0, (2020 - 1980) << 9 | 1 << 5 | 1


@dataclass(frozen=True)
class Member:
    """One archive member and the tricks to play on it."""

    name: str
    data: bytes
    deflate: bool = False
    flags: int = 0
    local_name: str | None = None
    """Name in the local header when it must differ from the central directory."""
    crc: int | None = None
    """Stored CRC-32 when it must be wrong."""
    mode: int = 0o100644
    """Unix mode in the external attributes (0o120777 makes a symlink)."""
    usize: int | None = None
    """Declared uncompressed size when it must lie."""
    local_flags: int | None = None
    """Flags in the local header when they must differ from the central directory."""


def _compress(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def build(members: list[Member], prefix: bytes = b"") -> bytes:
    """Return the bytes of a ZIP archive holding ``members`` (``prefix`` is prepended junk)."""
    out = bytearray(prefix)
    central = bytearray()
    for m in members:
        payload = _compress(m.data) if m.deflate else m.data
        crc = zlib.crc32(m.data) if m.crc is None else m.crc
        usize = len(m.data) if m.usize is None else m.usize
        method = 8 if m.deflate else 0
        lname = (m.local_name or m.name).encode()
        cname = m.name.encode()
        offset = len(out)
        lflags = m.flags if m.local_flags is None else m.local_flags
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, lflags, method, DOS_TIME, DOS_DATE,
                           crc, len(payload), usize, len(lname), 0)
        out += lname + payload
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 20, m.flags, method,
                               DOS_TIME, DOS_DATE, crc, len(payload), usize, len(cname), 0, 0,
                               0, 0, m.mode << 16, offset)
        central += cname
    cd_off = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central),
                       cd_off, 0)
    return bytes(out)


def zip_bomb(size: int, name: str = "weights.bin") -> bytes:
    """A single deflated member of ``size`` zero bytes (built in chunks, ~1000:1)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    crc, chunk, parts, left = 0, b"\0" * (1 << 22), [], size
    while left > 0:
        piece = chunk[: min(left, len(chunk))]
        crc = zlib.crc32(piece, crc)
        parts.append(c.compress(piece))
        left -= len(piece)
    parts.append(c.flush())
    payload = b"".join(parts)
    lname = name.encode()
    head = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, DOS_TIME, DOS_DATE, crc,
                       len(payload), size, len(lname), 0) + lname
    cd = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 20, 0, 8, DOS_TIME, DOS_DATE, crc,
                     len(payload), size, len(lname), 0, 0, 0, 0, 0o100644 << 16, 0) + lname
    body = head + payload
    return body + cd + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(cd), len(body), 0)


def torch_members(data_pkl: bytes, top: str = "archive", pkl_name: str = "data.pkl",
                  **trick: object) -> list[Member]:
    """Members of a PyTorch zip checkpoint with the given data.pkl (one float32 storage)."""
    first = Member(f"{top}/{pkl_name}", data_pkl, **trick)  # type: ignore[arg-type]
    return [
        first,
        Member(f"{top}/.format_version", b"1"),
        Member(f"{top}/.storage_alignment", b"64"),
        Member(f"{top}/byteorder", b"little"),
        Member(f"{top}/data/0", struct.pack("<3f", 0.0, 1.0, 2.0)),
        Member(f"{top}/version", b"3\n"),
        Member(f"{top}/.data/serialization_id", b"0" * 40),
    ]
