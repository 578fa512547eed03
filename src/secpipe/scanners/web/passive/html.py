"""A bounded, linear-time HTML reader for the passive checks.

The standard library's ``html.parser`` is quadratic on hostile input (a page of unterminated
``<!--`` or ``<a`` takes minutes at 200 KB), so this reader tokenises the way a browser does,
always moving forward: a comment runs to ``-->`` (or the end of the text), a tag to the ``>``
outside quotes, the content of ``script``/``style``/``textarea``/``title`` to its end tag; an
unterminated construct ends the reading (a browser drops it too). Every step starts where the
previous one ended, so the cost is linear in the text.

It keeps only what the checks read: the tags that load or send something (script, link,
frame, media, object, form and its fields, meta, base), anchors, comments, the title and the
first ``<h1>``. Every list is capped (:data:`MAX_ITEMS`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

MAX_ITEMS = 2000
"""Tags, comments and anchors kept per page (each)."""
MAX_COMMENT = 4000
"""Characters kept of one comment."""
MAX_ATTRS = 64
"""Attributes read per tag."""

_KEPT = frozenset({"script", "link", "iframe", "frame", "img", "audio", "video", "source",
                   "object", "embed", "form", "input", "button", "textarea", "select", "meta",
                   "base", "track", "area", "option"})
MAX_SCRIPT_TEXT = 200_000
"""Characters kept of one inline script (the crawler reads its fetch/axios calls)."""
_RAW = frozenset({"script", "style", "textarea", "title", "xmp", "noscript"})
_FIELDS = frozenset({"input", "button", "textarea", "select"})
_NAME = re.compile(r"[^\s/>]{1,100}")
_ATTR = re.compile(r"""[\s/]*([^\s"'>/=][^\s"'>/=]{0,99})(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|"""
                   r"""([^\s>]{0,4000})))?""")
_END_OF_ATTRS = re.compile(r"[\s/]*>")
_TAGS = re.compile(r"<[^>]{0,4000}>")
_OPEN = re.compile(r"<(?:[!?A-Za-z]|/[A-Za-z])")


@dataclass
class Form:
    """A form and the fields inside it."""

    method: str
    action: str
    fields: list[dict[str, str]] = field(default_factory=list)


@dataclass
class HtmlDoc:
    """What :func:`parse_html` kept of a page."""

    tags: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    forms: list[Form] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    anchors: list[str] = field(default_factory=list)
    title: str = ""
    heading: str = ""
    texts: dict[int, str] = field(default_factory=dict)
    """Index in :attr:`tags` -> inner text, for ``script`` and ``textarea`` (capped)."""

    def meta(self, name: str) -> list[str]:
        """The ``content`` of every ``<meta name=NAME>`` or ``http-equiv=NAME`` (lower case)."""
        out = []
        for tag, attrs in self.tags:
            if tag == "meta" and name in (attrs.get("name", "").lower(),
                                          attrs.get("http-equiv", "").lower()):
                out.append(attrs.get("content", ""))
        return out


def _attributes(text: str, pos: int) -> tuple[dict[str, str], int]:
    """The attributes from ``pos`` and the index after the tag's ``>`` (-1 when the tag never
    ends)."""
    attrs: dict[str, str] = {}
    for _ in range(MAX_ATTRS):
        end = _END_OF_ATTRS.match(text, pos)
        if end:
            return attrs, end.end()
        match = _ATTR.match(text, pos)
        if match is None or match.end() == pos:
            break
        name = match.group(1).lower()
        value = next((g for g in match.group(2, 3, 4) if g is not None), "")
        if name not in attrs:
            attrs[name] = html.unescape(value[:4000])
        pos = match.end()
    close = text.find(">", pos)
    return attrs, (close + 1 if close >= 0 else -1)


def _text(fragment: str) -> str:
    return " ".join(html.unescape(_TAGS.sub(" ", fragment)).split())[:500]


def parse_html(text: str) -> HtmlDoc:
    """Read ``text`` as HTML (never raises; linear in ``len(text)``)."""
    doc = HtmlDoc()
    form: Form | None = None
    lower = text.lower()
    pos, size = 0, len(text)
    while pos < size:
        found = _OPEN.search(text, pos)
        if found is None:
            break
        start = found.start()
        nxt = text[start + 1]
        if text.startswith("<!--", start):
            end = text.find("-->", start + 4)
            body = text[start + 4:end if end >= 0 else size]
            if len(doc.comments) < MAX_ITEMS:
                doc.comments.append(body[:MAX_COMMENT])
            if end < 0:
                break
            pos = end + 3
            continue
        if nxt in "!?":  # doctype, CDATA, processing instruction
            end = text.find(">", start)
            if end < 0:
                break
            pos = end + 1
            continue
        closing = nxt == "/"
        first = start + (2 if closing else 1)
        name_match = _NAME.match(text, first) if text[first:first + 1].isalpha() else None
        if name_match is None:
            pos = start + 1  # a lone "<" is text
            continue
        tag = name_match.group(0).lower()
        attrs, after = _attributes(text, name_match.end())
        if after < 0:
            break
        pos = after
        if closing:
            if tag == "form":
                form = None
            continue
        inner: str | None = None
        if tag in _RAW:
            end = lower.find(f"</{tag}", pos)
            inner = text[pos:end if end >= 0 else size]
            if tag == "title" and not doc.title:
                doc.title = _text(inner[:4000])
            if end < 0:
                pos = size
            else:
                close = text.find(">", end)
                pos = close + 1 if close >= 0 else size
        if tag == "h1" and not doc.heading:
            end = lower.find("</h1", pos)
            doc.heading = _text(text[pos:(end if end >= 0 else pos + 4000)][:4000])
        if tag == "a":
            if "href" in attrs and len(doc.anchors) < MAX_ITEMS:
                doc.anchors.append(attrs["href"])
            continue
        if tag not in _KEPT:
            continue
        if tag == "form":
            form = Form(attrs.get("method", "get").strip().lower() or "get",
                        attrs.get("action", ""))
            if len(doc.forms) < MAX_ITEMS:
                doc.forms.append(form)
        elif tag in _FIELDS and form is not None and len(form.fields) < MAX_ITEMS:
            entry = {"tag": tag, **attrs}
            if tag == "textarea" and inner is not None:
                entry["#text"] = html.unescape(inner[:MAX_COMMENT])
            form.fields.append(entry)
        elif tag == "option" and form is not None and form.fields \
                and form.fields[-1]["tag"] == "select" and "#option" not in form.fields[-1]:
            form.fields[-1]["#option"] = attrs.get("value", "")
        if len(doc.tags) < MAX_ITEMS:
            doc.tags.append((tag, attrs))
            if inner is not None and tag in ("script", "textarea"):
                doc.texts[len(doc.tags) - 1] = inner[:MAX_SCRIPT_TEXT]
    return doc
