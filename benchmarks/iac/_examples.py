"""Part (a): trivy-checks' good/bad examples, one file each, scored per framework.

The examples (MIT-licensed, https://github.com/aquasecurity/trivy-checks) are extracted from a
local clone or mirror at run time into a cache folder, never committed. Each check's
``<name>.yaml`` holds ``good``/``bad`` lists per framework; the check's id (``AWS-0086``) comes
from the METADATA comment of the ``.rego`` file beside it.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from _concerns import checkov_for_trivy, norm_trivy
from _tools import Scan

FILE_NAMES = {"terraform": "main.tf", "cloudformation": "template.yaml",
              "dockerfile": "Dockerfile", "kubernetes": "manifest.yaml"}
MAX_EXAMPLE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Example:
    framework: str
    check: str
    """trivy check id, e.g. AWS-0086."""
    kind: str
    """bad | good"""
    rel: str
    """Path relative to the framework folder."""


def extract(source: Path, dest: Path) -> Path:
    """``checks/`` of trivy-checks (a git dir, a work tree or an extracted ``checks`` folder)
    copied to ``dest/checks``; returns it."""
    out = dest / "checks"
    if out.is_dir():
        return out
    if (source / "checks").is_dir():
        shutil.copytree(source / "checks", out)
        return out
    git_dir = source / "repo" if (source / "repo").is_dir() else source
    proc = subprocess.run(["git", "-C", str(git_dir), "archive", "HEAD", "checks"],
                          capture_output=True, check=True)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return out


def _check_id(rego: Path) -> str | None:
    m = re.search(r"^#\s+id:\s*(\S+)", rego.read_text(errors="replace"), re.M)
    return norm_trivy(m.group(1)) if m else None


def build(checks: Path, dest: Path) -> list[Example]:
    """One folder per example: ``dest/<framework>/<ID>/<bad|good>-<n>/<file>``."""
    shutil.rmtree(dest, ignore_errors=True)
    examples = []
    for spec in sorted(checks.rglob("*.yaml")):
        rego = spec.with_suffix(".rego")
        if not rego.exists() or spec.stat().st_size > 1 << 20:
            continue
        check = _check_id(rego)
        try:
            doc = yaml.safe_load(spec.read_text())
        except yaml.YAMLError:
            continue
        if not check or not isinstance(doc, dict):
            continue
        for framework, name in FILE_NAMES.items():
            entry = doc.get(framework)
            if not isinstance(entry, dict):
                continue
            for kind in ("bad", "good"):
                for n, text in enumerate(entry.get(kind) or []):
                    if not isinstance(text, str) or len(text) > MAX_EXAMPLE_BYTES:
                        continue
                    rel = f"{check}/{kind}-{n}/{name}"
                    target = dest / framework / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(text + "\n")
                    examples.append(Example(framework, check, kind, rel))
    return examples


@dataclass
class ExampleScore:
    bad: int = 0
    bad_found: int = 0
    bad_any: int = 0
    good: int = 0
    good_flagged: int = 0
    good_any: int = 0
    checks: int = 0
    checks_scored: int = 0
    """Checks this tool is scored on (checkov: those with a mapping; others: all)."""
    missed_checks: list[str] = field(default_factory=list)
    flagged_good: list[str] = field(default_factory=list)


def score(tool: str, framework: str, scan: Scan, examples: list[Example],
          aliases: dict[str, list[str]]) -> ExampleScore:
    """``aliases``: secpipe rule id -> declared ids of other tools' rules (secpipe only)."""
    by_alias: dict[str, set[str]] = {}
    for rule, names in aliases.items():
        for name in names:
            by_alias.setdefault(norm_trivy(name), set()).add(rule)
    per_file: dict[str, set[str]] = {}
    for f in scan.findings:
        folder = f.path.rsplit("/", 1)[0]
        per_file.setdefault(folder, set()).add(f.rule)
    out = ExampleScore()
    checks, scored = set(), set()
    for ex in examples:
        if ex.framework != framework:
            continue
        checks.add(ex.check)
        rules = per_file.get(ex.rel.rsplit("/", 1)[0], set())
        if tool == "trivy":
            wanted = {ex.check}
            got = {norm_trivy(r) for r in rules}
        elif tool == "checkov":
            wanted = set(checkov_for_trivy(ex.check))
            got = rules
        else:
            wanted = by_alias.get(ex.check, set())
            got = rules
        if wanted:
            scored.add(ex.check)
        hit = bool(wanted & got)
        if ex.kind == "bad":
            out.bad += 1
            out.bad_any += bool(rules)
            if wanted:
                out.bad_found += hit
                if not hit and ex.check not in out.missed_checks:
                    out.missed_checks.append(ex.check)
        else:
            out.good += 1
            out.good_any += bool(rules)
            out.good_flagged += hit
            if hit:
                out.flagged_good.append(ex.rel.rsplit("/", 1)[0])
    out.checks, out.checks_scored = len(checks), len(scored)
    return out


def bad_scored(tool: str, framework: str, examples: list[Example],
               aliases: dict[str, list[str]]) -> int:
    """How many bad examples the tool is scored on (the recall denominator)."""
    mapped = {norm_trivy(n) for names in aliases.values() for n in names}
    n = 0
    for ex in examples:
        if ex.framework != framework or ex.kind != "bad":
            continue
        if tool == "trivy" or (tool == "checkov" and checkov_for_trivy(ex.check)) or (
                tool == "secpipe" and ex.check in mapped):
            n += 1
    return n


def as_json(s: ExampleScore, denominator: int) -> dict[str, Any]:
    return {**vars(s), "bad_scored": denominator, "missed_checks": sorted(s.missed_checks)}
