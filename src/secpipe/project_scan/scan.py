"""One pass over the project: each file classified, then models matched with the code that
names them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from secpipe.project_scan import classify as c
from secpipe.project_scan.model import DataFile, ModelFile, ProjectScan, TrainingScript
from secpipe.project_scan.walk import Budget, Entry, read_head, walk

SOURCE_HEAD = 256 << 10
"""Bytes of a Python file read."""
NOTEBOOK_HEAD = 1 << 20
"""Bytes of a notebook read (outputs can be large; the code comes first in most cells)."""
YAML_HEAD = 256 << 10
"""Bytes of a YAML file read to tell a Kubernetes manifest."""
TABLE_HEAD = 8 << 10
"""Bytes of a CSV read for its header."""


@dataclass
class _Found:
    models: list[tuple[Entry, str]] = field(default_factory=list)
    training: list[TrainingScript] = field(default_factory=list)
    notebooks: list[str] = field(default_factory=list)
    fitting: list[str] = field(default_factory=list)
    data: list[DataFile] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    iac: list[str] = field(default_factory=list)
    frameworks: set[str] = field(default_factory=set)
    sources: dict[str, str] = field(default_factory=dict)
    """Text of scripts and notebooks, to find which of them names a model file."""


def scan_project(root: Path) -> ProjectScan:
    """Walk ``root`` within the bounds of :mod:`.walk` and say what it holds."""
    budget = Budget()
    entries = walk(root, budget)
    found = _Found()
    for entry in entries:
        _classify(entry, budget, found)
    models = tuple(
        ModelFile(e.rel, fmt, e.size, tuple(src for src, text in found.sources.items()
                                            if os.path.basename(e.rel) in text))
        for e, fmt in found.models)
    return ProjectScan(
        models=models, training=tuple(found.training), notebooks=tuple(found.notebooks),
        notebooks_fitting=tuple(found.fitting), data=tuple(found.data),
        requirements=tuple(found.requirements), containers=tuple(found.containers),
        iac=tuple(found.iac), frameworks=tuple(sorted(found.frameworks)),
        sources=len(found.sources), files_seen=len(entries), truncated=tuple(budget.hit))


def _text(entry: Entry, limit: int, budget: Budget) -> str:
    return read_head(entry, limit, budget).decode("utf-8", errors="replace")


def _classify(entry: Entry, budget: Budget, found: _Found) -> None:
    name = os.path.basename(entry.rel)
    suffix = os.path.splitext(name)[1].lower()
    if suffix in c.MODEL_SUFFIXES:
        found.models.append((entry, c.model_format(suffix, read_head(entry, 64, budget))))
    elif suffix == ".py":
        text = _text(entry, SOURCE_HEAD, budget)
        found.sources[entry.rel] = text
        fits, builder, frameworks = c.python_facts(text)
        found.frameworks |= frameworks
        named = c.is_training_name(name)
        if named or fits:
            why = " and ".join(w for w, on in (("named train*", named), ("calls .fit()", fits))
                               if on)
            found.training.append(TrainingScript(entry.rel, why, builder))
    elif suffix == ".ipynb":
        text = _text(entry, NOTEBOOK_HEAD, budget)
        found.sources[entry.rel] = text
        found.notebooks.append(entry.rel)
        fits, _, frameworks = c.python_facts(text)
        found.frameworks |= frameworks
        if fits:
            found.fitting.append(entry.rel)
    elif suffix in c.DATA_SUFFIXES:
        columns: tuple[str, ...] = ()
        label = None
        if suffix in (".csv", ".tsv"):
            head = read_head(entry, TABLE_HEAD, budget)
            columns, label = c.csv_header(head, "\t" if suffix == ".tsv" else ",")
        found.data.append(DataFile(entry.rel, columns, label))
    elif c.is_requirements(entry.rel, name):
        found.requirements.append(entry.rel)
    elif c.is_container(name):
        found.containers.append(entry.rel)
    elif _is_iac(entry, name, suffix, budget):
        found.iac.append(entry.rel)


def _is_iac(entry: Entry, name: str, suffix: str, budget: Budget) -> bool:
    if suffix == ".tf" or name.lower().endswith(".tf.json"):
        return True
    return suffix in (".yaml", ".yml") and c.yaml_iac_kind(
        read_head(entry, YAML_HEAD, budget), entry.rel) is not None
