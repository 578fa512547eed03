"""``format: onnx``: skl2onnx export in the training subprocess, onnxruntime scoring in evaluate."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

from secpipe.core.results import StepResult, StepStatus
from secpipe.ml.evaluate_step import EvaluateStep
from secpipe.ml.formats import detect_format
from secpipe.ml.settings import EvaluateSettings, TrainSettings
from secpipe.ml.train_step import TrainStep

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")

LR_PY = '''
from sklearn.linear_model import LogisticRegression


def build(seed=0):
    return LogisticRegression(random_state=seed)
'''
FEATURES = [f"f{i}" for i in range(5)]


def _numeric_split() -> tuple[Any, Any, Any, Any]:
    x, y = make_classification(n_samples=300, n_features=5, n_informative=3, random_state=0)
    labels = np.array(["neg", "pos"])[y]
    return x[:200], labels[:200], x[200:], labels[200:]


def _write(path: Path, x: Any, y: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*FEATURES, "label"])
        for row, label in zip(x, y, strict=True):
            writer.writerow([repr(float(v)) for v in row] + [label])


@pytest.fixture
def numeric_project(tmp_path: Path) -> Path:
    root = tmp_path / "num"
    (root / "data").mkdir(parents=True)
    (root / "model.py").write_text(LR_PY, encoding="utf-8")
    xt, yt, xh, yh = _numeric_split()
    _write(root / "data" / "train.csv", xt, yt)
    _write(root / "data" / "holdout.csv", xh, yh)
    return root


def _train(ctx: Any, **settings: Any) -> StepResult:
    return TrainStep().run(ctx, TrainSettings.model_validate(settings))


def _evaluate(ctx: Any, **settings: Any) -> StepResult:
    return EvaluateStep().run(ctx, EvaluateSettings.model_validate(
        {"data": "data/holdout.csv", "compare_with_last": False, **settings}))


def test_onnx_model_is_onnx_and_scores_like_sklearn(ctx_factory: Any,
                                                    numeric_project: Path) -> None:
    result = _train(ctx_factory("train", root=numeric_project), estimator="model.py:build",
                    data="data/train.csv", folds=3, format="onnx")
    assert result.status is StepStatus.PASSED, result.message
    assert "model: onnx" in result.message
    assert not result.findings  # a safe format: no ml.unsafe-model-format finding
    model = Path({a.name: a for a in result.artifacts}["model"].path)
    assert model.name == "model.onnx" and detect_format(model) == "onnx"
    assert model.read_bytes()[:1] == b"\x08"  # protobuf field 1 (ir_version), not a zip/pickle
    proto = onnx.load(str(model))
    onnx.checker.check_model(proto)
    assert [i.name for i in proto.graph.input] == ["input"]
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["secpipe.classes"]) == ["neg", "pos"]
    record = json.loads(Path({a.name: a for a in result.artifacts}["training-record"].path)
                        .read_text())
    assert record["model"]["format"] == "onnx" and record["model"]["safe"] is True
    assert "skl2onnx" in record["libraries"] and "onnxruntime" in record["libraries"]
    assert record["estimator"]["onnx_agreement"] >= 0.99

    evaluated = _evaluate(ctx_factory("evaluate", root=numeric_project))
    assert evaluated.status is StepStatus.PASSED, evaluated.message
    xt, yt, xh, yh = _numeric_split()
    reference = LogisticRegression(random_state=0).fit(xt, yt)
    pred, proba = reference.predict(xh), reference.predict_proba(xh)
    m = evaluated.metrics
    assert m["accuracy"] == pytest.approx(accuracy_score(yh, pred), abs=0.011)  # <= 1 row
    assert m["f1_macro"] == pytest.approx(f1_score(yh, pred, average="macro"), abs=0.011)
    assert m["roc_auc_ovr"] == pytest.approx(roc_auc_score(yh, proba[:, 1]), abs=1e-3)
    assert m["log_loss"] == pytest.approx(log_loss(yh, proba, labels=["neg", "pos"]), abs=1e-4)


def test_unsupported_conversion_is_a_one_line_error_naming_the_estimator(
        ctx_factory: Any) -> None:
    ctx = ctx_factory("train")  # the text project: TfidfVectorizer(analyzer="char")
    result = _train(ctx, estimator="model.py:build_estimator", data="data/requests.csv",
                    features=["payload"], folds=3, format="onnx")
    assert result.status is StepStatus.ERROR
    assert "\n" not in result.message
    assert "skl2onnx" in result.message
    assert "Pipeline(TfidfVectorizer, SGDClassifier)" in result.message
    assert "format: skops" in result.message
    assert not list((ctx.workdir / "out").glob("model.*"))  # no silent fallback model
    assert "model" not in {a.name for a in result.artifacts}


def _graph_model(path: Path, domain: str = "", external: bool = False) -> None:
    from onnx import TensorProto, helper

    weight = helper.make_tensor("w", TensorProto.FLOAT, [1], [1.0])
    if external:
        weight.data_location = TensorProto.EXTERNAL
        weight.ClearField("float_data")
        entry = weight.external_data.add()
        entry.key, entry.value = "location", "../../../etc/passwd"
    node = helper.make_node("Mul" if not domain else "Evil", ["x", "w"], ["y"], domain=domain)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [None, 5])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, [None, 5])], initializer=[weight])
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    path.write_bytes(helper.make_model(graph, opset_imports=opsets).SerializeToString())


@pytest.mark.parametrize(("domain", "external", "expected"), [
    ("com.evil", False, "custom operator domain 'com.evil'"),
    ("", True, "points at external data"),
])
def test_onnx_with_custom_ops_or_external_data_is_refused(
        ctx_factory: Any, numeric_project: Path, domain: str, external: bool,
        expected: str) -> None:
    _graph_model(numeric_project / "model.onnx", domain, external)
    result = _evaluate(ctx_factory("evaluate", root=numeric_project), model="model.onnx")
    assert result.status is StepStatus.ERROR
    assert expected in result.message and "\n" not in result.message


def test_foreign_zipmap_onnx_model_gets_classes_from_its_graph(
        ctx_factory: Any, numeric_project: Path) -> None:
    from skl2onnx.common.data_types import FloatTensorType

    xt, yt, xh, yh = _numeric_split()
    reference = LogisticRegression(random_state=0).fit(xt, yt)
    proto = skl2onnx.to_onnx(reference, initial_types=[("x", FloatTensorType([None, 5]))])
    (numeric_project / "model.onnx").write_bytes(proto.SerializeToString())  # ZipMap output
    result = _evaluate(ctx_factory("evaluate", root=numeric_project), model="model.onnx")
    assert result.status is StepStatus.PASSED, result.message
    proba = reference.predict_proba(xh)
    assert result.metrics["roc_auc_ovr"] == pytest.approx(roc_auc_score(yh, proba[:, 1]),
                                                          abs=1e-3)
    assert result.metrics["accuracy"] == pytest.approx(
        accuracy_score(yh, reference.predict(xh)), abs=0.011)
