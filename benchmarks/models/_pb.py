"""Raw protobuf encoding (varints and length-delimited fields), enough for SavedModel graphs."""

from __future__ import annotations

import struct
from collections.abc import Sequence


def varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field: int, wire: int) -> bytes:
    return varint(field << 3 | wire)


def vint(field: int, n: int) -> bytes:
    return key(field, 0) + varint(n)


def ld(field: int, data: bytes | str) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    return key(field, 2) + varint(len(raw)) + raw


def f32(field: int, x: float) -> bytes:
    return key(field, 5) + struct.pack("<f", x)


def map_entry(field: int, k: str, v: bytes) -> bytes:
    """One entry of a ``map<string, Message>`` field (``v`` is the encoded message)."""
    return ld(field, ld(1, k) + ld(2, v))


# --- TensorFlow messages (field numbers from tensorflow/core/framework/*.proto) ---

DT_FLOAT, DT_STRING, DT_RESOURCE = 1, 7, 20


def attr_type(t: int) -> bytes:
    return vint(6, t)


def attr_s(s: str) -> bytes:
    return ld(2, s)


def attr_func(name: str) -> bytes:
    return ld(10, ld(1, name))


def attr_list_types(ts: list[int]) -> bytes:
    return ld(1, b"".join(vint(6, t) for t in ts))


def node(name: str, op: str, inputs: Sequence[str] = (),
         attrs: dict[str, bytes] | None = None) -> bytes:
    out = ld(1, name) + ld(2, op)
    for i in inputs:
        out += ld(3, i)
    for k, v in (attrs or {}).items():
        out += map_entry(5, k, v)
    return out


def function(name: str, nodes: Sequence[bytes], in_args: Sequence[tuple[str, int]] = (),
             out_args: Sequence[tuple[str, int]] = (), ret: dict[str, str] | None = None) -> bytes:
    sig = ld(1, name)
    for n, t in in_args:
        sig += ld(2, ld(1, n) + vint(3, t))
    for n, t in out_args:
        sig += ld(3, ld(1, n) + vint(3, t))
    out = ld(1, sig)
    for nd in nodes:
        out += ld(3, nd)
    for k, v in (ret or {}).items():
        out += ld(4, ld(1, k) + ld(2, v))
    return out


def saved_model(graph_nodes: Sequence[bytes], functions: Sequence[bytes] = (),
                tags: tuple[str, ...] = ("serve",)) -> bytes:
    """A SavedModel proto: one MetaGraphDef holding ``graph_nodes`` and a function library."""
    graph = b"".join(ld(1, n) for n in graph_nodes)
    if functions:
        graph += ld(2, b"".join(ld(1, f) for f in functions))
    graph += ld(4, vint(1, 1700) + vint(2, 12))
    meta_info = ld(1, "") + b"".join(ld(4, t) for t in tags) + ld(5, "2.21.0")
    meta = ld(1, meta_info) + ld(2, graph)
    return vint(1, 1) + ld(2, meta)
