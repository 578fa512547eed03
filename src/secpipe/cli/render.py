"""Console rendering: progress while a run goes, a summary table at the end."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TextIO

from secpipe.core.events import Event
from secpipe.core.findings import Finding
from secpipe.core.results import GateDecision
from secpipe.runstore.records import RunRecord

_MARK = {"passed": "ok", "failed": "FAILED", "error": "ERROR", "skipped": "skipped"}


class ConsoleSink:
    """Prints run events to stderr: a live status line on a terminal, sparse lines otherwise."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = self.stream.isatty()
        self._last_progress = 0.0
        self._status_shown = False

    def _line(self, text: str) -> None:
        if self._status_shown:
            self.stream.write("\r\x1b[2K")
            self._status_shown = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def __call__(self, event: Event) -> None:
        if self.quiet:
            return
        d = event.data
        if event.type == "run.started":
            self._line(f"secpipe: running pipeline {d['pipeline']} (run {event.run_id})")
        elif event.type == "stage.started":
            self._line(f"== stage {d['index'] + 1}: {d['stage']}")
        elif event.type == "step.progress":
            now = time.monotonic()
            interval = 0.2 if self.tty else 10.0
            if now - self._last_progress < interval:
                return
            self._last_progress = now
            total = f"/{d['total']}" if d.get("total") else ""
            text = f"   {d['step']}: {d['done']}{total} {d['what']}"
            if self.tty:
                self.stream.write("\r\x1b[2K" + text[:120])
                self.stream.flush()
                self._status_shown = True
            else:
                self._line(text)
        elif event.type == "step.log":
            self._line(f"   {d['step']}: {d['message']}")
        elif event.type == "step.finished":
            sev = ", ".join(f"{n} {s}" for s, n in sorted(d["severities"].items()))
            found = f" {d['findings']} finding(s)" + (f" ({sev})" if sev else "")
            show = d["message"] and d["status"] != "passed" and not d.get("gate")
            msg = f" — {d['message']}" if show else ""
            self._line(f"   {_MARK[d['status']]:<7} {d['step']} [{d['kind']}] "
                       f"{d['duration']:.1f}s{found}{msg}")
            if d.get("gate"):
                self.gate(GateDecision.from_dict(d["gate"]))
        elif event.type == "run.finished":
            self._line(f"secpipe: run {event.run_id} {d['status']} (exit {d['exit_code']})")

    def gate(self, decision: GateDecision) -> None:
        for reason in decision.reasons:
            self._line(f"           gate: {reason}")
        for note in decision.notes:
            self._line(f"           note: {note}")


def summary_table(run: RunRecord, out: TextIO) -> None:
    """Stage/step table plus the most severe findings."""
    rows = [("stage", "step", "kind", "status", "findings", "time")]
    for step in run.steps:
        rows.append((step.stage, step.step_id, step.kind, step.status.value,
                     str(len(step.findings)), f"{step.duration:.1f}s"))
    recorded = {s.stage for s in run.steps}
    for stage in run.stages:
        if stage.name not in recorded:
            rows.append((stage.name, "-", "-", stage.status.value, "-", "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
        if i == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")
    for step in run.gates:
        assert step.gate is not None
        verdict = "passed" if step.gate.passed else "FAILED"
        out.write(f"\ngate {step.step_id}: {verdict}\n")
        for reason in step.gate.reasons:
            out.write(f"  fail: {reason}\n")
        for note in step.gate.notes:
            out.write(f"  note: {note}\n")
    findings_table(run.findings, out, accepted=run.accepted)


def findings_table(findings: Sequence[Finding], out: TextIO, limit: int = 25,
                   accepted: dict[str, str] | None = None) -> None:
    if not findings:
        out.write("\nno findings\n")
        return
    ordered = sorted(findings, key=lambda f: (-f.severity.rank, f.location.path,
                                              f.location.line or 0))
    out.write(f"\n{len(findings)} finding(s):\n")
    for f in ordered[:limit]:
        ev = f"  {f.evidence}" if f.evidence else ""
        out.write(f"  {f.severity.value:<8} {f.rule_id:<34} {f.location.display()}{ev}\n")
        out.write(f"           {f.message}  [fingerprint {f.fingerprint}]\n")
        if accepted and f.fingerprint in accepted:
            out.write(f"           accepted: {accepted[f.fingerprint]}\n")
    if len(ordered) > limit:
        out.write(f"  … and {len(ordered) - limit} more (see `secpipe report`)\n")
