"""One-file start-up of ``secpipe scan models`` and ``scan secrets`` against peers, as processes.

Each sample is a fresh process on one small file (what a pre-commit hook pays per batch). The
tools are run alternately, secpipe then the peer, so a change of machine load hits both alike;
one warm-up round is discarded, then ``--runs`` rounds are timed and the medians reported: wall
time, and the CPU time (user + system) of the process, which a busy machine inflates much less
than wall time (ratios of both are printed).

    .venv/bin/python benchmarks/startup/bench_startup.py \
        --picklescan /tmp/peer-picklescan/bin/picklescan --runs 20

Every process runs with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` is dropped from its
environment): the warm-up round writes secpipe's ``__pycache__`` as ``pip install`` does for the
peer, so neither side pays for compiling its source in a timed round.

Rows: ``scan models FILE -q`` on each file; ``--json``, ``--exclude`` and three files at once
(beside ``picklescan -p`` on a folder of the same three) on the pickle; ``scan models`` with a
project ``secpipe.yaml`` present (the settings-model path, for comparison).

Peers: picklescan (``picklescan -p FILE``, install it in its own venv:
``python -m venv /tmp/peer-picklescan && /tmp/peer-picklescan/bin/pip install picklescan``) and,
when found next to secpipe, gitleaks (``gitleaks dir FILE``). A missing peer is reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: processes that do no scanning, to show what start-up costs before secpipe's own code runs
FLOORS = (
    ("python -c pass", "pass"),
    ("import pydantic.BaseModel", "from pydantic import BaseModel"),
    ("import secpipe.core.step", "import secpipe.core.step"),
    ("import the plain path (CLI, scan command, model engine)",
     "import secpipe.cli.main, secpipe.cli.scan_cmd, secpipe.scanners.models.engine"),
)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def make_files(folder: Path) -> dict[str, Path]:
    """A small pickle, a small safetensors file and a text file, built here."""
    files = {
        "small.pkl": folder / "small.pkl",
        "small.safetensors": folder / "small.safetensors",
        "notes.txt": folder / "notes.txt",
    }
    files["small.pkl"].write_bytes(pickle.dumps({"weights": [0.5] * 64, "name": "demo"}))
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    files["small.safetensors"].write_bytes(struct.pack("<Q", len(header)) + header + bytes(16))
    files["notes.txt"].write_text("a plain text file with nothing in it\n" * 20)
    return files


Sample = tuple[float, float]
"""Wall-clock and CPU seconds of one process."""


def timed(cmd: list[str], cwd: Path) -> Sample:
    """Wall-clock and CPU (user + system) seconds of one whole process (its output discarded;
    any exit code)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False, env=ENV)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def alternate(ours: list[str], peer: list[str] | None, cwd: Path,
              runs: int) -> tuple[list[Sample], list[Sample]]:
    """``runs`` timed rounds after one warm-up, ours then the peer's in each round."""
    times: tuple[list[Sample], list[Sample]] = ([], [])
    for i in range(runs + 1):
        a = timed(ours, cwd)
        b = timed(peer, cwd) if peer is not None else (0.0, 0.0)
        if i:  # round 0 warms the page cache and the bytecode caches
            times[0].append(a)
            times[1].append(b)
    return times


def medians(samples: list[Sample]) -> Sample:
    return (statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples))


def row(command: str, name: str, mine: list[Sample], peer_name: str,
        theirs: list[Sample] | None) -> str:
    (mw, mc) = medians(mine)
    if theirs is None:
        return f"| {command} | {name} | {mw:.3f} | {mc:.3f} | {peer_name}: not installed | | | | |"
    (tw, tc) = medians(theirs)
    return (f"| {command} | {name} | {mw:.3f} | {mc:.3f} | {peer_name} | {tw:.3f} | {tc:.3f} "
            f"| {mw / tw:.2f} | {mc / tc:.2f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--secpipe", default=str(Path(sys.executable).parent / "secpipe"))
    parser.add_argument("--picklescan", default=shutil.which("picklescan"))
    parser.add_argument("--gitleaks", default=str(Path(sys.executable).parent / "gitleaks"))
    args = parser.parse_args(argv)
    gitleaks = args.gitleaks if Path(args.gitleaks).exists() else None
    print(f"# {args.runs} alternating runs after a warm-up, medians in seconds")
    print("| command | file | secpipe wall | secpipe CPU | peer | peer wall | peer CPU "
          "| ratio wall | ratio CPU |")
    print("|---|---|---:|---:|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="secpipe-startup-") as tmp:
        folder = Path(tmp)
        files = make_files(folder)
        trio = folder / "trio"
        trio.mkdir()
        for name in files:
            (trio / name).write_bytes(files[name].read_bytes())
        pick = [args.picklescan, "-p"] if args.picklescan else None
        ours = [args.secpipe, "scan", "models"]
        rows: list[tuple[str, str, list[str], str, list[str] | None, Path]] = []
        for name in files:
            rows.append(("scan models -q", name, [*ours, name, "-q"], "picklescan",
                         [*pick, name] if pick else None, folder))
        rows += [
            ("scan models --json", "small.pkl", [*ours, "small.pkl", "--json"], "picklescan",
             [*pick, "small.pkl"] if pick else None, folder),
            ("scan models --exclude x/ -q", "small.pkl",
             [*ours, "small.pkl", "--exclude", "x/", "-q"], "picklescan",
             [*pick, "small.pkl"] if pick else None, folder),
            ("scan models (3 files) -q", "the three", [*ours, *files, "-q"],
             "picklescan on their folder", [*pick, "trio"] if pick else None, folder),
            ("scan secrets -q", "notes.txt", [args.secpipe, "scan", "secrets", "notes.txt", "-q"],
             "gitleaks", [gitleaks, "dir", "notes.txt", "--no-banner"] if gitleaks else None,
             folder),
        ]
        project = folder / "project"
        project.mkdir()
        (project / "secpipe.yaml").write_text("version: 1\n")
        (project / "small.pkl").write_bytes(files["small.pkl"].read_bytes())
        rows.append(("scan models -q, secpipe.yaml present (model path)", "small.pkl",
                     [*ours, "small.pkl", "-q"], "picklescan",
                     [*pick, "small.pkl"] if pick else None, project))
        for command, name, mine_cmd, peer_name, peer, cwd in rows:
            mine, theirs = alternate(mine_cmd, peer, cwd, args.runs)
            print(row(command, name, mine, peer_name, theirs if peer else None), flush=True)
        if pick:  # what no scan can go below: the interpreter, pydantic, the step API
            peer = [*pick, "small.pkl"]
            for what, code in FLOORS:
                mine, theirs = alternate([sys.executable, "-c", code], peer, folder, args.runs)
                print(row(f"floor: {what}", "", mine, "picklescan", theirs), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
