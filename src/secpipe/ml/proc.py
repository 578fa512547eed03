"""Running a training or prediction subprocess under secpipe's tool supervisor.

The child runs through :func:`secpipe.tools.supervisor.run_tool`, like every external program:
its own session and process group, stopped whole on timeout or cancel, standard input closed, an
allowlisted environment (:func:`child_env`: :data:`secpipe.tools.env.INHERITED` and
:data:`~secpipe.tools.env.PYTHON_INHERITED`, plus what the step sets). Its stdout is read line by
line: a JSON object ``{"event": "progress", ...}`` becomes a progress report,
``{"event": "log", ...}`` and plain lines become log lines (bounded), and
``{"event": "error", "message": ...}`` is the one-line reason it gives for failing. Stderr goes
to a log file in the step's folder (its last MiB, redacted); its last line explains a crash.
Everything kept of the child's lines is bounded and redacted (the run's secret values, long
random-looking tokens: a training script may print its environment).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from secpipe.core.step import StepContext
from secpipe.tools.capture import EachLine, KeepTail
from secpipe.tools.env import PYTHON_INHERITED, tool_env
from secpipe.tools.redact import clean
from secpipe.tools.supervisor import ToolCall, ToolStartError, run_for_step, step_timeout

MAX_LINE = 64 << 10
MAX_LOG_LINES = 200
MAX_LOG_BYTES = 1 << 20
PROGRESS_INTERVAL = 0.05


@dataclass(frozen=True)
class ProcOutcome:
    """How a subprocess ended."""

    returncode: int | None
    """Exit code (None when it was killed on timeout or cancel, or could not start)."""
    timed_out: bool
    """It ran past its time limit."""
    cancelled: bool
    """The run was cancelled."""
    error: str
    """The child's own one-line error (``{"event": "error"}``), else the last stderr line."""
    seconds: float
    """Wall time."""


def subprocess_timeout(ctx: StepContext, override: float | None) -> float:
    """The child's limit: the setting, else the step's timeout less a margin for our record."""
    return step_timeout(ctx.timeout, override)


def child_env(declared: Mapping[str, str] | None = None) -> dict[str, str]:
    """A Python child's environment: the allowlist, its Python and machine variables, and
    ``declared`` (never secpipe's credentials)."""
    return tool_env(declared=declared, inherit=PYTHON_INHERITED, what="child")


class _Lines:
    """Turns the child's stdout lines into progress reports, log lines and its error."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.error = ""
        self.logged = 0
        self.last_progress = 0.0

    def __call__(self, line: str) -> None:
        message: Any = None
        if line.startswith("{"):
            try:
                message = json.loads(line)
            except ValueError:
                message = None
        event = message.get("event") if isinstance(message, dict) else None
        if event == "progress":
            self._progress(message)
            return
        if event == "error":
            text = str(message.get("message") or "")
            self.error = clean(text.splitlines()[0], 500) if text.strip() else "failed"
            return
        text = str(message.get("message", "")) if event == "log" else line
        if self.logged < MAX_LOG_LINES:
            self.logged += 1
            self.ctx.log(clean(text, 500))

    def _progress(self, message: dict[str, Any]) -> None:
        done, total = message.get("done"), message.get("total")
        now = time.monotonic()
        if now - self.last_progress < PROGRESS_INTERVAL and done != total:
            return  # throttled: a chatty trainer must not flood the event bus
        self.last_progress = now
        if isinstance(done, int):
            self.ctx.progress(done, total if isinstance(total, int) else None,
                              clean(str(message.get("what", "")), 200))


def run_child(
    ctx: StepContext, argv: Sequence[str], *, cwd: Path, timeout: float, log_path: Path,
    env: Mapping[str, str] | None = None,
) -> ProcOutcome:
    """Run ``argv`` and wait, forwarding progress; kill it on timeout or ``ctx.cancel``.
    ``env`` is the child's whole environment (default :func:`child_env`)."""
    lines = _Lines(ctx)
    call = ToolCall(tuple(argv), cwd, env if env is not None else child_env(),
                    EachLine(lines, MAX_LINE), KeepTail(log_path, MAX_LOG_BYTES), timeout)
    try:
        outcome = run_for_step(call, cancel=ctx.cancel, secrets=ctx.secrets)
    except ToolStartError as exc:
        log_path.write_text("", encoding="utf-8")
        return ProcOutcome(None, False, False, f"cannot start {argv[0]!r}: {exc.message}", 0.0)
    last = outcome.stderr.last_lines[-1] if outcome.stderr.last_lines else ""
    return ProcOutcome(outcome.exit_code, outcome.timed_out, outcome.cancelled,
                       lines.error or last, outcome.seconds)
