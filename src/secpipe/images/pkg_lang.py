"""Language packages installed in an image: Python distributions and ``node_modules``.

One bounded walk of the filesystem finds ``*.dist-info/METADATA``, ``*.egg-info/PKG-INFO`` (and
``*.egg-info`` files) wherever they are — ``site-packages``, Debian's ``dist-packages``, vendored
copies — and ``package.json`` of every ``node_modules/<name>`` and ``node_modules/@scope/<name>``,
nested ones included (a problem when it does not parse), plus any other ``package.json`` that
names a package and a version (an application's own, a bundled copy: Syft counts those too).
Nothing is imported or run; metadata is read as text and JSON. Metadata without a Name or a
Version is a problem, not a package (Syft lists it with version UNKNOWN).
"""

from __future__ import annotations

import csv
import json
import posixpath
import threading
from dataclasses import dataclass, field
from email.parser import HeaderParser

from secpipe.images.pkg_model import NPM, PYPI, FsView, Package, Problem

MAX_WALK_ENTRIES = 1_000_000
MAX_DEPTH = 64
MAX_METADATA_BYTES = 1 << 20
MAX_PACKAGE_JSON_BYTES = 1 << 20
SKIPPED_ROOTS = ("/proc", "/sys", "/dev")
_HEADER_BYTES = 256 << 10
MAX_RECORD_BYTES = 8 << 20
MAX_FILES_PER_PACKAGE = 50_000


@dataclass
class _Walk:
    fs: FsView
    problems: list[Problem]
    databases: list[str]
    found: list[Package] = field(default_factory=list)
    visited: int = 0
    too_deep: bool = False


def _join(folder: str, name: str) -> str:
    return f"{folder.rstrip('/')}/{name}"


def _python(walk: _Walk, path: str, metadata: str) -> None:
    data = walk.fs.read(metadata, MAX_METADATA_BYTES + 1)
    if data is None:
        return
    walk.databases.append(metadata)
    if len(data) > MAX_METADATA_BYTES:
        cut = data.find(b"\n\n")
        if cut < 0 or cut > MAX_METADATA_BYTES:
            walk.problems.append(Problem(metadata, f"headers larger than {MAX_METADATA_BYTES} "
                                                   "bytes: not read"))
            return
        data = data[:cut]
    head = data.split(b"\n\n", 1)[0][:_HEADER_BYTES].decode("utf-8", errors="replace")
    message = HeaderParser().parsestr(head)
    name, version = (message.get("Name") or "").strip(), (message.get("Version") or "").strip()
    if not name or not version:
        walk.problems.append(Problem(metadata, "Python metadata without Name or Version"))
        return
    licence = (message.get("License-Expression") or "").strip()
    if not licence:
        declared = (message.get("License") or "").strip()
        licence = declared if declared and "\n" not in declared and len(declared) <= 200 else ""
    if not licence:
        classifiers = [c.rsplit("::", 1)[-1].strip() for c in message.get_all("Classifier") or []
                       if c.startswith("License ::") and c.count("::") >= 2]
        licence = " AND ".join(dict.fromkeys(classifiers))
    walk.found.append(Package(ecosystem=PYPI, name=name, version=version,
                              locations=(metadata,), licence=licence or None,
                              files=_python_files(walk, path)))


def _python_files(walk: _Walk, info_dir: str) -> tuple[str, ...]:
    """Installed files: ``RECORD`` of a dist-info (relative to its parent folder) or
    ``installed-files.txt`` of an egg-info (relative to the egg-info folder)."""
    if info_dir.endswith(".dist-info"):
        listing, base = _join(info_dir, "RECORD"), posixpath.dirname(info_dir)
    else:
        listing, base = _join(info_dir, "installed-files.txt"), info_dir
    data = walk.fs.read(listing, MAX_RECORD_BYTES + 1)
    if data is None:
        return ()
    if len(data) > MAX_RECORD_BYTES:
        walk.problems.append(Problem(listing, f"larger than {MAX_RECORD_BYTES} bytes: "
                                              "files not listed"))
        return ()
    lines = data.decode("utf-8", errors="replace").splitlines()
    rows = csv.reader(lines) if listing.endswith("RECORD") else ([line] for line in lines)
    files: list[str] = []
    try:
        for row in rows:
            if not row or not row[0].strip():
                continue
            if len(files) >= MAX_FILES_PER_PACKAGE:
                walk.problems.append(Problem(listing, f"more than {MAX_FILES_PER_PACKAGE} "
                                                      "files: the rest not listed"))
                break
            files.append(posixpath.normpath(_join(base, row[0].strip())))
    except csv.Error as exc:
        walk.problems.append(Problem(listing, f"does not parse: {exc}"))
    return tuple(files)


def _npm_licence(doc: dict[str, object]) -> str | None:
    value = doc.get("license")
    if isinstance(value, dict):
        value = value.get("type")
    if isinstance(value, str) and value.strip():
        return value.strip()
    many = doc.get("licenses")
    if isinstance(many, list):
        names = [str(item.get("type")) for item in many
                 if isinstance(item, dict) and isinstance(item.get("type"), str)]
        if names:
            return " OR ".join(names)
    return None


def _npm(walk: _Walk, package_dir: str, *, required: bool = True) -> None:
    """Read ``package_dir/package.json``; when not ``required`` (outside ``node_modules``),
    a file that is not a package (no name and version, not JSON) is no problem."""
    path = _join(package_dir, "package.json")
    data = walk.fs.read(path, MAX_PACKAGE_JSON_BYTES + 1)
    if data is None:
        return
    if len(data) > MAX_PACKAGE_JSON_BYTES:
        if not required:
            return
        walk.problems.append(Problem(path, f"larger than {MAX_PACKAGE_JSON_BYTES} bytes: "
                                           "not read"))
        return
    try:
        doc = json.loads(data.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError) as exc:
        if not required:
            return
        walk.problems.append(Problem(path, f"package.json does not parse: {exc}"[:200]))
        return
    if not isinstance(doc, dict):
        if required:
            walk.problems.append(Problem(path, "package.json is not an object"))
        return
    name, version = doc.get("name"), doc.get("version")
    if not isinstance(name, str) or not name or not isinstance(version, str) or not version:
        if required:
            walk.problems.append(Problem(path, "package.json without a name and version"))
        return
    walk.databases.append(path)
    walk.found.append(Package(ecosystem=NPM, name=name, version=version, locations=(path,),
                              licence=_npm_licence(doc)))


def _in_node_modules(folder: str) -> bool:
    """Whether ``folder`` is ``…/node_modules/<name>`` or ``…/node_modules/@scope/<name>``."""
    parts = folder.split("/")
    return len(parts) >= 3 and (parts[-2] == "node_modules" or (
        parts[-2].startswith("@") and len(parts) >= 4 and parts[-3] == "node_modules"))


def _node_modules(walk: _Walk, folder: str) -> list[str]:
    """Read every package of a ``node_modules`` folder; the package folders, to walk on."""
    out: list[str] = []
    for name in sorted(walk.fs.listdir(folder)):
        if name.startswith("."):
            continue
        child = _join(folder, name)
        if name.startswith("@"):
            for scoped in sorted(walk.fs.listdir(child)):
                out.append(_join(child, scoped))
        else:
            out.append(child)
    for package_dir in out:
        _npm(walk, package_dir)
    return out


def read_language_packages(fs: FsView, problems: list[Problem], databases: list[str],
                           cancel: threading.Event | None = None) -> list[Package]:
    """Python and npm packages found by one bounded walk from ``/`` (stopped, with a problem,
    when ``cancel`` is set)."""
    walk = _Walk(fs, problems, databases)
    stack: list[tuple[str, int]] = [("/", 0)]
    while stack:
        if cancel is not None and cancel.is_set():
            problems.append(Problem("/", "cancelled: language packages not all inventoried"))
            break
        folder, depth = stack.pop()
        names = fs.listdir(folder)
        walk.visited += len(names)
        if walk.visited > MAX_WALK_ENTRIES:
            problems.append(Problem(folder, f"walk stopped after {MAX_WALK_ENTRIES} entries: "
                                            "language packages past it not inventoried"))
            break
        children: list[tuple[str, int]] = []
        for name in sorted(names, reverse=True):
            path = _join(folder, name)
            if path in SKIPPED_ROOTS:
                continue
            if name.endswith(".dist-info"):
                _python(walk, path, _join(path, "METADATA"))
                continue
            if name.endswith(".egg-info"):
                target = _join(path, "PKG-INFO") if fs.listdir(path) else path
                _python(walk, path, target)
                continue
            if name == "package.json" and not _in_node_modules(folder):
                _npm(walk, folder, required=False)
                continue
            if name == "node_modules":
                for package_dir in _node_modules(walk, path):
                    children.append((package_dir, depth + 2))
                continue
            children.append((path, depth + 1))
        for child, child_depth in children:
            if child_depth > MAX_DEPTH:
                if not walk.too_deep:
                    problems.append(Problem(child, f"deeper than {MAX_DEPTH} folders: "
                                                   "not walked (nor anything as deep)"))
                walk.too_deep = True
                continue
            stack.append((child, child_depth))
    return walk.found
