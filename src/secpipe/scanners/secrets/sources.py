"""Turn bytes into text units: binary detection by content, decoding, notebook cells and outputs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

#: More replacement characters than this share of a text means it is not text.
_MAX_BAD_SHARE = 0.02


def is_binary(data: bytes) -> bool:
    """Binary by content: it holds a NUL byte."""
    return b"\x00" in data


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
