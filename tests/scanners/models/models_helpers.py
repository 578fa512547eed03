"""Builders for hostile samples: pickles written opcode by opcode, zips built with zipfile.

Nothing here unpickles; the tests only ever scan what these functions write.
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

from secpipe.core.findings import Finding
from secpipe.scanners.models.engine import ModelScanner

MARK, STOP, TUPLE, REDUCE, POP, EMPTY_DICT = b"(", b".", b"t", b"R", b"0", b"}"


def proto(n: int) -> bytes:
    return b"\x80" + bytes([n])


def glob(module: str, name: str) -> bytes:
    """GLOBAL opcode."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def ustr(text: str) -> bytes:
    """SHORT_BINUNICODE."""
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def binbytes(data: bytes) -> bytes:
    return b"B" + struct.pack("<I", len(data)) + data


def call(func: bytes, *args: bytes) -> bytes:
    """func(*args) through MARK ... TUPLE REDUCE."""
    return func + MARK + b"".join(args) + TUPLE + REDUCE


def system_call(p: int = 2) -> bytes:
    """A whole stream: os.system('true')."""
    return proto(p) + call(glob("os", "system"), ustr("true")) + STOP


def benign_dict() -> bytes:
    return EMPTY_DICT + ustr("w") + b"K\x01" + b"s"


def torch_data_pkl(payload: bytes = b"") -> bytes:
    """A state-dict data.pkl: {'fc.weight': _rebuild_tensor_v2(persid, 0, (3,), (1,), False,
    OrderedDict())}, preceded by ``payload`` opcodes whose result is popped."""
    pid = MARK + ustr("storage") + glob("torch", "FloatStorage") + ustr("0") + ustr("cpu") \
        + b"K\x03" + TUPLE + b"Q"
    tensor = call(glob("torch._utils", "_rebuild_tensor_v2"), pid, b"K\x00",
                  b"K\x03\x85", b"K\x01\x85", b"\x89", call(glob("collections", "OrderedDict")))
    body = (payload + POP if payload else b"") + EMPTY_DICT + ustr("fc.weight") + tensor + b"s"
    return proto(2) + body + STOP


def torch_zip(path: Path, data_pkl: bytes, top: str = "archive",
              extra: dict[str, bytes] | None = None) -> Path:
    """A PyTorch-style zip (stored members) written with zipfile."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{top}/data.pkl", data_pkl)
        z.writestr(f"{top}/byteorder", b"little")
        z.writestr(f"{top}/data/0", struct.pack("<3f", 0.5, 1.5, 2.5) + b"\x80\x02junk")
        z.writestr(f"{top}/version", b"3\n")
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return path


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def scan(path: Path, **kw: object) -> list[Finding]:
    """Scan one file with default budgets (or the given ones); informational findings dropped."""
    from secpipe.core.findings import Severity
    from secpipe.scanners.models.engine import Budgets

    scanner = ModelScanner(Budgets(**kw) if kw else None)  # type: ignore[arg-type]
    return [f for f in scanner.scan_file(path, path.name).findings
            if f.severity is not Severity.INFO]


def rules(findings: list[Finding]) -> set[str]:
    return {f.rule_id for f in findings}


def callables(findings: list[Finding]) -> set[str]:
    return {dict(f.properties).get("callable", "") for f in findings} - {""}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb(number: int, value: bytes | str | int) -> bytes:
    """One protobuf field (varint for int, length-delimited otherwise)."""
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    raw = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(raw)) + raw


def tf_node(name: str, op: str) -> bytes:
    return pb(1, name) + pb(2, op)


def saved_model(graph_nodes: list[bytes], functions: list[tuple[str, list[bytes]]]) -> bytes:
    """SavedModel{meta_graphs{graph_def{node*, library{function{signature{name}, node_def*}}}}}."""
    library = b"".join(pb(1, pb(1, pb(1, fname)) + b"".join(pb(3, n) for n in nodes))
                       for fname, nodes in functions)
    graph = b"".join(pb(1, n) for n in graph_nodes) + (pb(2, library) if library else b"")
    return pb(1, 1) + pb(2, pb(2, graph))


def gguf(kv: dict[str, str | int]) -> bytes:
    """A GGUF v3 file with string/uint32 metadata and no tensors."""
    def s(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw

    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv)))
    for k, v in kv.items():
        out += s(k)
        out += struct.pack("<I", 8) + s(v) if isinstance(v, str) else struct.pack("<II", 4, v)
    return bytes(out)


def safetensors(header: dict[str, object], data: bytes, declared: int | None = None) -> bytes:
    import json

    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h) if declared is None else declared) + h + data
