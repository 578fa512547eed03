"""Single-file tensor formats: NumPy ``.npy``, safetensors and GGUF (headers only)."""

from __future__ import annotations

import itertools
import json
import re
import struct

from secpipe.core import pyast
from secpipe.core.findings import Severity
from secpipe.scanners.models.pickle_scan import NestedFn, PickleOptions, scan_pickles
from secpipe.scanners.models.pickle_values import Buf
from secpipe.scanners.models.report import Collector, Where
from secpipe.scanners.models.template import analyse

_NPY_MAX_HEADER = 1 << 20
ST_MAX_HEADER = 100_000_000
"""The reference safetensors parser refuses headers larger than this."""
_ST_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1, "I16": 2,
             "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8,
             "U64": 8, "C64": 8, "F4": 1, "F6_E2M3": 1, "F6_E3M2": 1}


_PY2_LONG = re.compile(r"(?<![\w.'\"])(\d+)[lL](?![\w'\"])")


def _python2_npy_header(text: str) -> object | None:
    """A version 1.0 header written by Python 2 (``'shape': (2L,)``), read as numpy reads it
    (it drops the ``L`` of long integers); None when it is still not a literal. Only a number
    directly followed by ``L`` changes: ``'<f8'`` or a field name keep theirs."""
    try:
        header: object = pyast.literal_eval(_PY2_LONG.sub(r"\1", text))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return header


def scan_npy(buf: Buf, where: Where, coll: Collector, opts: PickleOptions,
             nested: NestedFn) -> None:
    """Parse a ``.npy`` header; an object dtype means a pickle follows: scan it."""
    coll.formats.add("numpy")
    major = buf[6] if len(buf) > 7 else 0
    width = 2 if major == 1 else 4
    if len(buf) < 8 + width:
        coll.incomplete(where, "truncated .npy header")
        return
    hlen = int.from_bytes(buf[8:8 + width], "little")
    if hlen > _NPY_MAX_HEADER or 8 + width + hlen > len(buf):
        coll.incomplete(where, f".npy header length {hlen} out of bounds")
        return
    text = bytes(buf[8 + width:8 + width + hlen]).decode("latin-1")
    try:
        header = pyast.literal_eval(text)  # literals only: no names, no calls
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        header = _python2_npy_header(text) if major == 1 else None
    if header is None:
        coll.incomplete(where, ".npy header is not a Python literal")
        return
    descr = header.get("descr") if isinstance(header, dict) else None
    if not _has_object(descr):
        return
    start = 8 + width + hlen
    coll.add("models.numpy.object-array", Severity.LOW, where,
             f"object-dtype array: loading it with allow_pickle=True unpickles the data "
             f"at byte {start}", offset=start, key="object-array")
    scan_pickles(buf, where, coll, opts, nested, start=start, force=True)


def _has_object(descr: object) -> bool:
    if isinstance(descr, str):
        return descr.lstrip("<>|=").startswith("O")
    if isinstance(descr, list):
        return any(isinstance(f, tuple | list) and len(f) >= 2 and _has_object(f[1])
                   for f in descr)
    return False


def scan_safetensors(buf: Buf, where: Where, coll: Collector) -> None:
    """Check a safetensors header: length bounds, JSON, dtypes, shapes, offsets."""
    coll.formats.add("safetensors")
    size = len(buf)
    n = struct.unpack("<Q", buf[:8])[0]
    if n > ST_MAX_HEADER:
        coll.add("models.safetensors.oversized-header", Severity.HIGH, where,
                 f"header declares {n} bytes (limit {ST_MAX_HEADER})", offset=0, key="size")
        if n > size - 8:
            coll.add("models.safetensors.bad-offsets", Severity.HIGH, where,
                     f"header length {n} runs past the end of the {size}-byte file", offset=0,
                     key="header-beyond-file")
        return
    if n > size - 8:
        coll.add("models.safetensors.bad-offsets", Severity.HIGH, where,
                 f"header length {n} runs past the end of the {size}-byte file", offset=0,
                 key="header-beyond-file")
        return
    dupes: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        keys = [k for k, _ in items]
        dupes.extend(k for k in set(keys) if keys.count(k) > 1)
        return dict(items)

    try:
        header = json.loads(bytes(buf[8:8 + n]), object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        coll.add("models.safetensors.bad-header", Severity.HIGH, where,
                 "header is not valid JSON", offset=8, key="json")
        return
    if not isinstance(header, dict):
        coll.add("models.safetensors.bad-header", Severity.HIGH, where,
                 "header is not a JSON object", offset=8, key="json")
        return
    if dupes:
        coll.add("models.safetensors.bad-header", Severity.HIGH, where,
                 f"header repeats key(s) {sorted(set(dupes))[:5]}: parsers disagree on which "
                 "one counts", offset=8, key="duplicate-keys")
    data_size = size - 8 - n
    spans: list[tuple[int, int, str]] = []
    for name, info in header.items():
        if name == "__metadata__":
            if not isinstance(info, dict) or not all(isinstance(v, str) for v in info.values()):
                coll.add("models.safetensors.bad-header", Severity.MEDIUM, where,
                         "__metadata__ is not a string-to-string map", key="metadata")
            continue
        problem = _tensor_problem(info)
        if problem:
            coll.add("models.safetensors.bad-header", Severity.HIGH, where,
                     f"tensor {name!r}: {problem}", key=f"t:{name}")
            continue
        begin, end = info["data_offsets"]
        count = 1
        for d in info["shape"]:
            count *= d
        if end > data_size:
            coll.add("models.safetensors.bad-offsets", Severity.HIGH, where,
                     f"tensor {name!r} ends at {end}, past the {data_size} data bytes",
                     key=f"out:{name}")
        if count * _ST_SIZES[info["dtype"]] != end - begin:
            coll.add("models.safetensors.bad-offsets", Severity.HIGH, where,
                     f"tensor {name!r}: shape {info['shape']} needs "
                     f"{count * _ST_SIZES[info['dtype']]} bytes, offsets cover {end - begin}",
                     key=f"shape:{name}")
        spans.append((begin, end, name))
    spans.sort()
    for (_, e1, n1), (b2, _, n2) in itertools.pairwise(spans):
        if b2 < e1:
            coll.add("models.safetensors.bad-offsets", Severity.HIGH, where,
                     f"tensors {n1!r} and {n2!r} overlap (bytes {b2}..{e1})", key=f"ov:{n1}:{n2}")


def _tensor_problem(info: object) -> str | None:
    if not isinstance(info, dict):
        return "entry is not an object"
    dtype, shape, offs = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dtype not in _ST_SIZES:
        return f"unknown dtype {dtype!r}"
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        return "shape is not a list of non-negative integers"
    if not (isinstance(offs, list) and len(offs) == 2 and all(isinstance(o, int) and o >= 0
                                                             for o in offs) and offs[0] <= offs[1]):
        return "data_offsets is not [begin, end] with 0 <= begin <= end"
    return None


# ---------------------------------------------------------------- GGUF

_GGUF_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_GGUF_MAX_KV = 1 << 20
_GGUF_MAX_STR = 64 << 20
_GGUF_MAX_ARRAY = 1 << 28


class _GGUFError(Exception):
    pass


class _Reader:
    def __init__(self, buf: Buf, pos: int, size64: bool) -> None:
        self.buf, self.pos, self.size64 = buf, pos, size64

    def u(self, n: int) -> int:
        if self.pos + n > len(self.buf):
            raise _GGUFError(f"truncated at byte {self.pos}")
        v = int.from_bytes(self.buf[self.pos:self.pos + n], "little")
        self.pos += n
        return v

    def count(self) -> int:
        return self.u(8 if self.size64 else 4)

    def string(self, keep: bool) -> str:
        n = self.count()
        if n > _GGUF_MAX_STR or self.pos + n > len(self.buf):
            raise _GGUFError(f"string of {n} bytes at byte {self.pos} out of bounds")
        start = self.pos
        self.pos += n
        return bytes(self.buf[start:start + n]).decode("utf-8", "replace") if keep else ""

    def skip_value(self, vtype: int) -> None:
        if vtype in _GGUF_FIXED:
            self.u(_GGUF_FIXED[vtype])
        elif vtype == 8:
            self.string(False)
        elif vtype == 9:
            inner, n = self.u(4), self.count()
            if n > _GGUF_MAX_ARRAY:
                raise _GGUFError(f"array of {n} items")
            if inner in _GGUF_FIXED:
                self.pos += n * _GGUF_FIXED[inner]
                if self.pos > len(self.buf):
                    raise _GGUFError("array past the end of the file")
            else:
                for _ in range(n):
                    self.skip_value(inner)
        else:
            raise _GGUFError(f"unknown value type {vtype}")


def scan_gguf(buf: Buf, where: Where, coll: Collector) -> None:
    """Read GGUF metadata; analyse every ``tokenizer.chat_template*`` value (never rendered)."""
    coll.formats.add("gguf")
    version = int.from_bytes(buf[4:8], "little") if len(buf) >= 8 else 0
    r = _Reader(buf, 8, version >= 2)
    try:
        r.count()  # tensor count
        n_kv = r.count()
        if n_kv > _GGUF_MAX_KV:
            raise _GGUFError(f"{n_kv} metadata entries")
        for _ in range(n_kv):
            key = r.string(True)
            vtype = r.u(4)
            if key.startswith("tokenizer.chat_template") and vtype == 8:
                at = r.pos
                _template(r.string(True), key, at, where, coll)
            else:
                r.skip_value(vtype)
    except _GGUFError as exc:
        coll.add("models.gguf.malformed", Severity.MEDIUM, where,
                 f"metadata could not be read: {exc}", offset=r.pos, key="malformed")


def _template(source: str, key: str, at: int, where: Where, coll: Collector) -> None:
    issues, parsed = analyse(source)
    if not issues:
        return
    critical = any(i.critical for i in issues)
    shown = "; ".join(i.what for i in issues[:5])
    coll.add("models.gguf.template-injection", Severity.CRITICAL if critical else Severity.HIGH,
             where, f"{key} {'(raw-text scan) ' if not parsed else ''}reaches object internals: "
             f"{shown}", offset=at, key=key, props={"key": key}, evidence=shown)
