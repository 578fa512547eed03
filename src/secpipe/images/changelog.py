"""Debian changelogs as backport evidence.

A Debian package ships its source package's changelog as
``usr/share/doc/<package>/changelog.Debian.gz``. Distributions fix vulnerabilities by patching
the version they ship (a backport), and the maintainer's entry for that upload names the CVE:
``* Fix CVE-2023-4911: buffer overflow in ld.so``. When an entry at or below the installed
version names a CVE id, the installed package contains that fix, whatever a vulnerability feed
that lags behind says: :func:`fixed_in_changelog` is that test, :func:`changelog_evidence` the
same with the line kept for the report.

Reading is bounded: at most :data:`MAX_COMPRESSED` bytes of gzip are read and at most
:data:`MAX_TEXT` bytes inflated (a gzip bomb stops there; the newest entries come first, so
what is cut is the oldest history, which only means less evidence, never wrong evidence),
at most :data:`MAX_ENTRIES` entries parsed. A file that is not gzip raises
:class:`ChangelogError`. Nothing read is executed or written anywhere.

Entry format (Debian Policy 4.4): ``package (version) distribution(s); urgency=…`` then the
change lines, then `` -- maintainer <email>  date``. The body of an entry is every line until
the next header. An entry whose version does not parse is kept but never used as evidence.
The evidence is a mention: a line such as "CVE-… does not affect this package" counts too — the
report keeps the line so a reader can judge it — except a line that says it reverts something
("Revert the fix for CVE-…"): when the newest mention at or below the installed version is a
revert, there is no evidence.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path

from secpipe.core.errors import InputError
from secpipe.images.distro_versions import InvalidDistroVersion, dpkg_compare

MAX_COMPRESSED = 4 << 20
"""Most gzip bytes read from one changelog file."""
MAX_TEXT = 4 << 20
"""Most bytes inflated from one changelog."""
MAX_ENTRIES = 50_000
"""Most entries parsed from one changelog."""
MAX_LINE = 4096
"""Longest line kept (longer ones are cut)."""

_HEADER = re.compile(r"^([a-z0-9][a-z0-9+.\-]*) \(([^()\s]+)\)\s+([^;]*);(.*)$")
_CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,}$")
_REVERT = re.compile(r"\brevert", re.IGNORECASE)


class ChangelogError(InputError):
    """A changelog that cannot be read (not gzip, corrupt, a link or a special file)."""


@dataclass(frozen=True)
class ChangelogEntry:
    """One upload of a Debian changelog."""

    package: str
    version: str
    distributions: str
    urgency: str
    line: int
    """1-based line of the header."""
    body: tuple[str, ...]
    """The lines after the header up to the next one (the trailer included)."""


@dataclass(frozen=True)
class Evidence:
    """A changelog line naming a vulnerability id, in an entry at or below a version."""

    version: str
    """The version of the entry."""
    line: str
    """The line that names the id (stripped)."""
    line_number: int


@dataclass(frozen=True)
class Changelog:
    """A decoded changelog and whether it was cut at :data:`MAX_TEXT`."""

    text: str
    truncated: bool


def inflate(data: bytes, limit: int = MAX_TEXT) -> Changelog:
    """The text of gzip ``data`` (UTF-8, undecodable bytes replaced), at most ``limit``
    bytes of it. Raises :class:`ChangelogError` when ``data`` is not gzip or too large."""
    if len(data) > MAX_COMPRESSED:
        raise ChangelogError(f"changelog larger than {MAX_COMPRESSED} bytes compressed")
    if data[:2] != b"\x1f\x8b":
        raise ChangelogError("changelog is not gzip data")
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
            raw = fh.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise ChangelogError(f"changelog is not readable gzip: {exc}") from None
    truncated = len(raw) > limit
    return Changelog(raw[:limit].decode("utf-8", errors="replace"), truncated)


def read_changelog_file(path: Path, limit: int = MAX_TEXT) -> Changelog:
    """The changelog at ``path`` (a regular file, not followed through a link)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ChangelogError(f"{path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise ChangelogError(f"{path}: not a regular file")
        data = fh.read(MAX_COMPRESSED + 1)
    return inflate(data, limit)


def parse(text: str) -> list[ChangelogEntry]:
    """The entries of a changelog, newest first, as written (at most :data:`MAX_ENTRIES`).
    Lines before the first header are ignored."""
    entries: list[ChangelogEntry] = []
    header: tuple[str, str, str, str, int] | None = None
    body: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        found = _HEADER.match(line) if line[:1] not in (" ", "\t", "") else None
        if found is None:
            if header is not None:
                body.append(line[:MAX_LINE])
            continue
        if header is not None:
            entries.append(_entry(header, body))
            if len(entries) >= MAX_ENTRIES:
                return entries
        urgency = re.search(r"urgency=([A-Za-z]+)", found.group(4))
        header = (found.group(1), found.group(2), found.group(3).strip(),
                  urgency.group(1).lower() if urgency else "", number)
        body = []
    if header is not None:
        entries.append(_entry(header, body))
    return entries


def _entry(header: tuple[str, str, str, str, int], body: list[str]) -> ChangelogEntry:
    package, version, dists, urgency, line = header
    return ChangelogEntry(package, version, dists, urgency, line, tuple(body))


def changelog_evidence(text: str, cve_id: str, installed_version: str) -> Evidence | None:
    """The newest line, in the entries at or below ``installed_version`` (dpkg order), that
    names ``cve_id`` as a whole id (``CVE-2023-4911`` is not found in ``CVE-2023-49110``);
    ``None`` when there is none or that line reverts something. Raises
    :class:`InvalidDistroVersion` when ``installed_version`` is not a Debian version and
    ``ValueError`` when ``cve_id`` is not a CVE id."""
    cve = cve_id.strip().upper()
    if not _CVE_ID.match(cve):
        raise ValueError(f"{cve_id!r} is not a CVE id")
    dpkg_compare(installed_version, installed_version)  # refuse a bad version up front
    pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(cve)}(?![0-9])", re.IGNORECASE)
    for entry in parse(text):
        try:
            if dpkg_compare(entry.version, installed_version) > 0:
                continue
        except InvalidDistroVersion:
            continue
        for offset, line in enumerate(entry.body, 1):
            if pattern.search(line):
                if _REVERT.search(line):
                    return None  # the newest word on it takes the fix out
                return Evidence(entry.version, line.strip(), entry.line + offset)
    return None


def fixed_in_changelog(text: str, cve_id: str, installed_version: str) -> bool:
    """Whether an entry at or below ``installed_version`` names ``cve_id`` (backport
    evidence: the installed package contains the fix)."""
    return changelog_evidence(text, cve_id, installed_version) is not None
