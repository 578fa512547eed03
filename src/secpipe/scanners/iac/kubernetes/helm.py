"""Helm charts: rendered with ``helm template`` when a ``helm`` binary is on ``PATH``, else
partly rendered by :mod:`.gotmpl` (never a template engine), and read as Kubernetes objects
reported at the template's path and line.

A chart's files are read bounded, regular files only, never through a symbolic link that leads
out of the scanned root. What could not be rendered is one ``iac.partial-render`` problem per
chart.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from secpipe.core.errors import ConfigError
from secpipe.core.safeload import parse_yaml
from secpipe.scanners.iac.kubernetes.gotmpl import (
    RenderBudgetError,
    Renderer,
    TemplateError,
    parse,
    render_template,
)
from secpipe.scanners.iac.kubernetes.yamldocs import (
    K8sObject,
    objects_of_text,
    read_text,
    remaining_seconds,
)
from secpipe.scanners.iac.model import Budget, IacFile, Problem
from secpipe.tools.capture import KeepHead, KeepTail
from secpipe.tools.env import tool_env
from secpipe.tools.supervisor import ToolCall, ToolStartError, run_tool

MAX_TEMPLATES = 500
"""Most template files read from one chart."""
MAX_TEMPLATE_DEPTH = 6
"""Deepest folder under ``templates/`` read."""
HELM_TIMEOUT = 60.0
"""Seconds ``helm template`` may run for one chart."""
RELEASE_NAME = "release-name"
"""The release name used for rendering (``helm template``'s own default)."""

_TEMPLATE_SUFFIXES = (".yaml", ".yml", ".tpl", ".json")


def _inside(path: Path, root: Path) -> bool:
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(root))
    except ValueError:
        return False
    return True


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _template_files(chart_dir: Path, root: Path) -> tuple[list[Path], list[str]]:
    """The template files of a chart (sorted), and what was skipped and why."""
    found: list[Path] = []
    skipped: list[str] = []
    base = chart_dir / "templates"
    if not base.is_dir() or not _inside(base, root):
        return found, skipped
    stack: list[tuple[Path, int]] = [(base, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            skipped.append(f"{_rel(folder, root)} (unreadable)")
            continue
        for entry in entries:
            path = Path(entry.path)
            if entry.is_symlink() and not _inside(path, root):
                skipped.append(f"{_rel(path, root)} (a link out of the scanned folder)")
                continue
            if entry.is_dir():
                if depth + 1 < MAX_TEMPLATE_DEPTH:
                    stack.append((path, depth + 1))
                continue
            if entry.name.endswith(_TEMPLATE_SUFFIXES) and entry.is_file():
                found.append(path)
    found.sort()
    if len(found) > MAX_TEMPLATES:
        skipped.append(f"{len(found) - MAX_TEMPLATES} template files past the first "
                       f"{MAX_TEMPLATES}")
        found = found[:MAX_TEMPLATES]
    return found, skipped


def _load_mapping(path: Path, rel: str, budget: Budget) -> tuple[dict[str, Any], Problem | None]:
    text, problem = read_text(path, rel, budget)
    if text is None:
        return {}, problem
    try:
        data = parse_yaml(text, rel).data
    except ConfigError as exc:
        return {}, Problem("iac.parse-error", rel, None, str(exc))
    except RecursionError:
        return {}, Problem("iac.parse-error", rel, None, f"{rel}: nested too deeply")
    return (data if isinstance(data, dict) else {}), None


def _chart_object(meta: dict[str, Any]) -> dict[str, Any]:
    """``.Chart`` as templates see it (Chart.yaml keys with their first letter upper-cased)."""
    return {(key[:1].upper() + key[1:]) if isinstance(key, str) else key: value
            for key, value in meta.items()}


def analyse_chart(chart: IacFile, root: Path, budget: Budget,
                  helm: str | None = None) -> tuple[list[K8sObject], list[Problem], int]:
    """The objects a chart renders to, the problems met and the number of files read whole."""
    chart_yaml = Path(chart.path)
    chart_dir = chart_yaml.parent
    chart_rel = chart.rel.rsplit("/", 1)[0] if "/" in chart.rel else "."
    if not _inside(chart_dir, root) or not _inside(chart_yaml, root):
        return [], [Problem("iac.parse-error", chart.rel, None,
                            f"{chart.rel}: the chart lies outside the scanned folder")], 0
    meta, problem = _load_mapping(chart_yaml, chart.rel, budget)
    if problem is not None:
        return [], [problem], 0
    values_path = chart_dir / "values.yaml"
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    if values_path.is_file() and _inside(values_path, root):
        values, problem = _load_mapping(values_path, _rel(values_path, root), budget)
        if problem is not None:
            problems.append(problem)
    elif values_path.is_symlink():
        problems.append(Problem("iac.partial-render", _rel(values_path, root), None,
                                f"{_rel(values_path, root)}: a link out of the scanned folder "
                                "(or a broken one): not read; the chart was rendered without "
                                "its values"))
    if _disabled_subchart(chart_dir, meta, root, budget):
        return [], problems, 0
    values = _with_parent_values(values, chart_dir, meta, root, budget)
    program = helm if helm is not None else shutil.which("helm")
    if program and not _template_files(chart_dir, root)[1]:  # helm would follow the links
        rendered = _helm_template(program, chart_dir, chart_rel, root, budget)
        if rendered is not None:
            objects, more, files = rendered
            return objects, problems + more, files
    objects, more, files = _own_render(chart_dir, chart_rel, meta, values, root, budget)
    return objects, problems + more, files


def _overlay(base: dict[str, Any], top: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """``top`` over ``base``, mappings merged key by key (as Helm coalesces values)."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and depth < 32:
            out[key] = _overlay(out[key], value, depth + 1)
        else:
            out[key] = value
    return out


def _disabled_subchart(chart_dir: Path, meta: dict[str, Any], root: Path,
                       budget: Budget) -> bool:
    """True for a subchart its parent turns off (a dependency ``condition`` that is false in the
    parent's values): Helm does not render it."""
    parent = chart_dir.parent.parent
    if chart_dir.parent.name != "charts" or not (parent / "Chart.yaml").is_file():
        return False
    parent_meta, problem = _load_mapping(parent / "Chart.yaml", _rel(parent / "Chart.yaml", root),
                                         budget)
    deps = parent_meta.get("dependencies")
    if problem is not None or not isinstance(deps, list):
        return False
    parent_values: dict[str, Any] = {}
    if (parent / "values.yaml").is_file() and _inside(parent / "values.yaml", root):
        parent_values, _ = _load_mapping(parent / "values.yaml",
                                         _rel(parent / "values.yaml", root), budget)
    name = meta.get("name") if isinstance(meta.get("name"), str) else chart_dir.name
    for dep in deps:
        if not isinstance(dep, dict) or dep.get("name") not in (name, chart_dir.name):
            continue
        condition = dep.get("condition")
        if not isinstance(condition, str):
            return False
        for path in condition.split(","):  # the first path that resolves to a boolean decides
            value: Any = parent_values
            for step in path.strip().split("."):
                value = value.get(step) if isinstance(value, dict) else None
            if isinstance(value, bool):
                return not value
        return False
    return False


def _with_parent_values(values: dict[str, Any], chart_dir: Path, meta: dict[str, Any],
                        root: Path, budget: Budget) -> dict[str, Any]:
    """A subchart (``parent/charts/<name>/``) sees the parent's ``<name>:`` and ``global:``
    values over its own."""
    parent = chart_dir.parent.parent
    if chart_dir.parent.name != "charts" or not (parent / "Chart.yaml").is_file():
        return values
    parent_values = parent / "values.yaml"
    if not parent_values.is_file() or not _inside(parent_values, root):
        return values
    data, problem = _load_mapping(parent_values, _rel(parent_values, root), budget)
    if problem is not None:
        return values  # the parent chart's own analysis reports it
    written = meta.get("name")
    name = written if isinstance(written, str) else chart_dir.name
    mine = data.get(name)
    out = _overlay(values, mine) if isinstance(mine, dict) else dict(values)
    shared = data.get("global")
    if isinstance(shared, dict):
        own = out.get("global")
        out["global"] = _overlay(own if isinstance(own, dict) else {}, shared)
    return out


def _own_render(chart_dir: Path, chart_rel: str, meta: dict[str, Any], values: dict[str, Any],
                root: Path, budget: Budget) -> tuple[list[K8sObject], list[Problem], int]:
    templates, skipped = _template_files(chart_dir, root)
    problems: list[Problem] = []
    parsed: list[tuple[Path, str, list[Any]]] = []
    defines: dict[str, Any] = {}
    failed: list[str] = []
    for path in templates:
        if budget.spent():
            problems.append(Problem("iac.budget-exceeded", chart_rel, None,
                                    f"{chart_rel}: time budget spent before every template of "
                                    "the chart was read"))
            break
        rel = _rel(path, root)
        text, problem = read_text(path, rel, budget)
        if text is None:
            if problem is not None:
                problems.append(problem)
            continue
        try:
            nodes, found = parse(text)
        except TemplateError as exc:
            failed.append(f"{rel} ({exc})")
            continue
        except RecursionError:
            failed.append(f"{rel} (nested too deeply)")
            continue
        defines.update(found)
        if not path.name.startswith("_") and not path.name.endswith(".tpl"):
            parsed.append((path, rel, nodes))
    root_obj = {
        "Values": values,
        "Chart": _chart_object(meta),
        "Release": {"Name": RELEASE_NAME, "Namespace": "default", "Service": "Helm",
                    "IsInstall": True, "IsUpgrade": False, "Revision": 1},
        "Capabilities": {"KubeVersion": {"Version": "v1.31.0", "Major": "1", "Minor": "31",
                                         "GitVersion": "v1.31.0"},
                         "HelmVersion": {"Version": "v3.16.0"}},
        "Template": {"BasePath": f"{meta.get('name', 'chart')}/templates"},
    }
    renderer = Renderer(defines, root_obj)
    objects: list[K8sObject] = []
    files = 0
    for path, rel, nodes in parsed:
        if budget.spent():
            problems.append(Problem("iac.budget-exceeded", rel, None,
                                    f"{rel}: time budget spent before the template was "
                                    "rendered"))
            continue
        before = renderer.unrendered
        try:
            out = render_template(renderer, nodes, f"{meta.get('name', 'chart')}/"
                                  f"{_rel(path, chart_dir)}")
        except RenderBudgetError as exc:
            problems.append(Problem("iac.budget-exceeded", rel, None, f"{rel}: {exc}"))
            continue
        rendered, more = objects_of_text(out.text, rel, budget, name=f"{rel} (rendered)",
                                      line_map=out.lines, origin=f"Helm chart {chart_rel}",
                                           engine="helm")
        if more:
            if renderer.unrendered > before or any(p.rule_id == "iac.parse-error"
                                                   for p in more):
                failed.append(f"{rel} (rendered text is not valid YAML)")
                problems.extend(p for p in more if p.rule_id != "iac.parse-error")
            else:
                problems.extend(more)
        else:
            files += 1
        objects.extend(rendered)
    if renderer.unrendered or failed or skipped:
        parts: list[str] = []
        if renderer.unrendered:
            top = sorted(renderer.reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:6]
            parts.append(f"{renderer.unrendered} construct(s) could not be rendered statically "
                         f"and were left out ({', '.join(f'{k} x{v}' for k, v in top)})")
        if failed:
            parts.append(f"{len(failed)} template(s) not analysed: {'; '.join(failed[:3])}"
                         + (" …" if len(failed) > 3 else ""))
        if skipped:
            parts.append(f"skipped: {'; '.join(skipped[:3])}")
        problems.append(Problem("iac.partial-render", f"{chart_rel}/Chart.yaml"
                                if chart_rel != "." else "Chart.yaml", None,
                                f"Helm chart {chart_rel} rendered without helm, partly: "
                                + "; ".join(parts) + ". Findings cover what was rendered."))
    return objects, problems, files


_SOURCE = re.compile(r"^# Source: (\S+)\s*$")


def _helm_template(program: str, chart_dir: Path, chart_rel: str, root: Path,
                   budget: Budget) -> tuple[list[K8sObject], list[Problem], int] | None:
    """``helm template`` of the chart; None when helm could not render it (the caller falls
    back to the own renderer)."""
    with tempfile.TemporaryDirectory(prefix="secpipe-helm-") as tmp:
        out_path = Path(tmp) / "out.yaml"
        env = tool_env(declared={"HELM_CACHE_HOME": f"{tmp}/cache",
                                 "HELM_CONFIG_HOME": f"{tmp}/config",
                                 "HELM_DATA_HOME": f"{tmp}/data"})
        call = ToolCall(argv=(program, "template", RELEASE_NAME, str(chart_dir)), cwd=chart_dir,
                        env=env, stdout=KeepHead(out_path, limit=budget.max_file_bytes),
                        stderr=KeepTail(Path(tmp) / "err.log", limit=64 << 10),
                        timeout=remaining_seconds(budget, HELM_TIMEOUT))
        try:
            outcome = run_tool(call)
        except ToolStartError:
            return None
        if outcome.exit_code != 0 or outcome.stdout.dropped:
            return None
        try:
            text = out_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    chart_name = chart_dir.name
    objects: list[K8sObject] = []
    problems: list[Problem] = []
    files = 0
    for source, chunk in _split_sources(text):
        rel = _source_rel(source, chart_dir, chart_rel, chart_name, root)
        template_lines = _template_lines(chart_dir, source, root, budget)
        line_map = _map_by_keys(chunk, template_lines)
        found, more = objects_of_text(chunk, rel, budget, name=f"{rel} (helm template)",
                                      line_map=line_map, origin=f"helm template of {chart_rel}",
                                      engine="helm")
        objects.extend(found)
        problems.extend(more)
        files += 0 if more else 1
    return objects, problems, files


def _split_sources(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, list[str]]] = []
    for line in text.split("\n"):
        m = _SOURCE.match(line)
        if m:
            out.append((m.group(1), [""]))  # keep line numbers: the marker line stays empty
        elif out:
            out[-1][1].append(line)
    return [(source, "\n".join(lines)) for source, lines in out]


def _source_rel(source: str, chart_dir: Path, chart_rel: str, chart_name: str,
                root: Path) -> str:
    parts = source.split("/", 1)
    inner = parts[1] if len(parts) == 2 else source
    candidate = chart_dir / inner
    if candidate.is_file() and _inside(candidate, root):
        return _rel(candidate, root)
    return f"{chart_rel}/{inner}" if chart_rel != "." else inner


def _template_lines(chart_dir: Path, source: str, root: Path, budget: Budget) -> list[str]:
    parts = source.split("/", 1)
    path = chart_dir / (parts[1] if len(parts) == 2 else source)
    if not path.is_file() or not _inside(path, root):
        return []
    text, _ = read_text(path, source, budget)
    return text.split("\n") if text else []


def _map_by_keys(rendered: str, template: list[str]) -> list[int]:
    """Each rendered line's template line: the next template line (in order) with the same
    key, else the last one matched."""
    keys = [_key(line) for line in template]
    out: list[int] = []
    at = 0
    for line in rendered.split("\n"):
        key = _key(line)
        found = 0
        if key:
            for j in range(at, min(len(keys), at + 400)):
                if keys[j] == key:
                    found = j + 1
                    break
        if found:
            at = found
        out.append(found or at or 1)
    return out


def _key(line: str) -> str:
    m = re.match(r"\s*(?:-\s+)?([A-Za-z0-9_.\-/]+)\s*:", line)
    return m.group(1) if m else ""
