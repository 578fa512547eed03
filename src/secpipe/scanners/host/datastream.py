"""A patched copy of the SCAP Security Guide's Debian datastream that applies to Debian 12.

ssg-debian (0.1.65 in Debian 12) ships datastreams for Debian 10 and 11 only. Their platform
check (CPE ``cpe:/o:debian:debian_linux:11`` → OVAL ``installed_OS_is_debian11``) reads
``/etc/debian_version`` with the pattern ``^11.[0-9]+$``, so on Debian 12 every rule reads "not
applicable" and a scan looks clean while checking nothing. This module writes a copy whose
version pattern also accepts the later releases listed in :data:`ACCEPTED`.

For a container's root filesystem (``container=True``) the copy also makes the guide's "is this a
container" check (``/.dockerenv`` exists) look at the root's ``/etc/debian_version`` instead: an
unpacked image or a mounted container root carries neither marker, and without this the rules
that only mean something on a booted machine (partitions, kernel parameters, running services)
would be judged against an offline tree that cannot answer them.

The source is read within a size bound and parsed with expat (a document type, entity
declaration or external entity is refused, as in :mod:`secpipe.tools.parsers.xml`); the parser
gives the byte offsets of exactly the text nodes to change, which are spliced in place, so the
rest of the document stays byte for byte what the guide ships (no prefix or namespace rewritten).
The copy is written atomically under the cache folder, named by the source's digest and the
patch's version; files under ``/usr`` are never touched.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

from secpipe.core.errors import InputError
from secpipe.tools.parsers.xml import guarded_parser

SSG_DIR = Path("/usr/share/xml/scap/ssg/content")
"""Where Debian's ssg-debian installs its datastreams."""
MAX_DATASTREAM_BYTES = 256 << 20
PATCH_VERSION = "1"
ACCEPTED = ("12", "13")
"""Debian releases the patched version check accepts besides the datastream's own."""
_OBJECT_ID = re.compile(r"^oval:ssg-obj_debian_(\d+):obj:1$")
_CONTAINER_TEST_FILE = "/.dockerenv"
_ROOT_MARKER = "/etc/debian_version"


class DatastreamError(InputError):
    """The datastream is missing, too large, hostile, or not the shape the patch expects."""


def default_datastream(directory: Path = SSG_DIR) -> Path | None:
    """The newest ``ssg-debianN-ds.xml`` installed, None when there is none."""
    found: list[tuple[int, Path]] = []
    for path in directory.glob("ssg-debian*-ds.xml") if directory.is_dir() else ():
        match = re.fullmatch(r"ssg-debian(\d+)-ds\.xml", path.name)
        if match:
            found.append((int(match.group(1)), path))
    return max(found)[1] if found else None


@dataclass
class _Edit:
    start: int
    end: int
    text: str


@dataclass
class _Scan:
    """Expat handlers that find the text nodes to replace."""

    container: bool
    stack: list[str] = field(default_factory=list)
    in_object: str = ""
    text_start: int | None = None
    text: list[str] = field(default_factory=list)
    edits: list[tuple[str, int, int, str]] = field(default_factory=list)
    parser: Any = None

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = name.rpartition("\x1f")[2]
        self.stack.append(local)
        if local == "textfilecontent54_object" and _OBJECT_ID.match(attrs.get("id", "")):
            self.in_object = attrs["id"]
        self.text_start, self.text = None, []

    def data(self, text: str) -> None:
        if self.text_start is None:
            self.text_start = self.parser.CurrentByteIndex
        self.text.append(text)

    def end(self, name: str) -> None:
        local = self.stack.pop()
        where = self.parser.CurrentByteIndex
        text = "".join(self.text)
        if self.text_start is not None:
            if self.in_object and local == "pattern":
                self.edits.append((self.in_object, self.text_start, where, text))
            elif self.container and local == "filepath" and text == _CONTAINER_TEST_FILE:
                self.edits.append(("container", self.text_start, where, text))
        if local == "textfilecontent54_object":
            self.in_object = ""
        self.text_start, self.text = None, []


def _version_pattern(original: str) -> str:
    match = re.fullmatch(r"\^(\d+)\.\[0-9\]\+\$", original)
    if match is None:
        raise DatastreamError(f"unexpected Debian version pattern {original[:60]!r} in the "
                              "datastream (patch not applied)")
    versions = "|".join((match.group(1), *ACCEPTED))
    return rf"^({versions})\.[0-9]+$"


def patch_bytes(raw: bytes, *, container: bool = False) -> tuple[bytes, int]:
    """The patched document and the number of version checks changed; :class:`DatastreamError`
    when the source is hostile or has no Debian version check to patch."""
    scan = _Scan(container)
    parser = guarded_parser("the datastream", DatastreamError)
    scan.parser = parser
    parser.StartElementHandler = scan.start
    parser.EndElementHandler = scan.end
    parser.CharacterDataHandler = scan.data
    parser.buffer_text = False
    try:
        parser.Parse(raw, True)
    except expat.ExpatError as exc:
        raise DatastreamError(f"the datastream is not well-formed XML: "
                              f"{expat.ErrorString(exc.code)} (line {exc.lineno})") from None
    edits: list[_Edit] = []
    versions = 0
    ids = [_OBJECT_ID.match(what) for what, *_ in scan.edits]
    newest = max((int(m.group(1)) for m in ids if m), default=None)
    for what, start, end, text in scan.edits:
        if raw[start:end].decode("utf-8") != text:  # a reference inside: not a plain text node
            raise DatastreamError(f"unexpected markup in the datastream's {what} check")
        match = _OBJECT_ID.match(what)
        if match and int(match.group(1)) != newest:
            continue  # an older release's check: the benchmark's platform is the newest
        if match:
            versions += 1
            edits.append(_Edit(start, end, _version_pattern(text)))
        else:
            edits.append(_Edit(start, end, _ROOT_MARKER))
    if not versions:
        raise DatastreamError("no Debian version check found in the datastream (patch not "
                              "applied)")
    out = bytearray()
    at = 0
    for edit in sorted(edits, key=lambda e: e.start):
        out += raw[at:edit.start] + edit.text.encode("utf-8")
        at = edit.end
    out += raw[at:]
    return bytes(out), versions


def patched_datastream(source: Path, folder: Path, *, container: bool = False) -> Path:
    """The patched copy of ``source`` under ``folder`` (made once, then reused)."""
    try:
        size = source.stat().st_size
    except OSError as exc:
        raise DatastreamError(f"datastream {source}: {exc.strerror}") from None
    if size > MAX_DATASTREAM_BYTES:
        raise DatastreamError(f"datastream {source} is {size} bytes "
                              f"(limit {MAX_DATASTREAM_BYTES})")
    raw = source.read_bytes()[:MAX_DATASTREAM_BYTES + 1]
    digest = hashlib.sha256(raw).hexdigest()[:24]
    mode = "container" if container else "host"
    target = folder / f"{source.stem}-{digest}-p{PATCH_VERSION}-{mode}.xml"
    if target.is_file():
        return target
    patched, _ = patch_bytes(raw, container=container)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".ds-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(patched)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
