"""Console rendering: progress while a run goes (a sink), a summary table at the end.

:class:`ConsolePrinter` prints events; :class:`ConsoleSink` is the same printer as a sink of a
run's bus, made when first asked for, so a command that runs no bus (``secpipe scan``) imports
neither the sink interface nor pydantic, and ``-q`` not even the event types.

Every line shown goes through :func:`~secpipe.reports.escape.printable`: a file name, a step
message or a tool's text cannot put a control character (an ANSI escape sequence, a newline, a
bidi override) or an undecodable byte on the terminal; each is shown as a visible escape.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from secpipe.reports.escape import printable

if TYPE_CHECKING:
    from secpipe.core.events import Event, StepFinished, StepProgress
    from secpipe.core.findings import Finding
    from secpipe.core.results import GateDecision
    from secpipe.runstore.records import RunRecord

_MARK = {"passed": "ok", "failed": "FAILED", "error": "ERROR", "skipped": "skipped"}


class ConsolePrinter:
    """Prints run events to stderr: a live status line on a terminal, sparse lines otherwise.

    Calling it (``printer(event)``) prints synchronously, for commands that run no bus
    (``secpipe scan``); ``--quiet`` silences it. Gate reasons are printed from the
    ``step.finished`` event of the gate step; ``gate.decided`` adds nothing here. It needs no
    sink machinery: :class:`ConsoleSink` is this printer as a sink of a run's bus.
    """

    def __init__(self, *, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = self.stream.isatty()
        self._last_progress = 0.0
        self._status_shown = False

    def _line(self, text: str) -> None:
        if self._status_shown:
            self.stream.write("\r\x1b[2K")
            self._status_shown = False
        self.stream.write(printable(text) + "\n")
        self.stream.flush()

    def __call__(self, event: Event) -> None:
        self.deliver(event)

    def deliver(self, event: Event) -> None:
        if self.quiet:
            return
        # the event types are imported when a first event is shown (``-q`` never imports them)
        from secpipe.core.events import (
            RunFinished,
            RunStarted,
            StageStarted,
            StepFinished,
            StepLog,
            StepProgress,
        )

        if isinstance(event, RunStarted):
            self._line(f"secpipe: running pipeline {event.pipeline} (run {event.run_id})")
        elif isinstance(event, StageStarted):
            self._line(f"== stage {event.index + 1}: {event.stage}")
        elif isinstance(event, StepProgress):
            self._progress(event)
        elif isinstance(event, StepLog):
            self._line(f"   {event.step}: {event.message}")
        elif isinstance(event, StepFinished):
            self._finished(event)
        elif isinstance(event, RunFinished):
            self._line(f"secpipe: run {event.run_id} {event.status} (exit {event.exit_code})")

    def _progress(self, event: StepProgress) -> None:
        now = time.monotonic()
        interval = 0.2 if self.tty else 10.0
        if now - self._last_progress < interval:
            return
        self._last_progress = now
        total = f"/{event.total}" if event.total else ""
        text = f"   {event.step}: {event.done}{total} {event.what}"
        if self.tty:
            self.stream.write("\r\x1b[2K" + printable(text)[:120])
            self.stream.flush()
            self._status_shown = True
        else:
            self._line(text)

    def _finished(self, event: StepFinished) -> None:
        sev = ", ".join(f"{n} {s}" for s, n in sorted(event.severities.items()))
        found = f" {event.findings} finding(s)" + (f" ({sev})" if sev else "")
        show = event.message and event.status != "passed" and not event.gate
        msg = f" — {event.message}" if show else ""
        mark = _MARK.get(event.status, event.status)
        self._line(f"   {mark:<7} {event.step} [{event.kind}] "
                   f"{event.duration:.1f}s{found}{msg}")
        if event.gate:
            self.gate(event.gate)

    def gate(self, decision: GateDecision) -> None:
        for reason in decision.reasons:
            self._line(f"           gate: {reason}")
        for note in decision.notes:
            self._line(f"           note: {note}")


if TYPE_CHECKING:  # what the type checker sees; at run time made by _sink_classes()
    from secpipe.sinks.interface import Sink, SinkContext, SinkSettings

    class ConsoleSettings(SinkSettings):
        """The console takes every event and never retries."""

    class ConsoleSink(ConsolePrinter, Sink[ConsoleSettings]):
        """The console printer as a sink of a run's bus."""

        def __init__(self, settings: ConsoleSettings | None = None,
                     context: SinkContext | None = None, *, stream: TextIO | None = None,
                     quiet: bool = False) -> None: ...


@functools.cache
def _sink_classes() -> dict[str, type]:
    """``ConsoleSettings`` and ``ConsoleSink``, made when first asked for: the sink interface
    (pydantic settings) is imported only by commands that run a bus."""
    from secpipe.sinks.interface import NoSecrets, Sink, SinkContext, SinkSettings

    class ConsoleSettings(SinkSettings):
        """The console takes every event and never retries (a retried write would print
        twice)."""

        events: list[str] = ["*"]
        retries: int = 0

    class ConsoleSink(ConsolePrinter, Sink[ConsoleSettings]):
        """:class:`ConsolePrinter` as a sink: made by the CLI (``--quiet`` silences it), not
        from ``secpipe.yaml``; a run hands it to the :class:`~secpipe.sinks.bus.SinkBus` like
        any sink."""

        kind = "console"
        summary = "progress and results on stderr"
        Settings = ConsoleSettings

        def __init__(self, settings: ConsoleSettings | None = None,
                     context: SinkContext | None = None, *, stream: TextIO | None = None,
                     quiet: bool = False) -> None:
            Sink.__init__(self, settings or ConsoleSettings(),
                          context or SinkContext("console", Path("."), NoSecrets()))
            ConsolePrinter.__init__(self, stream=stream, quiet=quiet)

    made: dict[str, type] = {"ConsoleSettings": ConsoleSettings, "ConsoleSink": ConsoleSink}
    for name, cls in made.items():
        cls.__qualname__ = name
    return made


def __getattr__(name: str) -> Any:
    if name in ("ConsoleSettings", "ConsoleSink"):
        return _sink_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def line(out: TextIO, text: str = "") -> None:
    """Write one line of ``text``, control characters escaped (see the module's docstring)."""
    out.write(printable(text) + "\n")


def summary_table(run: RunRecord, out: TextIO) -> None:
    """Stage/step table plus the most severe findings."""
    rows = [("stage", "step", "kind", "status", "findings", "time")]
    for step in run.steps:
        rows.append((printable(step.stage), printable(step.step_id), printable(step.kind),
                     step.status.value, str(len(step.findings)), f"{step.duration:.1f}s"))
    recorded = {s.stage for s in run.steps}
    for stage in run.stages:
        if stage.name not in recorded:
            rows.append((printable(stage.name), "-", "-", stage.status.value, "-", "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        line(out, "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            line(out, "  ".join("-" * w for w in widths))
    for step in run.gates:
        assert step.gate is not None
        verdict = "passed" if step.gate.passed else "FAILED"
        out.write("\n")
        line(out, f"gate {step.step_id}: {verdict}")
        for reason in step.gate.reasons:
            line(out, f"  fail: {reason}")
        for note in step.gate.notes:
            line(out, f"  note: {note}")
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
        line(out, f"  {f.severity.value:<8} {f.rule_id:<34} {f.location.display()}{ev}")
        line(out, f"           {f.message}  [fingerprint {f.fingerprint}]")
        if accepted and f.fingerprint in accepted:
            line(out, f"           accepted: {accepted[f.fingerprint]}")
    if len(ordered) > limit:
        out.write(f"  … and {len(ordered) - limit} more (see `secpipe report`)\n")
