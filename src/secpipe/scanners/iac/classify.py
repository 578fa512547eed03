"""Which framework a file belongs to: by name first, then by a bounded look at its head.

* Terraform: ``*.tf``, ``*.tf.json``, ``*.tfvars``, ``*.tfvars.json``, and a JSON file whose head
  holds ``"format_version"`` and ``"planned_values"`` or ``"resource_changes"`` (a plan from
  ``terraform show -json``). ``.terraform/`` (downloaded modules and providers) is not scanned.
* Helm: every file under a folder holding ``Chart.yaml`` belongs to that chart; the chart is
  handed over as its ``Chart.yaml`` (the Kubernetes module reads templates and values itself).
* Dockerfile: ``Dockerfile``, ``Containerfile``, ``Dockerfile.*``, ``Containerfile.*``,
  ``*.Dockerfile``, ``*.dockerfile``, ``*.containerfile``.
* Compose: ``docker-compose*.yml``, ``compose*.yml``, ``*.compose.yml`` (and ``.yaml``).
* Kubernetes: ``kustomization.yaml``/``.yml``/``Kustomization``, and YAML or JSON that has a
  top-level ``apiVersion`` and ``kind`` (any document of a multi-document file).

The markers are looked for in the first :data:`HEAD_BYTES`; a longer file whose head has not
shown both is read on, in chunks, up to :data:`MAX_CLASSIFY_BYTES` (a manifest list or a plan
can put them far in). A YAML or JSON file larger than that whose markers were not all seen
could not be decided, and is handed to the Kubernetes reader, whose size bound then reports it:
never silently "not IaC".

Anything else is not IaC; a file named explicitly that is none of these is reported as skipped.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from secpipe.scanners.iac.model import IacFile
from secpipe.scanners.walk import FileEntry

#: Bytes read from a YAML/JSON file to decide whether it is a manifest or a plan.
HEAD_BYTES = 64 * 1024
#: Bytes read at most (in chunks) when the head has not decided.
MAX_CLASSIFY_BYTES = 16 * 1024 * 1024
_OVERLAP = 256
"""Bytes of the previous chunk kept before the next one: a marker cut by a chunk boundary
(each is a short line start) is still seen."""

_DOCKER = ("Dockerfile", "Containerfile", "Dockerfile.*", "Containerfile.*", "*.Dockerfile",
           "*.dockerfile", "*.containerfile", "*.Containerfile")
_COMPOSE = ("docker-compose*.yml", "docker-compose*.yaml", "compose*.yml", "compose*.yaml",
            "*.compose.yml", "*.compose.yaml")
_KUSTOMIZE = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_TERRAFORM = (".tf", ".tf.json", ".tfvars", ".tfvars.json")
_YAML = (".yaml", ".yml")
_API_VERSION = re.compile(rb"^(?:- )?[\"']?apiVersion[\"']?\s*:", re.MULTILINE)
_KIND = re.compile(rb"^(?:- |  )?[\"']?kind[\"']?\s*:", re.MULTILINE)
_JSON_MANIFEST = re.compile(rb'"apiVersion"\s*:')
_JSON_KIND = re.compile(rb'"kind"\s*:')
_PLAN = re.compile(rb'"format_version"\s*:')
_PLAN_PART = re.compile(rb'"(?:planned_values|resource_changes)"\s*:')


@dataclass
class Buckets:
    """The files of one scan, by framework."""

    terraform: list[IacFile] = field(default_factory=list)
    kubernetes: list[IacFile] = field(default_factory=list)
    charts: list[IacFile] = field(default_factory=list)
    dockerfiles: list[IacFile] = field(default_factory=list)
    composes: list[IacFile] = field(default_factory=list)
    not_iac: list[FileEntry] = field(default_factory=list)
    """Files that are none of these (reported as skipped when named explicitly)."""

    def count(self) -> int:
        return (len(self.terraform) + len(self.kubernetes) + len(self.charts)
                + len(self.dockerfiles) + len(self.composes))


def _matches(name: str, globs: tuple[str, ...]) -> bool:
    return any(fnmatchcase(name, g) for g in globs)


def _head(path: str) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return b""
    try:
        return os.read(fd, HEAD_BYTES)
    except OSError:
        return b""
    finally:
        os.close(fd)


def _markers(path: str, head: bytes, groups: tuple[tuple[re.Pattern[bytes], ...], ...]
             ) -> int | None:
    """The index of the first group of ``groups`` whose patterns all occur in the file (the
    head first, then the rest read in chunks, at most :data:`MAX_CLASSIFY_BYTES`); -1 when none
    does; None when the file is longer than that bound and nothing matched (undecided)."""
    seen: list[set[int]] = [set() for _ in groups]

    def look(data: bytes) -> int:
        for g, pats in enumerate(groups):
            seen[g].update(i for i, pat in enumerate(pats) if i not in seen[g]
                           and pat.search(data))
            if len(seen[g]) == len(pats):
                return g
        return -1

    found = look(head)
    if found >= 0 or len(head) < HEAD_BYTES:
        return found
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return -1
    try:
        os.lseek(fd, len(head), os.SEEK_SET)
        read, tail = len(head), head[-_OVERLAP:]
        while read < MAX_CLASSIFY_BYTES:
            chunk = os.read(fd, min(1024 * 1024, MAX_CLASSIFY_BYTES - read))
            if not chunk:
                return -1
            read += len(chunk)
            found = look(tail + chunk)
            if found >= 0:
                return found
            tail = chunk[-_OVERLAP:]
        return None if os.read(fd, 1) else -1
    except OSError:
        return -1
    finally:
        os.close(fd)


def _parent(rel: str) -> str:
    return rel.rsplit("/", 1)[0] if "/" in rel else ""


def _in_chart(rel: str, charts: list[str]) -> bool:
    return any(c == "" or rel == c or rel.startswith(c + "/") for c in charts)


def classify(entries: list[FileEntry], frameworks: frozenset[str]) -> Buckets:
    """Sort ``entries`` into frameworks (only those in ``frameworks``)."""
    out = Buckets()
    chart_dirs = sorted({_parent(e.rel) for e in entries
                         if e.rel.rsplit("/", 1)[-1] == "Chart.yaml"}, key=len)
    for entry in entries:
        rel = entry.rel
        name = rel.rsplit("/", 1)[-1]
        item = IacFile(entry.path, rel, entry.size)
        if "/.terraform/" in f"/{rel}":
            continue
        if chart_dirs and _in_chart(rel, chart_dirs):
            if name == "Chart.yaml" and "helm" in frameworks:
                out.charts.append(item)
            continue
        lower = name.lower()
        if lower.endswith(_TERRAFORM):
            if "terraform" in frameworks:
                out.terraform.append(item)
        elif _matches(name, _DOCKER):
            if "dockerfile" in frameworks:
                out.dockerfiles.append(item)
        elif _matches(lower, _COMPOSE):
            if "compose" in frameworks:
                out.composes.append(item)
        elif name in _KUSTOMIZE:
            if "kubernetes" in frameworks:
                out.kubernetes.append(item)
        elif lower.endswith(_YAML):
            found = _markers(entry.path, _head(entry.path), ((_API_VERSION, _KIND),))
            if found is None or found == 0:  # a manifest, or too long to tell
                if "kubernetes" in frameworks:
                    out.kubernetes.append(item)
            else:
                out.not_iac.append(entry)
        elif lower.endswith(".json"):
            found = _markers(entry.path, _head(entry.path),
                             ((_PLAN, _PLAN_PART), (_JSON_MANIFEST, _JSON_KIND)))
            if found == 0:
                if "terraform" in frameworks:
                    out.terraform.append(item)
            elif found is None or found == 1:
                if "kubernetes" in frameworks:
                    out.kubernetes.append(item)
            else:
                out.not_iac.append(entry)
        else:
            out.not_iac.append(entry)
    return out
