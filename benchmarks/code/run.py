"""Score secpipe's code scanner beside bandit and Semgrep on the ML/LLM corpus (issue 12, (a)).

Usage (from the repository root)::

    python benchmarks/code/run.py [--tools bandit,semgrep,secpipe] [--json OUT] [--markdown OUT]

Each tool scans ``corpus/`` and ``heldout/`` separately. A vulnerable file counts as found when
the tool reports a finding of the labelled concern within +/-2 lines of the labelled sink line
(or of one of its ``also`` lines); a safe file counts as a false alarm when the tool reports any
finding of a mapped concern anywhere in it. Findings are mapped to concerns as follows:

* bandit: by test id (``BANDIT_CLASSES``); import-only tests (B401-B415) and tests about other
  concerns (B104, B113, B310, B615 ...) are not mapped and never count either way;
* Semgrep: by the rule-id prefix of ``semgrep-rules.yaml`` (``SEMGREP_PREFIXES``);
* secpipe: rule ids starting with ``code.``, by their ``CWE-*`` tags (``CLASS_CWES``), except
  ``code.bandit.B*`` (bandit's tests run inside secpipe), mapped by the same bandit table as
  bandit itself, so an import-only B403 counts for neither tool.

Tools are never installed by this script: bandit and semgrep are looked up in
``/tmp/peers/{bandit,semgrep}/bin`` (override with ``--bandit``/``--semgrep``), secpipe in
``.venv/bin/secpipe``. A tool that is missing or fails is reported as such, never scored as 0.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PARTS = ("corpus", "heldout")
TOLERANCE = 2

CLASS_CWES: dict[str, frozenset[int]] = {
    "unsafe-deserialization": frozenset({502}),
    "trust-remote-code": frozenset({94, 494, 829}),
    "keras-unsafe-load": frozenset({502, 94}),
    "llm-code-exec": frozenset({94, 95}),
    "llm-shell": frozenset({77, 78}),
    "llm-sql": frozenset({89}),
    "llm-html": frozenset({79, 80, 116}),
    "agent-code-tool": frozenset({77, 78, 94, 95}),
    "tls-verify-off": frozenset({295}),
    "debug-server": frozenset({11, 94, 215, 489}),
    "hardcoded-token": frozenset({259, 321, 522, 798}),
    "unsafe-yaml": frozenset({20, 502}),
    "archive-extract": frozenset({22, 59}),
}
"""The CWE ids a finding may carry to count for each concern class (secpipe is mapped this way)."""

_EXEC = frozenset({"llm-code-exec", "agent-code-tool"})
_SHELL = frozenset({"llm-shell", "agent-code-tool"})
BANDIT_CLASSES: dict[str, frozenset[str]] = {
    "B301": frozenset({"unsafe-deserialization"}),
    "B302": frozenset({"unsafe-deserialization"}),
    "B614": frozenset({"unsafe-deserialization"}),
    "B506": frozenset({"unsafe-yaml"}),
    "B202": frozenset({"archive-extract"}),
    "B102": _EXEC,
    "B307": _EXEC,
    "B602": _SHELL,
    "B603": _SHELL,
    "B604": _SHELL,
    "B605": _SHELL,
    "B606": _SHELL,
    "B607": _SHELL,
    "B609": _SHELL,
    "B608": frozenset({"llm-sql"}),
    "B610": frozenset({"llm-sql"}),
    "B611": frozenset({"llm-sql"}),
    "B701": frozenset({"llm-html"}),
    "B702": frozenset({"llm-html"}),
    "B703": frozenset({"llm-html"}),
    "B704": frozenset({"llm-html"}),
    "B308": frozenset({"llm-html"}),
    "B501": frozenset({"tls-verify-off"}),
    "B323": frozenset({"tls-verify-off"}),
    "B201": frozenset({"debug-server"}),
    "B105": frozenset({"hardcoded-token"}),
    "B106": frozenset({"hardcoded-token"}),
    "B107": frozenset({"hardcoded-token"}),
}
"""bandit test id -> concern classes. Unlisted tests are not about these concerns."""

SEMGREP_PREFIXES: dict[str, frozenset[str]] = {
    "deser": frozenset({"unsafe-deserialization"}),
    "remotecode": frozenset({"trust-remote-code"}),
    "keras": frozenset({"keras-unsafe-load"}),
    "llmexec": _EXEC,
    "llmshell": _SHELL,
    "llmsql": frozenset({"llm-sql"}),
    "llmhtml": frozenset({"llm-html"}),
    "agenttool": frozenset({"agent-code-tool"}),
    "tls": frozenset({"tls-verify-off"}),
    "debug": frozenset({"debug-server"}),
    "token": frozenset({"hardcoded-token"}),
    "yaml": frozenset({"unsafe-yaml"}),
    "archive": frozenset({"archive-extract"}),
}
"""Semgrep rule-id prefix (text before the first ``-``) -> concern classes."""


def classes_for_cwes(cwes: set[int]) -> frozenset[str]:
    """Every concern class whose CWE set meets ``cwes``."""
    return frozenset(c for c, allowed in CLASS_CWES.items() if allowed & cwes)


@dataclass(frozen=True)
class Hit:
    """One finding of a tool, reduced to what scoring needs."""

    path: str
    """Path relative to the scanned part folder (POSIX)."""
    lines: tuple[int, ...]
    """Line numbers the finding points at (start..end, or one line)."""
    classes: frozenset[str]
    """Concern classes the finding counts for (empty: not a mapped concern)."""
    rule: str
    """The tool's rule id, for the report."""
    member: str | None = None
    """Notebook cell (``cell[3]``) when the tool locates findings inside notebooks."""


@dataclass
class ToolRun:
    """The findings of one tool on one part, or why there are none."""

    tool: str
    part: str
    hits: list[Hit] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    raw_findings: int = 0


def _rel(path: str, base: Path) -> str:
    p = Path(path)
    if not p.is_absolute():
        p = (ROOT / p) if (ROOT / p).exists() else (base / p)
    try:
        return p.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _run(argv: list[str], timeout: int = 900) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    return proc, time.perf_counter() - t0


def run_bandit(exe: str, part: str) -> ToolRun:
    base = HERE / part
    out = ToolRun("bandit", part)
    try:
        proc, out.seconds = _run([exe, "-f", "json", "-q", "-r", str(base)])
        doc = json.loads(proc.stdout)
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        out.error = f"bandit failed: {exc}"
        return out
    for r in doc.get("results", []):
        lines = (*(r.get("line_range") or []), r["line_number"])
        out.hits.append(
            Hit(
                _rel(r["filename"], base),
                lines,
                BANDIT_CLASSES.get(r["test_id"], frozenset()),
                r["test_id"],
            )
        )
    out.raw_findings = len(out.hits)
    if doc.get("errors"):
        out.error = f"bandit reported {len(doc['errors'])} file errors"
    return out


def run_semgrep(exe: str, part: str) -> ToolRun:
    base = HERE / part
    out = ToolRun("semgrep", part)
    argv = [
        exe, "scan", "--config", str(HERE / "semgrep-rules.yaml"), "--json",
        "--metrics", "off", "--disable-version-check", str(base),
    ]
    try:
        proc, out.seconds = _run(argv)
        doc = json.loads(proc.stdout)
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        out.error = f"semgrep failed: {exc}"
        return out
    for r in doc.get("results", []):
        rule = r["check_id"].rsplit(".", 1)[-1]
        prefix = rule.split("-", 1)[0]
        start, end = r["start"]["line"], r["end"]["line"]
        lines = tuple(range(start, end + 1)) if end - start < 50 else (start, end)
        out.hits.append(
            Hit(_rel(r["path"], base), lines, SEMGREP_PREFIXES.get(prefix, frozenset()), rule)
        )
    out.raw_findings = len(out.hits)
    if doc.get("errors"):
        out.error = f"semgrep reported {len(doc['errors'])} errors"
    return out


def secpipe_available(exe: str) -> str | None:
    """None when ``secpipe scan code`` works, else why not."""
    try:
        proc, _ = _run([exe, "scan", "code", "--help"], timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"secpipe not runnable: {exc}"
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()
        return "`secpipe scan code` is not available yet: " + (last[-1] if last else "no output")
    return None


def _cwes(tags: list[str]) -> set[int]:
    found = set()
    for t in tags:
        if t.upper().startswith("CWE-") and t[4:].isdigit():
            found.add(int(t[4:]))
    return found


def run_secpipe(exe: str, part: str) -> ToolRun:
    base = HERE / part
    out = ToolRun("secpipe", part)
    argv = [exe, "scan", "code", str(base), "--json", "-q", "--fail-on", "critical"]
    try:
        proc, out.seconds = _run(argv)
        doc = json.loads(proc.stdout)
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        out.error = f"secpipe failed: {exc}"
        return out
    if proc.returncode not in (0, 1):
        out.error = f"secpipe exit code {proc.returncode}: {proc.stderr.strip()[-300:]}"
    for f in doc.get("findings", []):
        rule = str(f.get("rule_id", ""))
        if not rule.startswith("code."):
            continue
        loc = f.get("location", {})
        if rule.startswith("code.bandit."):
            # bandit's own tests, run inside secpipe: mapped exactly as when bandit runs alone
            classes = BANDIT_CLASSES.get(rule.rsplit(".", 1)[-1].upper(), frozenset())
        else:
            classes = classes_for_cwes(_cwes(list(f.get("tags", []))))
        line = loc.get("line")
        end = loc.get("end_line") or line
        lines = tuple(range(line, end + 1)) if line is not None and end - line < 50 else ()
        out.hits.append(
            Hit(_rel(loc.get("path", ""), base), lines, classes, rule, loc.get("member"))
        )
    out.raw_findings = len(out.hits)
    return out


def _near(hit: Hit, label: dict[str, Any]) -> bool:
    targets = [label["line"], *label.get("also", [])]
    if any(abs(h - t) <= TOLERANCE for h in hit.lines for t in targets):
        return True
    if "cell" in label and hit.member is not None:
        cell = f"cell[{label['cell']}]"
        if hit.member == cell or hit.member.startswith(cell + "/"):
            return any(abs(h - label["cell_line"]) <= TOLERANCE for h in hit.lines)
    return False


def score(run: ToolRun, labels: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per-file verdicts and totals of one tool on one part."""
    by_file: dict[str, list[Hit]] = {}
    for h in run.hits:
        by_file.setdefault(h.path, []).append(h)
    files: dict[str, dict[str, Any]] = {}
    for name, lab in labels.items():
        hits = by_file.get(name, [])
        mapped = [h for h in hits if h.classes]
        if lab["vulnerable"]:
            good = [h for h in mapped if lab["class"] in h.classes and _near(h, lab)]
            files[name] = {"found": bool(good), "rules": sorted({h.rule for h in good})}
        else:
            files[name] = {
                "false_alarm": bool(mapped),
                "any_finding": bool(hits),
                "rules": sorted({h.rule for h in mapped}),
            }
    vuln = [n for n, lab in labels.items() if lab["vulnerable"]]
    safe = [n for n, lab in labels.items() if not lab["vulnerable"]]
    per_class: dict[str, dict[str, int]] = {}
    for n, lab in labels.items():
        row = per_class.setdefault(
            lab["class"], {"vulnerable": 0, "found": 0, "safe": 0, "false_alarms": 0}
        )
        if lab["vulnerable"]:
            row["vulnerable"] += 1
            row["found"] += files[n]["found"]
        else:
            row["safe"] += 1
            row["false_alarms"] += files[n]["false_alarm"]
    return {
        "tool": run.tool,
        "part": run.part,
        "error": run.error,
        "seconds": round(run.seconds, 2),
        "raw_findings": run.raw_findings,
        "vulnerable": len(vuln),
        "found": sum(files[n]["found"] for n in vuln),
        "safe": len(safe),
        "false_alarms": sum(files[n]["false_alarm"] for n in safe),
        "safe_with_any_finding": sum(files[n]["any_finding"] for n in safe),
        "per_class": dict(sorted(per_class.items())),
        "files": files,
    }


def _pct(a: int, b: int) -> str:
    return f"{a}/{b} ({100 * a / b:.0f}%)" if b else "-"


def markdown(results: list[dict[str, Any]], notes: list[str]) -> str:
    lines = [
        "| Tool | Part | Recall (vulnerable found) | False alarms (safe flagged) "
        "| Safe files with any finding | Time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.get("unavailable"):
            lines.append(f"| {r['tool']} | {r['part']} | n/a | n/a | n/a | - |")
            continue
        lines.append(
            f"| {r['tool']} | {r['part']} | {_pct(r['found'], r['vulnerable'])} "
            f"| {_pct(r['false_alarms'], r['safe'])} "
            f"| {_pct(r['safe_with_any_finding'], r['safe'])} | {r['seconds']} |"
        )
    for part in PARTS:
        scored = [r for r in results if r["part"] == part and not r.get("unavailable")]
        if not scored:
            continue
        classes = sorted(scored[0]["per_class"])
        lines += ["", f"Per class, {part} (found/vulnerable; false alarms/safe):", ""]
        lines.append("| Class | " + " | ".join(r["tool"] for r in scored) + " |")
        lines.append("|---" * (len(scored) + 1) + "|")
        for c in classes:
            cells = []
            for r in scored:
                row = r["per_class"][c]
                cells.append(
                    f"{row['found']}/{row['vulnerable']}; {row['false_alarms']}/{row['safe']}"
                )
            lines.append(f"| {c} | " + " | ".join(cells) + " |")
    if notes:
        lines += ["", *[f"- {n}" for n in notes]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tools", default="bandit,semgrep,secpipe")
    ap.add_argument("--bandit", default="/tmp/peers/bandit/bin/bandit")
    ap.add_argument("--semgrep", default="/tmp/peers/semgrep/bin/semgrep")
    ap.add_argument("--secpipe", default=str(ROOT / ".venv" / "bin" / "secpipe"))
    ap.add_argument("--labels", default=str(HERE / "labels.json"))
    ap.add_argument("--json", dest="json_out", help="write full results (per file) here")
    ap.add_argument("--markdown", help="write the summary tables here")
    args = ap.parse_args(argv)
    try:
        all_labels: dict[str, dict[str, Any]] = json.loads(Path(args.labels).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        print(f"error: cannot read labels: {exc}", file=sys.stderr)
        return 2
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = set(tools) - {"bandit", "semgrep", "secpipe"}
    if unknown:
        print(f"error: unknown tools {sorted(unknown)}", file=sys.stderr)
        return 2
    notes: list[str] = []
    results: list[dict[str, Any]] = []
    for tool in tools:
        if tool == "secpipe":
            why = secpipe_available(args.secpipe)
            if why:
                notes.append(why + " (peers scored only)")
                print(why, file=sys.stderr)
                results += [{"tool": tool, "part": p, "unavailable": why} for p in PARTS]
                continue
        for part in PARTS:
            labels = {
                k[len(part) + 1 :]: v for k, v in all_labels.items() if k.startswith(part + "/")
            }
            if tool == "bandit":
                run = run_bandit(args.bandit, part)
            elif tool == "semgrep":
                run = run_semgrep(args.semgrep, part)
            else:
                run = run_secpipe(args.secpipe, part)
            if run.error:
                notes.append(f"{tool} on {part}: {run.error}")
            if run.error and not run.hits and run.raw_findings == 0 and run.seconds == 0:
                results.append({"tool": tool, "part": part, "unavailable": run.error})
                continue
            results.append(score(run, labels))
    md = markdown(results, notes)
    print(md)
    if args.markdown:
        Path(args.markdown).write_text(md)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
