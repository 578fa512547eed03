"""Issue 9 item 3: a run is `passed` only when every step ended and was recorded.

The full disk is real: `secpipe run` runs in a child process whose file-size limit
(RLIMIT_FSIZE, SIGXFSZ ignored) lets the run store start but not take a step with 1,500
findings, the way a disk fills up in the middle of a run.
"""

from __future__ import annotations

import random
import resource
import signal
import subprocess
import sys
from pathlib import Path

from built_secrets import github_token
from secpipe.runstore import RunStore

PIPELINE = """
pipelines:
  p:
    stages:
      - name: scan
        steps: [{uses: scan-secrets, with: {cache: false, workers: 1}}]
      - name: gate
        steps: [{uses: gate, with: {fail_on: none}}]
"""


_token = github_token


def _leaky_project(root: Path, files: int) -> None:
    rng = random.Random(9)
    for i in range(files):
        (root / f"conf{i:04}.env").write_text(f"GITHUB_TOKEN={_token(rng)}\n")
    (root / "secpipe.yaml").write_text(PIPELINE)


def _small_disk(limit: int) -> None:  # runs in the child, before exec
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_step_the_store_cannot_record_never_makes_a_passed_run(project: Path) -> None:
    _leaky_project(project, 1500)
    proc = subprocess.run([sys.executable, "-m", "secpipe", "run", "p", "-C", str(project), "-q"],
                          capture_output=True, text=True, timeout=300,
                          preexec_fn=lambda: _small_disk(160 << 10))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "could not be recorded" in proc.stdout + proc.stderr
    store = RunStore(project / ".secpipe" / "runs.db")
    try:
        runs = store.list_runs()
    finally:
        store.close()
    assert runs and all(run.status != "passed" for run in runs)


def test_the_same_run_with_room_to_record_passes(project: Path) -> None:
    _leaky_project(project, 1500)
    proc = subprocess.run([sys.executable, "-m", "secpipe", "run", "p", "-C", str(project), "-q"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_gate_and_baseline_refuse_a_run_that_did_not_end(project: Path) -> None:
    from secpipe.cli.main import main

    store = RunStore(project / ".secpipe" / "runs.db")
    try:
        stopped = store.start_run("p", str(project))
        store.finish_run(stopped, "interrupted", 130)
        running = store.start_run("p", str(project))  # killed with SIGKILL: never closed
    finally:
        store.close()
    for run in (stopped, running):
        assert main(["gate", run, "-C", str(project)]) == 2
        assert main(["baseline", run, "-C", str(project)]) == 2
    assert not (project / ".secpipe-baseline.json").exists()


def test_gate_fails_a_run_whose_step_was_never_recorded(project: Path) -> None:
    from secpipe.cli.main import main

    _leaky_project(project, 1500)
    subprocess.run([sys.executable, "-m", "secpipe", "run", "p", "-C", str(project), "-q"],
                   capture_output=True, timeout=300, preexec_fn=lambda: _small_disk(160 << 10))
    assert main(["gate", "latest", "-C", str(project), "--fail-on", "none"]) != 0
