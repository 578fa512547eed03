"""Markdown report of a run: summary, stages and steps, gate decisions, findings by severity.

Every string that comes from a scanned project or a tool (messages, paths, evidence, titles) goes
through :func:`md` (backslash-escapes Markdown punctuation incl. ``|`` and backticks, and ``<``
so no raw HTML gets through) or :func:`code` (a code span whose fence is longer than any backtick
run inside); both show control, bidi and undecodable characters as visible escapes
(:func:`~secpipe.reports.escape.printable`: a file name cannot drive the terminal that shows the
report, nor break it into lines). The summary helpers here are shared with the HTML report.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from secpipe.core.findings import Finding, Severity
from secpipe.reports.escape import printable, readable
from secpipe.runstore.records import RunRecord, StepRecord

SEVERITIES = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&$])")
_BACKTICKS = re.compile(r"`+")


# -- helpers shared with the HTML report ----------------------------------------------------
def severity_counts(findings: Iterable[Finding]) -> dict[Severity, int]:
    """Count per severity, every severity present (worst first)."""
    counts = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        counts[f.severity] += 1
    return counts


def by_severity(findings: Iterable[Finding]) -> list[tuple[Severity, list[Finding]]]:
    """Findings grouped worst first, each group sorted by location; empty groups left out."""
    groups: dict[Severity, list[Finding]] = {s: [] for s in SEVERITIES}
    for f in findings:
        groups[f.severity].append(f)
    return [(s, sorted(fs, key=lambda f: (f.location.display(), f.rule_id)))
            for s, fs in groups.items() if fs]


def when(ts: float | None) -> str:
    """``2026-11-26 10:38:18 UTC`` ('—' when unknown)."""
    if ts is None:
        return "—"
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def seconds(value: float | None) -> str:
    """A duration for people: ``0.42 s``, ``12.3 s``, ``3 min 05 s``."""
    if value is None:
        return "—"
    if value < 10:
        return f"{value:.2f} s"
    if value < 120:
        return f"{value:.1f} s"
    return f"{int(value // 60)} min {int(value % 60):02d} s"


def run_duration(run: RunRecord) -> float | None:
    return None if run.finished is None else max(0.0, run.finished - run.started)


def counts_text(findings: Iterable[Finding]) -> str:
    """``3 (critical 1, high 2)`` or ``0``."""
    counts = severity_counts(findings)
    total = sum(counts.values())
    parts = [f"{s.value} {n}" for s, n in counts.items() if n]
    return f"{total} ({', '.join(parts)})" if parts else "0"


def metric(value: float) -> str:
    return f"{int(value)}" if float(value).is_integer() else f"{value:.4g}"


def size(n: int) -> str:
    """``812 B``, ``1.5 KiB`` … ``2.0 GiB``."""
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


# -- Markdown escaping -----------------------------------------------------------------------
def md(text: object) -> str:
    """User data as inline Markdown text: one line, punctuation backslash-escaped."""
    flat = printable(" ".join(str(text).split()))
    return _MD_SPECIAL.sub(r"\\\1", flat)


def code(text: object, table: bool = False) -> str:
    """User data as a code span (fence longer than any backtick run inside; ``|`` escaped in
    table cells, where GFM splits cells before reading code spans). A name keeps its exact
    form: a newline in it shows as ``\\n``."""
    flat = " ".join(printable(str(text)).split())
    if not flat:
        return ""
    longest = max((len(m) for m in _BACKTICKS.findall(flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    if table:
        flat = flat.replace("|", "\\|")
    return f"{fence}{pad}{flat}{pad}{fence}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(cell or " " for cell in row) + " |" for row in rows)
    return lines


# -- sections ----------------------------------------------------------------------------------
def _summary(run: RunRecord) -> list[str]:
    verdict = run.status.upper() + (f" (exit {run.exit_code})" if run.exit_code is not None else "")
    return [
        f"# secpipe report: run {md(run.run_id)}",
        "",
        f"- **Pipeline:** {md(run.pipeline)}",
        f"- **Project:** {code(run.project)}",
        f"- **Status:** {md(verdict)}",
        f"- **Started:** {when(run.started)} · **Duration:** {seconds(run_duration(run))}",
        f"- **secpipe:** {md(run.secpipe_version)}",
        f"- **Findings:** {counts_text(run.findings)}",
        "",
    ]


def _steps(run: RunRecord) -> list[str]:
    rows = [[md(s.stage), md(s.step_id), md(s.kind), md(s.status.value.upper()),
             seconds(s.duration), str(len(s.findings)), md(s.message)] for s in run.steps]
    stages = ", ".join(f"{md(st.name)} ({st.status.value})" for st in run.stages)
    out = ["## Stages and steps", ""]
    if stages:
        out += [f"Stages in order: {stages}", ""]
    if not rows:
        return [*out, "No step was recorded.", ""]
    head = ["Stage", "Step", "Kind", "Status", "Time", "Findings", "Message"]
    return [*out, *_table(head, rows), ""]


def _gates(run: RunRecord) -> list[str]:
    out = ["## Gate decisions", ""]
    if not run.gates:
        return [*out, "No gate ran.", ""]
    for step in run.gates:
        gate = step.gate
        assert gate is not None
        out.append(f"### {md(step.step_id)}: {'PASSED' if gate.passed else 'FAILED'}")
        out.append("")
        out.append(f"Judged {gate.counted} findings; {gate.suppressed} suppressed, "
                   f"{gate.baselined} in the baseline.")
        out.append("")
        for title, lines in (("Reasons", gate.reasons), ("Notes", gate.notes)):
            if lines:
                out += [f"**{title}:**", "", *[f"- {md(line)}" for line in lines], ""]
    return out


def _metrics(run: RunRecord) -> list[str]:
    rows = [[md(s.step_id), md(k), metric(v)] for s in run.steps for k, v in
            sorted(s.metrics.items())]
    if not rows:
        return []
    return ["## Metrics", "", *_table(["Step", "Metric", "Value"], rows), ""]


def _finding(i: int, f: Finding, accepted: str | None = None) -> list[str]:
    out = [f"#### {i}. {md(f.title or f.rule_id)}", ""]
    if accepted is not None:
        out += [f"*Accepted by the gate — {md(accepted)}*", ""]
    out += [f"- **Rule:** {code(f.rule_id)} ({md(f.scanner)}, confidence {f.confidence.value})",
            f"- **Location:** {code(f.location.display())}"]
    if f.message:
        out.append(f"- **Message:** {md(f.message)}")
    if f.evidence:
        out.append(f"- **Evidence (redacted):** {code(f.evidence)}")
    out.append(f"- **Fingerprint:** {code(f.fingerprint)}")
    if f.tags:
        out.append("- **Tags:** " + ", ".join(md(t) for t in f.tags))
    if f.remediation:
        out.append(f"- **Remediation:** {md(f.remediation)}")
    return [*out, ""]


def _findings(run: RunRecord) -> list[str]:
    findings = run.findings
    out = ["## Findings", ""]
    if not findings:
        return [*out, "No findings.", ""]
    n = 0
    accepted = run.accepted  # computed once: it walks every gate decision
    for sev, group in by_severity(findings):
        out += [f"### {sev.value.capitalize()} ({len(group)})", ""]
        for f in group:
            n += 1
            out += _finding(n, f, accepted.get(f.fingerprint))
    return out


def _skipped(steps: Iterable[StepRecord]) -> list[str]:
    rows = [[md(s.step_id), code(k.path, table=True), md(k.reason)] for s in steps
            for k in s.skipped]
    if not rows:
        return []
    return ["## Inputs not fully analysed", "", *_table(["Step", "Path", "Reason"], rows), ""]


def _artifacts(steps: Iterable[StepRecord]) -> list[str]:
    rows = [[md(s.step_id), md(a.name), md(a.media_type), size(a.size), code(a.digest, True)]
            for s in steps for a in s.artifacts]
    if not rows:
        return []
    head = ["Step", "Artifact", "Type", "Size", "Digest"]
    return ["## Artifacts", "", *_table(head, rows), ""]


def render(run: RunRecord) -> str:
    lines = [*_summary(run), *_steps(run), *_gates(run), *_findings(run), *_skipped(run.steps),
             *_metrics(run), *_artifacts(run.steps)]
    return readable("\n".join(lines).rstrip("\n") + "\n")  # a net under md() and code()
