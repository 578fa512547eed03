"""Turn bytes into text units: binary detection by content, decoding, notebook cells and outputs.

Text is UTF-8, or UTF-16/UTF-32 (what PowerShell's ``echo > .env`` and Windows tools write),
recognised by its byte-order mark or, without one, by the NUL bytes interleaved with ASCII
characters; such text is decoded before the NUL test that marks real binaries.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

#: More replacement characters than this share of a text means it is not text.
_MAX_BAD_SHARE = 0.02


def is_binary(data: bytes) -> bool:
    """Binary by content: it holds a NUL byte."""
    return b"\x00" in data


_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"),
)
#: Bytes sampled to recognise UTF-16/32 without a byte-order mark.
_SAMPLE = 4096


def _wide_encoding(data: bytes) -> tuple[str, int] | None:
    """(codec, bytes of BOM) of UTF-16/UTF-32 text, or None."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec, len(bom)
    sample = data[:_SAMPLE]
    if len(sample) < 4 or b"\x00" not in sample:
        return None
    # ASCII-range UTF-16 is about half NULs, UTF-32 three quarters: most binaries are neither
    nuls = sample.count(0) / len(sample)
    if not (0.4 <= nuls <= 0.6 or 0.65 <= nuls <= 0.85):
        return None
    for width, codec, at in ((4, "utf-32-le", 0), (4, "utf-32-be", 3),
                             (2, "utf-16-le", 0), (2, "utf-16-be", 1)):
        sample = sample[: len(sample) - len(sample) % width]
        n = len(sample) // width
        # ASCII-range text: one non-NUL byte at ``at`` in (nearly) every unit, NULs elsewhere
        if sample[at::width].count(0) <= 0.1 * n and all(
                sample[p::width].count(0) >= 0.9 * n for p in range(width) if p != at):
            return codec, 0
    return None


def maybe_wide(data: bytes) -> bool:
    """Worth trying :func:`decode_wide`: a UTF-16/32 byte-order mark or a NUL byte in the head."""
    return data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:_SAMPLE]


def decode_wide(data: bytes) -> str | None:
    """The text of UTF-16/UTF-32 data (with or without BOM), or None when it is not such text
    (real binaries, which also hold NUL bytes, stay binary)."""
    found = _wide_encoding(data)
    if found is None:
        return None
    codec, skip = found
    body = data[skip:]
    width = 4 if "32" in codec else 2
    try:
        text = body[: len(body) - len(body) % width].decode(codec)
    except UnicodeDecodeError:
        return None
    control = sum(1 for c in text if c < " " and c not in "\t\n\r\f")
    return None if "\x00" in text or control > 0.02 * len(text) + 2 else text


def decode(data: bytes) -> str | None:
    """UTF-8 text (a few invalid bytes replaced), or None when it is not text."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    return None if bad > 8 and bad > _MAX_BAD_SHARE * len(text) else text


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return ""


def _output_text(output: Any) -> str:
    if not isinstance(output, dict):
        return ""
    parts = [_text_of(output.get("text"))]
    data = output.get("data")
    if isinstance(data, dict):
        for value in data.values():
            if isinstance(value, (dict, list)) and not _text_of(value):
                parts.append(json.dumps(value, indent=1))
            else:
                parts.append(_text_of(value))
    parts.append(_text_of(output.get("evalue")))
    parts.append("\n".join(_text_of(t) for t in output.get("traceback", []) or []
                           if isinstance(t, str)))
    return "\n".join(p for p in parts if p)


def notebook_units(text: str) -> list[tuple[str, str]] | None:
    """(member, text) of every cell source and output of a Jupyter notebook; None if not one."""
    head = text[:4096].lstrip()
    if not head.startswith("{") or '"cells"' not in text or "nbformat" not in text:
        return None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("cells"), list):
        return None
    units: list[tuple[str, str]] = []
    for i, cell in enumerate(doc["cells"]):
        if not isinstance(cell, dict):
            continue
        units.append((f"cell[{i}]", _text_of(cell.get("source"))))
        outputs = cell.get("outputs")
        if isinstance(outputs, list):
            for j, output in enumerate(outputs):
                units.append((f"cell[{i}]/outputs[{j}]", _output_text(output)))
    units.append(("metadata", json.dumps(doc.get("metadata", {}), indent=1)))
    return [(m, t) for m, t in units if t]


def text_units(text: str) -> Iterator[tuple[str | None, str]]:
    """The units of one decoded text: notebook parts, or the text itself."""
    units = notebook_units(text)
    if units is None:
        yield None, text
        return
    yield from units
