"""The console is a sink over the typed events; its text is the one the CLI always printed."""

from __future__ import annotations

import io

from sink_helpers import RUN, run_events

from secpipe.cli.render import ConsoleSink
from secpipe.core.events import StepFinished, StepProgress
from secpipe.sinks import Sink

EXPECTED = f"""\
secpipe: running pipeline mlsecops (run {RUN})
== stage 1: scan
   scan-secrets: 1/3 files
   scan-secrets: scanned 3 files
   ok      scan-secrets [scan-secrets] 1.2s 1 finding(s) (1 high)
== stage 2: gate
   FAILED  gate [gate] 0.0s 0 finding(s)
           gate: 1 high finding (max 0)
           note: baseline: 0
secpipe: run {RUN} failed (exit 1)
"""


def test_console_renders_a_run() -> None:
    out = io.StringIO()
    sink = ConsoleSink(stream=out)
    assert isinstance(sink, Sink) and sink.kind == "console" and sink.name == "console"
    for event in run_events():
        assert sink.settings.accepts(event)  # the console takes every event
        sink(event)
    assert out.getvalue() == EXPECTED
    assert sink.settings.retries == 0  # a retried write would print twice


def test_quiet_console_prints_nothing() -> None:
    out = io.StringIO()
    sink = ConsoleSink(stream=out, quiet=True)
    for event in run_events():
        sink.deliver(event)
    assert out.getvalue() == ""


def test_errored_step_shows_its_message() -> None:
    out = io.StringIO()
    ConsoleSink(stream=out).deliver(StepFinished(
        RUN, step="train", kind="train", stage="train", status="error",
        message="timed out after 60 s", duration=60.0))
    assert out.getvalue() == "   ERROR   train [train] 60.0s 0 finding(s) — timed out after 60 s\n"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_progress_is_one_status_line() -> None:
    out = _Tty()
    sink = ConsoleSink(stream=out)
    sink.deliver(StepProgress(RUN, step="scan", done=1, total=None, what="files"))
    sink.deliver(StepProgress(RUN, step="scan", done=2, total=None, what="files"))  # throttled
    sink.deliver(run_events()[-1])
    assert out.getvalue() == ("\r\x1b[2K   scan: 1 files" "\r\x1b[2K"
                              f"secpipe: run {RUN} failed (exit 1)\n")
