"""Render planted items (secrets and decoys) into realistic files and locate them afterwards.

A file is built from :class:`Item` s separated by filler lines; after rendering, every item's
``needle`` (the exact text written, unique in the file) is searched for to get its line, column
and end line, so labels always describe the bytes that were actually written.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

import fillers


@dataclass
class Item:
    """One planted thing: a secret (``kind`` set) or a decoy (``category`` set)."""

    var: str
    value: str
    kind: str | None = None
    category: str | None = None
    note: str = ""
    line_tmpl: str | None = None
    """A custom line (``{s}`` = value) instead of the default assignment."""
    raw: bool = False
    """``line_tmpl`` is the full text of the item and the value is not substituted."""
    # filled in by locate()
    line: int = 0
    end_line: int = 0
    column: int = 0
    needle: str = ""
    written: str = "raw"
    """How the secret is encoded in the file: ``raw`` or ``json`` (string escaping)."""
    extra: dict[str, Any] = field(default_factory=dict)


def camel(var: str) -> str:
    head, *rest = var.lower().split("_")
    return head + "".join(p.capitalize() for p in rest)


def assignment(ext: str, var: str, value: str, multiline: bool = False) -> str:
    """The plain way a developer writes ``var = value`` in a file of type ``ext``."""
    low = var.lower()
    if multiline:
        return {
            "py": f'{var} = """{value}"""',
            "sh": f"cat > /etc/ssl/private/{low}.pem <<'EOF'\n{value}\nEOF",
            "go": f"const {camel(var)} = `{value}`",
            "js": f"const {camel(var)} = `{value}`;",
            "pem": value,
        }[ext]
    return {
        "py": f'{var} = "{value}"',
        "js": f'const {camel(var)} = "{value}";',
        "go": f'\t{camel(var)} = "{value}"',
        "yaml": f'  {low}: "{value}"',
        "env": f"{var}={value}",
        "tf": f'  {low} = "{value}"',
        "dockerfile": f"ENV {var}={value}",
        "md": f"```bash\nexport {var}={value}\n```",
        "sh": f'export {var}="{value}"',
        "ini": f"{low} = {value}",
        "properties": f"app.{low.replace('_', '.')}={value}",
        "toml": f'{low} = "{value}"',
    }[ext]


def render_item(ext: str, item: Item, multiline: bool = False) -> str:
    if item.raw and item.line_tmpl is not None:
        return item.line_tmpl
    if item.line_tmpl is not None:
        return item.line_tmpl.replace("{s}", item.value)
    return assignment(ext, item.var, item.value, multiline)


def decoy_needle(rendered: str, value: str) -> str:
    """The unique text that marks a decoy: its whole line (or the value if it spans lines)."""
    if "\n" in value:
        return value
    for line in rendered.split("\n"):
        if value in line:
            return line
    return rendered.split("\n")[0]


def render_lines(ext: str, items: list[Item], rng: random.Random, multiline: set[int]) -> str:
    """A line-oriented file (everything but JSON and notebooks)."""
    out = list(fillers.header(ext, rng))
    for idx, item in enumerate(items):
        out.extend(fillers.lines(ext, rng, rng.randrange(2, 5)))
        rendered = render_item(ext, item, idx in multiline)
        item.needle = item.value if item.kind else decoy_needle(rendered, item.value)
        out.append(rendered)
    out.extend(fillers.lines(ext, rng, rng.randrange(2, 5)))
    out.extend(fillers.footer(ext))
    return "\n".join(out) + "\n"


def render_json(items: list[Item], rng: random.Random) -> str:
    """A JSON config file; items become keys of ``settings``."""
    settings: dict[str, Any] = {}
    for item in items:
        for _ in range(rng.randrange(2, 4)):
            key, val = fillers.json_pair(rng)
            settings[key] = val
        key = item.var if item.var.islower() else item.var.lower()
        settings[key] = item.value
        if item.kind:
            item.needle = json_escaped(item.value)
            item.written = "json" if item.needle != item.value else "raw"
        else:
            item.needle = json.dumps(key) + ": " + json.dumps(item.value)
    settings["retries"] = rng.randrange(1, 6)
    doc = {"name": fillers.word(rng) + "-service", "version": "1.4.2", "settings": settings}
    return json.dumps(doc, indent=2) + "\n"


def json_escaped(value: str) -> str:
    return json.dumps(value)[1:-1]


def locate(text: str, items: list[Item]) -> None:
    """Fill ``line``/``column``/``end_line`` of each item from its ``needle`` in the text."""
    for item in items:
        needle = item.needle
        count = text.count(needle)
        if count != 1:
            what = item.kind or item.category
            raise AssertionError(f"needle for {what} found {count} times: {needle[:60]!r}")
        pos = text.index(needle)
        item.line = text.count("\n", 0, pos) + 1
        item.column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        item.end_line = item.line + needle.count("\n")
