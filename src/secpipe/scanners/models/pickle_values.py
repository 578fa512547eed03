"""Symbolic values of the static pickle machine (:mod:`.pickle_vm`).

Nothing here is ever a live object of the scanned file: a global is a name (:class:`Ref`), a call
is a record of what would be called with what (:class:`Call`), and anything the machine cannot know
without running code is :class:`Opaque`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
