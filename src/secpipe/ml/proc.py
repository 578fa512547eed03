"""Running a training or prediction subprocess: timeout, cancellation, JSON-lines progress.

The child gets its own process group, so a timeout or a cancelled run kills it and anything it
started. Its stdout is read line by line: a JSON object ``{"event": "progress", ...}`` becomes a
progress report, ``{"event": "log", ...}`` and plain lines become log lines (bounded), and
``{"event": "error", "message": ...}`` is the one-line reason it gives for failing. Stderr goes to a
log file in the step's folder (its last MiB, redacted line by line); its last line explains a
crash. What secpipe keeps of the child's
lines is bounded and has long random-looking tokens masked (a training script may print its
environment).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from secpipe.core.step import StepContext
from secpipe.steps.redact import clean, redact_tokens

MAX_LINE = 64 << 10
MAX_LOG_LINES = 200
MAX_LOG_BYTES = 1 << 20
PROGRESS_INTERVAL = 0.05


@dataclass(frozen=True)
class ProcOutcome:
    """How a subprocess ended."""

    returncode: int | None
    """Exit code (None when it was killed on timeout or cancel)."""
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
    if override is not None:
        return override
    total = ctx.timeout or 1800.0
    return max(total * 0.9, total - 10.0)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # the group of the child we started, by its id
    proc.wait()


def _handle(line: str, ctx: StepContext, state: dict[str, Any]) -> None:
    message: Any = None
    if line.startswith("{"):
        try:
            message = json.loads(line)
        except ValueError:
            message = None
    if isinstance(message, dict) and message.get("event") == "progress":
        done, total = message.get("done"), message.get("total")
        now = time.monotonic()
        if now - state["last_progress"] < PROGRESS_INTERVAL and done != total:
            return  # throttled: a chatty trainer must not flood the event bus
        state["last_progress"] = now
        if isinstance(done, int):
            ctx.progress(done, total if isinstance(total, int) else None,
                         str(message.get("what", ""))[:200])
        return
    if isinstance(message, dict) and message.get("event") == "error":
        state["error"] = _safe(str(message.get("message", "")).splitlines()[0]) if \
            message.get("message") else "failed"
        return
    text = str(message.get("message", "")) if isinstance(message, dict) and \
        message.get("event") == "log" else line
    if state["logged"] < MAX_LOG_LINES:
        state["logged"] += 1
        ctx.log(_safe(text))


def run_child(
    ctx: StepContext, argv: Sequence[str], *, cwd: Path, timeout: float, log_path: Path,
    env: Mapping[str, str] | None = None,
) -> ProcOutcome:
    """Run ``argv`` and wait, forwarding progress; kill it on timeout or ``ctx.cancel``."""
    state: dict[str, Any] = {"error": "", "logged": 0, "last_progress": 0.0}
    started = time.monotonic()
    with tempfile.TemporaryFile() as stderr:  # raw stderr never lands in the step's folder
        try:
            proc = subprocess.Popen(
                list(argv), cwd=str(cwd), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=stderr, env=dict(env) if env is not None else None,
                start_new_session=True,
            )
        except OSError as exc:
            log_path.write_text("", encoding="utf-8")
            return ProcOutcome(None, False, False, f"cannot start {argv[0]!r}: {exc.strerror}",
                               0.0)

        def pump() -> None:
            assert proc.stdout is not None
            for raw in iter(lambda: proc.stdout.readline(MAX_LINE), b""):  # type: ignore[union-attr]
                _handle(raw.decode("utf-8", "replace").rstrip("\r\n"), ctx, state)

        reader = threading.Thread(target=pump, name="secpipe-child-stdout", daemon=True)
        reader.start()
        timed_out = cancelled = False
        while proc.poll() is None:
            if time.monotonic() - started > timeout:
                timed_out = True
            elif ctx.cancel.is_set():
                cancelled = True
            if timed_out or cancelled:
                _kill(proc)
                break
            time.sleep(0.05)
        reader.join(5.0)
        lines = _keep_log(stderr, log_path)
    error = state["error"] or (lines[-1] if lines else "")
    code = None if (timed_out or cancelled) else proc.returncode
    return ProcOutcome(code, timed_out, cancelled, error, time.monotonic() - started)


def _keep_log(raw: IO[bytes], log_path: Path) -> list[str]:
    """Write the tail of the child's stderr, line by line redacted, to ``log_path``."""
    size = raw.seek(0, os.SEEK_END)
    raw.seek(max(0, size - MAX_LOG_BYTES))
    text = raw.read().decode("utf-8", "replace")
    lines = [_safe(line) for line in text.splitlines() if line.strip()]
    header = [f"[secpipe: first {size - MAX_LOG_BYTES} bytes left out]"] \
        if size > MAX_LOG_BYTES else []
    log_path.write_text("\n".join([*header, *lines]) + ("\n" if lines else ""),
                        encoding="utf-8")
    return lines


def _safe(text: str) -> str:
    """A child's line as secpipe keeps it: one line, bounded, long random tokens masked."""
    return redact_tokens(clean(text, 500))
