"""Content typing: which model or container format a blob is, from its bytes, never its name.

Typing fails closed. A format without magic (protocol 0/1 pickles, protobufs, protobuf text) is
decided by decoding it, and a decode that runs out of its budget still decoding is never "not a
model": a pickle goes to the full (bounded) pickle machine, whose own budget hit is a finding;
anything else is typed ``undecided-…`` (:data:`UNDECIDED`), which the engine reports. For the
first bytes of a longer blob (an archive member), :func:`sniff_head` answers :data:`MORE` when
the head decodes validly up to the cut, so the caller reads the whole blob before deciding.
"""

from __future__ import annotations

import re
import struct
from itertools import islice

from secpipe.scanners.models.pickle_scan import looks_like_pickle, pickle_head_undecided
from secpipe.scanners.models.pickle_values import Buf
from secpipe.scanners.models.pickle_vm import OPCODES
from secpipe.scanners.models.protobuf import ProtoError, fields
from secpipe.scanners.models.zipread import find_eocd

_DUMPS_FIRST = frozenset(b"(.0N]})cdeghIJKLlMNpqrsStTUVXabiojP\x80")
"""First bytes of what ``pickle.dumps`` writes in protocols 0/1; a stream may start with any
opcode (:data:`~.pickle_vm.OPCODES`), but one starting otherwise must name a global to count."""
MORE = "more"
""":func:`sniff_head`'s answer when only the whole blob can tell what it is."""
_TEXT_PROTO = re.compile(rb"(?:\s|#[^\n]*\n)*(?:saved_model_schema_version\s*:"
                         rb"|meta_graphs\s*:?\s*\{|node\s*:?\s*\{|library\s*:?\s*\{)")
"""A SavedModel or GraphDef in protobuf text format (comments and blank lines first allowed)."""
_LEADING = re.compile(rb"(?:\s|#[^\n]*\n)*(?:#[^\n]*)?")
"""Blank lines and comments, the last one possibly cut."""
_TEXT_WINDOW = 64 << 20
"""Most leading comment and blank bytes read while looking for a text-format SavedModel."""
_PB_FIRST = frozenset([0x08, 0x0A, 0x12, 0x1A, 0x22, 0x3A])
_PB_MAX_FIELDS = 1 << 20
UNDECIDED: dict[str, str] = {
    "undecided-protobuf": f"a protobuf message whose top level runs past {_PB_MAX_FIELDS} fields "
                          "could not be typed (an ONNX model or SavedModel may be hiding in it)",
    "undecided-text": f"leading whitespace and comments run past {_TEXT_WINDOW} bytes, so it "
                      "could not be typed (a text-format SavedModel may follow them)",
}
"""Kinds of a blob whose typing ran out of budget, and why."""
_ONNX_FIELDS = frozenset([1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25])
_SAVEDMODEL_FIELDS = frozenset([1, 2])
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip"), (b"\x93NUMPY", "npy"),
    (b"\x89HDF\r\n\x1a\n", "hdf5"), (b"GGUF", "gguf"), (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"\x1f\x8b", "gzip"), (b"\xfd7zXZ\x00", "xz"), (b"\x04\x22\x4d\x18", "lz4"),
)


def sniff(buf: Buf) -> str | None:
    """The format name of ``buf``: ``zip``, ``npy``, ``hdf5``, ``gguf``, ``7z``, ``gzip``, ``bz2``,
    ``xz``, ``lz4``, ``zfile`` (old joblib), ``lzma``, ``zlib``, ``tar``, ``safetensors``,
    ``pickle``, ``onnx``, ``savedmodel``, ``savedmodel-text``, ``keras-metadata``, ``json``, a
    key of :data:`UNDECIDED`; None when none."""
    size = len(buf)
    head = bytes(buf[:16])
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:3] == b"BZh" and head[3:4].isdigit():
        return "bz2"
    if head[:2] == b"ZF" and size > 23 and buf[21] == 0x78:
        return "zfile"
    if size >= 13 and head[0] == 0x5D and _lzma_alone_header(head):
        return "lzma"
    if size >= 512 and bytes(buf[257:262]) == b"ustar":
        return "tar"
    if size >= 10 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] >= 2 \
            and not _text_or_gettext(head):
        return "safetensors"
    if size >= 2 and head[0] == 0x80 and head[1] <= 5:
        return "pickle"
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib"
    proto = _protobuf_kind(buf, whole=True)
    if proto is not None:
        return proto
    if head[:1] == b"{" and size <= 64 << 20:
        return "json"
    text = _text_kind(buf)
    if text is not None:
        return text
    if size and head[0] in OPCODES and looks_like_pickle(buf, plain=head[0] in _DUMPS_FIRST):
        return "pickle"
    if size >= 22 and find_eocd(buf) >= 0:  # last: data before an archive is typed first
        return "zip"
    return None


_GETTEXT = (b"\xde\x12\x04\x95", b"\x95\x04\x12\xde")
"""GNU gettext ``.mo`` magics (both byte orders): a catalogue of 123 strings has ``{`` at 8."""


def _text_or_gettext(head: bytes) -> bool:
    """A safetensors look-alike: a header length spelled by 8 printable characters (text with
    ``{`` at offset 8, such as ``prefix=${pcfiledir}``, declares at least 2.3e18 bytes, which no
    writer makes and every loader refuses) or a gettext catalogue's magic."""
    return head[:4] in _GETTEXT or all(32 <= b < 127 or b in (9, 10, 13) for b in head[:8])


def _lzma_alone_header(head: bytes) -> bool:
    """An ``.lzma`` (LZMA-alone) header with the default lc/lp/pb byte (what ``lzma`` and joblib
    write at every preset): a dictionary size liblzma accepts (2^n or 2^n + 2^(n-1), at least
    4 KiB) and an uncompressed size that is unknown (all ones) or plausible (< 2^48)."""
    dict_size = int.from_bytes(head[1:5], "little")
    low = dict_size & -dict_size
    if dict_size < 4096 or dict_size not in (low, low + (low >> 1)):
        return False
    usize = head[5:13]
    return usize == b"\xff" * 8 or int.from_bytes(usize, "little") < (1 << 48)


def sniff_head(head: Buf, size: int) -> str | None:
    """The format of a blob of ``size`` bytes from its first bytes ``head``: :func:`sniff`'s
    answer, or :data:`MORE` when the head cannot rule a model out (pickle opcodes or protobuf
    fields that decode up to the cut, comments running past it); None when it can."""
    kind = sniff(head)
    if kind is not None or len(head) >= size or not head:
        return kind
    if head[0] in OPCODES and pickle_head_undecided(head):
        return MORE
    if _protobuf_kind(head, whole=False) == MORE:
        return MORE
    leading = _LEADING.match(head)
    return MORE if leading is not None and leading.end() == len(head) else None


def _text_kind(buf: Buf) -> str | None:
    if not buf or (buf[0] not in b" \t\r\n\x0b\x0c#" and buf[0] not in b"mnls"):
        return None
    end = min(len(buf), _TEXT_WINDOW)
    if _TEXT_PROTO.match(buf, 0, end):
        return "savedmodel-text"
    leading = _LEADING.match(buf, 0, end)
    if leading is not None and leading.end() == end < len(buf):
        return "undecided-text"
    return None


def _protobuf_kind(buf: Buf, whole: bool) -> str | None:
    """ONNX, SavedModel or keras_metadata.pb by their top-level fields. Typing stops as soon as
    no candidate is left; a top level that runs past the field budget is undecided, and (not
    ``whole``) one that decodes up to the cut is :data:`MORE`."""
    if not buf or buf[0] not in _PB_FIRST:
        return None
    seen: dict[int, int] = {}
    keras = True  # the first node looks like a SavedObject (keras_metadata.pb)
    try:
        for n, (number, wire, value) in enumerate(fields(buf, 0, len(buf))):
            if seen.setdefault(number, wire) != wire:
                return None
            if n == 0 and isinstance(value, tuple):
                keras = _saved_object(buf, value)
            if not _candidates(seen, keras):
                return None
            if n >= _PB_MAX_FIELDS:
                return "undecided-protobuf"
    except ProtoError as exc:
        cut = str(exc).startswith("truncated") or str(exc).endswith("past the end")
        return MORE if not whole and cut and _candidates(seen, keras) else None
    if not whole:  # the head ends on a field boundary and a candidate is left
        return _decide(seen, keras) or MORE
    return _decide(seen, keras)


def _candidates(seen: dict[int, int], keras: bool) -> bool:
    keys = seen.keys()
    onnx = keys <= _ONNX_FIELDS and seen.get(1, 0) == 0 and seen.get(7, 2) == 2 \
        and seen.get(8, 2) == 2
    saved = keys <= _SAVEDMODEL_FIELDS and seen.get(1, 0) == 0 and seen.get(2, 2) == 2
    return onnx or saved or (keras and keys == {1} and seen[1] == 2)


def _decide(seen: dict[int, int], keras: bool) -> str | None:
    keys = seen.keys()
    if seen.get(7) == 2 and seen.get(8) == 2 and keys <= _ONNX_FIELDS and seen.get(1, 0) == 0:
        return "onnx"
    if seen.get(2) == 2 and keys <= _SAVEDMODEL_FIELDS and seen.get(1, 0) == 0:
        return "savedmodel"
    if keras and keys == {1} and seen[1] == 2:
        return "keras-metadata"
    return None


def _saved_object(buf: Buf, span: tuple[int, int]) -> bool:
    """Whether a message may be a SavedObject (node_id, field 2, is a varint: a SentencePiece
    piece's field 2 is a float, so a tokenizer model is not taken for Keras metadata)."""
    try:
        return all(wire == 0 for number, wire, _ in islice(fields(buf, *span), 64)
                   if number == 2)
    except ProtoError:
        return False
