"""Pending updates of an image's dpkg packages, from apt ``Packages`` indexes (no CVE feed).

An apt ``Packages`` index lists, per binary package and architecture, the versions a suite
offers. A dpkg package whose newest version in the indexes (same binary package, same
architecture or ``all``) is newer than the installed one, by dpkg's ordering
(:func:`secpipe.images.distro_versions.dpkg_compare`), has a **pending update**; it is a
**pending security update** when a *security* suite (``bookworm-security``, Ubuntu's
``jammy-security``, Debian 10's ``buster/updates``) offers a version newer than the installed
one — even when a newer point release elsewhere is what would be installed.

Where indexes come from:

* the image's own ``/var/lib/apt/lists/*_Packages[.gz|.xz|…]`` (what ``apt-get update`` left
  there when the image was built; the suite is read from apt's file naming
  ``<host>_<path>_dists_<suite>_<component>_binary-<arch>_Packages``, ``/`` in the suite
  spelled ``_``), with the ``…_dists_<suite>_InRelease`` (or ``_Release``) next to it;
* files or folders the user names: a mirror's ``dists/<suite>/<component>/binary-<arch>/
  Packages.gz``, with ``dists/<suite>/InRelease`` (or ``Release``) two folders up, or a copy
  of an apt lists folder.

The ``Date:`` of that Release file is the index's age (an old index under-reports pending
updates). Signatures of ``InRelease`` are not checked: apt checked them when it fetched the
image's lists, and files the user names are trusted as named.

Reading is bounded and never raises on hostile content: compressed and uncompressed bytes,
stanza count, line length and the number of indexes are capped (:class:`IndexLimits`); a
malformed stanza (a line that is not ``Field: value``, a bad package name, version or
architecture, a repeated field) is counted and dropped; a corrupt or truncated stream, an index
over a bound, a compression this Python cannot read (``.lz4`` without the ``lz4`` module,
``.zst`` without ``zstandard``) are :class:`IndexProblem` s, which :func:`pending_findings`
reports as ``image.incomplete``. Only a user-named path that does not exist or holds no index
raises (:class:`AptIndexError`, an :class:`~secpipe.core.errors.InputError`).
"""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import importlib
import io
import lzma
import os
import re
import stat
import threading
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, Literal, cast

from secpipe.core.errors import InputError
from secpipe.core.findings import Confidence, Finding, Location, Severity
from secpipe.images.distro_versions import InvalidDistroVersion, dpkg_compare, parse_dpkg
from secpipe.images.layers import FileTree
from secpipe.images.layout import ImageError
from secpipe.images.pkg_model import DEB, Distro, ImageInventory, Package

SCANNER = "scan-image"
PENDING_SECURITY = "image.pending-security-update"
PENDING = "image.pending-update"
INDEX_STALE = "image.apt-index-stale"
INCOMPLETE = "image.incomplete"
LISTS = "var/lib/apt/lists"
"""Where apt keeps its indexes inside an image (tree paths have no leading slash)."""
SUFFIXES = ("", ".gz", ".xz", ".bz2", ".lzma", ".lz4", ".zst")
"""File name endings of a ``Packages`` index that are read (compression found by magic)."""
MAX_LISTED_PROBLEMS = 20
"""Most problems of one index kept one by one (the rest are counted)."""
KNOWN_CODENAMES = frozenset({
    "stretch", "buster", "bullseye", "bookworm", "trixie", "forky", "duke",
    "xenial", "bionic", "focal", "jammy", "noble", "oracular", "plucky", "questing"})
"""Debian and Ubuntu codenames recognised in a suite name without a Release file."""
_SUITE_ALIASES = {"stable", "oldstable", "oldoldstable", "testing", "unstable", "sid",
                  "experimental", "devel"}
_LISTS_NAME = re.compile(
    r"^(?P<prefix>.+)_dists_(?P<suite>.+)_(?P<component>[^_]+)_binary-(?P<arch>[^_]+)"
    r"_Packages(?P<ext>\.[a-z0-9]+)?$")
_FLAT_NAME = re.compile(r"^(?P<prefix>.+)_Packages(?P<ext>\.[a-z0-9]+)?$")
_FIELD = re.compile(rb"^([A-Za-z0-9][A-Za-z0-9-]*):")
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_ARCH = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_SOURCE = re.compile(r"^([a-z0-9][a-z0-9+.-]+)(?:\s*\(([^()\s]+)\))?$")
_WANTED_FIELDS = (b"package", b"version", b"architecture", b"source")
_CHUNK = 1 << 20

Origin = Literal["image", "file"]


class AptIndexError(InputError):
    """A ``Packages`` index the user named does not exist, is not a regular file or folder,
    or a named folder holds no index."""


@dataclass(frozen=True)
class IndexLimits:
    """Bounds on reading ``Packages`` indexes (defaults fit Debian's and Ubuntu's largest)."""

    max_compressed_bytes: int = 256 << 20
    """Largest index file read (as stored)."""
    max_bytes: int = 1 << 30
    """Most uncompressed bytes read from one index (a decompression bomb stops there)."""
    max_stanzas: int = 500_000
    """Most stanzas read from one index (Debian 12 main amd64 has about 64 000)."""
    max_line_bytes: int = 1 << 20
    """Longest line; a longer one makes its stanza malformed (Debian 12's longest real line,
    a ``Provides:`` of ``librust-winapi-dev``, is 75 KB)."""
    max_indexes: int = 64
    """Most index files read (image and user-named together)."""
    max_release_bytes: int = 8 << 20
    """Largest ``Release``/``InRelease`` read for its ``Date:``."""
    max_walk_entries: int = 20_000
    """Most directory entries looked at in a user-named folder."""
    max_walk_depth: int = 8
    """Deepest folder looked into below a user-named folder."""


@dataclass(frozen=True)
class IndexProblem:
    """An index (or part of one) that could not be read: never silently skipped."""

    index: str
    reason: str


@dataclass(frozen=True)
class Candidate:
    """The newest version of one binary package for one architecture in one index."""

    version: str
    source: str
    """The source package (``Source:`` without its version; the package name without one)."""
    source_version: str
    """The source version (``Source: name (version)``; else the binary version)."""


@dataclass(frozen=True)
class AptIndex:
    """One ``Packages`` index that was read, and what reading it found."""

    name: str
    """How reports name it: ``/var/lib/apt/lists/<file>`` in the image, or the user's path."""
    origin: Origin
    suite: str
    """The suite (``bookworm-security``, ``buster/updates``); ``""`` when not known."""
    component: str
    security: bool
    """Whether it is a security suite (by suite name, or its Release's Suite/Label)."""
    stanzas: int
    malformed: int
    complete: bool
    """False when reading stopped early (over a bound, corrupt, truncated, unreadable)."""
    date: dt.datetime | None = None
    """The ``Date:`` of the Release/InRelease next to it (UTC), when there is one."""
    release: str = ""
    """Where that Release/InRelease is."""
    codename: str = ""
    """The Release's ``Codename:`` when it has one."""
    vendor: str = ""
    """The Release's ``Origin:`` (``Debian``, ``Ubuntu``, a third party's name)."""
    entries: dict[tuple[str, str], Candidate] = field(default_factory=dict, repr=False,
                                                      compare=False, hash=False)
    """``(package, architecture)`` -> the newest candidate (only the packages asked for)."""

    def age_days(self, now: dt.datetime | None = None) -> float | None:
        """Days since the Release ``Date:`` (None without one)."""
        if self.date is None:
            return None
        moment = now or dt.datetime.now(dt.UTC)
        return (moment - self.date).total_seconds() / 86400.0


@dataclass(frozen=True)
class PendingUpdate:
    """An installed dpkg package that an index offers a newer version of."""

    package: str
    architecture: str
    installed: str
    available: str
    """The newest version in every index read (what ``apt-get upgrade`` would install)."""
    index: str
    """The index the newest version is in (:attr:`AptIndex.name`)."""
    suite: str
    security: bool
    """A security suite offers a version newer than the installed one."""
    security_version: str = ""
    """The newest version a security suite offers (``""`` when not a security update)."""
    security_index: str = ""
    source: str = ""
    """The source package of the available version."""
    location: str = ""
    """The dpkg database that records the installed package."""


@dataclass(frozen=True)
class PendingReport:
    """The pending updates of one image, the indexes read and what could not be read."""

    updates: tuple[PendingUpdate, ...]
    indexes: tuple[AptIndex, ...]
    problems: tuple[IndexProblem, ...]
    checked: int
    """How many installed dpkg packages were compared."""
    skipped: tuple[IndexProblem, ...] = ()
    """Indexes left out as another release's (not a problem: they do not apply)."""

    @property
    def security_updates(self) -> tuple[PendingUpdate, ...]:
        """The pending updates a security suite offers."""
        return tuple(u for u in self.updates if u.security)

    def note(self) -> str:
        """One line for a step's message."""
        left = f" ({len(self.skipped)} index(es) of another release left out)" \
            if self.skipped else ""
        if not self.indexes:
            return "pending updates: no apt Packages index in the image or named" + left
        return (f"pending updates: {len(self.security_updates)} security, "
                f"{len(self.updates) - len(self.security_updates)} other, of {self.checked} "
                f"dpkg packages against {len(self.indexes)} apt index(es)" + left)


# ---------------------------------------------------------------- streams


class _BudgetExceeded(Exception):
    pass


def _open_decompressed(raw: BinaryIO) -> IO[bytes]:
    """``raw`` decompressed by its magic bytes (gzip, xz/lzma, bzip2, lz4, zstd, or plain)."""
    head = raw.read(6)
    raw.seek(0)
    if head.startswith(b"\x1f\x8b"):
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
    if head.startswith(b"\xfd7zXZ\x00") or head.startswith(b"\x5d\x00\x00"):
        return lzma.LZMAFile(raw, mode="rb")
    if head.startswith(b"BZh"):
        return bz2.BZ2File(raw, mode="rb")
    if head.startswith(b"\x04\x22\x4d\x18"):
        try:
            frame = importlib.import_module("lz4.frame")
        except ImportError:  # the own decoder below (slower, same result)
            return cast(IO[bytes], io.BufferedReader(Lz4FrameReader(raw), _CHUNK))
        stream: IO[bytes] = frame.open(raw, mode="rb")
        return stream
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        try:
            zstd = importlib.import_module("zstandard")
        except ImportError:
            raise _Unreadable("zstd-compressed, and the zstandard module is not "
                              "installed") from None
        reader: IO[bytes] = zstd.ZstdDecompressor().stream_reader(raw)
        return reader
    return raw


class _Unreadable(Exception):
    pass


class Lz4Error(ValueError):
    """An LZ4 frame that does not decode (corrupt, truncated, or over a bound)."""


_LZ4_MAGIC = 0x184D2204
_LZ4_BLOCK_MAX = {4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20}
_LZ4_WINDOW = 64 << 10


def lz4_block(src: bytes | memoryview, window: bytes, limit: int) -> bytes:
    """Decode one LZ4 block (the format of lz4's ``lz4_Block_format.md``) whose matches may
    reach back into ``window`` (the previous output, for linked blocks); at most ``limit``
    bytes out, else :class:`Lz4Error`."""
    data = bytes(src)
    out = bytearray(window)
    base = len(out)
    end = base + limit
    pos, size = 0, len(data)
    while pos < size:
        token = data[pos]
        pos += 1
        length = token >> 4
        if length == 15:
            while True:
                if pos >= size:
                    raise Lz4Error("truncated literal length")
                extra = data[pos]
                pos += 1
                length += extra
                if extra != 255:
                    break
        if pos + length > size:
            raise Lz4Error("literals run past the block")
        if len(out) + length > end:
            raise Lz4Error(f"block decodes to more than {limit} bytes")
        out += data[pos:pos + length]
        pos += length
        if pos >= size:
            break  # the last sequence has literals only
        if pos + 2 > size:
            raise Lz4Error("truncated match offset")
        offset = data[pos] | (data[pos + 1] << 8)
        pos += 2
        if offset == 0 or offset > len(out):
            raise Lz4Error("match offset outside the decoded data")
        length = token & 15
        if length == 15:
            while True:
                if pos >= size:
                    raise Lz4Error("truncated match length")
                extra = data[pos]
                pos += 1
                length += extra
                if extra != 255:
                    break
        length += 4
        if len(out) + length > end:
            raise Lz4Error(f"block decodes to more than {limit} bytes")
        start = len(out) - offset
        if offset >= length:
            out += out[start:start + length]
        else:  # overlapping: the last ``offset`` bytes repeat
            pattern = bytes(out[start:])
            out += (pattern * (length // offset + 1))[:length]
    return bytes(out[base:])


class Lz4FrameReader(io.RawIOBase):
    """A read-only stream of the content of LZ4 frames (what apt writes as ``*.lz4``: the
    ``lz4`` frame format, version 01), decoded in pure Python when the ``lz4`` module is not
    installed. Skippable frames are skipped; checksums are not verified (no xxHash in the
    standard library); a malformed frame raises :class:`Lz4Error` from ``read``."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self._pending = b""
        self._window = b""
        self._in_frame = False
        self._done = False
        self._block_max = 0
        self._linked = False
        self._block_sum = False
        self._content_sum = False

    def readable(self) -> bool:
        return True

    def _exact(self, n: int, what: str) -> bytes:
        data = self._raw.read(n)
        if len(data) != n:
            raise Lz4Error(f"truncated {what}")
        return data

    def _frame_header(self) -> bool:
        head = self._raw.read(4)
        if not head:
            return False
        if len(head) != 4:
            raise Lz4Error("truncated frame magic")
        magic = int.from_bytes(head, "little")
        if 0x184D2A50 <= magic <= 0x184D2A5F:  # skippable frame
            skip = int.from_bytes(self._exact(4, "skippable frame size"), "little")
            if len(self._raw.read(skip)) != skip:
                raise Lz4Error("truncated skippable frame")
            return self._frame_header()
        if magic != _LZ4_MAGIC:
            raise Lz4Error("not an LZ4 frame")
        flg, bd = self._exact(2, "frame descriptor")
        if flg >> 6 != 1 or flg & 0x02 or bd & 0x8F:
            raise Lz4Error("unsupported LZ4 frame version or reserved bits set")
        if flg & 0x01:
            raise Lz4Error("LZ4 frame with a dictionary id: not supported")
        self._block_max = _LZ4_BLOCK_MAX.get((bd >> 4) & 7, 0)
        if not self._block_max:
            raise Lz4Error("bad LZ4 block maximum size")
        self._linked = not flg & 0x20
        self._block_sum = bool(flg & 0x10)
        self._content_sum = bool(flg & 0x04)
        self._exact((8 if flg & 0x08 else 0) + 1, "frame descriptor")  # size, header checksum
        self._window = b""
        return True

    def _next_block(self) -> bytes | None:
        while True:
            if not self._in_frame:
                if not self._frame_header():
                    return None
                self._in_frame = True
            word = int.from_bytes(self._exact(4, "block size"), "little")
            if word == 0:  # end mark
                if self._content_sum:
                    self._exact(4, "content checksum")
                self._in_frame = False
                continue
            size = word & 0x7FFFFFFF
            if size > self._block_max:
                raise Lz4Error("block larger than the frame's maximum")
            data = self._exact(size, "block")
            if self._block_sum:
                self._exact(4, "block checksum")
            if word & 0x80000000:
                block = data
            else:
                block = lz4_block(data, self._window if self._linked else b"",
                                  self._block_max)
            if self._linked:
                self._window = (self._window + block)[-_LZ4_WINDOW:]
            if block:
                return block

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending and not self._done:
            block = self._next_block()
            if block is None:
                self._done = True
            else:
                self._pending = block
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _lines(stream: IO[bytes], limits: IndexLimits,
           cancel: threading.Event | None) -> Iterator[bytes | None]:
    """Lines of ``stream`` without their end; ``None`` for a line over the length bound
    (the rest of it skipped). Raises :class:`_BudgetExceeded` past ``max_bytes``."""
    total = 0
    cap = limits.max_line_bytes
    count = 0
    while True:
        line = stream.readline(cap + 1)
        if not line:
            return
        total += len(line)
        count += 1
        if count & 0xFFFF == 0 and cancel is not None and cancel.is_set():
            raise _BudgetExceeded("cancelled")
        if len(line) > cap and not line.endswith(b"\n"):
            while True:  # skip the rest of the long line, counting it
                more = stream.readline(_CHUNK)
                total += len(more)
                if total > limits.max_bytes:
                    raise _BudgetExceeded(f"more than {limits.max_bytes} uncompressed bytes")
                if not more or more.endswith(b"\n"):
                    break
            yield None
            continue
        if total > limits.max_bytes:
            raise _BudgetExceeded(f"more than {limits.max_bytes} uncompressed bytes")
        yield line.rstrip(b"\r\n")


# ---------------------------------------------------------------- Packages parsing


@dataclass
class ParsedIndex:
    """What :func:`parse_packages` read from one stream."""

    entries: dict[tuple[str, str], Candidate]
    stanzas: int = 0
    malformed: int = 0
    complete: bool = True
    problems: list[str] = field(default_factory=list)


def _stanza_problem(parsed: ParsedIndex, reason: str) -> None:
    parsed.malformed += 1
    if len(parsed.problems) < MAX_LISTED_PROBLEMS:
        parsed.problems.append(reason)


def _finish_stanza(parsed: ParsedIndex, fields: dict[bytes, bytes], start: int,
                   wanted: Collection[str] | None) -> None:
    try:
        name = fields[b"package"].decode("ascii").strip()
        version = fields[b"version"].decode("ascii").strip()
        arch = fields[b"architecture"].decode("ascii").strip()
        source_field = fields.get(b"source", b"").decode("ascii").strip()
    except KeyError as exc:
        _stanza_problem(parsed, f"stanza at line {start}: no {exc.args[0].decode()} field")
        return
    except UnicodeDecodeError:
        _stanza_problem(parsed, f"stanza at line {start}: non-ASCII package, version, "
                                "architecture or source")
        return
    if not _PACKAGE.match(name):
        _stanza_problem(parsed, f"stanza at line {start}: bad package name {name[:60]!r}")
        return
    if not _ARCH.match(arch):
        _stanza_problem(parsed, f"stanza at line {start}: bad architecture {arch[:60]!r}")
        return
    try:
        parse_dpkg(version)
    except InvalidDistroVersion as exc:
        _stanza_problem(parsed, f"stanza at line {start} ({name}): {exc.message}")
        return
    source, source_version = name, version
    if source_field:
        match = _SOURCE.match(source_field)
        if match is None:
            _stanza_problem(parsed, f"stanza at line {start} ({name}): bad Source field "
                                    f"{source_field[:60]!r}")
            return
        source, source_version = match.group(1), match.group(2) or version
        if match.group(2) is not None and not _valid_dpkg(source_version):
            _stanza_problem(parsed, f"stanza at line {start} ({name}): bad source version")
            return
    if wanted is not None and name not in wanted:
        return
    key = (name, arch)
    have = parsed.entries.get(key)
    if have is None or dpkg_compare(version, have.version) > 0:
        parsed.entries[key] = Candidate(version, source, source_version)


def _valid_dpkg(text: str) -> bool:
    try:
        parse_dpkg(text)
    except InvalidDistroVersion:
        return False
    return True


def parse_packages(stream: IO[bytes], *, wanted: Collection[str] | None = None,
                   limits: IndexLimits = IndexLimits(),
                   cancel: threading.Event | None = None) -> ParsedIndex:
    """Read one (decompressed) ``Packages`` stream: the newest candidate per (package,
    architecture), restricted to ``wanted`` names when given, with stanza counts and problems.

    Never raises on content: a malformed stanza is counted and dropped; a bound reached stops
    reading and marks the result incomplete.
    """
    parsed = ParsedIndex(entries={})
    fields: dict[bytes, bytes] = {}
    bad = False
    start = 1
    number = 0
    seen_any = False
    try:
        for line in _lines(stream, limits, cancel):
            number += 1
            if line is not None and not line.strip():
                if seen_any:
                    parsed.stanzas += 1
                    if not bad:
                        _finish_stanza(parsed, fields, start, wanted)
                    if parsed.stanzas >= limits.max_stanzas:
                        raise _BudgetExceeded(f"more than {limits.max_stanzas} stanzas")
                fields, bad, seen_any, start = {}, False, False, number + 1
                continue
            seen_any = True
            if bad:
                continue
            if line is None:
                bad = True
                _stanza_problem(parsed, f"line {number}: longer than {limits.max_line_bytes} "
                                        f"bytes (stanza from line {start} dropped)")
                continue
            if line[:1] in (b" ", b"\t"):
                if not fields:
                    bad = True
                    _stanza_problem(parsed, f"line {number}: continuation line outside a field")
                continue
            match = _FIELD.match(line)
            if match is None:
                bad = True
                _stanza_problem(parsed, f"line {number}: not a 'Field: value' line (stanza "
                                        f"from line {start} dropped)")
                continue
            key = match.group(1).lower()
            if key in fields:
                bad = True
                _stanza_problem(parsed, f"line {number}: field {key.decode()} repeated (stanza "
                                        f"from line {start} dropped)")
                continue
            fields[key] = line[match.end():].strip() if key in _WANTED_FIELDS else b""
        if seen_any:
            parsed.stanzas += 1
            if not bad:
                _finish_stanza(parsed, fields, start, wanted)
    except _BudgetExceeded as exc:
        parsed.complete = False
        parsed.problems.append(f"{exc}: the rest not read")
    except (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError) as exc:
        parsed.complete = False
        parsed.problems.append(f"corrupt or truncated after line {number}: "
                               f"{type(exc).__name__}: {str(exc)[:120]}")
    return parsed


# ---------------------------------------------------------------- Release files


@dataclass(frozen=True)
class ReleaseInfo:
    """What of a ``Release``/``InRelease`` file is used."""

    date: dt.datetime | None
    suite: str
    codename: str
    label: str
    origin: str


def parse_release(data: bytes) -> ReleaseInfo:
    """The ``Date``, ``Suite``, ``Codename``, ``Label`` and ``Origin`` of a Release file (an
    InRelease's clear-signed text is read without checking the signature)."""
    text = data.decode("utf-8", errors="replace")
    lines = text.splitlines()
    if lines and lines[0].startswith("-----BEGIN PGP SIGNED MESSAGE-----"):
        try:
            lines = lines[lines.index("") + 1:]
        except ValueError:
            lines = []
    values: dict[str, str] = {}
    for line in lines:
        if line.startswith("-----BEGIN PGP SIGNATURE-----") or not line.strip():
            break
        if line[:1] in (" ", "\t") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        values.setdefault(key.strip().lower(), value.strip())
    date: dt.datetime | None = None
    if values.get("date"):
        try:
            date = parsedate_to_datetime(values["date"])
        except (TypeError, ValueError, IndexError):
            date = None
        if date is not None and date.tzinfo is None:
            date = date.replace(tzinfo=dt.UTC)
    return ReleaseInfo(date=date, suite=values.get("suite", ""),
                       codename=values.get("codename", ""), label=values.get("label", ""),
                       origin=values.get("origin", ""))


def is_security_suite(suite: str, release: ReleaseInfo | None = None) -> bool:
    """Whether ``suite`` (or its Release's Suite, Codename or Label) is a security suite."""
    names = [suite]
    if release is not None:
        names += [release.suite, release.codename]
    for name in names:
        low = name.lower().rstrip("/")
        if low.endswith("-security") or low.endswith("/updates"):
            return True
    return release is not None and "security" in release.label.lower()


# ---------------------------------------------------------------- where indexes are


@dataclass(frozen=True)
class _Source:
    name: str
    origin: Origin
    suite: str
    component: str
    open: Callable[[], BinaryIO]
    size: int
    release: Callable[[int], tuple[str, bytes] | None]


def _index_name_parts(filename: str) -> tuple[str, str, str] | None:
    """``(suite, component, release prefix)`` of an apt lists file name; None if it is not a
    ``Packages`` list."""
    match = _LISTS_NAME.match(filename)
    if match is not None and (match.group("ext") or "") in SUFFIXES:
        suite = match.group("suite").replace("_", "/")
        return suite, match.group("component"), f"{match.group('prefix')}_dists_" \
                                                 f"{match.group('suite')}_"
    match = _FLAT_NAME.match(filename)
    if match is not None and (match.group("ext") or "") in SUFFIXES:
        return "", "", f"{match.group('prefix')}_"
    return None


def _tree_sources(tree: FileTree, limits: IndexLimits,
                  problems: list[IndexProblem]) -> list[_Source]:
    try:
        folder = tree.resolve(LISTS, follow_last=True)
    except (ImageError, RecursionError):
        return []
    if folder is None or folder.type != "dir":
        return []
    out: list[_Source] = []
    for full in tree.listdir(folder.path):
        filename = full.rpartition("/")[2]
        parts = _index_name_parts(filename)
        if parts is None:
            continue
        suite, component, prefix = parts
        try:
            entry = tree.resolve(full, follow_last=True)
        except (ImageError, RecursionError):
            entry = None
        shown = "/" + full
        if entry is None or not entry.has_content:
            problems.append(IndexProblem(shown, "not a regular file: not read"))
            continue

        def opener(e: Any = entry) -> BinaryIO:
            return tree.open(e)

        def release(limit: int, p: str = prefix,
                    d: str = folder.path) -> tuple[str, bytes] | None:
            for tail in ("InRelease", "Release"):
                path = f"{d}/{p}{tail}"
                try:
                    data = tree.read_path(path, limit=limit)
                except (ImageError, RecursionError):
                    data = None
                if data is not None:
                    return "/" + path, data
            return None

        out.append(_Source(shown, "image", suite, component, opener, entry.size, release))
    return out


def _is_index_file(name: str) -> bool:
    if any(name == "Packages" + s for s in SUFFIXES):
        return True
    return _index_name_parts(name) is not None


def _walk(root: Path, limits: IndexLimits) -> Iterator[Path]:
    seen = 0
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > limits.max_walk_entries:
                return
            try:
                if entry.is_dir(follow_symlinks=False):
                    if depth < limits.max_walk_depth:
                        stack.append((Path(entry.path), depth + 1))
                elif entry.is_file(follow_symlinks=False) and _is_index_file(entry.name):
                    yield Path(entry.path)
            except OSError:
                continue


def _mirror_parts(path: Path) -> tuple[str, str]:
    """``(suite, component)`` of ``…/dists/<suite>/<component>/binary-<arch>/Packages``."""
    parts = path.parts
    if "dists" in parts[:-1] and len(parts) >= 4 and parts[-2].startswith("binary-"):
        at = len(parts) - 1 - parts[::-1].index("dists")
        suite_parts = parts[at + 1:-3]
        if suite_parts:
            return "/".join(suite_parts), parts[-3]
    return "", ""


def _read_local(path: Path, limit: int) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read(limit + 1)[:limit]
    finally:
        os.close(fd)


def _file_source(path: Path) -> _Source:
    filename = path.name
    lists = _index_name_parts(filename)
    if lists is not None and lists[0]:
        suite, component, prefix = lists
        release_candidates = [path.parent / f"{prefix}InRelease", path.parent / f"{prefix}Release"]
    else:
        suite, component = _mirror_parts(path)
        release_candidates = []
        for up in (path.parent, path.parent.parent, path.parent.parent.parent):
            release_candidates += [up / "InRelease", up / "Release"]

    def opener() -> BinaryIO:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        handle = os.fdopen(fd, "rb")
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            handle.close()
            raise _Unreadable("not a regular file")
        return handle

    def release(limit: int) -> tuple[str, bytes] | None:
        for candidate in release_candidates:
            data = _read_local(candidate, limit)
            if data is not None and b"\ndate:" in b"\n" + data.lower().replace(b"\r", b""):
                return str(candidate), data
        return None

    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    return _Source(str(path), "file", suite, component, opener, size, release)


def user_index_files(paths: Iterable[str | os.PathLike[str]],
                     limits: IndexLimits = IndexLimits()) -> list[Path]:
    """The ``Packages`` index files the user named: each a file, or a folder searched
    (bounded) for ``Packages[.gz|.xz|…]`` and apt lists ``*_Packages[…]`` files.

    Raises :class:`AptIndexError` for a path that does not exist, is neither a regular file
    nor a folder, or a folder without an index.
    """
    out: list[Path] = []
    for named in paths:
        path = Path(named)
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise AptIndexError(f"apt index {path}: {exc.strerror or 'cannot be read'}",
                                hint="name a Packages file or a folder that holds one "
                                     "(dists/<suite>/<component>/binary-<arch>/)") from None
        if stat.S_ISDIR(mode):
            found = list(_walk(path, limits))
            if not found:
                raise AptIndexError(f"apt index folder {path}: no Packages index in it")
            out.extend(found)
        elif stat.S_ISREG(mode):
            out.append(path)
        else:
            raise AptIndexError(f"apt index {path}: not a regular file or folder")
    return list(dict.fromkeys(out))


# ---------------------------------------------------------------- reading sources


def _read_source(src: _Source, wanted: Collection[str] | None, limits: IndexLimits,
                 problems: list[IndexProblem], cancel: threading.Event | None) -> AptIndex:
    parsed: ParsedIndex | None = None
    if src.size > limits.max_compressed_bytes:
        problems.append(IndexProblem(src.name, f"{src.size} bytes, over the bound "
                                               f"{limits.max_compressed_bytes}: not read"))
        parsed = ParsedIndex(entries={}, complete=False)
    else:
        try:
            with src.open() as raw:
                stream = _open_decompressed(raw)
                try:
                    parsed = parse_packages(stream, wanted=wanted, limits=limits, cancel=cancel)
                finally:
                    if stream is not raw:
                        stream.close()
        except _Unreadable as exc:
            problems.append(IndexProblem(src.name, f"{exc}: not read"))
        except (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError, ImageError) as exc:
            problems.append(IndexProblem(src.name, f"cannot be read: {type(exc).__name__}: "
                                                   f"{str(exc)[:120]}"))
        if parsed is None:
            parsed = ParsedIndex(entries={}, complete=False)
    for reason in parsed.problems:
        problems.append(IndexProblem(src.name, reason))
    if parsed.malformed > MAX_LISTED_PROBLEMS:
        problems.append(IndexProblem(src.name, f"{parsed.malformed} malformed stanzas in all "
                                               f"({MAX_LISTED_PROBLEMS} listed)"))
    info: ReleaseInfo | None = None
    where = ""
    try:
        found = src.release(limits.max_release_bytes)
    except OSError:
        found = None
    if found is not None:
        where, data = found
        info = parse_release(data)
    return AptIndex(name=src.name, origin=src.origin, suite=src.suite or (info.suite if info
                                                                              else ""),
                    component=src.component, security=is_security_suite(src.suite, info),
                    stanzas=parsed.stanzas, malformed=parsed.malformed,
                    complete=parsed.complete, date=info.date if info else None,
                    release=where, codename=info.codename if info else "",
                    vendor=info.origin if info else "",
                    entries=parsed.entries)


def _release_mismatch(index: AptIndex, distro: Distro | None) -> str | None:
    """Why ``index`` is not for the image's release (None when it may be): a Debian or Ubuntu
    index (by its Release's ``Origin:``, or without one by a known codename) of another
    codename than the image's. Third-party suites (``nodistro``, ``stable``) are kept."""
    if distro is None or not distro.codename:
        return None
    vendor = index.vendor.lower()
    for name in (index.codename, index.suite):
        base = re.split(r"[-/]", name, maxsplit=1)[0].lower() if name else ""
        if not base or base in _SUITE_ALIASES:
            continue
        ours = vendor in ("debian", "ubuntu") or (not vendor and base in KNOWN_CODENAMES)
        if ours and base != distro.codename.lower():
            return f"an index of {name}, the image is {distro.codename}: not used"
        return None
    return None


def read_indexes(tree: FileTree | None, user_paths: Sequence[str | os.PathLike[str]] = (), *,
                 wanted: Collection[str] | None = None, distro: Distro | None = None,
                 limits: IndexLimits = IndexLimits(),
                 cancel: threading.Event | None = None
                 ) -> tuple[list[AptIndex], list[IndexProblem], list[IndexProblem]]:
    """Every index of the image's ``/var/lib/apt/lists`` (when ``tree`` is given) and of
    ``user_paths``, the problems met, and the indexes left out: a Debian or Ubuntu index of
    another release than ``distro``'s codename (a foreign suite pinned in, or the wrong
    mirror named) is not applied to this image's packages.

    Raises :class:`AptIndexError` only for a user-named path that does not exist or holds no
    index.
    """
    problems: list[IndexProblem] = []
    skipped: list[IndexProblem] = []
    sources = _tree_sources(tree, limits, problems) if tree is not None else []
    sources += [_file_source(p) for p in user_index_files(user_paths, limits)]
    if len(sources) > limits.max_indexes:
        problems.append(IndexProblem(sources[limits.max_indexes].name,
                                     f"more than {limits.max_indexes} indexes: "
                                     f"{len(sources) - limits.max_indexes} not read"))
        sources = sources[:limits.max_indexes]
    indexes: list[AptIndex] = []
    for src in sources:
        if cancel is not None and cancel.is_set():
            problems.append(IndexProblem(src.name, "cancelled: not read"))
            break
        index = _read_source(src, wanted, limits, problems, cancel)
        why = _release_mismatch(index, distro)
        if why is not None:
            skipped.append(IndexProblem(index.name, why))
            continue
        indexes.append(index)
    return indexes, problems, skipped


# ---------------------------------------------------------------- pending updates


def _candidates(index: AptIndex, package: Package) -> Iterator[Candidate]:
    arch = package.arch
    if arch is None:
        for (name, _), cand in index.entries.items():
            if name == package.name:
                yield cand
        return
    for key in ((package.name, arch), (package.name, "all")):
        found = index.entries.get(key)
        if found is not None:
            yield found


def pending_updates(packages: Iterable[Package], indexes: Sequence[AptIndex]
                    ) -> tuple[list[PendingUpdate], list[IndexProblem], int]:
    """The pending updates of the dpkg packages among ``packages`` against ``indexes``
    (newest version wins; a tie prefers a security index), problems (an installed version
    dpkg cannot order), and how many packages were compared."""
    updates: list[PendingUpdate] = []
    problems: list[IndexProblem] = []
    checked = 0
    for package in packages:
        if package.ecosystem != DEB:
            continue
        checked += 1
        where = package.locations[0] if package.locations else "/var/lib/dpkg/status"
        if not _valid_dpkg(package.version):
            problems.append(IndexProblem(where, f"{package.name}: installed version "
                                                f"{package.version[:60]!r} cannot be ordered: "
                                                "pending updates not checked"))
            continue
        best: tuple[Candidate, AptIndex] | None = None
        best_security: tuple[Candidate, AptIndex] | None = None
        for index in indexes:
            for cand in _candidates(index, package):
                if dpkg_compare(cand.version, package.version) <= 0:
                    continue
                if best is None or _newer(cand, index, *best):
                    best = (cand, index)
                if index.security and (best_security is None
                                       or _newer(cand, index, *best_security)):
                    best_security = (cand, index)
        if best is None:
            continue
        cand, index = best
        updates.append(PendingUpdate(
            package=package.name, architecture=package.arch or "", installed=package.version,
            available=cand.version, index=index.name, suite=index.suite,
            security=best_security is not None,
            security_version=best_security[0].version if best_security else "",
            security_index=best_security[1].name if best_security else "",
            source=cand.source, location=where))
    return updates, problems, checked


def _newer(cand: Candidate, index: AptIndex, have: Candidate, have_index: AptIndex) -> bool:
    order = dpkg_compare(cand.version, have.version)
    return order > 0 or (order == 0 and index.security and not have_index.security)


def check_pending(inv: ImageInventory, tree: FileTree | None,
                  user_paths: Sequence[str | os.PathLike[str]] = (), *,
                  limits: IndexLimits = IndexLimits(),
                  cancel: threading.Event | None = None) -> PendingReport:
    """The pending updates of an image's dpkg packages, against the image's own apt lists
    (``tree``) and the indexes the user names (``user_paths``: files or folders)."""
    debs = [p for p in inv.packages if p.ecosystem == DEB]
    if not debs:
        return PendingReport((), (), (), 0)
    wanted = {p.name for p in debs}
    indexes, problems, skipped = read_indexes(tree, user_paths, wanted=wanted,
                                              distro=inv.distro, limits=limits, cancel=cancel)
    if not indexes:
        return PendingReport((), (), tuple(problems), len(debs), tuple(skipped))
    updates, more, checked = pending_updates(debs, indexes)
    return PendingReport(tuple(updates), tuple(indexes), tuple(problems + more), checked,
                         tuple(skipped))


# ---------------------------------------------------------------- findings


def pending_findings(report: PendingReport, image: str, *,
                     max_index_age_days: float | None = 30.0,
                     now: dt.datetime | None = None) -> list[Finding]:
    """Findings of ``report`` for the image named ``image``.

    ``image.pending-security-update`` (medium): a security suite offers a newer version.
    ``image.pending-update`` (info): a newer version that no security suite offers (hygiene,
    not a known risk: it never moves a severity gate). ``image.apt-index-stale`` (low): an
    index whose Release ``Date:`` is older than ``max_index_age_days`` (None: not checked),
    so pending updates may be under-reported. ``image.incomplete`` (high): an index or part of
    one that could not be read, one finding per index and reason kind.
    """
    out: list[Finding] = []
    for update in report.updates:
        out.append(_update_finding(update, image))
    if max_index_age_days is not None:
        for index in report.indexes:
            age = index.age_days(now)
            if age is not None and age > max_index_age_days:
                out.append(Finding.create(
                    rule_id=INDEX_STALE, title="apt index older than allowed",
                    severity=Severity.LOW, scanner=SCANNER,
                    location=Location(path=index.name.lstrip("/") or "/"),
                    message=f"{image}: {index.name} ({index.suite or 'suite unknown'}): "
                            f"Release dated {index.date:%Y-%m-%d}, {age:.0f} days old "
                            f"(max {max_index_age_days:g}): updates published since are not "
                            "known to the pending-update check",
                    key=f"{image}:stale:{index.name}",
                    remediation="Scan against a fresh index: run apt-get update in the build, "
                                "or name a current mirror's Packages file.",
                    properties={"image": image, "index": index.name, "suite": index.suite,
                                "release": index.release,
                                "date": index.date.isoformat() if index.date else "",
                                "age_days": f"{age:.1f}"}))
    grouped: dict[tuple[str, str], list[str]] = {}
    for problem in report.problems:
        kind = re.sub(r"\d+", "N", problem.reason)[:60]
        grouped.setdefault((problem.index, kind), []).append(problem.reason)
    for (index_name, _), reasons in grouped.items():
        extra = f" (and {len(reasons) - 1} more like it)" if len(reasons) > 1 else ""
        reason = reasons[0] + extra
        out.append(Finding.create(
            rule_id=INCOMPLETE, title="Image could not be analysed completely",
            severity=Severity.HIGH, scanner=SCANNER,
            location=Location(path=index_name.lstrip("/") or "/"),
            message=f"{image}: {index_name}: apt index: {reason}", key=f"apt:{reasons[0]}",
            remediation="The pending-update check did not cover what this index holds: fix "
                        "or replace the index, or check the packages by hand.",
            properties={"image": image}))
    return out


def _update_finding(update: PendingUpdate, image: str) -> Finding:
    where = update.location.lstrip("/") or "var/lib/dpkg/status"
    member = f"{update.package}@{update.installed}"
    source = f" (source {update.source})" if update.source and update.source != update.package \
        else ""
    if update.security:
        via = update.security_version
        also = f"; newest {update.available} in {update.index}" \
            if update.available != via else ""
        message = (f"{image}: {update.package} {update.installed}{source} has a pending "
                   f"security update to {via} ({update.security_index}){also}")
        rule, title, severity = PENDING_SECURITY, "Pending security update", Severity.MEDIUM
        remediation = (f"Upgrade {update.package} (apt-get upgrade in the Dockerfile, or "
                       "rebuild on an updated base image); the security suite's changelog "
                       "says which vulnerabilities the update fixes.")
    else:
        message = (f"{image}: {update.package} {update.installed}{source} has a pending "
                   f"update to {update.available} ({update.index})")
        rule, title, severity = PENDING, "Pending package update", Severity.INFO
        remediation = (f"Upgrade {update.package} when convenient (no security suite offers "
                       "a newer version).")
    return Finding.create(
        rule_id=rule, title=title, severity=severity, scanner=SCANNER,
        location=Location(path=where, member=member), message=message,
        key=f"{image}:{DEB}:{member}:{'security' if update.security else 'update'}",
        confidence=Confidence.HIGH, remediation=remediation,
        properties={"image": image, "ecosystem": DEB, "package": update.package,
                    "version": update.installed, "architecture": update.architecture,
                    "available": update.available, "index": update.index,
                    "suite": update.suite, "security": "true" if update.security else "false",
                    "security_version": update.security_version,
                    "security_index": update.security_index,
                    "source_package": update.source})
