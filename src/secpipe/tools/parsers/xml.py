"""XML tool output (JUnit reports, checkov's and bandit's XML …), read defensively.

The document is parsed with the standard library's expat, with handlers that refuse any document
type declaration (so no entity can be defined: no "billion laughs", no external entity reaching a
file or a URL) and an external entity reference. Size, nesting depth and element count are bounded.
The result is our own frozen :class:`XmlElement` tree, never a parser object.

Why not ``defusedxml``: it wraps the same expat handlers, its default still accepts a DTD
(``forbid_dtd=False``), it ships no type information (mypy strict) and would be one more core
dependency; refusing every DTD outright is both stricter and a few lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

from secpipe.core.errors import InputError
from secpipe.tools.parsers.common import read_bounded

MAX_XML_BYTES = 64 << 20
"""Default bound on the size of an XML output."""
MAX_DEPTH = 64
"""Deepest element nesting accepted."""
MAX_ELEMENTS = 1_000_000
"""Elements accepted in one document."""
MAX_TEXT = 1 << 20
"""Characters of text kept per element (the rest is cut)."""


@dataclass(frozen=True)
class XmlElement:
    """One element of a parsed document."""

    tag: str
    """Its name; ``{namespace}local`` when namespaced."""
    attributes: tuple[tuple[str, str], ...] = ()
    """Its attributes, in document order."""
    text: str = ""
    """Its character data (all text directly inside it, joined), bounded."""
    children: tuple[XmlElement, ...] = ()
    """Its child elements, in order."""

    def get(self, name: str, default: str = "") -> str:
        """The value of attribute ``name``."""
        return next((v for k, v in self.attributes if k == name), default)

    def iter(self, tag: str) -> list[XmlElement]:
        """Every element named ``tag`` in this subtree (itself included), in document order."""
        found: list[XmlElement] = []
        stack: list[XmlElement] = [self]
        while stack:
            node = stack.pop()
            if node.tag == tag:
                found.append(node)
            stack.extend(reversed(node.children))
        return found


@dataclass
class _Open:
    tag: str
    attributes: tuple[tuple[str, str], ...]
    text: list[str] = field(default_factory=list)
    size: int = 0
    children: list[XmlElement] = field(default_factory=list)


class _Builder:
    def __init__(self, where: str, max_depth: int, max_elements: int) -> None:
        self.where, self.max_depth, self.max_elements = where, max_depth, max_elements
        self.stack: list[_Open] = []
        self.count = 0
        self.root: XmlElement | None = None

    def start(self, name: str, attrs: list[str]) -> None:
        self.count += 1
        if self.count > self.max_elements:
            raise InputError(f"{self.where} has over {self.max_elements} elements")
        if len(self.stack) >= self.max_depth:
            raise InputError(f"{self.where} nests elements deeper than {self.max_depth}")
        pairs = tuple((_name(attrs[i]), attrs[i + 1]) for i in range(0, len(attrs), 2))
        self.stack.append(_Open(_name(name), pairs))

    def data(self, text: str) -> None:
        top = self.stack[-1] if self.stack else None
        if top is not None and top.size < MAX_TEXT:
            top.text.append(text[: MAX_TEXT - top.size])
            top.size += len(text)

    def end(self, name: str) -> None:
        top = self.stack.pop()
        element = XmlElement(top.tag, top.attributes, "".join(top.text).strip(),
                             tuple(top.children))
        if self.stack:
            self.stack[-1].children.append(element)
        else:
            self.root = element


def _name(raw: str) -> str:
    uri, sep, local = raw.rpartition("\x1f")
    return f"{{{uri}}}{local}" if sep else raw


def guarded_parser(what: str, error: Callable[[str], Exception] = InputError
                   ) -> expat.XMLParserType:
    """An expat parser (namespaces joined with ``\x1f``) that refuses, by raising
    ``error(message)``, any document type declaration, entity declaration or external entity
    reference in ``what`` (no entity expansion, no external fetch). The caller sets the element
    and text handlers. Shared by every XML reader of secpipe (tool output, SCAP datastreams)."""

    def refuse(*_: Any) -> None:
        raise error(f"{what} declares a document type or entities (refused)")

    def refuse_ref(*_: Any) -> int:
        raise error(f"{what} refers to an external entity (refused)")

    parser = expat.ParserCreate(namespace_separator="\x1f")
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse_ref
    return parser


def parse_xml(raw: bytes, *, what: str = "XML output", max_depth: int = MAX_DEPTH,
              max_elements: int = MAX_ELEMENTS) -> XmlElement:
    """The root element of an XML document; :class:`InputError` when it is malformed, declares a
    document type or entities, or is deeper or larger than the bounds."""
    builder = _Builder(what, max_depth, max_elements)
    parser = guarded_parser(what)
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.ordered_attributes = True
    parser.buffer_text = True
    try:
        parser.Parse(raw, True)
    except expat.ExpatError as exc:
        raise InputError(f"{what} is not well-formed XML: {expat.ErrorString(exc.code)} "
                         f"(line {exc.lineno})") from None
    if builder.root is None:
        raise InputError(f"{what} has no root element")
    return builder.root


def read_xml(path: Path, max_bytes: int = MAX_XML_BYTES, what: str = "XML output",
             **bounds: int) -> XmlElement:
    """:func:`parse_xml` of a file read within ``max_bytes``."""
    return parse_xml(read_bounded(path, max_bytes, what), what=f"{what} {path}", **bounds)
