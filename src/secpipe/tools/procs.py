"""Finding and stopping every process of one supervised tool.

A tool runs as the leader of a new session and process group (``start_new_session``). Its
processes are:

- the members of that process group (``killpg`` reaches them on every POSIX system);
- on Linux, the processes of that session that moved to another group (a shell with job control)
  and the processes that left the session (``setsid``, a daemonising double fork) but still carry
  the run's marker token in their environment (:data:`secpipe.tools.env.MARKER`), found in
  ``/proc`` among the processes of secpipe's own user.

Individual processes are signalled through a pidfd opened *before* their membership is checked
again, so a recycled process id is never signalled. Not reached: a process that cleared or
replaced its environment after leaving the session, a process of another user (``sudo``), and
work handed to a service (``docker run``, ``systemd-run``, ``at``): those are not the tool's
processes in any sense the kernel tracks for us.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from secpipe.tools.env import MARKER

_PROC = Path("/proc")
_ENVIRON_MAX = 1 << 20
POLL = 0.02


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, process group, session) of a process, None when it is gone."""
    try:
        text = (_PROC / str(pid) / "stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    try:
        return fields[0], int(fields[2]), int(fields[3])
    except (IndexError, ValueError):
        return None


def _carries(pid: int, token: str) -> bool:
    try:
        with (_PROC / str(pid) / "environ").open("rb") as fh:
            raw = fh.read(_ENVIRON_MAX)
    except OSError:
        return False
    prefix = MARKER.encode() + b"="
    for entry in raw.split(b"\0"):
        if entry.startswith(prefix):
            return token.encode() in entry[len(prefix):].split(b",")
    return False


def _belongs(pid: int, group: int, token: str | None) -> bool:
    stat = _stat(pid)
    if stat is None or stat[0] in ("Z", "X"):  # gone, or a zombie: nothing left to stop
        return False
    if group in (stat[1], stat[2]):
        return True
    return token is not None and _carries(pid, token)


def members(group: int, token: str | None) -> list[int]:
    """Live processes (not secpipe itself) of the tool's group or session or carrying its
    marker token; [] where there is no ``/proc``."""
    if not _PROC.is_dir():
        return []
    me, uid = os.getpid(), os.getuid()
    found: list[int] = []
    with contextlib.suppress(OSError), os.scandir(_PROC) as entries:
        for entry in entries:
            if not entry.name.isdigit() or int(entry.name) == me:
                continue
            try:
                if entry.stat().st_uid != uid:
                    continue
            except OSError:
                continue
            if _belongs(int(entry.name), group, token):
                found.append(int(entry.name))
    return found


def _signal_one(pid: int, sig: int, group: int, token: str | None) -> None:
    pidfd_open: Callable[[int], int] | None = getattr(os, "pidfd_open", None)
    send: Callable[[int, int], None] | None = getattr(signal, "pidfd_send_signal", None)
    if pidfd_open is None or send is None:
        if _belongs(pid, group, token):  # no pidfd (old kernel): a small recycling window
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        return
    try:
        fd = pidfd_open(pid)
    except OSError:
        return
    try:
        if _belongs(pid, group, token):  # the pidfd pins this very process
            with contextlib.suppress(OSError):
                send(fd, sig)
    finally:
        os.close(fd)


def signal_all(group: int, token: str | None, sig: int) -> int:
    """Send ``sig`` to the group and to every other member; how many were found outside it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)
    others = 0
    for pid in members(group, token):
        stat = _stat(pid)
        if stat is not None and stat[1] != group:
            others += 1
            _signal_one(pid, sig, group, token)
    return others


def stop_all(group: int, token: str | None, grace: float, leader_done: Callable[[], bool],
             idle: Callable[[float], None] = time.sleep) -> tuple[int, int]:
    """SIGTERM to every process of the tool, SIGKILL to those alive after ``grace`` seconds;
    returns (processes found, processes found outside the group). ``group`` must still be held by
    the unreaped leader (alive or a zombie), so the id cannot have been recycled. ``idle(s)``
    is called while waiting (the supervisor keeps draining the output pipes there)."""
    if not _PROC.is_dir():  # no view of the processes: the group, by signals alone
        signal_all(group, token, signal.SIGTERM)
        _wait_until(leader_done, grace, idle)
        idle(POLL)
        signal_all(group, token, signal.SIGKILL)
        return 0, 0
    found = members(group, token)
    if not found and leader_done():
        return 0, 0
    outside = signal_all(group, token, signal.SIGTERM)
    if not _wait_until(lambda: leader_done() and not members(group, token), grace, idle):
        signal_all(group, token, signal.SIGKILL)
        _wait_until(lambda: not members(group, token), 2.0, idle)
    return len(found), outside


def _wait_until(done: Callable[[], bool], seconds: float,
                idle: Callable[[float], None]) -> bool:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() >= deadline:
            return False
        idle(POLL)
    return True
