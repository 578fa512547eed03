"""Helpers for the supervisor tests: small Python programs written by the test, and a liveness
check by process id that counts a zombie (an exited process nobody reaped yet) as gone."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

PY = sys.executable


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie is dead: it holds no resources and runs no code)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # recycled by another user's process: ours is gone
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return os.name == "posix" and not os.path.isdir("/proc")


def wait_gone(pids: list[int], seconds: float = 3.0) -> list[int]:
    """The pids still alive after waiting up to ``seconds`` for them to go."""
    deadline = time.monotonic() + seconds
    while True:
        alive = [p for p in pids if pid_alive(p)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def read_pids(path: Path, count: int, seconds: float = 10.0) -> list[int]:
    """The ``count`` pids a test program wrote (one line, space-separated)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            parts = path.read_text().split()
            if len(parts) == count:
                return [int(p) for p in parts]
        time.sleep(0.02)
    raise AssertionError(f"the program never wrote {count} pids to {path}")


def spawner(folder: Path, *, ignore_term: bool = False, escape: bool = True,
            exit_after: float | None = None) -> tuple[Path, Path]:
    """A program that starts a child in its group (and, with ``escape``, a grandchild in a new
    session, as a daemon would), writes "own child [escapee]" pids, then sleeps (or exits after
    ``exit_after`` seconds, leaving its children running)."""
    pids = folder / "pids.txt"
    script = folder / "spawner.py"
    term = "signal.signal(signal.SIGTERM, signal.SIG_IGN); " if ignore_term else ""
    sleeper = f"import signal, time; {term}time.sleep(120)"
    script.write_text(textwrap.dedent(f"""
        import os, signal, subprocess, sys, time
        {term}
        sleeper = [sys.executable, "-c", {sleeper!r}]
        pids = [os.getpid(), subprocess.Popen(sleeper).pid]
        if {escape!r}:
            pids.append(subprocess.Popen(sleeper, start_new_session=True).pid)
        open({str(pids) + ".tmp"!r}, "w").write(" ".join(map(str, pids)))
        os.replace({str(pids) + ".tmp"!r}, {str(pids)!r})
        print("started", flush=True)
        time.sleep({exit_after if exit_after is not None else 120})
    """))
    return script, pids
