"""A tiny pickle *writer*: builds pickle byte streams opcode by opcode.

Nothing here ever unpickles.  Expressions are plain Python values plus a few node types
(:class:`G` a global, :class:`Call` a REDUCE, :class:`Raw` literal opcodes, ...); ``dump``
compiles one expression into a complete stream for a given protocol.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

MARK, STOP, POP, REDUCE, BUILD, TUPLE, DICT, LIST = b"(", b".", b"0", b"R", b"b", b"t", b"d", b"l"
NONE, SETITEM, APPEND, EMPTY_DICT, EMPTY_TUPLE = b"N", b"s", b"a", b"}", b")"
INST, OBJ, GLOBAL, NEWOBJ, NEWOBJ_EX, STACK_GLOBAL = b"i", b"o", b"c", b"\x81", b"\x92", b"\x93"
EXT1, EXT2, EXT4, MEMOIZE, FRAME = b"\x82", b"\x83", b"\x84", b"\x94", b"\x95"
TUPLE1, TUPLE2, TUPLE3, NEWTRUE, NEWFALSE = b"\x85", b"\x86", b"\x87", b"\x88", b"\x89"


@dataclass(frozen=True)
class G:
    """A global (module, qualified name); ``how``: auto, global, stack."""

    module: str
    name: str
    how: str = "auto"


@dataclass(frozen=True)
class Call:
    """``func(*args)`` through REDUCE."""

    func: Any
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Obj:
    """``cls(*args)`` through the OBJ opcode (protocol 1+) or INST (protocol 0, G only)."""

    cls: G
    args: tuple[Any, ...] = ()
    inst: bool = False


@dataclass(frozen=True)
class NewObj:
    """``cls.__new__(cls, *args, **kwargs)`` through NEWOBJ / NEWOBJ_EX."""

    cls: Any
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] | None = None


@dataclass(frozen=True)
class Build:
    """``obj`` then BUILD with ``state`` (calls ``obj.__setstate__(state)`` if present)."""

    obj: Any
    state: Any


@dataclass(frozen=True)
class Seq:
    """Evaluate each item, POP all but the last (side effects first, benign result last)."""

    items: tuple[Any, ...]


@dataclass(frozen=True)
class Raw:
    """Literal opcode bytes pushed as-is (caller keeps the stack consistent)."""

    data: bytes


@dataclass(frozen=True)
class Memo:
    """Reference to a memo slot written earlier with :class:`Put`."""

    slot: int


@dataclass(frozen=True)
class Put:
    """Evaluate ``value`` and store it in memo ``slot`` (value stays on the stack)."""

    value: Any
    slot: int


@dataclass
class _Writer:
    proto: int
    out: bytearray = field(default_factory=bytearray)

    def emit(self, v: Any) -> None:
        o = self.out
        if isinstance(v, Raw):
            o += v.data
        elif v is None:
            o += NONE
        elif isinstance(v, bool):
            o += (NEWTRUE if v else NEWFALSE) if self.proto >= 2 else (b"I01\n" if v else b"I00\n")
        elif isinstance(v, int):
            if self.proto >= 1 and 0 <= v < 256:
                o += b"K" + bytes([v])
            elif self.proto >= 1 and -(2**31) <= v < 2**31:
                o += b"J" + struct.pack("<i", v)
            else:
                o += b"I" + str(v).encode() + b"\n"
        elif isinstance(v, float):
            o += (b"G" + struct.pack(">d", v)) if self.proto >= 1 else b"F%r\n" % v
        elif isinstance(v, str):
            self._str(v)
        elif isinstance(v, bytes):
            self._bytes(v)
        elif isinstance(v, tuple):
            self._tuple(v)
        elif isinstance(v, list):
            o += MARK
            for x in v:
                self.emit(x)
            o += LIST
        elif isinstance(v, dict):
            o += MARK
            for k, x in v.items():
                self.emit(k)
                self.emit(x)
            o += DICT
        elif isinstance(v, G):
            self._global(v)
        elif isinstance(v, Call):
            self.emit(v.func)
            self._tuple(v.args)
            o += REDUCE
        elif isinstance(v, Obj):
            if v.inst:
                o += MARK
                for x in v.args:
                    self.emit(x)
                o += INST + v.cls.module.encode() + b"\n" + v.cls.name.encode() + b"\n"
            else:
                o += MARK
                self.emit(v.cls)
                for x in v.args:
                    self.emit(x)
                o += OBJ
        elif isinstance(v, NewObj):
            self.emit(v.cls)
            self._tuple(v.args)
            if v.kwargs is None:
                o += NEWOBJ
            else:
                self.emit(dict(v.kwargs))
                o += NEWOBJ_EX
        elif isinstance(v, Build):
            self.emit(v.obj)
            self.emit(v.state)
            o += BUILD
        elif isinstance(v, Seq):
            for i, x in enumerate(v.items):
                self.emit(x)
                if i < len(v.items) - 1:
                    o += POP
        elif isinstance(v, Put):
            self.emit(v.value)
            self._put(v.slot)
        elif isinstance(v, Memo):
            o += (b"h" + bytes([v.slot])) if self.proto >= 1 else b"g%d\n" % v.slot
        else:
            raise TypeError(f"cannot emit {type(v).__name__}")

    def _put(self, slot: int) -> None:
        self.out += (b"q" + bytes([slot])) if self.proto >= 1 else b"p%d\n" % slot

    def _str(self, s: str) -> None:
        raw = s.encode("utf-8")
        if self.proto == 0:
            self.out += b"V" + s.encode("raw-unicode-escape") + b"\n"
        elif self.proto >= 4 and len(raw) < 256:
            self.out += b"\x8c" + bytes([len(raw)]) + raw
        else:
            self.out += b"X" + struct.pack("<I", len(raw)) + raw

    def _bytes(self, b: bytes) -> None:
        if self.proto >= 3:
            if len(b) < 256:
                self.out += b"C" + bytes([len(b)]) + b
            else:
                self.out += b"B" + struct.pack("<I", len(b)) + b
        else:  # protocols 0-2 have no bytes type: encode as codecs.encode(latin-1 str)
            self.emit(Call(G("_codecs", "encode"), (b.decode("latin-1"), "latin1")))

    def _tuple(self, t: tuple[Any, ...]) -> None:
        if not t:
            self.out += EMPTY_TUPLE if self.proto >= 1 else MARK + TUPLE
            return
        if self.proto >= 2 and len(t) <= 3:
            for x in t:
                self.emit(x)
            self.out += (TUPLE1, TUPLE2, TUPLE3)[len(t) - 1]
            return
        self.out += MARK
        for x in t:
            self.emit(x)
        self.out += TUPLE

    def _global(self, g: G) -> None:
        how = g.how
        if how == "auto":
            how = "stack" if self.proto >= 4 else "global"
        if how == "global":
            self.out += GLOBAL + g.module.encode() + b"\n" + g.name.encode() + b"\n"
        else:
            self._str(g.module)
            self._str(g.name)
            self.out += STACK_GLOBAL


def dump(expr: Any, proto: int, *, frame: bool = False, stop: bool = True) -> bytes:
    """Compile ``expr`` into a pickle stream of protocol ``proto``."""
    w = _Writer(proto)
    w.emit(expr)
    body = bytes(w.out) + (STOP if stop else b"")
    head = b"\x80" + bytes([proto]) if proto >= 2 else b""
    if frame and proto >= 4:
        head += FRAME + struct.pack("<Q", len(body))
    return head + body


def body(expr: Any, proto: int) -> bytes:
    """The opcodes for ``expr`` alone (no PROTO, no STOP), to splice into other streams."""
    w = _Writer(proto)
    w.emit(expr)
    return bytes(w.out)
