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
    tp = res.get("throughput", {}).get("tools", {})
    large = res.get("large", {})
    head = ("| tool | version | malicious files flagged | techniques fully caught | benign flagged "
            "(FP) | FP, top severity only | errors / timeouts | unscanned | median s/file "
            "(one process per file) | corpus files/s (whole folder) |")
    lines = [head, "|" + "---|" * 10]
    for t in _tools(res):
        mf = sum(det[p][t]["status"] == "flagged" for p in mal)
        tf = sum(v[t][0] == v[t][2] for v in tech.values())
        fp = sum(det[p][t]["status"] == "flagged" for p in ben)
        fpc = sum(det[p][t]["status"] == "flagged" and det[p][t]["critical"] for p in ben)
        err = sum(det[p][t]["status"] in ("error", "timeout") for p in mal + ben)
        uns = sum(det[p][t]["status"] == "unscanned" for p in mal + ben)
        med = statistics.median(det[p][t]["seconds"] for p in mal + ben)
        thr = tp.get(t, {}).get("median_s")
        fps = f"{res['throughput']['files'] / thr:.1f}" if thr else "n/a"
        lines.append(f"| {NAMES[t]} | {res['meta']['versions'][t]} | {_pct(mf, len(mal))} | "
                     f"{_pct(tf, len(tech))} | {_pct(fp, len(ben))} | {_pct(fpc, len(ben))} | "
                     f"{err} | {uns} | {med:.2f} | {fps} |")
    if large:
        lines += ["", "| tool | " + " | ".join(f"{n} ({v['bytes'] / 2**20:.0f} MiB): MB/s, "
                                                  "verdict" for n, v in large.items()) + " |",
                  "|---|" + "---|" * len(large)]
        for t in _tools(res):
            cells = []
            for v in large.values():
                r = v["tools"].get(t, {})
                vd = (r.get("verdict") or {}).get("status", "n/a")
                s = r.get("median_s")
                cells.append((f"{v['bytes'] / 1e6 / s:.0f}" if s else "n/a") + f", {vd}")
            lines.append(f"| {NAMES[t]} | " + " | ".join(cells) + " |")
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


def gaps(res: dict[str, Any]) -> list[str]:
    """Techniques some peer catches fully that secpipe does not."""
    if "secpipe" not in _tools(res):
        return []
    out = []
    for tech, row in techniques(res).items():
        peers = [t for t in row if t != "secpipe" and row[t][0] == row[t][2]]
        if peers and row["secpipe"][0] < row["secpipe"][2]:
            out.append(f"- {tech}: caught by {', '.join(NAMES[p] for p in peers)}")
    return out


def markdown(res: dict[str, Any]) -> str:
    m = res["meta"]
    parts = [f"Run {m['date']} on {m['nproc']} CPUs: `{m['command']}`", "", *_summary(res), "",
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
           "opcodes\" on any non-pickle file) is not really detecting the technique.", ""]
    for t, d in sorted(info.items()):
        row = tech[t]
        full = [NAMES[x] for x in tools if row[x][0] == row[x][2]]
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
                + (f" ({det[x]['detail'][:140]})" if det[x]["detail"] else "")
                for x in tools]
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    data = json.loads(Path(sys.argv[1]).read_text())
    if len(sys.argv) > 2 and sys.argv[2] == "--techniques":
        print(techniques_md(data))
    else:
        print(markdown(data))
