"""Benign models saved by the real libraries (torch, scikit-learn, joblib, NumPy, ONNX, GGUF,
safetensors).  Runs in the generator venv; every library is optional and reported if missing."""

from __future__ import annotations

import pickle
from typing import Any

from _corpus import Corpus


def _torch(c: Corpus) -> None:
    import torch
    from torch import nn

    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 4))
    conv = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(8 * 15 * 15, 10))
    lstm = nn.LSTM(8, 16, num_layers=2, batch_first=True)
    tfm = nn.TransformerEncoder(nn.TransformerEncoderLayer(32, 4, 64, batch_first=True), 2)
    emb = nn.Embedding(100, 16)
    t = "torch"
    for name, m in (("mlp", mlp), ("conv", conv), ("lstm", lstm), ("transformer", tfm),
                    ("embedding", emb)):
        p = c.path(f"benign/torch/{name}_state.pt")
        torch.save(m.state_dict(), p)
        c.ok(f"benign/torch/{name}_state.pt", None, "torch-state-dict", t,
             f"torch.save of a {name} state_dict")
        p = c.path(f"benign/torch/{name}_full.pt")
        torch.save(m, p)
        c.ok(f"benign/torch/{name}_full.pt", None, "torch-full-model", t,
             f"torch.save of the whole {type(m).__name__} module (full-model pickle)")
    opt = torch.optim.AdamW(mlp.parameters(), lr=1e-3)
    mlp(torch.randn(2, 16)).sum().backward()
    opt.step()
    ckpt = {"epoch": 3, "model": mlp.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": {"last_epoch": 3}, "best_acc": 0.91, "args": {"lr": 1e-3, "bs": 32}}
    for ext in (".ckpt", ".pth", ".bin"):
        torch.save(ckpt, c.path(f"benign/torch/checkpoint{ext}"))
        c.ok(f"benign/torch/checkpoint{ext}", None, "torch-checkpoint", t,
             f"training checkpoint (model+AdamW optimizer state) saved as {ext}")
    torch.save(mlp.state_dict(), c.path("benign/torch/legacy_state.pt"),
               _use_new_zipfile_serialization=False)
    c.ok("benign/torch/legacy_state.pt", None, "torch-legacy", t, "legacy (non-zip) state dict")
    torch.save({"w": torch.randn(4, 4).half(), "i": torch.arange(10), "b": torch.ones(3).bool(),
                "bf": torch.randn(3).bfloat16()}, c.path("benign/torch/dtypes.pt"))
    c.ok("benign/torch/dtypes.pt", None, "torch-state-dict", t, "tensors of several dtypes")


def _sklearn(c: Corpus) -> None:
    import joblib  # type: ignore[import-untyped]
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeRegressor

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    models: dict[str, Any] = {
        "logreg": LogisticRegression(max_iter=200).fit(x, y),
        "forest": RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y),
        "gboost": GradientBoostingClassifier(n_estimators=10, random_state=0).fit(x, y),
        "pipeline": Pipeline([("scale", StandardScaler()), ("pca", PCA(3)),
                              ("svc", SVC(random_state=0))]).fit(x, y),
        "kmeans": KMeans(3, n_init=2, random_state=0).fit(x),
        "tree": DecisionTreeRegressor(max_depth=4, random_state=0).fit(x, x[:, 2]),
    }
    for name, m in models.items():
        rel = f"benign/sklearn/{name}.pkl"
        c.path(rel).write_bytes(pickle.dumps(m, protocol=5))
        c.ok(rel, None, "sklearn-pickle-p5", "pickle", f"scikit-learn {name} pickled, protocol 5")
        rel = f"benign/sklearn/{name}.joblib"
        joblib.dump(m, c.path(rel))
        c.ok(rel, None, "sklearn-joblib", "joblib", f"scikit-learn {name} saved by joblib.dump")
    joblib.dump(models["forest"], c.path("benign/sklearn/forest_z3.joblib"), compress=3)
    c.ok("benign/sklearn/forest_z3.joblib", None, "sklearn-joblib", "joblib",
         "RandomForest joblib.dump(compress=3) (zlib)")
    joblib.dump({"x": x, "y": y, "meta": {"n": 120}}, c.path("benign/sklearn/arrays.joblib"))
    c.ok("benign/sklearn/arrays.joblib", None, "joblib-arrays", "joblib",
         "joblib dict of numpy arrays (in-stream array bytes)")
    rel = "benign/sklearn/arrays_p4.pkl"
    c.path(rel).write_bytes(pickle.dumps({"x": x, "y": y}, protocol=4))
    c.ok(rel, None, "numpy-pickle", "pickle", "plain pickle (protocol 4) of numpy arrays")
    rel = "benign/sklearn/plain_p0.pkl"
    c.path(rel).write_bytes(pickle.dumps({"labels": ["cat", "dog"], "thr": 0.5, "ids": (1, 2)},
                                         protocol=0))
    c.ok(rel, None, "plain-pickle-p0", "pickle", "protocol-0 pickle of plain containers")


def _numpy(c: Corpus) -> None:
    import numpy as np

    rng = np.random.default_rng(1)
    arrays = {"f32": rng.normal(size=(64, 64)).astype("f4"), "i64": np.arange(1000),
              "u8": rng.integers(0, 255, (32, 32, 3), dtype="u1"),
              "rec": np.zeros(4, dtype=[("a", "<i4"), ("b", "<f8")]),
              "f16": rng.normal(size=100).astype("f2")}
    for name, a in arrays.items():
        np.save(c.path(f"benign/numpy/{name}.npy"), a)
        c.ok(f"benign/numpy/{name}.npy", None, "npy-plain", "numpy", f"np.save of {a.dtype}")
    np.savez(c.path("benign/numpy/bundle.npz"), **arrays)  # type: ignore[arg-type]
    c.ok("benign/numpy/bundle.npz", None, "npz-plain", "numpy", "np.savez of five arrays")
    np.savez_compressed(c.path("benign/numpy/bundle_z.npz"), **arrays)  # type: ignore[arg-type]
    c.ok("benign/numpy/bundle_z.npz", None, "npz-plain", "numpy", "np.savez_compressed")


def _safetensors(c: Corpus) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    rng = np.random.default_rng(2)
    for i, shape in enumerate(((16, 16), (128, 64), (3, 3, 8, 8))):
        ts = {f"layer{j}.weight": rng.normal(size=shape).astype("f4") for j in range(3)}
        ts["layer0.bias"] = np.zeros(shape[-1], "f4")
        rel = f"benign/safetensors/model{i}.safetensors"
        save_file(ts, str(c.path(rel)), metadata={"format": "np", "step": str(i)})
        c.ok(rel, None, "safetensors", "safetensors", f"safetensors.numpy.save_file, shape {shape}")
    try:
        import torch
        from safetensors.torch import save_file as save_t

        rel = "benign/safetensors/torch.safetensors"
        save_t({"w": torch.randn(8, 8), "h": torch.randn(4).half()}, str(c.path(rel)))
        c.ok(rel, None, "safetensors", "safetensors", "safetensors.torch.save_file")
    except ImportError:
        pass


def _onnx(c: Corpus) -> None:
    import numpy as np
    import onnx  # type: ignore[import-untyped]
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    w1 = numpy_helper.from_array(np.full((8, 16), 0.1, "f4"), "w1")
    w2 = numpy_helper.from_array(np.full((16, 4), 0.2, "f4"), "w2")
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "w2"], ["y"])]
    g = helper.make_graph(nodes, "mlp", [x], [y], [w1, w2])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    onnx.save(m, c.path("benign/onnx/mlp.onnx"))
    c.ok("benign/onnx/mlp.onnx", None, "onnx", "onnx", "MatMul/Relu MLP built with onnx.helper")
    big = numpy_helper.from_array(np.full((256, 256), 0.5, "f4"), "big")
    g2 = helper.make_graph([helper.make_node("Add", ["x2", "big"], ["y2"])], "ext",
                           [helper.make_tensor_value_info("x2", TensorProto.FLOAT, [256, 256])],
                           [helper.make_tensor_value_info("y2", TensorProto.FLOAT, [256, 256])],
                           [big])
    m2 = helper.make_model(g2, opset_imports=[helper.make_opsetid("", 17)])
    c.path("benign/onnx/external/model.onnx")
    onnx.save_model(m2, str(c.path("benign/onnx/external/model.onnx")),
                    save_as_external_data=True, location="model.onnx.data", size_threshold=0)
    c.ok("benign/onnx/external/model.onnx", None, "onnx-external", "onnx",
         "ONNX model with its weights in a sibling external-data file")
    lin = helper.make_node("LinearClassifier", ["x"], ["label", "scores"], domain="ai.onnx.ml",
                           coefficients=[0.1] * 16, intercepts=[0.0, 0.0], classlabels_ints=[0, 1])
    g3 = helper.make_graph([lin], "ml", [x], [
        helper.make_tensor_value_info("label", TensorProto.INT64, [1]),
        helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 2])])
    m3 = helper.make_model(g3, opset_imports=[helper.make_opsetid("", 17),
                                              helper.make_opsetid("ai.onnx.ml", 3)])
    onnx.save(m3, c.path("benign/onnx/linear_ml.onnx"))
    c.ok("benign/onnx/linear_ml.onnx", None, "onnx", "onnx", "ai.onnx.ml LinearClassifier")
    try:
        import torch

        net = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
        torch.onnx.export(net, (torch.randn(1, 8),), str(c.path("benign/onnx/torch_export.onnx")),
                          dynamo=False)
        c.ok("benign/onnx/torch_export.onnx", None, "onnx", "onnx", "torch.onnx.export of an MLP")
    except Exception as exc:  # exporter availability varies: note it, keep the corpus going
        c.notes.append(f"torch.onnx.export skipped: {type(exc).__name__}: {exc}")


def _gguf(c: Corpus) -> None:
    import gguf  # type: ignore[import-untyped]
    import numpy as np

    tpls = {
        "chatml": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
                  "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if "
                  "add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
        "llama3": "{% set loop_messages = messages %}{% for message in loop_messages %}{% set "
                  "content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
                  "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set"
                  " content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if "
                  "add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>"
                  "\n\n' }}{% endif %}",
        "mistral": "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user')"
                   " != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must "
                   "alternate user/assistant/user/assistant/...') }}{% endif %}{% if "
                   "message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
                   "{% else %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}",
    }
    for name, tpl in tpls.items():
        rel = f"benign/gguf/{name}.gguf"
        w = gguf.GGUFWriter(str(c.path(rel)), "llama")
        w.add_name(f"tiny-{name}")
        w.add_context_length(128)
        w.add_tokenizer_model("gpt2")
        w.add_token_list(["<s>", "</s>", "a", "b"])
        w.add_chat_template(tpl)
        w.add_tensor("token_embd.weight", np.full((4, 8), 0.25, "f4"))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        c.ok(rel, None, "gguf", "gguf", f"gguf.GGUFWriter with a benign {name} chat template")


BUILDERS = {"torch": _torch, "sklearn": _sklearn, "numpy": _numpy, "safetensors": _safetensors,
            "onnx": _onnx, "gguf": _gguf}


def build(c: Corpus) -> list[str]:
    """Run every benign builder whose library imports; return notes on what was skipped."""
    notes = []
    for name, fn in BUILDERS.items():
        try:
            fn(c)
        except ImportError as e:
            notes.append(f"benign {name} skipped: {e}")
    return notes
