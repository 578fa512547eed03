"""Ordinary models saved by the real libraries: no findings (the false-positive guard)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from models_helpers import scan

from secpipe.core.findings import Severity
from secpipe.scanners.models.engine import ModelScanner


def test_numpy_npy_npz_are_clean(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    np.save(tmp_path / "a.npy", np.arange(12, dtype="f4").reshape(3, 4))
    np.savez_compressed(tmp_path / "b.npz", x=np.ones(5), y=np.zeros((2, 2), "i8"))
    np.savez(tmp_path / "c.npz", x=np.ones(5))
    for name in ("a.npy", "b.npz", "c.npz"):
        assert scan(tmp_path / name) == [], name


def test_numpy_arrays_pickled_every_protocol_are_clean(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    value = {"a": np.arange(10.0), "b": np.float32(1.5), "dt": np.dtype("<i4"),
             "rng": np.random.default_rng(0), "rs": np.random.RandomState(0)}
    for p in range(2, 6):
        (tmp_path / f"n{p}.pkl").write_bytes(pickle.dumps(value, protocol=p))
        assert scan(tmp_path / f"n{p}.pkl") == [], p


def test_sklearn_pickles_and_joblib_are_clean(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    joblib = pytest.importorskip("joblib")
    np = pytest.importorskip("numpy")
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 4)), np.arange(60) % 2
    models = {
        "lr": make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y),
        "rf": RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y),
        "tfidf": make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(
            ["good day", "bad day", "good night", "bad night"] * 3, [1, 0, 1, 0] * 3),
    }
    for name, model in models.items():
        (tmp_path / f"{name}.pkl").write_bytes(pickle.dumps(model, protocol=5))
        joblib.dump(model, tmp_path / f"{name}.joblib")
        joblib.dump(model, tmp_path / f"{name}.z.joblib", compress=3)
        for suffix in (".pkl", ".joblib", ".z.joblib"):
            report = ModelScanner().scan_file(tmp_path / f"{name}{suffix}", name + suffix)
            # only the informational "pickle-based format" note: nothing to act on
            assert [f.rule_id for f in report.findings] == ["models.pickle.unsafe-format"], (
                name, suffix, report.findings[:2])
            assert report.findings[0].severity is Severity.INFO
            assert report.formats


def test_safetensors_library_file_is_clean(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    st = pytest.importorskip("safetensors.numpy")
    st.save_file({"w": np.ones((3, 3), "f4"), "b": np.zeros(3, "f2")}, str(tmp_path / "m.st"),
                 metadata={"format": "np"})
    assert scan(tmp_path / "m.st") == []


def test_onnx_library_model_with_ml_domain_is_clean(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, save_model

    node = helper.make_node("Normalizer", ["x"], ["y"], domain="ai.onnx.ml", norm="L2")
    relu = helper.make_node("Relu", ["y"], ["z"])
    g = helper.make_graph([node, relu], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor("w", TensorProto.FLOAT, [4], [1.0] * 4)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                            helper.make_opsetid("ai.onnx.ml", 3)])
    save_model(m, str(tmp_path / "m.onnx"), save_as_external_data=True,
               all_tensors_to_one_file=True, location="m.data", size_threshold=0)
    assert scan(tmp_path / "m.onnx") == []


def test_h5py_file_without_config_is_clean(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    np = pytest.importorskip("numpy")
    with h5py.File(tmp_path / "w.h5", "w") as f:
        f.create_dataset("kernel", data=np.zeros((4, 2), "f4"))
        f.attrs["model_config"] = '{"class_name": "Sequential", "config": {"layers": [' \
            '{"class_name": "Dense", "config": {"units": 2}}]}}'
    assert scan(tmp_path / "w.h5") == []


def test_text_and_binary_non_models_are_ignored(tmp_path: Path) -> None:
    files = {"README": b"(a note)\n", "vocab.txt": b"[PAD]\n[UNK]\nhello\n",
             "config.json": b'{"hidden_size": 4}', "blob.bin": bytes(range(256)) * 10}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        report = ModelScanner().scan_file(tmp_path / name, name)
        assert report.findings == [] and not report.formats, name


def test_text_that_starts_like_a_pickle_is_not_one(tmp_path: Path) -> None:
    files = {"labels.csv": b"category\nspam\nham\nspam\n", "dot.txt": b".hidden\nfile\n",
             "notes.txt": b"(this is a note) and a list: a, b, c\n"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        report = ModelScanner().scan_file(tmp_path / name, name)
        assert report.findings == [] and not report.formats, name
