"""Organisation policies as code: the user's own IaC rules, written in ``secpipe.yaml`` under the
``scan-iac`` step's ``with: policies:`` and evaluated on the resources the framework modules
understood (:class:`~secpipe.scanners.iac.model.IacResource`). See docs/iac-policies.md.

An entry::

    - id: org.s3-owner-tag              # must start with "org."
      title: S3 buckets carry an owner tag
      severity: medium
      resource: aws_s3_bucket           # a type, a glob (aws_*), a list, a Kubernetes kind
      where: {attribute: tags.Environment, equals: prod}   # optional filter (or a list: all)
      attribute: tags.owner             # dotted path; ingress[*].cidr_blocks: every element
      exists: true                      # exactly one condition
      message: every production bucket names its owning team    # optional

Conditions: ``exists``, ``absent``, ``equals``, ``not_equals``, ``in``, ``not_in``, ``matches``,
``not_matches`` (RE2 syntax: linear time), ``contains``, ``not_contains``, ``greater_than``,
``less_than``. Where the path fans out (``[*]``, or a key read on a list of nested blocks), the
condition must hold for every value found; in ``where:`` it is enough that one value satisfies it.
``attribute`` may be a list of alternative paths (IPv4 and IPv6 attributes, a Pod's and a
Deployment's containers): every value any of them reaches is judged.
A value the framework could not resolve is an ``iac.unresolved`` problem naming the rule, never a
pass.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from secpipe.core.errors import ConfigError
from secpipe.core.findings import Severity
from secpipe.scanners.iac.model import (
    FRAMEWORKS,
    IacHit,
    IacResource,
    IacRule,
    Problem,
    Ref,
    Unresolved,
)
from secpipe.tools.redact import redact_tokens

try:
    import re2 as _re2  # type: ignore[import-untyped, import-not-found, unused-ignore]
except ImportError:  # pragma: no cover - exercised only without google-re2
    _re2 = None

__all__ = ["CONDITIONS", "Condition", "OrgRule", "compile_policies", "evaluate"]

MAX_RULES = 500
"""Most organisation rules one step takes."""
MAX_PATTERN_CHARS = 1000
"""Longest ``matches`` pattern."""
MAX_PATH_SEGMENTS = 32
"""Deepest attribute path."""
MAX_VALUES = 10_000
"""Most values one path may fan out to on one resource (more is an ``iac.budget-exceeded``
problem)."""
MAX_MATCH_CHARS = 65_536
"""Longest text a pattern is run on without RE2 (Python's ``re`` can backtrack)."""

CONDITIONS = ("exists", "absent", "equals", "not_equals", "in", "not_in", "matches",
              "not_matches", "contains", "not_contains", "greater_than", "less_than")
"""The condition keys of an entry (exactly one per entry and per ``where`` filter)."""
_NEGATIVE = frozenset({"not_equals", "not_in", "not_matches", "not_contains"})
"""Conditions an absent value satisfies (nothing forbidden is there)."""
_ENTRY_KEYS = frozenset({"id", "title", "severity", "resource", "where", "attribute", "message",
                         "fix", "framework", "cwe", "controls", *CONDITIONS})
_ID = re.compile(r"org\.[a-z0-9][a-z0-9._-]{0,99}")
_SECRETISH = re.compile(r"pass(word|wd)?|secret|token|private|credential|api_?key|access_?key",
                        re.IGNORECASE)
_MISSING = object()


# --- attribute paths ------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """One step of an attribute path: a key, ``[*]`` (every element) or ``[n]``."""

    key: str | None = None
    index: int | None = None
    every: bool = False

    def text(self) -> str:
        if self.every:
            return "[*]"
        if self.index is not None:
            return f"[{self.index}]"
        assert self.key is not None
        plain = re.fullmatch(r"[A-Za-z0-9_\-/]+", self.key)
        return self.key if plain else f'["{self.key}"]'


_SEGMENT = re.compile(r'\.?(?:([A-Za-z0-9_\-/]+)|"([^"]*)"|\[(\*|\d+)\]|\["([^"]*)"\])')


def parse_path(text: str, where: str) -> tuple[Segment, ...]:
    """``tags.owner``, ``ingress[*].cidr_blocks``, ``metadata.labels["app.kubernetes.io/name"]``
    as segments; ConfigError naming ``where`` when it is not a path."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{where}: attribute must be a non-empty dotted path")
    segments: list[Segment] = []
    pos = 0
    while pos < len(text):
        match = _SEGMENT.match(text, pos)
        if not match or match.end() == pos or (pos == 0 and text.startswith(".")):
            raise ConfigError(f"{where}: attribute {text!r} is not a path (at character "
                              f"{pos + 1}; write a.b, a[*].b, a[0] or a[\"dotted.key\"])")
        name, quoted, bracket, bracket_key = match.groups()
        if name is not None or quoted is not None:
            segments.append(Segment(key=name if name is not None else quoted))
        elif bracket_key is not None:
            segments.append(Segment(key=bracket_key))
        elif bracket == "*":
            segments.append(Segment(every=True))
        else:
            segments.append(Segment(index=int(bracket)))
        pos = match.end()
    if len(segments) > MAX_PATH_SEGMENTS:
        raise ConfigError(f"{where}: attribute {text!r} is deeper than {MAX_PATH_SEGMENTS}")
    return tuple(segments)


@dataclass(frozen=True)
class Found:
    """One value a path reached, with the concrete path to it."""

    value: Any
    """The value (``_MISSING`` when the path stops short)."""
    path: tuple[Segment, ...]
    """Concrete segments (indices instead of ``[*]`` up to where the value was found; the rest
    of the path as written after the point where it stopped short)."""
    written: str = ""
    """The path as the rule wrote it."""


class _TooMany(Exception):
    pass


def walk(attrs: Mapping[str, Any], segments: Sequence[Segment],
         written: str = "") -> list[Found]:
    """Every value ``segments`` reach in ``attrs``. A key read on a list reads it on each
    element (Terraform's nested blocks are lists); ``[*]`` on a mapping reads each of its values.
    An :class:`Unresolved` met on the way is the value found; a path that reaches nothing (an
    empty list) reaches one absent value. Raises ``_TooMany`` past :data:`MAX_VALUES`."""
    out: list[Found] = []

    def go(value: Any, rest: Sequence[Segment], done: tuple[Segment, ...]) -> None:
        if len(out) > MAX_VALUES:
            raise _TooMany
        if not rest or isinstance(value, Unresolved):
            out.append(Found(value, done, written))
            return
        seg = rest[0]
        if seg.every and isinstance(value, Mapping):
            for key, item in value.items():
                go(item, rest[1:], (*done, Segment(key=str(key))))
            return
        if seg.every or (seg.key is not None and isinstance(value, list)):
            if not isinstance(value, list):
                out.append(Found(_MISSING, (*done, *rest), written) if value is None
                           else Found(value, done, written))
                return
            tail = rest[1:] if seg.every else rest
            for i, item in enumerate(value):
                here = (*done, Segment(index=i))
                if not seg.every and isinstance(item, list):
                    # a key read on a list of lists: no further implicit fan-out (bounded
                    # recursion); a list has no keys
                    out.append(Found(_MISSING, (*here, *rest), written))
                    continue
                go(item, tail, here)
            return
        if seg.index is not None:
            if isinstance(value, list) and seg.index < len(value):
                go(value[seg.index], rest[1:], (*done, seg))
            else:
                out.append(Found(_MISSING, (*done, *rest), written))
            return
        if isinstance(value, Mapping) and seg.key in value:
            go(value[seg.key], rest[1:], (*done, seg))
        else:
            out.append(Found(_MISSING, (*done, *rest), written))

    go(attrs, segments, ())
    # a path that fanned out to nothing reaches the attribute's absence
    return out or [Found(_MISSING, tuple(segments), written)]


# --- conditions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """One ``attribute`` + condition pair."""

    attribute: str
    """The path(s) as written (several joined with `` or ``)."""
    paths: tuple[tuple[str, tuple[Segment, ...]], ...]
    """Each path as written and parsed. ``attribute:`` may list several (alternatives: the
    Deployment and the Pod shape, IPv4 and IPv6 attributes): the condition is judged on every
    value any of them reaches; when none reaches anything, on one absent value."""
    op: str
    """One of :data:`CONDITIONS` (``absent: true`` is stored as ``exists: false``)."""
    value: Any
    """The condition's operand."""
    pattern: Any = None
    """The compiled regular expression of ``matches``/``not_matches``."""

    def describe(self) -> str:
        """``tags.owner must exist``, ``acl must not equal "public-read"`` …"""
        if self.op == "exists":
            return f"{self.attribute} must {'exist' if self.value else 'be absent'}"
        verb = {"equals": "equal", "not_equals": "not equal", "in": "be one of",
                "not_in": "not be one of", "matches": "match", "not_matches": "not match",
                "contains": "contain", "not_contains": "not contain",
                "greater_than": "be greater than", "less_than": "be less than"}[self.op]
        return f"{self.attribute} must {verb} {_show(self.value)}"


def _show(value: Any, limit: int = 80, depth: int = 0) -> str:
    if isinstance(value, str):
        text = '"' + value + '"'
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (list, tuple)):
        if depth >= 3:
            return "[…]"
        text = "[" + ", ".join(_show(v, 40, depth + 1) for v in value[:10]) + (
            ", …]" if len(value) > 10 else "]")
    elif isinstance(value, Mapping):
        text = "{" + ", ".join(str(k) for k in list(value)[:10]) + "}"
    elif isinstance(value, Unresolved):
        text = str(value)
    else:
        text = str(value)
    text = redact_tokens(" ".join(text.split()))
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _scalar_eq(actual: Any, expected: Any) -> bool:
    """Equality with the loose scalar typing IaC values have (``"true"`` is true, ``"22"`` is
    22)."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        if isinstance(actual, bool) and isinstance(expected, bool):
            return actual is expected
        other, flag = (actual, expected) if isinstance(expected, bool) else (expected, actual)
        return isinstance(other, str) and other.strip().lower() == ("true" if flag else "false")
    a_num, e_num = _number(actual), _number(expected)
    if a_num is not None and e_num is not None and (
            not isinstance(actual, str) or not isinstance(expected, str)):
        return a_num == e_num
    if isinstance(actual, (Mapping, list)) or isinstance(expected, (Mapping, list)):
        return bool(actual == expected)
    return str(actual) == str(expected)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _contains(actual: Any, item: Any) -> bool | None:
    """Whether ``actual`` contains ``item``: a list element, a mapping key, a substring.
    None when ``actual`` holds nothing that can contain."""
    if isinstance(actual, list):
        return any(_scalar_eq(a, item) for a in actual if not isinstance(a, Unresolved))
    if isinstance(actual, Mapping):
        return str(item) in actual
    if isinstance(actual, str):
        return str(item) in actual
    return None


def _search(pattern: Any, text: str) -> bool:
    if _re2 is None and len(text) > MAX_MATCH_CHARS:  # pragma: no cover - without google-re2
        text = text[:MAX_MATCH_CHARS]
    return pattern.search(text) is not None


@dataclass(frozen=True)
class Verdict:
    """A condition judged on one value."""

    ok: bool
    """It holds."""
    detail: str = ""
    """Why not (``is "public-read"``, ``is missing``)."""
    unresolved: Unresolved | None = None
    """The value was unresolved: nothing was decided."""


def judge(cond: Condition, value: Any) -> Verdict:
    """``cond`` on one value reached by its path (``_MISSING`` when absent)."""
    if isinstance(value, Unresolved):
        return Verdict(False, unresolved=value)
    missing = value is _MISSING or value is None
    if cond.op == "exists":
        if missing:
            return Verdict(not cond.value, "is missing")
        return Verdict(bool(cond.value), f"is present ({_show(value)})")
    if missing:
        return Verdict(cond.op in _NEGATIVE, "is missing")
    if isinstance(value, Ref):
        if cond.op in ("matches", "not_matches"):
            hit = _search(cond.pattern, str(value))
            return Verdict(hit == (cond.op == "matches"), f"is {value}")
        return Verdict(False, unresolved=Unresolved(str(value), "a reference to another "
                                                                "resource"))
    op, expected = cond.op, cond.value
    if op in ("equals", "not_equals"):
        equal = _scalar_eq(value, expected)
        return Verdict(equal == (op == "equals"), f"is {_show(value)}")
    if op in ("in", "not_in"):
        inside = any(_scalar_eq(value, e) for e in expected)
        return Verdict(inside == (op == "in"), f"is {_show(value)}")
    if op in ("matches", "not_matches"):
        if isinstance(value, (Mapping, list)):
            return Verdict(op == "not_matches", f"is not text ({_show(value)})")
        text = str(value).lower() if isinstance(value, bool) else str(value)
        found = _search(cond.pattern, text)
        return Verdict(found == (op == "matches"), f"is {_show(value)}")
    if op in ("contains", "not_contains"):
        items = expected if isinstance(expected, list) else [expected]
        if isinstance(value, list) and any(isinstance(v, Unresolved) for v in value):
            unknown = next(v for v in value if isinstance(v, Unresolved))
            if op == "contains" and not all(_contains(value, i) for i in items):
                return Verdict(False, unresolved=unknown)
            if op == "not_contains" and not any(_contains(value, i) for i in items):
                return Verdict(False, unresolved=unknown)
        results = [_contains(value, i) for i in items]
        if any(r is None for r in results):
            return Verdict(op == "not_contains", f"is {_show(value)}")
        if op == "contains":
            lacking = [i for i, r in zip(items, results, strict=True) if not r]
            return Verdict(not lacking, f"lacks {_show(lacking[0])}" if lacking else "")
        present = [i for i, r in zip(items, results, strict=True) if r]
        return Verdict(not present, f"contains {_show(present[0])}" if present else "")
    number = _number(value)
    if number is None:
        return Verdict(False, f"is not a number ({_show(value)})")
    ok = number > expected if op == "greater_than" else number < expected
    return Verdict(ok, f"is {_show(value)}")


# --- compiling entries ----------------------------------------------------------------------


@dataclass(frozen=True)
class OrgRule:
    """One compiled organisation rule."""

    rule: IacRule
    """How its findings are described (id, title, severity, framework …)."""
    resources: tuple[str, ...]
    """Resource types, kinds or globs it applies to (``aws_s3_bucket``, ``aws_*``,
    ``Deployment``)."""
    check: Condition
    """The condition every matching resource must meet."""
    where: tuple[Condition, ...] = ()
    """Filters: the rule applies only to resources meeting all of them."""
    message: str = ""
    """The user's message for a hit (else the condition described)."""
    framework: str = ""
    """Only resources of this framework, when set."""

    def applies_to(self, resource: IacResource) -> bool:
        """True when ``resource``'s type (and framework, if set) is one the rule names."""
        if self.framework and resource.framework != self.framework:
            return False
        return any(fnmatch.fnmatchcase(resource.type, p) for p in self.resources)


def _condition(entry: Mapping[str, Any], where: str, *, allow_extra: frozenset[str]) -> Condition:
    ops = [k for k in CONDITIONS if k in entry]
    if len(ops) != 1:
        found = ", ".join(ops) or "none"
        raise ConfigError(f"{where}: needs exactly one condition of {', '.join(CONDITIONS)} "
                          f"(found {found})")
    unknown = sorted(str(k) for k in set(entry) - allow_extra - set(CONDITIONS) - {"attribute"})
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (conditions: "
                          f"{', '.join(CONDITIONS)})")
    if "attribute" not in entry:
        raise ConfigError(f"{where}: missing key 'attribute'")
    attribute = entry["attribute"]
    written = attribute if isinstance(attribute, list) else [attribute]
    if not written or len(written) > 20:
        raise ConfigError(f"{where}: attribute must be a path or a list of 1 to 20 paths")
    paths = tuple((str(text), parse_path(text, where)) for text in written)
    op = ops[0]
    value = entry[op]
    pattern = None
    if op in ("exists", "absent"):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {op} must be true or false")
        if op == "absent":
            op, value = "exists", not value
    elif op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise ConfigError(f"{where}: {op} must be a non-empty list")
        _scalars(value, f"{where}: {op}")
    elif op in ("matches", "not_matches"):
        pattern = _compile_regex(value, f"{where}: {op}")
    elif op in ("greater_than", "less_than"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not math.isfinite(value):
            raise ConfigError(f"{where}: {op} must be a number")
    elif op in ("contains", "not_contains"):
        items = value if isinstance(value, list) else [value]
        if not items:
            raise ConfigError(f"{where}: {op} must not be an empty list")
        _scalars(items, f"{where}: {op}")
    else:  # equals, not_equals
        if value is None:
            raise ConfigError(f"{where}: {op} needs a value (to require absence use "
                              "absent: true)")
    return Condition(" or ".join(text for text, _ in paths), paths, op, value, pattern)


def _scalars(values: list[Any], where: str) -> None:
    for v in values:
        if v is None or isinstance(v, (Mapping, list)):
            raise ConfigError(f"{where}: values must be strings, numbers or booleans")


def _compile_regex(value: Any, where: str) -> Any:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where} must be a non-empty regular expression")
    if len(value) > MAX_PATTERN_CHARS:
        raise ConfigError(f"{where}: the pattern is longer than {MAX_PATTERN_CHARS} characters")
    if _re2 is not None:
        try:
            return _re2.compile(value)
        except Exception as exc:  # re2.error: RE2 refuses backreferences and lookaround too
            raise ConfigError(f"{where}: {value!r} is not a valid RE2 regular expression "
                              f"({str(exc)[:120]}; no backreferences or lookaround)") from None
    try:  # pragma: no cover - exercised only without google-re2
        return re.compile(value)
    except re.error as exc:  # pragma: no cover
        raise ConfigError(f"{where}: {value!r} is not a valid regular expression ({exc})") \
            from None


def _text(entry: Mapping[str, Any], key: str, where: str, *, required: bool,
          limit: int = 500) -> str:
    value = entry.get(key)
    if value is None:
        if required:
            raise ConfigError(f"{where}: missing key {key!r}")
        return ""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key} must be a non-empty string")
    if len(value) > limit:
        raise ConfigError(f"{where}: {key} is longer than {limit} characters")
    return " ".join(value.split())


def _framework_of(patterns: Sequence[str]) -> str:
    first = patterns[0]
    if first[:1].isupper():
        return "kubernetes"
    if first in ("dockerfile", "service"):
        return "dockerfile" if first == "dockerfile" else "compose"
    return "terraform"


def _compile_one(entry: Any, index: int) -> OrgRule:
    where = f"policies[{index}]"
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: each policy is a mapping (id, title, severity, resource, "
                          "attribute and one condition)")
    rid = entry.get("id")
    if not isinstance(rid, str) or not _ID.fullmatch(rid):
        raise ConfigError(f"{where}: id must start with 'org.' followed by lower-case letters, "
                          f"digits, '.', '_' or '-' (got {str(rid)[:60]!r})")
    where = f"policies[{index}] ({rid})"
    unknown = sorted(str(k) for k in set(entry) - _ENTRY_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}")
    title = _text(entry, "title", where, required=True, limit=200)
    raw_severity = entry.get("severity")
    if raw_severity is None:
        raise ConfigError(f"{where}: missing key 'severity'")
    try:
        severity = Severity.parse(str(raw_severity))
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    raw_resource = entry.get("resource")
    if raw_resource is None:
        raise ConfigError(f"{where}: missing key 'resource'")
    patterns = raw_resource if isinstance(raw_resource, list) else [raw_resource]
    if not patterns or not all(isinstance(p, str) and p.strip() for p in patterns):
        raise ConfigError(f"{where}: resource must be a type, a glob or a list of them")
    framework = _text(entry, "framework", where, required=False)
    if framework and framework not in FRAMEWORKS:
        raise ConfigError(f"{where}: framework must be one of {', '.join(FRAMEWORKS)}")
    check = _condition(entry, where, allow_extra=_ENTRY_KEYS - set(CONDITIONS))
    raw_where = entry.get("where", [])
    filters = raw_where if isinstance(raw_where, list) else [raw_where]
    conds: list[Condition] = []
    for k, item in enumerate(filters):
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where}: where must be a mapping (attribute and one condition) "
                              "or a list of them")
        conds.append(_condition(item, f"{where}: where[{k}]", allow_extra=frozenset()))
    controls = entry.get("controls", [])
    if not isinstance(controls, list) or not all(isinstance(c, str) for c in controls):
        raise ConfigError(f"{where}: controls must be a list of strings")
    message = _text(entry, "message", where, required=False)
    fix = _text(entry, "fix", where, required=False) or f"Make {check.describe()}."
    patterns = [p.strip() for p in patterns]
    rule = IacRule(
        id=rid, title=title, severity=severity,
        framework=framework or _framework_of(patterns),
        cwe=_text(entry, "cwe", where, required=False, limit=20), controls=tuple(controls),
        rationale=message or f"Organisation policy: {check.describe()}.", fix=fix,
        bad="", good="")
    return OrgRule(rule, tuple(patterns), check, tuple(conds), message, framework)


def compile_policies(raw: list[dict[str, Any]]) -> list[OrgRule]:
    """The ``policies:`` entries compiled; ConfigError naming the entry and the key on any bad
    entry (unknown key or condition, bad path or regular expression, missing key, duplicate
    id)."""
    if not isinstance(raw, list):
        raise ConfigError("policies must be a list of rules")
    if len(raw) > MAX_RULES:
        raise ConfigError(f"policies holds {len(raw)} rules (limit {MAX_RULES})")
    out: list[OrgRule] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        rule = _compile_one(entry, i)
        if rule.rule.id in seen:
            raise ConfigError(f"policies[{i}]: id {rule.rule.id} is used twice")
        seen.add(rule.rule.id)
        out.append(rule)
    return out


# --- evaluating -------------------------------------------------------------------------------


def _line_of(resource: IacResource, path: tuple[Segment, ...], written: str) -> int | None:
    """The best known line of ``path`` in ``resource``: the concrete path, the path as written,
    without indices, then each shorter prefix, then the resource's first line."""
    candidates = [written]
    for cut in range(len(path), 0, -1):
        part = path[:cut]
        keyed = [s for s in part if s.key is not None]
        brackets = "".join(s.text() if s.key is None else f".{s.text()}" for s in part)
        candidates.append(brackets.lstrip("."))
        candidates.append(".".join(s.key if s.key is not None else str(s.index) for s in part
                                   if s.key is not None or s.index is not None))
        candidates.append(".".join(s.key for s in keyed if s.key is not None))
    for key in candidates:
        if key and key in resource.lines:
            return resource.lines[key]
    return resource.line


def _conceal(cond: Condition, detail: str) -> str:
    """``detail`` without the value when the attribute's name says it may hold a secret."""
    if _SECRETISH.search(cond.attribute) and detail.startswith(("is ", "contains ")) and \
            detail != "is missing":
        return detail.split(" ", 1)[0] + " a literal value"
    return detail


def _values(rule: OrgRule, cond: Condition, resource: IacResource,
            problems: list[Problem]) -> list[Found] | None:
    try:
        found: list[Found] = []
        for written, segments in cond.paths:
            found.extend(walk(resource.attrs, segments, written))
            if len(found) > MAX_VALUES:
                raise _TooMany
        if len(cond.paths) > 1:  # alternatives: the paths that reach nothing do not count
            present = [f for f in found if f.value is not _MISSING and f.value is not None]
            return present or found[:1]
        return found
    except (_TooMany, RecursionError):
        problems.append(Problem("iac.budget-exceeded", resource.path, resource.line,
                                f"{rule.rule.id}: {resource.name}: {cond.attribute} reaches more "
                                f"than {MAX_VALUES} values: the rule was not judged"))
        return None


def _unresolved(rule: OrgRule, cond: Condition, resource: IacResource, found: Found,
                value: Unresolved, problems: list[Problem]) -> None:
    why = f" ({value.reason})" if value.reason else ""
    line = _line_of(resource, found.path, found.written)
    problems.append(Problem("iac.unresolved", resource.path, line,
                            f"organisation rule {rule.rule.id}: {resource.name}: "
                            f"{found.written or cond.attribute} is {value.text}{why}, which "
                            "could not be "
                            "resolved statically: the rule was not judged"))


def _filter(rule: OrgRule, resource: IacResource, problems: list[Problem]) -> bool:
    """True when every ``where`` filter selects ``resource`` (one value satisfying it is
    enough); False when one does not or could not be decided (then a problem says so)."""
    for cond in rule.where:
        values = _values(rule, cond, resource, problems)
        if values is None:
            return False
        try:
            verdicts = [(f, judge(cond, f.value)) for f in values]
        except RecursionError:
            problems.append(Problem("iac.budget-exceeded", resource.path, resource.line,
                                    f"{rule.rule.id}: {resource.name}: a value of "
                                    f"{cond.attribute} is nested too deeply to compare: the "
                                    "rule was not judged"))
            return False
        if any(v.ok for _, v in verdicts):
            continue
        for found, verdict in verdicts:
            if verdict.unresolved is not None:
                _unresolved(rule, cond, resource, found, verdict.unresolved, problems)
                return False
        return False
    return True


def _judge_resource(rule: OrgRule, resource: IacResource) -> Iterator[IacHit | Problem]:
    problems: list[Problem] = []
    if not _filter(rule, resource, problems):
        yield from problems
        return
    cond = rule.check
    values = _values(rule, cond, resource, problems)
    yield from problems
    if values is None:
        return
    failing: list[tuple[Found, Verdict]] = []
    for found in values:
        try:
            verdict = judge(cond, found.value)
        except RecursionError:  # a value nested beyond reason: not judged, and said so
            yield Problem("iac.budget-exceeded", resource.path, resource.line,
                          f"{rule.rule.id}: {resource.name}: a value of {cond.attribute} is "
                          "nested too deeply to compare: the rule was not judged")
            return
        if verdict.unresolved is not None:
            sink: list[Problem] = []
            _unresolved(rule, cond, resource, found, verdict.unresolved, sink)
            yield from sink
        elif not verdict.ok:
            failing.append((found, verdict))
    if not failing:
        return
    found, verdict = failing[0]
    line = _line_of(resource, found.path, found.written)
    concrete = "".join(s.text() if s.key is None else f".{s.text()}" for s in found.path)
    detail = _conceal(cond, verdict.detail)
    more = f" (and {len(failing) - 1} more)" if len(failing) > 1 else ""
    head = rule.message or cond.describe()
    text = f"{resource.name}: {head}: {concrete.lstrip('.') or cond.attribute} {detail}{more}"
    end = resource.end_line if resource.end_line is not None else resource.line
    block = (resource.line, end) if resource.line is not None and end is not None else None
    yield IacHit(rule.rule.id, resource.path, line, text, resource=resource.name, block=block,
                 evidence=_conceal(cond, verdict.detail)[:200])


def evaluate(rules: list[OrgRule], resources: list[IacResource],
             cancelled: Callable[[], bool] | None = None,
             ) -> tuple[list[IacHit], list[Problem], list[IacRule]]:
    """Every organisation rule on every resource it names: one hit per rule and resource that
    fails it (at the first failing value's line, naming how many more fail), problems for what
    could not be judged, and the rules' descriptions. Never raises on resource content.
    ``cancelled``, polled between resources, stops early (the caller reports the budget)."""
    hits: list[IacHit] = []
    problems: list[Problem] = []
    for resource in resources:
        if cancelled is not None and cancelled():
            break
        for rule in rules:
            if not rule.applies_to(resource):
                continue
            for item in _judge_resource(rule, resource):
                if isinstance(item, IacHit):
                    hits.append(item)
                else:
                    problems.append(item)
    return hits, problems, [r.rule for r in rules]
