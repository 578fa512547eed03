"""Installed Python environments, read from disk without running or importing anything.

:func:`site_dirs_of` finds the ``site-packages`` folders of a virtual environment, a conda
environment or an interpreter's prefix (``lib/python3.X/site-packages``, ``lib64/…``,
``Lib/site-packages``, Debian's ``dist-packages``; a venv's ``pyvenv.cfg`` with
``include-system-site-packages = true`` adds its base interpreter's folders).

:func:`read_installed` reads every ``*.dist-info/METADATA``, ``*.egg-info`` (folder or file) and
``*.egg/EGG-INFO/PKG-INFO`` as RFC 822 headers: name, version and licence (``License-Expression``,
else a one-line ``License``, else the ``License ::`` classifiers, else the first line of a
``License`` that holds a whole licence text). A distribution installed from a local folder or a
VCS (``direct_url.json``) is not matchable: its version is not a release of the index. When the
installer left ``REQUESTED`` markers, they say which distributions were asked for (direct).
"""

from __future__ import annotations

import configparser
import json
import os
import re
import stat
from collections.abc import Sequence
from email.parser import HeaderParser
from pathlib import Path

from secpipe.scanners.deps.model import PYPI, Dependency, Inventory
from secpipe.scanners.deps.readers.common import (
    MAX_ENTRIES,
    NOT_MATCHABLE,
    Collector,
    clip,
    redact_url,
)

SOURCE = "installed"
MAX_METADATA_HEAD = 1 << 20
"""Most bytes of a METADATA / PKG-INFO file read (its headers come first)."""
MAX_SMALL_FILE = 64 * 1024
"""Most bytes of ``direct_url.json`` or ``pyvenv.cfg`` read."""

_PY_VERSION = re.compile(r"python(\d+\.\d+)")


def _read_head(path: Path, limit: int) -> bytes:
    """At most ``limit`` bytes from the start of a regular file (a FIFO or device refused before
    any read). Raises :class:`OSError`."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        chunks: list[bytes] = []
        left = limit
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 16))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _licence(headers: dict[str, list[str]]) -> str | None:
    expression = headers.get("license-expression", [])
    if expression and expression[0].strip():
        return expression[0].strip()
    declared = next((v.strip() for v in headers.get("license", [])
                     if v.strip() and v.strip().upper() != "UNKNOWN"), None)
    if declared and "\n" not in declared and len(declared) <= 200:
        return declared
    classifiers = [c.strip() for c in headers.get("classifier", [])
                   if c.strip().startswith("License ::")]
    if classifiers:
        return "; ".join(classifiers)
    if declared:
        return clip(declared.splitlines()[0], 100)
    return None


def _headers(data: bytes) -> dict[str, list[str]]:
    text = data.decode("utf-8", errors="replace")
    end = re.search(r"\r?\n\r?\n", text)
    message = HeaderParser().parsestr(text[:end.start()] if end else text, headersonly=True)
    headers: dict[str, list[str]] = {}
    for key, value in message.items():
        headers.setdefault(key.lower(), []).append(
            re.sub(r"\n[ \t]+", "\n", str(value).replace("\r\n", "\n")).strip())
    return headers


def _installed_from(dist_info: Path, site: str, out: Collector) -> str | None:
    """How a distribution was installed when not from an index release: the spec text."""
    direct_url = dist_info / "direct_url.json"
    if not direct_url.is_file():
        return None
    try:
        data = json.loads(_read_head(direct_url, MAX_SMALL_FILE))
    except (OSError, ValueError, RecursionError) as exc:
        out.problem(site, f"{dist_info.name}/direct_url.json unreadable: {clip(str(exc))}",
                    member=dist_info.name)
        return None
    if not isinstance(data, dict):
        return None
    url = data.get("url")
    shown = redact_url(url) if isinstance(url, str) else "?"
    if isinstance(data.get("dir_info"), dict):
        editable = "editable " if data["dir_info"].get("editable") is True else ""
        return f"{editable}install from local folder {shown}"
    if isinstance(data.get("vcs_info"), dict):
        return f"install from VCS {shown}"
    return None


def read_installed(site_dirs: Sequence[Path]) -> Inventory:
    """Every distribution installed in these ``site-packages`` folders."""
    out = Collector(max_entries=MAX_ENTRIES)
    for site_dir in site_dirs:
        site = site_dir.as_posix()
        out.manifest(site)
        try:
            entries = sorted(os.scandir(site_dir), key=lambda e: e.name)
        except OSError as exc:
            out.problem(site, f"cannot list the folder: {exc.strerror or exc}")
            continue
        found: list[tuple[Dependency, bool]] = []
        for entry in entries:
            if out.full or len(found) > out.max_entries:
                break
            dep_requested = _distribution(Path(entry.path), entry, site, out)
            if dep_requested is not None:
                found.append(dep_requested)
        any_requested = any(requested for _, requested in found)
        for dep, requested in found:
            if any_requested and not requested:
                dep = Dependency(dep.ecosystem, dep.name, dep.version, dep.spec, dep.path,
                                 dep.line, dep.member, False, dep.licence, dep.source)
            if not out.add(dep):
                break
    return out.finish()


def _distribution(path: Path, entry: os.DirEntry[str], site: str,
                  out: Collector) -> tuple[Dependency, bool] | None:
    name = entry.name
    lower = name.lower()
    try:
        is_dir = entry.is_dir(follow_symlinks=False)
    except OSError:
        is_dir = False
    if lower.endswith(".dist-info"):
        if not is_dir:
            out.problem(site, f"{name} is not a folder (a link or a file): not read",
                        member=name)
            return None
        metadata = path / "METADATA"
    elif lower.endswith(".egg-info"):
        metadata = path / "PKG-INFO" if is_dir else path
    elif lower.endswith(".egg"):
        if not is_dir:
            out.problem(site, "zipped egg: its metadata was not read", member=name)
            return None
        metadata = path / "EGG-INFO" / "PKG-INFO"
    else:
        return None
    try:
        data = _read_head(metadata, MAX_METADATA_HEAD)
    except OSError as exc:
        out.problem(site, f"{name}: metadata unreadable ({exc.strerror or exc})", member=name)
        return None
    if b"\x00" in data:
        out.problem(site, f"{name}: metadata is binary, not RFC 822 headers", member=name)
        return None
    headers = _headers(data)
    if len(data) >= MAX_METADATA_HEAD and not re.search(rb"\r?\n\r?\n", data):
        out.problem(site, f"{name}: metadata headers longer than {MAX_METADATA_HEAD} bytes: "
                    "read in part", member=name)
    stem = re.sub(r"(?i)\.(dist-info|egg-info|egg)$", "", name)
    dist_name = (headers.get("name") or [""])[0] or stem.split("-", 1)[0]
    version = (headers.get("version") or [""])[0] or (stem.split("-")[1] if "-" in stem
                                                      else "")
    if not dist_name or not version:
        out.problem(site, f"{name}: metadata has no {'Name' if not dist_name else 'Version'}",
                    member=name)
        return None
    licence = _licence(headers)
    origin = _installed_from(path, site, out) if is_dir else None
    if origin is not None:
        dep = Dependency(PYPI, dist_name, None, f"{origin} (version {version}, {NOT_MATCHABLE})",
                         site, None, name, True, licence, SOURCE)
    else:
        dep = Dependency(PYPI, dist_name, version, f"=={version}", site, None, name, True,
                         licence, SOURCE)
    requested = is_dir and (path / "REQUESTED").is_file()
    return dep, requested


# --- finding site-packages ------------------------------------------------------------------------

def _site_dirs_under(root: Path, version: str | None) -> list[Path]:
    found: list[Path] = []
    pattern = f"python{version}" if version else "python3*"
    for lib in ("lib", "lib64"):
        found += sorted(root.joinpath(lib).glob(f"{pattern}/site-packages"))
        found += sorted(root.joinpath(lib).glob(f"{pattern}/dist-packages"))
    found += sorted(root.joinpath("lib").glob("python3/dist-packages"))
    found += sorted(root.joinpath("local", "lib").glob(f"{pattern}/dist-packages"))
    found += [p for p in (root / "Lib" / "site-packages",) if p.is_dir()]
    return [p for p in found if p.is_dir()]


def _pyvenv(root: Path) -> tuple[bool, Path | None, str | None]:
    """(include system site-packages, base prefix, Python version) from ``pyvenv.cfg``."""
    cfg = root / "pyvenv.cfg"
    if not cfg.is_file():
        return False, None, None
    try:
        text = _read_head(cfg, MAX_SMALL_FILE).decode("utf-8", errors="replace")
    except OSError:
        return False, None, None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string("[venv]\n" + text)
    except configparser.Error:
        return False, None, None
    section = parser["venv"]
    include = section.get("include-system-site-packages", "false").strip().lower() == "true"
    home = section.get("home")
    base = Path(home.strip()).parent if home else None
    raw_version = section.get("version_info") or section.get("version") or ""
    found = re.match(r"(\d+\.\d+)", raw_version.strip())
    return include, base, found.group(1) if found else None


def site_dirs_of(python_or_venv: Path) -> list[Path]:
    """The site-packages folders of a venv folder or an interpreter path, found on disk."""
    target = Path(python_or_venv)
    version: str | None = None
    if target.is_dir():
        if target.name in ("site-packages", "dist-packages"):
            return [target]
        root = target
    else:
        found = _PY_VERSION.match(target.name)
        version = found.group(1) if found else None
        root = target.parent.parent
        if target.parent.name.lower() not in ("bin", "scripts") and (
                target.parent / "Lib").is_dir():
            root = target.parent  # Windows: python.exe in the prefix itself
    include, base, cfg_version = _pyvenv(root)
    version = version or cfg_version
    result = _site_dirs_under(root, version)
    if include and base is not None and base != root:
        result += _site_dirs_under(base, version)
    seen: set[Path] = set()
    unique: list[Path] = []
    for path in result:
        try:
            key = path.resolve()
        except (OSError, RuntimeError):
            key = path
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique
