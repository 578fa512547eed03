"""Turn a results JSON of run.py into Markdown tables (``python _report.py results.json``)."""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

NAMES = {"secpipe": "secpipe", "modelscan": "modelscan", "picklescan": "picklescan",
         "fickling": "fickling", "modelaudit": "ModelAudit"}


def _tools(res: dict[str, Any]) -> list[str]:
    return [t for t in NAMES if t in res["meta"]["versions"]]


def _split(res: dict[str, Any]) -> tuple[list[str], list[str]]:
    labels = res["labels"]
    mal = sorted(p for p, v in labels.items() if v["label"] == "malicious")
    ben = sorted(p for p, v in labels.items() if v["label"] == "benign")
    return mal, ben


def _pct(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.0f}%)" if d else "0/0"


def techniques(res: dict[str, Any]) -> dict[str, dict[str, tuple[int, int, int]]]:
    """{technique: {tool: (flagged, errors, files)}}."""
    det, labels = res["detection"], res["labels"]
    out: dict[str, dict[str, tuple[int, int, int]]] = defaultdict(dict)
    by_tech: dict[str, list[str]] = defaultdict(list)
    for p, v in labels.items():
        if v["label"] == "malicious":
            by_tech[v["technique"]].append(p)
    for tech, paths in sorted(by_tech.items()):
        for t in _tools(res):
            flagged = sum(det[p][t]["status"] == "flagged" for p in paths)
            errs = sum(det[p][t]["status"] in ("error", "timeout") for p in paths)
            out[tech][t] = (flagged, errs, len(paths))
    return out


def _cell(f: int, e: int, n: int) -> str:
    mark = "yes" if f == n else ("**no**" if f == 0 else f"{f}/{n}")
    return mark + (f" ({e} err)" if e else "")


def _summary(res: dict[str, Any]) -> list[str]:
    mal, ben = _split(res)
    det = res["detection"]
    tech = techniques(res)
    lines = ["| tool | version | malicious files flagged | ... at top severity | techniques fully "
             "caught | benign flagged (FP) | FP at top severity | errors / timeouts | "
             "unscanned |", "|" + "---|" * 9]
    for t in _tools(res):
        def n(paths: list[str], *status: str, crit: bool = False, t: str = t) -> int:
            return sum(det[p][t]["status"] in status and (det[p][t]["critical"] or not crit)
                       for p in paths)
        tf = sum(v[t][0] == v[t][2] for v in tech.values())
        lines.append(
            f"| {NAMES[t]} | {res['meta']['versions'][t]} | {_pct(n(mal, 'flagged'), len(mal))} | "
            f"{_pct(n(mal, 'flagged', crit=True), len(mal))} | {_pct(tf, len(tech))} | "
            f"{_pct(n(ben, 'flagged'), len(ben))} | {_pct(n(ben, 'flagged', crit=True), len(ben))} "
            f"| {n(mal + ben, 'error', 'timeout')} | {n(mal + ben, 'unscanned')} |")
    return lines


def _speed(res: dict[str, Any]) -> list[str]:
    mal, ben = _split(res)
    det = res["detection"]
    thr = res.get("throughput")
    large = res.get("large", {})
    cols = ["tool", "median wall s/file (one process per file)", "median CPU s/file"]
    if thr:
        cols += [f"whole corpus ({thr['files']} files, {thr['bytes'] / 1e6:.0f} MB): wall s",
                 "CPU s", "files/s (wall)"]
    for name, v in large.items():
        cols += [f"{name} ({v['bytes'] / 2**30:.2f} GiB): MB/s wall", "MB/s CPU", "verdict"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for t in _tools(res):
        row = [NAMES[t], f"{statistics.median(det[p][t]['seconds'] for p in mal + ben):.2f}",
               f"{statistics.median(det[p][t].get('cpu', 0) for p in mal + ben):.2f}"]
        if thr:
            r = thr["tools"].get(t, {})
            w, c = r.get("median_s"), r.get("median_cpu_s")
            row += [f"{w:.1f}" if w else "timeout", f"{c:.1f}" if c else "n/a",
                    f"{thr['files'] / w:.1f}" if w else "n/a"]
        for v in large.values():
            r = v["tools"].get(t, {})
            w, c = r.get("median_s"), r.get("median_cpu_s")
            vd = (r.get("verdict") or {})
            row += [f"{v['bytes'] / 1e6 / w:.0f}" if w else "n/a",
                    f"{v['bytes'] / 1e6 / c:.0f}" if c else "n/a",
                    vd.get("status", "n/a") + (f": {' '.join(vd['detail'].split())[:60]}"
                                               if vd.get("detail")
                                                and vd.get("status") != "clean" else "")]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _technique_table(res: dict[str, Any]) -> list[str]:
    labels = res["labels"]
    fmt = {v["technique"]: v["fmt"] for v in labels.values() if v["label"] == "malicious"}
    tools = _tools(res)
    lines = ["| technique | format | files | " + " | ".join(NAMES[t] for t in tools) + " |",
             "|---|---|---|" + "---|" * len(tools)]
    for tech, row in techniques(res).items():
        n = next(iter(row.values()))[2]
        lines.append(f"| {tech} | {fmt[tech]} | {n} | "
                     + " | ".join(_cell(*row[t]) for t in tools) + " |")
    return lines


def _fp_table(res: dict[str, Any]) -> list[str]:
    _, ben = _split(res)
    det, labels = res["detection"], res["labels"]
    tools = _tools(res)
    kinds: dict[str, list[str]] = defaultdict(list)
    for p in ben:
        kinds[labels[p]["technique"]].append(p)
    lines = ["| benign kind | files | " + " | ".join(NAMES[t] for t in tools) + " |",
             "|---|---|" + "---|" * len(tools)]
    for k, paths in sorted(kinds.items()):
        cells = []
        for t in tools:
            f = sum(det[p][t]["status"] == "flagged" for p in paths)
            e = sum(det[p][t]["status"] in ("error", "timeout") for p in paths)
            cells.append(f"{f}" + (f" (+{e} err)" if e else ""))
        lines.append(f"| {k} | {len(paths)} | " + " | ".join(cells) + " |")
    return lines


def _blind(res: dict[str, Any], tool: str, tech: str) -> bool:
    """True when ``tool`` flags a benign file of the technique's format for the same reason
    (same detail text) as the technique's first file: a catch that does not discriminate."""
    labels, det = res["labels"], res["detection"]
    first = next(p for p, v in sorted(labels.items()) if v["technique"] == tech)
    fmt, why = labels[first]["fmt"], det[first][tool]["detail"]
    return any(v["label"] == "benign" and v["fmt"] == fmt and det[p][tool]["status"] == "flagged"
               and det[p][tool]["detail"] == why for p, v in labels.items())


def gaps(res: dict[str, Any]) -> list[str]:
    """Techniques some peer catches fully that secpipe does not."""
    if "secpipe" not in _tools(res):
        return []
    out = []
    for tech, row in techniques(res).items():
        peers = [t for t in row if t != "secpipe" and row[t][0] == row[t][2]]
        if peers and row["secpipe"][0] < row["secpipe"][2]:
            names = [NAMES[p] + (" (not discriminating: it flags benign files of this format for "
                                 "the same reason)" if _blind(res, p, tech) else "")
                     for p in peers]
            out.append(f"- {tech}: caught by {', '.join(names)}")
    return out


def markdown(res: dict[str, Any]) -> str:
    m = res["meta"]
    parts = [f"Run {m['date']} on {m['nproc']} CPUs: `{m['command']}`", "", *_summary(res), "",
             "Speed (timings on a shared 2-core machine: CPU seconds are the steadier figure):",
             "", *_speed(res), "",
             "Detections per technique (yes = every file of the technique flagged):", "",
             *_technique_table(res), "", "Benign files flagged, per kind:", "", *_fp_table(res)]
    g = gaps(res)
    if g:
        parts += ["", "Techniques a peer catches that secpipe misses:", "", *g]
    return "\n".join(parts) + "\n"


def techniques_md(res: dict[str, Any]) -> str:
    """TECHNIQUES.md: each technique, the byte-level trick, and which tools catch it."""
    labels = res["labels"]
    info: dict[str, dict[str, Any]] = {}
    for p, v in sorted(labels.items()):
        if v["label"] == "malicious":
            d = info.setdefault(v["technique"], {"fmt": v["fmt"], "files": [], "desc": [],
                                                 "src": v.get("source", "")})
            d["files"].append(p)
            if v["description"] not in d["desc"]:
                d["desc"].append(v["description"])
    tech = techniques(res)
    tools = _tools(res)
    out = ["# Model-scanner benchmark: attack techniques", "",
           f"Generated by `_report.py` from the run of {res['meta']['date']}; "
           "regenerate with `python run.py ...` (see README.md). ",
           "\"caught by\" = the tool flagged every file of the technique; \"partly\" = some. "
           "The bullets give each tool's verdict on the first file and its first reason: a tool "
           "that flags a format's benign files for the same reason (e.g. fickling's \"invalid "
           "opcodes\" on any non-pickle file) is not really detecting the technique; such "
           "catches are marked \"not discriminating\".", ""]
    for t, d in sorted(info.items()):
        row = tech[t]
        full = [NAMES[x] + (" (not discriminating)" if _blind(res, x, t) else "")
                for x in tools if row[x][0] == row[x][2]]
        part = [f"{NAMES[x]} {row[x][0]}/{row[x][2]}" for x in tools if 0 < row[x][0] < row[x][2]]
        miss = [NAMES[x] for x in tools if row[x][0] == 0]
        out += [f"## {t} ({d['fmt']})", "", "Trick: " + " / ".join(d["desc"]),
                *([f"Published: {d['src']}"] if d["src"] else []),
                f"Files: {', '.join('`' + f + '`' for f in d['files'])}",
                f"Caught by: {', '.join(full) or 'none'}"
                + (f"; partly: {', '.join(part)}" if part else "")
                + (f"; missed by: {', '.join(miss)}" if miss else "")]
        det = res["detection"][d["files"][0]]
        out += [f"- {NAMES[x]}: {det[x]['status']}"
                + (f" ({' '.join(det[x]['detail'].split())[:140]})" if det[x]["detail"] else "")
                for x in tools]
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    data = json.loads(Path(sys.argv[1]).read_text())
    if len(sys.argv) > 2 and sys.argv[2] == "--techniques":
        print(techniques_md(data))
    else:
        print(markdown(data))
