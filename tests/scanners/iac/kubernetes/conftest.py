"""Helpers for the Kubernetes/Helm/Kustomize tests: write files under tmp_path, analyse them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from secpipe.scanners.iac.kubernetes import analyse
from secpipe.scanners.iac.model import Analysis, Budget, IacFile, IacHit

Scan = Callable[..., Analysis]


def iac_file(root: Path, rel: str) -> IacFile:
    path = root / rel
    return IacFile(str(path), rel, path.stat().st_size)


def write(root: Path, files: Mapping[str, str | bytes]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")


@pytest.fixture
def scan(tmp_path: Path) -> Scan:
    """``scan({"a.yaml": text}, charts=["c/Chart.yaml"], budget=Budget())``: every file not under
    a chart folder is handed in as a manifest."""

    def run(files: Mapping[str, str | bytes], charts: tuple[str, ...] = (),
            budget: Budget | None = None, manifests: tuple[str, ...] | None = None) -> Analysis:
        write(tmp_path, files)
        chart_dirs = tuple(c.rsplit("/", 1)[0] for c in charts)
        names = manifests if manifests is not None else tuple(
            rel for rel in files if not any(rel.startswith(d + "/") for d in chart_dirs))
        return analyse([iac_file(tmp_path, rel) for rel in names],
                       [iac_file(tmp_path, rel) for rel in charts], tmp_path,
                       budget or Budget())

    return run


def rule_hits(analysis: Analysis, rule_id: str) -> list[IacHit]:
    return [h for h in analysis.hits if h.rule_id == rule_id]


def pod(spec: str, kind: str = "Pod", name: str = "web", meta: str = "") -> str:
    """A workload manifest; ``spec`` is the pod spec's body indented by two spaces (it is
    re-indented for the kind)."""
    paths = {"Pod": ["spec"], "Deployment": ["spec", "template", "spec"],
             "StatefulSet": ["spec", "template", "spec"], "DaemonSet": ["spec", "template", "spec"],
             "Job": ["spec", "template", "spec"],
             "CronJob": ["spec", "jobTemplate", "spec", "template", "spec"]}[kind]
    head = f"apiVersion: v1\nkind: {kind}\nmetadata:\n  name: {name}\n{meta}"
    lines = []
    for depth, key in enumerate(paths):
        lines.append("  " * depth + f"{key}:")
    if kind == "CronJob":
        lines.insert(1, "  schedule: '* * * * *'")
    pad = "  " * (len(paths) - 1)
    body = "\n".join(pad + line if line else line for line in spec.strip("\n").split("\n"))
    return head + "\n".join(lines) + "\n" + body + "\n"
