"""Content typing: which model or container format a blob is, from its bytes, never its name."""

from __future__ import annotations

import re
import struct

from secpipe.scanners.models.pickle_scan import looks_like_pickle
from secpipe.scanners.models.pickle_values import Buf
from secpipe.scanners.models.protobuf import ProtoError, top_level
from secpipe.scanners.models.zipread import find_eocd

_PICKLE_FIRST = frozenset(b"(.0N]})cdeghIJKLlMNpqrsStTUVXabiojP\x80")
"""Bytes a protocol 0/1 pickle can start with (a trial decode decides)."""

_TEXT_PROTO = re.compile(rb"^(?:\s|#[^\n]*\n)*(?:saved_model_schema_version\s*:"
                         rb"|meta_graphs\s*:?\s*\{|node\s*:?\s*\{|library\s*:?\s*\{)")
"""A SavedModel or GraphDef in protobuf text format (comments and blank lines first allowed)."""
_ONNX_FIELDS = frozenset([1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25])
_SAVEDMODEL_FIELDS = frozenset([1, 2])


def sniff(buf: Buf) -> str | None:
    """The format name of ``buf``: ``zip``, ``npy``, ``hdf5``, ``gguf``, ``7z``, ``gzip``, ``bz2``,
    ``xz``, ``lz4``, ``zfile`` (old joblib), ``lzma``, ``zlib``, ``tar``, ``safetensors``,
    ``pickle``, ``onnx``, ``savedmodel``, ``savedmodel-text``, ``keras-metadata``, ``json``;
    None when none."""
    size = len(buf)
    head = bytes(buf[:16])
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:6] == b"\x93NUMPY":
        return "npy"
    if head[:8] == b"\x89HDF\r\n\x1a\n":
        return "hdf5"
    if head[:4] == b"GGUF":
        return "gguf"
    if head[:6] == b"7z\xbc\xaf\x27\x1c":
        return "7z"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:3] == b"BZh" and head[3:4].isdigit():
        return "bz2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if head[:4] == b"\x04\x22\x4d\x18":
        return "lz4"
    if head[:2] == b"ZF" and size > 23 and buf[21] == 0x78:
        return "zfile"
    if size >= 13 and head[0] == 0x5D and head[1:5] in (b"\x00\x00\x80\x00", b"\x00\x00\x00\x01",
                                                         b"\x00\x00\x10\x00", b"\x00\x00\x01\x00",
                                                         b"\x00\x00\x00\x04", b"\x00\x00\x00\x02"):
        return "lzma"
    if size >= 512 and bytes(buf[257:262]) == b"ustar":
        return "tar"
    if size >= 10 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] >= 2:
        return "safetensors"
    if size >= 2 and head[0] == 0x80 and head[1] <= 5:
        return "pickle"
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib"
    proto = _protobuf_kind(buf)
    if proto is not None:
        return proto
    if size >= 22 and find_eocd(buf) >= 0:
        return "zip"
    if head[:1] == b"{" and size <= 64 << 20:
        return "json"
    if _TEXT_PROTO.match(bytes(buf[:4096])):
        return "savedmodel-text"
    if size and head[0] in _PICKLE_FIRST and looks_like_pickle(buf):
        return "pickle"
    return None


def _protobuf_kind(buf: Buf) -> str | None:
    if not buf or buf[0] not in (0x08, 0x0A, 0x12, 0x1A, 0x22, 0x3A):
        return None
    try:
        seen = top_level(buf, 0, len(buf), max_fields=1 << 16)
    except ProtoError:
        return None
    if seen.get(7) == 2 and seen.get(8) == 2 and seen.keys() <= _ONNX_FIELDS \
            and seen.get(1, 0) == 0:
        return "onnx"
    if seen.get(2) == 2 and seen.keys() <= _SAVEDMODEL_FIELDS and seen.get(1, 0) == 0:
        return "savedmodel"
    if seen.keys() == {1} and seen[1] == 2:
        return "keras-metadata"
    return None
