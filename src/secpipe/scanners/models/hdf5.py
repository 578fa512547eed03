"""Keras config attributes of HDF5 files, read by h5py in a separate, resource-limited process.

Fuzzing showed that the HDF5 C library can crash (SIGSEGV) while reading the attributes of a
malformed file. A crash must not take the scan (or the pipeline) down with it, so h5py never runs
in the scanner's process: ``python -I`` (isolated: no user site, no current folder on the path)
opens the file read-only, reads only the root ``model_config`` / ``training_config`` attributes
(never a dataset) under CPU-time and memory limits, and prints them as JSON. A crash or timeout is
reported; the bounded raw scan in :mod:`.keras_fmt` still runs.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from secpipe.scanners.models.pickle_values import Buf

_READER = r"""
import io, json, resource, sys
resource.setrlimit(resource.RLIMIT_CPU, (int(sys.argv[1]), int(sys.argv[1]) + 1))
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
import h5py
src = sys.argv[2] if len(sys.argv) > 2 else io.BytesIO(sys.stdin.buffer.read())
out = []
with h5py.File(src, "r") as f:
    for key in ("model_config", "training_config"):
        if key in f.attrs:
            v = f.attrs[key]
            out.append(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v))
sys.stdout.write(json.dumps(out))
"""


@dataclass(frozen=True)
class H5Configs:
    """What the isolated reader returned."""

    configs: list[str] | None
    """The config strings; None when h5py is not installed or could not open the file."""
    problem: str | None = None
    """Set when the reader crashed or ran out of time (a finding)."""


def available() -> bool:
    """Whether h5py is installed (checked without importing it)."""
    return importlib.util.find_spec("h5py") is not None


def read_configs(buf: Buf, file_path: Path | None, limit: int, seconds: float) -> H5Configs:
    """Run the isolated reader on a file on disk, or on ``buf`` passed through stdin."""
    if not available() or (file_path is None and len(buf) > limit):
        return H5Configs(None)
    cpu = max(1, int(seconds))
    args = [sys.executable, "-I", "-c", _READER, str(cpu)]
    if file_path is not None:
        args.append(str(file_path))
    try:
        proc = subprocess.run(args, input=None if file_path is not None else bytes(buf),
                              capture_output=True, timeout=seconds + 5, check=False)
    except subprocess.TimeoutExpired:
        return H5Configs(None, f"the HDF5 reader did not finish in {seconds:g}s")
    if proc.returncode < 0:
        return H5Configs(None, f"the HDF5 library crashed reading this file (signal "
                         f"{-proc.returncode})")
    if proc.returncode != 0:
        return H5Configs(None)  # h5py refused the file: Keras cannot load it either
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        return H5Configs(None)
    return H5Configs([v for v in data if isinstance(v, str)] if isinstance(data, list) else None)
