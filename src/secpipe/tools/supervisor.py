"""The one supervisor of external programs: ``exec``, ``train``, ``evaluate`` and every
tool-driven step run their child processes through :func:`run_tool`.

- an argv, never a shell; standard input closed (``/dev/null``); a working folder;
- the environment the caller built with :func:`secpipe.tools.env.tool_env` (an allowlist, the
  step's declared variables, the names it passes through, a marker token);
- a new session and process group; on timeout or when ``cancel`` is set (secpipe's Ctrl-C and the
  runner's step timeout both set it; checked every :data:`POLL_SECONDS`), SIGTERM to every
  process of the tool, SIGKILL after ``grace`` seconds, and a wait until they are gone
  (:mod:`secpipe.tools.procs`); what the tool left running when it exited is stopped the same way;
- standard output and error read through pipes by this thread and kept within bounds
  (:mod:`secpipe.tools.capture`); everything handed back for logs and messages passes through the
  caller's redaction (the run's resolved secret values, then long random-looking tokens).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from secpipe.core.errors import StepError
from secpipe.core.interfaces import Secrets
from secpipe.tools.capture import Capture, Redact, Sink, StreamInfo, open_sink
from secpipe.tools.env import MARKER, markers, new_marker
from secpipe.tools.procs import stop_all
from secpipe.tools.redact import redact_tokens, redactor

GRACE_SECONDS = 1.0
"""Default time between SIGTERM and SIGKILL (the runner waits a few seconds for a cancelled
step, so a tool's group is gone well before secpipe exits)."""
POLL_SECONDS = 0.05
"""How often the supervisor looks at ``cancel`` and the clock while the tool runs."""
_CHUNK = 1 << 16
_DRAIN_SECONDS = 1.0


class ToolStartError(StepError):
    """The program could not be started (not found, not executable)."""


@dataclass(frozen=True)
class ToolCall:
    """One program to run."""

    argv: tuple[str, ...]
    """The program and its arguments (``argv[0]`` is looked up on the environment's ``PATH``,
    or relative to ``cwd`` when it holds a ``/``)."""
    cwd: Path
    """The working folder."""
    env: Mapping[str, str]
    """The whole environment (:func:`secpipe.tools.env.tool_env`)."""
    stdout: Capture
    """How standard output is kept."""
    stderr: Capture
    """How standard error is kept."""
    timeout: float | None = None
    """Seconds the tool may run (None: until it ends or ``cancel`` is set)."""
    grace: float = GRACE_SECONDS
    """Seconds between SIGTERM and SIGKILL."""


@dataclass(frozen=True)
class ToolOutcome:
    """How a tool run ended."""

    exit_code: int | None
    """The exit code; negative when a signal not sent by secpipe ended it; None when secpipe
    stopped it (timeout or cancel)."""
    timed_out: bool
    """It ran past ``timeout`` and was stopped."""
    cancelled: bool
    """``cancel`` was set (Ctrl-C, the step's timeout in the runner) and it was stopped."""
    seconds: float
    """Wall time, until every process of the tool was gone."""
    stdout: StreamInfo
    """What was kept of standard output."""
    stderr: StreamInfo
    """What was kept of standard error."""
    stopped: int = 0
    """Processes secpipe had to stop: the tool when it was still running, and what it (or its
    children) left running."""
    escaped: int = 0
    """Of those, processes found outside the tool's process group (by session or marker)."""

    def stop_reason(self, timeout: float | None) -> str:
        """``''`` when the tool ended by itself, else why secpipe stopped it."""
        if self.timed_out:
            return f"timed out after {timeout:g} s" if timeout is not None else "timed out"
        return "cancelled" if self.cancelled else ""


def find_program(name: str, cwd: Path, env: Mapping[str, str]) -> str | None:
    """The executable ``name`` names: a path (relative to ``cwd``) when it holds a ``/``, else
    looked up on the environment's ``PATH``; None when there is none."""
    if "/" in name or os.sep in name:
        candidate = Path(name) if os.path.isabs(name) else cwd / name
        ok = candidate.is_file() and os.access(candidate, os.X_OK)
        return str(candidate) if ok else None
    return shutil.which(name, path=env.get("PATH", os.defpath))


def step_timeout(step_timeout: float | None, override: float | None = None,
                 default: float = 1800.0) -> float:
    """A child's limit: ``override``, else the step's timeout less a margin (so the step records
    "timed out" itself before the runner gives up on it)."""
    if override is not None:
        return override
    total = step_timeout or default
    return max(total * 0.9, total - 10.0)


def run_tool(call: ToolCall, *, cancel: threading.Event | None = None,
             redact: Redact = redact_tokens) -> ToolOutcome:
    """Run ``call`` to its end (or stop it); :class:`ToolStartError` when it cannot start."""
    program = find_program(call.argv[0], call.cwd, call.env)
    if program is None:
        raise ToolStartError(f"command not found: {call.argv[0]}")
    env = dict(call.env)
    if not markers(env):
        env[MARKER] = new_marker()
    token = markers(env)[-1]
    sinks = {"out": open_sink(call.stdout, redact), "err": open_sink(call.stderr, redact)}
    started = time.monotonic()
    try:
        proc = subprocess.Popen(list(call.argv), executable=program, cwd=call.cwd, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        sinks["out"].close()
        sinks["err"].close()
        raise ToolStartError(f"cannot run {call.argv[0]}: {exc.strerror or exc}") from None
    assert proc.stdout is not None and proc.stderr is not None
    pipes = _Pipes({proc.stdout.fileno(): sinks["out"], proc.stderr.fileno(): sinks["err"]})
    done = _exit_watch(proc)
    stop = cancel or threading.Event()
    timed_out = cancelled = finished = False
    try:
        while not done():
            if stop.is_set():
                cancelled = True
                break
            if call.timeout is not None and time.monotonic() - started > call.timeout:
                timed_out = True
                break
            pipes.pump(POLL_SECONDS, stop)
        stopped, escaped = stop_all(proc.pid, token, call.grace, done,
                                    lambda s: pipes.pump(s, None))
        finished = True
        pipes.drain(_DRAIN_SECONDS)
    finally:
        if not finished:  # a callback raised, or KeyboardInterrupt: never leave the tool running
            stop_all(proc.pid, token, call.grace, done)
        pipes.close()
        proc.stdout.close()
        proc.stderr.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5.0)
        out, err = sinks["out"].close(), sinks["err"].close()
    code = None if (timed_out or cancelled) else proc.returncode
    return ToolOutcome(code, timed_out, cancelled, time.monotonic() - started, out, err,
                       stopped, escaped)


def run_for_step(call: ToolCall, *, cancel: threading.Event,
                 secrets: Secrets | None) -> ToolOutcome:
    """:func:`run_tool` with a step's cancel event and its run's redaction."""
    return run_tool(call, cancel=cancel, redact=redactor(secrets))


def _exit_watch(proc: subprocess.Popen[bytes]) -> Callable[[], bool]:
    """A check "has the leader exited?" that leaves it unreaped (a zombie keeps its process and
    group ids from being recycled until we have stopped the rest of the group)."""
    waitid = getattr(os, "waitid", None)

    def exited() -> bool:
        if waitid is None:  # pragma: no cover - only where waitid is missing
            return proc.poll() is not None
        try:
            return waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    return exited


class _Pipes:
    """The tool's output pipes, read without blocking into their sinks."""

    def __init__(self, sinks: dict[int, Sink]) -> None:
        self.sinks = sinks
        self.selector = selectors.DefaultSelector()
        for fd in sinks:
            os.set_blocking(fd, False)
            self.selector.register(fd, selectors.EVENT_READ)

    @property
    def open(self) -> bool:
        return bool(self.selector.get_map())

    def pump(self, wait: float, stop: threading.Event | None) -> None:
        """Read what arrives within ``wait`` seconds (or sleep on ``stop`` when all are closed)."""
        if not self.open:
            if stop is not None:
                stop.wait(wait)
            else:
                time.sleep(wait)
            return
        for key, _ in self.selector.select(wait):
            fd = int(key.fd)
            try:
                data = os.read(fd, _CHUNK)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                self.sinks[fd].feed(data)
            else:
                self.selector.unregister(fd)

    def drain(self, seconds: float) -> None:
        """Read until every pipe is at its end, for at most ``seconds`` (a process that escaped
        every stop may hold a pipe open forever)."""
        deadline = time.monotonic() + seconds
        while self.open and time.monotonic() < deadline:
            self.pump(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())), None)

    def close(self) -> None:
        self.selector.close()
