"""npm manifests: ``package.json``, ``package-lock.json`` and ``npm-shrinkwrap.json``.

* ``package.json``: ``dependencies``, ``devDependencies``, ``optionalDependencies``,
  ``peerDependencies`` (direct, ranges kept as written; an exact ``1.2.3`` / ``=1.2.3`` /
  ``v1.2.3`` is a version; aliases ``npm:real@range`` are recorded under the real name; git, file,
  link, workspace and URL specifications are not matchable).
* lock files v2 and v3: the ``packages`` object, keyed by install path
  (``node_modules/a/node_modules/@scope/b``); the package name is the part after the last
  ``node_modules/`` (an alias entry's ``name`` wins). A package at the top of ``node_modules``
  of the project or of a workspace folder is direct when that folder's entry declares it;
  deeper ones are transitive. Workspace folders and their ``link`` entries are the project
  itself, not dependencies. ``license`` is kept.
* lock file v1: the nested ``dependencies`` tree, walked iteratively to a bounded depth; the top
  level is direct when ``package.json`` beside the lock declares it (every top-level package when
  there is none).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import semver

from secpipe.scanners.deps.model import NPM, Dependency
from secpipe.scanners.deps.readers.common import (
    MAX_NESTING,
    NOT_MATCHABLE,
    Collector,
    Lines,
    clip,
    read_json_object,
    redact_url,
)

PACKAGE_JSON = "package.json"
PACKAGE_LOCK = "package-lock.json"

_SECTIONS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")
_NOT_REGISTRY = re.compile(r"(?i)^(?:git\+|git:|github:|gitlab:|bitbucket:|gist:|file:|link:|"
                           r"workspace:|portal:|patch:)")
_URL = re.compile(r"(?i)^[a-z][a-z0-9+.-]*://")
_GITHUB_SHORTHAND = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(?:#.*)?$")


def exact_version(spec: str) -> str | None:
    """The version an npm range pins exactly (``1.2.3``, ``=1.2.3``, ``v1.2.3``), else ``None``."""
    text = spec.strip()
    text = text[1:].strip() if text.startswith("=") else text
    text = text[1:] if text[:1] in ("v", "V") else text
    return text if text and semver.Version.is_valid(text) else None


def licence_of(entry: dict[str, Any]) -> str | None:
    """The ``license`` of a package entry (a string, or the old ``{"type": …}`` / ``licenses``
    list forms)."""
    value = entry.get("license")
    if isinstance(value, dict):
        value = value.get("type")
    if isinstance(value, str) and value.strip():
        return value.strip()
    many = entry.get("licenses")
    if isinstance(many, list):
        types = [v.get("type") if isinstance(v, dict) else v for v in many]
        names = [t for t in types if isinstance(t, str) and t.strip()]
        if names:
            return " OR ".join(names)
    return None


def range_dependency(name: str, spec: str, rel: str, line: int | None, member: str | None,
                     source: str = PACKAGE_JSON) -> Dependency:
    """One ``name: range`` declaration (``package.json``, ``npm install name@range``)."""
    text = spec.strip()
    if text.startswith("npm:"):
        alias = text[4:]
        at = alias.rfind("@")
        if at > 0:
            real, real_spec = alias[:at], alias[at + 1:]
            return Dependency(NPM, real, exact_version(real_spec), text, rel, line, member,
                              source=source)
        return Dependency(NPM, alias, None, text, rel, line, member, source=source)
    if _NOT_REGISTRY.match(text) or _URL.match(text) or _GITHUB_SHORTHAND.match(text):
        shown = redact_url(text) if _URL.match(text) or "://" in text else text
        return Dependency(NPM, name, None, f"{shown} ({NOT_MATCHABLE})", rel, line, member,
                          source=source)
    return Dependency(NPM, name, exact_version(text), text, rel, line, member, source=source)


def package_argument(arg: str, rel: str, line: int | None, member: str | None,
                     source: str) -> Dependency:
    """One ``npm install`` argument: ``name``, ``name@range``, ``@scope/name@range``, or a git,
    URL, tarball or folder reference (not matchable)."""
    text = arg.strip()
    local = text.startswith((".", "/", "~")) or text.endswith((".tgz", ".tar.gz"))
    if local or _NOT_REGISTRY.match(text) or _URL.match(text) or (
            _GITHUB_SHORTHAND.match(text) and not text.startswith("@")):
        shown = redact_url(text) if "://" in text else text
        return Dependency(NPM, shown, None, f"{shown} ({NOT_MATCHABLE})", rel, line, member,
                          source=source)
    at = text.find("@", 1)
    if at < 0:
        return Dependency(NPM, text, None, "", rel, line, member, source=source)
    return range_dependency(text[:at], text[at + 1:], rel, line, member, source)


def declared_names(manifest: dict[str, Any]) -> set[str]:
    """Names a ``package.json`` (or a lock's folder entry) declares in any dependency section."""
    names: set[str] = set()
    for section in _SECTIONS:
        deps = manifest.get(section)
        if isinstance(deps, dict):
            names.update(k for k in deps if isinstance(k, str))
    return names


def read_package_json(path: Path, rel: str, max_bytes: int, out: Collector) -> None:
    read = read_json_object(path, rel, max_bytes, out, "a package.json")
    if read is None:
        return
    text, data = read
    lines = Lines(text)
    for section in _SECTIONS:
        deps = data.get(section)
        if deps is None:
            continue
        if not isinstance(deps, dict):
            out.problem(rel, f"{section} is not an object", member=section)
            continue
        for name, spec in deps.items():
            line = lines.find(f'"{name}"')
            if not isinstance(spec, str):
                out.problem(rel, f"{section}.{clip(name, 60)}: version is not a string", line,
                            section)
                continue
            if not out.add(range_dependency(name, spec, rel, line, section)):
                return


def read_package_lock(path: Path, rel: str, max_bytes: int, out: Collector) -> None:
    read = read_json_object(path, rel, max_bytes, out, "an npm lock file")
    if read is None:
        return
    text, data = read
    version = data.get("lockfileVersion")
    source = path.name if path.name in (PACKAGE_LOCK, "npm-shrinkwrap.json") else PACKAGE_LOCK
    packages = data.get("packages")
    if isinstance(packages, dict):
        _read_packages(packages, text, rel, out, source)
    elif isinstance(data.get("dependencies"), dict):
        _read_v1(data["dependencies"], text, path, rel, max_bytes, out, source)
    elif version not in (1, 2, 3) or data.get("dependencies") is not None:
        out.problem(rel, f"not a package-lock this reader knows (lockfileVersion "
                    f"{clip(repr(version), 20)}, no packages or dependencies object)")


def _split_install_path(key: str) -> tuple[str, str] | None:
    """(folder that holds the ``node_modules``, package name) of an install path."""
    marker = "node_modules/"
    at = key.rfind(marker)
    if at < 0 or (at > 0 and key[at - 1] != "/"):
        return None
    name = key[at + len(marker):]
    return key[:at].rstrip("/"), name


def _read_packages(packages: dict[str, Any], text: str, rel: str, out: Collector,
                   source: str) -> None:
    lines = Lines(text)
    direct_of: dict[str, set[str]] = {}
    for key, entry in packages.items():
        if isinstance(entry, dict) and "node_modules/" not in f"/{key}/" and not entry.get(
                "link"):
            direct_of[key] = declared_names(entry)  # the project or a workspace folder
    for key, entry in packages.items():
        if not isinstance(key, str) or key == "" or key in direct_of:
            continue
        line = lines.find(f'"{key}": {{')
        if not isinstance(entry, dict):
            out.problem(rel, f"packages[{clip(key, 80)}] is not an object", line, key)
            continue
        if entry.get("link") is True:
            continue  # a link to a workspace folder: the project's own package
        split = _split_install_path(key)
        if split is None:
            out.problem(rel, f"packages key {clip(key, 80)} is not an install path", line, key)
            continue
        holder, installed_as = split
        name = entry.get("name") if isinstance(entry.get("name"), str) else installed_as
        version = entry.get("version")
        direct = holder in direct_of and installed_as in direct_of[holder]
        dep = _locked(str(name), version, entry.get("resolved"), rel, line, key, direct,
                      licence_of(entry), source)
        if isinstance(dep, str):
            out.problem(rel, dep, line, key)
        elif not out.add(dep):
            return


def _locked(name: str, version: Any, resolved: Any, rel: str, line: int | None, member: str,
            direct: bool, licence: str | None, source: str) -> Dependency | str:
    if not isinstance(version, str) or not version:
        if isinstance(resolved, str) and _NOT_REGISTRY.match(resolved):
            version = ""
        else:
            return f"{clip(name, 60)} has no version"
    if version.startswith("npm:"):  # a v1 alias: npm:real-name@1.2.3
        alias = version[4:]
        at = alias.rfind("@")
        if at > 0:
            name, version = alias[:at], alias[at + 1:]
    where = resolved if isinstance(resolved, str) else ""
    if _NOT_REGISTRY.match(version) or _URL.match(version):
        where, version = version, ""
    if _NOT_REGISTRY.match(where) or not semver.Version.is_valid(version):
        shown = redact_url(where) if where else "no registry version"
        stated = f"version {version}, " if version else ""
        return Dependency(NPM, name, None, f"{shown} ({stated}{NOT_MATCHABLE})", rel, line,
                          member, direct, licence, source)
    return Dependency(NPM, name, version, version, rel, line, member, direct, licence, source)


def _read_v1(tree: dict[str, Any], text: str, path: Path, rel: str, max_bytes: int,
             out: Collector, source: str) -> None:
    declared: set[str] | None = None
    sibling = path.parent / PACKAGE_JSON
    if sibling.is_file():
        scratch = Collector()
        read_package_json(sibling, PACKAGE_JSON, max_bytes, scratch)
        if scratch.inventory.dependencies:
            declared = {dep.name for dep in scratch.inventory.dependencies}
    lines = Lines(text)
    limit = MAX_NESTING // 2
    # an iterator per level: entries are visited in file order (depth first), as written
    stack: list[tuple[Iterator[tuple[str, Any]], str, int]] = [(iter(tree.items()), "", 1)]
    while stack:
        items, prefix, depth = stack[-1]
        item = next(items, None)
        if item is None:
            stack.pop()
            continue
        name, entry = item
        key = f"{prefix}node_modules/{name}"
        line = lines.find(f'"{name}": {{')
        if not isinstance(entry, dict):
            out.problem(rel, f"dependencies.{clip(name, 60)} is not an object", line, key)
            continue
        direct = depth == 1 and (declared is None or name in declared)
        dep = _locked(name, entry.get("version"), entry.get("resolved"), rel, line, key,
                      direct, licence_of(entry), source)
        if isinstance(dep, str):
            out.problem(rel, dep, line, key)
        elif not out.add(dep):
            return
        children = entry.get("dependencies")
        if isinstance(children, dict) and children:
            if depth >= limit:
                out.problem(rel, f"dependencies nested deeper than {limit} levels: the "
                            "deeper ones were not read", line, key)
            else:
                stack.append((iter(children.items()), key + "/", depth + 1))
