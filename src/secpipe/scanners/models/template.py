"""Static analysis of Jinja chat templates (GGUF ``tokenizer.chat_template``): never rendered.

A template is parsed into an AST with Jinja's parser only (``Environment().parse`` builds nodes; it
does not compile or render anything). Attribute and item lookups whose name is a dunder or private
name, or a known escape hatch (``popen``, ``system``, ``__globals__`` …), are the sandbox-escape
class of bugs (CVE-2024-34359). Names built from constant pieces (``'__in' ~ 'it__'``) are folded
first; an ``attr`` filter with a name that cannot be folded is itself suspicious. Without Jinja,
or when the template does not parse, a token scan of the raw text stands in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_ESCAPES = frozenset([
    "__class__", "__mro__", "__subclasses__", "__globals__", "__builtins__", "__import__",
    "__init__", "__base__", "__bases__", "__dict__", "__getattribute__", "__code__",
    "__func__", "__self__", "__module__", "__reduce__", "__reduce_ex__", "__loader__",
    "__spec__", "__getitem__", "__call__", "__new__", "mro", "func_globals", "f_globals",
    "gi_frame", "tb_frame", "f_back", "f_locals", "co_code", "_module",
    "_TemplateReference__context",
])
_CALLS = frozenset(["popen", "system", "exec", "eval", "import_module", "spawn", "check_output",
                    "getoutput", "subprocess", "os", "sys", "builtins", "open", "compile"])
_RAW = re.compile(r"__[A-Za-z_]+__|\|\s*attr\s*\(|\.\s*(?:popen|system)\s*\(")


@dataclass(frozen=True)
class TemplateIssue:
    """One suspicious construct."""

    what: str
    """What was found (``attribute __globals__``)."""
    critical: bool
    """Whether it reaches object internals or a process (versus merely private names)."""


def _fold(node: Any) -> str | None:
    from jinja2 import nodes

    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return node.value
    if isinstance(node, nodes.Concat):
        parts = [_fold(n) for n in node.nodes]
        return None if any(p is None for p in parts) else "".join(p for p in parts if p)
    if isinstance(node, nodes.Add):
        left, right = _fold(node.left), _fold(node.right)
        return None if left is None or right is None else left + right
    return None


def _judge_name(name: str, how: str) -> TemplateIssue | None:
    if name in _ESCAPES or (name.startswith("__") and name.endswith("__")):
        return TemplateIssue(f"{how} {name}", True)
    if name in _CALLS:
        return TemplateIssue(f"{how} {name}", True)
    if name.startswith("_"):
        return TemplateIssue(f"{how} {name} (private)", False)
    return None


def analyse(source: str) -> tuple[list[TemplateIssue], bool]:
    """(issues, parsed) for one template; ``parsed`` is False when the raw-text scan was used."""
    try:
        from jinja2 import Environment, nodes
        from jinja2.exceptions import TemplateSyntaxError
    except ImportError:  # pragma: no cover - jinja2 is installed with the package's extras
        return _raw(source), False
    try:
        # parse only: nothing is compiled or rendered, so autoescaping is irrelevant
        ast = Environment().parse(source)  # noqa: S701
    except (TemplateSyntaxError, RecursionError, ValueError):
        return _raw(source), False
    issues: list[TemplateIssue] = []
    for tag in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        issues.append(TemplateIssue(f"{type(tag).__name__.lower()} of another template", False))
        break
    for node in ast.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Const)):
        issue: TemplateIssue | None = None
        if isinstance(node, nodes.Getattr):
            issue = _judge_name(node.attr, "attribute")
        elif isinstance(node, nodes.Getitem):
            key = _fold(node.arg)
            issue = _judge_name(key, "item") if key is not None else None
        elif isinstance(node, nodes.Filter) and node.name == "attr":
            key = _fold(node.args[0]) if node.args else None
            issue = (_judge_name(key, "attr filter") if key is not None
                     else TemplateIssue("attr filter with a computed name", True))
        elif isinstance(node, nodes.Const) and isinstance(node.value, str) \
                and re.search(r"__\w+__", node.value):
            issue = TemplateIssue(f"string constant {node.value[:40]!r}", True)
        if issue is not None and issue not in issues:
            issues.append(issue)
    for issue in _raw(source):  # pieces split across constants and joined by filters
        if issue.critical and not any(i.critical for i in issues):
            issues.append(issue)
    return issues, True


def _raw(source: str) -> list[TemplateIssue]:
    found: list[TemplateIssue] = []
    for m in _RAW.finditer(source):
        issue = TemplateIssue(f"text {m.group(0)!r}", True)
        if issue not in found:
            found.append(issue)
        if len(found) >= 10:
            break
    return found
