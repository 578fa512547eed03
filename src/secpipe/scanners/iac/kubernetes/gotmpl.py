"""A small, bounded, static substituter for the subset of Go templates Helm charts use.

This is not a template engine: nothing in a chart is executed. It reads ``{{ … }}`` actions,
substitutes what can be computed from ``values.yaml`` and the chart's metadata (``.Values``,
``.Release``, ``.Chart``, named templates, a list of pure Sprig functions) and walks ``if``,
``range`` and ``with`` when their condition is known. Whatever it cannot compute statically
(``lookup``, ``tpl``, ``.Files``, an unknown function, a condition on such a value) is
:data:`UNKNOWN`: an output line holding an unknown value is left out, and so is a section whose
condition is unknown; each one is counted (:attr:`Renderer.unrendered`) so that the caller
reports the chart as rendered only partly.

Every rendered output line keeps the template line it came from (:class:`Rendered`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml


class _Unknown:
    """A value that cannot be computed statically."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()

MAX_STEPS = 200_000
"""Most evaluation steps for one template (nodes walked, function calls)."""
MAX_OUTPUT = 4 << 20
"""Most characters one template may render to."""
MAX_INCLUDE_DEPTH = 24
"""Deepest chain of ``include``/``template`` calls."""
MAX_RANGE = 5_000
"""Most items one ``range`` walks."""
MAX_NODES = 100_000
"""Most parsed nodes in one template file."""


class TemplateError(Exception):
    """The template cannot be read (unbalanced delimiters, ``end`` without a block, a bound)."""


class _Budget(Exception):
    """A rendering bound was hit."""


# ---------------------------------------------------------------- lexing


@dataclass
class _Text:
    text: str
    line: int


@dataclass
class _Action:
    src: str
    line: int


def _lex(text: str) -> list[_Text | _Action]:
    """Text and actions, each with the line it starts on (after ``{{-``/``-}}`` trimming)."""
    out: list[_Text | _Action] = []
    pos, line, n = 0, 1, len(text)  # line: the line of text[pos]
    trim_next = False
    while pos < n:
        start = text.find("{{", pos)
        raw = text[pos:] if start < 0 else text[pos:start]
        chunk, chunk_line = raw, line
        if trim_next:
            chunk = raw.lstrip(" \t\r\n")
            chunk_line += raw[: len(raw) - len(chunk)].count("\n")
            trim_next = False
        if start < 0:
            if chunk:
                out.append(_Text(chunk, chunk_line))
            break
        trim_left = text.startswith(("{{- ", "{{-\n", "{{-\t", "{{-\r"), start)
        body_start = start + (3 if trim_left else 2)
        if trim_left:
            chunk = chunk.rstrip(" \t\r\n")
        if chunk:
            out.append(_Text(chunk, chunk_line))
        line += raw.count("\n")
        end = _find_close(text, body_start)
        if end < 0:
            raise TemplateError(f"line {line}: unclosed action")
        body = text[body_start:end]
        trim_next = body.endswith((" -", "\n-", "\t-"))
        if trim_next:
            body = body[:-1]
        out.append(_Action(body.strip(), line))
        line += text[start:end + 2].count("\n")
        pos = end + 2
    return out


def _find_close(text: str, pos: int) -> int:
    """The index of the ``}}`` closing an action (string literals and comments skipped)."""
    n = len(text)
    i = pos
    while i < n:
        ch = text[i]
        if ch == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch == "`":
            i = text.find("`", i + 1)
            if i < 0:
                return -1
        elif text.startswith("/*", i):
            i = text.find("*/", i + 2)
            if i < 0:
                return -1
            i += 1
        elif text.startswith("}}", i):
            return i
        i += 1
    return -1


# ---------------------------------------------------------------- expressions

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\]|\\.)')
  | (?P<num>-?(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?))
  | (?P<decl>:=)
  | (?P<assign>=)
  | (?P<field>(?:\$[A-Za-z0-9_]*)?(?:\.[A-Za-z0-9_]+)+|\.)
  | (?P<var>\$[A-Za-z0-9_]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[()|,])
""", re.VERBOSE)


@dataclass
class _Tok:
    kind: str
    text: str
    spaced: bool = False
    """Whitespace precedes it (``(x) .a`` is two arguments, ``(x).a`` a field access)."""


def _tokens(src: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    spaced = False
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if m is None:
            raise TemplateError(f"cannot read {src[pos:pos + 20]!r}")
        kind = m.lastgroup or ""
        if kind == "ws":
            spaced = True
        else:
            out.append(_Tok(kind, m.group(), spaced))
            spaced = False
        pos = m.end()
    return out


@dataclass
class Lit:
    value: Any


@dataclass
class Field:
    base: str
    """``.`` for the dot, ``$`` or ``$name`` for a variable."""
    path: tuple[str, ...]


@dataclass
class Func:
    name: str


@dataclass
class Pipe:
    cmds: list[list[Any]]
    decl: tuple[str, ...] = ()
    """Variables declared (``:=``) or assigned (``=``) by the pipeline."""
    assign: bool = False


def _parse_pipe(toks: list[_Tok], pos: int = 0, closing: str = "") -> tuple[Pipe, int]:
    decl: list[str] = []
    assign = False
    # variable declarations: $a := …, $i, $v := …
    j = pos
    names: list[str] = []
    while j < len(toks) and toks[j].kind == "var":
        names.append(toks[j].text)
        if j + 1 < len(toks) and toks[j + 1].text == ",":
            j += 2
            continue
        if j + 1 < len(toks) and toks[j + 1].kind in ("decl", "assign"):
            decl, assign, pos = names, toks[j + 1].kind == "assign", j + 2
        break
    cmds: list[list[Any]] = [[]]
    while pos < len(toks):
        tok = toks[pos]
        if closing and tok.text == closing:
            break
        pos += 1
        if tok.text == "|":
            cmds.append([])
        elif tok.text == "(":
            sub, pos = _parse_pipe(toks, pos, ")")
            if pos >= len(toks):
                raise TemplateError("unbalanced parenthesis")
            pos += 1
            # a field access on a parenthesised pipeline: (…).a.b
            if (pos < len(toks) and toks[pos].kind == "field" and not toks[pos].spaced
                    and toks[pos].text.startswith(".")):
                cmds[-1].append(("sub-field", sub, tuple(p for p in toks[pos].text.split(".")
                                                          if p)))
                pos += 1
            else:
                cmds[-1].append(sub)
        elif tok.kind == "str":
            cmds[-1].append(Lit(_unquote(tok.text)))
        elif tok.kind == "raw":
            cmds[-1].append(Lit(tok.text[1:-1]))
        elif tok.kind == "char":
            cmds[-1].append(Lit(ord(_unquote('"' + tok.text[1:-1] + '"')[:1] or "\0")))
        elif tok.kind == "num":
            text = tok.text
            value: Any = int(text, 0) if re.fullmatch(r"-?(0[xX][0-9a-fA-F]+|\d+)", text) \
                else float(text)
            cmds[-1].append(Lit(value))
        elif tok.kind == "field":
            text = tok.text
            if text.startswith("$"):
                base, _, rest = text.partition(".")
                cmds[-1].append(Field(base, tuple(p for p in rest.split(".") if p)))
            else:
                cmds[-1].append(Field(".", tuple(p for p in text.split(".") if p)))
        elif tok.kind == "var":
            cmds[-1].append(Field(tok.text, ()))
        elif tok.kind == "ident":
            if tok.text in ("true", "false"):
                cmds[-1].append(Lit(tok.text == "true"))
            elif tok.text == "nil":
                cmds[-1].append(Lit(None))
            else:
                cmds[-1].append(Func(tok.text))
        else:
            raise TemplateError(f"unexpected {tok.text!r}")
    if any(not cmd for cmd in cmds):
        raise TemplateError("empty command in a pipeline")
    return Pipe(cmds, tuple(decl), assign), pos


def _unquote(text: str) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        return text[1:-1]
    return value if isinstance(value, str) else text[1:-1]


# ---------------------------------------------------------------- tree


@dataclass
class Node:
    kind: str
    """``text``, ``out``, ``if``, ``range``, ``with``, ``define``, ``template``, ``set``,
    ``unsupported``."""
    line: int
    text: str = ""
    pipe: Pipe | None = None
    branches: list[tuple[Pipe | None, list[Node]]] = field(default_factory=list)
    """``if``: (condition, body) pairs, the last with ``None`` for ``else``; ``range``/``with``:
    the body then the ``else``."""
    name: str = ""


_BLOCKS = ("if", "range", "with", "define", "block")


def parse(text: str) -> tuple[list[Node], dict[str, list[Node]]]:
    """The template's nodes and the named templates it defines."""
    items = _lex(text)
    defines: dict[str, list[Node]] = {}
    root: list[Node] = []
    stack: list[tuple[Node, list[Node]]] = []
    current = root
    count = 0
    for item in items:
        count += 1
        if count > MAX_NODES:
            raise TemplateError(f"more than {MAX_NODES} template nodes")
        if isinstance(item, _Text):
            current.append(Node("text", item.line, text=item.text))
            continue
        src = item.src
        if src.startswith("/*"):
            continue
        word, _, rest = src.partition(" ")
        word = word.strip()
        rest = rest.strip()
        if "\n" in word:
            word, _, more = word.partition("\n")
            rest = (more + " " + rest).strip()
        try:
            if word in ("if", "range", "with"):
                node = Node(word, item.line)
                pipe, _ = _parse_pipe(_tokens(rest))
                node.branches.append((pipe, []))
                current.append(node)
                stack.append((node, current))
                current = node.branches[-1][1]
            elif word in ("define", "block"):
                toks = _tokens(rest)
                if not toks or toks[0].kind not in ("str", "raw"):
                    raise TemplateError(f"{word} without a name")
                name = _unquote(toks[0].text) if toks[0].kind == "str" else toks[0].text[1:-1]
                node = Node("define", item.line, name=name)
                if word == "block":
                    pipe, _ = _parse_pipe(toks[1:]) if toks[1:] else (Pipe([[Field(".", ())]]),
                                                                       0)
                    current.append(Node("template", item.line, name=name, pipe=pipe))
                node.branches.append((None, []))
                stack.append((node, current))
                current = node.branches[-1][1]
            elif word == "else":
                if not stack:
                    raise TemplateError("else outside a block")
                node = stack[-1][0]
                cond: Pipe | None = None
                if rest.startswith("if ") and node.kind == "if":
                    cond, _ = _parse_pipe(_tokens(rest[3:]))
                elif rest:
                    node.kind = "unsupported"
                    node.text = f"else {rest.split()[0]}"
                node.branches.append((cond, []))
                current = node.branches[-1][1]
            elif word == "end":
                if not stack:
                    raise TemplateError("end without a block")
                node, parent = stack.pop()
                current = parent
                if node.kind == "define":
                    defines[node.name] = node.branches[0][1]
            elif word == "template":
                toks = _tokens(rest)
                if not toks or toks[0].kind not in ("str", "raw"):
                    raise TemplateError("template without a name")
                name = _unquote(toks[0].text) if toks[0].kind == "str" else toks[0].text[1:-1]
                pipe = _parse_pipe(toks[1:])[0] if toks[1:] else Pipe([[Lit(None)]])
                current.append(Node("template", item.line, name=name, pipe=pipe))
            elif word in ("break", "continue"):
                current.append(Node("unsupported", item.line, text=word))
            else:
                pipe, _ = _parse_pipe(_tokens(src))
                current.append(Node("set" if pipe.decl else "out", item.line, pipe=pipe))
        except TemplateError as exc:
            raise TemplateError(f"line {item.line}: {exc}") from None
    if stack:
        raise TemplateError(f"line {stack[-1][0].line}: {stack[-1][0].kind} without end")
    for nodes in defines.values():
        _drop_defines(nodes)
    _drop_defines(root)
    return root, defines


def _drop_defines(nodes: list[Node]) -> None:
    nodes[:] = [n for n in nodes if n.kind != "define"]


# ---------------------------------------------------------------- values


def truthy(value: Any) -> bool:
    """Go template truth (UNKNOWN must be checked first)."""
    if value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, str | list | dict | tuple):
        return len(value) > 0
    return True


def to_text(value: Any) -> str:
    """How Go's template prints a value (a missing value prints nothing in Helm)."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{to_text(v)}" for k, v in sorted(
            value.items(), key=lambda kv: str(kv[0]))) + "]"
    if isinstance(value, list):
        return "[" + " ".join(to_text(v) for v in value) + "]"
    return str(value)


def _to_yaml(value: Any) -> str:
    if value is None:
        return "null"
    text = yaml.safe_dump(value, default_flow_style=False, sort_keys=True, allow_unicode=True,
                          width=10_000)
    if text.endswith("\n...\n"):
        text = text[:-5]
    return text.rstrip("\n")


def _indent(n: Any, text: Any) -> str:
    width = int(n)
    if not 0 <= width <= 256:
        raise ValueError(f"indent {width}")
    pad = " " * width
    return "\n".join(pad + line for line in to_text(text).split("\n"))


def _replace(old: Any, new: Any, text: Any) -> str:
    source, a, b = to_text(text), to_text(old), to_text(new)
    if len(b) > len(a) and (source.count(a) if a else len(source) + 1) * len(b) > MAX_OUTPUT:
        raise ValueError("replace result too large")
    return source.replace(a, b)


def _printf(fmt: Any, *args: Any) -> str:
    items = list(args)

    def sub(m: re.Match[str]) -> str:
        verb = m.group(1)
        if verb == "%":
            return "%"
        value = items.pop(0) if items else None
        if verb == "q":
            return json.dumps(to_text(value))
        if verb == "d" and isinstance(value, float) and value.is_integer():
            return str(int(value))
        return to_text(value)

    return re.sub(r"%[-+# 0-9.]*([a-zA-Z%])", sub, to_text(fmt))


def _eq(a: Any, *others: Any) -> bool:
    return any(_same(a, b) for b in others)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(
            a, bool) and not isinstance(b, bool):
        return float(a) == float(b)
    return bool(a == b)


def _num(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return 0.0


def _int(value: Any) -> int:
    try:
        return int(_num(value))
    except (OverflowError, ValueError):
        return 0


def _dict(*args: Any) -> dict[str, Any]:
    return {to_text(args[i]): args[i + 1] if i + 1 < len(args) else None
            for i in range(0, len(args), 2)}


def _get(mapping: Any, key: Any) -> Any:
    return mapping.get(to_text(key), "") if isinstance(mapping, dict) else ""


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, dict):
            value = value.get(to_text(key))
        elif isinstance(value, list) and isinstance(key, int | float):
            i = int(key)
            value = value[i] if 0 <= i < len(value) else None
        else:
            return None
    return value


def _trunc(n: Any, text: Any) -> str:
    s, k = to_text(text), int(_num(n))
    return s[:k] if k >= 0 else s[k:]


def _coalesce(*values: Any) -> Any:
    return next((v for v in values if truthy(v)), None)


def _kind_is(kind: Any, value: Any) -> bool:
    return _kind_of(value) == to_text(kind)


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "slice"
    if isinstance(value, dict):
        return "map"
    return "invalid"


def _merge(dst: Any, *srcs: Any) -> Any:
    if not isinstance(dst, dict):
        return dst
    out = dict(dst)
    for src in srcs:
        if isinstance(src, dict):
            for k, v in src.items():
                if k not in out:
                    out[k] = v
                elif isinstance(out[k], dict) and isinstance(v, dict):
                    out[k] = _merge(out[k], v)
    return out


FUNCS: dict[str, Callable[..., Any]] = {
    "default": lambda d, *v: v[0] if v and truthy(v[0]) else d,
    "quote": lambda *v: " ".join(json.dumps(to_text(x)) for x in v),
    "squote": lambda *v: " ".join("'" + to_text(x) + "'" for x in v),
    "toYaml": _to_yaml,
    "toJson": lambda v: json.dumps(v, sort_keys=True, separators=(",", ":")),
    "toPrettyJson": lambda v: json.dumps(v, sort_keys=True, indent=2),
    "nindent": lambda n, s: "\n" + _indent(n, s),
    "indent": _indent,
    "trim": lambda s: to_text(s).strip(),
    "trimSuffix": lambda x, s: to_text(s).removesuffix(to_text(x)),
    "trimPrefix": lambda x, s: to_text(s).removeprefix(to_text(x)),
    "trimAll": lambda x, s: to_text(s).strip(to_text(x)),
    "upper": lambda s: to_text(s).upper(),
    "lower": lambda s: to_text(s).lower(),
    "title": lambda s: to_text(s).title(),
    "toString": to_text,
    "int": _int, "int64": _int, "float64": _num, "atoi": _int,
    "printf": _printf, "print": lambda *v: "".join(to_text(x) for x in v),
    "println": lambda *v: " ".join(to_text(x) for x in v) + "\n",
    "required": lambda msg, v: v,
    "eq": _eq, "ne": lambda a, b: not _same(a, b),
    "lt": lambda a, b: _num(a) < _num(b), "le": lambda a, b: _num(a) <= _num(b),
    "gt": lambda a, b: _num(a) > _num(b), "ge": lambda a, b: _num(a) >= _num(b),
    "not": lambda v: not truthy(v),
    "empty": lambda v: not truthy(v),
    "hasKey": lambda m, k: isinstance(m, dict) and to_text(k) in m,
    "len": lambda v: len(v) if isinstance(v, str | list | dict) else 0,
    "list": lambda *v: list(v), "tuple": lambda *v: list(v),
    "dict": _dict, "get": _get, "index": _index,
    "ternary": lambda a, b, c: a if truthy(c) else b,
    "coalesce": _coalesce,
    "b64enc": lambda s: base64.b64encode(to_text(s).encode()).decode(),
    "sha256sum": lambda s: hashlib.sha256(to_text(s).encode()).hexdigest(),
    "contains": lambda sub, s: to_text(sub) in to_text(s),
    "hasPrefix": lambda p, s: to_text(s).startswith(to_text(p)),
    "hasSuffix": lambda p, s: to_text(s).endswith(to_text(p)),
    "replace": _replace,
    "trunc": _trunc,
    "join": lambda sep, v: to_text(sep).join(to_text(x) for x in v) if isinstance(
        v, list) else to_text(v),
    "splitList": lambda sep, s: to_text(s).split(to_text(sep)),
    "kindIs": _kind_is, "kindOf": _kind_of, "typeOf": _kind_of,
    "toStrings": lambda v: [to_text(x) for x in v] if isinstance(v, list) else [to_text(v)],
    "keys": lambda *m: sorted(k for x in m if isinstance(x, dict) for k in x),
    "first": lambda v: v[0] if isinstance(v, list) and v else None,
    "last": lambda v: v[-1] if isinstance(v, list) and v else None,
    "has": lambda x, v: isinstance(v, list) and x in v,
    "merge": _merge, "mergeOverwrite": lambda d, *s: _merge(s[-1], d) if s else d,
    "nospace": lambda s: re.sub(r"\s+", "", to_text(s)),
    "abbrev": lambda n, s: to_text(s)[: int(_num(n))],
    "add": lambda *v: sum(_int(x) for x in v), "add1": lambda v: _int(v) + 1,
    "sub": lambda a, b: _int(a) - _int(b),
    "mul": lambda *v: _mul(v),
    "max": lambda *v: max(_int(x) for x in v), "min": lambda *v: min(_int(x) for x in v),
    "semverCompare": lambda c, v: semver_compare(c, v),
}
"""Pure functions computed statically (Sprig names)."""


_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-[0-9A-Za-z.-]+)?"
                      r"(?:\+[0-9A-Za-z.-]+)?$")
_CONSTRAINT = re.compile(r"^(>=|<=|!=|==|=|>|<|\^|~)?\s*(\S+)$")


def _version(text: str) -> tuple[tuple[int, ...], int] | None:
    """A version's numbers and how many of them were written (``1.19-0`` -> ((1, 19, 0), 2))."""
    m = _VERSION.match(text.strip())
    if m is None:
        return None
    parts = [p for p in m.groups() if p is not None and p not in ("x", "X", "*")]
    numbers = [int(p) for p in parts] + [0] * (3 - len(parts))
    return tuple(numbers), len(parts)


def semver_compare(constraint: Any, version: Any) -> Any:
    """Sprig's ``semverCompare`` for the usual forms (``>=1.19-0``, ``^1.2``, ``~1.2.3``,
    ``>= 1.2, < 2``, ``a || b``); UNKNOWN for anything else."""
    have = _version(to_text(version))
    if have is None:
        return UNKNOWN
    current = have[0]
    results = []
    for alternative in to_text(constraint).split("||"):
        parts = [p for p in re.split(r"\s*,\s*|\s+(?=[<>=!^~])", alternative.strip()) if p]
        if not parts:
            return UNKNOWN
        ok = True
        for part in parts:
            m = _CONSTRAINT.match(part.strip())
            want = _version(m.group(2)) if m else None
            if m is None or want is None:
                return UNKNOWN
            op, (target, written) = m.group(1) or "=", want
            if op == "^":
                upper = (target[0] + 1, 0, 0) if target[0] else (0, target[1] + 1, 0)
                ok = ok and target <= current < upper
            elif op == "~":
                upper = (target[0], target[1] + 1, 0) if written >= 2 else (target[0] + 1, 0, 0)
                ok = ok and target <= current < upper
            elif op in ("=", "=="):
                ok = ok and current[:written] == target[:written]
            elif op == "!=":
                ok = ok and current[:written] != target[:written]
            else:
                ok = ok and {">": current > target, ">=": current >= target,
                             "<": current < target, "<=": current <= target}[op]
        results.append(ok)
    return any(results)


def _mul(values: tuple[Any, ...]) -> int:
    out = 1
    for v in values:
        out *= _int(v)
        if abs(out) > 1 << 62:
            return 0
    return out


UNKNOWN_FUNCS = frozenset({"lookup", "tpl", "now", "randAlphaNum", "randAlpha", "randNumeric",
                           "randAscii", "uuidv4", "genCA", "genSelfSignedCert", "genPrivateKey",
                           "genSignedCert", "derivePassword", "htpasswd",
                           "fromYaml", "fromJson", "fromYamlArray", "env", "expandenv",
                           "getHostByName", "date", "dateInZone", "regexReplaceAll",
                           "regexFind", "regexMatch", "include_file", "fail", "semver"})
"""Functions whose result depends on the cluster, the clock, randomness or the environment (or
that this substituter does not compute): their value is :data:`UNKNOWN`."""


# ---------------------------------------------------------------- rendering

_POISON = "\x00"


@dataclass
class Rendered:
    """A template's output with the template line of each output line."""

    text: str
    lines: list[int]
    """``lines[n]`` is the template line that output line ``n + 1`` came from."""


class Renderer:
    """Renders the templates of one chart (shared named templates, counters and bounds)."""

    def __init__(self, defines: Mapping[str, list[Node]], root: Mapping[str, Any]) -> None:
        self.defines = defines
        self.root = dict(root)
        self.unrendered = 0
        """Constructs left out (unknown values, sections with an unknown condition)."""
        self.reasons: dict[str, int] = {}
        """What was left out, by kind (``tpl``, ``lookup``, ``.Files``, ``if``, …)."""
        self._steps = 0
        self._depth = 0

    def note(self, what: str) -> None:
        self.unrendered += 1
        self.reasons[what] = self.reasons.get(what, 0) + 1

    def render(self, nodes: list[Node], template_name: str = "") -> Rendered:
        """Render one template's nodes."""
        self._steps = 0
        self._depth = 0
        dot = dict(self.root)
        template = dict(self.root.get("Template") or {})
        template["Name"] = template_name
        dot["Template"] = template
        out = _Out()
        self._walk(nodes, dot, [{"$": dot}], out)
        return out.finish()

    # -- walking

    def _tick(self) -> None:
        self._steps += 1
        if self._steps > MAX_STEPS:
            raise _Budget(f"more than {MAX_STEPS} template steps")

    def _walk(self, nodes: list[Node], dot: Any, scopes: list[dict[str, Any]],
              out: _Out) -> None:
        for node in nodes:
            self._tick()
            if out.size > MAX_OUTPUT:
                raise _Budget(f"rendered output larger than {MAX_OUTPUT} characters")
            kind = node.kind
            if kind == "text":
                out.text(node.text, node.line)
            elif kind == "out" and node.pipe is not None:
                value = self._pipe(node.pipe, dot, scopes)
                if value is UNKNOWN:
                    out.poison(node.line)
                else:
                    out.value(to_text(value), node.line)
            elif kind == "set" and node.pipe is not None:
                value = self._pipe(node.pipe, dot, scopes)
                name = node.pipe.decl[-1]
                if node.pipe.assign:
                    for scope in reversed(scopes):
                        if name in scope:
                            scope[name] = value
                            break
                    else:
                        scopes[-1][name] = value
                else:
                    scopes[-1][name] = value
            elif kind == "if":
                self._if(node, dot, scopes, out)
            elif kind == "with":
                self._with(node, dot, scopes, out)
            elif kind == "range":
                self._range(node, dot, scopes, out)
            elif kind == "template":
                arg = self._pipe(node.pipe, dot, scopes) if node.pipe else None
                text = self.include(node.name, arg)
                if text is UNKNOWN:
                    out.poison(node.line)
                else:
                    out.value(text, node.line)
            else:
                self.note(node.text or kind)

    def _if(self, node: Node, dot: Any, scopes: list[dict[str, Any]], out: _Out) -> None:
        for cond, body in node.branches:
            if cond is None:
                self._walk(body, dot, [*scopes, {}], out)
                return
            value = self._pipe(cond, dot, scopes)
            if value is UNKNOWN:  # the section is left out; its cause was counted
                return
            if truthy(value):
                self._walk(body, dot, [*scopes, {}], out)
                return

    def _with(self, node: Node, dot: Any, scopes: list[dict[str, Any]], out: _Out) -> None:
        cond, body = node.branches[0]
        if cond is None:  # never built so by the parser
            return
        value = self._pipe(cond, dot, scopes)
        if value is UNKNOWN:  # the section is left out; its cause was counted
            return
        scope: dict[str, Any] = {}
        if cond.decl:
            scope[cond.decl[-1]] = value
        if truthy(value):
            self._walk(body, value, [*scopes, scope], out)
        elif len(node.branches) > 1:
            self._walk(node.branches[1][1], dot, [*scopes, {}], out)

    def _range(self, node: Node, dot: Any, scopes: list[dict[str, Any]], out: _Out) -> None:
        cond, body = node.branches[0]
        if cond is None:  # never built so by the parser
            return
        value = self._pipe(cond, dot, scopes)
        if value is UNKNOWN:  # the section is left out; its cause was counted
            return
        pairs: list[tuple[Any, Any]]
        if isinstance(value, dict):
            pairs = [(k, value[k]) for k in sorted(value, key=str)]
        elif isinstance(value, list):
            pairs = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool) and value > 0:
            pairs = [(i, i) for i in range(value)]
        else:
            pairs = []
        if len(pairs) > MAX_RANGE:
            raise _Budget(f"a range over more than {MAX_RANGE} items")
        if not pairs:
            if len(node.branches) > 1:
                self._walk(node.branches[1][1], dot, [*scopes, {}], out)
            return
        for key, item in pairs:
            scope: dict[str, Any] = {}
            if len(cond.decl) == 1:
                scope[cond.decl[0]] = item
            elif len(cond.decl) >= 2:
                scope[cond.decl[0]], scope[cond.decl[1]] = key, item
            self._walk(body, item, [*scopes, scope], out)

    def include(self, name: Any, arg: Any) -> Any:
        """The text a named template renders to with ``arg`` as its dot (UNKNOWN when it is
        not defined or its name is not known)."""
        if name is UNKNOWN or not isinstance(name, str):
            self.note("include")
            return UNKNOWN
        body = self.defines.get(name)
        if body is None:
            self.note(f"include {name}")
            return UNKNOWN
        if self._depth >= MAX_INCLUDE_DEPTH:
            raise _Budget(f"include nested deeper than {MAX_INCLUDE_DEPTH}")
        self._depth += 1
        try:
            out = _Out()
            self._walk(body, arg, [{"$": arg}], out)
            rendered = out.finish(trailing=False)
        finally:
            self._depth -= 1
        return rendered.text

    # -- expressions

    def _pipe(self, pipe: Pipe, dot: Any, scopes: list[dict[str, Any]]) -> Any:
        value: Any = None
        for i, cmd in enumerate(pipe.cmds):
            self._tick()
            value = self._cmd(cmd, dot, scopes, value if i > 0 else _NOARG)
        return value

    def _cmd(self, cmd: list[Any], dot: Any, scopes: list[dict[str, Any]], piped: Any) -> Any:
        head = cmd[0]
        if isinstance(head, Func):
            args = [self._arg(a, dot, scopes) for a in cmd[1:]]
            if piped is not _NOARG:
                args.append(piped)
            return self._call(head.name, args)
        if len(cmd) > 1:
            # a method call on a value (.Capabilities.APIVersions.Has "x", .Files.Get "y")
            what = "." + ".".join(head.path) if isinstance(head, Field) else "a value"
            self.note(f"method call {what}")
            return UNKNOWN
        value = self._arg(head, dot, scopes)
        if piped is not _NOARG:
            self.note("pipe into a value")
            return UNKNOWN
        return value

    def _arg(self, arg: Any, dot: Any, scopes: list[dict[str, Any]]) -> Any:
        if isinstance(arg, Lit):
            return arg.value
        if isinstance(arg, Field):
            if arg.base == ".":
                base = dot
            else:
                base = next((s[arg.base] for s in reversed(scopes) if arg.base in s), UNKNOWN)
                if base is UNKNOWN:
                    self.note(f"variable {arg.base}")
                    return UNKNOWN
            return self._fields(base, arg.path)
        if isinstance(arg, Pipe):
            return self._pipe(arg, dot, scopes)
        if isinstance(arg, tuple) and arg and arg[0] == "sub-field":
            return self._fields(self._pipe(arg[1], dot, scopes), arg[2])
        if isinstance(arg, Func):
            return self._call(arg.name, [])
        return UNKNOWN

    def _fields(self, value: Any, path: tuple[str, ...]) -> Any:
        for step in path:
            if value is UNKNOWN:
                return UNKNOWN
            if isinstance(value, dict):
                value = value.get(step)
            elif value is None:
                return None
            else:
                self.note(f"field {step}")
                return UNKNOWN
        return value

    def _call(self, name: str, args: list[Any]) -> Any:
        if name == "include":
            if len(args) < 1:
                return UNKNOWN
            return self.include(args[0], args[1] if len(args) > 1 else None)
        if name in ("and", "or"):
            # Go evaluates every argument here; the result is the deciding one
            for arg in args:
                if arg is UNKNOWN:  # its cause was counted
                    return UNKNOWN
                if truthy(arg) != (name == "and"):
                    return arg
            return args[-1] if args else None
        func = FUNCS.get(name)
        if func is None or name in UNKNOWN_FUNCS:
            self.note(name)
            return UNKNOWN
        if any(a is UNKNOWN for a in args):
            return UNKNOWN
        try:
            result = func(*args)
        except (TypeError, ValueError, IndexError, KeyError, OverflowError, yaml.YAMLError):
            self.note(name)
            return UNKNOWN
        if result is UNKNOWN:
            self.note(name)
        elif isinstance(result, str) and len(result) > MAX_OUTPUT:
            raise _Budget(f"{name} produced more than {MAX_OUTPUT} characters")
        return result


_NOARG: Any = object()


class _Out:
    """Output lines under construction, each with its template line; lines holding an unknown
    value are dropped at the end."""

    def __init__(self) -> None:
        self.lines: list[tuple[list[str], int, bool]] = []
        self._cur: list[str] = []
        self._line = 0
        self._poisoned = False
        self.size = 0

    def _add(self, piece: str, line: int) -> None:
        if not self._line or (piece.strip() and not "".join(self._cur).strip()):
            self._line = line
        self._cur.append(piece)
        self.size += len(piece)

    def _newline(self) -> None:
        self.lines.append((self._cur, self._line, self._poisoned))
        self._cur, self._line, self._poisoned = [], 0, False

    def text(self, text: str, line: int) -> None:
        parts = text.split("\n")
        for i, part in enumerate(parts):
            if i:
                self._newline()
            if part:
                self._add(part, line + i)
            elif not self._line:
                self._line = line + i

    def value(self, text: str, line: int) -> None:
        parts = text.split("\n")
        for i, part in enumerate(parts):
            if i:
                self._newline()
            if part:
                self._add(part, line)
            elif not self._line:
                self._line = line

    def poison(self, line: int) -> None:
        self._poisoned = True
        if not self._line:
            self._line = line

    def finish(self, trailing: bool = True) -> Rendered:
        """The output; ``trailing``: end it with a newline (a whole file)."""
        ended = not self._cur and not self._poisoned
        if not ended:
            self._newline()
        text_lines: list[str] = []
        numbers: list[int] = []
        for pieces, line, poisoned in self.lines:
            if poisoned:
                continue
            text_lines.append("".join(pieces).replace(_POISON, ""))
            numbers.append(line)
        end = "\n" if text_lines and (trailing or ended) else ""
        return Rendered("\n".join(text_lines) + end, numbers)


class RenderBudgetError(Exception):
    """Rendering stopped at a bound."""


def render_template(renderer: Renderer, nodes: list[Node], name: str) -> Rendered:
    """:meth:`Renderer.render`, a bound hit raised as :class:`RenderBudgetError`."""
    try:
        return renderer.render(nodes, name)
    except _Budget as exc:
        raise RenderBudgetError(str(exc)) from None
    except RecursionError:
        raise RenderBudgetError("template nested too deeply") from None
