"""Long-running programs of the ``deploy`` step: started under the tool supervisor's conventions,
left running after the step returns, stopped whole when the run ends.

:func:`secpipe.tools.supervisor.run_tool` runs a tool *to its end*; a deployment must outlive the
step that started it (later steps scan it). :class:`Background` starts a program the same way
(argv, no shell, standard input closed, the allowlisted environment of
:func:`secpipe.tools.env.tool_env` with its marker token, a new session and process group) but
returns at once. Its output (standard output and error together) is read by a thread into a
bounded buffer; :meth:`Background.tail` hands back its last lines redacted, and :meth:`stop`
writes the kept tail, redacted, to a log file. The leader is left unreaped until :meth:`stop`
(a zombie keeps its process and group ids from being recycled), which stops every process of
the program with :func:`secpipe.tools.procs.stop_all`: SIGTERM to the group, the session and
every process carrying the marker token, SIGKILL after the grace period.

Also here: loopback ports (:func:`free_port`, :func:`check_port_free`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from secpipe.core.errors import InputError
from secpipe.tools.capture import Redact, one_line
from secpipe.tools.env import MARKER, MAX_MARKERS, markers, new_marker
from secpipe.tools.procs import stop_all
from secpipe.tools.redact import redact_tokens
from secpipe.tools.supervisor import ToolStartError, find_program

LOOPBACK = "127.0.0.1"
LOG_TAIL_BYTES = 64 << 10
"""Bytes kept of a deployed program's output (its end)."""
TAIL_LINES = 20
"""Lines of that output quoted in an error message."""
STOP_GRACE = 3.0
"""Seconds between SIGTERM and SIGKILL when the run ends."""
_CHUNK = 1 << 16


def fresh_marker(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with a marker token of its own (after those secpipe itself inherited): the
    processes of one program must not share a token with another's, or stopping one would stop
    the other (podman's short-lived commands must not stop the conmon a ``podman run -d``
    left)."""
    inherited = [*markers(os.environ)][-(MAX_MARKERS - 1):]
    return {**env, MARKER: ",".join([*inherited, new_marker()])}


class PortInUse(InputError):
    """The port a deployment should listen on is taken."""


def free_port() -> int:
    """A TCP port free on loopback right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def check_port_free(port: int, what: str) -> int:
    """``port`` when nothing listens on it on loopback, else :class:`PortInUse`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            raise PortInUse(f"{what}: port {port} on {LOOPBACK} is in use",
                            hint="choose another port, or leave it unset for a free one") \
                from None
    return port


class Background:
    """One program started in its own session, running until :meth:`stop`."""

    def __init__(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str], *,
                 log_path: Path, redact: Redact = redact_tokens,
                 limit: int = LOG_TAIL_BYTES) -> None:
        if not argv:
            raise ToolStartError("no command to run")
        self.argv = tuple(argv)
        self.cwd = cwd
        self.env = fresh_marker(env)
        self.token = markers(self.env)[-1]
        self.log_path = log_path
        self.redact = redact
        self.limit = limit
        self._buf = bytearray()
        self._dropped = 0
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._stopped = False
        self._start_lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The leader's process id (None before :meth:`start`)."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> int:
        """Start the program; its pid. :class:`ToolStartError` when it cannot start."""
        program = find_program(self.argv[0], self.cwd, self.env)
        if program is None:
            raise ToolStartError(f"command not found: {self.argv[0]}")
        with self._start_lock:  # stop() before start(): the run has ended, start nothing
            if self._stopped:
                raise ToolStartError(f"not started: {self.argv[0]} (the run has ended)")
            return self._spawn(program)

    def _spawn(self, program: str) -> int:
        try:
            proc = subprocess.Popen(list(self.argv), executable=program, cwd=self.cwd,
                                    env=self.env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        except OSError as exc:
            raise ToolStartError(f"cannot run {self.argv[0]}: {exc.strerror or exc}") from None
        self._proc = proc
        self._reader = threading.Thread(target=self._read, name=f"secpipe-deploy-{proc.pid}",
                                        daemon=True)
        self._reader.start()
        return proc.pid

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, _CHUNK)
            except OSError:
                break
            if not data:
                break
            with self._lock:
                self._buf += data
                excess = len(self._buf) - self.limit
                if excess > 0:
                    del self._buf[:excess]
                    self._dropped += excess

    def exit_code(self) -> int | None:
        """The leader's exit status when it has exited (negative: a signal), else None; the
        leader is not reaped."""
        if self._proc is None:
            return None
        if self._proc.returncode is not None:
            return self._proc.returncode
        try:
            info = os.waitid(os.P_PID, self._proc.pid,
                             os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return self._proc.returncode if self._proc.returncode is not None else -1
        if info is None:
            return None
        if info.si_code == os.CLD_EXITED:
            return info.si_status
        return -info.si_status

    def running(self) -> bool:
        """The leader has not exited."""
        return self._proc is not None and self.exit_code() is None

    def wait_exit(self, seconds: float, cancel: threading.Event | None = None) -> int | None:
        """Wait at most ``seconds`` for the leader to exit; its status, or None."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            code = self.exit_code()
            if code is not None:
                return code
            if cancel is not None and cancel.is_set():
                return None
            time.sleep(0.02)
        return self.exit_code()

    def output(self) -> str:
        """What was kept of the output so far, decoded (not redacted)."""
        with self._lock:
            return self._buf.decode("utf-8", "replace")

    def tail(self, lines: int = TAIL_LINES) -> str:
        """The last non-empty lines of the output, one-line-safe, redacted, joined by `` | ``."""
        kept = [one_line(line, 300) for line in self.output().splitlines()]
        return " | ".join(self.redact(line) for line in [ln for ln in kept if ln][-lines:])

    def stop(self, grace: float = STOP_GRACE) -> int:
        """Stop every process of the program (idempotent), reap the leader, write the log;
        how many processes had to be stopped."""
        with self._start_lock:
            proc, already = self._proc, self._stopped
            self._stopped = True
        if proc is None or already:
            return 0
        found = 0
        try:
            found, _ = stop_all(proc.pid, self.token, grace, lambda: self.exit_code() is not None)
        finally:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5.0)
            if self._reader is not None:
                self._reader.join(2.0)
            if proc.stdout is not None:
                proc.stdout.close()
            self._write_log()
        return found

    def gone(self) -> bool:
        """True when no process of the program is left (the leader reaped or a zombie)."""
        from secpipe.tools.procs import members

        if self._proc is None:
            return True
        return self.exit_code() is not None and not members(self._proc.pid, self.token)

    def _write_log(self) -> None:
        text = self.output()
        header = f"[secpipe: first {self._dropped} bytes left out]\n" if self._dropped else ""
        with contextlib.suppress(OSError):
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log_path.write_text(header + self.redact(text), encoding="utf-8")
