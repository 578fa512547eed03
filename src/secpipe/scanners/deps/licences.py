"""The licence policy of ``scan-deps``: what each dependency declares, read as SPDX, judged
against ``allow``/``deny`` lists, reported as findings.

**Parsing.** SPDX expressions are parsed by nexB's ``license-expression``: the parser ScanCode
and the SPDX tooling around it use, kept current with the SPDX licence list (ids, deprecated
ids, exceptions), strict about ``WITH`` (an exception only after a licence) and the boolean
grammar, and giving a reason for what it refuses. secpipe builds its licensing from the
library's index with only SPDX ids and SPDX's deprecated spellings (``GPL-2.0``, ``GPL-2.0+``)
as aliases: ScanCode's looser aliases (a bare ``GPL`` read as ``GPL-1.0-or-later``,
``LicenseRef-GPL``) would decide readings that :mod:`~secpipe.scanners.deps.licence_names`
states explicitly instead.

**Reading** a declared value (:func:`read_licence`), in order: nothing / ``UNKNOWN`` → missing;
``License ::`` classifiers (one per line; several are read as all applying, the stricter of the
two readings PEP 639 calls ambiguous) → the classifier table; a valid SPDX expression → itself;
a known spelling (``MIT License``, ``Apache 2.0``, ``GPLv3+``) → the free-text table; an
expression whose operands are known spellings (``Apache 2.0 or MIT``) → those; a pasted licence
text (several lines) → recognised by its title or notice phrases (earliest first), else by its
first line; anything else → not understood, with the parser's reason. Reading is bounded:
2,000 characters of expression, 16 levels of parentheses, 200 licences, 16 KiB of pasted text.

**Judging** (:func:`judge`). A licence term offers *choices*: ``GPL-2.0-or-later`` (and SPDX's
``+`` on any id: ``MPL-1.1+``) offers every later ``-only`` version on the SPDX list (GPL 2 and
3), a plain id itself; a ``WITH`` exception is kept with each choice. A term is denied when every
choice is denied, allowed when some choice is not denied and is allowed (any choice, when
``allow`` is empty), and otherwise not allowed. ``A OR B`` is as good as its best branch (the
finding and :class:`LicenceVerdict` name the choice made), ``A AND B`` as bad as its worst, and a
name that means one of several licences (``BSD``) is accepted or denied only when every reading
is; a term that cannot be understood makes the result unknown unless the other operands decide
it (three-valued logic). Policy entries expand the same way: denying ``GPL-3.0-or-later`` denies
GPL 3 (``GPL-3.0-only`` and ``GPL-3.0-or-later``) but not ``GPL-2.0-or-later``, which may still
be taken as GPL 2. A deny entry without an exception covers the licence with any exception;
one with an exception (``GPL-2.0-only WITH Classpath-exception-2.0``) only that pair. Deny wins
over allow.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from typing import Any

from license_expression import (  # type: ignore[import-untyped]
    LicenseSymbol,
    LicenseWithExceptionSymbol,
    Licensing,
    get_license_index,
)
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from secpipe.core.findings import Confidence, Finding, Location, Severity
from secpipe.scanners.deps import licence_names as names
from secpipe.scanners.deps.model import PYPI, Dependency

SCANNER = "scan-deps"
RULE_DENIED = "deps.licence-denied"
RULE_NOT_ALLOWED = "deps.licence-not-allowed"
RULE_UNKNOWN = "deps.licence-unknown"
RULES: dict[str, str] = {
    RULE_DENIED: "Dependency licence denied by the licence policy",
    RULE_NOT_ALLOWED: "Dependency licence not in the allowed list",
    RULE_UNKNOWN: "Dependency licence missing or not understood",
}
"""Rule id → title."""

MAX_EXPRESSION_CHARS = 2000
"""Longest one-line value read as an SPDX expression."""
MAX_NESTING = 16
"""Deepest parentheses of an expression."""
MAX_TERMS = 200
"""Most licences in one expression."""
MAX_TEXT_CHARS = 16 * 1024
"""Head of a pasted licence text that is read."""
UNKNOWN_OFF = "off"

_SHOWN_CHARS = 160
_NOT_SPDX_ALIASES = frozenset({"gpl"})  # ScanCode's; licence_names reads a bare GPL explicitly
_DEPRECATED_WITH: dict[str, str] = {  # SPDX's deprecated ids that fold an exception in
    "GPL-2.0-with-autoconf-exception": "GPL-2.0-only WITH Autoconf-exception-2.0",
    "GPL-2.0-with-bison-exception": "GPL-2.0-or-later WITH Bison-exception-2.2",
    "GPL-2.0-with-classpath-exception": "GPL-2.0-only WITH Classpath-exception-2.0",
    "GPL-2.0-with-font-exception": "GPL-2.0-only WITH Font-exception-2.0",
    "GPL-2.0-with-GCC-exception": "GPL-2.0-only WITH GCC-exception-2.0",
    "GPL-3.0-with-autoconf-exception": "GPL-3.0-only WITH Autoconf-exception-3.0",
    "GPL-3.0-with-GCC-exception": "GPL-3.0-only WITH GCC-exception-3.1",
    "eCos-2.0": "GPL-2.0-or-later WITH eCos-exception-2.0",
}
_DEPRECATED_RE = re.compile(
    r"(?<![\w.+-])(" + "|".join(map(re.escape, _DEPRECATED_WITH)) + r")(?![\w.+-])", re.I)
_DEPRECATED_LOWER = {k.lower(): v for k, v in _DEPRECATED_WITH.items()}
_OPERATOR_RE = re.compile(r"(?<![\w.+-])(?:and|or|with)(?![\w.+-])", re.I)
_CLASSIFIER_RE = re.compile(r"License\s*::")
_VERSIONED_RE = re.compile(r"(.+?)-(\d+(?:\.\d+)*)(.*)")


# -- the SPDX licensing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spdx:
    licensing: Any
    keys: dict[str, str]
    """Lower-case id or SPDX alias → canonical id (licences and exceptions)."""
    exceptions: frozenset[str]
    """Canonical ids of exceptions."""
    only: dict[tuple[str, str], list[tuple[tuple[int, ...], str]]]
    """(family, variant) → [(version, ``…-only`` id)] (GNU licences)."""
    plain: dict[str, list[tuple[tuple[int, ...], str]]]
    """family → [(version, id)] of ids that are ``family-version`` exactly (``MPL-1.1``)."""


def _version(text: str) -> tuple[int, ...]:
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


@cache
def _spdx() -> _Spdx:
    symbols: list[Any] = []
    keys: dict[str, str] = {}
    exceptions: set[str] = set()
    for entry in get_license_index():
        key = entry.get("spdx_license_key")
        if not key or key in _DEPRECATED_WITH:
            continue
        aliases = tuple(a for a in entry.get("other_spdx_license_keys") or ()
                        if " " not in a and not a.startswith("LicenseRef-")
                        and a.lower() not in _NOT_SPDX_ALIASES)
        is_exception = bool(entry.get("is_exception"))
        symbols.append(LicenseSymbol(key=key, aliases=aliases, is_exception=is_exception))
        for name in (key, *aliases):
            keys[name.lower()] = key
        if is_exception:
            exceptions.add(key)
    only: dict[tuple[str, str], list[tuple[tuple[int, ...], str]]] = {}
    plain: dict[str, list[tuple[tuple[int, ...], str]]] = {}
    for key in set(keys.values()) - exceptions:
        if key.endswith("-only"):
            m = _VERSIONED_RE.fullmatch(key[:-len("-only")])
            if m:
                only.setdefault((m[1], m[3]), []).append((_version(m[2]), key))
        m = _VERSIONED_RE.fullmatch(key)
        if m and not m[3]:
            plain.setdefault(m[1], []).append((_version(m[2]), key))
    return _Spdx(Licensing(symbols), keys, frozenset(exceptions), only, plain)


def _choices(licence: str, spdx: _Spdx) -> tuple[str, ...]:
    """The versions a licensee may choose under ``licence`` (``GPL-2.0-or-later``: GPL 2, GPL 3;
    ``MPL-1.1+``: MPL 1.1, MPL 2.0; ``MIT``: MIT)."""
    if licence.endswith("-or-later"):
        m = _VERSIONED_RE.fullmatch(licence[:-len("-or-later")])
        if m:
            found = [k for v, k in sorted(spdx.only.get((m[1], m[3]), ())) if v >= _version(m[2])]
            if found:
                return tuple(found)
    elif licence.endswith("+"):
        base = licence[:-1]
        if base.endswith(("-only", "-or-later")):  # GPL-2.0-only+: GPL-2.0-or-later
            return _choices(base.removesuffix("-only").removesuffix("-or-later") + "-or-later",
                            spdx)
        m = _VERSIONED_RE.fullmatch(base)
        if m and not m[3]:
            found = [k for v, k in sorted(spdx.plain.get(m[1], ())) if v >= _version(m[2])]
            if found:
                return tuple(found)
        return (base,)
    return (licence,)


# -- what a declared value means ------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One licence, with its exception, and the versions it lets the licensee choose from."""

    licence: str
    exception: str | None
    choices: tuple[str, ...]
    known: bool
    """On the SPDX licence list (ScanCode's ``LicenseRef-scancode-…`` ids included); a
    ``LicenseRef-`` of the package's own is understood only when the policy names it."""

    def render(self) -> str:
        return self.licence + (f" WITH {self.exception}" if self.exception else "")


@dataclass(frozen=True)
class AllOf:
    """``A AND B``: every part applies."""

    parts: tuple[Node, ...]

    def render(self) -> str:
        return " AND ".join(_nested(p) for p in self.parts)


@dataclass(frozen=True)
class AnyOf:
    """``A OR B``: the licensee chooses one."""

    parts: tuple[Node, ...]

    def render(self) -> str:
        return " OR ".join(_nested(p) for p in self.parts)


@dataclass(frozen=True)
class OneOf:
    """A name that means one of these licences, without saying which (``BSD``)."""

    parts: tuple[Node, ...]
    label: str

    def render(self) -> str:
        return f"one of ({', '.join(p.render() for p in self.parts)})"


@dataclass(frozen=True)
class NotUnderstood:
    """A value (or part of one) that could not be read as a licence."""

    text: str
    reason: str
    bounded: bool = False
    """A reading budget was hit (reported even when unknown licences are not)."""

    def render(self) -> str:
        return "?"


Node = Term | AllOf | AnyOf | OneOf | NotUnderstood


def _nested(node: Node) -> str:
    text = node.render()
    return f"({text})" if isinstance(node, AllOf | AnyOf) else text


@dataclass(frozen=True)
class LicenceReading:
    """What a declared licence value was read as."""

    node: Node
    read_as: str
    """``SPDX expression``, ``trove classifier``, ``free text``, ``licence text``, ``missing``."""
    confidence: Confidence

    @property
    def expression(self) -> str:
        """The reading in SPDX notation (``?`` for what was not understood)."""
        return self.node.render()


def shorten(text: str, limit: int = _SHOWN_CHARS) -> str:
    """One line of at most ``limit`` characters (first line of a pasted text, with its size)."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    first = lines[0] if lines else ""
    more = len(lines) > 1 or len(first) > limit
    first = first[:limit]
    return first + (f" … ({len(text)} characters)" if more else "")


def read_licence(declared: str | None) -> LicenceReading:
    """Read a declared licence value (see the module docstring for the order)."""
    if declared is None:
        return LicenceReading(NotUnderstood("", "no licence declared"), "missing",
                              Confidence.HIGH)
    return _read(declared[:MAX_TEXT_CHARS], len(declared) > MAX_TEXT_CHARS)


@lru_cache(maxsize=1024)
def _read(text: str, cut: bool) -> LicenceReading:
    value = text.strip().strip("\"'").strip()
    if value.lower() in names.MISSING:
        why = f"declared as {value!r}" if value else "no licence declared"
        return LicenceReading(NotUnderstood(value, f"no licence declared ({why})"
                                            if value else why), "missing", Confidence.HIGH)
    lines = [ln.strip() for ln in value.splitlines() if ln.strip()]
    if all(_CLASSIFIER_RE.match(ln) for ln in lines):
        nodes = _unique(_classifier(ln) for ln in lines)
        return LicenceReading(nodes[0] if len(nodes) == 1 else AllOf(tuple(nodes)),
                              "trove classifier", Confidence.MEDIUM)
    if len(lines) > 1 or cut:
        return _pasted(value, lines, cut)
    return _single(value)


def _unique(nodes: Iterable[Node]) -> list[Node]:
    out: list[Node] = []
    for node in nodes:
        if node not in out:
            out.append(node)
    return out


def _classifier(line: str) -> Node:
    spelled = " :: ".join(part.strip() for part in line.split("::"))
    spec = names.CLASSIFIERS.get(spelled)
    if spec is None:
        return NotUnderstood(line, "not a licence classifier of PyPI's list")
    return _spec(spec, spelled)


def _spec(spec: str, text: str) -> Node:
    """A table value (see :mod:`~secpipe.scanners.deps.licence_names`) as a node."""
    if spec.startswith("?"):
        return NotUnderstood(text, spec[1:])
    if "|" in spec:
        return OneOf(tuple(_spec(part.strip(), text) for part in spec.split("|")), text)
    node, error, _ = _parse(spec)
    if node is None:  # pragma: no cover - the tables are checked by the tests
        raise ValueError(f"licence table entry {spec!r}: {error}")
    return node


def _single(value: str) -> LicenceReading:
    if len(value) > MAX_EXPRESSION_CHARS:
        return _bounded(value, f"longer than {MAX_EXPRESSION_CHARS} characters")
    depth = _nesting(value)
    if depth > MAX_NESTING:
        return _bounded(value, f"parentheses nested {depth} deep (limit {MAX_NESTING})")
    terms = len(_OPERATOR_RE.findall(value)) + 1
    if terms > MAX_TERMS:
        return _bounded(value, f"{terms} licences (limit {MAX_TERMS})")
    node, error, loose = _parse(value)
    if node is not None and not loose and _all_spdx(node):
        return LicenceReading(node, "SPDX expression", Confidence.HIGH)
    named = _free_text(value)
    if named is not None:
        return LicenceReading(named, "free text", Confidence.MEDIUM)
    if node is not None:  # operands that are not SPDX ids: known spellings, or not understood
        return LicenceReading(node, "free text", Confidence.MEDIUM)
    return LicenceReading(NotUnderstood(value, f"not a valid SPDX expression: {error}"),
                          "free text", Confidence.HIGH)


def _bounded(value: str, why: str) -> LicenceReading:
    return LicenceReading(NotUnderstood(value, f"not read: {why}", bounded=True),
                          "free text", Confidence.HIGH)


def _nesting(value: str) -> int:
    depth = deepest = 0
    for char in value:
        if char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    return deepest


def _all_spdx(node: Node) -> bool:
    if isinstance(node, Term):
        return node.known or node.licence.startswith("LicenseRef-")
    if isinstance(node, NotUnderstood):
        return False
    return all(_all_spdx(p) for p in node.parts)


def _free_text(value: str) -> Node | None:
    """The reading of a known spelling: the whole value, without its parenthetical parts, or a
    parenthetical part alone (``GNU General Public License v3 (GPLv3)``)."""
    candidates = [value, re.sub(r"\([^()]*\)", " ", value), *re.findall(r"\(([^()]*)\)", value)]
    for candidate in candidates:
        spec = names.FREE_TEXT.get(names.text_key(candidate))
        if spec is not None:
            return _spec(spec, value)
    return None


def _parse(value: str) -> tuple[Node | None, str, tuple[str, ...]]:
    """``value`` parsed by license-expression into a node, or (None, the parser's reason);
    the third value names the operands that were not SPDX ids (read by the tables, or not)."""
    spdx = _spdx()
    text = _DEPRECATED_RE.sub(lambda m: _DEPRECATED_LOWER[m[1].lower()], value)
    try:
        parsed = spdx.licensing.parse(text, validate=False, strict=True)
    except Exception as exc:  # the library's ExpressionError and anything it lets escape
        return None, _parser_reason(exc), ()
    if parsed is None:
        return None, "empty expression", ()
    loose: list[str] = []
    return _convert(parsed, spdx, loose), "", tuple(loose)


def _parser_reason(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:_SHOWN_CHARS]


def _convert(expr: Any, spdx: _Spdx, loose: list[str]) -> Node:
    if isinstance(expr, LicenseWithExceptionSymbol):
        base = _convert(expr.license_symbol, spdx, loose)
        exception = spdx.keys.get(str(expr.exception_symbol.key).lower())
        if not isinstance(base, Term) or exception not in spdx.exceptions:
            return NotUnderstood(str(expr.render()), "not a valid licence WITH exception pair")
        return Term(base.licence, exception, base.choices, base.known)
    if isinstance(expr, LicenseSymbol):
        return _term(str(expr.key), spdx, loose)
    parts = tuple(_convert(arg, spdx, loose) for arg in expr.args)
    operator = type(expr).__name__
    return AllOf(parts) if operator == "AND" else AnyOf(parts)


def _term(key: str, spdx: _Spdx, loose: list[str]) -> Node:
    canonical = spdx.keys.get(key.lower())
    if canonical is not None and canonical not in spdx.exceptions:
        return Term(canonical, None, _choices(canonical, spdx), True)
    if key.endswith("+") and key[:-1].lower() in spdx.keys:
        base = spdx.keys[key[:-1].lower()]
        if base not in spdx.exceptions:
            return Term(base + "+", None, _choices(base + "+", spdx), True)
    if key.startswith("LicenseRef-") and " " not in key:
        return Term(key, None, (key,), False)
    loose.append(key)
    spec = names.FREE_TEXT.get(names.text_key(key))
    if spec is not None:
        return _spec(spec, key)
    return NotUnderstood(key, f"{shorten(key, 60)!r} is not an SPDX licence id or a known "
                              "licence name")


def _pasted(value: str, lines: list[str], cut: bool) -> LicenceReading:
    """A licence text pasted into the field: its title or notice, else its first line."""
    head = " ".join(value[:MAX_TEXT_CHARS].lower().split())
    best: tuple[int, str, int] | None = None
    for pattern, spec in names.TEXT_MARKERS:
        found = re.search(pattern, head)
        if found and (best is None or found.start() < best[0]):
            best = (found.start(), spec, found.end())
    if best is not None:
        spec = best[1]
        if spec == "BSD":
            rest = head[best[2]:]
            spec = ("BSD-4-Clause" if names.BSD_ADVERTISING in rest
                    else "BSD-3-Clause" if re.search(names.BSD_ENDORSEMENT, rest)
                    else "BSD-2-Clause")
        return LicenceReading(_spec(spec, value), "licence text", Confidence.LOW)
    first = _single(lines[0]) if lines else None
    if first is not None and not isinstance(first.node, NotUnderstood):
        return LicenceReading(first.node, "licence text", Confidence.LOW)
    why = (f"only its first {MAX_TEXT_CHARS} characters were read, " if cut else "")
    return LicenceReading(NotUnderstood(value, f"a licence text that was not recognised ({why}"
                                               f"first line: {shorten(value, 80)!r})",
                                        bounded=cut), "licence text", Confidence.HIGH)


# -- the policy -----------------------------------------------------------------------------------


def _policy_entry(entry: str, where: str, single: bool) -> str:
    """A policy entry checked and spelt canonically; ValueError naming it otherwise."""
    value = entry.strip()
    if not value:
        raise ValueError(f"{where}: an empty entry")
    node, error, loose = _parse(value)
    hint = _free_text(value)
    did_you = (f" (did you mean {hint.render()!r}?)" if isinstance(hint, Term | AnyOf | AllOf)
               else " (it names one of " + ", ".join(p.render() for p in hint.parts)
               + ": list those you mean)" if isinstance(hint, OneOf) else "")
    if node is None:
        raise ValueError(f"{where}: {entry!r} is not a valid SPDX expression ({error})"
                         + did_you)
    if loose:
        raise ValueError(f"{where}: {loose[0]!r} is not a known SPDX licence id" + did_you)
    unknown = [t for t in _terms(node) if isinstance(t, NotUnderstood)
               or (isinstance(t, Term) and not t.known and not t.licence.startswith("LicenseRef-"))]
    if unknown:  # pragma: no cover - an operand that is not an id is caught as loose above
        bad = unknown[0]
        text = bad.text if isinstance(bad, NotUnderstood) else bad.licence
        raise ValueError(f"{where}: {text!r} is not a known SPDX licence id" + did_you)
    if single and not isinstance(node, Term):
        raise ValueError(f"{where}: {entry!r} is an expression; list each licence on its own")
    return node.render()


def _terms(node: Node) -> list[Term | NotUnderstood]:
    if isinstance(node, Term | NotUnderstood):
        return [node]
    return [t for p in node.parts for t in _terms(p)]


class LicencePolicy(BaseModel):
    """``licences:`` of ``scan-deps``: which licences dependencies may carry."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    allow: list[str] = Field(default_factory=list)
    """SPDX ids or expressions allowed (``MIT``, ``Apache-2.0``, ``GPL-2.0-or-later`` = GPL 2
    and later, ``GPL-2.0-only WITH Classpath-exception-2.0``); empty: everything not denied is
    allowed."""
    deny: list[str] = Field(default_factory=list)
    """SPDX ids denied (``AGPL-3.0-only``, ``GPL-3.0-or-later``, ``SSPL-1.0``); an id denies it
    with any exception. Deny wins over allow."""
    unknown: str = "low"
    """Severity of a dependency whose licence is missing or not understood (``off``: not
    reported; a reading budget hit is still reported, at low)."""
    exceptions: dict[str, str] = Field(default_factory=dict)
    """Packages not judged, each with the reason (``name`` or ``name==version`` to accept one
    version only; names compared as PEP 503 for PyPI)."""

    @field_validator("allow")
    @classmethod
    def _check_allow(cls, value: list[str]) -> list[str]:
        return [_policy_entry(e, "licences.allow", single=False) for e in value]

    @field_validator("deny")
    @classmethod
    def _check_deny(cls, value: list[str]) -> list[str]:
        return [_policy_entry(e, "licences.deny", single=True) for e in value]

    @field_validator("unknown")
    @classmethod
    def _check_unknown(cls, value: str) -> str:
        text = value.strip().lower()
        if text == UNKNOWN_OFF:
            return text
        try:
            return Severity.parse(text).value
        except ValueError:
            choices = ", ".join([*(s.value for s in Severity), UNKNOWN_OFF])
            raise ValueError(f"licences.unknown: {value!r} is not a severity "
                             f"(choose from {choices})") from None

    @field_validator("exceptions")
    @classmethod
    def _check_exceptions(cls, value: dict[str, str]) -> dict[str, str]:
        for package, reason in value.items():
            if not package.strip() or not package.split("==")[0].strip():
                raise ValueError("licences.exceptions: an empty package name")
            if not reason.strip():
                raise ValueError(f"licences.exceptions: {package!r} needs a reason")
        return value

    @model_validator(mode="after")
    def _no_contradiction(self) -> LicencePolicy:
        both = sorted(set(self.allow) & set(self.deny))
        if both:
            raise ValueError(f"licences: {both[0]!r} is both allowed and denied")
        return self


Concrete = tuple[str, str | None]
"""(licence id, exception id or None), lower case."""


@dataclass(frozen=True)
class _Rules:
    allow: frozenset[Concrete]
    deny: dict[Concrete, str]
    """Denied concrete → the deny entry that denies it."""
    named: frozenset[str]
    """Lower-case ids the policy names (a package's own ``LicenseRef-`` is understood then)."""

    def denied_by(self, choice: Concrete) -> str | None:
        return self.deny.get(choice) or self.deny.get((choice[0], None))

    def allows(self, choice: Concrete) -> bool:
        return not self.allow or choice in self.allow or (choice[0], None) in self.allow


def _concretes(node: Node) -> list[tuple[Concrete, str]]:
    out: list[tuple[Concrete, str]] = []
    for term in _terms(node):
        if isinstance(term, Term):
            exception = term.exception.lower() if term.exception else None
            out.extend(((c.lower(), exception), term.render()) for c in term.choices)
    return out


@lru_cache(maxsize=64)
def _compile(allow: tuple[str, ...], deny: tuple[str, ...]) -> _Rules:
    allowed: set[Concrete] = set()
    denied: dict[Concrete, str] = {}
    named: set[str] = set()
    for entry in allow:
        node, _, _ = _parse(entry)
        if node is not None:
            for choice, _ in _concretes(node):
                allowed.add(choice)
                named.add(choice[0])
    for entry in deny:
        node, _, _ = _parse(entry)
        if node is not None:
            for choice, _ in _concretes(node):
                denied.setdefault(choice, entry)
                named.add(choice[0])
    return _Rules(frozenset(allowed), denied, frozenset(named))


# -- judging --------------------------------------------------------------------------------------


class Outcome(StrEnum):
    """What the policy says of a dependency's licence."""

    ALLOWED = "allowed"
    NOT_ALLOWED = "not-allowed"
    DENIED = "denied"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class _Result:
    outcome: Outcome
    reason: str = ""
    choice: str = ""
    bounded: bool = False


@dataclass(frozen=True)
class LicenceVerdict:
    """The policy's verdict on one declared licence value."""

    outcome: Outcome
    declared: str | None
    expression: str
    """The reading in SPDX notation."""
    read_as: str
    reason: str
    """Why it is not allowed, denied or unknown (empty when allowed)."""
    choice: str
    """For a choice (``A OR B``, ``-or-later``): the licence under which it is acceptable."""
    confidence: Confidence
    bounded: bool = False


def _judge(node: Node, rules: _Rules) -> _Result:
    if isinstance(node, NotUnderstood):
        return _Result(Outcome.UNKNOWN, node.reason, bounded=node.bounded)
    if isinstance(node, Term):
        return _judge_term(node, rules)
    results = [_judge(p, rules) for p in node.parts]
    outcomes = [r.outcome for r in results]
    bounded = any(r.bounded for r in results)
    if isinstance(node, AnyOf):
        for part, res in zip(node.parts, results, strict=True):
            if res.outcome is Outcome.ALLOWED:
                shown = part.render()
                choice = res.choice if res.choice and res.choice != shown else ""
                return _Result(Outcome.ALLOWED, choice=shown + (f" (as {choice})" if choice
                                                                 else ""))
        reason = "no choice is allowed: " + "; ".join(r.reason for r in results)
        if all(o is Outcome.DENIED for o in outcomes):
            return _Result(Outcome.DENIED, "every choice is denied: "
                           + "; ".join(r.reason for r in results), bounded=bounded)
        if Outcome.UNKNOWN in outcomes:
            return _Result(Outcome.UNKNOWN, reason, bounded=bounded)
        return _Result(Outcome.NOT_ALLOWED, reason)
    if isinstance(node, AllOf):
        for worst in (Outcome.DENIED, Outcome.NOT_ALLOWED, Outcome.UNKNOWN):
            bad = [r.reason for r in results if r.outcome is worst]
            if bad:
                return _Result(worst, "; ".join(bad), bounded=bounded)
        return _Result(Outcome.ALLOWED, choice=" AND ".join(r.choice for r in results
                                                            if r.choice))
    # OneOf: the name does not say which; accepted or denied only when every reading is
    readings = ", ".join(p.render() for p in node.parts)
    if all(o is Outcome.ALLOWED for o in outcomes):
        return _Result(Outcome.ALLOWED)
    if all(o is Outcome.DENIED for o in outcomes):
        return _Result(Outcome.DENIED, f"{node.label!r} is denied whichever it is ({readings})")
    if all(o in (Outcome.DENIED, Outcome.NOT_ALLOWED) for o in outcomes):
        return _Result(Outcome.NOT_ALLOWED, f"{node.label!r} is not allowed whichever it is "
                                            f"({readings})")
    refused = ", ".join(p.render() for p, o in zip(node.parts, outcomes, strict=True)
                        if o is not Outcome.ALLOWED)
    return _Result(Outcome.UNKNOWN, f"{node.label!r} does not say which licence it is "
                   f"({readings}), and the policy does not accept {refused}", bounded=bounded)


def _judge_term(term: Term, rules: _Rules) -> _Result:
    shown = term.render()
    if not term.known and term.licence.lower() not in rules.named:
        return _Result(Outcome.UNKNOWN, f"{shown} is not on the SPDX licence list")
    exception = term.exception.lower() if term.exception else None
    choices = [(c, (c.lower(), exception)) for c in term.choices]
    open_ = [(c, k) for c, k in choices if rules.denied_by(k) is None]
    if not open_:
        entry = rules.denied_by(choices[0][1])
        by = f" (deny: {entry})" if entry and entry != shown else ""
        return _Result(Outcome.DENIED, f"{shown} is denied{by}")
    for c, k in open_:
        if rules.allows(k):
            shown_choice = c + (f" WITH {term.exception}" if term.exception else "")
            return _Result(Outcome.ALLOWED,
                           choice=shown_choice if len(term.choices) > 1 else "")
    return _Result(Outcome.NOT_ALLOWED, f"{shown} is not in the allowed list")


def judge(declared: str | None, policy: LicencePolicy) -> LicenceVerdict:
    """The policy's verdict on a declared licence value."""
    reading = read_licence(declared)
    result = _judge(reading.node, _compile(tuple(policy.allow), tuple(policy.deny)))
    return LicenceVerdict(result.outcome, declared, reading.expression, reading.read_as,
                          result.reason, result.choice, reading.confidence, result.bounded)


# -- findings -------------------------------------------------------------------------------------


def canonical_name(name: str, ecosystem: str = PYPI) -> str:
    """The name packages are compared by: PEP 503 for PyPI, lower case otherwise."""
    if ecosystem == PYPI:
        return re.sub(r"[-_.]+", "-", name).lower()
    return name.lower()


def _matches(key: str, dep: Dependency) -> bool:
    package, _, version = key.partition("==")
    if canonical_name(package.strip(), dep.ecosystem) != canonical_name(dep.name, dep.ecosystem):
        return False
    return not version.strip() or version.strip() == (dep.version or "")


def _exception(dep: Dependency, policy: LicencePolicy) -> str | None:
    return next((reason for key, reason in policy.exceptions.items() if _matches(key, dep)),
                None)


def unused_exceptions(deps: Sequence[Dependency], policy: LicencePolicy) -> list[str]:
    """Keys of ``policy.exceptions`` that match no dependency (stale reviews worth removing)."""
    return [key for key in policy.exceptions if not any(_matches(key, d) for d in deps)]


def declared_licence(*, expression: str | None = None, field: str | None = None,
                     classifiers: Sequence[str] = ()) -> str | None:
    """The value for :attr:`Dependency.licence` from a package's metadata: PEP 639's
    ``License-Expression`` when present; else the ``License`` field unless it declares nothing
    (``UNKNOWN``); else the ``License ::`` classifiers, one per line (read as all applying);
    else the empty field as it was (the finding then says what was declared); else None."""
    if expression and expression.strip():
        return expression.strip()
    value = field.strip() if field else ""
    if value and value.strip("\"'").strip().lower() not in names.MISSING:
        return value
    listed = [c.strip() for c in classifiers if _CLASSIFIER_RE.match(c.strip())]
    if listed:
        return "\n".join(listed)
    return value or None


_REMEDIATION = {
    RULE_DENIED: "Replace the dependency, or obtain it under another licence; if it is "
                 "acceptable here after review, record it under licences.exceptions with the "
                 "reason.",
    RULE_NOT_ALLOWED: "Review the licence: add it to licences.allow if it is acceptable for "
                      "the project, or record this package under licences.exceptions with the "
                      "reason.",
    RULE_UNKNOWN: "Find the package's licence (its LICENSE file or project page) and record "
                  "the review under licences.exceptions; ask upstream to declare an SPDX "
                  "License-Expression.",
}
_RULE_OF = {Outcome.DENIED: RULE_DENIED, Outcome.NOT_ALLOWED: RULE_NOT_ALLOWED,
            Outcome.UNKNOWN: RULE_UNKNOWN}


def check_licences(deps: Sequence[Dependency], policy: LicencePolicy) -> list[Finding]:
    """Findings for the dependencies whose licence the policy denies, does not allow, or cannot
    judge; one per (package, version, path), packages under ``exceptions`` left out."""
    findings: list[Finding] = []
    seen: set[tuple[str, str, str | None, str]] = set()
    for dep in deps:
        name = canonical_name(dep.name, dep.ecosystem)
        ident = (dep.ecosystem, name, dep.version, dep.path)
        if ident in seen:
            continue
        seen.add(ident)
        if _exception(dep, policy) is not None:
            continue
        verdict = judge(dep.licence, policy)
        if verdict.outcome is Outcome.ALLOWED:
            continue
        finding = _finding(dep, name, verdict, policy)
        if finding is not None:
            findings.append(finding)
    return findings


def _finding(dep: Dependency, name: str, verdict: LicenceVerdict,
             policy: LicencePolicy) -> Finding | None:
    rule = _RULE_OF[verdict.outcome]
    confidence = verdict.confidence
    if verdict.outcome is Outcome.DENIED:
        severity = Severity.HIGH
    elif verdict.outcome is Outcome.NOT_ALLOWED:
        severity = Severity.MEDIUM
    elif policy.unknown != UNKNOWN_OFF:
        severity, confidence = Severity(policy.unknown), Confidence.HIGH
    elif verdict.bounded:
        severity, confidence = Severity.LOW, Confidence.HIGH
    else:
        return None
    version = dep.version or (f"({dep.spec})" if dep.spec else "(unpinned)")
    declared = shorten(dep.licence) if dep.licence else ""
    message = f"{dep.name} {version}: {verdict.reason}"
    if declared and declared != verdict.expression and verdict.outcome is not Outcome.UNKNOWN:
        message += f" (declared: {declared!r}, read as {verdict.read_as})"
    elif declared and verdict.outcome is Outcome.UNKNOWN and declared not in verdict.reason:
        message += f" (declared: {declared!r})"
    properties = {"package": dep.name, "version": dep.version or "", "ecosystem": dep.ecosystem,
                  "licence": declared, "spdx": verdict.expression, "read_as": verdict.read_as,
                  "direct": "yes" if dep.direct else "no"}
    if verdict.choice:
        properties["choice"] = verdict.choice
    return Finding.create(
        rule_id=rule, title=RULES[rule], severity=severity, scanner=SCANNER,
        location=Location(path=dep.path, line=dep.line, member=dep.member),
        message=message, key=f"{dep.ecosystem}:{name}@{dep.version or dep.spec}",
        confidence=confidence, evidence=declared, remediation=_REMEDIATION[rule],
        properties=properties)
