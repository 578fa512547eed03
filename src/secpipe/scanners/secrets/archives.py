"""Bounded reading of archives (zip, tar) and compressed streams (gzip, bzip2, xz).

Nothing is extracted to disk and no member name is used as a path. Every read is bounded: the
bytes one top-level file may expand to, the number of members, and the size of each member. A
bound that stops the reading is reported through :class:`Budget.problems`, never skipped silently.
"""

from __future__ import annotations

import bz2
import io
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    """The bounds of one scan (picklable: sent to worker processes)."""

    max_file_bytes: int
    """Largest file (or archive member) read whole."""
    max_depth: int
    """Deepest nesting of archives and compressed layers."""
    max_archive_bytes: int
    """Most bytes one top-level file may expand to, over all its members."""
    max_members: int
    """Most members read from one top-level file."""


@dataclass
class Budget:
    """What one top-level file has used so far, and the bounds it hit."""

    limits: Limits
    expanded: int = 0
    members: int = 0
    problems: list[tuple[str | None, str]] = field(default_factory=list)
    """(member, reason) for every bound hit or unreadable container."""

    def take(self, member: str | None, size: int) -> bool:
        """Reserve ``size`` bytes for one member; False (and a problem) when over a bound."""
        if self.members >= self.limits.max_members:
            self.problems.append((member, f"more than {self.limits.max_members} archive members"))
            return False
        if self.expanded + size > self.limits.max_archive_bytes:
            self.problems.append(
                (member, f"archive expands past {self.limits.max_archive_bytes} bytes"))
            return False
        self.members += 1
        self.expanded += size
        return True


def sniff(data: bytes) -> str | None:
    """Container type from magic bytes: ``zip``, ``tar``, ``gzip``, ``bzip2``, ``xz`` or None."""
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if data[:2] == b"\x1f\x8b":
        return "gzip"
    if data[:3] == b"BZh" and data[3:4].isdigit():
        return "bzip2"
    if data[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if len(data) >= 512 and data[257:262] == b"ustar":
        return "tar"
    return None


def decompress(kind: str, data: bytes, budget: Budget, member: str | None) -> bytes | None:
    """Inflate a gzip/bzip2/xz stream, at most the remaining budget (and the member limit)."""
    limits = budget.limits
    cap = min(limits.max_archive_bytes - budget.expanded, limits.max_file_bytes)
    try:
        if kind == "gzip":
            out = zlib.decompressobj(wbits=47).decompress(data, cap + 1)
        elif kind == "bzip2":
            out = bz2.BZ2Decompressor().decompress(data, cap + 1)
        else:
            out = lzma.LZMADecompressor().decompress(data, cap + 1)
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
        budget.problems.append((member, f"corrupt {kind} stream: {type(exc).__name__}"))
        return None
    if len(out) > cap:
        budget.problems.append((member, f"{kind} stream expands past {cap} bytes (read in part)"))
        out = out[:cap]
    budget.expanded += len(out)
    return out


def zip_members(data: bytes, budget: Budget, member: str | None) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of each regular member, within the budget."""
    limit = budget.limits.max_file_bytes
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        budget.problems.append((member, f"unreadable zip archive: {exc}"))
        return
    for info in infos:
        if info.filename.endswith("/"):  # a folder (ZipInfo.is_dir() raises on an empty name)
            continue
        name = info.filename or "<unnamed member>"  # an empty name can still hold data
        if info.file_size > limit:
            budget.problems.append((_join(member, name),
                                    f"member of {info.file_size} bytes exceeds {limit}"))
            continue
        if not budget.take(_join(member, name), info.file_size):
            return
        try:
            with archive.open(info) as fh:
                payload = fh.read(limit + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError,
                RuntimeError, zlib.error) as exc:
            budget.problems.append((_join(member, name), f"unreadable member: {exc}"))
            continue
        if len(payload) > limit:  # the header lied about the size (a zip bomb)
            budget.problems.append((_join(member, name), f"member expands past {limit} bytes"))
            continue
        yield name, payload


def tar_members(data: bytes, budget: Budget, member: str | None) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of each regular member of an uncompressed tar, within the budget."""
    limit = budget.limits.max_file_bytes
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:")  # noqa: SIM115 - closed below
    except (tarfile.TarError, OSError, ValueError, EOFError) as exc:
        budget.problems.append((member, f"unreadable tar archive: {exc}"))
        return
    with archive:
        try:
            for info in archive:
                if not info.isreg():
                    continue
                name = _join(member, info.name)
                if info.size > limit:
                    budget.problems.append((name, f"member of {info.size} bytes exceeds {limit}"))
                    continue
                if not budget.take(name, info.size):
                    return
                fh = archive.extractfile(info)
                if fh is not None:
                    yield info.name, fh.read(limit)
        except (tarfile.TarError, OSError, ValueError, EOFError) as exc:
            budget.problems.append((member, f"corrupt tar archive: {exc}"))


def _join(parent: str | None, name: str) -> str:
    return f"{parent}!{name}" if parent else name
