"""Keras model configs (``.keras`` config.json, legacy ``.h5`` model_config, SavedModel metadata).

A config is JSON; it is walked, never deserialised. Reported: Lambda layers (serialized Python
bytecode), objects and function references whose module is outside Keras (judged with the pickle
allowlist's ladder), Keras functions that turn safety off or fetch files, and TFOpLambda layers that
call file or Python-callback ops.

HDF5: the root ``model_config`` / ``training_config`` attributes are read with h5py when it is
installed, in a separate resource-limited process (:mod:`.hdf5`; libhdf5 crashes on some
malformed files), and a raw scan of the whole file for JSON configs runs in any case (with or
without h5py); each finding's format says which reader found the config.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from secpipe.core.findings import Severity
from secpipe.scanners.models import hdf5
from secpipe.scanners.models.callables import Verdict, judge
from secpipe.scanners.models.pickle_values import Buf
from secpipe.scanners.models.report import Collector, Where
from secpipe.scanners.models.treewalk import mappings

_KERAS_ROOTS = ("keras", "tf_keras", "tensorflow", "keras_nlp", "keras_hub", "keras_cv")
_KERAS_UNSAFE = frozenset(["enable_unsafe_deserialization", "get_file", "load_model",
                           "load_weights", "set_floatx", "config", "deserialize_keras_object",
                           "register_keras_serializable", "get_custom_objects"])
_TF_OP_PREFIXES = ("io.", "py_function", "numpy_function", "compat.v1.py_func", "raw_ops.",
                   "debugging.", "summary.", "data.experimental.", "saved_model.", "keras.utils")
_MAX_NODES = 2_000_000


def scan_json_config(buf: Buf, where: Where, coll: Collector) -> None:
    """A JSON file or member: checked when it is a Keras model config."""
    try:
        data = json.loads(bytes(buf))
    except (ValueError, RecursionError):
        return
    if isinstance(data, dict) and "class_name" in data and "config" in data:
        coll.formats.add("keras")
        check_config(data, where, coll)


def check_config(data: object, where: Where, coll: Collector) -> None:
    """Walk a Keras config (iteratively, bounded) and report what loading it would run."""
    for node in mappings(data, where, coll, "Keras config", _MAX_NODES):
        _check_object(node, where, coll)


def _digest(node: dict[str, Any]) -> str:
    """A key that names this serialized lambda by its content, the same on every run (a
    finding's fingerprint must not change between runs: baselines and suppressions use it)."""
    text = json.dumps(node, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _check_object(node: dict[str, Any], where: Where, coll: Collector) -> None:
    cls = node.get("class_name")
    cfg = node.get("config")
    cfg_d = cfg if isinstance(cfg, dict) else {}
    name = str(cfg_d.get("name", "")) or str(cls)
    if cls == "Lambda":
        fn = cfg_d.get("function")
        code = isinstance(fn, list | str) or (isinstance(fn, dict) and fn.get(
            "class_name") == "__lambda__")
        coll.add("models.keras.lambda-layer", Severity.CRITICAL if code else Severity.HIGH,
                 where, f"Lambda layer {name!r} "
                 + ("carries serialized Python bytecode that runs when the model is loaded"
                    if code else "calls a Python function when the model is built"),
                 key=f"lambda:{name}", props={"layer": name})
    elif cls == "__lambda__":
        coll.add("models.keras.lambda-layer", Severity.CRITICAL, where,
                 "serialized Python lambda (bytecode) in the config",
                 key=f"lambda-fn:{_digest(node)}")
    elif cls == "TFOpLambda":
        fn = str(cfg_d.get("function", ""))
        if fn.startswith(_TF_OP_PREFIXES):
            coll.add("models.keras.unsafe-object", Severity.HIGH, where,
                     f"TFOpLambda layer {name!r} calls tf.{fn}", key=f"tfop:{name}",
                     props={"callable": f"tf.{fn}"})
    module = node.get("module")
    if not isinstance(module, str) or not isinstance(cls, str):
        return
    target = cfg if cls == "function" and isinstance(cfg, str) else (
        node.get("registered_name") if cls == "function" else cls)
    full = f"{module}.{target}" if isinstance(target, str) and target else module
    root = module.split(".")[0]
    if root in _KERAS_ROOTS:
        leaf = full.rsplit(".", 1)[-1]
        unsafe_module = module.split(".")[-1] in ("config", "utils", "saving", "file_utils", "io")
        odd_function = cls == "function" and not isinstance(cfg, str)
        if leaf in _KERAS_UNSAFE or unsafe_module or odd_function:
            coll.add("models.keras.unsafe-object", Severity.CRITICAL, where,
                     f"config invokes {full}, which turns off safe loading or touches files",
                     key=full, props={"callable": full})
        return
    j = judge(full)
    if j.verdict is Verdict.DANGEROUS:
        coll.add("models.keras.unsafe-object", Severity.CRITICAL, where,
                 f"config references {full} ({j.reason})", key=full, props={"callable": full})
    elif j.verdict is Verdict.UNKNOWN:
        coll.add("models.keras.custom-object", Severity.MEDIUM, where,
                 f"config references {full}, outside Keras", key=full, props={"callable": full})


def scan_hdf5(buf: Buf, where: Where, coll: Collector, file_path: Path | None, limit: int,
              seconds: float) -> None:
    """Read a Keras ``.h5`` model's config attributes: h5py in an isolated process when it is
    installed (:mod:`.hdf5`), plus a raw scan of the whole file for JSON configs."""
    coll.formats.add("keras-h5")
    result = hdf5.read_configs(buf, file_path, limit, seconds)
    if result.problem:
        coll.add("models.scan-incomplete", Severity.HIGH, where,
                 f"{result.problem}: a malformed file that may target HDF5 readers",
                 key="hdf5-reader", props={"reason": result.problem})
    configs = [(text, "h5py") for text in result.configs or []]
    configs += [(text, "raw scan") for text in _raw_configs(buf)]
    for text, method in configs:
        inner = where.typed(f"keras-h5 ({method})")  # which reader found the config
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            coll.incomplete(inner, f"HDF5 model_config is not valid JSON ({method})")
            continue
        check_config(data, inner, coll)


def _raw_configs(buf: Buf) -> list[str]:
    out: list[str] = []
    end = len(buf)  # bytes.find / mmap.find run at memory speed
    pos = 0
    decoder = json.JSONDecoder()
    while len(out) < 4:
        at = buf.find(b'{"class_name"', pos, end)
        if at < 0:
            break
        chunk = bytes(buf[at:min(end, at + (16 << 20))]).decode("utf-8", "replace")
        try:
            _, length = decoder.raw_decode(chunk)
            out.append(chunk[:length])
            pos = at + length
        except ValueError:
            pos = at + 1
    return out
