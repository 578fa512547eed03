"""A small, bounded protobuf wire-format reader (no generated code, no TensorFlow, no onnx).

:func:`fields` yields ``(number, wire_type, value)`` for one message; a length-delimited value is
the ``(start, end)`` span in the buffer, so large tensors are skipped, never copied. Nesting depth
is bounded by the callers (each walk passes ``depth`` and stops at :data:`MAX_DEPTH`).
"""

from __future__ import annotations

from collections.abc import Iterator

from secpipe.scanners.models.pickle_values import Buf

MAX_DEPTH = 64

Span = tuple[int, int]


class ProtoError(Exception):
    """The bytes are not a valid protobuf message."""


def varint(buf: Buf, pos: int, end: int) -> tuple[int, int]:
    """Decode a varint at ``pos``; return (value, next position)."""
    result, shift = 0, 0
    while True:
        if pos >= end:
            raise ProtoError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtoError("varint too long")


def fields(buf: Buf, start: int, end: int) -> Iterator[tuple[int, int, int | Span]]:
    """The fields of the message in ``buf[start:end]``."""
    pos = start
    while pos < end:
        key, pos = varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtoError("field number 0")
        if wire == 0:
            value, pos = varint(buf, pos, end)
            yield number, wire, value
        elif wire == 1:
            if pos + 8 > end:
                raise ProtoError("truncated fixed64")
            yield number, wire, int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wire == 2:
            n, pos = varint(buf, pos, end)
            if pos + n > end:
                raise ProtoError("length-delimited field past the end")
            yield number, wire, (pos, pos + n)
            pos += n
        elif wire == 5:
            if pos + 4 > end:
                raise ProtoError("truncated fixed32")
            yield number, wire, int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise ProtoError(f"unsupported wire type {wire}")


def text(buf: Buf, span: int | Span, limit: int = 1 << 16) -> str:
    """A string field's value (bounded)."""
    if not isinstance(span, tuple):
        return str(span)
    start, end = span
    return bytes(buf[start:min(end, start + limit)]).decode("utf-8", "replace")
