"""A static pickle machine: simulates protocols 0-5 without importing or calling anything.

:func:`run_stream` walks one pickle stream opcode by opcode with the unpickler's stack, metastack
(MARK), memo and extension registry, but every global is a :class:`~.pickle_values.Ref` name and
every call a :class:`~.pickle_values.Call` record (meanings in :mod:`.pickle_semantics`). The
result lists every global loading would import and every callable it would invoke, each with the
byte offset of its opcode. A stream that breaks (truncated, bad opcode, stack underflow, no STOP)
is analysed up to the break and the break is reported. Work is bounded in opcodes, stack, memo,
container items and wall-clock time. Large bytes values are skipped in place, never copied.
"""

from __future__ import annotations

import codecs
import struct
import time
from collections.abc import Callable

from secpipe.scanners.models.pickle_semantics import Semantics
from secpipe.scanners.models.pickle_values import (
    BudgetExceeded,
    Buf,
    BytesRef,
    Opaque,
    StreamBreak,
    StreamResult,
    SymDict,
    SymList,
    VMBudget,
    describe,
)

__all__ = ["OPCODES", "Buf", "StreamBreak", "StreamResult", "VMBudget", "run_stream"]

_SMALL = 1 << 16
"""Bytes and text values up to this size are copied; larger ones stay :class:`BytesRef`."""
_STOP = 0x2E
_CHECK_EVERY = 0x3FFF


class _Machine(Semantics):
    """One run of the simulated unpickler over ``buf[start:]``."""

    def __init__(self, buf: Buf, start: int, budget: VMBudget, joblib: bool,
                 inline_depth: int = 0) -> None:
        self.buf, self.pos, self.size = buf, start, len(buf)
        self.budget, self.joblib, self.inline_depth = budget, joblib, inline_depth
        self.stack: list[object] = []
        self.meta: list[list[object]] = []
        self.memo: dict[int, object] = {}
        self.ext = {}
        self.items = self.ops = 0
        self.res = StreamResult(start=start)
        self.table = self._table()

    def spawn(self, start: int) -> StreamResult:
        return _Machine(self.buf, start, self.budget, self.joblib, self.inline_depth + 1).run()

    # -- reading -------------------------------------------------------------------------------
    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.size:
            raise StreamBreak(self.pos, f"truncated: needs {n} bytes")
        data = self.buf[self.pos:self.pos + n]
        self.pos += n
        return bytes(data)

    def skip(self, n: int) -> BytesRef:
        if n < 0 or self.pos + n > self.size:
            raise StreamBreak(self.pos, f"truncated: needs {n} bytes")
        ref = BytesRef(self.pos, n)
        self.pos += n
        return ref

    def line(self) -> bytes:
        end = self.buf.find(b"\n", self.pos, min(self.size, self.pos + (1 << 20)))
        if end < 0:
            raise StreamBreak(self.pos, "truncated: missing end of line")
        data = bytes(self.buf[self.pos:end])
        self.pos = end + 1
        return data

    def u(self, n: int) -> int:
        return int.from_bytes(self.take(n), "little")

    # -- stack ---------------------------------------------------------------------------------
    def push(self, v: object) -> None:
        self.stack.append(v)
        if len(self.stack) + len(self.meta) > self.budget.max_stack:
            raise BudgetExceeded("stack size")

    def pop(self, at: int) -> object:
        if not self.stack:
            raise StreamBreak(at, "stack underflow")
        return self.stack.pop()

    def top(self, at: int) -> object:
        if not self.stack:
            raise StreamBreak(at, "stack underflow")
        return self.stack[-1]

    def pop_mark(self, at: int) -> list[object]:
        if not self.meta:
            raise StreamBreak(at, "MARK missing")
        items = self.stack
        self.stack = self.meta.pop()
        self.items += len(items)
        if self.items > self.budget.max_items:
            raise BudgetExceeded("container items")
        return items

    def put(self, key: int, at: int) -> None:
        self.memo[key] = self.top(at)
        if len(self.memo) > self.budget.max_memo:
            raise BudgetExceeded("memo size")

    def get(self, key: int, at: int) -> None:
        if key not in self.memo:
            raise StreamBreak(at, f"memo key {key} missing")
        self.push(self.memo[key])

    # -- opcodes ---------------------------------------------------------------------------------
    def _table(self) -> dict[int, Callable[[int], object]]:
        p, u, take, line = self.push, self.u, self.take, self.line

        def text(n: int) -> Callable[[int], object]:
            def op(at: int) -> None:
                size = u(n)
                p(take(size).decode("utf-8", "surrogatepass") if size <= _SMALL
                  else self.skip(size))
            return op

        def binary(n: int) -> Callable[[int], object]:
            def op(at: int) -> None:
                size = u(n)
                p(take(size) if size <= _SMALL else self.skip(size))
            return op

        def tuple_n(n: int) -> Callable[[int], object]:
            def op(at: int) -> None:
                if len(self.stack) < n:
                    raise StreamBreak(at, "stack underflow")
                top = tuple(self.stack[-n:])
                del self.stack[-n:]
                p(top)
            return op

        def memo_get(n: int) -> Callable[[int], object]:
            return lambda at: self.get(int(line()) if n == 0 else u(n), at)

        def memo_put(n: int) -> Callable[[int], object]:
            return lambda at: self.put(int(line()) if n == 0 else u(n), at)

        def ext(n: int) -> Callable[[int], object]:
            return lambda at: self.op_ext(at, u(n), n)

        table: dict[str, Callable[[int], object]] = {
            "\x80": self.op_proto, "\x95": lambda at: take(8), "(": self.op_mark,
            "0": self.pop, "1": self.pop_mark, "2": lambda at: p(self.top(at)),
            "N": lambda at: p(None), "\x88": lambda at: p(True), "\x89": lambda at: p(False),
            "K": lambda at: p(u(1)), "M": lambda at: p(u(2)),
            "J": lambda at: p(int.from_bytes(take(4), "little", signed=True)),
            "\x8a": lambda at: p(int.from_bytes(take(u(1)), "little", signed=True)),
            "\x8b": self.op_long4, "I": self.op_int, "L": lambda at: p(int(line().rstrip(b"L"))),
            "F": lambda at: p(float(line())), "G": lambda at: p(struct.unpack(">d", take(8))[0]),
            "S": self.op_string, "V": lambda at: p(line().decode("raw-unicode-escape")),
            "T": self.op_binstring, "U": self.op_binstring,
            "X": text(4), "\x8c": text(1), "\x8d": text(8),
            "B": binary(4), "C": binary(1), "\x8e": binary(8), "\x96": binary(8),
            ")": lambda at: p(()), "]": lambda at: p(SymList()), "}": lambda at: p(SymDict()),
            "\x8f": lambda at: p(SymList()), "t": lambda at: p(tuple(self.pop_mark(at))),
            "\x85": tuple_n(1), "\x86": tuple_n(2), "\x87": tuple_n(3),
            "l": lambda at: p(SymList(self.pop_mark(at))),
            "\x91": lambda at: p(SymList(self.pop_mark(at))), "d": self.op_dict,
            "a": self.op_append, "e": self.op_appends, "\x90": self.op_appends,
            "s": self.op_setitem, "u": self.op_setitems,
            "g": memo_get(0), "h": memo_get(1), "j": memo_get(4),
            "p": memo_put(0), "q": memo_put(1), "r": memo_put(4),
            "\x94": lambda at: self.put(len(self.memo), at),
            "c": lambda at: p(self.text_named(line().decode(), line().decode(), at, "GLOBAL")),
            "\x93": self.op_stack_global, "i": self.op_inst, "o": self.op_obj,
            "R": lambda at: self.op_call(at, "REDUCE"),
            "\x81": lambda at: self.op_call(at, "NEWOBJ"),
            "\x92": self.op_newobj_ex, "b": self.op_build,
            "\x82": ext(1), "\x83": ext(2), "\x84": ext(4),
            "P": self.op_persid, "Q": self.op_persid,
            "\x97": lambda at: p(Opaque("out-of-band buffer")), "\x98": self.top,
        }
        return {ord(k): v for k, v in table.items()}

    def op_proto(self, at: int) -> None:
        proto = self.u(1)
        if proto > 5:
            raise StreamBreak(at, f"unsupported protocol {proto}")
        self.res.proto = max(self.res.proto, proto)

    def op_mark(self, at: int) -> None:
        self.meta.append(self.stack)
        self.stack = []
        if len(self.meta) > self.budget.max_stack:
            raise BudgetExceeded("stack size")

    def op_long4(self, at: int) -> None:
        n = int.from_bytes(self.take(4), "little", signed=True)
        if n < 0 or n > _SMALL:
            raise StreamBreak(at, "LONG4 length out of range")
        self.push(int.from_bytes(self.take(n), "little", signed=True))

    def op_int(self, at: int) -> None:
        text = self.line()
        self.push(True if text == b"01" else False if text == b"00" else int(text))

    def op_string(self, at: int) -> None:
        text = self.line()
        if len(text) < 2 or text[:1] not in b"'\"" or text[-1:] != text[:1]:
            raise StreamBreak(at, "STRING argument is not quoted")
        self.push(codecs.escape_decode(text[1:-1])[0].decode("latin-1"))

    def op_binstring(self, at: int) -> None:
        n = int.from_bytes(self.take(4 if self.buf[at] == 0x54 else 1), "little", signed=True)
        self.push(self.take(n).decode("latin-1"))

    def op_dict(self, at: int) -> None:
        items = self.pop_mark(at)
        self.push(SymDict(list(zip(items[::2], items[1::2], strict=False))))

    def op_append(self, at: int) -> None:
        item = self.pop(at)
        target = self.top(at)
        if isinstance(target, SymList):
            target.items.append(item)
            self.items += 1

    def op_appends(self, at: int) -> None:
        items = self.pop_mark(at)
        target = self.top(at)
        if isinstance(target, SymList):
            target.items.extend(items)

    def op_setitem(self, at: int) -> None:
        value = self.pop(at)
        key = self.pop(at)
        target = self.top(at)
        if isinstance(target, SymDict):
            target.pairs.append((key, value))
            self.items += 1

    def op_setitems(self, at: int) -> None:
        items = self.pop_mark(at)
        target = self.top(at)
        if isinstance(target, SymDict):
            target.pairs.extend(zip(items[::2], items[1::2], strict=False))

    def op_stack_global(self, at: int) -> None:
        name = self.pop(at)
        module = self.pop(at)
        if isinstance(module, str) and isinstance(name, str):
            self.push(self.named(module, name, at, "STACK_GLOBAL"))
        else:
            self.res.unresolved.append((at, "STACK_GLOBAL", f"module {describe(module)}, "
                                        f"name {describe(name)}"))
            self.push(Opaque("unresolved global"))

    def op_inst(self, at: int) -> None:
        ref = self.text_named(self.line().decode(), self.line().decode(), at, "INST")
        self.push(self.invoke(ref, tuple(self.pop_mark(at)), at, "INST"))

    def op_obj(self, at: int) -> None:
        items = self.pop_mark(at)
        if not items:
            raise StreamBreak(at, "OBJ without a class")
        self.push(self.invoke(items[0], tuple(items[1:]), at, "OBJ"))

    def op_call(self, at: int, opcode: str) -> None:
        args = self.pop(at)
        func = self.pop(at)
        self.push(self.invoke(func, args, at, opcode))

    def op_newobj_ex(self, at: int) -> None:
        kwargs = self.pop(at)
        args = self.pop(at)
        cls = self.pop(at)
        self.push(self.invoke(cls, args, at, "NEWOBJ_EX", kwargs))

    def op_build(self, at: int) -> None:
        state = self.pop(at)
        self.build(self.top(at), state, at)

    def op_ext(self, at: int, code: int, width: int) -> None:
        target = self.ext.get(code)
        self.res.extensions.append((at, code, target))
        if target is None:
            self.push(Opaque(f"extension code {code}"))
        else:
            module, _, name = target.partition(".")
            self.push(self.named(module, name, at, f"EXT{width}"))

    def op_persid(self, at: int) -> None:
        if self.buf[at] == 0x50:
            self.line()
        else:
            self.pop(at)
        self.res.persids += 1
        self.push(Opaque("persistent id"))

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> StreamResult:
        res = self.res
        try:
            self._loop()
        except StreamBreak as exc:
            res.brk = exc
        except BudgetExceeded as exc:
            res.incomplete = str(exc)
        except (ValueError, OverflowError, UnicodeDecodeError, struct.error, MemoryError,
                RecursionError) as exc:
            res.brk = StreamBreak(self.pos, f"undecodable argument: {type(exc).__name__}")
        res.end = self.pos
        res.ops = self.ops
        return res

    def _loop(self) -> None:
        buf, size, table, budget = self.buf, self.size, self.table, self.budget
        while True:
            at = self.pos
            if at >= size:
                raise StreamBreak(at, "end of data before STOP")
            op = buf[at]
            self.pos = at + 1
            self.ops += 1
            if not self.ops & _CHECK_EVERY:
                if self.ops > budget.max_ops:
                    raise BudgetExceeded("opcode count")
                if time.monotonic() > budget.deadline:
                    raise BudgetExceeded("time")
                if self.items > budget.max_items:
                    raise BudgetExceeded("container items")
            if op == _STOP:
                self.res.result = self.stack[-1] if self.stack else None
                self.res.stopped = True
                return
            handler = table.get(op)
            if handler is None:
                raise StreamBreak(at, f"invalid opcode 0x{op:02x}")
            handler(at)


def run_stream(buf: Buf, start: int = 0, budget: VMBudget | None = None,
               joblib: bool = True) -> StreamResult:
    """Simulate the pickle stream at ``buf[start:]`` (see the module docstring)."""
    return _Machine(buf, start, budget or VMBudget(), joblib).run()


OPCODES: frozenset[int] = frozenset(_Machine(b"", 0, VMBudget(), False).table) | {_STOP}
"""Every opcode byte the machine (and the unpickler) accepts, any protocol: the unpickler needs no
PROTO header, so a stream may start with any of them."""
