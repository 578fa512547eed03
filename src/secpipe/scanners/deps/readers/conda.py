"""conda environment files (``environment.yml``, ``conda.yaml`` as MLflow writes them).

Conda packages are recorded with ecosystem :data:`~.common.CONDA` (OSV has no conda data, so the
matcher can say they were not matched): ``name``, ``name=1.2`` (conda's ``=`` is a prefix match:
a range), ``name==1.2.3`` and ``name=1.2.3=build`` (exact), ``channel::name``, ``name 1.2.3
build`` and ``name[version='>=1']``. The ``pip:`` sub-list is requirements-file lines (PyPI),
with ``-r`` includes followed relative to the environment file.

MLflow's ``python_env.yaml`` (beside ``conda.yaml`` in a logged model) lists pip requirement
lines only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from secpipe.core.errors import ConfigError
from secpipe.core.safeload import YamlDocument, parse_yaml
from secpipe.scanners.deps.model import Dependency
from secpipe.scanners.deps.readers.common import CONDA, Collector, clip, read_text
from secpipe.scanners.deps.readers.requirements import parse_lines

SOURCE = "conda"
MLFLOW = "python_env.yaml"

_MATCHSPEC = re.compile(
    r"^(?:(?P<channel>[^\s:]+)::)?(?P<name>[A-Za-z0-9_][A-Za-z0-9_.-]*)"
    r"(?P<bracket>\[[^\]]*\])?\s*(?P<rest>.*)$")
_EXACT = re.compile(r"^==\s*([^=\s,|<>*!]+)$|^=([^=\s,|<>*!]+)=\S+$|^([^=\s,|<>*!~]+)\s+\S+$")


def conda_dependency(text: str, rel: str, line: int | None, member: str | None,
                     source: str = SOURCE) -> Dependency | str:
    """One conda match specification as a dependency, or why it is not one."""
    spec = text.strip()
    found = _MATCHSPEC.match(spec)
    if not found:
        return f"not a conda package specification: {clip(spec, 80)}"
    rest = found.group("rest").strip()
    bracket = found.group("bracket") or ""
    version: str | None = None
    exact = _EXACT.match(rest) if rest else None
    if exact:
        version = next(g for g in exact.groups() if g)
    if bracket:
        pinned = re.search(r"version\s*=\s*['\"]?==([^'\",\s*|<>=]+)['\"]?", bracket)
        if pinned:
            version = pinned.group(1)
    written = f"{bracket}{rest}"
    return Dependency(CONDA, found.group("name"), version, written, rel, line, member,
                      source=source)


def _load(path: Path, rel: str, max_bytes: int, out: Collector,
          what: str) -> tuple[YamlDocument, dict[str, Any]] | None:
    out.manifest(rel)
    text = read_text(path, rel, max_bytes, out)
    if text is None:
        return None
    try:
        document = parse_yaml(text, rel)
    except ConfigError as exc:
        reason = str(exc)
        if reason.startswith(rel + ":"):
            reason = reason[len(rel) + 1:].strip()
        at = re.match(r"line (\d+):", reason)
        out.problem(rel, reason, int(at.group(1)) if at else None)
        return None
    if document.data is None:
        return None
    if not isinstance(document.data, dict):
        out.problem(rel, f"not {what}: the top level is not a mapping")
        return None
    return document, document.data


def read_python_env(path: Path, rel: str, max_bytes: int, out: Collector) -> None:
    """MLflow's ``python_env.yaml``: ``build_dependencies`` and ``dependencies`` are
    requirements-file lines (``-r requirements.txt`` followed)."""
    loaded = _load(path, rel, max_bytes, out, "an MLflow python_env.yaml")
    if loaded is None:
        return
    document, data = loaded
    for key in ("build_dependencies", "dependencies"):
        items = data.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            out.problem(rel, f"{key} is not a list", document.line_of((key,)), key)
            continue
        lines: list[tuple[int | None, str]] = []
        for i, entry in enumerate(items):
            where = document.line_of((key, i))
            if isinstance(entry, str):
                lines.append((where, entry))
            else:
                out.problem(rel, f"{key} entry is not a string: {clip(repr(entry))}", where,
                            key)
        parse_lines(lines, rel, out, path, max_bytes, member=key, source=MLFLOW)


def read_environment(path: Path, rel: str, max_bytes: int, out: Collector) -> None:
    loaded = _load(path, rel, max_bytes, out, "a conda environment")
    if loaded is None:
        return
    document, data = loaded
    deps = data.get("dependencies")
    if deps is None:
        return
    if not isinstance(deps, list):
        out.problem(rel, "dependencies is not a list", document.line_of(("dependencies",)))
        return
    for i, item in enumerate(deps):
        if out.full:
            return
        line = document.line_of(("dependencies", i))
        if isinstance(item, dict) and set(item) == {"pip"}:
            pip = item["pip"]
            if not isinstance(pip, list):
                out.problem(rel, "the pip: entry is not a list", line)
                continue
            lines: list[tuple[int | None, str]] = []
            for j, entry in enumerate(pip):
                where = document.line_of(("dependencies", i, "pip", j))
                if isinstance(entry, str):
                    lines.append((where, entry))
                else:
                    out.problem(rel, f"pip entry is not a string: {clip(repr(entry))}", where)
            parse_lines(lines, rel, out, path, max_bytes, member="pip", source=SOURCE)
            continue
        if isinstance(item, str | int | float) and not isinstance(item, bool):
            dep = conda_dependency(str(item), rel, line, None)
            if isinstance(dep, str):
                out.problem(rel, dep, line)
            else:
                out.add(dep)
            continue
        out.problem(rel, f"dependency entry is neither a package nor a pip: list: "
                    f"{clip(repr(item))}", line)
