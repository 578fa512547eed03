"""What the code scanner reads: which files are Python, their text, and notebook code cells.

Nothing here imports or runs what it reads. A source file's bytes are decoded as Python itself
would (PEP 263: a UTF-8 byte-order mark, else a ``coding`` declaration on line 1 or 2, else UTF-8);
a declared encoding Python does not know, or bytes that do not decode, raise
:class:`Undecodable` with the line where decoding stopped. A Jupyter notebook's code cells are
returned one by one with IPython's own syntax (``%magic``, ``!shell``, ``x = !cmd``, ``obj?``)
replaced by ``pass`` at the same indentation, so each cell parses and keeps its line numbers.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass

PYTHON_SUFFIXES = (".py", ".pyw")
"""Python source files by name (``.pyi`` stubs hold no behaviour and are not analysed)."""
NOTEBOOK_SUFFIX = ".ipynb"
SHEBANG_PROBE_BYTES = 128
"""How much of an extension-less file is read to look for a ``#!…python`` line."""

_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
_BLANK_OR_COMMENT = re.compile(rb"^[ \t\f]*(?:[#\r\n]|$)")
_SHEBANG = re.compile(rb"^#![^\n]*\bpython[0-9.]*\b")
_NEWLINES = re.compile(r"\r\n|\r|\n")
# IPython syntax that is not Python: a line magic or shell escape (``%pip``, ``!ls``), one
# assigned (``files = !ls``, ``t = %timeit f()``), or a help request (``obj?``, ``??obj``)
_MAGIC = re.compile(r"^([ \t]*)(?:[%!?]|[\w.]+(?:[ \t]*,[ \t]*[\w.]+)*[ \t]*=[ \t]*[%!])")
_HELP = re.compile(r"^([ \t]*)[\w.]+\?{1,2}[ \t]*$")
#: cell magics whose body is Python (``%%time`` …); any other ``%%name`` cell is another language
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "pypy"})


class Undecodable(Exception):
    """The bytes are not text in the encoding Python would read them in."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


def kind_by_name(name: str) -> str | None:
    """``"py"`` or ``"ipynb"`` when the file name says it is Python source or a notebook."""
    lower = name.lower()
    if lower.endswith(PYTHON_SUFFIXES):
        return "py"
    if lower.endswith(NOTEBOOK_SUFFIX):
        return "ipynb"
    return None


def is_python_shebang(head: bytes) -> bool:
    """True when ``head`` (a file's first bytes) starts with a ``#!`` line naming python."""
    return bool(_SHEBANG.match(head))


def declared_encoding(data: bytes) -> tuple[str, int]:
    """The encoding Python reads ``data`` in, and how many bytes of BOM to drop (PEP 263)."""
    bom = 0
    if data.startswith(codecs.BOM_UTF8):
        bom = len(codecs.BOM_UTF8)
    first, _, rest = data[bom:].partition(b"\n")
    second = rest.partition(b"\n")[0]
    for number, line in ((1, first), (2, second)):
        match = _COOKIE.match(line)
        if match:
            name = match.group(1).decode("ascii", "replace")
            try:
                info = codecs.lookup(name)
            except LookupError:
                raise Undecodable(f"unknown encoding {name!r} declared", number) from None
            if bom and info.name != "utf-8":
                raise Undecodable(f"encoding {name!r} declared after a UTF-8 byte-order mark",
                                  number)
            return info.name, bom
        if number == 1 and not _BLANK_OR_COMMENT.match(line):
            break  # PEP 263: line 2 counts only when line 1 is blank or a comment
    return "utf-8", bom


def decode(data: bytes) -> str:
    """``data`` decoded as Python would decode it; :class:`Undecodable` when it cannot be."""
    encoding, bom = declared_encoding(data)
    try:
        return data[bom:].decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[bom:bom + exc.start].count(b"\n") + 1
        raise Undecodable(f"not valid {encoding} at byte {exc.start + bom}", line) from None
    except LookupError as exc:  # an encoding that exists but cannot decode (a codec for bytes)
        raise Undecodable(f"encoding {encoding!r} cannot decode text: {exc}", 1) from None


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` as Python numbers them (``\\r\\n``, ``\\r`` and ``\\n`` end a line;
    form feeds and other separators ``str.splitlines`` knows do not)."""
    return _NEWLINES.split(text)


@dataclass(frozen=True)
class Cell:
    """One code cell of a notebook, ready to parse."""

    index: int
    """Its position among all the notebook's cells (``cell[N]``)."""
    code: str
    """Its source with IPython syntax replaced by ``pass`` (same line count, same indentation)."""


@dataclass(frozen=True)
class Notebook:
    """The parts of a notebook the code scanner analyses."""

    cells: list[Cell]
    """Its Python code cells."""
    other_cells: list[tuple[int, str]]
    """(index, why) of code cells not analysed as Python (``%%bash`` …)."""
    language: str
    """The kernel's language (``python`` when the notebook does not say)."""


def _cell_text(source: object) -> str | None:
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(s, str) for s in source):
        return "".join(source)
    return None


def read_notebook(text: str) -> Notebook:
    """The code cells of the notebook ``text``; ``ValueError`` saying why it is not one."""
    try:
        doc = json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cells"), list):
        raise ValueError("not a Jupyter notebook (no list of cells)")
    language = _language(doc.get("metadata"))
    cells: list[Cell] = []
    other: list[tuple[int, str]] = []
    for index, cell in enumerate(doc["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        code = _cell_text(cell.get("source"))
        if code is None:
            other.append((index, "cell source is not text"))
            continue
        first = code.lstrip().partition("\n")[0]
        if first.startswith("%%"):
            name = first[2:].split(None, 1)[0] if first[2:].strip() else ""
            if name not in PYTHON_CELL_MAGICS:
                other.append((index, f"%%{name} cell (not Python)"))
                continue
        cells.append(Cell(index, blank_ipython(code)))
    return Notebook(cells, other, language)


def _language(metadata: object) -> str:
    if not isinstance(metadata, dict):
        return "python"
    for key, field in (("kernelspec", "language"), ("language_info", "name")):
        section = metadata.get(key)
        if isinstance(section, dict) and isinstance(section.get(field), str):
            return str(section[field]).strip().lower() or "python"
    return "python"


def blank_ipython(code: str) -> str:
    """``code`` with each line of IPython syntax replaced by ``pass`` at its indentation; the
    line count, and so every line number, is unchanged."""
    if not any(c in code for c in "%!?"):
        return code
    out: list[str] = []
    for line in split_lines(code):
        match = _MAGIC.match(line) or _HELP.match(line)
        out.append(f"{match.group(1)}pass" if match else line)
    return "\n".join(out)
