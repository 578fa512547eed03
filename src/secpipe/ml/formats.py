"""Which serialisation format a model file is in, from its bytes (not its name where avoidable)."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

#: Formats that cannot run code when loaded (with the loader secpipe uses for them).
SAFE_FORMATS = frozenset({"skops", "safetensors", "onnx"})
#: Formats whose loading runs code: the model scan's findings apply.
CODE_FORMATS = frozenset({"pickle", "pytorch-pickle", "joblib"})


def _zip_has(path: Path, *names: str) -> set[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            present = set(archive.NameToInfo)
    except (zipfile.BadZipFile, OSError):
        return set()
    found = {n for n in names if n in present}
    if any(m.endswith("/data.pkl") or m == "data.pkl" for m in present):
        found.add("data.pkl")
    return found


def detect_format(path: Path) -> str:
    """``skops``, ``safetensors``, ``onnx``, ``pickle``, ``pytorch-pickle``, ``joblib``, ``keras``
    or ``unknown``."""
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError:
        return "unknown"
    suffix = path.suffix.lower()
    if head.startswith(b"PK"):
        members = _zip_has(path, "schema.json", "config.json")
        if "schema.json" in members:
            return "skops"
        if "data.pkl" in members:
            return "pytorch-pickle"
        if "config.json" in members and suffix == ".keras":
            return "keras"
        return "unknown"
    if len(head) >= 9:
        (length,) = struct.unpack("<Q", head[:8])
        if 0 < length < (100 << 20) and head[8:9] == b"{":
            return "safetensors"
    if head[:1] == b"\x80" and 2 <= head[1] <= 5:
        return "joblib" if suffix == ".joblib" else "pickle"
    if suffix in (".pkl", ".pickle"):
        return "pickle"
    if suffix == ".onnx" and head[:1] == b"\x08":  # protobuf field 1 (ir_version), varint
        return "onnx"
    return "unknown"
