"""Issue 11 items 3-4: SavedModel protobufs scanned whole; TorchScript archives and trainer
checkpoints without false alarms.

Every sample is built here, written to a temp dir and only scanned. Pickles come from a
pickler that writes a global's *name* (``__module__``/``__qualname__`` of a stand-in) without
importing it, so torch is not needed; the stand-ins reduce exactly as torch's objects do
(``torch.save`` / ``torch.jit.save``, protocol 2: GLOBAL, NEWOBJ, BUILD, storages as persistent
ids ``('storage', torch.FloatStorage, key, 'cpu', numel)``). The zip layouts are torch's:
``<top>/data.pkl``, ``<top>/constants.pkl``, ``<top>/code/__torch__/….py`` (+ ``.debug_pkl``),
``<top>/version``, ``<top>/byteorder``, ``<top>/data/<n>``, ``<top>/.data/serialization_id``
(torch stores members uncompressed, as here; it also pads them to 64 bytes, which no reader
needs). Regenerate a real archive to compare: in a separate venv with torch,
``torch.jit.save(torch.jit.script(M()), "ts.pt")`` and ``torch.save(nn.Sequential(...), "m.pt")``.
"""

from __future__ import annotations

import argparse
import io
import json
import pickle
import types
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

from models_helpers import callables, pb, rules, saved_model, scan, tf_node

from secpipe.core.findings import Severity

# ---------------------------------------------------------------- builders


class _NamePickler(pickle._Pickler):
    """Protocol-2 pickler that writes a class or function as GLOBAL ``module\\nqualname``
    without importing the module (the stand-ins name torch's real objects)."""

    def save_global(self, obj: Any, name: str | None = None) -> None:
        self.write(b"c" + obj.__module__.encode() + b"\n" + obj.__qualname__.encode() + b"\n")
        self.memoize(obj)

    def persistent_id(self, obj: Any) -> Any:
        return obj.pid if isinstance(obj, _Storage) else None

    dispatch = {**pickle._Pickler.dispatch, types.FunctionType: save_global}


def _named(obj: Any, module: str, qualname: str) -> Any:
    obj.__module__, obj.__qualname__ = module, qualname
    return obj


def _cls(module: str, qualname: str) -> type:
    return _named(type(qualname.rsplit(".", 1)[-1], (), {}), module, qualname)


def _fn(module: str, qualname: str) -> Any:
    def f(*args: object) -> object:
        return args
    return _named(f, module, qualname)


class _Storage:
    def __init__(self, key: str, numel: int) -> None:
        self.pid = ("storage", _cls("torch", "FloatStorage"), key, "cpu", numel)


class _Tensor:
    """Reduces like torch.Tensor: _rebuild_tensor_v2(storage, 0, size, stride, False, {})."""

    def __init__(self, key: str, size: tuple[int, ...]) -> None:
        self.key, self.size = key, size

    def __reduce_ex__(self, proto: Any) -> Any:
        stride = tuple(1 for _ in self.size)
        return (_fn("torch._utils", "_rebuild_tensor_v2"),
                (_Storage(self.key, 6), 0, self.size, stride, False, OrderedDict()))


class _Call:
    """Reduces to ``func(*args)`` (torch.jit._pickle helpers, enums)."""

    def __init__(self, func: Any, *args: object) -> None:
        self.func, self.args = func, args

    def __reduce_ex__(self, proto: Any) -> Any:
        return self.func, self.args


def dumps(obj: object) -> bytes:
    out = io.BytesIO()
    _NamePickler(out, protocol=2).dump(obj)
    return out.getvalue()


def instance(module: str, qualname: str, state: dict[str, object]) -> object:
    obj = _cls(module, qualname)()
    obj.__dict__.update(state)
    return obj


def torch_archive(path: Path, top: str, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(f"{top}/{name}", data)
        z.writestr(f"{top}/version", b"3\n")
        z.writestr(f"{top}/byteorder", b"little")
        z.writestr(f"{top}/data/0", b"\x00" * 24)
        z.writestr(f"{top}/.data/serialization_id", b"1234567890")
    return path


TS_CODE = (
    "class M(Module):\n  __parameters__ = []\n  __buffers__ = []\n  training : bool\n"
    "  sizes : List[int]\n  fc : __torch__.torch.nn.modules.linear.Linear\n"
    "  def forward(self: __torch__.M,\n    x: Tensor) -> Tensor:\n    fc = self.fc\n"
    "    _0 = torch.sum(torch.relu((fc).forward(x, )))\n    sizes = self.sizes\n"
    "    return torch.add(_0, torch.len(sizes))\n")
LINEAR_CODE = (
    "class Linear(Module):\n  __parameters__ = [\"weight\", ]\n  __buffers__ = []\n"
    "  weight : Tensor\n  training : bool\n  out_features : Final[int] = 2\n"
    "  def forward(self: __torch__.torch.nn.modules.linear.Linear,\n    input: Tensor) -> Tensor:\n"
    "    weight = self.weight\n    _1 = getattr(self, \"0\")\n"
    "    return torch.linear(input, weight, None)\n")


def torchscript_members(code: str = TS_CODE) -> dict[str, bytes]:
    intlist = _fn("torch.jit._pickle", "build_intlist")
    linear = instance("__torch__.torch.nn.modules.linear", "Linear",
                      {"weight": _Tensor("0", (2, 3)), "training": True})
    model = instance("__torch__", "M", {"training": True, "sizes": _Call(intlist, [1, 2, 3]),
                                        "fc": linear})
    debug = ("FORMAT_WITH_STRING_TABLE", ("", "    def forward(self, x):\n"),
             _Call(intlist, [0, 10]))
    return {"data.pkl": dumps(model), "constants.pkl": dumps(()),
            "code/__torch__.py": code.encode(), "code/__torch__.py.debug_pkl": dumps(debug),
            "code/__torch__/torch/nn/modules/linear.py": LINEAR_CODE.encode()}


def above_info(path: Path) -> list[str]:
    return [f"{f.severity.value} {f.rule_id} {f.message}" for f in scan(path)
            if f.severity is not Severity.INFO]


def keras_metadata(layers: list[dict[str, object]]) -> bytes:
    """SavedMetadata{nodes{node_id=2, node_path=3, identifier=4, metadata=5 (JSON)}}."""
    return b"".join(pb(1, pb(2, i) + pb(3, f"root.layer-{i}") + pb(4, "_tf_keras_layer")
                       + pb(5, json.dumps(layer))) for i, layer in enumerate(layers))


def node(name: str, op: str, attrs: dict[str, bytes]) -> bytes:
    return tf_node(name, op) + b"".join(pb(5, pb(1, k) + pb(2, v)) for k, v in attrs.items())


def graph_def(nodes: list[bytes]) -> bytes:
    return b"".join(pb(1, n) for n in nodes) + pb(4, pb(1, 1808))


DENSE = {"class_name": "Dense", "name": "dense", "config": {"name": "dense", "units": 4}}
LAMBDA = {"class_name": "Lambda", "name": "lam", "config": {
    "name": "lam", "function": ["4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMIAAAAfABkARQAUwApAk7p", None,
                                None], "function_type": "lambda"}}


# ---------------------------------------------------------------- SavedModel


def test_savedmodel_keras_metadata_lambda_is_critical(tmp_path: Path) -> None:
    folder = tmp_path / "sm"
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(saved_model([tf_node("x", "Placeholder")], []))
    meta = folder / "keras_metadata.pb"
    meta.write_bytes(keras_metadata([DENSE, LAMBDA]))
    found = scan(meta)
    lam = [f for f in found if f.rule_id == "models.keras.lambda-layer"]
    assert lam and lam[0].severity is Severity.CRITICAL
    assert not above_info(folder / "saved_model.pb")


def test_savedmodel_nested_graphdef_writefile_in_attr(tmp_path: Path) -> None:
    inner = graph_def([tf_node("w", "WriteFile")])
    outer = node("carrier", "Identity", {"payload": pb(2, inner)})
    path = tmp_path / "saved_model.pb"
    path.write_bytes(saved_model([outer], []))
    found = [f for f in scan(path) if f.rule_id == "models.savedmodel.file-io-op"]
    assert found and found[0].severity is Severity.CRITICAL
    assert "nested graph" in dict(found[0].properties)["scope"]


def test_savedmodel_nested_library_in_const_tensor_of_a_function(tmp_path: Path) -> None:
    library = pb(1, pb(1, pb(1, "evil_fn")) + pb(3, tf_node("py", "EagerPyFunc")))
    tensor = pb(1, 7) + pb(2, b"") + pb(8, library)  # DT_STRING, string_val
    const = node("c", "Const", {"value": pb(8, tensor)})
    path = tmp_path / "saved_model.pb"
    path.write_bytes(saved_model([], [("wrapper", [const])]))
    assert "models.savedmodel.python-op" in rules(scan(path))


def test_savedmodel_nesting_depth_is_bounded(tmp_path: Path) -> None:
    blob = graph_def([tf_node("w", "WriteFile")])
    for i in range(12):
        blob = graph_def([node(f"n{i}", "Identity", {"g": pb(2, blob)})])
    path = tmp_path / "saved_model.pb"
    path.write_bytes(saved_model([node("top", "NoOp", {"g": pb(2, blob)})], []))
    assert "models.scan-incomplete" in rules(scan(path))


def test_savedmodel_object_graph_metadata_lambda(tmp_path: Path) -> None:
    user = pb(1, pb(4, pb(1, "_tf_keras_layer") + pb(3, json.dumps(LAMBDA))))
    meta_graph = pb(2, pb(1, tf_node("x", "Placeholder"))) + pb(7, user)
    path = tmp_path / "saved_model.pb"
    path.write_bytes(pb(1, 1) + pb(2, meta_graph))
    assert "models.keras.lambda-layer" in rules(scan(path))


def test_benign_savedmodel_folder_has_nothing_above_info(tmp_path: Path) -> None:
    folder = tmp_path / "sm"
    (folder / "assets").mkdir(parents=True)
    shape = pb(7, pb(2, pb(1, 3)))
    nodes = [node("x", "Placeholder", {"dtype": pb(6, 1), "shape": shape}),
             node("v", "VarHandleOp", {"shared_name": pb(2, "dense/kernel"),
                                       "_class": pb(1, pb(2, "loc:@dense/kernel"))}),
             node("vocab", "Const", {"value": pb(8, pb(1, 7) + pb(8, b"hello") + pb(8, b"w"))}),
             tf_node("save/SaveV2", "SaveV2"), tf_node("save/RestoreV2", "RestoreV2")]
    (folder / "saved_model.pb").write_bytes(saved_model(nodes, [("f", [tf_node("m", "MatMul")])]))
    (folder / "keras_metadata.pb").write_bytes(keras_metadata([DENSE, DENSE]))
    (folder / "fingerprint.pb").write_bytes(pb(1, 123456789) + pb(2, 42) + pb(6, pb(1, 1)))
    (folder / "assets" / "vocab.txt").write_bytes(b"a\nb\n")
    for f in folder.rglob("*"):
        if f.is_file():
            assert not above_info(f), f


# ---------------------------------------------------------------- TorchScript


def test_torchscript_archive_helpers_are_not_flagged(tmp_path: Path) -> None:
    path = torch_archive(tmp_path / "ts.pt", "ts", torchscript_members())
    assert not above_info(path)


def test_torchscript_helpers_in_a_plain_pickle(tmp_path: Path) -> None:
    """Decision: the six ``torch.jit._pickle`` helpers return their argument, so they are safe
    anywhere; ``__torch__`` classes are allowed only inside a TorchScript archive; other
    ``torch.jit`` names (``build_class`` of torch < 1.3, ``load``) stay critical."""
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(dumps(_Call(_fn("torch.jit._pickle", "build_intlist"), [1, 2])))
    assert not above_info(plain)
    cls = tmp_path / "cls.pkl"
    cls.write_bytes(dumps(instance("__torch__", "M", {"training": True})))
    assert rules(scan(cls)) == {"models.pickle.unknown-callable"}
    old = tmp_path / "old.pkl"
    old.write_bytes(dumps(_Call(_fn("torch.jit._pickle", "build_class"), "x", {})))
    found = scan(old)
    assert "torch.jit._pickle.build_class" in callables(found)
    assert max(f.severity for f in found) is Severity.CRITICAL


def test_torchscript_without_constants_is_not_an_archive(tmp_path: Path) -> None:
    members = torchscript_members()
    del members["constants.pkl"]  # torch.load would unpickle data.pkl itself
    path = torch_archive(tmp_path / "m.pt", "m", members)
    assert "__torch__.M" in callables(scan(path))


def test_torchscript_code_with_import_is_flagged(tmp_path: Path) -> None:
    code = TS_CODE.replace("    fc = self.fc\n", "    os = __import__(\"os\")\n"
                           "    _5 = os.system(\"id\")\n    fc = self.fc\n")
    path = torch_archive(tmp_path / "ts.pt", "archive", torchscript_members(code))
    found = [f for f in scan(path) if f.rule_id == "models.torchscript.unsafe-code"]
    assert found and all(f.severity is Severity.HIGH for f in found)
    assert "__import__" in callables(found)
    assert found[0].location.member == "archive/code/__torch__.py"


def test_torchscript_code_import_statement_and_custom_op(tmp_path: Path) -> None:
    code = "import subprocess\n" + TS_CODE.replace(
        "torch.relu(", "torch.ops.my_vendor.fused_relu(")
    path = torch_archive(tmp_path / "ts.pt", "archive", torchscript_members(code))
    found = {f.rule_id: f for f in scan(path)}
    assert found["models.torchscript.unsafe-code"].severity is Severity.HIGH
    assert found["models.torchscript.custom-op"].severity is Severity.MEDIUM


# ---------------------------------------------------------------- checkpoints


def _optimizer_state() -> dict[str, object]:
    return {"state": {0: {"step": _Tensor("1", ()), "exp_avg": _Tensor("2", (2, 3))}},
            "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-08,
                              "weight_decay": 0, "amsgrad": False, "foreach": None,
                              "maximize": False, "capturable": False, "differentiable": False,
                              "fused": None, "params": [0]}]}


def test_lightning_checkpoint_with_namespace_hparams(tmp_path: Path) -> None:
    ckpt = {"epoch": 3, "global_step": 40, "pytorch-lightning_version": "2.4.0",
            "state_dict": OrderedDict([("layer.weight", _Tensor("0", (2, 3)))]),
            "optimizer_states": [_optimizer_state()], "lr_schedulers": [],
            "callbacks": {"ModelCheckpoint{'monitor': None}": {"best_model_path": "x.ckpt"}},
            "hparams_name": "args", "hyper_parameters": {"args": argparse.Namespace(lr=0.1),
                                                         "hidden": 64}}
    path = torch_archive(tmp_path / "epoch=3.ckpt", "archive", {"data.pkl": dumps(ckpt)})
    assert not above_info(path)


def test_full_module_pickle_from_torch_classes(tmp_path: Path) -> None:
    def module(qualname: str, modname: str, **params: object) -> object:
        return instance(f"torch.nn.modules.{modname}", qualname, {
            "training": True, "_parameters": OrderedDict(params), "_buffers": OrderedDict(),
            "_non_persistent_buffers_set": set(), "_modules": OrderedDict(),
            "_forward_hooks": OrderedDict()})

    seq = module("Sequential", "container")
    seq.__dict__["_modules"] = OrderedDict([
        ("0", module("Linear", "linear", weight=_Tensor("0", (2, 3)))),
        ("1", module("ReLU", "activation"))])
    path = torch_archive(tmp_path / "model.pt", "model", {"data.pkl": dumps(seq)})
    assert not above_info(path)


def test_hf_training_args_bin(tmp_path: Path) -> None:
    def enum(module: str, name: str, value: str) -> object:
        return _Call(_cls(module, name), value)

    args = instance("transformers.training_args", "TrainingArguments", {
        "output_dir": "out", "learning_rate": 5e-05,
        "eval_strategy": enum("transformers.trainer_utils", "IntervalStrategy", "steps"),
        "lr_scheduler_type": enum("transformers.trainer_utils", "SchedulerType", "linear"),
        "optim": enum("transformers.training_args", "OptimizerNames", "adamw_torch"),
        "hub_strategy": enum("transformers.trainer_utils", "HubStrategy", "every_save")})
    path = torch_archive(tmp_path / "training_args.bin", "training_args",
                         {"data.pkl": dumps(args)})
    assert not above_info(path)
    (tmp_path / "trainer_state.json").write_text(json.dumps(
        {"global_step": 10, "log_history": [{"loss": 0.5, "step": 10}]}))
    assert not above_info(tmp_path / "trainer_state.json")


def test_frozen_graphdef_pb_is_walked(tmp_path: Path) -> None:
    path = tmp_path / "assets" / "frozen_graph.pb"
    path.parent.mkdir()
    path.write_bytes(graph_def([tf_node("x", "Placeholder"), tf_node("r", "ReadFile")]))
    assert "models.savedmodel.file-io-op" in rules(scan(path))
    ok = tmp_path / "ok.pb"
    ok.write_bytes(graph_def([tf_node("x", "Placeholder"), tf_node("m", "MatMul")]))
    assert not above_info(ok)


def test_nested_graph_broken_inside_is_incomplete(tmp_path: Path) -> None:
    broken = pb(1, tf_node("a", "Identity") + b"\x2a\x05\x0a") + pb(1, tf_node("w", "WriteFile"))
    path = tmp_path / "saved_model.pb"
    path.write_bytes(saved_model([node("p", "Identity", {"g": pb(2, broken)})], []))
    assert rules(scan(path)) & {"models.scan-incomplete", "models.savedmodel.file-io-op"}
