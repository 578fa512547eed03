"""Jupyter notebooks: packages their code cells install.

``!pip install …``, ``%pip install …``, ``%conda install …``, ``!python -m pip install …``,
``!{sys.executable} -m pip install …`` lines (continued with a trailing ``\\``), and whole
``%%bash`` / ``%%sh`` / ``%%script bash`` cells. Each package is recorded with
``member="cell[N]"`` (N counts every cell from 0, as the secrets scanner names them) and its line
within the cell. An argument IPython fills in when the cell runs (``{var}``, ``$var``) is a
problem: what it installs cannot be decided.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from secpipe.scanners.deps.readers.commands import install_dependencies
from secpipe.scanners.deps.readers.common import (
    Collector,
    Lines,
    Where,
    load_json,
    read_text,
)

SOURCE = "notebook"

_SHELL_CELL = re.compile(r"^\s*%%(?:bash|sh|script\s+(?:bash|sh))\b")
_LINE_MAGIC = re.compile(r"^\s*%(pip|conda|mamba|micromamba|uv)\s")
_BANG = re.compile(r"^\s*!!?")


def _source(cell: dict[str, Any]) -> str | None:
    source = cell.get("source")
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(s, str) for s in source):
        return "".join(source)
    return None


def _shell_lines(text: str) -> list[tuple[int, str]]:
    """(line in cell, command) of every shell line of a Python cell, continuations joined."""
    result: list[tuple[int, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line, number = lines[i], i + 1
        i += 1
        magic = _LINE_MAGIC.match(line)
        bang = _BANG.match(line) if magic is None else None
        if magic is not None:
            command = f"{magic.group(1)} {line[magic.end():]}"
        elif bang is not None:
            command = line[bang.end():]
        else:
            continue
        while command.rstrip().endswith("\\") and i < len(lines):
            command = command.rstrip() + "\n" + lines[i]  # the shell joins "\\\n"
            i += 1
        result.append((number, command))
    return result


def read_notebook(path: Path, rel: str, max_bytes: int, out: Collector) -> None:
    out.manifest(rel)
    text = read_text(path, rel, max_bytes, out)
    if text is None:
        return
    doc = load_json(text, rel, out)
    if doc is None:
        return
    if not isinstance(doc, dict) or not isinstance(doc.get("cells"), list):
        out.problem(rel, "not a Jupyter notebook: no cells list")
        return
    for index, cell in enumerate(doc["cells"]):
        if out.full:
            return
        member = f"cell[{index}]"
        if not isinstance(cell, dict):
            out.problem(rel, "cell is not an object", member=member)
            continue
        if cell.get("cell_type") != "code":
            continue
        source = _source(cell)
        if source is None:
            out.problem(rel, "cell source is neither text nor a list of lines", member=member)
            continue
        if _SHELL_CELL.match(source):
            first_break = source.find("\n")
            body = "" if first_break < 0 else source[first_break + 1:]
            pieces = [(2, body)]
        else:
            pieces = _shell_lines(source)
        for first, script in pieces:
            _install(script, first, rel, member, out)


def _install(script: str, first: int, rel: str, member: str, out: Collector) -> None:
    lines = Lines(script)

    def where_of(offset: int) -> Where:
        return Where(rel, SOURCE, first + lines.at(offset) - 1, member)

    def problem(reason: str, offset: int) -> None:
        out.problem(rel, reason, where_of(offset).line, member)

    for dep in install_dependencies(script, where_of, problem, notebook=True):
        if not out.add(dep):
            return
