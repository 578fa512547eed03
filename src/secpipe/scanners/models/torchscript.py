"""TorchScript archives (``torch.jit.save``): layout detection and the ``code/`` sources.

A TorchScript archive is a torch zip whose record holds ``constants.pkl`` next to ``code/``
(the test ``torch.load`` uses to hand a file to ``torch.jit.load``). Its pickles name
``__torch__.*`` classes compiled from ``code/`` and the identity helpers of
``torch.jit._pickle``; the pickles are judged by the pickle machine with
:data:`~.callables.TORCHSCRIPT_CLASSES` allowed (:func:`records`, :func:`is_pickle_member`).

The ``code/**.py`` sources are TorchScript, compiled by ``torch.jit.load``. They are only
*tokenized* here (never compiled, imported or run) and checked for what TorchScript's serializer
never writes: ``import`` statements of other modules, ``__import__``/``eval``/``exec``/``open``-like
builtins, attribute chains through process, interpreter or file modules (high), and
``torch.ops.<ns>`` / ``torch.classes.<ns>`` operators from namespaces outside PyTorch and its
domain libraries, which need a native library loaded first (medium).
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable

from secpipe.core.findings import Severity
from secpipe.scanners.models.pickle_values import Buf
from secpipe.scanners.models.report import Collector, Where

MAX_CODE_BYTES = 16 << 20
"""Largest ``code/`` source tokenized; a larger one is a ``models.scan-incomplete`` finding."""
MAX_TOKENS = 4_000_000

_CODE = re.compile(r"^(?:(.*)/)?code/.+\.py$")
_KNOWN_OP_NAMESPACES = frozenset([
    "aten", "prim", "prims", "quantized", "_quantized", "quantized_decomposed", "_caffe2",
    "profiler", "torchvision", "torchaudio", "torchtext", "torchrec", "fbgemm", "mkldnn",
    "mkl", "onednn", "xnnpack", "prepacked", "sparse", "_c10d_functional", "c10d",
    "c10d_functional", "_dtensor", "higher_order", "inductor", "_inductor_test", "rngprims",
    "debugprims", "quantized_ops", "_quantized_ops", "image", "vision", "torchao",
])
_UNSAFE_ROOTS = frozenset([
    "os", "posix", "nt", "subprocess", "pty", "sys", "builtins", "__builtin__", "importlib",
    "runpy", "socket", "shutil", "ctypes", "pickle", "_pickle", "marshal", "dill", "urllib",
    "http", "multiprocessing", "threading", "tempfile", "pathlib", "glob", "__builtins__",
])
_UNSAFE_NAMES = frozenset([
    "__import__", "eval", "exec", "compile", "open", "globals", "vars", "breakpoint",
    "__builtins__", "__globals__", "__subclasses__", "__code__", "__loader__", "__spec__",
])
_OK_IMPORTS = ("torch", "__torch__", "typing", "math")

def records(names: Iterable[str]) -> frozenset[str]:
    """The TorchScript records of a zip (``""`` or ``"name/"``): a ``constants.pkl`` and a
    ``code/`` folder under the same top folder."""
    names = set(names)
    out: set[str] = set()
    for name in names:
        if name == "constants.pkl" or name.endswith("/constants.pkl"):
            top = name[:-len("constants.pkl")]
            if any(n.startswith(top + "code/") for n in names):
                out.add(top)
    return frozenset(out)


def is_code_member(name: str, tops: frozenset[str]) -> bool:
    """Whether ``name`` is a TorchScript source of one of the records ``tops``."""
    m = _CODE.match(name)
    return m is not None and (m.group(1) + "/" if m.group(1) else "") in tops


def is_pickle_member(name: str, tops: frozenset[str]) -> bool:
    """Whether ``name`` is a pickle of a TorchScript record (data, constants, debug info)."""
    return any(name.startswith(t) for t in tops) and name.endswith((".pkl", ".debug_pkl"))


def _chains(text: str) -> Iterable[tuple[list[str], int, bool]]:
    """Dotted name chains (``torch.ops.ns.op``), their line, and whether the chain is the
    module an ``import`` / ``from`` keyword names."""
    chain: list[str] = []
    line, imported, next_imported, after_from = 0, False, False, False
    for count, tok in enumerate(tokenize.generate_tokens(io.StringIO(text).readline)):
        if count > MAX_TOKENS:
            raise ValueError(f"more than {MAX_TOKENS} tokens")
        if tok.type == tokenize.OP and tok.string == "." and chain and chain[-1] != ".":
            chain.append(".")
            continue
        if tok.type == tokenize.NAME and chain and chain[-1] == ".":
            chain[-1] = tok.string
            continue
        if chain:
            yield chain, line, imported
            chain = []
        if tok.type in (tokenize.NEWLINE, tokenize.NL):
            after_from = next_imported = False
        elif tok.type == tokenize.NAME and tok.string in ("import", "from"):
            next_imported = tok.string == "from" or not after_from
            after_from = tok.string == "from"
        elif tok.type == tokenize.NAME:
            chain, line, imported = [tok.string], tok.start[0], next_imported
            next_imported = False
    if chain:
        yield chain, line, imported


def scan_code(buf: Buf, where: Where, coll: Collector) -> None:
    """Tokenize one ``code/`` source (never compile it) and report what it reaches."""
    coll.formats.add("torchscript")
    if len(buf) > MAX_CODE_BYTES:
        coll.incomplete(where, f"TorchScript source larger than {MAX_CODE_BYTES} bytes")
        return
    text = bytes(buf).decode("utf-8", "replace")
    try:
        for chain, line, import_line in _chains(text):
            _judge_chain(chain, line, import_line, where, coll)
    except (tokenize.TokenError, IndentationError, SyntaxError, ValueError) as exc:
        coll.incomplete(where, f"TorchScript source could not be tokenized: {exc}")


def _judge_chain(chain: list[str], line: int, import_line: bool, where: Where,
                 coll: Collector) -> None:
    dotted = ".".join(chain)
    if import_line and chain[0] not in _OK_IMPORTS:
        _add(coll, "models.torchscript.unsafe-code", Severity.HIGH, where, line, dotted,
             f"line {line} imports {dotted!r}, which TorchScript's serializer never writes")
    elif (chain[0] in _UNSAFE_ROOTS and len(chain) > 1) or set(chain) & _UNSAFE_NAMES:
        _add(coll, "models.torchscript.unsafe-code", Severity.HIGH, where, line, dotted,
             f"line {line} uses {dotted!r}, a process, interpreter or file primitive")
    elif len(chain) > 2 and chain[0] == "torch" and chain[1] in ("ops", "classes") \
            and chain[2] not in _KNOWN_OP_NAMESPACES:
        _add(coll, "models.torchscript.custom-op", Severity.MEDIUM, where, line, dotted,
             f"line {line} calls {dotted!r}: namespace {chain[2]!r} is not PyTorch's, so "
             "loading needs a custom native operator library")


def _add(coll: Collector, rule_id: str, severity: Severity, where: Where, line: int,
         dotted: str, message: str) -> None:
    coll.add(rule_id, severity, where, message, line=line, key=f"{rule_id}:{dotted}",
             evidence=dotted, props={"format": "torchscript", "callable": dotted})
