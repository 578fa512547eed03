"""One-file start-up of ``secpipe scan models`` and ``scan secrets`` against peers, as processes.

Each sample is a fresh process on one small file (what a pre-commit hook pays per batch). The
tools are run alternately, secpipe then the peer, so a change of machine load hits both alike;
one warm-up round is discarded, then ``--runs`` rounds are timed and the medians reported.

    .venv/bin/python benchmarks/startup/bench_startup.py \
        --picklescan /tmp/peer-picklescan/bin/picklescan --runs 20

Peers: picklescan (``picklescan -p FILE``, install it in its own venv:
``python -m venv /tmp/peer-picklescan && /tmp/peer-picklescan/bin/pip install picklescan``) and,
when found next to secpipe, gitleaks (``gitleaks dir FILE``). A missing peer is reported as such.
"""

from __future__ import annotations

import argparse
import json
import pickle
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
)


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


def timed(cmd: list[str], cwd: Path) -> float:
    """Wall-clock seconds of one whole process (its output discarded; any exit code)."""
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False)
    return time.perf_counter() - started


def alternate(ours: list[str], peer: list[str] | None, cwd: Path,
              runs: int) -> tuple[list[float], list[float]]:
    """``runs`` timed rounds after one warm-up, ours then the peer's in each round."""
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(runs + 1):
        a = timed(ours, cwd)
        b = timed(peer, cwd) if peer is not None else 0.0
        if i:  # round 0 warms the page cache and the bytecode caches
            times[0].append(a)
            times[1].append(b)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--secpipe", default=str(Path(sys.executable).parent / "secpipe"))
    parser.add_argument("--picklescan", default=shutil.which("picklescan"))
    parser.add_argument("--gitleaks", default=str(Path(sys.executable).parent / "gitleaks"))
    args = parser.parse_args(argv)
    gitleaks = args.gitleaks if Path(args.gitleaks).exists() else None
    print(f"# {args.runs} alternating runs after a warm-up, medians in seconds")
    print("| command | file | secpipe | peer | peer median | ratio |")
    print("|---|---|---:|---|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="secpipe-startup-") as tmp:
        folder = Path(tmp)
        files = make_files(folder)
        for name in files:
            rows = [("scan models", [args.secpipe, "scan", "models", name, "-q"],
                     "picklescan", [args.picklescan, "-p", name] if args.picklescan else None),
                    ("scan secrets", [args.secpipe, "scan", "secrets", name, "-q"],
                     "gitleaks", [gitleaks, "dir", name, "--no-banner"] if gitleaks else None)]
            for command, ours, peer_name, peer in rows:
                if command == "scan secrets" and name != "notes.txt":
                    continue  # the secrets scanner's start-up is measured on the text file
                mine, theirs = alternate(ours, peer, folder, args.runs)
                m = statistics.median(mine)
                if peer is None:
                    print(f"| {command} | {name} | {m:.3f} | {peer_name}: not installed | | |")
                    continue
                t = statistics.median(theirs)
                print(f"| {command} | {name} | {m:.3f} | {peer_name} | {t:.3f} | {m / t:.2f} |")
        if args.picklescan:  # what no scan can go below: the interpreter, pydantic, the step API
            peer = [args.picklescan, "-p", "small.pkl"]
            for what, code in FLOORS:
                mine, theirs = alternate([sys.executable, "-c", code], peer, folder, args.runs)
                m, t = statistics.median(mine), statistics.median(theirs)
                print(f"| floor: {what} | | {m:.3f} | picklescan | {t:.3f} | {m / t:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
