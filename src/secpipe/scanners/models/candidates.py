"""Every candidate file is accounted for: a file a model loader would open that no reader could
identify is a finding, never a silent "not a model".

A file is a candidate by its extension (the names ``torch.load``, ``joblib.load``, ``pickle.load``,
NeMo, Keras … are pointed at). When the content matched no format (and no reader reported
anything), it is ``models.undecided``: **high** for extensions whose loaders run code (pickle
family, NeMo, Keras, HDF5), **medium** for the others. A Git LFS pointer (a checkout without its
large files) is text no loader accepts and is not reported.
"""

from __future__ import annotations

from secpipe.core.findings import Severity
from secpipe.scanners.models.pickle_values import Buf
from secpipe.scanners.models.report import Collector, Where

_CODE_LOADERS = frozenset([
    "pkl", "pickle", "pk", "joblib", "jbl", "dill", "sav", "pt", "pth", "ckpt", "nemo",
    "keras", "h5", "hdf5", "mar", "npy", "npz", "pkl.gz", "joblib.gz",
    "pkl.xz", "pkl.bz2", "pkl.lzma", "pkl.z", "joblib.z", "joblib.xz", "joblib.lzma",
    "joblib.bz2", "joblib.lz4", "pkl.lz4"])
"""Extensions whose loaders may run code: an unidentified one is a high finding."""
_OTHER_MODELS = frozenset(["bin", "onnx", "safetensors", "gguf", "ggml", "pb", "pbtxt", "tflite",
                           "mlmodel", "llamafile", "msgpack", "ot", "engine", "plan"])
"""Model extensions whose loaders do not run code, and ``.bin`` (also many non-model formats):
an unidentified one is a medium finding."""
_GENERIC = frozenset(["bin", "engine", "plan", "msgpack", "ot", "pb"])
"""Extensions many non-model formats share (firmware, data dumps): a candidate only when the
name says model (``pytorch_model.bin``, ``optimizer.bin``, ``model.engine`` …)."""
_MODEL_WORDS = ("model", "weight", "checkpoint", "ckpt", "optimizer", "training_args",
                "scheduler", "rng_state", "adapter", "lora", "embedding", "tokenizer")
_LFS = b"version https://git-lfs.github.com/spec/"


_FOREIGN = frozenset([b"SR\x00\x04", b"SR\x00\x06"])
"""Magics of other formats sharing a model extension, which no model loader opens: IDL ``SAVE``
files (``.sav``, read by ``scipy.io.readsav``; ``\x06``: compressed). A pickle loader fails on
them at the first opcode (``S`` needs a quoted string), so they carry no code."""


def _model_named(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _MODEL_WORDS)


def extension(name: str) -> str:
    """``pkl``, ``joblib.xz`` …: the last one or two suffixes, lower case."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].lower()
    parts = base.split(".")
    if len(parts) < 2:
        return ""
    two = ".".join(parts[-2:])
    return two if len(parts) > 2 and two in _CODE_LOADERS else parts[-1]


def account(buf: Buf, where: Where, coll: Collector) -> None:
    """Report a candidate file that nothing identified (call only when no reader reported)."""
    if coll.findings or coll.formats or coll.pickle_streams:
        return
    ext = extension(where.member.rsplit("!", 1)[-1] if where.member else where.path)
    name = (where.member.rsplit("!", 1)[-1] if where.member else where.path).rsplit("/", 1)[-1]
    if ext in _CODE_LOADERS:
        severity = Severity.HIGH
    elif ext in _OTHER_MODELS and (ext not in _GENERIC or _model_named(name)):
        severity = Severity.MEDIUM
    else:
        return
    if bytes(buf[:len(_LFS)]) == _LFS or bytes(buf[:4]) in _FOREIGN:
        return
    why = (f"could not analyse: named like a model (.{ext}) that a loader would open, but its "
           f"content matches no format the scanner reads ({bytes(buf[:8]).hex()}…)")
    coll.add("models.undecided", severity, where, f"not analysed: {why}", key="candidate",
             props={"reason": why})
