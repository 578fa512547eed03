"""Bounded decompression of every stream a model file can be wrapped in.

gzip, bz2 and xz streams are followed across members (``gzip.open``, joblib and NumPy read all of
them, so a payload split over two members is still seen); raw deflate, zlib, lzma-alone, the
ZIP lzma method and LZ4 frames (when the ``lz4`` package is installed) are read once. Output never
exceeds ``limit`` + 1 bytes, whatever the input claims.
"""

from __future__ import annotations

from typing import Any

from secpipe.scanners.models.pickle_values import Buf

_CHUNK = 1 << 20
_MULTI = frozenset(["gzip", "bz2", "xz", "lz4"])
_MAX_MEMBERS = 4096


class DecompressError(Exception):
    """The stream is not (or no longer) valid for its format."""


class DecompressBudget(DecompressError):
    """A bound stopped the decompression early (the partial output is in ``args[1]``)."""


class Unavailable(Exception):
    """The format needs an optional package that is not installed."""


def _make(kind: str, head: bytes = b"") -> Any:
    # the codec modules are imported by the stream that needs one (not by every scan's start)
    import zlib

    if kind == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if kind == "zlib":
        return zlib.decompressobj()
    if kind == "deflate":
        return zlib.decompressobj(-15)
    if kind == "bz2":
        import bz2

        return bz2.BZ2Decompressor()
    import lzma

    if kind == "xz":
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    if kind == "lzma":
        return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)
    if kind == "zip-lzma":
        decode = getattr(lzma, "_decode_filter_properties")  # noqa: B009 - what zipfile uses
        return lzma.LZMADecompressor(format=lzma.FORMAT_RAW,
                                     filters=[decode(lzma.FILTER_LZMA1, head)])
    if kind == "lz4":
        try:
            from lz4.frame import LZ4FrameDecompressor  # type: ignore[import-not-found]
        except ImportError:
            raise Unavailable("LZ4 stream: the lz4 package is not installed") from None
        return LZ4FrameDecompressor()
    raise DecompressError(f"unknown compression {kind!r}")


def _codec_errors() -> tuple[type[Exception], ...]:
    """What a decompressor raises on a stream that is not valid for its format."""
    import lzma
    import zlib

    return (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError, RuntimeError)


def decompress(kind: str, buf: Buf, limit: int, start: int = 0, end: int | None = None
               ) -> tuple[bytes, int]:
    """(output of at most ``limit`` + 1 bytes, input bytes consumed). Raises
    :class:`DecompressError` (with the partial output in ``args[1]``; :class:`DecompressBudget`
    when a bound stopped it) or :class:`Unavailable`."""
    end = len(buf) if end is None else min(end, len(buf))
    pos = start
    if kind == "zip-lzma":  # 2-byte version, 2-byte properties size, properties
        if end - pos < 4:
            raise DecompressError("truncated lzma header", b"")
        n = int.from_bytes(buf[pos + 2:pos + 4], "little")
        head = bytes(buf[pos + 4:pos + 4 + n])
        pos += 4 + n
        d = _make(kind, head)
    else:
        d = _make(kind)
    out = bytearray()
    pending = b""
    members = 1
    try:
        while len(out) <= limit:
            if pending:
                data, pending = pending, b""
            elif hasattr(d, "needs_input") and not d.needs_input and not d.eof:
                data = b""
            elif getattr(d, "unconsumed_tail", b""):
                data = d.unconsumed_tail
            elif pos < end:
                data = bytes(buf[pos:min(end, pos + _CHUNK)])
                pos += len(data)
            else:
                break
            out += d.decompress(data, limit + 1 - len(out))
            if getattr(d, "eof", False):
                rest = d.unused_data
                if kind not in _MULTI or not (rest.strip(b"\0") or (
                        not rest and pos < end and bytes(buf[pos:pos + 64]).strip(b"\0"))):
                    pos -= len(rest)
                    break
                members += 1
                if members > _MAX_MEMBERS:  # what follows is not read: never silently
                    raise DecompressBudget(f"more than {_MAX_MEMBERS} concatenated members",
                                           bytes(out))
                d = _make(kind)
                pending = rest
    except Exception as exc:
        if not isinstance(exc, _codec_errors()):
            raise
        raise DecompressError(str(exc), bytes(out)) from None
    return bytes(out), pos - start
