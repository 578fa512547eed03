"""Symbolic values, budgets and results of the static pickle machine (:mod:`.pickle_vm`).

Nothing here is ever a live object of the scanned file: a global is a name (:class:`Ref`), a call
is a record of what would be called with what (:class:`Call`), and anything the machine cannot know
without running code is :class:`Opaque`.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass, field

Buf = bytes | mmap.mmap
"""What a stream is read from: bytes in memory or a memory-mapped file (never copied whole)."""


@dataclass(eq=False)
class Ref:
    """A global that loading would import: ``module`` + ``name`` (``name`` may be dotted)."""

    module: str
    """Module the unpickler imports."""
    name: str
    """Attribute path looked up in it."""
    offset: int
    """Byte offset of the opcode that named it."""

    @property
    def full(self) -> str:
        """``module.name``."""
        return f"{self.module}.{self.name}"


@dataclass(eq=False)
class Call:
    """The result of an invocation loading would perform (REDUCE, OBJ, INST, NEWOBJ …)."""

    func: object
    """What is called (usually a :class:`Ref`)."""
    args: object
    """The argument tuple (symbolic)."""
    offset: int
    """Byte offset of the invoking opcode."""
    opcode: str
    """Name of the invoking opcode."""
    state: object = None
    """State applied later by BUILD, when any."""
    kwargs: object = None
    """Keyword arguments (NEWOBJ_EX)."""

    @property
    def callee(self) -> str | None:
        """Dotted name of the callee when it is a plain global."""
        return self.func.full if isinstance(self.func, Ref) else None


@dataclass(eq=False)
class Opaque:
    """A value the machine cannot know statically (persistent ids, out-of-band buffers …)."""

    what: str
    """Where it came from."""


@dataclass(eq=False)
class BytesRef:
    """A bytes value too large to copy: ``length`` bytes at ``start`` of the stream's buffer."""

    start: int
    """Offset of the first byte in the buffer."""
    length: int
    """Number of bytes."""


@dataclass(eq=False)
class SymList:
    """A list (or set) built by the stream; ``items`` is bounded by the machine's budget."""

    items: list[object] = field(default_factory=list)
    """The elements, in order."""


@dataclass(eq=False)
class SymDict:
    """A dict built by the stream, kept as an ordered list of pairs (keys may be unhashable)."""

    pairs: list[tuple[object, object]] = field(default_factory=list)
    """Key/value pairs in insertion order."""

    def get(self, key: str) -> object:
        """The last value stored under a string key, or None."""
        found: object = None
        for k, v in self.pairs:
            if k == key:
                found = v
        return found

    def has(self, key: str) -> bool:
        return any(k == key for k, _ in self.pairs)


class _Mark:
    """The MARK sentinel on the stack."""

    def __repr__(self) -> str:
        return "MARK"


MARK = _Mark()


def describe(value: object, depth: int = 0) -> str:
    """A short human description of a symbolic value (for finding messages)."""
    if depth > 3:
        return "…"
    if isinstance(value, Ref):
        return value.full
    if isinstance(value, Call):
        inner = describe(value.func, depth + 1)
        args = value.args if isinstance(value.args, tuple) else ()
        shown = ", ".join(describe(a, depth + 1) for a in args[:3])
        return f"{inner}({shown}{', …' if len(args) > 3 else ''})"
    if isinstance(value, Opaque):
        return f"<{value.what}>"
    if isinstance(value, BytesRef):
        return f"<{value.length} bytes>"
    if isinstance(value, str):
        return repr(value[:40] + ("…" if len(value) > 40 else ""))
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, SymList):
        return f"[{len(value.items)} items]"
    if isinstance(value, SymDict):
        return f"{{{len(value.pairs)} items}}"
    if isinstance(value, tuple):
        return "(" + ", ".join(describe(v, depth + 1) for v in value[:3]) + ")"
    return repr(value)[:40]


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
