"""The rpm database: ``rpmdb.sqlite`` (rpm >= 4.16), read through a bounded header parser.

The ``Packages`` table holds one header blob per package: ``il`` and ``dl`` (big-endian
32-bit), ``il`` index entries of 16 bytes (tag, type, offset, count) and ``dl`` bytes of data.
Only the tags an inventory needs are decoded. The database is copied to a private temporary
file and opened read-only and immutable, with untrusted schema objects disabled and a budget of
SQLite virtual-machine steps. BerkeleyDB (``Packages``) and ndb (``Packages.db``) databases are
reported as a problem, never passed over. ``gpg-pubkey`` pseudo-packages (imported signing
keys) are listed, as Syft lists them; they have no SOURCERPM, so no source package.
"""

from __future__ import annotations

import os
import sqlite3
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from secpipe.images.pkg_model import RPM, Distro, FsView, Package, Problem

FOLDERS = ("/var/lib/rpm", "/usr/lib/sysimage/rpm")
MAX_SQLITE_BYTES = 256 << 20
MAX_HEADER_BYTES = 32 << 20
MAX_INDEX_ENTRIES = 100_000
MAX_PACKAGES = 200_000
SQLITE_SECONDS = 30.0

TAG_NAME = 1000
TAG_VERSION = 1001
TAG_RELEASE = 1002
TAG_EPOCH = 1003
TAG_LICENSE = 1014
TAG_ARCH = 1022
TAG_SOURCERPM = 1044
TAG_DIRINDEXES = 1116
TAG_BASENAMES = 1117
TAG_DIRNAMES = 1118
MAX_FILES_PER_PACKAGE = 50_000
_STRING_TAGS = {TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_LICENSE, TAG_ARCH, TAG_SOURCERPM}
_FILE_TAGS = {TAG_DIRINDEXES, TAG_BASENAMES, TAG_DIRNAMES}
_INT32 = 4
_STRING = 6
_I18NSTRING = 9
_STRING_ARRAY = 8


class RpmHeaderError(ValueError):
    """A header blob that does not parse (truncated, offsets outside the data, bad types)."""


@dataclass(frozen=True)
class RpmHeader:
    """The decoded tags of one rpm header."""

    name: str
    version: str
    release: str | None
    epoch: int | None
    arch: str | None
    licence: str | None
    sourcerpm: str | None
    files: tuple[str, ...] = ()
    """Installed file paths (DIRNAMES[DIRINDEXES[i]] + BASENAMES[i]), at most
    :data:`MAX_FILES_PER_PACKAGE`."""

    @property
    def evr(self) -> str:
        """``[epoch:]version[-release]``."""
        text = f"{self.version}-{self.release}" if self.release else self.version
        return f"{self.epoch}:{text}" if self.epoch else text


def parse_header(blob: bytes) -> RpmHeader:
    """Decode NAME, VERSION, RELEASE, EPOCH, ARCH, LICENSE and SOURCERPM of a header blob."""
    if len(blob) > MAX_HEADER_BYTES:
        raise RpmHeaderError(f"header of {len(blob)} bytes is over {MAX_HEADER_BYTES}")
    if len(blob) < 8:
        raise RpmHeaderError("header shorter than 8 bytes")
    il, dl = struct.unpack_from(">II", blob, 0)
    if il == 0 or il > MAX_INDEX_ENTRIES:
        raise RpmHeaderError(f"index count {il} out of bounds")
    data_start = 8 + 16 * il
    if data_start + dl > len(blob):
        raise RpmHeaderError(f"header claims {il} entries and {dl} data bytes, "
                             f"has {len(blob)} bytes")
    data = blob[data_start:data_start + dl]
    strings: dict[int, str] = {}
    arrays: dict[int, list[str]] = {}
    indexes: list[int] = []
    epoch: int | None = None
    for i in range(il):
        tag, kind, offset, count = struct.unpack_from(">iiii", blob, 8 + 16 * i)
        if tag not in _STRING_TAGS and tag not in _FILE_TAGS and tag != TAG_EPOCH:
            continue
        if offset < 0 or offset >= dl or count < 0:
            raise RpmHeaderError(f"tag {tag}: offset {offset} outside {dl} data bytes")
        if tag == TAG_DIRINDEXES:
            if kind != _INT32 or offset + 4 * count > dl:
                raise RpmHeaderError("DIRINDEXES is not an array of 32-bit integers in the data")
            indexes = list(struct.unpack_from(f">{min(count, MAX_FILES_PER_PACKAGE)}i",
                                              data, offset))
            continue
        if tag in (TAG_BASENAMES, TAG_DIRNAMES):
            if kind != _STRING_ARRAY:
                raise RpmHeaderError(f"tag {tag}: type {kind} where a string array was expected")
            arrays[tag] = _string_array(data, offset, count, tag)
            continue
        if tag == TAG_EPOCH:
            if kind != _INT32 or count < 1 or offset + 4 > dl:
                raise RpmHeaderError("EPOCH is not a 32-bit integer inside the data")
            epoch = struct.unpack_from(">i", data, offset)[0]
            continue
        if kind not in (_STRING, _I18NSTRING, _STRING_ARRAY):
            raise RpmHeaderError(f"tag {tag}: type {kind} where a string was expected")
        end = data.find(b"\0", offset)
        if end < 0:
            raise RpmHeaderError(f"tag {tag}: string not terminated inside the data")
        strings[tag] = data[offset:end].decode("utf-8", errors="replace")
    if not strings.get(TAG_NAME) or not strings.get(TAG_VERSION):
        raise RpmHeaderError("header without NAME or VERSION")
    basenames, dirnames = arrays.get(TAG_BASENAMES, []), arrays.get(TAG_DIRNAMES, [])
    if len(indexes) < len(basenames) or any(not 0 <= d < len(dirnames)
                                            for d in indexes[:len(basenames)]):
        raise RpmHeaderError("file list: DIRINDEXES do not match BASENAMES and DIRNAMES")
    files = tuple(dirnames[d] + base for d, base in zip(indexes, basenames, strict=False))
    return RpmHeader(name=strings[TAG_NAME], version=strings[TAG_VERSION],
                     release=strings.get(TAG_RELEASE) or None, epoch=epoch,
                     arch=strings.get(TAG_ARCH) or None, licence=strings.get(TAG_LICENSE) or None,
                     sourcerpm=strings.get(TAG_SOURCERPM) or None, files=files)


def _string_array(data: bytes, offset: int, count: int, tag: int) -> list[str]:
    """``count`` NUL-terminated strings from ``offset`` (at most :data:`MAX_FILES_PER_PACKAGE`)."""
    out: list[str] = []
    for _ in range(min(count, MAX_FILES_PER_PACKAGE)):
        end = data.find(b"\0", offset)
        if end < 0:
            raise RpmHeaderError(f"tag {tag}: string array runs past the data")
        out.append(data[offset:end].decode("utf-8", errors="replace"))
        offset = end + 1
    return out


def split_sourcerpm(sourcerpm: str) -> tuple[str, str] | None:
    """``glibc-2.34-100.el9.src.rpm`` -> (``glibc``, ``2.34-100.el9``); ``None`` if malformed."""
    for suffix in (".src.rpm", ".nosrc.rpm"):
        if sourcerpm.endswith(suffix):
            stem = sourcerpm[: -len(suffix)]
            break
    else:
        return None
    parts = stem.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], f"{parts[1]}-{parts[2]}"


def _rows(db_file: Path, where: str, problems: list[Problem]) -> list[bytes]:
    deadline = time.monotonic() + SQLITE_SECONDS
    uri = db_file.as_uri() + "?mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        problems.append(Problem(where, f"rpm database does not open: {exc}"))
        return []
    try:
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        conn.execute("PRAGMA trusted_schema = OFF")
        kind = conn.execute("SELECT type FROM sqlite_master WHERE name = 'Packages'").fetchone()
        if kind is None or kind[0] != "table":
            problems.append(Problem(where, "rpm database without a Packages table"))
            return []
        rows = conn.execute(
            "SELECT blob, length(blob) FROM Packages ORDER BY rowid LIMIT ?",
            (MAX_PACKAGES + 1,)).fetchall()
    except sqlite3.Error as exc:
        problems.append(Problem(where, f"rpm database does not read: {exc}"))
        return []
    finally:
        conn.close()
    if len(rows) > MAX_PACKAGES:
        problems.append(Problem(where, f"more than {MAX_PACKAGES} packages: the rest not read"))
    out: list[bytes] = []
    for number, (blob, _length) in enumerate(rows[:MAX_PACKAGES], 1):
        if not isinstance(blob, bytes):
            problems.append(Problem(where, f"row {number}: header is not a blob"))
            continue
        out.append(blob)
    return out


def read_sqlite_db(data: bytes, where: str, distro: Distro | None,
                   problems: list[Problem]) -> list[Package]:
    """Packages of an ``rpmdb.sqlite`` given as bytes (copied to a private temporary file)."""
    with tempfile.TemporaryDirectory(prefix="secpipe-rpmdb-") as tmp:
        db_file = Path(tmp) / "rpmdb.sqlite"
        fd = os.open(db_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        blobs = _rows(db_file, where, problems)
    found: list[Package] = []
    for number, blob in enumerate(blobs, 1):
        try:
            header = parse_header(blob)
        except (RpmHeaderError, struct.error) as exc:
            problems.append(Problem(where, f"package {number}: {exc}"))
            continue
        source = split_sourcerpm(header.sourcerpm) if header.sourcerpm else None
        if header.sourcerpm and source is None:
            problems.append(Problem(where, f"{header.name}: malformed SOURCERPM "
                                           f"{header.sourcerpm[:80]!r}"))
        source_version = None
        if source is not None:
            source_version = f"{header.epoch}:{source[1]}" if header.epoch else source[1]
        found.append(Package(ecosystem=RPM, name=header.name, version=header.evr,
                             source_name=source[0] if source else None,
                             source_version=source_version, arch=header.arch,
                             distro=distro, locations=(where,), licence=header.licence,
                             files=header.files))
    return found


def read_rpm(fs: FsView, distro: Distro | None, problems: list[Problem],
             databases: list[str]) -> list[Package]:
    """Packages of the image's rpm database (sqlite); other formats are a problem."""
    for folder in FOLDERS:
        path = f"{folder}/rpmdb.sqlite"
        data = fs.read(path, MAX_SQLITE_BYTES + 1)
        if data is None:
            continue
        databases.append(path)
        if len(data) > MAX_SQLITE_BYTES:
            problems.append(Problem(path, f"larger than {MAX_SQLITE_BYTES} bytes: not read"))
            return []
        wal = fs.read(f"{path}-wal", 1)
        if wal:
            problems.append(Problem(f"{path}-wal", "write-ahead log not empty: packages "
                                                   "written since its last checkpoint not read"))
        return read_sqlite_db(data, path, distro, problems)
    for folder in FOLDERS:
        for name, what in (("Packages", "BerkeleyDB"), ("Packages.db", "ndb")):
            path = f"{folder}/{name}"
            if fs.exists(path):
                problems.append(Problem(path, f"unsupported rpm database ({what}): "
                                              "its packages are not inventoried"))
                return []
    return []
