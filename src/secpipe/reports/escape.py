"""Names from a scanned tree made safe to show: on a terminal, and in every report.

A file name is whatever bytes the file system holds. Two things go wrong when one is shown as is:

- **control characters** (C0 incl. newline and ESC, DEL, C1, bidi overrides, line separators)
  reach a terminal raw: ``\\x1b[2J`` clears the screen, a newline forges an extra output line,
  U+202E makes ``txt.exe`` read as ``exe.txt``. :func:`printable` shows each as a visible escape
  (``\\x1b``, ``\\n``, ``\\u202e``); the console, the Markdown and the HTML report use it,
  and :func:`json_text` does the same inside the JSON strings of a SARIF log.
- **undecodable bytes**: Python decodes a non-UTF-8 name with ``surrogateescape`` (``b"\\xff"``
  becomes U+DCFF), which no UTF-8 encoder accepts. :func:`readable` shows such a byte as
  ``\\xff``; :func:`percent_path` percent-encodes the original bytes (SARIF URIs, HTML links);
  :func:`readable_tree` applies :func:`readable` to every string of a JSON document.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

#: what a terminal must never receive raw: C0, DEL, C1, ALM, LRM/RLM, line and paragraph
#: separators, bidi embeddings/overrides/isolates, and lone surrogates (undecodable bytes)
_UNSAFE = "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
_SURROGATE = "[\ud800-\udfff]"
_NOT_A_BYTE = "[\ud800-\udc7f\udd00-\udfff]"
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
#: what ``json.dumps(ensure_ascii=False)`` leaves raw but a terminal showing the file acts on
_JSON_RAW = "[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]"
_COMPILED: dict[str, re.Pattern[str]] = {}


def _pattern(source: str) -> re.Pattern[str]:
    """One of the character classes above, compiled when first used (not when a one-file scan
    imports this module: these Unicode classes cost about a millisecond to compile)."""
    found = _COMPILED.get(source)
    if found is None:
        found = _COMPILED[source] = re.compile(source)
    return found


def _escape(char: str) -> str:
    point = ord(char)
    if 0xDC80 <= point <= 0xDCFF:  # a byte surrogateescape could not decode
        return f"\\x{point - 0xDC00:02x}"
    if char in _SHORT:
        return _SHORT[char]
    return f"\\x{point:02x}" if point < 0x100 else f"\\u{point:04x}"


def printable(text: str, keep: str = "") -> str:
    """``text`` with every control, bidi and undecodable character as a visible escape (but
    the characters of ``keep``, e.g. ``"\\n"`` for text that may span lines)."""
    if text.isascii() and text.isprintable():  # no ASCII control character: nothing to escape
        return text
    return _pattern(_UNSAFE).sub(lambda m: m.group() if m.group() in keep else _escape(m.group()),
                                 text)


def readable(text: str) -> str:
    """``text`` encodable as UTF-8: an undecodable byte becomes ``\\xNN``; other characters
    are kept (the format's own escaping deals with them)."""
    if text.isascii():  # an undecodable byte is a surrogate, never ASCII
        return text
    return _pattern(_SURROGATE).sub(lambda m: _escape(m.group()), text)


def readable_tree(data: Any) -> Any:
    """A JSON-shaped value (dicts, lists, strings, numbers) with :func:`readable` strings."""
    if isinstance(data, str):
        return readable(data)
    if isinstance(data, dict):
        return {readable_tree(k): readable_tree(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [readable_tree(v) for v in data]
    return data


def json_text(text: str) -> str:
    """JSON text (``ensure_ascii=False``) with DEL, C1 and bidi characters as ``\\uXXXX``
    escapes: same JSON value, but ``cat report.sarif`` cannot drive the terminal. Such
    characters only occur inside JSON strings, where any character may be escaped so."""
    if text.isascii() and "\x7f" not in text:  # nothing of the class but DEL is ASCII
        return text
    return _pattern(_JSON_RAW).sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def percent_path(path: str, safe: str = "/") -> str:
    """``path`` percent-encoded from its original bytes (an undecodable byte ``\\xff`` is
    ``%FF``, as in a ``file:`` URI of that name)."""
    raw = _pattern(_NOT_A_BYTE).sub("\ufffd", path).encode("utf-8", "surrogateescape")
    return quote(raw, safe=safe)
