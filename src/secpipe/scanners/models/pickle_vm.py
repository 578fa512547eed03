"""A static pickle machine: simulates protocols 0-5 without importing or calling anything.

:func:`run_stream` walks one pickle stream opcode by opcode with the unpickler's stack, metastack
(MARK), memo and extension registry, but every global is a :class:`~.pickle_values.Ref` name and
every call a :class:`~.pickle_values.Call` record. The result lists every global loading would
import and every callable it would invoke, each with the byte offset of its opcode. A stream that
breaks (truncated, bad opcode, stack underflow, no STOP) is analysed up to the break and the break
is reported. Work is bounded in opcodes, stack, memo, container items and wall-clock time.
"""

from __future__ import annotations

import mmap
import re
import struct
import time
from dataclasses import dataclass, field

from secpipe.scanners.models.pickle_values import (
    BytesRef,
    Call,
    Opaque,
    Ref,
    SymDict,
    SymList,
    describe,
)

Buf = bytes | mmap.mmap
"""What a stream is read from: bytes in memory or a memory-mapped file (never copied whole)."""

_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg", "cPickle": "pickle",
                "exceptions": "builtins", "UserDict": "collections", "commands": "subprocess"}
"""The unpickler's protocol < 3 module renames (``fix_imports``) that matter for judging."""

_SMALL_BYTES = 1 << 16
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_<>][A-Za-z0-9_<>]*)*$")
_MAX_INLINE_DEPTH = 8
"""Bytes values up to this size are copied; larger ones stay :class:`BytesRef`."""


class StreamBreak(Exception):
    """The stream cannot be decoded further at ``offset``."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


class BudgetExceeded(Exception):
    """A budget (opcodes, stack, memo, items, time) ran out."""


@dataclass(frozen=True)
class VMBudget:
    """Bounds of one stream's simulation."""

    max_ops: int = 20_000_000
    """Opcodes."""
    max_stack: int = 1_000_000
    """Stack depth (metastack included)."""
    max_memo: int = 1_000_000
    """Memo entries."""
    max_items: int = 5_000_000
    """Container items kept symbolically."""
    deadline: float = float("inf")
    """``time.monotonic()`` after which the walk stops."""


@dataclass
class StreamResult:
    """What one pickle stream would do when loaded."""

    start: int
    """Offset of its first byte."""
    end: int = 0
    """Offset just after STOP (or of the break)."""
    proto: int = 0
    """Highest PROTO seen (0 when none)."""
    ops: int = 0
    """Opcodes walked."""
    stopped: bool = False
    """Whether STOP was reached."""
    brk: StreamBreak | None = None
    """Why decoding stopped early."""
    incomplete: str | None = None
    """Which budget ran out, when one did."""
    imports: list[tuple[Ref, str]] = field(default_factory=list)
    """Every global named, with the opcode (or the resolved call) that named it."""
    calls: list[Call] = field(default_factory=list)
    """Every invocation, in stream order."""
    unresolved: list[tuple[int, str, str]] = field(default_factory=list)
    """(offset, opcode, description) of globals whose names are not constant strings."""
    extensions: list[tuple[int, int, str | None]] = field(default_factory=list)
    """(offset, code, resolved name) of EXT opcodes."""
    setstate: list[tuple[int, str]] = field(default_factory=list)
    """(offset, description) of BUILD states that set special attributes."""
    result: object = None
    """The value STOP returned (symbolic)."""
    persids: int = 0
    """Persistent ids loaded (torch storages)."""
    inline: list[tuple[int, int]] = field(default_factory=list)
    """(offset, length) of raw data skipped inside the stream (joblib arrays)."""
    nested_inline: list[StreamResult] = field(default_factory=list)
    """Pickles embedded inline (joblib object arrays)."""

    @property
    def evidence(self) -> bool:
        """Whether this is a real pickle: it reached STOP after real work, or it calls a global,
        or it assembles a global's name (text that merely starts with an opcode is not)."""
        return (self.stopped and self.ops >= 2) or bool(self.unresolved) or any(
            isinstance(c.func, Ref) for c in self.calls)


def _itemsize(code: str, state: object) -> int | None:
    """Bytes per element of a NumPy dtype given by its constructor string ('f8', '<i4', 'O8')."""
    text = code.lstrip("<>=|")
    if not text:
        return None
    kind, digits = text[0], text[1:]
    if kind == "O":
        return 0
    if isinstance(state, tuple) and len(state) > 5 and isinstance(state[5], int) and state[5] > 0:
        return state[5]
    if not digits.isdigit():
        return {"b": 1, "B": 1, "?": 1, "h": 2, "H": 2, "e": 2, "f": 4, "d": 8, "g": 16,
                "i": 4, "l": 8, "q": 8, "I": 4, "L": 8, "Q": 8}.get(kind)
    n = int(digits)
    return n * 4 if kind == "U" else n


class _Machine:
    """One run of the simulated unpickler over ``buf[start:]``."""

    def __init__(self, buf: Buf, start: int, budget: VMBudget, joblib: bool,
                 inline_depth: int = 0) -> None:
        self.buf = buf
        self.pos = start
        self.size = len(buf)
        self.budget = budget
        self.joblib = joblib
        self.stack: list[object] = []
        self.meta: list[list[object]] = []
        self.memo: dict[int, object] = {}
        self.ext: dict[int, str] = {}
        self.items = 0
        self.ops = 0
        self.inline_depth = inline_depth
        self.res = StreamResult(start=start)

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

    def pop_mark(self, at: int) -> list[object]:
        if not self.meta:
            raise StreamBreak(at, "MARK missing")
        items = self.stack
        self.stack = self.meta.pop()
        return items

    def count(self, n: int) -> None:
        self.items += n
        if self.items > self.budget.max_items:
            raise BudgetExceeded("container items")

    def top(self, at: int) -> object:
        if not self.stack:
            raise StreamBreak(at, "stack underflow")
        return self.stack[-1]

    def put(self, key: int, at: int) -> None:
        self.memo[key] = self.top(at)
        if len(self.memo) > self.budget.max_memo:
            raise BudgetExceeded("memo size")

    def get(self, key: int, at: int) -> None:
        if key not in self.memo:
            raise StreamBreak(at, f"memo key {key} missing")
        self.push(self.memo[key])

    # -- symbolic semantics ----------------------------------------------------------------------
    def text_global(self, at: int, opcode: str) -> Ref:
        """GLOBAL / INST: two text lines naming a module and an attribute."""
        module = self.line().decode("utf-8")
        name = self.line().decode("utf-8")
        if not (_IDENT.match(module) and _IDENT.match(name)):
            raise StreamBreak(at, f"{opcode} names an invalid module or attribute")
        return self.named(module, name, at, opcode)

    def named(self, module: str, name: str, at: int, opcode: str) -> Ref:
        if self.res.proto < 3:
            module = _PY2_MODULES.get(module, module)
        ref = Ref(module, name, at)
        self.res.imports.append((ref, opcode))
        return ref

    def invoke(self, func: object, args: object, at: int, opcode: str,
               kwargs: object = None) -> object:
        call = Call(func, args, at, opcode, kwargs=kwargs)
        self.res.calls.append(call)
        name = call.callee
        argv = args if isinstance(args, tuple) else ()
        if name in ("builtins.getattr", "__builtin__.getattr") and len(argv) >= 2 \
                and isinstance(argv[1], str):
            base = _module_of(argv[0])
            if base is not None:
                return self.named(base[0], f"{base[1]}.{argv[1]}" if base[1] else argv[1], at,
                                  "getattr")
        if name is not None and name.endswith("._ufunc_reconstruct") and len(argv) == 2 \
                and isinstance(argv[0], str) and isinstance(argv[1], str):
            self.named(argv[0], argv[1], at, "ufunc")
        if name == "pkgutil.resolve_name" and argv and isinstance(argv[0], str):
            mod, _, attr = argv[0].partition(":")
            if attr:
                return self.named(mod, attr, at, "resolve_name")
        if name == "copyreg.add_extension" and len(argv) == 3 and isinstance(argv[2], int) \
                and isinstance(argv[0], str) and isinstance(argv[1], str):
            self.ext[argv[2]] = f"{argv[0]}.{argv[1]}"
        if name in ("_codecs.encode", "codecs.encode") and argv and isinstance(argv[0], str):
            enc = argv[1] if len(argv) > 1 and isinstance(argv[1], str) else "utf-8"
            if enc.replace("-", "").replace("_", "").lower() in ("latin1", "iso88591"):
                try:
                    return argv[0].encode("latin-1")
                except UnicodeEncodeError:
                    return call
        return call

    def build(self, at: int) -> None:
        state = self.pop(at)
        obj = self.top(at)
        for part in (state if isinstance(state, tuple) else (state,)):
            if isinstance(part, SymDict):
                for k, v in part.pairs:
                    if isinstance(k, str) and k.startswith("__") and k.endswith("__"):
                        self.res.setstate.append((at, f"sets {k} = {describe(v)}"))
        if isinstance(obj, Call):
            obj.state = state
            if obj.callee in ("functools.partial",) and isinstance(state, tuple) and state:
                self.res.calls.append(Call(obj.func, (state[0],), at, "BUILD"))
            if self.joblib and obj.callee is not None and obj.callee.endswith(
                    "numpy_pickle.NumpyArrayWrapper"):
                self.joblib_array(obj, state, at)

    def joblib_array(self, obj: Call, state: object, at: int) -> None:
        """Skip the raw array bytes joblib writes right after a NumpyArrayWrapper's BUILD."""
        if not isinstance(state, SymDict):
            raise StreamBreak(at, "joblib array wrapper without a state dict")
        shape, dtype = state.get("shape"), state.get("dtype")
        code = None
        if isinstance(dtype, Call) and isinstance(dtype.args, tuple) and dtype.args \
                and isinstance(dtype.args[0], str):
            code = dtype.args[0]
        if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape) \
                or code is None:
            raise StreamBreak(at, "joblib array of unknown shape or dtype")
        size = _itemsize(code, dtype.state if isinstance(dtype, Call) else None)
        if size is None:
            raise StreamBreak(at, f"joblib array of unsupported dtype {code!r}")
        if size == 0:  # object array: joblib pickles it inline, right here
            if self.inline_depth >= _MAX_INLINE_DEPTH:
                raise BudgetExceeded("joblib object arrays nested too deeply")
            inner = _Machine(self.buf, self.pos, self.budget, self.joblib, self.inline_depth + 1)
            sub = inner.run()
            self.res.nested_inline.append(sub)
            if not sub.stopped:
                raise StreamBreak(self.pos, "joblib object array stream is broken")
            self.pos = sub.end
            return
        if state.get("numpy_array_alignment_bytes") is not None:
            pad = self.u(1)
            self.take(pad) if pad <= 64 else self.skip(pad)
        count = 1
        for d in shape:
            count *= d
        start = self.pos
        self.skip(count * size)
        self.res.inline.append((start, count * size))

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
        res, budget = self.res, self.budget
        while True:
            at = self.pos
            if at >= self.size:
                raise StreamBreak(at, "end of data before STOP")
            op = self.buf[at]
            self.pos += 1
            self.ops += 1
            if self.ops & 0x3FFF == 0:
                if self.ops > budget.max_ops:
                    raise BudgetExceeded("opcode count")
                if time.monotonic() > budget.deadline:
                    raise BudgetExceeded("time")
            c = chr(op)
            if c == ".":
                res.result = self.stack[-1] if self.stack else None
                res.stopped = True
                return
            if c == "\x80":
                p = self.u(1)
                if p > 5:
                    raise StreamBreak(at, f"unsupported protocol {p}")
                res.proto = max(res.proto, p)
            elif c == "\x95":
                self.u(8)
            elif c == "(":
                self.meta.append(self.stack)
                self.stack = []
                if len(self.meta) > budget.max_stack:
                    raise BudgetExceeded("stack size")
            elif c == "0":
                self.pop(at)
            elif c == "1":
                self.pop_mark(at)
            elif c == "2":
                self.push(self.top(at))
            elif c == "N":
                self.push(None)
            elif c == "\x88":
                self.push(True)
            elif c == "\x89":
                self.push(False)
            elif c == "K":
                self.push(self.u(1))
            elif c == "M":
                self.push(self.u(2))
            elif c == "J":
                self.push(int.from_bytes(self.take(4), "little", signed=True))
            elif c == "\x8a":
                self.push(int.from_bytes(self.take(self.u(1)), "little", signed=True))
            elif c == "\x8b":
                n = int.from_bytes(self.take(4), "little", signed=True)
                if n < 0 or n > 1 << 16:
                    raise StreamBreak(at, "LONG4 length out of range")
                self.push(int.from_bytes(self.take(n), "little", signed=True))
            elif c == "I":
                text = self.line()
                self.push(True if text == b"01" else False if text == b"00" else int(text))
            elif c == "L":
                self.push(int(self.line().rstrip(b"L")))
            elif c == "F":
                self.push(float(self.line()))
            elif c == "G":
                self.push(struct.unpack(">d", self.take(8))[0])
            elif c in "SV":
                text = self.line()
                if c == "S":
                    if len(text) < 2 or text[:1] not in b"'\"" or text[-1:] != text[:1]:
                        raise StreamBreak(at, "STRING argument is not quoted")
                    self.push(text[1:-1].decode("latin-1"))
                else:
                    self.push(text.decode("raw-unicode-escape"))
            elif c in "TU":
                n = int.from_bytes(self.take(4 if c == "T" else 1), "little", signed=True)
                self.push(self.take(n).decode("latin-1"))
            elif c in "X\x8c\x8d":
                n = self.u({"X": 4, "\x8c": 1, "\x8d": 8}[c])
                self.push(self.take(n).decode("utf-8", "surrogatepass") if n <= _SMALL_BYTES
                          else self.skip(n))
            elif c in "BC\x8e\x96":
                n = self.u({"B": 4, "C": 1, "\x8e": 8, "\x96": 8}[c])
                self.push(self.take(n) if n <= _SMALL_BYTES else self.skip(n))
            elif c in ")]}\x8f":
                self.push(() if c == ")" else SymDict() if c == "}" else SymList())
            elif c in "t\x85\x86\x87":
                if c == "t":
                    self.push(tuple(self.pop_mark(at)))
                else:
                    n = "\x85\x86\x87".index(c) + 1
                    if len(self.stack) < n:
                        raise StreamBreak(at, "stack underflow")
                    top = tuple(self.stack[-n:])
                    del self.stack[-n:]
                    self.push(top)
            elif c in "l\x91":
                items = self.pop_mark(at)
                self.count(len(items))
                self.push(SymList(items))
            elif c == "d":
                items = self.pop_mark(at)
                self.count(len(items))
                self.push(SymDict(list(zip(items[::2], items[1::2], strict=False))))
            elif c in "ae\x90":
                items = [self.pop(at)] if c == "a" else self.pop_mark(at)
                target = self.top(at)
                self.count(len(items))
                if isinstance(target, SymList):
                    target.items.extend(items)
            elif c in "su":
                if c == "s":
                    v = self.pop(at)
                    items = [self.pop(at), v]
                else:
                    items = self.pop_mark(at)
                target = self.top(at)
                self.count(len(items))
                if isinstance(target, SymDict):
                    target.pairs.extend(zip(items[::2], items[1::2], strict=False))
            elif c in "ghj":
                key = int(self.line()) if c == "g" else self.u(1 if c == "h" else 4)
                self.get(key, at)
            elif c in "pqr":
                key = int(self.line()) if c == "p" else self.u(1 if c == "q" else 4)
                self.put(key, at)
            elif c == "\x94":
                self.put(len(self.memo), at)
            elif c == "c":
                self.push(self.text_global(at, "GLOBAL"))
            elif c == "\x93":
                name_v = self.pop(at)
                module_v = self.pop(at)
                if isinstance(module_v, str) and isinstance(name_v, str):
                    self.push(self.named(module_v, name_v, at, "STACK_GLOBAL"))
                else:
                    res.unresolved.append((at, "STACK_GLOBAL", f"module {describe(module_v)}, "
                                           f"name {describe(name_v)}"))
                    self.push(Opaque("unresolved global"))
            elif c == "i":
                ref = self.text_global(at, "INST")
                self.push(self.invoke(ref, tuple(self.pop_mark(at)), at, "INST"))
            elif c == "o":
                items = self.pop_mark(at)
                if not items:
                    raise StreamBreak(at, "OBJ without a class")
                self.push(self.invoke(items[0], tuple(items[1:]), at, "OBJ"))
            elif c in "R\x81":
                argv = self.pop(at)
                func = self.pop(at)
                self.push(self.invoke(func, argv, at, "REDUCE" if c == "R" else "NEWOBJ"))
            elif c == "\x92":
                kwargs = self.pop(at)
                argv = self.pop(at)
                func = self.pop(at)
                self.push(self.invoke(func, argv, at, "NEWOBJ_EX", kwargs))
            elif c == "b":
                self.build(at)
            elif c in "\x82\x83\x84":
                code = self.u({"\x82": 1, "\x83": 2, "\x84": 4}[c])
                target = self.ext.get(code)
                res.extensions.append((at, code, target))
                if target is not None:
                    module, _, name = target.partition(".")
                    self.push(self.named(module, name, at, f"EXT{'124'[ord(c) - 0x82]}"))
                else:
                    self.push(Opaque(f"extension code {code}"))
            elif c == "P":
                self.line()
                res.persids += 1
                self.push(Opaque("persistent id"))
            elif c == "Q":
                self.pop(at)
                res.persids += 1
                self.push(Opaque("persistent id"))
            elif c in "\x97\x98":
                if c == "\x97":
                    self.push(Opaque("out-of-band buffer"))
                else:
                    self.top(at)
            else:
                raise StreamBreak(at, f"invalid opcode 0x{op:02x}")


def _module_of(value: object) -> tuple[str, str] | None:
    """(module, attribute path) a value stands for: a global, or an imported module."""
    if isinstance(value, Ref):
        return value.module, value.name
    if isinstance(value, Call) and value.callee in (
            "builtins.__import__", "importlib.import_module", "importlib.__import__") \
            and isinstance(value.args, tuple) and value.args and isinstance(value.args[0], str):
        return value.args[0], ""
    return None


def run_stream(buf: Buf, start: int = 0, budget: VMBudget | None = None,
               joblib: bool = True) -> StreamResult:
    """Simulate the pickle stream at ``buf[start:]`` (see the module docstring)."""
    machine = _Machine(buf, start, budget or VMBudget(), joblib)
    return machine.run()
