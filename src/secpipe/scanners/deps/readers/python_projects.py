"""Python project declarations: ``pyproject.toml``, ``setup.cfg``, ``Pipfile``.

* ``pyproject.toml``: PEP 621 ``[project] dependencies`` and ``optional-dependencies``, PEP 735
  ``[dependency-groups]`` (``{include-group = …}`` entries refer to groups read anyway),
  ``[build-system] requires``, Poetry's ``[tool.poetry.dependencies]``, its groups and the old
  ``dev-dependencies`` (caret and tilde constraints kept as written; a bare version is Poetry's
  exact pin), uv's and PDM's development lists.
* ``setup.cfg``: ``install_requires``, ``setup_requires``, ``tests_require`` and
  ``[options.extras_require]`` (read by :mod:`configparser`, never by running setup.py).
* ``Pipfile``: ``[packages]``, ``[dev-packages]`` and any other category table.

Every dependency is direct; ``member`` names the table it was declared in.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from secpipe.scanners.deps.model import PYPI, Dependency
from secpipe.scanners.deps.readers.common import (
    NOT_MATCHABLE,
    Collector,
    Lines,
    Where,
    clip,
    pinned_version,
    read_text,
    read_toml,
    redact_url,
    requirement,
    table,
)

PYPROJECT = "pyproject.toml"
SETUP_CFG = "setup.cfg"
PIPFILE = "Pipfile"

_PIPFILE_NOT_PACKAGES = {"source", "requires", "scripts", "pipenv", "pipfile"}


def _quoted_line(lines: Lines, value: str) -> int | None:
    for quote in ('"', "'"):
        line = lines.find(f"{quote}{value}{quote}")
        if line is not None:
            return line
    return None


def _key_line(lines: Lines, key: str) -> int | None:
    found = re.search(rf'(?m)^[ \t]*["\']?{re.escape(key)}["\']?[ \t]*=', lines.text)
    return lines.at(found.start()) if found else None


def _string_list(value: Any, rel: str, member: str, lines: Lines, out: Collector,
                 source: str) -> None:
    """A list of PEP 508 strings (``[project] dependencies`` and the like)."""
    if not isinstance(value, list):
        out.problem(rel, f"{member} is not an array of requirement strings", member=member)
        return
    for item in value:
        if out.full:
            return
        if isinstance(item, dict) and set(item) == {"include-group"}:
            continue  # PEP 735: the included group is read on its own
        if not isinstance(item, str):
            out.problem(rel, f"{member}: entry is not a requirement string: {clip(repr(item))}",
                        member=member)
            continue
        where = Where(rel, source, _quoted_line(lines, item), member)
        dep = requirement(item, where)
        if isinstance(dep, str):
            out.problem(rel, f"{member}: {dep}", where.line, member)
        else:
            out.add(dep)


def _string_groups(value: Any, rel: str, member: str, lines: Lines, out: Collector,
                   source: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        out.problem(rel, f"{member} is not a table of groups", member=member)
        return
    for group, items in value.items():
        _string_list(items, rel, f"{member}.{group}", lines, out, source)


def read_pyproject(path: Path, rel: str, max_bytes: int, out: Collector) -> None:
    read = read_toml(path, rel, max_bytes, out)
    if read is None:
        return
    text, data = read
    lines = Lines(text)
    build = table(data, "build-system")
    if build is not None and "requires" in build:
        _string_list(build["requires"], rel, "build-system.requires", lines, out, PYPROJECT)
    project = table(data, "project")
    if project is not None:
        if "dependencies" in project:
            _string_list(project["dependencies"], rel, "project.dependencies", lines, out,
                         PYPROJECT)
        _string_groups(project.get("optional-dependencies"), rel,
                       "project.optional-dependencies", lines, out, PYPROJECT)
    _string_groups(data.get("dependency-groups"), rel, "dependency-groups", lines, out,
                   PYPROJECT)
    uv = table(data, "tool", "uv")
    if uv is not None and "dev-dependencies" in uv:
        _string_list(uv["dev-dependencies"], rel, "tool.uv.dev-dependencies", lines, out,
                     PYPROJECT)
    pdm = table(data, "tool", "pdm")
    if pdm is not None:
        _string_groups(pdm.get("dev-dependencies"), rel, "tool.pdm.dev-dependencies", lines,
                       out, PYPROJECT)
    poetry = table(data, "tool", "poetry")
    if poetry is not None:
        _poetry(poetry, rel, lines, out)


def _poetry(poetry: dict[str, Any], rel: str, lines: Lines, out: Collector) -> None:
    tables: list[tuple[str, Any]] = [("tool.poetry.dependencies", poetry.get("dependencies")),
                                     ("tool.poetry.dev-dependencies",
                                      poetry.get("dev-dependencies"))]
    groups = poetry.get("group")
    if isinstance(groups, dict):
        for name, group in groups.items():
            if isinstance(group, dict):
                tables.append((f"tool.poetry.group.{name}.dependencies",
                               group.get("dependencies")))
    for member, deps in tables:
        if deps is None:
            continue
        if not isinstance(deps, dict):
            out.problem(rel, f"{member} is not a table", member=member)
            continue
        for name, value in deps.items():
            if out.full:
                return
            if member == "tool.poetry.dependencies" and name.lower() == "python":
                continue  # the interpreter constraint, not a package
            line = _key_line(lines, name)
            constraints = value if isinstance(value, list) else [value]
            for constraint in constraints:
                dep = _poetry_constraint(name, constraint, Where(rel, PYPROJECT, line, member))
                if isinstance(dep, str):
                    out.problem(rel, f"{member}.{name}: {dep}", line, member)
                else:
                    out.add(dep)


_BARE_VERSION = re.compile(r"^\s*(?:==?\s*)?v?(\d[0-9A-Za-z.+!-]*)\s*$")


def _exact(spec: str) -> str | None:
    """The version a Poetry constraint pins exactly (``1.2.3``, ``==1.2.3``)."""
    found = _BARE_VERSION.match(spec)
    if not found:
        return None
    try:
        Version(found.group(1))
    except InvalidVersion:
        return None
    return found.group(1)


def _poetry_constraint(name: str, value: Any, where: Where) -> Dependency | str:
    if isinstance(value, str):
        return Dependency(PYPI, name, _exact(value), value.strip(), where.path, where.line,
                          where.member, source=where.source)
    if not isinstance(value, dict):
        return f"not a version string or table: {clip(repr(value))}"
    for kind in ("git", "path", "url"):
        if isinstance(value.get(kind), str):
            ref = value[kind]
            shown = redact_url(ref) if kind != "path" else ref
            extra = "".join(f" {k} {value[k]}" for k in ("branch", "tag", "rev")
                            if isinstance(value.get(k), str))
            return Dependency(PYPI, name, None, f"{kind} {shown}{extra} ({NOT_MATCHABLE})",
                              where.path, where.line, where.member, source=where.source)
    version = value.get("version", "*")
    if not isinstance(version, str):
        return f"version is not a string: {clip(repr(version))}"
    spec = version.strip()
    extras = value.get("extras")
    if isinstance(extras, list) and extras:
        spec = f"[{','.join(str(e) for e in extras)}]{spec}"
    marker = value.get("markers")
    python = value.get("python")
    notes = [f"{m}" for m in (marker,) if isinstance(m, str)]
    if isinstance(python, str):
        notes.append(f"python {python}")
    if notes:
        spec += "; " + " and ".join(notes)
    return Dependency(PYPI, name, _exact(version), spec, where.path, where.line, where.member,
                      source=where.source)


def read_setup_cfg(path: Path, rel: str, max_bytes: int, out: Collector) -> None:
    out.manifest(rel)
    text = read_text(path, rel, max_bytes, out)
    if text is None:
        return
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    try:
        parser.read_string(text, source=rel)
    except configparser.Error as exc:
        line = getattr(exc, "lineno", None)
        message = str(exc).splitlines()[0]
        out.problem(rel, f"malformed setup.cfg: {clip(message, 160)}",
                    line if isinstance(line, int) else None)
        return
    lines = Lines(text)
    wanted: list[tuple[str, str]] = []
    if parser.has_section("options"):
        wanted += [("options", key) for key in ("install_requires", "setup_requires",
                                                "tests_require")
                   if parser.has_option("options", key)]
    if parser.has_section("options.extras_require"):
        wanted += [("options.extras_require", key)
                   for key in parser.options("options.extras_require")]
    for section, key in wanted:
        member = f"{section}.{key}"
        value = parser.get(section, key)
        if value.strip().startswith(("file:", "attr:")):
            out.problem(rel, f"{member} is read from {clip(value.strip(), 60)}: not analysed "
                        "here (that file is read on its own when it is a manifest)",
                        _key_line(lines, key), member)
            continue
        for raw in value.splitlines():
            item = re.sub(r"(^|\s+)#.*$", "", raw).strip()
            if not item:
                continue
            where = Where(rel, SETUP_CFG, lines.find(item), member)
            dep = requirement(item, where)
            if isinstance(dep, str):
                out.problem(rel, f"{member}: {dep}", where.line, member)
            elif not out.add(dep):
                return


def read_pipfile(path: Path, rel: str, max_bytes: int, out: Collector) -> None:
    read = read_toml(path, rel, max_bytes, out)
    if read is None:
        return
    text, data = read
    lines = Lines(text)
    for category, packages in data.items():
        if category in _PIPFILE_NOT_PACKAGES or not isinstance(packages, dict):
            continue
        for name, value in packages.items():
            if out.full:
                return
            where = Where(rel, PIPFILE, _key_line(lines, name), category)
            dep = pipfile_entry(name, value, where)
            if isinstance(dep, str):
                out.problem(rel, f"{category}.{name}: {dep}", where.line, category)
            else:
                out.add(dep)


def pipfile_entry(name: str, value: Any, where: Where) -> Dependency | str:
    """One package of a Pipfile or Pipfile.lock: ``"*"``, ``"==1.2"``, ``">=1"`` or a table
    (``version``, ``extras``, ``markers``; ``git``/``path``/``file`` references)."""
    if isinstance(value, dict):
        for kind in ("git", "hg", "svn", "path", "file"):
            if isinstance(value.get(kind), str):
                ref = value[kind]
                shown = ref if kind == "path" else redact_url(ref)
                extra = "".join(f" {k} {value[k]}" for k in ("ref",)
                                if isinstance(value.get(k), str))
                editable = "editable " if value.get("editable") is True else ""
                return Dependency(PYPI, name, None,
                                  f"{editable}{kind} {shown}{extra} ({NOT_MATCHABLE})",
                                  where.path, where.line, where.member, where.direct,
                                  source=where.source)
        version: Any = value.get("version", "*")
        extras = value.get("extras")
        marker = value.get("markers")
    else:
        version, extras, marker = value, None, None
    if not isinstance(version, str):
        return f"version is not a string: {clip(repr(version))}"
    spec = version.strip()
    pinned = None
    if spec not in ("", "*"):
        try:
            pinned = pinned_version(Requirement(f"{name}{spec}"))
        except InvalidRequirement:
            return f"not a valid version specifier: {clip(spec, 60)}"
    if isinstance(extras, list) and extras:
        spec = f"[{','.join(str(e) for e in extras)}]{spec}"
    if isinstance(marker, str) and marker.strip():
        spec += f"; {marker.strip()}"
    return Dependency(PYPI, name, pinned, spec, where.path, where.line, where.member,
                      where.direct, source=where.source)
