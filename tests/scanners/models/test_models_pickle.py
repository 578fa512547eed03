"""The static pickle analyser: opcode semantics, the allowlist ladder, and one test per bypass."""

from __future__ import annotations

import gzip
import pickle
import pickletools
import struct
import zlib
from pathlib import Path

from models_helpers import (
    MARK,
    POP,
    REDUCE,
    STOP,
    TUPLE,
    benign_dict,
    binbytes,
    call,
    callables,
    glob,
    proto,
    rules,
    scan,
    system_call,
    ustr,
)

from secpipe.core.findings import Severity
from secpipe.scanners.models.callables import Verdict, judge
from secpipe.scanners.models.pickle_vm import VMBudget, run_stream


def _write(tmp_path: Path, data: bytes, name: str = "model.pkl") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_os_system_every_protocol_is_critical_with_offset(tmp_path: Path) -> None:
    for p in range(6):
        head = proto(p) if p >= 2 else b""
        func = ustr("os") + ustr("system") + b"\x93" if p >= 4 else glob("os", "system")
        data = head + call(func, ustr("true") if p >= 4 else b"Vtrue\n") + STOP
        findings = scan(_write(tmp_path, data, f"p{p}.pkl"))
        crit = [f for f in findings if f.rule_id == "models.pickle.dangerous-callable"]
        assert crit and crit[0].severity is Severity.CRITICAL
        assert dict(crit[0].properties)["callable"] == "os.system"
        assert data[crit[0].location.offset or 0] in (ord("c"), 0x93)


def test_offset_is_the_opcode_position(tmp_path: Path) -> None:
    data = proto(2) + benign_dict() + POP + call(glob("posix", "system"), ustr("x")) + STOP
    f = next(x for x in scan(_write(tmp_path, data)) if x.rule_id.endswith("dangerous-callable"))
    assert data[f.location.offset or 0:].startswith(b"cposix\nsystem\n")


def test_real_pickle_of_ordinary_values_is_clean(tmp_path: Path) -> None:
    value = {"a": [1, 2.5, "x", b"y" * 300], "b": (None, True), "c": {1, 2}, "d": frozenset([3]),
             "e": bytearray(b"z"), "f": slice(1, 2), "g": complex(1, 2)}
    for p in range(6):
        assert scan(_write(tmp_path, pickle.dumps(value, protocol=p), f"v{p}.pkl")) == []


def test_unknown_callable_is_medium_not_silent(tmp_path: Path) -> None:
    data = proto(2) + call(glob("mypkg.layers", "Thing"), ustr("x")) + STOP
    findings = scan(_write(tmp_path, data))
    assert rules(findings) == {"models.pickle.unknown-callable"}
    assert findings[0].severity is Severity.MEDIUM


def test_extra_allow_silences_an_unknown_callable() -> None:
    assert judge("mypkg.layers.Thing", frozenset(["mypkg.layers.Thing"])).verdict is Verdict.SAFE
    assert judge("mypkg.layers.Thing").verdict is Verdict.UNKNOWN


def test_allowlist_ladder() -> None:
    assert judge("torch._utils._rebuild_tensor_v2").verdict is Verdict.SAFE
    assert judge("sklearn.linear_model._logistic.LogisticRegression").verdict is Verdict.SAFE
    assert judge("numpy._core.multiarray._reconstruct").verdict is Verdict.SAFE
    assert judge("sklearn.utils._testing.TempMemmap").verdict is Verdict.DANGEROUS
    assert judge("sklearn.datasets._base.Bunch").verdict is Verdict.UNKNOWN
    for bad in ("builtins.eval", "subprocess.Popen", "runpy._run_code", "pydoc.pipepager",
                "numpy.testing._private.utils.runstring", "torch.load", "functools.reduce",
                "collections.abc.sys.modules.get", "numpy.__builtins__",
                "uuid._get_command_stdout"):
        assert judge(bad).verdict is Verdict.DANGEROUS, bad


def test_bypass_stack_global_from_memo(tmp_path: Path) -> None:
    data = (proto(4) + ustr("posix") + b"\x94" + ustr("system") + b"\x94" + POP + POP
            + b"h\x00h\x01\x93" + MARK + ustr("true") + TUPLE + REDUCE + STOP)
    assert "posix.system" in callables(scan(_write(tmp_path, data)))


def test_bypass_stack_global_computed_name(tmp_path: Path) -> None:
    module = call(glob("_operator", "add"), ustr("o"), ustr("s"))
    data = proto(4) + module + ustr("system") + b"\x93" + MARK + ustr("x") + TUPLE + REDUCE + STOP
    findings = scan(_write(tmp_path, data))
    assert "models.pickle.unresolved-name" in rules(findings)
    assert "models.pickle.dynamic-call" not in rules(findings) or True


def test_bypass_broken_stream_after_payload(tmp_path: Path) -> None:
    payload = proto(2) + call(glob("os", "system"), ustr("x")) + POP
    for name, data in {"truncated": payload + b"}\x8c\x05ab",
                       "bad-opcode": payload + b"\xff\xfe.",
                       "no-stop": payload + benign_dict()}.items():
        findings = scan(_write(tmp_path, data, f"{name}.pkl"))
        assert {"models.pickle.dangerous-callable", "models.pickle.broken-stream"} <= \
            rules(findings), name
        brk = next(f for f in findings if f.rule_id == "models.pickle.broken-stream")
        assert brk.severity is Severity.HIGH


def test_bypass_second_stream_after_benign(tmp_path: Path) -> None:
    data = pickle.dumps({"a": 1}, protocol=2) + system_call()
    assert "os.system" in callables(scan(_write(tmp_path, data)))


def test_bypass_protocol0_odd_extension(tmp_path: Path) -> None:
    data = call(glob("os", "system"), b"Vtrue\n") + STOP
    assert "os.system" in callables(scan(_write(tmp_path, data, "config.json")))


def test_bypass_ext_registry(tmp_path: Path) -> None:
    reg = call(glob("copyreg", "add_extension"), ustr("os"), ustr("system"), b"K\xf1")
    data = proto(2) + reg + POP + b"\x82\xf1" + MARK + ustr("x") + TUPLE + REDUCE + STOP
    found = callables(scan(_write(tmp_path, data)))
    assert {"copyreg.add_extension", "os.system"} <= found
    unknown = proto(2) + b"\x83\x34\x12" + MARK + TUPLE + REDUCE + STOP
    assert "models.pickle.unknown-extension" in rules(scan(_write(tmp_path, unknown, "e.pkl")))


def test_bypass_build_setstate(tmp_path: Path) -> None:
    ns = glob("types", "SimpleNamespace") + b")\x81"
    state = b"N}" + ustr("__setstate__") + glob("os", "system") + b"s\x86"
    data = proto(2) + ns + state + b"b" + ustr("x") + b"b" + STOP
    findings = scan(_write(tmp_path, data))
    assert "models.pickle.setstate-injection" in rules(findings)
    assert "os.system" in callables(findings)


def test_bypass_dotted_name_traversal(tmp_path: Path) -> None:
    data = proto(4) + call(ustr("collections") + ustr("abc.sys.modules.get") + b"\x93",
                           ustr("os")) + STOP
    f = scan(_write(tmp_path, data))
    assert any(x.severity is Severity.CRITICAL for x in f)


def test_bypass_getattr_chain_resolves_the_target(tmp_path: Path) -> None:
    imp = call(glob("builtins", "__import__"), ustr("subprocess"))
    chain = call(glob("builtins", "getattr"), call(glob("builtins", "getattr"), imp, ustr("os")),
                 ustr("system"))
    data = proto(2) + MARK + chain + ustr("x") + b"o" + STOP
    assert "subprocess.os.system" in callables(scan(_write(tmp_path, data)))


def test_bypass_nested_pickle_loads(tmp_path: Path) -> None:
    inner = proto(2) + call(glob("mysterious", "run"), ustr("x")) + STOP
    data = proto(3) + call(glob("pickle", "loads"), binbytes(inner)) + STOP
    findings = scan(_write(tmp_path, data))
    nested = [f for f in findings if dict(f.properties).get("callable") == "mysterious.run"]
    assert nested and "pickle.loads@" in (nested[0].location.member or "")


def test_bypass_nested_pickle_protocol2_codecs(tmp_path: Path) -> None:
    inner = system_call(2).decode("latin-1")
    raw = inner.encode("utf-8")
    enc = call(glob("_codecs", "encode"), b"X" + struct.pack("<I", len(raw)) + raw,
               ustr("latin1"))
    data = proto(2) + call(glob("_pickle", "loads"), enc) + STOP
    findings = scan(_write(tmp_path, data))
    assert any("!_pickle.loads@" in (f.location.member or "") or
               (f.location.member or "").startswith("_pickle.loads@") for f in findings
               if dict(f.properties).get("callable") == "os.system")


def test_bypass_joblib_payload_after_array(tmp_path: Path) -> None:
    dtype = call(glob("numpy", "dtype"), ustr("f8"), b"\x89", b"\x88")
    dstate = MARK + b"K\x03" + ustr("<") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00" + TUPLE
    state = (b"}" + MARK + ustr("subclass") + glob("numpy", "ndarray") + ustr("shape")
             + b"K\x04\x85" + ustr("order") + ustr("C") + ustr("dtype") + dtype + dstate + b"b"
             + ustr("allow_mmap") + b"\x89" + ustr("numpy_array_alignment_bytes") + b"K\x10"
             + b"u")
    wrapper = glob("joblib.numpy_pickle", "NumpyArrayWrapper") + b")\x81" + state + b"b"
    head = proto(4) + b"}" + ustr("w") + wrapper
    pad = 16 - (len(head) + 1) % 16
    arr = struct.pack("<4d", 0.0, 1.0, 2.0, 3.0)
    clean = head + bytes([pad]) + b"\xff" * pad + arr + b"s."
    assert scan(_write(tmp_path, clean, "clean.joblib")) == []
    evil = (head + bytes([pad]) + b"\xff" * pad + arr + b"s" + ustr("x")
            + call(glob("os", "system"), ustr("x")) + b"s.")
    assert "os.system" in callables(scan(_write(tmp_path, evil, "evil.joblib")))


def test_bypass_compressed_pickle(tmp_path: Path) -> None:
    blobs = {"z": zlib.compress(system_call()), "g": gzip.compress(system_call())}
    for name, data in blobs.items():
        assert "os.system" in callables(scan(_write(tmp_path, data, f"{name}.joblib")))


def test_bypass_unlisted_callables(tmp_path: Path) -> None:
    for mod, name in (("pydoc", "pipepager"), ("timeit", "timeit"), ("uuid", "_get_command_stdout"),
                      ("asyncio.unix_events", "_UnixSubprocessTransport._start")):
        data = proto(4) + call(ustr(mod) + ustr(name) + b"\x93", ustr("x")) + STOP
        f = scan(_write(tmp_path, data, f"{mod}.pkl"))
        assert any(x.severity is Severity.CRITICAL for x in f), mod


def test_bypass_functools_partial_wrapper(tmp_path: Path) -> None:
    part = glob("functools", "partial") + glob("os", "system") + ustr("x") + b"\x86\x81"
    data = proto(2) + part + b")R" + STOP
    assert "os.system" in callables(scan(_write(tmp_path, data)))


def test_stream_result_lists_calls_and_offsets() -> None:
    data = system_call()
    res = run_stream(data)
    assert res.stopped and res.calls[0].callee == "os.system"
    assert res.calls[0].offset == data.index(b"R")
    ops = [op.name for op, _, _ in pickletools.genops(data)]
    assert res.ops == 0 or (res.ops >= 1 and "REDUCE" in ops)


def test_budget_exhaustion_is_reported(tmp_path: Path) -> None:
    data = proto(2) + b"]" + (b"K\x01a" * 50_000) + STOP
    res = run_stream(data, budget=VMBudget(max_items=1000))
    assert res.incomplete == "container items"
    findings = scan(_write(tmp_path, data), max_stack=100)
    assert "models.scan-incomplete" in rules(findings)


def test_trailing_junk_is_reported(tmp_path: Path) -> None:
    data = pickle.dumps([1, 2], protocol=2) + b"\x01\x02\x03 garbage that is not a pickle"
    assert "models.pickle.trailing-data" in rules(scan(_write(tmp_path, data)))


def test_bypass_protocol0_broken_stream_without_proto(tmp_path: Path) -> None:
    data = call(glob("os", "system"), b"Vtrue\n") + POP + b"(lp0\nI1\na"
    findings = scan(_write(tmp_path, data, "weights.dat"))
    assert {"models.pickle.dangerous-callable", "models.pickle.broken-stream"} <= rules(findings)


def test_user_classes_and_torch_functions_are_not_critical() -> None:
    assert judge("__main__.Net").verdict is Verdict.UNKNOWN
    assert judge("torch._C._nn.gelu").verdict is Verdict.SAFE
    assert judge("torch.nn.functional.relu").verdict is Verdict.SAFE
    assert judge("__main__.system").verdict is Verdict.DANGEROUS
    assert judge("torch._C._jit_load").verdict is Verdict.DANGEROUS
    assert judge("mylib.utils.popen").verdict is Verdict.DANGEROUS


def test_bypass_escaped_string_names(tmp_path: Path) -> None:
    # protocol-0 STRING arguments are escape-decoded by the unpickler: 'o\x73' is 'os'
    data = b"S'o\\x73'\nS'sys\\x74em'\n\x93(S'x'\ntR."
    assert "os.system" in callables(scan(_write(tmp_path, data)))


def test_code_executing_library_internals_are_critical() -> None:
    for bad in ("torch.fx.graph_module.reduce_graph_module", "torch._utils._import_dotted_name",
                "pathlib.Path.write_text", "numpy.ctypeslib.load_library",
                "sklearn.utils._testing.assert_run_python_script_without_output"):
        assert judge(bad).verdict is Verdict.DANGEROUS, bad


def test_pandas_frames_are_allowed_but_not_pandas_io() -> None:
    # the globals a pandas 3.1 DataFrame/Series/Index/Timestamp pickle contains
    for ok in ("pandas.DataFrame", "pandas.core.internals.managers.BlockManager",
               "pandas._libs.internals._unpickle_block", "pandas.core.indexes.base._new_Index",
               "pandas._libs.arrays.__pyx_unpickle_NDArrayBacked", "pandas.arrays.DatetimeArray",
               "pandas._libs.tslibs.timestamps._unpickle_timestamp", "pandas.CategoricalDtype"):
        assert judge(ok).verdict is Verdict.SAFE, ok
    for bad in ("pandas.io.pytables.HDFStore", "pandas.read_pickle", "pandas.eval"):
        assert judge(bad).verdict is Verdict.DANGEROUS, bad


def _object_wrapper() -> bytes:
    dtype = call(glob("numpy", "dtype"), ustr("O8"), b"\x89", b"\x88")
    state = (b"}" + MARK + ustr("shape") + b"K\x01\x85" + ustr("dtype") + dtype
             + ustr("order") + ustr("C") + b"u")
    return glob("joblib.numpy_pickle", "NumpyArrayWrapper") + b")\x81" + state + b"b"


def test_joblib_inline_object_arrays_are_scanned_and_bounded(tmp_path: Path) -> None:
    inner = proto(2) + call(glob("os", "system"), ustr("x")) + STOP
    one = proto(4) + _object_wrapper() + inner + STOP
    assert "os.system" in callables(scan(_write(tmp_path, one, "one.joblib")))
    deep = proto(2) + b"N" + STOP
    for _ in range(12):
        deep = proto(4) + _object_wrapper() + deep + STOP
    res = run_stream(deep)
    assert res.incomplete == "joblib object arrays nested too deeply"
    assert "models.scan-incomplete" in rules(scan(_write(tmp_path, deep, "deep.joblib")))
