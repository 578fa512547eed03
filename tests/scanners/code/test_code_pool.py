"""The worker-process path of ``scan-code``: same results as in-process, the per-file time
budget kills a worker and reports the file, and no worker outlives the step."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from code_helpers import RunCode

from secpipe.core.errors import StepError
from secpipe.core.results import StepStatus
from secpipe.core.step import StepContext
from secpipe.scanners.code.step import INPROCESS_MAX_FILE_BYTES, POOL_MIN_BYTES


def worker_children() -> list[int]:
    """Live child processes of this test process that are code-scanner workers."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"secpipe.scanners.code.worker" in cmdline:
            found.append(int(pid))
    return found


def big_tree(root: Path) -> None:
    """More source than the in-process threshold, in files each small enough for in-process."""
    filler = "# " + "x" * 76 + "\n"
    per_file = 150_000
    count = POOL_MIN_BYTES // per_file + 2
    for i in range(count):
        body = (f"import subprocess, sys\n"
                f"subprocess.call(sys.argv[{i}], shell=True)\n"
                f"import torch\nstate = torch.load(sys.argv[1])\n")
        (root / f"mod{i:02d}.py").write_text(body + filler * (per_file // len(filler)))
    (root / "broken.py").write_text("def f(:\n")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_pool_gives_the_in_process_results_and_leaves_no_worker(project: Path,
                                                                run_code: RunCode) -> None:
    big_tree(project)
    sizes = [p.stat().st_size for p in project.iterdir()]
    assert sum(sizes) >= POOL_MIN_BYTES and max(sizes) <= INPROCESS_MAX_FILE_BYTES
    pooled = run_code(project, workers=2)
    local = run_code(project, workers=1)
    assert pooled.status is StepStatus.PASSED
    assert [f.to_dict() for f in pooled.findings] == [f.to_dict() for f in local.findings]
    assert pooled.metrics["files_scanned"] == len(sizes)
    rules = {f.rule_id for f in pooled.findings}
    assert {"code.bandit.B602", "code.torch-load-unsafe", "code.unparsed"} <= rules
    assert worker_children() == []


def dense_file(path: Path, lines: int) -> None:
    """``lines`` lines of many AST nodes each (slow to check), padded with comments so the file
    is over the in-process size limit."""
    pad = "  # " + "-" * 40
    path.write_text("".join(f"v{i} = f(a, b, [1, 2, 3], {{'k': {i}}}, g(h(i))){pad}\n"
                            for i in range(lines)))


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_file_over_its_time_budget_is_killed_and_reported(project: Path,
                                                            run_code: RunCode) -> None:
    dense_file(project / "slow.py", 5000)
    assert (project / "slow.py").stat().st_size > INPROCESS_MAX_FILE_BYTES  # goes to a worker
    (project / "quick.py").write_text("import pickle\n")
    result = run_code(project, max_seconds_per_file=0.1, workers=1)
    assert result.status is StepStatus.PASSED
    slow = [f for f in result.findings if f.location.path == "slow.py"]
    assert [f.rule_id for f in slow] == ["code.budget-exceeded"]
    assert "0.1s" in slow[0].message
    assert any(f.rule_id == "code.bandit.B403" for f in result.findings)
    assert worker_children() == []
    explicit = run_code(project, paths=["slow.py"], max_seconds_per_file=0.1)
    assert explicit.status is StepStatus.ERROR
    assert explicit.message.startswith("slow.py: budget exceeded")
    # with the default budget the same file is analysed whole
    whole = run_code(project, paths=["slow.py"])
    assert whole.status is StepStatus.PASSED
    assert whole.metrics["lines_scanned"] == 5000


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_cancel_stops_the_workers(project: Path, run_code: RunCode, tmp_path: Path) -> None:
    dense_file(project / "slow.py", 5000)
    cancel = threading.Event()
    ctx = StepContext(project_root=project, workdir=tmp_path / "w", cancel=cancel)
    ctx.progress = lambda done, total, what: cancel.set()  # cancelled once work has begun
    with pytest.raises(StepError, match="cancelled"):
        run_code(project, ctx=ctx)
    assert worker_children() == []


def children_of(pid: int) -> list[int]:
    out = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_ctrl_c_stop_and_reap_every_worker(project: Path, signum: int,
                                                       code: int) -> None:
    for i in range(8):
        dense_file(project / f"gen{i}.py", 5000)  # far more work than the test waits for
    secpipe = Path(sys.executable).with_name("secpipe")
    proc = subprocess.Popen([str(secpipe), "scan", "code", ".", "-q"], cwd=project,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.05)
            workers = children_of(proc.pid)
        assert len(workers) == 2, "the pool never started"
        time.sleep(0.5)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert not [w for w in workers if alive(w)]
