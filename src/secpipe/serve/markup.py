"""HTML built from escaped parts only.

A page is assembled from :class:`Markup` values: :func:`tag` escapes every ``str`` child and every
attribute value it is given, so a value from the run store (a finding's message, a path, a step's
output) can only ever reach a page as text. Text is first made visible by
:func:`secpipe.reports.escape.printable` (control, bidi and undecodable characters become
escapes, as in the HTML report), then :func:`html.escape` d with quotes. Nothing in this package
joins plain strings into HTML: the only way to get :class:`Markup` from a ``str`` is :func:`esc`.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from secpipe.reports.escape import printable

#: HTML elements written without a closing tag (SVG elements always get one: inside ``<svg>``
#: an unclosed ``<circle>`` would swallow what follows)
_VOID = frozenset({"br", "hr", "img", "input", "link", "meta"})


class Markup(str):
    """A string that is already safe HTML (built by :func:`tag`, :func:`esc` or :func:`join`)."""

    __slots__ = ()


def esc(value: object) -> Markup:
    """``value`` as HTML text: :class:`Markup` as it is, anything else printable-escaped then
    HTML-escaped (quotes included, so it is safe inside an attribute too)."""
    if isinstance(value, Markup):
        return value
    return Markup(escape(printable(str(value), keep="\t\n"), quote=True))


def join(parts: Iterable[object], sep: str = "") -> Markup:
    """Each part escaped (:func:`esc`), then joined; ``sep`` is escaped too."""
    return Markup(esc(sep).join(esc(p) for p in parts))


def _children(children: tuple[object, ...]) -> Markup:
    out: list[str] = []
    for child in children:
        if child is None:
            continue
        if isinstance(child, str | int | float):
            out.append(esc(child))
        else:  # an iterable of parts (a generator of rows)
            out.extend(esc(c) for c in child)  # type: ignore[attr-defined]
    return Markup("".join(out))


def _attr_name(name: str) -> str:
    """``class_`` → ``class``, ``data_sev`` → ``data-sev``, ``aria_label`` → ``aria-label``;
    names come from this package's code, never from data."""
    name = name.rstrip("_").replace("_", "-")
    if not name or not all(c.isalnum() or c == "-" for c in name):
        raise ValueError(f"bad attribute name {name!r}")
    return name


def tag(name: str, /, *children: object, **attrs: object) -> Markup:
    """``<name attrs>children</name>``; attributes whose value is ``None`` or ``False`` are left
    out, ``True`` writes the bare attribute. Every child and value is escaped."""
    if not name.isalnum():
        raise ValueError(f"bad element name {name!r}")
    parts = [name]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        attr = _attr_name(key)
        parts.append(attr if value is True else f'{attr}="{esc(value)}"')
    head = "<" + " ".join(parts) + ">"
    if name in _VOID and not children:
        return Markup(head)
    return Markup(f"{head}{_children(children)}</{name}>")
