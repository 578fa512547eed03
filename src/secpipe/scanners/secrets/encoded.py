"""Secrets hidden in base64 or hex blobs: decode bounded, rescan, report at the blob.

A constant holding ``base64(aws credentials file)`` shows no keyword a rule could see. Every
base64 or hex token long enough to hide a credential is decoded; when the result is mostly
printable UTF-8 text it is scanned again by the same rules (and its own blobs decoded once more:
:data:`MAX_DEPTH` layers in all). A secret found inside is reported at the blob's position in
the original text, its evidence saying how it was encoded. Blobs are found in one RE2 pass (over
the bytes of ASCII text); random data (images, digests, lockfile integrity strings) fails the
printable test on its first few bytes, so it costs almost nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from secpipe.scanners.secrets import checks

try:  # accelerator, as in detect.py
    import re2 as _re2  # type: ignore[import-untyped, import-not-found, unused-ignore]
except ImportError:  # pragma: no cover - exercised only without google-re2
    _re2 = None

#: Layers of encoding undone (base64 of base64 is 2).
MAX_DEPTH = 2
#: Shortest base64 token decoded (18 bytes: shorter secrets are caught by the generic rules).
MIN_B64 = 24
#: Shortest hex token decoded.
MIN_HEX = 32
#: Longest token decoded; longer ones are data (images, fonts), not hidden credentials.
MAX_TOKEN = 256 * 1024
#: Most tokens decoded in one text (a file of many blobs stays linear).
MAX_TOKENS = 4000
#: Share of characters of decoded text that must be printable.
_PRINTABLE = 0.95

#: Where a blob of encoded *text* may be: six base64 quads whose first character encodes a
#: printable ASCII byte (or a line break): ``[CDI-Za-f]``; or 16 hex pairs of such bytes. Random
#: data and most words and paths do not match, so few places reach Python. A match is then
#: widened to the whole token.
_SEEDS = (r"(?:[CDI-Za-f][A-Za-z0-9+/]{3}){6,}|(?:[2-7][0-9a-fA-F]|0[9aAdD]){16,}")
_re: Any = re.compile(_SEEDS)
_re_b: Any = _re2.compile(_SEEDS.encode()) if _re2 is not None else None
_TAIL = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_HEX = re.compile(r"[0-9a-fA-F]+")


@dataclass(frozen=True)
class Blob:
    """A decoded token whose text is worth scanning."""

    start: int
    """Offset of the token in the text it came from."""
    end: int
    """Offset just past it."""
    encoding: str
    """``base64`` or ``hex``."""
    text: str
    """What it decodes to."""


def _text(raw: bytes | None) -> str | None:
    """Decoded bytes as text when they are mostly printable UTF-8, else None."""
    if raw is None or len(raw) < 12:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    good = sum(1 for c in text if c.isprintable() or c in "\t\n\r")
    return text if good >= _PRINTABLE * len(text) else None


def _b64(token: str) -> bytes | None:
    body = token.rstrip("=")
    if len(body) % 4 == 1:
        return None
    return checks.b64_decode(body + "=" * (-len(body) % 4))


def _decode(token: str) -> tuple[str, str] | None:
    """(encoding, text) of a token, or None. A cheap look at its head rejects most."""
    if len(token) > MAX_TOKEN:
        return None
    if len(token) >= MIN_HEX and len(token) % 2 == 0 and _HEX.fullmatch(token):
        if len(token) > 64 and _text(bytes.fromhex(token[:64])) is None:
            return None
        text = _text(bytes.fromhex(token))
        return ("hex", text) if text is not None else None
    if token.islower() or token.isupper():  # paths, words: base64 of text mixes cases
        return None
    if len(token) > 64 and _text(_b64(token[:64])) is None:
        return None
    text = _text(_b64(token))
    return ("base64", text) if text is not None else None


def _seeds(text: str) -> Iterator[tuple[int, int]]:
    """Spans of seed matches: RE2 over the bytes; in non-ASCII text the (ASCII) matches are
    found in the UTF-8 bytes and located in the text by a forward search."""
    if _re_b is None:  # pragma: no cover - exercised only without google-re2
        for m in _re.finditer(text):
            yield m.span()
        return
    if text.isascii():
        for m in _re_b.finditer(text.encode("ascii")):
            yield m.span()
        return
    at = 0
    for m in _re_b.finditer(text.encode("utf-8", "surrogatepass")):
        seed = m.group().decode("ascii")
        start = text.find(seed, at)
        if start < 0:  # pragma: no cover - an ASCII match of the bytes is in the text
            continue
        at = start + len(seed)
        yield start, at


def _tokens(text: str) -> Iterator[tuple[int, int]]:
    """Spans of whole base64-alphabet tokens around the seeds, each once."""
    done = 0
    for start, end in _seeds(text):
        if start < done:
            continue
        floor = max(done, start - MAX_TOKEN)
        while start > floor and text[start - 1] in _B64_CHARS:
            start -= 1
        tail = _TAIL.match(text, end)
        end = tail.end() if tail else end
        done = end
        if end - start >= MIN_B64:
            yield start, end


def blobs(text: str, taken: Callable[[int, int], bool]) -> Iterator[Blob]:
    """Tokens of ``text`` that decode to text, except those ``taken(start, end)`` (a rule already
    reported a secret there)."""
    count = 0
    for start, end in _tokens(text):
        if (start and text[start - 1] in "_-") or (end < len(text) and text[end] in "_-"):
            continue  # part of an identifier or url-safe token, not standard base64
        count += 1
        if count > MAX_TOKENS:
            return
        if taken(start, end):
            continue
        found = _decode(text[start:end])
        if found is not None:
            yield Blob(start, end, found[0], found[1])
