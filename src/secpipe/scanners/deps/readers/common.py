"""What every reader shares: bounds, decoding, bounded JSON/TOML, line lookup, redaction, and
one PEP 508 requirement turned into a :class:`~secpipe.scanners.deps.model.Dependency`.

A reader never raises on bad input: everything it cannot read becomes a
:class:`~secpipe.scanners.deps.model.ManifestProblem` with the reason, through :class:`Collector`.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from secpipe.core.errors import ConfigError
from secpipe.core.safeload import read_regular_file
from secpipe.scanners.deps.model import PYPI, Dependency, Inventory, ManifestProblem

CONDA = "conda"
"""Ecosystem of conda packages: recorded so the matcher can say they were not matched (OSV has
no conda ecosystem)."""

MAX_ENTRIES = 50_000
"""Most dependencies one manifest (with everything it includes) may declare."""
MAX_NESTING = 256
"""Deepest nesting of arrays and objects in a JSON or TOML manifest."""
MAX_INCLUDE_DEPTH = 8
"""Deepest chain of ``-r``/``-c`` includes followed from one requirements file."""
MAX_INCLUDED_FILES = 64
"""Most files one requirements file may pull in through includes."""
MAX_LINE_CHARS = 256 * 1024
"""Longest logical line (after joining continuations) of a requirements file or command."""
MAX_PROBLEMS = 50
"""Most problems recorded for one manifest; the rest are counted in one last problem."""

NOT_MATCHABLE = "not matchable"

_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s@]+)@")


def redact(text: str) -> str:
    """``text`` with the user and password part of every URL in it replaced by ``***``."""
    return _URL_USERINFO.sub(lambda m: m.group(1) + ("git" if m.group(2) == "git" else "***")
                             + "@", text)


def redact_url(url: str) -> str:
    """A URL without its credentials or query string (tokens live there too)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = ("git" if user == "git" else "***") + "@" + host
    query = "***" if parts.query else ""
    return redact(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


def clip(text: str, most: int = 120) -> str:
    """One line of ``text``, at most ``most`` characters, credentials redacted."""
    flat = " ".join(redact(text).split())
    return flat if len(flat) <= most else flat[: most - 1] + "…"


class Lines:
    """Line numbers of offsets in a text, and of needles found in file order.

    Searching is budgeted to a few passes over the text in all: a file whose needles are not
    where the reader expects them (minified JSON) gets ``None`` lines, never quadratic time."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts = [0, *(m.end() for m in re.finditer("\n", text))]
        self._cursor = 0
        self._budget = 4 * len(text) + (1 << 20)

    def at(self, offset: int) -> int:
        """The 1-based line of ``offset``."""
        return bisect.bisect_right(self._starts, offset)

    def find(self, needle: str) -> int | None:
        """The line of the next occurrence of ``needle`` after the last one found (file order),
        else of its first occurrence anywhere, else ``None``."""
        if self._budget <= 0:
            return None
        pos = self.text.find(needle, self._cursor)
        if pos >= 0:
            self._budget -= pos - self._cursor + len(needle)
            self._cursor = pos + len(needle)
            return self.at(pos)
        self._budget -= len(self.text) - self._cursor
        pos = self.text.find(needle, 0, self._cursor + len(needle))
        self._budget -= self._cursor
        return self.at(pos) if pos >= 0 else None


@dataclass
class Collector:
    """What one :func:`~secpipe.scanners.deps.readers.read_manifest` call finds, within bounds."""

    inventory: Inventory = field(default_factory=Inventory)
    max_entries: int = MAX_ENTRIES
    full: bool = False
    """Set once :attr:`max_entries` was reached: readers stop adding."""
    _problems: dict[str, int] = field(default_factory=dict)

    def add(self, dep: Dependency) -> bool:
        """Record ``dep`` (URL credentials in its spec redacted); ``False`` (and one problem) once
        the entry bound is reached."""
        if self.full:
            return False
        if len(self.inventory.dependencies) >= self.max_entries:
            self.full = True
            self.problem(dep.path, f"more than {self.max_entries} dependencies: the rest were "
                         "not read")
            return False
        if not dep.name.strip():  # `"": "^1.0"` in package.json names nothing to match
            self.problem(dep.path, f"a dependency without a name ({clip(dep.spec, 60)!r})",
                         dep.line, dep.member)
            return True
        if "@" in dep.spec or "@" in dep.name:  # belt and braces: no URL credentials kept
            spec, name = redact(dep.spec), redact(dep.name)
            if (spec, name) != (dep.spec, dep.name):
                dep = dataclasses.replace(dep, spec=spec, name=name)
        self.inventory.dependencies.append(dep)
        return True

    def problem(self, path: str, reason: str, line: int | None = None,
                member: str | None = None) -> None:
        """Record a problem (credentials in URLs redacted); past :data:`MAX_PROBLEMS` for one
        path, only the count is kept."""
        seen = self._problems.get(path, 0) + 1
        self._problems[path] = seen
        if seen <= MAX_PROBLEMS:
            self.inventory.problems.append(ManifestProblem(path, redact(reason), line, member))

    def manifest(self, rel: str) -> None:
        if rel not in self.inventory.manifests:
            self.inventory.manifests.append(rel)

    def finish(self) -> Inventory:
        """The inventory, with one last problem per path that had more than the bound."""
        for path, seen in self._problems.items():
            if seen > MAX_PROBLEMS:
                self.inventory.problems.append(ManifestProblem(
                    path, f"{seen - MAX_PROBLEMS} more problems not listed"))
        return self.inventory


def read_bytes(path: Path, rel: str, max_bytes: int, out: Collector) -> bytes | None:
    """The bytes of a regular file of at most ``max_bytes``; ``None`` and a problem otherwise."""
    try:
        return read_regular_file(path, max_bytes, rel)
    except ConfigError as exc:
        reason = str(exc)
        if reason.startswith(rel + ": "):
            reason = reason[len(rel) + 2:]
        out.problem(rel, reason)
        return None


_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe\x00\x00", "utf-32-le"),
         (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def decode(data: bytes, rel: str, out: Collector) -> str | None:
    """Text of a manifest: UTF-8, or the UTF-8/16/32 its byte-order mark names; ``None`` and a
    problem when it is not text."""
    encoding = "utf-8"
    for bom, name in _BOMS:
        if data.startswith(bom):
            data, encoding = data[len(bom):], name
            break
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        out.problem(rel, f"not {encoding.upper()} text: cannot decode byte "
                    f"0x{data[exc.start]:02x} at offset {exc.start}")
        return None
    if "\x00" in text:
        out.problem(rel, "binary content (NUL bytes): not a text manifest")
        return None
    return text


def read_text(path: Path, rel: str, max_bytes: int, out: Collector) -> str | None:
    """:func:`read_bytes` then :func:`decode`."""
    data = read_bytes(path, rel, max_bytes, out)
    return None if data is None else decode(data, rel, out)


def too_deep(data: Any, limit: int = MAX_NESTING) -> bool:
    """Whether parsed JSON/TOML data nests arrays and objects deeper than ``limit`` (iterative)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, dict | list))
    return False


def load_json(text: str, rel: str, out: Collector) -> Any:
    """Parsed JSON, or ``None`` and a problem (syntax error with its line, nesting bound)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        out.problem(rel, f"malformed JSON: {exc.msg} (column {exc.colno})", exc.lineno)
        return None
    except RecursionError:
        out.problem(rel, f"JSON nested deeper than {MAX_NESTING} levels: not read")
        return None
    except ValueError as exc:  # e.g. an integer too long to convert
        out.problem(rel, f"malformed JSON: {clip(str(exc))}")
        return None
    if too_deep(data):
        out.problem(rel, f"JSON nested deeper than {MAX_NESTING} levels: not read")
        return None
    return data


_TOML_AT = re.compile(r"\s*\(at line (\d+), column \d+\)$|\s*\(at end of document\)$")


_ITEM_LINE = re.compile(r"^[ \t]+\{.*\},?[ \t]*$")
_FILES_LINE = re.compile(r'^(?:[A-Za-z0-9_."-]+ = \[|[ \t]+\{.*\},?|\]|)[ \t]*$')


def read_json_object(path: Path, rel: str, max_bytes: int, out: Collector,
                     what: str) -> tuple[str, dict[str, Any]] | None:
    """A JSON manifest read whole: registered, read (bounded), decoded and parsed, with its top
    level an object; else ``None`` and a problem (``what``: "a package.json", …)."""
    out.manifest(rel)
    text = read_text(path, rel, max_bytes, out)
    if text is None:
        return None
    data = load_json(text, rel, out)
    if data is None:
        return None
    if not isinstance(data, dict):
        out.problem(rel, f"not {what}: the top level is not an object")
        return None
    return text, data


def elide_lists(text: str, keys: tuple[str, ...], files_table: bool = False) -> str | None:
    """``text`` without the lock-file lists nothing reads: a ``KEY =
    {…}`` line, a ``KEY = [`` … ``]`` block of ``{…}`` lines (uv's ``sdist``/``wheels``,
    Poetry's ``files``) and, with ``files_table``, Poetry 1.1's ``[metadata.files]``. Parsing
    hashes and URLs is most of a lock's parse time. ``None`` when a block is not shaped as a
    generator writes it (then the whole text is parsed; its diagnostics are the ones reported, so
    the lines removed here never shift a reported line)."""
    if '"""' in text or "'''" in text:
        return None  # multi-line strings: what a line means depends on more than the line
    lines = text.split("\n")
    kept: list[str] = []
    starts = tuple(f"{key} = " for key in keys)
    i = 0
    while i < len(lines):
        line = lines[i]
        if files_table and line.rstrip() == "[metadata.files]":
            i += 1
            while i < len(lines) and not lines[i].startswith("["):
                if not _FILES_LINE.match(lines[i]):
                    return None
                i += 1
            continue
        i += 1
        if not line.startswith(starts):
            kept.append(line)
            continue
        rest = line.split(" = ", 1)[1].rstrip()
        if rest == "[":
            while i < len(lines) and lines[i].rstrip() != "]":
                if not _ITEM_LINE.match(lines[i]):
                    return None
                i += 1
            if i >= len(lines):
                return None
            i += 1
        elif not ((rest.startswith("{") and rest.endswith("}"))
                  or (rest.startswith("[") and rest.endswith("]"))):
            return None
    return "\n".join(kept)


def load_toml(text: str, rel: str, out: Collector,
              elide: tuple[str, ...] = (), files_table: bool = False) -> dict[str, Any] | None:
    """Parsed TOML, or ``None`` and a problem (syntax error with its line, nesting bound).
    ``elide``: keys of lists nothing reads, skipped when shaped as generated (see
    :func:`elide_lists`); the whole text is parsed when that fails."""
    if elide or files_table:
        lighter = elide_lists(text, elide, files_table)
        if lighter is not None:
            try:
                data = tomllib.loads(lighter)
            except (tomllib.TOMLDecodeError, RecursionError):
                pass  # parsed whole below, for the real diagnostic
            else:
                if not too_deep(data):
                    return data
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc).splitlines()[0] if str(exc) else "syntax error"
        found = _TOML_AT.search(message)
        line: int | None = None
        if found and found.group(1):
            line = int(found.group(1))
        elif found:  # at the end of the document: its last line
            line = text.count("\n") + (0 if text.endswith("\n") else 1)
        out.problem(rel, f"malformed TOML: {_TOML_AT.sub('', message)}", line)
        return None
    except RecursionError:
        out.problem(rel, f"TOML nested deeper than {MAX_NESTING} levels: not read")
        return None
    if too_deep(data):
        out.problem(rel, f"TOML nested deeper than {MAX_NESTING} levels: not read")
        return None
    return data


def read_toml(path: Path, rel: str, max_bytes: int, out: Collector,
              elide: tuple[str, ...] = (),
              files_table: bool = False) -> tuple[str, dict[str, Any]] | None:
    """A TOML manifest read whole: registered, read (bounded), decoded and parsed (``elide``,
    ``files_table``: as :func:`load_toml`); else ``None`` and a problem."""
    out.manifest(rel)
    text = read_text(path, rel, max_bytes, out)
    if text is None:
        return None
    data = load_toml(text, rel, out, elide, files_table)
    return None if data is None else (text, data)


def table(data: dict[str, Any], *keys: str) -> dict[str, Any] | None:
    """``data[k1][k2]…`` when every step is a table, else ``None``."""
    node: Any = data
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node if isinstance(node, dict) else None


# --- one requirement ---------------------------------------------------------------------------

_NAME_PREFIX = re.compile(r"\s*[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_PEP508_URL = re.compile(r"\s*[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\s*(?:\[[^\]]*\])?\s*@")
_SCHEME = re.compile(r"(?i)^(?:[a-z][a-z0-9.-]*\+)?[a-z][a-z0-9+.-]*://|^(?:git|hg|svn|bzr)\+")
_ARCHIVE = re.compile(r"(?i)\.(?:whl|zip|tar\.gz|tgz|tar\.bz2|tbz|tar\.xz|txz|tar|egg)$")
_EGG = re.compile(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class Where:
    """Where a requirement was written: path, line, member, reader, declared or not."""

    path: str
    source: str
    line: int | None = None
    member: str | None = None
    direct: bool = True


def pinned_version(req: Requirement) -> str | None:
    """The version an ``==``/``===`` specifier pins exactly (no wildcard), else ``None``."""
    for spec in req.specifier:
        if spec.operator in ("==", "===") and not spec.version.endswith(".*"):
            return spec.version
    return None


def _rest_after_name(text: str) -> str:
    found = _NAME_PREFIX.match(text)
    rest = text[found.end():] if found else text
    return " ".join(rest.split())


def requirement(text: str, where: Where) -> Dependency | str:
    """One PEP 508 requirement string (or pip's URL / local path forms) as a dependency, or the
    reason it is not one. ``spec`` is the requirement without its name (extras, specifiers,
    marker as written); a URL, VCS or path has ``version=None`` and says it is not matchable."""
    text = text.strip()
    if not text:
        return "empty requirement"
    if len(text) > MAX_LINE_CHARS:
        return f"requirement longer than {MAX_LINE_CHARS} characters"
    if not _PEP508_URL.match(text) and (_SCHEME.match(text) or _looks_like_path(text)):
        return reference(text, where)
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid"
        return f"not a valid requirement ({clip(first, 100)}): {clip(text, 80)}"
    if req.url:
        spec = f"@ {redact_url(req.url)} (direct reference, {NOT_MATCHABLE})"
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        marker = f"; {req.marker}" if req.marker else ""
        return Dependency(PYPI, req.name, None, f"{extras}{spec}{marker}", where.path,
                          where.line, where.member, where.direct, source=where.source)
    return Dependency(PYPI, req.name, pinned_version(req), _rest_after_name(text), where.path,
                      where.line, where.member, where.direct, source=where.source)


def _looks_like_path(text: str) -> bool:
    head = text.split(";", 1)[0].strip()
    return (head.startswith((".", "/", "~", "\\")) or "/" in head or "\\" in head
            or bool(_ARCHIVE.search(head)) or (len(head) > 1 and head[1] == ":"))


def reference(text: str, where: Where, editable: bool = False) -> Dependency:
    """A URL, VCS reference or local path as a dependency that cannot be matched: its name from
    ``#egg=`` or an archive's file name when there is one, else the (redacted) reference."""
    head, _, marker = text.partition(";") if " ;" in text or "; " in text else (text, "", "")
    head = head.strip()
    kind = ("VCS reference" if re.match(r"(?i)^(?:git|hg|svn|bzr)\+", head)
            else "URL" if _SCHEME.match(head) else "local path")
    if editable:
        kind = "editable " + kind
    name = _name_of_reference(head)
    shown = redact_url(head) if _SCHEME.match(head) else head
    spec = f"{kind} {shown} ({NOT_MATCHABLE})"
    if marker.strip():
        spec += f"; {marker.strip()}"
    return Dependency(PYPI, name or shown, None, spec, where.path, where.line, where.member,
                      where.direct, source=where.source)


def _name_of_reference(head: str) -> str | None:
    egg = _EGG.search(head)
    if egg:
        return egg.group(1)
    if _SCHEME.match(head):
        try:
            path = urlsplit(head).path.rstrip("/")
        except ValueError:  # an unbalanced "[" in the host part: not a URL we can name
            return None
    else:
        path = head.rstrip("/\\")
    last = re.split(r"[/\\]", path)[-1]
    try:
        if last.lower().endswith(".whl"):
            return str(parse_wheel_filename(last)[0])
        if _ARCHIVE.search(last):
            return str(parse_sdist_filename(last)[0])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


def join_rel(base_rel: str, target: str) -> str | None:
    """``target`` (relative to the folder of ``base_rel``) as a path relative to the scanned root,
    normalised; ``None`` when it is absolute or leaves the root."""
    if not target or target.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", target):
        return None
    parts: list[str] = list(PurePosixPath(base_rel).parent.parts)
    if parts == ["."]:
        parts = []
    for part in PurePosixPath(target.replace("\\", "/")).parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts) if parts else None


def root_of(path: Path, rel: str) -> Path:
    """The scanned root: ``path`` with as many trailing parts removed as ``rel`` has."""
    root = path
    for _ in PurePosixPath(rel).parts:
        root = root.parent
    return root
