"""Running a training or prediction subprocess: timeout, cancellation, JSON-lines progress.

The child gets its own process group, so a timeout or a cancelled run kills it and anything it
started. Its stdout is read line by line: a JSON object ``{"event": "progress", ...}`` becomes a
progress report, ``{"event": "log", ...}`` and plain lines become log lines (bounded), and
``{"event": "error", "message": ...}`` is the one-line reason it gives for failing. Stderr goes to a
log file in the step's folder; its last line explains a crash.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from secpipe.core.step import StepContext

MAX_LINE = 64 << 10
MAX_LOG_LINES = 200
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
        state["error"] = str(message.get("message", "")).splitlines()[0][:500] if \
            message.get("message") else "failed"
        return
    text = str(message.get("message", "")) if isinstance(message, dict) and \
        message.get("event") == "log" else line
    if state["logged"] < MAX_LOG_LINES:
        state["logged"] += 1
        ctx.log(text[:500])


def run_child(
    ctx: StepContext, argv: Sequence[str], *, cwd: Path, timeout: float, log_path: Path,
    env: Mapping[str, str] | None = None,
) -> ProcOutcome:
    """Run ``argv`` and wait, forwarding progress; kill it on timeout or ``ctx.cancel``."""
    state: dict[str, Any] = {"error": "", "logged": 0, "last_progress": 0.0}
    started = time.monotonic()
    with log_path.open("wb") as stderr:
        try:
            proc = subprocess.Popen(
                list(argv), cwd=str(cwd), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=stderr, env=dict(env) if env is not None else None,
                start_new_session=True,
            )
        except OSError as exc:
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
    error = state["error"] or _last_line(log_path)
    code = None if (timed_out or cancelled) else proc.returncode
    return ProcOutcome(code, timed_out, cancelled, error, time.monotonic() - started)


def _last_line(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - 4096))
            lines = [ln for ln in fh.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1].strip()[:500] if lines else ""
