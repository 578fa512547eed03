"""Kustomize: ``kubectl kustomize DIR`` (no cluster needed) through the tool supervisor, its
output read as Kubernetes objects. Rendered objects are reported at the base file that defines
them when it was scanned too (the caller deduplicates), else at the kustomization's first line.
Without ``kubectl`` the overlay is an ``iac.partial-render`` problem and only the bases are
scanned directly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from secpipe.core.errors import ConfigError
from secpipe.core.safeload import parse_yaml
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

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
KUBECTL_TIMEOUT = 60.0
"""Seconds ``kubectl kustomize`` may run for one kustomization."""


def is_kustomization(rel: str) -> bool:
    return rel.rsplit("/", 1)[-1] in KUSTOMIZATION_NAMES


def _read(kustomization: Path, rel: str, budget: Budget) -> dict[str, Any]:
    text, _ = read_text(kustomization, rel, budget)
    if text is None:
        return {}
    try:
        data = parse_yaml(text, rel).data
    except (ConfigError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def remote_resources(kustomization: Path, rel: str, budget: Budget) -> list[str]:
    """Resources the kustomization would fetch over the network (never fetched here)."""
    data = _read(kustomization, rel, budget)
    out: list[str] = []
    for key in ("resources", "bases", "components"):
        items = data.get(key)
        for item in items if isinstance(items, list) else []:
            if isinstance(item, str) and ("://" in item or item.startswith(
                    ("github.com/", "gitlab.com/", "bitbucket.org/", "git@", "ssh:"))):
                out.append(item)
    helm = data.get("helmCharts")
    if isinstance(helm, list) and helm:
        out.append("helmCharts")
    return out


def patch_files(kustomization: Path, rel: str, budget: Budget) -> list[Path]:
    """Files a kustomization names as patches (partial objects: not checked on their own)."""
    data = _read(kustomization, rel, budget)
    names: list[Any] = []
    for key in ("patchesStrategicMerge", "patchesJson6902", "patches"):
        items = data.get(key)
        if not isinstance(items, list):
            continue
        for item in items:
            if isinstance(item, str):
                names.append(item)
            elif isinstance(item, dict) and isinstance(item.get("path"), str):
                names.append(item["path"])
    base = kustomization.parent
    out = []
    for name in names:
        if isinstance(name, str) and "\n" not in name and not name.lstrip().startswith(
                ("apiVersion", "-", "{")):
            out.append(Path(os.path.normpath(base / name)))
    return out


def build(kustomization: IacFile, root: Path, budget: Budget,
          kubectl: str | None = None) -> tuple[str | None, list[Problem]]:
    """The text ``kubectl kustomize`` builds from the kustomization's folder (None with the
    problem when it was not built). Safe to call from several threads at once."""
    folder = Path(kustomization.path).parent
    program = kubectl if kubectl is not None else shutil.which("kubectl")
    if not program:
        return None, [Problem("iac.partial-render", kustomization.rel, 1,
                              f"{kustomization.rel}: kubectl is not installed: the overlay was "
                              "not built; its bases were scanned directly, its patches were not "
                              "applied")]
    if _read(Path(kustomization.path), kustomization.rel, budget).get("kind") == "Component":
        return None, []  # a Kustomize component is built inside the overlays that name it
    remote = remote_resources(Path(kustomization.path), kustomization.rel, budget)
    if remote:
        return None, [Problem("iac.partial-render", kustomization.rel, 1,
                              f"{kustomization.rel}: not built: it names remote resources "
                              f"({', '.join(remote[:3])}) that are not fetched; its local bases "
                              "were scanned directly")]
    real_root = os.path.realpath(root)
    real = os.path.realpath(folder)
    if os.path.commonpath([real_root, real]) != real_root:
        return None, [Problem("iac.parse-error", kustomization.rel, 1,
                              f"{kustomization.rel}: lies outside the scanned folder")]
    with tempfile.TemporaryDirectory(prefix="secpipe-kustomize-") as tmp:
        out_path = Path(tmp) / "out.yaml"
        env = tool_env(declared={"KUBECONFIG": os.devnull})
        call = ToolCall(argv=(program, "kustomize", str(folder)), cwd=folder, env=env,
                        stdout=KeepHead(out_path, limit=budget.max_file_bytes),
                        stderr=KeepTail(Path(tmp) / "err.log", limit=64 << 10),
                        timeout=remaining_seconds(budget, KUBECTL_TIMEOUT))
        try:
            outcome = run_tool(call)
        except ToolStartError as exc:
            return None, [Problem("iac.partial-render", kustomization.rel, 1,
                                  f"{kustomization.rel}: {exc}: the overlay was not built")]
        if outcome.timed_out:
            return None, [Problem("iac.budget-exceeded", kustomization.rel, 1,
                                  f"{kustomization.rel}: kubectl kustomize timed out after "
                                  f"{call.timeout:g} s")]
        if outcome.stdout.dropped:
            return None, [Problem("iac.too-large", kustomization.rel, 1,
                                  f"{kustomization.rel}: kubectl kustomize output is larger "
                                  f"than {budget.max_file_bytes} bytes")]
        if outcome.exit_code != 0:
            why = outcome.stderr.summary or f"exit code {outcome.exit_code}"
            return None, [Problem("iac.partial-render", kustomization.rel, 1,
                                  f"{kustomization.rel}: kubectl kustomize failed: {why[:300]}")]
        try:
            return out_path.read_text(encoding="utf-8", errors="replace"), []
        except OSError as exc:
            return None, [Problem("iac.parse-error", kustomization.rel, 1,
                                  f"{kustomization.rel}: cannot read the build output: {exc}")]


#: A document separator of ``kubectl kustomize`` output (a block scalar's ``---`` is indented).
_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)


class BuildCache:
    """Objects of the documents of kustomize builds, parsed once per scan: overlays of one base
    (and bases pulled into many overlays, such as CRDs) render the same documents again."""

    def __init__(self) -> None:
        self._docs: dict[bytes, tuple[list[K8sObject], list[Problem]]] = {}

    def objects(self, text: str, kustomization: IacFile,
                budget: Budget) -> tuple[list[K8sObject], list[Problem]]:
        """The objects of one build's output, at ``kustomization``'s path."""
        objects: list[K8sObject] = []
        problems: list[Problem] = []
        for doc in _SEPARATOR.split(text):
            if not doc.strip():
                continue
            key = hashlib.sha256(doc.encode("utf-8", "surrogatepass")).digest()
            found = self._docs.get(key)
            if found is None:
                found = objects_of_text(doc, kustomization.rel, budget,
                                        name=f"{kustomization.rel} (kustomize build)",
                                        line_map=[1] * (doc.count("\n") + 1),
                                        origin=f"kustomize build of {kustomization.rel}",
                                        engine="kustomize")
                self._docs[key] = found
            objects.extend(dataclasses.replace(
                o, path=kustomization.rel, origin=f"kustomize build of {kustomization.rel}")
                for o in found[0])
            problems.extend(dataclasses.replace(p, path=kustomization.rel) for p in found[1])
        return objects, problems


def render(kustomization: IacFile, root: Path, budget: Budget,
           kubectl: str | None = None,
           cache: BuildCache | None = None) -> tuple[list[K8sObject], list[Problem]]:
    """The objects ``kubectl kustomize`` builds from the kustomization's folder."""
    text, problems = build(kustomization, root, budget, kubectl)
    if text is None:
        return [], problems
    return (cache or BuildCache()).objects(text, kustomization, budget)


def _identity(obj: K8sObject) -> tuple[str, str]:
    return obj.kind, obj.name


def attach_sources(rendered: list[K8sObject], direct: list[K8sObject],
                   kustomization: IacFile) -> list[K8sObject]:
    """Rendered objects placed at the base object they come from when it was scanned directly
    (same kind, and the same name or that name with a prefix/suffix added by the overlay), else
    at the kustomization's first line."""
    folder = kustomization.rel.rsplit("/", 1)[0] if "/" in kustomization.rel else ""
    by_kind: dict[str, list[K8sObject]] = {}
    for obj in direct:
        by_kind.setdefault(obj.kind, []).append(obj)
    out: list[K8sObject] = []
    for obj in rendered:
        source = _best_source(obj, by_kind.get(obj.kind, []), folder)
        if source is None:
            out.append(K8sObject(obj.data, kustomization.rel, {}, (), 1, 1, None, obj.origin,
                                 obj.engine))
            continue
        lines: dict[tuple[Hashable, ...], int] = dict(source.lines)
        out.append(K8sObject(obj.data, source.path, lines, source.prefix, source.first,
                             source.last, source.line_map, obj.origin, obj.engine))
    return out


def _best_source(obj: K8sObject, candidates: list[K8sObject],
                 folder: str) -> K8sObject | None:
    name = obj.name
    best: K8sObject | None = None
    best_score = -1
    for cand in candidates:
        if cand.name == name:
            score = 3
        elif cand.name != "<unnamed>" and (name.endswith(cand.name) or name.startswith(
                cand.name)) and len(cand.name) >= 3:
            score = 1
        else:
            continue
        # prefer a base near the kustomization (same tree)
        top = folder.split("/", 1)[0] if folder else ""
        if top and cand.path.startswith(top + "/"):
            score += 1
        if score > best_score:
            best, best_score = cand, score
    return best
