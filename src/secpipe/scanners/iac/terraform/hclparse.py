"""HCL and Terraform JSON syntax into one small, JSON-serialisable syntax tree.

The tree-sitter HCL grammar parses ``.tf``/``.tfvars`` text (exact lines, error recovery); the
result is converted once into plain lists and dicts (so that it can be cached by content hash)
and evaluated later by :mod:`.expr`. Nothing is evaluated here.

Expression nodes (lists, first item the kind):

``["lit", value]`` · ``["tpl", parts, text]`` (parts: ``str``, a node, or the directives
``["tif", test, then_parts, else_parts]`` and ``["tfor", key_var, value_var, collection,
parts]``; ``~`` strip markers and ``<<-`` indentation are already applied) ·
``["tuple", items]`` · ``["object", [[key, value], ...]]`` ·
``["trav", base, ops, text]`` (base ``["name", id]`` or a node; ops ``["a", name]``,
``["i", node]``, ``["s", ops]`` for a splat) · ``["call", name, args, expand, text]`` ·
``["bin", op, left, right, text]`` · ``["un", op, node, text]`` ·
``["cond", test, yes, no, text]`` ·
``["for", kind, key_var, value_var, collection, key, value, cond, group, text]`` ·
``["unk", text, reason]``.

A body is ``{"a": [[name, node, line], ...], "b": [[type, labels, body, line, end_line], ...]}``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import tree_sitter
import tree_sitter_hcl

from secpipe.tools.redact import redact_tokens

PARSER_VERSION = 3
"""Bumped whenever the syntax tree format changes (cache keys include it)."""

MAX_COLLECTION = 10_000
"""Larger tuple/object literals are not converted (they stay unresolved)."""

TEXT_MAX = 200
"""Expression text kept for messages is cut at this many characters."""

_LANGUAGE = tree_sitter.Language(tree_sitter_hcl.language())
_PRIMARY_SKIP = frozenset({"comment"})
_POSTFIX = frozenset({"get_attr", "index", "splat"})
_BINARY_OPS = frozenset({"+", "-", "*", "/", "%", "==", "!=", "<", ">", "<=", ">=", "&&", "||"})
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.DOTALL)


class TooDeep(Exception):
    """Nesting deeper than the budget allows."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


@dataclass
class ParsedFile:
    """One file's syntax: its top-level body, or why (part of) it could not be read."""

    body: dict[str, Any] = field(default_factory=lambda: {"a": [], "b": []})
    errors: list[tuple[int | None, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"v": PARSER_VERSION, "body": self.body, "errors": [list(e) for e in self.errors]}

    @staticmethod
    def from_json(data: Any) -> ParsedFile | None:
        """A cached entry, or None when it is not one this version wrote."""
        if not isinstance(data, dict) or data.get("v") != PARSER_VERSION:
            return None
        body, errors = data.get("body"), data.get("errors")
        if not isinstance(errors, list) or not isinstance(body, dict) or \
                not _body_shape(body):
            return None
        out: list[tuple[int | None, str]] = []
        for item in errors:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], str)):
                return None
            out.append((item[0] if isinstance(item[0], int) else None, item[1]))
        return ParsedFile(body, out)


def _body_shape(body: Any) -> bool:
    """True when ``body`` (and every nested body) has the shape the loader unpacks (a cache
    entry is checked before use; expression nodes are guarded by the evaluator)."""
    stack = [body]
    while stack:
        cur = stack.pop()
        if not isinstance(cur, dict) or not isinstance(cur.get("a"), list) or \
                not isinstance(cur.get("b"), list):
            return False
        for attr in cur["a"]:
            if not (isinstance(attr, list) and len(attr) == 3 and isinstance(attr[0], str)
                    and isinstance(attr[1], list) and _line(attr[2])):
                return False
        for block in cur["b"]:
            if not (isinstance(block, list) and len(block) == 5 and isinstance(block[0], str)
                    and isinstance(block[1], list)
                    and all(isinstance(label, str) for label in block[1])
                    and _line(block[3]) and _line(block[4])):
                return False
            stack.append(block[2])
    return True


def _line(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def _cut(text: str) -> str:
    """Expression text kept for messages: one line, bounded, random-looking tokens masked
    (an expression may quote a secret)."""
    text = redact_tokens(" ".join(text[:TEXT_MAX * 4].split()))
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 1] + "…"


def _unescape(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        esc = m.group(1)
        if esc[0] in "uU" and len(esc) > 1:
            try:
                return chr(int(esc[1:], 16))
            except ValueError:  # beyond the Unicode range
                return "\ufffd"
        return _ESCAPES.get(esc, "\\" + esc)

    return _ESCAPE_RE.sub(one, text) if "\\" in text else text


def _template_text(text: str) -> str:
    return text.replace("$${", "${").replace("%%{", "%{")


class _Converter:
    """tree-sitter nodes -> syntax tree, with an explicit depth bound."""

    def __init__(self, src: bytes, max_depth: int) -> None:
        self.src = src
        self.max_depth = max_depth

    def text(self, node: tree_sitter.Node) -> str:
        return self.src[node.start_byte:node.end_byte].decode("utf-8", "replace")

    def check(self, depth: int, node: tree_sitter.Node | None) -> None:
        if depth > self.max_depth:
            raise TooDeep(node.start_point[0] + 1 if node is not None else 0)

    # -- bodies ---------------------------------------------------------------------------
    def body(self, node: tree_sitter.Node | None, depth: int,
             keep_broken: bool = False) -> dict[str, Any]:
        attrs: list[list[Any]] = []
        blocks: list[list[Any]] = []
        if node is None:
            return {"a": attrs, "b": blocks}
        self.check(depth, node)
        for child in node.named_children:
            if keep_broken and child.has_error:
                continue  # a top-level item around a syntax error is left out
            if child.type == "attribute":
                name = child.named_children[0]
                expr = child.named_children[1] if len(child.named_children) > 1 else None
                value = (self.expr(expr, depth) if expr is not None
                         else ["unk", "", "missing value"])
                attrs.append([self.text(name), value, child.start_point[0] + 1])
            elif child.type == "block":
                blocks.append(self.block(child, depth + 1))
        return {"a": attrs, "b": blocks}

    def block(self, node: tree_sitter.Node, depth: int) -> list[Any]:
        self.check(depth, node)
        kind = ""
        labels: list[str] = []
        inner: tree_sitter.Node | None = None
        for child in node.named_children:
            if child.type == "identifier":
                if not kind:
                    kind = self.text(child)
                else:
                    labels.append(self.text(child))
            elif child.type == "string_lit":
                labels.append(self.string_lit(child))
            elif child.type == "body":
                inner = child
        return [kind, labels, self.body(inner, depth), node.start_point[0] + 1,
                node.end_point[0] + 1]

    def string_lit(self, node: tree_sitter.Node) -> str:
        start = node.children[0].end_byte if node.children else node.start_byte
        end = node.children[-1].start_byte if len(node.children) > 1 else node.end_byte
        return _template_text(_unescape(self.src[start:end].decode("utf-8", "replace")))

    # -- expressions ----------------------------------------------------------------------
    def expr(self, node: tree_sitter.Node, depth: int) -> list[Any]:
        self.check(depth, node)
        if node.type == "expression":
            return self.seq([c for c in node.named_children if c.type not in _PRIMARY_SKIP],
                            depth, node)
        return self.seq([node], depth, node)

    def seq(self, nodes: list[tree_sitter.Node], depth: int,
            whole: tree_sitter.Node) -> list[Any]:
        """A primary term followed by postfix operators (attribute, index, splat)."""
        if not nodes:
            return ["unk", self.text(whole), "empty expression"]
        head, rest = nodes[0], nodes[1:]
        if head.type == "variable_expr":
            base: list[Any] = ["name", self.text(head)]
        else:
            base = self.primary(head, depth)
        if not rest:
            return base
        ops = self.ops(rest, depth)
        start, end = nodes[0].start_byte, nodes[-1].end_byte
        text = _cut(self.src[start:end].decode("utf-8", "replace"))
        return ["trav", base, ops, text]

    def ops(self, nodes: list[tree_sitter.Node], depth: int) -> list[Any]:
        out: list[Any] = []
        for node in nodes:
            if node.type == "get_attr":
                ident = [c for c in node.named_children if c.type == "identifier"]
                out.append(["a", self.text(ident[0]) if ident else ""])
            elif node.type == "index":
                inner = node.named_children[0] if node.named_children else None
                if inner is not None and inner.type == "legacy_index":
                    digits = self.text(inner).lstrip(".")
                    out.append(["i", ["lit", int(digits) if digits.isdigit() else digits]])
                elif inner is not None:
                    exprs = [c for c in inner.named_children if c.type == "expression"]
                    out.append(["i", self.expr(exprs[0], depth + 1) if exprs
                                else ["unk", self.text(node), "empty index"]])
            elif node.type == "splat":
                for splat in node.named_children:
                    out.append(["s", self.ops(list(splat.named_children), depth + 1)])
            elif node.type not in _PRIMARY_SKIP:
                out.append(["i", ["unk", self.text(node), "unexpected syntax"]])
        return out

    def primary(self, node: tree_sitter.Node, depth: int) -> list[Any]:
        self.check(depth, node)
        kind = node.type
        if kind == "expression":
            return self.expr(node, depth + 1)
        if kind == "literal_value":
            return self.literal(node)
        if kind in ("collection_value", "template_expr", "for_expr", "operation"):
            inner = node.named_children
            return self.primary(inner[0], depth) if inner else ["unk", self.text(node), ""]
        if kind in ("tuple", "object") and node.named_child_count > MAX_COLLECTION + 2:
            return ["unk", _cut(self.text(node)), "collection too large"]
        if kind == "tuple":
            return ["tuple", [self.expr(c, depth + 1) for c in node.named_children
                              if c.type == "expression"]]
        if kind == "object":
            elems: list[Any] = []
            for elem in node.named_children:
                if elem.type != "object_elem":
                    continue
                key_node = elem.child_by_field_name("key")
                val_node = elem.child_by_field_name("val")
                if key_node is None or val_node is None:
                    continue
                elems.append([self.object_key(key_node, depth + 1),
                              self.expr(val_node, depth + 1)])
            return ["object", elems]
        if kind in ("quoted_template", "heredoc_template"):
            return self.template(node, depth)
        if kind == "string_lit":
            return ["lit", self.string_lit(node)]
        if kind == "function_call":
            return self.call(node, depth)
        if kind == "binary_operation":
            return self.binary(node, depth)
        if kind == "unary_operation":
            children = node.children
            op = self.text(children[0]) if children else "?"
            return ["un", op, self.seq([c for c in node.named_children
                                        if c.type not in _PRIMARY_SKIP], depth + 1, node),
                    _cut(self.text(node))]
        if kind == "conditional":
            parts = [c for c in node.named_children if c.type == "expression"]
            if len(parts) != 3:
                return ["unk", _cut(self.text(node)), "incomplete conditional"]
            return ["cond", *[self.expr(p, depth + 1) for p in parts], _cut(self.text(node))]
        if kind in ("for_tuple_expr", "for_object_expr"):
            return self.for_expr(node, depth)
        if kind == "variable_expr":
            return ["name", self.text(node)]
        return ["unk", _cut(self.text(node)), f"unsupported syntax {kind}"]

    def object_key(self, node: tree_sitter.Node, depth: int) -> list[Any]:
        parts = [c for c in node.named_children if c.type not in _PRIMARY_SKIP]
        if len(parts) == 1 and parts[0].type == "variable_expr":
            return ["lit", self.text(parts[0])]  # a bare identifier key is its own name
        return self.expr(node, depth)

    def literal(self, node: tree_sitter.Node) -> list[Any]:
        inner = node.named_children[0] if node.named_children else node
        if inner.type == "numeric_lit":
            raw = self.text(inner)
            try:
                if any(c in raw for c in ".eE"):
                    number: float | int = float(raw)
                    if isinstance(number, float) and number.is_integer() and "." not in raw:
                        number = int(number)
                else:
                    number = int(raw)
            except (ValueError, OverflowError):
                return ["unk", raw, "number out of range"]
            return ["lit", number]
        if inner.type == "bool_lit":
            return ["lit", self.text(inner) == "true"]
        if inner.type == "null_lit":
            return ["lit", None]
        if inner.type == "string_lit":
            return ["lit", self.string_lit(inner)]
        return ["unk", _cut(self.text(node)), "unsupported literal"]

    def template(self, node: tree_sitter.Node, depth: int) -> list[Any]:
        children = node.children
        heredoc = node.type == "heredoc_template"
        cut = 0
        if heredoc:
            idents = [c for c in children if c.type == "heredoc_identifier"]
            if len(idents) < 2:
                return ["unk", _cut(self.text(node)), "unterminated heredoc"]
            start = self.src.find(b"\n", idents[0].end_byte)
            start = idents[0].end_byte if start < 0 else start + 1
            end = self.src.rfind(b"\n", 0, idents[-1].start_byte) + 1
            end = max(end, start)
            if children[0].type == "heredoc_start" and self.text(children[0]).strip() == "<<-":
                cut = _indent_of(self.src[start:end])
        else:
            start = children[0].end_byte if children else node.start_byte
            end = children[-1].start_byte if len(children) > 1 else node.end_byte
        tmpl = _Template(self, heredoc, start, cut)
        parts = tmpl.parts(children, start, end, depth)
        return ["tpl", parts, _cut(self.text(node))]

    def call(self, node: tree_sitter.Node, depth: int) -> list[Any]:
        name = ""
        args: list[Any] = []
        expand = False
        for child in node.named_children:
            if child.type == "identifier" and not name:
                name = self.text(child)
            elif child.type == "function_arguments":
                for arg in child.named_children:
                    if arg.type == "expression":
                        args.append(self.expr(arg, depth + 1))
                    elif arg.type == "ellipsis":
                        expand = True
        return ["call", name, args, expand, _cut(self.text(node))]

    def binary(self, node: tree_sitter.Node, depth: int) -> list[Any]:
        left: list[tree_sitter.Node] = []
        right: list[tree_sitter.Node] = []
        op = ""
        for child in node.children:
            if not child.is_named and child.type in _BINARY_OPS and not op:
                op = child.type
            elif child.is_named and child.type not in _PRIMARY_SKIP:
                (right if op else left).append(child)
        if not op or not left or not right:
            return ["unk", _cut(self.text(node)), "incomplete operation"]
        return ["bin", op, self.seq(left, depth + 1, node), self.seq(right, depth + 1, node),
                _cut(self.text(node))]

    def for_expr(self, node: tree_sitter.Node, depth: int) -> list[Any]:
        intro = next((c for c in node.named_children if c.type == "for_intro"), None)
        if intro is None:
            return ["unk", _cut(self.text(node)), "incomplete for expression"]
        names = [self.text(c) for c in intro.named_children if c.type == "identifier"]
        colls = [c for c in intro.named_children if c.type == "expression"]
        if not names or not colls:
            return ["unk", _cut(self.text(node)), "incomplete for expression"]
        key_var = names[0] if len(names) == 2 else None
        value_var = names[-1]
        exprs = [c for c in node.named_children if c.type == "expression"]
        cond_node = next((c for c in node.named_children if c.type == "for_cond"), None)
        cond = None
        if cond_node is not None:
            inner = [c for c in cond_node.named_children if c.type == "expression"]
            cond = self.expr(inner[0], depth + 1) if inner else None
        group = any(c.type == "ellipsis" for c in node.named_children)
        is_object = node.type == "for_object_expr"
        if (is_object and len(exprs) != 2) or (not is_object and len(exprs) != 1):
            return ["unk", _cut(self.text(node)), "incomplete for expression"]
        key = self.expr(exprs[0], depth + 1) if is_object else None
        value = self.expr(exprs[-1], depth + 1)
        return ["for", "o" if is_object else "t", key_var, value_var,
                self.expr(colls[0], depth + 1), key, value, cond, group, _cut(self.text(node))]


_LEFT = object()
_RIGHT = object()
"""Strip markers while template parts are assembled (never stored)."""


def _indent_of(body: bytes) -> int:
    """Smallest indentation of the non-blank lines of a ``<<-`` heredoc body."""
    indents = [len(line) - len(line.lstrip(b" \t")) for line in body.split(b"\n")
               if line.strip(b" \t\r")]
    return min(indents) if indents else 0


class _Template:
    """Template parts between byte offsets: literal text, interpolations, ``%{if}`` and
    ``%{for}`` directives, with ``~`` strip markers applied and ``<<-`` indentation removed."""

    def __init__(self, conv: _Converter, heredoc: bool, body_start: int, cut: int) -> None:
        self.conv = conv
        self.src = conv.src
        self.heredoc = heredoc
        self.body_start = body_start
        self.cut = cut

    def literal(self, start: int, end: int) -> str:
        raw = self.src[start:end]
        if self.cut:
            lines = raw.split(b"\n")
            out = []
            for i, line in enumerate(lines):
                at_line_start = i > 0 or start == self.body_start or \
                    self.src[start - 1:start] == b"\n"
                if at_line_start:
                    strip = min(self.cut, len(line) - len(line.lstrip(b" \t")))
                    line = line[strip:]
                out.append(line)
            raw = b"\n".join(out)
        text = raw.decode("utf-8", "replace")
        return _template_text(text if self.heredoc else _unescape(text))

    def parts(self, children: list[tree_sitter.Node], start: int, end: int,
              depth: int) -> list[Any]:
        conv = self.conv
        conv.check(depth, children[0] if children else None)
        out: list[Any] = []
        pos = start
        for child in children:
            if child.start_byte < start or child.end_byte > end:
                continue
            if child.type == "template_interpolation":
                out.append(self.literal(pos, child.start_byte))
                left, right = _strips(child)
                exprs = [c for c in child.named_children if c.type == "expression"]
                part = (conv.expr(exprs[0], depth + 1) if exprs
                        else ["unk", conv.text(child), "empty interpolation"])
                out.extend([*([_LEFT] if left else []), part, *([_RIGHT] if right else [])])
                pos = child.end_byte
            elif child.type == "template_directive":
                out.append(self.literal(pos, child.start_byte))
                out.extend(self.directive(child, depth + 1))
                pos = child.end_byte
        out.append(self.literal(pos, end))
        return _apply_strips(out)

    def directive(self, node: tree_sitter.Node, depth: int) -> list[Any]:
        conv = self.conv
        inner = node.named_children[0] if node.named_children else None
        if inner is None:
            return [["unk", _cut(conv.text(node)), "empty directive"]]
        kids = inner.named_children
        if inner.type == "template_if" and kids and kids[0].type == "template_if_intro":
            intro, last = kids[0], kids[-1]
            else_at = next((i for i, k in enumerate(kids) if k.type == "template_else_intro"),
                           None)
            cond = [c for c in intro.named_children if c.type == "expression"]
            if not cond or last.type != "template_if_end":
                return [["unk", _cut(conv.text(node)), "incomplete directive"]]
            then_end = kids[else_at].start_byte if else_at is not None else last.start_byte
            then = self.parts(kids, intro.end_byte, then_end, depth + 1)
            other: list[Any] = []
            if else_at is not None:
                other = self.parts(kids, kids[else_at].end_byte, last.start_byte, depth + 1)
            then, other = self._inner_strips(intro, kids[else_at] if else_at is not None
                                             else None, last, then, other)
            left, _ = _strips(intro)
            _, right = _strips(last)
            return [*([_LEFT] if left else []),
                    ["tif", conv.expr(cond[0], depth + 1), then, other],
                    *([_RIGHT] if right else [])]
        if inner.type == "template_for" and kids and kids[0].type == "template_for_start":
            head, last = kids[0], kids[-1]
            names = [conv.text(c) for c in head.named_children if c.type == "identifier"]
            colls = [c for c in head.named_children if c.type == "expression"]
            if not names or not colls or last.type != "template_for_end":
                return [["unk", _cut(conv.text(node)), "incomplete directive"]]
            body = self.parts(kids, head.end_byte, last.start_byte, depth + 1)
            body, _ = self._inner_strips(head, None, last, body, [])
            left, _ = _strips(head)
            _, right = _strips(last)
            return [*([_LEFT] if left else []),
                    ["tfor", names[0] if len(names) == 2 else None, names[-1],
                     conv.expr(colls[0], depth + 1), body],
                    *([_RIGHT] if right else [])]
        return [["unk", _cut(conv.text(node)), "unsupported directive"]]

    @staticmethod
    def _inner_strips(intro: tree_sitter.Node, middle: tree_sitter.Node | None,
                      last: tree_sitter.Node, first: list[Any],
                      second: list[Any]) -> tuple[list[Any], list[Any]]:
        _, intro_right = _strips(intro)
        if intro_right:
            first = _apply_strips([_RIGHT, *first])
        if middle is not None:
            mid_left, mid_right = _strips(middle)
            if mid_left:
                first = _apply_strips([*first, _LEFT])
            if mid_right:
                second = _apply_strips([_RIGHT, *second])
        last_left, _ = _strips(last)
        if last_left:
            if middle is not None:
                second = _apply_strips([*second, _LEFT])
            else:
                first = _apply_strips([*first, _LEFT])
        return first, second


def _strips(node: tree_sitter.Node) -> tuple[bool, bool]:
    """Whether an interpolation or directive tag has a ``~`` on its left / right (the marker
    touches the ``${``/``%{`` or the ``}``)."""
    kids = node.named_children
    if len(kids) < 2:
        return False, False
    opener, closer = kids[0], kids[-1]
    marks = [k for k in kids if k.type == "strip_marker"]
    left = any(m.start_byte == opener.end_byte for m in marks)
    right = any(m.end_byte == closer.start_byte for m in marks)
    return left, right


def _apply_strips(parts: list[Any]) -> list[Any]:
    out: list[Any] = []
    strip_next = False
    for part in parts:
        if part is _LEFT:
            if out and isinstance(out[-1], str):
                out[-1] = out[-1].rstrip()
            continue
        if part is _RIGHT:
            strip_next = True
            continue
        if isinstance(part, str):
            if strip_next:
                part = part.lstrip()
            strip_next = False
            if part:
                if out and isinstance(out[-1], str):
                    out[-1] += part
                else:
                    out.append(part)
            continue
        strip_next = False
        out.append(part)
    return [p for p in out if not (isinstance(p, str) and not p)]


def _first_error(root: tree_sitter.Node) -> int:
    """Line of the first ERROR or MISSING node (iterative walk)."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            return int(node.start_point[0]) + 1
        if node.has_error:
            stack.extend(reversed(node.children))
    return int(root.start_point[0]) + 1


def parse_hcl(src: bytes, max_depth: int) -> ParsedFile:
    """Parse HCL text (``.tf``, ``.tfvars``). Syntax errors and too deep nesting are recorded
    in :attr:`ParsedFile.errors`; top-level items free of errors are kept."""
    out = ParsedFile()
    src = src.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark
    if b"\x00" in src:
        out.errors.append((None, "file contains NUL bytes (not HCL text)"))
        return out
    tree = tree_sitter.Parser(_LANGUAGE).parse(src)
    root = tree.root_node
    broken = root.has_error
    if broken:
        out.errors.append((_first_error(root), "syntax error"))
    body_node = next((c for c in root.named_children if c.type == "body"), None)
    conv = _Converter(src, max_depth)
    try:
        out.body = conv.body(body_node, 0, keep_broken=broken)
    except TooDeep as exc:
        out.body = {"a": [], "b": []}
        out.errors.append((exc.line, f"nesting deeper than {max_depth} levels"))
    except RecursionError:
        out.body = {"a": [], "b": []}
        out.errors.append((None, "nesting too deep to analyse"))
    return out


def parse_template_string(text: str, max_depth: int) -> list[Any]:
    """A Terraform JSON string, which is a template (``"${var.x}-logs"``)."""
    if "${" not in text and "%{" not in text:
        return ["lit", text.replace("$${", "${").replace("%%{", "%{")]
    marker = "SECPIPE_EOT_7f3a"
    while marker in text:
        marker += "x"
    src = f"v = <<{marker}\n{text}\n{marker}\n".encode()
    parsed = parse_hcl(src, max_depth)
    attrs = parsed.body["a"]
    if parsed.errors or len(attrs) != 1:
        return ["unk", _cut(text), "invalid template"]
    node: list[Any] = attrs[0][1]
    if node[0] == "tpl":
        parts = list(node[1])
        if parts and isinstance(parts[-1], str) and parts[-1].endswith("\n"):
            parts[-1] = parts[-1][:-1]
            if not parts[-1]:
                parts.pop()
        return ["tpl", parts, _cut(text)]
    return node


# -- Terraform JSON syntax ------------------------------------------------------------------

_JSON_MAP_ATTRS = frozenset({
    "tags", "tags_all", "labels", "variables", "annotations", "parameters", "triggers",
    "user_labels", "resource_labels", "app_settings", "default_labels", "node_selector",
    "common_tags", "environment_variables",
})
"""In ``.tf.json`` an object is a nested block unless it is one of these map attributes."""

_TOP_LEVEL_TWO_LABELS = frozenset({"resource", "data"})
_TOP_LEVEL_ONE_LABEL = frozenset({"variable", "output", "module", "provider"})


class JsonTooDeep(Exception):
    pass


def load_json_bounded(src: bytes, max_depth: int, max_nodes: int) -> Any:
    """``json.loads`` bounded in nesting and in the number of values (the C decoder stops a
    runaway nesting with RecursionError; the decoded value is then measured iteratively)."""
    try:
        data = json.loads(src.decode("utf-8-sig"))
    except RecursionError:
        raise JsonTooDeep(f"nesting deeper than {max_depth} levels") from None
    nodes = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            raise JsonTooDeep(f"more than {max_nodes} values")
        if depth > max_depth:
            raise JsonTooDeep(f"nesting deeper than {max_depth} levels")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return data


def _json_value(value: Any, depth: int, max_depth: int) -> list[Any]:
    if depth > max_depth:
        raise TooDeep(0)
    if isinstance(value, str):
        return parse_template_string(value, max_depth)
    if isinstance(value, list):
        return ["tuple", [_json_value(v, depth + 1, max_depth) for v in value]]
    if isinstance(value, dict):
        return ["object", [[["lit", k], _json_value(v, depth + 1, max_depth)]
                           for k, v in value.items() if k != "//"]]
    return ["lit", value]


def _json_body(data: Any, depth: int, max_depth: int) -> dict[str, Any]:
    attrs: list[list[Any]] = []
    blocks: list[list[Any]] = []
    if depth > max_depth:
        raise TooDeep(0)
    if not isinstance(data, dict):
        return {"a": attrs, "b": blocks}
    for key, value in data.items():
        if key == "//":
            continue
        if key == "dynamic" and isinstance(value, dict):
            for label, spec in value.items():
                for one in spec if isinstance(spec, list) else [spec]:
                    blocks.append(["dynamic", [label], _json_body(one, depth + 1, max_depth),
                                   None, None])
        elif isinstance(value, dict) and key not in _JSON_MAP_ATTRS:
            blocks.append([key, [], _json_body(value, depth + 1, max_depth), None, None])
        elif (isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
              and key not in _JSON_MAP_ATTRS):
            for one in value:
                blocks.append([key, [], _json_body(one, depth + 1, max_depth), None, None])
        else:
            attrs.append([key, _json_value(value, depth + 1, max_depth), None])
    return {"a": attrs, "b": blocks}


def _json_items(value: Any) -> list[tuple[str, Any]]:
    """A label level of Terraform JSON: an object, or a list of objects."""
    out: list[tuple[str, Any]] = []
    for obj in value if isinstance(value, list) else [value]:
        if isinstance(obj, dict):
            out.extend((k, v) for k, v in obj.items() if k != "//")
    return out


def parse_tf_json(data: Any, max_depth: int) -> ParsedFile:
    """A ``.tf.json`` document (already decoded) into the same body shape as HCL."""
    out = ParsedFile()
    if not isinstance(data, dict):
        out.errors.append((None, "Terraform JSON must be an object"))
        return out
    blocks: list[list[Any]] = []
    try:
        for kind, value in data.items():
            if kind in _TOP_LEVEL_TWO_LABELS:
                for rtype, named in _json_items(value):
                    for name, body in _json_items(named):
                        for one in body if isinstance(body, list) else [body]:
                            blocks.append([kind, [rtype, name],
                                           _json_body(one, 1, max_depth), None, None])
            elif kind in _TOP_LEVEL_ONE_LABEL:
                for name, body in _json_items(value):
                    for one in body if isinstance(body, list) else [body]:
                        if kind in ("variable", "output", "module") and isinstance(one, dict):
                            # their arguments are values, never nested blocks
                            inner = {"a": [[k, _json_value(v, 2, max_depth), None]
                                           for k, v in one.items() if k != "//"], "b": []}
                        else:
                            inner = _json_body(one, 1, max_depth)
                        blocks.append([kind, [name], inner, None, None])
            elif kind == "locals":
                for one in value if isinstance(value, list) else [value]:
                    if isinstance(one, dict):
                        blocks.append(["locals", [], {"a": [
                            [k, _json_value(v, 1, max_depth), None]
                            for k, v in one.items() if k != "//"], "b": []}, None, None])
            elif kind != "//":
                for one in value if isinstance(value, list) else [value]:
                    blocks.append([kind, [], _json_body(one, 1, max_depth), None, None])
    except TooDeep:
        out.errors.append((None, f"nesting deeper than {max_depth} levels"))
        return out
    out.body = {"a": [], "b": blocks}
    return out


def parse_tfvars_json(data: Any, max_depth: int) -> ParsedFile:
    """``*.tfvars.json``: an object of variable values (strings are literal, not templates)."""
    out = ParsedFile()
    if not isinstance(data, dict):
        out.errors.append((None, "a .tfvars.json file must be an object"))
        return out
    out.body = {"a": [[k, ["lit", v], None] for k, v in data.items()], "b": []}
    return out
