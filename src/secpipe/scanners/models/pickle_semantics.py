"""What the static pickle machine makes of globals, calls and BUILD (symbolically).

The machine (:mod:`.pickle_vm`) decodes opcodes; this base class gives them meaning without
running anything: a global becomes a recorded :class:`~.pickle_values.Ref`; a call becomes a
:class:`~.pickle_values.Call` record, except for the few whose result matters for naming what is
imported next (``getattr`` on a module or global, ``pkgutil.resolve_name``, NumPy's
``_ufunc_reconstruct``), for ``copyreg.add_extension`` (which feeds EXT opcodes) and for
``_codecs.encode(text, 'latin1')`` (how protocols 0-2 spell bytes, so nested pickles stay
visible). BUILD states that set dunder attributes are recorded, and joblib's in-stream arrays are
skipped exactly as joblib reads them.
"""

from __future__ import annotations

import re

from secpipe.scanners.models.pickle_values import (
    BudgetExceeded,
    Buf,
    BytesRef,
    Call,
    Ref,
    StreamBreak,
    StreamResult,
    SymDict,
    VMBudget,
    describe,
)

_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg", "cPickle": "pickle",
                "exceptions": "builtins", "UserDict": "collections", "commands": "subprocess"}
"""The unpickler's protocol < 3 module renames (``fix_imports``) that matter for judging."""
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_<>][A-Za-z0-9_<>]*)*$")
MAX_INLINE_DEPTH = 8
_IMPORTERS = ("builtins.__import__", "importlib.import_module", "importlib.__import__")
_ITEMSIZES = {"b": 1, "B": 1, "?": 1, "h": 2, "H": 2, "e": 2, "f": 4, "d": 8, "g": 16, "i": 4,
              "l": 8, "q": 8, "I": 4, "L": 8, "Q": 8}


def itemsize(code: str, state: object) -> int | None:
    """Bytes per element of a NumPy dtype given by its constructor string ('f8', '<i4', 'O8');
    0 for object dtypes, None when unknown."""
    text = code.lstrip("<>=|")
    if not text:
        return None
    kind, digits = text[0], text[1:]
    if kind == "O":
        return 0
    if isinstance(state, tuple) and len(state) > 5 and isinstance(state[5], int) and state[5] > 0:
        return state[5]
    if not digits.isdigit():
        return _ITEMSIZES.get(kind)
    n = int(digits)
    return n * 4 if kind == "U" else n


def module_of(value: object) -> tuple[str, str] | None:
    """(module, attribute path) a value stands for: a global, or an imported module."""
    if isinstance(value, Ref):
        return value.module, value.name
    if isinstance(value, Call) and value.callee in _IMPORTERS and isinstance(value.args, tuple) \
            and value.args and isinstance(value.args[0], str):
        return value.args[0], ""
    return None


class Semantics:
    """Symbolic meaning of globals, calls and BUILD; the machine subclasses it."""

    buf: Buf
    pos: int
    budget: VMBudget
    joblib: bool
    inline_depth: int
    ext: dict[int, str]
    res: StreamResult

    def take(self, n: int) -> bytes:  # pragma: no cover - provided by the machine
        raise NotImplementedError

    def skip(self, n: int) -> BytesRef:  # pragma: no cover - provided by the machine
        raise NotImplementedError

    def spawn(self, start: int) -> StreamResult:  # pragma: no cover - provided by the machine
        raise NotImplementedError

    def named(self, module: str, name: str, at: int, opcode: str) -> Ref:
        """Record a global loading would import."""
        if self.res.proto < 3:
            module = _PY2_MODULES.get(module, module)
        ref = Ref(module, name, at)
        self.res.imports.append((ref, opcode))
        return ref

    def text_named(self, module: str, name: str, at: int, opcode: str) -> Ref:
        """GLOBAL / INST names, which must be identifiers (else the stream is not a pickle)."""
        if not (_IDENT.match(module) and _IDENT.match(name)):
            raise StreamBreak(at, f"{opcode} names an invalid module or attribute")
        return self.named(module, name, at, opcode)

    def invoke(self, func: object, args: object, at: int, opcode: str,
               kwargs: object = None) -> object:
        """Record a call; resolve the few whose result names the next import."""
        call = Call(func, args, at, opcode, kwargs=kwargs)
        self.res.calls.append(call)
        name = call.callee
        if name is None:
            return call
        argv = args if isinstance(args, tuple) else ()
        text = [a for a in argv if isinstance(a, str)]
        if name in ("builtins.getattr", "__builtin__.getattr") and len(argv) >= 2 \
                and isinstance(argv[1], str):
            base = module_of(argv[0])
            if base is not None:
                attr = f"{base[1]}.{argv[1]}" if base[1] else argv[1]
                return self.named(base[0], attr, at, "getattr")
        elif name.endswith("._ufunc_reconstruct") and len(argv) == 2 and len(text) == 2:
            self.named(text[0], text[1], at, "ufunc")
        elif name == "pkgutil.resolve_name" and argv and isinstance(argv[0], str):
            mod, _, attr = argv[0].partition(":")
            if attr:
                return self.named(mod, attr, at, "resolve_name")
        elif name == "copyreg.add_extension" and len(argv) == 3 and len(text) == 2 \
                and isinstance(argv[2], int):
            self.ext[argv[2]] = f"{text[0]}.{text[1]}"
        elif name in ("_codecs.encode", "codecs.encode") and argv and isinstance(argv[0], str):
            enc = argv[1] if len(argv) > 1 and isinstance(argv[1], str) else "utf-8"
            if enc.replace("-", "").replace("_", "").lower() in ("latin1", "iso88591"):
                try:
                    return argv[0].encode("latin-1")
                except UnicodeEncodeError:
                    return call
        return call

    def build(self, obj: object, state: object, at: int) -> None:
        """BUILD: ``obj.__setstate__(state)`` or a ``__dict__`` update."""
        for part in (state if isinstance(state, tuple) else (state,)):
            if isinstance(part, SymDict):
                for k, v in part.pairs:
                    if isinstance(k, str) and k.startswith("__") and k.endswith("__"):
                        self.res.setstate.append((at, f"sets {k} = {describe(v)}"))
        if isinstance(obj, Call):
            obj.state = state
            if obj.callee == "functools.partial" and isinstance(state, tuple) and state:
                self.res.calls.append(Call(obj.func, (state[0],), at, "BUILD"))
            if self.joblib and obj.callee is not None and obj.callee.endswith(
                    "numpy_pickle.NumpyArrayWrapper"):
                self.joblib_array(state, at)

    def joblib_array(self, state: object, at: int) -> None:
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
        size = itemsize(code, dtype.state if isinstance(dtype, Call) else None)
        if size is None:
            raise StreamBreak(at, f"joblib array of unsupported dtype {code!r}")
        if size == 0:  # object array: joblib pickles it inline, right here
            if self.inline_depth >= MAX_INLINE_DEPTH:
                raise BudgetExceeded("joblib object arrays nested too deeply")
            sub = self.spawn(self.pos)
            self.res.nested_inline.append(sub)
            if sub.incomplete is not None:
                raise BudgetExceeded(sub.incomplete)
            if not sub.stopped:
                raise StreamBreak(self.pos, "joblib object array stream is broken")
            self.pos = sub.end
            return
        if state.get("numpy_array_alignment_bytes") is not None:
            pad = int.from_bytes(self.take(1), "little")
            self.skip(pad)
        count = 1
        for d in shape:
            count *= d
        start = self.pos
        self.skip(count * size)
        self.res.inline.append((start, count * size))
