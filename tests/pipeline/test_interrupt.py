"""Ctrl-C and SIGTERM during `secpipe run`: exit 130 / 143, the run is recorded as interrupted,
and the tool an `exec` step started is gone together with the child it spawned (checked by
PID)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from secpipe.runstore import RunStore

TOOL = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
with open(sys.argv[1], "w") as fh:
    fh.write(f"{child.pid} {__import__('os').getpid()}")
time.sleep(120)
"""

CONFIG = """
pipelines:
  p:
    stages:
      - name: tools
        steps:
          - uses: exec
            id: slow-tool
            timeout: 300
            with: {command: [%s, tool.py, "{workdir}/pids"]}
      - name: gate
        steps: [{uses: gate}]
"""


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _pids(project: Path, deadline: float) -> list[int]:
    while time.monotonic() < deadline:
        found = list(project.glob(".secpipe/runs/*/slow-tool/pids"))
        if found and found[0].read_text().strip():
            return [int(p) for p in found[0].read_text().split()]
        time.sleep(0.05)
    raise AssertionError("the tool never started")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_run_kills_the_tool_and_its_child(project: Path, sig: signal.Signals,
                                                         code: int) -> None:
    (project / "tool.py").write_text(TOOL)
    (project / "secpipe.yaml").write_text(CONFIG % sys.executable)
    proc = subprocess.Popen([sys.executable, "-m", "secpipe", "run", "p", "-C", str(project)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        pids = _pids(project, time.monotonic() + 30)
        assert all(_alive(pid) for pid in pids)
        sent = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err.decode()
    assert took < 12, f"secpipe took {took:.1f} s to stop"
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in pids if _alive(pid)], "a process the step started survived"
    store = RunStore(project / ".secpipe" / "runs.db")
    try:
        run = store.get_run(store.resolve("latest"))
    finally:
        store.close()
    assert run.status == "interrupted" and run.exit_code == code
    step = next(s for s in run.steps if s.step_id == "slow-tool")
    assert step.status.value == "error"
    assert [s.name for s in run.stages if s.status.value == "skipped"] == ["gate"]
