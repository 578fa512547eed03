"""Labels, their line blocks, and the scoring of one tool's findings against them."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _concerns import concerns_of
from _tools import Finding, Scan

HERE = Path(__file__).resolve().parent
PARTS = ("corpus", "heldout")
FRAMEWORKS = ("terraform", "kubernetes", "helm", "dockerfile", "compose")
WHOLE = (1, 10**9)

FILLS: dict[str, str] = {
    "shop-db": "Sh0p-Pr0d-" "Db-2024",
    "registry": "Tr4ckp4d-" "2024",
    "lab-mysql": "Lab-R00t-" "2024",
}
"""Literal secrets the corpus plants, written as split literals here and filled into the scan copy
(``@@fill:NAME@@`` in the committed file), so no line of the repository holds one and the
project's own secret scan stays clean."""


@dataclass(frozen=True)
class Place:
    path: str
    """Relative to benchmarks/iac/; ends with / for a folder (a Helm chart)."""
    blocks: tuple[tuple[int, int], ...]


@dataclass
class Label:
    id: str
    part: str
    framework: str
    concern: str
    kind: str
    note: str
    places: list[Place]


def materialize(dest: Path) -> None:
    """Copy corpus/ and heldout/ to ``dest`` with the planted literal secrets filled in."""
    for part in PARTS:
        target = dest / part
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(HERE / part, target)
        for f in target.rglob("*"):
            if f.is_file():
                text = f.read_text(errors="replace")
                if "@@fill:" in text:
                    f.write_text(re.sub(r"@@fill:([a-z-]+)@@", lambda m: FILLS[m.group(1)], text))


def _tf_block(lines: list[str], start: int) -> tuple[int, int]:
    depth, seen = 0, False
    for i in range(start, len(lines)):
        depth += lines[i].count("{") - lines[i].count("}")
        seen = seen or "{" in lines[i]
        if seen and depth <= 0:
            return start + 1, i + 1
    return start + 1, len(lines)


def _yaml_block(lines: list[str], start: int) -> tuple[int, int]:
    first = 0
    for i in range(start, -1, -1):
        if lines[i].startswith("---"):
            first = i + 1
            break
    last = len(lines)
    for i in range(start + 1, len(lines)):
        if lines[i].startswith("---"):
            last = i
            break
    return first + 1, last


def _blocks(path: Path, anchors: list[str]) -> tuple[tuple[int, int], ...]:
    if not anchors or path.is_dir():
        return (WHOLE,)
    lines = path.read_text().splitlines()
    out = []
    for anchor in anchors:
        idx = next((i for i, line in enumerate(lines) if anchor in line), None)
        if idx is None:
            raise ValueError(f"labels.json: anchor {anchor!r} not in {path}")
        yaml = path.suffix in (".yaml", ".yml")
        out.append(_yaml_block(lines, idx) if yaml else _tf_block(lines, idx))
    return tuple(out)


def load_labels() -> list[Label]:
    doc = json.loads((HERE / "labels.json").read_text())
    labels = []
    for item in doc["items"]:
        places = []
        for spec in [item, *item.get("alt", [])]:
            blocks = _blocks(HERE / spec["path"], spec.get("anchors", []))
            places.append(Place(spec["path"], blocks))
        labels.append(Label(item["id"], item["part"], item["framework"], item["concern"],
                            item["kind"], item["note"], places))
    return labels


def _hits(place: Place, part: str, findings: Iterable[Finding]) -> list[Finding]:
    prefix = f"{part}/"
    out = []
    for f in findings:
        path = prefix + f.path
        if place.path.endswith("/"):
            if path.startswith(place.path):
                out.append(f)
        elif path == place.path and any(f.start <= b and f.end >= a for a, b in place.blocks):
            out.append(f)
    return out


@dataclass
class Cell:
    planted: int = 0
    found: int = 0
    lookalikes: int = 0
    flagged: int = 0

    def add(self, other: Cell) -> None:
        self.planted += other.planted
        self.found += other.found
        self.lookalikes += other.lookalikes
        self.flagged += other.flagged


@dataclass
class ToolScore:
    tool: str
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)
    """(part, framework) -> counts."""
    by_concern: dict[tuple[str, str], Cell] = field(default_factory=dict)
    missed: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)
    unparsed: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    error: dict[str, str] = field(default_factory=dict)
    unmapped_on_labels: dict[str, int] = field(default_factory=dict)
    """Rule ids that fired inside a labelled block without being mapped (for review)."""


def iac_files(folder: Path) -> list[str]:
    """The files a user would call IaC: .tf, Dockerfile*/Containerfile*, *.yaml/*.yml."""
    out = []
    for f in sorted(folder.rglob("*")):
        name = f.name
        if f.is_file() and (f.suffix in (".tf", ".yaml", ".yml")
                            or name.startswith(("Dockerfile", "Containerfile"))):
            out.append(f.relative_to(folder).as_posix())
    return out


def score(tool: str, scans: dict[str, Scan], labels: list[Label], scanned: Path) -> ToolScore:
    result = ToolScore(tool)
    for part, scan in scans.items():
        result.seconds[part] = round(scan.seconds, 2)
        result.files[part] = len(iac_files(scanned / part))
        result.unparsed[part] = sorted(scan.unparsed)
        if scan.error:
            result.error[part] = scan.error
    for lab in labels:
        found = scans.get(lab.part)
        if found is None or found.error:
            continue
        scan = found
        cell = result.cells.setdefault((lab.part, lab.framework), Cell())
        ccell = result.by_concern.setdefault((lab.part, lab.concern), Cell())
        hits = [f for p in lab.places for f in _hits(p, lab.part, scan.findings)]
        match = any(lab.concern in concerns_of(tool, f.rule) for f in hits)
        for f in hits:
            if not concerns_of(tool, f.rule):
                result.unmapped_on_labels[f.rule] = result.unmapped_on_labels.get(f.rule, 0) + 1
        if lab.kind == "planted":
            cell.planted += 1
            ccell.planted += 1
            cell.found += match
            ccell.found += match
            if not match:
                result.missed.append(f"{lab.id} {lab.concern} {lab.places[0].path}: {lab.note}")
        else:
            cell.lookalikes += 1
            ccell.lookalikes += 1
            cell.flagged += match
            ccell.flagged += match
            if match:
                rules = sorted({f.rule for f in hits if lab.concern in concerns_of(tool, f.rule)})
                result.false_alarms.append(
                    f"{lab.id} {lab.concern} {lab.places[0].path} ({', '.join(rules)}): {lab.note}")
    return result


def totals(ts: ToolScore, part: str | None = None, framework: str | None = None) -> Cell:
    out = Cell()
    for (p, fw), cell in ts.cells.items():
        if (part is None or p == part) and (framework is None or fw == framework):
            out.add(cell)
    return out


def as_json(ts: ToolScore) -> dict[str, Any]:
    return {
        "cells": {f"{p}/{fw}": vars(c) for (p, fw), c in sorted(ts.cells.items())},
        "by_concern": {f"{p}/{c}": vars(v) for (p, c), v in sorted(ts.by_concern.items())},
        "missed": ts.missed, "false_alarms": ts.false_alarms, "unparsed": ts.unparsed,
        "files": ts.files, "seconds": ts.seconds, "error": ts.error,
        "unmapped_on_labels": dict(sorted(ts.unmapped_on_labels.items())),
    }
