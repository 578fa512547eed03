"""ONNX models: export a fitted scikit-learn estimator (skl2onnx) and score one (onnxruntime).

Export runs in the training subprocess: a conversion skl2onnx refuses, or only warns it "may not
work", is an error naming the estimator (never a silent fallback to another format), and the
converted model must predict the training rows like the estimator did. Scoring never unpickles:
the file is parsed as protobuf, refused when it points at external data or uses operator domains
other than the standard ones, and run by onnxruntime, which only executes ONNX operators.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from secpipe.core.errors import InputError, StepError

#: Largest ONNX file scored (protobuf itself stops at 2 GiB).
MAX_ONNX_BYTES = 1 << 30
#: Share of training rows on which the ONNX model may predict another label than the estimator
#: (float32 arithmetic can flip a row that sits on a decision boundary).
MAX_DISAGREEMENT = 0.01
#: Rows of the training data replayed through the converted model.
PARITY_ROWS = 2000
#: Operator domains onnxruntime implements itself (anything else would need a custom-op library).
STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
_META_CLASSES, _META_SCORES = "secpipe.classes", "secpipe.scores"
_CLASS_ATTRS = ("classlabels_strings", "classlabels_int64s")


def describe(estimator: Any) -> str:
    """``Pipeline(TfidfVectorizer, SGDClassifier)`` or the class name."""
    steps = getattr(estimator, "steps", None)
    name = type(estimator).__name__
    if isinstance(steps, list):
        return f"{name}({', '.join(type(s).__name__ for _, s in steps)})"
    return name


def _feed(values: Any, kind: str) -> Any:
    """The estimator's input as an ONNX tensor: strings as one [N, 1] column, numbers float32."""
    if kind == "text":
        return np.asarray(values, dtype=object).reshape(-1, 1)
    array = np.asarray(values, dtype=np.float32)
    return array.reshape(-1, 1) if array.ndim == 1 else array


def export(estimator: Any, x: Any, kind: str) -> tuple[bytes, float]:
    """The ONNX bytes of a fitted classifier and its label agreement with the estimator on ``x``;
    :class:`StepError` when skl2onnx cannot convert it faithfully."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    what = describe(estimator)
    hint = "use format: skops"
    width = 1 if kind == "text" else int(np.asarray(x).shape[1])
    tensor = StringTensorType([None, 1]) if kind == "text" else FloatTensorType([None, width])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            proto = to_onnx(estimator, initial_types=[("input", tensor)])
        except Exception as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            raise StepError(f"format onnx: skl2onnx cannot convert {what}: {first} "
                            f"({hint})") from None
    doubts = [str(w.message) for w in caught if "skl2onnx" in str(w.filename)]
    if doubts:
        first = (doubts[0].splitlines() or [""])[0][:200]
        raise StepError(f"format onnx: skl2onnx does not fully support {what}: {first} ({hint})")
    classes = [str(c) for c in getattr(estimator, "classes_", [])]
    scores = "proba" if hasattr(estimator, "predict_proba") else (
        "decision" if hasattr(estimator, "decision_function") else "none")
    for key, value in ((_META_CLASSES, json.dumps(classes)), (_META_SCORES, scores)):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    data = bytes(proto.SerializeToString())
    rows = x[:PARITY_ROWS]
    try:
        labels = OnnxModel(data, "model.onnx").run(list(rows))[0]
    except (InputError, StepError) as exc:
        raise StepError(f"format onnx: the converted {what} does not run in onnxruntime: "
                        f"{exc} ({hint})") from None
    agreement = float(np.mean(np.asarray(estimator.predict(rows)).astype(str) == labels))
    if 1.0 - agreement > MAX_DISAGREEMENT:
        raise StepError(f"format onnx: the converted {what} predicts another label than the "
                        f"estimator on {1.0 - agreement:.1%} of training rows ({hint})")
    return data, agreement


class OnnxModel:
    """A parsed and checked ONNX classifier with an onnxruntime session (no code is loaded)."""

    def __init__(self, data: bytes, name: str) -> None:
        import onnx
        import onnxruntime as ort

        try:
            proto = onnx.load_model_from_string(data)
        except Exception as exc:
            raise InputError(f"model {name}: not a readable ONNX file: {exc}") from None
        external = [t.name for t in proto.graph.initializer
                    if t.data_location == onnx.TensorProto.EXTERNAL]
        if external:
            raise InputError(f"model {name}: tensor {external[0]!r} points at external data "
                             "(refused: only self-contained ONNX files are scored)")
        domains = sorted({o.domain for o in proto.opset_import} - STANDARD_DOMAINS)
        if domains:
            raise InputError(f"model {name}: uses custom operator domain {domains[0]!r} "
                             "(only standard ONNX operators are run)")
        self.meta = {p.key: p.value for p in proto.metadata_props}
        self.classes = self._classes(proto)
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(data, sess_options=options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise InputError(f"model {name}: onnxruntime cannot load it: "
                             f"{(str(exc).splitlines() or [''])[0][:300]}") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise InputError(f"model {name}: has {len(inputs)} inputs; secpipe scores models "
                             "with one input tensor (all feature columns)")
        self.input, self.input_type = inputs[0].name, str(inputs[0].type)
        if self.input_type not in ("tensor(string)", "tensor(float)", "tensor(double)"):
            raise InputError(f"model {name}: input type {self.input_type} is not supported")
        self.name = name

    def _classes(self, proto: Any) -> list[str] | None:
        try:
            listed = json.loads(self.meta.get(_META_CLASSES, "null"))
        except ValueError:
            listed = None
        if isinstance(listed, list) and listed:
            return [str(c) for c in listed]
        for node in proto.graph.node:  # a classifier operator names its classes, in order
            for attribute in node.attribute:
                if attribute.name == _CLASS_ATTRS[0] and attribute.strings:
                    return [s.decode("utf-8", "replace") for s in attribute.strings]
                if attribute.name == _CLASS_ATTRS[1] and attribute.ints:
                    return [str(i) for i in attribute.ints]
        return None

    def run(self, values: Sequence[Any]) -> tuple[list[str], Any]:
        """Labels and the raw second output (scores), or None."""
        if self.input_type == "tensor(string)":
            feed = _feed(values, "text")
        else:
            feed = _feed(values, "tabular")
            if self.input_type == "tensor(double)":
                feed = feed.astype(np.float64)
        try:
            outputs = self.session.run(None, {self.input: feed})
        except Exception as exc:
            raise StepError(f"model {self.name} failed to predict: "
                            f"{(str(exc).splitlines() or [''])[0][:300]}") from None
        labels = [str(v) for v in np.asarray(outputs[0]).reshape(-1)]
        return labels, outputs[1] if len(outputs) > 1 else None

    def scores(self, raw: Any, classes: list[str]) -> tuple[Any, Any]:
        """(probabilities, decision scores) as lists, at most one of them set."""
        if raw is None:
            return None, None
        if isinstance(raw, list):  # ZipMap: one {class: probability} per row
            raw = [[float(row.get(c, row.get(_int_or(c), 0.0))) for c in classes] for row in raw]
            self.meta.setdefault(_META_SCORES, "proba")
        array = np.asarray(raw, dtype=float)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        kind = self.meta.get(_META_SCORES)
        if kind is None:  # a foreign model: probabilities are rows in [0, 1] summing to 1
            kind = "proba" if array.ndim == 2 and array.min() >= 0 and array.max() <= 1 and \
                bool(np.allclose(array.sum(axis=1), 1.0, atol=1e-3)) else "decision"
        if kind == "proba":  # float32 rows: renormalise so they sum to one in float64
            total = array.sum(axis=1, keepdims=True)
            return np.divide(array, total, out=array.copy(), where=total > 0).tolist(), None
        return (None, array.tolist()) if kind == "decision" else (None, None)



def _int_or(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return text


def load_onnx(path: Path) -> OnnxModel:
    """Read and check an ONNX file (bounded size)."""
    try:
        size = path.stat().st_size
        if size > MAX_ONNX_BYTES:
            raise InputError(f"model {path.name}: {size} bytes is over the "
                             f"{MAX_ONNX_BYTES} byte limit for ONNX models")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"model {path.name}: cannot be read: {exc.strerror}") from None
    return OnnxModel(data, path.name)


def predict_onnx(model: OnnxModel, sets: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """The same shape as :func:`secpipe.ml.predict.predict_sets`, from an ONNX model."""
    out: dict[str, Any] = {"classes": [], "sets": {}}
    results = {name: model.run(values) for name, values in sets.items()}
    classes = model.classes
    if classes is None:  # no class list in the file: scores cannot be matched to classes
        classes = sorted({label for labels, _ in results.values() for label in labels})
    out["classes"] = classes
    for name, (labels, raw) in results.items():
        proba, decision = model.scores(raw, classes) if model.classes is not None else (None,
                                                                                        None)
        out["sets"][name] = {"pred": labels, "proba": proba, "decision": decision}
    return out
