"""Turn simulated pickle streams into findings; follow stacked streams and nested pickles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.models.callables import Verdict, is_nested_loader, judge
from secpipe.scanners.models.pickle_values import BytesRef, Call, Opaque, Ref, SymDict, SymList
from secpipe.scanners.models.pickle_vm import Buf, StreamResult, VMBudget, run_stream
from secpipe.scanners.models.report import Collector, Where

TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_MAX_STREAMS = 64

NestedFn = Callable[[bytes, Where], None]
"""Callback that scans a nested blob (pickle, zip …) found inside a stream."""


@dataclass(frozen=True)
class PickleOptions:
    """How to judge and bound the analysis."""

    allow: frozenset[str] = frozenset()
    """Extra allowlisted ``module.name`` callables."""
    budget: VMBudget = field(default_factory=VMBudget)
    """Bounds of one stream."""
    max_nested_bytes: int = 256 << 20
    """Largest nested pickle copied out of a stream for a recursive scan."""


TRIAL_OPS = 100_000
"""Opcodes of the trial decode that types a protocol 0/1 stream (which has no magic)."""

_CUT = ("end of data", "truncated")
"""Reasons a stream breaks when its bytes end too early (a head cut out of a longer blob)."""


def looks_like_pickle(buf: Buf, start: int = 0, budget: VMBudget | None = None, *,
                      plain: bool = True) -> bool:
    """Whether the bytes at ``start`` may be a pickle, so the full (bounded) machine must judge
    them: a PROTO header, a trial decode that reaches STOP or names a global, or one that runs
    out of its budget still decoding (undecided is never "not a pickle"). Not ``plain`` (a first
    byte ``pickle.dumps`` never writes), only a stream that imports or calls something counts: text
    that happens to decode up to a ``.`` is not a model, and could not run anything anyway."""
    if start < len(buf) and buf[start] == 0x80 and start + 1 < len(buf) and buf[start + 1] <= 5:
        return True
    res = run_stream(buf, start, budget or VMBudget(max_ops=TRIAL_OPS))
    acts = bool(res.imports or res.unresolved or res.extensions or res.calls or res.persids)
    if res.incomplete is not None or (res.evidence and (plain or acts)):
        return True
    # a head cut out of a longer member: many valid opcodes up to the cut count as a pickle
    return plain and res.brk is not None and res.ops >= 64 and res.brk.reason.startswith(_CUT)


def pickle_head_undecided(head: Buf) -> bool:
    """Whether ``head``, the first bytes of a longer blob, decodes as pickle opcodes up to the
    cut (or past the trial budget): only the whole blob can tell."""
    res = run_stream(head, 0, VMBudget(max_ops=TRIAL_OPS))
    return res.incomplete is not None or (res.brk is not None and res.brk.reason.startswith(_CUT))


def scan_pickles(buf: Buf, where: Where, coll: Collector, opts: PickleOptions,
                 nested: NestedFn, *, start: int = 0, force: bool = False) -> bool:
    """Analyse every pickle stream stacked at ``buf[start:]``; return whether it was a pickle.

    Without ``force``, bytes that do not decode as a pickle are left alone (no finding); bytes
    the machine could not finish deciding (a budget ran out) are a pickle, and the budget hit is
    a finding.
    """
    first = run_stream(buf, start, opts.budget)
    if not first.evidence and first.incomplete is None and not force and not (
            start + 1 < len(buf) and buf[start] == 0x80 and buf[start + 1] <= 5):
        return False
    coll.formats.add(where.fmt or "pickle")
    coll.pickle_streams += 1
    legacy = first.stopped and first.result == TORCH_LEGACY_MAGIC
    if legacy:
        where = where.typed("pytorch-legacy")
    stream, count = first, 0
    while True:
        report_stream(stream, buf, where, coll, opts, nested)
        count += 1
        if not stream.stopped or stream.end >= len(buf):
            break
        if legacy and count >= 5:  # magic, protocol, sys_info, main pickle, storage keys
            break  # the rest is raw storage bytes
        if count >= _MAX_STREAMS:
            coll.incomplete(where, f"more than {_MAX_STREAMS} stacked pickle streams",
                            stream.end)
            break
        nxt = run_stream(buf, stream.end, opts.budget)
        if not nxt.evidence and nxt.incomplete is None:  # undecided: reported as a stream
            if any(b not in b"\r\n\t \x00" for b in bytes(buf[stream.end:stream.end + 4096])):
                coll.add("models.pickle.trailing-data", Severity.LOW, where,
                         f"{len(buf) - stream.end} bytes follow the end of the pickle stream "
                         "and do not decode as another pickle", offset=stream.end)
            break
        stream = nxt
    return True


def report_stream(res: StreamResult, buf: Buf, where: Where, coll: Collector,
                  opts: PickleOptions, nested: NestedFn) -> None:
    """Report what one stream (and the inline streams it carries) would do when loaded."""
    flagged = 0
    for ref, opcode in res.imports:
        flagged += _judge_ref(ref, opcode, where, coll, opts)
    for at, opcode, what in res.unresolved:
        flagged += 1
        coll.add("models.pickle.unresolved-name", Severity.HIGH, where,
                 f"{opcode} takes its global from values computed at load time ({what}); the "
                 "imported callable cannot be known without running the file", offset=at,
                 key=f"unresolved@{at}", props={"opcode": opcode})
    for at, code, target in res.extensions:
        if target is None:
            flagged += 1
            coll.add("models.pickle.unknown-extension", Severity.HIGH, where,
                     f"extension code {code} names a callable through copyreg's extension "
                     "registry, which nothing registered in this file", offset=at,
                     key=f"ext{code}", props={"code": str(code)})
    for at, what in res.setstate:
        flagged += 1
        coll.add("models.pickle.setstate-injection", Severity.HIGH, where,
                 f"BUILD {what}", offset=at, key=f"setstate@{at}")
    for call in res.calls:
        if not isinstance(call.func, Ref) and not (
                isinstance(call.func, Opaque) and call.func.what != "persistent id"):
            flagged += 1
            coll.add("models.pickle.dynamic-call", Severity.HIGH, where,
                     f"{call.opcode} calls a value computed at load time "
                     f"({_describe_func(call.func)})", offset=call.offset,
                     key=f"dyn@{call.offset}", props={"opcode": call.opcode})
        callee = call.callee
        if callee is not None and is_nested_loader(callee):
            for i, blob in enumerate(_bytes_args(call.args, buf, opts.max_nested_bytes)):
                inner = where.inner(f"{callee}@{call.offset}" + (f"#{i}" if i else ""))
                nested(blob, inner)
    for sub in res.nested_inline:
        report_stream(sub, buf, where, coll, opts, nested)
    if res.brk is not None:
        sev = Severity.HIGH if flagged else Severity.MEDIUM
        coll.add("models.pickle.broken-stream", sev, where,
                 f"pickle stream breaks at byte {res.brk.offset}: {res.brk.reason}"
                 + ("; the loader has already executed the opcodes before it" if flagged else ""),
                 offset=res.brk.offset, key=f"break@{res.brk.offset}",
                 props={"reason": res.brk.reason})
    if res.incomplete is not None:
        coll.incomplete(where, f"pickle budget exhausted ({res.incomplete})", res.end)


def _judge_ref(ref: Ref, opcode: str, where: Where, coll: Collector, opts: PickleOptions) -> int:
    j = judge(ref.full, opts.allow)
    if j.verdict is Verdict.SAFE:
        return 0
    props = {"callable": ref.full, "opcode": opcode}
    if j.verdict is Verdict.DANGEROUS:
        coll.add("models.pickle.dangerous-callable", Severity.CRITICAL, where,
                 f"loading imports {ref.full} ({j.reason}) via {opcode} at byte {ref.offset}",
                 offset=ref.offset, key=ref.full, props=props, evidence=ref.full)
    else:
        coll.add("models.pickle.unknown-callable", Severity.MEDIUM, where,
                 f"loading imports {ref.full} via {opcode} at byte {ref.offset}; it is not on "
                 "the allowlist of callables ordinary models need", offset=ref.offset,
                 key=ref.full, props=props, evidence=ref.full, confidence=Confidence.MEDIUM)
    return 1


def _describe_func(func: object) -> str:
    if isinstance(func, Call):
        return f"the result of {func.callee or 'a computed call'}"
    if isinstance(func, Opaque):
        return func.what
    return type(func).__name__


def _bytes_args(value: object, buf: Buf, limit: int, depth: int = 0) -> list[bytes]:
    """Bytes values inside a call's arguments (through tuples, lists and BytesIO-like calls)."""
    if depth > 4:
        return []
    if isinstance(value, bytes):
        return [value] if len(value) >= 2 else []
    if isinstance(value, BytesRef):
        return [bytes(buf[value.start:value.start + min(value.length, limit)])]
    items: list[object] = []
    if isinstance(value, tuple):
        items = list(value)
    elif isinstance(value, SymList):
        items = value.items
    elif isinstance(value, SymDict):
        items = [v for _, v in value.pairs]
    elif isinstance(value, Call):
        items = [value.args]
    out: list[bytes] = []
    for item in items[:16]:
        out.extend(_bytes_args(item, buf, limit, depth + 1))
    return out
