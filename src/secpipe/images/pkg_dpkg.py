"""dpkg databases: ``/var/lib/dpkg/status`` and distroless ``/var/lib/dpkg/status.d/*``.

A stanza is a package when its ``Status`` state (third word) leaves the package's files on disk:
``installed`` and the transitional states (``unpacked``, ``half-configured``, ``triggers-*``,
``half-installed``); ``config-files`` and ``not-installed`` (removed, not purged) are not. A
distroless ``status.d`` file has one stanza, with or without ``Status``. (Syft dropped removed
packages only in 2025, anchore/syft#4231; older Syft versions count ``config-files`` stanzas.)
"""

from __future__ import annotations

import re
from dataclasses import replace

from secpipe.images.pkg_model import DEB, Distro, FsView, Package, Problem, read_text

STATUS = "/var/lib/dpkg/status"
STATUS_D = "/var/lib/dpkg/status.d"
INFO = "/var/lib/dpkg/info"
DOC = "/usr/share/doc"
MAX_STATUS_BYTES = 64 << 20
MAX_STANZA_FILE_BYTES = 1 << 20
MAX_STATUS_D_FILES = 50_000
MAX_LIST_BYTES = 8 << 20
MAX_FILES_PER_PACKAGE = 50_000
MAX_COPYRIGHT_BYTES = 256 << 10
_GONE = {"config-files", "not-installed"}
_FIELD = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*):[ \t]*(.*)$")
_SOURCE = re.compile(r"^(\S+)(?:\s*\((\S+)\))?\s*$")
_LICENSE = re.compile(r"^License:[ \t]*(\S.*?)\s*$", re.MULTILINE)


def parse_stanzas(text: str, path: str, problems: list[Problem]) -> list[dict[str, str]]:
    """RFC 822 stanzas (blank-line separated) as field -> value (continuation lines joined).

    A line that is neither ``Field: value`` nor a continuation makes its stanza a problem (the
    stanza is dropped, never guessed at).
    """
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last: str | None = None
    bad = False
    start = 1
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            if current and not bad:
                stanzas.append(current)
            current, last, bad, start = {}, None, False, number + 1
            continue
        if line[0] in " \t":
            if last is None:
                bad = True
                problems.append(Problem(path, f"line {number}: continuation line outside a field"))
            else:
                current[last] += "\n" + line.strip()
            continue
        match = _FIELD.match(line)
        if match is None:
            if not bad:
                problems.append(Problem(path, f"line {number}: not a 'Field: value' line "
                                              f"(stanza from line {start} dropped)"))
            bad = True
            continue
        last = match.group(1).lower()
        current[last] = match.group(2).strip()
    if current and not bad:
        stanzas.append(current)
    return stanzas


def _installed(stanza: dict[str, str], need_status: bool) -> bool:
    status = stanza.get("status")
    if status is None:
        return not need_status
    words = status.split()
    return len(words) == 3 and words[2] not in _GONE


def _package(stanza: dict[str, str], path: str, distro: Distro | None,
             problems: list[Problem]) -> Package | None:
    name = stanza.get("package", "")
    version = stanza.get("version", "")
    if not name or not version or " " in name:
        problems.append(Problem(path, f"stanza {name or '(no Package)'!s}: "
                                      "missing or malformed Package/Version"))
        return None
    source_name, source_version = name, version
    if "source" in stanza:
        match = _SOURCE.match(stanza["source"])
        if match is None:
            problems.append(Problem(path, f"{name}: malformed Source field "
                                          f"{stanza['source'][:80]!r}"))
        else:
            source_name = match.group(1)
            source_version = match.group(2) or version
    return Package(ecosystem=DEB, name=name, version=version, source_name=source_name,
                   source_version=source_version, arch=stanza.get("architecture") or None,
                   distro=distro, locations=(path,))


def _files(fs: FsView, package: Package, problems: list[Problem]) -> tuple[str, ...]:
    for candidate in (f"{INFO}/{package.name}:{package.arch}.list", f"{INFO}/{package.name}.list"):
        text = read_text(fs, candidate, MAX_LIST_BYTES, problems)
        if text is not None:
            lines = [line for line in text.splitlines() if line.startswith("/")]
            if len(lines) > MAX_FILES_PER_PACKAGE:
                problems.append(Problem(candidate, f"more than {MAX_FILES_PER_PACKAGE} files: "
                                                   "the rest not listed"))
            return tuple(lines[:MAX_FILES_PER_PACKAGE])
    return ()


def _licence(fs: FsView, name: str, problems: list[Problem]) -> str | None:
    """Licences a machine-readable (DEP-5) copyright file names, joined with AND."""
    data = fs.read(f"{DOC}/{name}/copyright", MAX_COPYRIGHT_BYTES)
    if data is None:
        return None
    found: list[str] = []
    for match in _LICENSE.finditer(data.decode("utf-8", errors="replace")):
        value = match.group(1)
        if value not in found:
            found.append(value)
    if not found:
        return None
    return found[0] if len(found) == 1 else " AND ".join(
        f"({v})" if " " in v else v for v in found)


def read_dpkg(fs: FsView, distro: Distro | None, problems: list[Problem],
              databases: list[str]) -> list[Package]:
    """Every installed package of the dpkg status file and of distroless ``status.d``."""
    found: list[Package] = []
    text = read_text(fs, STATUS, MAX_STATUS_BYTES, problems)
    if text is not None:
        databases.append(STATUS)
        for stanza in parse_stanzas(text, STATUS, problems):
            if not _installed(stanza, need_status=True):
                continue
            package = _package(stanza, STATUS, distro, problems)
            if package is not None:
                found.append(package)
    names = sorted(fs.listdir(STATUS_D))
    if len(names) > MAX_STATUS_D_FILES:
        problems.append(Problem(STATUS_D, f"more than {MAX_STATUS_D_FILES} files: "
                                          "the rest not read"))
    for entry in names[:MAX_STATUS_D_FILES]:
        if entry.endswith(".md5sums") or entry.startswith("."):
            continue
        path = f"{STATUS_D}/{entry}"
        body = read_text(fs, path, MAX_STANZA_FILE_BYTES, problems)
        if body is None:
            continue
        databases.append(path)
        stanzas = parse_stanzas(body, path, problems)
        if not stanzas and not any(p.path == path for p in problems):
            problems.append(Problem(path, "no package stanza"))
        for stanza in stanzas:
            if _installed(stanza, need_status=False):
                package = _package(stanza, path, distro, problems)
                if package is not None:
                    found.append(package)
    return [replace(package, files=_files(fs, package, problems),
                    licence=_licence(fs, package.name, problems)) for package in found]
