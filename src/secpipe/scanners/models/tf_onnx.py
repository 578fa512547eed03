"""Protobuf model formats, decoded with the wire-format reader: ONNX and TensorFlow SavedModel.

* ONNX: every graph (main graph, node attribute subgraphs at any depth, training graphs, model
  functions) is walked for tensors whose ``external_data`` location leaves the model folder, and for
  nodes from operator domains that need a custom native library.
* SavedModel in protobuf *text* format (``saved_model.pbtxt``); the binary form and
  ``keras_metadata.pb`` are :mod:`.savedmodel`'s (re-exported here for the engine).
"""

from __future__ import annotations

import codecs
import posixpath
import re
from pathlib import Path

from secpipe.core.findings import Severity
from secpipe.scanners.models.pickle_values import Buf
from secpipe.scanners.models.protobuf import MAX_DEPTH, ProtoError, Span, fields, text
from secpipe.scanners.models.report import Collector, Where
from secpipe.scanners.models.savedmodel import FILE_OPS as _TF_FILE_OPS
from secpipe.scanners.models.savedmodel import PYTHON_OPS as _TF_PYTHON_OPS
from secpipe.scanners.models.savedmodel import scan_keras_metadata, scan_savedmodel

__all__ = ["scan_keras_metadata", "scan_onnx", "scan_savedmodel", "scan_savedmodel_text"]

_ONNX_DOMAINS = frozenset(["", "ai.onnx", "ai.onnx.ml", "ai.onnx.training",
                           "ai.onnx.preview.training", "com.microsoft", "com.microsoft.nchwc",
                           "com.microsoft.experimental", "com.ms.internal.nhwc",
                           "org.pytorch.aten", "com.microsoft.dml"])

class _Walk:
    def __init__(self, buf: Buf, where: Where, coll: Collector) -> None:
        self.buf, self.where, self.coll = buf, where, coll
        self.model_dir: Path | None = None

    def sub(self, span: int | Span) -> Span:
        if not isinstance(span, tuple):
            raise ProtoError("expected a message")
        return span


# ---------------------------------------------------------------- ONNX


def scan_onnx(buf: Buf, where: Where, coll: Collector, model_dir: Path | None = None) -> None:
    """Walk an ONNX ModelProto (see the module docstring). ``model_dir`` (the folder of a model
    file on disk) lets external-data locations that are symbolic links be caught too."""
    coll.formats.add("onnx")
    w = _Walk(buf, where, coll)
    w.model_dir = model_dir
    local_domains: set[str] = set()
    graphs: list[Span] = []
    functions: list[Span] = []
    try:
        for number, _, value in fields(buf, 0, len(buf)):
            if number == 7:
                graphs.append(w.sub(value))
            elif number == 25:
                span = w.sub(value)
                functions.append(span)
                for n2, _, v2 in fields(buf, *span):
                    if n2 == 10:
                        local_domains.add(text(buf, v2))
            elif number == 20:
                for _, _, v2 in fields(buf, *w.sub(value)):
                    graphs.append(w.sub(v2))
        for g in graphs:
            _onnx_graph(w, g, 0, local_domains)
        for f in functions:
            for n2, _, v2 in fields(buf, *f):
                if n2 == 5:
                    _onnx_node(w, w.sub(v2), 1, local_domains)
    except ProtoError as exc:
        coll.incomplete(where, f"ONNX protobuf could not be decoded: {exc}")


def _onnx_graph(w: _Walk, span: Span, depth: int, local: set[str]) -> None:
    if depth > MAX_DEPTH:
        w.coll.incomplete(w.where, f"ONNX subgraphs nested deeper than {MAX_DEPTH}")
        return
    for number, _, value in fields(w.buf, *span):
        if number == 1:
            _onnx_node(w, w.sub(value), depth, local)
        elif number == 5:
            _onnx_tensor(w, w.sub(value))
        elif number == 15:
            for _, _, v2 in fields(w.buf, *w.sub(value)):
                _onnx_tensor(w, w.sub(v2))


def _onnx_node(w: _Walk, span: Span, depth: int, local: set[str]) -> None:
    op, domain = "", ""
    for number, _, value in fields(w.buf, *span):
        if number == 4:
            op = text(w.buf, value)
        elif number == 7:
            domain = text(w.buf, value)
        elif number == 5:
            for n2, _, v2 in fields(w.buf, *w.sub(value)):
                if n2 in (6, 11):
                    _onnx_graph(w, w.sub(v2), depth + 1, local)
                elif n2 in (5, 10):
                    _onnx_tensor(w, w.sub(v2))
    if domain not in _ONNX_DOMAINS and domain not in local:
        w.coll.add("models.onnx.unknown-domain", Severity.HIGH, w.where,
                   f"node {op!r} comes from operator domain {domain!r}, which needs a custom "
                   "operator library to load", offset=span[0], key=f"{domain}:{op}",
                   props={"domain": domain, "op_type": op})


def _onnx_tensor(w: _Walk, span: Span) -> None:
    name = ""
    for number, _, value in fields(w.buf, *span):
        if number == 8:
            name = text(w.buf, value)
        elif number == 13:
            key = val = ""
            for n2, _, v2 in fields(w.buf, *w.sub(value)):
                if n2 == 1:
                    key = text(w.buf, v2)
                elif n2 == 2:
                    val = text(w.buf, v2)
            if key == "location":
                _location(w, name, val, span[0])


def _location(w: _Walk, tensor: str, location: str, offset: int) -> None:
    norm = location.replace("\\", "/")
    why = None
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        why = "is an absolute path"
    elif posixpath.normpath(norm).startswith("..") or "\x00" in norm:
        why = "climbs out of the model folder"
    elif w.model_dir is not None and _links_out(w.model_dir, norm):
        why = "is a symbolic link out of the model folder"
    if why:
        w.coll.add("models.onnx.external-data-escape", Severity.HIGH, w.where,
                   f"tensor {tensor!r} loads external data from {location!r}, which {why}",
                   offset=offset, key=location, props={"location": location})


def _links_out(model_dir: Path, location: str) -> bool:
    target = model_dir / location
    try:
        if not any(p.is_symlink() for p in (target, *target.parents) if model_dir in p.parents
                   or p == target):
            return False
        return not target.resolve().is_relative_to(model_dir.resolve())
    except (OSError, RuntimeError):
        return False


# ---------------------------------------------------------------- text format (.pbtxt)

_TEXT_OP = re.compile(rb"\bop\s*:\s*((?:\"(?:[^\"\\\n]|\\.)*\"\s*|'(?:[^'\\\n]|\\.)*'\s*)+)")
_TEXT_PIECE = re.compile(rb"\"((?:[^\"\\\n]|\\.)*)\"|'((?:[^'\\\n]|\\.)*)'")
_TEXT_NAME = re.compile(rb"\bname\s*:\s*\"((?:[^\"\\\n]|\\.)*)\"")
_TEXT_FILE_STREAM = re.compile(rb"\"output_stream\"\s*value\s*:?\s*\{\s*s\s*:\s*\"file://")
_TEXT_LIMIT = 256 << 20


def _unquote(raw: bytes) -> str:
    """Concatenated text-format string literals, C escapes decoded (``"Write" "F\\151le"``)."""
    out = b""
    for m in _TEXT_PIECE.finditer(raw):
        out += codecs.escape_decode(m.group(1) if m.group(1) is not None else m.group(2))[0]
    return out.decode("utf-8", "replace")


def scan_savedmodel_text(buf: Buf, where: Where, coll: Collector) -> None:
    """A SavedModel or GraphDef in protobuf *text* format (``saved_model.pbtxt``): TensorFlow
    loads it when no binary ``saved_model.pb`` is there. Every ``op: "..."`` of every node, in
    the graph and in the function library, is checked like the binary form."""
    coll.formats.add("savedmodel")
    if len(buf) > _TEXT_LIMIT:
        coll.incomplete(where, f"text SavedModel larger than {_TEXT_LIMIT} bytes")
    data = bytes(buf[:_TEXT_LIMIT])
    for m in _TEXT_OP.finditer(data):
        op = _unquote(m.group(1))
        names = _TEXT_NAME.findall(data, max(0, m.start() - 512), m.start())
        node = names[-1].decode("utf-8", "replace") if names else "?"
        if op in _TF_PYTHON_OPS:
            coll.add("models.savedmodel.python-op", Severity.CRITICAL, where,
                     f"{op} node {node!r} calls back into Python code", offset=m.start(),
                     key=f"text/{m.start()}", props={"op": op, "node": node, "scope": "text"})
        elif op in _TF_FILE_OPS:
            sev, what = _TF_FILE_OPS[op]
            coll.add("models.savedmodel.file-io-op", sev, where, f"{op} node {node!r} {what}",
                     offset=m.start(), key=f"text/{m.start()}",
                     props={"op": op, "node": node, "scope": "text"})
    for m in _TEXT_FILE_STREAM.finditer(data):
        coll.add("models.savedmodel.file-io-op", Severity.HIGH, where,
                 "a Print node writes to a file:// output stream", offset=m.start(),
                 key=f"text/print/{m.start()}", props={"op": "PrintV2", "scope": "text"})
