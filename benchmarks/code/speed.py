"""Lines per second of ``secpipe scan code`` beside ``bandit -r`` on the CPython standard library.

Usage (from the repository root)::

    python benchmarks/code/speed.py [--runs 3] [--warmup 1] [--tree DIR] [--json OUT]

The tree is the ``Lib`` folder of the base interpreter (``sysconfig.get_paths()["stdlib"]`` of
the interpreter running this script) unless ``--tree`` names another. Lines are counted once,
with a fixed rule, as the physical lines (newline count, plus one for a last line without a
newline) of every ``*.py`` and ``*.pyw`` file under the tree, excluding any ``site-packages/``
folder (third-party packages installed into the interpreter, not the standard library) and
``__pycache__/``. Both tools are told to skip ``site-packages``; secpipe runs with
``--no-default-excludes`` because the standard library has a package named ``venv``.

Runs alternate (bandit, secpipe, bandit, ...): ``--warmup`` untimed rounds, then ``--runs``
timed rounds; the medians and their ratio are reported, for wall-clock time and for CPU time
(user + system of the tool and all its worker processes; steadier than wall time when the
machine is shared, and it shows what parallel workers cost). Reports go to a temporary folder, so
the time includes writing them. secpipe runs with its defaults (bandit's tests on, one worker
process per CPU) and, with ``--secpipe-single``, also with ``--workers 1``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent


def count_lines(tree: Path) -> tuple[int, int, int]:
    """(files, lines, bytes) of the ``.py``/``.pyw`` files under ``tree`` (see module doc)."""
    files = lines = size = 0
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = sorted(d for d in dirnames if d not in ("site-packages", "__pycache__"))
        for name in filenames:
            if not name.endswith((".py", ".pyw")):
                continue
            data = (Path(dirpath) / name).read_bytes()
            files += 1
            size += len(data)
            lines += data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    return files, lines, size


def _version(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    text = (proc.stdout or proc.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def _timed(argv: list[str]) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds of the tool and every process it waited for, exit, stderr)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode, proc.stderr.strip()[-400:]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", default=sysconfig.get_paths()["stdlib"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--bandit", default="/tmp/peers/bandit/bin/bandit")
    ap.add_argument("--secpipe", default=str(ROOT / ".venv" / "bin" / "secpipe"))
    ap.add_argument("--secpipe-single", action="store_true", help="also time --workers 1")
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args(argv)
    tree = Path(args.tree)
    if not tree.is_dir():
        print(f"error: {tree} is not a folder", file=sys.stderr)
        return 2
    help_check = subprocess.run(
        [args.secpipe, "scan", "code", "--help"], capture_output=True, text=True, check=False
    )
    if help_check.returncode != 0:
        print("error: `secpipe scan code` is not available yet", file=sys.stderr)
        return 2
    files, lines, size = count_lines(tree)
    print(f"tree {tree}: {files} files, {lines} lines, {size} bytes", flush=True)
    with tempfile.TemporaryDirectory(prefix="secpipe-code-speed-") as tmp:
        commands: dict[str, list[str]] = {
            "bandit": [
                args.bandit, "-r", str(tree), "-x", "*/site-packages/*",
                "-f", "json", "-q", "-o", f"{tmp}/bandit.json",
            ],
            "secpipe": [
                args.secpipe, "scan", "code", str(tree), "--exclude", "site-packages/",
                "--no-default-excludes", "-q", "-f", "json", "-o", f"{tmp}/secpipe.json",
            ],
        }
        if args.secpipe_single:
            commands["secpipe --workers 1"] = [*commands["secpipe"], "--workers", "1"]
        times: dict[str, list[float]] = {k: [] for k in commands}
        cpu_times: dict[str, list[float]] = {k: [] for k in commands}
        for i in range(args.warmup + args.runs):
            for name, cmd in commands.items():
                secs, cpu, code, err = _timed(cmd)
                kind = "warm-up" if i < args.warmup else "run"
                print(f"{kind} {name}: {secs:.1f} s, CPU {cpu:.1f} s (exit {code})", flush=True)
                if code not in (0, 1):
                    print(f"error: {name} failed (exit {code}): {err}", file=sys.stderr)
                    return 2
                if i >= args.warmup:
                    times[name].append(round(secs, 2))
                    cpu_times[name].append(round(cpu, 2))
    medians = {k: statistics.median(v) for k, v in times.items()}
    cpu_medians = {k: statistics.median(v) for k, v in cpu_times.items()}
    result: dict[str, Any] = {
        "tree": str(tree),
        "files": files,
        "lines": lines,
        "bytes": size,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "versions": {
            "bandit": _version([args.bandit, "--version"]),
            "secpipe": _version([args.secpipe, "--version"]),
        },
        "times": times,
        "medians": medians,
        "cpu_times": cpu_times,
        "cpu_medians": cpu_medians,
        "load_average_at_end": os.getloadavg(),
        "lines_per_second": {k: round(lines / v) for k, v in medians.items()},
        "lines_per_cpu_second": {k: round(lines / v) for k, v in cpu_medians.items()},
        "secpipe_over_bandit_speed": round(medians["bandit"] / medians["secpipe"], 3),
        "secpipe_over_bandit_cpu": round(cpu_medians["bandit"] / cpu_medians["secpipe"], 3),
    }
    print(json.dumps(result, indent=1))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
