"""Python lock files: ``poetry.lock``, ``pdm.lock``, ``uv.lock``, ``Pipfile.lock``.

Every locked package is recorded with its exact version, except those locked from a git
repository, a local path or a URL (``version=None``, not matchable: the version number is the
package's claim, not a release of the index).

Direct or transitive, by what the lock says when it says it:

* ``uv.lock`` lists the dependencies of the project's own packages (``source = { editable = "."
  }`` or ``{ virtual = … }``, or the workspace ``[manifest] members``): those are direct; the
  project's own packages are not dependencies and are left out.
* ``poetry.lock``, ``pdm.lock`` and ``Pipfile.lock`` do not say: the names declared in the
  ``pyproject.toml`` or ``Pipfile`` beside them are direct; without that file every package
  counts as direct.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from secpipe.scanners.deps.model import PYPI, Dependency
from secpipe.scanners.deps.readers.common import (
    NOT_MATCHABLE,
    Collector,
    Lines,
    Where,
    clip,
    read_json_object,
    read_toml,
    redact_url,
    table,
)
from secpipe.scanners.deps.readers.python_projects import (
    pipfile_entry,
    read_pipfile,
    read_pyproject,
)

POETRY_LOCK = "poetry.lock"
PDM_LOCK = "pdm.lock"
UV_LOCK = "uv.lock"
PIPFILE_LOCK = "Pipfile.lock"


def _declared(sibling: Path, kind: str, max_bytes: int) -> set[str] | None:
    """Canonical names the manifest beside a lock declares; ``None`` when there is none (its
    own problems are reported when it is read as a manifest of its own)."""
    if not sibling.is_file():
        return None
    scratch = Collector()
    reader = read_pyproject if kind == "pyproject" else read_pipfile
    reader(sibling, sibling.name, max_bytes, scratch)
    if scratch.inventory.problems and not scratch.inventory.dependencies:
        return None
    return {canonicalize_name(dep.name) for dep in scratch.inventory.dependencies}


def _packages(data: dict[str, Any], rel: str, out: Collector) -> list[dict[str, Any]]:
    packages = data.get("package", [])
    if not isinstance(packages, list):
        out.problem(rel, "[[package]] is not an array of tables")
        return []
    good = [p for p in packages if isinstance(p, dict)]
    if len(good) != len(packages):
        out.problem(rel, f"{len(packages) - len(good)} [[package]] entries are not tables")
    return good


def _name_version(pkg: dict[str, Any], index: int, rel: str,
                  out: Collector) -> tuple[str, str] | None:
    name, version = pkg.get("name"), pkg.get("version")
    if not isinstance(name, str) or not name:
        out.problem(rel, f"package[{index}] has no name")
        return None
    if not isinstance(version, str) or not version:
        # uv leaves the version out of dynamic local packages
        if pkg.get("source") is not None and not isinstance(version, str):
            return name, ""
        out.problem(rel, f"package {clip(name, 60)} has no version")
        return None
    return name, version


def read_poetry_lock(path: Path, rel: str, max_bytes: int, out: Collector) -> None:
    _read_package_array(path, rel, max_bytes, out, POETRY_LOCK)


def read_pdm_lock(path: Path, rel: str, max_bytes: int, out: Collector) -> None:
    _read_package_array(path, rel, max_bytes, out, PDM_LOCK)


def _reference_of(pkg: dict[str, Any]) -> tuple[str, Any, Any] | None:
    """(kind, URL or path, revision) of a package not locked from an index: Poetry's
    ``[package.source]`` (``type`` git/directory/file/url), PDM's ``git``/``path``/``url``."""
    source = table(pkg, "source")
    if source is not None and source.get("type") in ("git", "directory", "file", "url"):
        return (str(source["type"]), source.get("url"),
                source.get("resolved_reference") or source.get("reference"))
    for kind in ("git", "path", "url"):
        if isinstance(pkg.get(kind), str):
            return kind, pkg[kind], pkg.get("revision") or pkg.get("ref")
    return None


def _read_package_array(path: Path, rel: str, max_bytes: int, out: Collector,
                        reader: str) -> None:
    read = read_toml(path, rel, max_bytes, out, ("files",), files_table=True)
    if read is None:
        return
    text, data = read
    declared = _declared(path.parent / "pyproject.toml", "pyproject", max_bytes)
    lines = Lines(text)
    for index, pkg in enumerate(_packages(data, rel, out)):
        found = _name_version(pkg, index, rel, out)
        if found is None:
            continue
        name, version = found
        line = lines.find(f'name = "{name}"')
        direct = declared is None or canonicalize_name(name) in declared
        reference = _reference_of(pkg)
        if reference is not None:
            kind, url, ref = reference
            local = kind in ("directory", "path")
            shown = (url if local else redact_url(url)) if isinstance(url, str) else "?"
            spec = f"{kind} {shown}{f' {ref}' if isinstance(ref, str) else ''} " \
                   f"(version {version}, {NOT_MATCHABLE})"
            dep = Dependency(PYPI, name, None, spec, rel, line, None, direct, source=reader)
        else:
            dep = Dependency(PYPI, name, version, f"=={version}", rel, line, None, direct,
                             source=reader)
        if not out.add(dep):
            return


def _uv_roots(data: dict[str, Any], packages: list[dict[str, Any]]) -> set[str]:
    members: set[str] = set()
    manifest = table(data, "manifest")
    if manifest is not None and isinstance(manifest.get("members"), list):
        members = {canonicalize_name(m) for m in manifest["members"] if isinstance(m, str)}
    for pkg in packages:
        source = pkg.get("source")
        name = pkg.get("name")
        if isinstance(source, dict) and isinstance(name, str) and (
                "virtual" in source or source.get("editable") == "."):
            members.add(canonicalize_name(name))
    return members


def _uv_direct(packages: list[dict[str, Any]], roots: set[str]) -> set[str]:
    direct: set[str] = set()
    for pkg in packages:
        if canonicalize_name(str(pkg.get("name", ""))) not in roots:
            continue
        lists: list[Any] = [pkg.get("dependencies")]
        for key in ("optional-dependencies", "dev-dependencies"):
            groups = pkg.get(key)
            if isinstance(groups, dict):
                lists.extend(groups.values())
        for items in lists:
            if isinstance(items, list):
                direct.update(canonicalize_name(i["name"]) for i in items
                              if isinstance(i, dict) and isinstance(i.get("name"), str))
    return direct


def read_uv_lock(path: Path, rel: str, max_bytes: int, out: Collector) -> None:
    read = read_toml(path, rel, max_bytes, out, ("sdist", "wheels"))
    if read is None:
        return
    text, data = read
    packages = _packages(data, rel, out)
    roots = _uv_roots(data, packages)
    direct = _uv_direct(packages, roots)
    lines = Lines(text)
    for index, pkg in enumerate(packages):
        found = _name_version(pkg, index, rel, out)
        if found is None:
            continue
        name, version = found
        line = lines.find(f'name = "{name}"')
        canonical = canonicalize_name(name)
        if canonical in roots:
            continue  # the project itself
        is_direct = not roots or canonical in direct
        source = pkg.get("source")
        kind, ref = _uv_source(source)
        if kind == "registry" and version:
            dep = Dependency(PYPI, name, version, f"=={version}", rel, line, None, is_direct,
                             source=UV_LOCK)
        else:
            shown = f"version {version}, " if version else ""
            dep = Dependency(PYPI, name, None, f"{kind} {ref} ({shown}{NOT_MATCHABLE})", rel,
                             line, None, is_direct, source=UV_LOCK)
        if not out.add(dep):
            return


def _uv_source(source: Any) -> tuple[str, str]:
    if not isinstance(source, dict) or not source:
        return "registry", ""
    for kind in ("registry", "git", "url", "path", "directory", "editable", "virtual"):
        value = source.get(kind)
        if isinstance(value, str):
            shown = redact_url(value) if kind in ("registry", "git", "url") else value
            return kind, shown
    return "unknown source", clip(repr(source), 80)


def read_pipfile_lock(path: Path, rel: str, max_bytes: int, out: Collector) -> None:
    read = read_json_object(path, rel, max_bytes, out, "a Pipfile.lock")
    if read is None:
        return
    text, data = read
    declared = _declared(path.parent / "Pipfile", "pipfile", max_bytes)
    lines = Lines(text)
    for category, packages in data.items():
        if category == "_meta":
            continue
        if not isinstance(packages, dict):
            out.problem(rel, f"{category} is not an object of packages", member=category)
            continue
        for name, value in packages.items():
            line = lines.find(f'"{name}": {{')
            direct = declared is None or canonicalize_name(name) in declared
            dep = pipfile_entry(name, value, Where(rel, PIPFILE_LOCK, line, category, direct))
            if isinstance(dep, str):
                out.problem(rel, f"{category}.{name}: {dep}", line, category)
            elif not out.add(dep):
                return
