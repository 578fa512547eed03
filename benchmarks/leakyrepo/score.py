"""Score secpipe and gitleaks on the public leaky-repo benchmark (Plazmaz/leaky-repo).

leaky-repo's own answer key, ``.leaky-meta/secrets.csv``, lists files with two counts: lines
holding a risk (``num_risk``) and lines holding only informative data (``num_informative``). It
gives no line numbers, so "risky lines found" is counted per file as the number of distinct lines
a tool reports there, capped at the file's ``num_risk`` (an upper bound: a reported line may be an
informative one).

Usage (from the secpipe checkout)::

    python benchmarks/leakyrepo/score.py /tmp/leaky-repo [--runs 3] [--json OUT]

Reported per tool: files covered (files with ``num_risk > 0`` holding at least one finding),
risky lines found (as above), findings in listed informative-only files, findings in files the
CSV does not list (possible false alarms), median wall time; then a per-file table.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV_BIN = HERE.parents[1] / ".venv" / "bin"


@dataclass(frozen=True)
class Entry:
    path: str
    risk: int
    informative: int


Hits = dict[str, set[int]]  # relative path -> reported lines (0 when a tool gives none)


def read_key(root: Path) -> dict[str, Entry]:
    """The listed files of ``.leaky-meta/secrets.csv`` (``name,num_risk,num_informative``)."""
    text = (root / ".leaky-meta" / "secrets.csv").read_text()
    header: list[str] | None = None
    entries: dict[str, Entry] = {}
    for line in text.splitlines():
        line = line.strip()
        cols = [c.strip() for c in line.lstrip("#").split(",")]
        if line.startswith("#") and cols[0] == "name":  # the commented header row
            header = cols
            continue
        if not line or line.startswith("#"):
            continue
        row = next(csv.reader([line]))
        named = dict(zip(header or ["name", "num_risk", "num_informative"], row, strict=False))
        name = named["name"].strip()
        entries[name] = Entry(name, int(named["num_risk"]), int(named.get("num_informative") or 0))
    return entries


def _rel(path: str, root: Path, cwd: Path) -> str:
    p = Path(path)
    if not p.is_absolute():
        p = cwd / p
    return Path(os.path.relpath(p.resolve(), root.resolve())).as_posix()


def _findings(doc: object) -> list[dict]:
    if isinstance(doc, dict):
        own = doc.get("findings")
        out = list(own) if isinstance(own, list) else []
        for key, value in doc.items():
            if key != "findings" and isinstance(value, (dict, list)):
                out += _findings(value)
        return out
    if isinstance(doc, list):
        return [f for item in doc for f in _findings(item)]
    return []


def run_secpipe(binary: str, root: Path) -> tuple[Hits, float, list[tuple[str, int, str]]]:
    argv = [binary, "scan", "secrets", str(root), "--json", "-q", "--no-cache"]
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=root, capture_output=True, text=True)
    secs = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"secpipe failed ({proc.returncode}): {proc.stderr[-500:]}")
    hits: Hits = {}
    detail = []
    for f in _findings(json.loads(proc.stdout)):
        loc = f.get("location", {})
        rel = _rel(str(loc.get("path", "")), root, root)
        line = int(loc.get("line") or 0)
        hits.setdefault(rel, set()).add(line)
        detail.append((rel, line, str(f.get("rule_id", ""))))
    return hits, secs, sorted(detail)


def run_gitleaks(binary: str, root: Path) -> tuple[Hits, float, list[tuple[str, int, str]]]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "gitleaks.json"
        argv = [
            binary, "dir", str(root), "--report-format", "json",
            "--report-path", str(report), "--no-banner",
        ]  # fmt: skip
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=root, capture_output=True, text=True)
        secs = time.perf_counter() - start
        if proc.returncode not in (0, 1):  # 1 = leaks found
            raise RuntimeError(f"gitleaks failed ({proc.returncode}): {proc.stderr[-500:]}")
        doc = json.loads(report.read_text())
    hits: Hits = {}
    detail = []
    for f in doc or []:
        rel = _rel(f["File"], root, root)
        line = int(f.get("StartLine") or 0)
        hits.setdefault(rel, set()).add(line)
        detail.append((rel, line, str(f.get("RuleID", ""))))
    return hits, secs, sorted(detail)


def score(hits: Hits, key: dict[str, Entry]) -> dict:
    risky = [e for e in key.values() if e.risk > 0]
    covered = sorted(e.path for e in risky if hits.get(e.path))
    lines = sum(min(len(hits.get(e.path, ())), e.risk) for e in risky)
    info_only = {p: len(v) for p, v in hits.items() if p in key and key[p].risk == 0}
    outside = {p: len(v) for p, v in sorted(hits.items()) if p not in key}
    return {
        "files_total": len(risky),
        "files_covered": len(covered),
        "risky_lines_total": sum(e.risk for e in risky),
        "risky_lines_found": lines,
        "informative_only_files_hit": info_only,
        "outside_list": outside,
        "outside_list_lines": sum(outside.values()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path, help="exported leaky-repo tree (not a git checkout needed)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--secpipe", default=str(VENV_BIN / "secpipe"))
    ap.add_argument("--gitleaks", default=str(VENV_BIN / "gitleaks"))
    ap.add_argument("--json", type=Path, help="also write the full result here")
    args = ap.parse_args(argv)
    root = args.root.resolve()
    key = read_key(root)
    tools = {
        "secpipe": lambda: run_secpipe(args.secpipe, root),
        "gitleaks": lambda: run_gitleaks(args.gitleaks, root),
    }
    result: dict = {"root": str(root), "runs": args.runs, "tools": {}}
    hits_of: dict[str, Hits] = {}
    for name, run in tools.items():
        times, details = [], []
        for _ in range(args.runs):
            hits, secs, detail = run()
            times.append(secs)
            details.append(detail)
        deterministic = all(d == details[0] for d in details)
        hits_of[name] = hits
        result["tools"][name] = {
            **score(hits, key),
            "findings": len(details[0]),
            "deterministic": deterministic,
            "wall_seconds": [round(t, 3) for t in times],
            "wall_median": round(statistics.median(times), 3),
            "detail": details[0],
        }

    names = list(tools)
    print(f"leaky-repo at {root}: {args.runs} runs per tool\n")
    print(
        "| tool | files covered | risky lines (capped per file) | findings | "
        "in informative-only files | outside the list | median wall s | deterministic |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name in names:
        r = result["tools"][name]
        print(
            f"| {name} | {r['files_covered']}/{r['files_total']} | "
            f"{r['risky_lines_found']}/{r['risky_lines_total']} | {r['findings']} | "
            f"{sum(r['informative_only_files_hit'].values())} | {r['outside_list_lines']} | "
            f"{r['wall_median']:.3f} | {'yes' if r['deterministic'] else 'NO'} |"
        )
    for name in names:
        out = result["tools"][name]["outside_list"]
        if out:
            print(f"\n{name} outside the list: " + ", ".join(f"{p} ({n})" for p, n in out.items()))

    print("\n| file | risk | " + " | ".join(names) + " |")
    print("|---|---:|" + "---|" * len(names))
    rows = sorted(key.values(), key=lambda e: (e.risk == 0, e.path))
    for e in rows:
        cells = []
        for name in names:
            lines = sorted(hits_of[name].get(e.path, ()))
            cells.append(f"{len(lines)} ({', '.join(map(str, lines))})" if lines else "-")
        print(f"| `{e.path}` | {e.risk} | " + " | ".join(cells) + " |")
    neither = [
        e.path for e in rows if e.risk > 0 and not any(hits_of[n].get(e.path) for n in names)
    ]
    result["neither"] = neither
    print(f"\nneither tool covers ({len(neither)}): " + ", ".join(neither))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
