"""Held-out SavedModel / TorchScript / checkpoint samples (issue 11 items 3-4), built by code.

``python make.py OUT`` writes the files; ``python make.py OUT --score`` writes and scans them,
printing what was flagged (any finding above info). Files starting ``benign_`` must not be
flagged, ``mal_`` must. The layouts differ on purpose from the unit tests'. Nothing here
unpickles: pickles are written opcode by opcode, as torch's pickler (protocol 2, GLOBAL) does.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import sys
import zipfile
from pathlib import Path


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb(number: int, value: bytes | str | int) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    raw = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(raw)) + raw


def g(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def u(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def call(func: bytes, *args: bytes) -> bytes:
    return func + b"(" + b"".join(args) + b"tR"


def tensor(key: str) -> bytes:
    pid = b"(" + u("storage") + g("torch", "FloatStorage") + u(key) + u("cpu") + b"K\x04tQ"
    return call(g("torch._utils", "_rebuild_tensor_v2"), pid, b"K\x00", b"K\x04\x85",
                b"K\x01\x85", b"\x89", call(g("collections", "OrderedDict")))


def obj(module: str, name: str, state: bytes) -> bytes:
    """cls.__new__(cls) then BUILD state, as copyreg's protocol-2 reduction writes it."""
    return g(module, name) + b")\x81" + state + b"b"


def torch_zip(top: str, members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(f"{top}/{name}", data)
        z.writestr(f"{top}/version", b"3\n")
        z.writestr(f"{top}/byteorder", b"little")
        z.writestr(f"{top}/data/0", b"\x00" * 16)
    return buf.getvalue()


def _ts_code(body: str) -> bytes:
    return ("class Head(Module):\n  __parameters__ = [\"w\", ]\n  __buffers__ = []\n"
            "  w : Tensor\n  training : bool\n  def forward(self: __torch__.net.Head,\n"
            f"    x: Tensor) -> Tensor:\n{body}").encode()


def torchscript(top: str, code: bytes) -> bytes:
    dims = call(g("torch.jit._pickle", "restore_type_tag"),
                b"]" + b"(K\x01K\x02e", u("List[int]"))
    state = b"}(" + u("w") + tensor("0") + u("training") + b"\x88" + u("dims") + dims \
        + u("ts") + call(g("torch.jit._pickle", "build_tensorlist"), b"]") + b"u"
    data = b"\x80\x02" + obj("__torch__.net", "Head", state) + b"."
    return torch_zip(top, {"data.pkl": data, "constants.pkl": b"\x80\x02).",
                           "code/__torch__/net.py": code, "extra/notes.txt": b"hello"})


def keras_meta(layers: list[dict[str, object]], field: int = 5) -> bytes:
    nodes = b""
    for i, layer in enumerate(layers):
        meta = json.dumps(layer).encode()
        nodes += pb(1, pb(2, i) + pb(3, f"root.layer-{i}") + pb(4, "_tf_keras_layer")
                    + pb(field, meta))
    return nodes


def node(name: str, op: str, attrs: dict[str, bytes] | None = None) -> bytes:
    out = pb(1, name) + pb(2, op)
    for k, v in (attrs or {}).items():
        out += pb(5, pb(1, k) + pb(2, v))
    return out


def graph(nodes: list[bytes]) -> bytes:
    return b"".join(pb(1, n) for n in nodes) + pb(4, pb(1, 1808))


def saved_model(graph_def: bytes, object_graph: bytes = b"") -> bytes:
    meta = pb(1, pb(4, "serve")) + pb(2, graph_def) + (pb(7, object_graph) if object_graph else b"")
    return pb(1, 1) + pb(2, meta)


def string_const(name: str, value: bytes) -> bytes:
    """Const node whose DT_STRING tensor holds ``value`` (TensorProto.string_val)."""
    t = pb(1, 7) + pb(2, b"") + pb(8, value)
    return node(name, "Const", {"value": pb(8, t), "dtype": pb(6, 7)})


LAMBDA = base64.b64encode(b"\xe3" + b"\x00" * 40).decode()


def build() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    ok_code = _ts_code("    w = self.w\n    return torch.mul(x, w)\n")
    files["benign_torchscript_model_top.pt"] = torchscript("model", ok_code)
    ns = obj("argparse", "Namespace", b"}(" + u("lr") + b"G?\xb9\x99\x99\x99\x99\x99\x9a"
             + u("gpus") + b"K\x02u")
    ckpt = b"\x80\x02}(" + u("epoch") + b"K\x03" + u("hparams") + ns + u("state_dict") \
        + call(g("collections", "OrderedDict")) + u("optimizer_states") + b"]" \
        + b"}(" + u("state") + b"}" + u("param_groups") + b"](}(" + u("lr") + b"K\x01" \
        + u("betas") + b"G?\xec\xcc\xcc\xcc\xcc\xcc\xcdG?\xef\xf7\xce\xd9\x16\x87+\x86" \
        + u("params") + b"]K\x00au" + b"eua" + b"u."
    files["benign_lightning_namespace.ckpt"] = torch_zip("epoch=3-step=40", {"data.pkl": ckpt})
    seq = obj("torch.nn.modules.container", "Sequential", b"}(" + u("training") + b"\x88"
              + u("_modules") + call(g("collections", "OrderedDict"), b"](" + b"(" + u("0")
              + obj("torch.nn.modules.conv", "Conv2d", b"}(" + u("_parameters")
                    + call(g("collections", "OrderedDict")) + u("_non_persistent_buffers_set")
                    + call(g("__builtin__", "set"), b"]") + b"u") + b"te") + b"u")
    files["benign_full_module.pth"] = torch_zip("archive", {"data.pkl": b"\x80\x02" + seq + b"."})
    targs = obj("transformers.training_args", "TrainingArguments", b"}(" + u("output_dir")
                + u("out") + u("eval_strategy") + call(g("transformers.trainer_utils",
                                                         "IntervalStrategy"), u("steps"))
                + u("lr_scheduler_type") + call(g("transformers.trainer_utils", "SchedulerType"),
                                                u("linear"))
                + u("optim") + call(g("transformers.training_args", "OptimizerNames"),
                                    u("adamw_torch")) + b"u")
    files["benign_training_args.bin"] = torch_zip("training_args", {"data.pkl":
                                                                    b"\x80\x02" + targs + b"."})
    dense = {"class_name": "Dense", "name": "d", "config": {"name": "d", "units": 4,
                                                              "activation": "relu"}}
    files["benign_keras_metadata.pb"] = keras_meta([dense, dense])
    files["benign_saved_model_strings.pb"] = saved_model(graph([
        string_const("vocab", b"hello world"), node("x", "Placeholder"),
        node("save/SaveV2", "SaveV2")]))
    # malicious
    lam = {"class_name": "Functional", "config": {"name": "m", "layers": [
        {"class_name": "Lambda", "name": "l", "config": {"name": "l", "function":
                                                          [LAMBDA, None, None]}}]}}
    files["mal_keras_metadata_functional_lambda.pb"] = keras_meta([dense, lam])
    inner = graph([node("w", "WriteFile")])
    files["mal_saved_model_graph_in_s_attr.pb"] = saved_model(graph([
        node("p", "Identity", {"payload": pb(2, inner)})]))
    files["mal_saved_model_graph_in_const.pb"] = saved_model(graph([
        string_const("g", graph([node("f", "EagerPyFunc")]))]))
    deeper = graph([node("outer", "Identity", {"x": pb(2, graph([node("r", "ReadFile")]))})])
    files["mal_saved_model_two_levels.pb"] = saved_model(graph([
        node("p", "NoOp", {"y": pb(1, pb(2, deeper))})]))
    user_obj = pb(1, pb(4, pb(1, "_tf_keras_layer") + pb(3, json.dumps(lam["config"][  # type: ignore[index]
        "layers"][0]))))
    files["mal_saved_model_objgraph_lambda.pb"] = saved_model(graph([]), user_obj)
    files["mal_torchscript_import.pt"] = torchscript("model", _ts_code(
        "    os = __import__(\"os\")\n    return x\n"))
    files["mal_torchscript_custom_op.pt"] = torchscript("m2", _ts_code(
        "    return torch.ops.evil_lib.run(x)\n"))
    return files


def score(out: Path) -> int:
    from secpipe.core.findings import Severity
    from secpipe.scanners.models.engine import ModelScanner

    right = 0
    files = sorted(out.iterdir())
    for path in files:
        found = [f for f in ModelScanner().scan_file(path, path.name).findings
                 if f.severity is not Severity.INFO]
        flagged = bool(found)
        good = flagged == path.name.startswith("mal_")
        right += good
        top = max((f.severity.value for f in found), default="-")
        print(f"{'ok ' if good else 'BAD'} {path.name:45} {len(found):3} findings, top {top}")
    print(f"{right}/{len(files)} right")
    return 0 if right == len(files) else 1


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "heldout")
    out.mkdir(parents=True, exist_ok=True)
    for name, data in build().items():
        (out / name).write_bytes(data)
    return score(out) if "--score" in argv else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
