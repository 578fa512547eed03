"""Judging the callables a pickle would import: an allowlist and a severity ladder.

* **safe** - on the allowlist of what ordinary model files need (tensor and array rebuilders,
  container and estimator classes). Nothing is reported.
* **dangerous** - a known code-execution, file, process, network or loader primitive, a name that
  walks through object internals (a dunder component) or through a dangerous module reached by a
  dotted path. Reported **critical**.
* **unknown** - anything else. Reported **medium**, so a new bypass is never silently clean.

The allowlist is deliberately exact: a whole package is never allowed, only class names (CamelCase)
inside the estimator/layer packages that real benign files contain, plus the listed functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    """How a callable is judged."""

    SAFE = "safe"
    DANGEROUS = "dangerous"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Judgement:
    """A verdict and the reason for it."""

    verdict: Verdict
    """safe / dangerous / unknown."""
    reason: str
    """One phrase: why (``executes shell commands``, ``not on the allowlist``)."""


def _words(text: str) -> list[str]:
    return text.split()


_NUMPY_SCALARS = _words(
    "bool_ int8 int16 int32 int64 uint8 uint16 uint32 uint64 float16 float32 float64 longdouble "
    "complex64 complex128 clongdouble str_ bytes_ object_ datetime64 timedelta64 void intc uintc "
    "intp uintp longlong ulonglong half single double short ushort byte ubyte"
)
_TORCH_DTYPES = _words(
    "float float16 float32 float64 bfloat16 half double int8 int16 int32 int64 uint8 uint16 "
    "uint32 uint64 bool long int short cfloat cdouble chalf complex32 complex64 complex128 qint8 "
    "quint8 qint32 quint4x2 quint2x4 float8_e4m3fn float8_e5m2 float8_e4m3fnuz float8_e5m2fnuz "
    "strided sparse_coo sparse_csr sparse_csc sparse_bsr sparse_bsc _mkldnn contiguous_format "
    "channels_last channels_last_3d preserve_format per_tensor_affine per_channel_affine "
    "per_tensor_symmetric per_channel_symmetric per_channel_affine_float_qparams"
)
_TORCH_STORAGES = _words(
    "Float Double Half BFloat16 Long Int Short Char Byte Bool ComplexFloat ComplexDouble QInt8 "
    "QUInt8 QInt32 QUInt4x2 QUInt2x4 Untyped Typed"
)
_TORCH_REBUILD = _words(
    "_rebuild_tensor _rebuild_tensor_v2 _rebuild_tensor_v3 _rebuild_parameter "
    "_rebuild_parameter_with_state _rebuild_qtensor _rebuild_sparse_tensor "
    "_rebuild_sparse_csr_tensor _rebuild_nested_tensor _rebuild_device_tensor_from_numpy "
    "_rebuild_device_tensor_from_cpu_tensor _rebuild_meta_tensor_no_storage "
    "_rebuild_wrapper_subclass _rebuild_xla_tensor _rebuild_mlc_tensor"
)

_TORCHSCRIPT_HELPERS = _words(
    "build_intlist build_tensorlist build_doublelist build_boollist build_tensor_from_id "
    "restore_type_tag"
)
"""``torch.jit._pickle`` functions TorchScript's pickler names in ``data.pkl``, ``constants.pkl``
and ``*.debug_pkl``: each returns its first argument unchanged (the C++ unpickler uses the name
as a list-type tag), so they are harmless in any pickle. ``build_class`` (torch < 1.3), which
looked a class up in ``sys.modules``, is deliberately not here."""
_TRAINER_CLASSES = [
    "transformers.training_args.TrainingArguments",
    "transformers.training_args_seq2seq.Seq2SeqTrainingArguments",
    "transformers.training_args.OptimizerNames", "transformers.trainer_utils.IntervalStrategy",
    "transformers.trainer_utils.SchedulerType", "transformers.trainer_utils.HubStrategy",
    "transformers.trainer_utils.SaveStrategy", "transformers.trainer_utils.EvaluationStrategy",
    "transformers.debug_utils.DebugOption", "transformers.trainer_pt_utils.AcceleratorConfig",
    "accelerate.utils.dataclasses.DistributedType",
    "pytorch_lightning.utilities.parsing.AttributeDict",
    "lightning.fabric.utilities.data.AttributeDict",
    "lightning_fabric.utilities.data.AttributeDict",
]
"""Checkpoint metadata of common trainers: Hugging Face ``training_args.bin`` (a
``TrainingArguments`` dataclass and its enums) and Lightning's ``AttributeDict`` hparams. A
dataclass without ``__setstate__`` is rebuilt by ``object.__new__`` and a ``__dict__`` update,
an Enum by a value lookup, ``AttributeDict`` is a ``dict``: none runs code of its own."""

SAFE_EXACT: frozenset[str] = frozenset(
    [
        "collections.OrderedDict", "collections.defaultdict", "collections.Counter",
        "collections.deque", "copyreg._reconstructor", "_codecs.encode", "codecs.encode",
        "builtins.set", "builtins.frozenset", "builtins.bytearray", "builtins.slice",
        "builtins.complex", "builtins.list", "builtins.dict", "builtins.tuple", "builtins.int",
        "builtins.float", "builtins.str", "builtins.bytes", "builtins.bool", "builtins.range",
        "builtins.object", "builtins.Ellipsis", "builtins.NotImplemented",
        "datetime.datetime", "datetime.date", "datetime.time", "datetime.timedelta",
        "datetime.timezone", "decimal.Decimal", "fractions.Fraction", "uuid.UUID",
        "pathlib.PosixPath", "pathlib.WindowsPath", "pathlib.PurePosixPath",
        "pathlib.PureWindowsPath", "pathlib.Path",
        "numpy.ndarray", "numpy.dtype", "numpy.matrix", "numpy.ma.core.MaskedArray",
        "numpy.ma.core._mareconstruct",
        "numpy.random._pickle.__randomstate_ctor", "numpy.random._pickle.__bit_generator_ctor",
        "numpy.random._pickle.__generator_ctor", "numpy.random.__RandomState_ctor",
        "numpy.random.mtrand.RandomState", "numpy.random._generator.Generator",
        "numpy.random._mt19937.MT19937", "numpy.random._pcg64.PCG64",
        "numpy.random._pcg64.PCG64DXSM", "numpy.random._philox.Philox",
        "numpy.random._sfc64.SFC64", "numpy.random.bit_generator.SeedSequence",
        "joblib.numpy_pickle.NumpyArrayWrapper", "joblib.numpy_pickle.NDArrayWrapper",
        "joblib.numpy_pickle_compat.NDArrayWrapper", "joblib.numpy_pickle_compat.ZNDArrayWrapper",
        "torch.Size", "torch.device", "torch.Tensor", "torch._tensor.Tensor",
        "torch.nn.parameter.Parameter", "torch.nn.parameter.Buffer",
        "torch.nn.parameter.UninitializedParameter", "torch.serialization._get_layout",
        "torch._tensor._rebuild_from_type", "torch._tensor._rebuild_from_type_v2",
        "torch.storage.UntypedStorage", "torch.storage.TypedStorage",
        "torch.storage._load_from_bytes", "torch.nn.modules.module._IncompatibleKeys",
        "torch._utils._rebuild_tensor_v2",
        "pandas.core.indexes.base._new_Index", "pandas._libs.internals._unpickle_block",
        "pandas.core.internals.blocks.new_block", "pandas._libs.tslibs.nattype._nat_unpickle",
        "pandas._libs.tslibs.nattype.__nat_unpickle",
        "pandas._libs.tslibs.timestamps._unpickle_timestamp",
        "pandas._libs.tslibs.timedeltas._timedelta_unpickle",
        "argparse.Namespace",
    ]
    + [f"torch.jit._pickle.{f}" for f in _TORCHSCRIPT_HELPERS]
    + _TRAINER_CLASSES
    + [f"numpy.{n}" for n in _NUMPY_SCALARS]
    + [f"{m}.{f}" for m in ("numpy.core.multiarray", "numpy._core.multiarray")
       for f in ("_reconstruct", "scalar")]
    + [f"{m}._frombuffer" for m in ("numpy.core.numeric", "numpy._core.numeric")]
    + [f"{m}.matrix" for m in ("numpy.matrixlib.defmatrix", "numpy.core.defmatrix")]
    + [f"torch.{d}" for d in _TORCH_DTYPES]
    + [f"torch.{s}Storage" for s in _TORCH_STORAGES]
    + [f"torch._utils.{f}" for f in _TORCH_REBUILD]
)
"""Exact ``module.name`` globals that ordinary model files contain."""

_FUNCTION_MODULES = ("torch.nn.functional", "torch.nn.init", "numpy", "numpy.core.numeric",
                     "numpy._core.numeric", "scipy.special")
"""Modules whose plain functions (pure tensor/array math) are allowed, e.g. ``F.relu`` kept as a
layer's activation in a full-model pickle."""
_CLASS_PACKAGES = ("sklearn.", "torch.nn.modules.", "scipy.sparse.", "numpy.dtypes.", "pandas.",
                   "lightgbm.", "xgboost.", "catboost.", "scipy.stats._distn_infrastructure.")
"""Packages whose *classes* (CamelCase names) are allowed."""
_CLASS_EXCLUDED = (r"\.(_?testing|tests?|externals|datasets|_build_utils|conftest|io|"
                   r"plotting|computation|util|api)(\.|$)")
_CLASS_NAME = r"^_?[A-Z][A-Za-z0-9_]*$"
_SCIPY_SPARSE = r"^(csr|csc|coo|bsr|dia|dok|lil)_(matrix|array)$"
_COMPILED: dict[str, re.Pattern[str]] = {}


def _pattern(source: str) -> re.Pattern[str]:
    """One of the patterns above, compiled when a name first needs it (a scan whose pickles
    import nothing never does)."""
    found = _COMPILED.get(source)
    if found is None:
        found = _COMPILED[source] = re.compile(source)
    return found
_CYTHON_PACKAGES = ("sklearn.", "scipy.", "numpy.", "pandas.")

_DANGEROUS_ROOTS: dict[str, str] = {
    **dict.fromkeys(["os", "posix", "nt", "_posixsubprocess", "subprocess", "pty", "commands",
                     "popen2", "platform", "_winapi", "msvcrt", "signal"],
                    "runs processes or touches the operating system"),
    **dict.fromkeys(["sys", "builtins", "__builtin__", "importlib", "imp", "pkgutil", "runpy",
                     "code", "codeop", "zipimport", "site", "types", "inspect", "gc", "ctypes",
                     "_ctypes", "cffi"],
                    "reaches the interpreter, imports or raw memory"),
    **dict.fromkeys(["pickle", "_pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve",
                     "copyreg", "copy_reg", "pickletools"], "loads code or nested pickles"),
    **dict.fromkeys(["socket", "_socket", "ssl", "http", "urllib", "urllib2", "urllib3", "ftplib",
                     "smtplib", "telnetlib", "xmlrpc", "requests", "httpx", "aiohttp",
                     "webbrowser", "asyncio", "selectors", "multiprocessing", "concurrent",
                     "threading", "_thread"], "opens connections, processes or threads"),
    **dict.fromkeys(["shutil", "tempfile", "io", "_io", "glob", "fileinput", "zipfile",
                     "tarfile", "distutils", "setuptools", "pip", "ensurepip", "venv"],
                    "reads, writes or installs files"),
    **dict.fromkeys(["pdb", "bdb", "cProfile", "profile", "trace", "timeit", "doctest", "pydoc",
                     "idlelib", "tkinter", "turtle", "antigravity", "this", "unittest", "test",
                     "lib2to3", "cgi", "cgitb", "uuid"], "runs code or commands via a "
                    "standard-library tool"),
    **dict.fromkeys(["operator", "_operator", "functools"], "calls or looks up attributes "
                    "by name"),
}
"""Modules where any global is treated as dangerous (their allowlisted names excepted)."""

_DANGEROUS_PREFIXES: dict[str, str] = {
    "numpy.testing": "runs code (numpy.testing)", "numpy.f2py": "reaches eval (numpy.f2py)",
    "numpy.distutils": "builds and runs code", "numpy.load": "loads nested pickles",
    "numpy.lib.npyio": "loads nested pickles", "numpy.lib.format": "loads nested pickles",
    "numpy.lib._npyio_impl": "loads nested pickles",
    "torch.load": "loads a second model file", "torch.serialization": "loads model files",
    "torch.hub": "downloads and runs code", "torch.jit": "loads TorchScript code",
    "torch.package": "imports packaged code", "torch.utils.cpp_extension": "compiles code",
    "torch.ops": "calls arbitrary operators", "torch._C": "calls internal bindings",
    "torch.compile": "compiles code", "torch._dynamo": "compiles code",
    "joblib.load": "loads nested pickles", "joblib.numpy_pickle.load": "loads nested pickles",
    "joblib.parallel": "runs processes", "keras.models.load_model": "loads a model with code",
    "tensorflow.io": "reads and writes files", "tensorflow.compat": "TensorFlow internals",
    "tensorflow.py_function": "runs Python code",
    "torch._utils._import_dotted_name": "imports arbitrary modules",
    "torch.fx": "executes Python source when a GraphModule is unpickled",
    "torch._inductor": "compiles and runs code", "torch.utils.data.datapipes": "runs callables",
    "numpy.ctypeslib": "loads native libraries", "numpy.core._internal": "reaches ctypes",
    "numpy._core._internal": "reaches ctypes", "numpy.lib.utils": "runs code",
    "sklearn.utils._testing": "runs Python scripts", "sklearn.externals": "vendored loaders",
    "joblib.externals": "starts processes", "joblib._parallel_backends": "starts processes",
    "transformers.dynamic_module_utils": "imports remote code",
    "scipy.LowLevelCallable": "calls native code",
    "pandas.read_pickle": "loads nested pickles", "pandas.io": "reads and writes files",
    "pandas.eval": "evaluates expressions", "pandas.core.computation": "evaluates expressions",
}
"""Dotted prefixes outside the dangerous roots that are dangerous too."""

_NESTED_LOADERS = frozenset([
    "pickle.loads", "pickle.load", "pickle._loads", "pickle._load", "_pickle.loads",
    "_pickle.load", "dill.loads", "dill.load", "cloudpickle.loads", "cloudpickle.load",
    "torch.load", "torch.serialization.load", "torch.storage._load_from_bytes", "joblib.load",
    "joblib.numpy_pickle.load", "numpy.load", "pickle.Unpickler", "_pickle.Unpickler",
    "pandas.read_pickle",
])
"""Callables that load a nested pickle from their (bytes) argument: it is scanned recursively."""

CONDITIONAL = frozenset(["functools.partial", "copyreg._reconstructor",
                         "numpy.core._ufunc_reconstruct", "numpy._core._ufunc_reconstruct",
                         "torch._tensor._rebuild_from_type_v2"])
"""Allowed wrappers whose arguments name the real callable: those names are judged themselves
(``_ufunc_reconstruct(module, name)`` imports ``module.name``, which the machine records)."""


_NOT_PURE = frozenset(["load", "loads", "save", "savez", "savez_compressed", "savetxt", "loadtxt",
                       "genfromtxt", "fromfile", "tofile", "memmap", "fromregex", "info",
                       "source", "lookfor", "show_config", "get_include", "test", "deprecate"])


_NOTORIOUS = frozenset(["system", "popen", "popen2", "popen3", "exec", "eval", "execfile",
                        "execv", "execve", "execvp", "execvpe", "spawnv", "spawnve", "spawnl",
                        "startfile", "check_output", "check_call", "getoutput",
                        "getstatusoutput", "Popen", "__import__", "import_module", "run_path",
                        "run_module", "write_text", "write_bytes", "unlink", "rmtree",
                        "symlink_to", "hardlink_to", "chmod", "chown", "removedirs", "makedirs",
                        "load_library", "LoadLibrary", "dlopen", "CDLL"])
"""Attribute names of process and eval primitives: dangerous whatever module they are reached
through (``__main__.system`` after ``from os import system`` in the loading script)."""


TORCHSCRIPT_CLASSES = frozenset(["__torch__."])
"""Allowed only for the pickles of a TorchScript archive (``constants.pkl`` next to ``code/``,
the layout ``torch.load`` hands to ``torch.jit.load``): ``__torch__.*`` globals there name
classes compiled from the archive's own ``code/`` sources, which are analysed
(:mod:`.torchscript`). A plain pickle naming them stays *unknown*."""


def is_nested_loader(full: str) -> bool:
    """Whether a callable loads a nested pickle from its argument."""
    return full in _NESTED_LOADERS


def _dunder(part: str) -> bool:
    return len(part) > 4 and part.startswith("__") and part.endswith("__")


def judge(full: str, extra_allow: frozenset[str] = frozenset()) -> Judgement:
    """Judge one dotted ``module.name`` (see the module docstring for the ladder). An entry of
    ``extra_allow`` ending in ``.`` is a namespace: it turns *unknown* names under it into safe
    ones, never dangerous ones (``TORCHSCRIPT_CLASSES`` inside a TorchScript archive)."""
    if full in SAFE_EXACT or full in extra_allow:
        return Judgement(Verdict.SAFE, "on the allowlist")
    if full in CONDITIONAL:
        return Judgement(Verdict.SAFE, "allowlisted; the globals in its arguments are judged")
    parts = full.split(".")
    module, _, name = full.rpartition(".")
    if module == "torch._C._nn" and re.match(r"^[a-z][a-z0-9_]*$", name):
        return Judgement(Verdict.SAFE, "neural-network function (torch.nn.functional)")
    if any(_dunder(p) for p in parts[1:]):
        return Judgement(Verdict.DANGEROUS, "walks through object internals (dunder name)")
    for prefix, reason in _DANGEROUS_PREFIXES.items():
        if full == prefix or full.startswith(prefix + "."):
            return Judgement(Verdict.DANGEROUS, reason)
    root = parts[0]
    if root in _DANGEROUS_ROOTS:
        return Judgement(Verdict.DANGEROUS, _DANGEROUS_ROOTS[root])
    for p in parts[1:-1] if len(parts) > 2 else ():
        if p in _DANGEROUS_ROOTS and p not in ("code", "test", "profile", "trace", "types", "io"):
            return Judgement(Verdict.DANGEROUS, f"reaches module {p!r} through a dotted name")
    if set(parts[1:]) & _NOTORIOUS:
        return Judgement(Verdict.DANGEROUS, "named like a process, eval or file primitive")
    if module in _FUNCTION_MODULES and not name.startswith("_") and name not in _NOT_PURE:
        return Judgement(Verdict.SAFE, "array math function")
    if "." not in name and (_class_allowed(module, name) or _cython_allowed(module, name)):
        return Judgement(Verdict.SAFE, "class of an allowlisted package")
    if module.startswith("scipy.sparse") and _pattern(_SCIPY_SPARSE).match(name):
        return Judgement(Verdict.SAFE, "sparse matrix class")
    if any(full.startswith(p) for p in extra_allow if p.endswith(".")):
        return Judgement(Verdict.SAFE, "in an allowlisted namespace")
    return Judgement(Verdict.UNKNOWN, "not on the allowlist")


def _class_allowed(module: str, name: str) -> bool:
    if not any((module + ".").startswith(p) for p in _CLASS_PACKAGES):
        return False
    if _pattern(_CLASS_EXCLUDED).search(module):
        return False
    return (bool(_pattern(_CLASS_NAME).match(name))
            or (module.startswith("sklearn.") and name == "newObj"))


def _cython_allowed(module: str, name: str) -> bool:
    return name.startswith("__pyx_unpickle_") and any(
        (module + ".").startswith(p) for p in _CYTHON_PACKAGES)
