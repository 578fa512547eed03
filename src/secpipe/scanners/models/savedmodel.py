"""TensorFlow SavedModel protobufs, decoded with the bounded wire reader (:mod:`.protobuf`).

Every ``.pb`` of a SavedModel folder is typed by content and reaches one of these readers:

* ``saved_model.pb`` (:func:`scan_savedmodel`): every meta graph's graph nodes and function
  library (nested ``tf.function`` bodies); every node's attribute values (``s``, ``tensor``
  string values, lists, variant tensors) that decode as a serialized ``GraphDef`` or
  ``FunctionDefLibrary`` are walked the same way, recursively (``DatasetFromGraph`` imports
  such a graph at run time), up to :data:`MAX_NESTING` levels; the meta graph's collection
  byte lists likewise; and the object graph's ``SavedUserObject.metadata`` (the JSON layer
  config Keras reads when there is no ``keras_metadata.pb``) goes to the Keras config rules.
* ``keras_metadata.pb`` (:func:`scan_keras_metadata`): each node's JSON metadata is a layer
  config (a Lambda layer's marshalled bytecode is critical, as in ``.keras``/``.h5``).
* ``fingerprint.pb`` holds only hashes and is not a model; any other ``.pb`` (``assets/``,
  ``variables/``) is typed by its bytes like every file, never by its name.

Ops that call back into Python or touch files are reported (:data:`PYTHON_OPS`,
:data:`FILE_OPS`); ordinary checkpoint ops (SaveV2, RestoreV2 …) are not.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from secpipe.core.findings import Severity
from secpipe.scanners.models import keras_fmt
from secpipe.scanners.models.pickle_values import Buf
from secpipe.scanners.models.protobuf import ProtoError, Span, fields, text
from secpipe.scanners.models.report import Collector, Where

PYTHON_OPS = frozenset(["PyFunc", "PyFuncStateless", "EagerPyFunc"])
FILE_OPS: dict[str, tuple[Severity, str]] = {
    "WriteFile": (Severity.CRITICAL, "writes a file"),
    "ReadFile": (Severity.HIGH, "reads a file"),
    "DeleteFile": (Severity.CRITICAL, "deletes a file"),
    "MatchingFiles": (Severity.HIGH, "lists files"),
    "MatchingFilesDataset": (Severity.HIGH, "lists files"),
    "ExperimentalMatchingFilesDataset": (Severity.HIGH, "lists files"),
    "DatasetToTFRecord": (Severity.HIGH, "writes a file"),
    "ExperimentalDatasetToTFRecord": (Severity.HIGH, "writes a file"),
    "SaveDataset": (Severity.HIGH, "writes files"),
    "SaveDatasetV2": (Severity.HIGH, "writes files"),
    "LoadDataset": (Severity.MEDIUM, "reads files"),
    "TFRecordDataset": (Severity.MEDIUM, "reads files"),
    "TFRecordDatasetV2": (Severity.MEDIUM, "reads files"),
    "FixedLengthRecordDataset": (Severity.MEDIUM, "reads files"),
    "TextLineDataset": (Severity.MEDIUM, "reads files"),
    "ImmutableConst": (Severity.MEDIUM, "memory-maps a file"),
    "CreateSummaryFileWriter": (Severity.HIGH, "writes files"),
    "CreateSummaryDbWriter": (Severity.HIGH, "writes files"),
    "WriteAudioSummary": (Severity.MEDIUM, "writes a summary file"),
    "DebugIdentity": (Severity.MEDIUM, "streams tensors to debug URLs"),
    "DebugIdentityV2": (Severity.MEDIUM, "streams tensors to debug URLs"),
    "DebugIdentityV3": (Severity.MEDIUM, "streams tensors to debug URLs"),
}

MAX_NESTING = 8
"""Graphs serialized inside attribute values inside graphs …: deeper is scan-incomplete."""
MAX_CANDIDATES = 200_000
"""Attribute byte values tried as nested graphs per file; more is scan-incomplete."""
_OP_NAME = re.compile(r"^[A-Za-z_>][A-Za-z0-9_>./-]{0,200}$")


@dataclass
class _Walk:
    buf: Buf
    where: Where
    coll: Collector
    candidates: int = 0
    stopped: bool = False

    def sub(self, span: int | Span) -> Span:
        if not isinstance(span, tuple):
            raise ProtoError("expected a message")
        return span


def scan_savedmodel(buf: Buf, where: Where, coll: Collector) -> None:
    """Walk a SavedModel (see the module docstring)."""
    coll.formats.add("savedmodel")
    w = _Walk(buf, where, coll)
    try:
        for number, _, value in fields(buf, 0, len(buf)):
            if number == 2:
                _meta_graph(w, w.sub(value))
    except ProtoError as exc:
        coll.incomplete(where, f"SavedModel protobuf could not be decoded: {exc}")


def _meta_graph(w: _Walk, span: Span) -> None:
    for number, _, value in fields(w.buf, *span):
        if number == 2:
            _graph(w, w.sub(value), "graph", 0)
        elif number == 4:  # collection_def: map<string, CollectionDef>; bytes_list = 2
            for n2, _, v2 in fields(w.buf, *w.sub(value)):
                if n2 == 2:
                    for n3, _, v3 in fields(w.buf, *w.sub(v2)):
                        if n3 == 2:
                            for n4, _, v4 in fields(w.buf, *w.sub(v3)):
                                if n4 == 1 and isinstance(v4, tuple):
                                    _candidate(w, v4, "collection", 0)
        elif number == 7:
            _object_graph(w, w.sub(value))


def _object_graph(w: _Walk, span: Span) -> None:
    """SavedObjectGraph.nodes[].user_object.metadata: a Keras layer config (JSON)."""
    for number, _, value in fields(w.buf, *span):
        if number != 1:
            continue
        for n2, _, v2 in fields(w.buf, *w.sub(value)):
            if n2 != 4:
                continue
            for n3, _, v3 in fields(w.buf, *w.sub(v2)):
                if n3 == 3:
                    _keras_json(w.buf, v3, w.where.typed("savedmodel (object graph)"), w.coll)


def _graph(w: _Walk, span: Span, scope: str, depth: int) -> None:
    """A GraphDef: nodes (1) and function library (2)."""
    for number, _, value in fields(w.buf, *span):
        if number == 1:
            _node(w, w.sub(value), scope, depth)
        elif number == 2:
            _library(w, w.sub(value), scope, depth)


def _library(w: _Walk, span: Span, scope: str, depth: int) -> None:
    for number, _, value in fields(w.buf, *span):
        if number == 1:
            _function(w, w.sub(value), scope, depth)


def _function(w: _Walk, span: Span, scope: str, depth: int) -> None:
    fname = ""
    for number, _, value in fields(w.buf, *span):
        if number == 1:
            for n2, _, v2 in fields(w.buf, *w.sub(value)):
                if n2 == 1:
                    fname = text(w.buf, v2)
        elif number == 3:
            inner = f"function {fname or '?'}"
            _node(w, w.sub(value), inner if scope == "graph" else f"{scope} > {inner}", depth)


def _node(w: _Walk, span: Span, scope: str, depth: int) -> None:
    name = op = ""
    attrs: dict[str, Span] = {}
    for number, _, value in fields(w.buf, *span):
        if number == 1:
            name = text(w.buf, value)
        elif number == 2:
            op = text(w.buf, value)
        elif number == 5:
            key, val = "", None
            for n2, _, v2 in fields(w.buf, *w.sub(value)):
                if n2 == 1:
                    key = text(w.buf, v2)
                elif n2 == 2 and isinstance(v2, tuple):
                    val = v2
            if val is not None:
                attrs[key] = val
    _judge_op(w, op, name, scope, span[0], attrs)
    for key, val in attrs.items():
        _attr_value(w, val, f"{scope} > node {name!r} attr {key!r}", depth)


def _judge_op(w: _Walk, op: str, name: str, scope: str, offset: int,
              attrs: dict[str, Span]) -> None:
    props = {"op": op, "node": name, "scope": scope}
    key = f"{scope}/{name}"
    if op in PYTHON_OPS:
        w.coll.add("models.savedmodel.python-op", Severity.CRITICAL, w.where,
                   f"{op} node {name!r} in {scope} calls back into Python code", offset=offset,
                   key=key, props=props)
    elif op in FILE_OPS:
        sev, what = FILE_OPS[op]
        w.coll.add("models.savedmodel.file-io-op", sev, w.where,
                   f"{op} node {name!r} in {scope} {what}", offset=offset, key=key, props=props)
    elif op in ("PrintV2", "Print") and "output_stream" in attrs:
        stream = ""
        for number, _, value in fields(w.buf, *attrs["output_stream"]):
            if number == 2:
                stream = text(w.buf, value)
        if stream.startswith("file://"):
            w.coll.add("models.savedmodel.file-io-op", Severity.HIGH, w.where,
                       f"{op} node {name!r} in {scope} writes to {stream!r}", offset=offset,
                       key=key, props=props)


def _attr_value(w: _Walk, span: Span, scope: str, depth: int) -> None:
    """AttrValue: list (1) of s (2) / tensor (8); s (2); tensor (8). Bytes may be graphs."""
    for number, wire, value in fields(w.buf, *span):
        if wire != 2 or not isinstance(value, tuple):
            continue
        if number == 2:
            _candidate(w, value, scope, depth)
        elif number == 8:
            _tensor(w, value, scope, depth)
        elif number == 1:
            for n2, w2, v2 in fields(w.buf, *value):
                if w2 == 2 and isinstance(v2, tuple) and n2 == 2:
                    _candidate(w, v2, scope, depth)
                elif w2 == 2 and isinstance(v2, tuple) and n2 == 8:
                    _tensor(w, v2, scope, depth)


def _tensor(w: _Walk, span: Span, scope: str, depth: int) -> None:
    """TensorProto: tensor_content (4), string_val (8), variant_val (15: metadata 2,
    tensors 3)."""
    for number, wire, value in fields(w.buf, *span):
        if wire != 2 or not isinstance(value, tuple):
            continue
        if number in (4, 8):
            _candidate(w, value, scope, depth)
        elif number == 15:
            for n2, w2, v2 in fields(w.buf, *value):
                if w2 == 2 and isinstance(v2, tuple) and n2 == 2:
                    _candidate(w, v2, scope, depth)
                elif w2 == 2 and isinstance(v2, tuple) and n2 == 3:
                    _tensor(w, v2, scope, depth)


def _candidate(w: _Walk, span: Span, scope: str, depth: int) -> None:
    """Bytes that may be a serialized GraphDef or FunctionDefLibrary: walk them if they are."""
    if w.stopped or span[1] - span[0] < 4:
        return
    w.candidates += 1
    if w.candidates > MAX_CANDIDATES:
        w.stopped = True
        w.coll.incomplete(w.where, f"more than {MAX_CANDIDATES} attribute values to check "
                          "for nested graphs")
        return
    kind = _graph_kind(w.buf, span)
    if kind is None:
        return
    if depth + 1 > MAX_NESTING:
        w.coll.incomplete(w.where, f"graphs nested in attribute values deeper than "
                          f"{MAX_NESTING} levels ({scope})")
        return
    inner = f"{scope} > nested {kind}"
    try:
        if kind == "graph":
            _graph(w, span, inner, depth + 1)
        else:
            _library(w, span, inner, depth + 1)
    except ProtoError as exc:  # its top level decoded: a graph broken further in is cut
        w.coll.incomplete(w.where, f"nested {kind} in {scope} could not be decoded: {exc}")


def _graph_kind(buf: Buf, span: Span) -> str | None:
    """``graph`` (nodes with an op name), ``library`` (functions) or None."""
    nodes = functions = 0
    try:
        for number, wire, value in fields(buf, *span):
            if number not in (1, 2, 3, 4) or (number != 3 and wire != 2):
                return None
            if number != 1 or not isinstance(value, tuple):
                continue
            op = fname = None
            try:
                for n2, w2, v2 in fields(buf, *value):
                    if n2 == 2 and w2 == 2:
                        op = text(buf, v2, 256)
                    elif n2 == 1 and w2 == 2:
                        fname = v2
            except ProtoError:
                if op is None:  # a node broken after its op still counts (the walk reports it)
                    return None
            if op is not None and _OP_NAME.match(op):
                nodes += 1
            elif isinstance(fname, tuple):
                functions += 1
            else:
                return None
    except ProtoError:
        return None
    if nodes and not functions:
        return "graph"
    if functions and not nodes:
        return "library"
    return None


def _keras_json(buf: Buf, value: int | Span, where: Where, coll: Collector) -> None:
    raw = text(buf, value, 64 << 20).lstrip()
    if not raw.startswith("{"):
        return
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError):
        return
    coll.formats.add("keras")
    keras_fmt.check_config(meta, where, coll)


def scan_keras_metadata(buf: Buf, where: Where, coll: Collector) -> None:
    """``keras_metadata.pb`` (``SavedMetadata.nodes[]``): each node's ``metadata`` (field 5;
    field 4, the identifier, is read too in case a writer swaps them) is a JSON layer config."""
    try:
        for number, _, value in fields(buf, 0, len(buf)):
            if number != 1 or not isinstance(value, tuple):
                continue
            for n2, w2, v2 in fields(buf, *value):
                if n2 in (3, 4, 5) and w2 == 2:
                    _keras_json(buf, v2, where, coll)
    except ProtoError as exc:
        coll.incomplete(where, f"keras_metadata.pb could not be decoded: {exc}")


def scan_other_protobuf(buf: Buf, where: Where, coll: Collector) -> bool:
    """The other protobufs of a SavedModel folder that content typing leaves over: a
    ``fingerprint.pb`` (hashes only: recognised, nothing to report) and a bare ``GraphDef`` or
    ``FunctionDefLibrary`` (a frozen graph, ``assets/*.pb``), walked like a meta graph's. Returns
    whether ``buf`` was one of them."""
    if not buf or buf[0] not in (0x08, 0x0A, 0x12):
        return False
    if _is_fingerprint(buf):
        coll.formats.add("savedmodel-fingerprint")
        return True
    kind = _graph_kind(buf, (0, len(buf)))
    if kind is None:
        return False
    coll.formats.add("tf-graphdef")
    w = _Walk(buf, where.typed("tf-graphdef"), coll)
    try:
        if kind == "graph":
            _graph(w, (0, len(buf)), "graph", 0)
        else:
            _library(w, (0, len(buf)), "library", 0)
    except ProtoError as exc:
        coll.incomplete(where, f"GraphDef protobuf could not be decoded: {exc}")
    return True


def _is_fingerprint(buf: Buf) -> bool:
    """FingerprintDef: hashes 1-5 (varints), version 6 (message), uuid 7 (string)."""
    hashes = 0
    try:
        for number, wire, _ in fields(buf, 0, min(len(buf), 4096)):
            if 1 <= number <= 5 and wire == 0:
                hashes += 1
            elif number not in (6, 7) or wire != 2:
                return False
    except ProtoError:
        return False
    return hashes >= 2 and len(buf) <= 4096
