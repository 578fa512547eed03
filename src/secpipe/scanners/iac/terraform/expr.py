"""Static evaluation of Terraform expressions (the syntax tree of :mod:`.hclparse`).

What can be computed from the files alone is computed (literals, templates, variables, locals,
module outputs, ``count``/``each``, operators, ``for`` expressions, splats and a set of pure
functions); a reference to a resource or data source becomes a :class:`Ref`; everything else
becomes an :class:`Unresolved` naming the expression as written. Evaluation is bounded: a
collection larger than :data:`MAX_ITEMS`, a string longer than :data:`MAX_STRING`, a number wider
than :data:`MAX_INT_BITS` and more than ``max_steps`` evaluation steps give ``Unresolved`` values
instead of running away.

Inside strings built by templates and ``jsonencode``, a :class:`Ref` is written as
``${address.attribute}`` (a resource attribute is never a literal like ``*`` or ``0.0.0.0/0``,
so a policy document keeps its statements); an :class:`Unresolved` makes the whole string
unresolved.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from secpipe.scanners.iac.model import Ref, Unresolved
from secpipe.scanners.iac.terraform.hclparse import parse_template_string

MAX_ITEMS = 10_000
MAX_STRING = 1 << 20
MAX_INT_BITS = 1024
_INVALID = "invalid: "


class Context:
    """What an expression can see of its module (the loader implements it)."""

    prefix: str = ""
    """Address prefix of the module instance (``module.a.``)."""
    module_path: str = "."
    root_path: str = "."

    def var(self, name: str) -> Any:
        return Unresolved(f"var.{name}", "no value")

    def local(self, name: str) -> Any:
        return Unresolved(f"local.{name}", "no value")

    def read_file(self, path: str) -> str | Unresolved:
        """The text of ``file(path)`` (a path relative to the root module folder), or why
        not."""
        return Unresolved(path, "files are not read here")

    def module_output(self, call: str, output: str, text: str, key: Any = None) -> Any:
        """``module.CALL.OUTPUT`` (``key``: the instance key of ``module.CALL[KEY].OUTPUT``)."""
        return Unresolved(text, "module outputs not known")


class Evaluator:
    """Evaluates syntax-tree nodes in a :class:`Context`, counting its steps."""

    def __init__(self, ctx: Context, steps: list[int], max_steps: int) -> None:
        self.ctx = ctx
        self.steps = steps
        """A shared one-item counter (every evaluator of a model counts into it)."""
        self.max_steps = max_steps

    @property
    def exhausted(self) -> bool:
        return self.steps[0] > self.max_steps

    def eval(self, node: Any, env: Mapping[str, Any] | None = None) -> Any:
        return self._eval(node, env or {})

    # -- dispatch -------------------------------------------------------------------------
    def _eval(self, node: Any, env: Mapping[str, Any]) -> Any:
        self.steps[0] += 1
        if self.steps[0] > self.max_steps:
            return Unresolved(_text(node), "evaluation step budget exhausted")
        if not isinstance(node, list) or not node:
            return Unresolved("?", "malformed expression")
        kind = node[0]
        try:
            if kind == "lit":
                return node[1]
            if kind == "name":
                return self._traverse(["name", node[1]], [], node[1], env)
            if kind == "trav":
                return self._traverse(node[1], node[2], node[3], env)
            if kind == "tpl":
                return self._template(node, env)
            if kind == "tuple":
                items = node[1]
                if len(items) > MAX_ITEMS:
                    return Unresolved("[…]", "collection too large")
                return [self._eval(item, env) for item in items]
            if kind == "object":
                return self._object(node, env)
            if kind == "call":
                return self._call(node, env)
            if kind == "bin":
                return self._binary(node, env)
            if kind == "un":
                return self._unary(node, env)
            if kind == "cond":
                return self._conditional(node, env)
            if kind == "for":
                return self._for(node, env)
            if kind == "unk":
                return Unresolved(str(node[1]), str(node[2]) if len(node) > 2 else "")
        except (IndexError, TypeError, ValueError, KeyError, OverflowError, AttributeError):
            return Unresolved(_text(node), "malformed expression")
        return Unresolved(_text(node), f"unsupported expression {kind}")

    # -- references -----------------------------------------------------------------------
    def _traverse(self, base: Any, ops: list[Any], text: str,
                  env: Mapping[str, Any]) -> Any:
        if base[0] != "name":
            return self._apply(self._eval(base, env), ops, text, env)
        name = base[1]
        if name in env:
            return self._apply(env[name], ops, text, env)
        first = ops[0][1] if ops and ops[0][0] == "a" else None
        ctx = self.ctx
        if name == "var" and first is not None:
            return self._apply(ctx.var(first), ops[1:], text, env)
        if name == "local" and first is not None:
            return self._apply(ctx.local(first), ops[1:], text, env)
        if name == "module" and first is not None:
            if len(ops) >= 2 and ops[1][0] == "a":
                return self._apply(ctx.module_output(first, ops[1][1], text), ops[2:], text,
                                   env)
            if len(ops) >= 3 and ops[1][0] == "i" and ops[2][0] == "a":
                key = self._eval(ops[1][1], env)
                if not _known(key):
                    return Unresolved(text, "module instance key not known")
                return self._apply(ctx.module_output(first, ops[2][1], text, key), ops[3:],
                                   text, env)
            return Unresolved(text, "module object")
        if name == "data" and first is not None:
            if len(ops) >= 2 and ops[1][0] == "a":
                return Ref(f"{ctx.prefix}data.{first}.{ops[1][1]}", _first_attr(ops[2:]))
            return Unresolved(text, "incomplete data source reference")
        if name == "path" and first in ("module", "root"):
            return ctx.module_path if first == "module" else ctx.root_path
        if name in ("path", "terraform", "self", "each", "count"):
            return Unresolved(text, f"{name}.* is not known statically")
        if first is not None:  # a resource: type.name[.attribute]
            return Ref(f"{ctx.prefix}{name}.{first}", _first_attr(ops[1:]))
        return Unresolved(text, f"unknown name {name}")

    def _apply(self, value: Any, ops: list[Any], text: str, env: Mapping[str, Any]) -> Any:
        for i, op in enumerate(ops):
            if isinstance(value, Unresolved):
                return Unresolved(text, value.reason)
            if isinstance(value, Ref):
                return Unresolved(text, "attribute of a reference")
            kind = op[0]
            if kind == "a":
                if isinstance(value, dict) and op[1] in value:
                    value = value[op[1]]
                else:
                    return Unresolved(text, f"{_INVALID}no attribute {op[1]}")
            elif kind == "i":
                key = self._eval(op[1], env)
                if isinstance(key, (Unresolved, Ref)):
                    return Unresolved(text, "index not known")
                value = _index(value, key, text)
            elif kind == "s":
                if value is None:
                    return []
                items = value if isinstance(value, list) else [value]
                if len(items) > MAX_ITEMS:
                    return Unresolved(text, "collection too large")
                out = [self._apply(item, op[1], text, env) for item in items]
                return self._apply(out, ops[i + 1:], text, env)
        return value

    # -- constructors ---------------------------------------------------------------------
    def _template(self, node: list[Any], env: Mapping[str, Any]) -> Any:
        parts, text = node[1], node[2]
        if len(parts) == 1 and not isinstance(parts[0], str) and \
                parts[0][0] not in ("tif", "tfor"):
            return self._eval(parts[0], env)  # "${x}" is x itself, whatever its type
        out: list[str] = []
        failed = self._render(parts, env, out, [0])
        if failed is not None:
            return Unresolved(text, failed.reason)
        return "".join(out)

    def _render(self, parts: list[Any], env: Mapping[str, Any], out: list[str],
                size: list[int]) -> Unresolved | None:
        """Appends the text of ``parts`` to ``out``; the first unknown part stops it."""
        for part in parts:
            self.steps[0] += 1
            if self.steps[0] > self.max_steps:
                return Unresolved("", "evaluation step budget exhausted")
            if isinstance(part, str):
                piece: str | Unresolved = part
            elif part[0] == "tif":
                test = self._eval(part[1], env)
                if not isinstance(test, bool):
                    return Unresolved("", "template condition not known")
                failed = self._render(part[2] if test else part[3], env, out, size)
                if failed is not None:
                    return failed
                continue
            elif part[0] == "tfor":
                _, key_var, value_var, coll_node, body = part
                coll = self._eval(coll_node, env)
                if isinstance(coll, dict):
                    pairs: list[tuple[Any, Any]] = [(k, coll[k]) for k in sorted(coll)]
                elif isinstance(coll, list):
                    pairs = list(enumerate(coll))
                else:
                    return Unresolved("", "template for collection not known")
                if len(pairs) > MAX_ITEMS:
                    return Unresolved("", "collection too large")
                for k, v in pairs:
                    inner = dict(env)
                    if key_var:
                        inner[key_var] = k
                    inner[value_var] = v
                    failed = self._render(body, inner, out, size)
                    if failed is not None:
                        return failed
                continue
            else:
                piece = _to_template_string(self._eval(part, env))
            if isinstance(piece, Unresolved):
                return piece
            size[0] += len(piece)
            if size[0] > MAX_STRING:
                return Unresolved("", "string too large")
            out.append(piece)
        return None

    def _object(self, node: list[Any], env: Mapping[str, Any]) -> Any:
        if len(node[1]) > MAX_ITEMS:
            return Unresolved("{…}", "collection too large")
        out: dict[str, Any] = {}
        for key_node, value_node in node[1]:
            key = self._eval(key_node, env)
            if isinstance(key, bool):
                key = "true" if key else "false"
            if key is None or isinstance(key, (list, dict)):
                return Unresolved(_text(key_node), f"{_INVALID}object key")
            if isinstance(key, (Unresolved, Ref)):
                return Unresolved(_text(key_node), "object key not known")
            out[_number_text(key) if isinstance(key, (int, float)) else key] = \
                self._eval(value_node, env)
        return out

    def _conditional(self, node: list[Any], env: Mapping[str, Any]) -> Any:
        test = self._eval(node[1], env)
        if test is True or test == "true":
            return self._eval(node[2], env)
        if test is False or test == "false":
            return self._eval(node[3], env)
        yes, no = self._eval(node[2], env), self._eval(node[3], env)
        if _known(yes) and _known(no) and yes == no:
            return yes
        return Unresolved(node[4], "condition not known")

    def _for(self, node: list[Any], env: Mapping[str, Any]) -> Any:
        _, kind, key_var, value_var, coll_node, key_node, value_node, cond, group, text = node
        coll = self._eval(coll_node, env)
        if isinstance(coll, (Unresolved, Ref)):
            return Unresolved(text, "collection not known")
        if isinstance(coll, dict):
            pairs: list[tuple[Any, Any]] = [(k, coll[k]) for k in sorted(coll)]
        elif isinstance(coll, list):
            pairs = list(enumerate(coll))
        else:
            return Unresolved(text, f"{_INVALID}for over a {type(coll).__name__}")
        if len(pairs) > MAX_ITEMS:
            return Unresolved(text, "collection too large")
        items: list[Any] = []
        obj: dict[str, Any] = {}
        for k, v in pairs:
            inner = dict(env)
            if key_var:
                inner[key_var] = k
            inner[value_var] = v
            if cond is not None:
                keep = self._eval(cond, inner)
                if not isinstance(keep, bool):
                    return Unresolved(text, "condition not known")
                if not keep:
                    continue
            value = self._eval(value_node, inner)
            if kind == "t":
                items.append(value)
                continue
            key = self._eval(key_node, inner)
            if isinstance(key, (int, float)) and not isinstance(key, bool):
                key = _number_text(key)
            if not isinstance(key, str):
                return Unresolved(text, "key not known")
            if group:
                obj.setdefault(key, []).append(value)
            elif key in obj:
                return Unresolved(text, f"{_INVALID}duplicate key {key}")
            else:
                obj[key] = value
        return items if kind == "t" else obj

    # -- operators ------------------------------------------------------------------------
    def _binary(self, node: list[Any], env: Mapping[str, Any]) -> Any:
        op, text = node[1], node[4]
        left = self._eval(node[2], env)
        if op in ("&&", "||"):
            if op == "&&" and left is False:
                return False
            if op == "||" and left is True:
                return True
            right = self._eval(node[3], env)
            if isinstance(left, bool) and isinstance(right, bool):
                return (left and right) if op == "&&" else (left or right)
            if op == "&&" and right is False:
                return False
            if op == "||" and right is True:
                return True
            return Unresolved(text, "operand not known")
        right = self._eval(node[3], env)
        if not (_known(left) and _known(right)):
            return Unresolved(text, "operand not known")
        if op == "==":
            return _equal(left, right)
        if op == "!=":
            return not _equal(left, right)
        a, b = _number(left), _number(right)
        if a is None or b is None:
            return Unresolved(text, f"{_INVALID}{op} needs numbers")
        result: float | int | bool
        if op == "+":
            result = a + b
        elif op == "-":
            result = a - b
        elif op == "*":
            result = a * b
        elif op in ("/", "%"):
            if b == 0:
                return Unresolved(text, f"{_INVALID}division by zero")
            result = a / b if op == "/" else a % b
        elif op == "<":
            return a < b
        elif op == ">":
            return a > b
        elif op == "<=":
            return a <= b
        elif op == ">=":
            return a >= b
        else:
            return Unresolved(text, f"unsupported operator {op}")
        return _tidy_number(result, text)

    def _unary(self, node: list[Any], env: Mapping[str, Any]) -> Any:
        op, text = node[1], node[3]
        value = self._eval(node[2], env)
        if not _known(value):
            return Unresolved(text, "operand not known")
        if op == "!":
            return (not value) if isinstance(value, bool) else Unresolved(
                text, f"{_INVALID}! needs a bool")
        number = _number(value)
        if op == "-" and number is not None:
            return -number
        return Unresolved(text, f"{_INVALID}{op} operand")

    # -- functions ------------------------------------------------------------------------
    def _call(self, node: list[Any], env: Mapping[str, Any]) -> Any:
        _, name, arg_nodes, expand, text = node
        if name in ("try", "can"):
            for arg in arg_nodes:
                value = self._eval(arg, env)
                if isinstance(value, Unresolved) and value.reason.startswith(_INVALID):
                    if name == "can":
                        return False
                    continue
                if name == "can":
                    return True if _known(value) else Unresolved(text, "argument not known")
                return value
            return Unresolved(text, f"{_INVALID}no argument of try() succeeded")
        args = [self._eval(arg, env) for arg in arg_nodes]
        if expand and args:
            last = args.pop()
            if not isinstance(last, list):
                return Unresolved(text, "expanded argument not known")
            args.extend(last)
        if name in ("file", "templatefile"):
            return self._file(name, args, text)
        func = FUNCTIONS.get(name)
        if func is None:
            return Unresolved(text, f"function {name}() is not evaluated statically")
        try:
            result = func(args)
        except _NotKnown as exc:
            return Unresolved(text, str(exc) or "argument not known")
        except (TypeError, ValueError, IndexError, KeyError, ZeroDivisionError,
                OverflowError, RecursionError):
            return Unresolved(text, f"{_INVALID}arguments of {name}()")
        if isinstance(result, str) and len(result) > MAX_STRING:
            return Unresolved(text, "string too large")
        if isinstance(result, (list, dict)) and len(result) > MAX_ITEMS:
            return Unresolved(text, "collection too large")
        return result


    def _file(self, name: str, args: list[Any], text: str) -> Any:
        if not args or not isinstance(args[0], str):
            return Unresolved(text, "file path not known")
        content = self.ctx.read_file(args[0])
        if isinstance(content, Unresolved):
            return Unresolved(text, content.reason)
        if name == "file":
            return content
        if len(args) != 2 or not isinstance(args[1], dict):
            return Unresolved(text, "template variables not known")
        node = parse_template_string(content, TEMPLATE_DEPTH)
        # a template sees only the variables it is given (no var., local. or files)
        inner = Evaluator(Context(), self.steps, self.max_steps)
        value = inner.eval(node, dict(args[1]))
        if isinstance(value, Unresolved):
            return Unresolved(text, value.reason)
        return value if isinstance(value, str) else _to_template_string(value)


TEMPLATE_DEPTH = 64
"""Nesting bound of a ``templatefile()`` template."""


# -- helpers ------------------------------------------------------------------------------

def _text(node: Any) -> str:
    if isinstance(node, list) and node:
        if node[0] in ("trav", "tpl", "call", "bin", "un", "cond", "for") and \
                isinstance(node[-1], str):
            return node[-1]
        if node[0] == "name":
            return str(node[1])
        if node[0] == "unk":
            return str(node[1])
        if node[0] == "lit":
            return json.dumps(node[1]) if not isinstance(node[1], (dict, list)) else "{…}"
    return "expression"


def _first_attr(ops: list[Any]) -> str:
    for op in ops:
        if op[0] == "a":
            return str(op[1])
        if op[0] == "s":
            return _first_attr(op[1])
    return ""


def _index(value: Any, key: Any, text: str) -> Any:
    if isinstance(value, list):
        number = _number(key)
        if isinstance(number, float) and number.is_integer():
            number = int(number)
        if isinstance(number, int) and 0 <= number < len(value):
            return value[number]
        return Unresolved(text, f"{_INVALID}index {key!r} out of range")
    if isinstance(value, dict):
        skey = _number_text(key) if isinstance(key, (int, float)) and \
            not isinstance(key, bool) else key
        if isinstance(skey, str) and skey in value:
            return value[skey]
        return Unresolved(text, f"{_INVALID}no key {key!r}")
    return Unresolved(text, f"{_INVALID}index into a {type(value).__name__}")


def _known(value: Any, depth: int = 0) -> bool:
    """True when the value holds no Unresolved and no Ref at any depth."""
    if isinstance(value, (Unresolved, Ref)):
        return False
    if depth > 64:
        return False
    if isinstance(value, list):
        return all(_known(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(_known(v, depth + 1) for v in value.values())
    return True


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                return None
            return number if number == number else None  # no NaN
    return None


def _tidy_number(value: float | int, text: str) -> Any:
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            return Unresolved(text, "number too large")
        return value
    if value != value or value in (float("inf"), float("-inf")):
        return Unresolved(text, "number out of range")
    if value.is_integer() and abs(value) < 2 ** 53:
        return int(value)
    return value


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return str(int(value))
    return str(value) if isinstance(value, int) else repr(value)


def _to_template_string(value: Any) -> str | Unresolved:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number_text(value)
    if isinstance(value, Ref):
        return "${" + str(value) + "}"
    if isinstance(value, Unresolved):
        return value
    if value is None:
        return Unresolved("null", f"{_INVALID}null in a template")
    return Unresolved("collection", f"{_INVALID}collection in a template")


# -- functions ----------------------------------------------------------------------------

class _NotKnown(Exception):
    pass


def _need(*values: Any) -> None:
    for value in values:
        if not _known(value):
            raise _NotKnown("argument not known")


def _str_arg(value: Any) -> str:
    _need(value)
    text = _to_template_string(value)
    if not isinstance(text, str):
        raise ValueError("not a string")
    return text


def _number_arg(value: Any) -> int | float:
    _need(value)
    number = _number(value)
    if number is None:
        raise ValueError("not a number")
    return number


def _list_arg(value: Any) -> list[Any]:
    if isinstance(value, (Unresolved, Ref)):
        raise _NotKnown("argument not known")
    if not isinstance(value, list):
        raise TypeError("not a list")
    return value


def _map_arg(value: Any) -> dict[str, Any]:
    if isinstance(value, (Unresolved, Ref)):
        raise _NotKnown("argument not known")
    if not isinstance(value, dict):
        raise TypeError("not a map")
    return value


def _encode_ready(value: Any, depth: int = 0) -> Any:
    """A value for ``json.dumps``: Refs as ``${…}`` text, whole floats as integers."""
    if depth > 64:
        raise _NotKnown("value too deep")
    if isinstance(value, Unresolved):
        raise _NotKnown(f"{value.text} not known")
    if isinstance(value, Ref):
        return "${" + str(value) + "}"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return int(value)
    if isinstance(value, list):
        return [_encode_ready(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: _encode_ready(v, depth + 1) for k, v in value.items()}
    return value


def _jsonencode(args: list[Any]) -> str:
    (value,) = args
    text = json.dumps(_encode_ready(value), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    # like Terraform (Go's encoding/json): HTML-significant characters are escaped
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _jsondecode(args: list[Any]) -> Any:
    text = _str_arg(args[0])
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("too deep") from None


def _format(args: list[Any]) -> str:
    spec = _str_arg(args[0])
    rest = list(args[1:])
    _need(*rest)
    out: list[str] = []
    pos = 0
    for m in re.finditer(r"%(?:(\[\d+\])?[-+ #0]*\d*(?:\.\d+)?([a-zA-Z%]))", spec):
        out.append(spec[pos:m.start()])
        pos = m.end()
        verb = m.group(2)
        if verb == "%":
            out.append("%")
            continue
        if m.group(1) or not rest:
            raise ValueError("unsupported format")
        value = rest.pop(0)
        if verb in ("s", "v"):
            out.append(_str_arg(value))
        elif verb == "d":
            number = _number(value)
            if number is None or (isinstance(number, float) and not number.is_integer()):
                raise ValueError("%d needs an integer")
            out.append(str(int(number)))
        else:
            raise ValueError("unsupported format verb")
    out.append(spec[pos:])
    return "".join(out)


def _coalesce(args: list[Any]) -> Any:
    for value in args:
        if isinstance(value, (Unresolved, Ref)):
            raise _NotKnown("argument not known")
        if value is not None and value != "":
            return value
    raise ValueError("no non-null argument")


def _merge(args: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for value in args:
        if value is None:
            continue
        out.update(_map_arg(value))
    return out


def _concat(args: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in args:
        out.extend(_list_arg(value))
        if len(out) > MAX_ITEMS:
            raise _NotKnown("collection too large")
    return out


def _lookup(args: list[Any]) -> Any:
    mapping = _map_arg(args[0])
    key = _str_arg(args[1])
    if key in mapping:
        return mapping[key]
    if len(args) > 2:
        return args[2]
    raise KeyError(key)


def _element(args: list[Any]) -> Any:
    items = _list_arg(args[0])
    _need(args[1])
    number = _number(args[1])
    if number is None or not items:
        raise ValueError("bad index")
    return items[int(number) % len(items)]


def _length(args: list[Any]) -> int:
    (value,) = args
    if isinstance(value, (Unresolved, Ref)):
        raise _NotKnown("argument not known")
    if isinstance(value, (list, dict, str)):
        return len(value)
    raise TypeError("no length")


def _toset(args: list[Any]) -> list[Any]:
    items = _list_arg(args[0])
    if all(isinstance(v, str) for v in items):
        return sorted(set(items))
    out: list[Any] = []
    for v in items:
        if v not in out:
            out.append(v)
    return out


def _distinct(items: list[Any]) -> list[Any]:
    if all(isinstance(v, str) for v in items):
        return list(dict.fromkeys(items))
    out: list[Any] = []
    for v in items:
        if v not in out:
            out.append(v)
    return out


def _tostring(args: list[Any]) -> Any:
    (value,) = args
    if value is None:
        return None
    if isinstance(value, (list, dict)):
        raise TypeError("not a primitive")
    return _str_arg(value)


def _tonumber(args: list[Any]) -> Any:
    (value,) = args
    _need(value)
    if value is None:
        return None
    number = _number(value)
    if number is None:
        raise ValueError("not a number")
    return number


def _tobool(args: list[Any]) -> Any:
    (value,) = args
    _need(value)
    if value is None or isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError("not a bool")


def _join(args: list[Any]) -> str:
    sep = _str_arg(args[0])
    parts: list[str] = []
    for value in args[1:]:
        parts.extend(_str_arg(v) for v in _list_arg(value))
    return sep.join(parts)


def _split(args: list[Any]) -> list[str]:
    sep, text = _str_arg(args[0]), _str_arg(args[1])
    if not sep:
        raise ValueError("empty separator")
    return text.split(sep)


def _flatten(args: list[Any]) -> list[Any]:
    out: list[Any] = []
    stack: list[Any] = [iter(_list_arg(args[0]))]
    while stack:
        item = next(stack[-1], _END)
        if item is _END:
            stack.pop()
        elif isinstance(item, list):
            if len(stack) > 64:
                raise ValueError("too deep")
            stack.append(iter(item))
        else:
            if isinstance(item, (Unresolved, Ref)):
                raise _NotKnown("element not known")
            out.append(item)
            if len(out) > MAX_ITEMS:
                raise _NotKnown("collection too large")
    return out


_END = object()


def _replace(args: list[Any]) -> str:
    text, old, new = (_str_arg(a) for a in args)
    if len(old) > 1 and old.startswith("/") and old.endswith("/"):
        if len(text) > MAX_REGEX_INPUT or "$" in new or "\\" in new:
            raise _NotKnown("regular-expression replace() not evaluated")
        return _simple_regex(old[1:-1]).sub(lambda _: new, text)
    return text.replace(old, new)


def _contains(args: list[Any]) -> bool:
    items = _list_arg(args[0])
    _need(args[1])
    if not all(_known(v) for v in items) and args[1] not in items:
        raise _NotKnown("element not known")
    return any(_equal(v, args[1]) for v in items)


def _minmax(pick: Callable[..., Any]) -> Callable[[list[Any]], Any]:
    def run(args: list[Any]) -> Any:
        numbers = [_number(a) for a in args]
        _need(*args)
        if not numbers or any(n is None for n in numbers):
            raise ValueError("needs numbers")
        return pick(numbers)
    return run


def _one(args: list[Any]) -> Any:
    items = _list_arg(args[0])
    if len(items) > 1:
        raise ValueError("more than one element")
    return items[0] if items else None


def _all_any(pick: Callable[[Iterable[bool]], bool]) -> Callable[[list[Any]], bool]:
    def run(args: list[Any]) -> bool:
        items = _list_arg(args[0])
        values = [v if isinstance(v, bool) else (v == "true" if v in ("true", "false")
                                                 else None) for v in items]
        known = [v for v in values if v is not None]
        if pick is all and False in known:
            return False
        if pick is any and True in known:
            return True
        if len(known) != len(items):
            raise _NotKnown("element not known")
        return pick(known)
    return run


def _zipmap(args: list[Any]) -> dict[str, Any]:
    keys, values = _list_arg(args[0]), _list_arg(args[1])
    if len(keys) != len(values):
        raise ValueError("lengths differ")
    return {_str_arg(k): v for k, v in zip(keys, values, strict=True)}


def _range(args: list[Any]) -> list[Any]:
    _need(*args)
    numbers = [_number(a) for a in args]
    if any(n is None for n in numbers) or not 1 <= len(numbers) <= 3:
        raise ValueError("range needs numbers")
    start, stop, step = (0, numbers[0], 1) if len(numbers) == 1 else (
        numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else 1)
    if not step or any(not isinstance(n, int) for n in (start, stop, step)):
        raise ValueError("integer range only")
    assert isinstance(start, int) and isinstance(stop, int) and isinstance(step, int)
    if abs(stop - start) // abs(step) > MAX_ITEMS:
        raise _NotKnown("collection too large")
    return list(range(start, stop, step))


def _slice(args: list[Any]) -> list[Any]:
    items = _list_arg(args[0])
    _need(args[1], args[2])
    start, end = _number(args[1]), _number(args[2])
    if not isinstance(start, int) or not isinstance(end, int) or \
            not 0 <= start <= end <= len(items):
        raise ValueError("bad slice")
    return items[start:end]


def _substr(args: list[Any]) -> str:
    text = _str_arg(args[0])
    _need(args[1], args[2])
    offset, length = _number(args[1]), _number(args[2])
    if not isinstance(offset, int) or not isinstance(length, int):
        raise ValueError("bad substr")
    if offset < 0:
        offset += len(text)
    return text[offset:] if length == -1 else text[offset:offset + length]


def _cidrsubnet(args: list[Any]) -> str:
    prefix = _str_arg(args[0])
    _need(args[1], args[2])
    newbits, netnum = _number(args[1]), _number(args[2])
    if not isinstance(newbits, int) or not isinstance(netnum, int) or newbits < 0:
        raise ValueError("bad cidrsubnet")
    net = ipaddress.ip_network(prefix, strict=False)
    new_prefix = net.prefixlen + newbits
    if new_prefix > net.max_prefixlen or not 0 <= netnum < (1 << newbits):
        raise ValueError("bad cidrsubnet")
    size = 1 << (net.max_prefixlen - new_prefix)
    base = int(net.network_address) + netnum * size
    return str(ipaddress.ip_network((base, new_prefix)))


def _cidrhost(args: list[Any]) -> str:
    prefix = _str_arg(args[0])
    _need(args[1])
    hostnum = _number(args[1])
    if not isinstance(hostnum, int):
        raise ValueError("bad cidrhost")
    net = ipaddress.ip_network(prefix, strict=False)
    if hostnum < 0:
        hostnum += net.num_addresses
    if not 0 <= hostnum < net.num_addresses:
        raise ValueError("bad cidrhost")
    return str(net.network_address + hostnum)


def _setunion(args: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in args:
        out.extend(_list_arg(value))
        if len(out) > MAX_ITEMS:
            raise _NotKnown("collection too large")
    return _toset([out])


def _sort(args: list[Any]) -> list[str]:
    items = [_str_arg(v) for v in _list_arg(args[0])]
    return sorted(items)


MAX_REGEX_INPUT = 512
_QUANTIFIERS = re.compile(r"(?<!\\)[*+?{]")


def _simple_regex(pattern: str) -> re.Pattern[str]:
    """A pattern safe to run with Python's backtracking engine on untrusted text: no groups,
    at most two quantifiers (the input is bounded too); anything else is not evaluated."""
    if "(" in pattern or len(_QUANTIFIERS.findall(pattern)) > 2 or len(pattern) > 200:
        raise _NotKnown("regular expression not evaluated statically")
    try:
        return re.compile(pattern)
    except re.error:
        raise ValueError("bad pattern") from None


def _regex(args: list[Any]) -> str:
    pattern, text = _str_arg(args[0]), _str_arg(args[1])
    if len(text) > MAX_REGEX_INPUT:
        raise _NotKnown("input too long for a regular expression")
    found = _simple_regex(pattern).search(text)
    if found is None:
        raise ValueError("no match")
    return found.group(0)


def _regexall(args: list[Any]) -> list[str]:
    pattern, text = _str_arg(args[0]), _str_arg(args[1])
    if len(text) > MAX_REGEX_INPUT:
        raise _NotKnown("input too long for a regular expression")
    return [m.group(0) for m in _simple_regex(pattern).finditer(text)]


def _base64decode(args: list[Any]) -> str:
    try:
        return base64.b64decode(_str_arg(args[0]), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise _NotKnown("not base64 of UTF-8 text") from None


FUNCTIONS: dict[str, Callable[[list[Any]], Any]] = {
    "concat": _concat,
    "merge": _merge,
    "lookup": _lookup,
    "element": _element,
    "length": _length,
    "lower": lambda a: _str_arg(a[0]).lower(),
    "base64encode": lambda a: base64.b64encode(_str_arg(a[0]).encode("utf-8")).decode("ascii"),
    "base64decode": _base64decode,
    "upper": lambda a: _str_arg(a[0]).upper(),
    "format": _format,
    "join": _join,
    "split": _split,
    "tolist": lambda a: list(_list_arg(a[0])),
    "toset": _toset,
    "tomap": lambda a: dict(_map_arg(a[0])),
    "tostring": _tostring,
    "tonumber": _tonumber,
    "tobool": _tobool,
    "coalesce": _coalesce,
    "coalescelist": lambda a: next(x for x in (_list_arg(v) for v in a) if x),
    "jsonencode": _jsonencode,
    "jsondecode": _jsondecode,
    "keys": lambda a: sorted(_map_arg(a[0])),
    "values": lambda a: [_map_arg(a[0])[k] for k in sorted(_map_arg(a[0]))],
    "contains": _contains,
    "flatten": _flatten,
    "distinct": lambda a: _distinct(_list_arg(a[0])),
    "compact": lambda a: [_str_arg(v) for v in _list_arg(a[0]) if v not in (None, "")],
    "trimspace": lambda a: _str_arg(a[0]).strip(),
    "replace": _replace,
    "startswith": lambda a: _str_arg(a[0]).startswith(_str_arg(a[1])),
    "endswith": lambda a: _str_arg(a[0]).endswith(_str_arg(a[1])),
    "min": _minmax(min),
    "max": _minmax(max),
    "one": _one,
    "alltrue": _all_any(all),
    "anytrue": _all_any(any),
    "zipmap": _zipmap,
    "range": _range,
    "slice": _slice,
    "substr": _substr,
    "cidrsubnet": _cidrsubnet,
    "cidrhost": _cidrhost,
    "setunion": _setunion,
    "sort": _sort,
    "reverse": lambda a: list(reversed(_list_arg(a[0]))),
    "chomp": lambda a: _str_arg(a[0]).rstrip("\r\n"),
    "trimprefix": lambda a: _str_arg(a[0]).removeprefix(_str_arg(a[1])),
    "trimsuffix": lambda a: _str_arg(a[0]).removesuffix(_str_arg(a[1])),
    "abs": lambda a: abs(_number_arg(a[0])),
    "sum": lambda a: sum(_number_arg(v) for v in _list_arg(a[0])),
    "regex": _regex,
    "regexall": _regexall,
}
"""Pure functions evaluated statically (``file``/``templatefile`` go through
:meth:`Context.read_file`); any other function gives an :class:`Unresolved`."""
